// Who may send which command (the rules of roles and the open-order limit,
// engine/authorization.cc), driven through Engine::Apply with a Caller; the
// API key commands (engine/api_keys.h); and keys in the saved state.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/byte_codec.h"
#include "engine/command.h"
#include "engine/engine.h"
#include "engine/types.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine_commands.h"

namespace duijie {
namespace {

using ::testing::HasSubstr;

constexpr Micros kT0 = 1'700'000'000'000'000;   // an arbitrary start time
constexpr Micros kLater = kT0 + 1'000'000'000;  // default order expiry

constexpr char kRegion[] = "621202";  // Wudu, Longnan
constexpr char kCity[] = "370200";    // Qingdao
// The caller's own parties and somebody else's.
constexpr char kMySupplier[] = "coop-a";
constexpr char kOtherSupplier[] = "coop-b";
constexpr char kMyBuyer[] = "office-a";
constexpr char kOtherBuyer[] = "office-b";

Principal MakePrincipal(Role role, std::vector<std::string> suppliers = {},
                        std::vector<std::string> buyers = {}) {
  Principal p;
  p.name = "test principal";
  p.role = static_cast<int>(role);
  p.supplier_ids = std::move(suppliers);
  p.buyer_ids = std::move(buyers);
  return p;
}

// A principal of each role; the ones acting for parties act for
// kMySupplier and/or kMyBuyer.
Principal PrincipalOf(Role role) {
  switch (role) {
    case Role::kPlatform:
      return MakePrincipal(role, {"coop-z", kMySupplier}, {kMyBuyer});
    case Role::kSupplier:
      return MakePrincipal(role, {kMySupplier});
    case Role::kBuyer:
      return MakePrincipal(role, {}, {kMyBuyer});
    default:
      return MakePrincipal(role);
  }
}

std::shared_ptr<const Caller> CallerOf(Role role, uint64_t max_open = 0) {
  auto caller = std::make_shared<Caller>();
  caller->principal = PrincipalOf(role);
  caller->key_id = 7;
  caller->max_open_orders = max_open;
  return caller;
}

// A distinct 32-byte "SHA-256" per n.
std::string Hash(char n) { return std::string(32, n); }

OfferSpec Offer(std::string supplier) {
  OfferSpec o;
  o.supplier_id = std::move(supplier);
  o.region_code = kRegion;
  o.product_code = "vegetable.cabbage";
  o.grade = 2;
  o.quantity_kg = 100;
  o.floor_price_fen_per_kg = 300;
  o.expires_at = kLater;
  return o;
}

// Never matches an Offer(): another product.
PledgeSpec Pledge(std::string buyer) {
  PledgeSpec p;
  p.buyer_id = std::move(buyer);
  p.buyer_city_code = kCity;
  p.buyer_kind = 1;
  p.product_code = "fruit.apple";
  p.quantity_kg = 100;
  p.max_price_fen_per_kg = 500;
  p.expires_at = kLater;
  return p;
}

CreateKeyCommand CreateKey(Principal principal, std::string hash,
                           Micros expires_at = 0) {
  CreateKeyCommand c;
  c.principal = std::move(principal);
  c.secret_sha256 = std::move(hash);
  c.expires_at = expires_at;
  return c;
}

// The engine's bytes' version field (after the magic string).
uint64_t StateVersion(const Engine& engine) {
  const std::string state = engine.SaveState();
  ByteReader r(state);
  r.Str();
  const uint64_t version = r.U64();
  EXPECT_TRUE(r.ok());
  return version;
}

void ExpectSameKey(const ApiKey& a, const ApiKey& b) {
  EXPECT_EQ(a.key_id, b.key_id);
  EXPECT_EQ(a.principal.name, b.principal.name);
  EXPECT_EQ(a.principal.role, b.principal.role);
  EXPECT_EQ(a.principal.supplier_ids, b.principal.supplier_ids);
  EXPECT_EQ(a.principal.buyer_ids, b.principal.buyer_ids);
  EXPECT_EQ(a.secret_sha256, b.secret_sha256);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.expires_at, b.expires_at);
  EXPECT_EQ(a.revoked_at, b.revoked_at);
}

std::vector<ApiKey> AllKeys(const Engine& engine) {
  bool more = false;
  std::vector<ApiKey> keys = engine.ListKeys(0, 1000, &more);
  EXPECT_FALSE(more);
  return keys;
}

// An engine with two regions, a pairing, a key, offers 1 (kMySupplier)
// and 2 (kOtherSupplier), pledges 1 (kMyBuyer) and 2 (kOtherBuyer), all
// open, none matching; all sent without a caller.
class AuthorizationTest : public ::testing::Test {
 protected:
  void SetUp() override { Populate(engine_); }

