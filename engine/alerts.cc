// AlertMonitor: see alerts.h for the design and the rules.
#include "engine/alerts.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/codes.h"

namespace duijie {
namespace {

constexpr Micros kSecond = 1000000;
constexpr Micros kMinute = 60 * kSecond;
constexpr Micros kMinHorizon = 3600 * kSecond;
constexpr Micros kMaxHorizon = Micros{30} * 86400 * kSecond;
constexpr int64_t kMaxRatioPermille = 1000000;
constexpr size_t kMaxCandidates = 20;
// kMaxQuantityKg (engine.h), repeated to keep this file free of engine.h.
constexpr int64_t kMaxGapKg = int64_t{1} << 40;

// Bucket families. A listed-regions pledge reaches a region R when one of
// its codes L holds R or R holds L (they overlap). It sits in an exact
// bucket for each L and in a reach bucket for each region that is an L or
// holds one (its codes and their ancestors, once each); R then finds it in
// the reach bucket of R (R is an L or holds one) or in the exact bucket of
// a strict ancestor of R (an L holds R). The cover being outermost, those
// cases exclude each other and the second matches one L at most, so a
// pledge counts once.
enum : uint64_t {
  kFamilyAny = 0,
  kFamilyExact = 1,
  kFamilyReach = 2,
};

bool Overlaps(int32_t a, int32_t b) {
  return RegionCovers(a, b) || RegionCovers(b, a);
}

AlertLevel LevelOf(int64_t gap, int64_t min_gap_kg) {
  // min_gap_kg <= 2^40, so 4 x fits.
  if (gap >= 4 * min_gap_kg) return AlertLevel::kCritical;
  if (gap >= 2 * min_gap_kg) return AlertLevel::kWarning;
  return AlertLevel::kWatch;
}

const char* GradeName(int grade) {
  switch (grade) {
    case 1:
      return "GRADE_PREMIUM";
    case 2:
      return "GRADE_FIRST";
    default:
      return "GRADE_SECOND";
  }
}

}  // namespace

bool AlertMonitor::Cell::operator==(const Cell& o) const {
  return open_kg == o.open_kg && at_risk_kg == o.at_risk_kg &&
         households == o.households && grade_kg[0] == o.grade_kg[0] &&
         grade_kg[1] == o.grade_kg[1] && grade_kg[2] == o.grade_kg[2] &&
         certified_kg == o.certified_kg && floors == o.floors &&
         offers == o.offers && alert_id == o.alert_id;
}

// --- Thresholds --------------------------------------------------------

absl::Status AlertMonitor::CheckThresholds(const AlertThresholds& t) {
  if (!t.category.empty()) {
    if (absl::Status s = CheckProductCode("thresholds.category", t.category);
        !s.ok()) {
      return s;
    }
    if (t.category.find('.') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("thresholds.category: \"", Absl(t.category),
                       "\" is not a category (one segment, no '.')"));
    }
  }
  if (t.horizon < kMinHorizon || t.horizon > kMaxHorizon ||
      t.horizon % kSecond != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("thresholds.horizon: ", t.horizon,
                     " us is not a whole number of seconds from 1 hour to "
                     "30 days"));
  }
  if (t.min_gap_kg < 1 || t.min_gap_kg > kMaxGapKg) {
    return absl::InvalidArgumentError(absl::StrCat(
        "thresholds.min_gap_kg: ", t.min_gap_kg, " is not in 1..", kMaxGapKg));
  }
  if (t.min_ratio_permille < 1000 || t.min_ratio_permille > kMaxRatioPermille) {
    return absl::InvalidArgumentError(
        absl::StrCat("thresholds.min_ratio_permille: ", t.min_ratio_permille,
                     " is not in 1000..", kMaxRatioPermille));
  }
  if (t.clear_permille < 0 || t.clear_permille > 1000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "thresholds.clear_permille: ", t.clear_permille, " is not in 0..1000"));
  }
  return absl::OkStatus();
}

const AlertThresholds AlertMonitor::kUnknown;

