// CommandSequencer: the commit pipeline between the API and the engine.
// Callers enqueue batches of commands; one applier at a time takes the
// queued batches as a group, applies them to the engine in order, hands the
// group to the Journal (one append and one fsync for the whole group:
// group commit), and only then releases the batches' replies. No gRPC
// here: the service adapts RPCs to Enqueue, and tests drive it directly.
//
// Time. The applier stamps each group with the server's clock (made
// non-decreasing); its commands are applied at that time. A command the
// engine would refuse (Engine::Validate) is answered at once and changes
// nothing, so it is not journaled. Before the group's first accepted
// command, when the stamp is later than the engine's clock, the applier
// issues a TickCommand (applied and journaled like any command), which
// moves the clock and retires what expired; replay re-applies the ticks,
// so every time-driven change comes back from the journal. Batch clearings
// are time-driven too: each clearing due by the group's time runs as a
// ClearCommand at its own time, after a tick to that time (journaled
// likewise), before the tick to the group's time; and when nothing
// arrives, the writer wakes at the clearing's time and issues one itself.
//
// Threads and locks:
//   - One applier at a time owns every mutation (busy_): the writer thread,
//     or, for a unary mutation that finds the queue empty and nobody
//     applying (SequencerOptions::apply_on_caller), the calling thread
//     itself, for its own command only (no hand-off when idle). The applier
//     holds the engine lock exclusively while applying, releases it,
//     commits the group to the Journal, then completes the group: runs each
//     batch's `done` and publishes its matches and match events
//     (on_published) and alert events (on_alerts_published).
//   - The writer thread does not build replies: it passes each committed
//     group to the reply thread, which completes groups in the order they
//     were applied. A calling-thread applier completes its own group inline
//     when the reply thread is idle, and passes it on otherwise, so groups
//     are always completed in apply order.
//   - Reads hold a Reader (the engine lock, shared) and note the last
//     applied group; their reply waits until that group is durable
//     (WhenDurable), so a read never shows what a crash could undo.
//   - Glut alerts, with follow_alerts: the applier takes each group's
//     alert feed (Engine::TakeAlertFeed) under the engine lock, and
//     whoever completes the group follows it (Engine::FollowAlerts) under
//     alerts_mu_ before the group's `done`s run; groups being completed in
//     apply order, feeds are followed in order. Alert reads hold an
//     AlertsReader (alerts_mu_, then the engine lock shared). A snapshot
//     due after a group waits for the alerts to be followed up to it.
#ifndef DUIJIE_API_COMMAND_SEQUENCER_H_
#define DUIJIE_API_COMMAND_SEQUENCER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/journal.h"
#include "engine/alert_feed.h"
#include "engine/command.h"
#include "engine/engine.h"

namespace duijie {

struct SequencerOptions {
  // The server's clock. Commands are stamped with it, made non-decreasing.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // Optional; not owned; must outlive the sequencer.
  Journal* journal = nullptr;
  // The writer stops draining the queue once a group holds this many
  // commands (a batch is never split).
  size_t max_group_commands = 16384;
  // Let a unary mutation that finds the writer idle apply, journal (with
  // the journal's fsync and AfterGroup) and reply on its own thread: no
  // thread hand-off. Off: every command goes through the writer thread
  // (better with an fsyncing journal, where the caller would hold the
  // applier role through its group's fsync while the next group waits).
  bool apply_on_caller = true;
  // Wake the writer when a batch clearing falls due with nothing queued,
  // and issue its ClearCommand (it reads the clock to know: at most once a
  // second while a policy is set). Off, clearings run only after the tick
  // of the next group (tests that count clock readings need that).
  bool clear_when_idle = false;
  // Called after each completed group that made match events, with the
  // engine's last match id and last match event id (matches and events up
  // to them are durable and answered); may be called from any applier or
  // the reply thread, one call at a time per group.
  std::function<void(uint64_t last_match_id, uint64_t last_event_id)>
      on_published;
  // The same for alert events (Engine::ListAlertEvents), with the
  // engine's last alert event id, after each completed group that made
  // some.
  std::function<void(uint64_t last_alert_event_id)> on_alerts_published;
  // Judge the glut alerts off the applier (Engine::StartAlertFeed): the
  // applier takes each group's alert feed with its commands, and whoever
  // completes the group follows it, before the group's replies go out. The
  // applier then spends on alerts only the feed's recording; on the reply
  // thread the following runs beside the next group's commands (a caller
  // that applies its own command on an idle sequencer follows it itself,
  // as it replies to itself). The engine's feed, once started, stays on:
  // the engine must not be driven by another sequencer without it. Off:
  // the engine judges them as each command applies.
  bool follow_alerts = false;
};

class CommandSequencer {
 public:
  // One queue entry: commands applied in order, then `done` runs with
  // outcomes[i] for commands[i], on the reply thread (or on the applying
  // caller's thread). `done` must not block. A batch with `on_writer` is
  // completed on the writer thread itself, once the reply thread is idle.
  struct Batch {
    std::vector<Command> commands;
    std::vector<CommandOutcome> outcomes;
    std::function<void(Batch&)> done;
    bool on_writer = false;
  };

