// The match lifecycle: shipping, acceptance, declines, the deadlines a tick
// enforces, and the kilograms that go back to the pledge. Every figure is
// worked out by hand in the comments.
#include <string>

#include "absl/status/status.h"
#include "engine/command.h"
#include "engine/engine.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine_commands.h"

namespace duijie {
namespace {

using ::testing::HasSubstr;

constexpr Micros kT0 = 1'700'000'000'000'000;
constexpr char kRegion[] = "621202";  // Wudu, Longnan
constexpr char kCity[] = "370200";    // Qingdao

class MatchLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* code : {kRegion, kCity}) {
      ASSERT_TRUE(
          RunCommand(e_, UpsertRegionCommand{Region{code, code}}, kT0).ok());
    }
  }

  // An offer of `kg` pepper at `floor` fen/kg, shipped within `ship_within`
  // (0: the default week).
  static PostOfferCommand Offer(int64_t kg, int64_t floor,
                                Micros ship_within = 0,
                                Micros expires_at = kT0 + 30 * kDay) {
    PostOfferCommand c;
    c.offer.supplier_id = "coop";
    c.offer.region_code = kRegion;
    c.offer.product_code = "spice.pepper";
    c.offer.grade = 1;
    c.offer.quantity_kg = kg;
    c.offer.floor_price_fen_per_kg = floor;
    c.offer.expires_at = expires_at;
    c.offer.ship_within = ship_within;
    return c;
  }
  static PostPledgeCommand Pledge(int64_t kg,
                                  Micros expires_at = kT0 + 30 * kDay,
                                  Micros accept_within = 0,
                                  int64_t budget_fen = 0) {
    PostPledgeCommand c;
    c.pledge.buyer_id = "canteen";
    c.pledge.buyer_city_code = kCity;
    c.pledge.buyer_kind = static_cast<int>(BuyerKind::kCanteen);
    c.pledge.product_code = "spice";
    c.pledge.quantity_kg = kg;
    c.pledge.max_price_fen_per_kg = 100;
    c.pledge.budget_fen = budget_fen;
    c.pledge.expires_at = expires_at;
    c.pledge.accept_within = accept_within;
    return c;
  }

  MatchView Match(uint64_t id) {
    bool more = false;
    std::vector<MatchView> one = e_.ListMatches({}, id - 1, 1, &more);
    EXPECT_EQ(one.size(), 1u);
    return one.empty() ? MatchView() : one[0];
  }
  PledgeView PledgeNow(uint64_t id) { return *e_.GetPledge(id, e_.now()); }
  void ExpectConsistent() {
    absl::Status s = e_.CheckInvariants();
    EXPECT_TRUE(s.ok()) << s;
  }

  Engine e_;
};

TEST_F(MatchLifecycleTest, ShippedThenAcceptedIsDelivered) {
  ASSERT_TRUE(RunCommand(e_, Offer(100, 60), kT0 + 1).ok());
  ASSERT_TRUE(RunCommand(e_, Pledge(100), kT0 + 2).ok());
  const MatchView made = Match(1);
  EXPECT_EQ(made.status, MatchStatus::kMatched);
  EXPECT_EQ(made.ship_by, kT0 + 2 + 7 * kDay);  // the default week

  absl::StatusOr<MatchResult> shipped =
      RunCommand(e_, ShipMatchCommand{1, 0, "waybill SF1"}, kT0 + kDay);
  ASSERT_TRUE(shipped.ok()) << shipped.status();
  EXPECT_EQ(shipped->match.status, MatchStatus::kShipped);
  EXPECT_EQ(shipped->match.shipped_kg, 100);
  EXPECT_EQ(shipped->match.shipped_at, kT0 + kDay);
  EXPECT_EQ(shipped->match.accept_by, kT0 + 8 * kDay);
  EXPECT_EQ(shipped->match.note, "waybill SF1");
  EXPECT_TRUE(shipped->matches.empty());

  absl::StatusOr<MatchResult> accepted =
      RunCommand(e_, AcceptMatchCommand{1, 0}, kT0 + 2 * kDay);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(accepted->match.status, MatchStatus::kDelivered);
  EXPECT_EQ(accepted->match.accepted_kg, 100);
  EXPECT_EQ(accepted->match.delivered_at, kT0 + 2 * kDay);
  EXPECT_EQ(accepted->match.returned_kg, 0);
  EXPECT_EQ(accepted->match.updated_at, kT0 + 2 * kDay);
  ExpectConsistent();
}

