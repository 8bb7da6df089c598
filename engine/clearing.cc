// Batch clearing: the products under a clearing policy (SetClearingPolicy)
// are not matched on arrival but at each clearing (ClearCommand), at every
// multiple of the policy's interval.
//
// Between clearings an order of such a product rests without matching,
// unless it expires at or before the next clearing: then it matches at once
// by the continuous rules, since waiting would lose it (HeldForClearing).
//
// At a clearing, the buyers take what is about to rot first, and the
// produce that can still wait is held back for later clearings, where it
// may be the produce about to rot (Akbarpour, Li and Oveis Gharan,
// "Thickness and Information in Dynamic Matching Markets": when the
// planner knows when agents leave, matching those about to leave is close
// to optimal). Waiting helps only on the side in excess, which in a glut is
// the produce: a pledge held back sells nothing more later, and may be
// cancelled or run out meanwhile (measured in docs/ALLOCATION.md: holding
// pledges as well sold 2 to 3 points of the optimum less). So at a clearing
// with horizon H (the next clearing time):
//  1. The clearing's orders are every resting pledge of the policy and the
//     offers of the policy with expires_at <= H (the urgent ones).
//  2. Each of them brings its best counterparts, up to kCandidates of
//     them, found by the book's own searches in the continuous priority
//     (BestPledgesFor, BestOffersFor: each finds the best k at once), so
//     every pair is compatible and its lots can be met; an offer that can
//     wait enters the clearing only as a pledge's candidate.
//  3. A min-cost flow over those pairs (clearing_flow.h) maximises the kg
//     traded and, among the answers trading as many kg, prefers partner
//     pairs, then key-assisted and relocation-site origins, then the offer
//     nearest its expiry, then the lowest floor (the costs below). A pledge
//     whose budget would not pay for its remaining kg at its max price
//     prefers partner pairs, then the cheapest produce: for it the price
//     decides how many kg its money buys (measured in docs/ALLOCATION.md:
//     0.7 to 0.9 point more of the optimum's kg on each glut week, partner
//     share within 0.4 point).
//  4. The engine carries the flow out pair by pair in that order of
//     preference: each pair fills ClearingQuantity (records.h), which the
//     lots and the budget allow, so no trade breaks a rule that a
//     continuous fill keeps; a pair the earlier trades have made
//     impossible is skipped.
//  5. The clearing's orders with kg left then match once more by the
//     continuous search (Rematch), which takes up what rounding to lots
//     left over.
// Every trade of a clearing is priced at the offer's floor: the buyer's
// money goes further.
#include <algorithm>
#include <limits>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/clearing_flow.h"
#include "engine/codes.h"
#include "engine/engine_impl.h"
#include "engine/price_bands.h"
#include "engine/violations.h"

