// Crash test: the real duijie-server binary, with a data directory, driven
// by concurrent gRPC clients (unary calls and Submit streams), killed with
// SIGKILL at random moments and restarted. After each restart:
//   - every acknowledged command is there exactly once, and retrying it with
//     its request_id returns the original answer, byte for byte;
//   - every unacknowledged command is wholly there or wholly absent (its
//     order exists at most once), and retrying it settles it;
//   - the books balance: for every order filled + remaining = quantity, the
//     sum of its matches is what was filled, and a pledge's spent_fen is
//     the sum of its match amounts.
// Ends with a graceful SIGTERM (exit 0) and checks that the state hash
// survives it and an idle kill.
//
// Usage: crash_test --server=PATH/duijie-server [gtest flags]
// DUIJIE_CRASH_KILLS=N sets the number of kills (default 20); its seed is
// printed and DUIJIE_CRASH_SEED=S replays one.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "duijie/v1/admin.grpc.pb.h"
#include "duijie/v1/exchange.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace duijie {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::duijie::v1;

std::string g_server_path;

// --- The server process
// -------------------------------------------------------

class ServerProcess {
 public:
  ServerProcess(std::string dir, std::string log)
      : dir_(std::move(dir)), log_(std::move(log)) {}
  ~ServerProcess() { Kill(); }

  // From the next start on, no batch clearing: an idle server then changes
  // nothing, so its state hash holds still.
  void ContinuousOnly() { continuous_only_ = true; }

  // Starts the server and, unless `wait` is false, waits until it listens.
  // Returns false (with the reason in *error) if it exits first.
  bool Start(bool wait, std::string* error) {
    int out[2];
    if (::pipe(out) != 0) return false;
    // Built before the fork: the child of a threaded process must not
    // allocate (a sanitizer's allocator may be locked by a vanished thread).
    const std::string data_dir = "--data_dir=" + dir_;
    // Every other start matches by batch clearing, every second: the
    // clearings the writer issues, and the policy changes at restarts,
    // are journaled and must come back like any command.
    clearing_ = !clearing_ && !continuous_only_;
    const std::string clearing =
        clearing_ ? "--clearing_interval=1s" : "--clearing_interval=0";
    // Glut alerts followed beside the writer in two starts of four, judged
    // by the writer in the others (so with clearing on and off alike): a
    // kill leaves what either acknowledged, and replay judges it again.
    const char* follow =
        starts_++ % 4 < 2 ? "--follow_alerts=true" : "--follow_alerts=false";
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      int log = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(log, 2);
      ::close(out[0]);
      ::close(out[1]);
      ::execl(g_server_path.c_str(), g_server_path.c_str(),
              "--listen=127.0.0.1:0", data_dir.c_str(), "--insecure_no_auth",
              "--snapshot_every=400", "--journal_segment_mb=1",
              clearing.c_str(), follow, static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(out[1]);
    out_ = ::fdopen(out[0], "r");
    if (!wait) return true;
    char line[256];
    while (std::fgets(line, sizeof line, out_) != nullptr) {
      std::string text(line);
      const std::string prefix = "duijie-server listening on ";
      if (absl::StartsWith(text, prefix)) {
        address_ = text.substr(prefix.size());
        while (!address_.empty() && address_.back() == '\n')
          address_.pop_back();
        return true;
      }
    }
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    *error = absl::StrCat("the server exited before listening (status ", status,
                          "); its log ", log_, ":\n", Tail());
    return false;
  }

  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    Close();
  }

  // SIGTERM and wait; returns the exit status (or -1 if signalled).
  int Terminate() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    Close();
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  const std::string& address() const { return address_; }

  std::string Tail() const {
    std::FILE* f = std::fopen(log_.c_str(), "r");
    if (f == nullptr) return "";
    std::string all;
    char buffer[4096];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) {
      all.append(buffer, n);
    }
    std::fclose(f);
    return all.size() > 3000 ? all.substr(all.size() - 3000) : all;
  }

 private:
  void Close() {
    if (out_ != nullptr) std::fclose(out_);
    out_ = nullptr;
  }

  const std::string dir_;
  const std::string log_;
  pid_t pid_ = -1;
  bool clearing_ = true;  // flipped at each start: the first is continuous
  int starts_ = 0;
  bool continuous_only_ = false;
  std::FILE* out_ = nullptr;
  std::string address_;
};

