# policyd_bench: a Postfix policy protocol load generator with persistent connections; run by
# bench/policyd_bench.sh against `meshgate policyd` and postfwd2 side by side.
#   bench/policyd_bench.sh build/release
add_executable(policyd_bench ${CMAKE_CURRENT_LIST_DIR}/policyd_bench.cc)
target_link_libraries(policyd_bench PRIVATE Threads::Threads)
meshgate_warnings(policyd_bench)
