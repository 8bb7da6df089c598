// ExchangeService: the duijie.v1.Exchange gRPC service, a thin adapter
// over the commit pipeline (command_sequencer.h) and the engine's reads.
//
// A mutating handler converts its request to a Command (convert.h) and
// enqueues it; its reply is built when the command's group is durable. A
// Submit request's commands are one batch however many there are
// (submit_reactor.h). A read holds the engine's read lock while it builds
// its reply, and finishes once the state it showed is durable.
// WatchMatches streams deliver only published match events
// (watch_reactor.h).
//
// Every call is authenticated first (authenticator.h) and admitted by its
// Access: the role may call it, and the key's rate allows it. Commands then
// carry their Caller, and the engine decides whether it may act on the
// parties they name; reads are narrowed here to what the caller may see.
//
// A new mutating RPC is one line here: its handler calls Mutate.
#ifndef DUIJIE_API_EXCHANGE_SERVICE_H_
#define DUIJIE_API_EXCHANGE_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "api/authenticator.h"
#include "api/command_sequencer.h"
#include "api/parsing_service.h"
#include "api/server_limits.h"
#include "api/submit_reactor.h"
#include "api/watch_reactor.h"
#include "duijie/v1/exchange.grpc.pb.h"
#include "engine/engine.h"

namespace duijie {

// The pipeline's options; the service adds waking the WatchMatches streams
// to on_published, and the WatchAlerts streams to on_alerts_published.
using ExchangeServiceOptions = SequencerOptions;

// What a call needs of its caller's role.
enum class Access {
  kPublicRead,   // any role: the book, offers, regions, pairings, buyers
  kPrivateRead,  // not OBSERVER: pledges, narrowed to the caller
  // Matches: every match for ADMIN and OBSERVER (the offices keep the
  // ledgers of who bought what from whom), the caller's own for the rest.
  kMatchRead,
  kCommand,  // not OBSERVER: the engine checks the parties named
  kAdmin,    // ADMIN only
};

class ExchangeService final : public ParsingExchangeService {
 public:
  // Starts the writer thread. `engine` and `auth` are not owned and must
  // outlive this (an Authenticator with AuthOptions::enabled false lets
  // every call act as ADMIN).
  ExchangeService(Engine* engine, ExchangeServiceOptions options,
                  Authenticator* auth);
  // Calls Stop(). Destroy only after the grpc::Server serving this has shut
  // down (no reactor may outlive the service).
  ~ExchangeService() override;

  ExchangeService(const ExchangeService&) = delete;
  ExchangeService& operator=(const ExchangeService&) = delete;

  // Applies `commands` through the pipeline as one batch, in order, and
  // waits for their outcomes (one per command). For demo data and tools.
  // Results hold views into the engine's interned strings. UNAVAILABLE
  // outcomes after Stop().
  std::vector<CommandOutcome> Execute(std::vector<Command> commands) {
    return sequencer_.Execute(std::move(commands));
  }
  // See CommandSequencer::RunOnWriter.
  bool RunOnWriter(std::function<void()> fn) {
    return sequencer_.RunOnWriter(std::move(fn));
  }
  // Ends every WatchMatches and WatchAlerts stream (UNAVAILABLE, after what
  // is published) and refuses new ones. Call before grpc::Server::Shutdown.
  void BeginShutdown() {
    watchers_.Shutdown();
    alert_watchers_.Shutdown();
  }
  // Lets the pipeline apply and reply to everything queued, then stops it.
  // Later commands fail with UNAVAILABLE. Idempotent.
  void Stop() { sequencer_.Stop(); }
  // The server's time for reads: the clock, never before the last stamp.
  Micros ReadNow() const { return sequencer_.ReadNow(); }
  // The limits the streams enforce (server_limits.h). Set before serving.
  void set_limits(const ServerLimits& limits) {
    limits_ = limits;
    watchers_.set_max_buffered(limits.watch_buffer);
    watchers_.set_heartbeat_interval(
        absl::Milliseconds(limits.watch_heartbeat_ms));
    alert_watchers_.set_max_buffered(limits.watch_buffer);
    alert_watchers_.set_heartbeat_interval(
        absl::Milliseconds(limits.watch_heartbeat_ms));
  }

