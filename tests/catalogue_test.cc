// The product catalogue (engine/catalogue.h): open until the first
// UpsertProduct, cataloguing what posts name; closed after it, refusing
// posts of products it does not hold (and offers of categories); every
// field of an upsert validated; the state round trip, and replay of a
// journal from before the catalogue.
#include "engine/catalogue.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/command.h"
#include "engine/engine.h"
#include "engine/violations.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine_commands.h"

namespace duijie {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr Micros kT0 = 1'798'992'000'000'000;
constexpr char kCounty[] = "621102";  // Anding, Dingxi
constexpr char kCity[] = "370200";    // Qingdao

Product MakeProduct(const std::string& code, const std::string& name,
                    int perishability = 2, Micros shelf_life = 0) {
  Product p;
  p.code = code;
  p.name = name;
  p.perishability = perishability;
  p.shelf_life = shelf_life;
  return p;
}

PostOfferCommand OfferOf(const std::string& product, int64_t kg = 1000,
                         int64_t floor = 100) {
  PostOfferCommand c;
  c.offer.supplier_id = "dingxi-coop";
  c.offer.region_code = kCounty;
  c.offer.product_code = product;
  c.offer.grade = 1;
  c.offer.quantity_kg = kg;
  c.offer.floor_price_fen_per_kg = floor;
  c.offer.expires_at = kT0 + 7 * kDay;
  return c;
}

PostPledgeCommand PledgeOf(const std::string& product, int64_t kg = 500,
                           int64_t max_price = 200) {
  PostPledgeCommand c;
  c.pledge.buyer_id = "qingdao-canteen";
  c.pledge.buyer_city_code = kCity;
  c.pledge.buyer_kind = 1;
  c.pledge.product_code = product;
  c.pledge.quantity_kg = kg;
  c.pledge.max_price_fen_per_kg = max_price;
  c.pledge.expires_at = kT0 + 7 * kDay;
  return c;
}

// The state's version: the word after the magic string (u32 length, then
// "DUIJIE-STATE").
uint64_t StateVersion(const std::string& state) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v |= uint64_t{static_cast<uint8_t>(state[16 + i])} << (8 * i);
  }
  return v;
}

class CatalogueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* code : {"621100", kCounty, kCity}) {
      ASSERT_TRUE(
          Apply(MakeTestCommand(UpsertRegionCommand{Region{code, code}}, kT0))
              .ok());
    }
  }

  // Applies and journals a command as the server's writer does: a tick to
  // its time first when that is later than the clock.
  absl::StatusOr<CommandResult> Apply(const Command& command) {
    if (command.now > e_.now()) {
      journal_.push_back(MakeCommand(TickCommand{}, command.now));
    }
    absl::StatusOr<CommandResult> r = e_.TickAndApply(command);
    if (r.ok()) journal_.push_back(command);
    return r;
  }
  template <typename Body>
  absl::StatusOr<typename Body::Result> Run(Body body,
                                            std::string_view rid = "") {
    return ResultAs<Body>(Apply(MakeTestCommand(std::move(body), kT0, rid)));
  }
  absl::StatusOr<ProductResult> Upsert(const Product& p,
                                       std::string_view rid = "") {
    return Run(UpsertProductCommand{p}, rid);
  }
  void Close() {
    ASSERT_TRUE(Upsert(MakeProduct("vegetable", "蔬菜", 1)).ok());
    ASSERT_TRUE(
        Upsert(MakeProduct("vegetable.potato", "马铃薯", 2, 90 * kDay)).ok());
    ASSERT_TRUE(Upsert(MakeProduct("vegetable.cabbage", "大白菜", 1)).ok());
  }
  std::vector<std::string> Codes() const {
    bool more = false;
    std::vector<std::string> out;
    for (const Product& p : e_.ListProducts("", "", "", 1000, &more)) {
      out.push_back(p.code);
    }
    return out;
  }

  Engine e_;
  std::vector<Command> journal_;
};

