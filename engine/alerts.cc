// AlertMonitor: see alerts.h for the design and the rules.
#include "engine/alerts.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/codes.h"
#include "engine/violations.h"

namespace duijie {
namespace {

constexpr Micros kSecond = 1000000;
constexpr Micros kMinHorizon = 3600 * kSecond;
constexpr Micros kMaxHorizon = Micros{30} * 86400 * kSecond;
constexpr int64_t kMaxRatioPermille = 1000000;
constexpr size_t kMaxCandidates = 20;
// kMaxQuantityKg (engine.h), repeated to keep this file free of engine.h.
constexpr int64_t kMaxGapKg = int64_t{1} << 40;
// A churn (alerts.h, "Judgement") starts again at 0 past this: a cell's
// churn (a sum over at most 6 chain nodes, kMaxProductSegments) and its
// wake (churn + slack, slack capped at kMaxSlack) then stay below 2^62.
constexpr int64_t kChurnLimit = int64_t{1} << 53;
constexpr int64_t kMaxSlack = int64_t{1} << 61;

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

// --- Thresholds --------------------------------------------------------

absl::Status AlertMonitor::CheckThresholds(const AlertThresholds& t) {
  // Every field, so that a refusal names all that are bad (violations.h).
  Violations v;
  if (!t.category.empty()) {
    v.Add(CheckProductCode("thresholds.category", t.category));
    if (!v.Bad("thresholds.category") &&
        t.category.find('.') != std::string::npos) {
      v.Add(absl::InvalidArgumentError(
          absl::StrCat("thresholds.category: \"", Absl(t.category),
                       "\" is not a category (one segment, no '.')")));
    }
  }
  if (t.horizon < kMinHorizon || t.horizon > kMaxHorizon ||
      t.horizon % kSecond != 0) {
    v.Add(absl::InvalidArgumentError(
        absl::StrCat("thresholds.horizon: ", t.horizon,
                     " us is not a whole number of seconds from 1 hour to "
                     "30 days")));
  }
  if (t.min_gap_kg < 1 || t.min_gap_kg > kMaxGapKg) {
    v.Add(absl::InvalidArgumentError(absl::StrCat(
        "thresholds.min_gap_kg: ", t.min_gap_kg, " is not in 1..", kMaxGapKg)));
  }
  if (t.min_ratio_permille < 1000 || t.min_ratio_permille > kMaxRatioPermille) {
    v.Add(absl::InvalidArgumentError(
        absl::StrCat("thresholds.min_ratio_permille: ", t.min_ratio_permille,
                     " is not in 1000..", kMaxRatioPermille)));
  }
  if (t.clear_permille < 0 || t.clear_permille > 1000) {
    v.Add(absl::InvalidArgumentError(
        absl::StrCat("thresholds.clear_permille: ", t.clear_permille,
                     " is not in 0..1000")));
  }
  return v.ToStatus();
}

const AlertThresholds AlertMonitor::kUnknown;

void AlertMonitor::SetThresholds(const AlertThresholds& t, Micros now) {
  thresholds_[t.category] = t;
  // Every cell with at-risk kg or an open alert is judged by the new
  // thresholds (Rebuild marks them).
  Rebuild(now);
  Evaluate(now);
}

AlertThresholds AlertMonitor::ThresholdsIn(
    const std::map<std::string, AlertThresholds>& set,
    std::string_view category) {
  auto it = set.find(std::string(category));
  if (it != set.end()) return it->second;
  it = set.find("");
  AlertThresholds t = it != set.end() ? it->second : AlertThresholds();
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
    std::string_view code = products().code(product);
    auto it = thresholds_.find(std::string(code.substr(0, code.find('.'))));
    if (it == thresholds_.end()) it = thresholds_.find("");
    t = it != thresholds_.end() ? &it->second : nullptr;
  }
  return t;
}

// --- Following a feed --------------------------------------------------------

void AlertMonitor::StartFollowing() {
  if (own_ != nullptr) return;
  auto own = std::make_unique<Own>();
  own->offers = offers();
  own->pledges = pledges();
  // Interned in index order, each code's ancestors come before it, as they
  // did in the engine: every product gets the engine's index.
  for (uint32_t i = 0; i < products().size(); ++i) {
    own->products.Intern(products().code(i));
  }
  bool more = false;
  for (const Pairing& pairing : reference().ListPairings(
           "", "", "", std::numeric_limits<int>::max(), &more, nullptr)) {
    own->reference.PutPairing(pairing);
  }
  own_ = std::move(own);
  offers_ = &own_->offers;
  pledges_ = &own_->pledges;
  products_ = &own_->products;
  reference_ = &own_->reference;
  // Cells and demand were made from the same records, products and
  // pairings: they stand as they are.
  filed_pairings_version_ = reference().pairings_version();
}

namespace {

// Stores the copy of order `id` as it comes to rest. Ids below it that
// never rested (matched in full on arrival) get closed placeholders, which
// every scan for open orders skips.
template <typename Record>
void StoreCopy(RecordArray<Record>& records, uint64_t id, Record&& record) {
  if (records.size() < id) {
    const size_t known = records.size();
    records.resize(id);
    for (size_t i = known; i < id; ++i) {
      records[i].status = OrderStatus::kFilled;
    }
  }
  records[id - 1] = std::move(record);
}

}  // namespace

void AlertMonitor::Follow(AlertFeed* in) {
  using Op = AlertFeed::Op;
  AlertFeed& feed = *in;
  // Before the feed starts, the engine's feeds are empty.
  if (feed.entries.empty()) return;
  Own& own = *own_;
  size_t next_offer = 0, next_pledge = 0, next_thresholds = 0, next_code = 0,
         next_pairing = 0;
  for (const AlertFeed::Entry& e : feed.entries) {
    switch (e.op) {
      case Op::kOfferIn:
        StoreCopy(own.offers, e.id, std::move(feed.offers[next_offer++]));
        OfferIn(e.id, e.value);
        break;
      case Op::kOfferOut:
        OfferOut(e.id);
        own.offers[e.id - 1].status = OrderStatus::kCancelled;
        break;
      case Op::kOfferFilled:
        OfferFilled(e.id, e.value);
        own.offers[e.id - 1].remaining_kg -= e.value;
        break;
      case Op::kPledgeIn:
        StoreCopy(own.pledges, e.id, std::move(feed.pledges[next_pledge++]));
        PledgeIn(e.id);
        break;
      case Op::kPledgeOut:
        PledgeOut(e.id);
        own.pledges[e.id - 1].status = OrderStatus::kCancelled;
        break;
      case Op::kPledgeFilled:
        PledgeFilled(e.id, e.value);
        own.pledges[e.id - 1].remaining_kg -= e.value;
        break;
      case Op::kTick:
        Tick(e.value);
        break;
      case Op::kEvaluate:
        Evaluate(e.value);
        break;
      case Op::kThresholds:
        SetThresholds(feed.thresholds[next_thresholds++], e.value);
        break;
      case Op::kProducts:
        for (uint64_t i = 0; i < e.id; ++i) {
          own.products.Intern(feed.product_codes[next_code++]);
        }
        break;
      case Op::kPutPairing:
        own.reference.PutPairing(feed.pairings[next_pairing++]);
        break;
      case Op::kRemovePairing: {
        const Pairing& p = feed.pairings[next_pairing++];
        own.reference.RemovePairing(p.east_code, p.west_code);
        break;
      }
    }
  }
}

// --- Book events ---------------------------------------------------------

uint32_t AlertMonitor::CellsOf(uint32_t product, int32_t region) {
  const RegionChain chain = RegionChainOf(region);  // region first
  uint32_t cell = kNoCell;  // the one above, then this one
  for (size_t i = chain.size(); i-- > 0;) {
    const CellKey key = KeyOf(product, chain[i]);
    auto [it, made] =
        cell_index_.try_emplace(key, static_cast<uint32_t>(cells_.size()));
    if (made) {
      cells_.emplace_back();
      cells_.back().key = key;
      cells_.back().parent = cell;
    }
    cell = it->second;
  }
  return cell;
}

const AlertMonitor::Cell* AlertMonitor::FindCell(uint32_t product,
                                                 int32_t region) const {
  auto it = cell_index_.find(KeyOf(product, region));
  return it == cell_index_.end() ? nullptr : &cells_[it->second];
}

void AlertMonitor::MarkDirty(uint32_t cell) {
  Cell& c = cells_[cell];
  if (c.dirty) return;
  c.dirty = true;
  dirty_.push_back(cell);
}

void AlertMonitor::JudgeAllAgain() {
  for (uint32_t i = 0; i < cells_.size(); ++i) {
    Cell& c = cells_[i];
    if (c.at_risk_kg == 0 && c.alert_id == 0) continue;
    c.demand_class = -1;  // computed afresh
    MarkDirty(i);
  }
}

void AlertMonitor::AddOffer(const OfferRecord& o, uint32_t cell, int sign,
                            bool open, bool at_risk) {
  const int64_t kg = sign * o.remaining_kg;
  for (uint32_t i = cell; i != kNoCell; i = cells_[i].parent) {
    Cell& c = cells_[i];
    if (open) c.open_kg += kg;
    if (at_risk) {
      c.at_risk_kg += kg;
      c.households += sign * o.households;
      c.grade_kg[static_cast<int>(o.grade) - 1] += kg;
      if (o.certified) c.certified_kg += kg;
      int64_t& n = c.floors[o.floor_price];
      n += sign;
      if (n == 0) c.floors.erase(o.floor_price);
      // Only at-risk figures bear on a judgement: open kg alone is shown.
      MarkDirty(i);
    }
  }
}

void AlertMonitor::OfferIn(uint64_t id, Micros now) {
  const OfferRecord& o = offers()[id - 1];
  if (at_risk_.size() < offers().size()) {
    at_risk_.resize(offers().size(), 0);
    offer_cell_.resize(offers().size(), kNoCell);
  }
  const AlertThresholds* t = For(o.product);
  if (t == nullptr) return;  // not followed
  const Micros risk_at = RiskAt(o, *t);
  const bool at_risk = risk_at <= now;
  at_risk_[id - 1] = at_risk;
  uint32_t& cell = offer_cell_[id - 1];
  if (cell == kNoCell) cell = CellsOf(o.product, o.region);
  AddOffer(o, cell, +1, /*open=*/true, at_risk);
  if (!at_risk) risk_queue_.Add(risk_at, id);
}

void AlertMonitor::OfferOut(uint64_t id) {
  if (For(offers()[id - 1].product) == nullptr) return;
  AddOffer(offers()[id - 1], offer_cell_[id - 1], -1, /*open=*/true,
           at_risk_[id - 1]);
  at_risk_[id - 1] = 0;  // its queue entry, if any, is skipped (Tick)
}

void AlertMonitor::OfferFilled(uint64_t id, int64_t kg) {
  const OfferRecord& o = offers()[id - 1];
  if (For(o.product) == nullptr) return;
  const bool at_risk = at_risk_[id - 1];
  for (uint32_t i = offer_cell_[id - 1]; i != kNoCell; i = cells_[i].parent) {
    Cell& c = cells_[i];
    c.open_kg -= kg;
    if (at_risk) {
      c.at_risk_kg -= kg;
      c.grade_kg[static_cast<int>(o.grade) - 1] -= kg;
      if (o.certified) c.certified_kg -= kg;
      MarkDirty(i);
    }
  }
}

void AlertMonitor::MakeAtRisk(uint64_t id) {
  const OfferRecord& o = offers()[id - 1];
  // Open already: only its at-risk figures are added.
  AddOffer(o, offer_cell_[id - 1], +1, /*open=*/false, /*at_risk=*/true);
  at_risk_[id - 1] = 1;
}

void AlertMonitor::Bucket::Add(int64_t price, uint8_t class_mask,
                               int64_t add_kg) {
  total_kg += add_kg;
  // The block that holds the price or would: the first whose lowest price
  // is at or below it, else the last.
  auto block =
      std::partition_point(blocks.begin(), blocks.end(),
                           [&](const Block& b) { return b.lowest > price; });
  if (block == blocks.end()) {
    if (blocks.empty()) {
      blocks.emplace_back();
      blocks.back().levels.push_back(Level{price, {}});
      blocks.back().lowest = price;
    }
    block = blocks.end() - 1;
  }
  std::vector<Level>& levels = block->levels;
  auto at =
      std::partition_point(levels.begin(), levels.end(),
                           [&](const Level& l) { return l.price > price; });
  if (at == levels.end() || at->price != price) {
    at = levels.insert(at, Level{price, {}});
    block->lowest = levels.back().price;
  }
  bool empty = true;
  for (int q = 0; q < kClasses; ++q) {
    if (class_mask >> q & 1) {
      at->kg[q] += add_kg;
      block->kg[q] += add_kg;
    }
    empty = empty && at->kg[q] == 0;
  }
  if (empty) {
    levels.erase(at);
    if (levels.empty()) {
      blocks.erase(block);
    } else {
      block->lowest = levels.back().price;
    }
    return;
  }
  if (levels.size() > 2 * kBlock) {
    // Split in two halves, each with its own kg.
    Block upper;
    upper.levels.assign(levels.begin(), levels.begin() + kBlock);
    levels.erase(levels.begin(), levels.begin() + kBlock);
    upper.lowest = upper.levels.back().price;
    for (const Level& l : upper.levels) {
      for (int q = 0; q < kClasses; ++q) {
        upper.kg[q] += l.kg[q];
        block->kg[q] -= l.kg[q];
      }
    }
    blocks.insert(block, std::move(upper));
  }
}

int64_t AlertMonitor::Bucket::AtOrAbove(int64_t floor, int q) const {
  int64_t sum = 0;  // at most the open pledge kg: no overflow
  for (const Block& b : blocks) {
    if (b.lowest >= floor) {
      sum += b.kg[q];
      continue;
    }
    for (const Level& l : b.levels) {
      if (l.price < floor) break;
      sum += l.kg[q];
    }
    break;
  }
  return sum;
}

uint8_t AlertMonitor::ClassMaskOf(const PledgeRecord& p) {
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
  return mask;
}

void AlertMonitor::AddToBucket(BucketKey key, const PledgeRecord& p,
                               uint8_t mask, int64_t kg) {
  // An empty bucket stays: buckets empty and fill again all the time. They
  // are bounded by the (node, scope region) pairs pledges have named since
  // the last Rebuild or pairing change.
  demand_[key].Add(p.max_price, mask, kg);
}

void AlertMonitor::AddScoped(const PledgeRecord& p, const CodeSet& cover,
                             uint8_t mask, int64_t kg) {
  // The cover is outermost (no code holds another), so a region is held
  // by at most one of its codes; the codes and their ancestors are
  // deduplicated so that the pledge counts once in each reach bucket.
  absl::InlinedVector<int32_t, 6> reach;
  for (int32_t code : cover) {
    AddToBucket(BucketKeyOf(p.product, kFamilyExact, code), p, mask, kg);
    for (int32_t r : RegionChainOf(code)) {
      if (std::find(reach.begin(), reach.end(), r) == reach.end()) {
        reach.push_back(r);
      }
    }
  }
  for (int32_t r : reach) {
    AddToBucket(BucketKeyOf(p.product, kFamilyReach, r), p, mask, kg);
  }
}

void AlertMonitor::AddDemand(const PledgeRecord& p, int64_t kg) {
  // Without thresholds no cell is followed: demand is gathered on the
  // first SetAlertThresholds (Rebuild).
  if (kg == 0 || thresholds_.empty()) return;
  const uint32_t node = p.product;
  if (node >= node_kg_.size()) node_kg_.resize(node + 1, 0);
  node_kg_[node] += kg;
  if (node >= churn_.size()) churn_.resize(node + 1);
  const int band = PriceBandOf(p.max_price);
  churned_.push_back(uint64_t{node} << 16 | static_cast<uint64_t>(band));
  PriceBandChurn& churn = churn_[node];
  churn.Add(band, kg < 0 ? -kg : kg);  // <= 2^40
  if (churn.AtOrAbove(0) > kChurnLimit) {
    // Far beyond any book's life, but a churn must not overflow: every
    // count starts again at 0 and every cell is judged afresh.
    for (PriceBandChurn& c : churn_) c = PriceBandChurn();
    for (Cell& c : cells_) c.churn_at = 0;
    JudgeAllAgain();
  }
  const uint8_t mask = ClassMaskOf(p);
  if (p.scope == Scope::kPartnersOnly) {
    AddScoped(p, reference().PartnerWestCodes(p.city), mask, kg);
  } else if (p.scope == Scope::kListedRegions) {
    AddScoped(p, CodeSet(p.listed.cover().begin(), p.listed.cover().end()),
              mask, kg);
  } else {
    AddToBucket(BucketKeyOf(node, kFamilyAny, 0), p, mask, kg);
  }
}

void AlertMonitor::SyncPairings() {
  if (filed_pairings_version_ == reference().pairings_version()) return;
  filed_pairings_version_ = reference().pairings_version();
  if (thresholds_.empty()) return;
  // A partners pledge is filed under its city's partner codes as they
  // stood; pairings change rarely and move no pledge, so the whole demand
  // is filed again from the open pledges, as Rebuild does.
  demand_.clear();
  std::fill(node_kg_.begin(), node_kg_.end(), 0);
  for (uint64_t id = 1; id <= pledges().size(); ++id) {
    if (pledges()[id - 1].status == OrderStatus::kOpen) PledgeIn(id);
  }
  // Demand moved by no churn: every judgement is made afresh.
  JudgeAllAgain();
}

void AlertMonitor::PledgeIn(uint64_t id) {
  const PledgeRecord& p = pledges()[id - 1];
  AddDemand(p, p.remaining_kg);
}
void AlertMonitor::PledgeOut(uint64_t id) {
  const PledgeRecord& p = pledges()[id - 1];
  AddDemand(p, -p.remaining_kg);
}
void AlertMonitor::PledgeFilled(uint64_t id, int64_t kg) {
  AddDemand(pledges()[id - 1], -kg);
}

// --- Evaluation ----------------------------------------------------------

void AlertMonitor::Tick(Micros now) {
  risk_queue_.PopUntil(
      now,
      [&](uint64_t id) {
        const OfferRecord& o = offers()[id - 1];
        // An entry left by an offer that left, was made at risk already,
        // or rested again with a later expiry is skipped.
        // Queued offers are followed: For is not null.
        return o.status == OrderStatus::kOpen && !at_risk_[id - 1] &&
               RiskAt(o, *For(o.product)) <= now;
      },
      [&](uint64_t id) { MakeAtRisk(id); });
}

void AlertMonitor::Evaluate(Micros now) {
  SyncPairings();
  if (!churned_.empty()) {
    // A node's churn in band b reaches the cells of the products under it
    // whose floor's band is b or lower: those whose wake the churn of
    // their chain at or above their band reached are judged.
    std::sort(churned_.begin(), churned_.end());
    size_t i = 0;
    while (i < churned_.size()) {
      const uint32_t node = static_cast<uint32_t>(churned_[i] >> 16);
      int top = 0;  // the highest band churned at the node
      for (; i < churned_.size() && churned_[i] >> 16 == node; ++i) {
        top = static_cast<int>(churned_[i] & 0xffff);
      }
      for (uint32_t product : products().node(node).subtree) {
        if (product >= heaps_.size()) continue;
        ProductHeaps& heaps = heaps_[product];
        // The used heaps of bands up to top, word by word.
        for (int word = 0; word <= top / 64; ++word) {
          uint64_t bits = heaps.used[word];
          if (word == top / 64 && top % 64 != 63) {
            bits &= (uint64_t{2} << (top % 64)) - 1;
          }
          for (; bits != 0; bits &= bits - 1) {
            const int band = 64 * word + __builtin_ctzll(bits);
            std::vector<uint32_t>& heap = heaps.Of(band);
            const int64_t churn = ChainChurn(product, band);
            while (!heap.empty() && cells_[heap.front()].wake <= churn) {
              const uint32_t cell = heap.front();
              SetWake(cell, kNever);
              MarkDirty(cell);
            }
          }
        }
      }
    }
    churned_.clear();
  }
  if (dirty_.empty()) return;
  std::sort(dirty_.begin(), dirty_.end(), [&](uint32_t a, uint32_t b) {
    return cells_[a].key < cells_[b].key;
  });
  for (uint32_t cell : dirty_) Judge(cell, now);
  dirty_.clear();
}

int64_t AlertMonitor::ChainChurn(uint32_t product, int band) const {
  int64_t churn = 0;
  for (uint32_t node : products().node(product).chain) {
    if (node < churn_.size()) churn += churn_[node].AtOrAbove(band);
  }
  return churn;
}

template <typename Wide>
int64_t AlertMonitor::SlackIn(Wide a, Wide d, const AlertThresholds& t,
                              bool open, AlertLevel level) {
  const Wide gap = t.min_gap_kg;
  Wide slack;
  if (!open) {
    // Raised when demand <= raise_at: gap >= min_gap_kg and at-risk x 1000
    // >= demand x min_ratio_permille.
    if (a < gap) return kNever;  // at no demand, demand being >= 0
    const Wide raise_at =
        std::min<Wide>(a - gap, a * 1000 / t.min_ratio_permille);
    slack = d - raise_at;
  } else {
    // Stays open while (a - demand) x 1000 >= min_gap x clear_permille,
    // that is while demand <= a - ceil(min_gap x clear_permille / 1000).
    const Wide keep = (gap * t.clear_permille + 999) / 1000;
    slack = a - keep - d + 1;
    // Escalates when a - demand reaches the next level's step (LevelOf).
    // It cannot when a is below that step, demand being >= 0.
    if (level != AlertLevel::kCritical) {
      const Wide step = (level == AlertLevel::kWatch ? 2 : 4) * gap;
      if (a >= step) slack = std::min<Wide>(slack, d - a + step);
    }
  }
  return static_cast<int64_t>(std::min<Wide>(slack, kMaxSlack));
}

int64_t AlertMonitor::Slack(const Cell& c, const AlertThresholds& t,
                            int64_t demand) const {
  // Nothing at risk: the demand is 0 whatever pledges do (DemandOf).
  if (c.floors.empty()) return kNever;
  const bool open = c.alert_id != 0;
  // Every product below stays under 2^61 when the kg are under 2^50
  // (min_gap_kg <= 2^40, permilles <= 2^20), which any real book is; the
  // 128-bit division it saves was a tenth of judging a cell.
  constexpr int64_t kNarrow = int64_t{1} << 50;
  if (c.at_risk_kg < kNarrow && demand < kNarrow) {
    return SlackIn<int64_t>(c.at_risk_kg, demand, t, open, c.alert_level);
  }
  return SlackIn<__int128>(c.at_risk_kg, demand, t, open, c.alert_level);
}

int64_t AlertMonitor::SumOf(uint32_t node, uint64_t family, int32_t code,
                            int64_t floor, int q) const {
  auto it = demand_.find(BucketKeyOf(node, family, code));
  return it == demand_.end() ? 0 : it->second.AtOrAbove(floor, q);
}

int AlertMonitor::BestGrade(const Cell& c) {
  for (int g = 1; g <= 3; ++g) {
    if (c.grade_kg[g - 1] > 0) return g;
  }
  return 3;
}

int AlertMonitor::QueryClass(const Cell& c) {
  return (BestGrade(c) - 1) * 2 + (c.certified_kg > 0 ? 1 : 0);
}

int64_t AlertMonitor::DemandOf(uint32_t product, int32_t region,
                               const Cell& c) const {
  if (c.at_risk_kg <= 0 || c.floors.empty()) return 0;
  const int64_t min_floor = c.floors.begin()->first;
  const int q = QueryClass(c);
  const ProductNode& product_node = products().node(product);
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

void AlertMonitor::Log(uint64_t alert_id, const AlertRecord& a,
                       AlertEventKind kind) {
  events_.push_back(AlertEventRecord{alert_id, kind, a.level, a.at_risk_kg,
                                     a.demand_kg, a.households, a.open_kg,
                                     a.updated_at});
}

void AlertMonitor::Judge(uint32_t cell, Micros now) {
  Cell& c = cells_[cell];
  c.dirty = false;
  const uint32_t product = static_cast<uint32_t>(c.key >> 32);
  // Cells exist only for followed products: For is not null.
  const AlertThresholds& t = *For(product);
  if (c.alert_id == 0 && c.at_risk_kg < t.min_gap_kg) {
    // The gap cannot reach min_gap_kg at any demand (demand >= 0): nothing
    // to judge and no demand to compute, the commonest case by far. The
    // cell leaves its heap, and its demand is computed afresh once its
    // at-risk kg make it a candidate again.
    SetWake(cell, kNever);
    c.demand_class = -1;
    return;
  }
  const int64_t floor = c.floors.empty() ? -1 : c.floors.begin()->first;
  const int q = QueryClass(c);
  // Demand at or above the floor moves only with pledges priced at or
  // above it, which are in the floor's band or above.
  const int band = PriceBandOf(floor);
  const int64_t churn = ChainChurn(product, band);
  // The judgement stands while the demand, last computed for this floor
  // and class, moved less than its slack since (churn - churn_at bounds how
  // far it moved).
  const bool stands = c.demand_floor == floor && c.demand_class == q &&
                      churn - c.churn_at < Slack(c, t, c.demand);
  if (!stands) {
    // Unless nothing it depends on moved, the demand is computed afresh.
    if (c.demand_floor != floor || c.demand_class != q || c.churn_at != churn) {
      // Its heap is its demand floor's band's: out of the old one first.
      if (PriceBandOf(c.demand_floor) != band) SetWake(cell, kNever);
      const int32_t region = static_cast<int32_t>(static_cast<uint32_t>(c.key));
      c.demand = DemandOf(product, region, c);
      c.demand_floor = floor;
      c.demand_class = q;
      c.churn_at = churn;
    }
    Decide(c, t, now);
  }
  const int64_t slack = Slack(c, t, c.demand);  // > 0 once decided
  SetWake(cell, slack == kNever ? kNever : c.churn_at + slack);
}

void AlertMonitor::Decide(Cell& c, const AlertThresholds& t, Micros now) {
  const uint32_t product = static_cast<uint32_t>(c.key >> 32);
  const int32_t region = static_cast<int32_t>(static_cast<uint32_t>(c.key));
  const int64_t demand = c.demand;
  const int64_t gap = c.at_risk_kg - demand;
  if (c.alert_id == 0) {
    if (gap >= t.min_gap_kg &&
        static_cast<__int128>(c.at_risk_kg) * 1000 >=
            static_cast<__int128>(demand) * t.min_ratio_permille) {
      alerts_.push_back(AlertRecord{product, region, LevelOf(gap, t.min_gap_kg),
                                    c.at_risk_kg, demand, c.households,
                                    c.open_kg, now, now, 0});
      c.alert_id = alerts_.size();
      c.alert_level = alerts_.back().level;
      Log(c.alert_id, alerts_.back(), AlertEventKind::kRaised);
    }
    return;
  }
  const bool clears = static_cast<__int128>(gap) * 1000 <
                      static_cast<__int128>(t.min_gap_kg) * t.clear_permille;
  const AlertLevel level = LevelOf(gap, t.min_gap_kg);
  if (!clears && level <= c.alert_level) return;
  // An event: the alert's figures as they stand.
  AlertRecord& a = alerts_[c.alert_id - 1];
  a.at_risk_kg = c.at_risk_kg;
  a.demand_kg = demand;
  a.households = c.households;
  a.open_kg = c.open_kg;
  a.updated_at = now;
  if (clears) {
    a.cleared_at = now;
    Log(c.alert_id, a, AlertEventKind::kCleared);
    c.alert_id = 0;
    return;
  }
  a.level = level;
  c.alert_level = level;
  Log(c.alert_id, a, AlertEventKind::kEscalated);
}

void AlertMonitor::SetWake(uint32_t cell, int64_t wake) {
  Cell& c = cells_[cell];
  if (c.wake == wake) return;
  const uint32_t product = static_cast<uint32_t>(c.key >> 32);
  if (product >= heaps_.size()) heaps_.resize(products().size());
  const int band = PriceBandOf(c.demand_floor);
  ProductHeaps& heaps = heaps_[product];
  std::vector<uint32_t>& heap = heaps.Of(band);
  uint64_t& used = heaps.used[band / 64];
  const uint64_t bit = uint64_t{1} << (band % 64);
  const int64_t was = c.wake;
  c.wake = wake;
  if (c.heap_pos == kNoCell) {
    c.heap_pos = static_cast<uint32_t>(heap.size());
    heap.push_back(cell);
    used |= bit;
    SiftUp(heap, c.heap_pos);
    return;
  }
  if (wake == kNever) {
    // Out of the heap: the last entry takes its place.
    const uint32_t pos = c.heap_pos;
    c.heap_pos = kNoCell;
    const uint32_t last = heap.back();
    heap.pop_back();
    if (heap.empty()) used &= ~bit;
    if (last == cell) return;
    heap[pos] = last;
    cells_[last].heap_pos = pos;
    SiftUp(heap, pos);
    SiftDown(heap, cells_[last].heap_pos);
    return;
  }
  if (wake < was) {
    SiftUp(heap, c.heap_pos);
  } else {
    SiftDown(heap, c.heap_pos);
  }
}

void AlertMonitor::SiftUp(std::vector<uint32_t>& heap, uint32_t pos) {
  const uint32_t cell = heap[pos];
  const int64_t wake = cells_[cell].wake;
  while (pos > 0) {
    const uint32_t up = (pos - 1) / 2;
    if (cells_[heap[up]].wake <= wake) break;
    heap[pos] = heap[up];
    cells_[heap[pos]].heap_pos = pos;
    pos = up;
  }
  heap[pos] = cell;
  cells_[cell].heap_pos = pos;
}

void AlertMonitor::SiftDown(std::vector<uint32_t>& heap, uint32_t pos) {
  const uint32_t cell = heap[pos];
  const int64_t wake = cells_[cell].wake;
  const uint32_t n = static_cast<uint32_t>(heap.size());
  for (;;) {
    uint32_t down = 2 * pos + 1;
    if (down >= n) break;
    if (down + 1 < n && cells_[heap[down + 1]].wake < cells_[heap[down]].wake) {
      ++down;
    }
    if (cells_[heap[down]].wake >= wake) break;
    heap[pos] = heap[down];
    cells_[heap[pos]].heap_pos = pos;
    pos = down;
  }
  heap[pos] = cell;
  cells_[cell].heap_pos = pos;
}

// --- Reads ---------------------------------------------------------------

bool AlertMonitor::Passes(const AlertRecord& a, const AlertFilter& f) const {
  return ProductCovers(f.product_code_prefix, products().code(a.product)) &&
         StartsWith(RegionCodeString(a.region), f.region_code_prefix);
}

AlertView AlertMonitor::MakeView(uint64_t alert_id, bool live) const {
  const AlertRecord& a = alerts_[alert_id - 1];
  AlertView v;
  v.alert_id = alert_id;
  v.product_code = std::string(products().code(a.product));
  v.region_code = RegionCodeString(a.region);
  v.level = a.level;
  v.at_risk_kg = a.at_risk_kg;
  v.demand_kg = a.demand_kg;
  v.households = a.households;
  v.open_offer_kg = a.open_kg;
  v.raised_at = a.raised_at;
  v.updated_at = a.updated_at;
  v.cleared_at = a.cleared_at;
  if (live && a.cleared_at == 0) {
    // An open alert's figures as they stand (the record's are its last
    // event's).
    if (const Cell* c = FindCell(a.product, a.region); c != nullptr) {
      v.at_risk_kg = c->at_risk_kg;
      v.demand_kg = DemandOf(a.product, a.region, *c);
      v.households = c->households;
      v.open_offer_kg = c->open_kg;
    }
  }
  return v;
}

std::vector<AlertCandidateView> AlertMonitor::CandidatesOf(
    const AlertRecord& a) const {
  std::vector<AlertCandidateView> out;
  const Cell* cell = FindCell(a.product, a.region);
  if (cell == nullptr || cell->floors.empty()) return out;
  const Cell& c = *cell;
  const int64_t min_floor = c.floors.begin()->first;
  const int best_grade = BestGrade(c);
  const std::string_view product = products().code(a.product);
  // A read may scan: every open pledge of the product or an ancestor whose
  // buyer city is paired with the region, and that is not compatible now.
  for (uint64_t id = 1; id <= pledges().size(); ++id) {
    const PledgeRecord& p = pledges()[id - 1];
    if (p.status != OrderStatus::kOpen || p.remaining_kg <= 0) continue;
    if (!ProductCovers(products().code(p.product), product)) continue;
    bool paired = false;
    for (int32_t west : reference().PartnerWestCodes(p.city)) {
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
      for (int32_t code : p.listed.cover()) {
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
  std::vector<AlertView> out;
  for (uint64_t id = 1; id <= alerts_.size(); ++id) {
    const AlertRecord& a = alerts_[id - 1];
    if ((a.cleared_at == 0 || filter.include_cleared) && Passes(a, filter)) {
      out.push_back(MakeView(id, /*live=*/true));
    }
  }
  // Open ones worst first (level, then gap as it stands), then cleared
  // ones newest first.
  std::sort(out.begin(), out.end(), [](const AlertView& a, const AlertView& b) {
    const bool a_open = a.cleared_at == 0;
    const bool b_open = b.cleared_at == 0;
    if (a_open != b_open) return a_open;
    if (a_open) {
      if (a.level != b.level) return a.level > b.level;
      const int64_t ga = a.at_risk_kg - a.demand_kg;
      const int64_t gb = b.at_risk_kg - b.demand_kg;
      if (ga != gb) return ga > gb;
      return a.alert_id < b.alert_id;
    }
    if (a.cleared_at != b.cleared_at) return a.cleared_at > b.cleared_at;
    return a.alert_id > b.alert_id;
  });
  if (candidates) {
    for (AlertView& v : out) {
      if (v.cleared_at == 0)
        v.candidates = CandidatesOf(alerts_[v.alert_id - 1]);
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
    v.alert = MakeView(e.alert_id, /*live=*/false);
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
    if (!r.ok() || a.product >= products().size() || level < 1 || level > 3 ||
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
  cell_index_.clear();
  offer_cell_.assign(offers().size(), kNoCell);
  at_risk_.assign(offers().size(), 0);
  risk_queue_ = ExpiryQueue();
  demand_.clear();
  std::fill(node_kg_.begin(), node_kg_.end(), 0);
  churn_.clear();
  heaps_.clear();
  filed_pairings_version_ = reference().pairings_version();
  for (uint64_t id = 1; id <= offers().size(); ++id) {
    if (offers()[id - 1].status == OrderStatus::kOpen) OfferIn(id, now);
  }
  for (uint64_t id = 1; id <= pledges().size(); ++id) {
    if (pledges()[id - 1].status == OrderStatus::kOpen) PledgeIn(id);
  }
  for (uint64_t id = 1; id <= alerts_.size(); ++id) {
    const AlertRecord& a = alerts_[id - 1];
    if (a.cleared_at == 0) {
      Cell& c = cells_[CellsOf(a.product, a.region)];
      c.alert_id = id;
      c.alert_level = a.level;
    }
  }
  churned_.clear();
  dirty_.clear();
  for (Cell& c : cells_) c.dirty = false;
  // The next Evaluate judges every cell that could hold an alert; the
  // saved alerts being as exact figures judge them, it changes nothing.
  JudgeAllAgain();
}

}  // namespace duijie
