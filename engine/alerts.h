// AlertMonitor: glut early warning (滞销监测预警), kept by the engine as
// commands apply so that journal replay raises the same alerts at the same
// times. The engine calls it as each command applies, or records the calls
// in a feed that this monitor follows on another thread (alert_feed.h):
// the same calls in the same order, so the same alerts.
//
// Cells. For every product leaf as posted and every region level of an
// offer (its county, its prefecture xxxx00 and its province xx0000) a cell
// keeps the open offer kg, the at-risk kg (open offers whose expires_at -
// horizon <= the engine's clock; the horizon is the category's), the
// households behind the at-risk offers, and what the compatibility of
// demand needs of them: at-risk kg by grade, certified at-risk kg and the
// floors of the at-risk offers. The cells are fed by the same rest, fill and
// leave events as BookTotals (Engine::Impl calls OfferIn/OfferOut/
// OfferFilled next to books_.OfferRested/OfferLeft/OfferFilled), so each
// costs three cell updates. Offers not yet at risk wait in a queue ordered
// by expires_at - horizon, which Tick drains.
//
// Demand. Each resting pledge's remaining kg are filed in buckets of its
// product node by scope: one bucket for ANY; for LISTED_REGIONS and
// PARTNERS_ONLY (its buyer city's partner west codes as the pairings stand;
// a pairing change files the whole demand again at the end of its command)
// an exact bucket for each code of the scope and a reach bucket for each
// region that is a code or holds one (the codes and their ancestors, once
// each). A scope reaches a region R when one of its codes overlaps R (holds
// it or is held by it): R finds the pledge in the reach bucket of R or in
// the exact bucket of a strict ancestor of R, never both and never twice
// (scope codes are outermost). A bucket keeps, for each of the six classes
// a cell may ask about (its best at-risk grade, and whether some at-risk
// offer is certified), the kg of the pledges that class admits by max
// price, in blocks of prices (Bucket), so that the kg bid at or above a
// floor is a sum over the blocks above it and a scan of one. A cell's
// compatible demand is the sum, over the product's node and its ancestors, of
// its class's kg bid at or above the lowest at-risk floor of the cell in the
// ANY bucket, the reach bucket of its region and the exact buckets of its
// region's ancestors: a handful of look-ups. It is an upper bound: it counts a
// pledge compatible with at least one at-risk offer of the cell (price, grade
// and certification are judged separately, and a pledge's budget and min lot
// are not), and it counts the whole remaining kg of every such pledge even when
// it would take little of this cell.
//
// Judgement. After every command each cell stands as the rules judge it
// at its exact figures: every alert that should be raised, escalated or
// cleared is, at the command's time, in cell key order. Judging every cell
// after every command would cost what the book holds, so a cell is judged
// again only when its judgement could have changed:
// - a cell whose offers changed (dirty) is judged at the end of the
//   command; its demand is computed again only when its lowest at-risk
//   floor or its query class changed, or when the demand may have moved
//   enough to change the judgement (below);
// - demand moves by pledges: each product node keeps its churn by price
//   band (sixteenths of an octave of max price: price_bands.h), the sum
//   of |kg| filed or unfiled under it, and a pledge of n kg moves a cell's
//   demand by at most n, and only if its max price reaches the cell's
//   floor, so only if its band is the floor's or above. A cell's demand
//   was exact when the churn of its product's chain in its floor's band
//   and above was churn_at; its judgement stands while the demand is
//   within its slack of that figure (how far demand may move before a
//   threshold is crossed, from the at-risk kg and the rules). Cells wait
//   in a heap per product and band, keyed by churn_at + slack; when a
//   pledge moves the churn of a node, the cells of the products under it
//   whose key their chain's churn reached are judged, with their demand
//   computed afresh.
// So a judgement is always the one exact figures give, whatever was judged
// before: a state loaded from a snapshot judges as the engine that saved it,
// although its bookkeeping (churn, heaps) starts afresh. A cell that cannot
// raise at any demand (at-risk kg under min_gap_kg, no open alert) is in no
// heap, and judging it computes no demand. A pairing change (partners scopes
// reach anew), new thresholds and Rebuild judge every cell with at-risk kg or
// an alert.
//
// An alert's figures (at-risk, demand, households, open kg) are saved as of
// its last event (raised, escalated, cleared), which updated_at tells;
// ListAlerts shows an open alert's figures as they stand.
//
// States and journals from before this rule (when pledges' demand was
// judged on the first tick of each engine minute) load and replay; their
// alerts are judged by this rule from the first command after loading, so
// events after an upgrade may differ from what the older engine made.
//
// Thresholds. A new engine has none, and raises nothing: alerts start with
// the first SetAlertThresholds (the server sends one for the default ""
// at start, from its flags), so that journals written before alerts
// existed replay to the states they had.
//
// Rules, per category thresholds T and gap = at_risk_kg - demand_kg:
// raised (WATCH) when gap >= T.min_gap_kg and at_risk_kg x 1000 >=
// demand_kg x T.min_ratio_permille; WARNING from gap >= 2 x min_gap_kg,
// CRITICAL from 4 x; an open alert only escalates (its level is the highest
// reached); cleared when gap < min_gap_kg x clear_permille / 1000
// (hysteresis: between that and min_gap_kg an open alert stays open and a
// closed one is not raised). A cleared cell may raise a new alert later.
#ifndef DUIJIE_ENGINE_ALERTS_H_
#define DUIJIE_ENGINE_ALERTS_H_

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "engine/alert_feed.h"
#include "engine/byte_codec.h"
#include "engine/expiry_queue.h"
#include "engine/interner.h"
#include "engine/price_bands.h"
#include "engine/product_tree.h"
#include "engine/records.h"
#include "engine/reference_data.h"
#include "engine/types.h"

