// The write-ahead journal's format: records, their framing, segment file
// names, and reading a segment back (in the manner of LevelDB's log_format
// and log_reader). FileJournal (file_journal.h) writes it; recovery
// (durable_store.h) reads it.
//
// Files. The journal is a sequence of segment files in the data directory,
// "journal-<first seq, 20 digits>.log". Each record has a sequence number
// (seq), 1, 2, 3, ... without gaps across segments; a segment's name is the
// seq of its first record.
//
// Framing. Each record is
//   [u32 payload length][u32 crc32 of the payload (zlib)][payload]
// little-endian. The payload (EncodeRecord) is
//   u8 code, u64 seq, i64 now                        -- every record
//   str request_id, u64 fingerprint, body,           -- commands only
//   u8 replayed, u64 order_id, u64 match_count, u64 first_match_id
// where code is the command's CommandCode (engine/command.h): 0 is a tick,
// whose payload stops after `now`; the body is EncodeBody's; strings are
// u32 length + bytes; integers little-endian.
//
// What is journaled. A tick, and every command the engine accepted, whole,
// with the effect it had (CommandEffect: ids and match count), which
// replay checks. A refused command changed nothing and is not journaled.
// Journals written before ticks were their own command hold commands whose
// `now` is later than the clock (each command moved the clock itself then)
// and ticks for refused commands; replay ticks to a command's `now` first,
// so they load to the same state.
#ifndef DUIJIE_API_JOURNAL_FORMAT_H_
#define DUIJIE_API_JOURNAL_FORMAT_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/command.h"
#include "engine/engine.h"

namespace duijie {

// --- Records ----------------------------------------------------------------

inline constexpr size_t kFrameHeaderBytes = 8;
// The smallest payload (a tick) and the largest accepted when reading.
inline constexpr size_t kMinPayloadBytes = 1 + 8 + 8;
inline constexpr size_t kMaxPayloadBytes = 1 << 20;

struct JournalRecord {
  uint64_t seq = 0;
  // A tick (command.body holds a TickCommand) moves the engine's clock to
  // command.now; its request_id and fingerprint are unset.
  Command command;
  CommandEffect effect;  // commands only
};

bool IsTick(const JournalRecord& record);
// The payload of `record` (see the file comment).
std::string EncodeRecord(const JournalRecord& record);
// The payload of the record of `command` (a tick or an accepted command
// with its effect) at `seq`, appended to *out.
void EncodeRecord(uint64_t seq, const Command& command,
                  const CommandEffect& effect, std::string* out);
// Parses a payload. DATA_LOSS if it is malformed.
absl::StatusOr<JournalRecord> DecodeRecord(absl::string_view payload);
// Appends [length][crc32][payload] to *out.
void AppendFrame(absl::string_view payload, std::string* out);
// crc32 (zlib) of `data`.
uint32_t Crc32(absl::string_view data);

// Applies a replayed record to `engine` (ticking to a command's `now`
// first when the clock is behind it) and checks it has the journaled
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

}  // namespace duijie

#endif  // DUIJIE_API_JOURNAL_FORMAT_H_
