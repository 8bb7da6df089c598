// Alliance pledges (买方联盟): a pledge whose buyer_id is an alliance names
// its members and their shares, and every fill is split into one match per
// member by largest remainder. Every figure is worked out by hand in the
// comments.
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/command.h"
#include "engine/engine.h"
#include "engine/records.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine_commands.h"

namespace duijie {
namespace {

using ::testing::HasSubstr;

constexpr Micros kT0 = 1'700'000'000'000'000;  // 2023-11-14, Shanghai too
constexpr int kYear = 2023;
constexpr char kRegion[] = "621202";  // Wudu, Longnan
constexpr char kCity[] = "370200";    // Qingdao
constexpr char kAlliance[] = "qingdao-canteens";

class AllianceTest : public ::testing::Test {
 protected:
  void SetUp() override { Prepare(e_); }

  // The regions, three members and one buyer of another alliance.
  static void Prepare(Engine& e) {
    for (const char* code : {kRegion, kCity}) {
      ASSERT_TRUE(
          RunCommand(e, UpsertRegionCommand{Region{code, code}}, kT0).ok());
    }
    for (const char* id : {"canteen-a", "canteen-b", "canteen-c"}) {
      ASSERT_TRUE(Register(e, id, kAlliance, 1'000'000).ok());
    }
    ASSERT_TRUE(Register(e, "school-x", "jinan-schools", 0).ok());
  }

  static absl::StatusOr<BuyerResult> Register(Engine& e, const std::string& id,
                                              const std::string& alliance,
                                              int64_t target_fen) {
    Buyer b;
    b.buyer_id = id;
    b.name = id;
    b.city_code = kCity;
    b.kind = static_cast<int>(BuyerKind::kCanteen);
    b.annual_target_fen = target_fen;
    b.alliance_id = alliance;
    return RunCommand(e, UpsertBuyerCommand{b}, kT0);
  }

