// ProductTree: every product code the engine has seen, with its ancestors
// ("vegetable.cabbage" under "vegetable"), as dense indices. A pledge for a
// node takes offers of its whole subtree; an offer is wanted by pledges on
// its chain (itself and its ancestors).
#ifndef DUIJIE_ENGINE_PRODUCT_TREE_H_
#define DUIJIE_ENGINE_PRODUCT_TREE_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "engine/interner.h"

namespace duijie {

struct ProductNode {
  uint32_t code;  // interned string
  // This product and every product under it that the engine has seen.
  std::vector<uint32_t> subtree;
  // This product and its ancestors, nearest first.
  absl::InlinedVector<uint32_t, 4> chain;
};

class ProductTree {
 public:
  // `strings` holds the codes; not owned, must outlive this.
  explicit ProductTree(Interner* strings) : strings_(*strings) {}

  // The index of `code` (a valid product code), adding it and its missing
  // ancestors, parents first.
  uint32_t Intern(std::string_view code);
  // The index of `code`, or kNone when it was never seen.
  uint32_t Find(std::string_view code) const;

  size_t size() const { return nodes_.size(); }
  const ProductNode& node(uint32_t index) const { return nodes_[index]; }
  std::string_view code(uint32_t index) const {
    return strings_.Get(nodes_[index].code);
  }
  // The interned string of each node, by index (the saved state's table).
  uint32_t code_id(uint32_t index) const { return nodes_[index].code; }

 private:
  Interner& strings_;
  std::vector<ProductNode> nodes_;
  absl::flat_hash_map<uint32_t, uint32_t> by_code_;  // string -> index
};

}  // namespace duijie

#endif  // DUIJIE_ENGINE_PRODUCT_TREE_H_
