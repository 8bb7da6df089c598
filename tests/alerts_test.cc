// Glut alerts (engine/alerts.h) on hand-built books: raised, escalated and
// cleared with hysteresis; demand that absorbs a glut; produce that comes
// within the horizon as time passes; candidates; thresholds per category;
// the state round trip.
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/alert_feed.h"
#include "engine/command.h"
#include "engine/engine.h"
#include "engine/price_bands.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine_commands.h"
#include "tests/random_stream.h"

namespace duijie {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr Micros kT0 = 1'798'992'000'000'000;
constexpr Micros kMinute = kHour / 60;
constexpr char kCounty[] = "621121";       // Tongwei, Dingxi
constexpr char kOtherCounty[] = "621122";  // Longxi, Dingxi
constexpr char kCity[] = "370200";         // Qingdao: not paired
constexpr char kPartnerCity[] = "330100";  // Hangzhou, paired with Dingxi

class AlertsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* code :
         {"621100", kCounty, kOtherCounty, kCity, kPartnerCity}) {
      ASSERT_TRUE(
          RunCommand(e_, UpsertRegionCommand{Region{code, code}}, kT0).ok());
    }
    ASSERT_TRUE(RunCommand(e_,
                           UpsertPairingCommand{
                               Pairing{kPartnerCity, "621100", "east-west"}},
                           kT0)
                    .ok());
    // Gap 1,000 kg, ratio 1.5, cleared below 500 kg, 72 h ahead.
    SetThresholds(AlertThresholds{"", 72 * kHour, 1000, 1500, 500});
  }

  void SetThresholds(const AlertThresholds& t, Micros at = kT0) {
    absl::StatusOr<AlertThresholdsResult> r =
        RunCommand(e_, SetAlertThresholdsCommand{t}, at);
    ASSERT_TRUE(r.ok()) << r.status();
  }

  uint64_t Offer(const char* region, int64_t kg, int64_t floor,
                 Micros expires_at, Micros at = kT0,
                 const char* product = "vegetable.cabbage", int grade = 1,
                 bool certified = false) {
    PostOfferCommand c;
    c.offer.supplier_id = "coop";
    c.offer.region_code = region;
    c.offer.product_code = product;
    c.offer.grade = grade;
    c.offer.quantity_kg = kg;
    c.offer.floor_price_fen_per_kg = floor;
    c.offer.expires_at = expires_at;
    c.offer.households = 3;
    c.offer.certified = certified;
    absl::StatusOr<OfferResult> r = RunCommand(e_, c, at);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->offer.offer_id : 0;
  }
  absl::StatusOr<PledgeResult> Pledge(const char* city, int64_t kg,
                                      int64_t max_price, Micros at = kT0,
                                      int64_t min_lot = 0,
                                      std::vector<std::string> listed = {},
                                      int min_grade = 0) {
    PostPledgeCommand c;
    c.pledge.buyer_id = std::string("canteen-") + city;
    c.pledge.buyer_city_code = city;
    c.pledge.buyer_kind = 1;
    c.pledge.product_code = "vegetable";
    c.pledge.quantity_kg = kg;
    c.pledge.max_price_fen_per_kg = max_price;
    c.pledge.min_lot_kg = min_lot;
    c.pledge.min_grade = min_grade;
    c.pledge.expires_at = kT0 + 30 * kDay;
    if (!listed.empty()) {
      c.pledge.scope = static_cast<int>(Scope::kListedRegions);
      c.pledge.region_codes = std::move(listed);
    }
    return RunCommand(e_, c, at);
  }
  void AmendQuantity(uint64_t offer_id, int64_t kg, Micros at = kT0) {
    AmendOfferCommand c;
    c.offer_id = offer_id;
    c.has_quantity_kg = true;
    c.quantity_kg = kg;
    ASSERT_TRUE(RunCommand(e_, c, at).ok());
  }

  // The alerts of the county, open ones unless `all`.
  std::vector<AlertView> CountyAlerts(bool all = false) const {
    AlertFilter f;
    f.region_code_prefix = kCounty;
    f.include_cleared = all;
    return e_.ListAlerts(f);
  }
  std::vector<AlertEventKind> CountyEventKinds() const {
    AlertFilter f;
    f.region_code_prefix = kCounty;
    bool more = false;
    std::vector<AlertEventKind> kinds;
    for (const AlertEventView& e : e_.ListAlertEvents(f, 0, 100, &more)) {
      kinds.push_back(e.kind);
    }
    return kinds;
  }

  Engine e_;
};

