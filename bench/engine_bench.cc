// Engine benchmarks on the standard workload.
//
// BM_GlutWeek/<book>: duijie::Engine alone. Setup (not timed): a fresh
// engine gets the workload's reference data and prefill, which brings the
// book to <book> resting orders. Timed: the measured commands, converted to
// engine Commands beforehand (by api/convert, as the server does), applied
// one after another through Engine::Apply; a write whose time is later than
// the engine's clock is preceded by a TickCommand to that time (as the
// server's writer does), and the tick is timed as part of the write. Reads
// run at the record's time. items_per_second is commands per second
// (ticks not counted). Counters:
//   p50_ns, p99_ns, p999_ns  per-command latency from a log-bucketed
//                            histogram of rdtsc deltas (6% buckets; each
//                            figure includes timer_ns of timer overhead)
//   bytes_per_order          heap bytes live after the prefill (counted by
//                            the operator new/delete below, malloc usable
//                            sizes) over resting orders, engine only
//   source_bytes_per_order   the same for the workload source (the
//                            generator's lists of live orders), left out of
//                            bytes_per_order
//   rss_per_order            resident-set growth over the prefill / orders
//                            (the whole process: engine and source)
//   resting, book_end        resting orders after prefill / after the run
//   matches_per_cmd, rejected_per_cmd, alert_events_per_cmd (raised,
//                            escalated, cleared)
// BM_ReferenceGlutWeek/<book>: the differential test's ReferenceMatcher on
// the first DUIJIE_REF_COMMANDS (default 2000) of the same commands; its
// scans make it O(book) per command, so it runs at 10k only by default.
//
// Environment:
//   DUIJIE_WORKLOADS   directory of workload files (default bench/workloads);
//                      glut-<book>-<commands>-s1.wl is replayed when present,
//                      else the generator makes the same records in memory
//   DUIJIE_BENCH_COMMANDS  measured commands (default 1000000)
//   DUIJIE_BENCH_10M=1     also register the 10M book (about 3.3 GB, minutes)
//   DUIJIE_BENCH_ALERTS=0  glut alerts off (on by default, as a server runs)
//   DUIJIE_BENCH_ALERTS=2  glut alerts followed on a second thread, as the
//                      server follows them (engine/alert_feed.h): the feed
//                      is handed over every DUIJIE_BENCH_FEED_GROUP commands
//                      (default 100, a loadgen batch), and the timed loop
//                      ends when the follower has judged the last of them
//   DUIJIE_BENCH_ALERT_MIN_GAP_KG  the alerts' min_gap_kg (default: the
//                      engine's AlertThresholds default, as the server's flag)
//   DUIJIE_REF_COMMANDS    commands for the reference (default 2000)
//   DUIJIE_REF_100K=1      also run the reference at 100k (slow prefill)
// Under callgrind (bench/instructions.sh) and perf (bench/profile.sh) only
// the timed loop is collected.
#include <malloc.h>
#include <unistd.h>
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
// Without valgrind's headers (Debian package valgrind) the benchmark still
// builds; bench/instructions.sh then needs them.
#define CALLGRIND_TOGGLE_COLLECT
#endif
#include <x86intrin.h>

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/convert.h"
#include "bench/workload.h"
#include "benchmark/benchmark.h"
#include "engine/alert_feed.h"
#include "engine/engine.h"
#include "tests/reference_matcher.h"

// --- Allocation counting ----------------------------------------------------
// Every allocation of the process goes through these; g_live_bytes is the
// sum of malloc_usable_size over live blocks (what the allocator handed out,
// without its 8-16 byte chunk headers, which rss_per_order includes).

namespace {
int64_t g_live_bytes = 0;  // single-threaded benchmark: no atomics needed

void* CountedAlloc(size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  g_live_bytes += static_cast<int64_t>(malloc_usable_size(p));
  return p;
}
void* CountedAlignedAlloc(size_t n, std::align_val_t al) {
  void* p = nullptr;
  if (posix_memalign(&p, std::max(sizeof(void*), static_cast<size_t>(al)),
                     n == 0 ? 1 : n) != 0) {
    throw std::bad_alloc();
  }
  g_live_bytes += static_cast<int64_t>(malloc_usable_size(p));
  return p;
}
void CountedFree(void* p) {
  if (p == nullptr) return;
  g_live_bytes -= static_cast<int64_t>(malloc_usable_size(p));
  std::free(p);
}
}  // namespace

