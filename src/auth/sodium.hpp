#pragma once
// libsodium's one-time start-up (sodium_init: it picks the fastest implementations and opens the
// system's random source). Every function of auth/ that uses libsodium calls ensure_sodium()
// first, so a caller never has to.
//
// Threads: any; the first call initialises, every other returns at once (a function-local static).

namespace parley::auth {

// Initialises libsodium once. Throws std::runtime_error if it cannot (no random source): nothing
// in auth/ can run safely without it, so this is a start-up error.
void ensure_sodium();

}  // namespace parley::auth
