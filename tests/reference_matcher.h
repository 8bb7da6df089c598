// ReferenceMatcher: a deliberately simple, obviously-correct model of the
// duijie matching rules, used by differential_test to cross-check Engine.
//
// The commands of duijie::Engine (one method each, the engine's command
// bodies unpacked) and its value types, but nothing clever: orders live in
// deques, every incoming order scans every resting order of the other side,
// filters by the compatibility rules, sorts by the priority rules, fills the
// first fillable candidate and starts over until nothing fits. It shares no
// code with the engine (its own code parsing, its own validation) so that
// agreement means something. Speed is irrelevant.
//
// Rejections carry the same status codes as the engine; messages name the
// field but need not match the engine's wording.
//
// API keys are a plain vector; a command with a caller is authorised first
// by the rules of roles and the open-order limit, written out again here.
#ifndef DUIJIE_TESTS_REFERENCE_MATCHER_H_
#define DUIJIE_TESTS_REFERENCE_MATCHER_H_

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/command.h"
#include "engine/types.h"

namespace duijie {

// What every command of the reference carries (its own, not the engine's
// Command): `now` moves the clock first, as the engine's TickAndApply does;
// a non-empty request_id with an equal fingerprint is a repeat.
struct ReferenceContext {
  Micros now = 0;
  std::string_view request_id;  // empty: no idempotency
  uint64_t fingerprint = 0;
  // Who sent it; null: trusted, nothing is authorised or limited.
  const Principal* caller = nullptr;
  // Open orders of one side a caller's party may have; 0: no limit.
  uint64_t max_open_orders = 0;
};

// What an amendment changes; an unset field stays as it was.
struct OfferAmendment {
  std::optional<int64_t> quantity_kg;
  std::optional<int64_t> floor_price_fen_per_kg;
  std::optional<int64_t> min_lot_kg;
  std::optional<Micros> expires_at;
  std::optional<Micros> ship_within;
};
struct PledgeAmendment {
  std::optional<int64_t> quantity_kg;
  std::optional<int64_t> max_price_fen_per_kg;
  std::optional<int64_t> budget_fen;
  std::optional<int64_t> min_lot_kg;
  std::optional<Micros> expires_at;
  // Scope and listed regions are set together.
  std::optional<int> scope;
  std::vector<std::string> region_codes;
  std::optional<Micros> accept_within;
};

// The amendment an engine command carries (its presence flags as
// optionals), for the harnesses that feed both.
inline OfferAmendment AmendmentOf(const AmendOfferCommand& c) {
  OfferAmendment a;
  if (c.has_quantity_kg) a.quantity_kg = c.quantity_kg;
  if (c.has_floor_price) a.floor_price_fen_per_kg = c.floor_price_fen_per_kg;
  if (c.has_min_lot) a.min_lot_kg = c.min_lot_kg;
  if (c.has_expires_at) a.expires_at = c.expires_at;
  if (c.has_ship_within) a.ship_within = c.ship_within;
  return a;
}
inline PledgeAmendment AmendmentOf(const AmendPledgeCommand& c) {
  PledgeAmendment a;
  if (c.has_quantity_kg) a.quantity_kg = c.quantity_kg;
  if (c.has_max_price) a.max_price_fen_per_kg = c.max_price_fen_per_kg;
  if (c.has_budget) a.budget_fen = c.budget_fen;
  if (c.has_min_lot) a.min_lot_kg = c.min_lot_kg;
  if (c.has_expires_at) a.expires_at = c.expires_at;
  if (c.has_scope) a.scope = c.scope;
  a.region_codes = c.region_codes;
  if (c.has_accept_within) a.accept_within = c.accept_within;
  return a;
}

// The order in which an incoming order tries the resting ones it is
// compatible with. kEngine: the engine's priority rules. kFifo: plain
// first-come-first-served, the earliest in the queue first whatever its
// region, expiry or price (the baseline of the allocation simulator,
// tools/sim); compatibility, lots and budgets as ever.
enum class QueueOrder { kEngine, kFifo };

class ReferenceMatcher {
 public:
  explicit ReferenceMatcher(QueueOrder order = QueueOrder::kEngine)
      : order_(order) {}
  ReferenceMatcher(const ReferenceMatcher&) = delete;
  ReferenceMatcher& operator=(const ReferenceMatcher&) = delete;

