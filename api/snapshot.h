// Snapshots: the engine's whole state (Engine::SaveState) at a journal
// position, so that recovery replays only the journal after it.
//
// File "snapshot-<seq, 20 digits>.snap" holds the state after every journal
// record up to and including seq:
//   "DJSNAP01" (8 bytes), u32 format version, u64 seq, u64 state length,
//   u32 crc32 (zlib) of the state, u32 crc32 of the 32 bytes before it,
//   then the state bytes,
// little-endian. It is written as "snapshot-<seq>.tmp", fsynced, renamed
// into place and the directory fsynced, so a crash leaves either the whole
// snapshot or a .tmp that the next start removes.
//
// Retention: after a new snapshot is durable, only the newest kKeepSnapshots
// are kept, and the journal segments wholly before the oldest kept one are
// removed. Keeping the previous snapshot and the journal after it is what
// lets recovery fall back to it when the newest one turns out damaged.
//
// Cost: the state is serialized by a forked child from a copy-on-write
// image of the process (state_image.h), so the writer thread pauses only
// for fork(); reading the image, writing and fsyncing the file run on the
// snapshot thread while the writer goes on. (Serializing on the writer
// itself would stop it for roughly 0.1-0.3 s per million orders and
// matches.)
#ifndef DUIJIE_API_SNAPSHOT_H_
#define DUIJIE_API_SNAPSHOT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "api/file_env.h"
#include "api/file_journal.h"

namespace duijie {

inline constexpr int kKeepSnapshots = 2;

std::string SnapshotFileName(uint64_t seq);  // snapshot-000...42.snap
bool ParseSnapshotFileName(absl::string_view name, uint64_t* seq);

// The file bytes of a snapshot of `state` at `seq`.
std::string EncodeSnapshot(uint64_t seq, absl::string_view state);
// Checks a snapshot file's bytes and returns its state bytes and seq.
// DATA_LOSS saying what is wrong (truncated, bad checksum, ...).
absl::StatusOr<std::string> DecodeSnapshot(absl::string_view file,
                                           uint64_t* seq);

// Writes the snapshot of `state` at `seq` into `dir` atomically (see the
// file comment).
absl::Status WriteSnapshot(FileEnv* env, const std::string& dir, uint64_t seq,
                           absl::string_view state);

// Removes all but the newest kKeepSnapshots snapshots in `dir`, and the
// journal segments before the oldest kept (through `journal`, which may be
// null, when only snapshots are removed).
absl::Status PruneSnapshots(FileEnv* env, const std::string& dir,
                            FileJournal* journal);

// Writes snapshots on a background thread, one at a time, in the order
// started.
class Snapshotter {
 public:
  // `env` and `journal` are not owned and must outlive this.
  Snapshotter(FileEnv* env, std::string dir, FileJournal* journal);
  // Waits for the snapshot in flight.
  ~Snapshotter();

  Snapshotter(const Snapshotter&) = delete;
  Snapshotter& operator=(const Snapshotter&) = delete;

  // Whether a snapshot is being written.
  bool busy() const;
  // The state bytes of a snapshot, produced on the snapshot thread (e.g.
  // read from a StateImage).
  using StateSource = std::function<absl::StatusOr<std::string>()>;
  // Writes the state `state` yields (taken at `seq`) and then prunes;
  // `done`, if set, runs on the snapshot thread with the outcome. Returns
  // at once: a snapshot started while another is in flight is written
  // after it.
  void Start(uint64_t seq, StateSource state,
             std::function<void(absl::Status)> done = nullptr);
  void Start(uint64_t seq, std::string state,
             std::function<void(absl::Status)> done = nullptr);
  // Waits until every snapshot started has been written and its `done`
  // has run.
  void Wait();
  // The outcome of the last finished snapshot, and its seq (0: none yet).
  absl::Status last_status() const;
  uint64_t last_seq() const;

 private:
  FileEnv* const env_;
  const std::string dir_;
  FileJournal* const journal_;
  mutable absl::Mutex mu_;
  // The newest snapshot's thread; each joins the one before it first.
  std::thread thread_ ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;  // started, `done` not yet run
  absl::Status last_status_ ABSL_GUARDED_BY(mu_);
  uint64_t last_seq_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace duijie

#endif  // DUIJIE_API_SNAPSHOT_H_
