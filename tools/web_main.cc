// duijie-web: the office dashboard. A small HTTP server that is a client of
// duijie-server's public gRPC API like any other (the CLI's channel, TLS and
// API key), and serves a page showing the book, the glut alerts, the kg
// moved per day and per pairing, and the latest matches live.
//
//   duijie-web [--server HOST:PORT] [--listen 127.0.0.1:8080]
//              [--key_file FILE] [--context NAME]
//              [--tls_ca FILE [--tls_cert FILE --tls_key FILE]]
//              [--chartjs FILE]
//
// The JSON endpoints are the protobuf replies as they come (all pages of a
// listing joined), printed as `duijie -o json` prints them, so the page shows
// exactly what the API says:
//   /api/book            GetBook
//   /api/alerts          ListAlerts (open alerts, worst first)
//   /api/stats?by=day    GetStats grouped by one dimension (day, pairing, ...);
//                        &days=N: the last N days only
//   /api/regions         ListRegions (the names shown for codes)
//   /api/products        ListProducts (the names shown for product codes)
//   /api/matches/stream  WatchMatches as Server-Sent Events: the last
//                        matches of the history (?last=N, default 50), then
//                        each new event as it happens
// A failed call answers 502 with {"code": "...", "message": "..."}.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <deque>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "duijie/v1/exchange.grpc.pb.h"
#include "duijie/v1/exchange.pb.h"
#include "duijie/v1/monitoring.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "httplib.h"
#include "tools/cli_channel.h"
#include "tools/cli_config.h"
#include "tools/cli_format.h"
#include "tools/web_assets.h"

namespace duijie::web {
namespace {

using duijie::cli::StatusCodeName;
using duijie::cli::TlsFlags;
using duijie::v1::Exchange;

constexpr char kDefaultServer[] = "127.0.0.1:50051";
constexpr char kDefaultListen[] = "127.0.0.1:8080";
// Debian's libjs-chart.js: the page needs no network beyond this server.
constexpr char kDefaultChartJs[] =
    "/usr/share/javascript/chart.js/chart.min.js";
// How long a unary call may take before the page is told the server is slow.
constexpr absl::Duration kCallTimeout = absl::Seconds(10);
// Pages of a listing joined into one reply: enough for every product, alert
// and region of a national deployment, and a bound on a runaway loop.
constexpr int kMaxPages = 100;

struct Options {
  std::string server;
  std::string listen = kDefaultListen;
  std::string key;         // the API key's secret; empty: calls go without
  std::string key_source;  // where it came from, for the start-up line
  TlsFlags tls;
  std::string chartjs = kDefaultChartJs;
};

constexpr char kUsage[] =
    R"(Usage: duijie-web [--server HOST:PORT] [--listen HOST:PORT] [flags]

Serves the office dashboard of a duijie-server: open supply and demand per
product, the glut alerts, kg moved per day and per pairing, and the latest
matches live. Open http://HOST:PORT/ in a browser.