void* operator new(size_t n) { return CountedAlloc(n); }
void* operator new[](size_t n) { return CountedAlloc(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  try {
    return CountedAlloc(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](size_t n, const std::nothrow_t&) noexcept {
  try {
    return CountedAlloc(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new(size_t n, std::align_val_t al) {
  return CountedAlignedAlloc(n, al);
}
void* operator new[](size_t n, std::align_val_t al) {
  return CountedAlignedAlloc(n, al);
}
void operator delete(void* p) noexcept { CountedFree(p); }
void operator delete[](void* p) noexcept { CountedFree(p); }
void operator delete(void* p, size_t) noexcept { CountedFree(p); }
void operator delete[](void* p, size_t) noexcept { CountedFree(p); }
void operator delete(void* p, std::align_val_t) noexcept { CountedFree(p); }
void operator delete[](void* p, std::align_val_t) noexcept { CountedFree(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept {
  CountedFree(p);
}
void operator delete[](void* p, size_t, std::align_val_t) noexcept {
  CountedFree(p);
}

namespace duijie {
namespace bench {
namespace {

// --- Commands in engine terms -------------------------------------------

struct GetOfferRead {
  uint64_t id;
};
struct GetPledgeRead {
  uint64_t id;
};
struct GetBookRead {
  std::string prefix;
};

// One workload record: a write as the engine's Command (stamped with its
// time, expiry resolved, as the server's writer does), or a read.
struct Step {
  Micros at = 0;
  std::variant<Command, GetOfferRead, GetPledgeRead, GetBookRead> body;
};

// Converts one record; exits on a record the API would refuse (a broken
// workload is not a benchmark).
Step Convert(const WorkloadRecord& r) {
  Step c;
  c.at = r.at_micros();
  absl::StatusOr<Command> write = absl::InternalError("no command");
  switch (r.command_case()) {
    case WorkloadRecord::kUpsertRegion:
      write = ToCommand(r.upsert_region());
      break;
    case WorkloadRecord::kUpsertPairing:
      write = ToCommand(r.upsert_pairing());
      break;
    case WorkloadRecord::kPostOffer:
      write = ToCommand(r.post_offer());
      break;
    case WorkloadRecord::kPostPledge:
      write = ToCommand(r.post_pledge());
      break;
    case WorkloadRecord::kCancelOffer:
      write = ToCommand(r.cancel_offer());
      break;
    case WorkloadRecord::kCancelPledge:
      write = ToCommand(r.cancel_pledge());
      break;
    case WorkloadRecord::kGetOffer:
      c.body = GetOfferRead{r.get_offer().id()};
      return c;
    case WorkloadRecord::kGetPledge:
      c.body = GetPledgeRead{r.get_pledge().id()};
      return c;
    case WorkloadRecord::kGetBook:
      c.body = GetBookRead{r.get_book().product_code_prefix()};
      return c;
    case WorkloadRecord::COMMAND_NOT_SET:
      break;
  }
  if (!write.ok()) {
    std::fprintf(stderr, "workload record refused: %s\n",
                 write.status().ToString().c_str());
    std::exit(1);
  }
  ResolveExpiry(*write, c.at);  // command.now = at; expires_in made absolute
  // The workload ships nothing: with the default week to ship, every match
  // of its first days would lapse and hand its kg back to the pledges,
  // which no real week does. Its offers give the longest time allowed, so
  // the outcomes are those of a week without lapses while every match
  // still carries (and queues) its ship_by.
  if (auto* offer = std::get_if<PostOfferCommand>(&write->body);
      offer != nullptr && offer->offer.ship_within == 0) {
    offer->offer.ship_within = kMaxDeadlineWithin;
  }
  c.body = *std::move(write);
  return c;
}

template <typename M, typename = void>
struct HasGetBook : std::false_type {};
template <typename M>
struct HasGetBook<M, std::void_t<decltype(std::declval<const M&>().GetBook(
                         std::string_view(), Micros{0}))>> : std::true_type {};

struct Outcome {
  bool ok = true;
  size_t matches = 0;
};

// With DUIJIE_BENCH_DIGEST=1, a hash of every command's outcome (status
// code, order state, fills), to show that an engine change keeps behaviour
// identical on the whole workload. Off in timed runs. Ticks are not part
// of it: a write's outcome is its own answer.
const bool g_digest_on = std::getenv("DUIJIE_BENCH_DIGEST") != nullptr;
uint64_t g_outcome_digest = 0xcbf29ce484222325ull;

void MixInto(uint64_t& digest, uint64_t v) {
  digest ^= v;
  digest *= 0x100000001b3ull;
  digest ^= digest >> 29;
}
void Mix(uint64_t v) { MixInto(g_outcome_digest, v); }

// What an answer adds to the digest after its status code. Region,
// pairing and key answers (and ticks, never digested) add nothing.
template <typename R>
void DigestBody(const R& r) {
  if constexpr (std::is_same_v<R, OfferResult> ||
                std::is_same_v<R, PledgeResult>) {
    for (const MatchView& m : r.matches) {
      Mix(m.match_id), Mix(m.offer_id), Mix(m.pledge_id);
      Mix(m.quantity_kg), Mix(m.price_fen_per_kg), Mix(m.partner);
    }
    Mix(r.unfilled_kg);
    Mix(static_cast<uint64_t>(absl::StatusCode::kOk));  // the view's, as read
    if constexpr (std::is_same_v<R, OfferResult>) {
      DigestBody(r.offer);
    } else {
      DigestBody(r.pledge);
    }
  } else if constexpr (std::is_same_v<R, OfferView>) {
    Mix(r.offer_id), Mix(r.remaining_kg), Mix(static_cast<int>(r.status));
  } else if constexpr (std::is_same_v<R, PledgeView>) {
    Mix(r.pledge_id), Mix(r.remaining_kg), Mix(r.spent_fen);
    Mix(static_cast<int>(r.status));
  } else if constexpr (std::is_same_v<R, CommandResult>) {
    std::visit([](const auto& typed) { DigestBody(typed); }, r);
  }
}

template <typename R>
void DigestResult(const absl::StatusOr<R>& r) {
  Mix(static_cast<uint64_t>(r.status().code()));
  if (r.ok()) DigestBody(*r);
}

// With the digest on, a hash of every figure of the alert events the
// measured commands made, so that a change to the alert bookkeeping shows
// that it raises, escalates and clears exactly as before.
uint64_t g_alert_digest = 0;

uint64_t AlertDigest(const Engine& m, uint64_t after_event_id) {
  uint64_t digest = 0xcbf29ce484222325ull;
  auto mix = [&](uint64_t v) { MixInto(digest, v); };
  auto mix_text = [&](const std::string& text) {
    for (unsigned char c : text) mix(c);
    mix(text.size());
  };
  bool more = true;
  while (more) {
    const std::vector<AlertEventView> events =
        m.ListAlertEvents(AlertFilter{}, after_event_id, 1000, &more);
    if (events.empty()) break;
    for (const AlertEventView& e : events) {
      const AlertView& a = e.alert;
      mix(e.event_id), mix(static_cast<uint64_t>(e.kind)), mix(a.alert_id);
      mix_text(a.product_code), mix_text(a.region_code);
      mix(static_cast<uint64_t>(a.level)), mix(a.at_risk_kg);
      mix(a.demand_kg), mix(a.households), mix(a.open_offer_kg);
      mix(a.raised_at), mix(a.updated_at), mix(a.cleared_at);
    }
    after_event_id = events.back().event_id;
  }
  return digest;
}

// The outcome of a write, whatever answered it (the engine's
// CommandResult or the reference's typed result).
template <typename R>
void Record(const absl::StatusOr<R>& r, Outcome* out) {
  benchmark::DoNotOptimize(r);
  if (g_digest_on) DigestResult(r);
  out->ok = r.ok();
  if (!r.ok()) return;
  if constexpr (std::is_same_v<R, CommandResult>) {
    if (const auto* o = std::get_if<OfferResult>(&*r)) {
      out->matches = o->matches.size();
    } else if (const auto* p = std::get_if<PledgeResult>(&*r)) {
      out->matches = p->matches.size();
    }
  } else if constexpr (std::is_same_v<R, OfferResult> ||
                       std::is_same_v<R, PledgeResult>) {
    out->matches = r->matches.size();
  }
}

// A write to the engine, as the server's writer applies it: a tick first
// when the command's time is later than the engine's clock, then the
// command at that clock. Both are timed.
void Write(Engine& e, const Command& command, Outcome* out) {
  if (command.now > e.now()) {
    absl::StatusOr<CommandResult> tick =
        e.Apply(MakeCommand(TickCommand{}, command.now));
    benchmark::DoNotOptimize(tick);
  }
  Record(e.Apply(command), out);
}

// The same write to the reference matcher, which takes the command's body
// unpacked and moves its own clock first.
void Write(ReferenceMatcher& m, const Command& command, Outcome* out) {
  const ReferenceContext ctx{command.now, command.request_id,
                             command.fingerprint};
  std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, TickCommand>) {
          m.AdvanceClock(command.now);
        } else if constexpr (std::is_same_v<T, UpsertRegionCommand>) {
          Record(m.UpsertRegion(ctx, b.region), out);
        } else if constexpr (std::is_same_v<T, UpsertPairingCommand>) {
          Record(m.UpsertPairing(ctx, b.pairing), out);
        } else if constexpr (std::is_same_v<T, DeletePairingCommand>) {
          Record(m.DeletePairing(ctx, b.east_code, b.west_code), out);
        } else if constexpr (std::is_same_v<T, PostOfferCommand>) {
          Record(m.PostOffer(ctx, b.offer), out);
        } else if constexpr (std::is_same_v<T, PostPledgeCommand>) {
          Record(m.PostPledge(ctx, b.pledge), out);
        } else if constexpr (std::is_same_v<T, CancelOfferCommand>) {
          Record(m.CancelOffer(ctx, b.offer_id), out);
        } else if constexpr (std::is_same_v<T, CancelPledgeCommand>) {
          Record(m.CancelPledge(ctx, b.pledge_id), out);
        } else if constexpr (std::is_same_v<T, CreateKeyCommand>) {
          Record(m.CreateKey(ctx, b.principal, b.secret_sha256, b.expires_at),
                 out);
        } else if constexpr (std::is_same_v<T, AmendOfferCommand>) {
          Record(m.AmendOffer(ctx, b.offer_id, AmendmentOf(b)), out);
        } else if constexpr (std::is_same_v<T, AmendPledgeCommand>) {
          Record(m.AmendPledge(ctx, b.pledge_id, AmendmentOf(b)), out);
        } else if constexpr (std::is_same_v<T, UpsertBuyerCommand>) {
          Record(m.UpsertBuyer(ctx, b.buyer), out);
        } else if constexpr (std::is_same_v<T, RevokeKeyCommand>) {
          Record(m.RevokeKey(ctx, b.key_id), out);
        } else if constexpr (std::is_same_v<T, ShipMatchCommand>) {
          Record(m.ShipMatch(ctx, b.match_id, b.shipped_kg, b.note), out);
        } else if constexpr (std::is_same_v<T, AcceptMatchCommand>) {
          Record(m.AcceptMatch(ctx, b.match_id, b.accepted_kg), out);
        } else if constexpr (std::is_same_v<T, SetClearingPolicyCommand>) {
          Record(m.SetClearingPolicy(ctx, b.product_prefix, b.interval), out);
        } else if constexpr (std::is_same_v<T, ClearCommand>) {
          Record(m.Clear(ctx), out);
        } else if constexpr (std::is_same_v<T, SetAlertThresholdsCommand>) {
          Record(m.SetAlertThresholds(ctx, b.thresholds), out);
        } else if constexpr (std::is_same_v<T, UpsertProductCommand>) {
          Record(m.UpsertProduct(ctx, b.product), out);
        } else {
          static_assert(std::is_same_v<T, DeclineMatchCommand>);
          Record(m.DeclineMatch(ctx, b.match_id, b.reason), out);
        }
      },
      command.body);
}

// Applies one step to an Engine or a ReferenceMatcher.
template <typename M>
Outcome Apply(M& m, const Step& c) {
  Outcome out;
  std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, Command>) {
          Write(m, b, &out);
        } else if constexpr (std::is_same_v<T, GetOfferRead>) {
          auto r = m.GetOffer(b.id, c.at);
          benchmark::DoNotOptimize(r);
          if (g_digest_on) DigestResult(r);
          out.ok = r.ok();
        } else if constexpr (std::is_same_v<T, GetPledgeRead>) {
          auto r = m.GetPledge(b.id, c.at);
          benchmark::DoNotOptimize(r);
          if (g_digest_on) DigestResult(r);
          out.ok = r.ok();
        } else if constexpr (std::is_same_v<T, GetBookRead>) {
          // The reference matcher has no GetBook; it counts as a no-op.
          if constexpr (HasGetBook<M>::value) {
            auto r = m.GetBook(b.prefix, c.at);
            benchmark::DoNotOptimize(r);
            if (g_digest_on) {
              for (const BookLine& l : r) {
                Mix(l.open_offer_kg), Mix(l.open_offer_count);
                Mix(l.open_pledge_kg), Mix(l.open_pledge_count);
                Mix(l.best_floor_price_fen_per_kg);
                Mix(l.best_max_price_fen_per_kg);
              }
            }
          }
        }
      },
      c.body);
  return out;
}

// --- Latency histogram ------------------------------------------------------
// Log-linear buckets over cycle counts: 16 per power of two (<= 6.25% wide).

class Histogram {
 public:
  void Add(uint64_t v) { ++counts_[Bucket(v)], ++total_; }
  // The upper edge of the bucket holding the q-quantile, in cycles.
  uint64_t Quantile(double q) const {
    const uint64_t rank = static_cast<uint64_t>(q * total_);
    uint64_t seen = 0;
    for (size_t b = 0; b < counts_.size(); ++b) {
      seen += counts_[b];
      if (seen > rank) return Upper(b);
    }
    return 0;
  }
  uint64_t total() const { return total_; }

 private:
  static constexpr int kSub = 4;  // 2^4 sub-buckets
  static size_t Bucket(uint64_t v) {
    if (v < (1u << kSub)) return v;
    const int e = 63 - __builtin_clzll(v);
    return (static_cast<size_t>(e - kSub + 1) << kSub) |
           ((v >> (e - kSub)) & ((1u << kSub) - 1));
  }
  static uint64_t Upper(size_t b) {
    if (b < (1u << kSub)) return b;
    const int e = static_cast<int>(b >> kSub) + kSub - 1;
    const uint64_t sub = b & ((1u << kSub) - 1);
    return ((uint64_t{1} << kSub | sub) + 1) << (e - kSub);
  }
  std::array<uint64_t, 64 << kSub> counts_{};
  uint64_t total_ = 0;
};

inline uint64_t Ticks() {
  unsigned aux;
  return __rdtscp(&aux);
}

// TSC ticks per nanosecond, measured once against steady_clock.
double TicksPerNs() {
  static const double ratio = [] {
    using Clock = std::chrono::steady_clock;
    const auto t0 = Clock::now();
    const uint64_t c0 = Ticks();
    while (Clock::now() - t0 < std::chrono::milliseconds(200)) {
    }
    const auto t1 = Clock::now();
    const uint64_t c1 = Ticks();
    return static_cast<double>(c1 - c0) /
           std::chrono::duration<double, std::nano>(t1 - t0).count();
  }();
  return ratio;
}

// The cost of an empty Ticks() pair, in ticks (minimum of many).
uint64_t TimerOverhead() {
  uint64_t best = UINT64_MAX;
  for (int i = 0; i < 10000; ++i) {
    const uint64_t a = Ticks();
    const uint64_t b = Ticks();
    best = std::min(best, b - a);
  }
  return best;
}

int64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

// Under `perf record --delay=-1 --control=fifo:FIFO` (bench/profile.sh),
// DUIJIE_PERF_CTL names FIFO and only the timed loop is sampled.
void PerfControl(const char* command) {
  static FILE* ctl = [] {
    const char* path = std::getenv("DUIJIE_PERF_CTL");
    return path == nullptr ? nullptr : std::fopen(path, "w");
  }();
  if (ctl == nullptr) return;
  std::fprintf(ctl, "%s\n", command);
  std::fflush(ctl);
}

int64_t EnvInt(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v == nullptr || *v == '\0' ? fallback : std::atoll(v);
}

// --- Workload loading -------------------------------------------------------

std::string WorkloadPath(const WorkloadOptions& o) {
  const char* dir = std::getenv("DUIJIE_WORKLOADS");
  return std::string(dir == nullptr ? "bench/workloads" : dir) + "/glut-" +
         std::to_string(o.book) + "-" + std::to_string(o.commands) + "-s" +
         std::to_string(o.seed) + ".wl";
}

// The measured commands of one workload, kept across iterations of a
// benchmark; replaced when another book size is asked for.
struct Measured {
  WorkloadOptions options;
  std::vector<Step> commands;
  bool from_file = false;
  uint64_t digest = 0;
};

struct PrefillReport {
  int64_t heap_bytes = 0;    // the engine's (or reference's) alone
  int64_t source_bytes = 0;  // the workload source's: its live-order lists
  int64_t rss_bytes = 0;     // the whole process's growth
};

// Streams the workload into `m`: applies reference data and prefill, and
// (when `measured` is not yet loaded) converts the measured commands. The
// report covers the prefill only.
template <typename M>
PrefillReport Prefill(M& m, const WorkloadOptions& options,
                      std::unique_ptr<Measured>* measured) {
  const bool load = *measured == nullptr ||
                    (*measured)->options.book != options.book ||
                    (*measured)->options.commands != options.commands;
  if (load) measured->reset();  // free the old set before measuring memory
  WorkloadSource source;
  if (absl::Status s = source.Open(WorkloadPath(options), options); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    std::exit(1);
  }
  auto fresh = std::make_unique<Measured>();
  fresh->options = options;
  fresh->from_file = source.from_file();
  fresh->commands.reserve(load ? options.commands : 0);
  WorkloadRecord record;
  WorkloadDigest digest;
  PrefillReport report;
  const int64_t heap0 = g_live_bytes;
  const int64_t rss0 = ResidentBytes();
  // What the source allocates while it makes records (the generator keeps
  // every live order it posted, to cancel some later) is not the engine's:
  // the heap counted for the engine leaves it out.
  int64_t source_bytes = 0;
  auto next = [&] {
    const int64_t before = g_live_bytes;
    const bool more = source.Next(&record);
    source_bytes += g_live_bytes - before;
    return more;
  };
  auto end_prefill = [&] {
    report.heap_bytes = g_live_bytes - heap0 - source_bytes;
    report.source_bytes = source_bytes;
    report.rss_bytes = ResidentBytes() - rss0;
  };
  bool in_prefill = true;
  while (next()) {
    if (load) digest.Add(record);
    if (record.prefill()) {
      Apply(m, Convert(record));
      continue;
    }
    if (in_prefill) {
      in_prefill = false;
      end_prefill();
      if (!load) break;
    }
    fresh->commands.push_back(Convert(record));
  }
  if (in_prefill) end_prefill();
  if (!source.status().ok()) {
    std::fprintf(stderr, "%s\n", source.status().ToString().c_str());
    std::exit(1);
  }
  if (load) {
    fresh->digest = digest.value();
    *measured = std::move(fresh);
  }
  return report;
}

int64_t RestingOrders(const Engine& e) {
  int64_t n = 0;
  for (const BookLine& line : e.GetBook("", e.now())) {
    n += line.open_offer_count + line.open_pledge_count;
  }
  return n;
}

std::unique_ptr<Measured> g_measured;

// Judges the alerts of an engine's feeds on a thread of its own
// (DUIJIE_BENCH_ALERTS=2), in the order they were handed over; spent feeds
// go back to be filled again, so their buffers are reused.
class AlertFollower {
 public:
  explicit AlertFollower(Engine* engine)
      : engine_(*engine), thread_([this] { Run(); }) {}
  ~AlertFollower() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  // Takes what the engine recorded since the last hand-over.
  void HandOver() {
    std::unique_ptr<AlertFeed> feed;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!spare_.empty()) {
        feed = std::move(spare_.back());
        spare_.pop_back();
      }
    }
    if (feed == nullptr) feed = std::make_unique<AlertFeed>();
    engine_.TakeAlertFeed(feed.get());
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(feed));
    }
    wake_.notify_all();
  }
  // Waits until every feed handed over is judged.
  void Drain() {
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait(lock, [this] { return queue_.empty() && !busy_; });
  }
  // Nanoseconds spent judging (FollowAlerts) so far. Call after Drain.
  double busy_ns() {
    std::lock_guard<std::mutex> lock(mu_);
    return busy_ns_;
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      std::unique_ptr<AlertFeed> feed = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      lock.unlock();
      const auto t0 = std::chrono::steady_clock::now();
      engine_.FollowAlerts(feed.get());
      const auto t1 = std::chrono::steady_clock::now();
      lock.lock();
      busy_ns_ += std::chrono::duration<double, std::nano>(t1 - t0).count();
      busy_ = false;
      spare_.push_back(std::move(feed));
      wake_.notify_all();
    }
  }

  Engine& engine_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::unique_ptr<AlertFeed>> queue_;
  std::vector<std::unique_ptr<AlertFeed>> spare_;
  bool busy_ = false;
  bool stop_ = false;
  double busy_ns_ = 0;
  std::thread thread_;  // last: starts once the rest is made
};

