// Output formatting for the duijie CLI: money and weight as people read them,
// times in the CLI's time zone (Asia/Shanghai unless --utc or $TZ says
// otherwise), aligned text tables (CJK-aware), CSV, and protobuf JSON for
// scripts.
//
// Money is integer fen throughout; it is shown as yuan with two decimals
// using integer arithmetic only (no floating point anywhere).
#ifndef DUIJIE_TOOLS_CLI_FORMAT_H_
#define DUIJIE_TOOLS_CLI_FORMAT_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/text.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"

namespace duijie::cli {

// 1234567 -> "1,234,567"; negative numbers keep their sign.
using ::duijie::GroupThousands;  // engine/text.h

// The name of a gRPC status code number ("INVALID_ARGUMENT"), as errors
// print it; "UNKNOWN" for a number gRPC does not define.
const char* StatusCodeName(int code);
// Whole kilograms: 12000 -> "12,000".
std::string Kg(int64_t kg);
// Fen as yuan with two decimals: 123456 -> "1,234.56", -5 -> "-0.05".
std::string Yuan(int64_t fen);
// "1 offer", "2 offers", "1,200 offers"; `plural` defaults to singular + "s".
std::string Count(int64_t n, absl::string_view singular,
                  absl::string_view plural = "");

// Asia/Shanghai: the zone the users of duijie live by. From tzdata when it
// is installed; else UTC+8, which is the same since 1991 (China has kept
// no daylight saving time since then), so nothing duijie stores differs.
absl::TimeZone ShanghaiTimeZone();
// The zone times are shown in and local times are read in, and its name for
// headers: --utc gives UTC; else $TZ when set and not empty (":" prefix
// allowed); else Asia/Shanghai. A $TZ that names no zone tzdata has (or a
// POSIX rule such as "CST-8", which absl does not read) gives UTC, as the C
// library does, with `unknown_tz` set so that the CLI can say so.
struct DisplayZone {
  absl::TimeZone zone;
  std::string name;  // "Asia/Shanghai", "UTC", or $TZ
  std::string unknown_tz;
};
DisplayZone ResolveDisplayZone(bool utc, const char* tz_env);
// Sets the zone ShortTime, LongTime and TimeHeader use (default: Shanghai).
void SetDisplayZone(const DisplayZone& zone);
const DisplayZone& CurrentDisplayZone();

// A timestamp in the display zone, "2026-12-01 08:00"; "-" when unset.
std::string ShortTime(const google::protobuf::Timestamp& ts);
// A timestamp to the second with its zone, "2026-12-01 08:00:00 +08:00"
// (or "... UTC"); "-" when unset.
std::string LongTime(const google::protobuf::Timestamp& ts);
// A column header naming the display zone: "EXPIRES (Asia/Shanghai)".
std::string TimeHeader(absl::string_view name);

// A server message with the times it gives in microseconds since the epoch
// ("1767225600000000 us since epoch is not after now (1767229200000000)")
// written as times in the display zone. Only messages that say they count
// microseconds since the epoch are touched, and in them only numbers of 13
// to 17 digits (the years 1970 + 3 months to 6000).
std::string HumanizeServerTimes(const std::string& message);

// Text from the server made safe for a terminal: control characters and
// bytes that are not UTF-8 escaped (\x1B, \n, \u009B), the rest as it is.
// The server refuses control characters in what it stores, but data stored
// before it did, or a server not this one, may still hold them; every cell
// of a Table goes through this, and so must any stored text printed
// outside one.
std::string Printable(const std::string& text);

// Terminal columns a UTF-8 string takes (CJK ideographs count 2).
size_t DisplayWidth(const std::string& s);

// An aligned text table. Columns whose header starts with '>' are
// right-aligned (the '>' is not printed).
class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  void AddRow(std::vector<std::string> cells);
  size_t rows() const { return rows_.size(); }
  // Prints the rows, after the header unless `header` is false; columns are
  // separated by two spaces.
  void Print(std::ostream& out, bool header = true) const;
  // The same as CSV (RFC 4180: a field with a comma, quote or line break is
  // quoted, quotes doubled), header first; in right-aligned columns the
  // thousands separators are dropped from numbers ("1,200.50" -> 1200.50),
  // so that spreadsheets read them as numbers.
  void PrintCsv(std::ostream& out) const;

 private:
  std::vector<std::string> headers_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

// Protobuf JSON with proto field names (quantity_kg), default values
// included, enums by name; every control character in a string escaped
// (protobuf escapes C0; DEL and C1 are escaped here too, as \u007f...).
// `pretty` adds indentation and newlines; otherwise one line (for streams: one
// JSON object per line).
std::string ToJson(const google::protobuf::Message& message, bool pretty);

}  // namespace duijie::cli

#endif  // DUIJIE_TOOLS_CLI_FORMAT_H_