TEST_F(CatalogueTest, OpenCatalogueAcceptsAnyPostAndCataloguesWhatItNames) {
  EXPECT_TRUE(e_.CatalogueOpen());
  bool more = false;
  EXPECT_TRUE(e_.ListProducts("", "", "", 100, &more).empty());
  // As before the catalogue existed: a misspelt product trades.
  ASSERT_TRUE(Run(OfferOf("vegetable.potatoe")).ok());
  ASSERT_TRUE(Run(PledgeOf("fruit")).ok());
  EXPECT_TRUE(e_.CatalogueOpen());
  EXPECT_EQ(Codes(), (std::vector<std::string>{"fruit", "vegetable",
                                               "vegetable.potatoe"}));
  const std::optional<Product> p = e_.FindProduct("vegetable.potatoe");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->name, "vegetable.potatoe");  // named by its code
  EXPECT_TRUE(p->from_orders);
  EXPECT_EQ(p->perishability, 0);
}

TEST_F(CatalogueTest, ClosedCatalogueRefusesAnUnknownProductNamingTheField) {
  Close();
  EXPECT_FALSE(e_.CatalogueOpen());
  bool more = false;
  const size_t offers_before = e_.ListOffers({}, 0, 100, kT0, &more).size();
  absl::StatusOr<OfferResult> r = Run(OfferOf("vegetable.potatoe"));
  ASSERT_EQ(r.status().code(), absl::StatusCode::kNotFound) << r.status();
  EXPECT_THAT(r.status().message(),
              HasSubstr("offer.product_code: \"vegetable.potatoe\" is not in "
                        "the catalogue; did you mean \"vegetable.potato\"?"));
  // A product's own name without its category finds it too.
  r = Run(OfferOf("potato"));
  ASSERT_EQ(r.status().code(), absl::StatusCode::kNotFound) << r.status();
  EXPECT_THAT(r.status().message(),
              HasSubstr("did you mean \"vegetable.potato\"?"));
  absl::StatusOr<PledgeResult> p = Run(PledgeOf("fruit"));
  ASSERT_EQ(p.status().code(), absl::StatusCode::kNotFound) << p.status();
  EXPECT_THAT(p.status().message(),
              HasSubstr("pledge.product_code: \"fruit\" is not in the "
                        "catalogue"));
  // Nothing was posted, nothing catalogued.
  EXPECT_EQ(e_.ListOffers({}, 0, 100, kT0, &more).size(), offers_before);
  EXPECT_FALSE(e_.FindProduct("vegetable.potatoe").has_value());
  EXPECT_FALSE(e_.FindProduct("fruit").has_value());
}

