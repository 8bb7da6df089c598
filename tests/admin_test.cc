// The Admin service through real gRPC: the state hash and snapshots are
// taken from a copy-on-write image (api/state_image.h) and give what the
// engine itself gives; concurrent callers share runs (api/coalescer.h).
// Also prints the writer's pause for both, against serializing on the
// writer (figures, not limits; DUIJIE_ADMIN_ORDERS=N sets the book size,
// and with it a throughput run: posts per second while two callers loop on
// GetStateHash).
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/server.h"
#include "api/snapshot.h"
#include "api/state_image.h"
#include "duijie/v1/admin.grpc.pb.h"
#include "duijie/v1/exchange.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"

namespace duijie {
namespace {

constexpr int64_t kStartSeconds = 1732060800;  // 2024-11-20T00:00:00Z

class AdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        std::filesystem::temp_directory_path() / "duijie-admin-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (server_) server_->Shutdown(absl::Seconds(2));
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Starts a server, durable in dir_/data when `durable`.
  void StartServer(bool durable) {
    ServerOptions options;
    // Limits and transport, not authentication (auth_test covers keys).
    options.auth.enabled = false;
    options.listen = "127.0.0.1:0";
    options.clock = [] { return absl::FromUnixSeconds(kStartSeconds); };
    if (durable) {
      options.durability.dir = dir_ + "/data";
      options.durability.fsync = false;
    }
    absl::StatusOr<std::unique_ptr<DuijieServer>> server =
        DuijieServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    auto channel = grpc::CreateChannel(server_->address(),
                                       grpc::InsecureChannelCredentials());
    stub_ = v1::Exchange::NewStub(channel);
    admin_ = v1::Admin::NewStub(channel);
  }

  // Posts `offers` offers and `pledges` pledges that each take one whole
  // offer, through Submit, 1,000 commands a batch.
  void Post(int offers, int pledges) {
    if (!region_) {
      v1::UpsertRegionRequest region;
      region.mutable_region()->set_code("410225");
      region.mutable_region()->set_name("Lankao");
      v1::Region reply;
      grpc::ClientContext context;
      ASSERT_TRUE(stub_->UpsertRegion(&context, region, &reply).ok());
      region_ = true;
    }
    std::vector<v1::Command> commands;
    for (int i = 0; i < offers; ++i) {
      v1::Offer* offer =
          commands.emplace_back().mutable_post_offer()->mutable_offer();
      offer->set_supplier_id(absl::StrCat("coop-", i % 97));
      offer->set_region_code("410225");
      offer->set_product_code("vegetable.cabbage");
      offer->set_grade(v1::GRADE_FIRST);
      offer->set_quantity_kg(1000);
      offer->set_floor_price_fen_per_kg(80 + i % 50);
      offer->mutable_expires_at()->set_seconds(kStartSeconds + 86400 * 30);
    }
    for (int i = 0; i < pledges; ++i) {
      v1::Pledge* pledge =
          commands.emplace_back().mutable_post_pledge()->mutable_pledge();
      pledge->set_buyer_id(absl::StrCat("canteen-", i % 13));
      pledge->set_buyer_city_code("410225");
      pledge->set_buyer_kind(v1::CANTEEN);
      pledge->set_product_code("vegetable");
      pledge->set_quantity_kg(1000);
      pledge->set_max_price_fen_per_kg(200);
      pledge->mutable_expires_at()->set_seconds(kStartSeconds + 86400);
      pledge->set_scope(v1::ANY);
    }
    for (size_t done = 0; done < commands.size(); done += 1000) {
      v1::SubmitRequest request;
      for (size_t i = done; i < commands.size() && i < done + 1000; ++i) {
        *request.add_commands() = commands[i];
      }
      grpc::ClientContext context;
      auto stream = stub_->Submit(&context);
      ASSERT_TRUE(stream->Write(request));
      stream->WritesDone();
      v1::SubmitResponse response;
      ASSERT_TRUE(stream->Read(&response));
      ASSERT_TRUE(stream->Finish().ok());
    }
  }

