// Text from clients, made safe to echo and to print.
//
// Every value the server quotes back in an error message goes through
// EchoValue, so that a hostile value of many megabytes costs a short
// message, not a copy four times its size; every id, code and name the
// engine stores has passed CheckPlainText, so that it holds no control
// character a terminal would act on; and the CLI prints stored text
// through EscapeText, for data stored before that check existed.
#ifndef DUIJIE_ENGINE_TEXT_H_
#define DUIJIE_ENGINE_TEXT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace duijie {

// At most this many bytes of a value are quoted in an error message.
inline constexpr size_t kEchoPrefixBytes = 64;

// `text` with every control character (C0, DEL, C1), backslash, double
// quote and byte that is not part of valid UTF-8 written as an escape
// (\n, \t, \\, \", \xNN or \u0085): printable, one line, at most 4 times
// as long. Valid UTF-8 that is not a control character is kept.
std::string EscapeText(std::string_view text);

// `text` for a terminal: as EscapeText, but quotes and backslashes are
// kept, so ordinary text reads as it was written. For the CLI's tables and
// lines, where a stored name must not move the cursor or forge a row.
std::string PrintableText(std::string_view text);

// A value for an error message: its first kEchoPrefixBytes bytes (cut at a
// character boundary) escaped and quoted, and when it is longer, "..." and
// its length: "abc", or "abcd..." (1048576 bytes). At most about 4 x
// kEchoPrefixBytes + 30 bytes, whatever the value's size.
std::string EchoValue(std::string_view value);

// The byte offset of the first control character (U+0000..U+001F, U+007F,
// U+0080..U+009F) in `text`, or npos when there is none.
size_t FindControlCharacter(std::string_view text);

// INVALID_ARGUMENT naming `field` and echoing the value when `text` holds
// a control character; ids, codes, names and notes never may.
absl::Status CheckPlainText(std::string_view field, std::string_view text);

// INVALID_ARGUMENT naming `field` and `limit` when `text` is longer.
absl::Status CheckMaxBytes(std::string_view field, std::string_view text,
                           size_t limit);

// INVALID_ARGUMENT naming `field` and `limit` when `text` holds more than
// `limit` characters (UTF-8 code points; `text` is UTF-8, as every string
// a request carries).
absl::Status CheckMaxCharacters(std::string_view field, std::string_view text,
                                size_t limit);

// `n` with its thousands grouped, as people read figures: 1200 -> "1,200",
// -1200 -> "-1,200" (INT64_MIN included).
std::string GroupThousands(int64_t n);

// Whether `text` is well-formed UTF-8 (no overlong forms, no surrogates,
// nothing above U+10FFFF), as protobuf requires of a string field.
bool IsValidUtf8(std::string_view text);

}  // namespace duijie

#endif  // DUIJIE_ENGINE_TEXT_H_