namespace duijie {

// An alert as the engine keeps it.
struct AlertRecord {
  uint32_t product;  // ProductTree index
  int32_t region;    // county, prefecture or province code
  AlertLevel level;
  int64_t at_risk_kg;
  int64_t demand_kg;
  int64_t households;
  int64_t open_kg;
  Micros raised_at;
  Micros updated_at;
  Micros cleared_at;  // 0 while open
};

// One entry of the alert event log: the alert's figures as of the event.
struct AlertEventRecord {
  uint64_t alert_id;
  AlertEventKind kind;
  AlertLevel level;
  int64_t at_risk_kg;
  int64_t demand_kg;
  int64_t households;
  int64_t open_kg;
  Micros at;
};

class AlertMonitor {
 public:
  AlertMonitor(const OfferRecords* offers, const PledgeRecords* pledges,
               const ProductTree* products, const ReferenceData* reference,
               const Interner* strings)
      : offers_(offers),
        pledges_(pledges),
        products_(products),
        reference_(reference),
        strings_(*strings) {}

  // --- Following a feed (alert_feed.h) on a thread of its own.
  // Copies the records, products and pairings the monitor reads from those
  // it was made with and reads its copies from then on (its cells and
  // demand, made from the same figures, stand). The engine then stops
  // calling the book events and feeds them instead; candidates still read
  // the buyer ids from the engine's interner.
  void StartFollowing();
  // Makes the calls the feed records, in order, keeping the copies in
  // step; moves the records out of *feed.
  void Follow(AlertFeed* feed);

  // --- Book events (the order's record as it rests, before it changes).
  void OfferIn(uint64_t id, Micros now);
  void OfferOut(uint64_t id);
  void OfferFilled(uint64_t id, int64_t kg);
  void PledgeIn(uint64_t id);
  void PledgeOut(uint64_t id);
  void PledgeFilled(uint64_t id, int64_t kg);

  // The clock moved to `now`: offers whose time has come become at risk.
  void Tick(Micros now);
  // Judges the cells whose judgement the command may have changed, at
  // `now` (see "Judgement").
  void Evaluate(Micros now);