template <typename M>
void RunGlutWeek(benchmark::State& state, int64_t commands) {
  WorkloadOptions options;
  options.book = state.range(0);
  options.commands = EnvInt("DUIJIE_BENCH_COMMANDS", 1000000);
  options.seed = 1;
  commands = std::min(commands, options.commands);
  Histogram histogram;
  const uint64_t overhead = TimerOverhead();
  // Memory is taken from the first prefill of each size in the process:
  // later ones reuse freed pages, which hides their resident growth.
  static std::map<int64_t, PrefillReport> memory_by_book;
  int64_t resting = 0, book_end = 0;
  uint64_t matches = 0, rejected = 0, applied = 0;
  // Glut alert events (raised, escalated, cleared) the measured commands
  // made.
  uint64_t alert_events = 0, alert_events_before = 0;
  bool first = true;
  // DUIJIE_BENCH_ALERTS=2: the follower's time judging, and the time the
  // timed loop waited for it at the end.
  double follow_ns = 0, drain_ns = 0;
  const size_t feed_group = static_cast<size_t>(
      std::max<int64_t>(1, EnvInt("DUIJIE_BENCH_FEED_GROUP", 100)));
  for (auto _ : state) {
    state.PauseTiming();
    auto m = std::make_unique<M>();
    std::unique_ptr<AlertFollower> follower;
    const PrefillReport report = Prefill(*m, options, &g_measured);
    if constexpr (std::is_same_v<M, Engine>) {
      if (first) resting = RestingOrders(*m);
      // Glut alerts on with the server's default thresholds, as a server
      // runs (a new engine has none); DUIJIE_BENCH_ALERTS=0 leaves them
      // off. Not a measured command and not digested.
      if (EnvInt("DUIJIE_BENCH_ALERTS", 1) != 0) {
        AlertThresholds thresholds;
        thresholds.min_gap_kg =
            EnvInt("DUIJIE_BENCH_ALERT_MIN_GAP_KG", thresholds.min_gap_kg);
        m->TickAndApply(
            MakeCommand(SetAlertThresholdsCommand{thresholds}, m->now()));
      }
      alert_events_before = m->last_alert_event_id();
      if (EnvInt("DUIJIE_BENCH_ALERTS", 1) == 2) {
        m->StartAlertFeed();
        follower = std::make_unique<AlertFollower>(m.get());
      }
    }
    memory_by_book.emplace(options.book, report);
    first = false;
    const std::vector<Step>& cmds = g_measured->commands;
    const size_t n = std::min<size_t>(commands, cmds.size());
    g_outcome_digest = 0xcbf29ce484222325ull;
    state.ResumeTiming();
    CALLGRIND_TOGGLE_COLLECT;
    PerfControl("enable");
    for (size_t i = 0; i < n; ++i) {
      const uint64_t t0 = Ticks();
      const Outcome out = Apply(*m, cmds[i]);
      const uint64_t t1 = Ticks();
      histogram.Add(t1 - t0);
      matches += out.matches;
      rejected += !out.ok;
      if (follower != nullptr && (i + 1) % feed_group == 0) {
        follower->HandOver();
      }
    }
    if (follower != nullptr) {
      const auto t0 = std::chrono::steady_clock::now();
      follower->HandOver();
      follower->Drain();
      drain_ns += std::chrono::duration<double, std::nano>(
                      std::chrono::steady_clock::now() - t0)
                      .count();
      follow_ns += follower->busy_ns();
    }
    PerfControl("disable");
    CALLGRIND_TOGGLE_COLLECT;
    state.PauseTiming();
    applied += n;
    if constexpr (std::is_same_v<M, Engine>) {
      book_end = RestingOrders(*m);
      alert_events += m->last_alert_event_id() - alert_events_before;
      if (g_digest_on) g_alert_digest = AlertDigest(*m, alert_events_before);
    }
    follower.reset();
    m.reset();
    state.ResumeTiming();
  }
  const double tpn = TicksPerNs();
  state.SetItemsProcessed(static_cast<int64_t>(applied));
  state.counters["p50_ns"] = histogram.Quantile(0.50) / tpn;
  state.counters["p99_ns"] = histogram.Quantile(0.99) / tpn;
  state.counters["p999_ns"] = histogram.Quantile(0.999) / tpn;
  state.counters["timer_ns"] = overhead / tpn;
  state.counters["matches_per_cmd"] =
      applied == 0 ? 0 : static_cast<double>(matches) / applied;
  state.counters["rejected_per_cmd"] =
      applied == 0 ? 0 : static_cast<double>(rejected) / applied;
  state.counters["commands"] = static_cast<double>(applied);
  if constexpr (std::is_same_v<M, Engine>) {
    state.counters["resting"] = static_cast<double>(resting);
    state.counters["book_end"] = static_cast<double>(book_end);
    state.counters["alert_events_per_cmd"] =
        applied == 0 ? 0 : static_cast<double>(alert_events) / applied;
    if (follow_ns > 0) {
      state.counters["follow_ns_per_cmd"] = follow_ns / applied;
      state.counters["drain_ns"] = drain_ns;
    }
    const PrefillReport& memory = memory_by_book[options.book];
    if (resting > 0) {
      state.counters["bytes_per_order"] =
          static_cast<double>(memory.heap_bytes) / resting;
      state.counters["source_bytes_per_order"] =
          static_cast<double>(memory.source_bytes) / resting;
      state.counters["rss_per_order"] =
          static_cast<double>(memory.rss_bytes) / resting;
    }
  }
  char label[128];
  std::snprintf(label, sizeof(label), "%s digest %016llx",
                g_measured->from_file ? "file" : "generated",
                static_cast<unsigned long long>(g_measured->digest));
  if (g_digest_on) {
    std::snprintf(label + std::strlen(label),
                  sizeof(label) - std::strlen(label), " outcomes %016llx",
                  static_cast<unsigned long long>(g_outcome_digest));
    if (alert_events > 0) {
      std::snprintf(label + std::strlen(label),
                    sizeof(label) - std::strlen(label), " alerts %016llx",
                    static_cast<unsigned long long>(g_alert_digest));
    }
  }
  state.SetLabel(label);
}

