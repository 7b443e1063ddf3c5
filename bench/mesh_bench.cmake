# mesh_bench: UDF digest and DARE seal/verify/open against the bare OpenSSL EVP calls they wrap.
# Run through bench/mesh_bench.sh, which adds `openssl dgst -sha512` on the same data.
add_executable(mesh_bench ${CMAKE_CURRENT_LIST_DIR}/mesh_bench.cc)
target_link_libraries(mesh_bench PRIVATE meshgate_mesh OpenSSL::Crypto)
target_include_directories(mesh_bench PRIVATE ${PROJECT_SOURCE_DIR})
meshgate_warnings(mesh_bench)
