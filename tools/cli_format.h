// Output formatting for the duijie CLI: money and weight as people read them,
// UTC times, aligned text tables (CJK-aware), and protobuf JSON for scripts.
//
// Money is integer fen throughout; it is shown as yuan with two decimals
// using integer arithmetic only (no floating point anywhere).
#ifndef DUIJIE_TOOLS_CLI_FORMAT_H_
#define DUIJIE_TOOLS_CLI_FORMAT_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"

namespace duijie::cli {

// 1234567 -> "1,234,567"; negative numbers keep their sign.
std::string GroupThousands(int64_t n);
// Whole kilograms: 12000 -> "12,000".
std::string Kg(int64_t kg);
// Fen as yuan with two decimals: 123456 -> "1,234.56", -5 -> "-0.05".
std::string Yuan(int64_t fen);
// A timestamp in UTC, "2026-12-01 00:00"; "-" when unset.
std::string ShortTime(const google::protobuf::Timestamp& ts);
// A timestamp to the second, "2026-12-01 00:00:00 UTC"; "-" when unset.
std::string LongTime(const google::protobuf::Timestamp& ts);

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
