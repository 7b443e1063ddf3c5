// Tests of the generated Mesh data model written by hand against literal JSON, independent of
// the generator: the API a caller sees, member names on the wire, the type-name wrapping of
// MESH-FORMATS section 4, errors naming the field path, unknown members, AnyMessage.
// (mesh_model_roundtrip_test.cc, generated from the schema, round-trips every structure.)
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include "meshgate/mesh_model.h"

namespace meshgate::mesh::model {
namespace {

nlohmann::json json(std::string_view text) { return nlohmann::json::parse(text); }

DateTime at(std::string_view text) { return parseDateTime(text).value(); }

TEST(MeshModel, BuildsAndSerializesACatalogedContact) {
  CatalogedContact entry;
  entry.key = "NBLD-QB2F-UVQD-MHP5-PHY3-J2MO-YUKD";
  ContactPerson bob;
  bob.anchors.push_back({.udf = "MCNN-EDO6-GYYF-2H2H-IJTV-KXQZ-TXXJ", .validation = "Self"});
  bob.common_names.push_back({.full_name = "Bob Example"});
  bob.network_addresses.push_back(
      {.address = "bob@example.com", .protocols = {{.protocol = "smtp"}, {.protocol = "mmm"}}});
  entry.contact = std::move(bob);
  entry.permissions.push_back({.name = "Message", .role = "Sender"});

  EXPECT_EQ(serialize(entry),
            R"({"CatalogedContact":{"Contact":{"ContactPerson":{)"
            R"("Anchors":[{"UDF":"MCNN-EDO6-GYYF-2H2H-IJTV-KXQZ-TXXJ","Validation":"Self"}],)"
            R"("CommonNames":[{"FullName":"Bob Example"}],)"
            R"("NetworkAddresses":[{"Address":"bob@example.com",)"
            R"("Protocols":[{"Protocol":"smtp"},{"Protocol":"mmm"}]}]}},)"
            R"("Key":"NBLD-QB2F-UVQD-MHP5-PHY3-J2MO-YUKD",)"
            R"("Permissions":[{"Name":"Message","Role":"Sender"}]}})");
}

TEST(MeshModel, ReadsTheReferenceImplementationsCatalogedContact) {
  // Shape of the reference implementation's `contact list /json` output (release 1.0.2),
  // trimmed; "Udf" there is the later spelling of the seed's "UDF" and is ignored.
  const char* text = R"({"CatalogedContact":{
      "Key":"MCF2-WY7A-YHLR-W2N3-4GXF-4PUO-ZO7N",
      "Self":true,
      "Contact":{"ContactPerson":{
        "Id":"MCF2-WY7A-YHLR-W2N3-4GXF-4PUO-ZO7N",
        "Anchors":[{"Udf":"MCF2-WY7A-YHLR-W2N3-4GXF-4PUO-ZO7N","Validation":"Self"}],
        "NetworkAddresses":[{"Address":"alice@example.com",
                             "Protocols":[{"Protocol":"mmm"}]}],
        "CommonNames":[{"FullName":"Alice Aardvark","First":"Alice","Middle":["A","B"]}]}},
      "Permissions":[{"Name":"Message","Role":"Sender"},{"Name":"Confirm"}]}})";
  Result<CatalogedContact> entry = parse<CatalogedContact>(text);
  ASSERT_TRUE(entry.ok()) << entry.status().toString();
  EXPECT_EQ(entry->key, "MCF2-WY7A-YHLR-W2N3-4GXF-4PUO-ZO7N");
  EXPECT_EQ(entry->self, true);
  ASSERT_EQ(entry->permissions.size(), 2u);
  EXPECT_EQ(entry->permissions[1].name, "Confirm");
  EXPECT_EQ(entry->permissions[1].role, std::nullopt);
  ASSERT_TRUE(entry->contact.has_value());
  const auto* person = std::get_if<ContactPerson>(&*entry->contact);
  ASSERT_NE(person, nullptr);
  EXPECT_EQ(person->id, "MCF2-WY7A-YHLR-W2N3-4GXF-4PUO-ZO7N");
  ASSERT_EQ(person->anchors.size(), 1u);
  EXPECT_EQ(person->anchors[0].udf, std::nullopt);
  EXPECT_EQ(person->anchors[0].validation, "Self");
  ASSERT_EQ(person->network_addresses.size(), 1u);
  EXPECT_EQ(person->network_addresses[0].address, "alice@example.com");
  ASSERT_EQ(person->network_addresses[0].protocols.size(), 1u);
  EXPECT_EQ(person->network_addresses[0].protocols[0].protocol, "mmm");
  ASSERT_EQ(person->common_names.size(), 1u);
  EXPECT_EQ(person->common_names[0].middle, (std::vector<std::string>{"A", "B"}));
}

