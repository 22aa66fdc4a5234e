# Install rules (cmake --install build --prefix P):
#   P/include/keel/*.hpp                      public headers (and the generated version.hpp)
#   P/lib/libkeel.so.<soversion>, libkeel.so   the library (runtime component; the namelink: dev)
#   P/lib/cmake/keel/                         keelConfig.cmake, keelConfigVersion.cmake, keelTargets*.cmake
#   P/lib/pkgconfig/keel.pc                   for pkg-config
#   P/bin/keel                                the keel command (tools component)
# Components: runtime (libkeel0.x), dev (libkeel-dev), tools (keel-tools).
include(CMakePackageConfigHelpers)

set(KEEL_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/keel)

install(TARGETS keel EXPORT keelTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/keel ${PROJECT_BINARY_DIR}/include/keel
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev FILES_MATCHING PATTERN "*.hpp")
install(EXPORT keelTargets NAMESPACE keel:: DESTINATION ${KEEL_CMAKE_DIR} COMPONENT dev)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/keelConfig.cmake.in
  ${PROJECT_BINARY_DIR}/keelConfig.cmake INSTALL_DESTINATION ${KEEL_CMAKE_DIR})
# Before 1.0 a minor release may break compatibility (docs/compatibility.md):
# find_package(keel 0.2) accepts 0.2.x only.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(KEEL_COMPATIBILITY SameMinorVersion)
else()
  set(KEEL_COMPATIBILITY SameMajorVersion)
endif()
write_basic_package_version_file(${PROJECT_BINARY_DIR}/keelConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY ${KEEL_COMPATIBILITY})
install(FILES ${PROJECT_BINARY_DIR}/keelConfig.cmake ${PROJECT_BINARY_DIR}/keelConfigVersion.cmake
  DESTINATION ${KEEL_CMAKE_DIR} COMPONENT dev)

# Relocatable: paths are relative to the .pc file's own folder.
file(RELATIVE_PATH KEEL_PC_TO_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
configure_file(${PROJECT_SOURCE_DIR}/cmake/keel.pc.in ${PROJECT_BINARY_DIR}/keel.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/keel.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

if(TARGET keel_cli)
  install(TARGETS keel_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
endif()
