// The augmented treap behind OfferTree; see offer_tree.h.
#include "engine/offer_tree.h"

#include <algorithm>
#include <cassert>

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

// Whether the subtree's largest remainder is below `kg`; a saturated
// bound means unbounded. The saturation is tested only when the bound is
// below: searches read this at every node they visit.
bool MaxRemainingBelow(const Node& n, int64_t kg) {
  return n.max_remaining_kg < kg &&
         n.max_remaining_kg != OfferNodePool::kSaturatedKg;
}

void Update(OfferNodePool& pool, uint32_t t) {
  Node& n = pool[t];
  n.min_floor = n.floor_price;
  n.min_lot_kg = OfferNodePool::SaturatedKg(n.lot_kg);
  n.max_remaining_kg = OfferNodePool::SaturatedKg(n.remaining_kg);
  n.prefectures =
      (n.prefectures & ~Node::kSubtreeMask) | n.own_prefecture_bit();
  for (uint32_t child : {n.left, n.right}) {
    if (child == kNil) continue;
    const Node& c = pool[child];
    n.min_floor = std::min(n.min_floor, c.min_floor);
    n.min_lot_kg = std::min(n.min_lot_kg, c.min_lot_kg);
    n.max_remaining_kg = std::max(n.max_remaining_kg, c.max_remaining_kg);
    n.prefectures |= c.subtree_prefectures();
  }
}

void SetFitAt(OfferNodePool& pool, uint32_t t, const OfferKey& key,
              const OfferFit& fit) {
  if (t == kNil) return;
  if (pool[t].key() == key) {
    // An offer's region, and so its prefecture bit, never changes.
    assert(fit.prefecture_bit == pool[t].own_prefecture_bit());
    pool[t].lot_kg = fit.lot_kg;
    pool[t].remaining_kg = fit.remaining_kg;
  } else if (key < pool[t].key()) {
    SetFitAt(pool, pool[t].left, key, fit);
  } else {
    SetFitAt(pool, pool[t].right, key, fit);
  }
  Update(pool, t);
}

// What the pledge can take at `price`: its remainder, less if its budget
// runs out first. Prices are positive.
int64_t Capacity(const OfferQuery& q, int64_t price) {
  if (q.budget_left_fen < 0) return q.capacity_kg;
  return std::min(q.capacity_kg, q.budget_left_fen / price);
}

// Whether the subtree may hold an offer that passes q. The capacity is
// largest at the subtree's lowest floor, so that bounds every offer in it.
// A saturated lot bound is below the true one, so it only prunes less.
bool MayHold(const Node& n, const OfferQuery& q) {
  if (n.min_floor > q.max_floor || MaxRemainingBelow(n, q.need_kg) ||
      (n.subtree_prefectures() & q.prefectures) == 0) {
    return false;
  }
  const int64_t capacity = Capacity(q, n.min_floor);
  return n.min_lot_kg <= capacity &&
         capacity >= std::max<int64_t>(q.need_kg, 1);
}

bool Passes(const Node& n, const OfferQuery& q) {
  if (n.floor_price > q.max_floor || n.remaining_kg < q.need_kg ||
      (n.own_prefecture_bit() & q.prefectures) == 0) {
    return false;
  }
  const int64_t capacity = Capacity(q, n.floor_price);
  return n.lot_kg <= capacity && capacity >= std::max<int64_t>(q.need_kg, 1);
}