// --- The ledger of commands -----------------------------------------------

enum Kind {
  kOffer,
  kPledge,
  kCancelOffer,
  kCancelPledge,
  kShip,
  kAccept,
  kDecline
};

struct Entry {
  std::string rid;
  Kind kind;
  bool via_submit = false;
  v1::Command command;  // with its request_id
  bool acked = false;
  bool checked = false;   // retried once since it was acknowledged
  std::string answer;     // serialized response (unary) or CommandResult
  uint64_t order_id = 0;  // posts: the id answered
  int64_t quantity_kg = 0;
};

class Ledger {
 public:
  size_t Add(Entry entry) {
    std::lock_guard<std::mutex> lock(mu_);
    entries_.push_back(std::move(entry));
    return entries_.size() - 1;
  }
  void Ack(size_t i, std::string answer, uint64_t order_id) {
    std::lock_guard<std::mutex> lock(mu_);
    entries_[i].acked = true;
    entries_[i].answer = std::move(answer);
    entries_[i].order_id = order_id;
  }
  // Acknowledged order ids of `kind` (for cancels).
  uint64_t RandomAcked(Kind kind, std::mt19937_64& rng) {
    std::lock_guard<std::mutex> lock(mu_);
    if (entries_.empty()) return 0;
    for (int tries = 0; tries < 8; ++tries) {
      const Entry& e = entries_[rng() % entries_.size()];
      if (e.kind == kind && e.acked && e.order_id != 0) return e.order_id;
    }
    return 0;
  }
  std::vector<Entry>& entries() { return entries_; }  // between rounds only

  // Match ids answered so far, for the match commands to aim at.
  void SawMatches(const google::protobuf::RepeatedPtrField<v1::Match>& m) {
    for (const v1::Match& match : m) {
      uint64_t seen = last_match_.load();
      while (match.match_id() > seen &&
             !last_match_.compare_exchange_weak(seen, match.match_id())) {
      }
    }
  }
  uint64_t RandomMatch(std::mt19937_64& rng) const {
    return 1 + rng() % std::max<uint64_t>(1, last_match_.load());
  }

 private:
  std::mutex mu_;
  std::vector<Entry> entries_;
  std::atomic<uint64_t> last_match_{0};
};

const char* kWest[] = {"621202", "620826", "621200"};
const char* kEast[] = {"370200", "120000", "370000"};
const char* kProducts[] = {"vegetable.cabbage", "vegetable.potato",
                           "fruit.apple"};

v1::Command RandomCommand(const std::string& rid, Kind kind, Ledger& ledger,
                          std::mt19937_64& rng, int64_t* quantity) {
  v1::Command c;
  const int64_t expires = 4102444800;  // 2100-01-01
  switch (kind) {
    case kOffer: {
      v1::PostOfferRequest* r = c.mutable_post_offer();
      r->set_request_id(rid);
      v1::Offer* o = r->mutable_offer();
      o->set_supplier_id(rid);
      o->set_region_code(kWest[rng() % 3]);
      o->set_product_code(kProducts[rng() % 3]);
      o->set_grade(static_cast<v1::Grade>(1 + rng() % 3));
      o->set_quantity_kg(100 + rng() % 900);
      o->set_floor_price_fen_per_kg(100 + rng() % 200);
      o->set_min_lot_kg(rng() % 50);
      o->mutable_expires_at()->set_seconds(expires);
      o->set_certified(rng() % 2);
      *quantity = o->quantity_kg();
      break;
    }
    case kPledge: {
      v1::PostPledgeRequest* r = c.mutable_post_pledge();
      r->set_request_id(rid);
      v1::Pledge* p = r->mutable_pledge();
      p->set_buyer_id(rid);
      p->set_buyer_city_code(kEast[rng() % 3]);
      p->set_buyer_kind(static_cast<v1::BuyerKind>(1 + rng() % 11));
      p->set_product_code(rng() % 3 == 0 ? "vegetable" : kProducts[rng() % 3]);
      p->set_min_grade(static_cast<v1::Grade>(1 + rng() % 3));
      p->set_quantity_kg(100 + rng() % 900);
      p->set_max_price_fen_per_kg(100 + rng() % 250);
      if (rng() % 4 == 0) p->set_budget_fen(20000 + rng() % 50000);
      p->mutable_expires_at()->set_seconds(expires);
      *quantity = p->quantity_kg();
      break;
    }
    case kCancelOffer: {
      v1::CancelOfferRequest* r = c.mutable_cancel_offer();
      r->set_request_id(rid);
      r->set_id(ledger.RandomAcked(kOffer, rng) + (rng() % 10 == 0));
      break;
    }
    case kCancelPledge: {
      v1::CancelPledgeRequest* r = c.mutable_cancel_pledge();
      r->set_request_id(rid);
      r->set_id(ledger.RandomAcked(kPledge, rng));
      break;
    }
    // The match commands aim at matches made so far; many are refused (not
    // in the right status), which is an answer too. Short shipments and
    // acceptances and declines give kg back to pledges, which match again.
    case kShip: {
      v1::ShipMatchRequest* r = c.mutable_ship_match();
      r->set_request_id(rid);
      r->set_match_id(ledger.RandomMatch(rng));
      if (rng() % 3 == 0) r->set_shipped_kg(1 + rng() % 100);
      break;
    }
    case kAccept: {
      v1::AcceptMatchRequest* r = c.mutable_accept_match();
      r->set_request_id(rid);
      r->set_match_id(ledger.RandomMatch(rng));
      if (rng() % 3 == 0) r->set_accepted_kg(1 + rng() % 100);
      break;
    }
    case kDecline: {
      v1::DeclineMatchRequest* r = c.mutable_decline_match();
      r->set_request_id(rid);
      r->set_match_id(ledger.RandomMatch(rng));
      r->set_reason("spoiled");
      break;
    }
  }
  return c;
}

