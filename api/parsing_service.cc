// Handlers that parse requests as Parsed<T>. See parsing_service.h.
#include "api/parsing_service.h"

#include <utility>

#include "api/convert.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/impl/codegen/server_callback_handlers.h"

namespace duijie {
namespace {

// A watch stream refused before it starts.
template <typename Event>
class RefusedWatch final : public grpc::ServerWriteReactor<Event> {
 public:
  explicit RefusedWatch(grpc::Status status) {
    this->Finish(std::move(status));
  }
  void OnDone() override { delete this; }
};

}  // namespace

template <typename Request, typename Event>
void ParsingExchangeService::Watch(
    const char* method,
    grpc::ServerWriteReactor<Event>* (v1::Exchange::CallbackService::*call)(
        grpc::CallbackServerContext*, const Request*)) {
  MarkMethodCallback(
      MethodIndex(kService, method),
      new grpc::internal::CallbackServerStreamingHandler<Parsed<Request>,
                                                         Event>(
          [this, call](grpc::CallbackServerContext* context,
                       const Parsed<Request>* request)
              -> grpc::ServerWriteReactor<Event>* {
            if (!request->status.ok()) {
              return new RefusedWatch<Event>(ToGrpcStatus(request->status));
            }
            return (this->*call)(context, &request->message);
          }));
}

ParsingExchangeService::ParsingExchangeService() {
  using S = v1::Exchange::CallbackService;
  Unary<v1::UpsertRegionRequest, v1::Region>("UpsertRegion", &S::UpsertRegion);
  Unary<v1::ListRegionsRequest, v1::ListRegionsResponse>("ListRegions",
                                                         &S::ListRegions);
  Unary<v1::UpsertProductRequest, v1::UpsertProductResponse>("UpsertProduct",
                                                             &S::UpsertProduct);
  Unary<v1::ListProductsRequest, v1::ListProductsResponse>("ListProducts",
                                                           &S::ListProducts);
  Unary<v1::UpsertPairingRequest, v1::Pairing>("UpsertPairing",
                                               &S::UpsertPairing);
  Unary<v1::DeletePairingRequest, v1::DeletePairingResponse>("DeletePairing",
                                                             &S::DeletePairing);
  Unary<v1::ListPairingsRequest, v1::ListPairingsResponse>("ListPairings",
                                                           &S::ListPairings);
  Unary<v1::PostOfferRequest, v1::PostOfferResponse>("PostOffer",
                                                     &S::PostOffer);
  Unary<v1::PostPledgeRequest, v1::PostPledgeResponse>("PostPledge",
                                                       &S::PostPledge);
  Unary<v1::CancelOfferRequest, v1::CancelOfferResponse>("CancelOffer",
                                                         &S::CancelOffer);
  Unary<v1::CancelPledgeRequest, v1::CancelPledgeResponse>("CancelPledge",
                                                           &S::CancelPledge);
  Unary<v1::ShipMatchRequest, v1::MatchUpdateResponse>("ShipMatch",
                                                       &S::ShipMatch);
  Unary<v1::AcceptMatchRequest, v1::MatchUpdateResponse>("AcceptMatch",
                                                         &S::AcceptMatch);
  Unary<v1::DeclineMatchRequest, v1::MatchUpdateResponse>("DeclineMatch",
                                                          &S::DeclineMatch);
  Unary<v1::AmendOfferRequest, v1::AmendOfferResponse>("AmendOffer",
                                                       &S::AmendOffer);
  Unary<v1::AmendPledgeRequest, v1::AmendPledgeResponse>("AmendPledge",
                                                         &S::AmendPledge);
  Unary<v1::GetOfferRequest, v1::Offer>("GetOffer", &S::GetOffer);
  Unary<v1::GetPledgeRequest, v1::Pledge>("GetPledge", &S::GetPledge);
  Unary<v1::ListOffersRequest, v1::ListOffersResponse>("ListOffers",
                                                       &S::ListOffers);
  Unary<v1::ListPledgesRequest, v1::ListPledgesResponse>("ListPledges",
                                                         &S::ListPledges);
  Unary<v1::ListMatchesRequest, v1::ListMatchesResponse>("ListMatches",
                                                         &S::ListMatches);
  Unary<v1::GetBookRequest, v1::GetBookResponse>("GetBook", &S::GetBook);
  Unary<v1::SetClearingPolicyRequest, v1::ClearingPolicy>(
      "SetClearingPolicy", &S::SetClearingPolicy);
  Unary<v1::ListClearingPoliciesRequest, v1::ListClearingPoliciesResponse>(
      "ListClearingPolicies", &S::ListClearingPolicies);
  Unary<v1::UpsertBuyerRequest, v1::UpsertBuyerResponse>("UpsertBuyer",
                                                         &S::UpsertBuyer);
  Unary<v1::GetBuyerRequest, v1::Buyer>("GetBuyer", &S::GetBuyer);
  Unary<v1::ListBuyersRequest, v1::ListBuyersResponse>("ListBuyers",
                                                       &S::ListBuyers);
  Unary<v1::GetServerInfoRequest, v1::ServerInfo>("GetServerInfo",
                                                  &S::GetServerInfo);
  Unary<v1::GetBuyerProgressRequest, v1::BuyerProgress>("GetBuyerProgress",
                                                        &S::GetBuyerProgress);
  Unary<v1::ListAlertsRequest, v1::ListAlertsResponse>("ListAlerts",
                                                       &S::ListAlerts);
  Unary<v1::SetAlertThresholdsRequest, v1::AlertThresholds>(
      "SetAlertThresholds", &S::SetAlertThresholds);
  Unary<v1::ListAlertThresholdsRequest, v1::ListAlertThresholdsResponse>(
      "ListAlertThresholds", &S::ListAlertThresholds);
  Unary<v1::ExplainPledgeRequest, v1::Explanation>("ExplainPledge",
                                                   &S::ExplainPledge);
  Unary<v1::ExplainOfferRequest, v1::Explanation>("ExplainOffer",
                                                  &S::ExplainOffer);
  Unary<v1::GetStatsRequest, v1::GetStatsResponse>("GetStats", &S::GetStats);
  Watch<v1::WatchMatchesRequest, v1::MatchEvent>("WatchMatches",
                                                 &S::WatchMatches);
  Watch<v1::WatchAlertsRequest, v1::AlertEvent>("WatchAlerts", &S::WatchAlerts);
  MarkMethodCallback(
      MethodIndex(kService, "Submit"),
      new grpc::internal::CallbackBidiHandler<Parsed<v1::SubmitRequest>,
                                              v1::SubmitResponse>(
          [this](grpc::CallbackServerContext* context) {
            return ParsedSubmit(context);
          }));
}

}  // namespace duijie
