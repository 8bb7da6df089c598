// The journal, snapshots and recovery, in process, driven through the real
// commit pipeline (CommandSequencer journaling into a DurableStore): replay
// reproduces the state hash and the match stream across restarts at random
// points; a refused command costs no record and no fsync; damage is
// classified (torn tails truncated, corruption refused, --repair cuts);
// faults injected below the journal are reported and lose nothing that was
// acknowledged; and power cuts under concurrent load keep every
// acknowledged command.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "api/command_sequencer.h"
#include "api/durable_store.h"
#include "api/file_env.h"
#include "api/journal.h"
#include "api/journal_format.h"
#include "api/snapshot.h"
#include "engine/command.h"
#include "engine/engine.h"
#include "gtest/gtest.h"
#include "tests/fault_injection_env.h"

namespace duijie {
namespace {

namespace fs = std::filesystem;
constexpr Micros kSecond = Micros{1000} * 1000;
constexpr Micros kDay = Micros{86400} * kSecond;

// A fresh directory under the test's temp dir, removed at destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "duijie-dur-XXXXXX");
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, ec);
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const {
    return JoinPath(path_, name);
  }

 private:
  std::string path_;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}
std::vector<std::string> Files(const std::string& dir,
                               const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename();
    if (absl::StartsWith(name, prefix)) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A digest of a command's answer: what a client would see.
std::string Digest(const CommandOutcome& outcome) {
  if (!outcome.ok()) return outcome.status().ToString();
  const CommandResult& r = *outcome;
  std::string out;
  auto matches = [&out](const std::vector<MatchView>& ms) {
    for (const MatchView& m : ms) {
      absl::StrAppend(&out, " m", m.match_id, ":", m.offer_id, "/", m.pledge_id,
                      "x", m.quantity_kg, "@", m.price_fen_per_kg, "t",
                      m.matched_at);
    }
  };
  if (auto* o = std::get_if<OfferResult>(&r)) {
    absl::StrAppend(
        &out, "offer ", o->offer.offer_id, " rem ", o->offer.remaining_kg,
        " st ", static_cast<int>(o->offer.status), " at ", o->offer.posted_at,
        " exp ", o->offer.expires_at, " rp ", o->replayed);
    matches(o->matches);
  } else if (auto* p = std::get_if<PledgeResult>(&r)) {
    absl::StrAppend(&out, "pledge ", p->pledge.pledge_id, " rem ",
                    p->pledge.remaining_kg, " spent ", p->pledge.spent_fen,
                    " st ", static_cast<int>(p->pledge.status), " exp ",
                    p->pledge.expires_at, " rp ", p->replayed);
    matches(p->matches);
  } else if (auto* m = std::get_if<MatchResult>(&r)) {
    absl::StrAppend(&out, "match ", m->match.match_id, " st ",
                    static_cast<int>(m->match.status), " shipped ",
                    m->match.shipped_kg, " accepted ", m->match.accepted_kg,
                    " returned ", m->match.returned_kg, " rp ", m->replayed);
    matches(m->matches);
  } else if (auto* g = std::get_if<RegionResult>(&r)) {
    absl::StrAppend(&out, "region ", g->region.code, " rp ", g->replayed);
  } else if (auto* t = std::get_if<TickResult>(&r)) {
    absl::StrAppend(&out, "tick ", t->now, " expired ", t->expired, " lapsed ",
                    t->lapsed, " delivered ", t->delivered, " periods ",
                    t->periods);
  } else if (auto* k = std::get_if<KeyResult>(&r)) {
    absl::StrAppend(&out, "key ", k->key.key_id, " role ",
                    k->key.principal.role, " at ", k->key.created_at, " exp ",
                    k->key.expires_at, " rev ", k->key.revoked_at, " rp ",
                    k->replayed);
  } else if (auto* b = std::get_if<BuyerResult>(&r)) {
    absl::StrAppend(&out, "buyer ", b->buyer.buyer_id, " city ",
                    b->buyer.city_code, " kind ", b->buyer.kind, " target ",
                    b->buyer.annual_target_fen, " created ", b->created, " rp ",
                    b->replayed);
  } else if (auto* c = std::get_if<ClearingPolicyResult>(&r)) {
    absl::StrAppend(&out, "policy '", c->product_prefix, "' every ",
                    c->interval, " next ", c->next_clearing_at, " rp ",
                    c->replayed);
  } else if (auto* t = std::get_if<AlertThresholdsResult>(&r)) {
    const AlertThresholds& th = t->thresholds;
    absl::StrAppend(&out, "thresholds '", th.category, "' h ", th.horizon,
                    " gap ", th.min_gap_kg, " ratio ", th.min_ratio_permille,
                    " clear ", th.clear_permille, " rp ", t->replayed);
  } else if (auto* p = std::get_if<ProductResult>(&r)) {
    const Product& pr = p->product;
    absl::StrAppend(&out, "product ", pr.code, " '", pr.name, "' unit '",
                    pr.unit_note, "' per ", pr.perishability, " life ",
                    pr.shelf_life, " orders ", pr.from_orders, " created ",
                    p->created, " rp ", p->replayed);
  } else if (auto* c = std::get_if<ClearResult>(&r)) {
    absl::StrAppend(&out, "clear at ", c->now, " x", c->clearings, " m",
                    c->matches, " kg ", c->kg);
  } else {
    absl::StrAppend(&out, "pairing rp ", std::get<PairingResult>(r).replayed);
  }
  return out;
}

std::vector<std::string> Digests(const std::vector<CommandOutcome>& outcomes) {
  std::vector<std::string> out;
  for (const CommandOutcome& o : outcomes) out.push_back(Digest(o));
  return out;
}

std::string AllMatches(const Engine& engine) {
  std::string out;
  bool more = true;
  uint64_t after = 0;
  while (more) {
    std::vector<MatchView> page = engine.ListMatches({}, after, 1000, &more);
    for (const MatchView& m : page) {
      absl::StrAppend(&out, m.match_id, ":", m.offer_id, "/", m.pledge_id, "x",
                      m.quantity_kg, "@", m.price_fen_per_kg, "t", m.matched_at,
                      ";");
      after = m.match_id;
    }
    if (page.empty()) break;
  }
  return out;
}

// The server's clock, reproducible: each reading is mostly a little later
// than the one before, sometimes the same instant. The sequencer reads it
// once per command, so two sequencers fed the same commands by clocks of
// the same seed stamp them alike. Thread-safe.
class FakeClock {
 public:
  FakeClock(uint64_t seed, Micros max_step) : rng_(seed), max_step_(max_step) {}

  absl::Time Now() {
    absl::MutexLock lock(&mu_);
    if (rng_() % 4 != 0) now_ += static_cast<Micros>(rng_() % max_step_);
    return absl::FromUnixMicros(now_);
  }
  // The last reading.
  Micros last() const {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  std::function<absl::Time()> AsFunction() {
    return [this] { return Now(); };
  }

 private:
  mutable absl::Mutex mu_;
  std::mt19937_64 rng_;
  const Micros max_step_;
  Micros now_ = Micros{1700000000} * kSecond;
};

// A reproducible random stream of commands as clients send them: reference
// data changes, posts (with absolute or relative expiry), cancels, reused
// request_ids (honest retries of a recent command, and other bodies, which
// are refused) and bad input.
class CommandGen {
 public:
  // Absolute expiries are set relative to clock->last().
  CommandGen(uint64_t seed, const FakeClock* clock)
      : rng_(seed), clock_(clock) {}

  std::vector<Command> SetUp() {
    std::vector<Command> out;
    for (const char* code : {"620000", "621200", "621202", "620800", "620826",
                             "370000", "370200", "120000"}) {
      UpsertRegionCommand c;
      c.region = Region{code, code, code[5] == '6', false};
      out.push_back(Make(std::move(c), ""));
    }
    UpsertPairingCommand p1, p2;
    p1.pairing = Pairing{"370200", "621200", "qd"};
    p2.pairing = Pairing{"120000", "620000", "tj"};
    out.push_back(Make(std::move(p1), "p1"));
    out.push_back(Make(std::move(p2), "p2"));
    return out;
  }

  Command Next() {
    if (!recent_.empty() && rng_() % 25 == 0) {
      return recent_[rng_() % recent_.size()];  // an honest retry
    }
    Command c = Fresh();
    if (!c.request_id.empty()) {
      recent_.push_back(c);
      if (recent_.size() > 16) recent_.pop_front();
    }
    return c;
  }

  std::mt19937_64& rng() { return rng_; }

 private:
  // How often each kind of command is drawn, by code: the generator covers
  // every command of CommandBody (a new one fails to compile until it has
  // a weight here and a Fill below). Ticks come from the sequencer.
  // The old post layouts (codes 4 and 5) are only read back, never drawn.
  static constexpr std::array<int, kMaxCommandCode + 1> kWeights = {
      /*tick*/ 0,
      /*region*/ 2,
      /*pairing*/ 1,
      /*delete pairing*/ 1,
      /*old offer*/ 0,
      /*old pledge*/ 0,
      /*cancel offer*/ 7,
      /*cancel pledge*/ 7,
      /*create key*/ 2,
      /*revoke key*/ 1,
      /*ship*/ 4,
      /*accept*/ 2,
      /*decline*/ 1,
      /*offer*/ 30,
      /*pledge*/ 31,
      /*amend offer*/ 3,
      /*amend pledge*/ 3,
      /*upsert buyer*/ 2,
      /*clearing policy*/ 1,
      /*clear*/ 1,
      /*alert thresholds*/ 1,
      // Not drawn: a draw would shift every stream. The catalogue through
      // restarts is ReplayTest.ProductCatalogueSurvivesRestarts.
      /*upsert product*/ 0};
  static_assert(kWeights.size() == kMaxCommandCode + 1,
                "every command code needs a weight");
  static_assert(
      [] {
        int sum = 0;
        for (int w : kWeights) sum += w;
        return sum;
      }() == 100,
      "the weights are per 100 draws");

  Command Fresh() {
    int roll = static_cast<int>(rng_() % 100);
    uint8_t code = 0;
    while (roll >= kWeights[code]) roll -= kWeights[code++];
    std::string rid;
    if (rng_() % 3 == 0) rid = absl::StrCat("r", rng_() % 80);
    CommandBody body;
    BodyForCode(code, &body);
    Micros expires_in = 0;
    std::visit([&](auto& b) { expires_in = Fill(b); }, body);
    return Make(std::move(body), std::move(rid), expires_in);
  }

  // Each Fill draws a body of its kind (some invalid) and returns its
  // expires_in.
  static constexpr const char* kRegions[] = {"621202", "620826", "621200"};
  static constexpr const char* kCities[] = {"370200", "120000", "370000"};
  static constexpr const char* kProducts[] = {
      "vegetable.cabbage", "vegetable.potato", "fruit.apple"};
  Micros Fill(TickCommand&) { return 0; }
  Micros Fill(UpsertRegionCommand& c) {
    c.region = Region{kRegions[rng_() % 3], "renamed", rng_() % 2 == 0,
                      rng_() % 2 == 0};
    return 0;
  }
  Micros Fill(UpsertPairingCommand& c) {
    c.pairing = Pairing{"370200", "621200", "again"};
    return 0;
  }
  Micros Fill(DeletePairingCommand& c) {
    c = DeletePairingCommand{"370200", "621200"};
    return 0;
  }
  Micros Fill(PostOfferCommand& c) {
    OfferSpec& o = c.offer;
    o.supplier_id = absl::StrCat("coop", rng_() % 5);
    o.region_code = kRegions[rng_() % 3];
    o.product_code = kProducts[rng_() % 3];
    o.grade = rng_() % 40 == 0 ? 9 : 1 + rng_() % 3;  // some invalid
    o.quantity_kg = 100 + rng_() % 900;
    o.floor_price_fen_per_kg = 100 + rng_() % 200;
    o.min_lot_kg = rng_() % 100;
    o.certified = rng_() % 2;
    o.households = rng_() % 10;
    ++offers_;
    return Expiry(&o.expires_at, clock_->last());
  }
  Micros Fill(PostPledgeCommand& c) {
    PledgeSpec& p = c.pledge;
    p.buyer_id = absl::StrCat("buyer", rng_() % 5);
    p.buyer_city_code = kCities[rng_() % 3];
    p.buyer_kind = 1 + rng_() % 11;
    // Some leave city and kind to the registry (refused for a buyer that
    // is not registered): replay must resolve them the same way.
    if (rng_() % 4 == 0) {
      p.buyer_city_code.clear();
      p.buyer_kind = 0;
    }
    p.product_code = rng_() % 3 == 0 ? "vegetable" : kProducts[rng_() % 3];
    p.min_grade = 1 + rng_() % 3;
    p.quantity_kg = 100 + rng_() % 900;
    p.max_price_fen_per_kg = 100 + rng_() % 250;
    p.budget_fen = rng_() % 4 == 0 ? 20000 + rng_() % 50000 : 0;
    p.min_lot_kg = rng_() % 50;
    p.scope = rng_() % 3;
    if (p.scope == 2) p.region_codes = {kRegions[rng_() % 3]};
    p.require_certified = rng_() % 4 == 0;
    // Some are alliance pledges of "east" for members by share (refused
    // unless each is registered in it): replay must split alike.
    if (rng_() % 5 == 0) {
      p.buyer_id = "east";
      if (p.buyer_city_code.empty()) p.buyer_city_code = kCities[0];
      if (p.buyer_kind == 0) p.buyer_kind = 1;
      if (rng_() % 2 == 0) {
        p.members = {{"buyer3", 750}, {"buyer1", 250}};
      } else {
        p.members = {{"buyer0", 333}, {"buyer2", 333}, {"buyer4", 334}};
      }
    }
    ++pledges_;
    // Some stand, refilling daily or weekly until an absolute time (their
    // expiry); replay must start the same periods at the same ticks.
    if (rng_() % 6 == 0) {
      p.recurrence.period = 1 + static_cast<int>(rng_() % 2);
      p.recurrence.quantity_kg = 50 + rng_() % 500;
      p.recurrence.budget_fen = rng_() % 3 == 0 ? 30000 : 0;
      p.recurrence.carry_over = rng_() % 2 == 0;
      p.min_lot_kg = std::min<int64_t>(p.min_lot_kg, p.recurrence.quantity_kg);
      p.expires_at = p.recurrence.until =
          clock_->last() + 1 + rng_() % (9 * kDay);
      return 0;
    }
    return Expiry(&p.expires_at, clock_->last());
  }
  // A buyer registered or replaced; some refused (a negative target).
  // Batch clearing on and off, for every product or one category; the
  // writer then issues the clearings as they fall due.
  Micros Fill(SetClearingPolicyCommand& c) {
    static constexpr const char* kPrefixes[] = {"", "vegetable",
                                                "vegetable.cabbage"};
    static constexpr Micros kIntervals[] = {0, 1800000000, 3600000000,
                                            1500};  // the last is refused
    c.product_prefix = kPrefixes[rng_() % 3];
    c.interval = kIntervals[rng_() % 4];
    return 0;
  }
  // Tight alert thresholds, so that alerts are raised and cleared and
  // replay must re-raise them at the same ticks; some refused (a ratio
  // below 1).
  Micros Fill(SetAlertThresholdsCommand& c) {
    static constexpr const char* kCategories[] = {"", "vegetable"};
    AlertThresholds& t = c.thresholds;
    t.category = kCategories[rng_() % 2];
    t.horizon = (1 + static_cast<int64_t>(rng_() % 72)) * 3600000000;
    t.min_gap_kg = 1 + static_cast<int64_t>(rng_() % 300);
    t.min_ratio_permille = rng_() % 10 == 0 ? 999 : 1000 + rng_() % 2000;
    t.clear_permille = static_cast<int64_t>(rng_() % 1001);
    return 0;
  }
  // Products of the posts' codes (and one whose parent is unknown, and
  // now and then a bad perishability), for a generator that draws them.
  Micros Fill(UpsertProductCommand& c) {
    static constexpr const char* kCodes[] = {"vegetable", "vegetable.cabbage",
                                             "vegetable.potato", "fruit",
                                             "spice.pepper"};
    Product& p = c.product;
    p.code = kCodes[rng_() % 5];
    p.name = absl::StrCat("品名", rng_() % 3);
    p.perishability = rng_() % 10 == 0 ? 0 : 1 + static_cast<int>(rng_() % 3);
    p.shelf_life = static_cast<Micros>(rng_() % 30) * 86400000000;
    return 0;
  }
  // Mostly refused (nothing due): the writer runs the due ones first.
  Micros Fill(ClearCommand&) { return 0; }
  Micros Fill(UpsertBuyerCommand& c) {
    Buyer& b = c.buyer;
    b.buyer_id = absl::StrCat("buyer", rng_() % 5);
    b.name = absl::StrCat("buyer unit ", rng_() % 10);
    b.city_code = kCities[rng_() % 3];
    b.kind = 1 + rng_() % 11;
    b.annual_target_fen = rng_() % 20 == 0 ? -1 : rng_() % 1000000;
    if (rng_() % 2 == 0) b.alliance_id = "east";
    return 0;
  }
  Micros Fill(CancelOfferCommand& c) {
    c.offer_id = 1 + rng_() % (offers_ + 2);
    return 0;
  }
  Micros Fill(CancelPledgeCommand& c) {
    c.pledge_id = 1 + rng_() % (pledges_ + 2);
    return 0;
  }
  // Amendments of any order, some refused (not open, a quantity below
  // what was matched); half of those that move the expiry do it relatively.
  Micros Fill(AmendOfferCommand& c) {
    c.offer_id = 1 + rng_() % (offers_ + 2);
    c.has_quantity_kg = rng_() % 2 == 0;
    c.quantity_kg = 50 + rng_() % 1000;
    c.has_floor_price = rng_() % 2 == 0;
    c.floor_price_fen_per_kg = 100 + rng_() % 250;
    c.has_min_lot = rng_() % 4 == 0;
    c.min_lot_kg = rng_() % 60;
    c.has_ship_within = rng_() % 4 == 0;
    c.ship_within = (1 + rng_() % 200) * 3600 * Micros{1000000};
    if (rng_() % 3 != 0) return 0;
    c.has_expires_at = true;
    return Expiry(&c.expires_at, clock_->last());
  }
  Micros Fill(AmendPledgeCommand& c) {
    c.pledge_id = 1 + rng_() % (pledges_ + 2);
    c.has_quantity_kg = rng_() % 2 == 0;
    c.quantity_kg = 50 + rng_() % 1000;
    c.has_max_price = rng_() % 2 == 0;
    c.max_price_fen_per_kg = 100 + rng_() % 250;
    c.has_budget = rng_() % 4 == 0;
    c.budget_fen = rng_() % 2 == 0 ? 0 : 20000 + rng_() % 50000;
    c.has_scope = rng_() % 4 == 0;
    c.scope = rng_() % 3;
    if (c.has_scope && c.scope == 2) c.region_codes = {kRegions[rng_() % 3]};
    c.has_accept_within = rng_() % 4 == 0;
    c.accept_within = (1 + rng_() % 200) * 3600 * Micros{1000000};
    if (rng_() % 3 != 0) return 0;
    c.has_expires_at = true;
    return Expiry(&c.expires_at, clock_->last());
  }
  // A key of a random role with the parties its role needs; some are
  // refused (a malformed hash, a reused one, a past expiry).
  Micros Fill(CreateKeyCommand& c) {
    Principal& p = c.principal;
    p.role = 1 + static_cast<int>(rng_() % kMaxRole);
    p.name = absl::StrCat("key", keys_, " role ", p.role);
    switch (static_cast<Role>(p.role)) {
      case Role::kSupplier:
        p.supplier_ids = {absl::StrCat("coop", rng_() % 5)};
        break;
      case Role::kBuyer:
        p.buyer_ids = {absl::StrCat("buyer", rng_() % 5)};
        break;
      case Role::kPlatform:
        p.supplier_ids = {"coop1", "coop3"};
        if (rng_() % 2 == 0) p.buyer_ids = {absl::StrCat("buyer", rng_() % 5)};
        break;
      default:
        break;
    }
    const uint64_t n = rng_() % 30 == 0 && keys_ > 0 ? keys_ - 1 : keys_;
    c.secret_sha256 = std::string(32, static_cast<char>('a' + n % 26));
    std::memcpy(c.secret_sha256.data(), &n, sizeof(n));
    if (rng_() % 30 == 0) c.secret_sha256.resize(31);
    const int expiry = static_cast<int>(rng_() % 4);
    if (expiry == 1) c.expires_at = clock_->last() + 1 + rng_() % (2 * kDay);
    if (expiry == 2 && rng_() % 8 == 0) c.expires_at = 1;  // in the past
    ++keys_;
    return 0;
  }
  Micros Fill(RevokeKeyCommand& c) {
    c.key_id = 1 + rng_() % (keys_ + 2);
    return 0;
  }
  // Match ids are drawn blind (most made matches are among the first few
  // hundred); many are refused (unknown, or not in the right status).
  Micros Fill(ShipMatchCommand& c) {
    c.match_id = 1 + rng_() % 300;
    c.shipped_kg = rng_() % 3 == 0 ? 1 + rng_() % 100 : 0;
    if (rng_() % 2) c.note = absl::StrCat("waybill ", rng_() % 100);
    return 0;
  }
  Micros Fill(AcceptMatchCommand& c) {
    c.match_id = 1 + rng_() % 300;
    c.accepted_kg = rng_() % 3 == 0 ? 1 + rng_() % 100 : 0;
    return 0;
  }
  Micros Fill(DeclineMatchCommand& c) {
    c.match_id = 1 + rng_() % 300;
    c.reason = rng_() % 8 == 0 ? "" : "spoiled on the way";
    return 0;
  }

  // Half the orders expire at an absolute time (which the stamp may have
  // passed: refused), half after a relative delay (ResolveExpiry). Returns
  // the expires_in for the command.
  Micros Expiry(Micros* expires_at, Micros horizon) {
    if (rng_() % 2 == 0) {
      *expires_at = horizon + 1 + rng_() % (2 * kDay);
      return 0;
    }
    return 1 + rng_() % (2 * kDay);
  }

  template <typename Body>
  Command Make(Body body, std::string rid, Micros expires_in = 0) {
    Command c;
    c.body = std::move(body);
    c.request_id = std::move(rid);
    c.expires_in = expires_in;
    if (!c.request_id.empty()) c.fingerprint = CommandFingerprint(c);
    return c;
  }

  std::mt19937_64 rng_;
  const FakeClock* const clock_;
  uint64_t offers_ = 0, pledges_ = 0, keys_ = 0;
  std::deque<Command> recent_;
};

// Sends `commands` as one batch and waits for the answers. `here`: as the
// server sends a unary mutation (applied on this thread when the sequencer
// is idle, else queued); otherwise through the writer thread, as a batch.
std::vector<CommandOutcome> Send(CommandSequencer& sequencer,
                                 std::vector<Command> commands, bool here) {
  if (!here) return sequencer.Execute(std::move(commands));
  absl::Notification answered;
  std::vector<CommandOutcome> outcomes;
  sequencer.Enqueue(
      std::move(commands),
      [&](CommandSequencer::Batch& batch) {
        outcomes = std::move(batch.outcomes);
        answered.Notify();
      },
      /*may_apply_here=*/true);
  answered.WaitForNotification();
  return outcomes;
}

DurabilityOptions Options(const std::string& dir, FileEnv* env = nullptr) {
  DurabilityOptions o;
  o.dir = dir;
  if (env != nullptr) o.env = env;
  o.fsync = false;  // most tests crash the "process", not the machine
  o.segment_bytes = 4096;
  o.snapshot_every_records = 0;
  o.snapshot_interval = absl::ZeroDuration();
  o.log = [](absl::string_view) {};
  return o;
}

std::unique_ptr<DurableStore> OpenOk(const DurabilityOptions& options) {
  absl::StatusOr<std::unique_ptr<DurableStore>> store =
      DurableStore::Open(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

// A data directory served as duijie-server serves it, without gRPC: a
// DurableStore recovered from it and a CommandSequencer applying commands
// to the store's engine and journaling them into it (through `journal`,
// when a test puts one in between).
class Node {
 public:
  using WrapJournal = std::function<std::unique_ptr<Journal>(DurableStore*)>;

  // Null, with a test failure, when recovery fails.
  // `follow_alerts`: SequencerOptions::follow_alerts.
  static std::unique_ptr<Node> Open(const DurabilityOptions& options,
                                    FakeClock* clock,
                                    const WrapJournal& wrap = nullptr,
                                    bool follow_alerts = false) {
    std::unique_ptr<DurableStore> store = OpenOk(options);
    if (store == nullptr) return nullptr;
    return std::unique_ptr<Node>(
        new Node(std::move(store), clock, wrap, follow_alerts));
  }

  // A clean shutdown: everything queued is answered, then the store closes
  // (with its final snapshot).
  ~Node() {
    sequencer_.reset();
    store_.reset();
  }

  // The process dies right after its last Commit: no final snapshot.
  void Crash() {
    sequencer_->Stop();
    store_->SimulateCrashForTesting();
  }

  std::vector<CommandOutcome> Execute(std::vector<Command> commands,
                                      bool here = false) {
    return Send(*sequencer_, std::move(commands), here);
  }
  // Runs `fn` on the writer thread between groups and waits for it.
  void OnWriter(const std::function<void()>& fn) {
    absl::Notification done;
    ASSERT_TRUE(sequencer_->RunOnWriter([&] {
      fn();
      done.Notify();
    }));
    done.WaitForNotification();
  }
  uint64_t StateHash() const {
    // The state holds the alerts: read with their lock too.
    CommandSequencer::AlertsReader reader(sequencer_.get());
    return reader.engine().StateHash();
  }

  DurableStore* store() { return store_.get(); }
  CommandSequencer* sequencer() { return sequencer_.get(); }

 private:
  Node(std::unique_ptr<DurableStore> store, FakeClock* clock,
       const WrapJournal& wrap, bool follow_alerts)
      : store_(std::move(store)) {
    if (wrap) journal_ = wrap(store_.get());
    SequencerOptions options;
    options.clock = clock->AsFunction();
    options.follow_alerts = follow_alerts;
    options.journal = journal_ ? journal_.get() : store_.get();
    sequencer_ = std::make_unique<CommandSequencer>(store_->engine(),
                                                    std::move(options));
  }

  std::unique_ptr<DurableStore> store_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<CommandSequencer> sequencer_;
};

// --- Replay -----------------------------------------------------------------

// Random streams, restarted at random points (a clean shutdown with its
// snapshot, or a crash right after a group), against an engine behind its
// own sequencer that never restarts: the state hash before and after each
// restart is equal, and so are the answers, the match stream and the final
// state. In odd seeds the restarted node follows its alerts beside the
// writer (SequencerOptions::follow_alerts), in even ones the reference
// does: the alerts, in the state, come out the same either way.
TEST(ReplayTest, RestartsAtRandomPointsReproduceHashAndMatches) {
  uint64_t member_matches = 0;  // parts of alliance pledges, in all seeds
  uint64_t alert_events = 0;    // in all seeds
  // Seeds 1 to 40, and later ones whose restarts once changed whether the
  // writer ticked before a refused command (a standing pledge that expired
  // filled was queued again on load).
  std::vector<uint64_t> seeds;
  for (uint64_t seed = 1; seed <= 40; ++seed) seeds.push_back(seed);
  seeds.insert(seeds.end(), {53, 78, 88});
  for (const uint64_t seed : seeds) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    TempDir dir;
    FakeClock clock(seed, kDay / 20), reference_clock(seed, kDay / 20);
    CommandGen gen(seed, &clock);
    std::mt19937_64& rng = gen.rng();
    DurabilityOptions options = Options(dir.path());
    options.segment_bytes = 512 + rng() % 8192;
    options.snapshot_every_records = rng() % 2 ? 0 : 50 + rng() % 300;
    Engine reference;
    const bool node_follows = seed % 2 == 1;
    {
      SequencerOptions reference_options;
      reference_options.clock = reference_clock.AsFunction();
      reference_options.follow_alerts = !node_follows;
      CommandSequencer reference_sequencer(&reference, reference_options);
      std::unique_ptr<Node> node =
          Node::Open(options, &clock, nullptr, node_follows);
      ASSERT_NE(node, nullptr);
      // Both paths into the sequencer, at random: they must not differ.
      auto group = [&](std::vector<Command> commands) {
        const bool here = rng() % 2 == 0;
        EXPECT_EQ(Digests(node->Execute(commands, here)),
                  Digests(Send(reference_sequencer, commands, here)));
      };
      group(gen.SetUp());
      const int groups = 150 + rng() % 150;
      int restarts = 0;
      for (int g = 0; g < groups; ++g) {
        SCOPED_TRACE(absl::StrCat("group ", g));
        std::vector<Command> commands;
        const int n = 1 + rng() % 12;
        for (int i = 0; i < n; ++i) commands.push_back(gen.Next());
        group(std::move(commands));
        const uint64_t r = rng() % 25;
        if (r <= 1) {
          const uint64_t hash = node->StateHash();
          if (r == 1) node->Crash();
          node.reset();  // r == 0: a clean shutdown, with its snapshot
          node = Node::Open(options, &clock, nullptr, node_follows);
          ASSERT_NE(node, nullptr);
          ASSERT_EQ(node->StateHash(), hash)
              << (r == 0 ? "after a clean restart" : "after a crash");
          ++restarts;
        }
      }
      reference_sequencer.Stop();
      EXPECT_EQ(node->StateHash(), reference.StateHash());
      node->Crash();
      EXPECT_EQ(AllMatches(*node->store()->engine()), AllMatches(reference));
      EXPECT_EQ(node->store()->engine()->SaveState(), reference.SaveState());
      // The log of match events is in the state: it came back through
      // snapshots and replay, status changes included.
      EXPECT_EQ(node->store()->engine()->last_event_id(),
                reference.last_event_id());
      EXPECT_GT(reference.last_event_id(), reference.last_match_id());
      EXPECT_GT(restarts, 0);
      alert_events += reference.last_alert_event_id();
      // Keys were journaled and replayed too, not only orders.
      bool more = false;
      EXPECT_FALSE(reference.ListKeys(0, 1000, &more).empty());
      for (uint64_t after = 0;;) {
        const std::vector<MatchView> page =
            reference.ListMatches({}, after, 1000, &more);
        for (const MatchView& m : page) {
          member_matches += !m.member_buyer_id.empty();
        }
        if (!more || page.empty()) break;
        after = page.back().match_id;
      }
    }
  }
  EXPECT_GT(member_matches, 0u);
  EXPECT_GT(alert_events, 100u);  // the streams do raise and clear alerts
}

// Alerts followed beside the writer while two clients write and a third
// reads them (the TSan build runs this): reads see alert events only grow,
// and after a crash the journal replayed (alerts judged inline) gives the
// state, alerts included, that the live server had.
TEST(ReplayTest, AlertsFollowedWhileWrittenAndReadConcurrently) {
  TempDir dir;
  FakeClock clock(7, kDay / 50);
  DurabilityOptions options = Options(dir.path());
  options.snapshot_every_records = 60;  // snapshots fall due while following
  std::unique_ptr<Node> node = Node::Open(options, &clock, nullptr, true);
  ASSERT_NE(node, nullptr);
  {
    CommandGen setup(7, &clock);
    node->Execute(setup.SetUp());
  }
  std::atomic<int> writing{2};
  std::vector<std::thread> threads;
  for (uint64_t t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      CommandGen gen(100 + t, &clock);
      for (int g = 0; g < 120; ++g) {
        std::vector<Command> commands;
        const int n = 1 + static_cast<int>(gen.rng()() % 8);
        for (int i = 0; i < n; ++i) commands.push_back(gen.Next());
        node->Execute(std::move(commands), /*here=*/gen.rng()() % 2 == 0);
      }
      writing.fetch_sub(1);
    });
  }
  uint64_t reads = 0, last_seen = 0, last_event = 0;
  bool monotonic = true;
  while (writing.load() > 0) {
    CommandSequencer::AlertsReader reader(node->sequencer());
    AlertFilter all;
    all.include_cleared = true;
    reader.engine().ListAlerts(all);
    const uint64_t event = reader.engine().last_alert_event_id();
    monotonic = monotonic && reader.seen() >= last_seen && event >= last_event;
    last_seen = reader.seen();
    last_event = event;
    ++reads;
  }
  for (std::thread& t : threads) t.join();
  EXPECT_TRUE(monotonic);
  EXPECT_GT(reads, 0u);
  const uint64_t hash = node->StateHash();
  uint64_t events = 0;
  {
    CommandSequencer::AlertsReader reader(node->sequencer());
    events = reader.engine().last_alert_event_id();
  }
  EXPECT_GT(events, 10u);  // the streams do raise and clear alerts
  node->Crash();
  node.reset();
  node = Node::Open(options, &clock);
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(node->StateHash(), hash);
}

// A journal replayed with no snapshot at all rebuilds the same state, and
// segments are rolled at the size limit and pruned behind snapshots.
TEST(ReplayTest, SegmentsRollAndArePrunedBehindSnapshots) {
  TempDir dir;
  FakeClock clock(99, kDay / 20);
  CommandGen gen(99, &clock);
  DurabilityOptions options = Options(dir.path());
  options.segment_bytes = 1024;
  options.snapshot_every_records = 200;
  std::unique_ptr<Node> node = Node::Open(options, &clock);
  ASSERT_NE(node, nullptr);
  node->Execute(gen.SetUp());
  for (int g = 0; g < 300; ++g) {
    std::vector<Command> group;
    for (int i = 0; i < 5; ++i) group.push_back(gen.Next());
    node->Execute(std::move(group));
  }
  // A snapshot now (after the one in flight, if any), then fewer records
  // than the schedule's 200 over several segments, then a last snapshot:
  // the two kept have segments between them, whatever the stream's shape.
  node->OnWriter([&] { node->store()->SnapshotNow().IgnoreError(); });
  for (int g = 0; g < 20; ++g) {
    std::vector<Command> group;
    for (int i = 0; i < 5; ++i) group.push_back(gen.Next());
    node->Execute(std::move(group));
  }
  node->OnWriter([&] { node->store()->SnapshotNow().IgnoreError(); });
  const uint64_t hash = node->StateHash();
  const uint64_t position = node->store()->position();
  EXPECT_GT(node->store()->stats().segments, 5u);
  node->Crash();
  node.reset();
  const std::vector<std::string> snaps = Files(dir.path(), "snapshot-");
  EXPECT_EQ(snaps.size(), 2u);
  // No segment wholly before the older kept snapshot survives.
  uint64_t older = 0;
  ASSERT_TRUE(ParseSnapshotFileName(snaps.front(), &older));
  const std::vector<std::string> segs = Files(dir.path(), "journal-");
  ASSERT_GE(segs.size(), 2u);
  uint64_t second = 0;
  ASSERT_TRUE(ParseSegmentFileName(segs[1], &second));
  EXPECT_GT(second, older + 1);
  node = Node::Open(options, &clock);
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(node->StateHash(), hash);
  EXPECT_EQ(node->store()->position(), position);
  EXPECT_GT(node->store()->report().snapshot_seq, 0u);
}

// Journals written before ticks were their own command (each command
// moved the clock itself, and a refused command left a tick) replay by
// ticking to each command's time first: to the state the writer of that
// time had, with the ids it journaled.
TEST(ReplayTest, JournalWithoutTicksBeforeCommandsReplaysByTickingFirst) {
  TempDir dir;
  FakeClock clock(21, kDay / 20);
  CommandGen gen(21, &clock);
  Engine writer;  // the writer of that time: TickAndApply
  std::string segment;
  uint64_t seq = 0;
  uint64_t refused = 0, ticks_before_commands = 0;
  auto journal = [&](Command command) {
    command.now = absl::ToUnixMicros(clock.Now());
    ResolveExpiry(command, command.now);
    const bool late = command.now > writer.now();
    CommandOutcome outcome = writer.TickAndApply(command);
    std::string payload;
    if (outcome.ok()) {
      EncodeRecord(++seq, command, EffectOf(*outcome), &payload);
      ticks_before_commands += late;
    } else {
      ++refused;
      EncodeRecord(++seq, MakeCommand(TickCommand{}, command.now), {},
                   &payload);
    }
    AppendFrame(payload, &segment);
  };
  for (Command& c : gen.SetUp()) journal(std::move(c));
  for (int i = 0; i < 400; ++i) journal(gen.Next());
  ASSERT_GT(refused, 0u);
  ASSERT_GT(ticks_before_commands, 0u);
  WriteAll(dir.File(SegmentFileName(1)), segment);
  std::unique_ptr<DurableStore> store = OpenOk(Options(dir.path()));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->report().replayed_records, seq);
  EXPECT_EQ(store->report().last_seq, seq);
  EXPECT_EQ(store->engine()->StateHash(), writer.StateHash());
  EXPECT_EQ(AllMatches(*store->engine()), AllMatches(writer));
}

