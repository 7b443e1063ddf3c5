# null_milter: the baseline milter for bench/milter_bench.sh (adds one header, nothing else).
#   build/release/bench/null_milter unix:/path/milter.sock
add_executable(null_milter ${CMAKE_CURRENT_LIST_DIR}/null_milter.c)
target_include_directories(null_milter PRIVATE ${MILTER_INCLUDE_DIR})
target_link_libraries(null_milter PRIVATE ${MILTER_LIBRARY} Threads::Threads)
target_compile_options(null_milter PRIVATE -Wall -Wextra -Werror -Wpedantic)
