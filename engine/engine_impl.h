// Engine::Impl: the engine's state and the declarations shared by the
// files that implement it (engine.cc: commands, matching and reads;
// engine_state.cc: saving, loading and hashing the state). Internal: include
// engine/engine.h instead.
#ifndef DUIJIE_ENGINE_ENGINE_IMPL_H_
#define DUIJIE_ENGINE_ENGINE_IMPL_H_

#include <deque>
#include <functional>
#include <map>
#include <queue>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "engine/engine.h"
#include "engine/expiry_queue.h"
#include "engine/offer_tree.h"

namespace duijie {

constexpr uint32_t kNone = 0xffffffffu;

// Interned strings: ids, product and region codes. Never freed, so the
// string_views handed out in views stay valid for the engine's lifetime.
class Interner {
 public:
  uint32_t Intern(std::string_view s) {
    auto it = index_.find(s);
    if (it != index_.end()) return it->second;
    strings_.emplace_back(s);
    const uint32_t id = static_cast<uint32_t>(strings_.size() - 1);
    index_.emplace(strings_.back(), id);
    return id;
  }
  uint32_t Find(std::string_view s) const {
    auto it = index_.find(s);
    return it == index_.end() ? kNone : it->second;
  }
  std::string_view Get(uint32_t id) const { return strings_[id]; }
  size_t size() const { return strings_.size(); }

 private:
  std::deque<std::string> strings_;
  absl::flat_hash_map<std::string_view, uint32_t> index_;
};

struct OfferRecord {
  uint32_t supplier;
  uint32_t product;  // index into products_
  int32_t region;
  Grade grade;
  bool certified;
  bool flagged;  // region key-assisted or relocation site when indexed
  OrderStatus status;
  int64_t quantity_kg;
  int64_t remaining_kg;
  int64_t floor_price;
  int64_t min_lot_kg;
  int64_t households;
  Micros expires_at;
  Micros posted_at;
};

struct PledgeRecord {
  uint32_t buyer;
  uint32_t product;
  int32_t city;
  BuyerKind kind;
  Grade min_grade;
  Scope scope;
  bool require_certified;
  OrderStatus status;
  int64_t quantity_kg;
  int64_t remaining_kg;
  int64_t max_price;
  int64_t budget_fen;
  int64_t spent_fen;
  int64_t min_lot_kg;
  Micros expires_at;
  Micros posted_at;
  // Listed codes as posted (for views) and with covered codes removed (for
  // the index); empty unless scope is LISTED_REGIONS.
  std::vector<int32_t> listed;
  std::vector<int32_t> listed_cover;
};

struct MatchRecord {
  uint64_t offer_id;
  uint64_t pledge_id;
  int64_t quantity_kg;
  int64_t price;
  int64_t amount_fen;
  Micros matched_at;
  bool partner;
};

struct ProductNode {
  uint32_t code;  // interned string
  // This product and every product under it that the engine has seen.
  std::vector<uint32_t> subtree;
  // This product and its ancestors, nearest first.
  absl::InlinedVector<uint32_t, 4> chain;
};

struct RegionRecord {
  uint32_t code;  // interned string
  std::string name;
  bool key_assisted;
  bool relocation_site;
  bool flagged() const { return key_assisted || relocation_site; }
};

enum class CommandKind : uint8_t {
  kRegion,
  kPairingUpsert,
  kPairingDelete,
  kPostOffer,
  kPostPledge,
  kCancelOffer,
  kCancelPledge,
};

// What a request_id's first command answered, to answer repeats the same.
struct IdempotencyRecord {
  uint64_t fingerprint = 0;
  Micros at = 0;  // when the first command ran
  CommandKind kind = CommandKind::kRegion;
  uint64_t order_id = 0;
  uint64_t first_match_id = 0;
  uint32_t match_count = 0;
  OrderStatus status = OrderStatus::kOpen;
  int64_t remaining_kg = 0;
  int64_t spent_fen = 0;
  int64_t unfilled_kg = 0;
  Region region;    // kRegion
  Pairing pairing;  // pairing commands
};
// (-max price, pledge id): ascending order is the incoming offer's priority.
using PledgeKey = std::pair<int64_t, uint64_t>;
using PledgeTree = absl::btree_set<PledgeKey>;
using CodeSet = absl::InlinedVector<int32_t, 4>;

class Engine::Impl {
 public:
  explicit Impl(const EngineOptions& options) : options_(options) {}

