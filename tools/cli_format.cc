// Output formatting for the duijie CLI. See cli_format.h.
#include "tools/cli_format.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "engine/text.h"
#include "google/protobuf/util/json_util.h"

namespace duijie::cli {
namespace {

// |n| as unsigned, safe for INT64_MIN.
uint64_t Magnitude(int64_t n) {
  return n < 0 ? uint64_t{0} - static_cast<uint64_t>(n)
               : static_cast<uint64_t>(n);
}

std::string GroupUnsigned(uint64_t u) {
  std::string digits = absl::StrCat(u);
  std::string out;
  size_t lead = digits.size() % 3;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (i + 3 - lead) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

absl::Time ToTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

bool IsUnset(const google::protobuf::Timestamp& ts) {
  return ts.seconds() == 0 && ts.nanos() == 0;
}

// True for code points that terminals draw two columns wide.
bool IsWide(uint32_t cp) {
  return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
         (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
         (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
         (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD);
}

// `json` with DEL and the C1 controls (U+0080..U+009F) written as \u
// escapes. Outside strings JSON holds only printable ASCII, so every such
// character is inside a string, where the escape means the same.
std::string EscapeJsonControls(const std::string& json) {
  std::string out;
  out.reserve(json.size());
  for (size_t i = 0; i < json.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(json[i]);
    if (c == 0x7F) {
      out += "\\u007f";
    } else if (c == 0xC2 && i + 1 < json.size() &&
               static_cast<unsigned char>(json[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(json[i + 1]) <= 0x9F) {
      absl::StrAppendFormat(&out, "\\u%04x",
                            static_cast<unsigned char>(json[i + 1]));
      ++i;
    } else {
      out.push_back(json[i]);
    }
  }
  return out;
}

}  // namespace

std::string GroupThousands(int64_t n) {
  return absl::StrCat(n < 0 ? "-" : "", GroupUnsigned(Magnitude(n)));
}

std::string Kg(int64_t kg) { return GroupThousands(kg); }

std::string Yuan(int64_t fen) {
  uint64_t u = Magnitude(fen);
  uint64_t cents = u % 100;
  return absl::StrCat(fen < 0 ? "-" : "", GroupUnsigned(u / 100),
                      cents < 10 ? ".0" : ".", cents);
}

std::string ShortTime(const google::protobuf::Timestamp& ts) {
  if (IsUnset(ts)) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M", ToTime(ts), absl::UTCTimeZone());
}

std::string LongTime(const google::protobuf::Timestamp& ts) {
  if (IsUnset(ts)) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", ToTime(ts),
                          absl::UTCTimeZone());
}

size_t DisplayWidth(const std::string& s) {
  size_t width = 0;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    uint32_t cp = c;
    size_t len = 1;
    if (c >= 0xF0) {
      cp = c & 0x07;
      len = 4;
    } else if (c >= 0xE0) {
      cp = c & 0x0F;
      len = 3;
    } else if (c >= 0xC0) {
      cp = c & 0x1F;
      len = 2;
    }
    for (size_t k = 1; k < len && i + k < s.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    }
    i += len;
    width += IsWide(cp) ? 2 : 1;
  }
  return width;
}

Table::Table(std::vector<std::string> headers) {
  for (std::string& h : headers) {
    bool right = !h.empty() && h[0] == '>';
    right_.push_back(right);
    headers_.push_back(right ? h.substr(1) : std::move(h));
  }
}

std::string Printable(const std::string& text) { return PrintableText(text); }

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  for (std::string& cell : cells) cell = Printable(cell);
  rows_.push_back(std::move(cells));
}

void Table::Print(std::ostream& out, bool header) const {
  std::vector<size_t> widths(headers_.size());
  for (size_t c = 0; c < headers_.size(); ++c) {
    widths[c] = header ? DisplayWidth(headers_[c]) : 0;
    for (const auto& row : rows_) {
      widths[c] = std::max(widths[c], DisplayWidth(row[c]));
    }
  }
  auto print_row = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t c = 0; c < cells.size(); ++c) {
      std::string pad(widths[c] - DisplayWidth(cells[c]), ' ');
      if (c > 0) line += "  ";
      if (right_[c]) {
        line += pad + cells[c];
      } else if (c + 1 < cells.size()) {
        line += cells[c] + pad;
      } else {
        line += cells[c];  // no trailing spaces on the last column
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << '\n';
  };
  if (header) print_row(headers_);
  for (const auto& row : rows_) print_row(row);
}

std::string ToJson(const google::protobuf::Message& message, bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  options.always_print_primitive_fields = true;
  options.always_print_enums_as_ints = false;
  options.preserve_proto_field_names = true;
  std::string out;
  auto status =
      google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok())
    return absl::StrCat("{\"error\": \"", status.ToString(), "\"}\n");
  if (out.empty() || out.back() != '\n') out.push_back('\n');
  return EscapeJsonControls(out);
}

}  // namespace duijie::cli
