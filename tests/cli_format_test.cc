// The CLI prints stored text so that it cannot act on the terminal: no
// escape sequence, no line break that would forge a table row, in tables,
// in lines and in JSON. It reads money, weight and times as people write
// them, shows times in Asia/Shanghai, and reads its config file.
#include "tools/cli_format.h"

#include <algorithm>
#include <sstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "duijie/v1/exchange.pb.h"
#include "gtest/gtest.h"
#include "tools/cli_args.h"
#include "tools/cli_config.h"

namespace duijie::cli {
namespace {

// A name as a hostile client might have stored it before the server
// refused control characters: clear the screen, forge a row, ring, DEL,
// and CSI in its C1 form.
const std::string kHostile = std::string(
                                 "coop\x1b[2J\n621203  fake\a\x7f\xc2\x9b"
                                 "31m") +
                             std::string("\0x", 2);

bool HasRawControl(const std::string& text, bool allow_newline) {
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n' && allow_newline) continue;
    if (c < 0x20 || c == 0x7F) return true;
    if (c == 0xC2 && i + 1 < text.size() &&
        static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
        static_cast<unsigned char>(text[i + 1]) <= 0x9F) {
      return true;
    }
  }
  return false;
}

TEST(CliFormatTest, PrintableEscapesControlsAndKeepsText) {
  EXPECT_EQ(Printable("陇南 \"pepper\" a\\b"), "陇南 \"pepper\" a\\b");
  EXPECT_EQ(Printable(kHostile),
            "coop\\x1B[2J\\n621203  fake\\x07\\x7F\\u009B31m\\x00x");
  EXPECT_EQ(Printable("\xff"), "\\xFF");
}

TEST(CliFormatTest, TableCellsCannotForgeRowsOrEscapes) {
  Table t({"SUPPLIER", ">KG"});
  t.AddRow({kHostile, "10"});
  t.AddRow({"陇南", "20"});
  std::ostringstream out;
  t.Print(out);
  const std::string printed = out.str();
  EXPECT_FALSE(HasRawControl(printed, /*allow_newline=*/true)) << printed;
  // Header and two rows: the newline in the name did not make a third.
  EXPECT_EQ(std::count(printed.begin(), printed.end(), '\n'), 3) << printed;
}

TEST(CliFormatTest, JsonEscapesEveryControlCharacter) {
  v1::Region region;
  region.set_code("621202");
  region.set_name(kHostile);
  for (bool pretty : {true, false}) {
    const std::string json = ToJson(region, pretty);
    ASSERT_FALSE(json.empty());
    EXPECT_EQ(json.back(), '\n');
    // The one-line form is one line: its only newline ends it.
    const std::string body = json.substr(0, json.size() - 1);
    EXPECT_FALSE(HasRawControl(body, /*allow_newline=*/pretty)) << json;
    const std::string lower = absl::AsciiStrToLower(json);
    EXPECT_NE(lower.find("\\u007f"), std::string::npos) << json;
    EXPECT_NE(lower.find("\\u009b"), std::string::npos) << json;
  }
}

int64_t Decimal(const std::string& text, int decimals) {
  int64_t out = -12345;
  std::string why;
  EXPECT_TRUE(ParseDecimal(text, decimals, &out, &why)) << text << ": " << why;
  return out;
}

std::string DecimalError(const std::string& text, int decimals) {
  int64_t out;
  std::string why;
  EXPECT_FALSE(ParseDecimal(text, decimals, &out, &why)) << text;
  return why;
}

TEST(CliArgsTest, YuanAndTonnesParseExactlyIntoFenAndKg) {
  EXPECT_EQ(Decimal("68", 2), 6800);
  EXPECT_EQ(Decimal("75.5", 2), 7550);
  EXPECT_EQ(Decimal("75.05", 2), 7505);
  EXPECT_EQ(Decimal("0.01", 2), 1);
  EXPECT_EQ(Decimal("1,200,000", 2), 120000000);
  EXPECT_EQ(Decimal("1,200,000.99", 2), 120000099);
  EXPECT_EQ(Decimal("50", 3), 50000);
  EXPECT_EQ(Decimal("2.5", 3), 2500);
  EXPECT_EQ(Decimal("0.001", 3), 1);
  EXPECT_EQ(Decimal("-3", 0), -3);
  EXPECT_EQ(Decimal("9223372036854775807", 0), INT64_MAX);
  EXPECT_EQ(Decimal("-9223372036854775808", 0), INT64_MIN);
  // 0.1 + 0.2 in binary floating point is not 0.3; here it is 30 fen.
  EXPECT_EQ(Decimal("0.3", 2), Decimal("0.1", 2) + Decimal("0.2", 2));

  EXPECT_EQ(DecimalError("68.123", 2), "at most 2 decimals");
  EXPECT_EQ(DecimalError("2.0001", 3), "at most 3 decimals");
  EXPECT_EQ(DecimalError("68.5", 0), "a whole number is needed");
  EXPECT_EQ(DecimalError("92233720368547758.08", 2), "too large");
  EXPECT_EQ(DecimalError("9223372036854775808", 0), "too large");
  for (const char* bad : {"", ".5", "5.", "1,20", "12,0000", ",100", "1,,000",
                          "1.000,5", "abc", "6 8", "1e3", "0x10"}) {
    DecimalError(bad, 2);
  }
}

TEST(CliArgsTest, TimesAreReadInTheZoneShownAndDatesMeanWhatTheFlagSays) {
  const absl::TimeZone shanghai = ShanghaiTimeZone();
  const absl::Time now = absl::FromCivil(
      absl::CivilSecond(2026, 3, 1, 12, 0, 0), absl::UTCTimeZone());
  absl::Time t;
  std::optional<absl::Duration> relative;
  auto utc = [](int y, int m, int d, int hh, int mm) {
    return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0),
                           absl::UTCTimeZone());
  };
  // An expiry date is open through that day in Shanghai: it ends at the
  // next Shanghai midnight, 16:00 UTC that day.
  ASSERT_TRUE(ParseTimeArg("2026-12-20", shanghai, now, DateMeans::kEndOfDay,
                           &t, &relative));
  EXPECT_EQ(t, utc(2026, 12, 20, 16, 0));
  EXPECT_FALSE(relative.has_value());
  ASSERT_TRUE(ParseTimeArg("2026-12-20", shanghai, now, DateMeans::kStartOfDay,
                           &t, &relative));
  EXPECT_EQ(t, utc(2026, 12, 19, 16, 0));
  ASSERT_TRUE(ParseTimeArg("2026-12-20", absl::UTCTimeZone(), now,
                           DateMeans::kEndOfDay, &t, &relative));
  EXPECT_EQ(t, utc(2026, 12, 21, 0, 0));
  ASSERT_TRUE(ParseTimeArg("2026-12-20 18:00", shanghai, now,
                           DateMeans::kEndOfDay, &t, &relative));
  EXPECT_EQ(t, utc(2026, 12, 20, 10, 0));
  ASSERT_TRUE(ParseTimeArg("2026-12-20T18:00:00+08:00", absl::UTCTimeZone(),
                           now, DateMeans::kEndOfDay, &t, &relative));
  EXPECT_EQ(t, utc(2026, 12, 20, 10, 0));
  ASSERT_TRUE(ParseTimeArg("2026-12-20T10:00:00Z", shanghai, now,
                           DateMeans::kEndOfDay, &t, &relative));
  EXPECT_EQ(t, utc(2026, 12, 20, 10, 0));
  for (const char* d : {"72h", "3d", "90m", "1d12h"}) {
    ASSERT_TRUE(
        ParseTimeArg(d, shanghai, now, DateMeans::kEndOfDay, &t, &relative))
        << d;
    ASSERT_TRUE(relative.has_value()) << d;
    EXPECT_EQ(t, now + *relative) << d;
  }
  EXPECT_EQ(*relative, absl::Hours(36));
  for (const char* bad : {"tomorrow", "2026-13-01", "2026-12-20 25:00",
                          "20/12/2026", "-3h", "0s", ""}) {
    EXPECT_FALSE(
        ParseTimeArg(bad, shanghai, now, DateMeans::kEndOfDay, &t, &relative))
        << bad;
  }
}