  // Authenticates the call and admits it by `access` (role, then one token
  // of the key's rate unless `take_token` is false); UNAUTHENTICATED,
  // PERMISSION_DENIED or RESOURCE_EXHAUSTED otherwise, logged.
  absl::StatusOr<Authenticator::Identity> Admit(
      const grpc::CallbackServerContext* context, std::string_view method,
      Access access, bool take_token = true);
  // Applies one command through the pipeline and calls `done` with its
  // outcome once durable (on the reply or applying thread; must not block).
  void EnqueueOne(Command command,
                  std::function<void(const CommandOutcome&)> done);
  // The API keys, read like any read (see Engine::ListKeys).
  std::vector<ApiKey> ListKeys(uint64_t after_key_id, int limit, bool* more,
                               int64_t* total = nullptr);
  Authenticator* authenticator() { return auth_; }

  // --- duijie.v1.Exchange ---------------------------------------------------

  grpc::ServerUnaryReactor* UpsertRegion(grpc::CallbackServerContext* context,
                                         const v1::UpsertRegionRequest* request,
                                         v1::Region* response) override {
    return Mutate(context, "UpsertRegion", request, response);
  }
  grpc::ServerUnaryReactor* ListRegions(
      grpc::CallbackServerContext* context,
      const v1::ListRegionsRequest* request,
      v1::ListRegionsResponse* response) override;
  grpc::ServerUnaryReactor* UpsertPairing(
      grpc::CallbackServerContext* context,
      const v1::UpsertPairingRequest* request, v1::Pairing* response) override {
    return Mutate(context, "UpsertPairing", request, response);
  }
  grpc::ServerUnaryReactor* DeletePairing(
      grpc::CallbackServerContext* context,
      const v1::DeletePairingRequest* request,
      v1::DeletePairingResponse* response) override {
    return Mutate(context, "DeletePairing", request, response);
  }
  grpc::ServerUnaryReactor* ListPairings(
      grpc::CallbackServerContext* context,
      const v1::ListPairingsRequest* request,
      v1::ListPairingsResponse* response) override;

  grpc::ServerUnaryReactor* PostOffer(
      grpc::CallbackServerContext* context, const v1::PostOfferRequest* request,
      v1::PostOfferResponse* response) override {
    return Mutate(context, "PostOffer", request, response);
  }
  grpc::ServerUnaryReactor* PostPledge(
      grpc::CallbackServerContext* context,
      const v1::PostPledgeRequest* request,
      v1::PostPledgeResponse* response) override {
    return Mutate(context, "PostPledge", request, response,
                  /*explain_resting_pledge=*/true);
  }
  grpc::ServerUnaryReactor* CancelOffer(
      grpc::CallbackServerContext* context,
      const v1::CancelOfferRequest* request,
      v1::CancelOfferResponse* response) override {
    return Mutate(context, "CancelOffer", request, response);
  }
  grpc::ServerUnaryReactor* CancelPledge(
      grpc::CallbackServerContext* context,
      const v1::CancelPledgeRequest* request,
      v1::CancelPledgeResponse* response) override {
    return Mutate(context, "CancelPledge", request, response);
  }
  grpc::ServerUnaryReactor* ShipMatch(
      grpc::CallbackServerContext* context, const v1::ShipMatchRequest* request,
      v1::MatchUpdateResponse* response) override {
    return Mutate(context, "ShipMatch", request, response);
  }
  grpc::ServerUnaryReactor* AcceptMatch(
      grpc::CallbackServerContext* context,
      const v1::AcceptMatchRequest* request,
      v1::MatchUpdateResponse* response) override {
    return Mutate(context, "AcceptMatch", request, response);
  }
  grpc::ServerUnaryReactor* DeclineMatch(
      grpc::CallbackServerContext* context,
      const v1::DeclineMatchRequest* request,
      v1::MatchUpdateResponse* response) override {
    return Mutate(context, "DeclineMatch", request, response);
  }
  grpc::ServerUnaryReactor* AmendOffer(
      grpc::CallbackServerContext* context,
      const v1::AmendOfferRequest* request,
      v1::AmendOfferResponse* response) override {
    return Mutate(context, "AmendOffer", request, response);
  }
  grpc::ServerUnaryReactor* AmendPledge(
      grpc::CallbackServerContext* context,
      const v1::AmendPledgeRequest* request,
      v1::AmendPledgeResponse* response) override {
    return Mutate(context, "AmendPledge", request, response);
  }
  grpc::ServerUnaryReactor* GetOffer(grpc::CallbackServerContext* context,
                                     const v1::GetOfferRequest* request,
                                     v1::Offer* response) override;
  grpc::ServerUnaryReactor* GetPledge(grpc::CallbackServerContext* context,
                                      const v1::GetPledgeRequest* request,
                                      v1::Pledge* response) override;
  grpc::ServerUnaryReactor* ListOffers(
      grpc::CallbackServerContext* context,
      const v1::ListOffersRequest* request,
      v1::ListOffersResponse* response) override;
  grpc::ServerUnaryReactor* ListPledges(
      grpc::CallbackServerContext* context,
      const v1::ListPledgesRequest* request,
      v1::ListPledgesResponse* response) override;