void BM_GlutWeek(benchmark::State& state) {
  RunGlutWeek<Engine>(state, INT64_MAX);
}

void BM_ReferenceGlutWeek(benchmark::State& state) {
  RunGlutWeek<ReferenceMatcher>(state, EnvInt("DUIJIE_REF_COMMANDS", 2000));
}

// The standard workload's book of `book` orders after its prefill (seed 1),
// for the benchmarks that read a book: kept between their runs at the same
// size, as a prefill at 1M takes seconds.
Engine* PrefilledEngine(int64_t book) {
  static std::unique_ptr<Engine> engine;
  static int64_t engine_book = 0;
  if (engine == nullptr || engine_book != book) {
    WorkloadOptions options;
    options.book = book;
    options.commands = EnvInt("DUIJIE_BENCH_COMMANDS", 1000000);
    options.seed = 1;
    engine.reset();
    engine = std::make_unique<Engine>();
    Prefill(*engine, options, &g_measured);
    engine_book = book;
  }
  return engine.get();
}

// A list's total under a filter (Engine::CountOffers, what ListOffers'
// first page pays to set total_count): the book of BM_GlutWeek/<book>
// after its prefill, counted under filter range(1): 0 a category
// ("vegetable"), 1 a province (Gansu, "62"), 2 status OPEN, 3 a category,
// a province and OPEN together, 4 one supplier (its own ids only). Every
// offer ever posted is scanned (filled and expired ones too, as the list
// pages them), except under a supplier. Counters: offers (posted),
// counted, sec_per_offer (printed with an SI prefix: 5n is 5 ns).
void BM_CountOffers(benchmark::State& state) {
  Engine* engine = PrefilledEngine(state.range(0));
  OrderFilter filter;
  switch (state.range(1)) {
    case 0:
      filter.product_code_prefix = "vegetable";
      break;
    case 1:
      filter.region_code_prefix = "62";
      break;
    case 2:
      filter.status = static_cast<int>(OrderStatus::kOpen);
      break;
    case 3:
      filter.product_code_prefix = "vegetable";
      filter.region_code_prefix = "62";
      filter.status = static_cast<int>(OrderStatus::kOpen);
      break;
    default:
      filter.owner_id = "sup-00001";
      break;
  }
  uint64_t counted = 0;
  for (auto _ : state) {
    counted = engine->CountOffers(filter, engine->now());
    benchmark::DoNotOptimize(counted);
  }
  const double offers = static_cast<double>(engine->offer_count());
  state.counters["offers"] = offers;
  state.counters["counted"] = static_cast<double>(counted);
  state.counters["sec_per_offer"] =
      benchmark::Counter(offers, benchmark::Counter::kIsIterationInvariantRate |
                                     benchmark::Counter::kInvert);
}

