// Batch clearing on small hand-built books whose best allocation is known
// by hand: where greedy continuous matching loses kg, where a min lot or a
// budget makes the flow's answer unroundable, holding, urgent arrivals,
// preferences among equal kg, the floor price, state and determinism.
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "engine/clearing_flow.h"
#include "engine/command.h"
#include "engine/engine.h"
#include "engine/records.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine_commands.h"

namespace duijie {
namespace {

using ::testing::HasSubstr;

// A whole hour: clearings with a 1 h interval fall on every hour.
constexpr Micros kT0 = 1'798'992'000'000'000;
constexpr Micros kMinute = kHour / 60;
constexpr char kCounty[] = "621121";       // Tongwei, Dingxi
constexpr char kKeyCounty[] = "621122";    // Longxi, Dingxi: key-assisted
constexpr char kCity[] = "370200";         // Qingdao
constexpr char kPartnerCity[] = "330100";  // Hangzhou, paired with Dingxi

class ClearingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* code :
         {"621100", kCounty, kKeyCounty, kCity, kPartnerCity}) {
      Region r{code, code};
      r.key_assisted = std::string(code) == kKeyCounty;
      ASSERT_TRUE(RunCommand(e_, UpsertRegionCommand{r}, kT0).ok());
    }
    ASSERT_TRUE(RunCommand(e_,
                           UpsertPairingCommand{
                               Pairing{kPartnerCity, "621100", "east-west"}},
                           kT0)
                    .ok());
  }

  void Batch(Micros interval = kHour, std::string prefix = "") {
    absl::StatusOr<ClearingPolicyResult> r = RunCommand(
        e_, SetClearingPolicyCommand{std::move(prefix), interval}, kT0);
    ASSERT_TRUE(r.ok()) << r.status();
  }

  // Offers and pledges of cabbage, expiring at `expires_at`.
  uint64_t Offer(const char* region, int64_t kg, int64_t floor,
                 Micros expires_at, Micros at, int64_t min_lot = 0) {
    PostOfferCommand c;
    c.offer.supplier_id = "coop";
    c.offer.region_code = region;
    c.offer.product_code = "vegetable.cabbage";
    c.offer.grade = 1;
    c.offer.quantity_kg = kg;
    c.offer.floor_price_fen_per_kg = floor;
    c.offer.min_lot_kg = min_lot;
    c.offer.expires_at = expires_at;
    c.offer.households = 3;
    absl::StatusOr<OfferResult> r = RunCommand(e_, c, at);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->offer.offer_id : 0;
  }
  uint64_t Pledge(const char* city, int64_t kg, int64_t max_price,
                  Micros expires_at, Micros at, int64_t min_lot = 0,
                  std::vector<std::string> listed = {}, int64_t budget = 0) {
    PostPledgeCommand c;
    c.pledge.buyer_id = std::string("canteen-") + city;
    c.pledge.buyer_city_code = city;
    c.pledge.buyer_kind = 1;
    c.pledge.product_code = "vegetable";
    c.pledge.quantity_kg = kg;
    c.pledge.max_price_fen_per_kg = max_price;
    c.pledge.min_lot_kg = min_lot;
    c.pledge.budget_fen = budget;
    c.pledge.expires_at = expires_at;
    if (!listed.empty()) {
      c.pledge.scope = static_cast<int>(Scope::kListedRegions);
      c.pledge.region_codes = std::move(listed);
    }
    absl::StatusOr<PledgeResult> r = RunCommand(e_, c, at);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->pledge.pledge_id : 0;
  }
  void PostTheTrap();
  absl::StatusOr<ClearResult> Clear(Micros at) {
    return RunCommand(e_, ClearCommand{}, at);
  }
  std::vector<MatchView> Matches() {
    bool more = false;
    return e_.ListMatches(MatchFilter{}, 0, 1000, &more);
  }
  int64_t MatchedKg() {
    int64_t kg = 0;
    for (const MatchView& m : Matches()) kg += m.quantity_kg;
    return kg;
  }

  Engine e_;
};

