// Conversions between duijie.v1 protos and engine types. See convert.h.
#include "api/convert.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "api/error_detail.h"
#include "engine/codes.h"
#include "engine/text.h"
#include "engine/violations.h"

namespace duijie {
namespace {

// The engine's enums use the proto's numbers, so that conversion is a cast
// after a range check.
static_assert(static_cast<int>(Grade::kPremium) == v1::GRADE_PREMIUM &&
              static_cast<int>(Grade::kFirst) == v1::GRADE_FIRST &&
              static_cast<int>(Grade::kSecond) == v1::GRADE_SECOND &&
              v1::Grade_MAX == v1::GRADE_SECOND);
static_assert(static_cast<int>(OrderStatus::kOpen) == v1::OPEN &&
              static_cast<int>(OrderStatus::kFilled) == v1::FILLED &&
              static_cast<int>(OrderStatus::kCancelled) == v1::CANCELLED &&
              static_cast<int>(OrderStatus::kExpired) == v1::EXPIRED &&
              v1::OrderStatus_MAX == v1::EXPIRED);
static_assert(static_cast<int>(BuyerKind::kGovernmentUnit) ==
                  v1::GOVERNMENT_UNIT &&
              static_cast<int>(BuyerKind::kPlatform) == v1::PLATFORM &&
              kMaxBuyerKind == v1::BuyerKind_MAX);
static_assert(static_cast<int>(Scope::kAny) == v1::ANY &&
              static_cast<int>(Scope::kPartnersOnly) == v1::PARTNERS_ONLY &&
              static_cast<int>(Scope::kListedRegions) == v1::LISTED_REGIONS &&
              kMaxScope == v1::Scope_MAX);

std::string_view Std(absl::string_view s) { return {s.data(), s.size()}; }

// Timestamp range of google.protobuf.Timestamp: 0001-01-01T00:00:00Z to
// 9999-12-31T23:59:59Z.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;

absl::Status UnknownEnum(absl::string_view field, int value) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": unknown enum value ", value));
}

// The command of a mutating request: its body, relative expiry and
// request_id, and when it has one, its fingerprint (the engine reads the
// fingerprint only for a request_id, so without one it stays 0 and costs
// nothing).
template <typename Request>
Command NewCommand(const Request& request, CommandBody body,
                   Micros expires_in = 0) {
  Command command;
  command.body = std::move(body);
  command.expires_in = expires_in;
  command.request_id = request.request_id();
  if (!command.request_id.empty()) {
    command.fingerprint = CommandFingerprint(command);
  }
  return command;
}

}  // namespace

absl::StatusOr<Micros> ToMicros(const google::protobuf::Timestamp& ts,
                                absl::string_view field) {
  if (ts.seconds() < kMinTimestampSeconds ||
      ts.seconds() > kMaxTimestampSeconds || ts.nanos() < 0 ||
      ts.nanos() > 999999999) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": timestamp out of range: seconds=", ts.seconds(),
                     " nanos=", ts.nanos()));
  }
  return ts.seconds() * 1000000 + ts.nanos() / 1000;
}

namespace {

// A deadline's length; left unset for kNoDeadline (orders of old
// journals have none).
void ToDuration(Micros micros, google::protobuf::Duration* out) {
  if (micros <= 0) return;
  out->set_seconds(micros / 1000000);
  out->set_nanos(static_cast<int32_t>(micros % 1000000 * 1000));
}

}  // namespace

void ToTimestamp(Micros micros, google::protobuf::Timestamp* ts) {
  int64_t seconds = micros / 1000000;
  int64_t rest = micros % 1000000;
  if (rest < 0) {
    rest += 1000000;
    --seconds;
  }
  ts->set_seconds(seconds);
  ts->set_nanos(static_cast<int32_t>(rest * 1000));
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  int code = static_cast<int>(status.code());
  // absl::StatusCode and grpc::StatusCode share their numbers 0..16.
  if (code < 0 || code > grpc::StatusCode::UNAUTHENTICATED) {
    code = grpc::StatusCode::UNKNOWN;
  }
  return grpc::Status(static_cast<grpc::StatusCode>(code),
                      std::string(status.message()));
}

void ToCommandError(const absl::Status& status, v1::CommandError* error) {
  error->set_code(ToGrpcStatus(status).error_code());
  error->set_message(std::string(status.message()));
  v1::ErrorDetail detail = ErrorDetailOf(status);
  error->set_field(std::move(*detail.mutable_field()));
  error->set_reason(std::move(*detail.mutable_reason()));
  error->mutable_violations()->Swap(detail.mutable_violations());
}

namespace {

// Reads an order's expiry: exactly one of `at` (absolute, returned) and
// `in` (relative to when the command is applied: stored in *expires_in, and
// 0 returned, for StampCommand to resolve). `order` names the message in
// errors.
absl::StatusOr<Micros> ReadExpiry(const google::protobuf::Timestamp* at,
                                  const google::protobuf::Duration* in,
                                  absl::string_view order, Micros* expires_in) {
  if (at != nullptr && in != nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(order, ".expires_at and expires_in: set one, not both"));
  }
  if (at != nullptr) return ToMicros(*at, absl::StrCat(order, ".expires_at"));
  if (in == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        order, ".expires_at: required (or expires_in on the request)"));
  }
  constexpr int64_t kMaxSeconds = int64_t{100} * 366 * 24 * 3600;
  if (in->seconds() < 0 || in->nanos() < 0 || in->nanos() > 999999999 ||
      (in->seconds() == 0 && in->nanos() < 1000) ||
      in->seconds() > kMaxSeconds) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expires_in: must be at least 1 us and at most 100 years; got "
        "seconds=",
        in->seconds(), " nanos=", in->nanos()));
  }
  *expires_in = in->seconds() * 1000000 + in->nanos() / 1000;
  return 0;
}