TEST_F(CatalogueTest, AnOfferNamesALeafAPledgeAnyNode) {
  Close();
  absl::StatusOr<OfferResult> category = Run(OfferOf("vegetable"));
  ASSERT_EQ(category.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(category.status().message(),
              HasSubstr("offer.product_code: \"vegetable\" is a category"));
  absl::StatusOr<PledgeResult> pledge = Run(PledgeOf("vegetable"));
  ASSERT_TRUE(pledge.ok()) << pledge.status();
  absl::StatusOr<OfferResult> leaf = Run(OfferOf("vegetable.potato"));
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  // The pledge of the category takes the leaf's offer.
  EXPECT_EQ(leaf->matches.size(), 1u);
}

TEST_F(CatalogueTest, ProductsNamedWhileOpenStayCatalogued) {
  // An old journal's products: catalogued from the orders, named by code.
  ASSERT_TRUE(Run(OfferOf("fruit.apple")).ok());
  Close();
  EXPECT_TRUE(Run(OfferOf("fruit.apple")).ok());
  EXPECT_TRUE(Run(PledgeOf("fruit")).ok());
  // "fruit" was catalogued by the order: a product may go under it.
  absl::StatusOr<ProductResult> kiwi =
      Upsert(MakeProduct("fruit.kiwi", "猕猴桃"));
  ASSERT_TRUE(kiwi.ok()) << kiwi.status();
  EXPECT_TRUE(kiwi->created);
  // Naming a product catalogued from orders replaces it.
  absl::StatusOr<ProductResult> apple =
      Upsert(MakeProduct("fruit.apple", "苹果", 2, 120 * kDay));
  ASSERT_TRUE(apple.ok()) << apple.status();
  EXPECT_FALSE(apple->created);
  EXPECT_EQ(apple->product.name, "苹果");
  EXPECT_FALSE(apple->product.from_orders);
}

TEST_F(CatalogueTest, UpsertValidatesEveryFieldAndChangesNothingWhenRefused) {
  struct Bad {
    Product product;
    absl::StatusCode code;
    const char* message;
  };
  std::string long_name;
  for (int i = 0; i < 65; ++i) long_name += "菜";
  const std::vector<Bad> cases = {
      {MakeProduct("Vegetable", "蔬菜"), absl::StatusCode::kInvalidArgument,
       "product.code: \"Vegetable\""},
      {MakeProduct("", "蔬菜"), absl::StatusCode::kInvalidArgument,
       "product.code"},
      {MakeProduct("vegetable.potato", "马铃薯"), absl::StatusCode::kNotFound,
       "product.code: the parent \"vegetable\" of \"vegetable.potato\" is not "
       "in the catalogue"},
      {MakeProduct("vegetable", ""), absl::StatusCode::kInvalidArgument,
       "product.name: is empty"},
      {MakeProduct("vegetable", long_name), absl::StatusCode::kInvalidArgument,
       "product.name"},
      {MakeProduct("vegetable", "蔬菜", 0), absl::StatusCode::kInvalidArgument,
       "product.perishability: 0"},
      {MakeProduct("vegetable", "蔬菜", 4), absl::StatusCode::kInvalidArgument,
       "product.perishability: 4"},
      {MakeProduct("vegetable", "蔬菜", 1, kHour / 2),
       absl::StatusCode::kInvalidArgument, "product.shelf_life"},
      {MakeProduct("vegetable", "蔬菜", 1, kHour + 1),
       absl::StatusCode::kInvalidArgument, "product.shelf_life"},
      {MakeProduct("vegetable", "蔬菜", 1, 3651 * kDay),
       absl::StatusCode::kInvalidArgument, "product.shelf_life"},
      {MakeProduct("vegetable", "蔬\n菜", 1),
       absl::StatusCode::kInvalidArgument, "product.name"},
  };
  Product long_note = MakeProduct("vegetable", "蔬菜");
  long_note.unit_note = long_name;
  const std::string before = e_.SaveState();
  for (const Bad& bad : cases) {
    absl::StatusOr<ProductResult> r = Upsert(bad.product);
    EXPECT_EQ(r.status().code(), bad.code) << bad.message;
    EXPECT_THAT(r.status().message(), HasSubstr(bad.message));
  }
  absl::StatusOr<ProductResult> r = Upsert(long_note);
  EXPECT_THAT(r.status().message(), HasSubstr("product.unit_note"));
  EXPECT_EQ(e_.SaveState(), before);
  EXPECT_TRUE(e_.CatalogueOpen());
  // At the limits it is accepted.
  Product edge = MakeProduct("vegetable", long_name.substr(3), 3, 3650 * kDay);
  edge.unit_note = long_name.substr(3);
  EXPECT_TRUE(Upsert(edge).ok());
}

TEST_F(CatalogueTest, UpsertNamesEveryBadField) {
  const std::string before = e_.SaveState();
  absl::StatusOr<ProductResult> r =
      Upsert(MakeProduct("vegetable", "", 0, kHour / 2));
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<std::string> fields = ViolatedFields(r.status());
  EXPECT_THAT(fields, ElementsAre("product.name", "product.perishability",
                                  "product.shelf_life"));
  EXPECT_EQ(r.status().message(),
            "product.name: is empty; want the product's name, e.g. \"马铃薯\" "
            "(and 2 more: product.perishability, product.shelf_life)");
  EXPECT_EQ(e_.SaveState(), before);
}

TEST_F(CatalogueTest, ARepeatedRequestAnswersTheProductAsItStands) {
  absl::StatusOr<ProductResult> first =
      Upsert(MakeProduct("tea", "茶叶", 3), "p-1");
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->created);
  ASSERT_TRUE(Upsert(MakeProduct("tea", "茶", 3), "p-2").ok());
  absl::StatusOr<ProductResult> again =
      Upsert(MakeProduct("tea", "茶叶", 3), "p-1");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->replayed);
  EXPECT_TRUE(again->created);
  EXPECT_EQ(again->product.name, "茶");
}

TEST_F(CatalogueTest, ListsByPrefixNameAndPage) {
  Close();
  ASSERT_TRUE(Upsert(MakeProduct("vegetables", "Vegetables", 1)).ok());
  bool more = false;
  int64_t total = 0;
  std::vector<Product> page =
      e_.ListProducts("vegetable", "", "", 2, &more, &total);
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].code, "vegetable");
  EXPECT_EQ(page[1].code, "vegetable.cabbage");
  EXPECT_TRUE(more);
  EXPECT_EQ(total, 3);  // not "vegetables": whole segments
  page = e_.ListProducts("vegetable", "", page[1].code, 2, &more, &total);
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].code, "vegetable.potato");
  EXPECT_EQ(page[0].shelf_life, 90 * kDay);
  EXPECT_FALSE(more);
  page = e_.ListProducts("", "薯", "", 10, &more, &total);
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].code, "vegetable.potato");
  page = e_.ListProducts("", "VEG", "", 10, &more, &total);
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].code, "vegetables");
}

