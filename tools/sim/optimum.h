// The offline optimum of a scenario: an upper bound on the kg any policy
// can sell, and how much of it could come from key-assisted counties and
// relocation sites, or go to partner buyers.
//
// A max-flow: source -> each offer (capacity its kg) -> each pledge it
// could ever have matched -> sink. An offer and a pledge are joined when
// the pledge takes the offer on its terms (product under the pledge's,
// grade, certification, floor <= max price, region allowed by the scope)
// and both were live at some instant: their [posted, expiry or cancel)
// intervals overlap. A pledge's capacity is its kg, or less when its
// budget cannot pay for them at the cheapest floor among the offers joined
// to it: every policy pays at least the floor, so the bound holds. Min
// lots are ignored (they only take sales away), and so is the order of
// arrival: the bound is what a clairvoyant allocator could sell.
//
// LEMON's NetworkSimplex solves it as a min-cost circulation with an arc
// from the sink back to the source that earns more per kg than all the
// other costs together, so that the cheapest circulation sells the most kg
// first and then, among allocations that sell that many, the most
// priority kg (cost -1 per kg out of a priority offer) or, in a second
// solve, the most partner kg (cost -1 per kg on a partner pair). A third
// solve on the partner pairs alone gives the most partner kg of any
// allocation. One simplex solve does the work of a Preflow and a min-cost
// flow at a fixed value, in less time than the Preflow alone here. The
// parts of the network that no pair joins (product families) are solved
// one by one.
#ifndef DUIJIE_TOOLS_SIM_OPTIMUM_H_
#define DUIJIE_TOOLS_SIM_OPTIMUM_H_

#include <cstdint>

#include "tools/sim/simulator.h"

namespace duijie {
namespace sim {

struct Optimum {
  int64_t max_kg = 0;
  int64_t max_priority_kg = 0;  // given max_kg sold
  int64_t max_partner_kg = 0;   // given max_kg sold
  // The most kg any policy could sell to partner buyers, whatever else it
  // sells: with sold >= x, a partner share above this / x is out of reach.
  int64_t max_partner_only_kg = 0;
  int64_t pairs = 0;  // (offer, pledge) arcs of the network
};

Optimum SolveOptimum(const Scenario& scenario);

}  // namespace sim
}  // namespace duijie

#endif  // DUIJIE_TOOLS_SIM_OPTIMUM_H_
