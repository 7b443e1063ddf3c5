// NAME
//   store_factory.h - opens the store the configuration names.
//
// SYNOPSIS
//   MESHGATE_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, store::openStore(config.store));
//
// DESCRIPTION
//   store.backend sqlite -> openSqliteStore(store.sqlite.path, store.sqlite.busy_timeout);
//   postgresql -> openPostgresStore(store.postgresql.dsn, store.postgresql.pool_size). Either
//   way the schema is migrated to the latest version before the store is returned.
//
// THREAD SAFETY
//   openStore may be called from any thread; the Store it returns is thread-safe.
//
// ERRORS
//   Those of openSqliteStore / openPostgresStore, with the backend named in the message.
#pragma once

#include <memory>

#include "gateway/config/config.h"
#include "gateway/ports/store.h"
#include "gateway/util/status.h"

namespace meshgate::store {

Result<std::unique_ptr<Store>> openStore(const config::StoreSection& section);

}  // namespace meshgate::store
