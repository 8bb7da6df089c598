// duijie: the command-line client of duijie-server (对接, the produce
// matching exchange). It speaks the public gRPC contract in
// proto/duijie/v1/exchange.proto and nothing else.
//
//   duijie [--server HOST:PORT] [-o table|json|csv] [--timeout 5s] COMMAND ...
//
// Output: aligned tables for people (kg, and yuan with two decimals from
// integer fen; times in Asia/Shanghai unless --utc or $TZ), protobuf JSON
// with -o json (or --json) for scripts, CSV of list tables with -o csv.
// Exit status: 0 ok; 1 the server refused the request (its gRPC status and
// message on stderr); 2 usage error; 3 the server could not be reached or did
// not answer within the timeout.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "duijie/v1/admin.grpc.pb.h"
#include "duijie/v1/exchange.grpc.pb.h"
#include "duijie/v1/exchange.pb.h"
#include "grpcpp/grpcpp.h"
#include "tools/cli_args.h"
#include "tools/cli_channel.h"
#include "tools/cli_config.h"
#include "tools/cli_format.h"

namespace duijie::cli {
namespace {

namespace pb = ::duijie::v1;

constexpr int kExitOk = 0;
constexpr int kExitRefused = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;

constexpr char kDefaultServer[] = "127.0.0.1:50051";
const absl::Duration kDefaultExpiry = absl::Hours(24 * 30);

// The CLI's own version (the project's, from CMake); `duijie --version`
// asks the server for its own (GetServerInfo).
#ifndef DUIJIE_VERSION
#define DUIJIE_VERSION "unknown"
#endif
constexpr char kVersion[] = DUIJIE_VERSION;

enum class Output { kTable, kJson, kCsv };

// Flags that apply to every command.
struct Global {
  std::string server = kDefaultServer;
  Output output = Output::kTable;
  absl::Duration timeout = absl::Seconds(5);
  // The API key's secret (see FindKey in cli_config.h), or empty: calls go
  // without one.
  std::string key;
  std::string key_source;  // where the key came from, for messages
  TlsFlags tls;
};

// ---------------------------------------------------------------------------
// Flags that several commands share. A command's own flags are declared in
// its namespace below, next to its handler, and its Spec() lists them all.

constexpr Flag<std::string> kRequestId(
    "request-id", "ID",
    "idempotency key; repeat a mutation with the same id to apply it at "
    "most once (default: a fresh random id)");

constexpr Flag<int32_t> kPageSize(
    "page-size", "N", "results per page (server default 100, max 1000)");
constexpr Flag<std::string> kPageToken("page-token", "TOKEN",
                                       "continue from a previous page");
constexpr Flag<bool> kAll("all", "fetch every page");

constexpr Flag<absl::Time> kExpires(
    "expires", "TIME",
    "a date (open through that day: 2026-12-20), a local time "
    "(2026-12-20 18:00), RFC 3339 (2026-12-20T18:00:00+08:00) or a duration "
    "(72h)",
    DateMeans::kEndOfDay);
constexpr Flag<absl::Duration> kExpiresIn("expires-in", "DURATION",
                                          "e.g. 72h, 3d (default: 30d)");

constexpr Flag<std::string> kStatus("status", "STATUS",
                                    "open, filled, cancelled, expired or any");

// `flags` followed by the paging flags that every list command takes.
std::vector<const FlagSpec*> WithPaging(std::vector<const FlagSpec*> flags) {
  flags.insert(flags.end(), {&kPageSize, &kPageToken, &kAll});
  return flags;
}

// ---------------------------------------------------------------------------
// The connection and how its failures are reported.

const char* CodeName(grpc::StatusCode code) {
  return StatusCodeName(static_cast<int>(code));
}

class Client {
 public:
  Client(const Global& global, std::shared_ptr<grpc::Channel> channel)
      : global_(global),
        channel_(std::move(channel)),
        stub_(pb::Exchange::NewStub(channel_)) {}

  const Global& global() const { return global_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  bool json() const { return global_.output == Output::kJson; }
  bool csv() const { return global_.output == Output::kCsv; }
  pb::Exchange::Stub* stub() { return stub_.get(); }
  // The running command's arguments, so that a server's message about a
  // request field can name the flag that set it.
  void set_args(const Args* args) { args_ = args; }

  // A list's table: CSV with -o csv, else aligned. (Other replies print
  // as tables with -o csv too: CSV is for lists.)
  void PrintTable(const Table& table) const {
    if (csv()) {
      table.PrintCsv(std::cout);
    } else {
      table.Print(std::cout);
    }
  }
  // The line after a list: how many were shown, and whether more exist.
  // On stderr with -o csv, so that stdout is CSV only.
  // With `total` (the server's total_count, when it sent one): "100 of
  // 1,234 offers".
  void PrintListEnd(int64_t shown, absl::string_view singular,
                    absl::string_view plural,
                    const std::string& next_page_token,
                    const std::string& extra = "",
                    std::optional<int64_t> total = std::nullopt) const {
    std::ostream& out = csv() ? std::cerr : std::cout;
    if (total.has_value()) {
      out << GroupThousands(shown) << " of " << Count(*total, singular, plural)
          << extra;
    } else {
      out << Count(shown, singular, plural) << extra;
    }
    if (next_page_token.empty()) {
      out << ", no more\n";
    } else {
      out << " shown, more exist: add --all, or --page-token "
          << next_page_token << "\n";
    }
  }

  // Sets the deadline and fail-fast behaviour of a unary call.
  void Prepare(grpc::ClientContext* context) const {
    context->set_deadline(absl::ToChronoTime(absl::Now() + global_.timeout));
    context->set_wait_for_ready(false);
    Authorize(context);
  }
  // Sends the key, when there is one (streams call this without Prepare).
  void Authorize(grpc::ClientContext* context) const {
    if (!global_.key.empty()) {
      context->AddMetadata("authorization", "Bearer " + global_.key);
    }
  }

  // Reports a failed call on stderr and returns the exit status for it.
  // `request_id` is the mutation's id, empty for reads.
  int Fail(const grpc::Status& status,
           const std::string& request_id = "") const {
    if (status.error_code() == grpc::UNAVAILABLE) {
      std::cerr << "error: cannot reach duijie-server at " << global_.server
                << " (is it running? start it with tools/run)\n";
      if (!status.error_message().empty()) {
        std::cerr << "  detail: " << Printable(status.error_message()) << "\n";
      }
      // The commonest TLS mistakes look like an absent server.
      const std::string lower = absl::AsciiStrToLower(status.error_message());
      if (absl::StrContains(lower, "handshake") ||
          absl::StrContains(lower, "ssl") || absl::StrContains(lower, "tls")) {
        std::cerr << (global_.tls.ca.empty()
                          ? "  the server may want TLS: give its CA with "
                            "--tls_ca FILE\n"
                          : "  a TLS handshake failed: the server may speak "
                            "plaintext (drop --tls_ca), want a client "
                            "certificate (--tls_cert, --tls_key), or not "
                            "chain to --tls_ca\n");
      }
      return kExitUnreachable;
    }
    if (status.error_code() == grpc::DEADLINE_EXCEEDED) {
      std::cerr << "error: no answer from duijie-server at " << global_.server
                << " within " << absl::FormatDuration(global_.timeout) << "\n";
      if (!request_id.empty()) {
        std::cerr << "  the request may have been applied; repeat it with "
                     "--request-id "
                  << request_id << " and the server applies it at most once\n";
      }
      return kExitUnreachable;
    }
    std::string message = HumanizeServerTimes(status.error_message());
    // The server's ErrorDetail names the field; older servers only say it
    // in the message.
    pb::ErrorDetail detail;
    const std::string detail_bytes = TakeErrorDetail();
    const bool has_detail =
        !detail_bytes.empty() && detail.ParseFromString(detail_bytes);
    // Any refusal about a field the user set by a flag names that flag (an
    // unknown product is NOT_FOUND, a filled order FAILED_PRECONDITION).
    if (status.error_code() != grpc::UNAUTHENTICATED && args_ != nullptr) {
      message = has_detail ? FlagWordsForFieldError(
                                 *args_, detail.field(),
                                 HumanizeServerTimes(detail.reason()), message)
                           : FlagWordsForFieldError(*args_, message);
    }
    // With more than one bad field, the first as before and each other on
    // a line of its own, so that one try shows all there is to fix.
    const bool all_violations = status.error_code() == grpc::INVALID_ARGUMENT &&
                                has_detail && detail.violations_size() > 1;
    auto words = [this](const pb::FieldViolation& v) {
      const std::string reason = HumanizeServerTimes(v.reason());
      const std::string plain =
          v.field().empty() ? reason : absl::StrCat(v.field(), ": ", reason);
      return args_ != nullptr
                 ? FlagWordsForFieldError(*args_, v.field(), reason, plain)
                 : plain;
    };
    if (all_violations) message = words(detail.violations(0));
    std::cerr << "error: " << CodeName(status.error_code()) << ": "
              << Printable(message) << "\n";
    for (int i = 1; all_violations && i < detail.violations_size(); ++i) {
      std::cerr << "  and " << Printable(words(detail.violations(i))) << "\n";
    }
    if (status.error_code() == grpc::UNAUTHENTICATED) {
      std::cerr << (global_.key.empty()
                        ? "  no key was sent: "
                        : absl::StrCat("  the key from ", global_.key_source,
                                       " was refused: "))
                << "give a valid one with --key_file FILE, $DUIJIE_KEY, or "
                   "in ${XDG_CONFIG_HOME:-~/.config}/duijie/key; an admin "
                   "makes one with 'duijie admin key create'\n";
    } else if (status.error_code() == grpc::PERMISSION_DENIED) {
      std::cerr << "  the key from " << global_.key_source
                << " may not do this: use a key that acts for that party, "
                   "or ask the server's admin\n";
    }
    return kExitRefused;
  }

 private:
  Global global_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::Exchange::Stub> stub_;
  const Args* args_ = nullptr;
};

// A fresh idempotency key: "cli-" and 32 random hex digits.
std::string NewRequestId() {
  std::random_device rd;
  std::string id = "cli-";
  for (int i = 0; i < 4; ++i) {
    absl::StrAppend(&id, absl::Hex(rd(), absl::kZeroPad8));
  }
  return id;
}

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* ts) {
  int64_t seconds = absl::ToUnixSeconds(t);
  ts->set_seconds(seconds);
  ts->set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(seconds)) /
                                     absl::Nanoseconds(1)));
}

// Reads --expires into order->expires_at, or --expires-in (default 30 days)
// into request->expires_in: a relative expiry goes to the server as a
// duration, which it adds to its own time, so that a retry with the same
// --request-id is the same request. (Only the field set is touched: a
// mutable_ accessor marks its field present.) --expires given a duration
// ("--expires 72h") is the same as --expires-in.
template <typename Order, typename Request>
void ReadExpiry(Args& args, Order* order, Request* request) {
  if (args.Has(kExpires) && args.Has(kExpiresIn)) {
    args.AddError("give --expires or --expires-in, not both");
    return;
  }
  absl::Duration d = kDefaultExpiry;
  if (args.Has(kExpires)) {
    auto t = args.Get(kExpires);
    if (!t.has_value()) return;
    if (auto relative = args.GetRelative(kExpires)) {
      d = *relative;
    } else {
      SetTimestamp(*t, order->mutable_expires_at());
      return;
    }
  } else if (auto given = args.Get(kExpiresIn)) {
    d = *given;
  }
  const int64_t seconds = absl::IDivDuration(d, absl::Seconds(1), &d);
  google::protobuf::Duration* in = request->mutable_expires_in();
  in->set_seconds(seconds);
  in->set_nanos(static_cast<int32_t>(d / absl::Nanoseconds(1)));
}

// An amount given as whole fen (`fen`) or as yuan (`yuan`), not both: the
// fen, or nullopt when neither was given or on a usage error (recorded in
// args). With `required`, giving neither is a usage error.
std::optional<int64_t> ReadFen(Args& args, const Flag<int64_t>& fen,
                               const Flag<InYuan>& yuan, bool required) {
  const bool has_fen = args.Has(fen);
  const bool has_yuan = args.Has(yuan);
  if (has_fen && has_yuan) {
    args.AddError(absl::StrCat("give --", fen.name(), " or --", yuan.name(),
                               ", not both (100 fen = 1 yuan)"));
    return std::nullopt;
  }
  if (has_yuan) return args.Get(yuan);
  if (has_fen) return args.Get(fen);
  if (required) {
    args.AddError(absl::StrCat("missing required flag --", fen.name(), " ",
                               fen.value(), " (or --", yuan.name(), " ",
                               yuan.value(), ")"));
  }
  return std::nullopt;
}