// The product catalogue through restarts: a product catalogued by an order
// while the catalogue was open, products upserted, a clean restart (from
// its snapshot), posts checked against the closed catalogue, a crash (from
// the journal): the state is the state of an engine that never restarted,
// and the answers are its answers.
TEST(ReplayTest, ProductCatalogueSurvivesRestarts) {
  TempDir dir;
  FakeClock clock(5, kDay / 20), reference_clock(5, kDay / 20);
  CommandGen gen(5, &clock);
  Engine reference;
  SequencerOptions reference_options;
  reference_options.clock = reference_clock.AsFunction();
  CommandSequencer reference_sequencer(&reference, reference_options);
  const DurabilityOptions options = Options(dir.path());
  std::unique_ptr<Node> node = Node::Open(options, &clock);
  ASSERT_NE(node, nullptr);
  auto both = [&](std::vector<Command> commands) {
    std::vector<std::string> got = Digests(node->Execute(commands));
    EXPECT_EQ(got, Digests(Send(reference_sequencer, commands, false)));
    return got;
  };
  auto offer = [](const std::string& product) {
    OfferSpec o;
    o.supplier_id = "coop0";
    o.region_code = "621202";
    o.product_code = product;
    o.grade = 1;
    o.quantity_kg = 100;
    o.floor_price_fen_per_kg = 100;
    Command c = MakeCommand(PostOfferCommand{o});
    c.expires_in = 3 * kDay;
    return c;
  };
  auto product = [](const std::string& code, const std::string& name) {
    Product p;
    p.code = code;
    p.name = name;
    p.perishability = 2;
    p.shelf_life = 30 * kDay;
    return MakeCommand(UpsertProductCommand{p});
  };
  both(gen.SetUp());
  both({offer("fruit.apple")});
  both({product("vegetable", "蔬菜"), product("vegetable.potato", "马铃薯")});
  uint64_t hash = node->StateHash();
  node.reset();  // a clean shutdown, with its snapshot
  node = Node::Open(options, &clock);
  ASSERT_NE(node, nullptr);
  ASSERT_EQ(node->StateHash(), hash) << "after a clean restart";
  const std::vector<std::string> answers = both(
      {offer("vegetable.potatoe"), offer("vegetable"), offer("fruit.apple"),
       offer("vegetable.potato"), product("fruit.kiwi", "猕猴桃")});
  EXPECT_TRUE(absl::StrContains(answers[0], "NOT_FOUND")) << answers[0];
  EXPECT_TRUE(absl::StrContains(answers[1], "INVALID_ARGUMENT")) << answers[1];
  // Accepted answers start with what they answer; refusals with the code.
  EXPECT_TRUE(absl::StartsWith(answers[2], "offer ")) << answers[2];
  EXPECT_TRUE(absl::StartsWith(answers[3], "offer ")) << answers[3];
  EXPECT_TRUE(absl::StartsWith(answers[4], "product fruit.kiwi")) << answers[4];
  hash = node->StateHash();
  node->Crash();
  node.reset();
  node = Node::Open(options, &clock);
  ASSERT_NE(node, nullptr);
  ASSERT_EQ(node->StateHash(), hash) << "after a crash";
  const std::string kiwi = both({offer("fruit.kiwi")})[0];
  EXPECT_TRUE(absl::StartsWith(kiwi, "offer ")) << kiwi;
  reference_sequencer.Stop();
  EXPECT_EQ(node->StateHash(), reference.StateHash());
  EXPECT_FALSE(reference.CatalogueOpen());
  node->Crash();
  EXPECT_EQ(node->store()->engine()->SaveState(), reference.SaveState());
}

