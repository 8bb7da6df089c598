// The engine's log of match events: one per new match and one per status
// change, in the order the engine made them, each read with its match as of
// that event; saved, loaded and hashed with the state. Every figure is
// worked out by hand in the comments.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/command.h"
#include "engine/engine.h"
#include "engine/violations.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine_commands.h"

namespace duijie {
namespace {

using ::testing::ElementsAre;

constexpr Micros kT0 = 1'700'000'000'000'000;
constexpr char kRegion[] = "621202";  // Wudu, Longnan
constexpr char kCity[] = "370200";    // Qingdao

PostOfferCommand Offer(int64_t kg, int64_t floor) {
  PostOfferCommand c;
  c.offer.supplier_id = "coop";
  c.offer.region_code = kRegion;
  c.offer.product_code = "spice.pepper";
  c.offer.grade = 1;
  c.offer.quantity_kg = kg;
  c.offer.floor_price_fen_per_kg = floor;
  c.offer.expires_at = kT0 + 30 * kDay;
  return c;
}

PostPledgeCommand Pledge(int64_t kg) {
  PostPledgeCommand c;
  c.pledge.buyer_id = "canteen";
  c.pledge.buyer_city_code = kCity;
  c.pledge.buyer_kind = static_cast<int>(BuyerKind::kCanteen);
  c.pledge.product_code = "spice";
  c.pledge.quantity_kg = kg;
  c.pledge.max_price_fen_per_kg = 100;
  c.pledge.expires_at = kT0 + 30 * kDay;
  return c;
}

// "event kind #match STATUS +time returned": time in hours after kT0.
std::string Line(const MatchEventView& e) {
  return absl::StrCat(
      e.event_id, e.kind == MatchEventKind::kNewMatch ? " new #" : " change #",
      e.match.match_id, " ", MatchStatusName(e.match.status), " +",
      (e.match.updated_at - kT0) / kHour, "h returned ", e.match.returned_kg);
}

std::vector<std::string> Lines(const Engine& e, const MatchFilter& filter = {},
                               uint64_t after = 0, int limit = 100,
                               bool* more = nullptr) {
  bool ignored = false;
  std::vector<std::string> out;
  for (const MatchEventView& v :
       e.ListMatchEvents(filter, after, limit, more ? more : &ignored)) {
    out.push_back(Line(v));
  }
  return out;
}

MatchEventView Event(const Engine& e, uint64_t id) {
  bool more = false;
  std::vector<MatchEventView> one = e.ListMatchEvents({}, id - 1, 1, &more);
  EXPECT_EQ(one.size(), 1u);
  return one.empty() ? MatchEventView() : one[0];
}

class MatchEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* code : {kRegion, kCity}) {
      ASSERT_TRUE(
          RunCommand(e_, UpsertRegionCommand{Region{code, code}}, kT0).ok());
    }
  }

  // Every kind of step, with kg going back and matching again:
  //   offer 1: 100 kg at 60; pledge 1: 100 kg (max 100) at +0h: match 1
  //     (100 kg at 60, ship_by +168h)                               event 1
  //   offer 2: 80 kg at 70 rests.
  //   +24h ship match 1, 60 kg: 40 kg back to pledge 1               event 2
  //     which takes 40 of offer 2: match 2 (ship_by +192h)          event 3
  //   +48h accept 50 kg of match 1: 10 kg back                       event 4
  //     which take 10 of offer 2: match 3 (ship_by +216h)           event 5
  //   +72h ship match 2 in full (accept_by +240h)                   event 6
  //   +96h decline match 2: 40 kg back                               event 7
  //     which take offer 2's last 30: match 4 (ship_by +264h)       event 8
  //   +120h ship match 3 in full (accept_by +288h)                  event 9
  //   tick +264h: match 4 lapses, 30 kg back (pledge open)          event 10
  //   tick +288h: match 3 is delivered on its own, 10 kg            event 11
  void MakeEveryStep() {
    ASSERT_TRUE(RunCommand(e_, Offer(100, 60), kT0).ok());
    ASSERT_TRUE(RunCommand(e_, Pledge(100), kT0).ok());
    ASSERT_TRUE(RunCommand(e_, Offer(80, 70), kT0).ok());
    ASSERT_TRUE(
        RunCommand(e_, ShipMatchCommand{1, 60, "waybill SF1"}, kT0 + kDay)
            .ok());
    ASSERT_TRUE(RunCommand(e_, AcceptMatchCommand{1, 50}, kT0 + 2 * kDay).ok());
    ASSERT_TRUE(
        RunCommand(e_, ShipMatchCommand{2, 0, ""}, kT0 + 3 * kDay).ok());
    ASSERT_TRUE(
        RunCommand(e_, DeclineMatchCommand{2, "spoiled"}, kT0 + 4 * kDay).ok());
    ASSERT_TRUE(
        RunCommand(e_, ShipMatchCommand{3, 0, ""}, kT0 + 5 * kDay).ok());
    ASSERT_EQ(Tick(e_, kT0 + 11 * kDay).lapsed, 1u);
    ASSERT_EQ(Tick(e_, kT0 + 12 * kDay).delivered, 1u);
  }

  Engine e_;
};