// A weight given as whole kg (`kg`) or as tonnes (`tonnes`), not both.
std::optional<int64_t> ReadKg(Args& args, const Flag<int64_t>& kg,
                              const Flag<InTonnes>& tonnes, bool required) {
  const bool has_kg = args.Has(kg);
  const bool has_tonnes = args.Has(tonnes);
  if (has_kg && has_tonnes) {
    args.AddError(absl::StrCat("give --", kg.name(), " or --", tonnes.name(),
                               ", not both (1 t = 1,000 kg)"));
    return std::nullopt;
  }
  if (has_tonnes) return args.Get(tonnes);
  if (has_kg) return args.Get(kg);
  if (required) {
    args.AddError(absl::StrCat("missing required flag --", kg.name(), " ",
                               kg.value(), " (or --", tonnes.name(), " ",
                               tonnes.value(), ")"));
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Enum words on the command line and in tables.

std::string Normalize(std::string word) {
  absl::AsciiStrToUpper(&word);
  absl::StrReplaceAll({{"-", "_"}}, &word);
  return word;
}

std::string Lower(const std::string& enum_name) {
  return absl::AsciiStrToLower(enum_name);
}

void ReadGrade(Args& args, const Flag<std::string>& flag, pb::Grade* out) {
  if (!args.Has(flag)) return;
  const std::string& given = args.Get(flag);
  std::string w = Normalize(given);
  // Grades by word, English or Chinese (特级 is premium, 一级 first, 二级
  // second). Not by number: "1" reads as 一级 to a grower and as premium in
  // the contract's enum, so it is refused rather than guessed.
  if (w == "PREMIUM" || w == "GRADE_PREMIUM" || given == "特级") {
    *out = pb::GRADE_PREMIUM;
  } else if (w == "FIRST" || w == "GRADE_FIRST" || given == "一级") {
    *out = pb::GRADE_FIRST;
  } else if (w == "SECOND" || w == "GRADE_SECOND" || given == "二级") {
    *out = pb::GRADE_SECOND;
  } else {
    args.AddError(absl::StrCat(
        "--", flag.name(), ": expected premium (特级), first (一级) or second ",
        "(二级), got '", given, "'",
        std::all_of(given.begin(), given.end(),
                    [](char ch) { return absl::ascii_isdigit(ch); }) &&
                !given.empty()
            ? "; give the name: a number is ambiguous (一级 is first, but "
              "the contract numbers premium 1)"
            : ""));
  }
}

std::string GradeWord(pb::Grade g) {
  switch (g) {
    case pb::GRADE_PREMIUM:
      return "premium";
    case pb::GRADE_FIRST:
      return "first";
    case pb::GRADE_SECOND:
      return "second";
    default:
      return "any";
  }
}

// A pledge's lowest grade accepted: "any" for second (the lowest grade)
// or unset, as the pledge takes every grade then.
std::string MinGradeWord(pb::Grade g) {
  return g == pb::GRADE_UNSPECIFIED || g == pb::GRADE_SECOND ? "any"
                                                             : GradeWord(g);
}

// "; did you mean 'x'?" for a word near one of `choices`, else "".
std::string Suggest(const std::string& given,
                    const std::vector<std::string>& choices) {
  const std::string nearest =
      NearestWord(absl::AsciiStrToLower(given), choices);
  return nearest.empty() ? std::string()
                         : absl::StrCat("; did you mean '", nearest, "'?");
}

void ReadStatus(Args& args, pb::OrderStatus* out) {
  if (!args.Has(kStatus)) return;
  std::string w = Normalize(args.Get(kStatus));
  pb::OrderStatus s;
  if (w == "ANY" || w == "ALL") {
    *out = pb::ORDER_STATUS_UNSPECIFIED;
  } else if (pb::OrderStatus_Parse(w, &s) &&
             s != pb::ORDER_STATUS_UNSPECIFIED) {
    *out = s;
  } else {
    args.AddError(absl::StrCat(
        "--", kStatus.name(), ": expected open, filled, cancelled, expired ",
        "or any, got '", args.Get(kStatus), "'",
        Suggest(args.Get(kStatus),
                {"open", "filled", "cancelled", "expired", "any"})));
  }
}

void ReadKind(Args& args, const Flag<std::string>& flag, pb::BuyerKind* out) {
  if (!args.Has(flag)) return;
  std::string w = Normalize(args.Get(flag));
  if (w == "GOVERNMENT") w = "GOVERNMENT_UNIT";
  if (w == "ARMY") w = "ARMY_UNIT";
  if (w == "UNION") w = "TRADE_UNION";
  pb::BuyerKind k;
  if (pb::BuyerKind_Parse(w, &k) && k != pb::BUYER_KIND_UNSPECIFIED) {
    *out = k;
  } else {
    args.AddError(absl::StrCat(
        "--", flag.name(),
        ": expected one of government_unit, school, hospital, ",
        "state_firm, private_firm, army_unit, trade_union, canteen, charity, ",
        "individual, platform; got '", args.Get(flag), "'",
        Suggest(args.Get(flag),
                {"government_unit", "school", "hospital", "state_firm",
                 "private_firm", "army_unit", "trade_union", "canteen",
                 "charity", "individual", "platform"})));
  }
}

// Reads `scope_flag`, whose default depends on whether `regions_flag` is given.
void ReadScope(Args& args, const Flag<std::string>& scope_flag,
               const Flag<std::string>& regions_flag, pb::Scope* out) {
  if (!args.Has(scope_flag)) {
    // Naming regions without a scope means "only these regions".
    if (args.Has(regions_flag)) *out = pb::LISTED_REGIONS;
    return;
  }
  std::string w = Normalize(args.Get(scope_flag));
  if (w == "ANY") {
    *out = pb::ANY;
  } else if (w == "PARTNERS" || w == "PARTNERS_ONLY") {
    *out = pb::PARTNERS_ONLY;
  } else if (w == "LISTED" || w == "LISTED_REGIONS") {
    *out = pb::LISTED_REGIONS;
  } else {
    args.AddError(absl::StrCat(
        "--", scope_flag.name(), ": expected any, partners or listed, got '",
        args.Get(scope_flag), "'",
        Suggest(args.Get(scope_flag), {"any", "partners", "listed"})));
  }
}

std::string ScopeWords(const pb::Pledge& p) {
  switch (p.scope()) {
    case pb::ANY:
      return "any region";
    case pb::PARTNERS_ONLY:
      return "partner regions only";
    case pb::LISTED_REGIONS:
      return absl::StrCat("only ", absl::StrJoin(p.region_codes(), ", "));
    default:
      return absl::StrCat("scope ", p.scope());
  }
}

// ---------------------------------------------------------------------------
// Human output.

// "3d", "36h", "1d12h30m": days when whole, else absl's form.
std::string DurationWords(const google::protobuf::Duration& d) {
  const int64_t s = d.seconds();
  if (s % 86400 == 0) return absl::StrCat(s / 86400, "d");
  return absl::FormatDuration(absl::Seconds(s));
}

void PrintOffer(const pb::Offer& o) {
  std::cout << "offer " << o.offer_id() << " ("
            << Lower(pb::OrderStatus_Name(o.status())) << ")\n";
  Table t({"", ""});
  t.AddRow({"  supplier", o.supplier_id()});
  t.AddRow({"  region", o.region_code()});
  t.AddRow({"  product",
            absl::StrCat(o.product_code(), ", grade ", GradeWord(o.grade()))});
  t.AddRow({"  quantity", absl::StrCat(Kg(o.quantity_kg()), " kg, ",
                                       Kg(o.remaining_kg()), " kg left")});
  t.AddRow({"  floor price",
            absl::StrCat(Yuan(o.floor_price_fen_per_kg()), " yuan/kg (",
                         o.floor_price_fen_per_kg(), " fen/kg)")});
  t.AddRow({"  min lot", o.min_lot_kg() == 0
                             ? std::string("none")
                             : absl::StrCat(Kg(o.min_lot_kg()), " kg")});
  t.AddRow({"  certified", o.certified() ? "yes (扶贫产品认定)" : "no"});
  t.AddRow({"  households", absl::StrCat(o.households())});
  t.AddRow({"  expires", LongTime(o.expires_at())});
  if (o.has_ship_within()) {
    t.AddRow({"  ship within",
              absl::StrCat(DurationWords(o.ship_within()), " of a match")});
  }
  t.AddRow({"  posted", LongTime(o.posted_at())});
  t.Print(std::cout, /*header=*/false);
}

void PrintPledge(const pb::Pledge& p) {
  std::cout << "pledge " << p.pledge_id() << " ("
            << Lower(pb::OrderStatus_Name(p.status())) << ")\n";
  Table t({"", ""});
  t.AddRow({"  buyer", absl::StrCat(p.buyer_id(), " (",
                                    Lower(pb::BuyerKind_Name(p.buyer_kind())),
                                    "), city ", p.buyer_city_code())});
  t.AddRow({"  product",
            absl::StrCat(p.product_code(), ", ",
                         // Second is the lowest grade: any grade will do.
                         p.min_grade() == pb::GRADE_UNSPECIFIED ||
                                 p.min_grade() == pb::GRADE_SECOND
                             ? "any grade"
                             : absl::StrCat("grade ", GradeWord(p.min_grade()),
                                            " or better"))});
  t.AddRow({"  quantity", absl::StrCat(Kg(p.quantity_kg()), " kg, ",
                                       Kg(p.remaining_kg()), " kg left")});
  t.AddRow(
      {"  max price", absl::StrCat(Yuan(p.max_price_fen_per_kg()), " yuan/kg (",
                                   p.max_price_fen_per_kg(), " fen/kg)")});
  t.AddRow({"  budget", p.budget_fen() == 0
                            ? std::string("no cap beyond quantity x price")
                            : absl::StrCat(Yuan(p.budget_fen()), " yuan")});
  t.AddRow({"  spent", absl::StrCat(Yuan(p.spent_fen()), " yuan")});
  t.AddRow({"  min lot", p.min_lot_kg() == 0
                             ? std::string("none")
                             : absl::StrCat(Kg(p.min_lot_kg()), " kg")});
  t.AddRow({"  from", ScopeWords(p)});
  t.AddRow(
      {"  certified", p.require_certified() ? "required" : "not required"});
  t.AddRow({"  expires", LongTime(p.expires_at())});
  if (p.has_accept_within()) {
    t.AddRow({"  accept within", absl::StrCat(DurationWords(p.accept_within()),
                                              " of a shipment")});
  }
  t.AddRow({"  posted", LongTime(p.posted_at())});
  if (p.recurrence().period() != pb::PERIOD_UNSPECIFIED) {
    const pb::Recurrence& r = p.recurrence();
    t.AddRow(
        {"  standing",
         absl::StrCat(
             Kg(r.quantity_kg()), " kg ", Lower(pb::Period_Name(r.period())),
             r.budget_fen() == 0
                 ? std::string()
                 : absl::StrCat(", budget ", Yuan(r.budget_fen()), " yuan"),
             r.carry_over() ? ", unfilled kg carried over" : "", ", until ",
             LongTime(r.until()))});
  }
  if (!p.members().empty()) {
    std::vector<std::string> parts;
    for (const pb::MemberShare& m : p.members()) {
      parts.push_back(absl::StrCat(m.buyer_id(), " ", m.share_permille(), "‰"));
    }
    t.AddRow({"  members", absl::StrJoin(parts, ", ")});
  }
  t.Print(std::cout, /*header=*/false);
  if (p.periods_size() == 0) return;
  std::cout << "\n";
  Table periods({TimeHeader("PERIOD START"), TimeHeader("END"), ">PLEDGED KG",
                 ">MATCHED KG", ">DELIVERED KG", ">SPENT YUAN"});
  for (const pb::PledgePeriod& period : p.periods()) {
    periods.AddRow({LongTime(period.start()), LongTime(period.end()),
                    Kg(period.pledged_kg()), Kg(period.matched_kg()),
                    Kg(period.delivered_kg()), Yuan(period.spent_fen())});
  }
  periods.Print(std::cout);
}

std::string MatchStatusWord(pb::MatchStatus s) {
  return s == pb::MATCH_STATUS_UNSPECIFIED ? "-"
                                           : Lower(pb::MatchStatus_Name(s));
}

// The matches as a table, and after it their count and totals; with
// `next_page_token`, as a list (see Client::PrintListEnd).
template <typename Matches>
void PrintMatches(const Client& c, const Matches& matches,
                  const std::string* next_page_token = nullptr,
                  std::optional<int64_t> total = std::nullopt) {
  Table t({">MATCH", ">OFFER", ">PLEDGE", "SUPPLIER", "BUYER", "PRODUCT",
           "REGION", "CITY", ">KG", ">YUAN/KG", ">AMOUNT YUAN", "PARTNER",
           TimeHeader("MATCHED"), "STATUS", ">RETURNED KG"});
  // The totals count what the matches hold: kg given back to the pledge
  // (declined, or left unshipped) is no longer sold, as GetStats counts.
  int64_t kg = 0, fen = 0, returned = 0;
  bool overflow = false;
  for (const pb::Match& m : matches) {
    const int64_t held_kg = m.quantity_kg() - m.returned_kg();
    returned += m.returned_kg();  // at most the sum of quantities
    t.AddRow({absl::StrCat(m.match_id()), absl::StrCat(m.offer_id()),
              absl::StrCat(m.pledge_id()), m.supplier_id(),
              // A member's part of an alliance pledge: "member (alliance)".
              m.member_buyer_id().empty()
                  ? m.buyer_id()
                  : absl::StrCat(m.member_buyer_id(), " (", m.buyer_id(), ")"),
              m.product_code(), m.region_code(), m.buyer_city_code(),
              Kg(m.quantity_kg()), Yuan(m.price_fen_per_kg()),
              Yuan(m.amount_fen()), m.partner() ? "yes" : "no",
              ShortTime(m.matched_at()), MatchStatusWord(m.status()),
              m.returned_kg() == 0 ? "" : Kg(m.returned_kg())});
    int64_t held_fen = 0;
    overflow |=
        __builtin_mul_overflow(held_kg, m.price_fen_per_kg(), &held_fen);
    overflow |= __builtin_add_overflow(kg, held_kg, &kg);
    overflow |= __builtin_add_overflow(fen, held_fen, &fen);
  }
  const std::string totals =
      overflow
          ? std::string()
          : absl::StrCat(", ", Kg(kg), " kg, ", Yuan(fen), " yuan",
                         returned == 0 ? ""
                                       : absl::StrCat(" after ", Kg(returned),
                                                      " kg returned"));
  if (next_page_token != nullptr) {
    c.PrintTable(t);
    c.PrintListEnd(matches.size(), "match", "matches", *next_page_token, totals,
                   total);
  } else {
    // The fills of a post, an amendment or a shipment: part of a reply
    // printed for people, whatever -o says for lists.
    t.Print(std::cout);
    std::cout << Count(matches.size(), "match", "matches") << totals << "\n";
  }
}

// The next batch clearing of `product` (GetBook), or unset when it matches
// continuously or the book cannot be read: for messages only.
google::protobuf::Timestamp NextClearing(Client& c,
                                         const std::string& product) {
  pb::GetBookRequest req;
  req.set_product_code_prefix(product);
  req.set_page_size(1);
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::GetBookResponse resp;
  if (c.stub()->GetBook(&context, req, &resp).ok() && resp.lines_size() > 0 &&
      resp.lines(0).product_code() == product) {
    return resp.lines(0).next_clearing_at();
  }
  return {};
}

// The matches an order made on arrival; none, for an order of `product`
// under batch clearing, says when it trades.
void PrintArrivalMatches(
    Client& c, const std::string& product,
    const google::protobuf::RepeatedPtrField<pb::Match>& matches) {
  if (matches.empty()) {
    const google::protobuf::Timestamp next = NextClearing(c, product);
    if (next.seconds() != 0) {
      std::cout << "no match on arrival: " << Printable(product)
                << " is cleared in batches; the order waits for the clearing "
                   "at "
                << LongTime(next) << "\n";
    } else {
      std::cout << "no match on arrival; the order rests on the book\n";
    }
    return;
  }
  std::cout << "\nmatched on arrival:\n";
  PrintMatches(c, matches);
}

// ---------------------------------------------------------------------------
// Paging. Fetch(request, response) does one call; with --all the pages are
// concatenated into one response whose next_page_token is empty.

// Copies a page's total_count (when the list has one) over what *out has;
// a page without one keeps the earlier page's: the server counts a
// filtered list on its first page only.
template <typename Resp>
auto CopyTotal(const Resp& page, Resp* out, int)
    -> decltype(page.has_total_count(), void()) {
  if (page.has_total_count()) out->set_total_count(page.total_count());
}
template <typename Resp>
void CopyTotal(const Resp&, Resp*, long) {}

// A list response's total_count, when the server sent one.
template <typename Resp>
std::optional<int64_t> TotalOf(const Resp& resp) {
  if (!resp.has_total_count()) return std::nullopt;
  return resp.total_count();
}

template <typename Req, typename Resp, typename Call, typename Append>
int ListPages(Client& client, Args& args, Req& req, Resp* out, Call call,
              Append append) {
  req.set_page_size(args.Get(kPageSize));
  req.set_page_token(args.Get(kPageToken));
  bool all = args.Get(kAll);
  if (!args.error().empty()) return -1;
  for (;;) {
    grpc::ClientContext context;
    client.Prepare(&context);
    Resp page;
    grpc::Status status = call(&context, req, &page);
    if (!status.ok()) return client.Fail(status);
    append(page, out);
    CopyTotal(page, out, 0);
    out->set_next_page_token(page.next_page_token());
    if (!all || page.next_page_token().empty() ||
        page.next_page_token() == req.page_token()) {
      break;
    }
    req.set_page_token(page.next_page_token());
  }
  if (all) out->clear_next_page_token();
  return kExitOk;
}

// ---------------------------------------------------------------------------
// Commands. Each lives in its own namespace: the Flag constants it alone
// takes, Spec() (its help and every flag it takes, its own and shared ones)
// and Run(), which reads the flags through those constants. Args refuses to
// read a flag Spec() does not list, so a handler cannot read another
// command's flag of the same name. Run() returns an exit status; -1 means
// "usage error in args".

namespace regions_list {

constexpr Flag<std::string> kPrefix(
    "prefix", "DIGITS", "only codes starting with DIGITS (62 = Gansu)");
constexpr Flag<std::string> kName(
    "name", "TEXT",
    "only names containing TEXT, Chinese or pinyin (定西, dingxi)");

CommandSpec Spec() {
  return {"regions", "list", "", "List regions (GB/T 2260 codes), by code.",
          WithPaging({&kPrefix, &kName})};
}

int Run(Client& c, Args& args) {
  pb::ListRegionsRequest req;
  req.set_code_prefix(args.Get(kPrefix));
  req.set_name(args.Get(kName));
  pb::ListRegionsResponse resp;
  int rc = ListPages(
      c, args, req, &resp,
      [&](grpc::ClientContext* ctx, const pb::ListRegionsRequest& r,
          pb::ListRegionsResponse* p) {
        return c.stub()->ListRegions(ctx, r, p);
      },
      [](const pb::ListRegionsResponse& p, pb::ListRegionsResponse* o) {
        o->mutable_regions()->MergeFrom(p.regions());
        o->set_total_count(p.total_count());
      });
  if (rc != kExitOk) return rc;
  if (c.json()) {
    std::cout << ToJson(resp, true);
    return kExitOk;
  }
  Table t({"CODE", "NAME", "KEY ASSISTED", "RELOCATION SITE"});
  for (const pb::Region& r : resp.regions()) {
    t.AddRow({r.code(), r.name(), r.key_assisted() ? "yes" : "",
              r.relocation_site() ? "yes" : ""});
  }
  c.PrintTable(t);
  c.PrintListEnd(resp.regions_size(), "region", "", resp.next_page_token(), "",
                 resp.total_count());
  return kExitOk;
}

}  // namespace regions_list

namespace regions_upsert {

constexpr Flag<std::string> kCode("code", "CODE",
                                  "six-digit GB/T 2260 code, e.g. 621200",
                                  kRequired);
constexpr Flag<std::string> kName(
    "name", "NAME",
    "name, e.g. 陇南市 Longnan (at most 64 characters; required for a new "
    "region)");
constexpr Flag<bool> kKeyAssisted("key-assisted",
                                  "a national key assisted county");
constexpr Flag<bool> kClearKeyAssisted("clear-key-assisted",
                                       "no longer a key assisted county");
constexpr Flag<bool> kRelocationSite("relocation-site",
                                     "a large relocation settlement");
constexpr Flag<bool> kClearRelocationSite(
    "clear-relocation-site", "no longer a large relocation settlement");

CommandSpec Spec() {
  return {"regions",
          "upsert",
          "",
          "Create a region or change it: what a flag does not say keeps its "
          "value (--clear-key-assisted, --clear-relocation-site unset a "
          "mark).",
          {&kCode, &kName, &kKeyAssisted, &kClearKeyAssisted, &kRelocationSite,
           &kClearRelocationSite, &kRequestId}};
}

// The region as the server has it now, if it has it.
std::optional<pb::Region> Existing(Client& c, const std::string& code) {
  pb::ListRegionsRequest req;
  req.set_code_prefix(code);
  req.set_page_size(1);
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::ListRegionsResponse resp;
  if (!c.stub()->ListRegions(&context, req, &resp).ok() ||
      resp.regions_size() == 0 || resp.regions(0).code() != code) {
    return std::nullopt;
  }
  return resp.regions(0);
}

std::string YesNo(bool b) { return b ? "yes" : "no"; }

int Run(Client& c, Args& args) {
  pb::UpsertRegionRequest req;
  req.set_request_id(args.Get(kRequestId, NewRequestId()));
  pb::Region* r = req.mutable_region();
  r->set_code(args.Get(kCode));
  const std::optional<pb::Region> before =
      args.error().empty() ? Existing(c, r->code()) : std::nullopt;
  if (before.has_value()) *r = *before;
  if (args.Has(kName)) {
    r->set_name(args.Get(kName));
  } else if (!before.has_value() && args.error().empty()) {
    args.AddError(absl::StrCat("--name is required: region ", r->code(),
                               " does not exist yet"));
  }
  for (const auto& [set, clear, field] :
       {std::tuple{&kKeyAssisted, &kClearKeyAssisted,
                   &pb::Region::set_key_assisted},
        std::tuple{&kRelocationSite, &kClearRelocationSite,
                   &pb::Region::set_relocation_site}}) {
    if (args.Get(*set) && args.Get(*clear)) {
      args.AddError(absl::StrCat("--", set->name(), " and --", clear->name(),
                                 " contradict each other"));
    }
    if (args.Get(*set)) (r->*field)(true);
    if (args.Get(*clear)) (r->*field)(false);
  }
  if (!args.error().empty()) return -1;
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::Region resp;
  grpc::Status status = c.stub()->UpsertRegion(&context, req, &resp);
  if (!status.ok()) return c.Fail(status, req.request_id());
  if (c.json()) {
    std::cout << ToJson(resp, true);
    return kExitOk;
  }
  std::cout << "region " << Printable(resp.code()) << " "
            << Printable(resp.name());
  if (!before.has_value()) {
    std::cout << " created"
              << (resp.key_assisted() ? ", key assisted county" : "")
              << (resp.relocation_site() ? ", relocation site" : "") << "\n";
    return kExitOk;
  }
  std::vector<std::string> changes;
  if (before->name() != resp.name()) {
    changes.push_back(absl::StrCat("name ", Printable(before->name()), " -> ",
                                   Printable(resp.name())));
  }
  if (before->key_assisted() != resp.key_assisted()) {
    changes.push_back(absl::StrCat("key assisted ",
                                   YesNo(before->key_assisted()), " -> ",
                                   YesNo(resp.key_assisted())));
  }
  if (before->relocation_site() != resp.relocation_site()) {
    changes.push_back(absl::StrCat("relocation site ",
                                   YesNo(before->relocation_site()), " -> ",
                                   YesNo(resp.relocation_site())));
  }
  std::cout << (changes.empty()
                    ? std::string(" unchanged: it was already so")
                    : absl::StrCat(" replaced: ", absl::StrJoin(changes, ", ")))
            << "\n";
  return kExitOk;
}

}  // namespace regions_upsert

// --- The product catalogue ---------------------------------------------------

namespace products {

// The shelf life as DurationWords has it; "" when unset.
std::string ShelfLife(const pb::Product& p) {
  return p.has_shelf_life() ? DurationWords(p.shelf_life()) : "";
}

std::string PerishabilityName(pb::Perishability p) {
  if (p == pb::PERISHABILITY_UNSPECIFIED) return "";
  return absl::AsciiStrToLower(pb::Perishability_Name(p));
}

}  // namespace products

namespace products_list {

constexpr Flag<std::string> kPrefix(
    "prefix", "CODE",
    "only this product and those under it (whole segments: fruit covers "
    "fruit.apple)");
constexpr Flag<std::string> kName("name", "TEXT",
                                  "only names containing TEXT, e.g. 苹果");

CommandSpec Spec() {
  return {"products", "list", "",
          "List the product catalogue by code (while it is open: the "
          "products orders named, named by their code).",
          WithPaging({&kPrefix, &kName})};
}

int Run(Client& c, Args& args) {
  pb::ListProductsRequest req;
  req.set_code_prefix(args.Get(kPrefix));
  req.set_name(args.Get(kName));
  pb::ListProductsResponse resp;
  int rc = ListPages(
      c, args, req, &resp,
      [&](grpc::ClientContext* ctx, const pb::ListProductsRequest& r,
          pb::ListProductsResponse* p) {
        return c.stub()->ListProducts(ctx, r, p);
      },
      [](const pb::ListProductsResponse& p, pb::ListProductsResponse* o) {
        o->mutable_products()->MergeFrom(p.products());
        o->set_total_count(p.total_count());
        o->set_open(p.open());
      });
  if (rc != kExitOk) return rc;
  if (c.json()) {
    std::cout << ToJson(resp, true);
    return kExitOk;
  }
  Table t({"CODE", "NAME", "PERISHABILITY", "SHELF LIFE", "UNIT"});
  for (const pb::Product& p : resp.products()) {
    t.AddRow({p.code(), p.from_orders() ? "(from orders)" : p.name(),
              products::PerishabilityName(p.perishability()),
              products::ShelfLife(p), p.unit_note()});
  }
  c.PrintTable(t);
  c.PrintListEnd(resp.products_size(), "product", "", resp.next_page_token(),
                 resp.open() ? "; the catalogue is open: posts may name any "
                               "product"
                             : "",
                 resp.total_count());
  return kExitOk;
}

}  // namespace products_list

namespace products_upsert {

constexpr Flag<std::string> kCode(
    "code", "CODE",
    "product code, e.g. vegetable.potato (its parent must be catalogued)",
    kRequired);
constexpr Flag<std::string> kName("name", "NAME",
                                  "Chinese name, e.g. 马铃薯 (at most 64 "
                                  "characters)",
                                  kRequired);
constexpr Flag<std::string> kPerishability(
    "perishability", "KIND", "perishable, semi_perishable or storable",
    kRequired);
constexpr Flag<absl::Duration> kShelfLife(
    "shelf-life", "DURATION",
    "how long it keeps, e.g. 7d (1h to 3650 days; default: not stated)");
constexpr Flag<std::string> kUnit(
    "unit", "TEXT", "how it is sold or packed, e.g. 网袋, 每袋25公斤");

CommandSpec Spec() {
  return {"products",
          "upsert",
          "",
          "Catalogue a product or replace it (flags not given become empty). "
          "The first one closes the catalogue: posts must then name "
          "catalogued products. ADMIN only.",
          {&kCode, &kName, &kPerishability, &kShelfLife, &kUnit, &kRequestId}};
}

int Run(Client& c, Args& args) {
  pb::UpsertProductRequest req;
  req.set_request_id(args.Get(kRequestId, NewRequestId()));
  pb::Product* p = req.mutable_product();
  p->set_code(args.Get(kCode));
  p->set_name(args.Get(kName));
  p->set_unit_note(args.Get(kUnit));
  if (args.Has(kPerishability)) {
    std::string w = Normalize(args.Get(kPerishability));
    if (w == "SEMI") w = "SEMI_PERISHABLE";
    pb::Perishability k;
    if (pb::Perishability_Parse(w, &k) && k != pb::PERISHABILITY_UNSPECIFIED) {
      p->set_perishability(k);
    } else {
      args.AddError(absl::StrCat(
          "--perishability: expected one of perishable, semi_perishable, "
          "storable; got '",
          args.Get(kPerishability), "'"));
    }
  }
  if (std::optional<absl::Duration> d = args.Get(kShelfLife)) {
    if (*d % absl::Seconds(1) != absl::ZeroDuration()) {
      args.AddError("--shelf-life: must be whole seconds");
    } else {
      p->mutable_shelf_life()->set_seconds(absl::ToInt64Seconds(*d));
    }
  }
  if (!args.error().empty()) return -1;
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::UpsertProductResponse resp;
  grpc::Status status = c.stub()->UpsertProduct(&context, req, &resp);
  if (!status.ok()) return c.Fail(status, req.request_id());
  if (c.json()) {
    std::cout << ToJson(resp, true);
    return kExitOk;
  }
  const pb::Product& out = resp.product();
  std::cout << "product " << Printable(out.code()) << " "
            << Printable(out.name()) << " "
            << (resp.created() ? "created" : "replaced") << ", "
            << products::PerishabilityName(out.perishability());
  if (out.has_shelf_life()) {
    std::cout << ", keeps " << products::ShelfLife(out);
  }
  if (!out.unit_note().empty()) std::cout << ", " << Printable(out.unit_note());
  std::cout << "\n";
  return kExitOk;
}

}  // namespace products_upsert

// Region names by code, best effort (empty on failure), for display only.
std::map<std::string, std::string> RegionNames(Client& c) {
  std::map<std::string, std::string> names;
  pb::ListRegionsRequest req;
  req.set_page_size(1000);
  for (int pages = 0; pages < 100; ++pages) {
    grpc::ClientContext context;
    c.Prepare(&context);
    pb::ListRegionsResponse resp;
    if (!c.stub()->ListRegions(&context, req, &resp).ok()) break;
    for (const pb::Region& r : resp.regions()) names[r.code()] = r.name();
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  return names;
}

// The code of the one item a name found (a region or a product), else
// `value` with a usage error on `args`: none found, or the candidates (the
// first ten) to choose from by code.
template <typename Item>
std::string PickOne(Args& args, absl::string_view flag,
                    const std::string& value,
                    const std::vector<const Item*>& found,
                    absl::string_view what, absl::string_view list_command) {
  if (found.size() == 1) return found[0]->code();
  if (found.empty()) {
    args.AddError(absl::StrCat("--", flag, " ", value, ": no ", what,
                               "'s code or name matches it; `duijie ",
                               list_command, " list --name TEXT` searches"));
    return value;
  }
  std::vector<std::string> names;
  for (const Item* item : found) {
    if (names.size() == 10) {
      names.push_back("...");
      break;
    }
    names.push_back(absl::StrCat(item->code(), " ", Printable(item->name())));
  }
  args.AddError(absl::StrCat("--", flag, " ", value, " could be ", found.size(),
                             " ", what, "s: ", absl::StrJoin(names, ", "),
                             "; give the code"));
  return value;
}

// The region a flag's value names: a code as given, or else a name
// (Chinese or pinyin, as ListRegions(name) finds it) that picks one region.
// Names are ranked: the whole name; a word of it, alone or with an
// administrative suffix (定西 is the word 定西市, not 安定区), its own words
// before its parent's; the start of the name; anywhere in it. The first rank
// with any region decides: one region resolves, several are an error listing
// them. Errors are usage errors on `args`; the value is returned unchanged
// then.
std::string ResolveRegion(Client& c, Args& args, absl::string_view flag,
                          const std::string& value) {
  // After a usage error the command stops anyway: no lookup for nothing.
  if (!args.error().empty()) return value;
  if (value.empty() || std::all_of(value.begin(), value.end(), [](char ch) {
        return absl::ascii_isdigit(static_cast<unsigned char>(ch));
      })) {
    return value;
  }
  pb::ListRegionsRequest req;
  req.set_name(value);
  req.set_page_size(1000);
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::ListRegionsResponse resp;
  if (grpc::Status s = c.stub()->ListRegions(&context, req, &resp); !s.ok()) {
    args.AddError(
        absl::StrCat("--", flag, " ", value,
                     ": cannot look the name up: ", s.error_message()));
    return value;
  }
  const std::string want = absl::AsciiStrToLower(value);
  // A name is the region's own words, then after a comma those of the
  // region it lies in ("安定区 Anding, Dingxi"): a word of its own ranks
  // before a word of its parent's, so Dingxi is 定西市, not 安定区.
  auto rank = [&](const std::string& name) {
    const std::string lower = absl::AsciiStrToLower(name);
    if (lower == want) return 0;
    bool own = true;
    for (absl::string_view part : absl::StrSplit(lower, ',')) {
      for (absl::string_view word :
           absl::StrSplit(part, absl::ByAnyChar(" ;/()"), absl::SkipEmpty())) {
        bool same = word == want;
        for (absl::string_view suffix :
             {"省", "市", "州", "盟", "县", "区", "旗"}) {
          same = same || word == absl::StrCat(want, suffix);
        }
        if (same) return own ? 1 : 2;
      }
      own = false;
    }
    return absl::StartsWith(lower, want) ? 3 : 4;
  };
  int best = 5;
  std::vector<const pb::Region*> found;
  for (const pb::Region& r : resp.regions()) {
    const int k = rank(r.name());
    if (k < best) {
      best = k;
      found.clear();
    }
    if (k == best) found.push_back(&r);
  }
  return PickOne(args, flag, value, found, "region", "regions");
}

// The product a flag's value names: a code as given (any ASCII), or else a
// catalogued product's Chinese name as ListProducts
// (name) finds it (马铃薯 is vegetable.potato). A name equal to a product's
// whole name wins over names that merely contain it; otherwise one product
// must contain it. Errors are usage errors on `args`; the value is returned
// unchanged then.
std::string ResolveProduct(Client& c, Args& args, absl::string_view flag,
                           const std::string& value) {
  if (!args.error().empty()) return value;  // as ResolveRegion
  // ASCII is a code, checked by the server (which suggests the nearest).
  if (std::all_of(value.begin(), value.end(), [](char ch) {
        return absl::ascii_isascii(static_cast<unsigned char>(ch));
      })) {
    return value;
  }
  pb::ListProductsRequest req;
  req.set_name(value);
  req.set_page_size(1000);
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::ListProductsResponse resp;
  if (grpc::Status s = c.stub()->ListProducts(&context, req, &resp); !s.ok()) {
    args.AddError(
        absl::StrCat("--", flag, " ", value,
                     ": cannot look the name up: ", s.error_message()));
    return value;
  }
  std::vector<const pb::Product*> whole, partial;
  for (const pb::Product& p : resp.products()) {
    (p.name() == value ? whole : partial).push_back(&p);
  }
  const std::vector<const pb::Product*>& found =
      whole.empty() ? partial : whole;
  return PickOne(args, flag, value, found, "product", "products");
}

// A region filter's prefix from a flag: digits as given, or a name that
// ResolveRegion resolves, as the prefix of every region under it (the
// prefecture 621200 is the prefix 6212, the province 620000 is 62).
std::string RegionPrefix(Client& c, Args& args, absl::string_view flag,
                         const std::string& value) {
  std::string code = ResolveRegion(c, args, flag, value);
  if (code == value) return code;  // digits, or not resolved
  while (code.size() > 2 && absl::EndsWith(code, "00"))
    code.resize(code.size() - 2);
  return code;
}

namespace pairings_list {

constexpr Flag<std::string> kPrefix(
    "prefix", "DIGITS", "only pairings with a side starting with DIGITS");

CommandSpec Spec() {
  return {"pairings", "list", "", "List east-west cooperation pairings.",
          WithPaging({&kPrefix})};
}

int Run(Client& c, Args& args) {
  pb::ListPairingsRequest req;
  req.set_code_prefix(args.Get(kPrefix));
  pb::ListPairingsResponse resp;
  int rc = ListPages(
      c, args, req, &resp,
      [&](grpc::ClientContext* ctx, const pb::ListPairingsRequest& r,
          pb::ListPairingsResponse* p) {
        return c.stub()->ListPairings(ctx, r, p);
      },
      [](const pb::ListPairingsResponse& p, pb::ListPairingsResponse* o) {
        o->mutable_pairings()->MergeFrom(p.pairings());
      });
  if (rc != kExitOk) return rc;
  if (c.json()) {
    std::cout << ToJson(resp, true);
    return kExitOk;
  }
  std::map<std::string, std::string> names = RegionNames(c);
  Table t({"EAST", "", "WEST", "", "NOTE"});
  for (const pb::Pairing& p : resp.pairings()) {
    t.AddRow({p.east_code(), names[p.east_code()], p.west_code(),
              names[p.west_code()], p.note()});
  }
  c.PrintTable(t);
  c.PrintListEnd(resp.pairings_size(), "pairing", "", resp.next_page_token(),
                 "", TotalOf(resp));
  return kExitOk;
}

}  // namespace pairings_list

namespace pairings_add {

constexpr Flag<std::string> kEast("east", "REGION",
                                  "buyer side, a code or a unique name, e.g. "
                                  "370200 or 青岛",
                                  kRequired);
constexpr Flag<std::string> kWest("west", "REGION",
                                  "assisted side, a code or a unique name, "
                                  "e.g. 621200 or 陇南",
                                  kRequired);
constexpr Flag<std::string> kNote("note", "TEXT",
                                  "free text, at most 256 bytes");
constexpr Flag<bool> kClearNote("clear-note", "empty an existing note");

CommandSpec Spec() {
  return {"pairings",
          "add",
          "",
          "Create a pairing (or change its note: without --note an existing "
          "pairing keeps its note, --clear-note empties it). Covers "
          "everything under both sides.",
          {&kEast, &kWest, &kNote, &kClearNote, &kRequestId}};
}

int Run(Client& c, Args& args) {
  pb::UpsertPairingRequest req;
  req.set_request_id(args.Get(kRequestId, NewRequestId()));
  req.mutable_pairing()->set_east_code(
      ResolveRegion(c, args, "east", args.Get(kEast)));
  req.mutable_pairing()->set_west_code(
      ResolveRegion(c, args, "west", args.Get(kWest)));
  if (args.Has(kNote) && args.Get(kClearNote)) {
    args.AddError("--note and --clear-note contradict each other");
  }
  if (!args.error().empty()) return -1;
  // The pairing as it stands, if it exists: its note stays unless changed.
  std::optional<pb::Pairing> before;
  {
    pb::ListPairingsRequest list;
    list.set_code_prefix(req.pairing().east_code());
    list.set_page_size(1000);
    grpc::ClientContext context;
    c.Prepare(&context);
    pb::ListPairingsResponse pairings;
    if (c.stub()->ListPairings(&context, list, &pairings).ok()) {
      for (const pb::Pairing& p : pairings.pairings()) {
        if (p.east_code() == req.pairing().east_code() &&
            p.west_code() == req.pairing().west_code()) {
          before = p;
        }
      }
    }
  }
  req.mutable_pairing()->set_note(args.Has(kNote) ? args.Get(kNote)
                                  : before.has_value() && !args.Get(kClearNote)
                                      ? before->note()
                                      : "");
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::Pairing resp;
  grpc::Status status = c.stub()->UpsertPairing(&context, req, &resp);
  if (!status.ok()) return c.Fail(status, req.request_id());
  if (c.json()) {
    std::cout << ToJson(resp, true);
    return kExitOk;
  }
  std::cout << "pairing " << Printable(resp.east_code()) << " (east) - "
            << Printable(resp.west_code()) << " (west) ";
  if (!before.has_value()) {
    std::cout << "created\n";
  } else if (before->note() == resp.note()) {
    std::cout << "unchanged: it was already so\n";
  } else {
    std::cout << "replaced: note \"" << Printable(before->note()) << "\" -> \""
              << Printable(resp.note()) << "\"\n";
  }
  return kExitOk;
}

}  // namespace pairings_add

namespace pairings_delete {

constexpr Flag<std::string> kEast("east", "REGION",
                                  "buyer side, a code or a unique name",
                                  kRequired);
constexpr Flag<std::string> kWest("west", "REGION",
                                  "assisted side, a code or a unique name",
                                  kRequired);

CommandSpec Spec() {
  return {"pairings",
          "delete",
          "",
          "Delete a pairing.",
          {&kEast, &kWest, &kRequestId}};
}

int Run(Client& c, Args& args) {
  pb::DeletePairingRequest req;
  req.set_request_id(args.Get(kRequestId, NewRequestId()));
  req.set_east_code(ResolveRegion(c, args, "east", args.Get(kEast)));
  req.set_west_code(ResolveRegion(c, args, "west", args.Get(kWest)));
  if (!args.error().empty()) return -1;
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::DeletePairingResponse resp;
  grpc::Status status = c.stub()->DeletePairing(&context, req, &resp);
  if (!status.ok()) return c.Fail(status, req.request_id());
  if (c.json()) {
    std::cout << ToJson(resp, true);
  } else {
    std::cout << "pairing " << Printable(resp.pairing().east_code()) << " - "
              << Printable(resp.pairing().west_code()) << " deleted\n";
  }
  return kExitOk;
}

}  // namespace pairings_delete

// `d` as a protobuf Duration (whole nanoseconds; the server wants whole
// microseconds and says so otherwise).
void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  const int64_t seconds = absl::IDivDuration(d, absl::Seconds(1), &d);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(d / absl::Nanoseconds(1)));
}

namespace offer_post {

constexpr Flag<std::string> kSupplier("supplier", "ID",
                                      "supplier or cooperative id", kRequired);
constexpr Flag<std::string> kRegion(
    "region", "REGION",
    "where it grows: a known region's code or unique name (621102, 安定区)",
    kRequired);
constexpr Flag<std::string> kProduct("product", "CODE",
                                     "product code, e.g. spice.sichuan_pepper",
                                     kRequired);
constexpr Flag<std::string> kGrade(
    "grade", "GRADE", "premium (特级), first (一级) or second (二级)",
    kRequired);
constexpr Flag<int64_t> kKg("kg", "KG",
                            "quantity in kg, e.g. 2,000 (this or --t is "
                            "required)");
constexpr Flag<InTonnes> kTonnes("t", "TONNES",
                                 "quantity in tonnes, up to 3 decimals, e.g. "
                                 "2.5 (instead of --kg)");
constexpr Flag<int64_t> kFloorFen(
    "floor-fen", "FEN",
    "lowest price accepted, fen per kg (100 fen = 1 yuan; this or "
    "--floor-yuan is required)");
constexpr Flag<InYuan> kFloorYuan(
    "floor-yuan", "YUAN",
    "lowest price accepted, yuan per kg, e.g. 68 or 68.50 (instead of "
    "--floor-fen)");
constexpr Flag<int64_t> kMinLotKg("min-lot-kg", "KG",
                                  "smallest fill accepted (default: none)");
constexpr Flag<bool> kCertified(
    "certified", "a certified assistance product (扶贫产品认定)");
constexpr Flag<int32_t> kHouseholds("households", "N",
                                    "low-income households it supports");
constexpr Flag<absl::Duration> kShipWithin(
    "ship-within", "DURATION",
    "time to ship after a match, e.g. 72h (1h to 366 days; default 7d)");

CommandSpec Spec() {
  return {"offer",
          "post",
          "",
          "Post surplus produce; it matches open pledges at once. What is "
          "left rests on the book.",
          {&kSupplier, &kRegion, &kProduct, &kGrade, &kKg, &kTonnes, &kFloorFen,
           &kFloorYuan, &kMinLotKg, &kExpires, &kExpiresIn, &kShipWithin,
           &kCertified, &kHouseholds, &kRequestId}};
}

int Run(Client& c, Args& args) {
  pb::PostOfferRequest req;
  req.set_request_id(args.Get(kRequestId, NewRequestId()));
  pb::Offer* o = req.mutable_offer();
  o->set_supplier_id(args.Get(kSupplier));
  o->set_region_code(ResolveRegion(c, args, "region", args.Get(kRegion)));
  o->set_product_code(ResolveProduct(c, args, "product", args.Get(kProduct)));
  pb::Grade grade = pb::GRADE_UNSPECIFIED;
  ReadGrade(args, kGrade, &grade);
  o->set_grade(grade);
  o->set_quantity_kg(ReadKg(args, kKg, kTonnes, /*required=*/true).value_or(0));
  o->set_floor_price_fen_per_kg(
      ReadFen(args, kFloorFen, kFloorYuan, /*required=*/true).value_or(0));
  o->set_min_lot_kg(args.Get(kMinLotKg));
  ReadExpiry(args, o, &req);
  o->set_certified(args.Get(kCertified));
  o->set_households(args.Get(kHouseholds));
  if (args.Has(kShipWithin)) {
    if (auto d = args.Get(kShipWithin))
      SetDuration(*d, o->mutable_ship_within());
  }
  if (!args.error().empty()) return -1;
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::PostOfferResponse resp;
  grpc::Status status = c.stub()->PostOffer(&context, req, &resp);
  if (!status.ok()) return c.Fail(status, req.request_id());
  if (c.json()) {
    std::cout << ToJson(resp, true);
    return kExitOk;
  }
  PrintOffer(resp.offer());
  PrintArrivalMatches(c, resp.offer().product_code(), resp.matches());
  return kExitOk;
}

}  // namespace offer_post

namespace explain_print {
// Defined with the explain commands below.
void Print(const pb::Explanation& e, bool pledge, uint64_t id);
}  // namespace explain_print

namespace pledge_post {

constexpr Flag<std::string> kBuyer("buyer", "ID", "buyer unit id", kRequired);
// Optional for a registered buyer (duijie buyer upsert): the server takes
// the registry's; required for any other.
constexpr Flag<std::string> kCity("city", "REGION",
                                  "the buyer's city, a known region's code or "
                                  "unique name (default for a registered "
                                  "buyer: its registered city)");
constexpr Flag<std::string> kKind(
    "kind", "KIND",
    "government_unit, school, hospital, state_firm, private_firm, "
    "army_unit, trade_union, canteen, charity, individual or platform "
    "(default for a registered buyer: its registered kind)");
constexpr Flag<std::string> kProduct(
    "product", "CODE",
    "a product code or an ancestor (vegetable = any vegetable)", kRequired);
constexpr Flag<std::string> kMinGrade("min-grade", "GRADE",
                                      "lowest grade accepted (default: any)");
constexpr Flag<int64_t> kKg("kg", "KG",
                            "quantity in kg (this or --t is required)");
constexpr Flag<InTonnes> kTonnes("t", "TONNES",
                                 "quantity in tonnes, up to 3 decimals "
                                 "(instead of --kg)");
constexpr Flag<int64_t> kMaxFen("max-fen", "FEN",
                                "highest price paid, fen per kg (this or "
                                "--max-yuan is required)");
constexpr Flag<InYuan> kMaxYuan("max-yuan", "YUAN",
                                "highest price paid, yuan per kg, e.g. 75.5 "
                                "(instead of --max-fen)");
constexpr Flag<int64_t> kBudgetFen("budget-fen", "FEN",
                                   "spending cap in fen (default: none)");
constexpr Flag<InYuan> kBudgetYuan(
    "budget-yuan", "YUAN",
    "spending cap in yuan, e.g. 1,200,000 (instead of --budget-fen)");
constexpr Flag<int64_t> kMinLotKg("min-lot-kg", "KG",
                                  "smallest fill accepted (default: none)");
constexpr Flag<std::string> kScope(
    "scope", "SCOPE",
    "any, partners (paired regions only) or listed (default: any, or "
    "listed with --regions)");
constexpr Flag<std::string> kRegions(
    "regions", "REGIONS",
    "comma-separated region codes or unique names for listed, e.g. "
    "620000,陇南");
constexpr Flag<bool> kRequireCertified(
    "require-certified", "accept certified assistance products only");
constexpr Flag<absl::Duration> kAcceptWithin(
    "accept-within", "DURATION",
    "time to accept a shipment, e.g. 72h (1h to 366 days; default 7d)");
constexpr Flag<std::string> kEvery(
    "every", "PERIOD",
    "day, week or month: a standing pledge that refills to --kg (and "
    "--budget-fen) each period, Asia/Shanghai calendar; needs --until");
constexpr Flag<absl::Time> kUntil(
    "until", "DATE",
    "when a standing pledge ends: a date (through that day), a local time "
    "(2027-06-30 18:00), an RFC 3339 time or a duration (90d)",
    DateMeans::kEndOfDay);
constexpr Flag<bool> kCarryOver(
    "carry-over", "a standing pledge's unfilled kg roll into the next period");

// --every, --until and --carry-over into the pledge's recurrence.
void ReadRecurrence(Args& args, pb::Pledge* p) {
  if (!args.Has(kEvery)) {
    if (args.Has(kUntil) || args.Has(kCarryOver)) {
      args.AddError("--until and --carry-over need --every");
    }
    return;
  }
  pb::Recurrence* r = p->mutable_recurrence();
  const std::string every = Normalize(args.Get(kEvery));
  if (every == "DAY" || every == "DAILY") {
    r->set_period(pb::DAILY);
  } else if (every == "WEEK" || every == "WEEKLY") {
    r->set_period(pb::WEEKLY);
  } else if (every == "MONTH" || every == "MONTHLY") {
    r->set_period(pb::MONTHLY);
  } else {
    args.AddError(absl::StrCat("--every: day, week or month, not '",
                               args.Get(kEvery), "'"));
  }
  r->set_quantity_kg(p->quantity_kg());
  r->set_budget_fen(p->budget_fen());
  r->set_carry_over(args.Get(kCarryOver));
  if (!args.Has(kUntil)) {
    args.AddError("--every needs --until");
    return;
  }
  // A date means through that day, as people say it: the pledge ends at
  // the next midnight (in Asia/Shanghai, unless --utc or $TZ).
  if (std::optional<absl::Time> t = args.Get(kUntil)) {
    SetTimestamp(*t, r->mutable_until());
  }
}
constexpr Flag<std::string> kMember(
    "member", "BUYER:PERMILLE",
    "with --buyer an alliance: a member and its share of each fill's kg in "
    "permille; one per member, the shares summing to 1000",
    kRepeated);

CommandSpec Spec() {
  return {"pledge",
          "post",
          "",
          "Post a purchase pledge; it matches open offers at once. What is "
          "left rests on the book. With --every, a standing pledge: it "
          "refills each period until --until.",
          {&kBuyer,
           &kCity,
           &kKind,
           &kProduct,
           &kMinGrade,
           &kKg,
           &kTonnes,
           &kMaxFen,
           &kMaxYuan,
           &kBudgetFen,
           &kBudgetYuan,
           &kMinLotKg,
           &kExpires,
           &kExpiresIn,
           &kScope,
           &kRegions,
           &kRequireCertified,
           &kEvery,
           &kUntil,
           &kCarryOver,
           &kMember,
           &kAcceptWithin,
           &kRequestId}};
}

int Run(Client& c, Args& args) {
  pb::PostPledgeRequest req;
  req.set_request_id(args.Get(kRequestId, NewRequestId()));
  pb::Pledge* p = req.mutable_pledge();
  p->set_buyer_id(args.Get(kBuyer));
  p->set_buyer_city_code(ResolveRegion(c, args, "city", args.Get(kCity)));
  pb::BuyerKind kind = pb::BUYER_KIND_UNSPECIFIED;
  ReadKind(args, kKind, &kind);
  p->set_buyer_kind(kind);
  p->set_product_code(ResolveProduct(c, args, "product", args.Get(kProduct)));
  pb::Grade grade = pb::GRADE_UNSPECIFIED;
  ReadGrade(args, kMinGrade, &grade);
  p->set_min_grade(grade);
  p->set_quantity_kg(ReadKg(args, kKg, kTonnes, /*required=*/true).value_or(0));
  p->set_max_price_fen_per_kg(
      ReadFen(args, kMaxFen, kMaxYuan, /*required=*/true).value_or(0));
  p->set_budget_fen(
      ReadFen(args, kBudgetFen, kBudgetYuan, /*required=*/false).value_or(0));
  p->set_min_lot_kg(args.Get(kMinLotKg));
  ReadRecurrence(args, p);
  // A standing pledge expires at --until unless told otherwise.
  if (!p->has_recurrence() || args.Has(kExpires) || args.Has(kExpiresIn)) {
    ReadExpiry(args, p, &req);
  }
  pb::Scope scope = pb::ANY;
  ReadScope(args, kScope, kRegions, &scope);
  p->set_scope(scope);
  if (args.Has(kRegions)) {
    for (absl::string_view code :
         absl::StrSplit(args.Get(kRegions), ',', absl::SkipWhitespace())) {
      p->add_region_codes(ResolveRegion(
          c, args, "regions", std::string(absl::StripAsciiWhitespace(code))));
    }
  }
  p->set_require_certified(args.Get(kRequireCertified));
  if (args.Has(kAcceptWithin)) {
    if (auto d = args.Get(kAcceptWithin)) {
      SetDuration(*d, p->mutable_accept_within());
    }
  }
  for (const std::string& text : args.GetAll(kMember)) {
    // BUYER:PERMILLE; the buyer id may itself hold colons, the share not.
    const size_t colon = text.rfind(':');
    uint32_t share = 0;
    if (colon == std::string::npos || colon == 0 ||
        !absl::SimpleAtoi(absl::string_view(text).substr(colon + 1), &share)) {
      args.AddError(absl::StrCat("--member '", text,
                                 "': expected BUYER:PERMILLE, e.g. "
                                 "shanghai-canteen-3:250"));
      break;
    }
    pb::MemberShare* member = p->add_members();
    member->set_buyer_id(text.substr(0, colon));
    member->set_share_permille(share);
  }
  if (!args.error().empty()) return -1;
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::PostPledgeResponse resp;
  grpc::Status status = c.stub()->PostPledge(&context, req, &resp);
  if (!status.ok()) return c.Fail(status, req.request_id());
  if (c.json()) {
    std::cout << ToJson(resp, true);
    return kExitOk;
  }
  PrintPledge(resp.pledge());
  PrintArrivalMatches(c, resp.pledge().product_code(), resp.matches());
  if (resp.has_explanation()) {
    std::cout << "\n";
    explain_print::Print(resp.explanation(), /*pledge=*/true,
                         resp.pledge().pledge_id());
  }
  return kExitOk;
}

}  // namespace pledge_post

// ---------------------------------------------------------------------------
// Amending: every flag optional, an absent one leaves its field as it is.

// The post commands' expiry flags, without their 30-day default.
constexpr Flag<absl::Time> kNewExpires(
    "expires", "TIME",
    "new expiry: a date (open through that day), a local time, RFC 3339 or "
    "a duration from when the server applies it (default: unchanged)",
    DateMeans::kEndOfDay);
constexpr Flag<absl::Duration> kNewExpiresIn(
    "expires-in", "DURATION",
    "new expiry counted from when the server applies it, e.g. 72h");

// --expires or --expires-in into an amendment, only when one is given.
template <typename Request>
void ReadAmendedExpiry(Args& args, Request* req) {
  if (args.Has(kNewExpires) && args.Has(kNewExpiresIn)) {
    args.AddError("give --expires or --expires-in, not both");
    return;
  }
  if (args.Has(kNewExpires)) {
    if (auto t = args.Get(kNewExpires)) {
      if (auto relative = args.GetRelative(kNewExpires)) {
        SetDuration(*relative, req->mutable_expires_in());
      } else {
        SetTimestamp(*t, req->mutable_expires_at());
      }
    }
  } else if (args.Has(kNewExpiresIn)) {
    if (auto d = args.Get(kNewExpiresIn)) {
      SetDuration(*d, req->mutable_expires_in());
    }
  }
}

// What an amendment did, for people.
template <typename Matches>
void PrintAmendmentMatches(const Client& c, const Matches& matches) {
  if (matches.empty()) {
    std::cout << "no match on amendment\n";
    return;
  }
  std::cout << "\nmatched on amendment:\n";
  PrintMatches(c, matches);
}

namespace offer_amend {

constexpr Flag<int64_t> kKg("kg", "KG",
                            "new quantity in kg, at least what was matched "
                            "(equal fills the offer)");
constexpr Flag<InTonnes> kTonnes("t", "TONNES",
                                 "new quantity in tonnes (instead of --kg)");
constexpr Flag<int64_t> kFloorFen("floor-fen", "FEN",
                                  "new lowest price, fen per kg");
constexpr Flag<InYuan> kFloorYuan(
    "floor-yuan", "YUAN",
    "new lowest price, yuan per kg (instead of --floor-fen)");
constexpr Flag<int64_t> kMinLotKg("min-lot-kg", "KG", "new smallest fill");
constexpr Flag<absl::Duration> kShipWithin(
    "ship-within", "DURATION",
    "time to ship after a match, e.g. 72h (1h to 366 days)");

CommandSpec Spec() {
  return {"offer",
          "amend",
          "ID",
          "Change an open offer in place; unset flags keep their value. More "
          "kg or a higher floor sends it to the back of its queue; it "
          "matches open pledges at once when it now fits them.",
          {&kKg, &kTonnes, &kFloorFen, &kFloorYuan, &kMinLotKg, &kNewExpires,
           &kNewExpiresIn, &kShipWithin, &kRequestId}};
}

int Run(Client& c, Args& args) {
  pb::AmendOfferRequest req;
  req.set_request_id(args.Get(kRequestId, NewRequestId()));
  req.set_id(args.PositionalId());
  if (auto kg = ReadKg(args, kKg, kTonnes, /*required=*/false)) {
    req.set_quantity_kg(*kg);
  }
  if (auto fen = ReadFen(args, kFloorFen, kFloorYuan, /*required=*/false)) {
    req.set_floor_price_fen_per_kg(*fen);
  }
  if (args.Has(kMinLotKg)) req.set_min_lot_kg(args.Get(kMinLotKg));
  ReadAmendedExpiry(args, &req);
  if (args.Has(kShipWithin)) {
    if (auto d = args.Get(kShipWithin)) {
      SetDuration(*d, req.mutable_ship_within());
    }
  }
  if (!args.error().empty()) return -1;
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::AmendOfferResponse resp;
  grpc::Status status = c.stub()->AmendOffer(&context, req, &resp);
  if (!status.ok()) return c.Fail(status, req.request_id());
  if (c.json()) {
    std::cout << ToJson(resp, true);
    return kExitOk;
  }
  PrintOffer(resp.offer());
  PrintAmendmentMatches(c, resp.matches());
  return kExitOk;
}

}  // namespace offer_amend

namespace pledge_amend {

constexpr Flag<int64_t> kKg("kg", "KG",
                            "new quantity in kg, at least what was matched "
                            "(equal fills the pledge)");
constexpr Flag<InTonnes> kTonnes("t", "TONNES",
                                 "new quantity in tonnes (instead of --kg)");
constexpr Flag<int64_t> kMaxFen("max-fen", "FEN",
                                "new highest price, fen per kg");
constexpr Flag<InYuan> kMaxYuan(
    "max-yuan", "YUAN",
    "new highest price, yuan per kg (instead of --max-fen)");
constexpr Flag<int64_t> kBudgetFen(
    "budget-fen", "FEN",
    "new spending cap in fen, 0 for none; not below spent");
constexpr Flag<InYuan> kBudgetYuan(
    "budget-yuan", "YUAN",
    "new spending cap in yuan, 0 for none (instead of --budget-fen)");
constexpr Flag<int64_t> kMinLotKg("min-lot-kg", "KG", "new smallest fill");
constexpr Flag<std::string> kScope(
    "scope", "SCOPE",
    "any, partners or listed (listed with --regions when only those given)");
constexpr Flag<std::string> kRegions(
    "regions", "REGIONS",
    "comma-separated region codes or unique names for listed");
constexpr Flag<absl::Duration> kAcceptWithin(
    "accept-within", "DURATION",
    "time to accept a shipment, e.g. 72h (1h to 366 days)");

CommandSpec Spec() {
  return {"pledge",
          "amend",
          "ID",
          "Change an open pledge in place; unset flags keep their value. More "
          "kg, a lower price, a smaller budget or a narrower scope sends it "
          "to the back of its queue; it matches open offers at once when it "
          "now fits them.",
          {&kKg, &kTonnes, &kMaxFen, &kMaxYuan, &kBudgetFen, &kBudgetYuan,
           &kMinLotKg, &kNewExpires, &kNewExpiresIn, &kScope, &kRegions,
           &kAcceptWithin, &kRequestId}};
}

int Run(Client& c, Args& args) {
  pb::AmendPledgeRequest req;
  req.set_request_id(args.Get(kRequestId, NewRequestId()));
  req.set_id(args.PositionalId());
  if (auto kg = ReadKg(args, kKg, kTonnes, /*required=*/false)) {
    req.set_quantity_kg(*kg);
  }
  if (auto fen = ReadFen(args, kMaxFen, kMaxYuan, /*required=*/false)) {
    req.set_max_price_fen_per_kg(*fen);
  }
  if (auto fen = ReadFen(args, kBudgetFen, kBudgetYuan, /*required=*/false)) {
    req.set_budget_fen(*fen);
  }
  if (args.Has(kMinLotKg)) req.set_min_lot_kg(args.Get(kMinLotKg));
  ReadAmendedExpiry(args, &req);
  if (args.Has(kScope) || args.Has(kRegions)) {
    pb::Scope scope = pb::ANY;
    ReadScope(args, kScope, kRegions, &scope);
    req.set_scope(scope);
    if (args.Has(kRegions)) {
      for (absl::string_view code :
           absl::StrSplit(args.Get(kRegions), ',', absl::SkipWhitespace())) {
        req.add_region_codes(ResolveRegion(
            c, args, "regions", std::string(absl::StripAsciiWhitespace(code))));
      }
    }
  }
  if (args.Has(kAcceptWithin)) {
    if (auto d = args.Get(kAcceptWithin)) {
      SetDuration(*d, req.mutable_accept_within());
    }
  }
  if (!args.error().empty()) return -1;
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::AmendPledgeResponse resp;
  grpc::Status status = c.stub()->AmendPledge(&context, req, &resp);
  if (!status.ok()) return c.Fail(status, req.request_id());
  if (c.json()) {
    std::cout << ToJson(resp, true);
    return kExitOk;
  }
  PrintPledge(resp.pledge());
  PrintAmendmentMatches(c, resp.matches());
  return kExitOk;
}

}  // namespace pledge_amend

namespace offer_cancel {

CommandSpec Spec() {
  return {"offer", "cancel", "ID", "Cancel an open offer.", {&kRequestId}};
}

int Run(Client& c, Args& args) {
  pb::CancelOfferRequest req;
  req.set_request_id(args.Get(kRequestId, NewRequestId()));
  req.set_id(args.PositionalId());
  if (!args.error().empty()) return -1;
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::CancelOfferResponse resp;
  grpc::Status status = c.stub()->CancelOffer(&context, req, &resp);
  if (!status.ok()) return c.Fail(status, req.request_id());
  if (c.json()) {
    std::cout << ToJson(resp, true);
    return kExitOk;
  }
  std::cout << "offer " << resp.offer().offer_id() << " cancelled with "
            << Kg(resp.unfilled_kg()) << " kg unfilled\n";
  PrintOffer(resp.offer());
  return kExitOk;
}

}  // namespace offer_cancel

namespace pledge_cancel {

CommandSpec Spec() {
  return {"pledge", "cancel", "ID", "Cancel an open pledge.", {&kRequestId}};
}

int Run(Client& c, Args& args) {
  pb::CancelPledgeRequest req;
  req.set_request_id(args.Get(kRequestId, NewRequestId()));
  req.set_id(args.PositionalId());
  if (!args.error().empty()) return -1;
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::CancelPledgeResponse resp;
  grpc::Status status = c.stub()->CancelPledge(&context, req, &resp);
  if (!status.ok()) return c.Fail(status, req.request_id());
  if (c.json()) {
    std::cout << ToJson(resp, true);
    return kExitOk;
  }
  std::cout << "pledge " << resp.pledge().pledge_id() << " cancelled with "
            << Kg(resp.unfilled_kg()) << " kg unfilled\n";
  PrintPledge(resp.pledge());
  return kExitOk;
}

}  // namespace pledge_cancel

namespace offer_get {

CommandSpec Spec() { return {"offer", "get", "ID", "Show one offer.", {}}; }

int Run(Client& c, Args& args) {
  pb::GetOfferRequest req;
  req.set_id(args.PositionalId());
  if (!args.error().empty()) return -1;
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::Offer resp;
  grpc::Status status = c.stub()->GetOffer(&context, req, &resp);
  if (!status.ok()) return c.Fail(status);
  if (c.json()) {
    std::cout << ToJson(resp, true);
  } else {
    PrintOffer(resp);
  }
  return kExitOk;
}

}  // namespace offer_get

namespace pledge_get {

CommandSpec Spec() { return {"pledge", "get", "ID", "Show one pledge.", {}}; }

int Run(Client& c, Args& args) {
  pb::GetPledgeRequest req;
  req.set_id(args.PositionalId());
  if (!args.error().empty()) return -1;
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::Pledge resp;
  grpc::Status status = c.stub()->GetPledge(&context, req, &resp);
  if (!status.ok()) return c.Fail(status);
  if (c.json()) {
    std::cout << ToJson(resp, true);
  } else {
    PrintPledge(resp);
  }
  return kExitOk;
}

}  // namespace pledge_get

namespace offer_list {

constexpr Flag<std::string> kSupplier("supplier", "ID", "only this supplier");
constexpr Flag<std::string> kProduct("product", "PREFIX",
                                     "product code prefix, e.g. fruit.apple");
constexpr Flag<std::string> kRegion(
    "region", "REGION", "region code prefix (6212) or a name (陇南)");

CommandSpec Spec() {
  return {"offer", "list", "",
          "List offers by id (every status unless --status).",
          WithPaging({&kSupplier, &kProduct, &kRegion, &kStatus})};
}

int Run(Client& c, Args& args) {
  pb::ListOffersRequest req;
  req.set_supplier_id(args.Get(kSupplier));
  req.set_product_code_prefix(
      ResolveProduct(c, args, "product", args.Get(kProduct)));
  req.set_region_code_prefix(
      RegionPrefix(c, args, "region", args.Get(kRegion)));
  pb::OrderStatus st = pb::ORDER_STATUS_UNSPECIFIED;
  ReadStatus(args, &st);
  req.set_status(st);
  pb::ListOffersResponse resp;
  int rc = ListPages(
      c, args, req, &resp,
      [&](grpc::ClientContext* ctx, const pb::ListOffersRequest& r,
          pb::ListOffersResponse* p) {
        return c.stub()->ListOffers(ctx, r, p);
      },
      [](const pb::ListOffersResponse& p, pb::ListOffersResponse* o) {
        o->mutable_offers()->MergeFrom(p.offers());
      });
  if (rc != kExitOk) return rc;
  if (c.json()) {
    std::cout << ToJson(resp, true);
    return kExitOk;
  }
  Table t({">OFFER", "SUPPLIER", "REGION", "PRODUCT", "GRADE", ">KG",
           ">LEFT KG", ">FLOOR YUAN/KG", "STATUS", "CERTIFIED", ">HOUSEHOLDS",
           TimeHeader("EXPIRES")});
  for (const pb::Offer& o : resp.offers()) {
    t.AddRow({absl::StrCat(o.offer_id()), o.supplier_id(), o.region_code(),
              o.product_code(), GradeWord(o.grade()), Kg(o.quantity_kg()),
              Kg(o.remaining_kg()), Yuan(o.floor_price_fen_per_kg()),
              Lower(pb::OrderStatus_Name(o.status())),
              o.certified() ? "yes" : "no", absl::StrCat(o.households()),
              ShortTime(o.expires_at())});
  }
  c.PrintTable(t);
  c.PrintListEnd(resp.offers_size(), "offer", "", resp.next_page_token(), "",
                 TotalOf(resp));
  return kExitOk;
}

}  // namespace offer_list

namespace pledge_list {

constexpr Flag<std::string> kBuyer("buyer", "ID", "only this buyer");
constexpr Flag<std::string> kProduct("product", "PREFIX",
                                     "product code prefix");
constexpr Flag<std::string> kCity("city", "REGION",
                                  "buyer city code prefix (3702) or name");

CommandSpec Spec() {
  return {"pledge", "list", "",
          "List pledges by id (every status unless --status).",
          WithPaging({&kBuyer, &kProduct, &kCity, &kStatus})};
}

int Run(Client& c, Args& args) {
  pb::ListPledgesRequest req;
  req.set_buyer_id(args.Get(kBuyer));
  req.set_product_code_prefix(
      ResolveProduct(c, args, "product", args.Get(kProduct)));
  req.set_region_code_prefix(RegionPrefix(c, args, "city", args.Get(kCity)));
  pb::OrderStatus st = pb::ORDER_STATUS_UNSPECIFIED;
  ReadStatus(args, &st);
  req.set_status(st);
  pb::ListPledgesResponse resp;
  int rc = ListPages(
      c, args, req, &resp,
      [&](grpc::ClientContext* ctx, const pb::ListPledgesRequest& r,
          pb::ListPledgesResponse* p) {
        return c.stub()->ListPledges(ctx, r, p);
      },
      [](const pb::ListPledgesResponse& p, pb::ListPledgesResponse* o) {
        o->mutable_pledges()->MergeFrom(p.pledges());
      });
  if (rc != kExitOk) return rc;
  if (c.json()) {
    std::cout << ToJson(resp, true);
    return kExitOk;
  }
  Table t({">PLEDGE", "BUYER", "CITY", "KIND", "PRODUCT", "MIN GRADE", ">KG",
           ">LEFT KG", ">MAX YUAN/KG", ">BUDGET YUAN", ">SPENT YUAN", "STATUS",
           "FROM", TimeHeader("EXPIRES")});
  for (const pb::Pledge& p : resp.pledges()) {
    std::string from = p.scope() == pb::ANY ? "any"
                       : p.scope() == pb::PARTNERS_ONLY
                           ? "partners"
                           : absl::StrJoin(p.region_codes(), ",");
    t.AddRow({absl::StrCat(p.pledge_id()), p.buyer_id(), p.buyer_city_code(),
              Lower(pb::BuyerKind_Name(p.buyer_kind())), p.product_code(),
              MinGradeWord(p.min_grade()), Kg(p.quantity_kg()),
              Kg(p.remaining_kg()), Yuan(p.max_price_fen_per_kg()),
              p.budget_fen() == 0 ? "-" : Yuan(p.budget_fen()),
              Yuan(p.spent_fen()), Lower(pb::OrderStatus_Name(p.status())),
              p.require_certified() ? from + " (certified)" : from,
              ShortTime(p.expires_at())});
  }
  c.PrintTable(t);
  c.PrintListEnd(resp.pledges_size(), "pledge", "", resp.next_page_token(), "",
                 TotalOf(resp));
  return kExitOk;
}

}  // namespace pledge_list

// The filter flags that "matches list" and "matches watch" share.
namespace match_filter {

constexpr Flag<std::string> kSupplier("supplier", "ID", "only this supplier");
constexpr Flag<std::string> kBuyer("buyer", "ID", "only this buyer");
constexpr Flag<uint64_t> kOffer("offer", "ID", "only this offer");
constexpr Flag<uint64_t> kPledge("pledge", "ID", "only this pledge");
constexpr Flag<std::string> kRegion("region", "REGION",
                                    "offer region code prefix or name");

// Sets the filter fields of a ListMatchesRequest or WatchMatchesRequest.
template <typename Request>
void Read(Client& c, Args& args, Request* req) {
  req->set_supplier_id(args.Get(kSupplier));
  req->set_buyer_id(args.Get(kBuyer));
  req->set_offer_id(args.Get(kOffer));
  req->set_pledge_id(args.Get(kPledge));
  req->set_region_code_prefix(
      RegionPrefix(c, args, "region", args.Get(kRegion)));
}

}  // namespace match_filter

// What keeps an order from matching, for people: "pledge explain",
// "offer explain", and "pledge post" for a pledge that rests unmatched.
namespace explain_print {

std::string ReasonWord(pb::BlockReason r) {
  switch (r) {
    case pb::NO_PRODUCT_IN_SCOPE:
      return "nothing in scope";
    case pb::PRICE:
      return "price";
    case pb::GRADE:
      return "grade";
    case pb::CERTIFICATION:
      return "certification";
    case pb::LOT_SIZE:
      return "lot size";
    case pb::BUDGET:
      return "budget";
    case pb::SCOPE:
      return "scope";
    default:
      return Lower(pb::BlockReason_Name(r));
  }
}

// The widening in the CLI's units (yuan, kg), from its machine-readable
// value; "-" when the order cannot widen it.
std::string Widening(const pb::Blocker& b, bool pledge) {
  int64_t v = 0;
  if (b.widened_value().empty()) {
    return b.reason() == pb::NO_PRODUCT_IN_SCOPE && b.kg() == 0
               ? "nothing of the product is open"
               : "-";
  }
  const std::string reaches =
      absl::StrCat(" reaches ", Kg(b.widening_kg()), " kg");
  const bool number = absl::SimpleAtoi(b.widened_value(), &v);
  switch (b.reason()) {
    case pb::NO_PRODUCT_IN_SCOPE:
      return absl::StrCat("adding region ", Printable(b.widened_value()),
                          " brings ", Kg(b.widening_kg()), " kg into scope");
    case pb::SCOPE:
      return absl::StrCat("adding region ", Printable(b.widened_value()),
                          reaches);
    case pb::CERTIFICATION:
      return absl::StrCat("not requiring certification", reaches);
    default:
      break;
  }
  if (!number) return Printable(b.widening());
  switch (b.reason()) {
    case pb::PRICE:
      return absl::StrCat(pledge ? "max price " : "floor ", Yuan(v),
                          " yuan/kg (", v, " fen/kg)", reaches);
    case pb::GRADE:
      return absl::StrCat("min grade ", GradeWord(static_cast<pb::Grade>(v)),
                          reaches);
    case pb::LOT_SIZE:
      return absl::StrCat(absl::StartsWith(b.widening(), "a min lot")
                              ? "min lot "
                              : "quantity ",
                          Kg(v), " kg", reaches);
    case pb::BUDGET:
      return pledge ? absl::StrCat("budget ", Yuan(v), " yuan", reaches)
                    : absl::StrCat("min lot ", Kg(v), " kg", reaches);
    default:
      return Printable(b.widening());
  }
}

void Print(const pb::Explanation& e, bool pledge, uint64_t id) {
  const char* kind = pledge ? "pledge" : "offer";
  const char* other = pledge ? "offers" : "pledges";
  std::cout << kind << " " << id << ": " << Kg(e.unfilled_kg())
            << " kg unfilled; " << Kg(e.compatible_kg()) << " kg of open "
            << other << " could match it now\n";
  if (e.blockers_size() > 0) {
    std::cout << "what keeps " << other << " out (the kg that reason alone "
              << "keeps out):\n";
    Table t({"  REASON", ">KG", "WIDENING"});
    for (const pb::Blocker& b : e.blockers()) {
      t.AddRow({absl::StrCat("  ", ReasonWord(b.reason())), Kg(b.kg()),
                Widening(b, pledge)});
    }
    t.Print(std::cout);
  }
  if (e.several_reasons_kg() > 0) {
    std::cout << Kg(e.several_reasons_kg()) << " kg of open " << other
              << " fail more than one test\n";
  }
}

}  // namespace explain_print

namespace pledge_explain {

CommandSpec Spec() {
  return {"pledge",
          "explain",
          "ID",
          "What keeps an open pledge from the offers on the book.",
          {}};
}

int Run(Client& c, Args& args) {
  pb::ExplainPledgeRequest req;
  req.set_pledge_id(args.PositionalId());
  if (!args.error().empty()) return -1;
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::Explanation resp;
  grpc::Status status = c.stub()->ExplainPledge(&context, req, &resp);
  if (!status.ok()) return c.Fail(status);
  if (c.json()) {
    std::cout << ToJson(resp, true);
  } else {
    explain_print::Print(resp, /*pledge=*/true, req.pledge_id());
  }
  return kExitOk;
}

}  // namespace pledge_explain

namespace offer_explain {

CommandSpec Spec() {
  return {"offer",
          "explain",
          "ID",
          "What keeps an open offer from the pledges on the book.",
          {}};
}

int Run(Client& c, Args& args) {
  pb::ExplainOfferRequest req;
  req.set_offer_id(args.PositionalId());
  if (!args.error().empty()) return -1;
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::Explanation resp;
  grpc::Status status = c.stub()->ExplainOffer(&context, req, &resp);
  if (!status.ok()) return c.Fail(status);
  if (c.json()) {
    std::cout << ToJson(resp, true);
  } else {
    explain_print::Print(resp, /*pledge=*/false, req.offer_id());
  }
  return kExitOk;
}

}  // namespace offer_explain

namespace matches_list {

constexpr Flag<uint64_t> kAfter("after", "MATCH_ID",
                                "only matches with a larger id");
constexpr Flag<std::string> kStatus(
    "status", "STATUS",
    "only matches in this status: matched, shipped, delivered, declined or "
    "lapsed");

CommandSpec Spec() {
  return {"matches", "list", "", "List matches (fills) by id.",
          WithPaging({&match_filter::kSupplier, &match_filter::kBuyer,
                      &match_filter::kOffer, &match_filter::kPledge,
                      &match_filter::kRegion, &kAfter, &kStatus})};
}

int Run(Client& c, Args& args) {
  pb::ListMatchesRequest req;
  match_filter::Read(c, args, &req);
  req.set_after_match_id(args.Get(kAfter));
  if (args.Has(kStatus)) {
    pb::MatchStatus status;
    if (!pb::MatchStatus_Parse(Normalize(args.Get(kStatus)), &status) ||
        status == pb::MATCH_STATUS_UNSPECIFIED) {
      args.AddError(absl::StrCat(
          "--status: expected matched, shipped, delivered, declined or "
          "lapsed, got '",
          args.Get(kStatus), "'"));
    }
    req.set_status(status);
  }
  if (!args.error().empty()) return -1;
  pb::ListMatchesResponse resp;
  int rc = ListPages(
      c, args, req, &resp,
      [&](grpc::ClientContext* ctx, const pb::ListMatchesRequest& r,
          pb::ListMatchesResponse* p) {
        return c.stub()->ListMatches(ctx, r, p);
      },
      [](const pb::ListMatchesResponse& p, pb::ListMatchesResponse* o) {
        o->mutable_matches()->MergeFrom(p.matches());
      });
  if (rc != kExitOk) return rc;
  if (c.json()) {
    std::cout << ToJson(resp, true);
    return kExitOk;
  }
  PrintMatches(c, resp.matches(), &resp.next_page_token(), TotalOf(resp));
  return kExitOk;
}

}  // namespace matches_list

// ShipMatch, AcceptMatch and DeclineMatch: one request, the match as it
// stands after it, and what the kg given back matched at once.
namespace match_update {

constexpr Flag<int64_t> kShippedKg("kg", "KG",
                                   "kg shipped (default: all of the match); "
                                   "the rest go back to the pledge");
constexpr Flag<std::string> kNote("note", "TEXT",
                                  "a note on the shipment, e.g. the waybill");
constexpr Flag<int64_t> kAcceptedKg("kg", "KG",
                                    "kg accepted (default: all shipped); the "
                                    "rest go back to the pledge");
constexpr Flag<std::string> kReason("reason", "TEXT", "why it is declined",
                                    kRequired);

void Print(Client& c, const pb::MatchUpdateResponse& resp,
           const std::string& verb) {
  if (c.json()) {
    std::cout << ToJson(resp, true);
    return;
  }
  const pb::Match& m = resp.match();
  std::cout << "match " << m.match_id() << " " << verb << ": "
            << MatchStatusWord(m.status());
  if (m.shipped_kg() > 0)
    std::cout << ", " << Kg(m.shipped_kg()) << " kg shipped";
  if (m.accepted_kg() > 0) {
    std::cout << ", " << Kg(m.accepted_kg()) << " kg accepted";
  }
  if (m.returned_kg() > 0) {
    std::cout << ", " << Kg(m.returned_kg()) << " kg back to pledge "
              << m.pledge_id();
  }
  if (m.has_accept_by() && m.status() == pb::SHIPPED) {
    std::cout << "; the buyer has until " << LongTime(m.accept_by())
              << " to accept or decline";
  }
  std::cout << "\n";
  if (!resp.matches().empty()) {
    std::cout << "\nthe kg given back matched again:\n";
    PrintMatches(c, resp.matches());
  }
}

template <typename Request>
int Send(Client& c, Args& args, Request& req,
         grpc::Status (pb::Exchange::Stub::*rpc)(grpc::ClientContext*,
                                                 const Request&,
                                                 pb::MatchUpdateResponse*),
         const std::string& verb) {
  req.set_request_id(args.Get(kRequestId, NewRequestId()));
  req.set_match_id(args.PositionalId());
  if (!args.error().empty()) return -1;
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::MatchUpdateResponse resp;
  grpc::Status status = (c.stub()->*rpc)(&context, req, &resp);
  if (!status.ok()) return c.Fail(status, req.request_id());
  Print(c, resp, verb);
  return kExitOk;
}

}  // namespace match_update

namespace match_ship {

CommandSpec Spec() {
  return {"match",
          "ship",
          "ID",
          "Ship a match (the supplier's side), before its ship_by.",
          {&match_update::kShippedKg, &match_update::kNote, &kRequestId}};
}

int Run(Client& c, Args& args) {
  pb::ShipMatchRequest req;
  if (args.Has(match_update::kShippedKg)) {
    req.set_shipped_kg(args.Get(match_update::kShippedKg));
  }
  req.set_note(args.Get(match_update::kNote));
  return match_update::Send(c, args, req, &pb::Exchange::Stub::ShipMatch,
                            "shipped");
}

}  // namespace match_ship

namespace match_accept {

CommandSpec Spec() {
  return {"match",
          "accept",
          "ID",
          "Accept a shipped match (the buyer's side), before its accept_by.",
          {&match_update::kAcceptedKg, &kRequestId}};
}

int Run(Client& c, Args& args) {
  pb::AcceptMatchRequest req;
  if (args.Has(match_update::kAcceptedKg)) {
    req.set_accepted_kg(args.Get(match_update::kAcceptedKg));
  }
  return match_update::Send(c, args, req, &pb::Exchange::Stub::AcceptMatch,
                            "accepted");
}

}  // namespace match_accept

namespace match_decline {

CommandSpec Spec() {
  return {"match",
          "decline",
          "ID",
          "Decline a shipped match (the buyer's side); its kg go back to the "
          "pledge.",
          {&match_update::kReason, &kRequestId}};
}

int Run(Client& c, Args& args) {
  pb::DeclineMatchRequest req;
  req.set_reason(args.Get(match_update::kReason));
  return match_update::Send(c, args, req, &pb::Exchange::Stub::DeclineMatch,
                            "declined");
}

}  // namespace match_decline

// What a watch command (matches watch, alerts watch) shows of its stream.
template <typename Event>
struct WatchView {
  std::string what;    // "match events", for the banner
  std::string resume;  // the command that resumes, "duijie matches watch"
  // Whether `e` is an event to show: not CAUGHT_UP, HEARTBEAT or a kind
  // this CLI does not know, which show nothing but move the cursor.
  std::function<bool(const Event&)> shown;
  std::function<bool(const Event&)> caught_up;
  std::function<void()> header;  // printed with the first row
  std::function<void(const Event&)> row;
};

// Streams what `open` starts and prints it as `view` says: with `once`,
// until the stream says it has caught up; else until interrupted (no
// deadline). Asks for progress events in the request `open` sends.
template <typename Event>
int RunWatch(Client& c, bool once, uint64_t after_event,
             const WatchView<Event>& view,
             const std::function<std::unique_ptr<grpc::ClientReader<Event>>(
                 grpc::ClientContext*)>& open) {
  grpc::ClientContext context;
  c.Authorize(&context);
  context.set_wait_for_ready(false);
  if (once) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + c.global().timeout));
  } else if (!c.json()) {
    std::cerr << "watching " << view.what << " on " << c.global().server
              << " (Ctrl-C to stop)\n";
  }
  uint64_t last = after_event;
  int64_t shown = 0;
  bool reached_end = false;
  uint64_t end = 0;  // with --once: the event the stream caught up at
  Event e;
  std::unique_ptr<grpc::ClientReader<Event>> reader = open(&context);
  while (!reached_end && reader->Read(&e)) {
    if (!view.shown(e)) {
      // No event to show, but a cursor to resume from.
      last = std::max(last, e.event_id());
      if (once && view.caught_up(e)) {
        end = e.event_id();
        reached_end = true;
        context.TryCancel();
      }
      continue;
    }
    // Rows come as events do, so the header is printed with the first.
    if (shown == 0 && !c.json()) view.header();
    ++shown;
    last = e.event_id();
    if (c.json()) {
      std::cout << ToJson(e, false);
    } else {
      view.row(e);
    }
    std::cout.flush();
  }
  grpc::Status status = reader->Finish();
  if (once && reached_end) {
    // Ended by us when the stream caught up.
    if (!c.json()) {
      std::cout << Count(shown, "event")
                << (end == 0 ? std::string(", none yet")
                             : absl::StrCat(", up to event ", end))
                << "\n";
    }
    return kExitOk;
  }
  if (once && status.error_code() == grpc::DEADLINE_EXCEEDED) {
    // A server older than the request's progress_events never says the
    // stream has caught up.
    std::cerr << "error: duijie-server at " << c.global().server
              << " did not say the stream caught up within "
              << absl::FormatDuration(c.global().timeout) << " ("
              << Count(shown, "event")
              << " shown; a server older than this CLI never does)\n";
    return kExitUnreachable;
  }
  if (status.ok()) return kExitOk;
  if (shown > 0 && status.error_code() == grpc::UNAVAILABLE) {
    std::cerr << "error: lost the connection to duijie-server at "
              << c.global().server << "; resume with: " << view.resume
              << " --after-event " << last << "\n";
    return kExitUnreachable;
  }
  return c.Fail(status);
}

