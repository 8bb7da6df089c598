// The matching core of duijie: a deterministic, single-threaded, in-memory
// exchange between surplus offers and buyer pledges.
//
// Pure C++: no gRPC, no I/O, no clock. Every change is a Command
// (command.h), time included: a TickCommand moves the clock and retires
// what expired; every other command runs at the engine's clock. The same
// commands in the same order always produce the same ids, matches, states
// and rejections, which is what makes journal replay and differential
// testing possible.
//
// Every command is validated in full before it changes anything; on
// failure the state is untouched (the clock included) and the Status names
// the field and the value. Codes: INVALID_ARGUMENT (malformed input),
// NOT_FOUND (an unknown id or region), FAILED_PRECONDITION (cancelling a
// closed order), ALREADY_EXISTS (a reused request_id with a different
// body), RESOURCE_EXHAUSTED (an engine limit: the last pledge or offer id
// given out, kMaxPledgeId and kMaxOfferId, or the clearing policies'
// number); for a command with a Caller (command.h), PERMISSION_DENIED (not
// the caller's to send) and RESOURCE_EXHAUSTED (an admission limit), see
// authorization.cc.
//
// Matching is continuous: an incoming order matches resting orders of the
// other side in priority order until it is filled or nothing fits, and what
// is left rests on the book. See orders.cc for the rules and
// order_index.h for the index.
//
// Not thread-safe: callers serialize access (the server feeds it from one
// writer thread; const reads may run concurrently with each other only).
#ifndef DUIJIE_ENGINE_ENGINE_H_
#define DUIJIE_ENGINE_ENGINE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/command.h"
#include "engine/types.h"

