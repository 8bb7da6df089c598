// Saving, loading and hashing the engine's whole state (Engine::SaveState,
// LoadState). The durable server writes these bytes as its snapshot.
//
// The encoding (byte_codec.h) is canonical: fixed-width little-endian
// integers and length-prefixed strings, written in an order that depends only
// on the logical state (ids, codes, the order request_ids arrived in), never on
// hash-table iteration. Only what cannot be derived is saved; the indexes,
// book totals and expiry queue are rebuilt on load, so a loaded engine
// answers and matches exactly as the saved one would.
#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/byte_codec.h"
#include "engine/codes.h"
#include "engine/engine.h"
#include "engine/engine_impl.h"

namespace duijie {
namespace {

constexpr char kMagic[] = "DUIJIE-STATE";
// Version 2 adds the API keys after the matches. A state without keys is
// still written as version 1, byte for byte as before keys existed, so
// that its state hash is what earlier servers reported for it.
constexpr uint32_t kVersionWithoutKeys = 1;
constexpr uint32_t kVersionWithKeys = 2;
// Version 3 adds, after the request memos, each offer's ship_within, each
// pledge's accept_within and each match's lifecycle, then the buyer
// registry, then the queue sequence counters and each order's sequence
// number (amendments send orders to the back), then the standing pledges
// with their periods; the keys section is always
// there (it may be empty). A state whose orders and matches all predate
// the lifecycle (no deadlines, nothing shipped), with no buyers and no
// order moved in its queue, is still written as version 1 or 2, so old
// journals replay to the hashes they had. After the standing pledges come
// the matches made for alliance members and the members of alliance
// pledges. Last in version 3 comes the log
// of match events (each: match id, time, status, returned flag): the order
// of status changes among new matches cannot be derived from the records.
// Older versions hold no log: their matches never changed status, so it is
// one new-match event per match, in id order, rebuilt on load.
constexpr uint32_t kVersionWithLifecycle = 3;
// Version 4 is version 3 followed by the batch clearing policies (each:
// product prefix, interval, next clearing time, by prefix). Written only
// when there is a policy, so that a state without one keeps its hash.
constexpr uint32_t kVersionWithClearing = 4;
// Version 5 is version 4 (its policy count may be 0) followed by the glut
// alerts (AlertMonitor::Save: the thresholds set, by category; the alerts
// by id; the alert event log). Written only when a threshold was set or an
// alert was ever raised, so that a state without either keeps its hash.
// What the alerts derive from the book (cells, demand, the at-risk queue)
// is rebuilt on load; older versions load with no alerts and the default
// thresholds.
constexpr uint32_t kVersionWithAlerts = 5;
// Version 6 is version 5 (its alerts section may be empty) followed by the
// upserted products of the catalogue (ProductCatalogue::Save: by code,
// each with name, unit note, perishability and shelf life). Written only
// when a product was upserted, so that a state whose catalogue is open
// keeps its hash. The products catalogued from orders are the product
// table, already saved; older versions load with an open catalogue, as
// their journals replay.
constexpr uint32_t kVersionWithCatalogue = 6;

// Enum bytes read back must name a value (the state is a format: a byte
// out of range is damage, not a new value).
bool ValidGrade(uint8_t v) { return v >= 1 && v <= 3; }
bool ValidStatus(uint8_t v) { return v >= 1 && v <= 4; }
bool ValidKind(uint8_t v) { return v >= 1 && v <= kMaxBuyerKind; }
bool ValidScope(uint8_t v) { return v <= kMaxScope; }
bool ValidFlag(uint8_t v) { return v <= 1; }
bool ValidMatchStatus(uint8_t v) { return v >= 1 && v <= kMaxMatchStatus; }

// Whether a match is as every match was before the lifecycle existed.
bool LegacyMatch(const MatchRecord& m) {
  return m.status == MatchStatus::kMatched && m.ship_by == 0 &&
         m.shipped_at == 0 && m.shipped_kg == 0 && m.accept_by == 0 &&
         m.delivered_at == 0 && m.accepted_kg == 0 && m.returned_kg == 0 &&
         m.note == kNoText && m.reason == kNoText &&
         m.updated_at == m.matched_at;
}

}  // namespace

std::string Engine::Impl::SaveState() const {
  std::string out;
  ByteWriter w(&out);
  bool legacy = true;
  for (const OfferRecord& o : offers_) legacy &= o.ship_within == kNoDeadline;
  for (const PledgeRecord& p : pledges_) {
    legacy &= p.accept_within == kNoDeadline;
  }
  for (const MatchRecord& m : matches_) legacy &= LegacyMatch(m);
  const bool version6 = !catalogue_.open();
  const bool version5 = version6 || !alerts_.Empty();
  const bool version4 = version5 || !clearing_.empty();
  const bool version3 = version4 || !legacy || buyers_.size() != 0 ||
                        !standing_.empty() || !pledge_members_.empty() ||
                        offer_seq_ != offers_.size() ||
                        pledge_seq_ != pledges_.size();
  const bool with_keys = version3 || keys_.size() != 0;
  w.Str(kMagic);
  w.U64(version6    ? kVersionWithCatalogue
        : version5  ? kVersionWithAlerts
        : version4  ? kVersionWithClearing
        : version3  ? kVersionWithLifecycle
        : with_keys ? kVersionWithKeys
                    : kVersionWithoutKeys);
  w.I64(now_);
  w.U64(strings_.size());
  for (uint32_t i = 0; i < strings_.size(); ++i) w.Str(strings_.Get(i));
  w.U64(products_.size());
  for (uint32_t i = 0; i < products_.size(); ++i) w.U64(products_.code_id(i));
  reference_.Save(w);

  w.U64(offers_.size());
  for (const OfferRecord& o : offers_) {
    w.U64(o.supplier);
    w.U64(o.product);
    w.I64(o.region);
    w.U8(static_cast<uint8_t>(o.grade));
    w.U8(o.certified);
    w.U8(static_cast<uint8_t>(o.status));
    w.I64(o.quantity_kg);
    w.I64(o.remaining_kg);
    w.I64(o.floor_price);
    w.I64(o.min_lot_kg);
    w.I64(o.households);
    w.I64(o.expires_at);
    w.I64(o.posted_at);
  }
  w.U64(pledges_.size());
  for (const PledgeRecord& p : pledges_) {
    w.U64(p.buyer);
    w.U64(p.product);
    w.I64(p.city);
    w.U8(static_cast<uint8_t>(p.kind));
    w.U8(static_cast<uint8_t>(p.min_grade));
    w.U8(static_cast<uint8_t>(p.scope));
    w.U8(p.require_certified);
    w.U8(static_cast<uint8_t>(p.status));
    w.I64(p.quantity_kg);
    w.I64(p.remaining_kg);
    w.I64(p.max_price);
    w.I64(p.budget_fen);
    w.I64(p.spent_fen);
    w.I64(p.min_lot_kg);
    w.I64(p.expires_at);
    w.I64(p.posted_at);
    w.U64(p.listed.as_posted().size());
    for (int32_t code : p.listed.as_posted()) w.I64(code);
  }
  w.U64(matches_.size());
  for (const MatchRecord& m : matches_) {
    w.U64(m.offer_id);
    w.U64(m.pledge_id);
    w.I64(m.quantity_kg);
    w.I64(m.price);
    w.I64(m.amount_fen);
    w.I64(m.matched_at);
    w.U8(m.partner);
  }
  if (with_keys) keys_.Save(w);

  requests_.Save(w);
  if (version3) {
    for (const OfferRecord& o : offers_) w.I64(o.ship_within);
    for (const PledgeRecord& p : pledges_) w.I64(p.accept_within);
    for (const MatchRecord& m : matches_) {
      w.U8(static_cast<uint8_t>(m.status));
      w.I64(m.ship_by);
      w.I64(m.shipped_at);
      w.I64(m.shipped_kg);
      w.I64(m.accept_by);
      w.I64(m.delivered_at);
      w.I64(m.accepted_kg);
      w.I64(m.returned_kg);
      w.U32(m.note);
      w.U32(m.reason);
      w.I64(m.updated_at);
    }
    buyers_.Save(w);
    w.U64(offer_seq_);
    w.U64(pledge_seq_);
    for (const OfferRecord& o : offers_) w.U64(o.seq);
    for (const PledgeRecord& p : pledges_) w.U64(p.seq);
    w.U64(standing_.size());
    for (const auto& [id, s] : standing_) {
      w.U64(id);
      w.U8(static_cast<uint8_t>(s.period));
      w.I64(s.quantity_kg);
      w.I64(s.budget_fen);
      w.U8(s.carry_over);
      w.I64(s.current_start);
      w.U64(s.closed.size());
      for (const StandingRecord::Closed& c : s.closed) {
        w.I64(c.start);
        w.I64(c.pledged_kg);
        w.I64(c.budget_fen);
      }
    }
    // Alliance pledges: the matches made for a member, by id, with the
    // member (sparse: few matches have one, and a snapshot of a million
    // plain matches should not grow by 4 MB), then the pledges with
    // members, by id, each with its members by buyer_id.
    uint64_t member_matches = 0;
    for (const MatchRecord& m : matches_) member_matches += m.member != kNoText;
    w.U64(member_matches);
    for (uint64_t id = 1; id <= matches_.size(); ++id) {
      if (matches_[id - 1].member == kNoText) continue;
      w.U64(id);
      w.U32(matches_[id - 1].member);
    }
    w.U64(pledge_members_.size());
    for (uint64_t id = 1; id <= pledges_.size(); ++id) {
      if (!pledges_[id - 1].has_members) continue;
      const std::vector<PledgeMember>& members = pledge_members_.at(id);
      w.U64(id);
      w.U64(members.size());
      for (const PledgeMember& m : members) {
        w.U32(m.buyer);
        w.U32(m.share_permille);
      }
    }
    w.U64(events_.size());
    for (const MatchEventRecord& e : events_) {
      w.U64(e.match_id);
      w.I64(e.at);
      w.U8(static_cast<uint8_t>(e.status));
      w.U8(e.returned);
    }
  }
  if (version4) {
    w.U64(clearing_.size());
    for (const auto& [prefix, policy] : clearing_) {
      w.Str(prefix);
      w.I64(policy.interval);
      w.I64(policy.next_at);
    }
  }
  if (version5) alerts_.Save(w);
  if (version6) catalogue_.Save(w);
  return out;
}

absl::Status Engine::Impl::LoadState(std::string_view bytes) {
  if (!offers_.empty() || !pledges_.empty() || strings_.size() != 0 ||
      alert_feed_ != nullptr) {
    return absl::FailedPreconditionError(
        "LoadState needs a new engine, its alert feed not started");
  }
  ByteReader r(bytes);
  auto corrupt = [&](std::string_view what) {
    return absl::DataLossError(
        absl::StrCat("engine state: ", Absl(what), " at byte ", r.pos()));
  };
  if (r.Str() != kMagic) return corrupt("not an engine state (bad magic)");
  const uint64_t version = r.U64();
  if (version != kVersionWithoutKeys && version != kVersionWithKeys &&
      version != kVersionWithLifecycle && version != kVersionWithClearing &&
      version != kVersionWithAlerts && version != kVersionWithCatalogue) {
    return corrupt(absl::StrCat("unknown version ", version));
  }
  now_ = r.I64();
  const uint64_t nstrings = r.Count(4);
  for (uint64_t i = 0; i < nstrings && r.ok(); ++i) {
    if (strings_.Intern(r.Str()) != i) return corrupt("duplicate string");
  }
  auto valid_string = [&](uint64_t id) { return id < strings_.size(); };
  const uint64_t nproducts = r.Count(8);
  for (uint64_t i = 0; i < nproducts && r.ok(); ++i) {
    const uint64_t sid = r.U64();
    if (!valid_string(sid) ||
        !CheckProductCode("product", strings_.Get(sid)).ok() ||
        products_.Intern(strings_.Get(sid)) != i) {
      return corrupt("bad product table");
    }
  }
  if (!reference_.Load(r)) return corrupt("bad regions or pairings");

  // Codes are read as 64 bits and judged before they are narrowed, so a
  // corrupt value cannot wrap onto a valid one.
  auto known_region = [&](int64_t code) {
    return code >= INT32_MIN && code <= INT32_MAX &&
           reference_.Known(static_cast<int32_t>(code));
  };
  // An order's first fields as saved: its owner (supplier or buyer,
  // interned), its product and its region (or city).
  struct Head {
    uint64_t owner;
    uint64_t product;
    int64_t region;
  };
  auto read_head = [&] {
    Head h;
    h.owner = r.U64();
    h.product = r.U64();
    h.region = r.I64();
    return h;
  };
  // Whether the head names what the state holds; then narrows it into the
  // record's fields.
  auto take_head = [&](const Head& h, uint32_t* owner, uint32_t* product,
                       int32_t* region) {
    if (!valid_string(h.owner) || h.product >= products_.size() ||
        !known_region(h.region)) {
      return false;
    }
    *owner = static_cast<uint32_t>(h.owner);
    *product = static_cast<uint32_t>(h.product);
    *region = static_cast<int32_t>(h.region);
    return true;
  };
  const uint64_t noffers = r.Count(8 * 9 + 3);
  if (noffers > kMaxOfferId) return corrupt("more offers than offer ids");
  offers_.reserve(noffers);
  for (uint64_t i = 0; i < noffers && r.ok(); ++i) {
    OfferRecord o{};
    const Head head = read_head();
    const uint8_t grade = r.U8(), certified = r.U8(), status = r.U8();
    if (!r.ok()) break;  // reported as truncated below
    if (!ValidGrade(grade) || !ValidFlag(certified) || !ValidStatus(status)) {
      return corrupt("bad offer enum");
    }
    o.grade = static_cast<Grade>(grade);
    o.certified = certified;
    o.status = static_cast<OrderStatus>(status);
    o.quantity_kg = r.I64();
    o.remaining_kg = r.I64();
    const int64_t floor_price = r.I64();
    o.min_lot_kg = r.I64();
    const int64_t households = r.I64();
    o.expires_at = r.I64();
    o.posted_at = r.I64();
    if (!take_head(head, &o.supplier, &o.product, &o.region) ||
        floor_price <= 0 || floor_price > kMaxPriceFenPerKg || households < 0 ||
        households > INT32_MAX) {
      return corrupt("bad offer");
    }
    o.floor_price = static_cast<int32_t>(floor_price);
    o.households = static_cast<int32_t>(households);
    o.priority = reference_.IsPriorityRegion(o.region);
    o.seq = i + 1;
    offers_.push_back(o);
  }
  const uint64_t npledges = r.Count(8 * 12 + 5);
  if (npledges > kMaxPledgeId) return corrupt("more pledges than pledge ids");
  pledges_.reserve(npledges);
  for (uint64_t i = 0; i < npledges && r.ok(); ++i) {
    PledgeRecord p{};
    const Head head = read_head();
    const uint8_t kind = r.U8(), min_grade = r.U8(), scope = r.U8(),
                  require_certified = r.U8(), status = r.U8();
    if (!r.ok()) break;  // reported as truncated below
    if (!ValidKind(kind) || !ValidGrade(min_grade) || !ValidScope(scope) ||
        !ValidFlag(require_certified) || !ValidStatus(status)) {
      return corrupt("bad pledge enum");
    }
    p.kind = static_cast<BuyerKind>(kind);
    p.min_grade = static_cast<Grade>(min_grade);
    p.scope = static_cast<Scope>(scope);
    p.require_certified = require_certified;
    p.status = static_cast<OrderStatus>(status);
    p.quantity_kg = r.I64();
    p.remaining_kg = r.I64();
    p.max_price = r.I64();
    p.budget_fen = r.I64();
    p.spent_fen = r.I64();
    p.min_lot_kg = r.I64();
    p.expires_at = r.I64();
    p.posted_at = r.I64();
    const uint64_t nlisted = r.Count(8);
    std::vector<int32_t> listed;
    for (uint64_t j = 0; j < nlisted && r.ok(); ++j) {
      const int64_t code = r.I64();
      if (!known_region(code)) return corrupt("bad listed region");
      listed.push_back(static_cast<int32_t>(code));
    }
    if (!take_head(head, &p.buyer, &p.product, &p.city) || p.max_price <= 0 ||
        p.max_price > kMaxPriceFenPerKg) {
      return corrupt("bad pledge");
    }
    p.listed.Set(std::move(listed));
    p.seq = i + 1;
    pledges_.push_back(std::move(p));
  }
  const uint64_t nmatches = r.Count(8 * 6 + 1);
  matches_.reserve(nmatches);
  for (uint64_t i = 0; i < nmatches && r.ok(); ++i) {
    MatchRecord m;
    m.offer_id = r.U64();
    m.pledge_id = r.U64();
    m.quantity_kg = r.I64();
    m.price = r.I64();
    m.amount_fen = r.I64();
    m.matched_at = r.I64();
    const uint8_t partner = r.U8();
    if (!ValidFlag(partner)) return corrupt("bad match");
    m.partner = partner;
    if (m.offer_id == 0 || m.offer_id > offers_.size() || m.pledge_id == 0 ||
        m.pledge_id > pledges_.size()) {
      return corrupt("bad match");
    }
    matches_.push_back(m);
  }
  // Version 2 is written only with keys; version 3 also without them.
  if (version >= kVersionWithKeys &&
      (!keys_.Load(r) || (version == kVersionWithKeys && keys_.size() == 0))) {
    return corrupt("bad keys");
  }
  if (!requests_.Load(r) || !requests_.KeysKnown(keys_.size())) {
    return corrupt("bad request memo");
  }
  if (version < kVersionWithLifecycle) {
    for (OfferRecord& o : offers_) o.ship_within = kNoDeadline;
    for (PledgeRecord& p : pledges_) p.accept_within = kNoDeadline;
    for (MatchRecord& m : matches_) m.updated_at = m.matched_at;
  } else {
    for (OfferRecord& o : offers_) o.ship_within = r.I64();
    for (PledgeRecord& p : pledges_) p.accept_within = r.I64();
    for (MatchRecord& m : matches_) {
      const uint8_t status = r.U8();
      if (!r.ok()) break;
      if (!ValidMatchStatus(status)) return corrupt("bad match status");
      m.status = static_cast<MatchStatus>(status);
      m.ship_by = r.I64();
      m.shipped_at = r.I64();
      m.shipped_kg = r.I64();
      m.accept_by = r.I64();
      m.delivered_at = r.I64();
      m.accepted_kg = r.I64();
      m.returned_kg = r.I64();
      m.note = r.U32();
      m.reason = r.U32();
      m.updated_at = r.I64();
      auto text_ok = [&](uint32_t t) {
        return t == kNoText || valid_string(t);
      };
      if (m.shipped_kg < 0 || m.shipped_kg > m.quantity_kg ||
          m.accepted_kg < 0 || m.accepted_kg > m.shipped_kg ||
          m.returned_kg < 0 || m.returned_kg > m.quantity_kg ||
          !text_ok(m.note) || !text_ok(m.reason)) {
        return corrupt("bad match lifecycle");
      }
    }
    for (const OfferRecord& o : offers_) {
      if (!DeadlineLengthHeld(o.ship_within)) return corrupt("bad ship_within");
    }
    for (const PledgeRecord& p : pledges_) {
      if (!DeadlineLengthHeld(p.accept_within))
        return corrupt("bad accept_within");
    }
  }
  if (version >= kVersionWithLifecycle && !buyers_.Load(r, reference_)) {
    return corrupt("bad buyers");
  }
  if (!requests_.BuyersKnown(buyers_)) return corrupt("bad request memo");
  offer_seq_ = offers_.size();
  pledge_seq_ = pledges_.size();
  if (version >= kVersionWithLifecycle) {
    offer_seq_ = r.U64();
    pledge_seq_ = r.U64();
    for (OfferRecord& o : offers_) o.seq = r.U64();
    for (PledgeRecord& p : pledges_) p.seq = r.U64();
    // Sequence numbers must be unique on each side (they order the queues)
    // and within the counters (new ones are drawn above them).
    auto seqs_ok = [](const auto& records, uint64_t counter) {
      std::vector<uint64_t> seqs;
      seqs.reserve(records.size());
      for (const auto& record : records) {
        if (record.seq == 0 || record.seq > counter) return false;
        seqs.push_back(record.seq);
      }
      std::sort(seqs.begin(), seqs.end());
      return std::adjacent_find(seqs.begin(), seqs.end()) == seqs.end();
    };
    if (r.ok() &&
        (!seqs_ok(offers_, offer_seq_) || !seqs_ok(pledges_, pledge_seq_))) {
      return corrupt("bad queue sequence numbers");
    }
    const uint64_t standing = r.Count(/*min_bytes=*/41);
    if (r.ok() && standing > pledges_.size()) return corrupt("bad standing");
    uint64_t last_id = 0;
    for (uint64_t i = 0; i < standing && r.ok(); ++i) {
      const uint64_t id = r.U64();
      const uint8_t period = r.U8();
      if (!r.ok()) break;
      if (id <= last_id || id > pledges_.size() || period == 0 ||
          period > kMaxPeriod) {
        return corrupt("bad standing pledge");
      }
      last_id = id;
      StandingRecord& s = standing_[id];
      s.period = static_cast<Period>(period);
      s.quantity_kg = r.I64();
      s.budget_fen = r.I64();
      const uint8_t carry_over = r.U8();
      s.current_start = r.I64();
      const uint64_t closed = r.Count(/*min_bytes=*/24);
      if (!r.ok()) break;
      if (s.quantity_kg <= 0 || s.budget_fen < 0 || !ValidFlag(carry_over)) {
        return corrupt("bad standing pledge");
      }
      s.carry_over = carry_over;
      s.closed.resize(closed);
      for (StandingRecord::Closed& c : s.closed) {
        c.start = r.I64();
        c.pledged_kg = r.I64();
        c.budget_fen = r.I64();
      }
      if (!r.ok()) break;
      // The periods run from the one the pledge was posted in, one after
      // another, to a current one that has begun; each within range.
      const PledgeRecord& p = pledges_[id - 1];
      if (s.quantity_kg > kMaxQuantityKg || p.posted_at > now_ ||
          s.current_start > now_) {
        return corrupt("bad standing pledge");
      }
      Micros start = PeriodStartAt(s.period, p.posted_at);
      for (const StandingRecord::Closed& c : s.closed) {
        if (c.start != start || c.pledged_kg < 0 ||
            c.pledged_kg > kMaxQuantityKg || c.budget_fen < 0) {
          return corrupt("bad standing pledge periods");
        }
        start = NextPeriodStart(s.period, start);
      }
      if (start != s.current_start) {
        return corrupt("bad standing pledge periods");
      }
      pledges_[id - 1].standing = true;
    }
    const uint64_t nmember_matches = r.Count(12);
    uint64_t last_match = 0;
    for (uint64_t i = 0; i < nmember_matches && r.ok(); ++i) {
      const uint64_t id = r.U64();
      const uint32_t member = r.U32();
      if (!r.ok()) break;
      if (id <= last_match || id > matches_.size() || !valid_string(member)) {
        return corrupt("bad match member");
      }
      last_match = id;
      matches_[id - 1].member = member;
    }
    const uint64_t nallied = r.Count(16);
    uint64_t last_allied = 0;
    for (uint64_t i = 0; i < nallied && r.ok(); ++i) {
      const uint64_t id = r.U64();
      const uint64_t nmembers = r.Count(8);
      if (!r.ok()) break;
      if (id <= last_allied || id > pledges_.size() || nmembers == 0 ||
          nmembers > kMaxPledgeMembers) {
        return corrupt("bad pledge members");
      }
      last_allied = id;
      std::vector<PledgeMember>& members = pledge_members_[id];
      uint64_t total = 0;
      for (uint64_t j = 0; j < nmembers && r.ok(); ++j) {
        PledgeMember m;
        m.buyer = r.U32();
        m.share_permille = r.U32();
        if (!r.ok()) break;
        // By buyer_id, each once: the split's tie-break depends on it.
        if (!valid_string(m.buyer) || m.share_permille == 0 ||
            m.share_permille > 1000 ||
            (j > 0 &&
             strings_.Get(members.back().buyer) >= strings_.Get(m.buyer))) {
          return corrupt("bad pledge members");
        }
        total += m.share_permille;
        members.push_back(m);
      }
      if (r.ok() && total != 1000) return corrupt("bad pledge member shares");
      pledges_[id - 1].has_members = true;
    }
    // A member's match belongs to a pledge that lists that member.
    for (const MatchRecord& m : matches_) {
      if (m.member == kNoText) continue;
      auto it = pledge_members_.find(m.pledge_id);
      if (it == pledge_members_.end() ||
          std::none_of(
              it->second.begin(), it->second.end(),
              [&](const PledgeMember& pm) { return pm.buyer == m.member; })) {
        return corrupt("a match's member is not its pledge's");
      }
    }
    const uint64_t nevents = r.Count(8 * 2 + 2);
    events_.reserve(nevents);
    for (uint64_t i = 0; i < nevents && r.ok(); ++i) {
      MatchEventRecord e;
      e.match_id = r.U64();
      e.at = r.I64();
      const uint8_t status = r.U8(), returned = r.U8();
      if (!r.ok()) break;  // reported as truncated below
      if (!ValidMatchStatus(status) || !ValidFlag(returned)) {
        return corrupt("bad match event");
      }
      e.status = static_cast<MatchStatus>(status);
      e.returned = returned;
      events_.push_back(e);
    }
    if (version >= kVersionWithClearing) {
      const uint64_t npolicies = r.Count(/*min_bytes=*/4 + 16);
      if (r.ok() && npolicies == 0 && version == kVersionWithClearing) {
        return corrupt("bad clearing policies");
      }
      for (uint64_t i = 0; i < npolicies && r.ok(); ++i) {
        std::string prefix(r.Str());
        ClearingPolicy policy;
        policy.interval = r.I64();
        policy.next_at = r.I64();
        if (!r.ok()) break;
        // A valid policy, in prefix order, whose next clearing is the
        // first multiple of its interval after a time no later than now.
        const bool valid =
            Check(SetClearingPolicyCommand{prefix, policy.interval}, now_)
                .ok() &&
            policy.interval != 0 && policy.next_at > 0 &&
            policy.next_at % policy.interval == 0 &&
            policy.next_at - policy.interval <= now_ &&
            (clearing_.empty() || clearing_.rbegin()->first < prefix);
        if (!valid) return corrupt("bad clearing policy");
        clearing_.emplace(std::move(prefix), policy);
      }
    }
    if (version >= kVersionWithAlerts && r.ok()) {
      if (!alerts_.Load(r, now_)) return corrupt("bad alerts");
      if (version == kVersionWithAlerts && alerts_.Empty()) {
        return corrupt("empty alerts section");
      }
    }
    if (version == kVersionWithCatalogue && r.ok()) {
      if (!catalogue_.Load(r)) return corrupt("bad product catalogue");
      if (catalogue_.open()) return corrupt("empty product catalogue");
    }
  } else {
    events_.reserve(matches_.size());
    for (uint64_t id = 1; id <= matches_.size(); ++id) {
      events_.push_back(MatchEventRecord{id, matches_[id - 1].matched_at,
                                         MatchStatus::kMatched,
                                         /*returned=*/false});
    }
  }
  if (!r.ok()) return corrupt("truncated");
  if (!r.done()) return corrupt("trailing bytes");
  if (std::string events = CheckMatchEvents(); !events.empty()) {
    return corrupt(events);
  }

  // Rebuild what is derived, in id order so the result is the same however
  // the saved engine got there.
  for (uint64_t id = 1; id <= offers_.size(); ++id) {
    const OfferRecord& o = offers_[id - 1];
    offers_by_supplier_[o.supplier].push_back(id);
    if (o.status == OrderStatus::kOpen) Rest(/*offer=*/true, id);
  }
  for (uint64_t id = 1; id <= pledges_.size(); ++id) {
    const PledgeRecord& p = pledges_[id - 1];
    pledges_by_buyer_[p.buyer].push_back(id);
    if (p.status == OrderStatus::kOpen) Rest(/*offer=*/false, id);
  }
  for (uint64_t id = 1; id <= matches_.size(); ++id) {
    const MatchRecord& m = matches_[id - 1];
    matches_by_supplier_[offers_[m.offer_id - 1].supplier].push_back(id);
    const uint32_t buyer = pledges_[m.pledge_id - 1].buyer;
    matches_by_buyer_[buyer].push_back(id);
    if (m.member != kNoText && m.member != buyer) {
      matches_by_buyer_[m.member].push_back(id);
    }
    AddDeadlines(id);
  }
  for (const auto& [id, s] : standing_) {
    const PledgeRecord& p = pledges_[id - 1];
    // A pledge that has expired starts no period any more (nor can an
    // amendment revive it): a continuous engine dropped its entry when the
    // clock passed it, or drops it unused, so none is queued for it here.
    if ((p.status == OrderStatus::kOpen || p.status == OrderStatus::kFilled) &&
        p.expires_at > now_) {
      QueueNextPeriod(id);
    }
  }
  // Resting the orders above fed the alerts with the default thresholds:
  // derive them again with the loaded ones.
  alerts_.Rebuild(now_);
  return absl::OkStatus();
}

}  // namespace duijie
