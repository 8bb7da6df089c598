// The standard workload generator and its file format; see workload.h.
#include "bench/workload.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/rng.h"
#include "google/protobuf/util/delimited_message_util.h"

namespace duijie {
namespace bench {
namespace {

namespace v1 = ::duijie::v1;

constexpr int64_t kSecond = 1000000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kDay = 24 * 60 * kMinute;

// --- Geography ------------------------------------------------------------

enum Zone { kEast, kCentral, kWest };

struct ProvinceInfo {
  int code2;
  const char* name;
  Zone zone;
  int prefectures;  // 0: a municipality (one prefecture of many districts)
};

// The 31 provincial divisions with their GB/T 2260 codes and (about) their
// real number of prefectures. East: the eastern partner provinces of the
// east-west scheme; west: the assisted western provinces.
constexpr ProvinceInfo kProvinces[] = {
    {11, "Beijing", kEast, 0},         {12, "Tianjin", kEast, 0},
    {13, "Hebei", kCentral, 11},       {14, "Shanxi", kCentral, 11},
    {15, "Inner Mongolia", kWest, 12}, {21, "Liaoning", kCentral, 14},
    {22, "Jilin", kCentral, 9},        {23, "Heilongjiang", kCentral, 13},
    {31, "Shanghai", kEast, 0},        {32, "Jiangsu", kEast, 13},
    {33, "Zhejiang", kEast, 11},       {34, "Anhui", kCentral, 16},
    {35, "Fujian", kEast, 9},          {36, "Jiangxi", kCentral, 11},
    {37, "Shandong", kEast, 16},       {41, "Henan", kCentral, 17},
    {42, "Hubei", kCentral, 13},       {43, "Hunan", kCentral, 14},
    {44, "Guangdong", kEast, 21},      {45, "Guangxi", kWest, 14},
    {46, "Hainan", kCentral, 4},       {50, "Chongqing", kWest, 0},
    {51, "Sichuan", kWest, 21},        {52, "Guizhou", kWest, 9},
    {53, "Yunnan", kWest, 16},         {54, "Tibet", kWest, 7},
    {61, "Shaanxi", kWest, 10},        {62, "Gansu", kWest, 14},
    {63, "Qinghai", kWest, 8},         {64, "Ningxia", kWest, 5},
    {65, "Xinjiang", kWest, 14},
};

struct NamedCode {
  int32_t code;
  const char* name;
};
// Real names for the codes of the regions the source articles name; they are
// always present (added if the generated map lacks them).
constexpr NamedCode kNamed[] = {
    {620100, "Lanzhou"}, {620800, "Pingliang"}, {620826, "Jingning"},
    {621100, "Dingxi"},  {621200, "Longnan"},   {621202, "Wudu"},
    {610900, "Ankang"},  {410200, "Kaifeng"},   {410225, "Lankao"},
    {370200, "Qingdao"}, {440100, "Guangzhou"}, {440300, "Shenzhen"},
    {610100, "Xi'an"},   {450100, "Nanning"},   {520100, "Guiyang"},
};

// Province-level east-west pairs in force since 2021.
constexpr std::pair<int32_t, int32_t> kProvincePairs[] = {
    {110000, 150000}, {120000, 620000}, {310000, 530000}, {320000, 610000},
    {330000, 510000}, {350000, 640000}, {370000, 500000}, {370000, 620000},
    {440000, 450000}, {440000, 520000},
};
constexpr int kCityPairs = 30;  // 40 pairings in all

// --- Products -------------------------------------------------------------

struct CategoryInfo {
  const char* name;
  bool perishable;   // expires in days rather than months
  int64_t price_lo;  // fen per kg, base price range of its leaves
  int64_t price_hi;
  const char* leaves;  // space-separated; "a.b" leaves have a middle level
};

// 15 categories, 200 leaves.
constexpr CategoryInfo kCategories[] = {
    {"vegetable", true, 100, 600,
     "cabbage chinese_cabbage potato tomato cucumber eggplant chili carrot "
     "radish onion garlic ginger spinach celery lettuce pumpkin lotus_root "
     "yam"},
    {"fruit", true, 300, 2000,
     "apple.fuji apple.gala apple.red_star pear.snow pear.korla kiwi "
     "orange.navel orange.ponkan grape peach plum persimmon jujube mango "
     "banana lychee longan pomegranate cherry strawberry"},
    {"grain", false, 300, 1200,
     "rice.indica rice.japonica wheat corn millet buckwheat oat sorghum "
     "highland_barley quinoa soybean mung_bean"},
    {"tea", false, 8000, 80000,
     "green.maojian green.selenium green.biluochun black.dianhong "
     "black.qimen oolong white dark.fuzhuan dark.puer yellow flower.jasmine "
     "brick"},
    {"fungus", true, 1000, 20000,
     "shiitake wood_ear oyster enoki king_oyster morel tremella "
     "bamboo_fungus matsutake hericium porcini cordyceps_flower"},
    {"spice", false, 2000, 15000,
     "sichuan_pepper.red sichuan_pepper.green chili_dried star_anise "
     "cinnamon fennel cumin ginger_dried garlic_black sesame licorice_root "
     "pepper_white"},
    {"oil", false, 1500, 8000,
     "rapeseed peanut camellia sesame sunflower walnut linseed soybean corn "
     "peony_seed"},
    {"meat", true, 3000, 15000,
     "pork.black pork.white beef.yak beef.yellow mutton.tan mutton.hu goat "
     "donkey rabbit venison cured_pork sausage"},
    {"poultry", true, 1500, 8000,
     "chicken.free_range chicken.silkie duck goose pigeon quail egg.chicken "
     "egg.duck egg.goose egg.quail"},
    {"aquatic", true, 2000, 20000,
     "carp grass_carp crucian rainbow_trout salmon crayfish river_crab "
     "shrimp loach eel catfish sturgeon"},
    {"dairy", true, 1000, 30000,
     "milk.cow milk.yak milk.goat yogurt cheese.yak butter.yak milk_powder "
     "camel_milk milk_tea milk_tablet"},
    {"nut", false, 2000, 15000,
     "walnut chestnut pecan almond pine_nut hazelnut peanut sunflower_seed "
     "pumpkin_seed macadamia pistachio cashew"},
    {"herb", false, 3000, 40000,
     "angelica codonopsis astragalus goji gastrodia rhubarb notoginseng "
     "gentian licorice bupleurum honeysuckle salvia lily_bulb schisandra "
     "eucommia poria"},
    {"honey", false, 4000, 30000,
     "acacia rape lindera jujube linden wildflower comb royal_jelly"},
    {"processed", false, 1000, 8000,
     "noodles.dried noodles.hand_pulled vermicelli.potato "
     "vermicelli.sweet_potato pickles chili_sauce bean_paste vinegar "
     "soy_sauce dried_fruit jam rice_wine dried_tofu bamboo_shoot "
     "dried_lily dried_mushroom tea_snack mooncake preserved_egg smoked_meat "
     "yak_jerky fruit_juice canned_fruit spicy_strips"},
};

struct Leaf {
  std::string code;    // "fruit.apple.fuji"
  std::string parent;  // "fruit.apple" for three-segment leaves, else ""
  std::string category;
  bool perishable;
  int64_t base_price;  // fen per kg
};

// Lifetimes, uniform in [lo, hi].
constexpr int64_t kPerishLo = 1 * kDay, kPerishHi = 14 * kDay;
constexpr int64_t kStapleLo = 30 * kDay, kStapleHi = 180 * kDay;
constexpr int64_t kPledgeLo = 7 * kDay, kPledgeHi = 90 * kDay;

// The measured mix, per mille.
constexpr int kPostOfferPm = 450;
constexpr int kPostPledgePm = 350;
constexpr int kCancelPm = 100;
constexpr int kGetOfferPm = 45;
constexpr int kGetPledgePm = 45;  // the last 10 per mille are GetBook
// Share of measured posts priced to cross the book (and so match).
constexpr int kCrossingPercent = 15;

void SetTime(int64_t micros, google::protobuf::Timestamp* ts) {
  int64_t seconds = micros / kSecond;
  int64_t rest = micros % kSecond;
  if (rest < 0) {
    rest += kSecond;
    --seconds;
  }
  ts->set_seconds(seconds);
  ts->set_nanos(static_cast<int32_t>(rest * 1000));
}

std::string Code6(int32_t code) { return absl::StrFormat("%06d", code); }

}  // namespace

void WorkloadStats::Count(const WorkloadRecord& r) {
  switch (r.command_case()) {
    case WorkloadRecord::kUpsertRegion:
      ++regions;
      break;
    case WorkloadRecord::kUpsertPairing:
      ++pairings;
      break;
    case WorkloadRecord::kPostOffer:
      ++(r.prefill() ? prefill_offers : post_offer);
      break;
    case WorkloadRecord::kPostPledge:
      ++(r.prefill() ? prefill_pledges : post_pledge);
      break;
    case WorkloadRecord::kCancelOffer:
      ++cancel_offer;
      break;
    case WorkloadRecord::kCancelPledge:
      ++cancel_pledge;
      break;
    case WorkloadRecord::kGetOffer:
      ++get_offer;
      break;
    case WorkloadRecord::kGetPledge:
      ++get_pledge;
      break;
    case WorkloadRecord::kGetBook:
      ++get_book;
      break;
    case WorkloadRecord::COMMAND_NOT_SET:
      break;
  }
}

class WorkloadGenerator::Impl {
 public:
  explicit Impl(const WorkloadOptions& options)
      : options_(options), rng_(options.seed) {
    BuildGeography();
    BuildProducts();
    BuildParties();
    // Little's law: the book holds (arrival rate x mean lifetime) orders.
    // Mean lifetimes in the measured mix (leaves drawn uniformly).
    double perishable = 0;
    for (const Leaf& l : leaves_) perishable += l.perishable;
    perishable /= leaves_.size();
    const double offer_life = perishable * (kPerishLo + kPerishHi) / 2.0 +
                              (1 - perishable) * (kStapleLo + kStapleHi) / 2.0;
    const double pledge_life = (kPledgeLo + kPledgeHi) / 2.0;
    const double offer_weight = kPostOfferPm * offer_life;
    const double pledge_weight = kPostPledgePm * pledge_life;
    prefill_offer_share_ = offer_weight / (offer_weight + pledge_weight);
    // Net arrivals per command are (posts - cancels); expiries must match
    // them, so a command advances the clock by
    // (mean lifetime x posts per command) x (net / gross) / book.
    const double gross = (kPostOfferPm + kPostPledgePm) / 1000.0;
    const double net = gross - kCancelPm / 1000.0;
    const double step = (offer_weight + pledge_weight) / 1000.0 *
                        (net / gross) / std::max<int64_t>(1, options_.book);
    step_ = std::max<int64_t>(1, static_cast<int64_t>(step));
    now_ = kWorkloadStartMicros;
  }

