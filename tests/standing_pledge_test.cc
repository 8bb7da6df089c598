// Standing pledges: periods by the Asia/Shanghai calendar, refills at each
// period's start, carry-over, cancelling, the end at `until`, and a
// canteen's weekly pledge followed through six weeks. Every figure is
// worked out by hand in the comments.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/command.h"
#include "engine/engine.h"
#include "engine/periods.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine_commands.h"

namespace duijie {
namespace {

using ::testing::HasSubstr;

// Monday 2027-01-04 00:00 in Shanghai (2027-01-03T16:00:00Z).
constexpr Micros kMonday = 1'798'992'000'000'000;
constexpr char kRegion[] = "621202";  // Wudu, Longnan
constexpr char kCity[] = "370200";    // Qingdao

// --- The calendar ------------------------------------------------------------

TEST(PeriodsTest, DaysWeeksAndMonthsStartAtShanghaiMidnight) {
  // 2026-12-31 23:30 in Shanghai (15:30Z), a Thursday.
  constexpr Micros kNewYearsEve = 1'798'731'000'000'000;
  constexpr Micros kDec31 = 1'798'732'800'000'000 - kDay;  // 00:00 +08
  constexpr Micros kJan1 = 1'798'732'800'000'000;          // 00:00 +08
  constexpr Micros kDec1 = 1'796'054'400'000'000;          // 00:00 +08
  constexpr Micros kMonDec28 = 1'798'387'200'000'000;      // 00:00 +08
  EXPECT_EQ(PeriodStartAt(Period::kDaily, kNewYearsEve), kDec31);
  EXPECT_EQ(NextPeriodStart(Period::kDaily, kNewYearsEve), kJan1);
  EXPECT_EQ(PeriodStartAt(Period::kWeekly, kNewYearsEve), kMonDec28);
  EXPECT_EQ(NextPeriodStart(Period::kWeekly, kNewYearsEve), kMonday);
  EXPECT_EQ(PeriodStartAt(Period::kMonthly, kNewYearsEve), kDec1);
  EXPECT_EQ(NextPeriodStart(Period::kMonthly, kNewYearsEve), kJan1);
  // Exactly at midnight the new day, week or month has begun; a
  // microsecond before, not yet.
  EXPECT_EQ(PeriodStartAt(Period::kMonthly, kJan1), kJan1);
  EXPECT_EQ(PeriodStartAt(Period::kMonthly, kJan1 - 1), kDec1);
  EXPECT_EQ(PeriodStartAt(Period::kWeekly, kMonday), kMonday);
  EXPECT_EQ(PeriodStartAt(Period::kWeekly, kMonday - 1), kMonDec28);
  // Month lengths: January has 31 days, February 2027 28, February 2024 29.
  EXPECT_EQ(NextPeriodStart(Period::kMonthly, kJan1), kJan1 + 31 * kDay);
  EXPECT_EQ(NextPeriodStart(Period::kMonthly, kJan1 + 31 * kDay),
            kJan1 + 59 * kDay);
  constexpr Micros kFeb1of2024 = 1'706'716'800'000'000;  // 00:00 +08
  EXPECT_EQ(NextPeriodStart(Period::kMonthly, kFeb1of2024),
            kFeb1of2024 + 29 * kDay);
  const ShanghaiDate d = ShanghaiDateOf(kNewYearsEve);
  EXPECT_EQ(d.year, 2026);
  EXPECT_EQ(d.month, 12);
  EXPECT_EQ(d.day, 31);
}

// --- The engine --------------------------------------------------------------

class StandingPledgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* code : {kRegion, kCity}) {
      ASSERT_TRUE(
          RunCommand(e_, UpsertRegionCommand{Region{code, code}}, kMonday)
              .ok());
    }
  }

  static PostOfferCommand Offer(std::string supplier, int64_t kg, int64_t floor,
                                Micros ship_within = 0) {
    PostOfferCommand c;
    c.offer.supplier_id = std::move(supplier);
    c.offer.region_code = kRegion;
    c.offer.product_code = "vegetable.cabbage";
    c.offer.grade = 1;
    c.offer.quantity_kg = kg;
    c.offer.floor_price_fen_per_kg = floor;
    c.offer.expires_at = kMonday + 90 * kDay;
    c.offer.ship_within = ship_within;
    return c;
  }
  // A canteen's pledge of `kg` a week at up to `max` fen/kg, until
  // `weeks` weeks after kMonday.
  static PostPledgeCommand Weekly(int64_t kg, int64_t max, int weeks,
                                  bool carry_over = false,
                                  std::string buyer = "canteen") {
    PostPledgeCommand c;
    c.pledge.buyer_id = std::move(buyer);
    c.pledge.buyer_city_code = kCity;
    c.pledge.buyer_kind = static_cast<int>(BuyerKind::kCanteen);
    c.pledge.product_code = "vegetable";
    c.pledge.quantity_kg = kg;
    c.pledge.max_price_fen_per_kg = max;
    c.pledge.expires_at = kMonday + weeks * 7 * kDay;
    c.pledge.recurrence.period = static_cast<int>(Period::kWeekly);
    c.pledge.recurrence.quantity_kg = kg;
    c.pledge.recurrence.until = c.pledge.expires_at;
    c.pledge.recurrence.carry_over = carry_over;
    return c;
  }

  PledgeView PledgeNow(uint64_t id) { return *e_.GetPledge(id, e_.now()); }
  MatchView Match(uint64_t id) {
    bool more = false;
    std::vector<MatchView> one = e_.ListMatches({}, id - 1, 1, &more);
    EXPECT_EQ(one.size(), 1u);
    return one.empty() ? MatchView() : one[0];
  }
  void ExpectConsistent() {
    absl::Status s = e_.CheckInvariants();
    EXPECT_TRUE(s.ok()) << s;
  }

  Engine e_;
};

