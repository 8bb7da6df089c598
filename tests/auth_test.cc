// Authentication, authorisation and per-key limits through a real gRPC
// channel: every role against every RPC, parties kept apart, Submit with a
// forbidden command inside, revoked and expired keys (an open WatchMatches
// stream included), and the limits under a flood from one key.
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/server.h"
#include "duijie/v1/admin.grpc.pb.h"
#include "duijie/v1/exchange.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace duijie {
namespace {

// 2024-11-20T00:00:00Z, the start of the Henan cabbage glut.
constexpr int64_t kStartSeconds = 1732060800;
constexpr char kAdminSecret[] = "dj_test-admin-secret";

// Unlimited rate unless a test says otherwise.
AuthOptions Limits(uint64_t max_open_orders = 100000, double rate_per_key = 0,
                   double burst_per_key = 0, int max_streams_per_key = 16) {
  AuthOptions options;
  options.max_open_orders = max_open_orders;
  options.rate_per_key = rate_per_key;
  options.burst_per_key = burst_per_key;
  options.max_streams_per_key = max_streams_per_key;
  return options;
}

class AuthTest : public ::testing::Test {
 public:  // the role table's calls use the stubs and helpers
  void SetUp() override { Start(Limits()); }
  void TearDown() override {
    if (server_) server_->Shutdown(absl::Seconds(2));
  }

  // (Re)starts the server with `auth` (the admin secret and clock added)
  // and loads regions, a pairing and the keys of the role table.
  void Start(AuthOptions auth) {
    if (server_) server_->Shutdown(absl::Seconds(2));
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.clock = [this] { return absl::FromUnixMicros(now_micros_.load()); };
    auth.admin_secret = kAdminSecret;
    options.auth = auth;
    absl::StatusOr<std::unique_ptr<DuijieServer>> server =
        DuijieServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    auto channel = grpc::CreateChannel(server_->address(),
                                       grpc::InsecureChannelCredentials());
    exchange_ = v1::Exchange::NewStub(channel);
    admin_ = v1::Admin::NewStub(channel);
    for (const auto& [code, key] :
         std::vector<std::pair<std::string, bool>>{{"370000", false},
                                                   {"370200", false},
                                                   {"620000", false},
                                                   {"621200", false},
                                                   {"621202", true}}) {
      v1::UpsertRegionRequest request;
      request.mutable_region()->set_code(code);
      request.mutable_region()->set_name(code);
      request.mutable_region()->set_key_assisted(key);
      v1::Region response;
      ASSERT_TRUE(
          exchange_->UpsertRegion(Ctx(kAdminSecret).get(), request, &response)
              .ok());
    }
    v1::UpsertPairingRequest pairing;
    pairing.mutable_pairing()->set_east_code("370200");
    pairing.mutable_pairing()->set_west_code("621200");
    v1::Pairing pairing_response;
    ASSERT_TRUE(
        exchange_
            ->UpsertPairing(Ctx(kAdminSecret).get(), pairing, &pairing_response)
            .ok());
    secrets_.clear();
    secrets_["admin"] = kAdminSecret;
    secrets_["platform"] = MakeKey("platform", v1::ROLE_PLATFORM,
                                   {"wudu-pepper-coop"}, {"qingdao-office"});
    secrets_["supplier"] =
        MakeKey("supplier", v1::ROLE_SUPPLIER, {"wudu-pepper-coop"}, {});
    secrets_["other_supplier"] =
        MakeKey("other supplier", v1::ROLE_SUPPLIER, {"lankao-coop"}, {});
    secrets_["buyer"] =
        MakeKey("buyer", v1::ROLE_BUYER, {}, {"qingdao-office"});
    secrets_["other_buyer"] =
        MakeKey("other buyer", v1::ROLE_BUYER, {}, {"guangzhou-school"});
    secrets_["observer"] = MakeKey("observer", v1::ROLE_OBSERVER, {}, {});
    secrets_["none"] = "";
    secrets_["unknown"] = "dj_no-such-key";
  }

  // A client context sending `secret` (none when empty).
  static std::unique_ptr<grpc::ClientContext> Ctx(const std::string& secret) {
    auto context = std::make_unique<grpc::ClientContext>();
    if (!secret.empty()) {
      context->AddMetadata("authorization", "Bearer " + secret);
    }
    context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    return context;
  }

