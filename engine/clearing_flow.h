// The optimisation inside a batch clearing: which offer sends how many kg
// to which pledge. A min-cost flow (LEMON's NetworkSimplex) from a source
// through the offers and the allowed (offer, pledge) pairs to the pledges
// and a sink, with a bypass from source to sink so that sending nothing is
// always feasible. Every kg sent through a pair earns kClearingReward and
// pays the pair's cost; costs stay below the reward, so the solution moves
// the most kg first and, among solutions moving that many, the cheapest
// (see engine/clearing.cc for what the costs encode).
//
// The flow knows capacities only: it relaxes min lots and budgets, which
// the engine applies when it carries the solution out. Pure and
// deterministic: the same problem gives the same answer.
#ifndef DUIJIE_ENGINE_CLEARING_FLOW_H_
#define DUIJIE_ENGINE_CLEARING_FLOW_H_

#include <cstdint>
#include <vector>

namespace duijie {

// What one kg through a pair earns; a pair's cost must be in
// [0, kClearingReward).
inline constexpr int64_t kClearingReward = int64_t{1} << 27;

struct ClearingPair {
  uint32_t offer;   // index into the offers' capacities
  uint32_t pledge;  // index into the pledges' capacities
  int64_t capacity_kg;
  int64_t cost;  // per kg, [0, kClearingReward)
};

// The kg the solution sends through each pair, in the order given. Each
// capacity must be >= 0. Flows respect every capacity (offer, pledge and
// pair). Very large totals are solved in units of several kg (so that
// costs times flows stay within 64 bits) and scaled back, which keeps
// every capacity.
std::vector<int64_t> SolveClearingFlow(const std::vector<int64_t>& offer_kg,
                                       const std::vector<int64_t>& pledge_kg,
                                       const std::vector<ClearingPair>& pairs);

}  // namespace duijie

#endif  // DUIJIE_ENGINE_CLEARING_FLOW_H_
