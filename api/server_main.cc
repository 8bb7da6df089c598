// duijie-server: serves duijie.v1.Exchange (plus grpc.health.v1 and server
// reflection) on --listen until SIGINT or SIGTERM, then shuts down
// gracefully and exits 0. With --demo it loads the demo data first.
//
// Prints "duijie-server listening on HOST:PORT" (the bound port, also when
// --listen asks for port 0) on stdout once it serves. Exits 1 with a
// message on stderr when it cannot listen.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "api/server.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "address to serve on, host:port; port 0 picks a free port");
ABSL_FLAG(bool, demo, false,
          "load the demo data (regions, pairings, offers, pledges) at start");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "duijie-server: the duijie matching exchange, over gRPC.\n"
      "Usage: duijie-server [--listen=127.0.0.1:50051] [--demo]");
  absl::ParseCommandLine(argc, argv);

  // Block the shutdown signals in every thread (gRPC's threads inherit this
  // mask); the main thread waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  duijie::ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.demo = absl::GetFlag(FLAGS_demo);
  absl::StatusOr<std::unique_ptr<duijie::DuijieServer>> server =
      duijie::DuijieServer::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "duijie-server: %s\n",
                 std::string(server.status().message()).c_str());
    return 1;
  }
  if (const auto& demo = (*server)->demo_summary()) {
    std::fprintf(stderr,
                 "duijie-server: demo data: %d regions, %d pairings, %d "
                 "offers, %d pledges, %d matches (%d already loaded)\n",
                 demo->regions, demo->pairings, demo->offers, demo->pledges,
                 demo->matches, demo->replayed);
  }
  std::printf("duijie-server listening on %s\n", (*server)->address().c_str());
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  std::fprintf(stderr, "duijie-server: %s, shutting down\n",
               strsignal(signal_number));
  (*server)->Shutdown();
  std::fprintf(stderr, "duijie-server: stopped\n");
  return 0;
}
