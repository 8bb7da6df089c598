// The journal, snapshots and recovery, in process: replay reproduces the
// state hash and the match stream across restarts at random points; damage
// is classified (torn tails truncated, corruption refused, --repair cuts);
// faults injected below the journal are reported and lose nothing that a
// Commit acknowledged.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/apply.h"
#include "api/file_env.h"
#include "api/journal.h"
#include "api/recovery.h"
#include "api/snapshot.h"
#include "engine/engine.h"
#include "gtest/gtest.h"

namespace duijie {
namespace {

namespace fs = std::filesystem;
constexpr Micros kDay = Micros{86400} * 1000 * 1000;

// A fresh directory under the test's temp dir, removed at destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "duijie-dur-XXXXXX");
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, ec);
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const {
    return JoinPath(path_, name);
  }

 private:
  std::string path_;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}
std::vector<std::string> Files(const std::string& dir,
                               const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename();
    if (absl::StartsWith(name, prefix)) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A digest of a command's answer: what a client would see.
std::string Digest(const WriteOutcome& outcome) {
  if (!outcome.ok()) return outcome.status().ToString();
  const WriteResult& r = *outcome;
  std::string out;
  auto matches = [&out](const std::vector<MatchView>& ms) {
    for (const MatchView& m : ms) {
      absl::StrAppend(&out, " m", m.match_id, ":", m.offer_id, "/", m.pledge_id,
                      "x", m.quantity_kg, "@", m.price_fen_per_kg, "t",
                      m.matched_at);
    }
  };
  if (auto* o = std::get_if<OfferResult>(&r)) {
    absl::StrAppend(&out, "offer ", o->offer.offer_id, " rem ",
                    o->offer.remaining_kg, " st ",
                    static_cast<int>(o->offer.status), " at ",
                    o->offer.posted_at, " rp ", o->replayed);
    matches(o->matches);
  } else if (auto* p = std::get_if<PledgeResult>(&r)) {
    absl::StrAppend(&out, "pledge ", p->pledge.pledge_id, " rem ",
                    p->pledge.remaining_kg, " spent ", p->pledge.spent_fen,
                    " st ", static_cast<int>(p->pledge.status), " rp ",
                    p->replayed);
    matches(p->matches);
  } else if (auto* g = std::get_if<RegionResult>(&r)) {
    absl::StrAppend(&out, "region ", g->region.code, " rp ", g->replayed);
  } else {
    absl::StrAppend(&out, "pairing rp ", std::get<PairingResult>(r).replayed);
  }
  return out;
}

std::string AllMatches(const Engine& engine) {
  std::string out;
  bool more = true;
  uint64_t after = 0;
  while (more) {
    std::vector<MatchView> page = engine.ListMatches({}, after, 1000, &more);
    for (const MatchView& m : page) {
      absl::StrAppend(&out, m.match_id, ":", m.offer_id, "/", m.pledge_id, "x",
                      m.quantity_kg, "@", m.price_fen_per_kg, "t", m.matched_at,
                      ";");
      after = m.match_id;
    }
    if (page.empty()) break;
  }
  return out;
}

// A reproducible random stream of commands as the server's writer sees
// them: reference data changes, posts, cancels, repeated request_ids (same
// and different bodies) and bad input.
class CommandGen {
 public:
  explicit CommandGen(uint64_t seed) : rng_(seed) {}

  std::vector<WriteCommand> SetUp() {
    std::vector<WriteCommand> out;
    for (const char* code : {"620000", "621200", "621202", "620800", "620826",
                             "370000", "370200", "120000"}) {
      out.push_back(Make(Region{code, code, code[5] == '6', false}, ""));
    }
    out.push_back(Make(Pairing{"370200", "621200", "qd"}, "p1"));
    out.push_back(Make(Pairing{"120000", "620000", "tj"}, "p2"));
    return out;
  }

  WriteCommand Next() {
    static const char* kRegions[] = {"621202", "620826", "621200"};
    static const char* kCities[] = {"370200", "120000", "370000"};
    static const char* kProducts[] = {"vegetable.cabbage", "vegetable.potato",
                                      "fruit.apple"};
    const int dice = rng_() % 100;
    std::string rid;
    uint64_t fingerprint = rng_() % 2;
    if (dice % 3 == 0) rid = absl::StrCat("r", rng_() % 80);
    if (dice < 40) {
      OfferSpec o;
      o.supplier_id = absl::StrCat("coop", rng_() % 5);
      o.region_code = kRegions[rng_() % 3];
      o.product_code = kProducts[rng_() % 3];
      o.grade = rng_() % 40 == 0 ? 9 : 1 + rng_() % 3;  // some invalid
      o.quantity_kg = 100 + rng_() % 900;
      o.floor_price_fen_per_kg = 100 + rng_() % 200;
      o.min_lot_kg = rng_() % 100;
      o.expires_at = horizon_ + 1 + rng_() % (2 * kDay);
      o.certified = rng_() % 2;
      o.households = rng_() % 10;
      ++offers_;
      return Make(o, rid, fingerprint);
    }
    if (dice < 80) {
      PledgeSpec p;
      p.buyer_id = absl::StrCat("buyer", rng_() % 5);
      p.buyer_city_code = kCities[rng_() % 3];
      p.buyer_kind = 1 + rng_() % 11;
      p.product_code = rng_() % 3 == 0 ? "vegetable" : kProducts[rng_() % 3];
      p.min_grade = 1 + rng_() % 3;
      p.quantity_kg = 100 + rng_() % 900;
      p.max_price_fen_per_kg = 100 + rng_() % 250;
      p.budget_fen = rng_() % 4 == 0 ? 20000 + rng_() % 50000 : 0;
      p.min_lot_kg = rng_() % 50;
      p.expires_at = horizon_ + 1 + rng_() % (2 * kDay);
      p.scope = rng_() % 3;
      if (p.scope == 2) p.region_codes = {kRegions[rng_() % 3]};
      p.require_certified = rng_() % 4 == 0;
      ++pledges_;
      return Make(p, rid, fingerprint);
    }
    if (dice < 88) {
      return Make(CancelOfferCommand{1 + rng_() % (offers_ + 2)}, rid,
                  fingerprint);
    }
    if (dice < 96) {
      return Make(CancelPledgeCommand{1 + rng_() % (pledges_ + 2)}, rid,
                  fingerprint);
    }
    if (dice < 98) {
      return Make(Region{kRegions[rng_() % 3], "renamed", rng_() % 2 == 0,
                         rng_() % 2 == 0},
                  rid, fingerprint);
    }
    if (dice < 99) {
      return Make(DeletePairingCommand{"370200", "621200"}, rid, fingerprint);
    }
    return Make(Pairing{"370200", "621200", "again"}, rid, fingerprint);
  }

  // The next stamp: mostly a little later, sometimes the same instant.
  Micros Stamp() {
    if (rng_() % 4 != 0) now_ += rng_() % (kDay / 20);
    horizon_ = now_;
    return now_;
  }
  std::mt19937_64& rng() { return rng_; }

 private:
  template <typename Body>
  WriteCommand Make(Body body, std::string rid, uint64_t fingerprint = 7) {
    WriteCommand c;
    c.body = std::move(body);
    c.request_id = std::move(rid);
    c.fingerprint = fingerprint;
    return c;
  }

  std::mt19937_64 rng_;
  Micros now_ = Micros{1700000000} * 1000 * 1000;
  Micros horizon_ = now_;
  uint64_t offers_ = 0, pledges_ = 0;
};

// Plays the writer thread: stamps, applies, commits, snapshots.
struct Writer {
  // Stamps `commands` (unless `stamp` is false: they are stamped already),
  // applies them as one group to `engine`, journals them into `store` (if
  // any) and returns the outcomes' digests. *commit gets the Commit status.
  static std::vector<std::string> Group(Engine& engine, DurableStore* store,
                                        CommandGen& gen,
                                        std::vector<WriteCommand>& commands,
                                        absl::Status* commit,
                                        bool stamp = true) {
    std::vector<WriteOutcome> outcomes;
    outcomes.reserve(commands.size());
    for (WriteCommand& c : commands) {
      if (stamp) c.now = gen.Stamp();
      outcomes.push_back(ApplyCommand(engine, c));
    }
    std::vector<const WriteCommand*> cp;
    std::vector<const WriteOutcome*> op;
    for (size_t i = 0; i < commands.size(); ++i) {
      cp.push_back(&commands[i]);
      op.push_back(&outcomes[i]);
    }
    *commit = absl::OkStatus();
    if (store != nullptr) {
      *commit = store->Commit(cp, op);
      if (commit->ok()) store->MaybeSnapshot();
    }
    std::vector<std::string> digests;
    for (const WriteOutcome& o : outcomes) digests.push_back(Digest(o));
    return digests;
  }
};

DurabilityOptions Options(const std::string& dir, FileEnv* env = nullptr) {
  DurabilityOptions o;
  o.dir = dir;
  if (env != nullptr) o.env = env;
  o.fsync = false;  // these tests crash the "process", not the machine
  o.segment_bytes = 4096;
  o.snapshot_every_records = 0;
  o.snapshot_interval = absl::ZeroDuration();
  o.log = [](absl::string_view) {};
  return o;
}

std::unique_ptr<DurableStore> OpenOk(const DurabilityOptions& options) {
  absl::StatusOr<std::unique_ptr<DurableStore>> store =
      DurableStore::Open(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

// --- Replay -----------------------------------------------------------------

// Random streams, restarted at random points (a clean shutdown with its
// snapshot, or a crash right after a group), against an engine that never
// restarts: the state hash before and after each restart is equal, and so
// are the answers, the match stream and the final state.
TEST(ReplayTest, RestartsAtRandomPointsReproduceHashAndMatches) {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    TempDir dir;
    CommandGen gen(seed);
    std::mt19937_64& rng = gen.rng();
    DurabilityOptions options = Options(dir.path());
    options.segment_bytes = 512 + rng() % 8192;
    options.snapshot_every_records = rng() % 2 ? 0 : 50 + rng() % 300;
    Engine reference;
    std::unique_ptr<DurableStore> store = OpenOk(options);
    ASSERT_NE(store, nullptr);
    absl::Status commit;
    auto group = [&](std::vector<WriteCommand> commands) {
      for (WriteCommand& c : commands) c.now = gen.Stamp();
      std::vector<WriteCommand> copy = commands;
      std::vector<std::string> got = Writer::Group(
          *store->engine(), store.get(), gen, commands, &commit, false);
      EXPECT_TRUE(commit.ok()) << commit;
      EXPECT_EQ(got,
                Writer::Group(reference, nullptr, gen, copy, &commit, false));
    };
    group(gen.SetUp());
    const int groups = 150 + rng() % 150;
    int restarts = 0;
    for (int g = 0; g < groups; ++g) {
      SCOPED_TRACE(absl::StrCat("group ", g));
      std::vector<WriteCommand> commands;
      const int n = 1 + rng() % 12;
      for (int i = 0; i < n; ++i) commands.push_back(gen.Next());
      group(std::move(commands));
      const uint64_t r = rng() % 25;
      if (r <= 1) {
        const uint64_t hash = store->engine()->StateHash();
        if (r == 1) store->SimulateCrashForTesting();
        store.reset();  // r == 0: a clean shutdown, with its snapshot
        store = OpenOk(options);
        ASSERT_NE(store, nullptr);
        ASSERT_EQ(store->engine()->StateHash(), hash)
            << (r == 0 ? "after a clean restart" : "after a crash");
        ++restarts;
      }
    }
    EXPECT_EQ(store->engine()->StateHash(), reference.StateHash());
    EXPECT_EQ(AllMatches(*store->engine()), AllMatches(reference));
    EXPECT_EQ(store->engine()->SaveState(), reference.SaveState());
    EXPECT_GT(restarts, 0);
  }
}

// A journal replayed with no snapshot at all rebuilds the same state, and
// segments are rolled at the size limit and pruned behind snapshots.
TEST(ReplayTest, SegmentsRollAndArePrunedBehindSnapshots) {
  TempDir dir;
  CommandGen gen(99);
  DurabilityOptions options = Options(dir.path());
  options.segment_bytes = 1024;
  options.snapshot_every_records = 200;
  std::unique_ptr<DurableStore> store = OpenOk(options);
  absl::Status commit;
  std::vector<WriteCommand> setup = gen.SetUp();
  Writer::Group(*store->engine(), store.get(), gen, setup, &commit);
  for (int g = 0; g < 300; ++g) {
    std::vector<WriteCommand> group;
    for (int i = 0; i < 5; ++i) group.push_back(gen.Next());
    Writer::Group(*store->engine(), store.get(), gen, group, &commit);
    ASSERT_TRUE(commit.ok());
  }
  const uint64_t hash = store->engine()->StateHash();
  const uint64_t position = store->position();
  EXPECT_GT(store->stats().segments, 5u);
  store->SimulateCrashForTesting();
  store.reset();
  const std::vector<std::string> snaps = Files(dir.path(), "snapshot-");
  EXPECT_EQ(snaps.size(), 2u);
  // No segment wholly before the older kept snapshot survives.
  uint64_t older = 0;
  ASSERT_TRUE(ParseSnapshotFileName(snaps.front(), &older));
  const std::vector<std::string> segs = Files(dir.path(), "journal-");
  ASSERT_GE(segs.size(), 2u);
  uint64_t second = 0;
  ASSERT_TRUE(ParseSegmentFileName(segs[1], &second));
  EXPECT_GT(second, older + 1);
  store = OpenOk(options);
  EXPECT_EQ(store->engine()->StateHash(), hash);
  EXPECT_EQ(store->position(), position);
  EXPECT_GT(store->report().snapshot_seq, 0u);
}

// --- Damage -----------------------------------------------------------------

// Builds a data directory with one segment of `groups` single-command
// groups and no snapshot; returns the hash after each record count.
struct Built {
  std::vector<uint64_t> hash_after;  // [k] = state hash after k records
  std::vector<uint64_t> record_end;  // [k] = file offset after k records
  std::string segment;               // its path
};

Built Build(const std::string& dir, int records) {
  Built built;
  DurabilityOptions options = Options(dir);
  options.segment_bytes = uint64_t{1} << 30;
  std::unique_ptr<DurableStore> store = OpenOk(options);
  CommandGen gen(7);
  built.hash_after.push_back(store->engine()->StateHash());
  built.record_end.push_back(0);
  std::vector<WriteCommand> setup = gen.SetUp();
  absl::Status commit;
  int done = 0;
  for (WriteCommand& c : setup) {
    std::vector<WriteCommand> one;
    one.push_back(std::move(c));
    Writer::Group(*store->engine(), store.get(), gen, one, &commit);
  }
  done = store->position();
  while (static_cast<int>(store->position()) < records) {
    std::vector<WriteCommand> one;
    one.push_back(gen.Next());
    Writer::Group(*store->engine(), store.get(), gen, one, &commit);
    (void)done;
  }
  store->SimulateCrashForTesting();
  store.reset();
  built.segment = JoinPath(dir, SegmentFileName(1));
  // Offsets and hashes per record, by replaying the frames.
  const std::string data = ReadAll(built.segment);
  Engine engine;
  built.hash_after.assign(1, engine.StateHash());
  SegmentScan scan;
  uint64_t offset = 0;
  EXPECT_TRUE(ScanSegment(
                  data, 1,
                  [&](const JournalRecord& r) {
                    EXPECT_TRUE(ReplayRecord(engine, r).ok());
                    built.hash_after.push_back(engine.StateHash());
                    return absl::OkStatus();
                  },
                  &scan)
                  .ok());
  // Frame ends.
  while (offset < data.size()) {
    uint32_t len = 0;
    for (int i = 0; i < 4; ++i) {
      len |= uint32_t{static_cast<uint8_t>(data[offset + i])} << (8 * i);
    }
    offset += kFrameHeaderBytes + len;
    built.record_end.push_back(offset);
  }
  EXPECT_EQ(built.record_end.size(), built.hash_after.size());
  return built;
}

// A crash mid-write leaves any prefix of the last record: every length is
// truncated away, with the bytes dropped reported, and the state is that of
// the records before it.
TEST(DamageTest, TornTailOfEveryLengthIsTruncated) {
  TempDir dir;
  Built built = Build(dir.path(), 40);
  const size_t n = built.record_end.size() - 1;  // records
  const std::string whole = ReadAll(built.segment);
  const uint64_t last_start = built.record_end[n - 1];
  ASSERT_EQ(whole.size(), built.record_end[n]);
  for (uint64_t keep = last_start; keep < whole.size(); ++keep) {
    SCOPED_TRACE(absl::StrCat("tail of ", keep - last_start, " bytes"));
    WriteAll(built.segment, whole.substr(0, keep));
    std::vector<std::string> lines;
    DurabilityOptions options = Options(dir.path());
    options.log = [&lines](absl::string_view l) { lines.emplace_back(l); };
    std::unique_ptr<DurableStore> store = OpenOk(options);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->engine()->StateHash(), built.hash_after[n - 1]);
    EXPECT_EQ(store->report().torn_bytes_dropped, keep - last_start);
    EXPECT_EQ(store->position(), n - 1);
    if (keep > last_start) {
      ASSERT_FALSE(lines.empty());
      EXPECT_TRUE(absl::StrContains(
          lines[0], absl::StrCat("dropping ", keep - last_start, " bytes")))
          << lines[0];
    }
    store->SimulateCrashForTesting();
    store.reset();
    EXPECT_EQ(ReadAll(built.segment).size(), last_start);
    for (const std::string& seg : Files(dir.path(), "journal-")) {
      if (JoinPath(dir.path(), seg) != built.segment) {
        fs::remove(JoinPath(dir.path(), seg));
      }
    }
  }
  // Zeros after the last record (a file extended but never written) are a
  // torn tail too.
  WriteAll(built.segment, whole + std::string(100, '\0'));
  std::unique_ptr<DurableStore> store = OpenOk(Options(dir.path()));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->engine()->StateHash(), built.hash_after[n]);
  EXPECT_EQ(store->report().torn_bytes_dropped, 100u);
}

