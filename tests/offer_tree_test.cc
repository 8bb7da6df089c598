// OfferTree against a brute-force list: after random inserts, erases and
// fit changes, FindFirst and ForEachPassing must return exactly what a scan
// of the sorted keys returns.
#include "engine/offer_tree.h"

#include <algorithm>
#include <map>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace duijie {
namespace {

// The first key > after (or any, when after is null) that passes q.
bool ScanFirst(const std::map<OfferKey, OfferFit>& offers,
               const OfferKey* after, const OfferQuery& q, OfferKey* found) {
  for (const auto& [k, fit] : offers) {
    if (after != nullptr && !(*after < k)) continue;
    int64_t capacity = q.capacity_kg;
    if (q.budget_left_fen >= 0) {
      capacity = std::min(capacity, q.budget_left_fen / k.floor_price);
    }
    if (k.floor_price <= q.max_floor && fit.lot_kg <= capacity &&
        capacity >= std::max<int64_t>(q.need_kg, 1) &&
        fit.remaining_kg >= q.need_kg && (fit.prefecture_bit & q.prefectures)) {
      *found = k;
      return true;
    }
  }
  return false;
}

// Seeds 41-60 put every quantity around 2^32 kg, where a node's subtree
// bounds saturate (OfferNodePool::kSaturatedKg): the answers must not
// change, and Check must hold after every step. Offers come from a few
// prefectures (the province itself, bit 0, and the last bit among them),
// and half the queries search one of them.
TEST(OfferTreeTest, FindFirstAgreesWithAScanUnderRandomChanges) {
  for (uint32_t seed = 1; seed <= 60; ++seed) {
    std::mt19937 rng(seed);
    const int64_t kg_base =
        seed <= 40 ? 0 : int64_t{OfferNodePool::kSaturatedKg} - 60;
    OfferNodePool pool;
    OfferTree tree;
    std::map<OfferKey, OfferFit> offers;
    uint64_t next_id = 1;
    const uint32_t prefecture_bits[] = {
        PrefectureBit(620000), PrefectureBit(620100),
        PrefectureBit(621100), PrefectureBit(621200),
        PrefectureBit(513400), uint32_t{1} << (kPrefectureBits - 1)};
    auto random_prefecture = [&] {
      return prefecture_bits[rng() % std::size(prefecture_bits)];
    };
    // A new fit keeps the offer's prefecture, as a resize does.
    auto random_fit = [&](uint32_t prefecture_bit) {
      const int64_t remaining = kg_base + 1 + rng() % 100;
      return OfferFit{std::min<int64_t>(kg_base + rng() % 120, remaining),
                      remaining, prefecture_bit};
    };
    // Expiries a little over a second apart, so that two in a row often
    // share an ExpiryRank (about two seconds) and often do not; on both
    // sides of the epoch.
    auto random_time = [&] {
      return (static_cast<Micros>(rng() % 50) - 10) * (int64_t{1} << 20);
    };
    auto pick = [&] {
      auto it = offers.begin();
      std::advance(it, rng() % offers.size());
      return it;
    };
    for (int step = 0; step < 600; ++step) {
      const uint32_t action = rng() % 6;
      if (offers.empty() || action < 3) {
        // Queue sequence numbers run against the ids (as after amendments
        // send offers to the back), so the order must follow seq alone.
        const uint64_t id = next_id++;
        const OfferKey key{random_time(), static_cast<int64_t>(1 + rng() % 40),
                           1000000 - id, id};
        const OfferFit fit = random_fit(random_prefecture());
        tree.Insert(pool, key, fit);
        offers[key] = fit;
      } else if (action < 5) {
        auto it = pick();
        ASSERT_TRUE(tree.Erase(pool, it->first)) << "seed " << seed;
        offers.erase(it);
      } else {
        auto it = pick();
        it->second = random_fit(it->second.prefecture_bit);
        tree.SetFit(pool, it->first, it->second);
      }
      ASSERT_EQ(tree.size(), offers.size());
      ASSERT_EQ(pool.live(), offers.size());
      std::vector<std::pair<OfferKey, OfferFit>> contents;
      ASSERT_TRUE(tree.Check(pool, &contents)) << "seed " << seed;
      ASSERT_EQ(contents.size(), offers.size());
      for (const auto& [key, fit] : contents) {
        ASSERT_EQ(fit.prefecture_bit, offers[key].prefecture_bit);
      }
      // ForEachNode visits each offer once.
      std::vector<uint64_t> visited;
      tree.ForEachNode(pool, [&](const OfferNodePool::Node& node) {
        visited.push_back(node.offer_id);
      });
      std::vector<uint64_t> ids;
      for (const auto& [key, fit] : offers) ids.push_back(key.offer_id);
      std::sort(visited.begin(), visited.end());
      std::sort(ids.begin(), ids.end());
      ASSERT_EQ(visited, ids) << "seed " << seed << " step " << step;
      const int64_t max_floor = rng() % 45;
      const int64_t capacity = kg_base + rng() % 130;
      const int64_t need = kg_base + rng() % 100;
      const int64_t budget =
          rng() % 2
              ? -1
              : (kg_base == 0 ? static_cast<int64_t>(rng() % 3000)
                              : (kg_base + rng() % 130) * (1 + rng() % 40));
      const OfferQuery query{max_floor, capacity, need, budget,
                             rng() % 2 ? ~uint32_t{0} : random_prefecture()};
      OfferKey after_key{random_time(), static_cast<int64_t>(rng() % 40),
                         1000000 - rng() % next_id};
      // AllAfter holds exactly when the first key's expiry ranks after
      // after_key's (always for an empty tree), and then every key is after
      // it.
      const bool all_after = tree.AllAfter(after_key);
      ASSERT_EQ(all_after,
                offers.empty() ||
                    OfferTree::ExpiryRank(offers.begin()->first.expires_at) >
                        OfferTree::ExpiryRank(after_key.expires_at))
          << "seed " << seed << " step " << step;
      if (all_after && !offers.empty()) {
        ASSERT_TRUE(after_key < offers.begin()->first);
      }
      const OfferKey* after = rng() % 2 ? &after_key : nullptr;
      OfferKey want, got;
      const bool want_found = ScanFirst(offers, after, query, &want);
      ASSERT_EQ(tree.FindFirst(pool, after, query, &got), want_found)
          << "seed " << seed << " step " << step;
      if (want_found) {
        ASSERT_EQ(got, want) << "seed " << seed;
      }
      // ForEachPassing gives every passing key in order, and stops when
      // told to: here after a random number of them.
      std::vector<OfferKey> all_passing;
      for (const OfferKey* at = nullptr; ScanFirst(offers, at, query, &want);) {
        all_passing.push_back(want);
        at = &all_passing.back();
      }
      const size_t stop_after = rng() % (all_passing.size() + 2);
      std::vector<OfferKey> walked;
      tree.ForEachPassing(pool, query, [&](const OfferKey& key) {
        walked.push_back(key);
        return walked.size() < stop_after;
      });
      const size_t expect =
          std::min(all_passing.size(), std::max<size_t>(stop_after, 1));
      ASSERT_EQ(walked.size(), expect) << "seed " << seed << " step " << step;
      for (size_t i = 0; i < walked.size(); ++i) {
        ASSERT_EQ(walked[i], all_passing[i]) << "seed " << seed;
      }
      if (!offers.empty()) {
        int64_t min_floor = offers.begin()->first.floor_price;
        for (const auto& [k, fit] : offers) {
          min_floor = std::min(min_floor, k.floor_price);
        }
        ASSERT_EQ(tree.min_floor(), min_floor);
      }
    }
  }
}

// Grows a shelf to thousands of offers and drains it again in random
// order, with partial fills between: the tree stays well formed (Check),
// holds exactly the offers put in, and finds what a scan finds, down to
// the emptied tree.
TEST(OfferTreeTest, GrowsAndDrainsToEmpty) {
  std::mt19937 rng(7);
  OfferNodePool pool;
  OfferTree tree;
  std::map<OfferKey, OfferFit> offers;
  std::vector<OfferKey> keys;  // the offers, for picking at random
  auto check = [&](int step) {
    std::vector<std::pair<OfferKey, OfferFit>> contents;
    ASSERT_TRUE(tree.Check(pool, &contents)) << "step " << step;
    ASSERT_EQ(contents.size(), offers.size()) << "step " << step;
    auto it = offers.begin();
    for (const auto& [key, fit] : contents) {
      ASSERT_EQ(key, it->first) << "step " << step;
      ASSERT_EQ(fit.lot_kg, it->second.lot_kg) << "step " << step;
      ASSERT_EQ(fit.remaining_kg, it->second.remaining_kg) << "step " << step;
      ASSERT_EQ(fit.prefecture_bit, it->second.prefecture_bit)
          << "step " << step;
      ++it;
    }
    ASSERT_EQ(pool.live(), offers.size());
    for (int i = 0; i < 4; ++i) {
      // Half the searches are of one of a province's 21 prefectures.
      const OfferQuery query{
          static_cast<int64_t>(rng() % 1000), static_cast<int64_t>(rng() % 130),
          static_cast<int64_t>(rng() % 100), -1,
          i < 2 ? ~uint32_t{0}
                : PrefectureBit(510000 + 100 * (1 + rng() % 21))};
      const OfferKey after_key{static_cast<Micros>(rng() % 5000),
                               static_cast<int64_t>(rng() % 1000), 0};
      const OfferKey* after = i % 2 ? &after_key : nullptr;
      OfferKey want, got;
      const bool want_found = ScanFirst(offers, after, query, &want);
      ASSERT_EQ(tree.FindFirst(pool, after, query, &got), want_found)
          << "step " << step;
      if (want_found) {
        ASSERT_EQ(got, want) << "step " << step;
      }
    }
  };
  uint64_t next_id = 1;
  for (int step = 0; step < 12000; ++step) {
    const bool growing = step < 6000;
    const uint32_t action = rng() % 10;
    if (offers.empty() || action < (growing ? 7u : 1u)) {
      const uint64_t id = next_id++;
      // Expiries mostly later than those before, as a shelf fills.
      const OfferKey key{static_cast<Micros>(step / 2 + rng() % 800),
                         static_cast<int64_t>(1 + rng() % 999), id, id};
      const int64_t remaining = 1 + rng() % 100;
      const OfferFit fit{std::min<int64_t>(rng() % 120, remaining), remaining,
                         PrefectureBit(510000 + 100 * (1 + rng() % 21))};
      tree.Insert(pool, key, fit);
      offers[key] = fit;
      keys.push_back(key);
    } else if (action < 8 || !growing) {
      const size_t i = rng() % keys.size();
      ASSERT_TRUE(tree.Erase(pool, keys[i])) << "step " << step;
      offers.erase(keys[i]);
      keys[i] = keys.back();
      keys.pop_back();
    } else {
      const OfferKey& key = keys[rng() % keys.size()];
      const int64_t remaining = 1 + rng() % offers[key].remaining_kg;
      offers[key] = OfferFit{std::min(offers[key].lot_kg, remaining), remaining,
                             offers[key].prefecture_bit};
      tree.SetFit(pool, key, offers[key]);
    }
    if (step % 97 == 0 || offers.size() < 40) {
      check(step);
      if (HasFatalFailure()) return;
    }
    if (!growing && offers.empty()) break;
  }
  EXPECT_TRUE(offers.empty());
  EXPECT_TRUE(tree.empty());
  check(-1);
}

// Nodes keep offer ids in 32 bits: the largest allowed, kMaxOfferId, comes
// back whole from every read.
TEST(OfferTreeTest, TheLargestOfferIdRoundTrips) {
  OfferNodePool pool;
  OfferTree tree;
  const OfferKey key{10, 5, 1, 0xffffffffu};
  tree.Insert(pool, key, OfferFit{0, 100, PrefectureBit(621200)});
  OfferKey found;
  ASSERT_TRUE(tree.FindFirst(pool, nullptr, OfferQuery{10, 50, 1, -1}, &found));
  EXPECT_EQ(found, key);
  std::vector<std::pair<OfferKey, OfferFit>> contents;
  ASSERT_TRUE(tree.Check(pool, &contents));
  ASSERT_EQ(contents.size(), 1u);
  EXPECT_EQ(contents[0].first.offer_id, 0xffffffffu);
  EXPECT_TRUE(tree.Erase(pool, key));
  EXPECT_TRUE(tree.empty());
}

TEST(OfferTreeTest, EraseOfAnAbsentKeyChangesNothing) {
  OfferNodePool pool;
  OfferTree tree;
  tree.Insert(pool, OfferKey{10, 5, 1, 1}, OfferFit{0, 100});
  EXPECT_FALSE(tree.Erase(pool, OfferKey{10, 5, 2, 2}));
  EXPECT_EQ(tree.size(), 1u);
  OfferKey found;
  ASSERT_TRUE(tree.FindFirst(pool, nullptr, OfferQuery{5, 100, 100}, &found));
  EXPECT_EQ(found.offer_id, 1u);
  EXPECT_FALSE(tree.FindFirst(pool, nullptr, OfferQuery{4, 100, 100}, &found));
}

TEST(OfferTreeTest, OffersOfTheWrongSizeArePassedOver) {
  OfferNodePool pool;
  OfferTree tree;
  tree.Insert(pool, OfferKey{1, 5, 1, 1}, OfferFit{500, 900});  // min lot 500
  tree.Insert(pool, OfferKey{2, 5, 2, 2}, OfferFit{0, 30});     // only 30 left
  tree.Insert(pool, OfferKey{3, 5, 3, 3}, OfferFit{50, 200});
  OfferKey found;
  // A pledge that takes 100 kg with a 40 kg min lot: the first is too big a
  // lot, the second too small a remainder.
  ASSERT_TRUE(tree.FindFirst(pool, nullptr, OfferQuery{5, 100, 40}, &found));
  EXPECT_EQ(found.offer_id, 3u);
  tree.SetFit(pool, OfferKey{3, 5, 3, 3}, OfferFit{20, 20});
  EXPECT_FALSE(tree.FindFirst(pool, nullptr, OfferQuery{5, 100, 40}, &found));
}

TEST(OfferTreeTest, OffersThePledgesBudgetCannotFillArePassedOver) {
  OfferNodePool pool;
  OfferTree tree;
  tree.Insert(pool, OfferKey{1, 50, 1, 1}, OfferFit{100, 500});  // lots of 100
  tree.Insert(pool, OfferKey{2, 20, 2, 2}, OfferFit{100, 500});
  OfferKey found;
  // 4,000 fen buys 80 kg at 50 fen/kg (under the lot) but 200 kg at 20.
  ASSERT_TRUE(
      tree.FindFirst(pool, nullptr, OfferQuery{60, 300, 0, 4000}, &found));
  EXPECT_EQ(found.offer_id, 2u);
  EXPECT_FALSE(
      tree.FindFirst(pool, nullptr, OfferQuery{60, 300, 0, 1999}, &found));
}

}  // namespace
}  // namespace duijie