  // See Engine::SaveState and Engine::LoadState (engine_state.cc).
  std::string SaveState() const;
  absl::Status LoadState(std::string_view bytes);

  absl::StatusOr<RegionResult> UpsertRegion(const CommandContext& ctx,
                                            const Region& region);
  absl::StatusOr<PairingResult> UpsertPairing(const CommandContext& ctx,
                                              const Pairing& pairing);
  absl::StatusOr<PairingResult> DeletePairing(const CommandContext& ctx,
                                              std::string_view east,
                                              std::string_view west);
  absl::StatusOr<OfferResult> PostOffer(const CommandContext& ctx,
                                        const OfferSpec& spec);
  absl::StatusOr<PledgeResult> PostPledge(const CommandContext& ctx,
                                          const PledgeSpec& spec);
  absl::StatusOr<OfferResult> CancelOffer(const CommandContext& ctx,
                                          uint64_t id);
  absl::StatusOr<PledgeResult> CancelPledge(const CommandContext& ctx,
                                            uint64_t id);
  void AdvanceClock(Micros now);

  absl::StatusOr<OfferView> GetOffer(uint64_t id, Micros now) const;
  absl::StatusOr<PledgeView> GetPledge(uint64_t id, Micros now) const;
  std::vector<OfferView> ListOffers(const OrderFilter& filter,
                                    uint64_t after_id, int limit, Micros now,
                                    bool* more) const;
  std::vector<PledgeView> ListPledges(const OrderFilter& filter,
                                      uint64_t after_id, int limit, Micros now,
                                      bool* more) const;
  std::vector<MatchView> ListMatches(const MatchFilter& filter,
                                     uint64_t after_id, int limit,
                                     bool* more) const;
  std::vector<BookLine> GetBook(std::string_view prefix, Micros now) const;
  std::vector<Region> ListRegions(std::string_view prefix,
                                  std::string_view after, int limit,
                                  bool* more) const;
  std::vector<Pairing> ListPairings(std::string_view prefix,
                                    std::string_view after_east,
                                    std::string_view after_west, int limit,
                                    bool* more) const;

  const EngineOptions options_;
  Micros now_ = 0;
  std::vector<OfferRecord> offers_;    // offer id - 1
  std::vector<PledgeRecord> pledges_;  // pledge id - 1
  std::vector<MatchRecord> matches_;   // match id - 1

 private:
  // Per product code as posted: open totals and price levels, for GetBook.
  struct BookSide {
    int64_t kg = 0;
    int64_t count = 0;
    absl::btree_map<int64_t, int64_t> prices;  // price -> open orders
  };
  struct ProductBook {
    BookSide offers;
    BookSide pledges;
  };

  // Looks up a request_id. Returns true when the command is a repeat (and
  // *record is its first answer); an error for a conflicting body.
  absl::StatusOr<bool> CheckRequestId(const CommandContext& ctx,
                                      CommandKind kind,
                                      const IdempotencyRecord** record) const;
  void Remember(const CommandContext& ctx, IdempotencyRecord record);

  absl::Status CheckKnownRegion(std::string_view field, std::string_view text,
                                int32_t* code) const;
  uint32_t InternProduct(std::string_view code);
  bool IsFlagged(int32_t region) const;
  CodeSet PartnerWestCodes(int32_t city) const;
  CodeSet PartnerEastCodes(int32_t region) const;
  bool IsPartner(int32_t region, int32_t city) const;
  void RebuildPairingIndex();

  // An order starts resting (trees, book totals, expiry queue) or stops
  // (trees and book totals; its expiry entry is left for the clock to skip).
  // Called once each per order.
  void IndexOffer(uint64_t id);
  void UnindexOffer(uint64_t id);
  // The offer trees alone, for moving a resting offer between shelves.
  void AddToOfferTrees(uint64_t id);
  void RemoveFromOfferTrees(uint64_t id);
  void IndexPledge(uint64_t id);
  void UnindexPledge(uint64_t id);
  template <typename Fn>
  void ForEachOfferTree(const OfferRecord& o, Fn fn);
  template <typename Fn>
  void ForEachPledgeTree(const PledgeRecord& p, Fn fn);
  static void AddToBook(BookSide& side, int64_t kg, int64_t price);
  static void RemoveFromBook(BookSide& side, int64_t kg, int64_t price);