// A flipped byte anywhere in a record that good records follow is
// corruption: DATA_LOSS naming the file and the offset, and nothing on disk
// changes. --repair then truncates there and keeps a copy.
TEST(DamageTest, FlippedByteMidSegmentIsDataLossAndRepairTruncates) {
  TempDir dir;
  Built built = Build(dir.path(), 60);
  const std::string whole = ReadAll(built.segment);
  const size_t victim = 30;  // record 31 (1-based) is damaged
  const uint64_t begin = built.record_end[victim];
  const uint64_t end = built.record_end[victim + 1];
  for (uint64_t at = begin; at < end; ++at) {
    SCOPED_TRACE(absl::StrCat("byte ", at - begin, " of the record"));
    std::string damaged = whole;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x5a);
    WriteAll(built.segment, damaged);
    absl::StatusOr<std::unique_ptr<DurableStore>> store =
        DurableStore::Open(Options(dir.path()));
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss)
        << store.status();
    EXPECT_TRUE(absl::StrContains(store.status().message(), built.segment));
    EXPECT_TRUE(absl::StrContains(store.status().message(),
                                  absl::StrCat("offset ", begin)))
        << store.status();
    EXPECT_EQ(ReadAll(built.segment), damaged) << "nothing is overwritten";
    EXPECT_EQ(Files(dir.path(), "journal-").size(), 1u);
  }
  // Repair: truncate at the damaged record.
  std::string damaged = whole;
  damaged[begin + 12] ^= 0x01;
  WriteAll(built.segment, damaged);
  std::vector<std::string> lines;
  DurabilityOptions options = Options(dir.path());
  options.repair = true;
  options.log = [&lines](absl::string_view l) { lines.emplace_back(l); };
  std::unique_ptr<DurableStore> store = OpenOk(options);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->report().repaired);
  EXPECT_EQ(store->engine()->StateHash(), built.hash_after[victim]);
  EXPECT_EQ(store->position(), victim);
  ASSERT_FALSE(lines.empty());
  EXPECT_TRUE(absl::StrContains(lines[0], "repair:")) << lines[0];
  EXPECT_TRUE(
      absl::StrContains(lines[0], absl::StrCat(whole.size() - begin, " bytes")))
      << lines[0];
  EXPECT_EQ(ReadAll(built.segment + ".damaged"), damaged);
}

