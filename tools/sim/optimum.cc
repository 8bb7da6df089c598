// The offline optimum; see optimum.h.
#include "tools/sim/optimum.h"

#include <lemon/list_graph.h>
#include <lemon/network_simplex.h>
#include <lemon/preflow.h>

#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/codes.h"

namespace duijie {
namespace sim {
namespace {

using Graph = lemon::ListDigraph;

struct Arc {
  int offer;  // index into scenario.offers
  int pledge;
  bool partner;
};

// Every (offer, pledge) pair that could ever have matched.
std::vector<Arc> Pairs(const Scenario& s) {
  std::map<std::string_view, std::vector<int>> by_product;
  for (size_t i = 0; i < s.offers.size(); ++i) {
    by_product[s.offers[i].spec.product_code].push_back(static_cast<int>(i));
  }
  std::map<std::pair<std::string_view, std::string_view>, bool> partner;
  std::vector<Arc> arcs;
  for (size_t j = 0; j < s.pledges.size(); ++j) {
    const ScenarioPledge& p = s.pledges[j];
    for (const auto& [product, offers] : by_product) {
      if (!ProductCovers(p.spec.product_code, product)) continue;
      for (int i : offers) {
        const ScenarioOffer& o = s.offers[i];
        if (o.posted_at >= p.ends_at || p.posted_at >= o.ends_at) continue;
        if (!Compatible(s, o.spec, p.spec)) continue;
        auto [it, added] = partner.try_emplace(
            {o.spec.region_code, p.spec.buyer_city_code}, false);
        if (added) {
          it->second = Partner(s, o.spec.region_code, p.spec.buyer_city_code);
        }
        arcs.push_back({i, static_cast<int>(j), it->second});
      }
    }
  }
  return arcs;
}

}  // namespace

Optimum SolveOptimum(const Scenario& s) {
  const std::vector<Arc> pairs = Pairs(s);
  Optimum out;
  out.pairs = static_cast<int64_t>(pairs.size());

  // A pledge with a budget takes at most budget / (cheapest floor it could
  // have paid) kg.
  std::vector<int64_t> pledge_cap(s.pledges.size());
  std::vector<int64_t> cheapest(s.pledges.size(), 0);
  for (const Arc& a : pairs) {
    const int64_t floor = s.offers[a.offer].spec.floor_price_fen_per_kg;
    int64_t& c = cheapest[a.pledge];
    c = c == 0 ? floor : std::min(c, floor);
  }
  for (size_t j = 0; j < s.pledges.size(); ++j) {
    const PledgeSpec& p = s.pledges[j].spec;
    pledge_cap[j] = p.quantity_kg;
    if (p.budget_fen > 0 && cheapest[j] > 0) {
      pledge_cap[j] = std::min(pledge_cap[j], p.budget_fen / cheapest[j]);
    }
  }

  Graph g;
  const Graph::Node source = g.addNode(), sink = g.addNode();
  std::vector<Graph::Node> offer_node, pledge_node;
  g.reserveNode(static_cast<int>(s.offers.size() + s.pledges.size() + 2));
  g.reserveArc(
      static_cast<int>(pairs.size() + s.offers.size() + s.pledges.size()));
  Graph::ArcMap<int64_t> cap(g), priority_cost(g), partner_cost(g);
  Graph::ArcMap<int64_t> partner_cap(g);  // non-partner pairs closed
  auto add = [&](Graph::Node from, Graph::Node to, int64_t c, int64_t pc,
                 int64_t rc, bool closed = false) {
    const Graph::Arc arc = g.addArc(from, to);
    cap[arc] = c;
    priority_cost[arc] = pc;
    partner_cost[arc] = rc;
    partner_cap[arc] = closed ? 0 : c;
  };
  for (const ScenarioOffer& o : s.offers) {
    offer_node.push_back(g.addNode());
    add(source, offer_node.back(), o.spec.quantity_kg, o.priority ? -1 : 0, 0);
  }
  for (size_t j = 0; j < s.pledges.size(); ++j) {
    pledge_node.push_back(g.addNode());
    add(pledge_node.back(), sink, pledge_cap[j], 0, 0);
  }
  for (const Arc& a : pairs) {
    add(offer_node[a.offer], pledge_node[a.pledge],
        s.offers[a.offer].spec.quantity_kg, 0, a.partner ? -1 : 0, !a.partner);
  }

  lemon::Preflow<Graph, Graph::ArcMap<int64_t>> preflow(g, cap, source, sink);
  preflow.runMinCut();  // the first phase finds the flow value
  out.max_kg = preflow.flowValue();
  lemon::Preflow<Graph, Graph::ArcMap<int64_t>> partner_only(g, partner_cap,
                                                             source, sink);
  partner_only.runMinCut();
  out.max_partner_only_kg = partner_only.flowValue();

  auto most = [&](const Graph::ArcMap<int64_t>& cost) -> int64_t {
    lemon::NetworkSimplex<Graph, int64_t, int64_t> simplex(g);
    simplex.upperMap(cap).costMap(cost).stSupply(source, sink, out.max_kg);
    // Feasible and bounded by construction: Preflow found such a flow,
    // and costs are -1 or 0 on capacitated arcs.
    if (simplex.run() != decltype(simplex)::OPTIMAL) return -1;
    return -simplex.totalCost();
  };
  out.max_priority_kg = most(priority_cost);
  out.max_partner_kg = most(partner_cost);
  return out;
}

}  // namespace sim
}  // namespace duijie
