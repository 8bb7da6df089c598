// ReferenceMatcher: see reference_matcher.h. Every rule is written out in
// the most direct way; where the rules leave a choice open, the comment says
// which reading is taken.
#include "tests/reference_matcher.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "engine/clearing_flow.h"
#include "engine/periods.h"
#include "engine/price_bands.h"

namespace duijie {
namespace {

constexpr size_t kIdBytes = 64;
// Reading taken: a deadline's length is 0 (7 days), -1 (none: old journals)
// or an hour to 366 days; notes and reasons are at most 256 bytes.
constexpr Micros kHour = Micros{3600} * 1000000;
constexpr Micros kDefaultDeadline = 7 * 24 * kHour;
constexpr Micros kDeadlineLimit = 366 * 24 * kHour;
constexpr size_t kMatchTextBytes = 256;
// A deadline an amendment may set.
bool DeadlineOk(Micros d) { return d >= kHour && d <= kDeadlineLimit; }
// A deadline a post may send: also 0 (the default) and -1 (none).
bool GoodWithin(Micros w) { return w == 0 || w == -1 || DeadlineOk(w); }
constexpr size_t kRequestIdBytes = 128;
constexpr size_t kRegionNameCharacters = 64;

// UTF-8 code points in `text`: the bytes that are not continuation bytes.
size_t Characters(const std::string& text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

// Whether region code `outer` is `inner` or an administrative ancestor of
// it (a province xx0000 holds its prefectures and counties, a prefecture
// xxxx00 its counties).
bool Holds(const std::string& outer, const std::string& inner) {
  if (outer == inner) return true;
  if (outer.substr(2) == "0000") return inner.compare(0, 2, outer, 0, 2) == 0;
  if (outer.substr(4) == "00") return inner.compare(0, 4, outer, 0, 4) == 0;
  return false;
}
constexpr size_t kNoteBytes = 256;
constexpr size_t kProductBytes = 128;
constexpr size_t kProductSegments = 6;
constexpr size_t kListedRegions = 64;
constexpr int64_t kQuantityLimit = int64_t{1} << 40;
constexpr int64_t kPriceLimit = int64_t{1} << 30;

absl::Status Invalid(std::string_view field, std::string_view why) {
  return absl::InvalidArgumentError(std::string(field) + ": " +
                                    std::string(why));
}
absl::Status NotFound(std::string_view field, std::string_view value) {
  return absl::NotFoundError(std::string(field) + ": unknown " +
                             std::string(value));
}

// Six ASCII digits; province part not "00"; a "00" prefecture part only
// with a "00" county part.
bool WellFormedRegion(std::string_view c) {
  if (c.size() != 6) return false;
  for (char ch : c) {
    if (ch < '0' || ch > '9') return false;
  }
  if (c.substr(0, 2) == "00") return false;
  if (c.substr(2, 2) == "00" && c.substr(4, 2) != "00") return false;
  return true;
}

// The code itself, its prefecture and its province.
std::vector<std::string> SelfAndAncestors(std::string_view c) {
  std::string s(c);
  return {s, s.substr(0, 2) + "0000", s.substr(0, 4) + "00"};
}

// `code` equals `area` or lies under it.
bool RegionUnder(std::string_view code, std::string_view area) {
  for (const std::string& a : SelfAndAncestors(code)) {
    if (a == area) return true;
  }
  return false;
}

bool WellFormedProduct(std::string_view p) {
  if (p.empty() || p.size() > kProductBytes) return false;
  size_t segments = 0;
  size_t start = 0;
  while (true) {
    size_t end = p.find('.', start);
    std::string_view seg =
        p.substr(start, end == std::string_view::npos ? p.npos : end - start);
    if (seg.empty() || seg[0] < 'a' || seg[0] > 'z') return false;
    for (char ch : seg) {
      bool ok =
          (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
      if (!ok) return false;
    }
    ++segments;
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return segments <= kProductSegments;
}

// Segment-wise: "vegetable" covers "vegetable.cabbage", not "vegetables".
bool ProductUnder(std::string_view product, std::string_view area) {
  if (product == area) return true;
  return product.size() > area.size() &&
         product.substr(0, area.size()) == area && product[area.size()] == '.';
}

}  // namespace

// ---------------------------------------------------------------------------
// Idempotency. Reading taken: the clock moves first (time passes whether or
// not the command is accepted), then a remembered request_id is answered
// before any other validation, so that a retried cancel or a retried post
// whose expires_at has meanwhile passed still gets its first answer.
// request_ids share one namespace across all command kinds.

namespace {

// A control character: C0, DEL, or C1 (U+0080..U+009F, in UTF-8 0xC2
// followed by 0x80..0x9F).
bool HasControlCharacter(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x20 || b == 0x7f) return true;
    if (b == 0xc2 && i + 1 < text.size()) {
      const auto next = static_cast<unsigned char>(text[i + 1]);
      if (next >= 0x80 && next <= 0x9f) return true;
    }
  }
  return false;
}

}  // namespace

absl::Status ReferenceMatcher::Begin(const ReferenceContext& ctx,
                                     const std::vector<std::string_view>& text,
                                     const Access& access,
                                     const Remembered** replay) {
  AdvanceClock(ctx.now);
  *replay = nullptr;
  // Reading taken: no id, code, name or note, nor the request_id, may hold
  // a control character; that is checked first, before the caller.
  if (HasControlCharacter(ctx.request_id)) {
    return Invalid("request_id", "control character");
  }
  for (std::string_view t : text) {
    if (HasControlCharacter(t)) {
      return Invalid("text", "control character in " + std::string(t));
    }
  }
  // Reading taken: a caller is authorised before anything else, its
  // request_id included, so that a repeat by another caller is refused
  // rather than answered; and after the clock has moved, so that orders
  // which expired no longer count towards the limit.
  if (ctx.caller != nullptr) {
    if (absl::Status s = access(); !s.ok()) return s;
  }
  if (ctx.request_id.size() > kRequestIdBytes) {
    return Invalid("request_id", "longer than 128 bytes");
  }
  if (ctx.request_id.empty()) return absl::OkStatus();
  auto it = requests_.find(ctx.request_id);
  if (it == requests_.end()) return absl::OkStatus();
  if (it->second.fingerprint != ctx.fingerprint) {
    return absl::AlreadyExistsError("request_id: reused with another body: " +
                                    std::string(ctx.request_id));
  }
  *replay = &it->second;
  return absl::OkStatus();
}

template <typename R>
absl::StatusOr<R> ReferenceMatcher::Replay(const Remembered& r) {
  const R* first = std::get_if<R>(&r.result);
  if (first == nullptr) {
    // Same digest for a different kind of command: a conflict.
    return absl::AlreadyExistsError("request_id: reused for another command");
  }
  R again = *first;
  again.replayed = true;
  // Reading taken: a repeat answers the order's terms as they stand now
  // (an amendment may have changed them since) with the remaining, spend
  // and status of the first answer.
  // The matches are shown as they stand now too (they may have been
  // shipped since).
  if constexpr (std::is_same_v<R, OfferResult> ||
                std::is_same_v<R, PledgeResult> ||
                std::is_same_v<R, MatchResult>) {
    for (MatchView& m : again.matches) m = matches_[m.match_id - 1];
  }
  if constexpr (std::is_same_v<R, OfferResult>) {
    const OfferView now = ViewOf(offers_[again.offer.offer_id - 1]);
    again.offer.quantity_kg = now.quantity_kg;
    again.offer.floor_price_fen_per_kg = now.floor_price_fen_per_kg;
    again.offer.min_lot_kg = now.min_lot_kg;
    again.offer.expires_at = now.expires_at;
    again.offer.ship_within = now.ship_within;
  } else if constexpr (std::is_same_v<R, PledgeResult>) {
    const PledgeView now = ViewOf(pledges_[again.pledge.pledge_id - 1]);
    again.pledge.quantity_kg = now.quantity_kg;
    again.pledge.max_price_fen_per_kg = now.max_price_fen_per_kg;
    again.pledge.budget_fen = now.budget_fen;
    again.pledge.min_lot_kg = now.min_lot_kg;
    again.pledge.expires_at = now.expires_at;
    again.pledge.scope = now.scope;
    again.pledge.region_codes = now.region_codes;
    again.pledge.accept_within = now.accept_within;
    again.pledge.recurrence = now.recurrence;  // its until is the expiry
  }
  return again;
}

template <typename R>
void ReferenceMatcher::Remember(const ReferenceContext& ctx, const R& result) {
  if (ctx.request_id.empty()) return;
  requests_[std::string(ctx.request_id)] = Remembered{ctx.fingerprint, result};
}

namespace {

// The text fields of a pledge and of a principal.
std::vector<std::string_view> PledgeText(const PledgeSpec& spec) {
  std::vector<std::string_view> text = {spec.buyer_id, spec.buyer_city_code,
                                        spec.product_code};
  for (const std::string& c : spec.region_codes) text.push_back(c);
  for (const MemberShare& m : spec.members) text.push_back(m.buyer_id);
  return text;
}

std::vector<std::string_view> PrincipalText(const Principal& p) {
  std::vector<std::string_view> text = {p.name};
  for (const std::string& id : p.supplier_ids) text.push_back(id);
  for (const std::string& id : p.buyer_ids) text.push_back(id);
  return text;
}

}  // namespace

// ---------------------------------------------------------------------------
// Authorisation. ADMIN may send anything; PLATFORM, SUPPLIER and BUYER may
// post and cancel the orders of the parties they list, nothing else;
// OBSERVER nothing. Ticks need no authority. Cancelling another's offer is
// PERMISSION_DENIED, another's pledge NOT_FOUND (as an unknown id); an
// unknown id is left to the cancel itself. A post whose party already has
// max_open_orders open orders of that side is RESOURCE_EXHAUSTED.

namespace {

bool ActsForParties(const Principal& p) {
  return p.role == static_cast<int>(Role::kPlatform) ||
         p.role == static_cast<int>(Role::kSupplier) ||
         p.role == static_cast<int>(Role::kBuyer);
}

bool Contains(const std::vector<std::string>& ids, std::string_view id) {
  for (const std::string& i : ids) {
    if (i == id) return true;
  }
  return false;
}

}  // namespace

absl::Status ReferenceMatcher::AdminOnly(const ReferenceContext& ctx) {
  if (ctx.caller->role == static_cast<int>(Role::kAdmin)) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError("caller: needs the ADMIN role");
}

absl::Status ReferenceMatcher::MayPost(const ReferenceContext& ctx, bool offer,
                                       const std::string& party) const {
  const Principal& me = *ctx.caller;
  const bool admin = me.role == static_cast<int>(Role::kAdmin);
  if (!admin && !(ActsForParties(me) &&
                  Contains(offer ? me.supplier_ids : me.buyer_ids, party))) {
    return absl::PermissionDeniedError("caller: does not act for " + party);
  }
  if (ctx.max_open_orders == 0) return absl::OkStatus();
  uint64_t open = 0;
  if (offer) {
    for (const Offer& o : offers_) {
      open += o.status == OrderStatus::kOpen && o.spec.supplier_id == party;
    }
  } else {
    for (const Pledge& p : pledges_) {
      open += p.status == OrderStatus::kOpen && p.spec.buyer_id == party;
    }
  }
  if (open >= ctx.max_open_orders) {
    return absl::ResourceExhaustedError("max_open_orders: " + party + " has " +
                                        std::to_string(open));
  }
  return absl::OkStatus();
}

absl::Status ReferenceMatcher::MayCancel(const ReferenceContext& ctx,
                                         bool offer, uint64_t id) const {
  const Principal& me = *ctx.caller;
  if (me.role == static_cast<int>(Role::kAdmin)) return absl::OkStatus();
  const size_t count = offer ? offers_.size() : pledges_.size();
  if (id == 0 || id > count) return absl::OkStatus();
  const std::string& owner =
      offer ? offers_[id - 1].spec.supplier_id : pledges_[id - 1].spec.buyer_id;
  if (ActsForParties(me) &&
      Contains(offer ? me.supplier_ids : me.buyer_ids, owner)) {
    return absl::OkStatus();
  }
  if (offer) {
    return absl::PermissionDeniedError("caller: not the offer's supplier");
  }
  return absl::NotFoundError("pledge_id: unknown " + std::to_string(id));
}

// ---------------------------------------------------------------------------
// Clock.

void ReferenceMatcher::AdvanceClock(Micros now) {
  clock_ = std::max(clock_, now);
  for (Offer& o : offers_) {
    if (o.status == OrderStatus::kOpen && o.spec.expires_at <= clock_) {
      o.status = OrderStatus::kExpired;
    }
  }
  for (Pledge& p : pledges_) {
    if (p.status == OrderStatus::kOpen && p.spec.expires_at <= clock_) {
      p.status = OrderStatus::kExpired;
    }
  }
  // Standing pledges whose next period has started (before deadlines, so
  // that returned kg match in the new period), in (start, id) order:
  // every period passed opens (and all but the last close unmatched), then
  // the pledge refills and matches.
  std::vector<std::pair<Micros, uint64_t>> periods;
  for (const Pledge& p : pledges_) {
    if (p.spec.recurrence.period == 0 ||
        (p.status != OrderStatus::kOpen && p.status != OrderStatus::kFilled) ||
        p.spec.expires_at <= clock_) {
      continue;
    }
    const Micros next = NextPeriodStart(
        static_cast<Period>(p.spec.recurrence.period), p.current_start);
    if (next <= clock_) periods.emplace_back(next, p.id);
  }
  std::sort(periods.begin(), periods.end());
  for (const auto& [first, id] : periods) {
    Pledge& p = pledges_[id - 1];
    const Recurrence& r = p.spec.recurrence;
    const Period period = static_cast<Period>(r.period);
    const int64_t cap =
        std::min(kQuantityLimit, INT64_MAX / p.spec.max_price_fen_per_kg);
    for (Micros start = first; start <= clock_ && start < p.spec.expires_at;
         start = NextPeriodStart(period, start)) {
      PledgePeriodView closed;
      closed.start = p.current_start;
      closed.pledged_kg = p.spec.quantity_kg;
      closed.budget_fen = p.spec.budget_fen;
      p.closed.push_back(closed);
      const int64_t unfilled = r.carry_over ? p.remaining_kg : 0;
      const int64_t unspent = r.carry_over && p.spec.budget_fen > 0
                                  ? p.spec.budget_fen - p.spent_fen
                                  : 0;
      p.spec.quantity_kg = std::min(cap, r.quantity_kg + unfilled);
      p.remaining_kg = p.spec.quantity_kg;
      p.spec.budget_fen = r.budget_fen == 0 ? 0
                          : unspent > INT64_MAX - r.budget_fen
                              ? INT64_MAX
                              : r.budget_fen + unspent;
      p.spent_fen = 0;
      p.current_start = start;
    }
    p.status = OrderStatus::kOpen;
    MatchIncomingPledge(p);
  }
  // Deadlines passed, in (deadline, match id, ship_by first) order. Matches
  // made by returned kg have deadlines after the clock.
  std::vector<std::tuple<Micros, uint64_t, bool>> due;
  for (const MatchView& m : matches_) {
    if (m.status == MatchStatus::kMatched && m.ship_by > 0 &&
        m.ship_by <= clock_) {
      due.emplace_back(m.ship_by, m.match_id, false);
    } else if (m.status == MatchStatus::kShipped && m.accept_by > 0 &&
               m.accept_by <= clock_) {
      due.emplace_back(m.accept_by, m.match_id, true);
    }
  }
  std::sort(due.begin(), due.end());
  for (const auto& [when, id, accept] : due) {
    MatchView& m = matches_[id - 1];
    m.updated_at = clock_;
    if (accept) {
      m.status = MatchStatus::kDelivered;
      m.delivered_at = clock_;
      m.accepted_kg = m.shipped_kg;
    } else {
      m.status = MatchStatus::kLapsed;
      ReturnToPledge(id, m.quantity_kg);
    }
  }
}

void ReferenceMatcher::ReturnToPledge(uint64_t match_id, int64_t kg) {
  if (kg <= 0) return;
  Pledge& p = pledges_[matches_[match_id - 1].pledge_id - 1];
  if ((p.status != OrderStatus::kOpen && p.status != OrderStatus::kFilled) ||
      p.spec.expires_at <= clock_) {
    return;
  }
  MatchView& m = matches_[match_id - 1];
  // A standing pledge's earlier period: the kg join the current one.
  const bool earlier =
      p.spec.recurrence.period != 0 && m.matched_at < p.current_start;
  if (earlier &&
      p.spec.quantity_kg >
          std::min(kQuantityLimit, INT64_MAX / p.spec.max_price_fen_per_kg) -
              kg) {
    return;
  }
  m.returned_kg += kg;
  p.remaining_kg += kg;
  if (earlier) {
    p.spec.quantity_kg += kg;
    if (p.spec.budget_fen > 0) {
      const int64_t worth = kg * m.price_fen_per_kg;
      p.spec.budget_fen = p.spec.budget_fen > INT64_MAX - worth
                              ? INT64_MAX
                              : p.spec.budget_fen + worth;
    }
  } else {
    p.spent_fen -= kg * m.price_fen_per_kg;
  }
  p.status = OrderStatus::kOpen;
  MatchIncomingPledge(p);
}

absl::StatusOr<MatchResult> ReferenceMatcher::MatchCommand(
    const ReferenceContext& ctx, uint64_t match_id, bool supplier_side,
    MatchStatus required, std::vector<std::string_view> text,
    const std::function<absl::Status(MatchView&)>& check,
    const std::function<void(MatchView&)>& run) {
  const Remembered* replay;
  auto access = [&]() -> absl::Status {
    const Principal& me = *ctx.caller;
    if (me.role == static_cast<int>(Role::kAdmin) || match_id == 0 ||
        match_id > matches_.size()) {
      return absl::OkStatus();
    }
    const MatchView& m = matches_[match_id - 1];
    const bool parties = ActsForParties(me);
    const bool is_supplier =
        parties && Contains(me.supplier_ids, std::string(m.supplier_id));
    // Reading taken: an alliance pledge's part is its member's too.
    const bool is_buyer =
        parties && (Contains(me.buyer_ids, std::string(m.buyer_id)) ||
                    (!m.member_buyer_id.empty() &&
                     Contains(me.buyer_ids, std::string(m.member_buyer_id))));
    if (supplier_side ? is_supplier : is_buyer) return absl::OkStatus();
    if (is_supplier || is_buyer) {
      return absl::PermissionDeniedError("caller: the other side");
    }
    return absl::NotFoundError("match_id: unknown");
  };
  if (absl::Status s = Begin(ctx, text, access, &replay); !s.ok()) return s;
  if (replay) {
    // A repeat answers the match as it stands now.
    absl::StatusOr<MatchResult> again = Replay<MatchResult>(*replay);
    if (again.ok()) again->match = matches_[again->match.match_id - 1];
    return again;
  }
  if (match_id == 0 || match_id > matches_.size()) {
    return absl::NotFoundError("match_id: unknown");
  }
  if (matches_[match_id - 1].status != required) {
    return absl::FailedPreconditionError("match_id: wrong status");
  }
  if (absl::Status s = check(matches_[match_id - 1]); !s.ok()) return s;
  const size_t first_new = matches_.size();
  MatchView& m = matches_[match_id - 1];
  m.updated_at = clock_;
  run(m);
  MatchResult result;
  result.match = matches_[match_id - 1];
  result.matches.assign(matches_.begin() + first_new, matches_.end());
  Remember(ctx, result);
  return result;
}

absl::StatusOr<MatchResult> ReferenceMatcher::ShipMatch(
    const ReferenceContext& ctx, uint64_t match_id, int64_t shipped_kg,
    const std::string& note) {
  return MatchCommand(
      ctx, match_id, /*supplier_side=*/true, MatchStatus::kMatched, {note},
      [&](MatchView& m) -> absl::Status {
        if (shipped_kg < 0 || shipped_kg > m.quantity_kg) {
          return Invalid("shipped_kg", "out of range");
        }
        if (note.size() > kMatchTextBytes) return Invalid("note", "too long");
        return absl::OkStatus();
      },
      [&](MatchView& m) {
        const uint64_t id = m.match_id;
        const Micros within = pledges_[m.pledge_id - 1].accept_within;
        m.status = MatchStatus::kShipped;
        m.shipped_at = clock_;
        m.shipped_kg = shipped_kg > 0 ? shipped_kg : m.quantity_kg;
        m.accept_by = within < 0 ? 0 : clock_ + within;
        if (!note.empty()) m.note = texts_.emplace_back(note);
        ReturnToPledge(id, m.quantity_kg - m.shipped_kg);
      });
}

absl::StatusOr<MatchResult> ReferenceMatcher::AcceptMatch(
    const ReferenceContext& ctx, uint64_t match_id, int64_t accepted_kg) {
  return MatchCommand(
      ctx, match_id, /*supplier_side=*/false, MatchStatus::kShipped, {},
      [&](MatchView& m) -> absl::Status {
        if (accepted_kg < 0 || accepted_kg > m.shipped_kg) {
          return Invalid("accepted_kg", "out of range");
        }
        return absl::OkStatus();
      },
      [&](MatchView& m) {
        m.status = MatchStatus::kDelivered;
        m.delivered_at = clock_;
        m.accepted_kg = accepted_kg > 0 ? accepted_kg : m.shipped_kg;
        ReturnToPledge(m.match_id, m.shipped_kg - m.accepted_kg);
      });
}

absl::StatusOr<MatchResult> ReferenceMatcher::DeclineMatch(
    const ReferenceContext& ctx, uint64_t match_id, const std::string& reason) {
  return MatchCommand(
      ctx, match_id, /*supplier_side=*/false, MatchStatus::kShipped, {reason},
      [&](MatchView&) -> absl::Status {
        if (reason.empty() || reason.size() > kMatchTextBytes) {
          return Invalid("reason", "empty or too long");
        }
        return absl::OkStatus();
      },
      [&](MatchView& m) {
        m.status = MatchStatus::kDeclined;
        m.reason = texts_.emplace_back(reason);
        ReturnToPledge(m.match_id, m.shipped_kg);
      });
}

// ---------------------------------------------------------------------------
// Reference data.

bool ReferenceMatcher::KnownRegion(std::string_view code) const {
  return regions_.find(code) != regions_.end();
}

absl::StatusOr<RegionResult> ReferenceMatcher::UpsertRegion(
    const ReferenceContext& ctx, const Region& region) {
  const Remembered* replay;
  if (absl::Status s = Begin(
          ctx, {region.code, region.name}, [&] { return AdminOnly(ctx); },
          &replay);
      !s.ok()) {
    return s;
  }
  if (replay) return Replay<RegionResult>(*replay);
  if (!WellFormedRegion(region.code)) {
    return Invalid("region.code", "malformed " + region.code);
  }
  if (Characters(region.name) > kRegionNameCharacters) {
    return Invalid("region.name", "longer than 64 characters");
  }
  regions_[region.code] = region;
  RegionResult result{region, false};
  Remember(ctx, result);
  return result;
}

absl::StatusOr<PairingResult> ReferenceMatcher::UpsertPairing(
    const ReferenceContext& ctx, const Pairing& pairing) {
  const Remembered* replay;
  if (absl::Status s = Begin(
          ctx, {pairing.east_code, pairing.west_code, pairing.note},
          [&] { return AdminOnly(ctx); }, &replay);
      !s.ok()) {
    return s;
  }
  if (replay) return Replay<PairingResult>(*replay);
  if (!WellFormedRegion(pairing.east_code)) {
    return Invalid("east_code", "malformed " + pairing.east_code);
  }
  if (!WellFormedRegion(pairing.west_code)) {
    return Invalid("west_code", "malformed " + pairing.west_code);
  }
  if (pairing.note.size() > kNoteBytes) {
    return Invalid("note", "longer than 256 bytes");
  }
  if (!KnownRegion(pairing.east_code)) {
    return NotFound("east_code", pairing.east_code);
  }
  if (!KnownRegion(pairing.west_code)) {
    return NotFound("west_code", pairing.west_code);
  }
  if (Holds(pairing.east_code, pairing.west_code) ||
      Holds(pairing.west_code, pairing.east_code)) {
    return Invalid("west_code", "the same as or within the east side");
  }
  bool replaced = false;
  for (Pairing& p : pairings_) {
    if (p.east_code == pairing.east_code && p.west_code == pairing.west_code) {
      p.note = pairing.note;
      replaced = true;
    }
  }
  if (!replaced) pairings_.push_back(pairing);
  PairingResult result{pairing, false};
  Remember(ctx, result);
  return result;
}

absl::StatusOr<PairingResult> ReferenceMatcher::DeletePairing(
    const ReferenceContext& ctx, std::string_view east_code,
    std::string_view west_code) {
  const Remembered* replay;
  if (absl::Status s = Begin(
          ctx, {east_code, west_code}, [&] { return AdminOnly(ctx); }, &replay);
      !s.ok()) {
    return s;
  }
  if (replay) return Replay<PairingResult>(*replay);
  if (!WellFormedRegion(east_code)) {
    return Invalid("east_code", "malformed " + std::string(east_code));
  }
  if (!WellFormedRegion(west_code)) {
    return Invalid("west_code", "malformed " + std::string(west_code));
  }
  for (size_t i = 0; i < pairings_.size(); ++i) {
    if (pairings_[i].east_code == east_code &&
        pairings_[i].west_code == west_code) {
      PairingResult result{pairings_[i], false};
      pairings_.erase(pairings_.begin() + i);
      Remember(ctx, result);
      return result;
    }
  }
  return absl::NotFoundError("pairing: none between " + std::string(east_code) +
                             " and " + std::string(west_code));
}

bool ReferenceMatcher::Partner(std::string_view region,
                               std::string_view city) const {
  for (const Pairing& p : pairings_) {
    if (RegionUnder(city, p.east_code) && RegionUnder(region, p.west_code)) {
      return true;
    }
  }
  return false;
}

bool ReferenceMatcher::Priority(const Offer& o) const {
  auto it = regions_.find(o.spec.region_code);
  return it != regions_.end() &&
         (it->second.key_assisted || it->second.relocation_site);
}

// ---------------------------------------------------------------------------
// Matching.

bool ReferenceMatcher::Compatible(const Offer& o, const Pledge& p) const {
  if (o.status != OrderStatus::kOpen || p.status != OrderStatus::kOpen) {
    return false;
  }
  if (o.spec.expires_at <= clock_ || p.spec.expires_at <= clock_) return false;
  if (!ProductUnder(o.spec.product_code, p.spec.product_code)) return false;
  if (p.spec.min_grade != 0 && o.spec.grade > p.spec.min_grade) return false;
  if (p.spec.require_certified && !o.spec.certified) return false;
  if (o.spec.floor_price_fen_per_kg > p.spec.max_price_fen_per_kg) {
    return false;
  }
  switch (static_cast<Scope>(p.spec.scope)) {
    case Scope::kAny:
      return true;
    case Scope::kPartnersOnly:
      return Partner(o.spec.region_code, p.spec.buyer_city_code);
    case Scope::kListedRegions:
      for (const std::string& area : p.spec.region_codes) {
        if (RegionUnder(o.spec.region_code, area)) return true;
      }
      return false;
  }
  return false;
}

int64_t ReferenceMatcher::FillQuantity(const Offer& o, const Pledge& p,
                                       int64_t price) {
  int64_t q = std::min(o.remaining_kg, p.remaining_kg);
  if (p.spec.budget_fen > 0) {
    q = std::min(q, (p.spec.budget_fen - p.spent_fen) / price);
  }
  if (q <= 0) return 0;
  bool pledge_ok = q >= p.spec.min_lot_kg || q == p.remaining_kg;
  bool offer_ok = q >= o.spec.min_lot_kg || q == o.remaining_kg;
  return pledge_ok && offer_ok ? q : 0;
}

void ReferenceMatcher::Fill(Offer& o, Pledge& p, int64_t q, int64_t price,
                            std::vector<MatchView>* out) {
  // Reading taken: an alliance pledge's fill is one match per member with
  // a part: floor(q x share / 1000) each, then the kg left one each by
  // largest remainder, ties to the lower buyer_id (members are kept by
  // buyer_id). Worked out here from scratch, by a different route than
  // the engine's sort: repeatedly take the best remainder not yet given.
  std::vector<int64_t> parts;
  const std::vector<MemberShare>& members = p.spec.members;
  if (members.empty()) {
    parts.push_back(q);
  } else {
    int64_t left = q;
    std::vector<int64_t> rem;
    for (const MemberShare& m : members) {
      parts.push_back(q * m.share_permille / 1000);
      rem.push_back(q * m.share_permille % 1000);
      left -= parts.back();
    }
    std::vector<bool> given(members.size(), false);
    for (; left > 0; --left) {
      size_t best = members.size();
      for (size_t i = 0; i < members.size(); ++i) {
        if (!given[i] && (best == members.size() || rem[i] > rem[best])) {
          best = i;
        }
      }
      given[best] = true;
      ++parts[best];
    }
  }
  o.remaining_kg -= q;
  p.remaining_kg -= q;
  p.spent_fen += q * price;
  if (o.remaining_kg == 0) o.status = OrderStatus::kFilled;
  if (p.remaining_kg == 0 ||
      (p.spec.budget_fen > 0 && p.spent_fen == p.spec.budget_fen)) {
    p.status = OrderStatus::kFilled;
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i] == 0) continue;
    MatchView m;
    m.match_id = matches_.size() + 1;
    m.offer_id = o.id;
    m.pledge_id = p.id;
    m.supplier_id = o.spec.supplier_id;
    m.buyer_id = p.spec.buyer_id;
    if (!members.empty()) m.member_buyer_id = members[i].buyer_id;
    m.product_code = o.spec.product_code;
    m.region_code = o.spec.region_code;
    m.buyer_city_code = p.spec.buyer_city_code;
    m.quantity_kg = parts[i];
    m.price_fen_per_kg = price;
    m.amount_fen = parts[i] * price;
    m.partner = Partner(o.spec.region_code, p.spec.buyer_city_code);
    m.matched_at = clock_;
    m.ship_by = o.ship_within < 0 ? 0 : clock_ + o.ship_within;
    m.updated_at = clock_;
    matches_.push_back(m);
    out->push_back(m);
  }
}

