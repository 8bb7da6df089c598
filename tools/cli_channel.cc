// The CLI's channel. See cli_channel.h.
#include "tools/cli_channel.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "grpcpp/support/client_interceptor.h"

namespace duijie::cli {
namespace {

// The file's bytes, or false with *error naming `flag` and the file.
bool ReadFile(const std::string& flag, const std::string& path,
              std::string* bytes, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error =
        absl::StrCat(flag, ": cannot read ", path, ": ", std::strerror(errno));
    return false;
  }
  std::ostringstream out;
  out << in.rdbuf();
  *bytes = out.str();
  return true;
}

absl::Mutex g_detail_mu;
std::string* g_detail ABSL_GUARDED_BY(g_detail_mu) = new std::string();

// Keeps the ErrorDetail a call's status came with.
class ErrorDetailInterceptor final : public grpc::experimental::Interceptor {
 public:
  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::POST_RECV_STATUS)) {
      auto* trailers = methods->GetRecvTrailingMetadata();
      if (trailers != nullptr) {
        auto it = trailers->find("duijie-error-bin");
        if (it != trailers->end()) {
          absl::MutexLock lock(&g_detail_mu);
          g_detail->assign(it->second.data(), it->second.size());
        }
      }
    }
    methods->Proceed();
  }
};

class ErrorDetailInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new ErrorDetailInterceptor();
  }
};

std::shared_ptr<grpc::Channel> MakeChannel(
    const std::string& server,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
  std::vector<
      std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(std::make_unique<ErrorDetailInterceptorFactory>());
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      server, credentials, grpc::ChannelArguments(), std::move(interceptors));
}

}  // namespace

std::string TakeErrorDetail() {
  absl::MutexLock lock(&g_detail_mu);
  std::string detail = std::move(*g_detail);
  g_detail->clear();
  return detail;
}

std::shared_ptr<grpc::Channel> OpenChannel(const std::string& server,
                                           const TlsFlags& tls,
                                           std::string* error) {
  if (tls.ca.empty()) {
    if (!tls.cert.empty() || !tls.key.empty()) {
      *error = "--tls_cert and --tls_key need --tls_ca (the CA of the server)";
      return nullptr;
    }
    return MakeChannel(server, grpc::InsecureChannelCredentials());
  }
  if (tls.cert.empty() != tls.key.empty()) {
    *error = "--tls_cert and --tls_key go together";
    return nullptr;
  }
  grpc::SslCredentialsOptions ssl;
  if (!ReadFile("--tls_ca", tls.ca, &ssl.pem_root_certs, error)) return nullptr;
  if (!tls.cert.empty() &&
      (!ReadFile("--tls_cert", tls.cert, &ssl.pem_cert_chain, error) ||
       !ReadFile("--tls_key", tls.key, &ssl.pem_private_key, error))) {
    return nullptr;
  }
  return MakeChannel(server, grpc::SslCredentials(ssl));
}

}  // namespace duijie::cli
