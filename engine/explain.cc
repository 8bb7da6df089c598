// Explanations: what stands between an open order and the other side of the
// book (Engine::ExplainPledge, Engine::ExplainOffer).
//
// An explanation reads the open orders of the other side that deal in the
// order's product (a pledge: offers of its product's subtree; an offer:
// pledges of its product or an ancestor) and puts each through the tests
// the matcher makes (orders.cc, order_index.cc), with the matcher's own
// predicates where it has them (FillQuantity for the lots and the budget,
// RegionCovers for the scopes):
//   SCOPE          the pledge's scope leaves out the offer's region (ANY:
//                  never; PARTNERS_ONLY: a region paired with the buyer's
//                  city; LISTED_REGIONS: a listed region);
//   PRICE          floor above max price;
//   GRADE          the offer's grade below the pledge's min grade;
//   CERTIFICATION  required, and the offer is not certified;
//   LOT_SIZE       no fill the two remainders allow meets both min lots;
//   BUDGET         the lots fit, but the budget left buys less than the
//                  smallest allowed fill at the pledge's max price.
// The budget is judged at the max price, the most any trade of the pledge
// costs and the price at which an offer coming to it trades: a pair that
// passes every test would have matched whichever came second, so under
// continuous matching nothing is compatible, and what is compatible waits
// for a batch clearing. (A clearing trades at the floor, so it can also
// take a pair that fails BUDGET only at the max price.)
// An order failing no test is compatible (it waits only for a batch
// clearing); one failing one test counts in that reason's kg; one failing
// several counts in several_reasons_kg. Each reason's widening is the
// change of the explained order that reaches the first of the orders that
// reason alone keeps out (the nearest price, grade, lot, budget; the
// region with the most kg), with the kg it reaches.
#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "engine/codes.h"
#include "engine/engine_impl.h"
#include "engine/text.h"