std::vector<MatchView> ReferenceMatcher::MatchIncomingPledge(Pledge& p,
                                                             bool at_floor) {
  std::vector<MatchView> out;
  if (!at_floor && Held(p.spec.product_code, p.spec.expires_at)) return out;
  while (p.status == OrderStatus::kOpen) {
    std::vector<Offer*> candidates;
    for (Offer& o : offers_) {
      if (Compatible(o, p)) candidates.push_back(&o);
    }
    auto key = [&](const Offer* o) {
      if (order_ == QueueOrder::kFifo) {
        return std::make_tuple(false, false, Micros{0}, int64_t{0}, o->seq);
      }
      // Smaller sorts first: partner, then priority region, then earliest
      // expiry, then lowest floor, then earliest in the queue.
      return std::make_tuple(
          !Partner(o->spec.region_code, p.spec.buyer_city_code), !Priority(*o),
          o->spec.expires_at, o->spec.floor_price_fen_per_kg, o->seq);
    };
    std::sort(candidates.begin(), candidates.end(),
              [&](const Offer* a, const Offer* b) { return key(a) < key(b); });
    bool filled = false;
    for (Offer* o : candidates) {
      int64_t price = o->spec.floor_price_fen_per_kg;
      int64_t q = FillQuantity(*o, p, price);
      if (q == 0) continue;  // skipped, not a stop
      Fill(*o, p, q, price, &out);
      filled = true;
      break;  // start over from scratch
    }
    if (!filled) break;
  }
  return out;
}