void AlertMonitor::SetThresholds(const AlertThresholds& t, Micros now) {
  thresholds_[t.category] = t;
  Rebuild(now);
  // Every candidate and every open alert is judged by the new thresholds.
  MarkCandidatesDirty();
  Evaluate(now);
}

AlertThresholds AlertMonitor::ThresholdsOf(std::string_view category) const {
  auto it = thresholds_.find(std::string(category));
  if (it != thresholds_.end()) return it->second;
  it = thresholds_.find("");
  AlertThresholds t = it != thresholds_.end() ? it->second : AlertThresholds();
  t.category = std::string(category);
  return t;
}

std::vector<AlertThresholds> AlertMonitor::ListThresholds() const {
  std::vector<AlertThresholds> out;
  for (const auto& [category, t] : thresholds_) out.push_back(t);
  return out;
}

const AlertThresholds* AlertMonitor::For(uint32_t product) const {
  if (product >= by_product_.size()) {
    by_product_.resize(product + 1, &kUnknown);
  }
  const AlertThresholds*& t = by_product_[product];
  if (t == &kUnknown) {
    std::string_view code = products_.code(product);
    auto it = thresholds_.find(std::string(code.substr(0, code.find('.'))));
    if (it == thresholds_.end()) it = thresholds_.find("");
    t = it != thresholds_.end() ? &it->second : nullptr;
  }
  return t;
}

// --- Book events ---------------------------------------------------------

AlertMonitor::Cell& AlertMonitor::CellOf(uint32_t product, int32_t region) {
  return cells_[KeyOf(product, region)];
}

void AlertMonitor::MarkDirty(CellKey key, Cell& cell) {
  if (cell.dirty) return;
  cell.dirty = true;
  dirty_.push_back(key);
}

void AlertMonitor::MarkCandidatesDirty() {
  // In hash order: Evaluate sorts the dirty cells.
  for (auto& [key, c] : cells_) {
    if (c.candidate) MarkDirty(key, c);
  }
}

void AlertMonitor::SetCandidate(CellKey key, Cell& cell, bool candidate) {
  if (cell.candidate == candidate) return;
  cell.candidate = candidate;
  for (uint32_t node : products_.node(static_cast<uint32_t>(key >> 32)).chain) {
    if (candidate) {
      candidates_by_node_[node].insert(key);
    } else {
      auto it = candidates_by_node_.find(node);
      it->second.erase(key);
      if (it->second.empty()) candidates_by_node_.erase(it);
    }
  }
}

void AlertMonitor::AddOffer(const OfferRecord& o, int sign, bool at_risk) {
  const int64_t kg = sign * o.remaining_kg;
  for (int32_t region : RegionChainOf(o.region)) {
    const CellKey key = KeyOf(o.product, region);
    Cell& c = cells_[key];
    c.open_kg += kg;
    c.offers += sign;
    if (at_risk) {
      c.at_risk_kg += kg;
      c.households += sign * o.households;
      c.grade_kg[static_cast<int>(o.grade) - 1] += kg;
      if (o.certified) c.certified_kg += kg;
      int64_t& n = c.floors[o.floor_price];
      n += sign;
      if (n == 0) c.floors.erase(o.floor_price);
    }
    MarkDirty(key, c);
  }
}

void AlertMonitor::OfferIn(uint64_t id, Micros now) {
  const OfferRecord& o = offers_[id - 1];
  if (at_risk_.size() < offers_.size()) at_risk_.resize(offers_.size(), 0);
  const AlertThresholds* t = For(o.product);
  if (t == nullptr) return;  // not followed
  const Micros risk_at = RiskAt(o, *t);
  const bool at_risk = risk_at <= now;
  at_risk_[id - 1] = at_risk;
  AddOffer(o, +1, at_risk);
  if (!at_risk) risk_queue_.Add(risk_at, id);
}

void AlertMonitor::OfferOut(uint64_t id) {
  if (For(offers_[id - 1].product) == nullptr) return;
  AddOffer(offers_[id - 1], -1, at_risk_[id - 1]);
  at_risk_[id - 1] = 0;  // its queue entry, if any, is skipped (Tick)
}

