// DurableStore: a data directory holding the journal and the snapshots,
// recovered into an engine at start and kept up to date while serving.
//
// Data directory layout:
//   LOCK                          flock'ed while a server uses the directory
//   journal-<first seq>.log       journal segments (journal_format.h,
//   file_journal.h) snapshot-<seq>.snap           snapshots (snapshot.h)
//   *.damaged, *.lost             what --repair set aside (never read again)
//
// Recovery (DurableStore::Open):
//   1. The newest snapshot that reads back whole (header and state CRCs,
//      Engine::LoadState) is loaded; a damaged one is reported and an older
//      one tried. With none, the engine starts empty, and the journal must
//      then start at seq 1, or recovery fails with DATA_LOSS.
//   2. The journal records after the snapshot's seq are replayed through the
//      same engine (ReplayRecord), which checks each command has the ids it
//      had when journaled.
//   3. Damage is told apart. A bad final record with nothing valid after it
//      in the last segment is a write the crash cut short (a torn tail): the
//      segment is truncated at the last whole record and the bytes dropped
//      are logged. A bad record followed by valid ones, a missing stretch of
//      seqs, or a segment out of sequence is corruption: Open fails with
//      DATA_LOSS naming the file and offset and changes nothing; with
//      `repair` it logs what is lost, keeps a copy of the damaged segment
//      (<name>.damaged), renames later segments to <name>.lost, truncates at
//      the damage, and goes on.
//   4. A new journal segment is started after the last replayed record.
// Each case and what it leads to, with and without repair, is a row of the
// table in recovery.h, which makes these decisions; this does the I/O.
//
// Errors: INVALID_ARGUMENT for an empty directory name; NOT_FOUND when the
// directory's parent does not exist (the directory itself is created);
// PERMISSION_DENIED when it cannot be written; FAILED_PRECONDITION when
// another server holds its lock; RESOURCE_EXHAUSTED for a full disk;
// DATA_LOSS as above; INTERNAL when replay does not reproduce the journal.
//
// Thread safety: Commit, MaybeSnapshot and SnapshotNow are called by the
// writer thread only (they read the engine, which only the writer changes);
// position(), stats() and report() may be called from any thread.
#ifndef DUIJIE_API_DURABLE_STORE_H_
#define DUIJIE_API_DURABLE_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "api/file_env.h"
#include "api/file_journal.h"
#include "api/journal.h"
#include "api/snapshot.h"
#include "engine/engine.h"

namespace duijie {

struct DurabilityOptions {
  std::string dir;
  FileEnv* env = FileEnv::Default();
  // fdatasync each group before its replies (off: a machine crash may lose
  // the last moments; a process crash loses nothing).
  bool fsync = true;
  uint64_t segment_bytes = uint64_t{64} << 20;
  // A snapshot is taken once this many journal records follow the last one
  // (0: never by count)...
  uint64_t snapshot_every_records = 1000000;
  // ...or this long after the last one if any record followed it (zero:
  // never by time).
  absl::Duration snapshot_interval = absl::Minutes(10);
  // Truncate the journal at corruption instead of refusing to start.
  bool repair = false;
  EngineOptions engine_options;
  // Where recovery's log lines go (one line per call, no newline).
  std::function<void(absl::string_view)> log;
};

// What recovery found and did.
struct RecoveryReport {
  // The directory held no usable state (no snapshot, no journal record).
  bool fresh = true;
  std::string snapshot_file;  // loaded; empty if none
  uint64_t snapshot_seq = 0;
  std::vector<std::string> damaged_snapshots;  // passed over
  uint64_t replayed_records = 0;
  uint64_t replayed_bytes = 0;
  uint64_t last_seq = 0;  // the journal position after recovery
  uint64_t torn_bytes_dropped = 0;
  bool repaired = false;
  absl::Duration load_time;    // reading and loading the snapshot
  absl::Duration replay_time;  // reading and replaying the journal
};

class DurableStore final : public Journal {
 public:
  // Recovers the state in options.dir (see the file comment) and opens the
  // journal for appending.
  static absl::StatusOr<std::unique_ptr<DurableStore>> Open(
      const DurabilityOptions& options);

  // Close(), reporting a failure on stderr.
  ~DurableStore() override;

  DurableStore(const DurableStore&) = delete;
  DurableStore& operator=(const DurableStore&) = delete;

  // The recovered engine, which this owns; the server applies commands to
  // it and journals them here.
  Engine* engine() { return engine_.get(); }
  const RecoveryReport& report() const { return report_; }

  // Journal: appends and syncs the group (see FileJournal::Commit).
  absl::Status Commit(
      absl::Span<const Command* const> commands,
      absl::Span<const CommandOutcome* const> outcomes) override;

  // Journal: between groups, MaybeSnapshot().
  void AfterGroup() override { MaybeSnapshot(); }
  bool SnapshotDue() override;

  // Between groups, on the writer thread: starts a snapshot when one is
  // due. The engine is imaged here (fork: the pause, state_image.h); it is
  // serialized by the child and the file written on the snapshot thread.
  void MaybeSnapshot();
  // Between groups, on the writer thread: starts a snapshot at the current
  // position as MaybeSnapshot does, due or not, and returns at once;
  // `done` runs with its seq once it is durable (on the snapshot thread),
  // or with the error. A position already snapshotted is not written
  // again (`done` runs here).
  void StartSnapshot(std::function<void(absl::StatusOr<uint64_t>)> done);
  // Takes a snapshot at the current position and waits until it is
  // durable; returns its seq. Writer thread, or while nothing applies
  // commands. A position already snapshotted is not written again.
  absl::StatusOr<uint64_t> SnapshotNow();

  // A final snapshot (if anything was journaled since the last), then
  // closes the journal. Call when nothing applies commands any more.
  // Idempotent.
  absl::Status Close();

  // For tests: closes the files without a snapshot, as if the process died
  // right after its last Commit. Later calls fail or do nothing.
  void SimulateCrashForTesting();

  // The seq of the last journaled record.
  uint64_t position() const { return journal_->last_seq(); }
  JournalStats stats() const { return journal_->stats(); }
  // The seq of the newest durable snapshot (0: none).
  uint64_t snapshot_seq() const;
  const DurabilityOptions& options() const { return options_; }

 private:
  explicit DurableStore(const DurabilityOptions& options);
  absl::Status Recover();
  absl::Status LoadNewestSnapshot(const std::vector<uint64_t>& snapshots);
  absl::Status ReplayJournal(std::vector<uint64_t> segments);
  void Log(absl::string_view line) const;
  // The engine's state for a snapshot: a forked image read on the
  // snapshot thread, or (when fork fails) serialized here.
  Snapshotter::StateSource CaptureState();

  DurabilityOptions options_;
  std::unique_ptr<FileLock> lock_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<FileJournal> journal_;
  std::unique_ptr<Snapshotter> snapshotter_;
  RecoveryReport report_;
  // Scheduling, writer thread only.
  uint64_t scheduled_seq_ = 0;  // position of the last snapshot started
  absl::Time scheduled_at_;
  bool closed_ = false;
};

}  // namespace duijie

#endif  // DUIJIE_API_DURABLE_STORE_H_