  bool Next(WorkloadRecord* r) {
    r->Clear();
    if (region_next_ < regions_.size()) {
      const RegionDef& def = regions_[region_next_++];
      r->set_at_micros(now_);
      r->set_prefill(true);
      v1::Region* region = r->mutable_upsert_region()->mutable_region();
      region->set_code(Code6(def.code));
      region->set_name(def.name);
      region->set_key_assisted(def.key_assisted);
      region->set_relocation_site(def.relocation_site);
      return true;
    }
    if (pairing_next_ < pairings_.size()) {
      const auto& [east, west] = pairings_[pairing_next_++];
      r->set_at_micros(now_);
      r->set_prefill(true);
      v1::Pairing* p = r->mutable_upsert_pairing()->mutable_pairing();
      p->set_east_code(Code6(east));
      p->set_west_code(Code6(west));
      p->set_note(absl::StrCat("east-west cooperation ", Code6(east), "-",
                               Code6(west)));
      return true;
    }
    if (prefilled_ < options_.book) {
      ++prefilled_;
      r->set_at_micros(now_);
      r->set_prefill(true);
      if (rng_.Unit() < prefill_offer_share_) {
        MakeOffer(/*prefill=*/true, /*crossing=*/false, r);
      } else {
        MakePledge(/*prefill=*/true, /*crossing=*/false, r);
      }
      return true;
    }
    if (measured_ < options_.commands) {
      ++measured_;
      now_ += step_;
      r->set_at_micros(now_);
      const int pm = static_cast<int>(rng_.Below(1000));
      if (pm < kPostOfferPm) {
        MakeOffer(false, rng_.Percent(kCrossingPercent), r);
      } else if (pm < kPostOfferPm + kPostPledgePm) {
        MakePledge(false, rng_.Percent(kCrossingPercent), r);
      } else if (pm < kPostOfferPm + kPostPledgePm + kCancelPm) {
        MakeCancel(r);
      } else if (pm < kPostOfferPm + kPostPledgePm + kCancelPm + kGetOfferPm) {
        if (offers_posted_ == 0) return MakeGetBook(r);
        r->mutable_get_offer()->set_id(1 + rng_.Below(offers_posted_));
      } else if (pm < kPostOfferPm + kPostPledgePm + kCancelPm + kGetOfferPm +
                          kGetPledgePm) {
        if (pledges_posted_ == 0) return MakeGetBook(r);
        r->mutable_get_pledge()->set_id(1 + rng_.Below(pledges_posted_));
      } else {
        MakeGetBook(r);
      }
      return true;
    }
    return false;
  }

