// BookTotals: per product code (as posted), the open kilograms, order
// counts and price levels of each side, for GetBook and for the searches'
// first filter (is any offer cheap enough, any pledge high enough?).
//
// Derived from the book's events in one place, as Liquibook's depth book is
// derived from its order events: an order rests, is filled while resting,
// or leaves (filled up, cancelled, expired). Nothing else writes them.
#ifndef DUIJIE_ENGINE_BOOK_TOTALS_H_
#define DUIJIE_ENGINE_BOOK_TOTALS_H_

#include <cstdint>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"

namespace duijie {

// One side of one product's book.
struct BookSide {
  int64_t kg = 0;
  int64_t count = 0;
  absl::btree_map<int64_t, int64_t> prices;  // price -> open orders

  void Rest(int64_t remaining_kg, int64_t price);
  void Leave(int64_t remaining_kg, int64_t price);
  bool operator==(const BookSide& o) const {
    return kg == o.kg && count == o.count && prices == o.prices;
  }
};

struct ProductBook {
  BookSide offers;
  BookSide pledges;
  bool operator==(const ProductBook& o) const {
    return offers == o.offers && pledges == o.pledges;
  }
};

class BookTotals {
 public:
  // Events. `product` is the order's product index; prices are the offer's
  // floor or the pledge's max.
  void OfferRested(uint32_t product, int64_t remaining_kg, int64_t price) {
    books_[product].offers.Rest(remaining_kg, price);
  }
  void OfferFilled(uint32_t product, int64_t kg) {
    books_[product].offers.kg -= kg;
  }
  void OfferLeft(uint32_t product, int64_t remaining_kg, int64_t price) {
    books_[product].offers.Leave(remaining_kg, price);
  }
  void PledgeRested(uint32_t product, int64_t remaining_kg, int64_t price) {
    books_[product].pledges.Rest(remaining_kg, price);
  }
  void PledgeFilled(uint32_t product, int64_t kg) {
    books_[product].pledges.kg -= kg;
  }
  void PledgeLeft(uint32_t product, int64_t remaining_kg, int64_t price) {
    books_[product].pledges.Leave(remaining_kg, price);
  }

  // Whether some resting offer of `product` asks at most `max_price`.
  bool HasOfferAtOrBelow(uint32_t product, int64_t max_price) const {
    auto it = books_.find(product);
    return it != books_.end() && !it->second.offers.prices.empty() &&
           it->second.offers.prices.begin()->first <= max_price;
  }
  // Whether some resting pledge of `product` bids at least `floor`.
  bool HasPledgeAtOrAbove(uint32_t product, int64_t floor) const {
    auto it = books_.find(product);
    return it != books_.end() && !it->second.pledges.prices.empty() &&
           it->second.pledges.prices.rbegin()->first >= floor;
  }

  const ProductBook* Find(uint32_t product) const {
    auto it = books_.find(product);
    return it == books_.end() ? nullptr : &it->second;
  }
  const absl::flat_hash_map<uint32_t, ProductBook>& books() const {
    return books_;
  }

 private:
  absl::flat_hash_map<uint32_t, ProductBook> books_;  // by product index
};

}  // namespace duijie

#endif  // DUIJIE_ENGINE_BOOK_TOTALS_H_
