// The random command streams of the differential test, shared with the
// tests that need realistic engine states (stats_test): the commands
// (Cmd), what they return (Outcome), running them on the engine or the
// ReferenceMatcher (Execute), and the Generator that draws them. The
// generator reads the reference's state to aim its commands, so a stream
// runs on both.
//
// Everything is in an unnamed namespace: each test includes this header
// once and gets its own copy.
#ifndef DUIJIE_TESTS_RANDOM_STREAM_H_
#define DUIJIE_TESTS_RANDOM_STREAM_H_

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
#include "engine/command.h"
#include "engine/engine.h"
#include "engine/types.h"
#include "tests/reference_matcher.h"

namespace duijie {
namespace {
template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

// ---------------------------------------------------------------------------
// Commands.

// Every body field, spelled out, in Fields() order.
struct FieldPrinter {
  std::ostringstream& s;
  void operator()(const std::string& v) {
    // Control bytes escaped, so that a command stays on one line.
    s << " '";
    for (const char ch : v) {
      const auto b = static_cast<unsigned char>(ch);
      if (b < 0x20 || b == 0x7f) {
        const char* const kHex = "0123456789abcdef";
        s << "\\x" << kHex[b >> 4] << kHex[b & 15];
      } else {
        s << ch;
      }
    }
    s << "'";
  }
  void operator()(int v) { s << " " << v; }
  void operator()(int64_t v) { s << " " << v; }
  void operator()(uint64_t v) { s << " " << v; }
  void operator()(bool v) { s << (v ? " true" : " false"); }
  void operator()(const std::vector<std::string>& v) {
    s << " [";
    for (const std::string& c : v) s << c << ",";
    s << "]";
  }
  void operator()(const std::vector<MemberShare>& v) {
    s << " {";
    for (const MemberShare& m : v)
      s << m.buyer_id << ":" << m.share_permille << ",";
    s << "}";
  }
};

struct Cmd {
  // The engine's command: body, request_id, fingerprint and time.
  Command command;
  // The field a deliberately bad command gets wrong; empty if none.
  std::string defect;

  CommandCode code() const { return command.code(); }
  template <typename Body>
  const Body* as() const {
    return std::get_if<Body>(&command.body);
  }
  template <typename Body>
  Body* as() {
    return std::get_if<Body>(&command.body);
  }

  // The body without now and request_id.
  std::string Body() const {
    std::ostringstream s;
    s << CommandName(code()) << "{";
    ForEachField(command.body, FieldPrinter{s});
    s << " }";
    return s.str();
  }

  std::string Describe() const {
    std::ostringstream s;
    s << "now=" << command.now;
    const std::string& rid = command.request_id;
    if (!rid.empty()) {
      s << " rid=" << (rid.size() > 20 ? rid.substr(0, 20) + "..." : rid);
    }
    s << " " << Body();
    if (const Caller* caller = command.caller.get()) {
      const Principal& p = caller->principal;
      s << " caller{role " << p.role << " suppliers [";
      for (const std::string& id : p.supplier_ids) s << id << ",";
      s << "] buyers [";
      for (const std::string& id : p.buyer_ids) s << id << ",";
      s << "] max_open_orders " << caller->max_open_orders << "}";
    }
    if (!defect.empty()) s << " (defect: " << defect << ")";
    return s.str();
  }
};

// What a command returned, engine or reference.
struct Outcome {
  absl::Status status;
  TickResult tick;
  RegionResult region;
  PairingResult pairing;
  OfferResult offer;
  PledgeResult pledge;
  KeyResult key;
  MatchResult match;

