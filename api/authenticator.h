// Authenticator: who is calling. Turns the `authorization: Bearer <secret>`
// metadata of a call into a Caller (engine/command.h) by the SHA-256 of
// the secret, and holds what is enforced per key outside the engine: the
// key's expiry and revocation by the server's clock, a token bucket of
// commands per second, and a count of open streams.
//
// The keys are the engine's (CreateKey/RevokeKey are journaled commands);
// this is the server's copy, for threads that must not wait for the
// writer. It is loaded from the recovered engine at start and updated by
// the Admin service as soon as a key command is applied, before its reply,
// so a revoked key fails on every thread from then on. The bootstrap
// admin key (--admin_key_file) lives only here, as key_id 0.
//
// Secrets are compared in constant time (CRYPTO_memcmp on the hash) and
// never stored or logged; only their SHA-256 is kept.
//
// Thread-safe.
#ifndef DUIJIE_API_AUTHENTICATOR_H_
#define DUIJIE_API_AUTHENTICATOR_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/log_limit.h"
#include "engine/command.h"
#include "engine/engine.h"
#include "grpcpp/server_context.h"

namespace duijie {

struct AuthOptions {
  // False (--insecure_no_auth): every call acts as ADMIN, unauthenticated.
  // For local experiments only.
  bool enabled = true;
  // The bootstrap ADMIN key's secret (principal "admin"); empty: none.
  std::string admin_secret;
  // Open orders per supplier or buyer (Caller::max_open_orders); 0: none.
  uint64_t max_open_orders = 100000;
  // Commands per second per key (a token bucket of burst_per_key); 0: no
  // limit. Reads count as one command each.
  double rate_per_key = 10000;
  double burst_per_key = 20000;
  // Streams (WatchMatches, Submit) one key may hold open at once; 0: none.
  int max_streams_per_key = 16;
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

// A secret for a new key: "dj_" and 64 hex digits (32 bytes from
// OpenSSL's CSPRNG).
std::string NewSecret();
// The SHA-256 of `secret`, 32 raw bytes.
std::string SecretHash(std::string_view secret);

class Authenticator {
 public:
  // Per-key state that outlives a call: the bucket and the stream count.
  struct KeyState;

  // An authenticated call: who, and the key's state.
  struct Identity {
    std::shared_ptr<const Caller> caller;
    std::shared_ptr<KeyState> key;
    bool admin() const {
      return caller->principal.role == static_cast<int>(Role::kAdmin);
    }
  };

  // Holds one of a key's stream slots until destroyed.
  class StreamSlot {
   public:
    StreamSlot() = default;
    explicit StreamSlot(std::shared_ptr<KeyState> key);
    StreamSlot(StreamSlot&&) = default;
    StreamSlot& operator=(StreamSlot&&) = default;
    ~StreamSlot();

   private:
    std::shared_ptr<KeyState> key_;
  };

  explicit Authenticator(AuthOptions options);
  ~Authenticator();

  // Takes every key of `engine` (at start, before serving).
  void LoadKeys(const Engine& engine);
  // Adds or replaces one key (after CreateKey or RevokeKey was applied).
  void PutKey(const ApiKey& key);

  // The caller of `context`, or UNAUTHENTICATED saying why (no header, a
  // malformed one, an unknown, revoked or expired key). `method` names the
  // RPC in the log line a failure writes.
  absl::StatusOr<Identity> Authenticate(const grpc::ServerContextBase& context,
                                        std::string_view method);
  // UNAUTHENTICATED when the key was revoked or expired since; for streams,
  // at each message.
  absl::Status StillValid(const Identity& identity) const;
  // Takes `n` commands from the key's bucket; returns how many it may send
  // now (0..n). The rest are RESOURCE_EXHAUSTED (RateLimited()).
  int64_t TakeTokens(const Identity& identity, int64_t n);
  static absl::Status RateLimited(const AuthOptions& options);
  // A stream slot, or RESOURCE_EXHAUSTED naming max_streams_per_key.
  absl::StatusOr<StreamSlot> OpenStream(const Identity& identity);

  // Logs a refused call: principal (or "anonymous"), method and reason.
  // Rate-limited: LogRateLimiter::kBurst lines a second, then a count of
  // the rest.
  void LogRefusal(std::string_view principal, std::string_view method,
                  const absl::Status& status);

  const AuthOptions& options() const { return options_; }

 private:
  struct Entry;

  const AuthOptions options_;
  mutable absl::Mutex mu_;
  // By the first 8 bytes of the secret's hash; the whole hash is compared
  // in constant time.
  absl::flat_hash_map<uint64_t, std::shared_ptr<Entry>> by_hash_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, std::shared_ptr<Entry>> by_id_
      ABSL_GUARDED_BY(mu_);
  std::shared_ptr<Entry> insecure_;  // the caller when !options_.enabled

  // Refusal lines, a burst a second (log_limit.h).
  LogRateLimiter refusals_{absl::Seconds(1)};
};

}  // namespace duijie

#endif  // DUIJIE_API_AUTHENTICATOR_H_
