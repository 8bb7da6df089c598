// Command codes, the body codec and the canonical fingerprint. See
// command.h.
#include "engine/command.h"

#include <type_traits>
#include <utility>

namespace duijie {
namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

// The code a body type is also read back from (kLegacyCode), or none.
template <typename Body, typename = void>
struct LegacyCodeOf {
  static constexpr int value = -1;
};
template <typename Body>
struct LegacyCodeOf<Body, std::void_t<decltype(Body::kLegacyCode)>> {
  static constexpr int value = static_cast<int>(Body::kLegacyCode);
};

// Sets *body to the alternative whose kCode (or kLegacyCode) is `code`,
// searching the variant's alternatives from index I on; *legacy tells which.
template <size_t I = 0>
bool BodyForCodeFrom(uint8_t code, CommandBody* body, bool* legacy) {
  if constexpr (I == std::variant_size_v<CommandBody>) {
    return false;
  } else {
    using Body = std::variant_alternative_t<I, CommandBody>;
    if (static_cast<uint8_t>(Body::kCode) == code ||
        LegacyCodeOf<Body>::value == code) {
      body->emplace<I>();
      *legacy = static_cast<uint8_t>(Body::kCode) != code;
      return true;
    }
    return BodyForCodeFrom<I + 1>(code, body, legacy);
  }
}

// Every code is used by exactly one alternative, and none is above
// kMaxCommandCode: checked when this file compiles.
template <size_t... I>
constexpr bool CodesAreDistinct(std::index_sequence<I...>) {
  constexpr int codes[] = {
      static_cast<int>(std::variant_alternative_t<I, CommandBody>::kCode)...,
      LegacyCodeOf<std::variant_alternative_t<I, CommandBody>>::value...};
  for (size_t a = 0; a < 2 * sizeof...(I); ++a) {
    if (codes[a] > kMaxCommandCode) return false;
    for (size_t b = a + 1; b < 2 * sizeof...(I); ++b) {
      if (codes[a] >= 0 && codes[a] == codes[b]) return false;
    }
  }
  return true;
}
static_assert(CodesAreDistinct(
                  std::make_index_sequence<std::variant_size_v<CommandBody>>()),
              "command codes must be distinct and at most kMaxCommandCode");

struct FieldWriter {
  ByteWriter& w;
  void operator()(const std::string& v) { w.Str(v); }
  void operator()(int v) { w.I64(v); }
  void operator()(int64_t v) { w.I64(v); }
  void operator()(uint64_t v) { w.U64(v); }
  void operator()(bool v) { w.Bool(v); }
  void operator()(const std::vector<std::string>& v) {
    w.U32(static_cast<uint32_t>(v.size()));
    for (const std::string& s : v) w.Str(s);
  }
  void operator()(const std::vector<MemberShare>& v) {
    w.U32(static_cast<uint32_t>(v.size()));
    for (const MemberShare& m : v) {
      w.Str(m.buyer_id);
      w.I64(m.share_permille);
    }
  }
};

struct FieldReader {
  ByteReader& r;
  void operator()(std::string& v) { v = r.Str(); }
  void operator()(int& v) { v = static_cast<int>(r.I64()); }
  void operator()(int64_t& v) { v = r.I64(); }
  void operator()(uint64_t& v) { v = r.U64(); }
  void operator()(bool& v) { v = r.Bool(); }
  void operator()(std::vector<std::string>& v) {
    const uint32_t n = r.U32();
    for (uint32_t i = 0; i < n && r.ok(); ++i) v.push_back(r.Str());
  }
  void operator()(std::vector<MemberShare>& v) {
    const uint32_t n = r.U32();
    for (uint32_t i = 0; i < n && r.ok(); ++i) {
      MemberShare m;
      m.buyer_id = r.Str();
      m.share_permille = r.I64();
      v.push_back(std::move(m));
    }
  }
};

}  // namespace

CommandCode CodeOf(const CommandBody& body) {
  return std::visit(
      [](const auto& b) {
        using Body = std::decay_t<decltype(b)>;
        if constexpr (LegacyCodeOf<Body>::value >= 0) {
          if (b.IsLegacy()) return Body::kLegacyCode;
        }
        return Body::kCode;
      },
      body);
}

