// The offline optimum; see optimum.h.
#include "tools/sim/optimum.h"

#include <lemon/list_graph.h>
#include <lemon/network_simplex.h>

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

// Root of x in a union-find forest, halving paths on the way.
int Root(std::vector<int>& up, int x) {
  while (up[x] != x) x = up[x] = up[up[x]];
  return x;
}

// Which kg a solve counts besides the total.
enum class Count { kNothing, kPriority, kPartner };

struct Most {
  int64_t kg = 0;       // the most kg the network of the pairs can sell
  int64_t counted = 0;  // the most counted kg among allocations selling kg
};

// Solves the network of `pairs` (with every offer's kg and the pledges'
// capacities) as a min-cost circulation: the arc from the sink back to the
// source earns more per kg than all the counted kg together (cost -1
// each), so the cheapest circulation sells the most kg first.
Most Solve(const Scenario& s, const std::vector<Arc>& pairs,
           const std::vector<int64_t>& pledge_cap, Count count) {
  Graph g;
  const Graph::Node source = g.addNode(), sink = g.addNode();
  Graph::ArcMap<int64_t> cap(g), cost(g);
  auto add = [&](Graph::Node from, Graph::Node to, int64_t c, int64_t k) {
    const Graph::Arc arc = g.addArc(from, to);
    cap[arc] = c;
    cost[arc] = k;
    return arc;
  };
  std::map<int, Graph::Node> offer_node, pledge_node;
  int64_t offered = 0;
  for (const Arc& a : pairs) {
    const ScenarioOffer& o = s.offers[a.offer];
    auto [of, new_offer] = offer_node.try_emplace(a.offer);
    if (new_offer) {
      of->second = g.addNode();
      offered += o.spec.quantity_kg;
      add(source, of->second, o.spec.quantity_kg,
          count == Count::kPriority && o.priority ? -1 : 0);
    }
    auto [pl, new_pledge] = pledge_node.try_emplace(a.pledge);
    if (new_pledge) {
      pl->second = g.addNode();
      add(pl->second, sink, pledge_cap[a.pledge], 0);
    }
    add(of->second, pl->second, o.spec.quantity_kg,
        count == Count::kPartner && a.partner ? -1 : 0);
  }
  const int64_t big = offered + 1;
  const Graph::Arc back = add(sink, source, offered, -big);
  lemon::NetworkSimplex<Graph, int64_t, int64_t> simplex(g);
  simplex.upperMap(cap).costMap(cost);
  simplex.run();  // zero flow is feasible; the capacities bound the cost
  Most out;
  out.kg = simplex.flow(back);
  out.counted = -simplex.totalCost() - big * out.kg;
  return out;
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

  // The network falls apart into parts no pair joins (one per product
  // family or less, as no pledge spans families): solved one by one, as
  // the simplex's time grows faster than the network.
  const int offers = static_cast<int>(s.offers.size());
  std::vector<int> up(s.offers.size() + s.pledges.size());
  for (size_t i = 0; i < up.size(); ++i) up[i] = static_cast<int>(i);
  for (const Arc& a : pairs) {
    up[Root(up, a.offer)] = Root(up, offers + a.pledge);
  }
  std::map<int, std::vector<Arc>> parts;
  for (const Arc& a : pairs) parts[Root(up, a.offer)].push_back(a);
  for (const auto& [root, part] : parts) {
    const Most priority = Solve(s, part, pledge_cap, Count::kPriority);
    out.max_kg += priority.kg;
    out.max_priority_kg += priority.counted;
    out.max_partner_kg += Solve(s, part, pledge_cap, Count::kPartner).counted;
    std::vector<Arc> partner_pairs;
    for (const Arc& a : part) {
      if (a.partner) partner_pairs.push_back(a);
    }
    out.max_partner_only_kg +=
        Solve(s, partner_pairs, pledge_cap, Count::kNothing).kg;
  }
  return out;
}

}  // namespace sim
}  // namespace duijie