Kind RandomKind(std::mt19937_64& rng) {
  const int d = rng() % 25;
  return d < 9     ? kOffer
         : d < 18  ? kPledge
         : d == 18 ? kCancelOffer
         : d == 19 ? kCancelPledge
         : d < 22  ? kShip
         : d < 24  ? kAccept
                   : kDecline;
}

// One unary call for `c`. Returns the status; on OK *answer is the
// serialized response and *order_id the order's id. The matches answered go
// to `ledger` when given.
grpc::Status CallUnary(v1::Exchange::Stub* stub, const v1::Command& c,
                       std::string* answer, uint64_t* order_id,
                       Ledger* ledger = nullptr) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  grpc::Status status;
  if (c.has_post_offer()) {
    v1::PostOfferResponse r;
    status = stub->PostOffer(&context, c.post_offer(), &r);
    *order_id = r.offer().offer_id();
    if (ledger != nullptr) ledger->SawMatches(r.matches());
    r.SerializeToString(answer);
  } else if (c.has_post_pledge()) {
    v1::PostPledgeResponse r;
    status = stub->PostPledge(&context, c.post_pledge(), &r);
    *order_id = r.pledge().pledge_id();
    if (ledger != nullptr) ledger->SawMatches(r.matches());
    r.SerializeToString(answer);
  } else if (c.has_ship_match() || c.has_accept_match() ||
             c.has_decline_match()) {
    v1::MatchUpdateResponse r;
    if (c.has_ship_match()) {
      status = stub->ShipMatch(&context, c.ship_match(), &r);
    } else if (c.has_accept_match()) {
      status = stub->AcceptMatch(&context, c.accept_match(), &r);
    } else {
      status = stub->DeclineMatch(&context, c.decline_match(), &r);
    }
    if (ledger != nullptr) ledger->SawMatches(r.matches());
    r.SerializeToString(answer);
  } else if (c.has_cancel_offer()) {
    v1::CancelOfferResponse r;
    status = stub->CancelOffer(&context, c.cancel_offer(), &r);
    r.SerializeToString(answer);
  } else {
    v1::CancelPledgeResponse r;
    status = stub->CancelPledge(&context, c.cancel_pledge(), &r);
    r.SerializeToString(answer);
  }
  // An error answer (NOT_FOUND for an unknown id, FAILED_PRECONDITION)
  // is an answer too: record it as such.
  if (!status.ok() && status.error_code() != grpc::UNAVAILABLE &&
      status.error_code() != grpc::DEADLINE_EXCEEDED &&
      status.error_code() != grpc::CANCELLED &&
      status.error_code() != grpc::INTERNAL &&
      status.error_code() != grpc::UNKNOWN) {
    *answer = absl::StrCat("error ", status.error_code(), " ",
                           status.error_message());
    *order_id = 0;
    return grpc::Status::OK;
  }
  return status;
}

