// AlertMonitor: glut early warning (滞销监测预警), kept by the engine as
// commands apply so that journal replay raises the same alerts at the same
// times.
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
// Demand. Each resting pledge's remaining kg sit in one bucket of its
// product node keyed by (scope, min grade, certification required), as a
// price -> kg map. The scope key is 0 for ANY, the buyer city for
// PARTNERS_ONLY (its partner codes are read from the pairings when a cell
// is evaluated) and an interned list of codes for LISTED_REGIONS. A cell's
// compatible demand is the sum, over the buckets of the product's node and
// its ancestors whose scope reaches some part of the cell's region and
// whose grade and certification some at-risk offer of the cell meets, of
// the kg bid at or above the lowest at-risk floor of the cell. It is an
// upper bound: it counts a pledge compatible with at least one at-risk offer
// of the cell (price, grade and certification are judged separately, and
// a pledge's budget and min lot are not), and it counts the whole remaining
// kg of every such pledge even when it would take little of this cell.
//
// Evaluation. A cell is evaluated (raise, escalate, clear) at the end of a
// command that changed it (dirty cells, sorted by key so the order is
// deterministic), and only when it is a candidate: its at-risk kg reach the
// category's min_gap_kg, or it has an open alert; any other cell can
// neither raise nor hold an alert, so most commands pay one comparison per
// cell. A pledge change does not fan out to the cells it may reach: instead
// every candidate cell is evaluated again on the first tick of each engine
// minute (a tick that moves the clock past a whole minute), so demand that
// appears or goes lifts or raises an alert within a minute of engine time,
// and a command costs what it changed. Pairing changes are seen the same
// way. Everything derived here is rebuilt from the book on LoadState and on
// SetAlertThresholds; only the thresholds, the alerts and their event log
// are saved.
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

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "engine/byte_codec.h"
#include "engine/expiry_queue.h"
#include "engine/interner.h"
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
  AlertMonitor(const std::vector<OfferRecord>* offers,
               const std::vector<PledgeRecord>* pledges,
               const ProductTree* products, const ReferenceData* reference,
               const Interner* strings)
      : offers_(*offers),
        pledges_(*pledges),
        products_(*products),
        reference_(*reference),
        strings_(*strings) {}

  // --- Book events (the order's record as it rests, before it changes).
  void OfferIn(uint64_t id, Micros now);
  void OfferOut(uint64_t id);
  void OfferFilled(uint64_t id, int64_t kg);
  void PledgeIn(uint64_t id);
  void PledgeOut(uint64_t id);
  void PledgeFilled(uint64_t id, int64_t kg);

  // The clock moved from `before` to `now`: offers whose time has come
  // become at risk; on a new engine minute every candidate is evaluated.
  void Tick(Micros before, Micros now);
  // Evaluates the cells the command changed, at `now`.
  void Evaluate(Micros now);

  // --- Thresholds
  static absl::Status CheckThresholds(const AlertThresholds& t);
  // Sets them and recomputes everything against them at `now`.
  void SetThresholds(const AlertThresholds& t, Micros now);
  // The category's own thresholds, or the default's under its name.
  AlertThresholds ThresholdsOf(std::string_view category) const;
  // The default ("") first, then each category's own, by category.
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
  struct Cell {
    int64_t open_kg = 0;
    int64_t at_risk_kg = 0;
    int64_t households = 0;                    // behind the at-risk offers
    int64_t grade_kg[3] = {};                  // at-risk kg by Grade number - 1
    int64_t certified_kg = 0;                  // at-risk certified kg
    absl::btree_map<int64_t, int64_t> floors;  // at-risk floor -> offers
    uint32_t offers = 0;                       // open offers
    uint64_t alert_id = 0;                     // the open alert, or 0
    bool dirty = false;
    bool operator==(const Cell& o) const;
  };
  using CellKey = uint64_t;  // product << 32 | region
  static CellKey KeyOf(uint32_t product, int32_t region) {
    return uint64_t{product} << 32 | static_cast<uint32_t>(region);
  }
  using PriceKg = absl::btree_map<int64_t, int64_t>;  // max price -> kg
  // family << 56 | min grade << 48 | certified << 40 | scope code or list.
  using DemandKey = uint64_t;
  DemandKey DemandKeyOf(const PledgeRecord& p);

  const AlertThresholds& For(uint32_t product) const;
  Micros RiskAt(const OfferRecord& o) const {
    return o.expires_at - For(o.product).horizon;
  }
  // Adds `sign` x the offer to its three cells; at_risk: also to their
  // at-risk figures.
  void AddOffer(const OfferRecord& o, int sign, bool at_risk);
  void MakeAtRisk(uint64_t id);
  Cell& CellOf(uint32_t product, int32_t region);
  void MarkDirty(CellKey key, Cell& cell);
  void AddDemand(const PledgeRecord& p, int64_t kg);
  int64_t DemandOf(uint32_t product, int32_t region, const Cell& cell) const;
  void EvaluateCell(CellKey key, Micros now);
  void Log(uint64_t alert_id, AlertEventKind kind);
  AlertView MakeView(uint64_t alert_id) const;
  bool Passes(const AlertRecord& a, const AlertFilter& f) const;
  std::vector<AlertCandidateView> CandidatesOf(const AlertRecord& a) const;

  const std::vector<OfferRecord>& offers_;
  const std::vector<PledgeRecord>& pledges_;
  const ProductTree& products_;
  const ReferenceData& reference_;
  const Interner& strings_;

  // Saved.
  // Set ones by category; a std::map, whose entries by_product_ points to.
  std::map<std::string, AlertThresholds> thresholds_;
  std::vector<AlertRecord> alerts_;       // alert id - 1
  std::vector<AlertEventRecord> events_;  // event id - 1

  // Derived.
  AlertThresholds default_;  // "" when not set
  // Per product index: its category's thresholds (null: not yet looked up).
  mutable std::vector<const AlertThresholds*> by_product_;
  absl::flat_hash_map<CellKey, Cell> cells_;
  absl::btree_set<CellKey> candidates_;
  std::vector<CellKey> dirty_;
  std::vector<uint8_t> at_risk_;  // by offer id - 1
  ExpiryQueue risk_queue_;        // (expires_at - horizon, offer id)
  absl::flat_hash_map<uint32_t, absl::btree_map<DemandKey, PriceKg>> demand_;
  std::vector<std::vector<int32_t>> lists_;  // interned listed scopes
  absl::flat_hash_map<std::vector<int32_t>, uint32_t> list_ids_;
};

}  // namespace duijie

#endif  // DUIJIE_ENGINE_ALERTS_H_