TEST(MeshModel, ParsesAGetRequestAndBuildsAGetResponse) {
  Result<GetRequest> request = parse<GetRequest>(
      R"({"GetRequest":{"Portal":"example.com","Account":"alice@example.com",
          "KeyValues":[{"Key":"UDF","Value":"MB2G"}],
          "SearchConstraints":{"MaxEntries":10,"NotBefore":"2024-10-01T00:00:00Z"},
          "Full":true}})");
  ASSERT_TRUE(request.ok()) << request.status().toString();
  EXPECT_EQ(request->portal, "example.com");  // MeshRequest's member, inherited
  EXPECT_EQ(request->account, "alice@example.com");
  EXPECT_EQ(request->identifier, std::nullopt);
  ASSERT_EQ(request->key_values.size(), 1u);
  EXPECT_EQ(request->key_values[0].value, "MB2G");
  ASSERT_TRUE(request->search_constraints.has_value());
  EXPECT_EQ(request->search_constraints->max_entries, 10);
  EXPECT_EQ(request->search_constraints->not_before, at("2024-10-01T00:00:00Z"));
  EXPECT_EQ(request->full, true);
  EXPECT_EQ(request->multiple, std::nullopt);

  GetResponse response;
  response.status = 201;
  response.status_description = "OK";
  response.data_items.push_back(
      {.key = "MB2G", .updated = at("2024-10-02T03:04:05Z"), .data = toBytes("hi")});
  EXPECT_EQ(serialize(response),
            R"({"GetResponse":{"DataItems":[{"Data":"aGk","Key":"MB2G",)"
            R"("Updated":"2024-10-02T03:04:05Z"}],"Status":201,"StatusDescription":"OK"}})");
}

TEST(MeshModel, MessagesAreWrappedByTypeNamePlainStructuresAreNot) {
  EXPECT_EQ(serialize(HelloRequest{}), R"({"HelloRequest":{}})");
  EXPECT_EQ(toJson(HelloRequest{}), json("{}"));

  HelloResponse hello;
  hello.status = 201;
  hello.version = Version{.major = 3, .minor = 0, .encodings = {{.id = {"application/json"}}}};
  EXPECT_EQ(serialize(hello), R"({"HelloResponse":{"Status":201,)"
                              R"("Version":{"Encodings":[{"ID":["application/json"]}],)"
                              R"("Major":3,"Minor":0}}})");

  // Polymorphic fields are wrapped even inside a plain structure: KeyData.PublicParameters.
  KeyData key;
  key.udf = "MCCR-IPW7-AUHT-I7HV-FX4A-CLD3-LU7E";
  PublicKeyECDH public_key;  // derived (from Key): members are assigned, not designated
  public_key.crv = "Ed25519";
  public_key.public_key = Bytes{0xfb, 0xff};
  key.public_parameters = public_key;
  EXPECT_EQ(toJson(key), json(R"({"UDF":"MCCR-IPW7-AUHT-I7HV-FX4A-CLD3-LU7E",
                                  "PublicParameters":{"PublicKeyECDH":{"crv":"Ed25519",
                                                                       "Public":"-_8"}}})"));
  ProfileDevice device;
  device.key_offline_signature = key;
  device.description = "laptop";
  EXPECT_EQ(toJson(device), json(R"({"Description":"laptop","KeyOfflineSignature":{
      "UDF":"MCCR-IPW7-AUHT-I7HV-FX4A-CLD3-LU7E",
      "PublicParameters":{"PublicKeyECDH":{"crv":"Ed25519","Public":"-_8"}}}})"));
}

