// Journal: where the commit pipeline (command_sequencer.h) makes each group
// of applied commands durable before any of their replies leave.
#ifndef DUIJIE_API_JOURNAL_H_
#define DUIJIE_API_JOURNAL_H_

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "engine/command.h"

namespace duijie {

class Journal {
 public:
  virtual ~Journal() = default;
  // Called once per group, after the group is applied and before any reply.
  // `commands` are the group's commands in the order they were applied,
  // with the ticks the sequencer issued before them; `outcomes` what the
  // engine answered each. A refused command (an error outcome) changed
  // nothing and must not be written; it is passed so that it can be
  // counted. A failure is fatal: the in-memory state is ahead of the
  // journal, so the server aborts.
  virtual absl::Status Commit(
      absl::Span<const Command* const> commands,
      absl::Span<const CommandOutcome* const> outcomes) = 0;
  // Called by the sequencer after each group is committed (its replies may
  // still be on their way), before the next group is applied: the engine is
  // quiet (only const reads run), which makes it the place to serialize a
  // snapshot.
  virtual void AfterGroup() {}
  // Whether AfterGroup would start a snapshot now. An applier that judges
  // alerts off the writer (SequencerOptions::follow_alerts) calls
  // AfterGroup only when this says so, after letting the alerts catch up
  // with the group, so that the snapshot reads them as of it.
  virtual bool SnapshotDue() { return false; }
};

}  // namespace duijie

#endif  // DUIJIE_API_JOURNAL_H_
