// ReferenceData. See reference_data.h.
#include "engine/reference_data.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/codes.h"
#include "engine/engine.h"
#include "engine/text.h"
#include "engine/violations.h"

namespace duijie {

absl::Status ReferenceData::CheckKnownRegion(std::string_view field,
                                             std::string_view text,
                                             int32_t* code) const {
  if (absl::Status s = CheckRegionCode(field, text, code); !s.ok()) return s;
  if (!regions_.contains(*code)) {
    return absl::NotFoundError(absl::StrCat(Absl(field), ": region ",
                                            EchoValue(text), " is not known"));
  }
  return absl::OkStatus();
}

absl::Status ReferenceData::CheckRegion(const Region& region) const {
  // Every field, so that a refusal names all that are bad (violations.h).
  Violations v;
  int32_t code;
  v.Add(CheckRegionCode("region.code", region.code, &code));
  v.Add(
      CheckMaxCharacters("region.name", region.name, kMaxRegionNameCharacters));
  return v.ToStatus();
}

absl::Status ReferenceData::CheckPairing(const Pairing& pairing,
                                         bool sides_apart) const {
  // Every field, so that a refusal names all that are bad (violations.h).
  // An unknown region (NOT_FOUND) found first is still the answer alone.
  Violations v;
  int32_t east, west;
  v.Add(CheckKnownRegion("pairing.east_code", pairing.east_code, &east));
  v.Add(CheckKnownRegion("pairing.west_code", pairing.west_code, &west));
  v.Add(CheckMaxBytes("pairing.note", pairing.note, kMaxPairingNoteBytes));
  // Where the sides lie only means something once both are sound codes.
  if (sides_apart && !v.Bad("pairing.east_code") &&
      !v.Bad("pairing.west_code")) {
    v.Add(CheckPairingSidesApart(pairing));
  }
  return v.ToStatus();
}

absl::Status ReferenceData::CheckPairingSidesApart(
    const Pairing& pairing) const {
  int32_t east = 0, west = 0;
  ParseRegionCode(pairing.east_code, &east);
  ParseRegionCode(pairing.west_code, &west);
  if (!RegionCovers(east, west) && !RegionCovers(west, east)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "pairing.west_code: ", EchoValue(pairing.west_code),
      east == west ? " is the east side too"
                   : (RegionCovers(east, west) ? " lies within the east side "
                                               : " holds the east side "),
      east == west ? "" : EchoValue(pairing.east_code),
      "; a pairing joins an eastern city with a western region"));
}

absl::Status ReferenceData::CheckPairingExists(
    std::string_view east_text, std::string_view west_text) const {
  int32_t east, west;
  if (absl::Status s = CheckRegionCode("east_code", east_text, &east);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckRegionCode("west_code", west_text, &west);
      !s.ok()) {
    return s;
  }
  if (pairings_.count({east, west}) == 0) {
    return absl::NotFoundError(absl::StrCat("pairing ", Absl(east_text), " - ",
                                            Absl(west_text),
                                            " does not exist"));
  }
  return absl::OkStatus();
}

namespace {

// The codes paired with `code` or any of its ancestors in `index`, with
// codes covered by another left out.
CodeSet PartnersOf(const absl::flat_hash_map<int32_t, CodeSet>& index,
                   int32_t code) {
  CodeSet out;
  for (int32_t ancestor : RegionChainOf(code)) {
    auto it = index.find(ancestor);
    if (it == index.end()) continue;
    out.insert(out.end(), it->second.begin(), it->second.end());
  }
  if (out.size() > 1) KeepOutermostCodes(&out);
  return out;
}

}  // namespace

bool ReferenceData::PutRegion(const Region& region) {
  int32_t code = 0;
  ParseRegionCode(region.code, &code);
  auto it = regions_.find(code);
  const bool was_priority = it != regions_.end() && it->second.priority();
  RegionRecord& r = regions_[code];
  r.code = strings_.Intern(region.code);
  r.name = region.name;
  r.key_assisted = region.key_assisted;
  r.relocation_site = region.relocation_site;
  partners_[code] = PartnersOfRegion(code);
  return r.priority() != was_priority;
}