// A deadline length that was set (ship_within, accept_within): whole
// microseconds, not zero (the engine reads 0 as "the default"), at most a
// few hundred days here so that the microseconds cannot overflow (the
// engine checks the exact range, 1 hour to 366 days).
absl::StatusOr<Micros> ReadDeadline(const google::protobuf::Duration& d,
                                    absl::string_view field) {
  constexpr int64_t kMaxSeconds = int64_t{1000} * 24 * 3600;
  if (d.seconds() < 0 || d.seconds() > kMaxSeconds || d.nanos() < 0 ||
      d.nanos() > 999999999 || d.nanos() % 1000 != 0 ||
      (d.seconds() == 0 && d.nanos() == 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be whole microseconds, 1 hour to 366 days;",
                     " got seconds=", d.seconds(), " nanos=", d.nanos()));
  }
  return d.seconds() * 1000000 + d.nanos() / 1000;
}

}  // namespace

// --- Requests -> commands ---------------------------------------------------

absl::StatusOr<Command> ToCommand(const v1::UpsertRegionRequest& request) {
  const v1::Region& in = request.region();
  Region region;
  region.code = in.code();
  region.name = in.name();
  region.key_assisted = in.key_assisted();
  region.relocation_site = in.relocation_site();
  return NewCommand(request, UpsertRegionCommand{std::move(region)});
}

absl::StatusOr<Command> ToCommand(const v1::UpsertPairingRequest& request) {
  const v1::Pairing& in = request.pairing();
  Pairing pairing;
  pairing.east_code = in.east_code();
  pairing.west_code = in.west_code();
  pairing.note = in.note();
  return NewCommand(request, UpsertPairingCommand{std::move(pairing)});
}

absl::StatusOr<Command> ToCommand(const v1::DeletePairingRequest& request) {
  return NewCommand(
      request, DeletePairingCommand{request.east_code(), request.west_code()});
}

absl::StatusOr<Command> ToCommand(const v1::PostOfferRequest& request) {
  const v1::Offer& in = request.offer();
  // Every field this reads is checked, so that a refusal names all that
  // are bad (engine/violations.h); the engine checks the rest.
  Violations v;
  if (!v1::Grade_IsValid(in.grade())) {
    v.Add(UnknownEnum("offer.grade", in.grade()));
  }
  Micros expires_in = 0;
  absl::StatusOr<Micros> expires_at =
      ReadExpiry(in.has_expires_at() ? &in.expires_at() : nullptr,
                 request.has_expires_in() ? &request.expires_in() : nullptr,
                 "offer", &expires_in);
  v.Add(expires_at.status());
  absl::StatusOr<Micros> ship_within =
      in.has_ship_within() ? ReadDeadline(in.ship_within(), "offer.ship_within")
                           : 0;  // the engine's default
  v.Add(ship_within.status());
  if (!v.ok()) return v.ToStatus();
  OfferSpec spec;
  spec.supplier_id = in.supplier_id();
  spec.region_code = in.region_code();
  spec.product_code = in.product_code();
  spec.grade = in.grade();
  spec.quantity_kg = in.quantity_kg();
  spec.floor_price_fen_per_kg = in.floor_price_fen_per_kg();
  spec.min_lot_kg = in.min_lot_kg();
  spec.expires_at = *expires_at;
  spec.certified = in.certified();
  spec.households = in.households();
  spec.ship_within = *ship_within;
  return NewCommand(request, PostOfferCommand{std::move(spec)}, expires_in);
}

absl::StatusOr<Command> ToCommand(const v1::PostPledgeRequest& request) {
  const v1::Pledge& in = request.pledge();
  // Every field this reads, as for an offer.
  Violations v;
  if (!v1::BuyerKind_IsValid(in.buyer_kind())) {
    v.Add(UnknownEnum("pledge.buyer_kind", in.buyer_kind()));
  }
  if (!v1::Grade_IsValid(in.min_grade())) {
    v.Add(UnknownEnum("pledge.min_grade", in.min_grade()));
  }
  if (!v1::Scope_IsValid(in.scope())) {
    v.Add(UnknownEnum("pledge.scope", in.scope()));
  }
  if (!v1::Period_IsValid(in.recurrence().period())) {
    v.Add(UnknownEnum("pledge.recurrence.period", in.recurrence().period()));
  }
  Recurrence recurrence;
  if (in.has_recurrence()) {
    const v1::Recurrence& r = in.recurrence();
    recurrence.period = r.period();
    recurrence.quantity_kg = r.quantity_kg();
    recurrence.budget_fen = r.budget_fen();
    recurrence.carry_over = r.carry_over();
    if (r.has_until()) {
      absl::StatusOr<Micros> until =
          ToMicros(r.until(), "pledge.recurrence.until");
      v.Add(until.status());
      if (until.ok()) recurrence.until = *until;
    } else if (r.period() != v1::PERIOD_UNSPECIFIED &&
               !v.Bad("pledge.recurrence.period")) {
      v.Add(absl::InvalidArgumentError(
          "pledge.recurrence.until: required for a standing pledge"));
    }
  }
  // A standing pledge expires at until: its expiry may be left unset.
  const bool expiry_from_until = recurrence.period != 0 &&
                                 !in.has_expires_at() &&
                                 !request.has_expires_in();
  Micros expires_in = 0;
  absl::StatusOr<Micros> expires_at =
      expiry_from_until
          ? absl::StatusOr<Micros>(recurrence.until)
          : ReadExpiry(
                in.has_expires_at() ? &in.expires_at() : nullptr,
                request.has_expires_in() ? &request.expires_in() : nullptr,
                "pledge", &expires_in);
  v.Add(expires_at.status());
  absl::StatusOr<Micros> accept_within =
      in.has_accept_within()
          ? ReadDeadline(in.accept_within(), "pledge.accept_within")
          : 0;  // the engine's default
  v.Add(accept_within.status());
  if (!v.ok()) return v.ToStatus();
  PledgeSpec spec;
  spec.buyer_id = in.buyer_id();
  spec.buyer_city_code = in.buyer_city_code();
  spec.buyer_kind = in.buyer_kind();
  spec.product_code = in.product_code();
  spec.min_grade = in.min_grade();
  spec.quantity_kg = in.quantity_kg();
  spec.max_price_fen_per_kg = in.max_price_fen_per_kg();
  spec.budget_fen = in.budget_fen();
  spec.min_lot_kg = in.min_lot_kg();
  spec.expires_at = *expires_at;
  spec.scope = in.scope();
  spec.region_codes.assign(in.region_codes().begin(), in.region_codes().end());
  spec.require_certified = in.require_certified();
  spec.accept_within = *accept_within;
  spec.recurrence = recurrence;
  // The engine checks the members (how many, whose, the shares' sum), so
  // that a journaled command is held to the same rules on replay.
  for (const v1::MemberShare& m : in.members()) {
    spec.members.push_back({m.buyer_id(), int64_t{m.share_permille()}});
  }
  return NewCommand(request, PostPledgeCommand{std::move(spec)}, expires_in);
}

