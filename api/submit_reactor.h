// Submit: the bulk stream. Each SubmitRequest's commands go to the commit
// pipeline as one batch; one SubmitResponse per request comes back, in
// order, once its batch is durable.
#ifndef DUIJIE_API_SUBMIT_REACTOR_H_
#define DUIJIE_API_SUBMIT_REACTOR_H_

#include <cstdint>
#include <memory>

#include "api/authenticator.h"
#include "api/command_sequencer.h"
#include "api/parsed_request.h"
#include "api/server_limits.h"
#include "duijie/v1/exchange.grpc.pb.h"

namespace duijie {

// Most fills one SubmitResponse carries inline, over all its results (each
// result also carries at most kMaxInlineMatches): about 750 KB of matches.
// A result's match_count and omitted_match_count tell what was left out.
inline constexpr size_t kMaxSubmitInlineMatches = 10000;

// How a Submit stream's commands are let in: its key must still be valid
// at each request (else the stream ends UNAUTHENTICATED), every command
// carries the stream's caller (the engine authorises each on its own), and
// each takes one token of the key's rate (those beyond it fail alone with
// RESOURCE_EXHAUSTED). Holds the key's stream slot while the stream lives.
class SubmitAdmission {
 public:
  SubmitAdmission(Authenticator* auth, Authenticator::Identity who,
                  Authenticator::StreamSlot slot)
      : auth_(auth), who_(std::move(who)), slot_(std::move(slot)) {}
  absl::Status StillValid() const { return auth_->StillValid(who_); }
  // How many of `n` commands may go now.
  int64_t Grant(int64_t n) { return auth_->TakeTokens(who_, n); }
  absl::Status RateLimited() const {
    return Authenticator::RateLimited(auth_->options());
  }
  const std::shared_ptr<const Caller>& caller() const { return who_.caller; }

 private:
  Authenticator* const auth_;
  const Authenticator::Identity who_;
  Authenticator::StreamSlot slot_;
};

// A reactor for one Submit stream, which deletes itself when done.
// `sequencer` is not owned and must outlive it. A request of more than
// limits.max_batch commands ends the stream with RESOURCE_EXHAUSTED, none
// of them applied. While the stream's unwritten replies reach
// limits.submit_buffer_bytes it reads no more requests.
// It reads each batch as Parsed<SubmitRequest>: a batch that does not parse
// ends the stream with INVALID_ARGUMENT naming the field, after the batches
// before it are answered.
grpc::ServerBidiReactor<Parsed<v1::SubmitRequest>, v1::SubmitResponse>*
NewSubmitReactor(CommandSequencer* sequencer, const ServerLimits& limits,
                 std::unique_ptr<SubmitAdmission> admission);
// A Submit stream refused at its start (authentication, stream limit):
// finishes with `status` at once.
grpc::ServerBidiReactor<Parsed<v1::SubmitRequest>, v1::SubmitResponse>*
NewRefusedSubmitReactor(grpc::Status status);

// Submit reactors alive now, in this process (for tests: a cancelled
// stream must free its reactor).
int64_t LiveSubmitReactors();

}  // namespace duijie

#endif  // DUIJIE_API_SUBMIT_REACTOR_H_