  std::string MakeKey(const std::string& name, v1::Role role,
                      std::vector<std::string> suppliers,
                      std::vector<std::string> buyers,
                      const google::protobuf::Timestamp* expires = nullptr,
                      uint64_t* key_id = nullptr) {
    v1::CreateKeyRequest request;
    request.mutable_principal()->set_name(name);
    request.mutable_principal()->set_role(role);
    for (const auto& s : suppliers)
      request.mutable_principal()->add_supplier_ids(s);
    for (const auto& b : buyers) request.mutable_principal()->add_buyer_ids(b);
    if (expires != nullptr) *request.mutable_expires_at() = *expires;
    v1::CreateKeyResponse response;
    grpc::Status status =
        admin_->CreateKey(Ctx(kAdminSecret).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (key_id != nullptr) *key_id = response.key_id();
    return response.secret();
  }

  static google::protobuf::Timestamp InDays(int days) {
    google::protobuf::Timestamp ts;
    ts.set_seconds(kStartSeconds + int64_t{86400} * days);
    return ts;
  }

  static v1::PostOfferRequest Offer(const std::string& supplier, int64_t kg) {
    v1::PostOfferRequest request;
    v1::Offer* offer = request.mutable_offer();
    offer->set_supplier_id(supplier);
    offer->set_region_code("621202");
    offer->set_product_code("spice.sichuan_pepper");
    offer->set_grade(v1::GRADE_PREMIUM);
    offer->set_quantity_kg(kg);
    offer->set_floor_price_fen_per_kg(6800);
    *offer->mutable_expires_at() = InDays(30);
    return request;
  }

  static v1::PostPledgeRequest Pledge(const std::string& buyer, int64_t kg,
                                      int64_t max_fen = 7000) {
    v1::PostPledgeRequest request;
    v1::Pledge* pledge = request.mutable_pledge();
    pledge->set_buyer_id(buyer);
    pledge->set_buyer_city_code("370200");
    pledge->set_buyer_kind(v1::GOVERNMENT_UNIT);
    pledge->set_product_code("spice");
    pledge->set_quantity_kg(kg);
    pledge->set_max_price_fen_per_kg(max_fen);
    *pledge->mutable_expires_at() = InDays(10);
    return request;
  }

  uint64_t PostOfferAsAdmin(const std::string& supplier, int64_t kg) {
    v1::PostOfferResponse response;
    EXPECT_TRUE(
        exchange_
            ->PostOffer(Ctx(kAdminSecret).get(), Offer(supplier, kg), &response)
            .ok());
    return response.offer().offer_id();
  }
  // wudu-pepper-coop offers 50 kg and qingdao-office takes 20 of them, as
  // ADMIN; the number of matches the pledge made.
  int MatchTwentyKgOfPepper() {
    PostOfferAsAdmin("wudu-pepper-coop", 50);
    v1::PostPledgeResponse matched;
    EXPECT_TRUE(exchange_
                    ->PostPledge(Ctx(kAdminSecret).get(),
                                 Pledge("qingdao-office", 20, 7000), &matched)
                    .ok());
    return matched.matches_size();
  }
  uint64_t PostPledgeAsAdmin(const std::string& buyer, int64_t kg,
                             int64_t max_fen = 100) {
    v1::PostPledgeResponse response;
    EXPECT_TRUE(exchange_
                    ->PostPledge(Ctx(kAdminSecret).get(),
                                 Pledge(buyer, kg, max_fen), &response)
                    .ok());
    return response.pledge().pledge_id();
  }

  std::atomic<int64_t> now_micros_{kStartSeconds * 1000000};
  std::unique_ptr<DuijieServer> server_;
  std::unique_ptr<v1::Exchange::Stub> exchange_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::map<std::string, std::string> secrets_;
};

using grpc::StatusCode;
constexpr StatusCode OK = StatusCode::OK;
constexpr StatusCode DENIED = StatusCode::PERMISSION_DENIED;
constexpr StatusCode UNAUTH = StatusCode::UNAUTHENTICATED;
constexpr StatusCode NOT_FOUND = StatusCode::NOT_FOUND;
constexpr StatusCode PRECONDITION = StatusCode::FAILED_PRECONDITION;

// One RPC as the table calls it: `secret` is the caller's key.
using Rpc = std::function<grpc::Status(AuthTest*, const std::string& secret)>;

TEST_F(AuthTest, EachRoleAgainstEachRpc) {
  // Expected codes for: admin, platform, supplier, buyer, observer, no key,
  // an unknown key. The platform acts for wudu-pepper-coop and
  // qingdao-office, the supplier for wudu-pepper-coop, the buyer for
  // qingdao-office; the orders named below belong to those parties.
  const std::vector<std::string> roles = {
      "admin", "platform", "supplier", "buyer", "observer", "none", "unknown"};
  struct Row {
    std::string rpc;
    std::vector<StatusCode> want;  // by roles' order
    Rpc call;
  };
  auto e = [](AuthTest* t) { return t->exchange_.get(); };
  auto a = [](AuthTest* t) { return t->admin_.get(); };
  const std::vector<Row> table = {
      {"UpsertRegion",
       {OK, DENIED, DENIED, DENIED, DENIED, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::UpsertRegionRequest r;
         r.mutable_region()->set_code("440000");
         r.mutable_region()->set_name("Guangdong");
         v1::Region out;
         return e(t)->UpsertRegion(Ctx(s).get(), r, &out);
       }},
      {"UpsertPairing",
       {OK, DENIED, DENIED, DENIED, DENIED, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::UpsertPairingRequest r;
         r.mutable_pairing()->set_east_code("370000");
         r.mutable_pairing()->set_west_code("620000");
         v1::Pairing out;
         return e(t)->UpsertPairing(Ctx(s).get(), r, &out);
       }},
      {"DeletePairing (none there)",
       {NOT_FOUND, DENIED, DENIED, DENIED, DENIED, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::DeletePairingRequest r;
         r.set_east_code("370200");
         r.set_west_code("620000");
         v1::DeletePairingResponse out;
         return e(t)->DeletePairing(Ctx(s).get(), r, &out);
       }},
      {"PostOffer (wudu-pepper-coop)",
       {OK, OK, OK, DENIED, DENIED, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::PostOfferResponse out;
         return e(t)->PostOffer(Ctx(s).get(), Offer("wudu-pepper-coop", 10),
                                &out);
       }},
      {"PostPledge (qingdao-office)",
       {OK, OK, DENIED, OK, DENIED, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::PostPledgeResponse out;
         return e(t)->PostPledge(Ctx(s).get(),
                                 Pledge("qingdao-office", 10, 100), &out);
       }},
      {"CancelOffer (wudu-pepper-coop's)",
       {OK, OK, OK, DENIED, DENIED, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::CancelOfferRequest r;
         r.set_id(t->PostOfferAsAdmin("wudu-pepper-coop", 10));
         v1::CancelOfferResponse out;
         return e(t)->CancelOffer(Ctx(s).get(), r, &out);
       }},
      {"CancelPledge (qingdao-office's)",
       {OK, OK, NOT_FOUND, OK, DENIED, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::CancelPledgeRequest r;
         r.set_id(t->PostPledgeAsAdmin("qingdao-office", 10));
         v1::CancelPledgeResponse out;
         return e(t)->CancelPledge(Ctx(s).get(), r, &out);
       }},
      {"GetOffer",
       {OK, OK, OK, OK, OK, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::GetOfferRequest r;
         r.set_id(t->PostOfferAsAdmin("lankao-coop", 10));
         v1::Offer out;
         return e(t)->GetOffer(Ctx(s).get(), r, &out);
       }},
      {"GetPledge (qingdao-office's)",
       {OK, OK, NOT_FOUND, OK, DENIED, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::GetPledgeRequest r;
         r.set_id(t->PostPledgeAsAdmin("qingdao-office", 10));
         v1::Pledge out;
         return e(t)->GetPledge(Ctx(s).get(), r, &out);
       }},
      // As GetPledge: another party's pledge reads as an unknown one.
      {"ExplainPledge (qingdao-office's)",
       {OK, OK, NOT_FOUND, OK, DENIED, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::ExplainPledgeRequest r;
         r.set_pledge_id(t->PostPledgeAsAdmin("qingdao-office", 10));
         v1::Explanation out;
         return e(t)->ExplainPledge(Ctx(s).get(), r, &out);
       }},
      // As GetOffer: offers are public.
      {"ExplainOffer",
       {OK, OK, OK, OK, OK, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::ExplainOfferRequest r;
         r.set_offer_id(t->PostOfferAsAdmin("lankao-coop", 10));
         v1::Explanation out;
         return e(t)->ExplainOffer(Ctx(s).get(), r, &out);
       }},
      {"ListOffers",
       {OK, OK, OK, OK, OK, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::ListOffersRequest r;
         v1::ListOffersResponse out;
         return e(t)->ListOffers(Ctx(s).get(), r, &out);
       }},
      {"ListPledges",
       {OK, OK, OK, OK, DENIED, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::ListPledgesRequest r;
         v1::ListPledgesResponse out;
         return e(t)->ListPledges(Ctx(s).get(), r, &out);
       }},
      {"ListMatches",
       {OK, OK, OK, OK, OK, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::ListMatchesRequest r;
         v1::ListMatchesResponse out;
         return e(t)->ListMatches(Ctx(s).get(), r, &out);
       }},
      {"GetBook",
       {OK, OK, OK, OK, OK, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::GetBookRequest r;
         v1::GetBookResponse out;
         return e(t)->GetBook(Ctx(s).get(), r, &out);
       }},
      {"SetClearingPolicy",
       {OK, DENIED, DENIED, DENIED, DENIED, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::SetClearingPolicyRequest r;
         r.mutable_policy()->set_product_prefix("vegetable");
         r.mutable_policy()->mutable_interval()->set_seconds(3600);
         v1::ClearingPolicy out;
         return e(t)->SetClearingPolicy(Ctx(s).get(), r, &out);
       }},
      {"ListClearingPolicies",
       {OK, OK, OK, OK, OK, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::ListClearingPoliciesRequest r;
         v1::ListClearingPoliciesResponse out;
         return e(t)->ListClearingPolicies(Ctx(s).get(), r, &out);
       }},
      {"SetAlertThresholds",
       {OK, DENIED, DENIED, DENIED, DENIED, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::SetAlertThresholdsRequest r;
         v1::AlertThresholds* th = r.mutable_thresholds();
         th->set_category("vegetable");
         th->mutable_horizon()->set_seconds(72 * 3600);
         th->set_min_gap_kg(1000);
         th->set_min_ratio_permille(1500);
         th->set_clear_permille(500);
         v1::AlertThresholds out;
         return e(t)->SetAlertThresholds(Ctx(s).get(), r, &out);
       }},
      {"ListAlerts",
       {OK, OK, OK, OK, OK, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::ListAlertsRequest r;
         v1::ListAlertsResponse out;
         return e(t)->ListAlerts(Ctx(s).get(), r, &out);
       }},
      {"ListAlertThresholds",
       {OK, OK, OK, OK, OK, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::ListAlertThresholdsRequest r;
         v1::ListAlertThresholdsResponse out;
         return e(t)->ListAlertThresholds(Ctx(s).get(), r, &out);
       }},
      {"ListRegions",
       {OK, OK, OK, OK, OK, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::ListRegionsRequest r;
         v1::ListRegionsResponse out;
         return e(t)->ListRegions(Ctx(s).get(), r, &out);
       }},
      {"ListPairings",
       {OK, OK, OK, OK, OK, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::ListPairingsRequest r;
         v1::ListPairingsResponse out;
         return e(t)->ListPairings(Ctx(s).get(), r, &out);
       }},
      {"WatchMatches",
       {OK, OK, OK, OK, OK, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         // A stream that is allowed stays open; cancel it after a moment.
         auto context = Ctx(s);
         context->set_deadline(
             absl::ToChronoTime(absl::Now() + absl::Milliseconds(300)));
         v1::WatchMatchesRequest r;
         auto reader = e(t)->WatchMatches(context.get(), r);
         v1::MatchEvent m;
         while (reader->Read(&m)) {
         }
         grpc::Status status = reader->Finish();
         return status.error_code() == StatusCode::DEADLINE_EXCEEDED
                    ? grpc::Status::OK
                    : status;
       }},
      // Alerts are public reads, as ListAlerts.
      {"WatchAlerts",
       {OK, OK, OK, OK, OK, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         auto context = Ctx(s);
         context->set_deadline(
             absl::ToChronoTime(absl::Now() + absl::Milliseconds(300)));
         v1::WatchAlertsRequest r;
         auto reader = e(t)->WatchAlerts(context.get(), r);
         v1::AlertEvent m;
         while (reader->Read(&m)) {
         }
         grpc::Status status = reader->Finish();
         return status.error_code() == StatusCode::DEADLINE_EXCEEDED
                    ? grpc::Status::OK
                    : status;
       }},
      {"Submit (a post for wudu-pepper-coop)",
       {OK, OK, OK, DENIED, DENIED, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         auto context = Ctx(s);
         auto stream = e(t)->Submit(context.get());
         v1::SubmitRequest request;
         *request.add_commands()->mutable_post_offer() =
             Offer("wudu-pepper-coop", 10);
         stream->Write(request);
         stream->WritesDone();
         v1::SubmitResponse response;
         const bool got = stream->Read(&response);
         grpc::Status status = stream->Finish();
         if (!status.ok() || !got) return status;
         const v1::CommandResult& result = response.results(0);
         return result.has_error()
                    ? grpc::Status(
                          static_cast<StatusCode>(result.error().code()),
                          result.error().message())
                    : grpc::Status::OK;
       }},
      {"CreateKey",
       {OK, DENIED, DENIED, DENIED, DENIED, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::CreateKeyRequest r;
         r.mutable_principal()->set_name("n");
         r.mutable_principal()->set_role(v1::ROLE_OBSERVER);
         v1::CreateKeyResponse out;
         return a(t)->CreateKey(Ctx(s).get(), r, &out);
       }},
      {"ListKeys",
       {OK, DENIED, DENIED, DENIED, DENIED, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::ListKeysRequest r;
         v1::ListKeysResponse out;
         return a(t)->ListKeys(Ctx(s).get(), r, &out);
       }},
      {"RevokeKey (none there)",
       {NOT_FOUND, DENIED, DENIED, DENIED, DENIED, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::RevokeKeyRequest r;
         r.set_key_id(999);
         v1::ApiKey out;
         return a(t)->RevokeKey(Ctx(s).get(), r, &out);
       }},
      // The buyer registry: a buyer keeps its own entry; reading it is
      // public; progress is the buyer's own (and oversight's).
      {"UpsertBuyer (own buyer)",
       {OK, OK, DENIED, OK, DENIED, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::UpsertBuyerRequest r;
         r.mutable_buyer()->set_buyer_id("qingdao-office");
         r.mutable_buyer()->set_name("青岛市协作办");
         r.mutable_buyer()->set_city_code("370200");
         r.mutable_buyer()->set_kind(v1::GOVERNMENT_UNIT);
         r.mutable_buyer()->set_alliance_id("shandong");
         v1::UpsertBuyerResponse out;
         return e(t)->UpsertBuyer(Ctx(s).get(), r, &out);
       }},
      {"UpsertBuyer (another buyer)",
       {OK, DENIED, DENIED, DENIED, DENIED, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::UpsertBuyerRequest r;
         r.mutable_buyer()->set_buyer_id("jinan-office");
         r.mutable_buyer()->set_name("济南市协作办");
         r.mutable_buyer()->set_city_code("370200");
         r.mutable_buyer()->set_kind(v1::GOVERNMENT_UNIT);
         v1::UpsertBuyerResponse out;
         return e(t)->UpsertBuyer(Ctx(s).get(), r, &out);
       }},
      {"GetBuyer",
       {OK, OK, OK, OK, OK, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::GetBuyerRequest r;
         r.set_buyer_id("jinan-office");
         v1::Buyer out;
         return e(t)->GetBuyer(Ctx(s).get(), r, &out);
       }},
      {"ListBuyers",
       {OK, OK, OK, OK, OK, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::ListBuyersRequest r;
         v1::ListBuyersResponse out;
         return e(t)->ListBuyers(Ctx(s).get(), r, &out);
       }},
      {"GetBuyerProgress (own buyer)",
       {OK, OK, DENIED, OK, OK, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::GetBuyerProgressRequest r;
         r.set_buyer_id("qingdao-office");
         r.set_year(2024);
         v1::BuyerProgress out;
         return e(t)->GetBuyerProgress(Ctx(s).get(), r, &out);
       }},
      {"GetBuyerProgress (another buyer)",
       {OK, DENIED, DENIED, DENIED, OK, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::GetBuyerProgressRequest r;
         r.set_buyer_id("jinan-office");
         r.set_year(2024);
         v1::BuyerProgress out;
         return e(t)->GetBuyerProgress(Ctx(s).get(), r, &out);
       }},
      {"GetBuyerProgress (alliance of own buyers)",
       {OK, OK, DENIED, OK, OK, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::GetBuyerProgressRequest r;
         r.set_alliance_id("shandong");
         r.set_year(2024);
         v1::BuyerProgress out;
         return e(t)->GetBuyerProgress(Ctx(s).get(), r, &out);
       }},
      {"GetStateHash",
       {OK, DENIED, DENIED, DENIED, DENIED, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::GetStateHashRequest r;
         v1::GetStateHashResponse out;
         return a(t)->GetStateHash(Ctx(s).get(), r, &out);
       }},
      {"Snapshot (in memory)",
       {PRECONDITION, DENIED, DENIED, DENIED, DENIED, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::SnapshotRequest r;
         v1::SnapshotResponse out;
         return a(t)->Snapshot(Ctx(s).get(), r, &out);
       }},
      {"ListProducts",
       {OK, OK, OK, OK, OK, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::ListProductsRequest r;
         v1::ListProductsResponse out;
         return e(t)->ListProducts(Ctx(s).get(), r, &out);
       }},
      // Last: the first accepted upsert closes the catalogue, which the
      // posts above do not expect.
      {"UpsertProduct",
       {OK, DENIED, DENIED, DENIED, DENIED, UNAUTH, UNAUTH},
       [&](AuthTest* t, const std::string& s) {
         v1::UpsertProductRequest r;
         r.mutable_product()->set_code("spice");
         r.mutable_product()->set_name("香辛料");
         r.mutable_product()->set_perishability(v1::STORABLE);
         v1::UpsertProductResponse out;
         return e(t)->UpsertProduct(Ctx(s).get(), r, &out);
       }},
  };
  for (const Row& row : table) {
    ASSERT_EQ(row.want.size(), roles.size()) << row.rpc;
    for (size_t i = 0; i < roles.size(); ++i) {
      const grpc::Status status = row.call(this, secrets_.at(roles[i]));
      EXPECT_EQ(status.error_code(), row.want[i])
          << row.rpc << " as " << roles[i] << ": " << status.error_message();
    }
  }
}

TEST_F(AuthTest, APartyActsOnlyForItself) {
  const uint64_t wudu_offer = PostOfferAsAdmin("wudu-pepper-coop", 50);
  const uint64_t qingdao_pledge = PostPledgeAsAdmin("qingdao-office", 10);
  // Another cooperative may read the public offer but not cancel it.
  v1::CancelOfferRequest cancel;
  cancel.set_id(wudu_offer);
  v1::CancelOfferResponse cancelled;
  grpc::Status status = exchange_->CancelOffer(
      Ctx(secrets_["other_supplier"]).get(), cancel, &cancelled);
  EXPECT_EQ(status.error_code(), DENIED);
  EXPECT_NE(status.error_message().find("wudu-pepper-coop"), std::string::npos);
  // Another buyer's pledge reads exactly as an unknown one.
  v1::GetPledgeRequest get;
  get.set_id(qingdao_pledge);
  v1::Pledge pledge;
  status =
      exchange_->GetPledge(Ctx(secrets_["other_buyer"]).get(), get, &pledge);
  v1::GetPledgeRequest unknown;
  unknown.set_id(999999);
  grpc::Status unknown_status = exchange_->GetPledge(
      Ctx(secrets_["other_buyer"]).get(), unknown, &pledge);
  EXPECT_EQ(status.error_code(), NOT_FOUND);
  EXPECT_EQ(status.error_message(),
            absl::StrCat("id: pledge ", qingdao_pledge, " does not exist"));
  EXPECT_EQ(unknown_status.error_message(), "id: pledge 999999 does not exist");
  // Lists narrow to the caller's own; naming another party is refused.
  v1::ListPledgesRequest list;
  v1::ListPledgesResponse listed;
  ASSERT_TRUE(
      exchange_->ListPledges(Ctx(secrets_["other_buyer"]).get(), list, &listed)
          .ok());
  EXPECT_EQ(listed.pledges_size(), 0);
  // The count is of what the key sees, as the page is.
  EXPECT_EQ(listed.total_count(), 0);
  ASSERT_TRUE(
      exchange_->ListPledges(Ctx(secrets_["buyer"]).get(), list, &listed).ok());
  ASSERT_EQ(listed.pledges_size(), 1);
  EXPECT_EQ(listed.pledges(0).pledge_id(), qingdao_pledge);
  ASSERT_TRUE(listed.has_total_count());
  EXPECT_EQ(listed.total_count(), 1);
  list.set_buyer_id("qingdao-office");
  EXPECT_EQ(
      exchange_->ListPledges(Ctx(secrets_["other_buyer"]).get(), list, &listed)
          .error_code(),
      DENIED);

  // A match between wudu and qingdao: visible to both sides and the
  // platform, not to the other buyer.
  v1::PostPledgeResponse matched;
  ASSERT_TRUE(exchange_
                  ->PostPledge(Ctx(secrets_["buyer"]).get(),
                               Pledge("qingdao-office", 20, 7000), &matched)
                  .ok());
  ASSERT_EQ(matched.matches_size(), 1);
  for (const auto& [role, visible] :
       std::vector<std::pair<std::string, int>>{{"supplier", 1},
                                                {"buyer", 1},
                                                {"platform", 1},
                                                {"other_buyer", 0},
                                                {"other_supplier", 0},
                                                {"admin", 1}}) {
    v1::ListMatchesRequest r;
    v1::ListMatchesResponse out;
    ASSERT_TRUE(exchange_->ListMatches(Ctx(secrets_[role]).get(), r, &out).ok())
        << role;
    EXPECT_EQ(out.matches_size(), visible) << role;
    ASSERT_TRUE(out.has_total_count()) << role;
    EXPECT_EQ(out.total_count(), visible) << role;
  }
  // A buyer may ask for its matches with a given supplier, not for a
  // supplier's matches alone.
  v1::ListMatchesRequest by_supplier;
  by_supplier.set_supplier_id("wudu-pepper-coop");
  v1::ListMatchesResponse out;
  EXPECT_EQ(
      exchange_
          ->ListMatches(Ctx(secrets_["other_buyer"]).get(), by_supplier, &out)
          .error_code(),
      DENIED);
  by_supplier.set_buyer_id("qingdao-office");
  ASSERT_TRUE(
      exchange_->ListMatches(Ctx(secrets_["buyer"]).get(), by_supplier, &out)
          .ok());
  EXPECT_EQ(out.matches_size(), 1);
}

// A member of an alliance pledge sees and accepts its own part of each
// fill, and another member's part is as unknown to it as an unknown id.
TEST_F(AuthTest, AnAllianceMemberActsOnItsOwnPartOnly) {
  for (const char* id : {"canteen-a", "canteen-b"}) {
    v1::UpsertBuyerRequest upsert;
    v1::Buyer* buyer = upsert.mutable_buyer();
    buyer->set_buyer_id(id);
    buyer->set_name(id);
    buyer->set_city_code("370200");
    buyer->set_kind(v1::CANTEEN);
    buyer->set_alliance_id("qingdao-canteens");
    v1::UpsertBuyerResponse created;
    ASSERT_TRUE(
        exchange_->UpsertBuyer(Ctx(kAdminSecret).get(), upsert, &created).ok());
  }
  const std::string a = MakeKey("a", v1::ROLE_BUYER, {}, {"canteen-a"});
  const std::string alliance =
      MakeKey("alliance", v1::ROLE_BUYER, {}, {"qingdao-canteens"});
  PostOfferAsAdmin("wudu-pepper-coop", 10);
  v1::PostPledgeRequest request = Pledge("qingdao-canteens", 10);
  for (const char* id : {"canteen-a", "canteen-b"}) {
    v1::MemberShare* m = request.mutable_pledge()->add_members();
    m->set_buyer_id(id);
    m->set_share_permille(500);
  }
  // A member may not post for its alliance; the alliance's key may.
  v1::PostPledgeResponse posted;
  EXPECT_EQ(exchange_->PostPledge(Ctx(a).get(), request, &posted).error_code(),
            DENIED);
  grpc::Status status =
      exchange_->PostPledge(Ctx(alliance).get(), request, &posted);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // 10 kg at 68.00 yuan: 5 kg each, matches 1 (a) and 2 (b).
  ASSERT_EQ(posted.matches_size(), 2);
  EXPECT_EQ(posted.matches(0).member_buyer_id(), "canteen-a");
  EXPECT_EQ(posted.matches(0).quantity_kg(), 5);
  EXPECT_EQ(posted.matches(1).member_buyer_id(), "canteen-b");
  for (uint64_t id : {1, 2}) {
    v1::ShipMatchRequest ship;
    ship.set_match_id(id);
    v1::MatchUpdateResponse shipped;
    ASSERT_TRUE(
        exchange_->ShipMatch(Ctx(kAdminSecret).get(), ship, &shipped).ok());
  }

  // a lists only its own part, accepts it, and cannot touch b's.
  v1::ListMatchesRequest list;
  v1::ListMatchesResponse listed;
  ASSERT_TRUE(exchange_->ListMatches(Ctx(a).get(), list, &listed).ok());
  ASSERT_EQ(listed.matches_size(), 1);
  EXPECT_EQ(listed.matches(0).match_id(), 1u);
  EXPECT_EQ(listed.total_count(), 1);
  v1::AcceptMatchRequest accept;
  accept.set_match_id(1);
  v1::MatchUpdateResponse accepted;
  status = exchange_->AcceptMatch(Ctx(a).get(), accept, &accepted);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(accepted.match().accepted_kg(), 5);
  v1::DeclineMatchRequest decline;
  decline.set_match_id(2);
  decline.set_reason("bruised");
  EXPECT_EQ(
      exchange_->DeclineMatch(Ctx(a).get(), decline, &accepted).error_code(),
      NOT_FOUND);
  // The alliance's key sees both parts and may decline b's.
  ASSERT_TRUE(exchange_->ListMatches(Ctx(alliance).get(), list, &listed).ok());
  EXPECT_EQ(listed.matches_size(), 2);
  EXPECT_EQ(listed.total_count(), 2);
  status = exchange_->DeclineMatch(Ctx(alliance).get(), decline, &accepted);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(accepted.match().returned_kg(), 5);
}

TEST_F(AuthTest, SubmitRefusesAForbiddenCommandAloneAndAppliesTheRest) {
  auto context = Ctx(secrets_["supplier"]);
  auto stream = exchange_->Submit(context.get());
  v1::SubmitRequest request;
  *request.add_commands()->mutable_post_offer() = Offer("wudu-pepper-coop", 10);
  *request.add_commands()->mutable_post_offer() = Offer("lankao-coop", 10);
  *request.add_commands()->mutable_post_pledge() = Pledge("qingdao-office", 5);
  *request.add_commands()->mutable_post_offer() = Offer("wudu-pepper-coop", 20);
  ASSERT_TRUE(stream->Write(request));
  stream->WritesDone();
  v1::SubmitResponse response;
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_TRUE(stream->Finish().ok());
  ASSERT_EQ(response.results_size(), 4);
  EXPECT_FALSE(response.results(0).has_error());
  EXPECT_EQ(response.results(1).error().code(), 7);  // PERMISSION_DENIED
  EXPECT_EQ(response.results(2).error().code(), 7);
  EXPECT_FALSE(response.results(3).has_error());
  EXPECT_EQ(response.results(3).post_offer().offer().quantity_kg(), 20);
  // Only the two allowed offers exist.
  v1::ListOffersRequest list;
  v1::ListOffersResponse offers;
  ASSERT_TRUE(
      exchange_->ListOffers(Ctx(kAdminSecret).get(), list, &offers).ok());
  EXPECT_EQ(offers.offers_size(), 2);
}

TEST_F(AuthTest, ARevokedKeyFailsAtOnceEvenOnAnOpenStream) {
  uint64_t key_id = 0;
  const std::string secret = MakeKey("short-lived", v1::ROLE_BUYER, {},
                                     {"qingdao-office"}, nullptr, &key_id);
  PostOfferAsAdmin("wudu-pepper-coop", 100);
  PostPledgeAsAdmin("qingdao-office", 10, 7000);  // one match
  auto context = Ctx(secret);
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  v1::WatchMatchesRequest watch;
  auto reader = exchange_->WatchMatches(context.get(), watch);
  v1::MatchEvent event;
  ASSERT_TRUE(reader->Read(&event));  // the history: the first match
  EXPECT_EQ(event.match().buyer_id(), "qingdao-office");

  v1::RevokeKeyRequest revoke;
  revoke.set_key_id(key_id);
  v1::ApiKey revoked;
  ASSERT_TRUE(
      admin_->RevokeKey(Ctx(kAdminSecret).get(), revoke, &revoked).ok());
  EXPECT_TRUE(revoked.has_revoked_at());
  // The next unary call fails...
  v1::GetBookRequest book;
  v1::GetBookResponse lines;
  EXPECT_EQ(exchange_->GetBook(Ctx(secret).get(), book, &lines).error_code(),
            UNAUTH);
  // ...and the open stream ends at its next message.
  PostPledgeAsAdmin("qingdao-office", 10, 7000);  // a second match
  EXPECT_FALSE(reader->Read(&event));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), UNAUTH) << status.error_message();
  EXPECT_NE(status.error_message().find("revoked"), std::string::npos);
}

