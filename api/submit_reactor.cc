// The Submit stream. See submit_reactor.h.
#include "api/submit_reactor.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "api/convert.h"

namespace duijie {
namespace {

// Submit batches a stream may have read but not yet written back before it
// stops reading (back-pressure on a client that does not read replies).
constexpr int kMaxUnwrittenBatches = 16;

// The reply bytes per command assumed for a stream's batches in the
// pipeline until one of its replies is built (then that one's figure).
constexpr int64_t kInitialReplyBytesPerCommand = 256;

std::atomic<int64_t> g_live_submit_reactors{0};

// Reads SubmitRequests, hands each one's commands to the pipeline as one
// batch, and writes one SubmitResponse per request in order. Reading runs
// ahead of the pipeline by up to kMaxUnwrittenBatches requests, and only
// while the replies not yet written (built, plus those expected of the
// batches in the pipeline) stay under limits.submit_buffer_bytes: a client
// that does not read its replies stops the server reading its requests,
// and then the transport's flow control stops its writes. Finishes when
// the client is done writing (or the stream fails) and every batch is
// answered; deleted in OnDone.
class SubmitReactor final
    : public grpc::ServerBidiReactor<Parsed<v1::SubmitRequest>,
                                     v1::SubmitResponse> {
 public:
  SubmitReactor(CommandSequencer* sequencer, const ServerLimits& limits,
                std::unique_ptr<SubmitAdmission> admission)
      : sequencer_(sequencer),
        limits_(limits),
        admission_(std::move(admission)) {
    g_live_submit_reactors.fetch_add(1, std::memory_order_relaxed);
    Step([](SubmitReactor*) {});
  }
  ~SubmitReactor() override {
    g_live_submit_reactors.fetch_sub(1, std::memory_order_relaxed);
  }

  void OnReadDone(bool ok) override {
    ParsedReceived(&parsed_);
    if (!ok) {
      return Step([](SubmitReactor* self) {
        self->reading_ = false;
        self->reads_done_ = true;
      });
    }
    if (!parsed_.status.ok()) {
      grpc::Status status = ToGrpcStatus(parsed_.status);
      return Step([&status](SubmitReactor* self) {
        self->reading_ = false;
        self->Fail(std::move(status));
      });
    }
    const v1::SubmitRequest& request = parsed_.message;
    if (request.commands_size() > limits_.max_batch) {
      grpc::Status status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat("max_batch: at most ", limits_.max_batch,
                       " commands per SubmitRequest, got ",
                       request.commands_size(),
                       "; none of this request's commands was applied"));
      return Step([&status](SubmitReactor* self) {
        self->reading_ = false;
        self->Fail(std::move(status));
      });
    }
    if (absl::Status valid = admission_->StillValid(); !valid.ok()) {
      return Step([&valid](SubmitReactor* self) {
        self->reading_ = false;
        self->Fail(ToGrpcStatus(valid));
      });
    }
    std::vector<Command> commands;
    commands.reserve(request.commands_size());
    std::vector<absl::Status> rejected(request.commands_size());
    std::vector<v1::Command::CommandCase> cases(request.commands_size());
    const int64_t granted = admission_->Grant(request.commands_size());
    for (int i = 0; i < request.commands_size(); ++i) {
      absl::StatusOr<Command> command =
          i < granted ? ToCommand(request.commands(i))
                      : absl::StatusOr<Command>(admission_->RateLimited());
      if (command.ok()) {
        command->caller = admission_->caller();
        commands.push_back(*std::move(command));
      } else {
        rejected[i] = command.status();
      }
      cases[i] = request.commands(i).command_case();
    }
    const int64_t command_count = request.commands_size();
    {
      absl::MutexLock lock(&mu_);
      ++in_writer_;
      ++unwritten_;
      in_writer_commands_ += command_count;
    }
    sequencer_->Enqueue(
        std::move(commands),
        [this, rejected = std::move(rejected), cases = std::move(cases),
         batch_id = request.batch_id()](CommandSequencer::Batch& batch) {
          OnBatchDone(batch, rejected, cases, batch_id);
        });
    // Only now may the next read overwrite parsed_.
    Step([](SubmitReactor* self) { self->reading_ = false; });
  }