// Explaining resting pledges (Engine::ExplainPledge), as the server does for
// every PostPledge that rests with nothing matched: the standard workload's
// book of `book` orders after its prefill, and up to 2,000 of its open
// pledges (every k-th pledge id that is open), each explained in turn. An
// explanation reads every open offer of the pledge's product subtree, so
// its cost is the size of that side of the book. Counters: explained (the
// pledges), sec_per_explanation, and digest: the low 32 bits of an FNV-1a
// hash of every explanation's figures, widenings and summary, so that two
// builds can be shown to explain alike.
void BM_ExplainPledge(benchmark::State& state) {
  Engine* engine = PrefilledEngine(state.range(0));
  const Micros now = engine->now();
  std::vector<uint64_t> ids;
  const uint64_t pledges = engine->pledge_count();
  const uint64_t stride = std::max<uint64_t>(1, pledges / 4000);
  for (uint64_t id = 1; id <= pledges && ids.size() < 2000; id += stride) {
    if (engine->ExplainPledge(id, now).ok()) ids.push_back(id);
  }
  uint64_t digest = 14695981039346656037ull;
  auto mix = [&digest](std::string_view text) {
    for (unsigned char c : text) digest = (digest ^ c) * 1099511628211ull;
  };
  for (uint64_t id : ids) {
    const Explanation e = *engine->ExplainPledge(id, now);
    mix(absl::StrCat(e.unfilled_kg, ",", e.compatible_kg, ",",
                     e.several_reasons_kg, ";", e.summary));
    for (const Blocker& b : e.blockers) {
      mix(absl::StrCat(static_cast<int>(b.reason), ",", b.kg, ",",
                       b.widening_kg, ",", b.widened_value, ";", b.widening));
    }
  }
  for (auto _ : state) {
    for (uint64_t id : ids) {
      absl::StatusOr<Explanation> e = engine->ExplainPledge(id, now);
      if (!e.ok()) {
        state.SkipWithError(std::string(e.status().message()).c_str());
        return;
      }
      benchmark::DoNotOptimize(e->compatible_kg);
    }
  }
  state.counters["explained"] = static_cast<double>(ids.size());
  state.counters["digest"] = static_cast<double>(digest & 0xffffffffu);
  state.counters["sec_per_explanation"] =
      benchmark::Counter(static_cast<double>(ids.size()),
                         benchmark::Counter::kIsIterationInvariantRate |
                             benchmark::Counter::kInvert);
}

