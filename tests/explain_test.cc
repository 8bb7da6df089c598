// Explanations of what keeps an open order from matching: the engine's
// ExplainPledge and ExplainOffer on hand-built books, each kg figure worked
// out by hand in the comments, and the same through a real server
// (ExplainPledge, ExplainOffer and PostPledge's explanation).
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/server.h"
#include "duijie/v1/exchange.grpc.pb.h"
#include "engine/engine.h"
#include "engine/types.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "tests/engine_commands.h"

namespace duijie {
namespace {

using ::testing::HasSubstr;

constexpr Micros kT0 = 1'700'000'000'000'000;
constexpr Micros kLater = kT0 + 10 * kDay;

constexpr char kJingning[] = "620826";
constexpr char kDingxi[] = "621100";
constexpr char kLongnan[] = "621200";
constexpr char kWudu[] = "621202";
constexpr char kQingdao[] = "370200";
constexpr char kHenan[] = "410000";
constexpr char kLankao[] = "410225";
constexpr char kZhumadian[] = "411700";
constexpr char kShangcai[] = "411722";  // a county of Zhumadian

class ExplainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* code :
         {"620000", kJingning, kDingxi, kLongnan, kWudu, "370000", kQingdao,
          kHenan, kLankao, kZhumadian, kShangcai}) {
      ASSERT_TRUE(
          RunCommand(engine_, UpsertRegionCommand{Region{code, code}}, kT0)
              .ok());
    }
    ASSERT_TRUE(RunCommand(engine_,
                           UpsertPairingCommand{
                               Pairing{kQingdao, kLongnan, "Qingdao-Longnan"}},
                           kT0)
                    .ok());
  }

  // An offer of first-grade certified apples from `region`.
  static OfferSpec Offer(std::string region, int64_t kg, int64_t floor) {
    OfferSpec o;
    o.supplier_id = "coop";
    o.region_code = std::move(region);
    o.product_code = "fruit.apple";
    o.grade = 2;
    o.quantity_kg = kg;
    o.floor_price_fen_per_kg = floor;
    o.expires_at = kLater;
    o.certified = true;
    o.households = 3;
    return o;
  }

  // A pledge from Qingdao for apples, any region, any grade.
  static PledgeSpec Pledge(int64_t kg, int64_t max) {
    PledgeSpec p;
    p.buyer_id = "qingdao-office";
    p.buyer_city_code = kQingdao;
    p.buyer_kind = 1;
    p.product_code = "fruit.apple";
    p.quantity_kg = kg;
    p.max_price_fen_per_kg = max;
    p.expires_at = kLater;
    return p;
  }

  uint64_t PostOffer(const OfferSpec& spec) {
    absl::StatusOr<OfferResult> r =
        RunCommand(engine_, PostOfferCommand{spec}, kT0);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->offer.offer_id : 0;
  }

  // Posts a pledge that must rest with nothing matched.
  uint64_t PostResting(const PledgeSpec& spec) {
    absl::StatusOr<PledgeResult> r =
        RunCommand(engine_, PostPledgeCommand{spec}, kT0);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return 0;
    EXPECT_TRUE(r->matches.empty());
    EXPECT_EQ(r->pledge.status, OrderStatus::kOpen);
    return r->pledge.pledge_id;
  }

  Explanation ExplainPledge(uint64_t id) {
    absl::StatusOr<Explanation> e = engine_.ExplainPledge(id, kT0);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? *e : Explanation{};
  }

  Explanation ExplainOffer(uint64_t id) {
    absl::StatusOr<Explanation> e = engine_.ExplainOffer(id, kT0);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? *e : Explanation{};
  }

  // The blocker of `reason`; a failure when there is none.
  static Blocker Find(const Explanation& e, BlockReason reason) {
    for (const Blocker& b : e.blockers) {
      if (b.reason == reason) return b;
    }
    ADD_FAILURE() << "no blocker " << static_cast<int>(reason) << " in "
                  << e.summary;
    return Blocker{};
  }

  Engine engine_;
};