TEST(CliFormatTest, TimesShowInShanghaiUnlessToldOtherwise) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(absl::FromCivil(
      absl::CivilSecond(2026, 12, 31, 16, 30, 0), absl::UTCTimeZone())));
  SetDisplayZone(ResolveDisplayZone(/*utc=*/false, /*tz_env=*/nullptr));
  EXPECT_EQ(CurrentDisplayZone().name, "Asia/Shanghai");
  EXPECT_EQ(ShortTime(ts), "2027-01-01 00:30");
  EXPECT_EQ(LongTime(ts), "2027-01-01 00:30:00 +08:00");
  EXPECT_EQ(TimeHeader("EXPIRES"), "EXPIRES (Asia/Shanghai)");
  // An empty TZ is as good as none.
  SetDisplayZone(ResolveDisplayZone(false, ""));
  EXPECT_EQ(ShortTime(ts), "2027-01-01 00:30");
  SetDisplayZone(ResolveDisplayZone(/*utc=*/true, "Asia/Shanghai"));
  EXPECT_EQ(ShortTime(ts), "2026-12-31 16:30");
  EXPECT_EQ(LongTime(ts), "2026-12-31 16:30:00 UTC");
  EXPECT_EQ(TimeHeader("AT"), "AT (UTC)");
  SetDisplayZone(ResolveDisplayZone(false, ":UTC"));
  EXPECT_EQ(CurrentDisplayZone().name, "UTC");
  EXPECT_EQ(ShortTime(ts), "2026-12-31 16:30");
  // A zone tzdata does not know reads as UTC, as the C library does, and
  // is reported.
  SetDisplayZone(ResolveDisplayZone(false, "Nowhere/Atlantis"));
  EXPECT_EQ(CurrentDisplayZone().name, "UTC");
  EXPECT_EQ(CurrentDisplayZone().unknown_tz, "Nowhere/Atlantis");
  EXPECT_EQ(ShortTime(ts), "2026-12-31 16:30");
  SetDisplayZone(ResolveDisplayZone(false, nullptr));
  EXPECT_TRUE(CurrentDisplayZone().unknown_tz.empty());
  EXPECT_EQ(ShortTime(google::protobuf::Timestamp()), "-");
}

