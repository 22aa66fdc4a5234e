# Script mode (cmake -P), run at build time by keel_embed_web_assets() in
# apps/common/CMakeLists.txt: writes OUTPUT, a C++ file that defines
#   std::span<const keel::apps::WebAsset> keel::apps::SYMBOL()
# with the bytes of each file of FILES ('|'-separated paths), named by its
# file name. The pages thus ship inside the binary: nothing to install, and a
# page always matches the server that serves it.
if(NOT OUTPUT OR NOT SYMBOL OR NOT FILES)
  message(FATAL_ERROR "embed_web_assets.cmake: OUTPUT, SYMBOL and FILES are required")
endif()
string(REPLACE "|" ";" files "${FILES}")

set(arrays "")
set(entries "")
set(i 0)
foreach(f IN LISTS files)
  get_filename_component(name "${f}" NAME)
  file(READ "${f}" hex HEX)
  string(LENGTH "${hex}" hex_length)
  math(EXPR size "${hex_length} / 2")
  # One line of bytes (CMake regexes have no {n} to wrap them); a trailing 0
  # keeps an empty file's array legal.
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND arrays "// ${name}\nconst unsigned char asset_${i}[] = {\n    ${bytes}0};\n")
  string(APPEND entries "      {\"${name}\", std::string_view(reinterpret_cast<const char*>(asset_${i}), ${size})},\n")
  math(EXPR i "${i} + 1")
endforeach()

set(text "// Generated at build time by apps/common/embed_web_assets.cmake: do not edit.
#include \"common/web_assets.hpp\"

namespace {

${arrays}
}  // namespace

namespace keel::apps {

std::span<const WebAsset> ${SYMBOL}() {
  static const WebAsset assets[] = {
${entries}  };
  return assets;
}

}  // namespace keel::apps
")

# Rewrite only on change, so that an unchanged asset set compiles nothing.
set(old "")
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUTPUT}" "${text}")
endif()