// Two offers about to rot and two pledges: one pledge takes either county,
// the other only the key-assisted one. Continuous matching gives the
// flexible pledge the key-assisted offer (it ranks first) and the other
// pledge finds nothing: 100 kg. The clearing sells both: 200 kg.
void ClearingTest::PostTheTrap() {
  const Micros rot = kT0 + 90 * kMinute;  // before the 2nd clearing
  Offer(kCounty, 100, 200, rot, kT0 + kMinute);
  Offer(kKeyCounty, 100, 200, rot, kT0 + 2 * kMinute);
  Pledge(kCity, 100, 300, kT0 + kDay, kT0 + 3 * kMinute);
  Pledge(kCity, 100, 300, kT0 + kDay, kT0 + 4 * kMinute, 0, {kKeyCounty});
}

TEST_F(ClearingTest, GreedyContinuousMatchingLosesKg) {
  PostTheTrap();
  EXPECT_EQ(MatchedKg(), 100);
}

TEST_F(ClearingTest, SellsWhatGreedyContinuousMatchingLoses) {
  Batch();
  PostTheTrap();
  EXPECT_EQ(MatchedKg(), 0) << "orders that can wait rest";
  absl::StatusOr<ClearResult> r = Clear(kT0 + kHour);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->clearings, 1u);
  EXPECT_EQ(r->kg, 200);
  EXPECT_EQ(MatchedKg(), 200);
  for (const MatchView& m : Matches()) {
    EXPECT_EQ(m.price_fen_per_kg, 200) << "a clearing trades at the floor";
  }
  EXPECT_TRUE(e_.CheckInvariants().ok()) << e_.CheckInvariants();
}

// A pledge at a clearing takes the produce about to rot first; produce that
// can wait is held for a later clearing, and trades there when a pledge
// comes for it.
TEST_F(ClearingTest, HoldsProduceThatCanWaitWhileBuyersTakeWhatWouldRot) {
  Batch();
  const uint64_t lasting =
      Offer(kCounty, 100, 200, kT0 + 3 * kDay, kT0 + kMinute);
  const uint64_t rotting =
      Offer(kCounty, 100, 200, kT0 + 90 * kMinute, kT0 + 2 * kMinute);
  Pledge(kPartnerCity, 100, 300, kT0 + kDay, kT0 + 3 * kMinute);
  EXPECT_EQ(MatchedKg(), 0) << "everything rests until the clearing";
  absl::StatusOr<ClearResult> r = Clear(kT0 + kHour);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->kg, 100);
  ASSERT_EQ(Matches().size(), 1u);
  EXPECT_EQ(Matches()[0].offer_id, rotting);
  EXPECT_TRUE(Matches()[0].partner);
  EXPECT_EQ(e_.GetOffer(lasting, kT0 + kHour)->remaining_kg, 100);
  // Nothing more is due until 2 h; then a new pledge takes the held offer.
  EXPECT_EQ(e_.NextClearingAt(), kT0 + 2 * kHour);
  EXPECT_EQ(Clear(kT0 + kHour + kMinute).status().code(),
            absl::StatusCode::kFailedPrecondition);
  Pledge(kCity, 60, 300, kT0 + kDay, kT0 + 90 * kMinute);
  ASSERT_TRUE(Clear(kT0 + 2 * kHour).ok());
  EXPECT_EQ(e_.GetOffer(lasting, kT0 + 2 * kHour)->remaining_kg, 40);
  // With no pledge left, the rest of it waits.
  absl::StatusOr<ClearResult> idle = Clear(kT0 + 3 * kHour);
  ASSERT_TRUE(idle.ok()) << idle.status();
  EXPECT_EQ(idle->kg, 0);
}

TEST_F(ClearingTest, AnOrderThatCannotWaitMatchesOnArrival) {
  Batch();
  Pledge(kCity, 100, 300, kT0 + kDay, kT0 + kMinute);
  // Expires at 0:30, before the 1 h clearing: matched at once by the
  // continuous rules (at the resting pledge's price).
  Offer(kCounty, 40, 200, kT0 + 30 * kMinute, kT0 + 2 * kMinute);
  ASSERT_EQ(Matches().size(), 1u);
  EXPECT_EQ(Matches()[0].quantity_kg, 40);
  EXPECT_EQ(Matches()[0].price_fen_per_kg, 300);
}

