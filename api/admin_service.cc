// The duijie.v1.Admin service. See admin_service.h.
#include "api/admin_service.h"

#include "absl/strings/str_format.h"
#include "api/snapshot.h"

namespace duijie {

grpc::ServerUnaryReactor* AdminService::GetStateHash(
    grpc::CallbackServerContext* context,
    const v1::GetStateHashRequest* /*request*/,
    v1::GetStateHashResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const bool queued = exchange_->RunOnWriter([this, reactor, response] {
    const uint64_t hash = engine_->StateHash();
    response->set_state_hash(hash);
    response->set_state_hash_hex(absl::StrFormat("%016x", hash));
    response->set_last_match_id(engine_->last_match_id());
    response->set_offer_count(engine_->offer_count());
    response->set_pledge_count(engine_->pledge_count());
    if (store_ != nullptr) {
      v1::JournalStatus* journal = response->mutable_journal();
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
    reactor->Finish(grpc::Status::OK);
  });
  if (!queued) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down"));
  }
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::Snapshot(
    grpc::CallbackServerContext* context,
    const v1::SnapshotRequest* /*request*/, v1::SnapshotResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (store_ == nullptr) {
    reactor->Finish(grpc::Status(
        grpc::StatusCode::FAILED_PRECONDITION,
        "the server runs in memory (--data_dir=\"\"): nothing to snapshot"));
    return reactor;
  }
  const bool queued = exchange_->RunOnWriter([this, reactor, response] {
    absl::StatusOr<uint64_t> seq = store_->SnapshotNow();
    if (!seq.ok()) {
      reactor->Finish(
          grpc::Status(static_cast<grpc::StatusCode>(seq.status().code()),
                       std::string(seq.status().message())));
      return;
    }
    response->set_position(*seq);
    response->set_file(SnapshotFileName(*seq));
    reactor->Finish(grpc::Status::OK);
  });
  if (!queued) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down"));
  }
  return reactor;
}

}  // namespace duijie
