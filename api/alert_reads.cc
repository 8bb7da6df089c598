// The glut-alert RPCs of ExchangeService (monitoring.proto).
#include "api/exchange_service.h"

namespace duijie {
namespace {

grpc::Status NotYet() {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "not built yet");
}

class NotYetWatch final : public grpc::ServerWriteReactor<v1::AlertEvent> {
 public:
  NotYetWatch() { Finish(NotYet()); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerUnaryReactor* ExchangeService::ListAlerts(
    grpc::CallbackServerContext* context, const v1::ListAlertsRequest*,
    v1::ListAlertsResponse*) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(NotYet());
  return reactor;
}

grpc::ServerWriteReactor<v1::AlertEvent>* ExchangeService::WatchAlerts(
    grpc::CallbackServerContext*, const v1::WatchAlertsRequest*) {
  return new NotYetWatch();
}

grpc::ServerUnaryReactor* ExchangeService::SetAlertThresholds(
    grpc::CallbackServerContext* context, const v1::SetAlertThresholdsRequest*,
    v1::AlertThresholds*) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(NotYet());
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::ListAlertThresholds(
    grpc::CallbackServerContext* context, const v1::ListAlertThresholdsRequest*,
    v1::ListAlertThresholdsResponse*) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(NotYet());
  return reactor;
}

}  // namespace duijie