TEST_F(MatchEventsTest, EveryNewMatchAndStatusChangeIsLoggedInOrder) {
  EXPECT_EQ(e_.last_event_id(), 0u);
  MakeEveryStep();
  EXPECT_EQ(e_.last_match_id(), 4u);
  EXPECT_EQ(e_.last_event_id(), 11u);
  EXPECT_THAT(Lines(e_),
              ElementsAre("1 new #1 MATCHED +0h returned 0",
                          "2 change #1 SHIPPED +24h returned 40",
                          "3 new #2 MATCHED +24h returned 0",
                          "4 change #1 DELIVERED +48h returned 50",
                          "5 new #3 MATCHED +48h returned 0",
                          "6 change #2 SHIPPED +72h returned 0",
                          "7 change #2 DECLINED +96h returned 40",
                          "8 new #4 MATCHED +96h returned 0",
                          "9 change #3 SHIPPED +120h returned 0",
                          "10 change #4 LAPSED +264h returned 30",
                          "11 change #3 DELIVERED +288h returned 0"));
  EXPECT_TRUE(e_.CheckInvariants().ok()) << e_.CheckInvariants();
}

TEST_F(MatchEventsTest, RefusedShipNamesEveryBadFieldInOrderAndChangesNothing) {
  ASSERT_TRUE(RunCommand(e_, Offer(100, 60), kT0).ok());
  ASSERT_TRUE(RunCommand(e_, Pledge(100), kT0).ok());
  const uint64_t before = e_.StateHash();
  const std::string long_note(257, 'n');
  absl::Status s =
      RunCommand(e_, ShipMatchCommand{1, 101, long_note}, kT0).status();
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  // The message opens as it did when only the first was reported.
  EXPECT_THAT(std::string(s.message()),
              ::testing::StartsWith(
                  "shipped_kg: 101 is out of range [0, 100] (0: all) (and 1 "
                  "more: note)"));
  std::vector<std::string> fields;
  for (const FieldViolation& v : ViolationsOf(s)) fields.push_back(v.field);
  EXPECT_THAT(fields, ElementsAre("shipped_kg", "note"));

  // A match that does not exist is NOT_FOUND alone, its kg never read.
  s = RunCommand(e_, ShipMatchCommand{9, 101, long_note}, kT0).status();
  ASSERT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "match_id: match 9 does not exist");
  EXPECT_THAT(ViolationsOf(s), ::testing::IsEmpty());

  EXPECT_EQ(e_.StateHash(), before);
  EXPECT_EQ(e_.last_event_id(), 1u);
}

