# libFuzzer targets: every tests/fuzz/fuzz_<name>.cc becomes the executable fuzz_<name>, linked
# against the core. scripts/fuzz runs each from its corpus tests/fuzz/corpus/<name>/.
file(GLOB MESHGATE_FUZZ_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/fuzz_*.cc)
foreach(src ${MESHGATE_FUZZ_SOURCES})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_link_libraries(${name} PRIVATE meshgate_core)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  meshgate_warnings(${name})
endforeach()
