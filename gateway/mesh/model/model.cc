// model.cc - the Mesh data model library (generated sources are added by codegen.cmake).
namespace meshgate::mesh {}