TEST_F(StandingPledgeTest, RefillsAtEachWeekAndKeepsItsPlaceInTheQueue) {
  // The standing pledge (1) comes before a one-off pledge (2) at the same
  // price; both rest.
  ASSERT_TRUE(RunCommand(e_, Weekly(100, 200, 4), kMonday + kHour).ok());
  PostPledgeCommand one_off = Weekly(500, 200, 4, false, "school");
  one_off.pledge.recurrence = Recurrence{};
  ASSERT_TRUE(RunCommand(e_, one_off, kMonday + 2 * kHour).ok());
  // 100 kg fill the standing pledge for this week; 20 go to the school.
  ASSERT_TRUE(
      RunCommand(e_, Offer("coop", 120, 150), kMonday + 3 * kHour).ok());
  EXPECT_EQ(PledgeNow(1).status, OrderStatus::kFilled);
  EXPECT_EQ(PledgeNow(2).remaining_kg, 480);
  // Sunday 23:59: still the first week.
  EXPECT_EQ(Tick(e_, kMonday + 7 * kDay - 60'000'000).periods, 0u);
  // Monday: it refills to 100 kg and rests ahead of the school again.
  EXPECT_EQ(Tick(e_, kMonday + 7 * kDay).periods, 1u);
  PledgeView p = PledgeNow(1);
  EXPECT_EQ(p.status, OrderStatus::kOpen);
  EXPECT_EQ(p.quantity_kg, 100);
  EXPECT_EQ(p.remaining_kg, 100);
  EXPECT_EQ(p.spent_fen, 0);
  absl::StatusOr<OfferResult> r =
      RunCommand(e_, Offer("coop", 30, 150), kMonday + 7 * kDay + 1);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->matches.size(), 1u);
  EXPECT_EQ(r->matches[0].pledge_id, 1u);
  EXPECT_EQ(PledgeNow(1).remaining_kg, 70);
  // The history: the first week (100 kg at 200 fen), the second (30 so far).
  p = PledgeNow(1);
  ASSERT_EQ(p.periods.size(), 2u);
  EXPECT_EQ(p.periods[0].start, kMonday);
  EXPECT_EQ(p.periods[0].end, kMonday + 7 * kDay);
  EXPECT_EQ(p.periods[0].pledged_kg, 100);
  EXPECT_EQ(p.periods[0].matched_kg, 100);
  EXPECT_EQ(p.periods[0].spent_fen, 20000);
  EXPECT_EQ(p.periods[1].start, kMonday + 7 * kDay);
  EXPECT_EQ(p.periods[1].matched_kg, 30);
  EXPECT_EQ(p.periods[1].spent_fen, 6000);
  EXPECT_EQ(p.recurrence.period, static_cast<int>(Period::kWeekly));
  EXPECT_EQ(p.recurrence.until, kMonday + 28 * kDay);
  ExpectConsistent();
}

