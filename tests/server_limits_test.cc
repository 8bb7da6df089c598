// The server's transport limits (api/server_limits.h), through a real gRPC
// channel to a DuijieServer on a free loopback port: each test sets one
// limit low, goes over it and checks the call fails with RESOURCE_EXHAUSTED
// naming the limit and that nothing changed; then that the server still
// serves.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/server.h"
#include "api/submit_reactor.h"
#include "api/watch_reactor.h"
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
    // Limits and transport, not authentication (auth_test covers keys).
    options.auth.enabled = false;
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

  // A pledge that takes one whole CabbageOffer.
  static v1::PostPledgeRequest CabbagePledge(const std::string& buyer) {
    v1::PostPledgeRequest request;
    v1::Pledge* pledge = request.mutable_pledge();
    pledge->set_buyer_id(buyer);
    pledge->set_buyer_city_code("410225");
    pledge->set_buyer_kind(v1::CANTEEN);
    pledge->set_product_code("vegetable");
    pledge->set_quantity_kg(1000);
    pledge->set_max_price_fen_per_kg(100);
    pledge->mutable_expires_at()->set_seconds(kStartSeconds + 86400);
    pledge->set_scope(v1::ANY);
    return request;
  }

  // Makes `n` matches through Submit, `per_batch` a batch (an offer and
  // the pledge that takes it whole, each).
  void MakeMatches(int n, int per_batch = 500) {
    for (int done = 0; done < n; done += per_batch) {
      v1::SubmitRequest request;
      for (int i = done; i < n && i < done + per_batch; ++i) {
        *request.add_commands()->mutable_post_offer() = CabbageOffer("coop");
        *request.add_commands()->mutable_post_pledge() =
            CabbagePledge("canteen");
      }
      int replies = 0;
      grpc::Status status = SubmitOnce(request, &replies);
      ASSERT_TRUE(status.ok()) << status.error_message();
      ASSERT_EQ(replies, 1);
    }
  }

  // Open cabbage offers, read through GetBook.
  int64_t OpenCabbageOffers() {
    v1::GetBookRequest request;
    request.set_product_code_prefix("vegetable.cabbage");
    v1::GetBookResponse response;
    grpc::ClientContext context;
    EXPECT_TRUE(stub_->GetBook(&context, request, &response).ok());
    return response.lines_size() == 1 ? response.lines(0).open_offer_count()
                                      : 0;
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

// The client's receive window stays small (no BDP probing), so that a
// client that does not read holds back the server's writes soon.
grpc::ChannelArguments SmallWindow() {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16 << 10);
  return args;
}