TEST_F(MatchEventsTest, EachEventShowsItsMatchAsOfThatEvent) {
  MakeEveryStep();
  // Match 1 is DELIVERED now; its first two events show it as it was.
  const MatchEventView made = Event(e_, 1);
  EXPECT_EQ(made.kind, MatchEventKind::kNewMatch);
  EXPECT_EQ(made.match.match_id, 1u);
  EXPECT_EQ(made.match.status, MatchStatus::kMatched);
  EXPECT_EQ(made.match.quantity_kg, 100);
  EXPECT_EQ(made.match.amount_fen, 6000);
  EXPECT_EQ(made.match.matched_at, kT0);
  EXPECT_EQ(made.match.ship_by, kT0 + 7 * kDay);  // set when made
  EXPECT_EQ(made.match.shipped_at, 0);
  EXPECT_EQ(made.match.shipped_kg, 0);
  EXPECT_EQ(made.match.accept_by, 0);
  EXPECT_EQ(made.match.note, "");
  EXPECT_EQ(made.match.delivered_at, 0);
  EXPECT_EQ(made.match.accepted_kg, 0);
  EXPECT_EQ(made.match.returned_kg, 0);
  EXPECT_EQ(made.match.updated_at, kT0);

  const MatchEventView shipped = Event(e_, 2);
  EXPECT_EQ(shipped.kind, MatchEventKind::kStatusChanged);
  EXPECT_EQ(shipped.match.status, MatchStatus::kShipped);
  EXPECT_EQ(shipped.match.shipped_at, kT0 + kDay);
  EXPECT_EQ(shipped.match.shipped_kg, 60);
  EXPECT_EQ(shipped.match.accept_by, kT0 + 8 * kDay);
  EXPECT_EQ(shipped.match.note, "waybill SF1");
  EXPECT_EQ(shipped.match.delivered_at, 0);  // delivered later
  EXPECT_EQ(shipped.match.accepted_kg, 0);
  EXPECT_EQ(shipped.match.returned_kg, 40);  // 100 - 60, not yet 50
  EXPECT_EQ(shipped.match.updated_at, kT0 + kDay);

  const MatchEventView delivered = Event(e_, 4);
  EXPECT_EQ(delivered.match.status, MatchStatus::kDelivered);
  EXPECT_EQ(delivered.match.shipped_kg, 60);
  EXPECT_EQ(delivered.match.accepted_kg, 50);
  EXPECT_EQ(delivered.match.delivered_at, kT0 + 2 * kDay);
  EXPECT_EQ(delivered.match.returned_kg, 50);  // 40 + 10
  EXPECT_EQ(delivered.match.updated_at, kT0 + 2 * kDay);

  // Match 2: shipped in full (nothing back), then declined (40 back).
  const MatchEventView shipped2 = Event(e_, 6);
  EXPECT_EQ(shipped2.match.shipped_kg, 40);
  EXPECT_EQ(shipped2.match.reason, "");  // declined later
  EXPECT_EQ(shipped2.match.returned_kg, 0);
  const MatchEventView declined = Event(e_, 7);
  EXPECT_EQ(declined.match.status, MatchStatus::kDeclined);
  EXPECT_EQ(declined.match.reason, "spoiled");
  EXPECT_EQ(declined.match.returned_kg, 40);
  EXPECT_EQ(declined.match.updated_at, kT0 + 4 * kDay);

  // The lapse and the delivery at accept_by happen at the tick's time.
  const MatchEventView lapsed = Event(e_, 10);
  EXPECT_EQ(lapsed.match.match_id, 4u);
  EXPECT_EQ(lapsed.match.quantity_kg, 30);
  EXPECT_EQ(lapsed.match.status, MatchStatus::kLapsed);
  EXPECT_EQ(lapsed.match.returned_kg, 30);
  EXPECT_EQ(lapsed.match.updated_at, kT0 + 11 * kDay);
  const MatchEventView auto_delivered = Event(e_, 11);
  EXPECT_EQ(auto_delivered.match.match_id, 3u);
  EXPECT_EQ(auto_delivered.match.accepted_kg, 10);
  EXPECT_EQ(auto_delivered.match.delivered_at, kT0 + 12 * kDay);
  // Its shipment event still shows no delivery.
  EXPECT_EQ(Event(e_, 9).match.delivered_at, 0);
  EXPECT_EQ(Event(e_, 9).match.accept_by, kT0 + 12 * kDay);
}

TEST_F(MatchEventsTest, PagesFiltersAndTheEventThatMadeAMatch) {
  MakeEveryStep();
  bool more = false;
  EXPECT_THAT(Lines(e_, {}, 4, 2, &more),
              ElementsAre("5 new #3 MATCHED +48h returned 0",
                          "6 change #2 SHIPPED +72h returned 0"));
  EXPECT_TRUE(more);
  EXPECT_THAT(Lines(e_, {}, 10, 2, &more),
              ElementsAre("11 change #3 DELIVERED +288h returned 0"));
  EXPECT_FALSE(more);
  EXPECT_TRUE(Lines(e_, {}, 11).empty());
  EXPECT_TRUE(Lines(e_, {}, 99).empty());

  // By match: offer 1 made only match 1.
  MatchFilter offer1;
  offer1.offer_id = 1;
  EXPECT_THAT(Lines(e_, offer1),
              ElementsAre("1 new #1 MATCHED +0h returned 0",
                          "2 change #1 SHIPPED +24h returned 40",
                          "4 change #1 DELIVERED +48h returned 50"));
  // A status filter is on the event's status, not the match's now.
  MatchFilter shipped;
  shipped.status = static_cast<int>(MatchStatus::kShipped);
  EXPECT_THAT(Lines(e_, shipped),
              ElementsAre("2 change #1 SHIPPED +24h returned 40",
                          "6 change #2 SHIPPED +72h returned 0",
                          "9 change #3 SHIPPED +120h returned 0"));

  EXPECT_EQ(e_.NewMatchEventId(1), 1u);
  EXPECT_EQ(e_.NewMatchEventId(2), 3u);
  EXPECT_EQ(e_.NewMatchEventId(3), 5u);
  EXPECT_EQ(e_.NewMatchEventId(4), 8u);
  EXPECT_EQ(e_.NewMatchEventId(5), 0u);
  EXPECT_EQ(e_.NewMatchEventId(0), 0u);
}