// Left-aligned in `width` columns (by bytes: the cells are ASCII).
std::string Pad(std::string text, size_t width) {
  if (text.size() < width) text.append(width - text.size(), ' ');
  return text;
}

namespace matches_watch {

constexpr Flag<uint64_t> kAfter(
    "after", "MATCH_ID",
    "start at the event that made the next match (default 0: all)");
constexpr Flag<uint64_t> kAfterEvent(
    "after-event", "EVENT_ID",
    "start after this event (resume: the last EVENT shown); not with --after");
constexpr Flag<bool> kOnce(
    "once",
    "print the events up to the last one there is now, then exit (when the "
    "server says the stream has caught up)");

CommandSpec Spec() {
  return {"matches",
          "watch",
          "",
          "Stream match events, past then live, until Ctrl-C: one row per new "
          "match or status change (shipped, delivered, declined, lapsed), with "
          "the match as it stood right after the event. It starts after "
          "--after-event, or at the event that made the match after --after; "
          "with --json it prints one JSON MatchEvent per line. The stream has "
          "no deadline (--timeout bounds only its start, and --once).",
          {&kAfter, &kAfterEvent, &kOnce, &match_filter::kSupplier,
           &match_filter::kBuyer, &match_filter::kOffer, &match_filter::kPledge,
           &match_filter::kRegion}};
}

std::string KindWord(pb::MatchEventKind kind) {
  switch (kind) {
    case pb::NEW_MATCH:
      return "new";
    case pb::STATUS_CHANGED:
      return "status";
    default:
      return "-";
  }
}

int Run(Client& c, Args& args) {
  pb::WatchMatchesRequest req;
  req.set_after_match_id(args.Get(kAfter));
  req.set_after_event_id(args.Get(kAfterEvent));
  const bool once = args.Get(kOnce);
  match_filter::Read(c, args, &req);
  if (!args.error().empty()) return -1;
  // CAUGHT_UP ends --once; HEARTBEATs are never shown.
  req.set_progress_events(true);
  const std::string at_header = TimeHeader("AT");
  const size_t at_width = std::max<size_t>(18, at_header.size() + 2);
  WatchView<pb::MatchEvent> view;
  view.what = "match events";
  view.resume = "duijie matches watch";
  view.shown = [](const pb::MatchEvent& e) {
    return e.kind() == pb::NEW_MATCH || e.kind() == pb::STATUS_CHANGED;
  };
  view.caught_up = [](const pb::MatchEvent& e) {
    return e.kind() == pb::CAUGHT_UP;
  };
  view.header = [&] {
    std::cout << Pad("EVENT", 8) << Pad("KIND", 7) << Pad("MATCH", 8)
              << Pad("STATUS", 10) << Pad(at_header, at_width)
              << "MATCH DETAILS\n";
  };
  view.row = [&](const pb::MatchEvent& e) {
    const pb::Match& m = e.match();
    std::cout << Pad(absl::StrCat(e.event_id()), 8)
              << Pad(KindWord(e.kind()), 7)
              << Pad(absl::StrCat("#", m.match_id()), 8)
              << Pad(MatchStatusWord(m.status()), 10)
              << Pad(ShortTime(m.updated_at()), at_width)
              << Printable(m.product_code()) << "  " << Kg(m.quantity_kg())
              << " kg x " << Yuan(m.price_fen_per_kg()) << " = "
              << Yuan(m.amount_fen()) << " yuan  " << Printable(m.supplier_id())
              << " (" << Printable(m.region_code()) << ", offer "
              << m.offer_id() << ") -> "
              << (m.member_buyer_id().empty()
                      ? Printable(m.buyer_id())
                      : absl::StrCat(Printable(m.member_buyer_id()), " of ",
                                     Printable(m.buyer_id())))
              << " (" << Printable(m.buyer_city_code()) << ", pledge "
              << m.pledge_id() << ")" << (m.partner() ? "  partner" : "");
    if (m.status() == pb::SHIPPED) {
      std::cout << "  shipped " << Kg(m.shipped_kg()) << " kg";
    } else if (m.status() == pb::DELIVERED) {
      std::cout << "  accepted " << Kg(m.accepted_kg()) << " kg";
    }
    if (m.returned_kg() > 0) {
      std::cout << "  " << Kg(m.returned_kg()) << " kg back to pledge";
    }
    std::cout << "\n";
  };
  return RunWatch<pb::MatchEvent>(c, once, req.after_event_id(), view,
                                  [&](grpc::ClientContext* context) {
                                    return c.stub()->WatchMatches(context, req);
                                  });
}

}  // namespace matches_watch

