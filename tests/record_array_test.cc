// RecordArray against std::vector: the same operations, the same contents,
// across block boundaries.
#include "engine/record_array.h"

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace duijie {
namespace {

// A record with a heap part, so that copies, moves and resets show.
struct Item {
  int64_t value = 0;
  std::vector<int32_t> codes;
  friend bool operator==(const Item& a, const Item& b) {
    return a.value == b.value && a.codes == b.codes;
  }
};

constexpr size_t kBlock = RecordArray<Item>::kBlockSize;

void ExpectSame(const RecordArray<Item>& got, const std::vector<Item>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(got[i], want[i]) << "index " << i;
  }
  size_t walked = 0;
  for (const Item& item : got) {
    ASSERT_EQ(item, want[walked]) << "iterating, index " << walked;
    ++walked;
  }
  EXPECT_EQ(walked, want.size());
}

TEST(RecordArrayTest, RandomOperationsMatchAVector) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    RecordArray<Item> got;
    std::vector<Item> want;
    for (int step = 0; step < 400; ++step) {
      const uint32_t action = rng() % 10;
      if (action < 5) {
        // Bursts, so that the size crosses block boundaries often.
        const int n = 1 + rng() % 900;
        for (int i = 0; i < n; ++i) {
          Item item{static_cast<int64_t>(rng()), {}};
          if (rng() % 4 == 0) item.codes.assign(1 + rng() % 3, rng() % 100);
          got.push_back(item);
          want.push_back(item);
        }
      } else if (action < 7) {
        // Grow or shrink to a size near a block boundary, or anywhere.
        size_t n = rng() % (want.size() + 2 * kBlock);
        if (rng() % 2) n = (n / kBlock) * kBlock + (rng() % 3) - 1;
        if (n > 4 * kBlock) n = 4 * kBlock;
        got.resize(n);
        want.resize(n);
      } else if (action < 9 && !want.empty()) {
        const size_t i = rng() % want.size();
        want[i].value = rng();
        want[i].codes.push_back(static_cast<int32_t>(i));
        got[i] = want[i];
      } else {
        got.clear();
        want.clear();
      }
      ASSERT_NO_FATAL_FAILURE(ExpectSame(got, want)) << "seed " << seed;
    }
  }
}

TEST(RecordArrayTest, GrowingResetsRecordsAShrinkLeftBehind) {
  RecordArray<Item> a;
  for (size_t i = 0; i < kBlock + 10; ++i) {
    a.push_back(Item{static_cast<int64_t>(i) + 1, {7}});
  }
  a.resize(5);
  a.resize(kBlock + 10);
  EXPECT_EQ(a[4], (Item{5, {7}}));
  for (size_t i = 5; i < kBlock + 10; ++i) {
    ASSERT_EQ(a[i], Item{}) << "index " << i;
  }
  EXPECT_EQ(a.back(), Item{});
}

TEST(RecordArrayTest, CopiesAreDeepAndMovesLeaveAnEmptyArray) {
  RecordArray<Item> a;
  for (size_t i = 0; i < kBlock + 3; ++i) {
    a.push_back(Item{static_cast<int64_t>(i), {1, 2}});
  }
  RecordArray<Item> copy = a;
  copy[0].value = -1;
  copy[kBlock + 1].codes.push_back(3);
  EXPECT_EQ(a[0].value, 0);
  EXPECT_EQ(a[kBlock + 1].codes, (std::vector<int32_t>{1, 2}));
  const RecordArray<Item>& same = copy;
  copy = same;  // self-assignment keeps it
  EXPECT_EQ(copy.size(), kBlock + 3);
  EXPECT_EQ(copy[0].value, -1);

  RecordArray<Item> moved = std::move(a);
  EXPECT_EQ(moved.size(), kBlock + 3);
  EXPECT_EQ(moved[kBlock + 2].value, static_cast<int64_t>(kBlock + 2));
  EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move): defined
  EXPECT_TRUE(a.begin() == a.end());
  a.push_back(Item{42, {}});  // a moved-from array is usable
  EXPECT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].value, 42);

  RecordArray<Item> assigned;
  assigned.push_back(Item{9, {}});
  assigned = std::move(moved);
  EXPECT_EQ(assigned.size(), kBlock + 3);
  EXPECT_EQ(moved.size(), 0u);  // NOLINT(bugprone-use-after-move): defined
  moved.push_back(Item{1, {}});
  EXPECT_EQ(moved[0].value, 1);
}

}  // namespace
}  // namespace duijie