TEST(MeshModel, InheritedMembersAreFlatInTheSameObject) {
  MessageMail mail;
  mail.message_id = "NB2G-ABCD";    // Message
  mail.sender = "bob@example.net";  // Message
  mail.references.push_back({.message_id = "NA", .relationship = "Reply"});
  mail.subject = "Lunch?";  // MessageMail
  mail.body = toBytes("Subject: Lunch?\r\n\r\nNoon.\r\n");
  EXPECT_EQ(toJson(mail), json(R"({"MessageID":"NB2G-ABCD","Sender":"bob@example.net",
      "References":[{"MessageID":"NA","Relationship":"Reply"}],"Subject":"Lunch?",
      "Body":"U3ViamVjdDogTHVuY2g_DQoNCk5vb24uDQo"})"));
  const Message& base = mail;  // a MessageMail is a Message
  EXPECT_EQ(base.sender, "bob@example.net");
}

TEST(MeshModel, UnknownMembersAreIgnoredAndNullIsAbsent) {
  Result<CatalogedContact> entry = parse<CatalogedContact>(R"({"CatalogedContact":{
      "Key":"K","Future":{"deep":[1,2,{"x":null}]},"Self":null,"Labels":null,
      "Permissions":[{"Name":"Message","Colour":"blue"}],
      "Contact":{"ContactOrganization":{"CommonNames":[{"DBA":"ACME","Since":1999}],
                                        "Extra":true}}}})");
  ASSERT_TRUE(entry.ok()) << entry.status().toString();
  CatalogedContact expected;
  expected.key = "K";
  expected.permissions.push_back({.name = "Message"});
  ContactOrganization acme;
  acme.common_names.push_back({.dba = "ACME"});
  expected.contact = acme;
  EXPECT_TRUE(*entry == expected) << serialize(*entry);
}

TEST(MeshModel, AbsentEmptyAndPresentValuesStayDistinct) {
  MessageMail mail;
  mail.body = Bytes{};  // present, empty
  mail.subject = "";    // present, empty
  const std::string text = serialize(mail);
  EXPECT_EQ(text, R"({"MessageMail":{"Body":"","Subject":""}})");
  Result<MessageMail> back = parse<MessageMail>(text);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->body, Bytes{});
  EXPECT_EQ(back->subject, "");
  EXPECT_EQ(back->text, std::nullopt);
  // An empty list is omitted; [] reads as an empty list.
  Result<MessageMail> empty_list = parse<MessageMail>(R"({"MessageMail":{"References":[]}})");
  ASSERT_TRUE(empty_list.ok());
  EXPECT_TRUE(empty_list->references.empty());
  EXPECT_EQ(serialize(*empty_list), R"({"MessageMail":{}})");
}

struct ErrorCase {
  const char* text;
  const char* message;
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.text; }

class MeshModelErrors : public testing::TestWithParam<ErrorCase> {};

