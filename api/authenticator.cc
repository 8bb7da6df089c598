// Authenticator: see authenticator.h.
#include "api/authenticator.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/text.h"

namespace duijie {

struct Authenticator::KeyState {
  std::atomic<Micros> expires_at{0};  // 0: never
  std::atomic<Micros> revoked_at{0};  // 0: not revoked
  std::atomic<int> streams{0};
  absl::Mutex bucket_mu;
  double tokens ABSL_GUARDED_BY(bucket_mu) = 0;
  absl::Time refilled ABSL_GUARDED_BY(bucket_mu) = absl::InfinitePast();
};

struct Authenticator::Entry {
  std::string hash;
  std::shared_ptr<const Caller> caller;
  std::shared_ptr<KeyState> state = std::make_shared<KeyState>();
};

namespace {

constexpr char kBearer[] = "Bearer ";
constexpr char kSecretPrefix[] = "dj_";

uint64_t HashPrefix(std::string_view hash) {
  uint64_t v = 0;
  std::memcpy(&v, hash.data(), std::min<size_t>(hash.size(), sizeof v));
  return v;
}

}  // namespace

std::string NewSecret() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    // Without a working CSPRNG no key can be made safely.
    std::fprintf(stderr, "duijie: the CSPRNG failed; cannot make a secret\n");
    std::abort();
  }
  return absl::StrCat(kSecretPrefix,
                      absl::BytesToHexString(absl::string_view(
                          reinterpret_cast<const char*>(bytes), sizeof bytes)));
}

std::string SecretHash(std::string_view secret) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
         digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

Authenticator::StreamSlot::StreamSlot(std::shared_ptr<KeyState> key)
    : key_(std::move(key)) {}

Authenticator::StreamSlot::~StreamSlot() {
  if (key_ != nullptr) key_->streams.fetch_sub(1, std::memory_order_relaxed);
}

Authenticator::Authenticator(AuthOptions options)
    : options_(std::move(options)) {
  if (!options_.enabled) {
    insecure_ = std::make_shared<Entry>();
    auto caller = std::make_shared<Caller>();
    caller->principal.name = "insecure";
    caller->principal.role = static_cast<int>(Role::kAdmin);
    caller->max_open_orders = options_.max_open_orders;
    insecure_->caller = std::move(caller);
  }
  if (!options_.admin_secret.empty()) {
    ApiKey admin;
    admin.key_id = 0;
    admin.principal.name = "admin";
    admin.principal.role = static_cast<int>(Role::kAdmin);
    admin.secret_sha256 = SecretHash(options_.admin_secret);
    PutKey(admin);
  }
}

Authenticator::~Authenticator() = default;

void Authenticator::LoadKeys(const Engine& engine) {
  uint64_t after = 0;
  bool more = true;
  while (more) {
    for (const ApiKey& key : engine.ListKeys(after, 1000, &more)) {
      PutKey(key);
      after = key.key_id;
    }
  }
}

void Authenticator::PutKey(const ApiKey& key) {
  absl::MutexLock lock(&mu_);
  auto it = by_id_.find(key.key_id);
  if (it != by_id_.end()) {
    // Only revocation changes a key; streams holding its state see it.
    it->second->state->revoked_at.store(key.revoked_at);
    return;
  }
  auto entry = std::make_shared<Entry>();
  entry->hash = key.secret_sha256;
  auto caller = std::make_shared<Caller>();
  caller->principal = key.principal;
  caller->key_id = key.key_id;
  caller->max_open_orders = options_.max_open_orders;
  entry->caller = std::move(caller);
  entry->state->expires_at.store(key.expires_at);
  entry->state->revoked_at.store(key.revoked_at);
  {
    absl::MutexLock bucket(&entry->state->bucket_mu);
    entry->state->tokens = options_.burst_per_key;
  }
  by_id_[key.key_id] = entry;
  by_hash_[HashPrefix(entry->hash)] = entry;
}