TEST_F(StandingPledgeTest, UnfilledKgRollOverOnlyWithCarryOver) {
  ASSERT_TRUE(
      RunCommand(e_, Weekly(100, 200, 4, /*carry_over=*/true), kMonday + kHour)
          .ok());
  ASSERT_TRUE(RunCommand(e_,
                         Weekly(100, 200, 4, /*carry_over=*/false, "school"),
                         kMonday + kHour)
                  .ok());
  // 60 kg for the first (it came first), none for the second; shipped
  // within a month, so that the match does not lapse in this test.
  ASSERT_TRUE(
      RunCommand(e_, Offer("coop", 60, 150, 30 * kDay), kMonday + 2 * kHour)
          .ok());
  Tick(e_, kMonday + 7 * kDay);
  // 100 + the 40 left = 140 kg; the school starts again at 100.
  EXPECT_EQ(PledgeNow(1).quantity_kg, 140);
  EXPECT_EQ(PledgeNow(1).remaining_kg, 140);
  EXPECT_EQ(PledgeNow(2).quantity_kg, 100);
  EXPECT_EQ(PledgeNow(2).periods[0].pledged_kg, 100);
  EXPECT_EQ(PledgeNow(2).periods[0].matched_kg, 0);
  // Two idle weeks pass with no command: each adds 100 (140, 240, 340).
  EXPECT_EQ(Tick(e_, kMonday + 21 * kDay + kHour).periods, 4u);
  EXPECT_EQ(PledgeNow(1).quantity_kg, 340);
  EXPECT_EQ(PledgeNow(1).periods.size(), 4u);
  EXPECT_EQ(PledgeNow(1).periods[2].pledged_kg, 240);
  EXPECT_EQ(PledgeNow(1).periods[3].start, kMonday + 21 * kDay);
  ExpectConsistent();
}

TEST_F(StandingPledgeTest, CancelEndsFuturePeriodsAndUntilEndsThemAll) {
  ASSERT_TRUE(RunCommand(e_, Weekly(100, 200, 2), kMonday + kHour).ok());
  ASSERT_TRUE(
      RunCommand(e_, Weekly(100, 200, 2, false, "school"), kMonday + kHour)
          .ok());
  // The first is filled for this week, and may still be cancelled: no
  // more weeks for it.
  ASSERT_TRUE(
      RunCommand(e_, Offer("coop", 100, 150), kMonday + 2 * kHour).ok());
  ASSERT_EQ(PledgeNow(1).status, OrderStatus::kFilled);
  absl::StatusOr<PledgeResult> cancelled =
      RunCommand(e_, CancelPledgeCommand{1}, kMonday + 3 * kHour);
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->pledge.status, OrderStatus::kCancelled);
  EXPECT_EQ(Tick(e_, kMonday + 7 * kDay).periods, 1u);  // the school's only
  EXPECT_EQ(PledgeNow(1).status, OrderStatus::kCancelled);
  EXPECT_EQ(PledgeNow(1).periods.size(), 1u);
  // At `until` (two weeks) the school's pledge expires; no third week.
  TickResult t = Tick(e_, kMonday + 14 * kDay);
  EXPECT_EQ(t.periods, 0u);
  EXPECT_EQ(t.expired, 1u);
  EXPECT_EQ(PledgeNow(2).status, OrderStatus::kExpired);
  EXPECT_EQ(PledgeNow(2).periods.size(), 2u);
  ExpectConsistent();
}