// One batch clearing of a glutted category: `orders` resting orders of
// vegetables (half offers, half pledges, most of them able to trade with
// each other: the book has been held for clearing), with expiries spread
// over a week, cleared with a daily interval, so that the orders expiring
// within the next day (about a seventh) are urgent and bring their
// candidates. Only the ClearCommand is timed. Deterministic (seed 1).
void BM_Clearing(benchmark::State& state) {
  constexpr Micros kHour = Micros{3600} * 1000000;
  constexpr Micros kT0 = Micros{1'798'992'000} * 1000000;  // a whole day
  const int64_t orders = state.range(0);
  uint64_t matches = 0, urgent_kg = 0;
  int64_t kg = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto e = std::make_unique<Engine>();
    std::mt19937_64 rng(1);
    auto pick = [&rng](uint64_t n) { return static_cast<int64_t>(rng() % n); };
    const char* provinces[] = {"620000", "520000", "450000", "530000"};
    std::vector<std::string> counties;
    for (const char* p : provinces) {
      e->TickAndApply(MakeCommand(UpsertRegionCommand{Region{p, p}}, kT0));
      for (int pref = 1; pref <= 5; ++pref) {
        const std::string prefecture = std::string(p, 2) +
                                       (pref < 10 ? "0" : "") +
                                       std::to_string(pref) + "00";
        e->TickAndApply(MakeCommand(
            UpsertRegionCommand{Region{prefecture, prefecture}}, kT0));
        for (int c = 21; c <= 26; ++c) {
          const std::string county =
              prefecture.substr(0, 4) + std::to_string(c);
          Region r{county, county};
          r.key_assisted = c % 3 == 0;
          e->TickAndApply(MakeCommand(UpsertRegionCommand{r}, kT0));
          counties.push_back(county);
        }
      }
    }
    const char* cities[] = {"330100", "370200", "440100", "320500", "110000"};
    for (int i = 0; i < 5; ++i) {
      e->TickAndApply(
          MakeCommand(UpsertRegionCommand{Region{cities[i], cities[i]}}, kT0));
      e->TickAndApply(MakeCommand(
          UpsertPairingCommand{Pairing{cities[i], provinces[i % 4], ""}}, kT0));
    }
    e->TickAndApply(
        MakeCommand(SetClearingPolicyCommand{"vegetable", 24 * kHour}, kT0));
    const char* leaves[] = {"cabbage", "potato", "carrot", "radish", "onion",
                            "garlic",  "tomato", "pepper", "celery", "leek"};
    const Micros post_at = kT0 + kHour;
    for (int64_t i = 0; i < orders; ++i) {
      const Micros expires =
          post_at + kHour + pick(7 * 24) * kHour + pick(kHour);
      if (i % 2 == 0) {
        PostOfferCommand c;
        c.offer = {"coop" + std::to_string(pick(500)),
                   counties[pick(counties.size())],
                   std::string("vegetable.") + leaves[pick(10)],
                   static_cast<int>(1 + pick(3)),
                   500 + pick(20000),
                   150 + pick(250),
                   pick(4) * 100,
                   expires,
                   pick(2) == 0,
                   1 + pick(50)};
        e->TickAndApply(MakeCommand(c, post_at));
      } else {
        PostPledgeCommand c;
        c.pledge.buyer_id = "unit" + std::to_string(pick(500));
        c.pledge.buyer_city_code = cities[pick(5)];
        c.pledge.buyer_kind = static_cast<int>(1 + pick(5));
        c.pledge.product_code =
            pick(3) == 0 ? "vegetable"
                         : std::string("vegetable.") + leaves[pick(10)];
        c.pledge.min_grade = static_cast<int>(pick(4));
        c.pledge.quantity_kg = 1000 + pick(30000);
        c.pledge.max_price_fen_per_kg = 200 + pick(250);
        c.pledge.min_lot_kg = pick(3) * 200;
        c.pledge.expires_at = expires;
        e->TickAndApply(MakeCommand(c, post_at));
      }
    }
    bool more = false;
    for (const OfferView& o :
         e->ListOffers(OrderFilter{}, 0, 1 << 30, kT0 + 24 * kHour, &more)) {
      if (o.expires_at <= kT0 + 48 * kHour) urgent_kg += o.remaining_kg;
    }
    Command clear = MakeCommand(ClearCommand{}, kT0 + 24 * kHour);
    e->TickAndApply(MakeCommand(TickCommand{}, kT0 + 24 * kHour));
    state.ResumeTiming();
    absl::StatusOr<CommandResult> r = e->Apply(clear);
    state.PauseTiming();
    if (r.ok()) {
      matches += std::get<ClearResult>(*r).matches;
      kg += std::get<ClearResult>(*r).kg;
    } else {
      state.SkipWithError(std::string(r.status().message()).c_str());
    }
    e.reset();
    state.ResumeTiming();
  }
  state.counters["orders"] = static_cast<double>(orders);
  state.counters["matches"] =
      static_cast<double>(matches) / std::max<int64_t>(1, state.iterations());
  state.counters["kg"] =
      static_cast<double>(kg) / std::max<int64_t>(1, state.iterations());
  state.counters["urgent_offer_kg"] =
      static_cast<double>(urgent_kg) / std::max<int64_t>(1, state.iterations());
}

