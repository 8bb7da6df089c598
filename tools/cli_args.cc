// Flag parsing for the duijie CLI. See cli_args.h.
#include "tools/cli_args.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"

namespace duijie::cli {
namespace {

const FlagSpec* FindFlag(const CommandSpec& spec, absl::string_view name) {
  for (const FlagSpec* flag : spec.flags) {
    if (flag->name() == name) return flag;
  }
  return nullptr;
}

}  // namespace

const std::string* Args::Find(const FlagSpec& flag) {
  bool declared = false;
  for (const FlagSpec* f : spec_->flags) declared |= f == &flag;
  if (!declared) {
    std::string command = spec_->name.empty()
                              ? spec_->group
                              : absl::StrCat(spec_->group, " ", spec_->name);
    std::string message =
        absl::StrCat("'duijie ", command, "' reads --", flag.name(),
                     ", which is not one of its flags (a bug in duijie)");
#ifndef NDEBUG
    // Stop at the faulty read, where a debugger or core dump shows it.
    std::cerr << "error: " << message << "\n";
    std::abort();
#endif
    // The first misread replaces any usage error: fixing the command line
    // would not help, and the handler must not go on to call the server.
    if (!misread_) error_ = message;
    misread_ = true;
    return nullptr;
  }
  auto it = values_.find(flag.name());
  return it == values_.end() ? nullptr : &it->second;
}

bool Args::Has(const FlagSpec& flag) { return Find(flag) != nullptr; }

std::vector<std::string> Args::GetAll(const Flag<std::string>& flag) {
  if (Find(flag) == nullptr) return {};
  auto it = all_values_.find(flag.name());
  return it == all_values_.end() ? std::vector<std::string>() : it->second;
}

std::string Args::Get(const Flag<std::string>& flag, const std::string& def) {
  const std::string* text = Find(flag);
  return text == nullptr ? def : *text;
}

void Args::AddError(const std::string& message) {
  if (error_.empty()) error_ = message;
}

int64_t Args::Get(const Flag<int64_t>& flag, int64_t def) {
  const std::string* text = Find(flag);
  if (text == nullptr) return def;
  int64_t v;
  std::string why;
  if (ParseDecimal(*text, 0, &v, &why)) return v;
  // A decimal where whole fen or kg are wanted is most likely yuan or
  // tonnes: point at the flag that takes them.
  const std::string name(flag.name());
  std::string hint;
  int64_t scaled;
  if (absl::EndsWith(name, "-fen") && ParseDecimal(*text, 2, &scaled, &why)) {
    const std::string yuan =
        absl::StrCat(name.substr(0, name.size() - 3), "yuan");
    for (const FlagSpec* f : spec_->flags) {
      if (f->name() == yuan) {
        hint = absl::StrCat(": did you mean --", yuan, " ", *text, "? (--",
                            name, " takes whole fen: ", scaled, ")");
      }
    }
  } else if (name == "kg" && !text->empty() &&
             (text->back() == 't' || text->back() == 'T') &&
             ParseDecimal(absl::string_view(*text).substr(0, text->size() - 1),
                          3, &scaled, &why)) {
    for (const FlagSpec* f : spec_->flags) {
      if (f->name() == "t") {
        hint = absl::StrCat(": did you mean --t ",
                            text->substr(0, text->size() - 1), "?");
      }
    }
  }
  if (!hint.empty()) {
    AddError(absl::StrCat(*text, " for --", name, hint));
  } else {
    AddError(absl::StrCat("--", name, ": not a whole number: '", *text, "'"));
  }
  return def;
}

std::optional<int64_t> Args::Get(const Flag<InYuan>& flag) {
  const std::string* text = Find(flag);
  if (text == nullptr) return std::nullopt;
  int64_t fen;
  std::string why;
  if (!ParseDecimal(*text, 2, &fen, &why)) {
    AddError(absl::StrCat("--", flag.name(), ": '", *text,
                          "' is not an amount in yuan like 68, 75.50 or "
                          "1,200,000 (",
                          why, ")"));
    return std::nullopt;
  }
  return fen;
}

std::optional<int64_t> Args::Get(const Flag<InTonnes>& flag) {
  const std::string* text = Find(flag);
  if (text == nullptr) return std::nullopt;
  int64_t kg;
  std::string why;
  if (!ParseDecimal(*text, 3, &kg, &why)) {
    AddError(absl::StrCat("--", flag.name(), ": '", *text,
                          "' is not a weight in tonnes like 50 or 2.5 (", why,
                          ")"));
    return std::nullopt;
  }
  return kg;
}

uint64_t Args::Get(const Flag<uint64_t>& flag, uint64_t def) {
  const std::string* text = Find(flag);
  if (text == nullptr) return def;
  uint64_t v;
  if (!absl::SimpleAtoi(*text, &v)) {
    AddError(absl::StrCat("--", flag.name(),
                          ": not a non-negative whole number: '", *text, "'"));
    return def;
  }
  return v;
}

int32_t Args::Get(const Flag<int32_t>& flag, int32_t def) {
  const std::string* text = Find(flag);
  if (text == nullptr) return def;
  // Thousands separators as the tables print them (1,000), as for kg.
  int64_t v;
  std::string why;
  if (!ParseDecimal(*text, 0, &v, &why) ||
      v < std::numeric_limits<int32_t>::min() ||
      v > std::numeric_limits<int32_t>::max()) {
    AddError(absl::StrCat("--", flag.name(), ": not a whole number in range: '",
                          *text, "'"));
    return def;
  }
  return static_cast<int32_t>(v);
}

bool Args::Get(const Flag<bool>& flag) {
  const std::string* text = Find(flag);
  if (text == nullptr) return false;
  bool v;
  if (!absl::SimpleAtob(*text, &v)) {
    AddError(absl::StrCat("--", flag.name(), ": expected true or false, got '",
                          *text, "'"));
    return false;
  }
  return v;
}

std::optional<absl::Time> Args::Get(const Flag<absl::Time>& flag) {
  const std::string* text = Find(flag);
  if (text == nullptr) return std::nullopt;
  absl::Time t;
  std::optional<absl::Duration> relative;
  if (!ParseTimeArg(*text, zone_, now_, flag.date_means(), &t, &relative)) {
    AddError(absl::StrCat(
        "--", flag.name(), ": '", *text,
        "' is not a time: give a date (2026-12-20), a local time "
        "(2026-12-20 18:00), RFC 3339 (2026-12-20T18:00:00+08:00) or a "
        "duration from now (72h, 3d, 90m)"));
    return std::nullopt;
  }
  return t;
}

std::optional<absl::Duration> Args::GetRelative(const Flag<absl::Time>& flag) {
  const std::string* text = Find(flag);
  if (text == nullptr) return std::nullopt;
  absl::Time t;
  std::optional<absl::Duration> relative;
  if (!ParseTimeArg(*text, zone_, now_, flag.date_means(), &t, &relative)) {
    return std::nullopt;
  }
  return relative;
}

std::optional<absl::Duration> Args::Get(const Flag<absl::Duration>& flag) {
  const std::string* text = Find(flag);
  if (text == nullptr) return std::nullopt;
  absl::Duration d;
  if (!ParseDurationWithDays(*text, &d) || d <= absl::ZeroDuration()) {
    AddError(absl::StrCat("--", flag.name(),
                          ": not a positive duration like 72h, 3d or 90m: '",
                          *text, "'"));
    return std::nullopt;
  }
  return d;
}

uint64_t Args::PositionalId() {
  uint64_t id = 0;
  if (positionals_.empty() || !absl::SimpleAtoi(positionals_[0], &id) ||
      id == 0) {
    AddError(absl::StrCat("expected a numeric id (1, 2, ...), got '",
                          positionals_.empty() ? "" : positionals_[0], "'"));
    return 0;
  }
  return id;
}

bool ParseDurationWithDays(const std::string& text, absl::Duration* out) {
  // Split off a leading "<n>d" part; absl::ParseDuration has no day unit.
  absl::string_view rest = text;
  absl::Duration days = absl::ZeroDuration();
  size_t d = rest.find('d');
  if (d != absl::string_view::npos) {
    int64_t n;
    if (!absl::SimpleAtoi(rest.substr(0, d), &n) || n < 0) return false;
    days = absl::Hours(24) * n;
    rest.remove_prefix(d + 1);
    if (rest.empty()) {
      *out = days;
      return true;
    }
  }
  absl::Duration tail;
  if (!absl::ParseDuration(rest, &tail)) return false;
  *out = days + tail;
  return true;
}

std::optional<Args> ParseArgs(const CommandSpec& spec,
                              const std::vector<std::string>& argv,
                              std::string* error) {
  Args args(spec);
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& word = argv[i];
    if (word.size() < 3 || word.compare(0, 2, "--") != 0) {
      // A word like "-5" is a (negative) value, not a flag.
      if (!word.empty() && word[0] == '-' && word != "-" &&
          !absl::ascii_isdigit(static_cast<unsigned char>(word.back()))) {
        *error = absl::StrCat("unknown flag '", word, "'");
        return std::nullopt;
      }
      args.positionals_.push_back(word);
      continue;
    }
    std::string name = word.substr(2);
    std::optional<std::string> value;
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    const FlagSpec* flag = FindFlag(spec, name);
    if (flag == nullptr) {
      std::vector<std::string> known = GlobalFlagNames();
      for (const FlagSpec* f : spec.flags) known.emplace_back(f->name());
      const std::string nearest = NearestWord(name, known);
      *error = absl::StrCat(
          "unknown flag '--", name, "' for '", spec.group,
          spec.name.empty() ? "" : " ", spec.name, "'",
          nearest.empty() ? ""
                          : absl::StrCat("; did you mean --", nearest, "?"));
      return std::nullopt;
    }
    if (!value.has_value()) {
      if (flag->value().empty()) {
        value = "true";
      } else if (i + 1 < argv.size()) {
        value = argv[++i];
      } else {
        *error = absl::StrCat("flag '--", name, "' needs a value (",
                              flag->value(), ")");
        return std::nullopt;
      }
    }
    if (args.values_.count(name) > 0 && !flag->repeated()) {
      *error = absl::StrCat("flag '--", name, "' given twice");
      return std::nullopt;
    }
    args.values_[name] = *value;
    if (flag->repeated()) args.all_values_[name].push_back(*value);
  }
  for (const FlagSpec* flag : spec.flags) {
    if (flag->required() && !args.Has(*flag)) {
      *error = absl::StrCat("missing required flag --", flag->name(), " ",
                            flag->value());
      return std::nullopt;
    }
  }
  size_t want = spec.positional.empty() ? 0 : 1;
  if (args.positionals_.size() != want) {
    if (want == 0) {
      *error = absl::StrCat("unexpected argument '", args.positionals_[0], "'");
    } else if (args.positionals_.empty()) {
      *error = absl::StrCat("missing ", spec.positional);
    } else {
      *error = absl::StrCat("expected one ", spec.positional, ", got ",
                            args.positionals_.size());
    }
    return std::nullopt;
  }
  return args;
}