// A segment missing from the middle of the journal is DATA_LOSS too.
TEST(DamageTest, MissingSegmentIsDataLoss) {
  TempDir dir;
  CommandGen gen(5);
  DurabilityOptions options = Options(dir.path());
  options.segment_bytes = 600;
  std::unique_ptr<DurableStore> store = OpenOk(options);
  absl::Status commit;
  for (int g = 0; g < 50; ++g) {
    std::vector<WriteCommand> group =
        g == 0 ? gen.SetUp() : std::vector<WriteCommand>{gen.Next()};
    Writer::Group(*store->engine(), store.get(), gen, group, &commit);
  }
  store->SimulateCrashForTesting();
  store.reset();
  std::vector<std::string> segs = Files(dir.path(), "journal-");
  ASSERT_GE(segs.size(), 3u);
  fs::remove(JoinPath(dir.path(), segs[1]));
  absl::StatusOr<std::unique_ptr<DurableStore>> bad =
      DurableStore::Open(options);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss) << bad.status();
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "previous one ends"))
      << bad.status();
}

// A truncated newest snapshot falls back to the older one (and the journal
// after it); with every snapshot damaged and the early journal pruned, the
// start is refused with DATA_LOSS.
TEST(DamageTest, TruncatedSnapshotFallsBackToOlder) {
  TempDir dir;
  CommandGen gen(11);
  DurabilityOptions options = Options(dir.path());
  options.segment_bytes = 2048;
  uint64_t hash = 0;
  absl::Status commit;
  for (int round = 0; round < 3; ++round) {
    std::unique_ptr<DurableStore> store = OpenOk(options);
    for (int g = 0; g < 60; ++g) {
      std::vector<WriteCommand> group =
          round == 0 && g == 0 ? gen.SetUp()
                               : std::vector<WriteCommand>{gen.Next()};
      Writer::Group(*store->engine(), store.get(), gen, group, &commit);
    }
    hash = store->engine()->StateHash();
  }  // each clean close snapshots
  std::vector<std::string> snaps = Files(dir.path(), "snapshot-");
  ASSERT_EQ(snaps.size(), 2u);
  const std::string newest = JoinPath(dir.path(), snaps[1]);
  const std::string bytes = ReadAll(newest);
  WriteAll(newest, bytes.substr(0, bytes.size() / 2));
  std::vector<std::string> lines;
  options.log = [&lines](absl::string_view l) { lines.emplace_back(l); };
  {
    std::unique_ptr<DurableStore> store = OpenOk(options);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->engine()->StateHash(), hash);
    EXPECT_EQ(store->report().snapshot_file, snaps[0]);
    ASSERT_FALSE(lines.empty());
    EXPECT_TRUE(absl::StrContains(lines[0], "truncated")) << lines[0];
    store->SimulateCrashForTesting();
  }
  // Both damaged.
  WriteAll(JoinPath(dir.path(), snaps[0]), "DJSNAP01");
  absl::StatusOr<std::unique_ptr<DurableStore>> bad =
      DurableStore::Open(options);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss) << bad.status();
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "missing"))
      << bad.status();
}

