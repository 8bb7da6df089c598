// The journal's record codec and segment reader. See journal_format.h.
#include "api/journal_format.h"

#include <zlib.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <utility>
#include <variant>

#include "absl/memory/memory.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/byte_codec.h"

namespace duijie {
namespace {

constexpr uint8_t kTick = static_cast<uint8_t>(CommandCode::kTick);

// The payload of a command record (see journal_format.h).
void EncodeCommand(uint64_t seq, const Command& command,
                   const CommandEffect& effect, std::string* out) {
  ByteWriter e(out);
  e.U8(static_cast<uint8_t>(command.code()));
  e.U64(seq);
  e.I64(command.now);
  e.Str(command.request_id);
  e.U64(command.fingerprint);
  EncodeBody(command.body, e);
  e.Bool(effect.replayed);
  e.U64(effect.order_id);
  e.U64(effect.match_count);
  e.U64(effect.first_match_id);
}

// The payload of a tick.
void EncodeTick(uint64_t seq, Micros now, std::string* out) {
  ByteWriter e(out);
  e.U8(kTick);
  e.U64(seq);
  e.I64(now);
}

uint32_t LoadU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    v |= uint32_t{static_cast<uint8_t>(p[i])} << (8 * i);
  }
  return v;
}

uint64_t LoadU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  }
  return v;
}

// Whether a valid record with seq > `after_seq` starts at `offset`. Cheap
// checks (length, kind, a plausible seq) come before the CRC.
bool ValidFrameAt(absl::string_view data, size_t offset, uint64_t after_seq,
                  uint64_t* seq, size_t* frame_bytes) {
  if (data.size() - offset < kFrameHeaderBytes + kMinPayloadBytes) return false;
  const uint32_t length = LoadU32(data.data() + offset);
  if (length < kMinPayloadBytes || length > kMaxPayloadBytes ||
      length > data.size() - offset - kFrameHeaderBytes) {
    return false;
  }
  const char* payload = data.data() + offset + kFrameHeaderBytes;
  if (static_cast<uint8_t>(payload[0]) > kMaxCommandCode) return false;
  const uint64_t s = LoadU64(payload + 1);
  // At most one record per kMinPayloadBytes + header in what is left.
  const uint64_t span = data.size() / (kFrameHeaderBytes + kMinPayloadBytes);
  if (s <= after_seq || s > after_seq + span + 1) return false;
  if (Crc32(absl::string_view(payload, length)) !=
      LoadU32(data.data() + offset + 4)) {
    return false;
  }
  if (!DecodeRecord(absl::string_view(payload, length)).ok()) return false;
  *seq = s;
  *frame_bytes = kFrameHeaderBytes + length;
  return true;
}

}  // namespace

uint32_t Crc32(absl::string_view data) {
  return static_cast<uint32_t>(
      crc32_z(0L, reinterpret_cast<const Bytef*>(data.data()), data.size()));
}

bool IsTick(const JournalRecord& record) {
  return std::holds_alternative<TickCommand>(record.command.body);
}

void EncodeRecord(uint64_t seq, const Command& command,
                  const CommandEffect& effect, std::string* out) {
  if (std::holds_alternative<TickCommand>(command.body)) {
    EncodeTick(seq, command.now, out);
  } else {
    EncodeCommand(seq, command, effect, out);
  }
}

std::string EncodeRecord(const JournalRecord& record) {
  std::string out;
  EncodeRecord(record.seq, record.command, record.effect, &out);
  return out;
}

absl::StatusOr<JournalRecord> DecodeRecord(absl::string_view payload) {
  ByteReader d(std::string_view(payload.data(), payload.size()));
  JournalRecord record;
  const uint8_t code = d.U8();
  record.seq = d.U64();
  record.command.now = d.I64();
  if (code > kMaxCommandCode) {
    return absl::DataLossError(
        absl::StrCat("journal record: unknown command code ", code));
  }
  if (code == kTick) {
    record.command.body = TickCommand{};
  } else {
    record.command.request_id = d.Str();
    record.command.fingerprint = d.U64();
    // A code that names no command is refused, never read as a default.
    if (!DecodeBody(code, d, &record.command.body)) {
      return absl::DataLossError(
          absl::StrCat("journal record: unknown command code ", code));
    }
    record.effect.replayed = d.Bool();
    record.effect.order_id = d.U64();
    record.effect.match_count = d.U64();
    record.effect.first_match_id = d.U64();
  }
  if (!d.ok() || !d.done()) {
    return absl::DataLossError(absl::StrCat(
        "journal record: malformed payload of ", payload.size(), " bytes"));
  }
  return record;
}

