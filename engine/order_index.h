// OrderIndex: where resting orders sit so that an incoming order finds its
// best counterpart without scanning, and the two best-candidate searches.
//
// Offers sit in OfferTrees (offer_tree.h) keyed by a shelf: (product,
// grade, certified, priority region, region key). A region key is the
// province the offer's region is under, or 0, the national key; every
// resting offer is on the shelf of each, two in all. Prefectures and
// counties have no shelves of their own: a search for one reads its
// province's shelf and passes over the offers from elsewhere in the
// province. (County shelves, one per county, grade and product, mostly held
// an offer or two: at a million orders they cost a seventh of the resident
// bytes per order and a tenth of the last-level cache misses. Prefecture
// shelves cost 50 bytes a resting order at a million, 13% of the engine's,
// and their upkeep more than the searches that read them saved.) A
// pledge asks, group by group (SearchGroup), the shelves its product
// subtree, grades and scope name: the partner groups read the shelves of
// the west codes paired with its city (a province's own, a prefecture's or
// a county's province's), so partner status needs no per-offer test; the
// others read the national shelves (or the listed regions' provinces') and
// pass over partner offers, which the partner groups already took if they
// could.
//
// Pledges sit in B-tree sets ordered by (max price desc, queue sequence),
// keyed by
// (product as posted, min grade, certified required, scope family, region
// key): ANY pledges under their city's chain and nationally, PARTNERS_ONLY
// pledges under their city's chain only, LISTED_REGIONS pledges under each
// listed code. An incoming offer reads the sets of the east codes paired
// with its region first, then the national and listed ones.
#ifndef DUIJIE_ENGINE_ORDER_INDEX_H_
#define DUIJIE_ENGINE_ORDER_INDEX_H_

#include <cassert>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/types/span.h"
#include "engine/book_totals.h"
#include "engine/codes.h"
#include "engine/offer_tree.h"
#include "engine/product_tree.h"
#include "engine/records.h"
#include "engine/reference_data.h"

namespace duijie {

class OrderIndex {
 public:
  // Reads the records, products and book totals it is given; none is
  // owned, all must outlive this.
  OrderIndex(const OfferRecords* offers, const PledgeRecords* pledges,
             const ProductTree* products, const BookTotals* books)
      : offers_(*offers),
        pledges_(*pledges),
        products_(*products),
        books_(*books) {}

  // A resting order joins or leaves its shelves. The record must be as it
  // was when added when it is removed.
  void AddOffer(uint64_t id);
  void RemoveOffer(uint64_t id);
  // After a resting offer was partly filled: its shelves learn its size.
  void OfferResized(uint64_t id);
  void AddPledge(uint64_t id);
  void RemovePledge(uint64_t id);

  // The best resting offer the pledge can fill now (0 if none), given the
  // west codes paired with its city. See engine.cc for the priority.
  uint64_t BestOfferFor(uint64_t pledge_id, const CodeSet& partner_west) const;
  // The best `k` (at most 16) resting offers the pledge can fill now, best
  // first, appended to *out: those BestOfferFor would give one after the
  // other if each were taken off the book in turn.
  using OfferIds = absl::InlinedVector<uint64_t, 16>;
  void BestOffersFor(uint64_t pledge_id, const CodeSet& partner_west, size_t k,
                     OfferIds* out) const;
  // The best resting pledge for the offer (0 if none), given the east codes
  // paired with its region.
  uint64_t BestPledgeFor(uint64_t offer_id, const CodeSet& partner_east) const;
  // The best `k` (at most 16) resting pledges for the offer, best first,
  // appended to *out: those BestPledgeFor would give one after the other if
  // each were taken off the book in turn.
  using PledgeIds = absl::InlinedVector<uint64_t, 16>;
  void BestPledgesFor(uint64_t offer_id, const CodeSet& partner_east, size_t k,
                      PledgeIds* out) const;

