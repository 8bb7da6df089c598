// WatchMatches and WatchAlerts streaming: a hub, which hands each newly
// published event to the streams that have caught up, and a reactor, one
// stream. Both are templates over the kind of event (MatchWatch: a new
// match or a status change, Engine::ListMatchEvents; AlertWatch: an alert
// raised, escalated or cleared, Engine::ListAlertEvents), so that the two
// streams resume, pace, beat and end alike; WatchHub and WatchReactor are
// the match ones, AlertWatchHub and AlertWatchReactor the alert ones.
//
// A stream first reads its history from the engine, a chunk at a time, at
// the pace its client reads. Once it has caught up it joins the hub and
// goes live: the hub's own thread reads each newly published event from
// the engine once, converts it once, and appends a shared pointer to it to
// the queue of every live stream whose filter the event passes. Publishing
// costs the writer one notification per group, whatever the number of
// streams, and a slow client costs nobody but itself: a live stream that
// still has `max_buffered` events (--watch_buffer) queued when more come is
// ended with RESOURCE_EXHAUSTED naming watch_buffer (so its queue never
// holds more than that plus one chunk of kWatchChunk), and its client
// resumes with after_event_id (the events are read back from the engine,
// so nothing is missed).
//
// A stream that asks for progress events (progress_events in either
// request) also gets a caught-up event (CAUGHT_UP, ALERT_CAUGHT_UP) as it
// goes live, and, from the hub's thread, a heartbeat (HEARTBEAT,
// ALERT_HEARTBEAT) whenever it has written nothing for the heartbeat
// interval (--watch_heartbeat).
#ifndef DUIJIE_API_WATCH_REACTOR_H_
#define DUIJIE_API_WATCH_REACTOR_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/command_sequencer.h"
#include "duijie/v1/exchange.grpc.pb.h"
#include "engine/engine.h"
#include "engine/types.h"

namespace duijie {

// What a kind of watch needs. Event: the message streamed; Reader: the
// sequencer's lock its reads hold; Filter: what a stream narrows to; kCaughtUp
// and kHeartbeat: the progress kinds; Published: events up to here are durable
// and answered; Read: the events after a cursor passing a filter, converted (as
// the engine lists them); Passes: whether an event passes a filter as the
// engine decides. StartEvent and Starts serve a stream started after an object
// id rather than an event id (WatchMatchesRequest.after_match_id): the event
// that starts it, and whether `event` is it.
struct MatchWatch {
  using Event = v1::MatchEvent;
  using Reader = CommandSequencer::Reader;
  using Filter = MatchFilter;
  static constexpr v1::MatchEventKind kCaughtUp = v1::CAUGHT_UP;
  static constexpr v1::MatchEventKind kHeartbeat = v1::HEARTBEAT;
  static uint64_t Published(const CommandSequencer& sequencer) {
    return sequencer.published_event_id();
  }
  static std::vector<std::shared_ptr<const Event>> Read(const Engine& engine,
                                                        const Filter& filter,
                                                        uint64_t after,
                                                        int limit, bool* more);
  static bool Passes(const Event& event, const Filter& filter);
  static uint64_t StartEvent(const Engine& engine, uint64_t start_match) {
    return engine.NewMatchEventId(start_match);
  }
  static bool Starts(const Event& event, uint64_t start_match) {
    // New-match events come in match id order: the first one at or past
    // start_match is the one that makes it.
    return event.kind() == v1::NEW_MATCH &&
           event.match().match_id() >= start_match;
  }
};

struct AlertWatch {
  using Event = v1::AlertEvent;
  using Reader = CommandSequencer::AlertsReader;
  using Filter = AlertFilter;
  static constexpr v1::AlertEventKind kCaughtUp = v1::ALERT_CAUGHT_UP;
  static constexpr v1::AlertEventKind kHeartbeat = v1::ALERT_HEARTBEAT;
  static uint64_t Published(const CommandSequencer& sequencer) {
    return sequencer.published_alert_event_id();
  }
  static std::vector<std::shared_ptr<const Event>> Read(const Engine& engine,
                                                        const Filter& filter,
                                                        uint64_t after,
                                                        int limit, bool* more);
  static bool Passes(const Event& event, const Filter& filter);
  // An alert stream starts after an event id only (start is always 0).
  static uint64_t StartEvent(const Engine&, uint64_t) { return 0; }
  static bool Starts(const Event&, uint64_t) { return true; }
};

template <typename Kind>
class BasicWatchReactor;

// What a stream's caller brings: a check of its key before each event
// written (an error ends the stream with it), and whatever must live as
// long as the stream (the key's stream slot).
struct WatchAccess {
  std::function<absl::Status()> still_valid;
  std::shared_ptr<void> slot;
};

template <typename Kind>
class BasicWatchHub {
 public:
  using Reactor = BasicWatchReactor<Kind>;
  using SharedEvent = std::shared_ptr<const typename Kind::Event>;

