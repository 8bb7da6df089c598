// ProductCatalogue: the products posts may name, with their Chinese names,
// unit notes, perishability and default shelf life. Reference data, changed
// only by UpsertProductCommand (ADMIN).
//
// The catalogue is "open" until the first UpsertProduct: every post is
// accepted as before the catalogue existed, and what it names is catalogued
// by being posted (it and its ancestors, named by their code). Those
// products are not stored here: they are the engine's ProductTree, which
// every accepted post feeds and the saved state already holds, so an old
// journal replays to a catalogue of the products its orders named with no
// change to its state or hash. After the first UpsertProduct the catalogue
// is "closed": a post must name a catalogued product (a leaf for an offer,
// any node for a pledge), catalogued meaning upserted or named by an order
// accepted while it was open.
#ifndef DUIJIE_ENGINE_CATALOGUE_H_
#define DUIJIE_ENGINE_CATALOGUE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "engine/byte_codec.h"
#include "engine/product_tree.h"
#include "engine/types.h"

namespace duijie {

// How fast a product spoils, as the articles sort fresh produce: leafy
// vegetables move within days, apples and potatoes keep for weeks, grain,
// tea and dried fungi for months.
enum class Perishability : uint8_t {
  kUnspecified = 0,  // catalogued from orders, never upserted
  kPerishable = 1,
  kSemiPerishable = 2,
  kStorable = 3,
};
inline constexpr int kMaxPerishability = 3;

inline constexpr size_t kMaxProductNameCharacters = 64;
inline constexpr size_t kMaxProductUnitNoteCharacters = 64;
// A default shelf life is 0 (not stated) or 1 hour to 10 years, in whole
// seconds.
inline constexpr Micros kMinShelfLife = Micros{3600} * 1000000;
inline constexpr Micros kMaxShelfLife = Micros{3650} * 86400 * 1000000;

struct Product {
  std::string code;       // a product code, e.g. "vegetable.potato"
  std::string name;       // 1..64 characters, e.g. "马铃薯"
  std::string unit_note;  // 0..64 characters, e.g. "网袋, 每袋25公斤"
  int perishability = 0;  // a Perishability number; int to report bad input
  Micros shelf_life = 0;  // default shelf life; 0: not stated
  // Output only: catalogued because an order named it while the catalogue
  // was open (named by its code), not by UpsertProduct.
  bool from_orders = false;
};

struct ProductResult {
  Product product;       // as catalogued after the command
  bool created = false;  // false: it replaced a catalogued product
  bool replayed = false;
};

class ProductCatalogue {
 public:
  // `tree` holds every product an accepted post named; not owned.
  explicit ProductCatalogue(const ProductTree* tree) : tree_(*tree) {}

  // Open: no product was ever upserted, and posts catalogue what they name.
  bool open() const { return upserted_.empty(); }
  size_t upserted_count() const { return upserted_.size(); }

  // Validates an upsert (INVALID_ARGUMENT or NOT_FOUND naming the field):
  // a well-formed code whose parent is catalogued (a top-level category
  // needs none), a name of 1..64 characters, a unit note of at most 64, a
  // perishability, a shelf life of 0 or 1 hour..10 years in whole seconds.
  absl::Status Check(const Product& product) const;
  // Whether a post may name `code` (already a well-formed product code):
  // always while open; once closed, NOT_FOUND naming `field` unless it is
  // catalogued (with the nearest catalogued code as a suggestion), and for
  // an offer (`leaf`) INVALID_ARGUMENT when products are catalogued under it.
  absl::Status CheckPosted(std::string_view field, std::string_view code,
                           bool leaf) const;

  // Creates or replaces (after Check); returns whether it was not
  // catalogued before.
  bool Put(const Product& product);
  // The catalogued product `code`, upserted or from orders.
  std::optional<Product> Find(std::string_view code) const;
  bool Catalogued(std::string_view code) const;

  // Catalogued products whose code is `prefix` or under it (whole
  // segments; "" for all) and whose name holds `name_contains` (ASCII
  // letters without case; "" for any), with code > `after`, by code; at most
  // `limit`, *more when there are more. *total (when given): how many pass
  // the filters on all pages.
  std::vector<Product> List(std::string_view prefix,
                            std::string_view name_contains,
                            std::string_view after, int limit, bool* more,
                            int64_t* total) const;

  // The upserted products by code (engine_state.cc's layout). Load reads
  // them after the product tree and returns false on malformed input or a
  // product whose parent is not catalogued.
  void Save(ByteWriter& w) const;
  bool Load(ByteReader& r);

 private:
  // Whether a catalogued product lies under `code`.
  bool HasChildren(std::string_view code) const;
  // Calls visit for every catalogued code, in no particular order.
  void ForEachCode(const std::function<void(std::string_view)>& visit) const;

  const ProductTree& tree_;
  std::map<std::string, Product, std::less<>> upserted_;
};

}  // namespace duijie

#endif  // DUIJIE_ENGINE_CATALOGUE_H_
