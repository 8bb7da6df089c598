// duijie-loadgen: drives a running duijie-server (or the echo baseline,
// duijie-echo-server) over gRPC with a standard workload file and reports
// commands per second, latency percentiles, errors by status code and the
// server's CPU time per command.
//
//   duijie-loadgen --server=127.0.0.1:PORT --workload=FILE
//       --mode=unary|submit|echo-unary|echo-stream --inflight=K --batch=B
//       [--commands=N | --seconds=S] [--server_pid=PID] [--json]
//
// Phases:
//   1. Load. The whole file is read and every message is serialized before
//      anything is sent, so the measured phase spends no client CPU on
//      encoding. Each order's expires_at is moved by (now - the first
//      record's at_micros), because the server stamps its own clock.
//   2. Prefill (not measured; real modes only). UpsertRegion and
//      UpsertPairing as unary calls, posts and cancels as Submit batches of
//      --prefill_batch, in file order.
//   3. Measured. unary: each record is its own RPC (PostOffer, PostPledge,
//      CancelOffer, CancelPledge, GetOffer, GetPledge, GetBook) with K calls
//      in flight on gRPC's callback API. submit: the posts and cancels packed
//      B to a SubmitRequest on one bidirectional Submit stream with K batches
//      in flight; the reads are skipped (Submit carries no reads) and
//      counted. echo-unary and echo-stream send the same number of messages
//      with the same serialized sizes to duijie.bench.echo.Echo; with
//      --response_sizes (written by a real run's --save_response_sizes)
//      each reply is as large as the real server's was.
//
// All modes use the generic (byte buffer) stub, so the client's cost per
// message is the same against the real server and the echo server; the
// real responses are not parsed, only scanned on the wire for per-command
// errors and match counts.

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "bench/echo/echo.pb.h"
#include "bench/workload.h"
#include "duijie/v1/exchange.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50051", "server address, host:port");
ABSL_FLAG(std::string, workload, "", "workload file (duijie-workload --out)");
ABSL_FLAG(std::string, mode, "unary",
          "unary | submit | echo-unary | echo-stream");
ABSL_FLAG(int, inflight, 64,
          "requests in flight: RPCs (unary modes) or batches (stream modes)");
ABSL_FLAG(int, batch, 100, "commands per SubmitRequest (stream modes)");
ABSL_FLAG(int64_t, commands, 0,
          "measured workload records to use; 0 = all in the file");
ABSL_FLAG(double, seconds, 0,
          "stop sending after this many seconds; 0 = no limit");
ABSL_FLAG(int, server_pid, 0,
          "pid of the server process, to report its CPU time per command");
ABSL_FLAG(bool, json, false, "print one JSON object instead of text");
ABSL_FLAG(
    std::string, prefill, "auto",
    "auto (submit for real modes, none for echo) | submit | unary | none");
ABSL_FLAG(int, prefill_batch, 1000, "commands per Submit batch in prefill");
ABSL_FLAG(std::string, key_file, "",
          "file whose first line is the API key sent with every call (an "
          "ADMIN key: the workload posts for every party); empty: none");
ABSL_FLAG(int, channels, 1,
          "gRPC channels (TCP connections); unary calls spread over them");
ABSL_FLAG(double, timeout, 300,
          "deadline in seconds of each unary call and of each stream");
ABSL_FLAG(int, repeat, 1,
          "echo modes only: send the measured messages this many times (the "
          "echo server keeps no state), to run long enough to measure");
ABSL_FLAG(std::string, save_response_sizes, "",
          "real modes: write each measured response's size (bytes, one a "
          "line, in message order) to this file");
ABSL_FLAG(std::string, response_sizes, "",
          "echo modes: a --save_response_sizes file; each echo reply is then "
          "as large as the real response was (default: the request echoed)");

namespace duijie::loadgen {
namespace {

// "Bearer <secret>" from --key_file, sent as `authorization` metadata.
std::string g_authorization;

void Authorize(grpc::ClientContext* context) {
  if (!g_authorization.empty()) {
    context->AddMetadata("authorization", g_authorization);
  }
}

namespace pb = google::protobuf;
using WireFormatLite = pb::internal::WireFormatLite;

// Method paths. Messages point at these arrays, so a method compares by
// address.
constexpr char kUpsertRegion[] = "/duijie.v1.Exchange/UpsertRegion";
constexpr char kUpsertPairing[] = "/duijie.v1.Exchange/UpsertPairing";
constexpr char kPostOffer[] = "/duijie.v1.Exchange/PostOffer";
constexpr char kPostPledge[] = "/duijie.v1.Exchange/PostPledge";
constexpr char kCancelOffer[] = "/duijie.v1.Exchange/CancelOffer";
constexpr char kCancelPledge[] = "/duijie.v1.Exchange/CancelPledge";
constexpr char kGetOffer[] = "/duijie.v1.Exchange/GetOffer";
constexpr char kGetPledge[] = "/duijie.v1.Exchange/GetPledge";
constexpr char kGetBook[] = "/duijie.v1.Exchange/GetBook";
constexpr char kSubmit[] = "/duijie.v1.Exchange/Submit";
constexpr char kEcho[] = "/duijie.bench.echo.Echo/Echo";
constexpr char kEchoStream[] = "/duijie.bench.echo.Echo/EchoStream";

constexpr int kCodes = 18;  // grpc::StatusCode 0..16, and 17 for "other"

const char* CodeName(int code) {
  static const char* const kNames[kCodes] = {"OK",
                                             "CANCELLED",
                                             "UNKNOWN",
                                             "INVALID_ARGUMENT",
                                             "DEADLINE_EXCEEDED",
                                             "NOT_FOUND",
                                             "ALREADY_EXISTS",
                                             "PERMISSION_DENIED",
                                             "RESOURCE_EXHAUSTED",
                                             "FAILED_PRECONDITION",
                                             "ABORTED",
                                             "OUT_OF_RANGE",
                                             "UNIMPLEMENTED",
                                             "INTERNAL",
                                             "UNAVAILABLE",
                                             "DATA_LOSS",
                                             "UNAUTHENTICATED",
                                             "OTHER"};
  return kNames[code >= 0 && code < kCodes ? code : kCodes - 1];
}

int CodeIndex(int code) { return code >= 0 && code < kCodes - 1 ? code : 17; }

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t WallMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A log-linear histogram of nanosecond values, 32 buckets per power of two
// (at most ~3% error), safe to add to from many threads.
class Histogram {
 public:
  void Add(int64_t ns, uint64_t count = 1) {
    counts_[Index(ns < 0 ? 0 : static_cast<uint64_t>(ns))].fetch_add(
        count, std::memory_order_relaxed);
    total_.fetch_add(count, std::memory_order_relaxed);
    int64_t max = max_.load(std::memory_order_relaxed);
    while (ns > max && !max_.compare_exchange_weak(max, ns)) {
    }
  }

