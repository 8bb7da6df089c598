// Interner: strings (ids, product and region codes) stored once and named
// by a dense 32-bit index. Never freed, so the string_views handed out in
// views stay valid for the engine's lifetime; the indices are part of the
// saved state (engine_state.cc), in the order strings were first seen.
#ifndef DUIJIE_ENGINE_INTERNER_H_
#define DUIJIE_ENGINE_INTERNER_H_

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"

namespace duijie {

// Abseil's own string hash, for maps keyed by std::string_view: Debian's
// Abseil has its own absl::string_view, so such a key was hashed by
// std::hash (libstdc++'s _Hash_bytes), twice the instructions for the short
// ids and codes the engine keeps.
struct StringViewHash {
  size_t operator()(std::string_view s) const {
    return absl::Hash<absl::string_view>()(
        absl::string_view(s.data(), s.size()));
  }
};

// "No such index" for interned strings and products.
inline constexpr uint32_t kNone = 0xffffffffu;

class Interner {
 public:
  // The index of `s`, adding it when new.
  uint32_t Intern(std::string_view s) {
    auto it = index_.find(s);
    if (it != index_.end()) return it->second;
    strings_.emplace_back(s);
    const uint32_t id = static_cast<uint32_t>(strings_.size() - 1);
    index_.emplace(strings_.back(), id);
    return id;
  }
  // The index of `s`, or kNone.
  uint32_t Find(std::string_view s) const {
    auto it = index_.find(s);
    return it == index_.end() ? kNone : it->second;
  }
  std::string_view Get(uint32_t id) const { return strings_[id]; }
  size_t size() const { return strings_.size(); }

 private:
  std::deque<std::string> strings_;  // elements never move
  // Only looked up, never walked: its order is free.
  absl::flat_hash_map<std::string_view, uint32_t, StringViewHash> index_;
};

}  // namespace duijie

#endif  // DUIJIE_ENGINE_INTERNER_H_