// --- Refused commands -------------------------------------------------------

// A command the engine refuses changes nothing, so the sequencer neither
// ticks for it nor journals it: a thousand refusals cost no record, no
// write and no fsync, and leave the state (clock included) as it was.
TEST(SequencerTest, RefusedCommandsCostNoRecordAndNoSync) {
  TempDir dir;
  FaultInjectionEnv env(FileEnv::Default());
  DurabilityOptions options = Options(dir.path(), &env);
  options.fsync = true;
  FakeClock clock(5, kSecond);
  CommandGen gen(5, &clock);
  std::unique_ptr<Node> node = Node::Open(options, &clock);
  ASSERT_NE(node, nullptr);
  node->Execute(gen.SetUp());
  PostOfferCommand offer;
  offer.offer = OfferSpec{"coop1", "621202", "vegetable.potato",  2,    500,
                          150,     0,        clock.last() + kDay, true, 3};
  Command first = MakeCommand(offer);
  first.request_id = "taken";
  first.fingerprint = CommandFingerprint(first);
  ASSERT_TRUE(node->Execute({first})[0].ok());

  const JournalStats before = node->store()->stats();
  const int64_t syncs = env.syncs(), appends = env.appends();
  const uint64_t hash = node->StateHash();
  const Micros engine_now = node->store()->engine()->now();
  std::mt19937_64 rng(5);
  int refused = 0;
  while (refused < 1000) {
    std::vector<Command> batch;
    std::vector<absl::StatusCode> want;
    const int n = 1 + rng() % 10;
    for (int i = 0; i < n; ++i) {
      Command c;
      switch ((refused + i) % 6) {
        case 0:  // no such offer
          c = MakeCommand(CancelOfferCommand{1000000 + rng() % 1000});
          want.push_back(absl::StatusCode::kNotFound);
          break;
        case 1: {  // an unknown region
          PostOfferCommand o = offer;
          o.offer.region_code = "999999";
          c = MakeCommand(std::move(o));
          want.push_back(absl::StatusCode::kNotFound);
          break;
        }
        case 2: {  // no such grade
          PostOfferCommand o = offer;
          o.offer.grade = 9;
          c = MakeCommand(std::move(o));
          want.push_back(absl::StatusCode::kInvalidArgument);
          break;
        }
        case 3:  // no such pairing
          c = MakeCommand(DeletePairingCommand{"620000", "370000"});
          want.push_back(absl::StatusCode::kNotFound);
          break;
        case 4: {  // a request_id taken by another request
          PostOfferCommand o = offer;
          o.offer.quantity_kg += 1 + rng() % 100;
          c = MakeCommand(std::move(o));
          c.request_id = "taken";
          c.fingerprint = CommandFingerprint(c);
          want.push_back(absl::StatusCode::kAlreadyExists);
          break;
        }
        default: {  // already expired
          PostOfferCommand o = offer;
          o.offer.expires_at = engine_now - 1;
          c = MakeCommand(std::move(o));
          want.push_back(absl::StatusCode::kInvalidArgument);
          break;
        }
      }
      batch.push_back(std::move(c));
    }
    // Single commands as a unary call sends them, the rest as batches.
    std::vector<CommandOutcome> outcomes =
        node->Execute(std::move(batch), /*here=*/n == 1);
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(outcomes[i].status().code(), want[i]) << Digest(outcomes[i]);
      ++refused;
    }
  }
  const JournalStats after = node->store()->stats();
  EXPECT_EQ(after.records, before.records);
  EXPECT_EQ(after.syncs, before.syncs);
  EXPECT_EQ(after.groups, before.groups);
  EXPECT_EQ(after.bytes, before.bytes);
  EXPECT_EQ(env.syncs(), syncs);
  EXPECT_EQ(env.appends(), appends);
  EXPECT_EQ(node->StateHash(), hash);
  EXPECT_EQ(node->store()->engine()->now(), engine_now);
  EXPECT_GT(clock.last(), engine_now) << "the clock moved, the engine did not";

  // The next accepted command brings the tick it needs, in one group.
  Command retry = first;  // an honest retry: answered, journaled
  CommandOutcome answer = node->Execute({retry})[0];
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_TRUE(EffectOf(*answer).replayed);
  EXPECT_EQ(node->store()->stats().records, before.records + 2);
  EXPECT_EQ(node->store()->stats().syncs, before.syncs + 1);
  EXPECT_EQ(env.syncs(), syncs + 1);
  const uint64_t final_hash = node->StateHash();
  node->Crash();
  node.reset();
  node = Node::Open(Options(dir.path()), &clock);
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(node->StateHash(), final_hash);
}

