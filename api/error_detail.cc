// ErrorDetail in trailing metadata. See error_detail.h.
#include "api/error_detail.h"

#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace duijie {
namespace {

// One path segment: a proto field name, optionally indexed ("codes[2]").
bool IsSegment(absl::string_view s) {
  if (size_t bracket = s.find('['); bracket != absl::string_view::npos) {
    absl::string_view index = s.substr(bracket + 1);
    if (index.size() < 2 || index.back() != ']') return false;
    index.remove_suffix(1);
    for (char c : index) {
      if (!absl::ascii_isdigit(c)) return false;
    }
    s = s.substr(0, bracket);
  }
  if (s.empty() || !(absl::ascii_islower(s[0]) || s[0] == '_')) return false;
  for (char c : s) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_')) {
      return false;
    }
  }
  return true;
}

class ErrorDetailInterceptor final : public grpc::experimental::Interceptor {
 public:
  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      std::multimap<std::string, std::string>* trailers =
          methods->GetSendTrailingMetadata();
      if (!status.ok() && !status.error_message().empty() &&
          trailers != nullptr && trailers->count(kErrorDetailKey) == 0) {
        trailers->emplace(
            kErrorDetailKey,
            ErrorDetailOf(status.error_message()).SerializeAsString());
      }
    }
    methods->Proceed();
  }
};

class ErrorDetailInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    if (!absl::StartsWith(info->method(), "/duijie.v1.")) return nullptr;
    return new ErrorDetailInterceptor();
  }
};

}  // namespace

v1::ErrorDetail ErrorDetailOf(absl::string_view message) {
  v1::ErrorDetail detail;
  const size_t colon = message.find(": ");
  bool path = colon != absl::string_view::npos && colon > 0;
  if (path) {
    for (absl::string_view segment :
         absl::StrSplit(message.substr(0, colon), '.')) {
      path = path && IsSegment(segment);
    }
  }
  if (path) {
    detail.set_field(std::string(message.substr(0, colon)));
    detail.set_reason(std::string(message.substr(colon + 2)));
  } else {
    detail.set_reason(std::string(message));
  }
  return detail;
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeErrorDetailInterceptorFactory() {
  return std::make_unique<ErrorDetailInterceptorFactory>();
}

}  // namespace duijie
