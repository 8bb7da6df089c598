// AdminService: the duijie.v1.Admin gRPC service, operator RPCs next to the
// Exchange, all for ADMIN keys only: API keys (CreateKey, ListKeys,
// RevokeKey: commands through the Exchange's pipeline, and the
// authenticator updated as soon as one applies), the state hash with the
// journal position, and forcing a snapshot. The hash and the snapshot take
// the state on the Exchange's writer thread between groups
// (ExchangeService::RunOnWriter), so what they see matches the journal's
// position exactly, but only as a copy-on-write image (state_image.h): the
// writer pauses for a fork(), and the state is serialized, hashed or
// written elsewhere. Each runs once at a time; the callers that ask while a
// run is in flight share the next run (coalescer.h), so callers in a loop
// cannot queue work on the writer.
#ifndef DUIJIE_API_ADMIN_SERVICE_H_
#define DUIJIE_API_ADMIN_SERVICE_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "api/coalescer.h"
#include "api/durable_store.h"
#include "api/exchange_service.h"
#include "api/parsing_service.h"
#include "api/task_thread.h"
#include "duijie/v1/admin.grpc.pb.h"
#include "engine/engine.h"

namespace duijie {

class AdminService final : public ParsingService<v1::Admin::CallbackService> {
 public:
  // Nothing is owned; all must outlive this. `store` is null when the
  // server runs in memory. Requests with strings are read as Parsed<T>
  // (parsing_service.h): text that is not UTF-8 is INVALID_ARGUMENT.
  AdminService(ExchangeService* exchange, Engine* engine, DurableStore* store)
      : exchange_(exchange), engine_(engine), store_(store) {
    using S = v1::Admin::CallbackService;
    ParseUnary<v1::CreateKeyRequest, v1::CreateKeyResponse>(
        kService, "CreateKey", &S::CreateKey);
    ParseUnary<v1::ListKeysRequest, v1::ListKeysResponse>(kService, "ListKeys",
                                                          &S::ListKeys);
    ParseUnary<v1::RevokeKeyRequest, v1::ApiKey>(kService, "RevokeKey",
                                                 &S::RevokeKey);
  }

  grpc::ServerUnaryReactor* CreateKey(grpc::CallbackServerContext* context,
                                      const v1::CreateKeyRequest* request,
                                      v1::CreateKeyResponse* response) override;
  grpc::ServerUnaryReactor* ListKeys(grpc::CallbackServerContext* context,
                                     const v1::ListKeysRequest* request,
                                     v1::ListKeysResponse* response) override;
  grpc::ServerUnaryReactor* RevokeKey(grpc::CallbackServerContext* context,
                                      const v1::RevokeKeyRequest* request,
                                      v1::ApiKey* response) override;
  grpc::ServerUnaryReactor* GetStateHash(
      grpc::CallbackServerContext* context,
      const v1::GetStateHashRequest* request,
      v1::GetStateHashResponse* response) override;
  grpc::ServerUnaryReactor* Snapshot(grpc::CallbackServerContext* context,
                                     const v1::SnapshotRequest* request,
                                     v1::SnapshotResponse* response) override;

 private:
  using HashResult = absl::StatusOr<v1::GetStateHashResponse>;
  using SnapshotResult = absl::StatusOr<uint64_t>;
  // Applies a key command of the admitted caller `who` through the
  // Exchange's pipeline; once it is durable, puts the key into the
  // authenticator (before the reply) and calls `answer`, or finishes
  // `reactor` with the refusal.
  void ApplyKeyCommand(const Authenticator::Identity& who, Command command,
                       grpc::ServerUnaryReactor* reactor,
                       std::function<void(const KeyResult&)> answer);
  // One run of each (see Coalescer).
  void StartHash(Coalescer<HashResult>::Finish finish);
  void StartSnapshot(Coalescer<SnapshotResult>::Finish finish);

  static constexpr char kService[] = "duijie.v1.Admin";
  ExchangeService* const exchange_;
  Engine* const engine_;
  DurableStore* const store_;
  Coalescer<HashResult> hashes_{
      [this](Coalescer<HashResult>::Finish f) { StartHash(std::move(f)); }};
  Coalescer<SnapshotResult> snapshots_{
      [this](Coalescer<SnapshotResult>::Finish f) {
        StartSnapshot(std::move(f));
      }};
  // Reads the images and hashes them; declared last, so it is joined
  // before the coalescers its tasks answer go.
  TaskThread hasher_;
};

}  // namespace duijie

#endif  // DUIJIE_API_ADMIN_SERVICE_H_
