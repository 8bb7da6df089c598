// The standard workload: a deterministic national glut book and command
// stream (see bench/workload.proto for the record format and
// docs/PERFORMANCE.md for what it models).
//
// WorkloadGenerator produces the records one at a time from WorkloadOptions,
// so even the 10M-order book is never held in memory. The same options give
// the same records on every platform: the only randomness is std::mt19937_64
// (whose output the standard fixes) read through distributions written
// here, never std:: distributions (whose output is implementation-defined).
//
// Record order: reference data (regions, then pairings), then the prefill
// orders that bring the book to `book` resting orders (all at one instant,
// with expiries drawn from the steady state so that they keep expiring
// through the measured phase, and prices chosen so that they rest), then
// `commands` measured commands: about 45% PostOffer, 35% PostPledge, 10%
// cancels, 10% reads, with the clock advancing so that the book stays near
// its size. All request_ids are empty.
//
// Ids: the engine numbers offers and pledges from 1 in posting order; every
// post in the workload is valid, so the generator knows the id each post
// will get and cancels and reads name ids that exist.
//
// WorkloadWriter / WorkloadReader write and read the file format: records
// in protobuf's delimited form (varint length, then the record).
#ifndef DUIJIE_BENCH_WORKLOAD_H_
#define DUIJIE_BENCH_WORKLOAD_H_

#include <cstdint>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "bench/workload.pb.h"
#include "google/protobuf/io/zero_copy_stream_impl.h"

namespace duijie {
namespace bench {

struct WorkloadOptions {
  int64_t book = 10000;       // resting orders after prefill
  int64_t commands = 100000;  // measured commands after prefill
  uint64_t seed = 1;
};

// Counts by kind, for reports and checks.
struct WorkloadStats {
  int64_t regions = 0;
  int64_t pairings = 0;
  int64_t prefill_offers = 0;
  int64_t prefill_pledges = 0;
  int64_t post_offer = 0;  // measured phase from here on
  int64_t post_pledge = 0;
  int64_t cancel_offer = 0;
  int64_t cancel_pledge = 0;
  int64_t get_offer = 0;
  int64_t get_pledge = 0;
  int64_t get_book = 0;
  void Count(const WorkloadRecord& record);
};

// Start of the simulated glut: 2022-11-01 00:00 China Standard Time.
inline constexpr int64_t kWorkloadStartMicros = int64_t{1667232000} * 1000000;

class WorkloadGenerator {
 public:
  explicit WorkloadGenerator(const WorkloadOptions& options);
  ~WorkloadGenerator();
  WorkloadGenerator(const WorkloadGenerator&) = delete;
  WorkloadGenerator& operator=(const WorkloadGenerator&) = delete;

  // Stores the next record into *record (cleared first); false at the end.
  bool Next(WorkloadRecord* record);

  // Simulated microseconds between measured commands.
  int64_t step_micros() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Appends records to a file in the delimited format.
class WorkloadWriter {
 public:
  absl::Status Open(const std::string& path);
  absl::Status Write(const WorkloadRecord& record);
  absl::Status Close();

 private:
  std::ofstream out_;
  std::string path_;
};

// Reads a workload file record by record.
class WorkloadReader {
 public:
  WorkloadReader();
  ~WorkloadReader();
  absl::Status Open(const std::string& path);
  // Stores the next record into *record; false at the end of the file or on
  // a malformed record (then status() says which).
  bool Next(WorkloadRecord* record);
  const absl::Status& status() const { return status_; }

 private:
  int fd_ = -1;
  std::string path_;
  int64_t read_ = 0;
  std::unique_ptr<google::protobuf::io::FileInputStream> stream_;
  absl::Status status_;
};

// Either a file (when `path` names one that exists) or the generator with
// `options`: the two give the same records.
class WorkloadSource {
 public:
  // Opens `path` if it is non-empty and exists, else generates.
  absl::Status Open(const std::string& path, const WorkloadOptions& options);
  bool Next(WorkloadRecord* record);
  const absl::Status& status() const;
  bool from_file() const { return reader_ != nullptr; }

 private:
  std::unique_ptr<WorkloadReader> reader_;
  std::unique_ptr<WorkloadGenerator> generator_;
  absl::Status ok_;
};

// FNV-1a over the serialized records, to check that two workloads are the
// same. Update with each record in order.
class WorkloadDigest {
 public:
  void Add(const WorkloadRecord& record);
  uint64_t value() const { return hash_; }

 private:
  uint64_t hash_ = 0xcbf29ce484222325ull;
  std::string buffer_;
};

}  // namespace bench
}  // namespace duijie

#endif  // DUIJIE_BENCH_WORKLOAD_H_
