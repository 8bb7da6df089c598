#include "engine/clearing_flow.h"

#include <algorithm>

#include "lemon/network_simplex.h"
#include "lemon/preflow.h"
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
      static_cast<int>(offer_kg.size() + pledge_kg.size() + pairs.size()));
  const Graph::Node source = g.addNode();
  const Graph::Node sink = g.addNode();
  Graph::ArcMap<int64_t> capacity(g);
  Graph::ArcMap<int64_t> cost(g);
  std::vector<Graph::Node> offers(offer_kg.size());
  std::vector<Graph::Node> pledges(pledge_kg.size());
  for (size_t i = 0; i < offer_kg.size(); ++i) {
    offers[i] = g.addNode();
    const Graph::Arc a = g.addArc(source, offers[i]);
    capacity[a] = used[i] ? units(offer_kg[i]) : 0;
    cost[a] = 0;
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
    cost[a] = pair.cost;
    pair_arcs.push_back(a);
  }

  // The first step: the most units that can move (push-relabel).
  lemon::Preflow<Graph, Graph::ArcMap<int64_t>> most_kg(g, capacity, source,
                                                        sink);
  most_kg.runMinCut();
  const int64_t most = most_kg.flowValue();
  if (most == 0) return flows;
  // The second step: exactly that many units, at the least cost.
  using Solver = lemon::NetworkSimplex<Graph, int64_t, int64_t>;
  Solver cheapest(g);
  cheapest.upperMap(capacity).costMap(cost).stSupply(source, sink, most);
  // The candidate-list pivot rule: the fastest of LEMON's on clearings
  // (BM_Clearing: 80 ms against 190 for the default block search).
  if (cheapest.run(Solver::CANDIDATE_LIST) != Solver::OPTIMAL) return flows;
  for (size_t k = 0; k < pairs.size(); ++k) {
    flows[k] = cheapest.flow(pair_arcs[k]) * scale;
  }
  return flows;
}

}  // namespace duijie
