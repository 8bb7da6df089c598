// Region codes (GB/T 2260 administrative divisions) and product codes (dot
// paths): parsing, validation and the ancestor relations that matching uses.
//
// A region code is six digits: province (2), prefecture (2), county (2).
// "620000" is Gansu, "621200" Longnan, "621202" Wudu district. A code's
// ancestors are found by zeroing its last two or four digits. The engine
// keeps codes as the integer they spell.
//
// A product code is a dot path of lower-case segments [a-z][a-z0-9_]*:
// "vegetable" covers "vegetable.cabbage" but not "vegetables".
#ifndef DUIJIE_ENGINE_CODES_H_
#define DUIJIE_ENGINE_CODES_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace duijie {

// Parses a well-formed region code into *code. A well-formed code is six
// ASCII digits whose province part is not "00" and which has no county part
// without a prefecture part ("620012" is malformed).
bool ParseRegionCode(std::string_view text, int32_t* code);

// INVALID_ARGUMENT naming `field` and the value unless text is well-formed.
absl::Status CheckRegionCode(std::string_view field, std::string_view text,
                             int32_t* code);

// The six-digit spelling of a parsed code.
std::string RegionCodeString(int32_t code);

inline int32_t ProvinceOf(int32_t code) { return code / 10000 * 10000; }
inline int32_t PrefectureOf(int32_t code) { return code / 100 * 100; }

// The code and its distinct ancestors, from the code itself up to its
// province: 1 to 3 entries.
using RegionChain = absl::InlinedVector<int32_t, 3>;
RegionChain RegionChainOf(int32_t code);

// True when `ancestor` equals `code` or is its prefecture or province.
bool RegionCovers(int32_t ancestor, int32_t code);

// Whether some code of `codes` is `code` or one of its ancestors.
template <typename Codes>
bool AnyCovers(const Codes& codes, int32_t code) {
  for (int32_t c : codes) {
    if (RegionCovers(c, code)) return true;
  }
  return false;
}

// Sorts codes, drops duplicates and every code covered by another, so that
// any region is under at most one of those left.
template <typename Codes>
void KeepOutermostCodes(Codes* codes) {
  std::sort(codes->begin(), codes->end());
  codes->erase(std::unique(codes->begin(), codes->end()), codes->end());
  Codes kept;
  kept.reserve(codes->size());
  for (int32_t c : *codes) {
    bool covered = false;
    for (int32_t d : *codes) {
      if (d != c && RegionCovers(d, c)) covered = true;
    }
    if (!covered) kept.push_back(c);
  }
  *codes = std::move(kept);
}

// INVALID_ARGUMENT naming `field` unless `code` is a well-formed product
// code of at most kMaxProductCodeBytes bytes and kMaxProductSegments
// segments.
absl::Status CheckProductCode(std::string_view field, std::string_view code);

// Debian's Abseil is built with its own absl::string_view, distinct from
// std::string_view; this bridges the two for StrCat and heterogeneous lookup.
inline absl::string_view Absl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

inline bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// True when `ancestor` equals `code` or is a whole-segment prefix of it.
// An empty ancestor covers everything.
bool ProductCovers(std::string_view ancestor, std::string_view code);

// The product code without its last segment; empty for a top-level code.
std::string_view ProductParent(std::string_view code);

}  // namespace duijie

#endif  // DUIJIE_ENGINE_CODES_H_
