// WatchHub and WatchReactor. See watch_reactor.h.
#include "api/watch_reactor.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/convert.h"
#include "engine/codes.h"

namespace duijie {
namespace {

// Events read from the engine per lock: by a stream reading its history,
// and by the hub handing out new ones.
constexpr int kWatchChunk = 256;

std::atomic<int64_t> g_live_reactors{0};

// `views` converted, each once, to be shared by every stream it goes to.
template <typename Event, typename View>
std::vector<std::shared_ptr<const Event>> ToShared(
    const std::vector<View>& views) {
  std::vector<std::shared_ptr<const Event>> events;
  events.reserve(views.size());
  for (const View& view : views) {
    auto event = std::make_shared<Event>();
    ToProto(view, event.get());
    events.push_back(std::move(event));
  }
  return events;
}

}  // namespace

bool MatchPassesFilter(const v1::Match& match, const MatchFilter& filter) {
  if (filter.offer_id != 0 && match.offer_id() != filter.offer_id) {
    return false;
  }
  if (filter.pledge_id != 0 && match.pledge_id() != filter.pledge_id) {
    return false;
  }
  if (!filter.supplier_id.empty() &&
      match.supplier_id() != filter.supplier_id) {
    return false;
  }
  if (!filter.BuyerPasses(match.buyer_id(), match.member_buyer_id())) {
    return false;
  }
  if (!filter.Shows(match.supplier_id(), match.buyer_id(),
                    match.member_buyer_id())) {
    return false;
  }
  return absl::StartsWith(match.region_code(), filter.region_code_prefix);
}

std::vector<std::shared_ptr<const v1::MatchEvent>> MatchWatch::Read(
    const Engine& engine, const MatchFilter& filter, uint64_t after, int limit,
    bool* more) {
  return ToShared<v1::MatchEvent>(
      engine.ListMatchEvents(filter, after, limit, more));
}

bool MatchWatch::Passes(const v1::MatchEvent& event,
                        const MatchFilter& filter) {
  return MatchPassesFilter(event.match(), filter);
}

std::vector<std::shared_ptr<const v1::AlertEvent>> AlertWatch::Read(
    const Engine& engine, const AlertFilter& filter, uint64_t after, int limit,
    bool* more) {
  return ToShared<v1::AlertEvent>(
      engine.ListAlertEvents(filter, after, limit, more));
}

bool AlertWatch::Passes(const v1::AlertEvent& event,
                        const AlertFilter& filter) {
  // As Engine::ListAlertEvents decides: whole product segments, region
  // digits.
  return ProductCovers(filter.product_code_prefix,
                       event.alert().product_code()) &&
         absl::StartsWith(event.alert().region_code(),
                          filter.region_code_prefix);
}

// --- The hub ----------------------------------------------------------------

template <typename Kind>
BasicWatchHub<Kind>::~BasicWatchHub() {
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

template <typename Kind>
void BasicWatchHub<Kind>::Publish(uint64_t last_event_id) {
  absl::MutexLock lock(&mu_);
  published_ = std::max(published_, last_event_id);
}

template <typename Kind>
typename BasicWatchHub<Kind>::Join BasicWatchHub<Kind>::TryJoin(
    std::shared_ptr<Reactor> watcher, uint64_t scanned,
    const CommandSequencer* sequencer) {
  absl::MutexLock lock(&mu_);
  // With nobody live, nobody needs what came before this stream's cursor.
  if (live_.empty()) fanned_ = std::max(fanned_, scanned);
  // Checked under mu_, where the fan-out thread moves fanned_ and takes
  // its list of live streams: an event after `scanned` is either handed out
  // already (look again) or will be handed to this stream.
  if (fanned_ > scanned) return Join::kLookAgain;
  if (shutting_down_) return Join::kShutdown;
  if (!started_) {
    started_ = true;
    sequencer_ = sequencer;
    thread_ = std::thread([this] { FanOutLoop(); });
  }
  const Reactor* key = watcher.get();
  live_.emplace(key, std::move(watcher));
  return Join::kJoined;
}

template <typename Kind>
void BasicWatchHub<Kind>::Leave(const Reactor* watcher) {
  std::shared_ptr<Reactor> last;  // released after mu_
  absl::MutexLock lock(&mu_);
  auto it = live_.find(watcher);
  if (it == live_.end()) return;
  last = std::move(it->second);
  live_.erase(it);
}

template <typename Kind>
void BasicWatchHub<Kind>::Shutdown() {
  absl::MutexLock lock(&mu_);
  if (!shutting_down_) final_published_ = published_;
  shutting_down_ = true;
}

template <typename Kind>
size_t BasicWatchHub<Kind>::live_count() const {
  absl::MutexLock lock(&mu_);
  return live_.size();
}

template <typename Kind>
void BasicWatchHub<Kind>::FanOutLoop() {
  std::vector<SharedEvent> chunk;
  std::vector<std::shared_ptr<Reactor>> watchers;
  const bool beats = heartbeat_ > absl::ZeroDuration();
  // Streams are looked at for heartbeats this often.
  const absl::Duration beat_period =
      beats ? std::max(heartbeat_ / 4, absl::Milliseconds(1))
            : absl::InfiniteDuration();
  absl::Time next_beat = absl::Now() + beat_period;
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return shutting_down_ || published_ > fanned_;
  };
  while (true) {
    uint64_t from = 0, to = 0;
    uint64_t beat_through = 0;
    bool beat_due = false;
    {
      absl::MutexLock lock(&mu_);
      if (beats) {
        mu_.AwaitWithDeadline(absl::Condition(&ready), next_beat);
      } else {
        mu_.Await(absl::Condition(&ready));
      }
      beat_due = beats && absl::Now() >= next_beat;
      if (beat_due && !shutting_down_) {
        // Every event up to fanned_ has been handed to these streams (this
        // thread hands them out).
        beat_through = fanned_;
        for (auto& [key, watcher] : live_) watchers.push_back(watcher);
      }
    }
    if (beat_due) {
      const absl::Time now = absl::Now();
      for (const auto& watcher : watchers) {
        watcher->Heartbeat(now - heartbeat_, beat_through);
      }
      watchers.clear();
      next_beat = now + beat_period;
    }
    {
      absl::MutexLock lock(&mu_);
      if (!ready()) continue;
      if (live_.empty()) {
        fanned_ = std::max(fanned_, published_);
        if (shutting_down_) return;
        continue;
      }
      // Shutting down, the streams get what was published until then (the
      // writer may go on a little, and must not keep them open).
      const uint64_t target =
          shutting_down_ ? std::min(published_, final_published_) : published_;
      if (target <= fanned_) {
        // Shutting down, and every live stream has had every event.
        watchers.clear();
        for (auto& [key, watcher] : live_) watchers.push_back(watcher);
        live_.clear();
        break;
      }
      from = fanned_;
      to = target;
    }
    chunk.clear();
    uint64_t last = to;
    {
      typename Kind::Reader reader(sequencer_);
      bool more = false;
      for (SharedEvent& event :
           Kind::Read(reader.engine(), typename Kind::Filter(), from,
                      kWatchChunk, &more)) {
        if (event->event_id() > to) break;
        chunk.push_back(std::move(event));
      }
      if (more && !chunk.empty() && chunk.back()->event_id() < to) {
        last = chunk.back()->event_id();
      }
    }
    watchers.clear();
    {
      absl::MutexLock lock(&mu_);
      fanned_ = std::max(fanned_, last);
      for (auto& [key, watcher] : live_) watchers.push_back(watcher);
    }
    for (const auto& watcher : watchers) {
      watcher->Deliver(chunk, max_buffered_);
    }
    // Not held across the wait: a stream that ends meanwhile must be freed
    // when it is done, not at the next event.
    watchers.clear();
  }
  for (const auto& watcher : watchers) watcher->EndLive();
}

// --- The reactor ------------------------------------------------------------

template <typename Kind>
BasicWatchReactor<Kind>::BasicWatchReactor(const CommandSequencer* sequencer,
                                           Hub* hub,
                                           typename Kind::Filter filter,
                                           uint64_t after_event_id,
                                           uint64_t after_match_id,
                                           bool progress_events, Access access)
    : sequencer_(sequencer),
      hub_(hub),
      filter_(std::move(filter)),
      progress_events_(progress_events),
      access_(std::move(access)),
      scanned_(after_event_id),
      start_match_(after_match_id > 0 ? after_match_id + 1 : 0),
      sent_(after_event_id) {
  g_live_reactors.fetch_add(1, std::memory_order_relaxed);
}

template <typename Kind>
BasicWatchReactor<Kind>::~BasicWatchReactor() {
  g_live_reactors.fetch_sub(1, std::memory_order_relaxed);
}

template <typename Kind>
int64_t BasicWatchReactor<Kind>::live_reactors() {
  return g_live_reactors.load(std::memory_order_relaxed);
}

template <typename Kind>
void BasicWatchReactor<Kind>::Start(std::shared_ptr<BasicWatchReactor> self) {
  self_ = std::move(self);
  Pump();
}

template <typename Kind>
void BasicWatchReactor<Kind>::Reject(std::shared_ptr<BasicWatchReactor> self,
                                     grpc::Status status) {
  self_ = std::move(self);
  {
    absl::MutexLock lock(&mu_);
    finished_ = true;
  }
  this->Finish(std::move(status));
}

template <typename Kind>
bool BasicWatchReactor<Kind>::BeforeStart(const Event& event) {
  if (start_match_ == 0) return false;
  if (!Kind::Starts(event, start_match_)) return true;
  start_match_ = 0;
  return false;
}

template <typename Kind>
void BasicWatchReactor<Kind>::Deliver(const std::vector<SharedEvent>& events,
                                      int max_buffered) {
  Next next;
  {
    absl::MutexLock lock(&mu_);
    if (finished_ || ending_ || cancelled_ || !live_) return;
    // Checked before adding: a stream whose client keeps up takes every
    // chunk (at most kWatchChunk events), however large the group.
    if (queue_.size() >= static_cast<size_t>(max_buffered)) {
      // The client reads slower than events come: end the stream rather
      // than buffer without bound; the client resumes from what it got.
      queue_.clear();
      ending_ = true;
      end_status_ = grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat("watch_buffer: the stream fell more than ", max_buffered,
                       " events behind; resume with after_event_id set to "
                       "the last event received (",
                       sent_, " or later)"));
      hub_->Leave(this);
    } else {
      for (const SharedEvent& event : events) {
        if (event->event_id() <= queued_ || BeforeStart(*event) ||
            !Kind::Passes(*event, filter_)) {
          continue;
        }
        queue_.push_back(event);
        queued_ = event->event_id();
      }
    }
    next = NextLive();
  }
  Act(next);
}