namespace {

// An amendment's optional expiry: neither (unchanged), expires_at
// (*has_at set, the time in *at) or expires_in (resolved when applied, as
// for a post; *has_at is set then too, by ResolveExpiry).
absl::Status ReadAmendedExpiry(const google::protobuf::Timestamp* at,
                               const google::protobuf::Duration* in,
                               bool* has_at, Micros* expires_at,
                               Micros* expires_in) {
  if (at != nullptr && in != nullptr) {
    return absl::InvalidArgumentError(
        "expires_at and expires_in: set one, not both");
  }
  if (at != nullptr) {
    absl::StatusOr<Micros> micros = ToMicros(*at, "expires_at");
    if (!micros.ok()) return micros.status();
    *has_at = true;
    *expires_at = *micros;
  } else if (in != nullptr) {
    absl::StatusOr<Micros> none = ReadExpiry(nullptr, in, "", expires_in);
    if (!none.ok()) return none.status();
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Command> ToCommand(const v1::AmendOfferRequest& request) {
  AmendOfferCommand c;
  c.offer_id = request.id();
  c.has_quantity_kg = request.has_quantity_kg();
  c.quantity_kg = request.quantity_kg();
  c.has_floor_price = request.has_floor_price_fen_per_kg();
  c.floor_price_fen_per_kg = request.floor_price_fen_per_kg();
  c.has_min_lot = request.has_min_lot_kg();
  c.min_lot_kg = request.min_lot_kg();
  Micros expires_in = 0;
  // Every field this reads, as for a post.
  Violations v;
  v.Add(ReadAmendedExpiry(
      request.has_expires_at() ? &request.expires_at() : nullptr,
      request.has_expires_in() ? &request.expires_in() : nullptr,
      &c.has_expires_at, &c.expires_at, &expires_in));
  if (request.has_ship_within()) {
    absl::StatusOr<Micros> d =
        ReadDeadline(request.ship_within(), "ship_within");
    v.Add(d.status());
    c.has_ship_within = true;
    c.ship_within = d.value_or(0);
  }
  if (!v.ok()) return v.ToStatus();
  return NewCommand(request, std::move(c), expires_in);
}

absl::StatusOr<Command> ToCommand(const v1::AmendPledgeRequest& request) {
  AmendPledgeCommand c;
  c.pledge_id = request.id();
  c.has_quantity_kg = request.has_quantity_kg();
  c.quantity_kg = request.quantity_kg();
  c.has_max_price = request.has_max_price_fen_per_kg();
  c.max_price_fen_per_kg = request.max_price_fen_per_kg();
  c.has_budget = request.has_budget_fen();
  c.budget_fen = request.budget_fen();
  c.has_min_lot = request.has_min_lot_kg();
  c.min_lot_kg = request.min_lot_kg();
  Micros expires_in = 0;
  // Every field this reads, as for a post.
  Violations v;
  v.Add(ReadAmendedExpiry(
      request.has_expires_at() ? &request.expires_at() : nullptr,
      request.has_expires_in() ? &request.expires_in() : nullptr,
      &c.has_expires_at, &c.expires_at, &expires_in));
  if (request.has_scope()) {
    if (!v1::Scope_IsValid(request.scope())) {
      v.Add(UnknownEnum("scope", request.scope()));
    }
    c.has_scope = true;
    c.scope = request.scope();
  }
  c.region_codes.assign(request.region_codes().begin(),
                        request.region_codes().end());
  if (request.has_accept_within()) {
    absl::StatusOr<Micros> d =
        ReadDeadline(request.accept_within(), "accept_within");
    v.Add(d.status());
    c.has_accept_within = true;
    c.accept_within = d.value_or(0);
  }
  if (!v.ok()) return v.ToStatus();
  return NewCommand(request, std::move(c), expires_in);
}

absl::StatusOr<Command> ToCommand(const v1::CancelOfferRequest& request) {
  return NewCommand(request, CancelOfferCommand{request.id()});
}

absl::StatusOr<Command> ToCommand(const v1::CancelPledgeRequest& request) {
  return NewCommand(request, CancelPledgeCommand{request.id()});
}

absl::StatusOr<Command> ToCommand(const v1::ShipMatchRequest& request) {
  return NewCommand(request,
                    ShipMatchCommand{request.match_id(), request.shipped_kg(),
                                     request.note()});
}

absl::StatusOr<Command> ToCommand(const v1::AcceptMatchRequest& request) {
  return NewCommand(
      request, AcceptMatchCommand{request.match_id(), request.accepted_kg()});
}

absl::StatusOr<Command> ToCommand(const v1::DeclineMatchRequest& request) {
  return NewCommand(request,
                    DeclineMatchCommand{request.match_id(), request.reason()});
}

absl::StatusOr<Command> ToCommand(const v1::SetClearingPolicyRequest& request) {
  const google::protobuf::Duration& d = request.policy().interval();
  // Whole seconds, up to a week (the engine checks the range exactly).
  constexpr int64_t kMaxSeconds = int64_t{7} * 24 * 3600;
  if (d.seconds() < 0 || d.seconds() > kMaxSeconds || d.nanos() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "policy.interval: must be 0 (continuous) or whole seconds from 1 s "
        "to 7 days; got seconds=",
        d.seconds(), " nanos=", d.nanos()));
  }
  return NewCommand(request,
                    SetClearingPolicyCommand{request.policy().product_prefix(),
                                             d.seconds() * 1000000});
}

absl::StatusOr<Command> ToCommand(
    const v1::SetAlertThresholdsRequest& request) {
  const v1::AlertThresholds& in = request.thresholds();
  const google::protobuf::Duration& d = in.horizon();
  // Whole seconds, at most 30 days (the engine checks the range exactly).
  constexpr int64_t kMaxSeconds = int64_t{30} * 24 * 3600;
  if (d.seconds() < 0 || d.seconds() > kMaxSeconds || d.nanos() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "thresholds.horizon: must be whole seconds from 1 hour to 30 days; "
        "got seconds=",
        d.seconds(), " nanos=", d.nanos()));
  }
  AlertThresholds t;
  t.category = in.category();
  t.horizon = d.seconds() * 1000000;
  t.min_gap_kg = in.min_gap_kg();
  t.min_ratio_permille = in.min_ratio_permille();
  t.clear_permille = in.clear_permille();
  return NewCommand(request, SetAlertThresholdsCommand{std::move(t)});
}

