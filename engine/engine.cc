// The matching core; see engine.h for the contract.
//
// Rules (continuous matching; an order matches on arrival, the rest rests):
// - Compatible: the offer's product is the pledge's or under it; offer grade
//   at least min_grade; certified if required; floor <= max; both open and
//   unexpired (expires_at is exclusive); the offer's region allowed by the
//   pledge's scope.
// - A fill of q kg needs q >= the pledge's min lot or q == all it has left,
//   and the same for the offer. q is the largest quantity within both
//   remainders and the pledge's budget at the trade price; if that q is not
//   allowed, no smaller one is either, so the candidate is skipped.
// - The trade price is the resting order's price.
// - Incoming pledge, over resting offers: partner region, then key-assisted
//   or relocation region, then earliest expiry, lowest floor, earliest
//   posted. Incoming offer, over resting pledges: partner buyer, then highest
//   max price, then earliest posted.
//
// The index. Resting offers sit in OfferTrees keyed by a shelf (product,
// grade, certified, region flag) and a region scope: every offer is in the
// tree of its own region code and of each ancestor, and in a national one
// (scope 0). A pledge asks, group by group (partner & flagged, partner,
// flagged, the rest), the trees its product subtree, grades and scope name:
// the partner trees are those of the west codes paired with its city, so
// partner status needs no per-offer test; the non-partner groups read the
// national (or listed-region) trees and pass over partner offers, which the
// partner groups already took if they could.
// Resting pledges sit in btree sets ordered by (max price desc, id), keyed
// by (product as posted, min grade, certified required, scope family, scope
// code): ANY pledges under their city's chain and nationally, PARTNERS_ONLY
// pledges under their city's chain only, LISTED_REGIONS pledges under each
// listed code. An incoming offer reads the trees of the east codes paired
// with its region first, then the national and listed ones.
// After every fill the search starts again from the top, because a fill
// changes what fits (a smaller remainder can make a skipped lot fit).
#include "engine/engine.h"

#include <algorithm>
#include <deque>
#include <map>
#include <queue>
#include <string>
#include <utility>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "engine/codes.h"
#include "engine/engine_impl.h"
#include "engine/offer_tree.h"
#include "zlib.h"

namespace duijie {
namespace {

// Pledge tree families.
enum Family : uint64_t {
  kAnyFamily = 0,
  kPartnersFamily = 1,
  kListedFamily = 2
};

uint64_t OfferShelfKey(uint32_t product, Grade grade, bool certified,
                       bool flagged, int32_t scope) {
  return (uint64_t{product} << 28) | (uint64_t(grade) << 24) |
         (uint64_t{certified} << 23) | (uint64_t{flagged} << 22) |
         static_cast<uint64_t>(scope);
}

uint64_t PledgeShelfKey(uint32_t product, Grade min_grade, bool require_cert,
                        uint64_t family, int32_t scope) {
  return (uint64_t{product} << 28) | (uint64_t(min_grade) << 24) |
         (uint64_t{require_cert} << 23) | (family << 21) |
         static_cast<uint64_t>(scope);
}

bool AnyCovers(const CodeSet& set, int32_t code) {
  for (int32_t c : set) {
    if (RegionCovers(c, code)) return true;
  }
  return false;
}

absl::Status Invalid(std::string_view field, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(Absl(field), ": ", Absl(why)));
}

absl::Status CheckId(std::string_view field, std::string_view id) {
  if (id.empty()) return Invalid(field, "is empty");
  if (id.size() > kMaxIdBytes) {
    return Invalid(field, absl::StrCat("is ", id.size(), " bytes; at most ",
                                       kMaxIdBytes, " allowed"));
  }
  return absl::OkStatus();
}

absl::Status CheckRange(std::string_view field, int64_t value, int64_t lo,
                        int64_t hi) {
  if (value < lo || value > hi) {
    return Invalid(
        field, absl::StrCat(value, " is out of range [", lo, ", ", hi, "]"));
  }
  return absl::OkStatus();
}

// How a resting offer's size fits pledges; see OfferFit.
OfferFit FitOf(const OfferRecord& o) {
  return OfferFit{std::min(o.min_lot_kg, o.remaining_kg), o.remaining_kg};
}

int64_t FillQuantity(int64_t offer_remaining, int64_t offer_min_lot,
                     int64_t pledge_remaining, int64_t pledge_min_lot,
                     int64_t budget_left, int64_t price) {
  int64_t q = std::min(offer_remaining, pledge_remaining);
  if (budget_left >= 0) q = std::min(q, budget_left / price);
  if (q <= 0) return 0;
  if (q < pledge_min_lot && q != pledge_remaining) return 0;
  if (q < offer_min_lot && q != offer_remaining) return 0;
  return q;
}

}  // namespace

// --- Idempotency
// --------------------------------------------------------------

absl::StatusOr<bool> Engine::Impl::CheckRequestId(
    const CommandContext& ctx, CommandKind kind,
    const IdempotencyRecord** record) const {
  if (ctx.request_id.size() > kMaxRequestIdBytes) {
    return Invalid("request_id",
                   absl::StrCat("is ", ctx.request_id.size(),
                                " bytes; at most ", kMaxRequestIdBytes));
  }
  if (ctx.request_id.empty()) return false;
  auto it = requests_.find(ctx.request_id);
  if (it == requests_.end()) return false;
  if (it->second.fingerprint != ctx.fingerprint || it->second.kind != kind) {
    return absl::AlreadyExistsError(
        absl::StrCat("request_id: \"", absl::CHexEscape(Absl(ctx.request_id)),
                     "\" was already used for a different request"));
  }
  *record = &it->second;
  return true;
}

void Engine::Impl::Remember(const CommandContext& ctx,
                            IdempotencyRecord record) {
  if (ctx.request_id.empty()) return;
  record.fingerprint = ctx.fingerprint;
  record.at = now_;
  request_order_.emplace_back(ctx.request_id);
  requests_.emplace(request_order_.back(), std::move(record));
  // Forget the oldest once they are both out of the window and beyond the
  // count that is always kept.
  while (request_order_.size() > options_.min_request_ids &&
         requests_.at(request_order_.front()).at + options_.request_id_window <=
             now_) {
    requests_.erase(request_order_.front());
    request_order_.pop_front();
  }
}

// --- Reference data -------------------------------------------------------

absl::Status Engine::Impl::CheckKnownRegion(std::string_view field,
                                            std::string_view text,
                                            int32_t* code) const {
  if (absl::Status s = CheckRegionCode(field, text, code); !s.ok()) return s;
  if (!regions_.contains(*code)) {
    return absl::NotFoundError(absl::StrCat(Absl(field), ": region \"",
                                            Absl(text), "\" is not known"));
  }
  return absl::OkStatus();
}

bool Engine::Impl::IsFlagged(int32_t region) const {
  auto it = regions_.find(region);
  return it != regions_.end() && it->second.flagged();
}

