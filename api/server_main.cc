// duijie-server: serves duijie.v1.Exchange (plus grpc.health.v1 and server
// reflection) on --listen until SIGINT or SIGTERM, then shuts down
// gracefully (finishing calls in flight, then a final snapshot when
// durable) and exits 0. With --demo it loads the demo data first.
//
// With --data_dir it is durable: it recovers the directory's state at
// start, journals every command before replying, and snapshots on schedule
// and at shutdown (api/durable_store.h). A failed journal write or fsync aborts
// the process, so nothing that was not made durable is acknowledged.
//
// Prints "duijie-server listening on HOST:PORT" (the bound port, also when
// --listen asks for port 0) on stdout once it serves. Exits 1 with a
// message on stderr when it cannot start: it cannot listen, or the data
// directory cannot be used (DATA_LOSS: the journal or snapshots are
// damaged; the message names the file and offset, and --repair is the way
// on).
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/log_limit.h"
#include "api/server.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "address to serve on, host:port; port 0 picks a free port");
ABSL_FLAG(bool, demo, false,
          "load the demo data (regions, pairings, offers, pledges) at start; "
          "with --data_dir, only into an empty data directory");
ABSL_FLAG(std::string, data_dir, "",
          "directory for the journal and snapshots (created if its parent "
          "exists); empty: keep everything in memory");
ABSL_FLAG(bool, fsync, true,
          "fdatasync each group of commands before replying; false risks "
          "the last moments on a machine crash (not on a process crash)");
ABSL_FLAG(uint64_t, snapshot_every, 1000000,
          "write a snapshot after this many journal records (0: never by "
          "count)");
ABSL_FLAG(absl::Duration, snapshot_interval, absl::Minutes(10),
          "write a snapshot this long after the last one if commands came "
          "since (0: never by time)");
ABSL_FLAG(absl::Duration, clearing_interval, absl::InfiniteDuration(),
          "match by batch clearing at every multiple of this interval "
          "(whole seconds, up to 168h; e.g. 1h), or continuously (0), "
          "every product without a clearing policy of its own "
          "(SetClearingPolicy); journaled when it changes. Not given (inf): "
          "the data directory's policies stand (continuous in a new one)");
ABSL_FLAG(absl::Duration, alert_horizon, absl::InfiniteDuration(),
          "glut alerts: how far ahead of its expiry produce counts as at "
          "risk (whole seconds, 1h to 720h; e.g. 72h), for every category "
          "without thresholds of its own (SetAlertThresholds); journaled "
          "when it changes. Not given (inf): the state's stands (72h in a "
          "new one)");
ABSL_FLAG(int64_t, alert_min_gap_kg, -1,
          "glut alerts: raised when at-risk kg exceed compatible demand by "
          "at least this many kg (and the ratio); WARNING at 2x, CRITICAL "
          "at 4x. Not given (-1): the state's stands (1000 in a new one)");
ABSL_FLAG(int64_t, alert_min_ratio_permille, -1,
          "glut alerts: raised only when at-risk kg x 1000 >= demand kg x "
          "this (>= 1000). Not given (-1): the state's stands (1500 in a new "
          "one)");
ABSL_FLAG(int64_t, alert_clear_permille, -1,
          "glut alerts: cleared when the gap falls below min_gap_kg x this / "
          "1000 (0..1000). Not given (-1): the state's stands (500 in a new "
          "one)");
ABSL_FLAG(std::string, follow_alerts, "auto",
          "true: judge glut alerts on a thread beside the writer, from what "
          "the writer records of each group (the same alerts, a group's "
          "before its replies); false: the writer judges them as each "
          "command applies; auto: true when the machine has 4 or more "
          "cores (on 2, gRPC's threads need the second core more)");
ABSL_FLAG(uint64_t, journal_segment_mb, 64,
          "start a new journal segment once the current one reaches this "
          "many MiB");
ABSL_FLAG(absl::Duration, request_id_window, absl::Hours(24),
          "remember each request_id (and its first answer) at least this "
          "long; the newest million are kept whatever their age. Keep it "
          "the same across restarts of one data directory");
