// StateImage. See state_image.h.
#include "api/state_image.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace duijie {
namespace {

// Writes all of [data, data + size) to `fd`; false on error.
bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// Reads up to `size` bytes into `data`, stopping early only at the end of
// the stream or an error; returns how many were read.
size_t ReadUpTo(int fd, char* data, size_t size) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = read(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

// The child: serializes, writes the length (8 bytes, little-endian on
// the machines we run on: the parent is the same process image) and the
// bytes, and exits without running anything of the parent's (no atexit
// handlers, no destructors, no stdio flush).
[[noreturn]] void ChildMain(const Engine& engine, int fd) {
  const std::string state = engine.SaveState();
  const uint64_t size = state.size();
  const bool ok =
      WriteAll(fd, reinterpret_cast<const char*>(&size), sizeof(size)) &&
      WriteAll(fd, state.data(), state.size());
  _exit(ok ? 0 : 2);
}

}  // namespace

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
const bool StateImage::kForks = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
const bool StateImage::kForks = false;
#else
const bool StateImage::kForks = true;
#endif
#else
const bool StateImage::kForks = true;
#endif

absl::StatusOr<StateImage> StateImage::Capture(const Engine& engine) {
  if (!kForks) {
    const absl::Time start = absl::Now();
    std::string bytes = engine.SaveState();
    return StateImage(std::move(bytes), absl::Now() - start);
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(
        absl::StrCat("state image: pipe: ", std::strerror(errno)));
  }
  const absl::Time start = absl::Now();
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    ChildMain(engine, fds[1]);
  }
  const absl::Duration fork_time = absl::Now() - start;
  const int fork_errno = errno;
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    return absl::InternalError(
        absl::StrCat("state image: fork: ", std::strerror(fork_errno)));
  }
  return StateImage(pid, fds[0], fork_time);
}

StateImage::StateImage(StateImage&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      fd_(std::exchange(other.fd_, -1)),
      serialized_(std::exchange(other.serialized_, false)),
      bytes_(std::move(other.bytes_)),
      fork_time_(other.fork_time_) {}

StateImage& StateImage::operator=(StateImage&& other) noexcept {
  if (this != &other) {
    Reset();
    pid_ = std::exchange(other.pid_, -1);
    fd_ = std::exchange(other.fd_, -1);
    serialized_ = std::exchange(other.serialized_, false);
    bytes_ = std::move(other.bytes_);
    fork_time_ = other.fork_time_;
  }
  return *this;
}

StateImage::~StateImage() { Reset(); }

void StateImage::Reset() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  pid_ = -1;
}

absl::StatusOr<std::string> StateImage::Read() {
  if (serialized_) {
    serialized_ = false;
    return std::move(bytes_);
  }
  if (pid_ <= 0) return absl::InternalError("state image: already read");
  // The length first, then the bytes into a string of that size.
  uint64_t size = 0;
  const size_t got_size =
      ReadUpTo(fd_, reinterpret_cast<char*>(&size), sizeof(size));
  std::string bytes;
  size_t got = 0;
  if (got_size == sizeof(size)) {
    bytes.resize(size);
    got = ReadUpTo(fd_, bytes.data(), size);
  }
  close(fd_);
  fd_ = -1;
  int status = 0;
  pid_t reaped;
  while ((reaped = waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
  }
  const pid_t pid = pid_;
  pid_ = -1;
  if (reaped != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(
        "state image: the child serializing the state failed (wait status ",
        status, ")"));
  }
  if (got_size != sizeof(size) || got != size) {
    return absl::InternalError(
        absl::StrCat("state image: the child wrote ", got, " bytes of ", size));
  }
  return bytes;
}

}  // namespace duijie