  --server HOST:PORT   the duijie-server to read (else as the CLI: --context,
                       $DUIJIE_SERVER, the config's current_context,
                       127.0.0.1:50051)
  --listen HOST:PORT   where the dashboard listens (default 127.0.0.1:8080;
                       port 0 picks a free one, printed at start)
  --key_file FILE      the API key to send (else as the CLI: --context's
                       key_file, $DUIJIE_KEY, the current_context's key_file,
                       ${XDG_CONFIG_HOME:-~/.config}/duijie/key). Any key will
                       do; an OBSERVER key is enough.
  --context NAME       the server and key_file of [context.NAME] in the CLI's
                       config.toml
  --tls_ca FILE        talk TLS to the server, which must chain to this CA
  --tls_cert FILE      with --tls_key: a client certificate (mutual TLS)
  --tls_key FILE
  --chartjs FILE       Chart.js to serve to the page (default Debian's
                       libjs-chart.js, )"
    "/usr/share/javascript/chart.js/chart.min.js"
    R"();
                       without it the page shows its tables only
)";

int Usage(const std::string& message) {
  std::cerr << "duijie-web: " << message << "\n"
            << "Try 'duijie-web --help'.\n";
  return 2;
}

bool ReadWholeFile(const std::string& path, std::string* bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream out;
  out << in.rdbuf();
  *bytes = out.str();
  return true;
}

// Server and key by the CLI's precedence (see `duijie help`): flags, then
// the --context named, then $DUIJIE_SERVER / $DUIJIE_KEY, then the config's
// current_context, then the defaults. False with *error when a key file
// named by a flag or the config cannot be read, or the context is unknown.
bool ResolveServerAndKey(const std::string& server_flag,
                         const std::string& key_file_flag,
                         const std::string& context_name, Options* options,
                         std::string* error) {
  cli::Config config;
  const std::string config_path = cli::ConfigPath();
  if (!config_path.empty()) {
    std::string text;
    if (ReadWholeFile(config_path, &text) &&
        !cli::ParseConfig(text, &config, error)) {
      *error = absl::StrCat(config_path, ": ", *error);
      return false;
    }
  }
  const cli::Context* named = nullptr;
  const cli::Context* current = nullptr;
  if (!context_name.empty()) {
    auto it = config.contexts.find(context_name);
    if (it == config.contexts.end()) {
      *error = absl::StrCat("--context ", context_name, ": no [context.",
                            context_name, "] in the config file");
      return false;
    }
    named = &it->second;
  } else if (!config.current_context.empty()) {
    current = &config.contexts.at(config.current_context);
  }
  const char* env_server = std::getenv("DUIJIE_SERVER");
  if (!server_flag.empty()) {
    options->server = server_flag;
  } else if (named != nullptr && !named->server.empty()) {
    options->server = named->server;
  } else if (env_server != nullptr && *env_server != '\0') {
    options->server = env_server;
  } else if (current != nullptr && !current->server.empty()) {
    options->server = current->server;
  } else {
    options->server = kDefaultServer;
  }

  if (!key_file_flag.empty()) {
    return cli::FindKey(key_file_flag, "--key_file", "", "", &options->key,
                        &options->key_source, error);
  }
  if (named != nullptr && !named->key_file.empty()) {
    return cli::FindKey(cli::ExpandHome(named->key_file),
                        absl::StrCat("key_file of context ", context_name), "",
                        "", &options->key, &options->key_source, error);
  }
  return cli::FindKey(
      "", "",
      current != nullptr ? cli::ExpandHome(current->key_file) : std::string(),
      absl::StrCat("key_file of context ", config.current_context),
      &options->key, &options->key_source, error);
}

// Printed as the CLI's -o json prints: every field, proto names.
std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options)
           .ok()) {
    return "{}";
  }
  return json;
}

// {"code": "UNAVAILABLE", "message": "..."}: why a call failed, for the page.
std::string StatusJson(const grpc::Status& status) {
  google::protobuf::Struct body;
  (*body.mutable_fields())["code"].set_string_value(
      StatusCodeName(static_cast<int>(status.error_code())));
  (*body.mutable_fields())["message"].set_string_value(status.error_message());
  return ToJson(body);
}

// The gRPC streams in flight, so that a stop cancels them instead of
// waiting for their next event.
class OpenStreams {
 public:
  void Add(grpc::ClientContext* context) {
    absl::MutexLock lock(&mu_);
    if (stopping_) context->TryCancel();
    contexts_.insert(context);
  }
  void Remove(grpc::ClientContext* context) {
    absl::MutexLock lock(&mu_);
    contexts_.erase(context);
  }
  void CancelAll() {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (grpc::ClientContext* context : contexts_) context->TryCancel();
  }

 private:
  absl::Mutex mu_;
  std::set<grpc::ClientContext*> contexts_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

class Dashboard {
 public:
  Dashboard(Options options, std::shared_ptr<grpc::Channel> channel)
      : options_(std::move(options)), stub_(Exchange::NewStub(channel)) {}