TEST(DamageTest, EmptyDirectoryStartsFresh) {
  TempDir dir;
  std::unique_ptr<DurableStore> store = OpenOk(Options(dir.path()));
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->report().fresh);
  EXPECT_EQ(store->position(), 0u);
  EXPECT_EQ(store->engine()->StateHash(), Engine().StateHash());
  store.reset();
  // A clean close of an empty store writes nothing to recover.
  store = OpenOk(Options(dir.path()));
  EXPECT_TRUE(store->report().fresh);
}

TEST(DamageTest, MissingParentAndLockedDirectoryAreClearErrors) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<DurableStore>> missing =
      DurableStore::Open(Options(dir.File("no/such/dir")));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "does not exist"))
      << missing.status();

  std::unique_ptr<DurableStore> first = OpenOk(Options(dir.path()));
  absl::StatusOr<std::unique_ptr<DurableStore>> second =
      DurableStore::Open(Options(dir.path()));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition)
      << second.status();
}

// A read-only directory: refused at start with PERMISSION_DENIED. As root,
// chmod does not stop writes, so that case runs through the fault-injecting
// env instead (ReadOnlyDirectoryThroughFaultEnv).
TEST(DamageTest, ReadOnlyDirectory) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "running as root, where a 0555 directory is still "
                    "writable; ReadOnlyDirectoryThroughFaultEnv covers this";
  }
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0555), 0);
  absl::StatusOr<std::unique_ptr<DurableStore>> store =
      DurableStore::Open(Options(dir.path()));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kPermissionDenied)
      << store.status();
  EXPECT_TRUE(absl::StrContains(store.status().message(), "cannot be written"))
      << store.status();
}