  void OnWriteDone(bool ok) override {
    Step([ok](SubmitReactor* self) {
      self->writing_ = false;
      --self->unwritten_;
      self->unsent_bytes_ -= self->current_bytes_;
      self->current_bytes_ = 0;
      if (!ok) {
        self->broken_ = true;
        self->Fail(grpc::Status(grpc::StatusCode::CANCELLED, "stream broken"));
      }
    });
  }

  void OnCancel() override {
    Step([](SubmitReactor* self) {
      self->broken_ = true;
      self->Fail(grpc::Status::CANCELLED);
    });
  }

  void OnDone() override { delete this; }

 private:
  // Runs on the reply thread: builds the batch's response.
  void OnBatchDone(CommandSequencer::Batch& batch,
                   const std::vector<absl::Status>& rejected,
                   const std::vector<v1::Command::CommandCase>& cases,
                   const std::string& batch_id) {
    v1::SubmitResponse response;
    response.set_batch_id(batch_id);
    size_t inline_left = kMaxSubmitInlineMatches;
    size_t k = 0;
    for (size_t i = 0; i < rejected.size(); ++i) {
      const absl::Status& status = rejected[i];
      v1::CommandResult* result = response.add_results();
      if (!status.ok()) {
        ToCommandError(status, result->mutable_error());
        continue;
      }
      CommandOutcome& outcome = batch.outcomes[k];
      if (outcome.ok()) {
        ToBoundedCommandResult(cases[i], *outcome, &inline_left, result);
      } else {
        ToCommandError(outcome.status(), result->mutable_error());
      }
      ++k;
    }
    if (response.ByteSizeLong() >
        static_cast<size_t>(limits_.max_message_bytes)) {
      // gRPC would fail the write anyway; say why and what to do. The
      // commands are applied and durable, and their request_ids give the
      // same answers again, in smaller batches. No later reply is written,
      // so the client sees the replies in order up to this one.
      grpc::Status status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat("max_message_bytes: the reply to batch \"", batch_id,
                       "\" is ", response.ByteSizeLong(), " bytes, over the ",
                       limits_.max_message_bytes,
                       "-byte limit; its commands (and those of batches read "
                       "after it) were applied: resend them with the same "
                       "request_ids in smaller batches to read their "
                       "results"));
      const int64_t command_count = rejected.size();
      return Step([&status, command_count](SubmitReactor* self) {
        --self->in_writer_;
        --self->unwritten_;
        self->in_writer_commands_ -= command_count;
        self->broken_ = true;
        self->Fail(std::move(status));
      });
    }
    const int64_t command_count = rejected.size();
    const int64_t bytes = response.ByteSizeLong();
    Step([&response, command_count, bytes](SubmitReactor* self) {
      --self->in_writer_;
      self->in_writer_commands_ -= command_count;
      self->unsent_bytes_ += bytes;
      if (command_count > 0) {
        self->reply_bytes_per_command_ =
            std::max<int64_t>(1, bytes / command_count);
      }
      self->pending_bytes_.push_back(bytes);
      self->pending_.push_back(std::move(response));
    });
  }

  // ToCommandResult, with at most *inline_left fills inline (fewer than
  // kMaxInlineMatches once the batch's budget runs low), less those it
  // carries. The fills left out are dropped before conversion, so a batch
  // of large results never builds the protos it will not send.
  static void ToBoundedCommandResult(v1::Command::CommandCase command_case,
                                     CommandResult& result, size_t* inline_left,
                                     v1::CommandResult* out) {
    std::vector<MatchView>* matches = nullptr;
    if (auto* offer = std::get_if<OfferResult>(&result)) {
      matches = &offer->matches;
    } else if (auto* pledge = std::get_if<PledgeResult>(&result)) {
      matches = &pledge->matches;
    }
    const size_t total = matches == nullptr ? 0 : matches->size();
    const size_t kept = std::min({total, kMaxInlineMatches, *inline_left});
    if (matches != nullptr) matches->resize(kept);
    ToCommandResult(command_case, result, out);
    *inline_left -= kept;
    auto count = [&](auto* response) {
      response->set_match_count(static_cast<int64_t>(total));
      response->set_omitted_match_count(static_cast<int64_t>(total - kept));
    };
    if (out->has_post_offer()) count(out->mutable_post_offer());
    if (out->has_post_pledge()) count(out->mutable_post_pledge());
  }

