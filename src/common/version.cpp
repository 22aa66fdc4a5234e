#include "keel/version.hpp"

namespace keel {

const char* version() noexcept { return KEEL_VERSION_STRING; }

}  // namespace keel
