// The glut-week scenario generator; see glut_week.h.
#include "bench/glut_week.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/rng.h"
#include "bench/workload.h"

namespace duijie {
namespace bench {
namespace {

namespace v1 = ::duijie::v1;

constexpr int64_t kMinute = int64_t{60} * 1000000;
constexpr int64_t kDay = 24 * 60 * kMinute;
constexpr int64_t kThird = kGlutWeekDays * kDay / 3;

struct NamedCode {
  int32_t code;
  const char* name;
};

// The producing side: five western provinces and prefectures of each.
constexpr NamedCode kWestProvinces[] = {
    {510000, "Sichuan"}, {520000, "Guizhou"}, {530000, "Yunnan"},
    {620000, "Gansu"},   {640000, "Ningxia"},
};
constexpr NamedCode kWestPrefectures[] = {
    {511900, "Bazhong"},    {513300, "Ganzi"},       {513400, "Liangshan"},
    {520200, "Liupanshui"}, {522600, "Qiandongnan"}, {522700, "Qiannan"},
    {530600, "Zhaotong"},   {532300, "Chuxiong"},    {532600, "Wenshan"},
    {620100, "Lanzhou"},    {620800, "Pingliang"},   {621100, "Dingxi"},
    {621200, "Longnan"},    {640400, "Guyuan"},      {640500, "Zhongwei"},
};
// Provinces paired with Beijing and Jiangsu that post nothing in the week.
constexpr NamedCode kQuietProvinces[] = {{150000, "Inner Mongolia"},
                                         {610000, "Shaanxi"}};

// The buying side: eastern provinces and cities, each city with the
// province its pairings are in (east-west cooperation since 2021).
struct EastCity {
  int32_t code;
  const char* name;
  int32_t partner_province;
  int weight;  // share of the buyers
};
constexpr NamedCode kEastProvinces[] = {
    {110000, "Beijing"},  {120000, "Tianjin"},   {310000, "Shanghai"},
    {320000, "Jiangsu"},  {330000, "Zhejiang"},  {350000, "Fujian"},
    {370000, "Shandong"}, {440000, "Guangdong"},
};
constexpr EastCity kEastCities[] = {
    {110100, "Beijing", 150000, 6},   {120100, "Tianjin", 620000, 10},
    {310100, "Shanghai", 530000, 14}, {320100, "Nanjing", 610000, 4},
    {320500, "Suzhou", 610000, 4},    {330100, "Hangzhou", 510000, 10},
    {330200, "Ningbo", 510000, 6},    {350100, "Fuzhou", 640000, 6},
    {350200, "Xiamen", 640000, 6},    {370100, "Jinan", 620000, 6},
    {370200, "Qingdao", 620000, 8},   {440100, "Guangzhou", 520000, 10},
    {440300, "Shenzhen", 520000, 10},
};

enum Family { kVegetable, kFruit, kGrain, kTea };
constexpr int kFamilies = 4;
// Shelf life (uniform, days) and offer kg (uniform, whole tens) by family;
// the pledge lifetimes that go with it.
struct FamilyInfo {
  int64_t life_lo, life_hi;  // days
  int64_t kg_lo, kg_hi;
  int64_t pledge_life_lo, pledge_life_hi;  // days
};
constexpr FamilyInfo kFamilyInfo[kFamilies] = {
    {2, 4, 500, 4000, 1, 4},
    {7, 14, 1000, 6000, 1, 5},
    {28, 90, 2000, 16000, 3, 10},
    {28, 90, 50, 450, 3, 10},
};

struct Product {
  const char* code;
  Family family;
  int64_t base_price;  // fen per kg
};
constexpr Product kProducts[] = {
    {"vegetable.cabbage", kVegetable, 160},
    {"vegetable.chinese_cabbage", kVegetable, 120},
    {"vegetable.tomato", kVegetable, 400},
    {"vegetable.cucumber", kVegetable, 350},
    {"vegetable.chili", kVegetable, 600},
    {"vegetable.lettuce", kVegetable, 450},
    {"vegetable.spinach", kVegetable, 500},
    {"vegetable.broccoli", kVegetable, 700},
    {"fruit.apple.fuji", kFruit, 800},
    {"fruit.apple.gala", kFruit, 700},
    {"fruit.pear.snow", kFruit, 500},
    {"fruit.kiwi", kFruit, 1200},
    {"fruit.orange.navel", kFruit, 900},
    {"fruit.persimmon", kFruit, 600},
    {"grain.rice.indica", kGrain, 600},
    {"grain.corn", kGrain, 300},
    {"grain.millet", kGrain, 900},
    {"grain.buckwheat", kGrain, 1000},
    {"tea.green.maojian", kTea, 30000},
    {"tea.black.dianhong", kTea, 20000},
    {"tea.dark.fuzhuan", kTea, 8000},
};
constexpr int kProductCount = static_cast<int>(std::size(kProducts));

// Buyer kinds: who pledges how much (kg of vegetables; other families are
// scaled by their offer sizes) and how often they restrict.
struct KindInfo {
  const char* prefix;
  v1::BuyerKind kind;
  int weight;
  int64_t kg_lo, kg_hi;
  int certified_percent;
  bool paired_only;  // only in cities with pairings
};
constexpr KindInfo kKinds[] = {
    // East-west cooperation offices buy for their city's partner regions.
    {"office", v1::GOVERNMENT_UNIT, 5, 5000, 30000, 40, true},
    {"gov", v1::GOVERNMENT_UNIT, 20, 1000, 8000, 25, false},
    {"school", v1::SCHOOL, 25, 300, 3000, 15, false},
    {"hospital", v1::HOSPITAL, 15, 200, 2000, 20, false},
    {"statefirm", v1::STATE_FIRM, 15, 2000, 15000, 15, false},
    {"firm", v1::PRIVATE_FIRM, 20, 500, 10000, 5, false},
};

// Offers per thousand orders posted; the rest are pledges.
constexpr int64_t kOfferPermille = 600;
// The week's pledged kg over its usual (glut-free) offered kg, permille.
constexpr int64_t kDemandPermille = 950;
constexpr int kGlutCounties = 6;
constexpr int kGlutFactor = 3;
constexpr int kResponseFactor = 2;
constexpr int kCancelPercent = 3;
// Share of a paired buyer's pledges for a product its partner regions grow.
constexpr int kPartnerProductPercent = 80;

std::string Code6(int32_t code) { return absl::StrFormat("%06d", code); }

void SetTime(int64_t micros, google::protobuf::Timestamp* ts) {
  ts->set_seconds(micros / 1000000);
  ts->set_nanos(static_cast<int32_t>(micros % 1000000 * 1000));
}

int64_t Tens(int64_t kg) { return std::max<int64_t>(10, kg / 10 * 10); }

class Week {
 public:
  explicit Week(const GlutWeekOptions& o) : rng_(o.seed), options_(o) {}