void AlertMonitor::OfferFilled(uint64_t id, int64_t kg) {
  const OfferRecord& o = offers_[id - 1];
  if (For(o.product) == nullptr) return;
  const bool at_risk = at_risk_[id - 1];
  for (int32_t region : RegionChainOf(o.region)) {
    const CellKey key = KeyOf(o.product, region);
    Cell& c = cells_[key];
    c.open_kg -= kg;
    if (at_risk) {
      c.at_risk_kg -= kg;
      c.grade_kg[static_cast<int>(o.grade) - 1] -= kg;
      if (o.certified) c.certified_kg -= kg;
    }
    MarkDirty(key, c);
  }
}

void AlertMonitor::MakeAtRisk(uint64_t id) {
  const OfferRecord& o = offers_[id - 1];
  AddOffer(o, -1, false);
  AddOffer(o, +1, true);
  at_risk_[id - 1] = 1;
}

void AlertMonitor::Bucket::Add(int64_t price, uint8_t class_mask,
                               int64_t add_kg) {
  auto at =
      std::lower_bound(levels.begin(), levels.end(), price,
                       [](const Level& l, int64_t p) { return l.price > p; });
  const size_t i = static_cast<size_t>(at - levels.begin());
  if (at == levels.end() || at->price != price) {
    Level level{price, {}, {}};
    for (int q = 0; q < kClasses; ++q) {
      if (class_mask >> q & 1) level.kg[q] = add_kg;
    }
    levels.insert(at, level);
    // The Fenwick trees built again from kg in O(n).
    const size_t n = levels.size();
    for (size_t j = 0; j < n; ++j) {
      for (int q = 0; q < kClasses; ++q) levels[j].tree[q] = levels[j].kg[q];
    }
    for (size_t j = 1; j <= n; ++j) {
      const size_t up = j + (j & (~j + 1));
      if (up > n) continue;
      for (int q = 0; q < kClasses; ++q) {
        levels[up - 1].tree[q] += levels[j - 1].tree[q];
      }
    }
  } else {
    for (int q = 0; q < kClasses; ++q) {
      if (class_mask >> q & 1) levels[i].kg[q] += add_kg;
    }
    for (size_t j = i + 1; j <= levels.size(); j += j & (~j + 1)) {
      for (int q = 0; q < kClasses; ++q) {
        if (class_mask >> q & 1) levels[j - 1].tree[q] += add_kg;
      }
    }
  }
  total_kg += add_kg;
}

int64_t AlertMonitor::Bucket::AtOrAbove(int64_t floor, int q) const {
  // Prices are descending: those >= floor are the first n.
  size_t n = static_cast<size_t>(
      std::upper_bound(levels.begin(), levels.end(), floor,
                       [](int64_t f, const Level& l) { return f > l.price; }) -
      levels.begin());
  int64_t sum = 0;  // at most the open pledge kg: no overflow
  for (; n > 0; n -= n & (~n + 1)) sum += levels[n - 1].tree[q];
  return sum;
}

void AlertMonitor::AddToBucket(BucketKey key, const PledgeRecord& p,
                               int64_t kg) {
  // The classes (best grade b, any certified a) the pledge suits: its min
  // grade admits b (min grade >= b) and it needs no certification or a.
  uint8_t mask = 0;
  for (int b = 1; b <= 3; ++b) {
    for (int a = 0; a <= 1; ++a) {
      if (static_cast<int>(p.min_grade) >= b && (!p.require_certified || a)) {
        mask |= uint8_t{1} << ((b - 1) * 2 + a);
      }
    }
  }
  Bucket& bucket = demand_[key];
  bucket.Add(p.max_price, mask, kg);
  if (bucket.total_kg != 0) return;
  // An empty bucket forgets its prices but stays, with its vector's
  // capacity: buckets empty and fill again all the time, and need not be
  // freed and allocated each time. The buckets are bounded by the (node,
  // scope region) pairs pledges have named since the last Rebuild or
  // pairing change.
  bucket.levels.clear();
}