absl::StatusOr<RegionResult> Engine::Impl::UpsertRegion(
    const CommandContext& ctx, const Region& region) {
  AdvanceClock(ctx.now);
  const IdempotencyRecord* seen = nullptr;
  absl::StatusOr<bool> repeat =
      CheckRequestId(ctx, CommandKind::kRegion, &seen);
  if (!repeat.ok()) return repeat.status();
  if (*repeat) return RegionResult{seen->region, true};

  int32_t code;
  if (absl::Status s = CheckRegionCode("region.code", region.code, &code);
      !s.ok()) {
    return s;
  }
  if (region.name.size() > kMaxRegionNameBytes) {
    return Invalid("region.name",
                   absl::StrCat("is ", region.name.size(), " bytes; at most ",
                                kMaxRegionNameBytes));
  }
  auto it = regions_.find(code);
  const bool was_flagged = it != regions_.end() && it->second.flagged();
  RegionRecord& r = regions_[code];
  r.code = strings_.Intern(region.code);
  r.name = region.name;
  r.key_assisted = region.key_assisted;
  r.relocation_site = region.relocation_site;
  if (r.flagged() != was_flagged) {
    // Re-rank the region's resting offers: their shelf depends on the flag
    // (their book totals and expiries do not).
    for (uint64_t id = 1; id <= offers_.size(); ++id) {
      OfferRecord& o = offers_[id - 1];
      if (o.region != code || o.status != OrderStatus::kOpen) continue;
      RemoveFromOfferTrees(id);
      o.flagged = r.flagged();
      AddToOfferTrees(id);
    }
  }
  IdempotencyRecord record;
  record.kind = CommandKind::kRegion;
  record.region = region;
  Remember(ctx, std::move(record));
  return RegionResult{region, false};
}

void Engine::Impl::RebuildPairingIndex() {
  west_by_east_.clear();
  east_by_west_.clear();
  for (const auto& [codes, note] : pairings_) {
    west_by_east_[codes.first].push_back(codes.second);
    east_by_west_[codes.second].push_back(codes.first);
  }
}

absl::StatusOr<PairingResult> Engine::Impl::UpsertPairing(
    const CommandContext& ctx, const Pairing& pairing) {
  AdvanceClock(ctx.now);
  const IdempotencyRecord* seen = nullptr;
  absl::StatusOr<bool> repeat =
      CheckRequestId(ctx, CommandKind::kPairingUpsert, &seen);
  if (!repeat.ok()) return repeat.status();
  if (*repeat) return PairingResult{seen->pairing, true};

  int32_t east, west;
  if (absl::Status s =
          CheckKnownRegion("pairing.east_code", pairing.east_code, &east);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          CheckKnownRegion("pairing.west_code", pairing.west_code, &west);
      !s.ok()) {
    return s;
  }
  if (pairing.note.size() > kMaxPairingNoteBytes) {
    return Invalid("pairing.note",
                   absl::StrCat("is ", pairing.note.size(), " bytes; at most ",
                                kMaxPairingNoteBytes));
  }
  pairings_[{east, west}] = pairing.note;
  RebuildPairingIndex();
  IdempotencyRecord record;
  record.kind = CommandKind::kPairingUpsert;
  record.pairing = pairing;
  Remember(ctx, std::move(record));
  return PairingResult{pairing, false};
}

absl::StatusOr<PairingResult> Engine::Impl::DeletePairing(
    const CommandContext& ctx, std::string_view east_text,
    std::string_view west_text) {
  AdvanceClock(ctx.now);
  const IdempotencyRecord* seen = nullptr;
  absl::StatusOr<bool> repeat =
      CheckRequestId(ctx, CommandKind::kPairingDelete, &seen);
  if (!repeat.ok()) return repeat.status();
  if (*repeat) return PairingResult{seen->pairing, true};

  int32_t east, west;
  if (absl::Status s = CheckRegionCode("east_code", east_text, &east);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckRegionCode("west_code", west_text, &west);
      !s.ok()) {
    return s;
  }
  auto it = pairings_.find({east, west});
  if (it == pairings_.end()) {
    return absl::NotFoundError(absl::StrCat("pairing ", Absl(east_text), " - ",
                                            Absl(west_text),
                                            " does not exist"));
  }
  Pairing removed{std::string(east_text), std::string(west_text), it->second};
  pairings_.erase(it);
  RebuildPairingIndex();
  IdempotencyRecord record;
  record.kind = CommandKind::kPairingDelete;
  record.pairing = removed;
  Remember(ctx, std::move(record));
  return PairingResult{std::move(removed), false};
}

CodeSet Engine::Impl::PartnerWestCodes(int32_t city) const {
  CodeSet out;
  for (int32_t east : RegionChainOf(city)) {
    auto it = west_by_east_.find(east);
    if (it == west_by_east_.end()) continue;
    out.insert(out.end(), it->second.begin(), it->second.end());
  }
  if (out.size() > 1) KeepOutermostCodes(&out);
  return out;
}

CodeSet Engine::Impl::PartnerEastCodes(int32_t region) const {
  CodeSet out;
  for (int32_t west : RegionChainOf(region)) {
    auto it = east_by_west_.find(west);
    if (it == east_by_west_.end()) continue;
    out.insert(out.end(), it->second.begin(), it->second.end());
  }
  if (out.size() > 1) KeepOutermostCodes(&out);
  return out;
}

bool Engine::Impl::IsPartner(int32_t region, int32_t city) const {
  return AnyCovers(PartnerWestCodes(city), region);
}

uint32_t Engine::Impl::InternProduct(std::string_view code) {
  const uint32_t sid = strings_.Intern(code);
  auto it = product_by_code_.find(sid);
  if (it != product_by_code_.end()) return it->second;
  const std::string_view parent_code = ProductParent(code);
  const uint32_t parent =
      parent_code.empty() ? kNone : InternProduct(parent_code);
  const uint32_t index = static_cast<uint32_t>(products_.size());
  products_.push_back(ProductNode{sid, {}, {}});
  product_by_code_.emplace(sid, index);
  products_[index].chain.push_back(index);
  if (parent != kNone) {
    for (uint32_t a : products_[parent].chain) {
      products_[index].chain.push_back(a);
    }
  }
  for (uint32_t a : products_[index].chain)
    products_[a].subtree.push_back(index);
  return index;
}

// --- Index
// ----------------------------------------------------------------------

template <typename Fn>
void Engine::Impl::ForEachOfferTree(const OfferRecord& o, Fn fn) {
  for (int32_t scope : RegionChainOf(o.region)) {
    fn(OfferShelfKey(o.product, o.grade, o.certified, o.flagged, scope));
  }
  fn(OfferShelfKey(o.product, o.grade, o.certified, o.flagged, 0));
}

template <typename Fn>
void Engine::Impl::ForEachPledgeTree(const PledgeRecord& p, Fn fn) {
  switch (p.scope) {
    case Scope::kAny:
      fn(PledgeShelfKey(p.product, p.min_grade, p.require_certified, kAnyFamily,
                        0));
      [[fallthrough]];
    case Scope::kPartnersOnly: {
      const uint64_t family =
          p.scope == Scope::kAny ? kAnyFamily : kPartnersFamily;
      for (int32_t scope : RegionChainOf(p.city)) {
        fn(PledgeShelfKey(p.product, p.min_grade, p.require_certified, family,
                          scope));
      }
      break;
    }
    case Scope::kListedRegions:
      for (int32_t scope : p.listed_cover) {
        fn(PledgeShelfKey(p.product, p.min_grade, p.require_certified,
                          kListedFamily, scope));
      }
      break;
  }
}

void Engine::Impl::AddToBook(BookSide& side, int64_t kg, int64_t price) {
  side.kg += kg;
  ++side.count;
  ++side.prices[price];
}