  // --- Thresholds
  static absl::Status CheckThresholds(const AlertThresholds& t);
  // Sets them and recomputes everything against them at `now`.
  void SetThresholds(const AlertThresholds& t, Micros now);
  // The category's own thresholds, or the default's ("") under its name,
  // or (neither set) AlertThresholds' initial values under its name.
  AlertThresholds ThresholdsOf(std::string_view category) const {
    return ThresholdsIn(thresholds_, category);
  }
  // The same, of a set of thresholds by category.
  static AlertThresholds ThresholdsIn(
      const std::map<std::string, AlertThresholds>& set,
      std::string_view category);
  // The thresholds set, by category (the default "" first when set).
  std::vector<AlertThresholds> ListThresholds() const;

  // --- Reads
  size_t alert_count() const { return alerts_.size(); }
  size_t event_count() const { return events_.size(); }
  // The alerts passing `filter`, open ones worst first (level, then gap),
  // then cleared ones newest first; with candidates when `candidates`.
  std::vector<AlertView> ListAlerts(const AlertFilter& filter,
                                    bool candidates) const;
  // Events after `after_event_id` passing the filter, at most `limit`.
  std::vector<AlertEventView> ListEvents(const AlertFilter& filter,
                                         uint64_t after_event_id, int limit,
                                         bool* more) const;

  // --- State: saved after the book (engine_state.cc). Empty() says
  // whether there is anything to save (no thresholds set, no alert ever).
  bool Empty() const {
    return thresholds_.empty() && alerts_.empty() && events_.empty();
  }
  void Save(ByteWriter& w) const;
  // False on malformed input. Rebuild() after the book is loaded.
  bool Load(ByteReader& r, Micros now);
  // Recomputes the derived cells, queue and demand from the book at `now`
  // (no evaluation: the saved alerts are as the last command left them).
  void Rebuild(Micros now);

 private:
  using CellKey = uint64_t;  // product << 32 | region
  static constexpr uint32_t kNoCell = UINT32_MAX;
  // No wake-up: the cell is in no heap.
  static constexpr int64_t kNever = INT64_MAX;
  struct Cell {
    CellKey key = 0;
    uint32_t parent = kNoCell;  // the cell of the next region level up
    int64_t open_kg = 0;
    int64_t at_risk_kg = 0;
    int64_t households = 0;                    // behind the at-risk offers
    int64_t grade_kg[3] = {};                  // at-risk kg by Grade number - 1
    int64_t certified_kg = 0;                  // at-risk certified kg
    absl::btree_map<int64_t, int64_t> floors;  // at-risk floor -> offers
    uint64_t alert_id = 0;                     // the open alert, or 0
    // The compatible demand as last computed, the floor and class it was
    // computed for (-1: never), and the chain's churn then in that floor's
    // band and above; the cell waits in that band's heap.
    int64_t demand = 0;
    int64_t demand_floor = -1;
    int demand_class = -1;
    int64_t churn_at = 0;
    int64_t wake = kNever;  // heap key: churn_at + slack
    uint32_t heap_pos = kNoCell;
    bool dirty = false;
    // The open alert's level, kept here so that judging a cell reads no
    // alert record unless it makes an event.
    AlertLevel alert_level = AlertLevel::kWatch;
  };
  static CellKey KeyOf(uint32_t product, int32_t region) {
    return uint64_t{product} << 32 | static_cast<uint32_t>(region);
  }
  // A cell asks for the demand compatible with its best at-risk grade and
  // whether any at-risk offer is certified: 3 x 2 query classes, (best
  // grade - 1) x 2 + any certified. A pledge counts in every class it
  // suits, so that a question is one look-up per bucket.
  static constexpr int kClasses = 6;
  // A bucket's kg by max price, per class, summed from a floor up: levels
  // (one per distinct price with kg, descending) in blocks of at most
  // 2 x kBlock levels, each block with its kg per class, so that "at or
  // above a floor" adds the whole blocks above it and scans one; a new
  // price is a small insertion in its block, and a price whose kg are all
  // gone leaves. Books of a million orders give buckets thousands of
  // distinct prices: both stay O(levels / kBlock + kBlock).
  static constexpr size_t kBlock = 64;
  struct Bucket {
    struct Level {
      int64_t price;
      int64_t kg[kClasses];
    };
    struct Block {
      std::vector<Level> levels;  // descending prices, never empty
      // levels.back().price, kept here so that finding a floor's block
      // reads the blocks alone, not each block's levels (a cold line
      // each in books of a million orders).
      int64_t lowest = 0;
      int64_t kg[kClasses] = {};
    };
    std::vector<Block> blocks;  // descending prices
    int64_t total_kg = 0;       // of every pledge in the bucket, once
    void Add(int64_t price, uint8_t class_mask, int64_t kg);
    int64_t AtOrAbove(int64_t floor, int q) const;
  };
  // node << 32 | family << 28 | code (a region code, < 2^20; 0 for ANY).
  using BucketKey = uint64_t;
  static BucketKey BucketKeyOf(uint32_t node, uint64_t family, int32_t code) {
    return uint64_t{node} << 32 | family << 28 | static_cast<uint32_t>(code);
  }
  // The query classes a pledge suits (bit q: class q).
  static uint8_t ClassMaskOf(const PledgeRecord& p);
  void AddToBucket(BucketKey key, const PledgeRecord& p, uint8_t mask,
                   int64_t kg);
  int64_t SumOf(uint32_t node, uint64_t family, int32_t code, int64_t floor,
                int q) const;
  // Files `kg` of the pledge under each region its scope names (listed
  // codes, or its city's partner west codes as the pairings stand).
  void AddScoped(const PledgeRecord& p, const CodeSet& cover, uint8_t mask,
                 int64_t kg);
  // When the pairings changed, files the whole demand anew (partners
  // scopes then reach as the pairings now stand).
  void SyncPairings();