namespace duijie {
namespace {

constexpr Micros kSecond = 1000 * 1000;
constexpr Micros kHourMicros = 3600 * kSecond;
constexpr Micros kMaxClearingInterval = 7 * 24 * kHourMicros;
constexpr Micros kNever = std::numeric_limits<Micros>::max();
// Policies the engine keeps at most (one per product category is the use).
constexpr size_t kMaxClearingPolicies = 1024;
// Counterparts each of a clearing's orders brings into it.
constexpr int kCandidates = 8;

// A pair's cost per kg, in [0, kMaxClearingCost): the terms' weights are
// powers of two that each exceed the sum of the ones after, so the order of
// preference is strict.
constexpr int64_t kNotPartnerCost = int64_t{1} << 26;
constexpr int64_t kNotPriorityOriginCost = int64_t{1} << 25;
constexpr int64_t kPerHourToExpiryCost = int64_t{1} << 11;  // up to 2^13 h
constexpr int64_t kMaxHoursCounted = (int64_t{1} << 13) - 1;
constexpr int64_t kMaxFloorCounted = (int64_t{1} << 11) - 1;  // fen per kg
static_assert(kNotPartnerCost + kNotPriorityOriginCost +
                  kPerHourToExpiryCost * kMaxHoursCounted + kMaxFloorCounted <
              kMaxClearingCost);
// For a pledge that its budget holds back (BudgetBound), the floor's price band
// (price_bands.h: sixteenths of an octave, so that cheap vegetables and dear
// teas alike are told apart) comes second, after partners.
constexpr int64_t kPerFloorBandCost = int64_t{1} << 16;
constexpr int64_t kBoundNotPriorityOriginCost = int64_t{1} << 15;
constexpr int64_t kBoundMaxHoursCounted = (int64_t{1} << 15) - 1;
static_assert(kNotPartnerCost + kPerFloorBandCost * (kPriceBands - 1) +
                  kBoundNotPriorityOriginCost + kBoundMaxHoursCounted <
              kMaxClearingCost);
// Each term outweighs all the terms after it, in both orders.
static_assert(kNotPartnerCost > kPerFloorBandCost * (kPriceBands - 1) +
                                    kBoundNotPriorityOriginCost +
                                    kBoundMaxHoursCounted);
static_assert(kPerFloorBandCost >
              kBoundNotPriorityOriginCost + kBoundMaxHoursCounted);
static_assert(kBoundNotPriorityOriginCost > kBoundMaxHoursCounted);
static_assert(kNotPartnerCost > kNotPriorityOriginCost +
                                    kPerHourToExpiryCost * kMaxHoursCounted +
                                    kMaxFloorCounted);
static_assert(kNotPriorityOriginCost >
              kPerHourToExpiryCost * kMaxHoursCounted + kMaxFloorCounted);
static_assert(kPerHourToExpiryCost > kMaxFloorCounted);

// Whether the pledge's budget may limit what it can still buy: at its max
// price the budget left pays for less than its remaining kg. (At the
// floors a clearing trades at, it may still pay for all of them; the
// cheaper produce then costs the pledge nothing.)
bool BudgetBound(const PledgeRecord& p) {
  return p.budget_left() >= 0 && p.budget_left() / p.max_price < p.remaining_kg;
}

// A pair's cost per kg (the order of preference of step 3 above).
int64_t PairCost(const OfferRecord& o, const PledgeRecord& p, bool partner,
                 Micros now) {
  const int64_t hours = (o.expires_at - now) / kHourMicros;
  const int64_t not_partner = partner ? 0 : kNotPartnerCost;
  if (BudgetBound(p)) {
    return not_partner + PriceBandOf(o.floor_price) * kPerFloorBandCost +
           (o.priority ? 0 : kBoundNotPriorityOriginCost) +
           std::min(hours, kBoundMaxHoursCounted);
  }
  return not_partner + (o.priority ? 0 : kNotPriorityOriginCost) +
         std::min(hours, kMaxHoursCounted) * kPerHourToExpiryCost +
         std::min<int64_t>(o.floor_price, kMaxFloorCounted);
}

// The first multiple of `interval` after `now`.
Micros NextMultiple(Micros now, Micros interval) {
  return (now / interval + 1) * interval;
}

}  // namespace

// --- Policies

const std::pair<const std::string, Engine::Impl::ClearingPolicy>*
Engine::Impl::PolicyOf(uint32_t product) const {
  // The product and its ancestors, nearest first, then the "" policy.
  for (uint32_t node : products_.node(product).chain) {
    const std::string_view code = products_.code(node);
    auto it = clearing_.find(absl::string_view(code.data(), code.size()));
    if (it != clearing_.end()) return &*it;
  }
  auto it = clearing_.find("");
  return it == clearing_.end() ? nullptr : &*it;
}

bool Engine::Impl::HeldForClearing(bool offer, uint64_t id) const {
  const uint32_t product =
      offer ? offers_[id - 1].product : pledges_[id - 1].product;
  const Micros expires_at =
      offer ? offers_[id - 1].expires_at : pledges_[id - 1].expires_at;
  const auto* policy = PolicyOf(product);
  return policy != nullptr && expires_at > policy->second.next_at;
}

Micros Engine::Impl::NextClearingAt() const {
  Micros next = kNever;
  for (const auto& [prefix, policy] : clearing_) {
    next = std::min(next, policy.next_at);
  }
  return next;
}

Micros Engine::Impl::NextClearingOf(uint32_t product) const {
  if (clearing_.empty()) return 0;
  const auto* policy = PolicyOf(product);
  return policy == nullptr ? 0 : policy->second.next_at;
}

std::vector<ClearingPolicyResult> Engine::Impl::ClearingPolicies() const {
  std::vector<ClearingPolicyResult> out;
  for (const auto& [prefix, policy] : clearing_) {
    out.push_back({prefix, policy.interval, policy.next_at});
  }
  return out;
}

absl::Status Engine::Impl::Check(const SetClearingPolicyCommand& c,
                                 Micros) const {
  // Every field, so that a refusal names all that are bad (violations.h).
  Violations v;
  if (!c.product_prefix.empty()) {
    v.Add(CheckProductCode("product_prefix", c.product_prefix));
  }
  if (c.interval != 0 &&
      (c.interval < kSecond || c.interval > kMaxClearingInterval ||
       c.interval % kSecond != 0)) {
    v.Add(absl::InvalidArgumentError(absl::StrCat(
        "interval: ", c.interval,
        " us is not 0 (continuous) or a whole number of seconds from 1 s to "
        "7 days")));
  }
  // The room for one more policy is asked only of a sound request: after
  // a bad field, RESOURCE_EXHAUSTED would be left out anyway.
  if (v.ok() && c.interval != 0 && clearing_.size() >= kMaxClearingPolicies &&
      !clearing_.contains(c.product_prefix)) {
    v.Add(absl::ResourceExhaustedError(
        absl::StrCat("product_prefix: there are already ", kMaxClearingPolicies,
                     " clearing policies")));
  }
  return v.ToStatus();
}

ClearingPolicyResult Engine::Impl::Execute(const SetClearingPolicyCommand& c) {
  if (c.interval == 0) {
    if (clearing_.contains(c.product_prefix)) {
      // Back to continuous: a last clearing trades everything it can, so
      // that no order held for a clearing waits for one that never comes.
      ClearPolicy(c.product_prefix, kNever);
      clearing_.erase(c.product_prefix);
    }
    return {c.product_prefix, 0, 0};
  }
  ClearingPolicy& policy = clearing_[c.product_prefix];
  policy.interval = c.interval;
  policy.next_at = NextMultiple(now_, c.interval);
  // A clearing at once, up to the new next clearing: orders held for a
  // clearing that the change moved later (a longer interval, a narrower
  // prefix with its own times) would otherwise expire before it.
  ClearPolicy(c.product_prefix, policy.next_at);
  return {c.product_prefix, policy.interval, policy.next_at};
}

// --- Clearings

absl::Status Engine::Impl::Check(const ClearCommand&, Micros now) const {
  if (NextClearingAt() > now) {
    return absl::FailedPreconditionError(
        clearing_.empty() ? "no clearing policy is set: matching is continuous"
                          : "no clearing is due yet");
  }
  return absl::OkStatus();
}

ClearResult Engine::Impl::Execute(const ClearCommand&) {
  ClearResult result;
  result.now = now_;
  const uint64_t first_match = matches_.size();
  for (auto& [prefix, policy] : clearing_) {
    if (policy.next_at > now_) continue;
    // One clearing however many intervals went by without one; the next
    // is the first multiple after now.
    policy.next_at = NextMultiple(now_, policy.interval);
    ClearPolicy(prefix, policy.next_at);
    ++result.clearings;
  }
  result.matches = matches_.size() - first_match;
  if (result.matches > 0) result.first_match_id = first_match + 1;
  for (uint64_t i = first_match; i < matches_.size(); ++i) {
    result.kg += matches_[i].quantity_kg;
  }
  return result;
}

void Engine::Impl::ClearPolicy(const std::string& prefix, Micros horizon) {
  // 1. The clearing's orders, by tag (id * 2 + is_offer): in id order.
  // Every resting order has a live expiry entry.
  std::vector<uint64_t> cleared;
  expiries_.ForEachUntil(
      kNever, [this](uint64_t tag) { return ExpiryLive(tag); },
      [&](uint64_t tag) {
        const uint64_t id = tag >> 1;
        const bool offer = tag & 1;
        if (offer && offers_[id - 1].expires_at > horizon) return;
        const auto* policy = PolicyOf(offer ? offers_[id - 1].product
                                            : pledges_[id - 1].product);
        if (policy != nullptr && policy->first == prefix)
          cleared.push_back(tag);
      });
  std::sort(cleared.begin(), cleared.end());
  cleared.erase(std::unique(cleared.begin(), cleared.end()), cleared.end());
  if (cleared.empty()) return;

  // 2. Their candidates. Orders get dense indices as they appear.
  std::vector<uint64_t> offer_ids;
  std::vector<uint64_t> pledge_ids;
  absl::flat_hash_map<uint64_t, uint32_t> offer_at;
  absl::flat_hash_map<uint64_t, uint32_t> pledge_at;
  absl::flat_hash_set<std::pair<uint32_t, uint32_t>> paired;
  std::vector<ClearingPair> pairs;
  std::vector<bool> pair_partner;
  auto index_of = [](uint64_t id, std::vector<uint64_t>& ids,
                     absl::flat_hash_map<uint64_t, uint32_t>& at) {
    auto [it, added] = at.try_emplace(id, static_cast<uint32_t>(ids.size()));
    if (added) ids.push_back(id);
    return it->second;
  };
  absl::flat_hash_map<int32_t, CodeSet> west_of_city;
  auto partner_west = [&](int32_t city) -> const CodeSet& {
    auto it = west_of_city.find(city);
    if (it == west_of_city.end()) {
      it = west_of_city.emplace(city, reference_.PartnerWestCodes(city)).first;
    }
    return it->second;
  };
  auto add_pair = [&](uint64_t offer_id, uint64_t pledge_id) {
    const uint32_t oi = index_of(offer_id, offer_ids, offer_at);
    const uint32_t pi = index_of(pledge_id, pledge_ids, pledge_at);
    if (!paired.insert({oi, pi}).second) return;
    const OfferRecord& o = offers_[offer_id - 1];
    const PledgeRecord& p = pledges_[pledge_id - 1];
    int64_t capacity = std::min(o.remaining_kg, p.remaining_kg);
    if (p.budget_left() >= 0) {
      capacity = std::min(capacity, p.budget_left() / o.floor_price);
    }
    const bool partner = AnyCovers(partner_west(p.city), o.region);
    pairs.push_back({oi, pi, capacity, PairCost(o, p, partner, now_)});
    pair_partner.push_back(partner);
  };
  for (uint64_t tag : cleared) {
    const uint64_t id = tag >> 1;
    if (tag & 1) {
      OrderIndex::PledgeIds pledges;
      index_.BestPledgesFor(id,
                            reference_.PartnerEastCodes(offers_[id - 1].region),
                            kCandidates, &pledges);
      for (uint64_t pledge_id : pledges) add_pair(id, pledge_id);
    } else {
      OrderIndex::OfferIds offers;
      index_.BestOffersFor(id, partner_west(pledges_[id - 1].city), kCandidates,
                           &offers);
      for (uint64_t offer_id : offers) add_pair(offer_id, id);
    }
  }

  // 3. The flow.
  std::vector<int64_t> offer_kg(offer_ids.size());
  for (size_t i = 0; i < offer_ids.size(); ++i) {
    offer_kg[i] = offers_[offer_ids[i] - 1].remaining_kg;
  }
  std::vector<int64_t> pledge_kg(pledge_ids.size());
  for (size_t j = 0; j < pledge_ids.size(); ++j) {
    pledge_kg[j] = pledges_[pledge_ids[j] - 1].remaining_kg;
  }
  const std::vector<int64_t> flows =
      SolveClearingFlow(offer_kg, pledge_kg, pairs);

  // 4. The trades, most preferred first.
  std::vector<size_t> order;
  for (size_t k = 0; k < pairs.size(); ++k) {
    if (flows[k] > 0) order.push_back(k);
  }
  auto key = [&](size_t k) {
    return std::make_tuple(pairs[k].cost, offer_ids[pairs[k].offer],
                           pledge_ids[pairs[k].pledge]);
  };
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return key(a) < key(b); });
  for (size_t k : order) {
    const uint64_t offer_id = offer_ids[pairs[k].offer];
    const uint64_t pledge_id = pledge_ids[pairs[k].pledge];
    const OfferRecord& o = offers_[offer_id - 1];
    const PledgeRecord& p = pledges_[pledge_id - 1];
    if (o.status != OrderStatus::kOpen || p.status != OrderStatus::kOpen) {
      continue;
    }
    const int64_t q = ClearingQuantity(o, p, o.floor_price, flows[k]);
    if (q == 0) continue;
    FillResting(offer_id, pledge_id, q, pair_partner[k]);
  }

  // 5. What rounding left of the clearing's orders.
  for (uint64_t tag : cleared) {
    const uint64_t id = tag >> 1;
    const bool offer = tag & 1;
    const OrderStatus status =
        offer ? offers_[id - 1].status : pledges_[id - 1].status;
    if (status == OrderStatus::kOpen) Rematch(offer, id);
  }
}

