// FileEnv: the small file-system interface the journal, the snapshots and
// recovery use, in the manner of LevelDB's Env. Everything durable goes
// through it, so tests can replace it (tests/fault_injection_env.h) and
// exercise failed writes, failed fsyncs, short writes, a full disk and
// power cuts without a failing disk.
//
// Errors are absl::Status with a message that names the operation, the path
// and the system's reason ("write DIR/journal-...: No space left on device").
// Codes: NOT_FOUND (no such file or directory), PERMISSION_DENIED (EACCES,
// EPERM, EROFS), RESOURCE_EXHAUSTED (ENOSPC, EDQUOT), FAILED_PRECONDITION
// (a lock held by another process), INTERNAL (any other I/O error).
//
// Thread safety: a FileEnv may be used from several threads at once; one
// WritableFile must be used by one thread at a time.
#ifndef DUIJIE_API_FILE_ENV_H_
#define DUIJIE_API_FILE_ENV_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace duijie {

// A file open for appending.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Appends all of `data` (retrying short writes). On failure some prefix
  // of `data` may have been written.
  virtual absl::Status Append(absl::string_view data) = 0;
  // Makes everything appended so far durable (fdatasync).
  virtual absl::Status Sync() = 0;
  // Closes the file; later calls fail. Also done by the destructor.
  virtual absl::Status Close() = 0;
  // Bytes in the file: its size when opened plus what was appended.
  virtual uint64_t Size() const = 0;
};

// A held lock on a file (see FileEnv::LockFile); released when destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class FileEnv {
 public:
  virtual ~FileEnv() = default;

  // The process-wide POSIX implementation. Never deleted.
  static FileEnv* Default();

  // Creates (or truncates) `path` for appending.
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path) = 0;
  // Opens `path` for appending at its end, creating it if missing.
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(
      const std::string& path) = 0;
  // The whole content of `path`.
  virtual absl::StatusOr<std::string> ReadFile(const std::string& path) = 0;
  // The size of `path` in bytes.
  virtual absl::StatusOr<uint64_t> FileSize(const std::string& path) = 0;
  // Renames `from` to `to`, replacing `to` atomically if it exists.
  virtual absl::Status RenameFile(const std::string& from,
                                  const std::string& to) = 0;
  virtual absl::Status RemoveFile(const std::string& path) = 0;
  // Cuts `path` to `size` bytes and makes the new size durable.
  virtual absl::Status TruncateFile(const std::string& path, uint64_t size) = 0;
  // The names (not paths) of the entries of `dir`, without "." and "..".
  virtual absl::StatusOr<std::vector<std::string>> ListDir(
      const std::string& dir) = 0;
  // Whether `path` exists (as anything).
  virtual bool Exists(const std::string& path) = 0;
  // Creates directory `dir` (its parent must exist); OK if it exists.
  virtual absl::Status CreateDir(const std::string& dir) = 0;
  // Makes the entries of `dir` (creations, renames, removals) durable.
  virtual absl::Status SyncDir(const std::string& dir) = 0;
  // Creates `path` if needed and takes an exclusive advisory lock on it
  // (flock), so two servers never share a data directory.
  // FAILED_PRECONDITION if another process holds it.
  virtual absl::StatusOr<std::unique_ptr<FileLock>> LockFile(
      const std::string& path) = 0;
};

// Joins a directory and a name with one '/'.
std::string JoinPath(absl::string_view dir, absl::string_view name);

// The status for a failed system call: `op` and `path` name what failed,
// `err` is the errno.
absl::Status IoError(absl::string_view op, absl::string_view path, int err);

}  // namespace duijie

#endif  // DUIJIE_API_FILE_ENV_H_