// One offer of 100 kg, two pledges of 60 kg with min lots of 60. The flow
// (lots relaxed) sends 60 + 40; 40 kg is below the second pledge's lot, so
// only the first trade can be carried out: 60 kg, and the offer keeps 40.
TEST_F(ClearingTest, AMinLotTheFlowIgnoresIsKeptWhenItIsCarriedOut) {
  Batch();
  const Micros rot = kT0 + 90 * kMinute;
  const uint64_t offer = Offer(kCounty, 100, 200, rot, kT0 + kMinute);
  Pledge(kCity, 60, 300, rot, kT0 + 2 * kMinute, /*min_lot=*/60);
  Pledge(kCity, 60, 300, rot, kT0 + 3 * kMinute, /*min_lot=*/60);
  ASSERT_TRUE(Clear(kT0 + kHour).ok());
  ASSERT_EQ(Matches().size(), 1u);
  EXPECT_EQ(Matches()[0].quantity_kg, 60);
  EXPECT_EQ(e_.GetOffer(offer, kT0 + kHour)->remaining_kg, 40);
  EXPECT_TRUE(e_.CheckInvariants().ok()) << e_.CheckInvariants();
}

// A pledge of 100 kg with a budget of 900 fen, two offers of 60 kg at
// 10 fen: each pair alone fits the budget, so the flow sends 100 kg; the
// budget buys 90, and the second trade is cut to 30 kg.
TEST_F(ClearingTest, ABudgetTheFlowRelaxesIsNeverExceeded) {
  Batch();
  const Micros rot = kT0 + 90 * kMinute;
  Offer(kCounty, 60, 10, rot, kT0 + kMinute);
  Offer(kCounty, 60, 10, rot, kT0 + 2 * kMinute);
  const uint64_t pledge = Pledge(kCity, 100, 20, rot, kT0 + 3 * kMinute, 0, {},
                                 /*budget=*/900);
  ASSERT_TRUE(Clear(kT0 + kHour).ok());
  EXPECT_EQ(MatchedKg(), 90);
  absl::StatusOr<PledgeView> p = e_.GetPledge(pledge, kT0 + kHour);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->spent_fen, 900);
  EXPECT_TRUE(e_.CheckInvariants().ok()) << e_.CheckInvariants();
}

// A pledge whose budget would not pay for its kg at its max price buys the
// cheaper of two offers due to rot before the next clearing, though the
// dearer one rots first: 600 fen buy 100 kg at 5 fen, 60 at 10. By nearest
// expiry first (the order for other pledges) the flow would send 60 kg
// from the dear offer and the budget would buy nothing more. (kT0 is 4 h
// past a multiple of 6 h: the first clearing falls at kT0 + 2 h.)
TEST_F(ClearingTest, ABudgetBoundPledgeBuysTheCheaperProduce) {
  Batch(6 * kHour);
  const Micros clearing = kT0 + 2 * kHour;
  ASSERT_EQ(e_.NextClearingAt(), clearing);
  const uint64_t dear = Offer(kCounty, 100, 10, kT0 + 3 * kHour, kT0);
  const uint64_t cheap = Offer(kCounty, 100, 5, kT0 + 7 * kHour, kT0);
  const uint64_t pledge =
      Pledge(kCity, 100, 10, kT0 + kDay, kT0 + kMinute, 0, {}, /*budget=*/600);
  EXPECT_EQ(MatchedKg(), 0);
  ASSERT_TRUE(Clear(clearing).ok());
  ASSERT_EQ(Matches().size(), 1u);
  EXPECT_EQ(Matches()[0].offer_id, cheap);
  EXPECT_EQ(Matches()[0].quantity_kg, 100);
  EXPECT_EQ(e_.GetPledge(pledge, clearing)->spent_fen, 500);
  EXPECT_EQ(e_.GetOffer(dear, clearing)->remaining_kg, 100);
  EXPECT_TRUE(e_.CheckInvariants().ok()) << e_.CheckInvariants();
}