TEST_F(MatchLifecycleTest, IllegalTransitionsNameTheStatusAndChangeNothing) {
  ASSERT_TRUE(RunCommand(e_, Offer(100, 60), kT0 + 1).ok());
  ASSERT_TRUE(RunCommand(e_, Pledge(100), kT0 + 2).ok());
  Tick(e_, kT0 + 3);  // TickAndApply's tick stays even for a refusal
  const uint64_t before = e_.StateHash();
  auto refused = [&](auto body, absl::StatusCode code, const char* words) {
    absl::StatusOr<MatchResult> r = RunCommand(e_, body, kT0 + 3);
    EXPECT_EQ(r.status().code(), code) << r.status();
    EXPECT_THAT(r.status().message(), HasSubstr(words));
  };
  refused(AcceptMatchCommand{1, 0}, absl::StatusCode::kFailedPrecondition,
          "match 1 is MATCHED; only a SHIPPED match can be accepted");
  refused(DeclineMatchCommand{1, "late"}, absl::StatusCode::kFailedPrecondition,
          "only a SHIPPED match can be declined");
  refused(ShipMatchCommand{2, 0, ""}, absl::StatusCode::kNotFound,
          "match 2 does not exist");
  refused(ShipMatchCommand{1, 101, ""}, absl::StatusCode::kInvalidArgument,
          "shipped_kg: 101 is out of range [0, 100]");
  refused(ShipMatchCommand{1, -1, ""}, absl::StatusCode::kInvalidArgument,
          "shipped_kg: -1");
  EXPECT_EQ(e_.StateHash(), before);

  ASSERT_TRUE(RunCommand(e_, ShipMatchCommand{1, 0, ""}, kT0 + 4).ok());
  const uint64_t shipped = e_.StateHash();
  refused(ShipMatchCommand{1, 0, ""}, absl::StatusCode::kFailedPrecondition,
          "match 1 is SHIPPED; only a MATCHED match can be shipped");
  refused(DeclineMatchCommand{1, ""}, absl::StatusCode::kInvalidArgument,
          "reason: is empty");
  refused(AcceptMatchCommand{1, 101}, absl::StatusCode::kInvalidArgument,
          "accepted_kg: 101");
  EXPECT_EQ(e_.StateHash(), shipped);

  ASSERT_TRUE(RunCommand(e_, DeclineMatchCommand{1, "spoiled"}, kT0 + 5).ok());
  refused(AcceptMatchCommand{1, 0}, absl::StatusCode::kFailedPrecondition,
          "match 1 is DECLINED");
  ExpectConsistent();
}

TEST_F(MatchLifecycleTest, NotShippedByShipByLapsesExactlyAtTheBoundary) {
  ASSERT_TRUE(RunCommand(e_, Offer(100, 60, /*ship_within=*/kHour), kT0).ok());
  ASSERT_TRUE(RunCommand(e_, Pledge(100), kT0).ok());
  EXPECT_EQ(Match(1).ship_by, kT0 + kHour);

  // One microsecond before: still MATCHED, and it could ship.
  EXPECT_EQ(Tick(e_, kT0 + kHour - 1).lapsed, 0u);
  EXPECT_EQ(Match(1).status, MatchStatus::kMatched);
  // Validate ahead of the tick already sees it LAPSED at ship_by.
  EXPECT_EQ(
      e_.Validate(MakeTestCommand(ShipMatchCommand{1, 0, ""}, kT0 + kHour),
                  kT0 + kHour)
          .code(),
      absl::StatusCode::kFailedPrecondition);
  // At ship_by (exclusive, like expires_at) it lapses.
  const TickResult tick = Tick(e_, kT0 + kHour);
  EXPECT_EQ(tick.lapsed, 1u);
  const MatchView lapsed = Match(1);
  EXPECT_EQ(lapsed.status, MatchStatus::kLapsed);
  EXPECT_EQ(lapsed.updated_at, kT0 + kHour);
  absl::StatusOr<MatchResult> late =
      RunCommand(e_, ShipMatchCommand{1, 0, ""}, kT0 + kHour);
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(late.status().message(), HasSubstr("is LAPSED"));
  ExpectConsistent();
}