// --- Damage -----------------------------------------------------------------

// Builds a data directory with one segment of single-command groups and no
// snapshot, until it holds at least `records` records; returns the hash
// after each record count.
struct Built {
  std::vector<uint64_t> hash_after;  // [k] = state hash after k records
  std::vector<uint64_t> record_end;  // [k] = file offset after k records
  std::string segment;               // its path
};

Built Build(const std::string& dir, int records) {
  Built built;
  DurabilityOptions options = Options(dir);
  options.segment_bytes = uint64_t{1} << 30;
  FakeClock clock(7, kDay / 20);
  CommandGen gen(7, &clock);
  {
    std::unique_ptr<Node> node = Node::Open(options, &clock);
    EXPECT_NE(node, nullptr);
    if (node == nullptr) return built;
    for (Command& c : gen.SetUp()) node->Execute({std::move(c)});
    while (static_cast<int>(node->store()->position()) < records) {
      node->Execute({gen.Next()});
    }
    node->Crash();
  }
  built.segment = JoinPath(dir, SegmentFileName(1));
  // Offsets and hashes per record, by replaying the frames.
  const std::string data = ReadAll(built.segment);
  Engine engine;
  built.hash_after.assign(1, engine.StateHash());
  SegmentScan scan;
  EXPECT_TRUE(ScanSegment(
                  data, 1,
                  [&](const JournalRecord& r) {
                    EXPECT_TRUE(ReplayRecord(engine, r).ok());
                    built.hash_after.push_back(engine.StateHash());
                    return absl::OkStatus();
                  },
                  &scan)
                  .ok());
  EXPECT_FALSE(scan.damaged);
  // Frame ends.
  uint64_t offset = 0;
  built.record_end.push_back(0);
  while (offset < data.size()) {
    uint32_t len = 0;
    for (int i = 0; i < 4; ++i) {
      len |= uint32_t{static_cast<uint8_t>(data[offset + i])} << (8 * i);
    }
    offset += kFrameHeaderBytes + len;
    built.record_end.push_back(offset);
  }
  EXPECT_EQ(built.record_end.size(), built.hash_after.size());
  return built;
}

