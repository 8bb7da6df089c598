// Engine::GetStats: on random command streams (random_stream.h) every
// figure equals a brute-force sum over ListMatches, keys computed here
// another way (absl's civil time for the calendar); by hand, the keys of
// each dimension at the edges that matter (the Asia/Shanghai day boundary,
// ISO weeks across a year's end, quarters), the pairing a partner match
// falls under, the distinct counts, delivered figures and the bad queries.
#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "engine/engine.h"
#include "gtest/gtest.h"
#include "tests/engine_commands.h"
#include "tests/random_stream.h"

namespace duijie {
namespace {

// --- The brute force
// ----------------------------------------------------------

std::string BruteCalendarKey(StatsDimension d, Micros at) {
  const absl::TimeZone shanghai = absl::FixedTimeZone(8 * 3600);
  const absl::CivilDay day =
      absl::ToCivilDay(absl::FromUnixMicros(at), shanghai);
  char buf[32];
  switch (d) {
    case StatsDimension::kDay:
      std::snprintf(buf, sizeof buf, "%04d-%02d-%02d",
                    static_cast<int>(day.year()), day.month(), day.day());
      return buf;
    case StatsDimension::kWeek: {
      // ISO 8601: the week of a day is the week of its Thursday, numbered
      // in the Thursday's year.
      const int monday_based = static_cast<int>(absl::GetWeekday(day));
      const absl::CivilDay thursday = day + (3 - monday_based);
      std::snprintf(buf, sizeof buf, "%04d-W%02d",
                    static_cast<int>(thursday.year()),
                    (absl::GetYearDay(thursday) - 1) / 7 + 1);
      return buf;
    }
    case StatsDimension::kMonth:
      std::snprintf(buf, sizeof buf, "%04d-%02d", static_cast<int>(day.year()),
                    day.month());
      return buf;
    default:
      std::snprintf(buf, sizeof buf, "%04dQ%d", static_cast<int>(day.year()),
                    (day.month() + 2) / 3);
      return buf;
  }
}

bool Covers(const std::string& ancestor, const std::string& code) {
  if (ancestor == code) return true;
  if (ancestor.substr(2) == "0000")
    return ancestor.substr(0, 2) == code.substr(0, 2);
  if (ancestor.substr(4) == "00")
    return ancestor.substr(0, 4) == code.substr(0, 4);
  return false;
}
int Depth(const std::string& code) {
  return code.substr(2) == "0000" ? 0 : code.substr(4) == "00" ? 1 : 2;
}

// Everything the brute force reads besides the matches.
struct World {
  std::vector<MatchView> matches;
  std::map<uint64_t, int64_t> households;                     // by offer
  std::map<uint64_t, bool> certified;                         // by offer
  std::map<uint64_t, BuyerKind> kinds;                        // by pledge
  std::set<std::string> key_assisted;                         // region codes
  std::vector<std::pair<std::string, std::string>> pairings;  // by (east, west)

  explicit World(const Engine& e) {
    bool more = false;
    matches = e.ListMatches(MatchFilter{}, 0, 1 << 30, &more);
    for (const MatchView& m : matches) {
      households[m.offer_id] = e.GetOffer(m.offer_id, e.now())->households;
      certified[m.offer_id] = e.GetOffer(m.offer_id, e.now())->certified;
      kinds[m.pledge_id] = e.GetPledge(m.pledge_id, e.now())->buyer_kind;
    }
    for (const Region& r : e.ListRegions("", "", 1 << 30, &more)) {
      if (r.key_assisted) key_assisted.insert(r.code);
    }
    for (const Pairing& p : e.ListPairings("", "", "", 1 << 30, &more)) {
      pairings.emplace_back(p.east_code, p.west_code);
    }
  }