TEST_F(MatchLifecycleTest, LapsedKgReopenAFilledPledgeAndMatchAgainAtOnce) {
  // Offer 1: 100 kg at 60, to ship within an hour. The pledge (100 kg)
  // takes it all: FILLED, 6,000 fen spent.
  ASSERT_TRUE(RunCommand(e_, Offer(100, 60, kHour), kT0).ok());
  ASSERT_TRUE(RunCommand(e_, Pledge(100), kT0).ok());
  ASSERT_EQ(PledgeNow(1).status, OrderStatus::kFilled);
  // Offer 2: 80 kg at 70 rests (nobody wants it now).
  ASSERT_TRUE(RunCommand(e_, Offer(80, 70), kT0 + 1).ok());

  // Match 1 lapses: its 100 kg go back to the pledge, which reopens and
  // takes offer 2's 80 kg at once (match 2, at 70: 5,600 fen). Spent:
  // 6,000 - 6,000 + 5,600 = 5,600; 20 kg left open.
  const TickResult tick = Tick(e_, kT0 + kHour);
  EXPECT_EQ(tick.lapsed, 1u);
  EXPECT_EQ(Match(1).status, MatchStatus::kLapsed);
  EXPECT_EQ(Match(1).returned_kg, 100);
  const MatchView again = Match(2);
  EXPECT_EQ(again.offer_id, 2u);
  EXPECT_EQ(again.pledge_id, 1u);
  EXPECT_EQ(again.quantity_kg, 80);
  EXPECT_EQ(again.price_fen_per_kg, 70);
  EXPECT_EQ(again.matched_at, kT0 + kHour);
  EXPECT_EQ(again.ship_by, kT0 + kHour + 7 * kDay);
  const PledgeView pledge = PledgeNow(1);
  EXPECT_EQ(pledge.status, OrderStatus::kOpen);
  EXPECT_EQ(pledge.remaining_kg, 20);
  EXPECT_EQ(pledge.spent_fen, 5600);
  // The kg never go back to the offer: it stays FILLED.
  absl::StatusOr<OfferView> offer = e_.GetOffer(1, e_.now());
  EXPECT_EQ(offer->status, OrderStatus::kFilled);
  EXPECT_EQ(offer->remaining_kg, 0);
  ExpectConsistent();

  // The reopened pledge rests: a new offer fills its last 20 kg.
  absl::StatusOr<OfferResult> third =
      RunCommand(e_, Offer(50, 65), kT0 + kHour + 1);
  ASSERT_EQ(third->matches.size(), 1u);
  EXPECT_EQ(third->matches[0].quantity_kg, 20);
  EXPECT_EQ(PledgeNow(1).status, OrderStatus::kFilled);
  EXPECT_EQ(PledgeNow(1).spent_fen, 5600 + 20 * 100);  // resting price: 100
  ExpectConsistent();
}