namespace book {

constexpr Flag<std::string> kProduct("product", "PREFIX",
                                     "product code prefix, e.g. vegetable");

CommandSpec Spec() {
  return {"book", "", "",
          "Open orders per product: offer and pledge kg and counts, best "
          "prices. One page of products (--all for every one).",
          WithPaging({&kProduct})};
}

int Run(Client& c, Args& args) {
  pb::GetBookRequest req;
  req.set_product_code_prefix(
      ResolveProduct(c, args, "product", args.Get(kProduct)));
  pb::GetBookResponse resp;
  int rc = ListPages(
      c, args, req, &resp,
      [&](grpc::ClientContext* ctx, const pb::GetBookRequest& r,
          pb::GetBookResponse* p) { return c.stub()->GetBook(ctx, r, p); },
      [](const pb::GetBookResponse& p, pb::GetBookResponse* o) {
        o->mutable_lines()->MergeFrom(p.lines());
      });
  if (rc != kExitOk) return rc;
  if (c.json()) {
    std::cout << ToJson(resp, true);
    return kExitOk;
  }
  // The next clearing's column only when some product is batch-cleared.
  const bool batch = std::any_of(
      resp.lines().begin(), resp.lines().end(),
      [](const pb::BookLine& l) { return l.has_next_clearing_at(); });
  std::vector<std::string> header = {
      "PRODUCT",  ">OFFERS",    ">OFFER KG",        ">BEST FLOOR YUAN/KG",
      ">PLEDGES", ">PLEDGE KG", ">BEST MAX YUAN/KG"};
  if (batch) header.push_back(TimeHeader("NEXT CLEARING"));
  Table t(header);
  for (const pb::BookLine& l : resp.lines()) {
    std::vector<std::string> row = {
        l.product_code(),
        absl::StrCat(l.open_offer_count()),
        Kg(l.open_offer_kg()),
        l.open_offer_count() == 0 ? "-" : Yuan(l.best_floor_price_fen_per_kg()),
        absl::StrCat(l.open_pledge_count()),
        Kg(l.open_pledge_kg()),
        l.open_pledge_count() == 0 ? "-" : Yuan(l.best_max_price_fen_per_kg())};
    if (batch) {
      row.push_back(l.has_next_clearing_at() ? ShortTime(l.next_clearing_at())
                                             : "continuous");
    }
    t.AddRow(row);
  }
  c.PrintTable(t);
  c.PrintListEnd(resp.lines_size(), "product with open orders",
                 "products with open orders", resp.next_page_token());
  return kExitOk;
}

}  // namespace book