  void Route(httplib::Server* http) {
    http->Get("/", [](const httplib::Request&, httplib::Response& res) {
      ServeAsset("index.html", "text/html; charset=utf-8", &res);
    });
    http->Get("/app.js", [](const httplib::Request&, httplib::Response& res) {
      ServeAsset("app.js", "text/javascript; charset=utf-8", &res);
    });
    http->Get("/chart.js",
              [this](const httplib::Request&, httplib::Response& res) {
                if (chartjs_.empty()) {
                  res.status = 404;
                  res.set_content("Chart.js is not installed here\n",
                                  "text/plain; charset=utf-8");
                  return;
                }
                res.set_header("Cache-Control", "max-age=3600");
                res.set_content(chartjs_, "text/javascript; charset=utf-8");
              });
    http->Get("/api/book", [this](const httplib::Request&,
                                  httplib::Response& res) { Book(&res); });
    http->Get("/api/alerts", [this](const httplib::Request&,
                                    httplib::Response& res) { Alerts(&res); });
    http->Get("/api/regions",
              [this](const httplib::Request&, httplib::Response& res) {
                Regions(&res);
              });
    http->Get("/api/products",
              [this](const httplib::Request&, httplib::Response& res) {
                Products(&res);
              });
    http->Get("/api/stats",
              [this](const httplib::Request& req, httplib::Response& res) {
                Stats(req, &res);
              });
    http->Get("/api/matches/stream",
              [this](const httplib::Request& req, httplib::Response& res) {
                MatchStream(req, &res);
              });
  }

  // Chart.js's bytes, or a warning when they cannot be read.
  void LoadChartJs() {
    if (!ReadWholeFile(options_.chartjs, &chartjs_)) {
      std::cerr << "duijie-web: warning: cannot read Chart.js from "
                << options_.chartjs
                << " (install libjs-chart.js or pass --chartjs FILE): the "
                   "page shows its tables without charts\n";
      chartjs_.clear();
    }
  }

  void Stop() { streams_.CancelAll(); }

 private:
  static void ServeAsset(const std::string& name, const char* type,
                         httplib::Response* res) {
    const std::string_view* bytes = FindWebAsset(name);
    if (bytes == nullptr) {
      res->status = 404;
      return;
    }
    // The page and its script come with the binary: a new build serves new
    // ones, so the browser asks again each time.
    res->set_header("Cache-Control", "no-cache");
    res->set_content(bytes->data(), bytes->size(), type);
  }

  void Prepare(grpc::ClientContext* context, bool unary) const {
    if (unary) {
      context->set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
    }
    if (!options_.key.empty()) {
      context->AddMetadata("authorization", "Bearer " + options_.key);
    }
  }

  static void Reply(const grpc::Status& status,
                    const google::protobuf::Message& message,
                    httplib::Response* res) {
    res->set_header("Cache-Control", "no-store");
    if (!status.ok()) {
      res->status = 502;
      res->set_content(StatusJson(status), "application/json; charset=utf-8");
      return;
    }
    res->set_content(ToJson(message), "application/json; charset=utf-8");
  }

  // Calls `call(context, request, page)` page after page, appending each
  // page's `repeated` to the first; the joined reply has no page token.
  template <typename Request, typename Response, typename Call, typename Append>
  grpc::Status AllPages(Request request, Response* all, Call call,
                        Append append) {
    for (int i = 0; i < kMaxPages; ++i) {
      grpc::ClientContext context;
      Prepare(&context, /*unary=*/true);
      Response page;
      grpc::Status status = call(&context, request, &page);
      if (!status.ok()) return status;
      if (i == 0) {
        *all = page;
      } else {
        append(page, all);
      }
      if (page.next_page_token().empty()) break;
      request.set_page_token(page.next_page_token());
    }
    all->clear_next_page_token();
    return grpc::Status::OK;
  }

