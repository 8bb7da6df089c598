// Bounds on read filters. See request_checks.h.
#include "api/request_checks.h"

#include <algorithm>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "engine/engine.h"
#include "engine/text.h"

namespace duijie {
namespace {

std::string_view Std(absl::string_view s) { return {s.data(), s.size()}; }

absl::Status CheckId(absl::string_view field, absl::string_view id) {
  return CheckMaxBytes(Std(field), Std(id), kMaxIdBytes);
}

absl::Status CheckProductPrefix(absl::string_view field,
                                absl::string_view prefix) {
  return CheckMaxBytes(Std(field), Std(prefix), kMaxProductCodeBytes);
}

// The first error of `checks`, or OK.
absl::Status First(std::initializer_list<absl::Status> checks) {
  for (const absl::Status& s : checks) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckRegionPrefix(absl::string_view field,
                               absl::string_view prefix) {
  if (prefix.size() > 6 ||
      !std::all_of(prefix.begin(), prefix.end(), absl::ascii_isdigit)) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": must be at most six digits: ", EchoValue(Std(prefix))));
  }
  return absl::OkStatus();
}

absl::Status CheckFilters(const v1::ListRegionsRequest& request) {
  return First(
      {CheckRegionPrefix("code_prefix", request.code_prefix()),
       CheckMaxCharacters("name", request.name(), kMaxRegionNameCharacters)});
}

absl::Status CheckFilters(const v1::ListProductsRequest& request) {
  return First(
      {CheckProductPrefix("code_prefix", request.code_prefix()),
       CheckMaxCharacters("name", request.name(), kMaxProductNameCharacters)});
}

absl::Status CheckFilters(const v1::ListPairingsRequest& request) {
  return CheckRegionPrefix("code_prefix", request.code_prefix());
}

absl::Status CheckFilters(const v1::ListOffersRequest& request) {
  return First(
      {CheckId("supplier_id", request.supplier_id()),
       CheckProductPrefix("product_code_prefix", request.product_code_prefix()),
       CheckRegionPrefix("region_code_prefix", request.region_code_prefix())});
}

absl::Status CheckFilters(const v1::ListPledgesRequest& request) {
  return First(
      {CheckId("buyer_id", request.buyer_id()),
       CheckProductPrefix("product_code_prefix", request.product_code_prefix()),
       CheckRegionPrefix("region_code_prefix", request.region_code_prefix())});
}

absl::Status CheckFilters(const v1::ListMatchesRequest& request) {
  return First(
      {CheckId("supplier_id", request.supplier_id()),
       CheckId("buyer_id", request.buyer_id()),
       CheckRegionPrefix("region_code_prefix", request.region_code_prefix())});
}

absl::Status CheckFilters(const v1::WatchMatchesRequest& request) {
  return First(
      {CheckId("supplier_id", request.supplier_id()),
       CheckId("buyer_id", request.buyer_id()),
       CheckRegionPrefix("region_code_prefix", request.region_code_prefix())});
}

absl::Status CheckFilters(const v1::GetBookRequest& request) {
  return CheckProductPrefix("product_code_prefix",
                            request.product_code_prefix());
}

absl::Status CheckFilters(const v1::ListBuyersRequest& request) {
  if (!v1::BuyerKind_IsValid(request.kind())) {
    return absl::InvalidArgumentError(
        absl::StrCat("kind: unknown enum value ", request.kind()));
  }
  return First(
      {CheckRegionPrefix("city_code_prefix", request.city_code_prefix()),
       CheckId("alliance_id", request.alliance_id()),
       CheckId("page_token", request.page_token())});
}

absl::Status CheckFilters(const v1::GetBuyerRequest& request) {
  return CheckId("buyer_id", request.buyer_id());
}

absl::Status CheckFilters(const v1::GetBuyerProgressRequest& request) {
  return First({CheckId("buyer_id", request.buyer_id()),
                CheckId("alliance_id", request.alliance_id())});
}

absl::Status CheckFilters(const v1::GetStatsRequest& request) {
  const v1::StatsFilter& f = request.filter();
  return First(
      {CheckProductPrefix("filter.product_code_prefix",
                          f.product_code_prefix()),
       CheckRegionPrefix("filter.origin_region_prefix",
                         f.origin_region_prefix()),
       CheckRegionPrefix("filter.buyer_city_prefix", f.buyer_city_prefix()),
       CheckId("filter.buyer_id", f.buyer_id()),
       CheckId("filter.supplier_id", f.supplier_id())});
}

}  // namespace duijie
