// OfferTree: the resting offers of one shelf, ordered by the priority an
// incoming pledge gives them, and searchable by floor price in O(log n).
//
// Offers in a shelf share product, grade, certification, region flag and
// province (or the whole country), so what is left to filter is the floor
// against the pledge's max price, the lots (an offer whose min lot is more
// than the pledge can take, or whose remainder is less than the pledge's
// min lot, cannot fill) and, for a search of one prefecture or county, the
// prefecture. A treap ordered by (expires_at, floor, seq) whose nodes also
// keep, over their subtree, the lowest floor, the lowest lot threshold, the
// largest remainder and a set of prefectures answers "the first offer in
// priority order after a given key that passes all four" by descending only
// into subtrees that may hold one, so offers too dear, of the wrong size or
// from elsewhere cost little to pass over. (The four bounds are kept
// separately, so a subtree can pass each without holding one offer that
// passes all; that is rare in practice.)
//
// Nodes live in an OfferNodePool shared by all trees (indices, not
// pointers). Treap priorities are a hash of the offer id, so the shape is
// deterministic.
#ifndef DUIJIE_ENGINE_OFFER_TREE_H_
#define DUIJIE_ENGINE_OFFER_TREE_H_

#include <algorithm>
#include <cstdint>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/functional/function_ref.h"
#include "engine/record_array.h"
#include "engine/types.h"

namespace duijie {

// Priority order of resting offers within a shelf: earliest expiry, then
// lowest floor, then earliest in the queue (OfferRecord::seq: posting
// order, except that an amendment can send an offer to the back). Sequence
// numbers are unique, so offer_id only says which offer a key is.
struct OfferKey {
  Micros expires_at = 0;
  int64_t floor_price = 0;
  uint64_t seq = 0;
  uint64_t offer_id = 0;

  friend bool operator<(const OfferKey& a, const OfferKey& b) {
    return std::tie(a.expires_at, a.floor_price, a.seq) <
           std::tie(b.expires_at, b.floor_price, b.seq);
  }
  friend bool operator==(const OfferKey& a, const OfferKey& b) {
    return a.offer_id == b.offer_id && a.expires_at == b.expires_at &&
           a.floor_price == b.floor_price && a.seq == b.seq;
  }
};

// How an offer's size fits a pledge. An offer can fill a pledge that can
// take C kg only if C >= lot_kg, where lot_kg = min(min lot, remaining); and
// only if remaining_kg >= min(the pledge's min lot, the pledge's remainder).
// prefecture_bit is PrefectureBit of the offer's region (a shelf holds one
// province's offers; see OfferQuery::prefectures).
struct OfferFit {
  int64_t lot_kg = 0;
  int64_t remaining_kg = 0;
  uint32_t prefecture_bit = 1;  // one bit; 1: the province itself
};

// The bit standing for a region's prefecture among its province's: its
// prefecture number (the code's middle two digits) modulo 27; bit 0 for the
// province itself. Numbers are not dense (autonomous prefectures run from
// 21 to 34, some units are 90), so prefectures of a province can share a
// bit (Gansu's 620200 and 622900, Sichuan's 510500 and 513200): a shared
// bit only makes a search read more, as the search tests the region
// itself.
inline constexpr int kPrefectureBits = 27;
inline uint32_t PrefectureBit(int32_t region) {
  return uint32_t{1} << ((region / 100 % 100) % kPrefectureBits);
}

// What a pledge searches for. With C = min(capacity_kg, budget_left_fen /
// floor) (just capacity_kg without a budget), an offer passes when floor <=
// max_floor, lot_kg <= C, C >= max(need_kg, 1), remaining_kg >= need_kg and
// its prefecture bit is one of `prefectures`.
// For a pledge with remainder R, min lot M and budget left B, querying with
// (max price, R, min(M, R), B) passes exactly the offers it can fill at
// their floor (see FillQuantity in engine.cc).
// A search of one prefecture (or a county) on its province's shelf also
// sets `prefectures` to its PrefectureBit, and subtrees that hold no offer
// with that bit are not read. The region itself is the caller's to test on
// what passes (another prefecture may share the bit; a county is one of
// its prefecture's).
struct OfferQuery {
  int64_t max_floor = 0;
  int64_t capacity_kg = 0;
  int64_t need_kg = 0;
  int64_t budget_left_fen = -1;         // -1: no budget
  uint32_t prefectures = ~uint32_t{0};  // all: no prefecture searched
};

// The nodes of all offer trees, by index. A node is one 64-byte cache line
// (aligned): a treap descent at a large book reads a cold node at each level,
// so a node that straddles two lines costs two misses where one would do.
// To fit, the offer id, the floor and the subtree bounds are 32-bit: offer
// ids are at most kMaxOfferId (2^32 - 1) and floors at most
// kMaxPriceFenPerKg (2^30 fen/kg); the lot and remainder bounds saturate at
// kSaturatedKg, which a bound only ever reads as "at least that much" (the
// lowest lot as a lower bound, the largest remainder as unbounded), so a
// saturated bound prunes less and never wrongly. A node's own lot and
// remainder are exact. The subtree's prefectures are a superset: an erase
// leaves its offer's bit where the other bounds did not change (clearing it
// would read the child off the path), and a recompute takes the children's
// sets as they stand, so a stale bit goes only when the nodes below it are
// recomputed. It only makes a search read more. Nodes are kept in a RecordArray
// (blocks that never move), so the pool grows without copying and without the
// slack of a doubling vector.
class OfferNodePool {
 public:
  static constexpr uint32_t kNil = 0xffffffffu;
  static constexpr uint32_t kSaturatedKg = 0xffffffffu;
  struct alignas(64) Node {
    Micros expires_at;
    uint64_t seq;
    int64_t lot_kg;
    int64_t remaining_kg;
    int32_t floor_price;
    uint32_t offer_id;
    // The offer's own prefecture bit's number (0..kPrefectureBits - 1) in
    // the top five bits; below them, over this node's subtree, a superset
    // of its offers' PrefectureBits.
    uint32_t prefectures;
    // Over this node's subtree:
    int32_t min_floor;
    uint32_t min_lot_kg;        // saturated at kSaturatedKg
    uint32_t max_remaining_kg;  // saturated at kSaturatedKg
    uint32_t left;
    uint32_t right;

