// thread_stack.cc - see thread_stack.h.
#include "gateway/util/thread_stack.h"

#include <pthread.h>

#include <cstring>
#include <string>

namespace meshgate {

Status setDefaultThreadStackSize(size_t bytes) {
  pthread_attr_t attr;
  if (int rc = pthread_getattr_default_np(&attr); rc != 0) {
    return internalError(std::string("pthread_getattr_default_np: ") + std::strerror(rc));
  }
  int rc = pthread_attr_setstacksize(&attr, bytes);
  if (rc == 0) rc = pthread_setattr_default_np(&attr);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    return invalidArgument("thread stack size " + std::to_string(bytes) + ": " + std::strerror(rc));
  }
  return Status();
}

Result<size_t> defaultThreadStackSize() {
  pthread_attr_t attr;
  if (int rc = pthread_getattr_default_np(&attr); rc != 0) {
    return internalError(std::string("pthread_getattr_default_np: ") + std::strerror(rc));
  }
  size_t bytes = 0;
  int rc = pthread_attr_getstacksize(&attr, &bytes);
  pthread_attr_destroy(&attr);
  if (rc != 0) return internalError(std::string("pthread_attr_getstacksize: ") + std::strerror(rc));
  return bytes;
}

}  // namespace meshgate
