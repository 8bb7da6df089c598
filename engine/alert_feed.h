// AlertFeed: what the glut alerts (alerts.h) need to know of the commands
// an engine applied, recorded so that another thread can judge the alerts
// while the engine goes on matching.
//
// An engine judges its alerts itself, as each command applies, unless its
// feed is started (Engine::StartAlertFeed). From then on every call it
// would have made to its AlertMonitor is appended here instead, with a copy
// of each order as it rests, and Engine::FollowAlerts makes those calls,
// in the same order, on a monitor that keeps its own copy of the records,
// products and pairings it reads. The monitor is a deterministic function
// of that sequence of calls, so alerts followed from a feed are the alerts
// the engine would have judged itself: the same events, at the same times,
// with the same ids (a test checks it on random streams).
//
// A feed is a plain value: the engine fills it, Engine::TakeAlertFeed
// moves it out (under the lock that orders commands), and whichever thread
// follows it needs nothing else of the engine's.
#ifndef DUIJIE_ENGINE_ALERT_FEED_H_
#define DUIJIE_ENGINE_ALERT_FEED_H_

#include <cstdint>
#include <string>
#include <vector>

#include "engine/records.h"
#include "engine/types.h"

namespace duijie {

struct AlertFeed {
  enum class Op : uint8_t {
    kOfferIn,        // id, value: the time; the next of `offers`
    kOfferOut,       // id
    kOfferFilled,    // id, value: kg
    kPledgeIn,       // id; the next of `pledges`
    kPledgeOut,      // id
    kPledgeFilled,   // id, value: kg
    kTick,           // value: the time
    kEvaluate,       // value: the time
    kThresholds,     // value: the time; the next of `thresholds`
    kProducts,       // id: how many of `product_codes` to intern, in order
    kPutPairing,     // the next of `pairings`
    kRemovePairing,  // the next of `pairings` (its codes)
  };
  struct Entry {
    Op op;
    uint64_t id;
    int64_t value;
  };

  std::vector<Entry> entries;
  std::vector<OfferRecord> offers;
  std::vector<PledgeRecord> pledges;
  std::vector<AlertThresholds> thresholds;
  // Product codes new to the engine, in the order of their indices.
  std::vector<std::string> product_codes;
  // Pairings put or removed, as the commands named them.
  std::vector<Pairing> pairings;

  void clear() {
    entries.clear();
    offers.clear();
    pledges.clear();
    thresholds.clear();
    product_codes.clear();
    pairings.clear();
  }
};

}  // namespace duijie

#endif  // DUIJIE_ENGINE_ALERT_FEED_H_
