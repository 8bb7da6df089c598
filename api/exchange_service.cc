// The duijie.v1.Exchange service's handlers. See exchange_service.h.
#include "api/exchange_service.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "api/convert.h"
#include "api/submit_reactor.h"

namespace duijie {
namespace {

// INVALID_ARGUMENT unless `prefix` is at most six digits.
absl::Status CheckRegionPrefix(absl::string_view field,
                               absl::string_view prefix) {
  if (prefix.size() > 6 ||
      !std::all_of(prefix.begin(), prefix.end(), absl::ascii_isdigit)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be at most six digits: \"",
                     absl::CEscape(prefix), "\""));
  }
  return absl::OkStatus();
}

// Reads what ListOffers, ListPledges and ListMatches share: the region
// prefix, the page size (into *limit) and the page token (into *after);
// with `order_status`, also that it names an OrderStatus.
template <typename Request>
absl::Status ParseIdPage(const Request& request, const int* order_status,
                         int* limit, uint64_t* after) {
  absl::Status status =
      CheckRegionPrefix("region_code_prefix", request.region_code_prefix());
  if (!status.ok()) return status;
  if (order_status != nullptr && !v1::OrderStatus_IsValid(*order_status)) {
    return absl::InvalidArgumentError(
        absl::StrCat("status: unknown enum value ", *order_status));
  }
  absl::StatusOr<int> size = PageSize(request.page_size());
  if (!size.ok()) return size.status();
  absl::StatusOr<uint64_t> token = ParseIdToken(request.page_token());
  if (!token.ok()) return token.status();
  *limit = *size;
  *after = *token;
  return absl::OkStatus();
}

// Appends each of `views` to *items with ToProto, and sets the next page
// token to the last one's id when the engine said there is `more`.
template <typename View, typename Item, typename Id>
void FillIdPage(const std::vector<View>& views, bool more,
                google::protobuf::RepeatedPtrField<Item>* items,
                std::string* next_page_token, Id id) {
  for (const View& view : views) ToProto(view, items->Add());
  if (more && !items->empty()) {
    *next_page_token = IdToken(id((*items)[items->size() - 1]));
  }
}

}  // namespace

// --- The service ------------------------------------------------------------

namespace {

// The options with the watch hub told of each publication (after the
// caller's own on_published, if any).
SequencerOptions WithPublish(SequencerOptions options, WatchHub* watchers) {
  options.on_published = [watchers, also = std::move(options.on_published)](
                             uint64_t last_match_id) {
    if (also) also(last_match_id);
    watchers->Publish(last_match_id);
  };
  return options;
}

}  // namespace

ExchangeService::ExchangeService(Engine* engine, ExchangeServiceOptions options)
    : sequencer_(engine, WithPublish(std::move(options), &watchers_)) {}

ExchangeService::~ExchangeService() { Stop(); }

grpc::ServerUnaryReactor* ExchangeService::Mutate(
    grpc::CallbackServerContext* context,
    const google::protobuf::Message* request,
    google::protobuf::Message* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Command> command = ToCommand(*request);
  if (!command.ok()) {
    reactor->Finish(ToGrpcStatus(command.status()));
    return reactor;
  }
  std::vector<Command> commands;
  commands.push_back(*std::move(command));
  sequencer_.Enqueue(
      std::move(commands),
      [reactor, request, response](CommandSequencer::Batch& batch) {
        const CommandOutcome& outcome = batch.outcomes[0];
        if (!outcome.ok()) {
          reactor->Finish(ToGrpcStatus(outcome.status()));
          return;
        }
        ToResponse(*request, *outcome, response);
        reactor->Finish(grpc::Status::OK);
      },
      /*may_apply_here=*/true);
  return reactor;
}

void ExchangeService::FinishRead(grpc::ServerUnaryReactor* reactor,
                                 grpc::Status status, uint64_t seen) {
  sequencer_.WhenDurable(
      seen, [reactor, status = std::move(status)] { reactor->Finish(status); });
}

