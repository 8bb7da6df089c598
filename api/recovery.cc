// Recovery's decisions. See recovery.h for the table of cases.
#include "api/recovery.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace duijie {
namespace {

// "no snapshot can be read (a, b damaged)".
std::string NoSnapshotReads(absl::Span<const std::string> damaged_snapshots) {
  return absl::StrCat("no snapshot can be read (",
                      absl::StrJoin(damaged_snapshots, ", "), " damaged)");
}

// Corruption at `offset` of the segment at `place` (`file_bytes` long),
// `what` saying what is wrong: refused without repair, repaired with it.
DamagePlan PlanCorruption(RecoverySituation situation,
                          const SegmentPlace& place, uint64_t offset,
                          uint64_t file_bytes, const std::string& what,
                          bool repair) {
  DamagePlan plan;
  plan.situation = situation;
  std::string loss =
      absl::StrCat(file_bytes - offset, " bytes after it in this segment");
  if (!place.last) {
    absl::StrAppend(&loss, " and ", place.later_segments,
                    " later segment(s) of ", place.later_bytes, " bytes");
  }
  const std::string where =
      absl::StrCat("journal ", place.path, " at offset ", offset, ": ", what);
  if (!repair) {
    plan.action = DamageAction::kRefuse;
    plan.refusal = absl::DataLossError(
        absl::StrCat(where,
                     ". Nothing was changed. Restart with --repair to truncate "
                     "the journal here, losing ",
                     loss, "."));
    return plan;
  }
  plan.action = DamageAction::kRepair;
  plan.truncate_at = offset;
  plan.log = absl::StrCat("repair: ", where, "; truncating here, losing ", loss,
                          " (kept aside as ", place.name, ".damaged",
                          place.last ? "" : " and *.lost", ")");
  return plan;
}

}  // namespace

const char* RecoverySituationName(RecoverySituation situation) {
  switch (situation) {
    case RecoverySituation::kSnapshotDamaged:
      return "kSnapshotDamaged";
    case RecoverySituation::kEmpty:
      return "kEmpty";
    case RecoverySituation::kReplay:
      return "kReplay";
    case RecoverySituation::kRebuildFromJournal:
      return "kRebuildFromJournal";
    case RecoverySituation::kNoStateLeft:
      return "kNoStateLeft";
    case RecoverySituation::kJournalGap:
      return "kJournalGap";
    case RecoverySituation::kTornTail:
      return "kTornTail";
    case RecoverySituation::kCorruptRecord:
      return "kCorruptRecord";
    case RecoverySituation::kDamagedSegmentNotLast:
      return "kDamagedSegmentNotLast";
    case RecoverySituation::kSegmentOutOfSequence:
      return "kSegmentOutOfSequence";
  }
  return "?";
}

absl::Status CheckSnapshotSeq(uint64_t name_seq, uint64_t header_seq) {
  if (header_seq == name_seq) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat("its header says seq ", header_seq,
                                          ", its name ", name_seq));
}

std::string DamagedSnapshotLine(absl::string_view path,
                                const absl::Status& why) {
  return absl::StrCat("snapshot ", path, " is damaged (", why.message(),
                      "); trying an older one");
}

size_t FirstSegmentToReplay(absl::Span<const uint64_t> segments,
                            uint64_t base) {
  // Segment i + 1 starting at or before base + 1 means segment i holds
  // nothing after base.
  size_t begin = 0;
  while (begin + 1 < segments.size() && segments[begin + 1] <= base + 1) {
    ++begin;
  }
  return begin;
}

StartDecision DecideJournalStart(
    absl::string_view dir, uint64_t base,
    absl::Span<const std::string> damaged_snapshots,
    absl::Span<const uint64_t> segments) {
  StartDecision decision;
  const bool none_reads = base == 0 && !damaged_snapshots.empty();
  if (segments.empty()) {
    if (none_reads) {
      decision.situation = RecoverySituation::kNoStateLeft;
      decision.status = absl::DataLossError(absl::StrCat(
          "data_dir ", dir, ": ", NoSnapshotReads(damaged_snapshots),
          " and there is no journal to rebuild the state from"));
    } else {
      decision.situation =
          base == 0 ? RecoverySituation::kEmpty : RecoverySituation::kReplay;
    }
    return decision;
  }
  if (segments.front() > base + 1) {
    decision.situation = RecoverySituation::kJournalGap;
    decision.status = absl::DataLossError(absl::StrCat(
        "data_dir ", dir, ": journal records ", base + 1, "..",
        segments.front() - 1, " are missing: ",
        base == 0
            ? (damaged_snapshots.empty() ? std::string("there is no snapshot")
                                         : NoSnapshotReads(damaged_snapshots))
            : absl::StrCat("the snapshot covers up to ", base),
        " and the oldest journal segment, ", SegmentFileName(segments.front()),
        ", starts at ", segments.front()));
    return decision;
  }
  if (none_reads) {
    decision.situation = RecoverySituation::kRebuildFromJournal;
    decision.log =
        "no snapshot can be read; rebuilding the state from the whole journal";
  }
  return decision;
}

RecoverySituation ClassifySegmentDamage(bool last_segment,
                                        const SegmentScan& scan) {
  if (scan.valid_after) return RecoverySituation::kCorruptRecord;
  if (!last_segment) return RecoverySituation::kDamagedSegmentNotLast;
  return RecoverySituation::kTornTail;
}

DamagePlan PlanSegmentDamage(const SegmentPlace& place, const SegmentScan& scan,
                             uint64_t file_bytes, bool repair) {
  const RecoverySituation situation = ClassifySegmentDamage(place.last, scan);
  if (situation == RecoverySituation::kTornTail) {
    // What a crash mid-write leaves: nothing acknowledged is lost, so no
    // repair is asked for.
    DamagePlan plan;
    plan.situation = situation;
    plan.action = DamageAction::kTruncateTornTail;
    plan.truncate_at = scan.good_bytes;
    plan.torn_bytes = file_bytes - scan.good_bytes;
    plan.log = absl::StrCat(
        "journal ", place.path, ": torn final record at offset ",
        scan.good_bytes, " (", scan.damage,
        "); the crash cut it short, dropping ", plan.torn_bytes, " bytes");
    return plan;
  }
  std::string what = scan.damage;
  if (scan.valid_after) {
    absl::StrAppend(&what, ", followed by ", scan.records_after,
                    " readable record(s)");
  }
  return PlanCorruption(situation, place, scan.good_bytes, file_bytes, what,
                        repair);
}

DamagePlan PlanOutOfSequence(const SegmentPlace& place, uint64_t first_seq,
                             uint64_t expected_first, bool repair) {
  DamagePlan plan = PlanCorruption(
      RecoverySituation::kSegmentOutOfSequence, place, 0, 0,
      absl::StrCat("segment starts at seq ", first_seq,
                   " but the previous one ends at ", expected_first - 1),
      repair);
  // Nothing in it can be replayed after the gap: it is set aside too.
  plan.set_aside_segment = plan.action == DamageAction::kRepair;
  return plan;
}

}  // namespace duijie