  // Matching. Both return 0 when nothing fits.
  uint64_t BestOfferFor(uint64_t pledge_id, const CodeSet& partner_west);
  uint64_t BestPledgeFor(uint64_t offer_id, const CodeSet& partner_east);
  int64_t OfferFill(const OfferRecord& o, const PledgeRecord& p,
                    int64_t price) const;
  // Fills the largest allowed quantity between the two at `price` and
  // closes whichever side is done. The resting side is the indexed one.
  void Fill(uint64_t offer_id, uint64_t pledge_id, int64_t price, bool partner,
            bool incoming_pledge);
  void Close(bool offer, uint64_t id, OrderStatus status);

  OfferView MakeOfferView(uint64_t id, Micros now) const;
  PledgeView MakePledgeView(uint64_t id, Micros now) const;
  MatchView MakeMatchView(uint64_t id) const;
  std::vector<MatchView> MatchRange(uint64_t first, uint32_t count) const;
  bool OfferPasses(const OfferRecord& o, const OrderFilter& f,
                   Micros now) const;
  bool PledgePasses(const PledgeRecord& p, const OrderFilter& f,
                    Micros now) const;
  bool MatchPasses(const MatchRecord& m, const MatchFilter& f) const;
  static OrderStatus EffectiveStatus(OrderStatus s, Micros expires_at,
                                     Micros now) {
    return s == OrderStatus::kOpen && expires_at <= now ? OrderStatus::kExpired
                                                        : s;
  }

  Interner strings_;
  std::vector<ProductNode> products_;
  absl::flat_hash_map<uint32_t, uint32_t> product_by_code_;  // string -> idx
  absl::flat_hash_map<int32_t, RegionRecord> regions_;
  std::map<std::pair<int32_t, int32_t>, std::string> pairings_;
  absl::flat_hash_map<int32_t, CodeSet> west_by_east_;
  absl::flat_hash_map<int32_t, CodeSet> east_by_west_;

  OfferNodePool offer_nodes_;
  absl::flat_hash_map<uint64_t, OfferTree> offer_trees_;
  absl::flat_hash_map<uint64_t, PledgeTree> pledge_trees_;
  absl::flat_hash_map<uint32_t, ProductBook> books_;  // by product index

  // (expires_at, id, is_offer) of every resting order (and of some that
  // left the book early, until their time): what the clock retires, and
  // what a read at a later time leaves out. The tag is id * 2 + is_offer,
  // so (expires_at, tag) order is (expires_at, id, is_offer) order.
  static uint64_t ExpiryTag(uint64_t id, bool is_offer) {
    return id << 1 | uint64_t{is_offer};
  }
  ExpiryQueue expiries_;
  // Whether an expiry entry's order still rests (an entry is left behind
  // when its order is cancelled or filled; see expiry_queue.h).
  bool ExpiryLive(uint64_t tag) const {
    const uint64_t id = tag >> 1;
    return (tag & 1) ? offers_[id - 1].status == OrderStatus::kOpen
                     : pledges_[id - 1].status == OrderStatus::kOpen;
  }

  absl::flat_hash_map<uint32_t, std::vector<uint64_t>> offers_by_supplier_;
  absl::flat_hash_map<uint32_t, std::vector<uint64_t>> pledges_by_buyer_;
  absl::flat_hash_map<uint32_t, std::vector<uint64_t>> matches_by_supplier_;
  absl::flat_hash_map<uint32_t, std::vector<uint64_t>> matches_by_buyer_;

  // Remembered request_ids, oldest first, and their first answers keyed by
  // views into that deque (its elements never move).
  std::deque<std::string> request_order_;
  absl::flat_hash_map<std::string_view, IdempotencyRecord> requests_;
};

}  // namespace duijie

#endif  // DUIJIE_ENGINE_ENGINE_IMPL_H_
