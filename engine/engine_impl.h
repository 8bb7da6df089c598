// Engine::Impl: the engine's state and the declarations shared by the
// files that implement it, one concept each:
//   engine.cc        Apply: the common opening of every command, ticks
//   orders.cc        posting, matching, filling and cancelling orders
//   views.cc         the read side: views, lists, the book
//   engine_state.cc  saving, loading and hashing the state
//   invariants.cc    CheckInvariants
// and the parts it is built from: reference_data.h (regions, pairings),
// product_tree.h, order_index.h (shelves and searches), book_totals.h,
// idempotency.h (request memos), expiry_queue.h. Internal: include
// engine/engine.h instead.
#ifndef DUIJIE_ENGINE_ENGINE_IMPL_H_
#define DUIJIE_ENGINE_ENGINE_IMPL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/optimization.h"
#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "engine/alert_feed.h"
#include "engine/alerts.h"
#include "engine/api_keys.h"
#include "engine/book_totals.h"
#include "engine/buyers.h"
#include "engine/catalogue.h"
#include "engine/command.h"
#include "engine/engine.h"
#include "engine/expiry_queue.h"
#include "engine/idempotency.h"
#include "engine/interner.h"
#include "engine/order_index.h"
#include "engine/product_tree.h"
#include "engine/records.h"
#include "engine/reference_data.h"

namespace duijie {

class Violations;  // violations.h

// Order or match ids in ascending order.
using IdList = absl::InlinedVector<uint64_t, 2>;

class Engine::Impl {
 public:
  explicit Impl(const EngineOptions& options);

  // `journaled`: the command comes from the journal (Engine::Replay), and
  // CheckCommandText is skipped.
  absl::StatusOr<CommandResult> Apply(const Command& command,
                                      bool journaled = false);
  absl::Status Validate(const Command& command, Micros now) const;
  bool TickMayReopen(Micros now) const;

  // Reads (views.cc).
  absl::StatusOr<OfferView> GetOffer(uint64_t id, Micros now) const;
  absl::StatusOr<PledgeView> GetPledge(uint64_t id, Micros now) const;
  std::vector<OfferView> ListOffers(const OrderFilter& filter,
                                    uint64_t after_id, int limit, Micros now,
                                    bool* more) const;
  std::vector<PledgeView> ListPledges(const OrderFilter& filter,
                                      uint64_t after_id, int limit, Micros now,
                                      bool* more) const;
  std::vector<MatchView> ListMatches(const MatchFilter& filter,
                                     uint64_t after_id, int limit,
                                     bool* more) const;
  uint64_t CountOffers(const OrderFilter& filter, Micros now) const;
  uint64_t CountPledges(const OrderFilter& filter, Micros now) const;
  uint64_t CountMatches(const MatchFilter& filter, uint64_t after_id) const;
  std::vector<MatchEventView> ListMatchEvents(const MatchFilter& filter,
                                              uint64_t after_event_id,
                                              int limit, bool* more) const;
  uint64_t NewMatchEventId(uint64_t match_id) const;
  std::vector<BookLine> GetBook(std::string_view prefix,
                                std::string_view after_code, int limit,
                                Micros now, bool* more) const;
  // explain.cc.
  absl::StatusOr<Explanation> ExplainPledge(uint64_t id, Micros now) const;
  absl::StatusOr<Explanation> ExplainOffer(uint64_t id, Micros now) const;
  const ReferenceData& reference() const { return reference_; }
  const KeyRegistry& keys() const { return keys_; }
  const BuyerRegistry& buyers() const { return buyers_; }
  absl::StatusOr<BuyerProgress> GetBuyerProgress(std::string_view buyer_id,
                                                 std::string_view alliance_id,
                                                 int year) const;
  // Figures of matches (stats.cc).
  absl::StatusOr<StatsView> GetStats(const StatsQuery& query) const;

  // State (engine_state.cc).
  std::string SaveState() const;
  absl::Status LoadState(std::string_view bytes);
  // invariants.cc.
  absl::Status CheckInvariants() const;

