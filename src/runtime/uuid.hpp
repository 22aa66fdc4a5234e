#pragma once

#include <string>

namespace keel::detail {

// A random (version 4) UUID in its canonical text form.
std::string new_uuid();

}  // namespace keel::detail
