// `meshgate audit verify|show|checkpoint` against a real SQLite store, tampered with by the
// sqlite3 command line as an attacker with database access would.
#include <gtest/gtest.h>
#include <unistd.h>

#include <ctime>
#include <string>
#include <vector>

#include "gateway/config/config_loader.h"
#include "gateway/policy/contact_catalog.h"
#include "gateway/util/audit_hash.h"
#include "policy/runtime.h"
#include "policy/store/store_factory.h"
#include "tests/support/subprocess.h"

namespace meshgate {
namespace {

using testing::runMeshgate;
using testing::runProgram;

class AuditCli : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = dir_.file("meshgate.yaml");
    dir_.write("meshgate.yaml", "gateway:\n  node: mx1.example.com\n  domains: [example.com]\n"
                                "  data_dir: " + dir_.path() + "\n  key_file: " +
                                    dir_.file("keys/gateway.key") + "\nstore:\n  sqlite:\n    path: " +
                                    dir_.file("store.db") + "\n");
    ASSERT_TRUE(loadOrCreateGatewayKey(dir_.file("keys/gateway.key")).ok());
    auto store = openStore();
    ASSERT_TRUE(store);
    const char* actions[] = {"accept", "reject", "accept", "hold", "accept"};
    for (int n = 1; n <= 5; ++n) {
      AuditRecord r = messageRecord(n);
      if (n == 2) {
        r.sender = "mallory@evil.example";
        r.rule = "ingress.contacts-only";
      }
      r.action = actions[n - 1];
      ASSERT_TRUE(store->appendAudit(r).ok());
    }
  }
  // The store the commands under test use, opened beside them (as another process would).
  std::unique_ptr<Store> openStore() {
    auto loaded = config::loadConfigFile(config_);
    EXPECT_TRUE(loaded.ok());
    if (!loaded.ok()) return nullptr;
    auto store = store::openStore(loaded.config->store);
    EXPECT_TRUE(store.ok()) << store.status().toString();
    return store.ok() ? std::move(*store) : nullptr;
  }
  // Record n of the log as the milter writes one: alice's message to bob, accepted.
  static AuditRecord messageRecord(int n) {
    AuditRecord r;
    r.time = 1'800'000'000 + n - 1;
    r.node = "mx1.example.com";
    r.kind = "message";
    r.queue_id = "Q" + std::to_string(n);
    r.sender = "alice@partner.net";
    r.recipients = "bob@example.com";
    r.rule = "ingress.known-contact";
    r.action = "accept";
    return r;
  }
  // An entry of bob's as versions before 2026-11 stored a Unicode domain: key and index row in
  // U-labels.
  bool putLegacyEntry(const std::string& key) {
    auto store = openStore();
    if (!store) return false;
    auto legacy = policy::makeContactEntry(key, {"smtp"});
    CatalogEntry e{"bob@example.com",
                   std::string(policy::kContactsCatalog),
                   key,
                   mesh::model::serialize(legacy),
                   1'800'000'000,
                   0};
    auto put = store->putEntry(e, std::vector<ContactMatch>{ContactMatch{key, "smtp", key}});
    EXPECT_TRUE(put.ok()) << put.status().toString();
    return put.ok();
  }
  // `meshgate contacts import` of a CSV file with `csv` as its text, into bob's catalog.
  testing::RunResult importBook(const std::string& csv, std::vector<std::string> options = {}) {
    dir_.write("book.csv", csv);
    std::vector<std::string> args{"contacts",  "import",          dir_.file("book.csv"),
                                  "--account", "bob@example.com", "--config",
                                  config_};
    args.insert(args.end(), options.begin(), options.end());
    return runMeshgate(args);
  }
  std::string sql(const std::string& statement) {
    auto r = runProgram({"/usr/bin/sqlite3", dir_.file("store.db"), statement});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  testing::TempDir dir_;
  std::string config_;
};

TEST_F(AuditCli, AdministratorsChangesToAccountsAndContactsAreRecorded) {
  // Each changes what ingress control decides, so each is in the log, before it is made.
  const std::vector<std::vector<std::string>> commands = {
      {"account", "create", "bob@example.com", "--ingress", "contacts-only"},
      {"contacts", "add", "alice@partner.net", "--account", "bob@example.com"},
      {"contacts", "remove", "alice@partner.net", "--account", "bob@example.com"},
      {"account", "set", "bob@example.com", "--ingress", "open"},
      {"account", "set", "bob@example.com", "--name", "Bob Example"},
      {"account", "delete", "bob@example.com"}};
  for (auto command : commands) {
    command.insert(command.end(), {"--config", config_});
    auto r = runMeshgate(command);
    ASSERT_EQ(r.exit_code, 0) << command[0] << " " << command[1] << ": " << r.err;
  }
  auto show = runMeshgate({"audit", "show", "--config", config_});
  for (const char* rule :
       {"rule=admin.account-create", "rule=admin.contact-add", "rule=admin.contact-remove",
        "rule=admin.account-set", "rule=admin.account-delete"}) {
    EXPECT_NE(show.out.find(rule), std::string::npos) << rule << " not in:\n" << show.out;
  }
  // What changed is in the record, a new name too.
  EXPECT_NE(show.out.find("ingress=open name=\"Bob Example\""), std::string::npos) << show.out;
  auto verify = runMeshgate({"audit", "verify", "--config", config_});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

// An entry an earlier version stored with a U-label domain is still honoured by the ingress
// check; `contacts remove`, which takes either form, removes it too (with its A-label twin).
TEST_F(AuditCli, RemovingADomainContactRemovesTheFormAnEarlierVersionStored) {
  ASSERT_EQ(runMeshgate({"account", "create", "bob@example.com", "--config", config_}).exit_code,
            0);
  const std::string unicode =
      "@b\xC3\xBC"
      "cher.example";
  ASSERT_TRUE(putLegacyEntry(unicode));
  for (const std::string& typed : {unicode, std::string("@xn--bcher-kva.example")}) {
    SCOPED_TRACE(typed);
    auto r = runMeshgate(
        {"contacts", "remove", typed, "--account", "bob@example.com", "--config", config_});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(sql("SELECT count(*) FROM entries WHERE catalog='contacts'"), "0\n");
    EXPECT_EQ(sql("SELECT count(*) FROM contacts"), "0\n");  // nor an index row to match
    // Again, with the A-label twin the current version writes.
    ASSERT_EQ(runMeshgate(
                  {"contacts", "add", unicode, "--account", "bob@example.com", "--config", config_})
                  .exit_code,
              0);
    ASSERT_TRUE(putLegacyEntry(unicode));
  }
  auto none = runMeshgate({"contacts", "remove", "@other.example", "--account", "bob@example.com",
                           "--config", config_});
  EXPECT_EQ(none.exit_code, 1) << none.out;
}

TEST_F(AuditCli, NoAdministratorsChangeIsMadeWhenTheAuditLogCannotBeWritten) {
  sql("CREATE TRIGGER refuse BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'refused'); "
      "END;");
  const std::vector<std::vector<std::string>> commands = {
      {"account", "create", "bob@example.com"},
      {"ssh", "unrevoke", "--udf", "MDDK-7N6A-727A-JZNO-STRX-XKS7-DJAF"}};
  for (auto command : commands) {
    command.insert(command.end(), {"--config", config_});
    auto r = runMeshgate(command);
    EXPECT_EQ(r.exit_code, 1) << command[0] << " " << command[1] << ": " << r.out << r.err;
    EXPECT_NE(r.err.find("audit log; nothing was changed"), std::string::npos) << r.err;
  }
  EXPECT_EQ(sql("SELECT count(*) FROM accounts"), "0\n");
}

TEST_F(AuditCli, AContactRequestIsAnsweredOnlyOnceItsAnswerIsRecorded) {
  ASSERT_EQ(runMeshgate({"account", "create", "bob@example.com", "--config", config_}).exit_code,
            0);
  const std::string udf = "MDDK-7N6A-727A-JZNO-STRX-XKS7-DJAF";
  sql("INSERT INTO entries (account, catalog, key, data, updated, sequence) VALUES "
      "('bob@example.com', 'contact-requests', 'REQ-1', '{\"SenderUdf\":\"" +
      udf +
      "\",\"ClaimedSender\":\"stranger@partner.net\",\"Received\":1800000000}', "
      "1800000000, 9000)");
  sql("CREATE TRIGGER refuse BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'refused'); "
      "END;");
  for (const char* answer : {"accept", "reject"}) {
    auto r = runMeshgate({"contacts", answer, "REQ-1", "--config", config_});
    EXPECT_EQ(r.exit_code, 1) << answer << ": " << r.out << r.err;
    EXPECT_NE(r.err.find("audit log; nothing was changed"), std::string::npos) << r.err;
  }
  EXPECT_EQ(sql("SELECT count(*) FROM entries WHERE catalog = 'contact-requests'"), "1\n");
  EXPECT_EQ(sql("SELECT count(*) FROM contacts"), "0\n");
  sql("DROP TRIGGER refuse");
  auto accepted = runMeshgate({"contacts", "accept", "REQ-1", "--config", config_});
  ASSERT_EQ(accepted.exit_code, 0) << accepted.err;
  EXPECT_NE(accepted.out.find("contact udf:" + udf), std::string::npos) << accepted.out;
  EXPECT_EQ(sql("SELECT count(*) FROM entries WHERE catalog = 'contact-requests'"), "0\n");
  auto show = runMeshgate({"audit", "show", "--config", config_});
  EXPECT_NE(show.out.find("rule=contacts.accept"), std::string::npos) << show.out;
}

TEST_F(AuditCli, RequestsReceivedBeforeATimeAreRejectedTogetherEachAudited) {
  ASSERT_EQ(runMeshgate({"account", "create", "bob@example.com", "--config", config_}).exit_code,
            0);
  // Three old requests (2020) and one newer (2025); another account's old one is not touched.
  const std::pair<const char*, int64_t> requests[] = {
      {"OLD-1", 1600000000}, {"OLD-2", 1600000100}, {"OLD-3", 1600000200}, {"NEW-1", 1750000000}};
  int sequence = 9000;
  for (const auto& [id, received] : requests) {
    const std::string seq = std::to_string(sequence++);
    sql("INSERT INTO entries (account, catalog, key, data, updated, sequence) VALUES "
        "('bob@example.com', 'contact-requests', '" +
        std::string(id) + "', '{\"ClaimedSender\":\"s" + seq + "@partner.net\",\"Received\":" +
        std::to_string(received) + "}', " + std::to_string(received) + ", " + seq + ")");
  }
  sql("INSERT INTO entries (account, catalog, key, data, updated, sequence) VALUES "
      "('carol@example.com', 'contact-requests', 'OLD-C', '{\"Received\":1600000000}', "
      "1600000000, 9100)");
  // Misuse is refused with what to do.
  auto both = runMeshgate({"contacts", "reject", "OLD-1", "--account", "bob@example.com",
                           "--received-before", "2024-01-01", "--config", config_});
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_NE(both.err.find("give an ID or --received-before, not both"), std::string::npos);
  auto no_account =
      runMeshgate({"contacts", "reject", "--received-before", "2024-01-01", "--config", config_});
  EXPECT_EQ(no_account.exit_code, 2);
  EXPECT_NE(no_account.err.find("--received-before needs --account"), std::string::npos);
  auto bad_time = runMeshgate({"contacts", "reject", "--account", "bob@example.com",
                               "--received-before", "last tuesday", "--config", config_});
  EXPECT_EQ(bad_time.exit_code, 2);
  EXPECT_NE(bad_time.err.find("--received-before: \"last tuesday\" is not a time"),
            std::string::npos)
      << bad_time.err;
  // A sign, a date that does not exist, the future: each would reject what was not meant.
  for (const char* when : {"-1d", "+2h", "2023-02-31", "2099-01-01", "99999999999999d"}) {
    auto wrong = runMeshgate({"contacts", "reject", "--account", "bob@example.com",
                              "--received-before", when, "--config", config_});
    EXPECT_EQ(wrong.exit_code, 2) << when << ": " << wrong.out;
    EXPECT_NE(wrong.err.find("--received-before: \"" + std::string(when) + "\""), std::string::npos)
        << wrong.err;
  }
  EXPECT_EQ(sql("SELECT count(*) FROM entries WHERE catalog = 'contact-requests'"), "5\n");

  auto r = runMeshgate({"contacts", "reject", "--account", "bob@example.com", "--received-before",
                        "2024-01-01", "--config", config_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("bob@example.com: rejected 3 contact request(s) received before "
                       "2024-01-01T00:00:00Z"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(sql("SELECT key FROM entries WHERE catalog = 'contact-requests' ORDER BY key"),
            "NEW-1\nOLD-C\n");
  auto show = runMeshgate({"audit", "show", "--config", config_});
  size_t rejects = 0;
  for (size_t at = show.out.find("rule=contacts.reject"); at != std::string::npos;
       at = show.out.find("rule=contacts.reject", at + 1)) {
    ++rejects;
  }
  EXPECT_EQ(rejects, 3u) << show.out;
  EXPECT_NE(show.out.find("s9001@partner.net"), std::string::npos) << show.out;
}

TEST_F(AuditCli, ShowPrintsTheDetailWithTheAdministratorsLogin) {
  ASSERT_EQ(runMeshgate({"account", "create", "bob@example.com", "--config", config_}).exit_code,
            0);
  ASSERT_EQ(runMeshgate({"contacts", "add", "--account", "bob@example.com", "alice@partner.net",
                         "--config", config_})
                .exit_code,
            0);
  auto show = runMeshgate({"audit", "show", "--action", "contact-add", "--config", config_});
  EXPECT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find(" detail=\""), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("by="), std::string::npos) << show.out;
}

TEST_F(AuditCli, AnImportRowThatCannotBeWrittenIsListedNotAStopHalfWay) {
  ASSERT_EQ(runMeshgate({"account", "create", "bob@example.com", "--config", config_}).exit_code,
            0);
  auto r = importBook("email,name\nx1@p.net,One\nx2@p.net,\"Two\nLines\"\nx3@p.net,Three\n");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("book.csv:3: the name of x2@p.net contains a control character"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.out.find("imported 2 contact(s)"), std::string::npos) << r.out;
  EXPECT_EQ(sql("SELECT key FROM entries WHERE catalog = 'contacts' ORDER BY key"),
            "x1@p.net\nx3@p.net\n");
}

// An address book row "@gmail.com" would let a whole domain in: only with --allow-domains.
TEST_F(AuditCli, ImportTakesWholeDomainsOnlyWhenAskedTo) {
  ASSERT_EQ(runMeshgate({"account", "create", "bob@example.com", "--config", config_}).exit_code,
            0);
  auto r = importBook("email\nx1@p.net\n@gmail.com\n");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("book.csv:3: @gmail.com would let the whole domain reach bob@example.com"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(sql("SELECT key FROM entries WHERE catalog = 'contacts' ORDER BY key"), "x1@p.net\n");
  auto allowed = importBook("email\nx1@p.net\n@gmail.com\n", {"--allow-domains"});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.err;
  EXPECT_EQ(sql("SELECT key FROM entries WHERE catalog = 'contacts' ORDER BY key"),
            "@gmail.com\nx1@p.net\n");
  // A FILE that is no address book (here one that never ends) is an error, not memory used up.
  auto endless = runMeshgate(
      {"contacts", "import", "/dev/zero", "--account", "bob@example.com", "--config", config_});
  EXPECT_EQ(endless.exit_code, 1);
  EXPECT_NE(endless.err.find("larger than 64 MiB"), std::string::npos) << endless.err;
}

TEST_F(AuditCli, AStoreThatDoesNotExistIsAnErrorNotAnEmptyLog) {
  // data_dir set, store path not: the store is data_dir/meshgate.db, which is not there.
  const std::string elsewhere = dir_.file("elsewhere");
  dir_.write("other.yaml", "gateway:\n  domains: [example.com]\n  data_dir: " + elsewhere + "\n");
  const std::string other = dir_.file("other.yaml");
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"audit", "verify"},
        {"store", "check"},
        {"account", "list"},
        {"contacts", "list", "--account", "bob@example.com"}}) {
    std::vector<std::string> argv = command;
    argv.insert(argv.end(), {"--config", other});
    auto r = runMeshgate(argv);
    EXPECT_EQ(r.exit_code, 1) << command[0] << " " << command[1] << ": " << r.out;
    EXPECT_NE(r.err.find("the store " + elsewhere + "/meshgate.db does not exist"),
              std::string::npos)
        << r.err;
  }
  EXPECT_NE(::access((elsewhere + "/meshgate.db").c_str(), F_OK), 0);  // nothing was created
  // The first account starts the store.
  auto created = runMeshgate({"account", "create", "bob@example.com", "--config", other});
  EXPECT_EQ(created.exit_code, 0) << created.err;
  EXPECT_EQ(runMeshgate({"account", "list", "--config", other}).exit_code, 0);
}

TEST_F(AuditCli, AnOldTailNoCheckpointCoversIsNotAnchored) {
  // Deleting the checkpoints lets anyone with database access rewrite and rehash the records
  // after them; a running gateway signs one every checkpoint_interval, so an old unsigned tail
  // is reported (exit 2), not passed.
  auto store = openStore();
  ASSERT_TRUE(store);
  AuditRecord r = messageRecord(6);
  r.time = static_cast<int64_t>(std::time(nullptr)) - 3 * 86400;
  ASSERT_TRUE(store->appendAudit(r).ok());
  auto unsigned_tail = runMeshgate({"audit", "verify", "--config", config_});
  EXPECT_EQ(unsigned_tail.exit_code, 2) << unsigned_tail.out << unsigned_tail.err;
  EXPECT_NE(unsigned_tail.out.find("audit log NOT ANCHORED: records 1 to 6"), std::string::npos)
      << unsigned_tail.out;
  ASSERT_EQ(runMeshgate({"audit", "checkpoint", "--config", config_}).exit_code, 0);
  auto anchored = runMeshgate({"audit", "verify", "--config", config_});
  EXPECT_EQ(anchored.exit_code, 0) << anchored.out;
  // The checkpoints deleted again: the same finding.
  sql("DELETE FROM audit_checkpoints;");
  EXPECT_EQ(runMeshgate({"audit", "verify", "--config", config_}).exit_code, 2);
}

TEST_F(AuditCli, IntactLogVerifies) {
  auto r = runMeshgate({"audit", "verify", "--config", config_});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("audit log OK: 5 record(s)"), std::string::npos) << r.out;
}

TEST_F(AuditCli, AnEditedRecordIsNamed) {
  sql("UPDATE audit_log SET action='accept' WHERE sequence=2;");
  auto r = runMeshgate({"audit", "verify", "--config", config_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("audit log FAILED at record 2"), std::string::npos) << r.out;
}

TEST_F(AuditCli, AnEditedAndRehashedRecordIsCaughtByTheNextLink) {
  // The attacker recomputes nothing right: even a consistent hash for record 3 breaks 4's link.
  sql("UPDATE audit_log SET sender='x@y.example', hash=(SELECT hash FROM audit_log WHERE "
      "sequence=1) WHERE sequence=3;");
  auto r = runMeshgate({"audit", "verify", "--config", config_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("audit log FAILED at record 3"), std::string::npos) << r.out;
}

TEST_F(AuditCli, RemovedInsertedAndReorderedRecordsFail) {
  sql("DELETE FROM audit_log WHERE sequence=3;");
  auto removed = runMeshgate({"audit", "verify", "--config", config_});
  EXPECT_EQ(removed.exit_code, 1);
  EXPECT_NE(removed.out.find("FAILED at record 3"), std::string::npos) << removed.out;
}

TEST_F(AuditCli, SwappedRecordsFail) {
  sql("UPDATE audit_log SET sequence=-4 WHERE sequence=4; UPDATE audit_log SET sequence=4 WHERE "
      "sequence=5; UPDATE audit_log SET sequence=5 WHERE sequence=-4;");
  auto r = runMeshgate({"audit", "verify", "--config", config_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("FAILED at record 4"), std::string::npos) << r.out;
}

TEST_F(AuditCli, TruncationBelowASignedCheckpointFails) {
  auto c = runMeshgate({"audit", "checkpoint", "--config", config_});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.out.find("checkpoint at record 5"), std::string::npos) << c.out;
  auto ok = runMeshgate({"audit", "verify", "--config", config_});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("checkpoint at record 5"), std::string::npos) << ok.out;
  sql("DELETE FROM audit_log WHERE sequence=5;");
  auto r = runMeshgate({"audit", "verify", "--config", config_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("FAILED"), std::string::npos) << r.out;
}

// An attacker with write access to the database rewrites record 3, below the checkpoint at
// record 5, and recomputes every hash after it so that the chain is consistent again. The next
// checkpoint (signed by the CLI here, by the services every checkpoint_interval) must refuse to
// sign over the rewritten head: if it did, `audit verify`, which checks the chain against the
// newest checkpoint, would report the log intact.
TEST_F(AuditCli, ACheckpointIsNotSignedOverARewriteBelowTheLastOne) {
  ASSERT_EQ(runMeshgate({"audit", "checkpoint", "--config", config_}).exit_code, 0);
  {
    auto store = openStore();
    ASSERT_TRUE(store);
    for (int n = 6; n <= 7; ++n) ASSERT_TRUE(store->appendAudit(messageRecord(n)).ok());
    auto all = store->readAudit(1, 100);
    ASSERT_TRUE(all.ok());
    ASSERT_EQ(all->size(), 7u);
    std::string prev = (*all)[1].hash;
    std::string rewrite = "UPDATE audit_log SET sender='x@y.example' WHERE sequence=3;";
    for (size_t i = 2; i < all->size(); ++i) {
      AuditRecord r = (*all)[i];
      if (r.sequence == 3) r.sender = "x@y.example";
      r.prev_hash = prev;
      r.hash = auditRecordHash(prev, r);
      rewrite += "UPDATE audit_log SET prev_hash='" + r.prev_hash + "', hash='" + r.hash +
                 "' WHERE sequence=" + std::to_string(r.sequence) + ";";
      prev = r.hash;
    }
    sql(rewrite);
  }
  auto c = runMeshgate({"audit", "checkpoint", "--config", config_});
  EXPECT_EQ(c.exit_code, 1) << c.out;
  EXPECT_NE(c.err.find("does not extend the checkpoint at record 5: record 5: hash differs from "
                       "the signed checkpoint's head; nothing is signed"),
            std::string::npos)
      << c.err;
  auto r = runMeshgate({"audit", "verify", "--config", config_});
  EXPECT_EQ(r.exit_code, 1) << r.out;

  // The record the checkpoint signed, removed (the records after it kept): refused as well.
  sql("DELETE FROM audit_log WHERE sequence=5;");
  auto removed = runMeshgate({"audit", "checkpoint", "--config", config_});
  EXPECT_EQ(removed.exit_code, 1) << removed.out;
  EXPECT_NE(removed.err.find("checkpoint at record 5: record 5: removed"), std::string::npos)
      << removed.err;
}

TEST_F(AuditCli, ACheckpointExtendsTheLastOne) {
  ASSERT_EQ(runMeshgate({"audit", "checkpoint", "--config", config_}).exit_code, 0);
  {
    auto store = openStore();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->appendAudit(messageRecord(6)).ok());
  }
  auto c = runMeshgate({"audit", "checkpoint", "--config", config_});
  EXPECT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.out.find("checkpoint at record 6"), std::string::npos) << c.out;
  EXPECT_EQ(runMeshgate({"audit", "verify", "--config", config_}).exit_code, 0);
}

TEST_F(AuditCli, ForgedCheckpointFails) {
  ASSERT_EQ(runMeshgate({"audit", "checkpoint", "--config", config_}).exit_code, 0);
  sql("UPDATE audit_checkpoints SET head_hash='00' || substr(head_hash, 3);");
  auto r = runMeshgate({"audit", "verify", "--config", config_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("checkpoint"), std::string::npos) << r.out;
}

TEST_F(AuditCli, ShowFilters) {
  auto all = runMeshgate({"audit", "show", "--config", config_});
  EXPECT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(std::count(all.out.begin(), all.out.end(), '\n'), 5);
  auto rejects = runMeshgate({"audit", "show", "--action", "reject", "--config", config_});
  EXPECT_EQ(rejects.out,
            "2027-01-15T08:00:01Z #2 mx1.example.com Q2: from=<mallory@evil.example> "
            "to=<bob@example.com> action=reject rule=ingress.contacts-only \n");
  auto by_sender = runMeshgate({"audit", "show", "--sender", "ALICE@partner.net", "--since",
                                "1800000003", "--config", config_});
  EXPECT_EQ(std::count(by_sender.out.begin(), by_sender.out.end(), '\n'), 2) << by_sender.out;
  auto none = runMeshgate({"audit", "show", "--recipient", "carol@example.com", "--config", config_});
  EXPECT_TRUE(none.out.empty());
  auto bad = runMeshgate({"audit", "show", "--since", "yesterday-ish", "--config", config_});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("is not a time"), std::string::npos);
}

}  // namespace
}  // namespace meshgate

#include "tests/support/background_process.h"

namespace meshgate {
namespace {

TEST_F(AuditCli, RunningServicesCheckpointPeriodically) {
  int port = testing::freeTcpPort();
  std::string cfg = dir_.file("run.yaml");
  dir_.write("run.yaml", "gateway:\n  node: mx1.example.com\n  domains: [example.com]\n"
                         "  data_dir: " + dir_.path() + "\n  key_file: " +
                             dir_.file("keys/gateway.key") + "\nstore:\n  sqlite:\n    path: " +
                             dir_.file("store.db") +
                             "\nmilter:\n  enabled: false\nmesh_service:\n  enabled: false\n"
                             "policyd:\n  listen: 127.0.0.1:" + std::to_string(port) +
                             "\naudit:\n  checkpoint_interval: 1s\n");
  testing::BackgroundProcess server(
      {MESHGATE_BINARY, "run", "--config", cfg, "--foreground"});
  ASSERT_TRUE(server.waitForOutput("audit: checkpoint at record 5", 15000)) << server.output();
  auto r = runMeshgate({"audit", "verify", "--config", cfg});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("checkpoint at record 5"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace meshgate