  Micros now() const { return now_; }
  Micros NextClearingAt() const;
  std::vector<ClearingPolicyResult> ClearingPolicies() const;
  // The next clearing of the products under `product` (0: continuous).
  Micros NextClearingOf(uint32_t product) const;
  uint64_t last_match_id() const { return matches_.size(); }
  uint64_t last_event_id() const { return events_.size(); }
  uint64_t offer_count() const { return offers_.size(); }
  uint64_t pledge_count() const { return pledges_.size(); }
  const AlertMonitor& alerts() const { return alerts_; }
  AlertMonitor& mutable_alerts() { return alerts_; }
  // The thresholds as the commands so far set them: the monitor's, or
  // (feeding) fed_thresholds_, since the follower may be behind.
  AlertThresholds AlertThresholdsOf(std::string_view category) const {
    return alert_feed_ == nullptr
               ? alerts_.ThresholdsOf(category)
               : AlertMonitor::ThresholdsIn(fed_thresholds_, category);
  }
  std::vector<AlertThresholds> ListAlertThresholds() const {
    if (alert_feed_ == nullptr) return alerts_.ListThresholds();
    std::vector<AlertThresholds> out;
    for (const auto& [category, t] : fed_thresholds_) out.push_back(t);
    return out;
  }
  // See Engine::StartAlertFeed and TakeAlertFeed.
  void StartAlertFeed() {
    if (alert_feed_ != nullptr) return;
    for (const AlertThresholds& t : alerts_.ListThresholds()) {
      fed_thresholds_[t.category] = t;
    }
    alerts_.StartFollowing();
    alert_feed_ = std::make_unique<AlertFeed>();
    fed_products_ = products_.size();
  }
  void TakeAlertFeed(AlertFeed* feed) {
    feed->clear();
    if (alert_feed_ != nullptr) std::swap(*feed, *alert_feed_);
  }
  const ProductCatalogue& catalogue() const { return catalogue_; }

 private:
  // --- Commands: Check validates a body as it would run at `now` without
  // changing anything; Execute runs a body that passed Check at now_.
  // (engine.cc: tick and reference data; orders.cc: orders.)
  absl::Status Check(const TickCommand&, Micros) const {
    return absl::OkStatus();
  }
  absl::Status Check(const UpsertRegionCommand& c, Micros now) const;
  absl::Status Check(const UpsertPairingCommand& c, Micros now) const;
  absl::Status Check(const DeletePairingCommand& c, Micros now) const;
  absl::Status Check(const PostOfferCommand& c, Micros now) const;
  absl::Status Check(const PostPledgeCommand& c, Micros now) const;
  absl::Status Check(const CancelOfferCommand& c, Micros now) const;
  absl::Status Check(const CancelPledgeCommand& c, Micros now) const;
  absl::Status Check(const CreateKeyCommand& c, Micros now) const;
  absl::Status Check(const RevokeKeyCommand& c, Micros now) const;
  absl::Status Check(const ShipMatchCommand& c, Micros now) const;
  absl::Status Check(const AcceptMatchCommand& c, Micros now) const;
  absl::Status Check(const DeclineMatchCommand& c, Micros now) const;
  absl::Status Check(const UpsertBuyerCommand& c, Micros now) const;
  absl::Status Check(const AmendOfferCommand& c, Micros now) const;
  absl::Status Check(const AmendPledgeCommand& c, Micros now) const;
  absl::Status Check(const SetClearingPolicyCommand& c, Micros now) const;
  absl::Status Check(const ClearCommand& c, Micros now) const;
  absl::Status Check(const SetAlertThresholdsCommand& c, Micros now) const;
  absl::Status Check(const UpsertProductCommand& c, Micros now) const;
  RegionResult Execute(const UpsertRegionCommand& c);
  PairingResult Execute(const UpsertPairingCommand& c);
  PairingResult Execute(const DeletePairingCommand& c);
  OfferResult Execute(const PostOfferCommand& c);
  PledgeResult Execute(const PostPledgeCommand& c);
  OfferResult Execute(const CancelOfferCommand& c);
  PledgeResult Execute(const CancelPledgeCommand& c);
  KeyResult Execute(const CreateKeyCommand& c);
  KeyResult Execute(const RevokeKeyCommand& c);
  MatchResult Execute(const ShipMatchCommand& c);
  MatchResult Execute(const AcceptMatchCommand& c);
  MatchResult Execute(const DeclineMatchCommand& c);
  BuyerResult Execute(const UpsertBuyerCommand& c);
  ClearingPolicyResult Execute(const SetClearingPolicyCommand& c);
  ClearResult Execute(const ClearCommand& c);
  AlertThresholdsResult Execute(const SetAlertThresholdsCommand& c);
  ProductResult Execute(const UpsertProductCommand& c);
  // A pledge's buyer city and kind: as given, or the registered buyer's
  // when left empty (0); INVALID_ARGUMENT when a given one disagrees with
  // the registry. Unregistered buyers must give both (Check's range checks
  // then refuse what is missing).
  absl::Status ResolveBuyer(const PledgeSpec& spec,
                            const std::string** city_code, int* kind) const;
  // A pledge's members: none, or registered buyers of the alliance named
  // by the pledge's buyer_id, none twice, at most kMaxPledgeMembers, shares
  // 1..1000 summing to 1000. INVALID_ARGUMENT naming the field otherwise.
  absl::Status CheckMembers(const PledgeSpec& spec) const;
  // Records one match of `q` kg at `price` for the offer and pledge (for
  // `member`, interned, or kNoText), with its deadline and owner lists.
  void AddMatch(uint64_t offer_id, uint64_t pledge_id, int64_t q, int64_t price,
                bool partner, uint32_t member);
  OfferResult Execute(const AmendOfferCommand& c);
  PledgeResult Execute(const AmendPledgeCommand& c);

