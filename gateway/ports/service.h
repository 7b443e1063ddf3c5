// NAME
//   service.h - the interface every long-running front-end implements (milter, Mesh service,
//   Postfix policy service), so that `meshgate run` can start, reload and stop them alike.
//
// DESCRIPTION
//   start() opens sockets and starts threads; it returns an error without side effects left
//   behind when it cannot (port in use, bad socket path). reload() receives a new, already
//   validated configuration and swaps it in without dropping connections; a service that cannot
//   apply a change live (a new listen address) keeps running on the old one and says so in its
//   returned Status. stop() closes listeners, lets in-flight requests finish (bounded), and
//   returns; it may be called once, after start() succeeded.
//
// THREAD SAFETY
//   start/reload/stop are called from the supervising thread only.
#pragma once

#include <memory>
#include <string>

#include "gateway/config/config.h"
#include "gateway/util/status.h"

namespace meshgate {

class Service {
 public:
  virtual ~Service() = default;
  virtual std::string name() const = 0;  // "milter", "policy", "policyd"
  virtual Status start(std::shared_ptr<const config::Config> config) = 0;
  virtual Status reload(std::shared_ptr<const config::Config> config) = 0;
  virtual void stop() = 0;
};

}  // namespace meshgate
