// The glut-alert reads of ExchangeService (monitoring.proto): ListAlerts,
// WatchAlerts and ListAlertThresholds. SetAlertThresholds is a mutation
// (exchange_service.h's Mutate). The alerts themselves are the engine's
// (engine/alerts.h).
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
    CommandSequencer::Reader reader(&sequencer_);
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
    grpc::CallbackServerContext*, const v1::WatchAlertsRequest*) {
  return new NotYetWatch();
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
