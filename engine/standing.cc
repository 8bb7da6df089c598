// Standing pledges: periods that start as the clock passes them. See
// Recurrence (types.h) and StandingRecord (records.h).
//
// A period starts in the tick that passes its start, after expiries and
// before match deadlines (whose returned kg match at the tick's time, so in
// the new period): the pledge closes the period it was in (its figures
// stay with the matches made in it), refills to the recurrence's quantity
// and budget (plus what was left unfilled and unspent, with carry_over),
// keeps its queue place (seq) and matches at once, at the tick's time.
// When the clock passes several starts at once (no command came for a
// whole period), the periods between open and close without matching:
// the book did not change in them.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "engine/engine_impl.h"

namespace duijie {
namespace {

// a + b for b >= 0, at most INT64_MAX.
int64_t SaturatingAdd(int64_t a, int64_t b) {
  return a > INT64_MAX - b ? INT64_MAX : a + b;
}

}  // namespace

void Engine::Impl::QueueNextPeriod(uint64_t id) {
  // Queued even when the pledge expires first (an amendment may move its
  // expiry); the tick skips an expired pledge's entry.
  const StandingRecord& s = standing_.at(id);
  period_starts_.Add(NextPeriodStart(s.period, s.current_start), id);
}

void Engine::Impl::StartPeriods(TickResult* result) {
  // Collected first: refilled pledges match, and their next starts are
  // queued, which PopUntil does not allow while it runs.
  std::vector<uint64_t> due;
  period_starts_.PopUntil(
      now_,
      [this](uint64_t id) {
        const OrderStatus status = pledges_[id - 1].status;
        return status == OrderStatus::kOpen || status == OrderStatus::kFilled;
      },
      [&](uint64_t id) { due.push_back(id); });
  for (const uint64_t id : due) {
    PledgeRecord& p = pledges_[id - 1];
    if (p.expires_at <= now_) continue;  // expired in this tick
    StandingRecord& s = standing_.at(id);
    // Off the shelves while it refills and matches, as ReturnToPledge does.
    if (p.status == OrderStatus::kOpen) {
      Close(/*offer=*/false, id, OrderStatus::kOpen);
    }
    expiries_.Remove(p.expires_at, ExpiryTag(id, /*is_offer=*/false));
    // The largest quantity whose worth at the pledge's price is an int64.
    const int64_t cap = std::min(kMaxQuantityKg, INT64_MAX / p.max_price);
    for (Micros start = NextPeriodStart(s.period, s.current_start);
         start <= now_ && start < p.expires_at;
         start = NextPeriodStart(s.period, start)) {
      s.closed.push_back({s.current_start, p.quantity_kg, p.budget_fen});
      const int64_t unfilled = s.carry_over ? p.remaining_kg : 0;
      const int64_t unspent =
          s.carry_over && p.budget_fen > 0 ? p.budget_fen - p.spent_fen : 0;
      p.quantity_kg = std::min(cap, s.quantity_kg + unfilled);
      p.remaining_kg = p.quantity_kg;
      p.budget_fen =
          s.budget_fen > 0 ? SaturatingAdd(s.budget_fen, unspent) : 0;
      p.spent_fen = 0;
      s.current_start = start;
      ++result->periods;
    }
    p.status = OrderStatus::kOpen;
    MatchIncoming(/*offer=*/false, id);
    if (p.status == OrderStatus::kOpen) Rest(/*offer=*/false, id);
    QueueNextPeriod(id);
  }
}

std::vector<PledgePeriodView> Engine::Impl::PeriodViews(uint64_t id) const {
  const StandingRecord& s = standing_.at(id);
  const PledgeRecord& p = pledges_[id - 1];
  std::vector<PledgePeriodView> periods;
  periods.reserve(s.closed.size() + 1);
  for (const StandingRecord::Closed& c : s.closed) {
    PledgePeriodView v;
    v.start = c.start;
    v.pledged_kg = c.pledged_kg;
    v.budget_fen = c.budget_fen;
    periods.push_back(v);
  }
  PledgePeriodView current;
  current.start = s.current_start;
  current.pledged_kg = p.quantity_kg;
  current.budget_fen = p.budget_fen;
  periods.push_back(current);
  for (size_t i = 0; i < periods.size(); ++i) {
    periods[i].end = i + 1 < periods.size()
                         ? periods[i + 1].start
                         : NextPeriodStart(s.period, s.current_start);
  }
  // Each match to the period it was made in: the pledge's matches are
  // among its buyer's (every part of an alliance's fill too), whose ids
  // ascend with time.
  auto listed = matches_by_buyer_.find(p.buyer);
  if (listed == matches_by_buyer_.end()) return periods;
  size_t period = 0;
  for (const uint64_t match_id : listed->second) {
    const MatchRecord& m = matches_[match_id - 1];
    if (m.pledge_id != id) continue;
    while (period + 1 < periods.size() &&
           m.matched_at >= periods[period + 1].start) {
      ++period;
    }
    PledgePeriodView& v = periods[period];
    v.matched_kg += m.kept_kg();
    v.delivered_kg += m.accepted_kg;
    v.spent_fen += m.kept_kg() * m.price;  // within the pledge's cap
  }
  return periods;
}

}  // namespace duijie
