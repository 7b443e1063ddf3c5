// NAME
//   postgres_store.h - the shared store: one PostgreSQL database used by several meshgate nodes.
//
// SYNOPSIS
//   auto store = openPostgresStore({.dsn = "host=db port=5432 dbname=meshgate user=meshgate",
//                                   .pool_size = 8});
//
// DESCRIPTION
//   A pool of up to pool_size libpq connections, opened on demand. Every statement is prepared
//   once per connection (PQprepare) and then executed with bound parameters (PQexecPrepared):
//   one round trip per query. Transactions run at READ COMMITTED; what must be serialized
//   across nodes is serialized on rows: the audit chain head is read FOR UPDATE, the catalog
//   sequence is advanced with UPDATE ... RETURNING, counters are INSERT ... ON CONFLICT DO
//   UPDATE ... RETURNING, nonces and claims INSERT ... ON CONFLICT.
//
//   When the server goes away (restart, failover, network), the call that notices gets
//   kUnavailable; the broken connection and every idle one are dropped, and the next call
//   connects anew. Calls are never retried behind the caller's back: a write whose COMMIT
//   outcome is unknown must be reported as not done.
//
//   Why libpq and not Poco::Data::PostgreSQL (which issue 4 names): Poco 1.11's connector
//   (Debian 12) prepares a uniquely named server-side statement for every execution and
//   DEALLOCATEs it afterwards (seen with log_statement=all: PARSE/EXECUTE/DEALLOCATE for each
//   query), so findContact - one lookup per RCPT on the hot path - would cost three round
//   trips instead of one; and it reports the SQLSTATE only inside an exception's message text,
//   where this store needs it to tell a lost connection (kUnavailable) from a unique violation
//   (kAlreadyExists) or bad input (kInvalidArgument). libpq is already linked through the
//   connector's own dependency.
//
// THREAD SAFETY
//   The returned Store is safe for concurrent use from many threads.
//
// ERRORS
//   openPostgresStore: kUnavailable when the server cannot be reached, kFailedPrecondition
//   when the database's schema is newer than this code. Calls: kUnavailable when the server is
//   unreachable, the connection broke, every pooled connection stayed busy beyond
//   acquire_timeout, or a lock or statement timeout expired; otherwise as in
//   gateway/ports/store.h.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "gateway/ports/store.h"
#include "gateway/util/status.h"

namespace meshgate::store {

struct PostgresStoreOptions {
  std::string dsn;  // libpq connection string or URI
  int pool_size = 8;
  // How long a call waits for a free pooled connection.
  std::chrono::milliseconds acquire_timeout{5000};
  // Row-lock waits and whole statements beyond these fail with kUnavailable instead of holding
  // up a mail transaction past Postfix's timeouts.
  std::chrono::milliseconds lock_timeout{5000};
  std::chrono::milliseconds statement_timeout{10000};
  // Client-side bounds (a hung server never answers, so server-side timeouts cannot help):
  // how long one query may wait for its result, and a connection attempt for the server. A
  // caller's Deadline (gateway/ports/deadline.h) shortens both.
  std::chrono::milliseconds query_timeout{10000};
  std::chrono::milliseconds connect_timeout{5000};
  // Tests only: stop migrating at this schema version (0 = the latest).
  int schema_version = 0;
};

Result<std::unique_ptr<Store>> openPostgresStore(const PostgresStoreOptions& options);

}  // namespace meshgate::store
