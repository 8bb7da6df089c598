// Flag parsing for the duijie CLI. See cli_args.h.
#include "tools/cli_args.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace duijie::cli {
namespace {

const FlagSpec* FindFlag(const CommandSpec& spec, const std::string& name) {
  for (const FlagSpec& flag : spec.flags) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

}  // namespace

std::string Args::Str(const std::string& name, const std::string& def) const {
  auto it = values_.find(name);
  return it == values_.end() ? def : it->second;
}

void Args::AddError(const std::string& message) {
  if (error_.empty()) error_ = message;
}

int64_t Args::Int64(const std::string& name, int64_t def) {
  auto it = values_.find(name);
  if (it == values_.end()) return def;
  int64_t v;
  if (!absl::SimpleAtoi(it->second, &v)) {
    AddError(
        absl::StrCat("--", name, ": not a whole number: '", it->second, "'"));
    return def;
  }
  return v;
}

uint64_t Args::Uint64(const std::string& name, uint64_t def) {
  auto it = values_.find(name);
  if (it == values_.end()) return def;
  uint64_t v;
  if (!absl::SimpleAtoi(it->second, &v)) {
    AddError(absl::StrCat("--", name, ": not a non-negative whole number: '",
                          it->second, "'"));
    return def;
  }
  return v;
}

int32_t Args::Int32(const std::string& name, int32_t def) {
  auto it = values_.find(name);
  if (it == values_.end()) return def;
  int32_t v;
  if (!absl::SimpleAtoi(it->second, &v)) {
    AddError(absl::StrCat("--", name, ": not a whole number in range: '",
                          it->second, "'"));
    return def;
  }
  return v;
}

bool Args::Bool(const std::string& name) {
  auto it = values_.find(name);
  if (it == values_.end()) return false;
  bool v;
  if (!absl::SimpleAtob(it->second, &v)) {
    AddError(absl::StrCat("--", name, ": expected true or false, got '",
                          it->second, "'"));
    return false;
  }
  return v;
}

std::optional<absl::Time> Args::Time(const std::string& name) {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, it->second, &t, &err)) {
    AddError(absl::StrCat("--", name, ": not an RFC 3339 time like ",
                          "2026-12-01T00:00:00Z: '", it->second, "'"));
    return std::nullopt;
  }
  return t;
}

std::optional<absl::Duration> Args::Duration(const std::string& name) {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  absl::Duration d;
  if (!ParseDurationWithDays(it->second, &d) || d <= absl::ZeroDuration()) {
    AddError(absl::StrCat("--", name,
                          ": not a positive duration like 72h, 3d or 90m: '",
                          it->second, "'"));
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
  Args args;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& word = argv[i];
    if (word.size() < 3 || word.compare(0, 2, "--") != 0) {
      if (!word.empty() && word[0] == '-' && word != "-") {
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
      *error = absl::StrCat("unknown flag '--", name, "' for '", spec.group,
                            " ", spec.name, "'");
      return std::nullopt;
    }
    if (!value.has_value()) {
      if (flag->value.empty()) {
        value = "true";
      } else if (i + 1 < argv.size()) {
        value = argv[++i];
      } else {
        *error = absl::StrCat("flag '--", name, "' needs a value (",
                              flag->value, ")");
        return std::nullopt;
      }
    }
    if (args.values_.count(name) > 0) {
      *error = absl::StrCat("flag '--", name, "' given twice");
      return std::nullopt;
    }
    args.values_[name] = *value;
  }
  for (const FlagSpec& flag : spec.flags) {
    if (flag.required && !args.Has(flag.name)) {
      *error =
          absl::StrCat("missing required flag --", flag.name, " ", flag.value);
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

}  // namespace duijie::cli
