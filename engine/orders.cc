// Orders: posting (with matching), amending, cancelling, filling, resting
// and closing. See engine.h for the contract.
//
// Rules (continuous matching; an order matches on arrival, the rest rests):
// - Compatible: the offer's product is the pledge's or under it; offer grade
//   at least min_grade; certified if required; floor <= max; both open and
//   unexpired (expires_at is exclusive); the offer's region allowed by the
//   pledge's scope.
// - A fill of q kg needs q >= the pledge's min lot or q == all it has left,
//   and the same for the offer. q is the largest quantity within both
//   remainders and the pledge's budget at the trade price; if that q is not
//   allowed, no smaller one is either, so the candidate is skipped
//   (FillQuantity, records.h).
// - The trade price is the resting order's price.
// - Incoming pledge, over resting offers: partner region, then priority
//   region (key-assisted county or relocation site), then earliest expiry,
//   lowest floor, earliest in the queue. Incoming offer, over resting
//   pledges: partner buyer, then highest max price, then earliest in the
//   queue. The queue is posting order, except that an amendment with worse
//   terms for the other side sends its order to the back (the seq of
//   records.h).
// - An amended order is taken off the book, changed, and matched as the
//   incoming order before it rests again.
// After every fill the search starts again from the top, because a fill
// changes what fits (a smaller remainder can make a skipped lot fit).
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/codes.h"
#include "engine/engine_impl.h"
#include "engine/text.h"
#include "engine/violations.h"

namespace duijie {
namespace {

absl::Status Invalid(std::string_view field, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(Absl(field), ": ", Absl(why)));
}

absl::Status CheckId(std::string_view field, std::string_view id) {
  if (id.empty()) return Invalid(field, "is empty");
  return CheckMaxBytes(field, id, kMaxIdBytes);
}

absl::Status CheckRange(std::string_view field, int64_t value, int64_t lo,
                        int64_t hi) {
  if (value < lo || value > hi) {
    return Invalid(
        field, absl::StrCat(value, " is out of range [", lo, ", ", hi, "]"));
  }
  return absl::OkStatus();
}

// Whether one more `kind` ("offer", "pledge") can have an id, when `given`
// have been given out and ids run up to `max`. Asked only of a request
// that is otherwise sound (as the room for a clearing policy is); replay
// asks too, and decides as the first run did.
absl::Status CheckIdRoom(std::string_view kind, size_t given, uint64_t max) {
  if (given < max) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "max_", Absl(kind), "_id: every ", Absl(kind), " id up to ", max,
      " has been given out; no more ", Absl(kind), "s can be posted"));
}

absl::Status CheckExpiry(std::string_view field, Micros expires_at,
                         Micros now) {
  if (expires_at <= now) {
    return Invalid(
        field, absl::StrCat(expires_at, " us since epoch is not after now (",
                            now, ")"));
  }
  return absl::OkStatus();
}

// A duration as people read it: "1h", "29m59s", "0s" (whole seconds).
std::string DurationText(Micros d) {
  const int64_t total = d / 1000000;
  const int64_t h = total / 3600, m = total / 60 % 60, sec = total % 60;
  std::string out;
  if (h != 0) absl::StrAppend(&out, h, "h");
  if (m != 0) absl::StrAppend(&out, m, "m");
  if (sec != 0 || out.empty()) absl::StrAppend(&out, sec, "s");
  return out;
}

// An offer's expiry (already after now) must leave `lead` (EngineOptions::
// min_offer_lead) to match and ship the goods before they spoil.
absl::Status CheckOfferLead(std::string_view field, Micros expires_at,
                            Micros now, Micros lead) {
  if (expires_at - now >= lead) return absl::OkStatus();
  return Invalid(
      field,
      absl::StrCat(expires_at, " us since epoch is only ",
                   DurationText(expires_at - now), " after now (", now,
                   "); an offer must stay open at least ", DurationText(lead),
                   ", time to be matched and shipped before it spoils"));
}

absl::Status CheckAmount(std::string_view field, int64_t kg,
                         int64_t fen_per_kg) {
  int64_t product;
  if (__builtin_mul_overflow(kg, fen_per_kg, &product)) {
    return Invalid(field, absl::StrCat(kg, " kg at ", fen_per_kg,
                                       " fen/kg overflows a 64-bit amount"));
  }
  return absl::OkStatus();
}

// A pledge's budget (0: none) must buy one lot (min_lot_kg, or 1 kg when it
// has none) at its max price: a smaller one could never trade with an
// offer at that price. Called once min_lot_kg <= the quantity, whose amount
// at max_price was checked; a lot whose price would overflow anyway costs
// more than any budget.
absl::Status CheckBudgetBuysALot(std::string_view field, int64_t budget_fen,
                                 int64_t min_lot_kg, int64_t max_price) {
  const int64_t lot = std::max<int64_t>(min_lot_kg, 1);
  int64_t lot_fen = 0;
  const bool overflows = __builtin_mul_overflow(lot, max_price, &lot_fen);
  if (budget_fen == 0 || (!overflows && budget_fen >= lot_fen)) {
    return absl::OkStatus();
  }
  if (overflows) {
    return Invalid(field, absl::StrCat(GroupThousands(budget_fen),
                                       " cannot buy one min lot of ",
                                       GroupThousands(lot), " kg at max price ",
                                       GroupThousands(max_price), " fen/kg"));
  }
  if (min_lot_kg == 0) {
    return Invalid(field, absl::StrCat(GroupThousands(budget_fen),
                                       " cannot buy one kg at max price ",
                                       GroupThousands(max_price), " fen/kg"));
  }
  return Invalid(field,
                 absl::StrCat(GroupThousands(budget_fen),
                              " cannot buy one min lot (", GroupThousands(lot),
                              " kg at max price ", GroupThousands(max_price),
                              " fen/kg = ", GroupThousands(lot_fen), " fen)"));
}

