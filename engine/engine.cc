// Engine: the facade, and Apply, the one opening every command goes
// through; the tick and the reference-data commands. See engine.h.
#include "engine/engine.h"

#include <type_traits>
#include <utility>
#include <variant>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "engine/codes.h"
#include "engine/engine_impl.h"
#include "engine/text.h"
#include "zlib.h"

namespace duijie {

Engine::Impl::Impl(const EngineOptions& options)
    : options_(options),
      requests_(options.request_id_window, options.min_request_ids) {}

namespace {

// CheckPlainText for element i of a repeated field, named
// "<field>[i]<suffix>": the name is built only for a refusal, since
// building it costs an allocation for every element checked.
absl::Status CheckPlainTextOfElement(std::string_view field, size_t i,
                                     std::string_view suffix,
                                     std::string_view text) {
  if (FindControlCharacter(text) == std::string_view::npos) {
    return absl::OkStatus();
  }
  return CheckPlainText(absl::StrCat(Absl(field), "[", i, "]", Absl(suffix)),
                        text);
}

}  // namespace

absl::Status CheckCommandText(const Command& command) {
  if (absl::Status s = CheckPlainText("request_id", command.request_id);
      !s.ok()) {
    return s;
  }
  auto all =
      [](std::initializer_list<std::pair<const char*, const std::string*>>
             fields) {
        for (const auto& [name, value] : fields) {
          if (absl::Status s = CheckPlainText(name, *value); !s.ok()) return s;
        }
        return absl::OkStatus();
      };
  return std::visit(
      [&](const auto& body) -> absl::Status {
        using Body = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<Body, UpsertRegionCommand>) {
          return all({{"region.code", &body.region.code},
                      {"region.name", &body.region.name}});
        } else if constexpr (std::is_same_v<Body, UpsertPairingCommand>) {
          return all({{"pairing.east_code", &body.pairing.east_code},
                      {"pairing.west_code", &body.pairing.west_code},
                      {"pairing.note", &body.pairing.note}});
        } else if constexpr (std::is_same_v<Body, ShipMatchCommand>) {
          return all({{"note", &body.note}});
        } else if constexpr (std::is_same_v<Body, DeclineMatchCommand>) {
          return all({{"reason", &body.reason}});
        } else if constexpr (std::is_same_v<Body, DeletePairingCommand>) {
          return all(
              {{"east_code", &body.east_code}, {"west_code", &body.west_code}});
        } else if constexpr (std::is_same_v<Body, PostOfferCommand>) {
          return all({{"offer.supplier_id", &body.offer.supplier_id},
                      {"offer.region_code", &body.offer.region_code},
                      {"offer.product_code", &body.offer.product_code}});
        } else if constexpr (std::is_same_v<Body, PostPledgeCommand>) {
          absl::Status s =
              all({{"pledge.buyer_id", &body.pledge.buyer_id},
                   {"pledge.buyer_city_code", &body.pledge.buyer_city_code},
                   {"pledge.product_code", &body.pledge.product_code}});
          const std::vector<std::string>& codes = body.pledge.region_codes;
          for (size_t i = 0; s.ok() && i < codes.size(); ++i) {
            s = CheckPlainTextOfElement("pledge.region_codes", i, "", codes[i]);
          }
          const std::vector<MemberShare>& members = body.pledge.members;
          for (size_t i = 0; s.ok() && i < members.size(); ++i) {
            s = CheckPlainTextOfElement("pledge.members", i, ".buyer_id",
                                        members[i].buyer_id);
          }
          return s;
        } else if constexpr (std::is_same_v<Body, SetClearingPolicyCommand>) {
          return all({{"product_prefix", &body.product_prefix}});
        } else if constexpr (std::is_same_v<Body, SetAlertThresholdsCommand>) {
          return all({{"thresholds.category", &body.thresholds.category}});
        } else if constexpr (std::is_same_v<Body, UpsertProductCommand>) {
          return all({{"product.code", &body.product.code},
                      {"product.name", &body.product.name},
                      {"product.unit_note", &body.product.unit_note}});
        } else if constexpr (std::is_same_v<Body, UpsertBuyerCommand>) {
          return all({{"buyer.buyer_id", &body.buyer.buyer_id},
                      {"buyer.name", &body.buyer.name},
                      {"buyer.city_code", &body.buyer.city_code},
                      {"buyer.alliance_id", &body.buyer.alliance_id}});
        } else if constexpr (std::is_same_v<Body, AmendPledgeCommand>) {
          absl::Status s = absl::OkStatus();
          for (size_t i = 0; s.ok() && i < body.region_codes.size(); ++i) {
            s = CheckPlainTextOfElement("region_codes", i, "",
                                        body.region_codes[i]);
          }
          return s;
        } else if constexpr (std::is_same_v<Body, CreateKeyCommand>) {
          // The secret's hash is bytes, not text: CheckPrincipal and the
          // key registry check it.
          absl::Status s = all({{"principal.name", &body.principal.name}});
          for (const auto* ids :
               {&body.principal.supplier_ids, &body.principal.buyer_ids}) {
            for (size_t i = 0; s.ok() && i < ids->size(); ++i) {
              s = CheckPlainTextOfElement(ids == &body.principal.supplier_ids
                                              ? "principal.supplier_ids"
                                              : "principal.buyer_ids",
                                          i, "", (*ids)[i]);
            }
          }
          return s;
        } else {
          // Ticks, cancels, offer amendments, revocations and acceptances
          // carry no text; a new command with text is listed above.
          static_assert(std::is_same_v<Body, TickCommand> ||
                        std::is_same_v<Body, CancelOfferCommand> ||
                        std::is_same_v<Body, AmendOfferCommand> ||
                        std::is_same_v<Body, CancelPledgeCommand> ||
                        std::is_same_v<Body, RevokeKeyCommand> ||
                        std::is_same_v<Body, AcceptMatchCommand> ||
                        std::is_same_v<Body, ClearCommand>);
          return absl::OkStatus();
        }
      },
      command.body);
}