absl::StatusOr<Command> ToCommand(const v1::UpsertProductRequest& request) {
  const v1::Product& in = request.product();
  // Both fields this reads, as for an offer.
  Violations v;
  if (!v1::Perishability_IsValid(in.perishability())) {
    v.Add(UnknownEnum("product.perishability", in.perishability()));
  }
  Product product;
  if (in.has_shelf_life()) {
    const google::protobuf::Duration& d = in.shelf_life();
    // Whole seconds, at most 3650 days here so that the microseconds cannot
    // overflow (the engine checks the exact range, from 1 hour).
    constexpr int64_t kMaxSeconds = int64_t{3650} * 24 * 3600;
    if (d.seconds() <= 0 || d.seconds() > kMaxSeconds || d.nanos() != 0) {
      v.Add(absl::InvalidArgumentError(absl::StrCat(
          "product.shelf_life: must be whole seconds from 1 hour to 3650 "
          "days, or unset; got seconds=",
          d.seconds(), " nanos=", d.nanos())));
    } else {
      product.shelf_life = d.seconds() * 1000000;  // no overflow: checked
    }
  }
  if (!v.ok()) return v.ToStatus();
  product.code = in.code();
  product.name = in.name();
  product.unit_note = in.unit_note();
  product.perishability = in.perishability();
  return NewCommand(request, UpsertProductCommand{std::move(product)});
}

absl::StatusOr<Command> ToCommand(const v1::UpsertBuyerRequest& request) {
  const v1::Buyer& in = request.buyer();
  if (!v1::BuyerKind_IsValid(in.kind())) {
    return UnknownEnum("buyer.kind", in.kind());
  }
  Buyer buyer;
  buyer.buyer_id = in.buyer_id();
  buyer.name = in.name();
  buyer.city_code = in.city_code();
  buyer.kind = in.kind();
  buyer.annual_target_fen = in.annual_target_fen();
  buyer.alliance_id = in.alliance_id();
  return NewCommand(request, UpsertBuyerCommand{std::move(buyer)});
}

// --- Engine -> proto --------------------------------------------------------

void ToProto(const Buyer& buyer, v1::Buyer* out) {
  out->set_buyer_id(buyer.buyer_id);
  out->set_name(buyer.name);
  out->set_city_code(buyer.city_code);
  out->set_kind(static_cast<v1::BuyerKind>(buyer.kind));
  out->set_annual_target_fen(buyer.annual_target_fen);
  out->set_alliance_id(buyer.alliance_id);
}

void ToProto(const BuyerProgress& progress, v1::BuyerProgress* out) {
  out->set_buyer_id(progress.buyer_id);
  out->set_alliance_id(progress.alliance_id);
  out->set_year(progress.year);
  out->set_annual_target_fen(progress.annual_target_fen);
  out->set_matched_fen(progress.matched_fen);
  out->set_delivered_fen(progress.delivered_fen);
  out->set_share_done_permille(progress.share_done_permille);
  for (const MonthProgress& m : progress.months) {
    v1::MonthProgress* month = out->add_months();
    month->set_month(m.month);
    month->set_matched_fen(m.matched_fen);
    month->set_delivered_fen(m.delivered_fen);
  }
  for (const std::string& id : progress.member_ids) out->add_member_ids(id);
}

void ToProto(const Region& region, v1::Region* out) {
  out->set_code(region.code);
  out->set_name(region.name);
  out->set_key_assisted(region.key_assisted);
  out->set_relocation_site(region.relocation_site);
}

void ToProto(const Pairing& pairing, v1::Pairing* out) {
  out->set_east_code(pairing.east_code);
  out->set_west_code(pairing.west_code);
  out->set_note(pairing.note);
}

void ToProto(const OfferView& offer, v1::Offer* out) {
  out->set_offer_id(offer.offer_id);
  out->set_supplier_id(std::string(offer.supplier_id));
  out->set_region_code(std::string(offer.region_code));
  out->set_product_code(std::string(offer.product_code));
  out->set_grade(static_cast<v1::Grade>(offer.grade));
  out->set_quantity_kg(offer.quantity_kg);
  out->set_floor_price_fen_per_kg(offer.floor_price_fen_per_kg);
  out->set_min_lot_kg(offer.min_lot_kg);
  ToTimestamp(offer.expires_at, out->mutable_expires_at());
  out->set_certified(offer.certified);
  out->set_households(static_cast<int32_t>(offer.households));
  out->set_remaining_kg(offer.remaining_kg);
  out->set_status(static_cast<v1::OrderStatus>(offer.status));
  ToTimestamp(offer.posted_at, out->mutable_posted_at());
  ToDuration(offer.ship_within, out->mutable_ship_within());
}

