// Engine::SaveState / LoadState / StateHash: a loaded engine is the saved
// one, in what it holds and in how it goes on matching.
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/command.h"
#include "engine/engine.h"
#include "gtest/gtest.h"
#include "tests/engine_commands.h"

namespace duijie {
namespace {

// Drives an engine with a small random but reproducible stream of commands.
class Driver {
 public:
  explicit Driver(uint32_t seed) : rng_(seed) {}

  void SetUp(Engine& e) {
    for (const char* code : {"620000", "621200", "621202", "620800", "620826",
                             "370000", "370200", "120000"}) {
      ASSERT_TRUE(
          RunCommand(
              e, UpsertRegionCommand{Region{code, code, code[5] == '6', false}},
              now_)
              .ok());
    }
    ASSERT_TRUE(
        RunCommand(e, UpsertPairingCommand{Pairing{"370200", "621200", ""}},
                   now_)
            .ok());
    ASSERT_TRUE(
        RunCommand(e, UpsertPairingCommand{Pairing{"120000", "620000", ""}},
                   now_)
            .ok());
  }

  // Applies one random command and returns a digest of its answer.
  std::string Step(Engine& e) {
    now_ += rng_() % (kDay / 8);
    static const char* kRegions[] = {"621202", "620826", "621200"};
    static const char* kCities[] = {"370200", "120000", "370000"};
    static const char* kProducts[] = {"vegetable.cabbage", "vegetable.potato",
                                      "fruit.apple"};
    const std::string rid =
        rng_() % 4 == 0 ? absl::StrCat("r", rng_() % 50) : "";
    rng_();  // was a fingerprint; drawn still so that the streams stay the same
    switch (rng_() % 4) {
      case 0: {
        OfferSpec o;
        o.supplier_id = absl::StrCat("coop", rng_() % 5);
        o.region_code = kRegions[rng_() % 3];
        o.product_code = kProducts[rng_() % 3];
        o.grade = 1 + rng_() % 3;
        o.quantity_kg = 100 + rng_() % 900;
        o.floor_price_fen_per_kg = 100 + rng_() % 200;
        o.min_lot_kg = rng_() % 100;
        o.expires_at = now_ + 1 + rng_() % (3 * kDay);
        o.certified = rng_() % 2;
        auto r = RunCommand(e, PostOfferCommand{o}, now_, rid);
        return r.ok()
                   ? absl::StrCat("offer ", r->offer.offer_id, " ",
                                  r->offer.remaining_kg, " ", r->matches.size())
                   : r.status().ToString();
      }
      case 1: {
        PledgeSpec p;
        p.buyer_id = absl::StrCat("buyer", rng_() % 5);
        p.buyer_city_code = kCities[rng_() % 3];
        p.buyer_kind = 1 + rng_() % 11;
        p.product_code = rng_() % 2 ? "vegetable" : kProducts[rng_() % 3];
        p.min_grade = rng_() % 4;
        p.quantity_kg = 100 + rng_() % 900;
        p.max_price_fen_per_kg = 100 + rng_() % 200;
        p.budget_fen = rng_() % 3 == 0 ? 20000 + rng_() % 50000 : 0;
        p.expires_at = now_ + 1 + rng_() % (3 * kDay);
        p.scope = rng_() % 3;
        if (p.scope == 2) p.region_codes = {kRegions[rng_() % 3]};
        auto r = RunCommand(e, PostPledgeCommand{p}, now_, rid);
        return r.ok()
                   ? absl::StrCat("pledge ", r->pledge.pledge_id, " ",
                                  r->pledge.spent_fen, " ", r->matches.size())
                   : r.status().ToString();
      }
      case 2: {
        auto r = RunCommand(
            e, CancelOfferCommand{1 + rng_() % (e.offer_count() + 1)}, now_,
            rid);
        return r.ok() ? absl::StrCat("cancel ", r->unfilled_kg)
                      : r.status().ToString();
      }
      default: {
        auto r = RunCommand(
            e, CancelPledgeCommand{1 + rng_() % (e.pledge_count() + 1)}, now_,
            rid);
        return r.ok() ? absl::StrCat("cancel ", r->unfilled_kg)
                      : r.status().ToString();
      }
    }
  }