  uint64_t count() const { return total_.load(); }
  int64_t max() const { return max_.load(); }

  // The value at quantile q (0..1): the middle of its bucket, in ns.
  double Quantile(double q) const {
    const uint64_t total = count();
    if (total == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total));
    if (rank >= total) rank = total - 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i].load(std::memory_order_relaxed);
      if (seen > rank) return Middle(i);
    }
    return static_cast<double>(max());
  }

 private:
  static constexpr int kSubBits = 5;                   // 32 per power of two
  static constexpr uint64_t kLinear = 2u << kSubBits;  // 0..63 exact
  static constexpr size_t kBuckets = kLinear + (64 - kSubBits - 1) * 32;

  static size_t Index(uint64_t v) {
    if (v < kLinear) return static_cast<size_t>(v);
    const int e = 63 - __builtin_clzll(v);  // >= kSubBits + 1
    const uint64_t sub = (v >> (e - kSubBits)) - (1u << kSubBits);
    return kLinear + static_cast<size_t>(e - kSubBits - 1) * 32 + sub;
  }

  static double Middle(size_t i) {
    if (i < kLinear) return static_cast<double>(i);
    const size_t j = i - kLinear;
    const int e = static_cast<int>(j / 32) + kSubBits + 1;
    const uint64_t sub = j % 32;
    const double low =
        static_cast<double>(((1u << kSubBits) + sub) << (e - kSubBits));
    return low + static_cast<double>(uint64_t{1} << (e - kSubBits)) / 2;
  }

  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
  std::atomic<uint64_t> total_{0};
  std::atomic<int64_t> max_{0};
};

// One message to send: the method, the serialized request, and how many
// workload commands it carries (1 for a unary call, B for a batch).
struct Message {
  const char* method = nullptr;
  grpc::ByteBuffer bytes;
  uint32_t commands = 1;
};

grpc::ByteBuffer ToByteBuffer(const std::string& s) {
  grpc::Slice slice(s);
  return grpc::ByteBuffer(&slice, 1);
}

// What one phase (prefill or measured) saw. Updated from gRPC's threads.
struct Stats {
  Histogram latency;          // per RPC (unary) or per batch (stream)
  Histogram command_latency;  // per command: its RPC's or batch's latency
  std::array<std::atomic<uint64_t>, kCodes> rpc_codes{};      // RPC status
  std::array<std::atomic<uint64_t>, kCodes> command_codes{};  // per command
  std::atomic<uint64_t> rpcs{0};      // RPCs or batches answered
  std::atomic<uint64_t> commands{0};  // commands answered
  std::atomic<uint64_t> matches{0};   // Match entries seen in responses
  std::atomic<uint64_t> request_bytes{0};
  std::atomic<uint64_t> response_bytes{0};
  // Size of each message's response, by message index (when sized).
  std::vector<uint32_t> response_sizes;
  int64_t start_ns = 0;
  int64_t end_ns = 0;

  double Seconds() const { return (end_ns - start_ns) / 1e9; }
};

// Counts the `matches` (field 2) entries of a PostOfferResponse or
// PostPledgeResponse read from `in` up to its limit.
uint32_t CountMatches(pb::io::CodedInputStream* in) {
  uint32_t matches = 0;
  while (uint32_t tag = in->ReadTag()) {
    if (WireFormatLite::GetTagFieldNumber(tag) == 2) ++matches;
    if (!WireFormatLite::SkipField(in, tag)) break;
  }
  return matches;
}

// Reads a length-delimited field's body from `in` with `fn`.
template <typename Fn>
bool ReadNested(pb::io::CodedInputStream* in, Fn fn) {
  uint32_t length = 0;
  if (!in->ReadVarint32(&length)) return false;
  const auto limit = in->PushLimit(static_cast<int>(length));
  fn(in);
  in->Skip(in->BytesUntilLimit());
  in->PopLimit(limit);
  return true;
}