  void Book(httplib::Response* res) {
    v1::GetBookRequest request;
    request.set_page_size(1000);
    v1::GetBookResponse all;
    grpc::Status status = AllPages(
        request, &all,
        [this](grpc::ClientContext* c, const v1::GetBookRequest& r,
               v1::GetBookResponse* p) { return stub_->GetBook(c, r, p); },
        [](const v1::GetBookResponse& page, v1::GetBookResponse* into) {
          into->mutable_lines()->MergeFrom(page.lines());
        });
    Reply(status, all, res);
  }

  void Alerts(httplib::Response* res) {
    v1::ListAlertsRequest request;
    request.set_page_size(1000);
    v1::ListAlertsResponse all;
    grpc::Status status = AllPages(
        request, &all,
        [this](grpc::ClientContext* c, const v1::ListAlertsRequest& r,
               v1::ListAlertsResponse* p) {
          return stub_->ListAlerts(c, r, p);
        },
        [](const v1::ListAlertsResponse& page, v1::ListAlertsResponse* into) {
          into->mutable_alerts()->MergeFrom(page.alerts());
        });
    Reply(status, all, res);
  }

  void Regions(httplib::Response* res) {
    v1::ListRegionsRequest request;
    request.set_page_size(1000);
    v1::ListRegionsResponse all;
    grpc::Status status = AllPages(
        request, &all,
        [this](grpc::ClientContext* c, const v1::ListRegionsRequest& r,
               v1::ListRegionsResponse* p) {
          return stub_->ListRegions(c, r, p);
        },
        [](const v1::ListRegionsResponse& page, v1::ListRegionsResponse* into) {
          into->mutable_regions()->MergeFrom(page.regions());
        });
    Reply(status, all, res);
  }

  void Products(httplib::Response* res) {
    v1::ListProductsRequest request;
    request.set_page_size(1000);
    v1::ListProductsResponse all;
    grpc::Status status = AllPages(
        request, &all,
        [this](grpc::ClientContext* c, const v1::ListProductsRequest& r,
               v1::ListProductsResponse* p) {
          return stub_->ListProducts(c, r, p);
        },
        [](const v1::ListProductsResponse& page,
           v1::ListProductsResponse* into) {
          into->mutable_products()->MergeFrom(page.products());
        });
    Reply(status, all, res);
  }

  // ?by=day (or any Dimension's name, any case): the rows and the total.
  void Stats(const httplib::Request& req, httplib::Response* res) {
    v1::GetStatsRequest request;
    request.set_page_size(10000);
    if (req.has_param("by")) {
      v1::Dimension dimension;
      const std::string name = absl::AsciiStrToUpper(req.get_param_value("by"));
      if (!v1::Dimension_Parse(name, &dimension) ||
          dimension == v1::DIMENSION_UNSPECIFIED) {
        res->status = 400;
        google::protobuf::Struct body;
        (*body.mutable_fields())["code"].set_string_value("INVALID_ARGUMENT");
        (*body.mutable_fields())["message"].set_string_value(
            "by: not a dimension of GetStats (day, week, month, quarter, "
            "pairing, product, ...)");
        res->set_content(ToJson(body), "application/json; charset=utf-8");
        return;
      }
      request.add_group_by(dimension);
    }
    // ?days=N: the matches of the last N days, today included, days
    // counted in Asia/Shanghai (UTC+8 all year) as GetStats counts them, so
    // that the first day shown is a whole day.
    if (req.has_param("days")) {
      int days = 0;
      if (!absl::SimpleAtoi(req.get_param_value("days"), &days) || days < 1 ||
          days > 3660) {
        res->status = 400;
        google::protobuf::Struct body;
        (*body.mutable_fields())["code"].set_string_value("INVALID_ARGUMENT");
        (*body.mutable_fields())["message"].set_string_value(
            "days: a whole number of days from 1 to 3660");
        res->set_content(ToJson(body), "application/json; charset=utf-8");
        return;
      }
      const absl::TimeZone shanghai = absl::FixedTimeZone(8 * 60 * 60);
      const absl::CivilDay today = absl::ToCivilDay(absl::Now(), shanghai);
      const absl::Time from = absl::FromCivil(today - (days - 1), shanghai);
      request.mutable_from()->set_seconds(absl::ToUnixSeconds(from));
    }
    v1::GetStatsResponse all;
    grpc::Status status = AllPages(
        request, &all,
        [this](grpc::ClientContext* c, const v1::GetStatsRequest& r,
               v1::GetStatsResponse* p) { return stub_->GetStats(c, r, p); },
        [](const v1::GetStatsResponse& page, v1::GetStatsResponse* into) {
          into->mutable_rows()->MergeFrom(page.rows());
          *into->mutable_total() = page.total();
        });
    Reply(status, all, res);
  }

