// The allocation simulator (tools/sim): the offline optimum bounds every
// policy and is exact where greedy matching loses kg; the FIFO policy
// fills the earliest posted counterpart; glut-week scenarios are
// deterministic.
#include <cstdint>
#include <string>
#include <vector>

#include "bench/glut_week.h"
#include "bench/workload.h"
#include "gtest/gtest.h"
#include "tools/sim/optimum.h"
#include "tools/sim/simulator.h"

namespace duijie {
namespace sim {
namespace {

using bench::WorkloadRecord;

constexpr Micros kT0 = bench::kWorkloadStartMicros;
constexpr Micros kHour = Micros{3600} * 1000000;
constexpr Micros kDay = 24 * kHour;

void SetTime(Micros t, google::protobuf::Timestamp* ts) {
  ts->set_seconds(t / 1000000);
  ts->set_nanos(static_cast<int32_t>(t % 1000000 * 1000));
}

// A small map: Gansu, Dingxi (621100) with a key-assisted county 621121
// and an ordinary one 621122, Longnan (621200) with 621222; Qingdao
// (370200) paired with Dingxi; Beijing (110100) paired with nothing.
std::vector<WorkloadRecord> Map() {
  std::vector<WorkloadRecord> out;
  auto region = [&](const std::string& code, bool key) {
    WorkloadRecord r;
    r.set_at_micros(kT0);
    v1::Region* g = r.mutable_upsert_region()->mutable_region();
    g->set_code(code);
    g->set_name("region " + code);
    g->set_key_assisted(key);
    out.push_back(r);
  };
  for (const char* code : {"620000", "621100", "621122", "621200", "621222",
                           "370000", "370200", "110000", "110100"}) {
    region(code, false);
  }
  region("621121", true);
  WorkloadRecord pairing;
  pairing.set_at_micros(kT0);
  pairing.mutable_upsert_pairing()->mutable_pairing()->set_east_code("370200");
  pairing.mutable_upsert_pairing()->mutable_pairing()->set_west_code("621100");
  out.push_back(pairing);
  return out;
}

WorkloadRecord Offer(Micros at, const std::string& county,
                     const std::string& product, int64_t kg, int64_t floor,
                     Micros life) {
  WorkloadRecord r;
  r.set_at_micros(at);
  v1::Offer* o = r.mutable_post_offer()->mutable_offer();
  o->set_supplier_id("coop-" + county);
  o->set_region_code(county);
  o->set_product_code(product);
  o->set_grade(v1::GRADE_FIRST);
  o->set_quantity_kg(kg);
  o->set_floor_price_fen_per_kg(floor);
  SetTime(at + life, o->mutable_expires_at());
  o->set_households(10);
  return r;
}

WorkloadRecord Pledge(Micros at, const std::string& city,
                      const std::string& product, int64_t kg, int64_t max_price,
                      Micros life, int64_t budget_fen = 0) {
  WorkloadRecord r;
  r.set_at_micros(at);
  v1::Pledge* p = r.mutable_post_pledge()->mutable_pledge();
  p->set_buyer_id("school-" + city);
  p->set_buyer_city_code(city);
  p->set_buyer_kind(v1::SCHOOL);
  p->set_product_code(product);
  p->set_quantity_kg(kg);
  p->set_max_price_fen_per_kg(max_price);
  p->set_budget_fen(budget_fen);
  SetTime(at + life, p->mutable_expires_at());
  return r;
}

Scenario Make(std::vector<WorkloadRecord> orders) {
  std::vector<WorkloadRecord> records = Map();
  records.insert(records.end(), orders.begin(), orders.end());
  absl::StatusOr<Scenario> s = MakeScenario(records);
  EXPECT_TRUE(s.ok()) << s.status();
  return *s;
}

std::vector<Fill> RunOk(const Scenario& s, const std::string& policy) {
  absl::StatusOr<Policy> p = ParsePolicy(policy);
  EXPECT_TRUE(p.ok()) << p.status();
  absl::StatusOr<std::vector<Fill>> fills = Run(s, *p);
  EXPECT_TRUE(fills.ok()) << fills.status();
  return fills.ok() ? *fills : std::vector<Fill>();
}

std::vector<std::string> Policies() {
  return {"continuous", "fifo", "batch:1h"};
}

// Greedy matching loses kg: a category pledge takes the only cabbage before
// a cabbage pledge arrives, and the tomato that comes next has no taker.
// By hand: P1 (vegetable) <- B (tomato) and P2 (cabbage) <- A (cabbage)
// sell all 200 kg; C expired before any pledge was posted. A's county is
// key-assisted and paired with Qingdao (P2's city), B's is neither, so of
// the 200 kg at most 100 are priority kg and 100 partner kg (and no
// allocation at all sells more than A's 100 kg to partners).
TEST(OptimumTest, ExactWhereGreedyMatchingLosesKg) {
  const Scenario s = Make({
      Offer(kT0, "621122", "vegetable.cabbage", 100, 100, 30 * 60 * 1000000LL),
      Offer(kT0, "621121", "vegetable.cabbage", 100, 100, 3 * kDay),   // A
      Pledge(kT0 + kHour, "370200", "vegetable", 100, 200, 3 * kDay),  // P1
      Offer(kT0 + 2 * kHour, "621222", "vegetable.tomato", 100, 100,
            3 * kDay),  // B
      Pledge(kT0 + 3 * kHour, "370200", "vegetable.cabbage", 100, 200,
             3 * kDay),  // P2
  });
  const Optimum opt = SolveOptimum(s);
  EXPECT_EQ(opt.max_kg, 200);
  EXPECT_EQ(opt.max_priority_kg, 100);
  EXPECT_EQ(opt.max_partner_kg, 100);
  EXPECT_EQ(opt.max_partner_only_kg, 100);  // A alone is a partner's
  EXPECT_EQ(opt.pairs, 3);                  // P1-A, P1-B, P2-A
  for (const std::string& policy : Policies()) {
    const Outcome o = Measure(s, RunOk(s, policy));
    EXPECT_LE(o.sold_kg, opt.max_kg) << policy;
    if (policy != "batch:1h") {
      EXPECT_EQ(o.sold_kg, 100) << policy;  // P1 took A at once
    }
  }
}

// A budget of 5,000 fen buys at most 50 kg at the cheapest floor of 100.
TEST(OptimumTest, BudgetCapsAPledgeAtTheCheapestFloor) {
  const Scenario s = Make({
      Offer(kT0, "621121", "vegetable.cabbage", 100, 100, 3 * kDay),
      Offer(kT0, "621122", "vegetable.cabbage", 100, 150, 3 * kDay),
      Pledge(kT0 + kHour, "370200", "vegetable.cabbage", 200, 200, 3 * kDay,
             5000),
  });
  EXPECT_EQ(SolveOptimum(s).max_kg, 50);
  // The incoming pledge pays the floor: 50 kg of the cheaper offer.
  EXPECT_EQ(Measure(s, RunOk(s, "continuous")).sold_kg, 50);
}

// An incoming pledge: FIFO takes the earliest posted offer although the
// later one is the engine's first choice (partner, key-assisted, earlier
// expiry, lower floor).
TEST(FifoTest, IncomingPledgeFillsTheEarliestPostedOffer) {
  const Scenario s = Make({
      Offer(kT0, "621222", "vegetable.cabbage", 100, 150, 4 * kDay),
      Offer(kT0 + kHour, "621121", "vegetable.cabbage", 100, 100, 2 * kDay),
      Pledge(kT0 + 2 * kHour, "370200", "vegetable.cabbage", 100, 200,
             3 * kDay),
  });
  const std::vector<Fill> fifo = RunOk(s, "fifo");
  ASSERT_EQ(fifo.size(), 1u);
  EXPECT_EQ(fifo[0].offer_id, 1u);
  EXPECT_EQ(fifo[0].kg, 100);
  EXPECT_FALSE(fifo[0].partner);
  const std::vector<Fill> engine = RunOk(s, "continuous");
  ASSERT_EQ(engine.size(), 1u);
  EXPECT_EQ(engine[0].offer_id, 2u);
  EXPECT_TRUE(engine[0].partner);
}

// An incoming offer: FIFO fills the earliest posted pledge (Beijing, not a
// partner, the lower price) before the engine's choice (Qingdao's).
TEST(FifoTest, IncomingOfferFillsTheEarliestPostedPledge) {
  const Scenario s = Make({
      Pledge(kT0, "110100", "vegetable.cabbage", 100, 150, 3 * kDay),
      Pledge(kT0 + kHour, "370200", "vegetable.cabbage", 100, 200, 3 * kDay),
      Offer(kT0 + 2 * kHour, "621121", "vegetable.cabbage", 150, 100, 3 * kDay),
  });
  const std::vector<Fill> fifo = RunOk(s, "fifo");
  ASSERT_EQ(fifo.size(), 2u);
  EXPECT_EQ(fifo[0].pledge_id, 1u);
  EXPECT_EQ(fifo[0].kg, 100);
  EXPECT_EQ(fifo[1].pledge_id, 2u);
  EXPECT_EQ(fifo[1].kg, 50);
  const std::vector<Fill> engine = RunOk(s, "continuous");
  ASSERT_EQ(engine.size(), 2u);
  EXPECT_EQ(engine[0].pledge_id, 2u);
  EXPECT_EQ(engine[0].kg, 100);
}

// On small glut weeks no policy sells more than the optimum, and every
// match any policy makes joins a pair the optimum's network has.
TEST(OptimumTest, NeverBeatenOnSmallGlutWeeks) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    const std::vector<WorkloadRecord> records =
        bench::GlutWeek({seed, /*orders=*/600});
    absl::StatusOr<Scenario> s = MakeScenario(records);
    ASSERT_TRUE(s.ok()) << s.status();
    const Optimum opt = SolveOptimum(*s);
    const Outcome base = Measure(*s, {});
    EXPECT_GT(opt.max_kg, 0) << seed;
    EXPECT_LE(opt.max_kg, std::min(base.offered_kg, base.pledged_kg));
    EXPECT_LE(opt.max_priority_kg, opt.max_kg);
    EXPECT_LE(opt.max_partner_kg, opt.max_kg);
    for (const std::string& policy : Policies()) {
      const std::vector<Fill> fills = RunOk(*s, policy);
      const Outcome o = Measure(*s, fills);
      EXPECT_GT(o.sold_kg, 0) << seed << " " << policy;
      EXPECT_LE(o.sold_kg, opt.max_kg) << seed << " " << policy;
      for (const Fill& f : fills) {
        const ScenarioOffer& offer = s->offers[f.offer_id - 1];
        const ScenarioPledge& pledge = s->pledges[f.pledge_id - 1];
        EXPECT_TRUE(Compatible(*s, offer.spec, pledge.spec));
        EXPECT_LT(offer.posted_at, pledge.ends_at);
        EXPECT_LT(pledge.posted_at, offer.ends_at);
      }
    }
  }
}

std::string Bytes(const std::vector<WorkloadRecord>& records) {
  std::string out;
  for (const WorkloadRecord& r : records) out += r.SerializeAsString();
  return out;
}

TEST(GlutWeekTest, SameSeedSameBytes) {
  const std::string a = Bytes(bench::GlutWeek({7, 2000}));
  EXPECT_EQ(a, Bytes(bench::GlutWeek({7, 2000})));
  EXPECT_NE(a, Bytes(bench::GlutWeek({8, 2000})));
}

// The week's shape: records in time order within the week, supply above
// demand in the glut third, the response buyers' pledges in the last.
TEST(GlutWeekTest, GlutInTheMiddleThirdResponseInTheLast) {
  const std::vector<WorkloadRecord> records = bench::GlutWeek({1, 4000});
  for (size_t i = 1; i < records.size(); ++i) {
    ASSERT_LE(records[i - 1].at_micros(), records[i].at_micros());
  }
  EXPECT_LT(records.back().at_micros(), kT0 + 7 * kDay);
  absl::StatusOr<Scenario> s = MakeScenario(records);
  ASSERT_TRUE(s.ok()) << s.status();
  const Outcome week = Measure(*s, {});
  EXPECT_GT(week.offered_kg_by_third[1], week.offered_kg_by_third[0]);
  EXPECT_GT(week.offered_kg_by_third[1], week.pledged_kg_by_third[1]);
  EXPECT_GT(week.pledged_kg_by_third[2], week.pledged_kg_by_third[1]);
  EXPECT_GT(s->offers.size(), 1000u);
  EXPECT_GT(s->pledges.size(), 1000u);
}

}  // namespace
}  // namespace sim
}  // namespace duijie