ABSL_FLAG(absl::Duration, min_offer_lead, absl::Hours(1),
          "refuse an offer (or an amendment of its expiry) that expires "
          "sooner than this after now: its goods could not be matched and "
          "shipped before they spoil (1h: the shortest ship_within an offer "
          "may give; 0: only \"after now\"). Journals replay as they were "
          "whatever it is");
ABSL_FLAG(int32_t, max_message_bytes, 4 << 20,
          "largest message received or sent, in bytes (a Submit reply over "
          "it ends the stream: send smaller batches)");
ABSL_FLAG(int32_t, max_batch, 10000,
          "most commands in one Submit request; a request over it fails "
          "whole (RESOURCE_EXHAUSTED), nothing applied");
ABSL_FLAG(int32_t, watch_buffer, 10000,
          "most events queued for one WatchMatches or WatchAlerts stream; a "
          "client that falls further behind is ended (RESOURCE_EXHAUSTED) "
          "and resumes with after_event_id");
ABSL_FLAG(absl::Duration, watch_heartbeat, absl::Seconds(10),
          "send a heartbeat to a live WatchMatches or WatchAlerts stream "
          "that asked for progress events and has sent nothing for this "
          "long; 0: never");
ABSL_FLAG(int64_t, submit_buffer_bytes, int64_t{8} << 20,
          "reply bytes one Submit stream may hold unwritten before it stops "
          "reading requests (back-pressure on a client that does not read)");
ABSL_FLAG(int64_t, max_memory_bytes, int64_t{1} << 30,
          "memory gRPC may use for connections and calls (a resource quota; "
          "under pressure it shrinks buffers and refuses new streams)");
ABSL_FLAG(int32_t, fd_reserve, 256,
          "descriptors kept free of connections (a quarter of the limit when "
          "less); connections past that are closed at once. The descriptor "
          "limit is raised to its hard limit at start");
ABSL_FLAG(int32_t, max_concurrent_streams, 1000,
          "most concurrent calls on one connection");
ABSL_FLAG(absl::Duration, max_connection_idle, absl::Minutes(10),
          "close a connection that has had no call for this long (clients "
          "reconnect on their next call); 0: never");
ABSL_FLAG(absl::Duration, handshake_timeout, absl::Seconds(10),
          "close a connection that has not completed its handshake this long "
          "after it was accepted (idle sockets)");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain: serve TLS (with --tls_key); empty: "
          "plaintext");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle: require every client to present a certificate "
          "that chains to it (mutual TLS; needs --tls_cert)");
ABSL_FLAG(bool, repair, false,
          "when the journal is corrupt (a bad record followed by good ones), "
          "truncate it at the damage, after logging what is lost, instead "
          "of refusing to start");

ABSL_FLAG(std::string, admin_key_file, "",
          "file whose first line is the bootstrap ADMIN key's secret "
          "(principal \"admin\"); made with a new random secret, mode 0600, "
          "when missing. Default: <data_dir>/admin.key");
ABSL_FLAG(bool, insecure_no_auth, false,
          "serve without authentication: every call acts as ADMIN. For local "
          "experiments only");
ABSL_FLAG(uint64_t, max_open_orders, 100000,
          "open orders one supplier or buyer may have on each side; a post "
          "beyond it is RESOURCE_EXHAUSTED (0: no limit)");
ABSL_FLAG(double, rate_per_key, 10000,
          "commands (and reads) per second one key may send, sustained "
          "(0: no limit)");
ABSL_FLAG(double, burst_per_key, 20000,
          "commands one key may send at once before rate_per_key applies");
ABSL_FLAG(int32_t, max_streams_per_key, 16,
          "WatchMatches and Submit streams one key may hold open (0: no "
          "limit)");

