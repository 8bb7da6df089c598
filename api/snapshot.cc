// Snapshot files and the Snapshotter. See snapshot.h.
#include "api/snapshot.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/journal_format.h"

namespace duijie {
namespace {

constexpr absl::string_view kMagic = "DJSNAP01";
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderBytes = 8 + 4 + 8 + 8 + 4 + 4;

void PutU32(uint32_t v, std::string* out) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
void PutU64(uint64_t v, std::string* out) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    v |= uint32_t{static_cast<uint8_t>(p[i])} << (8 * i);
  }
  return v;
}
uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  }
  return v;
}

}  // namespace

std::string SnapshotFileName(uint64_t seq) {
  return absl::StrFormat("snapshot-%020d.snap", seq);
}

bool ParseSnapshotFileName(absl::string_view name, uint64_t* seq) {
  constexpr absl::string_view kPrefix = "snapshot-";
  constexpr absl::string_view kSuffix = ".snap";
  if (name.size() != kPrefix.size() + 20 + kSuffix.size() ||
      !absl::StartsWith(name, kPrefix) || !absl::EndsWith(name, kSuffix)) {
    return false;
  }
  return absl::SimpleAtoi(name.substr(kPrefix.size(), 20), seq);
}

std::string EncodeSnapshot(uint64_t seq, absl::string_view state) {
  std::string out;
  out.reserve(kHeaderBytes + state.size());
  out.append(kMagic.data(), kMagic.size());
  PutU32(kFormatVersion, &out);
  PutU64(seq, &out);
  PutU64(state.size(), &out);
  PutU32(Crc32(state), &out);
  PutU32(Crc32(out), &out);
  out.append(state.data(), state.size());
  return out;
}

absl::StatusOr<std::string> DecodeSnapshot(absl::string_view file,
                                           uint64_t* seq) {
  if (file.size() < kHeaderBytes) {
    return absl::DataLossError(absl::StrCat("truncated: ", file.size(),
                                            " bytes, shorter than the header"));
  }
  if (file.substr(0, kMagic.size()) != kMagic) {
    return absl::DataLossError("not a duijie snapshot (bad magic)");
  }
  const char* p = file.data();
  if (GetU32(p + kHeaderBytes - 4) != Crc32(file.substr(0, kHeaderBytes - 4))) {
    return absl::DataLossError("header checksum mismatch");
  }
  const uint32_t version = GetU32(p + 8);
  if (version != kFormatVersion) {
    return absl::DataLossError(
        absl::StrCat("unsupported snapshot format version ", version));
  }
  *seq = GetU64(p + 12);
  const uint64_t length = GetU64(p + 20);
  if (length != file.size() - kHeaderBytes) {
    return absl::DataLossError(absl::StrCat(
        "truncated: the header promises ", length,
        " bytes of state, the file has ", file.size() - kHeaderBytes));
  }
  absl::string_view state = file.substr(kHeaderBytes);
  if (Crc32(state) != GetU32(p + 28)) {
    return absl::DataLossError("state checksum mismatch");
  }
  return std::string(state);
}

absl::Status WriteSnapshot(FileEnv* env, const std::string& dir, uint64_t seq,
                           absl::string_view state) {
  const std::string name = SnapshotFileName(seq);
  const std::string tmp =
      JoinPath(dir, absl::StrCat(name.substr(0, name.size() - 5), ".tmp"));
  const std::string path = JoinPath(dir, name);
  absl::Status status;
  {
    absl::StatusOr<std::unique_ptr<WritableFile>> file =
        env->NewWritableFile(tmp);
    if (!file.ok()) return file.status();
    status = (*file)->Append(EncodeSnapshot(seq, state));
    if (status.ok()) status = (*file)->Sync();
    absl::Status closed = (*file)->Close();
    if (status.ok()) status = closed;
  }
  if (status.ok()) status = env->RenameFile(tmp, path);
  if (status.ok()) status = env->SyncDir(dir);
  if (!status.ok()) {
    env->RemoveFile(tmp).IgnoreError();
    return absl::Status(status.code(), absl::StrCat("snapshot at seq ", seq,
                                                    ": ", status.message()));
  }
  return absl::OkStatus();
}

