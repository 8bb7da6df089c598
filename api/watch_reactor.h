// WatchMatches streaming: WatchHub, which hands each newly published match
// to the streams that have caught up, and WatchReactor, one stream.
//
// A stream first reads its history from the engine, a chunk at a time, at
// the pace its client reads. Once it has caught up it joins the hub and
// goes live: the hub's own thread reads each newly published match from
// the engine once, converts it once, and appends a shared pointer to it to
// the queue of every live stream whose filter it passes. Publishing costs
// the writer one notification per group, whatever the number of streams,
// and a slow client costs nobody but itself: a live stream that still has
// `max_buffered` matches (--watch_buffer) queued when more come is ended
// with RESOURCE_EXHAUSTED naming watch_buffer (so its queue never holds
// more than that plus one chunk of kWatchChunk), and its client resumes
// with after_match_id (the matches are read back from the engine, so
// nothing is missed).
#ifndef DUIJIE_API_WATCH_REACTOR_H_
#define DUIJIE_API_WATCH_REACTOR_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "api/command_sequencer.h"
#include "duijie/v1/exchange.grpc.pb.h"
#include "engine/types.h"

namespace duijie {

class WatchReactor;

using SharedMatch = std::shared_ptr<const v1::Match>;

class WatchHub {
 public:
  WatchHub() = default;
  // Stops the fan-out thread.
  ~WatchHub();
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // Most matches a live stream may have queued and not yet written. Set
  // before serving.
  void set_max_buffered(int n) { max_buffered_ = n < 1 ? 1 : n; }
  int max_buffered() const { return max_buffered_; }

  // Matches up to `last_match_id` are published: wakes the fan-out thread.
  // O(1); called by the pipeline after each group.
  void Publish(uint64_t last_match_id);

  // Makes `watcher`, which has looked at every match up to `scanned`, live
  // unless the hub is shutting down (kShutdown) or has handed out matches
  // after `scanned` meanwhile (kLookAgain: read those from the engine
  // first). Starts the fan-out thread, reading through `sequencer`, on
  // first use.
  enum class Join { kJoined, kShutdown, kLookAgain };
  Join TryJoin(std::shared_ptr<WatchReactor> watcher, uint64_t scanned,
               const CommandSequencer* sequencer);
  // Removes `watcher` if live.
  void Leave(const WatchReactor* watcher);
  // Ends every stream (UNAVAILABLE, after the matches published so far)
  // and refuses new ones.
  void Shutdown();

  // Streams live now (for tests and figures).
  size_t live_count() const;

 private:
  void FanOutLoop();

  int max_buffered_ = 10000;
  std::thread thread_;  // started by the first TryJoin, under mu_
  const CommandSequencer* sequencer_ = nullptr;

  mutable absl::Mutex mu_;
  uint64_t published_ ABSL_GUARDED_BY(mu_) = 0;  // newest publication
  // Every match up to here has been handed to the live streams.
  uint64_t fanned_ ABSL_GUARDED_BY(mu_) = 0;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t final_published_ ABSL_GUARDED_BY(mu_) = 0;  // at Shutdown
  absl::flat_hash_map<const WatchReactor*, std::shared_ptr<WatchReactor>> live_
      ABSL_GUARDED_BY(mu_);
};

// Streams the matches after a cursor that pass a filter: the history
// first (pulled from the engine), then live matches (pushed by the hub).
// Kept alive by self_ until OnDone, and by the hub while live.
class WatchReactor final : public grpc::ServerWriteReactor<v1::Match> {
 public:
  // What the stream's caller brings: a check of its key before each match
  // written (an error ends the stream with it), and whatever must live as
  // long as the stream (the key's stream slot).
  struct Access {
    std::function<absl::Status()> still_valid;
    std::shared_ptr<void> slot;
  };
  // Streams the matches after `after_match_id` that pass `filter` (already
  // narrowed to what the caller may see).
  WatchReactor(const CommandSequencer* sequencer, WatchHub* hub,
               MatchFilter filter, uint64_t after_match_id, Access access);
  ~WatchReactor() override;

  // Takes the reference that keeps this alive until OnDone, and starts.
  void Start(std::shared_ptr<WatchReactor> self);
  // Takes the reference that keeps this alive until OnDone, and finishes
  // with `status` without streaming anything.
  void Reject(std::shared_ptr<WatchReactor> self, grpc::Status status);

  // Called by the hub's thread, in match order: queues those of `matches`
  // that pass the filter and come after what this has seen. Ends the
  // stream with RESOURCE_EXHAUSTED instead when `max_buffered` are queued
  // already.
  void Deliver(const std::vector<SharedMatch>& matches, int max_buffered);
  // Called by the hub at shutdown: finish with UNAVAILABLE once the queue
  // is written.
  void EndLive();

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  // WatchReactors alive now, in this process (for tests: a cancelled
  // stream must free its reactor).
  static int64_t live_reactors();

 private:
  // History mode: writes the next match from the engine, or joins the hub
  // when caught up, or finishes. Requires: not writing.
  void Pump();
  // Reads the next chunk of published matches after scanned_ into
  // history_.
  void Fill();
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
  WatchHub* const hub_;
  const MatchFilter filter_;
  // The slot is released in OnDone (the hub may hold this a while after).
  Access access_;
  // OK, or why the caller's key no longer holds (access_.still_valid).
  absl::Status KeyStillValid() const {
    return access_.still_valid ? access_.still_valid() : absl::OkStatus();
  }
  std::shared_ptr<WatchReactor> self_;
  // History mode, owned by whoever runs Pump.
  uint64_t scanned_;  // every match up to here has been looked at
  std::deque<SharedMatch> history_;

  absl::Mutex mu_;
  SharedMatch current_ ABSL_GUARDED_BY(mu_);  // being written
  uint64_t sent_ ABSL_GUARDED_BY(mu_);        // last match written
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool live_ ABSL_GUARDED_BY(mu_) = false;
  // Live mode: matches queued by the hub, and the newest id queued.
  std::deque<SharedMatch> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t queued_ ABSL_GUARDED_BY(mu_) = 0;
  // Finish with end_status_ once nothing is being written.
  bool ending_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status end_status_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

// Whether `match` passes `filter` (as Engine::ListMatches decides).
bool MatchPassesFilter(const v1::Match& match, const MatchFilter& filter);

}  // namespace duijie

#endif  // DUIJIE_API_WATCH_REACTOR_H_