  void Store(TickResult r) { tick = std::move(r); }
  BuyerResult buyer;
  void Store(MatchResult r) { match = std::move(r); }
  void Store(BuyerResult r) { buyer = std::move(r); }
  void Store(KeyResult r) { key = std::move(r); }
  void Store(RegionResult r) { region = std::move(r); }
  void Store(PairingResult r) { pairing = std::move(r); }
  void Store(OfferResult r) { offer = std::move(r); }
  void Store(PledgeResult r) { pledge = std::move(r); }
  ClearingPolicyResult policy;
  ClearResult clear;
  void Store(ClearingPolicyResult r) { policy = std::move(r); }
  void Store(ClearResult r) { clear = r; }
  AlertThresholdsResult thresholds;
  void Store(AlertThresholdsResult r) { thresholds = std::move(r); }
  ProductResult product;
  void Store(ProductResult r) { product = std::move(r); }
};

template <typename R>
void Take(absl::StatusOr<R> r, Outcome* o) {
  o->status = r.status();
  if (r.ok()) o->Store(*std::move(r));
}

// The engine runs the command as it is: a tick to its time, then the
// command (TickAndApply, what the server's writer does in two steps).
Outcome Execute(Engine& e, const Cmd& c) {
  Outcome o;
  absl::StatusOr<CommandResult> r = e.TickAndApply(c.command);
  o.status = r.status();
  if (r.ok()) std::visit([&](auto& result) { o.Store(result); }, *r);
  return o;
}

// The reference gets the same command, unpacked; one case per alternative
// of CommandBody.
Outcome Execute(ReferenceMatcher& m, const Cmd& c) {
  const Caller* caller = c.command.caller.get();
  const ReferenceContext ctx{c.command.now, c.command.request_id,
                             c.command.fingerprint,
                             caller ? &caller->principal : nullptr,
                             caller ? caller->max_open_orders : 0};
  Outcome o;
  std::visit(
      Overloaded{
          [&](const TickCommand&) {
            m.AdvanceClock(ctx.now);
            o.Store(TickResult{m.now(), 0});
          },
          [&](const UpsertRegionCommand& b) {
            Take(m.UpsertRegion(ctx, b.region), &o);
          },
          [&](const UpsertPairingCommand& b) {
            Take(m.UpsertPairing(ctx, b.pairing), &o);
          },
          [&](const DeletePairingCommand& b) {
            Take(m.DeletePairing(ctx, b.east_code, b.west_code), &o);
          },
          [&](const PostOfferCommand& b) {
            Take(m.PostOffer(ctx, b.offer), &o);
          },
          [&](const PostPledgeCommand& b) {
            Take(m.PostPledge(ctx, b.pledge), &o);
          },
          [&](const CancelOfferCommand& b) {
            Take(m.CancelOffer(ctx, b.offer_id), &o);
          },
          [&](const CancelPledgeCommand& b) {
            Take(m.CancelPledge(ctx, b.pledge_id), &o);
          },
          [&](const CreateKeyCommand& b) {
            Take(m.CreateKey(ctx, b.principal, b.secret_sha256, b.expires_at),
                 &o);
          },
          [&](const RevokeKeyCommand& b) {
            Take(m.RevokeKey(ctx, b.key_id), &o);
          },
          [&](const ShipMatchCommand& b) {
            Take(m.ShipMatch(ctx, b.match_id, b.shipped_kg, b.note), &o);
          },
          [&](const AcceptMatchCommand& b) {
            Take(m.AcceptMatch(ctx, b.match_id, b.accepted_kg), &o);
          },
          [&](const DeclineMatchCommand& b) {
            Take(m.DeclineMatch(ctx, b.match_id, b.reason), &o);
          },
          [&](const UpsertBuyerCommand& b) {
            Take(m.UpsertBuyer(ctx, b.buyer), &o);
          },
          [&](const AmendOfferCommand& b) {
            Take(m.AmendOffer(ctx, b.offer_id, AmendmentOf(b)), &o);
          },
          [&](const AmendPledgeCommand& b) {
            Take(m.AmendPledge(ctx, b.pledge_id, AmendmentOf(b)), &o);
          },
          [&](const SetClearingPolicyCommand& b) {
            Take(m.SetClearingPolicy(ctx, b.product_prefix, b.interval), &o);
          },
          [&](const ClearCommand&) { Take(m.Clear(ctx), &o); },
          [&](const SetAlertThresholdsCommand& b) {
            Take(m.SetAlertThresholds(ctx, b.thresholds), &o);
          },
          [&](const UpsertProductCommand& b) {
            Take(m.UpsertProduct(ctx, b.product), &o);
          },
      },
      c.command.body);
  return o;
}

// ---------------------------------------------------------------------------
// The random stream generator. It keeps at most one defect per command and
// avoids the combinations whose answer would depend on the order of checks.

const char* const kProvinces[] = {"620000", "450000", "370000", "440000"};
const char* const kPrefectures[] = {"620100", "621200", "450100", "450300",
                                    "370200", "370300", "440100", "440300"};
// Weighted by repetition; "fruit.apples" catches string-prefix matching.
const char* const kOfferProducts[] = {"vegetable.cabbage", "vegetable.cabbage",
                                      "vegetable.potato",  "fruit.apple",
                                      "fruit.apple.fuji",  "fruit.apples",
                                      "vegetable",         "tea.selenium"};
const char* const kPledgeProducts[] = {"vegetable",
                                       "vegetable",
                                       "vegetable.cabbage",
                                       "fruit",
                                       "fruit",
                                       "fruit.apple",
                                       "fruit.apples",
                                       "vegetable.potato",
                                       "fruit.apple.fuji",
                                       "tea"};
const char* const kBadRegionCodes[] = {"62010",  "6201000",     "62a100",
                                       "",       "000100",      "620012",
                                       "62 100", "６２０１００"};
const char* const kBadProducts[] = {"",
                                    "Vegetable",
                                    "vegetable.",
                                    ".vegetable",
                                    "vegetable..cabbage",
                                    "1vegetable",
                                    "vegetable-cabbage",
                                    "a.b.c.d.e.f.g",
                                    "vegetable._cabbage"};

// How often Generator::Next makes a fresh command of each kind, per 100
// draws, by command code; the draws left over repeat earlier requests
// (kRepeatWeight), reuse a request_id for another body (kReuseWeight) or
// post once more.
constexpr std::array<int, kMaxCommandCode + 1> kFreshWeight = [] {
  std::array<int, kMaxCommandCode + 1> w{};
  w[static_cast<int>(CommandCode::kTick)] = 2;
  w[static_cast<int>(CommandCode::kUpsertRegion)] = 2;
  w[static_cast<int>(CommandCode::kUpsertPairing)] = 4;
  w[static_cast<int>(CommandCode::kDeletePairing)] = 2;
  w[static_cast<int>(CommandCode::kPostOfferWithDeadlines)] = 18;
  w[static_cast<int>(CommandCode::kPostPledgeWithDeadlines)] = 17;
  w[static_cast<int>(CommandCode::kCancelOffer)] = 6;
  w[static_cast<int>(CommandCode::kCancelPledge)] = 6;
  w[static_cast<int>(CommandCode::kCreateKey)] = 2;
  w[static_cast<int>(CommandCode::kRevokeKey)] = 1;
  w[static_cast<int>(CommandCode::kShipMatch)] = 5;
  w[static_cast<int>(CommandCode::kAcceptMatch)] = 3;
  w[static_cast<int>(CommandCode::kDeclineMatch)] = 2;
  w[static_cast<int>(CommandCode::kUpsertBuyer)] = 3;
  w[static_cast<int>(CommandCode::kAmendOffer)] = 4;
  w[static_cast<int>(CommandCode::kAmendPledge)] = 4;
  w[static_cast<int>(CommandCode::kSetClearingPolicy)] = 2;
  w[static_cast<int>(CommandCode::kSetAlertThresholds)] = 2;
  w[static_cast<int>(CommandCode::kClear)] = 2;
  w[static_cast<int>(CommandCode::kUpsertProduct)] = 1;
  // kPostOffer and kPostPledge are the old layouts: read back from old
  // journals, never sent.
  return w;
}();
constexpr int kRepeatWeight = 8;
constexpr int kReuseWeight = 4;
template <size_t... I>
constexpr bool EveryKindIsDrawnIn(std::index_sequence<I...>) {
  return ((kFreshWeight[static_cast<int>(
               std::variant_alternative_t<I, CommandBody>::kCode)] > 0) &&
          ...);
}
constexpr bool EveryKindIsDrawn() {
  return EveryKindIsDrawnIn(
      std::make_index_sequence<std::variant_size_v<CommandBody>>());
}
static_assert(EveryKindIsDrawn(), "every command kind must be generated");
constexpr bool DrawsFitIn100() {
  int sum = kRepeatWeight + kReuseWeight;
  for (int w : kFreshWeight) sum += w;
  return sum <= 100;
}
static_assert(DrawsFitIn100(), "the weights are per 100 draws");

// How often a command other than a tick carries a caller, and how often a
// caller has an open-order limit.
constexpr double kCallerChance = 0.35;
constexpr double kLimitChance = 0.3;

class Generator {
 public:
  Generator(uint64_t seed, const ReferenceMatcher& ref)
      : rng_(seed), ref_(ref) {
    for (const char* p : kProvinces) universe_.push_back(p);
    for (const char* p : kPrefectures) {
      universe_.push_back(p);
      std::string base(p, 4);
      universe_.push_back(base + "02");
      universe_.push_back(base + "03");
    }
    universe_.push_back("520000");  // Guizhou: never registered at setup
    universe_.push_back("520100");
    now_ = 1'000'000'000 + Int(0, 1000);
    // A third of the streams close the catalogue; in the others every
    // upsert is refused, so offers of categories keep matching there.
    closes_catalogue_ = seed % 3 == 0;
  }

  // Prices are drawn from their ranges times `scale` (1: a few fen, where
  // equal prices are common; larger: prices of real produce, spread over
  // many price bands of the alert monitor).
  void set_price_scale(int64_t scale) { price_scale_ = scale; }

  // The setup: most regions, a few pairings.
  std::vector<Cmd> Setup() {
    std::vector<Cmd> out;
    std::vector<std::string> codes(universe_.begin(), universe_.end() - 2);
    std::shuffle(codes.begin(), codes.end(), rng_);
    for (const std::string& code : codes) {
      if (!Chance(0.85)) continue;
      out.push_back(Finish(RegionCmd(code), /*keep_rid=*/false));
      out.back().command.caller = nullptr;  // the setup is trusted
    }
    return out;
  }

  // A pairing command for the end of the setup.
  Cmd SetupPairing() {
    Cmd c = Finish(Fresh(CommandCode::kUpsertPairing), /*keep_rid=*/false);
    c.command.caller = nullptr;
    return c;
  }