TEST_F(StandingPledgeTest, KgOfAnEarlierWeekComeBackIntoTheCurrentOne) {
  ASSERT_TRUE(RunCommand(e_, Offer("coop", 100, 150, 9 * kDay), kMonday).ok());
  ASSERT_TRUE(RunCommand(e_, Weekly(100, 200, 4), kMonday + kHour).ok());
  // Match 1 (100 kg at 150) fills the first week. Shipped in the second
  // week, 70 accepted: 30 kg come back, into the second week's figures.
  Tick(e_, kMonday + 7 * kDay);  // refills to 100; no offer left
  ASSERT_TRUE(
      RunCommand(e_, ShipMatchCommand{1, 0, ""}, kMonday + 8 * kDay).ok());
  ASSERT_TRUE(
      RunCommand(e_, AcceptMatchCommand{1, 70}, kMonday + 9 * kDay).ok());
  PledgeView p = PledgeNow(1);
  EXPECT_EQ(p.quantity_kg, 130);
  EXPECT_EQ(p.remaining_kg, 130);
  EXPECT_EQ(p.spent_fen, 0);
  ASSERT_EQ(p.periods.size(), 2u);
  EXPECT_EQ(p.periods[0].matched_kg, 70);  // 100 less the 30 back
  EXPECT_EQ(p.periods[0].delivered_kg, 70);
  EXPECT_EQ(p.periods[0].spent_fen, 10500);
  EXPECT_EQ(p.periods[1].pledged_kg, 130);
  ExpectConsistent();
}

TEST_F(StandingPledgeTest, BadRecurrencesAreRefusedNamingTheField) {
  struct Case {
    std::string field;
    void (*spoil)(PostPledgeCommand&);
  };
  const std::vector<Case> cases = {
      {"pledge.recurrence.period",
       [](PostPledgeCommand& c) { c.pledge.recurrence.period = 4; }},
      {"pledge.recurrence.period",
       [](PostPledgeCommand& c) { c.pledge.recurrence.period = 0; }},
      {"pledge.recurrence.quantity_kg",
       [](PostPledgeCommand& c) { c.pledge.recurrence.quantity_kg = 0; }},
      {"pledge.recurrence.budget_fen",
       [](PostPledgeCommand& c) { c.pledge.recurrence.budget_fen = -1; }},
      {"pledge.min_lot_kg",
       [](PostPledgeCommand& c) {
         c.pledge.quantity_kg = 500;
         c.pledge.min_lot_kg = 200;  // more than each week's 100
       }},
      {"pledge.expires_at",
       [](PostPledgeCommand& c) { c.pledge.expires_at += kDay; }},
      {"pledge.recurrence.until",
       [](PostPledgeCommand& c) { c.pledge.recurrence.until = kMonday; }},
  };
  for (const Case& bad : cases) {
    PostPledgeCommand c = Weekly(100, 200, 4);
    bad.spoil(c);
    absl::StatusOr<PledgeResult> r = RunCommand(e_, c, kMonday + kHour);
    ASSERT_FALSE(r.ok()) << bad.field;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr(bad.field));
  }
  EXPECT_EQ(e_.GetPledge(1, e_.now()).status().code(),
            absl::StatusCode::kNotFound);
}

// The legacy pledge layout has no recurrence: a standing pledge always
// goes to the journal in the current one, even without an accept_within.
TEST_F(StandingPledgeTest, AStandingPledgeIsNeverJournaledInTheLegacyLayout) {
  PostPledgeCommand body = Weekly(100, 200, 4);
  body.pledge.accept_within = kNoDeadline;
  const Command command = MakeCommand(body, kMonday + kHour);
  EXPECT_EQ(command.code(), CommandCode::kPostPledgeWithDeadlines);
  PostPledgeCommand one_off = body;
  one_off.pledge.recurrence = Recurrence{};
  EXPECT_EQ(MakeCommand(one_off, kMonday + kHour).code(),
            CommandCode::kPostPledge);
}

