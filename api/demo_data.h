// Demo data: real reference data from the domain brief (GB/T 2260 regions,
// east-west pairings), a product catalogue of the articles' produce, and a
// plausible set of offers and pledges, so that a
// new user of duijie-server --demo sees matches at once.
//
// Everything goes through the service's command path with request_ids
// "demo-...", so loading is idempotent: a second load (say, after a restart
// that replayed a journal) changes nothing.
#ifndef DUIJIE_API_DEMO_DATA_H_
#define DUIJIE_API_DEMO_DATA_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/exchange_service.h"

namespace duijie {

struct DemoSummary {
  int regions = 0;
  int pairings = 0;
  int products = 0;  // catalogued
  int offers = 0;
  int pledges = 0;
  int matches = 0;   // made by this load
  int replayed = 0;  // commands already applied by an earlier load
};

// Loads the demo data through `service`. Expiries are relative to `now`:
// days for vegetables, weeks for fruit, months for tea and pepper. A
// command whose request_id was used by an earlier load with another body
// (an earlier `now`) counts as replayed. Any other failure is returned.
absl::StatusOr<DemoSummary> LoadDemoData(ExchangeService* service,
                                         absl::Time now);

}  // namespace duijie

#endif  // DUIJIE_API_DEMO_DATA_H_