  // A resting offer as its national shelf holds it: all a pledge's tests
  // but the scope's can be made of it without reading the offer's record.
  struct RestingOffer {
    uint64_t id;
    Micros expires_at;
    int64_t floor_price;
    // min(min lot, remaining), as OfferFit::lot_kg: FillQuantity gives the
    // same with it as with the min lot, since a remainder below its lot
    // sells whole.
    int64_t lot_kg;
    int64_t remaining_kg;
    Grade grade;
    bool certified;
  };
  // Calls fn(const RestingOffer&) with each resting offer of `product`
  // itself (not of its subtree), once, in no particular order. For reads
  // that explain an order (explain.cc): it visits every such offer, so it
  // is not for the matching path.
  template <typename Fn>
  void ForEachOfferOf(uint32_t product, Fn fn) const {
    // Every resting offer is on exactly one national shelf, whose key
    // gives its grade and certification and whose node the rest.
    for (int g = 1; g <= 3; ++g) {
      const Grade grade = static_cast<Grade>(g);
      for (const bool certified : {false, true}) {
        for (const bool priority : {false, true}) {
          const OfferTree* shelf =
              NationalShelf(product, grade, certified, priority);
          if (shelf == nullptr) continue;
          shelf->ForEachNode(offer_nodes_, [&](const OfferNodePool::Node& n) {
            fn(RestingOffer{n.offer_id, n.expires_at, n.floor_price, n.lot_kg,
                            n.remaining_kg, grade, certified});
          });
        }
      }
    }
  }
  // Appends the resting pledges posted for `product` itself to *ids,
  // ascending by id, each once. For explanations too: it reads every pledge
  // shelf.
  void PledgesOf(uint32_t product, std::vector<uint64_t>* ids) const;

  // For CheckInvariants: whether every tree is well formed and the index
  // holds exactly the shelves of the open offers and pledges; a description
  // of the first difference otherwise (empty when all agree).
  std::string Check() const;

 private:
  // (-max price, queue sequence, pledge id): ascending order is the
  // incoming offer's priority (sequences are unique, so the id only says
  // which pledge it is). 16 bytes, so that a B-tree node holds half as many
  // again as with 64-bit fields: max prices are at most kMaxPriceFenPerKg
  // (2^30) and pledge ids at most kMaxPledgeId (2^32 - 1), both refused
  // above that when posted or loaded.
  struct PledgeKey {
    uint64_t seq;
    int32_t neg_price;
    uint32_t id;
    friend bool operator<(const PledgeKey& a, const PledgeKey& b) {
      return a.neg_price != b.neg_price ? a.neg_price < b.neg_price
                                        : a.seq < b.seq;
    }
    friend bool operator==(const PledgeKey& a, const PledgeKey& b) {
      return a.neg_price == b.neg_price && a.seq == b.seq && a.id == b.id;
    }
  };
  static_assert(sizeof(PledgeKey) == 16);
  static PledgeKey PledgeKeyOf(const PledgeRecord& p, uint64_t id) {
    assert(id <= UINT32_MAX && p.max_price > 0 && p.max_price <= INT32_MAX);
    return {p.seq, static_cast<int32_t>(-p.max_price),
            static_cast<uint32_t>(id)};
  }
  using PledgeTree = absl::btree_set<PledgeKey>;

  // The shelf of `product`'s offers of that grade, certification and
  // priority flag with region key 0 (every resting offer is on one), or
  // null when it holds none.
  const OfferTree* NationalShelf(uint32_t product, Grade grade, bool certified,
                                 bool priority) const;
  template <typename Fn>
  void ForEachOfferShelf(const OfferRecord& o, Fn fn) const;
  template <typename Fn>
  void ForEachPledgeShelf(const PledgeRecord& p, Fn fn) const;

  // Which pledges of a tree an incoming offer may take in a phase of its
  // search (partner pledges first, then the others).
  enum class PartnerFilter { kEither, kPartnersOnly, kNonPartnersOnly };
  // The products of the offer's chain with a pledge that bids its floor.
  absl::InlinedVector<uint32_t, 4> ProductsBidding(const OfferRecord& o) const;
  // Calls fn(tree, filter) for each pledge tree of `products` that an
  // incoming offer's search reads in the phase (`chain`: the offer's
  // region chain).
  template <typename Fn>
  void ForEachPledgeTree(const OfferRecord& o,
                         absl::Span<const uint32_t> products,
                         const RegionChain& chain, const CodeSet& partner_east,
                         bool partner_phase, Fn fn) const;
  // Whether the pledge passes the phase's filter and can take some of the
  // offer (lots and budget) at its max price.
  bool PledgeTakes(const OfferRecord& o, const PledgeRecord& p,
                   const CodeSet& partner_east, PartnerFilter filter) const;

  const OfferRecords& offers_;
  const PledgeRecords& pledges_;
  const ProductTree& products_;
  const BookTotals& books_;

  OfferNodePool offer_nodes_;
  absl::flat_hash_map<uint64_t, OfferTree> offer_trees_;    // by shelf key
  absl::flat_hash_map<uint64_t, PledgeTree> pledge_trees_;  // by shelf key
};

}  // namespace duijie

#endif  // DUIJIE_ENGINE_ORDER_INDEX_H_
