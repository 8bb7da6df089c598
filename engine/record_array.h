// RecordArray<T>: records by dense index (an order's by its id - 1, an
// offer tree node by its index), in blocks of 4,096 that never move.
// Internal to the engine.
//
// A std::vector doubles: at a million offers it holds up to twice the
// records it needs, and the push_back that crosses a power of two copies all
// of them (about 90 MB for a million offers) inside one command. Blocks grow
// by 4,096 records at a time and never copy; reading record i costs one more
// load (the block's address, from a table that stays in cache).
#ifndef DUIJIE_ENGINE_RECORD_ARRAY_H_
#define DUIJIE_ENGINE_RECORD_ARRAY_H_

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace duijie {

template <typename T>
class RecordArray {
 public:
  static constexpr size_t kBlockShift = 12;
  static constexpr size_t kBlockSize = size_t{1} << kBlockShift;

  RecordArray() = default;
  // A moved-from array is empty, as a moved-from vector is.
  RecordArray(RecordArray&& other) noexcept
      : blocks_(std::move(other.blocks_)),
        size_(std::exchange(other.size_, 0)) {}
  RecordArray& operator=(RecordArray&& other) noexcept {
    blocks_ = std::move(other.blocks_);
    other.blocks_.clear();
    size_ = std::exchange(other.size_, 0);
    return *this;
  }
  // A copy (a monitor that follows alerts starts from one).
  RecordArray(const RecordArray& other) { *this = other; }
  RecordArray& operator=(const RecordArray& other) {
    if (this == &other) return *this;
    clear();
    reserve(other.size());
    for (const T& record : other) push_back(record);
    return *this;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  T& operator[](size_t i) {
    return blocks_[i >> kBlockShift][i & (kBlockSize - 1)];
  }
  const T& operator[](size_t i) const {
    return blocks_[i >> kBlockShift][i & (kBlockSize - 1)];
  }
  T& back() { return (*this)[size_ - 1]; }
  const T& back() const { return (*this)[size_ - 1]; }

  void push_back(const T& record) { Append() = record; }
  void push_back(T&& record) { Append() = std::move(record); }

  // Grows with value-initialised records, or shrinks, freeing the blocks
  // past the new end and resetting the records past it in the last one
  // kept (Append hands out slots as they are: value-initialised).
  void resize(size_t n) {
    while (size_ < n) Append();
    if (n < size_) {
      const size_t kept_blocks = (n + kBlockSize - 1) >> kBlockShift;
      const size_t kept_end = std::min(size_, kept_blocks << kBlockShift);
      for (size_t i = n; i < kept_end; ++i) (*this)[i] = T{};
      blocks_.resize(kept_blocks);
      size_ = n;
    }
  }

  // Makes room in the table of blocks (not the blocks themselves).
  void reserve(size_t n) {
    blocks_.reserve((n + kBlockSize - 1) >> kBlockShift);
  }

  void clear() {
    blocks_.clear();
    size_ = 0;
  }

  template <bool kConst>
  class Iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using Array = std::conditional_t<kConst, const RecordArray, RecordArray>;
    using reference = std::conditional_t<kConst, const T&, T&>;
    using pointer = std::conditional_t<kConst, const T*, T*>;

    Iterator(Array* array, size_t i) : array_(array), i_(i) {}
    reference operator*() const { return (*array_)[i_]; }
    pointer operator->() const { return &(*array_)[i_]; }
    Iterator& operator++() {
      ++i_;
      return *this;
    }
    Iterator operator++(int) {
      Iterator before = *this;
      ++i_;
      return before;
    }
    friend bool operator==(const Iterator& a, const Iterator& b) {
      return a.i_ == b.i_;
    }
    friend bool operator!=(const Iterator& a, const Iterator& b) {
      return a.i_ != b.i_;
    }

   private:
    Array* array_;
    size_t i_;
  };
  using iterator = Iterator<false>;
  using const_iterator = Iterator<true>;

  iterator begin() { return {this, 0}; }
  iterator end() { return {this, size_}; }
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, size_}; }

 private:
  // The slot of a new last record (value-initialised), after a new block
  // when the last is full.
  T& Append() {
    if ((size_ & (kBlockSize - 1)) == 0 &&
        (size_ >> kBlockShift) == blocks_.size()) {
      blocks_.push_back(std::make_unique<T[]>(kBlockSize));
    }
    return (*this)[size_++];
  }

  std::vector<std::unique_ptr<T[]>> blocks_;
  size_t size_ = 0;
};

}  // namespace duijie

#endif  // DUIJIE_ENGINE_RECORD_ARRAY_H_