TEST_F(ExplainTest, PriceAloneCountsOffersFailingOnlyPriceAndNamesTheLowest) {
  PostOffer(Offer(kWudu, 800, 260));
  PostOffer(Offer(kDingxi, 400, 260));
  PostOffer(Offer(kJingning, 500, 300));
  OfferSpec second_grade = Offer(kJingning, 300, 250);
  second_grade.grade = 3;  // below the pledge's min grade, and too dear
  PostOffer(second_grade);
  PledgeSpec spec = Pledge(1000, 200);
  spec.min_grade = 2;
  const uint64_t id = PostResting(spec);

  const Explanation e = ExplainPledge(id);
  EXPECT_EQ(e.unfilled_kg, 1000);
  EXPECT_EQ(e.compatible_kg, 0);
  // 800 + 400 + 500 fail price alone; the 300 kg fail price and grade.
  EXPECT_EQ(e.several_reasons_kg, 300);
  ASSERT_EQ(e.blockers.size(), 1u);
  const Blocker& price = e.blockers[0];
  EXPECT_EQ(price.reason, BlockReason::kPrice);
  EXPECT_EQ(price.kg, 1700);
  // The lowest floor among them is 260, where 800 + 400 kg sit.
  EXPECT_EQ(price.widened_value, "260");
  EXPECT_EQ(price.widening_kg, 1200);
  EXPECT_EQ(price.widening, "a max price of 260 fen/kg reaches 1,200 kg");
  EXPECT_THAT(e.summary,
              HasSubstr("price alone keeps out the most (1,700 kg)"));
}

TEST_F(ExplainTest, GradeWideningIsTheNextGradeDown) {
  OfferSpec first = Offer(kWudu, 600, 100);
  OfferSpec second = Offer(kDingxi, 900, 100);
  second.grade = 3;
  PostOffer(first);
  PostOffer(second);
  PledgeSpec spec = Pledge(1000, 200);
  spec.min_grade = 1;  // premium only
  const Explanation e = ExplainPledge(PostResting(spec));
  ASSERT_EQ(e.blockers.size(), 1u);
  EXPECT_EQ(e.blockers[0].reason, BlockReason::kGrade);
  EXPECT_EQ(e.blockers[0].kg, 1500);
  EXPECT_EQ(e.blockers[0].widened_value, "2");
  EXPECT_EQ(e.blockers[0].widening_kg, 600);
  EXPECT_EQ(e.blockers[0].widening,
            "a min grade of GRADE_FIRST reaches 600 kg");
}

TEST_F(ExplainTest, CertificationCountsUncertifiedOffers) {
  OfferSpec uncertified = Offer(kWudu, 700, 100);
  uncertified.certified = false;
  PostOffer(uncertified);
  PledgeSpec spec = Pledge(1000, 200);
  spec.require_certified = true;
  const Explanation e = ExplainPledge(PostResting(spec));
  const Blocker b = Find(e, BlockReason::kCertification);
  EXPECT_EQ(b.kg, 700);
  EXPECT_EQ(b.widened_value, "false");
  EXPECT_EQ(b.widening_kg, 700);
  EXPECT_EQ(e.blockers.size(), 1u);
}

TEST_F(ExplainTest, LotSizeNamesTheLargestFillThePledgesMinLotRefuses) {
  PostOffer(Offer(kWudu, 400, 100));
  PostOffer(Offer(kDingxi, 500, 100));
  PledgeSpec spec = Pledge(1000, 200);
  spec.min_lot_kg = 600;  // neither offer has 600 kg
  const Explanation e = ExplainPledge(PostResting(spec));
  ASSERT_EQ(e.blockers.size(), 1u);
  EXPECT_EQ(e.blockers[0].reason, BlockReason::kLotSize);
  EXPECT_EQ(e.blockers[0].kg, 900);
  EXPECT_EQ(e.blockers[0].widened_value, "500");
  EXPECT_EQ(e.blockers[0].widening_kg, 500);
  EXPECT_EQ(e.blockers[0].widening, "a min lot of 500 kg reaches 500 kg");
}

// Expects `e` to name one blocker, of `reason`, holding `kg`, whose
// widening is `widening`, to `widened_value`.
void ExpectOneBlocker(const Explanation& e, BlockReason reason, int64_t kg,
                      std::string_view widened_value,
                      std::string_view widening) {
  ASSERT_EQ(e.blockers.size(), 1u);
  EXPECT_EQ(e.blockers[0].reason, reason);
  EXPECT_EQ(e.blockers[0].kg, kg);
  EXPECT_EQ(e.blockers[0].widened_value, widened_value);
  EXPECT_EQ(e.blockers[0].widening, widening);
}