  // Server-Sent Events from WatchMatches. A page that opens the stream
  // gets the last `last` matches of the history, not all of it (the
  // history is read here and trimmed), then each event as the server sends
  // it. Each event carries its event_id as the SSE id, so the browser's
  // reconnect (Last-Event-ID) resumes after the last one it saw.
  void MatchStream(const httplib::Request& req, httplib::Response* res) {
    uint64_t after = 0;
    std::string resume = req.get_header_value("Last-Event-ID");
    if (resume.empty()) resume = req.get_param_value("after");
    if (!resume.empty() && !absl::SimpleAtoi(resume, &after)) after = 0;
    int last = 50;
    if (req.has_param("last") &&
        (!absl::SimpleAtoi(req.get_param_value("last"), &last) || last < 0 ||
         last > 1000)) {
      last = 50;
    }
    res->set_header("Cache-Control", "no-store");
    res->set_chunked_content_provider(
        "text/event-stream",
        [this, after, last](size_t, httplib::DataSink& sink) {
          StreamMatches(after, static_cast<size_t>(last), &sink);
          sink.done();
          return true;
        });
  }

  void StreamMatches(uint64_t after, size_t last, httplib::DataSink* sink) {
    auto send = [sink](const std::string& text) {
      return sink->is_writable() && sink->write(text.data(), text.size());
    };
    // The browser waits this long before it reconnects.
    if (!send("retry: 3000\n\n")) return;
    grpc::ClientContext context;
    Prepare(&context, /*unary=*/false);
    v1::WatchMatchesRequest request;
    request.set_after_event_id(after);
    request.set_progress_events(true);
    streams_.Add(&context);
    std::unique_ptr<grpc::ClientReader<v1::MatchEvent>> reader =
        stub_->WatchMatches(&context, request);
    auto event_text = [](const v1::MatchEvent& event) {
      return absl::StrCat("id: ", event.event_id(),
                          "\nevent: match\ndata: ", ToJson(event), "\n\n");
    };
    std::deque<v1::MatchEvent> history;  // the last `last`, until caught up
    bool live = false;
    bool open = true;
    v1::MatchEvent event;
    while (open && reader->Read(&event)) {
      switch (event.kind()) {
        case v1::CAUGHT_UP:
          for (const v1::MatchEvent& old : history) {
            if (!(open = send(event_text(old)))) break;
          }
          history.clear();
          live = true;
          open = open && send("event: caught_up\ndata: {}\n\n");
          break;
        case v1::HEARTBEAT:
          // A comment: keeps proxies from closing the stream, and finds out
          // whether the page is still there.
          open = send(": heartbeat\n\n");
          break;
        default:
          if (live) {
            open = send(event_text(event));
          } else {
            history.push_back(event);
            while (history.size() > last) history.pop_front();
          }
      }
    }
    // Cancelled only when the page went away: a stream the server ended
    // keeps its status (a refusal, a shutdown), which the page is told.
    if (!open) context.TryCancel();
    grpc::Status status = reader->Finish();
    streams_.Remove(&context);
    if (open && !status.ok() && status.error_code() != grpc::CANCELLED) {
      send(absl::StrCat("event: failure\ndata: ", StatusJson(status), "\n\n"));
    }
  }