template <typename Kind>
void BasicWatchReactor<Kind>::EndLive() {
  Next next;
  {
    absl::MutexLock lock(&mu_);
    if (finished_ || ending_) return;
    ending_ = true;
    end_status_ =
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down");
    next = NextLive();
  }
  Act(next);
}

template <typename Kind>
void BasicWatchReactor<Kind>::Heartbeat(absl::Time idle_since,
                                        uint64_t through) {
  if (!progress_events_) return;
  Next next;
  {
    absl::MutexLock lock(&mu_);
    if (finished_ || ending_ || cancelled_ || !live_ || writing_ ||
        !queue_.empty() || last_write_ > idle_since) {
      return;
    }
    // Everything up to `through` that passes the filter has been queued
    // (and, the queue being empty, written), and so has everything up to
    // queued_.
    auto beat = std::make_shared<Event>();
    beat->set_event_id(std::max(through, queued_));
    beat->set_kind(Kind::kHeartbeat);
    queue_.push_back(std::move(beat));
    next = NextLive();
  }
  Act(next);
}

template <typename Kind>
typename BasicWatchReactor<Kind>::Next BasicWatchReactor<Kind>::NextLive() {
  Next next;
  if (finished_ || writing_) return next;
  if (cancelled_) {
    queue_.clear();
    finished_ = next.finish = true;
    next.status = grpc::Status::CANCELLED;
  } else if (absl::Status valid = KeyStillValid();
             !queue_.empty() && !valid.ok()) {
    // The key was revoked or expired since: end at this message.
    queue_.clear();
    finished_ = next.finish = true;
    next.status = ToGrpcStatus(valid);
  } else if (!queue_.empty()) {
    current_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = next.write = true;
    last_write_ = absl::Now();
  } else if (ending_) {
    finished_ = next.finish = true;
    next.status = end_status_;
  }
  if (next.finish) hub_->Leave(this);
  return next;
}

