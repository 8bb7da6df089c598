// Differential test: random command streams go to both duijie::Engine and
// the deliberately simple ReferenceMatcher; every result (status code, order
// view, matches, replay flag), the clock, and at the end every order's state,
// the match log, the book and filtered order lists must agree. After every
// command the engine's derived indexes must match its records
// (Engine::CheckInvariants), and Engine::Validate at the command's time must
// have foreseen the answer's status code.
//
// The commands are the engine's own (engine/command.h): the generator draws
// a command code by weight, makes that alternative of CommandBody and fills
// it through one overload per alternative, so that a new command kind does
// not compile until the generator and the reference cover it. The
// generator is in random_stream.h, which other tests share.
//
// Environment:
//   DUIJIE_SEED=<n>          run only stream n, printing every command
//   DUIJIE_DIFF_STREAMS=<n>  number of streams (default 10000); soak runs
//   DUIJIE_SEED_BASE=<n>     first seed of the run (default 1)
// Half the streams also save the engine's state halfway and carry on with a
// fresh engine loaded from it.
//
// Some commands carry a Caller (a principal of a random role acting for
// some of the generator's suppliers and buyers, sometimes with an
// open-order limit); the reference authorises them by the same rules, so
// refusals are compared like any other answer. API keys are created and
// revoked along the way and compared at the end.
// Each failure prints the seed and command index; rerun with DUIJIE_SEED set
// to that seed to see the whole stream.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "engine/command.h"
#include "engine/engine.h"
#include "engine/types.h"
#include "gtest/gtest.h"
#include "tests/random_stream.h"
#include "tests/reference_matcher.h"

namespace duijie {
namespace {

// ---------------------------------------------------------------------------
// Field-by-field comparison; each difference becomes one line.

class Diff {
 public:
  template <typename A, typename B>
  void Field(const std::string& name, const A& engine, const B& ref) {
    if (engine == ref) return;
    std::ostringstream s;
    s << name << ": engine=" << Show(engine) << " reference=" << Show(ref);
    lines_.push_back(s.str());
  }
  void Note(const std::string& line) { lines_.push_back(line); }
  bool empty() const { return lines_.empty(); }
  std::string str() const {
    std::string out;
    for (const std::string& l : lines_) out += "    " + l + "\n";
    return out;
  }