// Splits t into keys < key (*lo) and keys >= key (*hi).
void Split(OfferNodePool& pool, uint32_t t, const OfferKey& key, uint32_t* lo,
           uint32_t* hi) {
  if (t == kNil) {
    *lo = *hi = kNil;
    return;
  }
  if (pool[t].key() < key) {
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
  if (HeapPriority(pool[a].offer_id) > HeapPriority(pool[b].offer_id)) {
    pool[a].right = Merge(pool, pool[a].right, b);
    Update(pool, a);
    return a;
  }
  pool[b].left = Merge(pool, a, pool[b].left);
  Update(pool, b);
  return b;
}

// Above the point where the new node goes in, each subtree on the path
// gains exactly that node, so its bounds widen by the node's own values:
// no need to read the child off the path (usually a cold line) as Update
// would.
uint32_t InsertNode(OfferNodePool& pool, uint32_t t, uint32_t node) {
  if (t == kNil) return node;
  const OfferKey key = pool[node].key();
  if (HeapPriority(key.offer_id) > HeapPriority(pool[t].offer_id)) {
    Split(pool, t, key, &pool[node].left, &pool[node].right);
    Update(pool, node);
    return node;
  }
  Node& n = pool[t];
  const Node& added = pool[node];
  n.min_floor = std::min(n.min_floor, added.floor_price);
  n.min_lot_kg = std::min(n.min_lot_kg, added.min_lot_kg);
  n.max_remaining_kg = std::max(n.max_remaining_kg, added.max_remaining_kg);
  n.prefectures |= added.own_prefecture_bit();
  if (key < n.key()) {
    const uint32_t left = InsertNode(pool, n.left, node);
    pool[t].left = left;
  } else {
    const uint32_t right = InsertNode(pool, n.right, node);
    pool[t].right = right;
  }
  return t;
}

// Sets *erased and *fit (the erased node's) when key was found. Above the
// erased node a subtree's bounds can change only where the erased values
// were at the bound; elsewhere they stay, and the child off the path is
// not read.
uint32_t EraseKey(OfferNodePool& pool, uint32_t t, const OfferKey& key,
                  bool* erased, OfferFit* fit) {
  if (t == kNil) return kNil;
  if (pool[t].key() == key) {
    *fit = pool[t].fit();
    const uint32_t joined = Merge(pool, pool[t].left, pool[t].right);
    pool.Free(t);
    *erased = true;
    return joined;
  }
  if (key < pool[t].key()) {
    const uint32_t left = EraseKey(pool, pool[t].left, key, erased, fit);
    pool[t].left = left;
  } else {
    const uint32_t right = EraseKey(pool, pool[t].right, key, erased, fit);
    pool[t].right = right;
  }
  const Node& n = pool[t];
  if (*erased &&
      (key.floor_price <= n.min_floor ||
       OfferNodePool::SaturatedKg(fit->lot_kg) <= n.min_lot_kg ||
       OfferNodePool::SaturatedKg(fit->remaining_kg) >= n.max_remaining_kg)) {
    Update(pool, t);
  }
  return t;
}

// The first node in order with key > *after that passes q.
uint32_t Find(const OfferNodePool& pool, uint32_t t, const OfferKey* after,
              const OfferQuery& q) {
  if (t == kNil || !MayHold(pool[t], q)) return kNil;
  const Node& n = pool[t];
  if (after == nullptr || *after < n.key()) {
    const uint32_t left = Find(pool, n.left, after, q);
    if (left != kNil) return left;
    if (Passes(n, q)) return t;
  }
  return Find(pool, n.right, after, q);
}

// Calls fn with each node of t's subtree that passes q, in order; false
// once fn has returned false.
bool Visit(const OfferNodePool& pool, uint32_t t, const OfferQuery& q,
           absl::FunctionRef<bool(const OfferKey&)> fn) {
  const Node& n = pool[t];
  if (!MayHold(n, q)) return true;
  if (n.left != kNil && !Visit(pool, n.left, q, fn)) return false;
  if (Passes(n, q) && !fn(n.key())) return false;
  return n.right == kNil || Visit(pool, n.right, q, fn);
}

}  // namespace

uint32_t OfferNodePool::Allocate(const OfferKey& key, const OfferFit& fit) {
  // The engine refuses floors above kMaxPriceFenPerKg (2^30) and offer ids
  // above kMaxOfferId (2^32 - 1).
  assert(key.floor_price > 0 && key.floor_price <= INT32_MAX);
  assert(key.offer_id <= UINT32_MAX);
  assert(fit.prefecture_bit != 0 &&
         (fit.prefecture_bit & (fit.prefecture_bit - 1)) == 0 &&
         fit.prefecture_bit <= Node::kSubtreeMask);
  const int32_t floor = static_cast<int32_t>(key.floor_price);
  const uint32_t own = static_cast<uint32_t>(__builtin_ctz(fit.prefecture_bit));
  const Node node{key.expires_at,
                  key.seq,
                  fit.lot_kg,
                  fit.remaining_kg,
                  floor,
                  static_cast<uint32_t>(key.offer_id),
                  (own << kPrefectureBits) | fit.prefecture_bit,
                  floor,
                  SaturatedKg(fit.lot_kg),
                  SaturatedKg(fit.remaining_kg),
                  kNil,
                  kNil};
  if (free_.empty()) {
    nodes_.push_back(node);
    return static_cast<uint32_t>(nodes_.size() - 1);
  }
  const uint32_t index = free_.back();
  free_.pop_back();
  nodes_[index] = node;
  return index;
}

void OfferNodePool::Free(uint32_t index) { free_.push_back(index); }

void OfferTree::Insert(OfferNodePool& pool, const OfferKey& key,
                       const OfferFit& fit) {
  root_ = InsertNode(pool, root_, pool.Allocate(key, fit));
  min_floor_ = pool[root_].min_floor;
  min_expiry_rank_ = std::min(min_expiry_rank_, ExpiryRank(key.expires_at));
  ++size_;
}

