// duijie-workload: writes the standard workload (see bench/workload.h) to a
// file of delimited WorkloadRecords, or checks and summarizes one.
//
//   duijie-workload --book=1000000 --commands=1000000 --seed=1
//       --out=bench/workloads/glut-1000000-1000000-s1.wl
//   duijie-workload --in=bench/workloads/glut-1000000-1000000-s1.wl
// (the second prints counts and the digest)
//   duijie-workload --scenario=glut-week --orders=10000 --seed=1
//       --out=bench/scenarios/glut-week-s1.wl
// (a glut-week scenario for tools/simulate; see bench/glut_week.h)
//
// The digest (FNV-1a of the serialized records) is the same for a file and
// for the generator with the same options, which is how the benchmark shows
// that it replays the same commands.
#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "bench/glut_week.h"
#include "bench/workload.h"

ABSL_FLAG(int64_t, book, 10000, "resting orders after the prefill");
ABSL_FLAG(int64_t, commands, 1000000, "measured commands after the prefill");
ABSL_FLAG(uint64_t, seed, 1, "seed of the command stream");
ABSL_FLAG(std::string, out, "", "file to write");
ABSL_FLAG(std::string, in, "", "file to read and summarize instead");
ABSL_FLAG(std::string, scenario, "",
          "glut-week: write a glut-week scenario instead of the standard "
          "workload");
ABSL_FLAG(int64_t, orders, 10000,
          "glut-week: offers and pledges in the week, about");

namespace {

void Print(const duijie::bench::WorkloadStats& s, uint64_t digest) {
  std::printf(
      "regions %lld  pairings %lld  prefill offers %lld  prefill pledges "
      "%lld\nmeasured: post_offer %lld  post_pledge %lld  cancel_offer %lld  "
      "cancel_pledge %lld  get_offer %lld  get_pledge %lld  get_book %lld\n"
      "digest %016llx\n",
      static_cast<long long>(s.regions), static_cast<long long>(s.pairings),
      static_cast<long long>(s.prefill_offers),
      static_cast<long long>(s.prefill_pledges),
      static_cast<long long>(s.post_offer),
      static_cast<long long>(s.post_pledge),
      static_cast<long long>(s.cancel_offer),
      static_cast<long long>(s.cancel_pledge),
      static_cast<long long>(s.get_offer), static_cast<long long>(s.get_pledge),
      static_cast<long long>(s.get_book),
      static_cast<unsigned long long>(digest));
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Writes the duijie standard workload: --book=N --commands=M --seed=S "
      "--out=FILE; or a glut-week scenario: --scenario=glut-week --orders=N "
      "--seed=S --out=FILE; or summarizes one: --in=FILE");
  absl::ParseCommandLine(argc, argv);
  duijie::bench::WorkloadRecord record;
  duijie::bench::WorkloadStats stats;
  duijie::bench::WorkloadDigest digest;

  if (!absl::GetFlag(FLAGS_in).empty()) {
    duijie::bench::WorkloadReader reader;
    if (absl::Status s = reader.Open(absl::GetFlag(FLAGS_in)); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
    while (reader.Next(&record)) {
      stats.Count(record);
      digest.Add(record);
    }
    if (!reader.status().ok()) {
      std::fprintf(stderr, "%s\n", reader.status().ToString().c_str());
      return 1;
    }
    Print(stats, digest.value());
    return 0;
  }

  const std::string out = absl::GetFlag(FLAGS_out);
  const std::string scenario = absl::GetFlag(FLAGS_scenario);
  if (!scenario.empty()) {
    duijie::bench::GlutWeekOptions options;
    options.orders = absl::GetFlag(FLAGS_orders);
    options.seed = absl::GetFlag(FLAGS_seed);
    if (scenario != "glut-week" || out.empty() || options.orders < 1) {
      std::fprintf(stderr,
                   "usage: duijie-workload --scenario=glut-week --orders=N "
                   "--seed=S --out=FILE (N >= 1)\n");
      return 2;
    }
    duijie::bench::WorkloadWriter writer;
    absl::Status s = writer.Open(out);
    for (const duijie::bench::WorkloadRecord& r :
         duijie::bench::GlutWeek(options)) {
      if (!s.ok()) break;
      stats.Count(r);
      digest.Add(r);
      s = writer.Write(r);
    }
    if (s.ok()) s = writer.Close();
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
    std::printf("wrote %s\n", out.c_str());
    Print(stats, digest.value());
    return 0;
  }
  duijie::bench::WorkloadOptions options;
  options.book = absl::GetFlag(FLAGS_book);
  options.commands = absl::GetFlag(FLAGS_commands);
  options.seed = absl::GetFlag(FLAGS_seed);
  if (out.empty() || options.book < 0 || options.commands < 0) {
    std::fprintf(stderr,
                 "usage: duijie-workload --book=N --commands=M --seed=S "
                 "--out=FILE (N, M >= 0)\n");
    return 2;
  }
  duijie::bench::WorkloadGenerator generator(options);
  duijie::bench::WorkloadWriter writer;
  if (absl::Status s = writer.Open(out); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  while (generator.Next(&record)) {
    stats.Count(record);
    digest.Add(record);
    if (absl::Status s = writer.Write(record); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
  }
  if (absl::Status s = writer.Close(); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("wrote %s (clock step %lld us per measured command)\n",
              out.c_str(), static_cast<long long>(generator.step_micros()));
  Print(stats, digest.value());
  return 0;
}
