// Command-line parsing for the duijie CLI: a small, table-driven flag parser
// that gives each subcommand its own flags, usage line and help text.
//
// Each flag is declared once, as a constant Flag<T>. The command table lists
// the flags a command takes (for parsing and help) by pointing at those
// constants, and the handler reads a value through the same constant:
//
//   constexpr Flag<int64_t> kKg("kg", "KG", "quantity in kg", kRequired);
//   ... CommandSpec{"offer", "post", "", "Post ...", {&kKg, ...}} ...
//   order->set_quantity_kg(args.Get(kKg));
//
// So the flag's name is spelt in one place only (a misspelt constant does
// not compile), its type picks the parser (reading --kg as a time does not
// compile), and Args refuses to read a flag that is not one of the running
// command's, even one of the same name declared for another command.
//
// Syntax accepted: `--name value`, `--name=value`, boolean `--name` (or
// `--name=true|false`), and positional arguments. Unknown flags (with the
// nearest known one suggested), missing values and malformed numbers are
// usage errors, collected in Args::error() so a command can read every flag
// first and check once.
//
// Numbers are read as people write them: whole numbers may group their
// thousands with commas ("1,200,000"); yuan (Flag<InYuan>) take up to two
// decimals and tonnes (Flag<InTonnes>) up to three, parsed exactly into
// whole fen and kg (never through floating point). Times (Flag<absl::Time>)
// take RFC 3339, a local "2026-12-20 18:00", a date "2026-12-20" or a
// duration from now ("72h", "3d"); local forms are read in the CLI's time
// zone (Asia/Shanghai unless --utc or $TZ says otherwise).
#ifndef DUIJIE_TOOLS_CLI_ARGS_H_
#define DUIJIE_TOOLS_CLI_ARGS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace duijie::cli {

// kRepeated: optional, and may be given more than once (read with
// Args::GetAll; Get reads the last one).
enum FlagPresence { kOptional, kRequired, kRepeated };

// What the parser and the help need of a flag, whatever its type. Only
// Flag<T> makes one, so every flag a command lists has a typed declaration.
class FlagSpec {
 public:
  FlagSpec(const FlagSpec&) = delete;
  FlagSpec& operator=(const FlagSpec&) = delete;

  // Without the leading "--".
  absl::string_view name() const { return name_; }
  // The placeholder shown in help ("KG"); empty for a boolean switch.
  absl::string_view value() const { return value_; }
  absl::string_view help() const { return help_; }
  bool required() const { return required_; }
  bool repeated() const { return repeated_; }

 protected:
  constexpr FlagSpec(absl::string_view name, absl::string_view value,
                     absl::string_view help, FlagPresence presence)
      : name_(name),
        value_(value),
        help_(help),
        required_(presence == kRequired),
        repeated_(presence == kRepeated) {}

 private:
  absl::string_view name_;
  absl::string_view value_;
  absl::string_view help_;
  bool required_;
  bool repeated_;
};

// Value types of flags that hold money in yuan or weight in tonnes: Args
// reads them into whole fen and whole kg.
struct InYuan {};
struct InTonnes {};

// What a bare date given to a time flag means: the start of that day, or
// its end (the next midnight; expiries are exclusive, so "expires
// 2026-12-20" keeps the order open through the whole of that day).
enum class DateMeans { kStartOfDay, kEndOfDay };

// A flag whose value is a T: std::string, int64_t, uint64_t, int32_t,
// InYuan, InTonnes, absl::Time or absl::Duration (positive, "72h", "3d").
// Args::Get has one overload per T, so a flag of any other type cannot be
// read.
// Declare flags as constexpr constants with static storage: Args recognises
// a command's flags by address, and copying one is not allowed.
template <typename T>
class Flag : public FlagSpec {
 public:
  constexpr Flag(absl::string_view name, absl::string_view value,
                 absl::string_view help, FlagPresence presence = kOptional)
      : FlagSpec(name, value, help, presence) {}
};

// A time: see the file comment. A bare date means the start or the end of
// that day, as `date_means` says (help says which).
template <>
class Flag<absl::Time> : public FlagSpec {
 public:
  constexpr Flag(absl::string_view name, absl::string_view value,
                 absl::string_view help, DateMeans date_means,
                 FlagPresence presence = kOptional)
      : FlagSpec(name, value, help, presence), date_means_(date_means) {}
  DateMeans date_means() const { return date_means_; }

 private:
  DateMeans date_means_;
};

// A boolean switch: `--name` alone means true, absent means false.
template <>
class Flag<bool> : public FlagSpec {
 public:
  constexpr Flag(absl::string_view name, absl::string_view help)
      : FlagSpec(name, "", help, kOptional) {}
};

// One subcommand ("offer post"). `positional` names a single positional
// argument ("ID"), or is empty when the command takes none. `flags` point at
// the command's Flag constants, in the order help lists them.
struct CommandSpec {
  std::string group;  // "offer"
  std::string name;   // "post"
  std::string positional;
  std::string summary;
  std::vector<const FlagSpec*> flags;
};

