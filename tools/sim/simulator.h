// The allocation simulator: replays a scenario (bench/glut_week.h, in the
// workload format of bench/workload.proto) through an allocation policy in
// simulated time and measures what was sold, to whom and from where; and
// the offline optimum that no policy can beat (optimum.h).
//
// Policies:
//   continuous     the engine as it is: an incoming order fills against the
//                  best resting counterpart at once (its priority rules).
//   fifo           plain first-come-first-served: the earliest posted
//                  compatible counterpart first; the differential test's
//                  reference matcher with QueueOrder::kFifo.
//   batch:INTERVAL the engine with a clearing policy for every product
//                  (clearings at multiples of INTERVAL since the epoch:
//                  30m, 1h, 1d ...): orders rest until they would expire
//                  before the next clearing (engine/clearing.cc).
//
// Time is the records' own: each record is applied at its at_micros
// (Engine::TickAndApply, or the reference's clock); no wall clock. Every
// post of a scenario must be accepted, so that the engine's ids (1, 2, ...
// in posting order on each side) index the scenario's orders; a cancel may
// be refused (its pledge already filled).
#ifndef DUIJIE_TOOLS_SIM_SIMULATOR_H_
#define DUIJIE_TOOLS_SIM_SIMULATOR_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/workload.pb.h"
#include "engine/command.h"
#include "engine/types.h"

namespace duijie {
namespace sim {

// An order of the scenario as posted, with the interval it was live:
// [posted_at, ends_at), ends_at its expiry (a tick to that time retires
// it before any command at that time) or just after the time it was
// cancelled (records before the cancel at the same time still see it).
struct ScenarioOffer {
  OfferSpec spec;
  Micros posted_at = 0;
  Micros ends_at = 0;
  bool priority = false;  // from a key-assisted county or relocation site
};
struct ScenarioPledge {
  PledgeSpec spec;
  Micros posted_at = 0;
  Micros ends_at = 0;
};

struct Scenario {
  std::vector<Command> commands;  // in order, each stamped with its time
  std::vector<Region> regions;
  std::vector<Pairing> pairings;
  std::vector<ScenarioOffer> offers;    // offers[id - 1]
  std::vector<ScenarioPledge> pledges;  // pledges[id - 1]
  Micros start = 0;                     // the first record's time
};

// Converts records with the API's converters (api/convert.h), as the
// server would. INVALID_ARGUMENT for a record the API refuses or one that
// is not a reference-data, post or cancel command.
absl::StatusOr<Scenario> MakeScenario(
    const std::vector<bench::WorkloadRecord>& records);
absl::StatusOr<Scenario> LoadScenario(const std::string& path);

// Whether the offer's region is paired with the pledge's city (codes match
// by ancestry), by the scenario's pairings.
bool Partner(const Scenario& s, std::string_view region, std::string_view city);
// Whether the pledge would take the offer on its terms (product, grade,
// certification, price, scope); times, lots and budgets aside.
bool Compatible(const Scenario& s, const OfferSpec& o, const PledgeSpec& p);

struct Policy {
  enum Kind { kContinuous, kFifo, kBatch };
  Kind kind = kContinuous;
  Micros interval = 0;  // kBatch
  std::string name;     // as given
};
// "continuous", "fifo", "batch:90s", "batch:30m", "batch:1h", "batch:1d".
absl::StatusOr<Policy> ParsePolicy(std::string_view text);

// One match: kg of an offer sold to a pledge.
struct Fill {
  uint64_t offer_id = 0;
  uint64_t pledge_id = 0;
  int64_t kg = 0;
  bool partner = false;
};

// Replays the scenario under `policy` and returns every match made.
absl::StatusOr<std::vector<Fill>> Run(const Scenario& scenario,
                                      const Policy& policy);

// Shelf-life classes (expires_at - posted_at of the offer).
enum ShelfClass { kPerishable, kSemiPerishable, kStorable };
inline constexpr Micros kPerishableLife = Micros{4} * 86400 * 1000000;
inline constexpr Micros kSemiPerishableLife = Micros{14} * 86400 * 1000000;
ShelfClass ShelfClassOf(const ScenarioOffer& o);

// What a policy achieved. All kg are whole kilograms.
struct Outcome {
  int64_t offered_kg = 0;
  int64_t pledged_kg = 0;
  int64_t sold_kg = 0;      // matched (always before expiry)
  int64_t priority_kg = 0;  // sold from key-assisted counties and
                            // relocation sites
  int64_t partner_kg = 0;   // sold to a buyer in a paired city
  // Households reached, kg-weighted: each offer's households times the
  // share of its kg sold, summed (rounded down per offer).
  int64_t households = 0;
  int64_t unsold_kg_by_class[3] = {};  // offered - sold, by ShelfClass
  // Offered - sold by the third of the week the offer was posted in
  // (from Scenario::start; later posts count in the last third).
  int64_t unsold_kg_by_third[3] = {};
  // The scenario's offered and pledged kg by the third of the week they
  // were posted in, for the summary.
  int64_t offered_kg_by_third[3] = {};
  int64_t pledged_kg_by_third[3] = {};
};
Outcome Measure(const Scenario& scenario, const std::vector<Fill>& fills);

}  // namespace sim
}  // namespace duijie

#endif  // DUIJIE_TOOLS_SIM_SIMULATOR_H_