  std::vector<WorkloadRecord> Make() {
    BuildGeography();
    BuildStreams();
    BuildBuyers();
    MakeOffers();
    MakePledges();
    return Emit();
  }

 private:
  struct County {
    int32_t code;
    int32_t prefecture;
    bool key_assisted = false;
    bool relocation_site = false;
  };
  // One cooperative's product: its offers arrive at the stream's rate.
  struct Stream {
    int county;  // index into counties_
    int product;
    int64_t households;
    bool glut = false;
  };
  struct BuyerUnit {
    std::string id;
    int kind;  // index into kKinds
    int32_t city;
    bool paired;
    bool response = false;
  };
  // An order to post (or a cancel), before ids are known.
  struct Event {
    int64_t at;
    int64_t seq;  // creation order: ties keep it
    WorkloadRecord record;
    int64_t cancels = -1;  // for a cancel: the index of the pledge event
  };

  void BuildGeography() {
    for (const NamedCode& p : kWestProvinces) {
      regions_.push_back({p.code, p.name, false, false});
    }
    for (const NamedCode& p : kQuietProvinces) {
      regions_.push_back({p.code, p.name, false, false});
    }
    for (const NamedCode& p : kWestPrefectures) {
      regions_.push_back({p.code, p.name, false, false});
      const int n = static_cast<int>(rng_.Range(3, 6));
      for (int i = 0; i < n; ++i) {
        County c{p.code + 21 + i, p.code};
        // About a third key-assisted (重点帮扶县); of the others about one in
        // eight (one county in twelve) relocation sites.
        c.key_assisted = rng_.Percent(35);
        c.relocation_site = !c.key_assisted && rng_.Percent(12);
        counties_.push_back(c);
        regions_.push_back({c.code,
                            absl::StrCat(p.name, " county ", Code6(c.code)),
                            c.key_assisted, c.relocation_site});
      }
    }
    for (const NamedCode& p : kEastProvinces) {
      regions_.push_back({p.code, p.name, false, false});
    }
    for (const EastCity& c : kEastCities) {
      regions_.push_back({c.code, c.name, false, false});
    }
    std::sort(
        regions_.begin(), regions_.end(),
        [](const RegionRow& a, const RegionRow& b) { return a.code < b.code; });
    // East-west cooperation pairs provinces (since 2021: Tianjin and
    // Shandong with Gansu, Shanghai with Yunnan, ...), and cities with
    // prefectures under them: each city with one prefecture of its partner
    // province, Qingdao with Longnan.
    for (const EastCity& c : kEastCities) {
      pairings_.insert({c.code / 10000 * 10000, c.partner_province});
      std::vector<int32_t> prefectures;
      for (const NamedCode& p : kWestPrefectures) {
        if (p.code / 10000 * 10000 == c.partner_province) {
          prefectures.push_back(p.code);
        }
      }
      if (c.code == 370200) {
        pairings_.insert({c.code, 621200});
      } else if (!prefectures.empty()) {
        pairings_.insert({c.code, prefectures[rng_.Below(prefectures.size())]});
      }
    }
  }

