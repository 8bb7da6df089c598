// Submit: the bulk stream. Each SubmitRequest's commands go to the commit
// pipeline as one batch; one SubmitResponse per request comes back, in
// order, once its batch is durable.
#ifndef DUIJIE_API_SUBMIT_REACTOR_H_
#define DUIJIE_API_SUBMIT_REACTOR_H_

#include "api/command_sequencer.h"
#include "api/parsed_request.h"
#include "duijie/v1/exchange.grpc.pb.h"

namespace duijie {

// Most commands one Submit request may carry.
inline constexpr int kMaxSubmitCommands = 10000;
// Most fills one SubmitResponse carries inline, over all its results (each
// result also carries at most kMaxInlineMatches): about 750 KB of matches.
// A result's match_count and omitted_match_count tell what was left out.
inline constexpr size_t kMaxSubmitInlineMatches = 10000;

// A reactor for one Submit stream, which deletes itself when done.
// `sequencer` is not owned and must outlive it.
// It reads each batch as Parsed<SubmitRequest>: a batch that does not parse
// ends the stream with INVALID_ARGUMENT naming the field, after the batches
// before it are answered.
grpc::ServerBidiReactor<Parsed<v1::SubmitRequest>, v1::SubmitResponse>*
NewSubmitReactor(CommandSequencer* sequencer);

}  // namespace duijie

#endif  // DUIJIE_API_SUBMIT_REACTOR_H_