TEST_F(AuthTest, ARevokedKeyEndsAnOpenSubmitStreamAtItsNextRequest) {
  uint64_t key_id = 0;
  const std::string secret = MakeKey(
      "bulk", v1::ROLE_PLATFORM, {"wudu-pepper-coop"}, {}, nullptr, &key_id);
  auto context = Ctx(secret);
  auto stream = exchange_->Submit(context.get());
  v1::SubmitRequest request;
  *request.add_commands()->mutable_post_offer() = Offer("wudu-pepper-coop", 10);
  ASSERT_TRUE(stream->Write(request));
  v1::SubmitResponse response;
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_FALSE(response.results(0).has_error());

  v1::RevokeKeyRequest revoke;
  revoke.set_key_id(key_id);
  v1::ApiKey revoked;
  ASSERT_TRUE(
      admin_->RevokeKey(Ctx(kAdminSecret).get(), revoke, &revoked).ok());
  stream->Write(request);  // may fail once the server has ended the stream
  stream->WritesDone();
  EXPECT_FALSE(stream->Read(&response));
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), UNAUTH) << status.error_message();
  // The second batch changed nothing: one offer only.
  v1::ListOffersRequest list;
  v1::ListOffersResponse offers;
  ASSERT_TRUE(
      exchange_->ListOffers(Ctx(kAdminSecret).get(), list, &offers).ok());
  EXPECT_EQ(offers.offers_size(), 1);
}

