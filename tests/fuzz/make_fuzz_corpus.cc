// make_fuzz_corpus OUT_DIR: writes the seed corpus of the fuzz targets into
// OUT_DIR/fuzz_engine, OUT_DIR/fuzz_requests and OUT_DIR/fuzz_recovery
// (created if missing; files of the same name are replaced, others left).
// The committed corpus in tests/fuzz/corpus/ is its output:
//   build-fuzz/tests/fuzz/make_fuzz_corpus tests/fuzz/corpus
// Deterministic: the same program writes the same bytes.
//
//   fuzz_engine: five streams of 60 commands drawn from fixed seeds
//     through the fuzzer's own CommandDecoder (a recording byte source
//     replays as the same commands), each command searched for among
//     random draws so that most are accepted and many fill (DrawStream).
//   fuzz_requests: one valid request of each mutating type (first byte: its
//     index in MutatingRequestTypes()) that the preloaded engine accepts,
//     a pledge that fills against the preloaded offers, and a Submit batch.
//   fuzz_recovery: from one engine stream: its journal segment, its
//     snapshot file, its record payloads as [u16 length][payload] pieces
//     and its state bytes (the four ways fuzz_recovery reads an input).
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/convert.h"
#include "api/durable_store.h"
#include "api/journal_format.h"
#include "api/snapshot.h"
#include "duijie/v1/exchange.pb.h"
#include "engine/command.h"
#include "engine/engine.h"
#include "tests/fuzz/fuzz_common.h"
#include "tests/fuzz/mem_env.h"

namespace duijie::fuzz {
namespace {

// Random bytes, remembered: the recording decodes to the same commands.
class RecordingSource : public ByteSource {
 public:
  explicit RecordingSource(uint32_t seed) : rng_(seed) {}
  uint8_t Next() override {
    const uint8_t b = static_cast<uint8_t>(rng_());
    bytes_.push_back(static_cast<char>(b));
    return b;
  }
  bool More() const override { return true; }
  const std::string& bytes() const { return bytes_; }