  absl::StatusOr<RegionResult> UpsertRegion(const ReferenceContext& ctx,
                                            const Region& region);
  absl::StatusOr<PairingResult> UpsertPairing(const ReferenceContext& ctx,
                                              const Pairing& pairing);
  absl::StatusOr<PairingResult> DeletePairing(const ReferenceContext& ctx,
                                              std::string_view east_code,
                                              std::string_view west_code);
  absl::StatusOr<OfferResult> PostOffer(const ReferenceContext& ctx,
                                        const OfferSpec& spec);
  absl::StatusOr<PledgeResult> PostPledge(const ReferenceContext& ctx,
                                          const PledgeSpec& spec);
  absl::StatusOr<OfferResult> CancelOffer(const ReferenceContext& ctx,
                                          uint64_t offer_id);
  absl::StatusOr<PledgeResult> CancelPledge(const ReferenceContext& ctx,
                                            uint64_t pledge_id);
  // Amendments: only an open order; the whole order as it would stand is
  // validated; worse terms for the other side (more kg, a higher floor, a
  // lower max price, a smaller budget, a narrower scope) send it to the
  // back of its queue; then it matches as the incoming order.
  absl::StatusOr<OfferResult> AmendOffer(const ReferenceContext& ctx,
                                         uint64_t offer_id,
                                         const OfferAmendment& a);
  absl::StatusOr<PledgeResult> AmendPledge(const ReferenceContext& ctx,
                                           uint64_t pledge_id,
                                           const PledgeAmendment& a);
  absl::StatusOr<KeyResult> CreateKey(const ReferenceContext& ctx,
                                      const Principal& principal,
                                      const std::string& secret_sha256,
                                      Micros expires_at);
  absl::StatusOr<KeyResult> RevokeKey(const ReferenceContext& ctx,
                                      uint64_t key_id);
  // The match lifecycle: shipped_kg / accepted_kg 0 mean all.
  absl::StatusOr<MatchResult> ShipMatch(const ReferenceContext& ctx,
                                        uint64_t match_id, int64_t shipped_kg,
                                        const std::string& note);
  absl::StatusOr<MatchResult> AcceptMatch(const ReferenceContext& ctx,
                                          uint64_t match_id,
                                          int64_t accepted_kg);
  absl::StatusOr<MatchResult> DeclineMatch(const ReferenceContext& ctx,
                                           uint64_t match_id,
                                           const std::string& reason);
  // Registers or replaces a buyer; its later pledges may leave city and
  // kind empty (the registry's are used) but may not contradict them.
  // Batch clearing, as clearing.cc describes it; the flow itself is the
  // engine's SolveClearingFlow (tested against brute force on its own), the
  // rest (who is urgent, the candidates, the costs, carrying the flow out,
  // the rematch) is written out again here.
  absl::StatusOr<ClearingPolicyResult> SetClearingPolicy(
      const ReferenceContext& ctx, const std::string& prefix, Micros interval);
  absl::StatusOr<ClearResult> Clear(const ReferenceContext& ctx);
  // Glut alert thresholds: validated, remembered and answered as the engine
  // does; the reference raises no alerts (alerts change no match).
  absl::StatusOr<AlertThresholdsResult> SetAlertThresholds(
      const ReferenceContext& ctx, const AlertThresholds& thresholds);
  // The product catalogue, written out again: open (every post accepted,
  // what it names catalogued) until the first accepted UpsertProduct;
  // then a post names a catalogued product (an offer one with nothing
  // catalogued under it), checked after everything else.
  absl::StatusOr<ProductResult> UpsertProduct(const ReferenceContext& ctx,
                                              const Product& product);
  // The earliest next clearing; the largest Micros when there is none.
  Micros NextClearingAt() const {
    Micros next = std::numeric_limits<Micros>::max();
    for (const auto& [prefix, policy] : clearing_) {
      next = std::min(next, policy.second);
    }
    return next;
  }
  absl::StatusOr<BuyerResult> UpsertBuyer(const ReferenceContext& ctx,
                                          const Buyer& buyer);

