// Conversions of the Admin service's key messages (duijie.v1 admin.proto)
// to and from the engine's key commands and records. Pure functions, like
// convert.h.
#ifndef DUIJIE_API_KEY_CONVERT_H_
#define DUIJIE_API_KEY_CONVERT_H_

#include "absl/status/statusor.h"
#include "duijie/v1/admin.pb.h"
#include "engine/command.h"
#include "engine/types.h"

namespace duijie {

// The command with no secret hash yet: its fingerprint (for request_id)
// covers the principal and the expiry only, so a retry, which the server
// gives a new secret, is the same request. The caller fills
// CreateKeyCommand::secret_sha256 before applying it.
absl::StatusOr<Command> ToCommand(const v1::CreateKeyRequest& request);
absl::StatusOr<Command> ToCommand(const v1::RevokeKeyRequest& request);

// Never copies the secret's hash.
void ToProto(const ApiKey& key, v1::ApiKey* out);

}  // namespace duijie

#endif  // DUIJIE_API_KEY_CONVERT_H_
