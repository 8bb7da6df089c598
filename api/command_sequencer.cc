// CommandSequencer. See command_sequencer.h.
#include "api/command_sequencer.h"

#include <pthread.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <utility>
#include <variant>

#include "absl/synchronization/notification.h"

namespace duijie {

CommandSequencer::CommandSequencer(Engine* engine, SequencerOptions options)
    : engine_(engine), options_(std::move(options)) {
  last_stamp_.store(engine_->now());
  next_clearing_.store(engine_->NextClearingAt());
  published_match_id_.store(engine_->last_match_id());
  published_event_id_.store(engine_->last_event_id());
  published_alert_event_id_.store(engine_->last_alert_event_id());
  if (options_.follow_alerts) engine_->StartAlertFeed();
  replier_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "duijie-reply");
    ReplyLoop();
  });
  writer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "duijie-writer");
    WriterLoop();
  });
}

CommandSequencer::~CommandSequencer() { Stop(); }

void CommandSequencer::Stop() {
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

Micros CommandSequencer::ReadNow() const {
  return std::max(absl::ToUnixMicros(options_.clock()),
                  last_stamp_.load(std::memory_order_acquire));
}

Micros CommandSequencer::NextStamp() {
  Micros now = absl::ToUnixMicros(options_.clock());
  Micros last = last_stamp_.load(std::memory_order_relaxed);
  if (now < last) now = last;
  last_stamp_.store(now, std::memory_order_release);
  return now;
}

void CommandSequencer::Enqueue(std::vector<Command> commands,
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

bool CommandSequencer::RunOnWriter(std::function<void()> fn) {
  auto batch = std::make_unique<Batch>();
  batch->done = [fn = std::move(fn)](Batch&) { fn(); };
  batch->on_writer = true;
  absl::MutexLock lock(&queue_mu_);
  if (stopping_) return false;
  queue_.push_back(std::move(batch));
  return true;
}

std::vector<CommandOutcome> CommandSequencer::Execute(
    std::vector<Command> commands) {
  absl::Notification notification;
  std::vector<CommandOutcome> outcomes;
  Enqueue(std::move(commands), [&](Batch& batch) {
    outcomes = std::move(batch.outcomes);
    notification.Notify();
  });
  notification.WaitForNotification();
  return outcomes;
}

void CommandSequencer::WriterLoop() {
  while (true) {
    Group group;
    {
      absl::MutexLock lock(&queue_mu_);
      // With batch clearing on, the writer also wakes for the next
      // clearing: when another applier changes when it falls due, at its
      // time, or every second to look at the clock again (which tests may
      // drive).
      const bool timed = options_.clear_when_idle;
      const Micros due = next_clearing_.load(std::memory_order_relaxed);
      auto ready = [this, timed,
                    due]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
        return !busy_ && (!queue_.empty() || stopping_ ||
                          (timed && next_clearing_.load(
                                        std::memory_order_relaxed) != due));
      };
      if (!timed || due == std::numeric_limits<Micros>::max()) {
        queue_mu_.Await(absl::Condition(&ready));
      } else {
        const Micros wait = std::clamp<Micros>(
            due - absl::ToUnixMicros(options_.clock()), 1000, 1000000);
        queue_mu_.AwaitWithTimeout(absl::Condition(&ready),
                                   absl::Microseconds(wait));
      }
      if (busy_) continue;
      if (queue_.empty() && !stopping_) {
        const Micros next = next_clearing_.load(std::memory_order_relaxed);
        if (!timed || next == std::numeric_limits<Micros>::max() ||
            absl::ToUnixMicros(options_.clock()) < next) {
          continue;
        }
        // A clearing is due and nothing is queued to bring it on.
        auto batch = std::make_unique<Batch>();
        batch->commands.push_back(MakeCommand(ClearCommand{}));
        batch->done = [](Batch&) {};
        queue_.push_back(std::move(batch));
      }
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

CommandOutcome CommandSequencer::Apply(Command& command, Micros now) {
  ResolveExpiry(command, now);
  if (now > engine_->now()) {
    // A command the engine would refuse is refused before the clock moves:
    // it changes nothing and costs no journal record. (Once the group's
    // tick is in, Apply itself refuses without changing anything, so only
    // the command before the tick is validated twice.) When the tick may
    // reopen or refill pledges (a deadline passed, a standing pledge's
    // period started), Validate cannot foresee it: the tick goes first.
    if (!engine_->TickMayReopen(now)) {
      if (absl::Status valid = engine_->Validate(command, now); !valid.ok()) {
        return valid;
      }
    }
    // Batch clearings that fell due run at their own times, each after a
    // tick to it, whether or not the timer woke for them: a tick straight
    // to `now` would retire orders held for a clearing before it. Then the
    // tick to `now`. (A ClearCommand from the timer then finds nothing due
    // and is refused, unjournaled.)
    while (engine_->NextClearingAt() <= now) {
      const Micros due = std::max(engine_->NextClearingAt(), engine_->now());
      if (due > engine_->now())
        ApplyTimeDriven(MakeCommand(TickCommand{}, due));
      if (!ApplyTimeDriven(MakeCommand(ClearCommand{}, due)).ok()) break;
    }
    if (now > engine_->now()) ApplyTimeDriven(MakeCommand(TickCommand{}, now));
  }
  return engine_->Apply(command);
}

const CommandOutcome& CommandSequencer::ApplyTimeDriven(Command command) {
  time_commands_.push_back(std::move(command));
  time_outcomes_.push_back(engine_->Apply(time_commands_.back()));
  journal_commands_.push_back(&time_commands_.back());
  journal_outcomes_.push_back(&time_outcomes_.back());
  return time_outcomes_.back();
}

void CommandSequencer::RunGroup(Group& group, bool on_writer) {
  // Apply.
  journal_commands_.clear();
  journal_outcomes_.clear();
  time_commands_.clear();
  time_outcomes_.clear();
  uint64_t last_match_id;
  uint64_t last_event_id;
  uint64_t last_alert_event_id = 0;  // following: known once followed
  uint64_t applied;
  std::unique_ptr<AlertFeed> feed;
  {
    absl::WriterMutexLock lock(&engine_mu_);
    // One time for the whole group: at most one tick per group, however
    // many commands it holds.
    const Micros now = NextStamp();
    for (auto& batch : group) {
      // Reserved, so that the pointers the journal list takes stay valid.
      batch->outcomes.reserve(batch->commands.size());
      for (Command& command : batch->commands) {
        batch->outcomes.push_back(Apply(command, now));
        journal_commands_.push_back(&command);
        journal_outcomes_.push_back(&batch->outcomes.back());
      }
    }
    last_match_id = engine_->last_match_id();
    last_event_id = engine_->last_event_id();
    if (options_.follow_alerts) {
      feed = std::make_unique<AlertFeed>();
      engine_->TakeAlertFeed(feed.get());
    } else {
      last_alert_event_id = engine_->last_alert_event_id();
    }
    next_clearing_.store(engine_->NextClearingAt(), std::memory_order_relaxed);
    applied = applied_groups_.load(std::memory_order_relaxed) + 1;
    applied_groups_.store(applied, std::memory_order_relaxed);
  }

  // Make durable: one append and one sync for the whole group.
  if (options_.journal != nullptr) {
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
  ReplyTask task{std::move(group),    last_match_id,   last_event_id,
                 last_alert_event_id, std::move(feed), applied};
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
      if (options_.follow_alerts) {
        // Following a group's alerts can take longer than applying it (a
        // thresholds change judges the whole book again): past a bound the
        // applier waits, so that replies and feeds do not pile up.
        auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(reply_mu_) {
          return reply_pending_ < kMaxPendingGroups;
        };
        reply_mu_.Await(absl::Condition(&room));
      }
      ++reply_pending_;
      replies_.push_back(std::move(task));
    }
  }
  if (here) Complete(task);
  if (options_.journal == nullptr) return;
  if (!options_.follow_alerts) {
    options_.journal->AfterGroup();
  } else if (options_.journal->SnapshotDue()) {
    // A snapshot reads the alerts too: once they are followed up to this
    // group, and with no feed being followed while it is taken.
    auto followed = [this, applied]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                        alerts_mu_) { return followed_groups_ >= applied; };
    absl::MutexLock lock(&alerts_mu_, absl::Condition(&followed));
    options_.journal->AfterGroup();
  }
}

void CommandSequencer::Complete(ReplyTask& task) {
  if (task.feed != nullptr) {
    absl::MutexLock lock(&alerts_mu_);
    engine_->FollowAlerts(task.feed.get());
    task.last_alert_event_id = engine_->last_alert_event_id();
    followed_groups_ = task.applied;
  }
  for (auto& batch : task.group) batch->done(*batch);
  Publish(task.last_match_id, task.last_event_id, task.last_alert_event_id);
}

void CommandSequencer::ReplyLoop() {
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
    Complete(task);
    task.group.clear();  // free the batches before reporting idle
    task.feed.reset();
    absl::MutexLock lock(&reply_mu_);
    --reply_pending_;
  }
}

CommandSequencer::Reader::Reader(const CommandSequencer* sequencer)
    : lock_(&sequencer->engine_mu_),
      engine_(*sequencer->engine_),
      // Written under engine_mu_ held exclusively, so stable while shared.
      seen_(sequencer->applied_groups_.load(std::memory_order_relaxed)) {}

CommandSequencer::AlertsReader::AlertsReader(const CommandSequencer* sequencer)
    : alerts_mu_(sequencer->alerts_mu_),
      engine_mu_(sequencer->engine_mu_),
      engine_(*sequencer->engine_) {
  // Shared: reads of the alerts are const, so they go together, and only
  // following (exclusive) waits for them.
  alerts_mu_.ReaderLock();
  engine_mu_.ReaderLock();
  seen_ = sequencer->options_.follow_alerts
              ? sequencer->followed_groups_
              : sequencer->applied_groups_.load(std::memory_order_relaxed);
}

CommandSequencer::AlertsReader::~AlertsReader() {
  engine_mu_.ReaderUnlock();
  alerts_mu_.ReaderUnlock();
}

void CommandSequencer::WhenDurable(uint64_t seen,
                                   std::function<void()> finish) {
  if (durable_groups_.load(std::memory_order_acquire) < seen) {
    absl::MutexLock lock(&durable_mu_);
    if (durable_groups_.load(std::memory_order_relaxed) < seen) {
      held_reads_.push_back(HeldRead{seen, std::move(finish)});
      return;
    }
  }
  finish();
}

void CommandSequencer::MarkDurable(uint64_t group) {
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
  for (HeldRead& read : released) read.finish();
}

void CommandSequencer::Publish(uint64_t last_match_id, uint64_t last_event_id,
                               uint64_t last_alert_event_id) {
  if (last_alert_event_id >
      published_alert_event_id_.load(std::memory_order_relaxed)) {
    published_alert_event_id_.store(last_alert_event_id,
                                    std::memory_order_release);
    if (options_.on_alerts_published) {
      options_.on_alerts_published(last_alert_event_id);
    }
  }
  // Every new match is an event: a group with no new event has no new
  // match either.
  if (last_event_id <= published_event_id_.load(std::memory_order_relaxed)) {
    return;
  }
  published_match_id_.store(last_match_id, std::memory_order_release);
  published_event_id_.store(last_event_id, std::memory_order_release);
  if (options_.on_published)
    options_.on_published(last_match_id, last_event_id);
}

}  // namespace duijie
