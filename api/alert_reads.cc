// The glut-alert reads of ExchangeService (monitoring.proto): ListAlerts,
// WatchAlerts (a stream, api/watch_reactor.h) and ListAlertThresholds.
// SetAlertThresholds is a mutation (exchange_service.h's Mutate). The alerts
// themselves are the engine's (engine/alerts.h).
#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/convert.h"
#include "api/exchange_service.h"
#include "api/request_checks.h"
#include "engine/codes.h"
#include "engine/text.h"

namespace duijie {
namespace {

// INVALID_ARGUMENT unless the product prefix is within the product code
// bound and the region prefix is at most six digits.
absl::Status CheckAlertFilter(const std::string& product_prefix,
                              const std::string& region_prefix) {
  if (absl::Status s = CheckMaxBytes("product_code_prefix", product_prefix,
                                     kMaxProductCodeBytes);
      !s.ok()) {
    return s;
  }
  return CheckRegionPrefix("region_code_prefix", region_prefix);
}

}  // namespace

grpc::ServerUnaryReactor* ExchangeService::ListAlerts(
    grpc::CallbackServerContext* context, const v1::ListAlertsRequest* request,
    v1::ListAlertsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::StatusOr<Authenticator::Identity> who =
      Admit(context, "ListAlerts", Access::kPublicRead);
  if (Refused(reactor, who)) return reactor;
  uint64_t seen = 0;
  absl::Status status = CheckAlertFilter(request->product_code_prefix(),
                                         request->region_code_prefix());
  absl::StatusOr<int> limit = PageSize(request->page_size());
  if (status.ok() && !limit.ok()) status = limit.status();
  // The token is the position in the list (open alerts worst first, then
  // cleared ones newest first) as of the read: a page read after alerts
  // moved may repeat or skip one, which a position cannot avoid.
  absl::StatusOr<uint64_t> offset = ParseIdToken(request->page_token());
  if (status.ok() && !offset.ok()) status = offset.status();
  if (status.ok()) {
    AlertFilter filter;
    filter.product_code_prefix = request->product_code_prefix();
    filter.region_code_prefix = request->region_code_prefix();
    filter.include_cleared = request->include_cleared();
    CommandSequencer::AlertsReader reader(&sequencer_);
    seen = reader.seen();
    const std::vector<AlertView> alerts = reader.engine().ListAlerts(filter);
    const uint64_t end = std::min<uint64_t>(
        alerts.size(), *offset + static_cast<uint64_t>(*limit));
    for (uint64_t i = *offset; i < end; ++i) {
      ToProto(alerts[i], response->add_alerts());
    }
    if (end < alerts.size()) response->set_next_page_token(IdToken(end));
  }
  FinishRead(reactor, ToGrpcStatus(status), seen);
  return reactor;
}

grpc::ServerWriteReactor<v1::AlertEvent>* ExchangeService::WatchAlerts(
    grpc::CallbackServerContext* context,
    const v1::WatchAlertsRequest* request) {
  absl::StatusOr<Authenticator::Identity> who =
      Admit(context, "WatchAlerts", Access::kPublicRead);
  absl::Status status = who.ok()
                            ? CheckAlertFilter(request->product_code_prefix(),
                                               request->region_code_prefix())
                            : who.status();
  if (status.ok()) {
    // As in WatchMatches: no client can have seen an event after the last
    // one published, so such a cursor is a mistake, and waiting there would
    // hide it.
    const uint64_t last = sequencer_.published_alert_event_id();
    if (request->after_event_id() > last) {
      status = absl::InvalidArgumentError(
          absl::StrCat("after_event_id: ", request->after_event_id(),
                       " is beyond the last alert event, ", last));
    }
  }
  WatchAccess access;
  if (status.ok()) status = OpenWatch(*who, &access);
  AlertFilter filter;
  filter.product_code_prefix = request->product_code_prefix();
  filter.region_code_prefix = request->region_code_prefix();
  return StartWatch(std::make_shared<AlertWatchReactor>(
                        &sequencer_, &alert_watchers_, std::move(filter),
                        request->after_event_id(), /*after_match_id=*/0,
                        request->progress_events(), std::move(access)),
                    ToGrpcStatus(status));
}

grpc::ServerUnaryReactor* ExchangeService::ListAlertThresholds(
    grpc::CallbackServerContext* context, const v1::ListAlertThresholdsRequest*,
    v1::ListAlertThresholdsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::StatusOr<Authenticator::Identity> who =
      Admit(context, "ListAlertThresholds", Access::kPublicRead);
  if (Refused(reactor, who)) return reactor;
  CommandSequencer::Reader reader(&sequencer_);
  const uint64_t seen = reader.seen();
  for (const AlertThresholds& t : reader.engine().ListAlertThresholds()) {
    ToProto(t, response->add_thresholds());
  }
  FinishRead(reactor, grpc::Status::OK, seen);
  return reactor;
}

}  // namespace duijie
