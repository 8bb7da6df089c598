// Test helpers that drive duijie::Engine through its one entry point,
// Engine::TickAndApply(Command), with typed answers:
//
//   absl::StatusOr<OfferResult> r =
//       RunCommand(engine, PostOfferCommand{spec}, now, "request-1");
//
// builds the Command (request_id and, when one is given, the canonical
// CommandFingerprint, so that a retry of the same body replays and another
// body under the same request_id is ALREADY_EXISTS), ticks the engine to
// `now` when that is later than its clock (the old per-command
// AdvanceClock; the tick stays even when the command is refused), applies
// the command and unwraps the command's own Result type.
#ifndef DUIJIE_TESTS_ENGINE_COMMANDS_H_
#define DUIJIE_TESTS_ENGINE_COMMANDS_H_

#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/command.h"
#include "engine/engine.h"
#include "engine/types.h"

namespace duijie {

// Lengths of time the engine tests step the clock by.
inline constexpr Micros kHour = Micros{3600} * 1000000;
inline constexpr Micros kDay = 24 * kHour;

// A command of `body` at `now`. With a request_id, its fingerprint is the
// engine's canonical CommandFingerprint (top bit set: never a legacy digest).
template <class Body>
Command MakeTestCommand(Body body, Micros now,
                        std::string_view request_id = "") {
  Command command = MakeCommand(std::move(body), now);
  command.request_id = std::string(request_id);
  if (!command.request_id.empty()) {
    command.fingerprint = CommandFingerprint(command);
  }
  return command;
}

// The typed answer of a command whose body is of type Body.
template <class Body>
absl::StatusOr<typename Body::Result> ResultAs(
    absl::StatusOr<CommandResult> result) {
  if (!result.ok()) return result.status();
  auto* typed = std::get_if<typename Body::Result>(&*result);
  if (typed == nullptr) {
    return absl::InternalError(std::string(Body::kName) +
                               " answered with another result type");
  }
  return std::move(*typed);
}

// Ticks to `now` when later than the clock, then applies `body`.
template <class Body>
absl::StatusOr<typename Body::Result> RunCommand(
    Engine& engine, Body body, Micros now, std::string_view request_id = "") {
  return ResultAs<Body>(
      engine.TickAndApply(MakeTestCommand(std::move(body), now, request_id)));
}

// Moves the engine's clock to `now` (never back); what the tick did.
inline TickResult Tick(Engine& engine, Micros now) {
  absl::StatusOr<TickResult> r = RunCommand(engine, TickCommand{}, now);
  return r.ok() ? *r : TickResult{};
}

}  // namespace duijie

#endif  // DUIJIE_TESTS_ENGINE_COMMANDS_H_