// ---------------------------------------------------------------------------
// clearing: batch clearing policies.

void PrintPolicy(Client& c, const pb::ClearingPolicy& p) {
  const std::string prefix =
      p.product_prefix().empty() ? "every product" : p.product_prefix();
  if (!p.has_interval()) {
    // Interval 0 removed the prefix's own policy: its products now follow
    // a shorter prefix's, or match continuously when none has one.
    std::cout << Printable(prefix)
              << ": no clearing policy of its own (a shorter prefix's applies "
                 "if set, else continuous matching)\n";
    return;
  }
  std::cout << Printable(prefix) << ": batch clearing every "
            << absl::FormatDuration(absl::Seconds(p.interval().seconds()))
            << ", next at " << LongTime(p.next_clearing_at()) << "\n";
  (void)c;
}

// ---------------------------------------------------------------------------
// alerts: glut early warning (滞销监测预警).

std::string AlertLevelWord(pb::AlertLevel level) {
  switch (level) {
    case pb::WATCH:
      return "watch";
    case pb::WARNING:
      return "WARNING";
    case pb::CRITICAL:
      return "CRITICAL";
    default:
      return "?";
  }
}

// One row per alert; the candidates of open ones below the table.
void PrintAlerts(const Client& c,
                 const google::protobuf::RepeatedPtrField<pb::Alert>& alerts) {
  Table t({">ALERT", "LEVEL", "PRODUCT", "REGION", ">AT RISK KG", ">DEMAND KG",
           ">GAP KG", ">HOUSEHOLDS", ">OPEN KG", TimeHeader("RAISED"),
           TimeHeader("CLEARED")});
  for (const pb::Alert& a : alerts) {
    t.AddRow({absl::StrCat(a.alert_id()), AlertLevelWord(a.level()),
              a.product_code(), a.region_code(), Kg(a.at_risk_kg()),
              Kg(a.demand_kg()), Kg(a.at_risk_kg() - a.demand_kg()),
              absl::StrCat(a.households()), Kg(a.open_offer_kg()),
              ShortTime(a.raised_at()),
              a.has_cleared_at() ? ShortTime(a.cleared_at()) : "open"});
  }
  c.PrintTable(t);
  for (const pb::Alert& a : alerts) {
    if (a.candidates().empty()) continue;
    std::cout << "\nalert " << a.alert_id() << " (" << a.product_code()
              << " in " << a.region_code()
              << "): pledges that could take it if they widened\n";
    Table ct({">PLEDGE", "BUYER", "CITY", ">KG", "CHANGES"});
    for (const pb::AlertCandidate& k : a.candidates()) {
      ct.AddRow({absl::StrCat(k.pledge_id()), k.buyer_id(), k.buyer_city_code(),
                 Kg(k.kg()), absl::StrJoin(k.changes(), "; ")});
    }
    c.PrintTable(ct);
  }
}

namespace alerts_list {

constexpr Flag<std::string> kProduct(
    "product", "PRODUCT", "only alerts of products under this code prefix");
constexpr Flag<std::string> kRegion(
    "region", "REGION",
    "only alerts of regions under this code prefix or named region");
constexpr Flag<bool> kAllAlerts("all", "cleared alerts too (newest first)");

CommandSpec Spec() {
  return {"alerts",
          "list",
          "",
          "Glut alerts: produce at risk of spoiling unsold, per product and "
          "county, prefecture or province, worst first, with the pledges "
          "that could take it if they widened.",
          {&kProduct, &kRegion, &kAllAlerts}};
}

int Run(Client& c, Args& args) {
  pb::ListAlertsRequest req;
  req.set_product_code_prefix(
      ResolveProduct(c, args, "product", args.Get(kProduct)));
  req.set_region_code_prefix(
      RegionPrefix(c, args, "region", args.Get(kRegion)));
  req.set_include_cleared(args.Get(kAllAlerts));
  req.set_page_size(1000);
  if (!args.error().empty()) return -1;
  pb::ListAlertsResponse resp;
  do {
    grpc::ClientContext context;
    c.Prepare(&context);
    pb::ListAlertsResponse page;
    grpc::Status status = c.stub()->ListAlerts(&context, req, &page);
    if (!status.ok()) return c.Fail(status);
    resp.mutable_alerts()->MergeFrom(page.alerts());
    req.set_page_token(page.next_page_token());
  } while (!req.page_token().empty());
  if (c.json()) {
    std::cout << ToJson(resp, true);
    return kExitOk;
  }
  if (resp.alerts().empty()) {
    std::cout << (req.include_cleared() ? "no alerts\n" : "no open alerts\n");
    return kExitOk;
  }
  PrintAlerts(c, resp.alerts());
  return kExitOk;
}

}  // namespace alerts_list

namespace alerts_watch {

constexpr Flag<uint64_t> kAfterEvent(
    "after-event", "EVENT_ID",
    "start after this event (resume: the last EVENT shown; default 0: all)");
constexpr Flag<bool> kOnce(
    "once",
    "print the events up to the last one there is now, then exit (when the "
    "server says the stream has caught up)");

CommandSpec Spec() {
  return {
      "alerts",
      "watch",
      "",
      "Stream glut alert events, past then live, until Ctrl-C: one row "
      "per alert raised, escalated or cleared, with the alert as it stood "
      "right after the event. It starts after --after-event; with --json "
      "it prints one JSON AlertEvent per line. The stream has no deadline "
      "(--timeout bounds only its start, and --once).",
      {&kAfterEvent, &kOnce, &alerts_list::kProduct, &alerts_list::kRegion}};
}

std::string KindWord(pb::AlertEventKind kind) {
  switch (kind) {
    case pb::RAISED:
      return "RAISED";
    case pb::ESCALATED:
      return "ESCALATED";
    case pb::CLEARED:
      return "CLEARED";
    default:
      return "-";
  }
}

int Run(Client& c, Args& args) {
  pb::WatchAlertsRequest req;
  req.set_after_event_id(args.Get(kAfterEvent));
  req.set_product_code_prefix(
      ResolveProduct(c, args, "product", args.Get(alerts_list::kProduct)));
  req.set_region_code_prefix(
      RegionPrefix(c, args, "region", args.Get(alerts_list::kRegion)));
  const bool once = args.Get(kOnce);
  if (!args.error().empty()) return -1;
  // CAUGHT_UP ends --once; HEARTBEATs are never shown.
  req.set_progress_events(true);
  const std::string at_header = TimeHeader("AT");
  WatchView<pb::AlertEvent> view;
  view.what = "alert events";
  view.resume = "duijie alerts watch";
  view.shown = [](const pb::AlertEvent& e) {
    return e.kind() == pb::RAISED || e.kind() == pb::ESCALATED ||
           e.kind() == pb::CLEARED;
  };
  view.caught_up = [](const pb::AlertEvent& e) {
    return e.kind() == pb::ALERT_CAUGHT_UP;
  };
  view.header = [&] {
    std::cout << Pad("EVENT", 8) << Pad("KIND", 11) << Pad("LEVEL", 10)
              << Pad("PRODUCT", 24) << Pad("REGION", 9) << Pad("AT RISK KG", 13)
              << Pad("DEMAND KG", 13) << at_header << "\n";
  };
  view.row = [&](const pb::AlertEvent& e) {
    const pb::Alert& a = e.alert();
    // When the event happened: a clearing at cleared_at, else the last
    // change of the figures (the raise itself for RAISED).
    const google::protobuf::Timestamp& at =
        e.kind() == pb::CLEARED ? a.cleared_at() : a.updated_at();
    std::cout << Pad(absl::StrCat(e.event_id()), 8)
              << Pad(KindWord(e.kind()), 11)
              << Pad(AlertLevelWord(a.level()), 10)
              << Pad(Printable(a.product_code()), 24)
              << Pad(Printable(a.region_code()), 9)
              << Pad(Kg(a.at_risk_kg()), 13) << Pad(Kg(a.demand_kg()), 13)
              << ShortTime(at) << "\n";
  };
  return RunWatch<pb::AlertEvent>(c, once, req.after_event_id(), view,
                                  [&](grpc::ClientContext* context) {
                                    return c.stub()->WatchAlerts(context, req);
                                  });
}

}  // namespace alerts_watch

namespace alerts_thresholds {

constexpr Flag<std::string> kCategory(
    "category", "CATEGORY",
    "the product category (first segment, e.g. vegetable); default: the "
    "default of every category without its own");
constexpr Flag<absl::Duration> kHorizon(
    "horizon", "DURATION",
    "produce counts as at risk this long before it expires (1h to 30d)");
constexpr Flag<int64_t> kMinGap(
    "min-gap-kg", "KG", "raised when at-risk kg exceed demand by this much");
constexpr Flag<int64_t> kMinRatio(
    "min-ratio-permille", "PERMILLE",
    "and at-risk kg x 1000 >= demand kg x this (>= 1000)");
constexpr Flag<int64_t> kClear(
    "clear-permille", "PERMILLE",
    "cleared when the gap falls below min-gap-kg x this / 1000 (0..1000)");

CommandSpec Spec() {
  return {"alerts",
          "thresholds",
          "set|list",
          "List the glut alert thresholds, or set a category's (flags not "
          "given keep the values that apply now). Setting needs an ADMIN "
          "key.",
          {&kCategory, &kHorizon, &kMinGap, &kMinRatio, &kClear, &kRequestId}};
}

void PrintThresholds(const pb::AlertThresholds& t) {
  std::cout << (t.category().empty() ? std::string("every category")
                                     : Printable(t.category()))
            << ": at risk "
            << absl::FormatDuration(absl::Seconds(t.horizon().seconds()))
            << " before expiry; raised at a gap of " << Kg(t.min_gap_kg())
            << " kg and a ratio of " << t.min_ratio_permille()
            << " permille; cleared below " << t.clear_permille()
            << " permille of the gap\n";
}

int Run(Client& c, Args& args) {
  const std::string action =
      args.positionals().empty() ? "" : args.positionals()[0];
  if (action != "set" && action != "list") {
    args.AddError(absl::StrCat("expected set or list, got '", action, "'"));
  }
  const std::string category = args.Get(kCategory);
  const std::optional<absl::Duration> horizon = args.Get(kHorizon);
  const int64_t min_gap = args.Get(kMinGap);
  const int64_t min_ratio = args.Get(kMinRatio);
  const int64_t clear = args.Get(kClear);
  const std::string request_id = args.Get(kRequestId, NewRequestId());
  if (!args.error().empty()) return -1;
  pb::ListAlertThresholdsResponse listed;
  {
    grpc::ClientContext context;
    c.Prepare(&context);
    grpc::Status status = c.stub()->ListAlertThresholds(
        &context, pb::ListAlertThresholdsRequest(), &listed);
    if (!status.ok()) return c.Fail(status);
  }
  if (action == "list") {
    if (c.json()) {
      std::cout << ToJson(listed, true);
    } else {
      for (const pb::AlertThresholds& t : listed.thresholds()) {
        PrintThresholds(t);
      }
    }
    return kExitOk;
  }
  // What applies to the category now (its own, else the default), then
  // the flags given.
  pb::SetAlertThresholdsRequest req;
  req.set_request_id(request_id);
  pb::AlertThresholds* t = req.mutable_thresholds();
  for (const pb::AlertThresholds& l : listed.thresholds()) {
    if (l.category().empty() || l.category() == category) *t = l;
  }
  t->set_category(category);
  if (horizon.has_value()) {
    t->mutable_horizon()->set_seconds(absl::ToInt64Seconds(*horizon));
    t->mutable_horizon()->set_nanos(0);
  }
  if (args.Has(kMinGap)) t->set_min_gap_kg(min_gap);
  if (args.Has(kMinRatio)) t->set_min_ratio_permille(min_ratio);
  if (args.Has(kClear)) t->set_clear_permille(clear);
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::AlertThresholds resp;
  grpc::Status status = c.stub()->SetAlertThresholds(&context, req, &resp);
  if (!status.ok()) return c.Fail(status, req.request_id());
  if (c.json()) {
    std::cout << ToJson(resp, true);
  } else {
    PrintThresholds(resp);
  }
  return kExitOk;
}

}  // namespace alerts_thresholds

