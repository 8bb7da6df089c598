// The engine's records of orders and matches, in vectors indexed by id - 1,
// and the fill rule both sides of the book share. Internal to the engine.
#ifndef DUIJIE_ENGINE_RECORDS_H_
#define DUIJIE_ENGINE_RECORDS_H_

#include <algorithm>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "engine/codes.h"
#include "engine/periods.h"
#include "engine/record_array.h"
#include "engine/types.h"

namespace duijie {

struct OfferRecord {
  uint32_t supplier;  // interned string
  uint32_t product;   // ProductTree index
  int32_t region;     // region code
  Grade grade;
  bool certified;
  // The region is a priority region (key-assisted county or relocation
  // site) as of when the offer was put on its shelf.
  bool priority;
  OrderStatus status;
  // Fen per kg, at most kMaxPriceFenPerKg (2^30), and households, at most
  // INT32_MAX (both refused above that when posted or loaded): 32 bits
  // each keeps the record at 80 bytes.
  int32_t floor_price;
  int32_t households;
  int64_t quantity_kg;
  int64_t remaining_kg;
  int64_t min_lot_kg;
  Micros expires_at;
  Micros posted_at;
  // How long after a match the supplier has to ship it (ship_by);
  // kNoDeadline for offers of old journals.
  Micros ship_within;
  // The offer's place among equals in its queue (the last tie-break of the
  // index): drawn from the engine's offer sequence when it is posted, and
  // again when an amendment sends it to the back. Equal to the id for an
  // offer never sent back, so orders never amended rank as by posting.
  uint64_t seq;
};

// A LISTED_REGIONS pledge's region codes, out of line: most pledges list
// none, and two vectors in every pledge record (48 bytes) made each record
// a third larger for all. Copies are deep, as the vectors' were.
class ListedRegions {
 public:
  ListedRegions() = default;
  ListedRegions(const ListedRegions& other) { *this = other; }
  ListedRegions& operator=(const ListedRegions& other) {
    if (this != &other) {
      lists_ = other.lists_ == nullptr ? nullptr
                                       : std::make_unique<Lists>(*other.lists_);
    }
    return *this;
  }
  ListedRegions(ListedRegions&&) = default;
  ListedRegions& operator=(ListedRegions&&) = default;

  // The codes as posted (for views); empty unless the scope lists regions.
  const std::vector<int32_t>& as_posted() const {
    return lists_ == nullptr ? Empty() : lists_->as_posted;
  }
  // The same with codes that another listed code covers removed (for the
  // index and scope checks).
  const std::vector<int32_t>& cover() const {
    return lists_ == nullptr ? Empty() : lists_->cover;
  }
  void Set(std::vector<int32_t> as_posted) {
    if (as_posted.empty()) {
      lists_.reset();
      return;
    }
    lists_ = std::make_unique<Lists>();
    lists_->cover = as_posted;
    KeepOutermostCodes(&lists_->cover);
    lists_->as_posted = std::move(as_posted);
  }

 private:
  struct Lists {
    std::vector<int32_t> as_posted;
    std::vector<int32_t> cover;
  };
  static const std::vector<int32_t>& Empty() {
    static const std::vector<int32_t> empty;
    return empty;
  }
  std::unique_ptr<Lists> lists_;
};

struct PledgeRecord {
  uint32_t buyer;    // interned string
  uint32_t product;  // ProductTree index
  int32_t city;      // region code
  BuyerKind kind;
  Grade min_grade;
  Scope scope;
  bool require_certified;
  OrderStatus status;
  bool standing = false;  // a standing pledge: Impl::standing_ has its periods
  // Its buyer is an alliance buying for members (Engine::Impl's
  // pledge_members_ holds them): each fill is split among them. A flag
  // here, in padding, so that fills of other pledges need no lookup.
  bool has_members = false;
  int64_t quantity_kg;
  int64_t remaining_kg;
  int64_t max_price;
  int64_t budget_fen;
  int64_t spent_fen;
  int64_t min_lot_kg;
  Micros expires_at;
  Micros posted_at;
  // How long after a shipment the buyer has to accept or decline it
  // (accept_by); kNoDeadline for pledges of old journals.
  Micros accept_within;
  // The pledge's place among equals in its queue, as OfferRecord::seq.
  uint64_t seq;
  // Empty unless scope is LISTED_REGIONS.
  ListedRegions listed;