// Scans a serialized SubmitResponse on the wire: each CommandResult is
// counted under its error code (OK when it is not an error), and matches are
// counted, without building the message.
void ScanSubmitResponse(grpc::ByteBuffer* buffer, Stats* stats) {
  grpc::ProtoBufferReader reader(buffer);
  pb::io::CodedInputStream in(&reader);
  in.SetTotalBytesLimit(INT32_MAX);
  uint64_t matches = 0;
  while (uint32_t tag = in.ReadTag()) {
    if (WireFormatLite::GetTagFieldNumber(tag) != 2) {
      if (!WireFormatLite::SkipField(&in, tag)) break;
      continue;
    }
    int code = 0;
    ReadNested(&in, [&](pb::io::CodedInputStream* result) {
      while (uint32_t t = result->ReadTag()) {
        const int field = WireFormatLite::GetTagFieldNumber(t);
        if (field == 1 || field == 2) {
          ReadNested(result, [&](pb::io::CodedInputStream* r) {
            matches += CountMatches(r);
          });
        } else if (field == 5) {
          code = 2;  // UNKNOWN unless the error names its code
          ReadNested(result, [&](pb::io::CodedInputStream* error) {
            while (uint32_t e = error->ReadTag()) {
              if (WireFormatLite::GetTagFieldNumber(e) == 1) {
                uint32_t value = 0;
                if (error->ReadVarint32(&value)) code = static_cast<int>(value);
              } else if (!WireFormatLite::SkipField(error, e)) {
                break;
              }
            }
          });
        } else if (!WireFormatLite::SkipField(result, t)) {
          break;
        }
      }
    });
    stats->command_codes[CodeIndex(code)].fetch_add(1,
                                                    std::memory_order_relaxed);
  }
  stats->matches.fetch_add(matches, std::memory_order_relaxed);
}

// Counts the matches of a unary PostOffer or PostPledge response.
void ScanUnaryResponse(grpc::ByteBuffer* buffer, Stats* stats) {
  grpc::ProtoBufferReader reader(buffer);
  pb::io::CodedInputStream in(&reader);
  stats->matches.fetch_add(CountMatches(&in), std::memory_order_relaxed);
}

// Waits until a count of outstanding work drops to zero.
class Latch {
 public:
  explicit Latch(int count) : count_(count) {}
  void CountDown() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--count_ == 0) cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return count_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_;
};

struct RunOptions {
  int inflight = 64;
  int64_t stop_at_ns = 0;  // 0 = send everything
  double timeout_s = 300;
};

// Sends `messages` as unary calls, `inflight` at a time: each completion
// starts the next message, so no thread waits on a call.
class UnaryRunner {
 public:
  UnaryRunner(std::vector<std::unique_ptr<grpc::GenericStub>>* stubs,
              const std::vector<Message>* messages, const RunOptions& options,
              Stats* stats)
      : stubs_(stubs),
        messages_(messages),
        options_(options),
        stats_(stats),
        slots_(static_cast<size_t>(std::max(1, options.inflight))),
        latch_(static_cast<int>(slots_.size())) {}

  void Run() {
    stats_->start_ns = NowNs();
    for (size_t i = 0; i < slots_.size(); ++i) {
      slots_[i].stub = (*stubs_)[i % stubs_->size()].get();
      Issue(&slots_[i]);
    }
    latch_.Wait();
    stats_->end_ns = NowNs();
  }

 private:
  struct Slot {
    grpc::GenericStub* stub = nullptr;
    std::unique_ptr<grpc::ClientContext> context;
    grpc::ByteBuffer response;
    int64_t start_ns = 0;
    size_t index = 0;
  };

  void Issue(Slot* slot) {
    const size_t i = next_.fetch_add(1, std::memory_order_relaxed);
    if (i >= messages_->size() ||
        (options_.stop_at_ns != 0 && NowNs() >= options_.stop_at_ns)) {
      latch_.CountDown();
      return;
    }
    const Message& message = (*messages_)[i];
    slot->context = std::make_unique<grpc::ClientContext>();
    Authorize(slot->context.get());
    slot->context->set_deadline(std::chrono::system_clock::now() +
                                std::chrono::microseconds(static_cast<int64_t>(
                                    options_.timeout_s * 1e6)));
    slot->response.Clear();
    slot->index = i;
    slot->start_ns = NowNs();
    slot->stub->UnaryCall(
        slot->context.get(), message.method, grpc::StubOptions(),
        &message.bytes, &slot->response,
        [this, slot](grpc::Status status) { OnDone(slot, status); });
  }

  void OnDone(Slot* slot, const grpc::Status& status) {
    const int64_t latency = NowNs() - slot->start_ns;
    const Message& message = (*messages_)[slot->index];
    stats_->latency.Add(latency);
    stats_->command_latency.Add(latency);
    stats_->rpc_codes[CodeIndex(status.error_code())].fetch_add(1);
    stats_->command_codes[CodeIndex(status.error_code())].fetch_add(1);
    stats_->rpcs.fetch_add(1, std::memory_order_relaxed);
    stats_->commands.fetch_add(message.commands, std::memory_order_relaxed);
    stats_->request_bytes.fetch_add(message.bytes.Length(),
                                    std::memory_order_relaxed);
    if (status.ok()) {
      stats_->response_bytes.fetch_add(slot->response.Length(),
                                       std::memory_order_relaxed);
      if (slot->index < stats_->response_sizes.size()) {
        stats_->response_sizes[slot->index] = slot->response.Length();
      }
      if (message.method == kPostOffer || message.method == kPostPledge) {
        ScanUnaryResponse(&slot->response, stats_);
      }
    }
    Issue(slot);
  }

  std::vector<std::unique_ptr<grpc::GenericStub>>* stubs_;
  const std::vector<Message>* messages_;
  const RunOptions options_;
  Stats* stats_;
  std::vector<Slot> slots_;
  std::atomic<size_t> next_{0};
  Latch latch_;
};