// An answer without what may change after it: the lifecycle of every match
// in it (a repeat shows matches as they stand now, and a later command may
// have shipped, accepted or declined them), and a resting pledge's
// explanation (read from the book as it stands when the answer is sent).
// The rest must repeat exactly.
void ClearLifecycle(google::protobuf::Message* message) {
  if (auto* posted = dynamic_cast<v1::PostPledgeResponse*>(message)) {
    posted->clear_explanation();
  }
  if (auto* match = dynamic_cast<v1::Match*>(message)) {
    v1::Match kept;
    kept.set_match_id(match->match_id());
    kept.set_offer_id(match->offer_id());
    kept.set_pledge_id(match->pledge_id());
    kept.set_quantity_kg(match->quantity_kg());
    kept.set_price_fen_per_kg(match->price_fen_per_kg());
    kept.set_amount_fen(match->amount_fen());
    *kept.mutable_matched_at() = match->matched_at();
    *match = kept;
    return;
  }
  const google::protobuf::Reflection* r = message->GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(*message, &fields);
  for (const google::protobuf::FieldDescriptor* f : fields) {
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      continue;
    }
    if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(*message, f); ++i) {
        ClearLifecycle(r->MutableRepeatedMessage(message, f, i));
      }
    } else {
      ClearLifecycle(r->MutableMessage(message, f));
    }
  }
}

// `answer` (of entry `e`'s command) with ClearLifecycle applied.
std::string Settled(const Entry& e, const std::string& answer) {
  std::unique_ptr<google::protobuf::Message> message;
  const v1::Command& c = e.command;
  if (e.via_submit) {
    message = std::make_unique<v1::CommandResult>();
  } else if (c.has_post_offer()) {
    message = std::make_unique<v1::PostOfferResponse>();
  } else if (c.has_post_pledge()) {
    message = std::make_unique<v1::PostPledgeResponse>();
  } else if (c.has_ship_match() || c.has_accept_match() ||
             c.has_decline_match()) {
    message = std::make_unique<v1::MatchUpdateResponse>();
  } else {
    return answer;  // cancels show no matches
  }
  if (!message->ParseFromString(answer)) return answer;
  ClearLifecycle(message.get());
  return message->SerializeAsString();
}

// Whether the first answer was an error. The engine remembers request_ids
// of successful commands only, so a retry of a rejected one may answer
// differently (a cancel of an id that exists by now).
bool ErrorAnswer(const Entry& e) {
  if (!e.via_submit) return absl::StartsWith(e.answer, "error ");
  v1::CommandResult r;
  return r.ParseFromString(e.answer) && r.has_error();
}

uint64_t ResultOrderId(const v1::CommandResult& r) {
  if (r.has_post_offer()) return r.post_offer().offer().offer_id();
  if (r.has_post_pledge()) return r.post_pledge().pledge().pledge_id();
  return 0;
}

// --- Load -------------------------------------------------------------------

void UnaryClient(const std::string& address, int id, int round,
                 std::atomic<bool>* stop, Ledger* ledger, uint64_t seed) {
  auto stub = v1::Exchange::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  std::mt19937_64 rng(seed);
  for (int n = 0; !stop->load(); ++n) {
    Entry e;
    e.rid = absl::StrCat("k", round, "-u", id, "-", n);
    e.kind = RandomKind(rng);
    e.command = RandomCommand(e.rid, e.kind, *ledger, rng, &e.quantity_kg);
    const v1::Command command = e.command;
    const size_t i = ledger->Add(std::move(e));
    std::string answer;
    uint64_t order_id = 0;
    if (!CallUnary(stub.get(), command, &answer, &order_id, ledger).ok()) {
      return;
    }
    ledger->Ack(i, std::move(answer), order_id);
  }
}

