// store_factory.cc - config::StoreSection -> the Store it names.
#include "policy/store/store_factory.h"

#include "policy/store/postgres_store.h"
#include "policy/store/sqlite_store.h"

namespace meshgate::store {

Result<std::unique_ptr<Store>> openStore(const config::StoreSection& section) {
  switch (section.backend) {
    case config::StoreBackend::kSqlite:
      return openSqliteStore({section.sqlite.path, section.sqlite.busy_timeout});
    case config::StoreBackend::kPostgresql: {
      PostgresStoreOptions options;
      options.dsn = section.postgresql.dsn;
      options.pool_size = section.postgresql.pool_size;
      return openPostgresStore(options);
    }
  }
  return invalidArgument("store.backend: unknown backend");
}

}  // namespace meshgate::store
