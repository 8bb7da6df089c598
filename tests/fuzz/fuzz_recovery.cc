// fuzz_recovery: the bytes are what a crash, a bad disk or a hostile file
// left in a data directory. Each input is recovered (DurableStore::Open,
// on an in-memory MemEnv, no fsync) four ways:
//   1. as the journal segment journal-1.log, as it is;
//   2. as a snapshot file, as it is (named for the seq in its header when
//      it has one, so that the name check does not stop every input);
//   3. as a journal whose records' payloads are the input cut into
//      [u16 length][payload] pieces, each framed with a correct CRC, so
//      that the record decoder and replay see the bytes, not the CRC check;
//   4. as the state bytes of a snapshot with a correct header and CRC, so
//      that Engine::LoadState sees them.
// Recovery must end in an error status (DATA_LOSS, INTERNAL for a journal
// that does not replay to its effects, ...) or succeed, truncating a torn
// tail; never crash, hang or trip a sanitizer. When it succeeds: every read
// of the recovered engine works (a server serves reads at once), closing
// succeeds, and opening the directory again succeeds with the same
// position and state hash (recovery is idempotent). A state replayed from
// a journal was built by Engine::Apply, so it must also pass
// CheckInvariants. A loaded snapshot need not: Engine::LoadState checks
// structure (every id, index and string it keeps is in range, so nothing
// reads out of bounds), not the sums and orders that only a bug could
// break; the snapshot's CRC is what tells damage, and bytes that carry a
// correct CRC were written that way on purpose.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "api/durable_store.h"
#include "api/journal_format.h"
#include "api/snapshot.h"
#include "engine/engine.h"
#include "tests/fuzz/fuzz_common.h"
#include "tests/fuzz/mem_env.h"

namespace duijie::fuzz {
namespace {

constexpr char kDir[] = "mem/data";

DurabilityOptions Options(MemEnv& env) {
  DurabilityOptions o;
  o.dir = kDir;
  o.env = &env;
  o.fsync = false;
  o.snapshot_every_records = 0;
  o.snapshot_interval = absl::ZeroDuration();
  o.log = [](absl::string_view) {};
  return o;
}

// Every read the server serves, over everything the engine holds.
void ReadAll(const Engine& engine) {
  bool more = false;
  const Micros now = engine.now();
  for (const OfferView& o : engine.ListOffers({}, 0, 1000, now, &more)) {
    if (!engine.GetOffer(o.offer_id, now).ok()) {
      Fail("GetOffer of a listed offer", absl::InternalError("not found"));
    }
  }
  for (const PledgeView& p : engine.ListPledges({}, 0, 1000, now, &more)) {
    if (!engine.GetPledge(p.pledge_id, now).ok()) {
      Fail("GetPledge of a listed pledge", absl::InternalError("not found"));
    }
  }
  engine.ListMatches({}, 0, 1000, &more);
  engine.GetBook("", now);
  engine.ListRegions("", "", 1000, &more);
  engine.ListPairings("", "", "", 1000, &more);
  engine.StateHash();
}

// Recovers `env`'s directory and checks what a successful recovery
// promises (see the file comment); `replayed`: the state comes from a
// journal alone, so CheckInvariants must pass too.
void Recover(MemEnv& env, const char* how, bool replayed) {
  absl::StatusOr<std::unique_ptr<DurableStore>> store =
      DurableStore::Open(Options(env));
  if (!store.ok()) {
    if (store.status().code() == absl::StatusCode::kOk) {
      Fail(how, absl::InternalError("empty error"));
    }
    return;
  }
  ReadAll(*(*store)->engine());
  if (replayed) {
    if (absl::Status s = (*store)->engine()->CheckInvariants(); !s.ok()) {
      Fail(absl::StrCat(how, ": invariants after recovery").c_str(), s);
    }
  }
  const uint64_t hash = (*store)->engine()->StateHash();
  const uint64_t position = (*store)->position();
  if (absl::Status s = (*store)->Close(); !s.ok()) {
    Fail(absl::StrCat(how, ": close after recovery").c_str(), s);
  }
  store->reset();
  absl::StatusOr<std::unique_ptr<DurableStore>> again =
      DurableStore::Open(Options(env));
  if (!again.ok()) {
    Fail(absl::StrCat(how, ": reopening what recovered").c_str(),
         again.status());
  }
  if ((*again)->engine()->StateHash() != hash ||
      (*again)->position() != position) {
    Fail(how, absl::InternalError(absl::StrCat(
                  "reopened at position ", (*again)->position(), " hash ",
                  (*again)->engine()->StateHash(), "; first open: position ",
                  position, " hash ", hash)));
  }
}

// The seq in a snapshot file's header (after "DJSNAP01" and the u32
// version), or 1 when the bytes are too short to hold one.
uint64_t HeaderSeq(absl::string_view bytes) {
  uint64_t seq = 0;
  if (bytes.size() < 20) return 1;
  std::memcpy(&seq, bytes.data() + 12, sizeof(seq));  // little-endian hosts
  return seq;
}

void Run(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::string dir = kDir;
  {
    MemEnv env;
    env.PutFile(JoinPath(dir, SegmentFileName(1)), std::string(bytes));
    Recover(env, "raw journal segment", /*replayed=*/true);
  }
  {
    MemEnv env;
    env.PutFile(JoinPath(dir, SnapshotFileName(HeaderSeq(bytes))),
                std::string(bytes));
    Recover(env, "raw snapshot file", /*replayed=*/false);
  }
  {
    std::string segment;
    for (size_t pos = 0; pos + 2 <= size;) {
      const size_t n =
          std::min<size_t>(data[pos] | (data[pos + 1] << 8), size - pos - 2);
      AppendFrame(bytes.substr(pos + 2, n), &segment);
      pos += 2 + n;
    }
    MemEnv env;
    env.PutFile(JoinPath(dir, SegmentFileName(1)), segment);
    Recover(env, "framed journal records", /*replayed=*/true);
  }
  {
    MemEnv env;
    env.PutFile(JoinPath(dir, SnapshotFileName(1)), EncodeSnapshot(1, bytes));
    Recover(env, "snapshot state bytes", /*replayed=*/false);
  }
}

}  // namespace
}  // namespace duijie::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  duijie::fuzz::Run(data, size);
  return 0;
}
