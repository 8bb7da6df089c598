// Every mutation of the engine, as one closed set of commands with stable
// numeric codes, and what each one answers.
//
// A command is one struct here: its code (CommandCode, explicit and written
// to the journal, so reordering this file never changes what is on disk),
// its body fields (listed once, in Fields(), which the journal codec, the
// request fingerprint and the test generators all read) and its Result.
// Engine::Apply runs any of them. Adding a command means: a new code that
// was never used before, its struct below with Fields() and Result, its
// alternative at the end of CommandBody, and its Apply case in the engine;
// an existing code's fields never change meaning (a new layout is a new
// code, as TigerBeetle introduces a change as a new operation number).
//
// Time is a command too: TickCommand moves the engine's clock and does all
// time-driven work (retiring expired orders). No other command moves the
// clock, so a rejected command changes nothing at all.
#ifndef DUIJIE_ENGINE_COMMAND_H_
#define DUIJIE_ENGINE_COMMAND_H_

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/byte_codec.h"
#include "engine/catalogue.h"
#include "engine/types.h"

namespace duijie {

// Stable codes: journal records carry them. Never reuse or renumber one.
enum class CommandCode : uint8_t {
  kTick = 0,
  kUpsertRegion = 1,
  kUpsertPairing = 2,
  kDeletePairing = 3,
  kPostOffer = 4,
  kPostPledge = 5,
  kCancelOffer = 6,
  kCancelPledge = 7,
  kCreateKey = 8,
  kRevokeKey = 9,
  kShipMatch = 10,
  kAcceptMatch = 11,
  kDeclineMatch = 12,
  // PostOffer and PostPledge with the match deadlines (ship_within,
  // accept_within). Journals from before them hold kPostOffer and
  // kPostPledge, read as these with no deadlines (see kLegacyCode).
  kPostOfferWithDeadlines = 13,
  kPostPledgeWithDeadlines = 14,
  kAmendOffer = 15,
  kAmendPledge = 16,
  kUpsertBuyer = 17,
  kSetClearingPolicy = 18,
  kClear = 19,
  kSetAlertThresholds = 20,
  kUpsertProduct = 21,
};
// The largest code in use; codes above it are refused when read back.
inline constexpr uint8_t kMaxCommandCode = 21;

// A clearing policy (SetClearingPolicyCommand) as it stands.
struct ClearingPolicyResult {
  std::string product_prefix;
  Micros interval = 0;          // 0: continuous
  Micros next_clearing_at = 0;  // 0 when continuous
  bool replayed = false;        // a repeat of an earlier request_id
};

// What a ClearCommand did.
struct ClearResult {
  Micros now = 0;
  uint64_t clearings = 0;       // policies whose clearing ran
  uint64_t matches = 0;         // matches it made
  int64_t kg = 0;               // kg they moved
  uint64_t first_match_id = 0;  // 0 when it made none
  bool replayed = false;  // a repeat of a request_id (the writer sends none)
};

// What a tick did.
struct TickResult {
  Micros now = 0;          // the engine's clock after it
  uint64_t expired = 0;    // orders it retired
  uint64_t lapsed = 0;     // matches not shipped by their ship_by
  uint64_t delivered = 0;  // shipped matches delivered at their accept_by
  uint64_t periods = 0;    // periods of standing pledges started
};

// Moves the clock to Command::now (never back) and retires every resting
// order whose expires_at <= now; then starts the periods of standing
// pledges that began at or before now (they refill and match); then lapses
// every MATCHED match whose ship_by <= now and delivers in full every SHIPPED
// one whose accept_by <= now, in match id order (lapsed kg go back to their
// pledges, which may match them again). The writer issues one before a command
// whose time is later than the engine's clock; replay re-applies it.
struct TickCommand {
  static constexpr CommandCode kCode = CommandCode::kTick;
  static constexpr char kName[] = "Tick";
  using Result = TickResult;
  template <typename Self, typename Visit>
  static void Fields(Self&, Visit&&) {}
};

// Creates or replaces the region with region.code. Changing a region's
// key_assisted or relocation_site flag re-ranks its resting offers.
struct UpsertRegionCommand {
  static constexpr CommandCode kCode = CommandCode::kUpsertRegion;
  static constexpr char kName[] = "UpsertRegion";
  using Result = RegionResult;
  Region region;
  template <typename Self, typename Visit>
  static void Fields(Self& s, Visit&& v) {
    v(s.region.code);
    v(s.region.name);
    v(s.region.key_assisted);
    v(s.region.relocation_site);
  }
};

// Creates or replaces the note of the pairing (east_code, west_code). Both
// codes must be known regions.
struct UpsertPairingCommand {
  static constexpr CommandCode kCode = CommandCode::kUpsertPairing;
  static constexpr char kName[] = "UpsertPairing";
  using Result = PairingResult;
  Pairing pairing;
  template <typename Self, typename Visit>
  static void Fields(Self& s, Visit&& v) {
    v(s.pairing.east_code);
    v(s.pairing.west_code);
    v(s.pairing.note);
  }
};

// Removes a pairing; NOT_FOUND if there is none. Answers it as it was.
struct DeletePairingCommand {
  static constexpr CommandCode kCode = CommandCode::kDeletePairing;
  static constexpr char kName[] = "DeletePairing";
  using Result = PairingResult;
  std::string east_code;
  std::string west_code;
  template <typename Self, typename Visit>
  static void Fields(Self& s, Visit&& v) {
    v(s.east_code);
    v(s.west_code);
  }
};

// Validates and posts an offer, matches it against resting pledges, and
// rests what is left. Answers the offer as it stands and its fills.
//
// A command with a kLegacyCode is also read back from records of that code,
// written before its last fields existed: LegacyFields lists what those
// records hold, and FromLegacy() sets the rest. A body read so IsLegacy():
// it keeps the legacy code (CodeOf, the request memo) and layout
// (EncodeBody), so replaying an old journal reproduces its old state
// byte for byte. Only old journals make such bodies (the API cannot).
struct PostOfferCommand {
  static constexpr CommandCode kCode = CommandCode::kPostOfferWithDeadlines;
  static constexpr CommandCode kLegacyCode = CommandCode::kPostOffer;
  static constexpr char kName[] = "PostOffer";
  static constexpr bool kMakesMatches = true;
  using Result = OfferResult;
  OfferSpec offer;
  template <typename Self, typename Visit>
  static void Fields(Self& s, Visit&& v) {
    LegacyFields(s, v);
    v(s.offer.ship_within);
  }
  template <typename Self, typename Visit>
  static void LegacyFields(Self& s, Visit&& v) {
    v(s.offer.supplier_id);
    v(s.offer.region_code);
    v(s.offer.product_code);
    v(s.offer.grade);
    v(s.offer.quantity_kg);
    v(s.offer.floor_price_fen_per_kg);
    v(s.offer.min_lot_kg);
    v(s.offer.expires_at);
    v(s.offer.certified);
    v(s.offer.households);
  }
  void FromLegacy() { offer.ship_within = kNoDeadline; }
  bool IsLegacy() const { return offer.ship_within == kNoDeadline; }
};

// The pledge's counterpart of PostOfferCommand. With a recurrence it is a
// standing pledge (Recurrence in types.h): it expires at recurrence.until,
// which expires_at must equal, and refills at each period's start.
struct PostPledgeCommand {
  static constexpr CommandCode kCode = CommandCode::kPostPledgeWithDeadlines;
  static constexpr CommandCode kLegacyCode = CommandCode::kPostPledge;
  static constexpr char kName[] = "PostPledge";
  static constexpr bool kMakesMatches = true;
  using Result = PledgeResult;
  PledgeSpec pledge;
  template <typename Self, typename Visit>
  static void Fields(Self& s, Visit&& v) {
    LegacyFields(s, v);
    v(s.pledge.accept_within);
    v(s.pledge.recurrence.period);
    v(s.pledge.recurrence.quantity_kg);
    v(s.pledge.recurrence.budget_fen);
    v(s.pledge.recurrence.until);
    v(s.pledge.recurrence.carry_over);
    // Appended before this code's layout was first released; the legacy
    // layout has no members (an alliance split needs this code).
    v(s.pledge.members);
  }
  template <typename Self, typename Visit>
  static void LegacyFields(Self& s, Visit&& v) {
    v(s.pledge.buyer_id);
    v(s.pledge.buyer_city_code);
    v(s.pledge.buyer_kind);
    v(s.pledge.product_code);
    v(s.pledge.min_grade);
    v(s.pledge.quantity_kg);
    v(s.pledge.max_price_fen_per_kg);
    v(s.pledge.budget_fen);
    v(s.pledge.min_lot_kg);
    v(s.pledge.expires_at);
    v(s.pledge.scope);
    v(s.pledge.region_codes);
    v(s.pledge.require_certified);
  }
  void FromLegacy() { pledge.accept_within = kNoDeadline; }
  // A body with members or a recurrence is never legacy: the legacy layout
  // would drop them.
  bool IsLegacy() const {
    const Recurrence& r = pledge.recurrence;
    return pledge.accept_within == kNoDeadline && pledge.members.empty() &&
           r.period == 0 && r.quantity_kg == 0 && r.budget_fen == 0 &&
           r.until == 0 && !r.carry_over;
  }
};

// Cancels an open offer. NOT_FOUND for an unknown id, FAILED_PRECONDITION
// for one already filled, cancelled or expired.
struct CancelOfferCommand {
  static constexpr CommandCode kCode = CommandCode::kCancelOffer;
  static constexpr char kName[] = "CancelOffer";
  using Result = OfferResult;
  uint64_t offer_id = 0;
  template <typename Self, typename Visit>
  static void Fields(Self& s, Visit&& v) {
    v(s.offer_id);
  }
};

struct CancelPledgeCommand {
  static constexpr CommandCode kCode = CommandCode::kCancelPledge;
  static constexpr char kName[] = "CancelPledge";
  using Result = PledgeResult;
  uint64_t pledge_id = 0;
  template <typename Self, typename Visit>
  static void Fields(Self& s, Visit&& v) {
    v(s.pledge_id);
  }
};

// Changes an open offer in place. Each field comes with a presence flag;
// an unset field keeps its value. Everything is validated as PostOffer
// validates it before anything changes; a quantity below what was already
// matched is INVALID_ARGUMENT, one equal to it fills the offer. Lowering the
// quantity, changing expiry, min lot or ship_within, or lowering the floor
// keeps the offer's place in its queue; raising the quantity or the floor
// sends it to the back. An amendment that makes new pairs compatible matches
// at once, the offer acting as the incoming order; answers the offer and
// those fills, like PostOffer.
struct AmendOfferCommand {
  static constexpr CommandCode kCode = CommandCode::kAmendOffer;
  static constexpr char kName[] = "AmendOffer";
  static constexpr bool kMakesMatches = true;
  using Result = OfferResult;
  uint64_t offer_id = 0;
  bool has_quantity_kg = false;
  int64_t quantity_kg = 0;
  bool has_floor_price = false;
  int64_t floor_price_fen_per_kg = 0;
  bool has_min_lot = false;
  int64_t min_lot_kg = 0;
  bool has_expires_at = false;
  Micros expires_at = 0;
  bool has_ship_within = false;
  Micros ship_within = 0;
  template <typename Self, typename Visit>
  static void Fields(Self& s, Visit&& v) {
    v(s.offer_id);
    v(s.has_quantity_kg);
    v(s.quantity_kg);
    v(s.has_floor_price);
    v(s.floor_price_fen_per_kg);
    v(s.has_min_lot);
    v(s.min_lot_kg);
    v(s.has_expires_at);
    v(s.expires_at);
    v(s.has_ship_within);
    v(s.ship_within);
  }
};

// The pledge's counterpart of AmendOfferCommand. Better for offers (keeps
// the place): a higher max price, a larger budget, a wider scope; worse
// (to the back): a lower max price, a smaller budget, a narrower scope.
// Scope and region_codes are set together (has_scope); a budget may not go
// below what was already spent.
struct AmendPledgeCommand {
  static constexpr CommandCode kCode = CommandCode::kAmendPledge;
  static constexpr char kName[] = "AmendPledge";
  static constexpr bool kMakesMatches = true;
  using Result = PledgeResult;
  uint64_t pledge_id = 0;
  bool has_quantity_kg = false;
  int64_t quantity_kg = 0;
  bool has_max_price = false;
  int64_t max_price_fen_per_kg = 0;
  bool has_budget = false;
  int64_t budget_fen = 0;
  bool has_min_lot = false;
  int64_t min_lot_kg = 0;
  bool has_expires_at = false;
  Micros expires_at = 0;
  bool has_scope = false;
  int scope = 0;  // a Scope number
  std::vector<std::string> region_codes;
  bool has_accept_within = false;
  Micros accept_within = 0;
  template <typename Self, typename Visit>
  static void Fields(Self& s, Visit&& v) {
    v(s.pledge_id);
    v(s.has_quantity_kg);
    v(s.quantity_kg);
    v(s.has_max_price);
    v(s.max_price_fen_per_kg);
    v(s.has_budget);
    v(s.budget_fen);
    v(s.has_min_lot);
    v(s.min_lot_kg);
    v(s.has_expires_at);
    v(s.expires_at);
    v(s.has_scope);
    v(s.scope);
    v(s.region_codes);
    v(s.has_accept_within);
    v(s.accept_within);
  }
};

// Registers an API key for `principal`, known by the SHA-256 of its
// secret (the secret itself never reaches the engine or the journal).
// Answers the key with its new key_id. The server makes the secret and
// its hash, and computes the request's fingerprint before it sets the hash
// (api/key_convert.h), so a retry of the same request (which carries a new
// secret) is answered, without a secret, instead of refused. A repeat answers
// the key as it stands then (revoked_at included), not as it was first made.
struct CreateKeyCommand {
  static constexpr CommandCode kCode = CommandCode::kCreateKey;
  static constexpr char kName[] = "CreateKey";
  using Result = KeyResult;
  Principal principal;
  std::string secret_sha256;
  Micros expires_at = 0;  // 0: never
  template <typename Self, typename Visit>
  static void Fields(Self& s, Visit&& v) {
    v(s.principal.name);
    v(s.principal.role);
    v(s.principal.supplier_ids);
    v(s.principal.buyer_ids);
    v(s.secret_sha256);
    v(s.expires_at);
  }
};

// Revokes a key from now on. NOT_FOUND for an unknown key_id,
// FAILED_PRECONDITION for one already revoked.
struct RevokeKeyCommand {
  static constexpr CommandCode kCode = CommandCode::kRevokeKey;
  static constexpr char kName[] = "RevokeKey";
  using Result = KeyResult;
  uint64_t key_id = 0;
  template <typename Self, typename Visit>
  static void Fields(Self& s, Visit&& v) {
    v(s.key_id);
  }
};

// The supplier's side ships a MATCHED match: it becomes SHIPPED, with
// accept_by = now + the pledge's accept_within. shipped_kg 0 ships it all;
// fewer kg (a short shipment) give the rest back to the pledge at once.
// NOT_FOUND for an unknown match, FAILED_PRECONDITION for one not MATCHED
// (a match past its ship_by has LAPSED).
struct ShipMatchCommand {
  static constexpr CommandCode kCode = CommandCode::kShipMatch;
  static constexpr char kName[] = "ShipMatch";
  static constexpr bool kMakesMatches = true;
  using Result = MatchResult;
  uint64_t match_id = 0;
  int64_t shipped_kg = 0;  // 0: all of it
  std::string note;        // e.g. the waybill; at most 256 bytes
  template <typename Self, typename Visit>
  static void Fields(Self& s, Visit&& v) {
    v(s.match_id);
    v(s.shipped_kg);
    v(s.note);
  }
};

// The buyer's side accepts a SHIPPED match: it becomes DELIVERED.
// accepted_kg 0 accepts all that was shipped; fewer kg (a short delivery,
// produce spoiled on the way) give the rest back to the pledge.
struct AcceptMatchCommand {
  static constexpr CommandCode kCode = CommandCode::kAcceptMatch;
  static constexpr char kName[] = "AcceptMatch";
  static constexpr bool kMakesMatches = true;
  using Result = MatchResult;
  uint64_t match_id = 0;
  int64_t accepted_kg = 0;  // 0: all that was shipped
  template <typename Self, typename Visit>
  static void Fields(Self& s, Visit&& v) {
    v(s.match_id);
    v(s.accepted_kg);
  }
};

// The buyer's side refuses a SHIPPED match: it becomes DECLINED and its kg
// go back to the pledge. The reason is required (1..256 bytes).
struct DeclineMatchCommand {
  static constexpr CommandCode kCode = CommandCode::kDeclineMatch;
  static constexpr char kName[] = "DeclineMatch";
  static constexpr bool kMakesMatches = true;
  using Result = MatchResult;
  uint64_t match_id = 0;
  std::string reason;
  template <typename Self, typename Visit>
  static void Fields(Self& s, Visit&& v) {
    v(s.match_id);
    v(s.reason);
  }
};

// Creates or replaces the registered buyer buyer.buyer_id. Pledges of a
// registered buyer may leave buyer_city_code and buyer_kind to the
// registry; its matches count towards its annual target (GetBuyerProgress).
// Replacing a buyer changes no pledge already posted.
struct UpsertBuyerCommand {
  static constexpr CommandCode kCode = CommandCode::kUpsertBuyer;
  static constexpr char kName[] = "UpsertBuyer";
  using Result = BuyerResult;
  Buyer buyer;
  template <typename Self, typename Visit>
  static void Fields(Self& s, Visit&& v) {
    v(s.buyer.buyer_id);
    v(s.buyer.name);
    v(s.buyer.city_code);
    v(s.buyer.kind);
    v(s.buyer.annual_target_fen);
    v(s.buyer.alliance_id);
  }
};

// Sets how the products under product_prefix (a product code, matched by
// whole segments: "vegetable" covers "vegetable.potato", not
// "vegetables"; "" covers every product) are matched: interval 0 is
// continuous matching (each order matches on arrival), the default; an
// interval > 0 (at most a week, a whole number of seconds) is batch
// clearing at every multiple of the interval since the epoch, and a
// clearing of the prefix's products runs at once (so that no order held
// for a clearing the change moved later expires unmatched). A product
// follows the policy of its longest prefix. Setting interval 0 removes the
// prefix's own policy after a last clearing of everything it held: its
// products then follow the next shorter prefix that has one, or match
// continuously. Answers the policy with its next clearing time.
struct SetClearingPolicyCommand {
  static constexpr CommandCode kCode = CommandCode::kSetClearingPolicy;
  static constexpr char kName[] = "SetClearingPolicy";
  static constexpr bool kMakesMatches = true;
  using Result = ClearingPolicyResult;
  std::string product_prefix;
  Micros interval = 0;
  template <typename Self, typename Visit>
  static void Fields(Self& s, Visit&& v) {
    v(s.product_prefix);
    v(s.interval);
  }
};

// Runs every batch clearing due at or before the engine's clock (see
// engine/clearing.cc for what a clearing trades). The server's writer
// issues it when Engine::NextClearingAt() has come, after the tick to that
// time; replay re-applies it. FAILED_PRECONDITION when none is due.
struct ClearCommand {
  static constexpr CommandCode kCode = CommandCode::kClear;
  static constexpr char kName[] = "Clear";
  static constexpr bool kMakesMatches = true;
  using Result = ClearResult;
  template <typename Self, typename Visit>
  static void Fields(Self&, Visit&&) {}
};

// Sets the glut alert thresholds of one product category (the first
// segment of a product code; "" for the default of every category without
// its own): horizon 1 hour to 30 days, a whole number of seconds;
// min_gap_kg 1..kMaxQuantityKg; min_ratio_permille 1000..1000000;
// clear_permille 0..1000. The engine's alerts are then recomputed against
// the new thresholds at once (engine/alerts.h). ADMIN only. Answers the
// thresholds as they stand.
struct SetAlertThresholdsCommand {
  static constexpr CommandCode kCode = CommandCode::kSetAlertThresholds;
  static constexpr char kName[] = "SetAlertThresholds";
  using Result = AlertThresholdsResult;
  AlertThresholds thresholds;
  template <typename Self, typename Visit>
  static void Fields(Self& s, Visit&& v) {
    v(s.thresholds.category);
    v(s.thresholds.horizon);
    v(s.thresholds.min_gap_kg);
    v(s.thresholds.min_ratio_permille);
    v(s.thresholds.clear_permille);
  }
};

// Creates or replaces the catalogued product product.code (catalogue.h):
// its parent must be catalogued unless it is a top-level category; name
// 1..64 characters, unit_note at most 64, a perishability, shelf_life 0 or
// 1 hour..3650 days in whole seconds. The first one closes the catalogue:
// from then on posts must name catalogued products. Replacing a product
// changes no order already posted. ADMIN only. Answers the product as
// catalogued and whether it was new.
struct UpsertProductCommand {
  static constexpr CommandCode kCode = CommandCode::kUpsertProduct;
  static constexpr char kName[] = "UpsertProduct";
  using Result = ProductResult;
  Product product;
  template <typename Self, typename Visit>
  static void Fields(Self& s, Visit&& v) {
    v(s.product.code);
    v(s.product.name);
    v(s.product.unit_note);
    v(s.product.perishability);
    v(s.product.shelf_life);
  }
};

// Every command. The order of alternatives is not a format: codes are.
using CommandBody =
    std::variant<TickCommand, UpsertRegionCommand, UpsertPairingCommand,
                 DeletePairingCommand, PostOfferCommand, PostPledgeCommand,
                 CancelOfferCommand, CancelPledgeCommand, CreateKeyCommand,
                 RevokeKeyCommand, ShipMatchCommand, AcceptMatchCommand,
                 DeclineMatchCommand, UpsertBuyerCommand, AmendOfferCommand,
                 AmendPledgeCommand, SetClearingPolicyCommand, ClearCommand,
                 SetAlertThresholdsCommand, UpsertProductCommand>;

// Every answer (a command's Result is one of these).
using CommandResult =
    std::variant<TickResult, RegionResult, PairingResult, OfferResult,
                 PledgeResult, KeyResult, MatchResult, BuyerResult,
                 ClearingPolicyResult, ClearResult, AlertThresholdsResult,
                 ProductResult>;

// Who sent a command, as the server authenticated it, and the limits that
// hold for them at admission. The engine authorises a command with a
// caller before anything else (access.h). Replay, tools and tests leave it
// unset: a journaled command was authorised when it was accepted, and must
// replay whatever keys and limits say now.
struct Caller {
  Principal principal;
  uint64_t key_id = 0;  // 0: the bootstrap admin key, or no authentication
  // Open orders one supplier or buyer may have; a post beyond it is
  // RESOURCE_EXHAUSTED. 0: no limit.
  uint64_t max_open_orders = 0;
};
// An answer or the reason the command was refused.
using CommandOutcome = absl::StatusOr<CommandResult>;

// Whether commands of type Body can make matches (those that do declare
// `static constexpr bool kMakesMatches = true`).
template <typename Body, typename = void>
struct MakesMatches : std::false_type {};
template <typename Body>
struct MakesMatches<Body, std::void_t<decltype(Body::kMakesMatches)>>
    : std::bool_constant<Body::kMakesMatches> {};

// A command as the engine applies it and the journal records it.
struct Command {
  CommandBody body;
  // Empty: no idempotency. Otherwise at most 128 bytes; a repeat within the
  // engine's window answers the first answer again: for an order, its
  // remaining kg, spend, status and matches then, with its terms as they
  // stand now (the memo keeps only what fills change, and an amendment
  // since may have changed the terms).
  std::string request_id;
  // CommandFingerprint() of the command as the client sent it (0 when
  // request_id is empty): equal fingerprints mean "the same request".
  uint64_t fingerprint = 0;
  // When it is applied: the engine's clock for commands (a tick moves the
  // clock to it first), the new clock for a tick.
  Micros now = 0;
  // > 0: the order's expiry is relative (PostOffer/PostPledge expires_in,
  // AmendOffer/AmendPledge too, where it sets has_expires_at);
  // ResolveExpiry turns it into expires_at = now + expires_in before the
  // command is applied and journaled.
  Micros expires_in = 0;
  // Null: trusted (replay, tools). Not journaled, not fingerprinted.
  std::shared_ptr<const Caller> caller;