TEST_F(MatchEventsTest, TheLogIsSavedLoadedAndHashed) {
  MakeEveryStep();
  const std::string saved = e_.SaveState();
  Engine loaded;
  ASSERT_TRUE(loaded.LoadState(saved).ok());
  EXPECT_EQ(loaded.SaveState(), saved);
  EXPECT_EQ(loaded.StateHash(), e_.StateHash());
  EXPECT_EQ(loaded.last_event_id(), 11u);
  EXPECT_EQ(Lines(loaded), Lines(e_));
  EXPECT_EQ(Event(loaded, 2).match.returned_kg, 40);
  EXPECT_TRUE(loaded.CheckInvariants().ok()) << loaded.CheckInvariants();

  // The log is part of the hash: the same records reached in another
  // order (match 1 shipped after match 2 was made) hash differently.
  Engine a, b;
  for (Engine* e : {&a, &b}) {
    for (const char* code : {kRegion, kCity}) {
      ASSERT_TRUE(
          RunCommand(*e, UpsertRegionCommand{Region{code, code}}, kT0).ok());
    }
    ASSERT_TRUE(RunCommand(*e, Offer(200, 60), kT0).ok());
    ASSERT_TRUE(RunCommand(*e, Pledge(100), kT0).ok());
  }
  ASSERT_TRUE(RunCommand(a, ShipMatchCommand{1, 0, ""}, kT0).ok());
  ASSERT_TRUE(RunCommand(a, Pledge(100), kT0).ok());
  ASSERT_TRUE(RunCommand(b, Pledge(100), kT0).ok());
  ASSERT_TRUE(RunCommand(b, ShipMatchCommand{1, 0, ""}, kT0).ok());
  EXPECT_THAT(Lines(a), ElementsAre("1 new #1 MATCHED +0h returned 0",
                                    "2 change #1 SHIPPED +0h returned 0",
                                    "3 new #2 MATCHED +0h returned 0"));
  EXPECT_THAT(Lines(b), ElementsAre("1 new #1 MATCHED +0h returned 0",
                                    "2 new #2 MATCHED +0h returned 0",
                                    "3 change #1 SHIPPED +0h returned 0"));
  EXPECT_NE(a.StateHash(), b.StateHash());
}

TEST_F(MatchEventsTest, ADamagedLogIsRefusedOnLoad) {
  MakeEveryStep();
  std::string saved = e_.SaveState();
  // The log is last: 11 events of 18 bytes (match id, time, status, flag).
  const size_t status_of_event_2 = saved.size() - 11 * 18 + 18 + 16;
  ASSERT_EQ(saved[status_of_event_2], 2);  // SHIPPED
  saved[status_of_event_2] = 5;            // LAPSED: the records disagree
  Engine loaded;
  absl::Status s = loaded.LoadState(saved);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(s.message(), ::testing::HasSubstr("match event"));
}

TEST_F(MatchEventsTest, StatesWithoutLifecycleKeepTheirLayoutAndGetALog) {
  // Orders of old journals: no deadlines, so the state is written as
  // version 1 with no log, and the log is one new match per match.
  PostOfferCommand old_offer = Offer(100, 60);
  old_offer.FromLegacy();
  PostPledgeCommand old_pledge = Pledge(40);
  old_pledge.FromLegacy();
  ASSERT_TRUE(RunCommand(e_, old_offer, kT0).ok());
  ASSERT_TRUE(RunCommand(e_, old_pledge, kT0 + kHour).ok());
  ASSERT_TRUE(RunCommand(e_, old_pledge, kT0 + 2 * kHour).ok());
  const std::string saved = e_.SaveState();
  // "DUIJIE-STATE" length-prefixed, then the version.
  const size_t version_at = saved.find("DUIJIE-STATE") + 12;
  EXPECT_EQ(saved[version_at], 1);
  Engine loaded;
  ASSERT_TRUE(loaded.LoadState(saved).ok());
  EXPECT_EQ(loaded.SaveState(), saved);
  EXPECT_THAT(Lines(loaded), ElementsAre("1 new #1 MATCHED +1h returned 0",
                                         "2 new #2 MATCHED +2h returned 0"));
  EXPECT_EQ(Lines(loaded), Lines(e_));
  EXPECT_TRUE(loaded.CheckInvariants().ok()) << loaded.CheckInvariants();
}

}  // namespace
}  // namespace duijie