// A deadline's length as posted: 0 (the default) or one an order may hold
// (DeadlineLengthHeld).
absl::Status CheckWithin(std::string_view field, Micros within) {
  if (within == 0 || DeadlineLengthHeld(within)) return absl::OkStatus();
  return Invalid(
      field,
      absl::StrCat(within, " us is out of range [", kMinDeadlineWithin, ", ",
                   kMaxDeadlineWithin, "] (0: the default of 7 days)"));
}

// An amended quantity: in range, and not below what was already matched
// (equal to it fills the order).
absl::Status CheckAmendedQuantity(int64_t quantity, int64_t matched) {
  absl::Status s = CheckRange("quantity_kg", quantity, 1, kMaxQuantityKg);
  if (s.ok() && quantity < matched) {
    s = Invalid("quantity_kg", absl::StrCat(quantity, " is below the ", matched,
                                            " kg already matched"));
  }
  return s;
}

const char* StatusName(OrderStatus s) {
  switch (s) {
    case OrderStatus::kOpen:
      return "OPEN";
    case OrderStatus::kFilled:
      return "FILLED";
    case OrderStatus::kCancelled:
      return "CANCELLED";
    case OrderStatus::kExpired:
      return "EXPIRED";
  }
  return "UNKNOWN";
}

// NOT_FOUND or FAILED_PRECONDITION unless order `id` of `count` exists and
// is open at `now`. `kind` is "offer" or "pledge"; `done` what the command
// does to it ("cancelled", "amended").
absl::Status CheckCancellable(std::string_view kind, uint64_t id,
                              uint64_t count, OrderStatus status,
                              Micros expires_at, Micros now,
                              std::string_view done = "cancelled") {
  if (id == 0 || id > count) {
    return absl::NotFoundError(
        absl::StrCat("id: ", Absl(kind), " ", id, " does not exist"));
  }
  const OrderStatus effective = EffectiveStatus(status, expires_at, now);
  if (effective != OrderStatus::kOpen) {
    return absl::FailedPreconditionError(
        absl::StrCat("id: ", Absl(kind), " ", id, " is ", StatusName(effective),
                     "; only an OPEN ", Absl(kind), " can be ", Absl(done)));
  }
  return absl::OkStatus();
}

// A pledge's scope and listed regions as PostPledge and AmendPledge take
// them; field names start with `prefix` ("pledge." or "").
absl::Status CheckScope(const ReferenceData& reference, std::string_view prefix,
                        int scope, const std::vector<std::string>& codes) {
  // Every pledge comes through here: field names are built for a refusal
  // only.
  auto field = [&](std::string_view name) {
    return absl::StrCat(Absl(prefix), Absl(name));
  };
  if (scope < 0 || scope > kMaxScope) {
    return CheckRange(field("scope"), scope, 0, kMaxScope);
  }
  const bool listed_scope = scope == static_cast<int>(Scope::kListedRegions);
  if (listed_scope && codes.empty()) {
    return Invalid(field("region_codes"),
                   "is empty but scope is LISTED_REGIONS");
  }
  if (!listed_scope && !codes.empty()) {
    return Invalid(field("region_codes"),
                   "is only allowed with scope LISTED_REGIONS");
  }
  if (codes.size() > kMaxListedRegions) {
    return Invalid(field("region_codes"),
                   absl::StrCat("has ", codes.size(), " codes; at most ",
                                kMaxListedRegions));
  }
  for (size_t i = 0; i < codes.size(); ++i) {
    int32_t code;
    if (!reference.CheckKnownRegion("", codes[i], &code).ok()) {
      return reference.CheckKnownRegion(
          absl::StrCat(field("region_codes"), "[", i, "]"), codes[i], &code);
    }
  }
  return absl::OkStatus();
}

// The region codes of a validated list, as the records keep them.
std::vector<int32_t> ParseCodes(const std::vector<std::string>& texts) {
  std::vector<int32_t> codes;
  codes.reserve(texts.size());
  for (const std::string& text : texts) {
    int32_t code = 0;
    ParseRegionCode(text, &code);
    codes.push_back(code);
  }
  return codes;
}

// Whether every region scope `from` allows, scope `to` allows too (for
// every pairing the reference data may come to hold): then the change
// only helps offers, and the pledge keeps its place.
bool ScopeWidens(Scope from, const std::vector<int32_t>& from_listed, Scope to,
                 const std::vector<int32_t>& to_listed) {
  if (to == Scope::kAny) return true;
  if (from != to) return false;
  if (to == Scope::kPartnersOnly) return true;
  for (int32_t code : from_listed) {
    if (!AnyCovers(to_listed, code)) return false;
  }
  return true;
}

}  // namespace

// --- The book
// -------------------------------------------------------------------

void Engine::Impl::Rest(bool offer, uint64_t id) {
  if (offer) {
    const OfferRecord& o = offers_[id - 1];
    index_.AddOffer(id);
    books_.OfferRested(o.product, o.remaining_kg, o.floor_price);
    AlertsOfferIn(id);
    expiries_.Add(o.expires_at, ExpiryTag(id, true));
    CountOpen(open_offers_by_supplier_, o.supplier, +1);
  } else {
    const PledgeRecord& p = pledges_[id - 1];
    index_.AddPledge(id);
    books_.PledgeRested(p.product, p.remaining_kg, p.max_price);
    AlertsPledgeIn(id);
    expiries_.Add(p.expires_at, ExpiryTag(id, false));
    CountOpen(open_pledges_by_buyer_, p.buyer, +1);
  }
}