// Sends `messages` on one bidirectional stream with at most `inflight`
// unanswered at a time, and matches answers to messages in order.
class StreamRunner final
    : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  StreamRunner(grpc::GenericStub* stub, const std::string& method,
               const std::vector<Message>* messages, const RunOptions& options,
               bool scan_submit, Stats* stats)
      : stub_(stub),
        method_(method),
        messages_(messages),
        options_(options),
        scan_submit_(scan_submit),
        stats_(stats),
        sent_at_(messages->size(), 0) {}

  // Runs the stream to its end; returns its final status.
  grpc::Status Run() {
    Authorize(&context_);
    context_.set_deadline(std::chrono::system_clock::now() +
                          std::chrono::microseconds(
                              static_cast<int64_t>(options_.timeout_s * 1e6)));
    stub_->PrepareBidiStreamingCall(&context_, method_, grpc::StubOptions(),
                                    this);
    stats_->start_ns = NowNs();
    StartRead(&response_);
    SendMore();
    StartCall();
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return done_; });
    stats_->end_ns = last_answer_ns_ != 0 ? last_answer_ns_ : NowNs();
    stats_->rpc_codes[CodeIndex(status_.error_code())].fetch_add(1);
    return status_;
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (!ok) {
        // The stream is broken; OnDone reports why.
        write_failed_ = true;
        return;
      }
    }
    SendMore();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the server finished the stream; OnDone follows
    const int64_t now = NowNs();
    const size_t i = answered_;  // only this reaction touches answered_
    const Message& message = (*messages_)[i];
    int64_t sent_at;
    {
      std::lock_guard<std::mutex> lock(mu_);
      sent_at = sent_at_[i];
    }
    const int64_t latency = now - sent_at;
    stats_->latency.Add(latency);
    stats_->command_latency.Add(latency, message.commands);
    stats_->rpcs.fetch_add(1, std::memory_order_relaxed);
    stats_->commands.fetch_add(message.commands, std::memory_order_relaxed);
    stats_->request_bytes.fetch_add(message.bytes.Length(),
                                    std::memory_order_relaxed);
    stats_->response_bytes.fetch_add(response_.Length(),
                                     std::memory_order_relaxed);
    if (i < stats_->response_sizes.size()) {
      stats_->response_sizes[i] = response_.Length();
    }
    if (scan_submit_) {
      ScanSubmitResponse(&response_, stats_);
    } else {
      stats_->command_codes[0].fetch_add(message.commands,
                                         std::memory_order_relaxed);
    }
    response_.Clear();
    {
      std::lock_guard<std::mutex> lock(mu_);
      answered_ = i + 1;
      last_answer_ns_ = now;
    }
    StartRead(&response_);
    SendMore();
  }

  void OnDone(const grpc::Status& status) override {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = status;
    done_ = true;
    done_cv_.notify_all();
  }

 private:
  // Starts the next write if none is outstanding and the window has room,
  // or half-closes the stream once everything is sent (or time is up).
  void SendMore() {
    const Message* to_send = nullptr;
    bool close = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (writing_ || closed_ || write_failed_) return;
      const bool time_up =
          options_.stop_at_ns != 0 && NowNs() >= options_.stop_at_ns;
      if (next_ >= messages_->size() || time_up) {
        closed_ = true;
        close = true;
      } else if (next_ - answered_ <
                 static_cast<size_t>(std::max(1, options_.inflight))) {
        writing_ = true;
        sent_at_[next_] = NowNs();
        to_send = &(*messages_)[next_];
        ++next_;
      }
    }
    if (close) {
      StartWritesDone();
    } else if (to_send != nullptr) {
      StartWrite(&to_send->bytes);
    }
  }

  grpc::GenericStub* stub_;
  const std::string method_;
  const std::vector<Message>* messages_;
  const RunOptions options_;
  const bool scan_submit_;
  Stats* stats_;
  grpc::ClientContext context_;
  grpc::ByteBuffer response_;

  std::mutex mu_;
  std::condition_variable done_cv_;
  std::vector<int64_t> sent_at_;
  size_t next_ = 0;      // next message to write
  size_t answered_ = 0;  // messages answered so far
  int64_t last_answer_ns_ = 0;
  bool writing_ = false;
  bool closed_ = false;
  bool write_failed_ = false;
  bool done_ = false;
  grpc::Status status_;
};

enum class Mode { kUnary, kSubmit, kEchoUnary, kEchoStream };

bool IsEcho(Mode mode) {
  return mode == Mode::kEchoUnary || mode == Mode::kEchoStream;
}
bool IsStream(Mode mode) {
  return mode == Mode::kSubmit || mode == Mode::kEchoStream;
}

// The payload length that makes a message of `fixed` bytes plus a bytes
// field of that payload serialize to `size` bytes, as close as protobuf
// allows (exact except at a few varint boundaries, off by one byte).
size_t PayloadFor(size_t size, size_t fixed) {
  size_t payload = 0;
  for (size_t varint = 1; varint <= 5; ++varint) {
    if (size < fixed + 1 + varint) break;
    payload = size - fixed - 1 - varint;
    if (pb::io::CodedOutputStream::VarintSize32(
            static_cast<uint32_t>(payload)) == varint) {
      break;
    }
  }
  return payload;
}

// Serializes an EchoRequest of (about) `size` bytes whose reply is
// `response_size` bytes serialized (0: the request echoed back).
std::string EchoBytes(size_t size, size_t response_size) {
  duijie::bench::echo::EchoRequest request;
  if (response_size > 0) {
    request.set_response_bytes(static_cast<int32_t>(
        std::max<size_t>(1, PayloadFor(response_size, 0))));
  }
  request.mutable_payload()->assign(PayloadFor(size, request.ByteSizeLong()),
                                    'x');
  return request.SerializeAsString();
}

