// The read side: views of orders and matches, the paged lists and the
// book. Reads take the caller's `now`, so that an order past its expiry
// reads as EXPIRED before a tick has retired it; they never change state.
#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/codes.h"
#include "engine/engine_impl.h"
#include "engine/text.h"

namespace duijie {

OfferView Engine::Impl::MakeOfferView(uint64_t id, Micros now) const {
  const OfferRecord& o = offers_[id - 1];
  OfferView v;
  v.offer_id = id;
  v.supplier_id = strings_.Get(o.supplier);
  v.region_code = reference_.CodeText(o.region);
  v.product_code = products_.code(o.product);
  v.grade = o.grade;
  v.quantity_kg = o.quantity_kg;
  v.floor_price_fen_per_kg = o.floor_price;
  v.min_lot_kg = o.min_lot_kg;
  v.expires_at = o.expires_at;
  v.certified = o.certified;
  v.households = o.households;
  v.remaining_kg = o.remaining_kg;
  v.status = EffectiveStatus(o.status, o.expires_at, now);
  v.posted_at = o.posted_at;
  v.ship_within = o.ship_within;
  return v;
}

PledgeView Engine::Impl::MakePledgeView(uint64_t id, Micros now) const {
  const PledgeRecord& p = pledges_[id - 1];
  PledgeView v;
  v.pledge_id = id;
  v.buyer_id = strings_.Get(p.buyer);
  v.buyer_city_code = reference_.CodeText(p.city);
  v.buyer_kind = p.kind;
  v.product_code = products_.code(p.product);
  v.min_grade = p.min_grade;
  v.quantity_kg = p.quantity_kg;
  v.max_price_fen_per_kg = p.max_price;
  v.budget_fen = p.budget_fen;
  v.min_lot_kg = p.min_lot_kg;
  v.expires_at = p.expires_at;
  v.scope = p.scope;
  for (int32_t code : p.listed.as_posted()) {
    v.region_codes.push_back(reference_.CodeText(code));
  }
  v.require_certified = p.require_certified;
  v.remaining_kg = p.remaining_kg;
  v.spent_fen = p.spent_fen;
  v.status = EffectiveStatus(p.status, p.expires_at, now);
  v.posted_at = p.posted_at;
  v.accept_within = p.accept_within;
  if (const StandingRecord* s = p.standing ? &standing_.at(id) : nullptr) {
    v.recurrence.period = static_cast<int>(s->period);
    v.recurrence.quantity_kg = s->quantity_kg;
    v.recurrence.budget_fen = s->budget_fen;
    v.recurrence.until = p.expires_at;
    v.recurrence.carry_over = s->carry_over;
  }
  if (p.has_members) {
    for (const PledgeMember& m : pledge_members_.at(id)) {
      v.members.push_back(
          {std::string(strings_.Get(m.buyer)), m.share_permille});
    }
  }
  return v;
}

MatchView Engine::Impl::MakeMatchView(uint64_t id) const {
  const MatchRecord& m = matches_[id - 1];
  const OfferRecord& o = offers_[m.offer_id - 1];
  const PledgeRecord& p = pledges_[m.pledge_id - 1];
  MatchView v;
  v.match_id = id;
  v.offer_id = m.offer_id;
  v.pledge_id = m.pledge_id;
  v.supplier_id = strings_.Get(o.supplier);
  v.buyer_id = strings_.Get(p.buyer);
  if (m.member != kNoText) v.member_buyer_id = strings_.Get(m.member);
  v.product_code = products_.code(o.product);
  v.region_code = reference_.CodeText(o.region);
  v.buyer_city_code = reference_.CodeText(p.city);
  v.quantity_kg = m.quantity_kg;
  v.price_fen_per_kg = m.price;
  v.amount_fen = m.amount_fen;
  v.partner = m.partner;
  v.matched_at = m.matched_at;
  v.status = m.status;
  v.ship_by = m.ship_by;
  v.shipped_at = m.shipped_at;
  v.shipped_kg = m.shipped_kg;
  v.accept_by = m.accept_by;
  v.delivered_at = m.delivered_at;
  v.accepted_kg = m.accepted_kg;
  v.returned_kg = m.returned_kg;
  if (m.note != kNoText) v.note = strings_.Get(m.note);
  if (m.reason != kNoText) v.reason = strings_.Get(m.reason);
  v.updated_at = m.updated_at;
  return v;
}

std::vector<MatchView> Engine::Impl::MatchRange(uint64_t first,
                                                uint32_t count) const {
  std::vector<MatchView> out;
  out.reserve(count);
  for (uint64_t id = first; id < first + count; ++id) {
    out.push_back(MakeMatchView(id));
  }
  return out;
}

absl::StatusOr<OfferView> Engine::Impl::GetOffer(uint64_t id,
                                                 Micros now) const {
  if (id == 0 || id > offers_.size()) {
    return absl::NotFoundError(
        absl::StrCat("id: offer ", id, " does not exist"));
  }
  return MakeOfferView(id, now);
}

absl::StatusOr<PledgeView> Engine::Impl::GetPledge(uint64_t id,
                                                   Micros now) const {
  if (id == 0 || id > pledges_.size()) {
    return absl::NotFoundError(
        absl::StrCat("id: pledge ", id, " does not exist"));
  }
  PledgeView view = MakePledgeView(id, now);
  if (pledges_[id - 1].standing) view.periods = PeriodViews(id);
  return view;
}

namespace {

// Walks ids > after_id, from an owner's sorted list when there is one, and
// collects up to `limit` that `passes`; *more tells whether another passes.
template <typename Passes, typename Make>
auto CollectAfter(const IdList* owned, uint64_t total, uint64_t after_id,
                  int limit, Passes passes, Make make, bool* more) {
  std::vector<decltype(make(uint64_t{1}))> out;
  *more = false;
  auto visit = [&](uint64_t id) {
    if (!passes(id)) return true;
    if (static_cast<int>(out.size()) == limit) {
      *more = true;
      return false;
    }
    out.push_back(make(id));
    return true;
  };
  if (owned != nullptr) {
    for (auto it = std::upper_bound(owned->begin(), owned->end(), after_id);
         it != owned->end(); ++it) {
      if (!visit(*it)) break;
    }
  } else {
    for (uint64_t id = after_id + 1; id <= total; ++id) {
      if (!visit(id)) break;
    }
  }
  return out;
}

// How many ids > after_id pass, walked as CollectAfter walks them.
template <typename Passes>
uint64_t CountAfter(const IdList* owned, uint64_t total, uint64_t after_id,
                    Passes passes) {
  uint64_t n = 0;
  if (owned != nullptr) {
    for (auto it = std::upper_bound(owned->begin(), owned->end(), after_id);
         it != owned->end(); ++it) {
      n += passes(*it) ? 1 : 0;
    }
  } else {
    for (uint64_t id = after_id + 1; id <= total; ++id) {
      n += passes(id) ? 1 : 0;
    }
  }
  return n;
}

const IdList kNoIds;

// Whether the text of region `code` starts with `prefix`, without looking
// the region up: a known region's text is its code's six digits (as
// ParseRegionCode read them), so the prefix's digits are compared with the
// code's leading ones. The filters below run for every item a count scans;
// looking the text up was most of an item's cost.
bool RegionStartsWith(int32_t code, std::string_view prefix) {
  if (prefix.size() > 6) return false;  // no six-digit code starts so
  int32_t value = 0;
  for (char c : prefix) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  switch (prefix.size()) {
    case 0:
      return true;
    case 1:
      return code / 100000 == value;
    case 2:
      return code / 10000 == value;
    case 3:
      return code / 1000 == value;
    case 4:
      return code / 100 == value;
    case 5:
      return code / 10 == value;
    case 6:
      return code == value;
    default:
      return false;
  }
}

// FilterProduct's answer for a filter without a product prefix.
constexpr uint32_t kAnyProduct = kNone - 1;

}  // namespace

uint32_t Engine::Impl::FilterProduct(const OrderFilter& f) const {
  return f.product_code_prefix.empty() ? kAnyProduct
                                       : products_.Find(f.product_code_prefix);
}

// The tree holds every ancestor of each product it holds, so a product is
// under the prefix (whole segments) exactly when the prefix's index is on
// its chain; a prefix the tree lacks (kNone) covers nothing.
bool Engine::Impl::ProductPasses(uint32_t product, uint32_t filter) const {
  if (filter == kAnyProduct) return true;
  const auto& chain = products_.node(product).chain;
  return std::find(chain.begin(), chain.end(), filter) != chain.end();
}

bool Engine::Impl::OfferPasses(const OfferRecord& o, const OrderFilter& f,
                               uint32_t product, Micros now) const {
  if (f.status != 0 && static_cast<int>(EffectiveStatus(o.status, o.expires_at,
                                                        now)) != f.status) {
    return false;
  }
  if (!ProductPasses(o.product, product)) return false;
  return RegionStartsWith(o.region, f.region_code_prefix);
}

bool Engine::Impl::PledgePasses(const PledgeRecord& p, const OrderFilter& f,
                                uint32_t product, Micros now) const {
  if (f.restricted && !ListsId(f.visible_owner_ids, strings_.Get(p.buyer))) {
    return false;
  }
  if (f.status != 0 && static_cast<int>(EffectiveStatus(p.status, p.expires_at,
                                                        now)) != f.status) {
    return false;
  }
  if (!ProductPasses(p.product, product)) return false;
  return RegionStartsWith(p.city, f.region_code_prefix);
}

bool Engine::Impl::MatchPasses(const MatchRecord& m,
                               const MatchFilter& f) const {
  if (f.offer_id != 0 && m.offer_id != f.offer_id) return false;
  if (f.pledge_id != 0 && m.pledge_id != f.pledge_id) return false;
  if (f.status != 0 && static_cast<int>(m.status) != f.status) return false;
  const OfferRecord& o = offers_[m.offer_id - 1];
  const PledgeRecord& p = pledges_[m.pledge_id - 1];
  if (!f.supplier_id.empty() && strings_.Get(o.supplier) != f.supplier_id) {
    return false;
  }
  const std::string_view member =
      m.member == kNoText ? std::string_view() : strings_.Get(m.member);
  if (!f.BuyerPasses(strings_.Get(p.buyer), member)) return false;
  if (!f.Shows(strings_.Get(o.supplier), strings_.Get(p.buyer), member)) {
    return false;
  }
  return RegionStartsWith(o.region, f.region_code_prefix);
}

const IdList* Engine::Impl::OwnedOffers(const OrderFilter& filter) const {
  if (filter.owner_id.empty()) return nullptr;
  auto it = offers_by_supplier_.find(strings_.Find(filter.owner_id));
  return it == offers_by_supplier_.end() ? &kNoIds : &it->second;
}

const IdList* Engine::Impl::OwnedPledges(const OrderFilter& filter) const {
  if (filter.owner_id.empty()) return nullptr;
  auto it = pledges_by_buyer_.find(strings_.Find(filter.owner_id));
  return it == pledges_by_buyer_.end() ? &kNoIds : &it->second;
}

const IdList* Engine::Impl::OwnedMatches(const MatchFilter& filter) const {
  auto owner_list = [&](const auto& index, std::string_view owner) {
    auto it = index.find(strings_.Find(owner));
    return it == index.end() ? &kNoIds : &it->second;
  };
  if (!filter.supplier_id.empty()) {
    return owner_list(matches_by_supplier_, filter.supplier_id);
  }
  if (!filter.buyer_id.empty()) {
    return owner_list(matches_by_buyer_, filter.buyer_id);
  }
  if (filter.offer_id != 0) {
    return filter.offer_id <= offers_.size()
               ? owner_list(matches_by_supplier_,
                            strings_.Get(offers_[filter.offer_id - 1].supplier))
               : &kNoIds;
  }
  if (filter.pledge_id != 0) {
    return filter.pledge_id <= pledges_.size()
               ? owner_list(matches_by_buyer_,
                            strings_.Get(pledges_[filter.pledge_id - 1].buyer))
               : &kNoIds;
  }
  return nullptr;
}

std::vector<OfferView> Engine::Impl::ListOffers(const OrderFilter& filter,
                                                uint64_t after_id, int limit,
                                                Micros now, bool* more) const {
  const uint32_t product = FilterProduct(filter);
  return CollectAfter(
      OwnedOffers(filter), offers_.size(), after_id, limit,
      [&](uint64_t id) {
        return OfferPasses(offers_[id - 1], filter, product, now);
      },
      [&](uint64_t id) { return MakeOfferView(id, now); }, more);
}

std::vector<PledgeView> Engine::Impl::ListPledges(const OrderFilter& filter,
                                                  uint64_t after_id, int limit,
                                                  Micros now,
                                                  bool* more) const {
  const uint32_t product = FilterProduct(filter);
  return CollectAfter(
      OwnedPledges(filter), pledges_.size(), after_id, limit,
      [&](uint64_t id) {
        return PledgePasses(pledges_[id - 1], filter, product, now);
      },
      [&](uint64_t id) { return MakePledgeView(id, now); }, more);
}

std::vector<MatchView> Engine::Impl::ListMatches(const MatchFilter& filter,
                                                 uint64_t after_id, int limit,
                                                 bool* more) const {
  return CollectAfter(
      OwnedMatches(filter), matches_.size(), after_id, limit,
      [&](uint64_t id) { return MatchPasses(matches_[id - 1], filter); },
      [&](uint64_t id) { return MakeMatchView(id); }, more);
}

// The counts walk the same ids with the same tests as the lists above, so
// that a count is exactly what paging to the end would show.
uint64_t Engine::Impl::CountOffers(const OrderFilter& filter,
                                   Micros now) const {
  const uint32_t product = FilterProduct(filter);
  return CountAfter(OwnedOffers(filter), offers_.size(), 0, [&](uint64_t id) {
    return OfferPasses(offers_[id - 1], filter, product, now);
  });
}

uint64_t Engine::Impl::CountPledges(const OrderFilter& filter,
                                    Micros now) const {
  const uint32_t product = FilterProduct(filter);
  return CountAfter(OwnedPledges(filter), pledges_.size(), 0, [&](uint64_t id) {
    return PledgePasses(pledges_[id - 1], filter, product, now);
  });
}

uint64_t Engine::Impl::CountMatches(const MatchFilter& filter,
                                    uint64_t after_id) const {
  return CountAfter(
      OwnedMatches(filter), matches_.size(), after_id,
      [&](uint64_t id) { return MatchPasses(matches_[id - 1], filter); });
}

MatchEventView Engine::Impl::MakeMatchEventView(uint64_t index) const {
  const MatchEventRecord& e = events_[index];
  MatchEventView out;
  out.event_id = index + 1;
  out.kind = e.status == MatchStatus::kMatched ? MatchEventKind::kNewMatch
                                               : MatchEventKind::kStatusChanged;
  MatchView& v = out.match = MakeMatchView(e.match_id);
  v.status = e.status;
  v.updated_at = e.at;
  // Terminal statuses are the match's last: the record shows them as they
  // are. An earlier event shows only what its status had set.
  if (e.status == MatchStatus::kMatched || e.status == MatchStatus::kShipped) {
    v.delivered_at = 0;
    v.accepted_kg = 0;
    v.reason = {};
    // A shipment gives back the kg not shipped, all or none (the flag).
    v.returned_kg = e.status == MatchStatus::kShipped && e.returned
                        ? v.quantity_kg - v.shipped_kg
                        : 0;
  }
  if (e.status == MatchStatus::kMatched) {
    v.shipped_at = 0;
    v.shipped_kg = 0;
    v.accept_by = 0;
    v.note = {};
  }
  return out;
}

std::vector<MatchEventView> Engine::Impl::ListMatchEvents(
    const MatchFilter& filter, uint64_t after_event_id, int limit,
    bool* more) const {
  std::vector<MatchEventView> out;
  *more = false;
  // The status filter is on the event's status, not the match's now.
  MatchFilter by_match = filter;
  by_match.status = 0;
  for (uint64_t i = after_event_id; i < events_.size(); ++i) {
    const MatchEventRecord& e = events_[i];
    if (filter.status != 0 && static_cast<int>(e.status) != filter.status) {
      continue;
    }
    if (!MatchPasses(matches_[e.match_id - 1], by_match)) continue;
    if (static_cast<int>(out.size()) == limit) {
      *more = true;
      break;
    }
    out.push_back(MakeMatchEventView(i));
  }
  return out;
}

uint64_t Engine::Impl::NewMatchEventId(uint64_t match_id) const {
  if (match_id == 0 || match_id > matches_.size()) return 0;
  // Event times never go down, and the event that made the match has its
  // matched_at: search by time, then walk the events of that same time
  // (one clock step's worth) to it. It is at least the match_id-th event.
  const Micros at = matches_[match_id - 1].matched_at;
  auto it = std::lower_bound(
      events_.begin() + (match_id - 1), events_.end(), at,
      [](const MatchEventRecord& e, Micros t) { return e.at < t; });
  for (; it != events_.end(); ++it) {
    if (it->match_id == match_id && it->status == MatchStatus::kMatched) {
      return static_cast<uint64_t>(it - events_.begin()) + 1;
    }
  }
  return 0;  // unreachable while CheckMatchEvents holds
}

std::vector<BookLine> Engine::Impl::GetBook(std::string_view prefix,
                                            std::string_view after_code,
                                            int limit, Micros now,
                                            bool* more) const {
  *more = false;
  // Orders that have expired by `now` but that no command has retired yet
  // are still in the totals: collect them, per product, to leave them out.
  absl::flat_hash_map<uint32_t, ProductBook> stale;
  expiries_.ForEachUntil(
      now, [this](uint64_t tag) { return ExpiryLive(tag); },
      [&](uint64_t tag) {
        const uint64_t id = tag >> 1;
        if (tag & 1) {
          const OfferRecord& o = offers_[id - 1];
          stale[o.product].offers.Rest(o.remaining_kg, o.floor_price);
        } else {
          const PledgeRecord& p = pledges_[id - 1];
          stale[p.product].pledges.Rest(p.remaining_kg, p.max_price);
        }
      });
  // The best price level with an order left once the stale ones are out.
  auto best = [](const BookSide& side, const BookSide* gone, bool lowest) {
    auto live = [&](int64_t price, int64_t count) {
      if (gone == nullptr) return count > 0;
      auto it = gone->prices.find(price);
      return count > (it == gone->prices.end() ? 0 : it->second);
    };
    if (lowest) {
      for (const auto& [price, count] : side.prices) {
        if (live(price, count)) return price;
      }
    } else {
      for (auto it = side.prices.rbegin(); it != side.prices.rend(); ++it) {
        if (live(it->first, it->second)) return it->first;
      }
    }
    return int64_t{0};
  };
  std::vector<BookLine> lines;
  auto add_line = [&](uint32_t product, const ProductBook& book) {
    const std::string_view code = products_.code(product);
    if (!after_code.empty() && code <= after_code) return;
    auto s = stale.find(product);
    const ProductBook* gone = s == stale.end() ? nullptr : &s->second;
    BookLine line;
    line.product_code = code;
    line.open_offer_kg = book.offers.kg - (gone ? gone->offers.kg : 0);
    line.open_offer_count = book.offers.count - (gone ? gone->offers.count : 0);
    line.open_pledge_kg = book.pledges.kg - (gone ? gone->pledges.kg : 0);
    line.open_pledge_count =
        book.pledges.count - (gone ? gone->pledges.count : 0);
    if (line.open_offer_count == 0 && line.open_pledge_count == 0) return;
    line.best_floor_price_fen_per_kg =
        best(book.offers, gone ? &gone->offers : nullptr, /*lowest=*/true);
    line.best_max_price_fen_per_kg =
        best(book.pledges, gone ? &gone->pledges : nullptr, /*lowest=*/false);
    line.next_clearing_at = NextClearingOf(product);
    lines.push_back(line);
  };
  if (prefix.empty()) {
    for (const auto& [product, book] : books_.books()) add_line(product, book);
  } else {
    // The products a prefix covers are its subtree: a product's ancestors
    // are always in the tree, so an unknown prefix covers nothing.
    const uint32_t known = products_.Find(prefix);
    if (known != kNone) {
      for (uint32_t product : products_.node(known).subtree) {
        if (const ProductBook* book = books_.Find(product)) {
          add_line(product, *book);
        }
      }
    }
  }
  auto by_code = [](const BookLine& a, const BookLine& b) {
    return a.product_code < b.product_code;
  };
  if (limit > 0 && lines.size() > static_cast<size_t>(limit)) {
    // Only the page is sorted: a page of a large book costs a pass over
    // the products after after_code, not a sort of all of them.
    std::partial_sort(lines.begin(), lines.begin() + limit, lines.end(),
                      by_code);
    lines.resize(limit);
    *more = true;
  } else {
    std::sort(lines.begin(), lines.end(), by_code);
  }
  return lines;
}

}  // namespace duijie

