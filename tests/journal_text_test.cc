// Journals written before the server refused control characters in ids
// and names still recover, to the same state: replay does not apply the
// newer rule to what the journal already holds. Part of durability_test.
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "api/durable_store.h"
#include "engine/command.h"
#include "engine/engine.h"
#include "gtest/gtest.h"

namespace duijie {
namespace {

constexpr Micros kT0 = 1'700'000'000'000'000;

DurabilityOptions Options(const std::string& dir) {
  DurabilityOptions o;
  o.dir = dir;
  o.fsync = false;
  o.snapshot_every_records = 0;
  o.snapshot_interval = absl::ZeroDuration();
  o.log = [](absl::string_view) {};
  return o;
}

TEST(JournalTextTest, CommandsWithControlCharactersJournaledEarlierReplay) {
  std::string tmpl =
      std::filesystem::temp_directory_path() / "duijie-journal-text-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl.data());
  uint64_t hash = 0;
  {
    absl::StatusOr<std::unique_ptr<DurableStore>> store =
        DurableStore::Open(Options(dir));
    ASSERT_TRUE(store.ok()) << store.status();
    Engine& engine = *(*store)->engine();
    // What an earlier server accepted and journaled: a region named with a
    // newline and an offer whose supplier_id holds ESC. Today's Apply
    // refuses them; Replay is how such a journal is read back.
    OfferSpec offer;
    offer.supplier_id = "coop\x1b[2J";
    offer.region_code = "620826";
    offer.product_code = "fruit.apple";
    offer.grade = 2;
    offer.quantity_kg = 10;
    offer.floor_price_fen_per_kg = 300;
    offer.expires_at = kT0 + 1'000'000;
    Command commands[] = {
        MakeCommand(TickCommand{}, kT0),
        MakeCommand(UpsertRegionCommand{Region{"620826", "Jingning\nfake"}},
                    kT0),
        MakeCommand(PostOfferCommand{offer}, kT0)};
    for (Command& command : commands) {
      if (!std::holds_alternative<TickCommand>(command.body)) {
        EXPECT_FALSE(engine.Apply(command).ok());
      }
      CommandOutcome outcome = engine.Replay(command);
      ASSERT_TRUE(outcome.ok()) << outcome.status();
      const Command* journaled[] = {&command};
      const CommandOutcome* outcomes[] = {&outcome};
      ASSERT_TRUE((*store)->Commit(journaled, outcomes).ok());
    }
    hash = engine.StateHash();
    (*store)->SimulateCrashForTesting();
  }
  absl::StatusOr<std::unique_ptr<DurableStore>> store =
      DurableStore::Open(Options(dir));
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->report().replayed_records, 3u);
  EXPECT_EQ((*store)->engine()->StateHash(), hash);
  absl::StatusOr<OfferView> view = (*store)->engine()->GetOffer(1, kT0);
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(view->supplier_id, "coop\x1b[2J");
  (*store)->SimulateCrashForTesting();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace duijie
