// Who may send which command (Engine::Impl::Authorize), and the admission
// limits that hold for a caller.
//
// The rules, by role:
//   ADMIN     everything: reference data, keys, and any party's orders.
//   PLATFORM  posts and cancels orders of the suppliers and buyers its key
//   SUPPLIER  lists (a supplier or buyer key lists exactly one party).
//   BUYER
//   OBSERVER  no command at all (reads only).
// UpsertBuyer: ADMIN, or a BUYER or PLATFORM key for a buyer_id it lists.
// A match of an alliance pledge may be accepted or declined by the
// alliance's key (the pledge's buyer) or by its member's.
// An order's party is its supplier_id or buyer_id: a post must name one of
// the caller's parties, a cancel or an amendment must find the order's owner
// among them (an amendment is not a post: the open-order limit does not
// apply, since it rests no new order).
// Offers are public, so cancelling another's offer is PERMISSION_DENIED;
// pledges are private, so another's pledge is NOT_FOUND with the very
// words an unknown id gets: its id must not tell whose it is.
//
// Admission: a caller's post is refused with RESOURCE_EXHAUSTED when its
// party already has Caller::max_open_orders resting orders of that side
// (counting, for Validate ahead of a tick, only those the tick leaves).
// Replay has no caller and skips all of this (the command was admitted
// when it was accepted).
#include <algorithm>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "engine/codes.h"
#include "engine/engine_impl.h"
#include "engine/text.h"

