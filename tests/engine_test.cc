// Unit tests of duijie::Engine, one test per matching, validation,
// idempotency, clock and read rule of the engine, each named as the rule it
// specifies. Regions and pairings are the real GB/T 2260 codes and east-west
// pairings of the source articles.
#include "engine/engine.h"

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "engine/buyers.h"
#include "engine/byte_codec.h"
#include "engine/command.h"
#include "engine/types.h"
#include "engine/violations.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine_commands.h"

namespace duijie {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr Micros kT0 = 1'700'000'000'000'000;  // an arbitrary start time
constexpr Micros kLater = kT0 + 1'000'000;     // default expiry

// Region codes from the domain brief.
constexpr char kGansu[] = "620000";
constexpr char kLanzhou[] = "620100";
constexpr char kJingning[] = "620826";
constexpr char kDingxi[] = "621100";
constexpr char kLongnan[] = "621200";
constexpr char kWudu[] = "621202";
constexpr char kShaanxi[] = "610000";
constexpr char kAnkang[] = "610900";
constexpr char kHenan[] = "410000";
constexpr char kLankao[] = "410225";
constexpr char kShandong[] = "370000";
constexpr char kQingdao[] = "370200";
constexpr char kGuangdong[] = "440000";
constexpr char kGuangzhou[] = "440100";
constexpr char kTianjin[] = "120000";

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* code :
         {kGansu, kLanzhou, kJingning, kDingxi, kLongnan, kWudu, kShaanxi,
          kAnkang, kHenan, kLankao, kShandong, kQingdao, kGuangdong, kGuangzhou,
          kTianjin}) {
      ASSERT_TRUE(
          RunCommand(engine_, UpsertRegionCommand{Region{code, code}}, kT0)
              .ok());
    }
  }

  static OfferSpec Offer(std::string region, std::string product, int64_t qty,
                         int64_t floor) {
    OfferSpec o;
    o.supplier_id = "coop";
    o.region_code = std::move(region);
    o.product_code = std::move(product);
    o.grade = 2;
    o.quantity_kg = qty;
    o.floor_price_fen_per_kg = floor;
    o.expires_at = kLater;
    o.certified = true;
    o.households = 3;
    return o;
  }

  static PledgeSpec Pledge(std::string city, std::string product, int64_t qty,
                           int64_t max) {
    PledgeSpec p;
    p.buyer_id = "office";
    p.buyer_city_code = std::move(city);
    p.buyer_kind = 1;
    p.product_code = std::move(product);
    p.quantity_kg = qty;
    p.max_price_fen_per_kg = max;
    p.expires_at = kLater;
    return p;
  }

  OfferResult PostOffer(const OfferSpec& spec, Micros now = kT0) {
    absl::StatusOr<OfferResult> r =
        RunCommand(engine_, PostOfferCommand{spec}, now);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : OfferResult{};
  }

  PledgeResult PostPledge(const PledgeSpec& spec, Micros now = kT0) {
    absl::StatusOr<PledgeResult> r =
        RunCommand(engine_, PostPledgeCommand{spec}, now);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : PledgeResult{};
  }

  void Pair(const char* east, const char* west) {
    ASSERT_TRUE(
        RunCommand(engine_,
                   UpsertPairingCommand{Pairing{east, west, "east-west"}}, kT0)
            .ok());
  }

  void Flag(const char* code, bool key_assisted, bool relocation_site) {
    ASSERT_TRUE(RunCommand(engine_,
                           UpsertRegionCommand{Region{code, code, key_assisted,
                                                      relocation_site}},
                           kT0)
                    .ok());
  }

  // The offer ids an incoming pledge was filled from, in order.
  static std::vector<uint64_t> OfferIds(const std::vector<MatchView>& ms) {
    std::vector<uint64_t> ids;
    for (const MatchView& m : ms) ids.push_back(m.offer_id);
    return ids;
  }
  static std::vector<uint64_t> PledgeIds(const std::vector<MatchView>& ms) {
    std::vector<uint64_t> ids;
    for (const MatchView& m : ms) ids.push_back(m.pledge_id);
    return ids;
  }

  OfferView GetOffer(uint64_t id, Micros now = kT0) {
    absl::StatusOr<OfferView> v = engine_.GetOffer(id, now);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : OfferView{};
  }
  PledgeView GetPledge(uint64_t id, Micros now = kT0) {
    absl::StatusOr<PledgeView> v = engine_.GetPledge(id, now);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : PledgeView{};
  }

  Engine engine_;
};

// --- Compatibility ----------------------------------------------------------

TEST_F(EngineTest, PledgeOnAncestorProductTakesDescendantProduct) {
  PostOffer(Offer(kLankao, "vegetable.cabbage", 100, 50));
  PledgeResult r = PostPledge(Pledge(kTianjin, "vegetable", 40, 60));
  ASSERT_THAT(r.matches, SizeIs(1));
  EXPECT_EQ(r.matches[0].product_code, "vegetable.cabbage");
  EXPECT_EQ(r.matches[0].quantity_kg, 40);
}

TEST_F(EngineTest, ProductCoverageIsSegmentWiseNotStringPrefix) {
  PostOffer(Offer(kJingning, "fruit.apples", 100, 50));
  PostOffer(Offer(kLankao, "vegetables.cabbage", 100, 50));
  EXPECT_THAT(PostPledge(Pledge(kTianjin, "fruit.apple", 10, 60)).matches,
              IsEmpty());
  EXPECT_THAT(PostPledge(Pledge(kTianjin, "vegetable", 10, 60)).matches,
              IsEmpty());
}

TEST_F(EngineTest, OfferOnAncestorProductDoesNotFillDescendantPledge) {
  PostOffer(Offer(kLankao, "vegetable", 100, 50));
  EXPECT_THAT(PostPledge(Pledge(kTianjin, "vegetable.cabbage", 10, 60)).matches,
              IsEmpty());
}

TEST_F(EngineTest, OfferGradeMustBeAtLeastPledgeMinGrade) {
  OfferSpec second = Offer(kJingning, "fruit.apple", 100, 50);
  second.grade = 3;
  OfferSpec premium = Offer(kJingning, "fruit.apple", 100, 55);
  premium.grade = 1;
  PostOffer(second);   // id 1, cheaper but GRADE_SECOND
  PostOffer(premium);  // id 2
  PledgeSpec p = Pledge(kTianjin, "fruit.apple", 30, 60);
  p.min_grade = 2;  // GRADE_FIRST or better
  EXPECT_THAT(OfferIds(PostPledge(p).matches), ElementsAre(2));
}

TEST_F(EngineTest, MinGradeUnsetAcceptsEveryGrade) {
  OfferSpec o = Offer(kJingning, "fruit.apple", 100, 50);
  o.grade = 3;
  PostOffer(o);
  PledgeSpec p = Pledge(kTianjin, "fruit.apple", 30, 60);
  p.min_grade = 0;
  EXPECT_THAT(PostPledge(p).matches, SizeIs(1));
}

TEST_F(EngineTest, RequireCertifiedSkipsUncertifiedOffers) {
  OfferSpec plain = Offer(kDingxi, "vegetable.potato", 100, 10);
  plain.certified = false;
  PostOffer(plain);                                        // id 1
  PostOffer(Offer(kDingxi, "vegetable.potato", 100, 20));  // id 2
  PledgeSpec p = Pledge(kTianjin, "vegetable.potato", 50, 30);
  p.require_certified = true;
  EXPECT_THAT(OfferIds(PostPledge(p).matches), ElementsAre(2));
}

TEST_F(EngineTest, FloorAboveMaxDoesNotMatchButEqualDoes) {
  PostOffer(Offer(kDingxi, "vegetable.potato", 100, 31));
  EXPECT_THAT(PostPledge(Pledge(kTianjin, "vegetable.potato", 10, 30)).matches,
              IsEmpty());
  PledgeResult r = PostPledge(Pledge(kTianjin, "vegetable.potato", 10, 31));
  ASSERT_THAT(r.matches, SizeIs(1));
  EXPECT_EQ(r.matches[0].price_fen_per_kg, 31);
}

TEST_F(EngineTest, ExpiresAtIsExclusive) {
  OfferSpec o = Offer(kLankao, "vegetable.cabbage", 100, 10);
  o.expires_at = kT0 + 10;
  PostOffer(o);
  EXPECT_EQ(GetOffer(1, kT0 + 9).status, OrderStatus::kOpen);
  EXPECT_EQ(GetOffer(1, kT0 + 10).status, OrderStatus::kExpired);
  // At expires_at exactly it no longer matches...
  PledgeSpec p = Pledge(kTianjin, "vegetable", 10, 20);
  p.expires_at = kT0 + 100;
  EXPECT_THAT(PostPledge(p, kT0 + 10).matches, IsEmpty());
  EXPECT_EQ(GetOffer(1, kT0 + 10).status, OrderStatus::kExpired);
}

TEST_F(EngineTest, OfferMatchesOneMicrosecondBeforeItExpires) {
  OfferSpec o = Offer(kLankao, "vegetable.cabbage", 100, 10);
  o.expires_at = kT0 + 10;
  PostOffer(o);
  EXPECT_THAT(
      PostPledge(Pledge(kTianjin, "vegetable", 10, 20), kT0 + 9).matches,
      SizeIs(1));
}

TEST_F(EngineTest, ExpiresAtEqualToNowIsRejected) {
  OfferSpec o = Offer(kLankao, "vegetable.cabbage", 100, 10);
  o.expires_at = kT0;
  absl::StatusOr<OfferResult> r = RunCommand(engine_, PostOfferCommand{o}, kT0);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("expires_at"));
}

TEST_F(EngineTest, ExpiredPledgeNeverMatchesAndReportsExpired) {
  PledgeSpec p = Pledge(kTianjin, "vegetable", 100, 20);
  p.expires_at = kT0 + 5;
  PostPledge(p);
  OfferResult r =
      PostOffer(Offer(kLankao, "vegetable.cabbage", 10, 10), kT0 + 5);
  EXPECT_THAT(r.matches, IsEmpty());
  EXPECT_EQ(GetPledge(1, kT0 + 5).status, OrderStatus::kExpired);
  EXPECT_EQ(GetPledge(1, kT0 + 5).remaining_kg, 100);
}

TEST_F(EngineTest, PartnersOnlyScopeTakesOnlyPairedRegions) {
  Pair(kQingdao, kLongnan);
  PostOffer(Offer(kDingxi, "spice.sichuan_pepper", 100, 10));  // 1: not paired
  PostOffer(Offer(kWudu, "spice.sichuan_pepper", 100, 90));    // 2: paired
  PledgeSpec p = Pledge(kQingdao, "spice", 150, 100);
  p.scope = static_cast<int>(Scope::kPartnersOnly);
  PledgeResult r = PostPledge(p);
  EXPECT_THAT(OfferIds(r.matches), ElementsAre(2));
  EXPECT_TRUE(r.matches[0].partner);
  EXPECT_EQ(r.pledge.remaining_kg, 50);
}

TEST_F(EngineTest, ProvincePairingCoversPrefecturesAndCountiesOnBothSides) {
  Pair(kShandong, kGansu);
  PostOffer(Offer(kJingning, "fruit.apple", 100, 10));
  PledgeSpec p = Pledge(kQingdao, "fruit", 10, 20);
  p.scope = static_cast<int>(Scope::kPartnersOnly);
  PledgeResult r = PostPledge(p);
  ASSERT_THAT(r.matches, SizeIs(1));
  EXPECT_TRUE(r.matches[0].partner);
}

TEST_F(EngineTest, PairingDoesNotCoverAncestorsOfItsCodes) {
  // Qingdao-Wudu pairs the county, not the rest of Longnan or Gansu.
  Pair(kQingdao, kWudu);
  PostOffer(Offer(kLongnan, "spice.sichuan_pepper", 100, 10));
  PledgeSpec p = Pledge(kShandong, "spice", 10, 20);  // the province buys
  p.scope = static_cast<int>(Scope::kPartnersOnly);
  EXPECT_THAT(PostPledge(p).matches, IsEmpty());
  PledgeSpec q = Pledge(kQingdao, "spice", 10, 20);
  q.scope = static_cast<int>(Scope::kPartnersOnly);
  EXPECT_THAT(PostPledge(q).matches, IsEmpty());
}