void ReferenceData::PutPairing(const Pairing& pairing) {
  int32_t east = 0, west = 0;
  ParseRegionCode(pairing.east_code, &east);
  ParseRegionCode(pairing.west_code, &west);
  pairings_[{east, west}] = pairing.note;
  RebuildPartnerIndex();
  RefreshPartners(east, west);
}

Pairing ReferenceData::RemovePairing(std::string_view east_text,
                                     std::string_view west_text) {
  int32_t east = 0, west = 0;
  ParseRegionCode(east_text, &east);
  ParseRegionCode(west_text, &west);
  auto it = pairings_.find({east, west});
  Pairing removed{std::string(east_text), std::string(west_text), it->second};
  pairings_.erase(it);
  RebuildPartnerIndex();
  RefreshPartners(east, west);
  return removed;
}

bool ReferenceData::IsPriorityRegion(int32_t region) const {
  auto it = regions_.find(region);
  return it != regions_.end() && it->second.priority();
}

bool ReferenceData::IsKeyAssisted(int32_t region) const {
  auto it = regions_.find(region);
  return it != regions_.end() && it->second.key_assisted;
}

namespace {
// How deep a code sits: 0 a province, 1 a prefecture, 2 a county.
int RegionDepth(int32_t code) {
  if (code % 10000 == 0) return 0;
  return code % 100 == 0 ? 1 : 2;
}
}  // namespace

bool ReferenceData::CoveringPairing(int32_t city, int32_t region, int32_t* east,
                                    int32_t* west) const {
  bool found = false;
  for (const auto& [codes, note] : pairings_) {
    if (!RegionCovers(codes.first, city) ||
        !RegionCovers(codes.second, region)) {
      continue;
    }
    if (!found || RegionDepth(codes.first) > RegionDepth(*east) ||
        (RegionDepth(codes.first) == RegionDepth(*east) &&
         RegionDepth(codes.second) > RegionDepth(*west))) {
      *east = codes.first;
      *west = codes.second;
      found = true;
    }
  }
  return found;
}

void ReferenceData::RebuildPartnerIndex() {
  ++pairings_version_;
  west_by_east_.clear();
  east_by_west_.clear();
  for (const auto& [codes, note] : pairings_) {
    west_by_east_[codes.first].push_back(codes.second);
    east_by_west_[codes.second].push_back(codes.first);
  }
}

bool ReferenceData::PartnerIndexConsistent() const {
  size_t pairs = 0;
  for (const auto& [east, wests] : west_by_east_) {
    for (int32_t west : wests) {
      if (pairings_.count({east, west}) == 0) return false;
      ++pairs;
    }
  }
  size_t reverse = 0;
  for (const auto& [west, easts] : east_by_west_) {
    for (int32_t east : easts) {
      if (pairings_.count({east, west}) == 0) return false;
      ++reverse;
    }
  }
  if (pairs != pairings_.size() || reverse != pairings_.size()) return false;
  if (partners_.size() != regions_.size()) return false;
  for (const auto& [code, partners] : partners_) {
    const Partners fresh = PartnersOfRegion(code);
    if (!regions_.contains(code) || partners.west != fresh.west ||
        partners.east != fresh.east) {
      return false;
    }
  }
  return true;
}

void ReferenceData::RefreshPartners(int32_t east, int32_t west) {
  for (auto& [code, partners] : partners_) {
    if (RegionCovers(east, code)) {
      partners.west = PartnersOf(west_by_east_, code);
    }
    if (RegionCovers(west, code)) {
      partners.east = PartnersOf(east_by_west_, code);
    }
  }
}

void ReferenceData::RefreshAllPartners() {
  partners_.clear();
  for (const auto& [code, region] : regions_) {
    partners_[code] = PartnersOfRegion(code);
  }
}

ReferenceData::Partners ReferenceData::PartnersOfRegion(int32_t code) const {
  return Partners{PartnersOf(west_by_east_, code),
                  PartnersOf(east_by_west_, code)};
}

CodeSet ReferenceData::PartnerWestCodes(int32_t city) const {
  auto it = partners_.find(city);
  return it != partners_.end() ? it->second.west
                               : PartnersOf(west_by_east_, city);
}

