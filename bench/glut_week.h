// Glut-week scenarios: one simulated week of surplus produce and buyer
// pledges, for measuring how much each allocation policy sells
// (tools/simulate, docs/ALLOCATION.md). The records are in the standard
// workload's format (bench/workload.proto), so WorkloadWriter and
// WorkloadReader write and read them.
//
// The week, from 2022-11-01 00:00 China Standard Time for seven days:
//   - reference data first: five western provinces with their prefectures
//     and counties (six-digit GB/T 2260 codes such as 620000 / 621100 /
//     621121), about a third of the counties key-assisted (重点帮扶县) and
//     some relocation sites; eastern provinces and cities, each eastern
//     province paired (east-west cooperation) with its western partner
//     province and each city with a prefecture under it; Beijing and
//     Jiangsu are paired with provinces that post nothing here;
//   - offers from cooperatives in the western counties: each county grows
//     a few products and posts them at its own rate; perishable vegetables
//     keep 2-4 days, semi-perishable fruit 7-14 days, storable grain and
//     tea 28-90 days;
//   - pledges from buyer units (east-west cooperation offices, government
//     units, schools, hospitals, state and private firms), most in eastern
//     cities paired with producing regions, some not; for a product or a
//     whole category, with grades, certification, scopes, lots and budgets;
//     a few are cancelled before they expire;
//   - the glut: in the middle third of the week a few counties' perishable
//     vegetables arrive at three times their usual rate, more than the
//     buyers take; in the last third the response buyers (those in cities
//     paired with a glut county) post twice their usual pledges.
// Offers give the longest time to ship allowed, so that no match lapses
// within the week (the simulation ships nothing).
//
// Deterministic: the only randomness is std::mt19937_64 read through
// bench/rng.h; the same options give the same records (and bytes).
#ifndef DUIJIE_BENCH_GLUT_WEEK_H_
#define DUIJIE_BENCH_GLUT_WEEK_H_

#include <cstdint>
#include <vector>

#include "bench/workload.pb.h"

namespace duijie {
namespace bench {

struct GlutWeekOptions {
  uint64_t seed = 1;
  // Offers and pledges posted in the week, about (the glut's extra offers
  // and the response pledges included).
  int64_t orders = 10000;
};

// The week's records in time order (at_micros never decreases).
std::vector<WorkloadRecord> GlutWeek(const GlutWeekOptions& options);

inline constexpr int64_t kGlutWeekDays = 7;

}  // namespace bench
}  // namespace duijie

#endif  // DUIJIE_BENCH_GLUT_WEEK_H_
