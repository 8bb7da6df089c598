// What the fuzz targets (tests/fuzz/fuzz_*.cc) and their seed generator
// (make_fuzz_corpus.cc) share: the byte source, the decoding of bytes into
// engine commands, the reference data every run starts from, and the
// mutating request types.
#ifndef DUIJIE_TESTS_FUZZ_FUZZ_COMMON_H_
#define DUIJIE_TESTS_FUZZ_FUZZ_COMMON_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/command.h"
#include "engine/engine.h"
#include "google/protobuf/message.h"

namespace duijie::fuzz {

// Where the decoder takes its bytes from: the fuzzer's input, read from the
// front, or (in the seed generator) a random stream that records what it
// hands out, so that the recording decodes to the same commands.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // The next byte; 0 once the input is used up.
  virtual uint8_t Next() = 0;
  // Whether bytes remain (a recording source never runs out).
  virtual bool More() const = 0;
};

class InputSource : public ByteSource {
 public:
  InputSource(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t Next() override { return pos_ < size_ ? data_[pos_++] : 0; }
  bool More() const override { return pos_ < size_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Six-digit region codes the engine knows at the start of each run
// (PreloadEngine), plus one it never knows. The first four are two
// assisted counties and two buyer cities that the preloaded pairings join:
// drawn most often, so that partner matching happens.
inline constexpr const char* kRegionCodes[] = {"621202", "620826", "370200",
                                               "120000", "620000", "621200",
                                               "620800", "370000", "999999"};
inline constexpr int kPairedRegions = 4;
inline constexpr const char* kProductCodes[] = {
    "vegetable.cabbage", "vegetable", "fruit.apple", "fruit", "tea.selenium"};
inline constexpr const char* kOwnerIds[] = {"coop1", "coop2", "buyer1",
                                            "buyer2"};
// The engine's clock when a run starts; each command moves it forward by
// a few units, so that expiries drawn near it fall both before and after.
inline constexpr Micros kStartTime = 1000;

// Decodes commands from bytes. Every value comes from a small range, so
// that many commands are accepted and match: strings from the pools above
// (and now and then a few raw bytes), numbers mostly small or just after
// the clock (an expiry) with an occasional edge value, enum numbers mostly
// in range, ids up to a few past the orders posted. Fields are filled
// through ForEachField, so a command added to command.h is decoded too
// without a change here (a field of a new type needs a Field overload).
class CommandDecoder {
 public:
  // The next command read from `in`, with request_id and fingerprint set
  // now and then, and its time (command.now) a few units after the
  // previous one's. `orders` bounds the ids of cancels: the orders posted
  // so far.
  Command Next(ByteSource& in, uint64_t orders);

  Micros now() const { return now_; }

 private:
  uint8_t Byte() { return in_->Next(); }
  int64_t Small();
  int SmallInt();
  std::string String();
  void Field(std::string& s) { s = String(); }
  void Field(int& v) { v = SmallInt(); }
  void Field(int64_t& v) { v = Small(); }
  void Field(uint64_t& v) { v = 1 + Byte() % (orders_ + 2); }
  void Field(bool& v) { v = Byte() & 1; }
  void Field(std::vector<std::string>& v);
  void Field(std::vector<MemberShare>& v);

  ByteSource* in_ = nullptr;
  Micros now_ = kStartTime;
  uint64_t orders_ = 0;
  int strings_ = 0;        // string fields of this command drawn so far
  uint64_t requests_ = 0;  // fresh request_ids drawn so far
};

// An engine with the regions of kRegionCodes (all but the last) and two
// east-west pairings, at kStartTime. With `orders`, also a few resting
// offers and pledges, so that cancels and matches have something to act on.
void PreloadEngine(Engine& engine, bool orders);

// Aborts the process, printing `what` and `status`: how a fuzz target
// reports a broken property (libFuzzer saves the input).
[[noreturn]] void Fail(const char* what, const absl::Status& status);

// Applies `command` at `now` as the server's writer does (ResolveExpiry,
// a tick when `now` is later than the engine's clock, then the command)
// and checks what must hold whatever the command: Validate, asked before
// the tick, agrees with Apply, and CheckInvariants passes afterwards.
// Fails the run otherwise.
void ApplyAndCheck(Engine& engine, Command& command, Micros now);

// The request types that ToCommand (api/convert.h) turns into commands: the
// input type of every Exchange RPC and every alternative of Submit's
// Command that it accepts, each once, in descriptor order. A mutating RPC
// added later is fuzzed without a change here.
const std::vector<const google::protobuf::Descriptor*>& MutatingRequestTypes();

}  // namespace duijie::fuzz

#endif  // DUIJIE_TESTS_FUZZ_FUZZ_COMMON_H_
