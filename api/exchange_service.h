// ExchangeService: the duijie.v1.Exchange gRPC service, a thin layer that
// feeds the engine from one writer thread.
//
// Threads and locks:
//   - gRPC callback threads run the handlers. A mutating handler converts its
//     request to WriteCommands (convert.h) and enqueues them as one Batch; a
//     Submit request's commands are one Batch however many there are, so a
//     1000-command batch costs one handoff.
//   - One applier at a time owns every mutation (busy_): the writer thread,
//     or, for a unary mutation that finds the queue empty and nobody
//     applying (ExchangeServiceOptions::apply_on_caller), the calling gRPC
//     thread itself, for its own command only (no hand-off when idle). The
//     applier takes engine_mu_ exclusively and applies each command of its
//     group in order, stamping it with the server's clock (made
//     non-decreasing); releases the lock; hands the group to the Journal
//     hook, if any (append + one fsync for the whole group: group commit);
//     then completes the group: runs each batch's `done` (which builds the
//     replies) and publishes its matches to the WatchMatches streams.
//     Replies never leave before their batch is durable.
//   - The writer thread does not build replies: it passes each committed
//     group to the reply thread, which completes groups in the order they
//     were applied. A calling-thread applier completes its own group inline
//     when the reply thread is idle, and passes it on otherwise, so groups
//     are always completed in apply order (Submit replies stay in order).
//   - Reads take engine_mu_ shared and convert under it, and note the last
//     applied group; their reply waits until that group is durable
//     (FinishRead), so a read never shows what a crash could undo.
//   - WatchMatches streams deliver only matches up to published_match_id_,
//     the last match id whose batch has been journaled and replied to.
#ifndef DUIJIE_API_EXCHANGE_SERVICE_H_
#define DUIJIE_API_EXCHANGE_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "api/command.h"
#include "duijie/v1/exchange.grpc.pb.h"
#include "engine/engine.h"

namespace duijie {

// The hook the write-ahead journal slots into. The writer calls Commit once
// per drained group of batches, after applying them and before any reply;
// `commands` are every command applied in the group, in order, with the time
// each was stamped, and `outcomes` what the engine returned (rejected ones
// changed nothing but the engine's clock; see api/journal.h for how they
// are journaled). A failure is fatal: the in-memory state is ahead of the
// journal, so the server aborts.
class Journal {
 public:
  virtual ~Journal() = default;
  virtual absl::Status Commit(
      absl::Span<const WriteCommand* const> commands,
      absl::Span<const WriteOutcome* const> outcomes) = 0;
  // Called by the applier after each group is committed (its replies may
  // still be on their way), before the next group is applied: the engine is
  // quiet (only const reads run), which makes it the place to serialize a
  // snapshot.
  virtual void AfterGroup() {}
};

struct ExchangeServiceOptions {
  // The server's clock. Commands are stamped with it, made non-decreasing.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // Optional; not owned; must outlive the service.
  Journal* journal = nullptr;
  // The writer stops draining the queue once a group holds this many
  // commands (a batch is never split).
  size_t max_group_commands = 16384;
  // Let a unary mutation that finds the writer idle apply, journal (with
  // the journal's fsync and AfterGroup) and reply on its own gRPC thread:
  // no thread hand-off. Off: every command goes through the writer thread
  // (better with an fsyncing journal, where the caller would hold the
  // applier role through its group's fsync while the next group waits).
  bool apply_on_caller = true;
};

// Most commands one Submit request may carry.
inline constexpr int kMaxSubmitCommands = 10000;

class ExchangeService final : public v1::Exchange::CallbackService {
 public:
  // Starts the writer thread. `engine` is not owned and must outlive this.
  explicit ExchangeService(Engine* engine, ExchangeServiceOptions options = {});
  // Calls Stop(). Destroy only after the grpc::Server serving this has shut
  // down (no reactor may outlive the service).
  ~ExchangeService() override;

  ExchangeService(const ExchangeService&) = delete;
  ExchangeService& operator=(const ExchangeService&) = delete;

  // Applies `commands` through the writer as one batch, in order, and waits
  // for their outcomes (one per command). For demo data and tools. Results
  // hold views into the engine's interned strings. UNAVAILABLE outcomes
  // after Stop().
  std::vector<WriteOutcome> Execute(std::vector<WriteCommand> commands);

  // Runs `fn` on the writer thread between groups, once everything queued
  // before it has been applied, journaled and answered: there `fn` may read
  // the engine without a lock and see a state that matches the journal's
  // position. `fn` must not block for long (the writer waits for it).
  // Returns false, without running `fn`, after Stop().
  bool RunOnWriter(std::function<void()> fn);