TEST(DamageTest, ReadOnlyDirectoryThroughFaultEnv) {
  TempDir dir;
  FaultInjectionEnv env(FileEnv::Default());
  env.SetReadOnly(true);
  absl::StatusOr<std::unique_ptr<DurableStore>> store =
      DurableStore::Open(Options(dir.path(), &env));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kPermissionDenied)
      << store.status();
  EXPECT_TRUE(absl::StrContains(store.status().message(), "cannot be written"))
      << store.status();
}

// --- Fault injection
// ----------------------------------------------------------

// Drives a store through `env` until a Commit fails, then recovers with
// the real env: every group whose Commit succeeded is there; the failed
// group is wholly there or wholly absent; nothing after it was accepted.
void RunUntilFault(FaultInjectionEnv& env, const std::string& dir, bool fsync,
                   absl::StatusCode want, std::function<void()> arm) {
  DurabilityOptions options = Options(dir, &env);
  options.fsync = fsync;
  options.segment_bytes = 2048;
  std::unique_ptr<DurableStore> store = OpenOk(options);
  ASSERT_NE(store, nullptr);
  CommandGen gen(3);
  absl::Status commit;
  std::vector<WriteCommand> setup = gen.SetUp();
  Writer::Group(*store->engine(), store.get(), gen, setup, &commit);
  ASSERT_TRUE(commit.ok());
  uint64_t acked_hash = store->engine()->StateHash();
  arm();
  uint64_t failed_hash = 0;
  for (int g = 0; g < 500; ++g) {
    std::vector<WriteCommand> group;
    for (int i = 0; i < 4; ++i) group.push_back(gen.Next());
    Writer::Group(*store->engine(), store.get(), gen, group, &commit);
    if (!commit.ok()) {
      failed_hash = store->engine()->StateHash();
      break;
    }
    acked_hash = store->engine()->StateHash();
  }
  ASSERT_FALSE(commit.ok()) << "the fault never fired";
  EXPECT_EQ(commit.code(), want) << commit;
  EXPECT_TRUE(absl::StrContains(commit.message(), "not made durable"))
      << commit;
  // Sticky: the journal accepts nothing more.
  std::vector<WriteCommand> more{gen.Next()};
  absl::Status again;
  Writer::Group(*store->engine(), store.get(), gen, more, &again);
  EXPECT_FALSE(again.ok());
  store->SimulateCrashForTesting();
  store.reset();
  env.Reset();
  std::unique_ptr<DurableStore> recovered = OpenOk(Options(dir));
  ASSERT_NE(recovered, nullptr);
  const uint64_t hash = recovered->engine()->StateHash();
  EXPECT_TRUE(hash == acked_hash || hash == failed_hash)
      << "recovered state is neither before nor after the failed group";
}