bool OfferTree::Erase(OfferNodePool& pool, const OfferKey& key) {
  bool erased = false;
  OfferFit fit;
  root_ = EraseKey(pool, root_, key, &erased, &fit);
  if (root_ == kNil) {
    min_floor_ = INT32_MAX;
    min_expiry_rank_ = INT32_MAX;
  } else {
    min_floor_ = pool[root_].min_floor;
    // Usually the erased offer was the first (offers leave by expiry or
    // are taken first because they expire first): the new first is on the
    // left spine the erase just walked.
    if (erased && ExpiryRank(key.expires_at) == min_expiry_rank_) {
      uint32_t first = root_;
      while (pool[first].left != kNil) first = pool[first].left;
      min_expiry_rank_ = ExpiryRank(pool[first].expires_at);
    }
  }
  if (erased) --size_;
  return erased;
}

void OfferTree::SetFit(OfferNodePool& pool, const OfferKey& key,
                       const OfferFit& fit) {
  SetFitAt(pool, root_, key, fit);
}

bool OfferTree::FindFirst(const OfferNodePool& pool, const OfferKey* after,
                          const OfferQuery& query, OfferKey* found) const {
  // Also when empty (INT32_MAX), as max prices are at most 2^30; Find
  // answers an empty tree anyway.
  if (min_floor_ > query.max_floor) return false;
  const uint32_t t = Find(pool, root_, after, query);
  if (t == kNil) return false;
  *found = pool[t].key();
  return true;
}

void OfferTree::ForEachPassing(
    const OfferNodePool& pool, const OfferQuery& query,
    absl::FunctionRef<bool(const OfferKey&)> fn) const {
  if (root_ == kNil || min_floor_ > query.max_floor) return;
  Visit(pool, root_, query, fn);
}

namespace {

// Checks the subtree at t (see OfferTree::Check); *bounds gets its
// recomputed (min floor, min lot, max remaining).
bool CheckNode(const OfferNodePool& pool, uint32_t t, uint64_t parent_priority,
               std::vector<std::pair<OfferKey, OfferFit>>* contents,
               Node* bounds) {
  const Node& n = pool[t];
  if (HeapPriority(n.offer_id) > parent_priority) return false;
  Node b;
  b.min_floor = n.floor_price;
  b.min_lot_kg = OfferNodePool::SaturatedKg(n.lot_kg);
  b.max_remaining_kg = OfferNodePool::SaturatedKg(n.remaining_kg);
  b.prefectures = n.own_prefecture_bit();
  const uint64_t priority = HeapPriority(n.offer_id);
  auto child = [&](uint32_t c) {
    if (c == kNil) return true;
    Node cb;
    if (!CheckNode(pool, c, priority, contents, &cb)) return false;
    b.min_floor = std::min(b.min_floor, cb.min_floor);
    b.min_lot_kg = std::min(b.min_lot_kg, cb.min_lot_kg);
    b.max_remaining_kg = std::max(b.max_remaining_kg, cb.max_remaining_kg);
    b.prefectures |= cb.prefectures;
    return true;
  };
  if (!child(n.left)) return false;
  if (!contents->empty() && !(contents->back().first < n.key())) return false;
  contents->push_back({n.key(), n.fit()});
  if (!child(n.right)) return false;
  *bounds = b;
  // The prefectures may be a superset (see OfferNodePool); each of the
  // others is exact.
  return b.min_floor == n.min_floor && b.min_lot_kg == n.min_lot_kg &&
         b.max_remaining_kg == n.max_remaining_kg &&
         (b.prefectures & ~n.subtree_prefectures()) == 0;
}

}  // namespace

bool OfferTree::Check(
    const OfferNodePool& pool,
    std::vector<std::pair<OfferKey, OfferFit>>* contents) const {
  const size_t before = contents->size();
  std::vector<std::pair<OfferKey, OfferFit>> mine;
  if (root_ != kNil) {
    Node bounds;
    if (!CheckNode(pool, root_, UINT64_MAX, &mine, &bounds)) return false;
    if (bounds.min_floor != min_floor_ ||
        ExpiryRank(mine.front().first.expires_at) != min_expiry_rank_) {
      return false;
    }
  } else if (min_floor_ != INT32_MAX || min_expiry_rank_ != INT32_MAX) {
    return false;
  }
  if (mine.size() != size_) return false;
  contents->insert(contents->end(), mine.begin(), mine.end());
  return contents->size() == before + size_;
}

}  // namespace duijie
