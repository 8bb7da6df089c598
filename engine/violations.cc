// Every bad field of a request. See violations.h.
#include "engine/violations.h"

#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/types/optional.h"
#include "engine/codes.h"

namespace duijie {
namespace {

// One path segment: a proto field name, optionally indexed ("codes[2]").
bool IsSegment(absl::string_view s) {
  if (size_t bracket = s.find('['); bracket != absl::string_view::npos) {
    absl::string_view index = s.substr(bracket + 1);
    if (index.size() < 2 || index.back() != ']') return false;
    index.remove_suffix(1);
    for (char c : index) {
      if (!absl::ascii_isdigit(c)) return false;
    }
    s = s.substr(0, bracket);
  }
  if (s.empty() || !(absl::ascii_islower(s[0]) || s[0] == '_')) return false;
  for (char c : s) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_')) {
      return false;
    }
  }
  return true;
}

// The payload: each violation's field and reason as "LENGTH:BYTES", so
// that any text (a reason echoes client values) round-trips.
void AppendText(absl::string_view text, std::string* out) {
  absl::StrAppend(out, text.size(), ":", text);
}

std::optional<absl::string_view> TakeText(absl::string_view* in) {
  const size_t colon = in->find(':');
  size_t length = 0;
  if (colon == absl::string_view::npos ||
      !absl::SimpleAtoi(in->substr(0, colon), &length) ||
      length > in->size() - colon - 1) {
    return std::nullopt;
  }
  absl::string_view text = in->substr(colon + 1, length);
  in->remove_prefix(colon + 1 + length);
  return text;
}

}  // namespace

FieldViolation SplitFieldMessage(std::string_view std_message) {
  const absl::string_view message = Absl(std_message);
  const size_t colon = message.find(": ");
  bool path = colon != absl::string_view::npos && colon > 0;
  if (path) {
    for (absl::string_view segment :
         absl::StrSplit(message.substr(0, colon), '.')) {
      path = path && IsSegment(segment);
    }
  }
  if (!path) return {"", std::string(message)};
  return {std::string(message.substr(0, colon)),
          std::string(message.substr(colon + 2))};
}

void Violations::AddError(const absl::Status& status) {
  {
    const absl::string_view message = status.message();
    failed_.push_back(
        SplitFieldMessage(std::string_view(message.data(), message.size()))
            .field);
  }
  if (first_.ok()) {
    first_ = status;
  } else if (first_.code() != absl::StatusCode::kInvalidArgument ||
             status.code() != absl::StatusCode::kInvalidArgument) {
    return;
  }
  if (status.code() != absl::StatusCode::kInvalidArgument) return;
  const absl::string_view message = status.message();
  FieldViolation v =
      SplitFieldMessage(std::string_view(message.data(), message.size()));
  if (!v.field.empty() && Listed(v.field)) return;
  list_.push_back(std::move(v));
}

bool Violations::BadAfterError(std::string_view field) const {
  if (first_.code() != absl::StatusCode::kInvalidArgument) return true;
  for (const std::string& f : failed_) {
    if (f == field) return true;
  }
  return false;
}

bool Violations::Listed(std::string_view field) const {
  for (const FieldViolation& v : list_) {
    if (v.field == field) return true;
  }
  return false;
}

absl::Status Violations::ToStatus() const {
  if (list_.size() < 2) return first_;
  std::string message(first_.message());
  absl::StrAppend(&message, " (and ", list_.size() - 1, " more: ");
  std::string payload;
  for (size_t i = 0; i < list_.size(); ++i) {
    if (i > 1) message += ", ";
    if (i > 0) {
      message += list_[i].field.empty() ? "another error" : list_[i].field;
    }
    AppendText(list_[i].field, &payload);
    AppendText(list_[i].reason, &payload);
  }
  message += ")";
  absl::Status status(first_.code(), message);
  status.SetPayload(kViolationsPayloadUrl, absl::Cord(payload));
  return status;
}

std::vector<FieldViolation> ViolationsOf(const absl::Status& status) {
  std::vector<FieldViolation> list;
  if (status.code() != absl::StatusCode::kInvalidArgument) return list;
  if (absl::optional<absl::Cord> payload =
          status.GetPayload(kViolationsPayloadUrl)) {
    const std::string bytes(*payload);
    absl::string_view in = bytes;
    while (!in.empty()) {
      std::optional<absl::string_view> field = TakeText(&in);
      std::optional<absl::string_view> reason =
          field ? TakeText(&in) : std::nullopt;
      if (!reason) break;  // not ours: what was read stands
      list.push_back({std::string(*field), std::string(*reason)});
    }
    if (!list.empty()) return list;
  }
  const absl::string_view message = status.message();
  list.push_back(
      SplitFieldMessage(std::string_view(message.data(), message.size())));
  return list;
}

std::vector<std::string> ViolatedFields(const absl::Status& status) {
  std::vector<std::string> fields;
  for (FieldViolation& v : ViolationsOf(status)) {
    fields.push_back(std::move(v.field));
  }
  return fields;
}

}  // namespace duijie