TEST_F(AlertsTest, RaisedWhenProduceAtRiskExceedsDemand) {
  Offer(kCounty, 1500, 200, kT0 + 48 * kHour);
  std::vector<AlertView> alerts = CountyAlerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].product_code, "vegetable.cabbage");
  EXPECT_EQ(alerts[0].region_code, kCounty);
  EXPECT_EQ(alerts[0].level, AlertLevel::kWatch);
  EXPECT_EQ(alerts[0].at_risk_kg, 1500);
  EXPECT_EQ(alerts[0].demand_kg, 0);
  EXPECT_EQ(alerts[0].households, 3);
  EXPECT_EQ(alerts[0].open_offer_kg, 1500);
  EXPECT_EQ(alerts[0].raised_at, kT0);
  // The prefecture and the province are glutted too.
  AlertFilter all;
  std::vector<std::string> regions;
  for (const AlertView& a : e_.ListAlerts(all))
    regions.push_back(a.region_code);
  EXPECT_THAT(regions,
              testing::UnorderedElementsAre(kCounty, "621100", "620000"));
  EXPECT_THAT(CountyEventKinds(), ElementsAre(AlertEventKind::kRaised));
}

TEST_F(AlertsTest, BelowTheGapNothingIsRaised) {
  Offer(kCounty, 999, 200, kT0 + 48 * kHour);
  EXPECT_TRUE(e_.ListAlerts(AlertFilter{}).empty());
  EXPECT_EQ(e_.last_alert_event_id(), 0u);
}

TEST_F(AlertsTest, ProduceFarFromExpiryIsNotAtRisk) {
  Offer(kCounty, 5000, 200, kT0 + 100 * kHour);
  EXPECT_TRUE(CountyAlerts().empty());
  // 28 h later it expires within 72 h: at risk, raised at the tick.
  Tick(e_, kT0 + 28 * kHour - kMinute);
  EXPECT_TRUE(CountyAlerts().empty());
  Tick(e_, kT0 + 28 * kHour);
  std::vector<AlertView> alerts = CountyAlerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].raised_at, kT0 + 28 * kHour);
  EXPECT_EQ(alerts[0].at_risk_kg, 5000);
  EXPECT_EQ(alerts[0].level, AlertLevel::kCritical);
}

TEST_F(AlertsTest, EscalatesAsTheGapGrows) {
  Offer(kCounty, 1500, 200, kT0 + 48 * kHour);
  Offer(kCounty, 1000, 200, kT0 + 48 * kHour, kT0 + kMinute);
  ASSERT_EQ(CountyAlerts().size(), 1u);
  EXPECT_EQ(CountyAlerts()[0].level, AlertLevel::kWarning);
  Offer(kCounty, 2000, 200, kT0 + 48 * kHour, kT0 + 2 * kMinute);
  std::vector<AlertView> alerts = CountyAlerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].level, AlertLevel::kCritical);
  EXPECT_EQ(alerts[0].at_risk_kg, 4500);
  EXPECT_EQ(alerts[0].households, 9);
  EXPECT_EQ(alerts[0].updated_at, kT0 + 2 * kMinute);
  EXPECT_THAT(CountyEventKinds(),
              ElementsAre(AlertEventKind::kRaised, AlertEventKind::kEscalated,
                          AlertEventKind::kEscalated));
  // A smaller gap does not lower the level of an open alert.
  Offer(kCounty, 1, 200, kT0 + 48 * kHour);
  AlertFilter f;
  f.region_code_prefix = kCounty;
  EXPECT_EQ(e_.ListAlerts(f)[0].level, AlertLevel::kCritical);
}