void AlertMonitor::AddScoped(const PledgeRecord& p, const CodeSet& cover,
                             int64_t kg) {
  // The cover is outermost (no code holds another), so a region is held
  // by at most one of its codes; the codes and their ancestors are
  // deduplicated so that the pledge counts once in each reach bucket.
  absl::InlinedVector<int32_t, 6> reach;
  for (int32_t code : cover) {
    AddToBucket(BucketKeyOf(p.product, kFamilyExact, code), p, kg);
    for (int32_t r : RegionChainOf(code)) {
      if (std::find(reach.begin(), reach.end(), r) == reach.end()) {
        reach.push_back(r);
      }
    }
  }
  for (int32_t r : reach) {
    AddToBucket(BucketKeyOf(p.product, kFamilyReach, r), p, kg);
  }
}

void AlertMonitor::AddDemand(const PledgeRecord& p, int64_t kg) {
  // Without thresholds no cell is followed: demand is gathered on the
  // first SetAlertThresholds (Rebuild).
  if (kg == 0 || thresholds_.empty()) return;
  const uint32_t node = p.product;
  demand_changed_.push_back(node);
  if (node >= node_kg_.size()) node_kg_.resize(node + 1, 0);
  node_kg_[node] += kg;
  if (p.scope == Scope::kPartnersOnly) {
    AddScoped(p, reference_.PartnerWestCodes(p.city), kg);
  } else if (p.scope == Scope::kListedRegions) {
    AddScoped(p, CodeSet(p.listed_cover.begin(), p.listed_cover.end()), kg);
  } else {
    AddToBucket(BucketKeyOf(node, kFamilyAny, 0), p, kg);
  }
}

void AlertMonitor::SyncPairings() {
  if (filed_pairings_version_ == reference_.pairings_version()) return;
  filed_pairings_version_ = reference_.pairings_version();
  if (thresholds_.empty()) return;
  // A partners pledge is filed under its city's partner codes as they
  // stood; pairings change rarely and move no pledge, so the whole demand
  // is filed again from the open pledges, as Rebuild does.
  demand_.clear();
  std::fill(node_kg_.begin(), node_kg_.end(), 0);
  for (uint64_t id = 1; id <= pledges_.size(); ++id) {
    if (pledges_[id - 1].status == OrderStatus::kOpen) PledgeIn(id);
  }
}

void AlertMonitor::PledgeIn(uint64_t id) {
  const PledgeRecord& p = pledges_[id - 1];
  AddDemand(p, p.remaining_kg);
}
void AlertMonitor::PledgeOut(uint64_t id) {
  const PledgeRecord& p = pledges_[id - 1];
  AddDemand(p, -p.remaining_kg);
}
void AlertMonitor::PledgeFilled(uint64_t id, int64_t kg) {
  AddDemand(pledges_[id - 1], -kg);
}

// --- Evaluation ----------------------------------------------------------

void AlertMonitor::Tick(Micros before, Micros now) {
  risk_queue_.PopUntil(
      now,
      [&](uint64_t id) {
        const OfferRecord& o = offers_[id - 1];
        // An entry left by an offer that left, was made at risk already,
        // or rested again with a later expiry is skipped.
        // Queued offers are followed: For is not null.
        return o.status == OrderStatus::kOpen && !at_risk_[id - 1] &&
               RiskAt(o, *For(o.product)) <= now;
      },
      [&](uint64_t id) { MakeAtRisk(id); });
  if (before / kMinute != now / kMinute) minute_turned_ = true;
}

void AlertMonitor::Evaluate(Micros now) {
  SyncPairings();
  if (minute_turned_) {
    // The minute's sweep judges every candidate, but one judged since its
    // cell and its demand last changed would be judged the same again: only
    // those under a node whose demand changed are, unless the pairings
    // changed (partners scopes reach anew) or Rebuild left judge_all_.
    minute_turned_ = false;
    if (judge_all_ ||
        judged_pairings_version_ != reference_.pairings_version()) {
      judge_all_ = false;
      judged_pairings_version_ = reference_.pairings_version();
      MarkCandidatesDirty();
    } else {
      std::sort(demand_changed_.begin(), demand_changed_.end());
      demand_changed_.erase(
          std::unique(demand_changed_.begin(), demand_changed_.end()),
          demand_changed_.end());
      for (uint32_t node : demand_changed_) {
        auto it = candidates_by_node_.find(node);
        if (it == candidates_by_node_.end()) continue;
        for (CellKey key : it->second) MarkDirty(key, cells_.at(key));
      }
    }
    demand_changed_.clear();
  }
  if (dirty_.empty()) return;
  std::sort(dirty_.begin(), dirty_.end());
  for (CellKey key : dirty_) EvaluateCell(key, now);
  dirty_.clear();
}