TEST_F(AuthTest, AnExpiredKeyFailsByTheServersClock) {
  google::protobuf::Timestamp in_an_hour;
  in_an_hour.set_seconds(kStartSeconds + 3600);
  const std::string secret =
      MakeKey("temp", v1::ROLE_OBSERVER, {}, {}, &in_an_hour);
  v1::GetBookRequest book;
  v1::GetBookResponse lines;
  EXPECT_TRUE(exchange_->GetBook(Ctx(secret).get(), book, &lines).ok());
  now_micros_ += int64_t{3600} * 1000000;  // exactly at expires_at
  grpc::Status status = exchange_->GetBook(Ctx(secret).get(), book, &lines);
  EXPECT_EQ(status.error_code(), UNAUTH);
  EXPECT_NE(status.error_message().find("expired"), std::string::npos);
  // An expiry in the past is refused when the key is made.
  v1::CreateKeyRequest late;
  late.mutable_principal()->set_name("late");
  late.mutable_principal()->set_role(v1::ROLE_OBSERVER);
  *late.mutable_expires_at() = in_an_hour;
  v1::CreateKeyResponse out;
  EXPECT_EQ(admin_->CreateKey(Ctx(kAdminSecret).get(), late, &out).error_code(),
            StatusCode::INVALID_ARGUMENT);
}

