// MemEnv: a FileEnv that keeps every file in memory, for the recovery
// fuzzer. Each run recovers a data directory many thousand times a second;
// a real directory would spend that time in the kernel, and fsync would
// make it crawl. Directories are only names: a path "DIR/NAME" is a file
// NAME in directory DIR. Sync and SyncDir do nothing (nothing here outlives
// the process), and LockFile always succeeds (one user).
#ifndef DUIJIE_TESTS_FUZZ_MEM_ENV_H_
#define DUIJIE_TESTS_FUZZ_MEM_ENV_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "api/file_env.h"

namespace duijie {

class MemEnv : public FileEnv {
 public:
  // Puts `bytes` at `path` directly (creating its directory), for setting
  // up a data directory before recovery.
  void PutFile(const std::string& path, std::string bytes);

  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path) override;
  absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(
      const std::string& path) override;
  absl::StatusOr<std::string> ReadFile(const std::string& path) override;
  absl::StatusOr<uint64_t> FileSize(const std::string& path) override;
  absl::Status RenameFile(const std::string& from,
                          const std::string& to) override;
  absl::Status RemoveFile(const std::string& path) override;
  absl::Status TruncateFile(const std::string& path, uint64_t size) override;
  absl::StatusOr<std::vector<std::string>> ListDir(
      const std::string& dir) override;
  bool Exists(const std::string& path) override;
  absl::Status CreateDir(const std::string& dir) override;
  absl::Status SyncDir(const std::string& dir) override;
  absl::StatusOr<std::unique_ptr<FileLock>> LockFile(
      const std::string& path) override;

  // Appends to an existing file (for MemFile).
  absl::Status AppendTo(const std::string& path, absl::string_view data);

 private:
  absl::Status ParentExists(const std::string& path) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, std::string> files_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> dirs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace duijie

#endif  // DUIJIE_TESTS_FUZZ_MEM_ENV_H_