  static void Populate(Engine& e) {
    for (const char* code : {kRegion, kCity}) {
      ASSERT_TRUE(
          RunCommand(e, UpsertRegionCommand{Region{code, code}}, kT0).ok());
    }
    ASSERT_TRUE(
        RunCommand(e, UpsertPairingCommand{Pairing{kCity, kRegion, "qd"}}, kT0)
            .ok());
    ASSERT_TRUE(
        RunCommand(e, CreateKey(PrincipalOf(Role::kSupplier), Hash('k')), kT0)
            .ok());
    ASSERT_TRUE(
        RunCommand(e, PostOfferCommand{Offer(kMySupplier)}, kT0 + 1).ok());
    ASSERT_TRUE(
        RunCommand(e, PostOfferCommand{Offer(kOtherSupplier)}, kT0 + 2).ok());
    ASSERT_TRUE(
        RunCommand(e, PostPledgeCommand{Pledge(kMyBuyer)}, kT0 + 3).ok());
    ASSERT_TRUE(
        RunCommand(e, PostPledgeCommand{Pledge(kOtherBuyer)}, kT0 + 4).ok());
  }

  // Applies `body` from `caller` at the engine's clock, after checking that
  // Validate foresees the same status code.
  template <typename Body>
  static absl::StatusOr<typename Body::Result> Send(
      Engine& e, std::shared_ptr<const Caller> caller, Body body,
      std::string_view request_id = "") {
    Command command = MakeTestCommand(std::move(body), e.now(), request_id);
    command.caller = std::move(caller);
    const absl::Status predicted = e.Validate(command, e.now());
    absl::StatusOr<CommandResult> result = e.Apply(command);
    EXPECT_EQ(predicted.code(), result.status().code())
        << "Validate said " << predicted << ", Apply " << result.status();
    EXPECT_TRUE(e.CheckInvariants().ok()) << e.CheckInvariants();
    return ResultAs<Body>(std::move(result));
  }
  template <typename Body>
  absl::StatusOr<typename Body::Result> Send(
      std::shared_ptr<const Caller> caller, Body body,
      std::string_view request_id = "") {
    return Send(engine_, std::move(caller), std::move(body), request_id);
  }

