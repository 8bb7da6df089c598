// Hostile input at the engine: what text.h promises (escaped, bounded
// echoes; control characters refused), the engine holding every id, code,
// name and request_id to it without a trace in the state, replay of a
// journal written before the rule, and GetBook's pages.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/command.h"
#include "engine/engine.h"
#include "engine/text.h"
#include "engine/types.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine_commands.h"

namespace duijie {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

constexpr Micros kT0 = 1'700'000'000'000'000;
constexpr Micros kLater = kT0 + 1'000'000;

// One of each kind of control character, as a client might send them.
const std::vector<std::string>& ControlCharacters() {
  static const auto* values =
      new std::vector<std::string>{std::string("a\0b", 3),
                                   "a\nb",
                                   "a\rb",
                                   "\x1b[2J\x1b[H",
                                   "a\tb",
                                   "a\x7f",
                                   "a\xc2\x9b"
                                   "31m"};
  return *values;
}

TEST(TextTest, EscapeTextEscapesControlsQuotesAndBadBytesKeepsUnicode) {
  EXPECT_EQ(EscapeText("陇南 pepper"), "陇南 pepper");
  EXPECT_EQ(EscapeText(std::string("a\0\n\t\x1b\x7f", 6)),
            "a\\x00\\n\\t\\x1B\\x7F");
  EXPECT_EQ(EscapeText("\xc2\x9b"), "\\u009B");
  EXPECT_EQ(EscapeText("q\"b\\"), "q\\\"b\\\\");
  EXPECT_EQ(EscapeText("\xff\xe9\x99"), "\\xFF\\xE9\\x99");
}

TEST(TextTest, EchoValueQuotesAShortValueWhole) {
  EXPECT_EQ(EchoValue("62a200"), "\"62a200\"");
  EXPECT_EQ(EchoValue(std::string(kEchoPrefixBytes, 'x')),
            "\"" + std::string(kEchoPrefixBytes, 'x') + "\"");
}

TEST(TextTest, EchoValueOfAHugeValueIsAShortPrefixAndTheLength) {
  const std::string huge(8 << 20, '\x1b');  // escapes to 4 bytes a byte
  const std::string echo = EchoValue(huge);
  EXPECT_LE(echo.size(), 4 * kEchoPrefixBytes + 40);
  EXPECT_THAT(echo, HasSubstr("...\" (8388608 bytes)"));
  EXPECT_THAT(echo, Not(HasSubstr("\x1b")));
}

TEST(TextTest, EchoValueDoesNotSplitACharacter) {
  std::string cjk;
  for (int i = 0; i < 30; ++i) cjk += "陇";  // 3 bytes each: 90 bytes
  const std::string echo = EchoValue(cjk);
  EXPECT_THAT(echo, Not(HasSubstr("\\x")));
  EXPECT_THAT(echo, HasSubstr("(90 bytes)"));
}

TEST(TextTest, CheckPlainTextRefusesEveryControlCharacterNamingTheField) {
  EXPECT_TRUE(CheckPlainText("f", "陇南 pepper coop-1").ok());
  for (const std::string& bad : ControlCharacters()) {
    absl::Status s = CheckPlainText("offer.supplier_id", bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << EscapeText(bad);
    EXPECT_THAT(s.message(), HasSubstr("offer.supplier_id"));
    EXPECT_THAT(s.message(), HasSubstr("control character"));
    EXPECT_THAT(s.message(), Not(HasSubstr("\x1b")));
  }
}

TEST(TextTest, FindControlCharacterFindsTheFirstAtAnyPlaceOfALongText) {
  // Printable ASCII is skipped a word at a time: every byte value at every
  // place of a 40-byte text (several words and a tail) is found where it
  // is, or not at all when it is printable.
  for (int place = 0; place < 40; ++place) {
    for (int byte = 0; byte < 0x80; ++byte) {
      std::string text(40, 'a');
      text[place] = static_cast<char>(byte);
      const bool control = byte < 0x20 || byte == 0x7f;
      EXPECT_EQ(FindControlCharacter(text),
                control ? static_cast<size_t>(place) : std::string::npos)
          << "byte " << byte << " at " << place;
    }
    // A C1 control (U+0085), and a character that is not one (U+00E9)
    // beside ASCII that would pass on its own.
    std::string text(40, '~');
    text.replace(place, 2, "\xc2\x85");
    EXPECT_EQ(FindControlCharacter(text.substr(0, 40)),
              place < 39 ? static_cast<size_t>(place) : std::string::npos)
        << place;
    text.assign(40, ' ');
    text.replace(place, 2, "\xc3\xa9");
    EXPECT_EQ(FindControlCharacter(text.substr(0, 40)), std::string::npos)
        << place;
  }
}

TEST(TextTest, IsValidUtf8) {
  EXPECT_TRUE(IsValidUtf8("陇南 \xf0\x9f\x8d\x8e"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(IsValidUtf8("\xe9\x99"));          // cut short
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
}

class HostileEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* code : {"620000", "620826", "120000"}) {
      ASSERT_TRUE(
          RunCommand(engine_, UpsertRegionCommand{Region{code, code}}, kT0)
              .ok());
    }
  }

  static OfferSpec Offer(std::string product = "fruit.apple") {
    OfferSpec o;
    o.supplier_id = "coop";
    o.region_code = "620826";
    o.product_code = std::move(product);
    o.grade = 2;
    o.quantity_kg = 10;
    o.floor_price_fen_per_kg = 10;
    o.expires_at = kLater;
    return o;
  }

  static PledgeSpec Pledge() {
    PledgeSpec p;
    p.buyer_id = "office";
    p.buyer_city_code = "120000";
    p.buyer_kind = 1;
    p.product_code = "fruit";
    p.quantity_kg = 10;
    p.max_price_fen_per_kg = 10;
    p.expires_at = kLater;
    return p;
  }

  // Expects `command` refused with INVALID_ARGUMENT by both Validate and
  // Apply, naming `field`, with a bounded message, and the state unchanged.
  void ExpectRefused(const Command& command, const std::string& field) {
    const uint64_t hash = engine_.StateHash();
    absl::Status valid = engine_.Validate(command, kT0);
    EXPECT_EQ(valid.code(), absl::StatusCode::kInvalidArgument) << valid;
    absl::StatusOr<CommandResult> r = engine_.Apply(command);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument)
        << r.status();
    EXPECT_THAT(r.status().message(), HasSubstr(field));
    EXPECT_LE(r.status().message().size(), 600u) << field;
    EXPECT_EQ(engine_.StateHash(), hash) << field;
  }

