// FileJournal: the write-ahead journal's writer. Appends each group's
// records (journal_format.h) to the current segment with one write and
// makes them durable with one fdatasync (group commit).
//
// A new segment starts when the current one has reached
// JournalOptions::segment_bytes (a group is never split), and at every
// start of the server. With fsync off, Commit only writes (a process crash
// loses nothing; a machine crash may lose the last moments).
//
// A failed write or sync makes the journal fail every later Commit (the
// file's state is unknown; the error is sticky, as LevelDB's background
// error is); the server aborts on the first, so nothing that was not made
// durable is acknowledged, and the next start truncates the torn tail.
#ifndef DUIJIE_API_FILE_JOURNAL_H_
#define DUIJIE_API_FILE_JOURNAL_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "api/file_env.h"
#include "api/journal.h"

namespace duijie {

struct JournalOptions {
  std::string dir;
  FileEnv* env = FileEnv::Default();
  // A segment rolls once it holds at least this many bytes.
  uint64_t segment_bytes = uint64_t{64} << 20;
  // fdatasync after each group. Off: writes reach the OS page cache only.
  bool fsync = true;
};

struct JournalStats {
  uint64_t commands = 0;  // commands seen by Commit (refused included)
  uint64_t records = 0;   // records written (commands and ticks)
  uint64_t groups = 0;    // Commit calls that wrote something
  uint64_t syncs = 0;     // fdatasyncs
  uint64_t bytes = 0;     // bytes written
  uint64_t segments = 0;  // segments created by this journal
};

class FileJournal final : public Journal {
 public:
  // Starts a new segment for records from `next_seq` on, in options.dir
  // (which recovery has checked).
  static absl::StatusOr<std::unique_ptr<FileJournal>> Open(
      const JournalOptions& options, uint64_t next_seq);

  ~FileJournal() override;

  // Journal: appends the group's records with one write, then one sync.
  // Called by one thread at a time (the writer).
  absl::Status Commit(
      absl::Span<const Command* const> commands,
      absl::Span<const CommandOutcome* const> outcomes) override;

  // The seq of the last record written (0 if none ever was).
  uint64_t last_seq() const {
    return next_seq_.load(std::memory_order_acquire) - 1;
  }
  JournalStats stats() const;

  // Removes the segments all of whose records have seq < `seq` (never the
  // current one), then syncs the directory. Safe to call from another
  // thread than the writer's.
  absl::Status RemoveSegmentsBefore(uint64_t seq);

  // Syncs and closes the current segment; later Commits fail.
  absl::Status Close();

 private:
  explicit FileJournal(const JournalOptions& options);
  // Closes the current segment and starts one for records from next_seq_.
  absl::Status StartSegment();

  const JournalOptions options_;
  std::unique_ptr<WritableFile> file_;  // the current segment
  std::atomic<uint64_t> next_seq_{1};
  absl::Status failed_;  // sticky: the first failure
  std::string buffer_;   // reused by Commit

  mutable absl::Mutex mu_;
  // First seqs of the segments in the directory, ascending; the last is the
  // current one.
  std::vector<uint64_t> segments_ ABSL_GUARDED_BY(mu_);
  JournalStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace duijie

#endif  // DUIJIE_API_FILE_JOURNAL_H_
