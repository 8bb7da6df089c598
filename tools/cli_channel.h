// The CLI's connection to duijie-server: plaintext, TLS or mutual TLS, from
// the global flags --tls_ca, --tls_cert and --tls_key.
#ifndef DUIJIE_TOOLS_CLI_CHANNEL_H_
#define DUIJIE_TOOLS_CLI_CHANNEL_H_

#include <memory>
#include <string>

#include "grpcpp/channel.h"

namespace duijie::cli {

struct TlsFlags {
  std::string ca;    // PEM CA bundle the server's certificate must chain to
  std::string cert;  // PEM client certificate chain (mutual TLS)
  std::string key;   // PEM private key of `cert`
};

// A channel to `server`: TLS when tls.ca is set (the server's certificate
// must chain to it and name the host of `server`), presenting tls.cert and
// tls.key when set; plaintext otherwise. Null with *error set (the flag
// and file at fault) when a file cannot be read or a flag lacks its pair.
std::shared_ptr<grpc::Channel> OpenChannel(const std::string& server,
                                           const TlsFlags& tls,
                                           std::string* error);

// The ErrorDetail (duijie.v1, serialized) of the last call on a channel of
// OpenChannel that ended with one in its trailing metadata
// ("duijie-error-bin"), taken: empty when none came since the last take.
std::string TakeErrorDetail();

}  // namespace duijie::cli

#endif  // DUIJIE_TOOLS_CLI_CHANNEL_H_
