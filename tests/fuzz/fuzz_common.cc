// See fuzz_common.h.
#include "tests/fuzz/fuzz_common.h"

#include <algorithm>
#include <iterator>
#include <limits>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "api/convert.h"
#include "duijie/v1/exchange.pb.h"
#include "google/protobuf/descriptor.h"

namespace duijie::fuzz {

int64_t CommandDecoder::Small() {
  const uint8_t t = Byte();
  if (t < 32) return 0;                 // "none" (min lot, budget)
  if (t < 96) return 1 + Byte() % 100;  // kg, fen
  // A time after now (an expiry, which outlives a few hundred commands),
  // or just a larger number (a budget that allows a fill).
  if (t < 240) return now_ + 1 + Byte() * 4;
  if (t < 248) return -1 - Byte() % 4;
  static constexpr int64_t kEdges[] = {std::numeric_limits<int64_t>::max(),
                                       std::numeric_limits<int64_t>::min(),
                                       kMaxQuantityKg,
                                       kMaxQuantityKg + 1,
                                       kMaxPriceFenPerKg,
                                       kMaxPriceFenPerKg + 1,
                                       int64_t{1} << 62,
                                       -(int64_t{1} << 62)};
  return kEdges[Byte() % std::size(kEdges)];
}

int CommandDecoder::SmallInt() {
  // Enum numbers: 1..3 most of the time (grades, scopes, the first buyer
  // kinds), then 0..3, now and then any small number or an edge.
  const uint8_t b = Byte();
  if (b < 160) return 1 + b % 3;
  if (b < 224) return b % 4;
  if (b < 248) return b % 16 - 2;
  return b & 1 ? std::numeric_limits<int>::max()
               : std::numeric_limits<int>::min();
}

std::string CommandDecoder::String() {
  const uint8_t b = Byte();
  constexpr size_t kRegions = std::size(kRegionCodes);
  constexpr size_t kProducts = std::size(kProductCodes);
  constexpr size_t kOwners = std::size(kOwnerIds);
  // Most of the time the string's place in the command decides: the
  // commands of today lead with region codes or an id (for which a region
  // code does too) and have a product third, so the first two strings are
  // mostly paired region codes and the third a vegetable. A command whose
  // strings mean something else still gets those, and the rest of the time
  // any pool entry or a few raw bytes.
  const int place = strings_++;
  if (b < 176 && place < 2) return kRegionCodes[b % kPairedRegions];
  if (b < 176 && place == 2) return kProductCodes[b % 2];
  if (b < 240) {
    const size_t i = b % (kRegions + kProducts + kOwners);
    if (i < kRegions) return kRegionCodes[i];
    if (i < kRegions + kProducts) return kProductCodes[i - kRegions];
    return kOwnerIds[i - kRegions - kProducts];
  }
  // Raw bytes: empty, malformed codes, odd characters.
  std::string raw(Byte() % 8, '\0');
  for (char& c : raw) c = static_cast<char>(Byte());
  return raw;
}

void CommandDecoder::Field(std::vector<std::string>& v) {
  v.resize(Byte() % 3);
  for (std::string& s : v) {
    // A list of codes: drawn as a leading string (a region code, mostly).
    strings_ = 0;
    s = String();
  }
}

void CommandDecoder::Field(std::vector<MemberShare>& v) {
  // Mostly none (a pledge for one buyer); sometimes a few owner ids with
  // shares around 1000 / n, so that some lists sum to 1000 and some not.
  const uint8_t n = Byte() % 8;
  if (n > 3) return;
  v.resize(n);
  for (MemberShare& m : v) {
    strings_ = 0;
    m.buyer_id = String();
    m.share_permille = n == 0 ? 0 : 1000 / n + Byte() % 3 - 1;
  }
}

Command CommandDecoder::Next(ByteSource& in, uint64_t orders) {
  in_ = &in;
  orders_ = orders;
  strings_ = 0;
  const uint8_t code = Byte() % (kMaxCommandCode + 1);
  now_ += Byte() % 4;
  Command command;
  if (!BodyForCode(code, &command.body)) command.body = TickCommand{};
  if (std::holds_alternative<TickCommand>(command.body)) {
    // A tick jumps further, past some of the expiries drawn so far.
    now_ += Byte() % 64;
  } else {
    ForEachField(command.body, [this](auto& field) { Field(field); });
    // Now and then a request_id: mostly a fresh one, sometimes one of a
    // few reused ones (a retry replays, another body is ALREADY_EXISTS).
    const uint8_t r = Byte();
    if (r < 16) command.request_id = absl::StrCat("r", r % 4);
    if (r >= 16 && r < 64) command.request_id = absl::StrCat("u", ++requests_);
    const uint8_t e = Byte();
    if (e < 32) command.expires_in = 1 + e * 8;
    if (!command.request_id.empty()) {
      command.fingerprint = CommandFingerprint(command);
    }
  }
  command.now = now_;
  in_ = nullptr;
  return command;
}

void Fail(const char* what, const absl::Status& status) {
  std::fprintf(stderr, "FUZZ FAILURE: %s: %s\n", what,
               status.ToString().c_str());
  std::abort();
}

namespace {

void MustApply(Engine& engine, CommandBody body) {
  absl::StatusOr<CommandResult> r =
      engine.Apply(MakeCommand(std::move(body), kStartTime));
  if (!r.ok()) Fail("preloading the engine", r.status());
}

}  // namespace

void PreloadEngine(Engine& engine, bool orders) {
  MustApply(engine, TickCommand{});
  for (size_t i = 0; i + 1 < std::size(kRegionCodes); ++i) {
    const std::string code = kRegionCodes[i];
    MustApply(engine,
              UpsertRegionCommand{Region{code, absl::StrCat("region ", code),
                                         i % 3 == 2, i % 4 == 3}});
  }
  MustApply(engine, UpsertPairingCommand{Pairing{"370200", "621200", ""}});
  MustApply(engine, UpsertPairingCommand{Pairing{"120000", "620000", ""}});
  if (!orders) return;
  // Resting orders that do not match each other (pledges below floors).
  for (int i = 0; i < 3; ++i) {
    OfferSpec o;
    o.supplier_id = kOwnerIds[i % 2];
    o.region_code = i == 0 ? "621202" : "620826";
    o.product_code = kProductCodes[1 + i];
    o.grade = 1 + i;
    o.quantity_kg = 500;
    o.floor_price_fen_per_kg = 300;
    o.min_lot_kg = 10 * i;
    o.expires_at = kStartTime + (Micros{1} << 50);
    o.certified = i != 1;
    MustApply(engine, PostOfferCommand{o});
    PledgeSpec p;
    p.buyer_id = kOwnerIds[2 + i % 2];
    p.buyer_city_code = i == 0 ? "370200" : "120000";
    p.buyer_kind = 1 + i;
    p.product_code = kProductCodes[i];
    p.quantity_kg = 400;
    p.max_price_fen_per_kg = 200;
    p.expires_at = kStartTime + (Micros{1} << 50);
    p.scope = i;
    if (i == 2) p.region_codes = {"620000"};
    MustApply(engine, PostPledgeCommand{p});
  }
}

const std::vector<const google::protobuf::Descriptor*>& MutatingRequestTypes() {
  static const auto* types = [] {
    auto* out = new std::vector<const google::protobuf::Descriptor*>;
    std::set<const google::protobuf::Descriptor*> seen;
    auto consider = [&](const google::protobuf::Descriptor* type) {
      if (!seen.insert(type).second) return;
      const google::protobuf::Message* prototype =
          google::protobuf::MessageFactory::generated_factory()->GetPrototype(
              type);
      // ToCommand refuses a type that is not a mutating request with
      // INTERNAL; a mutating one with an empty body gets a field error.
      absl::StatusOr<Command> c = ToCommand(*prototype);
      if (c.ok() || c.status().code() != absl::StatusCode::kInternal) {
        out->push_back(type);
      }
    };
    const google::protobuf::ServiceDescriptor* service =
        v1::PostOfferRequest::descriptor()->file()->FindServiceByName(
            "Exchange");
    for (int i = 0; service != nullptr && i < service->method_count(); ++i) {
      consider(service->method(i)->input_type());
    }
    const google::protobuf::OneofDescriptor* oneof =
        v1::Command::descriptor()->FindOneofByName("command");
    for (int i = 0; i < oneof->field_count(); ++i) {
      consider(oneof->field(i)->message_type());
    }
    return out;
  }();
  return *types;
}

void ApplyAndCheck(Engine& engine, Command& command, Micros now) {
  now = std::max(now, engine.now());
  ResolveExpiry(command, now);
  // Validate is exact unless the tick may reopen pledges (then the server
  // ticks first and does not ask it).
  const bool foreseeable = !engine.TickMayReopen(now);
  const absl::Status valid = engine.Validate(command, now);
  if (now > engine.now()) {
    absl::StatusOr<CommandResult> tick =
        engine.Apply(MakeCommand(TickCommand{}, now));
    if (!tick.ok()) Fail("tick", tick.status());
  }
  absl::StatusOr<CommandResult> applied = engine.Apply(command);
  if (foreseeable && valid.ok() != applied.ok()) {
    Fail(absl::StrCat(CommandName(command.code()),
                      ": Validate and Apply disagree; Validate says")
             .c_str(),
         valid.ok() ? applied.status() : valid);
  }
  if (absl::Status s = engine.CheckInvariants(); !s.ok()) {
    Fail(absl::StrCat("invariants after ", CommandName(command.code())).c_str(),
         s);
  }
}

}  // namespace duijie::fuzz
