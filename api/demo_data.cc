// The demo data set. See demo_data.h.
//
// Regions and pairings are public facts (GB/T 2260 codes; the east-west
// cooperation pairs named in the domain brief). The key-assisted flags are
// illustrative, not the official list of national key assisted counties.
// The product catalogue is the produce of the source articles (Lanzhou
// lilies, Jingning apples, Dingxi potatoes, Longnan Sichuan pepper, Ziyang
// selenium tea, Henan cabbage...) and their kin, with Chinese names; the
// shelf lives are typical, not standards. Loading it closes the catalogue,
// so every product code the demo and the README's examples post is in it.
// Offers and pledges are invented but plausible; prices are in fen per kg.
#include "api/demo_data.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/convert.h"

namespace duijie {
namespace {

struct DemoRegion {
  const char* code;
  const char* name;
  bool key_assisted;
  bool relocation_site;
};

constexpr DemoRegion kRegions[] = {
    {"120000", "天津市 Tianjin", false, false},
    {"120103", "河西区 Hexi, Tianjin", false, false},
    {"320000", "江苏省 Jiangsu", false, false},
    {"370000", "山东省 Shandong", false, false},
    {"370200", "青岛市 Qingdao", false, false},
    {"410000", "河南省 Henan", false, false},
    {"410200", "开封市 Kaifeng", false, false},
    {"410225", "兰考县 Lankao", false, false},
    {"440000", "广东省 Guangdong", false, false},
    {"440100", "广州市 Guangzhou", false, false},
    {"440300", "深圳市 Shenzhen", false, false},
    {"450000", "广西壮族自治区 Guangxi", false, false},
    {"520000", "贵州省 Guizhou", false, false},
    {"610000", "陕西省 Shaanxi", false, false},
    {"610900", "安康市 Ankang", false, false},
    {"610924", "紫阳县 Ziyang, Ankang", true, true},
    {"620000", "甘肃省 Gansu", false, false},
    {"620100", "兰州市 Lanzhou", false, false},
    {"620800", "平凉市 Pingliang", false, false},
    {"620826", "静宁县 Jingning", true, false},
    {"621100", "定西市 Dingxi", false, false},
    {"621102", "安定区 Anding, Dingxi", false, false},
    {"621200", "陇南市 Longnan", false, false},
    {"621202", "武都区 Wudu, Longnan", true, false},
};

struct DemoPairing {
  const char* east;
  const char* west;
  const char* note;
};

constexpr DemoPairing kPairings[] = {
    {"120000", "620000", "东西部协作 Tianjin-Gansu, since 2021"},
    {"370000", "620000", "东西部协作 Shandong-Gansu, since 2021"},
    {"320000", "610000", "东西部协作 Jiangsu-Shaanxi, since 2021"},
    {"440000", "450000", "东西部协作 Guangdong-Guangxi, since 2021"},
    {"440000", "520000", "东西部协作 Guangdong-Guizhou, since 2021"},
    {"370200", "621200", "Qingdao-Longnan city pairing, since 2016"},
};

struct DemoProduct {
  const char* code;
  const char* name;
  v1::Perishability perishability;
  int shelf_life_days;  // 0: not stated
  const char* unit_note;
};

// Categories first: a product's parent must be catalogued before it.
constexpr DemoProduct kProducts[] = {
    {"vegetable", "蔬菜", v1::PERISHABLE, 7, ""},
    {"fruit", "水果", v1::SEMI_PERISHABLE, 30, ""},
    {"grain", "粮食", v1::STORABLE, 365, ""},
    {"tea", "茶叶", v1::STORABLE, 540, ""},
    {"fungus", "食用菌", v1::SEMI_PERISHABLE, 0, ""},
    {"spice", "香辛料", v1::STORABLE, 365, ""},
    {"nut", "坚果", v1::STORABLE, 270, ""},
    {"oil", "食用油", v1::STORABLE, 540, ""},
    {"herb", "中药材", v1::STORABLE, 730, ""},
    {"honey", "蜂蜜", v1::STORABLE, 730, ""},
    {"meat", "肉类", v1::PERISHABLE, 5, "冷鲜"},
    {"egg", "禽蛋", v1::SEMI_PERISHABLE, 30, ""},
    {"vegetable.cabbage", "大白菜", v1::PERISHABLE, 14, "网袋, 每袋20公斤"},
    {"vegetable.potato", "马铃薯", v1::SEMI_PERISHABLE, 90, "网袋, 每袋25公斤"},
    {"vegetable.radish", "萝卜", v1::SEMI_PERISHABLE, 30, ""},
    {"vegetable.lily", "百合", v1::SEMI_PERISHABLE, 60, "鲜百合, 每箱5公斤"},
    {"vegetable.chili", "辣椒", v1::PERISHABLE, 10, ""},
    {"vegetable.tomato", "番茄", v1::PERISHABLE, 7, ""},
    {"vegetable.garlic", "大蒜", v1::STORABLE, 180, ""},
    {"vegetable.onion", "洋葱", v1::SEMI_PERISHABLE, 90, ""},
    {"vegetable.spinach", "菠菜", v1::PERISHABLE, 3, ""},
    {"fruit.apple", "苹果", v1::SEMI_PERISHABLE, 120, "纸箱, 每箱10公斤"},
    {"fruit.kiwi", "猕猴桃", v1::SEMI_PERISHABLE, 60, ""},
    {"fruit.pear", "梨", v1::SEMI_PERISHABLE, 90, ""},
    {"fruit.peach", "桃", v1::PERISHABLE, 7, ""},
    {"fruit.grape", "葡萄", v1::PERISHABLE, 10, ""},
    {"fruit.citrus", "柑橘", v1::SEMI_PERISHABLE, 30, ""},
    {"fruit.date", "红枣", v1::STORABLE, 365, "干枣"},
    {"grain.rice", "大米", v1::STORABLE, 365, "富硒大米, 每袋25公斤"},
    {"grain.millet", "小米", v1::STORABLE, 365, ""},
    {"grain.corn", "玉米", v1::STORABLE, 365, ""},
    {"grain.buckwheat", "荞麦", v1::STORABLE, 365, ""},
    {"tea.selenium", "富硒茶", v1::STORABLE, 540, "紫阳富硒茶, 每盒250克"},
    {"tea.green", "绿茶", v1::STORABLE, 365, ""},
    {"tea.black", "红茶", v1::STORABLE, 730, ""},
    {"fungus.shiitake", "香菇", v1::PERISHABLE, 7, "鲜菇"},
    {"fungus.wood_ear", "木耳", v1::STORABLE, 365, "干木耳"},
    {"fungus.oyster", "平菇", v1::PERISHABLE, 5, ""},
    {"spice.sichuan_pepper", "花椒", v1::STORABLE, 365,
     "武都大红袍, 每袋500克"},
    {"spice.star_anise", "八角", v1::STORABLE, 730, ""},
    {"spice.chili_powder", "辣椒面", v1::STORABLE, 365, ""},
    {"nut.walnut", "核桃", v1::STORABLE, 365, ""},
    {"nut.chestnut", "板栗", v1::SEMI_PERISHABLE, 60, ""},
    {"oil.rapeseed", "菜籽油", v1::STORABLE, 540, ""},
    {"oil.camellia", "山茶油", v1::STORABLE, 540, ""},
    {"herb.angelica", "当归", v1::STORABLE, 730, ""},
    {"herb.astragalus", "黄芪", v1::STORABLE, 730, ""},
    {"herb.codonopsis", "党参", v1::STORABLE, 730, ""},
    {"honey.acacia", "槐花蜜", v1::STORABLE, 730, ""},
    {"meat.beef", "牛肉", v1::PERISHABLE, 7, "冷鲜"},
    {"meat.mutton", "羊肉", v1::PERISHABLE, 7, "冷鲜"},
    {"egg.chicken", "鸡蛋", v1::SEMI_PERISHABLE, 30, ""},
};

struct DemoOffer {
  const char* request_id;
  const char* supplier_id;
  const char* region_code;
  const char* product_code;
  v1::Grade grade;
  int64_t quantity_kg;
  int64_t floor_price_fen_per_kg;
  int64_t min_lot_kg;
  int expires_in_days;
  bool certified;
  int households;
};

constexpr DemoOffer kOffers[] = {
    // 武都花椒: Longnan "da hong pao" Sichuan pepper, dried, keeps well.
    {"demo-offer-wudu-pepper", "wudu-pepper-coop", "621202",
     "spice.sichuan_pepper", v1::GRADE_PREMIUM, 8000, 9000, 100, 180, true,
     320},
    // 静宁苹果.
    {"demo-offer-jingning-apple", "jingning-apple-coop", "620826",
     "fruit.apple", v1::GRADE_FIRST, 50000, 600, 500, 60, true, 410},
    // 定西马铃薯.
    {"demo-offer-dingxi-potato", "dingxi-potato-coop", "621102",
     "vegetable.potato", v1::GRADE_SECOND, 200000, 120, 1000, 21, true, 860},
    // 兰考大白菜: the winter glut; must move within days.
    {"demo-offer-lankao-cabbage", "lankao-vegetable-coop", "410225",
     "vegetable.cabbage", v1::GRADE_FIRST, 120000, 60, 1000, 7, false, 530},
    // 紫阳富硒茶: Ankang selenium-rich tea.
    {"demo-offer-ziyang-tea", "ziyang-tea-company", "610924", "tea.selenium",
     v1::GRADE_PREMIUM, 3000, 40000, 10, 240, true, 260},
};

struct DemoPledge {
  const char* request_id;
  const char* buyer_id;
  const char* buyer_city_code;
  v1::BuyerKind buyer_kind;
  const char* product_code;
  v1::Grade min_grade;
  int64_t quantity_kg;
  int64_t max_price_fen_per_kg;
  int64_t budget_fen;
  int64_t min_lot_kg;
  int expires_in_days;
  v1::Scope scope;
  bool require_certified;
};

constexpr DemoPledge kPledges[] = {
    // 青岛市协作办 buys Longnan pepper for its paired region.
    {"demo-pledge-qingdao-pepper", "qingdao-cooperation-office", "370200",
     v1::GOVERNMENT_UNIT, "spice.sichuan_pepper", v1::GRADE_FIRST, 3000, 10000,
     0, 0, 90, v1::PARTNERS_ONLY, true},
    {"demo-pledge-qingdao-apple", "qingdao-cooperation-office", "370200",
     v1::GOVERNMENT_UNIT, "fruit.apple", v1::GRADE_FIRST, 20000, 700, 0, 0, 45,
     v1::PARTNERS_ONLY, false},
    // A Guangzhou hospital canteen: 6 t of any vegetable this fortnight.
    {"demo-pledge-guangzhou-canteen", "guangzhou-hospital-canteen", "440100",
     v1::HOSPITAL, "vegetable", v1::GRADE_SECOND, 6000, 150, 0, 1000, 14,
     v1::ANY, false},
    // A Tianjin trade union's holiday welfare purchase.
    {"demo-pledge-tianjin-union-apple", "tianjin-hexi-trade-union", "120103",
     v1::TRADE_UNION, "fruit", v1::GRADE_FIRST, 10000, 800, 7000000, 0, 30,
     v1::PARTNERS_ONLY, false},
    {"demo-pledge-tianjin-union-tea", "tianjin-hexi-trade-union", "120103",
     v1::TRADE_UNION, "tea", v1::GRADE_FIRST, 300, 45000, 0, 0, 60, v1::ANY,
     true},
    // Waits on the book: nothing offered fits its price yet.
    {"demo-pledge-shenzhen-school-potato", "shenzhen-school-canteen", "440300",
     v1::SCHOOL, "vegetable.potato", v1::GRADE_SECOND, 8000, 100, 0, 500, 10,
     v1::ANY, false},
};

void SetExpiry(absl::Time now, int days, google::protobuf::Timestamp* ts) {
  ToTimestamp(absl::ToUnixMicros(now + absl::Hours(24) * days), ts);
}

}  // namespace

absl::StatusOr<DemoSummary> LoadDemoData(ExchangeService* service,
                                         absl::Time now) {
  std::vector<Command> commands;
  for (const DemoRegion& r : kRegions) {
    v1::UpsertRegionRequest request;
    request.set_request_id(absl::StrCat("demo-region-", r.code));
    v1::Region* region = request.mutable_region();
    region->set_code(r.code);
    region->set_name(r.name);
    region->set_key_assisted(r.key_assisted);
    region->set_relocation_site(r.relocation_site);
    absl::StatusOr<Command> command = ToCommand(request);
    if (!command.ok()) return command.status();
    commands.push_back(*std::move(command));
  }
  for (const DemoPairing& p : kPairings) {
    v1::UpsertPairingRequest request;
    request.set_request_id(absl::StrCat("demo-pairing-", p.east, "-", p.west));
    v1::Pairing* pairing = request.mutable_pairing();
    pairing->set_east_code(p.east);
    pairing->set_west_code(p.west);
    pairing->set_note(p.note);
    absl::StatusOr<Command> command = ToCommand(request);
    if (!command.ok()) return command.status();
    commands.push_back(*std::move(command));
  }
  for (const DemoProduct& p : kProducts) {
    v1::UpsertProductRequest request;
    request.set_request_id(absl::StrCat("demo-product-", p.code));
    v1::Product* product = request.mutable_product();
    product->set_code(p.code);
    product->set_name(p.name);
    product->set_perishability(p.perishability);
    if (p.shelf_life_days > 0) {
      product->mutable_shelf_life()->set_seconds(int64_t{86400} *
                                                 p.shelf_life_days);
    }
    product->set_unit_note(p.unit_note);
    absl::StatusOr<Command> command = ToCommand(request);
    if (!command.ok()) return command.status();
    commands.push_back(*std::move(command));
  }
  for (const DemoOffer& o : kOffers) {
    v1::PostOfferRequest request;
    request.set_request_id(o.request_id);
    v1::Offer* offer = request.mutable_offer();
    offer->set_supplier_id(o.supplier_id);
    offer->set_region_code(o.region_code);
    offer->set_product_code(o.product_code);
    offer->set_grade(o.grade);
    offer->set_quantity_kg(o.quantity_kg);
    offer->set_floor_price_fen_per_kg(o.floor_price_fen_per_kg);
    offer->set_min_lot_kg(o.min_lot_kg);
    SetExpiry(now, o.expires_in_days, offer->mutable_expires_at());
    offer->set_certified(o.certified);
    offer->set_households(o.households);
    absl::StatusOr<Command> command = ToCommand(request);
    if (!command.ok()) return command.status();
    commands.push_back(*std::move(command));
  }
  for (const DemoPledge& p : kPledges) {
    v1::PostPledgeRequest request;
    request.set_request_id(p.request_id);
    v1::Pledge* pledge = request.mutable_pledge();
    pledge->set_buyer_id(p.buyer_id);
    pledge->set_buyer_city_code(p.buyer_city_code);
    pledge->set_buyer_kind(p.buyer_kind);
    pledge->set_product_code(p.product_code);
    pledge->set_min_grade(p.min_grade);
    pledge->set_quantity_kg(p.quantity_kg);
    pledge->set_max_price_fen_per_kg(p.max_price_fen_per_kg);
    pledge->set_budget_fen(p.budget_fen);
    pledge->set_min_lot_kg(p.min_lot_kg);
    SetExpiry(now, p.expires_in_days, pledge->mutable_expires_at());
    pledge->set_scope(p.scope);
    pledge->set_require_certified(p.require_certified);
    absl::StatusOr<Command> command = ToCommand(request);
    if (!command.ok()) return command.status();
    commands.push_back(*std::move(command));
  }

  std::vector<std::string> request_ids;
  request_ids.reserve(commands.size());
  for (const Command& command : commands) {
    request_ids.push_back(command.request_id);
  }
  std::vector<CommandOutcome> outcomes = service->Execute(std::move(commands));

  DemoSummary summary;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const CommandOutcome& outcome = outcomes[i];
    if (!outcome.ok()) {
      if (absl::IsAlreadyExists(outcome.status())) {
        ++summary.replayed;
        continue;
      }
      return absl::Status(outcome.status().code(),
                          absl::StrCat("demo data: ", request_ids[i], ": ",
                                       outcome.status().message()));
    }
    std::visit(
        [&summary](const auto& result) {
          using T = std::decay_t<decltype(result)>;
          if constexpr (std::is_same_v<T, TickResult>) {
            return;  // the demo sends no ticks
          } else if (result.replayed) {
            ++summary.replayed;
          } else if constexpr (std::is_same_v<T, RegionResult>) {
            ++summary.regions;
          } else if constexpr (std::is_same_v<T, PairingResult>) {
            ++summary.pairings;
          } else if constexpr (std::is_same_v<T, ProductResult>) {
            ++summary.products;
          } else if constexpr (std::is_same_v<T, OfferResult>) {
            ++summary.offers;
            summary.matches += static_cast<int>(result.matches.size());
          } else if constexpr (std::is_same_v<T, PledgeResult>) {
            ++summary.pledges;
            summary.matches += static_cast<int>(result.matches.size());
          }
        },
        *outcome);
  }
  return summary;
}

}  // namespace duijie