template <typename Kind>
void BasicWatchReactor<Kind>::Act(const Next& next) {
  if (next.write) {
    this->StartWrite(current_.get());
  } else if (next.finish) {
    this->Finish(next.status);
  }
}

template <typename Kind>
void BasicWatchReactor<Kind>::OnWriteDone(bool ok) {
  Next next;
  bool pump = false;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (ok) sent_ = current_->event_id();
    current_.reset();
    if (!ok) {
      queue_.clear();
      finished_ = next.finish = true;
      next.status = grpc::Status(grpc::StatusCode::CANCELLED, "stream broken");
      hub_->Leave(this);
    } else if (live_) {
      next = NextLive();
    } else {
      pump = true;
    }
  }
  if (pump) {
    Pump();
  } else {
    Act(next);
  }
}

template <typename Kind>
void BasicWatchReactor<Kind>::OnCancel() {
  Next next;
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    // In history mode Pump or a write is under way and sees cancelled_.
    if (live_) next = NextLive();
  }
  Act(next);
}

template <typename Kind>
void BasicWatchReactor<Kind>::OnDone() {
  hub_->Leave(this);
  // The key's stream slot is free once the stream is done, whoever still
  // holds this object.
  access_.slot.reset();
  // gRPC may call OnDone on another thread than OnCancel, handing over
  // inside its core, where ThreadSanitizer cannot see it (Debian's gRPC
  // is not built with it). Taking mu_ orders every earlier callback's
  // accesses (all under mu_) before the release of this reference, so
  // the hub thread that may drop the last one is seen to delete after
  // them.
  { absl::MutexLock lock(&mu_); }
  std::shared_ptr<BasicWatchReactor> self = std::move(self_);
  // `self` may be the last reference: nothing may touch members after.
}

