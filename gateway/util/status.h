// NAME
//   status.h - Status and Result<T>: how every layer of meshgate reports failure.
//
// DESCRIPTION
//   A Status is a code plus a human message ("conf/meshgate.yaml:12:3: ingress.default: ...").
//   Result<T> holds either a T or a non-OK Status. The core library never throws across its
//   public interface; exceptions from third-party code (yaml-cpp, Poco, nlohmann::json) are
//   caught at the boundary where they arise and turned into a Status with context.
//
//   A Status is "could not decide / could not do"; it is never a policy decision. A rejected
//   message is a Decision (gateway/policy), not an error.
//
// THREAD SAFETY
//   Value types; safe to copy between threads.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace meshgate {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // bad input from a peer or the user (malformed, out of range)
  kNotFound,            // the thing asked for does not exist
  kAlreadyExists,       // creating something that exists
  kPermissionDenied,    // authenticated but not allowed
  kUnauthenticated,     // no valid credentials
  kFailedPrecondition,  // the system is not in a state to do this (e.g. key file mode)
  kResourceExhausted,   // limits: size, rate, connections
  kDeadlineExceeded,    // a timeout
  kUnavailable,         // a dependency is down (store, remote service); retry later
  kDataLoss,            // integrity failure: a signature, a hash chain
  kInternal,            // a broken invariant; a bug
};

std::string_view statusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status okStatus() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prefixes context: Status(kNotFound, "no such key").withContext("key.pem") reads
  // "key.pem: no such key".
  Status withContext(std::string_view context) const;

  // "OK" or "<CodeName>: <message>".
  std::string toString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status invalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status notFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status alreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status permissionDenied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
inline Status unauthenticated(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
inline Status failedPrecondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
inline Status resourceExhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
inline Status deadlineExceeded(std::string m) { return {StatusCode::kDeadlineExceeded, std::move(m)}; }
inline Status unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status dataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status internalError(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : data_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(data_).ok() && "Result constructed from an OK Status");
  }

  bool ok() const { return std::holds_alternative<T>(data_); }
  explicit operator bool() const { return ok(); }

  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(data_);
  }

  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  T valueOr(T fallback) const& { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace meshgate

#define MESHGATE_CONCAT_INNER(a, b) a##b
#define MESHGATE_CONCAT(a, b) MESHGATE_CONCAT_INNER(a, b)

// Propagates a non-OK Status from an expression returning Status. The local's name carries the
// line number so that nested uses do not shadow each other.
#define MESHGATE_RETURN_IF_ERROR(expr) \
  MESHGATE_RETURN_IF_ERROR_IMPL(MESHGATE_CONCAT(_mg_status_, __LINE__), expr)
#define MESHGATE_RETURN_IF_ERROR_IMPL(tmp, expr) \
  do {                                           \
    ::meshgate::Status tmp = (expr);             \
    if (!tmp.ok()) return tmp;                   \
  } while (0)

// Assigns the value of a Result expression to lhs, or returns its Status.
#define MESHGATE_ASSIGN_OR_RETURN(lhs, expr) \
  MESHGATE_ASSIGN_OR_RETURN_IMPL(MESHGATE_CONCAT(_mg_result_, __LINE__), lhs, expr)
#define MESHGATE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.ok()) return tmp.status();                  \
  lhs = std::move(tmp).value()
