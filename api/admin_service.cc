// The duijie.v1.Admin service. See admin_service.h.
#include "api/admin_service.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_format.h"
#include "api/convert.h"
#include "api/key_convert.h"
#include "api/snapshot.h"
#include "api/state_image.h"

namespace duijie {
namespace {

grpc::Status ToStatus(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

void SetHash(uint64_t hash, v1::GetStateHashResponse* response) {
  response->set_state_hash(hash);
  response->set_state_hash_hex(absl::StrFormat("%016x", hash));
}

}  // namespace

grpc::ServerUnaryReactor* AdminService::CreateKey(
    grpc::CallbackServerContext* context, const v1::CreateKeyRequest* request,
    v1::CreateKeyResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Authenticator::Identity> who =
      exchange_->Admit(context, "CreateKey", Access::kAdmin);
  absl::StatusOr<Command> command =
      who.ok() ? ToCommand(*request) : who.status();
  if (!command.ok()) {
    reactor->Finish(ToGrpcStatus(command.status()));
    return reactor;
  }
  // The secret is made here and leaves only in this reply; the engine and
  // the journal get its hash.
  std::string secret = NewSecret();
  std::get<CreateKeyCommand>(command->body).secret_sha256 = SecretHash(secret);
  ApplyKeyCommand(*who, *std::move(command), reactor,
                  [response, secret = std::move(secret)](const KeyResult& r) {
                    response->set_key_id(r.key.key_id);
                    // A retry answers the key without a secret: the first
                    // answer had it.
                    if (!r.replayed) response->set_secret(secret);
                    response->set_replayed(r.replayed);
                    ToProto(r.key, response->mutable_key());
                  });
  return reactor;
}

void AdminService::ApplyKeyCommand(
    const Authenticator::Identity& who, Command command,
    grpc::ServerUnaryReactor* reactor,
    std::function<void(const KeyResult&)> answer) {
  command.caller = who.caller;
  Authenticator* auth = exchange_->authenticator();
  exchange_->EnqueueOne(
      std::move(command), [auth, reactor, answer = std::move(answer)](
                              const CommandOutcome& outcome) {
        if (!outcome.ok()) {
          reactor->Finish(ToGrpcStatus(outcome.status()));
          return;
        }
        const KeyResult& result = std::get<KeyResult>(*outcome);
        // Before the reply: from here on a revoked key fails on every
        // thread, open streams included, and a new one is accepted.
        auth->PutKey(result.key);
        answer(result);
        reactor->Finish(grpc::Status::OK);
      });
}

grpc::ServerUnaryReactor* AdminService::ListKeys(
    grpc::CallbackServerContext* context, const v1::ListKeysRequest* request,
    v1::ListKeysResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Authenticator::Identity> who =
      exchange_->Admit(context, "ListKeys", Access::kAdmin);
  absl::Status status = who.status();
  absl::StatusOr<int> limit = PageSize(request->page_size());
  absl::StatusOr<uint64_t> after = ParseIdToken(request->page_token());
  if (status.ok() && !limit.ok()) status = limit.status();
  if (status.ok() && !after.ok()) status = after.status();
  if (status.ok()) {
    bool more = false;
    int64_t total = 0;
    for (const ApiKey& key :
         exchange_->ListKeys(*after, *limit, &more, &total)) {
      ToProto(key, response->add_keys());
    }
    response->set_total_count(total);
    if (more && response->keys_size() > 0) {
      response->set_next_page_token(
          IdToken(response->keys(response->keys_size() - 1).key_id()));
    }
  }
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::RevokeKey(
    grpc::CallbackServerContext* context, const v1::RevokeKeyRequest* request,
    v1::ApiKey* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Authenticator::Identity> who =
      exchange_->Admit(context, "RevokeKey", Access::kAdmin);
  absl::StatusOr<Command> command =
      who.ok() ? ToCommand(*request) : who.status();
  if (!command.ok()) {
    reactor->Finish(ToGrpcStatus(command.status()));
    return reactor;
  }
  ApplyKeyCommand(*who, *std::move(command), reactor,
                  [response](const KeyResult& r) { ToProto(r.key, response); });
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::GetStateHash(
    grpc::CallbackServerContext* context,
    const v1::GetStateHashRequest* /*request*/,
    v1::GetStateHashResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::StatusOr<Authenticator::Identity> who =
          exchange_->Admit(context, "GetStateHash", Access::kAdmin);
      !who.ok()) {
    reactor->Finish(ToGrpcStatus(who.status()));
    return reactor;
  }
  hashes_.Request([reactor, response](const HashResult& result) {
    if (!result.ok()) {
      reactor->Finish(ToStatus(result.status()));
      return;
    }
    *response = *result;
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

void AdminService::StartHash(Coalescer<HashResult>::Finish finish) {
  const bool queued = exchange_->RunOnWriter([this, finish] {
    v1::GetStateHashResponse response;
    response.set_last_match_id(engine_->last_match_id());
    response.set_offer_count(engine_->offer_count());
    response.set_pledge_count(engine_->pledge_count());
    if (store_ != nullptr) {
      v1::JournalStatus* journal = response.mutable_journal();
      const JournalStats stats = store_->stats();
      journal->set_durable(true);
      journal->set_position(store_->position());
      journal->set_snapshot_position(store_->snapshot_seq());
      journal->set_commands(stats.commands);
      journal->set_records(stats.records);
      journal->set_groups(stats.groups);
      journal->set_syncs(stats.syncs);
      journal->set_bytes(stats.bytes);
      journal->set_fsync(store_->options().fsync);
    }
    absl::StatusOr<StateImage> image = StateImage::Capture(*engine_);
    if (!image.ok()) {
      // No fork (out of processes or memory): hash here, pausing the
      // writer, rather than fail.
      SetHash(engine_->StateHash(), &response);
      finish(std::move(response));
      return;
    }
    auto shared = std::make_shared<StateImage>(*std::move(image));
    hasher_.Post([shared, response = std::move(response), finish]() mutable {
      absl::StatusOr<std::string> state = shared->Read();
      if (!state.ok()) {
        finish(state.status());
        return;
      }
      SetHash(Engine::HashState(*state), &response);
      finish(std::move(response));
    });
  });
  if (!queued) finish(absl::UnavailableError("server shutting down"));
}

grpc::ServerUnaryReactor* AdminService::Snapshot(
    grpc::CallbackServerContext* context,
    const v1::SnapshotRequest* /*request*/, v1::SnapshotResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::StatusOr<Authenticator::Identity> who =
          exchange_->Admit(context, "Snapshot", Access::kAdmin);
      !who.ok()) {
    reactor->Finish(ToGrpcStatus(who.status()));
    return reactor;
  }
  if (store_ == nullptr) {
    reactor->Finish(grpc::Status(
        grpc::StatusCode::FAILED_PRECONDITION,
        "the server runs in memory (--data_dir=\"\"): nothing to snapshot"));
    return reactor;
  }
  snapshots_.Request([reactor, response](const SnapshotResult& seq) {
    if (!seq.ok()) {
      reactor->Finish(ToStatus(seq.status()));
      return;
    }
    response->set_position(*seq);
    response->set_file(SnapshotFileName(*seq));
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

void AdminService::StartSnapshot(Coalescer<SnapshotResult>::Finish finish) {
  const bool queued =
      exchange_->RunOnWriter([this, finish] { store_->StartSnapshot(finish); });
  if (!queued) finish(absl::UnavailableError("server shutting down"));
}

}  // namespace duijie