  std::string Key(StatsDimension d, const MatchView& m) const {
    const std::string region(m.region_code), city(m.buyer_city_code),
        product(m.product_code);
    switch (d) {
      case StatsDimension::kDay:
      case StatsDimension::kWeek:
      case StatsDimension::kMonth:
      case StatsDimension::kQuarter:
        return BruteCalendarKey(d, m.matched_at);
      case StatsDimension::kOriginProvince:
        return region.substr(0, 2) + "0000";
      case StatsDimension::kOriginPrefecture:
        return region.substr(0, 4) + "00";
      case StatsDimension::kOriginCounty:
        return region;
      case StatsDimension::kBuyerCity:
        return city;
      case StatsDimension::kPairing: {
        if (!m.partner) return "";
        const std::pair<std::string, std::string>* best = nullptr;
        for (const auto& p : pairings) {
          if (!Covers(p.first, city) || !Covers(p.second, region)) continue;
          if (best == nullptr || Depth(p.first) > Depth(best->first) ||
              (Depth(p.first) == Depth(best->first) &&
               Depth(p.second) > Depth(best->second))) {
            best = &p;
          }
        }
        return best == nullptr ? "" : best->first + ">" + best->second;
      }
      case StatsDimension::kBuyerKind:
        return BuyerKindName(kinds.at(m.pledge_id));
      case StatsDimension::kProductCategory:
        return product.substr(0, product.find('.'));
      case StatsDimension::kProduct:
        return product;
      case StatsDimension::kCertified:
        return certified.at(m.offer_id) ? "true" : "false";
      case StatsDimension::kKeyAssisted:
        return key_assisted.count(region) ? "true" : "false";
      case StatsDimension::kBuyer:
        return std::string(m.member_buyer_id.empty() ? m.buyer_id
                                                     : m.member_buyer_id);
      case StatsDimension::kSupplier:
        return std::string(m.supplier_id);
    }
    return "?";
  }
};

struct BruteGroup {
  StatsRowView row;
  std::set<std::string> suppliers, buyers;
  std::set<uint64_t> offers;
};

bool StartsWithText(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

// The figures GetStats should give, summed match by match.
StatsView Brute(const World& w, const StatsQuery& q) {
  std::map<std::vector<std::string>, BruteGroup> groups;
  BruteGroup total;
  for (const MatchView& m : w.matches) {
    if (m.matched_at < q.from || m.matched_at >= q.to) continue;
    const std::string supplier(m.supplier_id), buyer(m.buyer_id),
        member(m.member_buyer_id), product(m.product_code);
    if (q.visible.restricted) {
      const auto& vs = q.visible.visible_supplier_ids;
      const auto& vb = q.visible.visible_buyer_ids;
      const bool shown =
          std::count(vs.begin(), vs.end(), supplier) ||
          std::count(vb.begin(), vb.end(), buyer) ||
          (!member.empty() && std::count(vb.begin(), vb.end(), member));
      if (!shown) continue;
    }
    if (!q.supplier_id.empty() && supplier != q.supplier_id) continue;
    if (!q.buyer_id.empty() && buyer != q.buyer_id && member != q.buyer_id) {
      continue;
    }
    if (!q.product_code_prefix.empty() && product != q.product_code_prefix &&
        !StartsWithText(product, q.product_code_prefix + ".")) {
      continue;
    }
    if (!StartsWithText(std::string(m.region_code), q.origin_region_prefix) ||
        !StartsWithText(std::string(m.buyer_city_code), q.buyer_city_prefix)) {
      continue;
    }
    std::vector<std::string> keys;
    for (int d : q.group_by) {
      keys.push_back(w.Key(static_cast<StatsDimension>(d), m));
    }
    for (BruteGroup* g : {&groups[keys], &total}) {
      const int64_t kept = m.quantity_kg - m.returned_kg;
      g->row.kg += kept;
      g->row.fen += kept * m.price_fen_per_kg;
      g->row.matches += 1;
      if (m.status == MatchStatus::kDelivered) {
        g->row.delivered_kg += m.accepted_kg;
        g->row.delivered_fen += m.accepted_kg * m.price_fen_per_kg;
      }
      g->suppliers.insert(supplier);
      g->buyers.insert(member.empty() ? buyer : member);
      if (g->offers.insert(m.offer_id).second) {
        g->row.households += w.households.at(m.offer_id);
      }
    }
  }
  StatsView view;
  for (auto& [keys, g] : groups) {
    g.row.keys = keys;
    g.row.suppliers = g.suppliers.size();
    g.row.buyers = g.buyers.size();
    view.rows.push_back(g.row);
  }
  total.row.suppliers = total.suppliers.size();
  total.row.buyers = total.buyers.size();
  view.total = total.row;
  return view;
}

std::string Show(const StatsRowView& r) {
  std::string s = "[";
  for (const std::string& k : r.keys) s += k + "|";
  return s + "] kg " + std::to_string(r.kg) + " fen " + std::to_string(r.fen) +
         " matches " + std::to_string(r.matches) + " suppliers " +
         std::to_string(r.suppliers) + " buyers " + std::to_string(r.buyers) +
         " households " + std::to_string(r.households) + " delivered " +
         std::to_string(r.delivered_kg) + " kg " +
         std::to_string(r.delivered_fen) + " fen";
}

// --- Random streams
// -------------------------------------------------------------

TEST(StatsTest, FiguresEqualABruteForceSumOnRandomStreams) {
  int streams_with_matches = 0, queries = 0, rows = 0;
  for (uint64_t seed = 1; seed <= 150; ++seed) {
    Engine engine;
    ReferenceMatcher ref;
    Generator gen(seed, ref);
    std::vector<Cmd> cmds = gen.Setup();
    const size_t regions = cmds.size();
    const size_t setup = regions + 3;
    for (size_t i = 0; i < setup + 200; ++i) {
      Cmd c =
          i < regions ? cmds[i] : (i < setup ? gen.SetupPairing() : gen.Next());
      Execute(engine, c);
      gen.Observe(c, Execute(ref, c));
    }
    const World world(engine);
    if (world.matches.empty()) continue;
    ++streams_with_matches;
    std::mt19937_64 rng(seed);
    auto pick = [&](auto& options) { return options[rng() % options.size()]; };
    for (int n = 0; n < 12; ++n) {
      StatsQuery q;
      std::vector<int> dims;
      for (int d = 1; d <= kMaxStatsDimension; ++d) dims.push_back(d);
      std::shuffle(dims.begin(), dims.end(), rng);
      q.group_by.assign(dims.begin(), dims.begin() + rng() % 5);
      const MatchView& a = pick(world.matches);
      const MatchView& b = pick(world.matches);
      if (rng() % 2) q.from = std::min(a.matched_at, b.matched_at);
      if (rng() % 2) q.to = std::max(a.matched_at, b.matched_at) + rng() % 2;
      if (q.from >= q.to) q.to = q.from + 1;
      const std::vector<std::string> products = {
          "", "", "vegetable", "fruit", "fruit.apple", "fruit.apples"};
      q.product_code_prefix = pick(products);
      const std::vector<std::string> origins = {"", "", "62", "6212", "45"};
      q.origin_region_prefix = pick(origins);
      const std::vector<std::string> cities = {"", "", "37", "4401"};
      q.buyer_city_prefix = pick(cities);
      if (rng() % 5 == 0)
        q.supplier_id = std::string(pick(world.matches).supplier_id);
      if (rng() % 5 == 0)
        q.buyer_id = std::string(pick(world.matches).buyer_id);
      if (rng() % 4 == 0) {
        q.visible.restricted = true;
        q.visible.visible_supplier_ids = {
            std::string(pick(world.matches).supplier_id)};
        const MatchView& m = pick(world.matches);
        q.visible.visible_buyer_ids = {std::string(
            m.member_buyer_id.empty() ? m.buyer_id : m.member_buyer_id)};
      }
      absl::StatusOr<StatsView> got = engine.GetStats(q);
      ASSERT_TRUE(got.ok()) << got.status();
      const StatsView want = Brute(world, q);
      ++queries;
      rows += got->rows.size();
      ASSERT_EQ(Show(got->total), Show(want.total)) << "seed " << seed;
      ASSERT_EQ(got->rows.size(), want.rows.size()) << "seed " << seed;
      for (size_t i = 0; i < want.rows.size(); ++i) {
        ASSERT_EQ(Show(got->rows[i]), Show(want.rows[i]))
            << "seed " << seed << " row " << i;
      }
    }
  }
  // The streams must exercise the sums, not pass vacuously.
  EXPECT_GT(streams_with_matches, 100);
  EXPECT_GT(rows, queries / 2);
}

// --- Keys by hand
// ---------------------------------------------------------------

// 2026-12-01T00:00:00+08:00.
constexpr Micros kDec1Shanghai = Micros{1796054400} * 1000000;
constexpr Micros kSecond = 1000000;

class StatsKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& [code, key] :
         std::vector<std::pair<std::string, bool>>{{"620000", false},
                                                   {"621200", false},
                                                   {"621202", true},
                                                   {"370000", false},
                                                   {"370200", false},
                                                   {"410000", false},
                                                   {"410225", false}}) {
      ASSERT_TRUE(RunCommand(engine_,
                             UpsertRegionCommand{Region{code, code, key}},
                             start_)
                      .ok());
    }
    for (const auto& [east, west] :
         std::vector<std::pair<std::string, std::string>>{
             {"370000", "620000"}, {"370200", "621200"}}) {
      ASSERT_TRUE(RunCommand(engine_,
                             UpsertPairingCommand{Pairing{east, west, "pair"}},
                             start_)
                      .ok());
    }
  }