  int64_t step_micros() const { return step_; }

 private:
  struct RegionDef {
    int32_t code;
    std::string name;
    Zone zone;
    bool key_assisted = false;
    bool relocation_site = false;
  };
  struct Supplier {
    int32_t county;
  };
  struct Buyer {
    int32_t city;
    int kind;  // BuyerKind number
    bool has_partners;
  };
  struct Live {
    uint64_t id;
    int64_t expires_at;
  };

  // The map is drawn from a fixed seed so that every workload shares it.
  void BuildGeography() {
    Rng geo(0x6a6d2260);  // GB/T 2260
    std::set<int32_t> named;
    for (const NamedCode& n : kNamed) named.insert(n.code);
    for (const ProvinceInfo& p : kProvinces) {
      const int32_t province = p.code2 * 10000;
      regions_.push_back({province, p.name, p.zone});
      const int prefectures = p.prefectures == 0 ? 1 : p.prefectures;
      for (int j = 1; j <= prefectures; ++j) {
        const int32_t pref = province + j * 100;
        regions_.push_back({pref, "", p.zone});
        prefectures_[p.zone].push_back(pref);
        by_province_[province].push_back(pref);
        // Districts 01.., then counties 21.., sometimes a county-level
        // city 81, as GB/T 2260 numbers them.
        const int districts =
            p.prefectures == 0 ? 12 + geo.Range(0, 4) : 1 + geo.Range(0, 1);
        const int counties = p.prefectures == 0 ? 0 : 2 + geo.Range(0, 5);
        std::vector<int32_t> codes;
        for (int d = 1; d <= districts; ++d) codes.push_back(pref + d);
        for (int c = 0; c < counties; ++c) codes.push_back(pref + 21 + c);
        if (p.prefectures != 0 && geo.Percent(30)) codes.push_back(pref + 81);
        for (const NamedCode& n : kNamed) {
          if (n.code / 100 * 100 == pref && n.code != pref &&
              std::find(codes.begin(), codes.end(), n.code) == codes.end()) {
            codes.push_back(n.code);
          }
        }
        for (int32_t c : codes) {
          regions_.push_back({c, "", p.zone});
          counties_[p.zone].push_back(c);
          if (c % 100 >= 21) rural_[p.zone].push_back(c);
        }
      }
    }
    for (RegionDef& r : regions_) {
      if (!r.name.empty()) continue;
      for (const NamedCode& n : kNamed) {
        if (n.code == r.code) r.name = n.name;
      }
      if (r.name.empty()) {
        const char* province = "";
        for (const ProvinceInfo& p : kProvinces) {
          if (p.code2 == r.code / 10000) province = p.name;
        }
        r.name = absl::StrCat(province,
                              r.code % 100 == 0 ? " prefecture " : " county ",
                              Code6(r.code));
      }
    }
    std::sort(
        regions_.begin(), regions_.end(),
        [](const RegionDef& a, const RegionDef& b) { return a.code < b.code; });
    // A few hundred key-assisted counties in the west, and relocation
    // sites in the west and centre.
    std::vector<int32_t> west = rural_[kWest];
    geo.Shuffle(&west);
    std::set<int32_t> key(west.begin(),
                          west.begin() + std::min<size_t>(300, west.size()));
    key.insert(620826);  // Jingning
    std::vector<int32_t> others = rural_[kWest];
    others.insert(others.end(), rural_[kCentral].begin(),
                  rural_[kCentral].end());
    geo.Shuffle(&others);
    std::set<int32_t> relocation;
    for (int32_t c : others) {
      if (relocation.size() == 60) break;
      if (!key.count(c)) relocation.insert(c);
    }
    for (RegionDef& r : regions_) {
      r.key_assisted = key.count(r.code) > 0;
      r.relocation_site = relocation.count(r.code) > 0;
    }
    // 10 provincial pairings and 30 city-level ones under them, Qingdao -
    // Longnan first.
    std::set<std::pair<int32_t, int32_t>> pairs(std::begin(kProvincePairs),
                                                std::end(kProvincePairs));
    pairs.insert({370200, 621200});
    for (size_t i = 0; pairs.size() < std::size(kProvincePairs) + kCityPairs;
         ++i) {
      const auto& [east, west] = kProvincePairs[i % std::size(kProvincePairs)];
      const std::vector<int32_t>& e = by_province_[east];
      const std::vector<int32_t>& w = by_province_[west];
      pairs.insert({e[geo.Below(e.size())], w[geo.Below(w.size())]});
    }
    pairings_.assign(pairs.begin(), pairs.end());
    for (const auto& [east, west] : pairings_) {
      west_by_east_.emplace(east, west);
    }
  }