void Engine::Impl::Close(bool offer, uint64_t id, OrderStatus status) {
  // Its expiry entry stays; the clock skips it (ExpiryLive).
  if (offer) {
    OfferRecord& o = offers_[id - 1];
    index_.RemoveOffer(id);
    books_.OfferLeft(o.product, o.remaining_kg, o.floor_price);
    AlertsOfferOut(id);
    CountOpen(open_offers_by_supplier_, o.supplier, -1);
    o.status = status;
  } else {
    PledgeRecord& p = pledges_[id - 1];
    index_.RemovePledge(id);
    books_.PledgeLeft(p.product, p.remaining_kg, p.max_price);
    AlertsPledgeOut(id);
    CountOpen(open_pledges_by_buyer_, p.buyer, -1);
    p.status = status;
  }
}

void Engine::Impl::MatchIncoming(bool offer, uint64_t id, bool at_floor) {
  if (!clearing_.empty() && !at_floor && HeldForClearing(offer, id)) return;
  if (offer) {
    const CodeSet partner_east =
        reference_.PartnerEastCodes(offers_[id - 1].region);
    while (offers_[id - 1].status == OrderStatus::kOpen) {
      const uint64_t pledge_id = index_.BestPledgeFor(id, partner_east);
      if (pledge_id == 0) break;
      const PledgeRecord& p = pledges_[pledge_id - 1];
      Fill(id, pledge_id, at_floor ? offers_[id - 1].floor_price : p.max_price,
           AnyCovers(partner_east, p.city), /*incoming_pledge=*/false);
    }
  } else {
    const CodeSet partner_west =
        reference_.PartnerWestCodes(pledges_[id - 1].city);
    while (pledges_[id - 1].status == OrderStatus::kOpen) {
      const uint64_t offer_id = index_.BestOfferFor(id, partner_west);
      if (offer_id == 0) break;
      const OfferRecord& o = offers_[offer_id - 1];
      Fill(offer_id, id, o.floor_price, AnyCovers(partner_west, o.region),
           /*incoming_pledge=*/true);
    }
  }
}

void Engine::Impl::Rerank(int32_t region) {
  // Only the shelves depend on the flag (book totals and expiries do not).
  const bool priority = reference_.IsPriorityRegion(region);
  for (uint64_t id = 1; id <= offers_.size(); ++id) {
    OfferRecord& o = offers_[id - 1];
    if (o.region != region || o.status != OrderStatus::kOpen ||
        o.priority == priority) {
      continue;
    }
    index_.RemoveOffer(id);
    o.priority = priority;
    index_.AddOffer(id);
  }
}

void Engine::Impl::Fill(uint64_t offer_id, uint64_t pledge_id, int64_t price,
                        bool partner, bool incoming_pledge, int64_t q) {
  OfferRecord& o = offers_[offer_id - 1];
  PledgeRecord& p = pledges_[pledge_id - 1];
  if (q == 0) q = FillQuantity(o, p, price);
  // Cannot overflow: q x price <= quantity x price of the order whose price
  // it is, which was checked when that order was posted or amended.
  const int64_t amount = q * price;
  if (!p.has_members) {
    AddMatch(offer_id, pledge_id, q, price, partner, kNoText);
  } else {
    // One match per member with a part, in buyer_id order; the parts sum
    // to q, so the orders change exactly as for one match of q.
    const std::vector<PledgeMember>& members = pledge_members_[pledge_id];
    std::vector<int64_t> parts;
    SplitByShares(q, members, &parts);
    for (size_t i = 0; i < members.size(); ++i) {
      if (parts[i] == 0) continue;
      AddMatch(offer_id, pledge_id, parts[i], price, partner, members[i].buyer);
    }
  }
  if (incoming_pledge) {
    books_.OfferFilled(o.product, q);
    AlertsOfferFilled(offer_id, q);
  } else {
    books_.PledgeFilled(p.product, q);
    AlertsPledgeFilled(pledge_id, q);
  }
  o.remaining_kg -= q;
  p.remaining_kg -= q;
  p.spent_fen += amount;
  if (o.remaining_kg == 0) {
    if (incoming_pledge) {
      Close(/*offer=*/true, offer_id, OrderStatus::kFilled);
    } else {
      o.status = OrderStatus::kFilled;
    }
  } else if (incoming_pledge) {
    // The resting offer is smaller now: its shelves must know for the lots.
    index_.OfferResized(offer_id);
  }
  if (p.remaining_kg == 0 ||
      (p.budget_fen > 0 && p.spent_fen == p.budget_fen)) {
    if (incoming_pledge) {
      p.status = OrderStatus::kFilled;
    } else {
      Close(/*offer=*/false, pledge_id, OrderStatus::kFilled);
    }
  }
}

void Engine::Impl::AddMatch(uint64_t offer_id, uint64_t pledge_id, int64_t q,
                            int64_t price, bool partner, uint32_t member) {
  const OfferRecord& o = offers_[offer_id - 1];
  const PledgeRecord& p = pledges_[pledge_id - 1];
  // Cannot overflow: see Fill.
  MatchRecord match{offer_id, pledge_id, q, price, q * price, now_, partner};
  match.member = member;
  // Cannot overflow: ship_within is at most a year.
  match.ship_by = o.ship_within == kNoDeadline ? 0 : now_ + o.ship_within;
  match.updated_at = now_;
  matches_.push_back(match);
  const uint64_t match_id = matches_.size();
  LogMatchEvent(match_id);
  AddDeadlines(match_id);
  matches_by_supplier_[o.supplier].push_back(match_id);
  matches_by_buyer_[p.buyer].push_back(match_id);
  if (member != kNoText && member != p.buyer) {
    matches_by_buyer_[member].push_back(match_id);
  }
}

// --- Posting
// ------------------------------------------------------------------

