// GetStats of ExchangeService (monitoring.proto): figures of matches, the
// read behind the daily report (日报) and the quarterly ledgers (调度台账).
//
// Who sees what: matches are private to their parties (ListMatches narrows
// to the caller's), and figures are sums of matches, so a SUPPLIER, BUYER
// or PLATFORM key's figures count only the matches of its own suppliers
// and buyers (a filter naming another party narrows further, to nothing
// when the key is party to none of them). ADMIN and OBSERVER keys are the
// offices that watch the whole exchange: their figures count every match.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/convert.h"
#include "api/exchange_service.h"
#include "api/request_checks.h"

namespace duijie {
namespace {

// The parties whose matches `who` may count; sees all for ADMIN and
// OBSERVER.
void NarrowToVisible(const Authenticator::Identity& who, MatchFilter* visible) {
  const Principal& me = who.caller->principal;
  if (who.admin() || me.role == static_cast<int>(Role::kObserver)) return;
  visible->restricted = true;
  visible->visible_supplier_ids = me.supplier_ids;
  visible->visible_buyer_ids = me.buyer_ids;
}

absl::Status CheckTimes(const v1::GetStatsRequest& request,
                        const StatsQuery& query) {
  if (request.has_from() && request.has_to() && query.from >= query.to) {
    return absl::InvalidArgumentError(absl::StrCat(
        "from: ", request.from().seconds(), "s is not before to ",
        request.to().seconds(), "s; figures count from <= matched_at < to"));
  }
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* ExchangeService::GetStats(
    grpc::CallbackServerContext* context, const v1::GetStatsRequest* request,
    v1::GetStatsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::StatusOr<Authenticator::Identity> who =
      Admit(context, "GetStats", Access::kPublicRead);
  if (Refused(reactor, who)) return reactor;
  uint64_t seen = 0;
  absl::Status status = CheckFilters(*request);
  absl::StatusOr<StatsQuery> query = ToStatsQuery(*request);
  if (status.ok()) status = query.status();
  absl::StatusOr<int> limit = StatsPageSize(request->page_size());
  if (status.ok()) status = limit.status();
  absl::StatusOr<std::vector<std::string>> after;
  if (status.ok()) {
    after = ParseStatsToken(request->page_token(), query->group_by.size());
    status = after.status();
  }
  if (status.ok()) status = CheckTimes(*request, *query);
  if (status.ok()) {
    NarrowToVisible(*who, &query->visible);
    absl::StatusOr<StatsView> view;
    {
      CommandSequencer::Reader reader(&sequencer_);
      seen = reader.seen();
      view = reader.engine().GetStats(*query);
    }
    status = view.status();
    if (status.ok()) {
      auto it = view->rows.begin();
      if (!request->page_token().empty()) {
        it = std::upper_bound(
            view->rows.begin(), view->rows.end(), *after,
            [](const std::vector<std::string>& keys, const StatsRowView& row) {
              return keys < row.keys;
            });
      }
      for (int n = 0; it != view->rows.end() && n < *limit; ++it, ++n) {
        ToProto(*it, response->add_rows());
      }
      if (it != view->rows.end() && !response->rows().empty()) {
        const v1::StatsRow& last = response->rows(response->rows_size() - 1);
        response->set_next_page_token(StatsToken(
            std::vector<std::string>(last.keys().begin(), last.keys().end())));
      }
      ToProto(view->total, response->mutable_total());
    }
  }
  FinishRead(reactor, ToGrpcStatus(status), seen);
  return reactor;
}

}  // namespace duijie
