// Hostile input through the real server and a real gRPC channel: bounded
// error messages, capped filters, refused control characters, strings that
// are not UTF-8, replies that would pass the message limit, and the log
// limiter. Part of integration_test.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/convert.h"
#include "api/log_limit.h"
#include "api/server.h"
#include "api/submit_reactor.h"
#include "duijie/v1/exchange.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/byte_buffer.h"
#include "gtest/gtest.h"

namespace duijie {
namespace {

constexpr int64_t kStartSeconds = 1732060800;  // 2024-11-20T00:00:00Z

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Error messages stay short whatever the size of the value they quote.
constexpr size_t kMaxMessageBytes = 600;

class HostileApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    // Hostile input, not authentication (auth_test covers keys).
    options.auth.enabled = false;
    options.listen = "127.0.0.1:0";
    options.clock = [] { return absl::FromUnixSeconds(kStartSeconds); };
    absl::StatusOr<std::unique_ptr<DuijieServer>> server =
        DuijieServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::Exchange::NewStub(channel_);
    for (const char* code : {"620826", "120000"}) {
      v1::UpsertRegionRequest request;
      request.mutable_region()->set_code(code);
      request.mutable_region()->set_name(code);
      v1::Region response;
      grpc::ClientContext context;
      ASSERT_TRUE(stub_->UpsertRegion(&context, request, &response).ok());
    }
  }

  void TearDown() override {
    if (server_) server_->Shutdown(absl::Seconds(2));
  }

  static v1::PostOfferRequest Offer(const std::string& product, int64_t kg) {
    v1::PostOfferRequest request;
    v1::Offer* offer = request.mutable_offer();
    offer->set_supplier_id("jingning-coop");
    offer->set_region_code("620826");
    offer->set_product_code(product);
    offer->set_grade(v1::GRADE_FIRST);
    offer->set_quantity_kg(kg);
    offer->set_floor_price_fen_per_kg(300);
    offer->mutable_expires_at()->set_seconds(kStartSeconds + 86400);
    return request;
  }

  static v1::PostPledgeRequest Pledge(int64_t kg) {
    v1::PostPledgeRequest request;
    v1::Pledge* pledge = request.mutable_pledge();
    pledge->set_buyer_id("tianjin-canteen");
    pledge->set_buyer_city_code("120000");
    pledge->set_buyer_kind(v1::CANTEEN);
    pledge->set_product_code("fruit");
    pledge->set_quantity_kg(kg);
    pledge->set_max_price_fen_per_kg(400);
    pledge->mutable_expires_at()->set_seconds(kStartSeconds + 86400);
    return request;
  }

  // Posts `count` offers of 1 kg of `product` through Submit, in batches.
  void PostOneKgOffers(int count, const std::string& product = "fruit.apple") {
    grpc::ClientContext context;
    auto stream = stub_->Submit(&context);
    int batches = 0;
    for (int posted = 0; posted < count; ++batches) {
      v1::SubmitRequest batch;
      for (; posted < count && batch.commands_size() < ServerLimits().max_batch;
           ++posted) {
        *batch.add_commands()->mutable_post_offer() = Offer(product, 1);
      }
      ASSERT_TRUE(stream->Write(batch));
    }
    stream->WritesDone();
    v1::SubmitResponse response;
    for (int i = 0; i < batches; ++i) {
      ASSERT_TRUE(stream->Read(&response));
      for (const v1::CommandResult& r : response.results()) {
        ASSERT_TRUE(r.has_post_offer()) << r.error().message();
      }
    }
    ASSERT_TRUE(stream->Finish().ok());
  }

  static void ExpectInvalid(const grpc::Status& status,
                            const std::vector<std::string>& parts) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << status.error_message();
    EXPECT_LE(status.error_message().size(), kMaxMessageBytes);
    for (const std::string& part : parts) {
      EXPECT_TRUE(Contains(status.error_message(), part))
          << "\"" << part << "\" not in: " << status.error_message();
    }
  }

  std::unique_ptr<DuijieServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Exchange::Stub> stub_;
};

// --- Echoes and filters -----------------------------------------------------