absl::Status Engine::Impl::Check(const PostOfferCommand& c, Micros now) const {
  const OfferSpec& spec = c.offer;
  int32_t region;
  // Every field is checked, so that a refusal names all that are bad
  // (violations.h); a check that reads another field as valid is skipped
  // when that field is bad.
  Violations v;
  v.Add(CheckId("offer.supplier_id", spec.supplier_id));
  v.Add(reference_.CheckKnownRegion("offer.region_code", spec.region_code,
                                    &region));
  v.Add(CheckProductCode("offer.product_code", spec.product_code));
  v.Add(CheckRange("offer.grade", spec.grade, 1, 3));
  v.Add(CheckRange("offer.quantity_kg", spec.quantity_kg, 1, kMaxQuantityKg));
  v.Add(CheckRange("offer.floor_price_fen_per_kg", spec.floor_price_fen_per_kg,
                   1, kMaxPriceFenPerKg));
  const bool quantity_ok = !v.Bad("offer.quantity_kg");
  if (quantity_ok && !v.Bad("offer.floor_price_fen_per_kg")) {
    v.Add(CheckAmount("offer.quantity_kg", spec.quantity_kg,
                      spec.floor_price_fen_per_kg));
  }
  if (quantity_ok) {
    v.Add(CheckRange("offer.min_lot_kg", spec.min_lot_kg, 0, spec.quantity_kg));
  }
  v.Add(CheckRange("offer.households", spec.households, 0, INT32_MAX));
  v.Add(CheckExpiry("offer.expires_at", spec.expires_at, now));
  if (!v.Bad("offer.expires_at") && !replaying_) {
    v.Add(CheckOfferLead("offer.expires_at", spec.expires_at, now,
                         options_.min_offer_lead));
  }
  v.Add(CheckWithin("offer.ship_within", spec.ship_within));
  // Against the catalogue last, once the post is otherwise sound: what is
  // wrong with the offer itself comes first.
  if (v.ok()) {
    v.Add(catalogue_.CheckPosted("offer.product_code", spec.product_code,
                                 /*leaf=*/true));
  }
  if (v.ok()) v.Add(CheckIdRoom("offer", offers_.size(), kMaxOfferId));
  return v.ToStatus();
}

OfferResult Engine::Impl::Execute(const PostOfferCommand& c) {
  const OfferSpec& spec = c.offer;
  int32_t region = 0;
  ParseRegionCode(spec.region_code, &region);
  OfferRecord record{};
  record.supplier = strings_.Intern(spec.supplier_id);
  record.product = products_.Intern(spec.product_code);
  record.region = region;
  record.grade = static_cast<Grade>(spec.grade);
  record.certified = spec.certified;
  record.priority = reference_.IsPriorityRegion(region);
  record.status = OrderStatus::kOpen;
  record.quantity_kg = spec.quantity_kg;
  record.remaining_kg = spec.quantity_kg;
  // Validated above: the floor is at most kMaxPriceFenPerKg and households
  // at most INT32_MAX, so both fit the record's 32 bits.
  static_assert(kMaxPriceFenPerKg <= INT32_MAX);
  record.floor_price = static_cast<int32_t>(spec.floor_price_fen_per_kg);
  record.min_lot_kg = spec.min_lot_kg;
  record.households = static_cast<int32_t>(spec.households);
  record.expires_at = spec.expires_at;
  record.posted_at = now_;
  record.ship_within =
      spec.ship_within == 0 ? kDefaultShipWithin : spec.ship_within;
  record.seq = ++offer_seq_;
  offers_.push_back(record);
  const uint64_t id = offers_.size();
  offers_by_supplier_[record.supplier].push_back(id);

  const uint64_t first_match = matches_.size() + 1;
  MatchIncoming(/*offer=*/true, id);
  if (offers_[id - 1].status == OrderStatus::kOpen) Rest(/*offer=*/true, id);

  OfferResult result;
  result.offer = MakeOfferView(id, now_);
  result.matches = MatchRange(first_match, matches_.size() + 1 - first_match);
  return result;
}

