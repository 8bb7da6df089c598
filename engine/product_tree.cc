// ProductTree. See product_tree.h.
#include "engine/product_tree.h"

#include "engine/codes.h"

namespace duijie {

uint32_t ProductTree::Intern(std::string_view code) {
  const uint32_t sid = strings_.Intern(code);
  auto it = by_code_.find(sid);
  if (it != by_code_.end()) return it->second;
  const std::string_view parent_code = ProductParent(code);
  const uint32_t parent = parent_code.empty() ? kNone : Intern(parent_code);
  const uint32_t index = static_cast<uint32_t>(nodes_.size());
  nodes_.emplace_back();
  nodes_.back().code = sid;
  by_code_.emplace(sid, index);
  nodes_[index].chain.push_back(index);
  if (parent != kNone) {
    for (uint32_t a : nodes_[parent].chain) nodes_[index].chain.push_back(a);
  }
  for (uint32_t a : nodes_[index].chain) nodes_[a].subtree.push_back(index);
  return index;
}

uint32_t ProductTree::Find(std::string_view code) const {
  const uint32_t sid = strings_.Find(code);
  if (sid == kNone) return kNone;
  auto it = by_code_.find(sid);
  return it == by_code_.end() ? kNone : it->second;
}

}  // namespace duijie
