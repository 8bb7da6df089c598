// ApplyCommand and EffectOf. See apply.h.
#include "api/apply.h"

#include <utility>
#include <variant>

namespace duijie {
namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

template <typename T>
WriteOutcome Wrap(absl::StatusOr<T> result) {
  if (!result.ok()) return result.status();
  return WriteResult(*std::move(result));
}

template <typename Result>
CommandEffect OrderEffect(const Result& result, uint64_t order_id) {
  CommandEffect effect;
  effect.replayed = result.replayed;
  effect.order_id = order_id;
  effect.match_count = result.matches.size();
  effect.first_match_id =
      result.matches.empty() ? 0 : result.matches.front().match_id;
  return effect;
}

}  // namespace

void StampCommand(WriteCommand& command, Micros now) {
  command.now = now;
  if (command.expires_in <= 0) return;
  // Cannot overflow: now is a Timestamp's range and expires_in at most 100
  // years (convert.cc).
  const Micros expires_at = now + command.expires_in;
  if (auto* offer = std::get_if<OfferSpec>(&command.body)) {
    offer->expires_at = expires_at;
  } else if (auto* pledge = std::get_if<PledgeSpec>(&command.body)) {
    pledge->expires_at = expires_at;
  }
  command.expires_in = 0;
}

WriteOutcome ApplyCommand(Engine& engine, const WriteCommand& command) {
  CommandContext context;
  context.now = command.now;
  context.request_id = command.request_id;
  context.fingerprint = command.fingerprint;
  return std::visit(
      Overloaded{
          [&](const Region& region) {
            return Wrap(engine.UpsertRegion(context, region));
          },
          [&](const Pairing& pairing) {
            return Wrap(engine.UpsertPairing(context, pairing));
          },
          [&](const DeletePairingCommand& del) {
            return Wrap(
                engine.DeletePairing(context, del.east_code, del.west_code));
          },
          [&](const OfferSpec& spec) {
            return Wrap(engine.PostOffer(context, spec));
          },
          [&](const PledgeSpec& spec) {
            return Wrap(engine.PostPledge(context, spec));
          },
          [&](const CancelOfferCommand& cancel) {
            return Wrap(engine.CancelOffer(context, cancel.offer_id));
          },
          [&](const CancelPledgeCommand& cancel) {
            return Wrap(engine.CancelPledge(context, cancel.pledge_id));
          },
      },
      command.body);
}

CommandEffect EffectOf(const WriteResult& result) {
  return std::visit(
      Overloaded{
          [](const RegionResult& r) {
            CommandEffect effect;
            effect.replayed = r.replayed;
            return effect;
          },
          [](const PairingResult& r) {
            CommandEffect effect;
            effect.replayed = r.replayed;
            return effect;
          },
          [](const OfferResult& r) { return OrderEffect(r, r.offer.offer_id); },
          [](const PledgeResult& r) {
            return OrderEffect(r, r.pledge.pledge_id);
          },
      },
      result);
}

}  // namespace duijie
