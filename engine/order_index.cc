// OrderIndex. See order_index.h for the layout and engine.cc for the
// priority rules the searches implement.
#include "engine/order_index.h"

#include <algorithm>
#include <cassert>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "engine/codes.h"

namespace duijie {
namespace {

// The scope families of the pledge sets.
enum class ScopeFamily : uint64_t { kAny = 0, kPartnersOnly = 1, kListed = 2 };

// The groups an incoming pledge searches, best first: partner offers from
// priority regions, other partner offers, non-partner offers from priority
// regions, the rest.
enum class SearchGroup { kPartnerPriority, kPartner, kPriority, kOther };
constexpr SearchGroup kSearchGroups[] = {
    SearchGroup::kPartnerPriority, SearchGroup::kPartner,
    SearchGroup::kPriority, SearchGroup::kOther};
bool IsPartnerGroup(SearchGroup g) {
  return g == SearchGroup::kPartnerPriority || g == SearchGroup::kPartner;
}
bool IsPriorityGroup(SearchGroup g) {
  return g == SearchGroup::kPartnerPriority || g == SearchGroup::kPriority;
}

uint64_t OfferShelfKey(uint32_t product, Grade grade, bool certified,
                       bool priority, int32_t region_key) {
  return (uint64_t{product} << 28) | (uint64_t(grade) << 24) |
         (uint64_t{certified} << 23) | (uint64_t{priority} << 22) |
         static_cast<uint64_t>(region_key);
}

uint64_t PledgeShelfKey(uint32_t product, Grade min_grade, bool require_cert,
                        ScopeFamily family, int32_t region_key) {
  return (uint64_t{product} << 28) | (uint64_t(min_grade) << 24) |
         (uint64_t{require_cert} << 23) | (uint64_t(family) << 21) |
         static_cast<uint64_t>(region_key);
}

// How a resting offer's size fits pledges; see OfferFit.
OfferFit FitOf(const OfferRecord& o) {
  return OfferFit{std::min(o.min_lot_kg, o.remaining_kg), o.remaining_kg,
                  PrefectureBit(o.region)};
}

OfferKey KeyOf(const OfferRecord& o, uint64_t id) {
  return OfferKey{o.expires_at, o.floor_price, o.seq, id};
}

}  // namespace

// The region key of the shelf that holds the offers of `region`: a
// county's and a prefecture's are on their province's shelf (see
// order_index.h).
int32_t ShelfRegion(int32_t region) { return ProvinceOf(region); }

template <typename Fn>
void OrderIndex::ForEachOfferShelf(const OfferRecord& o, Fn fn) const {
  fn(OfferShelfKey(o.product, o.grade, o.certified, o.priority,
                   ShelfRegion(o.region)));
  fn(OfferShelfKey(o.product, o.grade, o.certified, o.priority, 0));
}

template <typename Fn>
void OrderIndex::ForEachPledgeShelf(const PledgeRecord& p, Fn fn) const {
  auto key = [&](ScopeFamily family, int32_t region_key) {
    return PledgeShelfKey(p.product, p.min_grade, p.require_certified, family,
                          region_key);
  };
  switch (p.scope) {
    case Scope::kAny:
      fn(key(ScopeFamily::kAny, 0));
      for (int32_t k : RegionChainOf(p.city)) fn(key(ScopeFamily::kAny, k));
      break;
    case Scope::kPartnersOnly:
      for (int32_t k : RegionChainOf(p.city)) {
        fn(key(ScopeFamily::kPartnersOnly, k));
      }
      break;
    case Scope::kListedRegions:
      for (int32_t k : p.listed.cover()) fn(key(ScopeFamily::kListed, k));
      break;
  }
}

void OrderIndex::AddOffer(uint64_t id) {
  const OfferRecord& o = offers_[id - 1];
  const OfferKey key = KeyOf(o, id);
  const OfferFit fit = FitOf(o);
  ForEachOfferShelf(o, [&](uint64_t shelf) {
    offer_trees_[shelf].Insert(offer_nodes_, key, fit);
  });
}

void OrderIndex::RemoveOffer(uint64_t id) {
  const OfferRecord& o = offers_[id - 1];
  const OfferKey key = KeyOf(o, id);
  ForEachOfferShelf(o, [&](uint64_t shelf) {
    auto it = offer_trees_.find(shelf);
    it->second.Erase(offer_nodes_, key);
    if (it->second.empty()) offer_trees_.erase(it);
  });
}

void OrderIndex::OfferResized(uint64_t id) {
  const OfferRecord& o = offers_[id - 1];
  const OfferKey key = KeyOf(o, id);
  const OfferFit fit = FitOf(o);
  ForEachOfferShelf(o, [&](uint64_t shelf) {
    offer_trees_.find(shelf)->second.SetFit(offer_nodes_, key, fit);
  });
}

void OrderIndex::AddPledge(uint64_t id) {
  const PledgeRecord& p = pledges_[id - 1];
  ForEachPledgeShelf(p, [&](uint64_t shelf) {
    pledge_trees_[shelf].insert(PledgeKeyOf(p, id));
  });
}

void OrderIndex::RemovePledge(uint64_t id) {
  const PledgeRecord& p = pledges_[id - 1];
  ForEachPledgeShelf(p, [&](uint64_t shelf) {
    auto it = pledge_trees_.find(shelf);
    it->second.erase(PledgeKeyOf(p, id));
    if (it->second.empty()) pledge_trees_.erase(it);
  });
}

uint64_t OrderIndex::BestOfferFor(uint64_t pledge_id,
                                  const CodeSet& partner_west) const {
  OfferIds best;
  BestOffersFor(pledge_id, partner_west, 1, &best);
  return best.empty() ? 0 : best[0];
}

void OrderIndex::BestOffersFor(uint64_t pledge_id, const CodeSet& partner_west,
                               size_t k, OfferIds* out) const {
  if (k == 0) return;
  const PledgeRecord& p = pledges_[pledge_id - 1];
  // Products of the subtree with an offer the pledge can afford. The
  // book's lowest floor per product covers every indexed offer, so the
  // others' trees cannot hold a candidate; most pledges bid below every
  // offer and stop here without reading a tree.
  absl::InlinedVector<uint32_t, 4> products;
  for (uint32_t product : products_.node(p.product).subtree) {
    if (books_.HasOfferAtOrBelow(product, p.max_price)) {
      products.push_back(product);
    }
  }
  if (products.empty()) return;
  // Region keys of the partner groups, and of the others.
  CodeSet partner_keys;
  CodeSet other_keys;
  if (p.scope == Scope::kListedRegions) {
    for (int32_t listed : p.listed.cover()) {
      other_keys.push_back(listed);
      for (int32_t west : partner_west) {
        if (RegionCovers(listed, west)) {
          partner_keys.push_back(west);
        } else if (RegionCovers(west, listed)) {
          partner_keys.push_back(listed);
        }
      }
    }
  } else {
    partner_keys = partner_west;
    if (p.scope == Scope::kAny) other_keys.push_back(0);
  }
  // The best offers of the group being read, in priority order, at most
  // `k` (less what earlier groups gave).
  absl::InlinedVector<OfferKey, 16> best;
  // Reads one tree in priority order while its offers can still be among
  // the best (for k = 1: up to the first offer that fits and beats the best
  // so far). Offers too dear, or that the pledge cannot fill for its lots
  // or budget, are passed over inside the tree's walk (ForEachPassing), so
  // the only offers this loop passes over are partner offers in the
  // non-partner groups, and those fit only if the partner groups could not
  // take them, which they could; and, on a prefecture's or a county's
  // search, the offers of the province's shelf from elsewhere (the walk
  // reads only subtrees holding the prefecture's bit, PrefectureBit, so
  // these are the offers of prefectures sharing the bit and, on a county's
  // search, of the other counties). A group may read a province's shelf
  // under more than one key (two of its prefectures), but the keys of a
  // group never overlap (partner codes and listed covers are outermost
  // codes), so an offer passes for one of them at most (asserted).
  const OfferQuery query{p.max_price, p.remaining_kg,
                         std::min(p.min_lot_kg, p.remaining_kg),
                         p.budget_left()};
  // under: the prefecture or county searched, whose offers sit on its
  // province's shelf among its neighbours' (0 on a province's or the
  // national shelf: all its offers are under the region searched).
  auto scan = [&](const OfferTree& tree, bool skip_partners, int32_t under) {
    // A tree whose first expiry is later than the last of a full `best`
    // has nothing better: skipped without reading its nodes.
    if (best.size() == k && tree.AllAfter(best.back())) return;
    OfferQuery q = query;
    if (under != 0) q.prefectures = PrefectureBit(under);
    tree.ForEachPassing(offer_nodes_, q, [&](const OfferKey& key) {
      if (best.size() == k && !(key < best.back())) return false;
      const OfferRecord& o = offers_[key.offer_id - 1];
      const bool passed_over =
          (skip_partners && AnyCovers(partner_west, o.region)) ||
          (under != 0 && !RegionCovers(under, o.region));
      if (!passed_over && FillQuantity(o, p, o.floor_price) > 0) {
        assert(std::none_of(best.begin(), best.end(), [&](const OfferKey& b) {
          return b.offer_id == key.offer_id;
        }));
        best.insert(std::upper_bound(best.begin(), best.end(), key), key);
        if (best.size() > k) best.pop_back();
        // Every later offer of this tree ranks below this one.
        if (best.size() == k && best.back() == key) return false;
      }
      return true;
    });
  };
  const int lowest_grade = static_cast<int>(p.min_grade);
  for (SearchGroup group : kSearchGroups) {
    best.clear();
    const bool partner_group = IsPartnerGroup(group);
    const bool priority = IsPriorityGroup(group);
    const CodeSet& keys = partner_group ? partner_keys : other_keys;
    for (uint32_t product : products) {
      for (int grade = 1; grade <= lowest_grade; ++grade) {
        for (int cert = p.require_certified ? 1 : 0; cert <= 1; ++cert) {
          for (int32_t region_key : keys) {
            const int32_t shelf = ShelfRegion(region_key);
            auto it = offer_trees_.find(OfferShelfKey(
                product, static_cast<Grade>(grade), cert, priority, shelf));
            if (it != offer_trees_.end()) {
              scan(it->second, !partner_group,
                   shelf == region_key ? 0 : region_key);
            }
          }
        }
      }
    }
    // Every offer of a group ranks above every offer of the next.
    for (const OfferKey& key : best) out->push_back(key.offer_id);
    k -= best.size();
    if (k == 0) return;
  }
}

absl::InlinedVector<uint32_t, 4> OrderIndex::ProductsBidding(
    const OfferRecord& o) const {
  // The book's highest max per product covers every indexed pledge; most
  // offers ask more than any and stop here without reading a tree.
  absl::InlinedVector<uint32_t, 4> products;
  for (uint32_t product : products_.node(o.product).chain) {
    if (books_.HasPledgeAtOrAbove(product, o.floor_price)) {
      products.push_back(product);
    }
  }
  return products;
}

template <typename Fn>
void OrderIndex::ForEachPledgeTree(const OfferRecord& o,
                                   absl::Span<const uint32_t> products,
                                   const RegionChain& chain,
                                   const CodeSet& partner_east,
                                   bool partner_phase, Fn fn) const {
  // Outside the partner phase, pledges of partner cities were already
  // offered the chance; with no partners at all there is nothing to skip.
  const PartnerFilter others = partner_east.empty()
                                   ? PartnerFilter::kEither
                                   : PartnerFilter::kNonPartnersOnly;
  auto scan = [&](uint64_t shelf, PartnerFilter filter) {
    auto it = pledge_trees_.find(shelf);
    if (it != pledge_trees_.end()) fn(it->second, filter);
  };
  for (uint32_t product : products) {
    for (int grade = static_cast<int>(o.grade); grade <= 3; ++grade) {
      for (int cert = 0; cert <= (o.certified ? 1 : 0); ++cert) {
        auto key = [&](ScopeFamily family, int32_t region_key) {
          return PledgeShelfKey(product, static_cast<Grade>(grade), cert,
                                family, region_key);
        };
        if (partner_phase) {
          for (int32_t east : partner_east) {
            scan(key(ScopeFamily::kAny, east), PartnerFilter::kEither);
            scan(key(ScopeFamily::kPartnersOnly, east), PartnerFilter::kEither);
          }
          if (!partner_east.empty()) {
            for (int32_t code : chain) {
              scan(key(ScopeFamily::kListed, code),
                   PartnerFilter::kPartnersOnly);
            }
          }
        } else {
          scan(key(ScopeFamily::kAny, 0), others);
          for (int32_t code : chain) {
            scan(key(ScopeFamily::kListed, code), others);
          }
        }
      }
    }
  }
}

bool OrderIndex::PledgeTakes(const OfferRecord& o, const PledgeRecord& p,
                             const CodeSet& partner_east,
                             PartnerFilter filter) const {
  if (filter != PartnerFilter::kEither &&
      AnyCovers(partner_east, p.city) !=
          (filter == PartnerFilter::kPartnersOnly)) {
    return false;
  }
  return FillQuantity(o, p, p.max_price) > 0;
}

uint64_t OrderIndex::BestPledgeFor(uint64_t offer_id,
                                   const CodeSet& partner_east) const {
  const OfferRecord& o = offers_[offer_id - 1];
  const absl::InlinedVector<uint32_t, 4> products = ProductsBidding(o);
  if (products.empty()) return 0;
  const RegionChain chain = RegionChainOf(o.region);
  bool found = false;
  PledgeKey best;
  for (const bool partner_phase : {true, false}) {
    // Reads each tree in order, up to the first pledge that fits.
    ForEachPledgeTree(
        o, products, chain, partner_east, partner_phase,
        [&](const PledgeTree& tree, PartnerFilter filter) {
          for (const PledgeKey& key : tree) {
            if (-key.neg_price < o.floor_price) return;  // the rest cheaper
            if (found && !(key < best)) return;
            if (!PledgeTakes(o, pledges_[key.id - 1], partner_east, filter)) {
              continue;
            }
            best = key;
            found = true;
            return;
          }
        });
    if (found) return best.id;
  }
  return 0;
}

void OrderIndex::BestPledgesFor(uint64_t offer_id, const CodeSet& partner_east,
                                size_t k, PledgeIds* out) const {
  const OfferRecord& o = offers_[offer_id - 1];
  const absl::InlinedVector<uint32_t, 4> products = ProductsBidding(o);
  if (k == 0 || products.empty()) return;
  const RegionChain chain = RegionChainOf(o.region);
  // The best pledges of the phase being read, in order, at most `k` (less
  // what the partner phase gave). A pledge sits on several trees a phase
  // may read (its city's chain): it is kept once.
  absl::InlinedVector<PledgeKey, 16> best;
  for (const bool partner_phase : {true, false}) {
    best.clear();
    // Reads each tree in order while its pledges can still be among the
    // best.
    ForEachPledgeTree(
        o, products, chain, partner_east, partner_phase,
        [&](const PledgeTree& tree, PartnerFilter filter) {
          for (const PledgeKey& key : tree) {
            if (-key.neg_price < o.floor_price) return;  // the rest cheaper
            if (best.size() == k && !(key < best.back())) return;
            if (!PledgeTakes(o, pledges_[key.id - 1], partner_east, filter)) {
              continue;
            }
            auto at = std::lower_bound(best.begin(), best.end(), key);
            if (at != best.end() && *at == key) continue;  // another tree's
            best.insert(at, key);
            if (best.size() > k) best.pop_back();
            // Every later pledge of this tree ranks below this one.
            if (best.size() == k && best.back() == key) return;
          }
        });
    for (const PledgeKey& key : best) out->push_back(key.id);
    k -= best.size();
    if (k == 0) return;
  }
}

const OfferTree* OrderIndex::NationalShelf(uint32_t product, Grade grade,
                                           bool certified,
                                           bool priority) const {
  auto it =
      offer_trees_.find(OfferShelfKey(product, grade, certified, priority, 0));
  return it == offer_trees_.end() ? nullptr : &it->second;
}

void OrderIndex::PledgesOf(uint32_t product, std::vector<uint64_t>* ids) const {
  // A pledge sits on one to several shelves of its product, keyed by its
  // scope's regions: every shelf of the product is read, and each id kept
  // once.
  const size_t first = ids->size();
  for (const auto& [shelf, tree] : pledge_trees_) {
    if ((shelf >> 28) != product) continue;
    for (const PledgeKey& key : tree) ids->push_back(key.id);
  }
  std::sort(ids->begin() + first, ids->end());
  ids->erase(std::unique(ids->begin() + first, ids->end()), ids->end());
}

std::string OrderIndex::Check() const {
  // What the shelves should hold, rebuilt from the records.
  absl::flat_hash_map<uint64_t, std::vector<std::pair<OfferKey, OfferFit>>>
      want_offers;
  for (uint64_t id = 1; id <= offers_.size(); ++id) {
    const OfferRecord& o = offers_[id - 1];
    if (o.status != OrderStatus::kOpen) continue;
    ForEachOfferShelf(o, [&](uint64_t shelf) {
      want_offers[shelf].push_back({KeyOf(o, id), FitOf(o)});
    });
  }
  if (want_offers.size() != offer_trees_.size()) {
    return absl::StrCat("offer shelves: ", offer_trees_.size(), ", expected ",
                        want_offers.size());
  }
  size_t nodes = 0;
  for (auto& [shelf, want] : want_offers) {
    auto it = offer_trees_.find(shelf);
    if (it == offer_trees_.end()) {
      return absl::StrCat("offer shelf ", shelf, " is missing");
    }
    std::vector<std::pair<OfferKey, OfferFit>> have;
    if (!it->second.Check(offer_nodes_, &have)) {
      return absl::StrCat("offer shelf ", shelf, " is malformed");
    }
    std::sort(want.begin(), want.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    if (have.size() != want.size()) {
      return absl::StrCat("offer shelf ", shelf, " holds ", have.size(),
                          " offers, expected ", want.size());
    }
    for (size_t i = 0; i < want.size(); ++i) {
      if (!(have[i].first == want[i].first) ||
          have[i].second.lot_kg != want[i].second.lot_kg ||
          have[i].second.remaining_kg != want[i].second.remaining_kg ||
          have[i].second.prefecture_bit != want[i].second.prefecture_bit) {
        return absl::StrCat("offer shelf ", shelf, ": offer ",
                            want[i].first.offer_id, " is out of date");
      }
    }
    nodes += have.size();
  }
  if (nodes != offer_nodes_.live()) {
    return absl::StrCat("offer nodes: ", offer_nodes_.live(), " live, ", nodes,
                        " on shelves");
  }
  absl::flat_hash_map<uint64_t, PledgeTree> want_pledges;
  for (uint64_t id = 1; id <= pledges_.size(); ++id) {
    const PledgeRecord& p = pledges_[id - 1];
    if (p.status != OrderStatus::kOpen) continue;
    ForEachPledgeShelf(p, [&](uint64_t shelf) {
      want_pledges[shelf].insert(PledgeKeyOf(p, id));
    });
  }
  if (want_pledges != pledge_trees_) return "pledge shelves differ";
  return "";
}

}  // namespace duijie
