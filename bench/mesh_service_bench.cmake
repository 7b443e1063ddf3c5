# mesh_service_bench: requests/s and p99 of the Mesh service over keep-alive HTTPS (Hello, Get by
# Account with 100,000 accounts), against a trivial Poco HTTPRequestHandler on the same server
# settings in the same run; SQLite and PostgreSQL.
#   build/release/bench/mesh_service_bench [--accounts N] [--seconds S] [--rounds R] [--connections C] [--pg DSN]
# PostgreSQL runs when --pg or MESHGATE_TEST_PG_DSN names a server (scripts/pg-test-server).
add_executable(mesh_service_bench ${CMAKE_CURRENT_LIST_DIR}/mesh_service_bench.cc)
target_link_libraries(mesh_service_bench PRIVATE meshgate_policy PostgreSQL::PostgreSQL)
target_include_directories(mesh_service_bench PRIVATE ${PROJECT_SOURCE_DIR})
meshgate_warnings(mesh_service_bench)
