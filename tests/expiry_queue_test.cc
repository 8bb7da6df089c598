// ExpiryQueue against an ordered set of (expires_at, tag) pairs: the same
// entries come up in the same order, with times on both sides of the epoch
// and of bucket bounds, and tags beyond 32 bits.
#include "engine/expiry_queue.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace duijie {
namespace {

using Pair = std::pair<Micros, uint64_t>;

// What the queue should do, kept the obvious way.
class ReferenceQueue {
 public:
  void Add(Micros at, uint64_t tag) { entries_.insert({at, tag}); }
  void Remove(Micros at, uint64_t tag) { entries_.erase({at, tag}); }
  template <typename Live>
  std::vector<uint64_t> PopUntil(Micros now, Live live) {
    std::vector<uint64_t> out;
    while (!entries_.empty() && entries_.begin()->first <= now) {
      if (live(entries_.begin()->second))
        out.push_back(entries_.begin()->second);
      entries_.erase(entries_.begin());
    }
    return out;
  }

 private:
  std::set<Pair> entries_;
};

constexpr int64_t kBucket = int64_t{1} << 32;

TEST(ExpiryQueueTest, RandomOperationsMatchAnOrderedSet) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 rng(seed);
    ExpiryQueue queue;
    ReferenceQueue want;
    std::set<uint64_t> dead;  // tags whose order left early
    std::set<Pair> queued;    // what is in the queue, to pick removals from
    auto live = [&](uint64_t tag) { return dead.count(tag) == 0; };
    // Times cluster around a few bucket bounds, below and above the epoch,
    // so that entries of one bucket differ in their low 32 bits' top bit.
    const int64_t centres[] = {-3 * kBucket, -kBucket, 0, kBucket,
                               5 * kBucket + kBucket / 2};
    Micros now = -4 * kBucket;
    uint64_t next_tag = seed % 2 == 0 ? (uint64_t{1} << 40) : 1;
    for (int step = 0; step < 4000; ++step) {
      const uint64_t op = rng() % 10;
      if (op < 6) {
        const int64_t centre = centres[rng() % std::size(centres)];
        const Micros at =
            centre + static_cast<int64_t>(rng() % (kBucket / 2)) - kBucket / 4;
        if (at <= now) continue;  // orders rest only with a later expiry
        const uint64_t tag = next_tag++;
        queue.Add(at, tag);
        want.Add(at, tag);
        queued.insert({at, tag});
      } else if (op < 7 && !queued.empty()) {
        auto it = std::next(queued.begin(), rng() % queued.size());
        queue.Remove(it->first, it->second);
        want.Remove(it->first, it->second);
        queued.erase(it);
      } else if (op < 8 && !queued.empty()) {
        auto it = std::next(queued.begin(), rng() % queued.size());
        dead.insert(it->second);
      } else {
        now += static_cast<int64_t>(rng() % (kBucket / 64));
        std::vector<uint64_t> got;
        queue.PopUntil(now, live, [&](uint64_t tag) { got.push_back(tag); });
        const std::vector<uint64_t> expected = want.PopUntil(now, live);
        ASSERT_EQ(got, expected) << "seed " << seed << " step " << step;
        queued.erase(queued.begin(), queued.upper_bound({now, UINT64_MAX}));
        // AnyLiveUntil and ForEachUntil see exactly the live entries due.
        const Micros later = now + static_cast<int64_t>(rng() % kBucket);
        std::vector<uint64_t> due;
        for (const Pair& p : queued) {
          if (p.first <= later && live(p.second)) due.push_back(p.second);
        }
        std::vector<uint64_t> seen;
        queue.ForEachUntil(later, live,
                           [&](uint64_t tag) { seen.push_back(tag); });
        std::sort(seen.begin(), seen.end());
        std::sort(due.begin(), due.end());
        ASSERT_EQ(seen, due) << "seed " << seed << " step " << step;
        ASSERT_EQ(queue.AnyLiveUntil(later, live), !due.empty());
      }
    }
    // Whatever is left comes up in order at the end of time.
    std::vector<uint64_t> rest;
    queue.PopUntil(INT64_MAX, live, [&](uint64_t tag) { rest.push_back(tag); });
    ASSERT_EQ(rest, want.PopUntil(INT64_MAX, live)) << "seed " << seed;
    EXPECT_FALSE(queue.AnyLiveUntil(INT64_MAX, [](uint64_t) { return true; }));
  }
}

TEST(ExpiryQueueTest, EqualTimesComeUpByTagAcrossTheTagsHighHalf) {
  ExpiryQueue queue;
  const Micros at = -kBucket + 17;  // before the epoch
  const uint64_t tags[] = {(uint64_t{1} << 32) + 1, 5, uint64_t{1} << 33,
                           (uint64_t{1} << 32) - 1, (uint64_t{1} << 32)};
  for (uint64_t tag : tags) queue.Add(at, tag);
  queue.Add(at - 1, uint64_t{1} << 40);
  std::vector<uint64_t> got;
  queue.PopUntil(
      at, [](uint64_t) { return true; },
      [&](uint64_t tag) { got.push_back(tag); });
  EXPECT_EQ(
      got, (std::vector<uint64_t>{uint64_t{1} << 40, 5, (uint64_t{1} << 32) - 1,
                                  uint64_t{1} << 32, (uint64_t{1} << 32) + 1,
                                  uint64_t{1} << 33}));
}

}  // namespace
}  // namespace duijie
