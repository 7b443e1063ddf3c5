# content_bench: every content check (payment, impersonation, egress, too-stupid) on a typical
# 20 KB multipart message, against parsing the message alone (the baseline), in one run.
#   build/release/bench/content_bench [--seconds S]
add_executable(content_bench ${CMAKE_CURRENT_LIST_DIR}/content_bench.cc)
target_link_libraries(content_bench PRIVATE meshgate_decision)
target_include_directories(content_bench PRIVATE ${PROJECT_SOURCE_DIR})
meshgate_warnings(content_bench)