void AppendFrame(absl::string_view payload, std::string* out) {
  ByteWriter e(out);
  e.U32(static_cast<uint32_t>(payload.size()));
  e.U32(Crc32(payload));
  out->append(payload.data(), payload.size());
}

absl::Status ReplayRecord(Engine& engine, const JournalRecord& record) {
  if (!IsTick(record) && record.command.now > engine.now()) {
    // Written before ticks were journaled on their own: the command moved
    // the clock itself.
    engine.Apply(MakeCommand(TickCommand{}, record.command.now)).IgnoreError();
  }
  CommandOutcome outcome = engine.Replay(record.command);
  if (!outcome.ok()) {
    return absl::InternalError(absl::StrCat(
        "journal replay diverged at seq ", record.seq,
        ": the command was accepted when journaled but now fails: ",
        outcome.status().ToString()));
  }
  if (IsTick(record)) return absl::OkStatus();
  const CommandEffect effect = EffectOf(*outcome);
  if (!(effect == record.effect)) {
    return absl::InternalError(absl::StrFormat(
        "journal replay diverged at seq %d: journaled replayed=%d order %d, "
        "%d matches from %d; replay gave replayed=%d order %d, %d matches "
        "from %d",
        record.seq, record.effect.replayed, record.effect.order_id,
        record.effect.match_count, record.effect.first_match_id,
        effect.replayed, effect.order_id, effect.match_count,
        effect.first_match_id));
  }
  return absl::OkStatus();
}

absl::Status ScanSegment(
    absl::string_view data, uint64_t first_seq,
    const std::function<absl::Status(const JournalRecord&)>& fn,
    SegmentScan* scan) {
  *scan = SegmentScan();
  size_t offset = 0;
  uint64_t expected = first_seq;
  while (offset < data.size()) {
    const size_t left = data.size() - offset;
    std::string damage;
    uint32_t length = 0;
    if (left < kFrameHeaderBytes) {
      damage = absl::StrCat("incomplete record header (", left, " bytes)");
    } else {
      length = LoadU32(data.data() + offset);
      if (length < kMinPayloadBytes || length > kMaxPayloadBytes) {
        damage = absl::StrCat("bad record length ", length);
      } else if (length > left - kFrameHeaderBytes) {
        damage = absl::StrCat("record of ", length, " bytes cut short at ",
                              left - kFrameHeaderBytes);
      } else {
        absl::string_view payload =
            data.substr(offset + kFrameHeaderBytes, length);
        if (Crc32(payload) != LoadU32(data.data() + offset + 4)) {
          damage = "checksum mismatch";
        } else {
          absl::StatusOr<JournalRecord> record = DecodeRecord(payload);
          if (!record.ok()) {
            damage = std::string(record.status().message());
          } else if (record->seq != expected) {
            // A whole, valid record out of sequence: not a torn write.
            scan->valid_after = true;
            damage = absl::StrCat("record has seq ", record->seq, ", expected ",
                                  expected);
          } else {
            if (absl::Status s = fn(*record); !s.ok()) return s;
            ++expected;
            ++scan->records;
            offset += kFrameHeaderBytes + length;
            scan->good_bytes = offset;
            continue;
          }
        }
      }
    }
    // Damage at `offset`: is anything valid after it?
    scan->damaged = true;
    scan->damage = std::move(damage);
    const uint64_t after_seq = expected - 1;
    for (size_t at = offset + 1; at < data.size(); ++at) {
      uint64_t seq;
      size_t frame;
      if (!ValidFrameAt(data, at, after_seq, &seq, &frame)) continue;
      scan->valid_after = true;
      // Count the records that chain on from the first one found.
      uint64_t last = seq;
      ++scan->records_after;
      at += frame;
      while (at < data.size() && ValidFrameAt(data, at, last, &seq, &frame) &&
             seq == last + 1) {
        ++scan->records_after;
        last = seq;
        at += frame;
      }
      break;
    }
    return absl::OkStatus();
  }
  return absl::OkStatus();
}

std::string SegmentFileName(uint64_t first_seq) {
  return absl::StrFormat("journal-%020d.log", first_seq);
}

bool ParseSegmentFileName(absl::string_view name, uint64_t* first_seq) {
  constexpr absl::string_view kPrefix = "journal-";
  constexpr absl::string_view kSuffix = ".log";
  if (name.size() != kPrefix.size() + 20 + kSuffix.size() ||
      !absl::StartsWith(name, kPrefix) || !absl::EndsWith(name, kSuffix)) {
    return false;
  }
  return absl::SimpleAtoi(name.substr(kPrefix.size(), 20), first_seq);
}

}  // namespace duijie
