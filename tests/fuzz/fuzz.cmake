# libFuzzer targets: every tests/fuzz/fuzz_<name>.cc becomes the executable fuzz_<name>, linked
# against the core. scripts/fuzz runs each from its corpus tests/fuzz/corpus/<name>/.
file(GLOB MESHGATE_FUZZ_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/fuzz_*.cc)
foreach(src ${MESHGATE_FUZZ_SOURCES})
  get_filename_component(name ${src} NAME_WE)
  set(extra "")
  # The policy protocol parser lives in the front-end library; it depends on the core only.
  if(name STREQUAL "fuzz_policy_protocol")
    set(extra ${PROJECT_SOURCE_DIR}/policy/policyd/policy_protocol.cc)
  endif()
  add_executable(${name} ${src} ${extra})
  target_link_libraries(${name} PRIVATE meshgate_core)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  meshgate_warnings(${name})
endforeach()
