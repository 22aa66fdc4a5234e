# The API reference: runs Doxygen with the Doxyfile at the top of the source
# tree (the public headers' `///` comments) and fails on any warning, and on
# an undocumented class or enumerator that Doxygen lets pass (see below). Used
# by the docs.reference test (tests/docs/CMakeLists.txt) and by `make docs`.
#
#   cmake -D DOXYGEN=<doxygen> -D SOURCE_DIR=<repository> -D OUTPUT_DIR=<dir>
#         [-D EXTRA_INPUT=<dir of generated headers>] [-D VERSION=<x.y.z>]
#         -P tests/docs/reference.cmake
#
# Writes OUTPUT_DIR/html (the reference) and OUTPUT_DIR/xml (read here).
# EXTRA_INPUT (e.g. <build>/include/keel, which holds the generated
# keel/version.hpp) is documented too when it exists; VERSION defaults to
# KEEL_VERSION_STRING of its version.hpp.
cmake_minimum_required(VERSION 3.20)

if(NOT DOXYGEN OR NOT EXISTS "${DOXYGEN}")
  message(FATAL_ERROR "docs: doxygen not found (DOXYGEN='${DOXYGEN}'). Install Debian's doxygen "
                      "(scripts/install-deps.sh, or apt-get install doxygen), then configure again.")
endif()
foreach(required SOURCE_DIR OUTPUT_DIR)
  if(NOT ${required})
    message(FATAL_ERROR "docs: -D ${required}=... is required")
  endif()
endforeach()

set(extra_input "")
if(EXTRA_INPUT AND IS_DIRECTORY "${EXTRA_INPUT}")
  set(extra_input "${EXTRA_INPUT}")
  if(NOT VERSION AND EXISTS "${EXTRA_INPUT}/version.hpp")
    file(STRINGS "${EXTRA_INPUT}/version.hpp" line REGEX "#define KEEL_VERSION_STRING \"[^\"]*\"")
    string(REGEX REPLACE ".*\"([^\"]*)\".*" "\\1" VERSION "${line}")
  endif()
endif()

# The Doxyfile reads these (Doxygen expands $(VAR) from the environment).
set(ENV{KEEL_DOCS_OUT} "${OUTPUT_DIR}")
set(ENV{KEEL_DOCS_EXTRA_INPUT} "${extra_input}")
set(ENV{KEEL_VERSION} "${VERSION}")
file(REMOVE_RECURSE "${OUTPUT_DIR}/html" "${OUTPUT_DIR}/xml")  # no stale pages
file(MAKE_DIRECTORY "${OUTPUT_DIR}")
execute_process(COMMAND "${DOXYGEN}" Doxyfile WORKING_DIRECTORY "${SOURCE_DIR}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
# WARN_AS_ERROR = FAIL_ON_WARNINGS makes Doxygen exit non-zero on a warning;
# anything else it prints on stderr (a configuration problem) fails too.
if(NOT rc EQUAL 0 OR NOT err STREQUAL "")
  message(FATAL_ERROR "docs: doxygen failed (exit ${rc}); every warning is an error:\n${out}${err}")
endif()

# Doxygen lets two things pass that the reference must not: a class without
# members of its own (the error classes) and an enumerator, each without a
# description. Checked in the XML output: a compound's own <briefdescription>
# and <detaileddescription> are the last ones in its file.
file(GLOB compounds "${OUTPUT_DIR}/xml/class*.xml" "${OUTPUT_DIR}/xml/struct*.xml"
     "${OUTPUT_DIR}/xml/union*.xml")
file(GLOB namespaces "${OUTPUT_DIR}/xml/namespace*.xml")
if(NOT compounds)
  message(FATAL_ERROR "docs: doxygen wrote no class to ${OUTPUT_DIR}/xml")
endif()
set(ws "[ \t\r\n]*")
set(undocumented "")
foreach(xml_file IN LISTS compounds namespaces)
  file(READ "${xml_file}" xml)
  string(REGEX MATCH "<compoundname>([^<]*)</compoundname>" unused "${xml}")
  set(name "${CMAKE_MATCH_1}")
  string(REGEX MATCH "<location file=\"([^\"]*)\" line=\"([0-9]+)\"" unused "${xml}")
  set(where "${CMAKE_MATCH_1}:${CMAKE_MATCH_2}")
  if(xml_file IN_LIST compounds)
    string(FIND "${xml}" "<briefdescription>" begin REVERSE)
    string(FIND "${xml}" "</detaileddescription>" end REVERSE)
    math(EXPR length "${end} - ${begin}")
    string(SUBSTRING "${xml}" ${begin} ${length} description)
    string(REGEX REPLACE "</?(briefdescription|detaileddescription)>|[ \t\r\n]" "" description "${description}")
    if(description STREQUAL "")
      string(APPEND undocumented "${where}: ${name} has no `///` description\n")
    endif()
  endif()
  string(REGEX MATCHALL "<name>[^<]*</name>${ws}(<initializer>[^<]*</initializer>${ws})?<briefdescription>${ws}</briefdescription>${ws}<detaileddescription>${ws}</detaileddescription>${ws}</enumvalue>"
         bare_enumerators "${xml}")
  foreach(enumerator IN LISTS bare_enumerators)
    string(REGEX MATCH "<name>([^<]*)</name>" unused "${enumerator}")
    string(APPEND undocumented "${name}: enumerator ${CMAKE_MATCH_1} has no `///<` description\n")
  endforeach()
endforeach()
if(NOT undocumented STREQUAL "")
  message(FATAL_ERROR "docs: undocumented names:\n${undocumented}")
endif()

list(LENGTH compounds count)
message(STATUS "docs: ${OUTPUT_DIR}/html/index.html, ${count} classes, no warning")
