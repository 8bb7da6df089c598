// Integration tests: a real DuijieServer on a free loopback port, driven
// through a real gRPC channel. Each test is named for the behaviour of the
// public API it specifies. The server's clock is fixed by the test.
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/convert.h"
#include "api/file_env.h"
#include "api/server.h"
#include "duijie/v1/exchange.grpc.pb.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/byte_buffer.h"
#include "gtest/gtest.h"
#include "tests/fault_injection_env.h"

namespace duijie {
namespace {

using google::protobuf::util::MessageDifferencer;

// 2024-11-20T00:00:00Z, the start of the Henan cabbage glut.
constexpr int64_t kStartSeconds = 1732060800;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class IntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    // These tests are about the exchange, not authentication (auth_test).
    options.auth.enabled = false;
    options.listen = "127.0.0.1:0";
    options.clock = [this] { return absl::FromUnixMicros(now_micros_.load()); };
    // Short, so that a test sees heartbeats soon.
    options.limits.watch_heartbeat_ms = 100;
    absl::StatusOr<std::unique_ptr<DuijieServer>> server =
        DuijieServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_GT(server_->port(), 0);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::Exchange::NewStub(channel_);

    for (const auto& [code, name, key] :
         std::vector<std::tuple<std::string, std::string, bool>>{
             {"370000", "Shandong", false},
             {"370200", "Qingdao", false},
             {"410000", "Henan", false},
             {"410200", "Kaifeng", false},
             {"410225", "Lankao", false},
             {"440000", "Guangdong", false},
             {"440100", "Guangzhou", false},
             {"620000", "Gansu", false},
             {"621200", "Longnan", false},
             {"621202", "Wudu", true}}) {
      v1::UpsertRegionRequest request;
      request.mutable_region()->set_code(code);
      request.mutable_region()->set_name(name);
      request.mutable_region()->set_key_assisted(key);
      v1::Region response;
      grpc::ClientContext context;
      ASSERT_TRUE(stub_->UpsertRegion(&context, request, &response).ok());
    }
    v1::UpsertPairingRequest pairing;
    pairing.mutable_pairing()->set_east_code("370200");
    pairing.mutable_pairing()->set_west_code("621200");
    pairing.mutable_pairing()->set_note("Qingdao-Longnan");
    v1::Pairing pairing_response;
    grpc::ClientContext context;
    ASSERT_TRUE(
        stub_->UpsertPairing(&context, pairing, &pairing_response).ok());
  }

  void TearDown() override {
    if (server_) server_->Shutdown(absl::Seconds(2));
  }

  // A timestamp `days` after the test clock's start.
  static google::protobuf::Timestamp InDays(int days) {
    google::protobuf::Timestamp ts;
    ts.set_seconds(kStartSeconds + int64_t{86400} * days);
    return ts;
  }

  // An offer of Wudu Sichuan pepper, valid for 30 days.
  static v1::PostOfferRequest PepperOffer(int64_t kg, int64_t floor_fen) {
    v1::PostOfferRequest request;
    v1::Offer* offer = request.mutable_offer();
    offer->set_supplier_id("wudu-pepper-coop");
    offer->set_region_code("621202");
    offer->set_product_code("spice.sichuan_pepper");
    offer->set_grade(v1::GRADE_PREMIUM);
    offer->set_quantity_kg(kg);
    offer->set_floor_price_fen_per_kg(floor_fen);
    *offer->mutable_expires_at() = InDays(30);
    offer->set_certified(true);
    offer->set_households(120);
    return request;
  }

  // A pledge for Sichuan pepper from `city`, any region, valid 10 days.
  static v1::PostPledgeRequest PepperPledge(const std::string& buyer,
                                            const std::string& city, int64_t kg,
                                            int64_t max_fen) {
    v1::PostPledgeRequest request;
    v1::Pledge* pledge = request.mutable_pledge();
    pledge->set_buyer_id(buyer);
    pledge->set_buyer_city_code(city);
    pledge->set_buyer_kind(v1::GOVERNMENT_UNIT);
    pledge->set_product_code("spice");
    pledge->set_quantity_kg(kg);
    pledge->set_max_price_fen_per_kg(max_fen);
    *pledge->mutable_expires_at() = InDays(10);
    pledge->set_scope(v1::ANY);
    return request;
  }

  grpc::Status PostOffer(const v1::PostOfferRequest& request,
                         v1::PostOfferResponse* response) {
    grpc::ClientContext context;
    return stub_->PostOffer(&context, request, response);
  }
  grpc::Status PostPledge(const v1::PostPledgeRequest& request,
                          v1::PostPledgeResponse* response) {
    grpc::ClientContext context;
    return stub_->PostPledge(&context, request, response);
  }
  // The first event a new WatchMatches stream for `request` sends (its
  // stream then cancelled); false if none came.
  bool FirstWatched(const v1::WatchMatchesRequest& request,
                    v1::MatchEvent* first) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    auto reader = stub_->WatchMatches(&context, request);
    const bool read = reader->Read(first);
    context.TryCancel();
    v1::MatchEvent rest;
    while (reader->Read(&rest)) {
    }
    reader->Finish();
    return read;
  }
  // Sends `batch` on a fresh Submit stream and reads its response; returns
  // the stream's final status (an error if the write or read failed).
  grpc::Status SubmitOnce(const v1::SubmitRequest& batch,
                          v1::SubmitResponse* response) {
    grpc::ClientContext context;
    auto stream = stub_->Submit(&context);
    const bool written = stream->Write(batch);
    stream->WritesDone();
    const bool read = written && stream->Read(response);
    grpc::Status status = stream->Finish();
    if (!written || !read) {
      return grpc::Status(
          grpc::StatusCode::UNKNOWN,
          "Submit: write or read failed: " + status.error_message());
    }
    return status;
  }
  v1::ListOffersResponse ListOffers(const v1::ListOffersRequest& request) {
    grpc::ClientContext context;
    v1::ListOffersResponse response;
    grpc::Status status = stub_->ListOffers(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }
  std::vector<v1::Match> AllMatches() {
    v1::ListMatchesRequest request;
    request.set_page_size(1000);
    grpc::ClientContext context;
    v1::ListMatchesResponse response;
    EXPECT_TRUE(stub_->ListMatches(&context, request, &response).ok());
    return {response.matches().begin(), response.matches().end()};
  }
  // Makes one match of `kg` kg of pepper; returns its match_id.
  uint64_t MakeMatch(int64_t kg) {
    v1::PostOfferResponse offer;
    EXPECT_TRUE(PostOffer(PepperOffer(kg, 9000), &offer).ok());
    v1::PostPledgeResponse pledge;
    EXPECT_TRUE(
        PostPledge(PepperPledge("qingdao-office", "370200", kg, 10000), &pledge)
            .ok());
    EXPECT_EQ(pledge.matches_size(), 1);
    return pledge.matches_size() == 1 ? pledge.matches(0).match_id() : 0;
  }

  std::atomic<int64_t> now_micros_{kStartSeconds * 1000000};
  std::unique_ptr<DuijieServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Exchange::Stub> stub_;
};

TEST_F(IntegrationTest, RegionsAndPairingsAreListedInCodeOrder) {
  v1::ListRegionsRequest request;
  request.set_code_prefix("62");
  v1::ListRegionsResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->ListRegions(&context, request, &response).ok());
  ASSERT_EQ(response.regions_size(), 3);
  EXPECT_EQ(response.regions(0).code(), "620000");
  EXPECT_EQ(response.regions(1).code(), "621200");
  EXPECT_EQ(response.regions(2).code(), "621202");
  EXPECT_EQ(response.regions(2).name(), "Wudu");
  EXPECT_TRUE(response.regions(2).key_assisted());
  EXPECT_EQ(response.next_page_token(), "");

  v1::ListRegionsRequest page;
  page.set_page_size(4);
  v1::ListRegionsResponse first;
  grpc::ClientContext context2;
  ASSERT_TRUE(stub_->ListRegions(&context2, page, &first).ok());
  ASSERT_EQ(first.regions_size(), 4);
  EXPECT_EQ(first.regions(3).code(), "410200");
  ASSERT_NE(first.next_page_token(), "");
  page.set_page_token(first.next_page_token());
  v1::ListRegionsResponse second;
  grpc::ClientContext context3;
  ASSERT_TRUE(stub_->ListRegions(&context3, page, &second).ok());
  ASSERT_EQ(second.regions_size(), 4);
  EXPECT_EQ(second.regions(0).code(), "410225");

  v1::ListPairingsRequest pairings;
  pairings.set_code_prefix("6212");
  v1::ListPairingsResponse listed;
  grpc::ClientContext context4;
  ASSERT_TRUE(stub_->ListPairings(&context4, pairings, &listed).ok());
  ASSERT_EQ(listed.pairings_size(), 1);
  EXPECT_EQ(listed.pairings(0).east_code(), "370200");
  EXPECT_EQ(listed.pairings(0).west_code(), "621200");
  EXPECT_EQ(listed.pairings(0).note(), "Qingdao-Longnan");
}

TEST_F(IntegrationTest, DeletedPairingIsReturnedAndNoLongerListed) {
  v1::DeletePairingRequest request;
  request.set_east_code("370200");
  request.set_west_code("621200");
  v1::DeletePairingResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->DeletePairing(&context, request, &response).ok());
  EXPECT_EQ(response.pairing().note(), "Qingdao-Longnan");

  v1::ListPairingsResponse listed;
  grpc::ClientContext context2;
  ASSERT_TRUE(
      stub_->ListPairings(&context2, v1::ListPairingsRequest(), &listed).ok());
  EXPECT_EQ(listed.pairings_size(), 0);

  grpc::ClientContext context3;
  EXPECT_EQ(stub_->DeletePairing(&context3, request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(IntegrationTest, PledgeMatchesRestingOfferAtOfferFloorWithPartnerFlag) {
  v1::PostOfferResponse offer;
  ASSERT_TRUE(PostOffer(PepperOffer(1000, 9000), &offer).ok());
  EXPECT_EQ(offer.offer().status(), v1::OPEN);
  EXPECT_EQ(offer.offer().remaining_kg(), 1000);
  EXPECT_EQ(offer.matches_size(), 0);
  EXPECT_EQ(offer.offer().posted_at().seconds(), kStartSeconds);

  // Qingdao is paired with Longnan, and Wudu is under Longnan.
  v1::PostPledgeResponse qingdao;
  ASSERT_TRUE(
      PostPledge(PepperPledge("qingdao-office", "370200", 400, 10000), &qingdao)
          .ok());
  ASSERT_EQ(qingdao.matches_size(), 1);
  const v1::Match& match = qingdao.matches(0);
  EXPECT_EQ(match.offer_id(), offer.offer().offer_id());
  EXPECT_EQ(match.pledge_id(), qingdao.pledge().pledge_id());
  EXPECT_EQ(match.quantity_kg(), 400);
  EXPECT_EQ(match.price_fen_per_kg(), 9000);  // the resting offer's floor
  EXPECT_EQ(match.amount_fen(), 400 * 9000);
  EXPECT_TRUE(match.partner());
  EXPECT_EQ(match.supplier_id(), "wudu-pepper-coop");
  EXPECT_EQ(match.buyer_id(), "qingdao-office");
  EXPECT_EQ(match.region_code(), "621202");
  EXPECT_EQ(match.buyer_city_code(), "370200");
  EXPECT_EQ(match.product_code(), "spice.sichuan_pepper");
  EXPECT_EQ(qingdao.pledge().status(), v1::FILLED);
  EXPECT_EQ(qingdao.pledge().spent_fen(), 400 * 9000);

  // Guangzhou is not paired with Longnan.
  v1::PostPledgeResponse guangzhou;
  ASSERT_TRUE(
      PostPledge(PepperPledge("gz-hospital", "440100", 100, 9500), &guangzhou)
          .ok());
  ASSERT_EQ(guangzhou.matches_size(), 1);
  EXPECT_FALSE(guangzhou.matches(0).partner());

  v1::GetOfferRequest get;
  get.set_id(offer.offer().offer_id());
  v1::Offer got;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->GetOffer(&context, get, &got).ok());
  EXPECT_EQ(got.remaining_kg(), 500);
  EXPECT_EQ(got.status(), v1::OPEN);

  v1::GetBookRequest book_request;
  book_request.set_product_code_prefix("spice");
  v1::GetBookResponse book;
  grpc::ClientContext context2;
  ASSERT_TRUE(stub_->GetBook(&context2, book_request, &book).ok());
  ASSERT_EQ(book.lines_size(), 1);
  EXPECT_EQ(book.lines(0).product_code(), "spice.sichuan_pepper");
  EXPECT_EQ(book.lines(0).open_offer_kg(), 500);
  EXPECT_EQ(book.lines(0).open_offer_count(), 1);
  EXPECT_EQ(book.lines(0).best_floor_price_fen_per_kg(), 9000);
}

TEST_F(IntegrationTest, SubmitBadCommandFailsAloneAndResultsKeepOrder) {
  grpc::ClientContext context;
  auto stream = stub_->Submit(&context);

  v1::SubmitRequest request;
  request.set_batch_id("batch-1");
  *request.add_commands()->mutable_post_offer() = PepperOffer(300, 8000);
  v1::PostOfferRequest bad = PepperOffer(300, 8000);
  bad.mutable_offer()->set_quantity_kg(0);
  *request.add_commands()->mutable_post_offer() = bad;
  request.add_commands();  // no command set at all
  *request.add_commands()->mutable_post_pledge() =
      PepperPledge("qingdao-office", "370200", 100, 9000);
  ASSERT_TRUE(stream->Write(request));

  v1::SubmitRequest second;
  second.set_batch_id("batch-2");
  second.add_commands()->mutable_cancel_offer()->set_id(424242);
  ASSERT_TRUE(stream->Write(second));
  ASSERT_TRUE(stream->WritesDone());

  v1::SubmitResponse response;
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.batch_id(), "batch-1");
  ASSERT_EQ(response.results_size(), 4);
  ASSERT_TRUE(response.results(0).has_post_offer());
  const uint64_t offer_id = response.results(0).post_offer().offer().offer_id();
  EXPECT_GT(offer_id, 0u);
  ASSERT_TRUE(response.results(1).has_error());
  EXPECT_EQ(response.results(1).error().code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(response.results(1).error().message(), "quantity_kg"))
      << response.results(1).error().message();
  // The same, for programs: the field within the command, and the rest.
  EXPECT_EQ(response.results(1).error().field(), "offer.quantity_kg");
  EXPECT_EQ(absl::StrCat(response.results(1).error().field(), ": ",
                         response.results(1).error().reason()),
            response.results(1).error().message());
  ASSERT_TRUE(response.results(2).has_error());
  EXPECT_EQ(response.results(2).error().code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(response.results(3).has_post_pledge());
  ASSERT_EQ(response.results(3).post_pledge().matches_size(), 1);
  EXPECT_EQ(response.results(3).post_pledge().matches(0).offer_id(), offer_id);
  EXPECT_EQ(response.results(3).post_pledge().matches(0).quantity_kg(), 100);

  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.batch_id(), "batch-2");
  ASSERT_EQ(response.results_size(), 1);
  ASSERT_TRUE(response.results(0).has_error());
  EXPECT_EQ(response.results(0).error().code(), grpc::StatusCode::NOT_FOUND);

  EXPECT_FALSE(stream->Read(&response));
  EXPECT_TRUE(stream->Finish().ok());

  // The bad offer left nothing behind: one offer exists.
  EXPECT_EQ(ListOffers(v1::ListOffersRequest()).offers_size(), 1);
}