int64_t AlertMonitor::SumOf(uint32_t node, uint64_t family, int32_t code,
                            int64_t floor, int q) const {
  auto it = demand_.find(BucketKeyOf(node, family, code));
  return it == demand_.end() ? 0 : it->second.AtOrAbove(floor, q);
}

int64_t AlertMonitor::DemandOf(uint32_t product, int32_t region,
                               const Cell& c) const {
  if (c.at_risk_kg <= 0 || c.floors.empty()) return 0;
  const int64_t min_floor = c.floors.begin()->first;
  int best_grade = 3;  // the best (lowest) grade number at risk
  for (int g = 1; g <= 3; ++g) {
    if (c.grade_kg[g - 1] > 0) {
      best_grade = g;
      break;
    }
  }
  const int q = (best_grade - 1) * 2 + (c.certified_kg > 0 ? 1 : 0);
  const ProductNode& product_node = products_.node(product);
  const RegionChain chain = RegionChainOf(region);  // region first
  int64_t kg = 0;  // at most the open pledge kg: no overflow
  for (uint32_t node : product_node.chain) {
    if (node >= node_kg_.size() || node_kg_[node] == 0) continue;
    kg += SumOf(node, kFamilyAny, 0, min_floor, q);
    kg += SumOf(node, kFamilyReach, region, min_floor, q);
    for (size_t i = 1; i < chain.size(); ++i) {
      kg += SumOf(node, kFamilyExact, chain[i], min_floor, q);
    }
  }
  return kg;
}

void AlertMonitor::Log(uint64_t alert_id, AlertEventKind kind) {
  const AlertRecord& a = alerts_[alert_id - 1];
  events_.push_back(AlertEventRecord{alert_id, kind, a.level, a.at_risk_kg,
                                     a.demand_kg, a.households, a.open_kg,
                                     a.updated_at});
}

void AlertMonitor::EvaluateCell(CellKey key, Micros now) {
  auto it = cells_.find(key);
  if (it == cells_.end()) return;
  Cell& c = it->second;
  c.dirty = false;
  const uint32_t product = static_cast<uint32_t>(key >> 32);
  const int32_t region = static_cast<int32_t>(static_cast<uint32_t>(key));
  // Cells exist only for followed products: For is not null.
  const AlertThresholds& t = *For(product);
  const bool candidate = c.alert_id != 0 || c.at_risk_kg >= t.min_gap_kg;
  SetCandidate(key, c, candidate);
  if (!candidate) {
    if (c.offers == 0) cells_.erase(it);
    return;
  }
  const int64_t demand = DemandOf(product, region, c);
  const int64_t gap = c.at_risk_kg - demand;
  if (c.alert_id == 0) {
    if (gap >= t.min_gap_kg &&
        static_cast<__int128>(c.at_risk_kg) * 1000 >=
            static_cast<__int128>(demand) * t.min_ratio_permille) {
      alerts_.push_back(AlertRecord{product, region, LevelOf(gap, t.min_gap_kg),
                                    c.at_risk_kg, demand, c.households,
                                    c.open_kg, now, now, 0});
      c.alert_id = alerts_.size();
      Log(c.alert_id, AlertEventKind::kRaised);
    }
    return;
  }
  AlertRecord& a = alerts_[c.alert_id - 1];
  if (a.at_risk_kg != c.at_risk_kg || a.demand_kg != demand ||
      a.households != c.households || a.open_kg != c.open_kg) {
    a.at_risk_kg = c.at_risk_kg;
    a.demand_kg = demand;
    a.households = c.households;
    a.open_kg = c.open_kg;
    a.updated_at = now;
  }
  if (static_cast<__int128>(gap) * 1000 <
      static_cast<__int128>(t.min_gap_kg) * t.clear_permille) {
    a.cleared_at = now;
    a.updated_at = now;
    Log(c.alert_id, AlertEventKind::kCleared);
    c.alert_id = 0;
    if (c.at_risk_kg < t.min_gap_kg) SetCandidate(key, c, false);
    if (c.offers == 0) cells_.erase(it);
    return;
  }
  const AlertLevel level = LevelOf(gap, t.min_gap_kg);
  if (level > a.level) {
    a.level = level;
    a.updated_at = now;
    Log(c.alert_id, AlertEventKind::kEscalated);
  }
}