  BasicWatchHub() = default;
  // Stops the fan-out thread.
  ~BasicWatchHub();
  BasicWatchHub(const BasicWatchHub&) = delete;
  BasicWatchHub& operator=(const BasicWatchHub&) = delete;

  // Most events a live stream may have queued and not yet written. Set
  // before serving.
  void set_max_buffered(int n) { max_buffered_ = n < 1 ? 1 : n; }
  int max_buffered() const { return max_buffered_; }
  // How long a live stream that asked for progress events may write
  // nothing before it is sent a HEARTBEAT; zero or less: never. Streams are
  // looked at every quarter of it, so a heartbeat comes up to a quarter
  // late. Set before serving.
  void set_heartbeat_interval(absl::Duration interval) {
    heartbeat_ = interval;
  }

  // Events up to `last_event_id` are published: wakes the fan-out
  // thread. O(1); called by the pipeline after each group.
  void Publish(uint64_t last_event_id);

  // Makes `watcher`, which has looked at every event up to `scanned`, live
  // unless the hub is shutting down (kShutdown) or has handed out events
  // after `scanned` meanwhile (kLookAgain: read those from the engine
  // first). Starts the fan-out thread, reading through `sequencer`, on
  // first use.
  enum class Join { kJoined, kShutdown, kLookAgain };
  Join TryJoin(std::shared_ptr<Reactor> watcher, uint64_t scanned,
               const CommandSequencer* sequencer);
  // Removes `watcher` if live.
  void Leave(const Reactor* watcher);
  // Ends every stream (UNAVAILABLE, after the events published so far)
  // and refuses new ones.
  void Shutdown();

  // Streams live now (for tests and figures).
  size_t live_count() const;

 private:
  void FanOutLoop();

  int max_buffered_ = 10000;
  absl::Duration heartbeat_ = absl::Seconds(10);
  std::thread thread_;  // started by the first TryJoin, under mu_
  const CommandSequencer* sequencer_ = nullptr;