  Engine engine_;
};

TEST_F(HostileEngineTest, ControlCharactersAreRefusedInEveryTextField) {
  for (const std::string& bad : ControlCharacters()) {
    SCOPED_TRACE(EscapeText(bad));
    OfferSpec o = Offer();
    o.supplier_id = bad;
    ExpectRefused(MakeTestCommand(PostOfferCommand{o}, kT0),
                  "offer.supplier_id");
    o = Offer();
    ExpectRefused(MakeTestCommand(PostOfferCommand{o}, kT0, bad), "request_id");
    PledgeSpec p = Pledge();
    p.buyer_id = bad;
    ExpectRefused(MakeTestCommand(PostPledgeCommand{p}, kT0),
                  "pledge.buyer_id");
    p = Pledge();
    p.scope = static_cast<int>(Scope::kListedRegions);
    p.region_codes = {"620000", bad};
    ExpectRefused(MakeTestCommand(PostPledgeCommand{p}, kT0),
                  "pledge.region_codes[1]");
    ExpectRefused(MakeTestCommand(PostOfferCommand{Offer("fruit" + bad)}, kT0),
                  "offer.product_code");
    ExpectRefused(
        MakeTestCommand(UpsertRegionCommand{Region{"620100", bad}}, kT0),
        "region.name");
    ExpectRefused(MakeTestCommand(UpsertPairingCommand{Pairing{
                                      "120000", "620000", "note " + bad}},
                                  kT0),
                  "pairing.note");
    ExpectRefused(
        MakeTestCommand(DeletePairingCommand{"120000", "62" + bad}, kT0),
        "west_code");
  }
}