// --- Reads ---------------------------------------------------------------

bool AlertMonitor::Passes(const AlertRecord& a, const AlertFilter& f) const {
  return ProductCovers(f.product_code_prefix, products_.code(a.product)) &&
         StartsWith(RegionCodeString(a.region), f.region_code_prefix);
}

AlertView AlertMonitor::MakeView(uint64_t alert_id) const {
  const AlertRecord& a = alerts_[alert_id - 1];
  AlertView v;
  v.alert_id = alert_id;
  v.product_code = std::string(products_.code(a.product));
  v.region_code = RegionCodeString(a.region);
  v.level = a.level;
  v.at_risk_kg = a.at_risk_kg;
  v.demand_kg = a.demand_kg;
  v.households = a.households;
  v.open_offer_kg = a.open_kg;
  v.raised_at = a.raised_at;
  v.updated_at = a.updated_at;
  v.cleared_at = a.cleared_at;
  return v;
}

std::vector<AlertCandidateView> AlertMonitor::CandidatesOf(
    const AlertRecord& a) const {
  std::vector<AlertCandidateView> out;
  auto it = cells_.find(KeyOf(a.product, a.region));
  if (it == cells_.end() || it->second.floors.empty()) return out;
  const Cell& c = it->second;
  const int64_t min_floor = c.floors.begin()->first;
  int best_grade = 3;
  for (int g = 1; g <= 3; ++g) {
    if (c.grade_kg[g - 1] > 0) {
      best_grade = g;
      break;
    }
  }
  const std::string_view product = products_.code(a.product);
  // A read may scan: every open pledge of the product or an ancestor whose
  // buyer city is paired with the region, and that is not compatible now.
  for (uint64_t id = 1; id <= pledges_.size(); ++id) {
    const PledgeRecord& p = pledges_[id - 1];
    if (p.status != OrderStatus::kOpen || p.remaining_kg <= 0) continue;
    if (!ProductCovers(products_.code(p.product), product)) continue;
    bool paired = false;
    for (int32_t west : reference_.PartnerWestCodes(p.city)) {
      paired = paired || Overlaps(west, a.region);
    }
    if (!paired) continue;
    AlertCandidateView v;
    if (p.max_price < min_floor) {
      v.changes.push_back(absl::StrCat("max price ", min_floor, " fen/kg"));
    }
    if (static_cast<int>(p.min_grade) < best_grade) {
      v.changes.push_back(absl::StrCat("min grade ", GradeName(best_grade)));
    }
    if (p.require_certified && c.certified_kg <= 0) {
      v.changes.push_back("drop certification");
    }
    if (p.scope == Scope::kListedRegions) {
      bool listed = false;
      for (int32_t code : p.listed_cover) {
        listed = listed || Overlaps(code, a.region);
      }
      if (!listed) {
        v.changes.push_back(
            absl::StrCat("add region ", RegionCodeString(a.region)));
      }
    }
    if (v.changes.empty()) continue;  // compatible already: in demand_kg
    v.pledge_id = id;
    v.buyer_id = std::string(strings_.Get(p.buyer));
    v.buyer_city_code = RegionCodeString(p.city);
    v.kg = std::min(p.remaining_kg, c.at_risk_kg);
    out.push_back(std::move(v));
  }
  std::sort(out.begin(), out.end(),
            [](const AlertCandidateView& x, const AlertCandidateView& y) {
              return x.kg != y.kg ? x.kg > y.kg : x.pledge_id < y.pledge_id;
            });
  if (out.size() > kMaxCandidates) out.resize(kMaxCandidates);
  return out;
}