  void BuildProducts() {
    Rng geo(0x832);  // the national 832 platform
    for (const CategoryInfo& c : kCategories) {
      std::string leaves = c.leaves;
      size_t start = 0;
      while (start < leaves.size()) {
        size_t end = leaves.find(' ', start);
        if (end == std::string::npos) end = leaves.size();
        const std::string name = leaves.substr(start, end - start);
        start = end + 1;
        if (name.empty()) continue;
        Leaf leaf;
        leaf.code = absl::StrCat(c.name, ".", name);
        const size_t dot = name.find('.');
        if (dot != std::string::npos) {
          leaf.parent = absl::StrCat(c.name, ".", name.substr(0, dot));
        }
        leaf.category = c.name;
        leaf.perishable = c.perishable;
        leaf.base_price = geo.Range(c.price_lo, c.price_hi);
        for (const std::string& code :
             {leaf.code, leaf.parent, leaf.category}) {
          if (code.empty()) continue;
          auto [it, inserted] = min_base_.emplace(code, leaf.base_price);
          if (!inserted) it->second = std::min(it->second, leaf.base_price);
        }
        leaves_.push_back(std::move(leaf));
      }
    }
    // In a steady-state book a product's share is proportional to how long
    // its offers live.
    std::vector<int64_t> weights;
    for (const Leaf& l : leaves_) {
      weights.push_back(l.perishable ? (kPerishLo + kPerishHi) / kDay
                                     : (kStapleLo + kStapleHi) / kDay);
    }
    prefill_leaf_cumulative_ = Cumulative(weights);
  }

