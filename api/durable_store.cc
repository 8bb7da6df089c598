// DurableStore: recovery, journaling and scheduled snapshots. See
// durable_store.h.
#include "api/durable_store.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include "absl/memory/memory.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/journal_format.h"
#include "api/recovery.h"
#include "api/state_image.h"

namespace duijie {
namespace {

// `status` with `prefix` before its message.
absl::Status Prefixed(absl::string_view prefix, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(prefix, status.message()));
}

// The parent directory of `path` ("." when it has none).
std::string Parent(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  const size_t slash = p.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return p.substr(0, slash);
}

}  // namespace

DurableStore::DurableStore(const DurabilityOptions& options)
    : options_(options) {
  if (!options_.log) {
    options_.log = [](absl::string_view line) {
      std::fprintf(stderr, "duijie-server: %.*s\n",
                   static_cast<int>(line.size()), line.data());
    };
  }
}

DurableStore::~DurableStore() {
  absl::Status status = Close();
  if (!status.ok()) Log(absl::StrCat("closing: ", status.ToString()));
}

void DurableStore::Log(absl::string_view line) const { options_.log(line); }

absl::StatusOr<std::unique_ptr<DurableStore>> DurableStore::Open(
    const DurabilityOptions& options) {
  auto store = absl::WrapUnique(new DurableStore(options));
  if (absl::Status s = store->Recover(); !s.ok()) {
    store->closed_ = true;  // nothing to snapshot or close
    return s;
  }
  return store;
}

absl::Status DurableStore::Recover() {
  FileEnv* env = options_.env;
  const std::string& dir = options_.dir;
  if (dir.empty()) {
    return absl::InvalidArgumentError("data_dir: empty directory name");
  }
  const std::string prefix = absl::StrCat("data_dir ", dir, ": ");
  if (!env->Exists(dir) && !env->Exists(Parent(dir))) {
    return absl::NotFoundError(absl::StrCat(
        prefix, "its parent directory ", Parent(dir),
        " does not exist (create it, or point --data_dir elsewhere)"));
  }
  if (absl::Status s = env->CreateDir(dir); !s.ok()) {
    return Prefixed(prefix, s);
  }
  absl::StatusOr<std::unique_ptr<FileLock>> lock =
      env->LockFile(JoinPath(dir, "LOCK"));
  if (!lock.ok()) {
    if (absl::IsPermissionDenied(lock.status())) {
      return Prefixed(absl::StrCat(prefix, "cannot be written: "),
                      lock.status());
    }
    return Prefixed(prefix, lock.status());
  }
  lock_ = *std::move(lock);

  absl::StatusOr<std::vector<std::string>> names = env->ListDir(dir);
  if (!names.ok()) return Prefixed(prefix, names.status());
  std::vector<uint64_t> snapshots, segments;
  for (const std::string& name : *names) {
    uint64_t seq;
    if (ParseSnapshotFileName(name, &seq)) {
      snapshots.push_back(seq);
    } else if (ParseSegmentFileName(name, &seq)) {
      segments.push_back(seq);
    } else if (absl::StartsWith(name, "snapshot-") &&
               absl::EndsWith(name, ".tmp")) {
      // A snapshot a crash interrupted before its rename.
      if (absl::Status s = env->RemoveFile(JoinPath(dir, name)); !s.ok()) {
        return Prefixed(prefix, s);
      }
    }
  }
  std::sort(snapshots.rbegin(), snapshots.rend());
  std::sort(segments.begin(), segments.end());

  const absl::Time load_start = absl::Now();
  if (absl::Status s = LoadNewestSnapshot(snapshots); !s.ok()) return s;
  report_.load_time = absl::Now() - load_start;
  const absl::Time replay_start = absl::Now();
  if (absl::Status s = ReplayJournal(std::move(segments)); !s.ok()) return s;
  report_.replay_time = absl::Now() - replay_start;
  report_.fresh = report_.last_seq == 0;

  JournalOptions journal_options;
  journal_options.dir = dir;
  journal_options.env = env;
  journal_options.segment_bytes = options_.segment_bytes;
  journal_options.fsync = options_.fsync;
  absl::StatusOr<std::unique_ptr<FileJournal>> journal =
      FileJournal::Open(journal_options, report_.last_seq + 1);
  if (!journal.ok()) return Prefixed(prefix, journal.status());
  journal_ = *std::move(journal);
  snapshotter_ = std::make_unique<Snapshotter>(env, dir, journal_.get());
  scheduled_seq_ = report_.snapshot_seq;
  scheduled_at_ = absl::Now();
  return absl::OkStatus();
}