namespace duijie {
namespace {

std::string Who(const Caller& caller) {
  return absl::StrCat("key ", caller.key_id, " (",
                      EchoValue(caller.principal.name), ")");
}

absl::Status Denied(const Caller& caller, std::string_view what) {
  return absl::PermissionDeniedError(
      absl::StrCat(Who(caller), " may not ", Absl(what)));
}

absl::Status CheckOpenOrders(const Caller& caller, std::string_view party_kind,
                             std::string_view party, uint64_t open) {
  if (caller.max_open_orders == 0 || open < caller.max_open_orders) {
    return absl::OkStatus();
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("max_open_orders: ", Absl(party_kind), " ", EchoValue(party),
                   " already has ", open, " open orders; the limit is ",
                   caller.max_open_orders));
}

}  // namespace

absl::Status Engine::Impl::Authorize(const Caller& caller,
                                     const CommandBody& body, Micros at) const {
  const Principal& me = caller.principal;
  const bool admin = me.role == static_cast<int>(Role::kAdmin);
  const bool acts_for_parties = me.role == static_cast<int>(Role::kPlatform) ||
                                me.role == static_cast<int>(Role::kSupplier) ||
                                me.role == static_cast<int>(Role::kBuyer);
  // The party's resting orders of one side as a tick to `at` would leave
  // them. Only at the limit, with a tick still to come, are the orders that
  // tick would retire looked for (those expiring after the last tick).
  auto open_of = [&](const std::vector<uint32_t>& counts, bool offers,
                     std::string_view party) -> uint64_t {
    const uint32_t sid = strings_.Find(party);
    uint64_t open = sid < counts.size() ? counts[sid] : 0;
    if (caller.max_open_orders == 0 || open < caller.max_open_orders ||
        at <= now_) {
      return open;
    }
    expiries_.ForEachUntil(
        at, [this](uint64_t tag) { return ExpiryLive(tag); },
        [&](uint64_t tag) {
          if ((tag & 1) != offers) return;
          const uint64_t id = tag >> 1;
          const uint32_t owner =
              offers ? offers_[id - 1].supplier : pledges_[id - 1].buyer;
          if (owner == sid) --open;
        });
    return open;
  };
  return std::visit(
      [&](const auto& c) -> absl::Status {
        using Body = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<Body, TickCommand>) {
          return absl::OkStatus();
        } else if constexpr (std::is_same_v<Body, PostOfferCommand>) {
          const std::string& party = c.offer.supplier_id;
          if (!admin &&
              !(acts_for_parties && ListsId(me.supplier_ids, party))) {
            return Denied(caller, absl::StrCat("post offers for supplier ",
                                               EchoValue(party)));
          }
          return CheckOpenOrders(
              caller, "supplier", party,
              open_of(open_offers_by_supplier_, true, party));
        } else if constexpr (std::is_same_v<Body, PostPledgeCommand>) {
          const std::string& party = c.pledge.buyer_id;
          if (!admin && !(acts_for_parties && ListsId(me.buyer_ids, party))) {
            return Denied(caller, absl::StrCat("post pledges for buyer ",
                                               EchoValue(party)));
          }
          return CheckOpenOrders(caller, "buyer", party,
                                 open_of(open_pledges_by_buyer_, false, party));
        } else if constexpr (std::is_same_v<Body, CancelOfferCommand> ||
                             std::is_same_v<Body, AmendOfferCommand>) {
          // An unknown id is left to Check (NOT_FOUND).
          if (admin || c.offer_id == 0 || c.offer_id > offers_.size()) {
            return absl::OkStatus();
          }
          const std::string_view owner =
              strings_.Get(offers_[c.offer_id - 1].supplier);
          if (acts_for_parties && ListsId(me.supplier_ids, owner)) {
            return absl::OkStatus();
          }
          constexpr bool kCancel = std::is_same_v<Body, CancelOfferCommand>;
          return Denied(
              caller,
              absl::StrCat(kCancel ? "cancel" : "amend", " offer ", c.offer_id,
                           " of supplier ", EchoValue(owner)));
        } else if constexpr (std::is_same_v<Body, CancelPledgeCommand> ||
                             std::is_same_v<Body, AmendPledgeCommand>) {
          if (admin || c.pledge_id == 0 || c.pledge_id > pledges_.size()) {
            return absl::OkStatus();
          }
          const std::string_view owner =
              strings_.Get(pledges_[c.pledge_id - 1].buyer);
          if (acts_for_parties && ListsId(me.buyer_ids, owner)) {
            return absl::OkStatus();
          }
          return absl::NotFoundError(
              absl::StrCat("id: pledge ", c.pledge_id, " does not exist"));
        } else if constexpr (std::is_same_v<Body, ShipMatchCommand> ||
                             std::is_same_v<Body, AcceptMatchCommand> ||
                             std::is_same_v<Body, DeclineMatchCommand>) {
          // The supplier's side ships; the buyer's side accepts or declines.
          // A match of neither of the caller's parties is as unknown to it
          // as an unknown id (it cannot list it either).
          if (admin || c.match_id == 0 || c.match_id > matches_.size()) {
            return absl::OkStatus();
          }
          const MatchRecord& m = matches_[c.match_id - 1];
          const std::string_view supplier =
              strings_.Get(offers_[m.offer_id - 1].supplier);
          const std::string_view buyer =
              strings_.Get(pledges_[m.pledge_id - 1].buyer);
          const bool is_supplier =
              acts_for_parties && ListsId(me.supplier_ids, supplier);
          // A match of an alliance pledge is its member's as well as the
          // alliance's: the member receives the goods and accepts them.
          const bool is_buyer =
              acts_for_parties &&
              (ListsId(me.buyer_ids, buyer) ||
               (m.member != kNoText &&
                ListsId(me.buyer_ids, strings_.Get(m.member))));
          const bool ships = std::is_same_v<Body, ShipMatchCommand>;
          if (ships ? is_supplier : is_buyer) return absl::OkStatus();
          if (is_supplier || is_buyer) {
            return Denied(caller,
                          absl::StrCat(ships ? "ship" : "accept or decline",
                                       " match ", c.match_id, ": only its ",
                                       ships ? "supplier" : "buyer", " may"));
          }
          return absl::NotFoundError(
              absl::StrCat("match_id: match ", c.match_id, " does not exist"));
        } else if constexpr (std::is_same_v<Body, UpsertBuyerCommand>) {
          // A buyer unit (or the platform acting for it) keeps its own
          // entry: its name, city and target are its own business.
          const std::string& party = c.buyer.buyer_id;
          if (admin || (acts_for_parties && ListsId(me.buyer_ids, party))) {
            return absl::OkStatus();
          }
          return Denied(caller,
                        absl::StrCat("register buyer ", EchoValue(party)));
        } else {
          // Reference data (regions, pairings, the product catalogue), keys,
          // clearing and alert thresholds.
          if (admin) return absl::OkStatus();
          return Denied(caller, absl::StrCat("send ", Body::kName,
                                             ": it needs the ADMIN role"));
        }
      },
      body);
}

}  // namespace duijie
