// The buyer registry: validation, changes, lists and the saved layout. See
// buyers.h.
#include "engine/buyers.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/codes.h"
#include "engine/engine.h"
#include "engine/periods.h"
#include "engine/text.h"
#include "engine/violations.h"

namespace duijie {
namespace {

absl::Status Invalid(std::string_view field, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(Absl(field), ": ", Absl(why)));
}

absl::Status CheckId(std::string_view field, std::string_view id) {
  if (id.empty()) return Invalid(field, "is empty");
  return CheckMaxBytes(field, id, kMaxIdBytes);
}

}  // namespace

ShanghaiMonth ShanghaiMonthOf(Micros at) {
  const ShanghaiDate date = ShanghaiDateOf(at);
  return ShanghaiMonth{static_cast<int>(date.year), date.month};
}

absl::Status BuyerRegistry::Check(const Buyer& b,
                                  const ReferenceData& regions) {
  // Every field, so that a refusal names all that are bad (violations.h).
  Violations v;
  v.Add(CheckId("buyer.buyer_id", b.buyer_id));
  v.Add(b.name.empty()
            ? Invalid("buyer.name", "is empty")
            : CheckMaxBytes("buyer.name", b.name, kMaxBuyerNameBytes));
  int32_t city = 0;
  v.Add(regions.CheckKnownRegion("buyer.city_code", b.city_code, &city));
  if (b.kind < 1 || b.kind > kMaxBuyerKind) {
    v.Add(Invalid(
        "buyer.kind",
        absl::StrCat(b.kind, " is not a buyer kind (1..", kMaxBuyerKind, ")")));
  }
  if (b.annual_target_fen < 0) {
    v.Add(Invalid("buyer.annual_target_fen",
                  absl::StrCat(b.annual_target_fen, " is negative")));
  }
  if (!b.alliance_id.empty()) {
    v.Add(CheckMaxBytes("buyer.alliance_id", b.alliance_id, kMaxIdBytes));
  }
  return v.ToStatus();
}

bool BuyerRegistry::Put(const Buyer& buyer) {
  auto [it, created] = buyers_.insert_or_assign(buyer.buyer_id, buyer);
  return created;
}

const Buyer* BuyerRegistry::Find(std::string_view buyer_id) const {
  if (buyers_.empty()) return nullptr;  // no hash of the id to compute
  auto it = buyers_.find(buyer_id);
  return it == buyers_.end() ? nullptr : &it->second;
}

std::vector<Buyer> BuyerRegistry::List(const BuyerFilter& filter,
                                       std::string_view after_id, int limit,
                                       bool* more, int64_t* total) const {
  std::vector<Buyer> out;
  *more = false;
  int64_t passing = 0;
  // With a total, from the first buyer: those before the page pass too.
  for (auto it = total != nullptr ? buyers_.begin()
                                  : buyers_.upper_bound(after_id);
       it != buyers_.end(); ++it) {
    const Buyer& b = it->second;
    if (!absl::StartsWith(b.city_code, filter.city_code_prefix) ||
        (filter.kind != 0 && b.kind != filter.kind) ||
        (!filter.alliance_id.empty() && b.alliance_id != filter.alliance_id)) {
      continue;
    }
    ++passing;
    if (it->first <= after_id) continue;
    if (out.size() == static_cast<size_t>(std::max(limit, 0))) {
      *more = true;
      if (total == nullptr) break;
      continue;  // counting the rest
    }
    out.push_back(b);
  }
  if (total != nullptr) *total = passing;
  return out;
}

std::vector<const Buyer*> BuyerRegistry::Members(
    std::string_view alliance_id) const {
  std::vector<const Buyer*> out;
  if (alliance_id.empty()) return out;
  for (const auto& [id, b] : buyers_) {
    if (b.alliance_id == alliance_id) out.push_back(&b);
  }
  return out;
}

void BuyerRegistry::Save(ByteWriter& w) const {
  w.U64(buyers_.size());
  for (const auto& [id, b] : buyers_) {
    w.Str(b.buyer_id);
    w.Str(b.name);
    w.Str(b.city_code);
    w.U8(static_cast<uint8_t>(b.kind));
    w.I64(b.annual_target_fen);
    w.Str(b.alliance_id);
  }
}

bool BuyerRegistry::Load(ByteReader& r, const ReferenceData& regions) {
  const uint64_t n = r.Count(4 * 4 + 1 + 8);
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    Buyer b;
    b.buyer_id = r.Str();
    b.name = r.Str();
    b.city_code = r.Str();
    b.kind = r.U8();
    b.annual_target_fen = r.I64();
    b.alliance_id = r.Str();
    if (!r.ok()) return false;
    // Saved in buyer_id order, each once.
    if (!Check(b, regions).ok() ||
        (!buyers_.empty() && buyers_.rbegin()->first >= b.buyer_id)) {
      return false;
    }
    buyers_.emplace_hint(buyers_.end(), b.buyer_id, b);
  }
  return r.ok();
}

}  // namespace duijie