std::vector<AlertView> AlertMonitor::ListAlerts(const AlertFilter& filter,
                                                bool candidates) const {
  std::vector<uint64_t> ids;
  for (uint64_t id = 1; id <= alerts_.size(); ++id) {
    const AlertRecord& a = alerts_[id - 1];
    if ((a.cleared_at == 0 || filter.include_cleared) && Passes(a, filter)) {
      ids.push_back(id);
    }
  }
  std::sort(ids.begin(), ids.end(), [&](uint64_t x, uint64_t y) {
    const AlertRecord& a = alerts_[x - 1];
    const AlertRecord& b = alerts_[y - 1];
    const bool a_open = a.cleared_at == 0;
    const bool b_open = b.cleared_at == 0;
    if (a_open != b_open) return a_open;
    if (a_open) {
      if (a.level != b.level) return a.level > b.level;
      const int64_t ga = a.at_risk_kg - a.demand_kg;
      const int64_t gb = b.at_risk_kg - b.demand_kg;
      if (ga != gb) return ga > gb;
      return x < y;
    }
    if (a.cleared_at != b.cleared_at) return a.cleared_at > b.cleared_at;
    return x > y;
  });
  std::vector<AlertView> out;
  out.reserve(ids.size());
  for (uint64_t id : ids) {
    out.push_back(MakeView(id));
    const AlertRecord& a = alerts_[id - 1];
    if (candidates && a.cleared_at == 0) {
      out.back().candidates = CandidatesOf(a);
    }
  }
  return out;
}

std::vector<AlertEventView> AlertMonitor::ListEvents(const AlertFilter& filter,
                                                     uint64_t after_event_id,
                                                     int limit,
                                                     bool* more) const {
  std::vector<AlertEventView> out;
  *more = false;
  for (uint64_t i = after_event_id; i < events_.size(); ++i) {
    const AlertEventRecord& e = events_[i];
    if (!Passes(alerts_[e.alert_id - 1], filter)) continue;
    if (static_cast<int>(out.size()) >= limit) {
      *more = true;
      break;
    }
    AlertEventView v;
    v.event_id = i + 1;
    v.kind = e.kind;
    v.alert = MakeView(e.alert_id);
    v.alert.level = e.level;
    v.alert.at_risk_kg = e.at_risk_kg;
    v.alert.demand_kg = e.demand_kg;
    v.alert.households = e.households;
    v.alert.open_offer_kg = e.open_kg;
    v.alert.updated_at = e.at;
    v.alert.cleared_at = e.kind == AlertEventKind::kCleared ? e.at : 0;
    out.push_back(std::move(v));
  }
  return out;
}

// --- State ---------------------------------------------------------------

void AlertMonitor::Save(ByteWriter& w) const {
  w.U64(thresholds_.size());
  for (const auto& [category, t] : thresholds_) {
    w.Str(category);
    w.I64(t.horizon);
    w.I64(t.min_gap_kg);
    w.I64(t.min_ratio_permille);
    w.I64(t.clear_permille);
  }
  w.U64(alerts_.size());
  for (const AlertRecord& a : alerts_) {
    w.U32(a.product);
    w.I64(a.region);
    w.U8(static_cast<uint8_t>(a.level));
    w.I64(a.at_risk_kg);
    w.I64(a.demand_kg);
    w.I64(a.households);
    w.I64(a.open_kg);
    w.I64(a.raised_at);
    w.I64(a.updated_at);
    w.I64(a.cleared_at);
  }
  w.U64(events_.size());
  for (const AlertEventRecord& e : events_) {
    w.U64(e.alert_id);
    w.U8(static_cast<uint8_t>(e.kind));
    w.U8(static_cast<uint8_t>(e.level));
    w.I64(e.at_risk_kg);
    w.I64(e.demand_kg);
    w.I64(e.households);
    w.I64(e.open_kg);
    w.I64(e.at);
  }
}

