// Makes the synchronization of Debian's prebuilt Abseil visible to
// ThreadSanitizer. Linked into every binary of a DUIJIE_TSAN build only.
//
// Why: absl::Mutex, absl::CondVar and absl::Notification are compiled into
// libabsl_synchronization.so, which Debian builds without TSan. Their locks
// are atomics and futex calls TSan never sees, so every access guarded by
// an absl::Mutex would look like a data race (and gRPC's own locks are
// absl::Mutex too). Abseil has TSan annotations for exactly this, but they
// are compiled in only when Abseil itself is built with TSan.
//
// How: this file defines the out-of-line members the code calls (the
// declarations are in absl/synchronization/*.h). A definition in the
// executable takes precedence over the shared library's for every caller,
// gRPC's included (the dynamic linker's symbol interposition). Each calls
// the library's own definition (found with dlsym(RTLD_NEXT)) and tells TSan
// the happens-before edge that definition makes: a release of the lock
// object before an unlock (and before Await or a CondVar wait, which
// unlock while waiting), an acquire after a lock is taken (and after a wait
// returns holding it again), both around each evaluation of a Condition;
// for a Notification, a release before Notify and an acquire once a wait
// has seen it (HasBeenNotified, inline and unused here, is not covered).
// Nothing else changes: the locking itself is still Abseil's.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/base/options.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

#ifndef ABSL_OPTION_INLINE_NAMESPACE_NAME
#error \
    "this file assumes Abseil's inline namespace (ABSL_OPTION_USE_INLINE_NAMESPACE)"
#endif
#define DUIJIE_STR2(x) #x
#define DUIJIE_STR(x) DUIJIE_STR2(x)

