// ExpiryQueue: when resting orders expire, kept so that retiring them as the
// clock passes costs no search, and cancelling or filling one costs nothing.
//
// Entries are (expires_at, tag) pairs in buckets of 2^kBucketShift
// microseconds (about 72 minutes), each bucket a vector in arrival order
// until the clock reaches it, then sorted once. Entries are never removed
// when their order leaves the book early (a cancel or a fill); a `live`
// predicate from the caller tells, when an entry comes up, whether its order
// is still resting, and dead entries are dropped then. So an order costs one
// push_back when it rests and nothing when it leaves, instead of a B-tree
// insert and erase; the price is that a dead entry stays until its expiry
// time (12 bytes: an entry keeps the low 32 bits of its time, the bucket
// the rest, and its tag as two 32-bit halves, so that a bucket's vector
// holds no padding).
//
// Order: PopUntil visits entries in ascending (expires_at, tag), exactly as
// an ordered set of the live pairs would, so callers stay deterministic.
#ifndef DUIJIE_ENGINE_EXPIRY_QUEUE_H_
#define DUIJIE_ENGINE_EXPIRY_QUEUE_H_

#include <algorithm>
#include <cstdint>
#include <vector>

#include "absl/container/btree_map.h"
#include "engine/types.h"

namespace duijie {

class ExpiryQueue {
 public:
  // Adds an entry. A tag must be queued at most once at a time.
  void Add(Micros expires_at, uint64_t tag) {
    Bucket& bucket = buckets_[expires_at >> kBucketShift];
    const Entry entry(expires_at, tag);
    if (bucket.sorted) {
      bucket.entries.insert(
          std::upper_bound(bucket.entries.begin() + bucket.next,
                           bucket.entries.end(), entry),
          entry);
    } else {
      // Most buckets hold a few entries: room for some at once saves the
      // first reallocations (a bucket's vector grows 1, 2, 4, ... else).
      if (bucket.entries.empty()) bucket.entries.reserve(kFirstEntries);
      bucket.entries.push_back(entry);
    }
  }

  // Removes the entry (expires_at, tag) if it is still queued: an amendment
  // that changes a resting order's expiry moves its entry, and a pledge
  // that rests again when kilograms come back to it drops its old one, so
  // that a tag is never queued twice. Linear in the entry's bucket;
  // amendments and returns are rare next to posts, cancels and fills, which
  // cost nothing here.
  void Remove(Micros expires_at, uint64_t tag) {
    auto it = buckets_.find(expires_at >> kBucketShift);
    if (it == buckets_.end()) return;
    Bucket& bucket = it->second;
    auto pos = std::find(bucket.entries.begin() + bucket.next,
                         bucket.entries.end(), Entry(expires_at, tag));
    if (pos == bucket.entries.end()) return;
    bucket.entries.erase(pos);
    if (bucket.next == bucket.entries.size()) buckets_.erase(it);
  }

  // Removes every entry with expires_at <= now, in ascending order, and
  // calls fn(tag) for each one for which live(tag) is true
  // (when it comes up, so fn may end orders that later entries name). fn
  // must not Add.
  template <typename Live, typename Fn>
  void PopUntil(Micros now, Live live, Fn fn) {
    while (!buckets_.empty()) {
      auto it = buckets_.begin();
      if (it->first * kBucketMicros > now) return;
      Bucket& bucket = it->second;
      if (!bucket.sorted) {
        std::sort(bucket.entries.begin(), bucket.entries.end());
        bucket.sorted = true;
      }
      const int64_t key = it->first;
      while (bucket.next < bucket.entries.size() &&
             bucket.entries[bucket.next].expires_at(key) <= now) {
        const uint64_t tag = bucket.entries[bucket.next++].tag();
        if (live(tag)) fn(tag);
      }
      if (bucket.next < bucket.entries.size()) return;  // the rest is later
      buckets_.erase(it);
    }
  }

  // Whether some entry with expires_at <= now is live(tag). The answer
  // depends only on the live entries, never on the dead ones a queue keeps
  // until their time or on bucket bounds, so a queue rebuilt from the live
  // orders (LoadState) answers as the one it replaces. Looks at the entries up
  // to now in the buckets that have begun: once PopUntil(t) has sorted them,
  // only those in (t, now].
  template <typename Live>
  bool AnyLiveUntil(Micros now, Live live) const {
    for (const auto& [key, bucket] : buckets_) {
      if (key * kBucketMicros > now) return false;
      for (size_t i = bucket.next; i < bucket.entries.size(); ++i) {
        const Entry& entry = bucket.entries[i];
        if (entry.expires_at(key) > now) {
          if (bucket.sorted) break;  // the rest is later
          continue;
        }
        if (live(entry.tag())) return true;
      }
    }
    return false;
  }

  // Calls fn(tag) for each live entry with expires_at <= now, in no
  // particular order, without removing anything.
  template <typename Live, typename Fn>
  void ForEachUntil(Micros now, Live live, Fn fn) const {
    for (const auto& [key, bucket] : buckets_) {
      if (key * kBucketMicros > now) return;
      for (size_t i = bucket.next; i < bucket.entries.size(); ++i) {
        const Entry& entry = bucket.entries[i];
        if (entry.expires_at(key) <= now && live(entry.tag())) {
          fn(entry.tag());
        }
      }
    }
  }

 private:
  static constexpr int kBucketShift = 32;  // 2^32 us: about 71.6 minutes
  static constexpr int64_t kBucketMicros = int64_t{1} << kBucketShift;
  static constexpr size_t kFirstEntries = 8;

  // (expires_at, tag) in 12 bytes, ordered as the pair. The bucket's key
  // (expires_at >> kBucketShift) holds the time's high bits; within a
  // bucket the low 32 bits, unsigned, order as the times do.
  class Entry {
   public:
    Entry(Micros expires_at, uint64_t tag)
        : low_(static_cast<uint32_t>(expires_at)),
          tag_low_(static_cast<uint32_t>(tag)),
          tag_high_(static_cast<uint32_t>(tag >> 32)) {}
    // The time, given the key of the bucket the entry is in.
    Micros expires_at(int64_t bucket_key) const {
      return static_cast<Micros>(
          (static_cast<uint64_t>(bucket_key) << kBucketShift) | low_);
    }
    uint64_t tag() const { return (uint64_t{tag_high_} << 32) | tag_low_; }
    friend bool operator<(const Entry& a, const Entry& b) {
      return a.low_ != b.low_ ? a.low_ < b.low_ : a.tag() < b.tag();
    }
    friend bool operator==(const Entry& a, const Entry& b) {
      return a.low_ == b.low_ && a.tag_low_ == b.tag_low_ &&
             a.tag_high_ == b.tag_high_;
    }

   private:
    uint32_t low_;
    uint32_t tag_low_;
    uint32_t tag_high_;
  };
  static_assert(sizeof(Entry) == 12);
  static_assert(kBucketShift == 32, "Entry keeps the low 32 bits of a time");

  struct Bucket {
    std::vector<Entry> entries;
    bool sorted = false;  // sorted once the clock has reached the bucket
    size_t next = 0;      // entries before it have been popped
  };
  // Keyed by expires_at >> kBucketShift (an arithmetic shift, so times
  // before the epoch order correctly too).
  absl::btree_map<int64_t, Bucket> buckets_;
};

}  // namespace duijie

#endif  // DUIJIE_ENGINE_EXPIRY_QUEUE_H_