    static constexpr uint32_t kSubtreeMask =
        (uint32_t{1} << kPrefectureBits) - 1;
    uint32_t own_prefecture_bit() const {
      return uint32_t{1} << (prefectures >> kPrefectureBits);
    }
    uint32_t subtree_prefectures() const { return prefectures & kSubtreeMask; }

    OfferKey key() const { return {expires_at, floor_price, seq, offer_id}; }
    OfferFit fit() const {
      return {lot_kg, remaining_kg, own_prefecture_bit()};
    }
  };
  static_assert(sizeof(Node) == 64);

  static uint32_t SaturatedKg(int64_t kg) {
    return kg >= kSaturatedKg ? kSaturatedKg : static_cast<uint32_t>(kg);
  }

  uint32_t Allocate(const OfferKey& key, const OfferFit& fit);
  void Free(uint32_t index);
  Node& operator[](uint32_t index) { return nodes_[index]; }
  const Node& operator[](uint32_t index) const { return nodes_[index]; }
  // Nodes in use.
  size_t live() const { return nodes_.size() - free_.size(); }

 private:
  RecordArray<Node> nodes_;  // every node ever handed out, by index
  std::vector<uint32_t> free_;
};

class OfferTree {
 public:
  // Inserts key, which must not be present.
  void Insert(OfferNodePool& pool, const OfferKey& key, const OfferFit& fit);
  // Sets the fit of key, which must be present (after a partial fill).
  void SetFit(OfferNodePool& pool, const OfferKey& key, const OfferFit& fit);
  // Removes key; returns false if it was not present.
  bool Erase(OfferNodePool& pool, const OfferKey& key);

  // Finds the first key in order that is greater than *after (or the first
  // of all when after is null) and passes `query`.
  bool FindFirst(const OfferNodePool& pool, const OfferKey* after,
                 const OfferQuery& query, OfferKey* found) const;

  // Calls fn with each key that passes `query`, in key order, until fn
  // returns false: what FindFirst would give called again and again after
  // the key it last found, but without descending from the root for each.
  void ForEachPassing(const OfferNodePool& pool, const OfferQuery& query,
                      absl::FunctionRef<bool(const OfferKey&)> fn) const;

  // Calls fn(const OfferNodePool::Node&) with each node of the tree, in no
  // particular order (reads that total a shelf, not the matching path). A
  // template, so that a read of every node costs no call per node.
  template <typename Fn>
  void ForEachNode(const OfferNodePool& pool, Fn fn) const {
    // Without recursion, and without allocating while the treap is no
    // deeper than the inline stack (a treap of a million offers is about
    // 50 high; the stack holds at most one node a level and one more).
    if (root_ == OfferNodePool::kNil) return;
    absl::InlinedVector<uint32_t, 64> stack = {root_};
    while (!stack.empty()) {
      const OfferNodePool::Node& node = pool[stack.back()];
      stack.pop_back();
      fn(node);
      if (node.left != OfferNodePool::kNil) stack.push_back(node.left);
      if (node.right != OfferNodePool::kNil) stack.push_back(node.right);
    }
  }

  // For invariant checks: whether the tree is a valid treap (keys in
  // order, heap priorities, subtree bounds, size, cached root floor), with
  // its (key, fit) pairs in order appended to *contents.
  bool Check(const OfferNodePool& pool,
             std::vector<std::pair<OfferKey, OfferFit>>* contents) const;

  bool empty() const { return root_ == OfferNodePool::kNil; }
  size_t size() const { return size_; }
  // The lowest floor in the tree; only meaningful when not empty.
  int64_t min_floor() const { return min_floor_; }

  // ExpiryRank(t) orders times as they are ordered, coarsely (about two
  // seconds a step): ExpiryRank(a) > ExpiryRank(b) implies a > b.
  static int32_t ExpiryRank(Micros t) {
    const int64_t rank = t >> 21;  // arithmetic: rounds down before 1970
    return static_cast<int32_t>(
        std::clamp<int64_t>(rank, INT32_MIN, INT32_MAX));
  }
  // Whether every offer in the tree ranks after `key` in priority order,
  // judged without touching the pool: the tree's earliest expiry is later
  // than key's. False when that cannot be told at this resolution. A
  // search that already holds as many offers as it wants, the last of them
  // `key`, skips such a tree.
  bool AllAfter(const OfferKey& key) const {
    return min_expiry_rank_ > ExpiryRank(key.expires_at);
  }

 private:
  uint32_t root_ = OfferNodePool::kNil;
  uint32_t size_ = 0;
  // The root's min_floor, kept here so that a search that nothing in the
  // tree can satisfy (the common case) does not touch the pool. Floors are
  // at most kMaxPriceFenPerKg (2^30); INT32_MAX when empty.
  int32_t min_floor_ = INT32_MAX;
  // ExpiryRank of the earliest expiry in the tree (its first key's);
  // INT32_MAX when empty.
  int32_t min_expiry_rank_ = INT32_MAX;
};
static_assert(sizeof(OfferTree) == 16, "a shelf map slot stays 24 bytes");

}  // namespace duijie

#endif  // DUIJIE_ENGINE_OFFER_TREE_H_
