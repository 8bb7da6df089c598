// DuijieServer: see server.h.
#include "api/server.h"

#include <sys/resource.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <utility>

#include "absl/memory/memory.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "api/accept_guard.h"
#include "api/demo_data.h"
#include "api/error_detail.h"
#include "api/reflection_v1.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace duijie {
namespace {

// Splits "host:port" (host may be "[v6]"); INVALID_ARGUMENT if malformed.
absl::StatusOr<std::pair<std::string, int>> SplitHostPort(
    const std::string& listen) {
  size_t colon = listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "listen: want host:port (e.g. 127.0.0.1:50051), got \"", listen, "\""));
  }
  return std::make_pair(listen.substr(0, colon), port);
}

// The descriptor number from which accepted connections are shed: the
// soft RLIMIT_NOFILE less `reserve` (a quarter of the limit when that is
// less).
int DescriptorCap(int reserve) {
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 ||
      limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > INT_MAX) {
    return INT_MAX;
  }
  const int soft = static_cast<int>(limit.rlim_cur);
  return soft - std::min(std::max(reserve, 0), soft / 4);
}

}  // namespace

absl::StatusOr<std::unique_ptr<DuijieServer>> DuijieServer::Start(
    const ServerOptions& options) {
  absl::StatusOr<std::pair<std::string, int>> host_port =
      SplitHostPort(options.listen);
  if (!host_port.ok()) return host_port.status();
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      MakeServerCredentials(options.tls);
  if (!credentials.ok()) return credentials.status();

  auto server = absl::WrapUnique(new DuijieServer());
  ExchangeServiceOptions service_options;
  service_options.clock = options.clock;
  service_options.clear_when_idle = true;
  service_options.follow_alerts = options.follow_alerts;
  if (!options.durability.dir.empty()) {
    absl::StatusOr<std::unique_ptr<DurableStore>> store =
        DurableStore::Open(options.durability);
    if (!store.ok()) return store.status();
    server->store_ = *std::move(store);
    server->engine_ = server->store_->engine();
    service_options.journal = server->store_.get();
    // A caller applying its own command would wait out its fsync holding
    // the applier role while the next group waits (measured slower).
    service_options.apply_on_caller = !options.durability.fsync;
  } else {
    server->memory_engine_ =
        std::make_unique<Engine>(options.durability.engine_options);
    server->engine_ = server->memory_engine_.get();
  }
  AuthOptions auth_options = options.auth;
  auth_options.clock = options.clock;
  server->auth_ = std::make_unique<Authenticator>(std::move(auth_options));
  server->auth_->LoadKeys(*server->engine_);
  // The default clearing interval and alert thresholds as recovered, read
  // before the service starts its writer thread: from then on only the
  // writer touches the engine outside a sequencer Reader (a due clearing
  // is applied as soon as it starts).
  Micros current_interval = 0;
  for (const ClearingPolicyResult& p : server->engine_->ClearingPolicies()) {
    if (p.product_prefix.empty()) current_interval = p.interval;
  }
  std::optional<AlertThresholds> current_thresholds;
  for (const AlertThresholds& t : server->engine_->ListAlertThresholds()) {
    if (t.category.empty()) current_thresholds = t;
  }
  server->service_ = std::make_unique<ExchangeService>(
      server->engine_, service_options, server->auth_.get());
  server->service_->set_limits(options.limits);
  if (options.clearing_interval.has_value()) {
    // Before the server listens: no request matches under the old policy.
    const Micros interval =
        absl::ToInt64Microseconds(*options.clearing_interval);
    if (interval != current_interval) {
      std::vector<CommandOutcome> set = server->service_->Execute(
          {MakeCommand(SetClearingPolicyCommand{"", interval})});
      if (!set[0].ok()) return set[0].status();
    }
  }
  {
    // As the clearing interval: before the server listens, journaled only
    // when it changes the state. A state without default thresholds (a new
    // data directory, or one from before alerts) gets them from the flags,
    // given or not, so that alerts are on; otherwise only the flags given
    // change the state's.
    const std::optional<AlertThresholds>& current = current_thresholds;
    AlertThresholds wanted = current.value_or(AlertThresholds());
    if (options.alert_horizon) {
      wanted.horizon = absl::ToInt64Microseconds(*options.alert_horizon);
    }
    if (options.alert_min_gap_kg) wanted.min_gap_kg = *options.alert_min_gap_kg;
    if (options.alert_min_ratio_permille) {
      wanted.min_ratio_permille = *options.alert_min_ratio_permille;
    }
    if (options.alert_clear_permille) {
      wanted.clear_permille = *options.alert_clear_permille;
    }
    if (!current.has_value() || !(wanted == *current)) {
      std::vector<CommandOutcome> set = server->service_->Execute(
          {MakeCommand(SetAlertThresholdsCommand{wanted})});
      if (!set[0].ok()) return set[0].status();
    }
  }
  server->admin_ = std::make_unique<AdminService>(
      server->service_.get(), server->engine_, server->store_.get());
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // grpc.reflection.v1 next to the library's v1alpha.
  builder.SetOption(MakeReflectionV1Option());
  // gRPC sets SO_REUSEPORT by default, which would let a second server
  // share a busy port silently; a busy port must be an error.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(options.limits.max_message_bytes);
  builder.SetMaxSendMessageSize(options.limits.max_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             options.limits.max_concurrent_streams);
  if (options.limits.max_connection_idle_ms > 0) {
    builder.AddChannelArgument(
        GRPC_ARG_MAX_CONNECTION_IDLE_MS,
        static_cast<int>(
            std::min<int64_t>(options.limits.max_connection_idle_ms, INT_MAX)));
  }
  builder.AddChannelArgument(
      GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
      static_cast<int>(
          std::min<int64_t>(options.limits.handshake_timeout_ms, INT_MAX)));
  SetAcceptDescriptorCap(DescriptorCap(options.limits.fd_reserve));
  grpc::ResourceQuota quota("duijie-server");
  quota.Resize(static_cast<size_t>(options.limits.max_memory_bytes));
  builder.SetResourceQuota(quota);
  builder.AddListeningPort(options.listen, *credentials, &server->port_);
  // Every refusal of a duijie.v1 call carries its ErrorDetail.
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(MakeErrorDetailInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  builder.RegisterService(server->service_.get());
  builder.RegisterService(server->admin_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    server->server_.reset();
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", options.listen,
        ": the address is in use or not available on this machine",
        options.tls.enabled()
            ? ", or the TLS certificate and key are not a valid pair"
            : ""));
  }
  server->address_ = absl::StrCat(host_port->first, ":", server->port_);
  // Health answers for the server ("") and for each of its services by
  // full name; SetServingStatus(bool) below moves them all together.
  if (grpc::HealthCheckServiceInterface* health =
          server->server_->GetHealthCheckService()) {
    health->SetServingStatus(v1::Exchange::service_full_name(), true);
    health->SetServingStatus(v1::Admin::service_full_name(), true);
  }
  // A durable server loads the demo data only into a fresh directory: once
  // loaded it is in the journal, and loading it again would move it on.
  const bool fresh =
      server->store_ == nullptr || server->store_->report().fresh;
  if (options.demo && fresh) {
    // Report NOT_SERVING until the demo data is in.
    grpc::HealthCheckServiceInterface* health =
        server->server_->GetHealthCheckService();
    if (health != nullptr) health->SetServingStatus(false);
    absl::StatusOr<DemoSummary> demo =
        LoadDemoData(server->service_.get(), options.clock());
    if (!demo.ok()) return demo.status();
    server->demo_summary_ = *demo;
    if (health != nullptr) health->SetServingStatus(true);
  }
  return server;
}

DuijieServer::~DuijieServer() { Shutdown(); }

void DuijieServer::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  if (server_ != nullptr) {
    if (grpc::HealthCheckServiceInterface* health =
            server_->GetHealthCheckService()) {
      health->Shutdown();
    }
  }
  if (service_ != nullptr) service_->BeginShutdown();
  if (server_ != nullptr) {
    server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
    server_->Wait();
  }
  if (service_ != nullptr) service_->Stop();
  if (store_ != nullptr) {
    absl::Status closed = store_->Close();
    if (!closed.ok()) {
      std::fprintf(stderr, "duijie-server: final snapshot: %s\n",
                   closed.ToString().c_str());
    }
  }
}

}  // namespace duijie