CommandCode Command::code() const { return CodeOf(body); }

bool BodyForCode(uint8_t code, CommandBody* body) {
  bool legacy = false;
  return BodyForCodeFrom(code, body, &legacy);
}

const char* CommandName(CommandCode code) {
  CommandBody body;
  if (!BodyForCode(static_cast<uint8_t>(code), &body)) return "Unknown";
  return std::visit([](const auto& b) -> const char* { return b.kName; }, body);
}

void ResolveExpiry(Command& command, Micros now) {
  command.now = now;
  if (command.expires_in <= 0) return;
  // Cannot overflow: now is a Timestamp's range and expires_in at most 100
  // years (checked at the API boundary).
  const Micros expires_at = now + command.expires_in;
  std::visit(
      Overloaded{
          [&](PostOfferCommand& c) { c.offer.expires_at = expires_at; },
          [&](PostPledgeCommand& c) { c.pledge.expires_at = expires_at; },
          [&](AmendOfferCommand& c) {
            c.has_expires_at = true;
            c.expires_at = expires_at;
          },
          [&](AmendPledgeCommand& c) {
            c.has_expires_at = true;
            c.expires_at = expires_at;
          },
          [](auto&) {},
      },
      command.body);
  command.expires_in = 0;
}

void EncodeBody(const CommandBody& body, ByteWriter& w) {
  std::visit(
      [&](const auto& b) {
        using Body = std::decay_t<decltype(b)>;
        if constexpr (LegacyCodeOf<Body>::value >= 0) {
          if (b.IsLegacy()) return b.LegacyFields(b, FieldWriter{w});
        }
        b.Fields(b, FieldWriter{w});
      },
      body);
}

bool DecodeBody(uint8_t code, ByteReader& r, CommandBody* body) {
  bool legacy = false;
  if (!BodyForCodeFrom(code, body, &legacy)) return false;
  if (!legacy) {
    ForEachField(*body, FieldReader{r});
    return true;
  }
  std::visit(
      [&](auto& b) {
        using Body = std::decay_t<decltype(b)>;
        if constexpr (LegacyCodeOf<Body>::value >= 0) {
          b.LegacyFields(b, FieldReader{r});
          b.FromLegacy();
        }
      },
      *body);
  return true;
}

uint64_t CommandFingerprint(const Command& command) {
  std::string bytes;
  ByteWriter w(&bytes);
  w.U8(static_cast<uint8_t>(command.code()));
  EncodeBody(command.body, w);
  w.I64(command.expires_in);
  // FNV-1a, 64 bits: fixed by its definition, so stable across builds.
  uint64_t h = 0xcbf29ce484222325ull;
  for (const char c : bytes) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ull;
  }
  return h | (uint64_t{1} << 63);
}

CommandEffect EffectOf(const CommandResult& result) {
  CommandEffect effect;
  std::visit(
      Overloaded{
          [&](const TickResult&) {},
          [&](const RegionResult& r) { effect.replayed = r.replayed; },
          [&](const PairingResult& r) { effect.replayed = r.replayed; },
          [&](const BuyerResult& r) { effect.replayed = r.replayed; },
          [&](const ClearingPolicyResult& r) { effect.replayed = r.replayed; },
          [&](const AlertThresholdsResult& r) { effect.replayed = r.replayed; },
          [&](const ProductResult& r) { effect.replayed = r.replayed; },
          [&](const ClearResult& r) {
            effect.match_count = r.matches;
            effect.first_match_id = r.first_match_id;
          },
          [&](const KeyResult& r) {
            effect.replayed = r.replayed;
            effect.order_id = r.key.key_id;
          },
          [&](const auto& order) {
            effect.replayed = order.replayed;
            effect.match_count = order.matches.size();
            effect.first_match_id =
                order.matches.empty() ? 0 : order.matches.front().match_id;
          },
      },
      result);
  if (const auto* o = std::get_if<OfferResult>(&result)) {
    effect.order_id = o->offer.offer_id;
  } else if (const auto* p = std::get_if<PledgeResult>(&result)) {
    effect.order_id = p->pledge.pledge_id;
  } else if (const auto* m = std::get_if<MatchResult>(&result)) {
    effect.order_id = m->match.match_id;
  }
  return effect;
}

}  // namespace duijie