// The workload turned into messages for one mode.
struct Plan {
  // Prefill, in file order: runs of unary calls and of Submit batches.
  struct Group {
    bool stream = false;
    std::vector<Message> messages;
  };
  std::vector<Group> prefill;
  std::vector<Message> measured;
  int64_t prefill_records = 0;
  int64_t measured_records = 0;
  int64_t skipped_reads = 0;  // submit modes: reads not sent
  int64_t time_shift_us = 0;
};

// Moves an order's expiry by `shift` microseconds.
void Shift(pb::Timestamp* t, int64_t shift) {
  const int64_t micros = t->seconds() * 1000000 + t->nanos() / 1000 + shift;
  t->set_seconds(micros / 1000000);
  t->set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
}

// Packs commands into SubmitRequests of at most `batch` commands.
class Batcher {
 public:
  Batcher(const char* prefix, int batch, std::vector<Message>* out)
      : prefix_(prefix), batch_(std::max(1, batch)), out_(out) {}

  v1::Command* Add() {
    if (request_.commands_size() >= batch_) Flush();
    return request_.add_commands();
  }

  void Flush() {
    if (request_.commands_size() == 0) return;
    request_.set_batch_id(absl::StrCat(prefix_, out_->size()));
    Message message;
    message.method = kSubmit;
    message.bytes = ToByteBuffer(request_.SerializeAsString());
    message.commands = static_cast<uint32_t>(request_.commands_size());
    out_->push_back(std::move(message));
    request_.Clear();
  }

 private:
  const char* prefix_;
  const int batch_;
  std::vector<Message>* out_;
  v1::SubmitRequest request_;
};

// Fills `command` from a post or cancel record; false for other records.
bool ToCommand(const duijie::bench::WorkloadRecord& record,
               v1::Command* command) {
  using R = duijie::bench::WorkloadRecord;
  switch (record.command_case()) {
    case R::kPostOffer:
      *command->mutable_post_offer() = record.post_offer();
      return true;
    case R::kPostPledge:
      *command->mutable_post_pledge() = record.post_pledge();
      return true;
    case R::kCancelOffer:
      *command->mutable_cancel_offer() = record.cancel_offer();
      return true;
    case R::kCancelPledge:
      *command->mutable_cancel_pledge() = record.cancel_pledge();
      return true;
    default:
      return false;
  }
}

// The method and serialized request of a record sent as a unary call.
Message ToUnary(const duijie::bench::WorkloadRecord& record) {
  using R = duijie::bench::WorkloadRecord;
  Message message;
  const pb::MessageLite* request = nullptr;
  switch (record.command_case()) {
    case R::kUpsertRegion:
      message.method = kUpsertRegion;
      request = &record.upsert_region();
      break;
    case R::kUpsertPairing:
      message.method = kUpsertPairing;
      request = &record.upsert_pairing();
      break;
    case R::kPostOffer:
      message.method = kPostOffer;
      request = &record.post_offer();
      break;
    case R::kPostPledge:
      message.method = kPostPledge;
      request = &record.post_pledge();
      break;
    case R::kCancelOffer:
      message.method = kCancelOffer;
      request = &record.cancel_offer();
      break;
    case R::kCancelPledge:
      message.method = kCancelPledge;
      request = &record.cancel_pledge();
      break;
    case R::kGetOffer:
      message.method = kGetOffer;
      request = &record.get_offer();
      break;
    case R::kGetPledge:
      message.method = kGetPledge;
      request = &record.get_pledge();
      break;
    case R::kGetBook:
      message.method = kGetBook;
      request = &record.get_book();
      break;
    case R::COMMAND_NOT_SET:
      return message;
  }
  message.bytes = ToByteBuffer(request->SerializeAsString());
  return message;
}

bool IsReference(const duijie::bench::WorkloadRecord& record) {
  return record.has_upsert_region() || record.has_upsert_pairing();
}

bool IsRead(const duijie::bench::WorkloadRecord& record) {
  return record.has_get_offer() || record.has_get_pledge() ||
         record.has_get_book();
}

struct PlanOptions {
  Mode mode = Mode::kUnary;
  int batch = 100;
  int64_t commands = 0;
  std::string prefill = "submit";  // submit | unary | none
  int prefill_batch = 1000;
  std::vector<uint32_t> response_sizes;  // echo modes: real reply sizes
  int repeat = 1;                        // echo modes only
};

