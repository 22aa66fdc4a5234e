// keel::version() and the generated keel/version.hpp agree with each other
// and with the project's version (passed by CMake as KEEL_PROJECT_VERSION).
#include "keel/version.hpp"

#include <gtest/gtest.h>

#include <string>

TEST(Version, TheLibraryAndTheHeadersSayTheProjectsVersion) {
  EXPECT_EQ(std::string(keel::version()), KEEL_VERSION_STRING);
  EXPECT_EQ(std::string(KEEL_VERSION_STRING), KEEL_PROJECT_VERSION);
  EXPECT_EQ(std::to_string(KEEL_VERSION_MAJOR) + "." + std::to_string(KEEL_VERSION_MINOR) + "." +
                std::to_string(KEEL_VERSION_PATCH),
            KEEL_VERSION_STRING);
}