  CommandCode code() const;
};

// A command of `body`'s kind with no request_id.
template <typename Body>
Command MakeCommand(Body body, Micros now = 0) {
  Command command;
  command.body = std::move(body);
  command.now = now;
  return command;
}

// The code of each alternative, by value: the journal's kind byte.
CommandCode CodeOf(const CommandBody& body);
// The body of a code, default-initialised; false for an unknown code.
bool BodyForCode(uint8_t code, CommandBody* body);
// "PostOffer" etc., for messages.
const char* CommandName(CommandCode code);

// Sets command.now and resolves a relative expiry against it (then clears
// expires_in), so that what is applied and journaled is absolute and
// replay needs no clock.
void ResolveExpiry(Command& command, Micros now);

// The engine's canonical digest of a command as the client sent it: its
// code, its body fields in Fields() order and expires_in, request_id left
// out. It depends only on this encoding, never on a wire format, so a new
// protobuf or gRPC cannot turn an honest retry into a conflict. The top
// bit is always set, which tells these digests from the ones journaled by
// earlier versions (see idempotency.h).
uint64_t CommandFingerprint(const Command& command);

// The ids a successful command was given, recorded in the journal so that
// replay can check it reproduces them.
struct CommandEffect {
  bool replayed = false;        // a repeat of an earlier request_id
  uint64_t order_id = 0;        // offer, pledge or key id; 0 for reference data
  uint64_t match_count = 0;     // fills the command made
  uint64_t first_match_id = 0;  // 0 when it made none
  bool operator==(const CommandEffect& o) const {
    return replayed == o.replayed && order_id == o.order_id &&
           match_count == o.match_count && first_match_id == o.first_match_id;
  }
};
CommandEffect EffectOf(const CommandResult& result);

// The journal's encoding of a body: its fields in Fields() order; strings
// as u32 length + bytes, int and int64 as i64, uint64 as u64, bool as u8,
// a list of strings as u32 count + strings, a list of member shares as u32
// count + (string, i64) each.
void EncodeBody(const CommandBody& body, ByteWriter& w);
// Reads the body of command `code` written by EncodeBody; false for an
// unknown code (the reader reports malformed bytes through ok()).
bool DecodeBody(uint8_t code, ByteReader& r, CommandBody* body);

// Calls visit(field) for each body field of `command` in Fields() order.
template <typename Visit>
void ForEachField(const CommandBody& body, Visit&& visit) {
  std::visit([&](const auto& b) { b.Fields(b, visit); }, body);
}
template <typename Visit>
void ForEachField(CommandBody& body, Visit&& visit) {
  std::visit([&](auto& b) { b.Fields(b, visit); }, body);
}

}  // namespace duijie

#endif  // DUIJIE_ENGINE_COMMAND_H_
