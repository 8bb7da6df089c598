// Conversions between the public proto contract (duijie.v1) and the engine's
// types, plus the pieces of the API boundary that are pure functions: time
// conversion, enum range checks, request fingerprints, page tokens and the
// mapping of absl::Status to grpc::Status.
//
// Nothing here touches the engine or any shared state; every function may be
// called from any thread.
#ifndef DUIJIE_API_CONVERT_H_
#define DUIJIE_API_CONVERT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "duijie/v1/exchange.pb.h"
#include "engine/command.h"
#include "engine/types.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"
#include "grpcpp/support/status.h"

namespace duijie {

// --- Time -------------------------------------------------------------------

// Returns the timestamp as microseconds since the epoch (nanos below a
// microsecond are dropped). INVALID_ARGUMENT naming `field` when the
// timestamp is outside 0001-01-01..9999-12-31 or its nanos are out of range.
absl::StatusOr<Micros> ToMicros(const google::protobuf::Timestamp& ts,
                                absl::string_view field);
// Stores `micros` into *ts, rounding towards negative infinity.
void ToTimestamp(Micros micros, google::protobuf::Timestamp* ts);

// --- Status -----------------------------------------------------------------

// Maps an absl::Status to the grpc::Status with the same code and message.
grpc::Status ToGrpcStatus(const absl::Status& status);
// Stores `status` (not OK) into a Submit result.
void ToCommandError(const absl::Status& status, v1::CommandError* error);

// --- Requests -> engine commands --------------------------------------------
// Each checks what the engine cannot see (enum values outside the proto
// enum, malformed or missing timestamps) and copies the rest; the engine
// validates the values. Errors are INVALID_ARGUMENT naming the field. The
// command's fingerprint is CommandFingerprint (engine/command.h) when
// request_id is set, 0 when it is empty (the engine ignores it then).

// Any mutating request (the service's handlers and Submit use this one):
// dispatches on the request's type to the conversions below. A new
// mutating RPC adds its two conversions and one line to the table in
// convert.cc.
absl::StatusOr<Command> ToCommand(const google::protobuf::Message& request);
// One command of a Submit batch; INVALID_ARGUMENT when none is set.
absl::StatusOr<Command> ToCommand(const v1::Command& command);

absl::StatusOr<Command> ToCommand(const v1::UpsertRegionRequest& request);
absl::StatusOr<Command> ToCommand(const v1::UpsertPairingRequest& request);
absl::StatusOr<Command> ToCommand(const v1::DeletePairingRequest& request);
absl::StatusOr<Command> ToCommand(const v1::PostOfferRequest& request);
absl::StatusOr<Command> ToCommand(const v1::PostPledgeRequest& request);
absl::StatusOr<Command> ToCommand(const v1::CancelOfferRequest& request);
absl::StatusOr<Command> ToCommand(const v1::CancelPledgeRequest& request);
absl::StatusOr<Command> ToCommand(const v1::ShipMatchRequest& request);
absl::StatusOr<Command> ToCommand(const v1::AcceptMatchRequest& request);
absl::StatusOr<Command> ToCommand(const v1::DeclineMatchRequest& request);
absl::StatusOr<Command> ToCommand(const v1::UpsertBuyerRequest& request);
absl::StatusOr<Command> ToCommand(const v1::AmendOfferRequest& request);
absl::StatusOr<Command> ToCommand(const v1::AmendPledgeRequest& request);
absl::StatusOr<Command> ToCommand(const v1::SetClearingPolicyRequest& request);
absl::StatusOr<Command> ToCommand(const v1::SetAlertThresholdsRequest& request);
absl::StatusOr<Command> ToCommand(const v1::UpsertProductRequest& request);

// --- Engine -> proto --------------------------------------------------------

void ToProto(const Region& region, v1::Region* out);
void ToProto(const Pairing& pairing, v1::Pairing* out);
void ToProto(const OfferView& offer, v1::Offer* out);
void ToProto(const PledgeView& pledge, v1::Pledge* out);
void ToProto(const MatchView& match, v1::Match* out);
void ToProto(const MatchEventView& event, v1::MatchEvent* out);
void ToProto(const BookLine& line, v1::BookLine* out);
void ToProto(const ClearingPolicyResult& policy, v1::ClearingPolicy* out);
void ToProto(const Buyer& buyer, v1::Buyer* out);
void ToProto(const Product& product, v1::Product* out);
void ToProto(const BuyerProgress& progress, v1::BuyerProgress* out);
void ToProto(const Explanation& explanation, v1::Explanation* out);
void ToProto(const AlertThresholds& thresholds, v1::AlertThresholds* out);
void ToProto(const AlertView& alert, v1::Alert* out);
void ToProto(const AlertEventView& event, v1::AlertEvent* out);

// Stores a command's answer into the response of its request's RPC.
void ToResponse(const google::protobuf::Message& request,
                const CommandResult& result,
                google::protobuf::Message* response);
// Stores the answer to one command of a Submit batch, whose oneof case
// was `command_case`, into its result.
void ToCommandResult(v1::Command::CommandCase command_case,
                     const CommandResult& result, v1::CommandResult* out);

// The proto filters, in engine terms.
OrderFilter ToOrderFilter(const v1::ListOffersRequest& request);
OrderFilter ToOrderFilter(const v1::ListPledgesRequest& request);
MatchFilter ToMatchFilter(const v1::ListMatchesRequest& request);
MatchFilter ToMatchFilter(const v1::WatchMatchesRequest& request);
// The grouping, the filter and the times of a GetStats request (not its
// page, nor the caller's parties): INVALID_ARGUMENT naming group_by for a
// dimension outside the enum or DIMENSION_UNSPECIFIED, from or to for a
// malformed timestamp. The engine checks the rest (GetStats in engine.h).
absl::StatusOr<StatsQuery> ToStatsQuery(const v1::GetStatsRequest& request);
void ToProto(const StatsRowView& row, v1::StatsRow* out);
BuyerFilter ToBuyerFilter(const v1::ListBuyersRequest& request);

// --- Paging -----------------------------------------------------------------

inline constexpr int kDefaultPageSize = 100;
inline constexpr int kMaxPageSize = 1000;

// 0 -> kDefaultPageSize, above kMaxPageSize -> kMaxPageSize, negative ->
// INVALID_ARGUMENT.
absl::StatusOr<int> PageSize(int32_t page_size);
// An id token is the last id of the previous page in decimal; "" -> 0.
// GetStats pages: 0 -> kDefaultStatsPageSize; negative or above
// kMaxStatsPageSize is INVALID_ARGUMENT naming page_size (a page of
// figures is never cut short silently).
inline constexpr int kDefaultStatsPageSize = 1000;
inline constexpr int kMaxStatsPageSize = 10000;
absl::StatusOr<int> StatsPageSize(int32_t page_size);
// A GetStats page token holds the keys of the last row sent; the next page
// starts after them. `dimensions` is the request's group_by size: a token
// with another number of keys is malformed.
std::string StatsToken(const std::vector<std::string>& keys);
absl::StatusOr<std::vector<std::string>> ParseStatsToken(
    absl::string_view token, size_t dimensions);

absl::StatusOr<uint64_t> ParseIdToken(absl::string_view token);
std::string IdToken(uint64_t id);
// A region token is the last region code of the previous page.
absl::StatusOr<std::string> ParseRegionToken(absl::string_view token);
// A pairing token is "east_code,west_code" of the last pairing; "" -> {"",""}.
absl::StatusOr<std::pair<std::string, std::string>> ParsePairingToken(
    absl::string_view token);
std::string PairingToken(absl::string_view east_code,
                         absl::string_view west_code);
// A book token is the product code of the last line of the previous page.
absl::StatusOr<std::string> ParseProductToken(absl::string_view token);

// The most fills a PostOffer or PostPledge response (and one Submit
// result) carries inline; match_count and omitted_match_count tell the
// rest, which ListMatches pages through (exchange.proto).
inline constexpr size_t kMaxInlineMatches = 1000;

}  // namespace duijie

#endif  // DUIJIE_API_CONVERT_H_