TEST_F(AuthTest, CreateKeyRetryAnswersTheKeyWithoutItsSecret) {
  v1::CreateKeyRequest request;
  request.set_request_id("make-canteen-key");
  request.mutable_principal()->set_name("canteen");
  request.mutable_principal()->set_role(v1::ROLE_BUYER);
  request.mutable_principal()->add_buyer_ids("canteen-1");
  v1::CreateKeyResponse first, second;
  ASSERT_TRUE(admin_->CreateKey(Ctx(kAdminSecret).get(), request, &first).ok());
  ASSERT_TRUE(
      admin_->CreateKey(Ctx(kAdminSecret).get(), request, &second).ok());
  EXPECT_EQ(first.secret().size(), 67u);
  EXPECT_EQ(first.secret().substr(0, 3), "dj_");
  EXPECT_FALSE(first.replayed());
  EXPECT_EQ(second.key_id(), first.key_id());
  EXPECT_TRUE(second.replayed());
  EXPECT_TRUE(second.secret().empty());
  // The first secret works; listings never carry one.
  v1::ListPledgesRequest list;
  v1::ListPledgesResponse pledges;
  EXPECT_TRUE(
      exchange_->ListPledges(Ctx(first.secret()).get(), list, &pledges).ok());
  v1::ListKeysRequest keys_request;
  v1::ListKeysResponse keys;
  ASSERT_TRUE(
      admin_->ListKeys(Ctx(kAdminSecret).get(), keys_request, &keys).ok());
  EXPECT_EQ(keys.DebugString().find(first.secret()), std::string::npos);
  // A malformed header is refused like a missing one.
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Basic " + first.secret());
  EXPECT_EQ(exchange_->ListPledges(&context, list, &pledges).error_code(),
            UNAUTH);
}

