// AcceptGuard: keeps gRPC's listener alive when descriptors run out.
//
// gRPC 1.51's TCP listener treats a failed accept4 (EMFILE: the process is
// at its RLIMIT_NOFILE) as fatal: it logs "Failed accept4: Too many open
// files" once and never accepts again, so a burst of idle connections past
// the limit takes the server off the network for good. Nor does 1.51 offer
// a cap on connections. So this file defines accept4 itself (the
// executable's definition comes first in symbol lookup, so libgrpc's calls
// land here) and wraps the system call:
//   - a connection whose descriptor would be at or above the cap set with
//     SetAcceptDescriptorCap is closed at once (shed) and the next one
//     taken, so descriptors stay free for the journal, snapshots and
//     established clients;
//   - on EMFILE or ENFILE the waiting connection is taken with a spare
//     descriptor kept for the purpose and closed, and the caller sees
//     EAGAIN, never the error that would stop it listening.
// With no cap set, accept4 behaves as the system call's, except that it
// never fails with EMFILE or ENFILE.
#ifndef DUIJIE_API_ACCEPT_GUARD_H_
#define DUIJIE_API_ACCEPT_GUARD_H_

#include <cstdint>

namespace duijie {

// Sheds accepted connections whose descriptor number is `cap` or more
// (descriptors are allocated lowest first, so this caps the descriptors in
// use), and opens the spare descriptor.
void SetAcceptDescriptorCap(int cap);

// Connections shed so far (for logs, tests and figures).
int64_t ShedConnections();

}  // namespace duijie

#endif  // DUIJIE_API_ACCEPT_GUARD_H_
