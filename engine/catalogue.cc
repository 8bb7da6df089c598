// ProductCatalogue. See catalogue.h.
#include "engine/catalogue.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/codes.h"
#include "engine/text.h"
#include "engine/violations.h"

namespace duijie {
namespace {

// Byte edit distance, for the did-you-mean of a misspelt code. Only on the
// error path, over a catalogue of at most a few thousand short codes.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

void ProductCatalogue::ForEachCode(
    const std::function<void(std::string_view)>& visit) const {
  for (const auto& [code, product] : upserted_) visit(code);
  for (uint32_t i = 0; i < tree_.size(); ++i) {
    const std::string_view code = tree_.code(i);
    if (upserted_.find(code) == upserted_.end()) visit(code);
  }
}

bool ProductCatalogue::Catalogued(std::string_view code) const {
  return upserted_.find(code) != upserted_.end() || tree_.Find(code) != kNone;
}

bool ProductCatalogue::HasChildren(std::string_view code) const {
  const std::string below = absl::StrCat(Absl(code), ".");
  auto it = upserted_.lower_bound(below);
  if (it != upserted_.end() && absl::StartsWith(it->first, below)) return true;
  const uint32_t node = tree_.Find(code);
  return node != kNone && tree_.node(node).subtree.size() > 1;
}

absl::Status ProductCatalogue::Check(const Product& p) const {
  // Every field, so that a refusal names all that are bad (violations.h).
  Violations v;
  v.Add(CheckProductCode("product.code", p.code));
  const std::string_view parent = ProductParent(p.code);
  if (v.ok() && !parent.empty() && !Catalogued(parent)) {
    v.Add(absl::NotFoundError(
        absl::StrCat("product.code: the parent ", EchoValue(parent), " of ",
                     EchoValue(p.code),
                     " is not in the catalogue; upsert the parent first")));
  }
  v.Add(p.name.empty()
            ? absl::InvalidArgumentError(
                  "product.name: is empty; want the product's name, e.g. "
                  "\"马铃薯\"")
            : CheckMaxCharacters("product.name", p.name,
                                 kMaxProductNameCharacters));
  v.Add(CheckMaxCharacters("product.unit_note", p.unit_note,
                           kMaxProductUnitNoteCharacters));
  if (p.perishability < 1 || p.perishability > kMaxPerishability) {
    v.Add(absl::InvalidArgumentError(absl::StrCat(
        "product.perishability: ", p.perishability,
        " is not PERISHABLE (1), SEMI_PERISHABLE (2) or STORABLE (3)")));
  }
  if (p.shelf_life != 0 &&
      (p.shelf_life < kMinShelfLife || p.shelf_life > kMaxShelfLife ||
       p.shelf_life % 1000000 != 0)) {
    v.Add(absl::InvalidArgumentError(absl::StrCat(
        "product.shelf_life: ", p.shelf_life,
        " us is not 0 (not stated) or 1 hour to 3650 days in whole seconds")));
  }
  return v.ToStatus();
}

absl::Status ProductCatalogue::CheckPosted(std::string_view field,
                                           std::string_view code,
                                           bool leaf) const {
  if (open()) return absl::OkStatus();
  if (!Catalogued(code)) {
    // Suggest the nearest code a post of this side could name, when it is
    // near enough to be a slip (a third of the code's length), or one that
    // ends in the same product under another category ("potato" for
    // vegetable.potato, vegetable.sichuan_pepper for spice.sichuan_pepper).
    auto last_segment = [](std::string_view c) {
      const size_t dot = c.rfind('.');
      return dot == std::string_view::npos ? c : c.substr(dot + 1);
    };
    std::string best;
    size_t best_distance = code.size() / 3 + 1;
    ForEachCode([&](std::string_view candidate) {
      if (leaf && HasChildren(candidate)) return;
      size_t d = EditDistance(code, candidate);
      if (last_segment(candidate) == last_segment(code))
        d = std::min<size_t>(d, 1);
      if (d < best_distance || (d == best_distance && !best.empty() &&
                                candidate < std::string_view(best))) {
        best_distance = d;
        best = std::string(candidate);
      }
    });
    return absl::NotFoundError(absl::StrCat(
        Absl(field), ": ", EchoValue(code), " is not in the catalogue",
        best.empty() ? std::string()
                     : absl::StrCat("; did you mean ", EchoValue(best), "?")));
  }
  if (leaf && HasChildren(code)) {
    return absl::InvalidArgumentError(absl::StrCat(
        Absl(field), ": ", EchoValue(code),
        " is a category; an offer names a product with none "
        "catalogued under it, e.g. ",
        EchoValue(List(code, "", code, 1, nullptr, nullptr).front().code)));
  }
  return absl::OkStatus();
}

bool ProductCatalogue::Put(const Product& product) {
  const bool created = !Catalogued(product.code);
  Product& p = upserted_[product.code];
  p = product;
  p.from_orders = false;
  return created;
}

std::optional<Product> ProductCatalogue::Find(std::string_view code) const {
  if (auto it = upserted_.find(code); it != upserted_.end()) {
    return it->second;
  }
  if (tree_.Find(code) == kNone) return std::nullopt;
  Product p;
  p.code = std::string(code);
  p.name = std::string(code);
  p.from_orders = true;
  return p;
}

std::vector<Product> ProductCatalogue::List(std::string_view prefix,
                                            std::string_view name_contains,
                                            std::string_view after, int limit,
                                            bool* more, int64_t* total) const {
  const std::string wanted = absl::AsciiStrToLower(std::string(name_contains));
  std::vector<std::string_view> codes;
  int64_t passing = 0;
  ForEachCode([&](std::string_view code) {
    if (!ProductCovers(prefix, code)) return;
    if (!wanted.empty()) {
      auto it = upserted_.find(code);
      const std::string name = absl::AsciiStrToLower(
          it == upserted_.end() ? std::string(code) : it->second.name);
      if (!absl::StrContains(name, wanted)) return;
    }
    ++passing;
    if (code > after) codes.push_back(code);
  });
  if (total != nullptr) *total = passing;
  std::sort(codes.begin(), codes.end());
  const bool cut = static_cast<int>(codes.size()) > limit;
  if (more != nullptr) *more = cut;
  if (cut) codes.resize(limit);
  std::vector<Product> out;
  out.reserve(codes.size());
  for (std::string_view code : codes) out.push_back(*Find(code));
  return out;
}

void ProductCatalogue::Save(ByteWriter& w) const {
  w.U64(upserted_.size());
  for (const auto& [code, p] : upserted_) {
    w.Str(code);
    w.Str(p.name);
    w.Str(p.unit_note);
    w.U8(static_cast<uint8_t>(p.perishability));
    w.I64(p.shelf_life);
  }
}

bool ProductCatalogue::Load(ByteReader& r) {
  upserted_.clear();
  const uint64_t n = r.Count(/*min_bytes=*/4 + 4 + 4 + 1 + 8);
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    Product p;
    p.code = r.Str();
    p.name = r.Str();
    p.unit_note = r.Str();
    p.perishability = r.U8();
    p.shelf_life = r.I64();
    // By code, each valid as an upsert would have it (so its parent, which
    // sorts before it, is already back).
    if (!r.ok() ||
        (!upserted_.empty() && upserted_.rbegin()->first >= p.code) ||
        !Check(p).ok()) {
      return false;
    }
    std::string code = p.code;
    upserted_.emplace(std::move(code), std::move(p));
  }
  return r.ok();
}

}  // namespace duijie