void Engine::Impl::RemoveFromBook(BookSide& side, int64_t kg, int64_t price) {
  side.kg -= kg;
  --side.count;
  auto it = side.prices.find(price);
  if (--it->second == 0) side.prices.erase(it);
}

void Engine::Impl::IndexOffer(uint64_t id) {
  const OfferRecord& o = offers_[id - 1];
  AddToOfferTrees(id);
  AddToBook(books_[o.product].offers, o.remaining_kg, o.floor_price);
  expiries_.Add(o.expires_at, ExpiryTag(id, true));
}

void Engine::Impl::AddToOfferTrees(uint64_t id) {
  const OfferRecord& o = offers_[id - 1];
  const OfferKey key{o.expires_at, o.floor_price, id};
  const OfferFit fit = FitOf(o);
  ForEachOfferTree(o, [&](uint64_t shelf) {
    offer_trees_[shelf].Insert(offer_nodes_, key, fit);
  });
}

void Engine::Impl::UnindexOffer(uint64_t id) {
  const OfferRecord& o = offers_[id - 1];
  RemoveFromOfferTrees(id);
  RemoveFromBook(books_[o.product].offers, o.remaining_kg, o.floor_price);
  // Its expiry entry stays; the clock skips it (ExpiryLive).
}

void Engine::Impl::RemoveFromOfferTrees(uint64_t id) {
  const OfferRecord& o = offers_[id - 1];
  const OfferKey key{o.expires_at, o.floor_price, id};
  ForEachOfferTree(o, [&](uint64_t shelf) {
    auto it = offer_trees_.find(shelf);
    it->second.Erase(offer_nodes_, key);
    if (it->second.empty()) offer_trees_.erase(it);
  });
}

void Engine::Impl::IndexPledge(uint64_t id) {
  const PledgeRecord& p = pledges_[id - 1];
  ForEachPledgeTree(p, [&](uint64_t shelf) {
    pledge_trees_[shelf].insert({-p.max_price, id});
  });
  AddToBook(books_[p.product].pledges, p.remaining_kg, p.max_price);
  expiries_.Add(p.expires_at, ExpiryTag(id, false));
}

void Engine::Impl::UnindexPledge(uint64_t id) {
  const PledgeRecord& p = pledges_[id - 1];
  ForEachPledgeTree(p, [&](uint64_t shelf) {
    auto it = pledge_trees_.find(shelf);
    it->second.erase({-p.max_price, id});
    if (it->second.empty()) pledge_trees_.erase(it);
  });
  RemoveFromBook(books_[p.product].pledges, p.remaining_kg, p.max_price);
}

void Engine::Impl::Close(bool offer, uint64_t id, OrderStatus status) {
  if (offer) {
    UnindexOffer(id);
    offers_[id - 1].status = status;
  } else {
    UnindexPledge(id);
    pledges_[id - 1].status = status;
  }
}

void Engine::Impl::AdvanceClock(Micros now) {
  now_ = std::max(now_, now);
  expiries_.PopUntil(
      now_, [this](uint64_t tag) { return ExpiryLive(tag); },
      [this](uint64_t tag) {
        Close(/*offer=*/tag & 1, tag >> 1, OrderStatus::kExpired);
      });
}

// --- Matching
// -----------------------------------------------------------------

int64_t Engine::Impl::OfferFill(const OfferRecord& o, const PledgeRecord& p,
                                int64_t price) const {
  const int64_t budget_left =
      p.budget_fen > 0 ? p.budget_fen - p.spent_fen : -1;
  return FillQuantity(o.remaining_kg, o.min_lot_kg, p.remaining_kg,
                      p.min_lot_kg, budget_left, price);
}

uint64_t Engine::Impl::BestOfferFor(uint64_t pledge_id,
                                    const CodeSet& partner_west) {
  const PledgeRecord& p = pledges_[pledge_id - 1];
  // Products of the subtree with an offer the pledge can afford. The
  // book's lowest floor per product covers every indexed offer, so the
  // others' trees cannot hold a candidate; most pledges bid below every
  // offer and stop here without reading a tree.
  absl::InlinedVector<uint32_t, 4> products;
  for (uint32_t product : products_[p.product].subtree) {
    auto it = books_.find(product);
    if (it != books_.end() && !it->second.offers.prices.empty() &&
        it->second.offers.prices.begin()->first <= p.max_price) {
      products.push_back(product);
    }
  }
  if (products.empty()) return 0;
  // Region scopes of the partner groups, and of the others.
  CodeSet partner_scopes;
  CodeSet other_scopes;
  if (p.scope == Scope::kListedRegions) {
    for (int32_t listed : p.listed_cover) {
      other_scopes.push_back(listed);
      for (int32_t west : partner_west) {
        if (RegionCovers(listed, west)) {
          partner_scopes.push_back(west);
        } else if (RegionCovers(west, listed)) {
          partner_scopes.push_back(listed);
        }
      }
    }
  } else {
    partner_scopes = partner_west;
    if (p.scope == Scope::kAny) other_scopes.push_back(0);
  }
  bool found = false;
  OfferKey best;
  // Reads one tree in priority order up to the first offer that fits and
  // beats `best`. Offers too dear, or that the pledge cannot fill for its
  // lots or budget, are passed over inside FindFirst, so the only offers
  // this loop passes over are partner offers in the non-partner groups, and
  // those fit only if the partner groups could not take them, which they
  // could: in practice the first offer found is the answer.
  const OfferQuery query{p.max_price, p.remaining_kg,
                         std::min(p.min_lot_kg, p.remaining_kg),
                         p.budget_fen > 0 ? p.budget_fen - p.spent_fen : -1};
  auto scan = [&](const OfferTree& tree, bool skip_partners) {
    OfferKey key;
    OfferKey after;
    const OfferKey* after_ptr = nullptr;
    while (tree.FindFirst(offer_nodes_, after_ptr, query, &key)) {
      if (found && !(key < best)) return;
      const OfferRecord& o = offers_[key.offer_id - 1];
      const bool passed_over =
          skip_partners && AnyCovers(partner_west, o.region);
      if (!passed_over && OfferFill(o, p, o.floor_price) > 0) {
        best = key;
        found = true;
        return;
      }
      after = key;
      after_ptr = &after;
    }
  };
  const int grade_max = static_cast<int>(p.min_grade);
  for (int group = 0; group < 4; ++group) {
    const bool partner_group = group < 2;
    const bool flagged = group % 2 == 0;
    const CodeSet& scopes = partner_group ? partner_scopes : other_scopes;
    for (uint32_t product : products) {
      for (int grade = 1; grade <= grade_max; ++grade) {
        for (int cert = p.require_certified ? 1 : 0; cert <= 1; ++cert) {
          for (int32_t scope : scopes) {
            auto it = offer_trees_.find(OfferShelfKey(
                product, static_cast<Grade>(grade), cert, flagged, scope));
            if (it != offer_trees_.end()) scan(it->second, !partner_group);
          }
        }
      }
    }
    if (found) return best.offer_id;
  }
  return 0;
}