  // Clock never goes back; open orders with expires_at <= clock expire;
  // then MATCHED matches with ship_by <= clock lapse (their kg go back to
  // the pledge) and SHIPPED ones with accept_by <= clock are delivered, in
  // (deadline, match id, ship before accept) order.
  void AdvanceClock(Micros now);
  Micros now() const { return clock_; }

  // Reads: an open order with expires_at <= now reads as EXPIRED.
  absl::StatusOr<OfferView> GetOffer(uint64_t offer_id, Micros now) const;
  absl::StatusOr<PledgeView> GetPledge(uint64_t pledge_id, Micros now) const;

  // Every match made so far, by match_id.
  std::vector<MatchView> AllMatches() const;
  uint64_t last_match_id() const { return matches_.size(); }
  // Match `id` (1..last_match_id()).
  const MatchView& match(uint64_t id) const { return matches_[id - 1]; }
  uint64_t offer_count() const { return offers_.size(); }
  uint64_t pledge_count() const { return pledges_.size(); }
  // Every key, by key_id.
  const std::vector<ApiKey>& keys() const { return keys_; }
  // Every registered buyer, by buyer_id.
  const std::map<std::string, Buyer, std::less<>>& buyers() const {
    return buyers_;
  }

 private:
  struct Offer {
    uint64_t id = 0;
    OfferSpec spec;
    int64_t remaining_kg = 0;
    OrderStatus status = OrderStatus::kOpen;
    Micros posted_at = 0;
    // Place in the queue among otherwise equal offers: smaller first.
    uint64_t seq = 0;
    Micros ship_within = 0;
  };
  struct Pledge {
    uint64_t id = 0;
    PledgeSpec spec;
    int64_t remaining_kg = 0;
    int64_t spent_fen = 0;
    OrderStatus status = OrderStatus::kOpen;
    Micros posted_at = 0;
    uint64_t seq = 0;
    Micros accept_within = 0;
    // A standing pledge's current period start and the periods that ended
    // (start, pledged_kg and budget_fen only).
    Micros current_start = 0;
    std::vector<PledgePeriodView> closed;
  };
  struct Remembered {
    uint64_t fingerprint = 0;
    std::variant<RegionResult, PairingResult, OfferResult, PledgeResult,
                 KeyResult, MatchResult, BuyerResult, ClearingPolicyResult,
                 ClearResult, AlertThresholdsResult, ProductResult>
        result;
  };
  using Access = std::function<absl::Status()>;

