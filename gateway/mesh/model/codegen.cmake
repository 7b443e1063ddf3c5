# codegen.cmake - generates the Mesh data model (structs + JSON codec) from mesh.schema at build
# time, into ${PROJECT_BINARY_DIR}/generated/meshgate/ (reachable as "meshgate/mesh_model.h"),
# and adds the generated sources to meshgate_mesh_model. See docs/mesh-data-model.md.
set(MESHGATE_MODEL_SCHEMA ${CMAKE_CURRENT_LIST_DIR}/mesh.schema)
set(MESHGATE_MODEL_GENERATOR ${CMAKE_CURRENT_LIST_DIR}/generate_model.py)
# The codec is split so that two cores compile it in parallel.
set(MESHGATE_MODEL_CC_FILES 4)

set(_model_out ${PROJECT_BINARY_DIR}/generated/meshgate)
set(_model_headers ${_model_out}/mesh_model.h ${_model_out}/mesh_model_codec.h)
set(_model_sources ${_model_out}/mesh_model_types.cc)
math(EXPR _model_last "${MESHGATE_MODEL_CC_FILES} - 1")
foreach(_i RANGE ${_model_last})
  list(APPEND _model_sources ${_model_out}/mesh_model_codec_${_i}.cc)
endforeach()

add_custom_command(
  OUTPUT ${_model_headers} ${_model_sources}
  COMMAND Python3::Interpreter ${MESHGATE_MODEL_GENERATOR} --schema ${MESHGATE_MODEL_SCHEMA}
          --out-dir ${_model_out} --cc-files ${MESHGATE_MODEL_CC_FILES}
  DEPENDS ${MESHGATE_MODEL_SCHEMA} ${MESHGATE_MODEL_GENERATOR}
  COMMENT "Generating the Mesh data model from mesh.schema"
  VERBATIM)

# Targets that include the header (anything linking meshgate_mesh_model) must not compile before
# it exists: they depend on this target through meshgate_mesh_model.
add_custom_target(meshgate_mesh_model_generated DEPENDS ${_model_headers} ${_model_sources})
target_sources(meshgate_mesh_model PRIVATE ${_model_headers} ${_model_sources})
add_dependencies(meshgate_mesh_model meshgate_mesh_model_generated)

# Full debug information for ~10k lines of generated, template-heavy code costs more compile time
# than anything else in the library; line tables (-g1) keep stack traces and ASan reports
# readable.
set_source_files_properties(${_model_sources} PROPERTIES
  COMPILE_OPTIONS "$<$<CONFIG:Debug,RelWithDebInfo>:-g1>")
