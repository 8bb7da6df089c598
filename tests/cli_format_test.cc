// The CLI prints stored text so that it cannot act on the terminal: no
// escape sequence, no line break that would forge a table row, in tables,
// in lines and in JSON.
#include "tools/cli_format.h"

#include <algorithm>
#include <sstream>
#include <string>

#include "absl/strings/ascii.h"
#include "duijie/v1/exchange.pb.h"
#include "gtest/gtest.h"

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

}  // namespace
}  // namespace duijie::cli