TEST_F(ExplainTest, LotSizeOfTheOfferAsksForALargerPledge) {
  OfferSpec big_lots = Offer(kWudu, 5000, 100);
  big_lots.min_lot_kg = 2000;
  PostOffer(big_lots);
  const uint64_t id = PostResting(Pledge(1000, 200));
  const Explanation e = ExplainPledge(id);
  ExpectOneBlocker(
      e, BlockReason::kLotSize, 5000, "2000",
      "a quantity of 2,000 kg (2,000 kg unfilled) reaches 5,000 kg");
}

// An order partly filled below its own min lot sells the rest whole, so
// the other side needs only that rest, not the lot.
TEST_F(ExplainTest, AQuantityWideningAsksNoMoreThanARemainderBelowItsLot) {
  OfferSpec big_lots = Offer(kWudu, 5000, 100);
  big_lots.min_lot_kg = 2000;
  const uint64_t offer = PostOffer(big_lots);
  // 3,500 kg of it sell: 1,500 kg are left, below its 2,000 kg lot.
  ASSERT_TRUE(
      RunCommand(engine_, PostPledgeCommand{Pledge(3500, 200)}, kT0).ok());
  ASSERT_EQ(engine_.GetOffer(offer, kT0)->remaining_kg, 1500);
  const Explanation e = ExplainPledge(PostResting(Pledge(1000, 200)));
  ExpectOneBlocker(
      e, BlockReason::kLotSize, 1500, "1500",
      "a quantity of 1,500 kg (1,500 kg unfilled) reaches 1,500 kg");

  // The same from the offer's side: a pledge filled to below its lot.
  PledgeSpec big_lot = Pledge(5000, 200);
  big_lot.product_code = "fruit.pear";
  big_lot.min_lot_kg = 2000;
  const uint64_t pledge = PostResting(big_lot);
  OfferSpec pears = Offer(kWudu, 3500, 100);
  pears.product_code = "fruit.pear";
  PostOffer(pears);
  ASSERT_EQ(engine_.GetPledge(pledge, kT0)->remaining_kg, 1500);
  OfferSpec few = Offer(kWudu, 1000, 100);
  few.product_code = "fruit.pear";
  const Explanation o = ExplainOffer(PostOffer(few));
  ExpectOneBlocker(o, BlockReason::kLotSize, 1500, "1500",
                   "a quantity of 1,500 kg (1,500 kg left) reaches 1,500 kg");
}

TEST_F(ExplainTest, BudgetNamesTheBudgetThatBuysTheSmallestLot) {
  PostOffer(Offer(kWudu, 800, 250));
  PostOffer(Offer(kDingxi, 500, 280));
  PledgeSpec spec = Pledge(1000, 300);
  spec.budget_fen = 50'000;  // 166 kg at the max price of 300 fen/kg
  spec.min_lot_kg = 300;
  // A post is refused now (its budget cannot buy one min lot at its max
  // price), but a journal written before that rule holds such pledges, and
  // replay makes them.
  ASSERT_TRUE(engine_.Replay(MakeCommand(PostPledgeCommand{spec}, kT0)).ok());
  const uint64_t id = engine_.pledge_count();
  absl::StatusOr<PledgeView> pledge = engine_.GetPledge(id, kT0);
  ASSERT_TRUE(pledge.ok()) << pledge.status();
  ASSERT_EQ(pledge->status, OrderStatus::kOpen);
  const Explanation e = ExplainPledge(id);
  ASSERT_EQ(e.blockers.size(), 1u);
  const Blocker& b = e.blockers[0];
  EXPECT_EQ(b.reason, BlockReason::kBudget);
  EXPECT_EQ(b.kg, 1300);
  // The smallest fill is the 300 kg lot: 90,000 fen at 300 fen/kg, for
  // both offers.
  EXPECT_EQ(b.widened_value, "90000");
  EXPECT_EQ(b.widening_kg, 1300);
  EXPECT_EQ(b.widening, "a budget of 90,000 fen reaches 1,300 kg");
}

TEST_F(ExplainTest, AnOffersOwnMinLotAboveWhatABudgetBuysIsNamed) {
  PledgeSpec spec = Pledge(1000, 300);
  spec.budget_fen = 36'000;  // 120 kg at 300 fen/kg
  PostResting(spec);
  OfferSpec big_lots = Offer(kWudu, 800, 250);
  big_lots.min_lot_kg = 200;
  const uint64_t id = PostOffer(big_lots);
  const Explanation e = ExplainOffer(id);
  ExpectOneBlocker(e, BlockReason::kBudget, 1000, "120",
                   "a min lot of 120 kg reaches 1,000 kg");
}