absl::Status PruneSnapshots(FileEnv* env, const std::string& dir,
                            FileJournal* journal) {
  absl::StatusOr<std::vector<std::string>> names = env->ListDir(dir);
  if (!names.ok()) return names.status();
  std::vector<uint64_t> seqs;
  for (const std::string& name : *names) {
    uint64_t seq;
    if (ParseSnapshotFileName(name, &seq)) seqs.push_back(seq);
  }
  if (seqs.size() < kKeepSnapshots) {
    return absl::OkStatus();
  }
  std::sort(seqs.begin(), seqs.end());
  const size_t first_kept = seqs.size() - kKeepSnapshots;
  absl::Status status;
  for (size_t i = 0; i < first_kept; ++i) {
    absl::Status s = env->RemoveFile(JoinPath(dir, SnapshotFileName(seqs[i])));
    if (!s.ok() && status.ok()) status = s;
  }
  if (first_kept > 0) {
    absl::Status s = env->SyncDir(dir);
    if (!s.ok() && status.ok()) status = s;
  }
  if (journal != nullptr) {
    // Replay from the oldest kept snapshot needs records after its seq.
    absl::Status s = journal->RemoveSegmentsBefore(seqs[first_kept] + 1);
    if (!s.ok() && status.ok()) status = s;
  }
  return status;
}

// --- Snapshotter ------------------------------------------------------------

Snapshotter::Snapshotter(FileEnv* env, std::string dir, FileJournal* journal)
    : env_(env), dir_(std::move(dir)), journal_(journal) {}

Snapshotter::~Snapshotter() {
  Wait();
  std::thread thread;
  {
    absl::MutexLock lock(&mu_);
    thread = std::move(thread_);
  }
  if (thread.joinable()) thread.join();
}

bool Snapshotter::busy() const {
  absl::MutexLock lock(&mu_);
  return in_flight_ > 0;
}

void Snapshotter::Start(uint64_t seq, std::string state,
                        std::function<void(absl::Status)> done) {
  auto shared = std::make_shared<std::string>(std::move(state));
  Start(
      seq,
      [shared]() -> absl::StatusOr<std::string> { return std::move(*shared); },
      std::move(done));
}

void Snapshotter::Start(uint64_t seq, StateSource state,
                        std::function<void(absl::Status)> done) {
  absl::MutexLock lock(&mu_);
  ++in_flight_;
  std::thread previous = std::move(thread_);
  thread_ = std::thread([this, seq, previous = std::move(previous),
                         state = std::move(state),
                         done = std::move(done)]() mutable {
    if (previous.joinable()) previous.join();
    absl::Status status;
    {
      absl::StatusOr<std::string> bytes = state();
      status = bytes.status();
      if (status.ok()) status = WriteSnapshot(env_, dir_, seq, *bytes);
    }
    if (status.ok()) status = PruneSnapshots(env_, dir_, journal_);
    if (!status.ok()) {
      std::fprintf(stderr, "duijie-server: %s\n", status.ToString().c_str());
    }
    {
      absl::MutexLock lock(&mu_);
      last_status_ = status;
      if (status.ok()) last_seq_ = std::max(last_seq_, seq);
    }
    if (done) done(status);
    absl::MutexLock lock(&mu_);
    --in_flight_;
  });
}

void Snapshotter::Wait() {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return in_flight_ == 0;
  };
  mu_.Await(absl::Condition(&idle));
}

absl::Status Snapshotter::last_status() const {
  absl::MutexLock lock(&mu_);
  return last_status_;
}

uint64_t Snapshotter::last_seq() const {
  absl::MutexLock lock(&mu_);
  return last_seq_;
}

}  // namespace duijie
