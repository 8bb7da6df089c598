// fuzz_requests: the bytes are one request as a client could send it. The
// first byte picks the type: one of MutatingRequestTypes() (every request
// ToCommand converts), or, past them, a SubmitRequest whose commands are
// each converted through ToCommand(v1::Command). The rest is parsed as
// that protobuf message; what parses and converts is validated and applied
// to a small engine with regions, pairings and resting orders, as the
// server's writer does (expiry resolved, Validate, tick, Apply). Nothing
// may crash or trip a sanitizer; Validate and Apply must agree, and the
// engine's invariants must hold after each command.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "api/convert.h"
#include "duijie/v1/exchange.pb.h"
#include "engine/engine.h"
#include "google/protobuf/message.h"
#include "google/protobuf/stubs/logging.h"
#include "tests/fuzz/fuzz_common.h"

namespace duijie::fuzz {
namespace {

// The server's clock for these runs: requests carry real timestamps.
constexpr Micros kNow = Micros{1767225600} * 1000 * 1000;  // 2026-01-01
// A Submit batch may hold 10,000 commands; a run needs far fewer.
constexpr int kMaxSubmitCommands = 64;

void ApplyConverted(Engine& engine, absl::StatusOr<Command> converted) {
  if (!converted.ok()) return;
  Command& command = *converted;
  ApplyAndCheck(engine, command, kNow);
}

void Run(const uint8_t* data, size_t size) {
  if (size == 0) return;
  const auto& types = MutatingRequestTypes();
  const size_t pick = data[0] % (types.size() + 1);
  Engine engine;
  PreloadEngine(engine, /*orders=*/true);
  if (pick == types.size()) {
    v1::SubmitRequest submit;
    if (!submit.ParseFromArray(data + 1, static_cast<int>(size - 1))) return;
    const int n = std::min(submit.commands_size(), kMaxSubmitCommands);
    for (int i = 0; i < n; ++i) {
      ApplyConverted(engine, ToCommand(submit.commands(i)));
    }
    return;
  }
  std::unique_ptr<google::protobuf::Message> request(
      google::protobuf::MessageFactory::generated_factory()
          ->GetPrototype(types[pick])
          ->New());
  if (!request->ParseFromArray(data + 1, static_cast<int>(size - 1))) return;
  ApplyConverted(engine, ToCommand(*request));
}

}  // namespace
}  // namespace duijie::fuzz

// Protobuf logs every malformed string it parses; the fuzzer makes many.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  duijie::fuzz::Run(data, size);
  return 0;
}
