// Key conversions. See key_convert.h.
#include "api/key_convert.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "api/convert.h"

namespace duijie {
namespace {

static_assert(static_cast<int>(Role::kAdmin) == v1::ROLE_ADMIN &&
              static_cast<int>(Role::kPlatform) == v1::ROLE_PLATFORM &&
              static_cast<int>(Role::kSupplier) == v1::ROLE_SUPPLIER &&
              static_cast<int>(Role::kBuyer) == v1::ROLE_BUYER &&
              static_cast<int>(Role::kObserver) == v1::ROLE_OBSERVER &&
              kMaxRole == v1::Role_MAX);

template <typename Request>
Command KeyCommand(const Request& request, CommandBody body) {
  Command command;
  command.body = std::move(body);
  command.request_id = request.request_id();
  if (!command.request_id.empty()) {
    command.fingerprint = CommandFingerprint(command);
  }
  return command;
}

}  // namespace

absl::StatusOr<Command> ToCommand(const v1::CreateKeyRequest& request) {
  CreateKeyCommand c;
  const v1::Principal& p = request.principal();
  c.principal.name = p.name();
  // Out-of-range numbers reach the engine's check, which names them.
  c.principal.role = p.role();
  c.principal.supplier_ids.assign(p.supplier_ids().begin(),
                                  p.supplier_ids().end());
  c.principal.buyer_ids.assign(p.buyer_ids().begin(), p.buyer_ids().end());
  if (request.has_expires_at()) {
    absl::StatusOr<Micros> at = ToMicros(request.expires_at(), "expires_at");
    if (!at.ok()) return at.status();
    if (*at <= 0) {
      return absl::InvalidArgumentError(
          "expires_at: must be after 1970-01-01T00:00:00Z");
    }
    c.expires_at = *at;
  }
  return KeyCommand(request, std::move(c));
}

absl::StatusOr<Command> ToCommand(const v1::RevokeKeyRequest& request) {
  return KeyCommand(request, RevokeKeyCommand{request.key_id()});
}

void ToProto(const ApiKey& key, v1::ApiKey* out) {
  out->set_key_id(key.key_id);
  v1::Principal* p = out->mutable_principal();
  p->set_name(key.principal.name);
  p->set_role(static_cast<v1::Role>(key.principal.role));
  for (const std::string& id : key.principal.supplier_ids) {
    p->add_supplier_ids(id);
  }
  for (const std::string& id : key.principal.buyer_ids) p->add_buyer_ids(id);
  ToTimestamp(key.created_at, out->mutable_created_at());
  if (key.expires_at != 0) {
    ToTimestamp(key.expires_at, out->mutable_expires_at());
  }
  if (key.revoked_at != 0) {
    ToTimestamp(key.revoked_at, out->mutable_revoked_at());
  }
}

}  // namespace duijie
