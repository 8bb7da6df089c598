// Rate-limited logging. See log_limit.h.
#include "api/log_limit.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/stubs/logging.h"
#include "grpc/support/log.h"

namespace duijie {

bool LogRateLimiter::Admit(absl::string_view site, absl::Time now,
                           uint64_t* suppressed) {
  absl::MutexLock lock(&mu_);
  auto [it, fresh] = sites_.try_emplace(site);
  Site& s = it->second;
  if (fresh || now - s.window_start >= window_) {
    s.window_start = now;
    s.printed = 0;
  }
  if (s.printed >= kBurst) {
    ++s.suppressed;
    return false;
  }
  ++s.printed;
  *suppressed = s.suppressed;
  s.suppressed = 0;
  return true;
}

namespace {

LogRateLimiter& Limiter() {
  static LogRateLimiter* limiter = new LogRateLimiter();
  return *limiter;
}

void Print(const char* prefix, const char* file, int line,
           absl::string_view message) {
  uint64_t suppressed = 0;
  if (!Limiter().Admit(absl::StrCat(file, ":", line), absl::Now(),
                       &suppressed)) {
    return;
  }
  std::string text = absl::StrCat(prefix, " ", file, ":", line, "] ", message);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  if (suppressed > 0) {
    absl::StrAppend(&text, " (", suppressed, " similar lines suppressed)");
  }
  text.push_back('\n');
  std::fwrite(text.data(), 1, text.size(), stderr);
}

void GrpcLog(gpr_log_func_args* args) {
  Print(absl::StrCat("grpc ", gpr_log_severity_string(args->severity), " ",
                     absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(),
                                      absl::UTCTimeZone()))
            .c_str(),
        args->file, args->line, args->message);
}

void ProtobufLog(google::protobuf::LogLevel level, const char* file, int line,
                 const std::string& message) {
  static const char* const kLevels[] = {"INFO", "WARNING", "ERROR", "FATAL"};
  const int l = static_cast<int>(level);
  Print(
      absl::StrCat("[libprotobuf ", l >= 0 && l < 4 ? kLevels[l] : "?").c_str(),
      file, line, message);
}

}  // namespace

void InstallRateLimitedLogging() {
  gpr_set_log_function(GrpcLog);
  google::protobuf::SetLogHandler(ProtobufLog);
}

}  // namespace duijie
