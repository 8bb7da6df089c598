// RequestMemory. See idempotency.h.
#include "engine/idempotency.h"

#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"
#include "engine/codes.h"
#include "engine/engine.h"
#include "engine/text.h"

namespace duijie {
namespace {

constexpr uint64_t kCanonicalBit = uint64_t{1} << 63;

// The memo's kind byte in the saved state: the command code - 1 (format
// version 1 numbered the seven commands from 0). Explicit, not an order.
uint8_t MemoKindByte(CommandCode code) {
  return static_cast<uint8_t>(static_cast<uint8_t>(code) - 1);
}

template <typename Order>
void FillOrderMemo(const Order& order, RequestMemo* memo) {
  memo->match_count = static_cast<uint32_t>(order.matches.size());
  memo->unfilled_kg = order.unfilled_kg;
}

}  // namespace

namespace {

// Whether a memo of `code` keeps its text (buyer_id) in region.code's slot.
bool UsesTextSlot(CommandCode code) {
  return code == CommandCode::kUpsertBuyer ||
         code == CommandCode::kSetClearingPolicy ||
         code == CommandCode::kSetAlertThresholds ||
         code == CommandCode::kUpsertProduct;
}

}  // namespace

RequestMemo MemoOf(CommandCode code, const CommandResult& result,
                   uint64_t first_match_id) {
  RequestMemo memo;
  memo.code = code;
  memo.first_match_id = first_match_id;
  if (const auto* r = std::get_if<RegionResult>(&result)) {
    memo.region = r->region;
  } else if (const auto* p = std::get_if<PairingResult>(&result)) {
    memo.pairing = p->pairing;
  } else if (const auto* b = std::get_if<BuyerResult>(&result)) {
    memo.buyer_id = b->buyer.buyer_id;
    memo.order_id = b->created ? 1 : 0;
  } else if (const auto* c = std::get_if<ClearingPolicyResult>(&result)) {
    memo.buyer_id = c->product_prefix;
  } else if (const auto* t = std::get_if<AlertThresholdsResult>(&result)) {
    memo.buyer_id = t->thresholds.category;
  } else if (const auto* p = std::get_if<ProductResult>(&result)) {
    memo.buyer_id = p->product.code;
    memo.order_id = p->created ? 1 : 0;
  } else if (const auto* k = std::get_if<KeyResult>(&result)) {
    memo.order_id = k->key.key_id;
  } else if (const auto* o = std::get_if<OfferResult>(&result)) {
    FillOrderMemo(*o, &memo);
    memo.order_id = o->offer.offer_id;
    memo.status = o->offer.status;
    memo.remaining_kg = o->offer.remaining_kg;
  } else if (const auto* m = std::get_if<MatchResult>(&result)) {
    memo.order_id = m->match.match_id;
    memo.match_count = static_cast<uint32_t>(m->matches.size());
  } else if (const auto* p = std::get_if<PledgeResult>(&result)) {
    FillOrderMemo(*p, &memo);
    memo.order_id = p->pledge.pledge_id;
    memo.status = p->pledge.status;
    memo.remaining_kg = p->pledge.remaining_kg;
    memo.spent_fen = p->pledge.spent_fen;
  }
  return memo;
}

absl::StatusOr<const RequestMemo*> RequestMemory::Find(
    const Command& command) const {
  const std::string& id = command.request_id;
  if (id.size() > kMaxRequestIdBytes) {
    return CheckMaxBytes("request_id", id, kMaxRequestIdBytes);
  }
  if (id.empty()) return nullptr;
  auto it = memos_.find(id);
  if (it == memos_.end()) return nullptr;
  const RequestMemo& memo = it->second;
  const bool same_body = memo.fingerprint == command.fingerprint ||
                         (memo.fingerprint & kCanonicalBit) == 0;
  if (memo.code != command.code() || !same_body) {
    return absl::AlreadyExistsError(
        absl::StrCat("request_id: ", EchoValue(id),
                     " was already used for a different request"));
  }
  return &memo;
}

void RequestMemory::Remember(std::string_view request_id, RequestMemo memo,
                             Micros now) {
  memo.at = now;
  order_.emplace_back(request_id);
  memos_.emplace(order_.back(), std::move(memo));
  while (order_.size() > min_kept_ &&
         memos_.at(order_.front()).at + window_ <= now) {
    memos_.erase(order_.front());
    order_.pop_front();
  }
}

bool RequestMemory::Consistent() const {
  if (order_.size() != memos_.size()) return false;
  for (const std::string& id : order_) {
    if (!memos_.contains(id)) return false;
  }
  return true;
}

bool RequestMemory::KeysKnown(uint64_t key_count) const {
  for (const auto& [id, memo] : memos_) {
    if ((memo.code == CommandCode::kCreateKey ||
         memo.code == CommandCode::kRevokeKey) &&
        (memo.order_id == 0 || memo.order_id > key_count)) {
      return false;
    }
  }
  return true;
}

bool RequestMemory::BuyersKnown(const BuyerRegistry& buyers) const {
  for (const auto& [id, memo] : memos_) {
    if (memo.code == CommandCode::kUpsertBuyer &&
        buyers.Find(memo.buyer_id) == nullptr) {
      return false;
    }
  }
  return true;
}

void RequestMemory::Save(ByteWriter& w) const {
  w.U64(order_.size());
  for (const std::string& id : order_) {
    const RequestMemo& r = memos_.at(id);
    w.Str(id);
    w.U64(r.fingerprint);
    w.I64(r.at);
    w.U8(MemoKindByte(r.code));
    w.U64(r.order_id);
    w.U64(r.first_match_id);
    w.U64(r.match_count);
    w.U8(static_cast<uint8_t>(r.status));
    w.I64(r.remaining_kg);
    w.I64(r.spent_fen);
    w.I64(r.unfilled_kg);
    w.Str(UsesTextSlot(r.code) ? r.buyer_id : r.region.code);
    w.Str(r.region.name);
    w.U8(static_cast<uint8_t>(r.region.key_assisted) |
         static_cast<uint8_t>(r.region.relocation_site) << 1);
    w.Str(r.pairing.east_code);
    w.Str(r.pairing.west_code);
    w.Str(r.pairing.note);
  }
}

bool RequestMemory::Load(ByteReader& r) {
  const uint64_t n = r.Count(8 * 10);
  CommandBody body;  // for the check that the memo's code names a command
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    order_.push_back(r.Str());
    RequestMemo m;
    m.fingerprint = r.U64();
    m.at = r.I64();
    const uint8_t kind = r.U8();
    if (kind >= kMaxCommandCode) return false;
    m.code = static_cast<CommandCode>(kind + 1);
    // A code at most kMaxCommandCode must still name a command.
    if (CommandBody body; !BodyForCode(kind + 1, &body)) return false;
    m.order_id = r.U64();
    m.first_match_id = r.U64();
    m.match_count = static_cast<uint32_t>(r.U64());
    const uint8_t status = r.U8();
    if (status < 1 || status > 4) return false;
    m.status = static_cast<OrderStatus>(status);
    m.remaining_kg = r.I64();
    m.spent_fen = r.I64();
    m.unfilled_kg = r.I64();
    if (!BodyForCode(kind + 1, &body)) return false;
    (UsesTextSlot(m.code) ? m.buyer_id : m.region.code) = r.Str();
    m.region.name = r.Str();
    const uint8_t flags = r.U8();
    if (flags > 3) return false;
    m.region.key_assisted = flags & 1;
    m.region.relocation_site = flags & 2;
    m.pairing.east_code = r.Str();
    m.pairing.west_code = r.Str();
    m.pairing.note = r.Str();
    if (!memos_.emplace(order_.back(), std::move(m)).second) return false;
  }
  return r.ok();
}

}  // namespace duijie
