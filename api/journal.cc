// The journal's record codec, segment reader and FileJournal. See journal.h.
#include "api/journal.h"

#include <zlib.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <type_traits>
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

constexpr uint8_t kTick = 0;
constexpr uint8_t kMaxKind = 7;  // kinds 1..7: CommandBody index + 1

void EncodeBody(const CommandBody& body, ByteWriter& e) {
  std::visit(
      [&e](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, Region>) {
          e.Str(b.code);
          e.Str(b.name);
          e.Bool(b.key_assisted);
          e.Bool(b.relocation_site);
        } else if constexpr (std::is_same_v<T, Pairing>) {
          e.Str(b.east_code);
          e.Str(b.west_code);
          e.Str(b.note);
        } else if constexpr (std::is_same_v<T, DeletePairingCommand>) {
          e.Str(b.east_code);
          e.Str(b.west_code);
        } else if constexpr (std::is_same_v<T, OfferSpec>) {
          e.Str(b.supplier_id);
          e.Str(b.region_code);
          e.Str(b.product_code);
          e.I64(b.grade);
          e.I64(b.quantity_kg);
          e.I64(b.floor_price_fen_per_kg);
          e.I64(b.min_lot_kg);
          e.I64(b.expires_at);
          e.Bool(b.certified);
          e.I64(b.households);
        } else if constexpr (std::is_same_v<T, PledgeSpec>) {
          e.Str(b.buyer_id);
          e.Str(b.buyer_city_code);
          e.I64(b.buyer_kind);
          e.Str(b.product_code);
          e.I64(b.min_grade);
          e.I64(b.quantity_kg);
          e.I64(b.max_price_fen_per_kg);
          e.I64(b.budget_fen);
          e.I64(b.min_lot_kg);
          e.I64(b.expires_at);
          e.I64(b.scope);
          e.U32(static_cast<uint32_t>(b.region_codes.size()));
          for (const std::string& code : b.region_codes) e.Str(code);
          e.Bool(b.require_certified);
        } else if constexpr (std::is_same_v<T, CancelOfferCommand>) {
          e.U64(b.offer_id);
        } else {
          static_assert(std::is_same_v<T, CancelPledgeCommand>);
          e.U64(b.pledge_id);
        }
      },
      body);
}

