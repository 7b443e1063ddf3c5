// NAME
//   listen_socket.h - TCP listening sockets that fail to start when their port is taken.
//
// DESCRIPTION
//   Poco's ServerSocket(address, backlog) constructors set SO_REUSEPORT along with
//   SO_REUSEADDR. With SO_REUSEPORT, a second listener of the same user that sets it too -
//   another meshgate, or Postfix's master and smtp-sink, which always do - binds the same port
//   without an error, and the kernel splits the incoming connections between the two: a port
//   written into two configurations would send some clients to the wrong server, silently.
//   listenExclusively() keeps SO_REUSEADDR (a restart binds at once, past connections still in
//   TIME_WAIT) and leaves SO_REUSEPORT off, so a port in use is an error at start.
#pragma once

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>

namespace meshgate::policy {

// Binds `socket` (a ServerSocket or SecureServerSocket made without an address) and listens.
// Throws Poco::Net::NetException (e.g. "Address already in use") as Poco's constructors do.
inline void listenExclusively(Poco::Net::ServerSocket& socket,
                              const Poco::Net::SocketAddress& address, int backlog) {
  socket.bind(address, /*reuseAddress=*/true, /*reusePort=*/false);
  socket.listen(backlog);
}

}  // namespace meshgate::policy
