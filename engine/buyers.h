// BuyerRegistry: the registered buyer units, by buyer_id. Changed only by
// the UpsertBuyer command, so the registry is journaled, replayed and part
// of the state hash like any other state. A buyer is never removed: its
// matches keep counting towards its annual target.
//
// An alliance (买方联盟) is no record of its own: its members are the
// buyers that name its alliance_id, and its target is the sum of theirs.
#ifndef DUIJIE_ENGINE_BUYERS_H_
#define DUIJIE_ENGINE_BUYERS_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "engine/byte_codec.h"
#include "engine/reference_data.h"
#include "engine/types.h"

namespace duijie {

inline constexpr size_t kMaxBuyerNameBytes = 64;

// A buyer's year and month by Asia/Shanghai time of `at`. China has kept
// UTC+8 all year since 1991, so a fixed offset is exact for every time the
// engine sees, and the engine needs no time zone database.
struct ShanghaiMonth {
  int year = 0;
  int month = 0;  // 1..12
};
ShanghaiMonth ShanghaiMonthOf(Micros at);

class BuyerRegistry {
 public:
  // INVALID_ARGUMENT naming the field ("buyer.city_code") and its value
  // unless `buyer` is well formed: ids as orders' ids, a name of 1..64
  // bytes, a known city, a BuyerKind, a target >= 0, an alliance_id empty
  // or an id. (Control characters are CheckCommandText's.)
  static absl::Status Check(const Buyer& buyer, const ReferenceData& regions);

  // Creates or replaces; returns whether it created. After Check passed.
  bool Put(const Buyer& buyer);

  // Null for an unregistered buyer_id.
  const Buyer* Find(std::string_view buyer_id) const;
  // Buyers with buyer_id > after_id that pass `filter`, by buyer_id, at
  // most `limit`; *more when there are further ones. *total, when given:
  // how many pass `filter` on all pages.
  std::vector<Buyer> List(const BuyerFilter& filter, std::string_view after_id,
                          int limit, bool* more,
                          int64_t* total = nullptr) const;
  // The members of `alliance_id`, by buyer_id.
  std::vector<const Buyer*> Members(std::string_view alliance_id) const;
  size_t size() const { return buyers_.size(); }
  const std::map<std::string, Buyer, std::less<>>& all() const {
    return buyers_;
  }

  // By buyer_id (engine_state.cc's layout). Load returns false on malformed
  // input, an unknown city or a duplicate id.
  void Save(ByteWriter& w) const;
  bool Load(ByteReader& r, const ReferenceData& regions);

 private:
  // Ordered by buyer_id: lists page by it and the state saves in its order.
  std::map<std::string, Buyer, std::less<>> buyers_;
};

}  // namespace duijie

#endif  // DUIJIE_ENGINE_BUYERS_H_