  // One match of `kg` at `at`: an offer then a pledge that takes it.
  uint64_t Match(Micros at, int64_t kg, const std::string& region = "621202",
                 const std::string& city = "370200",
                 const std::string& buyer = "qingdao-office",
                 const std::string& supplier = "wudu-coop",
                 int64_t households = 10) {
    OfferSpec o;
    o.supplier_id = supplier;
    o.region_code = region;
    o.product_code = "spice.sichuan_pepper";
    o.grade = 2;
    o.quantity_kg = kg;
    o.floor_price_fen_per_kg = 100;
    o.expires_at = at + 5 * kDay;
    o.certified = true;
    o.households = households;
    EXPECT_TRUE(RunCommand(engine_, PostOfferCommand{o}, at).ok());
    PledgeSpec p;
    p.buyer_id = buyer;
    p.buyer_city_code = city;
    p.buyer_kind = 2;  // SCHOOL
    p.product_code = "spice";
    p.quantity_kg = kg;
    p.max_price_fen_per_kg = 100;
    p.expires_at = at + 5 * kDay;
    absl::StatusOr<PledgeResult> r =
        RunCommand(engine_, PostPledgeCommand{p}, at);
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->matches.size(), 1u);
    return r->matches.empty() ? 0 : r->matches[0].match_id;
  }

  std::vector<std::string> Keys(StatsDimension d) {
    StatsQuery q;
    q.group_by = {static_cast<int>(d)};
    absl::StatusOr<StatsView> v = engine_.GetStats(q);
    EXPECT_TRUE(v.ok()) << v.status();
    std::vector<std::string> keys;
    for (const StatsRowView& r : v->rows) keys.push_back(r.keys[0]);
    return keys;
  }

  Engine engine_;
  Micros start_ = kDec1Shanghai - 800 * kDay;
};