// --- Reads ------------------------------------------------------------------

grpc::ServerUnaryReactor* ExchangeService::ListRegions(
    grpc::CallbackServerContext* context, const v1::ListRegionsRequest* request,
    v1::ListRegionsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  uint64_t seen = 0;  // the applied group whose state the reply shows
  absl::Status status =
      CheckRegionPrefix("code_prefix", request->code_prefix());
  absl::StatusOr<int> limit = PageSize(request->page_size());
  absl::StatusOr<std::string> after = ParseRegionToken(request->page_token());
  if (status.ok() && !limit.ok()) status = limit.status();
  if (status.ok() && !after.ok()) status = after.status();
  if (status.ok()) {
    bool more = false;
    CommandSequencer::Reader reader(&sequencer_);
    seen = reader.seen();
    for (const Region& region : reader.engine().ListRegions(
             request->code_prefix(), *after, *limit, &more)) {
      ToProto(region, response->add_regions());
    }
    if (more && response->regions_size() > 0) {
      response->set_next_page_token(
          response->regions(response->regions_size() - 1).code());
    }
  }
  FinishRead(reactor, ToGrpcStatus(status), seen);
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::ListPairings(
    grpc::CallbackServerContext* context,
    const v1::ListPairingsRequest* request,
    v1::ListPairingsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  uint64_t seen = 0;  // the applied group whose state the reply shows
  absl::Status status =
      CheckRegionPrefix("code_prefix", request->code_prefix());
  absl::StatusOr<int> limit = PageSize(request->page_size());
  absl::StatusOr<std::pair<std::string, std::string>> after =
      ParsePairingToken(request->page_token());
  if (status.ok() && !limit.ok()) status = limit.status();
  if (status.ok() && !after.ok()) status = after.status();
  if (status.ok()) {
    bool more = false;
    CommandSequencer::Reader reader(&sequencer_);
    seen = reader.seen();
    for (const Pairing& pairing :
         reader.engine().ListPairings(request->code_prefix(), after->first,
                                      after->second, *limit, &more)) {
      ToProto(pairing, response->add_pairings());
    }
    if (more && response->pairings_size() > 0) {
      const v1::Pairing& last =
          response->pairings(response->pairings_size() - 1);
      response->set_next_page_token(
          PairingToken(last.east_code(), last.west_code()));
    }
  }
  FinishRead(reactor, ToGrpcStatus(status), seen);
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::GetOffer(
    grpc::CallbackServerContext* context, const v1::GetOfferRequest* request,
    v1::Offer* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  uint64_t seen = 0;  // the applied group whose state the reply shows
  absl::Status status;
  {
    CommandSequencer::Reader reader(&sequencer_);
    seen = reader.seen();
    absl::StatusOr<OfferView> offer =
        reader.engine().GetOffer(request->id(), ReadNow());
    if (offer.ok()) {
      ToProto(*offer, response);
    } else {
      status = offer.status();
    }
  }
  FinishRead(reactor, ToGrpcStatus(status), seen);
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::GetPledge(
    grpc::CallbackServerContext* context, const v1::GetPledgeRequest* request,
    v1::Pledge* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  uint64_t seen = 0;  // the applied group whose state the reply shows
  absl::Status status;
  {
    CommandSequencer::Reader reader(&sequencer_);
    seen = reader.seen();
    absl::StatusOr<PledgeView> pledge =
        reader.engine().GetPledge(request->id(), ReadNow());
    if (pledge.ok()) {
      ToProto(*pledge, response);
    } else {
      status = pledge.status();
    }
  }
  FinishRead(reactor, ToGrpcStatus(status), seen);
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::ListOffers(
    grpc::CallbackServerContext* context, const v1::ListOffersRequest* request,
    v1::ListOffersResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  uint64_t seen = 0;  // the applied group whose state the reply shows
  const int order_status = request->status();
  int limit = 0;
  uint64_t after = 0;
  absl::Status status = ParseIdPage(*request, &order_status, &limit, &after);
  if (status.ok()) {
    bool more = false;
    CommandSequencer::Reader reader(&sequencer_);
    seen = reader.seen();
    const std::vector<OfferView> offers = reader.engine().ListOffers(
        ToOrderFilter(*request), after, limit, ReadNow(), &more);
    FillIdPage(offers, more, response->mutable_offers(),
               response->mutable_next_page_token(),
               [](const v1::Offer& o) { return o.offer_id(); });
  }
  FinishRead(reactor, ToGrpcStatus(status), seen);
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::ListPledges(
    grpc::CallbackServerContext* context, const v1::ListPledgesRequest* request,
    v1::ListPledgesResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  uint64_t seen = 0;  // the applied group whose state the reply shows
  const int order_status = request->status();
  int limit = 0;
  uint64_t after = 0;
  absl::Status status = ParseIdPage(*request, &order_status, &limit, &after);
  if (status.ok()) {
    bool more = false;
    CommandSequencer::Reader reader(&sequencer_);
    seen = reader.seen();
    const std::vector<PledgeView> pledges = reader.engine().ListPledges(
        ToOrderFilter(*request), after, limit, ReadNow(), &more);
    FillIdPage(pledges, more, response->mutable_pledges(),
               response->mutable_next_page_token(),
               [](const v1::Pledge& p) { return p.pledge_id(); });
  }
  FinishRead(reactor, ToGrpcStatus(status), seen);
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::ListMatches(
    grpc::CallbackServerContext* context, const v1::ListMatchesRequest* request,
    v1::ListMatchesResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  uint64_t seen = 0;  // the applied group whose state the reply shows
  int limit = 0;
  uint64_t after = 0;
  absl::Status status = ParseIdPage(*request, nullptr, &limit, &after);
  if (status.ok()) {
    bool more = false;
    const uint64_t after_id = std::max(after, request->after_match_id());
    CommandSequencer::Reader reader(&sequencer_);
    seen = reader.seen();
    const std::vector<MatchView> matches = reader.engine().ListMatches(
        ToMatchFilter(*request), after_id, limit, &more);
    FillIdPage(matches, more, response->mutable_matches(),
               response->mutable_next_page_token(),
               [](const v1::Match& m) { return m.match_id(); });
  }
  FinishRead(reactor, ToGrpcStatus(status), seen);
  return reactor;
}

grpc::ServerWriteReactor<v1::Match>* ExchangeService::WatchMatches(
    grpc::CallbackServerContext* /*context*/,
    const v1::WatchMatchesRequest* request) {
  absl::Status status =
      CheckRegionPrefix("region_code_prefix", request->region_code_prefix());
  auto watcher =
      std::make_shared<WatchReactor>(&sequencer_, &watchers_, *request);
  WatchReactor* reactor = watcher.get();
  if (status.ok()) {
    reactor->Start(std::move(watcher));
  } else {
    reactor->Reject(std::move(watcher), ToGrpcStatus(status));
  }
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::GetBook(
    grpc::CallbackServerContext* context, const v1::GetBookRequest* request,
    v1::GetBookResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  uint64_t seen = 0;  // the applied group whose state the reply shows
  {
    CommandSequencer::Reader reader(&sequencer_);
    seen = reader.seen();
    for (const BookLine& line :
         reader.engine().GetBook(request->product_code_prefix(), ReadNow())) {
      ToProto(line, response->add_lines());
    }
  }
  FinishRead(reactor, grpc::Status::OK, seen);
  return reactor;
}

grpc::ServerBidiReactor<v1::SubmitRequest, v1::SubmitResponse>*
ExchangeService::Submit(grpc::CallbackServerContext* /*context*/) {
  return NewSubmitReactor(&sequencer_, limits_);
}

}  // namespace duijie