// The matcher's fill rule as the explanations state it, written out here
// so that the test does not lean on the engine's own: the largest quantity
// within both remainders and the budget, or 0 when it breaks a min lot.
int64_t Fill(int64_t offer_left, int64_t offer_lot, int64_t pledge_left,
             int64_t pledge_lot, int64_t budget_left, int64_t price) {
  int64_t q = std::min(offer_left, pledge_left);
  if (budget_left >= 0) q = std::min(q, budget_left / price);
  if (q <= 0) return 0;
  if (q < pledge_lot && q != pledge_left) return 0;
  if (q < offer_lot && q != offer_left) return 0;
  return q;
}

// Whether region `ancestor` is `code` or its prefecture or province.
bool Covers(std::string_view ancestor, std::string_view code) {
  const int a = std::stoi(std::string(ancestor));
  const int c = std::stoi(std::string(code));
  return a == c || a == c / 100 * 100 || a == c / 10000 * 10000;
}

// The tests an offer fails for a pledge (as the BlockReason numbers'
// bits), from the two views: what ExplainPledge must count.
uint32_t FailedTests(const OfferView& o, const PledgeView& p, bool in_scope) {
  auto bit = [](BlockReason r) { return 1u << static_cast<int>(r); };
  uint32_t failed = 0;
  if (!in_scope) failed |= bit(BlockReason::kScope);
  if (o.floor_price_fen_per_kg > p.max_price_fen_per_kg) {
    failed |= bit(BlockReason::kPrice);
  }
  if (static_cast<int>(o.grade) > static_cast<int>(p.min_grade)) {
    failed |= bit(BlockReason::kGrade);
  }
  if (p.require_certified && !o.certified) {
    failed |= bit(BlockReason::kCertification);
  }
  const int64_t price = p.max_price_fen_per_kg;
  const int64_t budget_left =
      p.budget_fen > 0 ? p.budget_fen - p.spent_fen : -1;
  if (Fill(o.remaining_kg, o.min_lot_kg, p.remaining_kg, p.min_lot_kg, -1,
           price) == 0) {
    failed |= bit(BlockReason::kLotSize);
  } else if (Fill(o.remaining_kg, o.min_lot_kg, p.remaining_kg, p.min_lot_kg,
                  budget_left, price) == 0) {
    failed |= bit(BlockReason::kBudget);
  }
  return failed;
}

