// mesh_mail_test.cc - every Mesh Message type rendered as RFC 5322 mail with a verifying
// security signal; header injection; the carried MessageMail body.
#include "adapters/mesh_mail.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "gateway/mail/codec.h"
#include "gateway/mail/header.h"
#include "gateway/policy/security_signal.h"

namespace meshgate::adapters {
namespace {

namespace model = mesh::model;

const mesh::PrivateKey& gatewayKey() {
  static const mesh::PrivateKey key = *mesh::PrivateKey::generate(mesh::KeyType::kEd25519);
  return key;
}

MeshMailContext context() {
  MeshMailContext c;
  c.recipient = "alice@example.com";
  c.envelope_id = "MDEX-AMPL-EENV-ELOP-EID0";
  c.gateway_node = "mx.example.com";
  c.contact = "known-contact";
  c.verified_sender = "bob@example.net";  // what the service verified at Post
  c.now = 1'800'000'000;
  return c;
}

template <typename T>
T withBase(T m) {
  m.message_id = "NDZX-MESS-AGEI-D000";
  m.sender = "bob@example.net";
  m.recipient = "alice@example.com";
  return m;
}

struct Parsed {
  mail::HeaderList headers;  // without the signal
  std::string signal;
  std::string body;          // decoded when quoted-printable
};

Parsed parse(const RenderedMail& r) {
  Parsed p;
  mail::HeaderList all;
  size_t offset = mail::readHeaderSection(r.data, &all);
  for (const auto& h : all) {
    if (h.name == policy::kSignalHeader) {
      p.signal = h.value;
    } else {
      p.headers.add(h.name, h.value);
    }
  }
  std::string raw = r.data.substr(offset);
  const std::string* cte = all.find("Content-Transfer-Encoding");
  if (cte && *cte == "quoted-printable") {
    mail::decodeQuotedPrintable(raw, &p.body, 1 << 20);
  } else {
    p.body = raw;
  }
  return p;
}

void expectVerifiedSignal(const Parsed& p, const std::string& contact) {
  auto signal = policy::parseSignal(p.signal);
  ASSERT_TRUE(signal.ok()) << signal.status().toString() << "\n" << p.signal;
  EXPECT_TRUE(policy::verifySignal(*signal, p.headers, gatewayKey().publicKey()).ok());
  EXPECT_EQ(signal->contact, contact);
  ASSERT_FALSE(signal->checks.empty());
  EXPECT_EQ(signal->checks[0], kMeshViaCheck);
}

std::string header(const Parsed& p, std::string_view name) {
  const std::string* v = p.headers.find(name);
  return v ? mail::decodeEncodedWords(*v) : "";
}

struct TypeCase {
  const char* name;
  model::AnyMessage message;
  std::string subject_has;
  std::vector<std::string> body_has;
};

std::vector<TypeCase> typeCases() {
  model::RequestContact rc = withBase(model::RequestContact{});
  rc.subject = "Lunch next week?";
  rc.reply = true;
  model::ReplyContact reply = withBase(model::ReplyContact{});
  reply.subject = "Sure";
  model::RequestConfirmation conf = withBase(model::RequestConfirmation{});
  conf.text = "Pay invoice 42 of EUR 1,300?";
  model::ResponseConfirmation resp = withBase(model::ResponseConfirmation{});
  resp.accept = true;
  resp.request = mesh::DareEnvelope{};
  resp.request->header.envelope_id = "MREQ-UEST-ENVE-LOPE";
  model::GroupInvitation gi = withBase(model::GroupInvitation{});
  gi.text = "Join the project group";
  model::MessagePIN pin = withBase(model::MessagePIN{});
  pin.account = "alice@example.com";
  pin.salted_pin = "AAJV-PCNY-3HYY";
  pin.action = "Contact";
  pin.expires = model::DateTime(std::chrono::seconds(1'800'086'400));
  model::MessageError err = withBase(model::MessageError{});
  err.error_code = "NotAuthorized";
  err.references.push_back({.message_id = "NQQQ-ORIG-INAL", .response_id = std::nullopt,
                            .relationship = "Reject"});
  model::MessageMail text = withBase(model::MessageMail{});
  text.subject = "Grüße aus Köln";
  text.text = "Hallo Alice,\nbis bald.\nFrom here on";
  return {
      {"RequestContact", model::AnyMessage(rc), "Contact request from bob@example.net: Lunch next week?",
       {"asks to exchange contact information", "Lunch next week?", "contact details in return",
        "meshgate contacts accept NDZX-MESS-AGEI-D000"}},
      {"ReplyContact", model::AnyMessage(reply), "Contact reply from bob@example.net: Sure",
       {"answered your contact request", "Sure"}},
      {"RequestConfirmation", model::AnyMessage(conf), "Confirmation requested by bob@example.net",
       {"Pay invoice 42 of EUR 1,300?", "Nothing happens unless you confirm"}},
      {"ResponseConfirmation", model::AnyMessage(resp), "Confirmation accepted by bob@example.net",
       {"accepted your confirmation request (envelope MREQ-UEST-ENVE-LOPE)"}},
      {"GroupInvitation", model::AnyMessage(gi), "Group invitation from bob@example.net",
       {"invites you to a Mesh group", "Join the project group"}},
      {"MessagePIN", model::AnyMessage(pin), "Your Mesh PIN for Contact",
       {"PIN: AAJV-PCNY-3HYY", "Expires: 2027-01-16T", "account alice@example.com"}},
      {"MessageError", model::AnyMessage(err), "Mesh error: NotAuthorized",
       {"reported an error: NotAuthorized", "Refers to Mesh message: NQQQ-ORIG-INAL (Reject)"}},
      {"MessageMail", model::AnyMessage(text), "Grüße aus Köln", {"Hallo Alice,\r\nbis bald.\r\nFrom here on"}},
  };
}

TEST(MeshMail, EveryMessageTypeRendersWithAVerifyingSignal) {
  for (const auto& c : typeCases()) {
    SCOPED_TRACE(c.name);
    auto r = renderMeshMessage(c.message, context(), gatewayKey());
    ASSERT_TRUE(r.ok()) << r.status().toString();
    EXPECT_EQ(r->message_type, c.name);
    EXPECT_EQ(r->envelope_from, "");
    EXPECT_EQ(r->recipient, "alice@example.com");
    EXPECT_EQ(r->message_id, "MDEX-AMPL-EENV-ELOP-EID0@mx.example.com");
    EXPECT_EQ(r->data.substr(0, std::string(policy::kSignalHeader).size()), policy::kSignalHeader);
    // CRLF everywhere, no bare LF.
    for (size_t i = 0; i < r->data.size(); ++i) {
      if (r->data[i] == '\n') {
        ASSERT_TRUE(i > 0 && r->data[i - 1] == '\r') << "bare LF at " << i;
      }
    }
    Parsed p = parse(*r);
    expectVerifiedSignal(p, "known-contact");
    EXPECT_EQ(header(p, "Mesh-Message-Type"), c.name);
    EXPECT_EQ(header(p, "Mesh-Envelope-Id"), "MDEX-AMPL-EENV-ELOP-EID0");
    EXPECT_EQ(header(p, "Mesh-Message-Id"), "NDZX-MESS-AGEI-D000");
    EXPECT_EQ(header(p, "From"), "bob@example.net");
    EXPECT_EQ(header(p, "To"), "alice@example.com");
    EXPECT_EQ(header(p, "Message-ID"), "<MDEX-AMPL-EENV-ELOP-EID0@mx.example.com>");
    EXPECT_EQ(header(p, "Date"), "Fri, 15 Jan 2027 08:00:00 +0000");
    EXPECT_EQ(header(p, "Content-Type"), "text/plain; charset=utf-8");
    EXPECT_EQ(header(p, "Subject"), c.subject_has);
    for (const auto& text : c.body_has) {
      EXPECT_NE(p.body.find(text), std::string::npos) << "body lacks \"" << text << "\":\n" << p.body;
    }
  }
}

TEST(MeshMail, RenderingIsDeterministicPerEnvelope) {
  auto c = typeCases()[0];
  auto a = renderMeshMessage(c.message, context(), gatewayKey());
  auto b = renderMeshMessage(c.message, context(), gatewayKey());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->data, b->data);  // same envelope, same time: the same message (Ed25519 is deterministic)
}

TEST(MeshMail, NetworkValuesCannotInjectHeaders) {
  model::RequestContact rc = withBase(model::RequestContact{});
  rc.sender = "evil@example.net\r\nBcc: victim@example.org";
  rc.subject = "hi\r\nMesh-Security-Signal: forged\nX-Evil: 1";
  rc.message_id = "ID\r\nX-Injected: yes";
  MeshMailContext ctx = context();
  ctx.verified_sender = "";
  auto r = renderMeshMessage(model::AnyMessage(rc), ctx, gatewayKey());
  ASSERT_TRUE(r.ok()) << r.status().toString();
  Parsed p = parse(*r);
  EXPECT_EQ(p.headers.count("Bcc"), 0u);
  EXPECT_EQ(p.headers.count("X-Evil"), 0u);
  EXPECT_EQ(p.headers.count("X-Injected"), 0u);
  EXPECT_EQ(header(p, "From"), "mesh@mx.example.com");  // no verified sender
  expectVerifiedSignal(p, "known-contact");
}

TEST(MeshMail, OnlyTheVerifiedSenderIsShownAsFrom) {
  // A stranger's gateway signs a RequestContact that claims to come from the CEO.
  model::RequestContact rc = withBase(model::RequestContact{});
  rc.sender = "ceo@example.com";
  MeshMailContext ctx = context();
  ctx.verified_sender = "";
  auto unverified = renderMeshMessage(model::AnyMessage(rc), ctx, gatewayKey());
  ASSERT_TRUE(unverified.ok()) << unverified.status().toString();
  Parsed p = parse(*unverified);
  EXPECT_EQ(header(p, "From"), "mesh@mx.example.com");
  EXPECT_EQ(header(p, "Subject"), "Contact request from ceo@example.com (not verified)");
  auto signal = policy::parseSignal(p.signal);
  ASSERT_TRUE(signal.ok());
  EXPECT_NE(std::find(signal->checks.begin(), signal->checks.end(), kSenderUnverifiedCheck),
            signal->checks.end());

  // Verified as someone else: that one is From, the claim is named as a claim.
  ctx.verified_sender = "mallory@example.net";
  auto other = renderMeshMessage(model::AnyMessage(rc), ctx, gatewayKey());
  ASSERT_TRUE(other.ok());
  p = parse(*other);
  EXPECT_EQ(header(p, "From"), "mallory@example.net");
  EXPECT_EQ(header(p, "Subject"),
            "Contact request from mallory@example.net (the message claims to be from "
            "ceo@example.com)");
  signal = policy::parseSignal(p.signal);
  ASSERT_TRUE(signal.ok());
  EXPECT_EQ(std::find(signal->checks.begin(), signal->checks.end(), kSenderUnverifiedCheck),
            signal->checks.end());
}

TEST(MeshMail, CarriedMessageKeepsItsBytesAndLosesForgedSignals) {
  model::MessageMail m = withBase(model::MessageMail{});
  std::string original =
      "From: Bob <bob@example.net>\n"
      "To: alice@example.com\n"
      "Subject: the report\n"
      "Mesh-Security-Signal: v=1; gw=forged; contact=known-contact\n"
      "Mesh-Envelope-Id: FORGED\n"
      "MIME-Version: 1.0\n"
      "\n"
      "line one\n"
      ".line with a dot\n"
      "last line without newline";
  m.body = Bytes(original.begin(), original.end());
  MeshMailContext ctx = context();
  ctx.contact = "first-contact";
  auto r = renderMeshMessage(model::AnyMessage(m), ctx, gatewayKey());
  ASSERT_TRUE(r.ok()) << r.status().toString();
  Parsed p = parse(*r);
  expectVerifiedSignal(p, "first-contact");
  EXPECT_EQ(p.headers.count("Mesh-Security-Signal"), 0u);
  EXPECT_EQ(header(p, "Mesh-Envelope-Id"), "MDEX-AMPL-EENV-ELOP-EID0");
  EXPECT_EQ(p.headers.count("Mesh-Envelope-Id"), 1u);
  EXPECT_EQ(header(p, "From"), "Bob <bob@example.net>");
  EXPECT_EQ(p.headers.count("From"), 1u);
  EXPECT_EQ(header(p, "Subject"), "the report");
  // Added because the original had none.
  EXPECT_EQ(header(p, "Message-ID"), "<MDEX-AMPL-EENV-ELOP-EID0@mx.example.com>");
  EXPECT_EQ(p.headers.count("Date"), 1u);
  EXPECT_EQ(p.body, "line one\r\n.line with a dot\r\nlast line without newline\r\n");
}

TEST(MeshMail, ALoneCrInACarriedHeaderCannotStartAFieldOfItsOwn) {
  // The header parser splits lines on LF only, so a CR alone stays inside the Subject's value;
  // written out as CRLF it would become two forged fields after the Subject.
  model::MessageMail m = withBase(model::MessageMail{});
  std::string original =
      "From: bob@example.net\nSubject: hi\rMesh-Security-Signal: v=1; gw=forged\r"
      "Mesh-Envelope-Id: FORGED\n";
  original += std::string("X-Nul: a\0b\n", 11) + "\nbody\n";
  m.body = Bytes(original.begin(), original.end());
  auto r = renderMeshMessage(model::AnyMessage(m), context(), gatewayKey());
  ASSERT_TRUE(r.ok()) << r.status().toString();
  Parsed p = parse(*r);
  expectVerifiedSignal(p, "known-contact");
  EXPECT_EQ(p.headers.count("Mesh-Security-Signal"), 0u);
  EXPECT_EQ(p.headers.count("Mesh-Envelope-Id"), 1u);
  EXPECT_EQ(header(p, "Mesh-Envelope-Id"), "MDEX-AMPL-EENV-ELOP-EID0");
  EXPECT_EQ(header(p, "Subject"),
            "hi Mesh-Security-Signal: v=1; gw=forged Mesh-Envelope-Id: FORGED");
  EXPECT_EQ(header(p, "X-Nul"), "a b");
}

TEST(MeshMail, CarriedMessageIdIsKept) {
  model::MessageMail m = withBase(model::MessageMail{});
  std::string original = "From: bob@example.net\r\nMessage-ID: <abc@example.net>\r\n\r\nhi\r\n";
  m.body = Bytes(original.begin(), original.end());
  auto r = renderMeshMessage(model::AnyMessage(m), context(), gatewayKey());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->message_id, "abc@example.net");
}

TEST(MeshMail, RefusesWhatIsNotMail) {
  model::RequestConnection rc;
  EXPECT_EQ(renderMeshMessage(model::AnyMessage(rc), context(), gatewayKey()).status().code(),
            StatusCode::kInvalidArgument);
  model::MessageMail no_headers = withBase(model::MessageMail{});
  std::string junk = "\x01\x02 not a message";
  no_headers.body = Bytes(junk.begin(), junk.end());
  EXPECT_FALSE(renderMeshMessage(model::AnyMessage(no_headers), context(), gatewayKey()).ok());
  MeshMailContext bad = context();
  bad.recipient = "alice";
  EXPECT_FALSE(renderMeshMessage(typeCases()[0].message, bad, gatewayKey()).ok());
  bad = context();
  bad.envelope_id = "";
  EXPECT_FALSE(renderMeshMessage(typeCases()[0].message, bad, gatewayKey()).ok());
}

TEST(MeshMail, QuotedPrintableAndEncodedWords) {
  EXPECT_EQ(quotedPrintable("a=b\ntrailing \nä"), "a=3Db\r\ntrailing=20\r\n=C3=A4\r\n");
  std::string long_line(200, 'x');
  std::string qp = quotedPrintable(long_line);
  std::string back;
  mail::decodeQuotedPrintable(qp, &back, 1000);
  EXPECT_EQ(back, long_line + "\r\n");
  for (size_t i = 0, start = 0; i < qp.size(); ++i) {
    if (qp[i] == '\n') {
      EXPECT_LE(i - start, 77u);
      start = i + 1;
    }
  }
  EXPECT_EQ(encodeHeaderText("plain"), "plain");
  std::string long_utf8;
  for (int i = 0; i < 40; ++i) long_utf8 += "ü";
  std::string enc = encodeHeaderText(long_utf8);
  EXPECT_EQ(mail::decodeEncodedWords(enc), long_utf8);
}

}  // namespace
}  // namespace meshgate::adapters
