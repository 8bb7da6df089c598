// Figures of matches: Engine::GetStats, the read behind the offices' daily
// report (日报) and quarterly ledgers (调度台账). See engine.h.
//
// A read scans the matches made in [from, to) once. Matches are stored by
// match_id, which is the order they were made in, and the clock never goes
// back, so matched_at never decreases along matches_ and `from` is found by
// binary search.
#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/codes.h"
#include "engine/engine_impl.h"
#include "engine/periods.h"
#include "engine/text.h"

namespace duijie {
namespace {

absl::Status CheckQuery(const StatsQuery& query) {
  if (query.group_by.size() > kMaxStatsGroupBy) {
    return absl::InvalidArgumentError(
        absl::StrCat("group_by: ", query.group_by.size(),
                     " dimensions; at most ", kMaxStatsGroupBy));
  }
  for (size_t i = 0; i < query.group_by.size(); ++i) {
    const int d = query.group_by[i];
    if (d < 1 || d > kMaxStatsDimension) {
      return absl::InvalidArgumentError(
          absl::StrCat("group_by: unknown dimension ", d));
    }
    for (size_t j = 0; j < i; ++j) {
      if (query.group_by[j] == d) {
        return absl::InvalidArgumentError(
            absl::StrCat("group_by: dimension ", d, " is repeated"));
      }
    }
  }
  if (query.from >= query.to) {
    return absl::InvalidArgumentError(
        absl::StrCat("from: ", query.from, " is not before to ", query.to,
                     " (microseconds since 1970)"));
  }
  return absl::OkStatus();
}

// One group's sums and the distinct parties and offers behind them.
struct Group {
  StatsRowView row;
  absl::flat_hash_set<uint32_t> suppliers;  // interned supplier_ids
  absl::flat_hash_set<uint32_t> buyers;     // interned buyer_ids
  absl::flat_hash_set<uint64_t> offers;     // offer ids
};

bool AddTo(int64_t* sum, int64_t value) {
  return !__builtin_add_overflow(*sum, value, sum);
}

}  // namespace

absl::StatusOr<StatsView> Engine::Impl::GetStats(
    const StatsQuery& query) const {
  if (absl::Status s = CheckQuery(query); !s.ok()) return s;
  const auto first = std::partition_point(
      matches_.begin(), matches_.end(),
      [&](const MatchRecord& m) { return m.matched_at < query.from; });

  // Pairings are few but looked up per match: each (city, region) once.
  absl::flat_hash_map<std::pair<int32_t, int32_t>, std::string> pairing_keys;
  auto pairing_key = [&](int32_t city, int32_t region) -> const std::string& {
    auto [it, inserted] = pairing_keys.try_emplace({city, region});
    if (inserted) {
      int32_t east = 0, west = 0;
      if (reference_.CoveringPairing(city, region, &east, &west)) {
        it->second = std::string(reference_.CodeText(east));
        it->second.append(">").append(reference_.CodeText(west));
      }
    }
    return it->second;
  };

  absl::btree_map<std::vector<std::string>, Group> groups;
  Group total;
  std::vector<std::string> keys;
  for (auto it = first; it != matches_.end() && it->matched_at < query.to;
       ++it) {
    const MatchRecord& m = *it;
    const OfferRecord& o = offers_[m.offer_id - 1];
    const PledgeRecord& p = pledges_[m.pledge_id - 1];
    const std::string_view supplier = strings_.Get(o.supplier);
    const std::string_view pledge_buyer = strings_.Get(p.buyer);
    const std::string_view member =
        m.member == kNoText ? std::string_view() : strings_.Get(m.member);
    if (!query.visible.Shows(supplier, pledge_buyer, member)) continue;
    if (!query.supplier_id.empty() && supplier != query.supplier_id) continue;
    if (!query.buyer_id.empty() && pledge_buyer != query.buyer_id &&
        (member.empty() || member != query.buyer_id)) {
      continue;
    }
    const std::string_view product = products_.code(o.product);
    if (!ProductCovers(query.product_code_prefix, product)) continue;
    const std::string_view region = reference_.CodeText(o.region);
    if (!StartsWith(region, query.origin_region_prefix)) continue;
    const std::string_view city = reference_.CodeText(p.city);
    if (!StartsWith(city, query.buyer_city_prefix)) continue;

    // The buyer a match is for: its member when the pledge is an
    // alliance's (as GetBuyerProgress counts purchases).
    const uint32_t buyer = m.member != kNoText ? m.member : p.buyer;
    keys.clear();
    for (const int d : query.group_by) {
      switch (static_cast<StatsDimension>(d)) {
        case StatsDimension::kDay: {
          const ShanghaiDate date = ShanghaiDateOf(m.matched_at);
          keys.push_back(absl::StrFormat("%04d-%02d-%02d", date.year,
                                         date.month, date.day));
          break;
        }
        case StatsDimension::kWeek: {
          const IsoWeek week = ShanghaiIsoWeekOf(m.matched_at);
          keys.push_back(absl::StrFormat("%04d-W%02d", week.year, week.week));
          break;
        }
        case StatsDimension::kMonth: {
          const ShanghaiDate date = ShanghaiDateOf(m.matched_at);
          keys.push_back(absl::StrFormat("%04d-%02d", date.year, date.month));
          break;
        }
        case StatsDimension::kQuarter: {
          const ShanghaiDate date = ShanghaiDateOf(m.matched_at);
          keys.push_back(
              absl::StrFormat("%04dQ%d", date.year, (date.month - 1) / 3 + 1));
          break;
        }
        case StatsDimension::kOriginProvince:
          keys.push_back(RegionCodeString(ProvinceOf(o.region)));
          break;
        case StatsDimension::kOriginPrefecture:
          keys.push_back(RegionCodeString(PrefectureOf(o.region)));
          break;
        case StatsDimension::kOriginCounty:
          keys.emplace_back(region);
          break;
        case StatsDimension::kBuyerCity:
          keys.emplace_back(city);
          break;
        case StatsDimension::kPairing:
          // The flag says whether a pairing covered the match when it was
          // made; the pairing named is the one that covers it now (a
          // pairing removed since leaves its matches under "").
          keys.push_back(m.partner ? pairing_key(p.city, o.region)
                                   : std::string());
          break;
        case StatsDimension::kBuyerKind:
          keys.emplace_back(BuyerKindName(p.kind));
          break;
        case StatsDimension::kProductCategory:
          keys.emplace_back(product.substr(0, product.find('.')));
          break;
        case StatsDimension::kProduct:
          keys.emplace_back(product);
          break;
        case StatsDimension::kCertified:
          keys.emplace_back(o.certified ? "true" : "false");
          break;
        case StatsDimension::kKeyAssisted:
          keys.emplace_back(reference_.IsKeyAssisted(o.region) ? "true"
                                                               : "false");
          break;
        case StatsDimension::kBuyer:
          keys.emplace_back(strings_.Get(buyer));
          break;
        case StatsDimension::kSupplier:
          keys.emplace_back(supplier);
          break;
      }
    }

    // kept_kg x price and accepted_kg x price are at most the match's
    // amount_fen, which the fill checked, but checking costs little.
    int64_t fen = 0, delivered_fen = 0;
    const int64_t delivered_kg =
        m.status == MatchStatus::kDelivered ? m.accepted_kg : 0;
    bool ok = !__builtin_mul_overflow(m.kept_kg(), m.price, &fen) &&
              !__builtin_mul_overflow(delivered_kg, m.price, &delivered_fen);
    Group& group = groups[keys];
    for (Group* g : {&group, &total}) {
      StatsRowView& r = g->row;
      ok = ok && AddTo(&r.kg, m.kept_kg()) && AddTo(&r.fen, fen) &&
           AddTo(&r.matches, 1) && AddTo(&r.delivered_kg, delivered_kg) &&
           AddTo(&r.delivered_fen, delivered_fen);
      g->suppliers.insert(o.supplier);
      g->buyers.insert(buyer);
      if (g->offers.insert(m.offer_id).second) {
        ok = ok && AddTo(&r.households, o.households);
      }
    }
    if (!ok) {
      return absl::OutOfRangeError(absl::StrCat(
          "match ", it - matches_.begin() + 1,
          ": the figures overflow a 64-bit sum; narrow from and to"));
    }
  }

  StatsView view;
  view.rows.reserve(groups.size());
  for (auto& [group_keys, g] : groups) {
    g.row.keys = group_keys;
    g.row.suppliers = static_cast<int64_t>(g.suppliers.size());
    g.row.buyers = static_cast<int64_t>(g.buyers.size());
    view.rows.push_back(std::move(g.row));
  }
  total.row.suppliers = static_cast<int64_t>(total.suppliers.size());
  total.row.buyers = static_cast<int64_t>(total.buyers.size());
  view.total = std::move(total.row);
  return view;
}

}  // namespace duijie