absl::StatusOr<CommandResult> Engine::Impl::Apply(const Command& command,
                                                  bool journaled) {
  if (!journaled && !std::holds_alternative<TickCommand>(command.body)) {
    if (absl::Status s = CheckCommandText(command); !s.ok()) return s;
  }
  replaying_ = journaled;
  absl::Cleanup applied = [this] { replaying_ = false; };
  return std::visit(
      [&](const auto& body) -> absl::StatusOr<CommandResult> {
        using Body = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<Body, TickCommand>) {
          return CommandResult(Tick(command.now));
        } else {
          if (command.caller != nullptr) {
            if (absl::Status s = Authorize(*command.caller, command.body, now_);
                !s.ok()) {
              return s;
            }
          }
          absl::StatusOr<const RequestMemo*> memo = requests_.Find(command);
          if (!memo.ok()) return memo.status();
          if (*memo != nullptr) return Repeat(**memo);
          if (absl::Status s = Check(body, now_); !s.ok()) return s;
          const uint64_t first_match = matches_.size() + 1;
          CommandResult result(Execute(body));
          AlertsEvaluate();
          if (!command.request_id.empty()) {  // memos are only for repeats
            RequestMemo first = MemoOf(command.code(), result,
                                       MakesMatches<Body>() ? first_match : 0);
            first.fingerprint = command.fingerprint;
            requests_.Remember(command.request_id, std::move(first), now_);
          }
          return result;
        }
      },
      command.body);
}

absl::Status Engine::Impl::Validate(const Command& command, Micros now) const {
  if (std::holds_alternative<TickCommand>(command.body)) {
    return absl::OkStatus();
  }
  if (absl::Status s = CheckCommandText(command); !s.ok()) return s;
  // A tick to `now` that only retires expired orders changes nothing a
  // Check reads but the clock and which orders are open, and Check reads
  // those through `now`. A tick that passes a match deadline or starts a
  // standing pledge's period can reopen and refill pledges, which Check
  // does not foresee: callers ask TickMayReopen first.
  const Micros at = std::max(now, now_);
  if (command.caller != nullptr) {
    if (absl::Status s = Authorize(*command.caller, command.body, at);
        !s.ok()) {
      return s;
    }
  }
  absl::StatusOr<const RequestMemo*> memo = requests_.Find(command);
  if (!memo.ok()) return memo.status();
  if (*memo != nullptr) return absl::OkStatus();  // a repeat is answered
  return std::visit([&](const auto& body) { return Check(body, at); },
                    command.body);
}