namespace {

// The bootstrap admin secret from `path`'s first line, or a new one written
// there (mode 0600, never overwriting a file that appeared meanwhile).
absl::StatusOr<std::string> LoadOrMakeAdminKey(const std::string& path,
                                               bool* made) {
  *made = false;
  std::ifstream in(path);
  if (in) {
    std::string line;
    std::getline(in, line);
    std::string secret(absl::StripAsciiWhitespace(line));
    if (secret.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--admin_key_file ", path,
                       ": the first line is empty; put a secret there or "
                       "remove the file to have one made"));
    }
    return secret;
  }
  const std::string secret = duijie::NewSecret();
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--admin_key_file ", path, ": cannot create: ", strerror(errno)));
  }
  const std::string line = secret + "\n";
  const bool written = write(fd, line.data(), line.size()) ==
                           static_cast<ssize_t>(line.size()) &&
                       fsync(fd) == 0;
  close(fd);
  if (!written) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--admin_key_file ", path, ": cannot write: ", strerror(errno)));
  }
  *made = true;
  return secret;
}

// The state hash and snapshots fork the process (api/state_image.h), and
// fork copies the page tables: on a VM about 10 ms per 100 MB of heap in
// 4 KiB pages, 50x less in 2 MiB ones. glibc's malloc asks for transparent
// huge pages only when told at start (GLIBC_TUNABLES), so the server sets
// that and executes itself again, once (DUIJIE_REEXECUTED marks the
// second run, should the loader drop the setting). GLIBC_TUNABLES naming
// glibc.malloc.hugetlb (e.g. =0) keeps the caller's choice.
void ReexecWithHugePageHeap(char** argv) {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if ((tunables != nullptr &&
       std::strstr(tunables, "glibc.malloc.hugetlb") != nullptr) ||
      std::getenv("DUIJIE_REEXECUTED") != nullptr) {
    unsetenv("DUIJIE_REEXECUTED");
    return;
  }
  setenv("DUIJIE_REEXECUTED", "1", 1);
  const std::string value =
      tunables == nullptr || *tunables == '\0'
          ? std::string("glibc.malloc.hugetlb=1")
          : absl::StrCat(tunables, ":glibc.malloc.hugetlb=1");
  setenv("GLIBC_TUNABLES", value.c_str(), 1);
  execv("/proc/self/exe", argv);
  // Could not: go on as we are (forks pause the writer longer).
  unsetenv("DUIJIE_REEXECUTED");
}

}  // namespace

