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

#include "api/parsed_request.h"
#include "duijie/v1/exchange.grpc.pb.h"

namespace duijie {

class ParsingExchangeService : public v1::Exchange::CallbackService {
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
                 grpc::CallbackServerContext*, const Request*, Response*));
};

}  // namespace duijie

#endif  // DUIJIE_API_PARSING_SERVICE_H_
