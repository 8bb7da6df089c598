// Recovery's table of cases (api/recovery.h), one TEST per row: each builds
// its situation on disk through DurableStore itself (journaling ticks,
// taking snapshots, crashing), damages the files as a crash or a bad disk
// would, opens the directory with and without repair and checks the status,
// the report, the log and the files left. Then the pure decision functions
// directly, on the edges the files make awkward to reach.
#include "api/recovery.h"

#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "api/durable_store.h"
#include "api/file_env.h"
#include "api/journal_format.h"
#include "api/snapshot.h"
#include "engine/command.h"
#include "engine/engine.h"
#include "gtest/gtest.h"

namespace duijie {
namespace {

namespace fs = std::filesystem;

constexpr Micros kSecond = Micros{1000} * 1000;
constexpr Micros kEpoch = Micros{1700000000} * kSecond;
// Every segment rolls after four tick records (25 bytes each), so a few
// records make several segments: journal-1 (1..4), journal-5 (5..8), ...
constexpr uint64_t kSmallSegments = 100;
constexpr uint64_t kOneSegment = uint64_t{1} << 30;

// The clock record `seq` moves the engine to: the engine's clock after
// recovery says which record was replayed last.
Micros ClockAt(uint64_t seq) {
  return kEpoch + static_cast<Micros>(seq) * kSecond;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

void FlipByte(const std::string& path, uint64_t offset) {
  std::string bytes = ReadAll(path);
  ASSERT_LT(offset, bytes.size()) << path;
  bytes[offset] = static_cast<char>(bytes[offset] ^ 0x5a);
  WriteAll(path, bytes);
}

// Every file in `dir` with its bytes, to check that nothing changed.
std::vector<std::pair<std::string, std::string>> Contents(
    const std::string& dir) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename();
    if (name != "LOCK") out.emplace_back(name, ReadAll(entry.path()));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A data directory in a fresh temp dir (removed at the end), written and
// recovered through DurableStore with the options of these tests.
class DataDir {
 public:
  DataDir() {
    std::string tmpl = fs::temp_directory_path() / "duijie-rec-XXXXXX";
    dir_ = ::mkdtemp(tmpl.data());
  }
  ~DataDir() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  const std::string& dir() const { return dir_; }
  std::string Path(const std::string& name) const {
    return JoinPath(dir_, name);
  }
  std::string Segment(uint64_t first_seq) const {
    return Path(SegmentFileName(first_seq));
  }
  std::string Snapshot(uint64_t seq) const {
    return Path(SnapshotFileName(seq));
  }
  bool Has(const std::string& name) const { return fs::exists(Path(name)); }
  const std::vector<std::string>& log() const { return log_; }
  // Whether a logged line holds `phrase`.
  bool Logged(absl::string_view phrase) const {
    return std::any_of(log_.begin(), log_.end(), [&](const std::string& l) {
      return absl::StrContains(l, phrase);
    });
  }

  DurabilityOptions Options(uint64_t segment_bytes, bool repair) {
    DurabilityOptions o;
    o.dir = dir_;
    o.fsync = false;  // these tests crash the process, not the machine
    o.segment_bytes = segment_bytes;
    o.snapshot_every_records = 0;  // snapshots only where a test takes one
    o.snapshot_interval = absl::ZeroDuration();
    o.repair = repair;
    o.log = [this](absl::string_view line) { log_.emplace_back(line); };
    return o;
  }

  absl::StatusOr<std::unique_ptr<DurableStore>> Open(
      uint64_t segment_bytes = kSmallSegments, bool repair = false) {
    log_.clear();
    return DurableStore::Open(Options(segment_bytes, repair));
  }

  // Opens, journals ticks up to seq `last` (taking a snapshot after each
  // seq in `snapshot_at`), and crashes: no snapshot at the end.
  void Write(uint64_t last, std::vector<uint64_t> snapshot_at = {},
             uint64_t segment_bytes = kSmallSegments) {
    absl::StatusOr<std::unique_ptr<DurableStore>> opened = Open(segment_bytes);
    ASSERT_TRUE(opened.ok()) << opened.status();
    DurableStore& store = **opened;
    while (store.position() < last) {
      Command tick = MakeCommand(TickCommand{}, ClockAt(store.position() + 1));
      CommandOutcome outcome = store.engine()->TickAndApply(tick);
      ASSERT_TRUE(outcome.ok()) << outcome.status();
      const Command* commands[] = {&tick};
      const CommandOutcome* outcomes[] = {&outcome};
      ASSERT_TRUE(store.Commit(commands, outcomes).ok());
      if (std::count(snapshot_at.begin(), snapshot_at.end(), store.position()) >
          0) {
        absl::StatusOr<uint64_t> snapshot = store.SnapshotNow();
        ASSERT_TRUE(snapshot.ok()) << snapshot.status();
      }
    }
    store.SimulateCrashForTesting();
  }

 private:
  std::string dir_;
  std::vector<std::string> log_;
};

// The bytes of one tick record's frame, as the journal writes it.
uint64_t TickFrameBytes() {
  std::string frame;
  std::string payload;
  EncodeRecord(1, MakeCommand(TickCommand{}, ClockAt(1)), CommandEffect(),
               &payload);
  AppendFrame(payload, &frame);
  return frame.size();
}

// Checks a refusal: DATA_LOSS holding every phrase, and nothing on disk
// changed.
void ExpectRefused(DataDir& data, bool repair, uint64_t segment_bytes,
                   const std::vector<std::string>& phrases) {
  const auto before = Contents(data.dir());
  absl::StatusOr<std::unique_ptr<DurableStore>> store =
      data.Open(segment_bytes, repair);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss)
      << store.status();
  for (const std::string& phrase : phrases) {
    EXPECT_TRUE(absl::StrContains(store.status().message(), phrase))
        << "want \"" << phrase << "\" in " << store.status();
  }
  EXPECT_EQ(Contents(data.dir()), before) << "a refusal changes nothing";
}

// --- The table, row by row --------------------------------------------------

// kSnapshotDamaged: a damaged newest snapshot is passed over for the older
// one and the journal after it, with or without repair, and left in place.
TEST(RecoveryTableTest, SnapshotDamagedFallsBackToOlder) {
  for (bool repair : {false, true}) {
    for (bool wrong_seq : {false, true}) {
      SCOPED_TRACE(absl::StrCat("repair ", repair, ", wrong seq ", wrong_seq));
      DataDir data;
      data.Write(25, {10, 20}, kOneSegment);
      ASSERT_TRUE(data.Has(SnapshotFileName(10)));
      if (wrong_seq) {
        // Whole and valid, but not the state its name promises.
        WriteAll(data.Snapshot(20), ReadAll(data.Snapshot(10)));
      } else {
        const uint64_t size = fs::file_size(data.Snapshot(20));
        FlipByte(data.Snapshot(20), size - 1);
      }
      absl::StatusOr<std::unique_ptr<DurableStore>> store =
          data.Open(kOneSegment, repair);
      ASSERT_TRUE(store.ok()) << store.status();
      const RecoveryReport& report = (*store)->report();
      EXPECT_EQ(report.snapshot_seq, 10u);
      EXPECT_EQ(report.damaged_snapshots,
                std::vector<std::string>{SnapshotFileName(20)});
      EXPECT_EQ(report.last_seq, 25u);
      EXPECT_EQ(report.replayed_records, 15u);
      EXPECT_FALSE(report.repaired);
      EXPECT_EQ((*store)->engine()->now(), ClockAt(25));
      EXPECT_TRUE(data.Logged("is damaged")) << absl::StrJoin(data.log(), "\n");
      EXPECT_TRUE(data.Logged("trying an older one"));
      if (wrong_seq) {
        EXPECT_TRUE(data.Logged("its header says seq 10"));
      }
      EXPECT_TRUE(data.Has(SnapshotFileName(20)));
      (*store)->SimulateCrashForTesting();
    }
  }
}

// kEmpty: nothing, or only an empty segment a crash left before its first
// record, starts empty.
TEST(RecoveryTableTest, EmptyStartsFresh) {
  for (bool repair : {false, true}) {
    SCOPED_TRACE(absl::StrCat("repair ", repair));
    DataDir data;
    data.Write(0);  // leaves an empty journal-1
    ASSERT_TRUE(data.Has(SegmentFileName(1)));
    absl::StatusOr<std::unique_ptr<DurableStore>> store =
        data.Open(kSmallSegments, repair);
    ASSERT_TRUE(store.ok()) << store.status();
    const RecoveryReport& report = (*store)->report();
    EXPECT_TRUE(report.fresh);
    EXPECT_EQ(report.snapshot_seq, 0u);
    EXPECT_EQ(report.last_seq, 0u);
    EXPECT_TRUE(report.damaged_snapshots.empty());
    EXPECT_EQ((*store)->engine()->StateHash(), Engine().StateHash());
    EXPECT_TRUE(data.log().empty()) << absl::StrJoin(data.log(), "\n");
    (*store)->SimulateCrashForTesting();
  }
}

// kReplay: the records after the snapshot are replayed; the segments the
// snapshot covers are not even read, and a snapshot with nothing after it
// is the position.
TEST(RecoveryTableTest, ReplayAfterSnapshot) {
  for (bool repair : {false, true}) {
    SCOPED_TRACE(absl::StrCat("repair ", repair));
    DataDir data;
    data.Write(15, {6, 10});
    // The second snapshot pruned journal-1, not journal-5 (5..8), which
    // holds records after the older snapshot it keeps.
    EXPECT_FALSE(data.Has(SegmentFileName(1)));
    ASSERT_TRUE(data.Has(SegmentFileName(5)));
    FlipByte(data.Segment(5), 12);
    {
      absl::StatusOr<std::unique_ptr<DurableStore>> store =
          data.Open(kSmallSegments, repair);
      ASSERT_TRUE(store.ok()) << store.status();
      const RecoveryReport& report = (*store)->report();
      EXPECT_FALSE(report.fresh);
      EXPECT_EQ(report.snapshot_seq, 10u);
      EXPECT_TRUE(report.damaged_snapshots.empty());
      EXPECT_EQ(report.replayed_records, 5u);
      EXPECT_EQ(report.last_seq, 15u);
      EXPECT_EQ(report.torn_bytes_dropped, 0u);
      EXPECT_FALSE(report.repaired);
      EXPECT_EQ((*store)->engine()->now(), ClockAt(15));
      EXPECT_TRUE(data.Logged("recovered 5 journal records after " +
                              SnapshotFileName(10)))
          << absl::StrJoin(data.log(), "\n");
      ASSERT_TRUE((*store)->Close().ok());  // snapshots at 15
    }
    absl::StatusOr<std::unique_ptr<DurableStore>> store =
        data.Open(kSmallSegments, repair);
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ((*store)->report().snapshot_seq, 15u);
    EXPECT_EQ((*store)->report().replayed_records, 0u);
    EXPECT_EQ((*store)->report().last_seq, 15u);
    EXPECT_EQ((*store)->engine()->now(), ClockAt(15));
    (*store)->SimulateCrashForTesting();
  }
}

// kRebuildFromJournal: with the only snapshot damaged and the journal
// starting at seq 1, the state is rebuilt from the whole journal.
TEST(RecoveryTableTest, RebuildFromWholeJournal) {
  for (bool repair : {false, true}) {
    SCOPED_TRACE(absl::StrCat("repair ", repair));
    DataDir data;
    data.Write(15, {10}, kOneSegment);  // one segment: nothing is pruned
    const std::string snapshot = ReadAll(data.Snapshot(10));
    WriteAll(data.Snapshot(10), snapshot.substr(0, snapshot.size() / 2));
    absl::StatusOr<std::unique_ptr<DurableStore>> store =
        data.Open(kOneSegment, repair);
    ASSERT_TRUE(store.ok()) << store.status();
    const RecoveryReport& report = (*store)->report();
    EXPECT_EQ(report.snapshot_seq, 0u);
    EXPECT_TRUE(report.snapshot_file.empty());
    EXPECT_EQ(report.damaged_snapshots,
              std::vector<std::string>{SnapshotFileName(10)});
    EXPECT_EQ(report.replayed_records, 15u);
    EXPECT_EQ(report.last_seq, 15u);
    EXPECT_EQ((*store)->engine()->now(), ClockAt(15));
    EXPECT_TRUE(data.Logged("rebuilding the state from the whole journal"))
        << absl::StrJoin(data.log(), "\n");
    (*store)->SimulateCrashForTesting();
  }
}

// kNoStateLeft: every snapshot damaged and no journal: DATA_LOSS, which
// repair cannot help.
TEST(RecoveryTableTest, NoSnapshotReadsAndNoJournalIsDataLoss) {
  DataDir data;
  data.Write(10, {10}, kOneSegment);
  for (const auto& [name, bytes] : Contents(data.dir())) {
    if (absl::StartsWith(name, "journal-")) fs::remove(data.Path(name));
  }
  FlipByte(data.Snapshot(10), 0);  // the magic
  for (bool repair : {false, true}) {
    SCOPED_TRACE(absl::StrCat("repair ", repair));
    ExpectRefused(
        data, repair, kOneSegment,
        {"no snapshot can be read (" + SnapshotFileName(10) + " damaged)",
         "there is no journal to rebuild the state from"});
  }
}

// kJournalGap: the journal starts past what the snapshot (or, with none,
// seq 1) covers: DATA_LOSS naming the missing records, with or without
// repair.
TEST(RecoveryTableTest, JournalGapIsDataLoss) {
  for (bool repair : {false, true}) {
    SCOPED_TRACE(absl::StrCat("repair ", repair));
    {
      DataDir data;  // no snapshot, journal-1 gone
      data.Write(12);
      fs::remove(data.Segment(1));
      ExpectRefused(data, repair, kSmallSegments,
                    {"journal records 1..4 are missing: there is no snapshot",
                     SegmentFileName(5) + ", starts at 5"});
    }
    {
      DataDir data;  // a snapshot at 6, journal-1 and journal-5 (5..8) gone
      data.Write(12, {6});
      fs::remove(data.Segment(1));
      fs::remove(data.Segment(5));
      ExpectRefused(data, repair, kSmallSegments,
                    {"journal records 7..8 are missing: the snapshot covers "
                     "up to 6",
                     SegmentFileName(9) + ", starts at 9"});
    }
    {
      DataDir data;  // the only snapshot damaged, journal-1 gone
      data.Write(12, {12}, kOneSegment);
      fs::rename(data.Segment(1), data.Segment(3));
      FlipByte(data.Snapshot(12), 0);
      ExpectRefused(data, repair, kOneSegment,
                    {"journal records 1..2 are missing: no snapshot can be "
                     "read (" +
                     SnapshotFileName(12) + " damaged)"});
    }
  }
}

// kTornTail: a cut final record in the last segment is truncated away, the
// bytes dropped logged and reported, with or without repair.
TEST(RecoveryTableTest, TornTailIsTruncated) {
  const uint64_t frame = TickFrameBytes();
  for (bool repair : {false, true}) {
    SCOPED_TRACE(absl::StrCat("repair ", repair));
    DataDir data;
    data.Write(10);  // journal-9 holds 9 and 10
    ASSERT_EQ(fs::file_size(data.Segment(9)), 2 * frame);
    fs::resize_file(data.Segment(9), 2 * frame - 10);
    absl::StatusOr<std::unique_ptr<DurableStore>> store =
        data.Open(kSmallSegments, repair);
    ASSERT_TRUE(store.ok()) << store.status();
    const RecoveryReport& report = (*store)->report();
    EXPECT_EQ(report.torn_bytes_dropped, frame - 10);
    EXPECT_FALSE(report.repaired);
    EXPECT_EQ(report.last_seq, 9u);
    EXPECT_EQ((*store)->engine()->now(), ClockAt(9));
    EXPECT_EQ(fs::file_size(data.Segment(9)), frame);
    EXPECT_TRUE(
        data.Logged(absl::StrCat("torn final record at offset ", frame)))
        << absl::StrJoin(data.log(), "\n");
    EXPECT_TRUE(data.Logged(absl::StrCat("dropping ", frame - 10, " bytes")));
    EXPECT_FALSE(data.Has(SegmentFileName(9) + ".damaged"));
    (*store)->SimulateCrashForTesting();
  }
}

// kCorruptRecord: a flipped byte with records after it is refused, changing
// nothing; repair keeps the segment as .damaged, sets the later ones aside
// as .lost and truncates at the damage.
TEST(RecoveryTableTest, CorruptRecordRefusedOrRepaired) {
  const uint64_t frame = TickFrameBytes();
  DataDir data;
  data.Write(12);                         // journal-1, journal-5, journal-9
  FlipByte(data.Segment(5), frame + 12);  // in record 6's payload
  const std::string damaged = ReadAll(data.Segment(5));
  ExpectRefused(
      data, /*repair=*/false, kSmallSegments,
      {absl::StrCat("journal ", data.Segment(5), " at offset ", frame,
                    ": checksum mismatch, followed by 2 readable record(s)"),
       "Nothing was changed. Restart with --repair",
       absl::StrCat("losing ", 3 * frame,
                    " bytes after it in this segment and 1 later segment(s) "
                    "of ",
                    4 * frame, " bytes")});

  absl::StatusOr<std::unique_ptr<DurableStore>> store =
      data.Open(kSmallSegments, /*repair=*/true);
  ASSERT_TRUE(store.ok()) << store.status();
  const RecoveryReport& report = (*store)->report();
  EXPECT_TRUE(report.repaired);
  EXPECT_EQ(report.last_seq, 5u);
  EXPECT_EQ(report.torn_bytes_dropped, 0u);
  EXPECT_EQ((*store)->engine()->now(), ClockAt(5));
  EXPECT_TRUE(data.Logged("repair: journal "))
      << absl::StrJoin(data.log(), "\n");
  EXPECT_TRUE(data.Logged("(kept aside as " + SegmentFileName(5) +
                          ".damaged and *.lost)"));
  EXPECT_EQ(ReadAll(data.Segment(5) + ".damaged"), damaged);
  EXPECT_EQ(fs::file_size(data.Segment(5)), frame);
  EXPECT_TRUE(data.Has(SegmentFileName(9) + ".lost"));
  EXPECT_FALSE(data.Has(SegmentFileName(9)));
  (*store)->SimulateCrashForTesting();
}

// kDamagedSegmentNotLast: a cut final record is a torn tail only in the
// last segment; before another one it is corruption.
TEST(RecoveryTableTest, DamageInNonFinalSegmentRefusedOrRepaired) {
  const uint64_t frame = TickFrameBytes();
  DataDir data;
  data.Write(12);
  fs::resize_file(data.Segment(5), 4 * frame - 3);  // record 8 cut short
  ExpectRefused(data, /*repair=*/false, kSmallSegments,
                {absl::StrCat("journal ", data.Segment(5), " at offset ",
                              3 * frame, ": record of "),
                 absl::StrCat("losing ", frame - 3,
                              " bytes after it in this segment and 1 later "
                              "segment(s)")});

  absl::StatusOr<std::unique_ptr<DurableStore>> store =
      data.Open(kSmallSegments, /*repair=*/true);
  ASSERT_TRUE(store.ok()) << store.status();
  const RecoveryReport& report = (*store)->report();
  EXPECT_TRUE(report.repaired);
  EXPECT_EQ(report.torn_bytes_dropped, 0u);
  EXPECT_EQ(report.last_seq, 7u);
  EXPECT_EQ((*store)->engine()->now(), ClockAt(7));
  EXPECT_TRUE(data.Has(SegmentFileName(5) + ".damaged"));
  EXPECT_EQ(fs::file_size(data.Segment(5)), 3 * frame);
  EXPECT_TRUE(data.Has(SegmentFileName(9) + ".lost"));
  (*store)->SimulateCrashForTesting();
}

// kSegmentOutOfSequence: a segment missing from the middle is refused;
// repair sets aside the segment after the gap and all later ones.
TEST(RecoveryTableTest, MissingSegmentRefusedOrRepaired) {
  const uint64_t frame = TickFrameBytes();
  DataDir data;
  data.Write(16);  // journal-1, 5, 9, 13
  fs::remove(data.Segment(5));
  const std::string after_gap = ReadAll(data.Segment(9));
  ExpectRefused(data, /*repair=*/false, kSmallSegments,
                {absl::StrCat("journal ", data.Segment(9),
                              " at offset 0: segment starts at seq 9 but the "
                              "previous one ends at 4"),
                 absl::StrCat("1 later segment(s) of ", 4 * frame, " bytes")});

  absl::StatusOr<std::unique_ptr<DurableStore>> store =
      data.Open(kSmallSegments, /*repair=*/true);
  ASSERT_TRUE(store.ok()) << store.status();
  const RecoveryReport& report = (*store)->report();
  EXPECT_TRUE(report.repaired);
  EXPECT_EQ(report.last_seq, 4u);
  EXPECT_EQ((*store)->engine()->now(), ClockAt(4));
  EXPECT_TRUE(data.Logged("previous one ends at 4"))
      << absl::StrJoin(data.log(), "\n");
  EXPECT_EQ(ReadAll(data.Segment(9) + ".damaged"), after_gap);
  EXPECT_TRUE(data.Has(SegmentFileName(9) + ".lost"));
  EXPECT_TRUE(data.Has(SegmentFileName(13) + ".lost"));
  EXPECT_FALSE(data.Has(SegmentFileName(9)));
  EXPECT_FALSE(data.Has(SegmentFileName(13)));
  (*store)->SimulateCrashForTesting();
  store = data.Open(kSmallSegments);  // repaired for good
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->report().last_seq, 4u);
  (*store)->SimulateCrashForTesting();
}

// --- The decision functions -------------------------------------------------

TEST(RecoveryDecisionTest, SnapshotSeqMustMatchItsName) {
  EXPECT_TRUE(CheckSnapshotSeq(7, 7).ok());
  absl::Status wrong = CheckSnapshotSeq(7, 3);
  EXPECT_EQ(wrong.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(wrong.message(), "its header says seq 3, its name 7");
  EXPECT_EQ(DamagedSnapshotLine("d/s.snap", absl::DataLossError("truncated")),
            "snapshot d/s.snap is damaged (truncated); trying an older one");
}

TEST(RecoveryDecisionTest, FirstSegmentToReplaySkipsCoveredOnes) {
  const std::vector<uint64_t> segments = {1, 5, 9};
  EXPECT_EQ(FirstSegmentToReplay(segments, 0), 0u);
  EXPECT_EQ(FirstSegmentToReplay(segments, 3), 0u);
  EXPECT_EQ(FirstSegmentToReplay(segments, 4), 1u);  // 5 is the next record
  EXPECT_EQ(FirstSegmentToReplay(segments, 8), 2u);
  EXPECT_EQ(FirstSegmentToReplay(segments, 100), 2u);  // the last one stays
  EXPECT_EQ(FirstSegmentToReplay({}, 5), 0u);
}

TEST(RecoveryDecisionTest, JournalStart) {
  const std::vector<std::string> none;
  const std::vector<std::string> damaged = {"snapshot-a", "snapshot-b"};
  const std::vector<uint64_t> from1 = {1, 5};
  const std::vector<uint64_t> from5 = {5};
  struct Case {
    uint64_t base;
    const std::vector<std::string>* damaged;
    std::vector<uint64_t> segments;
    RecoverySituation want;
    std::string phrase;  // in the status or the log line
  };
  const Case cases[] = {
      {0, &none, {}, RecoverySituation::kEmpty, ""},
      {9, &none, {}, RecoverySituation::kReplay, ""},
      {0, &none, from1, RecoverySituation::kReplay, ""},
      {4, &damaged, from5, RecoverySituation::kReplay, ""},
      {0, &damaged, from1, RecoverySituation::kRebuildFromJournal,
       "rebuilding the state from the whole journal"},
      {0,
       &damaged,
       {},
       RecoverySituation::kNoStateLeft,
       "d: no snapshot can be read (snapshot-a, snapshot-b damaged) and there "
       "is no journal"},
      {0, &none, from5, RecoverySituation::kJournalGap,
       "d: journal records 1..4 are missing: there is no snapshot and the "
       "oldest journal segment, " +
           SegmentFileName(5) + ", starts at 5"},
      {0, &damaged, from5, RecoverySituation::kJournalGap,
       "missing: no snapshot can be read (snapshot-a, snapshot-b damaged)"},
      {2, &none, from5, RecoverySituation::kJournalGap,
       "journal records 3..4 are missing: the snapshot covers up to 2"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(RecoverySituationName(c.want));
    const StartDecision d =
        DecideJournalStart("d", c.base, *c.damaged, c.segments);
    EXPECT_EQ(d.situation, c.want) << RecoverySituationName(d.situation);
    const bool refused = c.want == RecoverySituation::kNoStateLeft ||
                         c.want == RecoverySituation::kJournalGap;
    EXPECT_EQ(d.status.code(),
              refused ? absl::StatusCode::kDataLoss : absl::StatusCode::kOk);
    const std::string said = refused ? std::string(d.status.message()) : d.log;
    EXPECT_TRUE(absl::StrContains(said, c.phrase)) << said;
    if (c.phrase.empty()) {
      EXPECT_EQ(said, "");
    }
  }
}

TEST(RecoveryDecisionTest, ClassifySegmentDamage) {
  SegmentScan cut;  // nothing valid after the damage
  cut.damaged = true;
  SegmentScan followed = cut;
  followed.valid_after = true;
  EXPECT_EQ(ClassifySegmentDamage(true, cut), RecoverySituation::kTornTail);
  EXPECT_EQ(ClassifySegmentDamage(false, cut),
            RecoverySituation::kDamagedSegmentNotLast);
  EXPECT_EQ(ClassifySegmentDamage(true, followed),
            RecoverySituation::kCorruptRecord);
  EXPECT_EQ(ClassifySegmentDamage(false, followed),
            RecoverySituation::kCorruptRecord);
}

TEST(RecoveryDecisionTest, PlansForDamage) {
  SegmentPlace last;
  last.path = "d/journal-5.log";
  last.name = "journal-5.log";
  SegmentScan scan;
  scan.damaged = true;
  scan.good_bytes = 50;
  scan.damage = "checksum mismatch";

  // A torn tail is truncated whatever repair says.
  for (bool repair : {false, true}) {
    const DamagePlan torn = PlanSegmentDamage(last, scan, 60, repair);
    EXPECT_EQ(torn.situation, RecoverySituation::kTornTail);
    EXPECT_EQ(torn.action, DamageAction::kTruncateTornTail);
    EXPECT_EQ(torn.truncate_at, 50u);
    EXPECT_EQ(torn.torn_bytes, 10u);
    EXPECT_EQ(torn.log,
              "journal d/journal-5.log: torn final record at offset 50 "
              "(checksum mismatch); the crash cut it short, dropping 10 bytes");
  }

  SegmentPlace middle = last;
  middle.last = false;
  middle.later_segments = 2;
  middle.later_bytes = 300;
  scan.valid_after = true;
  scan.records_after = 3;
  const DamagePlan refuse = PlanSegmentDamage(middle, scan, 60, false);
  EXPECT_EQ(refuse.situation, RecoverySituation::kCorruptRecord);
  EXPECT_EQ(refuse.action, DamageAction::kRefuse);
  EXPECT_EQ(refuse.refusal,
            absl::DataLossError(
                "journal d/journal-5.log at offset 50: checksum mismatch, "
                "followed by 3 readable record(s). Nothing was changed. "
                "Restart with --repair to truncate the journal here, losing "
                "10 bytes after it in this segment and 2 later segment(s) of "
                "300 bytes."));
  const DamagePlan repair = PlanSegmentDamage(middle, scan, 60, true);
  EXPECT_EQ(repair.action, DamageAction::kRepair);
  EXPECT_TRUE(repair.refusal.ok());
  EXPECT_EQ(repair.truncate_at, 50u);
  EXPECT_FALSE(repair.set_aside_segment);
  EXPECT_EQ(repair.log,
            "repair: journal d/journal-5.log at offset 50: checksum mismatch, "
            "followed by 3 readable record(s); truncating here, losing 10 "
            "bytes after it in this segment and 2 later segment(s) of 300 "
            "bytes (kept aside as journal-5.log.damaged and *.lost)");

  // Out of sequence: the whole segment goes, itself set aside too.
  const DamagePlan gap = PlanOutOfSequence(last, 9, 5, true);
  EXPECT_EQ(gap.situation, RecoverySituation::kSegmentOutOfSequence);
  EXPECT_EQ(gap.action, DamageAction::kRepair);
  EXPECT_EQ(gap.truncate_at, 0u);
  EXPECT_TRUE(gap.set_aside_segment);
  EXPECT_TRUE(absl::StrContains(
      gap.log, "segment starts at seq 9 but the previous one ends at 4"));
  const DamagePlan gap_refused = PlanOutOfSequence(last, 9, 5, false);
  EXPECT_EQ(gap_refused.action, DamageAction::kRefuse);
  EXPECT_FALSE(gap_refused.set_aside_segment);
  EXPECT_EQ(gap_refused.refusal.code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace duijie