TEST_F(AlertsTest, ClearsWithHysteresis) {
  const uint64_t id = Offer(kCounty, 1500, 200, kT0 + 48 * kHour);
  ASSERT_EQ(CountyAlerts().size(), 1u);
  // Below the gap but above half of it: still open.
  AmendQuantity(id, 600);
  ASSERT_EQ(CountyAlerts().size(), 1u);
  EXPECT_EQ(CountyAlerts()[0].at_risk_kg, 600);
  // Below half: cleared.
  AmendQuantity(id, 400, kT0 + kMinute);
  EXPECT_TRUE(CountyAlerts().empty());
  std::vector<AlertView> all = CountyAlerts(/*all=*/true);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].cleared_at, kT0 + kMinute);
  // Back between half and the gap: not raised again.
  AmendQuantity(id, 900, kT0 + 2 * kMinute);
  EXPECT_TRUE(CountyAlerts().empty());
  // Past the gap: a new alert.
  AmendQuantity(id, 1100, kT0 + 3 * kMinute);
  std::vector<AlertView> open = CountyAlerts();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_NE(open[0].alert_id, all[0].alert_id);
  EXPECT_THAT(CountyEventKinds(),
              ElementsAre(AlertEventKind::kRaised, AlertEventKind::kCleared,
                          AlertEventKind::kRaised));
}

TEST_F(AlertsTest, APledgeThatTakesTheProduceClearsTheAlert) {
  Offer(kCounty, 1500, 200, kT0 + 48 * kHour);
  ASSERT_EQ(CountyAlerts().size(), 1u);
  absl::StatusOr<PledgeResult> p = Pledge(kCity, 1200, 250, kT0 + kMinute);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->matches.size(), 1u);
  EXPECT_TRUE(CountyAlerts().empty());
  std::vector<AlertView> all = CountyAlerts(/*all=*/true);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].at_risk_kg, 300);
}

TEST_F(AlertsTest, CompatibleDemandInScopeClearsTheAlertAtOnce) {
  Offer(kCounty, 1500, 200, kT0 + 48 * kHour);
  ASSERT_EQ(CountyAlerts().size(), 1u);
  // It cannot match (its min lot is more than the offer has) but it could
  // take the produce: demand, judged by the command that brings it.
  absl::StatusOr<PledgeResult> p =
      Pledge(kCity, 5000, 250, kT0 + kMinute, /*min_lot=*/2000);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(p->matches.empty());
  EXPECT_TRUE(CountyAlerts().empty());
  std::vector<AlertView> all = CountyAlerts(/*all=*/true);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].demand_kg, 5000);
  EXPECT_EQ(all[0].cleared_at, kT0 + kMinute);
}

TEST_F(AlertsTest, DemandMovesTheJudgementOnlyAcrossAThreshold) {
  // One lot of 1,500 kg: pledges of less cannot match it, but count as
  // demand (lots are not judged).
  PostOfferCommand c;
  c.offer.supplier_id = "coop";
  c.offer.region_code = kCounty;
  c.offer.product_code = "vegetable.cabbage";
  c.offer.grade = 1;
  c.offer.quantity_kg = 1500;
  c.offer.min_lot_kg = 1500;
  c.offer.floor_price_fen_per_kg = 200;
  c.offer.expires_at = kT0 + 48 * kHour;
  c.offer.households = 3;
  ASSERT_TRUE(RunCommand(e_, c, kT0).ok());
  ASSERT_EQ(CountyAlerts().size(), 1u);
  // Cheap demand, however large, is not compatible: the alert stands.
  ASSERT_TRUE(Pledge(kCity, 900000, 100, kT0 + kMinute).ok());
  ASSERT_EQ(CountyAlerts().size(), 1u);
  EXPECT_EQ(CountyAlerts()[0].demand_kg, 0);
  // Demand at the floor that leaves the gap at 800: open, its figures as
  // they stand, its updated_at its last event's (raised).
  ASSERT_TRUE(Pledge(kCity, 700, 200, kT0 + 2 * kMinute).ok());
  std::vector<AlertView> open = CountyAlerts();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].demand_kg, 700);
  EXPECT_EQ(open[0].updated_at, kT0);
  // 300 kg more: a gap of 500 is not below half of min_gap: still open.
  ASSERT_TRUE(Pledge(kCity, 300, 200, kT0 + 3 * kMinute).ok());
  ASSERT_EQ(CountyAlerts().size(), 1u);
  // 1 kg more clears it.
  ASSERT_TRUE(Pledge(kCity, 1, 250, kT0 + 4 * kMinute).ok());
  EXPECT_TRUE(CountyAlerts().empty());
  std::vector<AlertView> all = CountyAlerts(/*all=*/true);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].demand_kg, 1001);
  EXPECT_EQ(all[0].cleared_at, kT0 + 4 * kMinute);
}