absl::Status DurableStore::LoadNewestSnapshot(
    const std::vector<uint64_t>& snapshots) {
  for (uint64_t seq : snapshots) {
    const std::string name = SnapshotFileName(seq);
    const std::string path = JoinPath(options_.dir, name);
    absl::StatusOr<std::string> file = options_.env->ReadFile(path);
    absl::Status status = file.status();
    std::string state;
    uint64_t header_seq = 0;
    if (status.ok()) {
      absl::StatusOr<std::string> decoded = DecodeSnapshot(*file, &header_seq);
      status = decoded.status();
      if (status.ok()) state = *std::move(decoded);
    }
    if (status.ok()) status = CheckSnapshotSeq(seq, header_seq);
    if (status.ok()) {
      auto engine = std::make_unique<Engine>(options_.engine_options);
      status = engine->LoadState(state);
      if (status.ok()) {
        engine_ = std::move(engine);
        report_.snapshot_file = name;
        report_.snapshot_seq = seq;
        return absl::OkStatus();
      }
    }
    report_.damaged_snapshots.push_back(name);
    Log(DamagedSnapshotLine(path, status));
  }
  engine_ = std::make_unique<Engine>(options_.engine_options);
  return absl::OkStatus();
}

absl::Status DurableStore::ReplayJournal(std::vector<uint64_t> segments) {
  FileEnv* env = options_.env;
  const std::string& dir = options_.dir;
  const uint64_t base = report_.snapshot_seq;
  const absl::Time start = absl::Now();

  // Empty segments hold nothing (a start that crashed before its first
  // record, or a tail truncated to nothing); forget them.
  {
    std::vector<uint64_t> kept;
    for (uint64_t first : segments) {
      const std::string path = JoinPath(dir, SegmentFileName(first));
      absl::StatusOr<uint64_t> size = env->FileSize(path);
      if (!size.ok()) return size.status();
      if (*size == 0) {
        if (absl::Status s = env->RemoveFile(path); !s.ok()) return s;
      } else {
        kept.push_back(first);
      }
    }
    segments = std::move(kept);
  }
  // Skip the segments wholly covered by the snapshot.
  segments.erase(segments.begin(),
                 segments.begin() + FirstSegmentToReplay(segments, base));

  const StartDecision start_decision =
      DecideJournalStart(dir, base, report_.damaged_snapshots, segments);
  if (!start_decision.status.ok()) return start_decision.status;
  if (segments.empty()) {
    report_.last_seq = base;
    return absl::OkStatus();
  }
  if (!start_decision.log.empty()) Log(start_decision.log);

  uint64_t next = segments.front();  // the seq the next segment must start at
  Engine& engine = *engine_;
  for (size_t k = 0; k < segments.size(); ++k) {
    const std::string name = SegmentFileName(segments[k]);
    const std::string path = JoinPath(dir, name);
    // Where this segment stands, for a damage plan. It sizes the later
    // segments (the loss the messages report), so only once damage is found.
    auto place = [&]() {
      SegmentPlace place;
      place.path = path;
      place.name = name;
      place.last = k + 1 == segments.size();
      place.later_segments = segments.size() - k - 1;
      for (size_t j = k + 1; j < segments.size(); ++j) {
        absl::StatusOr<uint64_t> size =
            env->FileSize(JoinPath(dir, SegmentFileName(segments[j])));
        if (size.ok()) place.later_bytes += *size;
      }
      return place;
    };
    // Does what `plan` says on disk. OK: go on (a torn tail) or stop
    // replaying (repaired).
    auto carry_out = [&](const DamagePlan& plan) -> absl::Status {
      if (plan.action == DamageAction::kRefuse) return plan.refusal;
      Log(plan.log);
      if (plan.action == DamageAction::kTruncateTornTail) {
        if (absl::Status s = env->TruncateFile(path, plan.truncate_at);
            !s.ok()) {
          return s;
        }
        report_.torn_bytes_dropped += plan.torn_bytes;
        return absl::OkStatus();
      }
      absl::StatusOr<std::string> bytes = env->ReadFile(path);
      if (!bytes.ok()) return bytes.status();
      {
        absl::StatusOr<std::unique_ptr<WritableFile>> copy =
            env->NewWritableFile(absl::StrCat(path, ".damaged"));
        if (!copy.ok()) return copy.status();
        absl::Status s = (*copy)->Append(*bytes);
        if (s.ok()) s = (*copy)->Sync();
        if (s.ok()) s = (*copy)->Close();
        if (!s.ok()) return s;
      }
      for (size_t j = k + 1; j < segments.size(); ++j) {
        const std::string later = JoinPath(dir, SegmentFileName(segments[j]));
        if (absl::Status s =
                env->RenameFile(later, absl::StrCat(later, ".lost"));
            !s.ok()) {
          return s;
        }
      }
      if (absl::Status s = env->TruncateFile(path, plan.truncate_at); !s.ok()) {
        return s;
      }
      if (absl::Status s = env->SyncDir(dir); !s.ok()) return s;
      report_.repaired = true;
      if (plan.set_aside_segment) {
        if (absl::Status s = env->RenameFile(path, absl::StrCat(path, ".lost"));
            !s.ok()) {
          return s;
        }
      }
      return absl::OkStatus();
    };

    if (segments[k] != next) {
      absl::Status s = carry_out(
          PlanOutOfSequence(place(), segments[k], next, options_.repair));
      if (!s.ok()) return s;
      break;
    }
    absl::StatusOr<std::string> data = env->ReadFile(path);
    if (!data.ok()) return data.status();
    SegmentScan scan;
    absl::Status replayed = ScanSegment(
        *data, segments[k],
        [&](const JournalRecord& record) -> absl::Status {
          if (record.seq <= base) return absl::OkStatus();
          ++report_.replayed_records;
          return ReplayRecord(engine, record);
        },
        &scan);
    if (!replayed.ok()) return Prefixed(absl::StrCat(path, ": "), replayed);
    report_.replayed_bytes += scan.good_bytes;
    next = segments[k] + scan.records;
    if (scan.damaged) {
      const DamagePlan plan =
          PlanSegmentDamage(place(), scan, data->size(), options_.repair);
      if (absl::Status s = carry_out(plan); !s.ok()) return s;
      if (plan.action == DamageAction::kRepair) break;
    }
  }
  report_.last_seq = std::max(base, next - 1);
  if (report_.replayed_records > 0) {
    Log(absl::StrFormat(
        "recovered %d journal records after %s in %s", report_.replayed_records,
        report_.snapshot_file.empty() ? std::string("an empty state")
                                      : report_.snapshot_file,
        absl::FormatDuration(absl::Now() - start)));
  }
  return absl::OkStatus();
}

