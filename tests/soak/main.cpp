// keel_soak: gtest's flags first (--gtest_filter=Slope.* runs the unit tests
// of the growth test alone), then the soak's own (soak_options.hpp). A bad
// option exits 64 with one line saying which and why.
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "soak_options.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);  // takes its own flags out of argv
  try {
    keel::soak::current_options() =
        keel::soak::parse_options(std::vector<std::string>(argv + 1, argv + argc), [](const char* name) { return std::getenv(name); });
  } catch (const keel::soak::OptionsError& e) {
    std::cerr << "keel_soak: " << e.what() << "\n";
    return 64;
  }
  return RUN_ALL_TESTS();
}