bool Engine::Impl::TickMayReopen(Micros now) const {
  if (now <= now_) return false;
  if (!clearing_.empty() && NextClearingAt() <= now) return true;
  // Only entries the tick would act on count: the writer ticks before a
  // refused command when this is true and not otherwise, and that tick
  // is state (the clock, alerts judged at its time). The queues also hold
  // dead entries (shipped matches, cancelled or expired standing pledges)
  // that a queue rebuilt on LoadState lacks, so an answer that counted
  // them would differ between a restarted engine and a continuous one.
  // A period start is acted on when the pledge is open or filled and
  // outlives the tick (StartPeriods skips one that expires by then).
  return deadlines_.AnyLiveUntil(now, [this](uint64_t tag) {
    return DeadlineLive(tag);
  }) || period_starts_.AnyLiveUntil(now, [this, now](uint64_t id) {
    const PledgeRecord& p = pledges_[id - 1];
    return (p.status == OrderStatus::kOpen ||
            p.status == OrderStatus::kFilled) &&
           p.expires_at > now;
  });
}

TickResult Engine::Impl::Tick(Micros now) {
  now_ = std::max(now_, now);
  TickResult result;
  expiries_.PopUntil(
      now_, [this](uint64_t tag) { return ExpiryLive(tag); },
      [&](uint64_t tag) {
        Close(/*offer=*/tag & 1, tag >> 1, OrderStatus::kExpired);
        ++result.expired;
      });
  // Periods start before deadlines pass: every match a tick makes (kg that
  // come back match again at once) is made at now_, in the newest period.
  StartPeriods(&result);
  PassDeadlines(&result);
  // Offers whose expiry comes within the horizon become at risk; alerts
  // are judged on what the tick left.
  AlertsTick();
  AlertsEvaluate();
  result.now = now_;
  return result;
}

CommandResult Engine::Impl::Repeat(const RequestMemo& memo) const {
  // The first answer has the Result type of the memo's command.
  CommandBody body;
  BodyForCode(static_cast<uint8_t>(memo.code), &body);
  return std::visit(
      [&](const auto& b) -> CommandResult {
        using Result = typename std::decay_t<decltype(b)>::Result;
        Result result;
        if constexpr (std::is_same_v<Result, RegionResult>) {
          result.region = memo.region;
        } else if constexpr (std::is_same_v<Result, PairingResult>) {
          result.pairing = memo.pairing;
        } else if constexpr (std::is_same_v<Result, KeyResult>) {
          result.key = *keys_.Find(memo.order_id);
        } else if constexpr (std::is_same_v<Result, MatchResult>) {
          // The match as it stands now, like a key.
          result.match = MakeMatchView(memo.order_id);
          result.matches = MatchRange(memo.first_match_id, memo.match_count);
        } else if constexpr (std::is_same_v<Result, ClearingPolicyResult>) {
          // The policy as it stands now, like a buyer.
          result.product_prefix = memo.buyer_id;
          if (auto it = clearing_.find(memo.buyer_id); it != clearing_.end()) {
            result.interval = it->second.interval;
            result.next_clearing_at = it->second.next_at;
          }
        } else if constexpr (std::is_same_v<Result, AlertThresholdsResult>) {
          // The thresholds as they stand now, like a clearing policy.
          result.thresholds = AlertThresholdsOf(memo.buyer_id);
        } else if constexpr (std::is_same_v<Result, ProductResult>) {
          // As a buyer's: the product as it stands now.
          result.product = *catalogue_.Find(memo.buyer_id);
          result.created = memo.order_id == 1;
        } else if constexpr (std::is_same_v<Result, BuyerResult>) {
          // As a key's, the buyer as it stands now (a later upsert may
          // have replaced it); whether the first answer created it is kept.
          result.buyer = *buyers_.Find(memo.buyer_id);
          result.created = memo.order_id == 1;
        } else if constexpr (std::is_same_v<Result, OfferResult>) {
          result.offer = MakeOfferView(memo.order_id, now_);
          result.offer.remaining_kg = memo.remaining_kg;
          result.offer.status = memo.status;
        } else if constexpr (std::is_same_v<Result, PledgeResult>) {
          result.pledge = MakePledgeView(memo.order_id, now_);
          result.pledge.remaining_kg = memo.remaining_kg;
          result.pledge.spent_fen = memo.spent_fen;
          result.pledge.status = memo.status;
        }
        if constexpr (std::is_same_v<Result, OfferResult> ||
                      std::is_same_v<Result, PledgeResult>) {
          result.matches = MatchRange(memo.first_match_id, memo.match_count);
          result.unfilled_kg = memo.unfilled_kg;
        }
        if constexpr (!std::is_same_v<Result, TickResult>) {
          result.replayed = true;
        }
        return result;
      },
      body);
}

