#include "engine/clearing_flow.h"

#include <algorithm>

#include "lemon/network_simplex.h"
#include "lemon/smart_graph.h"

namespace duijie {
namespace {

// Flows are solved in units of `scale` kg, chosen so that the total supply
// in units is at most kMaxUnits: then any flow's total cost (at most
// kMaxUnits x kMaxClearingCost) fits in an int64.
constexpr int64_t kMaxUnits = int64_t{1} << 34;

}  // namespace

std::vector<int64_t> SolveClearingFlow(const std::vector<int64_t>& offer_kg,
                                       const std::vector<int64_t>& pledge_kg,
                                       const std::vector<ClearingPair>& pairs) {
  std::vector<int64_t> flows(pairs.size(), 0);
  if (pairs.empty()) return flows;
  // Only offers with a pair can send anything: the total is theirs.
  int64_t total = 0;
  std::vector<bool> used(offer_kg.size(), false);
  for (const ClearingPair& pair : pairs) used[pair.offer] = true;
  for (size_t i = 0; i < offer_kg.size(); ++i) {
    if (!used[i]) continue;
    // Saturates: beyond 2^62 kg the units are coarse anyway.
    total = offer_kg[i] > (int64_t{1} << 62) - total ? int64_t{1} << 62
                                                     : total + offer_kg[i];
  }
  const int64_t scale =
      std::max<int64_t>(1, (total + kMaxUnits - 1) / kMaxUnits);
  auto units = [scale](int64_t kg) { return kg / scale; };

  using Graph = lemon::SmartDigraph;
  Graph g;
  g.reserveNode(static_cast<int>(offer_kg.size() + pledge_kg.size() + 2));
  g.reserveArc(
      static_cast<int>(offer_kg.size() + pledge_kg.size() + pairs.size() + 1));
  const Graph::Node source = g.addNode();
  const Graph::Node sink = g.addNode();
  Graph::ArcMap<int64_t> capacity(g);
  Graph::ArcMap<int64_t> cost(g);
  std::vector<Graph::Node> offers(offer_kg.size());
  std::vector<Graph::Node> pledges(pledge_kg.size());
  int64_t supply = 0;
  for (size_t i = 0; i < offer_kg.size(); ++i) {
    offers[i] = g.addNode();
    const Graph::Arc a = g.addArc(source, offers[i]);
    capacity[a] = used[i] ? units(offer_kg[i]) : 0;
    cost[a] = 0;
    supply += capacity[a];
  }
  for (size_t j = 0; j < pledge_kg.size(); ++j) {
    pledges[j] = g.addNode();
    const Graph::Arc a = g.addArc(pledges[j], sink);
    capacity[a] = units(pledge_kg[j]);
    cost[a] = 0;
  }
  std::vector<Graph::Arc> pair_arcs;
  pair_arcs.reserve(pairs.size());
  for (const ClearingPair& pair : pairs) {
    const Graph::Arc a = g.addArc(offers[pair.offer], pledges[pair.pledge]);
    capacity[a] = units(pair.capacity_kg);
    cost[a] = -1;  // the first step: every kg moved counts alike
    pair_arcs.push_back(a);
  }
  // What the offers cannot place goes straight to the sink, at no gain.
  const Graph::Arc bypass = g.addArc(source, sink);
  capacity[bypass] = supply;
  cost[bypass] = 0;

  using Solver = lemon::NetworkSimplex<Graph, int64_t, int64_t>;
  Solver solver(g);
  solver.upperMap(capacity).costMap(cost).stSupply(source, sink, supply);
  // Cannot fail: sending everything by the bypass is feasible.
  if (solver.run() != Solver::OPTIMAL) return flows;
  const int64_t most = supply - solver.flow(bypass);
  if (most == 0) return flows;
  // The second step: exactly that many units, no bypass, the pairs' costs.
  for (size_t k = 0; k < pairs.size(); ++k) cost[pair_arcs[k]] = pairs[k].cost;
  capacity[bypass] = 0;
  Solver cheapest(g);
  cheapest.upperMap(capacity).costMap(cost).stSupply(source, sink, most);
  if (cheapest.run() != Solver::OPTIMAL) return flows;  // cannot happen
  for (size_t k = 0; k < pairs.size(); ++k) {
    flows[k] = cheapest.flow(pair_arcs[k]) * scale;
  }
  return flows;
}

}  // namespace duijie