  // --- Authorisation (authorization.cc): whether `caller` may send `body`
  // at `at` (>= now_; later when a tick to `at` is still to come)
  // (PERMISSION_DENIED, or NOT_FOUND for another's pledge), and the
  // admission limits (RESOURCE_EXHAUSTED). Runs before everything else,
  // the request_id memo included.
  absl::Status Authorize(const Caller& caller, const CommandBody& body,
                         Micros at) const;

  // Moves the clock to `now` (never back) and retires expired orders.
  TickResult Tick(Micros now);
  // The first answer of a repeated request_id, rebuilt from its memo.
  CommandResult Repeat(const RequestMemo& memo) const;

  // --- The book (orders.cc) ------------------------------------------------
  // An order starts resting (index, book totals, expiry queue) or stops
  // (index and book totals; its expiry entry is left for the clock to skip).
  // Once each per order, except a pledge that kilograms reopen
  // (ReturnToPledge), which drops its old expiry entry before resting again.
  void Rest(bool offer, uint64_t id);
  void Close(bool offer, uint64_t id, OrderStatus status);
  // Fills the largest allowed quantity between the two at `price` and
  // closes whichever side is done. The resting side is the indexed one.
  // `q` > 0: fills exactly q kg instead, which the caller has checked
  // against the lots and the budget (a clearing's ClearingQuantity).
  void Fill(uint64_t offer_id, uint64_t pledge_id, int64_t price, bool partner,
            bool incoming_pledge, int64_t q = 0);
  // Matches order `id`, which is on no shelf, as the incoming order until
  // nothing more fits; the matches go to the end of matches_. An order
  // under a batch clearing policy that can wait for the next clearing
  // (HeldForClearing) does not match. `at_floor`: every fill is priced at
  // the offer's floor (a clearing's price) instead of the resting order's.
  void MatchIncoming(bool offer, uint64_t id, bool at_floor = false);
  // Offers of `region` resting on a shelf that no longer matches its
  // priority flag move to the right one.
  void Rerank(int32_t region);
  // (expires_at, tag) of every resting order: the tag is id * 2 + is_offer,
  // so (expires_at, tag) order is (expires_at, id, is_offer) order.
  static uint64_t ExpiryTag(uint64_t id, bool is_offer) {
    return id << 1 | uint64_t{is_offer};
  }
  // Whether an expiry entry's order still rests (an entry is left behind
  // when its order is cancelled or filled; see expiry_queue.h).
  bool ExpiryLive(uint64_t tag) const {
    const uint64_t id = tag >> 1;
    return (tag & 1) ? offers_[id - 1].status == OrderStatus::kOpen
                     : pledges_[id - 1].status == OrderStatus::kOpen;
  }