TEST_F(MatchLifecycleTest, KgGoBackOnlyToAPledgeThatCanStillTakeThem) {
  // Pledge 1 expires before the match lapses; pledge 2 is cancelled.
  ASSERT_TRUE(RunCommand(e_, Offer(100, 60, 2 * kHour), kT0).ok());
  ASSERT_TRUE(RunCommand(e_, Pledge(60, /*expires_at=*/kT0 + kHour), kT0).ok());
  ASSERT_TRUE(RunCommand(e_, Pledge(80), kT0).ok());  // takes the other 40
  ASSERT_TRUE(RunCommand(e_, CancelPledgeCommand{2}, kT0 + 1).ok());
  ASSERT_TRUE(RunCommand(e_, Offer(500, 50), kT0 + 2).ok());  // would match

  const TickResult tick = Tick(e_, kT0 + 2 * kHour);
  EXPECT_EQ(tick.lapsed, 2u);
  EXPECT_EQ(Match(1).returned_kg, 0);  // pledge 1 EXPIRED
  EXPECT_EQ(Match(2).returned_kg, 0);  // pledge 2 CANCELLED
  EXPECT_EQ(PledgeNow(1).status, OrderStatus::kFilled);
  EXPECT_EQ(PledgeNow(2).status, OrderStatus::kCancelled);
  EXPECT_EQ(e_.last_match_id(), 2u);  // nothing matched again
  ExpectConsistent();
}

TEST_F(MatchLifecycleTest, ShortShipmentAndShortAcceptanceGiveTheRestBack) {
  // The pledge has a budget of 9,000 fen: 100 kg at 60 spends 6,000.
  ASSERT_TRUE(RunCommand(e_, Offer(100, 60), kT0).ok());
  ASSERT_TRUE(
      RunCommand(e_, Pledge(100, kT0 + 30 * kDay, kDay, /*budget_fen=*/9000),
                 kT0)
          .ok());
  // 70 of 100 shipped: 30 kg (1,800 fen) back at once; nothing to match.
  absl::StatusOr<MatchResult> shipped =
      RunCommand(e_, ShipMatchCommand{1, 70, ""}, kT0 + 10);
  ASSERT_TRUE(shipped.ok());
  EXPECT_EQ(shipped->match.shipped_kg, 70);
  EXPECT_EQ(shipped->match.returned_kg, 30);
  EXPECT_EQ(shipped->match.accept_by, kT0 + 10 + kDay);
  EXPECT_EQ(PledgeNow(1).remaining_kg, 30);
  EXPECT_EQ(PledgeNow(1).spent_fen, 4200);
  // The reopened pledge rests; a new offer takes 3 kg at its price (100).
  ASSERT_TRUE(RunCommand(e_, Offer(3, 55), kT0 + 11).ok());
  EXPECT_EQ(PledgeNow(1).remaining_kg, 27);
  // 65 of 70 accepted: 5 kg (300 fen) more back; no offer left to take them.
  absl::StatusOr<MatchResult> accepted =
      RunCommand(e_, AcceptMatchCommand{1, 65}, kT0 + 20);
  ASSERT_TRUE(accepted.ok());
  EXPECT_EQ(accepted->match.accepted_kg, 65);
  EXPECT_EQ(accepted->match.returned_kg, 35);
  EXPECT_TRUE(accepted->matches.empty());  // no offer left to take them
  EXPECT_EQ(PledgeNow(1).remaining_kg, 32);
  EXPECT_EQ(PledgeNow(1).spent_fen, 65 * 60 + 3 * 100);
  ExpectConsistent();
}

TEST_F(MatchLifecycleTest, DeclinedKgAndBudgetGoBack) {
  ASSERT_TRUE(RunCommand(e_, Offer(100, 60), kT0).ok());
  ASSERT_TRUE(RunCommand(e_, Pledge(100, kT0 + 30 * kDay, 0, 6000), kT0).ok());
  ASSERT_EQ(PledgeNow(1).status, OrderStatus::kFilled);  // budget spent
  ASSERT_TRUE(RunCommand(e_, ShipMatchCommand{1, 0, ""}, kT0 + 1).ok());
  absl::StatusOr<MatchResult> declined =
      RunCommand(e_, DeclineMatchCommand{1, "spoiled on the way"}, kT0 + 2);
  ASSERT_TRUE(declined.ok());
  EXPECT_EQ(declined->match.status, MatchStatus::kDeclined);
  EXPECT_EQ(declined->match.reason, "spoiled on the way");
  EXPECT_EQ(declined->match.returned_kg, 100);
  EXPECT_EQ(PledgeNow(1).status, OrderStatus::kOpen);
  EXPECT_EQ(PledgeNow(1).spent_fen, 0);
  EXPECT_EQ(PledgeNow(1).remaining_kg, 100);
  ExpectConsistent();
}

