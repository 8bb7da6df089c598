// Why a request did not parse. See parsed_request.h.
#include "api/parsed_request.h"

#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "engine/text.h"
#include "google/protobuf/unknown_field_set.h"

namespace duijie {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

// Walks `bytes` as a `type` message, without the UTF-8 check protobuf
// makes: the path of the first string field that is not UTF-8 into *path
// and its value into *value, true when there is one. Message fields are
// walked into; a field the schema does not know is not.
bool FindBadString(const Descriptor* type, const std::string& bytes,
                   const std::string& prefix, std::string* path,
                   std::string* value) {
  UnknownFieldSet fields;
  if (!fields.ParseFromString(bytes)) return false;
  absl::flat_hash_map<int, int> seen;  // field number -> occurrences so far
  for (int i = 0; i < fields.field_count(); ++i) {
    const UnknownField& field = fields.field(i);
    if (field.type() != UnknownField::TYPE_LENGTH_DELIMITED) continue;
    const FieldDescriptor* fd = type->FindFieldByNumber(field.number());
    if (fd == nullptr) continue;
    const int index = seen[field.number()]++;
    std::string name = absl::StrCat(prefix, fd->name());
    if (fd->is_repeated()) absl::StrAppend(&name, "[", index, "]");
    if (fd->type() == FieldDescriptor::TYPE_STRING &&
        !IsValidUtf8(field.length_delimited())) {
      *path = std::move(name);
      *value = field.length_delimited();
      return true;
    }
    if (fd->type() == FieldDescriptor::TYPE_MESSAGE &&
        FindBadString(fd->message_type(), field.length_delimited(),
                      absl::StrCat(name, "."), path, value)) {
      return true;
    }
  }
  return false;
}

}  // namespace

absl::Status DescribeParseFailure(const Descriptor* type,
                                  absl::string_view bytes) {
  std::string path, value;
  if (FindBadString(type, std::string(bytes), "", &path, &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", EchoValue(value),
                     " is not valid UTF-8; string fields must be UTF-8"));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "request: ", bytes.size(), " bytes that are not a well-formed ",
      type->full_name(), " message"));
}

}  // namespace duijie