TEST(FaultTest, FailedWriteIsReportedAndNothingIsAcknowledged) {
  for (int n = 1; n <= 12; n += 3) {
    SCOPED_TRACE(absl::StrCat("append ", n));
    TempDir dir;
    FaultInjectionEnv env(FileEnv::Default());
    RunUntilFault(env, dir.path(), false, absl::StatusCode::kInternal,
                  [&] { env.FailAppendAfter(n); });
  }
}

TEST(FaultTest, FullDiskShortWriteIsReportedAndTornTailRecovered) {
  for (size_t written : {0, 1, 7, 8, 30}) {
    SCOPED_TRACE(absl::StrCat("short write of ", written));
    TempDir dir;
    FaultInjectionEnv env(FileEnv::Default());
    RunUntilFault(env, dir.path(), false, absl::StatusCode::kResourceExhausted,
                  [&] { env.FailAppendAfter(5, true, written); });
  }
}

TEST(FaultTest, FailedSyncIsReportedAndNothingIsAcknowledged) {
  for (int n = 1; n <= 6; n += 2) {
    SCOPED_TRACE(absl::StrCat("sync ", n));
    TempDir dir;
    FaultInjectionEnv env(FileEnv::Default());
    RunUntilFault(env, dir.path(), true, absl::StatusCode::kInternal,
                  [&] { env.FailSyncAfter(n); });
  }
}