TEST_F(HostileEngineTest, HugeValuesAreEchoedOnlyInPart) {
  const std::string huge(1 << 20, 'x');
  OfferSpec o = Offer();
  o.supplier_id = huge;
  ExpectRefused(MakeTestCommand(PostOfferCommand{o}, kT0), "offer.supplier_id");
  ExpectRefused(MakeTestCommand(PostOfferCommand{o}, kT0), "(1048576 bytes)");
  o = Offer();
  o.region_code = huge;
  ExpectRefused(MakeTestCommand(PostOfferCommand{o}, kT0), "offer.region_code");
  ExpectRefused(MakeTestCommand(PostOfferCommand{Offer(huge)}, kT0),
                "offer.product_code");
  ExpectRefused(MakeTestCommand(PostOfferCommand{Offer()}, kT0, huge),
                "request_id");
  ExpectRefused(
      MakeTestCommand(UpsertRegionCommand{Region{"620100", huge}}, kT0),
      "region.name");
  ExpectRefused(
      MakeTestCommand(UpsertPairingCommand{Pairing{"120000", "620000", huge}},
                      kT0),
      "pairing.note");
}

TEST_F(HostileEngineTest, ConflictingRequestIdIsEchoedEscaped) {
  const std::string id = "retry\\\"1";
  ASSERT_TRUE(RunCommand(engine_, PostOfferCommand{Offer()}, kT0, id).ok());
  OfferSpec other = Offer();
  other.quantity_kg = 11;
  absl::StatusOr<OfferResult> r =
      RunCommand(engine_, PostOfferCommand{other}, kT0, id);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(r.status().message(), HasSubstr("\"retry\\\\\\\"1\""));
}

TEST_F(HostileEngineTest, ReplayAcceptsTextJournaledBeforeTheRule) {
  // Journals written by earlier versions may hold such ids; replay must
  // reproduce the state they made.
  OfferSpec o = Offer();
  o.supplier_id = "old\ncoop";
  const Command command = MakeTestCommand(PostOfferCommand{o}, kT0, "old\tid");
  EXPECT_FALSE(engine_.Apply(command).ok());
  absl::StatusOr<CommandResult> replayed = engine_.Replay(command);
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  absl::StatusOr<OfferView> view = engine_.GetOffer(1, kT0);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->supplier_id, "old\ncoop");
}

TEST_F(HostileEngineTest, GetBookPagesByProductCode) {
  for (const char* product :
       {"tea", "fruit.apple", "vegetable", "fruit.pear", "fruit"}) {
    ASSERT_TRUE(
        RunCommand(engine_, PostOfferCommand{Offer(product)}, kT0).ok());
  }
  auto codes = [](const std::vector<BookLine>& lines) {
    std::vector<std::string> out;
    for (const BookLine& l : lines) out.emplace_back(l.product_code);
    return out;
  };
  bool more = false;
  std::vector<BookLine> page = engine_.GetBook("", "", 2, kT0, &more);
  EXPECT_THAT(codes(page), ElementsAre("fruit", "fruit.apple"));
  EXPECT_TRUE(more);
  page = engine_.GetBook("", "fruit.apple", 2, kT0, &more);
  EXPECT_THAT(codes(page), ElementsAre("fruit.pear", "tea"));
  EXPECT_TRUE(more);
  page = engine_.GetBook("", "tea", 2, kT0, &more);
  EXPECT_THAT(codes(page), ElementsAre("vegetable"));
  EXPECT_FALSE(more);
  page = engine_.GetBook("fruit", "fruit", 1, kT0, &more);
  EXPECT_THAT(codes(page), ElementsAre("fruit.apple"));
  EXPECT_TRUE(more);
  EXPECT_THAT(engine_.GetBook("", "", 0, kT0, &more), SizeIs(5));
  EXPECT_FALSE(more);
}

}  // namespace
}  // namespace duijie
