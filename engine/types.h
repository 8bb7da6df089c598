// Value types of the matching core: the orders, reference data, matches and
// the views the engine hands out. Plain structs, no behaviour.
//
// Units: *_kg integer kilograms, *_fen_per_kg integer fen per kilogram,
// *_fen integer fen. Times are Micros, integer microseconds since the Unix
// epoch (UTC): exact, compact, and cheap to journal and hash.
#ifndef DUIJIE_ENGINE_TYPES_H_
#define DUIJIE_ENGINE_TYPES_H_

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace duijie {

using Micros = int64_t;

// Numbers match the proto enums so that conversion is a cast after a range
// check at the API boundary.
enum class Grade : uint8_t { kPremium = 1, kFirst = 2, kSecond = 3 };
enum class OrderStatus : uint8_t {
  kOpen = 1,
  kFilled = 2,
  kCancelled = 3,
  kExpired = 4,
};
enum class BuyerKind : uint8_t {
  kGovernmentUnit = 1,
  kSchool = 2,
  kHospital = 3,
  kStateFirm = 4,
  kPrivateFirm = 5,
  kArmyUnit = 6,
  kTradeUnion = 7,
  kCanteen = 8,
  kCharity = 9,
  kIndividual = 10,
  kPlatform = 11,
};
// The kind as the API names it ("SCHOOL"): the keys of figures by kind.
inline const char* BuyerKindName(BuyerKind k) {
  switch (k) {
    case BuyerKind::kGovernmentUnit:
      return "GOVERNMENT_UNIT";
    case BuyerKind::kSchool:
      return "SCHOOL";
    case BuyerKind::kHospital:
      return "HOSPITAL";
    case BuyerKind::kStateFirm:
      return "STATE_FIRM";
    case BuyerKind::kPrivateFirm:
      return "PRIVATE_FIRM";
    case BuyerKind::kArmyUnit:
      return "ARMY_UNIT";
    case BuyerKind::kTradeUnion:
      return "TRADE_UNION";
    case BuyerKind::kCanteen:
      return "CANTEEN";
    case BuyerKind::kCharity:
      return "CHARITY";
    case BuyerKind::kIndividual:
      return "INDIVIDUAL";
    case BuyerKind::kPlatform:
      return "PLATFORM";
  }
  return "BUYER_KIND_UNSPECIFIED";
}
enum class Scope : uint8_t { kAny = 0, kPartnersOnly = 1, kListedRegions = 2 };
// Where a match stands after it is made: MATCHED, then SHIPPED by the
// supplier (or LAPSED when not shipped by ship_by), then DELIVERED (accepted
// by the buyer, or on its own at accept_by) or DECLINED by the buyer.
enum class MatchStatus : uint8_t {
  kMatched = 1,
  kShipped = 2,
  kDelivered = 3,
  kDeclined = 4,
  kLapsed = 5,
};
inline constexpr int kMaxMatchStatus = 5;
// The status as the API names it ("SHIPPED"), for messages.
inline const char* MatchStatusName(MatchStatus s) {
  switch (s) {
    case MatchStatus::kMatched:
      return "MATCHED";
    case MatchStatus::kShipped:
      return "SHIPPED";
    case MatchStatus::kDelivered:
      return "DELIVERED";
    case MatchStatus::kDeclined:
      return "DECLINED";
    case MatchStatus::kLapsed:
      return "LAPSED";
  }
  return "UNKNOWN";
}
// A deadline that does not apply: orders posted before matches had a
// lifecycle carry it, and their matches never lapse or deliver on their own.
inline constexpr Micros kNoDeadline = -1;

inline constexpr int kMaxBuyerKind = 11;
inline constexpr int kMaxScope = 2;

// Who a caller is: what its API key may do (see access.h for the rules).
enum class Role : uint8_t {
  kAdmin = 1,     // everything, reference data and keys included
  kPlatform = 2,  // acts for the suppliers and buyers it is registered for
  kSupplier = 3,  // acts for exactly one supplier
  kBuyer = 4,     // acts for exactly one buyer
  kObserver = 5,  // reads only: the public ones and every match
};
inline constexpr int kMaxRole = 5;

// A key's holder: a name for logs and listings, a role, and the parties it
// acts for (supplier_ids / buyer_ids as orders name them).
struct Principal {
  std::string name;
  int role = 0;  // a Role number; int so that bad input can be reported
  std::vector<std::string> supplier_ids;
  std::vector<std::string> buyer_ids;
};

// An API key as the engine keeps it: never the secret, only its SHA-256.
struct ApiKey {
  uint64_t key_id = 0;
  Principal principal;
  std::string secret_sha256;  // 32 bytes
  Micros created_at = 0;
  Micros expires_at = 0;  // 0: never
  Micros revoked_at = 0;  // 0: not revoked
};

struct Region {
  std::string code;  // six digits, GB/T 2260
  std::string name;
  bool key_assisted = false;
  bool relocation_site = false;
};

struct Pairing {
  std::string east_code;
  std::string west_code;
  std::string note;
};

// A registered buyer unit: who it is, where, what kind, and the purchases
// it means to make in a year (its reserved procurement share, 预留采购份额,
// for a budget unit). Buyers of one alliance (买方联盟) share alliance_id.
struct Buyer {
  std::string buyer_id;   // as pledges name it
  std::string name;       // 1..64 bytes
  std::string city_code;  // a known region
  int kind = 0;  // a BuyerKind number; int so that bad input can be reported
  int64_t annual_target_fen = 0;  // >= 0; 0: no target
  std::string alliance_id;        // empty: in no alliance
};

// What a supplier posts. Validated by Engine::PostOffer.
struct OfferSpec {
  std::string supplier_id;
  std::string region_code;
  std::string product_code;
  int grade = 0;  // a Grade number; int so that bad input can be reported
  int64_t quantity_kg = 0;
  int64_t floor_price_fen_per_kg = 0;
  int64_t min_lot_kg = 0;
  Micros expires_at = 0;
  bool certified = false;
  int64_t households = 0;
  // How long the supplier has to ship a match; 0: the default
  // (kDefaultShipWithin), kNoDeadline: none (offers of old journals).
  Micros ship_within = 0;
};

// One member's part of an alliance pledge: a registered buyer of the
// pledge's alliance and its share of each match, in permille of the kg.
struct MemberShare {
  std::string buyer_id;
  // 1..1000; int64 so that bad input can be reported as it was sent.
  int64_t share_permille = 0;
};

// What a buyer posts. Validated by Engine::PostPledge.
// How a standing pledge repeats. At each period's start (Asia/Shanghai:
// days at 00:00, weeks on Monday, months on the 1st) it refills to
// quantity_kg and budget_fen (0: no budget cap), plus what the period before
// left unfilled and unspent when carry_over is set, keeping its place in
// the queue. It expires at `until` (its expires_at); quantity_kg and
// budget_fen of the pledge itself are the first period's.
struct Recurrence {
  int period = 0;  // a Period number (periods.h); 0: none
  int64_t quantity_kg = 0;
  int64_t budget_fen = 0;
  Micros until = 0;
  bool carry_over = false;
};

// One period of a standing pledge, its figures from the matches made in it
// (their kg less any given back, what was accepted, what they cost).
struct PledgePeriodView {
  Micros start = 0;
  Micros end = 0;  // the next period's start
  int64_t pledged_kg = 0;
  int64_t budget_fen = 0;
  int64_t matched_kg = 0;
  int64_t delivered_kg = 0;
  int64_t spent_fen = 0;
};

struct PledgeSpec {
  std::string buyer_id;
  std::string buyer_city_code;
  int buyer_kind = 0;  // a BuyerKind number
  std::string product_code;
  int min_grade = 0;  // a Grade number; 0 means any grade
  int64_t quantity_kg = 0;
  int64_t max_price_fen_per_kg = 0;
  int64_t budget_fen = 0;  // 0 = no cap beyond quantity x max price
  int64_t min_lot_kg = 0;
  Micros expires_at = 0;
  int scope = 0;  // a Scope number
  std::vector<std::string> region_codes;
  bool require_certified = false;
  // How long the buyer has to accept or decline a shipment; 0: the default
  // (kDefaultAcceptWithin), kNoDeadline: none (pledges of old journals).
  Micros accept_within = 0;
  // A standing pledge (a long-term purchase agreement) refills at each
  // period's start; period 0: a one-off pledge.
  Recurrence recurrence;
  // Empty: the pledge buys for buyer_id. Otherwise buyer_id is an alliance
  // and each match is split among these members by share (largest
  // remainder, to the kg).
  std::vector<MemberShare> members;
};

// An offer as it stands. String views point into the engine's interned
// strings, which live as long as the engine.
struct OfferView {
  uint64_t offer_id = 0;
  std::string_view supplier_id;
  std::string_view region_code;
  std::string_view product_code;
  Grade grade = Grade::kSecond;
  int64_t quantity_kg = 0;
  int64_t floor_price_fen_per_kg = 0;
  int64_t min_lot_kg = 0;
  Micros expires_at = 0;
  bool certified = false;
  int64_t households = 0;
  int64_t remaining_kg = 0;
  OrderStatus status = OrderStatus::kOpen;
  Micros posted_at = 0;
  Micros ship_within = 0;  // kNoDeadline: none
};

struct PledgeView {
  uint64_t pledge_id = 0;
  std::string_view buyer_id;
  std::string_view buyer_city_code;
  BuyerKind buyer_kind = BuyerKind::kGovernmentUnit;
  std::string_view product_code;
  Grade min_grade = Grade::kSecond;
  int64_t quantity_kg = 0;
  int64_t max_price_fen_per_kg = 0;
  int64_t budget_fen = 0;
  int64_t min_lot_kg = 0;
  Micros expires_at = 0;
  Scope scope = Scope::kAny;
  std::vector<std::string_view> region_codes;
  bool require_certified = false;
  int64_t remaining_kg = 0;
  int64_t spent_fen = 0;
  OrderStatus status = OrderStatus::kOpen;
  Micros posted_at = 0;
  Micros accept_within = 0;  // kNoDeadline: none
  // A standing pledge's recurrence (period 0 for a one-off pledge); the
  // figures above are its current period's. `periods`: every period so
  // far, the current one last (GetPledge only; empty in lists).
  Recurrence recurrence;
  std::vector<PledgePeriodView> periods;
  std::vector<MemberShare> members;  // empty: no alliance split
};

struct MatchView {
  uint64_t match_id = 0;
  uint64_t offer_id = 0;
  uint64_t pledge_id = 0;
  std::string_view supplier_id;
  std::string_view buyer_id;  // the pledge's (an alliance, for members)
  // The member of an alliance pledge this part of a fill is for; empty for
  // a pledge without members.
  std::string_view member_buyer_id;
  std::string_view product_code;     // the offer's
  std::string_view region_code;      // the offer's
  std::string_view buyer_city_code;  // the pledge's
  int64_t quantity_kg = 0;
  int64_t price_fen_per_kg = 0;
  int64_t amount_fen = 0;
  bool partner = false;
  Micros matched_at = 0;
  // The lifecycle. Deadlines are 0 when they do not apply (yet).
  MatchStatus status = MatchStatus::kMatched;
  Micros ship_by = 0;
  Micros shipped_at = 0;
  int64_t shipped_kg = 0;
  Micros accept_by = 0;
  Micros delivered_at = 0;
  int64_t accepted_kg = 0;
  // The kg given back to the pledge (a lapse, a decline, a short shipment
  // or acceptance), when it could still take them.
  int64_t returned_kg = 0;
  std::string_view note;    // the shipment's note
  std::string_view reason;  // why it was declined
  Micros updated_at = 0;    // the last status change
};

// One entry of the engine's log of match events: a new match, or a match
// moving to another status. Numbered from 1 in the order the engine made
// them.
enum class MatchEventKind : uint8_t { kNewMatch = 1, kStatusChanged = 2 };
struct MatchEventView {
  uint64_t event_id = 0;
  MatchEventKind kind = MatchEventKind::kNewMatch;
  // The match as it stood right after the event: what later statuses set
  // is cleared, returned_kg counts only the kg given back up to the event,
  // updated_at is the event's time.
  MatchView match;
};

// What a match command answers: the match as it stands after it, and the
// matches the kg it gave back to the pledge made at once.
struct MatchResult {
  MatchView match;
  std::vector<MatchView> matches;
  bool replayed = false;
};

struct OfferResult {
  OfferView offer;                 // as it stood right after the command
  std::vector<MatchView> matches;  // the fills the command made
  int64_t unfilled_kg = 0;         // cancels: what was left
  bool replayed = false;  // a repeat of an earlier request_id, no effect
};

struct PledgeResult {
  PledgeView pledge;
  std::vector<MatchView> matches;
  int64_t unfilled_kg = 0;
  bool replayed = false;
};

struct RegionResult {
  Region region;
  bool replayed = false;
};

struct PairingResult {
  Pairing pairing;
  bool replayed = false;
};

struct BuyerResult {
  Buyer buyer;           // as stored after the command
  bool created = false;  // false: it replaced a registered buyer
  bool replayed = false;
};

struct KeyResult {
  ApiKey key;  // as it stands after the command
  bool replayed = false;
};

// Filters for the list reads. Empty strings and kUnset match everything.
struct OrderFilter {
  std::string owner_id;             // supplier_id or buyer_id
  std::string product_code_prefix;  // whole segments: "fruit.apple"
  std::string region_code_prefix;   // digits, on region or buyer city
  int status = 0;                   // an OrderStatus number; 0 = any
  // Set for a caller that may see only its own parties' orders: an order
  // passes only when its owner is one of visible_owner_ids.
  bool restricted = false;
  std::vector<std::string> visible_owner_ids;
};

// Whether `id` is one of `ids` (a principal's parties, a filter's visible
// ones: short lists).
inline bool ListsId(const std::vector<std::string>& ids, std::string_view id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

struct MatchFilter {
  std::string supplier_id;
  std::string buyer_id;
  uint64_t offer_id = 0;
  uint64_t pledge_id = 0;
  std::string region_code_prefix;
  int status = 0;  // a MatchStatus number; 0 = any
  // Set for a caller that may see only its own parties' matches: a match
  // passes only when its supplier is one of visible_supplier_ids or its
  // buyer or member one of visible_buyer_ids.
  bool restricted = false;
  std::vector<std::string> visible_supplier_ids;
  std::vector<std::string> visible_buyer_ids;

  // The restriction alone: whether a match between these parties may be
  // shown (the engine's list and the live WatchMatches filter both ask).
  // A member of an alliance pledge sees its own part; the alliance sees
  // every part of its pledge.
  bool Shows(std::string_view supplier_id, std::string_view buyer_id,
             std::string_view member_buyer_id = {}) const {
    return !restricted || ListsId(visible_supplier_ids, supplier_id) ||
           ListsId(visible_buyer_ids, buyer_id) ||
           (!member_buyer_id.empty() &&
            ListsId(visible_buyer_ids, member_buyer_id));
  }
  // Whether the filter's buyer_id names the match's buyer or its member.
  bool BuyerPasses(std::string_view buyer, std::string_view member) const {
    return buyer_id.empty() || buyer == buyer_id ||
           (!member.empty() && member == buyer_id);
  }
};

// Filters for ListBuyers. Empty strings and 0 match everything.
struct BuyerFilter {
  std::string city_code_prefix;  // digits
  int kind = 0;                  // a BuyerKind number
  std::string alliance_id;
};

// Matched and delivered amounts of one month (Asia/Shanghai).
struct MonthProgress {
  int month = 0;  // 1..12
  int64_t matched_fen = 0;
  int64_t delivered_fen = 0;
};

// A buyer's or an alliance's purchases in one year against its target.
struct BuyerProgress {
  std::string buyer_id;     // set for a buyer's progress
  std::string alliance_id;  // set for an alliance's
  int year = 0;
  int64_t annual_target_fen = 0;  // an alliance's: its members' sum
  int64_t matched_fen = 0;
  int64_t delivered_fen = 0;
  // matched_fen x 1000 / annual_target_fen, rounded down; 0 without a
  // target. Over 1000 when the target is exceeded.
  int64_t share_done_permille = 0;
  std::vector<MonthProgress> months;    // 12, January first
  std::vector<std::string> member_ids;  // an alliance's members, by id
};

// --- Figures of matches (Engine::GetStats) ----------------------------------

// What a row of figures is grouped by. The numbers are the proto's
// Dimension. Days, weeks, months and quarters are of matched_at in
// Asia/Shanghai.
enum class StatsDimension : uint8_t {
  kDay = 1,               // "2026-12-01"
  kWeek = 2,              // ISO week, "2026-W49"
  kMonth = 3,             // "2026-12"
  kQuarter = 4,           // "2026Q4"
  kOriginProvince = 5,    // the offer's region code's first 2 digits + "0000"
  kOriginPrefecture = 6,  // its first 4 digits + "00"
  kOriginCounty = 7,      // the offer's region code
  kBuyerCity = 8,         // the pledge's buyer_city_code
  kPairing = 9,           // "east>west" of the pairing; "" when not a partner
  kBuyerKind = 10,        // BuyerKindName of the pledge's kind
  kProductCategory = 11,  // the product code's first segment
  kProduct = 12,          // the offer's product code
  kCertified = 13,        // "true" / "false": the offer is certified
  kKeyAssisted = 14,  // "true" / "false": the offer's region is key-assisted
  kBuyer = 15,        // the buyer the match is for (its member, if any)
  kSupplier = 16,     // supplier_id
};
inline constexpr int kMaxStatsDimension = 16;
inline constexpr size_t kMaxStatsGroupBy = 4;

// Which matches GetStats counts, and how it groups them. Empty strings
// match everything.
struct StatsQuery {
  std::vector<int> group_by;  // StatsDimension numbers; int to report bad ones
  std::string product_code_prefix;   // whole segments, on the offer's product
  std::string origin_region_prefix;  // digits, on the offer's region
  std::string buyer_city_prefix;     // digits, on the pledge's city
  std::string buyer_id;              // the pledge's buyer or the match's member
  std::string supplier_id;
  // Matches with from <= matched_at < to.
  Micros from = std::numeric_limits<Micros>::min();
  Micros to = std::numeric_limits<Micros>::max();
  // The caller's parties (MatchFilter::Shows): only its restriction fields
  // are read, so a key sees figures of the matches it may list.
  MatchFilter visible;
};

// The figures of one group of matches.
struct StatsRowView {
  std::vector<std::string> keys;  // one per group_by, in that order
  // What the matches still hold (their kg less the kg given back to the
  // pledge on a lapse, a decline or a short shipment), as
  // GetBuyerProgress counts purchases; fen = those kg x the match price.
  int64_t kg = 0;
  int64_t fen = 0;
  int64_t matches = 0;
  int64_t suppliers = 0;   // distinct supplier_ids
  int64_t buyers = 0;      // distinct buyers (as kBuyer keys them)
  int64_t households = 0;  // the sum over the distinct offers matched
  // Of the matches DELIVERED by now: accepted kg and their fen.
  int64_t delivered_kg = 0;
  int64_t delivered_fen = 0;
};

struct StatsView {
  std::vector<StatsRowView> rows;  // by keys, compared as strings
  StatsRowView total;              // every match counted, keys empty
};

// What keeps an open order from matching (Engine::ExplainPledge and
// ExplainOffer). Numbers match the proto's BlockReason.
enum class BlockReason : uint8_t {
  // Nothing of the product is open on the other side where the pledge's
  // scope reaches (for an offer: no pledge of its product takes its region).
  kNoProductInScope = 1,
  kPrice = 2,          // the floor is above the max price
  kGrade = 3,          // the offer's grade is below the pledge's min grade
  kCertification = 4,  // the pledge requires certification, the offer lacks it
  kLotSize = 5,        // a min lot that does not fit what either side has left
  kBudget = 6,         // the budget left buys less than a lot at the max price
  kScope = 7,          // of the product, but outside the pledge's scope
};

// One reason, and what it alone keeps out.
struct Blocker {
  BlockReason reason = BlockReason::kPrice;
  // Open kg of the other side that fail this reason and no other; for
  // kNoProductInScope, the open kg of the product, all out of scope (0:
  // none is open at all).
  int64_t kg = 0;
  // The smallest change of the explained order that reaches some of them,
  // in plain words ("a max price of 260 fen/kg reaches 1,200 kg"), the kg
  // that change reaches, and the changed value (fen/kg, a Grade number, a
  // region code, kg or fen); all empty/0 when the order cannot make such a
  // change (an offer cannot change its region, grade or certification).
  std::string widening;
  int64_t widening_kg = 0;
  std::string widened_value;
};

struct Explanation {
  int64_t unfilled_kg = 0;  // of the order explained
  // Open kg of the other side that pass every test (they would match now
  // but for a batch clearing's wait).
  int64_t compatible_kg = 0;
  // Open kg of the other side that fail more than one test (in no
  // blocker's kg).
  int64_t several_reasons_kg = 0;
  // NO_PRODUCT_IN_SCOPE first when it holds, then by kg, most first (ties
  // by reason number).
  std::vector<Blocker> blockers;
  std::string summary;  // one or two sentences for people
};

struct BookLine {
  std::string_view product_code;
  int64_t open_offer_kg = 0;
  int64_t open_offer_count = 0;
  int64_t open_pledge_kg = 0;
  int64_t open_pledge_count = 0;
  int64_t best_floor_price_fen_per_kg = 0;  // 0 if no open offer
  int64_t best_max_price_fen_per_kg = 0;    // 0 if no open pledge
  // The next batch clearing of the product; 0 when it matches
  // continuously.
  Micros next_clearing_at = 0;
};

// --- Glut alerts (engine/alerts.h) ---------------------------------------
// Numbers match the proto enums.
enum class AlertLevel : uint8_t { kWatch = 1, kWarning = 2, kCritical = 3 };
enum class AlertEventKind : uint8_t {
  kRaised = 1,
  kEscalated = 2,
  kCleared = 3
};

// When an alert is raised for the products of one category (the first
// segment of a product code; "" for every category without its own).
struct AlertThresholds {
  std::string category;
  // How far ahead of its expiry an open offer counts as at risk.
  Micros horizon = Micros{72} * 3600 * 1000000;
  // Raised when at-risk kg - compatible demand kg >= min_gap_kg and
  // at-risk kg x 1000 >= demand kg x min_ratio_permille.
  int64_t min_gap_kg = 1000;
  int64_t min_ratio_permille = 1500;
  // Cleared when the gap falls below min_gap_kg x clear_permille / 1000.
  int64_t clear_permille = 500;
  bool operator==(const AlertThresholds& o) const {
    return category == o.category && horizon == o.horizon &&
           min_gap_kg == o.min_gap_kg &&
           min_ratio_permille == o.min_ratio_permille &&
           clear_permille == o.clear_permille;
  }
};

// A pledge that could take part of a glut if it widened its terms.
struct AlertCandidateView {
  uint64_t pledge_id = 0;
  std::string buyer_id;
  std::string buyer_city_code;
  int64_t kg = 0;                    // at most its remaining kg
  std::vector<std::string> changes;  // "max price 260 fen/kg", ...
};

// One glut of one product leaf in one region (county, prefecture or
// province), as it stands (or stood when cleared).
struct AlertView {
  uint64_t alert_id = 0;
  std::string product_code;
  std::string region_code;
  AlertLevel level = AlertLevel::kWatch;  // the highest while open
  int64_t at_risk_kg = 0;
  int64_t demand_kg = 0;
  int64_t households = 0;
  int64_t open_offer_kg = 0;
  Micros raised_at = 0;
  Micros updated_at = 0;
  Micros cleared_at = 0;                       // 0 while open
  std::vector<AlertCandidateView> candidates;  // read-time, open alerts only
};

struct AlertEventView {
  uint64_t event_id = 0;
  AlertEventKind kind = AlertEventKind::kRaised;
  AlertView alert;  // as of the event (no candidates)
};

struct AlertFilter {
  std::string product_code_prefix;  // whole segments
  std::string region_code_prefix;   // digits
  bool include_cleared = false;
};

struct AlertThresholdsResult {
  AlertThresholds thresholds;  // as they stand after the command
  bool replayed = false;
};

}  // namespace duijie

#endif  // DUIJIE_ENGINE_TYPES_H_
