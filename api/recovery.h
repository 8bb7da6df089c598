// Recovery's decisions, as a table of cases: what DurableStore::Open does
// with what it finds in the data directory (durable_store.h). Pure: no file
// I/O and no gRPC. DurableStore reads the files, asks these functions what
// the situation is and what to do, and does it; the messages and log lines
// are built here so that a case and its words live in one place.
//
// Seqs: the snapshot loaded covers records 1..base (base 0: none loaded);
// a segment's name is the seq of its first record.
//
//   situation                     | without repair        | with repair
//   ------------------------------+-----------------------+------------------
//   kSnapshotDamaged: a snapshot  | log it, try the next  | same (a snapshot
//     does not read whole (I/O,   | older one; it goes to | is never renamed)
//     header or state CRC, header | damaged_snapshots     |
//     seq != name, LoadState)     |                       |
//   kEmpty: no snapshot file and  | start empty (fresh)   | same
//     no journal record           |                       |
//   kReplay: the journal goes on  | replay the records    | same
//     from the snapshot (or from  | after base; none: the |
//     seq 1 with no snapshot      | position is base      |
//     file), or nothing follows   |                       |
//     a readable snapshot         |                       |
//   kRebuildFromJournal: no       | log it, start empty,  | same
//     snapshot reads, the journal | replay the whole      |
//     starts at seq 1             | journal               |
//   kNoStateLeft: no snapshot     | DATA_LOSS "no         | same (nothing to
//     reads, no journal           | snapshot can be read" | repair from)
//   kJournalGap: the oldest       | DATA_LOSS "journal    | same (the records
//     segment starts past base+1  | records a..b are      | are gone)
//     (records nothing covers)    | missing"              |
//   kTornTail: a bad final record | truncate at the last  | same
//     in the last segment, with   | whole record, log the |
//     nothing valid after it      | bytes dropped         |
//   kCorruptRecord: a bad record  | DATA_LOSS naming file | log what is lost,
//     with valid records after it | and offset; nothing   | keep <seg>.damaged,
//                                 | on disk changes       | later segments ->
//                                 |                       | *.lost, truncate
//                                 |                       | at the damage, stop
//   kDamagedSegmentNotLast: a bad | as kCorruptRecord     | as kCorruptRecord
//     final record in a segment   |                       |
//     that later segments follow  |                       |
//   kSegmentOutOfSequence: a      | DATA_LOSS "segment    | as kCorruptRecord
//     segment starts elsewhere    | starts at seq s but   | at offset 0, and
//     than where the previous one | the previous one ends | the segment itself
//     ended (a missing segment)   | at e"                 | -> *.lost as well
//
// Before these, empty segments are removed (a start that crashed before its
// first record, or a tail truncated to nothing) and the segments wholly
// covered by the snapshot are skipped (FirstSegmentToReplay). A record that
// reads but does not replay to its journaled effect is not damage: it is
// INTERNAL, with or without repair, and stays DurableStore's.
#ifndef DUIJIE_API_RECOVERY_H_
#define DUIJIE_API_RECOVERY_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "api/journal_format.h"

namespace duijie {

// The rows of the table above.
enum class RecoverySituation {
  kSnapshotDamaged,
  kEmpty,
  kReplay,
  kRebuildFromJournal,
  kNoStateLeft,
  kJournalGap,
  kTornTail,
  kCorruptRecord,
  kDamagedSegmentNotLast,
  kSegmentOutOfSequence,
};

// "kTornTail" etc., for test output and messages.
const char* RecoverySituationName(RecoverySituation situation);

// --- Snapshots --------------------------------------------------------------

// A snapshot named for `name_seq` whose header says `header_seq`: DATA_LOSS
// when they differ (a file renamed or copied by hand holds another state
// than its name promises).
absl::Status CheckSnapshotSeq(uint64_t name_seq, uint64_t header_seq);

// The log line for the snapshot at `path` passed over (kSnapshotDamaged)
// because reading, decoding or loading it failed with `why`.
std::string DamagedSnapshotLine(absl::string_view path,
                                const absl::Status& why);

// --- Where the journal starts -----------------------------------------------

// The index in `segments` (non-empty segments' first seqs, ascending) of the
// first one that may hold a record after `base`: the ones before it are
// wholly covered by the snapshot.
size_t FirstSegmentToReplay(absl::Span<const uint64_t> segments, uint64_t base);

struct StartDecision {
  RecoverySituation situation = RecoverySituation::kReplay;
  // Not OK: recovery fails with it (kNoStateLeft, kJournalGap).
  absl::Status status;
  // Non-empty: a line to log before replaying.
  std::string log;
};

// What to do with the snapshot loaded (`base`; 0 when none was, after
// `damaged_snapshots`, the names passed over, if any) and the segments to
// replay (`segments`, from FirstSegmentToReplay on) in data directory `dir`.
StartDecision DecideJournalStart(
    absl::string_view dir, uint64_t base,
    absl::Span<const std::string> damaged_snapshots,
    absl::Span<const uint64_t> segments);

// --- Damage in a segment ----------------------------------------------------

// Where a damaged segment stands in the journal.
struct SegmentPlace {
  std::string path;  // the segment's path, for messages
  std::string name;  // its file name
  // Whether no segment follows it, how many do, and their bytes.
  bool last = true;
  size_t later_segments = 0;
  uint64_t later_bytes = 0;
};

// What the scan of a damaged segment (scan.damaged) means: kTornTail,
// kCorruptRecord or kDamagedSegmentNotLast.
RecoverySituation ClassifySegmentDamage(bool last_segment,
                                        const SegmentScan& scan);

enum class DamageAction {
  // Fail recovery with `refusal`, changing nothing on disk.
  kRefuse,
  // Cut the segment at truncate_at and go on (a torn tail).
  kTruncateTornTail,
  // Write <path>.damaged with the segment's bytes, rename the later
  // segments to <name>.lost, cut the segment at truncate_at, sync the
  // directory (then, if set_aside_segment, rename the segment to
  // <path>.lost too) and replay nothing more.
  kRepair,
};

struct DamagePlan {
  RecoverySituation situation = RecoverySituation::kTornTail;
  DamageAction action = DamageAction::kRefuse;
  absl::Status refusal;  // DATA_LOSS with kRefuse
  std::string log;       // logged before acting (not with kRefuse)
  uint64_t truncate_at = 0;
  uint64_t torn_bytes = 0;  // kTruncateTornTail: bytes dropped
  bool set_aside_segment = false;
};

// What to do about the damage `scan` found in the segment at `place`,
// `file_bytes` long.
DamagePlan PlanSegmentDamage(const SegmentPlace& place, const SegmentScan& scan,
                             uint64_t file_bytes, bool repair);

// What to do about the segment at `place` starting at seq `first_seq` when
// the previous one ended at `expected_first - 1` (kSegmentOutOfSequence).
// The segment is not read, so the loss counts none of its bytes, only the
// later segments'.
DamagePlan PlanOutOfSequence(const SegmentPlace& place, uint64_t first_seq,
                             uint64_t expected_first, bool repair);

}  // namespace duijie

#endif  // DUIJIE_API_RECOVERY_H_
