// dare.cc - DARE envelopes (stubs until the codec lands; the signatures are final).
#include "gateway/mesh/dare.h"

namespace meshgate::mesh {

nlohmann::json dareToJson(const DareEnvelope& envelope) {
  (void)envelope;
  return nlohmann::json::array({nlohmann::json::object(), "", nlohmann::json::object()});
}

Result<DareEnvelope> dareFromJson(const nlohmann::json& json) {
  (void)json;
  return internalError("dareFromJson: not implemented yet");
}

Result<DareEnvelope> parseDareEnvelope(std::string_view text) {
  (void)text;
  return internalError("parseDareEnvelope: not implemented yet");
}

std::string serializeDareEnvelope(const DareEnvelope& envelope) {
  return nlohmann::json{{"DareEnvelope", dareToJson(envelope)}}.dump();
}

}  // namespace meshgate::mesh
