// ErrorDetail in trailing metadata. See error_detail.h.
#include "api/error_detail.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "engine/violations.h"

namespace duijie {
namespace {

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
        // absl::StatusCode and grpc::StatusCode share their numbers.
        const absl::Status as_absl(
            static_cast<absl::StatusCode>(status.error_code()),
            status.error_message());
        trailers->emplace(kErrorDetailKey,
                          ErrorDetailOf(as_absl).SerializeAsString());
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
  FieldViolation split =
      SplitFieldMessage(std::string_view(message.data(), message.size()));
  v1::ErrorDetail detail;
  detail.set_field(std::move(split.field));
  detail.set_reason(std::move(split.reason));
  return detail;
}

v1::ErrorDetail ErrorDetailOf(const absl::Status& status) {
  v1::ErrorDetail detail = ErrorDetailOf(status.message());
  std::vector<FieldViolation> violations = ViolationsOf(status);
  if (violations.empty()) return detail;
  detail.set_field(violations[0].field);
  detail.set_reason(violations[0].reason);
  for (FieldViolation& v : violations) {
    v1::FieldViolation* out = detail.add_violations();
    out->set_field(std::move(v.field));
    out->set_reason(std::move(v.reason));
  }
  return detail;
}

void AddErrorDetail(const absl::Status& status,
                    grpc::ServerContextBase* context) {
  if (status.ok()) return;
  context->AddTrailingMetadata(kErrorDetailKey,
                               ErrorDetailOf(status).SerializeAsString());
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeErrorDetailInterceptorFactory() {
  return std::make_unique<ErrorDetailInterceptorFactory>();
}

}  // namespace duijie