void ToProto(const PledgeView& pledge, v1::Pledge* out) {
  out->set_pledge_id(pledge.pledge_id);
  out->set_buyer_id(std::string(pledge.buyer_id));
  out->set_buyer_city_code(std::string(pledge.buyer_city_code));
  out->set_buyer_kind(static_cast<v1::BuyerKind>(pledge.buyer_kind));
  out->set_product_code(std::string(pledge.product_code));
  out->set_min_grade(static_cast<v1::Grade>(pledge.min_grade));
  out->set_quantity_kg(pledge.quantity_kg);
  out->set_max_price_fen_per_kg(pledge.max_price_fen_per_kg);
  out->set_budget_fen(pledge.budget_fen);
  out->set_min_lot_kg(pledge.min_lot_kg);
  ToTimestamp(pledge.expires_at, out->mutable_expires_at());
  out->set_scope(static_cast<v1::Scope>(pledge.scope));
  for (std::string_view code : pledge.region_codes) {
    out->add_region_codes(std::string(code));
  }
  out->set_require_certified(pledge.require_certified);
  out->set_remaining_kg(pledge.remaining_kg);
  out->set_spent_fen(pledge.spent_fen);
  out->set_status(static_cast<v1::OrderStatus>(pledge.status));
  ToTimestamp(pledge.posted_at, out->mutable_posted_at());
  ToDuration(pledge.accept_within, out->mutable_accept_within());
  if (pledge.recurrence.period != 0) {
    const Recurrence& r = pledge.recurrence;
    v1::Recurrence* recurrence = out->mutable_recurrence();
    recurrence->set_period(static_cast<v1::Period>(r.period));
    recurrence->set_quantity_kg(r.quantity_kg);
    recurrence->set_budget_fen(r.budget_fen);
    ToTimestamp(r.until, recurrence->mutable_until());
    recurrence->set_carry_over(r.carry_over);
  }
  for (const PledgePeriodView& period : pledge.periods) {
    v1::PledgePeriod* p = out->add_periods();
    ToTimestamp(period.start, p->mutable_start());
    ToTimestamp(period.end, p->mutable_end());
    p->set_pledged_kg(period.pledged_kg);
    p->set_budget_fen(period.budget_fen);
    p->set_matched_kg(period.matched_kg);
    p->set_delivered_kg(period.delivered_kg);
    p->set_spent_fen(period.spent_fen);
  }
  for (const MemberShare& m : pledge.members) {
    v1::MemberShare* member = out->add_members();
    member->set_buyer_id(m.buyer_id);
    member->set_share_permille(static_cast<uint32_t>(m.share_permille));
  }
}

void ToProto(const MatchView& match, v1::Match* out) {
  out->set_match_id(match.match_id);
  out->set_offer_id(match.offer_id);
  out->set_pledge_id(match.pledge_id);
  out->set_supplier_id(std::string(match.supplier_id));
  out->set_buyer_id(std::string(match.buyer_id));
  out->set_member_buyer_id(std::string(match.member_buyer_id));
  out->set_product_code(std::string(match.product_code));
  out->set_region_code(std::string(match.region_code));
  out->set_buyer_city_code(std::string(match.buyer_city_code));
  out->set_quantity_kg(match.quantity_kg);
  out->set_price_fen_per_kg(match.price_fen_per_kg);
  out->set_amount_fen(match.amount_fen);
  out->set_partner(match.partner);
  ToTimestamp(match.matched_at, out->mutable_matched_at());
  out->set_status(static_cast<v1::MatchStatus>(match.status));
  // Unset until it happens (a mutable_ call alone would set the field).
  auto time = [out](Micros t,
                    google::protobuf::Timestamp* (v1::Match::*field)()) {
    if (t != 0) ToTimestamp(t, (out->*field)());
  };
  time(match.ship_by, &v1::Match::mutable_ship_by);
  time(match.shipped_at, &v1::Match::mutable_shipped_at);
  out->set_shipped_kg(match.shipped_kg);
  time(match.accept_by, &v1::Match::mutable_accept_by);
  time(match.delivered_at, &v1::Match::mutable_delivered_at);
  out->set_accepted_kg(match.accepted_kg);
  out->set_returned_kg(match.returned_kg);
  out->set_note(std::string(match.note));
  out->set_reason(std::string(match.reason));
  time(match.updated_at, &v1::Match::mutable_updated_at);
}

void ToProto(const MatchEventView& event, v1::MatchEvent* out) {
  out->set_event_id(event.event_id);
  out->set_kind(event.kind == MatchEventKind::kNewMatch ? v1::NEW_MATCH
                                                        : v1::STATUS_CHANGED);
  ToProto(event.match, out->mutable_match());
}

void ToProto(const BookLine& line, v1::BookLine* out) {
  out->set_product_code(std::string(line.product_code));
  out->set_open_offer_kg(line.open_offer_kg);
  out->set_open_offer_count(line.open_offer_count);
  out->set_open_pledge_kg(line.open_pledge_kg);
  out->set_open_pledge_count(line.open_pledge_count);
  out->set_best_floor_price_fen_per_kg(line.best_floor_price_fen_per_kg);
  out->set_best_max_price_fen_per_kg(line.best_max_price_fen_per_kg);
  if (line.next_clearing_at != 0) {
    ToTimestamp(line.next_clearing_at, out->mutable_next_clearing_at());
  }
}

void ToProto(const ClearingPolicyResult& policy, v1::ClearingPolicy* out) {
  out->set_product_prefix(policy.product_prefix);
  ToDuration(policy.interval, out->mutable_interval());
  if (policy.interval == 0) out->clear_interval();
  if (policy.next_clearing_at != 0) {
    ToTimestamp(policy.next_clearing_at, out->mutable_next_clearing_at());
  }
}

void ToProto(const AlertThresholds& t, v1::AlertThresholds* out) {
  out->set_category(t.category);
  ToDuration(t.horizon, out->mutable_horizon());
  out->set_min_gap_kg(t.min_gap_kg);
  out->set_min_ratio_permille(t.min_ratio_permille);
  out->set_clear_permille(t.clear_permille);
}

void ToProto(const AlertView& a, v1::Alert* out) {
  out->set_alert_id(a.alert_id);
  out->set_product_code(a.product_code);
  out->set_region_code(a.region_code);
  out->set_level(static_cast<v1::AlertLevel>(a.level));
  out->set_at_risk_kg(a.at_risk_kg);
  out->set_demand_kg(a.demand_kg);
  out->set_households(a.households);
  out->set_open_offer_kg(a.open_offer_kg);
  ToTimestamp(a.raised_at, out->mutable_raised_at());
  ToTimestamp(a.updated_at, out->mutable_updated_at());
  if (a.cleared_at != 0) ToTimestamp(a.cleared_at, out->mutable_cleared_at());
  for (const AlertCandidateView& c : a.candidates) {
    v1::AlertCandidate* o = out->add_candidates();
    o->set_pledge_id(c.pledge_id);
    o->set_buyer_id(c.buyer_id);
    o->set_buyer_city_code(c.buyer_city_code);
    o->set_kg(c.kg);
    for (const std::string& change : c.changes) o->add_changes(change);
  }
}