  const Options options_;
  std::unique_ptr<Exchange::Stub> stub_;
  std::string chartjs_;
  OpenStreams streams_;
};

// Splits "HOST:PORT" ("[::1]:8080" too); false when it is not one.
bool SplitHostPort(const std::string& address, std::string* host, int* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  *host = address.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return absl::SimpleAtoi(address.substr(colon + 1), port) && *port >= 0 &&
         *port <= 65535;
}

int Main(int argc, char** argv) {
  Options options;
  std::string server_flag, key_file_flag, context_name;
  for (int i = 1; i < argc; ++i) {
    const std::string w = argv[i];
    if (w == "--help" || w == "-h") {
      std::cout << kUsage;
      return 0;
    }
    std::string name = w, value;
    bool has_value = false;
    if (const size_t eq = w.find('=');
        absl::StartsWith(w, "--") && eq != std::string::npos) {
      name = w.substr(0, eq);
      value = w.substr(eq + 1);
      has_value = true;
    }
    if (name == "--key-file") name = "--key_file";
    std::string* target = name == "--server"     ? &server_flag
                          : name == "--listen"   ? &options.listen
                          : name == "--key_file" ? &key_file_flag
                          : name == "--context"  ? &context_name
                          : name == "--tls_ca"   ? &options.tls.ca
                          : name == "--tls_cert" ? &options.tls.cert
                          : name == "--tls_key"  ? &options.tls.key
                          : name == "--chartjs"  ? &options.chartjs
                                                 : nullptr;
    if (target == nullptr) return Usage(absl::StrCat("unknown flag '", w, "'"));
    if (!has_value) {
      if (i + 1 >= argc) return Usage(absl::StrCat(name, " needs a value"));
      value = argv[++i];
    }
    if (value.empty()) return Usage(absl::StrCat(name, " needs a value"));
    *target = value;
  }
  std::string error;
  if (!ResolveServerAndKey(server_flag, key_file_flag, context_name, &options,
                           &error)) {
    return Usage(error);
  }
  std::string host;
  int port = 0;
  if (!SplitHostPort(options.listen, &host, &port)) {
    return Usage(
        absl::StrCat("--listen: '", options.listen, "' is not HOST:PORT"));
  }
  std::shared_ptr<grpc::Channel> channel =
      cli::OpenChannel(options.server, options.tls, &error);
  if (channel == nullptr) return Usage(error);

  // SIGINT and SIGTERM stop the server: blocked here (and so in every
  // thread started below) and awaited by one thread.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const std::string server = options.server;
  const std::string key_source = options.key_source;
  Dashboard dashboard(std::move(options), channel);
  dashboard.LoadChartJs();
  httplib::Server http;
  // Each open page holds a thread for its live stream: more than httplib's
  // default few, so that a room of screens does not starve the API calls.
  http.new_task_queue = [] { return new httplib::ThreadPool(64); };
  dashboard.Route(&http);
  const int bound = port == 0 ? http.bind_to_any_port(host)
                    : http.bind_to_port(host, port) ? port
                                                    : -1;
  if (bound < 0) {
    std::cerr << "duijie-web: cannot listen on " << host << ":" << port << "\n";
    return 1;
  }
  const std::string shown_host =
      host.find(':') != std::string::npos ? absl::StrCat("[", host, "]") : host;
  std::cout << "duijie-web listening on http://" << shown_host << ":" << bound
            << "/ (reading duijie-server " << server << ", key "
            << (key_source.empty() ? "none" : key_source) << ")" << std::endl;

  std::thread stopper([&] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    dashboard.Stop();
    http.stop();
  });
  const bool ok = http.listen_after_bind();
  if (!ok) {
    // listen_after_bind returns on its own only when the socket fails: wake
    // the stopper so that it can be joined.
    kill(getpid(), SIGTERM);
  }
  stopper.join();
  return 0;
}

}  // namespace
}  // namespace duijie::web

int main(int argc, char** argv) { return duijie::web::Main(argc, argv); }