  // Whether a pairing covers the city and the prefecture (by ancestry).
  bool Paired(int32_t city, int32_t prefecture) const {
    for (const auto& [east, west] : pairings_) {
      if ((east == city || east == city / 10000 * 10000) &&
          (west == prefecture || west == prefecture / 10000 * 10000)) {
        return true;
      }
    }
    return false;
  }
  bool CityPaired(int32_t city) const {
    for (const auto& [east, west] : pairings_) {
      if ((east == city || east == city / 10000 * 10000) &&
          west / 10000 * 10000 != 150000 && west / 10000 * 10000 != 610000) {
        return true;
      }
    }
    return false;
  }

  void BuildStreams() {
    // Each county grows one or two vegetables, often a fruit, sometimes a
    // grain or a tea.
    std::vector<int> by_family[kFamilies];
    for (int p = 0; p < kProductCount; ++p) {
      by_family[kProducts[p].family].push_back(p);
    }
    for (size_t c = 0; c < counties_.size(); ++c) {
      std::set<int> grown;
      const int vegetables = static_cast<int>(rng_.Range(1, 2));
      while (static_cast<int>(grown.size()) < vegetables) {
        grown.insert(
            by_family[kVegetable][rng_.Below(by_family[kVegetable].size())]);
      }
      if (rng_.Percent(60)) {
        grown.insert(by_family[kFruit][rng_.Below(by_family[kFruit].size())]);
      }
      if (rng_.Percent(40)) {
        const Family f = rng_.Percent(60) ? kGrain : kTea;
        grown.insert(by_family[f][rng_.Below(by_family[f].size())]);
      }
      const bool key = counties_[c].key_assisted;
      for (int p : grown) {
        streams_.push_back({static_cast<int>(c), p,
                            key ? rng_.Range(50, 600) : rng_.Range(20, 400)});
      }
    }
    // The glut counties: vegetable growers paired with some eastern city.
    std::vector<int> candidates;
    for (size_t c = 0; c < counties_.size(); ++c) {
      for (const EastCity& e : kEastCities) {
        if (Paired(e.code, counties_[c].prefecture)) {
          candidates.push_back(static_cast<int>(c));
          break;
        }
      }
    }
    rng_.Shuffle(&candidates);
    candidates.resize(std::min<size_t>(kGlutCounties, candidates.size()));
    // A glut county is a vegetable base: two vegetables at least.
    for (int c : candidates) {
      glut_prefectures_.insert(counties_[c].prefecture);
      std::set<int> grown;
      for (const Stream& st : streams_) {
        if (st.county == c && kProducts[st.product].family == kVegetable) {
          grown.insert(st.product);
        }
      }
      while (grown.size() < 2) {
        const int p =
            by_family[kVegetable][rng_.Below(by_family[kVegetable].size())];
        if (grown.insert(p).second) {
          streams_.push_back({c, p,
                              counties_[c].key_assisted ? rng_.Range(50, 600)
                                                        : rng_.Range(20, 400)});
        }
      }
    }
    for (Stream& s : streams_) {
      s.glut = kProducts[s.product].family == kVegetable &&
               std::find(candidates.begin(), candidates.end(), s.county) !=
                   candidates.end();
    }
  }