void SubmitClient(const std::string& address, int id, int round,
                  std::atomic<bool>* stop, Ledger* ledger, uint64_t seed) {
  auto stub = v1::Exchange::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  std::mt19937_64 rng(seed);
  grpc::ClientContext context;
  auto stream = stub->Submit(&context);
  for (int b = 0; !stop->load(); ++b) {
    v1::SubmitRequest request;
    request.set_batch_id(absl::StrCat(b));
    std::vector<size_t> indexes;
    const int n = 1 + rng() % 20;
    for (int k = 0; k < n; ++k) {
      Entry e;
      e.rid = absl::StrCat("k", round, "-s", id, "-", b, "-", k);
      e.kind = RandomKind(rng);
      e.via_submit = true;
      e.command = RandomCommand(e.rid, e.kind, *ledger, rng, &e.quantity_kg);
      *request.add_commands() = e.command;
      indexes.push_back(ledger->Add(std::move(e)));
    }
    v1::SubmitResponse response;
    if (!stream->Write(request) || !stream->Read(&response)) break;
    if (response.results_size() != n) break;
    for (int k = 0; k < n; ++k) {
      const v1::CommandResult& result = response.results(k);
      if (result.has_post_offer()) {
        ledger->SawMatches(result.post_offer().matches());
      } else if (result.has_post_pledge()) {
        ledger->SawMatches(result.post_pledge().matches());
      }
      ledger->Ack(indexes[k], result.SerializeAsString(),
                  ResultOrderId(result));
    }
  }
  stream->WritesDone();
  context.TryCancel();
  stream->Finish().IgnoreError();
}

// --- Checks -----------------------------------------------------------------

