// The duijie.v1.Exchange service's handlers. See exchange_service.h.
#include "api/exchange_service.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/convert.h"
#include "api/error_detail.h"
#include "api/request_checks.h"
#include "api/submit_reactor.h"
#include "engine/text.h"
#include "grpcpp/version_info.h"

#ifndef DUIJIE_VERSION
#define DUIJIE_VERSION "unknown"
#endif
#ifndef DUIJIE_BUILD_TYPE
#define DUIJIE_BUILD_TYPE "unknown build type"
#endif
// The compiler, and the build type from CMake.
#if defined(__clang__)
#define DUIJIE_BUILD "Clang " __clang_version__ ", " DUIJIE_BUILD_TYPE
#elif defined(__GNUC__)
#define DUIJIE_BUILD "GCC " __VERSION__ ", " DUIJIE_BUILD_TYPE
#else
#define DUIJIE_BUILD DUIJIE_BUILD_TYPE
#endif

namespace duijie {
namespace {

// Reads what ListOffers, ListPledges and ListMatches share: the filters'
// bounds, the page size (into *limit) and the page token (into *after);
// with `order_status`, also that it names an OrderStatus.
template <typename Request>
absl::Status ParseIdPage(const Request& request, const int* order_status,
                         int* limit, uint64_t* after) {
  absl::Status status = CheckFilters(request);
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

// Whether a filter passes everything: then the engine's counts are the
// list's total.
bool IsEmpty(const OrderFilter& f) {
  return f.owner_id.empty() && f.product_code_prefix.empty() &&
         f.region_code_prefix.empty() && f.status == 0 && !f.restricted;
}
bool IsEmpty(const MatchFilter& f) {
  return f.supplier_id.empty() && f.buyer_id.empty() && f.offer_id == 0 &&
         f.pledge_id == 0 && f.region_code_prefix.empty() && f.status == 0 &&
         !f.restricted;
}

// Whether a filtered list counts its total: on the first page only (no
// page_token). The count scans the filter's items, where a page reads only
// as many as it shows; paying it once per listing, not once per page, keeps
// paging through a large book linear (see the proto's total_count).
template <typename Request>
bool CountsFiltered(const Request& request) {
  return request.page_token().empty();
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

// Narrows a pledge filter to the caller's buyers: naming another buyer is
// PERMISSION_DENIED.
absl::Status NarrowToOwnPledges(const Authenticator::Identity& who,
                                OrderFilter* filter) {
  if (who.admin()) return absl::OkStatus();
  const std::vector<std::string>& mine = who.caller->principal.buyer_ids;
  if (!filter->owner_id.empty()) {
    if (ListsId(mine, filter->owner_id)) return absl::OkStatus();
    return absl::PermissionDeniedError(
        absl::StrCat("buyer_id: key ", who.caller->key_id,
                     " does not act for buyer ", EchoValue(filter->owner_id)));
  }
  if (mine.size() == 1) {
    filter->owner_id = mine[0];  // the owner's own list: no scan
  } else {
    filter->restricted = true;
    filter->visible_owner_ids = mine;
  }
  return absl::OkStatus();
}

// Narrows a match filter to matches of the caller's suppliers and buyers.
// A filter may name another party only beside one of the caller's own on
// the other side (a buyer asking for its matches with supplier X).
absl::Status NarrowToOwnMatches(const Authenticator::Identity& who,
                                MatchFilter* filter) {
  if (who.admin() ||
      who.caller->principal.role == static_cast<int>(Role::kObserver)) {
    return absl::OkStatus();  // Access::kMatchRead: every match
  }
  const Principal& me = who.caller->principal;
  const bool own_supplier = !filter->supplier_id.empty() &&
                            ListsId(me.supplier_ids, filter->supplier_id);
  const bool own_buyer =
      !filter->buyer_id.empty() && ListsId(me.buyer_ids, filter->buyer_id);
  auto denied = [&](absl::string_view field, absl::string_view id) {
    return absl::PermissionDeniedError(
        absl::StrCat(field, ": key ", who.caller->key_id, " does not act for ",
                     EchoValue(std::string_view(id.data(), id.size())),
                     "; name one of its own parties"));
  };
  if (!filter->supplier_id.empty() && !own_supplier && !own_buyer) {
    return denied("supplier_id", filter->supplier_id);
  }
  if (!filter->buyer_id.empty() && !own_buyer && !own_supplier) {
    return denied("buyer_id", filter->buyer_id);
  }
  if (own_supplier || own_buyer) return absl::OkStatus();
  if (me.supplier_ids.size() + me.buyer_ids.size() == 1) {
    // One party: its own list, no scan.
    if (me.supplier_ids.size() == 1) {
      filter->supplier_id = me.supplier_ids[0];
    } else {
      filter->buyer_id = me.buyer_ids[0];
    }
  } else {
    filter->restricted = true;
    filter->visible_supplier_ids = me.supplier_ids;
    filter->visible_buyer_ids = me.buyer_ids;
  }
  return absl::OkStatus();
}

}  // namespace

// --- The service ------------------------------------------------------------

namespace {

// The options with the watch hubs told of each publication (after the
// caller's own callbacks, if any).
SequencerOptions WithPublish(SequencerOptions options, WatchHub* watchers,
                             AlertWatchHub* alert_watchers) {
  options.on_published = [watchers, also = std::move(options.on_published)](
                             uint64_t last_match_id, uint64_t last_event_id) {
    if (also) also(last_match_id, last_event_id);
    watchers->Publish(last_event_id);
  };
  options.on_alerts_published = [alert_watchers,
                                 also = std::move(options.on_alerts_published)](
                                    uint64_t last_alert_event_id) {
    if (also) also(last_alert_event_id);
    alert_watchers->Publish(last_alert_event_id);
  };
  return options;
}

}  // namespace

ExchangeService::ExchangeService(Engine* engine, ExchangeServiceOptions options,
                                 Authenticator* auth)
    : auth_(auth),
      sequencer_(engine, WithPublish(std::move(options), &watchers_,
                                     &alert_watchers_)) {}

ExchangeService::~ExchangeService() { Stop(); }

absl::StatusOr<Authenticator::Identity> ExchangeService::Admit(
    const grpc::CallbackServerContext* context, std::string_view method,
    Access access, bool take_token) {
  absl::StatusOr<Authenticator::Identity> who =
      auth_->Authenticate(*context, method);
  if (!who.ok()) return who.status();
  const absl::string_view rpc(method.data(), method.size());
  const int role = who->caller->principal.role;
  const bool observer = role == static_cast<int>(Role::kObserver);
  absl::Status refused;
  if ((access == Access::kPrivateRead || access == Access::kCommand) &&
      observer) {
    refused = absl::PermissionDeniedError(
        absl::StrCat("key ", who->caller->key_id,
                     " is an OBSERVER key: it may only read the book, "
                     "offers, matches, regions, pairings, buyers, figures "
                     "and alerts, not call ",
                     rpc));
  } else if (access == Access::kAdmin && !who->admin()) {
    refused = absl::PermissionDeniedError(absl::StrCat(
        rpc, " needs an ADMIN key; key ", who->caller->key_id, " is not one"));
  } else if (take_token && auth_->TakeTokens(*who, 1) == 0) {
    refused = Authenticator::RateLimited(auth_->options());
  }
  if (!refused.ok()) {
    auth_->LogRefusal(who->caller->principal.name, method, refused);
    return refused;
  }
  return who;
}

void ExchangeService::EnqueueOne(
    Command command, std::function<void(const CommandOutcome&)> done) {
  std::vector<Command> commands;
  commands.push_back(std::move(command));
  sequencer_.Enqueue(
      std::move(commands),
      [done = std::move(done)](CommandSequencer::Batch& batch) {
        done(batch.outcomes[0]);
      },
      /*may_apply_here=*/true);
}

std::vector<ApiKey> ExchangeService::ListKeys(uint64_t after_key_id, int limit,
                                              bool* more, int64_t* total) {
  CommandSequencer::Reader reader(&sequencer_);
  return reader.engine().ListKeys(after_key_id, limit, more, total);
}

grpc::ServerUnaryReactor* ExchangeService::Mutate(
    grpc::CallbackServerContext* context, std::string_view method,
    const google::protobuf::Message* request,
    google::protobuf::Message* response, bool explain_resting_pledge) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Authenticator::Identity> who =
      Admit(context, method, Access::kCommand);
  absl::StatusOr<Command> command =
      who.ok() ? ToCommand(*request) : who.status();
  if (!command.ok()) {
    AddErrorDetail(command.status(), context);
    reactor->Finish(ToGrpcStatus(command.status()));
    return reactor;
  }
  command->caller = who->caller;
  std::vector<Command> commands;
  commands.push_back(*std::move(command));
  sequencer_.Enqueue(
      std::move(commands),
      [this, context, reactor, request, response, method,
       explain_resting_pledge,
       caller = who->caller](CommandSequencer::Batch& batch) {
        const CommandOutcome& outcome = batch.outcomes[0];
        if (!outcome.ok()) {
          if (outcome.status().code() == absl::StatusCode::kPermissionDenied) {
            auth_->LogRefusal(caller->principal.name, method, outcome.status());
          }
          // Every violation, which the grpc::Status cannot carry.
          AddErrorDetail(outcome.status(), context);
          reactor->Finish(ToGrpcStatus(outcome.status()));
          return;
        }
        ToResponse(*request, *outcome, response);
        if (explain_resting_pledge) {
          FinishPostedPledge(reactor,
                             static_cast<v1::PostPledgeResponse*>(response));
          return;
        }
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

bool ExchangeService::Refused(
    grpc::ServerUnaryReactor* reactor,
    const absl::StatusOr<Authenticator::Identity>& who) {
  if (who.ok()) return false;
  reactor->Finish(ToGrpcStatus(who.status()));
  return true;
}

grpc::ServerUnaryReactor* ExchangeService::ListRegions(
    grpc::CallbackServerContext* context, const v1::ListRegionsRequest* request,
    v1::ListRegionsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::StatusOr<Authenticator::Identity> who =
      Admit(context, "ListRegions", Access::kPublicRead);
  if (Refused(reactor, who)) return reactor;
  uint64_t seen = 0;  // the applied group whose state the reply shows
  absl::Status status = CheckFilters(*request);
  absl::StatusOr<int> limit = PageSize(request->page_size());
  absl::StatusOr<std::string> after = ParseRegionToken(request->page_token());
  if (status.ok() && !limit.ok()) status = limit.status();
  if (status.ok() && !after.ok()) status = after.status();
  if (status.ok()) {
    bool more = false;
    CommandSequencer::Reader reader(&sequencer_);
    seen = reader.seen();
    int64_t total = 0;
    for (const Region& region :
         reader.engine().ListRegions(request->code_prefix(), *after, *limit,
                                     &more, request->name(), &total)) {
      ToProto(region, response->add_regions());
    }
    response->set_total_count(total);
    if (more && response->regions_size() > 0) {
      response->set_next_page_token(
          response->regions(response->regions_size() - 1).code());
    }
  }
  FinishRead(reactor, ToGrpcStatus(status), seen);
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::ListProducts(
    grpc::CallbackServerContext* context,
    const v1::ListProductsRequest* request,
    v1::ListProductsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::StatusOr<Authenticator::Identity> who =
      Admit(context, "ListProducts", Access::kPublicRead);
  if (Refused(reactor, who)) return reactor;
  uint64_t seen = 0;  // the applied group whose state the reply shows
  absl::Status status = CheckFilters(*request);
  absl::StatusOr<int> limit = PageSize(request->page_size());
  absl::StatusOr<std::string> after = ParseProductToken(request->page_token());
  if (status.ok() && !limit.ok()) status = limit.status();
  if (status.ok() && !after.ok()) status = after.status();
  if (status.ok()) {
    bool more = false;
    CommandSequencer::Reader reader(&sequencer_);
    seen = reader.seen();
    int64_t total = 0;
    for (const Product& product :
         reader.engine().ListProducts(request->code_prefix(), request->name(),
                                      *after, *limit, &more, &total)) {
      ToProto(product, response->add_products());
    }
    response->set_total_count(total);
    response->set_open(reader.engine().CatalogueOpen());
    if (more && response->products_size() > 0) {
      response->set_next_page_token(
          response->products(response->products_size() - 1).code());
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
  const absl::StatusOr<Authenticator::Identity> who =
      Admit(context, "ListPairings", Access::kPublicRead);
  if (Refused(reactor, who)) return reactor;
  uint64_t seen = 0;  // the applied group whose state the reply shows
  absl::Status status = CheckFilters(*request);
  absl::StatusOr<int> limit = PageSize(request->page_size());
  absl::StatusOr<std::pair<std::string, std::string>> after =
      ParsePairingToken(request->page_token());
  if (status.ok() && !limit.ok()) status = limit.status();
  if (status.ok() && !after.ok()) status = after.status();
  if (status.ok()) {
    bool more = false;
    CommandSequencer::Reader reader(&sequencer_);
    seen = reader.seen();
    int64_t total = 0;
    for (const Pairing& pairing :
         reader.engine().ListPairings(request->code_prefix(), after->first,
                                      after->second, *limit, &more, &total)) {
      ToProto(pairing, response->add_pairings());
    }
    response->set_total_count(total);
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
  const absl::StatusOr<Authenticator::Identity> who =
      Admit(context, "GetOffer", Access::kPublicRead);
  if (Refused(reactor, who)) return reactor;
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
  const absl::StatusOr<Authenticator::Identity> who =
      Admit(context, "GetPledge", Access::kPrivateRead);
  if (Refused(reactor, who)) return reactor;
  uint64_t seen = 0;  // the applied group whose state the reply shows
  absl::Status status;
  {
    CommandSequencer::Reader reader(&sequencer_);
    seen = reader.seen();
    absl::StatusOr<PledgeView> pledge =
        reader.engine().GetPledge(request->id(), ReadNow());
    if (pledge.ok() && !who->admin() &&
        !ListsId(who->caller->principal.buyer_ids, pledge->buyer_id)) {
      // Another's pledge reads as an unknown one: ids tell nothing.
      pledge = absl::NotFoundError(
          absl::StrCat("id: pledge ", request->id(), " does not exist"));
    }
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
  const absl::StatusOr<Authenticator::Identity> who =
      Admit(context, "ListOffers", Access::kPublicRead);
  if (Refused(reactor, who)) return reactor;
  uint64_t seen = 0;  // the applied group whose state the reply shows
  const int order_status = request->status();
  int limit = 0;
  uint64_t after = 0;
  absl::Status status = ParseIdPage(*request, &order_status, &limit, &after);
  if (status.ok()) {
    bool more = false;
    CommandSequencer::Reader reader(&sequencer_);
    seen = reader.seen();
    const OrderFilter filter = ToOrderFilter(*request);
    const Micros now = ReadNow();  // the page and its count see one instant
    const std::vector<OfferView> offers =
        reader.engine().ListOffers(filter, after, limit, now, &more);
    FillIdPage(offers, more, response->mutable_offers(),
               response->mutable_next_page_token(),
               [](const v1::Offer& o) { return o.offer_id(); });
    // Offers are public: unfiltered, the count is every offer ever posted.
    if (IsEmpty(filter)) {
      response->set_total_count(
          static_cast<int64_t>(reader.engine().offer_count()));
    } else if (CountsFiltered(*request)) {
      response->set_total_count(
          static_cast<int64_t>(reader.engine().CountOffers(filter, now)));
    }
  }
  FinishRead(reactor, ToGrpcStatus(status), seen);
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::ListPledges(
    grpc::CallbackServerContext* context, const v1::ListPledgesRequest* request,
    v1::ListPledgesResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::StatusOr<Authenticator::Identity> who =
      Admit(context, "ListPledges", Access::kPrivateRead);
  if (Refused(reactor, who)) return reactor;
  uint64_t seen = 0;  // the applied group whose state the reply shows
  const int order_status = request->status();
  int limit = 0;
  uint64_t after = 0;
  absl::Status status = ParseIdPage(*request, &order_status, &limit, &after);
  OrderFilter filter = ToOrderFilter(*request);
  if (status.ok()) status = NarrowToOwnPledges(*who, &filter);
  if (status.ok()) {
    bool more = false;
    CommandSequencer::Reader reader(&sequencer_);
    seen = reader.seen();
    const Micros now = ReadNow();  // the page and its count see one instant
    const std::vector<PledgeView> pledges =
        reader.engine().ListPledges(filter, after, limit, now, &more);
    FillIdPage(pledges, more, response->mutable_pledges(),
               response->mutable_next_page_token(),
               [](const v1::Pledge& p) { return p.pledge_id(); });
    // Unfiltered and not narrowed to the key's own: every pledge. Else the
    // count takes the narrowed filter, so a key counts only what it sees.
    if (IsEmpty(filter)) {
      response->set_total_count(
          static_cast<int64_t>(reader.engine().pledge_count()));
    } else if (CountsFiltered(*request)) {
      response->set_total_count(
          static_cast<int64_t>(reader.engine().CountPledges(filter, now)));
    }
  }
  FinishRead(reactor, ToGrpcStatus(status), seen);
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::ListMatches(
    grpc::CallbackServerContext* context, const v1::ListMatchesRequest* request,
    v1::ListMatchesResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::StatusOr<Authenticator::Identity> who =
      Admit(context, "ListMatches", Access::kMatchRead);
  if (Refused(reactor, who)) return reactor;
  uint64_t seen = 0;  // the applied group whose state the reply shows
  int limit = 0;
  uint64_t after = 0;
  absl::Status status = ParseIdPage(*request, nullptr, &limit, &after);
  MatchFilter filter = ToMatchFilter(*request);
  if (status.ok()) status = NarrowToOwnMatches(*who, &filter);
  if (status.ok()) {
    bool more = false;
    const uint64_t after_id = std::max(after, request->after_match_id());
    CommandSequencer::Reader reader(&sequencer_);
    seen = reader.seen();
    const std::vector<MatchView> matches =
        reader.engine().ListMatches(filter, after_id, limit, &more);
    FillIdPage(matches, more, response->mutable_matches(),
               response->mutable_next_page_token(),
               [](const v1::Match& m) { return m.match_id(); });
    // Unfiltered and not narrowed to the key's own: every match (ids run
    // from 1 without gaps). Else the count takes the narrowed filter, so a
    // key counts only what it sees.
    const uint64_t last = reader.engine().last_match_id();
    if (IsEmpty(filter)) {
      response->set_total_count(static_cast<int64_t>(
          last - std::min<uint64_t>(request->after_match_id(), last)));
    } else if (CountsFiltered(*request) && request->after_match_id() == 0) {
      response->set_total_count(static_cast<int64_t>(
          reader.engine().CountMatches(filter, request->after_match_id())));
    }
  }
  FinishRead(reactor, ToGrpcStatus(status), seen);
  return reactor;
}

absl::Status ExchangeService::OpenWatch(const Authenticator::Identity& who,
                                        WatchAccess* access) {
  absl::StatusOr<Authenticator::StreamSlot> slot = auth_->OpenStream(who);
  if (!slot.ok()) return slot.status();
  access->slot = std::make_shared<Authenticator::StreamSlot>(*std::move(slot));
  access->still_valid = [auth = auth_, who] { return auth->StillValid(who); };
  return absl::OkStatus();
}

grpc::ServerWriteReactor<v1::MatchEvent>* ExchangeService::WatchMatches(
    grpc::CallbackServerContext* context,
    const v1::WatchMatchesRequest* request) {
  absl::StatusOr<Authenticator::Identity> who =
      Admit(context, "WatchMatches", Access::kMatchRead);
  absl::Status status = who.ok() ? CheckFilters(*request) : who.status();
  if (status.ok() && request->after_event_id() != 0 &&
      request->after_match_id() != 0) {
    status = absl::InvalidArgumentError(
        absl::StrCat("after_event_id: ", request->after_event_id(),
                     " is set with after_match_id ", request->after_match_id(),
                     "; the stream starts after one cursor, set at most one"));
  }
  if (status.ok()) {
    // No client can have seen an event after the last one published: such
    // a cursor is a mistake (a match id, another server's ids), and waiting
    // there would hide it.
    const uint64_t last = sequencer_.published_event_id();
    if (request->after_event_id() > last) {
      status = absl::InvalidArgumentError(
          absl::StrCat("after_event_id: ", request->after_event_id(),
                       " is beyond the last match event, ", last));
    }
  }
  MatchFilter filter = ToMatchFilter(*request);
  if (status.ok()) status = NarrowToOwnMatches(*who, &filter);
  WatchAccess access;
  if (status.ok()) status = OpenWatch(*who, &access);
  return StartWatch(std::make_shared<WatchReactor>(
                        &sequencer_, &watchers_, std::move(filter),
                        request->after_event_id(), request->after_match_id(),
                        request->progress_events(), std::move(access)),
                    ToGrpcStatus(status));
}

grpc::ServerUnaryReactor* ExchangeService::GetBook(
    grpc::CallbackServerContext* context, const v1::GetBookRequest* request,
    v1::GetBookResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::StatusOr<Authenticator::Identity> who =
      Admit(context, "GetBook", Access::kPublicRead);
  if (Refused(reactor, who)) return reactor;
  uint64_t seen = 0;  // the applied group whose state the reply shows
  absl::Status status = CheckFilters(*request);
  absl::StatusOr<int> limit = PageSize(request->page_size());
  absl::StatusOr<std::string> after = ParseProductToken(request->page_token());
  if (status.ok() && !limit.ok()) status = limit.status();
  if (status.ok() && !after.ok()) status = after.status();
  if (status.ok()) {
    bool more = false;
    CommandSequencer::Reader reader(&sequencer_);
    seen = reader.seen();
    for (const BookLine& line :
         reader.engine().GetBook(request->product_code_prefix(), *after, *limit,
                                 ReadNow(), &more)) {
      ToProto(line, response->add_lines());
    }
    if (more && response->lines_size() > 0) {
      response->set_next_page_token(
          response->lines(response->lines_size() - 1).product_code());
    }
  }
  FinishRead(reactor, ToGrpcStatus(status), seen);
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::ListClearingPolicies(
    grpc::CallbackServerContext* context,
    const v1::ListClearingPoliciesRequest*,
    v1::ListClearingPoliciesResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::StatusOr<Authenticator::Identity> who =
      Admit(context, "ListClearingPolicies", Access::kPublicRead);
  if (Refused(reactor, who)) return reactor;
  CommandSequencer::Reader reader(&sequencer_);
  const uint64_t seen = reader.seen();
  for (const ClearingPolicyResult& policy :
       reader.engine().ClearingPolicies()) {
    ToProto(policy, response->add_policies());
  }
  FinishRead(reactor, grpc::Status::OK, seen);
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::GetBuyer(
    grpc::CallbackServerContext* context, const v1::GetBuyerRequest* request,
    v1::Buyer* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::StatusOr<Authenticator::Identity> who =
      Admit(context, "GetBuyer", Access::kPublicRead);
  if (Refused(reactor, who)) return reactor;
  uint64_t seen = 0;  // the applied group whose state the reply shows
  absl::Status status = CheckFilters(*request);
  if (status.ok()) {
    CommandSequencer::Reader reader(&sequencer_);
    seen = reader.seen();
    absl::StatusOr<Buyer> buyer = reader.engine().GetBuyer(request->buyer_id());
    if (buyer.ok()) {
      ToProto(*buyer, response);
    } else {
      status = buyer.status();
    }
  }
  FinishRead(reactor, ToGrpcStatus(status), seen);
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::GetServerInfo(
    grpc::CallbackServerContext* context, const v1::GetServerInfoRequest*,
    v1::ServerInfo* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::StatusOr<Authenticator::Identity> who =
      Admit(context, "GetServerInfo", Access::kPublicRead);
  if (Refused(reactor, who)) return reactor;
  response->set_version(DUIJIE_VERSION);
  response->set_build(DUIJIE_BUILD);
  response->set_grpc_version(GRPC_CPP_VERSION_STRING);
  ToTimestamp(absl::ToUnixMicros(started_at_), response->mutable_started_at());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::ListBuyers(
    grpc::CallbackServerContext* context, const v1::ListBuyersRequest* request,
    v1::ListBuyersResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::StatusOr<Authenticator::Identity> who =
      Admit(context, "ListBuyers", Access::kPublicRead);
  if (Refused(reactor, who)) return reactor;
  uint64_t seen = 0;  // the applied group whose state the reply shows
  // The page token is the last buyer_id of the previous page.
  absl::Status status = CheckFilters(*request);
  absl::StatusOr<int> limit = PageSize(request->page_size());
  if (status.ok() && !limit.ok()) status = limit.status();
  if (status.ok()) {
    bool more = false;
    CommandSequencer::Reader reader(&sequencer_);
    seen = reader.seen();
    int64_t total = 0;
    for (const Buyer& buyer : reader.engine().ListBuyers(
             ToBuyerFilter(*request), request->page_token(), *limit, &more,
             &total)) {
      ToProto(buyer, response->add_buyers());
    }
    response->set_total_count(total);
    if (more && response->buyers_size() > 0) {
      response->set_next_page_token(
          response->buyers(response->buyers_size() - 1).buyer_id());
    }
  }
  FinishRead(reactor, ToGrpcStatus(status), seen);
  return reactor;
}

namespace {

// Whether `who` may see the progress of `buyer_ids` (a buyer, or every
// member of an alliance): ADMIN and OBSERVER keys see all, others only
// their own buyers. The registry is public, so naming another buyer is
// PERMISSION_DENIED, not NOT_FOUND.
absl::Status MaySeeProgress(const Authenticator::Identity& who,
                            const std::vector<std::string>& buyer_ids,
                            absl::string_view what) {
  const int role = who.caller->principal.role;
  if (who.admin() || role == static_cast<int>(Role::kObserver)) {
    return absl::OkStatus();
  }
  for (const std::string& id : buyer_ids) {
    if (!ListsId(who.caller->principal.buyer_ids, id)) {
      return absl::PermissionDeniedError(absl::StrCat(
          what, ": key ", who.caller->key_id, " does not act for buyer ",
          EchoValue(id), "; progress is its buyers' own"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* ExchangeService::GetBuyerProgress(
    grpc::CallbackServerContext* context,
    const v1::GetBuyerProgressRequest* request, v1::BuyerProgress* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // Admitted as a public read so that OBSERVER keys (oversight) get in;
  // MaySeeProgress narrows everyone else to their own buyers.
  const absl::StatusOr<Authenticator::Identity> who =
      Admit(context, "GetBuyerProgress", Access::kPublicRead);
  if (Refused(reactor, who)) return reactor;
  uint64_t seen = 0;  // the applied group whose state the reply shows
  absl::Status status = CheckFilters(*request);
  if (status.ok() && !request->buyer_id().empty()) {
    // Before the engine is asked, so that whether another's buyer_id is
    // registered is not what decides the answer.
    status = MaySeeProgress(*who, {request->buyer_id()}, "buyer_id");
  }
  if (status.ok()) {
    CommandSequencer::Reader reader(&sequencer_);
    seen = reader.seen();
    absl::StatusOr<BuyerProgress> progress = reader.engine().GetBuyerProgress(
        request->buyer_id(), request->alliance_id(), request->year());
    if (progress.ok() && !request->alliance_id().empty()) {
      const absl::Status may =
          MaySeeProgress(*who, progress->member_ids, "alliance_id");
      if (!may.ok()) progress = may;
    }
    if (progress.ok()) {
      ToProto(*progress, response);
    } else {
      status = progress.status();
    }
  }
  FinishRead(reactor, ToGrpcStatus(status), seen);
  return reactor;
}

grpc::ServerBidiReactor<Parsed<v1::SubmitRequest>, v1::SubmitResponse>*
ExchangeService::ParsedSubmit(grpc::CallbackServerContext* context) {
  absl::StatusOr<Authenticator::Identity> who =
      Admit(context, "Submit", Access::kCommand, /*take_token=*/false);
  absl::StatusOr<Authenticator::StreamSlot> slot =
      who.ok() ? auth_->OpenStream(*who) : who.status();
  if (!slot.ok()) return NewRefusedSubmitReactor(ToGrpcStatus(slot.status()));
  return NewSubmitReactor(&sequencer_, limits_,
                          std::make_unique<SubmitAdmission>(
                              auth_, *std::move(who), *std::move(slot)));
}

}  // namespace duijie
