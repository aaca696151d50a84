#include "auth/sodium.hpp"

#include <sodium.h>

#include <stdexcept>

namespace parley::auth {

void ensure_sodium() {
  // sodium_init() returns 0 when it initialised, 1 when it already had, -1 on failure; a static's
  // initialiser runs once even when several threads come first at the same time.
  static const int result = sodium_init();
  if (result < 0) throw std::runtime_error("libsodium could not be initialised (sodium_init failed)");
}

}  // namespace parley::auth
