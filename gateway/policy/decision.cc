// decision.cc - placeholder so the library has a source until the decision chain lands.
namespace meshgate::policy {}