namespace clearing_set {

constexpr Flag<std::string> kPrefix(
    "prefix", "PRODUCT",
    "product code prefix, by whole segments (vegetable covers "
    "vegetable.cabbage); default: every product");
constexpr Flag<std::string> kInterval(
    "interval", "DURATION",
    "clear at every multiple of this since the epoch (1s to 168h, whole "
    "seconds, e.g. 1h); 0: remove the prefix's own policy (a shorter "
    "prefix's, or continuous matching, applies)",
    kRequired);

CommandSpec Spec() {
  return {"clearing",
          "set",
          "",
          "Match the products under a prefix by batch clearing at an interval "
          "instead of continuously (see README, Batch clearing). Needs an "
          "ADMIN key.",
          {&kPrefix, &kInterval, &kRequestId}};
}

int Run(Client& c, Args& args) {
  pb::SetClearingPolicyRequest req;
  req.set_request_id(args.Get(kRequestId, NewRequestId()));
  req.mutable_policy()->set_product_prefix(args.Get(kPrefix));
  const std::string text = args.Get(kInterval);
  if (!args.error().empty()) return -1;
  absl::Duration interval = absl::ZeroDuration();
  if (text != "0" && !ParseDurationWithDays(text, &interval)) {
    std::cerr << "error: --interval: not 0 or a duration like 1h, 30m or 1d: '"
              << text << "'\nrun 'duijie clearing set --help' for usage\n";
    return kExitUsage;
  }
  req.mutable_policy()->mutable_interval()->set_seconds(
      absl::ToInt64Seconds(interval));
  req.mutable_policy()->mutable_interval()->set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(interval % absl::Seconds(1))));
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::ClearingPolicy resp;
  grpc::Status status = c.stub()->SetClearingPolicy(&context, req, &resp);
  if (!status.ok()) return c.Fail(status, req.request_id());
  if (c.json()) {
    std::cout << ToJson(resp, true);
  } else {
    PrintPolicy(c, resp);
  }
  return kExitOk;
}

}  // namespace clearing_set

namespace clearing_list {

CommandSpec Spec() {
  return {"clearing",
          "list",
          "",
          "The batch clearing policies; products under none match "
          "continuously.",
          {}};
}

int Run(Client& c, Args& args) {
  if (!args.error().empty()) return -1;
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::ListClearingPoliciesResponse resp;
  grpc::Status status = c.stub()->ListClearingPolicies(
      &context, pb::ListClearingPoliciesRequest(), &resp);
  if (!status.ok()) return c.Fail(status);
  if (c.json()) {
    std::cout << ToJson(resp, true);
    return kExitOk;
  }
  if (resp.policies().empty()) {
    std::cout << "no clearing policy: every product matches continuously\n";
  }
  for (const pb::ClearingPolicy& p : resp.policies()) PrintPolicy(c, p);
  return kExitOk;
}

}  // namespace clearing_list

// ---------------------------------------------------------------------------
// admin: the operator RPCs (duijie.v1.Admin).

std::unique_ptr<pb::Admin::Stub> AdminStub(const Client& c) {
  return pb::Admin::NewStub(c.channel());
}

// ---------------------------------------------------------------------------
// stats and report: figures of matches (GetStats), the daily glut report
// (日报) and the quarterly ledger (调度台账).

// Every page of a list: `call` fetches one, `take` keeps what it holds.
// Returns kExitOk or the failure's exit status (printed).
template <typename Req, typename Resp, typename Call, typename Take>
int FetchAllPages(Client& c, Req req, Call call, Take take) {
  for (;;) {
    grpc::ClientContext context;
    c.Prepare(&context);
    Resp page;
    grpc::Status status = call(&context, req, &page);
    if (!status.ok()) return c.Fail(status);
    take(page);
    if (page.next_page_token().empty() ||
        page.next_page_token() == req.page_token()) {
      return kExitOk;
    }
    req.set_page_token(page.next_page_token());
  }
}

// The dimensions by the names `--by` takes, and each column's header.
struct DimensionName {
  const char* name;
  pb::Dimension dimension;
  const char* header;
};
constexpr DimensionName kDimensionNames[] = {
    {"day", pb::DAY, "DAY"},
    {"week", pb::WEEK, "WEEK"},
    {"month", pb::MONTH, "MONTH"},
    {"quarter", pb::QUARTER, "QUARTER"},
    {"province", pb::ORIGIN_PROVINCE, "PROVINCE"},
    {"prefecture", pb::ORIGIN_PREFECTURE, "PREFECTURE"},
    {"county", pb::ORIGIN_COUNTY, "COUNTY"},
    {"city", pb::BUYER_CITY, "BUYER CITY"},
    {"pairing", pb::PAIRING, "PAIRING"},
    {"kind", pb::BUYER_KIND, "BUYER KIND"},
    {"category", pb::PRODUCT_CATEGORY, "CATEGORY"},
    {"product", pb::PRODUCT, "PRODUCT"},
    {"certified", pb::CERTIFIED, "CERTIFIED"},
    {"key_assisted", pb::KEY_ASSISTED, "KEY ASSISTED"},
    {"buyer", pb::BUYER, "BUYER"},
    {"supplier", pb::SUPPLIER, "SUPPLIER"},
};

std::string DimensionNames() {
  std::vector<std::string> names;
  for (const DimensionName& d : kDimensionNames) names.push_back(d.name);
  return absl::StrJoin(names, ", ");
}

const DimensionName* FindDimension(absl::string_view name) {
  for (const DimensionName& d : kDimensionNames) {
    if (Normalize(std::string(name)) == Normalize(d.name)) return &d;
  }
  return nullptr;
}
const DimensionName* FindDimension(int dimension) {
  for (const DimensionName& d : kDimensionNames) {
    if (d.dimension == dimension) return &d;
  }
  return nullptr;
}

// Every row of the figures `req` asks for (all pages), the total from the
// first page (each page carries it).
int FetchStats(Client& c, pb::GetStatsRequest req, pb::GetStatsResponse* out) {
  req.set_page_size(10000);
  bool first = true;
  return FetchAllPages<pb::GetStatsRequest, pb::GetStatsResponse>(
      c, req,
      [&](grpc::ClientContext* ctx, const pb::GetStatsRequest& r,
          pb::GetStatsResponse* p) { return c.stub()->GetStats(ctx, r, p); },
      [&](const pb::GetStatsResponse& p) {
        out->mutable_rows()->MergeFrom(p.rows());
        if (first) *out->mutable_total() = p.total();
        first = false;
      });
}

// The figures' columns after the keys.
const std::vector<std::string>& FigureHeaders() {
  static const auto* headers = new std::vector<std::string>{
      ">KG",     ">YUAN",       ">MATCHES",      ">SUPPLIERS",
      ">BUYERS", ">HOUSEHOLDS", ">DELIVERED KG", ">DELIVERED YUAN"};
  return *headers;
}
void AddFigures(const pb::StatsRow& r, std::vector<std::string>* row) {
  for (std::string cell :
       {Kg(r.kg()), Yuan(r.fen()), GroupThousands(r.matches()),
        GroupThousands(r.suppliers()), GroupThousands(r.buyers()),
        GroupThousands(r.households()), Kg(r.delivered_kg()),
        Yuan(r.delivered_fen())}) {
    row->push_back(std::move(cell));
  }
}

// The [from, to) of a time range given as --from and --to; a bare date
// in --to counts that whole day.
void SetRange(Args& args, const Flag<absl::Time>& from,
              const Flag<absl::Time>& to, pb::GetStatsRequest* req) {
  if (std::optional<absl::Time> t = args.Get(from)) {
    SetTimestamp(*t, req->mutable_from());
  }
  if (std::optional<absl::Time> t = args.Get(to)) {
    SetTimestamp(*t, req->mutable_to());
  }
}

namespace stats {

constexpr Flag<std::string> kBy(
    "by", "DIMS",
    "group by up to 4 of: day, week (ISO), month, quarter (all in "
    "Asia/Shanghai), province, prefecture, county (the offer's origin), "
    "city (the buyer's), pairing, kind, category, product, certified, "
    "key_assisted, buyer, supplier; comma-separated; default: the total");
constexpr Flag<absl::Time> kFrom("from", "TIME",
                                 "only matches made at or after TIME (a bare "
                                 "date: its start)",
                                 DateMeans::kStartOfDay);
constexpr Flag<absl::Time> kTo("to", "TIME",
                               "only matches made before TIME (a bare date: "
                               "through the end of that day)",
                               DateMeans::kEndOfDay);
constexpr Flag<std::string> kProduct("product", "PREFIX",
                                     "product code prefix, e.g. vegetable");
constexpr Flag<std::string> kRegion(
    "region", "REGION",
    "origin region code prefix (62 = Gansu) or name (甘肃)");
constexpr Flag<std::string> kCity(
    "city", "REGION", "buyer city code prefix (3702 = Qingdao) or name (青岛)");
constexpr Flag<std::string> kBuyer("buyer", "ID", "one buyer's matches");
constexpr Flag<std::string> kSupplier("supplier", "ID",
                                      "one supplier's matches");

CommandSpec Spec() {
  return {
      "stats",
      "",
      "",
      "Figures of matches: kg, yuan, matches, distinct suppliers and "
      "buyers, households supported, delivered kg and yuan, grouped "
      "--by up to 4 dimensions. A supplier's, buyer's or platform's key "
      "counts its own parties' matches; ADMIN and OBSERVER keys all.",
      {&kBy, &kFrom, &kTo, &kProduct, &kRegion, &kCity, &kBuyer, &kSupplier}};
}

int Run(Client& c, Args& args) {
  pb::GetStatsRequest req;
  const std::string by = args.Get(kBy);
  if (!by.empty()) {
    for (absl::string_view name : absl::StrSplit(by, ',')) {
      const DimensionName* d = FindDimension(absl::StripAsciiWhitespace(name));
      if (d == nullptr) {
        args.AddError(absl::StrCat("--by: unknown dimension '", name,
                                   "'; expected ", DimensionNames()));
        break;
      }
      req.add_group_by(d->dimension);
    }
  }
  SetRange(args, kFrom, kTo, &req);
  req.mutable_filter()->set_product_code_prefix(
      ResolveProduct(c, args, "product", args.Get(kProduct)));
  req.mutable_filter()->set_origin_region_prefix(
      RegionPrefix(c, args, "region", args.Get(kRegion)));
  req.mutable_filter()->set_buyer_city_prefix(
      RegionPrefix(c, args, "city", args.Get(kCity)));
  req.mutable_filter()->set_buyer_id(args.Get(kBuyer));
  req.mutable_filter()->set_supplier_id(args.Get(kSupplier));
  if (!args.error().empty()) return -1;
  pb::GetStatsResponse resp;
  if (int rc = FetchStats(c, req, &resp); rc != kExitOk) return rc;
  if (c.json()) {
    std::cout << ToJson(resp, true);
    return kExitOk;
  }
  std::vector<std::string> header;
  for (int d : req.group_by()) header.push_back(FindDimension(d)->header);
  for (const std::string& h : FigureHeaders()) header.push_back(h);
  Table t(header);
  for (const pb::StatsRow& r : resp.rows()) {
    std::vector<std::string> row(r.keys().begin(), r.keys().end());
    for (int i = 0; i < static_cast<int>(row.size()); ++i) {
      std::string& key = row[i];
      if (key.empty()) key = "-";  // PAIRING: outside every pairing
      // Buyer kinds in the CLI's words (canteen), as its flags take them.
      if (i < req.group_by_size() && req.group_by(i) == pb::BUYER_KIND) {
        key = Lower(key);
      }
    }
    AddFigures(r, &row);
    t.AddRow(row);
  }
  if (req.group_by_size() > 0) {
    std::vector<std::string> row(req.group_by_size(), "");
    row[0] = "TOTAL";
    AddFigures(resp.total(), &row);
    t.AddRow(row);
  } else if (resp.rows().empty()) {
    std::vector<std::string> row;
    AddFigures(resp.total(), &row);
    t.AddRow(row);
  }
  c.PrintTable(t);
  return kExitOk;
}

}  // namespace stats

// The start of Asia/Shanghai day `date` ("2026-12-01"); false when it is
// not such a date.
bool ShanghaiDayStart(const std::string& date, absl::Time* start) {
  absl::CivilDay day;
  if (!absl::ParseCivilTime(date, &day) || absl::FormatCivilTime(day) != date) {
    return false;
  }
  *start = absl::FromCivil(day, ShanghaiTimeZone());
  return true;
}

absl::Time TimeOf(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

bool Within(const google::protobuf::Timestamp& ts, absl::Time from,
            absl::Time to) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return false;
  const absl::Time t = TimeOf(ts);
  return t >= from && t < to;
}

namespace report_daily {

constexpr Flag<std::string> kDate(
    "date", "DATE",
    "the day reported, Asia/Shanghai: 2026-12-01, today (the default) or "
    "yesterday");
constexpr Flag<int32_t> kTop("top", "N",
                             "the largest matches listed (default 10)");

CommandSpec Spec() {
  return {"report",
          "daily",
          "",
          "The daily glut report (日报): kg and yuan moved that day by "
          "province and product, glut alerts raised, escalated, cleared and "
          "still open, and the day's largest matches. With --json, the day's "
          "figures by province and product only.",
          {&kDate, &kTop}};
}

int Run(Client& c, Args& args) {
  std::string date = args.Has(kDate) ? args.Get(kDate) : "today";
  if (date == "today" || date == "yesterday") {
    const absl::CivilDay today =
        absl::ToCivilDay(absl::Now(), ShanghaiTimeZone());
    date = absl::FormatCivilTime(date == "today" ? today : today - 1);
  }
  const int32_t top = args.Has(kTop) ? args.Get(kTop) : 10;
  if (!args.error().empty()) return -1;
  absl::Time from;
  if (!ShanghaiDayStart(date, &from)) {
    std::cerr << "error: --date: expected a date like 2026-12-01, got '" << date
              << "'\nrun 'duijie report daily --help' for usage\n";
    return kExitUsage;
  }
  const absl::Time to = from + absl::Hours(24);

  pb::GetStatsRequest req;
  req.add_group_by(pb::ORIGIN_PROVINCE);
  req.add_group_by(pb::PRODUCT);
  SetTimestamp(from, req.mutable_from());
  SetTimestamp(to, req.mutable_to());
  pb::GetStatsResponse moved;
  if (int rc = FetchStats(c, req, &moved); rc != kExitOk) return rc;

  // Region names for the provinces.
  std::map<std::string, std::string> names;
  pb::ListRegionsRequest regions;
  regions.set_page_size(1000);
  if (int rc = FetchAllPages<pb::ListRegionsRequest, pb::ListRegionsResponse>(
          c, regions,
          [&](grpc::ClientContext* ctx, const pb::ListRegionsRequest& r,
              pb::ListRegionsResponse* p) {
            return c.stub()->ListRegions(ctx, r, p);
          },
          [&](const pb::ListRegionsResponse& p) {
            for (const pb::Region& r : p.regions()) names[r.code()] = r.name();
          });
      rc != kExitOk) {
    return rc;
  }

  // Alerts, cleared ones included; a server without them is said so.
  std::vector<pb::Alert> alerts;
  bool alerts_available = true;
  {
    pb::ListAlertsRequest alerts_req;
    alerts_req.set_include_cleared(true);
    alerts_req.set_page_size(1000);
    for (;;) {
      grpc::ClientContext context;
      c.Prepare(&context);
      pb::ListAlertsResponse page;
      grpc::Status status = c.stub()->ListAlerts(&context, alerts_req, &page);
      if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
        alerts_available = false;
        break;
      }
      if (!status.ok()) return c.Fail(status);
      alerts.insert(alerts.end(), page.alerts().begin(), page.alerts().end());
      if (page.next_page_token().empty() ||
          page.next_page_token() == alerts_req.page_token()) {
        break;
      }
      alerts_req.set_page_token(page.next_page_token());
    }
  }

  // The day's matches: every match is read (ListMatches has no time
  // filter), the largest by yuan kept.
  std::vector<pb::Match> largest;
  pb::ListMatchesRequest matches_req;
  matches_req.set_page_size(1000);
  if (int rc = FetchAllPages<pb::ListMatchesRequest, pb::ListMatchesResponse>(
          c, matches_req,
          [&](grpc::ClientContext* ctx, const pb::ListMatchesRequest& r,
              pb::ListMatchesResponse* p) {
            return c.stub()->ListMatches(ctx, r, p);
          },
          [&](const pb::ListMatchesResponse& p) {
            for (const pb::Match& m : p.matches()) {
              if (Within(m.matched_at(), from, to)) largest.push_back(m);
            }
          });
      rc != kExitOk) {
    return rc;
  }
  std::stable_sort(largest.begin(), largest.end(),
                   [](const pb::Match& a, const pb::Match& b) {
                     return a.amount_fen() > b.amount_fen();
                   });
  if (top >= 0 && largest.size() > static_cast<size_t>(top)) {
    largest.resize(top);
  }

  if (c.json()) {
    pb::GetStatsResponse out = moved;
    std::cout << ToJson(out, true);
    return kExitOk;
  }
  std::cout << "Daily report (日报) for " << date << " (Asia/Shanghai)\n\n";
  std::cout << "Moved: " << Kg(moved.total().kg()) << " kg, "
            << Yuan(moved.total().fen()) << " yuan in "
            << Count(moved.total().matches(), "match", "matches") << "; "
            << GroupThousands(moved.total().households())
            << " households supported\n\n";
  if (!moved.rows().empty()) {
    Table t(
        {"PROVINCE", "", "PRODUCT", ">KG", ">YUAN", ">MATCHES", ">HOUSEHOLDS"});
    for (const pb::StatsRow& r : moved.rows()) {
      auto name = names.find(r.keys(0));
      t.AddRow({r.keys(0), name == names.end() ? "" : name->second, r.keys(1),
                Kg(r.kg()), Yuan(r.fen()), GroupThousands(r.matches()),
                GroupThousands(r.households())});
    }
    t.Print(std::cout);
    std::cout << "\n";
  }

  if (!alerts_available) {
    std::cout << "alerts: not available from this server\n\n";
  } else {
    int raised = 0, escalated = 0, cleared = 0, open = 0;
    int64_t open_kg = 0;
    Table t({"ALERT", "PRODUCT", "REGION", "LEVEL", ">AT RISK KG", ">DEMAND KG",
             "STATE"});
    for (const pb::Alert& a : alerts) {
      // As the day ended: an alert raised later was not there yet.
      if (TimeOf(a.raised_at()) >= to) continue;
      const bool raised_today = Within(a.raised_at(), from, to);
      const bool cleared_today = Within(a.cleared_at(), from, to);
      // An alert above WATCH changed that day without being raised or
      // cleared then was escalated that day.
      const bool escalated_today = !raised_today && !cleared_today &&
                                   a.level() > pb::WATCH &&
                                   Within(a.updated_at(), from, to);
      const bool still_open =
          !a.has_cleared_at() || TimeOf(a.cleared_at()) >= to;
      raised += raised_today;
      escalated += escalated_today;
      cleared += cleared_today;
      if (still_open) {
        ++open;
        open_kg += a.at_risk_kg();
      }
      if (!raised_today && !cleared_today && !escalated_today && !still_open) {
        continue;
      }
      std::vector<std::string> today;
      if (raised_today) today.push_back("raised");
      if (escalated_today) today.push_back("escalated");
      if (cleared_today) today.push_back("cleared");
      std::string state =
          today.empty() ? "open"
                        : absl::StrCat(absl::StrJoin(today, " and "), " today");
      if (!today.empty() && still_open) state += ", open";
      t.AddRow({absl::StrCat(a.alert_id()), a.product_code(), a.region_code(),
                Lower(pb::AlertLevel_Name(a.level())), Kg(a.at_risk_kg()),
                Kg(a.demand_kg()), state});
    }
    std::cout << "Alerts: " << raised << " raised, " << escalated
              << " escalated, " << cleared << " cleared; " << open
              << " open at the day's end with " << Kg(open_kg)
              << " kg at risk (figures as of each alert's last event)\n";
    if (t.rows() > 0) t.Print(std::cout);
    std::cout << "\n";
  }

  std::cout << "Largest matches\n";
  if (largest.empty()) {
    std::cout << "  none that day\n";
  } else {
    PrintMatches(c, largest);
  }
  return kExitOk;
}

}  // namespace report_daily

