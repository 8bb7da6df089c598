// The duijie.v1.Exchange service: handlers, the writer thread, and the
// WatchMatches and Submit stream reactors. See exchange_service.h.
#include "api/exchange_service.h"

#include <pthread.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "api/apply.h"
#include "api/convert.h"

namespace duijie {
namespace {

// Matches a WatchMatches stream reads from the engine per lock.
constexpr int kWatchChunk = 256;
// Submit batches a stream may have read but not yet written back before it
// stops reading (back-pressure on a client that does not read replies).
constexpr int kMaxUnwrittenBatches = 16;

// INVALID_ARGUMENT unless `prefix` is at most six digits.
absl::Status CheckRegionPrefix(absl::string_view field,
                               absl::string_view prefix) {
  if (prefix.size() > 6 ||
      !std::all_of(prefix.begin(), prefix.end(), absl::ascii_isdigit)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be at most six digits: \"",
                     absl::CEscape(prefix), "\""));
  }
  return absl::OkStatus();
}

// Reads what ListOffers, ListPledges and ListMatches share: the region
// prefix, the page size (into *limit) and the page token (into *after);
// with `order_status`, also that it names an OrderStatus.
template <typename Request>
absl::Status ParseIdPage(const Request& request, const int* order_status,
                         int* limit, uint64_t* after) {
  absl::Status status =
      CheckRegionPrefix("region_code_prefix", request.region_code_prefix());
  if (!status.ok()) return status;
  if (order_status != nullptr && !v1::OrderStatus_IsValid(*order_status)) {
    return absl::InvalidArgumentError(
        absl::StrCat("status: unknown enum value ", *order_status));
  }
  absl::StatusOr<int> size = PageSize(request.page_size());
  if (!size.ok()) return size.status();
  absl::StatusOr<uint64_t> token = ParseIdToken(request.page_token());
  if (!token.ok()) return token.status();
  *limit = *size;
  *after = *token;
  return absl::OkStatus();
}

// Appends each of `views` to *items with ToProto, and sets the next page
// token to the last one's id when the engine said there is `more`.
template <typename View, typename Item, typename Id>
void FillIdPage(const std::vector<View>& views, bool more,
                google::protobuf::RepeatedPtrField<Item>* items,
                std::string* next_page_token, Id id) {
  for (const View& view : views) ToProto(view, items->Add());
  if (more && !items->empty()) {
    *next_page_token = IdToken(id((*items)[items->size() - 1]));
  }
}

// Whether a command posts an order (rather than cancelling one).
bool IsPost(const WriteCommand& command) {
  return std::holds_alternative<OfferSpec>(command.body) ||
         std::holds_alternative<PledgeSpec>(command.body);
}

}  // namespace

// --- WatchMatches -----------------------------------------------------------

