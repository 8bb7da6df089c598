// DuijieServer: the engine, the Exchange service, health checking and
// reflection, put together as one gRPC server. duijie-server wraps it in a
// process; the integration tests start it in-process on a free port.
#ifndef DUIJIE_API_SERVER_H_
#define DUIJIE_API_SERVER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/admin_service.h"
#include "api/authenticator.h"
#include "api/demo_data.h"
#include "api/durable_store.h"
#include "api/exchange_service.h"
#include "api/server_limits.h"
#include "api/tls.h"
#include "engine/engine.h"
#include "grpcpp/server.h"

namespace duijie {

struct ServerOptions {
  // host:port; port 0 picks a free port.
  std::string listen = "127.0.0.1:50051";
  // Load the demo data (demo_data.h) once bound; health reports
  // NOT_SERVING until it is in.
  bool demo = false;
  // The server's clock; tests may fix it.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // Durable when durability.dir is set: the state is recovered from that
  // directory at start, every command is journaled there before its reply,
  // and snapshots are written there (durable_store.h). Empty: in memory only.
  // The demo data is then loaded only into a fresh directory.
  // durability.engine_options apply in memory too.
  DurabilityOptions durability;
  // Keys, limits per key, and whether to authenticate at all. Default:
  // every call needs a key, and there is none until auth.admin_secret or a
  // CreateKey gives one.
  AuthOptions auth;
  // Message sizes, batch sizes, buffers, connections (server_limits.h).
  ServerLimits limits;
  // TLS or mutual TLS when set (tls.h); plaintext otherwise.
  TlsOptions tls;
  // When set: the batch clearing interval of every product without a
  // policy of its own (the policy of the empty prefix, ClearingPolicy in
  // exchange.proto), 0 being continuous matching; applied at start, before
  // the first request, through a journaled SetClearingPolicy when the state
  // holds another. Unset: the state's policies stand as they are.
  std::optional<absl::Duration> clearing_interval;
  // The default glut alert thresholds (category ""), each when set:
  // applied at start like clearing_interval, through a journaled
  // SetAlertThresholds when they differ from the state's; an unset one
  // keeps the state's value. A state without default thresholds gets
  // these, unset ones at AlertThresholds' initial values (72 h, 1,000 kg,
  // 1500 and 500 permille), so that alerts are on.
  std::optional<absl::Duration> alert_horizon;
  std::optional<int64_t> alert_min_gap_kg;
  std::optional<int64_t> alert_min_ratio_permille;
  std::optional<int64_t> alert_clear_permille;
  // Judge glut alerts on the reply thread from the writer's feed
  // (SequencerOptions::follow_alerts), beside the writer; off, the writer
  // judges them as each command applies. The alerts are the same either way.
  bool follow_alerts = true;
};

class DuijieServer {
 public:
  // Recovers the state when durable (failing with recovery's errors, e.g.
  // DATA_LOSS), builds the engine and service, starts serving, and loads the
  // demo data if asked before it returns. UNAVAILABLE when the address cannot
  // be bound (in use, or not a local address); INVALID_ARGUMENT when it is not
  // host:port; the errors of MakeServerCredentials for the TLS files.
  static absl::StatusOr<std::unique_ptr<DuijieServer>> Start(
      const ServerOptions& options);

  // Shuts down if still serving.
  ~DuijieServer();

  DuijieServer(const DuijieServer&) = delete;
  DuijieServer& operator=(const DuijieServer&) = delete;

  // The port bound (the chosen one when asked for port 0).
  int port() const { return port_; }
  // The listen address with the bound port, e.g. "127.0.0.1:50051".
  const std::string& address() const { return address_; }
  ExchangeService* service() { return service_.get(); }
  // What the demo load did, when ServerOptions::demo was set.
  const std::optional<DemoSummary>& demo_summary() const {
    return demo_summary_;
  }
  // The durable store, or null when the server runs in memory.
  DurableStore* store() { return store_.get(); }
  Engine* engine() { return engine_; }

  // Graceful shutdown: health turns NOT_SERVING, WatchMatches streams end,
  // no new calls are taken, calls in flight get up to `grace` to finish
  // (then are cancelled), and the writer answers what it holds; a durable
  // server then writes a final snapshot and closes its journal (a failure
  // is logged on stderr: the journal still holds everything). Idempotent.
  void Shutdown(absl::Duration grace = absl::Seconds(5));

 private:
  DuijieServer() = default;

  // Declared first, destroyed last: the engine (owned by store_ when
  // durable, by memory_engine_ otherwise) outlives the services.
  std::unique_ptr<DurableStore> store_;
  std::unique_ptr<Engine> memory_engine_;
  Engine* engine_ = nullptr;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<ExchangeService> service_;
  std::unique_ptr<AdminService> admin_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::string address_;
  std::optional<DemoSummary> demo_summary_;
  bool shut_down_ = false;
};

}  // namespace duijie

#endif  // DUIJIE_API_SERVER_H_
