// Transport security of duijie-server: the server credentials for its
// listening port, from PEM files named by flags (server_main.cc).
//
//   cert + key            TLS: clients verify the server's certificate.
//   cert + key + client CA  mutual TLS: in addition, every client must
//                         present a certificate that chains to that CA, or
//                         the handshake fails before any call.
//   none                  plaintext (for loopback, tests and trusted
//                         networks; the server warns when it listens
//                         elsewhere without TLS).
//
// The certificates are read once at start; replacing them needs a
// restart.
#ifndef DUIJIE_API_TLS_H_
#define DUIJIE_API_TLS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/security/server_credentials.h"

namespace duijie {

struct TlsOptions {
  std::string cert_file;       // PEM certificate chain, the server's first
  std::string key_file;        // PEM private key of that certificate
  std::string client_ca_file;  // PEM CA bundle; set: clients must present
                               // a certificate that chains to it
  bool enabled() const { return !cert_file.empty(); }
};

// The credentials `options` ask for. INVALID_ARGUMENT when a file is given
// without the one it needs (a key without a certificate, a client CA
// without TLS); NOT_FOUND or PERMISSION_DENIED, naming the file, when one
// cannot be read; INVALID_ARGUMENT when one holds no PEM block.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsOptions& options);

// Whether `host` (the host part of --listen, "[::1]" style allowed) is a
// loopback address or "localhost": only such a listener may go without TLS
// unremarked.
bool IsLoopbackHost(absl::string_view host);

// Reads a whole file; NOT_FOUND or PERMISSION_DENIED naming it.
absl::StatusOr<std::string> ReadPemFile(const std::string& path);

}  // namespace duijie

#endif  // DUIJIE_API_TLS_H_