// Partners still come first for such a pledge: Hangzhou's canteen takes
// its partner Dingxi's dearer produce before Liangshan's cheaper. Its
// budget then buys 60 kg, where the cheaper produce alone would have given
// it 100: partner share before kg among pairs the flow sees as equal (it
// relaxes the budget across pairs).
TEST_F(ClearingTest, ABudgetBoundPledgeTakesPartnersFirst) {
  for (const char* code : {"513400", "513401"}) {
    ASSERT_TRUE(
        RunCommand(e_, UpsertRegionCommand{Region{code, code}}, kT0).ok());
  }
  Batch();
  const Micros rot = kT0 + 90 * kMinute;
  const uint64_t partner = Offer(kCounty, 100, 10, rot, kT0);
  Offer("513401", 100, 5, rot, kT0);
  Pledge(kPartnerCity, 100, 10, kT0 + kDay, kT0 + kMinute, 0, {},
         /*budget=*/600);
  ASSERT_TRUE(Clear(kT0 + kHour).ok());
  ASSERT_EQ(Matches().size(), 1u);
  EXPECT_EQ(Matches()[0].offer_id, partner);
  EXPECT_TRUE(Matches()[0].partner);
  EXPECT_EQ(Matches()[0].quantity_kg, 60);
}

// Among answers selling the same kg: a partner pledge before a dearer
// other one, and a key-assisted origin before another.
TEST_F(ClearingTest, AmongEqualKgPrefersPartnersThenKeyAssistedOrigins) {
  Batch();
  const Micros rot = kT0 + 90 * kMinute;
  Offer(kCounty, 50, 200, rot, kT0 + kMinute);
  Pledge(kCity, 50, 400, rot, kT0 + 2 * kMinute);
  Pledge(kPartnerCity, 50, 250, rot, kT0 + 3 * kMinute);
  ASSERT_TRUE(Clear(kT0 + kHour).ok());
  ASSERT_EQ(Matches().size(), 1u);
  EXPECT_TRUE(Matches()[0].partner);
  EXPECT_EQ(Matches()[0].buyer_city_code, kPartnerCity);

  // A pledge that can take one of two offers (Qingdao is paired with
  // neither) takes the key-assisted county's, though it is dearer.
  const Micros rot2 = kT0 + 150 * kMinute;
  Offer(kCounty, 30, 100, rot2, kT0 + 61 * kMinute);
  Offer(kKeyCounty, 30, 150, rot2, kT0 + 62 * kMinute);
  Pledge(kCity, 30, 400, rot2, kT0 + 63 * kMinute);
  ASSERT_TRUE(Clear(kT0 + 2 * kHour).ok());
  ASSERT_EQ(Matches().size(), 2u);
  EXPECT_EQ(Matches()[1].region_code, kKeyCounty);
}

TEST_F(ClearingTest, BackToContinuousClearsWhatWasHeld) {
  Batch();
  Offer(kCounty, 70, 200, kT0 + kDay, kT0 + kMinute);
  Pledge(kCity, 100, 300, kT0 + kDay, kT0 + 2 * kMinute);
  EXPECT_EQ(MatchedKg(), 0);
  absl::StatusOr<ClearingPolicyResult> r =
      RunCommand(e_, SetClearingPolicyCommand{"", 0}, kT0 + 3 * kMinute);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(MatchedKg(), 70);
  EXPECT_EQ(e_.NextClearingAt(), std::numeric_limits<Micros>::max());
  EXPECT_TRUE(e_.ClearingPolicies().empty());
}

TEST_F(ClearingTest, APolicyCoversItsPrefixBySegments) {
  Batch(kHour, "vegetable.cabbage");
  ASSERT_EQ(e_.ClearingPolicies().size(), 1u);
  EXPECT_EQ(e_.ClearingPolicies()[0].next_clearing_at, kT0 + kHour);
  // Cabbage is held...
  Pledge(kCity, 100, 300, kT0 + kDay, kT0 + kMinute);
  Offer(kCounty, 10, 200, kT0 + kDay, kT0 + 2 * kMinute);
  EXPECT_EQ(MatchedKg(), 0);
  // ...a product outside the prefix matches on arrival.
  PostOfferCommand c;
  c.offer = {"coop", kCounty, "vegetable.cabbage_red", 1, 5, 200, 0, kT0 + kDay,
             false,  1};
  ASSERT_TRUE(RunCommand(e_, c, kT0 + 3 * kMinute).ok());
  EXPECT_EQ(MatchedKg(), 5);
  bool more = false;
  std::vector<BookLine> book = e_.GetBook("", "", 10, kT0 + 3 * kMinute, &more);
  for (const BookLine& line : book) {
    EXPECT_EQ(line.next_clearing_at,
              line.product_code == "vegetable.cabbage" ? kT0 + kHour : 0)
        << line.product_code;
  }
}