// Reads the workload file and builds the plan. Streams the file, so memory
// holds only serialized messages.
bool BuildPlan(const std::string& path, const PlanOptions& options, Plan* plan,
               std::string* error) {
  duijie::bench::WorkloadReader reader;
  if (absl::Status status = reader.Open(path); !status.ok()) {
    *error = status.ToString();
    return false;
  }
  const bool echo = IsEcho(options.mode);
  const bool stream = IsStream(options.mode);
  const int64_t now_us = WallMicros();
  bool first = true;

  std::unique_ptr<Batcher> prefill_batcher;
  Batcher measured_batcher("m", options.batch, &plan->measured);
  duijie::bench::WorkloadRecord record;
  while (reader.Next(&record)) {
    if (first) {
      plan->time_shift_us = now_us - record.at_micros();
      first = false;
    }
    if (record.has_post_offer()) {
      Shift(record.mutable_post_offer()->mutable_offer()->mutable_expires_at(),
            plan->time_shift_us);
    } else if (record.has_post_pledge()) {
      Shift(
          record.mutable_post_pledge()->mutable_pledge()->mutable_expires_at(),
          plan->time_shift_us);
    }

    if (record.prefill()) {
      ++plan->prefill_records;
      if (echo || options.prefill == "none" || IsRead(record)) continue;
      const bool as_stream =
          options.prefill == "submit" && !IsReference(record);
      if (plan->prefill.empty() || plan->prefill.back().stream != as_stream) {
        if (prefill_batcher) prefill_batcher->Flush();
        prefill_batcher.reset();
        plan->prefill.emplace_back();
        plan->prefill.back().stream = as_stream;
        if (as_stream) {
          prefill_batcher = std::make_unique<Batcher>(
              "p", options.prefill_batch, &plan->prefill.back().messages);
        }
      }
      if (as_stream) {
        ToCommand(record, prefill_batcher->Add());
      } else {
        plan->prefill.back().messages.push_back(ToUnary(record));
      }
      continue;
    }

    if (options.commands > 0 && plan->measured_records >= options.commands) {
      break;
    }
    ++plan->measured_records;
    if (stream) {
      if (IsRead(record) || IsReference(record)) {
        ++plan->skipped_reads;
        continue;
      }
      ToCommand(record, measured_batcher.Add());
    } else {
      Message message = ToUnary(record);
      if (message.method != nullptr)
        plan->measured.push_back(std::move(message));
    }
  }
  if (!reader.status().ok()) {
    *error = reader.status().ToString();
    return false;
  }
  if (prefill_batcher) prefill_batcher->Flush();
  measured_batcher.Flush();

  // Echo modes: the same messages, as EchoRequests of the same sizes.
  if (echo) {
    const std::vector<uint32_t>& sizes = options.response_sizes;
    for (size_t i = 0; i < plan->measured.size(); ++i) {
      Message& message = plan->measured[i];
      message.method = stream ? kEchoStream : kEcho;
      message.bytes = ToByteBuffer(
          EchoBytes(message.bytes.Length(), i < sizes.size() ? sizes[i] : 0));
    }
    // Byte buffers share their slices, so the copies cost no payload memory.
    const size_t once = plan->measured.size();
    plan->measured.reserve(once * static_cast<size_t>(options.repeat));
    for (int r = 1; r < options.repeat; ++r) {
      for (size_t i = 0; i < once; ++i) {
        plan->measured.push_back(plan->measured[i]);
      }
    }
  }
  return true;
}

// utime + stime of a process, in seconds; negative when unreadable.
double ProcessCpuSeconds(int pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(stat, line)) return -1;
  const size_t paren = line.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(line.substr(paren + 2));
  std::vector<std::string> f;
  std::string token;
  while (fields >> token) f.push_back(token);
  // After "pid (comm) ", field 3 (state) is f[0]; utime is 14, stime 15.
  if (f.size() < 13) return -1;
  const double ticks = std::stod(f[11]) + std::stod(f[12]);
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double SelfCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
         usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

std::string CodesText(const std::array<std::atomic<uint64_t>, kCodes>& codes) {
  std::vector<std::string> parts;
  for (int c = 0; c < kCodes; ++c) {
    if (codes[c] != 0)
      parts.push_back(absl::StrCat(CodeName(c), "=", codes[c].load()));
  }
  return parts.empty() ? "none" : absl::StrJoin(parts, " ");
}

std::string CodesJson(const std::array<std::atomic<uint64_t>, kCodes>& codes) {
  std::vector<std::string> parts;
  for (int c = 0; c < kCodes; ++c) {
    if (codes[c] != 0) {
      parts.push_back(
          absl::StrFormat("\"%s\":%d", CodeName(c), codes[c].load()));
    }
  }
  return absl::StrCat("{", absl::StrJoin(parts, ","), "}");
}

// Runs one phase's messages: unary calls or one stream.
grpc::Status RunMessages(std::vector<std::unique_ptr<grpc::GenericStub>>* stubs,
                         const std::vector<Message>& messages, bool stream,
                         const std::string& stream_method, bool scan_submit,
                         const RunOptions& options, Stats* stats) {
  if (messages.empty()) return grpc::Status::OK;
  if (!stream) {
    UnaryRunner runner(stubs, &messages, options, stats);
    runner.Run();
    return grpc::Status::OK;
  }
  StreamRunner runner((*stubs)[0].get(), stream_method, &messages, options,
                      scan_submit, stats);
  return runner.Run();
}