TEST_F(HostileApiTest, HugeFilterValuesAreRefusedWithAShortMessage) {
  const std::string huge(3 << 20, '\x1b');  // 3 MB; each byte escapes to 4
  {
    v1::ListOffersRequest request;
    request.set_region_code_prefix(huge);
    v1::ListOffersResponse response;
    grpc::ClientContext context;
    ExpectInvalid(stub_->ListOffers(&context, request, &response),
                  {"region_code_prefix", "(3145728 bytes)"});
  }
  {
    v1::ListOffersRequest request;
    request.set_product_code_prefix(std::string(129, 'a'));
    v1::ListOffersResponse response;
    grpc::ClientContext context;
    ExpectInvalid(stub_->ListOffers(&context, request, &response),
                  {"product_code_prefix", "at most 128"});
  }
  {
    v1::ListPledgesRequest request;
    request.set_buyer_id(huge);
    v1::ListPledgesResponse response;
    grpc::ClientContext context;
    ExpectInvalid(stub_->ListPledges(&context, request, &response),
                  {"buyer_id", "at most 64"});
  }
  {
    v1::ListMatchesRequest request;
    request.set_supplier_id(std::string(65, 's'));
    v1::ListMatchesResponse response;
    grpc::ClientContext context;
    ExpectInvalid(stub_->ListMatches(&context, request, &response),
                  {"supplier_id", "at most 64"});
  }
  {
    v1::ListRegionsRequest request;
    request.set_page_token(huge);
    v1::ListRegionsResponse response;
    grpc::ClientContext context;
    ExpectInvalid(stub_->ListRegions(&context, request, &response),
                  {"page_token", "(3145728 bytes)"});
  }
  {
    v1::GetBookRequest request;
    request.set_product_code_prefix(huge);
    v1::GetBookResponse response;
    grpc::ClientContext context;
    ExpectInvalid(stub_->GetBook(&context, request, &response),
                  {"product_code_prefix", "at most 128"});
  }
  {
    v1::WatchMatchesRequest request;
    request.set_buyer_id(huge);
    grpc::ClientContext context;
    auto reader = stub_->WatchMatches(&context, request);
    v1::MatchEvent event;
    EXPECT_FALSE(reader->Read(&event));
    ExpectInvalid(reader->Finish(), {"buyer_id", "at most 64"});
  }
  {
    v1::PostOfferRequest request = Offer("fruit.apple", 10);
    request.mutable_offer()->set_supplier_id(huge);
    v1::PostOfferResponse response;
    grpc::ClientContext context;
    ExpectInvalid(stub_->PostOffer(&context, request, &response),
                  {"offer.supplier_id", "(3145728 bytes)"});
  }
}

TEST_F(HostileApiTest, ControlCharactersAreRefusedAndNothingIsStored) {
  {
    v1::PostOfferRequest request = Offer("fruit.apple", 10);
    request.mutable_offer()->set_supplier_id("coop\x1b[2J");
    v1::PostOfferResponse response;
    grpc::ClientContext context;
    ExpectInvalid(stub_->PostOffer(&context, request, &response),
                  {"offer.supplier_id", "control character", "\\x1B[2J"});
  }
  {
    v1::PostOfferRequest request = Offer("fruit.apple", 10);
    request.set_request_id(std::string("retry\0", 6));
    v1::PostOfferResponse response;
    grpc::ClientContext context;
    ExpectInvalid(stub_->PostOffer(&context, request, &response),
                  {"request_id", "control character"});
  }
  {
    v1::UpsertRegionRequest request;
    request.mutable_region()->set_code("621202");
    request.mutable_region()->set_name("Wudu\n621203  Fake");
    v1::Region response;
    grpc::ClientContext context;
    ExpectInvalid(stub_->UpsertRegion(&context, request, &response),
                  {"region.name", "\\n"});
  }
  v1::ListOffersResponse offers;
  grpc::ClientContext context;
  ASSERT_TRUE(
      stub_->ListOffers(&context, v1::ListOffersRequest(), &offers).ok());
  EXPECT_EQ(offers.offers_size(), 0);
  v1::ListRegionsResponse regions;
  grpc::ClientContext context2;
  ASSERT_TRUE(
      stub_->ListRegions(&context2, v1::ListRegionsRequest(), &regions).ok());
  EXPECT_EQ(regions.regions_size(), 2);
}

// --- Strings that are not UTF-8 --------------------------------------------