  // Ends every WatchMatches stream (UNAVAILABLE, after what is published)
  // and refuses new ones. Call before grpc::Server::Shutdown.
  void BeginShutdown();
  // Lets the writer apply and reply to everything queued, then joins it.
  // Later commands fail with UNAVAILABLE. Idempotent.
  void Stop();

  // The server's time for reads: the clock, never before the last stamp.
  Micros ReadNow() const;

  // --- duijie.v1.Exchange ---------------------------------------------------

  grpc::ServerUnaryReactor* UpsertRegion(grpc::CallbackServerContext* context,
                                         const v1::UpsertRegionRequest* request,
                                         v1::Region* response) override;
  grpc::ServerUnaryReactor* ListRegions(
      grpc::CallbackServerContext* context,
      const v1::ListRegionsRequest* request,
      v1::ListRegionsResponse* response) override;
  grpc::ServerUnaryReactor* UpsertPairing(
      grpc::CallbackServerContext* context,
      const v1::UpsertPairingRequest* request, v1::Pairing* response) override;
  grpc::ServerUnaryReactor* DeletePairing(
      grpc::CallbackServerContext* context,
      const v1::DeletePairingRequest* request,
      v1::DeletePairingResponse* response) override;
  grpc::ServerUnaryReactor* ListPairings(
      grpc::CallbackServerContext* context,
      const v1::ListPairingsRequest* request,
      v1::ListPairingsResponse* response) override;

  grpc::ServerUnaryReactor* PostOffer(grpc::CallbackServerContext* context,
                                      const v1::PostOfferRequest* request,
                                      v1::PostOfferResponse* response) override;
  grpc::ServerUnaryReactor* PostPledge(
      grpc::CallbackServerContext* context,
      const v1::PostPledgeRequest* request,
      v1::PostPledgeResponse* response) override;
  grpc::ServerUnaryReactor* CancelOffer(
      grpc::CallbackServerContext* context,
      const v1::CancelOfferRequest* request,
      v1::CancelOfferResponse* response) override;
  grpc::ServerUnaryReactor* CancelPledge(
      grpc::CallbackServerContext* context,
      const v1::CancelPledgeRequest* request,
      v1::CancelPledgeResponse* response) override;
  grpc::ServerUnaryReactor* GetOffer(grpc::CallbackServerContext* context,
                                     const v1::GetOfferRequest* request,
                                     v1::Offer* response) override;
  grpc::ServerUnaryReactor* GetPledge(grpc::CallbackServerContext* context,
                                      const v1::GetPledgeRequest* request,
                                      v1::Pledge* response) override;
  grpc::ServerUnaryReactor* ListOffers(
      grpc::CallbackServerContext* context,
      const v1::ListOffersRequest* request,
      v1::ListOffersResponse* response) override;
  grpc::ServerUnaryReactor* ListPledges(
      grpc::CallbackServerContext* context,
      const v1::ListPledgesRequest* request,
      v1::ListPledgesResponse* response) override;

  grpc::ServerUnaryReactor* ListMatches(
      grpc::CallbackServerContext* context,
      const v1::ListMatchesRequest* request,
      v1::ListMatchesResponse* response) override;
  grpc::ServerWriteReactor<v1::Match>* WatchMatches(
      grpc::CallbackServerContext* context,
      const v1::WatchMatchesRequest* request) override;
  grpc::ServerUnaryReactor* GetBook(grpc::CallbackServerContext* context,
                                    const v1::GetBookRequest* request,
                                    v1::GetBookResponse* response) override;

  grpc::ServerBidiReactor<v1::SubmitRequest, v1::SubmitResponse>* Submit(
      grpc::CallbackServerContext* context) override;

 private:
  class WatchReactor;
  class SubmitReactor;

  // One queue entry: commands applied in order, then `done` runs with
  // outcomes[i] for commands[i], on the reply thread (or on the applying
  // caller's thread). `done` must not block. A batch with `on_writer` is
  // completed on the writer thread itself, once the reply thread is idle.
  struct Batch {
    std::vector<WriteCommand> commands;
    std::vector<WriteOutcome> outcomes;
    std::function<void(Batch&)> done;
    bool on_writer = false;
  };
  using Group = std::vector<std::unique_ptr<Batch>>;
  // A committed group waiting for the reply thread.
  struct ReplyTask {
    Group group;
    uint64_t last_match_id = 0;
  };