TEST(CliFormatTest, ServerMessagesShowTimesNotMicroseconds) {
  SetDisplayZone(ResolveDisplayZone(false, nullptr));
  // 2026-12-20 16:00 UTC and 2026-12-21 02:00 UTC, in microseconds.
  EXPECT_EQ(HumanizeServerTimes("offer.expires_at: 1797782400000000 us since "
                                "epoch is not after now (1797818400000000)"),
            "offer.expires_at: 2026-12-21 00:00:00 +08:00 is not after now "
            "(2026-12-21 10:00:00 +08:00)");
  EXPECT_EQ(HumanizeServerTimes("expires_at: 1797782400000000 is not later "
                                "than now (1797818400000000 us since the "
                                "epoch)"),
            "expires_at: 2026-12-21 00:00:00 +08:00 is not later than now "
            "(2026-12-21 10:00:00 +08:00)");
  // Other messages and other numbers are left as they are.
  EXPECT_EQ(HumanizeServerTimes("quantity_kg: 1797782400000000 is out of "
                                "range"),
            "quantity_kg: 1797782400000000 is out of range");
  EXPECT_EQ(HumanizeServerTimes("x: 12 us since epoch"),
            "x: 12 us since epoch");
}

TEST(CliFormatTest, CountsSayOneOfferAndTwoOffers) {
  EXPECT_EQ(Count(0, "offer"), "0 offers");
  EXPECT_EQ(Count(1, "offer"), "1 offer");
  EXPECT_EQ(Count(2, "match", "matches"), "2 matches");
  EXPECT_EQ(Count(1, "match", "matches"), "1 match");
  EXPECT_EQ(Count(1200, "pledge"), "1,200 pledges");
}