uint64_t Engine::Impl::BestPledgeFor(uint64_t offer_id,
                                     const CodeSet& partner_east) {
  const OfferRecord& o = offers_[offer_id - 1];
  // Products of the chain with a pledge that bids the offer's floor (the
  // book's highest max per product covers every indexed pledge); most
  // offers ask more than any and stop here without reading a tree.
  absl::InlinedVector<uint32_t, 4> products;
  for (uint32_t product : products_[o.product].chain) {
    auto it = books_.find(product);
    if (it != books_.end() && !it->second.pledges.prices.empty() &&
        it->second.pledges.prices.rbegin()->first >= o.floor_price) {
      products.push_back(product);
    }
  }
  if (products.empty()) return 0;
  const RegionChain chain = RegionChainOf(o.region);
  bool found = false;
  PledgeKey best;
  // Reads one tree in order, up to the first pledge that fits.
  auto scan = [&](uint64_t shelf, int want_partner) {
    auto it = pledge_trees_.find(shelf);
    if (it == pledge_trees_.end()) return;
    for (const PledgeKey& key : it->second) {
      if (-key.first < o.floor_price) return;  // all further are cheaper
      if (found && !(key < best)) return;
      const PledgeRecord& p = pledges_[key.second - 1];
      if (want_partner >= 0 &&
          AnyCovers(partner_east, p.city) != (want_partner == 1)) {
        continue;
      }
      if (OfferFill(o, p, p.max_price) == 0) continue;
      best = key;
      found = true;
      return;
    }
  };
  for (int phase = 0; phase < 2; ++phase) {
    const bool partner_phase = phase == 0;
    for (uint32_t product : products) {
      for (int grade = static_cast<int>(o.grade); grade <= 3; ++grade) {
        for (int cert = 0; cert <= (o.certified ? 1 : 0); ++cert) {
          auto key = [&](uint64_t family, int32_t scope) {
            return PledgeShelfKey(product, static_cast<Grade>(grade), cert,
                                  family, scope);
          };
          if (partner_phase) {
            for (int32_t east : partner_east) {
              scan(key(kAnyFamily, east), -1);
              scan(key(kPartnersFamily, east), -1);
            }
            if (!partner_east.empty()) {
              for (int32_t scope : chain) scan(key(kListedFamily, scope), 1);
            }
          } else {
            scan(key(kAnyFamily, 0), partner_east.empty() ? -1 : 0);
            for (int32_t scope : chain) {
              scan(key(kListedFamily, scope), partner_east.empty() ? -1 : 0);
            }
          }
        }
      }
    }
    if (found) return best.second;
  }
  return 0;
}

void Engine::Impl::Fill(uint64_t offer_id, uint64_t pledge_id, int64_t price,
                        bool partner, bool incoming_pledge) {
  OfferRecord& o = offers_[offer_id - 1];
  PledgeRecord& p = pledges_[pledge_id - 1];
  const int64_t q = OfferFill(o, p, price);
  // Cannot overflow: q x price <= quantity x price of the order whose price
  // it is, which was checked when that order was posted.
  const int64_t amount = q * price;
  matches_.push_back(
      MatchRecord{offer_id, pledge_id, q, price, amount, now_, partner});
  const uint64_t match_id = matches_.size();
  matches_by_supplier_[o.supplier].push_back(match_id);
  matches_by_buyer_[p.buyer].push_back(match_id);
  if (incoming_pledge) {
    books_[o.product].offers.kg -= q;
  } else {
    books_[p.product].pledges.kg -= q;
  }
  o.remaining_kg -= q;
  p.remaining_kg -= q;
  p.spent_fen += amount;
  if (o.remaining_kg == 0) {
    if (incoming_pledge) {
      Close(/*offer=*/true, offer_id, OrderStatus::kFilled);
    } else {
      o.status = OrderStatus::kFilled;
    }
  } else if (incoming_pledge) {
    // The resting offer is smaller now: its trees must know for the lots.
    const OfferKey key{o.expires_at, o.floor_price, offer_id};
    const OfferFit fit = FitOf(o);
    ForEachOfferTree(o, [&](uint64_t shelf) {
      offer_trees_.find(shelf)->second.SetFit(offer_nodes_, key, fit);
    });
  }
  if (p.remaining_kg == 0 ||
      (p.budget_fen > 0 && p.spent_fen == p.budget_fen)) {
    if (incoming_pledge) {
      p.status = OrderStatus::kFilled;
    } else {
      Close(/*offer=*/false, pledge_id, OrderStatus::kFilled);
    }
  }
}

// --- Orders -----------------------------------------------------------------

