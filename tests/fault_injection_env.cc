// FaultInjectionEnv. See fault_injection_env.h.
#include "tests/fault_injection_env.h"

#include <errno.h>

#include <algorithm>
#include <utility>

namespace duijie {
namespace {

// The directory part of `path` (what SyncDir is called with).
std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string WithoutTrailingSlash(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

}  // namespace

// Forwards to the base file unless a failure is injected or the file system
// is off. A file opened while it is off has no base file: the "machine" is
// down, so nothing it writes could ever reach the disk.
class FaultInjectionEnv::File final : public WritableFile {
 public:
  File(FaultInjectionEnv* env, std::string path,
       std::unique_ptr<WritableFile> base)
      : env_(env), path_(std::move(path)), base_(std::move(base)) {}

  absl::Status Append(absl::string_view data) override {
    absl::ReaderMutexLock io(&env_->io_mu_);
    if (!env_->active_ || base_ == nullptr) {
      discarded_ += data.size();
      return absl::OkStatus();
    }
    size_t written = data.size();
    absl::Status injected = env_->BeforeAppend(path_, data.size(), &written);
    if (written > 0) {
      const uint64_t before = base_->Size();
      absl::Status status = base_->Append(data.substr(0, written));
      env_->Appended(path_, base_->Size() - before);
      if (!status.ok()) return status;
    }
    return injected;
  }

  absl::Status Sync() override {
    {
      absl::ReaderMutexLock io(&env_->io_mu_);
      if (!env_->active_ || base_ == nullptr) return absl::OkStatus();
    }
    // Not under io_mu_: HoldSyncs may keep this waiting for long.
    absl::Status injected = env_->BeforeSync(path_);
    if (!injected.ok()) return injected;
    absl::ReaderMutexLock io(&env_->io_mu_);
    if (!env_->active_) return absl::OkStatus();
    absl::Status status = base_->Sync();
    if (status.ok()) env_->Synced(path_);
    return status;
  }

  absl::Status Close() override {
    return base_ == nullptr ? absl::OkStatus() : base_->Close();
  }

  uint64_t Size() const override {
    return (base_ == nullptr ? 0 : base_->Size()) + discarded_;
  }