TEST_F(HostileApiTest, InvalidUtf8IsInvalidArgumentNamingTheField) {
  {
    v1::ListOffersRequest request;
    request.set_supplier_id("\xff\xfe");
    v1::ListOffersResponse response;
    grpc::ClientContext context;
    ExpectInvalid(stub_->ListOffers(&context, request, &response),
                  {"supplier_id", "not valid UTF-8", "\\xFF\\xFE"});
  }
  {
    v1::PostPledgeRequest request = Pledge(10);
    request.mutable_pledge()->set_scope(v1::LISTED_REGIONS);
    request.mutable_pledge()->add_region_codes("620000");
    request.mutable_pledge()->add_region_codes("62\xc3\x28");
    v1::PostPledgeResponse response;
    grpc::ClientContext context;
    ExpectInvalid(stub_->PostPledge(&context, request, &response),
                  {"pledge.region_codes[1]", "not valid UTF-8"});
  }
  {
    v1::WatchMatchesRequest request;
    request.set_region_code_prefix("\xe9\x99");
    grpc::ClientContext context;
    auto reader = stub_->WatchMatches(&context, request);
    v1::MatchEvent event;
    EXPECT_FALSE(reader->Read(&event));
    ExpectInvalid(reader->Finish(), {"region_code_prefix", "UTF-8"});
  }
  {
    // Bytes that are no protobuf at all: field 1, length 5, 2 bytes.
    grpc::GenericStub generic(channel_);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    grpc::Slice bytes(
        std::string("\x0a\x05"
                    "ab"));
    grpc::ByteBuffer request(&bytes, 1);
    grpc::ByteBuffer response;
    grpc::Status status;
    absl::Notification done;
    generic.UnaryCall(&context, "/duijie.v1.Exchange/GetBook",
                      grpc::StubOptions(), &request, &response,
                      [&](grpc::Status s) {
                        status = std::move(s);
                        done.Notify();
                      });
    done.WaitForNotification();
    ExpectInvalid(status, {"not a well-formed duijie.v1.GetBookRequest"});
  }
}

TEST_F(HostileApiTest, SubmitBatchThatIsNotUtf8EndsTheStreamAfterEarlierOnes) {
  grpc::ClientContext context;
  auto stream = stub_->Submit(&context);
  v1::SubmitRequest good;
  good.set_batch_id("good");
  *good.add_commands()->mutable_post_offer() = Offer("fruit.apple", 10);
  ASSERT_TRUE(stream->Write(good));
  v1::SubmitRequest bad;
  bad.set_batch_id("bad");
  *bad.add_commands()->mutable_post_offer() = Offer("fruit.apple", 10);
  v1::PostOfferRequest offer = Offer("fruit.apple", 10);
  offer.mutable_offer()->set_supplier_id("coop\xff");
  *bad.add_commands()->mutable_post_offer() = offer;
  stream->Write(bad);
  stream->WritesDone();
  v1::SubmitResponse response;
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.batch_id(), "good");
  ASSERT_EQ(response.results_size(), 1);
  EXPECT_TRUE(response.results(0).has_post_offer());
  EXPECT_FALSE(stream->Read(&response));
  ExpectInvalid(stream->Finish(),
                {"commands[1].post_offer.offer.supplier_id", "UTF-8"});
}

// --- Long replies ------------------------------------------------------------

TEST_F(HostileApiTest, ArrivalFillsBeyondAThousandAreCountedAndListed) {
  constexpr int kOffers = 2500;
  PostOneKgOffers(kOffers);
  v1::PostPledgeRequest request = Pledge(kOffers);
  request.set_request_id("big-pledge");
  v1::PostPledgeResponse response;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->PostPledge(&context, request, &response).ok());
  }
  EXPECT_EQ(response.pledge().status(), v1::FILLED);
  ASSERT_EQ(response.matches_size(), static_cast<int>(kMaxInlineMatches));
  EXPECT_EQ(response.match_count(), kOffers);
  EXPECT_EQ(response.omitted_match_count(), kOffers - 1000);
  // The rest, as the contract says: ListMatches by pledge_id after the
  // last inline match.
  v1::ListMatchesRequest list;
  list.set_pledge_id(response.pledge().pledge_id());
  list.set_after_match_id(response.matches(999).match_id());
  list.set_page_size(1000);
  uint64_t expected = response.matches(999).match_id() + 1;
  int listed = 0;
  for (;;) {
    v1::ListMatchesResponse page;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->ListMatches(&context, list, &page).ok());
    for (const v1::Match& m : page.matches()) {
      EXPECT_EQ(m.match_id(), expected++);
      ++listed;
    }
    if (page.next_page_token().empty()) break;
    list.set_page_token(page.next_page_token());
  }
  EXPECT_EQ(listed, kOffers - 1000);
  // A retry is answered the same way.
  v1::PostPledgeResponse retry;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->PostPledge(&context, request, &retry).ok());
  EXPECT_EQ(retry.matches_size(), 1000);
  EXPECT_EQ(retry.match_count(), kOffers);
  EXPECT_EQ(retry.omitted_match_count(), kOffers - 1000);
}

