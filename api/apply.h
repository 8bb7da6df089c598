// Applying a WriteCommand to the engine: the one function that both the
// server's writer thread and journal replay use, so that replay feeds the
// engine exactly what the writer fed it.
#ifndef DUIJIE_API_APPLY_H_
#define DUIJIE_API_APPLY_H_

#include <cstdint>

#include "api/command.h"
#include "engine/engine.h"

namespace duijie {

// Gives `command` the time it is applied at, and resolves a relative
// expiry against it (then clears expires_in), so that what is applied and
// journaled is absolute and replay needs no clock.
void StampCommand(WriteCommand& command, Micros now);

// Applies `command` to `engine` with command.now, command.request_id and
// command.fingerprint as its context. Requires exclusive access to engine.
WriteOutcome ApplyCommand(Engine& engine, const WriteCommand& command);

// The ids a successful command was given, recorded in the journal so that
// replay can check it reproduces them.
struct CommandEffect {
  bool replayed = false;        // a repeat of an earlier request_id
  uint64_t order_id = 0;        // offer or pledge id; 0 for reference data
  uint64_t match_count = 0;     // fills the command made
  uint64_t first_match_id = 0;  // 0 when it made none
  bool operator==(const CommandEffect& o) const {
    return replayed == o.replayed && order_id == o.order_id &&
           match_count == o.match_count && first_match_id == o.first_match_id;
  }
};

// The effect of one successful result.
CommandEffect EffectOf(const WriteResult& result);

}  // namespace duijie

#endif  // DUIJIE_API_APPLY_H_