// A crash mid-write leaves any prefix of the last record: every length is
// truncated away, with the bytes dropped reported, and the state is that of
// the records before it.
TEST(DamageTest, TornTailOfEveryLengthIsTruncated) {
  TempDir dir;
  Built built = Build(dir.path(), 40);
  const size_t n = built.record_end.size() - 1;  // records
  const std::string whole = ReadAll(built.segment);
  const uint64_t last_start = built.record_end[n - 1];
  ASSERT_EQ(whole.size(), built.record_end[n]);
  for (uint64_t keep = last_start; keep < whole.size(); ++keep) {
    SCOPED_TRACE(absl::StrCat("tail of ", keep - last_start, " bytes"));
    WriteAll(built.segment, whole.substr(0, keep));
    std::vector<std::string> lines;
    DurabilityOptions options = Options(dir.path());
    options.log = [&lines](absl::string_view l) { lines.emplace_back(l); };
    std::unique_ptr<DurableStore> store = OpenOk(options);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->engine()->StateHash(), built.hash_after[n - 1]);
    EXPECT_EQ(store->report().torn_bytes_dropped, keep - last_start);
    EXPECT_EQ(store->position(), n - 1);
    if (keep > last_start) {
      ASSERT_FALSE(lines.empty());
      EXPECT_TRUE(absl::StrContains(
          lines[0], absl::StrCat("dropping ", keep - last_start, " bytes")))
          << lines[0];
    }
    store->SimulateCrashForTesting();
    store.reset();
    EXPECT_EQ(ReadAll(built.segment).size(), last_start);
    for (const std::string& seg : Files(dir.path(), "journal-")) {
      if (JoinPath(dir.path(), seg) != built.segment) {
        fs::remove(JoinPath(dir.path(), seg));
      }
    }
  }
  // Zeros after the last record (a file extended but never written) are a
  // torn tail too.
  WriteAll(built.segment, whole + std::string(100, '\0'));
  std::unique_ptr<DurableStore> store = OpenOk(Options(dir.path()));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->engine()->StateHash(), built.hash_after[n]);
  EXPECT_EQ(store->report().torn_bytes_dropped, 100u);
}

// A flipped byte anywhere in a record that good records follow is
// corruption: DATA_LOSS naming the file and the offset, and nothing on disk
// changes. --repair then truncates there and keeps a copy.
TEST(DamageTest, FlippedByteMidSegmentIsDataLossAndRepairTruncates) {
  TempDir dir;
  Built built = Build(dir.path(), 60);
  const std::string whole = ReadAll(built.segment);
  const size_t victim = 30;  // record 31 (1-based) is damaged
  const uint64_t begin = built.record_end[victim];
  const uint64_t end = built.record_end[victim + 1];
  for (uint64_t at = begin; at < end; ++at) {
    SCOPED_TRACE(absl::StrCat("byte ", at - begin, " of the record"));
    std::string damaged = whole;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x5a);
    WriteAll(built.segment, damaged);
    absl::StatusOr<std::unique_ptr<DurableStore>> store =
        DurableStore::Open(Options(dir.path()));
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss)
        << store.status();
    EXPECT_TRUE(absl::StrContains(store.status().message(), built.segment));
    EXPECT_TRUE(absl::StrContains(store.status().message(),
                                  absl::StrCat("offset ", begin)))
        << store.status();
    EXPECT_EQ(ReadAll(built.segment), damaged) << "nothing is overwritten";
    EXPECT_EQ(Files(dir.path(), "journal-").size(), 1u);
  }
  // Repair: truncate at the damaged record.
  std::string damaged = whole;
  damaged[begin + 12] ^= 0x01;
  WriteAll(built.segment, damaged);
  std::vector<std::string> lines;
  DurabilityOptions options = Options(dir.path());
  options.repair = true;
  options.log = [&lines](absl::string_view l) { lines.emplace_back(l); };
  std::unique_ptr<DurableStore> store = OpenOk(options);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->report().repaired);
  EXPECT_EQ(store->engine()->StateHash(), built.hash_after[victim]);
  EXPECT_EQ(store->position(), victim);
  ASSERT_FALSE(lines.empty());
  EXPECT_TRUE(absl::StrContains(lines[0], "repair:")) << lines[0];
  EXPECT_TRUE(
      absl::StrContains(lines[0], absl::StrCat(whole.size() - begin, " bytes")))
      << lines[0];
  EXPECT_EQ(ReadAll(built.segment + ".damaged"), damaged);
}

// A segment missing from the middle of the journal is DATA_LOSS too.
TEST(DamageTest, MissingSegmentIsDataLoss) {
  TempDir dir;
  FakeClock clock(5, kDay / 20);
  CommandGen gen(5, &clock);
  DurabilityOptions options = Options(dir.path());
  options.segment_bytes = 600;
  {
    std::unique_ptr<Node> node = Node::Open(options, &clock);
    ASSERT_NE(node, nullptr);
    for (int g = 0; g < 50; ++g) {
      node->Execute(g == 0 ? gen.SetUp() : std::vector<Command>{gen.Next()});
    }
    node->Crash();
  }
  std::vector<std::string> segs = Files(dir.path(), "journal-");
  ASSERT_GE(segs.size(), 3u);
  fs::remove(JoinPath(dir.path(), segs[1]));
  absl::StatusOr<std::unique_ptr<DurableStore>> bad =
      DurableStore::Open(options);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss) << bad.status();
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "previous one ends"))
      << bad.status();
}