// Under continuous matching every pair that passes every test has matched:
// on random books no open order has compatible kg, and each order of the
// other side in the product is counted exactly once.
TEST_F(ExplainTest, ExplanationsAgreeWithTheMatcherOnRandomBooks) {
  const char* regions[] = {kWudu, kDingxi, kJingning, kShangcai, kLankao};
  uint64_t seed = 12345;
  auto next = [&seed](uint64_t n) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (seed >> 33) % n;
  };
  for (int i = 0; i < 400; ++i) {
    if (next(2) == 0) {
      OfferSpec o = Offer(regions[next(5)], 50 + next(500), 100 + next(200));
      o.grade = 1 + next(3);
      o.certified = next(2) == 0;
      o.min_lot_kg = next(3) == 0 ? next(o.quantity_kg) : 0;
      o.product_code = next(4) == 0 ? "fruit.pear" : "fruit.apple";
      PostOffer(o);
    } else {
      PledgeSpec p = Pledge(50 + next(800), 100 + next(200));
      p.min_grade = next(4);
      p.require_certified = next(3) == 0;
      p.min_lot_kg = next(3) == 0 ? next(p.quantity_kg) : 0;
      p.budget_fen = next(3) == 0 ? 5'000 + next(60'000) : 0;
      // At least one min lot at the max price, or the post is refused.
      if (p.budget_fen > 0) {
        p.budget_fen =
            std::max<int64_t>(p.budget_fen, std::max<int64_t>(p.min_lot_kg, 1) *
                                                p.max_price_fen_per_kg);
      }
      p.product_code = next(3) == 0 ? "fruit" : "fruit.apple";
      const int scope = next(3);
      p.scope = scope;
      if (scope == static_cast<int>(Scope::kListedRegions)) {
        p.region_codes = {regions[next(5)]};
      }
      ASSERT_TRUE(RunCommand(engine_, PostPledgeCommand{p}, kT0).ok());
    }
  }
  int pledges = 0;
  for (uint64_t id = 1; id <= engine_.pledge_count(); ++id) {
    absl::StatusOr<Explanation> e = engine_.ExplainPledge(id, kT0);
    if (!e.ok()) continue;  // filled
    ++pledges;
    EXPECT_EQ(e->compatible_kg, 0) << "pledge " << id;
    int64_t counted = e->several_reasons_kg;
    for (const Blocker& b : e->blockers) {
      if (b.reason != BlockReason::kNoProductInScope) counted += b.kg;
    }
    absl::StatusOr<PledgeView> p = engine_.GetPledge(id, kT0);
    ASSERT_TRUE(p.ok());
    int64_t open_kg = 0;
    bool more = false;
    OrderFilter filter;
    filter.product_code_prefix = std::string(p->product_code);
    filter.status = static_cast<int>(OrderStatus::kOpen);
    // Each reason's kg, worked out offer by offer from the views: every
    // pledge here is Qingdao's, paired with Longnan.
    int64_t compatible = 0, several = 0;
    std::map<int, int64_t> alone;
    for (const OfferView& o :
         engine_.ListOffers(filter, 0, 100000, kT0, &more)) {
      open_kg += o.remaining_kg;
      bool in_scope = true;
      if (p->scope == Scope::kPartnersOnly) {
        in_scope = Covers(kLongnan, o.region_code);
      } else if (p->scope == Scope::kListedRegions) {
        in_scope = std::any_of(
            p->region_codes.begin(), p->region_codes.end(),
            [&](std::string_view code) { return Covers(code, o.region_code); });
      }
      const uint32_t failed = FailedTests(o, *p, in_scope);
      if (failed == 0) {
        compatible += o.remaining_kg;
      } else if ((failed & (failed - 1)) != 0) {
        several += o.remaining_kg;
      } else {
        alone[__builtin_ctz(failed)] += o.remaining_kg;
      }
    }
    EXPECT_EQ(counted, open_kg) << "pledge " << id;
    EXPECT_EQ(e->compatible_kg, compatible) << "pledge " << id;
    EXPECT_EQ(e->several_reasons_kg, several) << "pledge " << id;
    for (const Blocker& b : e->blockers) {
      if (b.reason == BlockReason::kNoProductInScope) continue;
      EXPECT_EQ(b.kg, alone[static_cast<int>(b.reason)])
          << "pledge " << id << " reason " << static_cast<int>(b.reason);
      alone.erase(static_cast<int>(b.reason));
    }
    for (const auto& [reason, kg] : alone) {
      EXPECT_EQ(kg, 0) << "pledge " << id << " reason " << reason
                       << " has no blocker";
    }
  }
  int offers = 0;
  for (uint64_t id = 1; id <= engine_.offer_count(); ++id) {
    absl::StatusOr<Explanation> e = engine_.ExplainOffer(id, kT0);
    if (!e.ok()) continue;
    ++offers;
    EXPECT_EQ(e->compatible_kg, 0) << "offer " << id;
  }
  EXPECT_GT(pledges, 20);
  EXPECT_GT(offers, 20);
}

TEST_F(ExplainTest, ScopeNamesTheRegionWithMostKgAtTheScopesLevel) {
  OfferSpec dear = Offer(kWudu, 400, 500);  // in scope, too dear
  PostOffer(dear);
  PostOffer(Offer(kDingxi, 600, 100));
  PostOffer(Offer(kShangcai, 800, 100));
  PostOffer(Offer(kJingning, 300, 100));
  PledgeSpec spec = Pledge(1000, 200);
  spec.scope = static_cast<int>(Scope::kPartnersOnly);  // Longnan only
  const Explanation e = ExplainPledge(PostResting(spec));
  // Longnan is a prefecture: Shangcai counts as Zhumadian (411700), Jingning
  // as itself (its prefecture 620800 is not a known region).
  ASSERT_EQ(e.blockers.size(), 2u);
  const Blocker& scope = e.blockers[0];
  EXPECT_EQ(scope.reason, BlockReason::kScope);
  EXPECT_EQ(scope.kg, 600 + 800 + 300);
  EXPECT_EQ(scope.widened_value, kZhumadian);
  EXPECT_EQ(scope.widening_kg, 800);
  EXPECT_EQ(scope.widening, "adding region 411700 reaches 800 kg");
  EXPECT_EQ(e.blockers[1].reason, BlockReason::kPrice);
  EXPECT_EQ(e.blockers[1].kg, 400);
}