  void BuildBuyers() {
    const int64_t pledges = options_.orders * (1000 - kOfferPermille) / 1000;
    const int64_t units = std::max<int64_t>(20, pledges / 12);
    std::vector<int64_t> kind_w, city_w, paired_w;
    for (const KindInfo& k : kKinds) kind_w.push_back(k.weight);
    for (const EastCity& c : kEastCities) {
      city_w.push_back(c.weight);
      paired_w.push_back(CityPaired(c.code) ? c.weight : 0);
    }
    const std::vector<int64_t> kinds = Cumulative(kind_w);
    const std::vector<int64_t> cities = Cumulative(city_w);
    const std::vector<int64_t> paired = Cumulative(paired_w);
    for (int64_t i = 0; i < units; ++i) {
      BuyerUnit b;
      b.kind = static_cast<int>(rng_.Weighted(kinds));
      b.city = kEastCities[rng_.Weighted(kKinds[b.kind].paired_only ? paired
                                                                    : cities)]
                   .code;
      b.id = absl::StrFormat("%s-%s-%03d", kKinds[b.kind].prefix, Code6(b.city),
                             i);
      b.paired = CityPaired(b.city);
      for (int32_t pref : glut_prefectures_) {
        b.response = b.response || Paired(b.city, pref);
      }
      buyers_.push_back(std::move(b));
    }
  }

  // How many of something arrive in a third whose expected count is
  // permille / 1000: the whole part, and one more with the fraction's odds.
  int64_t Count(int64_t permille) {
    return permille / 1000 +
           (static_cast<int64_t>(rng_.Below(1000)) < permille % 1000 ? 1 : 0);
  }
  int64_t TimeIn(int third) {
    return kWorkloadStartMicros + third * kThird +
           rng_.Range(0, kThird / kMinute - 1) * kMinute;
  }

  void MakeOffers() {
    // Expected offers: per stream and third `rate`, the glut streams
    // kGlutFactor times that in the middle third.
    int64_t slots = 0;
    for (const Stream& s : streams_)
      slots += 3 + (s.glut ? kGlutFactor - 1 : 0);
    const int64_t rate_pm =
        std::max<int64_t>(1, options_.orders * kOfferPermille / slots);
    for (size_t i = 0; i < streams_.size(); ++i) {
      const Stream& s = streams_[i];
      const Product& product = kProducts[s.product];
      const FamilyInfo& f = kFamilyInfo[product.family];
      const County& county = counties_[s.county];
      // Usual supply, for sizing the demand.
      usual_kg_pm_[product.family] += 3 * rate_pm * (f.kg_lo + f.kg_hi) / 2;
      for (int third = 0; third < 3; ++third) {
        const int64_t factor = s.glut && third == 1 ? kGlutFactor : 1;
        for (int64_t n = Count(rate_pm * factor); n > 0; --n) {
          Event e{TimeIn(third), seq_++, {}};
          v1::Offer* o = e.record.mutable_post_offer()->mutable_offer();
          o->set_supplier_id(
              absl::StrFormat("coop-%s-%d", Code6(county.code), i));
          o->set_region_code(Code6(county.code));
          o->set_product_code(product.code);
          const uint64_t g = rng_.Below(10);
          o->set_grade(g < 2   ? v1::GRADE_PREMIUM
                       : g < 7 ? v1::GRADE_FIRST
                               : v1::GRADE_SECOND);
          const int64_t kg = Tens(rng_.Range(f.kg_lo, f.kg_hi));
          o->set_quantity_kg(kg);
          if (rng_.Percent(30)) {
            o->set_min_lot_kg(Tens(kg / rng_.Range(4, 10)));
          }
          o->set_floor_price_fen_per_kg(std::max<int64_t>(
              1, product.base_price * rng_.Range(75, 115) / 100));
          SetTime(e.at + rng_.Range(f.life_lo * 24 * 60, f.life_hi * 24 * 60) *
                             kMinute,
                  o->mutable_expires_at());
          o->set_certified(rng_.Percent(county.key_assisted ? 60 : 35));
          o->set_households(static_cast<int32_t>(s.households));
          o->mutable_ship_within()->set_seconds(366 * 24 * 3600);
          events_.push_back(std::move(e));
        }
      }
    }
  }