namespace duijie {

// Every id, code, name, note and request_id of a command that Apply or
// Validate accepts is free of control characters (text.h: CheckPlainText):
// INVALID_ARGUMENT naming the field otherwise. Replay does not check this.
absl::Status CheckCommandText(const Command& command);

// Limits on input sizes, enforced by validation.
inline constexpr size_t kMaxIdBytes = 64;  // supplier_id, buyer_id
inline constexpr size_t kMaxRequestIdBytes = 128;
// Characters (code points), not bytes: the longest county names run past
// 21 Chinese characters (临夏回族自治州积石山保安族东乡族撒拉族自治县).
inline constexpr size_t kMaxRegionNameCharacters = 64;
inline constexpr size_t kMaxPairingNoteBytes = 256;
inline constexpr size_t kMaxProductCodeBytes = 128;
inline constexpr size_t kMaxProductSegments = 6;
inline constexpr size_t kMaxListedRegions = 64;
// Members one alliance pledge may split its matches among: each fill
// makes up to this many matches, so it bounds a fill's work.
inline constexpr size_t kMaxPledgeMembers = 64;
inline constexpr int64_t kMaxQuantityKg = int64_t{1} << 40;  // ~1.1e12 kg
inline constexpr int64_t kMaxPriceFenPerKg = int64_t{1} << 30;
// Pledge and offer ids run from 1 to these (2^32 - 1): the indexes keep
// them in 32 bits. A post beyond is refused with RESOURCE_EXHAUSTED.
inline constexpr uint64_t kMaxPledgeId = UINT32_MAX;
inline constexpr uint64_t kMaxOfferId = UINT32_MAX;
// A match's deadlines when the orders do not say: ship within 7 days of
// the match, accept or decline within 7 days of the shipment (as the 832
// platform confirms receipt on its own after a week). At most a year.
inline constexpr Micros kDefaultShipWithin = Micros{7} * 86400 * 1000000;
inline constexpr Micros kDefaultAcceptWithin = Micros{7} * 86400 * 1000000;
inline constexpr Micros kMaxDeadlineWithin = Micros{366} * 86400 * 1000000;
// The shortest deadline an order may set: less than an hour to ship or to
// accept cannot be met by people.
inline constexpr Micros kMinDeadlineWithin = Micros{3600} * 1000000;
// Whether an order may hold `within` as its ship_within or accept_within:
// kNoDeadline (orders of old journals) or kMinDeadlineWithin up to
// kMaxDeadlineWithin. Posts may also send 0 for the default.
inline bool DeadlineLengthHeld(Micros within) {
  return within == kNoDeadline ||
         (within >= kMinDeadlineWithin && within <= kMaxDeadlineWithin);
}

struct AlertFeed;

struct EngineOptions {
  // A request_id is remembered for at least this long after its command...
  Micros request_id_window = Micros{24} * 3600 * 1000 * 1000;
  // ...and the newest this many are kept whatever their age.
  size_t min_request_ids = 1000000;
  // An offer posted, or amended to a new expiry, must expire at least this
  // long after now: goods that spoil sooner cannot be matched, packed and
  // handed to a carrier (the server sets kMinDeadlineWithin, the shortest
  // time to ship an offer may give). 0: no minimum beyond "after now", the
  // engine's rule before this one, which benchmarks' steady-state books
  // (offers found with minutes left) rely on. Commands replayed from a
  // journal are not held to it: journals written before it replay as they
  // were.
  Micros min_offer_lead = 0;
};

class Engine {
 public:
  explicit Engine(const EngineOptions& options = EngineOptions());
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Applies one command. A tick moves the clock to command.now (never
  // back) and retires every resting order whose expires_at <= now; any
  // other command runs at the current clock (command.now is not read:
  // ticks decide time). A request_id seen before answers the first answer
  // again (replayed = true) and changes nothing.
  absl::StatusOr<CommandResult> Apply(const Command& command);

  // What Apply would say of `command` after a tick to `now` (or at the
  // current clock when that is later), without changing anything: OK when
  // Apply would accept it. Lets the server refuse a bad command without
  // moving the clock, so that a refusal costs no journal record. Exact
  // unless TickMayReopen(now): a tick that passes match deadlines or starts
  // standing pledges' periods can reopen and refill pledges, which Validate
  // does not foresee; then tick first and let Apply judge.
  absl::Status Validate(const Command& command, Micros now) const;
  // Whether a tick to `now` passes a match deadline of a match still in
  // its state or starts the period of a standing pledge that is open or
  // filled and outlives the tick, or reaches a due batch clearing (which
  // the writer runs right after the tick), each of which can change what
  // Validate reads. A function of the state alone (the same after
  // SaveState and LoadState), since the writer's choice to tick first is
  // journaled state. Costs a look at each clearing policy and at the
  // queued deadlines and period starts up to `now` not yet passed by a
  // tick.
  bool TickMayReopen(Micros now) const;

  // Ticks to command.now when that is later than the clock, then applies
  // the command. Unlike the server's writer (CommandSequencer), which asks
  // Validate first and does not tick for a command it refuses, the tick
  // stays even when the command is refused: every command of a test stream
  // then moves the clock, as a reference model's does. For tests and tools.
  absl::StatusOr<CommandResult> TickAndApply(const Command& command);

  // Applies a command read back from the journal: as Apply, except that the
  // checks on text added after earlier versions wrote journals (control
  // characters in ids, names and request_ids: CheckCommandText) are not
  // made. A journaled command was accepted when it was written, and replay
  // must reproduce the state it made, so a rule added since cannot refuse
  // it; new commands meet the rule through Apply and Validate.
  absl::StatusOr<CommandResult> Replay(const Command& command);

  Micros now() const;

  // --- Batch clearing (SetClearingPolicyCommand, ClearCommand) -------------
  // When the earliest clearing falls due (a ClearCommand at or after it
  // runs it); std::numeric_limits<Micros>::max() when every product
  // matches continuously.
  Micros NextClearingAt() const;
  // The clearing policies, by product prefix.
  std::vector<ClearingPolicyResult> ClearingPolicies() const;

  // --- Glut alerts (SetAlertThresholdsCommand; engine/alerts.h) ------------
  // Alerts passing the filter as of the last command: open ones worst first
  // (level, then gap), then cleared ones newest first. Open alerts carry
  // their candidates (pledges paired with the region that could take part
  // of the glut if they widened), computed here by a scan of the pledges.
  std::vector<AlertView> ListAlerts(const AlertFilter& filter) const;
  // Alert events after `after_event_id` whose alert passes the filter
  // (include_cleared is not read), at most `limit`; *more when there are
  // more.
  std::vector<AlertEventView> ListAlertEvents(const AlertFilter& filter,
                                              uint64_t after_event_id,
                                              int limit, bool* more) const;
  // The largest alert event id made so far (0 before the first).
  uint64_t last_alert_event_id() const;
  // The thresholds set, by category (the default "" first when set). None
  // in a new engine: it raises no alert until SetAlertThresholds.
  std::vector<AlertThresholds> ListAlertThresholds() const;

  // Following alerts on another thread (engine/alert_feed.h). After
  // StartAlertFeed the engine no longer judges its alerts as commands
  // apply: it records what they need, TakeAlertFeed moves that out (call it
  // where commands are ordered, e.g. after each group), and FollowAlerts
  // judges them, on any thread, from feeds taken in order. FollowAlerts
  // touches only the alerts' own state, so it may run while commands apply;
  // ListAlerts, ListAlertEvents, last_alert_event_id and saving the state
  // read that state, and must not overlap it. The alerts then stand as of
  // the last feed followed; once every feed taken is followed they are
  // what the engine would have judged itself. ListAlertThresholds answers
  // as of the last command either way. Starting the feed is not state: a
  // saved state or a replay is the same either way.
  // There is no way back: once started, every feed must be taken and
  // followed. FollowAlerts moves the records out of *feed.
  void StartAlertFeed();
  void TakeAlertFeed(AlertFeed* feed);
  void FollowAlerts(AlertFeed* feed);

  // --- Reads ----------------------------------------------------------------
  // Reads take the caller's `now` so that an order past its expiry reads as
  // EXPIRED even before a command has moved the engine's clock. They never
  // change state.

  absl::StatusOr<OfferView> GetOffer(uint64_t offer_id, Micros now) const;
  absl::StatusOr<PledgeView> GetPledge(uint64_t pledge_id, Micros now) const;

  // What stands between an open order and the other side of the book at
  // `now` (explain.cc): the open orders of the other side whose product it
  // takes (a pledge: its product's subtree; an offer: pledges of its
  // product or an ancestor), sorted by the tests of the matcher that they
  // fail (scope, price, grade, certification, lots, budget). NOT_FOUND for
  // an unknown id, FAILED_PRECONDITION naming the status for a closed one.
  // A read: it scans those orders, so it is not for the command path.
  absl::StatusOr<Explanation> ExplainPledge(uint64_t pledge_id,
                                            Micros now) const;
  absl::StatusOr<Explanation> ExplainOffer(uint64_t offer_id, Micros now) const;

  // Orders with id > after_id that pass `filter`, ascending by id, at most
  // `limit` of them. *more is set when further orders would pass.
  std::vector<OfferView> ListOffers(const OrderFilter& filter,
                                    uint64_t after_id, int limit, Micros now,
                                    bool* more) const;
  std::vector<PledgeView> ListPledges(const OrderFilter& filter,
                                      uint64_t after_id, int limit, Micros now,
                                      bool* more) const;
  std::vector<MatchView> ListMatches(const MatchFilter& filter,
                                     uint64_t after_match_id, int limit,
                                     bool* more) const;
  // How many items the lists above would show paged to the end (from
  // after_match_id, for matches). A scan of the filter's owner's ids, or of
  // every id when it names no owner: a read for a list's first page, not
  // for every page.
  uint64_t CountOffers(const OrderFilter& filter, Micros now) const;
  uint64_t CountPledges(const OrderFilter& filter, Micros now) const;
  uint64_t CountMatches(const MatchFilter& filter,
                        uint64_t after_match_id) const;
  // The log of match events: one per new match and one per status change
  // (ship, accept, decline, lapse, delivery at accept_by), in the order the
  // engine made them, numbered from 1 (event_id). The events with
  // event_id > after_event_id whose match passes `filter`, ascending, at
  // most `limit`, each with its match as of that event; *more is set when
  // further events would pass. filter.status, when set, is compared with
  // the status the event moved its match to.
  std::vector<MatchEventView> ListMatchEvents(const MatchFilter& filter,
                                              uint64_t after_event_id,
                                              int limit, bool* more) const;
  // The id of the event that made match `match_id`; 0 when there is no
  // such match (yet).
  uint64_t NewMatchEventId(uint64_t match_id) const;
  // One line per product code (as posted) with open orders at `now`,
  // ordered by product code. product_code_prefix matches whole segments.
  std::vector<BookLine> GetBook(std::string_view product_code_prefix,
                                Micros now) const;
  // The same lines, by product code, only those after after_code (all when
  // it is empty), at most `limit` of them (all when limit is 0); *more is
  // set when further lines would follow.
  std::vector<BookLine> GetBook(std::string_view product_code_prefix,
                                std::string_view after_code, int limit,
                                Micros now, bool* more) const;

  // Regions with code > after_code starting with code_prefix whose name
  // contains name_contains (ASCII letters compared without case, so a
  // pinyin name matches however it is capitalized; empty: any name), by
  // code. *total, when given, is set to how many regions pass the filters
  // on all pages.
  std::vector<Region> ListRegions(std::string_view code_prefix,
                                  std::string_view after_code, int limit,
                                  bool* more,
                                  std::string_view name_contains = "",
                                  int64_t* total = nullptr) const;
  // Catalogued products (catalogue.h) with code > after_code whose code is
  // code_prefix or under it (whole segments) and whose name contains
  // name_contains (ASCII letters without case), by code. While the
  // catalogue is open these are the products orders named, named by code.
  std::vector<Product> ListProducts(std::string_view code_prefix,
                                    std::string_view name_contains,
                                    std::string_view after_code, int limit,
                                    bool* more, int64_t* total = nullptr) const;
  // The catalogued product `code`, or nullopt.
  std::optional<Product> FindProduct(std::string_view code) const;
  // Whether no product was ever upserted (posts are then not checked
  // against the catalogue).
  bool CatalogueOpen() const;

  // Pairings after (after_east, after_west) where either code starts with
  // code_prefix, ordered by (east_code, west_code). *total, when given, is
  // set to how many pairings pass the filter on all pages.
  std::vector<Pairing> ListPairings(std::string_view code_prefix,
                                    std::string_view after_east,
                                    std::string_view after_west, int limit,
                                    bool* more, int64_t* total = nullptr) const;

  // API keys with key_id > after_key_id, ascending (secret hashes
  // included: the server authenticates against them; never show them).
  // *total, when given, is set to how many keys there are (revoked ones
  // included).
  std::vector<ApiKey> ListKeys(uint64_t after_key_id, int limit, bool* more,
                               int64_t* total = nullptr) const;

  // The registered buyer; NOT_FOUND for an unregistered buyer_id.
  absl::StatusOr<Buyer> GetBuyer(std::string_view buyer_id) const;
  // Registered buyers with buyer_id > after_buyer_id that pass `filter`, by
  // buyer_id, at most `limit`; *more when further ones would pass. *total,
  // when given, is set to how many pass `filter` on all pages.
  std::vector<Buyer> ListBuyers(const BuyerFilter& filter,
                                std::string_view after_buyer_id, int limit,
                                bool* more, int64_t* total = nullptr) const;
  // Purchases of one registered buyer (buyer_id) or of the members of one
  // alliance (alliance_id), exactly one of them set, in `year` (1..9999)
  // as counted in Asia/Shanghai (UTC+8): matched fen by the month of
  // matched_at, delivered fen, and the share of the annual target done.
  // INVALID_ARGUMENT for neither or both or a bad year, NOT_FOUND for an
  // unregistered buyer or an alliance without members.
  absl::StatusOr<BuyerProgress> GetBuyerProgress(std::string_view buyer_id,
                                                 std::string_view alliance_id,
                                                 int year) const;

  // Figures of the matches with query.from <= matched_at < query.to that
  // pass the query's filters and its parties' restriction, grouped by up
  // to kMaxStatsGroupBy distinct dimensions (none: the total only), rows
  // ordered by their keys. The matches are found from `from` by binary
  // search (match ids run in matched_at order), so a read costs the
  // matches in range, not all. INVALID_ARGUMENT naming group_by or from
  // for a bad query; OUT_OF_RANGE when a sum overflows 64 bits.
  absl::StatusOr<StatsView> GetStats(const StatsQuery& query) const;

  // --- State ---------------------------------------------------------------

  // The whole logical state (reference data, orders, matches, remembered
  // request_ids, clock) as canonical bytes: engines that applied the same
  // commands save identical bytes.
  std::string SaveState() const;
  // Loads bytes from SaveState into this engine, which must be new.
  // DATA_LOSS if the bytes are malformed; the engine is then unusable.
  absl::Status LoadState(std::string_view bytes);
  // A digest of SaveState(): equal for engines in the same state.
  uint64_t StateHash() const;
  // The digest StateHash gives for state bytes `state` (from SaveState).
  static uint64_t HashState(std::string_view state);

  // Rebuilds every derived index and total (the shelves, the book totals,
  // the expiry queue's live entries, the per-owner lists, the partner
  // index, the request memos) from the records and compares; INTERNAL
  // naming the first difference. Slow: for tests and fuzzers, after every
  // command.
  absl::Status CheckInvariants() const;

  // The largest match_id made so far (0 before the first).
  uint64_t last_match_id() const;
  // The largest event_id made so far (0 before the first match).
  uint64_t last_event_id() const;
  // Counts of all orders ever posted.
  uint64_t offer_count() const;
  uint64_t pledge_count() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace duijie

#endif  // DUIJIE_ENGINE_ENGINE_H_
