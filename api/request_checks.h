// Bounds on the filters of the read RPCs. A filter is compared, never
// stored, so an unbounded one only costs: each is held to the size of what
// it filters (an id, a product code, a region code) and refused with
// INVALID_ARGUMENT naming the field and the limit, the value echoed only
// in part (text.h: EchoValue).
#ifndef DUIJIE_API_REQUEST_CHECKS_H_
#define DUIJIE_API_REQUEST_CHECKS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "duijie/v1/exchange.pb.h"

namespace duijie {

// INVALID_ARGUMENT unless `prefix` is at most six ASCII digits.
absl::Status CheckRegionPrefix(absl::string_view field,
                               absl::string_view prefix);

// OK when every filter of the request is within its bound: ids at most
// kMaxIdBytes, product code prefixes at most kMaxProductCodeBytes, region
// code prefixes at most six digits.
absl::Status CheckFilters(const v1::ListRegionsRequest& request);
absl::Status CheckFilters(const v1::ListProductsRequest& request);
absl::Status CheckFilters(const v1::ListPairingsRequest& request);
absl::Status CheckFilters(const v1::ListOffersRequest& request);
absl::Status CheckFilters(const v1::ListPledgesRequest& request);
absl::Status CheckFilters(const v1::ListMatchesRequest& request);
absl::Status CheckFilters(const v1::WatchMatchesRequest& request);
absl::Status CheckFilters(const v1::GetBookRequest& request);
absl::Status CheckFilters(const v1::ListBuyersRequest& request);
absl::Status CheckFilters(const v1::GetBuyerRequest& request);
absl::Status CheckFilters(const v1::GetBuyerProgressRequest& request);
// GetStats: its StatsFilter, fields named "filter.<field>".
absl::Status CheckFilters(const v1::GetStatsRequest& request);

}  // namespace duijie

#endif  // DUIJIE_API_REQUEST_CHECKS_H_
