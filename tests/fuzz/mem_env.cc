// MemEnv. See mem_env.h.
#include "tests/fuzz/mem_env.h"

#include <errno.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace duijie {
namespace {

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

class MemFile : public WritableFile {
 public:
  MemFile(MemEnv* env, std::string path, uint64_t size)
      : env_(env), path_(std::move(path)), size_(size) {}

  absl::Status Append(absl::string_view data) override {
    if (closed_) return absl::FailedPreconditionError("append: file closed");
    absl::Status status = env_->AppendTo(path_, data);
    if (status.ok()) size_ += data.size();
    return status;
  }
  absl::Status Sync() override {
    if (closed_) return absl::FailedPreconditionError("sync: file closed");
    return absl::OkStatus();
  }
  absl::Status Close() override {
    closed_ = true;
    return absl::OkStatus();
  }
  uint64_t Size() const override { return size_; }

 private:
  MemEnv* const env_;
  const std::string path_;
  uint64_t size_;
  bool closed_ = false;
};

class MemLock : public FileLock {};

}  // namespace

void MemEnv::PutFile(const std::string& path, std::string bytes) {
  absl::MutexLock lock(&mu_);
  dirs_.insert(DirOf(path));
  files_[path] = std::move(bytes);
}

absl::Status MemEnv::ParentExists(const std::string& path) const {
  const std::string dir = DirOf(path);
  if (dir.empty() || dirs_.count(dir) > 0) return absl::OkStatus();
  return IoError("open", path, ENOENT);
}

absl::StatusOr<std::unique_ptr<WritableFile>> MemEnv::NewWritableFile(
    const std::string& path) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = ParentExists(path); !s.ok()) return s;
  files_[path].clear();
  return std::make_unique<MemFile>(this, path, 0);
}

absl::StatusOr<std::unique_ptr<WritableFile>> MemEnv::NewAppendableFile(
    const std::string& path) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = ParentExists(path); !s.ok()) return s;
  return std::make_unique<MemFile>(this, path, files_[path].size());
}

absl::Status MemEnv::AppendTo(const std::string& path, absl::string_view data) {
  absl::MutexLock lock(&mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return IoError("write", path, ENOENT);
  it->second.append(data.data(), data.size());
  return absl::OkStatus();
}

absl::StatusOr<std::string> MemEnv::ReadFile(const std::string& path) {
  absl::MutexLock lock(&mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return IoError("open", path, ENOENT);
  return it->second;
}

absl::StatusOr<uint64_t> MemEnv::FileSize(const std::string& path) {
  absl::MutexLock lock(&mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return IoError("stat", path, ENOENT);
  return it->second.size();
}

absl::Status MemEnv::RenameFile(const std::string& from,
                                const std::string& to) {
  absl::MutexLock lock(&mu_);
  auto it = files_.find(from);
  if (it == files_.end()) return IoError("rename", from, ENOENT);
  std::string bytes = std::move(it->second);
  files_.erase(it);
  files_[to] = std::move(bytes);
  return absl::OkStatus();
}

absl::Status MemEnv::RemoveFile(const std::string& path) {
  absl::MutexLock lock(&mu_);
  if (files_.erase(path) == 0) return IoError("unlink", path, ENOENT);
  return absl::OkStatus();
}

absl::Status MemEnv::TruncateFile(const std::string& path, uint64_t size) {
  absl::MutexLock lock(&mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return IoError("truncate", path, ENOENT);
  it->second.resize(size, '\0');
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> MemEnv::ListDir(
    const std::string& dir) {
  absl::MutexLock lock(&mu_);
  if (dirs_.count(dir) == 0) return IoError("opendir", dir, ENOENT);
  std::vector<std::string> names;
  const std::string prefix = dir + "/";
  for (auto it = files_.lower_bound(prefix);
       it != files_.end() && it->first.compare(0, prefix.size(), prefix) == 0;
       ++it) {
    const std::string name = it->first.substr(prefix.size());
    if (name.find('/') == std::string::npos) names.push_back(name);
  }
  return names;
}

bool MemEnv::Exists(const std::string& path) {
  absl::MutexLock lock(&mu_);
  return files_.count(path) > 0 || dirs_.count(path) > 0;
}

absl::Status MemEnv::CreateDir(const std::string& dir) {
  absl::MutexLock lock(&mu_);
  if (files_.count(dir) > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, ": exists and is not a directory"));
  }
  dirs_.insert(dir);
  return absl::OkStatus();
}

absl::Status MemEnv::SyncDir(const std::string& dir) {
  absl::MutexLock lock(&mu_);
  if (dirs_.count(dir) == 0) return IoError("open directory", dir, ENOENT);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<FileLock>> MemEnv::LockFile(
    const std::string& path) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = ParentExists(path); !s.ok()) return s;
  files_.emplace(path, std::string());
  return std::make_unique<MemLock>();
}

}  // namespace duijie