TEST_F(CatalogueTest, StateKeepsItsVersionUntilAProductIsUpserted) {
  ASSERT_TRUE(Run(OfferOf("vegetable.potato")).ok());
  EXPECT_LT(StateVersion(e_.SaveState()), 6u);
  Close();
  const std::string state = e_.SaveState();
  EXPECT_EQ(StateVersion(state), 6u);
  Engine loaded;
  ASSERT_TRUE(loaded.LoadState(state).ok());
  EXPECT_EQ(loaded.StateHash(), e_.StateHash());
  EXPECT_FALSE(loaded.CatalogueOpen());
  const std::optional<Product> potato = loaded.FindProduct("vegetable.potato");
  ASSERT_TRUE(potato.has_value());
  EXPECT_EQ(potato->name, "马铃薯");
  EXPECT_EQ(potato->shelf_life, 90 * kDay);
  // The loaded engine refuses what the saved one refuses.
  EXPECT_EQ(
      RunCommand(loaded, OfferOf("vegetable.potatoe"), kT0).status().code(),
      absl::StatusCode::kNotFound);
}

TEST_F(CatalogueTest, JournalOnlyAndSnapshotPlusJournalAgree) {
  // A journal from before the catalogue, then the catalogue closed, then
  // posts checked against it.
  ASSERT_TRUE(Run(OfferOf("fruit.apple")).ok());
  ASSERT_TRUE(Run(PledgeOf("vegetable.potato")).ok());
  const size_t half = journal_.size();
  Close();
  ASSERT_TRUE(Run(OfferOf("vegetable.potato")).ok());
  ASSERT_FALSE(Run(OfferOf("vegetable.potatoe")).ok());
  ASSERT_TRUE(Run(PledgeOf("fruit")).ok());

  Engine journal_only;
  for (const Command& c : journal_) {
    ASSERT_TRUE(journal_only.Replay(c).ok());
  }
  EXPECT_EQ(journal_only.StateHash(), e_.StateHash());

  Engine before;
  for (size_t i = 0; i < half; ++i)
    ASSERT_TRUE(before.Replay(journal_[i]).ok());
  // The old half replays to an open catalogue of what its orders named.
  EXPECT_TRUE(before.CatalogueOpen());
  bool more = false;
  std::vector<std::string> codes;
  for (const Product& p : before.ListProducts("", "", "", 100, &more)) {
    codes.push_back(p.code);
  }
  EXPECT_EQ(codes, (std::vector<std::string>{"fruit", "fruit.apple",
                                             "vegetable", "vegetable.potato"}));
  Engine snapshot;
  ASSERT_TRUE(snapshot.LoadState(before.SaveState()).ok());
  for (size_t i = half; i < journal_.size(); ++i) {
    ASSERT_TRUE(snapshot.Replay(journal_[i]).ok());
  }
  EXPECT_EQ(snapshot.StateHash(), e_.StateHash());
}

TEST_F(CatalogueTest, DamagedCatalogueSectionIsRefused) {
  Close();
  std::string state = e_.SaveState();
  // The last product's shelf life (the state's last 8 bytes) made 1 us.
  state[state.size() - 8] = 1;
  for (size_t i = state.size() - 7; i < state.size(); ++i) state[i] = 0;
  Engine loaded;
  EXPECT_EQ(loaded.LoadState(state).code(), absl::StatusCode::kDataLoss);
}

TEST_F(CatalogueTest, OnlyAdminsUpsertProducts) {
  Command c =
      MakeTestCommand(UpsertProductCommand{MakeProduct("tea", "茶叶", 3)}, kT0);
  auto caller = std::make_shared<Caller>();
  caller->principal.name = "coop";
  caller->principal.role = static_cast<int>(Role::kSupplier);
  caller->principal.supplier_ids = {"dingxi-coop"};
  c.caller = caller;
  absl::StatusOr<CommandResult> r = e_.TickAndApply(c);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(r.status().message(), HasSubstr("UpsertProduct"));
  EXPECT_TRUE(e_.CatalogueOpen());
}

}  // namespace
}  // namespace duijie