  void BuildParties() {
    Rng geo(0x6b6a);
    // Suppliers: 40,000 cooperatives and firms, mostly in the west.
    const std::vector<int64_t> zone_weights = Cumulative({5, 25, 70});
    for (int i = 0; i < 40000; ++i) {
      const int zone = static_cast<int>(geo.Weighted(zone_weights));
      const std::vector<int32_t>& c = counties_[zone];
      suppliers_.push_back({c[geo.Below(c.size())]});
    }
    // Buyers: 20,000 units, mostly in eastern cities.
    const std::vector<int64_t> buyer_zone = Cumulative({70, 20, 10});
    // GOVERNMENT_UNIT .. PLATFORM.
    const std::vector<int64_t> kinds =
        Cumulative({15, 12, 8, 15, 15, 3, 10, 10, 4, 4, 4});
    for (int i = 0; i < 20000; ++i) {
      const int zone = static_cast<int>(geo.Weighted(buyer_zone));
      const std::vector<int32_t>& c = prefectures_[zone];
      const int32_t city = c[geo.Below(c.size())];
      const int kind = 1 + static_cast<int>(geo.Weighted(kinds));
      const bool partners = west_by_east_.count(city) > 0 ||
                            west_by_east_.count(city / 10000 * 10000) > 0;
      buyers_.push_back({city, kind, partners});
    }
  }

