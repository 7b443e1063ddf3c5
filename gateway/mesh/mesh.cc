// mesh.cc - placeholder so the library has a source until UDF/keys/DARE land.
namespace meshgate::mesh {}