TEST_F(EngineTest, DeletedPairingNoLongerMakesPartners) {
  Pair(kQingdao, kLongnan);
  absl::StatusOr<PairingResult> del =
      RunCommand(engine_, DeletePairingCommand{kQingdao, kLongnan}, kT0);
  ASSERT_TRUE(del.ok()) << del.status();
  EXPECT_EQ(del->pairing.note, "east-west");
  PostOffer(Offer(kWudu, "spice.sichuan_pepper", 100, 10));
  PledgeSpec p = Pledge(kQingdao, "spice", 10, 20);
  p.scope = static_cast<int>(Scope::kPartnersOnly);
  EXPECT_THAT(PostPledge(p).matches, IsEmpty());
  EXPECT_EQ(RunCommand(engine_, DeletePairingCommand{kQingdao, kLongnan}, kT0)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

TEST_F(EngineTest, ListedRegionsCoverDescendants) {
  PostOffer(Offer(kDingxi, "spice.sichuan_pepper", 100, 10));  // 1: not listed
  PostOffer(Offer(kWudu, "spice.sichuan_pepper", 100, 20));    // 2: under 6212
  PledgeSpec p = Pledge(kGuangzhou, "spice", 300, 30);
  p.scope = static_cast<int>(Scope::kListedRegions);
  p.region_codes = {kLongnan, kAnkang};
  PledgeResult r = PostPledge(p);
  EXPECT_THAT(OfferIds(r.matches), ElementsAre(2));
  EXPECT_THAT(r.pledge.region_codes, ElementsAre(kLongnan, kAnkang));
}

TEST_F(EngineTest, ListedRegionsDoNotCoverAncestorsOrSiblings) {
  PostOffer(Offer(kLongnan, "spice.sichuan_pepper", 100, 10));
  PostOffer(Offer(kLanzhou, "spice.sichuan_pepper", 100, 10));
  PledgeSpec p = Pledge(kGuangzhou, "spice", 300, 30);
  p.scope = static_cast<int>(Scope::kListedRegions);
  p.region_codes = {kWudu, kDingxi};
  EXPECT_THAT(PostPledge(p).matches, IsEmpty());
}

// A county has no shelf of its own (order_index.h): its search reads the
// province's and must keep to the county.
TEST_F(EngineTest, ListedCountyTakesItsOwnOffersNotItsNeighbours) {
  constexpr char kChengxian[] = "621221";  // another county of Longnan
  ASSERT_TRUE(RunCommand(engine_,
                         UpsertRegionCommand{Region{kChengxian, kChengxian}},
                         kT0)
                  .ok());
  // The neighbour's offer ranks first: cheaper and posted earlier.
  PostOffer(Offer(kChengxian, "spice.sichuan_pepper", 100, 10));  // 1
  PostOffer(Offer(kWudu, "spice.sichuan_pepper", 100, 20));       // 2
  PledgeSpec p = Pledge(kGuangzhou, "spice", 150, 30);
  p.scope = static_cast<int>(Scope::kListedRegions);
  p.region_codes = {kWudu};
  EXPECT_THAT(OfferIds(PostPledge(p).matches), ElementsAre(2));
  // The prefecture's pledge takes the neighbour's.
  PledgeSpec q = Pledge(kGuangzhou, "spice", 100, 30);
  q.scope = static_cast<int>(Scope::kListedRegions);
  q.region_codes = {kLongnan};
  EXPECT_THAT(OfferIds(PostPledge(q).matches), ElementsAre(1));
}

// Prefectures have no shelves either: a pledge listing two prefectures of
// one province reads the province's shelf once for each, and keeps to the
// two. The walk skips subtrees by prefecture bit, and Linxia shares
// Jiayuguan's (29 and 2, modulo 27): the region test must pass it over, as
// it must the province's own offer and Lanzhou's. The better offer is in
// the prefecture read second.
TEST_F(EngineTest, ListedPrefecturesOfOneProvinceKeepToThemOnItsShelf) {
  constexpr char kJiayuguan[] = "620200";
  constexpr char kLinxia[] = "622900";
  for (const char* code : {kJiayuguan, kLinxia}) {
    ASSERT_TRUE(
        RunCommand(engine_, UpsertRegionCommand{Region{code, code}}, kT0).ok());
  }
  PostOffer(Offer(kLanzhou, "spice.sichuan_pepper", 100, 5));     // 1
  PostOffer(Offer(kLinxia, "spice.sichuan_pepper", 100, 6));      // 2
  PostOffer(Offer(kGansu, "spice.sichuan_pepper", 100, 7));       // 3
  PostOffer(Offer(kDingxi, "spice.sichuan_pepper", 100, 10));     // 4
  PostOffer(Offer(kJiayuguan, "spice.sichuan_pepper", 100, 20));  // 5
  PledgeSpec p = Pledge(kGuangzhou, "spice", 500, 30);
  p.scope = static_cast<int>(Scope::kListedRegions);
  p.region_codes = {kJiayuguan, kDingxi};
  PledgeResult r = PostPledge(p);
  EXPECT_THAT(OfferIds(r.matches), ElementsAre(4, 5));
  EXPECT_EQ(r.pledge.remaining_kg, 300);
}

TEST_F(EngineTest, CancelledOfferNeverMatches) {
  PostOffer(Offer(kLankao, "vegetable.cabbage", 100, 10));
  ASSERT_TRUE(RunCommand(engine_, CancelOfferCommand{1}, kT0).ok());
  EXPECT_THAT(PostPledge(Pledge(kTianjin, "vegetable", 10, 20)).matches,
              IsEmpty());
}

// --- Fills
// --------------------------------------------------------------------

TEST_F(EngineTest, IncomingPledgePaysRestingOffersFloor) {
  PostOffer(Offer(kDingxi, "vegetable.potato", 100, 12));
  PledgeResult r = PostPledge(Pledge(kTianjin, "vegetable.potato", 10, 30));
  ASSERT_THAT(r.matches, SizeIs(1));
  EXPECT_EQ(r.matches[0].price_fen_per_kg, 12);
  EXPECT_EQ(r.matches[0].amount_fen, 120);
  EXPECT_EQ(r.pledge.spent_fen, 120);
}

TEST_F(EngineTest, IncomingOfferGetsRestingPledgesMax) {
  PostPledge(Pledge(kTianjin, "vegetable.potato", 100, 30));
  OfferResult r = PostOffer(Offer(kDingxi, "vegetable.potato", 10, 12));
  ASSERT_THAT(r.matches, SizeIs(1));
  EXPECT_EQ(r.matches[0].price_fen_per_kg, 30);
  EXPECT_EQ(r.matches[0].amount_fen, 300);
  EXPECT_EQ(r.offer.status, OrderStatus::kFilled);
  EXPECT_EQ(GetPledge(1).spent_fen, 300);
  EXPECT_EQ(GetPledge(1).remaining_kg, 90);
}

TEST_F(EngineTest, FillRespectsPledgeMinLotUnlessItIsAllThatIsLeft) {
  PostOffer(Offer(kDingxi, "vegetable.potato", 30, 10));  // 1: lot too small
  PledgeSpec p = Pledge(kTianjin, "vegetable.potato", 100, 20);
  p.min_lot_kg = 50;
  EXPECT_THAT(PostPledge(p).matches, IsEmpty());
  // 80 kg is a full lot; the pledge has 20 kg left after it.
  OfferResult big = PostOffer(Offer(kLanzhou, "vegetable.potato", 80, 10));
  ASSERT_THAT(big.matches, SizeIs(1));
  EXPECT_EQ(big.matches[0].quantity_kg, 80);
  // 10 kg is neither a lot nor all the pledge has left.
  EXPECT_THAT(PostOffer(Offer(kLanzhou, "vegetable.potato", 10, 10)).matches,
              IsEmpty());
  // 20 kg of 30 is all the pledge has left.
  OfferResult last = PostOffer(Offer(kLanzhou, "vegetable.potato", 30, 10));
  ASSERT_THAT(last.matches, SizeIs(1));
  EXPECT_EQ(last.matches[0].quantity_kg, 20);
  EXPECT_EQ(GetPledge(1).status, OrderStatus::kFilled);
  EXPECT_EQ(GetOffer(1).remaining_kg, 30);
}

TEST_F(EngineTest, FillRespectsOfferMinLotUnlessItIsAllThatIsLeft) {
  OfferSpec o = Offer(kDingxi, "vegetable.potato", 100, 10);
  o.min_lot_kg = 40;
  PostOffer(o);
  EXPECT_THAT(PostPledge(Pledge(kTianjin, "vegetable.potato", 39, 20)).matches,
              IsEmpty());
  PledgeResult r = PostPledge(Pledge(kTianjin, "vegetable.potato", 70, 20));
  ASSERT_THAT(r.matches, SizeIs(1));
  EXPECT_EQ(r.matches[0].quantity_kg, 70);
  // 30 kg left: below the lot, but all the offer has.
  PledgeResult rest = PostPledge(Pledge(kTianjin, "vegetable.potato", 35, 20));
  ASSERT_THAT(rest.matches, SizeIs(1));
  EXPECT_EQ(rest.matches[0].quantity_kg, 30);
  EXPECT_EQ(GetOffer(1).status, OrderStatus::kFilled);
  EXPECT_EQ(GetOffer(1).remaining_kg, 0);
}

TEST_F(EngineTest, SkippedCandidateIsReconsideredAfterEachFill) {
  PostOffer(Offer(kDingxi, "vegetable.potato", 40, 10));   // 1: best, small
  PostOffer(Offer(kLanzhou, "vegetable.potato", 60, 12));  // 2
  PledgeSpec p = Pledge(kTianjin, "vegetable.potato", 100, 20);
  p.min_lot_kg = 60;
  // Offer 1 is skipped (40 < 60 and not all that is left); after 60 kg from
  // offer 2 the pledge has exactly 40 kg left, so offer 1 now fits.
  PledgeResult r = PostPledge(p);
  EXPECT_THAT(OfferIds(r.matches), ElementsAre(2, 1));
  EXPECT_EQ(r.pledge.status, OrderStatus::kFilled);
}

TEST_F(EngineTest, IncompatibleBestCandidateIsSkippedNotAStop) {
  OfferSpec lot = Offer(kDingxi, "vegetable.potato", 100, 5);
  lot.min_lot_kg = 80;
  PostOffer(lot);  // 1: lot too big
  OfferSpec uncert = Offer(kDingxi, "vegetable.potato", 100, 6);
  uncert.certified = false;
  PostOffer(uncert);                                       // 2: uncertified
  PostOffer(Offer(kDingxi, "vegetable.potato", 100, 50));  // 3: above max
  PostOffer(Offer(kDingxi, "vegetable.potato", 100, 9));   // 4: fits
  PledgeSpec p = Pledge(kTianjin, "vegetable.potato", 20, 30);
  p.require_certified = true;
  EXPECT_THAT(OfferIds(PostPledge(p).matches), ElementsAre(4));
}

TEST_F(EngineTest, MatchedOrderKeepsMatchingUntilFilled) {
  PostOffer(Offer(kDingxi, "vegetable.potato", 30, 10));
  PostOffer(Offer(kDingxi, "vegetable.potato", 30, 11));
  PostOffer(Offer(kDingxi, "vegetable.potato", 30, 12));
  PledgeResult r = PostPledge(Pledge(kTianjin, "vegetable.potato", 70, 20));
  EXPECT_THAT(OfferIds(r.matches), ElementsAre(1, 2, 3));
  EXPECT_EQ(r.matches[2].quantity_kg, 10);
  EXPECT_EQ(r.pledge.status, OrderStatus::kFilled);
  EXPECT_EQ(r.pledge.spent_fen, 30 * 10 + 30 * 11 + 10 * 12);
  EXPECT_EQ(GetOffer(3).remaining_kg, 20);
  EXPECT_EQ(GetOffer(3).status, OrderStatus::kOpen);
}

TEST_F(EngineTest, UnfilledRestOfIncomingOrderRestsOnBook) {
  PostOffer(Offer(kDingxi, "vegetable.potato", 30, 10));
  PledgeResult r = PostPledge(Pledge(kTianjin, "vegetable.potato", 70, 20));
  EXPECT_EQ(r.pledge.remaining_kg, 40);
  EXPECT_EQ(r.pledge.status, OrderStatus::kOpen);
  OfferResult o = PostOffer(Offer(kDingxi, "vegetable.potato", 50, 10));
  ASSERT_THAT(o.matches, SizeIs(1));
  EXPECT_EQ(o.matches[0].pledge_id, 1u);
  EXPECT_EQ(o.matches[0].quantity_kg, 40);
  EXPECT_EQ(o.offer.remaining_kg, 10);
}

TEST_F(EngineTest, MatchCarriesBothSidesAndCommandTime) {
  Pair(kQingdao, kLongnan);
  OfferSpec o = Offer(kWudu, "spice.sichuan_pepper", 100, 80);
  o.supplier_id = "wudu-coop";
  PostOffer(o);
  PledgeSpec p = Pledge(kQingdao, "spice", 25, 90);
  p.buyer_id = "qingdao-office";
  PledgeResult r = PostPledge(p, kT0 + 77);
  ASSERT_THAT(r.matches, SizeIs(1));
  const MatchView& m = r.matches[0];
  EXPECT_EQ(m.match_id, 1u);
  EXPECT_EQ(m.offer_id, 1u);
  EXPECT_EQ(m.pledge_id, 1u);
  EXPECT_EQ(m.supplier_id, "wudu-coop");
  EXPECT_EQ(m.buyer_id, "qingdao-office");
  EXPECT_EQ(m.product_code, "spice.sichuan_pepper");
  EXPECT_EQ(m.region_code, kWudu);
  EXPECT_EQ(m.buyer_city_code, kQingdao);
  EXPECT_EQ(m.quantity_kg, 25);
  EXPECT_EQ(m.price_fen_per_kg, 80);
  EXPECT_EQ(m.amount_fen, 2000);
  EXPECT_TRUE(m.partner);
  EXPECT_EQ(m.matched_at, kT0 + 77);
  EXPECT_EQ(r.pledge.posted_at, kT0 + 77);
}

TEST_F(EngineTest, NonPartnerMatchIsMarkedNotPartner) {
  Pair(kQingdao, kLongnan);
  PostOffer(Offer(kDingxi, "vegetable.potato", 100, 10));
  PledgeResult r = PostPledge(Pledge(kQingdao, "vegetable", 10, 20));
  ASSERT_THAT(r.matches, SizeIs(1));
  EXPECT_FALSE(r.matches[0].partner);
}

TEST_F(EngineTest, BudgetLimitsQuantityAtTradePrice) {
  PostOffer(Offer(kDingxi, "vegetable.potato", 100, 30));
  PledgeSpec p = Pledge(kTianjin, "vegetable.potato", 100, 40);
  p.budget_fen = 1000;  // 33 kg at the 30 fen floor, not 25 kg at 40
  PledgeResult r = PostPledge(p);
  ASSERT_THAT(r.matches, SizeIs(1));
  EXPECT_EQ(r.matches[0].quantity_kg, 33);
  EXPECT_EQ(r.pledge.spent_fen, 990);
  EXPECT_EQ(r.pledge.remaining_kg, 67);
  EXPECT_EQ(r.pledge.status, OrderStatus::kOpen);
  // An incoming offer trades at the pledge's 40 fen: 10 fen buys nothing.
  OfferResult cheap = PostOffer(Offer(kDingxi, "vegetable.potato", 5, 10));
  EXPECT_THAT(cheap.matches, IsEmpty());
  EXPECT_EQ(GetPledge(1).spent_fen, 990);
  EXPECT_EQ(GetPledge(1).status, OrderStatus::kOpen);
}

// A budget must buy one min lot (1 kg without one) at the max price: a
// smaller one could never trade with an offer at that price.
TEST_F(EngineTest, PledgeBudgetThatCannotBuyOneLotIsRefused) {
  PledgeSpec p = Pledge(kTianjin, "fruit", 1000, 680);
  p.min_lot_kg = 100;
  p.budget_fen = 50'000;
  absl::StatusOr<PledgeResult> r =
      RunCommand(engine_, PostPledgeCommand{p}, kT0);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "pledge.budget_fen: 50,000 cannot buy one min lot (100 kg at max "
            "price 680 fen/kg = 68,000 fen)");
  EXPECT_EQ(
      engine_.Validate(MakeCommand(PostPledgeCommand{p}, kT0), kT0).code(),
      absl::StatusCode::kInvalidArgument);

  PledgeSpec one_kg = Pledge(kTianjin, "fruit", 1000, 680);
  one_kg.budget_fen = 679;
  r = RunCommand(engine_, PostPledgeCommand{one_kg}, kT0);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "pledge.budget_fen: 679 cannot buy one kg at max price 680 fen/kg");

  // Each period of a standing pledge has the recurrence's budget.
  PledgeSpec standing = Pledge(kTianjin, "fruit", 1000, 680);
  standing.min_lot_kg = 10;
  standing.budget_fen = 6'800;
  standing.recurrence.period = 1;
  standing.recurrence.quantity_kg = 1000;
  standing.recurrence.budget_fen = 6'799;
  standing.recurrence.until = standing.expires_at;
  r = RunCommand(engine_, PostPledgeCommand{standing}, kT0);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(),
              HasSubstr("pledge.recurrence.budget_fen: 6,799 cannot buy one "
                        "min lot (10 kg at max price 680 fen/kg = 6,800 fen)"));
  EXPECT_EQ(engine_.pledge_count(), 0u);

  // Exactly one lot, or no budget at all, is taken.
  p.budget_fen = 68'000;
  PostPledge(p);
  one_kg.budget_fen = 0;
  PostPledge(one_kg);
  standing.recurrence.budget_fen = 6'800;
  PostPledge(standing);
  EXPECT_EQ(engine_.pledge_count(), 3u);

  // A journal written before the rule may hold such a pledge: replay makes
  // it.
  PledgeSpec old = Pledge(kTianjin, "fruit", 1000, 680);
  old.min_lot_kg = 100;
  old.budget_fen = 50'000;
  ASSERT_TRUE(engine_.Replay(MakeCommand(PostPledgeCommand{old}, kT0)).ok());
  EXPECT_EQ(engine_.pledge_count(), 4u);
  EXPECT_EQ(GetPledge(4).budget_fen, 50'000);
  EXPECT_EQ(RunCommand(engine_, PostPledgeCommand{old}, kT0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// With a minimum lead (the server's --min_offer_lead), an offer must expire
// at least that long after now: goods that spoil sooner could not be
// matched and shipped. The engine alone has none (these tests post offers
// expiring in a second).
TEST_F(EngineTest, OfferExpiringWithinTheMinimumLeadIsRefused) {
  EngineOptions options;
  options.min_offer_lead = kMinDeadlineWithin;  // 1 hour
  Engine engine(options);
  ASSERT_TRUE(
      RunCommand(engine, UpsertRegionCommand{Region{kWudu, kWudu}}, kT0).ok());
  constexpr Micros kMinute = Micros{60} * 1000000;
  OfferSpec soon = Offer(kWudu, "vegetable.radish", 100, 80);
  soon.expires_at = kT0 + 59 * kMinute + 59'000'000;
  absl::StatusOr<OfferResult> r =
      RunCommand(engine, PostOfferCommand{soon}, kT0);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            absl::StrCat("offer.expires_at: ", soon.expires_at,
                         " us since epoch is only 59m59s after now (", kT0,
                         "); an offer must stay open at least 1h, time to be "
                         "matched and shipped before it spoils"));
  EXPECT_EQ(
      engine.Validate(MakeCommand(PostOfferCommand{soon}, kT0), kT0).code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine.offer_count(), 0u);

  // Exactly the lead is taken.
  OfferSpec hour = soon;
  hour.expires_at = kT0 + 60 * kMinute;
  ASSERT_TRUE(RunCommand(engine, PostOfferCommand{hour}, kT0).ok());
  // An amendment to a new expiry within the lead is refused; one that
  // leaves the expiry as it is passes, even in the offer's last hour.
  AmendOfferCommand shorter;
  shorter.offer_id = 1;
  shorter.has_expires_at = true;
  shorter.expires_at = kT0 + 30 * kMinute;
  EXPECT_EQ(RunCommand(engine, shorter, kT0).status().message(),
            absl::StrCat("expires_at: ", shorter.expires_at,
                         " us since epoch is only 30m after now (", kT0,
                         "); an offer must stay open at least 1h, time to be "
                         "matched and shipped before it spoils"));
  AmendOfferCommand cheaper;
  cheaper.offer_id = 1;
  cheaper.has_floor_price = true;
  cheaper.floor_price_fen_per_kg = 60;
  cheaper.has_expires_at = true;
  cheaper.expires_at = hour.expires_at;  // resent unchanged
  EXPECT_TRUE(RunCommand(engine, cheaper, kT0 + 50 * kMinute).ok());
  EXPECT_EQ(engine.GetOffer(1, kT0)->floor_price_fen_per_kg, 60);

  // A journal written before the rule (or under a smaller lead) replays.
  ASSERT_TRUE(engine.Replay(MakeCommand(PostOfferCommand{soon}, kT0)).ok());
  EXPECT_EQ(engine.offer_count(), 2u);
  EXPECT_EQ(engine.GetOffer(2, kT0)->expires_at, soon.expires_at);
}

TEST_F(EngineTest, PledgeIsFilledWhenBudgetIsExactlySpent) {
  PostOffer(Offer(kDingxi, "vegetable.potato", 100, 25));
  PledgeSpec p = Pledge(kTianjin, "vegetable.potato", 100, 40);
  p.budget_fen = 1000;  // exactly 40 kg at 25
  PledgeResult r = PostPledge(p);
  ASSERT_THAT(r.matches, SizeIs(1));
  EXPECT_EQ(r.matches[0].quantity_kg, 40);
  EXPECT_EQ(r.pledge.spent_fen, 1000);
  EXPECT_EQ(r.pledge.remaining_kg, 60);
  EXPECT_EQ(r.pledge.status, OrderStatus::kFilled);
  EXPECT_EQ(GetPledge(1).status, OrderStatus::kFilled);
}

TEST_F(EngineTest, FillAmountNeverOverflows) {
  // 2^40 kg at 2^30 fen is 2^70 fen: the engine must refuse what it cannot
  // account for (INVALID_ARGUMENT) rather than wrap around.
  OfferSpec o =
      Offer(kDingxi, "vegetable.potato", kMaxQuantityKg, kMaxPriceFenPerKg);
  absl::StatusOr<OfferResult> offer =
      RunCommand(engine_, PostOfferCommand{o}, kT0);
  if (!offer.ok()) {
    EXPECT_EQ(offer.status().code(), absl::StatusCode::kInvalidArgument);
    o.quantity_kg = int64_t{1} << 32;  // 2^62 fen in all: fits
    ASSERT_TRUE(RunCommand(engine_, PostOfferCommand{o}, kT0).ok());
  }
  PledgeSpec p =
      Pledge(kTianjin, "vegetable", kMaxQuantityKg, kMaxPriceFenPerKg);
  absl::StatusOr<PledgeResult> r =
      RunCommand(engine_, PostPledgeCommand{p}, kT0);
  if (!r.ok()) {
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    return;
  }
  __int128 spent = 0;
  for (const MatchView& m : r->matches) {
    EXPECT_GT(m.quantity_kg, 0);
    EXPECT_EQ(__int128{m.amount_fen},
              __int128{m.quantity_kg} * m.price_fen_per_kg);
    spent += m.amount_fen;
  }
  EXPECT_EQ(__int128{r->pledge.spent_fen}, spent);
  EXPECT_GE(r->pledge.spent_fen, 0);
}

// --- Priority
// -----------------------------------------------------------------

TEST_F(EngineTest, IncomingPledgePrefersPartnerRegionOverCheaperOffer) {
  Pair(kQingdao, kLongnan);
  PostOffer(Offer(kDingxi, "spice.sichuan_pepper", 100, 10));  // 1: cheaper
  PostOffer(Offer(kWudu, "spice.sichuan_pepper", 100, 50));    // 2: partner
  PledgeResult r = PostPledge(Pledge(kQingdao, "spice", 150, 60));
  EXPECT_THAT(OfferIds(r.matches), ElementsAre(2, 1));
  EXPECT_TRUE(r.matches[0].partner);
  EXPECT_FALSE(r.matches[1].partner);
}

TEST_F(EngineTest, IncomingPledgePrefersKeyAssistedCountyOverCheaperOffer) {
  Flag(kJingning, /*key_assisted=*/true, false);
  PostOffer(Offer(kLanzhou, "fruit.apple", 100, 10));   // 1: cheaper
  PostOffer(Offer(kJingning, "fruit.apple", 100, 20));  // 2: key assisted
  EXPECT_THAT(OfferIds(PostPledge(Pledge(kTianjin, "fruit", 10, 30)).matches),
              ElementsAre(2));
}

TEST_F(EngineTest, RelocationSiteRanksLikeKeyAssistedCounty) {
  Flag(kJingning, /*key_assisted=*/true, false);
  Flag(kWudu, false, /*relocation_site=*/true);
  OfferSpec a = Offer(kJingning, "fruit.apple", 100, 20);
  a.expires_at = kT0 + 500;
  PostOffer(a);  // 1: key assisted
  OfferSpec b = Offer(kWudu, "fruit.apple", 100, 20);
  b.expires_at = kT0 + 400;
  PostOffer(b);                                       // 2: relocation, sooner
  PostOffer(Offer(kLanzhou, "fruit.apple", 100, 1));  // 3: plain, cheapest
  EXPECT_THAT(OfferIds(PostPledge(Pledge(kTianjin, "fruit", 250, 30)).matches),
              ElementsAre(2, 1, 3));
}

TEST_F(EngineTest, PartnerRegionOutranksKeyAssistedRegion) {
  Pair(kQingdao, kLongnan);
  Flag(kJingning, /*key_assisted=*/true, false);
  PostOffer(Offer(kJingning, "fruit.apple", 100, 10));  // 1: key assisted
  PostOffer(Offer(kWudu, "fruit.apple", 100, 20));      // 2: partner
  EXPECT_THAT(OfferIds(PostPledge(Pledge(kQingdao, "fruit", 10, 30)).matches),
              ElementsAre(2));
}

TEST_F(EngineTest, IncomingPledgePrefersEarlierExpiryOverCheaperOffer) {
  OfferSpec cheap = Offer(kLankao, "vegetable.cabbage", 100, 10);
  cheap.expires_at = kT0 + 5000;
  OfferSpec perishable = Offer(kLankao, "vegetable.cabbage", 100, 30);
  perishable.expires_at = kT0 + 100;
  PostOffer(cheap);       // 1
  PostOffer(perishable);  // 2
  EXPECT_THAT(
      OfferIds(PostPledge(Pledge(kTianjin, "vegetable", 10, 40)).matches),
      ElementsAre(2));
}

TEST_F(EngineTest, IncomingPledgePrefersLowerFloorAtEqualExpiry) {
  PostOffer(Offer(kLankao, "vegetable.cabbage", 100, 30));  // 1
  PostOffer(Offer(kLankao, "vegetable.cabbage", 100, 20));  // 2
  EXPECT_THAT(
      OfferIds(PostPledge(Pledge(kTianjin, "vegetable", 10, 40)).matches),
      ElementsAre(2));
}

// A pledge's search passes over a shelf (here: a grade) whose earliest
// expiry ranks after the best offer found so far, at a resolution of about
// two seconds (OfferTree::ExpiryRank). Within one rank it must still read
// the shelf, and across a rank boundary the earlier offer still wins.
TEST_F(EngineTest, EarliestExpiryWinsAcrossShelvesWithinAndAcrossARank) {
  // A rank boundary a few seconds after kT0.
  const Micros boundary = ((kT0 >> 21) + 2) << 21;
  auto offer = [&](const char* product, int grade, Micros expires_at) {
    OfferSpec o = Offer(kLankao, product, 100, 20);
    o.grade = grade;
    o.expires_at = expires_at;
    return PostOffer(o).offer.offer_id;
  };
  // Same rank: the premium shelf is read first, the second grade's offer
  // expires 5 us earlier.
  offer("vegetable.cabbage", 1, boundary + 10);  // 1
  offer("vegetable.cabbage", 2, boundary + 20);  // 2
  const uint64_t same_rank = offer("vegetable.cabbage", 3, boundary + 5);
  EXPECT_THAT(
      OfferIds(
          PostPledge(Pledge(kTianjin, "vegetable.cabbage", 10, 40)).matches),
      ElementsAre(same_rank));
  // Across the boundary: 11 us apart, one rank apart.
  offer("vegetable.tomato", 1, boundary + 10);
  const uint64_t earlier_rank = offer("vegetable.tomato", 3, boundary - 1);
  EXPECT_THAT(
      OfferIds(
          PostPledge(Pledge(kTianjin, "vegetable.tomato", 10, 40)).matches),
      ElementsAre(earlier_rank));
}

TEST_F(EngineTest, IncomingPledgePrefersEarlierPostedAtEqualTerms) {
  PostOffer(Offer(kLankao, "vegetable.cabbage", 100, 20));  // 1
  PostOffer(Offer(kLankao, "vegetable.cabbage", 100, 20));  // 2
  EXPECT_THAT(
      OfferIds(PostPledge(Pledge(kTianjin, "vegetable", 150, 40)).matches),
      ElementsAre(1, 2));
}

TEST_F(EngineTest, IncomingOfferPrefersPartnerBuyerOverHigherPrice) {
  Pair(kQingdao, kLongnan);
  PostPledge(Pledge(kGuangzhou, "spice", 100, 90));  // 1: pays more
  PostPledge(Pledge(kQingdao, "spice", 100, 60));    // 2: partner
  OfferResult r = PostOffer(Offer(kWudu, "spice.sichuan_pepper", 150, 50));
  EXPECT_THAT(PledgeIds(r.matches), ElementsAre(2, 1));
  EXPECT_EQ(r.matches[0].price_fen_per_kg, 60);
  EXPECT_EQ(r.matches[1].price_fen_per_kg, 90);
}

TEST_F(EngineTest, IncomingOfferPrefersHigherMaxPrice) {
  PostPledge(Pledge(kGuangzhou, "tea", 100, 60));  // 1
  PostPledge(Pledge(kTianjin, "tea", 100, 90));    // 2
  OfferResult r = PostOffer(Offer(kAnkang, "tea.selenium", 10, 50));
  EXPECT_THAT(PledgeIds(r.matches), ElementsAre(2));
}

TEST_F(EngineTest, IncomingOfferPrefersEarlierPledgeAtEqualPrice) {
  PostPledge(Pledge(kGuangzhou, "tea", 10, 60));  // 1
  PostPledge(Pledge(kTianjin, "tea", 10, 60));    // 2
  OfferResult r = PostOffer(Offer(kAnkang, "tea.selenium", 15, 50));
  EXPECT_THAT(PledgeIds(r.matches), ElementsAre(1, 2));
}

TEST_F(EngineTest, RegionFlagChangeRerankRestingOffers) {
  PostOffer(Offer(kLanzhou, "fruit.apple", 100, 10));   // 1: cheaper
  PostOffer(Offer(kJingning, "fruit.apple", 100, 20));  // 2
  EXPECT_THAT(OfferIds(PostPledge(Pledge(kTianjin, "fruit", 5, 30)).matches),
              ElementsAre(1));
  Flag(kJingning, /*key_assisted=*/true, false);
  EXPECT_THAT(OfferIds(PostPledge(Pledge(kTianjin, "fruit", 5, 30)).matches),
              ElementsAre(2));
  Flag(kJingning, false, false);
  EXPECT_THAT(OfferIds(PostPledge(Pledge(kTianjin, "fruit", 5, 30)).matches),
              ElementsAre(1));
}

TEST_F(EngineTest, PairingAddedLaterRerankRestingOffers) {
  PostOffer(Offer(kDingxi, "spice.sichuan_pepper", 100, 10));  // 1: cheaper
  PostOffer(Offer(kWudu, "spice.sichuan_pepper", 100, 50));    // 2
  Pair(kQingdao, kLongnan);
  EXPECT_THAT(OfferIds(PostPledge(Pledge(kQingdao, "spice", 10, 60)).matches),
              ElementsAre(2));
}

// --- Clock
// ----------------------------------------------------------------------

TEST_F(EngineTest, ClockNeverGoesBack) {
  Tick(engine_, kT0 + 100);
  OfferSpec o = Offer(kLankao, "vegetable.cabbage", 100, 10);
  o.expires_at = kT0 + 50;  // in the future of the late command, not of now
  absl::StatusOr<OfferResult> late =
      RunCommand(engine_, PostOfferCommand{o}, kT0 + 10);
  EXPECT_EQ(late.status().code(), absl::StatusCode::kInvalidArgument);
  o.expires_at = kT0 + 200;
  OfferResult r = PostOffer(o, kT0 + 10);
  EXPECT_EQ(r.offer.posted_at, kT0 + 100);
  EXPECT_EQ(engine_.now(), kT0 + 100);
  Tick(engine_, kT0);
  EXPECT_EQ(engine_.now(), kT0 + 100);
}

TEST_F(EngineTest, TickExpiresOpenOrders) {
  OfferSpec o = Offer(kLankao, "vegetable.cabbage", 100, 10);
  o.expires_at = kT0 + 10;
  PostOffer(o);
  Tick(engine_, kT0 + 10);
  EXPECT_EQ(GetOffer(1, kT0 + 10).status, OrderStatus::kExpired);
  EXPECT_EQ(GetOffer(1, kT0 + 10).remaining_kg, 100);
  bool more = true;
  OrderFilter open;
  open.status = static_cast<int>(OrderStatus::kOpen);
  EXPECT_THAT(engine_.ListOffers(open, 0, 10, kT0 + 10, &more), IsEmpty());
}

TEST_F(EngineTest, ReadsReportExpiredBeforeClockMoves) {
  PledgeSpec p = Pledge(kTianjin, "vegetable", 100, 20);
  p.expires_at = kT0 + 10;
  PostPledge(p);
  EXPECT_EQ(GetPledge(1, kT0 + 9).status, OrderStatus::kOpen);
  EXPECT_EQ(GetPledge(1, kT0 + 10).status, OrderStatus::kExpired);
  EXPECT_EQ(engine_.now(), kT0);
}

// --- Bad input
// ------------------------------------------------------------------

TEST_F(EngineTest, RejectsMalformedRegionCodeNamingField) {
  for (const char* bad : {"62120", "6212000", "62a200", "", "000100", "620012",
                          "62 200", "-62120"}) {
    OfferSpec o = Offer(bad, "fruit.apple", 10, 10);
    absl::StatusOr<OfferResult> r =
        RunCommand(engine_, PostOfferCommand{o}, kT0);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr("region_code")) << bad;

    PledgeSpec p = Pledge(bad, "fruit", 10, 10);
    absl::StatusOr<PledgeResult> q =
        RunCommand(engine_, PostPledgeCommand{p}, kT0);
    EXPECT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(q.status().message(), HasSubstr("buyer_city_code")) << bad;
  }
  EXPECT_EQ(engine_.offer_count(), 0u);
  EXPECT_EQ(engine_.pledge_count(), 0u);
}

TEST_F(EngineTest, RejectsMalformedProductCodeNamingField) {
  for (const std::string& bad :
       {std::string(""), std::string("Fruit"), std::string("fruit."),
        std::string(".fruit"), std::string("fruit..apple"),
        std::string("1fruit"), std::string("fruit-apple"),
        std::string("fruit._apple"), std::string("a.b.c.d.e.f.g"),
        std::string(129, 'a'), std::string("fruit apple")}) {
    absl::StatusOr<OfferResult> r = RunCommand(
        engine_, PostOfferCommand{Offer(kJingning, bad, 10, 10)}, kT0);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr("product_code")) << bad;
    absl::StatusOr<PledgeResult> q = RunCommand(
        engine_, PostPledgeCommand{Pledge(kTianjin, bad, 10, 10)}, kT0);
    EXPECT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(q.status().message(), HasSubstr("product_code")) << bad;
  }
}