TEST_F(IntegrationTest, SubmitAnswersPipelinedBatchesInOrder) {
  constexpr int kBatches = 40;
  constexpr int kPerBatch = 1000;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  auto stream = stub_->Submit(&context);
  const absl::Time start = absl::Now();
  std::thread writer([&] {
    for (int b = 0; b < kBatches; ++b) {
      v1::SubmitRequest request;
      request.set_batch_id(absl::StrCat("b", b));
      for (int i = 0; i < kPerBatch; ++i) {
        // Alternate offers and pledges so that half the commands match.
        if (i % 2 == 0) {
          *request.add_commands()->mutable_post_offer() = PepperOffer(10, 9000);
        } else {
          *request.add_commands()->mutable_post_pledge() =
              PepperPledge("gz-hospital", "440100", 10, 9000);
        }
      }
      if (!stream->Write(request)) break;
    }
    stream->WritesDone();
  });
  v1::SubmitResponse response;
  int batches = 0;
  uint64_t last_match_id = 0;
  while (stream->Read(&response)) {
    EXPECT_EQ(response.batch_id(), absl::StrCat("b", batches));
    ASSERT_EQ(response.results_size(), kPerBatch);
    for (int i = 1; i < kPerBatch; i += 2) {
      ASSERT_TRUE(response.results(i).has_post_pledge());
      ASSERT_EQ(response.results(i).post_pledge().matches_size(), 1);
      const uint64_t id =
          response.results(i).post_pledge().matches(0).match_id();
      EXPECT_EQ(id, last_match_id + 1);
      last_match_id = id;
    }
    ++batches;
  }
  writer.join();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(batches, kBatches);
  std::printf("%d commands in %d Submit batches: %s\n", kBatches * kPerBatch,
              kBatches, absl::FormatDuration(absl::Now() - start).c_str());
}

TEST_F(IntegrationTest, SubmitOfMoreThanTenThousandCommandsFailsTheStream) {
  grpc::ClientContext context;
  auto stream = stub_->Submit(&context);
  v1::SubmitRequest request;
  for (int i = 0; i < ServerLimits().max_batch + 1; ++i) {
    request.add_commands()->mutable_cancel_offer()->set_id(1);
  }
  stream->Write(request);
  stream->WritesDone();
  v1::SubmitResponse response;
  EXPECT_FALSE(stream->Read(&response));
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(Contains(status.error_message(), "max_batch"));
}

TEST_F(IntegrationTest, WatchMatchesResumesAfterLastSeenMatchWithoutGaps) {
  std::vector<uint64_t> made;
  for (int i = 0; i < 3; ++i) made.push_back(MakeMatch(10 + i));

  // A first watcher sees the history and stops after two matches.
  uint64_t last_seen = 0;
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    auto reader = stub_->WatchMatches(&context, v1::WatchMatchesRequest());
    v1::MatchEvent event;
    ASSERT_TRUE(reader->Read(&event));
    EXPECT_EQ(event.match().match_id(), made[0]);
    ASSERT_TRUE(reader->Read(&event));
    EXPECT_EQ(event.match().match_id(), made[1]);
    last_seen = event.match().match_id();
    context.TryCancel();
    while (reader->Read(&event)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }

  // More matches while nobody watches.
  made.push_back(MakeMatch(20));
  made.push_back(MakeMatch(21));

  // Resuming after the last one seen gets the rest, then live matches.
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::WatchMatchesRequest request;
  request.set_after_match_id(last_seen);
  auto reader = stub_->WatchMatches(&context, request);
  std::vector<uint64_t> seen;
  v1::MatchEvent event;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(reader->Read(&event));
    EXPECT_EQ(event.kind(), v1::NEW_MATCH);
    seen.push_back(event.match().match_id());
  }
  made.push_back(MakeMatch(30));  // made while the stream is open
  ASSERT_TRUE(reader->Read(&event));
  seen.push_back(event.match().match_id());
  EXPECT_EQ(event.match().quantity_kg(), 30);
  EXPECT_EQ(seen, std::vector<uint64_t>(made.begin() + 2, made.end()));
  context.TryCancel();
  while (reader->Read(&event)) {
  }
  reader->Finish();
}

TEST_F(IntegrationTest, WatchMatchesMarksTheEndOfHistoryAndBeatsWhileIdle) {
  MakeMatch(10);
  MakeMatch(11);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  v1::WatchMatchesRequest request;
  request.set_progress_events(true);
  auto reader = stub_->WatchMatches(&context, request);
  v1::MatchEvent event;
  // The history, then the marker: the last event so far, no match.
  for (uint64_t id : {1, 2}) {
    ASSERT_TRUE(reader->Read(&event));
    EXPECT_EQ(event.kind(), v1::NEW_MATCH);
    EXPECT_EQ(event.event_id(), id);
  }
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.kind(), v1::CAUGHT_UP);
  EXPECT_EQ(event.event_id(), 2u);
  EXPECT_FALSE(event.has_match());
  // Idle and live: heartbeats at the last event id.
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.kind(), v1::HEARTBEAT);
  EXPECT_EQ(event.event_id(), 2u);
  EXPECT_FALSE(event.has_match());
  // A new match comes through (after any heartbeats), and later heartbeats
  // carry its event id.
  MakeMatch(12);
  do {
    ASSERT_TRUE(reader->Read(&event));
  } while (event.kind() == v1::HEARTBEAT);
  EXPECT_EQ(event.kind(), v1::NEW_MATCH);
  EXPECT_EQ(event.event_id(), 3u);
  EXPECT_EQ(event.match().quantity_kg(), 12);
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.kind(), v1::HEARTBEAT);
  EXPECT_EQ(event.event_id(), 3u);
  context.TryCancel();
  while (reader->Read(&event)) {
  }
  reader->Finish();

  // A filter that hides every event still gets the marker, at the last
  // event: resuming after it misses nothing.
  v1::WatchMatchesRequest hidden;
  hidden.set_progress_events(true);
  hidden.set_offer_id(999999);
  ASSERT_TRUE(FirstWatched(hidden, &event));
  EXPECT_EQ(event.kind(), v1::CAUGHT_UP);
  EXPECT_EQ(event.event_id(), 3u);
  // So does a stream with no history to send.
  v1::WatchMatchesRequest at_end;
  at_end.set_progress_events(true);
  at_end.set_after_event_id(3);
  ASSERT_TRUE(FirstWatched(at_end, &event));
  EXPECT_EQ(event.kind(), v1::CAUGHT_UP);
  EXPECT_EQ(event.event_id(), 3u);
  // Without progress_events the stream sends match events only: the
  // first one after the history is the next match.
  grpc::ClientContext plain_context;
  plain_context.set_deadline(
      absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  v1::WatchMatchesRequest plain;
  plain.set_after_event_id(3);
  auto plain_reader = stub_->WatchMatches(&plain_context, plain);
  absl::SleepFor(absl::Milliseconds(300));  // several heartbeat intervals
  MakeMatch(13);
  ASSERT_TRUE(plain_reader->Read(&event));
  EXPECT_EQ(event.kind(), v1::NEW_MATCH);
  EXPECT_EQ(event.event_id(), 4u);
  plain_context.TryCancel();
  while (plain_reader->Read(&event)) {
  }
  plain_reader->Finish();
}

TEST_F(IntegrationTest, WatchMatchesFiltersByBuyer) {
  MakeMatch(5);
  v1::PostOfferResponse offer;
  ASSERT_TRUE(PostOffer(PepperOffer(7, 9000), &offer).ok());
  v1::PostPledgeResponse pledge;
  ASSERT_TRUE(
      PostPledge(PepperPledge("gz-hospital", "440100", 7, 9000), &pledge).ok());
  v1::WatchMatchesRequest request;
  request.set_buyer_id("gz-hospital");
  v1::MatchEvent event;
  ASSERT_TRUE(FirstWatched(request, &event));
  EXPECT_EQ(event.match().buyer_id(), "gz-hospital");
  EXPECT_EQ(event.match().quantity_kg(), 7);
}

TEST_F(IntegrationTest, WatchMatchesEndsWhenTheServerShutsDown) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  auto reader = stub_->WatchMatches(&context, v1::WatchMatchesRequest());
  MakeMatch(1);
  v1::MatchEvent event;
  ASSERT_TRUE(reader->Read(&event));
  const absl::Time start = absl::Now();
  std::thread stopper([this] { server_->Shutdown(absl::Seconds(5)); });
  while (reader->Read(&event)) {
  }
  grpc::Status status = reader->Finish();
  stopper.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));
}

TEST_F(IntegrationTest, RetryWithSameRequestIdReturnsFirstResponseUnchanged) {
  v1::PostOfferRequest offer_request = PepperOffer(500, 9000);
  offer_request.set_request_id("offer-once");
  v1::PostOfferResponse first_offer, again_offer;
  ASSERT_TRUE(PostOffer(offer_request, &first_offer).ok());

  v1::PostPledgeRequest pledge_request =
      PepperPledge("qingdao-office", "370200", 200, 10000);
  pledge_request.set_request_id("pledge-once");
  v1::PostPledgeResponse first_pledge, again_pledge;
  ASSERT_TRUE(PostPledge(pledge_request, &first_pledge).ok());
  ASSERT_EQ(first_pledge.matches_size(), 1);

  // Retrying both, after the offer has changed, answers as the first time.
  ASSERT_TRUE(PostOffer(offer_request, &again_offer).ok());
  ASSERT_TRUE(PostPledge(pledge_request, &again_pledge).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(first_offer, again_offer))
      << first_offer.DebugString() << " vs " << again_offer.DebugString();
  EXPECT_TRUE(MessageDifferencer::Equals(first_pledge, again_pledge))
      << first_pledge.DebugString() << " vs " << again_pledge.DebugString();

  // And nothing changed: one offer with 300 kg left, one match.
  v1::ListOffersResponse offers = ListOffers(v1::ListOffersRequest());
  ASSERT_EQ(offers.offers_size(), 1);
  EXPECT_EQ(offers.offers(0).remaining_kg(), 300);
  EXPECT_EQ(AllMatches().size(), 1u);

  // The same holds inside a Submit batch.
  v1::SubmitRequest batch;
  *batch.add_commands()->mutable_post_offer() = offer_request;
  v1::SubmitResponse response;
  ASSERT_TRUE(SubmitOnce(batch, &response).ok());
  ASSERT_EQ(response.results_size(), 1);
  EXPECT_TRUE(MessageDifferencer::Equals(response.results(0).post_offer(),
                                         first_offer));
  EXPECT_EQ(ListOffers(v1::ListOffersRequest()).offers_size(), 1);
}

TEST_F(IntegrationTest, RelativeExpiryIsCountedFromWhenTheServerAppliesIt) {
  v1::PostOfferRequest offer_request = PepperOffer(500, 9000);
  offer_request.mutable_offer()->clear_expires_at();
  offer_request.mutable_expires_in()->set_seconds(3 * 86400);
  offer_request.set_request_id("offer-in-3-days");
  v1::PostOfferResponse first;
  ASSERT_TRUE(PostOffer(offer_request, &first).ok());
  EXPECT_EQ(first.offer().expires_at().seconds(),
            first.offer().posted_at().seconds() + 3 * 86400);

  // A retry an hour later is the same request: the first answer, unchanged.
  now_micros_ += int64_t{3600} * 1000000;
  v1::PostOfferResponse again;
  ASSERT_TRUE(PostOffer(offer_request, &again).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(first, again))
      << first.DebugString() << " vs " << again.DebugString();
  EXPECT_EQ(ListOffers(v1::ListOffersRequest()).offers_size(), 1);

  // Pledges take it too, through Submit as well.
  v1::PostPledgeRequest pledge_request =
      PepperPledge("qingdao-office", "370200", 200, 10000);
  pledge_request.mutable_pledge()->clear_expires_at();
  pledge_request.mutable_expires_in()->set_seconds(86400);
  v1::SubmitRequest batch;
  *batch.add_commands()->mutable_post_pledge() = pledge_request;
  v1::SubmitResponse response;
  ASSERT_TRUE(SubmitOnce(batch, &response).ok());
  ASSERT_EQ(response.results_size(), 1);
  const v1::Pledge& pledge = response.results(0).post_pledge().pledge();
  EXPECT_EQ(pledge.expires_at().seconds(),
            pledge.posted_at().seconds() + 86400);
}