TEST_P(MeshModelErrors, NameTheFieldPath) {
  Result<AnyMessage> message = parseMessage(GetParam().text);
  ASSERT_FALSE(message.ok()) << GetParam().text;
  EXPECT_EQ(message.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(message.status().message(), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Table, MeshModelErrors,
    testing::Values(
        ErrorCase{R"({"CatalogedContact":{"Permissions":[{},{"Name":"a"},{"Name":7}]}})",
                  "CatalogedContact.Permissions[2].Name: expected a string, got number"},
        ErrorCase{R"({"CatalogedContact":{"Contact":{"ContactPerson":{"NetworkAddresses":[
                     {"Protocols":[{},{"Protocol":true}]}]}}}})",
                  "CatalogedContact.Contact.ContactPerson.NetworkAddresses[0].Protocols[1]."
                  "Protocol: expected a string, got boolean"},
        ErrorCase{R"({"CatalogedContact":{"Contact":{"ContactRobot":{}}}})",
                  "CatalogedContact.Contact: unknown type \"ContactRobot\" (expected "
                  "ContactGroup, ContactPerson, ContactOrganization)"},
        ErrorCase{R"({"CatalogedContact":{"Contact":{"Contact":{}}}})",
                  "CatalogedContact.Contact: unknown type \"Contact\" (expected ContactGroup, "
                  "ContactPerson, ContactOrganization)"},
        ErrorCase{R"({"CatalogedContact":{"Contact":{"ContactPerson":{},"ContactGroup":{}}}})",
                  "CatalogedContact.Contact: expected an object with exactly one member (the "
                  "type name), got 2"},
        ErrorCase{R"({"CatalogedContact":{"Contact":[]}})",
                  "CatalogedContact.Contact: expected an object wrapped by its type name, got "
                  "array"},
        ErrorCase{R"({"GetRequest":{"KeyValues":{}}})",
                  "GetRequest.KeyValues: expected an array, got object"},
        ErrorCase{R"({"GetRequest":{"KeyValues":["UDF"]}})",
                  "GetRequest.KeyValues[0]: expected an object, got string"},
        ErrorCase{R"({"GetRequest":{"SearchConstraints":[]}})",
                  "GetRequest.SearchConstraints: expected an object, got array"},
        ErrorCase{R"({"GetRequest":{"SearchConstraints":{"MaxEntries":"10"}}})",
                  "GetRequest.SearchConstraints.MaxEntries: expected an integer, got string"},
        ErrorCase{R"({"GetRequest":{"SearchConstraints":{"MaxEntries":1.5}}})",
                  "GetRequest.SearchConstraints.MaxEntries: expected an integer, got a fraction"},
        ErrorCase{R"({"GetRequest":{"SearchConstraints":{"MaxBytes":18446744073709551615}}})",
                  "GetRequest.SearchConstraints.MaxBytes: integer out of range"},
        ErrorCase{R"({"GetRequest":{"Full":"yes"}})",
                  "GetRequest.Full: expected a boolean, got string"},
        ErrorCase{R"({"GetRequest":{"SearchConstraints":{"Before":"yesterday"}}})",
                  "GetRequest.SearchConstraints.Before: invalid DateTime \"yesterday\" (expected "
                  "yyyy-MM-ddTHH:mm:ssZ)"},
        ErrorCase{R"({"StatusResponse":{"LastWriteTime":1595863800}})",
                  "StatusResponse.LastWriteTime: expected a DateTime string, got number"},
        ErrorCase{R"({"KeyData":{"PublicParameters":{"PublicKeyECDH":{"Public":5}}}})",
                  "KeyData.PublicParameters.PublicKeyECDH.Public: expected a base64url string, "
                  "got number"},
        ErrorCase{R"({"ProfileMesh":{"Names":["a",1]}})",
                  "ProfileMesh.Names[1]: expected a string, got number"},
        ErrorCase{R"({"ProfileMesh":{"KeysOnlineSignature":[{"X509Chain":["AA",null]}]}})",
                  "ProfileMesh.KeysOnlineSignature[0].X509Chain[1]: expected a base64url "
                  "string, got null"},
        ErrorCase{R"({"PostResponse":{"Errors":[{"ErrorCode":7}]}})",
                  "PostResponse.Errors[0].ErrorCode: expected a string, got number"},
        ErrorCase{R"({"GetRequest":[]})", "GetRequest: expected an object, got array"},
        ErrorCase{R"([])", "message: expected an object wrapped by its type name, got array"},
        ErrorCase{R"("GetRequest")",
                  "message: expected an object wrapped by its type name, got string"},
        ErrorCase{R"({})",
                  "message: expected an object with exactly one member (the type name), got 0"},
        ErrorCase{R"({"HelloRequest":{},"GetRequest":{}})",
                  "message: expected an object with exactly one member (the type name), got 2"},
        ErrorCase{R"({"Nope\u0001":{}})", "message: unknown type \"Nope\\x01\""},
        ErrorCase{R"({"Message":{}})", "message: unknown type \"Message\""},
        ErrorCase{R"({"MeshResponse":{}})", "message: unknown type \"MeshResponse\""}));