absl::Status Engine::Impl::Check(const PostPledgeCommand& c, Micros now) const {
  const PledgeSpec& spec = c.pledge;
  int32_t city;
  const std::string* city_code = &spec.buyer_city_code;
  int kind = spec.buyer_kind;
  // Every field, as for an offer.
  Violations v;
  v.Add(CheckId("pledge.buyer_id", spec.buyer_id));
  const absl::Status resolved = ResolveBuyer(spec, &city_code, &kind);
  v.Add(resolved);
  // The city and kind checked are the resolved ones.
  if (resolved.ok()) {
    v.Add(reference_.CheckKnownRegion("pledge.buyer_city_code", *city_code,
                                      &city));
    v.Add(CheckRange("pledge.buyer_kind", kind, 1, kMaxBuyerKind));
  }
  v.Add(CheckProductCode("pledge.product_code", spec.product_code));
  v.Add(CheckRange("pledge.min_grade", spec.min_grade, 0, 3));
  v.Add(CheckRange("pledge.quantity_kg", spec.quantity_kg, 1, kMaxQuantityKg));
  v.Add(CheckRange("pledge.max_price_fen_per_kg", spec.max_price_fen_per_kg, 1,
                   kMaxPriceFenPerKg));
  const bool quantity_ok = !v.Bad("pledge.quantity_kg");
  const bool price_ok = !v.Bad("pledge.max_price_fen_per_kg");
  if (quantity_ok && price_ok) {
    v.Add(CheckAmount("pledge.quantity_kg", spec.quantity_kg,
                      spec.max_price_fen_per_kg));
  }
  v.Add(CheckRange("pledge.budget_fen", spec.budget_fen, 0, INT64_MAX));
  if (quantity_ok) {
    v.Add(
        CheckRange("pledge.min_lot_kg", spec.min_lot_kg, 0, spec.quantity_kg));
  }
  v.Add(CheckExpiry("pledge.expires_at", spec.expires_at, now));
  v.Add(CheckWithin("pledge.accept_within", spec.accept_within));
  CheckRecurrence(spec, now, &v);
  // Journals written before this rule may hold such budgets, and replay
  // must make what they made. The lot and price it reads must be valid,
  // and the quantity's amount too (asked afresh: CheckAmount came after
  // quantity_ok was taken).
  const bool lot_ok = !v.Bad("pledge.quantity_kg") &&
                      !v.Bad("pledge.max_price_fen_per_kg") &&
                      !v.Bad("pledge.min_lot_kg");
  if (!replaying_ && lot_ok) {
    if (!v.Bad("pledge.budget_fen")) {
      v.Add(CheckBudgetBuysALot("pledge.budget_fen", spec.budget_fen,
                                spec.min_lot_kg, spec.max_price_fen_per_kg));
    }
    if (spec.recurrence.period != 0 && !v.Bad("pledge.recurrence.budget_fen") &&
        !v.Bad("pledge.recurrence.period")) {
      v.Add(CheckBudgetBuysALot("pledge.recurrence.budget_fen",
                                spec.recurrence.budget_fen, spec.min_lot_kg,
                                spec.max_price_fen_per_kg));
    }
  }
  v.Add(CheckScope(reference_, "pledge.", spec.scope, spec.region_codes));
  // The members are checked against the alliance buyer_id names.
  if (!v.Bad("pledge.buyer_id")) v.Add(CheckMembers(spec));
  // Against the catalogue last, as for an offer; a pledge may name a
  // category.
  if (v.ok()) {
    v.Add(catalogue_.CheckPosted("pledge.product_code", spec.product_code,
                                 /*leaf=*/false));
  }
  if (v.ok()) v.Add(CheckIdRoom("pledge", pledges_.size(), kMaxPledgeId));
  return v.ToStatus();
}

absl::Status Engine::Impl::CheckMembers(const PledgeSpec& spec) const {
  const std::vector<MemberShare>& members = spec.members;
  if (members.empty()) return absl::OkStatus();
  if (members.size() > kMaxPledgeMembers) {
    return Invalid("pledge.members",
                   absl::StrCat("has ", members.size(), " members; at most ",
                                kMaxPledgeMembers));
  }
  // Whether buyer_id is an alliance at all, for a clearer message than a
  // member's; the scan of the registry only runs when no listed member is
  // in the alliance, which is an error either way.
  bool member_in_alliance = false;
  for (const MemberShare& m : members) {
    const Buyer* b = buyers_.Find(m.buyer_id);
    member_in_alliance |= b != nullptr && b->alliance_id == spec.buyer_id;
  }
  if (!member_in_alliance && buyers_.Members(spec.buyer_id).empty()) {
    return Invalid("pledge.buyer_id",
                   absl::StrCat(EchoValue(spec.buyer_id),
                                " is no alliance: no registered buyer has it "
                                "as alliance_id, so it cannot have members"));
  }
  int64_t total = 0;
  for (size_t i = 0; i < members.size(); ++i) {
    const MemberShare& m = members[i];
    const std::string id_field =
        absl::StrCat("pledge.members[", i, "].buyer_id");
    absl::Status s = CheckId(id_field, m.buyer_id);
    if (!s.ok()) return s;
    const Buyer* b = buyers_.Find(m.buyer_id);
    if (b == nullptr) {
      return Invalid(id_field, absl::StrCat(EchoValue(m.buyer_id),
                                            " is not a registered buyer"));
    }
    if (b->alliance_id != spec.buyer_id) {
      return Invalid(id_field,
                     absl::StrCat(EchoValue(m.buyer_id), " is in alliance ",
                                  EchoValue(b->alliance_id), ", not ",
                                  EchoValue(spec.buyer_id)));
    }
    for (size_t j = 0; j < i; ++j) {
      if (members[j].buyer_id == m.buyer_id) {
        return Invalid(
            id_field, absl::StrCat(EchoValue(m.buyer_id),
                                   " is listed twice (also members[", j, "])"));
      }
    }
    s = CheckRange(absl::StrCat("pledge.members[", i, "].share_permille"),
                   m.share_permille, 1, 1000);
    if (!s.ok()) return s;
    total += m.share_permille;  // at most 64 x 1000: no overflow
  }
  if (total != 1000) {
    return Invalid("pledge.members",
                   absl::StrCat("shares sum to ", total,
                                " permille; they must sum to exactly 1000"));
  }
  return absl::OkStatus();
}

void Engine::Impl::CheckRecurrence(const PledgeSpec& spec, Micros now,
                                   Violations* v) {
  const Recurrence& r = spec.recurrence;
  if (r.period == 0) {
    if (r.quantity_kg != 0 || r.budget_fen != 0 || r.until != 0 ||
        r.carry_over) {
      v->Add(Invalid("pledge.recurrence.period",
                     "is unset (a one-off pledge) but the recurrence has "
                     "other fields set"));
    }
    return;
  }
  v->Add(CheckRange("pledge.recurrence.period", r.period, 1, kMaxPeriod));
  v->Add(CheckRange("pledge.recurrence.quantity_kg", r.quantity_kg, 1,
                    kMaxQuantityKg));
  const bool quantity_ok = !v->Bad("pledge.recurrence.quantity_kg");
  if (quantity_ok && !v->Bad("pledge.max_price_fen_per_kg")) {
    v->Add(CheckAmount("pledge.recurrence.quantity_kg", r.quantity_kg,
                       spec.max_price_fen_per_kg));
  }
  v->Add(
      CheckRange("pledge.recurrence.budget_fen", r.budget_fen, 0, INT64_MAX));
  if (quantity_ok) {
    v->Add(CheckRange("pledge.min_lot_kg", spec.min_lot_kg, 0, r.quantity_kg));
  }
  v->Add(CheckExpiry("pledge.recurrence.until", r.until, now));
  if (spec.expires_at != r.until) {
    v->Add(Invalid(
        "pledge.expires_at",
        absl::StrCat(spec.expires_at,
                     " us since epoch differs from recurrence.until (", r.until,
                     "): a standing pledge expires at until")));
  }
}