  // A lifetime for an order posted now, or (prefill) the time left to an
  // order found on a steady-state book: a length-biased lifetime, of which a
  // uniform fraction remains.
  int64_t Lifetime(int64_t lo, int64_t hi, bool prefill) {
    if (!prefill) return rng_.Range(lo, hi);
    const double a = static_cast<double>(lo), b = static_cast<double>(hi);
    const double biased = std::sqrt(a * a + rng_.Unit() * (b * b - a * a));
    return std::max<int64_t>(kMinute,
                             static_cast<int64_t>(rng_.Unit() * biased));
  }

  // Quantities are whole tens of kilograms.
  int64_t Kg(int64_t lo, int64_t hi) {
    return rng_.Range(lo / 10, hi / 10) * 10;
  }

  void MakeOffer(bool prefill, bool crossing, WorkloadRecord* r) {
    const Leaf& leaf = leaves_[prefill ? rng_.Weighted(prefill_leaf_cumulative_)
                                       : rng_.Below(leaves_.size())];
    const uint64_t s = rng_.Below(suppliers_.size());
    const int32_t county = suppliers_[s].county;
    const bool key = IsKeyAssisted(county);
    v1::Offer* o = r->mutable_post_offer()->mutable_offer();
    o->set_supplier_id(absl::StrFormat("sup-%05d", s));
    o->set_region_code(Code6(county));
    o->set_product_code(leaf.code);
    const uint64_t g = rng_.Below(10);
    o->set_grade(g < 2   ? v1::GRADE_PREMIUM
                 : g < 7 ? v1::GRADE_FIRST
                         : v1::GRADE_SECOND);
    const int64_t qty = leaf.perishable ? Kg(500, 30000) : Kg(1000, 100000);
    o->set_quantity_kg(qty);
    if (rng_.Percent(35)) o->set_min_lot_kg(qty / rng_.Range(5, 20));
    // Resting offers ask at least the base price; crossing ones less.
    const int64_t pct = crossing ? rng_.Range(70, 100) : rng_.Range(100, 140);
    o->set_floor_price_fen_per_kg(
        std::max<int64_t>(1, leaf.base_price * pct / 100));
    const int64_t life = leaf.perishable
                             ? Lifetime(kPerishLo, kPerishHi, prefill)
                             : Lifetime(kStapleLo, kStapleHi, prefill);
    SetTime(now_ + life, o->mutable_expires_at());
    o->set_certified(rng_.Percent(key ? 70 : 35));
    o->set_households(static_cast<int32_t>(rng_.Range(0, 300)));
    ++offers_posted_;
    live_offers_.push_back({offers_posted_, now_ + life});
  }