template <typename Response, typename Request, typename Call>
void ListAll(Request request, Call call, std::vector<Response>* pages) {
  request.set_page_size(1000);
  while (true) {
    Response response;
    grpc::ClientContext context;
    grpc::Status status = call(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    const std::string next = response.next_page_token();
    pages->push_back(std::move(response));
    if (next.empty()) break;
    request.set_page_token(next);
  }
}

uint64_t StateHash(const std::string& address) {
  auto admin = v1::Admin::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::GetStateHashResponse response;
  grpc::Status status =
      admin->GetStateHash(&context, v1::GetStateHashRequest(), &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.state_hash();
}

// Checks the books and that every post is there at most once (exactly once
// when acknowledged), then retries the unacknowledged commands (settling
// them), the newly acknowledged ones and a sample of older ones.
void Verify(const std::string& address, Ledger& ledger, std::mt19937_64& rng) {
  auto stub = v1::Exchange::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));

  // The orders as they are now, by owner (= the posting request_id). A
  // server clearing in batches may trade between two list calls on its
  // own: the reads count as one state when no match was made while they
  // ran (the match count is the same before and after).
  std::vector<v1::ListOffersResponse> offer_pages;
  std::vector<v1::ListPledgesResponse> pledge_pages;
  std::vector<v1::ListMatchesResponse> match_pages;
  auto list_matches = [&](std::vector<v1::ListMatchesResponse>* pages) {
    ListAll<v1::ListMatchesResponse>(
        v1::ListMatchesRequest(),
        [&](grpc::ClientContext* c, const v1::ListMatchesRequest& r,
            v1::ListMatchesResponse* out) {
          return stub->ListMatches(c, r, out);
        },
        pages);
    size_t n = 0;
    for (const auto& page : *pages) n += page.matches_size();
    return n;
  };
  for (int attempt = 0; attempt < 20; ++attempt) {
    offer_pages.clear();
    pledge_pages.clear();
    match_pages.clear();
    std::vector<v1::ListMatchesResponse> first;
    const size_t before = list_matches(&first);
    ListAll<v1::ListOffersResponse>(
        v1::ListOffersRequest(),
        [&](grpc::ClientContext* c, const v1::ListOffersRequest& r,
            v1::ListOffersResponse* out) {
          return stub->ListOffers(c, r, out);
        },
        &offer_pages);
    ListAll<v1::ListPledgesResponse>(
        v1::ListPledgesRequest(),
        [&](grpc::ClientContext* c, const v1::ListPledgesRequest& r,
            v1::ListPledgesResponse* out) {
          return stub->ListPledges(c, r, out);
        },
        &pledge_pages);
    const size_t listed = list_matches(&match_pages);
    if (listed == before) break;
  }
  std::map<std::string, std::vector<uint64_t>> by_owner;
  std::map<uint64_t, const v1::Offer*> offers;
  std::map<uint64_t, const v1::Pledge*> pledges;
  for (const auto& page : offer_pages) {
    for (const v1::Offer& o : page.offers()) {
      by_owner[o.supplier_id()].push_back(o.offer_id());
      offers[o.offer_id()] = &o;
    }
  }
  for (const auto& page : pledge_pages) {
    for (const v1::Pledge& p : page.pledges()) {
      by_owner[p.buyer_id()].push_back(p.pledge_id());
      pledges[p.pledge_id()] = &p;
    }
  }

  // Books balance.
  std::map<uint64_t, int64_t> offer_filled, pledge_filled, pledge_spent;
  uint64_t last_match = 0;
  for (const auto& page : match_pages) {
    for (const v1::Match& m : page.matches()) {
      EXPECT_GT(m.match_id(), last_match);
      last_match = m.match_id();
      EXPECT_EQ(m.amount_fen(), m.quantity_kg() * m.price_fen_per_kg());
      ASSERT_TRUE(offers.count(m.offer_id())) << "match " << m.match_id();
      ASSERT_TRUE(pledges.count(m.pledge_id())) << "match " << m.match_id();
      // The offer keeps every kg it sold; the pledge those not given back.
      const int64_t kept = m.quantity_kg() - m.returned_kg();
      offer_filled[m.offer_id()] += m.quantity_kg();
      pledge_filled[m.pledge_id()] += kept;
      pledge_spent[m.pledge_id()] += kept * m.price_fen_per_kg();
    }
  }
  for (const auto& [id, o] : offers) {
    EXPECT_EQ(o->quantity_kg() - o->remaining_kg(), offer_filled[id])
        << "offer " << id;
  }
  for (const auto& [id, p] : pledges) {
    EXPECT_EQ(p->quantity_kg() - p->remaining_kg(), pledge_filled[id])
        << "pledge " << id;
    EXPECT_EQ(p->spent_fen(), pledge_spent[id]) << "pledge " << id;
  }

  // Every post: at most once; acknowledged ones exactly once, with the id
  // they were answered.
  for (Entry& e : ledger.entries()) {
    if (e.kind != kOffer && e.kind != kPledge) continue;
    auto it = by_owner.find(e.rid);
    const size_t count = it == by_owner.end() ? 0 : it->second.size();
    ASSERT_LE(count, 1u) << e.rid << " applied twice";
    if (e.acked && e.order_id != 0) {
      ASSERT_EQ(count, 1u) << e.rid << " was acknowledged and is gone";
      EXPECT_EQ(it->second[0], e.order_id) << e.rid;
    }
  }

  // Retry: the unacknowledged (settling them), the newly acknowledged, and
  // a sample of older ones. An acknowledged retry must answer exactly as
  // the first time.
  std::vector<Entry*> retry_submit;
  std::vector<Entry*> retry_unary;
  for (Entry& e : ledger.entries()) {
    if (e.acked && e.checked && rng() % 50 != 0) continue;
    (e.via_submit ? retry_submit : retry_unary).push_back(&e);
  }
  for (Entry* e : retry_unary) {
    std::string answer;
    uint64_t order_id = 0;
    grpc::Status status = CallUnary(stub.get(), e->command, &answer, &order_id);
    ASSERT_TRUE(status.ok()) << e->rid << ": " << status.error_message();
    if (e->acked && !ErrorAnswer(*e)) {
      ASSERT_EQ(Settled(*e, answer), Settled(*e, e->answer))
          << e->rid << ": the retry's answer differs";
    } else if (!e->acked) {
      e->acked = true;
      e->answer = answer;
      e->order_id = order_id;
    }
    e->checked = true;
  }
  grpc::ClientContext context;
  auto stream = stub->Submit(&context);
  for (size_t start = 0; start < retry_submit.size(); start += 500) {
    v1::SubmitRequest request;
    const size_t end = std::min(retry_submit.size(), start + 500);
    for (size_t k = start; k < end; ++k) {
      *request.add_commands() = retry_submit[k]->command;
    }
    v1::SubmitResponse response;
    ASSERT_TRUE(stream->Write(request));
    ASSERT_TRUE(stream->Read(&response));
    ASSERT_EQ(response.results_size(), static_cast<int>(end - start));
    for (size_t k = start; k < end; ++k) {
      Entry* e = retry_submit[k];
      const std::string answer =
          response.results(k - start).SerializeAsString();
      if (e->acked && !ErrorAnswer(*e)) {
        ASSERT_EQ(Settled(*e, answer), Settled(*e, e->answer))
            << e->rid << ": the retry's answer differs";
      } else if (!e->acked) {
        e->acked = true;
        e->answer = answer;
        e->order_id = ResultOrderId(response.results(k - start));
      }
      e->checked = true;
    }
  }
  stream->WritesDone();
  ASSERT_TRUE(stream->Finish().ok());
}