absl::Status Engine::Impl::ResolveBuyer(const PledgeSpec& spec,
                                        const std::string** city_code,
                                        int* kind) const {
  *city_code = &spec.buyer_city_code;
  *kind = spec.buyer_kind;
  const Buyer* registered = buyers_.Find(spec.buyer_id);
  if (registered == nullptr) return absl::OkStatus();
  if (spec.buyer_city_code.empty()) {
    *city_code = &registered->city_code;
  } else if (spec.buyer_city_code != registered->city_code) {
    return Invalid(
        "pledge.buyer_city_code",
        absl::StrCat(EchoValue(spec.buyer_city_code), " disagrees with buyer ",
                     EchoValue(spec.buyer_id), "'s registered ",
                     EchoValue(registered->city_code)));
  }
  if (spec.buyer_kind == 0) {
    *kind = registered->kind;
  } else if (spec.buyer_kind != registered->kind) {
    return Invalid("pledge.buyer_kind",
                   absl::StrCat(spec.buyer_kind, " disagrees with buyer ",
                                EchoValue(spec.buyer_id), "'s registered ",
                                registered->kind));
  }
  return absl::OkStatus();
}

PledgeResult Engine::Impl::Execute(const PostPledgeCommand& c) {
  const PledgeSpec& spec = c.pledge;
  // Check passed, so this resolves; the record keeps what it resolved to,
  // and replay resolves the same because the registry replays too.
  const std::string* city_code = &spec.buyer_city_code;
  int kind = spec.buyer_kind;
  ResolveBuyer(spec, &city_code, &kind).IgnoreError();
  int32_t city = 0;
  ParseRegionCode(*city_code, &city);
  std::vector<int32_t> listed = ParseCodes(spec.region_codes);
  PledgeRecord record{};
  record.buyer = strings_.Intern(spec.buyer_id);
  record.product = products_.Intern(spec.product_code);
  record.city = city;
  record.kind = static_cast<BuyerKind>(kind);
  record.min_grade =
      spec.min_grade == 0 ? Grade::kSecond : static_cast<Grade>(spec.min_grade);
  record.scope = static_cast<Scope>(spec.scope);
  record.require_certified = spec.require_certified;
  record.status = OrderStatus::kOpen;
  record.quantity_kg = spec.quantity_kg;
  record.remaining_kg = spec.quantity_kg;
  record.max_price = spec.max_price_fen_per_kg;
  record.budget_fen = spec.budget_fen;
  record.spent_fen = 0;
  record.min_lot_kg = spec.min_lot_kg;
  record.expires_at = spec.expires_at;
  record.posted_at = now_;
  record.accept_within =
      spec.accept_within == 0 ? kDefaultAcceptWithin : spec.accept_within;
  record.seq = ++pledge_seq_;
  record.listed.Set(std::move(listed));
  record.standing = spec.recurrence.period != 0;
  record.has_members = !spec.members.empty();
  pledges_.push_back(std::move(record));
  const uint64_t id = pledges_.size();
  pledges_by_buyer_[pledges_[id - 1].buyer].push_back(id);
  if (spec.recurrence.period != 0) {
    StandingRecord& standing = standing_[id];
    standing.period = static_cast<Period>(spec.recurrence.period);
    standing.quantity_kg = spec.recurrence.quantity_kg;
    standing.budget_fen = spec.recurrence.budget_fen;
    standing.carry_over = spec.recurrence.carry_over;
    standing.current_start = PeriodStartAt(standing.period, now_);
    QueueNextPeriod(id);
  }
  if (!spec.members.empty()) {
    // By buyer_id: the split breaks ties by it, and views list them so.
    std::vector<const MemberShare*> sorted;
    for (const MemberShare& m : spec.members) sorted.push_back(&m);
    std::sort(sorted.begin(), sorted.end(),
              [](const MemberShare* a, const MemberShare* b) {
                return a->buyer_id < b->buyer_id;
              });
    std::vector<PledgeMember>& members = pledge_members_[id];
    for (const MemberShare* m : sorted) {
      members.push_back({strings_.Intern(m->buyer_id),
                         static_cast<uint32_t>(m->share_permille)});
    }
  }

  const uint64_t first_match = matches_.size() + 1;
  MatchIncoming(/*offer=*/false, id);
  if (pledges_[id - 1].status == OrderStatus::kOpen) Rest(/*offer=*/false, id);

  PledgeResult result;
  result.pledge = MakePledgeView(id, now_);
  result.matches = MatchRange(first_match, matches_.size() + 1 - first_match);
  return result;
}

// --- Cancelling
// ---------------------------------------------------------------

absl::Status Engine::Impl::Check(const CancelOfferCommand& c,
                                 Micros now) const {
  const uint64_t id = c.offer_id;
  const bool known = id != 0 && id <= offers_.size();
  return CheckCancellable("offer", id, offers_.size(),
                          known ? offers_[id - 1].status : OrderStatus::kOpen,
                          known ? offers_[id - 1].expires_at : 0, now);
}

