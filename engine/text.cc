// Escaping and checking client text. See text.h.
#include "engine/text.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/codes.h"

namespace duijie {
namespace {

// The length of the well-formed UTF-8 sequence at text[i] (1 to 4), with
// its code point in *cp; 0 when the bytes there are not well-formed.
size_t DecodeUtf8(std::string_view text, size_t i, uint32_t* cp) {
  const unsigned char c = static_cast<unsigned char>(text[i]);
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t len;
  uint32_t value, min;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2, value = c & 0x1F, min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3, value = c & 0x0F, min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4, value = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (text.size() - i < len) return 0;
  for (size_t k = 1; k < len; ++k) {
    const unsigned char t = static_cast<unsigned char>(text[i + k]);
    if ((t & 0xC0) != 0x80) return 0;
    value = (value << 6) | (t & 0x3F);
  }
  if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF))
    return 0;
  *cp = value;
  return len;
}

bool IsControl(uint32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

// EscapeText, and with `quotes` false PrintableText.
std::string Escape(std::string_view text, bool quotes) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    uint32_t cp = 0;
    const size_t len = DecodeUtf8(text, i, &cp);
    if (len == 0) {
      absl::StrAppendFormat(&out, "\\x%02X",
                            static_cast<unsigned char>(text[i]));
      ++i;
      continue;
    }
    switch (cp) {
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\\':
        out += quotes ? "\\\\" : "\\";
        break;
      case '"':
        out += quotes ? "\\\"" : "\"";
        break;
      default:
        if (cp < 0x80 && IsControl(cp)) {
          absl::StrAppendFormat(&out, "\\x%02X", cp);
        } else if (IsControl(cp)) {
          absl::StrAppendFormat(&out, "\\u%04X", cp);
        } else {
          out.append(text.substr(i, len));
        }
    }
    i += len;
  }
  return out;
}

}  // namespace

std::string EscapeText(std::string_view text) {
  return Escape(text, /*quotes=*/true);
}

std::string PrintableText(std::string_view text) {
  return Escape(text, /*quotes=*/false);
}

std::string EchoValue(std::string_view value) {
  if (value.size() <= kEchoPrefixBytes) {
    return absl::StrCat("\"", EscapeText(value), "\"");
  }
  size_t cut = kEchoPrefixBytes;
  // Back off over continuation bytes so as not to split a character (at
  // most three: a longer run is not UTF-8, and is escaped byte by byte).
  for (int k = 0;
       k < 3 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80; ++k) {
    --cut;
  }
  return absl::StrCat("\"", EscapeText(value.substr(0, cut)), "...\" (",
                      value.size(), " bytes)");
}

namespace {

// Whether the 8 bytes at `p` are all printable ASCII (0x20..0x7E), tested
// together: for bytes under 0x80, a byte's high bit survives x - 0x20 (or
// (x ^ 0x7F) - 1) only when the byte is under 0x20 (or is 0x7F).
bool EightPrintableAscii(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, sizeof w);
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHigh = 0x8080808080808080ull;
  const uint64_t below_space = (w - 0x20 * kOnes) & ~w;
  const uint64_t del = w ^ (0x7F * kOnes);
  const uint64_t is_del = (del - kOnes) & ~del;
  return ((w | below_space | is_del) & kHigh) == 0;
}

}  // namespace

size_t FindControlCharacter(std::string_view text) {
  // Ids and codes are nearly always printable ASCII: skip it a word at a
  // time, then look at the rest byte by byte (every command checks its
  // strings, so this is on the engine's hot path).
  size_t start = 0;
  while (start + 8 <= text.size() && EightPrintableAscii(text.data() + start)) {
    start += 8;
  }
  for (size_t i = start; i < text.size();) {
    // ASCII needs no decoding.
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      if (b < 0x20 || b == 0x7f) return i;
      ++i;
      continue;
    }
    uint32_t cp = 0;
    const size_t len = DecodeUtf8(text, i, &cp);
    if (len == 0) {
      ++i;  // not UTF-8 at all: not this function's concern
      continue;
    }
    if (IsControl(cp)) return i;
    i += len;
  }
  return std::string_view::npos;
}

std::string GroupThousands(int64_t n) {
  // |n| as unsigned, safe for INT64_MIN.
  const uint64_t u =
      n < 0 ? uint64_t{0} - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
  const std::string digits = absl::StrCat(u);
  std::string out = n < 0 ? "-" : "";
  const size_t count = digits.size();
  for (size_t i = 0; i < count; ++i) {
    if (i > 0 && (count - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

absl::Status CheckPlainText(std::string_view field, std::string_view text) {
  const size_t at = FindControlCharacter(text);
  if (at == std::string_view::npos) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      Absl(field), ": ", EchoValue(text), " holds a control character at byte ",
      at,
      "; control characters (U+0000..U+001F, U+007F..U+009F) are not "
      "allowed"));
}

absl::Status CheckMaxBytes(std::string_view field, std::string_view text,
                           size_t limit) {
  if (text.size() <= limit) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(Absl(field), ": ", EchoValue(text), " is ", text.size(),
                   " bytes; at most ", limit, " allowed"));
}

absl::Status CheckMaxCharacters(std::string_view field, std::string_view text,
                                size_t limit) {
  // Every byte but a continuation byte (10xxxxxx) starts a code point.
  size_t characters = 0;
  for (const char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++characters;
  }
  if (characters <= limit) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(Absl(field), ": ", EchoValue(text), " is ", characters,
                   " characters; at most ", limit, " allowed"));
}

bool IsValidUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    uint32_t cp = 0;
    const size_t len = DecodeUtf8(text, i, &cp);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

}  // namespace duijie