// A failing directory (read-only from some point on) fails the segment
// roll, which is reported like a failed write.
TEST(FaultTest, FailedSegmentRollIsReported) {
  TempDir dir;
  FaultInjectionEnv env(FileEnv::Default());
  RunUntilFault(env, dir.path(), false, absl::StatusCode::kPermissionDenied,
                [&] { env.SetReadOnly(true); });
}

// A snapshot that cannot be written is reported, and the journal goes on;
// recovery then replays from the journal.
TEST(FaultTest, FailedSnapshotLeavesJournalUsable) {
  TempDir dir;
  FaultInjectionEnv env(FileEnv::Default());
  DurabilityOptions options = Options(dir.path(), &env);
  std::unique_ptr<DurableStore> store = OpenOk(options);
  CommandGen gen(4);
  absl::Status commit;
  std::vector<WriteCommand> setup = gen.SetUp();
  Writer::Group(*store->engine(), store.get(), gen, setup, &commit);
  env.FailSyncAfter(1);  // the snapshot's fsync (the journal does not sync)
  absl::StatusOr<uint64_t> snap = store->SnapshotNow();
  EXPECT_FALSE(snap.ok());
  EXPECT_TRUE(Files(dir.path(), "snapshot-").empty());
  env.Reset();
  for (int g = 0; g < 20; ++g) {
    std::vector<WriteCommand> group{gen.Next()};
    Writer::Group(*store->engine(), store.get(), gen, group, &commit);
    ASSERT_TRUE(commit.ok()) << commit;
  }
  const uint64_t hash = store->engine()->StateHash();
  store->SimulateCrashForTesting();
  store.reset();
  store = OpenOk(Options(dir.path()));
  EXPECT_EQ(store->engine()->StateHash(), hash);
}