namespace report_ledger {

constexpr Flag<std::string> kQuarter("quarter", "YYYYQN",
                                     "the quarter, Asia/Shanghai, e.g. 2026Q4",
                                     kRequired);
constexpr Flag<std::string> kBy("by", "buyer|pairing|county",
                                "one row per buyer, per east-west pairing or "
                                "per origin county",
                                kRequired);
constexpr Flag<std::string> kCsv("csv", "FILE",
                                 "write the ledger to FILE, - for standard "
                                 "output (UTF-8 CSV with a byte order mark, "
                                 "for spreadsheets)",
                                 kRequired);

CommandSpec Spec() {
  return {"report",
          "ledger",
          "",
          "The quarterly ledger (调度台账) of who bought what: GetStats' "
          "figures for the quarter by buyer, pairing or county, with the "
          "registered names, as CSV.",
          {&kQuarter, &kBy, &kCsv}};
}

// Parses "2026Q4" into the quarter's [from, to) in Asia/Shanghai.
bool ParseQuarter(const std::string& text, absl::Time* from, absl::Time* to) {
  int year = 0;
  if (text.size() != 6 || text[4] != 'Q' || text[5] < '1' || text[5] > '4' ||
      !absl::SimpleAtoi(text.substr(0, 4), &year) || year < 1) {
    return false;
  }
  const int month = (text[5] - '1') * 3 + 1;
  *from = absl::FromCivil(absl::CivilMonth(year, month), ShanghaiTimeZone());
  *to = absl::FromCivil(absl::CivilMonth(year, month) + 3, ShanghaiTimeZone());
  return true;
}

int Run(Client& c, Args& args) {
  const std::string quarter = args.Get(kQuarter);
  const std::string by = args.Get(kBy);
  const std::string path = args.Get(kCsv);
  if (!args.error().empty()) return -1;
  absl::Time from, to;
  if (!ParseQuarter(quarter, &from, &to)) {
    std::cerr << "error: --quarter: expected a quarter like 2026Q4, got '"
              << quarter << "'\nrun 'duijie report ledger --help' for usage\n";
    return kExitUsage;
  }
  pb::GetStatsRequest req;
  if (by == "buyer") {
    req.add_group_by(pb::BUYER);
  } else if (by == "pairing") {
    req.add_group_by(pb::PAIRING);
  } else if (by == "county") {
    req.add_group_by(pb::ORIGIN_COUNTY);
  } else {
    std::cerr << "error: --by: expected buyer, pairing or county, got '" << by
              << "'\nrun 'duijie report ledger --help' for usage\n";
    return kExitUsage;
  }
  SetTimestamp(from, req.mutable_from());
  SetTimestamp(to, req.mutable_to());
  pb::GetStatsResponse resp;
  if (int rc = FetchStats(c, req, &resp); rc != kExitOk) return rc;

  // Names: regions for counties and pairings, the registry for buyers.
  std::map<std::string, std::string> region_names, buyer_names, notes;
  pb::ListRegionsRequest regions;
  regions.set_page_size(1000);
  int rc = FetchAllPages<pb::ListRegionsRequest, pb::ListRegionsResponse>(
      c, regions,
      [&](grpc::ClientContext* ctx, const pb::ListRegionsRequest& r,
          pb::ListRegionsResponse* p) {
        return c.stub()->ListRegions(ctx, r, p);
      },
      [&](const pb::ListRegionsResponse& p) {
        for (const pb::Region& r : p.regions()) {
          region_names[r.code()] = r.name();
        }
      });
  if (rc == kExitOk && by == "buyer") {
    pb::ListBuyersRequest buyers;
    buyers.set_page_size(1000);
    rc = FetchAllPages<pb::ListBuyersRequest, pb::ListBuyersResponse>(
        c, buyers,
        [&](grpc::ClientContext* ctx, const pb::ListBuyersRequest& r,
            pb::ListBuyersResponse* p) {
          return c.stub()->ListBuyers(ctx, r, p);
        },
        [&](const pb::ListBuyersResponse& p) {
          for (const pb::Buyer& b : p.buyers()) {
            buyer_names[b.buyer_id()] = b.name();
          }
        });
  }
  if (rc == kExitOk && by == "pairing") {
    pb::ListPairingsRequest pairings;
    pairings.set_page_size(1000);
    rc = FetchAllPages<pb::ListPairingsRequest, pb::ListPairingsResponse>(
        c, pairings,
        [&](grpc::ClientContext* ctx, const pb::ListPairingsRequest& r,
            pb::ListPairingsResponse* p) {
          return c.stub()->ListPairings(ctx, r, p);
        },
        [&](const pb::ListPairingsResponse& p) {
          for (const pb::Pairing& x : p.pairings()) {
            notes[absl::StrCat(x.east_code(), ">", x.west_code())] = x.note();
          }
        });
  }
  if (rc != kExitOk) return rc;
  auto name_of = [](const std::map<std::string, std::string>& names,
                    const std::string& key) {
    auto it = names.find(key);
    return it == names.end() ? std::string() : it->second;
  };

  // Figures as integers (kg, fen), exactly as GetStats gives them, so that
  // a spreadsheet sums them without rounding.
  std::vector<std::string> header = {"quarter"};
  if (by == "buyer") {
    header.insert(header.end(), {"buyer_id", "buyer_name"});
  } else if (by == "pairing") {
    header.insert(header.end(), {"pairing", "east_code", "east_name",
                                 "west_code", "west_name", "note"});
  } else {
    header.insert(header.end(), {"county_code", "county_name",
                                 "prefecture_name", "province_name"});
  }
  const size_t key_columns = header.size();
  header.insert(header.end(), {"kg", "fen", "matches", "suppliers", "buyers",
                               "households", "delivered_kg", "delivered_fen"});
  Table t(header);
  auto figures = [](const pb::StatsRow& r, std::vector<std::string>* row) {
    for (int64_t v : {r.kg(), r.fen(), r.matches(), r.suppliers(), r.buyers(),
                      r.households(), r.delivered_kg(), r.delivered_fen()}) {
      row->push_back(absl::StrCat(v));
    }
  };
  for (const pb::StatsRow& r : resp.rows()) {
    const std::string& key = r.keys(0);
    std::vector<std::string> row = {quarter};
    if (by == "buyer") {
      row.insert(row.end(), {key, name_of(buyer_names, key)});
    } else if (by == "pairing") {
      std::vector<std::string> codes = absl::StrSplit(key, '>');
      codes.resize(2);
      row.insert(row.end(),
                 {key, codes[0], name_of(region_names, codes[0]), codes[1],
                  name_of(region_names, codes[1]),
                  key.empty() ? "outside every pairing" : name_of(notes, key)});
    } else {
      const std::string prefecture = key.substr(0, 4) + "00";
      const std::string province = key.substr(0, 2) + "0000";
      row.insert(row.end(), {key, name_of(region_names, key),
                             name_of(region_names, prefecture),
                             name_of(region_names, province)});
    }
    figures(r, &row);
    t.AddRow(row);
  }
  std::vector<std::string> total(key_columns, "");
  total[0] = quarter;
  total[1] = "TOTAL";
  figures(resp.total(), &total);
  t.AddRow(total);

  // "-" is standard output, for a pipe; the summary then goes to stderr.
  const bool to_stdout = path == "-";
  std::ofstream file;
  if (!to_stdout) file.open(path, std::ios::binary | std::ios::trunc);
  std::ostream& out = to_stdout ? std::cout : file;
  out << "\xEF\xBB\xBF";  // Excel reads UTF-8 (the Chinese names) by it
  t.PrintCsv(out);
  if (!to_stdout) file.close();
  if (!out) {
    std::cerr << "error: --csv: cannot write " << path << "\n";
    return kExitRefused;
  }
  (to_stdout ? std::cerr : std::cout)
      << "ledger " << quarter << " by " << by << ": "
      << Count(resp.rows_size(), "row") << ", " << Kg(resp.total().kg())
      << " kg, " << Yuan(resp.total().fen()) << " yuan, written to "
      << (to_stdout ? "standard output" : path) << "\n";
  return kExitOk;
}

}  // namespace report_ledger

namespace admin_state_hash {

CommandSpec Spec() {
  return {"admin",
          "state-hash",
          "",
          "The digest of the server's whole state and its journal position; "
          "servers that applied the same commands print the same hash.",
          {}};
}

int Run(Client& c, Args& /*args*/) {
  pb::GetStateHashRequest req;
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::GetStateHashResponse resp;
  grpc::Status status = AdminStub(c)->GetStateHash(&context, req, &resp);
  if (!status.ok()) return c.Fail(status);
  if (c.json()) {
    std::cout << ToJson(resp, true);
    return kExitOk;
  }
  std::cout << "state hash      " << resp.state_hash_hex() << "\n"
            << "last match id   " << resp.last_match_id() << "\n"
            << "offers, pledges " << resp.offer_count() << ", "
            << resp.pledge_count() << "\n";
  const pb::JournalStatus& j = resp.journal();
  if (j.durable()) {
    std::cout << "journal at      " << j.position() << " (snapshot at "
              << j.snapshot_position() << ", fsync "
              << (j.fsync() ? "on" : "off") << ")\n";
  } else {
    std::cout << "journal         none (in-memory server)\n";
  }
  return kExitOk;
}

}  // namespace admin_state_hash

namespace admin_snapshot {

CommandSpec Spec() {
  return {"admin",
          "snapshot",
          "",
          "Write a snapshot of the state now (durable servers only).",
          {}};
}

int Run(Client& c, Args& /*args*/) {
  pb::SnapshotRequest req;
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::SnapshotResponse resp;
  grpc::Status status = AdminStub(c)->Snapshot(&context, req, &resp);
  if (!status.ok()) return c.Fail(status);
  if (c.json()) {
    std::cout << ToJson(resp, true);
    return kExitOk;
  }
  std::cout << "snapshot " << Printable(resp.file())
            << " covers the journal up to " << resp.position() << "\n";
  return kExitOk;
}

}  // namespace admin_snapshot

// ---------------------------------------------------------------------------
// The command table and help.

using Handler = int (*)(Client&, Args&);

struct Command {
  CommandSpec spec;
  Handler handler;
};

// In the order help lists them.
// ---------------------------------------------------------------------------
// admin key: API keys.

std::string RoleWord(pb::Role role) {
  std::string name = pb::Role_Name(role);
  if (absl::StartsWith(name, "ROLE_")) name = name.substr(5);
  return absl::AsciiStrToLower(name);
}

Table KeysTable(const google::protobuf::RepeatedPtrField<pb::ApiKey>& keys) {
  Table t({"KEY", "NAME", "ROLE", "PARTIES", TimeHeader("CREATED"),
           TimeHeader("EXPIRES"), TimeHeader("REVOKED")});
  for (const pb::ApiKey& k : keys) {
    std::vector<std::string> parties;
    for (const std::string& id : k.principal().supplier_ids()) {
      parties.push_back("supplier:" + id);
    }
    for (const std::string& id : k.principal().buyer_ids()) {
      parties.push_back("buyer:" + id);
    }
    t.AddRow({absl::StrCat(k.key_id()), k.principal().name(),
              RoleWord(k.principal().role()),
              parties.empty() ? "-" : absl::StrJoin(parties, ","),
              ShortTime(k.created_at()), ShortTime(k.expires_at()),
              ShortTime(k.revoked_at())});
  }
  return t;
}

namespace admin_key_create {

constexpr Flag<std::string> kName("name", "NAME",
                                  "who holds the key (shown in listings and "
                                  "the server log)",
                                  kRequired);
constexpr Flag<std::string> kRole(
    "role", "ROLE", "admin, platform, supplier, buyer or observer", kRequired);
constexpr Flag<std::string> kSupplier(
    "supplier", "IDS",
    "supplier ids the key acts for, comma-separated (supplier: one; "
    "platform: any)");
constexpr Flag<std::string> kBuyer(
    "buyer", "IDS",
    "buyer ids the key acts for, comma-separated (buyer: one; platform: "
    "any)");

// A key's expiry is an absolute time (the API has no relative form for
// keys): a duration counts from now, on this machine's clock.
constexpr Flag<absl::Time> kKeyExpires(
    "expires", "TIME",
    "when the key stops working: a date (valid through that day), a local "
    "time, RFC 3339 or a duration from now (default: never)",
    DateMeans::kEndOfDay);

CommandSpec Spec() {
  return {"admin",
          "key create",
          "",
          "Create an API key and print its secret, once: the server keeps "
          "only its hash. Needs an ADMIN key.",
          {&kName, &kRole, &kSupplier, &kBuyer, &kKeyExpires, &kRequestId}};
}

int Run(Client& c, Args& args) {
  pb::CreateKeyRequest req;
  req.set_request_id(args.Get(kRequestId, NewRequestId()));
  pb::Principal* p = req.mutable_principal();
  p->set_name(args.Get(kName, std::string()));
  const std::string role = args.Get(kRole, std::string());
  pb::Role value;
  if (!pb::Role_Parse("ROLE_" + Normalize(role), &value) ||
      value == pb::ROLE_UNSPECIFIED) {
    args.AddError(absl::StrCat("--role: '", role,
                               "' is not admin, platform, supplier, buyer "
                               "or observer"));
  } else {
    p->set_role(value);
  }
  for (absl::string_view id : absl::StrSplit(args.Get(kSupplier, std::string()),
                                             ',', absl::SkipEmpty())) {
    p->add_supplier_ids(std::string(id));
  }
  for (absl::string_view id : absl::StrSplit(args.Get(kBuyer, std::string()),
                                             ',', absl::SkipEmpty())) {
    p->add_buyer_ids(std::string(id));
  }
  if (auto t = args.Get(kKeyExpires))
    SetTimestamp(*t, req.mutable_expires_at());
  if (!args.error().empty()) return -1;
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::CreateKeyResponse resp;
  grpc::Status status = AdminStub(c)->CreateKey(&context, req, &resp);
  if (!status.ok()) return c.Fail(status, req.request_id());
  if (c.json()) {
    std::cout << ToJson(resp, true);
    return kExitOk;
  }
  if (resp.secret().empty()) {
    std::cout << "key " << resp.key_id()
              << " exists (a retry): its secret was printed only the first "
                 "time; revoke it and create another if it was lost\n";
    return kExitOk;
  }
  std::cout << resp.secret() << "\n";
  std::cerr << "key " << resp.key_id() << " for " << p->name() << " ("
            << RoleWord(p->role())
            << "): the secret above is shown only now; store it in a file "
               "only its user reads (umask 077; chmod 600) and give that "
               "file to --key_file, or keep it as that user's "
               "${XDG_CONFIG_HOME:-~/.config}/duijie/key (not over the admin "
               "key's)\n";
  return kExitOk;
}

}  // namespace admin_key_create

namespace admin_key_list {

CommandSpec Spec() {
  return {"admin",
          "key list",
          "",
          "List the API keys (never their secrets). Needs an ADMIN key.",
          {&kPageSize, &kPageToken}};
}

int Run(Client& c, Args& args) {
  pb::ListKeysRequest req;
  req.set_page_size(args.Get(kPageSize));
  req.set_page_token(args.Get(kPageToken, std::string()));
  if (!args.error().empty()) return -1;
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::ListKeysResponse resp;
  grpc::Status status = AdminStub(c)->ListKeys(&context, req, &resp);
  if (!status.ok()) return c.Fail(status);
  if (c.json()) {
    std::cout << ToJson(resp, true);
    return kExitOk;
  }
  c.PrintTable(KeysTable(resp.keys()));
  c.PrintListEnd(resp.keys_size(), "key", "", resp.next_page_token(), "",
                 TotalOf(resp));
  return kExitOk;
}

}  // namespace admin_key_list

namespace admin_key_revoke {

CommandSpec Spec() {
  return {"admin",
          "key revoke",
          "ID",
          "Revoke an API key at once (its open streams end too). Needs an "
          "ADMIN key.",
          {&kRequestId}};
}

int Run(Client& c, Args& args) {
  pb::RevokeKeyRequest req;
  req.set_request_id(args.Get(kRequestId, NewRequestId()));
  req.set_key_id(args.PositionalId());
  if (!args.error().empty()) return -1;
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::ApiKey resp;
  grpc::Status status = AdminStub(c)->RevokeKey(&context, req, &resp);
  if (!status.ok()) return c.Fail(status, req.request_id());
  if (c.json()) {
    std::cout << ToJson(resp, true);
    return kExitOk;
  }
  std::cout << "key " << resp.key_id() << " revoked\n";
  google::protobuf::RepeatedPtrField<pb::ApiKey> one;
  *one.Add() = resp;
  KeysTable(one).Print(std::cout);
  return kExitOk;
}

}  // namespace admin_key_revoke

// ---------------------------------------------------------------------------
// The buyer registry.

void PrintBuyer(const pb::Buyer& b) {
  std::cout << "buyer " << Printable(b.buyer_id()) << "\n";
  Table t({"", ""});
  t.AddRow({"  name", b.name()});
  t.AddRow({"  city", b.city_code()});
  t.AddRow({"  kind", Lower(pb::BuyerKind_Name(b.kind()))});
  t.AddRow({"  annual target",
            b.annual_target_fen() == 0
                ? std::string("none")
                : absl::StrCat(Yuan(b.annual_target_fen()), " yuan")});
  t.AddRow({"  alliance",
            b.alliance_id().empty() ? std::string("none") : b.alliance_id()});
  t.Print(std::cout, /*header=*/false);
}

namespace buyer_upsert {

constexpr Flag<std::string> kId("id", "ID", "buyer_id, as its pledges name it",
                                kRequired);
constexpr Flag<std::string> kName("name", "NAME",
                                  "e.g. 青岛市东西部协作办 (at most 64 bytes)",
                                  kRequired);
constexpr Flag<std::string> kCity(
    "city", "REGION", "the buyer's city, a known region's code or unique name",
    kRequired);
constexpr Flag<std::string> kKind(
    "kind", "KIND",
    "government_unit, school, hospital, state_firm, private_firm, "
    "army_unit, trade_union, canteen, charity, individual or platform",
    kRequired);
constexpr Flag<int64_t> kTargetFen(
    "target-fen", "FEN",
    "what it means to buy in a year, in fen (default: 0, no target)");
constexpr Flag<InYuan> kTargetYuan(
    "target-yuan", "YUAN",
    "the annual target in yuan, e.g. 2,000,000 (instead of --target-fen)");
constexpr Flag<std::string> kAlliance("alliance", "ID",
                                      "the buyer alliance it belongs to");

CommandSpec Spec() {
  return {"buyer",
          "upsert",
          "",
          "Register a buyer or replace it (flags not given become empty). "
          "Its pledges may then leave out --city and --kind.",
          {&kId, &kName, &kCity, &kKind, &kTargetFen, &kTargetYuan, &kAlliance,
           &kRequestId}};
}

int Run(Client& c, Args& args) {
  pb::UpsertBuyerRequest req;
  req.set_request_id(args.Get(kRequestId, NewRequestId()));
  pb::Buyer* b = req.mutable_buyer();
  b->set_buyer_id(args.Get(kId));
  b->set_name(args.Get(kName));
  b->set_city_code(ResolveRegion(c, args, "city", args.Get(kCity)));
  pb::BuyerKind kind = pb::BUYER_KIND_UNSPECIFIED;
  ReadKind(args, kKind, &kind);
  b->set_kind(kind);
  b->set_annual_target_fen(
      ReadFen(args, kTargetFen, kTargetYuan, /*required=*/false).value_or(0));
  b->set_alliance_id(args.Get(kAlliance));
  if (!args.error().empty()) return -1;
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::UpsertBuyerResponse resp;
  grpc::Status status = c.stub()->UpsertBuyer(&context, req, &resp);
  if (!status.ok()) return c.Fail(status, req.request_id());
  if (c.json()) {
    std::cout << ToJson(resp, true);
    return kExitOk;
  }
  std::cout << (resp.created() ? "registered " : "replaced ");
  PrintBuyer(resp.buyer());
  return kExitOk;
}

}  // namespace buyer_upsert

namespace buyer_get {

CommandSpec Spec() {
  return {"buyer", "get", "ID", "Show one registered buyer.", {}};
}

int Run(Client& c, Args& args) {
  pb::GetBuyerRequest req;
  if (args.positionals().size() == 1) req.set_buyer_id(args.positionals()[0]);
  if (!args.error().empty()) return -1;
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::Buyer resp;
  grpc::Status status = c.stub()->GetBuyer(&context, req, &resp);
  if (!status.ok()) return c.Fail(status);
  if (c.json()) {
    std::cout << ToJson(resp, true);
  } else {
    PrintBuyer(resp);
  }
  return kExitOk;
}

}  // namespace buyer_get

namespace buyer_list {

constexpr Flag<std::string> kCity("city", "REGION",
                                  "city code prefix (37) or name (山东)");
constexpr Flag<std::string> kKind("kind", "KIND", "only this kind");
constexpr Flag<std::string> kAlliance("alliance", "ID",
                                      "only members of this alliance");

CommandSpec Spec() {
  return {"buyer", "list", "", "List registered buyers by id.",
          WithPaging({&kCity, &kKind, &kAlliance})};
}

int Run(Client& c, Args& args) {
  pb::ListBuyersRequest req;
  req.set_city_code_prefix(RegionPrefix(c, args, "city", args.Get(kCity)));
  pb::BuyerKind kind = pb::BUYER_KIND_UNSPECIFIED;
  ReadKind(args, kKind, &kind);
  req.set_kind(kind);
  req.set_alliance_id(args.Get(kAlliance));
  pb::ListBuyersResponse resp;
  int rc = ListPages(
      c, args, req, &resp,
      [&](grpc::ClientContext* ctx, const pb::ListBuyersRequest& r,
          pb::ListBuyersResponse* p) {
        return c.stub()->ListBuyers(ctx, r, p);
      },
      [](const pb::ListBuyersResponse& p, pb::ListBuyersResponse* o) {
        o->mutable_buyers()->MergeFrom(p.buyers());
      });
  if (rc != kExitOk) return rc;
  if (c.json()) {
    std::cout << ToJson(resp, true);
    return kExitOk;
  }
  Table t({"BUYER", "NAME", "CITY", "KIND", ">TARGET YUAN", "ALLIANCE"});
  for (const pb::Buyer& b : resp.buyers()) {
    t.AddRow({b.buyer_id(), b.name(), b.city_code(),
              Lower(pb::BuyerKind_Name(b.kind())), Yuan(b.annual_target_fen()),
              b.alliance_id()});
  }
  c.PrintTable(t);
  c.PrintListEnd(resp.buyers_size(), "buyer", "", resp.next_page_token(), "",
                 TotalOf(resp));
  return kExitOk;
}

}  // namespace buyer_list

namespace buyer_progress {

constexpr Flag<std::string> kId("id", "ID", "one registered buyer");
constexpr Flag<std::string> kAlliance("alliance", "ID",
                                      "the members of one buyer alliance");
constexpr Flag<int32_t> kYear("year", "YEAR",
                              "calendar year, Asia/Shanghai time, e.g. 2026",
                              kRequired);

CommandSpec Spec() {
  return {"buyer",
          "progress",
          "",
          "Purchases of a buyer (--id) or an alliance (--alliance) in a year "
          "against its annual target, by month (Asia/Shanghai).",
          {&kId, &kAlliance, &kYear}};
}

int Run(Client& c, Args& args) {
  pb::GetBuyerProgressRequest req;
  req.set_buyer_id(args.Get(kId));
  req.set_alliance_id(args.Get(kAlliance));
  req.set_year(args.Get(kYear));
  if (args.Has(kId) == args.Has(kAlliance)) {
    args.AddError("give exactly one of --id and --alliance");
  }
  if (!args.error().empty()) return -1;
  grpc::ClientContext context;
  c.Prepare(&context);
  pb::BuyerProgress resp;
  grpc::Status status = c.stub()->GetBuyerProgress(&context, req, &resp);
  if (!status.ok()) return c.Fail(status);
  if (c.json()) {
    std::cout << ToJson(resp, true);
    return kExitOk;
  }
  std::cout << (resp.alliance_id().empty()
                    ? absl::StrCat("buyer ", Printable(resp.buyer_id()))
                    : absl::StrCat(
                          "alliance ", Printable(resp.alliance_id()), " (",
                          Count(resp.member_ids_size(), "member"), ")"))
            << ", " << resp.year() << "\n";
  Table summary({"", ""});
  summary.AddRow({"  annual target",
                  absl::StrCat(Yuan(resp.annual_target_fen()), " yuan")});
  summary.AddRow(
      {"  matched", absl::StrCat(Yuan(resp.matched_fen()), " yuan")});
  summary.AddRow(
      {"  delivered", absl::StrCat(Yuan(resp.delivered_fen()), " yuan")});
  summary.AddRow(
      {"  done",
       resp.annual_target_fen() == 0
           ? std::string("no target")
           : absl::StrCat(resp.share_done_permille() / 10, ".",
                          resp.share_done_permille() % 10, "% of the target")});
  summary.Print(std::cout, /*header=*/false);
  Table t({">MONTH", ">MATCHED YUAN", ">DELIVERED YUAN"});
  for (const pb::MonthProgress& m : resp.months()) {
    t.AddRow({absl::StrCat(m.month()), Yuan(m.matched_fen()),
              Yuan(m.delivered_fen())});
  }
  t.Print(std::cout);
  return kExitOk;
}

}  // namespace buyer_progress

const std::vector<Command>& Commands() {
  static const auto* commands = new std::vector<Command>{
      {regions_list::Spec(), regions_list::Run},
      {regions_upsert::Spec(), regions_upsert::Run},
      {products_list::Spec(), products_list::Run},
      {products_upsert::Spec(), products_upsert::Run},
      {pairings_list::Spec(), pairings_list::Run},
      {pairings_add::Spec(), pairings_add::Run},
      {pairings_delete::Spec(), pairings_delete::Run},
      {offer_post::Spec(), offer_post::Run},
      {offer_cancel::Spec(), offer_cancel::Run},
      {offer_amend::Spec(), offer_amend::Run},
      {offer_get::Spec(), offer_get::Run},
      {offer_list::Spec(), offer_list::Run},
      {pledge_post::Spec(), pledge_post::Run},
      {pledge_cancel::Spec(), pledge_cancel::Run},
      {pledge_amend::Spec(), pledge_amend::Run},
      {pledge_get::Spec(), pledge_get::Run},
      {pledge_list::Spec(), pledge_list::Run},
      {pledge_explain::Spec(), pledge_explain::Run},
      {offer_explain::Spec(), offer_explain::Run},
      {buyer_upsert::Spec(), buyer_upsert::Run},
      {buyer_get::Spec(), buyer_get::Run},
      {buyer_list::Spec(), buyer_list::Run},
      {buyer_progress::Spec(), buyer_progress::Run},
      {matches_list::Spec(), matches_list::Run},
      {matches_watch::Spec(), matches_watch::Run},
      {match_ship::Spec(), match_ship::Run},
      {match_accept::Spec(), match_accept::Run},
      {match_decline::Spec(), match_decline::Run},
      {book::Spec(), book::Run},
      {clearing_set::Spec(), clearing_set::Run},
      {clearing_list::Spec(), clearing_list::Run},
      {stats::Spec(), stats::Run},
      {report_daily::Spec(), report_daily::Run},
      {report_ledger::Spec(), report_ledger::Run},
      {alerts_list::Spec(), alerts_list::Run},
      {alerts_watch::Spec(), alerts_watch::Run},
      {alerts_thresholds::Spec(), alerts_thresholds::Run},
      {admin_state_hash::Spec(), admin_state_hash::Run},
      {admin_snapshot::Spec(), admin_snapshot::Run},
      {admin_key_create::Spec(), admin_key_create::Run},
      {admin_key_list::Spec(), admin_key_list::Run},
      {admin_key_revoke::Spec(), admin_key_revoke::Run},
  };
  return *commands;
}