TEST_F(AlertsTest, DemandOutOfScopeGradeOrPriceDoesNotCount) {
  // Listed for the other county, too cheap, or wanting a better grade.
  ASSERT_TRUE(Pledge(kCity, 5000, 250, kT0, 0, {kOtherCounty}).ok());
  ASSERT_TRUE(Pledge(kCity, 5000, 100, kT0).ok());
  ASSERT_TRUE(Pledge(kCity, 5000, 250, kT0, 0, {}, /*min_grade=*/1).ok());
  Offer(kCounty, 1500, 200, kT0 + 48 * kHour, kT0, "vegetable.cabbage",
        /*grade=*/2);
  std::vector<AlertView> alerts = CountyAlerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].demand_kg, 0);
  // The listed pledge reaches part of the prefecture and the province (its
  // county is in them), so there it counts as demand (an upper bound):
  // 5,000 kg, no glut at those levels.
  AlertFilter f;
  f.region_code_prefix = "62";
  std::vector<AlertView> wider = e_.ListAlerts(f);
  ASSERT_EQ(wider.size(), 1u);
  EXPECT_EQ(wider[0].region_code, kCounty);
}

TEST_F(AlertsTest, CandidatesArePairedPledgesThatCouldWiden) {
  // Paired, but bids too little: a candidate that needs a higher price.
  absl::StatusOr<PledgeResult> cheap = Pledge(kPartnerCity, 800, 150);
  ASSERT_TRUE(cheap.ok());
  // Not paired with Dingxi: never a candidate.
  ASSERT_TRUE(Pledge(kCity, 800, 150).ok());
  Offer(kCounty, 1500, 200, kT0 + 48 * kHour);
  std::vector<AlertView> alerts = CountyAlerts();
  ASSERT_EQ(alerts.size(), 1u);
  ASSERT_EQ(alerts[0].candidates.size(), 1u);
  const AlertCandidateView& c = alerts[0].candidates[0];
  EXPECT_EQ(c.pledge_id, cheap->pledge.pledge_id);
  EXPECT_EQ(c.buyer_id, std::string("canteen-") + kPartnerCity);
  EXPECT_EQ(c.buyer_city_code, kPartnerCity);
  EXPECT_EQ(c.kg, 800);
  EXPECT_THAT(c.changes, ElementsAre("max price 200 fen/kg"));
}

TEST_F(AlertsTest, ThresholdsPerCategory) {
  SetThresholds(AlertThresholds{"fruit", 24 * kHour, 100, 1000, 500});
  // An apple glut of 200 kg passes fruit's gap; cabbage's 200 kg do not.
  Offer(kCounty, 200, 300, kT0 + 12 * kHour, kT0, "fruit.apple");
  Offer(kCounty, 200, 300, kT0 + 12 * kHour);
  std::vector<AlertView> alerts = CountyAlerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].product_code, "fruit.apple");
  // Fruit's horizon is 24 h: produce 30 h from expiry is not at risk.
  Offer(kOtherCounty, 500, 300, kT0 + 30 * kHour, kT0, "fruit.apple");
  AlertFilter f;
  f.region_code_prefix = kOtherCounty;
  EXPECT_TRUE(e_.ListAlerts(f).empty());
  std::vector<AlertThresholds> listed = e_.ListAlertThresholds();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].category, "");
  EXPECT_EQ(listed[1].category, "fruit");
  EXPECT_EQ(listed[1].min_gap_kg, 100);
}

