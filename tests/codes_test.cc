// Region and product code rules: what is well-formed, and who covers whom.
#include "engine/codes.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace duijie {
namespace {

using ::testing::HasSubstr;

TEST(RegionCodeTest, AcceptsProvincePrefectureAndCountyCodes) {
  int32_t code = 0;
  EXPECT_TRUE(ParseRegionCode("620000", &code));
  EXPECT_EQ(code, 620000);
  EXPECT_TRUE(ParseRegionCode("621200", &code));
  EXPECT_TRUE(ParseRegionCode("621202", &code));
  EXPECT_EQ(code, 621202);
}

TEST(RegionCodeTest, RejectsWrongLengthNonDigitsZeroProvinceAndOrphanCounty) {
  int32_t code = 0;
  EXPECT_FALSE(ParseRegionCode("62120", &code));
  EXPECT_FALSE(ParseRegionCode("6212021", &code));
  EXPECT_FALSE(ParseRegionCode("62a202", &code));
  EXPECT_FALSE(ParseRegionCode("001200", &code));
  EXPECT_FALSE(ParseRegionCode("620012", &code));
  EXPECT_FALSE(ParseRegionCode("", &code));
}

TEST(RegionCodeTest, ErrorNamesTheFieldAndTheValue) {
  int32_t code = 0;
  const absl::Status s = CheckRegionCode("offer.region_code", "62x", &code);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("offer.region_code"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("62x"));
}

TEST(RegionCodeTest, ChainRunsFromTheCodeUpToItsProvince) {
  EXPECT_THAT(RegionChainOf(621202),
              ::testing::ElementsAre(621202, 621200, 620000));
  EXPECT_THAT(RegionChainOf(621200), ::testing::ElementsAre(621200, 620000));
  EXPECT_THAT(RegionChainOf(620000), ::testing::ElementsAre(620000));
  EXPECT_EQ(RegionCodeString(120103), "120103");
}

TEST(RegionCodeTest, AncestorsCoverDescendantsButNotSiblings) {
  EXPECT_TRUE(RegionCovers(620000, 621202));
  EXPECT_TRUE(RegionCovers(621200, 621202));
  EXPECT_TRUE(RegionCovers(621202, 621202));
  EXPECT_FALSE(RegionCovers(621100, 621202));
  EXPECT_FALSE(RegionCovers(621202, 621200));
  EXPECT_FALSE(RegionCovers(610000, 621202));
}

TEST(ProductCodeTest, AcceptsDotPathsOfLowerCaseSegments) {
  EXPECT_TRUE(CheckProductCode("p", "vegetable.cabbage").ok());
  EXPECT_TRUE(CheckProductCode("p", "fruit.apple.fuji").ok());
  EXPECT_TRUE(CheckProductCode("p", "spice.sichuan_pepper2").ok());
}

TEST(ProductCodeTest, RejectsEmptyUpperCaseLeadingDigitAndEmptySegments) {
  for (const char* bad :
       {"", "Vegetable", "vegetable.", ".cabbage", "vegetable..cabbage",
        "fruit.1apple", "a b", "a.b.c.d.e.f.g"}) {
    const absl::Status s = CheckProductCode("pledge.product_code", bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(s.message()), HasSubstr("pledge.product_code"));
  }
}

TEST(ProductCodeTest, EveryByteIsJudgedByItsPlaceInTheSegment) {
  // A segment starts with a-z and goes on with a-z, 0-9 or _, whatever
  // the byte (a table decides it).
  for (int byte = 0; byte < 256; ++byte) {
    const char c = static_cast<char>(byte);
    const bool lower = c >= 'a' && c <= 'z';
    const bool tail = lower || (c >= '0' && c <= '9') || c == '_';
    EXPECT_EQ(CheckProductCode("p", std::string("fruit.") + c).ok(), lower)
        << byte;
    EXPECT_EQ(CheckProductCode("p", std::string("fruit.a") + c + "b").ok(),
              tail || c == '.')
        << byte;
  }
}

TEST(ProductCodeTest, AncestorsCoverWholeSegmentsOnly) {
  EXPECT_TRUE(ProductCovers("vegetable", "vegetable.cabbage"));
  EXPECT_TRUE(ProductCovers("vegetable.cabbage", "vegetable.cabbage"));
  EXPECT_TRUE(ProductCovers("", "vegetable.cabbage"));
  EXPECT_FALSE(ProductCovers("veg", "vegetable.cabbage"));
  EXPECT_FALSE(ProductCovers("vegetable", "vegetables.cabbage"));
  EXPECT_FALSE(ProductCovers("vegetable.cabbage", "vegetable"));
  EXPECT_EQ(ProductParent("fruit.apple.fuji"), "fruit.apple");
  EXPECT_EQ(ProductParent("fruit"), "");
}

}  // namespace
}  // namespace duijie