// Group commit: one sync per Commit however many commands it holds.
TEST(JournalTest, OneSyncPerGroup) {
  TempDir dir;
  FaultInjectionEnv env(FileEnv::Default());
  DurabilityOptions options = Options(dir.path(), &env);
  options.fsync = true;
  options.segment_bytes = uint64_t{1} << 30;
  std::unique_ptr<DurableStore> store = OpenOk(options);
  CommandGen gen(8);
  absl::Status commit;
  std::vector<WriteCommand> setup = gen.SetUp();
  Writer::Group(*store->engine(), store.get(), gen, setup, &commit);
  const int64_t syncs = env.syncs();
  std::vector<WriteCommand> group;
  for (int i = 0; i < 200; ++i) group.push_back(gen.Next());
  Writer::Group(*store->engine(), store.get(), gen, group, &commit);
  ASSERT_TRUE(commit.ok());
  EXPECT_EQ(env.syncs() - syncs, 1);
  EXPECT_EQ(store->stats().groups, 2u);
}

// Records round-trip through the codec, ticks included.
TEST(JournalTest, RecordsRoundTrip) {
  CommandGen gen(12);
  for (int i = 0; i < 500; ++i) {
    JournalRecord r;
    r.seq = i + 1;
    r.tick = i % 7 == 0;
    r.command = gen.Next();
    r.command.now = gen.Stamp();
    if (r.tick) {
      WriteCommand bare;
      bare.now = r.command.now;
      r.command = bare;
    } else {
      r.effect = {i % 2 == 0, uint64_t(i), uint64_t(i % 3), uint64_t(i * 2)};
    }
    const std::string payload = EncodeRecord(r);
    absl::StatusOr<JournalRecord> back = DecodeRecord(payload);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(EncodeRecord(*back), payload);
    EXPECT_EQ(back->seq, r.seq);
    EXPECT_EQ(back->tick, r.tick);
    // Any truncation is refused.
    EXPECT_FALSE(DecodeRecord(payload.substr(0, payload.size() - 1)).ok());
  }
}

}  // namespace
}  // namespace duijie