// A truncated newest snapshot falls back to the older one (and the journal
// after it); with every snapshot damaged and the early journal pruned, the
// start is refused with DATA_LOSS.
TEST(DamageTest, TruncatedSnapshotFallsBackToOlder) {
  TempDir dir;
  FakeClock clock(11, kDay / 20);
  CommandGen gen(11, &clock);
  DurabilityOptions options = Options(dir.path());
  options.segment_bytes = 2048;
  uint64_t hash = 0;
  for (int round = 0; round < 3; ++round) {
    std::unique_ptr<Node> node = Node::Open(options, &clock);
    ASSERT_NE(node, nullptr);
    for (int g = 0; g < 60; ++g) {
      node->Execute(round == 0 && g == 0 ? gen.SetUp()
                                         : std::vector<Command>{gen.Next()});
    }
    hash = node->StateHash();
  }  // each clean close snapshots
  std::vector<std::string> snaps = Files(dir.path(), "snapshot-");
  ASSERT_EQ(snaps.size(), 2u);
  const std::string newest = JoinPath(dir.path(), snaps[1]);
  const std::string bytes = ReadAll(newest);
  WriteAll(newest, bytes.substr(0, bytes.size() / 2));
  std::vector<std::string> lines;
  options.log = [&lines](absl::string_view l) { lines.emplace_back(l); };
  {
    std::unique_ptr<DurableStore> store = OpenOk(options);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->engine()->StateHash(), hash);
    EXPECT_EQ(store->report().snapshot_file, snaps[0]);
    ASSERT_FALSE(lines.empty());
    EXPECT_TRUE(absl::StrContains(lines[0], "truncated")) << lines[0];
    store->SimulateCrashForTesting();
  }
  // Both damaged.
  WriteAll(JoinPath(dir.path(), snaps[0]), "DJSNAP01");
  absl::StatusOr<std::unique_ptr<DurableStore>> bad =
      DurableStore::Open(options);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss) << bad.status();
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "missing"))
      << bad.status();
}

TEST(DamageTest, EmptyDirectoryStartsFresh) {
  TempDir dir;
  std::unique_ptr<DurableStore> store = OpenOk(Options(dir.path()));
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->report().fresh);
  EXPECT_EQ(store->position(), 0u);
  EXPECT_EQ(store->engine()->StateHash(), Engine().StateHash());
  store.reset();
  // A clean close of an empty store writes nothing to recover.
  store = OpenOk(Options(dir.path()));
  EXPECT_TRUE(store->report().fresh);
}

TEST(DamageTest, MissingParentAndLockedDirectoryAreClearErrors) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<DurableStore>> missing =
      DurableStore::Open(Options(dir.File("no/such/dir")));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "does not exist"))
      << missing.status();

  std::unique_ptr<DurableStore> first = OpenOk(Options(dir.path()));
  absl::StatusOr<std::unique_ptr<DurableStore>> second =
      DurableStore::Open(Options(dir.path()));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition)
      << second.status();
}

// A read-only directory: refused at start with PERMISSION_DENIED. As root,
// chmod does not stop writes, so that case runs through the fault-injecting
// env instead (ReadOnlyDirectoryThroughFaultEnv).
TEST(DamageTest, ReadOnlyDirectory) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "running as root, where a 0555 directory is still "
                    "writable; ReadOnlyDirectoryThroughFaultEnv covers this";
  }
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0555), 0);
  absl::StatusOr<std::unique_ptr<DurableStore>> store =
      DurableStore::Open(Options(dir.path()));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kPermissionDenied)
      << store.status();
  EXPECT_TRUE(absl::StrContains(store.status().message(), "cannot be written"))
      << store.status();
}

TEST(DamageTest, ReadOnlyDirectoryThroughFaultEnv) {
  TempDir dir;
  FaultInjectionEnv env(FileEnv::Default());
  env.SetReadOnly(true);
  absl::StatusOr<std::unique_ptr<DurableStore>> store =
      DurableStore::Open(Options(dir.path(), &env));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kPermissionDenied)
      << store.status();
  EXPECT_TRUE(absl::StrContains(store.status().message(), "cannot be written"))
      << store.status();
}

// --- Fault injection --------------------------------------------------------

// Stands between the sequencer and the store where a real server aborts on
// a failed Commit (SequencerDeathTest): it keeps the failures and lets the
// process go on, so that the test can see that the store keeps failing and
// recover what a crash at that point leaves. Nothing answered after the
// first failure counts as acknowledged. It also applies what it is given
// to a shadow engine, which gives the state after each record of the group
// whose Commit failed first: a failed write may leave any prefix of that
// group's records on disk.
class KeepFailures final : public Journal {
 public:
  explicit KeepFailures(DurableStore* store) : store_(store) {
    EXPECT_TRUE(shadow_.LoadState(store->engine()->SaveState()).ok());
  }

  absl::Status Commit(
      absl::Span<const Command* const> commands,
      absl::Span<const CommandOutcome* const> outcomes) override {
    const absl::Status status = store_->Commit(commands, outcomes);
    absl::MutexLock lock(&mu_);
    const bool first = !status.ok() && first_.ok();
    if (first) prefix_hashes_.assign(1, shadow_.StateHash());
    for (size_t i = 0; i < commands.size(); ++i) {
      EXPECT_EQ(Digest(shadow_.Apply(*commands[i])), Digest(*outcomes[i]));
      if (first) prefix_hashes_.push_back(shadow_.StateHash());
    }
    if (!status.ok()) {
      if (first) first_ = status;
      ++failures_;
    }
    return absl::OkStatus();
  }
  void AfterGroup() override {
    if (first_failure().ok()) store_->AfterGroup();
  }
  bool SnapshotDue() override {
    return first_failure().ok() && store_->SnapshotDue();
  }

  absl::Status first_failure() const {
    absl::MutexLock lock(&mu_);
    return first_;
  }
  int failures() const {
    absl::MutexLock lock(&mu_);
    return failures_;
  }
  // [k]: the state hash after k records of the first failed group.
  std::vector<uint64_t> prefix_hashes() const {
    absl::MutexLock lock(&mu_);
    return prefix_hashes_;
  }

 private:
  DurableStore* const store_;
  mutable absl::Mutex mu_;
  Engine shadow_ ABSL_GUARDED_BY(mu_);
  absl::Status first_ ABSL_GUARDED_BY(mu_);
  int failures_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<uint64_t> prefix_hashes_ ABSL_GUARDED_BY(mu_);
};

// Drives a store through `env` until a Commit fails, then recovers with
// the real env: every group committed before is there; of the failed
// group, a prefix of its records (all, some or none); the journal accepted
// nothing after it.
void RunUntilFault(FaultInjectionEnv& env, const std::string& dir, bool fsync,
                   absl::StatusCode want, const std::function<void()>& arm) {
  DurabilityOptions options = Options(dir, &env);
  options.fsync = fsync;
  options.segment_bytes = 2048;
  FakeClock clock(3, kDay / 20);
  CommandGen gen(3, &clock);
  KeepFailures* journal = nullptr;
  std::unique_ptr<Node> node =
      Node::Open(options, &clock, [&journal](DurableStore* store) {
        auto keep = std::make_unique<KeepFailures>(store);
        journal = keep.get();
        return keep;
      });
  ASSERT_NE(node, nullptr);
  node->Execute(gen.SetUp());
  ASSERT_TRUE(journal->first_failure().ok()) << journal->first_failure();
  uint64_t acked_hash = node->StateHash();
  arm();
  uint64_t failed_hash = 0;
  for (int g = 0; g < 500; ++g) {
    std::vector<Command> group;
    for (int i = 0; i < 4; ++i) group.push_back(gen.Next());
    node->Execute(std::move(group));
    if (!journal->first_failure().ok()) {
      failed_hash = node->StateHash();
      break;
    }
    acked_hash = node->StateHash();
  }
  const absl::Status commit = journal->first_failure();
  ASSERT_FALSE(commit.ok()) << "the fault never fired";
  EXPECT_EQ(commit.code(), want) << commit;
  EXPECT_TRUE(absl::StrContains(commit.message(), "not made durable"))
      << commit;
  const std::vector<uint64_t> prefixes = journal->prefix_hashes();
  ASSERT_GE(prefixes.size(), 2u) << "the failed group had no record";
  EXPECT_EQ(prefixes.front(), acked_hash);
  EXPECT_EQ(prefixes.back(), failed_hash);
  // Sticky: the journal accepts nothing more.
  node->Execute({gen.Next()});
  EXPECT_EQ(journal->failures(), 2);
  node->Crash();
  node.reset();
  env.Reset();
  std::unique_ptr<DurableStore> recovered = OpenOk(Options(dir));
  ASSERT_NE(recovered, nullptr);
  const uint64_t hash = recovered->engine()->StateHash();
  EXPECT_TRUE(std::find(prefixes.begin(), prefixes.end(), hash) !=
              prefixes.end())
      << "recovered state is not the state after a prefix of the failed "
         "group";
}

TEST(FaultTest, FailedWriteIsReportedAndNothingIsAcknowledged) {
  for (int n = 1; n <= 12; n += 3) {
    SCOPED_TRACE(absl::StrCat("append ", n));
    TempDir dir;
    FaultInjectionEnv env(FileEnv::Default());
    RunUntilFault(env, dir.path(), false, absl::StatusCode::kInternal,
                  [&] { env.FailAppendAfter(n); });
  }
}

TEST(FaultTest, FullDiskShortWriteIsReportedAndTornTailRecovered) {
  for (size_t written : {0, 1, 7, 8, 30}) {
    SCOPED_TRACE(absl::StrCat("short write of ", written));
    TempDir dir;
    FaultInjectionEnv env(FileEnv::Default());
    RunUntilFault(env, dir.path(), false, absl::StatusCode::kResourceExhausted,
                  [&] { env.FailAppendAfter(5, true, written); });
  }
}

TEST(FaultTest, FailedSyncIsReportedAndNothingIsAcknowledged) {
  for (int n = 1; n <= 6; n += 2) {
    SCOPED_TRACE(absl::StrCat("sync ", n));
    TempDir dir;
    FaultInjectionEnv env(FileEnv::Default());
    RunUntilFault(env, dir.path(), true, absl::StatusCode::kInternal,
                  [&] { env.FailSyncAfter(n); });
  }
}

// A failing directory (read-only from some point on) fails the segment
// roll, which is reported like a failed write.
TEST(FaultTest, FailedSegmentRollIsReported) {
  TempDir dir;
  FaultInjectionEnv env(FileEnv::Default());
  RunUntilFault(env, dir.path(), false, absl::StatusCode::kPermissionDenied,
                [&] { env.SetReadOnly(true); });
}