int Main() {
  const std::string mode_name = absl::GetFlag(FLAGS_mode);
  Mode mode;
  if (mode_name == "unary") {
    mode = Mode::kUnary;
  } else if (mode_name == "submit") {
    mode = Mode::kSubmit;
  } else if (mode_name == "echo-unary") {
    mode = Mode::kEchoUnary;
  } else if (mode_name == "echo-stream") {
    mode = Mode::kEchoStream;
  } else {
    std::fprintf(stderr, "duijie-loadgen: unknown --mode=%s\n",
                 mode_name.c_str());
    return 2;
  }
  if (absl::GetFlag(FLAGS_workload).empty()) {
    std::fprintf(stderr, "duijie-loadgen: --workload=FILE is required\n");
    return 2;
  }
  const bool json = absl::GetFlag(FLAGS_json);
  const int inflight = std::max(1, absl::GetFlag(FLAGS_inflight));
  const int batch = std::max(1, absl::GetFlag(FLAGS_batch));
  const double seconds = absl::GetFlag(FLAGS_seconds);
  const double timeout_s = absl::GetFlag(FLAGS_timeout);
  const int server_pid = absl::GetFlag(FLAGS_server_pid);

  PlanOptions plan_options;
  plan_options.mode = mode;
  plan_options.batch = batch;
  plan_options.commands = absl::GetFlag(FLAGS_commands);
  plan_options.prefill = absl::GetFlag(FLAGS_prefill);
  if (plan_options.prefill == "auto") plan_options.prefill = "submit";
  if (plan_options.prefill != "submit" && plan_options.prefill != "unary" &&
      plan_options.prefill != "none") {
    std::fprintf(stderr, "duijie-loadgen: unknown --prefill=%s\n",
                 plan_options.prefill.c_str());
    return 2;
  }
  plan_options.prefill_batch = absl::GetFlag(FLAGS_prefill_batch);
  if (const std::string path = absl::GetFlag(FLAGS_response_sizes);
      !path.empty()) {
    std::ifstream in(path);
    uint32_t size = 0;
    while (in >> size) plan_options.response_sizes.push_back(size);
    if (plan_options.response_sizes.empty()) {
      std::fprintf(stderr, "duijie-loadgen: no sizes in %s\n", path.c_str());
      return 2;
    }
  }
  plan_options.repeat = std::max(1, absl::GetFlag(FLAGS_repeat));

  const int64_t load_start = NowNs();
  Plan plan;
  std::string error;
  if (!BuildPlan(absl::GetFlag(FLAGS_workload), plan_options, &plan, &error)) {
    std::fprintf(stderr, "duijie-loadgen: %s\n", error.c_str());
    return 2;
  }
  std::fprintf(stderr,
               "duijie-loadgen: loaded %lld prefill + %lld measured records "
               "(%zu messages) in %.2f s\n",
               static_cast<long long>(plan.prefill_records),
               static_cast<long long>(plan.measured_records),
               plan.measured.size(), (NowNs() - load_start) / 1e9);

  // Channels: distinct arguments so that each gets its own connection.
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  for (int c = 0; c < std::max(1, absl::GetFlag(FLAGS_channels)); ++c) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    args.SetMaxSendMessageSize(64 << 20);
    args.SetInt("duijie.loadgen.channel", c);
    auto channel = grpc::CreateCustomChannel(
        absl::GetFlag(FLAGS_server), grpc::InsecureChannelCredentials(), args);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() +
                                   std::chrono::seconds(10))) {
      std::fprintf(stderr, "duijie-loadgen: cannot connect to %s\n",
                   absl::GetFlag(FLAGS_server).c_str());
      return 1;
    }
    stubs.push_back(std::make_unique<grpc::GenericStub>(channel));
  }

  // Prefill: not measured, in file order.
  RunOptions prefill_options;
  prefill_options.inflight = 64;
  prefill_options.timeout_s = timeout_s;
  Stats prefill_stats;
  const int64_t prefill_start = NowNs();
  for (const Plan::Group& group : plan.prefill) {
    RunOptions group_options = prefill_options;
    if (group.stream) group_options.inflight = 4;
    Stats group_stats;
    grpc::Status status =
        RunMessages(&stubs, group.messages, group.stream, kSubmit,
                    /*scan_submit=*/true, group_options, &group_stats);
    if (!status.ok()) {
      std::fprintf(stderr, "duijie-loadgen: prefill Submit failed: %s %s\n",
                   CodeName(status.error_code()),
                   status.error_message().c_str());
      return 1;
    }
    for (int c = 0; c < kCodes; ++c) {
      prefill_stats.command_codes[c] += group_stats.command_codes[c].load();
    }
    prefill_stats.commands += group_stats.commands.load();
  }
  const double prefill_seconds = (NowNs() - prefill_start) / 1e9;
  if (!plan.prefill.empty()) {
    std::fprintf(stderr,
                 "duijie-loadgen: prefill %llu commands in %.2f s; results: "
                 "%s\n",
                 static_cast<unsigned long long>(prefill_stats.commands.load()),
                 prefill_seconds,
                 CodesText(prefill_stats.command_codes).c_str());
  }

  // Measured phase.
  RunOptions options;
  options.inflight = inflight;
  options.timeout_s = timeout_s;
  Stats stats;
  const std::string save_sizes = absl::GetFlag(FLAGS_save_response_sizes);
  if (!save_sizes.empty()) stats.response_sizes.resize(plan.measured.size());
  const double server_cpu_before =
      server_pid > 0 ? ProcessCpuSeconds(server_pid) : -1;
  const double client_cpu_before = SelfCpuSeconds();
  if (seconds > 0) {
    options.stop_at_ns = NowNs() + static_cast<int64_t>(seconds * 1e9);
  }
  const grpc::Status status =
      RunMessages(&stubs, plan.measured, IsStream(mode),
                  mode == Mode::kSubmit ? kSubmit : kEchoStream,
                  /*scan_submit=*/mode == Mode::kSubmit, options, &stats);
  const double client_cpu = SelfCpuSeconds() - client_cpu_before;
  const double server_cpu_after =
      server_pid > 0 ? ProcessCpuSeconds(server_pid) : -1;
  const double server_cpu = server_cpu_before >= 0 && server_cpu_after >= 0
                                ? server_cpu_after - server_cpu_before
                                : -1;

  if (!save_sizes.empty()) {
    std::ofstream out(save_sizes);
    for (uint32_t size : stats.response_sizes) out << size << '\n';
    if (!out) {
      std::fprintf(stderr, "duijie-loadgen: cannot write %s\n",
                   save_sizes.c_str());
    }
  }

  const double wall = stats.Seconds();
  const uint64_t commands = stats.commands.load();
  const uint64_t rpcs = stats.rpcs.load();
  const double rate = wall > 0 ? commands / wall : 0;
  const double us = 1e-3;
  auto q = [&](const Histogram& h, double quantile) {
    return h.Quantile(quantile) * us;
  };
  const double server_us_per_command =
      server_cpu >= 0 && commands > 0 ? server_cpu * 1e6 / commands : -1;
  const double client_us_per_command =
      commands > 0 ? client_cpu * 1e6 / commands : -1;
  const double mean_request = rpcs ? double(stats.request_bytes) / rpcs : 0;
  const double mean_response = rpcs ? double(stats.response_bytes) / rpcs : 0;
  const bool stream = IsStream(mode);

  if (json) {
    absl::PrintF(
        "{\"mode\":\"%s\",\"server\":\"%s\",\"inflight\":%d,\"batch\":%d,"
        "\"prefill_records\":%lld,\"measured_records\":%lld,"
        "\"skipped_reads\":%lld,\"prefill_seconds\":%.3f,"
        "\"commands\":%llu,\"rpcs\":%llu,\"seconds\":%.4f,"
        "\"commands_per_second\":%.1f,\"rpcs_per_second\":%.1f,"
        "\"latency_us\":{\"p50\":%.2f,\"p99\":%.2f,\"p999\":%.2f,"
        "\"max\":%.2f},"
        "\"command_latency_us\":{\"p50\":%.2f,\"p99\":%.2f,\"p999\":%.2f},"
        "\"rpc_codes\":%s,\"command_codes\":%s,\"matches\":%llu,"
        "\"mean_request_bytes\":%.1f,\"mean_response_bytes\":%.1f,"
        "\"server_cpu_seconds\":%.3f,\"server_cpu_us_per_command\":%.3f,"
        "\"client_cpu_seconds\":%.3f,\"client_cpu_us_per_command\":%.3f,"
        "\"stream_status\":\"%s\"}\n",
        mode_name, absl::GetFlag(FLAGS_server), inflight, stream ? batch : 1,
        static_cast<long long>(plan.prefill_records),
        static_cast<long long>(plan.measured_records),
        static_cast<long long>(plan.skipped_reads), prefill_seconds,
        static_cast<unsigned long long>(commands),
        static_cast<unsigned long long>(rpcs), wall, rate,
        wall > 0 ? rpcs / wall : 0, q(stats.latency, 0.5),
        q(stats.latency, 0.99), q(stats.latency, 0.999),
        stats.latency.max() * us, q(stats.command_latency, 0.5),
        q(stats.command_latency, 0.99), q(stats.command_latency, 0.999),
        CodesJson(stats.rpc_codes), CodesJson(stats.command_codes),
        static_cast<unsigned long long>(stats.matches.load()), mean_request,
        mean_response, server_cpu, server_us_per_command, client_cpu,
        client_us_per_command, CodeName(status.error_code()));
  } else {
    std::printf("mode %s against %s: inflight %d%s\n", mode_name.c_str(),
                absl::GetFlag(FLAGS_server).c_str(), inflight,
                stream ? absl::StrFormat(", batch %d", batch).c_str() : "");
    std::printf("measured: %llu commands in %llu %s in %.3f s\n",
                static_cast<unsigned long long>(commands),
                static_cast<unsigned long long>(rpcs),
                stream ? "batches" : "RPCs", wall);
    if (plan.skipped_reads > 0) {
      std::printf("skipped:  %lld read records (Submit carries no reads)\n",
                  static_cast<long long>(plan.skipped_reads));
    }
    std::printf("rate:     %.0f commands/s (%.0f %s/s)\n", rate,
                wall > 0 ? rpcs / wall : 0, stream ? "batches" : "RPCs");
    std::printf(
        "latency per %s (us): p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
        stream ? "batch" : "RPC", q(stats.latency, 0.5), q(stats.latency, 0.99),
        q(stats.latency, 0.999), stats.latency.max() * us);
    if (stream) {
      std::printf(
          "latency per command (us, its batch's): p50 %.1f  p99 %.1f  p99.9 "
          "%.1f\n",
          q(stats.command_latency, 0.5), q(stats.command_latency, 0.99),
          q(stats.command_latency, 0.999));
      std::printf("stream status: %s %s\n", CodeName(status.error_code()),
                  status.error_message().c_str());
    } else {
      std::printf("RPC status: %s\n", CodesText(stats.rpc_codes).c_str());
    }
    std::printf("command results: %s; matches %llu\n",
                CodesText(stats.command_codes).c_str(),
                static_cast<unsigned long long>(stats.matches.load()));
    std::printf("bytes per %s: request %.0f, response %.0f\n",
                stream ? "batch" : "RPC", mean_request, mean_response);
    if (server_cpu >= 0) {
      std::printf("server CPU: %.3f s = %.2f us/command (%.2f cores)\n",
                  server_cpu, server_us_per_command,
                  wall > 0 ? server_cpu / wall : 0);
    }
    std::printf("client CPU: %.3f s = %.2f us/command (%.2f cores)\n",
                client_cpu, client_us_per_command,
                wall > 0 ? client_cpu / wall : 0);
  }
  return stream && !status.ok() ? 1 : 0;
}

}  // namespace
}  // namespace duijie::loadgen

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "duijie-loadgen --server=HOST:PORT --workload=FILE "
      "--mode=unary|submit|echo-unary|echo-stream --inflight=K --batch=B "
      "[--commands=N | --seconds=S] [--server_pid=PID] [--key_file=FILE] "
      "[--json]");
  absl::ParseCommandLine(argc, argv);
  if (const std::string key_file = absl::GetFlag(FLAGS_key_file);
      !key_file.empty()) {
    std::ifstream in(key_file);
    std::string secret;
    if (!in || !std::getline(in, secret) || secret.empty()) {
      std::fprintf(stderr,
                   "duijie-loadgen: --key_file %s: no key on its first line\n",
                   key_file.c_str());
      return 2;
    }
    duijie::loadgen::g_authorization = "Bearer " + secret;
  }
  // Debian's Abseil is built without NDEBUG, so every absl::Mutex (gRPC's
  // included) runs deadlock detection, which costs several percent of a
  // gRPC call. The baseline and the load generator should cost what gRPC
  // costs, so it is off.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return duijie::loadgen::Main();
}