  // --- After the match (matches.cc)
  // Gives `kg` of match `match_id` back to its pledge when it can still
  // take them, and lets it match again at once. Returns whether it did.
  bool ReturnToPledge(uint64_t match_id, int64_t kg);
  // Appends the event of match `match_id` reaching its current status, at
  // now_ (a new match's, or see StatusChanged).
  void LogMatchEvent(uint64_t match_id);
  // After match `match_id` moved to its current status: logs the event,
  // then gives the `freed_kg` the step freed back to the pledge (the
  // matches they make come after the event) and records whether they went.
  void StatusChanged(uint64_t match_id, int64_t freed_kg);
  // An empty string when events_ is a log that leads from nothing to the
  // matches as they are (one new-match event per match in id order, legal
  // transitions, times and returned kg that agree with the records); else
  // what is wrong. LoadState and CheckInvariants ask.
  std::string CheckMatchEvents() const;
  // The match's status as a tick to `now` would leave it.
  static MatchStatus EffectiveMatchStatus(const MatchRecord& m, Micros now);
  // NOT_FOUND, or FAILED_PRECONDITION unless the match is `required` at
  // `now` (`action`: "shipped" etc., for the message).
  absl::Status CheckMatchIn(uint64_t match_id, MatchStatus required,
                            std::string_view action, Micros now) const;
  MatchResult MatchAnswer(uint64_t match_id, uint64_t first_new_match) const;
  // Queues the deadline that applies to the match's status, if any.
  void AddDeadlines(uint64_t match_id);
  // Lapses and delivers the matches whose deadline is <= now_.
  void PassDeadlines(TickResult* result);

  // --- Batch clearing (clearing.cc)
  struct ClearingPolicy {
    Micros interval = 0;  // > 0
    Micros next_at =
        0;  // the next multiple of interval after the last clearing
  };
  // The policy of the products under `product` (its longest prefix), or
  // null: continuous.
  const std::pair<const std::string, ClearingPolicy>* PolicyOf(
      uint32_t product) const;
  // Whether order `id` rests without matching until a clearing: its
  // product is under a batch policy and it expires after the next one.
  bool HeldForClearing(bool offer, uint64_t id) const;
  // One clearing of the policy of `prefix`: trades its resting pledges and
  // its offers that expire at or before `horizon` (see clearing.cc).
  void ClearPolicy(const std::string& prefix, Micros horizon);
  // Fills `q` kg (allowed by the lots and the budget) between two resting
  // orders at the offer's floor.
  void FillResting(uint64_t offer_id, uint64_t pledge_id, int64_t q,
                   bool partner);
  // Takes resting order `id` off its shelves, matches it as the incoming
  // order at the offer's floor, and puts what is left back.
  void Rematch(bool offer, uint64_t id);

  // --- Standing pledges (standing.cc)
  // Starts the periods of standing pledges that began at or before now_:
  // each refills and matches at once.
  void StartPeriods(TickResult* result);
  // Closes the current period of standing pledge `id` and opens the one
  // starting at `start`.
  void StartPeriod(uint64_t id, Micros start);
  // Null for a one-off pledge.
  const StandingRecord* Standing(uint64_t pledge_id) const {
    auto it = standing_.find(pledge_id);
    return it == standing_.end() ? nullptr : &it->second;
  }
  // Whether match `m` counts in its pledge's current figures: every match
  // of a one-off pledge, those of the current period of a standing one.
  bool InCurrentPeriod(const MatchRecord& m) const {
    if (!pledges_[m.pledge_id - 1].standing) return true;
    return m.matched_at >= standing_.at(m.pledge_id).current_start;
  }
  // Queues the start of standing pledge `id`'s next period.
  void QueueNextPeriod(uint64_t id);
  // Adds to `v` what is wrong with the recurrence of pledge `spec` (it
  // must be none or well formed).
  static void CheckRecurrence(const PledgeSpec& spec, Micros now,
                              Violations* v);
  // The periods of standing pledge `id` with their figures.
  std::vector<PledgePeriodView> PeriodViews(uint64_t id) const;
  // Deadline queue tags: match id * 2, + 1 for accept_by (ship_by: + 0).
  static uint64_t DeadlineTag(uint64_t match_id, bool accept) {
    return match_id << 1 | uint64_t{accept};
  }
  bool DeadlineLive(uint64_t tag) const;

