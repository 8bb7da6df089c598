// Rate-limited logging for the server: gRPC's and protobuf's log lines go
// through one limiter, so that a flood of bad requests (each of which may
// make a library log a line: protobuf logs one of about 235 bytes for
// every string field that is not UTF-8) cannot fill the disk behind
// stderr. Each log site (file and line) may print kBurst lines per window;
// further lines from it are counted, and the next line it prints after the
// window says "(N similar lines suppressed)".
#ifndef DUIJIE_API_LOG_LIMIT_H_
#define DUIJIE_API_LOG_LIMIT_H_

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace duijie {

class LogRateLimiter {
 public:
  static constexpr int kBurst = 10;

  explicit LogRateLimiter(absl::Duration window = absl::Minutes(1))
      : window_(window) {}

  // Whether a line from `site` at `now` may be printed. When it may,
  // *suppressed is the number of lines from `site` dropped since the last
  // one printed (0 usually). Thread-safe.
  bool Admit(absl::string_view site, absl::Time now, uint64_t* suppressed);

 private:
  struct Site {
    absl::Time window_start;
    int printed = 0;          // in this window
    uint64_t suppressed = 0;  // since the last line printed
  };
  const absl::Duration window_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Site> sites_ ABSL_GUARDED_BY(mu_);
};

// Routes gRPC's (gpr_set_log_function) and protobuf's (SetLogHandler) log
// lines through one LogRateLimiter to stderr. Call once, early in main,
// before any thread logs.
void InstallRateLimitedLogging();

}  // namespace duijie

#endif  // DUIJIE_API_LOG_LIMIT_H_
