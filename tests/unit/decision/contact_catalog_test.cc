// Contacts catalog entries, their index rows, and address-book import.
#include <gtest/gtest.h>

#include "gateway/policy/contact_catalog.h"
#include "gateway/policy/contact_import.h"

namespace meshgate::policy {
namespace {

namespace model = mesh::model;

TEST(ContactSpec, NormalizesAndRejects) {
  EXPECT_EQ(*normalizeContactSpec(" Bob@Example.NET "), "bob@example.net");
  EXPECT_EQ(*normalizeContactSpec("@Friends.ORG"), "@friends.org");
  // Internationalized domains in the A-label form the front-ends look senders up in.
  EXPECT_EQ(*normalizeContactSpec("@B\xC3\xBC"
                                  "cher.example"),
            "@xn--bcher-kva.example");
  EXPECT_EQ(*normalizeContactSpec("alice@b\xC3\xBC"
                                  "cher.example"),
            "alice@xn--bcher-kva.example");
  EXPECT_EQ(*normalizeContactSpec("alice@xn--bcher-kva.example"), "alice@xn--bcher-kva.example");
  EXPECT_EQ(*normalizeContactSpec("udf:mbqx-abcd-efgh-ijkl-mnop"), "udf:MBQX-ABCD-EFGH-IJKL-MNOP");
  for (const char* bad : {"bob", "bob@", "@", "bob@localhost", "a b@example.net",
                          "<bob@example.net>", "udf:short", "udf:MB01-!!!!-AAAA-AAAA-AAAA",
                          "x@y.example,z@w.example"}) {
    EXPECT_FALSE(normalizeContactSpec(bad).ok()) << bad;
  }
  // Control bytes (a hostile export's NUL or terminal escape) and bytes that are not UTF-8
  // (a Windows-1252 export) are refused, and the error does not echo them.
  for (std::string bad : {std::string("b\0b@x.example", 11), std::string("\x1b[2Jb@x.example"),
                          std::string("j\xF6rg@example.de"), std::string("a\x7f@x.example")}) {
    auto r = normalizeContactSpec(bad);
    ASSERT_FALSE(r.ok()) << bad;
    for (char c : r.status().message()) {
      EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20 || c == 0x7f) << r.status().message();
    }
  }
}

// Versions before 2026-11 stored U-label domains; those entries are still honoured, so the
// keys an entry may be stored under (what `contacts remove` removes) include that form.
TEST(ContactSpec, StoredKeysIncludeTheEarlierUnicodeForm) {
  EXPECT_EQ(storedContactKeys("@xn--bcher-kva.example"),
            (std::vector<std::string>{"@xn--bcher-kva.example",
                                      "@b\xC3\xBC"
                                      "cher.example"}));
  EXPECT_EQ(storedContactKeys("bob@xn--bcher-kva.example"),
            (std::vector<std::string>{"bob@xn--bcher-kva.example",
                                      "bob@b\xC3\xBC"
                                      "cher.example"}));
  EXPECT_EQ(storedContactKeys("bob@example.net"), (std::vector<std::string>{"bob@example.net"}));
  EXPECT_EQ(storedContactKeys("udf:MBQX-ABCD-EFGH-IJKL-MNOP"),
            (std::vector<std::string>{"udf:MBQX-ABCD-EFGH-IJKL-MNOP"}));
}

TEST(ContactEntry, IndexRowsFollowTheEntry) {
  model::CatalogedContact e = makeContactEntry("@friends.org", {"smtp", "ssh"}, "Friends");
  auto rows = contactMatches(e);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].match, "@friends.org");
  EXPECT_EQ(rows[0].protocols, "smtp,ssh");
  EXPECT_EQ(rows[0].entry_key, "@friends.org");
  // Round trip through the JSON the store keeps.
  auto back = model::parse<model::CatalogedContact>(model::serialize(e));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(contactMatches(*back).size(), 1u);
  EXPECT_EQ(permittedProtocols(*back), "smtp,ssh");
}

TEST(ContactEntry, AnchorsInactiveAddressesAndRoles) {
  model::CatalogedContact e;
  e.key = "k";
  model::ContactPerson p;
  p.network_addresses.push_back({.address = "A@X.example"});
  p.network_addresses.push_back({.inactive = true, .address = "old@x.example"});
  p.anchors.push_back({.udf = "MBQX-ABCD-EFGH-IJKL-MNOP"});
  e.contact = p;
  e.permissions.push_back({.name = "smtp", .role = "permit"});
  e.permissions.push_back({.name = "ssh", .role = "deny"});  // not a grant
  auto rows = contactMatches(e);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].match, "a@x.example");
  EXPECT_EQ(rows[1].match, "udf:MBQX-ABCD-EFGH-IJKL-MNOP");
  EXPECT_EQ(rows[0].protocols, "smtp");
  model::CatalogedContact all = makeContactEntry("a@b.example", {"*"});
  EXPECT_EQ(permittedProtocols(all), "*");
}

