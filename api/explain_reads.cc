// The explanation RPCs of ExchangeService (monitoring.proto): what keeps a
// pledge or an offer from matching, and the explanation a PostPledge answer
// carries for a pledge that rests with nothing matched.
#include "absl/strings/str_cat.h"
#include "api/convert.h"
#include "api/exchange_service.h"

namespace duijie {

grpc::ServerUnaryReactor* ExchangeService::ExplainPledge(
    grpc::CallbackServerContext* context,
    const v1::ExplainPledgeRequest* request, v1::Explanation* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // Read like GetPledge: the pledge's own buyers (or an ADMIN).
  const absl::StatusOr<Authenticator::Identity> who =
      Admit(context, "ExplainPledge", Access::kPrivateRead);
  if (Refused(reactor, who)) return reactor;
  uint64_t seen = 0;  // the applied group whose state the reply shows
  absl::Status status;
  {
    CommandSequencer::Reader reader(&sequencer_);
    seen = reader.seen();
    const Micros now = ReadNow();
    const uint64_t id = request->pledge_id();
    absl::StatusOr<PledgeView> pledge = reader.engine().GetPledge(id, now);
    if (!pledge.ok() ||
        (!who->admin() &&
         !ListsId(who->caller->principal.buyer_ids, pledge->buyer_id))) {
      // Another's pledge reads as an unknown one, closed or not: ids tell
      // nothing.
      status = absl::NotFoundError(
          absl::StrCat("pledge_id: pledge ", id, " does not exist"));
    } else {
      absl::StatusOr<Explanation> explanation =
          reader.engine().ExplainPledge(id, now);
      if (explanation.ok()) {
        ToProto(*explanation, response);
      } else {
        status = explanation.status();
      }
    }
  }
  FinishRead(reactor, ToGrpcStatus(status), seen);
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::ExplainOffer(
    grpc::CallbackServerContext* context,
    const v1::ExplainOfferRequest* request, v1::Explanation* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // Read like GetOffer: offers are public.
  const absl::StatusOr<Authenticator::Identity> who =
      Admit(context, "ExplainOffer", Access::kPublicRead);
  if (Refused(reactor, who)) return reactor;
  uint64_t seen = 0;  // the applied group whose state the reply shows
  absl::Status status;
  {
    CommandSequencer::Reader reader(&sequencer_);
    seen = reader.seen();
    absl::StatusOr<Explanation> explanation =
        reader.engine().ExplainOffer(request->offer_id(), ReadNow());
    if (explanation.ok()) {
      ToProto(*explanation, response);
    } else {
      status = explanation.status();
    }
  }
  FinishRead(reactor, ToGrpcStatus(status), seen);
  return reactor;
}

void ExchangeService::FinishPostedPledge(grpc::ServerUnaryReactor* reactor,
                                         v1::PostPledgeResponse* response) {
  if (response->pledge().status() != v1::OPEN || response->match_count() > 0) {
    reactor->Finish(grpc::Status::OK);
    return;
  }
  // The command has been applied and the engine lock released: this is a
  // read like ExplainPledge, of the state as it is now (later commands
  // included), and the reply waits until that state is durable.
  uint64_t seen = 0;
  {
    CommandSequencer::Reader reader(&sequencer_);
    seen = reader.seen();
    absl::StatusOr<Explanation> explanation = reader.engine().ExplainPledge(
        response->pledge().pledge_id(), ReadNow());
    // A later command may have filled, cancelled or expired it since:
    // then there is nothing to explain, and the answer goes without.
    if (explanation.ok()) {
      ToProto(*explanation, response->mutable_explanation());
    }
  }
  FinishRead(reactor, grpc::Status::OK, seen);
}

}  // namespace duijie