  // Starts the writer and reply threads. `engine` is not owned and must
  // outlive this.
  CommandSequencer(Engine* engine, SequencerOptions options);
  // Calls Stop().
  ~CommandSequencer();
  CommandSequencer(const CommandSequencer&) = delete;
  CommandSequencer& operator=(const CommandSequencer&) = delete;

  // Queues a batch for the writer; after Stop() completes it at once with
  // UNAVAILABLE outcomes. With `may_apply_here` (unary mutations) and
  // options.apply_on_caller, applies and completes it on this thread when
  // the queue is empty and nobody is applying.
  void Enqueue(std::vector<Command> commands, std::function<void(Batch&)> done,
               bool may_apply_here = false);
  // Enqueues `commands` as one batch and waits for their outcomes.
  std::vector<CommandOutcome> Execute(std::vector<Command> commands);
  // Runs `fn` on the writer thread between groups, once everything queued
  // before it has been applied, journaled and answered: there `fn` may read
  // the engine without a lock and see a state that matches the journal's
  // position. Returns false, without running `fn`, after Stop().
  bool RunOnWriter(std::function<void()> fn);
  // Lets the writer apply and answer everything queued, then joins the
  // threads. Later commands fail with UNAVAILABLE. Idempotent.
  void Stop();

  // The server's time for reads: the clock, never before the last stamp.
  Micros ReadNow() const;
  // Matches with ids up to here are durable and answered.
  uint64_t published_match_id() const {
    return published_match_id_.load(std::memory_order_acquire);
  }
  // Match events (Engine::ListMatchEvents) with ids up to here are durable
  // and answered. Every match made up to the event read here has been
  // published too (published_match_id is stored first).
  uint64_t published_event_id() const {
    return published_event_id_.load(std::memory_order_acquire);
  }
  // Alert events (Engine::ListAlertEvents) with ids up to here are durable
  // and answered.
  uint64_t published_alert_event_id() const {
    return published_alert_event_id_.load(std::memory_order_acquire);
  }

  // Holds the engine lock shared: the engine may be read, and seen() is the
  // applied group whose state it shows.
  class Reader {
   public:
    explicit Reader(const CommandSequencer* sequencer);
    const Engine& engine() const { return engine_; }
    uint64_t seen() const { return seen_; }

   private:
    absl::ReaderMutexLock lock_;
    const Engine& engine_;
    uint64_t seen_;
  };
  // For the glut alerts (ListAlerts, ListAlertEvents, last_alert_event_id):
  // holds the alerts' lock and the engine lock shared. With follow_alerts
  // the alerts may be behind the engine by the groups still being
  // completed: seen() is then the last group whose alerts were followed
  // (completed, so durable), and the alerts stand as of it. A client that
  // had its reply for a command sees that command's alerts.
  class AlertsReader {
   public:
    explicit AlertsReader(const CommandSequencer* sequencer);
    ~AlertsReader();
    AlertsReader(const AlertsReader&) = delete;
    AlertsReader& operator=(const AlertsReader&) = delete;
    const Engine& engine() const { return engine_; }
    uint64_t seen() const { return seen_; }