  // The thresholds of the product's category: its own, else the default
  // (""), else null: no thresholds, no alerts, and the product's offers are
  // not followed (an engine starts so, and old journals replay so).
  const AlertThresholds* For(uint32_t product) const;
  static Micros RiskAt(const OfferRecord& o, const AlertThresholds& t) {
    return o.expires_at - t.horizon;
  }
  // Adds `sign` x the offer to `cell` and the cells above it: to their
  // open kg when `open`, to their at-risk figures when `at_risk`.
  void AddOffer(const OfferRecord& o, uint32_t cell, int sign, bool open,
                bool at_risk);
  void MakeAtRisk(uint64_t id);
  // The cell of (product, region) and those of the region's ancestors,
  // made when missing; returns the innermost.
  uint32_t CellsOf(uint32_t product, int32_t region);
  const Cell* FindCell(uint32_t product, int32_t region) const;
  void MarkDirty(uint32_t cell);
  // Marks every cell with at-risk kg or an open alert dirty, its demand to
  // be computed afresh.
  void JudgeAllAgain();
  void AddDemand(const PledgeRecord& p, int64_t kg);
  int64_t DemandOf(uint32_t product, int32_t region, const Cell& cell) const;
  // The churn of the product's chain in `band` and above.
  int64_t ChainChurn(uint32_t product, int band) const;
  // How far the cell's demand may move from `demand` before its judgement
  // under `t` could change (kNever: at no demand); <= 0 when it changes at
  // `demand` itself.
  int64_t Slack(const Cell& c, const AlertThresholds& t, int64_t demand) const;
  // Slack's arithmetic in `Wide` (int64_t where it cannot overflow, else
  // __int128); `level` is the open alert's, read only when `open`.
  template <typename Wide>
  static int64_t SlackIn(Wide a, Wide d, const AlertThresholds& t, bool open,
                         AlertLevel level);
  // The best (lowest) grade number at risk, and the query class.
  static int BestGrade(const Cell& c);
  static int QueryClass(const Cell& c);
  // Judges a cell (see "Judgement"), and files it in its heap anew.
  void Judge(uint32_t cell, Micros now);
  // Raises, escalates or clears the cell's alert at its exact demand.
  void Decide(Cell& c, const AlertThresholds& t, Micros now);
  // The heap of each product node, by wake (a binary min-heap of cells).
  void SetWake(uint32_t cell, int64_t wake);
  void SiftUp(std::vector<uint32_t>& heap, uint32_t pos);
  void SiftDown(std::vector<uint32_t>& heap, uint32_t pos);
  // Logs an event of alert `alert_id`, whose record is `a`.
  void Log(uint64_t alert_id, const AlertRecord& a, AlertEventKind kind);
  // live: an open alert's figures as they stand, not as of its last event.
  AlertView MakeView(uint64_t alert_id, bool live) const;
  bool Passes(const AlertRecord& a, const AlertFilter& f) const;
  std::vector<AlertCandidateView> CandidatesOf(const AlertRecord& a) const;