bool ParseDecimal(absl::string_view text, int decimals, int64_t* out,
                  std::string* why) {
  absl::string_view s = absl::StripAsciiWhitespace(text);
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  absl::string_view whole = s, fraction;
  bool has_point = false;
  if (size_t point = s.find('.'); point != absl::string_view::npos) {
    whole = s.substr(0, point);
    fraction = s.substr(point + 1);
    has_point = true;
  }
  if (whole.empty() || (has_point && fraction.empty())) {
    *why = "not a number";
    return false;
  }
  // Digits, optionally grouped by commas in threes: 1,200,000.
  std::string digits;
  const bool grouped = absl::StrContains(whole, ',');
  size_t group = 0;
  for (size_t i = 0; i < whole.size(); ++i) {
    const char c = whole[i];
    if (c == ',') {
      if (i == 0 || (digits.size() > 3 && group != 3) ||
          (digits.size() <= 3 && group == 0)) {
        *why = "commas group thousands, as in 1,200,000";
        return false;
      }
      group = 0;
      continue;
    }
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      *why = "not a number";
      return false;
    }
    digits.push_back(c);
    ++group;
  }
  if (grouped && group != 3) {
    *why = "commas group thousands, as in 1,200,000";
    return false;
  }
  for (char c : fraction) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      *why = "not a number";
      return false;
    }
  }
  if (fraction.size() > static_cast<size_t>(decimals)) {
    *why = decimals == 0 ? "a whole number is needed"
                         : absl::StrCat("at most ", decimals, " decimal",
                                        decimals == 1 ? "" : "s");
    return false;
  }
  digits.append(fraction.data(), fraction.size());
  digits.append(decimals - fraction.size(), '0');
  // Accumulate as a negative number, so that INT64_MIN fits too.
  int64_t value = 0;
  for (char c : digits) {
    if (__builtin_mul_overflow(value, 10, &value) ||
        __builtin_sub_overflow(value, c - '0', &value)) {
      *why = "too large";
      return false;
    }
  }
  if (!negative && value == INT64_MIN) {
    *why = "too large";
    return false;
  }
  *out = negative ? value : -value;
  return true;
}