// --- Alert feed (alert_feed.h)
// -----------------------------------------------------------

void Engine::Impl::FeedOfferIn(uint64_t id) {
  FeedProducts();
  Feed(AlertFeed::Op::kOfferIn, id, now_);
  alert_feed_->offers.push_back(offers_[id - 1]);
}

void Engine::Impl::FeedPledgeIn(uint64_t id) {
  FeedProducts();
  Feed(AlertFeed::Op::kPledgeIn, id, 0);
  alert_feed_->pledges.push_back(pledges_[id - 1]);
}

void Engine::Impl::Feed(AlertFeed::Op op, uint64_t id, int64_t value) {
  alert_feed_->entries.push_back({op, id, value});
}

void Engine::Impl::FeedProducts() {
  if (products_.size() == fed_products_) return;
  const uint64_t count = products_.size() - fed_products_;
  for (; fed_products_ < products_.size(); ++fed_products_) {
    alert_feed_->product_codes.emplace_back(
        products_.code(static_cast<uint32_t>(fed_products_)));
  }
  Feed(AlertFeed::Op::kProducts, count, 0);
}

// --- Alert thresholds
// -----------------------------------------------------------

absl::Status Engine::Impl::Check(const SetAlertThresholdsCommand& c,
                                 Micros) const {
  return AlertMonitor::CheckThresholds(c.thresholds);
}

AlertThresholdsResult Engine::Impl::Execute(
    const SetAlertThresholdsCommand& c) {
  if (alert_feed_ == nullptr) {
    alerts_.SetThresholds(c.thresholds, now_);
  } else {
    fed_thresholds_[c.thresholds.category] = c.thresholds;
    Feed(AlertFeed::Op::kThresholds, 0, now_);
    alert_feed_->thresholds.push_back(c.thresholds);
  }
  AlertThresholdsResult result;
  result.thresholds = AlertThresholdsOf(c.thresholds.category);
  return result;
}

// --- Product catalogue
// -----------------------------------------------------------

absl::Status Engine::Impl::Check(const UpsertProductCommand& c, Micros) const {
  return catalogue_.Check(c.product);
}

ProductResult Engine::Impl::Execute(const UpsertProductCommand& c) {
  const bool created = catalogue_.Put(c.product);
  return ProductResult{*catalogue_.Find(c.product.code), created, false};
}

// --- Reference data
// -----------------------------------------------------------

absl::Status Engine::Impl::Check(const UpsertRegionCommand& c, Micros) const {
  return reference_.CheckRegion(c.region);
}

RegionResult Engine::Impl::Execute(const UpsertRegionCommand& c) {
  if (reference_.PutRegion(c.region)) {
    int32_t code = 0;
    ParseRegionCode(c.region.code, &code);
    Rerank(code);
  }
  return RegionResult{c.region, false};
}

absl::Status Engine::Impl::Check(const UpsertPairingCommand& c, Micros) const {
  // A region cannot help itself: sides that are one region, or one within
  // the other, are a mistake. Journals written before this rule may hold
  // such a pairing, and replay must make what they made.
  return reference_.CheckPairing(c.pairing, /*sides_apart=*/!replaying_);
}

PairingResult Engine::Impl::Execute(const UpsertPairingCommand& c) {
  reference_.PutPairing(c.pairing);
  if (alert_feed_ != nullptr) {
    Feed(AlertFeed::Op::kPutPairing, 0, 0);
    alert_feed_->pairings.push_back(c.pairing);
  }
  return PairingResult{c.pairing, false};
}

absl::Status Engine::Impl::Check(const DeletePairingCommand& c, Micros) const {
  return reference_.CheckPairingExists(c.east_code, c.west_code);
}

PairingResult Engine::Impl::Execute(const DeletePairingCommand& c) {
  if (alert_feed_ != nullptr) {
    Feed(AlertFeed::Op::kRemovePairing, 0, 0);
    alert_feed_->pairings.push_back(Pairing{c.east_code, c.west_code, ""});
  }
  return PairingResult{reference_.RemovePairing(c.east_code, c.west_code),
                       false};
}

// --- Buyers
// -------------------------------------------------------------------

absl::Status Engine::Impl::Check(const UpsertBuyerCommand& c, Micros) const {
  return BuyerRegistry::Check(c.buyer, reference_);
}