TEST_F(StatsKeysTest, DaysTurnAtMidnightInShanghai) {
  Match(kDec1Shanghai - kSecond, 5);  // 2026-11-30T15:59:59Z
  Match(kDec1Shanghai, 7);            // 2026-11-30T16:00:00Z
  EXPECT_EQ(Keys(StatsDimension::kDay),
            (std::vector<std::string>{"2026-11-30", "2026-12-01"}));
  EXPECT_EQ(Keys(StatsDimension::kMonth),
            (std::vector<std::string>{"2026-11", "2026-12"}));
}

TEST_F(StatsKeysTest, IsoWeeksCrossTheYearsEnd) {
  // 2024-12-30 is a Monday in week 1 of 2025; 2026 has 53 weeks, and
  // 2027-01-01 (a Friday) is in its week 53; 2027-01-04 starts 2027-W01.
  const Micros dec30_2024 = kDec1Shanghai - (Micros{701}) * kDay;
  Match(dec30_2024 - kSecond, 1);  // Sunday 2024-12-29, 2024-W52
  Match(dec30_2024, 1);
  Match(kDec1Shanghai + 30 * kDay, 1);            // 2026-12-31, Thursday
  Match(kDec1Shanghai + 31 * kDay, 1);            // 2027-01-01
  Match(kDec1Shanghai + 34 * kDay - kSecond, 1);  // 2027-01-03, Sunday
  Match(kDec1Shanghai + 34 * kDay, 1);            // 2027-01-04, Monday
  EXPECT_EQ(Keys(StatsDimension::kWeek),
            (std::vector<std::string>{"2024-W52", "2025-W01", "2026-W53",
                                      "2027-W01"}));
  EXPECT_EQ(
      Keys(StatsDimension::kDay),
      (std::vector<std::string>{"2024-12-29", "2024-12-30", "2026-12-31",
                                "2027-01-01", "2027-01-03", "2027-01-04"}));
}

TEST_F(StatsKeysTest, QuartersTurnOnTheFirstOfJanuaryAprilJulyOctober) {
  const Micros oct1 = kDec1Shanghai - 61 * kDay;  // 2026-10-01 in Shanghai
  Match(oct1 - kSecond, 3);
  Match(oct1, 4);
  Match(kDec1Shanghai + 31 * kDay, 5);  // 2027-01-01
  EXPECT_EQ(Keys(StatsDimension::kQuarter),
            (std::vector<std::string>{"2026Q3", "2026Q4", "2027Q1"}));
}

