// TLS and mutual TLS through real gRPC. The certificates are made at test
// time with openssl(1): a CA, a server certificate for localhost and
// 127.0.0.1 signed by it, a client certificate signed by it, and a client
// certificate from another CA.
#include "api/tls.h"

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

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

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string tmpl =
        std::filesystem::temp_directory_path() / "duijie-tls-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = new std::string(tmpl);
    const std::string d = *dir_;
    {
      std::ofstream ext(d + "/server.ext");
      ext << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
    }
    // EC keys: quick to make. -days 2: valid for the test's run.
    const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1";
    const std::string script = absl::StrCat(
        "set -e; cd '", d, "'; exec 2>openssl.log;", "openssl req -x509 ", key,
        " -nodes -keyout ca.key -out ca.crt -days 2 -subj '/CN=duijie test "
        "CA';",
        "openssl req -x509 ", key,
        " -nodes -keyout other-ca.key -out other-ca.crt -days 2"
        " -subj '/CN=another CA';",
        "openssl req ", key,
        " -nodes -keyout server.key -out server.csr -subj '/CN=localhost';",
        "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key"
        " -CAcreateserial -out server.crt -days 2 -extfile server.ext;",
        "openssl req ", key,
        " -nodes -keyout client.key -out client.csr -subj '/CN=platform-832';",
        "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key"
        " -CAcreateserial -out client.crt -days 2;",
        "openssl req ", key,
        " -nodes -keyout stranger.key -out stranger.csr -subj '/CN=stranger';",
        "openssl x509 -req -in stranger.csr -CA other-ca.crt"
        " -CAkey other-ca.key -CAcreateserial -out stranger.crt -days 2;");
    const std::string command = absl::StrCat("bash -c \"", script, "\"");
    ASSERT_EQ(std::system(command.c_str()), 0)
        << "openssl failed: " << ReadAll(d + "/openssl.log");
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  void TearDown() override {
    if (server_) server_->Shutdown(absl::Seconds(1));
  }

  static std::string File(const std::string& name) {
    return *dir_ + "/" + name;
  }

  void StartServer(bool require_client_cert) {
    ServerOptions options;
    // Limits and transport, not authentication (auth_test covers keys).
    options.auth.enabled = false;
    options.listen = "127.0.0.1:0";
    options.tls.cert_file = File("server.crt");
    options.tls.key_file = File("server.key");
    if (require_client_cert) options.tls.client_ca_file = File("ca.crt");
    absl::StatusOr<std::unique_ptr<DuijieServer>> server =
        DuijieServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  // A ListRegions call over `credentials` to the server, as `host`.
  grpc::Status Call(std::shared_ptr<grpc::ChannelCredentials> credentials,
                    const std::string& host = "127.0.0.1") {
    auto stub = v1::Exchange::NewStub(grpc::CreateChannel(
        absl::StrCat(host, ":", server_->port()), credentials));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    v1::ListRegionsResponse response;
    return stub->ListRegions(&context, v1::ListRegionsRequest(), &response);
  }

  static std::shared_ptr<grpc::ChannelCredentials> Tls(
      const std::string& client = "") {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadAll(File("ca.crt"));
    if (!client.empty()) {
      ssl.pem_cert_chain = ReadAll(File(client + ".crt"));
      ssl.pem_private_key = ReadAll(File(client + ".key"));
    }
    return grpc::SslCredentials(ssl);
  }

  static std::string* dir_;
  std::unique_ptr<DuijieServer> server_;
};

std::string* TlsTest::dir_ = nullptr;

TEST_F(TlsTest, TlsClientIsServed) {
  StartServer(/*require_client_cert=*/false);
  grpc::Status status = Call(Tls());
  EXPECT_TRUE(status.ok()) << status.error_message();
  status = Call(Tls(), "localhost");
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(TlsTest, PlaintextClientToTlsServerFails) {
  StartServer(/*require_client_cert=*/false);
  grpc::Status status = Call(grpc::InsecureChannelCredentials());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();
}

TEST_F(TlsTest, ClientThatDoesNotTrustTheServersCaFails) {
  StartServer(/*require_client_cert=*/false);
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadAll(File("other-ca.crt"));
  grpc::Status status = Call(grpc::SslCredentials(ssl));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();
}

TEST_F(TlsTest, MutualTlsRefusesClientsWithoutACertificateOfTheCa) {
  StartServer(/*require_client_cert=*/true);
  grpc::Status status = Call(Tls());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();
  status = Call(Tls("stranger"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();
  status = Call(Tls("client"));
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(TlsTest, MissingOrUnpairedFilesAreClearErrors) {
  ServerOptions options;
  // Limits and transport, not authentication (auth_test covers keys).
  options.auth.enabled = false;
  options.listen = "127.0.0.1:0";
  options.tls.cert_file = File("server.crt");
  absl::StatusOr<std::unique_ptr<DuijieServer>> server =
      DuijieServer::Start(options);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  options.tls.key_file = File("no-such.key");
  server = DuijieServer::Start(options);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(server.status().message().find("no-such.key"), std::string::npos);
  options.tls = TlsOptions();
  options.tls.client_ca_file = File("ca.crt");
  server = DuijieServer::Start(options);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TlsHostTest, LoopbackHostsAreKnown) {
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.1.2.3"));
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_TRUE(IsLoopbackHost("[::1]"));
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackHost("[::]"));
  EXPECT_FALSE(IsLoopbackHost("10.1.2.3"));
  EXPECT_FALSE(IsLoopbackHost("duijie.example.org"));
}

}  // namespace
}  // namespace duijie
