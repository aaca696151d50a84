// A libFuzzer binary for one entry point of fuzz_targets.hpp, chosen with -DPARLEY_FUZZ_ENTRY=<name>.
#include "fuzz_targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return parley::fuzz::PARLEY_FUZZ_ENTRY(data, size);
}
