// mail.cc - placeholder so the library has a source until the mail parsers land.
namespace meshgate::mail {}