std::string CommandName(const CommandSpec& s) {
  return s.name.empty() ? s.group : absl::StrCat(s.group, " ", s.name);
}

void PrintCommandHelp(const CommandSpec& s, std::ostream& out) {
  std::string usage = absl::StrCat("duijie ", CommandName(s));
  for (const FlagSpec* f : s.flags) {
    if (f->required()) {
      absl::StrAppend(&usage, " --", f->name(), " ", f->value());
    }
  }
  if (!s.positional.empty()) absl::StrAppend(&usage, " ", s.positional);
  for (const FlagSpec* f : s.flags) {
    if (!f->required()) {
      absl::StrAppend(&usage, " [--", f->name(), f->value().empty() ? "" : " ",
                      f->value(), "]", f->repeated() ? "..." : "");
    }
  }
  out << usage << "\n    " << s.summary << "\n";
  Table t({"", "", ""});
  for (const FlagSpec* f : s.flags) {
    t.AddRow({absl::StrCat("      --", f->name()), std::string(f->value()),
              absl::StrCat(f->help(), f->required()   ? " (required)"
                                      : f->repeated() ? " (repeatable)"
                                                      : "")});
  }
  if (t.rows() > 0) {
    t.Print(out, /*header=*/false);
  }
}

constexpr char kGlobalHelp[] = R"(Global flags (anywhere on the line):
  --server HOST:PORT   duijie-server address (default 127.0.0.1:50051, or $DUIJIE_SERVER)
  -o, --output FORMAT  table (default), json (protobuf JSON: proto field names, int64 as
                       strings) or csv (list tables as CSV); --json is -o json
  --utc                show and read times in UTC (default: Asia/Shanghai, or $TZ when set)
  --timeout DURATION   deadline of each call (default 5s); 'matches watch' and 'alerts watch'
                       stream without one
  --key_file FILE      the API key to send (else $DUIJIE_KEY, else
                       ${XDG_CONFIG_HOME:-~/.config}/duijie/key)
  --context NAME       use the server, key_file and output of [context.NAME] in
                       ${XDG_CONFIG_HOME:-~/.config}/duijie/config.toml (default: its current_context)
  --tls_ca FILE        connect with TLS; the server's certificate must chain to this PEM CA
  --tls_cert FILE, --tls_key FILE
                       client certificate and key, for a server that requires them (mutual TLS)
  --version            the CLI's version, and the server's
  --help, -h           help for the command

Order of precedence: flags, then the --context named, then $DUIJIE_SERVER and $DUIJIE_KEY,
then the config's current_context, then the defaults.

Units: quantities in kg (or --t tonnes); prices in fen per kg and amounts in fen
(100 fen = 1 yuan), or in yuan with the -yuan flags (--floor-yuan 68.50). Numbers may
group thousands with commas (--budget-yuan 1,200,000). Times: a date (2026-12-20; for
an expiry, through the end of that day), a local time (2026-12-20 18:00), RFC 3339
(2026-12-20T18:00:00+08:00) or a duration from now (72h, 3d, 90m). Tables show yuan
with two decimals; JSON keeps the integer fen and UTC times of the contract.

Exit status: 0 ok; 1 the server refused the request (stderr: "error: CODE: message";
UNAUTHENTICATED: no valid key, PERMISSION_DENIED: not this key's to do);
2 usage error; 3 the server is unreachable or did not answer within --timeout.
)";

void PrintMainHelp(std::ostream& out) {
  out << "duijie: command-line client of duijie-server (对接), the exchange "
         "that matches\nsurplus produce from assisted regions with buyer "
         "pledges.\n\nusage: duijie [--server HOST:PORT] [-o table|json|csv] "
         "COMMAND [FLAGS]\n\nCommands:\n";
  Table t({"", ""});
  for (const Command& c : Commands()) {
    std::string name = CommandName(c.spec);
    if (!c.spec.positional.empty())
      absl::StrAppend(&name, " ", c.spec.positional);
    // The first sentence of the summary is enough for the overview.
    std::string brief = c.spec.summary;
    size_t stop = brief.find(". ");
    if (stop != std::string::npos) brief.resize(stop + 1);
    t.AddRow({"  " + name, brief});
  }
  t.AddRow({"  help [COMMAND]", "this help, or the flags of one command"});
  t.AddRow({"  completion bash",
            "a bash completion script: source <(duijie completion bash)"});
  t.Print(out, /*header=*/false);
  out << "\n"
      << kGlobalHelp
      << "\nExamples:\n"
         "  duijie book\n"
         "  duijie offer post --supplier wudu-pepper-coop --region 621202 "
         "--product spice.sichuan_pepper \\\n"
         "      --grade premium --t 2 --floor-yuan 68 --certified "
         "--households 320 --expires 2026-12-20\n"
         "  duijie -o json matches list --buyer qingdao-cooperation-office\n"
         "  duijie offer --help\n";
}

// The flags of the global parser that take a value.
const std::vector<std::string>& GlobalValueFlags() {
  static const auto* flags = new std::vector<std::string>{
      "--server", "--key_file", "--key-file", "--context",  "--output",
      "-o",       "--timeout",  "--tls_ca",   "--tls_cert", "--tls_key"};
  return *flags;
}

// A bash completion script for every command, subcommand and flag.
void PrintBashCompletion(std::ostream& out) {
  std::map<std::string, std::vector<std::string>> subcommands;
  std::vector<std::string> groups;
  for (const Command& c : Commands()) {
    if (subcommands.count(c.spec.group) == 0) groups.push_back(c.spec.group);
    std::vector<std::string>& names = subcommands[c.spec.group];
    if (c.spec.name.empty()) continue;
    // "key create" completes as "key", then "create".
    const std::string first = c.spec.name.substr(0, c.spec.name.find(' '));
    if (std::find(names.begin(), names.end(), first) == names.end()) {
      names.push_back(first);
    }
  }
  groups.push_back("help");
  groups.push_back("completion");
  std::vector<std::string> globals;
  for (const std::string& name : GlobalFlagNames()) {
    globals.push_back("--" + name);
  }
  globals.push_back("-o");
  out << "# bash completion for duijie: source <(duijie completion bash)\n"
         "_duijie() {\n"
         "  local cur=${COMP_WORDS[COMP_CWORD]}\n"
         "  local prev=${COMP_WORDS[COMP_CWORD-1]}\n"
         "  local globals=\""
      << absl::StrJoin(globals, " ")
      << "\"\n"
         "  case $prev in\n"
         "    -o|--output) COMPREPLY=($(compgen -W \"table json csv\" -- "
         "\"$cur\")); return ;;\n"
         "    --key_file|--key-file|--tls_ca|--tls_cert|--tls_key) "
         "COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n"
         "  esac\n"
         "  # The command's words: not flags, not the values of global "
         "flags.\n"
         "  local words=() i w skip=0\n"
         "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
         "    w=${COMP_WORDS[i]}\n"
         "    if ((skip)); then skip=0; continue; fi\n"
         "    case $w in\n"
         "      "
      << absl::StrJoin(GlobalValueFlags(), "|")
      << ") skip=1 ;;\n"
         "      -*) ;;\n"
         "      *) words+=(\"$w\") ;;\n"
         "    esac\n"
         "  done\n"
         "  local group=${words[0]} sub=${words[1]} opts\n"
         "  if ((${#words[@]} == 0)); then\n"
         "    if [[ $cur == -* ]]; then opts=$globals; else opts=\""
      << absl::StrJoin(groups, " ")
      << "\"; fi\n"
         "  else\n"
         "    case $group in\n";
  for (const std::string& group : groups) {
    if (group == "help") {
      out << "      help) opts=\"" << absl::StrJoin(groups, " ") << "\" ;;\n";
      continue;
    }
    if (group == "completion") {
      out << "      completion) opts=\"bash\" ;;\n";
      continue;
    }
    out << "      " << group << ")\n"
        << "        case $sub in\n";
    for (const Command& c : Commands()) {
      if (c.spec.group != group) continue;
      std::vector<std::string> flags;
      for (const FlagSpec* f : c.spec.flags) {
        flags.push_back(absl::StrCat("--", f->name()));
      }
      std::string pattern = c.spec.name;
      if (absl::StrContains(pattern, ' ')) {
        // "key create": the third word.
        const std::string first = pattern.substr(0, pattern.find(' '));
        const std::string second = pattern.substr(pattern.find(' ') + 1);
        out << "          " << first << ")\n"
            << "            if [[ ${words[2]} == " << second
            << " ]]; then opts=\"" << absl::StrJoin(flags, " ")
            << " $globals\"; elif ((${#words[@]} == 2)); then opts=\"";
        std::vector<std::string> seconds;
        for (const Command& k : Commands()) {
          if (k.spec.group == group &&
              absl::StartsWith(k.spec.name, first + " ")) {
            seconds.push_back(k.spec.name.substr(first.size() + 1));
          }
        }
        out << absl::StrJoin(seconds, " ") << "\"; fi ;;\n";
        continue;
      }
      if (pattern.empty()) {
        out << "          *) opts=\"" << absl::StrJoin(flags, " ")
            << " $globals\" ;;\n";
        continue;
      }
      out << "          " << pattern << ") opts=\"" << absl::StrJoin(flags, " ")
          << " $globals\" ;;\n";
    }
    bool has_default = false;
    for (const Command& c : Commands()) {
      has_default |= c.spec.group == group && c.spec.name.empty();
    }
    if (!has_default) {
      out << "          *) ((${#words[@]} == 1)) && opts=\""
          << absl::StrJoin(subcommands[group], " ") << "\" ;;\n";
    }
    out << "        esac ;;\n";
  }
  out << "    esac\n"
         "    # Flags when the word starts with '-'; subcommands otherwise.\n"
         "    if [[ $cur != -* && $opts == --* ]]; then opts=\"\"; fi\n"
         "  fi\n"
         "  COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
         "}\n"
         "complete -F _duijie duijie\n";
}

// Prints help for "GROUP" or "GROUP NAME"; false if nothing matches.
bool PrintHelpFor(const std::string& group, const std::string& name,
                  std::ostream& out) {
  bool found = false;
  for (const Command& c : Commands()) {
    if (c.spec.group != group) continue;
    if (!name.empty() && c.spec.name != name) continue;
    if (found) out << "\n";
    PrintCommandHelp(c.spec, out);
    found = true;
  }
  if (found) out << "\n" << kGlobalHelp;
  return found;
}

// `duijie --version`: the CLI's version, then the server's when it answers
// (GetServerInfo; any key, or none on a server without authentication).
// `key_error` is why the key could not be read, when it could not. Exit 0
// either way: the CLI's version is known.
int PrintVersions(const Global& global, const std::string& key_error) {
  std::cout << "duijie " << kVersion << " (API duijie.v1)\n";
  if (!key_error.empty()) {
    std::cout << "server version: not asked (" << key_error << ")\n";
    return kExitOk;
  }
  std::string channel_error;
  std::shared_ptr<grpc::Channel> channel =
      OpenChannel(global.server, global.tls, &channel_error);
  if (channel == nullptr) {
    std::cout << "server version: not asked (" << channel_error << ")\n";
    return kExitOk;
  }
  Client client(global, std::move(channel));
  grpc::ClientContext context;
  client.Prepare(&context);
  pb::ServerInfo info;
  const grpc::Status status =
      client.stub()->GetServerInfo(&context, pb::GetServerInfoRequest(), &info);
  if (!status.ok()) {
    std::cout << "server version: unknown (" << global.server << ": "
              << CodeName(status.error_code()) << ": "
              << Printable(status.error_message()) << ")\n";
    return kExitOk;
  }
  std::cout << "duijie-server " << Printable(info.version()) << " at "
            << global.server << " (" << Printable(info.build()) << "; gRPC "
            << Printable(info.grpc_version()) << ")\n";
  return kExitOk;
}

int Usage(const std::string& message, const std::string& help_topic) {
  std::cerr << "error: " << message << "\n"
            << "run 'duijie " << (help_topic.empty() ? "" : help_topic + " ")
            << "--help' for usage\n";
  return kExitUsage;
}

int Main(int argc, char** argv) {
  // gRPC's own log lines (a failed TLS handshake) would print before the
  // CLI's explanation of the same failure, which the status carries; a
  // GRPC_VERBOSITY the user sets still wins.
  setenv("GRPC_VERBOSITY", "NONE", /*overwrite=*/0);
  Global global;
  // Pull the global flags out from anywhere on the line.
  std::vector<std::string> words;
  std::string key_file, context_name, output, server;
  bool help = false, utc = false, version = false, json = false;
  for (int i = 1; i < argc; ++i) {
    std::string w = argv[i];
    auto value_of = [&](const std::string& flag, std::string* out) {
      if (w == flag) {
        if (i + 1 >= argc) return false;
        *out = argv[++i];
        return true;
      }
      if (absl::StartsWith(w, flag + "=")) {
        *out = w.substr(flag.size() + 1);
        return true;
      }
      return false;
    };
    std::string v;
    if (w == "--json") {
      json = true;
    } else if (w == "--utc") {
      utc = true;
    } else if (w == "--version") {
      version = true;
    } else if (w == "--help" || w == "-h") {
      help = true;
    } else if (w == "-o" || w == "--output" ||
               absl::StartsWith(w, "--output=") ||
               (absl::StartsWith(w, "-o") && !absl::StartsWith(w, "--"))) {
      if (w == "-o" || w == "--output" || absl::StartsWith(w, "--output=")) {
        if (!value_of(absl::StartsWith(w, "--") ? "--output" : "-o", &v)) {
          return Usage("-o needs table, json or csv", "");
        }
      } else {
        v = w.substr(absl::StartsWith(w, "-o=") ? 3 : 2);
      }
      if (v != "table" && v != "json" && v != "csv") {
        return Usage(absl::StrCat("-o: '", v, "' is not table, json or csv"),
                     "");
      }
      output = v;
    } else if (w == "--context" || absl::StartsWith(w, "--context=")) {
      if (!value_of("--context", &v) || v.empty()) {
        return Usage("--context needs the NAME of a [context.NAME] table", "");
      }
      context_name = v;
    } else if (w == "--server" || absl::StartsWith(w, "--server=")) {
      if (!value_of("--server", &v) || v.empty()) {
        return Usage("--server needs HOST:PORT", "");
      }
      server = v;
    } else if (w == "--key_file" || w == "--key-file" ||
               absl::StartsWith(w, "--key_file=") ||
               absl::StartsWith(w, "--key-file=")) {
      if (!value_of(
              absl::StartsWith(w, "--key_file") ? "--key_file" : "--key-file",
              &v) ||
          v.empty()) {
        return Usage("--key_file needs a FILE", "");
      }
      key_file = v;
    } else if (w == "--tls_ca" || absl::StartsWith(w, "--tls_ca=")) {
      if (!value_of("--tls_ca", &v) || v.empty()) {
        return Usage("--tls_ca needs a PEM file", "");
      }
      global.tls.ca = v;
    } else if (w == "--tls_cert" || absl::StartsWith(w, "--tls_cert=")) {
      if (!value_of("--tls_cert", &v) || v.empty()) {
        return Usage("--tls_cert needs a PEM file", "");
      }
      global.tls.cert = v;
    } else if (w == "--tls_key" || absl::StartsWith(w, "--tls_key=")) {
      if (!value_of("--tls_key", &v) || v.empty()) {
        return Usage("--tls_key needs a PEM file", "");
      }
      global.tls.key = v;
    } else if (w == "--timeout" || absl::StartsWith(w, "--timeout=")) {
      absl::Duration d;
      if (!value_of("--timeout", &v) || !ParseDurationWithDays(v, &d) ||
          d <= absl::ZeroDuration()) {
        return Usage("--timeout needs a positive duration like 5s", "");
      }
      global.timeout = d;
    } else {
      words.push_back(w);
    }
  }
  SetDisplayZone(ResolveDisplayZone(utc, std::getenv("TZ")));
  if (!CurrentDisplayZone().unknown_tz.empty()) {
    std::cerr << "warning: TZ=" << Printable(CurrentDisplayZone().unknown_tz)
              << " is not a time zone known here; times are in UTC (unset "
                 "TZ for Asia/Shanghai)\n";
  }

  // The config file: the --context named, or its current_context.
  Config config;
  const std::string config_path = ConfigPath();
  if (!config_path.empty()) {
    std::ifstream in(config_path);
    if (in) {
      std::ostringstream text;
      text << in.rdbuf();
      if (std::string error; !ParseConfig(text.str(), &config, &error)) {
        return Usage(absl::StrCat(config_path, ": ", error), "");
      }
    }
  }
  const Context* named = nullptr;    // by --context: above the environment
  const Context* current = nullptr;  // current_context: below it
  if (!context_name.empty()) {
    auto it = config.contexts.find(context_name);
    if (it == config.contexts.end()) {
      std::vector<std::string> names;
      for (const auto& [name, unused] : config.contexts) names.push_back(name);
      return Usage(
          absl::StrCat(
              "--context ", context_name, ": no [context.", context_name,
              "] in ", config_path.empty() ? "the config file" : config_path,
              names.empty() ? std::string()
                            : absl::StrCat(" (it has: ",
                                           absl::StrJoin(names, ", "), ")")),
          "");
    }
    named = &it->second;
  } else if (!config.current_context.empty()) {
    current = &config.contexts.at(config.current_context);
  }
  const char* env_server = std::getenv("DUIJIE_SERVER");
  if (!server.empty()) {
    global.server = server;
  } else if (named != nullptr && !named->server.empty()) {
    global.server = named->server;
  } else if (env_server != nullptr && *env_server != '\0') {
    global.server = env_server;
  } else if (current != nullptr && !current->server.empty()) {
    global.server = current->server;
  }
  const std::string config_output = named != nullptr     ? named->output
                                    : current != nullptr ? current->output
                                                         : std::string();
  const std::string chosen = !output.empty() ? output
                             : json          ? "json"
                                             : config_output;
  global.output = chosen == "json"  ? Output::kJson
                  : chosen == "csv" ? Output::kCsv
                                    : Output::kTable;
  std::string error;
  bool key_ok = true;
  if (!key_file.empty()) {
    key_ok = FindKey(key_file, "--key_file", "", "", &global.key,
                     &global.key_source, &error);
  } else if (named != nullptr && !named->key_file.empty()) {
    key_ok = FindKey(ExpandHome(named->key_file),
                     absl::StrCat("key_file of context ", context_name), "", "",
                     &global.key, &global.key_source, &error);
  } else {
    key_ok = FindKey(
        "", "",
        current != nullptr ? ExpandHome(current->key_file) : std::string(),
        absl::StrCat("key_file of context ", config.current_context),
        &global.key, &global.key_source, &error);
  }
  if (version) return PrintVersions(global, key_ok ? "" : error);
  if (!key_ok) return Usage(error, "");

  // "admin key create" and its kin are three words: fold the last two.
  if (words.size() > 2 && words[0] == "admin" && words[1] == "key") {
    words[1] = "key " + words[2];
    words.erase(words.begin() + 2);
  }
  if (words.empty()) {
    if (help) {
      PrintMainHelp(std::cout);
      return kExitOk;
    }
    PrintMainHelp(std::cerr);
    return kExitUsage;
  }
  const std::string& group = words[0];
  if (absl::StartsWith(group, "-")) {
    // Before the command only global flags are known.
    std::string name = group.substr(group.find_first_not_of('-'));
    name = name.substr(0, name.find('='));
    const std::string nearest = NearestWord(name, GlobalFlagNames());
    return Usage(
        absl::StrCat("unknown flag '", group, "'",
                     nearest.empty()
                         ? std::string()
                         : absl::StrCat("; did you mean --", nearest, "?")),
        "");
  }
  if (group == "help") {
    if (words.size() == 1) {
      PrintMainHelp(std::cout);
      return kExitOk;
    }
    if (!PrintHelpFor(words[1], words.size() > 2 ? words[2] : "", std::cout)) {
      std::vector<std::string> groups;
      for (const Command& c : Commands()) groups.push_back(c.spec.group);
      return Usage(
          absl::StrCat("no command '",
                       absl::StrJoin(words.begin() + 1, words.end(), " "), "'",
                       Suggest(words[1], groups)),
          "");
    }
    return kExitOk;
  }
  if (group == "completion") {
    if (words.size() == 2 && words[1] == "bash") {
      PrintBashCompletion(std::cout);
      return kExitOk;
    }
    return Usage("usage: duijie completion bash", "");
  }
  bool group_known = false;
  std::vector<std::string> groups = {"help", "completion"};
  for (const Command& c : Commands()) {
    group_known |= c.spec.group == group;
    groups.push_back(c.spec.group);
  }
  if (!group_known) {
    const std::string nearest = NearestWord(group, groups);
    return Usage(absl::StrCat("unknown command '", group, "'",
                              nearest.empty() ? std::string()
                                              : absl::StrCat("; did you mean '",
                                                             nearest, "'?")),
                 "");
  }

  // Find the subcommand: "book" has none, the others need one.
  const Command* command = nullptr;
  size_t first_arg = 1;
  for (const Command& c : Commands()) {
    if (c.spec.group != group) continue;
    if (c.spec.name.empty()) {
      command = &c;
      break;
    }
    if (words.size() > 1 && c.spec.name == words[1]) {
      command = &c;
      first_arg = 2;
      break;
    }
  }
  if (command == nullptr) {
    if (help) {
      PrintHelpFor(group, "", std::cout);
      return kExitOk;
    }
    std::vector<std::string> names;
    for (const Command& c : Commands()) {
      if (c.spec.group == group) names.push_back(c.spec.name);
    }
    std::string choices =
        absl::StrCat("expected one of: ", absl::StrJoin(names, ", "));
    if (words.size() == 1) {
      return Usage(absl::StrCat("'", group, "' needs a subcommand; ", choices),
                   group);
    }
    std::string nearest = NearestWord(words[1], names);
    if (!nearest.empty()) nearest = absl::StrCat(group, " ", nearest);
    // "match list" for "matches list": the subcommand of a group whose
    // name is near this one.
    for (const Command& c : Commands()) {
      if (!nearest.empty()) break;
      if (c.spec.name == words[1] && c.spec.group != group &&
          NearestWord(group, {c.spec.group}) == c.spec.group) {
        nearest = absl::StrCat(c.spec.group, " ", c.spec.name);
      }
    }
    return Usage(absl::StrCat("unknown command '", group, " ", words[1], "'; ",
                              nearest.empty() ? choices
                                              : absl::StrCat("did you mean '",
                                                             nearest, "'?")),
                 group);
  }
  if (help) {
    PrintHelpFor(command->spec.group, command->spec.name, std::cout);
    return kExitOk;
  }

  std::vector<std::string> rest(words.begin() + first_arg, words.end());
  std::optional<Args> args = ParseArgs(command->spec, rest, &error);
  std::string topic = CommandName(command->spec);
  if (!args.has_value()) return Usage(error, topic);
  args->SetClock(CurrentDisplayZone().zone, absl::Now());
  std::string channel_error;
  std::shared_ptr<grpc::Channel> channel =
      OpenChannel(global.server, global.tls, &channel_error);
  if (channel == nullptr) return Usage(channel_error, "");
  Client client(global, std::move(channel));
  client.set_args(&*args);
  int rc = command->handler(client, *args);
  if (rc < 0) return Usage(args->error(), topic);
  return rc;
}

}  // namespace
}  // namespace duijie::cli

int main(int argc, char** argv) { return duijie::cli::Main(argc, argv); }
