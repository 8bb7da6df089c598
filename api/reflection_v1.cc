// ReflectionV1Service: see reflection_v1.h. The answers follow gRPC's own
// v1alpha service (proto_server_reflection.cc) so that the two agree: a
// file comes with its transitive dependencies, each file at most once per
// stream; a failed lookup answers an error_response and the stream goes on.
#include "api/reflection_v1.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "grpcpp/impl/server_builder_plugin.h"
#include "grpcpp/impl/server_initializer.h"

namespace duijie {
namespace {

namespace pb = google::protobuf;
namespace rv1 = grpc::reflection::v1;

// Adds `file` and, before it, those of its transitive dependencies not yet
// in `seen`.
void AddFileAndDependencies(const pb::FileDescriptor* file,
                            std::unordered_set<std::string>* seen,
                            rv1::FileDescriptorResponse* response) {
  if (!seen->insert(file->name()).second) return;
  pb::FileDescriptorProto proto;
  file->CopyTo(&proto);
  response->add_file_descriptor_proto(proto.SerializeAsString());
  for (int i = 0; i < file->dependency_count(); ++i) {
    AddFileAndDependencies(file->dependency(i), seen, response);
  }
}

grpc::Status FileResponse(const pb::FileDescriptor* file,
                          std::unordered_set<std::string>* seen,
                          rv1::ServerReflectionResponse* response) {
  AddFileAndDependencies(file, seen,
                         response->mutable_file_descriptor_response());
  return grpc::Status::OK;
}

grpc::Status Answer(const rv1::ServerReflectionRequest& request,
                    const std::vector<std::string>* services,
                    std::unordered_set<std::string>* seen,
                    rv1::ServerReflectionResponse* response) {
  const pb::DescriptorPool* pool = pb::DescriptorPool::generated_pool();
  switch (request.message_request_case()) {
    case rv1::ServerReflectionRequest::kListServices: {
      rv1::ListServiceResponse* list =
          response->mutable_list_services_response();
      if (services != nullptr) {
        for (const std::string& name : *services) {
          list->add_service()->set_name(name);
        }
      }
      return grpc::Status::OK;
    }
    case rv1::ServerReflectionRequest::kFileByFilename: {
      const pb::FileDescriptor* file =
          pool->FindFileByName(request.file_by_filename());
      if (file == nullptr) {
        return grpc::Status(grpc::StatusCode::NOT_FOUND,
                            absl::StrCat("file_by_filename: no file \"",
                                         request.file_by_filename(), "\""));
      }
      return FileResponse(file, seen, response);
    }
    case rv1::ServerReflectionRequest::kFileContainingSymbol: {
      const pb::FileDescriptor* file =
          pool->FindFileContainingSymbol(request.file_containing_symbol());
      if (file == nullptr) {
        return grpc::Status(
            grpc::StatusCode::NOT_FOUND,
            absl::StrCat("file_containing_symbol: no symbol \"",
                         request.file_containing_symbol(), "\""));
      }
      return FileResponse(file, seen, response);
    }
    case rv1::ServerReflectionRequest::kFileContainingExtension: {
      const rv1::ExtensionRequest& extension =
          request.file_containing_extension();
      const pb::Descriptor* type =
          pool->FindMessageTypeByName(extension.containing_type());
      if (type == nullptr) {
        return grpc::Status(
            grpc::StatusCode::NOT_FOUND,
            absl::StrCat(
                "file_containing_extension.containing_type: no type \"",
                extension.containing_type(), "\""));
      }
      const pb::FieldDescriptor* field =
          pool->FindExtensionByNumber(type, extension.extension_number());
      if (field == nullptr) {
        return grpc::Status(
            grpc::StatusCode::NOT_FOUND,
            absl::StrCat("file_containing_extension.extension_number: ",
                         extension.containing_type(), " has no extension ",
                         extension.extension_number()));
      }
      return FileResponse(field->file(), seen, response);
    }
    case rv1::ServerReflectionRequest::kAllExtensionNumbersOfType: {
      const pb::Descriptor* type =
          pool->FindMessageTypeByName(request.all_extension_numbers_of_type());
      if (type == nullptr) {
        return grpc::Status(
            grpc::StatusCode::NOT_FOUND,
            absl::StrCat("all_extension_numbers_of_type: no type \"",
                         request.all_extension_numbers_of_type(), "\""));
      }
      std::vector<const pb::FieldDescriptor*> extensions;
      pool->FindAllExtensions(type, &extensions);
      rv1::ExtensionNumberResponse* numbers =
          response->mutable_all_extension_numbers_response();
      numbers->set_base_type_name(type->full_name());
      for (const pb::FieldDescriptor* extension : extensions) {
        numbers->add_extension_number(extension->number());
      }
      return grpc::Status::OK;
    }
    default:
      return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                          "message_request: none set, or not known");
  }
}

class ReflectionV1Plugin : public grpc::ServerBuilderPlugin {
 public:
  ReflectionV1Plugin() : service_(std::make_shared<ReflectionV1Service>()) {}
  std::string name() override { return "duijie_reflection_v1"; }
  void InitServer(grpc::ServerInitializer* si) override {
    si->RegisterService(service_);
  }
  void Finish(grpc::ServerInitializer* si) override {
    service_->SetServiceList(si->GetServiceList());
  }
  void ChangeArguments(const std::string& /*name*/, void* /*value*/) override {}
  bool has_sync_methods() const override { return true; }

 private:
  std::shared_ptr<ReflectionV1Service> service_;
};

class ReflectionV1Option : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments* /*args*/) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>*
                         plugins) override {
    plugins->push_back(std::make_unique<ReflectionV1Plugin>());
  }
};

}  // namespace

ReflectionV1Service::ReflectionV1Service() = default;

void ReflectionV1Service::SetServiceList(
    const std::vector<std::string>* services) {
  services_ = services;
}

grpc::Status ReflectionV1Service::ServerReflectionInfo(
    grpc::ServerContext* /*context*/,
    grpc::ServerReaderWriter<rv1::ServerReflectionResponse,
                             rv1::ServerReflectionRequest>* stream) {
  std::unordered_set<std::string> seen;
  rv1::ServerReflectionRequest request;
  while (stream->Read(&request)) {
    rv1::ServerReflectionResponse response;
    const grpc::Status status = Answer(request, services_, &seen, &response);
    if (!status.ok()) {
      rv1::ErrorResponse* error = response.mutable_error_response();
      error->set_error_code(status.error_code());
      error->set_error_message(status.error_message());
    }
    response.set_valid_host(request.host());
    *response.mutable_original_request() = request;
    if (!stream->Write(response)) break;
  }
  return grpc::Status::OK;
}

std::unique_ptr<grpc::ServerBuilderOption> MakeReflectionV1Option() {
  return std::make_unique<ReflectionV1Option>();
}

}  // namespace duijie