CodeSet ReferenceData::PartnerEastCodes(int32_t region) const {
  auto it = partners_.find(region);
  return it != partners_.end() ? it->second.east
                               : PartnersOf(east_by_west_, region);
}

std::vector<Region> ReferenceData::ListRegions(std::string_view prefix,
                                               std::string_view after,
                                               int limit, bool* more,
                                               std::string_view name_contains,
                                               int64_t* total) const {
  std::vector<int32_t> codes;
  int64_t passing = 0;
  const std::string wanted = absl::AsciiStrToLower(std::string(name_contains));
  for (const auto& [code, r] : regions_) {
    const std::string_view text = strings_.Get(r.code);
    if (!StartsWith(text, prefix) ||
        (!wanted.empty() &&
         !absl::StrContains(absl::AsciiStrToLower(r.name), wanted))) {
      continue;
    }
    ++passing;
    if (text > after) codes.push_back(code);
  }
  if (total != nullptr) *total = passing;
  std::sort(codes.begin(), codes.end());
  *more = static_cast<int>(codes.size()) > limit;
  if (*more) codes.resize(limit);
  std::vector<Region> out;
  for (int32_t code : codes) {
    const RegionRecord& r = regions_.at(code);
    out.push_back(Region{std::string(strings_.Get(r.code)), r.name,
                         r.key_assisted, r.relocation_site});
  }
  return out;
}

std::vector<Pairing> ReferenceData::ListPairings(std::string_view prefix,
                                                 std::string_view after_east,
                                                 std::string_view after_west,
                                                 int limit, bool* more,
                                                 int64_t* total) const {
  std::vector<Pairing> out;
  *more = false;
  int64_t passing = 0;
  for (const auto& [codes, note] : pairings_) {
    std::string east = RegionCodeString(codes.first);
    std::string west = RegionCodeString(codes.second);
    if (!StartsWith(east, prefix) && !StartsWith(west, prefix)) continue;
    ++passing;
    if (std::make_pair(std::string_view(east), std::string_view(west)) <=
        std::make_pair(after_east, after_west)) {
      continue;
    }
    if (static_cast<int>(out.size()) == limit) {
      *more = true;
      if (total == nullptr) break;
      continue;  // counting the rest
    }
    out.push_back(Pairing{std::move(east), std::move(west), note});
  }
  if (total != nullptr) *total = passing;
  return out;
}

void ReferenceData::Save(ByteWriter& w) const {
  std::vector<int32_t> codes;
  for (const auto& [code, r] : regions_) codes.push_back(code);
  std::sort(codes.begin(), codes.end());
  w.U64(codes.size());
  for (int32_t code : codes) {
    const RegionRecord& r = regions_.at(code);
    w.U64(r.code);
    w.Str(r.name);
    w.U8(static_cast<uint8_t>(r.key_assisted) |
         static_cast<uint8_t>(r.relocation_site) << 1);
  }
  w.U64(pairings_.size());
  for (const auto& [key, note] : pairings_) {
    w.I64(key.first);
    w.I64(key.second);
    w.Str(note);
  }
}

bool ReferenceData::Load(ByteReader& r) {
  const uint64_t nregions = r.Count(13);
  for (uint64_t i = 0; i < nregions && r.ok(); ++i) {
    const uint64_t sid = r.U64();
    int32_t code;
    if (sid >= strings_.size() ||
        !ParseRegionCode(strings_.Get(static_cast<uint32_t>(sid)), &code)) {
      return false;
    }
    RegionRecord& region = regions_[code];
    region.code = static_cast<uint32_t>(sid);
    region.name = r.Str();
    const uint8_t flags = r.U8();
    if (flags > 3) return false;
    region.key_assisted = flags & 1;
    region.relocation_site = flags & 2;
  }
  const uint64_t npairings = r.Count(20);
  for (uint64_t i = 0; i < npairings && r.ok(); ++i) {
    const int32_t east = static_cast<int32_t>(r.I64());
    const int32_t west = static_cast<int32_t>(r.I64());
    pairings_[{east, west}] = r.Str();
  }
  RebuildPartnerIndex();
  RefreshAllPartners();
  return r.ok();
}

}  // namespace duijie
