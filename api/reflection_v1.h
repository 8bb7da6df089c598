// grpc.reflection.v1 server reflection. The gRPC C++ library the server is
// built with (Debian 12's 1.51) serves only grpc.reflection.v1alpha; this
// serves the same answers under v1 (proto/grpc/reflection/v1), from the
// protobuf descriptors compiled into the binary
// (DescriptorPool::generated_pool()).
#ifndef DUIJIE_API_REFLECTION_V1_H_
#define DUIJIE_API_REFLECTION_V1_H_

#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpcpp/impl/server_builder_option.h"

namespace duijie {

// The service. It lists the services of the server it is registered with
// once SetServiceList is given that server's list (as the v1alpha plugin
// does); the builder option below does both.
class ReflectionV1Service final
    : public grpc::reflection::v1::ServerReflection::Service {
 public:
  ReflectionV1Service();

  // `services` (the server's full service names) must outlive the service;
  // set before the server takes calls.
  void SetServiceList(const std::vector<std::string>* services);

  grpc::Status ServerReflectionInfo(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<grpc::reflection::v1::ServerReflectionResponse,
                               grpc::reflection::v1::ServerReflectionRequest>*
          stream) override;

 private:
  const std::vector<std::string>* services_ = nullptr;
};

// A ServerBuilder option (ServerBuilder::SetOption) that registers a
// ReflectionV1Service with the server being built and gives it the
// server's list of services.
std::unique_ptr<grpc::ServerBuilderOption> MakeReflectionV1Option();

}  // namespace duijie

#endif  // DUIJIE_API_REFLECTION_V1_H_
