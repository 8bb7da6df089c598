// The CLI's channel. See cli_channel.h.
#include "tools/cli_channel.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

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

}  // namespace

std::shared_ptr<grpc::Channel> OpenChannel(const std::string& server,
                                           const TlsFlags& tls,
                                           std::string* error) {
  if (tls.ca.empty()) {
    if (!tls.cert.empty() || !tls.key.empty()) {
      *error = "--tls_cert and --tls_key need --tls_ca (the CA of the server)";
      return nullptr;
    }
    return grpc::CreateChannel(server, grpc::InsecureChannelCredentials());
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
  return grpc::CreateChannel(server, grpc::SslCredentials(ssl));
}

}  // namespace duijie::cli