TEST_F(IntegrationTest, ExpiryMustBeGivenOnceAbsoluteOrRelative) {
  struct Case {
    bool at;
    int64_t in_seconds;  // 0: unset
    int32_t in_nanos;
    std::string field;
  };
  for (const Case& c : std::vector<Case>{
           {true, 86400, 0, "offer.expires_at and expires_in"},
           {false, 0, 0, "offer.expires_at: required"},
           {false, -5, 0, "expires_in"},
           {false, 0, 999, "expires_in"},
           {false, int64_t{200} * 366 * 86400, 0, "expires_in"}}) {
    v1::PostOfferRequest request = PepperOffer(500, 9000);
    if (!c.at) request.mutable_offer()->clear_expires_at();
    if (c.in_seconds != 0 || c.in_nanos != 0) {
      request.mutable_expires_in()->set_seconds(c.in_seconds);
      request.mutable_expires_in()->set_nanos(c.in_nanos);
    }
    v1::PostOfferResponse response;
    grpc::Status status = PostOffer(request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << c.field;
    EXPECT_TRUE(Contains(status.error_message(), c.field))
        << status.error_message();
  }
  EXPECT_EQ(ListOffers(v1::ListOffersRequest()).offers_size(), 0);
}

TEST_F(IntegrationTest, SameRequestIdWithDifferentBodyIsAlreadyExists) {
  v1::PostOfferRequest request = PepperOffer(500, 9000);
  request.set_request_id("offer-x");
  v1::PostOfferResponse response;
  ASSERT_TRUE(PostOffer(request, &response).ok());
  request.mutable_offer()->set_quantity_kg(501);
  grpc::Status status = PostOffer(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_TRUE(Contains(status.error_message(), "request_id"));
  EXPECT_EQ(ListOffers(v1::ListOffersRequest()).offers_size(), 1);

  // Another kind of command with that request_id is also another body.
  v1::CancelOfferRequest cancel;
  cancel.set_request_id("offer-x");
  cancel.set_id(response.offer().offer_id());
  v1::CancelOfferResponse cancelled;
  grpc::ClientContext context;
  EXPECT_EQ(stub_->CancelOffer(&context, cancel, &cancelled).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
}

TEST_F(IntegrationTest,
       BadInputIsInvalidArgumentNamingTheFieldAndChangesNothing) {
  struct Case {
    std::string field;
    std::function<void(v1::Offer*)> spoil;
  };
  std::vector<Case> cases = {
      {"quantity_kg", [](v1::Offer* o) { o->set_quantity_kg(0); }},
      {"floor_price_fen_per_kg",
       [](v1::Offer* o) { o->set_floor_price_fen_per_kg(-5); }},
      {"grade", [](v1::Offer* o) { o->set_grade(static_cast<v1::Grade>(9)); }},
      {"region_code", [](v1::Offer* o) { o->set_region_code("62"); }},
      {"product_code", [](v1::Offer* o) { o->set_product_code("Spice..x"); }},
      {"min_lot_kg", [](v1::Offer* o) { o->set_min_lot_kg(100000); }},
      {"expires_at",
       [](v1::Offer* o) { *o->mutable_expires_at() = InDays(-1); }},
      {"expires_at", [](v1::Offer* o) { o->clear_expires_at(); }},
      {"supplier_id",
       [](v1::Offer* o) { o->set_supplier_id(std::string(65, 'x')); }},
  };
  for (const Case& c : cases) {
    v1::PostOfferRequest request = PepperOffer(100, 9000);
    c.spoil(request.mutable_offer());
    v1::PostOfferResponse response;
    grpc::Status status = PostOffer(request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << c.field << ": " << status.error_message();
    EXPECT_TRUE(Contains(status.error_message(), c.field))
        << c.field << ": " << status.error_message();
  }

  v1::PostPledgeRequest pledge = PepperPledge("b", "370200", 10, 100);
  pledge.mutable_pledge()->set_scope(v1::LISTED_REGIONS);
  v1::PostPledgeResponse pledge_response;
  grpc::Status status = PostPledge(pledge, &pledge_response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(status.error_message(), "region_codes"))
      << status.error_message();
  pledge.mutable_pledge()->set_scope(static_cast<v1::Scope>(7));
  status = PostPledge(pledge, &pledge_response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(status.error_message(), "scope"))
      << status.error_message();

  // Nothing changed.
  EXPECT_EQ(ListOffers(v1::ListOffersRequest()).offers_size(), 0);
  v1::GetBookResponse book;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->GetBook(&context, v1::GetBookRequest(), &book).ok());
  EXPECT_EQ(book.lines_size(), 0);

  // Reads check their paging input too.
  v1::ListOffersRequest negative;
  negative.set_page_size(-1);
  v1::ListOffersResponse offers;
  grpc::ClientContext context2;
  status = stub_->ListOffers(&context2, negative, &offers);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(status.error_message(), "page_size"));
  v1::ListOffersRequest bad_token;
  bad_token.set_page_token("not-a-token");
  grpc::ClientContext context3;
  status = stub_->ListOffers(&context3, bad_token, &offers);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(status.error_message(), "page_token"));
}

TEST_F(IntegrationTest, CancellingAClosedOfferIsFailedPrecondition) {
  v1::PostOfferResponse offer;
  ASSERT_TRUE(PostOffer(PepperOffer(800, 9000), &offer).ok());
  v1::PostPledgeResponse pledge;
  ASSERT_TRUE(
      PostPledge(PepperPledge("qingdao-office", "370200", 300, 9000), &pledge)
          .ok());

  v1::CancelOfferRequest cancel;
  cancel.set_id(offer.offer().offer_id());
  v1::CancelOfferResponse cancelled;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->CancelOffer(&context, cancel, &cancelled).ok());
  EXPECT_EQ(cancelled.offer().status(), v1::CANCELLED);
  EXPECT_EQ(cancelled.unfilled_kg(), 500);

  grpc::ClientContext context2;
  grpc::Status status = stub_->CancelOffer(&context2, cancel, &cancelled);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << status.error_message();

  cancel.set_id(999);
  grpc::ClientContext context3;
  EXPECT_EQ(stub_->CancelOffer(&context3, cancel, &cancelled).error_code(),
            grpc::StatusCode::NOT_FOUND);

  v1::CancelPledgeRequest cancel_pledge;
  cancel_pledge.set_id(pledge.pledge().pledge_id());  // filled
  v1::CancelPledgeResponse pledge_cancelled;
  grpc::ClientContext context4;
  EXPECT_EQ(stub_->CancelPledge(&context4, cancel_pledge, &pledge_cancelled)
                .error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(IntegrationTest, AmendmentsChangeOrdersInPlaceAndMatchAtOnce) {
  // An offer at 90 yuan/kg and a pledge bidding 80: no match.
  v1::PostOfferResponse offer;
  ASSERT_TRUE(PostOffer(PepperOffer(800, 9000), &offer).ok());
  v1::PostPledgeResponse pledge;
  ASSERT_TRUE(
      PostPledge(PepperPledge("qingdao-office", "370200", 300, 8000), &pledge)
          .ok());
  ASSERT_EQ(pledge.matches_size(), 0);

  // The cooperative lowers its floor to 80 and its quantity to 700 kg: the
  // pledge is filled at once, at the resting pledge's price.
  v1::AmendOfferRequest amend;
  amend.set_request_id("amend-1");
  amend.set_id(offer.offer().offer_id());
  amend.set_floor_price_fen_per_kg(8000);
  amend.set_quantity_kg(700);
  amend.mutable_ship_within()->set_seconds(72 * 3600);
  v1::AmendOfferResponse amended;
  grpc::ClientContext context;
  grpc::Status status = stub_->AmendOffer(&context, amend, &amended);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(amended.offer().quantity_kg(), 700);
  EXPECT_EQ(amended.offer().floor_price_fen_per_kg(), 8000);
  EXPECT_EQ(amended.offer().remaining_kg(), 400);
  EXPECT_EQ(amended.offer().min_lot_kg(), 0);  // unset: unchanged
  ASSERT_EQ(amended.matches_size(), 1);
  EXPECT_EQ(amended.match_count(), 1);
  EXPECT_EQ(amended.matches(0).pledge_id(), pledge.pledge().pledge_id());
  EXPECT_EQ(amended.matches(0).quantity_kg(), 300);
  EXPECT_EQ(amended.matches(0).price_fen_per_kg(), 8000);
  EXPECT_EQ(amended.matches(0).amount_fen(), 2400000);

  // The same request again answers the first answer.
  v1::AmendOfferResponse again;
  grpc::ClientContext context2;
  ASSERT_TRUE(stub_->AmendOffer(&context2, amend, &again).ok());
  EXPECT_EQ(again.matches_size(), 1);
  EXPECT_EQ(again.matches(0).match_id(), amended.matches(0).match_id());

  // Below what was matched (300 kg): INVALID_ARGUMENT naming the field.
  v1::AmendOfferRequest below;
  below.set_id(offer.offer().offer_id());
  below.set_quantity_kg(299);
  grpc::ClientContext context3;
  status = stub_->AmendOffer(&context3, below, &amended);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(status.error_message(), "quantity_kg"))
      << status.error_message();

  // A filled pledge cannot be amended; through Submit, a pledge amendment
  // widens an open pledge's budget.
  v1::PostPledgeResponse second;
  ASSERT_TRUE(
      PostPledge(PepperPledge("qingdao-office", "370200", 100, 7000), &second)
          .ok());
  grpc::ClientContext submit_context;
  auto stream = stub_->Submit(&submit_context);
  v1::SubmitRequest batch;
  v1::AmendPledgeRequest* closed = batch.add_commands()->mutable_amend_pledge();
  closed->set_id(pledge.pledge().pledge_id());
  closed->set_max_price_fen_per_kg(9000);
  v1::AmendPledgeRequest* raise = batch.add_commands()->mutable_amend_pledge();
  raise->set_id(second.pledge().pledge_id());
  raise->set_max_price_fen_per_kg(8000);
  raise->mutable_accept_within()->set_seconds(48 * 3600);
  ASSERT_TRUE(stream->Write(batch));
  stream->WritesDone();
  v1::SubmitResponse submitted;
  ASSERT_TRUE(stream->Read(&submitted));
  ASSERT_TRUE(stream->Finish().ok());
  ASSERT_EQ(submitted.results_size(), 2);
  ASSERT_TRUE(submitted.results(0).has_error());
  EXPECT_EQ(submitted.results(0).error().code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(Contains(submitted.results(0).error().message(), "FILLED"));
  ASSERT_TRUE(submitted.results(1).has_amend_pledge());
  const v1::AmendPledgeResponse& raised = submitted.results(1).amend_pledge();
  EXPECT_EQ(raised.pledge().max_price_fen_per_kg(), 8000);
  ASSERT_EQ(raised.matches_size(), 1);
  EXPECT_EQ(raised.matches(0).quantity_kg(), 100);
  EXPECT_EQ(raised.matches(0).price_fen_per_kg(), 8000);  // the offer's floor
  EXPECT_EQ(raised.pledge().status(), v1::FILLED);
}

// A match carried through to delivery: unary ShipMatch, then a Submit batch
// that accepts one match, ships another and fails a decline alone.
// A standing pledge through gRPC: posted without an expiry (it ends at
// until), it refills at Shanghai midnight and GetPledge lists both days.
TEST_F(IntegrationTest, StandingPledgeRefillsEachDayThroughGrpc) {
  v1::PostOfferResponse offer;
  ASSERT_TRUE(PostOffer(PepperOffer(150, 9000), &offer).ok());
  v1::PostPledgeRequest request =
      PepperPledge("qingdao-office", "370200", 100, 10000);
  request.mutable_pledge()->clear_expires_at();
  v1::Recurrence* r = request.mutable_pledge()->mutable_recurrence();
  r->set_period(v1::DAILY);
  r->set_quantity_kg(100);
  *r->mutable_until() = InDays(5);
  v1::PostPledgeResponse pledge;
  ASSERT_TRUE(PostPledge(request, &pledge).ok());
  EXPECT_EQ(pledge.pledge().expires_at().seconds(), kStartSeconds + 5 * 86400);
  EXPECT_EQ(pledge.pledge().status(), v1::FILLED);
  ASSERT_EQ(pledge.matches_size(), 1);

  // The next day, before any other command, the office lowers today's kg
  // to 80. The writer ticks first (the period's start is due): the pledge
  // has refilled and taken the offer's last 50 kg, so it is open again and
  // may be amended (judged on the state before the tick, it was FILLED).
  now_micros_ += int64_t{86400} * 1000000;
  v1::AmendPledgeRequest amend;
  amend.set_id(pledge.pledge().pledge_id());
  amend.set_quantity_kg(80);
  v1::AmendPledgeResponse amended;
  {
    grpc::ClientContext context;
    grpc::Status status = stub_->AmendPledge(&context, amend, &amended);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  EXPECT_EQ(amended.pledge().quantity_kg(), 80);
  EXPECT_EQ(amended.pledge().remaining_kg(), 30);
  v1::GetPledgeRequest get;
  get.set_id(pledge.pledge().pledge_id());
  v1::Pledge got;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->GetPledge(&context, get, &got).ok());
  EXPECT_EQ(got.recurrence().period(), v1::DAILY);
  EXPECT_EQ(got.recurrence().until().seconds(), kStartSeconds + 5 * 86400);
  ASSERT_EQ(got.periods_size(), 2);
  // The test clock starts at 08:00 in Shanghai: the first day began 8 h
  // before it.
  EXPECT_EQ(got.periods(0).start().seconds(), kStartSeconds - 8 * 3600);
  EXPECT_EQ(got.periods(1).start().seconds(), kStartSeconds + 16 * 3600);
  EXPECT_EQ(got.periods(0).pledged_kg(), 100);
  EXPECT_EQ(got.periods(0).matched_kg(), 100);
  EXPECT_EQ(got.periods(0).spent_fen(), 900000);
  EXPECT_EQ(got.periods(1).pledged_kg(), 80);
  EXPECT_EQ(got.periods(1).matched_kg(), 50);
  EXPECT_EQ(got.periods(1).spent_fen(), 450000);

  // A recurrence without until is refused before the engine sees it.
  v1::PostPledgeRequest bad = request;
  bad.mutable_pledge()->mutable_recurrence()->clear_until();
  v1::PostPledgeResponse refused;
  grpc::Status status = PostPledge(bad, &refused);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(status.error_message(), "pledge.recurrence.until"))
      << status.error_message();
}

// Batch clearing through the API: a policy for spices, orders that rest
// though they cross, the book's next clearing time, and the writer running
// the clearing on its own when the clock reaches it; the match streams out
// and is priced at the offer's floor.
TEST_F(IntegrationTest, BatchClearingRunsOnTimeAndStreamsItsMatches) {
  v1::SetClearingPolicyRequest set;
  set.mutable_policy()->set_product_prefix("spice");
  set.mutable_policy()->mutable_interval()->set_seconds(3600);
  v1::ClearingPolicy policy;
  {
    grpc::ClientContext context;
    grpc::Status status = stub_->SetClearingPolicy(&context, set, &policy);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  EXPECT_EQ(policy.next_clearing_at().seconds(), kStartSeconds + 3600);
  v1::ListClearingPoliciesResponse policies;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_
                    ->ListClearingPolicies(
                        &context, v1::ListClearingPoliciesRequest(), &policies)
                    .ok());
  }
  ASSERT_EQ(policies.policies_size(), 1);
  EXPECT_EQ(policies.policies(0).interval().seconds(), 3600);

  // Both can wait (the pledge expires at 1:30, after the 1:00 clearing):
  // they rest, unmatched.
  v1::PostOfferResponse offer;
  ASSERT_TRUE(PostOffer(PepperOffer(500, 9000), &offer).ok());
  v1::PostPledgeRequest request =
      PepperPledge("qingdao-office", "370200", 200, 10000);
  request.mutable_pledge()->mutable_expires_at()->set_seconds(kStartSeconds +
                                                              5400);
  v1::PostPledgeResponse pledge;
  ASSERT_TRUE(PostPledge(request, &pledge).ok());
  EXPECT_EQ(pledge.matches_size(), 0);
  v1::GetBookResponse book;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->GetBook(&context, v1::GetBookRequest(), &book).ok());
  }
  ASSERT_GT(book.lines_size(), 0);
  for (const v1::BookLine& line : book.lines()) {
    EXPECT_EQ(line.next_clearing_at().seconds(), kStartSeconds + 3600)
        << line.product_code();
  }

  // The clock reaches 1:00 and nothing else happens: the writer clears.
  now_micros_ += int64_t{3600} * 1000000;
  v1::MatchEvent event;
  ASSERT_TRUE(FirstWatched(v1::WatchMatchesRequest(), &event));
  EXPECT_EQ(event.match().quantity_kg(), 200);
  EXPECT_EQ(event.match().price_fen_per_kg(), 9000);
  EXPECT_TRUE(event.match().partner());

  // A bad interval names the field.
  set.mutable_policy()->mutable_interval()->set_nanos(5);
  grpc::ClientContext context;
  grpc::Status status = stub_->SetClearingPolicy(&context, set, &policy);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(status.error_message(), "policy.interval"))
      << status.error_message();
}

