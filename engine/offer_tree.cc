// The augmented treap behind OfferTree; see offer_tree.h.
#include "engine/offer_tree.h"

#include <algorithm>

namespace duijie {
namespace {

using Node = OfferNodePool::Node;
constexpr uint32_t kNil = OfferNodePool::kNil;

// splitmix64: a fixed hash, so the treap's shape depends only on the ids.
uint64_t HeapPriority(uint64_t offer_id) {
  uint64_t z = offer_id + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void Update(OfferNodePool& pool, uint32_t t) {
  Node& n = pool[t];
  int64_t m = n.key.floor_price;
  if (n.left != kNil) m = std::min(m, pool[n.left].min_floor);
  if (n.right != kNil) m = std::min(m, pool[n.right].min_floor);
  n.min_floor = m;
}

// Splits t into keys < key (*lo) and keys >= key (*hi).
void Split(OfferNodePool& pool, uint32_t t, const OfferKey& key, uint32_t* lo,
           uint32_t* hi) {
  if (t == kNil) {
    *lo = *hi = kNil;
    return;
  }
  if (pool[t].key < key) {
    Split(pool, pool[t].right, key, &pool[t].right, hi);
    *lo = t;
  } else {
    Split(pool, pool[t].left, key, lo, &pool[t].left);
    *hi = t;
  }
  Update(pool, t);
}

// Joins a and b where every key of a is less than every key of b.
uint32_t Merge(OfferNodePool& pool, uint32_t a, uint32_t b) {
  if (a == kNil) return b;
  if (b == kNil) return a;
  if (HeapPriority(pool[a].key.offer_id) > HeapPriority(pool[b].key.offer_id)) {
    pool[a].right = Merge(pool, pool[a].right, b);
    Update(pool, a);
    return a;
  }
  pool[b].left = Merge(pool, a, pool[b].left);
  Update(pool, b);
  return b;
}

uint32_t InsertNode(OfferNodePool& pool, uint32_t t, uint32_t node) {
  if (t == kNil) return node;
  const OfferKey& key = pool[node].key;
  if (HeapPriority(key.offer_id) > HeapPriority(pool[t].key.offer_id)) {
    Split(pool, t, key, &pool[node].left, &pool[node].right);
    Update(pool, node);
    return node;
  }
  if (key < pool[t].key) {
    pool[t].left = InsertNode(pool, pool[t].left, node);
  } else {
    pool[t].right = InsertNode(pool, pool[t].right, node);
  }
  Update(pool, t);
  return t;
}

uint32_t EraseKey(OfferNodePool& pool, uint32_t t, const OfferKey& key,
                  bool* erased) {
  if (t == kNil) return kNil;
  if (pool[t].key == key) {
    const uint32_t joined = Merge(pool, pool[t].left, pool[t].right);
    pool.Free(t);
    *erased = true;
    return joined;
  }
  if (key < pool[t].key) {
    pool[t].left = EraseKey(pool, pool[t].left, key, erased);
  } else {
    pool[t].right = EraseKey(pool, pool[t].right, key, erased);
  }
  Update(pool, t);
  return t;
}

// The first node in order with key > *after and floor <= max_floor.
uint32_t Find(const OfferNodePool& pool, uint32_t t, const OfferKey* after,
              int64_t max_floor) {
  if (t == kNil || pool[t].min_floor > max_floor) return kNil;
  const Node& n = pool[t];
  if (after == nullptr || *after < n.key) {
    const uint32_t left = Find(pool, n.left, after, max_floor);
    if (left != kNil) return left;
    if (n.key.floor_price <= max_floor) return t;
  }
  return Find(pool, n.right, after, max_floor);
}

}  // namespace

uint32_t OfferNodePool::Allocate(const OfferKey& key) {
  uint32_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    index = static_cast<uint32_t>(nodes_.size());
    nodes_.emplace_back();
  }
  nodes_[index] = Node{key, key.floor_price, kNil, kNil};
  return index;
}

void OfferNodePool::Free(uint32_t index) { free_.push_back(index); }

void OfferTree::Insert(OfferNodePool& pool, const OfferKey& key) {
  root_ = InsertNode(pool, root_, pool.Allocate(key));
  min_floor_ = pool[root_].min_floor;
  ++size_;
}

bool OfferTree::Erase(OfferNodePool& pool, const OfferKey& key) {
  bool erased = false;
  root_ = EraseKey(pool, root_, key, &erased);
  min_floor_ = root_ == kNil ? INT64_MAX : pool[root_].min_floor;
  if (erased) --size_;
  return erased;
}

bool OfferTree::FindFirst(const OfferNodePool& pool, const OfferKey* after,
                          int64_t max_floor, OfferKey* found) const {
  if (min_floor_ > max_floor) return false;  // also when empty
  const uint32_t t = Find(pool, root_, after, max_floor);
  if (t == kNil) return false;
  *found = pool[t].key;
  return true;
}

}  // namespace duijie