void Engine::Impl::FillResting(uint64_t offer_id, uint64_t pledge_id, int64_t q,
                               bool partner) {
  // The pledge comes off its shelves and fills as if it arrived (Fill then
  // closes the offer or tells its shelves its new size), then goes back.
  PledgeRecord& p = pledges_[pledge_id - 1];
  index_.RemovePledge(pledge_id);
  books_.PledgeLeft(p.product, p.remaining_kg, p.max_price);
  AlertsPledgeOut(pledge_id);
  Fill(offer_id, pledge_id, offers_[offer_id - 1].floor_price, partner,
       /*incoming_pledge=*/true, q);
  if (p.status == OrderStatus::kOpen) {
    index_.AddPledge(pledge_id);
    books_.PledgeRested(p.product, p.remaining_kg, p.max_price);
    AlertsPledgeIn(pledge_id);
  } else {
    CountOpen(open_pledges_by_buyer_, p.buyer, -1);
  }
}

void Engine::Impl::Rematch(bool offer, uint64_t id) {
  // An offer, as an amendment does: off the shelves and book totals,
  // matched as the incoming order, back on them if anything is left. Its
  // expiry entry stays, since its expiry does not change.
  if (offer) {
    OfferRecord& o = offers_[id - 1];
    index_.RemoveOffer(id);
    books_.OfferLeft(o.product, o.remaining_kg, o.floor_price);
    AlertsOfferOut(id);
    MatchIncoming(/*offer=*/true, id, /*at_floor=*/true);
    if (o.status == OrderStatus::kOpen) {
      index_.AddOffer(id);
      books_.OfferRested(o.product, o.remaining_kg, o.floor_price);
      AlertsOfferIn(id);
    } else {
      CountOpen(open_offers_by_supplier_, o.supplier, -1);
    }
  } else {
    // The same fills as MatchIncoming's for an incoming pledge, but a
    // pledge's search reads only the offers' shelves: it stays on its own
    // while it searches, and only a fill takes it off and back
    // (FillResting), so a pledge that finds nothing costs one search.
    const CodeSet west = reference_.PartnerWestCodes(pledges_[id - 1].city);
    while (pledges_[id - 1].status == OrderStatus::kOpen) {
      const uint64_t offer_id = index_.BestOfferFor(id, west);
      if (offer_id == 0) break;
      const OfferRecord& o = offers_[offer_id - 1];
      FillResting(offer_id, id,
                  FillQuantity(o, pledges_[id - 1], o.floor_price),
                  AnyCovers(west, o.region));
    }
  }
}

}  // namespace duijie
