// Engine::CheckInvariants: every derived structure rebuilt from the records
// and compared, in the manner of exchange-core's validateInternalState.
// Tests and fuzzers call it after every command.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "engine/codes.h"
#include "engine/engine_impl.h"

namespace duijie {
namespace {

absl::Status Broken(std::string_view what) {
  return absl::InternalError(absl::StrCat("engine invariant: ", Absl(what)));
}

// Book totals equal up to products whose totals are all zero (an entry
// stays once a product has had orders).
bool SameBooks(const absl::flat_hash_map<uint32_t, ProductBook>& a,
               const absl::flat_hash_map<uint32_t, ProductBook>& b) {
  const ProductBook empty;
  for (const auto& [product, book] : a) {
    auto it = b.find(product);
    if (!(book == (it == b.end() ? empty : it->second))) return false;
  }
  for (const auto& [product, book] : b) {
    if (!a.contains(product) && !(book == empty)) return false;
  }
  return true;
}

}  // namespace

absl::Status Engine::Impl::CheckInvariants() const {
  // Records: quantities, statuses and references in range.
  BookTotals books;
  for (uint64_t id = 1; id <= offers_.size(); ++id) {
    const OfferRecord& o = offers_[id - 1];
    if (o.remaining_kg < 0 || o.remaining_kg > o.quantity_kg ||
        (o.status == OrderStatus::kFilled) != (o.remaining_kg == 0) ||
        o.product >= products_.size() || !reference_.Known(o.region)) {
      return Broken(absl::StrCat("offer ", id, " is inconsistent"));
    }
    if (o.status == OrderStatus::kOpen) {
      if (o.priority != reference_.IsPriorityRegion(o.region)) {
        return Broken(absl::StrCat("offer ", id, " is on the wrong shelf"));
      }
      if (o.expires_at <= now_) {
        return Broken(absl::StrCat("offer ", id, " is open past expiry"));
      }
      books.OfferRested(o.product, o.remaining_kg, o.floor_price);
    }
  }
  for (uint64_t id = 1; id <= pledges_.size(); ++id) {
    const PledgeRecord& p = pledges_[id - 1];
    if (p.remaining_kg < 0 || p.remaining_kg > p.quantity_kg ||
        p.spent_fen < 0 || (p.budget_fen > 0 && p.spent_fen > p.budget_fen) ||
        p.product >= products_.size() || !reference_.Known(p.city)) {
      return Broken(absl::StrCat("pledge ", id, " is inconsistent"));
    }
    if (p.status == OrderStatus::kOpen) {
      if (p.expires_at <= now_ || p.remaining_kg == 0) {
        return Broken(absl::StrCat("pledge ", id, " should not be open"));
      }
      books.PledgeRested(p.product, p.remaining_kg, p.max_price);
    }
  }
  // Queue sequence numbers: unique per side, none beyond the counter, and
  // the counter is the count until an amendment sends an order back.
  auto seqs_ok = [](const auto& records, uint64_t counter) {
    if (counter < records.size()) return false;
    std::vector<uint64_t> seqs;
    seqs.reserve(records.size());
    for (const auto& r : records) {
      if (r.seq == 0 || r.seq > counter) return false;
      seqs.push_back(r.seq);
    }
    std::sort(seqs.begin(), seqs.end());
    return std::adjacent_find(seqs.begin(), seqs.end()) == seqs.end();
  };
  if (!seqs_ok(offers_, offer_seq_) || !seqs_ok(pledges_, pledge_seq_)) {
    return Broken("queue sequence numbers are not unique and counted");
  }
  for (const OfferRecord& o : offers_) {
    if (!DeadlineLengthHeld(o.ship_within)) {
      return Broken("an offer's ship_within is out of range");
    }
  }
  for (const PledgeRecord& p : pledges_) {
    if (!DeadlineLengthHeld(p.accept_within)) {
      return Broken("a pledge's accept_within is out of range");
    }
  }
  // Matches against the orders they filled.
  std::vector<int64_t> offer_filled(offers_.size()),
      pledge_filled(pledges_.size());
  std::vector<int64_t> pledge_spent(pledges_.size());
  for (uint64_t id = 1; id <= matches_.size(); ++id) {
    const MatchRecord& m = matches_[id - 1];
    if (m.offer_id == 0 || m.offer_id > offers_.size() || m.pledge_id == 0 ||
        m.pledge_id > pledges_.size() || m.quantity_kg <= 0 ||
        m.amount_fen != m.quantity_kg * m.price) {
      return Broken(absl::StrCat("match ", id, " is inconsistent"));
    }
    const bool shipped =
        m.status != MatchStatus::kMatched && m.status != MatchStatus::kLapsed;
    if (m.shipped_kg < 0 || m.shipped_kg > m.quantity_kg ||
        (shipped != (m.shipped_kg > 0)) || m.accepted_kg < 0 ||
        m.accepted_kg > m.shipped_kg ||
        ((m.status == MatchStatus::kDelivered) != (m.accepted_kg > 0)) ||
        m.returned_kg < 0 || m.returned_kg > m.quantity_kg - m.accepted_kg ||
        (m.status == MatchStatus::kMatched && m.returned_kg != 0)) {
      return Broken(absl::StrCat("match ", id, "'s lifecycle is inconsistent"));
    }
    // A member's match belongs to a pledge that lists that member.
    if (m.member != kNoText) {
      const PledgeRecord& p = pledges_[m.pledge_id - 1];
      auto it = pledge_members_.find(m.pledge_id);
      if (!p.has_members || it == pledge_members_.end() ||
          std::none_of(
              it->second.begin(), it->second.end(),
              [&](const PledgeMember& pm) { return pm.buyer == m.member; })) {
        return Broken(absl::StrCat("match ", id,
                                   "'s member is not its "
                                   "pledge's"));
      }
    }
    // The offer keeps every kg it sold; the pledge only those not given
    // back to it.
    offer_filled[m.offer_id - 1] += m.quantity_kg;
    // A standing pledge's figures are its current period's.
    if (InCurrentPeriod(m)) {
      pledge_filled[m.pledge_id - 1] += m.kept_kg();
      pledge_spent[m.pledge_id - 1] += m.kept_kg() * m.price;
    }
  }
  if (std::string events = CheckMatchEvents(); !events.empty()) {
    return Broken(events);
  }
  uint64_t allied = 0;
  for (const PledgeRecord& p : pledges_) allied += p.has_members;
  if (allied != pledge_members_.size()) {
    return Broken("pledges with members differ from the members table");
  }
  for (const auto& [pledge_id, members] : pledge_members_) {
    uint64_t total = 0;
    for (size_t i = 0; i < members.size(); ++i) {
      total += members[i].share_permille;
      if (i > 0 && strings_.Get(members[i - 1].buyer) >=
                       strings_.Get(members[i].buyer)) {
        total = 0;  // out of buyer_id order: reported below
        break;
      }
    }
    if (pledge_id == 0 || pledge_id > pledges_.size() ||
        !pledges_[pledge_id - 1].has_members || total != 1000) {
      return Broken(absl::StrCat("pledge ", pledge_id,
                                 "'s members are "
                                 "malformed"));
    }
  }
  for (uint64_t id = 1; id <= offers_.size(); ++id) {
    const OfferRecord& o = offers_[id - 1];
    if (o.quantity_kg - o.remaining_kg != offer_filled[id - 1]) {
      return Broken(absl::StrCat("offer ", id, "'s fills do not add up"));
    }
  }
  for (uint64_t id = 1; id <= pledges_.size(); ++id) {
    const PledgeRecord& p = pledges_[id - 1];
    if (p.quantity_kg - p.remaining_kg != pledge_filled[id - 1] ||
        p.spent_fen != pledge_spent[id - 1]) {
      return Broken(absl::StrCat("pledge ", id, "'s fills do not add up"));
    }
  }
  // Standing pledges: the flag and the side record go together, and its
  // periods follow each other.
  size_t standing = 0;
  for (uint64_t id = 1; id <= pledges_.size(); ++id) {
    if (!pledges_[id - 1].standing) continue;
    ++standing;
    const StandingRecord* s = Standing(id);
    if (s == nullptr || s->period == Period::kNone || s->quantity_kg <= 0 ||
        s->current_start > now_) {
      return Broken(absl::StrCat("standing pledge ", id, " is inconsistent"));
    }
    Micros start = s->closed.empty() ? s->current_start : s->closed[0].start;
    for (const StandingRecord::Closed& c : s->closed) {
      if (c.start != start) {
        return Broken(absl::StrCat("standing pledge ", id, "'s periods skip"));
      }
      start = NextPeriodStart(s->period, start);
    }
    if (start != s->current_start) {
      return Broken(absl::StrCat("standing pledge ", id, "'s periods skip"));
    }
  }
  if (standing != standing_.size()) {
    return Broken("a standing record has no standing pledge");
  }
  // Derived structures.
  if (!SameBooks(books.books(), books_.books())) {
    return Broken("book totals differ from the open orders");
  }
  if (std::string diff = index_.Check(); !diff.empty()) return Broken(diff);
  uint64_t live_expiries = 0;
  expiries_.ForEachUntil(
      INT64_MAX, [this](uint64_t tag) { return ExpiryLive(tag); },
      [&](uint64_t) { ++live_expiries; });
  uint64_t open = 0;
  for (const OfferRecord& o : offers_) open += o.status == OrderStatus::kOpen;
  for (const PledgeRecord& p : pledges_) open += p.status == OrderStatus::kOpen;
  if (live_expiries != open) {
    return Broken(absl::StrCat("expiry queue holds ", live_expiries,
                               " open orders, the book ", open));
  }
  uint64_t live_deadlines = 0;
  deadlines_.ForEachUntil(
      INT64_MAX, [this](uint64_t tag) { return DeadlineLive(tag); },
      [&](uint64_t) { ++live_deadlines; });
  uint64_t waiting = 0;
  for (const MatchRecord& m : matches_) {
    waiting += (m.status == MatchStatus::kMatched && m.ship_by > 0) ||
               (m.status == MatchStatus::kShipped && m.accept_by > 0);
  }
  if (live_deadlines != waiting) {
    return Broken(absl::StrCat("deadline queue holds ", live_deadlines,
                               " matches, ", waiting, " have one"));
  }
  auto owners_ok = [](const auto& by_owner, const auto& records,
                      auto owner_of) {
    uint64_t listed = 0;
    for (const auto& [owner, ids] : by_owner) {
      for (size_t i = 0; i < ids.size(); ++i) {
        if (ids[i] == 0 || ids[i] > records.size() ||
            (i > 0 && ids[i] <= ids[i - 1]) ||
            owner_of(records[ids[i] - 1]) != owner) {
          return false;
        }
      }
      listed += ids.size();
    }
    return listed == records.size();
  };
  // A member's match is listed under the pledge's buyer and the member.
  auto buyer_matches_ok = [this] {
    uint64_t listed = 0, expected = matches_.size();
    for (const auto& [owner, ids] : matches_by_buyer_) {
      for (size_t i = 0; i < ids.size(); ++i) {
        if (ids[i] == 0 || ids[i] > matches_.size() ||
            (i > 0 && ids[i] <= ids[i - 1])) {
          return false;
        }
        const MatchRecord& m = matches_[ids[i] - 1];
        if (owner != pledges_[m.pledge_id - 1].buyer && owner != m.member) {
          return false;
        }
      }
      listed += ids.size();
    }
    for (const MatchRecord& m : matches_) {
      expected +=
          m.member != kNoText && m.member != pledges_[m.pledge_id - 1].buyer;
    }
    return listed == expected;
  };
  if (!owners_ok(offers_by_supplier_, offers_,
                 [](const OfferRecord& o) { return o.supplier; }) ||
      !owners_ok(pledges_by_buyer_, pledges_,
                 [](const PledgeRecord& p) { return p.buyer; }) ||
      !owners_ok(matches_by_supplier_, matches_,
                 [this](const MatchRecord& m) {
                   return offers_[m.offer_id - 1].supplier;
                 }) ||
      !buyer_matches_ok()) {
    return Broken("a per-owner list differs from the records");
  }
  // Open orders per owner, as the open-order limit reads them.
  auto open_counts_ok = [](const std::vector<uint32_t>& counts,
                           const auto& records, auto owner_of) {
    std::vector<uint32_t> expected(counts.size(), 0);
    for (const auto& r : records) {
      if (r.status != OrderStatus::kOpen) continue;
      if (owner_of(r) >= expected.size()) return false;
      ++expected[owner_of(r)];
    }
    return expected == counts;
  };
  if (!open_counts_ok(open_offers_by_supplier_, offers_,
                      [](const OfferRecord& o) { return o.supplier; }) ||
      !open_counts_ok(open_pledges_by_buyer_, pledges_,
                      [](const PledgeRecord& p) { return p.buyer; })) {
    return Broken("open orders per owner differ from the records");
  }
  if (!reference_.PartnerIndexConsistent()) {
    return Broken("the partner index differs from the pairings");
  }
  if (!requests_.KeysKnown(keys_.size())) {
    return Broken("a key command's memo names an unknown key");
  }
  if (!requests_.Consistent()) return Broken("request memos are inconsistent");
  // Buyers: each well formed (a region is never removed, so its city is
  // still known) and filed under its own id; UpsertBuyer memos name one.
  for (const auto& [id, b] : buyers_.all()) {
    if (id != b.buyer_id || !BuyerRegistry::Check(b, reference_).ok()) {
      return Broken(absl::StrCat("buyer ", id, " is malformed"));
    }
  }
  if (!requests_.BuyersKnown(buyers_)) {
    return Broken("an UpsertBuyer memo names an unregistered buyer");
  }
  return absl::OkStatus();
}

}  // namespace duijie