BuyerResult Engine::Impl::Execute(const UpsertBuyerCommand& c) {
  const bool created = buyers_.Put(c.buyer);
  return BuyerResult{*buyers_.Find(c.buyer.buyer_id), created, false};
}

// --- Engine
// -------------------------------------------------------------------

Engine::Engine(const EngineOptions& options)
    : impl_(std::make_unique<Impl>(options)) {}
Engine::~Engine() = default;

absl::StatusOr<CommandResult> Engine::Apply(const Command& command) {
  return impl_->Apply(command);
}
absl::Status Engine::Validate(const Command& command, Micros now) const {
  return impl_->Validate(command, now);
}
bool Engine::TickMayReopen(Micros now) const {
  return impl_->TickMayReopen(now);
}
absl::StatusOr<CommandResult> Engine::Replay(const Command& command) {
  return impl_->Apply(command, /*journaled=*/true);
}
absl::StatusOr<CommandResult> Engine::TickAndApply(const Command& command) {
  if (command.now > impl_->now() &&
      !std::holds_alternative<TickCommand>(command.body)) {
    impl_->Apply(MakeCommand(TickCommand{}, command.now)).IgnoreError();
  }
  return impl_->Apply(command);
}
Micros Engine::now() const { return impl_->now(); }
void Engine::StartAlertFeed() { impl_->StartAlertFeed(); }
void Engine::TakeAlertFeed(AlertFeed* feed) { impl_->TakeAlertFeed(feed); }
void Engine::FollowAlerts(AlertFeed* feed) {
  impl_->mutable_alerts().Follow(feed);
}
Micros Engine::NextClearingAt() const { return impl_->NextClearingAt(); }
std::vector<AlertView> Engine::ListAlerts(const AlertFilter& filter) const {
  return impl_->alerts().ListAlerts(filter, /*candidates=*/true);
}
std::vector<AlertEventView> Engine::ListAlertEvents(const AlertFilter& filter,
                                                    uint64_t after_event_id,
                                                    int limit,
                                                    bool* more) const {
  return impl_->alerts().ListEvents(filter, after_event_id, limit, more);
}
uint64_t Engine::last_alert_event_id() const {
  return impl_->alerts().event_count();
}
std::vector<AlertThresholds> Engine::ListAlertThresholds() const {
  return impl_->ListAlertThresholds();
}
std::vector<ClearingPolicyResult> Engine::ClearingPolicies() const {
  return impl_->ClearingPolicies();
}

