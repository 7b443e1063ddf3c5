// limits.cc - anomaly names.
#include "gateway/mail/limits.h"

namespace meshgate::mail {

std::string_view anomalyName(Anomaly anomaly) {
  switch (anomaly) {
    case Anomaly::kMultipleFrom:
      return "multiple-from";
    case Anomaly::kMissingFrom:
      return "missing-from";
    case Anomaly::kMalformedAddress:
      return "malformed-address";
    case Anomaly::kDuplicateHeader:
      return "duplicate-header";
    case Anomaly::kNulByte:
      return "nul-byte";
    case Anomaly::kLongLine:
      return "long-line";
    case Anomaly::kHeaderTruncated:
      return "header-truncated";
    case Anomaly::kTooManyHeaders:
      return "too-many-headers";
    case Anomaly::kMalformedHeader:
      return "malformed-header";
    case Anomaly::kBadEncodedWord:
      return "bad-encoded-word";
    case Anomaly::kUndecodablePart:
      return "undecodable-part";
    case Anomaly::kUnknownCharset:
      return "unknown-charset";
    case Anomaly::kTruncatedMultipart:
      return "truncated-multipart";
    case Anomaly::kBadBoundary:
      return "bad-boundary";
    case Anomaly::kAmbiguousBoundary:
      return "ambiguous-boundary";
    case Anomaly::kNestingTooDeep:
      return "nesting-too-deep";
    case Anomaly::kTooManyParts:
      return "too-many-parts";
    case Anomaly::kBodyTruncated:
      return "body-truncated";
    case Anomaly::kTextTruncated:
      return "text-truncated";
    case Anomaly::kCount:
      break;
  }
  return "unknown";
}

std::string Anomalies::toString() const {
  std::string out;
  for (unsigned i = 0; i < static_cast<unsigned>(Anomaly::kCount); ++i) {
    auto a = static_cast<Anomaly>(i);
    if (!has(a)) continue;
    if (!out.empty()) out += ",";
    out += anomalyName(a);
  }
  return out;
}

}  // namespace meshgate::mail
