// ServerLimits: the resource limits of duijie-server's transport and
// streams, each a server flag (server_main.cc). Over a limit a call fails
// with RESOURCE_EXHAUSTED and a message naming the limit; nothing changes.
// docs/SECURITY.md ("Transport and limits") says what each one protects.
#ifndef DUIJIE_API_SERVER_LIMITS_H_
#define DUIJIE_API_SERVER_LIMITS_H_

#include <cstdint>

namespace duijie {

struct ServerLimits {
  // Largest message the server receives or sends, in bytes. A request over
  // it is refused by gRPC (RESOURCE_EXHAUSTED, "Received message larger
  // than max"); a reply over it fails its call the same way.
  int max_message_bytes = 4 << 20;
  // Most commands one Submit request may carry. A request over it ends the
  // stream with RESOURCE_EXHAUSTED naming max_batch; none of its commands
  // is applied.
  int max_batch = 10000;
  // Most match events a WatchMatches stream that has caught up may have
  // queued unsent. A client that falls further behind is ended with
  // RESOURCE_EXHAUSTED naming watch_buffer and resumes with
  // after_event_id; a slow reader never slows the writer.
  int watch_buffer = 10000;
  // A live WatchMatches stream that asked for progress events and has sent
  // nothing for this many milliseconds is sent a HEARTBEAT (up to a quarter
  // of it late). 0: never.
  int64_t watch_heartbeat_ms = 10 * 1000;
  // Reply bytes a Submit stream may hold unwritten (built, or expected of
  // the batches it has read) before it stops reading requests: a client
  // that sends without reading replies is held back by flow control
  // instead of filling the server's memory. One batch is always read when
  // nothing is outstanding, so a stream holds at most about this plus one
  // reply.
  int64_t submit_buffer_bytes = int64_t{8} << 20;
  // Memory gRPC may use for its transports and calls (grpc::ResourceQuota):
  // buffers shrink and new streams are refused under pressure rather than
  // the process growing without bound.
  int64_t max_memory_bytes = int64_t{1} << 30;
  // Descriptors kept free of connections (for the journal, snapshots and
  // gRPC's own): connections that would use them are closed at once
  // (accept_guard.h). A quarter of RLIMIT_NOFILE when that is less.
  int fd_reserve = 256;
  // Most concurrent streams (calls) on one HTTP/2 connection.
  int max_concurrent_streams = 1000;
  // A connection with no call for this long is closed (GOAWAY; clients
  // reconnect on their next call). 0: never.
  int64_t max_connection_idle_ms = 10 * 60 * 1000;
  // A connection that has not finished its HTTP/2 (and TLS) handshake
  // this long after it was accepted is closed: idle sockets do not hold
  // descriptors for long.
  int64_t handshake_timeout_ms = 10 * 1000;
};

}  // namespace duijie

#endif  // DUIJIE_API_SERVER_LIMITS_H_