absl::StatusOr<OfferView> Engine::GetOffer(uint64_t id, Micros now) const {
  return impl_->GetOffer(id, now);
}
absl::StatusOr<PledgeView> Engine::GetPledge(uint64_t id, Micros now) const {
  return impl_->GetPledge(id, now);
}
std::vector<OfferView> Engine::ListOffers(const OrderFilter& filter,
                                          uint64_t after_id, int limit,
                                          Micros now, bool* more) const {
  return impl_->ListOffers(filter, after_id, limit, now, more);
}
std::vector<PledgeView> Engine::ListPledges(const OrderFilter& filter,
                                            uint64_t after_id, int limit,
                                            Micros now, bool* more) const {
  return impl_->ListPledges(filter, after_id, limit, now, more);
}
std::vector<MatchView> Engine::ListMatches(const MatchFilter& filter,
                                           uint64_t after_match_id, int limit,
                                           bool* more) const {
  return impl_->ListMatches(filter, after_match_id, limit, more);
}
uint64_t Engine::CountOffers(const OrderFilter& filter, Micros now) const {
  return impl_->CountOffers(filter, now);
}
uint64_t Engine::CountPledges(const OrderFilter& filter, Micros now) const {
  return impl_->CountPledges(filter, now);
}
uint64_t Engine::CountMatches(const MatchFilter& filter,
                              uint64_t after_match_id) const {
  return impl_->CountMatches(filter, after_match_id);
}
absl::StatusOr<StatsView> Engine::GetStats(const StatsQuery& query) const {
  return impl_->GetStats(query);
}
std::vector<MatchEventView> Engine::ListMatchEvents(const MatchFilter& filter,
                                                    uint64_t after_event_id,
                                                    int limit,
                                                    bool* more) const {
  return impl_->ListMatchEvents(filter, after_event_id, limit, more);
}
uint64_t Engine::NewMatchEventId(uint64_t match_id) const {
  return impl_->NewMatchEventId(match_id);
}
std::vector<BookLine> Engine::GetBook(std::string_view product_code_prefix,
                                      Micros now) const {
  bool more = false;
  return impl_->GetBook(product_code_prefix, "", 0, now, &more);
}
std::vector<BookLine> Engine::GetBook(std::string_view product_code_prefix,
                                      std::string_view after_code, int limit,
                                      Micros now, bool* more) const {
  return impl_->GetBook(product_code_prefix, after_code, limit, now, more);
}
std::vector<Region> Engine::ListRegions(std::string_view code_prefix,
                                        std::string_view after_code, int limit,
                                        bool* more,
                                        std::string_view name_contains,
                                        int64_t* total) const {
  return impl_->reference().ListRegions(code_prefix, after_code, limit, more,
                                        name_contains, total);
}
std::vector<Product> Engine::ListProducts(std::string_view code_prefix,
                                          std::string_view name_contains,
                                          std::string_view after_code,
                                          int limit, bool* more,
                                          int64_t* total) const {
  return impl_->catalogue().List(code_prefix, name_contains, after_code, limit,
                                 more, total);
}
std::optional<Product> Engine::FindProduct(std::string_view code) const {
  return impl_->catalogue().Find(code);
}
bool Engine::CatalogueOpen() const { return impl_->catalogue().open(); }
std::vector<Pairing> Engine::ListPairings(std::string_view code_prefix,
                                          std::string_view after_east,
                                          std::string_view after_west,
                                          int limit, bool* more,
                                          int64_t* total) const {
  return impl_->reference().ListPairings(code_prefix, after_east, after_west,
                                         limit, more, total);
}
std::vector<ApiKey> Engine::ListKeys(uint64_t after_key_id, int limit,
                                     bool* more, int64_t* total) const {
  if (total != nullptr) *total = static_cast<int64_t>(impl_->keys().size());
  return impl_->keys().List(after_key_id, limit, more);
}
absl::StatusOr<Buyer> Engine::GetBuyer(std::string_view buyer_id) const {
  const Buyer* b = impl_->buyers().Find(buyer_id);
  if (b == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "buyer_id: buyer ", EchoValue(buyer_id), " is not registered"));
  }
  return *b;
}
std::vector<Buyer> Engine::ListBuyers(const BuyerFilter& filter,
                                      std::string_view after_buyer_id,
                                      int limit, bool* more,
                                      int64_t* total) const {
  return impl_->buyers().List(filter, after_buyer_id, limit, more, total);
}
absl::StatusOr<BuyerProgress> Engine::GetBuyerProgress(
    std::string_view buyer_id, std::string_view alliance_id, int year) const {
  return impl_->GetBuyerProgress(buyer_id, alliance_id, year);
}
std::string Engine::SaveState() const { return impl_->SaveState(); }
absl::Status Engine::LoadState(std::string_view bytes) {
  return impl_->LoadState(bytes);
}
uint64_t Engine::StateHash() const { return HashState(impl_->SaveState()); }
uint64_t Engine::HashState(std::string_view state) {
  const auto* data = reinterpret_cast<const Bytef*>(state.data());
  const uLong crc = crc32(crc32(0L, Z_NULL, 0), data, state.size());
  const uLong adler = adler32(adler32(0L, Z_NULL, 0), data, state.size());
  return (uint64_t{crc} << 32) | (adler & 0xffffffffu);
}
absl::Status Engine::CheckInvariants() const {
  return impl_->CheckInvariants();
}
uint64_t Engine::last_match_id() const { return impl_->last_match_id(); }
uint64_t Engine::last_event_id() const { return impl_->last_event_id(); }
uint64_t Engine::offer_count() const { return impl_->offer_count(); }
uint64_t Engine::pledge_count() const { return impl_->pledge_count(); }

// --- Keys ---------------------------------------------------------------

absl::Status Engine::Impl::Check(const CreateKeyCommand& c, Micros now) const {
  return keys_.CheckCreate(c, now);
}

KeyResult Engine::Impl::Execute(const CreateKeyCommand& c) {
  return KeyResult{keys_.Create(c, now_), false};
}

absl::Status Engine::Impl::Check(const RevokeKeyCommand& c, Micros) const {
  return keys_.CheckRevoke(c.key_id);
}

KeyResult Engine::Impl::Execute(const RevokeKeyCommand& c) {
  return KeyResult{keys_.Revoke(c.key_id, now_), false};
}

}  // namespace duijie
