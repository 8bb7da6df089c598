// WatchMatches streaming: WatchHub, where streams that have caught up wait
// for new matches, and WatchReactor, one stream.
#ifndef DUIJIE_API_WATCH_REACTOR_H_
#define DUIJIE_API_WATCH_REACTOR_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "api/command_sequencer.h"
#include "duijie/v1/exchange.grpc.pb.h"
#include "engine/types.h"

namespace duijie {

class WatchReactor;

// The streams parked until the next publication or shutdown.
class WatchHub {
 public:
  // Parks `watcher` unless the hub is shutting down (returns kShutdown) or
  // matches after `scanned` were published meanwhile (returns kLookAgain).
  enum class Park { kParked, kShutdown, kLookAgain };
  Park TryPark(std::shared_ptr<WatchReactor> watcher, uint64_t scanned,
               const CommandSequencer& sequencer);
  // Removes `watcher` if parked; returns whether it was.
  bool Unpark(const WatchReactor* watcher);
  // Wakes every parked stream (new matches were published).
  void WakeAll();
  // Ends every stream (UNAVAILABLE, after what is published) and refuses
  // new ones.
  void Shutdown();

 private:
  absl::Mutex mu_;
  std::vector<std::shared_ptr<WatchReactor>> parked_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
};

// Streams the matches after a cursor that pass a filter: the history first,
// then each new published match. At most one of these runs at a time:
// Pump (from Start, OnWriteDone or Wake), a write, or being parked in the
// hub waiting for Wake. mu_ guards the hand-offs between them and
// OnCancel. Kept alive by self_ until OnDone, and by the hub while parked.
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

  // Takes the reference that keeps this alive until OnDone, and starts.
  void Start(std::shared_ptr<WatchReactor> self);
  // Takes the reference that keeps this alive until OnDone, and finishes
  // with `status` without streaming anything.
  void Reject(std::shared_ptr<WatchReactor> self, grpc::Status status);
  // Called by the hub when new matches are published or the server shuts
  // down. Does nothing unless parked.
  void Wake();

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // Writes the next match, or parks when caught up, or finishes when
  // cancelled or shutting down. Requires: not writing, not parked.
  void Pump();
  // Reads the next chunk of published matches after scanned_ into buffer_.
  void Fill();

  const CommandSequencer* const sequencer_;
  WatchHub* const hub_;
  const MatchFilter filter_;
  const Access access_;
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

}  // namespace duijie

#endif  // DUIJIE_API_WATCH_REACTOR_H_
