// fuzz_engine: the bytes are a stream of engine commands (CommandDecoder),
// applied to an engine preloaded with regions and pairings the way the
// server's writer applies them: expiry resolved, Validate asked, a tick to
// the command's time, then Apply. Checks, after every command:
//   - Engine::CheckInvariants() (every derived index and total agrees with
//     the records);
//   - Validate and Apply agree on whether the command is accepted (the
//     server refuses on Validate's word and journals on Apply's), unless
//     the tick may reopen pledges (Engine::TickMayReopen: then the server
//     does not ask Validate);
// and at the end that SaveState/LoadState round-trips to the same bytes
// and state hash. A broken property aborts, and libFuzzer keeps the input.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/command.h"
#include "engine/engine.h"
#include "tests/fuzz/fuzz_common.h"

namespace duijie::fuzz {
namespace {

// Enough for long streams, few enough that a run stays fast
// (CheckInvariants after each command is most of a run's time).
constexpr int kMaxCommands = 150;

void Run(const uint8_t* data, size_t size) {
  Engine engine;
  PreloadEngine(engine, /*orders=*/false);
  InputSource in(data, size);
  CommandDecoder decoder;
  for (int i = 0; i < kMaxCommands && in.More(); ++i) {
    Command command =
        decoder.Next(in, engine.offer_count() + engine.pledge_count());
    ApplyAndCheck(engine, command, command.now);
  }
  const std::string saved = engine.SaveState();
  Engine loaded;
  if (absl::Status s = loaded.LoadState(saved); !s.ok()) {
    Fail("LoadState of SaveState", s);
  }
  if (loaded.SaveState() != saved || loaded.StateHash() != engine.StateHash()) {
    Fail("state round trip", absl::InternalError("different state"));
  }
  if (absl::Status s = loaded.CheckInvariants(); !s.ok()) {
    Fail("invariants after LoadState", s);
  }
}

}  // namespace
}  // namespace duijie::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  duijie::fuzz::Run(data, size);
  return 0;
}