TEST_F(StandingPledgeTest, SavedAndLoadedEngineStartsTheSamePeriods) {
  ASSERT_TRUE(RunCommand(e_, Weekly(100, 200, 6, true), kMonday + kHour).ok());
  ASSERT_TRUE(RunCommand(e_, Offer("coop", 250, 150), kMonday + kHour).ok());
  Tick(e_, kMonday + 7 * kDay + 1);
  Engine loaded;
  ASSERT_TRUE(loaded.LoadState(e_.SaveState()).ok());
  EXPECT_EQ(loaded.StateHash(), e_.StateHash());
  // Both go on alike: the third week refills and takes the last 50 kg.
  EXPECT_EQ(Tick(e_, kMonday + 14 * kDay).periods, 1u);
  EXPECT_EQ(Tick(loaded, kMonday + 14 * kDay).periods, 1u);
  EXPECT_EQ(loaded.StateHash(), e_.StateHash());
  EXPECT_EQ(loaded.GetPledge(1, loaded.now())->periods.size(), 3u);
  const absl::Status consistent = loaded.CheckInvariants();
  EXPECT_TRUE(consistent.ok()) << consistent;
  EXPECT_TRUE(e_.CheckInvariants().ok()) << e_.CheckInvariants();
}

// The server's writer (CommandSequencer::Apply) refuses a command that
// Validate refuses without ticking first, unless TickMayReopen: whether it
// ticks is journaled state (the clock moves, alerts are judged then), so
// TickMayReopen must answer alike in an engine that ran on and one loaded
// from its state. Period starts the continuous engine still queues, or
// dropped, for pledges that can no longer start one do not count.
TEST_F(StandingPledgeTest, TickMayReopenIsTheSameAfterSaveAndLoad) {
  // Pledge 1 expires on Thursday, filled: its next week never starts.
  PostPledgeCommand short_lived = Weekly(100, 200, 4);
  short_lived.pledge.expires_at = kMonday + 3 * kDay;
  short_lived.pledge.recurrence.until = short_lived.pledge.expires_at;
  ASSERT_TRUE(RunCommand(e_, short_lived, kMonday + kHour).ok());
  ASSERT_TRUE(
      RunCommand(e_, Offer("coop", 100, 150), kMonday + 2 * kHour).ok());
  ASSERT_EQ(PledgeNow(1).status, OrderStatus::kFilled);
  ASSERT_TRUE(
      RunCommand(e_, Weekly(100, 200, 4, false, "school"), kMonday + 3 * kHour)
          .ok());
  // The second Monday passes pledge 1's start unused (it has expired) and
  // refills pledge 2, which is then cancelled: its third Monday is queued,
  // dead.
  EXPECT_EQ(Tick(e_, kMonday + 7 * kDay + kHour).periods, 1u);
  ASSERT_TRUE(
      RunCommand(e_, CancelPledgeCommand{2}, kMonday + 7 * kDay + 2 * kHour)
          .ok());
  Engine loaded;
  ASSERT_TRUE(loaded.LoadState(e_.SaveState()).ok());
  ASSERT_EQ(loaded.StateHash(), e_.StateHash());

  // A command refused as the writer sequences it: ticks first only when
  // the tick may reopen pledges.
  auto sequence = [](Engine& engine, Micros now) {
    const Command refused = MakeTestCommand(CancelPledgeCommand{2}, now);
    if (now > engine.now() && !engine.TickMayReopen(now)) {
      ASSERT_FALSE(engine.Validate(refused, now).ok());
      return;
    }
    EXPECT_FALSE(engine.TickAndApply(refused).ok());
  };
  for (const Micros now :
       {kMonday + 7 * kDay + 3 * kHour, kMonday + 14 * kDay + 60'000'000}) {
    SCOPED_TRACE(now);
    EXPECT_FALSE(e_.TickMayReopen(now));
    EXPECT_FALSE(loaded.TickMayReopen(now));
    sequence(e_, now);
    sequence(loaded, now);
    EXPECT_EQ(loaded.now(), e_.now());
    EXPECT_EQ(loaded.SaveState(), e_.SaveState());
  }
  // Both pass the third Monday alike, pledge 1 expired and pledge 2
  // cancelled: no period starts.
  EXPECT_EQ(Tick(e_, kMonday + 15 * kDay).periods, 0u);
  EXPECT_EQ(Tick(loaded, kMonday + 15 * kDay).periods, 0u);
  EXPECT_EQ(loaded.SaveState(), e_.SaveState());
  ExpectConsistent();
  const absl::Status consistent = loaded.CheckInvariants();
  EXPECT_TRUE(consistent.ok()) << consistent;
}