void ToProto(const AlertEventView& e, v1::AlertEvent* out) {
  out->set_event_id(e.event_id);
  out->set_kind(static_cast<v1::AlertEventKind>(e.kind));
  ToProto(e.alert, out->mutable_alert());
}

// --- Engine results -> responses
// -------------------------------------------------

void ToResponse(const CommandResult& result, v1::Region* out) {
  ToProto(std::get<RegionResult>(result).region, out);
}

void ToResponse(const CommandResult& result, v1::Pairing* out) {
  ToProto(std::get<PairingResult>(result).pairing, out);
}

void ToResponse(const CommandResult& result, v1::DeletePairingResponse* out) {
  ToProto(std::get<PairingResult>(result).pairing, out->mutable_pairing());
}

namespace {

// The first kMaxInlineMatches of `matches` into out's matches, and the
// counts that tell the client what it did not get.
template <typename Response>
void ToInlineMatches(const std::vector<MatchView>& matches, Response* out) {
  const size_t inline_count = std::min(matches.size(), kMaxInlineMatches);
  for (size_t i = 0; i < inline_count; ++i) {
    ToProto(matches[i], out->add_matches());
  }
  out->set_match_count(static_cast<int64_t>(matches.size()));
  out->set_omitted_match_count(
      static_cast<int64_t>(matches.size() - inline_count));
}

}  // namespace

void ToProto(const Explanation& explanation, v1::Explanation* out) {
  out->set_unfilled_kg(explanation.unfilled_kg);
  out->set_compatible_kg(explanation.compatible_kg);
  out->set_several_reasons_kg(explanation.several_reasons_kg);
  for (const Blocker& blocker : explanation.blockers) {
    v1::Blocker* b = out->add_blockers();
    // The engine's reasons are numbered as the proto's.
    b->set_reason(static_cast<v1::BlockReason>(blocker.reason));
    b->set_kg(blocker.kg);
    b->set_widening(blocker.widening);
    b->set_widening_kg(blocker.widening_kg);
    b->set_widened_value(blocker.widened_value);
  }
  out->set_summary(explanation.summary);
}

void ToResponse(const CommandResult& result, v1::PostOfferResponse* out) {
  const OfferResult& offer = std::get<OfferResult>(result);
  ToProto(offer.offer, out->mutable_offer());
  ToInlineMatches(offer.matches, out);
}

void ToResponse(const CommandResult& result, v1::PostPledgeResponse* out) {
  const PledgeResult& pledge = std::get<PledgeResult>(result);
  ToProto(pledge.pledge, out->mutable_pledge());
  ToInlineMatches(pledge.matches, out);
}

void ToResponse(const CommandResult& result, v1::AmendOfferResponse* out) {
  const OfferResult& offer = std::get<OfferResult>(result);
  ToProto(offer.offer, out->mutable_offer());
  ToInlineMatches(offer.matches, out);
}

void ToResponse(const CommandResult& result, v1::AmendPledgeResponse* out) {
  const PledgeResult& pledge = std::get<PledgeResult>(result);
  ToProto(pledge.pledge, out->mutable_pledge());
  ToInlineMatches(pledge.matches, out);
}

void ToResponse(const CommandResult& result, v1::CancelOfferResponse* out) {
  const OfferResult& offer = std::get<OfferResult>(result);
  ToProto(offer.offer, out->mutable_offer());
  out->set_unfilled_kg(offer.unfilled_kg);
}

void ToResponse(const CommandResult& result, v1::MatchUpdateResponse* out) {
  const MatchResult& match = std::get<MatchResult>(result);
  ToProto(match.match, out->mutable_match());
  for (const MatchView& m : match.matches) ToProto(m, out->add_matches());
}

void ToResponse(const CommandResult& result, v1::CancelPledgeResponse* out) {
  const PledgeResult& pledge = std::get<PledgeResult>(result);
  ToProto(pledge.pledge, out->mutable_pledge());
  out->set_unfilled_kg(pledge.unfilled_kg);
}

void ToResponse(const CommandResult& result, v1::ClearingPolicy* out) {
  ToProto(std::get<ClearingPolicyResult>(result), out);
}

void ToResponse(const CommandResult& result, v1::AlertThresholds* out) {
  ToProto(std::get<AlertThresholdsResult>(result).thresholds, out);
}

void ToProto(const Product& product, v1::Product* out) {
  out->set_code(product.code);
  out->set_name(product.name);
  out->set_unit_note(product.unit_note);
  out->set_perishability(static_cast<v1::Perishability>(product.perishability));
  ToDuration(product.shelf_life, out->mutable_shelf_life());
  if (product.shelf_life <= 0) out->clear_shelf_life();
  out->set_from_orders(product.from_orders);
}

void ToResponse(const CommandResult& result, v1::UpsertProductResponse* out) {
  const ProductResult& product = std::get<ProductResult>(result);
  ToProto(product.product, out->mutable_product());
  out->set_created(product.created);
}

void ToResponse(const CommandResult& result, v1::UpsertBuyerResponse* out) {
  const BuyerResult& buyer = std::get<BuyerResult>(result);
  ToProto(buyer.buyer, out->mutable_buyer());
  out->set_created(buyer.created);
}

// --- Any mutating request
// ------------------------------------------------------