  mutable absl::Mutex mu_;
  uint64_t published_ ABSL_GUARDED_BY(mu_) = 0;  // newest publication
  // Every event up to here has been handed to the live streams.
  uint64_t fanned_ ABSL_GUARDED_BY(mu_) = 0;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t final_published_ ABSL_GUARDED_BY(mu_) = 0;  // at Shutdown
  absl::flat_hash_map<const Reactor*, std::shared_ptr<Reactor>> live_
      ABSL_GUARDED_BY(mu_);
};

// Streams the events after a cursor that pass a filter: the history first
// (pulled from the engine), then live events (pushed by the hub). Kept
// alive by self_ until OnDone, and by the hub while live.
template <typename Kind>
class BasicWatchReactor final
    : public grpc::ServerWriteReactor<typename Kind::Event> {
 public:
  using Event = typename Kind::Event;
  using Hub = BasicWatchHub<Kind>;
  using SharedEvent = typename Hub::SharedEvent;

  using Access = WatchAccess;
  // Streams the events after `after_event_id` that pass `filter` (already
  // narrowed to what the caller may see); with `after_match_id` set (then
  // after_event_id is 0; match streams only), from the event that makes
  // match after_match_id + 1 on, whenever it comes. With `progress_events`,
  // also CAUGHT_UP as it goes live and HEARTBEATs while it is idle.
  BasicWatchReactor(const CommandSequencer* sequencer, Hub* hub,
                    typename Kind::Filter filter, uint64_t after_event_id,
                    uint64_t after_match_id, bool progress_events,
                    Access access);
  ~BasicWatchReactor() override;

  // Takes the reference that keeps this alive until OnDone, and starts.
  void Start(std::shared_ptr<BasicWatchReactor> self);
  // Takes the reference that keeps this alive until OnDone, and finishes
  // with `status` without streaming anything.
  void Reject(std::shared_ptr<BasicWatchReactor> self, grpc::Status status);

  // Called by the hub's thread, in event order: queues those of `events`
  // that pass the filter and come after what this has seen. Ends the
  // stream with RESOURCE_EXHAUSTED instead when `max_buffered` are queued
  // already.
  void Deliver(const std::vector<SharedEvent>& events, int max_buffered);
  // Called by the hub at shutdown: finish with UNAVAILABLE once the queue
  // is written.
  void EndLive();
  // Called by the hub's thread, after it has handed out every event up to
  // `through`: queues a HEARTBEAT when the stream asked for progress
  // events, is live, and has written nothing since `idle_since`.
  void Heartbeat(absl::Time idle_since, uint64_t through);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  // Watch reactors alive now, of every kind, in this process (for tests: a
  // cancelled stream must free its reactor).
  static int64_t live_reactors();

 private:
  // History mode: writes the next event from the engine, or joins the hub
  // when caught up, or finishes. Requires: not writing.
  void Pump();
  // Reads the next chunk of published events after scanned_ into
  // history_.
  void Fill();
  // Whether the stream still waits for the event that makes start_match_
  // (after_match_id + 1) and `event` is not it: events before that one are
  // not sent. Clears start_match_ at that event.
  bool BeforeStart(const Event& event);
  // Live mode, under mu_: starts the next write if idle; decides to finish
  // when ended and drained. Returns what to do outside the lock.
  struct Next {
    bool write = false;
    bool finish = false;
    grpc::Status status;
  };
  Next NextLive() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Act(const Next& next);

  const CommandSequencer* const sequencer_;
  Hub* const hub_;
  const typename Kind::Filter filter_;
  const bool progress_events_;
  // The slot is released in OnDone (the hub may hold this a while after).
  Access access_;
  // OK, or why the caller's key no longer holds (access_.still_valid).
  absl::Status KeyStillValid() const {
    return access_.still_valid ? access_.still_valid() : absl::OkStatus();
  }
  std::shared_ptr<BasicWatchReactor> self_;
  // History mode, owned by whoever runs Pump.
  uint64_t scanned_;  // every event up to here has been looked at
  std::deque<SharedEvent> history_;
  // The match whose new-match event starts the stream (after_match_id + 1)
  // until that event is found; 0 then, or when the stream started after an
  // event id. Read by Pump's thread until live, then under mu_ by the
  // hub's (the join orders the two).
  uint64_t start_match_;

  absl::Mutex mu_;
  SharedEvent current_ ABSL_GUARDED_BY(mu_);  // being written
  uint64_t sent_ ABSL_GUARDED_BY(mu_);        // last event written
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // When the last write started (or the stream went live).
  absl::Time last_write_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool live_ ABSL_GUARDED_BY(mu_) = false;
  // Live mode: events queued by the hub, and the newest id queued.
  std::deque<SharedEvent> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t queued_ ABSL_GUARDED_BY(mu_) = 0;
  // Finish with end_status_ once nothing is being written.
  bool ending_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status end_status_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

// Whether `match` passes `filter` (as Engine::ListMatches decides).
bool MatchPassesFilter(const v1::Match& match, const MatchFilter& filter);

// Starts `watcher` when `status` is OK, else finishes it with `status`
// without streaming anything; returns it, for the gRPC handler to return.
template <typename Kind>
BasicWatchReactor<Kind>* StartWatch(
    std::shared_ptr<BasicWatchReactor<Kind>> watcher, grpc::Status status) {
  BasicWatchReactor<Kind>* reactor = watcher.get();
  if (status.ok()) {
    reactor->Start(std::move(watcher));
  } else {
    reactor->Reject(std::move(watcher), std::move(status));
  }
  return reactor;
}

// Defined, for these kinds only, in watch_reactor.cc.
extern template class BasicWatchHub<MatchWatch>;
extern template class BasicWatchReactor<MatchWatch>;
extern template class BasicWatchHub<AlertWatch>;
extern template class BasicWatchReactor<AlertWatch>;

using WatchHub = BasicWatchHub<MatchWatch>;
using WatchReactor = BasicWatchReactor<MatchWatch>;
using AlertWatchHub = BasicWatchHub<AlertWatch>;
using AlertWatchReactor = BasicWatchReactor<AlertWatch>;

}  // namespace duijie

#endif  // DUIJIE_API_WATCH_REACTOR_H_