TEST(CrashTest, KilledServerLosesNothingAcknowledged) {
  ASSERT_FALSE(g_server_path.empty()) << "pass --server=PATH/duijie-server";
  int kills = 20;
  if (const char* env = std::getenv("DUIJIE_CRASH_KILLS"))
    kills = std::atoi(env);
  uint64_t seed = std::random_device()();
  if (const char* env = std::getenv("DUIJIE_CRASH_SEED"))
    seed = std::atoll(env);
  std::printf(
      "crash test: %d kills, seed %llu (DUIJIE_CRASH_SEED=%llu "
      "replays the schedule)\n",
      kills, static_cast<unsigned long long>(seed),
      static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);

  std::string tmpl = fs::temp_directory_path() / "duijie-crash-XXXXXX";
  const std::string root = ::mkdtemp(tmpl.data());
  const std::string dir = root + "/data";
  ServerProcess server(dir, root + "/server.log");
  std::string error;
  ASSERT_TRUE(server.Start(true, &error)) << error;

  // Reference data, acknowledged before any load.
  {
    auto stub = v1::Exchange::NewStub(grpc::CreateChannel(
        server.address(), grpc::InsecureChannelCredentials()));
    for (const char* code : {"620000", "621200", "621202", "620800", "620826",
                             "370000", "370200", "120000"}) {
      v1::UpsertRegionRequest r;
      r.set_request_id(absl::StrCat("region-", code));
      r.mutable_region()->set_code(code);
      r.mutable_region()->set_name(code);
      r.mutable_region()->set_key_assisted(code[5] == '6');
      grpc::ClientContext context;
      v1::Region out;
      ASSERT_TRUE(stub->UpsertRegion(&context, r, &out).ok());
    }
    v1::UpsertPairingRequest p;
    p.set_request_id("pairing-qd");
    p.mutable_pairing()->set_east_code("370200");
    p.mutable_pairing()->set_west_code("621200");
    grpc::ClientContext context;
    v1::Pairing out;
    ASSERT_TRUE(stub->UpsertPairing(&context, p, &out).ok());
  }

  Ledger ledger;
  size_t acked_total = 0;
  for (int round = 0; round < kills; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round, ", seed ", seed));
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c) {
      clients.emplace_back(UnaryClient, server.address(), c, round, &stop,
                           &ledger, rng());
    }
    for (int c = 0; c < 2; ++c) {
      clients.emplace_back(SubmitClient, server.address(), c, round, &stop,
                           &ledger, rng());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 400));
    server.Kill();
    stop = true;
    for (std::thread& t : clients) t.join();

    // Sometimes kill it again while it recovers.
    if (rng() % 4 == 0) {
      ASSERT_TRUE(server.Start(false, &error));
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 30));
      server.Kill();
    }
    ASSERT_TRUE(server.Start(true, &error)) << error;
    Verify(server.address(), ledger, rng);
    if (HasFatalFailure()) {
      std::printf("server log:\n%s\n", server.Tail().c_str());
      return;
    }
    size_t acked = 0;
    for (const Entry& e : ledger.entries()) acked += e.acked;
    acked_total = acked;
  }
  std::printf(
      "crash test: %zu commands, all settled and checked, over %d "
      "kills\n",
      acked_total, kills);

  // A graceful stop keeps the hash; so does a kill of an idle server
  // (matching continuously: batch clearings would move the clock).
  server.ContinuousOnly();
  EXPECT_EQ(server.Terminate(), 0) << server.Tail();
  ASSERT_TRUE(server.Start(true, &error)) << error;
  const uint64_t hash = StateHash(server.address());
  EXPECT_EQ(server.Terminate(), 0) << server.Tail();
  ASSERT_TRUE(server.Start(true, &error)) << error;
  EXPECT_EQ(StateHash(server.address()), hash);
  server.Kill();
  ASSERT_TRUE(server.Start(true, &error)) << error;
  EXPECT_EQ(StateHash(server.address()), hash);
  EXPECT_EQ(server.Terminate(), 0);
  std::error_code ec;
  if (!HasFailure()) fs::remove_all(root, ec);
}

}  // namespace
}  // namespace duijie

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (absl::StartsWith(arg, "--server=")) {
      duijie::g_server_path = arg.substr(9);
    }
  }
  if (const char* env = std::getenv("DUIJIE_SERVER_BIN");
      env != nullptr && duijie::g_server_path.empty()) {
    duijie::g_server_path = env;
  }
  return RUN_ALL_TESTS();
}
