# Debian packages (cpack -G DEB, or `make package` in the build folder), one
# per install component:
#   libkeel<soversion>  the shared library       (runtime)
#   libkeel-dev         headers, CMake package, pkg-config file, the .so link (dev)
#   keel-tools          the keel command          (tools)
# The library's and the tool's Depends on Debian's libraries are computed by
# dpkg-shlibdeps from what they link; libkeel-dev adds the header-only
# nlohmann-json3-dev its headers include.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME keel)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "The Keel developers")
set(CPACK_PACKAGE_CONTACT "Keel developers <keel@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev tools)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# keel-tools links libkeel, which is in none of the system's packages yet:
# dpkg-shlibdeps finds it in the build tree (its Depends comes from
# CPACK_COMPONENT_TOOLS_DEPENDS instead).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR}/src)  # libkeel.so.* is built there
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)

set(KEEL_RUNTIME_PACKAGE libkeel${KEEL_SOVERSION})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME ${KEEL_RUNTIME_PACKAGE})
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION "Keel, durable workflows for C++: the shared library")
# Schedules in a named time zone read /usr/share/zoneinfo (docs/schedules.md);
# UTC ones need nothing.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_RECOMMENDS tzdata)

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libkeel-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${KEEL_RUNTIME_PACKAGE} (= ${PROJECT_VERSION}), nlohmann-json3-dev")
set(CPACK_COMPONENT_DEV_DESCRIPTION "Keel, durable workflows for C++: headers, CMake package and pkg-config file")

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME keel-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION utils)
set(CPACK_COMPONENT_TOOLS_DEPENDS runtime)
set(CPACK_COMPONENT_TOOLS_DESCRIPTION "Keel, durable workflows for C++: the keel command (list, inspect, cancel workflows)")

include(CPack)