  // What the budget still allows, in fen; -1 when there is no budget cap.
  int64_t budget_left() const {
    return budget_fen > 0 ? budget_fen - spent_fen : -1;
  }
};

// A standing pledge's recurrence and its periods; kept beside the pledge
// (most pledges are one-off, so PledgeRecord stays as small as it was).
// The pledge's own quantity_kg, remaining_kg, budget_fen and spent_fen are
// the current period's; a period's matches are the pledge's matches with
// matched_at in [its start, the next start).
struct StandingRecord {
  Period period = Period::kNone;
  int64_t quantity_kg = 0;  // each new period's, before what carries over
  int64_t budget_fen = 0;   // 0: no cap
  bool carry_over = false;
  // Periods that ended: their start and what they pledged.
  struct Closed {
    Micros start;
    int64_t pledged_kg;
    int64_t budget_fen;
  };
  std::vector<Closed> closed;
  Micros current_start = 0;  // the current period's start
};

// The engine's records of offers and pledges, by id - 1.
using OfferRecords = RecordArray<OfferRecord>;
using PledgeRecords = RecordArray<PledgeRecord>;

// An interned string index that names no string.
inline constexpr uint32_t kNoText = UINT32_MAX;

// One member of an alliance pledge: the buyer (interned) and its share of
// each fill, in permille of the kg.
struct PledgeMember {
  uint32_t buyer;
  uint32_t share_permille;
};

// Splits `kg` among members (sorted by buyer_id) by share, to the kg, by
// largest remainder: member i gets floor(kg x share_i / 1000), and the kg
// left over go one each to the largest remainders, ties to the earlier
// member (the lower buyer_id). The shares sum to 1000 and kg is at most
// kMaxQuantityKg, so kg x share fits in 64 bits. parts[i] is member i's.
inline void SplitByShares(int64_t kg, const std::vector<PledgeMember>& members,
                          std::vector<int64_t>* parts) {
  parts->assign(members.size(), 0);
  std::vector<std::pair<int64_t, size_t>> remainders;  // (-remainder, i)
  remainders.reserve(members.size());
  int64_t given = 0;
  for (size_t i = 0; i < members.size(); ++i) {
    const int64_t scaled = kg * members[i].share_permille;
    (*parts)[i] = scaled / 1000;
    given += (*parts)[i];
    remainders.emplace_back(-(scaled % 1000), i);
  }
  // Fewer than members.size() kg are left: each remainder is below 1000
  // and they sum to 1000 x the kg left.
  std::sort(remainders.begin(), remainders.end());
  for (int64_t left = kg - given, k = 0; left > 0; --left, ++k) {
    ++(*parts)[remainders[k].second];
  }
}

struct MatchRecord {
  uint64_t offer_id;
  uint64_t pledge_id;
  int64_t quantity_kg;
  int64_t price;
  int64_t amount_fen;
  Micros matched_at;
  bool partner;
  // The lifecycle (MatchView says what each is).
  MatchStatus status = MatchStatus::kMatched;
  // The alliance member this part of a fill is for (interned), kNoText for
  // a pledge without members. Placed here it fills padding after the two
  // bytes above, so the record does not grow.
  uint32_t member = kNoText;
  Micros ship_by = 0;  // 0: never lapses
  Micros shipped_at = 0;
  int64_t shipped_kg = 0;
  Micros accept_by = 0;  // 0: not shipped, or no deadline
  Micros delivered_at = 0;
  int64_t accepted_kg = 0;
  int64_t returned_kg = 0;
  uint32_t note = kNoText;    // interned
  uint32_t reason = kNoText;  // interned
  Micros updated_at = 0;

  // The kg this match holds of its pledge: what it traded less what went
  // back.
  int64_t kept_kg() const { return quantity_kg - returned_kg; }
};

// One entry of the log of match events (Engine::ListMatchEvents): a match
// made (status kMatched) or moved to `status`, at `at`. Kept for every
// event ever, so it is small: 24 bytes.
struct MatchEventRecord {
  uint64_t match_id;
  Micros at;
  MatchStatus status;
  // Whether the kg this step freed went back to the pledge (its share of
  // the match's returned_kg): a return is all of a step's kg or none, so
  // this flag and the match's quantities give returned_kg as of the event.
  bool returned;
};
static_assert(sizeof(MatchEventRecord) <= 24);

// The kilograms a fill between the two would trade at `price`: the largest
// quantity within both remainders and the budget, or 0 when that quantity
// breaks either side's min lot (then no smaller one is allowed either).
inline int64_t FillQuantity(int64_t offer_remaining, int64_t offer_min_lot,
                            int64_t pledge_remaining, int64_t pledge_min_lot,
                            int64_t budget_left, int64_t price) {
  int64_t q = std::min(offer_remaining, pledge_remaining);
  if (budget_left >= 0) q = std::min(q, budget_left / price);
  if (q <= 0) return 0;
  if (q < pledge_min_lot && q != pledge_remaining) return 0;
  if (q < offer_min_lot && q != offer_remaining) return 0;
  return q;
}

inline int64_t FillQuantity(const OfferRecord& o, const PledgeRecord& p,
                            int64_t price) {
  return FillQuantity(o.remaining_kg, o.min_lot_kg, p.remaining_kg,
                      p.min_lot_kg, p.budget_left(), price);
}

// The quantity a batch clearing fills between o and p at `price` when its
// flow gives the pair `want` kg (> 0), the flow having relaxed the lots and
// the budget: the smallest quantity >= want that both min lots allow, if
// FillQuantity allows that much, else FillQuantity itself (0: none).
// Either way it is no more than FillQuantity, so within both remainders
// and the budget, and it is at least both min lots or is what FillQuantity
// allows: a clearing breaks no rule a continuous fill keeps.
inline int64_t ClearingQuantity(const OfferRecord& o, const PledgeRecord& p,
                                int64_t price, int64_t want) {
  const int64_t most = FillQuantity(o, p, price);
  const int64_t rounded = std::max({want, o.min_lot_kg, p.min_lot_kg});
  return std::min(rounded, most);
}

// An order's status as read at `now`: OPEN past its expiry reads EXPIRED
// even before a tick has retired it.
inline OrderStatus EffectiveStatus(OrderStatus s, Micros expires_at,
                                   Micros now) {
  return s == OrderStatus::kOpen && expires_at <= now ? OrderStatus::kExpired
                                                      : s;
}

}  // namespace duijie

#endif  // DUIJIE_ENGINE_RECORDS_H_