TEST(MeshModel, BadBinaryNamesTheField) {
  Result<AnyMessage> message = parseMessage(R"({"MessageMail":{"Body":"not base64!"}})");
  ASSERT_FALSE(message.ok());
  EXPECT_EQ(message.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(message.status().message().rfind("MessageMail.Body: invalid base64url: ", 0), 0u)
      << message.status().message();
}

TEST(MeshModel, ParseOfOneTypeRefusesAnother) {
  Result<GetRequest> request = parse<GetRequest>(R"({"HelloRequest":{}})");
  ASSERT_FALSE(request.ok());
  EXPECT_EQ(request.status().message(), "expected a GetRequest, got \"HelloRequest\"");
}

TEST(MeshModel, FromJsonUsesTheGivenPath) {
  Result<SearchConstraints> constraints =
      fromJson<SearchConstraints>(json(R"({"PageKey":3})"), "request.constraints");
  ASSERT_FALSE(constraints.ok());
  EXPECT_EQ(constraints.status().message(),
            "request.constraints.PageKey: expected a string, got number");

  Result<AnyContact> contact = fromJson<AnyContact>(json(R"({"ContactGroup":{"Id":"G"}})"), "c");
  ASSERT_TRUE(contact.ok()) << contact.status().toString();
  ASSERT_TRUE(std::holds_alternative<ContactGroup>(*contact));
  EXPECT_EQ(std::get<ContactGroup>(*contact).id, "G");
}

TEST(MeshModel, AnyMessageGivesTheValueAsItsTypeOrABase) {
  GetResponse response;
  response.status = 404;
  response.page_key = "next";
  AnyMessage any(response);
  EXPECT_EQ(any.type(), TypeId::kGetResponse);
  EXPECT_EQ(any.typeName(), "GetResponse");
  ASSERT_NE(any.get<GetResponse>(), nullptr);
  EXPECT_EQ(any.get<GetResponse>()->page_key, "next");
  ASSERT_NE(any.get<MeshResponse>(), nullptr);
  EXPECT_EQ(any.get<MeshResponse>()->status, 404);
  EXPECT_TRUE(any.is<MeshResponse>());
  EXPECT_FALSE(any.is<MeshRequest>());
  EXPECT_EQ(any.get<GetRequest>(), nullptr);
  EXPECT_EQ(any.get<TransferResponse>(), nullptr);

  Result<AnyMessage> mail = parseMessage(R"({"MessageMail":{"Sender":"bob@example.net"}})");
  ASSERT_TRUE(mail.ok());
  ASSERT_TRUE(mail->is<Message>());
  EXPECT_EQ(mail->get<Message>()->sender, "bob@example.net");

  AnyMessage copy = any;
  EXPECT_TRUE(copy == any);
  GetResponse other = response;
  other.status = 200;
  EXPECT_FALSE(AnyMessage(other) == any);
  EXPECT_FALSE(AnyMessage(HelloResponse{}) == AnyMessage(GetResponse{}));

  AnyMessage empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty.typeName(), "");
  EXPECT_EQ(empty.get<GetResponse>(), nullptr);
  EXPECT_EQ(serialize(empty), "{}");
  EXPECT_TRUE(empty == AnyMessage());
}

TEST(MeshModel, TypeTable) {
  EXPECT_EQ(typeName(TypeId::kCatalogedContact), "CatalogedContact");
  EXPECT_EQ(typeIdFromName("CatalogedContact"), TypeId::kCatalogedContact);
  EXPECT_EQ(typeIdFromName("Message"), TypeId::kMessage);
  EXPECT_EQ(typeIdFromName("catalogedcontact"), std::nullopt);
  EXPECT_EQ(typeIdFromName(""), std::nullopt);
  EXPECT_TRUE(isAbstract(TypeId::kMessage));
  EXPECT_FALSE(isAbstract(TypeId::kMessageMail));
  EXPECT_EQ(baseType(TypeId::kRequestConnection), TypeId::kMessagePinValidated);
  EXPECT_EQ(baseType(TypeId::kKeyData), std::nullopt);
  EXPECT_TRUE(inheritsFrom(TypeId::kRequestConnection, TypeId::kMessage));
  EXPECT_TRUE(inheritsFrom(TypeId::kMessage, TypeId::kMessage));
  EXPECT_FALSE(inheritsFrom(TypeId::kMessage, TypeId::kRequestConnection));
  EXPECT_TRUE(inheritsFrom(TypeId::kCapabilityDecryptPartial, TypeId::kCryptographicCapability));
  EXPECT_FALSE(inheritsFrom(TypeId::kNone, TypeId::kNone));
  EXPECT_EQ(typeName(static_cast<TypeId>(60000)), "");
}

}  // namespace
}  // namespace meshgate::mesh::model