namespace {

// How one kind of mutating request becomes a command and its answer
// becomes the response: one line per RPC in Conversions().
struct Conversion {
  absl::StatusOr<Command> (*to_command)(const google::protobuf::Message&);
  void (*to_response)(const CommandResult&, google::protobuf::Message*);
};

template <typename Request, typename Response>
std::pair<const google::protobuf::Descriptor*, Conversion> Convert() {
  return {Request::descriptor(),
          Conversion{[](const google::protobuf::Message& request) {
                       return ToCommand(static_cast<const Request&>(request));
                     },
                     [](const CommandResult& result,
                        google::protobuf::Message* response) {
                       ToResponse(result, static_cast<Response*>(response));
                     }}};
}

const absl::flat_hash_map<const google::protobuf::Descriptor*, Conversion>&
Conversions() {
  static const auto* conversions =
      new absl::flat_hash_map<const google::protobuf::Descriptor*, Conversion>({
          Convert<v1::UpsertRegionRequest, v1::Region>(),
          Convert<v1::UpsertPairingRequest, v1::Pairing>(),
          Convert<v1::DeletePairingRequest, v1::DeletePairingResponse>(),
          Convert<v1::PostOfferRequest, v1::PostOfferResponse>(),
          Convert<v1::PostPledgeRequest, v1::PostPledgeResponse>(),
          Convert<v1::CancelOfferRequest, v1::CancelOfferResponse>(),
          Convert<v1::CancelPledgeRequest, v1::CancelPledgeResponse>(),
          Convert<v1::ShipMatchRequest, v1::MatchUpdateResponse>(),
          Convert<v1::AcceptMatchRequest, v1::MatchUpdateResponse>(),
          Convert<v1::DeclineMatchRequest, v1::MatchUpdateResponse>(),
          Convert<v1::UpsertBuyerRequest, v1::UpsertBuyerResponse>(),
          Convert<v1::AmendOfferRequest, v1::AmendOfferResponse>(),
          Convert<v1::AmendPledgeRequest, v1::AmendPledgeResponse>(),
          Convert<v1::SetClearingPolicyRequest, v1::ClearingPolicy>(),
          Convert<v1::SetAlertThresholdsRequest, v1::AlertThresholds>(),
          Convert<v1::UpsertProductRequest, v1::UpsertProductResponse>(),
      });
  return *conversions;
}

const Conversion* FindConversion(const google::protobuf::Descriptor* type) {
  auto it = Conversions().find(type);
  return it == Conversions().end() ? nullptr : &it->second;
}

}  // namespace

absl::StatusOr<Command> ToCommand(const google::protobuf::Message& request) {
  const Conversion* conversion = FindConversion(request.GetDescriptor());
  if (conversion == nullptr) {
    return absl::InternalError(absl::StrCat(
        request.GetDescriptor()->full_name(), " is not a mutating request"));
  }
  return conversion->to_command(request);
}

void ToResponse(const google::protobuf::Message& request,
                const CommandResult& result,
                google::protobuf::Message* response) {
  // Only requests ToCommand converted reach here, so there is an entry.
  FindConversion(request.GetDescriptor())->to_response(result, response);
}

absl::StatusOr<Command> ToCommand(const v1::Command& command) {
  const google::protobuf::OneofDescriptor* oneof =
      v1::Command::descriptor()->FindOneofByName("command");
  const google::protobuf::FieldDescriptor* field =
      command.GetReflection()->GetOneofFieldDescriptor(command, oneof);
  if (field == nullptr) {
    std::string names;
    for (int i = 0; i < oneof->field_count(); ++i) {
      absl::StrAppend(&names, i == 0 ? "" : ", ", oneof->field(i)->name());
    }
    return absl::InvalidArgumentError(
        absl::StrCat("command: none of ", names, " is set"));
  }
  return ToCommand(command.GetReflection()->GetMessage(command, field));
}

namespace {

// For each alternative of Submit's Command (by field number): the result
// field of the same name and the conversion of its request. Looked up once,
// not per command.
struct SubmitResultRoute {
  const google::protobuf::FieldDescriptor* result_field = nullptr;
  const Conversion* conversion = nullptr;
};

const absl::flat_hash_map<int, SubmitResultRoute>& SubmitResultRoutes() {
  static const auto* routes = [] {
    auto* map = new absl::flat_hash_map<int, SubmitResultRoute>();
    const google::protobuf::OneofDescriptor* oneof =
        v1::Command::descriptor()->FindOneofByName("command");
    for (int i = 0; i < oneof->field_count(); ++i) {
      const google::protobuf::FieldDescriptor* field = oneof->field(i);
      (*map)[field->number()] = SubmitResultRoute{
          v1::CommandResult::descriptor()->FindFieldByName(field->name()),
          FindConversion(field->message_type())};
    }
    return map;
  }();
  return *routes;
}

}  // namespace

void ToCommandResult(v1::Command::CommandCase command_case,
                     const CommandResult& result, v1::CommandResult* out) {
  // The result field has the same name as the command's.
  auto it = SubmitResultRoutes().find(command_case);
  const google::protobuf::FieldDescriptor* result_field =
      it == SubmitResultRoutes().end() ? nullptr : it->second.result_field;
  const Conversion* conversion =
      it == SubmitResultRoutes().end() ? nullptr : it->second.conversion;
  if (result_field == nullptr || conversion == nullptr) {
    // A Command alternative without its result or conversion: a contract
    // out of step with this table (SubmitCommandsAllConvert tests it).
    ToCommandError(absl::InternalError(
                       absl::StrCat("command ", static_cast<int>(command_case),
                                    " has no result conversion")),
                   out->mutable_error());
    return;
  }
  conversion->to_response(
      result, out->GetReflection()->MutableMessage(out, result_field));
}

OrderFilter ToOrderFilter(const v1::ListOffersRequest& request) {
  OrderFilter filter;
  filter.owner_id = request.supplier_id();
  filter.product_code_prefix = request.product_code_prefix();
  filter.region_code_prefix = request.region_code_prefix();
  filter.status = request.status();
  return filter;
}

OrderFilter ToOrderFilter(const v1::ListPledgesRequest& request) {
  OrderFilter filter;
  filter.owner_id = request.buyer_id();
  filter.product_code_prefix = request.product_code_prefix();
  filter.region_code_prefix = request.region_code_prefix();
  filter.status = request.status();
  return filter;
}

BuyerFilter ToBuyerFilter(const v1::ListBuyersRequest& request) {
  BuyerFilter filter;
  filter.city_code_prefix = request.city_code_prefix();
  filter.kind = request.kind();
  filter.alliance_id = request.alliance_id();
  return filter;
}

MatchFilter ToMatchFilter(const v1::ListMatchesRequest& request) {
  MatchFilter filter;
  filter.supplier_id = request.supplier_id();
  filter.buyer_id = request.buyer_id();
  filter.offer_id = request.offer_id();
  filter.pledge_id = request.pledge_id();
  filter.region_code_prefix = request.region_code_prefix();
  filter.status = request.status();
  return filter;
}

