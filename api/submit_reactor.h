// Submit: the bulk stream. Each SubmitRequest's commands go to the commit
// pipeline as one batch; one SubmitResponse per request comes back, in
// order, once its batch is durable.
#ifndef DUIJIE_API_SUBMIT_REACTOR_H_
#define DUIJIE_API_SUBMIT_REACTOR_H_

#include <cstdint>

#include "api/command_sequencer.h"
#include "api/server_limits.h"
#include "duijie/v1/exchange.grpc.pb.h"

namespace duijie {

// A reactor for one Submit stream, which deletes itself when done.
// `sequencer` is not owned and must outlive it. A request of more than
// limits.max_batch commands ends the stream with RESOURCE_EXHAUSTED, none
// of them applied. While the stream's unwritten replies reach
// limits.submit_buffer_bytes it reads no more requests.
grpc::ServerBidiReactor<v1::SubmitRequest, v1::SubmitResponse>*
NewSubmitReactor(CommandSequencer* sequencer, const ServerLimits& limits);

// Submit reactors alive now, in this process (for tests: a cancelled
// stream must free its reactor).
int64_t LiveSubmitReactors();

}  // namespace duijie

#endif  // DUIJIE_API_SUBMIT_REACTOR_H_