TEST_F(LimitsTest, WatcherThatFallsBehindIsEndedAndResumesWithoutGaps) {
  ServerLimits limits;
  limits.watch_buffer = 1000;
  StartServer(limits, SmallWindow());
  MakeMatches(1);
  grpc::ClientContext slow_context;
  slow_context.set_deadline(
      absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  auto slow = stub_->WatchMatches(&slow_context, v1::WatchMatchesRequest());
  v1::MatchEvent event;
  ASSERT_TRUE(slow->Read(&event));  // caught up: the stream is live
  EXPECT_EQ(event.match().match_id(), 1u);

  // A reader that keeps up sees every match; the slow one reads nothing
  // while 10,000 matches are made (far more than the buffer and the
  // transport's windows hold).
  constexpr int kMatches = 10000;
  std::atomic<uint64_t> fast_last{0};
  grpc::ClientContext fast_context;
  fast_context.set_deadline(
      absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  std::thread fast([&] {
    auto reader = stub_->WatchMatches(&fast_context, v1::WatchMatchesRequest());
    v1::MatchEvent m;
    uint64_t expected = 1;
    while (reader->Read(&m)) {
      EXPECT_EQ(m.match().match_id(), expected);
      expected = m.match().match_id() + 1;
      fast_last = m.match().match_id();
      if (m.match().match_id() == kMatches + 1) break;
    }
    fast_context.TryCancel();
    while (reader->Read(&m)) {
    }
    reader->Finish();
  });
  // 50 matches a batch, each batch once the fast reader has the last one:
  // it keeps up by construction, however loaded the machine.
  for (int made = 1; made < kMatches + 1; made += 50) {
    MakeMatches(50);
    while (fast_last.load() < static_cast<uint64_t>(made + 50)) {
      absl::SleepFor(absl::Microseconds(200));
    }
  }
  fast.join();
  EXPECT_EQ(fast_last.load(), uint64_t{kMatches} + 1);

  // The slow reader gets what was in flight, in order, then the end.
  uint64_t last = 1;
  while (slow->Read(&event)) {
    EXPECT_EQ(event.match().match_id(), last + 1);
    last = event.match().match_id();
  }
  grpc::Status status = slow->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();
  EXPECT_TRUE(Contains(status.error_message(), "watch_buffer"))
      << status.error_message();
  EXPECT_LT(last, uint64_t{kMatches} + 1);

  // Resuming after the last one received misses nothing.
  grpc::ClientContext resume_context;
  resume_context.set_deadline(
      absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  // Every event here is a new match: event ids are match ids.
  v1::WatchMatchesRequest resume;
  resume.set_after_event_id(last);
  auto reader = stub_->WatchMatches(&resume_context, resume);
  while (last < uint64_t{kMatches} + 1 && reader->Read(&event)) {
    ASSERT_EQ(event.match().match_id(), last + 1);
    last = event.match().match_id();
  }
  EXPECT_EQ(last, uint64_t{kMatches} + 1);
  resume_context.TryCancel();
  while (reader->Read(&event)) {
  }
  reader->Finish();
}

// Figures, not limits: the time to make matches with many live watchers
// whose clients read nothing, against none; and that they are ended.
TEST_F(LimitsTest, WatchersThatDoNotReadLeaveTheWriterAlone) {
  ServerLimits limits;
  limits.watch_buffer = 1000;
  StartServer(limits, SmallWindow());
  MakeMatches(1);
  const absl::Time alone_start = absl::Now();
  MakeMatches(5000);
  const absl::Duration alone = absl::Now() - alone_start;

  constexpr int kWatchers = 200;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::MatchEvent>>> readers;
  for (int i = 0; i < kWatchers; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    contexts.back()->set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    v1::WatchMatchesRequest request;
    request.set_after_match_id(5001);
    readers.push_back(stub_->WatchMatches(contexts.back().get(), request));
  }
  MakeMatches(1);  // each watcher's first match: they are live now
  for (auto& reader : readers) {
    v1::MatchEvent event;
    ASSERT_TRUE(reader->Read(&event));
  }
  const absl::Time watched_start = absl::Now();
  MakeMatches(5000);
  const absl::Duration watched = absl::Now() - watched_start;
  std::printf(
      "5,000 matches through Submit: %s alone, %s with %d watchers that do "
      "not read (watch_buffer %d)\n",
      absl::FormatDuration(alone).c_str(),
      absl::FormatDuration(watched).c_str(), kWatchers, limits.watch_buffer);
  // 5,000 matches are far more than each buffer and the transport hold:
  // every watcher is ended, and a client that reads now gets what was in
  // flight, in order, then the end.
  int ended = 0;
  for (int i = 0; i < kWatchers; ++i) {
    v1::MatchEvent event;
    uint64_t last = 5002;
    while (readers[i]->Read(&event)) {
      EXPECT_EQ(event.match().match_id(), last + 1);
      last = event.match().match_id();
    }
    grpc::Status status = readers[i]->Finish();
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
        Contains(status.error_message(), "watch_buffer")) {
      ++ended;
    }
  }
  EXPECT_EQ(ended, kWatchers);
}

// Resident memory of this process, in bytes (from /proc/self/statm).
int64_t ResidentBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  long pages = 0, resident = 0;
  const int n = std::fscanf(f, "%ld %ld", &pages, &resident);
  std::fclose(f);
  return n == 2 ? int64_t{resident} * sysconf(_SC_PAGESIZE) : 0;
}

TEST_F(LimitsTest, SubmitClientThatDoesNotReadRepliesIsHeldBack) {
  ServerLimits limits;
  limits.submit_buffer_bytes = 64 << 10;
  StartServer(limits, SmallWindow());
  // 40 batches of 200 offers: each reply is about 20 KB, so the server
  // may read about three batches past what the transport takes, where
  // reading up to 16 batches ahead would apply 3,200 offers or more.
  constexpr int kBatches = 40;
  constexpr int kPerBatch = 200;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  auto stream = stub_->Submit(&context);
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int b = 0; b < kBatches; ++b) {
      v1::SubmitRequest request;
      for (int i = 0; i < kPerBatch; ++i) {
        *request.add_commands()->mutable_post_offer() = CabbageOffer("coop");
      }
      if (!stream->Write(request)) break;
      ++written;
    }
  });
  // Wait until the server stops taking batches.
  int64_t applied = -1;
  for (int stable = 0; stable < 5;) {
    absl::SleepFor(absl::Milliseconds(100));
    const int64_t now = OpenCabbageOffers();
    stable = now == applied ? stable + 1 : 0;
    applied = now;
  }
  std::printf(
      "a client that does not read: %lld offers applied of %d sent, "
      "%d batches written by the client\n",
      static_cast<long long>(applied), kBatches * kPerBatch, written.load());
  EXPECT_GE(applied, kPerBatch);
  EXPECT_LE(applied, 10 * kPerBatch);
  // Once the client reads, everything goes through.
  v1::SubmitResponse response;
  int replies = 0;
  while (replies < kBatches && stream->Read(&response)) ++replies;
  writer.join();
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(replies, kBatches);
  EXPECT_EQ(OpenCabbageOffers(), kBatches * kPerBatch);
}

