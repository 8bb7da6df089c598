// StateImage: the engine's state, serialized off the writer thread from a
// copy-on-write image of the process (fork(), as Redis does for its
// snapshots).
//
// Serializing the whole state (Engine::SaveState) takes about 0.1-0.3 s per
// million orders and matches; done on the writer thread it stops every
// command for that long. Capture instead forks: the child sees the engine
// exactly as it was between two groups, serializes it, writes the bytes to
// a pipe and exits, while the parent's writer goes on at once. The writer
// pauses only for fork() itself (copying the page tables: about 1-10 ms
// per GB resident). Pages the writer changes meanwhile are copied by the
// kernel, so memory grows by at most what changes while the child runs.
//
// The child runs only Engine::SaveState (no locks: the writer that owns the
// engine is the thread that forked), then write(2) and _exit(2). Should
// the parent die first, the child's write fails on the closed pipe and it
// exits.
//
// SaveState allocates, which is safe in the child only with an allocator
// that is fork-safe (glibc's is: it takes its locks around fork()). The
// AddressSanitizer and ThreadSanitizer allocators of Debian 12's compilers
// are not: a child forked while another thread holds the allocator's lock
// waits for it forever, and its parent with it. Builds with either
// sanitizer therefore serialize in the calling thread instead (kForks is
// false); the image behaves the same, only the writer pauses for the
// whole serialization.
#ifndef DUIJIE_API_STATE_IMAGE_H_
#define DUIJIE_API_STATE_IMAGE_H_

#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/engine.h"

namespace duijie {

class StateImage {
 public:
  // Whether Capture forks (false in sanitizer builds; see above).
  static const bool kForks;

  // Forks a child that writes `engine.SaveState()` to a pipe. Call where
  // nothing changes the engine (the writer thread between groups), and
  // only there. INTERNAL when pipe or fork fails.
  static absl::StatusOr<StateImage> Capture(const Engine& engine);

  StateImage(StateImage&& other) noexcept;
  StateImage& operator=(StateImage&& other) noexcept;
  StateImage(const StateImage&) = delete;
  StateImage& operator=(const StateImage&) = delete;
  // Kills and reaps the child if Read was not called.
  ~StateImage();

  // The state bytes, once the child has written them all; reaps the child.
  // Any thread; once. INTERNAL when the child failed or died.
  absl::StatusOr<std::string> Read();

  // How long fork() took (without a fork, the serialization): the
  // writer's pause.
  absl::Duration fork_time() const { return fork_time_; }

 private:
  StateImage(pid_t pid, int fd, absl::Duration fork_time)
      : pid_(pid), fd_(fd), fork_time_(fork_time) {}
  // Without a fork: the bytes, serialized already.
  StateImage(std::string bytes, absl::Duration time)
      : serialized_(true), bytes_(std::move(bytes)), fork_time_(time) {}
  void Reset();

  pid_t pid_ = -1;
  int fd_ = -1;
  bool serialized_ = false;  // bytes_ holds the state until Read
  std::string bytes_;
  absl::Duration fork_time_;
};

}  // namespace duijie

#endif  // DUIJIE_API_STATE_IMAGE_H_