TEST_F(ClearingTest, RefusesBadPoliciesAndClearingsNotDue) {
  absl::Status s =
      RunCommand(e_, SetClearingPolicyCommand{"", 1500}, kT0).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("interval"));
  s = RunCommand(e_, SetClearingPolicyCommand{"", 8 * kDay}, kT0).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  s = RunCommand(e_, SetClearingPolicyCommand{"Vegetable", kHour}, kT0)
          .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("product_prefix"));
  s = Clear(kT0).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(e_.ClearingPolicies().empty());
}

// The same commands give the same trades and state; the state saves and
// loads with its policies, and a loaded engine clears as the first did.
TEST_F(ClearingTest, DeterministicAcrossSaveAndLoad) {
  auto play = [](Engine& e, Micros from, Micros to) {
    for (Micros t = from; t < to; t += 7 * kMinute) {
      const int64_t i = (t - kT0) / (7 * kMinute);
      if (e.NextClearingAt() <= t) {
        ASSERT_TRUE(
            e.TickAndApply(MakeCommand(ClearCommand{}, e.NextClearingAt()))
                .ok());
      }
      PostOfferCommand o;
      o.offer = {"coop",
                 i % 3 ? kCounty : kKeyCounty,
                 "vegetable.cabbage",
                 1,
                 20 + i % 7 * 10,
                 150 + i % 5 * 20,
                 i % 2 * 10,
                 t + (1 + i % 5) * kHour,
                 false,
                 2};
      absl::StatusOr<CommandResult> r = e.TickAndApply(MakeCommand(o, t));
      ASSERT_TRUE(r.ok()) << r.status();
      PostPledgeCommand p;
      p.pledge.buyer_id = "canteen";
      p.pledge.buyer_city_code = i % 2 ? kCity : kPartnerCity;
      p.pledge.buyer_kind = 1;
      p.pledge.product_code = "vegetable";
      p.pledge.quantity_kg = 30 + i % 4 * 15;
      p.pledge.max_price_fen_per_kg = 160 + i % 6 * 20;
      p.pledge.min_lot_kg = i % 3 * 10;
      p.pledge.expires_at = t + (1 + i % 3) * kHour;
      ASSERT_TRUE(e.TickAndApply(MakeCommand(p, t + kMinute)).ok());
    }
  };
  Batch();
  play(e_, kT0 + kMinute, kT0 + 5 * kHour);
  ASSERT_TRUE(e_.CheckInvariants().ok()) << e_.CheckInvariants();
  EXPECT_GT(MatchedKg(), 0);

  Engine loaded;
  absl::Status loading = loaded.LoadState(e_.SaveState());
  ASSERT_TRUE(loading.ok()) << loading;
  EXPECT_EQ(loaded.StateHash(), e_.StateHash());
  EXPECT_EQ(loaded.NextClearingAt(), e_.NextClearingAt());
  play(e_, kT0 + 5 * kHour, kT0 + 9 * kHour);
  play(loaded, kT0 + 5 * kHour, kT0 + 9 * kHour);
  EXPECT_EQ(loaded.StateHash(), e_.StateHash());
  ASSERT_TRUE(loaded.CheckInvariants().ok()) << loaded.CheckInvariants();
}

TEST(ClearingQuantityTest, RoundsToTheLotsWithinWhatAFillAllows) {
  OfferRecord o{};
  PledgeRecord p{};
  o.remaining_kg = 100;
  o.min_lot_kg = 0;
  p.remaining_kg = 60;
  p.min_lot_kg = 50;
  p.budget_fen = 0;
  EXPECT_EQ(ClearingQuantity(o, p, 10, 30), 50);  // up to the pledge's lot
  EXPECT_EQ(ClearingQuantity(o, p, 10, 55), 55);
  EXPECT_EQ(ClearingQuantity(o, p, 10, 90), 60);  // no more than it wants
  o.remaining_kg = 40;                            // below the lot, not all
  EXPECT_EQ(ClearingQuantity(o, p, 10, 30), 0);
}