TEST_F(LimitsTest, StreamsOpenedAndResetFreeTheirReactors) {
  StartServer(ServerLimits());
  MakeMatches(1);
  // DUIJIE_RESET_STREAMS=N for a larger run (figures).
  const char* env = std::getenv("DUIJIE_RESET_STREAMS");
  const int kStreams = env != nullptr ? std::atoi(env) : 3000;
  const int64_t rss_before = ResidentBytes();
  for (int i = 0; i < kStreams; ++i) {
    grpc::ClientContext submit_context;
    auto submit = stub_->Submit(&submit_context);
    grpc::ClientContext watch_context;
    auto watch = stub_->WatchMatches(&watch_context, v1::WatchMatchesRequest());
    v1::MatchEvent event;
    ASSERT_TRUE(watch->Read(&event));
    submit_context.TryCancel();
    watch_context.TryCancel();
    while (watch->Read(&event)) {
    }
    watch->Finish();
    submit->Finish();
  }
  // The server sees the cancellations a little after the client.
  for (int i = 0; i < 500 && (WatchReactor::live_reactors() > 0 ||
                              LiveSubmitReactors() > 0);
       ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(WatchReactor::live_reactors(), 0);
  EXPECT_EQ(LiveSubmitReactors(), 0);
  std::printf(
      "%d Submit and %d WatchMatches streams opened and reset: "
      "resident memory %+lld KiB (client and server)\n",
      kStreams, kStreams,
      static_cast<long long>((ResidentBytes() - rss_before) >> 10));
}

TEST_F(LimitsTest, CancelledWatchersFreeTheirReactors) {
  StartServer(ServerLimits());
  MakeMatches(1);
  for (int i = 0; i < 200; ++i) {
    grpc::ClientContext context;
    auto reader = stub_->WatchMatches(&context, v1::WatchMatchesRequest());
    v1::MatchEvent event;
    ASSERT_TRUE(reader->Read(&event));
    context.TryCancel();
    while (reader->Read(&event)) {
    }
    reader->Finish();
  }
  // The server sees the cancellations a little after the client.
  for (int i = 0; i < 500 && WatchReactor::live_reactors() > 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(WatchReactor::live_reactors(), 0);
}

// A stream that was handed a live match and is then cancelled is freed
// when it is done, not when the next match is published (the hub must not
// hold it while it waits).
TEST_F(LimitsTest, WatcherCancelledAfterALiveMatchIsFreedWithoutAnother) {
  StartServer(ServerLimits());
  MakeMatches(1);
  grpc::ClientContext context;
  auto reader = stub_->WatchMatches(&context, v1::WatchMatchesRequest());
  v1::MatchEvent event;
  ASSERT_TRUE(reader->Read(&event));  // from the history
  // Time to join the live fan-out, so that the next match comes from the
  // hub (were it read from the history, the test would pass either way).
  absl::SleepFor(absl::Milliseconds(200));
  MakeMatches(1);
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.match().match_id(), 2u);
  context.TryCancel();
  while (reader->Read(&event)) {
  }
  reader->Finish();
  for (int i = 0; i < 1000 && WatchReactor::live_reactors() > 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(WatchReactor::live_reactors(), 0);
}

}  // namespace
}  // namespace duijie
