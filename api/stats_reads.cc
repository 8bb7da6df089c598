// GetStats of ExchangeService (monitoring.proto): figures of matches.
#include "api/exchange_service.h"

namespace duijie {

grpc::ServerUnaryReactor* ExchangeService::GetStats(
    grpc::CallbackServerContext* context, const v1::GetStatsRequest*,
    v1::GetStatsResponse*) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(
      grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "not built yet"));
  return reactor;
}

}  // namespace duijie
