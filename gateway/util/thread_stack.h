// NAME
//   thread_stack.h - the stack size of threads created with default attributes.
//
// DESCRIPTION
//   Libraries that start their own threads (libmilter: one per MTA connection) use the
//   process default, which this sets (pthread_setattr_default_np). Why the services use a
//   smaller one than glibc's 8 MiB: cli/service_host.h, kThreadStackBytes.
#pragma once

#include <cstddef>

#include "gateway/util/status.h"

namespace meshgate {

// Threads created after this with default attributes get `bytes` of stack.
Status setDefaultThreadStackSize(size_t bytes);

// The stack size a thread created now with default attributes would get.
Result<size_t> defaultThreadStackSize();

}  // namespace meshgate