  grpc::Status StateHash(v1::GetStateHashResponse* response) {
    grpc::ClientContext context;
    return admin_->GetStateHash(&context, v1::GetStateHashRequest(), response);
  }
  grpc::Status Snapshot(v1::SnapshotResponse* response) {
    grpc::ClientContext context;
    return admin_->Snapshot(&context, v1::SnapshotRequest(), response);
  }

  std::string dir_;
  bool region_ = false;
  std::unique_ptr<DuijieServer> server_;
  std::unique_ptr<v1::Exchange::Stub> stub_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

TEST_F(AdminTest, StateHashIsTheEnginesOwn) {
  StartServer(/*durable=*/false);
  Post(300, 120);
  v1::GetStateHashResponse response;
  grpc::Status status = StateHash(&response);
  ASSERT_TRUE(status.ok()) << status.error_code() << " "
                           << status.error_message();
  // Nothing applies commands now: the engine may be read directly.
  EXPECT_EQ(response.state_hash(), server_->engine()->StateHash());
  EXPECT_EQ(response.last_match_id(), 120u);
  EXPECT_EQ(response.offer_count(), 300u);
  EXPECT_EQ(response.pledge_count(), 120u);
  EXPECT_EQ(response.state_hash_hex().size(), 16u);
}

TEST_F(AdminTest, SnapshotIsWrittenFromAnImageAndRecoversTheSameState) {
  StartServer(/*durable=*/true);
  Post(500, 200);
  v1::SnapshotResponse snapshot;
  grpc::Status status = Snapshot(&snapshot);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(snapshot.position(), server_->store()->position());
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/data/" + snapshot.file()));
  // Asking again at the same position writes nothing new.
  v1::SnapshotResponse again;
  ASSERT_TRUE(Snapshot(&again).ok());
  EXPECT_EQ(again.position(), snapshot.position());
  v1::GetStateHashResponse before;
  ASSERT_TRUE(StateHash(&before).ok());

  server_->Shutdown();
  server_.reset();
  StartServer(/*durable=*/true);
  EXPECT_EQ(server_->store()->report().snapshot_file, snapshot.file());
  EXPECT_EQ(server_->store()->report().replayed_records, 0u);
  v1::GetStateHashResponse after;
  ASSERT_TRUE(StateHash(&after).ok());
  EXPECT_EQ(after.state_hash(), before.state_hash());
}

TEST_F(AdminTest, ConcurrentCallersAllGetAnswersOfTheCurrentState) {
  StartServer(/*durable=*/true);
  Post(400, 100);
  const uint64_t expected = server_->engine()->StateHash();
  std::vector<std::thread> callers;
  std::atomic<int> hashes{0}, snapshots{0};
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        v1::GetStateHashResponse response;
        grpc::Status status = StateHash(&response);
        EXPECT_TRUE(status.ok()) << status.error_message();
        EXPECT_EQ(response.state_hash(), expected);
        ++hashes;
      }
    });
    callers.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        v1::SnapshotResponse response;
        grpc::Status status = Snapshot(&response);
        EXPECT_TRUE(status.ok()) << status.error_message();
        ++snapshots;
      }
    });
  }
  for (auto& caller : callers) caller.join();
  EXPECT_EQ(hashes.load(), 40);
  EXPECT_EQ(snapshots.load(), 20);
  // A write after the runs shows in the next hash.
  Post(1, 0);
  v1::GetStateHashResponse response;
  ASSERT_TRUE(StateHash(&response).ok());
  EXPECT_NE(response.state_hash(), expected);
  EXPECT_EQ(response.state_hash(), server_->engine()->StateHash());
}

