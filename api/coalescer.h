// Coalescer: at most one run of an expensive job (a state hash, a
// snapshot) at a time, shared by the callers that ask meanwhile.
//
// A request that arrives while a run is in flight does not start another
// and does not take the in-flight run's result either (that run may have
// started before the caller's own earlier writes were applied): it waits
// for the next run, which starts when the current one ends and answers
// every request that queued for it. However many callers loop on the job,
// it runs back to back at most, one run at a time.
#ifndef DUIJIE_API_COALESCER_H_
#define DUIJIE_API_COALESCER_H_

#include <functional>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace duijie {

template <typename Result>
class Coalescer {
 public:
  using Reply = std::function<void(const Result&)>;
  using Finish = std::function<void(Result)>;
  // `start(finish)` begins one run; the run calls `finish` exactly once
  // with its result, from any thread (also from within `start`).
  explicit Coalescer(std::function<void(Finish)> start)
      : start_(std::move(start)) {}

  Coalescer(const Coalescer&) = delete;
  Coalescer& operator=(const Coalescer&) = delete;

  // Answers `reply` with the result of the next run to start.
  void Request(Reply reply) {
    {
      absl::MutexLock lock(&mu_);
      if (running_) {
        next_.push_back(std::move(reply));
        return;
      }
      running_ = true;
      current_.push_back(std::move(reply));
    }
    Run();
  }

  // Runs started so far (for tests and figures).
  int runs() const {
    absl::MutexLock lock(&mu_);
    return runs_;
  }

 private:
  void Run() {
    {
      absl::MutexLock lock(&mu_);
      ++runs_;
    }
    start_([this](Result result) { Done(std::move(result)); });
  }

  void Done(Result result) {
    std::vector<Reply> replies;
    bool again = false;
    {
      absl::MutexLock lock(&mu_);
      replies.swap(current_);
      if (!next_.empty()) {
        current_.swap(next_);
        again = true;
      } else {
        running_ = false;
      }
    }
    for (const Reply& reply : replies) reply(result);
    if (again) Run();
  }

  const std::function<void(Finish)> start_;
  mutable absl::Mutex mu_;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<Reply> current_ ABSL_GUARDED_BY(mu_);  // the run in flight's
  std::vector<Reply> next_ ABSL_GUARDED_BY(mu_);     // the next run's
  int runs_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace duijie

#endif  // DUIJIE_API_COALESCER_H_