TEST_F(AlertsTest, NewThresholdsApplyAtOnce) {
  Offer(kCounty, 800, 200, kT0 + 48 * kHour);
  EXPECT_TRUE(CountyAlerts().empty());
  SetThresholds(AlertThresholds{"", 72 * kHour, 500, 1000, 500}, kT0 + kMinute);
  ASSERT_EQ(CountyAlerts().size(), 1u);
  EXPECT_EQ(CountyAlerts()[0].raised_at, kT0 + kMinute);
}

TEST_F(AlertsTest, BadThresholdsAreRefusedNamingTheField) {
  struct Case {
    AlertThresholds t;
    const char* field;
  } cases[] = {
      {{"vegetable.cabbage", 72 * kHour, 1000, 1500, 500}, "category"},
      {{"", kHour / 2, 1000, 1500, 500}, "horizon"},
      {{"", 72 * kHour, 0, 1500, 500}, "min_gap_kg"},
      {{"", 72 * kHour, 1000, 999, 500}, "min_ratio_permille"},
      {{"", 72 * kHour, 1000, 1500, 1001}, "clear_permille"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<AlertThresholdsResult> r =
        RunCommand(e_, SetAlertThresholdsCommand{c.t}, kT0);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr(c.field));
  }
  EXPECT_EQ(e_.ListAlertThresholds()[0].min_gap_kg, 1000);
}

TEST_F(AlertsTest, StateRoundTripKeepsAlertsAndGoesOnTheSame) {
  const uint64_t id = Offer(kCounty, 1500, 200, kT0 + 48 * kHour);
  Offer(kOtherCounty, 2500, 200, kT0 + 100 * kHour);
  AmendQuantity(id, 400, kT0 + kMinute);  // clears the county's
  const std::string saved = e_.SaveState();
  Engine loaded;
  ASSERT_TRUE(loaded.LoadState(saved).ok());
  EXPECT_EQ(loaded.SaveState(), saved);
  EXPECT_EQ(loaded.last_alert_event_id(), e_.last_alert_event_id());
  AlertFilter all;
  all.include_cleared = true;
  ASSERT_EQ(loaded.ListAlerts(all).size(), e_.ListAlerts(all).size());
  EXPECT_EQ(loaded.ListAlertThresholds()[0].min_gap_kg, 1000);
  // Time makes the other county's produce at risk in both alike.
  const uint64_t events = e_.last_alert_event_id();
  Tick(e_, kT0 + 30 * kHour);
  Tick(loaded, kT0 + 30 * kHour);
  EXPECT_GT(e_.last_alert_event_id(), events);
  EXPECT_EQ(loaded.last_alert_event_id(), e_.last_alert_event_id());
  EXPECT_EQ(loaded.SaveState(), e_.SaveState());
  ASSERT_TRUE(loaded.CheckInvariants().ok());
}

// Prices past the largest an order may have were never accepted, so a
// state holding one is corrupt: refused, not loaded (the price bands and
// the books' arithmetic rely on the bound).
TEST_F(AlertsTest, AStateWithAPricePastTheLargestIsRefused) {
  constexpr int64_t kFloor = 123'456'789, kMax = 123'456'700;
  Offer(kCounty, 1500, kFloor, kT0 + 200 * kHour);
  ASSERT_TRUE(Pledge(kCity, 100, kMax).ok());  // below the floor: rests
  const std::string saved = e_.SaveState();
  auto bytes = [](int64_t v) {
    std::string b(8, '\0');
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i) & 0xff);
    return b;
  };
  for (const auto& [price, what] :
       {std::pair{kFloor, "bad offer"}, std::pair{kMax, "bad pledge"}}) {
    const size_t at = saved.find(bytes(price));
    ASSERT_NE(at, std::string::npos) << what;
    ASSERT_EQ(saved.find(bytes(price), at + 1), std::string::npos) << what;
    std::string state = saved;
    state.replace(at, 8, bytes(kMaxPriceFenPerKg));
    Engine at_the_bound;
    EXPECT_TRUE(at_the_bound.LoadState(state).ok()) << what;
    state.replace(at, 8, bytes(kMaxPriceFenPerKg + 1));
    Engine past_it;
    const absl::Status loaded = past_it.LoadState(state);
    EXPECT_FALSE(loaded.ok()) << what;
    EXPECT_THAT(loaded.message(), HasSubstr(what));
  }
}