  Engine engine_;
};

// --- Each role x each command ------------------------------------------------

// An amendment of order `id` that changes only its min lot (to 1 kg):
// allowed for any open order, and it changes the state.
template <typename Amend>
Amend AmendMinLot(uint64_t id) {
  Amend c;
  if constexpr (std::is_same_v<Amend, AmendOfferCommand>) {
    c.offer_id = id;
  } else {
    c.pledge_id = id;
  }
  c.has_min_lot = true;
  c.min_lot_kg = 1;
  return c;
}

struct Case {
  const char* command;
  CommandBody body;
  // Per role, ADMIN, PLATFORM, SUPPLIER, BUYER, OBSERVER.
  std::array<absl::StatusCode, 5> codes;
};

TEST_F(AuthorizationTest, EachRoleMaySendExactlyItsCommands) {
  constexpr absl::StatusCode kOk = absl::StatusCode::kOk;
  constexpr absl::StatusCode kDenied = absl::StatusCode::kPermissionDenied;
  constexpr absl::StatusCode kNotFound = absl::StatusCode::kNotFound;
  const std::vector<Case> cases = {
      {"Tick", TickCommand{}, {kOk, kOk, kOk, kOk, kOk}},
      {"UpsertRegion",
       UpsertRegionCommand{Region{"620000", "Gansu"}},
       {kOk, kDenied, kDenied, kDenied, kDenied}},
      {"UpsertPairing",
       UpsertPairingCommand{Pairing{kCity, kRegion, "renamed"}},
       {kOk, kDenied, kDenied, kDenied, kDenied}},
      {"DeletePairing",
       DeletePairingCommand{kCity, kRegion},
       {kOk, kDenied, kDenied, kDenied, kDenied}},
      {"PostOffer (own supplier)",
       PostOfferCommand{Offer(kMySupplier)},
       {kOk, kOk, kOk, kDenied, kDenied}},
      {"PostOffer (another supplier)",
       PostOfferCommand{Offer(kOtherSupplier)},
       {kOk, kDenied, kDenied, kDenied, kDenied}},
      {"PostPledge (own buyer)",
       PostPledgeCommand{Pledge(kMyBuyer)},
       {kOk, kOk, kDenied, kOk, kDenied}},
      {"PostPledge (another buyer)",
       PostPledgeCommand{Pledge(kOtherBuyer)},
       {kOk, kDenied, kDenied, kDenied, kDenied}},
      {"CancelOffer (own)",
       CancelOfferCommand{1},
       {kOk, kOk, kOk, kDenied, kDenied}},
      {"CancelOffer (another's)",
       CancelOfferCommand{2},
       {kOk, kDenied, kDenied, kDenied, kDenied}},
      {"CancelPledge (own)",
       CancelPledgeCommand{1},
       {kOk, kOk, kNotFound, kOk, kNotFound}},
      {"CancelPledge (another's)",
       CancelPledgeCommand{2},
       {kOk, kNotFound, kNotFound, kNotFound, kNotFound}},
      {"AmendOffer (own)",
       AmendMinLot<AmendOfferCommand>(1),
       {kOk, kOk, kOk, kDenied, kDenied}},
      {"AmendOffer (another's)",
       AmendMinLot<AmendOfferCommand>(2),
       {kOk, kDenied, kDenied, kDenied, kDenied}},
      {"AmendPledge (own)",
       AmendMinLot<AmendPledgeCommand>(1),
       {kOk, kOk, kNotFound, kOk, kNotFound}},
      {"AmendPledge (another's)",
       AmendMinLot<AmendPledgeCommand>(2),
       {kOk, kNotFound, kNotFound, kNotFound, kNotFound}},
      {"CreateKey",
       CreateKey(PrincipalOf(Role::kBuyer), Hash('n')),
       {kOk, kDenied, kDenied, kDenied, kDenied}},
      {"RevokeKey",
       RevokeKeyCommand{1},
       {kOk, kDenied, kDenied, kDenied, kDenied}},
      // A buyer unit (or its platform) keeps its own registry entry.
      {"UpsertBuyer (own buyer)",
       UpsertBuyerCommand{Buyer{kMyBuyer, "office", kCity, 1, 100, ""}},
       {kOk, kOk, kDenied, kOk, kDenied}},
      {"UpsertBuyer (another buyer)",
       UpsertBuyerCommand{Buyer{kOtherBuyer, "office", kCity, 1, 100, ""}},
       {kOk, kDenied, kDenied, kDenied, kDenied}},
      {"UpsertProduct",
       UpsertProductCommand{Product{"spice", "香辛料", "", 3, 0}},
       {kOk, kDenied, kDenied, kDenied, kDenied}},
  };
  const Role roles[] = {Role::kAdmin, Role::kPlatform, Role::kSupplier,
                        Role::kBuyer, Role::kObserver};
  for (const Case& c : cases) {
    for (int i = 0; i < 5; ++i) {
      SCOPED_TRACE(testing::Message()
                   << c.command << " from role " << static_cast<int>(roles[i]));
      Engine e;
      Populate(e);
      const uint64_t before = e.StateHash();
      Command command;
      command.body = c.body;
      command.now = e.now();
      command.caller = CallerOf(roles[i]);
      const absl::Status predicted = e.Validate(command, e.now());
      const absl::StatusOr<CommandResult> result = e.Apply(command);
      EXPECT_EQ(result.status().code(), c.codes[i]) << result.status();
      EXPECT_EQ(predicted.code(), c.codes[i]) << predicted;
      EXPECT_TRUE(e.CheckInvariants().ok());
      if (c.codes[i] != kOk) {
        EXPECT_EQ(e.StateHash(), before) << "a refused command changed state";
      } else if (c.command != std::string("Tick")) {
        EXPECT_NE(e.StateHash(), before);
      }
      // The same command without a caller is trusted.
      Engine trusted;
      Populate(trusted);
      command.caller = nullptr;
      EXPECT_TRUE(trusted.Apply(command).ok()) << c.command;
    }
  }
}

TEST_F(AuthorizationTest, PermissionDeniedNamesTheKeyAndTheCommand) {
  absl::StatusOr<RegionResult> r = Send(
      CallerOf(Role::kPlatform), UpsertRegionCommand{Region{"620000", ""}});
  ASSERT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(r.status().message(), HasSubstr("key 7"));
  EXPECT_THAT(r.status().message(), HasSubstr("UpsertRegion"));
  EXPECT_THAT(r.status().message(), HasSubstr("ADMIN"));
}

TEST_F(AuthorizationTest, AnothersPledgeIsNotFoundInTheWordsOfAnUnknownId) {
  // What an engine says of pledge 2 when there is none.
  Engine without;
  for (const char* code : {kRegion, kCity}) {
    ASSERT_TRUE(
        RunCommand(without, UpsertRegionCommand{Region{code, code}}, kT0).ok());
  }
  ASSERT_TRUE(
      RunCommand(without, PostPledgeCommand{Pledge(kMyBuyer)}, kT0).ok());
  const absl::StatusOr<PledgeResult> unknown =
      Send(without, CallerOf(Role::kBuyer), CancelPledgeCommand{2});
  ASSERT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);

  // Pledge 2 is kOtherBuyer's here.
  const absl::StatusOr<PledgeResult> others =
      Send(CallerOf(Role::kBuyer), CancelPledgeCommand{2});
  EXPECT_EQ(others.status(), unknown.status());
  EXPECT_EQ(others.status().message(), unknown.status().message());
  EXPECT_EQ(engine_.GetPledge(2, engine_.now())->status, OrderStatus::kOpen);
}

