// ReferenceData: the regions (GB/T 2260 codes, with their priority flags)
// and the east-west pairings between them, and the partner look-ups the
// matching needs. Owned by the engine; changed only by the region and
// pairing commands.
#ifndef DUIJIE_ENGINE_REFERENCE_DATA_H_
#define DUIJIE_ENGINE_REFERENCE_DATA_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "engine/byte_codec.h"
#include "engine/interner.h"
#include "engine/types.h"

namespace duijie {

struct RegionRecord {
  uint32_t code;  // interned string
  std::string name;
  bool key_assisted;
  bool relocation_site;
  // A priority region: served first by pledges that reach it.
  bool priority() const { return key_assisted || relocation_site; }
};

// A small set of region codes.
using CodeSet = absl::InlinedVector<int32_t, 4>;

class ReferenceData {
 public:
  // `strings` holds region codes; not owned, must outlive this.
  explicit ReferenceData(Interner* strings) : strings_(*strings) {}

  // --- Validation (INVALID_ARGUMENT or NOT_FOUND naming `field`) ----------

  // Parses `text` into *code and checks the region is known.
  absl::Status CheckKnownRegion(std::string_view field, std::string_view text,
                                int32_t* code) const;
  absl::Status CheckRegion(const Region& region) const;
  // With `sides_apart`, also CheckPairingSidesApart once both sides are
  // sound (journals written before that rule replay without it).
  absl::Status CheckPairing(const Pairing& pairing, bool sides_apart) const;
  // INVALID_ARGUMENT naming west_code when the sides of a well-formed
  // pairing are one region or one holds the other.
  absl::Status CheckPairingSidesApart(const Pairing& pairing) const;
  absl::Status CheckPairingExists(std::string_view east_text,
                                  std::string_view west_text) const;

  // --- Changes (after the matching Check* passed) -------------------------

  // Creates or replaces the region; returns whether its priority changed.
  bool PutRegion(const Region& region);
  void PutPairing(const Pairing& pairing);
  // Removes the pairing and returns it as it was.
  Pairing RemovePairing(std::string_view east_text, std::string_view west_text);

  // --- Look-ups --------------------------------------------------------------

  bool IsPriorityRegion(int32_t region) const;
  // Whether the region is a national key assisted county (false when
  // unknown).
  bool IsKeyAssisted(int32_t region) const;
  // The pairing that makes a match between a pledge of `city` and an offer
  // of `region` a partner match, as the matching decides it (a pairing
  // whose east code covers the city and whose west code covers the
  // region); of several, the one nearest the city, then nearest the
  // region. False when none does.
  bool CoveringPairing(int32_t city, int32_t region, int32_t* east,
                       int32_t* west) const;
  // The region's code as text; the region must be known.
  std::string_view CodeText(int32_t region) const {
    return strings_.Get(regions_.at(region).code);
  }
  bool Known(int32_t region) const { return regions_.contains(region); }
  // The outermost west codes paired with the city or any of its ancestors,
  // and the outermost east codes paired with the region or its ancestors.
  CodeSet PartnerWestCodes(int32_t city) const;
  CodeSet PartnerEastCodes(int32_t region) const;

  // See Engine::ListRegions.
  std::vector<Region> ListRegions(std::string_view prefix,
                                  std::string_view after, int limit, bool* more,
                                  std::string_view name_contains,
                                  int64_t* total) const;
  std::vector<Pairing> ListPairings(std::string_view prefix,
                                    std::string_view after_east,
                                    std::string_view after_west, int limit,
                                    bool* more, int64_t* total) const;

  // --- State -----------------------------------------------------------------

  // Regions by code, then pairings by (east, west) (engine_state.cc's
  // layout). Load returns false on malformed input.
  void Save(ByteWriter& w) const;
  bool Load(ByteReader& r);

  // Rebuilt from pairings_ (for CheckInvariants): whether the partner
  // indexes agree with the pairings.
  bool PartnerIndexConsistent() const;

  // Changes whenever the pairings may have changed, so that a cache of
  // partner look-ups (AlertMonitor's) knows when to start again.
  uint64_t pairings_version() const { return pairings_version_; }

 private:
  void RebuildPartnerIndex();
  // Recomputes partners_ for the regions a pairing (east, west) covers, or
  // for every region.
  void RefreshPartners(int32_t east, int32_t west);
  void RefreshAllPartners();

  Interner& strings_;
  absl::flat_hash_map<int32_t, RegionRecord> regions_;
  std::map<std::pair<int32_t, int32_t>, std::string> pairings_;
  // Derived from pairings_.
  absl::flat_hash_map<int32_t, CodeSet> west_by_east_;
  absl::flat_hash_map<int32_t, CodeSet> east_by_west_;
  // Each known region's PartnerWestCodes (as a buyer's city) and
  // PartnerEastCodes (as an offer's region), kept as regions and pairings
  // change: every incoming order asks for its own, and working them out
  // from the pairings each time (three look-ups and a merge) cost more
  // than the rest of the look-up.
  struct Partners {
    CodeSet west;
    CodeSet east;
  };
  absl::flat_hash_map<int32_t, Partners> partners_;
  // Both of the region's partner code sets, worked out from the pairings.
  Partners PartnersOfRegion(int32_t code) const;
  uint64_t pairings_version_ = 0;
};

}  // namespace duijie

#endif  // DUIJIE_ENGINE_REFERENCE_DATA_H_