void Register() {
  auto* engine = benchmark::RegisterBenchmark("BM_GlutWeek", BM_GlutWeek);
  engine->Arg(10000)->Arg(100000)->Arg(1000000);
  if (EnvInt("DUIJIE_BENCH_10M", 0) != 0) engine->Arg(10000000);
  engine->Unit(benchmark::kMillisecond);
  auto* reference = benchmark::RegisterBenchmark("BM_ReferenceGlutWeek",
                                                 BM_ReferenceGlutWeek);
  reference->Arg(10000);
  if (EnvInt("DUIJIE_REF_100K", 0) != 0) reference->Arg(100000);
  reference->Iterations(1)->Unit(benchmark::kMillisecond);
  auto* count = benchmark::RegisterBenchmark("BM_CountOffers", BM_CountOffers);
  for (int64_t book : {100000, 1000000}) {
    for (int64_t filter = 0; filter <= 4; ++filter) count->Args({book, filter});
  }
  count->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_ExplainPledge", BM_ExplainPledge)
      ->Arg(100000)
      ->Arg(1000000)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_Clearing", BM_Clearing)
      ->Arg(10000)
      ->Arg(100000)
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
}

}  // namespace
}  // namespace bench
}  // namespace duijie

int main(int argc, char** argv) {
  duijie::bench::Register();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