TEST(CliFormatTest, CsvQuotesWhatNeedsItAndUngroupsNumbers) {
  Table t({"NAME", ">KG", ">YUAN/KG", "NOTE"});
  t.AddRow({"河西区 Hexi, Tianjin", "1,200", "1,234.50", "say \"hi\""});
  t.AddRow({"plain", "7", "-", "a,b"});
  std::ostringstream out;
  t.PrintCsv(out);
  EXPECT_EQ(out.str(),
            "NAME,KG,YUAN/KG,NOTE\r\n"
            "\"河西区 Hexi, Tianjin\",1200,1234.50,\"say \"\"hi\"\"\"\r\n"
            "plain,7,-,\"a,b\"\r\n");
}

TEST(CliArgsTest, SuggestsTheNearestWordForATypo) {
  const std::vector<std::string> groups = {"offer", "pledge", "matches",
                                           "match", "book",   "regions"};
  EXPECT_EQ(NearestWord("ofer", groups), "offer");
  EXPECT_EQ(NearestWord("pledeg", groups), "pledge");
  EXPECT_EQ(NearestWord("boko", groups), "book");
  EXPECT_EQ(NearestWord("list", {"post", "list", "get"}), "");  // exact
  EXPECT_EQ(NearestWord("lsit", {"post", "list", "get"}), "list");
  EXPECT_EQ(NearestWord("xyz", groups), "");
  EXPECT_EQ(NearestWord("supllier", {"supplier", "region"}), "supplier");
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
}

constexpr Flag<int64_t> kTestMaxFen("max-fen", "FEN", "price");
constexpr Flag<InYuan> kTestMaxYuan("max-yuan", "YUAN", "price");
constexpr Flag<std::string> kTestRegions("regions", "CODES", "codes");
constexpr Flag<std::string> kTestScope("scope", "SCOPE", "scope");

TEST(CliArgsTest, ServerFieldErrorsNameTheFlagTheUserGave) {
  const CommandSpec spec{
      "pledge",
      "post",
      "",
      "test",
      {&kTestMaxFen, &kTestMaxYuan, &kTestRegions, &kTestScope}};
  std::string error;
  std::optional<Args> by_yuan =
      ParseArgs(spec, {"--max-yuan", "75.5", "--scope", "listed"}, &error);
  ASSERT_TRUE(by_yuan.has_value()) << error;
  EXPECT_EQ(FlagWordsForFieldError(
                *by_yuan, "pledge.max_price_fen_per_kg: 0 is out of range"),
            "--max-yuan: 0 is out of range (field "
            "pledge.max_price_fen_per_kg; amounts in fen, 100 fen = 1 yuan)");
  EXPECT_EQ(FlagWordsForFieldError(
                *by_yuan,
                "pledge.region_codes: is empty but scope is LISTED_REGIONS"),
            "--regions is required with --scope listed (server: "
            "pledge.region_codes: is empty but scope is LISTED_REGIONS)");
  EXPECT_EQ(FlagWordsForFieldError(*by_yuan,
                                   "pledge.region_codes[1]: 999999 unknown"),
            "--regions: 999999 unknown (field pledge.region_codes[1])");
  // A field no flag of the command sets stays as the server said it.
  EXPECT_EQ(FlagWordsForFieldError(*by_yuan, "pledge.buyer_kind: is unset"),
            "pledge.buyer_kind: is unset");
  std::optional<Args> by_fen = ParseArgs(spec, {"--max-fen", "0"}, &error);
  ASSERT_TRUE(by_fen.has_value()) << error;
  EXPECT_EQ(FlagWordsForFieldError(
                *by_fen, "pledge.max_price_fen_per_kg: 0 is out of range"),
            "--max-fen: 0 is out of range (field pledge.max_price_fen_per_kg)");
  // From the server's ErrorDetail: its field and reason, whatever the
  // message looks like; the message when no flag sets the field.
  EXPECT_EQ(FlagWordsForFieldError(*by_fen, "pledge.max_price_fen_per_kg",
                                   "0 is out of range", "(the message)"),
            "--max-fen: 0 is out of range (field pledge.max_price_fen_per_kg)");
  EXPECT_EQ(FlagWordsForFieldError(*by_fen, "", "no such offer",
                                   "offer 7: no such offer"),
            "offer 7: no such offer");
  EXPECT_EQ(FlagWordsForFieldError(*by_fen, "pledge.buyer_kind", "is unset",
                                   "pledge.buyer_kind: is unset"),
            "pledge.buyer_kind: is unset");

  // Typos and decimals where fen are wanted get a suggestion.
  EXPECT_FALSE(ParseArgs(spec, {"--max-fn", "7"}, &error).has_value());
  EXPECT_EQ(error,
            "unknown flag '--max-fn' for 'pledge post'; did you mean "
            "--max-fen?");
  std::optional<Args> decimal = ParseArgs(spec, {"--max-fen", "68.00"}, &error);
  ASSERT_TRUE(decimal.has_value());
  decimal->Get(kTestMaxFen);
  EXPECT_EQ(decimal->error(),
            "68.00 for --max-fen: did you mean --max-yuan 68.00? (--max-fen "
            "takes whole fen: 6800)");
  std::optional<Args> grouped =
      ParseArgs(spec, {"--max-fen", "1,200", "--max-yuan", "1,200.5"}, &error);
  ASSERT_TRUE(grouped.has_value());
  EXPECT_EQ(grouped->Get(kTestMaxFen), 1200);
  EXPECT_EQ(grouped->Get(kTestMaxYuan), 120050);
  EXPECT_EQ(grouped->error(), "");
}