// A snapshot that cannot be written is reported, and the journal goes on;
// recovery then replays from the journal.
TEST(FaultTest, FailedSnapshotLeavesJournalUsable) {
  TempDir dir;
  FaultInjectionEnv env(FileEnv::Default());
  FakeClock clock(4, kDay / 20);
  CommandGen gen(4, &clock);
  std::unique_ptr<Node> node = Node::Open(Options(dir.path(), &env), &clock);
  ASSERT_NE(node, nullptr);
  node->Execute(gen.SetUp());
  env.FailSyncAfter(1);  // the snapshot's fsync (the journal does not sync)
  absl::StatusOr<uint64_t> snap = absl::UnknownError("not run");
  node->OnWriter([&] { snap = node->store()->SnapshotNow(); });
  EXPECT_FALSE(snap.ok());
  EXPECT_TRUE(Files(dir.path(), "snapshot-").empty());
  env.Reset();
  for (int g = 0; g < 20; ++g) node->Execute({gen.Next()});
  const uint64_t hash = node->StateHash();
  node->Crash();
  node.reset();
  node = Node::Open(Options(dir.path()), &clock);
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(node->StateHash(), hash);
}

// A journal that cannot make a group durable stops the server before any
// of the group's replies: the sequencer aborts rather than answer what a
// crash could undo.
class FailingJournal final : public Journal {
 public:
  absl::Status Commit(absl::Span<const Command* const>,
                      absl::Span<const CommandOutcome* const>) override {
    return absl::InternalError("journal: the disk is gone");
  }
};

// Serves one command with a FailingJournal: never returns.
void ServeOneCommandWithFailingJournal() {
  Engine engine;
  FailingJournal journal;
  SequencerOptions options;
  options.journal = &journal;
  CommandSequencer sequencer(&engine, options);
  UpsertRegionCommand region;
  region.region = Region{"620000", "Gansu", false, false};
  // Exiting with 0 would fail the death test: no reply may go out.
  sequencer.Enqueue({MakeCommand(region)},
                    [](CommandSequencer::Batch&) { std::_Exit(0); });
  absl::SleepFor(absl::Seconds(30));
}

TEST(SequencerDeathTest, FailedCommitAbortsBeforeAnyReply) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(ServeOneCommandWithFailingJournal(),
               "journal commit failed: INTERNAL: journal: the disk is gone");
}

// --- Journal ----------------------------------------------------------------

// Group commit: one sync per group however many commands it holds.
TEST(JournalTest, OneSyncPerGroup) {
  TempDir dir;
  FaultInjectionEnv env(FileEnv::Default());
  DurabilityOptions options = Options(dir.path(), &env);
  options.fsync = true;
  options.segment_bytes = uint64_t{1} << 30;
  FakeClock clock(8, kDay / 20);
  CommandGen gen(8, &clock);
  std::unique_ptr<Node> node = Node::Open(options, &clock);
  ASSERT_NE(node, nullptr);
  node->Execute(gen.SetUp());
  const int64_t syncs = env.syncs();
  std::vector<Command> group;
  for (int i = 0; i < 200; ++i) group.push_back(gen.Next());
  node->Execute(std::move(group));
  EXPECT_EQ(env.syncs() - syncs, 1);
  EXPECT_EQ(node->store()->stats().groups, 2u);
}

// Batches queued while a group is being made durable go together into the
// next group: one write and one sync for all of them.
TEST(JournalTest, BatchesQueuedDuringAnFsyncShareTheNextOne) {
  TempDir dir;
  FaultInjectionEnv env(FileEnv::Default());
  DurabilityOptions options = Options(dir.path(), &env);
  options.fsync = true;
  FakeClock clock(9, kSecond);
  std::unique_ptr<Node> node = Node::Open(options, &clock);
  ASSERT_NE(node, nullptr);
  auto region = [](int i) {
    UpsertRegionCommand c;
    c.region = Region{absl::StrCat(620100 + i), "r", false, false};
    return MakeCommand(std::move(c));
  };
  const JournalStats before = node->store()->stats();
  const int64_t syncs = env.syncs();
  env.HoldSyncs(true);
  absl::Mutex mu;
  int answered = 0;
  auto done = [&](CommandSequencer::Batch& batch) {
    for (const CommandOutcome& o : batch.outcomes) EXPECT_TRUE(o.ok());
    absl::MutexLock lock(&mu);
    ++answered;
  };
  node->sequencer()->Enqueue({region(0)}, done);
  while (env.held_syncs() == 0) absl::SleepFor(absl::Milliseconds(1));
  constexpr int kQueued = 10;
  for (int i = 1; i <= kQueued; ++i) {
    node->sequencer()->Enqueue({region(i), region(100 + i)}, done);
  }
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(answered, 0) << "answered before its fsync";
  }
  env.HoldSyncs(false);
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](int* n) { return *n == kQueued + 1; }, &answered));
  }
  EXPECT_EQ(env.syncs() - syncs, 2);
  const JournalStats after = node->store()->stats();
  EXPECT_EQ(after.groups - before.groups, 2u);
  EXPECT_EQ(after.syncs - before.syncs, 2u);
  // A tick and a command each: the first group's tick covers the stamp.
  EXPECT_GE(after.records - before.records, 1u + 2 * kQueued);
}

// Records round-trip through the codec, ticks included.
TEST(JournalTest, RecordsRoundTrip) {
  FakeClock clock(12, kDay / 20);
  CommandGen gen(12, &clock);
  for (int i = 0; i < 500; ++i) {
    JournalRecord r;
    r.seq = i + 1;
    const Micros now = absl::ToUnixMicros(clock.Now());
    if (i % 7 == 0) {
      r.command = MakeCommand(TickCommand{}, now);
    } else {
      r.command = gen.Next();
      ResolveExpiry(r.command, now);
      r.effect = {i % 2 == 0, uint64_t(i), uint64_t(i % 3), uint64_t(i * 2)};
    }
    const std::string payload = EncodeRecord(r);
    absl::StatusOr<JournalRecord> back = DecodeRecord(payload);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(EncodeRecord(*back), payload);
    EXPECT_EQ(back->seq, r.seq);
    EXPECT_EQ(IsTick(*back), IsTick(r));
    EXPECT_EQ(back->command.code(), r.command.code());
    EXPECT_EQ(back->command.now, now);
    EXPECT_EQ(back->command.request_id, r.command.request_id);
    EXPECT_EQ(back->command.fingerprint, r.command.fingerprint);
    EXPECT_EQ(back->effect, r.effect);
    // Any truncation is refused.
    EXPECT_FALSE(DecodeRecord(payload.substr(0, payload.size() - 1)).ok());
  }
}

// A record whose code names no command (above kMaxCommandCode) is damage,
// never read as some other command.
TEST(JournalTest, AnUnknownCommandCodeIsRefused) {
  JournalRecord r;
  r.seq = 1;
  Buyer b{"office", "协作办", "370200", 1, 100, ""};
  r.command = MakeCommand(UpsertBuyerCommand{b}, 1);
  std::string payload = EncodeRecord(r);
  ASSERT_TRUE(DecodeRecord(payload).ok());
  for (const int code : {kMaxCommandCode + 1, 255}) {
    payload[0] = static_cast<char>(code);
    absl::StatusOr<JournalRecord> back = DecodeRecord(payload);
    ASSERT_FALSE(back.ok()) << int(code);
    EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(std::string(back.status().message()).find("unknown command code"),
              std::string::npos)
        << back.status();
  }
}

// --- Power cuts -------------------------------------------------------------

// The env's power cut itself: what no Sync covered is cut away, creations
// and renames no SyncDir covered are undone, and while the power is off
// nothing reaches the disk.
TEST(FaultInjectionEnvTest, PowerCutLosesWhatWasNotSynced) {
  TempDir dir;
  FaultInjectionEnv env(FileEnv::Default());
  auto append = [](WritableFile& f, absl::string_view data) {
    ASSERT_TRUE(f.Append(data).ok());
  };
  // Created and its name synced; part of its data synced.
  std::unique_ptr<WritableFile> a = *env.NewWritableFile(dir.File("a"));
  append(*a, "hello");
  ASSERT_TRUE(a->Sync().ok());
  append(*a, " world");
  // Written, synced, renamed into place and the directory synced: durable.
  std::unique_ptr<WritableFile> t = *env.NewWritableFile(dir.File("t.tmp"));
  append(*t, "snap");
  ASSERT_TRUE(t->Sync().ok());
  ASSERT_TRUE(env.RenameFile(dir.File("t.tmp"), dir.File("t")).ok());
  ASSERT_TRUE(env.SyncDir(dir.path()).ok());
  // Created and synced, but its name never was.
  std::unique_ptr<WritableFile> b = *env.NewWritableFile(dir.File("b"));
  append(*b, "b");
  ASSERT_TRUE(b->Sync().ok());
  // Written before (not through the env), renamed without a SyncDir.
  WriteAll(dir.File("c"), "old");
  ASSERT_TRUE(env.RenameFile(dir.File("c"), dir.File("d")).ok());
  EXPECT_EQ(env.unsynced_bytes(), 6u);

  ASSERT_TRUE(env.PowerCut().ok());
  EXPECT_EQ(ReadAll(dir.File("a")), "hello");
  EXPECT_FALSE(fs::exists(dir.File("b")));
  EXPECT_EQ(ReadAll(dir.File("c")), "old");
  EXPECT_FALSE(fs::exists(dir.File("d")));
  EXPECT_EQ(ReadAll(dir.File("t")), "snap");
  EXPECT_FALSE(fs::exists(dir.File("t.tmp")));
  // The power is off: everything "succeeds" and nothing changes.
  append(*a, "more");
  EXPECT_TRUE(a->Sync().ok());
  EXPECT_TRUE(env.NewWritableFile(dir.File("z")).ok());
  EXPECT_TRUE(env.RenameFile(dir.File("a"), dir.File("y")).ok());
  EXPECT_TRUE(env.RemoveFile(dir.File("t")).ok());
  EXPECT_EQ(ReadAll(dir.File("a")), "hello");
  EXPECT_FALSE(fs::exists(dir.File("z")));
  EXPECT_TRUE(fs::exists(dir.File("t")));
  // Back on: a new boot writes again.
  env.SetFilesystemActive(true);
  std::unique_ptr<WritableFile> a2 = *env.NewAppendableFile(dir.File("a"));
  append(*a2, "!");
  ASSERT_TRUE(a2->Sync().ok());
  append(*a2, "?");
  ASSERT_TRUE(env.PowerCut().ok());
  EXPECT_EQ(ReadAll(dir.File("a")), "hello!");
}

