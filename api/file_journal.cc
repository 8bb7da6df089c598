// FileJournal. See file_journal.h.
#include "api/file_journal.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "absl/memory/memory.h"
#include "absl/strings/str_cat.h"
#include "api/journal_format.h"

namespace duijie {

FileJournal::FileJournal(const JournalOptions& options) : options_(options) {}

FileJournal::~FileJournal() { Close().IgnoreError(); }

absl::StatusOr<std::unique_ptr<FileJournal>> FileJournal::Open(
    const JournalOptions& options, uint64_t next_seq) {
  auto journal = absl::WrapUnique(new FileJournal(options));
  journal->next_seq_.store(next_seq);
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
    absl::Span<const Command* const> commands,
    absl::Span<const CommandOutcome* const> outcomes) {
  if (!failed_.ok()) return failed_;
  if (file_ == nullptr) {
    return absl::FailedPreconditionError("journal: closed");
  }
  buffer_.clear();
  uint64_t seq = next_seq_.load(std::memory_order_relaxed);
  uint64_t records = 0;
  uint64_t applied = 0;  // commands, refused included; not ticks
  std::string payload;
  for (size_t i = 0; i < commands.size(); ++i) {
    applied += !std::holds_alternative<TickCommand>(commands[i]->body);
    if (!outcomes[i]->ok()) continue;  // refused: it changed nothing
    payload.clear();
    EncodeRecord(seq, *commands[i], EffectOf(**outcomes[i]), &payload);
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
    next_seq_.store(seq, std::memory_order_release);
  }
  absl::MutexLock lock(&mu_);
  stats_.commands += applied;
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
