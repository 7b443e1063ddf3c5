# store_bench: findContact and putEntry throughput with 100,000 contacts in one account, SQLite
# and PostgreSQL, each against a bare C API baseline (sqlite3 / libpq) in the same run.
#   build/release/bench/store_bench [--contacts N] [--seconds S] [--pg DSN]
# PostgreSQL runs when --pg or MESHGATE_TEST_PG_DSN names a server (scripts/pg-test-server).
add_executable(store_bench ${CMAKE_CURRENT_LIST_DIR}/store_bench.cc)
target_link_libraries(store_bench PRIVATE meshgate_policy)
target_include_directories(store_bench PRIVATE ${PROJECT_SOURCE_DIR})
meshgate_warnings(store_bench)