OfferResult Engine::Impl::Execute(const CancelOfferCommand& c) {
  Close(/*offer=*/true, c.offer_id, OrderStatus::kCancelled);
  OfferResult result;
  result.offer = MakeOfferView(c.offer_id, now_);
  result.unfilled_kg = offers_[c.offer_id - 1].remaining_kg;
  return result;
}

absl::Status Engine::Impl::Check(const CancelPledgeCommand& c,
                                 Micros now) const {
  const uint64_t id = c.pledge_id;
  const bool known = id != 0 && id <= pledges_.size();
  OrderStatus status = known ? pledges_[id - 1].status : OrderStatus::kOpen;
  // A standing pledge filled for this period still has periods to come:
  // cancelling it ends them.
  if (known && status == OrderStatus::kFilled && pledges_[id - 1].standing) {
    status = OrderStatus::kOpen;
  }
  return CheckCancellable("pledge", id, pledges_.size(), status,
                          known ? pledges_[id - 1].expires_at : 0, now);
}

PledgeResult Engine::Impl::Execute(const CancelPledgeCommand& c) {
  if (pledges_[c.pledge_id - 1].status == OrderStatus::kOpen) {
    Close(/*offer=*/false, c.pledge_id, OrderStatus::kCancelled);
  } else {
    pledges_[c.pledge_id - 1].status = OrderStatus::kCancelled;
  }
  PledgeResult result;
  result.pledge = MakePledgeView(c.pledge_id, now_);
  result.unfilled_kg = pledges_[c.pledge_id - 1].remaining_kg;
  return result;
}

// --- Amending
// ----------------------------------------------------------------

absl::Status Engine::Impl::Check(const AmendOfferCommand& c, Micros now) const {
  const uint64_t id = c.offer_id;
  const bool known = id != 0 && id <= offers_.size();
  absl::Status s =
      CheckCancellable("offer", id, offers_.size(),
                       known ? offers_[id - 1].status : OrderStatus::kOpen,
                       known ? offers_[id - 1].expires_at : 0, now, "amended");
  if (!s.ok()) return s;
  // The offer as it would stand, validated as PostOffer validates a new one
  // (every field, violations.h).
  const OfferRecord& o = offers_[id - 1];
  const int64_t matched = o.quantity_kg - o.remaining_kg;
  const int64_t quantity = c.has_quantity_kg ? c.quantity_kg : o.quantity_kg;
  const int64_t floor =
      c.has_floor_price ? c.floor_price_fen_per_kg : o.floor_price;
  const int64_t min_lot = c.has_min_lot ? c.min_lot_kg : o.min_lot_kg;
  Violations v;
  if (c.has_quantity_kg) v.Add(CheckAmendedQuantity(quantity, matched));
  if (c.has_floor_price) {
    v.Add(CheckRange("floor_price_fen_per_kg", floor, 1, kMaxPriceFenPerKg));
  }
  const bool quantity_ok = !v.Bad("quantity_kg");
  if (quantity_ok && !v.Bad("floor_price_fen_per_kg")) {
    v.Add(CheckAmount("quantity_kg", quantity, floor));
  }
  if (quantity_ok) v.Add(CheckRange("min_lot_kg", min_lot, 0, quantity));
  if (c.has_expires_at) v.Add(CheckExpiry("expires_at", c.expires_at, now));
  // Only a new expiry: an offer in its last hour may still lower its floor.
  if (c.has_expires_at && !v.Bad("expires_at") &&
      c.expires_at != o.expires_at && !replaying_) {
    v.Add(CheckOfferLead("expires_at", c.expires_at, now,
                         options_.min_offer_lead));
  }
  if (c.has_ship_within) {
    v.Add(CheckRange("ship_within", c.ship_within, kMinDeadlineWithin,
                     kMaxDeadlineWithin));
  }
  return v.ToStatus();
}

OfferResult Engine::Impl::Execute(const AmendOfferCommand& c) {
  const uint64_t id = c.offer_id;
  OfferRecord& o = offers_[id - 1];
  // More kilograms, or a higher floor, is worse for pledges than what the
  // queue place was earned with: to the back, as exchanges do.
  const bool to_back =
      (c.has_quantity_kg && c.quantity_kg > o.quantity_kg) ||
      (c.has_floor_price && c.floor_price_fen_per_kg > o.floor_price);
  // The shelves and book totals read the record: off them while it changes.
  index_.RemoveOffer(id);
  books_.OfferLeft(o.product, o.remaining_kg, o.floor_price);
  AlertsOfferOut(id);
  if (c.has_expires_at && c.expires_at != o.expires_at) {
    expiries_.Remove(o.expires_at, ExpiryTag(id, true));
    expiries_.Add(c.expires_at, ExpiryTag(id, true));
    o.expires_at = c.expires_at;
  }
  if (c.has_quantity_kg) {
    o.remaining_kg += c.quantity_kg - o.quantity_kg;
    o.quantity_kg = c.quantity_kg;
  }
  if (c.has_floor_price) {
    o.floor_price = static_cast<int32_t>(c.floor_price_fen_per_kg);
  }
  if (c.has_min_lot) o.min_lot_kg = c.min_lot_kg;
  if (c.has_ship_within) o.ship_within = c.ship_within;
  if (to_back) o.seq = ++offer_seq_;

  // Matched as if it arrived now, then back on its shelves (with its seq).
  const uint64_t first_match = matches_.size() + 1;
  if (o.remaining_kg == 0) {
    o.status = OrderStatus::kFilled;
  } else {
    MatchIncoming(/*offer=*/true, id);
  }
  if (o.status == OrderStatus::kOpen) {
    index_.AddOffer(id);
    books_.OfferRested(o.product, o.remaining_kg, o.floor_price);
    AlertsOfferIn(id);
  } else {
    CountOpen(open_offers_by_supplier_, o.supplier, -1);
  }
  OfferResult result;
  result.offer = MakeOfferView(id, now_);
  result.matches = MatchRange(first_match, matches_.size() + 1 - first_match);
  return result;
}

