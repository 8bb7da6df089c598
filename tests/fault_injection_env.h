// FaultInjectionEnv: a FileEnv over another one that fails on command and
// can cut the power, for tests. Everything the journal, the snapshots and
// recovery write goes through a FileEnv, so this exercises failed writes,
// failed fsyncs, short writes, a full disk, a read-only file system and a
// machine that loses what it had not synced, without a failing disk.
//
// Injected failures. Counts the Append and Sync calls made on its files
// (from every file), and can:
//   - fail the Nth Append (1-based) with EIO, or with ENOSPC after writing
//     only a prefix of the data (a short write, as a full disk gives);
//   - fail the Nth Sync with EIO;
//   - fail every later Append and Sync once one has failed ("sticky");
//   - fail every file creation, rename and directory sync (a read-only
//     file system), even when the process runs as root;
//   - hold every Sync until released (HoldSyncs).
// Settings apply to calls made after they are set.
//
// Power cuts, in the manner of LevelDB's fault_injection_test. The env
// remembers, for each file written through it, how many of its bytes a
// Sync made durable, and which directory entries (files created, renames)
// were made since their directory's last SyncDir. PowerCut() stops the
// "machine": from then on every change is silently discarded (the process
// may go on running, as its threads would for a moment in a real crash,
// but nothing it does reaches the disk), and what was not durable is lost:
// each file is cut back to its synced size and unsynced creations and
// renames are undone. SetFilesystemActive(true) then lets a new "boot"
// recover from what is left. A removal is taken as durable at once, and
// undoing a rename that replaced a file does not bring the replaced file
// back (neither can be undone here); the code under test only removes
// files that a durable snapshot made redundant and never renames over a
// file, so what is left is still a state a real crash could leave.
#ifndef DUIJIE_TESTS_FAULT_INJECTION_ENV_H_
#define DUIJIE_TESTS_FAULT_INJECTION_ENV_H_

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "api/file_env.h"

namespace duijie {

class FaultInjectionEnv : public FileEnv {
 public:
  // `base` is not owned and must outlive this.
  explicit FaultInjectionEnv(FileEnv* base) : base_(base) {}

  // --- Injected failures ----------------------------------------------------

  // 0 disables. Counting starts from the calls made so far + 1 if set with
  // FailAppendAfter / FailSyncAfter.
  void FailAppendAt(int64_t n, bool enospc = false, size_t written = 0);
  void FailSyncAt(int64_t n);
  // Fails the `k`th Append or Sync from now (k >= 1).
  void FailAppendAfter(int64_t k, bool enospc = false, size_t written = 0);
  void FailSyncAfter(int64_t k);
  void SetReadOnly(bool read_only);
  // While held, every Sync waits (before syncing) until released, so a test
  // can look at the server between a group's write and its fsync.
  void HoldSyncs(bool hold);
  // Syncs now waiting in HoldSyncs.
  int64_t held_syncs() const;
  // Clears every injected failure (not the power-cut state).
  void Reset();

  int64_t appends() const;
  int64_t syncs() const;

  // --- Power cuts -----------------------------------------------------------

  // Inactive: every write, sync, creation, rename, removal and truncation
  // reports success and changes nothing. Returns once no call that found
  // the file system active is still under way, so nothing reaches the disk
  // after it.
  void SetFilesystemActive(bool active);
  bool filesystem_active() const;
  // Makes the files look as they would after a power cut: each file written
  // through this env is cut to the size its last Sync made durable, and
  // files created or renamed since their directory's last SyncDir are
  // removed or renamed back. With `rng`, some of what was not durable
  // survives, as a disk may have written it anyway: a random prefix of each
  // file's unsynced bytes (which can end mid-record) and each unsynced
  // directory entry with probability 1/2. Afterwards everything on disk
  // counts as durable. Call while the file system is inactive, or when
  // nothing writes through this env.
  absl::Status DropUnsyncedData(std::mt19937_64* rng = nullptr);
  // SetFilesystemActive(false), then DropUnsyncedData(rng).
  absl::Status PowerCut(std::mt19937_64* rng = nullptr);
  // Bytes written through this env that no Sync has made durable yet.
  uint64_t unsynced_bytes() const;

  // --- FileEnv --------------------------------------------------------------

  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path) override;
  absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(
      const std::string& path) override;
  absl::StatusOr<std::string> ReadFile(const std::string& path) override {
    return base_->ReadFile(path);
  }
  absl::StatusOr<uint64_t> FileSize(const std::string& path) override {
    return base_->FileSize(path);
  }
  absl::Status RenameFile(const std::string& from,
                          const std::string& to) override;
  absl::Status RemoveFile(const std::string& path) override;
  absl::Status TruncateFile(const std::string& path, uint64_t size) override;
  absl::StatusOr<std::vector<std::string>> ListDir(
      const std::string& dir) override {
    return base_->ListDir(dir);
  }
  bool Exists(const std::string& path) override { return base_->Exists(path); }
  absl::Status CreateDir(const std::string& dir) override;
  absl::Status SyncDir(const std::string& dir) override;
  absl::StatusOr<std::unique_ptr<FileLock>> LockFile(
      const std::string& path) override;

 private:
  class File;
  // What the disk holds durably of one file written through this env.
  struct FileState {
    uint64_t size = 0;    // bytes in the file
    uint64_t synced = 0;  // of those, made durable by a Sync
  };

  absl::StatusOr<std::unique_ptr<WritableFile>> Open(const std::string& path,
                                                     bool append);
  // Called by File before each Append / Sync: the error to return, if any,
  // and for an Append how many bytes to write first.
  absl::Status BeforeAppend(const std::string& path, size_t size,
                            size_t* written);
  absl::Status BeforeSync(const std::string& path);
  absl::Status CheckReadOnly(absl::string_view op, const std::string& path);
  // Called by File after the base file appended or synced.
  void Appended(const std::string& path, uint64_t bytes);
  void Synced(const std::string& path);

  FileEnv* const base_;

  // Held shared by every call that changes the disk, for its whole length,
  // and exclusively to switch the file system off: a call either finished
  // before the cut or finds the file system inactive. Taken before mu_.
  mutable absl::Mutex io_mu_;
  bool active_ ABSL_GUARDED_BY(io_mu_) = true;

  mutable absl::Mutex mu_;
  int64_t appends_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t syncs_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t fail_append_at_ ABSL_GUARDED_BY(mu_) = 0;
  bool fail_append_enospc_ ABSL_GUARDED_BY(mu_) = false;
  size_t fail_append_written_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t fail_sync_at_ ABSL_GUARDED_BY(mu_) = 0;
  bool failed_ ABSL_GUARDED_BY(mu_) = false;  // sticky after a failure
  bool read_only_ ABSL_GUARDED_BY(mu_) = false;
  bool hold_syncs_ ABSL_GUARDED_BY(mu_) = false;
  int64_t held_syncs_ ABSL_GUARDED_BY(mu_) = 0;
  // Files written through this env since the last power cut, by path.
  std::map<std::string, FileState> files_ ABSL_GUARDED_BY(mu_);
  // Directory entries no SyncDir has made durable yet: path -> the path it
  // was renamed from, or "" for a file created here.
  std::map<std::string, std::string> unsynced_entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace duijie

#endif  // DUIJIE_TESTS_FAULT_INJECTION_ENV_H_
