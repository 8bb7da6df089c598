// Every bad field of a request, not only the first.
//
// A request is checked in full before anything changes; a client that
// sends three bad fields should learn of all three at once instead of in
// three round trips. Violations collects the outcome of each check in the
// order they run. The status it makes keeps today's code and opening text
// (the first error, exactly as before), so clients that read the message
// still work; further INVALID_ARGUMENT violations are named after it and
// carried whole in a payload of the status, which the API layer turns into
// ErrorDetail.violations (exchange.proto). The engine stays free of gRPC
// and protobuf: the payload is its own small encoding.
//
// Only INVALID_ARGUMENT collects. An error of another code (NOT_FOUND for
// an unknown region, FAILED_PRECONDITION, ...) found first is the answer
// alone, as before; found after an INVALID_ARGUMENT one, it is left out,
// so the code is always the first error's.
#ifndef DUIJIE_ENGINE_VIOLATIONS_H_
#define DUIJIE_ENGINE_VIOLATIONS_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace duijie {

struct FieldViolation {
  std::string field;  // a dot path ("offer.quantity_kg"), or empty
  std::string reason;

  bool operator==(const FieldViolation& other) const {
    return field == other.field && reason == other.reason;
  }
};

// The payload's type URL in an absl::Status.
inline constexpr char kViolationsPayloadUrl[] = "duijie/field-violations";

// Splits an error message "field.path: reason" at its first ": " when the
// text before it is a field path (dot-separated [a-z_][a-z0-9_]* names,
// each optionally indexed "[N]"). Otherwise field is empty and reason is
// the whole message.
FieldViolation SplitFieldMessage(std::string_view message);

class Violations {
 public:
  // Notes the outcome of one check (OK adds nothing). Of several
  // violations of one field only the first is kept: a later check of that
  // field would be about a value already reported.
  // (Inline: a sound request passes a dozen checks, all OK.)
  void Add(const absl::Status& status) {
    if (!status.ok()) AddError(status);
  }

  // Whether no check has failed.
  bool ok() const { return first_.ok(); }

  // Whether `field` was found bad: checks that read it as valid (a lot
  // against the quantity) are skipped then.
  // After an error of another code than INVALID_ARGUMENT (answered alone)
  // every field counts as bad: later checks are not recorded then, so
  // none of them vouches for a field.
  bool Bad(std::string_view field) const {
    return !first_.ok() && BadAfterError(field);
  }

  // OK, the first error as it was, or with more than one violation, the
  // first error's code and message, " (and N more: FIELD, FIELD)", and
  // every violation in the payload.
  absl::Status ToStatus() const;

 private:
  void AddError(const absl::Status& status);
  bool BadAfterError(std::string_view field) const;
  bool Listed(std::string_view field) const;

  absl::Status first_;
  // The field of every failed check, reported or not.
  std::vector<std::string> failed_;
  std::vector<FieldViolation> list_;  // INVALID_ARGUMENT only
};

// The violations of an INVALID_ARGUMENT status: those of its payload, or
// the one its message names. Empty for OK and for other codes.
std::vector<FieldViolation> ViolationsOf(const absl::Status& status);

// The fields of ViolationsOf(status), in order.
std::vector<std::string> ViolatedFields(const absl::Status& status);

}  // namespace duijie

#endif  // DUIJIE_ENGINE_VIOLATIONS_H_
