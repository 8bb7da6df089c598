// RequestMemory: the request_ids the engine has seen, each with a memo of
// its command's first answer, so that a retry gets the same answer and
// changes nothing, and a request_id reused for another request is refused.
//
// A request_id is kept for at least EngineOptions::request_id_window after
// its command, and the newest EngineOptions::min_request_ids are kept
// whatever their age. Forgetting happens when a new request_id is
// remembered.
//
// Fingerprints. A request is "the same" when its command code and its
// fingerprint (CommandFingerprint, the engine's own canonical digest) are
// equal. Engines before that digest journaled a digest of the protobuf
// request instead; those have the top bit clear. A memo holding such a
// legacy digest cannot be compared with a canonical one, so a retry of the
// same command kind is taken as the same request: an honest retry made
// across the upgrade is answered, not refused. Legacy memos leave with the
// window (a day by default).
#ifndef DUIJIE_ENGINE_IDEMPOTENCY_H_
#define DUIJIE_ENGINE_IDEMPOTENCY_H_

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "engine/buyers.h"
#include "engine/byte_codec.h"
#include "engine/command.h"
#include "engine/interner.h"
#include "engine/types.h"

namespace duijie {

// What a request_id's first command answered, enough to answer it again.
// Saved in the engine state (format version 1; see engine_state.cc).
struct RequestMemo {
  uint64_t fingerprint = 0;
  Micros at = 0;  // when the first command ran
  CommandCode code = CommandCode::kUpsertRegion;
  uint64_t order_id = 0;
  uint64_t first_match_id = 0;
  uint32_t match_count = 0;
  OrderStatus status = OrderStatus::kOpen;
  int64_t remaining_kg = 0;
  int64_t spent_fen = 0;
  int64_t unfilled_kg = 0;
  Region region;    // UpsertRegion
  Pairing pairing;  // UpsertPairing, DeletePairing
  // UpsertBuyer: the buyer's id, and order_id 1 when it created the buyer
  // (0 when it replaced one); SetClearingPolicy: the product prefix;
  // SetAlertThresholds: the category; UpsertProduct: the product's code,
  // and order_id 1 when it created the product. Saved
  // in the slot of region.code, which these memos do not use, so the memo
  // layout is unchanged.
  std::string buyer_id;
};

// The memo of `result`, answered by a command of `code`. For a command
// that can make matches, `first_match_id` is the id its first match had or
// would have had (kept even when it made none); 0 for the others.
RequestMemo MemoOf(CommandCode code, const CommandResult& result,
                   uint64_t first_match_id);

class RequestMemory {
 public:
  RequestMemory(Micros window, size_t min_kept)
      : window_(window), min_kept_(min_kept) {}

  // Looks `command`'s request_id up: null when it is new (or empty), the
  // memo of its first answer when it is a repeat, INVALID_ARGUMENT when it
  // is too long, ALREADY_EXISTS when it was used for another request.
  absl::StatusOr<const RequestMemo*> Find(const Command& command) const;

  // Remembers a new request_id's memo at `now`, and forgets the oldest that
  // are out of the window and beyond the count always kept.
  void Remember(std::string_view request_id, RequestMemo memo, Micros now);

  size_t size() const { return order_.size(); }
  // Whether order_ and memos_ hold the same ids, once each.
  bool Consistent() const;
  // Whether every key command's memo names a key_id up to `key_count`.
  bool KeysKnown(uint64_t key_count) const;
  // Whether every UpsertBuyer memo names a registered buyer.
  bool BuyersKnown(const BuyerRegistry& buyers) const;

  // In arrival order (engine_state.cc's layout). Load returns false on
  // malformed input or a duplicate id.
  void Save(ByteWriter& w) const;
  bool Load(ByteReader& r);

 private:
  const Micros window_;
  const size_t min_kept_;
  // Request ids oldest first, and their memos keyed by views into that
  // deque (its elements never move).
  std::deque<std::string> order_;
  absl::flat_hash_map<std::string_view, RequestMemo, StringViewHash> memos_;
};

}  // namespace duijie

#endif  // DUIJIE_ENGINE_IDEMPOTENCY_H_