TEST_F(AlertsTest, AStateWithoutAlertsLoadsWithNone) {
  Engine plain;
  ASSERT_TRUE(
      RunCommand(plain, UpsertRegionCommand{Region{kCounty, "x"}}, kT0).ok());
  Engine loaded;
  ASSERT_TRUE(loaded.LoadState(plain.SaveState()).ok());
  EXPECT_TRUE(loaded.ListAlerts(AlertFilter{}).empty());
  EXPECT_TRUE(loaded.ListAlertThresholds().empty());
}

TEST(AlertsWithoutThresholdsTest, NothingIsRaisedUntilThresholdsAreSet) {
  Engine e;
  ASSERT_TRUE(
      RunCommand(e, UpsertRegionCommand{Region{kCounty, "x"}}, kT0).ok());
  PostOfferCommand c;
  c.offer.supplier_id = "coop";
  c.offer.region_code = kCounty;
  c.offer.product_code = "vegetable.cabbage";
  c.offer.grade = 1;
  c.offer.quantity_kg = 50000;
  c.offer.floor_price_fen_per_kg = 200;
  c.offer.expires_at = kT0 + 24 * kHour;
  ASSERT_TRUE(RunCommand(e, c, kT0).ok());
  Tick(e, kT0 + kHour);
  EXPECT_TRUE(e.ListAlerts(AlertFilter{}).empty());
  const std::string plain = e.SaveState();
  // The first thresholds follow the book as it stands.
  ASSERT_TRUE(RunCommand(e, SetAlertThresholdsCommand{AlertThresholds()},
                         kT0 + 2 * kHour)
                  .ok());
  std::vector<AlertView> alerts = e.ListAlerts(AlertFilter{});
  ASSERT_EQ(alerts.size(), 3u);  // county, prefecture, province
  EXPECT_EQ(alerts[0].at_risk_kg, 50000);
  EXPECT_EQ(alerts[0].raised_at, kT0 + 2 * kHour);
  // A state that never had thresholds is written as before alerts.
  Engine loaded;
  ASSERT_TRUE(loaded.LoadState(plain).ok());
  EXPECT_EQ(loaded.SaveState(), plain);
}

}  // namespace
}  // namespace duijie