TEST_F(HostileApiTest, SubmitResultsShareOneInlineBudget) {
  constexpr int kPledges = 11;
  PostOneKgOffers(kPledges * 1000);
  grpc::ClientContext context;
  auto stream = stub_->Submit(&context);
  v1::SubmitRequest batch;
  for (int i = 0; i < kPledges; ++i) {
    *batch.add_commands()->mutable_post_pledge() = Pledge(1000);
  }
  ASSERT_TRUE(stream->Write(batch));
  stream->WritesDone();
  v1::SubmitResponse response;
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_EQ(response.results_size(), kPledges);
  int inline_total = 0;
  for (int i = 0; i < kPledges; ++i) {
    const v1::PostPledgeResponse& r = response.results(i).post_pledge();
    EXPECT_EQ(r.match_count(), 1000) << i;
    EXPECT_EQ(r.matches_size() + r.omitted_match_count(), 1000) << i;
    inline_total += r.matches_size();
  }
  EXPECT_EQ(inline_total, static_cast<int>(kMaxSubmitInlineMatches));
  EXPECT_EQ(response.results(kPledges - 1).post_pledge().matches_size(), 0);
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(HostileApiTest, GetBookPagesWithABoundedDefault) {
  constexpr int kProducts = 250;
  {
    grpc::ClientContext context;
    auto stream = stub_->Submit(&context);
    v1::SubmitRequest batch;
    for (int i = 0; i < kProducts; ++i) {
      *batch.add_commands()->mutable_post_offer() =
          Offer(absl::StrCat("fruit.p", 1000 + i), 5);
    }
    ASSERT_TRUE(stream->Write(batch));
    stream->WritesDone();
    v1::SubmitResponse response;
    ASSERT_TRUE(stream->Read(&response));
    ASSERT_TRUE(stream->Finish().ok());
  }
  v1::GetBookRequest request;
  std::vector<std::string> codes;
  int pages = 0;
  for (;; ++pages) {
    v1::GetBookResponse page;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->GetBook(&context, request, &page).ok());
    EXPECT_LE(page.lines_size(), kDefaultPageSize);
    for (const v1::BookLine& line : page.lines()) {
      codes.push_back(line.product_code());
    }
    if (page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }
  EXPECT_EQ(pages + 1, 3);
  ASSERT_EQ(codes.size(), static_cast<size_t>(kProducts));
  for (int i = 0; i < kProducts; ++i) {
    EXPECT_EQ(codes[i], absl::StrCat("fruit.p", 1000 + i));
  }
  request.set_page_token("Not A Product");
  v1::GetBookResponse page;
  grpc::ClientContext context;
  ExpectInvalid(stub_->GetBook(&context, request, &page), {"page_token"});
}

// --- The log limiter ---------------------------------------------------------

TEST(LogRateLimiterTest, PrintsABurstPerSiteThenCountsWhatItDropped) {
  LogRateLimiter limiter(absl::Minutes(1));
  const absl::Time t0 = absl::FromUnixSeconds(kStartSeconds);
  uint64_t suppressed = 99;
  int printed = 0;
  for (int i = 0; i < 1000; ++i) {
    if (limiter.Admit("parse.cc:42", t0 + absl::Milliseconds(i), &suppressed)) {
      EXPECT_EQ(suppressed, 0u);
      ++printed;
    }
  }
  EXPECT_EQ(printed, LogRateLimiter::kBurst);
  // Another site has its own allowance.
  EXPECT_TRUE(limiter.Admit("other.cc:7", t0, &suppressed));
  // After the window the site prints again and says what it dropped.
  ASSERT_TRUE(limiter.Admit("parse.cc:42", t0 + absl::Minutes(1), &suppressed));
  EXPECT_EQ(suppressed, 1000u - LogRateLimiter::kBurst);
  ASSERT_TRUE(limiter.Admit("parse.cc:42", t0 + absl::Minutes(1), &suppressed));
  EXPECT_EQ(suppressed, 0u);
}

}  // namespace
}  // namespace duijie
