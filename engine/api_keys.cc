// The key registry: validation of principals, creation, revocation and the
// saved layout. See api_keys.h.
#include "engine/api_keys.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "engine/codes.h"
#include "engine/engine.h"
#include "engine/violations.h"

namespace duijie {
namespace {

absl::Status Invalid(std::string_view field, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(Absl(field), ": ", Absl(why)));
}

// A name or party id: non-empty, bounded, printable (no control bytes, so
// that logs and terminals show what is there).
absl::Status CheckText(std::string_view field, std::string_view text,
                       size_t max_bytes) {
  if (text.empty()) return Invalid(field, "is empty");
  if (text.size() > max_bytes) {
    return Invalid(field, absl::StrCat("is ", text.size(), " bytes; at most ",
                                       max_bytes, " allowed"));
  }
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7f) {
      return Invalid(field, absl::StrCat("has the control character 0x",
                                         absl::Hex(b, absl::kZeroPad2)));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckParties(std::string_view field,
                          const std::vector<std::string>& ids) {
  if (ids.size() > kMaxPrincipalParties) {
    return Invalid(field, absl::StrCat("lists ", ids.size(), " ids; at most ",
                                       kMaxPrincipalParties));
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string item = absl::StrCat(Absl(field), "[", i, "]");
    if (absl::Status s = CheckText(item, ids[i], kMaxIdBytes); !s.ok()) {
      return s;
    }
    for (size_t j = 0; j < i; ++j) {
      if (ids[j] == ids[i]) return Invalid(item, "repeats an earlier id");
    }
  }
  return absl::OkStatus();
}

const char* RoleName(int role) {
  switch (role) {
    case static_cast<int>(Role::kAdmin):
      return "ADMIN";
    case static_cast<int>(Role::kPlatform):
      return "PLATFORM";
    case static_cast<int>(Role::kSupplier):
      return "SUPPLIER";
    case static_cast<int>(Role::kBuyer):
      return "BUYER";
    case static_cast<int>(Role::kObserver):
      return "OBSERVER";
  }
  return "UNSPECIFIED";
}

// Each field of the principal into *v (violations.h), so that a refusal
// names all that are bad.
void CheckPrincipalInto(std::string_view field, const Principal& p,
                        Violations* v) {
  const std::string f(field);
  v->Add(CheckText(f + ".name", p.name, kMaxPrincipalNameBytes));
  const bool role_known = p.role >= 1 && p.role <= kMaxRole;
  if (!role_known) {
    v->Add(Invalid(f + ".role",
                   absl::StrCat(p.role, " is not a role (1..", kMaxRole, ")")));
  }
  const absl::Status supplier_ids =
      CheckParties(f + ".supplier_ids", p.supplier_ids);
  v->Add(supplier_ids);
  const absl::Status buyer_ids = CheckParties(f + ".buyer_ids", p.buyer_ids);
  v->Add(buyer_ids);
  // Whether the parties fit the role is asked only of a known role and
  // sound lists: a bad one is reported as itself.
  if (!role_known || !supplier_ids.ok() || !buyer_ids.ok()) return;
  const size_t suppliers = p.supplier_ids.size(), buyers = p.buyer_ids.size();
  bool fits = false;
  switch (static_cast<Role>(p.role)) {
    case Role::kAdmin:
    case Role::kObserver:
      fits = suppliers == 0 && buyers == 0;
      break;
    case Role::kSupplier:
      fits = suppliers == 1 && buyers == 0;
      break;
    case Role::kBuyer:
      fits = suppliers == 0 && buyers == 1;
      break;
    case Role::kPlatform:
      fits = suppliers + buyers >= 1;
      break;
  }
  if (!fits) {
    v->Add(Invalid(
        f, absl::StrCat(
               "role ", RoleName(p.role), " with ", suppliers,
               " supplier_ids and ", buyers,
               " buyer_ids; SUPPLIER needs exactly one supplier_id, BUYER "
               "exactly one buyer_id, PLATFORM one or more of either, ADMIN "
               "and OBSERVER none")));
  }
}

}  // namespace

absl::Status CheckPrincipal(std::string_view field, const Principal& p) {
  Violations v;
  CheckPrincipalInto(field, p, &v);
  return v.ToStatus();
}

absl::Status KeyRegistry::CheckCreate(const CreateKeyCommand& c,
                                      Micros now) const {
  // Every field, so that a refusal names all that are bad (violations.h).
  Violations v;
  CheckPrincipalInto("principal", c.principal, &v);
  if (c.secret_sha256.size() != kSecretHashBytes) {
    v.Add(Invalid("secret_sha256",
                  absl::StrCat("is ", c.secret_sha256.size(),
                               " bytes; a SHA-256 is ", kSecretHashBytes)));
  } else if (hashes_.contains(c.secret_sha256)) {
    v.Add(Invalid("secret_sha256", "is the hash of another key's secret"));
  }
  if (c.expires_at != 0 && c.expires_at <= now) {
    v.Add(Invalid("expires_at",
                  absl::StrCat(c.expires_at, " is not later than now (", now,
                               " us since the epoch)")));
  }
  return v.ToStatus();
}

absl::Status KeyRegistry::CheckRevoke(uint64_t key_id) const {
  const ApiKey* key = Find(key_id);
  if (key == nullptr) {
    return absl::NotFoundError(absl::StrCat("key_id: no key ", key_id));
  }
  if (key->revoked_at != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("key_id: key ", key_id, " was already revoked at ",
                     key->revoked_at, " us since the epoch"));
  }
  return absl::OkStatus();
}