TEST_F(ExplainTest, NothingInScopeComesFirstAndNamesWhereTheProduceIs) {
  PostOffer(Offer(kDingxi, 600, 100));
  PostOffer(Offer(kJingning, 300, 100));
  PledgeSpec spec = Pledge(1000, 200);
  spec.scope = static_cast<int>(Scope::kListedRegions);
  spec.region_codes = {kLankao};  // a county: widenings at county level
  const Explanation e = ExplainPledge(PostResting(spec));
  ASSERT_EQ(e.blockers.size(), 2u);
  const Blocker& none = e.blockers[0];
  EXPECT_EQ(none.reason, BlockReason::kNoProductInScope);
  EXPECT_EQ(none.kg, 900);
  EXPECT_EQ(none.widened_value, kDingxi);
  EXPECT_EQ(none.widening_kg, 600);
  EXPECT_EQ(none.widening,
            "adding region 621100 brings 600 kg of fruit.apple into scope");
  EXPECT_EQ(e.blockers[1].reason, BlockReason::kScope);
  EXPECT_EQ(e.blockers[1].kg, 900);
  EXPECT_THAT(e.summary, HasSubstr("none of fruit.apple is in scope"));
}

TEST_F(ExplainTest, APledgeForWhatNobodyOffersIsToldSo) {
  PostOffer(Offer(kWudu, 600, 100));  // apples, not cabbage
  PledgeSpec spec = Pledge(1000, 200);
  spec.product_code = "vegetable.cabbage";
  const Explanation e = ExplainPledge(PostResting(spec));
  EXPECT_EQ(e.unfilled_kg, 1000);
  EXPECT_EQ(e.compatible_kg, 0);
  ASSERT_EQ(e.blockers.size(), 1u);
  EXPECT_EQ(e.blockers[0].reason, BlockReason::kNoProductInScope);
  EXPECT_EQ(e.blockers[0].kg, 0);
  EXPECT_EQ(e.blockers[0].widening, "");
  EXPECT_EQ(e.summary,
            "Pledge 1 has 1,000 kg unfilled. No offers of vegetable.cabbage "
            "are open at all.");
}

TEST_F(ExplainTest, APledgeForACategoryReadsTheOffersUnderIt) {
  PostOffer(Offer(kWudu, 600, 300));  // fruit.apple
  PledgeSpec spec = Pledge(1000, 200);
  spec.product_code = "fruit";
  const Explanation e = ExplainPledge(PostResting(spec));
  ASSERT_EQ(e.blockers.size(), 1u);
  EXPECT_EQ(e.blockers[0].reason, BlockReason::kPrice);
  EXPECT_EQ(e.blockers[0].kg, 600);
}

TEST_F(ExplainTest, OffersExpiredAtTheReadAreLeftOut) {
  OfferSpec soon = Offer(kWudu, 600, 300);
  soon.expires_at = kT0 + kHour;
  PostOffer(soon);
  PostOffer(Offer(kDingxi, 400, 300));
  const uint64_t id = PostResting(Pledge(1000, 200));
  absl::StatusOr<Explanation> e = engine_.ExplainPledge(id, kT0 + 2 * kHour);
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_EQ(e->blockers.size(), 1u);
  EXPECT_EQ(e->blockers[0].kg, 400);
}

TEST_F(ExplainTest, OffersHeldForABatchClearingAreCompatible) {
  ASSERT_TRUE(
      RunCommand(engine_, SetClearingPolicyCommand{"fruit", kHour}, kT0).ok());
  PostOffer(Offer(kWudu, 600, 100));
  const uint64_t id = PostResting(Pledge(1000, 200));
  const Explanation e = ExplainPledge(id);
  EXPECT_EQ(e.compatible_kg, 600);
  EXPECT_TRUE(e.blockers.empty());
  EXPECT_THAT(e.summary,
              HasSubstr("600 kg of open offers could match it now at the "
                        "product's next batch clearing"));
}