TEST(ClearingFlowTest, MovesTheMostKgThenTheCheapest) {
  // Offer 0 (10 kg) can go to pledge 0 or 1; offer 1 (10 kg) only to
  // pledge 0. Most kg: 0->1 and 1->0, though 0->0 is cheaper.
  const std::vector<int64_t> flows = SolveClearingFlow(
      {10, 10}, {10, 10}, {{0, 0, 10, 1}, {0, 1, 10, 5}, {1, 0, 10, 9}});
  EXPECT_EQ(flows, (std::vector<int64_t>{0, 10, 10}));
  // Equal kg: the cheaper pair.
  EXPECT_EQ(SolveClearingFlow({10}, {10, 10}, {{0, 0, 10, 7}, {0, 1, 10, 3}}),
            (std::vector<int64_t>{0, 10}));
  // A free partner pair blocks two dear ones that together move twice the
  // kg: the kg still come first, however dear the pairs (a reward per kg
  // below twice the cost of a pair would keep the partner pair instead).
  const int64_t dear = kMaxClearingCost - 1;
  EXPECT_EQ(
      SolveClearingFlow({10, 10}, {10, 10},
                        {{0, 0, 10, 0}, {0, 1, 10, dear}, {1, 0, 10, dear}}),
      (std::vector<int64_t>{0, 10, 10}));
}

// On random tiny problems, the solver's answer is feasible, moves the most
// kg any integer assignment moves and, among those, costs the least (brute
// force over every assignment).
TEST(ClearingFlowTest, MatchesBruteForceOnTinyProblems) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 300; ++round) {
    const int offers = 1 + rng() % 3, pledges = 1 + rng() % 3;
    std::vector<int64_t> offer_kg(offers), pledge_kg(pledges);
    for (int64_t& kg : offer_kg) kg = rng() % 4;
    for (int64_t& kg : pledge_kg) kg = rng() % 4;
    std::vector<ClearingPair> pairs;
    for (int i = 0; i < offers; ++i) {
      for (int j = 0; j < pledges; ++j) {
        if (rng() % 3 == 0) continue;
        pairs.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(j),
                         static_cast<int64_t>(rng() % 4),
                         static_cast<int64_t>(rng() % 5) << 24});
      }
    }
    // (kg, -cost) of an assignment; nullopt when it breaks a capacity.
    auto value = [&](const std::vector<int64_t>& flows)
        -> std::optional<std::pair<int64_t, int64_t>> {
      std::vector<int64_t> out(offers, 0), in(pledges, 0);
      int64_t kg = 0, cost = 0;
      for (size_t k = 0; k < pairs.size(); ++k) {
        if (flows[k] < 0 || flows[k] > pairs[k].capacity_kg) return {};
        out[pairs[k].offer] += flows[k];
        in[pairs[k].pledge] += flows[k];
        kg += flows[k];
        cost += flows[k] * pairs[k].cost;
      }
      for (int i = 0; i < offers; ++i) {
        if (out[i] > offer_kg[i]) return {};
      }
      for (int j = 0; j < pledges; ++j) {
        if (in[j] > pledge_kg[j]) return {};
      }
      return std::make_pair(kg, -cost);
    };
    std::pair<int64_t, int64_t> best{0, 0};
    std::vector<int64_t> flows(pairs.size(), 0);
    // Every assignment of 0..capacity to each pair, as an odometer.
    while (true) {
      if (auto v = value(flows)) best = std::max(best, *v);
      size_t k = 0;
      while (k < pairs.size() && flows[k] == pairs[k].capacity_kg) {
        flows[k++] = 0;
      }
      if (k == pairs.size()) break;
      ++flows[k];
    }
    const auto solved = value(SolveClearingFlow(offer_kg, pledge_kg, pairs));
    ASSERT_TRUE(solved.has_value()) << "round " << round;
    EXPECT_EQ(*solved, best) << "round " << round;
  }
}

}  // namespace
}  // namespace duijie