const ApiKey& KeyRegistry::Create(const CreateKeyCommand& c, Micros now) {
  ApiKey key;
  key.key_id = keys_.size() + 1;
  key.principal = c.principal;
  key.secret_sha256 = c.secret_sha256;
  key.created_at = now;
  key.expires_at = c.expires_at;
  hashes_.insert(key.secret_sha256);
  keys_.push_back(std::move(key));
  return keys_.back();
}

const ApiKey& KeyRegistry::Revoke(uint64_t key_id, Micros now) {
  ApiKey& key = keys_[key_id - 1];
  key.revoked_at = now;
  return key;
}

const ApiKey* KeyRegistry::Find(uint64_t key_id) const {
  if (key_id == 0 || key_id > keys_.size()) return nullptr;
  return &keys_[key_id - 1];
}

std::vector<ApiKey> KeyRegistry::List(uint64_t after_id, int limit,
                                      bool* more) const {
  std::vector<ApiKey> out;
  *more = false;
  for (uint64_t id = after_id + 1; id <= keys_.size(); ++id) {
    if (out.size() == static_cast<size_t>(std::max(limit, 0))) {
      *more = true;
      break;
    }
    out.push_back(keys_[id - 1]);
  }
  return out;
}

void KeyRegistry::Save(ByteWriter& w) const {
  w.U64(keys_.size());
  for (const ApiKey& k : keys_) {
    w.Str(k.principal.name);
    w.U8(static_cast<uint8_t>(k.principal.role));
    w.U64(k.principal.supplier_ids.size());
    for (const std::string& id : k.principal.supplier_ids) w.Str(id);
    w.U64(k.principal.buyer_ids.size());
    for (const std::string& id : k.principal.buyer_ids) w.Str(id);
    w.Str(k.secret_sha256);
    w.I64(k.created_at);
    w.I64(k.expires_at);
    w.I64(k.revoked_at);
  }
}

bool KeyRegistry::Load(ByteReader& r) {
  const uint64_t n = r.Count(4 + 1 + 8 + 8 + 4 + 8 * 3);
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    ApiKey k;
    k.key_id = i + 1;
    k.principal.name = r.Str();
    k.principal.role = r.U8();
    const uint64_t suppliers = r.Count(4);
    for (uint64_t j = 0; j < suppliers && r.ok(); ++j) {
      k.principal.supplier_ids.push_back(r.Str());
    }
    const uint64_t buyers = r.Count(4);
    for (uint64_t j = 0; j < buyers && r.ok(); ++j) {
      k.principal.buyer_ids.push_back(r.Str());
    }
    k.secret_sha256 = r.Str();
    k.created_at = r.I64();
    k.expires_at = r.I64();
    k.revoked_at = r.I64();
    if (!r.ok()) return false;
    if (!CheckPrincipal("principal", k.principal).ok() ||
        k.secret_sha256.size() != kSecretHashBytes ||
        !hashes_.insert(k.secret_sha256).second) {
      return false;
    }
    keys_.push_back(std::move(k));
  }
  return r.ok();
}

}  // namespace duijie