  void MakePledge(bool prefill, bool crossing, WorkloadRecord* r) {
    const Leaf& leaf = leaves_[rng_.Below(leaves_.size())];
    const uint64_t b = rng_.Below(buyers_.size());
    const Buyer& buyer = buyers_[b];
    v1::Pledge* p = r->mutable_post_pledge()->mutable_pledge();
    p->set_buyer_id(absl::StrFormat("buy-%05d", b));
    p->set_buyer_city_code(Code6(buyer.city));
    p->set_buyer_kind(static_cast<v1::BuyerKind>(buyer.kind));
    // Mostly a leaf; some take a whole variety or category.
    const uint64_t level = rng_.Below(100);
    if (level < 3) {
      p->set_product_code(leaf.category);
    } else if (level < 10 && !leaf.parent.empty()) {
      p->set_product_code(leaf.parent);
    } else {
      p->set_product_code(leaf.code);
    }
    const uint64_t g = rng_.Below(100);
    p->set_min_grade(g < 40   ? v1::GRADE_UNSPECIFIED
                     : g < 55 ? v1::GRADE_PREMIUM
                     : g < 85 ? v1::GRADE_FIRST
                              : v1::GRADE_SECOND);
    const bool bulk = buyer.kind == 1 || buyer.kind == 4 || buyer.kind == 11;
    const int64_t qty = bulk ? Kg(1000, 100000) : Kg(100, 20000);
    p->set_quantity_kg(qty);
    if (rng_.Percent(25)) p->set_min_lot_kg(qty / rng_.Range(2, 10));
    // Resting pledges bid below the base price of every product they take
    // (so that they rest); crossing ones above the leaf's.
    const int64_t pct = crossing ? rng_.Range(100, 135) : rng_.Range(55, 97);
    const int64_t base =
        crossing ? leaf.base_price : min_base_.at(p->product_code());
    const int64_t max_price = std::max<int64_t>(1, base * pct / 100);
    p->set_max_price_fen_per_kg(max_price);
    if (rng_.Percent(25)) {
      // At least one lot at the max price, or the pledge is refused.
      p->set_budget_fen(
          std::max<int64_t>(std::max<int64_t>(p->min_lot_kg(), 1) * max_price,
                            qty * max_price / 100 * rng_.Range(50, 90)));
    }
    const int64_t life = Lifetime(kPledgeLo, kPledgeHi, prefill);
    SetTime(now_ + life, p->mutable_expires_at());
    // About half the pledges are restricted: partners only (buyers whose
    // city is paired) or listed western regions.
    const uint64_t sc = rng_.Below(100);
    if (buyer.has_partners && sc < 35) {
      p->set_scope(v1::PARTNERS_ONLY);
    } else if (sc >= (buyer.has_partners ? 85u : 60u)) {
      p->set_scope(v1::LISTED_REGIONS);
      const int n = static_cast<int>(rng_.Range(1, 3));
      for (int i = 0; i < n; ++i) {
        const uint64_t lv = rng_.Below(10);
        const std::vector<int32_t>& pool = lv < 2   ? provinces_west()
                                           : lv < 7 ? prefectures_[kWest]
                                                    : counties_[kWest];
        p->add_region_codes(Code6(pool[rng_.Below(pool.size())]));
      }
    } else {
      p->set_scope(v1::ANY);
    }
    p->set_require_certified(rng_.Percent(buyer.kind == 1 ? 50 : 15));
    ++pledges_posted_;
    live_pledges_.push_back({pledges_posted_, now_ + life});
  }

  // Cancels an order the generator believes open: posted, not yet
  // expired, not cancelled. It cannot know about fills, so a few cancels
  // find their order FILLED (FAILED_PRECONDITION), as in life.
  void MakeCancel(WorkloadRecord* r) {
    const bool offer = rng_.Below(2) == 0;
    std::vector<Live>& live = offer ? live_offers_ : live_pledges_;
    uint64_t id = 1;
    while (!live.empty()) {
      const size_t i = rng_.Below(live.size());
      const Live l = live[i];
      live[i] = live.back();
      live.pop_back();
      if (l.expires_at > now_) {
        id = l.id;
        break;
      }
    }
    if (offer) {
      r->mutable_cancel_offer()->set_id(id);
    } else {
      r->mutable_cancel_pledge()->set_id(id);
    }
  }

  bool MakeGetBook(WorkloadRecord* r) {
    const CategoryInfo& c = kCategories[rng_.Below(std::size(kCategories))];
    r->mutable_get_book()->set_product_code_prefix(c.name);
    return true;
  }

  bool IsKeyAssisted(int32_t county) const {
    auto it = std::lower_bound(
        regions_.begin(), regions_.end(), county,
        [](const RegionDef& d, int32_t c) { return d.code < c; });
    return it != regions_.end() && it->code == county && it->key_assisted;
  }

  const std::vector<int32_t>& provinces_west() {
    if (west_provinces_.empty()) {
      for (const ProvinceInfo& p : kProvinces) {
        if (p.zone == kWest) west_provinces_.push_back(p.code2 * 10000);
      }
    }
    return west_provinces_;
  }