// The parsed arguments of one subcommand, with a typed getter per flag type.
// A getter that cannot parse its value records a usage error and returns the
// default.
//
// Reading (or asking Has of) a flag that the command's spec does not list is
// a bug in the CLI, not in the command line: it would otherwise read as
// "not given" and quietly use the default. A debug build aborts there; a
// release build returns the default and makes it the command's error, which
// takes precedence over any usage error, so the command exits with status 2
// instead of calling the server.
class Args {
 public:
  bool Has(const FlagSpec& flag);
  std::string Get(const Flag<std::string>& flag, const std::string& def = "");
  // Every value of a kRepeated flag, in the order given.
  std::vector<std::string> GetAll(const Flag<std::string>& flag);
  int64_t Get(const Flag<int64_t>& flag, int64_t def = 0);
  uint64_t Get(const Flag<uint64_t>& flag, uint64_t def = 0);
  int32_t Get(const Flag<int32_t>& flag, int32_t def = 0);
  bool Get(const Flag<bool>& flag);
  // Yuan as whole fen: "68" -> 6800, "75.5" -> 7550, "1,200,000.00".
  std::optional<int64_t> Get(const Flag<InYuan>& flag);
  // Tonnes as whole kg: "50" -> 50000, "2.5" -> 2500, "0.001" -> 1.
  std::optional<int64_t> Get(const Flag<InTonnes>& flag);
  // A time (see the file comment); a duration counts from now().
  std::optional<absl::Time> Get(const Flag<absl::Time>& flag);
  // The duration when the flag was given as one ("72h"), else nullopt:
  // an expiry given so goes to the server as a duration, like --expires-in.
  std::optional<absl::Duration> GetRelative(const Flag<absl::Time>& flag);
  // A positive duration: "72h", "90m", "3d", "1d12h".
  std::optional<absl::Duration> Get(const Flag<absl::Duration>& flag);
  // The positional argument parsed as an id (> 0).
  uint64_t PositionalId();

  // The zone local times and dates are read in, and the time durations
  // count from (set before the command reads its flags).
  void SetClock(absl::TimeZone zone, absl::Time now) {
    zone_ = zone;
    now_ = now;
  }

  // Whether the command line gave the flag named `name` (no "--").
  bool Given(absl::string_view name) const {
    return values_.find(name) != values_.end();
  }
  const CommandSpec& spec() const { return *spec_; }

  const std::vector<std::string>& positionals() const { return positionals_; }
  // The first usage error, or empty when all went well.
  const std::string& error() const { return error_; }
  void AddError(const std::string& message);

 private:
  friend std::optional<Args> ParseArgs(const CommandSpec&,
                                       const std::vector<std::string>&,
                                       std::string*);
  explicit Args(const CommandSpec& spec) : spec_(&spec) {}

  // The text given for `flag`, or nullptr when it was not given or is not
  // one of the command's flags (the latter reported as described above).
  const std::string* Find(const FlagSpec& flag);

  const CommandSpec* spec_;
  std::map<std::string, std::string, std::less<>> values_;
  // Every value of each repeated flag given (values_ holds the last).
  std::map<std::string, std::vector<std::string>, std::less<>> all_values_;
  std::vector<std::string> positionals_;
  std::string error_;
  bool misread_ = false;
  absl::TimeZone zone_ = absl::UTCTimeZone();
  absl::Time now_ = absl::UnixEpoch();
};

// Parses `argv` (the words after the subcommand) against `spec`, which must
// outlive the result. On a usage error returns nullopt and sets *error.
// Required flags and the positional are checked here.
std::optional<Args> ParseArgs(const CommandSpec& spec,
                              const std::vector<std::string>& argv,
                              std::string* error);

// Parses "72h", "3d", "1d12h", "90m" (absl durations plus a "d" unit).
bool ParseDurationWithDays(const std::string& text, absl::Duration* out);

// Parses a non-negative or negative decimal with at most `decimals` digits
// after the point into an integer scaled by 10^decimals, exactly:
// ParseDecimal("1,200.5", 2) is 120050. Thousands may be grouped with
// commas (groups of three). False with *why set when the text is not such
// a number, has more decimals, or does not fit in 64 bits.
bool ParseDecimal(absl::string_view text, int decimals, int64_t* out,
                  std::string* why);

// A time as the time flags take it (see the file comment). `now` is what a
// duration counts from. On success *relative holds the duration when the
// text was one (nullopt otherwise).
bool ParseTimeArg(absl::string_view text, absl::TimeZone zone, absl::Time now,
                  DateMeans date_means, absl::Time* out,
                  std::optional<absl::Duration>* relative);

// Edit distance (insertions, deletions, substitutions and swaps of
// neighbours), for "did you mean".
size_t EditDistance(absl::string_view a, absl::string_view b);
// The candidate nearest `word` when it is near enough to be a likely typo
// (at most 2 edits, and fewer than half the word's length), else empty.
std::string NearestWord(absl::string_view word,
                        const std::vector<std::string>& candidates);

// The flags every command takes, parsed before the command's own (shown in
// suggestions and completion).
const std::vector<std::string>& GlobalFlagNames();

// A server's INVALID_ARGUMENT message "FIELD: REASON" in the CLI's words:
// when FIELD (e.g. "pledge.max_price_fen_per_kg", "region_codes[2]") is
// set by one of the command's flags, "--FLAG: REASON (field FIELD)", naming
// the flag the user gave where there are two forms (--max-fen or
// --max-yuan); otherwise the message unchanged.
std::string FlagWordsForFieldError(const Args& args,
                                   const std::string& message);
// The same from the server's ErrorDetail: `field` (e.g.
// "pledge.max_price_fen_per_kg") and `reason`; `message` (the status's)
// when no flag sets the field.
std::string FlagWordsForFieldError(const Args& args, const std::string& field,
                                   const std::string& reason,
                                   const std::string& message);

}  // namespace duijie::cli

#endif  // DUIJIE_TOOLS_CLI_ARGS_H_