TEST_F(EngineTest, AcceptsValuesAtTheLimits) {
  OfferSpec o = Offer(kJingning, "a.b.c.d.e.f9_", kMaxQuantityKg, 1);
  o.supplier_id = std::string(64, 's');
  o.min_lot_kg = kMaxQuantityKg;
  o.grade = 1;
  EXPECT_TRUE(RunCommand(engine_, PostOfferCommand{o}, kT0).ok());
  OfferSpec price =
      Offer(kJingning, std::string(128, 'a'), 1, kMaxPriceFenPerKg);
  EXPECT_TRUE(
      RunCommand(engine_, PostOfferCommand{price}, kT0, std::string(128, 'r'))
          .ok());
  PledgeSpec p = Pledge(kTianjin, "zzz", 10, 10);
  p.min_grade = 3;
  p.buyer_kind = kMaxBuyerKind;
  p.min_lot_kg = 10;
  p.scope = static_cast<int>(Scope::kListedRegions);
  p.region_codes.assign(kMaxListedRegions, kGansu);
  EXPECT_TRUE(RunCommand(engine_, PostPledgeCommand{p}, kT0).ok());
}

struct OfferDefect {
  const char* field;
  void (*apply)(OfferSpec*);
};

TEST_F(EngineTest, RejectsBadOfferFieldsNamingField) {
  const OfferDefect defects[] = {
      {"supplier_id", [](OfferSpec* o) { o->supplier_id = ""; }},
      {"supplier_id", [](OfferSpec* o) { o->supplier_id.assign(65, 's'); }},
      {"grade", [](OfferSpec* o) { o->grade = 0; }},
      {"grade", [](OfferSpec* o) { o->grade = 4; }},
      {"quantity_kg", [](OfferSpec* o) { o->quantity_kg = 0; }},
      {"quantity_kg", [](OfferSpec* o) { o->quantity_kg = -10; }},
      {"quantity_kg",
       [](OfferSpec* o) { o->quantity_kg = kMaxQuantityKg + 1; }},
      {"floor_price_fen_per_kg",
       [](OfferSpec* o) { o->floor_price_fen_per_kg = 0; }},
      {"floor_price_fen_per_kg",
       [](OfferSpec* o) { o->floor_price_fen_per_kg = -1; }},
      {"floor_price_fen_per_kg",
       [](OfferSpec* o) { o->floor_price_fen_per_kg = kMaxPriceFenPerKg + 1; }},
      {"min_lot_kg", [](OfferSpec* o) { o->min_lot_kg = -1; }},
      {"min_lot_kg", [](OfferSpec* o) { o->min_lot_kg = o->quantity_kg + 1; }},
      {"expires_at", [](OfferSpec* o) { o->expires_at = kT0; }},
      {"expires_at", [](OfferSpec* o) { o->expires_at = kT0 - 1; }},
      {"households", [](OfferSpec* o) { o->households = -1; }},
  };
  for (const OfferDefect& d : defects) {
    OfferSpec o = Offer(kJingning, "fruit.apple", 100, 10);
    d.apply(&o);
    absl::StatusOr<OfferResult> r =
        RunCommand(engine_, PostOfferCommand{o}, kT0);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << d.field;
    EXPECT_THAT(r.status().message(), HasSubstr(d.field));
  }
  EXPECT_EQ(engine_.offer_count(), 0u);
}

struct PledgeDefect {
  const char* field;
  void (*apply)(PledgeSpec*);
};

TEST_F(EngineTest, RejectsBadPledgeFieldsNamingField) {
  const PledgeDefect defects[] = {
      {"buyer_id", [](PledgeSpec* p) { p->buyer_id = ""; }},
      {"buyer_id", [](PledgeSpec* p) { p->buyer_id.assign(65, 'b'); }},
      {"buyer_kind", [](PledgeSpec* p) { p->buyer_kind = 0; }},
      {"buyer_kind", [](PledgeSpec* p) { p->buyer_kind = 12; }},
      {"min_grade", [](PledgeSpec* p) { p->min_grade = -1; }},
      {"min_grade", [](PledgeSpec* p) { p->min_grade = 4; }},
      {"quantity_kg", [](PledgeSpec* p) { p->quantity_kg = 0; }},
      {"quantity_kg",
       [](PledgeSpec* p) { p->quantity_kg = kMaxQuantityKg + 1; }},
      {"max_price_fen_per_kg",
       [](PledgeSpec* p) { p->max_price_fen_per_kg = 0; }},
      {"max_price_fen_per_kg",
       [](PledgeSpec* p) { p->max_price_fen_per_kg = kMaxPriceFenPerKg + 1; }},
      {"budget_fen", [](PledgeSpec* p) { p->budget_fen = -1; }},
      {"min_lot_kg", [](PledgeSpec* p) { p->min_lot_kg = -1; }},
      {"min_lot_kg", [](PledgeSpec* p) { p->min_lot_kg = 101; }},
      {"expires_at", [](PledgeSpec* p) { p->expires_at = kT0; }},
      {"scope", [](PledgeSpec* p) { p->scope = 3; }},
      {"scope", [](PledgeSpec* p) { p->scope = -1; }},
      {"region_codes",
       [](PledgeSpec* p) {
         p->scope = static_cast<int>(Scope::kListedRegions);
         p->region_codes.clear();
       }},
      {"region_codes",
       [](PledgeSpec* p) {
         p->scope = static_cast<int>(Scope::kListedRegions);
         p->region_codes.assign(kMaxListedRegions + 1, kGansu);
       }},
      {"region_codes",
       [](PledgeSpec* p) {
         p->scope = static_cast<int>(Scope::kAny);
         p->region_codes = {kGansu};
       }},
      {"region_codes",
       [](PledgeSpec* p) {
         p->scope = static_cast<int>(Scope::kListedRegions);
         p->region_codes = {kGansu, "62a000"};
       }},
  };
  for (const PledgeDefect& d : defects) {
    PledgeSpec p = Pledge(kTianjin, "fruit", 100, 10);
    d.apply(&p);
    absl::StatusOr<PledgeResult> r =
        RunCommand(engine_, PostPledgeCommand{p}, kT0);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << d.field;
    EXPECT_THAT(r.status().message(), HasSubstr(d.field));
  }
  EXPECT_EQ(engine_.pledge_count(), 0u);
}

TEST_F(EngineTest, UnknownRegionIsNotFound) {
  constexpr char kGuizhou[] = "520000";  // well formed, never upserted
  EXPECT_EQ(RunCommand(engine_,
                       PostOfferCommand{Offer(kGuizhou, "fruit", 10, 10)}, kT0)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(
      RunCommand(engine_, PostPledgeCommand{Pledge(kGuizhou, "fruit", 10, 10)},
                 kT0)
          .status()
          .code(),
      absl::StatusCode::kNotFound);
  PledgeSpec p = Pledge(kTianjin, "fruit", 10, 10);
  p.scope = static_cast<int>(Scope::kListedRegions);
  p.region_codes = {kGansu, kGuizhou};
  absl::StatusOr<PledgeResult> r =
      RunCommand(engine_, PostPledgeCommand{p}, kT0);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr(kGuizhou));
  EXPECT_EQ(
      RunCommand(engine_, UpsertPairingCommand{Pairing{kQingdao, kGuizhou, ""}},
                 kT0)
          .status()
          .code(),
      absl::StatusCode::kNotFound);
}