TEST_F(IntegrationTest, GlutAlertsAreRaisedListedWithCandidatesAndCleared) {
  v1::SetAlertThresholdsRequest set;
  v1::AlertThresholds* t = set.mutable_thresholds();
  t->mutable_horizon()->set_seconds(72 * 3600);
  t->set_min_gap_kg(500);
  t->set_min_ratio_permille(1000);
  t->set_clear_permille(500);
  {
    v1::AlertThresholds out;
    grpc::ClientContext context;
    grpc::Status status = stub_->SetAlertThresholds(&context, set, &out);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(out.min_gap_kg(), 500);
    EXPECT_EQ(out.horizon().seconds(), 72 * 3600);
  }
  {
    v1::SetAlertThresholdsRequest bad = set;
    bad.mutable_thresholds()->set_min_ratio_permille(10);
    v1::AlertThresholds out;
    grpc::ClientContext context;
    grpc::Status status = stub_->SetAlertThresholds(&context, bad, &out);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("min_ratio_permille"),
              std::string::npos)
        << status.error_message();
  }
  // Qingdao (paired with Longnan) bids too little to take the pepper.
  v1::PostPledgeResponse cheap;
  ASSERT_TRUE(
      PostPledge(PepperPledge("qingdao-office", "370200", 300, 8000), &cheap)
          .ok());
  // 1,000 kg of Wudu pepper that spoil in two days: at risk at once.
  v1::PostOfferRequest glut = PepperOffer(1000, 9000);
  *glut.mutable_offer()->mutable_expires_at() = InDays(2);
  v1::PostOfferResponse offer;
  ASSERT_TRUE(PostOffer(glut, &offer).ok());

  v1::ListAlertsRequest list;
  list.set_region_code_prefix("621202");
  v1::ListAlertsResponse alerts;
  {
    grpc::ClientContext context;
    grpc::Status status = stub_->ListAlerts(&context, list, &alerts);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  ASSERT_EQ(alerts.alerts_size(), 1);
  const v1::Alert& a = alerts.alerts(0);
  EXPECT_EQ(a.product_code(), "spice.sichuan_pepper");
  EXPECT_EQ(a.region_code(), "621202");
  EXPECT_EQ(a.level(), v1::WARNING);
  EXPECT_EQ(a.at_risk_kg(), 1000);
  EXPECT_EQ(a.demand_kg(), 0);
  EXPECT_EQ(a.households(), 120);
  EXPECT_EQ(a.raised_at().seconds(), kStartSeconds);
  EXPECT_FALSE(a.has_cleared_at());
  ASSERT_EQ(a.candidates_size(), 1);
  EXPECT_EQ(a.candidates(0).pledge_id(), cheap.pledge().pledge_id());
  EXPECT_EQ(a.candidates(0).buyer_city_code(), "370200");
  EXPECT_EQ(a.candidates(0).kg(), 300);
  ASSERT_EQ(a.candidates(0).changes_size(), 1);
  EXPECT_EQ(a.candidates(0).changes(0), "max price 9000 fen/kg");

  // A pledge that takes 800 kg leaves 200 at risk: below half the gap.
  v1::PostPledgeResponse taker;
  ASSERT_TRUE(
      PostPledge(PepperPledge("gz-hospital", "440100", 800, 9500), &taker)
          .ok());
  ASSERT_EQ(taker.matches_size(), 1);
  {
    v1::ListAlertsResponse open;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->ListAlerts(&context, list, &open).ok());
    EXPECT_EQ(open.alerts_size(), 0);
  }
  list.set_include_cleared(true);
  {
    v1::ListAlertsResponse all;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->ListAlerts(&context, list, &all).ok());
    ASSERT_EQ(all.alerts_size(), 1);
    EXPECT_TRUE(all.alerts(0).has_cleared_at());
    EXPECT_EQ(all.alerts(0).at_risk_kg(), 200);
  }
  v1::ListAlertThresholdsResponse thresholds;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_
                    ->ListAlertThresholds(
                        &context, v1::ListAlertThresholdsRequest(), &thresholds)
                    .ok());
  }
  ASSERT_EQ(thresholds.thresholds_size(), 1);
  EXPECT_EQ(thresholds.thresholds(0).category(), "");
  EXPECT_EQ(thresholds.thresholds(0).min_gap_kg(), 500);
}

TEST_F(IntegrationTest, WatchAlertsStreamsHistoryThenLiveAndResumes) {
  v1::SetAlertThresholdsRequest set;
  v1::AlertThresholds* t = set.mutable_thresholds();
  t->mutable_horizon()->set_seconds(72 * 3600);
  t->set_min_gap_kg(500);
  t->set_min_ratio_permille(1000);
  t->set_clear_permille(500);
  {
    v1::AlertThresholds out;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->SetAlertThresholds(&context, set, &out).ok());
  }
  // 1,000 kg of Wudu pepper that spoil in two days: a glut at once.
  v1::PostOfferRequest glut = PepperOffer(1000, 9000);
  *glut.mutable_offer()->mutable_expires_at() = InDays(2);
  v1::PostOfferResponse offer;
  ASSERT_TRUE(PostOffer(glut, &offer).ok());

  // From the start, for the county: the raise, then the marker.
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  v1::WatchAlertsRequest request;
  request.set_region_code_prefix("621202");
  request.set_progress_events(true);
  auto reader = stub_->WatchAlerts(&context, request);
  v1::AlertEvent event;
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.kind(), v1::RAISED);
  EXPECT_EQ(event.alert().product_code(), "spice.sichuan_pepper");
  EXPECT_EQ(event.alert().region_code(), "621202");
  EXPECT_EQ(event.alert().at_risk_kg(), 1000);
  EXPECT_FALSE(event.alert().has_cleared_at());
  const uint64_t raised = event.event_id();
  const uint64_t alert_id = event.alert().alert_id();
  EXPECT_GE(raised, 1u);
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.kind(), v1::ALERT_CAUGHT_UP);
  EXPECT_GE(event.event_id(), raised);
  EXPECT_FALSE(event.has_alert());

  // A pledge that takes 800 kg clears it: the live stream gets CLEARED
  // (after any heartbeats).
  v1::PostPledgeResponse taker;
  ASSERT_TRUE(
      PostPledge(PepperPledge("gz-hospital", "440100", 800, 9500), &taker)
          .ok());
  do {
    ASSERT_TRUE(reader->Read(&event));
  } while (event.kind() == v1::ALERT_HEARTBEAT);
  EXPECT_EQ(event.kind(), v1::CLEARED);
  EXPECT_GT(event.event_id(), raised);
  EXPECT_EQ(event.alert().alert_id(), alert_id);
  EXPECT_TRUE(event.alert().has_cleared_at());
  EXPECT_EQ(event.alert().at_risk_kg(), 200);
  const uint64_t cleared = event.event_id();
  context.TryCancel();
  while (reader->Read(&event)) {
  }
  reader->Finish();

  // Resumed after the raise: the clearing only, then the marker.
  {
    grpc::ClientContext resume_context;
    resume_context.set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    v1::WatchAlertsRequest resume = request;
    resume.set_after_event_id(raised);
    auto resumed = stub_->WatchAlerts(&resume_context, resume);
    ASSERT_TRUE(resumed->Read(&event));
    EXPECT_EQ(event.kind(), v1::CLEARED);
    EXPECT_EQ(event.event_id(), cleared);
    ASSERT_TRUE(resumed->Read(&event));
    EXPECT_EQ(event.kind(), v1::ALERT_CAUGHT_UP);
    EXPECT_GE(event.event_id(), cleared);
    resume_context.TryCancel();
    while (resumed->Read(&event)) {
    }
    resumed->Finish();
  }
  // A product filter that hides the alert: the marker only.
  {
    grpc::ClientContext other_context;
    other_context.set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    v1::WatchAlertsRequest other;
    other.set_product_code_prefix("vegetable");
    other.set_progress_events(true);
    auto hidden = stub_->WatchAlerts(&other_context, other);
    ASSERT_TRUE(hidden->Read(&event));
    EXPECT_EQ(event.kind(), v1::ALERT_CAUGHT_UP);
    EXPECT_GE(event.event_id(), cleared);
    other_context.TryCancel();
    while (hidden->Read(&event)) {
    }
    hidden->Finish();
  }
  // A cursor no client can have seen is refused, naming the field.
  {
    grpc::ClientContext bad_context;
    bad_context.set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    v1::WatchAlertsRequest bad;
    bad.set_after_event_id(cleared + 1000);
    auto refused = stub_->WatchAlerts(&bad_context, bad);
    EXPECT_FALSE(refused->Read(&event));
    grpc::Status status = refused->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("after_event_id"), std::string::npos)
        << status.error_message();
  }
}

TEST_F(IntegrationTest, WatchAlertsEndsWhenTheServerShutsDown) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  v1::WatchAlertsRequest request;
  request.set_progress_events(true);
  auto reader = stub_->WatchAlerts(&context, request);
  v1::AlertEvent event;
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.kind(), v1::ALERT_CAUGHT_UP);
  EXPECT_EQ(event.event_id(), 0u);
  const absl::Time start = absl::Now();
  std::thread stopper([this] { server_->Shutdown(absl::Seconds(5)); });
  while (reader->Read(&event)) {
  }
  grpc::Status status = reader->Finish();
  stopper.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));
}

