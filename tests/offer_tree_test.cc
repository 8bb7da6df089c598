// OfferTree against a brute-force list: after random inserts and erases,
// FindFirst must return exactly what a scan of the sorted keys returns.
#include "engine/offer_tree.h"

#include <algorithm>
#include <random>
#include <set>

#include "gtest/gtest.h"

namespace duijie {
namespace {

// The first key > after (or any, when after is null) with floor <= max.
bool ScanFirst(const std::set<OfferKey>& keys, const OfferKey* after,
               int64_t max_floor, OfferKey* found) {
  for (const OfferKey& k : keys) {
    if (after != nullptr && !(*after < k)) continue;
    if (k.floor_price <= max_floor) {
      *found = k;
      return true;
    }
  }
  return false;
}

TEST(OfferTreeTest, FindFirstAgreesWithAScanUnderRandomInsertsAndErases) {
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    std::mt19937 rng(seed);
    OfferNodePool pool;
    OfferTree tree;
    std::set<OfferKey> keys;
    uint64_t next_id = 1;
    for (int step = 0; step < 600; ++step) {
      if (keys.empty() || rng() % 3 != 0) {
        const OfferKey key{static_cast<Micros>(rng() % 50),
                           static_cast<int64_t>(1 + rng() % 40), next_id++};
        tree.Insert(pool, key);
        keys.insert(key);
      } else {
        auto it = keys.begin();
        std::advance(it, rng() % keys.size());
        ASSERT_TRUE(tree.Erase(pool, *it)) << "seed " << seed;
        keys.erase(it);
      }
      ASSERT_EQ(tree.size(), keys.size());
      ASSERT_EQ(pool.live(), keys.size());
      const int64_t max_floor = rng() % 45;
      OfferKey after_key{static_cast<Micros>(rng() % 50),
                         static_cast<int64_t>(rng() % 40), rng() % next_id};
      const OfferKey* after = rng() % 2 ? &after_key : nullptr;
      OfferKey want, got;
      const bool want_found = ScanFirst(keys, after, max_floor, &want);
      ASSERT_EQ(tree.FindFirst(pool, after, max_floor, &got), want_found)
          << "seed " << seed << " step " << step;
      if (want_found) {
        ASSERT_EQ(got, want) << "seed " << seed;
      }
      if (!keys.empty()) {
        int64_t min_floor = keys.begin()->floor_price;
        for (const OfferKey& k : keys) {
          min_floor = std::min(min_floor, k.floor_price);
        }
        ASSERT_EQ(tree.min_floor(pool), min_floor);
      }
    }
  }
}

TEST(OfferTreeTest, EraseOfAnAbsentKeyChangesNothing) {
  OfferNodePool pool;
  OfferTree tree;
  tree.Insert(pool, OfferKey{10, 5, 1});
  EXPECT_FALSE(tree.Erase(pool, OfferKey{10, 5, 2}));
  EXPECT_EQ(tree.size(), 1u);
  OfferKey found;
  ASSERT_TRUE(tree.FindFirst(pool, nullptr, 5, &found));
  EXPECT_EQ(found.offer_id, 1u);
  EXPECT_FALSE(tree.FindFirst(pool, nullptr, 4, &found));
}

}  // namespace
}  // namespace duijie