  void MakePledges() {
    // A pledge's product is drawn by how often it is offered; its kg by the
    // buyer's kind, scaled to the family's offer size, then all pledged kg
    // together to kDemandPermille of the usual supply.
    std::vector<int64_t> product_w(kProductCount, 0);
    for (const Stream& s : streams_) ++product_w[s.product];
    const std::vector<int64_t> products = Cumulative(product_w);
    int64_t slots = 0;
    for (const BuyerUnit& b : buyers_) {
      slots += 3 + (b.response ? kResponseFactor - 1 : 0);
    }
    const int64_t pledges = options_.orders * (1000 - kOfferPermille) / 1000;
    const int64_t rate_pm = std::max<int64_t>(1, pledges * 1000 / slots);
    const FamilyInfo& veg = kFamilyInfo[kVegetable];
    std::vector<size_t> pledge_events;
    int64_t raw_kg[kFamilies] = {};
    for (const BuyerUnit& b : buyers_) {
      const KindInfo& kind = kKinds[b.kind];
      // What the buyer's partner regions grow, by how often they offer it.
      std::vector<int64_t> partner_w(kProductCount, 0);
      for (const Stream& st : streams_) {
        if (Paired(b.city, counties_[st.county].prefecture)) {
          ++partner_w[st.product];
        }
      }
      const std::vector<int64_t> partner_products = Cumulative(partner_w);
      const bool has_partner_products = partner_products.back() > 0;
      for (int third = 0; third < 3; ++third) {
        const int64_t factor = b.response && third == 2 ? kResponseFactor : 1;
        for (int64_t n = Count(rate_pm * factor); n > 0; --n) {
          // Consumption assistance buys mostly what the partner regions
          // grow.
          const bool partner_product =
              has_partner_products && rng_.Percent(kPartnerProductPercent);
          const Product& leaf = kProducts[rng_.Weighted(
              partner_product ? partner_products : products)];
          const FamilyInfo& f = kFamilyInfo[leaf.family];
          Event e{TimeIn(third), seq_++, {}};
          v1::Pledge* p = e.record.mutable_post_pledge()->mutable_pledge();
          p->set_buyer_id(b.id);
          p->set_buyer_city_code(Code6(b.city));
          p->set_buyer_kind(kind.kind);
          // Most name a product; some a variety or a whole category.
          const std::string code = leaf.code;
          const uint64_t level = rng_.Below(100);
          const size_t last = code.rfind('.');
          const size_t first = code.find('.');
          if (level < 15) {
            p->set_product_code(code.substr(0, first));
          } else if (level < 25 && last != first) {
            p->set_product_code(code.substr(0, last));
          } else {
            p->set_product_code(code);
          }
          const uint64_t g = rng_.Below(100);
          p->set_min_grade(g < 45   ? v1::GRADE_UNSPECIFIED
                           : g < 55 ? v1::GRADE_PREMIUM
                           : g < 90 ? v1::GRADE_FIRST
                                    : v1::GRADE_SECOND);
          // Raw kg for now; scaled below.
          const int64_t kg = rng_.Range(kind.kg_lo, kind.kg_hi) *
                             (f.kg_lo + f.kg_hi) / (veg.kg_lo + veg.kg_hi);
          p->set_quantity_kg(std::max<int64_t>(1, kg));
          raw_kg[leaf.family] += p->quantity_kg();
          p->set_max_price_fen_per_kg(leaf.base_price * rng_.Range(95, 130) /
                                      100);
          const int64_t life = rng_.Range(f.pledge_life_lo * 24 * 60,
                                          f.pledge_life_hi * 24 * 60) *
                               kMinute;
          SetTime(e.at + life, p->mutable_expires_at());
          // Paired buyers often take only their partner regions' produce;
          // some buyers name western regions.
          const uint64_t sc = rng_.Below(100);
          if (b.paired && sc < (kind.paired_only ? 70u : 35u)) {
            p->set_scope(v1::PARTNERS_ONLY);
          } else if (sc >= 85) {
            p->set_scope(v1::LISTED_REGIONS);
            const NamedCode& area =
                rng_.Percent(50)
                    ? kWestProvinces[rng_.Below(std::size(kWestProvinces))]
                    : kWestPrefectures[rng_.Below(std::size(kWestPrefectures))];
            p->add_region_codes(Code6(area.code));
          } else {
            p->set_scope(v1::ANY);
          }
          p->set_require_certified(rng_.Percent(kind.certified_percent));
          family_of_.push_back(leaf.family);
          pledge_events.push_back(events_.size());
          const int64_t posted = e.at;
          events_.push_back(std::move(e));
          // Cancels fall within the week, before the pledge expires.
          const int64_t window =
              std::min(life, kWorkloadStartMicros + 3 * kThird - posted) /
              kMinute;
          if (rng_.Percent(kCancelPercent) && window >= 2) {
            Event c{posted + rng_.Range(1, window - 1) * kMinute, seq_++, {}};
            c.cancels = static_cast<int64_t>(events_.size() - 1);
            events_.push_back(std::move(c));
          }
        }
      }
    }
    for (size_t i = 0; i < pledge_events.size(); ++i) {
      const int family = family_of_[i];
      v1::Pledge* p = events_[pledge_events[i]]
                          .record.mutable_post_pledge()
                          ->mutable_pledge();
      if (raw_kg[family] == 0) continue;
      const int64_t target =
          usual_kg_pm_[family] / 1000 * kDemandPermille / 1000;
      const int64_t kg = Tens(p->quantity_kg() * target / raw_kg[family]);
      p->set_quantity_kg(kg);
      if (rng_.Percent(20)) p->set_min_lot_kg(Tens(kg / rng_.Range(2, 6)));
      if (rng_.Percent(25)) {
        // A budget buys at least one lot at the max price, or the pledge is
        // refused; 0 is no budget.
        const int64_t budget =
            kg * p->max_price_fen_per_kg() / 100 * rng_.Range(60, 90);
        const int64_t lot_fen =
            std::max<int64_t>(p->min_lot_kg(), 1) * p->max_price_fen_per_kg();
        p->set_budget_fen(budget == 0 ? 0 : std::max(budget, lot_fen));
      }
    }
  }