  // --- Views (views.cc)
  // ---------------------------------------------------------
  OfferView MakeOfferView(uint64_t id, Micros now) const;
  PledgeView MakePledgeView(uint64_t id, Micros now) const;
  MatchView MakeMatchView(uint64_t id) const;
  // Event events_[index] with its match as of that event.
  MatchEventView MakeMatchEventView(uint64_t index) const;
  std::vector<MatchView> MatchRange(uint64_t first, uint32_t count) const;
  // The filter's product prefix as a ProductTree index, found once per
  // list or count: `product` below.
  uint32_t FilterProduct(const OrderFilter& f) const;
  bool ProductPasses(uint32_t product, uint32_t filter) const;
  bool OfferPasses(const OfferRecord& o, const OrderFilter& f, uint32_t product,
                   Micros now) const;
  bool PledgePasses(const PledgeRecord& p, const OrderFilter& f,
                    uint32_t product, Micros now) const;
  bool MatchPasses(const MatchRecord& m, const MatchFilter& f) const;
  // The sorted ids of the filter's owner (supplier, buyer; for matches
  // also the owner of the filter's offer or pledge) to walk instead of
  // every id; nullptr when the filter names none.
  const IdList* OwnedOffers(const OrderFilter& filter) const;
  const IdList* OwnedPledges(const OrderFilter& filter) const;
  const IdList* OwnedMatches(const MatchFilter& filter) const;
  // Adds the buyer's matched and delivered fen in `year` (Asia/Shanghai) to
  // *progress, by month; OUT_OF_RANGE if a sum overflows.
  absl::Status AddBuyerProgress(std::string_view buyer_id, int year,
                                BuyerProgress* progress) const;

  const EngineOptions options_;
  Micros now_ = 0;
  // Whether the command being applied comes from the journal: rules added
  // after journals were written are not applied to it (see Replay).
  bool replaying_ = false;
  Interner strings_;
  ProductTree products_{&strings_};
  // What posts may name; products_ is its part catalogued from orders.
  ProductCatalogue catalogue_{&products_};
  ReferenceData reference_{&strings_};

  OfferRecords offers_;               // offer id - 1
  PledgeRecords pledges_;             // pledge id - 1
  std::vector<MatchRecord> matches_;  // match id - 1
  // The log of match events, event id - 1: appended on every new match
  // and status change, never changed after but for the returned flag of
  // the event being made. Saved with version 3 states; derived for older
  // ones, which hold one new-match event per match.
  std::vector<MatchEventRecord> events_;
  // The last queue sequence number given to an offer and to a pledge
  // (OfferRecord::seq): one per posting and one per amendment that sends an
  // order to the back. Equal to the order count until the first such
  // amendment; saved only after one (engine_state.cc).
  uint64_t offer_seq_ = 0;
  uint64_t pledge_seq_ = 0;

  BookTotals books_;
  OrderIndex index_{&offers_, &pledges_, &products_, &books_};
  // Every resting order's expiry (and some that left early, until their
  // time): what a tick retires, and what a read at a later time leaves out.
  ExpiryQueue expiries_;
  // Every MATCHED match's ship_by and every SHIPPED match's accept_by
  // (DeadlineTag), left behind like expiries when the status moves on.
  ExpiryQueue deadlines_;

  // Ids in posting order, per owner (interned string). Many owners post
  // once or twice: two ids fit in the list itself, as small as a vector,
  // so their first posts allocate nothing.
  absl::flat_hash_map<uint32_t, IdList> offers_by_supplier_;
  absl::flat_hash_map<uint32_t, IdList> pledges_by_buyer_;
  absl::flat_hash_map<uint32_t, IdList> matches_by_supplier_;
  // A match for an alliance member is listed under both the pledge's buyer
  // (the alliance, which sees its pledge's matches) and the member.
  absl::flat_hash_map<uint32_t, IdList> matches_by_buyer_;
  // The members of each pledge that has them (PledgeRecord::has_members),
  // by buyer_id, by pledge id. Few pledges have members, so a side table
  // keeps PledgeRecord small.
  absl::flat_hash_map<uint64_t, std::vector<PledgeMember>> pledge_members_;
  // Resting orders per owner, indexed by the owner's interned string id
  // (dense), for the open-order limit; grown as owners appear.
  std::vector<uint32_t> open_offers_by_supplier_;
  std::vector<uint32_t> open_pledges_by_buyer_;
  static void CountOpen(std::vector<uint32_t>& counts, uint32_t owner,
                        int delta) {
    if (owner >= counts.size()) counts.resize(owner + 1, 0);
    counts[owner] += delta;
  }