template <typename Kind>
void BasicWatchReactor<Kind>::Pump() {
  while (true) {
    if (history_.empty()) Fill();
    Next next;
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_) {
        finished_ = next.finish = true;
        next.status = grpc::Status::CANCELLED;
      } else if (absl::Status valid = KeyStillValid();
                 !history_.empty() && !valid.ok()) {
        // The key was revoked or expired since: end at this message.
        finished_ = next.finish = true;
        next.status = ToGrpcStatus(valid);
      } else if (!history_.empty()) {
        current_ = std::move(history_.front());
        history_.pop_front();
        writing_ = next.write = true;
      } else {
        switch (hub_->TryJoin(self_, scanned_, sequencer_)) {
          case Hub::Join::kShutdown:
            finished_ = next.finish = true;
            next.status = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                       "server shutting down");
            break;
          case Hub::Join::kLookAgain:
            continue;  // handed out while we looked: read those first
          case Hub::Join::kJoined:
            // The hub delivers from here on.
            live_ = true;
            queued_ = scanned_;
            last_write_ = absl::Now();
            if (progress_events_) {
              // Every event up to scanned_ that passes the filter is sent.
              auto caught_up = std::make_shared<Event>();
              caught_up->set_event_id(scanned_);
              caught_up->set_kind(Kind::kCaughtUp);
              queue_.push_back(std::move(caught_up));
            }
            next = NextLive();
            break;
        }
      }
    }
    Act(next);
    return;
  }
}

template <typename Kind>
void BasicWatchReactor<Kind>::Fill() {
  const uint64_t published = Kind::Published(*sequencer_);
  if (scanned_ >= published) return;
  bool more = false;
  {
    typename Kind::Reader reader(sequencer_);
    if (start_match_ != 0) {
      // Started after a match id: skip to the event that made the next
      // match, or, while that is still to come, past every event so far.
      const uint64_t start = Kind::StartEvent(reader.engine(), start_match_);
      if (start == 0 || start > published) {
        scanned_ = published;
        return;
      }
      scanned_ = start - 1;
      start_match_ = 0;
    }
    for (SharedEvent& event :
         Kind::Read(reader.engine(), filter_, scanned_, kWatchChunk, &more)) {
      if (event->event_id() > published) {
        more = false;
        break;
      }
      history_.push_back(std::move(event));
    }
  }
  scanned_ =
      (more && !history_.empty()) ? history_.back()->event_id() : published;
}

template class BasicWatchHub<MatchWatch>;
template class BasicWatchReactor<MatchWatch>;
template class BasicWatchHub<AlertWatch>;
template class BasicWatchReactor<AlertWatch>;

}  // namespace duijie