absl::Status DurableStore::Commit(
    absl::Span<const Command* const> commands,
    absl::Span<const CommandOutcome* const> outcomes) {
  return journal_->Commit(commands, outcomes);
}

bool DurableStore::SnapshotDue() {
  const uint64_t position = journal_->last_seq();
  if (position == scheduled_seq_ || snapshotter_->busy()) return false;
  const uint64_t every = options_.snapshot_every_records;
  const bool by_count = every > 0 && position - scheduled_seq_ >= every;
  const bool by_time =
      options_.snapshot_interval > absl::ZeroDuration() &&
      absl::Now() - scheduled_at_ >= options_.snapshot_interval;
  return by_count || by_time;
}

void DurableStore::MaybeSnapshot() {
  if (!SnapshotDue()) return;
  const uint64_t position = journal_->last_seq();
  scheduled_seq_ = position;
  scheduled_at_ = absl::Now();
  snapshotter_->Start(position, CaptureState());
}

Snapshotter::StateSource DurableStore::CaptureState() {
  absl::StatusOr<StateImage> image = StateImage::Capture(*engine_);
  if (!image.ok()) {
    Log(absl::StrCat(image.status().message(),
                     "; serializing on the writer thread instead"));
    auto state = std::make_shared<std::string>(engine_->SaveState());
    return
        [state]() -> absl::StatusOr<std::string> { return std::move(*state); };
  }
  auto shared = std::make_shared<StateImage>(*std::move(image));
  return [shared] { return shared->Read(); };
}

void DurableStore::StartSnapshot(
    std::function<void(absl::StatusOr<uint64_t>)> done) {
  if (closed_) {
    done(absl::FailedPreconditionError("data directory closed"));
    return;
  }
  const uint64_t position = journal_->last_seq();
  if (snapshot_seq() == position) {
    done(position);
    return;
  }
  scheduled_seq_ = position;
  scheduled_at_ = absl::Now();
  snapshotter_->Start(position, CaptureState(),
                      [position, done = std::move(done)](absl::Status status) {
                        if (status.ok()) {
                          done(position);
                        } else {
                          done(status);
                        }
                      });
}

absl::StatusOr<uint64_t> DurableStore::SnapshotNow() {
  if (closed_) return absl::FailedPreconditionError("data directory closed");
  const uint64_t position = journal_->last_seq();
  snapshotter_->Wait();
  if (snapshot_seq() == position) return position;
  scheduled_seq_ = position;
  scheduled_at_ = absl::Now();
  snapshotter_->Start(position, engine_->SaveState());
  snapshotter_->Wait();
  if (absl::Status s = snapshotter_->last_status(); !s.ok()) return s;
  return position;
}

void DurableStore::SimulateCrashForTesting() {
  if (closed_) return;
  snapshotter_->Wait();
  closed_ = true;
  journal_.reset();  // closes the segment (a no-op sync with fsync off)
  lock_.reset();
}

uint64_t DurableStore::snapshot_seq() const {
  const uint64_t written = snapshotter_ ? snapshotter_->last_seq() : 0;
  return std::max(written, report_.snapshot_seq);
}

absl::Status DurableStore::Close() {
  if (closed_) return absl::OkStatus();
  absl::Status status;
  if (journal_->last_seq() > 0) {
    absl::StatusOr<uint64_t> snapshot = SnapshotNow();
    if (!snapshot.ok()) status = snapshot.status();
  }
  snapshotter_->Wait();
  closed_ = true;
  absl::Status s = journal_->Close();
  if (status.ok()) status = s;
  return status;
}

}  // namespace duijie