namespace duijie {

// --- Buyers' progress -------------------------------------------------------

absl::Status Engine::Impl::AddBuyerProgress(std::string_view buyer_id, int year,
                                            BuyerProgress* progress) const {
  const uint32_t sid = strings_.Find(buyer_id);
  auto it = matches_by_buyer_.find(sid);
  if (sid == kNone || it == matches_by_buyer_.end()) {
    return absl::OkStatus();
  }
  auto add = [&](int64_t* sum, int64_t fen) {
    if (__builtin_add_overflow(*sum, fen, sum)) {
      return absl::OutOfRangeError(
          absl::StrCat("buyer ", EchoValue(buyer_id), ": purchases in ", year,
                       " overflow a 64-bit sum of fen"));
    }
    return absl::OkStatus();
  };
  // Matched: the kg a match still holds (what lapsed, was declined or came
  // back short went back to the pledge), in the month it was made.
  // Delivered: what the buyer accepted (or took at accept_by), in the month
  // it was delivered. Cannot overflow: at most the match's amount.
  for (const uint64_t id : it->second) {
    const MatchRecord& m = matches_[id - 1];
    // A match counts for the buyer it is for: its member when it has one
    // (the list of the alliance, the pledge's buyer, holds it too), else
    // the pledge's buyer. So an alliance's sum of its members counts each
    // match once, even when a member's id is also the alliance's.
    const uint32_t for_buyer =
        m.member != kNoText ? m.member : pledges_[m.pledge_id - 1].buyer;
    if (for_buyer != sid) continue;
    if (const ShanghaiMonth made = ShanghaiMonthOf(m.matched_at);
        made.year == year) {
      const int64_t fen = m.kept_kg() * m.price;
      for (absl::Status s :
           {add(&progress->months[made.month - 1].matched_fen, fen),
            add(&progress->matched_fen, fen)}) {
        if (!s.ok()) return s;
      }
    }
    if (m.status != MatchStatus::kDelivered) continue;
    if (const ShanghaiMonth got = ShanghaiMonthOf(m.delivered_at);
        got.year == year) {
      const int64_t fen = m.accepted_kg * m.price;
      for (absl::Status s :
           {add(&progress->months[got.month - 1].delivered_fen, fen),
            add(&progress->delivered_fen, fen)}) {
        if (!s.ok()) return s;
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<BuyerProgress> Engine::Impl::GetBuyerProgress(
    std::string_view buyer_id, std::string_view alliance_id, int year) const {
  if (buyer_id.empty() == alliance_id.empty()) {
    return absl::InvalidArgumentError(
        "buyer_id, alliance_id: name exactly one of them");
  }
  if (year < 1 || year > 9999) {
    return absl::InvalidArgumentError(
        absl::StrCat("year: ", year, " is out of range [1, 9999]"));
  }
  std::vector<const Buyer*> members;
  if (!buyer_id.empty()) {
    const Buyer* b = buyers_.Find(buyer_id);
    if (b == nullptr) {
      return absl::NotFoundError(absl::StrCat(
          "buyer_id: buyer ", EchoValue(buyer_id), " is not registered"));
    }
    members.push_back(b);
  } else {
    members = buyers_.Members(alliance_id);
    if (members.empty()) {
      return absl::NotFoundError(
          absl::StrCat("alliance_id: no registered buyer is in alliance ",
                       EchoValue(alliance_id)));
    }
  }
  BuyerProgress progress;
  progress.buyer_id = std::string(buyer_id);
  progress.alliance_id = std::string(alliance_id);
  progress.year = year;
  progress.months.resize(12);
  for (int m = 1; m <= 12; ++m) progress.months[m - 1].month = m;
  for (const Buyer* b : members) {
    if (!alliance_id.empty()) progress.member_ids.push_back(b->buyer_id);
    if (__builtin_add_overflow(progress.annual_target_fen, b->annual_target_fen,
                               &progress.annual_target_fen)) {
      return absl::OutOfRangeError(
          absl::StrCat("alliance ", EchoValue(alliance_id),
                       ": annual targets overflow a 64-bit sum of fen"));
    }
    if (absl::Status s = AddBuyerProgress(b->buyer_id, year, &progress);
        !s.ok()) {
      return s;
    }
  }
  if (progress.annual_target_fen > 0) {
    // 128 bits: matched_fen x 1000 may not fit in 64; the quotient does
    // unless matched is over 9.2e15 times the target, which is capped.
    const __int128 permille = static_cast<__int128>(progress.matched_fen) *
                              1000 / progress.annual_target_fen;
    progress.share_done_permille =
        permille > INT64_MAX ? INT64_MAX : static_cast<int64_t>(permille);
  }
  return progress;
}

}  // namespace duijie
