// duijie-simulate: replays a scenario through allocation policies and
// prints what each sold, side by side with the offline optimum (see
// simulator.h, optimum.h and docs/ALLOCATION.md). tools/simulate builds
// and runs it.
//
//   duijie-simulate --scenario FILE --policy continuous --policy fifo
//       [--policy batch:1h ...] [--json]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "engine/codes.h"
#include "tools/sim/optimum.h"
#include "tools/sim/simulator.h"

namespace duijie {
namespace sim {
namespace {

constexpr char kUsage[] =
    "usage: duijie-simulate --scenario FILE --policy POLICY [--policy "
    "POLICY]... [--json]\n"
    "  POLICY: continuous | fifo | batch:N{s,m,h,d} (e.g. batch:1h)\n";

struct Column {
  Policy policy;
  Outcome outcome;
};

// 1234567 -> "1,234,567".
std::string Kg(int64_t v) {
  std::string digits = absl::StrCat(v < 0 ? -v : v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

// A ratio for display (never used in arithmetic on kg).
double Ratio(int64_t a, int64_t b) {
  return b == 0 ? 0.0 : static_cast<double>(a) / static_cast<double>(b);
}

std::string Percent(int64_t a, int64_t b) {
  return b == 0 ? "-" : absl::StrFormat("%.1f%%", 100 * Ratio(a, b));
}

void PrintTable(const std::string& path, const Scenario& s, const Outcome& base,
                const Optimum& opt, const std::vector<Column>& cols,
                const Column* fifo) {
  absl::PrintF("scenario %s: %d offers (%s kg), %d pledges (%s kg)\n", path,
               s.offers.size(), Kg(base.offered_kg), s.pledges.size(),
               Kg(base.pledged_kg));
  absl::PrintF("offered / pledged kg by third: %s / %s, %s / %s, %s / %s\n",
               Kg(base.offered_kg_by_third[0]), Kg(base.pledged_kg_by_third[0]),
               Kg(base.offered_kg_by_third[1]), Kg(base.pledged_kg_by_third[1]),
               Kg(base.offered_kg_by_third[2]),
               Kg(base.pledged_kg_by_third[2]));
  absl::PrintF("optimum: %d compatible (offer, pledge) pairs\n\n", opt.pairs);
  absl::PrintF("%-36s %14s", "", "optimum");
  for (const Column& c : cols) absl::PrintF(" %14s", c.policy.name);
  absl::PrintF("\n");
  auto row = [&](const std::string& name, const std::string& optimum,
                 auto cell) {
    absl::PrintF("%-36s %14s", name, optimum);
    for (const Column& c : cols) absl::PrintF(" %14s", cell(c.outcome));
    absl::PrintF("\n");
  };
  row("kg sold before expiry", Kg(opt.max_kg),
      [](const Outcome& o) { return Kg(o.sold_kg); });
  row("  share of optimum", "100.0%",
      [&](const Outcome& o) { return Percent(o.sold_kg, opt.max_kg); });
  row("kg from key-assisted/relocation", Kg(opt.max_priority_kg),
      [](const Outcome& o) { return Kg(o.priority_kg); });
  row("  ratio to fifo", "-", [&](const Outcome& o) -> std::string {
    if (fifo == nullptr || fifo->outcome.priority_kg == 0) return "-";
    return absl::StrFormat("%.2fx",
                           Ratio(o.priority_kg, fifo->outcome.priority_kg));
  });
  row("partner share of kg sold", Percent(opt.max_partner_kg, opt.max_kg),
      [](const Outcome& o) { return Percent(o.partner_kg, o.sold_kg); });
  // With sold >= 95% of the optimum, no policy's partner share can exceed
  // this.
  const int64_t at95 = (opt.max_kg * 95 + 99) / 100;
  row("  partner share bound at 95% sold",
      Percent(std::min(opt.max_partner_only_kg, at95), at95),
      [](const Outcome&) { return std::string(); });
  row("households reached (kg-weighted)", "-",
      [](const Outcome& o) { return Kg(o.households); });
  row("buyers' fill rate", Percent(opt.max_kg, base.pledged_kg),
      [](const Outcome& o) { return Percent(o.sold_kg, o.pledged_kg); });
  const char* kClass[] = {"perishable (<=4d)", "semi-perishable (<=14d)",
                          "storable"};
  for (int k = 0; k < 3; ++k) {
    row(absl::StrCat("kg unsold: ", kClass[k]), "-",
        [k](const Outcome& o) { return Kg(o.unsold_kg_by_class[k]); });
  }
  const char* kThird[] = {"first", "middle (glut)", "last (response)"};
  for (int k = 0; k < 3; ++k) {
    row(absl::StrCat("kg unsold: posted ", kThird[k], " third"), "-",
        [k](const Outcome& o) { return Kg(o.unsold_kg_by_third[k]); });
  }
}

void PrintJson(const std::string& path, const Scenario& s, const Outcome& base,
               const Optimum& opt, const std::vector<Column>& cols,
               const Column* fifo) {
  std::vector<std::string> policies;
  for (const Column& c : cols) {
    const Outcome& o = c.outcome;
    std::string ratio = "null";
    if (fifo != nullptr && fifo->outcome.priority_kg > 0) {
      ratio = absl::StrFormat("%.4f",
                              Ratio(o.priority_kg, fifo->outcome.priority_kg));
    }
    policies.push_back(absl::StrFormat(
        "    {\"policy\": \"%s\", \"sold_kg\": %d, \"share_of_optimum\": "
        "%.4f, \"priority_kg\": %d, \"priority_ratio_to_fifo\": %s, "
        "\"partner_kg\": %d, \"partner_share\": %.4f, \"households\": %d, "
        "\"fill_rate\": %.4f, \"unsold_kg_by_class\": [%d, %d, %d], "
        "\"unsold_kg_by_third\": [%d, %d, %d]}",
        c.policy.name, o.sold_kg, Ratio(o.sold_kg, opt.max_kg), o.priority_kg,
        ratio, o.partner_kg, Ratio(o.partner_kg, o.sold_kg), o.households,
        Ratio(o.sold_kg, o.pledged_kg), o.unsold_kg_by_class[0],
        o.unsold_kg_by_class[1], o.unsold_kg_by_class[2],
        o.unsold_kg_by_third[0], o.unsold_kg_by_third[1],
        o.unsold_kg_by_third[2]));
  }
  // The path is printed as given; paths with quotes or backslashes are
  // not expected of scenario files.
  absl::PrintF(
      "{\n  \"scenario\": \"%s\", \"offers\": %d, \"pledges\": %d, "
      "\"offered_kg\": %d, \"pledged_kg\": %d,\n  \"optimum\": {\"max_kg\": "
      "%d, \"max_priority_kg\": %d, \"max_partner_kg\": %d, "
      "\"max_partner_only_kg\": %d, \"pairs\": %d},\n"
      "  \"policies\": [\n%s\n  ]\n}\n",
      path, s.offers.size(), s.pledges.size(), base.offered_kg, base.pledged_kg,
      opt.max_kg, opt.max_priority_kg, opt.max_partner_kg,
      opt.max_partner_only_kg, opt.pairs, absl::StrJoin(policies, ",\n"));
}

int Main(int argc, char** argv) {
  std::string path;
  std::vector<Policy> policies;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&](std::string_view flag, std::string* out) {
      if (arg == flag && i + 1 < argc) {
        *out = argv[++i];
        return true;
      }
      if (arg.substr(0, flag.size() + 1) == absl::StrCat(Absl(flag), "=")) {
        *out = std::string(arg.substr(flag.size() + 1));
        return true;
      }
      return false;
    };
    std::string v;
    if (value("--scenario", &path)) continue;
    if (value("--policy", &v)) {
      absl::StatusOr<Policy> p = ParsePolicy(v);
      if (!p.ok()) {
        std::fprintf(stderr, "%s\n", p.status().ToString().c_str());
        return 2;
      }
      policies.push_back(*p);
      continue;
    }
    if (arg == "--json") {
      json = true;
      continue;
    }
    std::fprintf(stderr, "unknown argument %s\n%s", argv[i], kUsage);
    return 2;
  }
  if (path.empty() || policies.empty()) {
    std::fprintf(stderr, "%s", kUsage);
    return 2;
  }
  // Run times go to stderr, for sizing scenarios; the simulation itself
  // never reads a clock.
  auto started = std::chrono::steady_clock::now();
  auto lap = [&](const std::string& what) {
    const auto now = std::chrono::steady_clock::now();
    std::fprintf(stderr, "%s: %.2f s\n", what.c_str(),
                 std::chrono::duration<double>(now - started).count());
    started = now;
  };
  absl::StatusOr<Scenario> s = LoadScenario(path);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.status().ToString().c_str());
    return 1;
  }
  lap("load");
  std::vector<Column> cols;
  for (const Policy& p : policies) {
    absl::StatusOr<std::vector<Fill>> fills = Run(*s, p);
    lap(p.name);
    if (!fills.ok()) {
      std::fprintf(stderr, "%s: %s\n", p.name.c_str(),
                   fills.status().ToString().c_str());
      return 1;
    }
    cols.push_back({p, Measure(*s, *fills)});
  }
  const Column* fifo = nullptr;
  for (const Column& c : cols) {
    if (c.policy.kind == Policy::kFifo) fifo = &c;
  }
  const Outcome base = Measure(*s, {});
  const Optimum opt = SolveOptimum(*s);
  lap("optimum");
  if (json) {
    PrintJson(path, *s, base, opt, cols, fifo);
  } else {
    PrintTable(path, *s, base, opt, cols, fifo);
  }
  return 0;
}

}  // namespace
}  // namespace sim
}  // namespace duijie

int main(int argc, char** argv) { return duijie::sim::Main(argc, argv); }