// With a random generator, a power cut keeps a random part of what was not
// durable, as a real disk may: a prefix of the unsynced bytes (never less
// than what was synced) and some unsynced names.
TEST(FaultInjectionEnvTest, RandomPowerCutKeepsAPrefixOfUnsyncedData) {
  std::mt19937_64 rng(3);
  int kept_b = 0, partial = 0;
  for (int i = 0; i < 40; ++i) {
    TempDir dir;
    FaultInjectionEnv env(FileEnv::Default());
    std::unique_ptr<WritableFile> a = *env.NewWritableFile(dir.File("a"));
    ASSERT_TRUE(env.SyncDir(dir.path()).ok());
    ASSERT_TRUE(a->Append("synced").ok());
    ASSERT_TRUE(a->Sync().ok());
    ASSERT_TRUE(a->Append("-not-synced").ok());
    std::unique_ptr<WritableFile> b = *env.NewWritableFile(dir.File("b"));
    ASSERT_TRUE(env.PowerCut(&rng).ok());
    const std::string got = ReadAll(dir.File("a"));
    EXPECT_TRUE(absl::StartsWith("synced-not-synced", got)) << got;
    EXPECT_GE(got.size(), 6u);
    partial += got.size() > 6 && got.size() < 17;
    kept_b += fs::exists(dir.File("b"));
  }
  EXPECT_GT(partial, 0);
  EXPECT_GT(kept_b, 0);
  EXPECT_LT(kept_b, 40);
}

// A command as a client sent it and what it was answered.
struct Acked {
  Command command;
  bool ok = false;
  CommandEffect effect;  // when ok
};

// Checks what recovery made of `dir` after a power cut, given the commands
// answered before it (each with a unique request_id) and the highest journal
// position any of them was answered at:
//   - the journal reaches at least that position;
//   - the recovered state is exactly the snapshot recovery loaded plus the
//     journal records after it up to its last_seq, replayed afresh;
//   - every command answered with success is in the journal with the effect
//     (ids, matches) it was answered with, or behind the snapshot; and the
//     recovered engine remembers it: a retry is answered with the first
//     answer and changes nothing; a post's order exists;
//   - no command answered with a refusal was journaled.
void CheckRecovered(const std::string& dir, DurableStore& store,
                    const std::vector<Acked>& acked, uint64_t acked_position) {
  const RecoveryReport& report = store.report();
  EXPECT_GE(report.last_seq, acked_position)
      << "journal records that were acknowledged are gone";
  Engine rebuilt;
  if (report.snapshot_seq > 0) {
    uint64_t seq = 0;
    absl::StatusOr<std::string> state =
        DecodeSnapshot(ReadAll(JoinPath(dir, report.snapshot_file)), &seq);
    ASSERT_TRUE(state.ok()) << state.status();
    ASSERT_EQ(seq, report.snapshot_seq);
    ASSERT_TRUE(rebuilt.LoadState(*state).ok());
  }
  std::map<std::string, std::pair<uint64_t, CommandEffect>> journaled;
  uint64_t next = report.snapshot_seq + 1;
  for (const std::string& name : Files(dir, "journal-")) {
    uint64_t first = 0;
    ASSERT_TRUE(ParseSegmentFileName(name, &first)) << name;
    SegmentScan scan;
    absl::Status scanned = ScanSegment(
        ReadAll(JoinPath(dir, name)), first,
        [&](const JournalRecord& r) -> absl::Status {
          if (!IsTick(r) && !r.command.request_id.empty()) {
            journaled[r.command.request_id] = {r.seq, r.effect};
          }
          if (r.seq != next) return absl::OkStatus();
          ++next;
          return ReplayRecord(rebuilt, r);
        },
        &scan);
    ASSERT_TRUE(scanned.ok()) << name << ": " << scanned;
    EXPECT_FALSE(scan.damaged) << name << ": " << scan.damage;
  }
  EXPECT_EQ(next, report.last_seq + 1) << "journal records are missing";
  ASSERT_EQ(rebuilt.StateHash(), store.engine()->StateHash());
  ASSERT_TRUE(rebuilt.CheckInvariants().ok());

  const uint64_t hash = rebuilt.StateHash();
  for (const Acked& a : acked) {
    if (a.command.request_id.empty()) continue;
    SCOPED_TRACE(a.command.request_id);
    auto it = journaled.find(a.command.request_id);
    if (!a.ok) {
      EXPECT_TRUE(it == journaled.end()) << "a refused command was journaled";
    } else {
      if (it != journaled.end()) {
        EXPECT_LE(it->second.first, report.last_seq);
        EXPECT_EQ(it->second.second, a.effect) << "journaled another effect";
      } else {
        EXPECT_GT(report.snapshot_seq, 0u)
            << "an acknowledged command is neither journaled nor behind a "
               "snapshot";
      }
      CommandOutcome again = rebuilt.Apply(a.command);
      ASSERT_TRUE(again.ok()) << again.status();
      CommandEffect effect = EffectOf(*again);
      EXPECT_TRUE(effect.replayed) << "the engine forgot the request";
      effect.replayed = false;
      EXPECT_EQ(effect, a.effect) << "a retry got another answer";
      const Micros now = rebuilt.now();
      if (auto* post = std::get_if<PostOfferCommand>(&a.command.body)) {
        absl::StatusOr<OfferView> offer =
            rebuilt.GetOffer(a.effect.order_id, now);
        ASSERT_TRUE(offer.ok()) << offer.status();
        EXPECT_EQ(offer->supplier_id, post->offer.supplier_id);
      } else if (auto* p = std::get_if<PostPledgeCommand>(&a.command.body)) {
        absl::StatusOr<PledgeView> pledge =
            rebuilt.GetPledge(a.effect.order_id, now);
        ASSERT_TRUE(pledge.ok()) << pledge.status();
        EXPECT_EQ(pledge->buyer_id, p->pledge.buyer_id);
      }
    }
    if (::testing::Test::HasFailure()) return;  // one is enough to read
  }
  EXPECT_EQ(rebuilt.StateHash(), hash) << "retries changed the state";
}

// Several clients send commands through the sequencer into a store that
// fsyncs each group, over a file system that loses, at a power cut, what
// was not synced (and, in every other cut, keeps a random part of it, as a
// disk may: torn records and unsynced renames included). The power goes at
// a random point, the store is abandoned without closing, and the next
// start recovers; CheckRecovered then holds for every command answered
// before any cut so far. Answers count only until the cut: the sequencer
// answers after its fsync returned, so an answer recorded before the file
// system was switched off is one whose records were durable.
TEST(PowerCutTest, AcknowledgedCommandsSurvivePowerCutsUnderLoad) {
  constexpr int kCuts = 40;
  constexpr int kClients = 4;
  TempDir dir;
  FaultInjectionEnv env(FileEnv::Default());
  std::mt19937_64 rng(20261202);
  FakeClock clock(77, kSecond);

  absl::Mutex mu;
  std::vector<Acked> acked;  // all under mu
  uint64_t acked_position = 0;
  bool cut = false;
  int round_acks = 0;
  int torn_tails = 0;
  uint64_t dropped_bytes = 0;

  for (int round = 0; round <= kCuts; ++round) {
    SCOPED_TRACE(absl::StrCat("after cut ", round));
    DurabilityOptions options = Options(dir.path(), &env);
    options.fsync = true;
    options.segment_bytes = 2048 + rng() % 16384;
    options.snapshot_every_records = rng() % 3 == 0 ? 0 : 50 + rng() % 400;
    std::unique_ptr<Node> node = Node::Open(options, &clock);
    ASSERT_NE(node, nullptr);
    if (round > 0) {
      absl::MutexLock lock(&mu);
      CheckRecovered(dir.path(), *node->store(), acked, acked_position);
      if (HasFailure()) return;
      torn_tails += node->store()->report().torn_bytes_dropped > 0;
    }
    if (round == kCuts) break;
    if (round == 0) {
      CommandGen gen(1, &clock);
      std::vector<Command> setup = gen.SetUp();
      std::vector<CommandOutcome> outcomes = node->Execute(setup);
      absl::MutexLock lock(&mu);
      for (size_t i = 0; i < setup.size(); ++i) {
        ASSERT_TRUE(outcomes[i].ok()) << outcomes[i].status();
        acked.push_back(Acked{setup[i], true, EffectOf(*outcomes[i])});
      }
      acked_position = node->store()->position();
    }
    {
      absl::MutexLock lock(&mu);
      cut = false;
      round_acks = 0;
    }
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int t = 0; t < kClients; ++t) {
      clients.emplace_back([&, t, round] {
        CommandGen gen(1000 * round + t + 2, &clock);
        for (int i = 0; !stop.load(); ++i) {
          std::vector<Command> batch;
          const int n = 1 + gen.rng()() % 3;
          for (int k = 0; k < n; ++k) {
            Command c = gen.Next();
            c.request_id = absl::StrCat("c", round, "-", t, "-", i, "-", k);
            c.fingerprint = CommandFingerprint(c);
            batch.push_back(std::move(c));
          }
          // One command goes as a unary call does (maybe applied on this
          // thread), more as a batch through the writer.
          std::vector<CommandOutcome> outcomes =
              node->Execute(batch, /*here=*/n == 1);
          absl::MutexLock lock(&mu);
          if (cut) continue;  // answered after the power went: not counted
          // The position is stored after the sync that made it durable,
          // and this sync ran before the cut: its records are on disk.
          acked_position = std::max(acked_position, node->store()->position());
          for (int k = 0; k < n; ++k) {
            const bool ok = outcomes[k].ok();
            acked.push_back(
                Acked{std::move(batch[k]), ok,
                      ok ? EffectOf(*outcomes[k]) : CommandEffect()});
          }
          round_acks += n;
        }
      });
    }
    // The power goes once this many commands have been answered; in half
    // the cuts, while a group (or a snapshot) is written but not yet synced.
    const int target = 10 + rng() % 300;
    const bool mid_sync = rng() % 2 == 0;
    {
      absl::MutexLock lock(&mu);
      auto reached = [&] { return round_acks >= target; };
      mu.Await(absl::Condition(&reached));
      if (!mid_sync) cut = true;
    }
    if (mid_sync) {
      env.HoldSyncs(true);
      while (env.held_syncs() == 0) absl::SleepFor(absl::Microseconds(100));
      absl::MutexLock lock(&mu);
      cut = true;
    }
    env.SetFilesystemActive(false);
    env.HoldSyncs(false);  // the held sync finds the power gone
    stop = true;
    for (std::thread& c : clients) c.join();
    node->Crash();
    node.reset();
    dropped_bytes += env.unsynced_bytes();
    ASSERT_TRUE(env.DropUnsyncedData(round % 2 == 1 ? &rng : nullptr).ok());
    env.SetFilesystemActive(true);
  }
  absl::MutexLock lock(&mu);
  std::printf(
      "%d power cuts, %zu commands answered before them, %d recoveries "
      "truncated a torn tail, %llu unsynced bytes at the cuts\n",
      kCuts, acked.size(), torn_tails,
      static_cast<unsigned long long>(dropped_bytes));
}

}  // namespace
}  // namespace duijie
