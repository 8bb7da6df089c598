// WatchHub and WatchReactor. See watch_reactor.h.
#include "api/watch_reactor.h"

#include <algorithm>
#include <utility>

#include "api/convert.h"

namespace duijie {
namespace {

// Matches a stream reads from the engine per lock.
constexpr int kWatchChunk = 256;

}  // namespace

// --- WatchHub ---------------------------------------------------------------

WatchHub::Park WatchHub::TryPark(std::shared_ptr<WatchReactor> watcher,
                                 uint64_t scanned,
                                 const CommandSequencer& sequencer) {
  absl::MutexLock lock(&mu_);
  if (shutting_down_) return Park::kShutdown;
  // Checked under mu_, which Publish's WakeAll takes after storing the new
  // id: a publication either shows here or finds this parked.
  if (sequencer.published_match_id() > scanned) return Park::kLookAgain;
  parked_.push_back(std::move(watcher));
  return Park::kParked;
}

bool WatchHub::Unpark(const WatchReactor* watcher) {
  absl::MutexLock lock(&mu_);
  auto it = std::find_if(parked_.begin(), parked_.end(),
                         [watcher](const std::shared_ptr<WatchReactor>& w) {
                           return w.get() == watcher;
                         });
  if (it == parked_.end()) return false;
  parked_.erase(it);
  return true;
}

void WatchHub::WakeAll() {
  std::vector<std::shared_ptr<WatchReactor>> woken;
  {
    absl::MutexLock lock(&mu_);
    woken.swap(parked_);
  }
  for (const auto& watcher : woken) watcher->Wake();
}

void WatchHub::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
  }
  WakeAll();
}

// --- WatchReactor
// -------------------------------------------------------------

WatchReactor::WatchReactor(const CommandSequencer* sequencer, WatchHub* hub,
                           MatchFilter filter, uint64_t after_match_id,
                           Access access)
    : sequencer_(sequencer),
      hub_(hub),
      filter_(std::move(filter)),
      access_(std::move(access)),
      scanned_(after_match_id) {}

void WatchReactor::Start(std::shared_ptr<WatchReactor> self) {
  self_ = std::move(self);
  Pump();
}

void WatchReactor::Reject(std::shared_ptr<WatchReactor> self,
                          grpc::Status status) {
  self_ = std::move(self);
  {
    absl::MutexLock lock(&mu_);
    finished_ = true;
  }
  Finish(std::move(status));
}

void WatchReactor::Wake() {
  {
    absl::MutexLock lock(&mu_);
    if (!parked_ || finished_) return;
    parked_ = false;
  }
  Pump();
}

void WatchReactor::OnWriteDone(bool ok) {
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

void WatchReactor::OnCancel() {
  bool finish = false;
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    if (parked_) {
      parked_ = false;
      hub_->Unpark(this);
      finished_ = true;
      finish = true;
    }
  }
  if (finish) Finish(grpc::Status::CANCELLED);
}

void WatchReactor::OnDone() {
  std::shared_ptr<WatchReactor> self = std::move(self_);
  // `self` may be the last reference: nothing may touch members after.
}

void WatchReactor::Pump() {
  while (true) {
    if (buffer_.empty()) Fill();
    grpc::Status status;
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_) {
        finished_ = finish = true;
        status = grpc::Status::CANCELLED;
      } else if (absl::Status valid = access_.still_valid
                                          ? access_.still_valid()
                                          : absl::OkStatus();
                 !buffer_.empty() && !valid.ok()) {
        // The key was revoked or expired since: end at this message.
        finished_ = finish = true;
        status = ToGrpcStatus(valid);
      } else if (!buffer_.empty()) {
        current_ = std::move(buffer_.front());
        buffer_.pop_front();
        writing_ = true;
      } else {
        switch (hub_->TryPark(self_, scanned_, *sequencer_)) {
          case WatchHub::Park::kShutdown:
            finished_ = finish = true;
            status = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                  "server shutting down");
            break;
          case WatchHub::Park::kLookAgain:
            continue;  // published while we looked: look again
          case WatchHub::Park::kParked:
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

void WatchReactor::Fill() {
  const uint64_t published = sequencer_->published_match_id();
  if (scanned_ >= published) return;
  bool more = false;
  {
    CommandSequencer::Reader reader(sequencer_);
    std::vector<MatchView> views =
        reader.engine().ListMatches(filter_, scanned_, kWatchChunk, &more);
    for (const MatchView& view : views) {
      if (view.match_id > published) {
        more = false;
        break;
      }
      buffer_.emplace_back();
      ToProto(view, &buffer_.back());
    }
  }
  scanned_ = (more && !buffer_.empty()) ? buffer_.back().match_id() : published;
}

}  // namespace duijie