 private:
  template <typename T>
  static std::string Show(const T& v) {
    std::ostringstream s;
    if constexpr (std::is_enum_v<T>) {
      s << static_cast<int>(v);
    } else {
      s << v;
    }
    return s.str();
  }
  std::vector<std::string> lines_;
};

// min_grade "any" may read back as 0 or as GRADE_SECOND; both accept all.
int NormGrade(Grade g) { return g == static_cast<Grade>(0) ? 3 : int(g); }

void CompareOffer(const std::string& p, const OfferView& e, const OfferView& r,
                  Diff* d) {
  d->Field(p + "offer_id", e.offer_id, r.offer_id);
  d->Field(p + "supplier_id", e.supplier_id, r.supplier_id);
  d->Field(p + "region_code", e.region_code, r.region_code);
  d->Field(p + "product_code", e.product_code, r.product_code);
  d->Field(p + "grade", e.grade, r.grade);
  d->Field(p + "quantity_kg", e.quantity_kg, r.quantity_kg);
  d->Field(p + "floor_price", e.floor_price_fen_per_kg,
           r.floor_price_fen_per_kg);
  d->Field(p + "min_lot_kg", e.min_lot_kg, r.min_lot_kg);
  d->Field(p + "expires_at", e.expires_at, r.expires_at);
  d->Field(p + "certified", e.certified, r.certified);
  d->Field(p + "households", e.households, r.households);
  d->Field(p + "remaining_kg", e.remaining_kg, r.remaining_kg);
  d->Field(p + "status", e.status, r.status);
  d->Field(p + "posted_at", e.posted_at, r.posted_at);
  d->Field(p + "ship_within", e.ship_within, r.ship_within);
}

void ComparePledge(const std::string& p, const PledgeView& e,
                   const PledgeView& r, Diff* d) {
  d->Field(p + "pledge_id", e.pledge_id, r.pledge_id);
  d->Field(p + "buyer_id", e.buyer_id, r.buyer_id);
  d->Field(p + "buyer_city_code", e.buyer_city_code, r.buyer_city_code);
  d->Field(p + "buyer_kind", e.buyer_kind, r.buyer_kind);
  d->Field(p + "product_code", e.product_code, r.product_code);
  d->Field(p + "min_grade", NormGrade(e.min_grade), NormGrade(r.min_grade));
  d->Field(p + "quantity_kg", e.quantity_kg, r.quantity_kg);
  d->Field(p + "max_price", e.max_price_fen_per_kg, r.max_price_fen_per_kg);
  d->Field(p + "budget_fen", e.budget_fen, r.budget_fen);
  d->Field(p + "min_lot_kg", e.min_lot_kg, r.min_lot_kg);
  d->Field(p + "expires_at", e.expires_at, r.expires_at);
  d->Field(p + "scope", e.scope, r.scope);
  d->Field(p + "region_codes.size", e.region_codes.size(),
           r.region_codes.size());
  for (size_t i = 0; i < std::min(e.region_codes.size(), r.region_codes.size());
       ++i) {
    d->Field(p + "region_codes[" + std::to_string(i) + "]", e.region_codes[i],
             r.region_codes[i]);
  }
  d->Field(p + "require_certified", e.require_certified, r.require_certified);
  d->Field(p + "remaining_kg", e.remaining_kg, r.remaining_kg);
  d->Field(p + "spent_fen", e.spent_fen, r.spent_fen);
  d->Field(p + "status", e.status, r.status);
  d->Field(p + "posted_at", e.posted_at, r.posted_at);
  d->Field(p + "accept_within", e.accept_within, r.accept_within);
  d->Field(p + "recurrence.period", e.recurrence.period, r.recurrence.period);
  d->Field(p + "recurrence.quantity_kg", e.recurrence.quantity_kg,
           r.recurrence.quantity_kg);
  d->Field(p + "recurrence.budget_fen", e.recurrence.budget_fen,
           r.recurrence.budget_fen);
  d->Field(p + "recurrence.until", e.recurrence.until, r.recurrence.until);
  d->Field(p + "recurrence.carry_over", e.recurrence.carry_over,
           r.recurrence.carry_over);
  d->Field(p + "periods.size", e.periods.size(), r.periods.size());
  for (size_t i = 0; i < std::min(e.periods.size(), r.periods.size()); ++i) {
    const PledgePeriodView& a = e.periods[i];
    const PledgePeriodView& b = r.periods[i];
    const std::string q = p + "periods[" + std::to_string(i) + "].";
    d->Field(q + "start", a.start, b.start);
    d->Field(q + "end", a.end, b.end);
    d->Field(q + "pledged_kg", a.pledged_kg, b.pledged_kg);
    d->Field(q + "budget_fen", a.budget_fen, b.budget_fen);
    d->Field(q + "matched_kg", a.matched_kg, b.matched_kg);
    d->Field(q + "delivered_kg", a.delivered_kg, b.delivered_kg);
    d->Field(q + "spent_fen", a.spent_fen, b.spent_fen);
  }
  d->Field(p + "members.size", e.members.size(), r.members.size());
  for (size_t i = 0; i < std::min(e.members.size(), r.members.size()); ++i) {
    const std::string m = p + "members[" + std::to_string(i) + "].";
    d->Field(m + "buyer_id", e.members[i].buyer_id, r.members[i].buyer_id);
    d->Field(m + "share_permille", e.members[i].share_permille,
             r.members[i].share_permille);
  }
}

void CompareMatch(const std::string& p, const MatchView& e, const MatchView& r,
                  Diff* d);

void CompareMatches(const std::vector<MatchView>& e,
                    const std::vector<MatchView>& r, Diff* d) {
  d->Field("matches.size", e.size(), r.size());
  for (size_t i = 0; i < std::min(e.size(), r.size()); ++i) {
    std::string p = "matches[" + std::to_string(i) + "].";
    d->Field(p + "match_id", e[i].match_id, r[i].match_id);
    d->Field(p + "offer_id", e[i].offer_id, r[i].offer_id);
    d->Field(p + "pledge_id", e[i].pledge_id, r[i].pledge_id);
    d->Field(p + "supplier_id", e[i].supplier_id, r[i].supplier_id);
    d->Field(p + "buyer_id", e[i].buyer_id, r[i].buyer_id);
    d->Field(p + "member_buyer_id", e[i].member_buyer_id, r[i].member_buyer_id);
    d->Field(p + "product_code", e[i].product_code, r[i].product_code);
    d->Field(p + "region_code", e[i].region_code, r[i].region_code);
    d->Field(p + "buyer_city_code", e[i].buyer_city_code, r[i].buyer_city_code);
    d->Field(p + "quantity_kg", e[i].quantity_kg, r[i].quantity_kg);
    d->Field(p + "price", e[i].price_fen_per_kg, r[i].price_fen_per_kg);
    d->Field(p + "amount_fen", e[i].amount_fen, r[i].amount_fen);
    d->Field(p + "partner", e[i].partner, r[i].partner);
    d->Field(p + "matched_at", e[i].matched_at, r[i].matched_at);
    CompareMatch(p, e[i], r[i], d);
  }
}

// The lifecycle of a match.
void CompareMatch(const std::string& p, const MatchView& e, const MatchView& r,
                  Diff* d) {
  d->Field(p + "match_id", e.match_id, r.match_id);
  d->Field(p + "status", static_cast<int>(e.status),
           static_cast<int>(r.status));
  d->Field(p + "ship_by", e.ship_by, r.ship_by);
  d->Field(p + "shipped_at", e.shipped_at, r.shipped_at);
  d->Field(p + "shipped_kg", e.shipped_kg, r.shipped_kg);
  d->Field(p + "accept_by", e.accept_by, r.accept_by);
  d->Field(p + "delivered_at", e.delivered_at, r.delivered_at);
  d->Field(p + "accepted_kg", e.accepted_kg, r.accepted_kg);
  d->Field(p + "returned_kg", e.returned_kg, r.returned_kg);
  d->Field(p + "note", e.note, r.note);
  d->Field(p + "reason", e.reason, r.reason);
  d->Field(p + "updated_at", e.updated_at, r.updated_at);
}

std::string JoinIds(const std::vector<std::string>& ids) {
  std::string out;
  for (const std::string& id : ids) out += id + ",";
  return out;
}

void CompareKey(const std::string& p, const ApiKey& e, const ApiKey& r,
                Diff* d) {
  d->Field(p + "key_id", e.key_id, r.key_id);
  d->Field(p + "principal.name", e.principal.name, r.principal.name);
  d->Field(p + "principal.role", e.principal.role, r.principal.role);
  d->Field(p + "principal.supplier_ids", JoinIds(e.principal.supplier_ids),
           JoinIds(r.principal.supplier_ids));
  d->Field(p + "principal.buyer_ids", JoinIds(e.principal.buyer_ids),
           JoinIds(r.principal.buyer_ids));
  // Raw hash bytes are not worth printing: equal or not.
  d->Field(p + "secret_sha256 equal", e.secret_sha256 == r.secret_sha256, true);
  d->Field(p + "created_at", e.created_at, r.created_at);
  d->Field(p + "expires_at", e.expires_at, r.expires_at);
  d->Field(p + "revoked_at", e.revoked_at, r.revoked_at);
}

void CompareBuyer(const std::string& p, const Buyer& e, const Buyer& r,
                  Diff* d) {
  d->Field(p + "buyer_id", e.buyer_id, r.buyer_id);
  d->Field(p + "name", e.name, r.name);
  d->Field(p + "city_code", e.city_code, r.city_code);
  d->Field(p + "kind", e.kind, r.kind);
  d->Field(p + "annual_target_fen", e.annual_target_fen, r.annual_target_fen);
  d->Field(p + "alliance_id", e.alliance_id, r.alliance_id);
}

void CompareOutcome(const Cmd& c, const Outcome& e, const Outcome& r, Diff* d) {
  d->Field("status", absl::StatusCodeToString(e.status.code()),
           absl::StatusCodeToString(r.status.code()));
  if (!d->empty()) {
    d->Note("engine message: " + std::string(e.status.message()));
    d->Note("reference message: " + std::string(r.status.message()));
    return;
  }
  if (!e.status.ok()) {
    // INVALID_ARGUMENT must name the field that is wrong. A pledge whose
    // city or kind disagrees with its buyer's registry entry is refused for
    // that before anything else, by both: a pledge drawn before its buyer
    // was registered (a repeat) or with a defect of its own may meet it.
    const bool registry_first =
        e.status.message().find("disagrees with buyer") !=
            std::string_view::npos &&
        r.status.message().find("disagrees with the registry") !=
            std::string_view::npos;
    if (e.status.code() == absl::StatusCode::kInvalidArgument &&
        !c.defect.empty() && !registry_first &&
        e.status.message().find(c.defect) == std::string_view::npos) {
      d->Note("INVALID_ARGUMENT message does not name field '" + c.defect +
              "': " + std::string(e.status.message()));
    }
    return;
  }
  switch (c.code()) {
    case CommandCode::kUpsertRegion:
      d->Field("region.code", e.region.region.code, r.region.region.code);
      d->Field("region.name", e.region.region.name, r.region.region.name);
      d->Field("region.key_assisted", e.region.region.key_assisted,
               r.region.region.key_assisted);
      d->Field("region.relocation_site", e.region.region.relocation_site,
               r.region.region.relocation_site);
      d->Field("replayed", e.region.replayed, r.region.replayed);
      break;
    case CommandCode::kUpsertPairing:
    case CommandCode::kDeletePairing:
      d->Field("pairing.east_code", e.pairing.pairing.east_code,
               r.pairing.pairing.east_code);
      d->Field("pairing.west_code", e.pairing.pairing.west_code,
               r.pairing.pairing.west_code);
      d->Field("pairing.note", e.pairing.pairing.note, r.pairing.pairing.note);
      d->Field("replayed", e.pairing.replayed, r.pairing.replayed);
      break;
    case CommandCode::kShipMatch:
    case CommandCode::kAcceptMatch:
    case CommandCode::kDeclineMatch:
      CompareMatch("match.", e.match.match, r.match.match, d);
      CompareMatches(e.match.matches, r.match.matches, d);
      d->Field("replayed", e.match.replayed, r.match.replayed);
      break;
    case CommandCode::kPostOfferWithDeadlines:
    case CommandCode::kCancelOffer:
    case CommandCode::kAmendOffer:
      CompareOffer("offer.", e.offer.offer, r.offer.offer, d);
      CompareMatches(e.offer.matches, r.offer.matches, d);
      d->Field("replayed", e.offer.replayed, r.offer.replayed);
      if (c.code() == CommandCode::kCancelOffer) {
        d->Field("unfilled_kg", e.offer.unfilled_kg, r.offer.unfilled_kg);
      }
      break;
    case CommandCode::kPostPledgeWithDeadlines:
    case CommandCode::kCancelPledge:
    case CommandCode::kAmendPledge:
      ComparePledge("pledge.", e.pledge.pledge, r.pledge.pledge, d);
      CompareMatches(e.pledge.matches, r.pledge.matches, d);
      d->Field("replayed", e.pledge.replayed, r.pledge.replayed);
      if (c.code() == CommandCode::kCancelPledge) {
        d->Field("unfilled_kg", e.pledge.unfilled_kg, r.pledge.unfilled_kg);
      }
      break;
    case CommandCode::kCreateKey:
    case CommandCode::kRevokeKey:
      CompareKey("key.", e.key.key, r.key.key, d);
      d->Field("replayed", e.key.replayed, r.key.replayed);
      break;
    case CommandCode::kTick:
      d->Field("tick.now", e.tick.now, r.tick.now);
      break;
    case CommandCode::kUpsertBuyer:
      CompareBuyer("buyer.", e.buyer.buyer, r.buyer.buyer, d);
      d->Field("created", e.buyer.created, r.buyer.created);
      d->Field("replayed", e.buyer.replayed, r.buyer.replayed);
      break;
    case CommandCode::kSetClearingPolicy:
      d->Field("product_prefix", e.policy.product_prefix,
               r.policy.product_prefix);
      d->Field("interval", e.policy.interval, r.policy.interval);
      d->Field("next_clearing_at", e.policy.next_clearing_at,
               r.policy.next_clearing_at);
      d->Field("replayed", e.policy.replayed, r.policy.replayed);
      break;
    case CommandCode::kSetAlertThresholds: {
      const AlertThresholds& et = e.thresholds.thresholds;
      const AlertThresholds& rt = r.thresholds.thresholds;
      d->Field("thresholds.category", et.category, rt.category);
      d->Field("thresholds.horizon", et.horizon, rt.horizon);
      d->Field("thresholds.min_gap_kg", et.min_gap_kg, rt.min_gap_kg);
      d->Field("thresholds.min_ratio_permille", et.min_ratio_permille,
               rt.min_ratio_permille);
      d->Field("thresholds.clear_permille", et.clear_permille,
               rt.clear_permille);
      d->Field("replayed", e.thresholds.replayed, r.thresholds.replayed);
      break;
    }
    case CommandCode::kUpsertProduct: {
      const Product& ep = e.product.product;
      const Product& rp = r.product.product;
      d->Field("product.code", ep.code, rp.code);
      d->Field("product.name", ep.name, rp.name);
      d->Field("product.unit_note", ep.unit_note, rp.unit_note);
      d->Field("product.perishability", ep.perishability, rp.perishability);
      d->Field("product.shelf_life", ep.shelf_life, rp.shelf_life);
      d->Field("product.from_orders", ep.from_orders, rp.from_orders);
      d->Field("created", e.product.created, r.product.created);
      d->Field("replayed", e.product.replayed, r.product.replayed);
      break;
    }
    case CommandCode::kClear:
      d->Field("clear.now", e.clear.now, r.clear.now);
      d->Field("clear.clearings", e.clear.clearings, r.clear.clearings);
      d->Field("clear.matches", e.clear.matches, r.clear.matches);
      d->Field("clear.kg", e.clear.kg, r.clear.kg);
      d->Field("clear.first_match_id", e.clear.first_match_id,
               r.clear.first_match_id);
      d->Field("replayed", e.clear.replayed, r.clear.replayed);
      break;
    default:  // the old post layouts: never drawn
      d->Note("a command with an old layout's code");
      break;
  }
}

// ---------------------------------------------------------------------------
// End-of-stream comparison of everything readable.

struct BookRow {
  int64_t offer_kg = 0, offer_count = 0, pledge_kg = 0, pledge_count = 0;
  int64_t best_floor = 0, best_max = 0;
};

void CompareFinalState(const Engine& engine, const ReferenceMatcher& ref,
                       uint64_t seed, Diff* d) {
  d->Field("offer_count", engine.offer_count(), ref.offer_count());
  d->Field("pledge_count", engine.pledge_count(), ref.pledge_count());
  d->Field("last_match_id", engine.last_match_id(), ref.last_match_id());
  d->Field("now", engine.now(), ref.now());
  if (!d->empty()) return;

  for (Micros later : {Micros{0}, Micros{3}, Micros{20}, Micros{1000000}}) {
    Micros at = ref.now() + later;
    for (uint64_t id = 0; id <= ref.offer_count() + 1; ++id) {
      auto e = engine.GetOffer(id, at);
      auto r = ref.GetOffer(id, at);
      std::string p = "GetOffer(" + std::to_string(id) + ",+" +
                      std::to_string(later) + ").";
      d->Field(p + "code", e.status().code(), r.status().code());
      if (e.ok() && r.ok()) CompareOffer(p, *e, *r, d);
    }
    for (uint64_t id = 0; id <= ref.pledge_count() + 1; ++id) {
      auto e = engine.GetPledge(id, at);
      auto r = ref.GetPledge(id, at);
      std::string p = "GetPledge(" + std::to_string(id) + ",+" +
                      std::to_string(later) + ").";
      d->Field(p + "code", e.status().code(), r.status().code());
      if (e.ok() && r.ok()) ComparePledge(p, *e, *r, d);
    }
    if (!d->empty()) return;
  }

  // The keys.
  bool more = false;
  std::vector<ApiKey> keys = engine.ListKeys(0, 1000, &more);
  d->Field("ListKeys.size", keys.size(), ref.keys().size());
  for (size_t i = 0; i < std::min(keys.size(), ref.keys().size()); ++i) {
    CompareKey("ListKeys[" + std::to_string(i) + "].", keys[i], ref.keys()[i],
               d);
  }

  // The buyer registry.
  std::vector<Buyer> buyers = engine.ListBuyers({}, "", 1000, &more);
  d->Field("ListBuyers.size", buyers.size(), ref.buyers().size());
  size_t next_buyer = 0;
  for (const auto& [id, b] : ref.buyers()) {
    if (next_buyer >= buyers.size()) break;
    CompareBuyer("ListBuyers[" + id + "].", buyers[next_buyer++], b, d);
  }

  // The match log.
  std::vector<MatchView> all = engine.ListMatches({}, 0, 1000, &more);
  CompareMatches(all, ref.AllMatches(), d);

  // Filtered order lists: ids in order, read in pages of three.
  std::mt19937_64 rng(seed ^ 0x5eed);
  for (int round = 0; round < 6; ++round) {
    const bool offers = round % 2 == 0;
    OrderFilter f;
    if (rng() % 2) {
      f.owner_id = (offers ? "s" : "b") + std::to_string(1 + rng() % 4);
    }
    if (rng() % 3 == 0) {
      f.product_code_prefix = (rng() % 2) ? "fruit.apple" : "vegetable";
    }
    if (rng() % 3 == 0) {
      f.region_code_prefix =
          (rng() % 2) ? (offers ? "62" : "37") : (offers ? "6212" : "4403");
    }
    f.status = int(rng() % 5);
    Micros at = ref.now() + Micros(rng() % 10);
    auto passes = [&](std::string_view owner, std::string_view product,
                      std::string_view region, OrderStatus status) {
      const std::string& pre = f.product_code_prefix;
      return (f.owner_id.empty() || owner == f.owner_id) &&
             (pre.empty() || product == pre ||
              (product.size() > pre.size() &&
               product.substr(0, pre.size()) == pre &&
               product[pre.size()] == '.')) &&
             region.substr(0, f.region_code_prefix.size()) ==
                 f.region_code_prefix &&
             (f.status == 0 || int(status) == f.status);
    };
    std::ostringstream want, got;
    uint64_t after = 0;
    if (offers) {
      for (uint64_t id = 1; id <= ref.offer_count(); ++id) {
        OfferView v = *ref.GetOffer(id, at);
        if (passes(v.supplier_id, v.product_code, v.region_code, v.status)) {
          want << id << ",";
        }
      }
      for (int page = 0; page < 1000; ++page) {
        bool more_pages = false;
        std::vector<OfferView> vs =
            engine.ListOffers(f, after, 3, at, &more_pages);
        for (const OfferView& v : vs) got << v.offer_id << ",";
        if (!more_pages || vs.empty()) break;
        after = vs.back().offer_id;
      }
    } else {
      for (uint64_t id = 1; id <= ref.pledge_count(); ++id) {
        PledgeView v = *ref.GetPledge(id, at);
        if (passes(v.buyer_id, v.product_code, v.buyer_city_code, v.status)) {
          want << id << ",";
        }
      }
      for (int page = 0; page < 1000; ++page) {
        bool more_pages = false;
        std::vector<PledgeView> vs =
            engine.ListPledges(f, after, 3, at, &more_pages);
        for (const PledgeView& v : vs) got << v.pledge_id << ",";
        if (!more_pages || vs.empty()) break;
        after = vs.back().pledge_id;
      }
    }
    std::ostringstream name;
    name << (offers ? "ListOffers" : "ListPledges") << "(owner=" << f.owner_id
         << " product=" << f.product_code_prefix
         << " region=" << f.region_code_prefix << " status=" << f.status
         << ").ids";
    d->Field(name.str(), got.str(), want.str());
  }
  if (!d->empty()) return;

  // The book, every product, at several read times; last, so that a book
  // difference does not hide an order difference.
  for (Micros later : {Micros{0}, Micros{3}, Micros{20}, Micros{1000000}}) {
    Micros at = ref.now() + later;
    std::map<std::string, BookRow> want;
    for (uint64_t id = 1; id <= ref.offer_count(); ++id) {
      OfferView v = *ref.GetOffer(id, at);
      if (v.status != OrderStatus::kOpen) continue;
      BookRow& row = want[std::string(v.product_code)];
      row.offer_kg += v.remaining_kg;
      ++row.offer_count;
      if (row.best_floor == 0 || v.floor_price_fen_per_kg < row.best_floor) {
        row.best_floor = v.floor_price_fen_per_kg;
      }
    }
    for (uint64_t id = 1; id <= ref.pledge_count(); ++id) {
      PledgeView v = *ref.GetPledge(id, at);
      if (v.status != OrderStatus::kOpen) continue;
      BookRow& row = want[std::string(v.product_code)];
      row.pledge_kg += v.remaining_kg;
      ++row.pledge_count;
      row.best_max = std::max(row.best_max, v.max_price_fen_per_kg);
    }
    std::vector<BookLine> lines = engine.GetBook("", at);
    std::string p = "GetBook(now+" + std::to_string(later) + ")";
    std::string got_order, want_order;
    for (const BookLine& l : lines)
      got_order += std::string(l.product_code) + ",";
    for (const auto& [code, row] : want) want_order += code + ",";
    d->Field(p + ".products", got_order, want_order);
    for (const BookLine& l : lines) {
      auto it = want.find(std::string(l.product_code));
      if (it == want.end()) continue;
      const BookRow& w = it->second;
      std::string q = p + "[" + it->first + "].";
      d->Field(q + "open_offer_kg", l.open_offer_kg, w.offer_kg);
      d->Field(q + "open_offer_count", l.open_offer_count, w.offer_count);
      d->Field(q + "open_pledge_kg", l.open_pledge_kg, w.pledge_kg);
      d->Field(q + "open_pledge_count", l.open_pledge_count, w.pledge_count);
      d->Field(q + "best_floor", l.best_floor_price_fen_per_kg, w.best_floor);
      d->Field(q + "best_max", l.best_max_price_fen_per_kg, w.best_max);
    }
    if (!d->empty()) return;
  }
}

// ---------------------------------------------------------------------------

int64_t EnvInt(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::strtoll(v, nullptr, 10);
}

// What the streams exercised, printed at the end of a run.
struct Stats {
  int64_t commands = 0;
  int64_t matches = 0;
  int64_t replays = 0;
  int64_t buyers = 0;            // UpsertBuyer accepted
  int64_t products = 0;          // UpsertProduct accepted
  int64_t off_catalogue = 0;     // posts refused by a closed catalogue
  int64_t registry_pledges = 0;  // pledges posted without city or kind
  int64_t alliance_pledges = 0;  // pledges with members accepted
  int64_t member_matches = 0;    // matches made for a member
  int64_t clearings = 0;         // Clear commands that ran clearings
  int64_t clearing_kg = 0;       // kg they traded
  std::map<std::string, int64_t> codes;
};
Stats stats;

// Runs one stream. Returns an empty string when engine and reference agree
// throughout, otherwise the first disagreement.
std::string RunStream(uint64_t seed, bool verbose) {
  auto engine = std::make_unique<Engine>();
  ReferenceMatcher ref;
  Generator gen(seed, ref);
  std::vector<Cmd> cmds = gen.Setup();
  std::mt19937_64 len_rng(seed * 7919 + 1);
  size_t regions = cmds.size();
  size_t setup = regions + 1 + len_rng() % 4;  // then 1..4 pairings
  size_t mixed = 30 + len_rng() % 51;          // then 30..80 commands
  // In half the streams the engine is saved and loaded into a fresh one
  // halfway through, which must carry on exactly as the original would.
  size_t reload_at = len_rng() % 2 ? setup + mixed / 2 : 0;
  for (size_t i = 0; i < setup + mixed; ++i) {
    if (i == reload_at) {
      auto loaded = std::make_unique<Engine>();
      absl::Status st = loaded->LoadState(engine->SaveState());
      if (!st.ok() || loaded->StateHash() != engine->StateHash()) {
        return "seed " + std::to_string(seed) + ", before command " +
               std::to_string(i) + ": LoadState(SaveState()) " +
               (st.ok() ? "changed the state hash" : st.ToString()) +
               "\n  replay: DUIJIE_SEED=" + std::to_string(seed) +
               " differential_test\n";
      }
      if (verbose) std::printf("[%zu] (engine saved and reloaded)\n", i);
      engine = std::move(loaded);
    }
    Cmd c =
        i < regions ? cmds[i] : (i < setup ? gen.SetupPairing() : gen.Next());
    if (verbose) std::printf("[%zu] %s\n", i, c.Describe().c_str());
    // Validate is exact unless the tick may reopen pledges (the server
    // then ticks first); the comparison below is skipped then.
    const bool foreseeable = !engine->TickMayReopen(c.command.now);
    const absl::Status predicted = engine->Validate(c.command, c.command.now);
    Outcome e = Execute(*engine, c);
    Outcome r = Execute(ref, c);
    gen.Observe(c, r);
    ++stats.commands;
    ++stats.codes[absl::StatusCodeToString(r.status.code())];
    stats.matches += r.offer.matches.size() + r.pledge.matches.size();
    stats.replays += r.region.replayed || r.pairing.replayed ||
                     r.offer.replayed || r.pledge.replayed || r.key.replayed ||
                     r.buyer.replayed;
    if (r.status.ok() && c.as<UpsertBuyerCommand>() != nullptr) {
      ++stats.buyers;
    }
    if (r.status.ok() && c.as<UpsertProductCommand>() != nullptr) {
      ++stats.products;
    }
    if ((c.as<PostOfferCommand>() != nullptr ||
         c.as<PostPledgeCommand>() != nullptr) &&
        (absl::StrContains(e.status.message(), "is not in the catalogue") ||
         absl::StrContains(e.status.message(), "is a category"))) {
      ++stats.off_catalogue;
    }
    if (const auto* p = c.as<PostPledgeCommand>();
        p && r.status.ok() && !r.pledge.replayed &&
        (p->pledge.buyer_city_code.empty() || p->pledge.buyer_kind == 0)) {
      ++stats.registry_pledges;
    }
    if (const auto* p = c.as<PostPledgeCommand>(); p && r.status.ok() &&
                                                   !r.pledge.replayed &&
                                                   !p->pledge.members.empty()) {
      ++stats.alliance_pledges;
    }
    for (const auto* ms : {&r.offer.matches, &r.pledge.matches}) {
      for (const MatchView& m : *ms) {
        stats.member_matches += !m.member_buyer_id.empty();
      }
    }
    if (r.status.ok() && c.as<ClearCommand>() != nullptr) {
      ++stats.clearings;
      stats.clearing_kg += r.clear.kg;
    }
    Diff d;
    CompareOutcome(c, e, r, &d);
    d.Field("now()", engine->now(), ref.now());
    if (foreseeable && predicted.code() != e.status.code()) {
      d.Note("Validate(command, now) before it said " +
             absl::StatusCodeToString(predicted.code()) +
             ", TickAndApply answered " +
             absl::StatusCodeToString(e.status.code()) + ": " +
             predicted.ToString());
    }
    if (absl::Status invariants = engine->CheckInvariants(); !invariants.ok()) {
      d.Note("CheckInvariants: " + invariants.ToString());
    }
    if (verbose) {
      std::printf("     -> %s%s\n",
                  absl::StatusCodeToString(r.status.code()).c_str(),
                  r.offer.matches.size() + r.pledge.matches.size()
                      ? (" " +
                         std::to_string(r.offer.matches.size() +
                                        r.pledge.matches.size()) +
                         " match(es)")
                            .c_str()
                      : "");
    }
    if (!d.empty()) {
      std::ostringstream s;
      s << "seed " << seed << ", command " << i << ": " << c.Describe() << "\n"
        << d.str() << "  replay: DUIJIE_SEED=" << seed
        << " differential_test\n";
      return s.str();
    }
  }
  Diff d;
  CompareFinalState(*engine, ref, seed, &d);
  if (!d.empty()) {
    std::ostringstream s;
    s << "seed " << seed << ", final state after " << setup + mixed
      << " commands:\n"
      << d.str() << "  replay: DUIJIE_SEED=" << seed << " differential_test\n";
    return s.str();
  }
  return "";
}

// The first differing field of a failure report, without ids and indexes.
std::string Group(const std::string& failure) {
  size_t start = failure.find('\n');
  if (start == std::string::npos) return failure;
  std::string line = failure.substr(start + 1);
  line = line.substr(0, line.find(':'));
  std::string out;
  int depth = 0;
  for (char ch : line) {
    if (ch == '(' || ch == '[') ++depth;
    if (depth == 0) out += ch;
    if (ch == ')' || ch == ']') --depth;
  }
  return out;
}

TEST(DifferentialTest, EngineAgreesWithReferenceOnRandomStreams) {
  int64_t only = EnvInt("DUIJIE_SEED", -1);
  if (only >= 0) {
    std::string failure = RunStream(uint64_t(only), /*verbose=*/true);
    EXPECT_EQ(failure, "");
    return;
  }
  int64_t streams = EnvInt("DUIJIE_DIFF_STREAMS", 10000);
  int64_t base = EnvInt("DUIJIE_SEED_BASE", 1);
  // Failures are grouped by the first field that differs; the first two of
  // each group are printed in full.
  int failures = 0;
  std::map<std::string, int> groups;
  for (int64_t i = 0; i < streams; ++i) {
    std::string failure = RunStream(uint64_t(base + i), /*verbose=*/false);
    if (failure.empty()) continue;
    ++failures;
    std::string group = Group(failure);
    if (groups[group]++ < 2) ADD_FAILURE() << failure;
  }
  std::printf("%lld streams, %d failing\n", static_cast<long long>(streams),
              failures);
  std::printf("%lld commands, %lld matches, %lld replays; reference codes:",
              static_cast<long long>(stats.commands),
              static_cast<long long>(stats.matches),
              static_cast<long long>(stats.replays));
  for (const auto& [code, count] : stats.codes) {
    std::printf(" %s %lld", code.c_str(), static_cast<long long>(count));
  }
  std::printf(
      "\n%lld buyers registered, %lld pledges took city or kind from "
      "the registry\n",
      static_cast<long long>(stats.buyers),
      static_cast<long long>(stats.registry_pledges));
  std::printf("%lld alliance pledges, %lld matches for members\n",
              static_cast<long long>(stats.alliance_pledges),
              static_cast<long long>(stats.member_matches));
  std::printf("%lld batch clearings, %lld kg traded by them\n",
              static_cast<long long>(stats.clearings),
              static_cast<long long>(stats.clearing_kg));
  std::printf("%lld products catalogued, %lld posts refused by the catalogue\n",
              static_cast<long long>(stats.products),
              static_cast<long long>(stats.off_catalogue));
  // The registry's paths are exercised, not merely compiled.
  if (streams >= 100) {
    EXPECT_GT(stats.buyers, 0);
    EXPECT_GT(stats.registry_pledges, 0);
    EXPECT_GT(stats.alliance_pledges, 0);
    EXPECT_GT(stats.member_matches, 0);
    EXPECT_GT(stats.clearing_kg, 0);
    EXPECT_GT(stats.products, 0);
    EXPECT_GT(stats.off_catalogue, 0);
  }
  for (const auto& [group, count] : groups) {
    std::printf("  %6d streams first differ in %s\n", count, group.c_str());
  }
}

}  // namespace
}  // namespace duijie
