// A flood of idle TCP connections against the real duijie-server binary,
// run with a low descriptor limit (RLIMIT_NOFILE, soft = hard, so that the
// server cannot raise it): once the flood ends, a new client must be
// served. gRPC 1.51 stops accepting for good after one failed accept4
// (EMFILE); the server caps accepted connections below its limit and sheds
// the rest (api/accept_guard.h).
//
// Usage: fd_flood_test --server=PATH/duijie-server [gtest flags]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "duijie/v1/exchange.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"

namespace duijie {
namespace {

std::string g_server_path;

// duijie-server in a child process with RLIMIT_NOFILE = `limit`.
class ServerProcess {
 public:
  ~ServerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  // Starts it and waits for its "listening on" line; the port, or 0.
  int Start(int limit, const std::vector<std::string>& flags) {
    int out[2];
    if (pipe(out) != 0) return 0;
    // Built before the fork: the child of a threaded process must not
    // allocate (a sanitizer's allocator may be locked by a vanished thread).
    std::vector<std::string> args = {g_server_path, "--listen=127.0.0.1:0",
                                     "--insecure_no_auth"};
    args.insert(args.end(), flags.begin(), flags.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      rlimit rl{static_cast<rlim_t>(limit), static_cast<rlim_t>(limit)};
      setrlimit(RLIMIT_NOFILE, &rl);
      dup2(out[1], 1);
      close(out[0]);
      close(out[1]);
      execv(g_server_path.c_str(), argv.data());
      _exit(127);
    }
    close(out[1]);
    FILE* lines = fdopen(out[0], "r");
    char line[256];
    int port = 0;
    while (port == 0 && std::fgets(line, sizeof(line), lines) != nullptr) {
      std::string text(line);
      const size_t colon = text.rfind(':');
      if (absl::StrContains(text, "listening on") &&
          colon != std::string::npos) {
        absl::SimpleAtoi(absl::StripAsciiWhitespace(text.substr(colon + 1)),
                         &port);
      }
    }
    // Keep the pipe open (the server may print more); closed at exit.
    return port;
  }

 private:
  pid_t pid_ = -1;
};

// Opens `n` TCP connections to 127.0.0.1:`port` that send nothing.
std::vector<int> OpenIdle(int port, int n) {
  std::vector<int> fds;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < n; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) break;
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      close(fd);
      break;
    }
    fds.push_back(fd);
  }
  return fds;
}

// A ListRegions call on a fresh channel, waiting up to `deadline` for the
// server to take the connection.
grpc::Status Call(int port, absl::Duration deadline) {
  grpc::ChannelArguments args;
  args.SetInt("grpc.testing.fixed_reconnect_backoff_ms", 200);
  auto stub = v1::Exchange::NewStub(
      grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  context.set_wait_for_ready(true);
  v1::ListRegionsResponse response;
  return stub->ListRegions(&context, v1::ListRegionsRequest(), &response);
}

// Whether the server has closed `fd` (EOF or reset), reading and dropping
// what it sends (its HTTP/2 settings) for up to `wait`.
bool ClosedByServer(int fd, absl::Duration wait) {
  const absl::Time deadline = absl::Now() + wait;
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) <=
        0) {
      return false;
    }
    char buffer[256];
    if (recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT) <= 0) return true;
  }
}

// --fd_reserve: the default keeps descriptors free and sheds the flood's
// excess at once; 0 lets the flood reach the limit (EMFILE), which the
// server must survive too.
class FdFloodTest : public ::testing::TestWithParam<int> {};

TEST_P(FdFloodTest, ServerServesNewClientsAfterAFloodOfIdleConnections) {
  ASSERT_FALSE(g_server_path.empty()) << "pass --server=PATH";
  constexpr int kLimit = 256;
  ServerProcess server;
  const int port = server.Start(
      kLimit,
      {absl::StrCat("--fd_reserve=", GetParam()), "--handshake_timeout=1s"});
  ASSERT_GT(port, 0);
  ASSERT_TRUE(Call(port, absl::Seconds(10)).ok());

  // More idle connections than the server has descriptors. Each is closed
  // by the server: the excess at once, the rest when their handshake
  // times out.
  std::vector<int> flood = OpenIdle(port, kLimit + 100);
  ASSERT_EQ(flood.size(), size_t{kLimit} + 100);
  int closed = 0;
  for (int fd : flood) {
    if (ClosedByServer(fd, absl::Seconds(10))) ++closed;
  }
  EXPECT_EQ(closed, kLimit + 100);
  for (int fd : flood) close(fd);

  // The flood is over: a new client is served.
  grpc::Status status = Call(port, absl::Seconds(15));
  EXPECT_TRUE(status.ok()) << status.error_code() << ": "
                           << status.error_message();
}

INSTANTIATE_TEST_SUITE_P(Reserve, FdFloodTest, ::testing::Values(256, 0));

}  // namespace
}  // namespace duijie

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (absl::StartsWith(arg, "--server=")) {
      duijie::g_server_path = arg.substr(9);
    }
  }
  return RUN_ALL_TESTS();
}
