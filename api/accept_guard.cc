// AcceptGuard. See accept_guard.h.
#include "api/accept_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <mutex>

namespace duijie {
namespace {

std::atomic<int> g_cap{INT_MAX};
std::atomic<int64_t> g_shed{0};
std::mutex g_spare_mu;
int g_spare = -1;  // guarded by g_spare_mu

int SystemAccept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
  return static_cast<int>(syscall(SYS_accept4, fd, addr, len, flags));
}

}  // namespace

void SetAcceptDescriptorCap(int cap) {
  g_cap.store(cap, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(g_spare_mu);
  if (g_spare < 0) g_spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

int64_t ShedConnections() { return g_shed.load(std::memory_order_relaxed); }

}  // namespace duijie

extern "C" int accept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
  using duijie::g_cap;
  using duijie::g_shed;
  while (true) {
    int client = duijie::SystemAccept4(fd, addr, len, flags);
    if (client >= 0) {
      if (client < g_cap.load(std::memory_order_relaxed)) return client;
      close(client);
      g_shed.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (errno != EMFILE && errno != ENFILE) return -1;  // EAGAIN and others
    // Out of descriptors: free the spare, take the waiting connection with
    // it and close that, and keep the spare again. The backlog drains, and
    // gRPC sees EAGAIN (wait for the next connection), not the error after
    // which it would never accept again.
    std::lock_guard<std::mutex> lock(duijie::g_spare_mu);
    if (duijie::g_spare < 0) {
      duijie::g_spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
      errno = EAGAIN;
      return -1;
    }
    close(duijie::g_spare);
    client = duijie::SystemAccept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (client >= 0) {
      close(client);
      g_shed.fetch_add(1, std::memory_order_relaxed);
    }
    duijie::g_spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (client < 0) {
      errno = EAGAIN;
      return -1;
    }
  }
}