  const OfferRecords& offers() const { return *offers_; }
  const PledgeRecords& pledges() const { return *pledges_; }
  const ProductTree& products() const { return *products_; }
  const ReferenceData& reference() const { return *reference_; }

  // The engine's, or (following) own_'s.
  const OfferRecords* offers_;
  const PledgeRecords* pledges_;
  const ProductTree* products_;
  const ReferenceData* reference_;
  // The engine's: candidates read buyer ids (under the engine's lock).
  const Interner& strings_;
  // What a following monitor reads instead of the engine's: records as
  // they rest (copied in, filled, marked closed as they leave), the product
  // tree interned in the engine's order, and the pairings as of the last
  // change. Its interner holds product codes only.
  struct Own {
    OfferRecords offers;
    PledgeRecords pledges;
    Interner strings;
    ProductTree products{&strings};
    ReferenceData reference{&strings};
  };
  std::unique_ptr<Own> own_;

  // Saved.
  // Set ones by category; a std::map, whose entries by_product_ points to.
  std::map<std::string, AlertThresholds> thresholds_;
  // Deques: they only grow (about two events a command in a glut), and a
  // vector's doublings copied the whole log again and again.
  std::deque<AlertRecord> alerts_;       // alert id - 1
  std::deque<AlertEventRecord> events_;  // event id - 1

  // Derived.
  // Per product index: its category's thresholds, &kUnknown until looked
  // up (For, which only commands call: reads never touch this cache).
  mutable std::vector<const AlertThresholds*> by_product_;
  static const AlertThresholds kUnknown;
  // Cells by index; a cell stays once made (until Rebuild): cells are
  // bounded by the (product, region) pairs offers have named.
  std::vector<Cell> cells_;
  absl::flat_hash_map<CellKey, uint32_t> cell_index_;
  std::vector<uint32_t> offer_cell_;  // by offer id - 1: its innermost cell
  std::vector<uint8_t> at_risk_;      // by offer id - 1
  ExpiryQueue risk_queue_;            // (expires_at - horizon, offer id)
  std::vector<uint32_t> dirty_;       // cells to judge at Evaluate
  // Per product node: the churn of its demand in each band and above, and
  // its cells' heaps by their floor's band.
  // (4.2 KB a node: nodes are the product codes pledges name.)
  std::vector<PriceBandChurn> churn_;
  // A product's heaps, made for the bands its cells' floors have been in
  // (a few of the 496): band b's is heaps[slot[b] - 1] (slot 0: none yet),
  // and `used` says which hold cells (band b is bit b % 64 of word b / 64),
  // so that a churn visits only those.
  struct ProductHeaps {
    std::array<uint16_t, kPriceBands> slot = {};
    std::array<uint64_t, kPriceBandWords> used = {};
    std::vector<std::vector<uint32_t>> heaps;
    // Band b's heap, made when missing.
    std::vector<uint32_t>& Of(int band) {
      if (slot[band] == 0) {
        heaps.emplace_back();
        slot[band] = static_cast<uint16_t>(heaps.size());
      }
      return heaps[slot[band] - 1];
    }
  };
  std::vector<ProductHeaps> heaps_;
  // node << 16 | band of each churn since the last Evaluate.
  std::vector<uint64_t> churned_;
  absl::flat_hash_map<BucketKey, Bucket> demand_;
  // Per product node: its open pledges' kg in demand_ (DemandOf skips the
  // nodes without any).
  std::vector<int64_t> node_kg_;
  // The pairings version the partners demand was filed under.
  uint64_t filed_pairings_version_ = 0;
};

}  // namespace duijie

#endif  // DUIJIE_ENGINE_ALERTS_H_