MatchFilter ToMatchFilter(const v1::WatchMatchesRequest& request) {
  MatchFilter filter;
  filter.supplier_id = request.supplier_id();
  filter.buyer_id = request.buyer_id();
  filter.offer_id = request.offer_id();
  filter.pledge_id = request.pledge_id();
  filter.region_code_prefix = request.region_code_prefix();
  return filter;
}

// --- Paging -----------------------------------------------------------------

absl::StatusOr<StatsQuery> ToStatsQuery(const v1::GetStatsRequest& request) {
  StatsQuery query;
  for (const int d : request.group_by()) {
    if (d == v1::DIMENSION_UNSPECIFIED || !v1::Dimension_IsValid(d)) {
      return absl::InvalidArgumentError(
          absl::StrCat("group_by: unknown dimension ", d));
    }
    if (std::find(query.group_by.begin(), query.group_by.end(), d) !=
        query.group_by.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("group_by: ", v1::Dimension_Name(d),
                       " is repeated; group by each dimension once"));
    }
    query.group_by.push_back(d);
  }
  if (query.group_by.size() > kMaxStatsGroupBy) {
    return absl::InvalidArgumentError(
        absl::StrCat("group_by: ", query.group_by.size(),
                     " dimensions; at most ", kMaxStatsGroupBy));
  }
  const v1::StatsFilter& f = request.filter();
  query.product_code_prefix = f.product_code_prefix();
  query.origin_region_prefix = f.origin_region_prefix();
  query.buyer_city_prefix = f.buyer_city_prefix();
  query.buyer_id = f.buyer_id();
  query.supplier_id = f.supplier_id();
  if (request.has_from()) {
    absl::StatusOr<Micros> from = ToMicros(request.from(), "from");
    if (!from.ok()) return from.status();
    query.from = *from;
  }
  if (request.has_to()) {
    absl::StatusOr<Micros> to = ToMicros(request.to(), "to");
    if (!to.ok()) return to.status();
    query.to = *to;
  }
  return query;
}

void ToProto(const StatsRowView& row, v1::StatsRow* out) {
  for (const std::string& key : row.keys) out->add_keys(key);
  out->set_kg(row.kg);
  out->set_fen(row.fen);
  out->set_matches(row.matches);
  out->set_suppliers(row.suppliers);
  out->set_buyers(row.buyers);
  out->set_households(row.households);
  out->set_delivered_kg(row.delivered_kg);
  out->set_delivered_fen(row.delivered_fen);
}

absl::StatusOr<int> StatsPageSize(int32_t page_size) {
  if (page_size < 0 || page_size > kMaxStatsPageSize) {
    return absl::InvalidArgumentError(absl::StrCat("page_size: ", page_size,
                                                   " is out of range [0, ",
                                                   kMaxStatsPageSize, "]"));
  }
  return page_size == 0 ? kDefaultStatsPageSize : page_size;
}

// Keys are ids, codes and dates, which hold no control characters, so a
// unit separator joins them unambiguously; "s" keeps the token of one
// empty key from being empty.
std::string StatsToken(const std::vector<std::string>& keys) {
  return absl::StrCat("s", absl::WebSafeBase64Escape(absl::StrJoin(
                               keys, absl::string_view("\x1f", 1))));
}

absl::StatusOr<std::vector<std::string>> ParseStatsToken(
    absl::string_view token, size_t dimensions) {
  std::vector<std::string> keys;
  if (token.empty()) return keys;
  std::string joined;
  if (token[0] != 's' ||
      !absl::WebSafeBase64Unescape(token.substr(1), &joined)) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_token: malformed: ", EchoValue(Std(token))));
  }
  keys = absl::StrSplit(joined, absl::string_view("\x1f", 1));
  if (keys.size() != std::max<size_t>(dimensions, 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "page_token: ", EchoValue(Std(token)), " holds ", keys.size(),
        " keys; the request groups by ", dimensions, " dimensions"));
  }
  if (dimensions == 0) keys.clear();
  return keys;
}

absl::StatusOr<int> PageSize(int32_t page_size) {
  if (page_size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: must not be negative: ", page_size));
  }
  if (page_size == 0) return kDefaultPageSize;
  return page_size > kMaxPageSize ? kMaxPageSize : page_size;
}

absl::StatusOr<uint64_t> ParseIdToken(absl::string_view token) {
  if (token.empty()) return 0;
  uint64_t id = 0;
  bool digits = token.size() <= 20 &&
                std::all_of(token.begin(), token.end(), absl::ascii_isdigit);
  if (!digits || !absl::SimpleAtoi(token, &id) || id == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_token: malformed: ", EchoValue(Std(token))));
  }
  return id;
}

std::string IdToken(uint64_t id) { return absl::StrCat(id); }

absl::StatusOr<std::string> ParseRegionToken(absl::string_view token) {
  if (token.empty()) return std::string();
  if (token.size() != 6 ||
      !std::all_of(token.begin(), token.end(), absl::ascii_isdigit)) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_token: malformed: ", EchoValue(Std(token))));
  }
  return std::string(token);
}

absl::StatusOr<std::pair<std::string, std::string>> ParsePairingToken(
    absl::string_view token) {
  if (token.empty()) return std::make_pair(std::string(), std::string());
  std::pair<std::string, std::string> codes =
      absl::StrSplit(token, absl::MaxSplits(',', 1));
  auto six_digits = [](const std::string& code) {
    return code.size() == 6 &&
           std::all_of(code.begin(), code.end(), absl::ascii_isdigit);
  };
  if (!six_digits(codes.first) || !six_digits(codes.second)) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_token: malformed: ", EchoValue(Std(token))));
  }
  return codes;
}

absl::StatusOr<std::string> ParseProductToken(absl::string_view token) {
  if (token.empty()) return std::string();
  if (!CheckProductCode("page_token", Std(token)).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_token: malformed: ", EchoValue(Std(token))));
  }
  return std::string(token);
}

std::string PairingToken(absl::string_view east_code,
                         absl::string_view west_code) {
  return absl::StrCat(east_code, ",", west_code);
}

}  // namespace duijie