bool AlertMonitor::Load(ByteReader& r, Micros now) {
  thresholds_.clear();
  alerts_.clear();
  events_.clear();
  by_product_.clear();
  const uint64_t nthresholds = r.Count(/*min_bytes=*/4 + 32);
  for (uint64_t i = 0; i < nthresholds && r.ok(); ++i) {
    AlertThresholds t;
    t.category = std::string(r.Str());
    t.horizon = r.I64();
    t.min_gap_kg = r.I64();
    t.min_ratio_permille = r.I64();
    t.clear_permille = r.I64();
    if (!r.ok() || !CheckThresholds(t).ok()) return false;
    if (!thresholds_.empty() && !(thresholds_.rbegin()->first < t.category)) {
      return false;
    }
    thresholds_.emplace(t.category, t);
  }
  const uint64_t nalerts = r.Count(/*min_bytes=*/4 + 8 + 1 + 7 * 8);
  for (uint64_t i = 0; i < nalerts && r.ok(); ++i) {
    AlertRecord a;
    a.product = r.U32();
    a.region = static_cast<int32_t>(r.I64());
    const uint8_t level = r.U8();
    a.level = static_cast<AlertLevel>(level);
    a.at_risk_kg = r.I64();
    a.demand_kg = r.I64();
    a.households = r.I64();
    a.open_kg = r.I64();
    a.raised_at = r.I64();
    a.updated_at = r.I64();
    a.cleared_at = r.I64();
    if (!r.ok() || a.product >= products_.size() || level < 1 || level > 3 ||
        a.raised_at > a.updated_at || a.updated_at > now ||
        (a.cleared_at != 0 && a.cleared_at != a.updated_at)) {
      return false;
    }
    alerts_.push_back(a);
  }
  const uint64_t nevents = r.Count(/*min_bytes=*/8 + 2 + 5 * 8);
  for (uint64_t i = 0; i < nevents && r.ok(); ++i) {
    AlertEventRecord e;
    e.alert_id = r.U64();
    const uint8_t kind = r.U8();
    const uint8_t level = r.U8();
    e.kind = static_cast<AlertEventKind>(kind);
    e.level = static_cast<AlertLevel>(level);
    e.at_risk_kg = r.I64();
    e.demand_kg = r.I64();
    e.households = r.I64();
    e.open_kg = r.I64();
    e.at = r.I64();
    if (!r.ok() || e.alert_id < 1 || e.alert_id > alerts_.size() || kind < 1 ||
        kind > 3 || level < 1 || level > 3 ||
        (!events_.empty() && e.at < events_.back().at)) {
      return false;
    }
    events_.push_back(e);
  }
  return r.ok();
}

void AlertMonitor::Rebuild(Micros now) {
  by_product_.clear();
  cells_.clear();
  candidates_by_node_.clear();
  demand_changed_.clear();
  minute_turned_ = false;
  // The live engine judges the nodes changed this minute at the next one;
  // those are not known here, so every candidate is judged then instead.
  judge_all_ = true;
  dirty_.clear();
  at_risk_.assign(offers_.size(), 0);
  risk_queue_ = ExpiryQueue();
  demand_.clear();
  std::fill(node_kg_.begin(), node_kg_.end(), 0);
  filed_pairings_version_ = reference_.pairings_version();
  for (uint64_t id = 1; id <= offers_.size(); ++id) {
    if (offers_[id - 1].status == OrderStatus::kOpen) OfferIn(id, now);
  }
  for (uint64_t id = 1; id <= pledges_.size(); ++id) {
    if (pledges_[id - 1].status == OrderStatus::kOpen) PledgeIn(id);
  }
  for (uint64_t id = 1; id <= alerts_.size(); ++id) {
    const AlertRecord& a = alerts_[id - 1];
    if (a.cleared_at == 0) CellOf(a.product, a.region).alert_id = id;
  }
  for (auto& [key, c] : cells_) {
    c.dirty = false;
  }
  // cells_ is unordered: the candidates are set in key order.
  std::vector<CellKey> keys;
  for (const auto& [key, c] : cells_) {
    if (c.alert_id != 0 ||
        c.at_risk_kg >= For(static_cast<uint32_t>(key >> 32))->min_gap_kg) {
      keys.push_back(key);
    }
  }
  std::sort(keys.begin(), keys.end());
  for (CellKey key : keys) SetCandidate(key, cells_.at(key), true);
  dirty_.clear();
}

}  // namespace duijie
