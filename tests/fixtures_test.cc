// Data directories written by an earlier duijie-server (tests/fixtures/, made
// by tests/fixtures/make_fixtures.sh with the binaries of commit d557dde)
// still recover, through DurableStore::Open, to the state hash that server
// reported, replaying the same number of journal records from the same
// snapshot. A change to the journal or snapshot format, or to how replay
// rebuilds the engine, that breaks existing data directories fails here.
//
// Each fixture is copied to a fresh temporary directory first: opening a
// data directory starts a new journal segment and closing it writes a
// snapshot, and the fixtures must stay as they were made.
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#if __has_include("api/durable_store.h")
#include "api/durable_store.h"
#else
#include "api/recovery.h"  // the name of the header at d557dde
#endif

#ifndef DUIJIE_FIXTURES_DIR
#error "DUIJIE_FIXTURES_DIR must name the tests/fixtures directory"
#endif

namespace duijie {
namespace {

namespace fs = std::filesystem;

// What the server that made a fixture reported (duijie admin state-hash)
// just before it was killed; see tests/fixtures/README.md.
struct Fixture {
  const char* name;
  uint64_t state_hash;
  uint64_t snapshot_seq;      // 0: no snapshot
  uint64_t replayed_records;  // journal records after the snapshot
};

constexpr Fixture kJournalOnly = {"journal-only", 0x0b225ce5eab29c10, 0, 66};
constexpr Fixture kSnapshotAndJournal = {"snapshot-and-journal",
                                         0x0dd74ea2bbcd13b1, 66, 10};

// A copy of a fixture in a fresh temporary directory, removed at the end.
class FixtureCopy {
 public:
  explicit FixtureCopy(const char* name) {
    std::string tmpl = fs::temp_directory_path() / "duijie-fixture-XXXXXX";
    root_ = ::mkdtemp(tmpl.data());
    dir_ = root_ / name;
    fs::copy(fs::path(DUIJIE_FIXTURES_DIR) / name, dir_,
             fs::copy_options::recursive);
  }
  ~FixtureCopy() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  std::string dir() const { return dir_.string(); }

 private:
  fs::path root_;
  fs::path dir_;
};

std::string Hex(uint64_t hash) { return absl::StrFormat("%016x", hash); }

void ExpectRecovers(const Fixture& fixture) {
  SCOPED_TRACE(fixture.name);
  ASSERT_TRUE(fs::is_directory(fs::path(DUIJIE_FIXTURES_DIR) / fixture.name))
      << "missing fixture " << DUIJIE_FIXTURES_DIR << "/" << fixture.name;
  FixtureCopy copy(fixture.name);
  DurabilityOptions options;
  options.dir = copy.dir();
  options.fsync = false;
  {
    absl::StatusOr<std::unique_ptr<DurableStore>> store =
        DurableStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    const RecoveryReport& report = (*store)->report();
    EXPECT_FALSE(report.fresh);
    EXPECT_EQ(report.snapshot_seq, fixture.snapshot_seq);
    EXPECT_TRUE(report.damaged_snapshots.empty());
    EXPECT_EQ(report.replayed_records, fixture.replayed_records);
    EXPECT_EQ(report.last_seq, fixture.snapshot_seq + fixture.replayed_records);
    EXPECT_EQ(report.torn_bytes_dropped, 0u);
    EXPECT_FALSE(report.repaired);
    EXPECT_EQ(Hex((*store)->engine()->StateHash()), Hex(fixture.state_hash));
    // Orders of old journals have no match deadlines, which the invariants
    // allow.
    absl::Status consistent = (*store)->engine()->CheckInvariants();
    EXPECT_TRUE(consistent.ok()) << consistent;
    ASSERT_TRUE((*store)->Close().ok());
  }
  // Opened again, what the code under test wrote on top of the fixture
  // (its snapshot, or its journal segment) gives the same state.
  absl::StatusOr<std::unique_ptr<DurableStore>> again =
      DurableStore::Open(options);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(Hex((*again)->engine()->StateHash()), Hex(fixture.state_hash));
}

TEST(FixturesTest, JournalOnlyReplaysToTheRecordedState) {
  ExpectRecovers(kJournalOnly);
}

TEST(FixturesTest, SnapshotAndJournalRecoversToTheRecordedState) {
  ExpectRecovers(kSnapshotAndJournal);
}

}  // namespace
}  // namespace duijie
