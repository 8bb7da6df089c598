// KeyRegistry: the API keys the engine knows, each a principal (name, role,
// the parties it acts for) known by the SHA-256 of its secret, with the
// times it was created, expires and was revoked. Changed only by the
// CreateKey and RevokeKey commands, so keys and revocations are journaled,
// replayed and part of the state hash like any other state.
//
// The engine never sees a secret and never decides whether a key is
// expired at some wall-clock time: the server authenticates callers
// against its own copy of these records (api/authenticator.h) by its
// clock. What a role may do is in access.h.
#ifndef DUIJIE_ENGINE_API_KEYS_H_
#define DUIJIE_ENGINE_API_KEYS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "engine/byte_codec.h"
#include "engine/command.h"
#include "engine/types.h"

namespace duijie {

inline constexpr size_t kMaxPrincipalNameBytes = 64;
// Parties one platform key may act for.
inline constexpr size_t kMaxPrincipalParties = 1000;
inline constexpr size_t kSecretHashBytes = 32;

// INVALID_ARGUMENT naming `field` (e.g. "principal.role"), and every other
// bad field after it (violations.h), unless the
// principal is well formed: a name, a role, and the parties its role
// needs (SUPPLIER one supplier_id, BUYER one buyer_id, PLATFORM one or
// more of either, ADMIN and OBSERVER none).
absl::Status CheckPrincipal(std::string_view field, const Principal& p);

class KeyRegistry {
 public:
  // INVALID_ARGUMENT for a malformed principal, hash or expiry (an expiry
  // must be later than `now`).
  absl::Status CheckCreate(const CreateKeyCommand& c, Micros now) const;
  // NOT_FOUND for an unknown key, FAILED_PRECONDITION for a revoked one.
  absl::Status CheckRevoke(uint64_t key_id) const;

  // After the matching Check passed. Key ids count from 1.
  const ApiKey& Create(const CreateKeyCommand& c, Micros now);
  const ApiKey& Revoke(uint64_t key_id, Micros now);

  // Null for an unknown id.
  const ApiKey* Find(uint64_t key_id) const;
  // Keys with key_id > after_id, ascending, at most `limit`; *more when
  // there are further ones.
  std::vector<ApiKey> List(uint64_t after_id, int limit, bool* more) const;
  size_t size() const { return keys_.size(); }

  // By key_id (engine_state.cc's layout). Load returns false on malformed
  // input.
  void Save(ByteWriter& w) const;
  bool Load(ByteReader& r);

 private:
  std::vector<ApiKey> keys_;  // key_id - 1
  // The hashes in use: two keys never share a secret.
  absl::flat_hash_set<std::string> hashes_;
};

}  // namespace duijie

#endif  // DUIJIE_ENGINE_API_KEYS_H_