  grpc::ServerUnaryReactor* ListMatches(
      grpc::CallbackServerContext* context,
      const v1::ListMatchesRequest* request,
      v1::ListMatchesResponse* response) override;
  grpc::ServerWriteReactor<v1::MatchEvent>* WatchMatches(
      grpc::CallbackServerContext* context,
      const v1::WatchMatchesRequest* request) override;
  grpc::ServerUnaryReactor* GetBook(grpc::CallbackServerContext* context,
                                    const v1::GetBookRequest* request,
                                    v1::GetBookResponse* response) override;

  grpc::ServerUnaryReactor* SetClearingPolicy(
      grpc::CallbackServerContext* context,
      const v1::SetClearingPolicyRequest* request,
      v1::ClearingPolicy* response) override {
    return Mutate(context, "SetClearingPolicy", request, response);
  }
  grpc::ServerUnaryReactor* ListClearingPolicies(
      grpc::CallbackServerContext* context,
      const v1::ListClearingPoliciesRequest* request,
      v1::ListClearingPoliciesResponse* response) override;

  grpc::ServerUnaryReactor* UpsertBuyer(
      grpc::CallbackServerContext* context,
      const v1::UpsertBuyerRequest* request,
      v1::UpsertBuyerResponse* response) override {
    return Mutate(context, "UpsertBuyer", request, response);
  }
  grpc::ServerUnaryReactor* UpsertProduct(
      grpc::CallbackServerContext* context,
      const v1::UpsertProductRequest* request,
      v1::UpsertProductResponse* response) override {
    return Mutate(context, "UpsertProduct", request, response);
  }
  grpc::ServerUnaryReactor* ListProducts(
      grpc::CallbackServerContext* context,
      const v1::ListProductsRequest* request,
      v1::ListProductsResponse* response) override;
  grpc::ServerUnaryReactor* GetBuyer(grpc::CallbackServerContext* context,
                                     const v1::GetBuyerRequest* request,
                                     v1::Buyer* response) override;
  grpc::ServerUnaryReactor* GetServerInfo(
      grpc::CallbackServerContext* context,
      const v1::GetServerInfoRequest* request,
      v1::ServerInfo* response) override;
  grpc::ServerUnaryReactor* ListBuyers(
      grpc::CallbackServerContext* context,
      const v1::ListBuyersRequest* request,
      v1::ListBuyersResponse* response) override;
  grpc::ServerUnaryReactor* GetBuyerProgress(
      grpc::CallbackServerContext* context,
      const v1::GetBuyerProgressRequest* request,
      v1::BuyerProgress* response) override;