absl::StatusOr<Authenticator::Identity> Authenticator::Authenticate(
    const grpc::ServerContextBase& context, std::string_view method) {
  if (!options_.enabled) {
    return Identity{insecure_->caller, insecure_->state};
  }
  auto refuse = [&](absl::string_view why) {
    absl::Status status = absl::UnauthenticatedError(absl::StrCat(
        why,
        "; send the metadata \"authorization: Bearer <secret>\" with a key "
        "from the server's admin (duijie admin key create)"));
    LogRefusal("anonymous", method, status);
    return status;
  };
  const auto& metadata = context.client_metadata();
  auto header = metadata.find("authorization");
  if (header == metadata.end()) return refuse("no authorization metadata");
  const std::string_view value(header->second.data(), header->second.size());
  if (!absl::StartsWith(absl::string_view(value.data(), value.size()),
                        kBearer) ||
      value.size() == sizeof(kBearer) - 1) {
    return refuse("the authorization metadata is not \"Bearer <secret>\"");
  }
  const std::string hash = SecretHash(value.substr(sizeof(kBearer) - 1));
  std::shared_ptr<Entry> entry;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = by_hash_.find(HashPrefix(hash));
    if (it != by_hash_.end() &&
        CRYPTO_memcmp(it->second->hash.data(), hash.data(), hash.size()) == 0) {
      entry = it->second;
    }
  }
  if (entry == nullptr) return refuse("unknown key");
  Identity identity{entry->caller, entry->state};
  if (absl::Status s = StillValid(identity); !s.ok()) {
    LogRefusal(entry->caller->principal.name, method, s);
    return s;
  }
  return identity;
}

absl::Status Authenticator::StillValid(const Identity& identity) const {
  const KeyState& key = *identity.key;
  if (const Micros revoked = key.revoked_at.load(); revoked != 0) {
    return absl::UnauthenticatedError(
        absl::StrCat("key ", identity.caller->key_id, " was revoked at ",
                     absl::FormatTime(absl::FromUnixMicros(revoked)),
                     "; ask the server's admin for a new key"));
  }
  const Micros expires = key.expires_at.load();
  if (expires != 0 && absl::ToUnixMicros(options_.clock()) >= expires) {
    return absl::UnauthenticatedError(
        absl::StrCat("key ", identity.caller->key_id, " expired at ",
                     absl::FormatTime(absl::FromUnixMicros(expires)),
                     "; ask the server's admin for a new key"));
  }
  return absl::OkStatus();
}

int64_t Authenticator::TakeTokens(const Identity& identity, int64_t n) {
  if (!options_.enabled || options_.rate_per_key <= 0 || n <= 0) return n;
  KeyState& key = *identity.key;
  const absl::Time now = options_.clock();
  absl::MutexLock lock(&key.bucket_mu);
  if (key.refilled != absl::InfinitePast() && now > key.refilled) {
    key.tokens =
        std::min(options_.burst_per_key,
                 key.tokens + absl::ToDoubleSeconds(now - key.refilled) *
                                  options_.rate_per_key);
  }
  key.refilled = std::max(key.refilled, now);
  const int64_t granted =
      std::min<int64_t>(n, static_cast<int64_t>(key.tokens));
  key.tokens -= static_cast<double>(granted);
  return granted;
}

absl::Status Authenticator::RateLimited(const AuthOptions& options) {
  return absl::ResourceExhaustedError(
      absl::StrCat("rate_per_key: this key may send ", options.rate_per_key,
                   " commands a second (bursts of ", options.burst_per_key,
                   "); slow down and retry"));
}

absl::StatusOr<Authenticator::StreamSlot> Authenticator::OpenStream(
    const Identity& identity) {
  const int limit = options_.max_streams_per_key;
  if (limit <= 0 || !options_.enabled) return StreamSlot();
  const int open = identity.key->streams.fetch_add(1) + 1;
  if (open > limit) {
    identity.key->streams.fetch_sub(1);
    return absl::ResourceExhaustedError(
        absl::StrCat("max_streams_per_key: key ", identity.caller->key_id,
                     " already holds ", limit, " open streams"));
  }
  return StreamSlot(identity.key);
}

void Authenticator::LogRefusal(std::string_view principal,
                               std::string_view method,
                               const absl::Status& status) {
  uint64_t suppressed = 0;
  if (!refusals_.Admit("refusal", absl::Now(), &suppressed)) return;
  std::fprintf(
      stderr, "duijie-server: refused %s for %s: %s: %s%s\n",
      std::string(method).c_str(),
      // Chinese names read as written; control characters and bad UTF-8
      // are escaped, so that no name forges a log line.
      PrintableText(principal).c_str(),
      absl::StatusCodeToString(status.code()).c_str(),
      std::string(status.message()).c_str(),
      suppressed == 0
          ? ""
          : absl::StrCat(" (", suppressed, " similar lines suppressed)")
                .c_str());
}

}  // namespace duijie