TEST_F(AuthTest, AKeyNameThatIsNotUtf8IsInvalidArgument) {
  v1::CreateKeyRequest request;
  request.mutable_principal()->set_name("bad \xff name");  // not UTF-8
  request.mutable_principal()->set_role(v1::ROLE_OBSERVER);
  v1::CreateKeyResponse response;
  grpc::Status status =
      admin_->CreateKey(Ctx(kAdminSecret).get(), request, &response);
  EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("principal.name"), std::string::npos)
      << status.error_message();
}

TEST_F(AuthTest, OpenOrdersPerPartyAreCapped) {
  Start(Limits(/*max_open_orders=*/2));
  v1::PostOfferResponse out;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(exchange_
                    ->PostOffer(Ctx(secrets_["supplier"]).get(),
                                Offer("wudu-pepper-coop", 10), &out)
                    .ok());
  }
  grpc::Status status = exchange_->PostOffer(
      Ctx(secrets_["supplier"]).get(), Offer("wudu-pepper-coop", 10), &out);
  EXPECT_EQ(status.error_code(), StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(status.error_message().find("max_open_orders"), std::string::npos);
  // Another party is served as before; a cancel makes room again.
  EXPECT_TRUE(exchange_
                  ->PostOffer(Ctx(secrets_["other_supplier"]).get(),
                              Offer("lankao-coop", 10), &out)
                  .ok());
  v1::CancelOfferRequest cancel;
  cancel.set_id(1);
  v1::CancelOfferResponse cancelled;
  ASSERT_TRUE(
      exchange_
          ->CancelOffer(Ctx(secrets_["supplier"]).get(), cancel, &cancelled)
          .ok());
  EXPECT_TRUE(exchange_
                  ->PostOffer(Ctx(secrets_["supplier"]).get(),
                              Offer("wudu-pepper-coop", 10), &out)
                  .ok());
}