TEST(CliConfigTest, ReadsContextsAndRefusesWhatItDoesNotKnow) {
  Config config;
  std::string error;
  ASSERT_TRUE(ParseConfig(R"(# duijie CLI
current_context = "demo"   # the default

[context.demo]
server = "127.0.0.1:50051"
key_file = '~/.config/duijie/key'
output = "json"

[context."prod east"]
server = "duijie.example.org:50051"
key_file = "C:\\keys\\a \"b\".key"
)",
                          &config, &error))
      << error;
  EXPECT_EQ(config.current_context, "demo");
  ASSERT_EQ(config.contexts.size(), 2u);
  EXPECT_EQ(config.contexts["demo"].server, "127.0.0.1:50051");
  EXPECT_EQ(config.contexts["demo"].key_file, "~/.config/duijie/key");
  EXPECT_EQ(config.contexts["demo"].output, "json");
  EXPECT_EQ(config.contexts["prod east"].server, "duijie.example.org:50051");
  EXPECT_EQ(config.contexts["prod east"].key_file, "C:\\keys\\a \"b\".key");
  EXPECT_EQ(config.contexts["prod east"].output, "");

  EXPECT_FALSE(ParseConfig("[context.a]\nsevrer = \"x\"\n", &config, &error));
  EXPECT_EQ(error,
            "line 2: unknown key 'sevrer' (a context has server, key_file, "
            "output)");
  EXPECT_FALSE(
      ParseConfig("[context.a]\noutput = \"yaml\"\n", &config, &error));
  EXPECT_EQ(error, "line 2: output 'yaml' is not table, json or csv");
  EXPECT_FALSE(
      ParseConfig("current_context = \"b\"\n[context.a]\n", &config, &error));
  EXPECT_EQ(error, "current_context 'b' has no [context.b] table");
  EXPECT_FALSE(ParseConfig("[profile.a]\n", &config, &error));
  EXPECT_EQ(error, "line 1: only [context.NAME] tables are known");
  EXPECT_FALSE(ParseConfig("[context.a]\nserver = x\n", &config, &error));
  EXPECT_FALSE(ParseConfig("[context.a]\nserver = \"x\n", &config, &error));
  EXPECT_EQ(error, "line 2: a string is not closed");
}

}  // namespace
}  // namespace duijie::cli