TEST_F(MatchLifecycleTest, NotActedOnByAcceptByIsDeliveredInFull) {
  ASSERT_TRUE(RunCommand(e_, Offer(100, 60), kT0).ok());
  ASSERT_TRUE(
      RunCommand(e_, Pledge(100, kT0 + 30 * kDay, 2 * kHour), kT0).ok());
  ASSERT_TRUE(RunCommand(e_, ShipMatchCommand{1, 90, ""}, kT0 + kHour).ok());
  EXPECT_EQ(Match(1).accept_by, kT0 + 3 * kHour);
  EXPECT_EQ(Tick(e_, kT0 + 3 * kHour - 1).delivered, 0u);
  const TickResult tick = Tick(e_, kT0 + 3 * kHour);
  EXPECT_EQ(tick.delivered, 1u);
  const MatchView m = Match(1);
  EXPECT_EQ(m.status, MatchStatus::kDelivered);
  EXPECT_EQ(m.accepted_kg, 90);
  EXPECT_EQ(m.delivered_at, kT0 + 3 * kHour);
  EXPECT_EQ(m.returned_kg, 10);  // the short shipment, given back earlier
  absl::StatusOr<MatchResult> late =
      RunCommand(e_, DeclineMatchCommand{1, "late"}, kT0 + 3 * kHour);
  EXPECT_THAT(late.status().message(), HasSubstr("is DELIVERED"));
  ExpectConsistent();
}

TEST_F(MatchLifecycleTest, ARepeatAnswersTheMatchAsItStandsNow) {
  ASSERT_TRUE(RunCommand(e_, Offer(100, 60), kT0).ok());
  ASSERT_TRUE(RunCommand(e_, Pledge(100), kT0).ok());
  ASSERT_TRUE(
      RunCommand(e_, ShipMatchCommand{1, 0, ""}, kT0 + 1, "ship-1").ok());
  ASSERT_TRUE(RunCommand(e_, AcceptMatchCommand{1, 0}, kT0 + 2).ok());
  Tick(e_, kT0 + 3);
  const uint64_t before = e_.StateHash();
  absl::StatusOr<MatchResult> again =
      RunCommand(e_, ShipMatchCommand{1, 0, ""}, kT0 + 3, "ship-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->match.status, MatchStatus::kDelivered);
  EXPECT_EQ(e_.StateHash(), before);
}

TEST_F(MatchLifecycleTest, SavedAndLoadedEngineKeepsTheDeadlines) {
  ASSERT_TRUE(RunCommand(e_, Offer(100, 60, kHour), kT0).ok());
  ASSERT_TRUE(RunCommand(e_, Pledge(100, kT0 + 30 * kDay, kHour), kT0).ok());
  ASSERT_TRUE(RunCommand(e_, Offer(100, 60, kHour), kT0).ok());
  ASSERT_TRUE(RunCommand(e_, Pledge(100, kT0 + 30 * kDay, kHour), kT0).ok());
  ASSERT_TRUE(RunCommand(e_, ShipMatchCommand{2, 0, "x"}, kT0 + 1).ok());
  ASSERT_TRUE(RunCommand(e_, Offer(70, 80), kT0 + 2).ok());
  Engine loaded;
  ASSERT_TRUE(loaded.LoadState(e_.SaveState()).ok());
  EXPECT_EQ(loaded.StateHash(), e_.StateHash());
  // Both lapse match 1 (its kg reopen pledge 1, which takes offer 3) and
  // deliver match 2, to the same state.
  for (Engine* e : {&e_, &loaded}) {
    const TickResult t = Tick(*e, kT0 + 2 * kHour);
    EXPECT_EQ(t.lapsed, 1u);
    EXPECT_EQ(t.delivered, 1u);
    EXPECT_EQ(e->last_match_id(), 3u);
    EXPECT_TRUE(e->CheckInvariants().ok());
  }
  EXPECT_EQ(loaded.StateHash(), e_.StateHash());
}

TEST_F(MatchLifecycleTest, OrdersOfOldJournalsHaveNoDeadlines) {
  PostOfferCommand old_offer = Offer(100, 60);
  old_offer.FromLegacy();
  PostPledgeCommand old_pledge = Pledge(100);
  old_pledge.FromLegacy();
  ASSERT_TRUE(RunCommand(e_, old_offer, kT0).ok());
  ASSERT_TRUE(RunCommand(e_, old_pledge, kT0).ok());
  EXPECT_EQ(Match(1).ship_by, 0);
  ExpectConsistent();
  EXPECT_EQ(Tick(e_, kT0 + 400 * kDay).lapsed, 0u);
  EXPECT_EQ(Match(1).status, MatchStatus::kMatched);
  // Shipped by hand, it has no accept_by either.
  ASSERT_TRUE(
      RunCommand(e_, ShipMatchCommand{1, 0, ""}, kT0 + 400 * kDay).ok());
  EXPECT_EQ(Match(1).accept_by, 0);
  EXPECT_EQ(Tick(e_, kT0 + 800 * kDay).delivered, 0u);
  // And the old layout round-trips: code 4, no ship_within field.
  EXPECT_EQ(CodeOf(CommandBody(old_offer)), CommandCode::kPostOffer);
  EXPECT_EQ(CodeOf(CommandBody(Offer(1, 1))),
            CommandCode::kPostOfferWithDeadlines);
}

TEST_F(MatchLifecycleTest, DeadlinesOutOfRangeAreRefused) {
  absl::StatusOr<OfferResult> r =
      RunCommand(e_, Offer(100, 60, /*ship_within=*/kHour - 1), kT0);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("offer.ship_within"));
  absl::StatusOr<PledgeResult> p =
      RunCommand(e_, Pledge(100, kT0 + kDay, 367 * kDay), kT0);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr("pledge.accept_within"));
}