  WorkloadOptions options_;
  Rng rng_;
  std::vector<RegionDef> regions_;  // sorted by code
  std::vector<int32_t> prefectures_[3];
  std::vector<int32_t> counties_[3];  // districts and counties
  std::vector<int32_t> rural_[3];     // counties only
  std::vector<int32_t> west_provinces_;
  std::map<int32_t, std::vector<int32_t>> by_province_;
  std::vector<std::pair<int32_t, int32_t>> pairings_;
  std::multimap<int32_t, int32_t> west_by_east_;
  std::vector<Leaf> leaves_;
  std::vector<int64_t> prefill_leaf_cumulative_;
  // Lowest base price under each product code (leaf, variety, category).
  std::map<std::string, int64_t> min_base_;
  std::vector<Supplier> suppliers_;
  std::vector<Buyer> buyers_;

  double prefill_offer_share_ = 0.5;
  int64_t step_ = 1;
  int64_t now_ = 0;
  size_t region_next_ = 0;
  size_t pairing_next_ = 0;
  int64_t prefilled_ = 0;
  int64_t measured_ = 0;
  uint64_t offers_posted_ = 0;
  uint64_t pledges_posted_ = 0;
  std::vector<Live> live_offers_;
  std::vector<Live> live_pledges_;
};

WorkloadGenerator::WorkloadGenerator(const WorkloadOptions& options)
    : impl_(std::make_unique<Impl>(options)) {}
WorkloadGenerator::~WorkloadGenerator() = default;
bool WorkloadGenerator::Next(WorkloadRecord* record) {
  return impl_->Next(record);
}
int64_t WorkloadGenerator::step_micros() const { return impl_->step_micros(); }

// --- Files ------------------------------------------------------------------

absl::Status WorkloadWriter::Open(const std::string& path) {
  path_ = path;
  out_.open(path, std::ios::binary | std::ios::trunc);
  if (!out_) {
    return absl::UnavailableError(
        absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status WorkloadWriter::Write(const WorkloadRecord& record) {
  if (!google::protobuf::util::SerializeDelimitedToOstream(record, &out_)) {
    return absl::DataLossError(absl::StrCat("write to ", path_, " failed"));
  }
  return absl::OkStatus();
}

absl::Status WorkloadWriter::Close() {
  out_.close();
  if (!out_)
    return absl::DataLossError(absl::StrCat("close ", path_, " failed"));
  return absl::OkStatus();
}

WorkloadReader::WorkloadReader() = default;
WorkloadReader::~WorkloadReader() {
  stream_.reset();
  if (fd_ >= 0) close(fd_);
}

absl::Status WorkloadReader::Open(const std::string& path) {
  path_ = path;
  fd_ = open(path.c_str(), O_RDONLY);
  if (fd_ < 0) {
    return status_ = absl::NotFoundError(
               absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  stream_ =
      std::make_unique<google::protobuf::io::FileInputStream>(fd_, 1 << 20);
  return absl::OkStatus();
}

bool WorkloadReader::Next(WorkloadRecord* record) {
  if (!status_.ok() || stream_ == nullptr) return false;
  bool clean_eof = false;
  record->Clear();  // the parse merges
  if (!google::protobuf::util::ParseDelimitedFromZeroCopyStream(
          record, stream_.get(), &clean_eof)) {
    if (!clean_eof) {
      status_ = absl::DataLossError(
          absl::StrCat(path_, ": malformed record ", read_ + 1));
    }
    return false;
  }
  ++read_;
  return true;
}

absl::Status WorkloadSource::Open(const std::string& path,
                                  const WorkloadOptions& options) {
  if (!path.empty() && access(path.c_str(), R_OK) == 0) {
    reader_ = std::make_unique<WorkloadReader>();
    return reader_->Open(path);
  }
  generator_ = std::make_unique<WorkloadGenerator>(options);
  return absl::OkStatus();
}

bool WorkloadSource::Next(WorkloadRecord* record) {
  return reader_ ? reader_->Next(record) : generator_->Next(record);
}

const absl::Status& WorkloadSource::status() const {
  return reader_ ? reader_->status() : ok_;
}

void WorkloadDigest::Add(const WorkloadRecord& record) {
  buffer_.clear();
  record.SerializeToString(&buffer_);
  for (unsigned char c : buffer_) {
    hash_ ^= c;
    hash_ *= 0x100000001b3ull;
  }
}

}  // namespace bench
}  // namespace duijie
