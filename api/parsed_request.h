// Parsed<T>: a request message together with what went wrong parsing it,
// so that a request gRPC cannot parse reaches the service, which answers
// INVALID_ARGUMENT naming the field, instead of gRPC's UNIMPLEMENTED with
// an empty message.
//
// Why: gRPC 1.51's callback handlers parse a request with
// SerializationTraits<T>::Deserialize and, when that fails, answer
// UNIMPLEMENTED with no message without calling the service at all (see
// grpcpp/impl/codegen/server_callback_handlers.h). Protobuf refuses a
// proto3 string field that is not valid UTF-8, so any client that sends
// one (a buggy encoder, a fuzzer) learns nothing from the answer. The
// traits below always succeed: they parse into `message`, and on failure
// leave `message` empty and say why in `status` (the first string field
// that is not UTF-8, by its path, or that the bytes are no protobuf).
// ParsingExchangeService (parsing_service.h) registers handlers of
// Parsed<T> for every Exchange method.
#ifndef DUIJIE_API_PARSED_REQUEST_H_
#define DUIJIE_API_PARSED_REQUEST_H_

#include <string>
#include <vector>

#include "absl/base/config.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "grpcpp/impl/serialization_traits.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "grpcpp/support/proto_buffer_writer.h"
#include "grpcpp/support/slice.h"

#ifdef ABSL_HAVE_THREAD_SANITIZER
#include <sanitizer/tsan_interface.h>
#endif

namespace duijie {

template <typename T>
struct Parsed {
  T message;
  absl::Status status;  // not OK: `message` is empty and must not be used
};

// A stream's read is parsed on the gRPC thread that received it, and its
// OnReadDone may run on another: gRPC's core orders the two through its
// completion queue, inside libraries Debian builds without ThreadSanitizer,
// so TSan cannot see that order and reports the handler's first read of
// the message as a race with the parse. Deserialize below marks the parse
// published and a handler that reads on a thread of its own calls
// ParsedReceived first, which tells TSan of the order gRPC already keeps.
// Both are nothing without TSan.
template <typename T>
inline void ParsedPublished(Parsed<T>* parsed) {
#ifdef ABSL_HAVE_THREAD_SANITIZER
  __tsan_release(parsed);
#else
  (void)parsed;
#endif
}
template <typename T>
inline void ParsedReceived(Parsed<T>* parsed) {
#ifdef ABSL_HAVE_THREAD_SANITIZER
  __tsan_acquire(parsed);
#else
  (void)parsed;
#endif
}

// Why `bytes` do not parse as a `type` message: INVALID_ARGUMENT naming
// the first string field (by path, "commands[2].post_offer.offer.
// supplier_id") whose value is not valid UTF-8, else one saying the bytes
// are not a well-formed `type`.
absl::Status DescribeParseFailure(const google::protobuf::Descriptor* type,
                                  absl::string_view bytes);

}  // namespace duijie

namespace grpc {

template <typename T>
class SerializationTraits<duijie::Parsed<T>, void> {
 public:
  static Status Serialize(const duijie::Parsed<T>& parsed, ByteBuffer* buffer,
                          bool* own_buffer) {
    return SerializationTraits<T>::Serialize(parsed.message, buffer,
                                             own_buffer);
  }

  // Always OK: a failure is reported in parsed->status.
  static Status Deserialize(ByteBuffer* buffer, duijie::Parsed<T>* parsed) {
    parsed->status = absl::OkStatus();
    {
      ProtoBufferReader reader(buffer);
      if (reader.status().ok() &&
          parsed->message.ParseFromZeroCopyStream(&reader)) {
        buffer->Clear();
        duijie::ParsedPublished(parsed);
        return Status::OK;
      }
    }
    // The slow path, only for a request that failed: read the bytes again
    // to find out why.
    parsed->message.Clear();
    std::vector<Slice> slices;
    std::string bytes;
    if (buffer->Valid() && buffer->Dump(&slices).ok()) {
      for (const Slice& slice : slices) {
        bytes.append(reinterpret_cast<const char*>(slice.begin()),
                     slice.size());
      }
      parsed->status = duijie::DescribeParseFailure(T::descriptor(), bytes);
    } else {
      parsed->status =
          absl::InvalidArgumentError("request: the message could not be read");
    }
    buffer->Clear();
    duijie::ParsedPublished(parsed);
    return Status::OK;
  }
};

}  // namespace grpc

#endif  // DUIJIE_API_PARSED_REQUEST_H_