  // Queues a batch for the writer; after Stop() completes it at once with
  // UNAVAILABLE outcomes. With `may_apply_here` (unary mutations) and
  // options.apply_on_caller, applies and completes it on this thread when
  // the queue is empty and nobody is applying.
  void Enqueue(std::vector<WriteCommand> commands,
               std::function<void(Batch&)> done, bool may_apply_here = false);
  // Enqueues the one command of a unary mutation; `fill` stores a success
  // into *response, errors finish the RPC with their status.
  template <typename Request, typename Response, typename Fill>
  grpc::ServerUnaryReactor* Mutate(grpc::CallbackServerContext* context,
                                   const Request* request, Response* response,
                                   Fill fill);

  void WriterLoop();
  // Applies, commits and completes `group`. Requires busy_ (set by the
  // caller). `on_writer`: called by the writer thread.
  void RunGroup(Group& group, bool on_writer);
  // Runs each batch's `done`, then publishes the group's matches.
  void Complete(Group& group, uint64_t last_match_id);
  void ReplyLoop();
  // Applies one command to the engine. Requires engine_mu_ held exclusively.
  WriteOutcome Apply(WriteCommand& command)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(engine_mu_);
  // The next command stamp: the clock, made non-decreasing.
  Micros NextStamp();
  // Publishes matches up to `last_match_id` to the WatchMatches streams.
  void Publish(uint64_t last_match_id);

  // Holds engine_mu_ shared and records in *seen the applied group whose
  // state the holder reads.
  class StateReader {
   public:
    StateReader(const ExchangeService* service, uint64_t* seen);

   private:
    absl::ReaderMutexLock lock_;
  };
  // Finishes a read that showed the state after applied group `seen`: now
  // if that group is durable, else once MarkDurable reaches it. A read
  // never shows a command's effect before that command is in the journal,
  // so nothing a client has read can vanish in a crash.
  void FinishRead(grpc::ServerUnaryReactor* reactor, grpc::Status status,
                  uint64_t seen);
  // Called by the applier once applied group `group` (and so every earlier
  // one) is durable: finishes the reads held for it.
  void MarkDurable(uint64_t group);

  Engine* const engine_;
  const ExchangeServiceOptions options_;

  // Held exclusively by the writer while it applies, shared by reads.
  mutable absl::Mutex engine_mu_;
  std::atomic<Micros> last_stamp_{0};

  absl::Mutex queue_mu_;
  std::deque<std::unique_ptr<Batch>> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;
  // Someone (the writer or a caller) is applying a group.
  bool busy_ ABSL_GUARDED_BY(queue_mu_) = false;
  // The group being committed, as the Journal takes it; used only by the
  // applier (whoever set busy_), kept to reuse its capacity.
  std::vector<const WriteCommand*> journal_commands_;
  std::vector<const WriteOutcome*> journal_outcomes_;
  std::thread writer_;

  // Committed groups for the reply thread, in apply order.
  absl::Mutex reply_mu_;
  std::deque<ReplyTask> replies_ ABSL_GUARDED_BY(reply_mu_);
  // Tasks queued or being completed; 0: the reply thread is idle.
  int reply_pending_ ABSL_GUARDED_BY(reply_mu_) = 0;
  bool reply_stopping_ ABSL_GUARDED_BY(reply_mu_) = false;
  std::thread replier_;
  absl::Mutex stop_mu_;  // serializes Stop()
  bool stopped_ ABSL_GUARDED_BY(stop_mu_) = false;

  // Groups applied so far, counted from 1 (written under engine_mu_ held
  // exclusively), and of those the ones made durable (in memory: all).
  std::atomic<uint64_t> applied_groups_{0};
  std::atomic<uint64_t> durable_groups_{0};
  struct HeldRead {
    uint64_t seen;
    grpc::ServerUnaryReactor* reactor;
    grpc::Status status;
  };
  absl::Mutex durable_mu_;
  std::vector<HeldRead> held_reads_ ABSL_GUARDED_BY(durable_mu_);

  // Matches with ids up to here may be streamed.
  std::atomic<uint64_t> published_match_id_{0};
  absl::Mutex watchers_mu_;
  std::vector<std::shared_ptr<WatchReactor>> parked_watchers_
      ABSL_GUARDED_BY(watchers_mu_);
  bool shutting_down_ ABSL_GUARDED_BY(watchers_mu_) = false;
};

}  // namespace duijie

#endif  // DUIJIE_API_EXCHANGE_SERVICE_H_