std::vector<MatchView> ReferenceMatcher::MatchIncomingOffer(Offer& o,
                                                            bool at_floor) {
  std::vector<MatchView> out;
  if (!at_floor && Held(o.spec.product_code, o.spec.expires_at)) return out;
  while (o.status == OrderStatus::kOpen) {
    std::vector<Pledge*> candidates;
    for (Pledge& p : pledges_) {
      if (Compatible(o, p)) candidates.push_back(&p);
    }
    auto key = [&](const Pledge* p) {
      if (order_ == QueueOrder::kFifo) {
        return std::make_tuple(false, int64_t{0}, p->seq);
      }
      // Partner buyer first, then highest max price, then earliest in the
      // queue (posted, or sent to the back by an amendment).
      return std::make_tuple(
          !Partner(o.spec.region_code, p->spec.buyer_city_code),
          -p->spec.max_price_fen_per_kg, p->seq);
    };
    std::sort(
        candidates.begin(), candidates.end(),
        [&](const Pledge* a, const Pledge* b) { return key(a) < key(b); });
    bool filled = false;
    for (Pledge* p : candidates) {
      int64_t price = p->spec.max_price_fen_per_kg;
      // A pledge the offer cannot fill at its max price is passed over even
      // when the clearing's floor price would do.
      if (FillQuantity(o, *p, price) == 0) continue;
      if (at_floor) price = o.spec.floor_price_fen_per_kg;
      int64_t q = FillQuantity(o, *p, price);
      Fill(o, *p, q, price, &out);
      filled = true;
      break;
    }
    if (!filled) break;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Orders.

absl::StatusOr<OfferResult> ReferenceMatcher::PostOffer(
    const ReferenceContext& ctx, const OfferSpec& spec) {
  const Remembered* replay;
  if (absl::Status s = Begin(
          ctx, {spec.supplier_id, spec.region_code, spec.product_code},
          [&] { return MayPost(ctx, true, spec.supplier_id); }, &replay);
      !s.ok()) {
    return s;
  }
  if (replay) return Replay<OfferResult>(*replay);
  if (spec.supplier_id.empty() || spec.supplier_id.size() > kIdBytes) {
    return Invalid("supplier_id", "empty or longer than 64 bytes");
  }
  if (!WellFormedRegion(spec.region_code)) {
    return Invalid("region_code", "malformed " + spec.region_code);
  }
  if (!WellFormedProduct(spec.product_code)) {
    return Invalid("product_code", "malformed " + spec.product_code);
  }
  if (spec.grade < 1 || spec.grade > 3) return Invalid("grade", "not 1..3");
  if (spec.quantity_kg <= 0 || spec.quantity_kg > kQuantityLimit) {
    return Invalid("quantity_kg", "out of range");
  }
  if (spec.floor_price_fen_per_kg <= 0 ||
      spec.floor_price_fen_per_kg > kPriceLimit) {
    return Invalid("floor_price_fen_per_kg", "out of range");
  }
  if (spec.min_lot_kg < 0 || spec.min_lot_kg > spec.quantity_kg) {
    return Invalid("min_lot_kg", "out of range");
  }
  if (spec.expires_at <= clock_) return Invalid("expires_at", "not future");
  if (spec.households < 0) return Invalid("households", "negative");
  if (!GoodWithin(spec.ship_within)) return Invalid("ship_within", "range");
  if (!KnownRegion(spec.region_code)) {
    return NotFound("region_code", spec.region_code);
  }
  if (absl::Status s = CheckCatalogued(spec.product_code, /*offer=*/true);
      !s.ok()) {
    return s;
  }
  NotePosted(spec.product_code);

  offers_.push_back(
      Offer{offers_.size() + 1, spec, spec.quantity_kg, OrderStatus::kOpen,
            clock_, ++offer_seq_,
            spec.ship_within == 0 ? kDefaultDeadline : spec.ship_within});
  Offer& o = offers_.back();
  OfferResult result;
  result.matches = MatchIncomingOffer(o);
  result.offer = ViewOf(o);
  Remember(ctx, result);
  return result;
}

absl::StatusOr<PledgeResult> ReferenceMatcher::PostPledge(
    const ReferenceContext& ctx, const PledgeSpec& spec) {
  const Remembered* replay;
  if (absl::Status s = Begin(
          ctx, PledgeText(spec),
          [&] { return MayPost(ctx, false, spec.buyer_id); }, &replay);
      !s.ok()) {
    return s;
  }
  if (replay) return Replay<PledgeResult>(*replay);
  if (spec.buyer_id.empty() || spec.buyer_id.size() > kIdBytes) {
    return Invalid("buyer_id", "empty or longer than 64 bytes");
  }
  // Reading taken: a registered buyer's city and kind fill in what the
  // pledge leaves empty, and one given must be the registered one; this
  // comes before the city and kind are checked. The pledge keeps what
  // they resolved to.
  PledgeSpec resolved = spec;
  if (auto it = buyers_.find(spec.buyer_id); it != buyers_.end()) {
    if (spec.buyer_city_code.empty()) {
      resolved.buyer_city_code = it->second.city_code;
    } else if (spec.buyer_city_code != it->second.city_code) {
      return Invalid("buyer_city_code", "disagrees with the registry");
    }
    if (spec.buyer_kind == 0) {
      resolved.buyer_kind = it->second.kind;
    } else if (spec.buyer_kind != it->second.kind) {
      return Invalid("buyer_kind", "disagrees with the registry");
    }
  }
  return PostResolvedPledge(ctx, resolved);
}

absl::StatusOr<PledgeResult> ReferenceMatcher::PostResolvedPledge(
    const ReferenceContext& ctx, const PledgeSpec& spec) {
  if (!WellFormedRegion(spec.buyer_city_code)) {
    return Invalid("buyer_city_code", "malformed " + spec.buyer_city_code);
  }
  if (spec.buyer_kind < 1 || spec.buyer_kind > kMaxBuyerKind) {
    return Invalid("buyer_kind", "not 1..11");
  }
  if (!WellFormedProduct(spec.product_code)) {
    return Invalid("product_code", "malformed " + spec.product_code);
  }
  if (spec.min_grade < 0 || spec.min_grade > 3) {
    return Invalid("min_grade", "not 0..3");
  }
  if (spec.quantity_kg <= 0 || spec.quantity_kg > kQuantityLimit) {
    return Invalid("quantity_kg", "out of range");
  }
  if (spec.max_price_fen_per_kg <= 0 ||
      spec.max_price_fen_per_kg > kPriceLimit) {
    return Invalid("max_price_fen_per_kg", "out of range");
  }
  if (spec.budget_fen < 0) return Invalid("budget_fen", "negative");
  if (spec.min_lot_kg < 0 || spec.min_lot_kg > spec.quantity_kg) {
    return Invalid("min_lot_kg", "out of range");
  }
  if (spec.expires_at <= clock_) return Invalid("expires_at", "not future");
  if (spec.scope < 0 || spec.scope > kMaxScope) {
    return Invalid("scope", "not 0..2");
  }
  if (!GoodWithin(spec.accept_within)) {
    return Invalid("accept_within", "range");
  }
  const Recurrence& r = spec.recurrence;
  if (r.period == 0 && (r.quantity_kg != 0 || r.budget_fen != 0 ||
                        r.until != 0 || r.carry_over)) {
    return Invalid("recurrence.period", "unset with other fields");
  }
  if (r.period != 0) {
    if (r.period < 1 || r.period > 3) return Invalid("recurrence.period", "");
    if (r.quantity_kg <= 0 || r.quantity_kg > kQuantityLimit) {
      return Invalid("recurrence.quantity_kg", "out of range");
    }
    int64_t worth;
    if (__builtin_mul_overflow(r.quantity_kg, spec.max_price_fen_per_kg,
                               &worth)) {
      return Invalid("recurrence.quantity_kg", "worth overflows");
    }
    if (r.budget_fen < 0) return Invalid("recurrence.budget_fen", "negative");
    if (spec.min_lot_kg > r.quantity_kg) return Invalid("min_lot_kg", "");
    if (r.until <= clock_) return Invalid("recurrence.until", "not future");
    if (spec.expires_at != r.until) return Invalid("expires_at", "!= until");
  }
  // A budget (0: none) buys at least one lot (1 kg without one) at the max
  // price.
  const int64_t lot_fen =
      std::max<int64_t>(spec.min_lot_kg, 1) * spec.max_price_fen_per_kg;
  if (spec.budget_fen > 0 && spec.budget_fen < lot_fen) {
    return Invalid("budget_fen", "cannot buy one lot at the max price");
  }
  if (r.period != 0 && r.budget_fen > 0 && r.budget_fen < lot_fen) {
    return Invalid("recurrence.budget_fen",
                   "cannot buy one lot at the max price");
  }
  if (spec.scope == static_cast<int>(Scope::kListedRegions)) {
    if (spec.region_codes.empty() ||
        spec.region_codes.size() > kListedRegions) {
      return Invalid("region_codes", "need 1..64 for LISTED_REGIONS");
    }
  } else if (!spec.region_codes.empty()) {
    return Invalid("region_codes", "only with LISTED_REGIONS");
  }
  for (const std::string& c : spec.region_codes) {
    if (!WellFormedRegion(c)) return Invalid("region_codes", "malformed " + c);
  }
  if (!KnownRegion(spec.buyer_city_code)) {
    return NotFound("buyer_city_code", spec.buyer_city_code);
  }
  for (const std::string& c : spec.region_codes) {
    if (!KnownRegion(c)) return NotFound("region_codes", c);
  }
  // Reading taken: members are checked last, against the registry as it
  // stands: registered buyers of the alliance the pledge's buyer_id names.
  PledgeSpec kept = spec;
  if (!spec.members.empty()) {
    if (spec.members.size() > 64) return Invalid("members", "over 64");
    bool alliance = false;
    for (const auto& [id, b] : buyers_)
      alliance |= b.alliance_id == spec.buyer_id;
    if (!alliance) return Invalid("buyer_id", "no alliance");
    int64_t sum = 0;
    std::set<std::string> seen;
    for (const MemberShare& m : spec.members) {
      auto it = buyers_.find(m.buyer_id);
      if (m.buyer_id.empty() || m.buyer_id.size() > kIdBytes ||
          it == buyers_.end() || it->second.alliance_id != spec.buyer_id ||
          !seen.insert(m.buyer_id).second || m.share_permille < 1 ||
          m.share_permille > 1000) {
        return Invalid("members", "bad member " + m.buyer_id);
      }
      sum += m.share_permille;
    }
    if (sum != 1000) return Invalid("members", "shares do not sum to 1000");
    std::sort(kept.members.begin(), kept.members.end(),
              [](const MemberShare& a, const MemberShare& b) {
                return a.buyer_id < b.buyer_id;
              });
  }
  if (absl::Status s = CheckCatalogued(spec.product_code, /*offer=*/false);
      !s.ok()) {
    return s;
  }
  NotePosted(spec.product_code);

  pledges_.push_back(
      Pledge{pledges_.size() + 1, kept, spec.quantity_kg, 0, OrderStatus::kOpen,
             clock_, ++pledge_seq_,
             spec.accept_within == 0 ? kDefaultDeadline : spec.accept_within,
             /*current_start=*/0, /*closed=*/{}});
  Pledge& p = pledges_.back();
  if (spec.recurrence.period != 0) {
    p.current_start =
        PeriodStartAt(static_cast<Period>(spec.recurrence.period), clock_);
  }
  PledgeResult result;
  result.matches = MatchIncomingPledge(p);
  result.pledge = ViewOf(p);
  Remember(ctx, result);
  return result;
}

absl::StatusOr<OfferResult> ReferenceMatcher::CancelOffer(
    const ReferenceContext& ctx, uint64_t offer_id) {
  const Remembered* replay;
  if (absl::Status s = Begin(
          ctx, {}, [&] { return MayCancel(ctx, true, offer_id); }, &replay);
      !s.ok()) {
    return s;
  }
  if (replay) return Replay<OfferResult>(*replay);
  if (offer_id == 0 || offer_id > offers_.size()) {
    return absl::NotFoundError("offer_id: unknown " + std::to_string(offer_id));
  }
  Offer& o = offers_[offer_id - 1];
  if (o.status != OrderStatus::kOpen) {
    return absl::FailedPreconditionError("offer_id: not open");
  }
  // Reading taken: remaining_kg keeps what was left; unfilled_kg repeats it.
  o.status = OrderStatus::kCancelled;
  OfferResult result;
  result.offer = ViewOf(o);
  result.unfilled_kg = o.remaining_kg;
  Remember(ctx, result);
  return result;
}

absl::StatusOr<PledgeResult> ReferenceMatcher::CancelPledge(
    const ReferenceContext& ctx, uint64_t pledge_id) {
  const Remembered* replay;
  if (absl::Status s = Begin(
          ctx, {}, [&] { return MayCancel(ctx, false, pledge_id); }, &replay);
      !s.ok()) {
    return s;
  }
  if (replay) return Replay<PledgeResult>(*replay);
  if (pledge_id == 0 || pledge_id > pledges_.size()) {
    return absl::NotFoundError("pledge_id: unknown " +
                               std::to_string(pledge_id));
  }
  Pledge& p = pledges_[pledge_id - 1];
  // A standing pledge filled for its period has periods to come.
  const bool standing_filled = p.spec.recurrence.period != 0 &&
                               p.status == OrderStatus::kFilled &&
                               p.spec.expires_at > clock_;
  if (p.status != OrderStatus::kOpen && !standing_filled) {
    return absl::FailedPreconditionError("pledge_id: not open");
  }
  p.status = OrderStatus::kCancelled;
  PledgeResult result;
  result.pledge = ViewOf(p);
  result.unfilled_kg = p.remaining_kg;
  Remember(ctx, result);
  return result;
}

// ---------------------------------------------------------------------------
// Amendments. Checks run in the engine's order where two could disagree on
// the status code: unknown id, not open, then every field (INVALID_ARGUMENT),
// the listed regions last (one by one: malformed INVALID_ARGUMENT, unknown
// NOT_FOUND).

namespace {

bool MulOverflows(int64_t a, int64_t b) {
  int64_t product;
  return __builtin_mul_overflow(a, b, &product);
}

// Every region `from` lets through, `to` lets through too, whatever the
// pairings: ANY takes all; otherwise the same scope, and for listed
// regions each old area under some new one.
bool Widens(int from, const std::vector<std::string>& from_codes, int to,
            const std::vector<std::string>& to_codes) {
  if (to == static_cast<int>(Scope::kAny)) return true;
  if (from != to) return false;
  for (const std::string& old_area : from_codes) {
    bool covered = false;
    for (const std::string& area : to_codes) {
      covered = covered || RegionUnder(old_area, area);
    }
    if (!covered) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<OfferResult> ReferenceMatcher::AmendOffer(
    const ReferenceContext& ctx, uint64_t offer_id, const OfferAmendment& a) {
  const Remembered* replay;
  if (absl::Status s = Begin(
          ctx, {}, [&] { return MayCancel(ctx, true, offer_id); }, &replay);
      !s.ok()) {
    return s;
  }
  if (replay) return Replay<OfferResult>(*replay);
  if (offer_id == 0 || offer_id > offers_.size()) {
    return absl::NotFoundError("offer_id: unknown " + std::to_string(offer_id));
  }
  Offer& o = offers_[offer_id - 1];
  if (o.status != OrderStatus::kOpen) {
    return absl::FailedPreconditionError("offer_id: not open");
  }
  const int64_t matched = o.spec.quantity_kg - o.remaining_kg;
  const int64_t q = a.quantity_kg.value_or(o.spec.quantity_kg);
  const int64_t floor =
      a.floor_price_fen_per_kg.value_or(o.spec.floor_price_fen_per_kg);
  const int64_t lot = a.min_lot_kg.value_or(o.spec.min_lot_kg);
  if (q <= 0 || q > kQuantityLimit || q < matched) {
    return Invalid("quantity_kg", "out of range or below what was matched");
  }
  if (floor <= 0 || floor > kPriceLimit) {
    return Invalid("floor_price_fen_per_kg", "out of range");
  }
  if (MulOverflows(q, floor)) return Invalid("quantity_kg", "overflows");
  if (lot < 0 || lot > q) return Invalid("min_lot_kg", "out of range");
  if (a.expires_at && *a.expires_at <= clock_) {
    return Invalid("expires_at", "not future");
  }
  if (a.ship_within && !DeadlineOk(*a.ship_within)) {
    return Invalid("ship_within", "out of range");
  }
  if (q > o.spec.quantity_kg || floor > o.spec.floor_price_fen_per_kg) {
    o.seq = ++offer_seq_;
  }
  o.remaining_kg = q - matched;
  o.spec.quantity_kg = q;
  o.spec.floor_price_fen_per_kg = floor;
  o.spec.min_lot_kg = lot;
  if (a.expires_at) o.spec.expires_at = *a.expires_at;
  if (a.ship_within) o.ship_within = *a.ship_within;
  OfferResult result;
  if (o.remaining_kg == 0) {
    o.status = OrderStatus::kFilled;
  } else {
    result.matches = MatchIncomingOffer(o);
  }
  result.offer = ViewOf(o);
  Remember(ctx, result);
  return result;
}

absl::StatusOr<PledgeResult> ReferenceMatcher::AmendPledge(
    const ReferenceContext& ctx, uint64_t pledge_id, const PledgeAmendment& a) {
  const Remembered* replay;
  std::vector<std::string_view> text;
  for (const std::string& c : a.region_codes) text.push_back(c);
  if (absl::Status s = Begin(
          ctx, text, [&] { return MayCancel(ctx, false, pledge_id); }, &replay);
      !s.ok()) {
    return s;
  }
  if (replay) return Replay<PledgeResult>(*replay);
  if (pledge_id == 0 || pledge_id > pledges_.size()) {
    return absl::NotFoundError("pledge_id: unknown " +
                               std::to_string(pledge_id));
  }
  Pledge& p = pledges_[pledge_id - 1];
  if (p.status != OrderStatus::kOpen) {
    return absl::FailedPreconditionError("pledge_id: not open");
  }
  const int64_t matched = p.spec.quantity_kg - p.remaining_kg;
  const int64_t q = a.quantity_kg.value_or(p.spec.quantity_kg);
  const int64_t max =
      a.max_price_fen_per_kg.value_or(p.spec.max_price_fen_per_kg);
  const int64_t budget = a.budget_fen.value_or(p.spec.budget_fen);
  const int64_t lot = a.min_lot_kg.value_or(p.spec.min_lot_kg);
  if (q <= 0 || q > kQuantityLimit || q < matched) {
    return Invalid("quantity_kg", "out of range or below what was matched");
  }
  if (max <= 0 || max > kPriceLimit) {
    return Invalid("max_price_fen_per_kg", "out of range");
  }
  if (MulOverflows(q, max)) return Invalid("quantity_kg", "overflows");
  if (budget < 0 || (budget > 0 && budget < p.spent_fen)) {
    return Invalid("budget_fen", "negative or below what was spent");
  }
  if (lot < 0 || lot > q) return Invalid("min_lot_kg", "out of range");
  if (p.spec.recurrence.period != 0 && lot > p.spec.recurrence.quantity_kg) {
    return Invalid("min_lot_kg", "above each period's kg");
  }
  if (a.expires_at && *a.expires_at <= clock_) {
    return Invalid("expires_at", "not future");
  }
  if (a.accept_within && !DeadlineOk(*a.accept_within)) {
    return Invalid("accept_within", "out of range");
  }
  if (a.scope) {
    if (*a.scope < 0 || *a.scope > kMaxScope) {
      return Invalid("scope", "not 0..2");
    }
    if (*a.scope == static_cast<int>(Scope::kListedRegions)) {
      if (a.region_codes.empty() || a.region_codes.size() > kListedRegions) {
        return Invalid("region_codes", "need 1..64 for LISTED_REGIONS");
      }
    } else if (!a.region_codes.empty()) {
      return Invalid("region_codes", "only with LISTED_REGIONS");
    }
    for (const std::string& c : a.region_codes) {
      if (!WellFormedRegion(c)) {
        return Invalid("region_codes", "malformed " + c);
      }
      if (!KnownRegion(c)) return NotFound("region_codes", c);
    }
  } else if (!a.region_codes.empty()) {
    return Invalid("region_codes", "only with scope");
  }
  const bool smaller_budget =
      budget > 0 && (p.spec.budget_fen == 0 || budget < p.spec.budget_fen);
  const bool narrower = a.scope && !Widens(p.spec.scope, p.spec.region_codes,
                                           *a.scope, a.region_codes);
  if (q > p.spec.quantity_kg || max < p.spec.max_price_fen_per_kg ||
      smaller_budget || narrower) {
    p.seq = ++pledge_seq_;
  }
  p.remaining_kg = q - matched;
  p.spec.quantity_kg = q;
  p.spec.max_price_fen_per_kg = max;
  p.spec.budget_fen = budget;
  p.spec.min_lot_kg = lot;
  if (a.expires_at) p.spec.expires_at = *a.expires_at;
  if (a.accept_within) p.accept_within = *a.accept_within;
  if (a.scope) {
    p.spec.scope = *a.scope;
    p.spec.region_codes = a.region_codes;
  }
  PledgeResult result;
  if (p.remaining_kg == 0 ||
      (p.spec.budget_fen > 0 && p.spent_fen == p.spec.budget_fen)) {
    p.status = OrderStatus::kFilled;
  } else {
    result.matches = MatchIncomingPledge(p);
  }
  result.pledge = ViewOf(p);
  Remember(ctx, result);
  return result;
}

// ---------------------------------------------------------------------------
// Keys.

namespace {

constexpr size_t kKeyNameBytes = 64;
constexpr size_t kMaxParties = 1000;
constexpr size_t kHashBytes = 32;

// Non-empty, at most `max` bytes, no control character.
bool PrintableText(std::string_view text, size_t max) {
  if (text.empty() || text.size() > max) return false;
  for (char ch : text) {
    const auto b = static_cast<unsigned char>(ch);
    if (b < 0x20 || b == 0x7f) return false;
  }
  return true;
}

bool PartiesWellFormed(const std::vector<std::string>& ids) {
  if (ids.size() > kMaxParties) return false;
  std::set<std::string> seen;
  for (const std::string& id : ids) {
    if (!PrintableText(id, kIdBytes) || !seen.insert(id).second) return false;
  }
  return true;
}

}  // namespace

// Reading taken: a repeated key command answers the key as it stands now
// (a later revocation included), not as the first answer had it; the
// server hands that answer to its authenticator, which must never see a
// revoked key as live again.
absl::StatusOr<KeyResult> ReferenceMatcher::ReplayKey(const Remembered& r) {
  absl::StatusOr<KeyResult> again = Replay<KeyResult>(r);
  if (again.ok()) again->key = keys_[again->key.key_id - 1];
  return again;
}

absl::StatusOr<KeyResult> ReferenceMatcher::CreateKey(
    const ReferenceContext& ctx, const Principal& principal,
    const std::string& secret_sha256, Micros expires_at) {
  const Remembered* replay;
  if (absl::Status s = Begin(
          ctx, PrincipalText(principal), [&] { return AdminOnly(ctx); },
          &replay);
      !s.ok()) {
    return s;
  }
  if (replay) return ReplayKey(*replay);
  const Principal& p = principal;
  if (!PrintableText(p.name, kKeyNameBytes)) {
    return Invalid("principal.name", "empty, too long or unprintable");
  }
  if (p.role < 1 || p.role > kMaxRole) return Invalid("principal.role", "1..5");
  if (!PartiesWellFormed(p.supplier_ids)) {
    return Invalid("principal.supplier_ids", "malformed or repeated id");
  }
  if (!PartiesWellFormed(p.buyer_ids)) {
    return Invalid("principal.buyer_ids", "malformed or repeated id");
  }
  const size_t suppliers = p.supplier_ids.size(), buyers = p.buyer_ids.size();
  bool fits = false;
  switch (static_cast<Role>(p.role)) {
    case Role::kAdmin:
    case Role::kObserver:
      fits = suppliers == 0 && buyers == 0;
      break;
    case Role::kPlatform:
      fits = suppliers + buyers > 0;
      break;
    case Role::kSupplier:
      fits = suppliers == 1 && buyers == 0;
      break;
    case Role::kBuyer:
      fits = suppliers == 0 && buyers == 1;
      break;
  }
  if (!fits) return Invalid("principal", "parties do not fit the role");
  if (secret_sha256.size() != kHashBytes) {
    return Invalid("secret_sha256", "not 32 bytes");
  }
  for (const ApiKey& k : keys_) {
    if (k.secret_sha256 == secret_sha256) {
      return Invalid("secret_sha256", "another key's");
    }
  }
  if (expires_at != 0 && expires_at <= clock_) {
    return Invalid("expires_at", "not future");
  }
  ApiKey key;
  key.key_id = keys_.size() + 1;
  key.principal = principal;
  key.secret_sha256 = secret_sha256;
  key.created_at = clock_;
  key.expires_at = expires_at;
  keys_.push_back(key);
  KeyResult result{key, false};
  Remember(ctx, result);
  return result;
}

absl::StatusOr<KeyResult> ReferenceMatcher::RevokeKey(
    const ReferenceContext& ctx, uint64_t key_id) {
  const Remembered* replay;
  if (absl::Status s = Begin(
          ctx, {}, [&] { return AdminOnly(ctx); }, &replay);
      !s.ok()) {
    return s;
  }
  if (replay) return ReplayKey(*replay);
  if (key_id == 0 || key_id > keys_.size()) {
    return absl::NotFoundError("key_id: unknown " + std::to_string(key_id));
  }
  ApiKey& key = keys_[key_id - 1];
  if (key.revoked_at != 0) {
    return absl::FailedPreconditionError("key_id: already revoked");
  }
  key.revoked_at = clock_;
  KeyResult result{key, false};
  Remember(ctx, result);
  return result;
}

absl::StatusOr<BuyerResult> ReferenceMatcher::UpsertBuyer(
    const ReferenceContext& ctx, const Buyer& buyer) {
  const Remembered* replay;
  if (absl::Status s = Begin(
          ctx, {buyer.buyer_id, buyer.name, buyer.city_code, buyer.alliance_id},
          [&]() -> absl::Status {
            // Reading taken: ADMIN, or a key listing the buyer_id.
            const Principal& p = *ctx.caller;
            if (p.role == static_cast<int>(Role::kAdmin)) {
              return absl::OkStatus();
            }
            for (const std::string& id : p.buyer_ids) {
              if (id == buyer.buyer_id) return absl::OkStatus();
            }
            return absl::PermissionDeniedError("not the caller's buyer");
          },
          &replay);
      !s.ok()) {
    return s;
  }
  if (replay) {
    // Reading taken: as a key's, the buyer as it stands now.
    absl::StatusOr<BuyerResult> again = Replay<BuyerResult>(*replay);
    if (again.ok()) again->buyer = buyers_.at(again->buyer.buyer_id);
    return again;
  }
  if (buyer.buyer_id.empty() || buyer.buyer_id.size() > kIdBytes) {
    return Invalid("buyer.buyer_id", "empty or longer than 64 bytes");
  }
  if (buyer.name.empty() || buyer.name.size() > 64) {
    return Invalid("buyer.name", "empty or longer than 64 bytes");
  }
  if (!WellFormedRegion(buyer.city_code)) {
    return Invalid("buyer.city_code", "malformed " + buyer.city_code);
  }
  if (!KnownRegion(buyer.city_code)) {
    return NotFound("buyer.city_code", buyer.city_code);
  }
  if (buyer.kind < 1 || buyer.kind > kMaxBuyerKind) {
    return Invalid("buyer.kind", "not 1..11");
  }
  if (buyer.annual_target_fen < 0) {
    return Invalid("buyer.annual_target_fen", "negative");
  }
  if (buyer.alliance_id.size() > kIdBytes) {
    return Invalid("buyer.alliance_id", "longer than 64 bytes");
  }
  const bool created = buyers_.count(buyer.buyer_id) == 0;
  buyers_[buyer.buyer_id] = buyer;
  BuyerResult result{buyer, created, false};
  Remember(ctx, result);
  return result;
}

// ---------------------------------------------------------------------------
// Reads.

OfferView ReferenceMatcher::ViewOf(const Offer& o) {
  OfferView v;
  v.offer_id = o.id;
  v.supplier_id = o.spec.supplier_id;
  v.region_code = o.spec.region_code;
  v.product_code = o.spec.product_code;
  v.grade = static_cast<Grade>(o.spec.grade);
  v.quantity_kg = o.spec.quantity_kg;
  v.floor_price_fen_per_kg = o.spec.floor_price_fen_per_kg;
  v.min_lot_kg = o.spec.min_lot_kg;
  v.expires_at = o.spec.expires_at;
  v.certified = o.spec.certified;
  v.households = o.spec.households;
  v.remaining_kg = o.remaining_kg;
  v.status = o.status;
  v.posted_at = o.posted_at;
  v.ship_within = o.ship_within;
  return v;
}

PledgeView ReferenceMatcher::ViewOf(const Pledge& p) {
  PledgeView v;
  v.pledge_id = p.id;
  v.buyer_id = p.spec.buyer_id;
  v.buyer_city_code = p.spec.buyer_city_code;
  v.buyer_kind = static_cast<BuyerKind>(p.spec.buyer_kind);
  v.product_code = p.spec.product_code;
  // Reading taken: min_grade 0 ("any") reads back as GRADE_SECOND, which
  // accepts every grade.
  v.min_grade =
      static_cast<Grade>(p.spec.min_grade == 0 ? 3 : p.spec.min_grade);
  v.quantity_kg = p.spec.quantity_kg;
  v.max_price_fen_per_kg = p.spec.max_price_fen_per_kg;
  v.budget_fen = p.spec.budget_fen;
  v.min_lot_kg = p.spec.min_lot_kg;
  v.expires_at = p.spec.expires_at;
  v.scope = static_cast<Scope>(p.spec.scope);
  for (const std::string& c : p.spec.region_codes) v.region_codes.push_back(c);
  v.require_certified = p.spec.require_certified;
  v.remaining_kg = p.remaining_kg;
  v.spent_fen = p.spent_fen;
  v.status = p.status;
  v.posted_at = p.posted_at;
  v.accept_within = p.accept_within;
  if (p.spec.recurrence.period != 0) {
    v.recurrence = p.spec.recurrence;
    v.recurrence.until = p.spec.expires_at;
  }
  v.members = p.spec.members;
  return v;
}

absl::StatusOr<OfferView> ReferenceMatcher::GetOffer(uint64_t offer_id,
                                                     Micros now) const {
  if (offer_id == 0 || offer_id > offers_.size()) {
    return absl::NotFoundError("offer_id: unknown");
  }
  OfferView v = ViewOf(offers_[offer_id - 1]);
  if (v.status == OrderStatus::kOpen && v.expires_at <= now) {
    v.status = OrderStatus::kExpired;
  }
  return v;
}

absl::StatusOr<PledgeView> ReferenceMatcher::GetPledge(uint64_t pledge_id,
                                                       Micros now) const {
  if (pledge_id == 0 || pledge_id > pledges_.size()) {
    return absl::NotFoundError("pledge_id: unknown");
  }
  const Pledge& p = pledges_[pledge_id - 1];
  PledgeView v = ViewOf(p);
  if (v.status == OrderStatus::kOpen && v.expires_at <= now) {
    v.status = OrderStatus::kExpired;
  }
  if (p.spec.recurrence.period != 0) {
    const Period period = static_cast<Period>(p.spec.recurrence.period);
    v.periods = p.closed;
    PledgePeriodView current;
    current.start = p.current_start;
    current.pledged_kg = p.spec.quantity_kg;
    current.budget_fen = p.spec.budget_fen;
    v.periods.push_back(current);
    for (PledgePeriodView& row : v.periods) {
      row.end = NextPeriodStart(period, row.start);
      for (const MatchView& m : matches_) {
        if (m.pledge_id != pledge_id || m.matched_at < row.start ||
            m.matched_at >= row.end) {
          continue;
        }
        row.matched_kg += m.quantity_kg - m.returned_kg;
        row.delivered_kg += m.accepted_kg;
        row.spent_fen += (m.quantity_kg - m.returned_kg) * m.price_fen_per_kg;
      }
    }
  }
  return v;
}

std::vector<MatchView> ReferenceMatcher::AllMatches() const {
  return std::vector<MatchView>(matches_.begin(), matches_.end());
}

// ---------------------------------------------------------------------------
// Batch clearing.

const std::pair<const std::string, std::pair<Micros, Micros>>*
ReferenceMatcher::PolicyOf(const std::string& product) const {
  const std::pair<const std::string, std::pair<Micros, Micros>>* best = nullptr;
  for (const auto& entry : clearing_) {
    const std::string& prefix = entry.first;
    const bool covers = prefix.empty() || product == prefix ||
                        (product.size() > prefix.size() &&
                         product.compare(0, prefix.size(), prefix) == 0 &&
                         product[prefix.size()] == '.');
    if (covers && (best == nullptr || prefix.size() > best->first.size())) {
      best = &entry;
    }
  }
  return best;
}

bool ReferenceMatcher::Held(const std::string& product,
                            Micros expires_at) const {
  const auto* policy = PolicyOf(product);
  return policy != nullptr && expires_at > policy->second.second;
}

absl::StatusOr<ClearingPolicyResult> ReferenceMatcher::SetClearingPolicy(
    const ReferenceContext& ctx, const std::string& prefix, Micros interval) {
  const Remembered* replay;
  if (absl::Status s = Begin(
          ctx, {prefix}, [&] { return AdminOnly(ctx); }, &replay);
      !s.ok()) {
    return s;
  }
  if (replay) {
    absl::StatusOr<ClearingPolicyResult> again =
        Replay<ClearingPolicyResult>(*replay);
    if (again.ok()) {
      auto it = clearing_.find(again->product_prefix);
      again->interval = it == clearing_.end() ? 0 : it->second.first;
      again->next_clearing_at = it == clearing_.end() ? 0 : it->second.second;
    }
    return again;
  }
  if (!prefix.empty() && !WellFormedProduct(prefix)) {
    return Invalid("product_prefix", "malformed " + prefix);
  }
  constexpr Micros kSecond = 1000000;
  if (interval != 0 && (interval < kSecond || interval > 7 * 24 * kHour ||
                        interval % kSecond != 0)) {
    return Invalid("interval", "not 0 or whole seconds up to a week");
  }
  ClearingPolicyResult result{prefix, 0, 0, false};
  if (interval == 0) {
    if (clearing_.count(prefix)) {
      ClearPolicy(prefix, std::numeric_limits<Micros>::max());
      clearing_.erase(prefix);
    }
  } else {
    const Micros next = (clock_ / interval + 1) * interval;
    clearing_[prefix] = {interval, next};
    ClearPolicy(prefix, next);
    result.interval = interval;
    result.next_clearing_at = next;
  }
  Remember(ctx, result);
  return result;
}

absl::StatusOr<AlertThresholdsResult> ReferenceMatcher::SetAlertThresholds(
    const ReferenceContext& ctx, const AlertThresholds& t) {
  const Remembered* replay;
  if (absl::Status s = Begin(
          ctx, {t.category}, [&] { return AdminOnly(ctx); }, &replay);
      !s.ok()) {
    return s;
  }
  // The category's own thresholds, or the default's under its name.
  auto current = [&](const std::string& category) {
    auto it = alert_thresholds_.find(category);
    AlertThresholds out;
    if (it != alert_thresholds_.end()) {
      out = it->second;
    } else if (auto d = alert_thresholds_.find("");
               d != alert_thresholds_.end()) {
      out = d->second;
    }
    out.category = category;
    return out;
  };
  if (replay) {
    absl::StatusOr<AlertThresholdsResult> again =
        Replay<AlertThresholdsResult>(*replay);
    if (again.ok()) again->thresholds = current(again->thresholds.category);
    return again;
  }
  if (!t.category.empty() && (!WellFormedProduct(t.category) ||
                              t.category.find('.') != std::string::npos)) {
    return Invalid("thresholds.category", "not one segment " + t.category);
  }
  constexpr Micros kSecond = 1000000;
  if (t.horizon < kHour || t.horizon > 30 * 24 * kHour ||
      t.horizon % kSecond != 0) {
    return Invalid("thresholds.horizon", "not whole seconds, 1 h to 30 days");
  }
  if (t.min_gap_kg < 1 || t.min_gap_kg > (int64_t{1} << 40)) {
    return Invalid("thresholds.min_gap_kg", "out of range");
  }
  if (t.min_ratio_permille < 1000 || t.min_ratio_permille > 1000000) {
    return Invalid("thresholds.min_ratio_permille", "out of range");
  }
  if (t.clear_permille < 0 || t.clear_permille > 1000) {
    return Invalid("thresholds.clear_permille", "out of range");
  }
  alert_thresholds_[t.category] = t;
  AlertThresholdsResult result{current(t.category), false};
  Remember(ctx, result);
  return result;
}

bool ReferenceMatcher::Catalogued(const std::string& code) const {
  return products_.count(code) != 0 || posted_products_.count(code) != 0;
}

bool ReferenceMatcher::HasCatalogued(const std::string& code) const {
  for (const auto& [c, p] : products_) {
    if (c != code && ProductUnder(c, code)) return true;
  }
  for (const std::string& c : posted_products_) {
    if (c != code && ProductUnder(c, code)) return true;
  }
  return false;
}

absl::Status ReferenceMatcher::CheckCatalogued(const std::string& code,
                                               bool offer) const {
  if (products_.empty()) return absl::OkStatus();
  if (!Catalogued(code)) return NotFound("product_code", code);
  if (offer && HasCatalogued(code)) {
    return Invalid("product_code", "a category: " + code);
  }
  return absl::OkStatus();
}

void ReferenceMatcher::NotePosted(const std::string& code) {
  for (size_t dot = 0; dot != std::string::npos;) {
    dot = code.find('.', dot + 1);
    posted_products_.insert(code.substr(0, dot));
  }
}

Product ReferenceMatcher::CataloguedProduct(const std::string& code) const {
  if (auto it = products_.find(code); it != products_.end()) return it->second;
  Product p;
  p.code = code;
  p.name = code;
  p.from_orders = true;
  return p;
}

absl::StatusOr<ProductResult> ReferenceMatcher::UpsertProduct(
    const ReferenceContext& ctx, const Product& product) {
  const Remembered* replay;
  if (absl::Status s = Begin(
          ctx, {product.code, product.name, product.unit_note},
          [&] { return AdminOnly(ctx); }, &replay);
      !s.ok()) {
    return s;
  }
  if (replay) {
    // Reading taken: as a buyer's, the product as it stands now.
    absl::StatusOr<ProductResult> again = Replay<ProductResult>(*replay);
    if (again.ok()) again->product = CataloguedProduct(again->product.code);
    return again;
  }
  if (!WellFormedProduct(product.code)) {
    return Invalid("product.code", "malformed " + product.code);
  }
  if (const size_t dot = product.code.rfind('.');
      dot != std::string::npos && !Catalogued(product.code.substr(0, dot))) {
    return NotFound("product.code", "parent of " + product.code);
  }
  // Characters: UTF-8 bytes that do not continue a character.
  auto characters = [](const std::string& text) {
    size_t n = 0;
    for (char ch : text) n += (static_cast<uint8_t>(ch) & 0xC0) != 0x80;
    return n;
  };
  if (product.name.empty() || characters(product.name) > 64) {
    return Invalid("product.name", "empty or over 64 characters");
  }
  if (characters(product.unit_note) > 64) {
    return Invalid("product.unit_note", "over 64 characters");
  }
  if (product.perishability < 1 || product.perishability > 3) {
    return Invalid("product.perishability", "not 1..3");
  }
  constexpr Micros kSecond = 1000000;
  if (product.shelf_life != 0 &&
      (product.shelf_life < kHour || product.shelf_life > 3650 * 24 * kHour ||
       product.shelf_life % kSecond != 0)) {
    return Invalid("product.shelf_life", "not 0 or 1 h to 3650 days");
  }
  const bool created = !Catalogued(product.code);
  Product& p = products_[product.code];
  p = product;
  p.from_orders = false;
  ProductResult result{p, created, false};
  Remember(ctx, result);
  return result;
}

absl::StatusOr<ClearResult> ReferenceMatcher::Clear(
    const ReferenceContext& ctx) {
  const Remembered* replay;
  if (absl::Status s = Begin(
          ctx, {}, [&] { return AdminOnly(ctx); }, &replay);
      !s.ok()) {
    return s;
  }
  if (replay) {
    // A repeat says so and reports nothing: the clearing ran once.
    if (std::get_if<ClearResult>(&replay->result) == nullptr) {
      return absl::AlreadyExistsError("request_id: reused for another command");
    }
    ClearResult again;
    again.replayed = true;
    return again;
  }
  bool due = false;
  for (const auto& [prefix, policy] : clearing_) due |= policy.second <= clock_;
  if (!due) return absl::FailedPreconditionError("no clearing is due");
  ClearResult result;
  result.now = clock_;
  const uint64_t first = matches_.size();
  for (auto& [prefix, policy] : clearing_) {
    if (policy.second > clock_) continue;
    policy.second = (clock_ / policy.first + 1) * policy.first;
    ClearPolicy(prefix, policy.second);
    ++result.clearings;
  }
  result.matches = matches_.size() - first;
  if (result.matches > 0) result.first_match_id = first + 1;
  for (uint64_t i = first; i < matches_.size(); ++i) {
    result.kg += matches_[i].quantity_kg;
  }
  Remember(ctx, result);
  return result;
}

void ReferenceMatcher::ClearPolicy(const std::string& prefix, Micros horizon) {
  // The clearing's orders: every open pledge of the policy, and its offers
  // that expire by the horizon; by (id, pledge before offer).
  std::vector<std::pair<uint64_t, bool>> urgent;  // (id, is_offer)
  const uint64_t n = std::max(offers_.size(), pledges_.size());
  auto of_policy = [&](const std::string& product) {
    const auto* policy = PolicyOf(product);
    return policy != nullptr && policy->first == prefix;
  };
  for (uint64_t id = 1; id <= n; ++id) {
    if (id <= pledges_.size()) {
      const Pledge& p = pledges_[id - 1];
      if (p.status == OrderStatus::kOpen && of_policy(p.spec.product_code)) {
        urgent.emplace_back(id, false);
      }
    }
    if (id <= offers_.size()) {
      const Offer& o = offers_[id - 1];
      if (o.status == OrderStatus::kOpen && o.spec.expires_at <= horizon &&
          of_policy(o.spec.product_code)) {
        urgent.emplace_back(id, true);
      }
    }
  }
  if (urgent.empty()) return;

  // Candidates: the first 8 fillable counterparts in the continuous
  // priority, as the incoming order would see them.
  constexpr size_t kCandidates = 8;
  std::vector<uint64_t> offer_ids, pledge_ids;
  std::map<uint64_t, uint32_t> offer_at, pledge_at;
  std::set<std::pair<uint32_t, uint32_t>> paired;
  std::vector<ClearingPair> pairs;
  auto index_of = [](uint64_t id, std::vector<uint64_t>& ids,
                     std::map<uint64_t, uint32_t>& at) {
    auto [it, added] = at.emplace(id, static_cast<uint32_t>(ids.size()));
    if (added) ids.push_back(id);
    return it->second;
  };
  auto add_pair = [&](const Offer& o, const Pledge& p) {
    const uint32_t oi = index_of(o.id, offer_ids, offer_at);
    const uint32_t pi = index_of(p.id, pledge_ids, pledge_at);
    if (!paired.insert({oi, pi}).second) return;
    const int64_t floor = o.spec.floor_price_fen_per_kg;
    int64_t capacity = std::min(o.remaining_kg, p.remaining_kg);
    if (p.spec.budget_fen > 0) {
      capacity = std::min(capacity, (p.spec.budget_fen - p.spent_fen) / floor);
    }
    const int64_t hours = (o.spec.expires_at - clock_) / kHour;
    int64_t cost = Partner(o.spec.region_code, p.spec.buyer_city_code)
                       ? 0
                       : int64_t{1} << 26;
    // A pledge whose budget would not pay for its remaining kg at its max
    // price: partners, then the floor's price band, then priority origins,
    // then expiry. Others: partners, priority origins, expiry, floor.
    if (p.spec.budget_fen > 0 &&
        (p.spec.budget_fen - p.spent_fen) / p.spec.max_price_fen_per_kg <
            p.remaining_kg) {
      cost += PriceBandOf(floor) * (int64_t{1} << 16) +
              (Priority(o) ? 0 : int64_t{1} << 15) +
              std::min<int64_t>(hours, (int64_t{1} << 15) - 1);
    } else {
      cost += (Priority(o) ? 0 : int64_t{1} << 25) +
              std::min<int64_t>(hours, (int64_t{1} << 13) - 1) *
                  (int64_t{1} << 11) +
              std::min<int64_t>(floor, (int64_t{1} << 11) - 1);
    }
    pairs.push_back({oi, pi, capacity, cost});
  };
  for (const auto& [id, is_offer] : urgent) {
    if (is_offer) {
      const Offer& o = offers_[id - 1];
      std::vector<const Pledge*> candidates;
      for (const Pledge& p : pledges_) {
        if (Compatible(o, p) &&
            FillQuantity(o, p, p.spec.max_price_fen_per_kg) > 0) {
          candidates.push_back(&p);
        }
      }
      std::sort(candidates.begin(), candidates.end(),
                [&](const Pledge* a, const Pledge* b) {
                  auto key = [&](const Pledge* p) {
                    return std::make_tuple(
                        !Partner(o.spec.region_code, p->spec.buyer_city_code),
                        -p->spec.max_price_fen_per_kg, p->seq);
                  };
                  return key(a) < key(b);
                });
      if (candidates.size() > kCandidates) candidates.resize(kCandidates);
      for (const Pledge* p : candidates) add_pair(o, *p);
    } else {
      const Pledge& p = pledges_[id - 1];
      std::vector<const Offer*> candidates;
      for (const Offer& o : offers_) {
        if (Compatible(o, p) &&
            FillQuantity(o, p, o.spec.floor_price_fen_per_kg) > 0) {
          candidates.push_back(&o);
        }
      }
      std::sort(candidates.begin(), candidates.end(),
                [&](const Offer* a, const Offer* b) {
                  auto key = [&](const Offer* o) {
                    return std::make_tuple(
                        !Partner(o->spec.region_code, p.spec.buyer_city_code),
                        !Priority(*o), o->spec.expires_at,
                        o->spec.floor_price_fen_per_kg, o->seq);
                  };
                  return key(a) < key(b);
                });
      if (candidates.size() > kCandidates) candidates.resize(kCandidates);
      for (const Offer* o : candidates) add_pair(*o, p);
    }
  }

  std::vector<int64_t> offer_kg, pledge_kg;
  for (uint64_t id : offer_ids)
    offer_kg.push_back(offers_[id - 1].remaining_kg);
  for (uint64_t id : pledge_ids) {
    pledge_kg.push_back(pledges_[id - 1].remaining_kg);
  }
  const std::vector<int64_t> flows =
      SolveClearingFlow(offer_kg, pledge_kg, pairs);
  std::vector<std::tuple<int64_t, uint64_t, uint64_t, int64_t>> trades;
  for (size_t k = 0; k < pairs.size(); ++k) {
    if (flows[k] > 0) {
      trades.emplace_back(pairs[k].cost, offer_ids[pairs[k].offer],
                          pledge_ids[pairs[k].pledge], flows[k]);
    }
  }
  std::sort(trades.begin(), trades.end());
  std::vector<MatchView> ignored;
  for (const auto& [cost, offer_id, pledge_id, want] : trades) {
    Offer& o = offers_[offer_id - 1];
    Pledge& p = pledges_[pledge_id - 1];
    if (o.status != OrderStatus::kOpen || p.status != OrderStatus::kOpen) {
      continue;
    }
    const int64_t floor = o.spec.floor_price_fen_per_kg;
    const int64_t most = FillQuantity(o, p, floor);
    const int64_t q =
        std::min(most, std::max({want, o.spec.min_lot_kg, p.spec.min_lot_kg}));
    if (q > 0) Fill(o, p, q, floor, &ignored);
  }
  for (const auto& [id, is_offer] : urgent) {
    if (is_offer) {
      Offer& o = offers_[id - 1];
      if (o.status == OrderStatus::kOpen) MatchIncomingOffer(o, true);
    } else {
      Pledge& p = pledges_[id - 1];
      if (p.status == OrderStatus::kOpen) MatchIncomingPledge(p, true);
    }
  }
}

}  // namespace duijie
