// The mutations the server's writer thread applies to the engine, in the
// engine's own types, and what each one produced.
//
// A WriteCommand is built from a proto request by convert.h (on a gRPC
// thread), queued for the writer, stamped with the server's time, applied to
// the engine, and later (next issue) appended to the journal, which is why it
// carries everything needed to replay it: the body, the request_id, the
// fingerprint and the time it was applied.
#ifndef DUIJIE_API_COMMAND_H_
#define DUIJIE_API_COMMAND_H_

#include <cstdint>
#include <string>
#include <variant>

#include "absl/status/statusor.h"
#include "engine/types.h"

namespace duijie {

struct DeletePairingCommand {
  std::string east_code;
  std::string west_code;
};
struct CancelOfferCommand {
  uint64_t offer_id = 0;
};
struct CancelPledgeCommand {
  uint64_t pledge_id = 0;
};

// Region: UpsertRegion. Pairing: UpsertPairing. OfferSpec: PostOffer.
// PledgeSpec: PostPledge. The rest say what they are.
using CommandBody =
    std::variant<Region, Pairing, DeletePairingCommand, OfferSpec, PledgeSpec,
                 CancelOfferCommand, CancelPledgeCommand>;

struct WriteCommand {
  CommandBody body;
  std::string request_id;    // empty: no idempotency
  uint64_t fingerprint = 0;  // of the request body without its request_id
  Micros now = 0;            // stamped by the writer when it applies it
  // > 0: a post whose expiry is relative (PostOfferRequest.expires_in);
  // StampCommand turns it into the spec's expires_at = now + expires_in.
  Micros expires_in = 0;
};

// What the engine returned for one command: RegionResult for UpsertRegion,
// PairingResult for Upsert/DeletePairing, OfferResult for PostOffer and
// CancelOffer, PledgeResult for PostPledge and CancelPledge.
using WriteResult =
    std::variant<RegionResult, PairingResult, OfferResult, PledgeResult>;
using WriteOutcome = absl::StatusOr<WriteResult>;

}  // namespace duijie

#endif  // DUIJIE_API_COMMAND_H_
