// The server's transport limits (api/server_limits.h), through a real gRPC
// channel to a DuijieServer on a free loopback port: each test sets one
// limit low, goes over it and checks the call fails with RESOURCE_EXHAUSTED
// naming the limit and that nothing changed; then that the server still
// serves.
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/server.h"
#include "duijie/v1/exchange.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"

namespace duijie {
namespace {

// 2024-11-20T00:00:00Z.
constexpr int64_t kStartSeconds = 1732060800;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// An in-memory server with `limits`, a channel and a stub to it.
class LimitsTest : public ::testing::Test {
 protected:
  void StartServer(const ServerLimits& limits,
                   const grpc::ChannelArguments& channel_args = {}) {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.clock = [] { return absl::FromUnixSeconds(kStartSeconds); };
    options.limits = limits;
    absl::StatusOr<std::unique_ptr<DuijieServer>> server =
        DuijieServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateCustomChannel(
        server_->address(), grpc::InsecureChannelCredentials(), channel_args);
    stub_ = v1::Exchange::NewStub(channel_);
    v1::UpsertRegionRequest region;
    region.mutable_region()->set_code("410225");
    region.mutable_region()->set_name("Lankao");
    v1::Region reply;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->UpsertRegion(&context, region, &reply).ok());
  }

  void TearDown() override {
    if (server_) server_->Shutdown(absl::Seconds(2));
  }

  // An offer of Lankao cabbage from `supplier`.
  static v1::PostOfferRequest CabbageOffer(const std::string& supplier) {
    v1::PostOfferRequest request;
    v1::Offer* offer = request.mutable_offer();
    offer->set_supplier_id(supplier);
    offer->set_region_code("410225");
    offer->set_product_code("vegetable.cabbage");
    offer->set_grade(v1::GRADE_FIRST);
    offer->set_quantity_kg(1000);
    offer->set_floor_price_fen_per_kg(80);
    offer->mutable_expires_at()->set_seconds(kStartSeconds + 86400);
    return request;
  }

  // Posts `n` offers through Submit, 100 a batch.
  void PostOffers(int n) {
    for (int done = 0; done < n; done += 100) {
      v1::SubmitRequest request;
      for (int i = done; i < n && i < done + 100; ++i) {
        *request.add_commands()->mutable_post_offer() = CabbageOffer("coop");
      }
      int replies = 0;
      grpc::Status status = SubmitOnce(request, &replies);
      ASSERT_TRUE(status.ok()) << status.error_message();
      ASSERT_EQ(replies, 1);
    }
  }

  int OfferCount() {
    v1::ListOffersRequest request;
    request.set_page_size(1000);
    v1::ListOffersResponse response;
    grpc::ClientContext context;
    grpc::Status status = stub_->ListOffers(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.offers_size();
  }

  // Sends `request` on a fresh Submit stream; returns the stream's status
  // and the number of replies read.
  grpc::Status SubmitOnce(const v1::SubmitRequest& request, int* replies) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    auto stream = stub_->Submit(&context);
    stream->Write(request);
    stream->WritesDone();
    v1::SubmitResponse response;
    *replies = 0;
    while (stream->Read(&response)) ++*replies;
    return stream->Finish();
  }

  std::unique_ptr<DuijieServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Exchange::Stub> stub_;
};

TEST_F(LimitsTest, SubmitOverMaxBatchFailsWholeAndAppliesNothing) {
  ServerLimits limits;
  limits.max_batch = 5;
  StartServer(limits);
  v1::SubmitRequest request;
  for (int i = 0; i < 6; ++i) {
    *request.add_commands()->mutable_post_offer() = CabbageOffer("coop");
  }
  int replies = 0;
  grpc::Status status = SubmitOnce(request, &replies);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(Contains(status.error_message(), "max_batch"))
      << status.error_message();
  EXPECT_EQ(replies, 0);
  EXPECT_EQ(OfferCount(), 0);

  // At the limit it goes through.
  request.mutable_commands()->RemoveLast();
  status = SubmitOnce(request, &replies);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(replies, 1);
  EXPECT_EQ(OfferCount(), 5);
}

TEST_F(LimitsTest, RequestOverMaxMessageBytesIsRefusedAndChangesNothing) {
  ServerLimits limits;
  limits.max_message_bytes = 64 << 10;
  StartServer(limits);
  v1::PostOfferResponse response;
  grpc::ClientContext context;
  grpc::Status status = stub_->PostOffer(
      &context, CabbageOffer(std::string(100 << 10, 'x')), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();
  EXPECT_EQ(OfferCount(), 0);
  grpc::ClientContext again;
  EXPECT_TRUE(stub_->PostOffer(&again, CabbageOffer("coop"), &response).ok());
  EXPECT_EQ(OfferCount(), 1);
}

TEST_F(LimitsTest, ReplyOverMaxMessageBytesFailsTheCall) {
  ServerLimits limits;
  limits.max_message_bytes = 16 << 10;
  StartServer(limits);
  PostOffers(300);
  // 300 offers of about 80 bytes each do not fit one reply.
  v1::ListOffersRequest request;
  request.set_page_size(1000);
  v1::ListOffersResponse response;
  grpc::ClientContext context;
  grpc::Status status = stub_->ListOffers(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();
  // A page that fits is served.
  request.set_page_size(10);
  grpc::ClientContext small;
  EXPECT_TRUE(stub_->ListOffers(&small, request, &response).ok());
  EXPECT_EQ(response.offers_size(), 10);
}

TEST_F(LimitsTest, SubmitReplyOverMaxMessageBytesNamesTheLimit) {
  ServerLimits limits;
  limits.max_message_bytes = 16 << 10;
  StartServer(limits);
  PostOffers(300);
  // A cancel is a few bytes; its reply carries the whole offer.
  v1::SubmitRequest request;
  request.set_batch_id("cancel-all");
  for (int id = 1; id <= 300; ++id) {
    request.add_commands()->mutable_cancel_offer()->set_id(id);
  }
  ASSERT_LT(request.ByteSizeLong(), size_t{4} << 10);
  int replies = 0;
  grpc::Status status = SubmitOnce(request, &replies);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(Contains(status.error_message(), "max_message_bytes"))
      << status.error_message();
  EXPECT_EQ(replies, 0);
  // The message says the commands were applied: they were.
  v1::GetOfferRequest get;
  get.set_id(300);
  v1::Offer offer;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->GetOffer(&context, get, &offer).ok());
  EXPECT_EQ(offer.status(), v1::CANCELLED);
}

}  // namespace
}  // namespace duijie