// A hospital canteen's standing order: 2,000 kg of vegetables every week
// for six weeks at up to 3.00 yuan/kg, without carry-over. Week by week
// (T = Monday 00:00 of the first week; offers ship within 7 days unless
// said otherwise, shipments are accepted within 7 days):
//  week 1  coop-a offers 5,000 kg at 2.00. The pledge takes 2,000
//          (match 1, 4,000 yuan); shipped and accepted in full.
//  week 2  refill: match 2, 2,000 at 2.00 (coop-a has 1,000 left). Shipped,
//          then declined: 2,000 kg and 4,000 yuan come back, and take
//          coop-a's last 1,000 at 2.00 (match 3, accepted in full). coop-b
//          offers 3,000 kg at 2.50, shipping within a day, and meets the
//          resting pledge at its 3.00 (match 4, 1,000 kg); coop-b cancels
//          what is left and never ships: match 4 lapses, 1,000 kg come
//          back. coop-c offers 6,000 kg at 2.20 and takes them at the
//          resting pledge's 3.00 (match 5, 3,000 yuan).
//  week 3  refill: match 6, 2,000 at 2.20 from coop-c (4,400 yuan).
//  week 4  refill: match 7, 2,000 at 2.20; shipped, never acted on:
//          delivered in full when accept_by passes, in week 5.
//  week 5  refill: match 8, coop-c's last 1,000 at 2.20; 1,000 kg unfilled
//          (not carried over).
//  week 6  refill to 2,000; coop-a offers 1,500 at 1.80 and meets the
//          resting pledge at 3.00 (match 9, 4,500 yuan). At the end of the
//          week the pledge expires with 500 kg unfilled.
TEST_F(StandingPledgeTest, ACanteensWeeklyPledgeThroughSixWeeks) {
  constexpr Micros T = kMonday;
  auto run = [&](auto body, Micros at) {
    auto r = RunCommand(e_, body, at);
    EXPECT_TRUE(r.ok()) << r.status();
    ExpectConsistent();
    return r;
  };
  auto step = [&](auto body, Micros at) { run(body, at).IgnoreError(); };
  // Week 1.
  step(Offer("coop-a", 5000, 200), T);
  auto posted = run(Weekly(2000, 300, 6), T + kHour);
  ASSERT_EQ(posted->matches.size(), 1u);
  EXPECT_EQ(posted->matches[0].quantity_kg, 2000);
  EXPECT_EQ(posted->matches[0].price_fen_per_kg, 200);
  step(ShipMatchCommand{1, 0, ""}, T + kDay);
  step(AcceptMatchCommand{1, 0}, T + 2 * kDay);
  // Week 2.
  EXPECT_EQ(Tick(e_, T + 7 * kDay + kHour).periods, 1u);
  EXPECT_EQ(Match(2).quantity_kg, 2000);
  step(ShipMatchCommand{2, 0, ""}, T + 8 * kDay);
  auto declined = run(DeclineMatchCommand{2, "wilted"}, T + 9 * kDay);
  ASSERT_EQ(declined->matches.size(), 1u);  // match 3
  EXPECT_EQ(Match(3).quantity_kg, 1000);
  EXPECT_EQ(Match(3).price_fen_per_kg, 200);
  auto coop_b = run(Offer("coop-b", 3000, 250, kDay), T + 9 * kDay + kHour);
  ASSERT_EQ(coop_b->matches.size(), 1u);  // match 4
  EXPECT_EQ(Match(4).quantity_kg, 1000);
  EXPECT_EQ(Match(4).price_fen_per_kg, 300);
  EXPECT_EQ(PledgeNow(1).status, OrderStatus::kFilled);
  step(ShipMatchCommand{3, 0, ""}, T + 9 * kDay + 2 * kHour);
  step(CancelOfferCommand{2}, T + 9 * kDay + 3 * kHour);
  step(AcceptMatchCommand{3, 0}, T + 10 * kDay);
  TickResult lapse = Tick(e_, T + 11 * kDay);
  EXPECT_EQ(lapse.lapsed, 1u);
  EXPECT_EQ(Match(4).status, MatchStatus::kLapsed);
  EXPECT_EQ(PledgeNow(1).remaining_kg, 1000);
  auto coop_c = run(Offer("coop-c", 6000, 220), T + 13 * kDay);
  ASSERT_EQ(coop_c->matches.size(), 1u);  // match 5
  EXPECT_EQ(Match(5).price_fen_per_kg, 300);
  // Week 3.
  EXPECT_EQ(Tick(e_, T + 14 * kDay + kHour).periods, 1u);
  EXPECT_EQ(Match(6).quantity_kg, 2000);
  EXPECT_EQ(Match(6).price_fen_per_kg, 220);
  step(ShipMatchCommand{5, 0, ""}, T + 15 * kDay);
  step(ShipMatchCommand{6, 0, ""}, T + 15 * kDay);
  step(AcceptMatchCommand{5, 0}, T + 16 * kDay);
  step(AcceptMatchCommand{6, 0}, T + 16 * kDay);
  // Week 4.
  EXPECT_EQ(Tick(e_, T + 21 * kDay + kHour).periods, 1u);
  step(ShipMatchCommand{7, 0, ""}, T + 22 * kDay);
  // Week 5.
  EXPECT_EQ(Tick(e_, T + 28 * kDay + kHour).periods, 1u);
  EXPECT_EQ(Match(8).quantity_kg, 1000);
  EXPECT_EQ(Tick(e_, T + 29 * kDay + kHour).delivered, 1u);  // match 7
  EXPECT_EQ(Match(7).accepted_kg, 2000);
  step(ShipMatchCommand{8, 0, ""}, T + 30 * kDay);
  step(AcceptMatchCommand{8, 0}, T + 31 * kDay);
  // Week 6.
  EXPECT_EQ(Tick(e_, T + 35 * kDay + kHour).periods, 1u);
  EXPECT_EQ(PledgeNow(1).remaining_kg, 2000);
  auto last = run(Offer("coop-a", 1500, 180), T + 36 * kDay);
  ASSERT_EQ(last->matches.size(), 1u);  // match 9
  EXPECT_EQ(Match(9).price_fen_per_kg, 300);
  TickResult end = Tick(e_, T + 42 * kDay + kHour);
  EXPECT_EQ(end.periods, 0u);
  EXPECT_EQ(end.expired, 1u);

  const PledgeView p = PledgeNow(1);
  EXPECT_EQ(p.status, OrderStatus::kExpired);
  EXPECT_EQ(p.quantity_kg, 2000);
  EXPECT_EQ(p.remaining_kg, 500);
  EXPECT_EQ(p.spent_fen, 450000);
  struct Row {
    int64_t pledged, matched, delivered, spent;
  };
  const Row expected[] = {
      {2000, 2000, 2000, 400000},  // match 1
      // Matches 2 (declined: 0 kept), 3 (1,000 at 200), 4 (lapsed: 0),
      // 5 (1,000 at 300, accepted in week 3 but made in week 2).
      {2000, 2000, 2000, 500000},
      {2000, 2000, 2000, 440000},  // match 6
      {2000, 2000, 2000, 440000},  // match 7, delivered on its own
      {2000, 1000, 1000, 220000},  // match 8
      {2000, 1500, 0, 450000},     // match 9, not shipped yet
  };
  ASSERT_EQ(p.periods.size(), 6u);
  for (int week = 0; week < 6; ++week) {
    SCOPED_TRACE(week + 1);
    EXPECT_EQ(p.periods[week].start, T + week * 7 * kDay);
    EXPECT_EQ(p.periods[week].end, T + (week + 1) * 7 * kDay);
    EXPECT_EQ(p.periods[week].pledged_kg, expected[week].pledged);
    EXPECT_EQ(p.periods[week].matched_kg, expected[week].matched);
    EXPECT_EQ(p.periods[week].delivered_kg, expected[week].delivered);
    EXPECT_EQ(p.periods[week].spent_fen, expected[week].spent);
  }
}

}  // namespace
}  // namespace duijie
