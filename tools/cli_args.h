// Command-line parsing for the duijie CLI: a small, table-driven flag parser
// that gives each subcommand its own flags, usage line and help text.
//
// Syntax accepted: `--name value`, `--name=value`, boolean `--name` (or
// `--name=true|false`), and positional arguments. Unknown flags, missing
// values and malformed numbers are usage errors, collected in Args::error()
// so a command can read every flag first and check once.
#ifndef DUIJIE_TOOLS_CLI_ARGS_H_
#define DUIJIE_TOOLS_CLI_ARGS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace duijie::cli {

// One flag of a subcommand. An empty `value` makes it a boolean switch.
struct FlagSpec {
  std::string name;   // without the leading "--"
  std::string value;  // placeholder shown in help ("KG"); empty = boolean
  std::string help;
  bool required = false;
};

// One subcommand ("offer post"). `positional` names a single positional
// argument ("ID"), or is empty when the command takes none.
struct CommandSpec {
  std::string group;  // "offer"
  std::string name;   // "post"
  std::string positional;
  std::string summary;
  std::vector<FlagSpec> flags;
};

// The parsed arguments of one subcommand, with typed getters. A getter that
// cannot parse its value records a usage error and returns the default.
class Args {
 public:
  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  std::string Str(const std::string& name, const std::string& def = "") const;
  int64_t Int64(const std::string& name, int64_t def = 0);
  uint64_t Uint64(const std::string& name, uint64_t def = 0);
  int32_t Int32(const std::string& name, int32_t def = 0);
  bool Bool(const std::string& name);
  // RFC 3339 time ("2026-12-01T00:00:00Z", "2026-12-01T08:00:00+08:00").
  std::optional<absl::Time> Time(const std::string& name);
  // A positive duration: "72h", "90m", "3d", "1d12h".
  std::optional<absl::Duration> Duration(const std::string& name);
  // The positional argument parsed as an id (> 0).
  uint64_t PositionalId();

  const std::vector<std::string>& positionals() const { return positionals_; }
  // The first usage error, or empty when all went well.
  const std::string& error() const { return error_; }
  void AddError(const std::string& message);

 private:
  friend std::optional<Args> ParseArgs(const CommandSpec&,
                                       const std::vector<std::string>&,
                                       std::string*);
  std::map<std::string, std::string> values_;
  std::vector<std::string> positionals_;
  std::string error_;
};

// Parses `argv` (the words after the subcommand) against `spec`. On a usage
// error returns nullopt and sets *error. Required flags and the positional
// are checked here.
std::optional<Args> ParseArgs(const CommandSpec& spec,
                              const std::vector<std::string>& argv,
                              std::string* error);

// Parses "72h", "3d", "1d12h", "90m" (absl durations plus a "d" unit).
bool ParseDurationWithDays(const std::string& text, absl::Duration* out);

}  // namespace duijie::cli

#endif  // DUIJIE_TOOLS_CLI_ARGS_H_