TEST_F(EngineTest, RejectedCommandLeavesStateUntouched) {
  PostOffer(Offer(kDingxi, "vegetable.potato", 100, 10));  // offer 1
  PledgeSpec bad = Pledge(kTianjin, "vegetable", 50, 20);
  bad.min_lot_kg = 51;  // the one defect; otherwise it would match offer 1
  EXPECT_FALSE(RunCommand(engine_, PostPledgeCommand{bad}, kT0).ok());
  EXPECT_EQ(engine_.pledge_count(), 0u);
  EXPECT_EQ(engine_.last_match_id(), 0u);
  EXPECT_EQ(GetOffer(1).remaining_kg, 100);
  // Rejected commands consume no id.
  PledgeResult good = PostPledge(Pledge(kTianjin, "vegetable", 50, 20));
  EXPECT_EQ(good.pledge.pledge_id, 1u);
  ASSERT_THAT(good.matches, SizeIs(1));
  EXPECT_EQ(good.matches[0].match_id, 1u);
}

TEST_F(EngineTest, RejectsOversizeRequestId) {
  std::string rid(kMaxRequestIdBytes + 1, 'r');
  absl::StatusOr<OfferResult> r = RunCommand(
      engine_, PostOfferCommand{Offer(kDingxi, "vegetable", 1, 1)}, kT0, rid);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("request_id"));
  EXPECT_EQ(engine_.offer_count(), 0u);
}

TEST_F(EngineTest, RegionUpsertValidatesCodeAndName) {
  absl::StatusOr<RegionResult> bad = RunCommand(
      engine_, UpsertRegionCommand{Region{"62000", "Gansu", false, false}},
      kT0);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("code"));
  absl::StatusOr<RegionResult> name = RunCommand(
      engine_,
      UpsertRegionCommand{Region{"520000", std::string(65, 'n'), false, false}},
      kT0);
  EXPECT_EQ(name.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(name.status().message(), HasSubstr("name"));
  bool more = true;
  EXPECT_THAT(engine_.ListRegions("52", "", 10, &more), IsEmpty());
}

TEST_F(EngineTest, UpsertRegionReplacesNameAndFlags) {
  ASSERT_TRUE(
      RunCommand(engine_,
                 UpsertRegionCommand{Region{kJingning, "静宁县", true, false}},
                 kT0)
          .ok());
  bool more = true;
  std::vector<Region> rs = engine_.ListRegions("620826", "", 10, &more);
  ASSERT_THAT(rs, SizeIs(1));
  EXPECT_EQ(rs[0].name, "静宁县");
  EXPECT_TRUE(rs[0].key_assisted);
  EXPECT_FALSE(rs[0].relocation_site);
  EXPECT_FALSE(more);
}

TEST_F(EngineTest, RegionNamesCountCharactersAndAreFoundByName) {
  // 22 characters, 66 bytes: the longest county names fit.
  const std::string longest = "临夏回族自治州积石山保安族东乡族撒拉族自治县";
  ASSERT_TRUE(
      RunCommand(engine_,
                 UpsertRegionCommand{Region{"622927", longest, false, false}},
                 kT0)
          .ok());
  std::string too_long;
  for (int i = 0; i < 65; ++i) too_long += "县";
  absl::StatusOr<RegionResult> bad = RunCommand(
      engine_, UpsertRegionCommand{Region{"622927", too_long, false, false}},
      kT0);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(),
              HasSubstr("65 characters; at most 64 allowed"));
  ASSERT_TRUE(RunCommand(engine_,
                         UpsertRegionCommand{
                             Region{kDingxi, "定西市 Dingxi", false, false}},
                         kT0)
                  .ok());
  bool more = true;
  int64_t total = 0;
  std::vector<Region> found =
      engine_.ListRegions("", "", 10, &more, "DINGXI", &total);
  ASSERT_THAT(found, SizeIs(1));
  EXPECT_EQ(found[0].code, kDingxi);
  EXPECT_EQ(total, 1);
  found = engine_.ListRegions("", "", 10, &more, "积石山", &total);
  ASSERT_THAT(found, SizeIs(1));
  EXPECT_EQ(found[0].code, "622927");
  // The total counts every page.
  engine_.ListRegions("62", "", 1, &more, "", &total);
  EXPECT_TRUE(more);
  EXPECT_EQ(total, 7);  // the six of SetUp and 622927
}

TEST_F(EngineTest, PairingSidesMustBeApartButOldJournalsReplay) {
  for (const auto& [east, west, words] :
       {std::tuple{kLongnan, kLongnan, "is the east side too"},
        std::tuple{kGansu, kLongnan, "lies within the east side"},
        std::tuple{kWudu, kLongnan, "holds the east side"}}) {
    absl::StatusOr<PairingResult> r =
        RunCommand(engine_, UpsertPairingCommand{Pairing{east, west, ""}}, kT0);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << west;
    EXPECT_THAT(r.status().message(), HasSubstr("pairing.west_code")) << west;
    EXPECT_THAT(r.status().message(), HasSubstr(words)) << west;
    EXPECT_EQ(
        engine_
            .Validate(
                MakeCommand(UpsertPairingCommand{Pairing{east, west, ""}}, kT0),
                kT0)
            .code(),
        absl::StatusCode::kInvalidArgument);
  }
  // A journal written before the rule may hold such a pairing: replay makes
  // it, and the rule still holds for commands after the replay.
  ASSERT_TRUE(engine_
                  .Replay(MakeCommand(
                      UpsertPairingCommand{Pairing{kGansu, kLongnan, ""}}, kT0))
                  .ok());
  bool more = true;
  EXPECT_THAT(engine_.ListPairings(kLongnan, "", "", 10, &more), SizeIs(1));
  EXPECT_EQ(
      engine_
          .Validate(MakeCommand(
                        UpsertPairingCommand{Pairing{kGansu, kWudu, ""}}, kT0),
                    kT0)
          .code(),
      absl::StatusCode::kInvalidArgument);
}