namespace {

// The library's definition of the member whose Itanium-mangled name is
// "_ZN4absl" + <inline namespace> + `rest` ("_ZNK" for const members).
template <typename Fn>
Fn Real(const char* rest, bool is_const = false) {
  const char* ns = DUIJIE_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  const std::string name = std::string(is_const ? "_ZNK4absl" : "_ZN4absl") +
                           std::to_string(std::strlen(ns)) + ns + rest;
  void* fn = dlsym(RTLD_NEXT, name.c_str());
  if (fn == nullptr) {
    std::fprintf(stderr, "tsan_absl_hooks: %s not found: %s\n", name.c_str(),
                 dlerror());
    std::abort();
  }
  return reinterpret_cast<Fn>(fn);
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

// --- Mutex: taking and releasing --------------------------------------------

#define DUIJIE_LOCKING(Name, Mangled)                         \
  void Mutex::Name() {                                        \
    static const auto real = Real<void (*)(Mutex*)>(Mangled); \
    real(this);                                               \
    __tsan_acquire(this);                                     \
  }
#define DUIJIE_TRYING(Name, Mangled)                          \
  bool Mutex::Name() {                                        \
    static const auto real = Real<bool (*)(Mutex*)>(Mangled); \
    const bool taken = real(this);                            \
    if (taken) __tsan_acquire(this);                          \
    return taken;                                             \
  }
#define DUIJIE_UNLOCKING(Name, Mangled)                       \
  void Mutex::Name() {                                        \
    static const auto real = Real<void (*)(Mutex*)>(Mangled); \
    __tsan_release(this);                                     \
    real(this);                                               \
  }

DUIJIE_LOCKING(Lock, "5Mutex4LockEv")
DUIJIE_LOCKING(ReaderLock, "5Mutex10ReaderLockEv")
DUIJIE_TRYING(TryLock, "5Mutex7TryLockEv")
DUIJIE_TRYING(ReaderTryLock, "5Mutex13ReaderTryLockEv")
DUIJIE_UNLOCKING(Unlock, "5Mutex6UnlockEv")
DUIJIE_UNLOCKING(ReaderUnlock, "5Mutex12ReaderUnlockEv")

// --- Mutex: conditions ----------------------------------------------------
//
// Abseil evaluates a waiter's Condition under the lock, but inside its own
// code and often on another thread (the one unlocking). So each condition
// is wrapped: its evaluation acquires the mutex before and releases it
// after, which orders it with the lock holders before and after it.

namespace {

struct Wrapped {
  const Condition* cond;
  Mutex* mu;
};

bool EvalWrapped(void* arg) {
  // The wrapper lives on the waiter's stack and may be read by another
  // thread: the waiter released it once it was written.
  __tsan_acquire(arg);
  const Wrapped* w = static_cast<const Wrapped*>(arg);
  __tsan_acquire(w->mu);
  const bool met = w->cond->Eval();
  __tsan_release(w->mu);
  return met;
}

}  // namespace

#define DUIJIE_WRAPPED    \
  Wrapped w{&cond, this}; \
  __tsan_release(&w);     \
  const Condition wrapped(&EvalWrapped, &w)

void Mutex::LockWhen(const Condition& cond) {
  static const auto real = Real<void (*)(Mutex*, const Condition&)>(
      "5Mutex8LockWhenERKNS0_9ConditionE");
  DUIJIE_WRAPPED;
  real(this, wrapped);
  __tsan_acquire(this);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  static const auto real = Real<void (*)(Mutex*, const Condition&)>(
      "5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  DUIJIE_WRAPPED;
  real(this, wrapped);
  __tsan_acquire(this);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration d) {
  static const auto real =
      Real<bool (*)(Mutex*, const Condition&, absl::Duration)>(
          "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  DUIJIE_WRAPPED;
  const bool met = real(this, wrapped, d);
  __tsan_acquire(this);  // held either way
  return met;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time t) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  DUIJIE_WRAPPED;
  const bool met = real(this, wrapped, t);
  __tsan_acquire(this);
  return met;
}

void Mutex::Await(const Condition& cond) {
  static const auto real = Real<void (*)(Mutex*, const Condition&)>(
      "5Mutex5AwaitERKNS0_9ConditionE");
  __tsan_release(this);
  DUIJIE_WRAPPED;
  real(this, wrapped);
  __tsan_acquire(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration d) {
  static const auto real =
      Real<bool (*)(Mutex*, const Condition&, absl::Duration)>(
          "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  __tsan_release(this);
  DUIJIE_WRAPPED;
  const bool met = real(this, wrapped, d);
  __tsan_acquire(this);
  return met;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time t) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  __tsan_release(this);
  DUIJIE_WRAPPED;
  const bool met = real(this, wrapped, t);
  __tsan_acquire(this);
  return met;
}

// --- CondVar: a wait unlocks and relocks the mutex --------------------------

void CondVar::Wait(Mutex* mu) {
  static const auto real =
      Real<void (*)(CondVar*, Mutex*)>("7CondVar4WaitEPNS0_5MutexE");
  __tsan_release(mu);
  real(this, mu);
  __tsan_acquire(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration d) {
  static const auto real = Real<bool (*)(CondVar*, Mutex*, absl::Duration)>(
      "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  __tsan_release(mu);
  const bool timed_out = real(this, mu, d);
  __tsan_acquire(mu);
  return timed_out;
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time t) {
  static const auto real = Real<bool (*)(CondVar*, Mutex*, absl::Time)>(
      "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  __tsan_release(mu);
  const bool timed_out = real(this, mu, t);
  __tsan_acquire(mu);
  return timed_out;
}

// --- Notification
// -------------------------------------------------------------

void Notification::Notify() {
  static const auto real =
      Real<void (*)(Notification*)>("12Notification6NotifyEv");
  __tsan_release(this);
  real(this);
}

void Notification::WaitForNotification() const {
  static const auto real = Real<void (*)(const Notification*)>(
      "12Notification19WaitForNotificationEv", /*is_const=*/true);
  real(this);
  __tsan_acquire(const_cast<Notification*>(this));
}

bool Notification::WaitForNotificationWithTimeout(
    absl::Duration timeout) const {
  static const auto real = Real<bool (*)(const Notification*, absl::Duration)>(
      "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE",
      /*is_const=*/true);
  const bool notified = real(this, timeout);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(absl::Time deadline) const {
  static const auto real = Real<bool (*)(const Notification*, absl::Time)>(
      "12Notification31WaitForNotificationWithDeadlineENS0_4TimeE",
      /*is_const=*/true);
  const bool notified = real(this, deadline);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

ABSL_NAMESPACE_END
}  // namespace absl
