// ParsingExchangeService: v1::Exchange::CallbackService whose handlers
// read every request as Parsed<T> (parsed_request.h), so that a request
// that does not parse is answered INVALID_ARGUMENT with a message naming
// the field, for every Exchange method, the Submit stream included,
// instead of gRPC's UNIMPLEMENTED with an empty message.
//
// It replaces the generated handlers in its constructor (through
// grpc::Service::MarkMethodCallback, as the generated code registers its
// own) and calls the same virtual methods with the parsed message, so a
// service derived from it overrides them as usual. Submit is the
// exception: its reactor reads Parsed<SubmitRequest> itself (a bad batch
// ends the stream with INVALID_ARGUMENT after the batches before it are
// answered), so the service implements ParsedSubmit instead of Submit.
#ifndef DUIJIE_API_PARSING_SERVICE_H_
#define DUIJIE_API_PARSING_SERVICE_H_

#include "api/convert.h"
#include "api/parsed_request.h"
#include "duijie/v1/exchange.grpc.pb.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/impl/codegen/server_callback_handlers.h"

namespace duijie {

// A generated CallbackService (`Base`) whose unary handlers may be replaced
// by ones that read Parsed<Request>: a request that does not parse is
// answered INVALID_ARGUMENT naming the field, and the service's own
// virtual method is called with the parsed message otherwise.
template <typename Base>
class ParsingService : public Base {
 protected:
  // Replaces the handler of `method` of the service `service` (its full
  // name, "duijie.v1.Exchange").
  template <typename Request, typename Response>
  void ParseUnary(
      const char* service, const char* method,
      grpc::ServerUnaryReactor* (Base::*call)(grpc::CallbackServerContext*,
                                              const Request*, Response*)) {
    this->MarkMethodCallback(
        MethodIndex(service, method),
        new grpc::internal::CallbackUnaryHandler<Parsed<Request>, Response>(
            [this, call](grpc::CallbackServerContext* context,
                         const Parsed<Request>* request, Response* response) {
              if (!request->status.ok()) {
                grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
                reactor->Finish(ToGrpcStatus(request->status));
                return reactor;
              }
              return (this->*call)(context, &request->message, response);
            }));
  }

  static int MethodIndex(const char* service, const char* method) {
    const google::protobuf::ServiceDescriptor* s =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
            service);
    GPR_ASSERT(s != nullptr);
    const google::protobuf::MethodDescriptor* m = s->FindMethodByName(method);
    GPR_ASSERT(m != nullptr);
    return m->index();
  }
};

class ParsingExchangeService
    : public ParsingService<v1::Exchange::CallbackService> {
 public:
  ParsingExchangeService();

  // The Submit stream, reading each batch as Parsed<SubmitRequest>.
  virtual grpc::ServerBidiReactor<Parsed<v1::SubmitRequest>,
                                  v1::SubmitResponse>*
  ParsedSubmit(grpc::CallbackServerContext* context) = 0;

 private:
  template <typename Request, typename Response>
  void Unary(const char* method,
             grpc::ServerUnaryReactor* (v1::Exchange::CallbackService::*call)(
                 grpc::CallbackServerContext*, const Request*, Response*)) {
    ParseUnary(kService, method, call);
  }
  // The same for a server stream (WatchMatches, WatchAlerts): a request
  // that does not parse ends the stream with the parser's status.
  template <typename Request, typename Event>
  void Watch(
      const char* method,
      grpc::ServerWriteReactor<Event>* (v1::Exchange::CallbackService::*call)(
          grpc::CallbackServerContext*, const Request*));
  static constexpr char kService[] = "duijie.v1.Exchange";
};

}  // namespace duijie

#endif  // DUIJIE_API_PARSING_SERVICE_H_