  // Advances the clock, refuses a control character in `text` (the
  // command's ids, codes and names) or the request_id, then (for a command
  // with a caller) asks `access`, then checks request_id. Returns OK with
  // *replay set when the request is a repeat; an error for bad text, a
  // refused caller, a conflict or a bad request_id.
  absl::Status Begin(const ReferenceContext& ctx,
                     const std::vector<std::string_view>& text,
                     const Access& access, const Remembered** replay);
  // The rules of roles for each kind of command (see Begin).
  static absl::Status AdminOnly(const ReferenceContext& ctx);
  absl::Status MayPost(const ReferenceContext& ctx, bool offer,
                       const std::string& party) const;
  absl::Status MayCancel(const ReferenceContext& ctx, bool offer,
                         uint64_t id) const;
  template <typename R>
  absl::StatusOr<R> Replay(const Remembered& r);
  template <typename R>
  void Remember(const ReferenceContext& ctx, const R& result);
  absl::StatusOr<KeyResult> ReplayKey(const Remembered& r);
  // The match commands share: the caller's side, then the request_id,
  // then the match's status; `run` changes the match.
  absl::StatusOr<MatchResult> MatchCommand(
      const ReferenceContext& ctx, uint64_t match_id, bool supplier_side,
      MatchStatus required, std::vector<std::string_view> text,
      const std::function<absl::Status(MatchView&)>& check,
      const std::function<void(MatchView&)>& run);
  // Gives kg of match `id` back to its pledge if it can take them.
  void ReturnToPledge(uint64_t match_id, int64_t kg);
  std::deque<std::string> texts_;  // notes and reasons the views point to
  // PostPledge after its city and kind are resolved against the registry.
  absl::StatusOr<PledgeResult> PostResolvedPledge(const ReferenceContext& ctx,
                                                  const PledgeSpec& spec);

  bool KnownRegion(std::string_view code) const;
  bool Partner(std::string_view region, std::string_view city) const;
  bool Priority(const Offer& o) const;  // key-assisted or relocation site
  bool Compatible(const Offer& o, const Pledge& p) const;
  // Largest allowed fill at `price`, or 0 if none.
  static int64_t FillQuantity(const Offer& o, const Pledge& p, int64_t price);
  // Appends the fill's matches to *out: one, or one per member with a part
  // for an alliance pledge.
  void Fill(Offer& o, Pledge& p, int64_t q, int64_t price,
            std::vector<MatchView>* out);
  // `at_floor`: a clearing's rematch, which is never held and trades at
  // the offer's floor.
  std::vector<MatchView> MatchIncomingPledge(Pledge& p, bool at_floor = false);
  std::vector<MatchView> MatchIncomingOffer(Offer& o, bool at_floor = false);
  // The clearing policy (interval, next clearing) of a product code's
  // longest prefix, or null.
  const std::pair<const std::string, std::pair<Micros, Micros>>* PolicyOf(
      const std::string& product) const;
  bool Held(const std::string& product, Micros expires_at) const;
  void ClearPolicy(const std::string& prefix, Micros horizon);

  static OfferView ViewOf(const Offer& o);
  static PledgeView ViewOf(const Pledge& p);

  const QueueOrder order_;
  Micros clock_ = 0;
  // Batch clearing policies: prefix -> (interval, next clearing).
  std::map<std::string, std::pair<Micros, Micros>> clearing_;
  // Alert thresholds set, by category.
  std::map<std::string, AlertThresholds> alert_thresholds_;
  // Upserted products by code, and every code (with its ancestors) an
  // accepted post named.
  std::map<std::string, Product> products_;
  std::set<std::string> posted_products_;
  bool Catalogued(const std::string& code) const;
  bool HasCatalogued(const std::string& code) const;  // anything under it
  absl::Status CheckCatalogued(const std::string& code, bool offer) const;
  void NotePosted(const std::string& code);
  Product CataloguedProduct(const std::string& code) const;
  std::map<std::string, Region, std::less<>> regions_;
  std::vector<Pairing> pairings_;
  std::deque<Offer> offers_;    // offers_[id - 1]; deque keeps views valid
  std::deque<Pledge> pledges_;  // pledges_[id - 1]
  std::deque<MatchView> matches_;
  // The last queue place given on each side: one per post, one per
  // amendment that sends an order to the back.
  uint64_t offer_seq_ = 0;
  uint64_t pledge_seq_ = 0;
  std::vector<ApiKey> keys_;  // keys_[key_id - 1]
  std::map<std::string, Buyer, std::less<>> buyers_;
  std::map<std::string, Remembered, std::less<>> requests_;
};

}  // namespace duijie

#endif  // DUIJIE_TESTS_REFERENCE_MATCHER_H_