  // Called after each command with the reference's answer.
  void Observe(const Cmd& c, const Outcome& r) {
    if (!c.command.request_id.empty()) {
      history_.push_back({c, r.status.ok()});
      if (r.status.ok()) accepted_rids_.insert(c.command.request_id);
    }
    if (!r.status.ok()) return;
    if (const auto* b = c.as<UpsertRegionCommand>()) {
      known_.insert(b->region.code);
    }
    if (const auto* b = c.as<UpsertPairingCommand>();
        b && !r.pairing.replayed) {
      pairings_.insert({b->pairing.east_code, b->pairing.west_code});
    }
    if (const auto* b = c.as<DeletePairingCommand>();
        b && !r.pairing.replayed) {
      pairings_.erase({b->east_code, b->west_code});
    }
  }

  Cmd Next() {
    StepClock();
    int roll = Int(0, 99);
    // A fresh command of a kind drawn by weight...
    for (uint8_t code = 0; code <= kMaxCommandCode; ++code) {
      if (roll < kFreshWeight[code]) {
        return Finish(Fresh(static_cast<CommandCode>(code)),
                      /*keep_rid=*/false);
      }
      roll -= kFreshWeight[code];
    }
    // ...or an earlier request again...
    if (roll < kRepeatWeight && !history_.empty()) {
      if (auto rep = Repeat()) return Finish(*rep, /*keep_rid=*/true);
      return Finish(Fresh(CommandCode::kPostOfferWithDeadlines),
                    /*keep_rid=*/false);
    }
    // ...or a different, valid body under a request_id used before...
    if (roll < kRepeatWeight + kReuseWeight && !history_.empty()) {
      Cmd c = Fresh(Chance(0.5) ? CommandCode::kPostOfferWithDeadlines
                                : CommandCode::kPostPledgeWithDeadlines,
                    /*allow_defect=*/false);
      c.command.request_id =
          history_[Int(0, int(history_.size()) - 1)].cmd.command.request_id;
      return Finish(c, /*keep_rid=*/true);
    }
    // ...or one more post.
    return Finish(Fresh(Chance(0.5) ? CommandCode::kPostOfferWithDeadlines
                                    : CommandCode::kPostPledgeWithDeadlines),
                  /*keep_rid=*/false);
  }

 private:
  struct Past {
    Cmd cmd;
    bool accepted;
  };