TEST_F(AuthorizationTest, AnothersOfferIsPermissionDenied) {
  const uint64_t before = engine_.StateHash();
  const absl::StatusOr<OfferResult> r =
      Send(CallerOf(Role::kSupplier), CancelOfferCommand{2});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(r.status().message(), HasSubstr(kOtherSupplier));
  EXPECT_EQ(engine_.GetOffer(2, engine_.now())->status, OrderStatus::kOpen);
  EXPECT_EQ(engine_.StateHash(), before);
  // An unknown id is NOT_FOUND, as without a caller.
  EXPECT_EQ(
      Send(CallerOf(Role::kSupplier), CancelOfferCommand{9}).status().code(),
      absl::StatusCode::kNotFound);
}

TEST_F(AuthorizationTest, AmendingAnothersOrderIsRefusedAsCancellingIt) {
  const uint64_t before = engine_.StateHash();
  const absl::StatusOr<OfferResult> offer =
      Send(CallerOf(Role::kSupplier), AmendMinLot<AmendOfferCommand>(2));
  EXPECT_EQ(offer.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(offer.status().message(), HasSubstr("amend offer 2"));
  EXPECT_THAT(offer.status().message(), HasSubstr(kOtherSupplier));
  // Another's pledge reads exactly as an unknown one.
  const absl::StatusOr<PledgeResult> others =
      Send(CallerOf(Role::kBuyer), AmendMinLot<AmendPledgeCommand>(2));
  const absl::StatusOr<PledgeResult> cancel =
      Send(CallerOf(Role::kBuyer), CancelPledgeCommand{2});
  EXPECT_EQ(others.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(others.status().message(), cancel.status().message());
  EXPECT_EQ(engine_.StateHash(), before);
}

TEST_F(AuthorizationTest, ARepeatFromACallerWhoMayNotSendItIsRefused) {
  absl::StatusOr<OfferResult> first = Send(
      CallerOf(Role::kAdmin), PostOfferCommand{Offer(kOtherSupplier)}, "r1");
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<PledgeResult> pledge =
      Send(CallerOf(Role::kBuyer), PostPledgeCommand{Pledge(kMyBuyer)}, "r2");
  ASSERT_TRUE(pledge.ok()) << pledge.status();
  const uint64_t before = engine_.StateHash();

  // The same request (request_id and body) from callers that may not send
  // it: refused, not answered, and nothing changes.
  EXPECT_EQ(Send(CallerOf(Role::kSupplier),
                 PostOfferCommand{Offer(kOtherSupplier)}, "r1")
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Send(CallerOf(Role::kObserver),
                 PostOfferCommand{Offer(kOtherSupplier)}, "r1")
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(
      Send(CallerOf(Role::kSupplier), PostPledgeCommand{Pledge(kMyBuyer)}, "r2")
          .status()
          .code(),
      absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(engine_.StateHash(), before);

  // From callers that may send it: the first answer again.
  absl::StatusOr<OfferResult> again = Send(
      CallerOf(Role::kAdmin), PostOfferCommand{Offer(kOtherSupplier)}, "r1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->offer.offer_id, first->offer.offer_id);
  absl::StatusOr<PledgeResult> pledge_again = Send(
      CallerOf(Role::kPlatform), PostPledgeCommand{Pledge(kMyBuyer)}, "r2");
  ASSERT_TRUE(pledge_again.ok()) << pledge_again.status();
  EXPECT_TRUE(pledge_again->replayed);
  EXPECT_EQ(pledge_again->pledge.pledge_id, pledge->pledge.pledge_id);
  EXPECT_EQ(engine_.StateHash(), before);
}

// --- The open-order limit ------------------------------------------------

TEST_F(AuthorizationTest, MaxOpenOrdersRefusesThePostBeyondTheLimit) {
  // kMySupplier has offer 1 open; the limit is 3.
  const auto caller = CallerOf(Role::kSupplier, /*max_open=*/3);
  ASSERT_TRUE(Send(caller, PostOfferCommand{Offer(kMySupplier)}).ok());
  // Two open: the third is allowed.
  absl::StatusOr<OfferResult> third =
      Send(caller, PostOfferCommand{Offer(kMySupplier)});
  ASSERT_TRUE(third.ok()) << third.status();
  // Three open: refused, and nothing changes.
  const uint64_t before = engine_.StateHash();
  absl::StatusOr<OfferResult> fourth =
      Send(caller, PostOfferCommand{Offer(kMySupplier)});
  EXPECT_EQ(fourth.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(fourth.status().message(), HasSubstr("max_open_orders"));
  EXPECT_THAT(fourth.status().message(), HasSubstr(kMySupplier));
  EXPECT_EQ(engine_.StateHash(), before);
  EXPECT_EQ(engine_.offer_count(), 4u);
  // Other parties and the other side are counted apart.
  EXPECT_TRUE(
      Send(CallerOf(Role::kAdmin, 3), PostOfferCommand{Offer(kOtherSupplier)})
          .ok());
  EXPECT_TRUE(
      Send(CallerOf(Role::kPlatform, 3), PostPledgeCommand{Pledge(kMyBuyer)})
          .ok());
  // Without a limit, or without a caller, there is none.
  EXPECT_TRUE(
      Send(CallerOf(Role::kSupplier), PostOfferCommand{Offer(kMySupplier)})
          .ok());
  EXPECT_TRUE(
      RunCommand(engine_, PostOfferCommand{Offer(kMySupplier)}, engine_.now())
          .ok());
  // Offers 1, 3, 4, 6 and 7 are kMySupplier's and open; cancelling three
  // leaves two, and a post is allowed again.
  for (uint64_t id : {1, 3, 6}) {
    ASSERT_TRUE(Send(caller, CancelOfferCommand{id}).ok()) << id;
  }
  EXPECT_EQ(Send(caller, PostOfferCommand{Offer(kMySupplier)}).status().code(),
            absl::StatusCode::kOk);
  EXPECT_EQ(Send(caller, PostOfferCommand{Offer(kMySupplier)}).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST_F(AuthorizationTest, MaxOpenOrdersCountsOnlyRestingPledges) {
  // kMyBuyer has pledge 1 open; the limit is 2.
  const auto caller = CallerOf(Role::kBuyer, /*max_open=*/2);
  PledgeSpec soon = Pledge(kMyBuyer);
  soon.expires_at = kT0 + 1000;
  ASSERT_TRUE(Send(caller, PostPledgeCommand{soon}).ok());
  EXPECT_EQ(Send(caller, PostPledgeCommand{Pledge(kMyBuyer)}).status().code(),
            absl::StatusCode::kResourceExhausted);
  // The short pledge expires: one slot again.
  Tick(engine_, kT0 + 1000);
  EXPECT_TRUE(Send(caller, PostPledgeCommand{Pledge(kMyBuyer)}).ok());
  EXPECT_EQ(Send(caller, PostPledgeCommand{Pledge(kMyBuyer)}).status().code(),
            absl::StatusCode::kResourceExhausted);
  // A pledge filled in full no longer rests either.
  OfferSpec apples = Offer(kOtherSupplier);
  apples.product_code = "fruit.apple";
  apples.quantity_kg = 200;  // fills two of pledges 1, 2 and 4
  ASSERT_TRUE(
      RunCommand(engine_, PostOfferCommand{apples}, engine_.now()).ok());
  EXPECT_TRUE(Send(caller, PostPledgeCommand{Pledge(kMyBuyer)}).ok());
}

// Validate(command, now) answers for the command after a tick to `now`:
// an order that will have expired by then no longer counts.
TEST_F(AuthorizationTest, ValidateAtALaterTimeLeavesOutWhatWillHaveExpired) {
  const auto caller = CallerOf(Role::kSupplier, /*max_open=*/2);
  OfferSpec soon = Offer(kMySupplier);
  soon.expires_at = kT0 + 1000;
  ASSERT_TRUE(Send(caller, PostOfferCommand{soon}).ok());  // two open
  Command next =
      MakeTestCommand(PostOfferCommand{Offer(kMySupplier)}, kT0 + 1000);
  next.caller = caller;
  const absl::Status predicted = engine_.Validate(next, kT0 + 1000);
  const absl::StatusOr<CommandResult> applied = engine_.TickAndApply(next);
  EXPECT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(predicted.code(), applied.status().code()) << predicted;
}

TEST_F(AuthorizationTest, ReplayWithoutCallersReachesTheSameState) {
  // What a server would journal: the commands it accepted, without callers.
  std::vector<Command> accepted;
  auto send = [&](std::shared_ptr<const Caller> caller, auto body) {
    Command command = MakeTestCommand(std::move(body), engine_.now() + 10);
    Tick(engine_, command.now);
    accepted.push_back(MakeCommand(TickCommand{}, command.now));
    command.caller = std::move(caller);
    const bool ok = engine_.Apply(command).ok();
    command.caller = nullptr;
    if (ok) accepted.push_back(command);
    return ok;
  };
  const auto limited = CallerOf(Role::kSupplier, /*max_open=*/2);
  EXPECT_TRUE(send(limited, PostOfferCommand{Offer(kMySupplier)}));
  EXPECT_FALSE(send(limited, PostOfferCommand{Offer(kMySupplier)}));
  EXPECT_TRUE(
      send(CallerOf(Role::kBuyer), PostPledgeCommand{Pledge(kMyBuyer)}));
  EXPECT_FALSE(send(CallerOf(Role::kBuyer), CancelPledgeCommand{2}));
  EXPECT_TRUE(send(CallerOf(Role::kBuyer), CancelPledgeCommand{1}));
  EXPECT_TRUE(send(CallerOf(Role::kAdmin),
                   CreateKey(PrincipalOf(Role::kObserver), Hash('o'))));
  EXPECT_TRUE(send(CallerOf(Role::kAdmin), RevokeKeyCommand{1}));
  EXPECT_FALSE(send(CallerOf(Role::kPlatform), RevokeKeyCommand{2}));
  // After the limit was reached, an admin posts for the supplier anyway
  // (its caller has no limit); the replay has no limits at all.
  EXPECT_TRUE(
      send(CallerOf(Role::kAdmin), PostOfferCommand{Offer(kMySupplier)}));

  Engine replayed;
  Populate(replayed);
  for (const Command& command : accepted) {
    EXPECT_TRUE(replayed.Apply(command).ok()) << CommandName(command.code());
  }
  EXPECT_EQ(replayed.StateHash(), engine_.StateHash());
}

// --- Keys ----------------------------------------------------------------

TEST_F(AuthorizationTest, CreateKeyAnswersTheKeyCreatedAtTheEngineClock) {
  Tick(engine_, kT0 + 500);
  const Principal platform = PrincipalOf(Role::kPlatform);
  absl::StatusOr<KeyResult> r =
      Send(CallerOf(Role::kAdmin), CreateKey(platform, Hash('p'), kLater));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->replayed);
  EXPECT_EQ(r->key.key_id, 2u);  // the fixture made key 1
  EXPECT_EQ(r->key.principal.name, platform.name);
  EXPECT_EQ(r->key.principal.role, platform.role);
  EXPECT_EQ(r->key.principal.supplier_ids, platform.supplier_ids);
  EXPECT_EQ(r->key.principal.buyer_ids, platform.buyer_ids);
  EXPECT_EQ(r->key.secret_sha256, Hash('p'));
  EXPECT_EQ(r->key.created_at, kT0 + 500);
  EXPECT_EQ(r->key.expires_at, kLater);
  EXPECT_EQ(r->key.revoked_at, 0);
  const std::vector<ApiKey> keys = AllKeys(engine_);
  ASSERT_EQ(keys.size(), 2u);
  ExpectSameKey(keys[1], r->key);
  EXPECT_EQ(keys[0].created_at, kT0);
}

TEST_F(AuthorizationTest, ARetriedCreateKeyIsAnsweredWhateverItsHash) {
  // As the server sends it: fingerprinted before the secret is made, so a
  // retry, which carries a new secret, is the same request.
  auto request = [&](Principal principal, std::string hash) {
    Command command = MakeTestCommand(CreateKey(std::move(principal), ""),
                                      engine_.now(), "create");
    std::get<CreateKeyCommand>(command.body).secret_sha256 = std::move(hash);
    command.caller = CallerOf(Role::kAdmin);
    const absl::Status predicted = engine_.Validate(command, engine_.now());
    absl::StatusOr<CommandResult> result = engine_.Apply(command);
    EXPECT_EQ(predicted.code(), result.status().code());
    return ResultAs<CreateKeyCommand>(std::move(result));
  };
  absl::StatusOr<KeyResult> first =
      request(PrincipalOf(Role::kBuyer), Hash('1'));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->replayed);
  absl::StatusOr<KeyResult> retry =
      request(PrincipalOf(Role::kBuyer), Hash('2'));
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->replayed);
  ExpectSameKey(retry->key, first->key);
  EXPECT_EQ(retry->key.secret_sha256, Hash('1'));
  EXPECT_EQ(AllKeys(engine_).size(), 2u);
  // Another principal under the same request_id is another request.
  EXPECT_EQ(request(PrincipalOf(Role::kSupplier), Hash('3')).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(AuthorizationTest, RevokeKeyOnceThenFailedPrecondition) {
  Tick(engine_, kT0 + 900);
  absl::StatusOr<KeyResult> r =
      Send(CallerOf(Role::kAdmin), RevokeKeyCommand{1});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->key.key_id, 1u);
  EXPECT_EQ(r->key.revoked_at, kT0 + 900);
  EXPECT_EQ(r->key.created_at, kT0);
  EXPECT_EQ(AllKeys(engine_)[0].revoked_at, kT0 + 900);

  Tick(engine_, kT0 + 950);
  const uint64_t before = engine_.StateHash();
  absl::StatusOr<KeyResult> twice =
      Send(CallerOf(Role::kAdmin), RevokeKeyCommand{1});
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(twice.status().message(), HasSubstr("key_id"));
  EXPECT_EQ(AllKeys(engine_)[0].revoked_at, kT0 + 900);
  for (uint64_t id : {0, 2, 99}) {
    EXPECT_EQ(
        Send(CallerOf(Role::kAdmin), RevokeKeyCommand{id}).status().code(),
        absl::StatusCode::kNotFound)
        << id;
  }
  EXPECT_EQ(engine_.StateHash(), before);
}

TEST_F(AuthorizationTest, CreateKeyRefusesABadOrReusedHashAndAPastExpiry) {
  Tick(engine_, kT0 + 100);
  const auto admin = CallerOf(Role::kAdmin);
  const Principal buyer = PrincipalOf(Role::kBuyer);
  const uint64_t before = engine_.StateHash();
  struct Bad {
    CreateKeyCommand command;
    const char* field;
  };
  const Bad bad[] = {
      {CreateKey(buyer, Hash('k')), "secret_sha256"},  // key 1's
      {CreateKey(buyer, ""), "secret_sha256"},
      {CreateKey(buyer, std::string(31, 'x')), "secret_sha256"},
      {CreateKey(buyer, std::string(33, 'x')), "secret_sha256"},
      {CreateKey(buyer, Hash('x'), kT0 + 100), "expires_at"},  // now
      {CreateKey(buyer, Hash('x'), kT0 + 99), "expires_at"},
      {CreateKey(buyer, Hash('x'), -1), "expires_at"},
  };
  for (const Bad& b : bad) {
    absl::StatusOr<KeyResult> r = Send(admin, b.command);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << b.field;
    EXPECT_THAT(r.status().message(), HasSubstr(b.field));
  }
  EXPECT_EQ(engine_.StateHash(), before);
  EXPECT_TRUE(Send(admin, CreateKey(buyer, Hash('x'), kT0 + 101)).ok());
  EXPECT_TRUE(Send(admin, CreateKey(buyer, Hash('y'), 0)).ok());
  // A revoked key's hash stays taken.
  ASSERT_TRUE(Send(admin, RevokeKeyCommand{1}).ok());
  EXPECT_EQ(Send(admin, CreateKey(buyer, Hash('k'))).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(AuthorizationTest, CreateKeyChecksThePrincipalsShape) {
  const auto admin = CallerOf(Role::kAdmin);
  auto with_name = [](Principal p, std::string name) {
    p.name = std::move(name);
    return p;
  };
  struct Shape {
    Principal principal;
    const char* field;  // nullptr: valid
  };
  const std::string long_id(65, 'i');
  const Shape shapes[] = {
      {MakePrincipal(Role::kAdmin), nullptr},
      {MakePrincipal(Role::kObserver), nullptr},
      {MakePrincipal(Role::kSupplier, {"s1"}), nullptr},
      {MakePrincipal(Role::kBuyer, {}, {"b1"}), nullptr},
      {MakePrincipal(Role::kPlatform, {"s1"}), nullptr},
      {MakePrincipal(Role::kPlatform, {}, {"b1"}), nullptr},
      {MakePrincipal(Role::kPlatform, {"s1", "s2"}, {"b1"}), nullptr},
      {with_name(MakePrincipal(Role::kAdmin), std::string(64, 'n')), nullptr},
      // The name.
      {with_name(MakePrincipal(Role::kAdmin), ""), "principal.name"},
      {with_name(MakePrincipal(Role::kAdmin), std::string(65, 'n')),
       "principal.name"},
      {with_name(MakePrincipal(Role::kAdmin), "tab\there"), "principal.name"},
      {with_name(MakePrincipal(Role::kAdmin), "del\x7f"), "principal.name"},
      {with_name(MakePrincipal(Role::kAdmin), "nel\xc2\x85"), "principal.name"},
      // The role.
      {MakePrincipal(static_cast<Role>(0)), "principal.role"},
      {MakePrincipal(static_cast<Role>(6)), "principal.role"},
      // The parties a role needs (the whole principal is named).
      {MakePrincipal(Role::kSupplier), "principal: "},
      {MakePrincipal(Role::kSupplier, {"s1", "s2"}), "principal: "},
      {MakePrincipal(Role::kSupplier, {"s1"}, {"b1"}), "principal: "},
      {MakePrincipal(Role::kBuyer), "principal: "},
      {MakePrincipal(Role::kBuyer, {}, {"b1", "b2"}), "principal: "},
      {MakePrincipal(Role::kBuyer, {"s1"}, {"b1"}), "principal: "},
      {MakePrincipal(Role::kPlatform), "principal: "},
      {MakePrincipal(Role::kAdmin, {"s1"}), "principal: "},
      {MakePrincipal(Role::kObserver, {}, {"b1"}), "principal: "},
      // The ids themselves.
      {MakePrincipal(Role::kSupplier, {""}), "principal.supplier_ids"},
      {MakePrincipal(Role::kSupplier, {long_id}), "principal.supplier_ids"},
      {MakePrincipal(Role::kPlatform, {"s1", "s\n"}), "principal.supplier_ids"},
      {MakePrincipal(Role::kPlatform, {"s1", "s1"}), "principal.supplier_ids"},
      {MakePrincipal(Role::kBuyer, {}, {""}), "principal.buyer_ids"},
      {MakePrincipal(Role::kPlatform, {}, {"b1", "b1"}), "principal.buyer_ids"},
      {MakePrincipal(Role::kPlatform, {"s1"}, {long_id}),
       "principal.buyer_ids"},
  };
  char hash = 'A';
  for (const Shape& s : shapes) {
    SCOPED_TRACE(testing::Message()
                 << "role " << s.principal.role << " name '" << s.principal.name
                 << "' " << s.principal.supplier_ids.size() << " suppliers "
                 << s.principal.buyer_ids.size() << " buyers");
    const uint64_t before = engine_.StateHash();
    absl::StatusOr<KeyResult> r =
        Send(admin, CreateKey(s.principal, Hash(hash++)));
    if (s.field == nullptr) {
      EXPECT_TRUE(r.ok()) << r.status();
      continue;
    }
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument)
        << r.status();
    EXPECT_THAT(r.status().message(), HasSubstr(s.field));
    EXPECT_EQ(engine_.StateHash(), before);
  }
}

// --- Keys in the saved state ---------------------------------------------

TEST_F(AuthorizationTest, KeysSurviveSaveAndLoad) {
  const auto admin = CallerOf(Role::kAdmin);
  Tick(engine_, kT0 + 10);
  ASSERT_TRUE(
      Send(admin, CreateKey(PrincipalOf(Role::kPlatform), Hash('p'), kLater))
          .ok());
  Tick(engine_, kT0 + 20);
  ASSERT_TRUE(Send(admin, RevokeKeyCommand{1}, "revoke").ok());
  // Version 3: the fixture's orders carry match deadlines.
  EXPECT_EQ(StateVersion(engine_), 3u);

  Engine loaded;
  ASSERT_TRUE(loaded.LoadState(engine_.SaveState()).ok());
  EXPECT_EQ(loaded.StateHash(), engine_.StateHash());
  EXPECT_TRUE(loaded.CheckInvariants().ok());
  const std::vector<ApiKey> want = AllKeys(engine_), got = AllKeys(loaded);
  ASSERT_EQ(got.size(), 2u);
  ASSERT_EQ(want.size(), 2u);
  for (size_t i = 0; i < got.size(); ++i) ExpectSameKey(got[i], want[i]);

  // The loaded engine goes on as the saved one: the next key_id, taken
  // hashes, revocations and the request memo of a key command.
  for (Engine* e : {&engine_, &loaded}) {
    absl::StatusOr<KeyResult> next =
        Send(*e, admin, CreateKey(PrincipalOf(Role::kBuyer), Hash('q')));
    ASSERT_TRUE(next.ok()) << next.status();
    EXPECT_EQ(next->key.key_id, 3u);
    EXPECT_EQ(Send(*e, admin, CreateKey(PrincipalOf(Role::kBuyer), Hash('p')))
                  .status()
                  .code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(Send(*e, admin, RevokeKeyCommand{1}).status().code(),
              absl::StatusCode::kFailedPrecondition);
    absl::StatusOr<KeyResult> again =
        Send(*e, admin, RevokeKeyCommand{1}, "revoke");
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_TRUE(again->replayed);
    EXPECT_EQ(again->key.revoked_at, kT0 + 20);
  }
  EXPECT_EQ(loaded.StateHash(), engine_.StateHash());
}

// The state of an old journal (orders without match deadlines) and no keys
// is written as version 1, as before keys existed.
TEST(AuthorizationStateTest, AStateWithoutKeysIsStillVersionOne) {
  Engine never, refused;
  for (Engine* e : {&never, &refused}) {
    ASSERT_TRUE(
        RunCommand(*e, UpsertRegionCommand{Region{kRegion, kRegion}}, kT0)
            .ok());
    PostOfferCommand old_offer{Offer(kMySupplier)};
    old_offer.FromLegacy();
    ASSERT_TRUE(RunCommand(*e, old_offer, kT0 + 1).ok());
  }
  // Refused key commands leave no keys behind.
  EXPECT_FALSE(RunCommand(refused,
                          CreateKey(MakePrincipal(Role::kSupplier), Hash('a')),
                          kT0 + 1)
                   .ok());
  EXPECT_FALSE(RunCommand(refused, RevokeKeyCommand{1}, kT0 + 1).ok());
  Command from_buyer = MakeTestCommand(
      CreateKey(PrincipalOf(Role::kAdmin), Hash('b')), refused.now());
  from_buyer.caller = CallerOf(Role::kBuyer);
  EXPECT_EQ(refused.Apply(from_buyer).status().code(),
            absl::StatusCode::kPermissionDenied);

  EXPECT_EQ(StateVersion(never), 1u);
  EXPECT_EQ(StateVersion(refused), 1u);
  EXPECT_EQ(refused.SaveState(), never.SaveState());
  EXPECT_EQ(refused.StateHash(), never.StateHash());

  Engine loaded;
  ASSERT_TRUE(loaded.LoadState(never.SaveState()).ok());
  EXPECT_EQ(loaded.StateHash(), never.StateHash());
  EXPECT_TRUE(AllKeys(loaded).empty());

  // The first key makes it version 2.
  ASSERT_TRUE(RunCommand(never, CreateKey(PrincipalOf(Role::kAdmin), Hash('c')),
                         kT0 + 2)
                  .ok());
  EXPECT_EQ(StateVersion(never), 2u);
}

}  // namespace
}  // namespace duijie