  void Fail(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!failed_) {
      failed_ = true;
      status_ = std::move(status);
    }
  }

  // Applies `update` to the state under mu_, decides the next write, read
  // and finish and marks them started, then starts them with mu_ released.
  // While a write or read is started this cannot finish, so the reactor
  // outlives those calls; Finish comes last and nothing touches members
  // after it.
  template <typename Update>
  void Step(Update update) {
    bool write = false, read = false, finish = false;
    grpc::Status status;
    {
      absl::MutexLock lock(&mu_);
      update(this);
      if (finished_) return;
      if (!writing_ && !broken_ && !pending_.empty()) {
        current_ = std::move(pending_.front());
        pending_.pop_front();
        current_bytes_ = pending_bytes_.front();
        pending_bytes_.pop_front();
        writing_ = write = true;
      }
      // With nothing outstanding a read is always allowed, so that a batch
      // whose reply alone is over the limit still goes through.
      const bool room =
          unwritten_ == 0 ||
          (unwritten_ < kMaxUnwrittenBatches &&
           unsent_bytes_ + in_writer_commands_ * reply_bytes_per_command_ <
               limits_.submit_buffer_bytes);
      if (!reading_ && !reads_done_ && !failed_ && room) {
        reading_ = read = true;
      }
      const bool drained = !writing_ && !reading_ && in_writer_ == 0 &&
                           (pending_.empty() || broken_);
      if (drained && (reads_done_ || failed_)) {
        finished_ = finish = true;
        status = status_;
      }
    }
    if (write) StartWrite(&current_);
    if (read) StartRead(&parsed_);
    if (finish) Finish(status);
  }

  CommandSequencer* const sequencer_;
  const ServerLimits limits_;
  const std::unique_ptr<SubmitAdmission> admission_;
  Parsed<v1::SubmitRequest> parsed_;  // filled by a read; for OnReadDone
  v1::SubmitResponse current_;        // being written

  absl::Mutex mu_;
  std::deque<v1::SubmitResponse> pending_ ABSL_GUARDED_BY(mu_);
  std::deque<int64_t> pending_bytes_ ABSL_GUARDED_BY(mu_);  // their sizes
  int64_t current_bytes_ ABSL_GUARDED_BY(mu_) = 0;          // current_'s
  // Bytes of the replies built and not yet written (pending_ and
  // current_), the commands in the pipeline, and the reply bytes expected
  // of each of those.
  int64_t unsent_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t in_writer_commands_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t reply_bytes_per_command_ ABSL_GUARDED_BY(mu_) =
      kInitialReplyBytesPerCommand;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;  // the client half-closed
  bool broken_ ABSL_GUARDED_BY(mu_) = false;      // no more writes possible
  bool failed_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  int in_writer_ ABSL_GUARDED_BY(mu_) = 0;  // batches the writer holds
  int unwritten_ ABSL_GUARDED_BY(mu_) = 0;  // batches read, not written
};

class RefusedSubmitReactor final
    : public grpc::ServerBidiReactor<Parsed<v1::SubmitRequest>,
                                     v1::SubmitResponse> {
 public:
  explicit RefusedSubmitReactor(grpc::Status status) {
    Finish(std::move(status));
  }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerBidiReactor<Parsed<v1::SubmitRequest>, v1::SubmitResponse>*
NewSubmitReactor(CommandSequencer* sequencer, const ServerLimits& limits,
                 std::unique_ptr<SubmitAdmission> admission) {
  return new SubmitReactor(sequencer, limits, std::move(admission));
}

grpc::ServerBidiReactor<Parsed<v1::SubmitRequest>, v1::SubmitResponse>*
NewRefusedSubmitReactor(grpc::Status status) {
  return new RefusedSubmitReactor(std::move(status));
}

int64_t LiveSubmitReactors() {
  return g_live_submit_reactors.load(std::memory_order_relaxed);
}

}  // namespace duijie
