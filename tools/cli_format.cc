// Output formatting for the duijie CLI. See cli_format.h.
#include "tools/cli_format.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "engine/text.h"
#include "google/protobuf/util/json_util.h"

namespace duijie::cli {
namespace {

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

const char* StatusCodeName(int code) {
  // Indexed by grpc::StatusCode, which numbers its codes 0..16.
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  constexpr int kCount = sizeof(kNames) / sizeof(kNames[0]);
  return code >= 0 && code < kCount ? kNames[code] : "UNKNOWN";
}

std::string Kg(int64_t kg) { return GroupThousands(kg); }

std::string Yuan(int64_t fen) {
  // |fen| as unsigned, safe for INT64_MIN; its yuan fit an int64.
  const uint64_t u = fen < 0 ? uint64_t{0} - static_cast<uint64_t>(fen)
                             : static_cast<uint64_t>(fen);
  const uint64_t cents = u % 100;
  return absl::StrCat(fen < 0 ? "-" : "",
                      GroupThousands(static_cast<int64_t>(u / 100)),
                      cents < 10 ? ".0" : ".", cents);
}

std::string Count(int64_t n, absl::string_view singular,
                  absl::string_view plural) {
  if (n == 1) return absl::StrCat("1 ", singular);
  return absl::StrCat(
      GroupThousands(n), " ",
      plural.empty() ? absl::StrCat(singular, "s") : std::string(plural));
}

absl::TimeZone ShanghaiTimeZone() {
  absl::TimeZone zone;
  if (absl::LoadTimeZone("Asia/Shanghai", &zone)) return zone;
  return absl::FixedTimeZone(8 * 60 * 60);
}

DisplayZone ResolveDisplayZone(bool utc, const char* tz_env) {
  if (utc) return {absl::UTCTimeZone(), "UTC", ""};
  if (tz_env != nullptr && *tz_env != '\0') {
    std::string name = tz_env;
    if (name[0] == ':') name.erase(0, 1);
    absl::TimeZone zone;
    if (!absl::LoadTimeZone(name, &zone)) {
      return {absl::UTCTimeZone(), "UTC", name};
    }
    return {zone, name, ""};
  }
  return {ShanghaiTimeZone(), "Asia/Shanghai", ""};
}

namespace {
DisplayZone& MutableDisplayZone() {
  static auto* zone = new DisplayZone{ShanghaiTimeZone(), "Asia/Shanghai", ""};
  return *zone;
}
}  // namespace

void SetDisplayZone(const DisplayZone& zone) { MutableDisplayZone() = zone; }
const DisplayZone& CurrentDisplayZone() { return MutableDisplayZone(); }

std::string ShortTime(const google::protobuf::Timestamp& ts) {
  if (IsUnset(ts)) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M", ToTime(ts),
                          CurrentDisplayZone().zone);
}

std::string LongTime(const google::protobuf::Timestamp& ts) {
  if (IsUnset(ts)) return "-";
  const DisplayZone& dz = CurrentDisplayZone();
  const absl::Time t = ToTime(ts);
  if (dz.zone.At(t).offset == 0 && dz.name == "UTC") {
    return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", t, dz.zone);
  }
  return absl::FormatTime("%Y-%m-%d %H:%M:%S %Ez", t, dz.zone);
}

std::string TimeHeader(absl::string_view name) {
  return absl::StrCat(name, " (", CurrentDisplayZone().name, ")");
}

std::string HumanizeServerTimes(const std::string& message) {
  if (!absl::StrContains(message, "since epoch") &&
      !absl::StrContains(message, "since the epoch")) {
    return message;
  }
  std::string out;
  bool converted = false;
  for (size_t i = 0; i < message.size();) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(message[i])) ||
        (i > 0 &&
         absl::ascii_isalnum(static_cast<unsigned char>(message[i - 1])))) {
      out.push_back(message[i++]);
      continue;
    }
    size_t end = i;
    while (end < message.size() &&
           absl::ascii_isdigit(static_cast<unsigned char>(message[end]))) {
      ++end;
    }
    const absl::string_view digits =
        absl::string_view(message).substr(i, end - i);
    int64_t micros;
    if (digits.size() >= 13 && digits.size() <= 17 &&
        absl::SimpleAtoi(digits, &micros)) {
      google::protobuf::Timestamp ts;
      ts.set_seconds(micros / 1000000);
      ts.set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
      out += LongTime(ts);
      converted = true;
    } else {
      out.append(digits.data(), digits.size());
    }
    i = end;
  }
  if (!converted) return message;
  for (const char* unit : {" us since the epoch", " us since epoch"}) {
    out = absl::StrReplaceAll(out, {{unit, ""}});
  }
  return out;
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

namespace {

std::string CsvField(const std::string& cell) {
  if (cell.find_first_of(",\"\r\n") == std::string::npos) return cell;
  std::string out = "\"";
  for (char c : cell) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// "1,200.50" -> "1200.50"; anything but a grouped number as it is.
std::string Ungrouped(const std::string& cell) {
  for (char c : cell) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != ',' &&
        c != '.' && c != '-') {
      return cell;
    }
  }
  return absl::StrReplaceAll(cell, {{",", ""}});
}

}  // namespace

void Table::PrintCsv(std::ostream& out) const {
  auto print_row = [&](const std::vector<std::string>& cells, bool numbers) {
    std::string line;
    for (size_t c = 0; c < cells.size(); ++c) {
      if (c > 0) line.push_back(',');
      line += CsvField(numbers && right_[c] ? Ungrouped(cells[c]) : cells[c]);
    }
    out << line << "\r\n";
  };
  print_row(headers_, false);
  for (const auto& row : rows_) print_row(row, true);
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