TEST_F(IntegrationTest, MatchesAreShippedAcceptedAndDeclinedThroughGrpc) {
  v1::PostOfferResponse offer;
  ASSERT_TRUE(PostOffer(PepperOffer(1000, 9000), &offer).ok());
  v1::PostPledgeResponse pledge;
  ASSERT_TRUE(
      PostPledge(PepperPledge("qingdao-office", "370200", 400, 10000), &pledge)
          .ok());
  ASSERT_EQ(pledge.matches_size(), 1);
  const v1::Match& made = pledge.matches(0);
  EXPECT_EQ(made.status(), v1::MATCHED);
  EXPECT_EQ(made.ship_by().seconds(), kStartSeconds + 7 * 86400);
  EXPECT_FALSE(made.has_shipped_at());

  // 300 of 400 shipped: 100 kg back to the pledge, which takes them from
  // the same offer at once (match 2).
  v1::ShipMatchRequest ship;
  ship.set_match_id(made.match_id());
  ship.set_shipped_kg(300);
  ship.set_note("waybill SF1");
  v1::MatchUpdateResponse shipped;
  {
    grpc::ClientContext context;
    grpc::Status status = stub_->ShipMatch(&context, ship, &shipped);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  EXPECT_EQ(shipped.match().status(), v1::SHIPPED);
  EXPECT_EQ(shipped.match().shipped_kg(), 300);
  EXPECT_EQ(shipped.match().returned_kg(), 100);
  EXPECT_EQ(shipped.match().note(), "waybill SF1");
  EXPECT_EQ(shipped.match().accept_by().seconds(), kStartSeconds + 7 * 86400);
  ASSERT_EQ(shipped.matches_size(), 1);
  EXPECT_EQ(shipped.matches(0).quantity_kg(), 100);
  const uint64_t second = shipped.matches(0).match_id();

  v1::SubmitRequest batch;
  batch.add_commands()->mutable_ship_match()->set_match_id(second);
  batch.add_commands()->mutable_decline_match()->set_match_id(second);
  batch.add_commands()->mutable_accept_match()->set_match_id(made.match_id());
  v1::SubmitResponse results;
  ASSERT_TRUE(SubmitOnce(batch, &results).ok());
  ASSERT_EQ(results.results_size(), 3);
  ASSERT_TRUE(results.results(0).has_ship_match());
  EXPECT_EQ(results.results(0).ship_match().match().status(), v1::SHIPPED);
  // A decline without a reason fails alone.
  ASSERT_TRUE(results.results(1).has_error());
  EXPECT_EQ(results.results(1).error().code(), grpc::INVALID_ARGUMENT);
  EXPECT_NE(results.results(1).error().message().find("reason"),
            std::string::npos)
      << results.results(1).error().message();
  ASSERT_TRUE(results.results(2).has_accept_match());
  EXPECT_EQ(results.results(2).accept_match().match().status(), v1::DELIVERED);
  EXPECT_EQ(results.results(2).accept_match().match().accepted_kg(), 300);

  // A second shipment of the same match is refused, naming its status.
  v1::MatchUpdateResponse again;
  grpc::ClientContext context;
  grpc::Status refused = stub_->ShipMatch(&context, ship, &again);
  EXPECT_EQ(refused.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_NE(refused.error_message().find("is DELIVERED"), std::string::npos)
      << refused.error_message();

  v1::ListMatchesRequest list;
  list.set_status(v1::SHIPPED);
  v1::ListMatchesResponse listed;
  grpc::ClientContext list_context;
  ASSERT_TRUE(stub_->ListMatches(&list_context, list, &listed).ok());
  ASSERT_EQ(listed.matches_size(), 1);
  EXPECT_EQ(listed.matches(0).match_id(), second);
}

// "event_id KIND #match_id STATUS", for comparing streams of events.
std::string Brief(const v1::MatchEvent& e) {
  return absl::StrCat(e.event_id(), " ", v1::MatchEventKind_Name(e.kind()),
                      " #", e.match().match_id(), " ",
                      v1::MatchStatus_Name(e.match().status()));
}

TEST_F(IntegrationTest, WatchMatchesStreamsStatusChangesAsEvents) {
  auto update = [&](auto method, const auto& request) {
    v1::MatchUpdateResponse response;
    grpc::ClientContext context;
    grpc::Status status = (stub_.get()->*method)(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  };
  auto ship = [&](uint64_t match_id) {
    v1::ShipMatchRequest r;
    r.set_match_id(match_id);
    return update(&v1::Exchange::Stub::ShipMatch, r);
  };
  // Reads `n` events of a new stream, then cancels it.
  auto read = [&](const v1::WatchMatchesRequest& request, int n) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    auto reader = stub_->WatchMatches(&context, request);
    std::vector<std::string> out;
    v1::MatchEvent event;
    for (int i = 0; i < n && reader->Read(&event); ++i) {
      out.push_back(Brief(event));
    }
    context.TryCancel();
    while (reader->Read(&event)) {
    }
    reader->Finish();
    return out;
  };

  // A watcher from the start, live before anything happens.
  grpc::ClientContext live_context;
  live_context.set_deadline(
      absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  auto live = stub_->WatchMatches(&live_context, v1::WatchMatchesRequest());

  // Match 1: 400 kg of the offer's 1000, shipped in full, then accepted.
  v1::PostOfferResponse offer;
  ASSERT_TRUE(PostOffer(PepperOffer(1000, 9000), &offer).ok());
  v1::PostPledgeResponse pledge;
  ASSERT_TRUE(
      PostPledge(PepperPledge("qingdao-office", "370200", 400, 10000), &pledge)
          .ok());
  ASSERT_EQ(pledge.matches_size(), 1);
  const uint64_t first = pledge.matches(0).match_id();
  EXPECT_EQ(first, 1u);
  ship(first);
  v1::AcceptMatchRequest accept;
  accept.set_match_id(first);
  update(&v1::Exchange::Stub::AcceptMatch, accept);

  v1::MatchEvent made, shipped, delivered;
  ASSERT_TRUE(live->Read(&made));
  ASSERT_TRUE(live->Read(&shipped));
  ASSERT_TRUE(live->Read(&delivered));
  EXPECT_EQ(Brief(made), "1 NEW_MATCH #1 MATCHED");
  EXPECT_EQ(Brief(shipped), "2 STATUS_CHANGED #1 SHIPPED");
  EXPECT_EQ(Brief(delivered), "3 STATUS_CHANGED #1 DELIVERED");
  // Each shows the match as it stood then.
  EXPECT_EQ(made.match().quantity_kg(), 400);
  EXPECT_EQ(made.match().amount_fen(), 400 * 9000);
  EXPECT_FALSE(made.match().has_shipped_at());
  EXPECT_EQ(shipped.match().shipped_kg(), 400);
  EXPECT_TRUE(shipped.match().has_shipped_at());
  EXPECT_EQ(shipped.match().accepted_kg(), 0);
  EXPECT_FALSE(shipped.match().has_delivered_at());
  EXPECT_EQ(delivered.match().accepted_kg(), 400);
  EXPECT_TRUE(delivered.match().has_delivered_at());
  EXPECT_EQ(delivered.match().updated_at().seconds(),
            delivered.match().delivered_at().seconds());
  live_context.TryCancel();
  while (live->Read(&made)) {
  }
  live->Finish();

  // Two more matches (events 4 and 5), then match 2 ships (event 6).
  const uint64_t second = MakeMatch(50);
  const uint64_t third = MakeMatch(60);
  EXPECT_EQ(second, 2u);
  EXPECT_EQ(third, 3u);
  ship(second);

  // Resumed after event 3: exactly the later ones, then live ones.
  v1::WatchMatchesRequest after_event;
  after_event.set_after_event_id(3);
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    auto reader = stub_->WatchMatches(&context, after_event);
    std::vector<std::string> seen;
    v1::MatchEvent event;
    for (int i = 0; i < 3 && reader->Read(&event); ++i) {
      seen.push_back(Brief(event));
    }
    ship(third);  // event 7, while the stream is open
    if (reader->Read(&event)) seen.push_back(Brief(event));
    EXPECT_EQ(seen, (std::vector<std::string>{"4 NEW_MATCH #2 MATCHED",
                                              "5 NEW_MATCH #3 MATCHED",
                                              "6 STATUS_CHANGED #2 SHIPPED",
                                              "7 STATUS_CHANGED #3 SHIPPED"}));
    context.TryCancel();
    while (reader->Read(&event)) {
    }
    reader->Finish();
  }

  // After match 2: from the event that made match 3, older matches' status
  // changes after it included, match 1's before it not.
  v1::WatchMatchesRequest after_match;
  after_match.set_after_match_id(2);
  EXPECT_EQ(read(after_match, 3),
            (std::vector<std::string>{"5 NEW_MATCH #3 MATCHED",
                                      "6 STATUS_CHANGED #2 SHIPPED",
                                      "7 STATUS_CHANGED #3 SHIPPED"}));
  // After the last match: nothing until match 4 is made, then from there;
  // match 2's delivery before it (event 8) is not sent.
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::WatchMatchesRequest after_last;
    after_last.set_after_match_id(3);
    auto reader = stub_->WatchMatches(&context, after_last);
    v1::AcceptMatchRequest accept_second;
    accept_second.set_match_id(second);
    update(&v1::Exchange::Stub::AcceptMatch, accept_second);
    EXPECT_EQ(MakeMatch(70), 4u);
    ship(4);
    std::vector<std::string> seen;
    v1::MatchEvent event;
    for (int i = 0; i < 2 && reader->Read(&event); ++i) {
      seen.push_back(Brief(event));
    }
    EXPECT_EQ(seen, (std::vector<std::string>{"9 NEW_MATCH #4 MATCHED",
                                              "10 STATUS_CHANGED #4 SHIPPED"}));
    context.TryCancel();
    while (reader->Read(&event)) {
    }
    reader->Finish();
  }

  // Filters apply to each event's match.
  v1::WatchMatchesRequest by_match;
  by_match.set_after_event_id(1);
  by_match.set_pledge_id(pledge.pledge().pledge_id());
  EXPECT_EQ(read(by_match, 2),
            (std::vector<std::string>{"2 STATUS_CHANGED #1 SHIPPED",
                                      "3 STATUS_CHANGED #1 DELIVERED"}));

  // Cursors past the end, or both at once, are refused.
  auto refused = [&](const v1::WatchMatchesRequest& request) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    auto reader = stub_->WatchMatches(&context, request);
    v1::MatchEvent event;
    EXPECT_FALSE(reader->Read(&event));
    return reader->Finish();
  };
  v1::WatchMatchesRequest beyond;
  beyond.set_after_event_id(11);
  grpc::Status status = refused(beyond);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "after_event_id: 11 is beyond the last match event, 10");
  v1::WatchMatchesRequest both;
  both.set_after_event_id(1);
  both.set_after_match_id(1);
  status = refused(both);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(status.error_message(), "set at most one"))
      << status.error_message();
}