  KeyRegistry keys_;
  BuyerRegistry buyers_;

  // Standing pledges by pledge id, and when each one's next period starts
  // (tag: the pledge id), left behind like expiries when it ends early.
  absl::btree_map<uint64_t, StandingRecord> standing_;
  ExpiryQueue period_starts_;

  // Batch clearing policies by product prefix; none: continuous matching
  // everywhere (the default), and no cost on the matching path.
  absl::btree_map<std::string, ClearingPolicy> clearing_;

  RequestMemory requests_;

  // Glut alerts, fed by the book's events next to books_ and evaluated at
  // the end of every command (alerts.h): called directly, or, once the
  // feed is started, recorded in it for a monitor that follows on another
  // thread (alert_feed.h). The calls go through these, each of which
  // judges at once or (feeding) records the call out of line (engine.cc),
  // keeping the matching path's code as it was.
  void AlertsOfferIn(uint64_t id) {
    if (ABSL_PREDICT_FALSE(alert_feed_ != nullptr)) return FeedOfferIn(id);
    alerts_.OfferIn(id, now_);
  }
  void AlertsOfferOut(uint64_t id) {
    if (ABSL_PREDICT_FALSE(alert_feed_ != nullptr)) {
      return Feed(AlertFeed::Op::kOfferOut, id, 0);
    }
    alerts_.OfferOut(id);
  }
  void AlertsOfferFilled(uint64_t id, int64_t kg) {
    if (ABSL_PREDICT_FALSE(alert_feed_ != nullptr)) {
      return Feed(AlertFeed::Op::kOfferFilled, id, kg);
    }
    alerts_.OfferFilled(id, kg);
  }
  void AlertsPledgeIn(uint64_t id) {
    if (ABSL_PREDICT_FALSE(alert_feed_ != nullptr)) return FeedPledgeIn(id);
    alerts_.PledgeIn(id);
  }
  void AlertsPledgeOut(uint64_t id) {
    if (ABSL_PREDICT_FALSE(alert_feed_ != nullptr)) {
      return Feed(AlertFeed::Op::kPledgeOut, id, 0);
    }
    alerts_.PledgeOut(id);
  }
  void AlertsPledgeFilled(uint64_t id, int64_t kg) {
    if (ABSL_PREDICT_FALSE(alert_feed_ != nullptr)) {
      return Feed(AlertFeed::Op::kPledgeFilled, id, kg);
    }
    alerts_.PledgeFilled(id, kg);
  }
  void AlertsTick() {
    if (ABSL_PREDICT_FALSE(alert_feed_ != nullptr)) {
      return Feed(AlertFeed::Op::kTick, 0, now_);
    }
    alerts_.Tick(now_);
  }
  void AlertsEvaluate() {
    if (ABSL_PREDICT_FALSE(alert_feed_ != nullptr)) {
      return Feed(AlertFeed::Op::kEvaluate, 0, now_);
    }
    alerts_.Evaluate(now_);
  }
  void FeedOfferIn(uint64_t id);
  void FeedPledgeIn(uint64_t id);
  void Feed(AlertFeed::Op op, uint64_t id, int64_t value);
  // Products interned since the last order fed, in index order: the
  // follower interns them before the order that names one.
  void FeedProducts();
  AlertMonitor alerts_{&offers_, &pledges_, &products_, &reference_, &strings_};
  std::unique_ptr<AlertFeed> alert_feed_;  // null: alerts judged here
  size_t fed_products_ = 0;
  // While feeding: the thresholds by category as the commands set them.
  std::map<std::string, AlertThresholds> fed_thresholds_;
};

}  // namespace duijie

#endif  // DUIJIE_ENGINE_ENGINE_IMPL_H_