TEST_F(EngineTest, PairingValidatesCodesAndNote) {
  absl::StatusOr<PairingResult> bad = RunCommand(
      engine_, UpsertPairingCommand{Pairing{"3702", kLongnan, ""}}, kT0);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("east_code"));
  absl::StatusOr<PairingResult> note = RunCommand(
      engine_,
      UpsertPairingCommand{Pairing{kQingdao, kLongnan, std::string(257, 'x')}},
      kT0);
  EXPECT_EQ(note.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(note.status().message(), HasSubstr("note"));
  EXPECT_EQ(RunCommand(engine_, DeletePairingCommand{kQingdao, kLongnan}, kT0)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

TEST_F(EngineTest, ListPairingsByCodePrefix) {
  Pair(kQingdao, kLongnan);
  Pair(kShandong, kGansu);
  EXPECT_EQ(
      RunCommand(engine_,
                 UpsertPairingCommand{Pairing{kGuangdong, "450000", ""}}, kT0)
          .status()
          .code(),
      absl::StatusCode::kNotFound);  // Guangxi is not a known region
  bool more = true;
  std::vector<Pairing> all = engine_.ListPairings("", "", "", 10, &more);
  ASSERT_THAT(all, SizeIs(2));
  EXPECT_EQ(all[0].east_code, kShandong);
  EXPECT_EQ(all[1].east_code, kQingdao);
  std::vector<Pairing> longnan =
      engine_.ListPairings("6212", "", "", 10, &more);
  ASSERT_THAT(longnan, SizeIs(1));
  EXPECT_EQ(longnan[0].west_code, kLongnan);
}

// --- Cancel
// ---------------------------------------------------------------------

TEST_F(EngineTest, CancelReturnsCancelledOrderWithWhatWasLeft) {
  PostOffer(Offer(kDingxi, "vegetable.potato", 100, 10));
  PostPledge(Pledge(kTianjin, "vegetable", 30, 20));
  absl::StatusOr<OfferResult> r =
      RunCommand(engine_, CancelOfferCommand{1}, kT0 + 1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->offer.status, OrderStatus::kCancelled);
  EXPECT_EQ(r->unfilled_kg, 70);
  EXPECT_EQ(r->offer.remaining_kg, 70);
  EXPECT_THAT(r->matches, IsEmpty());
  EXPECT_EQ(GetOffer(1).status, OrderStatus::kCancelled);
  PostPledge(Pledge(kTianjin, "fruit", 30, 20));
  absl::StatusOr<PledgeResult> p =
      RunCommand(engine_, CancelPledgeCommand{2}, kT0 + 1);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->pledge.status, OrderStatus::kCancelled);
  EXPECT_EQ(p->unfilled_kg, 30);
}

TEST_F(EngineTest, CancelFilledOfferIsFailedPrecondition) {
  PostOffer(Offer(kDingxi, "vegetable.potato", 10, 10));
  PostPledge(Pledge(kTianjin, "vegetable", 30, 20));
  EXPECT_EQ(RunCommand(engine_, CancelOfferCommand{1}, kT0).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(GetOffer(1).status, OrderStatus::kFilled);
}

TEST_F(EngineTest, CancelTwiceIsFailedPrecondition) {
  PostPledge(Pledge(kTianjin, "vegetable", 30, 20));
  ASSERT_TRUE(RunCommand(engine_, CancelPledgeCommand{1}, kT0).ok());
  EXPECT_EQ(RunCommand(engine_, CancelPledgeCommand{1}, kT0).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(EngineTest, CancelExpiredPledgeIsFailedPrecondition) {
  PledgeSpec p = Pledge(kTianjin, "vegetable", 30, 20);
  p.expires_at = kT0 + 10;
  PostPledge(p);
  EXPECT_EQ(
      RunCommand(engine_, CancelPledgeCommand{1}, kT0 + 10).status().code(),
      absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(GetPledge(1, kT0 + 10).status, OrderStatus::kExpired);
}

TEST_F(EngineTest, CancelUnknownIdIsNotFound) {
  PostOffer(Offer(kDingxi, "vegetable.potato", 10, 10));
  EXPECT_EQ(RunCommand(engine_, CancelOfferCommand{2}, kT0).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(RunCommand(engine_, CancelOfferCommand{0}, kT0).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(RunCommand(engine_, CancelPledgeCommand{1}, kT0).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(engine_.GetOffer(2, kT0).status().code(),
            absl::StatusCode::kNotFound);
}

// --- Idempotency
// ----------------------------------------------------------------

TEST_F(EngineTest, RepeatedRequestIdReturnsFirstResult) {
  PostOffer(Offer(kDingxi, "vegetable.potato", 100, 10));
  PledgeSpec p = Pledge(kTianjin, "vegetable", 30, 20);
  absl::StatusOr<PledgeResult> first =
      RunCommand(engine_, PostPledgeCommand{p}, kT0, "req-1");
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->replayed);
  absl::StatusOr<PledgeResult> again =
      RunCommand(engine_, PostPledgeCommand{p}, kT0 + 5, "req-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->pledge.pledge_id, 1u);
  ASSERT_THAT(again->matches, SizeIs(1));
  EXPECT_EQ(again->matches[0].match_id, 1u);
  EXPECT_EQ(again->matches[0].quantity_kg, 30);
  // Nothing changed.
  EXPECT_EQ(engine_.pledge_count(), 1u);
  EXPECT_EQ(engine_.last_match_id(), 1u);
  EXPECT_EQ(GetOffer(1).remaining_kg, 70);
}

TEST_F(EngineTest, RepeatedCancelReturnsFirstResultNotFailedPrecondition) {
  PostOffer(Offer(kDingxi, "vegetable.potato", 100, 10));
  ASSERT_TRUE(RunCommand(engine_, CancelOfferCommand{1}, kT0, "cancel-1").ok());
  absl::StatusOr<OfferResult> again =
      RunCommand(engine_, CancelOfferCommand{1}, kT0 + 1, "cancel-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->offer.status, OrderStatus::kCancelled);
  EXPECT_EQ(again->unfilled_kg, 100);
}

TEST_F(EngineTest, RepeatAfterExpiryStillReturnsFirstResult) {
  OfferSpec o = Offer(kDingxi, "vegetable.potato", 100, 10);
  o.expires_at = kT0 + 10;
  ASSERT_TRUE(RunCommand(engine_, PostOfferCommand{o}, kT0, "post-1").ok());
  absl::StatusOr<OfferResult> again =
      RunCommand(engine_, PostOfferCommand{o}, kT0 + 20, "post-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->offer.offer_id, 1u);
  EXPECT_EQ(engine_.offer_count(), 1u);
}

TEST_F(EngineTest, ConflictingRequestIdIsAlreadyExists) {
  OfferSpec o = Offer(kDingxi, "vegetable.potato", 100, 10);
  ASSERT_TRUE(RunCommand(engine_, PostOfferCommand{o}, kT0, "req-1").ok());
  o.quantity_kg = 200;
  absl::StatusOr<OfferResult> r =
      RunCommand(engine_, PostOfferCommand{o}, kT0, "req-1");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(engine_.offer_count(), 1u);
}

TEST_F(EngineTest, RequestIdsShareOneNamespaceAcrossCommandKinds) {
  ASSERT_TRUE(
      RunCommand(engine_,
                 PostOfferCommand{Offer(kDingxi, "vegetable.potato", 100, 10)},
                 kT0, "req-1")
          .ok());
  EXPECT_EQ(RunCommand(engine_,
                       PostPledgeCommand{Pledge(kTianjin, "vegetable", 10, 20)},
                       kT0, "req-1")
                .status()
                .code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(engine_.pledge_count(), 0u);
}

TEST_F(EngineTest, RejectedRequestIsNotRemembered) {
  OfferSpec o = Offer(kDingxi, "vegetable.potato", 100, 10);
  o.grade = 9;
  EXPECT_FALSE(RunCommand(engine_, PostOfferCommand{o}, kT0, "req-1").ok());
  o.grade = 2;
  absl::StatusOr<OfferResult> r =
      RunCommand(engine_, PostOfferCommand{o}, kT0, "req-1");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->replayed);
  EXPECT_EQ(r->offer.offer_id, 1u);
}

TEST_F(EngineTest, EmptyRequestIdIsNeverReplayed) {
  OfferSpec o = Offer(kDingxi, "vegetable.potato", 100, 10);
  ASSERT_TRUE(RunCommand(engine_, PostOfferCommand{o}, kT0).ok());
  absl::StatusOr<OfferResult> r = RunCommand(engine_, PostOfferCommand{o}, kT0);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->replayed);
  EXPECT_EQ(r->offer.offer_id, 2u);
}

// --- Ids and reads
// --------------------------------------------------------------

TEST_F(EngineTest, OfferPledgeAndMatchIdsCountFromOneSeparately) {
  EXPECT_EQ(PostPledge(Pledge(kTianjin, "fruit", 10, 20)).pledge.pledge_id, 1u);
  EXPECT_EQ(PostPledge(Pledge(kTianjin, "fruit", 10, 20)).pledge.pledge_id, 2u);
  OfferResult o = PostOffer(Offer(kJingning, "fruit.apple", 15, 10));
  EXPECT_EQ(o.offer.offer_id, 1u);
  ASSERT_THAT(o.matches, SizeIs(2));
  EXPECT_EQ(o.matches[0].match_id, 1u);
  EXPECT_EQ(o.matches[1].match_id, 2u);
  EXPECT_EQ(engine_.offer_count(), 1u);
  EXPECT_EQ(engine_.pledge_count(), 2u);
  EXPECT_EQ(engine_.last_match_id(), 2u);
}

TEST_F(EngineTest, ListOffersPagesByIdAndFiltersByStatus) {
  for (int i = 0; i < 5; ++i) {
    PostOffer(Offer(kDingxi, "vegetable.potato", 10, 10));  // ids 1..5
  }
  PostPledge(Pledge(kTianjin, "vegetable", 10, 20));  // fills offer 1
  ASSERT_TRUE(RunCommand(engine_, CancelOfferCommand{3}, kT0).ok());
  OrderFilter open;
  open.status = static_cast<int>(OrderStatus::kOpen);
  bool more = false;
  std::vector<OfferView> page = engine_.ListOffers(open, 0, 2, kT0, &more);
  ASSERT_THAT(page, SizeIs(2));
  EXPECT_EQ(page[0].offer_id, 2u);
  EXPECT_EQ(page[1].offer_id, 4u);
  EXPECT_TRUE(more);
  page = engine_.ListOffers(open, 4, 2, kT0, &more);
  ASSERT_THAT(page, SizeIs(1));
  EXPECT_EQ(page[0].offer_id, 5u);
  EXPECT_FALSE(more);
  // An unset filter matches every status.
  EXPECT_THAT(engine_.ListOffers(OrderFilter{}, 0, 10, kT0, &more), SizeIs(5));
  OrderFilter cancelled;
  cancelled.status = static_cast<int>(OrderStatus::kCancelled);
  page = engine_.ListOffers(cancelled, 0, 10, kT0, &more);
  ASSERT_THAT(page, SizeIs(1));
  EXPECT_EQ(page[0].offer_id, 3u);
}

TEST_F(EngineTest, ListOffersFiltersByOwnerProductAndRegionPrefix) {
  OfferSpec a = Offer(kJingning, "fruit.apple.fuji", 10, 10);
  a.supplier_id = "jingning-coop";
  PostOffer(a);                                            // 1
  PostOffer(Offer(kWudu, "fruit.apples", 10, 10));         // 2
  PostOffer(Offer(kLankao, "vegetable.cabbage", 10, 10));  // 3
  bool more = true;
  auto ids = [&](const OrderFilter& f) {
    std::vector<uint64_t> out;
    for (const OfferView& v : engine_.ListOffers(f, 0, 10, kT0, &more)) {
      out.push_back(v.offer_id);
    }
    return out;
  };
  OrderFilter owner;
  owner.owner_id = "jingning-coop";
  EXPECT_THAT(ids(owner), ElementsAre(1));
  OrderFilter product;
  product.product_code_prefix = "fruit.apple";
  EXPECT_THAT(ids(product), ElementsAre(1));
  OrderFilter region;
  region.region_code_prefix = "62";
  EXPECT_THAT(ids(region), ElementsAre(1, 2));
}

TEST_F(EngineTest, ListPledgesFiltersByBuyerAndStatus) {
  PledgeSpec a = Pledge(kQingdao, "fruit", 10, 10);
  a.buyer_id = "qingdao-office";
  PostPledge(a);
  PostPledge(Pledge(kTianjin, "fruit", 10, 10));
  ASSERT_TRUE(RunCommand(engine_, CancelPledgeCommand{2}, kT0).ok());
  bool more = true;
  OrderFilter f;
  f.owner_id = "qingdao-office";
  std::vector<PledgeView> vs = engine_.ListPledges(f, 0, 10, kT0, &more);
  ASSERT_THAT(vs, SizeIs(1));
  EXPECT_EQ(vs[0].pledge_id, 1u);
  OrderFilter city;
  city.region_code_prefix = "12";
  city.status = static_cast<int>(OrderStatus::kCancelled);
  vs = engine_.ListPledges(city, 0, 10, kT0, &more);
  ASSERT_THAT(vs, SizeIs(1));
  EXPECT_EQ(vs[0].pledge_id, 2u);
}

TEST_F(EngineTest, ListMatchesResumesAfterMatchIdAndFilters) {
  PostPledge(Pledge(kTianjin, "fruit", 100, 20));
  PostPledge(Pledge(kGuangzhou, "fruit", 100, 20));
  PostOffer(Offer(kJingning, "fruit.apple", 150, 10));  // matches 1, 2
  PostOffer(Offer(kWudu, "fruit.apple", 30, 10));       // match 3
  bool more = false;
  std::vector<MatchView> ms = engine_.ListMatches({}, 1, 10, &more);
  ASSERT_THAT(ms, SizeIs(2));
  EXPECT_EQ(ms[0].match_id, 2u);
  EXPECT_EQ(ms[1].match_id, 3u);
  EXPECT_FALSE(more);
  EXPECT_THAT(engine_.ListMatches({}, 0, 2, &more), SizeIs(2));
  EXPECT_TRUE(more);
  MatchFilter f;
  f.pledge_id = 2;
  ms = engine_.ListMatches(f, 0, 10, &more);
  ASSERT_THAT(ms, SizeIs(2));
  EXPECT_EQ(ms[0].quantity_kg, 50);
  EXPECT_EQ(ms[1].quantity_kg, 30);
  MatchFilter region;
  region.region_code_prefix = "6212";
  ms = engine_.ListMatches(region, 0, 10, &more);
  ASSERT_THAT(ms, SizeIs(1));
  EXPECT_EQ(ms[0].match_id, 3u);
}

TEST_F(EngineTest, GetBookAggregatesOpenOrdersPerProduct) {
  PostOffer(Offer(kJingning, "fruit.apple", 100, 30));
  PostOffer(Offer(kJingning, "fruit.apple", 50, 25));
  OfferSpec soon = Offer(kJingning, "fruit.apple", 70, 24);
  soon.expires_at = kT0 + 10;  // gone by the time the book is read
  PostOffer(soon);
  PostOffer(Offer(kLankao, "vegetable.cabbage", 40, 10));
  PostPledge(Pledge(kTianjin, "fruit.apple", 20, 15));  // below every floor
  PostPledge(Pledge(kTianjin, "fruit.apple", 10, 20));
  PostPledge(Pledge(kTianjin, "tea", 5, 20));
  std::vector<BookLine> book = engine_.GetBook("", kT0 + 10);
  ASSERT_THAT(book, SizeIs(3));
  EXPECT_EQ(book[0].product_code, "fruit.apple");
  EXPECT_EQ(book[0].open_offer_kg, 150);
  EXPECT_EQ(book[0].open_offer_count, 2);
  EXPECT_EQ(book[0].best_floor_price_fen_per_kg, 25);
  EXPECT_EQ(book[0].open_pledge_kg, 30);
  EXPECT_EQ(book[0].open_pledge_count, 2);
  EXPECT_EQ(book[0].best_max_price_fen_per_kg, 20);
  EXPECT_EQ(book[1].product_code, "tea");
  EXPECT_EQ(book[1].open_offer_count, 0);
  EXPECT_EQ(book[1].best_floor_price_fen_per_kg, 0);
  EXPECT_EQ(book[1].open_pledge_kg, 5);
  EXPECT_EQ(book[2].product_code, "vegetable.cabbage");
  EXPECT_EQ(book[2].best_max_price_fen_per_kg, 0);
}

TEST_F(EngineTest, GetBookPrefixMatchesWholeSegments) {
  PostOffer(Offer(kJingning, "fruit.apple", 100, 30));
  PostOffer(Offer(kJingning, "fruit.apples", 100, 30));
  PostOffer(Offer(kJingning, "fruit.apple.fuji", 100, 30));
  std::vector<BookLine> book = engine_.GetBook("fruit.apple", kT0);
  ASSERT_THAT(book, SizeIs(2));
  EXPECT_EQ(book[0].product_code, "fruit.apple");
  EXPECT_EQ(book[1].product_code, "fruit.apple.fuji");
}

// --- Commands and time
// ---------------------------------------------------------

// Applies `command` as it is (no tick first) and expects it refused with
// `code`, leaving the state and the clock exactly as they were.
void ExpectRefusedWithoutEffect(Engine& engine, const Command& command,
                                absl::StatusCode code) {
  SCOPED_TRACE(CommandName(command.code()));
  const uint64_t hash = engine.StateHash();
  const Micros now = engine.now();
  absl::StatusOr<CommandResult> r = engine.Apply(command);
  EXPECT_EQ(r.status().code(), code) << r.status();
  EXPECT_EQ(engine.StateHash(), hash);
  EXPECT_EQ(engine.now(), now);
}

TEST_F(EngineTest, RefusedCommandChangesNeitherStateNorClock) {
  PostOffer(Offer(kDingxi, "vegetable.potato", 100, 10));  // offer 1
  ASSERT_TRUE(RunCommand(engine_,
                         PostOfferCommand{Offer(kDingxi, "fruit.apple", 5, 10)},
                         kT0, "req-1")
                  .ok());  // offer 2
  ASSERT_TRUE(RunCommand(engine_, CancelOfferCommand{2}, kT0).ok());
  ASSERT_EQ(engine_.now(), kT0);
  // Every command carries a later time: only a tick may move the clock.
  const Micros later = kT0 + 1000;
  // Bad regions: malformed, and well formed but unknown.
  ExpectRefusedWithoutEffect(
      engine_,
      MakeTestCommand(UpsertRegionCommand{Region{"62000", "x"}}, later),
      absl::StatusCode::kInvalidArgument);
  ExpectRefusedWithoutEffect(
      engine_,
      MakeTestCommand(PostOfferCommand{Offer("520000", "fruit", 10, 10)},
                      later),
      absl::StatusCode::kNotFound);
  ExpectRefusedWithoutEffect(
      engine_,
      MakeTestCommand(UpsertPairingCommand{Pairing{kQingdao, "520000", "note"}},
                      later),
      absl::StatusCode::kNotFound);
  ExpectRefusedWithoutEffect(
      engine_, MakeTestCommand(DeletePairingCommand{kQingdao, kLongnan}, later),
      absl::StatusCode::kNotFound);
  // Cancelling a closed order, and one that does not exist.
  ExpectRefusedWithoutEffect(engine_,
                             MakeTestCommand(CancelOfferCommand{2}, later),
                             absl::StatusCode::kFailedPrecondition);
  ExpectRefusedWithoutEffect(engine_,
                             MakeTestCommand(CancelPledgeCommand{1}, later),
                             absl::StatusCode::kNotFound);
  // A request_id reused for another body, and for another kind.
  ExpectRefusedWithoutEffect(
      engine_,
      MakeTestCommand(PostOfferCommand{Offer(kDingxi, "fruit.apple", 6, 10)},
                      later, "req-1"),
      absl::StatusCode::kAlreadyExists);
  ExpectRefusedWithoutEffect(
      engine_, MakeTestCommand(CancelOfferCommand{1}, later, "req-1"),
      absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(GetOffer(1).status, OrderStatus::kOpen);
  EXPECT_EQ(engine_.offer_count(), 2u);
}

TEST_F(EngineTest, OnlyATickMovesTheClock) {
  OfferSpec o = Offer(kLankao, "vegetable.cabbage", 100, 10);
  o.expires_at = kT0 + 100;
  absl::StatusOr<CommandResult> r =
      engine_.Apply(MakeTestCommand(PostOfferCommand{o}, kT0 + 500));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(std::get<OfferResult>(*r).offer.posted_at, kT0);
  EXPECT_EQ(engine_.now(), kT0);
  r = engine_.Apply(MakeTestCommand(TickCommand{}, kT0 + 500));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(std::get<TickResult>(*r).now, kT0 + 500);
  EXPECT_EQ(std::get<TickResult>(*r).expired, 1u);
  EXPECT_EQ(engine_.now(), kT0 + 500);
  EXPECT_EQ(GetOffer(1, kT0 + 500).status, OrderStatus::kExpired);
}

TEST_F(EngineTest, ValidateAtALaterTimeAgreesWithTickAndApply) {
  OfferSpec o = Offer(kDingxi, "vegetable.potato", 100, 10);
  o.expires_at = kT0 + 10;
  PostOffer(o);                                            // 1: expires first
  PostOffer(Offer(kDingxi, "vegetable.potato", 100, 10));  // 2: open at +20
  const uint64_t hash = engine_.StateHash();

  // Cancelling an order that expires between the clock and the later time.
  const Command cancel = MakeTestCommand(CancelOfferCommand{1}, kT0 + 20);
  EXPECT_TRUE(engine_.Validate(cancel, kT0 + 9).ok());
  EXPECT_EQ(engine_.Validate(cancel, kT0 + 10).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(engine_.Validate(cancel, kT0 + 20).code(),
            absl::StatusCode::kFailedPrecondition);
  const Command cancel_open = MakeTestCommand(CancelOfferCommand{2}, kT0 + 20);
  EXPECT_TRUE(engine_.Validate(cancel_open, kT0 + 20).ok());

  // A post whose expires_at lies between the clock and the later time.
  OfferSpec brief = Offer(kDingxi, "vegetable.potato", 50, 10);
  brief.expires_at = kT0 + 15;
  const Command post = MakeTestCommand(PostOfferCommand{brief}, kT0 + 20);
  EXPECT_TRUE(engine_.Validate(post, kT0).ok());
  EXPECT_TRUE(engine_.Validate(post, kT0 + 14).ok());
  const absl::Status predicted = engine_.Validate(post, kT0 + 20);
  EXPECT_EQ(predicted.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(predicted.message(), HasSubstr("expires_at"));

  // Validate changed nothing, the clock included.
  EXPECT_EQ(engine_.StateHash(), hash);
  EXPECT_EQ(engine_.now(), kT0);

  // What TickAndApply does at kT0 + 20 is what Validate said.
  EXPECT_EQ(engine_.TickAndApply(cancel).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(engine_.now(), kT0 + 20);
  EXPECT_EQ(engine_.TickAndApply(post).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(engine_.TickAndApply(cancel_open).ok());

  // A time before the clock is judged at the clock.
  const Command stale = MakeTestCommand(PostOfferCommand{brief}, kT0);
  EXPECT_EQ(engine_.Validate(stale, kT0).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine_.TickAndApply(stale).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine_.offer_count(), 2u);
}

// Gives every body field a value other than its default.
struct FieldFiller {
  int n = 0;
  void operator()(std::string& v) { v = "field" + std::to_string(++n); }
  void operator()(int& v) { v = 1000 + ++n; }
  void operator()(int64_t& v) { v = -(int64_t{1} << 40) - ++n; }
  void operator()(uint64_t& v) { v = (uint64_t{1} << 63) + ++n; }
  void operator()(bool& v) { v = true; }
  void operator()(std::vector<std::string>& v) {
    v = {"list" + std::to_string(++n), "", "x"};
  }
  void operator()(std::vector<MemberShare>& v) {
    v = {{"member" + std::to_string(++n), -7}, {"", 1000}};
  }
};

// Every body field, spelled out, in Fields() order.
struct FieldPrinter {
  std::string* out;
  void operator()(const std::string& v) { *out += "s'" + v + "' "; }
  void operator()(int v) { *out += "i" + std::to_string(v) + " "; }
  void operator()(int64_t v) { *out += "l" + std::to_string(v) + " "; }
  void operator()(uint64_t v) { *out += "u" + std::to_string(v) + " "; }
  void operator()(bool v) { *out += v ? "T " : "F "; }
  void operator()(const std::vector<std::string>& v) {
    *out += "[";
    for (const std::string& s : v) *out += "'" + s + "',";
    *out += "] ";
  }
  void operator()(const std::vector<MemberShare>& v) {
    *out += "{";
    for (const MemberShare& m : v) {
      *out += "'" + m.buyer_id + "':" + std::to_string(m.share_permille) + ",";
    }
    *out += "} ";
  }
};

std::string FieldsOf(const CommandBody& body) {
  std::string out;
  ForEachField(body, FieldPrinter{&out});
  return out;
}

std::string Encoded(const CommandBody& body) {
  std::string bytes;
  ByteWriter w(&bytes);
  EncodeBody(body, w);
  return bytes;
}

template <size_t I = 0>
void CheckEveryCommandKind() {
  if constexpr (I < std::variant_size_v<CommandBody>) {
    using Body = std::variant_alternative_t<I, CommandBody>;
    SCOPED_TRACE(Body::kName);
    const uint8_t code = static_cast<uint8_t>(Body::kCode);

    // CodeOf <-> BodyForCode, and the name.
    const CommandBody empty{std::in_place_index<I>};
    EXPECT_EQ(CodeOf(empty), Body::kCode);
    CommandBody from_code;
    ASSERT_TRUE(BodyForCode(code, &from_code));
    EXPECT_EQ(from_code.index(), I);
    EXPECT_EQ(CodeOf(from_code), Body::kCode);
    EXPECT_STREQ(CommandName(Body::kCode), Body::kName);
    EXPECT_EQ(MakeCommand(Body{}).code(), Body::kCode);

    // EncodeBody -> DecodeBody gives the same fields back, for a default
    // body and a filled one.
    CommandBody filled{std::in_place_index<I>};
    ForEachField(filled, FieldFiller{});
    for (const CommandBody& body : {empty, filled}) {
      const std::string bytes = Encoded(body);
      ByteReader r(bytes);
      CommandBody back;
      ASSERT_TRUE(DecodeBody(code, r, &back));
      EXPECT_TRUE(r.ok());
      EXPECT_TRUE(r.done());
      EXPECT_EQ(back.index(), I);
      EXPECT_EQ(FieldsOf(back), FieldsOf(body));
      EXPECT_EQ(Encoded(back), bytes);
      Command sent, decoded;
      sent.body = body;
      decoded.body = back;
      EXPECT_EQ(CommandFingerprint(decoded), CommandFingerprint(sent));
      EXPECT_NE(CommandFingerprint(sent) & (uint64_t{1} << 63), 0u);
      if (!bytes.empty()) {  // a cut record is malformed, not a shorter one
        ByteReader cut(std::string_view(bytes).substr(0, bytes.size() - 1));
        CommandBody partial;
        DecodeBody(code, cut, &partial);
        EXPECT_FALSE(cut.ok());
      }
    }
    if (!FieldsOf(filled).empty()) {
      Command a, b;
      a.body = empty;
      b.body = filled;
      EXPECT_NE(CommandFingerprint(a), CommandFingerprint(b));
    }
    CheckEveryCommandKind<I + 1>();
  }
}

TEST(CommandTest, CodesBodiesAndTheirEncodingRoundTripForEveryCommand) {
  CheckEveryCommandKind();
}

TEST(CommandTest, EveryCodeUpToTheMaximumNamesOneCommandAndNoneAbove) {
  std::set<size_t> alternatives;
  for (int code = 0; code <= 255; ++code) {
    CommandBody body;
    const bool known = BodyForCode(static_cast<uint8_t>(code), &body);
    EXPECT_EQ(known, code <= kMaxCommandCode) << code;
    if (!known) {
      std::string none;
      ByteReader r(none);
      EXPECT_FALSE(DecodeBody(static_cast<uint8_t>(code), r, &body)) << code;
      continue;
    }
    // The old post layouts are read as today's posts; every other code
    // names its own command.
    const bool old_layout = code == static_cast<int>(CommandCode::kPostOffer) ||
                            code == static_cast<int>(CommandCode::kPostPledge);
    if (old_layout) {
      EXPECT_EQ(CodeOf(body), code == static_cast<int>(CommandCode::kPostOffer)
                                  ? CommandCode::kPostOfferWithDeadlines
                                  : CommandCode::kPostPledgeWithDeadlines);
      continue;
    }
    EXPECT_EQ(static_cast<int>(CodeOf(body)), code);
    alternatives.insert(body.index());
  }
  EXPECT_EQ(alternatives.size(), std::variant_size_v<CommandBody>);
  EXPECT_EQ(alternatives.size(), size_t{kMaxCommandCode} + 1 - 2);
  EXPECT_EQ(static_cast<int>(CommandCode::kAmendOffer), 15);
  EXPECT_EQ(static_cast<int>(CommandCode::kAmendPledge), 16);
  EXPECT_EQ(static_cast<int>(CommandCode::kUpsertBuyer), 17);
}

// --- Buyers ------------------------------------------------------------------

constexpr Micros kDec31LastSecond =
    1'798'732'799'000'000;                               // 2026-12-31T15:59:59Z
constexpr Micros kJan1Shanghai = 1'798'732'800'000'000;  // 2026-12-31T16:00:00Z
constexpr Micros kMid2026 = 1'781'481'600'000'000;       // 2026-06-15T00:00Z

TEST(ShanghaiMonthTest, CountsMonthsAtUtcPlusEight) {
  EXPECT_EQ(ShanghaiMonthOf(kDec31LastSecond).year, 2026);
  EXPECT_EQ(ShanghaiMonthOf(kDec31LastSecond).month, 12);
  EXPECT_EQ(ShanghaiMonthOf(kJan1Shanghai).year, 2027);
  EXPECT_EQ(ShanghaiMonthOf(kJan1Shanghai).month, 1);
  EXPECT_EQ(ShanghaiMonthOf(kMid2026).month, 6);
  EXPECT_EQ(ShanghaiMonthOf(0).year, 1970);  // 08:00 Jan 1 in Shanghai
  // 1969-12-31T15:59:59.999999Z is still 1969 in Shanghai.
  EXPECT_EQ(ShanghaiMonthOf(-Micros{8} * 3600 * 1000000 - 1).year, 1969);
  EXPECT_EQ(ShanghaiMonthOf(-Micros{8} * 3600 * 1000000 - 1).month, 12);
  EXPECT_EQ(ShanghaiMonthOf(-Micros{8} * 3600 * 1000000).year, 1970);
}

class BuyerTest : public EngineTest {
 protected:
  static Buyer Unit(std::string id, std::string city, int64_t target,
                    std::string alliance = "") {
    Buyer b;
    b.buyer_id = std::move(id);
    b.name = "青岛市协作办";
    b.city_code = std::move(city);
    b.kind = static_cast<int>(BuyerKind::kGovernmentUnit);
    b.annual_target_fen = target;
    b.alliance_id = std::move(alliance);
    return b;
  }

  absl::StatusOr<BuyerResult> Upsert(const Buyer& b, Micros now = kT0,
                                     std::string_view request_id = "") {
    return RunCommand(engine_, UpsertBuyerCommand{b}, now, request_id);
  }

  // A fill of `kg` at `fen` per kg for buyer `buyer` at `at`: an offer
  // rests, a pledge of the registered buyer (no city, no kind) takes it.
  void Buy(const std::string& buyer, int64_t kg, int64_t fen, Micros at) {
    OfferSpec o = Offer(kWudu, "spice.pepper", kg, fen);
    o.expires_at = at + 1'000'000;
    PostOffer(o, at);
    PledgeSpec p = Pledge("", "spice", kg, fen);
    p.buyer_id = buyer;
    p.buyer_kind = 0;
    p.expires_at = at + 1'000'000;
    const PledgeResult r = PostPledge(p, at);
    ASSERT_THAT(r.matches, SizeIs(1));
    EXPECT_EQ(r.matches[0].amount_fen, kg * fen);
  }
};

TEST_F(BuyerTest, UpsertNamesEveryBadField) {
  const uint64_t before = engine_.StateHash();
  Buyer bad = Unit("", kQingdao, -1);
  bad.kind = 0;
  absl::StatusOr<BuyerResult> r = Upsert(bad);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<std::string> fields = ViolatedFields(r.status());
  EXPECT_THAT(fields, ElementsAre("buyer.buyer_id", "buyer.kind",
                                  "buyer.annual_target_fen"));
  EXPECT_EQ(engine_.StateHash(), before);
}

TEST_F(BuyerTest, UpsertCreatesThenReplacesAndTheStateKeepsIt) {
  const uint64_t before = engine_.StateHash();
  absl::StatusOr<BuyerResult> first =
      Upsert(Unit("qingdao-office", kQingdao, 5'000'000'00));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->buyer.annual_target_fen, 5'000'000'00);
  EXPECT_NE(engine_.StateHash(), before);

  Buyer changed = Unit("qingdao-office", kShandong, 7'000'000'00, "east");
  changed.name = "山东省协作办";
  changed.kind = static_cast<int>(BuyerKind::kStateFirm);
  absl::StatusOr<BuyerResult> second = Upsert(changed);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->created);
  absl::StatusOr<Buyer> got = engine_.GetBuyer("qingdao-office");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->name, "山东省协作办");
  EXPECT_EQ(got->city_code, kShandong);
  EXPECT_EQ(got->kind, static_cast<int>(BuyerKind::kStateFirm));
  EXPECT_EQ(got->annual_target_fen, 7'000'000'00);
  EXPECT_EQ(got->alliance_id, "east");
  EXPECT_EQ(engine_.GetBuyer("nobody").status().code(),
            absl::StatusCode::kNotFound);

  // Saved and loaded (format version 3), the registry and hash survive.
  Engine copy;
  ASSERT_TRUE(copy.LoadState(engine_.SaveState()).ok());
  EXPECT_EQ(copy.StateHash(), engine_.StateHash());
  EXPECT_EQ(copy.GetBuyer("qingdao-office")->name, "山东省协作办");
  EXPECT_TRUE(copy.CheckInvariants().ok());
  EXPECT_TRUE(engine_.CheckInvariants().ok());
}

TEST_F(BuyerTest, AStateWithoutBuyersIsSavedAsBefore) {
  const std::string state = engine_.SaveState();
  ByteReader r(state);
  r.Str();                 // magic
  EXPECT_EQ(r.U64(), 1u);  // version 1: no keys, no buyers
  ASSERT_TRUE(Upsert(Unit("b", kQingdao, 0)).ok());
  const std::string with = engine_.SaveState();
  ByteReader w(with);
  w.Str();
  EXPECT_EQ(w.U64(), 3u);
}

TEST_F(BuyerTest, KeysBuyersAndTheirMemosSurviveSaveAndLoad) {
  CreateKeyCommand key;
  key.principal.name = "青岛 key";
  key.principal.role = static_cast<int>(Role::kBuyer);
  key.principal.buyer_ids = {"office"};
  key.secret_sha256 = std::string(32, 'k');
  ASSERT_TRUE(RunCommand(engine_, key, kT0, "key-1").ok());
  ASSERT_TRUE(Upsert(Unit("office", kQingdao, 500, "east"), kT0, "b-1").ok());
  ASSERT_TRUE(Upsert(Unit("office", kQingdao, 600, "east"), kT0, "b-2").ok());
  Buy("office", 10, 20, kT0);
  Engine copy;
  ASSERT_TRUE(copy.LoadState(engine_.SaveState()).ok());
  EXPECT_EQ(copy.StateHash(), engine_.StateHash());
  EXPECT_TRUE(copy.CheckInvariants().ok());
  // The second request's memo answers "replaced", the buyer as it stands.
  absl::StatusOr<BuyerResult> again = RunCommand(
      copy, UpsertBuyerCommand{Unit("office", kQingdao, 600, "east")}, kT0,
      "b-2");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->buyer.annual_target_fen, 600);
  EXPECT_EQ(copy.GetBuyerProgress("", "east", 2023)->matched_fen, 200);
}

TEST_F(BuyerTest, ADamagedBuyersSectionIsDataLoss) {
  ASSERT_TRUE(Upsert(Unit("a", kQingdao, 1)).ok());
  ASSERT_TRUE(Upsert(Unit("b", kShandong, 2, "east")).ok());
  const std::string state = engine_.SaveState();
  for (const std::string& damaged :
       {state.substr(0, state.size() - 1), state + "x"}) {
    Engine copy;
    EXPECT_EQ(copy.LoadState(damaged).code(), absl::StatusCode::kDataLoss);
  }
  // The buyers come last, in buyer_id order: "b" and "a" swapped is damage.
  std::string swapped = state;
  const size_t at_a = swapped.rfind(std::string("\x01\0\0\0a", 5));
  const size_t at_b = swapped.rfind(std::string("\x01\0\0\0b", 5));
  ASSERT_NE(at_a, std::string::npos);
  ASSERT_NE(at_b, std::string::npos);
  swapped[at_a + 4] = 'b';
  swapped[at_b + 4] = 'a';
  Engine copy;
  EXPECT_EQ(copy.LoadState(swapped).code(), absl::StatusCode::kDataLoss);
}

TEST_F(BuyerTest, EachBadFieldIsRefusedNamingItAndChangesNothing) {
  ASSERT_TRUE(Upsert(Unit("kept", kQingdao, 100)).ok());
  struct Case {
    std::string field;
    void (*spoil)(Buyer&);
  };
  const Case cases[] = {
      {"buyer.buyer_id", [](Buyer& b) { b.buyer_id = ""; }},
      {"buyer.buyer_id", [](Buyer& b) { b.buyer_id = std::string(65, 'x'); }},
      {"buyer.buyer_id", [](Buyer& b) { b.buyer_id = "a\nb"; }},
      {"buyer.name", [](Buyer& b) { b.name = ""; }},
      {"buyer.name", [](Buyer& b) { b.name = std::string(65, 'n'); }},
      {"buyer.name", [](Buyer& b) { b.name = "tab\there"; }},
      {"buyer.city_code", [](Buyer& b) { b.city_code = "999999"; }},
      {"buyer.city_code", [](Buyer& b) { b.city_code = "37020"; }},
      {"buyer.kind", [](Buyer& b) { b.kind = 0; }},
      {"buyer.kind", [](Buyer& b) { b.kind = 12; }},
      {"buyer.annual_target_fen", [](Buyer& b) { b.annual_target_fen = -1; }},
      {"buyer.alliance_id",
       [](Buyer& b) { b.alliance_id = std::string(65, 'a'); }},
      {"buyer.alliance_id", [](Buyer& b) { b.alliance_id = "x\x01"; }},
  };
  const uint64_t hash = engine_.StateHash();
  for (const Case& c : cases) {
    Buyer b = Unit("kept", kQingdao, 999);
    c.spoil(b);
    absl::StatusOr<BuyerResult> r = Upsert(b);
    ASSERT_FALSE(r.ok()) << c.field;
    // An unknown city is NOT_FOUND, as an unknown region is everywhere.
    EXPECT_EQ(r.status().code(), b.city_code == "999999"
                                     ? absl::StatusCode::kNotFound
                                     : absl::StatusCode::kInvalidArgument)
        << r.status();
    EXPECT_THAT(r.status().message(), HasSubstr(c.field)) << r.status();
    EXPECT_EQ(engine_.StateHash(), hash) << c.field;
    EXPECT_FALSE(
        engine_.Validate(MakeCommand(UpsertBuyerCommand{b}), kT0).ok());
  }
  EXPECT_EQ(engine_.GetBuyer("kept")->annual_target_fen, 100);
  // The value is named too.
  Buyer b = Unit("kept", "999999", 1);
  EXPECT_THAT(Upsert(b).status().message(), HasSubstr("999999"));
  b = Unit("kept", kQingdao, -5);
  EXPECT_THAT(Upsert(b).status().message(), HasSubstr("-5"));
}

TEST_F(BuyerTest, ARepeatedRequestAnswersTheFirstAnswer) {
  absl::StatusOr<BuyerResult> first =
      Upsert(Unit("b", kQingdao, 10), kT0, "req-1");
  ASSERT_TRUE(first.ok());
  absl::StatusOr<BuyerResult> again =
      Upsert(Unit("b", kQingdao, 10), kT0, "req-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  EXPECT_TRUE(again->created);
  EXPECT_EQ(again->buyer.annual_target_fen, 10);
  EXPECT_EQ(Upsert(Unit("b", kQingdao, 11), kT0, "req-1").status().code(),
            absl::StatusCode::kAlreadyExists);
  Engine copy;  // the memo survives a save and load
  ASSERT_TRUE(copy.LoadState(engine_.SaveState()).ok());
  absl::StatusOr<BuyerResult> after_load = RunCommand(
      copy, UpsertBuyerCommand{Unit("b", kQingdao, 10)}, kT0, "req-1");
  ASSERT_TRUE(after_load.ok());
  EXPECT_TRUE(after_load->replayed);
  EXPECT_TRUE(after_load->created);
  EXPECT_TRUE(copy.CheckInvariants().ok());
}

TEST_F(BuyerTest, PledgesOfARegisteredBuyerTakeCityAndKindFromTheRegistry) {
  Buyer b = Unit("office", kQingdao, 0);
  b.kind = static_cast<int>(BuyerKind::kHospital);
  ASSERT_TRUE(Upsert(b).ok());
  PledgeSpec p = Pledge("", "spice", 10, 100);
  p.buyer_kind = 0;
  const PledgeResult r = PostPledge(p);
  EXPECT_EQ(r.pledge.buyer_city_code, kQingdao);
  EXPECT_EQ(r.pledge.buyer_kind, BuyerKind::kHospital);
  // Given and agreeing: fine.
  p.buyer_city_code = kQingdao;
  p.buyer_kind = static_cast<int>(BuyerKind::kHospital);
  EXPECT_EQ(PostPledge(p).pledge.buyer_city_code, kQingdao);
  // A replaced registry entry serves later pledges; the pledge keeps what
  // it resolved to.
  b.city_code = kShandong;
  ASSERT_TRUE(Upsert(b).ok());
  p.buyer_city_code = "";
  p.buyer_kind = 0;
  EXPECT_EQ(PostPledge(p).pledge.buyer_city_code, kShandong);
  EXPECT_EQ(engine_.GetPledge(r.pledge.pledge_id, kT0)->buyer_city_code,
            kQingdao);
  EXPECT_TRUE(engine_.CheckInvariants().ok());
}

TEST_F(BuyerTest, APledgeDisagreeingWithTheRegistryIsRefused) {
  ASSERT_TRUE(Upsert(Unit("office", kQingdao, 0)).ok());
  const uint64_t hash = engine_.StateHash();
  PledgeSpec p = Pledge(kGuangzhou, "spice", 10, 100);
  absl::StatusOr<PledgeResult> r =
      RunCommand(engine_, PostPledgeCommand{p}, kT0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("pledge.buyer_city_code"));
  EXPECT_THAT(r.status().message(), HasSubstr(kGuangzhou));
  EXPECT_THAT(r.status().message(), HasSubstr(kQingdao));
  p = Pledge(kQingdao, "spice", 10, 100);
  p.buyer_kind = static_cast<int>(BuyerKind::kSchool);
  r = RunCommand(engine_, PostPledgeCommand{p}, kT0);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("pledge.buyer_kind"));
  EXPECT_THAT(r.status().message(), HasSubstr("2 disagrees"));
  EXPECT_THAT(r.status().message(), HasSubstr("registered 1"));
  EXPECT_EQ(engine_.StateHash(), hash);
}

TEST_F(BuyerTest, UnregisteredBuyersStillNeedCityAndKind) {
  PledgeSpec p = Pledge("", "spice", 10, 100);
  p.buyer_id = "walk-in";
  absl::StatusOr<PledgeResult> r =
      RunCommand(engine_, PostPledgeCommand{p}, kT0);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("pledge.buyer_city_code"));
  p.buyer_city_code = kQingdao;
  p.buyer_kind = 0;
  r = RunCommand(engine_, PostPledgeCommand{p}, kT0);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("pledge.buyer_kind"));
  p.buyer_kind = 1;
  EXPECT_TRUE(RunCommand(engine_, PostPledgeCommand{p}, kT0).ok());
}

TEST_F(BuyerTest, ProgressCountsMatchesByShanghaiMonthAcrossTheNewYear) {
  ASSERT_TRUE(Upsert(Unit("office", kQingdao, 1'000'000)).ok());
  Buy("office", 100, 500, kMid2026);         // 50,000 fen in June 2026
  Buy("office", 10, 700, kDec31LastSecond);  // 7,000 fen, 23:59:59 Dec 31
  Buy("office", 20, 300, kJan1Shanghai);     // 6,000 fen, 00:00 Jan 1 2027
  absl::StatusOr<BuyerProgress> y2026 =
      engine_.GetBuyerProgress("office", "", 2026);
  ASSERT_TRUE(y2026.ok()) << y2026.status();
  EXPECT_EQ(y2026->annual_target_fen, 1'000'000);
  EXPECT_EQ(y2026->matched_fen, 57'000);
  EXPECT_EQ(y2026->delivered_fen, 0);  // nothing shipped yet
  EXPECT_EQ(y2026->share_done_permille, 57);
  ASSERT_THAT(y2026->months, SizeIs(12));
  EXPECT_EQ(y2026->months[5].month, 6);
  EXPECT_EQ(y2026->months[5].matched_fen, 50'000);
  EXPECT_EQ(y2026->months[11].matched_fen, 7'000);
  EXPECT_EQ(y2026->months[0].matched_fen, 0);
  absl::StatusOr<BuyerProgress> y2027 =
      engine_.GetBuyerProgress("office", "", 2027);
  ASSERT_TRUE(y2027.ok());
  EXPECT_EQ(y2027->matched_fen, 6'000);
  EXPECT_EQ(y2027->months[0].matched_fen, 6'000);
  EXPECT_EQ(y2027->share_done_permille, 6);
  EXPECT_EQ(engine_.GetBuyerProgress("office", "", 2025)->matched_fen, 0);
}

TEST_F(BuyerTest, AllianceProgressSumsItsMembers) {
  ASSERT_TRUE(Upsert(Unit("qingdao", kQingdao, 300'000, "east")).ok());
  ASSERT_TRUE(Upsert(Unit("jinan", kShandong, 100'000, "east")).ok());
  ASSERT_TRUE(Upsert(Unit("guangzhou", kGuangzhou, 999'999, "south")).ok());
  Buy("qingdao", 100, 500, kMid2026);  // 50,000
  Buy("jinan", 30, 1000, kMid2026);    // 30,000
  Buy("guangzhou", 1, 100, kMid2026);  // not in "east"
  absl::StatusOr<BuyerProgress> east =
      engine_.GetBuyerProgress("", "east", 2026);
  ASSERT_TRUE(east.ok()) << east.status();
  EXPECT_EQ(east->annual_target_fen, 400'000);
  EXPECT_EQ(east->matched_fen, 80'000);
  EXPECT_EQ(east->share_done_permille, 200);
  EXPECT_EQ(east->months[5].matched_fen, 80'000);
  EXPECT_THAT(east->member_ids, ElementsAre("jinan", "qingdao"));
  // A buyer with no target has no share.
  ASSERT_TRUE(Upsert(Unit("jinan", kShandong, 0, "east")).ok());
  EXPECT_EQ(engine_.GetBuyerProgress("jinan", "", 2026)->share_done_permille,
            0);
}

TEST_F(BuyerTest, ProgressNeedsExactlyOneKnownBuyerOrAlliance) {
  ASSERT_TRUE(Upsert(Unit("office", kQingdao, 1, "east")).ok());
  EXPECT_EQ(engine_.GetBuyerProgress("", "", 2026).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine_.GetBuyerProgress("office", "east", 2026).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine_.GetBuyerProgress("office", "", 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine_.GetBuyerProgress("nobody", "", 2026).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(engine_.GetBuyerProgress("", "west", 2026).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(BuyerTest, ListBuyersFiltersAndPagesByBuyerId) {
  ASSERT_TRUE(Upsert(Unit("a-qingdao", kQingdao, 1, "east")).ok());
  ASSERT_TRUE(Upsert(Unit("b-shandong", kShandong, 1, "east")).ok());
  Buyer school = Unit("c-guangzhou", kGuangzhou, 1);
  school.kind = static_cast<int>(BuyerKind::kSchool);
  ASSERT_TRUE(Upsert(school).ok());
  auto ids = [](const std::vector<Buyer>& buyers) {
    std::vector<std::string> out;
    for (const Buyer& b : buyers) out.push_back(b.buyer_id);
    return out;
  };
  bool more = false;
  EXPECT_THAT(ids(engine_.ListBuyers({"37", 0, ""}, "", 10, &more)),
              ElementsAre("a-qingdao", "b-shandong"));
  EXPECT_FALSE(more);
  EXPECT_THAT(ids(engine_.ListBuyers({"", 2, ""}, "", 10, &more)),
              ElementsAre("c-guangzhou"));
  EXPECT_THAT(ids(engine_.ListBuyers({"", 0, "east"}, "", 10, &more)),
              ElementsAre("a-qingdao", "b-shandong"));
  EXPECT_THAT(ids(engine_.ListBuyers({}, "", 2, &more)),
              ElementsAre("a-qingdao", "b-shandong"));
  EXPECT_TRUE(more);
  EXPECT_THAT(ids(engine_.ListBuyers({}, "b-shandong", 2, &more)),
              ElementsAre("c-guangzhou"));
  EXPECT_FALSE(more);
}

// --- Amending orders
// ----------------------------------------------------------

class AmendTest : public EngineTest {
 protected:
  static AmendOfferCommand OfferAmend(uint64_t id) {
    AmendOfferCommand c;
    c.offer_id = id;
    return c;
  }
  static AmendPledgeCommand PledgeAmend(uint64_t id) {
    AmendPledgeCommand c;
    c.pledge_id = id;
    return c;
  }
  OfferResult Amend(const AmendOfferCommand& c, Micros now = kT0) {
    absl::StatusOr<OfferResult> r = RunCommand(engine_, c, now);
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(engine_.CheckInvariants().ok()) << engine_.CheckInvariants();
    return r.ok() ? *r : OfferResult{};
  }
  PledgeResult Amend(const AmendPledgeCommand& c, Micros now = kT0) {
    absl::StatusOr<PledgeResult> r = RunCommand(engine_, c, now);
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(engine_.CheckInvariants().ok()) << engine_.CheckInvariants();
    return r.ok() ? *r : PledgeResult{};
  }
  // Two equal cabbage offers, 1 then 2, 100 kg at 20 fen/kg.
  void TwoEqualOffers() {
    PostOffer(Offer(kLankao, "vegetable.cabbage", 100, 20));
    PostOffer(Offer(kLankao, "vegetable.cabbage", 100, 20));
  }
  // Two equal tea pledges, 1 then 2, 100 kg at up to 60 fen/kg.
  void TwoEqualPledges() {
    PostPledge(Pledge(kGuangzhou, "tea", 100, 60));
    PostPledge(Pledge(kGuangzhou, "tea", 100, 60));
  }
  // The offer a 10 kg cabbage pledge takes first.
  uint64_t FirstOfferTaken() {
    PledgeResult r = PostPledge(Pledge(kTianjin, "vegetable", 10, 40));
    EXPECT_THAT(r.matches, SizeIs(1));
    return r.matches.empty() ? 0 : r.matches[0].offer_id;
  }
  // The pledge a 10 kg tea offer fills first.
  uint64_t FirstPledgeFilled() {
    OfferResult r = PostOffer(Offer(kAnkang, "tea.selenium", 10, 50));
    EXPECT_THAT(r.matches, SizeIs(1));
    return r.matches.empty() ? 0 : r.matches[0].pledge_id;
  }
};

TEST_F(AmendTest, LoweringOfferQuantityKeepsItsPlace) {
  TwoEqualOffers();
  AmendOfferCommand c = OfferAmend(1);
  c.has_quantity_kg = true;
  c.quantity_kg = 80;
  OfferResult r = Amend(c);
  EXPECT_EQ(r.offer.quantity_kg, 80);
  EXPECT_EQ(r.offer.remaining_kg, 80);
  EXPECT_THAT(r.matches, IsEmpty());
  EXPECT_EQ(FirstOfferTaken(), 1u);
  EXPECT_EQ(GetOffer(1).remaining_kg, 70);
}

TEST_F(AmendTest, RaisingOfferQuantitySendsItToTheBack) {
  TwoEqualOffers();
  AmendOfferCommand c = OfferAmend(1);
  c.has_quantity_kg = true;
  c.quantity_kg = 120;
  EXPECT_EQ(Amend(c).offer.remaining_kg, 120);
  EXPECT_EQ(FirstOfferTaken(), 2u);
  EXPECT_EQ(GetOffer(1).remaining_kg, 120);
  EXPECT_EQ(GetOffer(2).remaining_kg, 90);
}

TEST_F(AmendTest, RaisingTheFloorSendsAnOfferToTheBack) {
  PostOffer(Offer(kLankao, "vegetable.cabbage", 100, 20));  // 1
  PostOffer(Offer(kLankao, "vegetable.cabbage", 100, 25));  // 2
  AmendOfferCommand c = OfferAmend(1);
  c.has_floor_price = true;
  c.floor_price_fen_per_kg = 25;
  Amend(c);
  // Equal terms now; offer 1 is behind offer 2.
  EXPECT_EQ(FirstOfferTaken(), 2u);
}

TEST_F(AmendTest, LoweringTheFloorKeepsAnOffersPlace) {
  PostOffer(Offer(kLankao, "vegetable.cabbage", 100, 30));  // 1
  PostOffer(Offer(kLankao, "vegetable.cabbage", 100, 25));  // 2
  AmendOfferCommand c = OfferAmend(1);
  c.has_floor_price = true;
  c.floor_price_fen_per_kg = 25;
  Amend(c);
  // Equal terms now; offer 1 was posted first and kept that place.
  EXPECT_EQ(FirstOfferTaken(), 1u);
}

TEST_F(AmendTest, ChangingExpiryMinLotAndShipWithinKeepsAnOffersPlace) {
  TwoEqualOffers();
  for (uint64_t id : {uint64_t{1}, uint64_t{2}}) {
    AmendOfferCommand c = OfferAmend(id);
    c.has_expires_at = true;
    c.expires_at = kLater + 500;
    c.has_min_lot = true;
    c.min_lot_kg = 5;
    c.has_ship_within = true;
    c.ship_within = Micros{72} * 3600 * 1000000;
    EXPECT_EQ(Amend(c).offer.expires_at, kLater + 500);
  }
  EXPECT_EQ(FirstOfferTaken(), 1u);
}

TEST_F(AmendTest, PledgePriceBudgetAndScopeDecideItsPlace) {
  // A higher max price or a larger budget keeps the place...
  TwoEqualPledges();
  AmendPledgeCommand better = PledgeAmend(1);
  better.has_budget = true;
  better.budget_fen = 9000;  // from no cap to a cap: smaller
  Amend(better);
  EXPECT_EQ(FirstPledgeFilled(), 2u);  // offer 3 into pledge 2
  AmendPledgeCommand larger = PledgeAmend(1);
  larger.has_budget = true;
  larger.budget_fen = 0;  // no cap again: larger, keeps its (new) place
  Amend(larger);
  AmendPledgeCommand pricier = PledgeAmend(2);
  pricier.has_max_price = true;
  pricier.max_price_fen_per_kg = 70;  // better for offers: keeps its place
  Amend(pricier);
  EXPECT_EQ(FirstPledgeFilled(), 2u);  // the higher price wins anyway
  AmendPledgeCommand cheaper = PledgeAmend(2);
  cheaper.has_max_price = true;
  cheaper.max_price_fen_per_kg = 60;  // worse: to the back, behind pledge 1
  Amend(cheaper);
  EXPECT_EQ(FirstPledgeFilled(), 1u);
}

TEST_F(AmendTest, NarrowerScopeSendsAPledgeBackAndWiderKeepsItsPlace) {
  TwoEqualPledges();
  AmendPledgeCommand narrow = PledgeAmend(1);
  narrow.has_scope = true;
  narrow.scope = static_cast<int>(Scope::kListedRegions);
  narrow.region_codes = {kShaanxi};
  Amend(narrow);
  EXPECT_EQ(FirstPledgeFilled(), 2u);
  AmendPledgeCommand narrow2 = PledgeAmend(2);
  narrow2.has_scope = true;
  narrow2.scope = static_cast<int>(Scope::kListedRegions);
  narrow2.region_codes = {kAnkang};
  Amend(narrow2);  // to the back, behind pledge 1
  EXPECT_EQ(FirstPledgeFilled(), 1u);
  AmendPledgeCommand wide = PledgeAmend(2);
  wide.has_scope = true;
  wide.scope = static_cast<int>(Scope::kListedRegions);
  wide.region_codes = {kShaanxi};  // covers Ankang: wider, keeps its place
  Amend(wide);
  EXPECT_EQ(FirstPledgeFilled(), 1u);
  EXPECT_EQ(GetPledge(1).remaining_kg, 80);
  EXPECT_EQ(GetPledge(2).remaining_kg, 90);
}

TEST_F(AmendTest, QuantityBelowWhatWasMatchedIsInvalid) {
  PostOffer(Offer(kLankao, "vegetable.cabbage", 100, 20));
  PostPledge(Pledge(kTianjin, "vegetable", 30, 40));  // 30 kg matched
  AmendOfferCommand c = OfferAmend(1);
  c.has_quantity_kg = true;
  c.quantity_kg = 29;
  const Micros at = engine_.now();
  absl::StatusOr<CommandResult> r = engine_.Apply(MakeTestCommand(c, at));
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("quantity_kg"));
  EXPECT_THAT(r.status().message(), HasSubstr("29 is below the 30 kg"));
  ExpectRefusedWithoutEffect(engine_, MakeTestCommand(c, at),
                             absl::StatusCode::kInvalidArgument);
}

TEST_F(AmendTest, QuantityEqualToWhatWasMatchedFillsTheOrder) {
  PostOffer(Offer(kLankao, "vegetable.cabbage", 100, 20));
  PostPledge(Pledge(kTianjin, "vegetable", 30, 40));
  AmendOfferCommand c = OfferAmend(1);
  c.has_quantity_kg = true;
  c.quantity_kg = 30;
  OfferResult r = Amend(c);
  EXPECT_EQ(r.offer.status, OrderStatus::kFilled);
  EXPECT_EQ(r.offer.remaining_kg, 0);
  EXPECT_EQ(r.offer.quantity_kg, 30);
  EXPECT_THAT(r.matches, IsEmpty());
  // Off the book: the next pledge finds nothing.
  EXPECT_THAT(PostPledge(Pledge(kTianjin, "vegetable", 10, 40)).matches,
              IsEmpty());
  std::vector<BookLine> book = engine_.GetBook("vegetable", kT0);
  ASSERT_THAT(book, SizeIs(1));
  EXPECT_EQ(book[0].open_offer_count, 0);
  EXPECT_EQ(book[0].open_pledge_count, 1);
}

TEST_F(AmendTest, PledgeBudgetEqualToWhatWasSpentFillsIt) {
  PostOffer(Offer(kLankao, "vegetable.cabbage", 10, 20));
  PostPledge(Pledge(kTianjin, "vegetable", 100, 40));  // spends 200 fen
  AmendPledgeCommand c = PledgeAmend(1);
  c.has_budget = true;
  c.budget_fen = 199;
  EXPECT_EQ(RunCommand(engine_, c, kT0).status().code(),
            absl::StatusCode::kInvalidArgument);
  c.budget_fen = 200;
  PledgeResult r = Amend(c);
  EXPECT_EQ(r.pledge.status, OrderStatus::kFilled);
  EXPECT_EQ(r.pledge.spent_fen, 200);
  EXPECT_EQ(r.pledge.remaining_kg, 90);
}

TEST_F(AmendTest, AmendmentThatMakesAPairCompatibleMatchesAtOnce) {
  PostPledge(Pledge(kTianjin, "vegetable", 40, 15));        // 1: pays 15
  PostOffer(Offer(kLankao, "vegetable.cabbage", 100, 20));  // 1: asks 20
  AmendOfferCommand c = OfferAmend(1);
  c.has_floor_price = true;
  c.floor_price_fen_per_kg = 15;
  OfferResult r = Amend(c);
  ASSERT_THAT(r.matches, SizeIs(1));
  EXPECT_EQ(r.matches[0].match_id, 1u);
  EXPECT_EQ(r.matches[0].pledge_id, 1u);
  EXPECT_EQ(r.matches[0].quantity_kg, 40);
  EXPECT_EQ(r.matches[0].price_fen_per_kg, 15);  // the resting pledge's
  EXPECT_EQ(r.matches[0].amount_fen, 600);
  EXPECT_EQ(r.offer.remaining_kg, 60);
  EXPECT_EQ(GetPledge(1).status, OrderStatus::kFilled);

  // A pledge raising its price takes a resting offer the same way.
  PostOffer(Offer(kDingxi, "vegetable.potato", 50, 30));     // 2
  PostPledge(Pledge(kTianjin, "vegetable.potato", 20, 25));  // 2
  AmendPledgeCommand p = PledgeAmend(2);
  p.has_max_price = true;
  p.max_price_fen_per_kg = 30;
  PledgeResult pr = Amend(p);
  ASSERT_THAT(pr.matches, SizeIs(1));
  EXPECT_EQ(pr.matches[0].offer_id, 2u);
  EXPECT_EQ(pr.matches[0].price_fen_per_kg, 30);
  EXPECT_EQ(pr.matches[0].amount_fen, 600);
  EXPECT_EQ(pr.pledge.status, OrderStatus::kFilled);
}

TEST_F(AmendTest, OnlyAnOpenOrderCanBeAmended) {
  PostOffer(Offer(kLankao, "vegetable.cabbage", 100, 20));  // 1
  ASSERT_TRUE(RunCommand(engine_, CancelOfferCommand{1}, kT0).ok());
  AmendOfferCommand c = OfferAmend(1);
  c.has_quantity_kg = true;
  c.quantity_kg = 50;
  absl::StatusOr<OfferResult> r = RunCommand(engine_, c, kT0);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(),
              HasSubstr("offer 1 is CANCELLED; only an OPEN offer can be "
                        "amended"));
  ExpectRefusedWithoutEffect(engine_, MakeTestCommand(c, kT0),
                             absl::StatusCode::kFailedPrecondition);
  ExpectRefusedWithoutEffect(engine_, MakeTestCommand(OfferAmend(2), kT0),
                             absl::StatusCode::kNotFound);
  ExpectRefusedWithoutEffect(engine_, MakeTestCommand(PledgeAmend(1), kT0),
                             absl::StatusCode::kNotFound);
}

TEST_F(AmendTest, RefusedAmendmentsNameTheFieldAndChangeNothing) {
  PostOffer(Offer(kLankao, "vegetable.cabbage", 100, 20));  // 1
  PostPledge(Pledge(kTianjin, "fruit", 100, 40));           // 1
  struct Case {
    AmendOfferCommand offer;
    std::string field;
  };
  std::vector<Case> offer_cases;
  AmendOfferCommand c = OfferAmend(1);
  c.has_quantity_kg = true;
  c.quantity_kg = 0;
  offer_cases.push_back({c, "quantity_kg: 0 is out of range"});
  c = OfferAmend(1);
  c.has_floor_price = true;
  c.floor_price_fen_per_kg = kMaxPriceFenPerKg + 1;
  offer_cases.push_back({c, "floor_price_fen_per_kg"});
  c = OfferAmend(1);
  c.has_quantity_kg = true;
  c.quantity_kg = kMaxQuantityKg;
  c.has_floor_price = true;
  c.floor_price_fen_per_kg = kMaxPriceFenPerKg;
  offer_cases.push_back({c, "overflows"});
  c = OfferAmend(1);
  c.has_min_lot = true;
  c.min_lot_kg = 101;
  offer_cases.push_back({c, "min_lot_kg: 101 is out of range [0, 100]"});
  c = OfferAmend(1);
  c.has_quantity_kg = true;
  c.quantity_kg = 40;
  c.has_min_lot = true;
  c.min_lot_kg = 41;  // fine for the old quantity, not for the new one
  offer_cases.push_back({c, "min_lot_kg: 41 is out of range [0, 40]"});
  c = OfferAmend(1);
  c.has_expires_at = true;
  c.expires_at = kT0;
  offer_cases.push_back({c, "expires_at"});
  c = OfferAmend(1);
  c.has_ship_within = true;
  c.ship_within = kMinDeadlineWithin - 1;
  offer_cases.push_back({c, "ship_within"});
  c.ship_within = kMaxDeadlineWithin + 1;
  offer_cases.push_back({c, "ship_within"});
  for (const Case& k : offer_cases) {
    SCOPED_TRACE(k.field);
    const absl::Status v = engine_.Validate(MakeTestCommand(k.offer, kT0), kT0);
    EXPECT_THAT(v.message(), HasSubstr(k.field));
    ExpectRefusedWithoutEffect(engine_, MakeTestCommand(k.offer, kT0),
                               absl::StatusCode::kInvalidArgument);
  }
  AmendPledgeCommand p = PledgeAmend(1);
  p.has_scope = true;
  p.scope = static_cast<int>(Scope::kListedRegions);
  p.region_codes = {"520000"};  // well formed, unknown
  ExpectRefusedWithoutEffect(engine_, MakeTestCommand(p, kT0),
                             absl::StatusCode::kNotFound);
  p.region_codes = {};
  ExpectRefusedWithoutEffect(engine_, MakeTestCommand(p, kT0),
                             absl::StatusCode::kInvalidArgument);
  p = PledgeAmend(1);
  p.region_codes = {kGansu};  // without has_scope
  ExpectRefusedWithoutEffect(engine_, MakeTestCommand(p, kT0),
                             absl::StatusCode::kInvalidArgument);
  p = PledgeAmend(1);
  p.region_codes = {"62\n000"};
  p.has_scope = true;
  p.scope = static_cast<int>(Scope::kListedRegions);
  ExpectRefusedWithoutEffect(engine_, MakeTestCommand(p, kT0),
                             absl::StatusCode::kInvalidArgument);
  p = PledgeAmend(1);
  p.has_accept_within = true;
  p.accept_within = 0;
  ExpectRefusedWithoutEffect(engine_, MakeTestCommand(p, kT0),
                             absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GetOffer(1).quantity_kg, 100);
}

TEST_F(AmendTest, AmendedExpiryIsTheOneTheClockRetires) {
  PostOffer(Offer(kLankao, "vegetable.cabbage", 100, 20));  // 1
  PostOffer(Offer(kLankao, "vegetable.cabbage", 100, 20));  // 2
  AmendOfferCommand longer = OfferAmend(1);
  longer.has_expires_at = true;
  longer.expires_at = kLater + 1000;
  Amend(longer);
  AmendOfferCommand shorter = OfferAmend(2);
  shorter.has_expires_at = true;
  shorter.expires_at = kT0 + 10;
  Amend(shorter);
  EXPECT_EQ(Tick(engine_, kT0 + 10).expired, 1u);
  EXPECT_EQ(GetOffer(2, kT0 + 10).status, OrderStatus::kExpired);
  EXPECT_EQ(Tick(engine_, kLater).expired, 0u);  // the old expiry is gone
  EXPECT_EQ(GetOffer(1, kLater).status, OrderStatus::kOpen);
  EXPECT_EQ(Tick(engine_, kLater + 1000).expired, 1u);
  EXPECT_TRUE(engine_.CheckInvariants().ok());
}

TEST_F(AmendTest, QueuePlacesSurviveSaveAndLoad) {
  TwoEqualOffers();
  AmendOfferCommand c = OfferAmend(1);
  c.has_quantity_kg = true;
  c.quantity_kg = 120;
  c.has_ship_within = true;
  c.ship_within = Micros{48} * 3600 * 1000000;
  Amend(c);
  const std::string state = engine_.SaveState();
  Engine loaded;
  ASSERT_TRUE(loaded.LoadState(state).ok());
  EXPECT_EQ(loaded.StateHash(), engine_.StateHash());
  EXPECT_EQ(loaded.SaveState(), state);
  EXPECT_TRUE(loaded.CheckInvariants().ok());
  absl::StatusOr<PledgeResult> r = RunCommand(
      loaded, PostPledgeCommand{Pledge(kTianjin, "vegetable", 10, 40)}, kT0);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_THAT(r->matches, SizeIs(1));
  EXPECT_EQ(r->matches[0].offer_id, 2u);
}

TEST_F(AmendTest, DamagedQueuePlacesOrDeadlinesAreDataLoss) {
  TwoEqualOffers();
  AmendOfferCommand c = OfferAmend(1);
  c.has_quantity_kg = true;
  c.quantity_kg = 120;  // offer 1 gets sequence number 3
  Amend(c);
  const std::string state = engine_.SaveState();
  // Version 3 ends with the lifecycle section (ship_within per offer,
  // accept_within per pledge, 73 bytes per match), the buyers (a count of
  // 8 bytes, none here), the two queue counters, the sequence number of
  // each offer and each pledge, the standing pledges (a count, none here),
  // the alliance section (a count of members' matches and one of pledges
  // with members, 16 bytes for none) and the match events (a count and 18
  // bytes each).
  const size_t pledges = engine_.pledge_count();
  const size_t matches = engine_.last_match_id();
  const size_t tail = 8 + 16 + 8 + 18 * engine_.last_event_id();
  const size_t offer2_seq = state.size() - tail - 8 * pledges - 8;
  const size_t offer1_ship = state.size() - tail - 8 * (2 + pledges) - 16 - 8 -
                             73 * matches - 8 * pledges - 16;
  auto load = [](const std::string& bytes) {
    Engine e;
    return e.LoadState(bytes);
  };
  ASSERT_TRUE(load(state).ok());
  // Each damage is found for what it is, so the offsets above are right.
  std::string twice = state;
  twice[offer2_seq] = 3;  // offer 2 takes offer 1's place too
  EXPECT_THAT(load(twice).message(), HasSubstr("bad queue sequence numbers"));
  std::string beyond = state;
  beyond[offer2_seq] = 4;  // above the counter
  EXPECT_THAT(load(beyond).message(), HasSubstr("bad queue sequence numbers"));
  std::string no_time = state;
  for (int i = 0; i < 8; ++i) no_time[offer1_ship + i] = 0;
  EXPECT_THAT(load(no_time).message(), HasSubstr("bad ship_within"));
}

TEST_F(AmendTest, StateOfAnEngineNeverAmendedKeepsItsFormat) {
  TwoEqualOffers();
  const std::string before = engine_.SaveState();
  // An amendment that keeps every place and deadline writes the same
  // format: only the amended fields differ.
  AmendOfferCommand c = OfferAmend(1);
  c.has_quantity_kg = true;
  c.quantity_kg = 90;
  Amend(c);
  const std::string after = engine_.SaveState();
  EXPECT_EQ(before.size(), after.size());
  EXPECT_EQ(before.substr(0, 24), after.substr(0, 24));  // magic, version
}

TEST_F(AmendTest, RepeatedAmendmentAnswersTheFirstAnswer) {
  PostPledge(Pledge(kTianjin, "vegetable", 40, 15));
  PostOffer(Offer(kLankao, "vegetable.cabbage", 100, 20));
  AmendOfferCommand c = OfferAmend(1);
  c.has_floor_price = true;
  c.floor_price_fen_per_kg = 15;
  absl::StatusOr<OfferResult> first = RunCommand(engine_, c, kT0, "amend-1");
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<OfferResult> again = RunCommand(engine_, c, kT0, "amend-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  ASSERT_THAT(again->matches, SizeIs(1));
  EXPECT_EQ(again->matches[0].match_id, first->matches[0].match_id);
  EXPECT_EQ(engine_.last_match_id(), 1u);
  c.floor_price_fen_per_kg = 14;
  EXPECT_EQ(RunCommand(engine_, c, kT0, "amend-1").status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(AmendTest, RelativeExpiryResolvesAgainstTheCommandTime) {
  PostOffer(Offer(kLankao, "vegetable.cabbage", 100, 20));
  Command command = MakeCommand(OfferAmend(1), kT0 + 5);
  command.expires_in = 1000;
  ResolveExpiry(command, kT0 + 5);
  const auto& body = std::get<AmendOfferCommand>(command.body);
  EXPECT_TRUE(body.has_expires_at);
  EXPECT_EQ(body.expires_at, kT0 + 1005);
}

// --- Every bad field ---------------------------------------------------------

TEST_F(EngineTest, RefusedOfferNamesEveryBadFieldInOrderAndChangesNothing) {
  const uint64_t before = engine_.StateHash();
  OfferSpec o = Offer(kWudu, "spice.pepper", 0, 0);
  o.min_lot_kg = 5;  // against a bad quantity: not checked
  o.households = -1;
  absl::StatusOr<OfferResult> r = RunCommand(engine_, PostOfferCommand{o}, kT0);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  // The message opens as it did when only the first was reported.
  EXPECT_EQ(r.status().message(),
            "offer.quantity_kg: 0 is out of range [1, 1099511627776] (and 2 "
            "more: offer.floor_price_fen_per_kg, offer.households)");
  EXPECT_THAT(
      ViolationsOf(r.status()),
      ElementsAre(FieldViolation{"offer.quantity_kg",
                                 "0 is out of range [1, 1099511627776]"},
                  FieldViolation{"offer.floor_price_fen_per_kg",
                                 "0 is out of range [1, 1073741824]"},
                  FieldViolation{"offer.households",
                                 "-1 is out of range [0, 2147483647]"}));
  EXPECT_EQ(engine_.StateHash(), before);
  EXPECT_EQ(engine_.GetOffer(1, kT0).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(engine_.CheckInvariants().ok());
}

TEST_F(EngineTest, OneBadFieldIsRefusedAsBefore) {
  OfferSpec o = Offer(kWudu, "spice.pepper", 10, 100);
  o.min_lot_kg = 11;
  absl::StatusOr<OfferResult> r = RunCommand(engine_, PostOfferCommand{o}, kT0);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "offer.min_lot_kg: 11 is out of range [0, 10]");
  EXPECT_FALSE(r.status().GetPayload(kViolationsPayloadUrl).has_value());
  EXPECT_THAT(ViolationsOf(r.status()),
              ElementsAre(FieldViolation{"offer.min_lot_kg",
                                         "11 is out of range [0, 10]"}));
}

TEST_F(EngineTest, AnUnknownRegionFirstIsNotFoundAlone) {
  // NOT_FOUND is about the first thing found wrong, as before; only
  // INVALID_ARGUMENT lists every field.
  OfferSpec o = Offer("659999", "spice.pepper", 0, 0);
  absl::StatusOr<OfferResult> r = RunCommand(engine_, PostOfferCommand{o}, kT0);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(r.status().message()),
              ::testing::StartsWith("offer.region_code: region"));
  EXPECT_THAT(ViolationsOf(r.status()), IsEmpty());

  // After an INVALID_ARGUMENT one it is left out: the code stays the
  // first error's.
  o.supplier_id = "";
  r = RunCommand(engine_, PostOfferCommand{o}, kT0);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<std::string> fields = ViolatedFields(r.status());
  EXPECT_THAT(fields, ElementsAre("offer.supplier_id", "offer.quantity_kg",
                                  "offer.floor_price_fen_per_kg"));
}

TEST_F(EngineTest, RefusedRegionNamesEveryBadFieldInOrderAndChangesNothing) {
  const uint64_t before = engine_.StateHash();
  absl::Status s =
      RunCommand(engine_,
                 UpsertRegionCommand{Region{"62120", std::string(65, 'x')}},
                 kT0)
          .status();
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  // The message opens as it did when only the first was reported.
  EXPECT_THAT(std::string(s.message()),
              ::testing::StartsWith("region.code: \"62120\" is not a "
                                    "six-digit GB/T 2260 region code"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("(and 1 more: region.name)"));
  EXPECT_THAT(ViolatedFields(s), ElementsAre("region.code", "region.name"));
  EXPECT_EQ(engine_.StateHash(), before);
  EXPECT_TRUE(engine_.CheckInvariants().ok());
}

TEST_F(EngineTest, RefusedPairingNamesEveryBadFieldInOrderAndChangesNothing) {
  const uint64_t before = engine_.StateHash();
  const std::string long_note(kMaxPairingNoteBytes + 1, 'n');
  absl::Status s =
      RunCommand(engine_,
                 UpsertPairingCommand{Pairing{"3702", "west", long_note}}, kT0)
          .status();
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              ::testing::StartsWith("pairing.east_code: \"3702\" is not a"));
  EXPECT_THAT(
      ViolatedFields(s),
      ElementsAre("pairing.east_code", "pairing.west_code", "pairing.note"));

  // Sides that are one region are found only once both are sound codes,
  // and named with a bad note.
  s = RunCommand(engine_,
                 UpsertPairingCommand{Pairing{kQingdao, kQingdao, long_note}},
                 kT0)
          .status();
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ViolatedFields(s),
              ElementsAre("pairing.note", "pairing.west_code"));

  // An unknown region found first is still NOT_FOUND alone.
  s = RunCommand(engine_,
                 UpsertPairingCommand{Pairing{"659999", "west", long_note}},
                 kT0)
          .status();
  ASSERT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()),
              ::testing::StartsWith("pairing.east_code: region"));
  EXPECT_THAT(ViolatedFields(s), IsEmpty());

  bool more = false;
  EXPECT_THAT(engine_.ListPairings("", "", "", 10, &more), IsEmpty());
  EXPECT_EQ(engine_.StateHash(), before);
  EXPECT_TRUE(engine_.CheckInvariants().ok());
}

TEST_F(EngineTest, RefusedThresholdsNameEveryBadFieldInOrderAndChangeNothing) {
  const uint64_t before = engine_.StateHash();
  AlertThresholds t;
  t.category = "spice.pepper";  // a product, not a category
  t.horizon = kHour + 1;        // not whole seconds
  t.min_gap_kg = 0;
  t.min_ratio_permille = 999;
  t.clear_permille = 1001;
  absl::Status s =
      RunCommand(engine_, SetAlertThresholdsCommand{t}, kT0).status();
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              ::testing::StartsWith("thresholds.category: \"spice.pepper\" is "
                                    "not a category (one segment, no '.')"));
  EXPECT_THAT(
      ViolatedFields(s),
      ElementsAre("thresholds.category", "thresholds.horizon",
                  "thresholds.min_gap_kg", "thresholds.min_ratio_permille",
                  "thresholds.clear_permille"));
  EXPECT_EQ(engine_.StateHash(), before);
}

TEST_F(EngineTest, RefusedClearingPolicyNamesBothBadFieldsAndChangesNothing) {
  const uint64_t before = engine_.StateHash();
  absl::Status s =
      RunCommand(engine_, SetClearingPolicyCommand{"Spice", 1500}, kT0)
          .status();
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              ::testing::StartsWith("product_prefix: "));
  EXPECT_THAT(std::string(s.message()), HasSubstr("(and 1 more: interval)"));
  EXPECT_THAT(ViolatedFields(s), ElementsAre("product_prefix", "interval"));
  EXPECT_THAT(engine_.ClearingPolicies(), IsEmpty());
  EXPECT_EQ(engine_.StateHash(), before);
}

TEST_F(EngineTest, RefusedKeyNamesEveryBadFieldInOrderAndChangesNothing) {
  const uint64_t before = engine_.StateHash();
  CreateKeyCommand c;
  c.principal.name = "";
  c.principal.role = 99;
  c.principal.supplier_ids = {"coop", "coop"};
  c.secret_sha256 = "short";
  c.expires_at = kT0;  // not later than now
  absl::Status s = RunCommand(engine_, c, kT0).status();
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              ::testing::StartsWith("principal.name: is empty"));
  EXPECT_THAT(ViolatedFields(s), ElementsAre("principal.name", "principal.role",
                                             "principal.supplier_ids[1]",
                                             "secret_sha256", "expires_at"));

  // A known role with sound lists that do not fit it is named too.
  c.principal.role = static_cast<int>(Role::kBuyer);
  c.principal.supplier_ids = {"coop"};
  s = RunCommand(engine_, c, kT0).status();
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("principal.name", "principal",
                                             "secret_sha256", "expires_at"));

  bool more = false;
  EXPECT_THAT(engine_.ListKeys(0, 10, &more), IsEmpty());
  EXPECT_EQ(engine_.StateHash(), before);
}

TEST_F(EngineTest, RefusedPledgeNamesEveryBadFieldAndSkipsWhatReadsThem) {
  const uint64_t before = engine_.StateHash();
  PledgeSpec p = Pledge(kQingdao, "spice", 10, 0);
  p.min_grade = 9;
  p.budget_fen = 1;   // buys no lot at a bad price: not checked
  p.min_lot_kg = 20;  // above the quantity
  p.expires_at = kT0;
  absl::StatusOr<PledgeResult> r =
      RunCommand(engine_, PostPledgeCommand{p}, kT0);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<std::string> fields = ViolatedFields(r.status());
  EXPECT_THAT(fields,
              ElementsAre("pledge.min_grade", "pledge.max_price_fen_per_kg",
                          "pledge.min_lot_kg", "pledge.expires_at"));
  EXPECT_THAT(std::string(r.status().message()),
              ::testing::StartsWith("pledge.min_grade: 9 is out of range "
                                    "[0, 3] (and 3 more: "));
  EXPECT_EQ(engine_.StateHash(), before);
}

// Checks that multiply fields run only on fields found sound: not after
// the amount overflowed, and not after an error of another code (whose
// later checks are not recorded). Under UBSan an unguarded multiply here
// aborts the test.
TEST_F(EngineTest, BudgetCheckNeverMultipliesUncheckedFields) {
  const uint64_t before = engine_.StateHash();
  PledgeSpec p = Pledge(kQingdao, "spice", int64_t{1} << 40, 1);
  p.max_price_fen_per_kg = int64_t{1} << 30;  // in range, amount overflows
  p.min_lot_kg = int64_t{1} << 40;
  p.budget_fen = 1;
  absl::StatusOr<PledgeResult> r =
      RunCommand(engine_, PostPledgeCommand{p}, kT0);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("overflows a 64-bit amount"));
  for (const FieldViolation& v : ViolationsOf(r.status())) {
    EXPECT_NE(v.field, "pledge.budget_fen") << v.reason;
  }
  // An unknown city first (NOT_FOUND, answered alone), then a price far
  // out of range with a lot and a budget that would multiply it.
  PledgeSpec q = Pledge(kQingdao, "spice", 10, 1);
  q.buyer_city_code = "370299";
  q.max_price_fen_per_kg = int64_t{1} << 62;
  q.min_lot_kg = 4;
  q.budget_fen = 1;
  r = RunCommand(engine_, PostPledgeCommand{q}, kT0);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << r.status();
  EXPECT_EQ(engine_.StateHash(), before);
}

TEST_F(EngineTest, RefusedAmendmentNamesEveryBadFieldAndChangesNothing) {
  const uint64_t id =
      PostOffer(Offer(kWudu, "spice.pepper", 10, 100)).offer.offer_id;
  const uint64_t before = engine_.StateHash();
  AmendOfferCommand c;
  c.offer_id = id;
  c.has_floor_price = true;
  c.floor_price_fen_per_kg = -5;
  c.has_min_lot = true;
  c.min_lot_kg = 11;
  c.has_expires_at = true;
  c.expires_at = kT0 - 1;
  absl::StatusOr<OfferResult> r = RunCommand(engine_, c, kT0);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<std::string> fields = ViolatedFields(r.status());
  EXPECT_THAT(fields, ElementsAre("floor_price_fen_per_kg", "min_lot_kg",
                                  "expires_at"));
  EXPECT_EQ(engine_.StateHash(), before);
  EXPECT_EQ(GetOffer(id).floor_price_fen_per_kg, 100);

  // An unknown order is NOT_FOUND, whatever else is wrong.
  c.offer_id = 999;
  EXPECT_EQ(RunCommand(engine_, c, kT0).status().code(),
            absl::StatusCode::kNotFound);
}

// An error of another code first is the answer alone; the checks after
// it are not recorded, so no field can be trusted any more.
TEST(ViolationsTest, AfterAnotherCodeFirstEveryFieldIsBad) {
  Violations v;
  EXPECT_FALSE(v.Bad("x"));
  v.Add(absl::NotFoundError("region: not known"));
  EXPECT_TRUE(v.Bad("x"));
  EXPECT_EQ(v.ToStatus().code(), absl::StatusCode::kNotFound);
}

TEST(ViolationsTest, KeepsOnePerFieldAndTheFirstErrorsCode) {
  Violations v;
  EXPECT_TRUE(v.ok());
  EXPECT_TRUE(v.ToStatus().ok());
  v.Add(absl::OkStatus());
  v.Add(absl::InvalidArgumentError("a.b: first"));
  v.Add(absl::InvalidArgumentError("a.b: again"));  // the same field
  v.Add(absl::NotFoundError("c: not found"));       // another code
  v.Add(absl::InvalidArgumentError("no field here"));
  v.Add(absl::InvalidArgumentError("d[2]: bad; \"quoted\": 7:x"));
  EXPECT_TRUE(v.Bad("a.b"));
  EXPECT_TRUE(v.Bad("c"));  // not reported, but its check failed
  EXPECT_FALSE(v.Bad("e"));
  const absl::Status s = v.ToStatus();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "a.b: first (and 2 more: another error, d[2])");
  EXPECT_THAT(ViolationsOf(s),
              ElementsAre(FieldViolation{"a.b", "first"},
                          FieldViolation{"", "no field here"},
                          FieldViolation{"d[2]", "bad; \"quoted\": 7:x"}));

  Violations other;
  other.Add(absl::FailedPreconditionError("id: closed"));
  other.Add(absl::InvalidArgumentError("x: bad"));
  EXPECT_EQ(other.ToStatus(), absl::FailedPreconditionError("id: closed"));
  EXPECT_THAT(ViolationsOf(other.ToStatus()), IsEmpty());
}

}  // namespace
}  // namespace duijie