int main(int argc, char** argv) {
  ReexecWithHugePageHeap(argv);
  // --help lists the flags of the file that defines them (by default
  // Abseil looks for a file named like the program, which this is not).
  absl::FlagsUsageConfig usage;
  // (Abseil asks with the file name normalize_filename below made.)
  usage.contains_help_flags = [](absl::string_view file) {
    return file == "duijie-server" || absl::StrContains(file, "server_main");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  // The heading names the program, not the build's relative source path.
  usage.normalize_filename = [](absl::string_view file) -> std::string {
    return absl::StrContains(file, "server_main") ? "duijie-server"
                                                  : std::string(file);
  };
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(
      "the duijie matching exchange, over gRPC.\n"
      "Usage: duijie-server [--listen=127.0.0.1:50051] [--demo] "
      "[--data_dir=DIR [--fsync=false] [--snapshot_every=N] [--repair]] "
      "[--admin_key_file=PATH | --insecure_no_auth]");
  absl::ParseCommandLine(argc, argv);
  // Each connection holds a descriptor: take all the system allows (the
  // soft limit is often 1024 where the hard one is far higher).
  if (rlimit limit; getrlimit(RLIMIT_NOFILE, &limit) == 0 &&
                    limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  // Debian's Abseil is built without NDEBUG, so every absl::Mutex (gRPC's
  // included) would keep lock-order graphs for deadlock detection, about
  // 1.5 us of every unary call. Off, as in the echo baseline.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Before any thread logs: a flood of bad requests must not flood stderr.
  duijie::InstallRateLimitedLogging();

  // Block the shutdown signals in every thread (gRPC's threads inherit this
  // mask); the main thread waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  duijie::ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.demo = absl::GetFlag(FLAGS_demo);
  options.durability.dir = absl::GetFlag(FLAGS_data_dir);
  options.durability.fsync = absl::GetFlag(FLAGS_fsync);
  options.durability.snapshot_every_records =
      absl::GetFlag(FLAGS_snapshot_every);
  options.durability.snapshot_interval = absl::GetFlag(FLAGS_snapshot_interval);
  if (absl::GetFlag(FLAGS_clearing_interval) != absl::InfiniteDuration()) {
    options.clearing_interval = absl::GetFlag(FLAGS_clearing_interval);
  }
  if (absl::GetFlag(FLAGS_alert_horizon) != absl::InfiniteDuration()) {
    options.alert_horizon = absl::GetFlag(FLAGS_alert_horizon);
  }
  if (absl::GetFlag(FLAGS_alert_min_gap_kg) != -1) {
    options.alert_min_gap_kg = absl::GetFlag(FLAGS_alert_min_gap_kg);
  }
  if (absl::GetFlag(FLAGS_alert_min_ratio_permille) != -1) {
    options.alert_min_ratio_permille =
        absl::GetFlag(FLAGS_alert_min_ratio_permille);
  }
  if (absl::GetFlag(FLAGS_alert_clear_permille) != -1) {
    options.alert_clear_permille = absl::GetFlag(FLAGS_alert_clear_permille);
  }
  if (const std::string follow = absl::GetFlag(FLAGS_follow_alerts);
      follow == "auto") {
    options.follow_alerts = std::thread::hardware_concurrency() >= 4;
  } else if (follow == "true" || follow == "false") {
    options.follow_alerts = follow == "true";
  } else {
    std::fprintf(stderr,
                 "duijie-server: --follow_alerts must be auto, true or false, "
                 "not %s\n",
                 follow.c_str());
    return 1;
  }
  options.durability.segment_bytes =
      std::max<uint64_t>(1, absl::GetFlag(FLAGS_journal_segment_mb)) << 20;
  options.durability.repair = absl::GetFlag(FLAGS_repair);
  options.limits.fd_reserve = std::max(0, absl::GetFlag(FLAGS_fd_reserve));
  options.limits.max_concurrent_streams =
      std::max(1, absl::GetFlag(FLAGS_max_concurrent_streams));
  options.limits.max_connection_idle_ms = std::max<int64_t>(
      0, absl::ToInt64Milliseconds(absl::GetFlag(FLAGS_max_connection_idle)));
  options.limits.handshake_timeout_ms = std::max<int64_t>(
      1, absl::ToInt64Milliseconds(absl::GetFlag(FLAGS_handshake_timeout)));
  options.tls.cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls.key_file = absl::GetFlag(FLAGS_tls_key);
  options.tls.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  options.limits.max_message_bytes =
      std::max(1, absl::GetFlag(FLAGS_max_message_bytes));
  options.limits.max_batch = std::max(1, absl::GetFlag(FLAGS_max_batch));
  options.limits.watch_buffer = std::max(1, absl::GetFlag(FLAGS_watch_buffer));
  options.limits.watch_heartbeat_ms = std::max<int64_t>(
      0, absl::ToInt64Milliseconds(absl::GetFlag(FLAGS_watch_heartbeat)));
  options.limits.submit_buffer_bytes =
      std::max<int64_t>(1, absl::GetFlag(FLAGS_submit_buffer_bytes));
  options.limits.max_memory_bytes =
      std::max<int64_t>(1 << 20, absl::GetFlag(FLAGS_max_memory_bytes));
  options.durability.engine_options.request_id_window =
      absl::ToInt64Microseconds(absl::GetFlag(FLAGS_request_id_window));
  options.durability.engine_options.min_offer_lead = std::max<int64_t>(
      0, absl::ToInt64Microseconds(absl::GetFlag(FLAGS_min_offer_lead)));
  options.auth.enabled = !absl::GetFlag(FLAGS_insecure_no_auth);
  options.auth.max_open_orders = absl::GetFlag(FLAGS_max_open_orders);
  options.auth.rate_per_key = absl::GetFlag(FLAGS_rate_per_key);
  options.auth.burst_per_key = absl::GetFlag(FLAGS_burst_per_key);
  options.auth.max_streams_per_key = absl::GetFlag(FLAGS_max_streams_per_key);
  std::string key_file = absl::GetFlag(FLAGS_admin_key_file);
  if (key_file.empty() && !options.durability.dir.empty()) {
    // The directory may be new: make it as the store would, owner only.
    mkdir(options.durability.dir.c_str(), 0700);
    key_file = options.durability.dir + "/admin.key";
  }
  if (!options.auth.enabled) {
    std::fprintf(stderr,
                 "duijie-server: WARNING: --insecure_no_auth: every caller "
                 "acts as ADMIN without a key; for local experiments only\n");
  } else if (key_file.empty()) {
    std::fprintf(stderr,
                 "duijie-server: no --admin_key_file and no --data_dir: "
                 "nobody could ever call this server. Give "
                 "--admin_key_file=PATH (a secret is made there if missing), "
                 "or --insecure_no_auth for a local experiment\n");
    return 1;
  } else {
    bool made = false;
    absl::StatusOr<std::string> secret = LoadOrMakeAdminKey(key_file, &made);
    if (!secret.ok()) {
      std::fprintf(stderr, "duijie-server: %s\n",
                   std::string(secret.status().message()).c_str());
      return 1;
    }
    options.auth.admin_secret = *std::move(secret);
    std::fprintf(stderr, "duijie-server: admin key %s %s\n",
                 made ? "made and written to" : "read from", key_file.c_str());
  }
  absl::StatusOr<std::unique_ptr<duijie::DuijieServer>> server =
      duijie::DuijieServer::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "duijie-server: %s\n",
                 server.status().code() == absl::StatusCode::kDataLoss
                     ? server.status().ToString().c_str()
                     : std::string(server.status().message()).c_str());
    return 1;
  }
  if (duijie::DurableStore* store = (*server)->store()) {
    const duijie::RecoveryReport& r = store->report();
    std::fprintf(
        stderr,
        "duijie-server: data directory %s: %s; journal at %llu, fsync %s\n",
        options.durability.dir.c_str(),
        r.fresh
            ? "empty, starting fresh"
            : absl::StrCat("recovered from ",
                           r.snapshot_file.empty() ? "the journal alone"
                                                   : r.snapshot_file,
                           " (loaded in ", absl::FormatDuration(r.load_time),
                           ") + ", r.replayed_records, " journal records (",
                           absl::FormatDuration(r.replay_time), ")")
                  .c_str(),
        static_cast<unsigned long long>(r.last_seq),
        options.durability.fsync ? "on" : "off");
    if (options.demo && !r.fresh) {
      std::fprintf(stderr,
                   "duijie-server: --demo: the data directory already holds "
                   "state, so the demo data is not loaded again\n");
    }
  } else {
    std::fprintf(stderr,
                 "duijie-server: in memory (no --data_dir): nothing survives "
                 "a restart\n");
  }
  if (const auto& demo = (*server)->demo_summary()) {
    std::fprintf(stderr,
                 "duijie-server: demo data: %d regions, %d pairings, %d "
                 "products, %d offers, %d pledges, %d matches (%d already "
                 "loaded)\n",
                 demo->regions, demo->pairings, demo->products, demo->offers,
                 demo->pledges, demo->matches, demo->replayed);
  }
  const std::string host = options.listen.substr(0, options.listen.rfind(':'));
  if (!options.tls.enabled() && !duijie::IsLoopbackHost(host)) {
    std::fprintf(stderr,
                 "duijie-server: WARNING: serving plaintext on %s, which is "
                 "not a loopback address: anyone on the network can read and "
                 "forge calls; serve TLS with --tls_cert and --tls_key\n",
                 options.listen.c_str());
  } else if (options.tls.enabled()) {
    std::fprintf(stderr, "duijie-server: TLS%s\n",
                 options.tls.client_ca_file.empty()
                     ? ""
                     : ", clients must present a certificate (mutual TLS)");
  }
  std::printf("duijie-server listening on %s\n", (*server)->address().c_str());
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  std::fprintf(stderr, "duijie-server: %s, shutting down\n",
               strsignal(signal_number));
  (*server)->Shutdown();
  std::fprintf(stderr, "duijie-server: stopped\n");
  return 0;
}