TEST_F(ExplainTest, AnOfferIsToldWhichPledgesItMissesAndWhy) {
  const uint64_t id = PostOffer(Offer(kWudu, 2000, 300));
  PostResting(Pledge(600, 250));
  PostResting(Pledge(400, 280));
  PledgeSpec other = Pledge(100, 280);
  other.buyer_id = "another-office";
  PostResting(other);
  PledgeSpec premium = Pledge(700, 400);
  premium.min_grade = 1;
  PostResting(premium);
  PledgeSpec elsewhere = Pledge(900, 200);  // too cheap and out of scope
  elsewhere.scope = static_cast<int>(Scope::kListedRegions);
  elsewhere.region_codes = {kHenan};
  PostResting(elsewhere);

  const Explanation e = ExplainOffer(id);
  EXPECT_EQ(e.unfilled_kg, 2000);
  EXPECT_EQ(e.several_reasons_kg, 900);
  ASSERT_EQ(e.blockers.size(), 2u);
  const Blocker& price = e.blockers[0];
  EXPECT_EQ(price.reason, BlockReason::kPrice);
  EXPECT_EQ(price.kg, 600 + 400 + 100);
  // The highest max price below the floor is 280: 400 + 100 kg.
  EXPECT_EQ(price.widened_value, "280");
  EXPECT_EQ(price.widening_kg, 500);
  EXPECT_EQ(price.widening, "a floor of 280 fen/kg reaches 500 kg");
  const Blocker& grade = e.blockers[1];
  EXPECT_EQ(grade.reason, BlockReason::kGrade);
  EXPECT_EQ(grade.kg, 700);
  EXPECT_EQ(grade.widening, "");  // an offer cannot change its grade
}

TEST_F(ExplainTest, AnOfferOutsideEveryScopeIsToldNothingTakesItsRegion) {
  const uint64_t id = PostOffer(Offer(kDingxi, 500, 100));
  PledgeSpec partners = Pledge(800, 200);
  partners.scope = static_cast<int>(Scope::kPartnersOnly);  // Longnan only
  PostResting(partners);
  const Explanation e = ExplainOffer(id);
  ASSERT_EQ(e.blockers.size(), 2u);
  EXPECT_EQ(e.blockers[0].reason, BlockReason::kNoProductInScope);
  EXPECT_EQ(e.blockers[0].kg, 800);
  EXPECT_EQ(e.blockers[1].reason, BlockReason::kScope);
  EXPECT_EQ(e.blockers[1].kg, 800);
}

TEST_F(ExplainTest, UnknownAndClosedOrdersAreRefusedNamingTheId) {
  absl::StatusOr<Explanation> unknown = engine_.ExplainPledge(99, kT0);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(unknown.status().message(), HasSubstr("pledge 99"));
  EXPECT_EQ(engine_.ExplainOffer(0, kT0).status().code(),
            absl::StatusCode::kNotFound);

  const uint64_t offer = PostOffer(Offer(kWudu, 600, 100));
  const uint64_t pledge = PostResting(Pledge(1000, 50));
  ASSERT_TRUE(RunCommand(engine_, CancelPledgeCommand{pledge}, kT0).ok());
  absl::StatusOr<Explanation> cancelled = engine_.ExplainPledge(pledge, kT0);
  EXPECT_EQ(cancelled.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(cancelled.status().message(),
              HasSubstr(absl::StrCat("pledge ", pledge, " is CANCELLED")));
  absl::StatusOr<Explanation> expired = engine_.ExplainOffer(offer, kLater);
  EXPECT_EQ(expired.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(expired.status().message(),
              HasSubstr(absl::StrCat("offer ", offer, " is EXPIRED")));
}

TEST_F(ExplainTest, ExplainingChangesNothing) {
  PostOffer(Offer(kWudu, 600, 300));
  const uint64_t id = PostResting(Pledge(1000, 200));
  const uint64_t before = engine_.StateHash();
  ExplainPledge(id);
  ExplainOffer(1);
  EXPECT_EQ(engine_.StateHash(), before);
  EXPECT_TRUE(engine_.CheckInvariants().ok());
}

// --- Through a real server --------------------------------------------------

class ExplainServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.auth.enabled = false;  // authorization: auth_test's rules
    options.listen = "127.0.0.1:0";
    options.clock = [] { return absl::FromUnixSeconds(kStartSeconds); };
    absl::StatusOr<std::unique_ptr<DuijieServer>> server =
        DuijieServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = v1::Exchange::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                            grpc::InsecureChannelCredentials()));
    for (const char* code : {"370200", "621200", "621202"}) {
      v1::UpsertRegionRequest request;
      request.mutable_region()->set_code(code);
      request.mutable_region()->set_name(code);
      v1::Region response;
      grpc::ClientContext context;
      ASSERT_TRUE(stub_->UpsertRegion(&context, request, &response).ok());
    }
  }
  void TearDown() override {
    if (server_) server_->Shutdown(absl::Seconds(2));
  }

  static constexpr int64_t kStartSeconds = 1732060800;

  std::unique_ptr<DuijieServer> server_;
  std::unique_ptr<v1::Exchange::Stub> stub_;
};

