// Flag parsing for the duijie CLI. See cli_args.h.
#include "tools/cli_args.h"

#include <cstdlib>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
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
  if (!absl::SimpleAtoi(*text, &v)) {
    AddError(
        absl::StrCat("--", flag.name(), ": not a whole number: '", *text, "'"));
    return def;
  }
  return v;
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
  int32_t v;
  if (!absl::SimpleAtoi(*text, &v)) {
    AddError(absl::StrCat("--", flag.name(), ": not a whole number in range: '",
                          *text, "'"));
    return def;
  }
  return v;
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
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, *text, &t, &err)) {
    AddError(absl::StrCat("--", flag.name(), ": not an RFC 3339 time like ",
                          "2026-12-01T00:00:00Z: '", *text, "'"));
    return std::nullopt;
  }
  return t;
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

}  // namespace duijie::cli