  int64_t Price(int64_t lo, int64_t hi) {
    return Int(lo * price_scale_, hi * price_scale_);
  }
  int64_t Int(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <typename T, size_t N>
  std::string Pick(const T (&a)[N]) {
    return a[Int(0, N - 1)];
  }
  std::string Any() { return universe_[Int(0, universe_.size() - 1)]; }
  std::string Known() {
    if (known_.empty()) return Any();
    auto it = known_.begin();
    std::advance(it, Int(0, known_.size() - 1));
    return *it;
  }
  std::string Unknown() {
    for (int i = 0; i < 20; ++i) {
      std::string c = Any();
      if (!known_.count(c)) return c;
    }
    return "529900";
  }
  // The time commands run at: the later of the clock and `now_`.
  Micros Effective() const { return std::max(now_, ref_.now()); }

  void StepClock() {
    int roll = Int(0, 99);
    if (roll < 25) return;
    if (roll < 28) {
      now_ -= Int(1, 6);  // a late command: the clock must not go back
      return;
    }
    now_ = std::max(now_, ref_.now()) + Int(1, 4);
  }

  // Stamps the time, a request_id (none for ticks, which have none), and
  // the engine's canonical fingerprint, which the reference compares too.
  Cmd Finish(Cmd c, bool keep_rid) {
    c.command.now = now_;
    // A repeat keeps its caller half the time: the same request from
    // someone else must be authorised anew.
    if (c.code() != CommandCode::kTick && (!keep_rid || Chance(0.5))) {
      c.command.caller = Chance(kCallerChance) ? RandomCaller() : nullptr;
    }
    if (!keep_rid && c.code() != CommandCode::kTick) {
      if (c.defect == "request_id") {
        c.command.request_id = std::string(129, 'r');
      } else if (Chance(0.35)) {
        c.command.request_id = "rq" + std::to_string(++rid_counter_);
      }
    }
    c.command.fingerprint =
        c.command.request_id.empty() ? 0 : CommandFingerprint(c.command);
    return c;
  }

  // A previous command again, same request_id and body. Skipped when its
  // answer would depend on the order of checks: it was rejected and its
  // request_id has since been taken by an accepted command.
  std::optional<Cmd> Repeat() {
    const Past& p = history_[Int(0, int(history_.size()) - 1)];
    if (!p.accepted && accepted_rids_.count(p.cmd.command.request_id)) {
      return std::nullopt;
    }
    if (p.cmd.defect == "request_id") return std::nullopt;
    // A rejected amendment can meet a different first defect later (the
    // order filled, its matched kilograms grew): not worth a repeat.
    if (!p.accepted && (p.cmd.as<AmendOfferCommand>() != nullptr ||
                        p.cmd.as<AmendPledgeCommand>() != nullptr)) {
      return std::nullopt;
    }
    // A rejected command runs again in full: skip it where time has given
    // its body a second defect, an expiry now in the past.
    const auto* offer = p.cmd.as<PostOfferCommand>();
    const auto* pledge = p.cmd.as<PostPledgeCommand>();
    Micros expires = offer    ? offer->offer.expires_at
                     : pledge ? pledge->pledge.expires_at
                              : 0;
    if (!p.accepted && expires != 0 && expires <= Effective() &&
        p.cmd.defect != "expires_at" && !p.cmd.defect.empty()) {
      return std::nullopt;
    }
    return p.cmd;
  }

  // A fresh command of kind `code`: that alternative of CommandBody, filled
  // by its Fill overload.
  Cmd Fresh(CommandCode code, bool allow_defect = true) {
    Cmd c;
    const bool known = BodyForCode(static_cast<uint8_t>(code), &c.command.body);
    EXPECT_TRUE(known) << static_cast<int>(code);
    std::visit([&](auto& body) { Fill(body, &c, allow_defect); },
               c.command.body);
    return c;
  }

  // --- One Fill per alternative of CommandBody -----------------------------

  // Now and then a tick jumps hours ahead, past the deadlines of matches.
  void Fill(TickCommand&, Cmd*, bool) {
    if (Chance(0.3)) now_ = Effective() + Int(kHour / 2, 2 * kHour);
  }

  void Fill(UpsertRegionCommand& b, Cmd* c, bool) {
    FillRegion(Chance(0.7) ? Known() : Any(), &b.region, c);
  }

  // Pairings at province and prefecture level mostly, counties sometimes.
  void Fill(UpsertPairingCommand& b, Cmd* c, bool) {
    Pairing& p = b.pairing;
    p.east_code = PairingSide(/*east=*/true);
    p.west_code = PairingSide(/*east=*/false);
    p.note = Chance(0.5) ? "" : "note " + std::to_string(Int(0, 3));
    // Unknown sides are NOT_FOUND; keep the command otherwise sound.
    if (!known_.count(p.east_code) || !known_.count(p.west_code)) {
      c->defect = "unknown";
    }
    if (c->defect.empty() && Chance(0.05)) {
      int roll = Int(0, 2);
      if (roll == 0) {
        p.east_code = Pick(kBadRegionCodes);
        c->defect = "east_code";
      } else if (roll == 1) {
        p.west_code = Pick(kBadRegionCodes);
        c->defect = "west_code";
      } else {
        p.note = std::string(257, 'x');
        c->defect = "note";
      }
    }
  }

  void Fill(DeletePairingCommand& b, Cmd* c, bool) {
    if (!pairings_.empty() && Chance(0.75)) {
      auto it = pairings_.begin();
      std::advance(it, Int(0, pairings_.size() - 1));
      b.east_code = it->first;
      b.west_code = it->second;
    } else {
      b.east_code = PairingSide(/*east=*/true);
      b.west_code = PairingSide(/*east=*/false);
      if (Chance(0.1)) {
        b.west_code = Pick(kBadRegionCodes);
        c->defect = "west_code";
      }
    }
  }

  void Fill(PostOfferCommand& b, Cmd* c, bool allow_defect) {
    OfferSpec& o = b.offer;
    o.supplier_id = "s" + std::to_string(Int(1, 4));
    o.region_code = Known();
    o.product_code = Pick(kOfferProducts);
    o.grade = int(Int(1, 3));
    o.quantity_kg = Chance(0.7) ? Int(1, 40) : Int(41, 150);
    o.floor_price_fen_per_kg = Price(5, 12);
    o.min_lot_kg =
        Chance(0.65) ? 0 : Int(1, std::min<int64_t>(o.quantity_kg, 25));
    o.expires_at = Effective() + ExpiresIn();
    o.ship_within = Within();
    o.certified = Chance(0.7);
    o.households = Int(0, 5);
    if (!known_.count(o.region_code)) c->defect = "unknown";
    if (!allow_defect) MakeValid(c);
    if (allow_defect && c->defect.empty() && Chance(0.07)) OfferDefect(o, c);
  }

  void Fill(PostPledgeCommand& b, Cmd* c, bool allow_defect) {
    PledgeSpec& p = b.pledge;
    p.buyer_id = "b" + std::to_string(Int(1, 4));
    p.buyer_city_code = Known();
    p.buyer_kind = int(Int(1, kMaxBuyerKind));
    // A registered buyer mostly leaves city and kind to the registry, or
    // gives the registered ones; now and then a random pair, which is
    // refused when it disagrees.
    if (auto it = ref_.buyers().find(p.buyer_id); it != ref_.buyers().end()) {
      const int roll = int(Int(0, 9));
      if (roll < 5) {
        p.buyer_city_code = Chance(0.8) ? "" : it->second.city_code;
        p.buyer_kind = Chance(0.8) ? 0 : it->second.kind;
      } else if (roll < 9) {
        p.buyer_city_code = it->second.city_code;
        p.buyer_kind = it->second.kind;
      } else if (p.buyer_city_code != it->second.city_code ||
                 p.buyer_kind != it->second.kind) {
        c->defect = "disagrees";
      }
    }
    p.product_code = Pick(kPledgeProducts);
    {
      int g = int(Int(0, 9));  // mostly "any" or GRADE_SECOND
      p.min_grade = g < 4 ? 0 : (g < 7 ? 3 : (g < 9 ? 2 : 1));
    }
    p.quantity_kg = Chance(0.7) ? Int(1, 60) : Int(61, 200);
    p.max_price_fen_per_kg = Price(6, 18);
    p.budget_fen =
        Chance(0.6) ? 0 : Int(1, p.quantity_kg * p.max_price_fen_per_kg);
    p.min_lot_kg =
        Chance(0.65) ? 0 : Int(1, std::min<int64_t>(p.quantity_kg, 30));
    p.expires_at = Effective() + ExpiresIn();
    p.accept_within = Within();
    if (Chance(0.15)) {  // a standing pledge, ending at its expiry
      Recurrence& r = p.recurrence;
      r.period = int(Int(1, 3));
      r.quantity_kg = Chance(0.7) ? Int(1, 60) : Int(61, 200);
      r.budget_fen = Chance(0.6) ? 0 : Int(1, r.quantity_kg * 18);
      r.carry_over = Chance(0.5);
      r.until = p.expires_at;
      if (p.min_lot_kg > r.quantity_kg) p.min_lot_kg = r.quantity_kg;
    }
    int roll = Int(0, 9);
    p.scope = roll < 5 ? 0 : (roll < 8 ? 1 : 2);
    if (p.scope == 2) {
      int n = int(Int(1, 3));
      for (int i = 0; i < n; ++i) {
        p.region_codes.push_back(Chance(0.4) ? Pick(kProvinces) : Known());
      }
    }
    p.require_certified = Chance(0.2);
    // A budget buys at least one lot at the max price (else the pledge is
    // refused); raised after the draws, so the stream draws as before.
    const int64_t lot_fen =
        std::max<int64_t>(p.min_lot_kg, 1) * p.max_price_fen_per_kg;
    if (p.budget_fen > 0) p.budget_fen = std::max(p.budget_fen, lot_fen);
    if (p.recurrence.budget_fen > 0) {
      p.recurrence.budget_fen = std::max(p.recurrence.budget_fen, lot_fen);
    }
    if (Chance(0.15)) AllianceMembers(p, c, allow_defect);
    if (!known_.count(p.buyer_city_code) && c->defect.empty() &&
        !p.buyer_city_code.empty()) {
      c->defect = "unknown";
    }
    for (const std::string& rc : p.region_codes) {
      if (!known_.count(rc)) c->defect = "unknown";
    }
    if (!allow_defect) MakeValid(c);
    if (allow_defect && c->defect.empty() && Chance(0.07)) PledgeDefect(p, c);
  }

  // Makes `p` a pledge of alliance a1 or a2 (never a registered buyer, so
  // it gives its city and kind) for some of the alliance's registered
  // members, the shares drawn to sum to 1000; now and then one share is off
  // by one. With no member registered yet it stays a plain pledge.
  void AllianceMembers(PledgeSpec& p, Cmd* c, bool allow_defect) {
    p.buyer_id = "a" + std::to_string(Int(1, 2));
    if (p.buyer_city_code.empty()) p.buyer_city_code = Known();
    if (p.buyer_kind == 0) p.buyer_kind = int(Int(1, kMaxBuyerKind));
    if (c->defect == "disagrees") c->defect.clear();
    std::vector<std::string> members;
    for (const auto& [id, b] : ref_.buyers()) {
      if (b.alliance_id == p.buyer_id && (members.empty() || Chance(0.7))) {
        members.push_back(id);
      }
    }
    if (members.empty()) return;
    // Listed in a random order: the engine keeps them by buyer_id.
    std::shuffle(members.begin(), members.end(), rng_);
    int64_t left = 1000;
    for (size_t i = 0; i < members.size(); ++i) {
      const int64_t rest = int64_t(members.size() - i - 1);
      const int64_t share = rest == 0 ? left : Int(1, left - rest);
      p.members.push_back({members[i], share});
      left -= share;
    }
    if (allow_defect && c->defect.empty() && Chance(0.1)) {
      p.members[0].share_permille += Chance(0.5) ? 1 : -1;
      c->defect = "members";
    }
  }

  void Fill(CancelOfferCommand& b, Cmd*, bool) {
    b.offer_id = CancelId(ref_.offer_count());
  }

  void Fill(CancelPledgeCommand& b, Cmd*, bool) {
    b.pledge_id = CancelId(ref_.pledge_count());
  }

  void Fill(CreateKeyCommand& b, Cmd* c, bool allow_defect) {
    FillPrincipal(RandomRole(), &b.principal);
    b.principal.name = "key " + std::to_string(++hash_counter_);
    b.secret_sha256 = Hash(hash_counter_);
    b.expires_at = Chance(0.5) ? 0 : Effective() + Int(1, 1000);
    if (allow_defect && Chance(0.3)) KeyDefect(b, c);
  }

  void Fill(RevokeKeyCommand& b, Cmd*, bool) {
    b.key_id = CancelId(ref_.keys().size());
  }

  void Fill(ShipMatchCommand& b, Cmd* c, bool allow_defect) {
    b.match_id = MatchId(MatchStatus::kMatched);
    const int64_t q = KgOf(b.match_id, /*shipped=*/false);
    b.shipped_kg = Chance(0.6) ? 0 : Int(1, std::max<int64_t>(1, q));
    b.note = Chance(0.5) ? "" : "waybill " + std::to_string(Int(1, 9));
    if (allow_defect && Chance(0.05)) {
      b.shipped_kg = Chance(0.5) ? -1 : q + 1;
      c->defect = "shipped_kg";
    }
  }

  void Fill(AcceptMatchCommand& b, Cmd* c, bool allow_defect) {
    b.match_id = MatchId(MatchStatus::kShipped);
    const int64_t q = KgOf(b.match_id, /*shipped=*/true);
    b.accepted_kg = Chance(0.6) ? 0 : Int(1, std::max<int64_t>(1, q));
    if (allow_defect && Chance(0.05)) {
      b.accepted_kg = Chance(0.5) ? -1 : q + 1;
      c->defect = "accepted_kg";
    }
  }

  void Fill(DeclineMatchCommand& b, Cmd* c, bool allow_defect) {
    b.match_id = MatchId(MatchStatus::kShipped);
    b.reason =
        Chance(0.5) ? "spoiled" : "short by " + std::to_string(Int(1, 9));
    if (allow_defect && Chance(0.05)) {
      b.reason = Chance(0.5) ? "" : std::string(257, 'r');
      c->defect = "reason";
    }
  }

  // Batch clearing on and off, for everything or a category, hourly or
  // half-hourly; now and then a bad prefix or interval.
  void Fill(SetClearingPolicyCommand& b, Cmd* c, bool allow_defect) {
    static constexpr const char* kPrefixes[] = {"", "vegetable",
                                                "vegetable.cabbage", "fruit"};
    static constexpr Micros kIntervals[] = {0, kHour / 2, kHour, 2 * kHour};
    b.product_prefix = kPrefixes[Int(0, 3)];
    b.interval = kIntervals[Int(0, 3)];
    if (allow_defect && Chance(0.1)) {
      if (Chance(0.5)) {
        b.interval = 1500;
        c->defect = "interval";
      } else {
        b.product_prefix = "Vegetable";
        c->defect = "product_prefix";
      }
    }
  }
  // Alert thresholds for everything or a category, tight enough that
  // alerts are raised and cleared as the book moves; now and then a bad
  // category, horizon or permille.
  void Fill(SetAlertThresholdsCommand& b, Cmd* c, bool allow_defect) {
    static constexpr const char* kCategories[] = {"", "vegetable", "fruit"};
    AlertThresholds& t = b.thresholds;
    t.category = kCategories[Int(0, 2)];
    t.horizon = Int(1, 96) * kHour;
    t.min_gap_kg = Int(1, 500);
    t.min_ratio_permille = Int(1000, 3000);
    t.clear_permille = Int(0, 1000);
    if (allow_defect && Chance(0.1)) {
      switch (Int(0, 3)) {
        case 0:
          t.category = "vegetable.cabbage";
          c->defect = "thresholds.category";
          break;
        case 1:
          t.horizon = kHour / 2;
          c->defect = "thresholds.horizon";
          break;
        case 2:
          t.min_ratio_permille = 999;
          c->defect = "thresholds.min_ratio_permille";
          break;
        default:
          t.clear_permille = 1001;
          c->defect = "thresholds.clear_permille";
          break;
      }
    }
  }
  // Products of the streams' codes and a few more ("fruit.apples" only
  // under a catalogued "fruit"), with or without a shelf life. In streams
  // that keep the catalogue open each one has a defect (or an unknown
  // parent); in the others now and then.
  void Fill(UpsertProductCommand& b, Cmd* c, bool allow_defect) {
    static constexpr const char* kCodes[] = {
        "vegetable",   "vegetable.cabbage", "vegetable.potato",
        "fruit",       "fruit.apple",       "fruit.apple.fuji",
        "tea",         "tea.selenium",      "grain.rice",
        "fruit.apples"};
    Product& p = b.product;
    p.code = Pick(kCodes);
    p.name = "name " + std::to_string(Int(0, 3));
    p.unit_note = Chance(0.5) ? "" : "per box";
    p.perishability = Int(1, 3);
    p.shelf_life = Chance(0.3) ? 0 : Int(1, 400) * 24 * kHour;
    if (!closes_catalogue_ || (allow_defect && Chance(0.1))) {
      switch (Int(0, 4)) {
        case 0:
          p.code = Pick(kBadProducts);
          c->defect = "product.code";
          break;
        case 1:
          p.name = "";
          c->defect = "product.name";
          break;
        case 2:
          p.perishability = Chance(0.5) ? 0 : 4;
          c->defect = "product.perishability";
          break;
        case 3:
          p.shelf_life = Chance(0.5) ? kHour / 2 : kHour + 1;
          c->defect = "product.shelf_life";
          break;
        default:
          p.code = "spice.pepper";  // "spice" is never catalogued
          c->defect = "unknown";
          break;
      }
    }
  }
  // At the next clearing's time, when there is one (else refused).
  void Fill(ClearCommand&, Cmd*, bool) {
    const Micros next = ref_.NextClearingAt();
    if (next != std::numeric_limits<Micros>::max() && next > now_) now_ = next;
  }

  // The buyers the pledges name, mostly in known cities, in two alliances.
  void Fill(UpsertBuyerCommand& b, Cmd* c, bool allow_defect) {
    Buyer& buyer = b.buyer;
    buyer.buyer_id = "b" + std::to_string(Int(1, 4));
    buyer.name = "buyer unit " + std::to_string(Int(1, 99));
    buyer.city_code = Chance(0.9) ? Known() : Any();
    buyer.kind = int(Int(1, kMaxBuyerKind));
    buyer.annual_target_fen = Chance(0.2) ? 0 : Int(1, 100000);
    const int alliance = int(Int(0, 2));
    buyer.alliance_id = alliance == 0 ? "" : "a" + std::to_string(alliance);
    if (!known_.count(buyer.city_code)) c->defect = "unknown";
    if (!allow_defect || !c->defect.empty() || !Chance(0.15)) return;
    switch (Int(0, 4)) {
      case 0:
        buyer.name = Chance(0.5) ? "" : std::string(65, 'n');
        c->defect = "buyer.name";
        break;
      case 1:
        buyer.kind = Chance(0.5) ? 0 : kMaxBuyerKind + 1;
        c->defect = "buyer.kind";
        break;
      case 2:
        buyer.annual_target_fen = -Int(1, 100);
        c->defect = "buyer.annual_target_fen";
        break;
      case 3:
        buyer.alliance_id = std::string(65, 'a');
        c->defect = "buyer.alliance_id";
        break;
      default:
        buyer.city_code = "12345";
        c->defect = "buyer.city_code";
        break;
    }
  }

  // Amendments of mostly existing orders: as often down as up, sometimes
  // to exactly what was matched (which fills the order), with the other
  // terms kept valid unless a defect is drawn.
  void Fill(AmendOfferCommand& b, Cmd* c, bool allow_defect) {
    b.offer_id = CancelId(ref_.offer_count());
    absl::StatusOr<OfferView> v = ref_.GetOffer(b.offer_id, Effective());
    const int64_t quantity = v.ok() ? v->quantity_kg : 40;
    const int64_t matched = v.ok() ? v->quantity_kg - v->remaining_kg : 0;
    int64_t new_quantity = quantity;
    if (Chance(0.5)) {
      b.has_quantity_kg = true;
      const int roll = int(Int(0, 9));
      new_quantity = roll < 4   ? Int(std::max<int64_t>(matched, 1), quantity)
                     : roll < 8 ? quantity + Int(1, 60)
                                : std::max<int64_t>(matched, 1);
      b.quantity_kg = new_quantity;
    }
    // Half the time a term is copied from another order, so that equal
    // terms are common and the queue place decides between them.
    std::optional<OfferView> other;
    if (ref_.offer_count() > 0 && Chance(0.5)) {
      absl::StatusOr<OfferView> o =
          ref_.GetOffer(Int(1, ref_.offer_count()), Effective());
      if (o.ok()) other = *o;
    }
    if (Chance(0.5)) {
      b.has_floor_price = true;
      b.floor_price_fen_per_kg =
          other ? other->floor_price_fen_per_kg : Price(4, 14);
    }
    if (Chance(0.3) || (v.ok() && v->min_lot_kg > new_quantity)) {
      b.has_min_lot = true;
      b.min_lot_kg =
          Chance(0.5) ? 0 : Int(0, std::min<int64_t>(new_quantity, 25));
    }
    if (Chance(0.3) || (other && other->expires_at > Effective())) {
      b.has_expires_at = true;
      b.expires_at =
          other && other->expires_at > Effective()
              ? other->expires_at
              : Effective() + (Chance(0.2) ? Int(1, 6) : Int(10, 120));
    }
    if (Chance(0.2)) {
      b.has_ship_within = true;
      b.ship_within = Int(1, 24 * 366) * 3600 * int64_t{1000000};
    }
    if (!allow_defect || !Chance(0.1)) return;
    switch (Int(0, 5)) {
      case 0:
        if (matched == 0) break;
        b.has_quantity_kg = true;
        b.quantity_kg = matched - 1;
        b.has_min_lot = true;
        b.min_lot_kg = 0;
        c->defect = "quantity_kg";
        break;
      case 1:
        b.has_floor_price = true;
        b.floor_price_fen_per_kg = Chance(0.5) ? 0 : (int64_t{1} << 30) + 1;
        c->defect = "floor_price_fen_per_kg";
        break;
      case 2:
        b.has_min_lot = true;
        b.min_lot_kg = Chance(0.5) ? -1 : new_quantity + Int(1, 5);
        c->defect = "min_lot_kg";
        break;
      case 3:
        b.has_expires_at = true;
        b.expires_at = Effective() - Int(0, 5);
        c->defect = "expires_at";
        break;
      case 4:
        b.has_ship_within = true;
        b.ship_within = Chance(0.5) ? 3600 * int64_t{1000000} - 1
                                    : Micros{367} * 86400 * 1000000;
        c->defect = "ship_within";
        break;
      default:
        break;  // valid after all
    }
  }

  void Fill(AmendPledgeCommand& b, Cmd* c, bool allow_defect) {
    b.pledge_id = CancelId(ref_.pledge_count());
    absl::StatusOr<PledgeView> v = ref_.GetPledge(b.pledge_id, Effective());
    const int64_t quantity = v.ok() ? v->quantity_kg : 60;
    const int64_t matched = v.ok() ? v->quantity_kg - v->remaining_kg : 0;
    const int64_t spent = v.ok() ? v->spent_fen : 0;
    int64_t new_quantity = quantity;
    if (Chance(0.5)) {
      b.has_quantity_kg = true;
      const int roll = int(Int(0, 9));
      new_quantity = roll < 4   ? Int(std::max<int64_t>(matched, 1), quantity)
                     : roll < 8 ? quantity + Int(1, 80)
                                : std::max<int64_t>(matched, 1);
      b.quantity_kg = new_quantity;
    }
    if (Chance(0.5)) {
      b.has_max_price = true;
      b.max_price_fen_per_kg = Price(5, 18);
      // Often another pledge's price: equal prices leave it to the queue.
      if (ref_.pledge_count() > 0 && Chance(0.6)) {
        absl::StatusOr<PledgeView> o =
            ref_.GetPledge(Int(1, ref_.pledge_count()), Effective());
        if (o.ok()) b.max_price_fen_per_kg = o->max_price_fen_per_kg;
      }
    }
    if (Chance(0.3)) {
      b.has_budget = true;
      const int64_t budget = v.ok() ? v->budget_fen : 0;
      const int roll = int(Int(0, 4));
      b.budget_fen = roll == 0   ? 0
                     : roll == 1 ? spent
                     : roll == 2 ? std::max(budget, spent) + Int(1, 300)
                                 : spent + Int(1, 600);
    }
    // A standing pledge's min lot also stays within each period's kg.
    const int64_t lot_cap =
        v.ok() && v->recurrence.period != 0
            ? std::min(new_quantity, v->recurrence.quantity_kg)
            : new_quantity;
    if (Chance(0.3) || (v.ok() && v->min_lot_kg > lot_cap)) {
      b.has_min_lot = true;
      b.min_lot_kg = Chance(0.5) ? 0 : Int(0, std::min<int64_t>(lot_cap, 30));
    }
    if (Chance(0.3)) {
      b.has_expires_at = true;
      b.expires_at = Effective() + (Chance(0.2) ? Int(1, 6) : Int(10, 120));
    }
    if (Chance(0.3)) {
      b.has_scope = true;
      const int roll = int(Int(0, 9));
      b.scope = roll < 4 ? 0 : (roll < 7 ? 1 : 2);
      if (b.scope == 2) {
        const int n = int(Int(1, 3));
        for (int i = 0; i < n; ++i) {
          b.region_codes.push_back(Chance(0.4) ? Pick(kProvinces) : Known());
        }
        for (const std::string& rc : b.region_codes) {
          if (!known_.count(rc)) c->defect = "unknown";
        }
      }
    }
    if (Chance(0.2)) {
      b.has_accept_within = true;
      b.accept_within = Int(1, 24 * 366) * 3600 * int64_t{1000000};
    }
    if (!allow_defect || !c->defect.empty() || !Chance(0.1)) return;
    switch (Int(0, 7)) {
      case 0:
        if (matched == 0) break;
        b.has_quantity_kg = true;
        b.quantity_kg = matched - 1;
        b.has_min_lot = true;
        b.min_lot_kg = 0;
        c->defect = "quantity_kg";
        break;
      case 1:
        b.has_max_price = true;
        b.max_price_fen_per_kg = Chance(0.5) ? 0 : (int64_t{1} << 30) + 1;
        c->defect = "max_price_fen_per_kg";
        break;
      case 2:
        if (spent == 0) break;
        b.has_budget = true;
        b.budget_fen = spent - 1 > 0 ? spent - 1 : -1;
        c->defect = "budget_fen";
        break;
      case 3:
        b.has_min_lot = true;
        b.min_lot_kg = Chance(0.5) ? -1 : new_quantity + Int(1, 5);
        c->defect = "min_lot_kg";
        break;
      case 4:
        b.has_expires_at = true;
        b.expires_at = Effective() - Int(0, 5);
        c->defect = "expires_at";
        break;
      case 5:
        b.has_accept_within = true;
        b.accept_within = Chance(0.5) ? 0 : Micros{367} * 86400 * 1000000;
        c->defect = "accept_within";
        break;
      case 6:
        b.has_scope = true;
        b.scope = 2;
        b.region_codes = {Known(), Pick(kBadRegionCodes)};
        c->defect = "region_codes";
        break;
      default:
        b.has_scope = false;
        b.region_codes = {Known()};
        c->defect = "region_codes";
        break;
    }
  }

  // --- What the Fills share --------------------------------------------------

  Cmd RegionCmd(const std::string& code) {
    Cmd c;
    FillRegion(code, &c.command.body.emplace<UpsertRegionCommand>().region, &c);
    return c;
  }

  void FillRegion(const std::string& code, Region* region, Cmd* c) {
    region->code = code;
    region->name = "region " + code;
    region->key_assisted = Chance(0.3);
    region->relocation_site = Chance(0.15);
    if (Chance(0.05)) {
      if (Chance(0.5)) {
        region->code = Pick(kBadRegionCodes);
        c->defect = "code";
      } else {
        region->name = std::string(65, 'n');
        c->defect = "name";
      }
    }
  }

  // Mostly the east side from Shandong/Guangdong and the west side from
  // Gansu/Guangxi, as real pairings go; any known region sometimes.
  std::string PairingSide(bool east) {
    int roll = Int(0, 9);
    int half = east ? 1 : 0;
    if (roll < 4) return kProvinces[2 * half + Int(0, 1)];
    if (roll < 8) return kPrefectures[4 * half + Int(0, 3)];
    return Known();
  }

  void OfferDefect(OfferSpec& o, Cmd* c) {
    switch (Int(0, 13)) {
      case 0:
        o.supplier_id = Chance(0.5) ? "" : std::string(65, 's');
        c->defect = "supplier_id";
        break;
      case 1:
        o.region_code = Pick(kBadRegionCodes);
        c->defect = "region_code";
        break;
      case 2:
        o.region_code = Unknown();
        c->defect = "unknown";  // NOT_FOUND
        break;
      case 3:
        o.product_code =
            Chance(0.2) ? std::string(129, 'p') : Pick(kBadProducts);
        c->defect = "product_code";
        break;
      case 4:
        o.grade = Chance(0.5) ? 0 : (Chance(0.5) ? 4 : -1);
        c->defect = "grade";
        break;
      case 5:
        o.quantity_kg =
            Chance(0.4) ? 0
                        : (Chance(0.5) ? -Int(1, 9) : (int64_t{1} << 40) + 1);
        o.min_lot_kg = 0;
        c->defect = "quantity_kg";
        break;
      case 6:
        o.floor_price_fen_per_kg =
            Chance(0.4) ? 0 : (Chance(0.5) ? -1 : (int64_t{1} << 30) + 1);
        c->defect = "floor_price_fen_per_kg";
        break;
      case 7:
        o.min_lot_kg = Chance(0.5) ? -1 : o.quantity_kg + Int(1, 5);
        c->defect = "min_lot_kg";
        break;
      case 8:
        o.expires_at = Effective() - (Chance(0.5) ? 0 : Int(1, 5));
        c->defect = "expires_at";
        break;
      case 9:
        o.households = -Int(1, 3);
        c->defect = "households";
        break;
      case 10:
        c->defect = "request_id";
        break;
      default:
        break;  // valid after all
    }
  }

  void PledgeDefect(PledgeSpec& p, Cmd* c) {
    switch (Int(0, 19)) {
      case 0:
        p.buyer_id = Chance(0.5) ? "" : std::string(65, 'b');
        c->defect = "buyer_id";
        break;
      case 1:
        p.buyer_city_code = Pick(kBadRegionCodes);
        c->defect = "buyer_city_code";
        break;
      case 2:
        p.buyer_city_code = Unknown();
        c->defect = "unknown";
        break;
      case 3:
        p.buyer_kind = Chance(0.5) ? 0 : 12;
        c->defect = "buyer_kind";
        break;
      case 4:
        p.product_code = Pick(kBadProducts);
        c->defect = "product_code";
        break;
      case 5:
        p.min_grade = Chance(0.5) ? -1 : 4;
        c->defect = "min_grade";
        break;
      case 6:
        p.quantity_kg = Chance(0.5) ? 0 : -3;
        p.min_lot_kg = 0;
        p.budget_fen = 0;
        c->defect = "quantity_kg";
        break;
      case 7:
        p.max_price_fen_per_kg = Chance(0.5) ? 0 : (int64_t{1} << 30) + 1;
        c->defect = "max_price_fen_per_kg";
        break;
      case 8:
        p.budget_fen = -Int(1, 100);
        c->defect = "budget_fen";
        break;
      case 9:
        p.min_lot_kg = Chance(0.5) ? -1 : p.quantity_kg + 1;
        c->defect = "min_lot_kg";
        break;
      case 10:
        p.expires_at = Effective() - Int(0, 3);
        c->defect = "expires_at";
        break;
      case 11:
        p.scope = Chance(0.5) ? 3 : -1;
        p.region_codes.clear();
        c->defect = "scope";
        break;
      case 12:
        p.scope = 2;
        p.region_codes.clear();
        if (Chance(0.3)) {
          for (int i = 0; i < 65; ++i) p.region_codes.push_back(Known());
        }
        c->defect = "region_codes";
        break;
      case 13:
        p.scope = Chance(0.5) ? 0 : 1;
        p.region_codes = {Known()};
        c->defect = "region_codes";
        break;
      case 14:
        p.scope = 2;
        p.region_codes = {Known(), Pick(kBadRegionCodes)};
        c->defect = "region_codes";
        break;
      case 15:
        p.scope = 2;
        p.region_codes = {Known(), Unknown()};
        c->defect = "unknown";
        break;
      case 16:
        c->defect = "request_id";
        break;
      default:
        break;
    }
  }

  // Replaces unknown regions by known ones (there is at least one after
  // the setup, almost surely).
  void MakeValid(Cmd* c) {
    c->defect.clear();
    if (auto* b = c->as<PostOfferCommand>()) {
      if (!known_.count(b->offer.region_code)) b->offer.region_code = Known();
    } else if (auto* b = c->as<PostPledgeCommand>()) {
      PledgeSpec& p = b->pledge;
      if (ref_.buyers().count(p.buyer_id) != 0) {
        p.buyer_city_code = "";  // the registry's
        p.buyer_kind = 0;
      } else if (!known_.count(p.buyer_city_code)) {
        p.buyer_city_code = Known();
      }
      for (std::string& rc : p.region_codes) {
        if (!known_.count(rc)) rc = Known();
      }
    }
    if (known_.empty()) c->defect = "unknown";
  }

  // A distinct 32-byte hash for each n, printable for the stream's log.
  static std::string Hash(uint64_t n) {
    std::string h = std::to_string(n);
    h.resize(32, 'h');
    return h;
  }

  // Mostly roles that may send something.
  int RandomRole() {
    const int roll = int(Int(0, 19));
    return roll < 5    ? int(Role::kAdmin)
           : roll < 9  ? int(Role::kPlatform)
           : roll < 13 ? int(Role::kSupplier)
           : roll < 17 ? int(Role::kBuyer)
                       : int(Role::kObserver);
  }

  // The parties `role` needs, from the ids the orders use.
  void FillPrincipal(int role, Principal* p) {
    p->role = role;
    p->name = "caller";
    p->supplier_ids.clear();
    p->buyer_ids.clear();
    switch (static_cast<Role>(role)) {
      case Role::kSupplier:
        p->supplier_ids.push_back("s" + std::to_string(Int(1, 4)));
        break;
      case Role::kBuyer:
        p->buyer_ids.push_back("b" + std::to_string(Int(1, 4)));
        break;
      case Role::kPlatform:
        while (p->supplier_ids.empty() && p->buyer_ids.empty()) {
          for (int i = 1; i <= 4; ++i) {
            if (Chance(0.35))
              p->supplier_ids.push_back("s" + std::to_string(i));
            if (Chance(0.35)) p->buyer_ids.push_back("b" + std::to_string(i));
          }
        }
        break;
      default:
        break;
    }
  }

  std::shared_ptr<const Caller> RandomCaller() {
    auto caller = std::make_shared<Caller>();
    FillPrincipal(RandomRole(), &caller->principal);
    caller->key_id = uint64_t(Int(0, 5));
    if (Chance(kLimitChance)) caller->max_open_orders = uint64_t(Int(1, 4));
    return caller;
  }

  // One field of a key made wrong, named as the engine names it.
  void KeyDefect(CreateKeyCommand& b, Cmd* c) {
    Principal& p = b.principal;
    switch (Int(0, 8)) {
      case 0:
        // Empty, too long, a C0 or a C1 control character (NEL).
        p.name = Chance(0.25)   ? ""
                 : Chance(0.33) ? std::string(65, 'k')
                 : Chance(0.5)  ? std::string("key\n1")
                                : std::string("key\xc2\x85");
        c->defect = "principal.name";
        break;
      case 1:
        p.role = Chance(0.5) ? 0 : (Chance(0.5) ? 6 : -1);
        c->defect = "principal.role";
        break;
      case 2:
        FillPrincipal(int(Role::kPlatform), &p);
        p.supplier_ids.push_back(Chance(0.5) ? "" : std::string(65, 's'));
        if (Chance(0.5) && p.supplier_ids.size() > 1) {
          p.supplier_ids.back() = p.supplier_ids.front();  // a repeat
        }
        c->defect = "principal.supplier_ids";
        break;
      case 3:
        FillPrincipal(int(Role::kPlatform), &p);
        p.buyer_ids.push_back("b1");
        p.buyer_ids.push_back("b1");
        c->defect = "principal.buyer_ids";
        break;
      case 4: {
        // Parties that do not fit the role.
        const int roll = int(Int(0, 4));
        if (roll == 0) {
          FillPrincipal(int(Role::kSupplier), &p);
          p.supplier_ids.push_back(p.supplier_ids[0] == "s1" ? "s2" : "s1");
        } else if (roll == 1) {
          FillPrincipal(int(Role::kBuyer), &p);
          p.supplier_ids.push_back("s1");
        } else if (roll == 2) {
          FillPrincipal(int(Role::kPlatform), &p);
          p.supplier_ids.clear();
          p.buyer_ids.clear();
        } else {
          FillPrincipal(roll == 3 ? int(Role::kAdmin) : int(Role::kObserver),
                        &p);
          p.buyer_ids.push_back("b2");
        }
        p.name = "misfit";
        c->defect = "principal";
        break;
      }
      case 5:
        b.secret_sha256.resize(Chance(0.3) ? 0 : (Chance(0.5) ? 31 : 33), 'x');
        c->defect = "secret_sha256";
        break;
      case 6:
        if (ref_.keys().empty()) break;  // valid after all
        b.secret_sha256 =
            ref_.keys()[Int(0, int(ref_.keys().size()) - 1)].secret_sha256;
        c->defect = "secret_sha256";
        break;
      case 7:
        b.expires_at = Effective() - Int(0, 5);
        c->defect = "expires_at";
        break;
      default:
        break;  // valid after all
    }
  }

  // Mostly an id that exists; sometimes 0 or one past the last.
  static constexpr Micros kHour = Micros{3600} * 1000000;

  // Most orders live for microseconds; one in ten for hours, long enough
  // to see its matches lapse or be delivered and kg come back.
  Micros ExpiresIn() {
    // Under batch clearing, orders that outlive the next clearing (held
    // for one) as often as orders that cannot wait.
    const bool batch =
        ref_.NextClearingAt() != std::numeric_limits<Micros>::max();
    if (Chance(batch ? 0.5 : 0.1)) return Int(kHour, 3 * kHour);
    return Chance(0.2) ? Int(1, 6) : Int(10, 120);
  }
  // A deadline's length: the default (7 days) or one to two hours.
  Micros Within() { return Chance(0.5) ? 0 : Int(kHour, 2 * kHour); }

  // A match in `status` mostly, any id (or an unknown one) otherwise.
  uint64_t MatchId(MatchStatus status) {
    if (Chance(0.75)) {
      std::vector<uint64_t> ids;
      for (uint64_t id = 1; id <= ref_.last_match_id(); ++id) {
        if (ref_.match(id).status == status) ids.push_back(id);
      }
      if (!ids.empty()) return ids[Int(0, int64_t(ids.size()) - 1)];
    }
    return CancelId(ref_.last_match_id());
  }
  int64_t KgOf(uint64_t match_id, bool shipped) {
    if (match_id == 0 || match_id > ref_.last_match_id()) return 10;
    const MatchView& m = ref_.match(match_id);
    return shipped ? m.shipped_kg : m.quantity_kg;
  }

  uint64_t CancelId(uint64_t count) {
    return Chance(0.08) ? uint64_t(Int(0, 1)) * (count + 1 + Int(0, 2))
                        : uint64_t(Int(1, std::max<int64_t>(1, count)));
  }

  std::mt19937_64 rng_;
  const ReferenceMatcher& ref_;
  std::vector<std::string> universe_;
  std::set<std::string> known_;
  std::set<std::pair<std::string, std::string>> pairings_;
  std::vector<Past> history_;
  std::set<std::string> accepted_rids_;
  Micros now_ = 0;
  int64_t price_scale_ = 1;
  bool closes_catalogue_ = false;  // whether upserts may be accepted
  uint64_t rid_counter_ = 0;
  uint64_t hash_counter_ = 0;
};

}  // namespace
}  // namespace duijie

#endif  // DUIJIE_TESTS_RANDOM_STREAM_H_