  grpc::ServerBidiReactor<Parsed<v1::SubmitRequest>, v1::SubmitResponse>*
  ParsedSubmit(grpc::CallbackServerContext* context) override;

  // --- Monitoring (monitoring.proto) ---------------------------------------
  // Glut alerts: alert_reads.cc.
  grpc::ServerUnaryReactor* ListAlerts(
      grpc::CallbackServerContext* context,
      const v1::ListAlertsRequest* request,
      v1::ListAlertsResponse* response) override;
  grpc::ServerWriteReactor<v1::AlertEvent>* WatchAlerts(
      grpc::CallbackServerContext* context,
      const v1::WatchAlertsRequest* request) override;
  grpc::ServerUnaryReactor* SetAlertThresholds(
      grpc::CallbackServerContext* context,
      const v1::SetAlertThresholdsRequest* request,
      v1::AlertThresholds* response) override {
    return Mutate(context, "SetAlertThresholds", request, response);
  }
  grpc::ServerUnaryReactor* ListAlertThresholds(
      grpc::CallbackServerContext* context,
      const v1::ListAlertThresholdsRequest* request,
      v1::ListAlertThresholdsResponse* response) override;
  // What keeps an order from matching: explain_reads.cc.
  grpc::ServerUnaryReactor* ExplainPledge(
      grpc::CallbackServerContext* context,
      const v1::ExplainPledgeRequest* request,
      v1::Explanation* response) override;
  grpc::ServerUnaryReactor* ExplainOffer(grpc::CallbackServerContext* context,
                                         const v1::ExplainOfferRequest* request,
                                         v1::Explanation* response) override;
  // Figures of matches: stats_reads.cc.
  grpc::ServerUnaryReactor* GetStats(grpc::CallbackServerContext* context,
                                     const v1::GetStatsRequest* request,
                                     v1::GetStatsResponse* response) override;

 private:
  // Admits the call, converts a mutating request, enqueues it with its
  // caller and replies with its answer (or its error) once it is durable.
  // With `explain_resting_pledge` (PostPledge), the answer of a pledge that
  // rests with nothing matched carries its explanation (FinishPostedPledge).
  grpc::ServerUnaryReactor* Mutate(grpc::CallbackServerContext* context,
                                   std::string_view method,
                                   const google::protobuf::Message* request,
                                   google::protobuf::Message* response,
                                   bool explain_resting_pledge = false);
  // Finishes a PostPledge whose command succeeded: when the pledge rests
  // open with nothing matched, reads its explanation (under the reader
  // lock, after the command, so that Apply stays as cheap as it was) into
  // the response, and replies once the state read is durable
  // (explain_reads.cc).
  void FinishPostedPledge(grpc::ServerUnaryReactor* reactor,
                          v1::PostPledgeResponse* response);
  // Replies to a read once the state it showed (applied group `seen`) is
  // durable.
  void FinishRead(grpc::ServerUnaryReactor* reactor, grpc::Status status,
                  uint64_t seen);
  // Takes one of the key's stream slots (the Authenticator's per-key
  // stream limit) for a watch, and the check of the key before each event;
  // the refusal when the key has no slot left.
  absl::Status OpenWatch(const Authenticator::Identity& who,
                         WatchAccess* access);
  // Finishes `reactor` with the refusal when `who` is one; returns whether.
  static bool Refused(grpc::ServerUnaryReactor* reactor,
                      const absl::StatusOr<Authenticator::Identity>& who);

  Authenticator* const auth_;
  // When this service was made (GetServerInfo.started_at).
  const absl::Time started_at_ = absl::Now();
  ServerLimits limits_;
  // Before sequencer_, which publishes to them: destroyed after it.
  WatchHub watchers_;
  AlertWatchHub alert_watchers_;
  CommandSequencer sequencer_;
};

}  // namespace duijie

#endif  // DUIJIE_API_EXCHANGE_SERVICE_H_