// The supplier's side ships, the buyer's side accepts or declines; a
// caller of neither side is told the match does not exist.
TEST_F(MatchLifecycleTest, OnlyEachSideMayActOnAMatch) {
  ASSERT_TRUE(RunCommand(e_, Offer(100, 60), kT0).ok());
  ASSERT_TRUE(RunCommand(e_, Pledge(100), kT0).ok());
  auto as = [](Role role, std::vector<std::string> suppliers,
               std::vector<std::string> buyers) {
    auto caller = std::make_shared<Caller>();
    caller->principal.role = static_cast<int>(role);
    caller->principal.name = "k";
    caller->principal.supplier_ids = std::move(suppliers);
    caller->principal.buyer_ids = std::move(buyers);
    return std::shared_ptr<const Caller>(std::move(caller));
  };
  auto send = [&](std::shared_ptr<const Caller> caller, auto body) {
    Command command = MakeTestCommand(std::move(body), e_.now());
    command.caller = std::move(caller);
    const absl::Status predicted = e_.Validate(command, e_.now());
    absl::StatusOr<CommandResult> result = e_.Apply(command);
    EXPECT_EQ(predicted.code(), result.status().code());
    return result.status();
  };
  const auto supplier = as(Role::kSupplier, {"coop"}, {});
  const auto buyer = as(Role::kBuyer, {}, {"canteen"});
  const auto stranger = as(Role::kPlatform, {"other-coop"}, {"other"});
  const auto observer = as(Role::kObserver, {}, {});
  const uint64_t before = e_.StateHash();
  absl::Status s = send(buyer, ShipMatchCommand{1, 0, ""});
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("only its supplier may"));
  EXPECT_EQ(send(stranger, ShipMatchCommand{1, 0, ""}).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(send(observer, ShipMatchCommand{1, 0, ""}).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(e_.StateHash(), before);
  EXPECT_TRUE(send(supplier, ShipMatchCommand{1, 0, ""}).ok());
  EXPECT_EQ(send(supplier, AcceptMatchCommand{1, 0}).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(send(stranger, DeclineMatchCommand{1, "no"}).code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(send(buyer, AcceptMatchCommand{1, 0}).ok());
}

}  // namespace
}  // namespace duijie