 private:
  std::mt19937 rng_;
  std::string bytes_;
};

void Write(const std::string& dir, const std::string& name,
           const std::string& bytes) {
  ::mkdir(dir.c_str(), 0755);
  const std::string path = dir + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

// A stream of `n` commands drawn from `seed`, applied as fuzz_engine
// applies it: its bytes, and how many commands were accepted and filled.
struct Stream {
  std::string bytes;
  int accepted = 0;
  uint64_t fills = 0;
};

// Applies `command` as fuzz_engine does and scores it: -1 refused, 0
// accepted, 1 an order posted, 2 + fills an order that filled.
int64_t ApplyAsFuzzer(Engine& engine, Command command) {
  const Micros now = std::max(command.now, engine.now());
  ResolveExpiry(command, now);
  if (now > engine.now()) {
    engine.Apply(MakeCommand(TickCommand{}, now)).IgnoreError();
  }
  const uint64_t orders = engine.offer_count() + engine.pledge_count();
  absl::StatusOr<CommandResult> r = engine.Apply(command);
  if (!r.ok()) return -1;
  const uint64_t fills = EffectOf(*r).match_count;
  if (fills > 0) return 2 + static_cast<int64_t>(fills);
  return engine.offer_count() + engine.pledge_count() > orders ? 1 : 0;
}

// Each command is the best scored of up to kTries random byte strings,
// tried on a copy of the engine (the search stops at one that fills);
// every fifth command is the first draw as it is (often refused), so the
// stream has refusals too. The decoder knows nothing of field meanings;
// this search finds the bytes that mean something.
constexpr int kTries = 400;

Stream DrawStream(uint32_t seed, int n) {
  Engine engine;
  PreloadEngine(engine, /*orders=*/false);
  std::mt19937 rng(seed);
  CommandDecoder decoder;
  Stream out;
  for (int i = 0; i < n; ++i) {
    const uint64_t orders = engine.offer_count() + engine.pledge_count();
    const std::string state = engine.SaveState();
    std::string best_bytes;
    int64_t best = -2;
    for (int t = 0; t < (i % 5 == 4 ? 1 : kTries) && best < 2; ++t) {
      RecordingSource source(rng());
      CommandDecoder trial_decoder = decoder;
      const Command command = trial_decoder.Next(source, orders);
      Engine trial;
      if (!trial.LoadState(state).ok()) {
        Fail("trial copy", absl::InternalError("LoadState"));
      }
      const int64_t score = ApplyAsFuzzer(trial, command);
      if (score > best) {
        best = score;
        best_bytes = source.bytes();
      }
    }
    // Decode the chosen bytes again, this time for real.
    InputSource in(reinterpret_cast<const uint8_t*>(best_bytes.data()),
                   best_bytes.size());
    const int64_t score = ApplyAsFuzzer(engine, decoder.Next(in, orders));
    out.bytes += best_bytes;
    if (score >= 0) ++out.accepted;
    if (score >= 2) out.fills += score - 2;
  }
  return out;
}

void EngineSeeds(const std::string& dir) {
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    const Stream s = DrawStream(seed, 60);
    Write(dir, absl::StrCat("stream-", seed), s.bytes);
    std::printf("fuzz_engine/stream-%u: 60 commands, %d accepted, %d fills\n",
                seed, s.accepted, static_cast<int>(s.fills));
  }
}

// [index of the type in MutatingRequestTypes()][serialized request].
std::string RequestInput(const google::protobuf::Message& request) {
  const auto& types = MutatingRequestTypes();
  const size_t index =
      std::find(types.begin(), types.end(), request.GetDescriptor()) -
      types.begin();
  return std::string(1, static_cast<char>(index)) + request.SerializeAsString();
}

// Times in the fuzz_requests runs' year.
void SetTime(google::protobuf::Timestamp* ts) {
  ts->set_seconds(1767225600 + 86400);
}

v1::PostOfferRequest Offer() {
  v1::PostOfferRequest r;
  r.set_request_id("offer-1");
  v1::Offer* o = r.mutable_offer();
  o->set_supplier_id("coop1");
  o->set_region_code("621202");
  o->set_product_code("vegetable.cabbage");
  o->set_grade(v1::GRADE_FIRST);
  o->set_quantity_kg(300);
  o->set_floor_price_fen_per_kg(150);
  o->set_certified(true);
  o->set_households(12);
  SetTime(o->mutable_expires_at());
  return r;
}

v1::PostPledgeRequest Pledge() {
  v1::PostPledgeRequest r;
  r.set_request_id("pledge-1");
  v1::Pledge* p = r.mutable_pledge();
  p->set_buyer_id("buyer1");
  p->set_buyer_city_code("370200");
  p->set_buyer_kind(v1::SCHOOL);
  p->set_product_code("vegetable");
  p->set_quantity_kg(700);
  p->set_max_price_fen_per_kg(400);
  p->set_budget_fen(150000);
  p->set_scope(v1::PARTNERS_ONLY);
  r.mutable_expires_in()->set_seconds(3600);
  return r;
}

void RequestSeeds(const std::string& dir) {
  v1::UpsertRegionRequest region;
  region.set_request_id("region-1");
  region.mutable_region()->set_code("621221");
  region.mutable_region()->set_name("Wenxian");
  region.mutable_region()->set_key_assisted(true);
  Write(dir, "upsert-region", RequestInput(region));

  v1::UpsertPairingRequest pairing;
  pairing.mutable_pairing()->set_east_code("370000");
  pairing.mutable_pairing()->set_west_code("620800");
  pairing.mutable_pairing()->set_note("east-west");
  Write(dir, "upsert-pairing", RequestInput(pairing));

  v1::DeletePairingRequest unpair;
  unpair.set_east_code("370200");
  unpair.set_west_code("621200");
  Write(dir, "delete-pairing", RequestInput(unpair));

  Write(dir, "post-offer", RequestInput(Offer()));
  Write(dir, "post-pledge-fills", RequestInput(Pledge()));

  v1::CancelOfferRequest cancel_offer;
  cancel_offer.set_id(1);
  Write(dir, "cancel-offer", RequestInput(cancel_offer));
  v1::CancelPledgeRequest cancel_pledge;
  cancel_pledge.set_request_id("cancel-1");
  cancel_pledge.set_id(2);
  Write(dir, "cancel-pledge", RequestInput(cancel_pledge));

  v1::SubmitRequest submit;
  submit.set_batch_id("batch-1");
  *submit.add_commands()->mutable_post_offer() = Offer();
  *submit.add_commands()->mutable_post_pledge() = Pledge();
  submit.add_commands()->mutable_cancel_offer()->set_id(2);
  submit.add_commands();  // none set: refused alone
  Write(dir, "submit-batch",
        std::string(1, static_cast<char>(MutatingRequestTypes().size())) +
            submit.SerializeAsString());
}

// Recovers a data directory holding only `bytes` as file `name` and fails
// unless that gives the state `hash`.
void CheckRecovers(const std::string& name, const std::string& bytes,
                   uint64_t hash) {
  MemEnv env;
  env.PutFile(JoinPath("mem/data", name), bytes);
  DurabilityOptions o;
  o.dir = "mem/data";
  o.env = &env;
  o.fsync = false;
  o.log = [](absl::string_view) {};
  absl::StatusOr<std::unique_ptr<DurableStore>> store = DurableStore::Open(o);
  if (!store.ok()) Fail(name.c_str(), store.status());
  if ((*store)->engine()->StateHash() != hash) {
    Fail(name.c_str(), absl::InternalError("recovers to another state"));
  }
  std::printf("fuzz_recovery: %s recovers (%d records)\n", name.c_str(),
              static_cast<int>((*store)->report().replayed_records));
}

void RecoverySeeds(const std::string& dir) {
  // A journal that replays on an empty engine: reference data, an offer,
  // a pledge that fills part of it, a cancel and a tick past the expiries.
  std::vector<std::string> payloads;
  {
    Engine engine;
    uint64_t seq = 0;
    auto record = [&](const Command& command) {
      absl::StatusOr<CommandResult> r = engine.Apply(command);
      if (!r.ok()) Fail("preload record", r.status());
      std::string payload;
      EncodeRecord(++seq, command,
                   std::holds_alternative<TickResult>(*r) ? CommandEffect{}
                                                          : EffectOf(*r),
                   &payload);
      payloads.push_back(std::move(payload));
    };
    record(MakeCommand(TickCommand{}, kStartTime));
    record(
        MakeCommand(UpsertRegionCommand{Region{"621202", "Wudu", true, false}},
                    kStartTime));
    record(MakeCommand(
        UpsertRegionCommand{Region{"370200", "Qingdao", false, false}},
        kStartTime));
    record(MakeCommand(UpsertPairingCommand{Pairing{"370200", "621202", ""}},
                       kStartTime));
    OfferSpec o;
    o.supplier_id = "coop1";
    o.region_code = "621202";
    o.product_code = "spice.sichuan_pepper";
    o.grade = 1;
    o.quantity_kg = 2000;
    o.floor_price_fen_per_kg = 6800;
    o.expires_at = kStartTime + 5000;
    o.certified = true;
    record(MakeCommand(PostOfferCommand{o}, kStartTime));
    PledgeSpec p;
    p.buyer_id = "buyer1";
    p.buyer_city_code = "370200";
    p.buyer_kind = 1;
    p.product_code = "spice";
    p.quantity_kg = 800;
    p.max_price_fen_per_kg = 7500;
    p.expires_at = kStartTime + 3000;
    p.scope = 1;
    Command pledge = MakeCommand(PostPledgeCommand{p}, kStartTime);
    pledge.request_id = "pledge-1";
    pledge.fingerprint = CommandFingerprint(pledge);
    record(pledge);
    record(MakeCommand(CancelOfferCommand{1}, kStartTime));
    record(MakeCommand(TickCommand{}, kStartTime + 4000));

    std::string segment;
    std::string pieces;
    for (const std::string& payload : payloads) {
      AppendFrame(payload, &segment);
      pieces.push_back(static_cast<char>(payload.size() & 0xff));
      pieces.push_back(static_cast<char>(payload.size() >> 8));
      pieces += payload;
    }
    Write(dir, "journal-segment", segment);
    Write(dir, "journal-payloads", pieces);
    const std::string state = engine.SaveState();
    Write(dir, "snapshot-file", EncodeSnapshot(seq, state));
    Write(dir, "snapshot-state", state);
    // The seeds must recover, or the fuzzer starts from rejected inputs.
    CheckRecovers(SegmentFileName(1), segment, engine.StateHash());
    CheckRecovers(SnapshotFileName(seq), EncodeSnapshot(seq, state),
                  engine.StateHash());
  }
}

}  // namespace
}  // namespace duijie::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fuzz_corpus OUT_DIR\n");
    return 2;
  }
  const std::string out = argv[1];
  ::mkdir(out.c_str(), 0755);
  duijie::fuzz::EngineSeeds(out + "/fuzz_engine");
  duijie::fuzz::RequestSeeds(out + "/fuzz_requests");
  duijie::fuzz::RecoverySeeds(out + "/fuzz_recovery");
  return 0;
}