// The image gives the bytes SaveState gives.
TEST_F(AdminTest, StateImageReadsWhatSaveStateWrites) {
  StartServer(/*durable=*/false);
  Post(200, 50);
  std::string direct;
  absl::StatusOr<std::string> imaged = absl::UnknownError("not run");
  absl::Notification done;
  ASSERT_TRUE(server_->service()->RunOnWriter([&] {
    direct = server_->engine()->SaveState();
    absl::StatusOr<StateImage> image = StateImage::Capture(*server_->engine());
    if (image.ok()) {
      imaged = image->Read();
    } else {
      imaged = image.status();
    }
    done.Notify();
  }));
  done.WaitForNotification();
  ASSERT_TRUE(imaged.ok()) << imaged.status();
  EXPECT_EQ(*imaged, direct);
  EXPECT_EQ(Engine::HashState(*imaged), server_->engine()->StateHash());
}

// Figures: the writer's pause to hash or snapshot, serializing on the
// writer (as before) against forking an image.
TEST_F(AdminTest, WriterPauseFigures) {
  const char* env = std::getenv("DUIJIE_ADMIN_ORDERS");
  const int orders = env != nullptr ? std::atoi(env) : 20000;
  StartServer(/*durable=*/false);
  Post(orders, 0);
  std::vector<absl::Duration> serialize, fork;
  size_t bytes = 0;
  for (int i = 0; i < 5; ++i) {
    absl::Notification done;
    ASSERT_TRUE(server_->service()->RunOnWriter([&] {
      absl::Time start = absl::Now();
      bytes = server_->engine()->SaveState().size();
      serialize.push_back(absl::Now() - start);
      absl::StatusOr<StateImage> image =
          StateImage::Capture(*server_->engine());
      ASSERT_TRUE(image.ok()) << image.status();
      fork.push_back(image->fork_time());
      EXPECT_TRUE(image->Read().ok());
      done.Notify();
    }));
    done.WaitForNotification();
  }
  std::sort(serialize.begin(), serialize.end());
  std::sort(fork.begin(), fork.end());
  std::printf(
      "%d resting orders (%zu state bytes): writer pause, median of 5: "
      "serializing on the writer %s, fork %s\n",
      orders, bytes, absl::FormatDuration(serialize[2]).c_str(),
      absl::FormatDuration(fork[2]).c_str());
  if (env == nullptr) return;

  // Posts per second from one client while two callers loop on the hash:
  // through Admin (fork), and as before (StateHash on the writer).
  auto posts_per_second = [&](const std::function<void()>& caller) {
    std::atomic<bool> stop{false};
    std::vector<std::thread> loopers;
    for (int i = 0; i < 2; ++i) {
      loopers.emplace_back([&] {
        while (!stop) caller();
      });
    }
    int posts = 0;
    const absl::Time start = absl::Now();
    while (absl::Now() - start < absl::Seconds(3)) {
      v1::PostPledgeRequest request;
      v1::Pledge* pledge = request.mutable_pledge();
      pledge->set_buyer_id("canteen");
      pledge->set_buyer_city_code("410225");
      pledge->set_buyer_kind(v1::CANTEEN);
      pledge->set_product_code("fruit");
      pledge->set_quantity_kg(10);
      pledge->set_max_price_fen_per_kg(10);
      pledge->mutable_expires_at()->set_seconds(kStartSeconds + 86400);
      pledge->set_scope(v1::ANY);
      v1::PostPledgeResponse response;
      grpc::ClientContext context;
      if (stub_->PostPledge(&context, request, &response).ok()) ++posts;
    }
    const double rate = posts / absl::ToDoubleSeconds(absl::Now() - start);
    stop = true;
    for (auto& looper : loopers) looper.join();
    return rate;
  };
  const double alone =
      posts_per_second([] { absl::SleepFor(absl::Milliseconds(10)); });
  const double on_writer = posts_per_second([&] {
    absl::Notification done;
    server_->service()->RunOnWriter([&] {
      server_->engine()->StateHash();
      done.Notify();
    });
    done.WaitForNotification();
  });
  const double imaged = posts_per_second([&] {
    v1::GetStateHashResponse response;
    EXPECT_TRUE(StateHash(&response).ok());
  });
  std::printf(
      "posts/s from one client: %.0f alone; with two callers looping on the "
      "state hash: %.0f hashing on the writer, %.0f through Admin (fork)\n",
      alone, on_writer, imaged);
}

}  // namespace
}  // namespace duijie