namespace duijie {
namespace {

constexpr int kReasonCount = 8;  // BlockReason numbers are 1..7

uint32_t Bit(BlockReason r) { return 1u << static_cast<int>(r); }

using RestingOffer = OrderIndex::RestingOffer;

// The offer as an explanation tests it (an explained offer is read from its
// record; a pledge's explanation reads the offers from their shelves).
RestingOffer Resting(const OfferRecord& o, uint64_t id) {
  return RestingOffer{id,
                      o.expires_at,
                      o.floor_price,
                      std::min(o.min_lot_kg, o.remaining_kg),
                      o.remaining_kg,
                      o.grade,
                      o.certified};
}

// The matcher's tests that offer `o` and pledge `p` fail, as Bits of their
// reasons, given whether the pledge's scope admits the offer. Lots and the
// budget are judged at the pledge's max price (see BUDGET above).
uint32_t FailedTests(const RestingOffer& o, const PledgeRecord& p,
                     bool in_scope) {
  uint32_t failed = 0;
  if (!in_scope) failed |= Bit(BlockReason::kScope);
  if (o.floor_price > p.max_price) failed |= Bit(BlockReason::kPrice);
  if (o.grade > p.min_grade) failed |= Bit(BlockReason::kGrade);
  if (p.require_certified && !o.certified) {
    failed |= Bit(BlockReason::kCertification);
  }
  const int64_t price = p.max_price;
  const int64_t lots_q =
      FillQuantity(o.remaining_kg, o.lot_kg, p.remaining_kg, p.min_lot_kg,
                   /*budget_left=*/-1, price);
  if (lots_q == 0) {
    failed |= Bit(BlockReason::kLotSize);
  } else if (FillQuantity(o.remaining_kg, o.lot_kg, p.remaining_kg,
                          p.min_lot_kg, p.budget_left(), price) == 0) {
    failed |= Bit(BlockReason::kBudget);
  }
  return failed;
}

// Sums of kg saturate: a sum over many orders could in principle pass
// int64, and an explanation should not wrap to a negative figure.
void AddKg(int64_t* sum, int64_t kg) {
  if (__builtin_add_overflow(*sum, kg, sum)) *sum = INT64_MAX;
}

const char* GradeName(int grade) {
  switch (grade) {
    case 1:
      return "GRADE_PREMIUM";
    case 2:
      return "GRADE_FIRST";
    default:
      return "GRADE_SECOND";
  }
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

// The reason in a few words, for the summary.
const char* ReasonWords(BlockReason r) {
  switch (r) {
    case BlockReason::kNoProductInScope:
      return "nothing of the product in scope";
    case BlockReason::kPrice:
      return "price";
    case BlockReason::kGrade:
      return "grade";
    case BlockReason::kCertification:
      return "certification";
    case BlockReason::kLotSize:
      return "lot size";
    case BlockReason::kBudget:
      return "budget";
    case BlockReason::kScope:
      return "scope";
  }
  return "unknown";
}

// The nearest value a widening could take among the orders kept out by one
// reason alone (the lowest or the highest), and the kg of the orders at
// it: what the widening to that value reaches. Kept as the orders are read,
// in constant space.
struct Widenings {
  bool lower_first = true;
  bool any = false;
  int64_t best = 0;
  int64_t best_kg = 0;

  void Add(int64_t value, int64_t kg) {
    if (!any || (lower_first ? value < best : value > best)) {
      any = true;
      best = value;
      best_kg = kg;
    } else if (value == best) {
      AddKg(&best_kg, kg);
    }
  }
  // The nearest value and the kg it reaches; false when there is none.
  bool Nearest(int64_t* value, int64_t* kg) const {
    if (!any) return false;
    *value = best;
    *kg = best_kg;
    return true;
  }
};

// What an explanation gathers, reason by reason.
struct Tally {
  int64_t kg[kReasonCount] = {};
  int64_t compatible_kg = 0;
  int64_t several_kg = 0;
  // Open kg of the other side in the product at all, and of it within the
  // scope (a pledge's) or taking the region (an offer's).
  int64_t product_kg = 0;
  int64_t in_scope_kg = 0;
  Widenings price;
  Widenings grade;
  Widenings lot;       // the order's own min lot
  Widenings quantity;  // the order's quantity, when the other's lot is more
  Widenings budget;
  // SCOPE alone, and every order out of scope: kg by region at the
  // scope's level (a pledge's explanation only).
  std::map<int32_t, int64_t> scope_regions;
  std::map<int32_t, int64_t> out_of_scope_regions;

  // Counts one order of the other side with `kg` open that failed the
  // tests in `failed`; returns whether it failed exactly one.
  bool Count(uint32_t failed, int64_t open_kg) {
    AddKg(&product_kg, open_kg);
    if (failed == 0) {
      AddKg(&compatible_kg, open_kg);
      return false;
    }
    if ((failed & (failed - 1)) != 0) {
      AddKg(&several_kg, open_kg);
      return false;
    }
    for (int r = 1; r < kReasonCount; ++r) {
      if (failed == (1u << r)) AddKg(&kg[r], open_kg);
    }
    return true;
  }
};

// The level of a region code: 0 province, 1 prefecture, 2 county.
int LevelOf(int32_t code) {
  if (code % 10000 == 0) return 0;
  if (code % 100 == 0) return 1;
  return 2;
}

int32_t AtLevel(int32_t code, int level) {
  if (level == 0) return ProvinceOf(code);
  if (level == 1) return PrefectureOf(code);
  return code;
}

// The level most of `codes` are at, the coarser on a tie; prefectures when
// there are none (a PARTNERS_ONLY city with no pairing).
template <typename Codes>
int ScopeLevel(const Codes& codes) {
  int count[3] = {};
  for (int32_t c : codes) ++count[LevelOf(c)];
  if (codes.empty()) return 1;
  int best = 0;
  for (int level = 1; level < 3; ++level) {
    if (count[level] > count[best]) best = level;
  }
  return best;
}

// The region with the most kg (the lowest code on a tie).
bool MostKg(const std::map<int32_t, int64_t>& regions, int32_t* code,
            int64_t* kg) {
  bool found = false;
  for (const auto& [c, k] : regions) {
    if (!found || k > *kg) {
      *code = c;
      *kg = k;
      found = true;
    }
  }
  return found;
}

// Blockers in the explanation's order: NO_PRODUCT_IN_SCOPE first, then
// most kg first, ties by reason number.
void SortBlockers(std::vector<Blocker>* blockers) {
  std::stable_sort(
      blockers->begin(), blockers->end(),
      [](const Blocker& a, const Blocker& b) {
        const bool a_none = a.reason == BlockReason::kNoProductInScope;
        const bool b_none = b.reason == BlockReason::kNoProductInScope;
        if (a_none != b_none) return a_none;
        if (a.kg != b.kg) return a.kg > b.kg;
        return static_cast<int>(a.reason) < static_cast<int>(b.reason);
      });
}

// The summary both explanations end with. `other` names the other side
// ("offers", "pledges").
std::string Summarize(const Explanation& e, std::string_view kind, uint64_t id,
                      std::string_view other, std::string_view product,
                      bool clearing) {
  std::string s = absl::StrCat(Absl(kind), " ", id, " has ",
                               GroupThousands(e.unfilled_kg), " kg unfilled. ");
  if (e.compatible_kg > 0) {
    absl::StrAppend(&s, GroupThousands(e.compatible_kg), " kg of open ",
                    Absl(other), " could match it now",
                    clearing ? " at the product's next batch clearing" : "",
                    ".");
    return s;
  }
  const Blocker* first = nullptr;
  for (const Blocker& b : e.blockers) {
    if (b.reason == BlockReason::kNoProductInScope) continue;
    if (b.kg > 0) {
      first = &b;
      break;
    }
  }
  const bool none_in_scope =
      !e.blockers.empty() &&
      e.blockers[0].reason == BlockReason::kNoProductInScope;
  if (none_in_scope && e.blockers[0].kg == 0) {
    absl::StrAppend(&s, "No ", Absl(other), " of ", Absl(product),
                    " are open at all.");
    return s;
  }
  absl::StrAppend(&s, "No open ", Absl(other), " can match it now");
  if (none_in_scope) {
    absl::StrAppend(&s, ", and none of ", Absl(product), " is in scope");
  }
  if (first == nullptr) {
    absl::StrAppend(&s, "; those open fail more than one test.");
    return s;
  }
  absl::StrAppend(&s, "; ", ReasonWords(first->reason),
                  " alone keeps out the most (", GroupThousands(first->kg),
                  " kg)");
  if (!first->widening.empty()) absl::StrAppend(&s, ": ", first->widening);
  absl::StrAppend(&s, ".");
  return s;
}

}  // namespace

absl::StatusOr<Explanation> Engine::Impl::ExplainPledge(uint64_t id,
                                                        Micros now) const {
  if (id == 0 || id > pledges_.size()) {
    return absl::NotFoundError(
        absl::StrCat("pledge_id: pledge ", id, " does not exist"));
  }
  const PledgeRecord& p = pledges_[id - 1];
  const OrderStatus status = EffectiveStatus(p.status, p.expires_at, now);
  if (status != OrderStatus::kOpen) {
    return absl::FailedPreconditionError(
        absl::StrCat("pledge_id: pledge ", id, " is ", StatusName(status),
                     "; only an OPEN pledge is explained"));
  }
  const CodeSet partner_west = reference_.PartnerWestCodes(p.city);
  // The codes of the scope, for the level a region widening is given at.
  const int level = p.scope == Scope::kListedRegions
                        ? ScopeLevel(p.listed.as_posted())
                        : ScopeLevel(partner_west);
  // The region a widening names: at the scope's level when that region is
  // known (a listed region must be), else the offer's own.
  auto widen_region = [&](int32_t region) {
    const int32_t code = AtLevel(region, level);
    return reference_.Known(code) ? code : region;
  };

  Tally t;
  t.price.lower_first = true;
  t.grade.lower_first = true;
  t.lot.lower_first = false;  // the largest fill the pledge's lot refuses
  t.quantity.lower_first = true;
  t.budget.lower_first = true;
  // The offers are read from their shelves, and a record only for its
  // region when the scope needs it: an explanation visits every open offer
  // of the product's subtree, and the records are as many cold reads again.
  auto count = [&](const RestingOffer& o) {
    // The shelves hold open offers; one past its expiry reads EXPIRED
    // before a tick retires it (EffectiveStatus).
    if (o.expires_at <= now) return;
    bool in_scope = true;
    int32_t region = 0;
    if (p.scope != Scope::kAny) {
      region = offers_[o.id - 1].region;
      in_scope = p.scope == Scope::kPartnersOnly
                     ? AnyCovers(partner_west, region)
                     : AnyCovers(p.listed.cover(), region);
    }
    const uint32_t failed = FailedTests(o, p, in_scope);
    const int64_t price = p.max_price;  // see BUDGET above
    if (in_scope) {
      AddKg(&t.in_scope_kg, o.remaining_kg);
    } else {
      AddKg(&t.out_of_scope_regions[widen_region(region)], o.remaining_kg);
    }
    if (!t.Count(failed, o.remaining_kg)) return;
    if (failed == Bit(BlockReason::kPrice)) {
      t.price.Add(o.floor_price, o.remaining_kg);
    } else if (failed == Bit(BlockReason::kGrade)) {
      t.grade.Add(static_cast<int>(o.grade), o.remaining_kg);
    } else if (failed == Bit(BlockReason::kLotSize)) {
      const int64_t q =
          FillQuantity(o.remaining_kg, o.lot_kg, p.remaining_kg, 0, -1, price);
      if (q > 0) {
        // The pledge's own min lot refuses the q kg the two could trade.
        t.lot.Add(q, o.remaining_kg);
      } else {
        // The offer's min lot is more than the pledge has left: the pledge
        // needs that lot unfilled, or the offer's whole remainder when
        // that is less (an offer partly filled below its lot sells the
        // rest whole): lot_kg.
        t.quantity.Add(o.lot_kg, o.remaining_kg);
      }
    } else if (failed == Bit(BlockReason::kBudget)) {
      // The smallest fill the lots allow, and the budget it needs at the
      // max price (enough whichever of the two comes to the other).
      const int64_t need_q = std::max(
          {int64_t{1}, std::min(p.min_lot_kg, p.remaining_kg), o.lot_kg});
      int64_t need_fen;
      int64_t budget;
      if (!__builtin_mul_overflow(need_q, price, &need_fen) &&
          !__builtin_add_overflow(p.spent_fen, need_fen, &budget)) {
        t.budget.Add(budget, o.remaining_kg);
      }
    } else if (failed == Bit(BlockReason::kScope)) {
      AddKg(&t.scope_regions[widen_region(region)], o.remaining_kg);
    }
  };
  for (uint32_t product : products_.node(p.product).subtree) {
    index_.ForEachOfferOf(product, count);
  }

  Explanation e;
  e.unfilled_kg = p.remaining_kg;
  e.compatible_kg = t.compatible_kg;
  e.several_reasons_kg = t.several_kg;
  int64_t value = 0;
  int64_t kg = 0;
  int32_t code = 0;
  if (t.in_scope_kg == 0) {
    Blocker b;
    b.reason = BlockReason::kNoProductInScope;
    b.kg = t.product_kg;
    if (MostKg(t.out_of_scope_regions, &code, &kg)) {
      b.widening = absl::StrCat("adding region ", RegionCodeString(code),
                                " brings ", GroupThousands(kg), " kg of ",
                                Absl(products_.code(p.product)), " into scope");
      b.widening_kg = kg;
      b.widened_value = RegionCodeString(code);
    }
    e.blockers.push_back(std::move(b));
  }
  for (int r = 1; r < kReasonCount; ++r) {
    if (t.kg[r] == 0) continue;
    Blocker b;
    b.reason = static_cast<BlockReason>(r);
    b.kg = t.kg[r];
    switch (b.reason) {
      case BlockReason::kPrice:
        if (t.price.Nearest(&value, &kg)) {
          b.widening =
              absl::StrCat("a max price of ", GroupThousands(value),
                           " fen/kg reaches ", GroupThousands(kg), " kg");
          b.widened_value = absl::StrCat(value);
          b.widening_kg = kg;
        }
        break;
      case BlockReason::kGrade:
        if (t.grade.Nearest(&value, &kg)) {
          b.widening = absl::StrCat("a min grade of ",
                                    GradeName(static_cast<int>(value)),
                                    " reaches ", GroupThousands(kg), " kg");
          b.widened_value = absl::StrCat(value);
          b.widening_kg = kg;
        }
        break;
      case BlockReason::kCertification:
        b.widening = absl::StrCat("not requiring certification reaches ",
                                  GroupThousands(b.kg), " kg");
        b.widened_value = "false";
        b.widening_kg = b.kg;
        break;
      case BlockReason::kLotSize:
        if (t.lot.Nearest(&value, &kg)) {
          b.widening = absl::StrCat("a min lot of ", GroupThousands(value),
                                    " kg reaches ", GroupThousands(kg), " kg");
          b.widened_value = absl::StrCat(value);
          b.widening_kg = kg;
        } else if (t.quantity.Nearest(&value, &kg)) {
          // The pledge's quantity with `value` kg unfilled; it cannot
          // overflow: value and the matched kg are each at most the
          // largest quantity, 2^40.
          const int64_t quantity = p.quantity_kg - p.remaining_kg + value;
          b.widening =
              absl::StrCat("a quantity of ", GroupThousands(quantity), " kg (",
                           GroupThousands(value), " kg unfilled) reaches ",
                           GroupThousands(kg), " kg");
          b.widened_value = absl::StrCat(quantity);
          b.widening_kg = kg;
        }
        break;
      case BlockReason::kBudget:
        if (t.budget.Nearest(&value, &kg)) {
          b.widening = absl::StrCat("a budget of ", GroupThousands(value),
                                    " fen reaches ", GroupThousands(kg), " kg");
          b.widened_value = absl::StrCat(value);
          b.widening_kg = kg;
        }
        break;
      case BlockReason::kScope:
        if (MostKg(t.scope_regions, &code, &kg)) {
          b.widening = absl::StrCat("adding region ", RegionCodeString(code),
                                    " reaches ", GroupThousands(kg), " kg");
          b.widened_value = RegionCodeString(code);
          b.widening_kg = kg;
        }
        break;
      case BlockReason::kNoProductInScope:
        break;
    }
    e.blockers.push_back(std::move(b));
  }
  SortBlockers(&e.blockers);
  e.summary = Summarize(e, "Pledge", id, "offers", products_.code(p.product),
                        NextClearingOf(p.product) != 0);
  return e;
}

absl::StatusOr<Explanation> Engine::Impl::ExplainOffer(uint64_t id,
                                                       Micros now) const {
  if (id == 0 || id > offers_.size()) {
    return absl::NotFoundError(
        absl::StrCat("offer_id: offer ", id, " does not exist"));
  }
  const OfferRecord& o = offers_[id - 1];
  const OrderStatus status = EffectiveStatus(o.status, o.expires_at, now);
  if (status != OrderStatus::kOpen) {
    return absl::FailedPreconditionError(
        absl::StrCat("offer_id: offer ", id, " is ", StatusName(status),
                     "; only an OPEN offer is explained"));
  }
  // A PARTNERS_ONLY pledge takes the offer when its city is under an east
  // code paired with the offer's region (as BestPledgeFor reads them).
  const CodeSet partner_east = reference_.PartnerEastCodes(o.region);

  Tally t;
  t.price.lower_first = false;  // the highest max price below the floor
  t.lot.lower_first = false;    // the largest fill the offer's lot refuses
  t.quantity.lower_first = true;
  t.budget.lower_first = false;  // the largest lot the budget affords
  std::vector<uint64_t> ids;
  for (uint32_t product : products_.node(o.product).chain) {
    index_.PledgesOf(product, &ids);
  }
  for (uint64_t pledge_id : ids) {
    const PledgeRecord& p = pledges_[pledge_id - 1];
    if (EffectiveStatus(p.status, p.expires_at, now) != OrderStatus::kOpen) {
      continue;
    }
    bool in_scope = true;
    if (p.scope == Scope::kPartnersOnly) {
      in_scope = AnyCovers(partner_east, p.city);
    } else if (p.scope == Scope::kListedRegions) {
      in_scope = AnyCovers(p.listed.cover(), o.region);
    }
    const uint32_t failed = FailedTests(Resting(o, id), p, in_scope);
    const int64_t price = p.max_price;  // see BUDGET above
    if (in_scope) AddKg(&t.in_scope_kg, p.remaining_kg);
    if (!t.Count(failed, p.remaining_kg)) continue;
    if (failed == Bit(BlockReason::kPrice)) {
      t.price.Add(p.max_price, p.remaining_kg);
    } else if (failed == Bit(BlockReason::kLotSize)) {
      const int64_t q = FillQuantity(o.remaining_kg, 0, p.remaining_kg,
                                     p.min_lot_kg, -1, price);
      if (q > 0) {
        // The offer's own min lot refuses the q kg the two could trade.
        t.lot.Add(q, p.remaining_kg);
      } else {
        // The pledge's min lot is more than the offer has left: the offer
        // needs that lot left, or the pledge's whole remainder when that
        // is less.
        t.quantity.Add(std::min(p.min_lot_kg, p.remaining_kg), p.remaining_kg);
      }
    } else if (failed == Bit(BlockReason::kBudget)) {
      // The offer cannot change what the budget buys at the max price,
      // but when its own min lot is what the budget falls short of, a min
      // lot of the kg the budget buys reaches the pledge.
      const int64_t affordable = p.budget_left() / price;
      if (affordable >=
              std::max(int64_t{1}, std::min(p.min_lot_kg, p.remaining_kg)) &&
          affordable < std::min(o.min_lot_kg, o.remaining_kg)) {
        t.budget.Add(affordable, p.remaining_kg);
      }
    }
  }

  Explanation e;
  e.unfilled_kg = o.remaining_kg;
  e.compatible_kg = t.compatible_kg;
  e.several_reasons_kg = t.several_kg;
  int64_t value = 0;
  int64_t kg = 0;
  if (t.in_scope_kg == 0) {
    Blocker b;
    b.reason = BlockReason::kNoProductInScope;
    b.kg = t.product_kg;
    e.blockers.push_back(std::move(b));
  }
  for (int r = 1; r < kReasonCount; ++r) {
    if (t.kg[r] == 0) continue;
    Blocker b;
    b.reason = static_cast<BlockReason>(r);
    b.kg = t.kg[r];
    switch (b.reason) {
      case BlockReason::kPrice:
        if (t.price.Nearest(&value, &kg)) {
          b.widening =
              absl::StrCat("a floor of ", GroupThousands(value),
                           " fen/kg reaches ", GroupThousands(kg), " kg");
          b.widened_value = absl::StrCat(value);
          b.widening_kg = kg;
        }
        break;
      case BlockReason::kLotSize:
        if (t.lot.Nearest(&value, &kg)) {
          b.widening = absl::StrCat("a min lot of ", GroupThousands(value),
                                    " kg reaches ", GroupThousands(kg), " kg");
          b.widened_value = absl::StrCat(value);
          b.widening_kg = kg;
        } else if (t.quantity.Nearest(&value, &kg)) {
          // Cannot overflow: both terms are at most 2^40.
          const int64_t quantity = o.quantity_kg - o.remaining_kg + value;
          b.widening =
              absl::StrCat("a quantity of ", GroupThousands(quantity), " kg (",
                           GroupThousands(value), " kg left) reaches ",
                           GroupThousands(kg), " kg");
          b.widened_value = absl::StrCat(quantity);
          b.widening_kg = kg;
        }
        break;
      case BlockReason::kBudget:
        if (t.budget.Nearest(&value, &kg)) {
          b.widening = absl::StrCat("a min lot of ", GroupThousands(value),
                                    " kg reaches ", GroupThousands(kg), " kg");
          b.widened_value = absl::StrCat(value);
          b.widening_kg = kg;
        }
        break;
      default:
        // Scope, grade and certification are the offer's region and
        // produce: nothing the offer can widen.
        break;
    }
    e.blockers.push_back(std::move(b));
  }
  SortBlockers(&e.blockers);
  e.summary = Summarize(e, "Offer", id, "pledges", products_.code(o.product),
                        NextClearingOf(o.product) != 0);
  return e;
}

absl::StatusOr<Explanation> Engine::ExplainPledge(uint64_t pledge_id,
                                                  Micros now) const {
  return impl_->ExplainPledge(pledge_id, now);
}

absl::StatusOr<Explanation> Engine::ExplainOffer(uint64_t offer_id,
                                                 Micros now) const {
  return impl_->ExplainOffer(offer_id, now);
}

}  // namespace duijie