TEST_F(AuthTest, StreamsPerKeyAreCapped) {
  Start(Limits(100000, 0, 0, /*max_streams_per_key=*/2));
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::MatchEvent>>> open;
  v1::WatchMatchesRequest watch;
  for (int i = 0; i < 2; ++i) {
    contexts.push_back(Ctx(secrets_["buyer"]));
    open.push_back(exchange_->WatchMatches(contexts.back().get(), watch));
  }
  // The two streams are open once a match reaches them.
  PostOfferAsAdmin("wudu-pepper-coop", 100);
  PostPledgeAsAdmin("qingdao-office", 10, 7000);
  v1::MatchEvent event;
  for (auto& reader : open) ASSERT_TRUE(reader->Read(&event));
  auto third_context = Ctx(secrets_["buyer"]);
  auto third = exchange_->WatchMatches(third_context.get(), watch);
  EXPECT_FALSE(third->Read(&event));
  grpc::Status status = third->Finish();
  EXPECT_EQ(status.error_code(), StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(status.error_message().find("max_streams_per_key"),
            std::string::npos);
  // A WatchAlerts stream takes a slot of the same key's too.
  {
    auto alerts_context = Ctx(secrets_["buyer"]);
    auto alerts =
        exchange_->WatchAlerts(alerts_context.get(), v1::WatchAlertsRequest());
    v1::AlertEvent alert_event;
    EXPECT_FALSE(alerts->Read(&alert_event));
    grpc::Status refused = alerts->Finish();
    EXPECT_EQ(refused.error_code(), StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_NE(refused.error_message().find("max_streams_per_key"),
              std::string::npos);
  }
  // Another key is not affected.
  auto other_context = Ctx(secrets_["platform"]);
  other_context->set_deadline(
      absl::ToChronoTime(absl::Now() + absl::Milliseconds(500)));
  auto other = exchange_->WatchMatches(other_context.get(), watch);
  EXPECT_TRUE(other->Read(&event));
  other_context->TryCancel();
  while (other->Read(&event)) {
  }
  other->Finish();
  // Closing a stream frees its slot.
  contexts[0]->TryCancel();
  while (open[0]->Read(&event)) {
  }
  open[0]->Finish();
  bool served = false;
  for (int attempt = 0; attempt < 50 && !served; ++attempt) {
    auto again_context = Ctx(secrets_["buyer"]);
    again_context->set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Milliseconds(500)));
    auto again = exchange_->WatchMatches(again_context.get(), watch);
    served = again->Read(&event);
    again_context->TryCancel();
    while (again->Read(&event)) {
    }
    again->Finish();
    if (!served) absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(served);
  contexts[1]->TryCancel();
  while (open[1]->Read(&event)) {
  }
  open[1]->Finish();
}

TEST_F(AuthTest, AFloodFromOneKeyLeavesAnotherKeyServed) {
  // A bucket of 20 refilled at 1 a second by the server's clock, which
  // this test holds still: each key may make 20 calls, and one beyond is
  // refused with the limit's name. (Setting up took 13 of the admin's.)
  Start(Limits(100000, /*rate_per_key=*/1, /*burst_per_key=*/20));
  std::atomic<bool> stop{false};
  std::atomic<int> refused{0}, served{0};
  std::vector<std::thread> flood;
  for (int t = 0; t < 4; ++t) {
    flood.emplace_back([&] {
      while (!stop.load()) {
        v1::GetBookRequest r;
        v1::GetBookResponse out;
        grpc::Status s =
            exchange_->GetBook(Ctx(secrets_["observer"]).get(), r, &out);
        if (s.error_code() == StatusCode::RESOURCE_EXHAUSTED) {
          EXPECT_NE(s.error_message().find("rate_per_key"), std::string::npos);
          ++refused;
        } else {
          ++served;
        }
      }
    });
  }
  while (refused.load() < 200) absl::SleepFor(absl::Milliseconds(1));
  // While the flood goes on, a second key's calls are answered.
  for (int i = 0; i < 5; ++i) {
    v1::ListOffersRequest r;
    v1::ListOffersResponse out;
    EXPECT_TRUE(
        exchange_->ListOffers(Ctx(secrets_["supplier"]).get(), r, &out).ok());
  }
  stop = true;
  for (std::thread& t : flood) t.join();
  // The flooding key got its burst and no more (the clock stood still).
  EXPECT_EQ(served.load(), 20);
}

// Figures are sums of matches, which are private to their parties: a
// party's key counts its own matches only; the offices' keys (ADMIN,
// OBSERVER) count every one.
TEST_F(AuthTest, StatsCountOnlyTheMatchesAKeyMaySee) {
  ASSERT_EQ(MatchTwentyKgOfPepper(), 1);
  for (const auto& [role, kg] :
       std::vector<std::pair<std::string, int64_t>>{{"admin", 20},
                                                    {"observer", 20},
                                                    {"supplier", 20},
                                                    {"buyer", 20},
                                                    {"platform", 20},
                                                    {"other_buyer", 0},
                                                    {"other_supplier", 0}}) {
    v1::GetStatsRequest request;
    request.add_group_by(v1::BUYER);
    v1::GetStatsResponse response;
    grpc::Status status =
        exchange_->GetStats(Ctx(secrets_[role]).get(), request, &response);
    ASSERT_TRUE(status.ok()) << role << ": " << status.error_message();
    EXPECT_EQ(response.total().kg(), kg) << role;
    EXPECT_EQ(response.rows_size(), kg == 0 ? 0 : 1) << role;
  }
  // Naming another party narrows a key's own matches; it shows nothing of
  // the others'.
  v1::GetStatsRequest request;
  request.mutable_filter()->set_buyer_id("qingdao-office");
  v1::GetStatsResponse response;
  ASSERT_TRUE(
      exchange_
          ->GetStats(Ctx(secrets_["other_buyer"]).get(), request, &response)
          .ok());
  EXPECT_EQ(response.total().matches(), 0);
  EXPECT_EQ(exchange_->GetStats(Ctx("").get(), request, &response).error_code(),
            UNAUTH);
}

// The offices keep the ledgers of who bought what from whom: an OBSERVER
// key lists every match, as ADMIN does; a party's key only its own.
TEST_F(AuthTest, ObserverListsEveryMatch) {
  ASSERT_EQ(MatchTwentyKgOfPepper(), 1);
  for (const auto& [role, count] : std::vector<std::pair<std::string, int>>{
           {"admin", 1}, {"observer", 1}, {"buyer", 1}, {"other_buyer", 0}}) {
    v1::ListMatchesRequest request;
    v1::ListMatchesResponse response;
    grpc::Status status =
        exchange_->ListMatches(Ctx(secrets_[role]).get(), request, &response);
    ASSERT_TRUE(status.ok()) << role << ": " << status.error_message();
    EXPECT_EQ(response.matches_size(), count) << role;
  }
  // Not narrowed: the observer names any party.
  v1::ListMatchesRequest request;
  request.set_supplier_id("wudu-pepper-coop");
  v1::ListMatchesResponse response;
  ASSERT_TRUE(
      exchange_
          ->ListMatches(Ctx(secrets_["observer"]).get(), request, &response)
          .ok());
  EXPECT_EQ(response.matches_size(), 1);
}

}  // namespace
}  // namespace duijie
