// duijie-echo-server: the echo baseline of the API benchmark. Serves
// duijie.bench.echo.Echo with gRPC's callback API: a unary Echo and a
// bidirectional EchoStream that answers each request as it arrives, reading
// the next request while earlier answers are still being written. It does no
// other work, so the load generator's figure against it is what gRPC itself
// allows on this machine for the same message sizes and concurrency.
//
//   duijie-echo-server --listen=127.0.0.1:0
// prints "duijie-echo-server listening on 127.0.0.1:PORT" once it serves,
// and stops on SIGINT or SIGTERM.

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "bench/echo/echo.grpc.pb.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0",
          "address to serve on; port 0 picks a free port");

namespace duijie::bench::echo {
namespace {

// Fills `response` for `request`: the payload back, or response_bytes of
// filler when the request asks for a reply of another size.
void Answer(EchoRequest* request, EchoResponse* response) {
  if (request->response_bytes() > 0) {
    response->mutable_payload()->assign(
        static_cast<size_t>(request->response_bytes()), 'x');
  } else {
    response->mutable_payload()->swap(*request->mutable_payload());
  }
}

// One EchoStream call. Reads are kept going while answers are written, so a
// client with several requests in flight is never held to one round trip per
// message. At most one read and one write are outstanding, as the callback
// API requires; answers wait in `pending_` (bounded by the client's window).
class StreamReactor final
    : public grpc::ServerBidiReactor<EchoRequest, EchoResponse> {
 public:
  StreamReactor() { StartRead(&request_); }

  void OnReadDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!ok) {
      reads_done_ = true;
      MaybeFinishLocked();
      return;
    }
    pending_.emplace_back();
    Answer(&request_, &pending_.back());
    request_.Clear();
    StartRead(&request_);
    if (!writing_) {
      writing_ = true;
      StartWrite(&pending_.front());
    }
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.pop_front();
    if (!ok) {
      // The client went away; stop writing and let the read side end.
      write_failed_ = true;
      writing_ = false;
      MaybeFinishLocked();
      return;
    }
    if (!pending_.empty()) {
      StartWrite(&pending_.front());
    } else {
      writing_ = false;
      MaybeFinishLocked();
    }
  }

  void OnDone() override { delete this; }

 private:
  // Finishes once the client has stopped writing and every answer is out.
  void MaybeFinishLocked() {
    if (finished_ || writing_ || !reads_done_) return;
    if (!write_failed_ && !pending_.empty()) return;
    finished_ = true;
    Finish(write_failed_
               ? grpc::Status(grpc::StatusCode::CANCELLED, "write failed")
               : grpc::Status::OK);
  }

  std::mutex mu_;
  EchoRequest request_;
  std::deque<EchoResponse> pending_;  // front() is being written
  bool writing_ = false;
  bool reads_done_ = false;
  bool write_failed_ = false;
  bool finished_ = false;
};

class EchoService final : public Echo::CallbackService {
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context,
                                 const EchoRequest* request,
                                 EchoResponse* response) override {
    if (request->response_bytes() > 0) {
      response->mutable_payload()->assign(
          static_cast<size_t>(request->response_bytes()), 'x');
    } else {
      *response->mutable_payload() = request->payload();
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerBidiReactor<EchoRequest, EchoResponse>* EchoStream(
      grpc::CallbackServerContext* context) override {
    return new StreamReactor();
  }
};

int Main() {
  // Block the stop signals in every thread; the main thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  EchoService service;
  grpc::ServerBuilder builder;
  int port = 0;
  const std::string listen = absl::GetFlag(FLAGS_listen);
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(64 << 20);
  builder.SetMaxSendMessageSize(64 << 20);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "duijie-echo-server: cannot listen on %s\n",
                 listen.c_str());
    return 1;
  }
  const std::string host = listen.substr(0, listen.rfind(':'));
  std::printf("duijie-echo-server listening on %s:%d\n", host.c_str(), port);
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  // Give open streams a moment, then cancel whatever is left.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  return 0;
}

}  // namespace
}  // namespace duijie::bench::echo

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "duijie-echo-server --listen=127.0.0.1:0: the gRPC echo baseline");
  absl::ParseCommandLine(argc, argv);
  // Debian's Abseil is built without NDEBUG, so every absl::Mutex (gRPC's
  // included) runs deadlock detection, which costs several percent of a
  // gRPC call. The baseline and the load generator should cost what gRPC
  // costs, so it is off.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return duijie::bench::echo::Main();
}