TEST_F(StatsKeysTest, RegionsPairingsKindsAndFlagsKeyTheirRows) {
  Match(kDec1Shanghai, 10);                      // Wudu to Qingdao
  Match(kDec1Shanghai, 20, "621202", "370000");  // Wudu to Shandong
  Match(kDec1Shanghai, 40, "410225", "370200");  // Lankao: no pairing
  EXPECT_EQ(Keys(StatsDimension::kOriginProvince),
            (std::vector<std::string>{"410000", "620000"}));
  EXPECT_EQ(Keys(StatsDimension::kOriginPrefecture),
            (std::vector<std::string>{"410200", "621200"}));
  EXPECT_EQ(Keys(StatsDimension::kOriginCounty),
            (std::vector<std::string>{"410225", "621202"}));
  // Qingdao-Longnan is nearer Qingdao than Shandong-Gansu.
  EXPECT_EQ(Keys(StatsDimension::kPairing),
            (std::vector<std::string>{"", "370000>620000", "370200>621200"}));
  EXPECT_EQ(Keys(StatsDimension::kBuyerKind),
            (std::vector<std::string>{"SCHOOL"}));
  EXPECT_EQ(Keys(StatsDimension::kProductCategory),
            (std::vector<std::string>{"spice"}));
  EXPECT_EQ(Keys(StatsDimension::kKeyAssisted),
            (std::vector<std::string>{"false", "true"}));
  EXPECT_EQ(Keys(StatsDimension::kCertified),
            (std::vector<std::string>{"true"}));
}

TEST_F(StatsKeysTest, DistinctPartiesHouseholdsAndDeliveriesAreCounted) {
  const uint64_t first =
      Match(kDec1Shanghai, 10, "621202", "370200", "a", "s1", 7);
  Match(kDec1Shanghai, 20, "621202", "370200", "a", "s2", 9);
  Match(kDec1Shanghai, 30, "621202", "370200", "b", "s1", 11);
  ASSERT_TRUE(RunCommand(engine_, ShipMatchCommand{first, 0, "waybill"},
                         kDec1Shanghai + kHour)
                  .ok());
  ASSERT_TRUE(RunCommand(engine_, AcceptMatchCommand{first, 8},
                         kDec1Shanghai + 2 * kHour)
                  .ok());
  StatsQuery q;
  absl::StatusOr<StatsView> v = engine_.GetStats(q);
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->rows.size(), 1u);
  EXPECT_TRUE(v->rows[0].keys.empty());
  // The short acceptance gave 2 kg back to the pledge.
  EXPECT_EQ(v->total.kg, 58);
  EXPECT_EQ(v->total.fen, 5800);
  EXPECT_EQ(v->total.matches, 3);
  EXPECT_EQ(v->total.suppliers, 2);
  EXPECT_EQ(v->total.buyers, 2);
  EXPECT_EQ(v->total.households, 27);
  EXPECT_EQ(v->total.delivered_kg, 8);
  EXPECT_EQ(v->total.delivered_fen, 800);

  // [from, to): the last two only.
  q.from = kDec1Shanghai;
  q.to = kDec1Shanghai + 1;
  q.group_by = {static_cast<int>(StatsDimension::kBuyer),
                static_cast<int>(StatsDimension::kSupplier)};
  q.visible.restricted = true;
  q.visible.visible_buyer_ids = {"a"};
  v = engine_.GetStats(q);
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->rows.size(), 2u);
  EXPECT_EQ(v->rows[0].keys, (std::vector<std::string>{"a", "s1"}));
  EXPECT_EQ(v->rows[1].keys, (std::vector<std::string>{"a", "s2"}));
  EXPECT_EQ(v->total.kg, 28);
}

TEST_F(StatsKeysTest, BadQueriesNameTheField) {
  StatsQuery q;
  q.group_by = {1, 2, 3, 4, 5};
  EXPECT_EQ(engine_.GetStats(q).status().message(),
            "group_by: 5 dimensions; at most 4");
  q.group_by = {1, 17};
  EXPECT_EQ(engine_.GetStats(q).status().message(),
            "group_by: unknown dimension 17");
  q.group_by = {5, 5};
  EXPECT_EQ(engine_.GetStats(q).status().message(),
            "group_by: dimension 5 is repeated");
  q.group_by = {};
  q.from = q.to = kDec1Shanghai;
  EXPECT_EQ(engine_.GetStats(q).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(
      absl::StrContains(engine_.GetStats(q).status().message(), "from: "));
}

}  // namespace
}  // namespace duijie