// Streams the matches after a cursor that pass a filter: the history first,
// then each new published match. At most one of these runs at a time:
// Pump (from Start, OnWriteDone or Wake), a write, or being parked in the
// service's list waiting for Wake. mu_ guards the hand-offs between them
// and OnCancel. Kept alive by self_ until OnDone, and by the service's list
// while parked.
class ExchangeService::WatchReactor final
    : public grpc::ServerWriteReactor<v1::Match> {
 public:
  WatchReactor(ExchangeService* service, const v1::WatchMatchesRequest& request)
      : service_(service),
        filter_(ToMatchFilter(request)),
        scanned_(request.after_match_id()) {}

  // Takes the reference that keeps this alive until OnDone, and starts.
  void Start(std::shared_ptr<WatchReactor> self) {
    self_ = std::move(self);
    Pump();
  }

  // Takes the reference that keeps this alive until OnDone, and finishes
  // with `status` without streaming anything.
  void Reject(std::shared_ptr<WatchReactor> self, grpc::Status status) {
    self_ = std::move(self);
    {
      absl::MutexLock lock(&mu_);
      finished_ = true;
    }
    Finish(std::move(status));
  }

  // Called (by whoever completes a group, or at shutdown) when new matches
  // are published or the server shuts down. Does nothing unless parked.
  void Wake() {
    {
      absl::MutexLock lock(&mu_);
      if (!parked_ || finished_) return;
      parked_ = false;
    }
    Pump();
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) finished_ = true;
    }
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream broken"));
      return;
    }
    Pump();
  }

  void OnCancel() override {
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      if (parked_) {
        parked_ = false;
        Unpark();
        finished_ = true;
        finish = true;
      }
    }
    if (finish) Finish(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    std::shared_ptr<WatchReactor> self = std::move(self_);
    // `self` may be the last reference: nothing may touch members after.
  }

 private:
  // Writes the next match, or parks when caught up, or finishes when
  // cancelled or shutting down. Requires: not writing, not parked.
  void Pump() {
    while (true) {
      if (buffer_.empty()) Fill();
      grpc::Status status;
      bool finish = false;
      {
        absl::MutexLock lock(&mu_);
        if (cancelled_) {
          finished_ = finish = true;
          status = grpc::Status::CANCELLED;
        } else if (!buffer_.empty()) {
          current_ = std::move(buffer_.front());
          buffer_.pop_front();
          writing_ = true;
        } else {
          absl::MutexLock watchers(&service_->watchers_mu_);
          if (service_->shutting_down_) {
            finished_ = finish = true;
            status = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                  "server shutting down");
          } else if (service_->published_match_id_.load(
                         std::memory_order_acquire) > scanned_) {
            continue;  // published while we looked: look again
          } else {
            service_->parked_watchers_.push_back(self_);
            parked_ = true;
            return;
          }
        }
      }
      if (finish) {
        Finish(status);
      } else {
        StartWrite(&current_);
      }
      return;
    }
  }

  // Reads the next chunk of published matches after scanned_ into buffer_.
  void Fill() {
    const uint64_t published =
        service_->published_match_id_.load(std::memory_order_acquire);
    if (scanned_ >= published) return;
    bool more = false;
    {
      absl::ReaderMutexLock lock(&service_->engine_mu_);
      std::vector<MatchView> views =
          service_->engine_->ListMatches(filter_, scanned_, kWatchChunk, &more);
      for (const MatchView& view : views) {
        if (view.match_id > published) {
          more = false;
          break;
        }
        buffer_.emplace_back();
        ToProto(view, &buffer_.back());
      }
    }
    scanned_ =
        (more && !buffer_.empty()) ? buffer_.back().match_id() : published;
  }

  // Removes this from the service's parked list.
  void Unpark() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::MutexLock watchers(&service_->watchers_mu_);
    auto& list = service_->parked_watchers_;
    list.erase(std::remove_if(list.begin(), list.end(),
                              [this](const std::shared_ptr<WatchReactor>& w) {
                                return w.get() == this;
                              }),
               list.end());
  }

  ExchangeService* const service_;
  const MatchFilter filter_;
  std::shared_ptr<WatchReactor> self_;
  // Owned by whoever runs Pump.
  uint64_t scanned_;  // every match up to here has been looked at
  std::deque<v1::Match> buffer_;
  v1::Match current_;  // being written

  absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool parked_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

// --- Submit -----------------------------------------------------------------