namespace duijie {
namespace {

// The engine judges a cell again only when its judgement could have
// changed (alerts.h, "Judgement"). A copy loaded from its state judges
// every cell afresh at its next Evaluate (Rebuild): ticked at the same
// time, right after each command of random streams with tight thresholds,
// it must find nothing to raise, escalate or clear, so no judgement the
// bookkeeping skipped was wrong. And the engine that saved and loaded
// before every command goes on as the one that never did. Counts the alert
// events the streams made in `events` (void: ASSERT returns from it).
void CheckSkippedJudgements(uint64_t first_seed, uint64_t last_seed,
                            int64_t price_scale, int* events) {
  for (uint64_t seed = first_seed; seed <= last_seed; ++seed) {
    Engine kept;
    auto reloaded = std::make_unique<Engine>();
    ReferenceMatcher ref;
    Generator gen(seed, ref);
    gen.set_price_scale(price_scale);
    std::vector<Cmd> cmds = gen.Setup();
    const size_t regions = cmds.size();
    const size_t setup = regions + 3;
    for (size_t i = 0; i < setup + 300; ++i) {
      Cmd c =
          i < regions ? cmds[i] : (i < setup ? gen.SetupPairing() : gen.Next());
      Execute(kept, c);
      const std::string state = kept.SaveState();
      Engine fresh;
      ASSERT_TRUE(fresh.LoadState(state).ok());
      Tick(fresh, kept.now());
      ASSERT_EQ(fresh.SaveState(), state)
          << "seed " << seed << ", command " << i << ": code "
          << static_cast<int>(c.command.code());
      AlertFilter all;
      all.include_cleared = true;
      std::vector<AlertView> a = kept.ListAlerts(all);
      std::vector<AlertView> b = fresh.ListAlerts(all);
      ASSERT_EQ(a.size(), b.size());
      for (size_t k = 0; k < a.size(); ++k) {
        ASSERT_EQ(a[k].alert_id, b[k].alert_id);
        ASSERT_EQ(a[k].demand_kg, b[k].demand_kg);
        ASSERT_EQ(a[k].at_risk_kg, b[k].at_risk_kg);
      }
      Execute(*reloaded, c);
      ASSERT_EQ(reloaded->SaveState(), state) << "seed " << seed << ", " << i;
      reloaded = std::make_unique<Engine>();
      ASSERT_TRUE(reloaded->LoadState(state).ok());
      gen.Observe(c, Execute(ref, c));
    }
    *events += static_cast<int>(kept.last_alert_event_id());
  }
}

TEST(AlertsExactnessTest, SkippedJudgementsAreTheOnesExactFiguresGive) {
  int events = 0;
  CheckSkippedJudgements(1, 40, 1, &events);
  EXPECT_GT(events, 100);  // the streams do raise and clear alerts
}

TEST(AlertsExactnessTest, SkippedJudgementsAtPricesOfRealProduce) {
  // Prices of 3.88 to 17.46 yuan a kg: pledges and floors fall in many
  // sixteenth-octave bands across two octave boundaries (512 and 1,024
  // fen), where a pledge churns its band's octave and those below.
  int events = 0;
  CheckSkippedJudgements(101, 180, 97, &events);
  EXPECT_GT(events, 200);
}

// Alerts followed from a feed (alert_feed.h) are the alerts the engine
// judges itself: on random streams, an engine whose feed starts at its
// first command or after the setup, followed after each command or in
// chunks of up to 20, makes the same alert events and alerts (candidates
// too) as one that judges inline, and once followed saves the same state.
std::string Describe(const AlertView& a) {
  std::string out =
      absl::StrCat(a.alert_id, " ", a.product_code, " ", a.region_code, " ",
                   static_cast<int>(a.level), " ", a.at_risk_kg, " ",
                   a.demand_kg, " ", a.households, " ", a.open_offer_kg, " ",
                   a.raised_at, " ", a.updated_at, " ", a.cleared_at);
  for (const AlertCandidateView& c : a.candidates) {
    absl::StrAppend(&out, " [", c.pledge_id, " ", c.buyer_id, " ",
                    c.buyer_city_code, " ", c.kg, " ",
                    absl::StrJoin(c.changes, ","), "]");
  }
  return out;
}

std::vector<std::string> AllAlerts(const Engine& e) {
  AlertFilter all;
  all.include_cleared = true;
  std::vector<std::string> out;
  for (const AlertView& a : e.ListAlerts(all)) out.push_back(Describe(a));
  bool more = true;
  for (uint64_t after = 0; more;) {
    std::vector<AlertEventView> events =
        e.ListAlertEvents(AlertFilter{}, after, 100, &more);
    for (const AlertEventView& v : events) {
      out.push_back(absl::StrCat(v.event_id, " ", static_cast<int>(v.kind), " ",
                                 Describe(v.alert)));
      after = v.event_id;
    }
    if (events.empty()) break;
  }
  return out;
}

TEST(AlertFeedTest, FollowedAlertsAreTheAlertsJudgedInline) {
  int events = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    Engine judged;
    Engine fed;
    ReferenceMatcher ref;
    Generator gen(seed, ref);
    gen.set_price_scale(seed % 2 == 0 ? 97 : 1);
    std::mt19937_64 rng(seed);
    std::vector<Cmd> cmds = gen.Setup();
    const size_t regions = cmds.size();
    const size_t setup = regions + 3;
    if (seed % 2 == 0) fed.StartAlertFeed();
    AlertFeed feed;
    size_t unfollowed = 0;
    for (size_t i = 0; i < setup + 300; ++i) {
      Cmd c =
          i < regions ? cmds[i] : (i < setup ? gen.SetupPairing() : gen.Next());
      if (i == setup) fed.StartAlertFeed();  // a no-op when started
      Execute(judged, c);
      Execute(fed, c);
      gen.Observe(c, Execute(ref, c));
      ++unfollowed;
      if (unfollowed < rng() % 21 && i + 1 < setup + 300) continue;
      fed.TakeAlertFeed(&feed);
      fed.FollowAlerts(&feed);
      unfollowed = 0;
      ASSERT_EQ(AllAlerts(fed), AllAlerts(judged))
          << "seed " << seed << ", command " << i;
      ASSERT_EQ(fed.last_alert_event_id(), judged.last_alert_event_id());
      ASSERT_EQ(fed.SaveState(), judged.SaveState())
          << "seed " << seed << ", command " << i;
    }
    events += static_cast<int>(judged.last_alert_event_id());
  }
  EXPECT_GT(events, 300);  // the streams do raise and clear alerts
}

// Price bands (price_bands.h): a band never goes down as the price grows,
// stays in range whatever the price, and is at most a sixteenth of an
// octave wide, so that a pledge far below a floor is in a lower band.
TEST(PriceBandsTest, BandsRiseWithThePriceAndAreASixteenthOfAnOctave) {
  int last = PriceBandOf(-1);
  EXPECT_EQ(last, 0);
  int64_t band_start = 0;  // the lowest price of `last`'s band
  for (int64_t price = 0; price <= (int64_t{1} << 22); ++price) {
    const int band = PriceBandOf(price);
    ASSERT_GE(band, last) << price;
    ASSERT_LT(band, kPriceBands) << price;
    if (band != last) {
      // The band just left held prices from band_start to price - 1.
      ASSERT_LE(16 * (price - band_start), std::max<int64_t>(band_start, 16))
          << "band " << last << " from " << band_start << " to " << price;
      band_start = price;
      last = band;
    }
  }
  EXPECT_EQ(PriceBandOf(15), 15);
  EXPECT_EQ(PriceBandOf(16), 64);
  EXPECT_EQ(PriceBandOf(1000), 159);  // octave 9, 1000 = 512 x (1 + 15.25/16)
  EXPECT_EQ(PriceBandOf(int64_t{1} << 30), 480);
  for (int bit = 22; bit < 63; ++bit) {
    const int64_t p = int64_t{1} << bit;
    EXPECT_LE(PriceBandOf(p - 1), PriceBandOf(p)) << bit;
    EXPECT_LT(PriceBandOf(p + (p - 1)), kPriceBands) << bit;
  }
  EXPECT_EQ(PriceBandOf(INT64_MAX), kPriceBands - 1);
}

// The two-level churn gives exactly the kg added at or above each band.
TEST(PriceBandsTest, ChurnAtOrAboveIsTheSumOfTheBandsAbove) {
  std::mt19937_64 rng(7);
  PriceBandChurn churn;
  std::vector<int64_t> added(kPriceBands, 0);
  for (int i = 0; i < 2000; ++i) {
    // Often a band at an octave's edge, where the two levels meet.
    const int octave = static_cast<int>(rng() % 31);
    const int q = rng() % 3 == 0 ? (rng() % 2 == 0 ? 0 : 15)
                                 : static_cast<int>(rng() % 16);
    const int band = octave * 16 + q;
    const int64_t kg = static_cast<int64_t>(rng() % 100000);
    churn.Add(band, kg);
    added[band] += kg;
    int64_t above = 0;
    for (int b = kPriceBands - 1; b >= 0; --b) {
      above += added[b];
      ASSERT_EQ(churn.AtOrAbove(b), above) << "band " << b << ", add " << i;
    }
  }
}

}  // namespace
}  // namespace duijie
