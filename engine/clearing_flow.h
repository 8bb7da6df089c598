// The optimisation inside a batch clearing: which offer sends how many kg
// to which pledge. A flow from a source through the offers and the allowed
// (offer, pledge) pairs to the pledges and a sink, solved in two steps with
// LEMON: first the most kg that can move at all (a maximum flow, Preflow),
// then, among the flows moving exactly that many, the one of least total
// cost (NetworkSimplex; see engine/clearing.cc for what the costs encode).
// Two steps, because one solve with a reward per kg puts kg first only if
// the reward exceeds what rerouting can cost along a whole augmenting path
// (many pairs), which would overflow.
//
// The flow knows capacities only: it relaxes min lots and budgets, which
// the engine applies when it carries the solution out. Pure and
// deterministic: the same problem gives the same answer.
#ifndef DUIJIE_ENGINE_CLEARING_FLOW_H_
#define DUIJIE_ENGINE_CLEARING_FLOW_H_

#include <cstdint>
#include <vector>

namespace duijie {

// A pair's cost per kg must be in [0, kMaxClearingCost).
inline constexpr int64_t kMaxClearingCost = int64_t{1} << 27;

struct ClearingPair {
  uint32_t offer;   // index into the offers' capacities
  uint32_t pledge;  // index into the pledges' capacities
  int64_t capacity_kg;
  int64_t cost;  // per kg, [0, kMaxClearingCost)
};

// The kg the solution sends through each pair, in the order given: a
// flow of the most kg, and of least cost among those. Each capacity must
// be >= 0. Flows respect every capacity (offer, pledge and pair). Very
// large totals are solved in units of several kg (so that costs times flows
// stay within 64 bits) and scaled back, which keeps every capacity.
std::vector<int64_t> SolveClearingFlow(const std::vector<int64_t>& offer_kg,
                                       const std::vector<int64_t>& pledge_kg,
                                       const std::vector<ClearingPair>& pairs);

}  // namespace duijie

#endif  // DUIJIE_ENGINE_CLEARING_FLOW_H_
