// Region and product code helpers; see codes.h.
#include "engine/codes.h"

#include <array>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/engine.h"
#include "engine/text.h"

namespace duijie {

bool ParseRegionCode(std::string_view text, int32_t* code) {
  if (text.size() != 6) return false;
  int32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  if (value / 10000 == 0) return false;  // province "00"
  if (value / 100 % 100 == 0 && value % 100 != 0) return false;  // "62xx00"
  *code = value;
  return true;
}

absl::Status CheckRegionCode(std::string_view field, std::string_view text,
                             int32_t* code) {
  if (ParseRegionCode(text, code)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrFormat("%s: %s is not a six-digit GB/T 2260 region code", field,
                      EchoValue(text)));
}

std::string RegionCodeString(int32_t code) {
  return absl::StrFormat("%06d", code);
}

RegionChain RegionChainOf(int32_t code) {
  RegionChain chain;
  chain.push_back(code);
  const int32_t prefecture = PrefectureOf(code);
  if (prefecture != code) chain.push_back(prefecture);
  const int32_t province = ProvinceOf(code);
  if (province != chain.back()) chain.push_back(province);
  return chain;
}

bool RegionCovers(int32_t ancestor, int32_t code) {
  return ancestor == code || ancestor == PrefectureOf(code) ||
         ancestor == ProvinceOf(code);
}

namespace {

// What each byte may be in a product code: a table, since every post
// checks its code (on the engine's hot path).
constexpr uint8_t kDot = 1;
constexpr uint8_t kLower = 2;  // a-z: anywhere in a segment
constexpr uint8_t kTail = 4;   // 0-9 and _: after a segment's first byte
constexpr std::array<uint8_t, 256> kProductCodeByte = [] {
  std::array<uint8_t, 256> kinds{};
  kinds['.'] = kDot;
  for (int c = 'a'; c <= 'z'; ++c) kinds[c] = kLower;
  for (int c = '0'; c <= '9'; ++c) kinds[c] = kTail;
  kinds['_'] = kTail;
  return kinds;
}();

}  // namespace

absl::Status CheckProductCode(std::string_view field, std::string_view code) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: %s %s", field, EchoValue(code), why));
  };
  if (code.empty())
    return bad("is empty; want a dot path like vegetable.cabbage");
  if (code.size() > kMaxProductCodeBytes) {
    return bad(absl::StrCat("is longer than ", kMaxProductCodeBytes, " bytes"));
  }
  size_t segments = 1;
  bool segment_start = true;
  for (char c : code) {
    const uint8_t kind = kProductCodeByte[static_cast<unsigned char>(c)];
    if (kind == kDot) {
      if (segment_start) return bad("has an empty segment");
      ++segments;
      segment_start = true;
      continue;
    }
    if ((kind & (segment_start ? kLower : kLower | kTail)) == 0) {
      return bad("has a segment not of the form [a-z][a-z0-9_]*");
    }
    segment_start = false;
  }
  if (segment_start) return bad("has an empty segment");
  if (segments > kMaxProductSegments) {
    return bad(
        absl::StrCat("has more than ", kMaxProductSegments, " segments"));
  }
  return absl::OkStatus();
}

bool ProductCovers(std::string_view ancestor, std::string_view code) {
  if (ancestor.empty()) return true;
  if (code.size() < ancestor.size()) return false;
  if (code.substr(0, ancestor.size()) != ancestor) return false;
  return code.size() == ancestor.size() || code[ancestor.size()] == '.';
}

std::string_view ProductParent(std::string_view code) {
  const size_t dot = code.rfind('.');
  return dot == std::string_view::npos ? std::string_view()
                                       : code.substr(0, dot);
}

}  // namespace duijie