TEST(ContactImport, VCardWithFoldingGroupsAndSeveralEmails) {
  std::string vcf =
      "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Carol\r\n  Example\r\nitem1.EMAIL;TYPE=work:carol@c.example\r\n"
      "EMAIL;PREF=1:mailto:carol@home.example\r\nEND:VCARD\r\n"
      "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No Mail\r\nEND:VCARD\r\n"
      "BEGIN:VCARD\r\nFN:Dave\\, Jr\r\nEMAIL:dave@d.example\r\nEND:VCARD\r\n";
  ImportResult r = parseContactFile(vcf, "book.vcf");
  ASSERT_EQ(r.contacts.size(), 3u);
  EXPECT_EQ(r.contacts[0].address, "carol@c.example");
  EXPECT_EQ(r.contacts[0].name, "Carol Example");
  EXPECT_EQ(r.contacts[1].address, "carol@home.example");
  EXPECT_EQ(r.contacts[2].name, "Dave, Jr");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], "book.vcf:11: card without an EMAIL (skipped)");
}

TEST(ContactImport, CsvWithQuotesNamesAndProtocols) {
  std::string csv =
      "\xEF\xBB\xBF" "First Name,Last Name,E-mail Address,Protocols\n"
      "Carol,Example,carol@c.example,smtp;ssh\n"
      "\"Dave \"\"D\"\"\",\"Jr,\nSr\",dave@d.example,\n"
      ",,,\n"
      "\n";
  ImportResult r = parseContactFile(csv, "book.csv");
  ASSERT_EQ(r.contacts.size(), 2u);
  EXPECT_EQ(r.contacts[0].name, "Carol Example");
  EXPECT_EQ(r.contacts[0].protocols, (std::vector<std::string>{"smtp", "ssh"}));
  EXPECT_EQ(r.contacts[1].name, "Dave \"D\" Jr,\nSr");
  EXPECT_EQ(r.contacts[1].line, 3);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], "book.csv:5: no address in this row (skipped)");
}

TEST(ContactImport, ExportQuirks) {
  // MAILTO: in any case, in a vCard and in a CSV cell.
  ImportResult v = parseContactFile(
      "BEGIN:VCARD\r\nFN:Eve\r\nEMAIL:MAILTO:eve@e.example\r\n"
      "END:VCARD\r\n",
      "e.vcf");
  ASSERT_EQ(v.contacts.size(), 1u);
  EXPECT_EQ(v.contacts[0].address, "eve@e.example");
  ImportResult c = parseContactFile("email\nMailTo:eve@e.example\n", "e.csv");
  ASSERT_EQ(c.contacts.size(), 1u);
  EXPECT_EQ(c.contacts[0].address, "eve@e.example");
  // A vCard file that starts with a byte-order mark is still a vCard.
  ImportResult bom = parseContactFile(
      "\xEF\xBB\xBF"
      "BEGIN:VCARD\r\nEMAIL:f@f.example\r\n"
      "END:VCARD\r\n",
      "f.vcf");
  ASSERT_EQ(bom.contacts.size(), 1u) << (bom.errors.empty() ? "" : bom.errors[0]);
  EXPECT_EQ(bom.contacts[0].address, "f@f.example");
}

TEST(ContactImport, AnUnclosedQuoteStopsTheImportThereWithOneClearError) {
  ImportResult r = parseContactFile(
      "email,name\na@x.example,A\n\"b@x.example,B\nc@x.example,C\nd@x.example,D\n", "q.csv");
  ASSERT_EQ(r.contacts.size(), 1u);
  EXPECT_EQ(r.contacts[0].address, "a@x.example");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].rfind("q.csv:3: a quote opened in this row is never closed", 0), 0u)
      << r.errors[0];
}

TEST(ContactImport, CsvWithoutAddressColumnIsOneClearError) {
  ImportResult r = parseContactFile("Name,Phone\nBob,123\n", "x.csv");
  EXPECT_TRUE(r.contacts.empty());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("x.csv:1: no address column"), std::string::npos);
}

}  // namespace
}  // namespace meshgate::policy