  std::vector<WorkloadRecord> Emit() {
    std::vector<WorkloadRecord> out;
    for (const RegionRow& r : regions_) {
      WorkloadRecord w;
      w.set_at_micros(kWorkloadStartMicros);
      w.set_prefill(true);
      v1::Region* region = w.mutable_upsert_region()->mutable_region();
      region->set_code(Code6(r.code));
      region->set_name(r.name);
      region->set_key_assisted(r.key_assisted);
      region->set_relocation_site(r.relocation_site);
      out.push_back(std::move(w));
    }
    for (const auto& [east, west] : pairings_) {
      WorkloadRecord w;
      w.set_at_micros(kWorkloadStartMicros);
      w.set_prefill(true);
      v1::Pairing* p = w.mutable_upsert_pairing()->mutable_pairing();
      p->set_east_code(Code6(east));
      p->set_west_code(Code6(west));
      p->set_note(absl::StrCat("east-west cooperation ", Code6(east), "-",
                               Code6(west)));
      out.push_back(std::move(w));
    }
    // Orders in time order; ids are given in posting order from 1.
    std::vector<size_t> order(events_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return std::tie(events_[a].at, events_[a].seq) <
             std::tie(events_[b].at, events_[b].seq);
    });
    std::map<size_t, uint64_t> pledge_id;
    uint64_t pledges = 0;
    for (size_t i : order) {
      Event& e = events_[i];
      if (e.cancels >= 0) {
        e.record.mutable_cancel_pledge()->set_id(
            pledge_id.at(static_cast<size_t>(e.cancels)));
      } else if (e.record.has_post_pledge()) {
        pledge_id[i] = ++pledges;
      }
      e.record.set_at_micros(e.at);
      out.push_back(std::move(e.record));
    }
    return out;
  }

  struct RegionRow {
    int32_t code;
    std::string name;
    bool key_assisted;
    bool relocation_site;
  };

  Rng rng_;
  GlutWeekOptions options_;
  std::vector<RegionRow> regions_;
  std::vector<County> counties_;
  std::set<std::pair<int32_t, int32_t>> pairings_;  // (east, west)
  std::set<int32_t> glut_prefectures_;
  std::vector<Stream> streams_;
  std::vector<BuyerUnit> buyers_;
  std::vector<Event> events_;
  std::vector<int> family_of_;  // of each pledge, in creation order
  int64_t usual_kg_pm_[kFamilies] = {};
  int64_t seq_ = 0;
};

}  // namespace

std::vector<WorkloadRecord> GlutWeek(const GlutWeekOptions& options) {
  return Week(options).Make();
}

}  // namespace bench
}  // namespace duijie
