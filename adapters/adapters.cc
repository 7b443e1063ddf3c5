// adapters.cc - the adapters library; its bridges land with the Bridges issue.
namespace meshgate::adapters {}