namespace {

absl::Status CheckExpiry(std::string_view field, Micros expires_at,
                         Micros now) {
  if (expires_at <= now) {
    return Invalid(
        field, absl::StrCat(expires_at, " us since epoch is not after now (",
                            now, ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckAmount(std::string_view field, int64_t kg,
                         int64_t fen_per_kg) {
  int64_t product;
  if (__builtin_mul_overflow(kg, fen_per_kg, &product)) {
    return Invalid(field, absl::StrCat(kg, " kg at ", fen_per_kg,
                                       " fen/kg overflows a 64-bit amount"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<OfferResult> Engine::Impl::PostOffer(const CommandContext& ctx,
                                                    const OfferSpec& spec) {
  AdvanceClock(ctx.now);
  const IdempotencyRecord* seen = nullptr;
  absl::StatusOr<bool> repeat =
      CheckRequestId(ctx, CommandKind::kPostOffer, &seen);
  if (!repeat.ok()) return repeat.status();
  if (*repeat) {
    OfferResult result;
    result.offer = MakeOfferView(seen->order_id, now_);
    result.offer.remaining_kg = seen->remaining_kg;
    result.offer.status = seen->status;
    result.matches = MatchRange(seen->first_match_id, seen->match_count);
    result.replayed = true;
    return result;
  }

  int32_t region;
  absl::Status s = CheckId("offer.supplier_id", spec.supplier_id);
  if (s.ok())
    s = CheckKnownRegion("offer.region_code", spec.region_code, &region);
  if (s.ok()) s = CheckProductCode("offer.product_code", spec.product_code);
  if (s.ok()) s = CheckRange("offer.grade", spec.grade, 1, 3);
  if (s.ok())
    s = CheckRange("offer.quantity_kg", spec.quantity_kg, 1, kMaxQuantityKg);
  if (s.ok()) {
    s = CheckRange("offer.floor_price_fen_per_kg", spec.floor_price_fen_per_kg,
                   1, kMaxPriceFenPerKg);
  }
  if (s.ok()) {
    s = CheckAmount("offer.quantity_kg", spec.quantity_kg,
                    spec.floor_price_fen_per_kg);
  }
  if (s.ok())
    s = CheckRange("offer.min_lot_kg", spec.min_lot_kg, 0, spec.quantity_kg);
  if (s.ok()) s = CheckRange("offer.households", spec.households, 0, INT32_MAX);
  if (s.ok()) s = CheckExpiry("offer.expires_at", spec.expires_at, now_);
  if (!s.ok()) return s;

  OfferRecord record;
  record.supplier = strings_.Intern(spec.supplier_id);
  record.product = InternProduct(spec.product_code);
  record.region = region;
  record.grade = static_cast<Grade>(spec.grade);
  record.certified = spec.certified;
  record.flagged = IsFlagged(region);
  record.status = OrderStatus::kOpen;
  record.quantity_kg = spec.quantity_kg;
  record.remaining_kg = spec.quantity_kg;
  record.floor_price = spec.floor_price_fen_per_kg;
  record.min_lot_kg = spec.min_lot_kg;
  record.households = spec.households;
  record.expires_at = spec.expires_at;
  record.posted_at = now_;
  offers_.push_back(record);
  const uint64_t id = offers_.size();
  offers_by_supplier_[record.supplier].push_back(id);

  const uint64_t first_match = matches_.size() + 1;
  const CodeSet partner_east = PartnerEastCodes(region);
  while (offers_[id - 1].status == OrderStatus::kOpen) {
    const uint64_t pledge_id = BestPledgeFor(id, partner_east);
    if (pledge_id == 0) break;
    const PledgeRecord& p = pledges_[pledge_id - 1];
    Fill(id, pledge_id, p.max_price, AnyCovers(partner_east, p.city),
         /*incoming_pledge=*/false);
  }
  const OfferRecord& o = offers_[id - 1];
  if (o.status == OrderStatus::kOpen) {
    IndexOffer(id);
  }
  if (!ctx.request_id.empty()) {  // the memo is only for repeats
    IdempotencyRecord memo;
    memo.kind = CommandKind::kPostOffer;
    memo.order_id = id;
    memo.first_match_id = first_match;
    memo.match_count = static_cast<uint32_t>(matches_.size() + 1 - first_match);
    memo.status = o.status;
    memo.remaining_kg = o.remaining_kg;
    Remember(ctx, std::move(memo));
  }

  OfferResult result;
  result.offer = MakeOfferView(id, now_);
  result.matches = MatchRange(first_match, matches_.size() + 1 - first_match);
  return result;
}

absl::StatusOr<PledgeResult> Engine::Impl::PostPledge(const CommandContext& ctx,
                                                      const PledgeSpec& spec) {
  AdvanceClock(ctx.now);
  const IdempotencyRecord* seen = nullptr;
  absl::StatusOr<bool> repeat =
      CheckRequestId(ctx, CommandKind::kPostPledge, &seen);
  if (!repeat.ok()) return repeat.status();
  if (*repeat) {
    PledgeResult result;
    result.pledge = MakePledgeView(seen->order_id, now_);
    result.pledge.remaining_kg = seen->remaining_kg;
    result.pledge.spent_fen = seen->spent_fen;
    result.pledge.status = seen->status;
    result.matches = MatchRange(seen->first_match_id, seen->match_count);
    result.replayed = true;
    return result;
  }

  int32_t city;
  absl::Status s = CheckId("pledge.buyer_id", spec.buyer_id);
  if (s.ok()) {
    s = CheckKnownRegion("pledge.buyer_city_code", spec.buyer_city_code, &city);
  }
  if (s.ok())
    s = CheckRange("pledge.buyer_kind", spec.buyer_kind, 1, kMaxBuyerKind);
  if (s.ok()) s = CheckProductCode("pledge.product_code", spec.product_code);
  if (s.ok()) s = CheckRange("pledge.min_grade", spec.min_grade, 0, 3);
  if (s.ok())
    s = CheckRange("pledge.quantity_kg", spec.quantity_kg, 1, kMaxQuantityKg);
  if (s.ok()) {
    s = CheckRange("pledge.max_price_fen_per_kg", spec.max_price_fen_per_kg, 1,
                   kMaxPriceFenPerKg);
  }
  if (s.ok()) {
    s = CheckAmount("pledge.quantity_kg", spec.quantity_kg,
                    spec.max_price_fen_per_kg);
  }
  if (s.ok())
    s = CheckRange("pledge.budget_fen", spec.budget_fen, 0, INT64_MAX);
  if (s.ok())
    s = CheckRange("pledge.min_lot_kg", spec.min_lot_kg, 0, spec.quantity_kg);
  if (s.ok()) s = CheckExpiry("pledge.expires_at", spec.expires_at, now_);
  if (s.ok()) s = CheckRange("pledge.scope", spec.scope, 0, kMaxScope);
  std::vector<int32_t> listed;
  if (s.ok()) {
    const bool listed_scope =
        spec.scope == static_cast<int>(Scope::kListedRegions);
    if (listed_scope && spec.region_codes.empty()) {
      s = Invalid("pledge.region_codes",
                  "is empty but scope is LISTED_REGIONS");
    } else if (!listed_scope && !spec.region_codes.empty()) {
      s = Invalid("pledge.region_codes",
                  "is only allowed with scope LISTED_REGIONS");
    } else if (spec.region_codes.size() > kMaxListedRegions) {
      s = Invalid("pledge.region_codes",
                  absl::StrCat("has ", spec.region_codes.size(),
                               " codes; at most ", kMaxListedRegions));
    }
    for (size_t i = 0; s.ok() && i < spec.region_codes.size(); ++i) {
      int32_t code;
      s = CheckKnownRegion(absl::StrCat("pledge.region_codes[", i, "]"),
                           spec.region_codes[i], &code);
      listed.push_back(code);
    }
  }
  if (!s.ok()) return s;

  PledgeRecord record;
  record.buyer = strings_.Intern(spec.buyer_id);
  record.product = InternProduct(spec.product_code);
  record.city = city;
  record.kind = static_cast<BuyerKind>(spec.buyer_kind);
  record.min_grade =
      spec.min_grade == 0 ? Grade::kSecond : static_cast<Grade>(spec.min_grade);
  record.scope = static_cast<Scope>(spec.scope);
  record.require_certified = spec.require_certified;
  record.status = OrderStatus::kOpen;
  record.quantity_kg = spec.quantity_kg;
  record.remaining_kg = spec.quantity_kg;
  record.max_price = spec.max_price_fen_per_kg;
  record.budget_fen = spec.budget_fen;
  record.spent_fen = 0;
  record.min_lot_kg = spec.min_lot_kg;
  record.expires_at = spec.expires_at;
  record.posted_at = now_;
  record.listed = listed;
  record.listed_cover = std::move(listed);
  KeepOutermostCodes(&record.listed_cover);
  pledges_.push_back(std::move(record));
  const uint64_t id = pledges_.size();
  pledges_by_buyer_[pledges_[id - 1].buyer].push_back(id);

  const uint64_t first_match = matches_.size() + 1;
  const CodeSet partner_west = PartnerWestCodes(city);
  while (pledges_[id - 1].status == OrderStatus::kOpen) {
    const uint64_t offer_id = BestOfferFor(id, partner_west);
    if (offer_id == 0) break;
    const OfferRecord& o = offers_[offer_id - 1];
    Fill(offer_id, id, o.floor_price, AnyCovers(partner_west, o.region),
         /*incoming_pledge=*/true);
  }
  const PledgeRecord& p = pledges_[id - 1];
  if (p.status == OrderStatus::kOpen) {
    IndexPledge(id);
  }
  if (!ctx.request_id.empty()) {  // the memo is only for repeats
    IdempotencyRecord memo;
    memo.kind = CommandKind::kPostPledge;
    memo.order_id = id;
    memo.first_match_id = first_match;
    memo.match_count = static_cast<uint32_t>(matches_.size() + 1 - first_match);
    memo.status = p.status;
    memo.remaining_kg = p.remaining_kg;
    memo.spent_fen = p.spent_fen;
    Remember(ctx, std::move(memo));
  }

  PledgeResult result;
  result.pledge = MakePledgeView(id, now_);
  result.matches = MatchRange(first_match, matches_.size() + 1 - first_match);
  return result;
}

namespace {

const char* StatusName(OrderStatus s) {
  switch (s) {
    case OrderStatus::kOpen:
      return "OPEN";
    case OrderStatus::kFilled:
      return "FILLED";
    case OrderStatus::kCancelled:
      return "CANCELLED";
    case OrderStatus::kExpired:
      return "EXPIRED";
  }
  return "UNKNOWN";
}

}  // namespace

absl::StatusOr<OfferResult> Engine::Impl::CancelOffer(const CommandContext& ctx,
                                                      uint64_t id) {
  AdvanceClock(ctx.now);
  const IdempotencyRecord* seen = nullptr;
  absl::StatusOr<bool> repeat =
      CheckRequestId(ctx, CommandKind::kCancelOffer, &seen);
  if (!repeat.ok()) return repeat.status();
  OfferResult result;
  if (*repeat) {
    result.offer = MakeOfferView(seen->order_id, now_);
    result.offer.status = seen->status;
    result.offer.remaining_kg = seen->remaining_kg;
    result.unfilled_kg = seen->unfilled_kg;
    result.replayed = true;
    return result;
  }
  if (id == 0 || id > offers_.size()) {
    return absl::NotFoundError(
        absl::StrCat("id: offer ", id, " does not exist"));
  }
  OfferRecord& o = offers_[id - 1];
  if (o.status != OrderStatus::kOpen) {
    return absl::FailedPreconditionError(
        absl::StrCat("id: offer ", id, " is ", StatusName(o.status),
                     "; only an OPEN offer can be cancelled"));
  }
  Close(/*offer=*/true, id, OrderStatus::kCancelled);
  if (!ctx.request_id.empty()) {  // the memo is only for repeats
    IdempotencyRecord memo;
    memo.kind = CommandKind::kCancelOffer;
    memo.order_id = id;
    memo.status = o.status;
    memo.remaining_kg = o.remaining_kg;
    memo.unfilled_kg = o.remaining_kg;
    Remember(ctx, std::move(memo));
  }
  result.offer = MakeOfferView(id, now_);
  result.unfilled_kg = o.remaining_kg;
  return result;
}

absl::StatusOr<PledgeResult> Engine::Impl::CancelPledge(
    const CommandContext& ctx, uint64_t id) {
  AdvanceClock(ctx.now);
  const IdempotencyRecord* seen = nullptr;
  absl::StatusOr<bool> repeat =
      CheckRequestId(ctx, CommandKind::kCancelPledge, &seen);
  if (!repeat.ok()) return repeat.status();
  PledgeResult result;
  if (*repeat) {
    result.pledge = MakePledgeView(seen->order_id, now_);
    result.pledge.status = seen->status;
    result.pledge.remaining_kg = seen->remaining_kg;
    result.pledge.spent_fen = seen->spent_fen;
    result.unfilled_kg = seen->unfilled_kg;
    result.replayed = true;
    return result;
  }
  if (id == 0 || id > pledges_.size()) {
    return absl::NotFoundError(
        absl::StrCat("id: pledge ", id, " does not exist"));
  }
  PledgeRecord& p = pledges_[id - 1];
  if (p.status != OrderStatus::kOpen) {
    return absl::FailedPreconditionError(
        absl::StrCat("id: pledge ", id, " is ", StatusName(p.status),
                     "; only an OPEN pledge can be cancelled"));
  }
  Close(/*offer=*/false, id, OrderStatus::kCancelled);
  if (!ctx.request_id.empty()) {  // the memo is only for repeats
    IdempotencyRecord memo;
    memo.kind = CommandKind::kCancelPledge;
    memo.order_id = id;
    memo.status = p.status;
    memo.remaining_kg = p.remaining_kg;
    memo.spent_fen = p.spent_fen;
    memo.unfilled_kg = p.remaining_kg;
    Remember(ctx, std::move(memo));
  }
  result.pledge = MakePledgeView(id, now_);
  result.unfilled_kg = p.remaining_kg;
  return result;
}

// --- Views and reads
// ------------------------------------------------------------

OfferView Engine::Impl::MakeOfferView(uint64_t id, Micros now) const {
  const OfferRecord& o = offers_[id - 1];
  OfferView v;
  v.offer_id = id;
  v.supplier_id = strings_.Get(o.supplier);
  v.region_code = strings_.Get(regions_.at(o.region).code);
  v.product_code = strings_.Get(products_[o.product].code);
  v.grade = o.grade;
  v.quantity_kg = o.quantity_kg;
  v.floor_price_fen_per_kg = o.floor_price;
  v.min_lot_kg = o.min_lot_kg;
  v.expires_at = o.expires_at;
  v.certified = o.certified;
  v.households = o.households;
  v.remaining_kg = o.remaining_kg;
  v.status = EffectiveStatus(o.status, o.expires_at, now);
  v.posted_at = o.posted_at;
  return v;
}

PledgeView Engine::Impl::MakePledgeView(uint64_t id, Micros now) const {
  const PledgeRecord& p = pledges_[id - 1];
  PledgeView v;
  v.pledge_id = id;
  v.buyer_id = strings_.Get(p.buyer);
  v.buyer_city_code = strings_.Get(regions_.at(p.city).code);
  v.buyer_kind = p.kind;
  v.product_code = strings_.Get(products_[p.product].code);
  v.min_grade = p.min_grade;
  v.quantity_kg = p.quantity_kg;
  v.max_price_fen_per_kg = p.max_price;
  v.budget_fen = p.budget_fen;
  v.min_lot_kg = p.min_lot_kg;
  v.expires_at = p.expires_at;
  v.scope = p.scope;
  for (int32_t code : p.listed) {
    v.region_codes.push_back(strings_.Get(regions_.at(code).code));
  }
  v.require_certified = p.require_certified;
  v.remaining_kg = p.remaining_kg;
  v.spent_fen = p.spent_fen;
  v.status = EffectiveStatus(p.status, p.expires_at, now);
  v.posted_at = p.posted_at;
  return v;
}

MatchView Engine::Impl::MakeMatchView(uint64_t id) const {
  const MatchRecord& m = matches_[id - 1];
  const OfferRecord& o = offers_[m.offer_id - 1];
  const PledgeRecord& p = pledges_[m.pledge_id - 1];
  MatchView v;
  v.match_id = id;
  v.offer_id = m.offer_id;
  v.pledge_id = m.pledge_id;
  v.supplier_id = strings_.Get(o.supplier);
  v.buyer_id = strings_.Get(p.buyer);
  v.product_code = strings_.Get(products_[o.product].code);
  v.region_code = strings_.Get(regions_.at(o.region).code);
  v.buyer_city_code = strings_.Get(regions_.at(p.city).code);
  v.quantity_kg = m.quantity_kg;
  v.price_fen_per_kg = m.price;
  v.amount_fen = m.amount_fen;
  v.partner = m.partner;
  v.matched_at = m.matched_at;
  return v;
}

std::vector<MatchView> Engine::Impl::MatchRange(uint64_t first,
                                                uint32_t count) const {
  std::vector<MatchView> out;
  out.reserve(count);
  for (uint64_t id = first; id < first + count; ++id) {
    out.push_back(MakeMatchView(id));
  }
  return out;
}

absl::StatusOr<OfferView> Engine::Impl::GetOffer(uint64_t id,
                                                 Micros now) const {
  if (id == 0 || id > offers_.size()) {
    return absl::NotFoundError(
        absl::StrCat("id: offer ", id, " does not exist"));
  }
  return MakeOfferView(id, now);
}

absl::StatusOr<PledgeView> Engine::Impl::GetPledge(uint64_t id,
                                                   Micros now) const {
  if (id == 0 || id > pledges_.size()) {
    return absl::NotFoundError(
        absl::StrCat("id: pledge ", id, " does not exist"));
  }
  return MakePledgeView(id, now);
}

namespace {

// Walks ids > after_id, from an owner's sorted list when there is one, and
// collects up to `limit` that `passes`; *more tells whether another passes.
template <typename Passes, typename Make>
auto CollectAfter(const std::vector<uint64_t>* owned, uint64_t total,
                  uint64_t after_id, int limit, Passes passes, Make make,
                  bool* more) {
  std::vector<decltype(make(uint64_t{1}))> out;
  *more = false;
  auto visit = [&](uint64_t id) {
    if (!passes(id)) return true;
    if (static_cast<int>(out.size()) == limit) {
      *more = true;
      return false;
    }
    out.push_back(make(id));
    return true;
  };
  if (owned != nullptr) {
    for (auto it = std::upper_bound(owned->begin(), owned->end(), after_id);
         it != owned->end(); ++it) {
      if (!visit(*it)) break;
    }
  } else {
    for (uint64_t id = after_id + 1; id <= total; ++id) {
      if (!visit(id)) break;
    }
  }
  return out;
}

const std::vector<uint64_t> kNoIds;

}  // namespace

bool Engine::Impl::OfferPasses(const OfferRecord& o, const OrderFilter& f,
                               Micros now) const {
  if (f.status != 0 && static_cast<int>(EffectiveStatus(o.status, o.expires_at,
                                                        now)) != f.status) {
    return false;
  }
  if (!ProductCovers(f.product_code_prefix,
                     strings_.Get(products_[o.product].code))) {
    return false;
  }
  return StartsWith(strings_.Get(regions_.at(o.region).code),
                    f.region_code_prefix);
}

bool Engine::Impl::PledgePasses(const PledgeRecord& p, const OrderFilter& f,
                                Micros now) const {
  if (f.status != 0 && static_cast<int>(EffectiveStatus(p.status, p.expires_at,
                                                        now)) != f.status) {
    return false;
  }
  if (!ProductCovers(f.product_code_prefix,
                     strings_.Get(products_[p.product].code))) {
    return false;
  }
  return StartsWith(strings_.Get(regions_.at(p.city).code),
                    f.region_code_prefix);
}

bool Engine::Impl::MatchPasses(const MatchRecord& m,
                               const MatchFilter& f) const {
  if (f.offer_id != 0 && m.offer_id != f.offer_id) return false;
  if (f.pledge_id != 0 && m.pledge_id != f.pledge_id) return false;
  const OfferRecord& o = offers_[m.offer_id - 1];
  const PledgeRecord& p = pledges_[m.pledge_id - 1];
  if (!f.supplier_id.empty() && strings_.Get(o.supplier) != f.supplier_id) {
    return false;
  }
  if (!f.buyer_id.empty() && strings_.Get(p.buyer) != f.buyer_id) {
    return false;
  }
  return StartsWith(strings_.Get(regions_.at(o.region).code),
                    f.region_code_prefix);
}

std::vector<OfferView> Engine::Impl::ListOffers(const OrderFilter& filter,
                                                uint64_t after_id, int limit,
                                                Micros now, bool* more) const {
  const std::vector<uint64_t>* owned = nullptr;
  if (!filter.owner_id.empty()) {
    const uint32_t sid = strings_.Find(filter.owner_id);
    auto it = offers_by_supplier_.find(sid);
    owned = it == offers_by_supplier_.end() ? &kNoIds : &it->second;
  }
  return CollectAfter(
      owned, offers_.size(), after_id, limit,
      [&](uint64_t id) { return OfferPasses(offers_[id - 1], filter, now); },
      [&](uint64_t id) { return MakeOfferView(id, now); }, more);
}

std::vector<PledgeView> Engine::Impl::ListPledges(const OrderFilter& filter,
                                                  uint64_t after_id, int limit,
                                                  Micros now,
                                                  bool* more) const {
  const std::vector<uint64_t>* owned = nullptr;
  if (!filter.owner_id.empty()) {
    const uint32_t sid = strings_.Find(filter.owner_id);
    auto it = pledges_by_buyer_.find(sid);
    owned = it == pledges_by_buyer_.end() ? &kNoIds : &it->second;
  }
  return CollectAfter(
      owned, pledges_.size(), after_id, limit,
      [&](uint64_t id) { return PledgePasses(pledges_[id - 1], filter, now); },
      [&](uint64_t id) { return MakePledgeView(id, now); }, more);
}

std::vector<MatchView> Engine::Impl::ListMatches(const MatchFilter& filter,
                                                 uint64_t after_id, int limit,
                                                 bool* more) const {
  const std::vector<uint64_t>* owned = nullptr;
  auto owner_list = [&](const auto& index, std::string_view owner) {
    auto it = index.find(strings_.Find(owner));
    return it == index.end() ? &kNoIds : &it->second;
  };
  if (!filter.supplier_id.empty()) {
    owned = owner_list(matches_by_supplier_, filter.supplier_id);
  } else if (!filter.buyer_id.empty()) {
    owned = owner_list(matches_by_buyer_, filter.buyer_id);
  } else if (filter.offer_id != 0) {
    owned =
        filter.offer_id <= offers_.size()
            ? owner_list(matches_by_supplier_,
                         strings_.Get(offers_[filter.offer_id - 1].supplier))
            : &kNoIds;
  } else if (filter.pledge_id != 0) {
    owned = filter.pledge_id <= pledges_.size()
                ? owner_list(matches_by_buyer_,
                             strings_.Get(pledges_[filter.pledge_id - 1].buyer))
                : &kNoIds;
  }
  return CollectAfter(
      owned, matches_.size(), after_id, limit,
      [&](uint64_t id) { return MatchPasses(matches_[id - 1], filter); },
      [&](uint64_t id) { return MakeMatchView(id); }, more);
}

std::vector<BookLine> Engine::Impl::GetBook(std::string_view prefix,
                                            Micros now) const {
  // Orders that have expired by `now` but that no command has retired yet
  // are still in the totals: collect them, per product, to leave them out.
  struct Stale {
    BookSide offers;
    BookSide pledges;
  };
  absl::flat_hash_map<uint32_t, Stale> stale;
  expiries_.ForEachUntil(
      now, [this](uint64_t tag) { return ExpiryLive(tag); },
      [&](uint64_t tag) {
        const uint64_t id = tag >> 1;
        if (tag & 1) {
          const OfferRecord& o = offers_[id - 1];
          AddToBook(stale[o.product].offers, o.remaining_kg, o.floor_price);
        } else {
          const PledgeRecord& p = pledges_[id - 1];
          AddToBook(stale[p.product].pledges, p.remaining_kg, p.max_price);
        }
      });
  // The best price level with an order left once the stale ones are out.
  auto best = [](const BookSide& side, const BookSide* gone, bool lowest) {
    auto live = [&](int64_t price, int64_t count) {
      if (gone == nullptr) return count > 0;
      auto it = gone->prices.find(price);
      return count > (it == gone->prices.end() ? 0 : it->second);
    };
    if (lowest) {
      for (const auto& [price, count] : side.prices) {
        if (live(price, count)) return price;
      }
    } else {
      for (auto it = side.prices.rbegin(); it != side.prices.rend(); ++it) {
        if (live(it->first, it->second)) return it->first;
      }
    }
    return int64_t{0};
  };
  std::vector<BookLine> lines;
  auto add_line = [&](uint32_t product, const ProductBook& book) {
    const std::string_view code = strings_.Get(products_[product].code);
    auto s = stale.find(product);
    const Stale* gone = s == stale.end() ? nullptr : &s->second;
    BookLine line;
    line.product_code = code;
    line.open_offer_kg = book.offers.kg - (gone ? gone->offers.kg : 0);
    line.open_offer_count = book.offers.count - (gone ? gone->offers.count : 0);
    line.open_pledge_kg = book.pledges.kg - (gone ? gone->pledges.kg : 0);
    line.open_pledge_count =
        book.pledges.count - (gone ? gone->pledges.count : 0);
    if (line.open_offer_count == 0 && line.open_pledge_count == 0) return;
    line.best_floor_price_fen_per_kg =
        best(book.offers, gone ? &gone->offers : nullptr, /*lowest=*/true);
    line.best_max_price_fen_per_kg =
        best(book.pledges, gone ? &gone->pledges : nullptr, /*lowest=*/false);
    lines.push_back(line);
  };
  if (prefix.empty()) {
    for (const auto& [product, book] : books_) add_line(product, book);
  } else {
    // The products a prefix covers are its subtree: a product's ancestors
    // are always interned, so an unknown prefix covers nothing.
    const uint32_t sid = strings_.Find(prefix);
    auto known =
        sid == kNone ? product_by_code_.end() : product_by_code_.find(sid);
    if (known != product_by_code_.end()) {
      for (uint32_t product : products_[known->second].subtree) {
        auto it = books_.find(product);
        if (it != books_.end()) add_line(product, it->second);
      }
    }
  }
  std::sort(lines.begin(), lines.end(),
            [](const BookLine& a, const BookLine& b) {
              return a.product_code < b.product_code;
            });
  return lines;
}

std::vector<Region> Engine::Impl::ListRegions(std::string_view prefix,
                                              std::string_view after, int limit,
                                              bool* more) const {
  std::vector<int32_t> codes;
  for (const auto& [code, r] : regions_) {
    const std::string_view text = strings_.Get(r.code);
    if (StartsWith(text, prefix) && text > after) codes.push_back(code);
  }
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

std::vector<Pairing> Engine::Impl::ListPairings(std::string_view prefix,
                                                std::string_view after_east,
                                                std::string_view after_west,
                                                int limit, bool* more) const {
  std::vector<Pairing> out;
  *more = false;
  for (const auto& [codes, note] : pairings_) {
    std::string east = RegionCodeString(codes.first);
    std::string west = RegionCodeString(codes.second);
    if (std::make_pair(std::string_view(east), std::string_view(west)) <=
        std::make_pair(after_east, after_west)) {
      continue;
    }
    if (!StartsWith(east, prefix) && !StartsWith(west, prefix)) {
      continue;
    }
    if (static_cast<int>(out.size()) == limit) {
      *more = true;
      break;
    }
    out.push_back(Pairing{std::move(east), std::move(west), note});
  }
  return out;
}

// --- Engine
// -------------------------------------------------------------------

Engine::Engine(const EngineOptions& options)
    : impl_(std::make_unique<Impl>(options)) {}
Engine::~Engine() = default;

absl::StatusOr<RegionResult> Engine::UpsertRegion(const CommandContext& ctx,
                                                  const Region& region) {
  return impl_->UpsertRegion(ctx, region);
}
absl::StatusOr<PairingResult> Engine::UpsertPairing(const CommandContext& ctx,
                                                    const Pairing& pairing) {
  return impl_->UpsertPairing(ctx, pairing);
}
absl::StatusOr<PairingResult> Engine::DeletePairing(
    const CommandContext& ctx, std::string_view east_code,
    std::string_view west_code) {
  return impl_->DeletePairing(ctx, east_code, west_code);
}
absl::StatusOr<OfferResult> Engine::PostOffer(const CommandContext& ctx,
                                              const OfferSpec& spec) {
  return impl_->PostOffer(ctx, spec);
}
absl::StatusOr<PledgeResult> Engine::PostPledge(const CommandContext& ctx,
                                                const PledgeSpec& spec) {
  return impl_->PostPledge(ctx, spec);
}
absl::StatusOr<OfferResult> Engine::CancelOffer(const CommandContext& ctx,
                                                uint64_t offer_id) {
  return impl_->CancelOffer(ctx, offer_id);
}
absl::StatusOr<PledgeResult> Engine::CancelPledge(const CommandContext& ctx,
                                                  uint64_t pledge_id) {
  return impl_->CancelPledge(ctx, pledge_id);
}
void Engine::AdvanceClock(Micros now) { impl_->AdvanceClock(now); }
Micros Engine::now() const { return impl_->now_; }

absl::StatusOr<OfferView> Engine::GetOffer(uint64_t id, Micros now) const {
  return impl_->GetOffer(id, now);
}
absl::StatusOr<PledgeView> Engine::GetPledge(uint64_t id, Micros now) const {
  return impl_->GetPledge(id, now);
}
std::vector<OfferView> Engine::ListOffers(const OrderFilter& filter,
                                          uint64_t after_id, int limit,
                                          Micros now, bool* more) const {
  return impl_->ListOffers(filter, after_id, limit, now, more);
}
std::vector<PledgeView> Engine::ListPledges(const OrderFilter& filter,
                                            uint64_t after_id, int limit,
                                            Micros now, bool* more) const {
  return impl_->ListPledges(filter, after_id, limit, now, more);
}
std::vector<MatchView> Engine::ListMatches(const MatchFilter& filter,
                                           uint64_t after_match_id, int limit,
                                           bool* more) const {
  return impl_->ListMatches(filter, after_match_id, limit, more);
}
std::vector<BookLine> Engine::GetBook(std::string_view product_code_prefix,
                                      Micros now) const {
  return impl_->GetBook(product_code_prefix, now);
}
std::vector<Region> Engine::ListRegions(std::string_view code_prefix,
                                        std::string_view after_code, int limit,
                                        bool* more) const {
  return impl_->ListRegions(code_prefix, after_code, limit, more);
}
std::vector<Pairing> Engine::ListPairings(std::string_view code_prefix,
                                          std::string_view after_east,
                                          std::string_view after_west,
                                          int limit, bool* more) const {
  return impl_->ListPairings(code_prefix, after_east, after_west, limit, more);
}
std::string Engine::SaveState() const { return impl_->SaveState(); }
absl::Status Engine::LoadState(std::string_view bytes) {
  return impl_->LoadState(bytes);
}
uint64_t Engine::StateHash() const {
  const std::string state = impl_->SaveState();
  const auto* data = reinterpret_cast<const Bytef*>(state.data());
  const uLong crc = crc32(crc32(0L, Z_NULL, 0), data, state.size());
  const uLong adler = adler32(adler32(0L, Z_NULL, 0), data, state.size());
  return (uint64_t{crc} << 32) | (adler & 0xffffffffu);
}
uint64_t Engine::last_match_id() const { return impl_->matches_.size(); }
uint64_t Engine::offer_count() const { return impl_->offers_.size(); }
uint64_t Engine::pledge_count() const { return impl_->pledges_.size(); }

}  // namespace duijie