  static PostOfferCommand Offer(int64_t kg, int64_t floor = 60) {
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
  // A pledge of the alliance for `members` (listed in this order, which
  // need not be buyer_id order).
  static PostPledgeCommand Pledge(int64_t kg, std::vector<MemberShare> members,
                                  std::string buyer = kAlliance) {
    PostPledgeCommand c;
    c.pledge.buyer_id = std::move(buyer);
    c.pledge.buyer_city_code = kCity;
    c.pledge.buyer_kind = static_cast<int>(BuyerKind::kCanteen);
    c.pledge.product_code = "spice";
    c.pledge.quantity_kg = kg;
    c.pledge.max_price_fen_per_kg = 100;
    c.pledge.expires_at = kT0 + 30 * kDay;
    c.pledge.members = std::move(members);
    return c;
  }
  static std::vector<MemberShare> Thirds() {
    return {{"canteen-c", 334}, {"canteen-a", 333}, {"canteen-b", 333}};
  }

  std::vector<MatchView> Matches(const MatchFilter& filter = {}) {
    bool more = false;
    return e_.ListMatches(filter, 0, 1000, &more);
  }
  // (member, kg) of each match, in id order.
  static std::vector<std::pair<std::string, int64_t>> PartsOf(
      const std::vector<MatchView>& matches) {
    std::vector<std::pair<std::string, int64_t>> out;
    for (const MatchView& m : matches) {
      out.emplace_back(std::string(m.member_buyer_id), m.quantity_kg);
    }
    return out;
  }
  void ExpectConsistent() {
    absl::Status s = e_.CheckInvariants();
    EXPECT_TRUE(s.ok()) << s;
  }

  Engine e_;
};

using Parts = std::vector<std::pair<std::string, int64_t>>;

TEST(SplitBySharesTest, LargestRemainderToTheKilogramTiesToTheEarlier) {
  // Members as the engine keeps them: by buyer_id, a < b < c.
  const std::vector<PledgeMember> thirds = {{0, 333}, {1, 333}, {2, 334}};
  std::vector<int64_t> parts;
  // 1000 kg: 333, 333, 334 exactly.
  SplitByShares(1000, thirds, &parts);
  EXPECT_EQ(parts, (std::vector<int64_t>{333, 333, 334}));
  // 100 kg: 33.3, 33.3, 33.4 -> 33, 33, 33 and 1 kg left; the largest
  // remainder (400 of c against 300, 300) takes it.
  SplitByShares(100, thirds, &parts);
  EXPECT_EQ(parts, (std::vector<int64_t>{33, 33, 34}));
  // 7 kg: 2.331, 2.331, 2.338 -> 2, 2, 2 and 1 kg to c (remainder 338).
  SplitByShares(7, thirds, &parts);
  EXPECT_EQ(parts, (std::vector<int64_t>{2, 2, 3}));
  // 2 kg: 0.666, 0.666, 0.668 -> 2 kg left: c (668) first, then a and b tie
  // at 666 and a, the lower buyer_id, takes it. b gets nothing.
  SplitByShares(2, thirds, &parts);
  EXPECT_EQ(parts, (std::vector<int64_t>{1, 0, 1}));
  // 1 kg at 500/500: a tie, to the lower buyer_id.
  SplitByShares(1, {{0, 500}, {1, 500}}, &parts);
  EXPECT_EQ(parts, (std::vector<int64_t>{1, 0}));
  // The largest quantity: no overflow, 2^40 x 999 / 1000 etc.
  const int64_t most = kMaxQuantityKg;  // 1,099,511,627,776
  SplitByShares(most, {{0, 1}, {1, 999}}, &parts);
  // 1,099,511,627.776 -> 1,099,511,627 (rem 776); 1,098,412,116,148.224 ->
  // 1,098,412,116,148 (rem 224); 1 kg left to the first.
  EXPECT_EQ(parts, (std::vector<int64_t>{1'099'511'628, 1'098'412'116'148}));
  EXPECT_EQ(parts[0] + parts[1], most);
}

TEST(SplitBySharesTest, MembersAreJournaledEvenWithoutDeadlines) {
  // No deadline would make the body legacy (code 5, no members field):
  // with members it keeps code 14, so replay keeps the members.
  PostPledgeCommand c;
  c.pledge.accept_within = kNoDeadline;
  c.pledge.members = {{"canteen-a", 1000}};
  const CommandBody body = c;
  EXPECT_EQ(CodeOf(body), CommandCode::kPostPledgeWithDeadlines);
  std::string bytes;
  ByteWriter w(&bytes);
  EncodeBody(body, w);
  ByteReader r(bytes);
  CommandBody back;
  ASSERT_TRUE(DecodeBody(static_cast<uint8_t>(CodeOf(body)), r, &back));
  ASSERT_TRUE(r.ok() && r.done());
  const auto& pledge = std::get<PostPledgeCommand>(back).pledge;
  ASSERT_EQ(pledge.members.size(), 1u);
  EXPECT_EQ(pledge.members[0].buyer_id, "canteen-a");
  EXPECT_EQ(pledge.members[0].share_permille, 1000);
  EXPECT_EQ(pledge.accept_within, kNoDeadline);
}

TEST(SplitBySharesTest, TheMemberFitsInTheMatchRecordsPadding) {
  // A million matches at 128 bytes each: the member id must not add 8.
  EXPECT_EQ(sizeof(MatchRecord), 128u);
  EXPECT_EQ(sizeof(PledgeRecord), 112u);  // has_members is in padding too
}

TEST_F(AllianceTest, AFillOf1000KgSplits333333334InBuyerIdOrder) {
  ASSERT_TRUE(RunCommand(e_, Offer(1000), kT0 + 1).ok());
  absl::StatusOr<PledgeResult> r =
      RunCommand(e_, Pledge(1000, Thirds()), kT0 + 2);
  ASSERT_TRUE(r.ok()) << r.status();
  // The resting offer's price, 60 fen/kg: 333 x 60 = 19,980 fen etc.
  ASSERT_EQ(r->matches.size(), 3u);
  EXPECT_EQ(
      PartsOf(r->matches),
      (Parts{{"canteen-a", 333}, {"canteen-b", 333}, {"canteen-c", 334}}));
  EXPECT_EQ(r->matches[0].amount_fen, 19'980);
  EXPECT_EQ(r->matches[1].amount_fen, 19'980);
  EXPECT_EQ(r->matches[2].amount_fen, 20'040);
  for (const MatchView& m : r->matches) {
    EXPECT_EQ(m.buyer_id, kAlliance);
    EXPECT_EQ(m.offer_id, 1u);
    EXPECT_EQ(m.pledge_id, 1u);
    EXPECT_EQ(m.price_fen_per_kg, 60);
  }
  EXPECT_EQ(r->matches[0].match_id, 1u);
  EXPECT_EQ(r->matches[2].match_id, 3u);
  EXPECT_EQ(r->pledge.status, OrderStatus::kFilled);
  EXPECT_EQ(r->pledge.spent_fen, 60'000);
  // The pledge lists its members by buyer_id.
  ASSERT_EQ(r->pledge.members.size(), 3u);
  EXPECT_EQ(r->pledge.members[0].buyer_id, "canteen-a");
  EXPECT_EQ(r->pledge.members[0].share_permille, 333);
  EXPECT_EQ(r->pledge.members[2].buyer_id, "canteen-c");
  EXPECT_EQ(r->pledge.members[2].share_permille, 334);
  ExpectConsistent();
}

TEST_F(AllianceTest, UnevenFillsGoByLargestRemainderAndZeroPartsGetNoMatch) {
  // A resting pledge of 100 kg; offers of 7 kg, then 2 kg arrive.
  ASSERT_TRUE(RunCommand(e_, Pledge(100, Thirds()), kT0 + 1).ok());
  absl::StatusOr<OfferResult> seven = RunCommand(e_, Offer(7), kT0 + 2);
  ASSERT_TRUE(seven.ok()) << seven.status();
  // The resting pledge's price, 100 fen/kg. 7 kg: 2, 2, 3.
  EXPECT_EQ(PartsOf(seven->matches),
            (Parts{{"canteen-a", 2}, {"canteen-b", 2}, {"canteen-c", 3}}));
  EXPECT_EQ(seven->matches[2].amount_fen, 300);
  absl::StatusOr<OfferResult> two = RunCommand(e_, Offer(2), kT0 + 3);
  ASSERT_TRUE(two.ok()) << two.status();
  // 2 kg: c by the largest remainder, a by the tie with b; b none.
  EXPECT_EQ(PartsOf(two->matches), (Parts{{"canteen-a", 1}, {"canteen-c", 1}}));
  EXPECT_EQ(two->matches[0].match_id, 4u);
  EXPECT_EQ(two->matches[1].match_id, 5u);
  const PledgeView p = *e_.GetPledge(1, e_.now());
  EXPECT_EQ(p.remaining_kg, 91);  // 100 - 7 - 2
  EXPECT_EQ(p.spent_fen, 900);    // 9 kg x 100
  ExpectConsistent();
}

TEST_F(AllianceTest, BadMembersAreRefusedByFieldAndValueAndChangeNothing) {
  ASSERT_TRUE(RunCommand(e_, Offer(1000), kT0 + 1).ok());
  Tick(e_, kT0 + 2);
  const uint64_t before = e_.StateHash();
  auto refused = [&](PostPledgeCommand c, const char* words) {
    absl::StatusOr<PledgeResult> r = RunCommand(e_, std::move(c), kT0 + 2);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument)
        << r.status();
    EXPECT_THAT(r.status().message(), HasSubstr(words));
  };
  refused(Pledge(10, {{"canteen-a", 500}, {"canteen-b", 499}}),
          "pledge.members: shares sum to 999 permille; they must sum to "
          "exactly 1000");
  refused(Pledge(10, {{"canteen-a", 500}, {"canteen-a", 500}}),
          "pledge.members[1].buyer_id: \"canteen-a\" is listed twice");
  refused(Pledge(10, {{"canteen-a", 500}, {"canteen-z", 500}}),
          "pledge.members[1].buyer_id: \"canteen-z\" is not a registered "
          "buyer");
  refused(Pledge(10, {{"canteen-a", 500}, {"school-x", 500}}),
          "pledge.members[1].buyer_id: \"school-x\" is in alliance "
          "\"jinan-schools\", not \"qingdao-canteens\"");
  refused(Pledge(10, {{"canteen-a", 0}, {"canteen-b", 1000}}),
          "pledge.members[0].share_permille: 0 is out of range [1, 1000]");
  refused(Pledge(10, {{"canteen-a", 1001}, {"canteen-b", -1}}),
          "pledge.members[0].share_permille: 1001 is out of range");
  refused(Pledge(10, {{"", 1000}}), "pledge.members[0].buyer_id: is empty");
  refused(Pledge(10, {{"canteen-a", 1000}}, "canteen-a"),
          "pledge.buyer_id: \"canteen-a\" is no alliance");
  std::vector<MemberShare> many(65, MemberShare{"canteen-a", 1});
  refused(Pledge(10, many), "pledge.members: has 65 members; at most 64");
  EXPECT_EQ(e_.StateHash(), before);
  EXPECT_EQ(e_.pledge_count(), 0u);
  // A pledge without members is as before: one match for the buyer.
  PostPledgeCommand plain = Pledge(10, {}, "canteen-a");
  absl::StatusOr<PledgeResult> r = RunCommand(e_, plain, kT0 + 3);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(PartsOf(r->matches), (Parts{{"", 10}}));
  EXPECT_EQ(r->matches[0].buyer_id, "canteen-a");
  EXPECT_TRUE(r->pledge.members.empty());
}

TEST_F(AllianceTest, MembersSeeAcceptAndDeclineTheirOwnParts) {
  ASSERT_TRUE(RunCommand(e_, Offer(100), kT0 + 1).ok());
  ASSERT_TRUE(RunCommand(e_, Pledge(1000, Thirds()), kT0 + 2).ok());
  // 100 kg: a 33 (match 1), b 33 (2), c 34 (3).
  for (uint64_t id = 1; id <= 3; ++id) {
    ASSERT_TRUE(RunCommand(e_, ShipMatchCommand{id, 0, ""}, kT0 + kDay).ok());
  }
  auto as_buyer = [](const std::string& id) {
    auto caller = std::make_shared<Caller>();
    caller->principal.name = id;
    caller->principal.role = static_cast<int>(Role::kBuyer);
    caller->principal.buyer_ids = {id};
    caller->key_id = 9;
    return caller;
  };
  auto send = [&](auto body, const std::string& who) {
    Command command = MakeTestCommand(body, kT0 + 2 * kDay);
    command.caller = as_buyer(who);
    return ResultAs<decltype(body)>(e_.TickAndApply(command));
  };
  // canteen-a accepts its own part; b's part is unknown to it.
  absl::StatusOr<MatchResult> mine =
      send(AcceptMatchCommand{1, 30}, "canteen-a");
  ASSERT_TRUE(mine.ok()) << mine.status();
  EXPECT_EQ(mine->match.status, MatchStatus::kDelivered);
  EXPECT_EQ(mine->match.accepted_kg, 30);
  EXPECT_EQ(mine->match.returned_kg, 3);  // back to the pledge
  EXPECT_EQ(send(AcceptMatchCommand{2, 0}, "canteen-a").status().code(),
            absl::StatusCode::kNotFound);
  // canteen-b declines its own; the alliance's key accepts c's.
  absl::StatusOr<MatchResult> declined =
      send(DeclineMatchCommand{2, "bruised"}, "canteen-b");
  ASSERT_TRUE(declined.ok()) << declined.status();
  EXPECT_EQ(declined->match.status, MatchStatus::kDeclined);
  EXPECT_EQ(declined->match.returned_kg, 33);
  ASSERT_TRUE(send(AcceptMatchCommand{3, 0}, kAlliance).ok());
  // The pledge has its kg back: 1000 - 100 + 3 + 33 = 936 left; spent 64 kg
  // x 60 = 3,840 fen.
  const PledgeView p = *e_.GetPledge(1, e_.now());
  EXPECT_EQ(p.remaining_kg, 936);
  EXPECT_EQ(p.spent_fen, 3'840);

  // Each member lists its own parts; the alliance and the pledge all.
  MatchFilter by_b;
  by_b.buyer_id = "canteen-b";
  EXPECT_EQ(PartsOf(Matches(by_b)), (Parts{{"canteen-b", 33}}));
  MatchFilter by_alliance;
  by_alliance.buyer_id = kAlliance;
  EXPECT_EQ(Matches(by_alliance).size(), 3u);
  MatchFilter by_pledge;
  by_pledge.pledge_id = 1;
  EXPECT_EQ(Matches(by_pledge).size(), 3u);
  MatchFilter visible_to_c;
  visible_to_c.restricted = true;
  visible_to_c.visible_buyer_ids = {"canteen-c"};
  EXPECT_EQ(PartsOf(Matches(visible_to_c)), (Parts{{"canteen-c", 34}}));
  EXPECT_TRUE(visible_to_c.Shows("coop", kAlliance, "canteen-c"));
  EXPECT_FALSE(visible_to_c.Shows("coop", kAlliance, "canteen-a"));
  ExpectConsistent();
}

TEST_F(AllianceTest, ProgressCountsEachPartForItsMemberAndTheAllianceOnce) {
  ASSERT_TRUE(RunCommand(e_, Offer(100), kT0 + 1).ok());
  ASSERT_TRUE(RunCommand(e_, Pledge(100, Thirds()), kT0 + 2).ok());
  // 33, 33, 34 kg at 60 fen/kg: 1,980, 1,980 and 2,040 fen.
  absl::StatusOr<BuyerProgress> a = e_.GetBuyerProgress("canteen-a", "", kYear);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->matched_fen, 1'980);
  EXPECT_EQ(a->share_done_permille, 1);  // 1,980 x 1000 / 1,000,000
  absl::StatusOr<BuyerProgress> c = e_.GetBuyerProgress("canteen-c", "", kYear);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->matched_fen, 2'040);
  absl::StatusOr<BuyerProgress> all = e_.GetBuyerProgress("", kAlliance, kYear);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->matched_fen, 6'000);  // the pledge's spend, once
  EXPECT_EQ(all->annual_target_fen, 3'000'000);
  EXPECT_EQ(all->months[10].matched_fen, 6'000);  // November
  // A buyer registered under the alliance's own id (and in it) counts only
  // matches for itself, not its members' parts.
  ASSERT_TRUE(Register(e_, kAlliance, kAlliance, 0).ok());
  absl::StatusOr<BuyerProgress> self =
      e_.GetBuyerProgress(kAlliance, "", kYear);
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_EQ(self->matched_fen, 0);
  all = e_.GetBuyerProgress("", kAlliance, kYear);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->matched_fen, 6'000);
}

TEST_F(AllianceTest, StateSavesLoadsAndReplaysMembersIdentically) {
  std::vector<Command> commands = {
      MakeTestCommand(Offer(7), kT0 + 1),
      MakeTestCommand(Pledge(100, Thirds()), kT0 + 2),
      MakeTestCommand(ShipMatchCommand{3, 0, ""}, kT0 + 3),
  };
  for (const Command& c : commands) ASSERT_TRUE(e_.TickAndApply(c).ok());
  // Replaying the same commands gives the same state, and its hash covers
  // the members: the same pledge for other shares hashes otherwise.
  auto replayed = [&](std::vector<MemberShare> members) {
    Engine fresh;
    Prepare(fresh);
    std::vector<Command> again = commands;
    std::get<PostPledgeCommand>(again[1].body).pledge.members = members;
    for (const Command& c : again) EXPECT_TRUE(fresh.TickAndApply(c).ok());
    return fresh.StateHash();
  };
  EXPECT_EQ(replayed(Thirds()), e_.StateHash());
  EXPECT_NE(
      replayed({{"canteen-a", 334}, {"canteen-b", 333}, {"canteen-c", 333}}),
      e_.StateHash());
  const std::string saved = e_.SaveState();
  Engine loaded;
  ASSERT_TRUE(loaded.LoadState(saved).ok());
  EXPECT_EQ(loaded.StateHash(), e_.StateHash());
  EXPECT_TRUE(loaded.CheckInvariants().ok());
  bool more = false;
  const std::vector<MatchView> back = loaded.ListMatches({}, 0, 10, &more);
  EXPECT_EQ(PartsOf(back),
            (Parts{{"canteen-a", 2}, {"canteen-b", 2}, {"canteen-c", 3}}));
  EXPECT_EQ(loaded.GetPledge(1, loaded.now())->members.size(), 3u);
  // Both go on alike: a 3 kg offer splits 1, 1, 1 in each.
  const Command more_kg = MakeTestCommand(Offer(3), kT0 + 4);
  ASSERT_TRUE(e_.TickAndApply(more_kg).ok());
  ASSERT_TRUE(loaded.TickAndApply(more_kg).ok());
  EXPECT_EQ(loaded.StateHash(), e_.StateHash());
  // A damaged member table is DATA_LOSS, not a quiet split.
  std::string damaged = saved;
  damaged.back() ^= 0x01;  // the last member's share
  Engine broken;
  EXPECT_EQ(broken.LoadState(damaged).code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace duijie