// An alliance pledge through gRPC: members and shares in, one match per
// member out, each member's matches its own to list, watch and accept.
TEST_F(IntegrationTest, AlliancePledgeSplitsEachFillAmongItsMembers) {
  for (const char* id : {"canteen-a", "canteen-b", "canteen-c"}) {
    v1::UpsertBuyerRequest upsert;
    v1::Buyer* buyer = upsert.mutable_buyer();
    buyer->set_buyer_id(id);
    buyer->set_name(id);
    buyer->set_city_code("370200");
    buyer->set_kind(v1::CANTEEN);
    buyer->set_annual_target_fen(1'000'000);
    buyer->set_alliance_id("qingdao-canteens");
    v1::UpsertBuyerResponse created;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->UpsertBuyer(&context, upsert, &created).ok());
  }
  v1::PostOfferResponse offer;
  ASSERT_TRUE(PostOffer(PepperOffer(100, 9000), &offer).ok());
  v1::PostPledgeRequest request =
      PepperPledge("qingdao-canteens", "370200", 1000, 10000);
  request.mutable_pledge()->set_buyer_kind(v1::CANTEEN);
  auto add = [&](const char* id, uint32_t share) {
    v1::MemberShare* m = request.mutable_pledge()->add_members();
    m->set_buyer_id(id);
    m->set_share_permille(share);
  };
  add("canteen-c", 334);
  add("canteen-a", 333);
  add("canteen-b", 332);
  // 999 permille in all: refused, naming the field and the sum.
  v1::PostPledgeResponse posted;
  grpc::Status refused = PostPledge(request, &posted);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(refused.error_message(),
                       "pledge.members: shares sum to 999 permille"))
      << refused.error_message();
  request.mutable_pledge()->mutable_members(2)->set_share_permille(333);
  grpc::Status status = PostPledge(request, &posted);
  ASSERT_TRUE(status.ok()) << status.error_message();

  // 100 kg at the offer's 90.00 yuan: 33.3, 33.3, 33.4 kg -> 33, 33, 34
  // (the kg left over to c's largest remainder), by buyer_id.
  ASSERT_EQ(posted.matches_size(), 3);
  const std::vector<std::tuple<std::string, int64_t, int64_t>> want = {
      {"canteen-a", 33, 297'000},
      {"canteen-b", 33, 297'000},
      {"canteen-c", 34, 306'000}};
  for (int i = 0; i < 3; ++i) {
    const v1::Match& m = posted.matches(i);
    EXPECT_EQ(m.buyer_id(), "qingdao-canteens");
    EXPECT_EQ(m.member_buyer_id(), std::get<0>(want[i]));
    EXPECT_EQ(m.quantity_kg(), std::get<1>(want[i]));
    EXPECT_EQ(m.amount_fen(), std::get<2>(want[i]));
    EXPECT_EQ(m.price_fen_per_kg(), 9000);
  }
  EXPECT_EQ(posted.pledge().spent_fen(), 900'000);
  EXPECT_EQ(posted.pledge().remaining_kg(), 900);
  ASSERT_EQ(posted.pledge().members_size(), 3);
  EXPECT_EQ(posted.pledge().members(0).buyer_id(), "canteen-a");
  EXPECT_EQ(posted.pledge().members(0).share_permille(), 333u);
  EXPECT_EQ(posted.pledge().members(2).buyer_id(), "canteen-c");
  EXPECT_EQ(posted.pledge().members(2).share_permille(), 334u);

  // A member lists and watches only its own part.
  v1::ListMatchesRequest list;
  list.set_buyer_id("canteen-b");
  v1::ListMatchesResponse listed;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->ListMatches(&context, list, &listed).ok());
  }
  ASSERT_EQ(listed.matches_size(), 1);
  EXPECT_EQ(listed.matches(0).member_buyer_id(), "canteen-b");
  EXPECT_EQ(listed.matches(0).quantity_kg(), 33);
  {
    v1::WatchMatchesRequest watch;
    watch.set_buyer_id("canteen-c");
    v1::MatchEvent event;
    ASSERT_TRUE(FirstWatched(watch, &event));
    EXPECT_EQ(event.match().member_buyer_id(), "canteen-c");
    EXPECT_EQ(event.match().quantity_kg(), 34);
  }

  // c's part shipped and accepted in full: delivered for c alone.
  const uint64_t c_match = posted.matches(2).match_id();
  v1::SubmitRequest batch;
  batch.add_commands()->mutable_ship_match()->set_match_id(c_match);
  batch.add_commands()->mutable_accept_match()->set_match_id(c_match);
  v1::SubmitResponse results;
  ASSERT_TRUE(SubmitOnce(batch, &results).ok());
  ASSERT_EQ(results.results_size(), 2);
  ASSERT_TRUE(results.results(1).has_accept_match())
      << results.results(1).error().message();
  EXPECT_EQ(results.results(1).accept_match().match().accepted_kg(), 34);

  v1::GetBuyerProgressRequest progress_request;
  progress_request.set_buyer_id("canteen-c");
  progress_request.set_year(2024);
  v1::BuyerProgress progress;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(
        stub_->GetBuyerProgress(&context, progress_request, &progress).ok());
  }
  EXPECT_EQ(progress.matched_fen(), 306'000);
  EXPECT_EQ(progress.delivered_fen(), 306'000);
  EXPECT_EQ(progress.share_done_permille(), 306);  // of 1,000,000 fen
  progress_request.set_buyer_id("");
  progress_request.set_alliance_id("qingdao-canteens");
  {
    grpc::ClientContext context;
    ASSERT_TRUE(
        stub_->GetBuyerProgress(&context, progress_request, &progress).ok());
  }
  EXPECT_EQ(progress.matched_fen(), 900'000);  // each part once
  EXPECT_EQ(progress.delivered_fen(), 306'000);
  EXPECT_EQ(progress.annual_target_fen(), 3'000'000);
}

TEST_F(IntegrationTest, ListOffersPagesThroughEveryOfferInIdOrder) {
  grpc::ClientContext submit_context;
  auto stream = stub_->Submit(&submit_context);
  v1::SubmitRequest batch;
  for (int i = 0; i < 25; ++i) {
    *batch.add_commands()->mutable_post_offer() = PepperOffer(100 + i, 9000);
  }
  ASSERT_TRUE(stream->Write(batch));
  stream->WritesDone();
  v1::SubmitResponse submitted;
  ASSERT_TRUE(stream->Read(&submitted));
  ASSERT_TRUE(stream->Finish().ok());
  ASSERT_EQ(submitted.results_size(), 25);

  std::vector<uint64_t> ids;
  v1::ListOffersRequest request;
  request.set_page_size(10);
  std::vector<int> page_sizes;
  while (true) {
    v1::ListOffersResponse page = ListOffers(request);
    page_sizes.push_back(page.offers_size());
    for (const v1::Offer& offer : page.offers())
      ids.push_back(offer.offer_id());
    if (page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
    ASSERT_LT(page_sizes.size(), 10u);
  }
  EXPECT_EQ(page_sizes, (std::vector<int>{10, 10, 5}));
  ASSERT_EQ(ids.size(), 25u);
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(ids[i], submitted.results(i).post_offer().offer().offer_id());
  }

  // Oversize pages are clamped, not refused; filters apply.
  v1::ListOffersRequest all;
  all.set_page_size(5000);
  all.set_region_code_prefix("6212");
  all.set_status(v1::OPEN);
  EXPECT_EQ(ListOffers(all).offers_size(), 25);
  all.set_region_code_prefix("41");
  EXPECT_EQ(ListOffers(all).offers_size(), 0);
}

TEST_F(IntegrationTest, OrdersReadAsExpiredOnceTheirExpiryPasses) {
  v1::PostOfferResponse offer;
  ASSERT_TRUE(PostOffer(PepperOffer(100, 9000), &offer).ok());
  now_micros_ += int64_t{31} * 86400 * 1000000;  // past the 30-day expiry
  v1::GetOfferRequest get;
  get.set_id(offer.offer().offer_id());
  v1::Offer got;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->GetOffer(&context, get, &got).ok());
  EXPECT_EQ(got.status(), v1::EXPIRED);
}

TEST_F(IntegrationTest, HealthCheckReportsServingPerService) {
  grpc::GenericStub generic(channel_);
  // Asks grpc.health.v1.Health/Check about `service`; the response's bytes.
  auto check = [&](const std::string& service, std::string* bytes) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    // HealthCheckRequest{service: 1}: no bytes when empty.
    std::string wire;
    if (!service.empty()) {
      wire = absl::StrCat(std::string(1, '\x0a'),
                          std::string(1, static_cast<char>(service.size())),
                          service);
    }
    grpc::Slice slice(wire);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    grpc::Status status;
    absl::Notification done;
    generic.UnaryCall(&context, "/grpc.health.v1.Health/Check",
                      grpc::StubOptions(), &request, &response,
                      [&](grpc::Status s) {
                        status = std::move(s);
                        done.Notify();
                      });
    done.WaitForNotification();
    bytes->clear();
    std::vector<grpc::Slice> slices;
    if (status.ok() && response.Dump(&slices).ok()) {
      for (const grpc::Slice& s : slices) {
        bytes->append(reinterpret_cast<const char*>(s.begin()), s.size());
      }
    }
    return status;
  };
  for (const std::string service :
       {"", "duijie.v1.Exchange", "duijie.v1.Admin"}) {
    std::string bytes;
    grpc::Status status = check(service, &bytes);
    ASSERT_TRUE(status.ok()) << service << ": " << status.error_message();
    // HealthCheckResponse{status: SERVING (1)}.
    EXPECT_EQ(bytes, std::string("\x08\x01", 2)) << service;
  }
  std::string bytes;
  EXPECT_EQ(check("duijie.v1.Nothing", &bytes).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(IntegrationTest, RefusalsCarryTheirFieldInTrailingMetadata) {
  v1::PostPledgeRequest bad = PepperPledge("qingdao-office", "370200", 10, 0);
  grpc::ClientContext context;
  v1::PostPledgeResponse response;
  grpc::Status status = stub_->PostPledge(&context, bad, &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find("duijie-error-bin");
  ASSERT_NE(it, trailers.end()) << status.error_message();
  v1::ErrorDetail detail;
  ASSERT_TRUE(detail.ParseFromString(
      std::string(it->second.data(), it->second.size())));
  EXPECT_EQ(detail.field(), "pledge.max_price_fen_per_kg");
  EXPECT_EQ(absl::StrCat(detail.field(), ": ", detail.reason()),
            status.error_message());
  // One bad field: violations holds it alone.
  ASSERT_EQ(detail.violations_size(), 1);
  EXPECT_EQ(detail.violations(0).field(), detail.field());
  EXPECT_EQ(detail.violations(0).reason(), detail.reason());

  // A refusal about no one field: the whole message is the reason.
  v1::GetOfferRequest missing;
  missing.set_id(424242);
  grpc::ClientContext get_context;
  v1::Offer offer;
  status = stub_->GetOffer(&get_context, missing, &offer);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  const auto& get_trailers = get_context.GetServerTrailingMetadata();
  it = get_trailers.find("duijie-error-bin");
  ASSERT_NE(it, get_trailers.end()) << status.error_message();
  ASSERT_TRUE(detail.ParseFromString(
      std::string(it->second.data(), it->second.size())));
  if (detail.field().empty()) {
    EXPECT_EQ(detail.reason(), status.error_message());
  } else {
    EXPECT_EQ(absl::StrCat(detail.field(), ": ", detail.reason()),
              status.error_message());
  }

  // Not INVALID_ARGUMENT: about the first thing found wrong, no list.
  EXPECT_EQ(detail.violations_size(), 0);

  // A call that succeeds carries none.
  grpc::ClientContext ok_context;
  v1::ListRegionsResponse regions;
  ASSERT_TRUE(
      stub_->ListRegions(&ok_context, v1::ListRegionsRequest(), &regions).ok());
  EXPECT_EQ(ok_context.GetServerTrailingMetadata().count("duijie-error-bin"),
            0u);
}

// The ErrorDetail of a refused call, from its trailing metadata.
v1::ErrorDetail TrailingErrorDetail(const grpc::ClientContext& context) {
  v1::ErrorDetail detail;
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find("duijie-error-bin");
  if (it != trailers.end()) {
    EXPECT_TRUE(detail.ParseFromString(
        std::string(it->second.data(), it->second.size())));
  }
  return detail;
}

std::vector<std::string> ViolationFields(
    const google::protobuf::RepeatedPtrField<v1::FieldViolation>& list) {
  std::vector<std::string> fields;
  for (const v1::FieldViolation& v : list) fields.push_back(v.field());
  return fields;
}

TEST_F(IntegrationTest, RefusalsNameEveryBadField) {
  v1::PostOfferRequest bad = PepperOffer(0, 0);
  bad.mutable_offer()->set_households(-1);
  grpc::ClientContext context;
  v1::PostOfferResponse response;
  grpc::Status status = stub_->PostOffer(&context, bad, &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // The message opens with the first, as when it was the only one.
  EXPECT_EQ(status.error_message(),
            "offer.quantity_kg: 0 is out of range [1, 1099511627776] (and 2 "
            "more: offer.floor_price_fen_per_kg, offer.households)");
  v1::ErrorDetail detail = TrailingErrorDetail(context);
  EXPECT_EQ(detail.field(), "offer.quantity_kg");
  EXPECT_EQ(detail.reason(), "0 is out of range [1, 1099511627776]");
  ASSERT_EQ(detail.violations_size(), 3);
  EXPECT_EQ(ViolationFields(detail.violations()),
            std::vector<std::string>({"offer.quantity_kg",
                                      "offer.floor_price_fen_per_kg",
                                      "offer.households"}));
  EXPECT_EQ(detail.violations(1).reason(), "0 is out of range [1, 1073741824]");
  EXPECT_EQ(detail.violations(2).reason(),
            "-1 is out of range [0, 2147483647]");

  // Fields the server reads before the engine does are listed together.
  v1::PostOfferRequest unread = PepperOffer(100, 8000);
  unread.mutable_offer()->set_grade(static_cast<v1::Grade>(99));
  unread.mutable_offer()->mutable_ship_within()->set_nanos(1);
  grpc::ClientContext unread_context;
  status = stub_->PostOffer(&unread_context, unread, &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolationFields(TrailingErrorDetail(unread_context).violations()),
            std::vector<std::string>({"offer.grade", "offer.ship_within"}));

  // Submit: the same in the command's error.
  grpc::ClientContext submit_context;
  auto stream = stub_->Submit(&submit_context);
  v1::SubmitRequest request;
  request.set_batch_id("bad-fields");
  *request.add_commands()->mutable_post_offer() = bad;
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->WritesDone());
  v1::SubmitResponse submitted;
  ASSERT_TRUE(stream->Read(&submitted));
  ASSERT_EQ(submitted.results_size(), 1);
  const v1::CommandError& error = submitted.results(0).error();
  EXPECT_EQ(error.code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(error.message(),
            "offer.quantity_kg: 0 is out of range [1, 1099511627776] (and 2 "
            "more: offer.floor_price_fen_per_kg, offer.households)");
  EXPECT_EQ(error.field(), "offer.quantity_kg");
  EXPECT_EQ(error.reason(), "0 is out of range [1, 1099511627776]");
  EXPECT_EQ(ViolationFields(error.violations()),
            ViolationFields(detail.violations()));
  EXPECT_EQ(error.violations(2).reason(), "-1 is out of range [0, 2147483647]");
  EXPECT_FALSE(stream->Read(&submitted));
  EXPECT_TRUE(stream->Finish().ok());

  // Nothing was posted.
  EXPECT_EQ(ListOffers(v1::ListOffersRequest()).offers_size(), 0);
}

TEST_F(IntegrationTest, RefusedRegionNamesEveryBadField) {
  v1::UpsertRegionRequest bad;
  bad.mutable_region()->set_code("6212");
  bad.mutable_region()->set_name(std::string(65, 'x'));
  v1::Region response;
  grpc::ClientContext context;
  grpc::Status status = stub_->UpsertRegion(&context, bad, &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // The message opens with the first, as when it was the only one.
  EXPECT_EQ(status.error_message(),
            "region.code: \"6212\" is not a six-digit GB/T 2260 region code "
            "(and 1 more: region.name)");
  v1::ErrorDetail detail = TrailingErrorDetail(context);
  EXPECT_EQ(detail.field(), "region.code");
  EXPECT_EQ(ViolationFields(detail.violations()),
            std::vector<std::string>({"region.code", "region.name"}));

  // Nothing was added.
  v1::ListRegionsRequest list;
  list.set_code_prefix("62");
  v1::ListRegionsResponse regions;
  grpc::ClientContext list_context;
  ASSERT_TRUE(stub_->ListRegions(&list_context, list, &regions).ok());
  EXPECT_EQ(regions.regions_size(), 3);
}

TEST_F(IntegrationTest, UnfilteredListsCountEveryItemAcrossPages) {
  for (int i = 0; i < 3; ++i) MakeMatch(10 + i);
  v1::PostOfferResponse extra;
  ASSERT_TRUE(PostOffer(PepperOffer(5, 20000), &extra).ok());
  v1::ListOffersRequest offers;
  offers.set_page_size(2);
  v1::ListOffersResponse page = ListOffers(offers);
  EXPECT_EQ(page.offers_size(), 2);
  ASSERT_TRUE(page.has_total_count());
  EXPECT_EQ(page.total_count(), 4);
  // Unfiltered, every page carries it.
  offers.set_page_token(page.next_page_token());
  page = ListOffers(offers);
  ASSERT_TRUE(page.has_total_count());
  EXPECT_EQ(page.total_count(), 4);

  v1::ListPledgesRequest pledges;
  pledges.set_page_size(1);
  grpc::ClientContext pledge_context;
  v1::ListPledgesResponse pledge_page;
  ASSERT_TRUE(stub_->ListPledges(&pledge_context, pledges, &pledge_page).ok());
  EXPECT_EQ(pledge_page.pledges_size(), 1);
  EXPECT_EQ(pledge_page.total_count(), 3);

  v1::ListMatchesRequest matches;
  matches.set_page_size(1);
  grpc::ClientContext match_context;
  v1::ListMatchesResponse match_page;
  ASSERT_TRUE(stub_->ListMatches(&match_context, matches, &match_page).ok());
  EXPECT_EQ(match_page.matches_size(), 1);
  ASSERT_TRUE(match_page.has_total_count());
  EXPECT_EQ(match_page.total_count(), 3);
}

// Under a filter the first page counts what the filter passes on every
// page, and later pages leave the count out (it costs a scan).
TEST_F(IntegrationTest, FilteredListsCountOnTheirFirstPage) {
  for (int i = 0; i < 3; ++i) MakeMatch(10 + i);  // 3 filled offers
  v1::PostOfferResponse extra;
  ASSERT_TRUE(PostOffer(PepperOffer(5, 20000), &extra).ok());  // 1 open
  v1::PostOfferRequest lankao = PepperOffer(50, 20000);
  lankao.mutable_offer()->set_supplier_id("lankao-coop");
  lankao.mutable_offer()->set_region_code("410225");
  ASSERT_TRUE(PostOffer(lankao, &extra).ok());  // 1 open, in Henan

  v1::ListOffersRequest offers;
  offers.set_page_size(2);
  offers.set_supplier_id("wudu-pepper-coop");
  v1::ListOffersResponse page = ListOffers(offers);
  EXPECT_EQ(page.offers_size(), 2);
  ASSERT_TRUE(page.has_total_count());
  EXPECT_EQ(page.total_count(), 4);
  ASSERT_FALSE(page.next_page_token().empty());
  offers.set_page_token(page.next_page_token());
  page = ListOffers(offers);
  EXPECT_EQ(page.offers_size(), 2);
  EXPECT_FALSE(page.has_total_count());

  // Each filter counts as its page shows: status (as read now), product,
  // region.
  const auto count_offers = [&](const v1::ListOffersRequest& request) {
    const v1::ListOffersResponse first = ListOffers(request);
    EXPECT_TRUE(first.has_total_count());
    return first.total_count();
  };
  v1::ListOffersRequest open;
  open.set_status(v1::OPEN);
  EXPECT_EQ(count_offers(open), 2);
  open.set_region_code_prefix("62");
  EXPECT_EQ(count_offers(open), 1);
  v1::ListOffersRequest filled;
  filled.set_status(v1::FILLED);
  filled.set_product_code_prefix("spice");
  EXPECT_EQ(count_offers(filled), 3);
  filled.set_product_code_prefix("fruit");
  EXPECT_EQ(count_offers(filled), 0);
  // The open Wudu offer (30 days) reads EXPIRED once the clock passes its
  // expiry, before any tick: the count sees the same instant as the page.
  now_micros_ += int64_t{31} * 86400 * 1000000;
  v1::ListOffersRequest expired;
  expired.set_status(v1::EXPIRED);
  EXPECT_EQ(count_offers(expired), 2);

  v1::ListPledgesRequest pledges;
  pledges.set_buyer_id("qingdao-office");
  pledges.set_page_size(1);
  grpc::ClientContext pledge_context;
  v1::ListPledgesResponse pledge_page;
  ASSERT_TRUE(stub_->ListPledges(&pledge_context, pledges, &pledge_page).ok());
  EXPECT_EQ(pledge_page.pledges_size(), 1);
  ASSERT_TRUE(pledge_page.has_total_count());
  EXPECT_EQ(pledge_page.total_count(), 3);

  v1::ListMatchesRequest matches;
  matches.set_buyer_id("qingdao-office");
  matches.set_page_size(1);
  grpc::ClientContext match_context;
  v1::ListMatchesResponse match_page;
  ASSERT_TRUE(stub_->ListMatches(&match_context, matches, &match_page).ok());
  ASSERT_TRUE(match_page.has_total_count());
  EXPECT_EQ(match_page.total_count(), 3);
  matches.set_page_token(match_page.next_page_token());
  grpc::ClientContext next_context;
  ASSERT_TRUE(stub_->ListMatches(&next_context, matches, &match_page).ok());
  EXPECT_FALSE(match_page.has_total_count());
  // after_match_id is a filter: the matches after it.
  v1::ListMatchesRequest after;
  after.set_after_match_id(1);
  grpc::ClientContext after_context;
  ASSERT_TRUE(stub_->ListMatches(&after_context, after, &match_page).ok());
  EXPECT_EQ(match_page.matches_size(), 2);
  ASSERT_TRUE(match_page.has_total_count());
  EXPECT_EQ(match_page.total_count(), 2);
}

TEST_F(IntegrationTest, ServerInfoReportsTheVersion) {
  grpc::ClientContext context;
  v1::ServerInfo info;
  ASSERT_TRUE(
      stub_->GetServerInfo(&context, v1::GetServerInfoRequest(), &info).ok());
  EXPECT_FALSE(info.version().empty());
  EXPECT_NE(info.version(), "unknown");
  EXPECT_FALSE(info.build().empty());
  EXPECT_TRUE(absl::StartsWith(info.grpc_version(), "1."))
      << info.grpc_version();
  EXPECT_GT(info.started_at().seconds(), 0);
}

TEST_F(IntegrationTest, ReflectionListsTheExchangeService) {
  grpc::GenericStub generic(channel_);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  grpc::CompletionQueue cq;
  // Runs one step of the async call and waits for it.
  auto step = [&cq](auto start) {
    start(reinterpret_cast<void*>(1));
    void* tag = nullptr;
    bool ok = false;
    return cq.Next(&tag, &ok) && ok;
  };
  auto call = generic.PrepareCall(
      &context,
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  ASSERT_TRUE(step([&](void* tag) { call->StartCall(tag); }));
  // ServerReflectionRequest{list_services: ""}: field 7, empty string.
  grpc::Slice list_services(std::string("\x3a\x00", 2));
  grpc::ByteBuffer request(&list_services, 1);
  ASSERT_TRUE(step([&](void* tag) { call->Write(request, tag); }));
  grpc::ByteBuffer response;
  ASSERT_TRUE(step([&](void* tag) { call->Read(&response, tag); }));
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  EXPECT_TRUE(Contains(bytes, "duijie.v1.Exchange")) << absl::CEscape(bytes);
  EXPECT_TRUE(Contains(bytes, "grpc.health.v1.Health")) << absl::CEscape(bytes);
  ASSERT_TRUE(step([&](void* tag) { call->WritesDone(tag); }));
  grpc::Status status;
  ASSERT_TRUE(step([&](void* tag) { call->Finish(&status, tag); }));
  EXPECT_TRUE(status.ok()) << status.error_message();
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
}

// grpc.reflection.v1, served by duijie itself (api/reflection_v1.h), over
// one stream: list services, a file by symbol, an unknown symbol.
TEST_F(IntegrationTest, ReflectionV1ListsServicesAndDescribesThem) {
  namespace rv1 = grpc::reflection::v1;
  std::unique_ptr<rv1::ServerReflection::Stub> reflection =
      rv1::ServerReflection::NewStub(channel_);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  std::unique_ptr<grpc::ClientReaderWriter<rv1::ServerReflectionRequest,
                                           rv1::ServerReflectionResponse>>
      stream = reflection->ServerReflectionInfo(&context);

  rv1::ServerReflectionRequest request;
  rv1::ServerReflectionResponse response;
  request.set_list_services("");
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_TRUE(response.has_list_services_response()) << response.DebugString();
  std::vector<std::string> names;
  for (const rv1::ServiceResponse& service :
       response.list_services_response().service()) {
    names.push_back(service.name());
  }
  for (const char* want :
       {"grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection", "duijie.v1.Exchange",
        "duijie.v1.Admin", "grpc.health.v1.Health"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end())
        << want << " not in " << absl::StrJoin(names, ", ");
  }

  request.set_file_containing_symbol("duijie.v1.Exchange");
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_TRUE(response.has_original_request());
  EXPECT_EQ(response.original_request().file_containing_symbol(),
            "duijie.v1.Exchange");
  ASSERT_TRUE(response.has_file_descriptor_response())
      << response.DebugString();
  const auto& files =
      response.file_descriptor_response().file_descriptor_proto();
  ASSERT_FALSE(files.empty());
  // The file that holds the symbol comes first, then its dependencies.
  google::protobuf::FileDescriptorProto file;
  ASSERT_TRUE(file.ParseFromString(files[0]));
  EXPECT_EQ(file.package(), "duijie.v1");
  EXPECT_EQ(file.name(), "duijie/v1/exchange.proto");
  bool names_exchange = false;
  for (const auto& service : file.service()) {
    if (service.name() == "Exchange") {
      names_exchange = true;
      EXPECT_GT(service.method_size(), 10);
    }
  }
  EXPECT_TRUE(names_exchange) << file.name();
  // Its dependencies (timestamp.proto at least) come along.
  EXPECT_GT(files.size(), 1);

  request.set_file_containing_symbol("duijie.v1.NoSuchService");
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_TRUE(response.has_error_response()) << response.DebugString();
  EXPECT_EQ(response.error_response().error_code(),
            static_cast<int>(grpc::StatusCode::NOT_FOUND));
  EXPECT_TRUE(Contains(response.error_response().error_message(),
                       "duijie.v1.NoSuchService"));

  ASSERT_TRUE(stream->WritesDone());
  grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
}

// A read that would show a command's effect waits until that command is in
// the journal: what a client has read cannot vanish in a crash.
TEST(ServerTest, ReadsShowNothingThatIsNotYetDurable) {
  std::string tmpl =
      std::filesystem::temp_directory_path() / "duijie-durable-read-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const std::string dir = tmpl;
  FaultInjectionEnv env(FileEnv::Default());
  ServerOptions options;
  // These tests are about the exchange, not authentication (auth_test).
  options.auth.enabled = false;
  options.listen = "127.0.0.1:0";
  options.durability.dir = dir + "/data";
  options.durability.env = &env;
  options.durability.fsync = true;
  absl::StatusOr<std::unique_ptr<DuijieServer>> server =
      DuijieServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = v1::Exchange::NewStub(grpc::CreateChannel(
      (*server)->address(), grpc::InsecureChannelCredentials()));
  {
    v1::UpsertRegionRequest request;
    request.mutable_region()->set_code("621202");
    request.mutable_region()->set_name("Wudu");
    v1::Region response;
    grpc::ClientContext context;
    ASSERT_TRUE(stub->UpsertRegion(&context, request, &response).ok());
  }

  // The post is applied, but its fsync is held.
  env.HoldSyncs(true);
  grpc::Status post_status;
  v1::PostOfferResponse posted;
  std::thread post([&] {
    v1::PostOfferRequest request;
    v1::Offer* offer = request.mutable_offer();
    offer->set_supplier_id("wudu-pepper-coop");
    offer->set_region_code("621202");
    offer->set_product_code("spice.sichuan_pepper");
    offer->set_grade(v1::GRADE_FIRST);
    offer->set_quantity_kg(500);
    offer->set_floor_price_fen_per_kg(9000);
    request.mutable_expires_in()->set_seconds(86400);
    grpc::ClientContext context;
    post_status = stub->PostOffer(&context, request, &posted);
  });
  for (int i = 0; i < 500 && env.held_syncs() == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(env.held_syncs(), 1);

  v1::GetOfferRequest get;
  get.set_id(1);
  v1::Offer offer;
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(300));
    EXPECT_EQ(stub->GetOffer(&context, get, &offer).error_code(),
              grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(300));
    v1::GetBookResponse book;
    EXPECT_EQ(stub->GetBook(&context, v1::GetBookRequest(), &book).error_code(),
              grpc::StatusCode::DEADLINE_EXCEEDED);
  }

  // Once durable, the post is answered and so are reads.
  env.HoldSyncs(false);
  post.join();
  ASSERT_TRUE(post_status.ok()) << post_status.error_message();
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub->GetOffer(&context, get, &offer).ok());
    EXPECT_EQ(offer.remaining_kg(), 500);
  }
  (*server)->Shutdown(absl::Seconds(2));
  server->reset();
  std::filesystem::remove_all(dir);
}

TEST(ServerTest, BusyPortIsAClearError) {
  ServerOptions options;
  // These tests are about the exchange, not authentication (auth_test).
  options.auth.enabled = false;
  options.listen = "127.0.0.1:0";
  absl::StatusOr<std::unique_ptr<DuijieServer>> first =
      DuijieServer::Start(options);
  ASSERT_TRUE(first.ok()) << first.status();
  options.listen = (*first)->address();
  absl::StatusOr<std::unique_ptr<DuijieServer>> second =
      DuijieServer::Start(options);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(
      Contains(std::string(second.status().message()), (*first)->address()));
}

TEST(ServerTest, DemoDataShowsMatchesAtOnceAndLoadsIdempotently) {
  ServerOptions options;
  // These tests are about the exchange, not authentication (auth_test).
  options.auth.enabled = false;
  options.listen = "127.0.0.1:0";
  options.demo = true;
  absl::StatusOr<std::unique_ptr<DuijieServer>> server =
      DuijieServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->demo_summary().has_value());
  const DemoSummary first = *(*server)->demo_summary();
  EXPECT_GE(first.regions, 20);
  EXPECT_EQ(first.pairings, 6);
  EXPECT_EQ(first.offers, 5);
  EXPECT_GE(first.matches, 3);
  EXPECT_EQ(first.replayed, 0);

  absl::StatusOr<DemoSummary> again =
      LoadDemoData((*server)->service(), absl::Now());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->offers + again->pledges + again->regions + again->pairings,
            0);
  EXPECT_EQ(again->matches, 0);

  auto channel = grpc::CreateChannel((*server)->address(),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::Exchange::NewStub(channel);
  v1::ListMatchesResponse matches;
  grpc::ClientContext context;
  ASSERT_TRUE(
      stub->ListMatches(&context, v1::ListMatchesRequest(), &matches).ok());
  EXPECT_EQ(matches.matches_size(), first.matches);
  bool partner = false;
  for (const v1::Match& m : matches.matches()) partner |= m.partner();
  EXPECT_TRUE(partner);
}

TEST_F(IntegrationTest, BuyersRegisterListAndReportProgressThroughGrpc) {
  v1::UpsertBuyerRequest upsert;
  upsert.set_request_id("buyer-1");
  v1::Buyer* buyer = upsert.mutable_buyer();
  buyer->set_buyer_id("qingdao-office");
  buyer->set_name("青岛市东西部协作办");
  buyer->set_city_code("370200");
  buyer->set_kind(v1::GOVERNMENT_UNIT);
  buyer->set_annual_target_fen(2'000'000'00);
  buyer->set_alliance_id("shandong");
  v1::UpsertBuyerResponse created;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->UpsertBuyer(&context, upsert, &created).ok());
  }
  EXPECT_TRUE(created.created());
  EXPECT_EQ(created.buyer().annual_target_fen(), 2'000'000'00);

  // A second member, through Submit's upsert_buyer.
  v1::SubmitRequest batch;
  v1::UpsertBuyerRequest* second = batch.add_commands()->mutable_upsert_buyer();
  *second->mutable_buyer() = *buyer;
  second->mutable_buyer()->set_buyer_id("jinan-school");
  second->mutable_buyer()->set_city_code("370000");
  second->mutable_buyer()->set_kind(v1::SCHOOL);
  second->mutable_buyer()->set_annual_target_fen(1'000'000'00);
  v1::SubmitResponse submitted;
  ASSERT_TRUE(SubmitOnce(batch, &submitted).ok());
  ASSERT_EQ(submitted.results_size(), 1);
  ASSERT_TRUE(submitted.results(0).has_upsert_buyer())
      << submitted.results(0).error().message();
  EXPECT_TRUE(submitted.results(0).upsert_buyer().created());

  v1::GetBuyerRequest get;
  get.set_buyer_id("jinan-school");
  v1::Buyer got;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->GetBuyer(&context, get, &got).ok());
  }
  EXPECT_EQ(got.kind(), v1::SCHOOL);
  get.set_buyer_id("nobody");
  {
    grpc::ClientContext context;
    EXPECT_EQ(stub_->GetBuyer(&context, get, &got).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }

  v1::ListBuyersRequest list;
  list.set_alliance_id("shandong");
  list.set_page_size(1);
  v1::ListBuyersResponse page;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->ListBuyers(&context, list, &page).ok());
  }
  ASSERT_EQ(page.buyers_size(), 1);
  EXPECT_EQ(page.buyers(0).buyer_id(), "jinan-school");
  EXPECT_EQ(page.next_page_token(), "jinan-school");
  list.set_page_token(page.next_page_token());
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->ListBuyers(&context, list, &page).ok());
  }
  ASSERT_EQ(page.buyers_size(), 1);
  EXPECT_EQ(page.buyers(0).buyer_id(), "qingdao-office");
  EXPECT_EQ(page.next_page_token(), "");

  // A pledge without city and kind takes the registry's; one that
  // disagrees is refused naming the field and both values.
  v1::PostOfferResponse offer;
  ASSERT_TRUE(PostOffer(PepperOffer(1000, 9000), &offer).ok());
  v1::PostPledgeRequest pledge = PepperPledge("qingdao-office", "", 400, 10000);
  pledge.mutable_pledge()->clear_buyer_kind();
  v1::PostPledgeResponse posted;
  ASSERT_TRUE(PostPledge(pledge, &posted).ok());
  EXPECT_EQ(posted.pledge().buyer_city_code(), "370200");
  EXPECT_EQ(posted.pledge().buyer_kind(), v1::GOVERNMENT_UNIT);
  ASSERT_EQ(posted.matches_size(), 1);
  EXPECT_TRUE(posted.matches(0).partner());
  pledge.mutable_pledge()->set_buyer_city_code("440100");
  grpc::Status refused = PostPledge(pledge, &posted);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(refused.error_message(), "pledge.buyer_city_code"))
      << refused.error_message();
  EXPECT_TRUE(Contains(refused.error_message(), "\"370200\""))
      << refused.error_message();

  // 400 kg at 90.00 yuan in November 2024 (Shanghai).
  v1::GetBuyerProgressRequest progress_request;
  progress_request.set_alliance_id("shandong");
  progress_request.set_year(2024);
  v1::BuyerProgress progress;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(
        stub_->GetBuyerProgress(&context, progress_request, &progress).ok());
  }
  EXPECT_EQ(progress.annual_target_fen(), 3'000'000'00);
  EXPECT_EQ(progress.matched_fen(), 400 * 9000);
  EXPECT_EQ(progress.delivered_fen(), 0);
  EXPECT_EQ(progress.share_done_permille(), 12);  // 3.6M of 300M fen
  ASSERT_EQ(progress.months_size(), 12);
  EXPECT_EQ(progress.months(10).month(), 11);
  EXPECT_EQ(progress.months(10).matched_fen(), 400 * 9000);
  EXPECT_EQ(progress.member_ids_size(), 2);
  progress_request.set_buyer_id("qingdao-office");
  {
    grpc::ClientContext context;
    EXPECT_EQ(stub_->GetBuyerProgress(&context, progress_request, &progress)
                  .error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
}

// GetStats through the real server: days in Asia/Shanghai, pages that
// carry on after the last row's keys with the total on each, the time
// range, and refusals that name the field.
TEST_F(IntegrationTest, StatsSumMatchesByDayAndPageThroughGrpc) {
  MakeMatch(10);                                // 2024-11-20 08:00 in Shanghai
  now_micros_ += int64_t{20} * 3600 * 1000000;  // 2024-11-21 04:00
  MakeMatch(20);
  MakeMatch(5);

  v1::GetStatsRequest request;
  request.add_group_by(v1::DAY);
  request.add_group_by(v1::PAIRING);
  request.set_page_size(1);
  std::vector<std::string> days;
  for (int page = 0; page < 3; ++page) {
    v1::GetStatsResponse response;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->GetStats(&context, request, &response).ok());
    ASSERT_EQ(response.rows_size(), 1);
    EXPECT_EQ(response.rows(0).keys(1), "370200>621200");
    days.push_back(response.rows(0).keys(0));
    EXPECT_EQ(response.total().kg(), 35);
    EXPECT_EQ(response.total().fen(), 35 * 9000);
    EXPECT_EQ(response.total().matches(), 3);
    EXPECT_EQ(response.total().suppliers(), 1);
    EXPECT_EQ(response.total().households(), 3 * 120);
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  EXPECT_EQ(days, (std::vector<std::string>{"2024-11-20", "2024-11-21"}));

  // The second day alone, from its start in Shanghai (16:00 UTC).
  v1::GetStatsRequest second;
  second.add_group_by(v1::ORIGIN_COUNTY);
  second.mutable_from()->set_seconds(kStartSeconds + 16 * 3600);
  v1::GetStatsResponse response;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->GetStats(&context, second, &response).ok());
  }
  ASSERT_EQ(response.rows_size(), 1);
  EXPECT_EQ(response.rows(0).keys(0), "621202");
  EXPECT_EQ(response.rows(0).kg(), 25);
  EXPECT_EQ(response.rows(0).matches(), 2);

  // Refusals name the field and the value.
  auto refused = [&](const v1::GetStatsRequest& bad) {
    grpc::ClientContext context;
    v1::GetStatsResponse out;
    grpc::Status status = stub_->GetStats(&context, bad, &out);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    return status.error_message();
  };
  v1::GetStatsRequest bad;
  for (v1::Dimension d :
       {v1::DAY, v1::WEEK, v1::MONTH, v1::QUARTER, v1::PRODUCT}) {
    bad.add_group_by(d);
  }
  EXPECT_EQ(refused(bad), "group_by: 5 dimensions; at most 4");
  bad.clear_group_by();
  bad.add_group_by(v1::BUYER);
  bad.add_group_by(v1::BUYER);
  EXPECT_EQ(refused(bad),
            "group_by: BUYER is repeated; group by each dimension once");
  bad.clear_group_by();
  bad.set_page_size(10001);
  EXPECT_EQ(refused(bad), "page_size: 10001 is out of range [0, 10000]");
  bad.set_page_size(0);
  bad.mutable_from()->set_seconds(kStartSeconds);
  bad.mutable_to()->set_seconds(kStartSeconds);
  EXPECT_TRUE(Contains(refused(bad), "from: "));
  bad.clear_from();
  bad.clear_to();
  bad.set_page_token("not-a-token");
  EXPECT_TRUE(Contains(refused(bad), "page_token: malformed"));
  bad.clear_page_token();
  bad.mutable_filter()->set_origin_region_prefix("62a");
  EXPECT_TRUE(Contains(refused(bad), "filter.origin_region_prefix"));
}