// The payload of a command record (see journal.h).
void EncodeCommand(uint64_t seq, const WriteCommand& command,
                   const CommandEffect& effect, std::string* out) {
  ByteWriter e(out);
  e.U8(static_cast<uint8_t>(command.body.index() + 1));
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

// Fills the alternative of `body` for `kind` from `d`.
void DecodeBody(uint8_t kind, ByteReader& d, CommandBody* body) {
  switch (kind) {
    case 1: {
      Region b;
      b.code = d.Str();
      b.name = d.Str();
      b.key_assisted = d.Bool();
      b.relocation_site = d.Bool();
      *body = std::move(b);
      break;
    }
    case 2: {
      Pairing b;
      b.east_code = d.Str();
      b.west_code = d.Str();
      b.note = d.Str();
      *body = std::move(b);
      break;
    }
    case 3: {
      DeletePairingCommand b;
      b.east_code = d.Str();
      b.west_code = d.Str();
      *body = std::move(b);
      break;
    }
    case 4: {
      OfferSpec b;
      b.supplier_id = d.Str();
      b.region_code = d.Str();
      b.product_code = d.Str();
      b.grade = static_cast<int>(d.I64());
      b.quantity_kg = d.I64();
      b.floor_price_fen_per_kg = d.I64();
      b.min_lot_kg = d.I64();
      b.expires_at = d.I64();
      b.certified = d.Bool();
      b.households = d.I64();
      *body = std::move(b);
      break;
    }
    case 5: {
      PledgeSpec b;
      b.buyer_id = d.Str();
      b.buyer_city_code = d.Str();
      b.buyer_kind = static_cast<int>(d.I64());
      b.product_code = d.Str();
      b.min_grade = static_cast<int>(d.I64());
      b.quantity_kg = d.I64();
      b.max_price_fen_per_kg = d.I64();
      b.budget_fen = d.I64();
      b.min_lot_kg = d.I64();
      b.expires_at = d.I64();
      b.scope = static_cast<int>(d.I64());
      const uint32_t n = d.U32();
      for (uint32_t i = 0; i < n && d.ok(); ++i) {
        b.region_codes.push_back(d.Str());
      }
      b.require_certified = d.Bool();
      *body = std::move(b);
      break;
    }
    case 6: {
      CancelOfferCommand b;
      b.offer_id = d.U64();
      *body = b;
      break;
    }
    default: {
      CancelPledgeCommand b;
      b.pledge_id = d.U64();
      *body = b;
      break;
    }
  }
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
  if (static_cast<uint8_t>(payload[0]) > kMaxKind) return false;
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

std::string EncodeRecord(const JournalRecord& record) {
  std::string out;
  if (record.tick) {
    EncodeTick(record.seq, record.command.now, &out);
  } else {
    EncodeCommand(record.seq, record.command, record.effect, &out);
  }
  return out;
}

absl::StatusOr<JournalRecord> DecodeRecord(absl::string_view payload) {
  ByteReader d(std::string_view(payload.data(), payload.size()));
  JournalRecord record;
  const uint8_t kind = d.U8();
  record.seq = d.U64();
  record.command.now = d.I64();
  if (kind > kMaxKind) {
    return absl::DataLossError(
        absl::StrCat("journal record: unknown kind ", kind));
  }
  if (kind == kTick) {
    record.tick = true;
  } else {
    record.command.request_id = d.Str();
    record.command.fingerprint = d.U64();
    DecodeBody(kind, d, &record.command.body);
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
  if (record.tick) {
    engine.AdvanceClock(record.command.now);
    return absl::OkStatus();
  }
  WriteOutcome outcome = ApplyCommand(engine, record.command);
  if (!outcome.ok()) {
    return absl::InternalError(absl::StrCat(
        "journal replay diverged at seq ", record.seq,
        ": the command was accepted when journaled but now fails: ",
        outcome.status().ToString()));
  }
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

// --- FileJournal ------------------------------------------------------------

FileJournal::FileJournal(const JournalOptions& options) : options_(options) {}

FileJournal::~FileJournal() { Close().IgnoreError(); }

absl::StatusOr<std::unique_ptr<FileJournal>> FileJournal::Open(
    const JournalOptions& options, uint64_t next_seq, Micros last_now) {
  auto journal = absl::WrapUnique(new FileJournal(options));
  journal->next_seq_.store(next_seq);
  journal->last_now_ = last_now;
  absl::StatusOr<std::vector<std::string>> names =
      options.env->ListDir(options.dir);
  if (!names.ok()) return names.status();
  {
    absl::MutexLock lock(&journal->mu_);
    for (const std::string& name : *names) {
      uint64_t first;
      if (ParseSegmentFileName(name, &first) && first < next_seq) {
        journal->segments_.push_back(first);
      }
    }
    std::sort(journal->segments_.begin(), journal->segments_.end());
  }
  if (absl::Status s = journal->StartSegment(); !s.ok()) return s;
  return journal;
}

absl::Status FileJournal::StartSegment() {
  const uint64_t first = next_seq_.load(std::memory_order_relaxed);
  if (file_ != nullptr) {
    if (options_.fsync) {
      if (absl::Status s = file_->Sync(); !s.ok()) return s;
    }
    if (absl::Status s = file_->Close(); !s.ok()) return s;
    file_.reset();
  }
  const std::string path = JoinPath(options_.dir, SegmentFileName(first));
  absl::StatusOr<std::unique_ptr<WritableFile>> file =
      options_.env->NewWritableFile(path);
  if (!file.ok()) return file.status();
  // The new name must be durable before records in it are acknowledged.
  if (absl::Status s = options_.env->SyncDir(options_.dir); !s.ok()) return s;
  file_ = *std::move(file);
  absl::MutexLock lock(&mu_);
  if (segments_.empty() || segments_.back() != first) {
    segments_.push_back(first);
  }
  ++stats_.segments;
  return absl::OkStatus();
}

absl::Status FileJournal::Commit(
    absl::Span<const WriteCommand* const> commands,
    absl::Span<const WriteOutcome* const> outcomes) {
  if (!failed_.ok()) return failed_;
  if (file_ == nullptr) {
    return absl::FailedPreconditionError("journal: closed");
  }
  buffer_.clear();
  uint64_t seq = next_seq_.load(std::memory_order_relaxed);
  Micros last_now = last_now_;
  uint64_t records = 0;
  std::string payload;
  for (size_t i = 0; i < commands.size(); ++i) {
    const WriteCommand& command = *commands[i];
    const WriteOutcome& outcome = *outcomes[i];
    payload.clear();
    if (outcome.ok()) {
      EncodeCommand(seq, command, EffectOf(*outcome), &payload);
    } else if (command.now > last_now) {
      EncodeTick(seq, command.now, &payload);
    } else {
      continue;  // rejected, and the clock did not move
    }
    last_now = std::max(last_now, command.now);
    AppendFrame(payload, &buffer_);
    ++seq;
    ++records;
  }

  absl::Status status;
  if (records > 0) {
    if (file_->Size() >= options_.segment_bytes) status = StartSegment();
    if (status.ok()) status = file_->Append(buffer_);
    if (status.ok() && options_.fsync) status = file_->Sync();
    if (!status.ok()) {
      failed_ = absl::Status(
          status.code(),
          absl::StrCat("journal: ", status.message(),
                       "; the last group of commands was not made durable "
                       "and will not be acknowledged"));
      return failed_;
    }
    last_now_ = last_now;
    next_seq_.store(seq, std::memory_order_release);
  }
  absl::MutexLock lock(&mu_);
  stats_.commands += commands.size();
  if (records > 0) {
    stats_.records += records;
    ++stats_.groups;
    stats_.bytes += buffer_.size();
    if (options_.fsync) ++stats_.syncs;
  }
  return absl::OkStatus();
}

JournalStats FileJournal::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

absl::Status FileJournal::RemoveSegmentsBefore(uint64_t seq) {
  std::vector<uint64_t> doomed;
  {
    absl::MutexLock lock(&mu_);
    // Segment i holds seqs [segments_[i], segments_[i + 1]).
    size_t i = 0;
    while (i + 1 < segments_.size() && segments_[i + 1] <= seq) {
      doomed.push_back(segments_[i]);
      ++i;
    }
    segments_.erase(segments_.begin(), segments_.begin() + i);
  }
  if (doomed.empty()) return absl::OkStatus();
  absl::Status status;
  for (uint64_t first : doomed) {
    absl::Status s = options_.env->RemoveFile(
        JoinPath(options_.dir, SegmentFileName(first)));
    if (!s.ok() && !absl::IsNotFound(s) && status.ok()) status = s;
  }
  absl::Status s = options_.env->SyncDir(options_.dir);
  if (status.ok()) status = s;
  return status;
}

absl::Status FileJournal::Close() {
  if (file_ == nullptr) return absl::OkStatus();
  absl::Status status;
  if (failed_.ok() && options_.fsync) status = file_->Sync();
  absl::Status s = file_->Close();
  if (status.ok()) status = s;
  file_.reset();
  return status;
}

}  // namespace duijie
