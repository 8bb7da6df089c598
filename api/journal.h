// The write-ahead journal: every command the server's writer applied, in the
// order it applied them, with the time it stamped and the ids the engine
// gave, appended and made durable before any reply leaves.
//
// Files. The journal is a sequence of segment files in the data directory,
// "journal-<first seq, 20 digits>.log". Each record has a sequence number
// (seq), 1, 2, 3, ... without gaps across segments; a segment's name is the
// seq of its first record. A new segment starts when the current one has
// reached JournalOptions::segment_bytes (a group is never split), and at
// every start of the server.
//
// Framing. Each record is
//   [u32 payload length][u32 crc32 of the payload (zlib)][payload]
// little-endian. The payload (EncodeRecord) is
//   u8 kind, u64 seq, i64 now                       -- every record
//   str request_id, u64 fingerprint, body,          -- commands only
//   u8 replayed, u64 order_id, u64 match_count, u64 first_match_id
// where kind 0 is a clock tick and kinds 1..7 the CommandBody alternatives
// in order (region, pairing, delete pairing, offer, pledge, cancel offer,
// cancel pledge); strings are u32 length + bytes; integers little-endian.
//
// What is journaled. A command the engine accepted is journaled whole, with
// the effect it had (CommandEffect: ids and match count), which replay
// checks. A command the engine rejected changed nothing but the engine's
// clock (every command first moves the clock, which retires expired orders);
// it is journaled as a tick carrying only its time, and only when that time
// is later than the last journaled one. Replay then reproduces the exact
// state, state hash included, without depending on the engine rejecting the
// same input again, and bad input cannot bloat the journal.
//
// Group commit. The writer thread calls Commit once per drained group of
// batches (everything that queued while the previous group was being made
// durable): the group's records are encoded into one buffer, written with
// one write and made durable with one fdatasync. With fsync off, Commit
// only writes (a process crash loses nothing; a machine crash may lose the
// last moments).
//
// A failed write or sync makes the journal fail every later Commit (the
// file's state is unknown); the server aborts on the first, so nothing that
// was not made durable is acknowledged, and the next start truncates the
// torn tail.
#ifndef DUIJIE_API_JOURNAL_H_
#define DUIJIE_API_JOURNAL_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "api/apply.h"
#include "api/command.h"
#include "api/exchange_service.h"
#include "api/file_env.h"

namespace duijie {

// --- Records ----------------------------------------------------------------

inline constexpr size_t kFrameHeaderBytes = 8;
// The smallest payload (a tick) and the largest accepted when reading.
inline constexpr size_t kMinPayloadBytes = 1 + 8 + 8;
inline constexpr size_t kMaxPayloadBytes = 1 << 20;

struct JournalRecord {
  uint64_t seq = 0;
  // A tick moves the engine's clock to command.now and does nothing else;
  // command.body, request_id and fingerprint are then unset.
  bool tick = false;
  WriteCommand command;
  CommandEffect effect;  // commands only
};

// The payload of `record` (see the file comment).
std::string EncodeRecord(const JournalRecord& record);
// Parses a payload. DATA_LOSS if it is malformed.
absl::StatusOr<JournalRecord> DecodeRecord(absl::string_view payload);
// Appends [length][crc32][payload] to *out.
void AppendFrame(absl::string_view payload, std::string* out);
// crc32 (zlib) of `data`.
uint32_t Crc32(absl::string_view data);

// Applies a replayed record to `engine` and checks it has the journaled
// effect. INTERNAL naming the seq if it does not (the engine diverged).
absl::Status ReplayRecord(Engine& engine, const JournalRecord& record);

// --- Reading segments -------------------------------------------------------

// The result of reading one segment's bytes.
struct SegmentScan {
  uint64_t good_bytes = 0;  // bytes of whole, valid records from the start
  uint64_t records = 0;     // records in those bytes
  // Set when the records stop before the end of the data.
  bool damaged = false;
  std::string damage;  // what is wrong at offset good_bytes
  // Whether a valid record follows the damage (real corruption, not a torn
  // final record), and how many records could be read after it.
  bool valid_after = false;
  uint64_t records_after = 0;
};

// Reads the records of one segment from its bytes `data`, calling `fn` for
// each in order (the first must have seq `first_seq`, each next one seq + 1;
// a record with any other seq is damage). Stops at the first damage, or at
// the first error `fn` returns, which is returned.
absl::Status ScanSegment(
    absl::string_view data, uint64_t first_seq,
    const std::function<absl::Status(const JournalRecord&)>& fn,
    SegmentScan* scan);

// --- File names -------------------------------------------------------------

std::string SegmentFileName(uint64_t first_seq);  // journal-000...1.log
bool ParseSegmentFileName(absl::string_view name, uint64_t* first_seq);

// --- Writing ----------------------------------------------------------------

struct JournalOptions {
  std::string dir;
  FileEnv* env = FileEnv::Default();
  // A segment rolls once it holds at least this many bytes.
  uint64_t segment_bytes = uint64_t{64} << 20;
  // fdatasync after each group. Off: writes reach the OS page cache only.
  bool fsync = true;
};

struct JournalStats {
  uint64_t commands = 0;  // commands seen by Commit (rejected included)
  uint64_t records = 0;   // records written (commands and ticks)
  uint64_t groups = 0;    // Commit calls that wrote something
  uint64_t syncs = 0;     // fdatasyncs
  uint64_t bytes = 0;     // bytes written
  uint64_t segments = 0;  // segments created by this journal
};

class FileJournal final : public Journal {
 public:
  // Starts a new segment for records from `next_seq` on, in options.dir
  // (which recovery has checked). `last_now` is the engine's clock: a
  // rejected command only needs a tick when it is later.
  static absl::StatusOr<std::unique_ptr<FileJournal>> Open(
      const JournalOptions& options, uint64_t next_seq, Micros last_now);

  ~FileJournal() override;

  // Journal: appends the group's records with one write, then one sync.
  // Called by one thread at a time (the writer).
  absl::Status Commit(absl::Span<const WriteCommand* const> commands,
                      absl::Span<const WriteOutcome* const> outcomes) override;

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
  Micros last_now_ = 0;
  absl::Status failed_;  // sticky: the first failure
  std::string buffer_;   // reused by Commit

  mutable absl::Mutex mu_;
  // First seqs of the segments in the directory, ascending; the last is the
  // current one.
  std::vector<uint64_t> segments_ ABSL_GUARDED_BY(mu_);
  JournalStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace duijie

#endif  // DUIJIE_API_JOURNAL_H_
