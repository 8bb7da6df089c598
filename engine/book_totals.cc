// BookSide. See book_totals.h.
#include "engine/book_totals.h"

namespace duijie {

void BookSide::Rest(int64_t remaining_kg, int64_t price) {
  kg += remaining_kg;
  ++count;
  ++prices[price];
}

void BookSide::Leave(int64_t remaining_kg, int64_t price) {
  kg -= remaining_kg;
  --count;
  auto it = prices.find(price);
  if (--it->second == 0) prices.erase(it);
}

}  // namespace duijie