// Reads SubmitRequests, hands each one's commands to the writer as one
// batch, and writes one SubmitResponse per request in order. Reading runs
// ahead of the writer by up to kMaxUnwrittenBatches requests. Finishes when
// the client is done writing (or the stream fails) and every batch is
// answered; deleted in OnDone.
class ExchangeService::SubmitReactor final
    : public grpc::ServerBidiReactor<v1::SubmitRequest, v1::SubmitResponse> {
 public:
  explicit SubmitReactor(ExchangeService* service) : service_(service) {
    Step([](SubmitReactor*) {});
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      return Step([](SubmitReactor* self) {
        self->reading_ = false;
        self->reads_done_ = true;
      });
    }
    if (request_.commands_size() > kMaxSubmitCommands) {
      grpc::Status status(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat("commands: at most ", kMaxSubmitCommands,
                       " per SubmitRequest, got ", request_.commands_size()));
      return Step([&status](SubmitReactor* self) {
        self->reading_ = false;
        self->Fail(std::move(status));
      });
    }
    std::vector<WriteCommand> commands;
    commands.reserve(request_.commands_size());
    std::vector<absl::Status> rejected(request_.commands_size());
    for (int i = 0; i < request_.commands_size(); ++i) {
      absl::StatusOr<WriteCommand> command = ToCommand(request_.commands(i));
      if (command.ok()) {
        commands.push_back(*std::move(command));
      } else {
        rejected[i] = command.status();
      }
    }
    {
      absl::MutexLock lock(&mu_);
      ++in_writer_;
      ++unwritten_;
    }
    service_->Enqueue(
        std::move(commands),
        [this, rejected = std::move(rejected), batch_id = request_.batch_id()](
            Batch& batch) { OnBatchDone(batch, rejected, batch_id); });
    // Only now may the next read overwrite request_.
    Step([](SubmitReactor* self) { self->reading_ = false; });
  }

  void OnWriteDone(bool ok) override {
    Step([ok](SubmitReactor* self) {
      self->writing_ = false;
      --self->unwritten_;
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
  void OnBatchDone(Batch& batch, const std::vector<absl::Status>& rejected,
                   const std::string& batch_id) {
    v1::SubmitResponse response;
    response.set_batch_id(batch_id);
    size_t k = 0;
    for (const absl::Status& status : rejected) {
      v1::CommandResult* result = response.add_results();
      if (!status.ok()) {
        ToCommandError(status, result->mutable_error());
        continue;
      }
      const WriteOutcome& outcome = batch.outcomes[k];
      if (outcome.ok()) {
        ToCommandResult(*outcome, IsPost(batch.commands[k]), result);
      } else {
        ToCommandError(outcome.status(), result->mutable_error());
      }
      ++k;
    }
    Step([&response](SubmitReactor* self) {
      --self->in_writer_;
      self->pending_.push_back(std::move(response));
    });
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
        writing_ = write = true;
      }
      if (!reading_ && !reads_done_ && !failed_ &&
          unwritten_ < kMaxUnwrittenBatches) {
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
    if (read) StartRead(&request_);
    if (finish) Finish(status);
  }

  ExchangeService* const service_;
  v1::SubmitRequest request_;   // filled by a read; used only in OnReadDone
  v1::SubmitResponse current_;  // being written

  absl::Mutex mu_;
  std::deque<v1::SubmitResponse> pending_ ABSL_GUARDED_BY(mu_);
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

// --- The service ------------------------------------------------------------

ExchangeService::ExchangeService(Engine* engine, ExchangeServiceOptions options)
    : engine_(engine), options_(std::move(options)) {
  last_stamp_.store(engine_->now());
  published_match_id_.store(engine_->last_match_id());
  replier_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "duijie-reply");
    ReplyLoop();
  });
  writer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "duijie-writer");
    WriterLoop();
  });
}

ExchangeService::~ExchangeService() { Stop(); }

