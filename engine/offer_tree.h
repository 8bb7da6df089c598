// OfferTree: the resting offers of one shelf, ordered by the priority an
// incoming pledge gives them, and searchable by floor price in O(log n).
//
// Offers in a shelf share product, grade, certification, region flag and
// region scope, so the only continuous filter left is "floor <= the pledge's
// max price". A treap ordered by (expires_at, floor, offer_id) whose nodes
// also keep the minimum floor of their subtree answers "the first offer in
// priority order after a given key with floor <= max" by one descent, so an
// expensive offer at the head of the queue costs nothing to pass over.
//
// Nodes live in an OfferNodePool shared by all trees (indices, not
// pointers, to keep a node at 40 bytes). Treap priorities are a hash of the
// offer id, so the shape is deterministic.
#ifndef DUIJIE_ENGINE_OFFER_TREE_H_
#define DUIJIE_ENGINE_OFFER_TREE_H_

#include <cstdint>
#include <tuple>
#include <vector>

#include "engine/types.h"

namespace duijie {

// Priority order of resting offers within a shelf: earliest expiry, then
// lowest floor, then earliest posted (ids grow with posting order).
struct OfferKey {
  Micros expires_at = 0;
  int64_t floor_price = 0;
  uint64_t offer_id = 0;

  friend bool operator<(const OfferKey& a, const OfferKey& b) {
    return std::tie(a.expires_at, a.floor_price, a.offer_id) <
           std::tie(b.expires_at, b.floor_price, b.offer_id);
  }
  friend bool operator==(const OfferKey& a, const OfferKey& b) {
    return a.offer_id == b.offer_id && a.expires_at == b.expires_at &&
           a.floor_price == b.floor_price;
  }
};

class OfferNodePool {
 public:
  static constexpr uint32_t kNil = 0xffffffffu;
  struct Node {
    OfferKey key;
    int64_t min_floor;  // over this node's subtree
    uint32_t left;
    uint32_t right;
  };

  uint32_t Allocate(const OfferKey& key);
  void Free(uint32_t index);
  Node& operator[](uint32_t index) { return nodes_[index]; }
  const Node& operator[](uint32_t index) const { return nodes_[index]; }
  // Nodes in use.
  size_t live() const { return nodes_.size() - free_.size(); }

 private:
  std::vector<Node> nodes_;
  std::vector<uint32_t> free_;
};

class OfferTree {
 public:
  // Inserts key, which must not be present.
  void Insert(OfferNodePool& pool, const OfferKey& key);
  // Removes key; returns false if it was not present.
  bool Erase(OfferNodePool& pool, const OfferKey& key);

  // Finds the first key in order that is greater than *after (or the first
  // of all when after is null) and has floor_price <= max_floor.
  bool FindFirst(const OfferNodePool& pool, const OfferKey* after,
                 int64_t max_floor, OfferKey* found) const;

  bool empty() const { return root_ == OfferNodePool::kNil; }
  size_t size() const { return size_; }
  // The lowest floor in the tree; only meaningful when not empty.
  int64_t min_floor(const OfferNodePool& pool) const { return min_floor_; }

 private:
  uint32_t root_ = OfferNodePool::kNil;
  uint32_t size_ = 0;
  // The root's min_floor, kept here so that a search that nothing in the
  // tree can satisfy (the common case) does not touch the pool.
  int64_t min_floor_ = INT64_MAX;
};

}  // namespace duijie

#endif  // DUIJIE_ENGINE_OFFER_TREE_H_