absl::Status Engine::Impl::Check(const AmendPledgeCommand& c,
                                 Micros now) const {
  const uint64_t id = c.pledge_id;
  const bool known = id != 0 && id <= pledges_.size();
  absl::Status s =
      CheckCancellable("pledge", id, pledges_.size(),
                       known ? pledges_[id - 1].status : OrderStatus::kOpen,
                       known ? pledges_[id - 1].expires_at : 0, now, "amended");
  if (!s.ok()) return s;
  const PledgeRecord& p = pledges_[id - 1];
  const int64_t matched = p.quantity_kg - p.remaining_kg;
  const int64_t quantity = c.has_quantity_kg ? c.quantity_kg : p.quantity_kg;
  const int64_t max_price =
      c.has_max_price ? c.max_price_fen_per_kg : p.max_price;
  const int64_t min_lot = c.has_min_lot ? c.min_lot_kg : p.min_lot_kg;
  // Every field, as for an offer.
  Violations v;
  if (c.has_quantity_kg) v.Add(CheckAmendedQuantity(quantity, matched));
  if (c.has_max_price) {
    v.Add(CheckRange("max_price_fen_per_kg", max_price, 1, kMaxPriceFenPerKg));
  }
  const bool quantity_ok = !v.Bad("quantity_kg");
  if (quantity_ok && !v.Bad("max_price_fen_per_kg")) {
    v.Add(CheckAmount("quantity_kg", quantity, max_price));
  }
  if (c.has_budget) {
    absl::Status s = CheckRange("budget_fen", c.budget_fen, 0, INT64_MAX);
    if (s.ok() && c.budget_fen > 0 && c.budget_fen < p.spent_fen) {
      s = Invalid("budget_fen",
                  absl::StrCat(c.budget_fen, " is below the ", p.spent_fen,
                               " fen already spent"));
    }
    v.Add(s);
  }
  if (quantity_ok) v.Add(CheckRange("min_lot_kg", min_lot, 0, quantity));
  // A standing pledge's later periods must be able to fill too.
  if (p.standing) {
    v.Add(CheckRange("min_lot_kg", min_lot, 0,
                     standing_.at(c.pledge_id).quantity_kg));
  }
  if (c.has_expires_at) v.Add(CheckExpiry("expires_at", c.expires_at, now));
  if (c.has_accept_within) {
    v.Add(CheckRange("accept_within", c.accept_within, kMinDeadlineWithin,
                     kMaxDeadlineWithin));
  }
  if (c.has_scope) {
    v.Add(CheckScope(reference_, "", c.scope, c.region_codes));
  } else if (!c.region_codes.empty()) {
    v.Add(Invalid("region_codes", "is only allowed with scope set"));
  }
  return v.ToStatus();
}

PledgeResult Engine::Impl::Execute(const AmendPledgeCommand& c) {
  const uint64_t id = c.pledge_id;
  PledgeRecord& p = pledges_[id - 1];
  std::vector<int32_t> listed;
  if (c.has_scope) listed = ParseCodes(c.region_codes);
  // Worse for offers than what the queue place was earned with: more
  // kilograms, a lower max price, a smaller budget (0 is no cap), a
  // narrower scope.
  const bool smaller_budget =
      c.has_budget && c.budget_fen > 0 &&
      (p.budget_fen == 0 || c.budget_fen < p.budget_fen);
  const bool narrower =
      c.has_scope && !ScopeWidens(p.scope, p.listed.as_posted(),
                                  static_cast<Scope>(c.scope), listed);
  const bool to_back =
      (c.has_quantity_kg && c.quantity_kg > p.quantity_kg) ||
      (c.has_max_price && c.max_price_fen_per_kg < p.max_price) ||
      smaller_budget || narrower;
  index_.RemovePledge(id);
  books_.PledgeLeft(p.product, p.remaining_kg, p.max_price);
  AlertsPledgeOut(id);
  if (c.has_expires_at && c.expires_at != p.expires_at) {
    expiries_.Remove(p.expires_at, ExpiryTag(id, false));
    expiries_.Add(c.expires_at, ExpiryTag(id, false));
    p.expires_at = c.expires_at;
  }
  if (c.has_quantity_kg) {
    p.remaining_kg += c.quantity_kg - p.quantity_kg;
    p.quantity_kg = c.quantity_kg;
  }
  if (c.has_max_price) p.max_price = c.max_price_fen_per_kg;
  if (c.has_budget) p.budget_fen = c.budget_fen;
  if (c.has_min_lot) p.min_lot_kg = c.min_lot_kg;
  if (c.has_accept_within) p.accept_within = c.accept_within;
  if (c.has_scope) {
    p.scope = static_cast<Scope>(c.scope);
    p.listed.Set(std::move(listed));
  }
  if (to_back) p.seq = ++pledge_seq_;

  const uint64_t first_match = matches_.size() + 1;
  if (p.remaining_kg == 0 ||
      (p.budget_fen > 0 && p.spent_fen == p.budget_fen)) {
    p.status = OrderStatus::kFilled;
  } else {
    MatchIncoming(/*offer=*/false, id);
  }
  if (p.status == OrderStatus::kOpen) {
    index_.AddPledge(id);
    books_.PledgeRested(p.product, p.remaining_kg, p.max_price);
    AlertsPledgeIn(id);
  } else {
    CountOpen(open_pledges_by_buyer_, p.buyer, -1);
  }
  PledgeResult result;
  result.pledge = MakePledgeView(id, now_);
  result.matches = MatchRange(first_match, matches_.size() + 1 - first_match);
  return result;
}

}  // namespace duijie
