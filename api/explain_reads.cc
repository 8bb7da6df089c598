// The explanation RPCs of ExchangeService (monitoring.proto): what keeps a
// pledge or an offer from matching.
#include "api/exchange_service.h"

namespace duijie {

grpc::ServerUnaryReactor* ExchangeService::ExplainPledge(
    grpc::CallbackServerContext* context, const v1::ExplainPledgeRequest*,
    v1::Explanation*) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(
      grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "not built yet"));
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::ExplainOffer(
    grpc::CallbackServerContext* context, const v1::ExplainOfferRequest*,
    v1::Explanation*) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(
      grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "not built yet"));
  return reactor;
}

}  // namespace duijie