   private:
    absl::Mutex& alerts_mu_;
    absl::Mutex& engine_mu_;
    const Engine& engine_;
    uint64_t seen_;
  };
  // Runs `finish` once applied group `seen` is durable: now, or on the
  // applier's thread when it gets there. Requires that no Reader is held
  // by the caller.
  void WhenDurable(uint64_t seen, std::function<void()> finish);

 private:
  using Group = std::vector<std::unique_ptr<Batch>>;
  struct ReplyTask {
    Group group;
    uint64_t last_match_id = 0;
    uint64_t last_event_id = 0;
    uint64_t last_alert_event_id = 0;
    // With follow_alerts: the group's alert feed and the group's number.
    std::unique_ptr<AlertFeed> feed;
    uint64_t applied = 0;
  };

  void WriterLoop();
  // Applies, commits and completes `group`. Requires busy_ (set by the
  // caller). `on_writer`: called by the writer thread.
  void RunGroup(Group& group, bool on_writer);
  // Applies one command at the group's time `now`, and before it the tick
  // that brings the engine's clock to `now`, if it is needed (added to the
  // group's journal lists).
  CommandOutcome Apply(Command& command, Micros now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(engine_mu_);
  // Applies a tick or clearing the writer issues, and adds it to the
  // group's journal lists.
  const CommandOutcome& ApplyTimeDriven(Command command)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(engine_mu_);
  // Follows the task's alert feed (if any), runs each batch's `done`, then
  // publishes.
  void Complete(ReplyTask& task);
  void ReplyLoop();
  Micros NextStamp();
  void MarkDurable(uint64_t group);
  void Publish(uint64_t last_match_id, uint64_t last_event_id,
               uint64_t last_alert_event_id);

  Engine* const engine_;
  const SequencerOptions options_;

  // Held exclusively by the applier while it applies, shared by readers.
  mutable absl::Mutex engine_mu_;
  std::atomic<Micros> last_stamp_{0};

  absl::Mutex queue_mu_;
  std::deque<std::unique_ptr<Batch>> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;
  // Someone (the writer or a caller) is applying a group.
  bool busy_ ABSL_GUARDED_BY(queue_mu_) = false;
  // The group's journal input, as the Journal takes it; used only by the
  // applier (whoever set busy_), kept to reuse its capacity. A group has
  // one time; the ticks and batch clearings that bring the engine to it
  // are kept here while the journal points at them (deques: stable).
  std::vector<const Command*> journal_commands_;
  std::vector<const CommandOutcome*> journal_outcomes_;
  std::deque<Command> time_commands_;
  std::deque<CommandOutcome> time_outcomes_;
  // Engine::NextClearingAt() after the last group: when the writer must
  // wake to issue a ClearCommand though nothing is queued.
  std::atomic<Micros> next_clearing_{0};
  std::thread writer_;

  // Committed groups for the reply thread, in apply order.
  absl::Mutex reply_mu_;
  std::deque<ReplyTask> replies_ ABSL_GUARDED_BY(reply_mu_);
  // Tasks queued or being completed; 0: the reply thread is idle.
  int reply_pending_ ABSL_GUARDED_BY(reply_mu_) = 0;
  // With follow_alerts, the applier waits while this many are pending.
  static constexpr int kMaxPendingGroups = 64;
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
    std::function<void()> finish;
  };
  absl::Mutex durable_mu_;
  std::vector<HeldRead> held_reads_ ABSL_GUARDED_BY(durable_mu_);

  // With follow_alerts: held while a feed is followed (by whoever
  // completes the group: the reply thread, or an applier completing its
  // own) and, shared, while alerts are read; taken before engine_mu_ when
  // both are held, and never while engine_mu_ is held. An applier also
  // takes it to snapshot.
  mutable absl::Mutex alerts_mu_;
  // The last group whose alert feed was followed.
  uint64_t followed_groups_ ABSL_GUARDED_BY(alerts_mu_) = 0;

  std::atomic<uint64_t> published_match_id_{0};
  std::atomic<uint64_t> published_event_id_{0};
  std::atomic<uint64_t> published_alert_event_id_{0};
};

}  // namespace duijie

#endif  // DUIJIE_API_COMMAND_SEQUENCER_H_