TEST_F(IntegrationTest, ProductCatalogueThroughGrpc) {
  v1::PostOfferResponse offer;
  ASSERT_TRUE(PostOffer(PepperOffer(100, 9000), &offer).ok());
  auto upsert = [&](const v1::UpsertProductRequest& r,
                    v1::UpsertProductResponse* out) {
    grpc::ClientContext context;
    return stub_->UpsertProduct(&context, r, out);
  };
  auto list = [&](const v1::ListProductsRequest& r,
                  v1::ListProductsResponse* out) {
    grpc::ClientContext context;
    return stub_->ListProducts(&context, r, out);
  };
  // Open: the products the offer named, named by their code.
  v1::ListProductsResponse listed;
  ASSERT_TRUE(list(v1::ListProductsRequest(), &listed).ok());
  EXPECT_TRUE(listed.open());
  ASSERT_EQ(listed.products_size(), 2);
  EXPECT_EQ(listed.products(1).code(), "spice.sichuan_pepper");
  EXPECT_EQ(listed.products(1).name(), "spice.sichuan_pepper");
  EXPECT_TRUE(listed.products(1).from_orders());

  v1::UpsertProductRequest request;
  request.set_request_id("product-1");
  v1::Product* p = request.mutable_product();
  p->set_code("spice.star_anise");
  p->set_name("八角");
  p->set_unit_note("每袋1公斤");
  p->set_perishability(v1::STORABLE);
  p->mutable_shelf_life()->set_seconds(int64_t{730} * 86400);
  v1::UpsertProductResponse answer;
  // Malformed durations and enums are refused naming the field.
  v1::UpsertProductRequest bad = request;
  bad.mutable_product()->mutable_shelf_life()->set_nanos(5);
  grpc::Status status = upsert(bad, &answer);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(status.error_message(), "product.shelf_life"));
  bad = request;
  bad.mutable_product()->set_perishability(static_cast<v1::Perishability>(9));
  status = upsert(bad, &answer);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(status.error_message(), "product.perishability"));

  ASSERT_TRUE(upsert(request, &answer).ok());
  EXPECT_TRUE(answer.created());
  EXPECT_EQ(answer.product().name(), "八角");
  EXPECT_EQ(answer.product().shelf_life().seconds(), int64_t{730} * 86400);
  EXPECT_FALSE(answer.product().from_orders());

  // Closed: a post off the catalogue is refused, naming the field.
  v1::PostOfferRequest misspelt = PepperOffer(100, 9000);
  misspelt.mutable_offer()->set_product_code("spice.star_anis");
  status = PostOffer(misspelt, &offer);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(Contains(status.error_message(),
                       "offer.product_code: \"spice.star_anis\" is not in "
                       "the catalogue; did you mean \"spice.star_anise\"?"));
  EXPECT_TRUE(PostOffer(PepperOffer(100, 9000), &offer).ok());

  v1::ListProductsRequest page;
  page.set_code_prefix("spice");
  page.set_page_size(2);
  ASSERT_TRUE(list(page, &listed).ok());
  EXPECT_FALSE(listed.open());
  EXPECT_EQ(listed.total_count(), 3);
  ASSERT_EQ(listed.products_size(), 2);
  ASSERT_FALSE(listed.next_page_token().empty());
  page.set_page_token(listed.next_page_token());
  ASSERT_TRUE(list(page, &listed).ok());
  ASSERT_EQ(listed.products_size(), 1);
  EXPECT_EQ(listed.products(0).code(), "spice.star_anise");
  EXPECT_TRUE(listed.next_page_token().empty());
}

}  // namespace
}  // namespace duijie

// Every command a Submit batch can carry converts to an engine command (an
// empty request may fail as INVALID_ARGUMENT, never as a missing
// conversion) and has a result field of the same name.
TEST(ConvertTest, SubmitCommandsAllConvert) {
  const google::protobuf::OneofDescriptor* oneof =
      duijie::v1::Command::descriptor()->FindOneofByName("command");
  ASSERT_NE(oneof, nullptr);
  for (int i = 0; i < oneof->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = oneof->field(i);
    SCOPED_TRACE(field->name());
    duijie::v1::Command command;
    command.GetReflection()->MutableMessage(&command, field);
    absl::StatusOr<duijie::Command> converted = duijie::ToCommand(command);
    EXPECT_TRUE(converted.ok() || absl::IsInvalidArgument(converted.status()))
        << converted.status();
    EXPECT_NE(
        duijie::v1::CommandResult::descriptor()->FindFieldByName(field->name()),
        nullptr);
  }
}