TEST_F(ExplainServerTest, PostPledgeCarriesTheExplanationAndExplainAnswers) {
  v1::PostOfferRequest offer_request;
  v1::Offer* offer = offer_request.mutable_offer();
  offer->set_supplier_id("wudu-coop");
  offer->set_region_code("621202");
  offer->set_product_code("spice.sichuan_pepper");
  offer->set_grade(v1::GRADE_FIRST);
  offer->set_quantity_kg(1200);
  offer->set_floor_price_fen_per_kg(9000);
  offer->mutable_expires_at()->set_seconds(kStartSeconds + 30 * 86400);
  v1::PostOfferResponse offer_response;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(
        stub_->PostOffer(&context, offer_request, &offer_response).ok());
  }

  v1::PostPledgeRequest pledge_request;
  v1::Pledge* pledge = pledge_request.mutable_pledge();
  pledge->set_buyer_id("qingdao-office");
  pledge->set_buyer_city_code("370200");
  pledge->set_buyer_kind(v1::GOVERNMENT_UNIT);
  pledge->set_product_code("spice");
  pledge->set_quantity_kg(500);
  pledge->set_max_price_fen_per_kg(8000);
  pledge->mutable_expires_at()->set_seconds(kStartSeconds + 10 * 86400);
  v1::PostPledgeResponse posted;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->PostPledge(&context, pledge_request, &posted).ok());
  }
  EXPECT_EQ(posted.matches_size(), 0);
  ASSERT_TRUE(posted.has_explanation());
  EXPECT_EQ(posted.explanation().unfilled_kg(), 500);
  ASSERT_EQ(posted.explanation().blockers_size(), 1);
  const v1::Blocker& price = posted.explanation().blockers(0);
  EXPECT_EQ(price.reason(), v1::PRICE);
  EXPECT_EQ(price.kg(), 1200);
  EXPECT_EQ(price.widened_value(), "9000");
  EXPECT_EQ(price.widening(), "a max price of 9,000 fen/kg reaches 1,200 kg");

  v1::ExplainPledgeRequest explain;
  explain.set_pledge_id(posted.pledge().pledge_id());
  v1::Explanation explained;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->ExplainPledge(&context, explain, &explained).ok());
  }
  EXPECT_EQ(explained.SerializeAsString(),
            posted.explanation().SerializeAsString());

  v1::ExplainOfferRequest explain_offer;
  explain_offer.set_offer_id(offer_response.offer().offer_id());
  v1::Explanation offer_explained;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(
        stub_->ExplainOffer(&context, explain_offer, &offer_explained).ok());
  }
  ASSERT_EQ(offer_explained.blockers_size(), 1);
  EXPECT_EQ(offer_explained.blockers(0).widening(),
            "a floor of 8,000 fen/kg reaches 500 kg");

  // A pledge that matches carries none.
  pledge->set_max_price_fen_per_kg(9500);
  v1::PostPledgeResponse matched;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->PostPledge(&context, pledge_request, &matched).ok());
  }
  EXPECT_EQ(matched.matches_size(), 1);
  EXPECT_FALSE(matched.has_explanation());

  // Unknown and closed.
  explain.set_pledge_id(99);
  {
    grpc::ClientContext context;
    EXPECT_EQ(stub_->ExplainPledge(&context, explain, &explained).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  explain.set_pledge_id(matched.pledge().pledge_id());  // FILLED
  {
    grpc::ClientContext context;
    const grpc::Status status =
        stub_->ExplainPledge(&context, explain, &explained);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_THAT(status.error_message(), HasSubstr("is FILLED"));
  }
}

}  // namespace
}  // namespace duijie