bool ParseTimeArg(absl::string_view text, absl::TimeZone zone, absl::Time now,
                  DateMeans date_means, absl::Time* out,
                  std::optional<absl::Duration>* relative) {
  const std::string s(absl::StripAsciiWhitespace(text));
  relative->reset();
  std::string err;
  absl::Time t;
  if (absl::ParseTime(absl::RFC3339_full, s, &t, &err)) {
    *out = t;
    return true;
  }
  // A date: midnight starting it, or the midnight ending it.
  if (absl::ParseTime("%Y-%m-%d", s, zone, &t, &err)) {
    if (date_means == DateMeans::kEndOfDay) {
      const absl::CivilDay day = absl::ToCivilDay(t, zone) + 1;
      t = absl::FromCivil(day, zone);
    }
    *out = t;
    return true;
  }
  for (const char* format : {"%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S",
                             "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"}) {
    if (absl::ParseTime(format, s, zone, &t, &err)) {
      *out = t;
      return true;
    }
  }
  absl::Duration d;
  if (ParseDurationWithDays(s, &d) && d > absl::ZeroDuration()) {
    *relative = d;
    *out = now + d;
    return true;
  }
  return false;
}

size_t EditDistance(absl::string_view a, absl::string_view b) {
  // Optimal string alignment: insertions, deletions, substitutions and
  // swaps of two neighbours ("lsit" is one edit from "list") each cost 1.
  std::vector<std::vector<size_t>> d(a.size() + 1,
                                     std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1,
                          d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::string NearestWord(absl::string_view word,
                        const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = SIZE_MAX;
  for (const std::string& c : candidates) {
    const size_t d = EditDistance(word, c);
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  if (best_distance == 0 || best_distance > 2 ||
      best_distance * 2 >= word.size()) {
    return "";
  }
  return best;
}

const std::vector<std::string>& GlobalFlagNames() {
  static const auto* names = new std::vector<std::string>{
      "server",  "key_file", "context",  "output",  "json",    "utc",
      "timeout", "tls_ca",   "tls_cert", "tls_key", "version", "help"};
  return *names;
}

namespace {

// Request fields and the flags that set them, by the field's last
// component. Where two flags set one field, the first is the default name
// and the other one is named when the user gave it.
struct FieldFlags {
  const char* field;
  std::vector<const char*> flags;
};

const std::vector<FieldFlags>& FieldTable() {
  static const auto* table = new std::vector<FieldFlags>{
      {"quantity_kg", {"kg", "t"}},
      {"floor_price_fen_per_kg", {"floor-fen", "floor-yuan"}},
      {"max_price_fen_per_kg", {"max-fen", "max-yuan"}},
      {"budget_fen", {"budget-fen", "budget-yuan"}},
      {"annual_target_fen", {"target-fen", "target-yuan"}},
      {"min_lot_kg", {"min-lot-kg"}},
      {"region_codes", {"regions"}},
      {"region_code", {"region"}},
      {"product_code", {"product"}},
      {"product_code_prefix", {"product"}},
      {"region_code_prefix", {"region", "city"}},
      {"code_prefix", {"prefix"}},
      {"supplier_id", {"supplier"}},
      {"buyer_id", {"buyer", "id"}},
      {"buyer_city_code", {"city"}},
      {"city_code", {"city"}},
      {"city_code_prefix", {"city"}},
      {"buyer_kind", {"kind"}},
      {"kind", {"kind"}},
      {"alliance_id", {"alliance"}},
      {"members", {"member"}},
      {"grade", {"grade"}},
      {"min_grade", {"min-grade"}},
      {"scope", {"scope"}},
      // A relative expiry becomes expires_at when the server applies it.
      {"expires_at", {"expires", "expires-in"}},
      {"expires_in", {"expires-in"}},
      {"until", {"until"}},
      {"households", {"households"}},
      {"ship_within", {"ship-within"}},
      {"accept_within", {"accept-within"}},
      {"shipped_kg", {"kg"}},
      {"accepted_kg", {"kg"}},
      {"note", {"note"}},
      {"reason", {"reason"}},
      {"name", {"name"}},
      {"code", {"code"}},
      {"perishability", {"perishability"}},
      {"shelf_life", {"shelf-life"}},
      {"unit_note", {"unit"}},
      {"east_code", {"east"}},
      {"west_code", {"west"}},
      {"after_event_id", {"after-event"}},
      {"after_match_id", {"after"}},
      {"page_size", {"page-size"}},
      {"page_token", {"page-token"}},
      {"year", {"year"}},
      {"request_id", {"request-id"}},
  };
  return *table;
}

}  // namespace

std::string FlagWordsForFieldError(const Args& args,
                                   const std::string& message) {
  const size_t colon = message.find(": ");
  if (colon == std::string::npos) return message;
  const std::string path = message.substr(0, colon);
  if (path.empty() || path.find(' ') != std::string::npos) return message;
  return FlagWordsForFieldError(args, path, message.substr(colon + 2), message);
}

std::string FlagWordsForFieldError(const Args& args, const std::string& path,
                                   const std::string& reason,
                                   const std::string& message) {
  if (path.empty()) return message;
  absl::string_view field = path;
  // "pledge.region_codes[2]" -> "region_codes".
  if (size_t bracket = field.find('['); bracket != absl::string_view::npos) {
    field = field.substr(0, bracket);
  }
  if (size_t dot = field.rfind('.'); dot != absl::string_view::npos) {
    field = field.substr(dot + 1);
  }
  for (const FieldFlags& entry : FieldTable()) {
    if (field != entry.field) continue;
    std::string flag;
    for (const char* name : entry.flags) {
      bool declared = false;
      for (const FlagSpec* f : args.spec().flags) declared |= f->name() == name;
      if (!declared) continue;
      if (flag.empty() || args.Given(name)) flag = name;
      if (args.Given(name)) break;
    }
    if (flag.empty()) return message;
    // The one rule a user meets most often, in the CLI's own terms.
    if (flag == "regions" &&
        absl::StrContains(reason, "is empty but scope is LISTED_REGIONS")) {
      return absl::StrCat(
          "--regions is required with --scope listed (server: ", message, ")");
    }
    // The server's figures are fen, whatever the flag took.
    const bool yuan = absl::EndsWith(flag, "-yuan");
    return absl::StrCat("--", flag, ": ", reason, " (field ", path,
                        yuan ? "; amounts in fen, 100 fen = 1 yuan" : "", ")");
  }
  return message;
}

}  // namespace duijie::cli
