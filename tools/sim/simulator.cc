// The allocation simulator's replay and measures; see simulator.h.
#include "tools/sim/simulator.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>
#include <variant>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "api/convert.h"
#include "bench/workload.h"
#include "engine/codes.h"
#include "engine/engine.h"
#include "tests/reference_matcher.h"

namespace duijie {
namespace sim {
namespace {

int32_t RegionInt(std::string_view code) {
  int32_t parsed = 0;
  return ParseRegionCode(code, &parsed) ? parsed : 0;
}

absl::Status Refused(const Command& c, const absl::Status& s) {
  return absl::FailedPreconditionError(
      absl::StrCat("the scenario's ", CommandName(c.code()), " at ", c.now,
                   " was refused (a post must be accepted): ", s.ToString()));
}

bool IsCancel(const Command& c) {
  return std::holds_alternative<CancelOfferCommand>(c.body) ||
         std::holds_alternative<CancelPledgeCommand>(c.body);
}

// The latest time any order of the scenario is live.
Micros LastEnd(const Scenario& s) {
  Micros end = s.start;
  for (const ScenarioOffer& o : s.offers) end = std::max(end, o.ends_at);
  for (const ScenarioPledge& p : s.pledges) end = std::max(end, p.ends_at);
  return end;
}

absl::StatusOr<std::vector<Fill>> RunEngine(const Scenario& s,
                                            const Policy& policy) {
  Engine engine;
  // Batch: the clearing policy from the start; before each record every
  // clearing due at or before its time; after the last, clearings until
  // every order has ended. With no policy no clearing is ever due.
  if (policy.kind == Policy::kBatch) {
    if (absl::StatusOr<CommandResult> r = engine.TickAndApply(MakeCommand(
            SetClearingPolicyCommand{"", policy.interval}, s.start));
        !r.ok()) {
      return r.status();
    }
  }
  auto clear_until = [&engine](Micros t) -> absl::Status {
    while (engine.NextClearingAt() <= t) {
      absl::StatusOr<CommandResult> r = engine.TickAndApply(
          MakeCommand(ClearCommand{}, engine.NextClearingAt()));
      if (!r.ok()) return r.status();
    }
    return absl::OkStatus();
  };
  for (const Command& c : s.commands) {
    if (absl::Status cleared = clear_until(c.now); !cleared.ok()) {
      return cleared;
    }
    absl::StatusOr<CommandResult> r = engine.TickAndApply(c);
    if (!r.ok() && !IsCancel(c)) return Refused(c, r.status());
  }
  if (absl::Status cleared = clear_until(LastEnd(s)); !cleared.ok()) {
    return cleared;
  }
  std::vector<Fill> fills;
  uint64_t after = 0;
  bool more = true;
  while (more) {
    for (const MatchView& m :
         engine.ListMatches(MatchFilter(), after, 10000, &more)) {
      fills.push_back({m.offer_id, m.pledge_id, m.quantity_kg, m.partner});
      after = m.match_id;
    }
  }
  return fills;
}

absl::StatusOr<std::vector<Fill>> RunFifo(const Scenario& s) {
  ReferenceMatcher m(QueueOrder::kFifo);
  for (const Command& c : s.commands) {
    ReferenceContext ctx;
    ctx.now = c.now;
    const absl::Status status = std::visit(
        [&](const auto& b) -> absl::Status {
          using T = std::decay_t<decltype(b)>;
          if constexpr (std::is_same_v<T, UpsertRegionCommand>) {
            return m.UpsertRegion(ctx, b.region).status();
          } else if constexpr (std::is_same_v<T, UpsertPairingCommand>) {
            return m.UpsertPairing(ctx, b.pairing).status();
          } else if constexpr (std::is_same_v<T, PostOfferCommand>) {
            return m.PostOffer(ctx, b.offer).status();
          } else if constexpr (std::is_same_v<T, PostPledgeCommand>) {
            return m.PostPledge(ctx, b.pledge).status();
          } else if constexpr (std::is_same_v<T, CancelOfferCommand>) {
            return m.CancelOffer(ctx, b.offer_id).status();
          } else if constexpr (std::is_same_v<T, CancelPledgeCommand>) {
            return m.CancelPledge(ctx, b.pledge_id).status();
          } else {
            return absl::InvalidArgumentError("not a scenario command");
          }
        },
        c.body);
    if (!status.ok() && !IsCancel(c)) return Refused(c, status);
  }
  std::vector<Fill> fills;
  for (const MatchView& v : m.AllMatches()) {
    fills.push_back({v.offer_id, v.pledge_id, v.quantity_kg, v.partner});
  }
  return fills;
}

}  // namespace

absl::StatusOr<Scenario> MakeScenario(
    const std::vector<bench::WorkloadRecord>& records) {
  Scenario s;
  if (!records.empty()) s.start = records.front().at_micros();
  for (const bench::WorkloadRecord& r : records) {
    absl::StatusOr<Command> c = absl::InvalidArgumentError(
        "a scenario holds reference data, posts and cancels only");
    switch (r.command_case()) {
      case bench::WorkloadRecord::kUpsertRegion:
        c = ToCommand(r.upsert_region());
        break;
      case bench::WorkloadRecord::kUpsertPairing:
        c = ToCommand(r.upsert_pairing());
        break;
      case bench::WorkloadRecord::kPostOffer:
        c = ToCommand(r.post_offer());
        break;
      case bench::WorkloadRecord::kPostPledge:
        c = ToCommand(r.post_pledge());
        break;
      case bench::WorkloadRecord::kCancelOffer:
        c = ToCommand(r.cancel_offer());
        break;
      case bench::WorkloadRecord::kCancelPledge:
        c = ToCommand(r.cancel_pledge());
        break;
      default:
        break;
    }
    if (!c.ok()) return c.status();
    const Micros at = r.at_micros();
    ResolveExpiry(*c, at);
    if (auto* b = std::get_if<UpsertRegionCommand>(&c->body)) {
      s.regions.push_back(b->region);
    } else if (auto* b = std::get_if<UpsertPairingCommand>(&c->body)) {
      s.pairings.push_back(b->pairing);
    } else if (auto* b = std::get_if<PostOfferCommand>(&c->body)) {
      // Nothing is shipped in a simulation: an offer with the default week
      // to ship would see its matches lapse; give it the longest allowed.
      if (b->offer.ship_within == 0) b->offer.ship_within = kMaxDeadlineWithin;
      s.offers.push_back({b->offer, at, b->offer.expires_at, false});
    } else if (auto* b = std::get_if<PostPledgeCommand>(&c->body)) {
      s.pledges.push_back({b->pledge, at, b->pledge.expires_at});
    } else if (auto* b = std::get_if<CancelOfferCommand>(&c->body)) {
      if (b->offer_id >= 1 && b->offer_id <= s.offers.size()) {
        Micros& end = s.offers[b->offer_id - 1].ends_at;
        end = std::min(end, at + 1);
      }
    } else if (auto* b = std::get_if<CancelPledgeCommand>(&c->body)) {
      if (b->pledge_id >= 1 && b->pledge_id <= s.pledges.size()) {
        Micros& end = s.pledges[b->pledge_id - 1].ends_at;
        end = std::min(end, at + 1);
      }
    }
    s.commands.push_back(*std::move(c));
  }
  for (ScenarioOffer& o : s.offers) {
    for (const Region& r : s.regions) {
      if (r.code == o.spec.region_code) {
        o.priority = r.key_assisted || r.relocation_site;
      }
    }
  }
  return s;
}

absl::StatusOr<Scenario> LoadScenario(const std::string& path) {
  bench::WorkloadReader reader;
  if (absl::Status s = reader.Open(path); !s.ok()) return s;
  std::vector<bench::WorkloadRecord> records;
  bench::WorkloadRecord r;
  while (reader.Next(&r)) records.push_back(r);
  if (!reader.status().ok()) return reader.status();
  return MakeScenario(records);
}

bool Partner(const Scenario& s, std::string_view region,
             std::string_view city) {
  const int32_t west = RegionInt(region), east = RegionInt(city);
  for (const Pairing& p : s.pairings) {
    if (RegionCovers(RegionInt(p.east_code), east) &&
        RegionCovers(RegionInt(p.west_code), west)) {
      return true;
    }
  }
  return false;
}

bool Compatible(const Scenario& s, const OfferSpec& o, const PledgeSpec& p) {
  if (!ProductCovers(p.product_code, o.product_code)) return false;
  if (p.min_grade != 0 && o.grade > p.min_grade) return false;
  if (p.require_certified && !o.certified) return false;
  if (o.floor_price_fen_per_kg > p.max_price_fen_per_kg) return false;
  switch (static_cast<Scope>(p.scope)) {
    case Scope::kAny:
      return true;
    case Scope::kPartnersOnly:
      return Partner(s, o.region_code, p.buyer_city_code);
    case Scope::kListedRegions:
      for (const std::string& area : p.region_codes) {
        if (RegionCovers(RegionInt(area), RegionInt(o.region_code))) {
          return true;
        }
      }
      return false;
  }
  return false;
}

absl::StatusOr<Policy> ParsePolicy(std::string_view text) {
  Policy p;
  p.name = std::string(text);
  if (text == "continuous") return p;
  if (text == "fifo") {
    p.kind = Policy::kFifo;
    return p;
  }
  constexpr std::string_view kBatch = "batch:";
  if (text.substr(0, kBatch.size()) == kBatch && text.size() > kBatch.size()) {
    std::string_view n = text.substr(kBatch.size());
    const char unit = n.back();
    n.remove_suffix(1);
    const Micros scale = unit == 's'   ? Micros{1000000}
                         : unit == 'm' ? Micros{60} * 1000000
                         : unit == 'h' ? Micros{3600} * 1000000
                         : unit == 'd' ? Micros{86400} * 1000000
                                       : 0;
    int64_t count = 0;
    if (scale > 0 && absl::SimpleAtoi(Absl(n), &count) && count > 0 &&
        count <= std::numeric_limits<Micros>::max() / scale) {
      p.kind = Policy::kBatch;
      p.interval = count * scale;
      return p;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "policy ", Absl(text),
      ": expected continuous, fifo or batch:N{s,m,h,d} (e.g. batch:1h)"));
}

absl::StatusOr<std::vector<Fill>> Run(const Scenario& scenario,
                                      const Policy& policy) {
  if (policy.kind == Policy::kFifo) return RunFifo(scenario);
  return RunEngine(scenario, policy);
}

ShelfClass ShelfClassOf(const ScenarioOffer& o) {
  const Micros life = o.spec.expires_at - o.posted_at;
  return life <= kPerishableLife       ? kPerishable
         : life <= kSemiPerishableLife ? kSemiPerishable
                                       : kStorable;
}

Outcome Measure(const Scenario& scenario, const std::vector<Fill>& fills) {
  Outcome out;
  std::vector<int64_t> sold(scenario.offers.size(), 0);
  for (const Fill& f : fills) {
    sold[f.offer_id - 1] += f.kg;
    out.sold_kg += f.kg;
    if (scenario.offers[f.offer_id - 1].priority) out.priority_kg += f.kg;
    if (f.partner) out.partner_kg += f.kg;
  }
  const Micros week = Micros{7} * 86400 * 1000000;
  auto third = [&](Micros posted_at) {
    return std::min<int64_t>(2, (posted_at - scenario.start) / (week / 3));
  };
  for (const ScenarioPledge& p : scenario.pledges) {
    out.pledged_kg += p.spec.quantity_kg;
    out.pledged_kg_by_third[third(p.posted_at)] += p.spec.quantity_kg;
  }
  for (size_t i = 0; i < scenario.offers.size(); ++i) {
    const ScenarioOffer& o = scenario.offers[i];
    const int64_t kg = o.spec.quantity_kg;
    out.offered_kg += kg;
    out.offered_kg_by_third[third(o.posted_at)] += kg;
    // households <= 2^31 and sold <= kg <= 10^9: the product fits.
    out.households += o.spec.households * sold[i] / kg;
    const int64_t unsold = kg - sold[i];
    out.unsold_kg_by_class[ShelfClassOf(o)] += unsold;
    out.unsold_kg_by_third[third(o.posted_at)] += unsold;
  }
  return out;
}

}  // namespace sim
}  // namespace duijie
