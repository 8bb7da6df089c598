// ErrorDetail (exchange.proto): the machine-readable form of an error
// message "field.path: reason", sent with every refusal of a duijie.v1
// call in the trailing metadata key kErrorDetailKey, and set in each
// Submit CommandError.
#ifndef DUIJIE_API_ERROR_DETAIL_H_
#define DUIJIE_API_ERROR_DETAIL_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "duijie/v1/exchange.pb.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_interceptor.h"

namespace duijie {

// The trailing metadata key of a serialized v1::ErrorDetail.
inline constexpr char kErrorDetailKey[] = "duijie-error-bin";

// Splits `message` at its first ": " when the text before it is a field
// path (dot-separated [a-z_][a-z0-9_]* names, each optionally indexed
// "[N]"): field = that path, reason = the rest. Otherwise field is empty
// and reason is the whole message.
v1::ErrorDetail ErrorDetailOf(absl::string_view message);

// The same of a status, with its violations (engine/violations.h): every
// bad field of an INVALID_ARGUMENT, field and reason being the first's.
v1::ErrorDetail ErrorDetailOf(const absl::Status& status);

// Adds `status`'s ErrorDetail to the call's trailing metadata, before the
// call finishes with it: the interceptor sees only the grpc::Status, whose
// message names the violations after the first but not their reasons.
// Nothing for OK.
void AddErrorDetail(const absl::Status& status,
                    grpc::ServerContextBase* context);

// Makes interceptors that add kErrorDetailKey to every non-OK status with a
// message that a duijie.v1 method sends (other services are left alone).
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeErrorDetailInterceptorFactory();

}  // namespace duijie

#endif  // DUIJIE_API_ERROR_DETAIL_H_
