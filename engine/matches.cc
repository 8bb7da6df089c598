// What happens to a match after it is made: shipping, acceptance, declines,
// the deadlines a tick enforces (lapse at ship_by, delivery at accept_by),
// and the kilograms that go back to the pledge. See command.h for the
// commands' contracts.
//
// Returned kilograms go to the pledge, never to the offer: the supplier
// failed to ship, or the goods were refused, and giving them back to the
// offer would match the same pair again in a loop. A pledge takes them back
// while it is OPEN, or FILLED and not yet expired (it reopens); its budget
// is refunded at the match's price, and it matches again at once as if it
// had just arrived, keeping its place (its id) among resting pledges.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/codes.h"
#include "engine/engine_impl.h"
#include "engine/text.h"
#include "engine/violations.h"

namespace duijie {
namespace {

inline constexpr size_t kMaxMatchTextBytes = 256;

absl::Status CheckKg(std::string_view field, int64_t kg, int64_t most) {
  if (kg < 0 || kg > most) {
    return absl::InvalidArgumentError(absl::StrCat(
        Absl(field), ": ", kg, " is out of range [0, ", most, "] (0: all)"));
  }
  return absl::OkStatus();
}

}  // namespace

MatchStatus Engine::Impl::EffectiveMatchStatus(const MatchRecord& m,
                                               Micros now) {
  if (m.status == MatchStatus::kMatched && m.ship_by > 0 && m.ship_by <= now) {
    return MatchStatus::kLapsed;
  }
  if (m.status == MatchStatus::kShipped && m.accept_by > 0 &&
      m.accept_by <= now) {
    return MatchStatus::kDelivered;
  }
  return m.status;
}

absl::Status Engine::Impl::CheckMatchIn(uint64_t match_id, MatchStatus required,
                                        std::string_view action,
                                        Micros now) const {
  if (match_id == 0 || match_id > matches_.size()) {
    return absl::NotFoundError(
        absl::StrCat("match_id: match ", match_id, " does not exist"));
  }
  const MatchStatus status = EffectiveMatchStatus(matches_[match_id - 1], now);
  if (status != required) {
    return absl::FailedPreconditionError(absl::StrCat(
        "match_id: match ", match_id, " is ", MatchStatusName(status),
        "; only a ", MatchStatusName(required), " match can be ",
        Absl(action)));
  }
  return absl::OkStatus();
}

void Engine::Impl::LogMatchEvent(uint64_t match_id) {
  events_.push_back(MatchEventRecord{match_id, now_,
                                     matches_[match_id - 1].status,
                                     /*returned=*/false});
}

void Engine::Impl::StatusChanged(uint64_t match_id, int64_t freed_kg) {
  LogMatchEvent(match_id);
  const size_t event = events_.size() - 1;
  const bool returned = ReturnToPledge(match_id, freed_kg);
  events_[event].returned = returned;  // by index: events_ may have grown
}

bool Engine::Impl::ReturnToPledge(uint64_t match_id, int64_t kg) {
  if (kg <= 0) return false;
  const uint64_t pledge_id = matches_[match_id - 1].pledge_id;
  const int64_t price = matches_[match_id - 1].price;
  PledgeRecord& p = pledges_[pledge_id - 1];
  const bool resting = p.status == OrderStatus::kOpen;
  if (!(resting || p.status == OrderStatus::kFilled) || p.expires_at <= now_) {
    return false;  // cancelled or expired: nobody waits for these kg any more
  }
  // A standing pledge takes back kg of a match from an earlier period into
  // the current one, which grows by them (and its budget by their worth):
  // the buyer still needs what that period failed to get.
  const bool earlier_period = !InCurrentPeriod(matches_[match_id - 1]);
  if (earlier_period &&
      p.quantity_kg > std::min(kMaxQuantityKg, INT64_MAX / p.max_price) - kg) {
    return false;  // more than a pledge can hold at its price
  }
  // Off the shelves while it matches again; back on them (same place) with
  // what is left. Rest queues its expiry: the entry it may still have from
  // resting before goes first, so that none is queued twice.
  if (resting) Close(/*offer=*/false, pledge_id, OrderStatus::kOpen);
  expiries_.Remove(p.expires_at, ExpiryTag(pledge_id, /*is_offer=*/false));
  matches_[match_id - 1].returned_kg += kg;
  p.remaining_kg += kg;
  if (!earlier_period) {
    p.spent_fen -= kg * price;  // no overflow: at most the match's amount
  } else {
    p.quantity_kg += kg;
    if (p.budget_fen > 0) {
      p.budget_fen = p.budget_fen > INT64_MAX - kg * price
                         ? INT64_MAX
                         : p.budget_fen + kg * price;
    }
  }
  p.status = OrderStatus::kOpen;
  MatchIncoming(/*offer=*/false, pledge_id);
  if (pledges_[pledge_id - 1].status == OrderStatus::kOpen) {
    Rest(/*offer=*/false, pledge_id);
  }
  return true;
}

MatchResult Engine::Impl::MatchAnswer(uint64_t match_id,
                                      uint64_t first_new_match) const {
  MatchResult result;
  result.match = MakeMatchView(match_id);
  result.matches =
      MatchRange(first_new_match, matches_.size() + 1 - first_new_match);
  return result;
}

void Engine::Impl::AddDeadlines(uint64_t match_id) {
  const MatchRecord& m = matches_[match_id - 1];
  if (m.status == MatchStatus::kMatched && m.ship_by > 0) {
    deadlines_.Add(m.ship_by, DeadlineTag(match_id, /*accept=*/false));
  } else if (m.status == MatchStatus::kShipped && m.accept_by > 0) {
    deadlines_.Add(m.accept_by, DeadlineTag(match_id, /*accept=*/true));
  }
}

bool Engine::Impl::DeadlineLive(uint64_t tag) const {
  const MatchStatus status = matches_[(tag >> 1) - 1].status;
  return (tag & 1) ? status == MatchStatus::kShipped
                   : status == MatchStatus::kMatched;
}

void Engine::Impl::PassDeadlines(TickResult* result) {
  // Collected first: lapsed kg may make new matches, whose deadlines are
  // added to the queue (and are later than now).
  std::vector<uint64_t> due;
  deadlines_.PopUntil(
      now_, [this](uint64_t tag) { return DeadlineLive(tag); },
      [&](uint64_t tag) { due.push_back(tag); });
  for (const uint64_t tag : due) {
    const uint64_t id = tag >> 1;
    MatchRecord& m = matches_[id - 1];
    m.updated_at = now_;
    if (tag & 1) {
      m.status = MatchStatus::kDelivered;
      m.delivered_at = now_;
      m.accepted_kg = m.shipped_kg;
      ++result->delivered;
      StatusChanged(id, 0);
    } else {
      m.status = MatchStatus::kLapsed;
      ++result->lapsed;
      StatusChanged(id, m.quantity_kg);
    }
  }
}

std::string Engine::Impl::CheckMatchEvents() const {
  // Replays the log onto bare statuses and returned kg, and compares the
  // end with the records.
  std::vector<MatchStatus> status(matches_.size(), MatchStatus::kMatched);
  std::vector<int64_t> returned(matches_.size(), 0);
  uint64_t made = 0;
  Micros last = INT64_MIN;
  for (size_t i = 0; i < events_.size(); ++i) {
    const MatchEventRecord& e = events_[i];
    // Built only on failure: the log may hold millions of events.
    auto broken = [&](std::string_view what) {
      return absl::StrCat("match event ", i + 1, ": ", Absl(what));
    };
    if (e.at < last || e.at > now_) return broken("bad time");
    last = e.at;
    if (e.match_id == 0 || e.match_id > made + 1 ||
        e.match_id > matches_.size()) {
      return broken(absl::StrCat("bad match_id ", e.match_id));
    }
    const MatchRecord& m = matches_[e.match_id - 1];
    MatchStatus& s = status[e.match_id - 1];
    int64_t step_kg = 0;  // what the step frees for the pledge
    bool legal = false;
    Micros expected_at = e.at;
    switch (e.status) {
      case MatchStatus::kMatched:
        legal = e.match_id == made + 1;
        expected_at = m.matched_at;
        ++made;
        break;
      case MatchStatus::kShipped:
        legal = e.match_id <= made && s == MatchStatus::kMatched;
        step_kg = m.quantity_kg - m.shipped_kg;
        expected_at = m.shipped_at;
        break;
      case MatchStatus::kDelivered:
        legal = e.match_id <= made && s == MatchStatus::kShipped;
        step_kg = m.shipped_kg - m.accepted_kg;
        expected_at = m.delivered_at;
        break;
      case MatchStatus::kDeclined:
        legal = e.match_id <= made && s == MatchStatus::kShipped;
        step_kg = m.shipped_kg;
        expected_at = m.updated_at;  // the last status change
        break;
      case MatchStatus::kLapsed:
        legal = e.match_id <= made && s == MatchStatus::kMatched;
        step_kg = m.quantity_kg;
        expected_at = m.updated_at;
        break;
    }
    if (!legal) return broken("not a legal step");
    if (e.at != expected_at) return broken("its time is not the match's");
    if (e.returned && step_kg <= 0) return broken("returns kg it did not free");
    s = e.status;
    if (e.returned) returned[e.match_id - 1] += step_kg;
  }
  if (made != matches_.size()) {
    return absl::StrCat("match events make ", made, " matches, not ",
                        matches_.size());
  }
  for (size_t i = 0; i < matches_.size(); ++i) {
    const MatchRecord& m = matches_[i];
    if (status[i] != m.status || returned[i] != m.returned_kg) {
      return absl::StrCat("match events do not lead to match ", i + 1,
                          " as it is");
    }
  }
  return "";
}

// --- Commands ---------------------------------------------------------------

absl::Status Engine::Impl::Check(const ShipMatchCommand& c, Micros now) const {
  // Every field, so that a refusal names all that are bad (violations.h).
  // A missing match or one in the wrong state (not INVALID_ARGUMENT) is
  // still the answer alone.
  Violations v;
  v.Add(CheckMatchIn(c.match_id, MatchStatus::kMatched, "shipped", now));
  if (!v.Bad("match_id")) {
    v.Add(CheckKg("shipped_kg", c.shipped_kg,
                  matches_[c.match_id - 1].quantity_kg));
  }
  v.Add(CheckMaxBytes("note", c.note, kMaxMatchTextBytes));
  return v.ToStatus();
}

MatchResult Engine::Impl::Execute(const ShipMatchCommand& c) {
  const uint64_t first_new = matches_.size() + 1;
  MatchRecord& m = matches_[c.match_id - 1];
  const Micros accept_within = pledges_[m.pledge_id - 1].accept_within;
  m.status = MatchStatus::kShipped;
  m.shipped_at = m.updated_at = now_;
  m.shipped_kg = c.shipped_kg > 0 ? c.shipped_kg : m.quantity_kg;
  // Cannot overflow: accept_within is at most a year.
  m.accept_by = accept_within == kNoDeadline ? 0 : now_ + accept_within;
  if (!c.note.empty()) m.note = strings_.Intern(c.note);
  AddDeadlines(c.match_id);
  StatusChanged(c.match_id, m.quantity_kg - m.shipped_kg);
  return MatchAnswer(c.match_id, first_new);
}

absl::Status Engine::Impl::Check(const AcceptMatchCommand& c,
                                 Micros now) const {
  absl::Status s =
      CheckMatchIn(c.match_id, MatchStatus::kShipped, "accepted", now);
  if (s.ok()) {
    s = CheckKg("accepted_kg", c.accepted_kg,
                matches_[c.match_id - 1].shipped_kg);
  }
  return s;
}

MatchResult Engine::Impl::Execute(const AcceptMatchCommand& c) {
  const uint64_t first_new = matches_.size() + 1;
  MatchRecord& m = matches_[c.match_id - 1];
  m.status = MatchStatus::kDelivered;
  m.delivered_at = m.updated_at = now_;
  m.accepted_kg = c.accepted_kg > 0 ? c.accepted_kg : m.shipped_kg;
  StatusChanged(c.match_id, m.shipped_kg - m.accepted_kg);
  return MatchAnswer(c.match_id, first_new);
}

absl::Status Engine::Impl::Check(const DeclineMatchCommand& c,
                                 Micros now) const {
  absl::Status s =
      CheckMatchIn(c.match_id, MatchStatus::kShipped, "declined", now);
  if (s.ok() && c.reason.empty()) {
    s = absl::InvalidArgumentError("reason: is empty; say why it is declined");
  }
  if (s.ok()) s = CheckMaxBytes("reason", c.reason, kMaxMatchTextBytes);
  return s;
}

MatchResult Engine::Impl::Execute(const DeclineMatchCommand& c) {
  const uint64_t first_new = matches_.size() + 1;
  MatchRecord& m = matches_[c.match_id - 1];
  m.status = MatchStatus::kDeclined;
  m.updated_at = now_;
  m.reason = strings_.Intern(c.reason);
  StatusChanged(c.match_id, m.shipped_kg);
  return MatchAnswer(c.match_id, first_new);
}

}  // namespace duijie