void ExchangeService::Stop() {
  absl::MutexLock stop(&stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  {
    absl::MutexLock lock(&queue_mu_);
    stopping_ = true;
  }
  writer_.join();  // returns once nothing is queued or being applied
  {
    absl::MutexLock lock(&reply_mu_);
    reply_stopping_ = true;
  }
  replier_.join();  // returns once every committed group is completed
}

void ExchangeService::BeginShutdown() {
  std::vector<std::shared_ptr<WatchReactor>> woken;
  {
    absl::MutexLock lock(&watchers_mu_);
    shutting_down_ = true;
    woken.swap(parked_watchers_);
  }
  for (const auto& watcher : woken) watcher->Wake();
}

Micros ExchangeService::ReadNow() const {
  return std::max(absl::ToUnixMicros(options_.clock()),
                  last_stamp_.load(std::memory_order_acquire));
}

Micros ExchangeService::NextStamp() {
  Micros now = absl::ToUnixMicros(options_.clock());
  Micros last = last_stamp_.load(std::memory_order_relaxed);
  if (now < last) now = last;
  last_stamp_.store(now, std::memory_order_release);
  return now;
}

void ExchangeService::Enqueue(std::vector<WriteCommand> commands,
                              std::function<void(Batch&)> done,
                              bool may_apply_here) {
  auto batch = std::make_unique<Batch>();
  batch->commands = std::move(commands);
  batch->done = std::move(done);
  bool apply_here = false;
  {
    absl::MutexLock lock(&queue_mu_);
    if (!stopping_) {
      if (may_apply_here && options_.apply_on_caller && !busy_ &&
          queue_.empty()) {
        busy_ = apply_here = true;
      } else {
        queue_.push_back(std::move(batch));
        return;
      }
    }
  }
  if (apply_here) {
    Group group;
    group.push_back(std::move(batch));
    RunGroup(group, /*on_writer=*/false);
    absl::MutexLock lock(&queue_mu_);
    busy_ = false;  // the writer takes what queued meanwhile
    return;
  }
  batch->outcomes.assign(batch->commands.size(),
                         absl::UnavailableError("server shutting down"));
  batch->done(*batch);
}

bool ExchangeService::RunOnWriter(std::function<void()> fn) {
  auto batch = std::make_unique<Batch>();
  batch->done = [fn = std::move(fn)](Batch&) { fn(); };
  batch->on_writer = true;
  absl::MutexLock lock(&queue_mu_);
  if (stopping_) return false;
  queue_.push_back(std::move(batch));
  return true;
}

std::vector<WriteOutcome> ExchangeService::Execute(
    std::vector<WriteCommand> commands) {
  absl::Notification notification;
  std::vector<WriteOutcome> outcomes;
  Enqueue(std::move(commands), [&](Batch& batch) {
    outcomes = std::move(batch.outcomes);
    notification.Notify();
  });
  notification.WaitForNotification();
  return outcomes;
}

void ExchangeService::WriterLoop() {
  while (true) {
    Group group;
    {
      absl::MutexLock lock(&queue_mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
        return !busy_ && (!queue_.empty() || stopping_);
      };
      queue_mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping, and everything is applied
      size_t commands = 0;
      while (!queue_.empty() &&
             (group.empty() || commands + queue_.front()->commands.size() <=
                                   options_.max_group_commands)) {
        commands += queue_.front()->commands.size();
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      busy_ = true;
    }
    RunGroup(group, /*on_writer=*/true);
    absl::MutexLock lock(&queue_mu_);
    busy_ = false;
  }
}

void ExchangeService::RunGroup(Group& group, bool on_writer) {
  // Apply.
  uint64_t last_match_id;
  uint64_t applied;
  {
    absl::WriterMutexLock lock(&engine_mu_);
    for (auto& batch : group) {
      batch->outcomes.reserve(batch->commands.size());
      for (WriteCommand& command : batch->commands) {
        StampCommand(command, NextStamp());
        batch->outcomes.push_back(Apply(command));
      }
    }
    last_match_id = engine_->last_match_id();
    applied = applied_groups_.load(std::memory_order_relaxed) + 1;
    applied_groups_.store(applied, std::memory_order_relaxed);
  }

  // Make durable: one append and one sync for the whole group.
  if (options_.journal != nullptr) {
    journal_commands_.clear();
    journal_outcomes_.clear();
    for (const auto& batch : group) {
      for (size_t i = 0; i < batch->commands.size(); ++i) {
        journal_commands_.push_back(&batch->commands[i]);
        journal_outcomes_.push_back(&batch->outcomes[i]);
      }
    }
    absl::Status status =
        options_.journal->Commit(journal_commands_, journal_outcomes_);
    if (!status.ok()) {
      std::fprintf(stderr, "duijie-server: journal commit failed: %s\n",
                   status.ToString().c_str());
      std::abort();
    }
  }
  MarkDurable(applied);

  // Reply, then let the watchers see the new matches: here when nothing
  // earlier still waits for the reply thread (or when a batch must complete
  // on the writer: then once it has caught up), else on the reply thread.
  const bool here_on_writer =
      on_writer && std::any_of(group.begin(), group.end(),
                               [](const auto& b) { return b->on_writer; });
  bool here = false;
  {
    absl::MutexLock lock(&reply_mu_);
    if (here_on_writer) {
      auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(reply_mu_) {
        return reply_pending_ == 0;
      };
      reply_mu_.Await(absl::Condition(&idle));
      here = true;
    } else if (!on_writer && reply_pending_ == 0) {
      here = true;
    } else {
      ++reply_pending_;
      replies_.push_back(ReplyTask{std::move(group), last_match_id});
    }
  }
  if (here) Complete(group, last_match_id);
  if (options_.journal != nullptr) options_.journal->AfterGroup();
}

void ExchangeService::Complete(Group& group, uint64_t last_match_id) {
  for (auto& batch : group) batch->done(*batch);
  Publish(last_match_id);
}

void ExchangeService::ReplyLoop() {
  while (true) {
    ReplyTask task;
    {
      absl::MutexLock lock(&reply_mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(reply_mu_) {
        return !replies_.empty() || reply_stopping_;
      };
      reply_mu_.Await(absl::Condition(&ready));
      if (replies_.empty()) return;  // stopping, and everything is answered
      task = std::move(replies_.front());
      replies_.pop_front();
    }
    Complete(task.group, task.last_match_id);
    task.group.clear();  // free the batches before reporting idle
    absl::MutexLock lock(&reply_mu_);
    --reply_pending_;
  }
}

WriteOutcome ExchangeService::Apply(WriteCommand& command) {
  // The same function replays the journal, so replay feeds the engine
  // exactly what the writer fed it.
  return ApplyCommand(*engine_, command);
}

ExchangeService::StateReader::StateReader(const ExchangeService* service,
                                          uint64_t* seen)
    : lock_(&service->engine_mu_) {
  // Written under engine_mu_ held exclusively, so stable while it is shared.
  *seen = service->applied_groups_.load(std::memory_order_relaxed);
}

void ExchangeService::FinishRead(grpc::ServerUnaryReactor* reactor,
                                 grpc::Status status, uint64_t seen) {
  if (durable_groups_.load(std::memory_order_acquire) < seen) {
    absl::MutexLock lock(&durable_mu_);
    if (durable_groups_.load(std::memory_order_relaxed) < seen) {
      held_reads_.push_back(HeldRead{seen, reactor, std::move(status)});
      return;
    }
  }
  reactor->Finish(std::move(status));
}

void ExchangeService::MarkDurable(uint64_t group) {
  std::vector<HeldRead> released;
  {
    absl::MutexLock lock(&durable_mu_);
    durable_groups_.store(group, std::memory_order_release);
    if (held_reads_.empty()) return;
    auto ready = std::partition(
        held_reads_.begin(), held_reads_.end(),
        [group](const HeldRead& read) { return read.seen > group; });
    released.assign(std::make_move_iterator(ready),
                    std::make_move_iterator(held_reads_.end()));
    held_reads_.erase(ready, held_reads_.end());
  }
  for (HeldRead& read : released) read.reactor->Finish(std::move(read.status));
}

void ExchangeService::Publish(uint64_t last_match_id) {
  if (last_match_id <= published_match_id_.load(std::memory_order_relaxed)) {
    return;
  }
  published_match_id_.store(last_match_id, std::memory_order_release);
  std::vector<std::shared_ptr<WatchReactor>> woken;
  {
    absl::MutexLock lock(&watchers_mu_);
    woken.swap(parked_watchers_);
  }
  for (const auto& watcher : woken) watcher->Wake();
}

template <typename Request, typename Response, typename Fill>
grpc::ServerUnaryReactor* ExchangeService::Mutate(
    grpc::CallbackServerContext* context, const Request* request,
    Response* response, Fill fill) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<WriteCommand> command = ToCommand(*request);
  if (!command.ok()) {
    reactor->Finish(ToGrpcStatus(command.status()));
    return reactor;
  }
  std::vector<WriteCommand> commands;
  commands.push_back(*std::move(command));
  Enqueue(
      std::move(commands),
      [reactor, response, fill](Batch& batch) {
        const WriteOutcome& outcome = batch.outcomes[0];
        if (!outcome.ok()) {
          reactor->Finish(ToGrpcStatus(outcome.status()));
          return;
        }
        fill(*outcome, response);
        reactor->Finish(grpc::Status::OK);
      },
      /*may_apply_here=*/true);
  return reactor;
}

// --- Mutations --------------------------------------------------------------

grpc::ServerUnaryReactor* ExchangeService::UpsertRegion(
    grpc::CallbackServerContext* context,
    const v1::UpsertRegionRequest* request, v1::Region* response) {
  return Mutate(context, request, response,
                [](const WriteResult& result, v1::Region* out) {
                  ToProto(std::get<RegionResult>(result).region, out);
                });
}

grpc::ServerUnaryReactor* ExchangeService::UpsertPairing(
    grpc::CallbackServerContext* context,
    const v1::UpsertPairingRequest* request, v1::Pairing* response) {
  return Mutate(context, request, response,
                [](const WriteResult& result, v1::Pairing* out) {
                  ToProto(std::get<PairingResult>(result).pairing, out);
                });
}

grpc::ServerUnaryReactor* ExchangeService::DeletePairing(
    grpc::CallbackServerContext* context,
    const v1::DeletePairingRequest* request,
    v1::DeletePairingResponse* response) {
  return Mutate(context, request, response,
                [](const WriteResult& result, v1::DeletePairingResponse* out) {
                  ToProto(std::get<PairingResult>(result).pairing,
                          out->mutable_pairing());
                });
}

grpc::ServerUnaryReactor* ExchangeService::PostOffer(
    grpc::CallbackServerContext* context, const v1::PostOfferRequest* request,
    v1::PostOfferResponse* response) {
  return Mutate(context, request, response,
                [](const WriteResult& result, v1::PostOfferResponse* out) {
                  const OfferResult& offer = std::get<OfferResult>(result);
                  ToProto(offer.offer, out->mutable_offer());
                  for (const MatchView& match : offer.matches) {
                    ToProto(match, out->add_matches());
                  }
                });
}

grpc::ServerUnaryReactor* ExchangeService::PostPledge(
    grpc::CallbackServerContext* context, const v1::PostPledgeRequest* request,
    v1::PostPledgeResponse* response) {
  return Mutate(context, request, response,
                [](const WriteResult& result, v1::PostPledgeResponse* out) {
                  const PledgeResult& pledge = std::get<PledgeResult>(result);
                  ToProto(pledge.pledge, out->mutable_pledge());
                  for (const MatchView& match : pledge.matches) {
                    ToProto(match, out->add_matches());
                  }
                });
}

grpc::ServerUnaryReactor* ExchangeService::CancelOffer(
    grpc::CallbackServerContext* context, const v1::CancelOfferRequest* request,
    v1::CancelOfferResponse* response) {
  return Mutate(context, request, response,
                [](const WriteResult& result, v1::CancelOfferResponse* out) {
                  const OfferResult& offer = std::get<OfferResult>(result);
                  ToProto(offer.offer, out->mutable_offer());
                  out->set_unfilled_kg(offer.unfilled_kg);
                });
}

grpc::ServerUnaryReactor* ExchangeService::CancelPledge(
    grpc::CallbackServerContext* context,
    const v1::CancelPledgeRequest* request,
    v1::CancelPledgeResponse* response) {
  return Mutate(context, request, response,
                [](const WriteResult& result, v1::CancelPledgeResponse* out) {
                  const PledgeResult& pledge = std::get<PledgeResult>(result);
                  ToProto(pledge.pledge, out->mutable_pledge());
                  out->set_unfilled_kg(pledge.unfilled_kg);
                });
}

// --- Reads ------------------------------------------------------------------

grpc::ServerUnaryReactor* ExchangeService::ListRegions(
    grpc::CallbackServerContext* context, const v1::ListRegionsRequest* request,
    v1::ListRegionsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  uint64_t seen = 0;  // the applied group whose state the reply shows
  absl::Status status =
      CheckRegionPrefix("code_prefix", request->code_prefix());
  absl::StatusOr<int> limit = PageSize(request->page_size());
  absl::StatusOr<std::string> after = ParseRegionToken(request->page_token());
  if (status.ok() && !limit.ok()) status = limit.status();
  if (status.ok() && !after.ok()) status = after.status();
  if (status.ok()) {
    bool more = false;
    StateReader lock(this, &seen);
    for (const Region& region :
         engine_->ListRegions(request->code_prefix(), *after, *limit, &more)) {
      ToProto(region, response->add_regions());
    }
    if (more && response->regions_size() > 0) {
      response->set_next_page_token(
          response->regions(response->regions_size() - 1).code());
    }
  }
  FinishRead(reactor, ToGrpcStatus(status), seen);
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::ListPairings(
    grpc::CallbackServerContext* context,
    const v1::ListPairingsRequest* request,
    v1::ListPairingsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  uint64_t seen = 0;  // the applied group whose state the reply shows
  absl::Status status =
      CheckRegionPrefix("code_prefix", request->code_prefix());
  absl::StatusOr<int> limit = PageSize(request->page_size());
  absl::StatusOr<std::pair<std::string, std::string>> after =
      ParsePairingToken(request->page_token());
  if (status.ok() && !limit.ok()) status = limit.status();
  if (status.ok() && !after.ok()) status = after.status();
  if (status.ok()) {
    bool more = false;
    StateReader lock(this, &seen);
    for (const Pairing& pairing :
         engine_->ListPairings(request->code_prefix(), after->first,
                               after->second, *limit, &more)) {
      ToProto(pairing, response->add_pairings());
    }
    if (more && response->pairings_size() > 0) {
      const v1::Pairing& last =
          response->pairings(response->pairings_size() - 1);
      response->set_next_page_token(
          PairingToken(last.east_code(), last.west_code()));
    }
  }
  FinishRead(reactor, ToGrpcStatus(status), seen);
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::GetOffer(
    grpc::CallbackServerContext* context, const v1::GetOfferRequest* request,
    v1::Offer* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  uint64_t seen = 0;  // the applied group whose state the reply shows
  absl::Status status;
  {
    StateReader lock(this, &seen);
    absl::StatusOr<OfferView> offer =
        engine_->GetOffer(request->id(), ReadNow());
    if (offer.ok()) {
      ToProto(*offer, response);
    } else {
      status = offer.status();
    }
  }
  FinishRead(reactor, ToGrpcStatus(status), seen);
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::GetPledge(
    grpc::CallbackServerContext* context, const v1::GetPledgeRequest* request,
    v1::Pledge* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  uint64_t seen = 0;  // the applied group whose state the reply shows
  absl::Status status;
  {
    StateReader lock(this, &seen);
    absl::StatusOr<PledgeView> pledge =
        engine_->GetPledge(request->id(), ReadNow());
    if (pledge.ok()) {
      ToProto(*pledge, response);
    } else {
      status = pledge.status();
    }
  }
  FinishRead(reactor, ToGrpcStatus(status), seen);
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::ListOffers(
    grpc::CallbackServerContext* context, const v1::ListOffersRequest* request,
    v1::ListOffersResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  uint64_t seen = 0;  // the applied group whose state the reply shows
  const int order_status = request->status();
  int limit = 0;
  uint64_t after = 0;
  absl::Status status = ParseIdPage(*request, &order_status, &limit, &after);
  if (status.ok()) {
    bool more = false;
    StateReader lock(this, &seen);
    const std::vector<OfferView> offers = engine_->ListOffers(
        ToOrderFilter(*request), after, limit, ReadNow(), &more);
    FillIdPage(offers, more, response->mutable_offers(),
               response->mutable_next_page_token(),
               [](const v1::Offer& o) { return o.offer_id(); });
  }
  FinishRead(reactor, ToGrpcStatus(status), seen);
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::ListPledges(
    grpc::CallbackServerContext* context, const v1::ListPledgesRequest* request,
    v1::ListPledgesResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  uint64_t seen = 0;  // the applied group whose state the reply shows
  const int order_status = request->status();
  int limit = 0;
  uint64_t after = 0;
  absl::Status status = ParseIdPage(*request, &order_status, &limit, &after);
  if (status.ok()) {
    bool more = false;
    StateReader lock(this, &seen);
    const std::vector<PledgeView> pledges = engine_->ListPledges(
        ToOrderFilter(*request), after, limit, ReadNow(), &more);
    FillIdPage(pledges, more, response->mutable_pledges(),
               response->mutable_next_page_token(),
               [](const v1::Pledge& p) { return p.pledge_id(); });
  }
  FinishRead(reactor, ToGrpcStatus(status), seen);
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::ListMatches(
    grpc::CallbackServerContext* context, const v1::ListMatchesRequest* request,
    v1::ListMatchesResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  uint64_t seen = 0;  // the applied group whose state the reply shows
  int limit = 0;
  uint64_t after = 0;
  absl::Status status = ParseIdPage(*request, nullptr, &limit, &after);
  if (status.ok()) {
    bool more = false;
    const uint64_t after_id = std::max(after, request->after_match_id());
    StateReader lock(this, &seen);
    const std::vector<MatchView> matches =
        engine_->ListMatches(ToMatchFilter(*request), after_id, limit, &more);
    FillIdPage(matches, more, response->mutable_matches(),
               response->mutable_next_page_token(),
               [](const v1::Match& m) { return m.match_id(); });
  }
  FinishRead(reactor, ToGrpcStatus(status), seen);
  return reactor;
}

grpc::ServerWriteReactor<v1::Match>* ExchangeService::WatchMatches(
    grpc::CallbackServerContext* context,
    const v1::WatchMatchesRequest* request) {
  absl::Status status =
      CheckRegionPrefix("region_code_prefix", request->region_code_prefix());
  auto watcher = std::make_shared<WatchReactor>(this, *request);
  WatchReactor* reactor = watcher.get();
  if (status.ok()) {
    reactor->Start(std::move(watcher));
  } else {
    reactor->Reject(std::move(watcher), ToGrpcStatus(status));
  }
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::GetBook(
    grpc::CallbackServerContext* context, const v1::GetBookRequest* request,
    v1::GetBookResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  uint64_t seen = 0;  // the applied group whose state the reply shows
  {
    StateReader lock(this, &seen);
    for (const BookLine& line :
         engine_->GetBook(request->product_code_prefix(), ReadNow())) {
      ToProto(line, response->add_lines());
    }
  }
  FinishRead(reactor, grpc::Status::OK, seen);
  return reactor;
}

grpc::ServerBidiReactor<v1::SubmitRequest, v1::SubmitResponse>*
ExchangeService::Submit(grpc::CallbackServerContext* context) {
  return new SubmitReactor(this);
}

}  // namespace duijie