 private:
  FaultInjectionEnv* const env_;
  const std::string path_;
  std::unique_ptr<WritableFile> base_;
  uint64_t discarded_ = 0;  // appended while the file system was off
};

// --- Injected failures
// --------------------------------------------------------

void FaultInjectionEnv::FailAppendAt(int64_t n, bool enospc, size_t written) {
  absl::MutexLock lock(&mu_);
  fail_append_at_ = n;
  fail_append_enospc_ = enospc;
  fail_append_written_ = written;
}

void FaultInjectionEnv::FailSyncAt(int64_t n) {
  absl::MutexLock lock(&mu_);
  fail_sync_at_ = n;
}

void FaultInjectionEnv::FailAppendAfter(int64_t k, bool enospc,
                                        size_t written) {
  absl::MutexLock lock(&mu_);
  fail_append_at_ = appends_ + k;
  fail_append_enospc_ = enospc;
  fail_append_written_ = written;
}

void FaultInjectionEnv::FailSyncAfter(int64_t k) {
  absl::MutexLock lock(&mu_);
  fail_sync_at_ = syncs_ + k;
}

void FaultInjectionEnv::SetReadOnly(bool read_only) {
  absl::MutexLock lock(&mu_);
  read_only_ = read_only;
}

void FaultInjectionEnv::HoldSyncs(bool hold) {
  absl::MutexLock lock(&mu_);
  hold_syncs_ = hold;
}

int64_t FaultInjectionEnv::held_syncs() const {
  absl::MutexLock lock(&mu_);
  return held_syncs_;
}

void FaultInjectionEnv::Reset() {
  absl::MutexLock lock(&mu_);
  hold_syncs_ = false;
  fail_append_at_ = 0;
  fail_sync_at_ = 0;
  failed_ = false;
  read_only_ = false;
}

int64_t FaultInjectionEnv::appends() const {
  absl::MutexLock lock(&mu_);
  return appends_;
}

int64_t FaultInjectionEnv::syncs() const {
  absl::MutexLock lock(&mu_);
  return syncs_;
}

absl::Status FaultInjectionEnv::BeforeAppend(const std::string& path,
                                             size_t size, size_t* written) {
  absl::MutexLock lock(&mu_);
  ++appends_;
  if (read_only_) {
    *written = 0;
    return IoError("write", path, EROFS);
  }
  if (failed_ || appends_ == fail_append_at_) {
    const bool first = !failed_;
    failed_ = true;
    *written = first ? std::min(size, fail_append_written_) : 0;
    return IoError("write", path, first && fail_append_enospc_ ? ENOSPC : EIO);
  }
  return absl::OkStatus();
}

absl::Status FaultInjectionEnv::BeforeSync(const std::string& path) {
  absl::MutexLock lock(&mu_);
  ++held_syncs_;
  mu_.Await(absl::Condition(
      +[](bool* hold) { return !*hold; }, &hold_syncs_));
  --held_syncs_;
  ++syncs_;
  if (failed_ || syncs_ == fail_sync_at_) {
    failed_ = true;
    return IoError("fdatasync", path, EIO);
  }
  return absl::OkStatus();
}

absl::Status FaultInjectionEnv::CheckReadOnly(absl::string_view op,
                                              const std::string& path) {
  absl::MutexLock lock(&mu_);
  if (read_only_) return IoError(op, path, EROFS);
  return absl::OkStatus();
}

// --- Power cuts
// ---------------------------------------------------------------

void FaultInjectionEnv::Appended(const std::string& path, uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  files_[path].size += bytes;
}

void FaultInjectionEnv::Synced(const std::string& path) {
  absl::MutexLock lock(&mu_);
  auto it = files_.find(path);
  if (it != files_.end()) it->second.synced = it->second.size;
}

void FaultInjectionEnv::SetFilesystemActive(bool active) {
  absl::MutexLock io(&io_mu_);
  active_ = active;
}

bool FaultInjectionEnv::filesystem_active() const {
  absl::ReaderMutexLock io(&io_mu_);
  return active_;
}

uint64_t FaultInjectionEnv::unsynced_bytes() const {
  absl::MutexLock lock(&mu_);
  uint64_t total = 0;
  for (const auto& [path, file] : files_) total += file.size - file.synced;
  return total;
}

absl::Status FaultInjectionEnv::DropUnsyncedData(std::mt19937_64* rng) {
  // Exclusive: no write, sync or rename is half done while files are cut.
  absl::MutexLock io(&io_mu_);
  std::map<std::string, FileState> files;
  std::map<std::string, std::string> entries;
  {
    absl::MutexLock lock(&mu_);
    files.swap(files_);
    entries.swap(unsynced_entries_);
  }
  absl::Status status;
  auto note = [&status](absl::Status s) {
    if (!s.ok() && !absl::IsNotFound(s) && status.ok()) status = std::move(s);
  };
  // Data first, while each file still has the name it was written under.
  for (const auto& [path, file] : files) {
    if (file.size <= file.synced) continue;
    uint64_t keep = file.synced;
    if (rng != nullptr) keep += (*rng)() % (file.size - file.synced + 1);
    absl::StatusOr<uint64_t> actual = base_->FileSize(path);
    if (!actual.ok()) continue;  // removed since
    if (keep < *actual) note(base_->TruncateFile(path, keep));
  }
  for (const auto& [path, origin] : entries) {
    if (rng != nullptr && (*rng)() % 2 == 0) continue;  // it made it
    if (origin.empty()) {
      note(base_->RemoveFile(path));
    } else if (base_->Exists(path)) {
      note(base_->RenameFile(path, origin));
    }
  }
  return status;
}

absl::Status FaultInjectionEnv::PowerCut(std::mt19937_64* rng) {
  SetFilesystemActive(false);
  return DropUnsyncedData(rng);
}

// --- FileEnv
// ------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<WritableFile>> FaultInjectionEnv::Open(
    const std::string& path, bool append) {
  absl::ReaderMutexLock io(&io_mu_);
  if (!active_) {
    return std::unique_ptr<WritableFile>(new File(this, path, nullptr));
  }
  if (absl::Status s = CheckReadOnly("open", path); !s.ok()) return s;
  const bool existed = base_->Exists(path);
  absl::StatusOr<std::unique_ptr<WritableFile>> file =
      append ? base_->NewAppendableFile(path) : base_->NewWritableFile(path);
  if (!file.ok()) return file.status();
  {
    absl::MutexLock lock(&mu_);
    if (!existed) unsynced_entries_[path] = "";
    if (!append) {
      files_[path] = FileState();
    } else if (files_.find(path) == files_.end()) {
      // Bytes it held before this env wrote to it count as durable.
      const uint64_t size = (*file)->Size();
      files_[path] = FileState{size, size};
    }
  }
  return std::unique_ptr<WritableFile>(new File(this, path, *std::move(file)));
}

absl::StatusOr<std::unique_ptr<WritableFile>>
FaultInjectionEnv::NewWritableFile(const std::string& path) {
  return Open(path, /*append=*/false);
}

absl::StatusOr<std::unique_ptr<WritableFile>>
FaultInjectionEnv::NewAppendableFile(const std::string& path) {
  return Open(path, /*append=*/true);
}

absl::Status FaultInjectionEnv::RenameFile(const std::string& from,
                                           const std::string& to) {
  absl::ReaderMutexLock io(&io_mu_);
  if (!active_) return absl::OkStatus();
  if (absl::Status s = CheckReadOnly("rename", from); !s.ok()) return s;
  if (absl::Status s = base_->RenameFile(from, to); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  auto file = files_.find(from);
  if (file != files_.end()) {
    files_[to] = file->second;
    files_.erase(file);
  } else {
    files_.erase(to);
  }
  // A power cut before the directory is synced takes the file back to the
  // name it had when its directory last was (none: it goes).
  std::string origin = from;
  auto entry = unsynced_entries_.find(from);
  if (entry != unsynced_entries_.end()) {
    origin = entry->second;
    unsynced_entries_.erase(entry);
  }
  if (origin == to) {
    unsynced_entries_.erase(to);
  } else {
    unsynced_entries_[to] = origin;
  }
  return absl::OkStatus();
}

absl::Status FaultInjectionEnv::RemoveFile(const std::string& path) {
  absl::ReaderMutexLock io(&io_mu_);
  if (!active_) return absl::OkStatus();
  if (absl::Status s = CheckReadOnly("remove", path); !s.ok()) return s;
  if (absl::Status s = base_->RemoveFile(path); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  files_.erase(path);
  unsynced_entries_.erase(path);
  return absl::OkStatus();
}

absl::Status FaultInjectionEnv::TruncateFile(const std::string& path,
                                             uint64_t size) {
  absl::ReaderMutexLock io(&io_mu_);
  if (!active_) return absl::OkStatus();
  if (absl::Status s = CheckReadOnly("truncate", path); !s.ok()) return s;
  if (absl::Status s = base_->TruncateFile(path, size); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  auto file = files_.find(path);
  if (file != files_.end()) {
    // FileEnv::TruncateFile makes the new size durable.
    file->second.size = size;
    file->second.synced = size;
  }
  return absl::OkStatus();
}

absl::Status FaultInjectionEnv::CreateDir(const std::string& dir) {
  absl::ReaderMutexLock io(&io_mu_);
  if (!active_) return absl::OkStatus();
  if (!base_->Exists(dir)) {
    if (absl::Status s = CheckReadOnly("create directory", dir); !s.ok()) {
      return s;
    }
  }
  return base_->CreateDir(dir);
}

absl::Status FaultInjectionEnv::SyncDir(const std::string& dir) {
  absl::ReaderMutexLock io(&io_mu_);
  if (!active_) return absl::OkStatus();
  if (absl::Status s = CheckReadOnly("fsync directory", dir); !s.ok()) {
    return s;
  }
  if (absl::Status s = base_->SyncDir(dir); !s.ok()) return s;
  const std::string synced = WithoutTrailingSlash(dir);
  absl::MutexLock lock(&mu_);
  for (auto it = unsynced_entries_.begin(); it != unsynced_entries_.end();) {
    if (DirOf(it->first) == synced) {
      it = unsynced_entries_.erase(it);
    } else {
      ++it;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<FileLock>> FaultInjectionEnv::LockFile(
    const std::string& path) {
  // Not turned off with the file system: a lock is no data, and the test
  // lets go of the old store's lock before it recovers.
  if (absl::Status s = CheckReadOnly("open", path); !s.ok()) return s;
  return base_->LockFile(path);
}

}  // namespace duijie