 private:
  std::mt19937_64 rng_;
  Micros now_ = Micros{1700000000} * 1000 * 1000;
};

TEST(EngineStateTest, LoadedEngineSavesTheSameBytesAndHash) {
  Engine saved;
  Driver driver(7);
  driver.SetUp(saved);
  for (int i = 0; i < 300; ++i) driver.Step(saved);
  ASSERT_GT(saved.last_match_id(), 0u);

  Engine loaded;
  ASSERT_TRUE(loaded.LoadState(saved.SaveState()).ok());
  EXPECT_EQ(loaded.SaveState(), saved.SaveState());
  EXPECT_EQ(loaded.StateHash(), saved.StateHash());
  EXPECT_EQ(loaded.last_match_id(), saved.last_match_id());
}

TEST(EngineStateTest, LoadedEngineGoesOnExactlyAsTheSavedOne) {
  for (uint32_t seed = 1; seed <= 30; ++seed) {
    Engine a;
    Driver driver(seed);
    driver.SetUp(a);
    for (int i = 0; i < 150; ++i) driver.Step(a);
    Engine b;
    ASSERT_TRUE(b.LoadState(a.SaveState()).ok());
    // Two drivers with the same seed and history give the same commands.
    Driver twin = driver;
    for (int i = 0; i < 150; ++i) {
      ASSERT_EQ(driver.Step(a), twin.Step(b))
          << "seed " << seed << " step " << i;
    }
    EXPECT_EQ(a.StateHash(), b.StateHash()) << "seed " << seed;
  }
}

TEST(EngineStateTest, DifferentHistoriesHashDifferently) {
  Engine a, b;
  Driver da(1), db(1);
  da.SetUp(a);
  db.SetUp(b);
  for (int i = 0; i < 50; ++i) {
    da.Step(a);
    db.Step(b);
  }
  EXPECT_EQ(a.StateHash(), b.StateHash());
  da.Step(a);
  EXPECT_NE(a.StateHash(), b.StateHash());
}

TEST(EngineStateTest, TruncatedOrCorruptStateIsDataLoss) {
  Engine saved;
  Driver driver(3);
  driver.SetUp(saved);
  for (int i = 0; i < 100; ++i) driver.Step(saved);
  const std::string bytes = saved.SaveState();
  for (size_t cut :
       {size_t{0}, size_t{5}, bytes.size() / 2, bytes.size() - 1}) {
    Engine e;
    EXPECT_EQ(e.LoadState(bytes.substr(0, cut)).code(),
              absl::StatusCode::kDataLoss)
        << "cut at " << cut;
  }
  Engine e;
  EXPECT_EQ(e.LoadState(bytes + "x").code(), absl::StatusCode::kDataLoss);
}

TEST(EngineStateTest, RequestIdsOutsideTheWindowAreForgottenBeyondTheMinimum) {
  EngineOptions options;
  options.request_id_window = kDay;
  options.min_request_ids = 2;
  Engine e(options);
  Micros now = Micros{1700000000} * 1000 * 1000;
  auto upsert = [&](std::string_view rid, Region region) {
    return RunCommand(e, UpsertRegionCommand{std::move(region)}, now, rid);
  };
  ASSERT_TRUE(upsert("a", Region{"620000", "Gansu"}).ok());
  ASSERT_TRUE(upsert("b", Region{"610000", "Shaanxi"}).ok());
  now += 2 * kDay;
  ASSERT_TRUE(upsert("c", Region{"410000", "Henan"}).ok());
  // "a" is two days old and three ids are held: it is forgotten, so reusing
  // it with another body is a new command, not ALREADY_EXISTS.
  EXPECT_TRUE(upsert("a", Region{"370000", "Shandong"}).ok());
  // "c" is fresh: a different body is still a conflict.
  EXPECT_EQ(upsert("c", Region{"120000", "Tianjin"}).status().code(),
            absl::StatusCode::kAlreadyExists);
}

// The saved state of an engine holding one region and one offer from it,
// posted at `now`.
std::string StateWithOneOffer(Micros now, int grade, int64_t floor,
                              int64_t households) {
  Engine e;
  EXPECT_TRUE(
      RunCommand(e, UpsertRegionCommand{Region{"620826", "Jingning"}}, now)
          .ok());
  OfferSpec o;
  o.supplier_id = "coop";
  o.region_code = "620826";
  o.product_code = "fruit.apple";
  o.grade = grade;
  o.quantity_kg = 100;
  o.floor_price_fen_per_kg = floor;
  o.households = households;
  o.expires_at = now + kDay;
  EXPECT_TRUE(RunCommand(e, PostOfferCommand{o}, now).ok());
  return e.SaveState();
}

// The grade byte of the one offer in a saved state is found by saving two
// states that differ in that grade alone; a byte out of Grade's range there
// is damage.
TEST(EngineStateTest, OutOfRangeEnumByteIsDataLoss) {
  const Micros now = Micros{1700000000} * 1000 * 1000;
  auto state_with_grade = [&](int grade) {
    return StateWithOneOffer(now, grade, 50, 0);
  };
  const std::string first = state_with_grade(2);
  const std::string second = state_with_grade(3);
  ASSERT_EQ(first.size(), second.size());
  std::vector<size_t> differ;
  for (size_t i = 0; i < first.size(); ++i) {
    if (first[i] != second[i]) differ.push_back(i);
  }
  ASSERT_EQ(differ.size(), 1u);
  const size_t grade_at = differ[0];
  ASSERT_EQ(static_cast<uint8_t>(first[grade_at]), 2);

  for (int bad : {0, 4, 255}) {
    std::string patched = first;
    patched[grade_at] = static_cast<char>(bad);
    Engine e;
    EXPECT_EQ(e.LoadState(patched).code(), absl::StatusCode::kDataLoss)
        << "grade byte " << bad;
  }
  // The patch itself is sound: an in-range grade loads and reads back.
  std::string premium = first;
  premium[grade_at] = 1;
  Engine e;
  ASSERT_TRUE(e.LoadState(premium).ok());
  absl::StatusOr<OfferView> offer = e.GetOffer(1, now);
  ASSERT_TRUE(offer.ok()) << offer.status();
  EXPECT_EQ(offer->grade, Grade::kPremium);
  EXPECT_TRUE(e.CheckInvariants().ok());
}

// An offer's region, floor and households are saved as 64 bits and held in
// 32: a saved value beyond 32 bits is damage, even where its low 32 bits
// would be valid (2^32 + 620826 must not load as county 620826).
TEST(EngineStateTest, OfferFieldsBeyond32BitsAreDataLoss) {
  const Micros now = Micros{1700000000} * 1000 * 1000;
  auto state_with = [&](int64_t floor, int64_t households) {
    return StateWithOneOffer(now, 2, floor, households);
  };
  // Where a field's 8 little-endian bytes start: the first byte that
  // differs between two states that differ in that field alone.
  auto field_at = [](const std::string& a, const std::string& b) {
    EXPECT_EQ(a.size(), b.size());
    size_t i = 0;
    while (i < a.size() && a[i] == b[i]) ++i;
    return i;
  };
  auto put64 = [](std::string* bytes, size_t at, uint64_t v) {
    for (int i = 0; i < 8; ++i)
      (*bytes)[at + i] = static_cast<char>(v >> (8 * i));
  };
  const std::string base = state_with(50, 20);
  const size_t floor_at = field_at(base, state_with(51, 20));
  const size_t households_at = field_at(base, state_with(50, 21));
  ASSERT_LT(households_at, base.size());
  ASSERT_EQ(static_cast<uint8_t>(base[floor_at]), 50);
  // The region's 8 bytes come before the grade, certification and status
  // bytes, then the quantity and the remainder (8 bytes each), then the
  // floor.
  const size_t region_at = floor_at - 2 * 8 - 3 - 8;
  std::string sound = base;
  put64(&sound, region_at, 620826);
  put64(&sound, floor_at, 50);
  put64(&sound, households_at, 20);
  ASSERT_EQ(sound, base);  // the positions are right

  struct Patch {
    const char* what;
    size_t at;
    uint64_t value;
  };
  for (const Patch& patch :
       {Patch{"region", region_at, (uint64_t{1} << 32) + 620826},
        Patch{"floor", floor_at, (uint64_t{1} << 32) + 50},
        Patch{"households", households_at, (uint64_t{1} << 32) + 20},
        Patch{"households", households_at, uint64_t{1} << 31}}) {
    std::string patched = base;
    put64(&patched, patch.at, patch.value);
    Engine e;
    EXPECT_EQ(e.LoadState(patched).code(), absl::StatusCode::kDataLoss)
        << patch.what << " " << patch.value;
  }
  // The largest households a post allows loads.
  std::string most = base;
  put64(&most, households_at, INT32_MAX);
  Engine e;
  ASSERT_TRUE(e.LoadState(most).ok());
  absl::StatusOr<OfferView> offer = e.GetOffer(1, now);
  ASSERT_TRUE(offer.ok()) << offer.status();
  EXPECT_EQ(offer->households, INT32_MAX);
}

}  // namespace
}  // namespace duijie
