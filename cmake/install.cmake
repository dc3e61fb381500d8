# cmake/install.cmake — installation rules beyond each part's own install():
# the DSM daemon and preload library, docs, man pages (docs/man/) and the CMake
# package mojaveConfig.cmake (find_package(mojave CONFIG) -> mojave::mojave).
# Included last by the top-level CMakeLists.txt.  Layout under the prefix:
#   bin/      mojcc mojave-run mojave-image mojaved mojave-nsd mojave-ipcs (daemons too:
#             mojaved finds mojcc beside itself for IR-mode migrations)
#   lib/      libmojave.a libmojave_ipc.so pkgconfig/mojave.pc cmake/mojave/
#   lib/mojave/MojavePasses.so   include/mojave.h include/mojave/*.h
#   share/doc/mojave/  share/man/man{1,7,8}/
include(CMakePackageConfigHelpers)

if(TARGET mojave-nsd)
  install(TARGETS mojave-nsd mojave-ipcs RUNTIME DESTINATION bin)
endif()
if(TARGET mojave_ipc)
  install(TARGETS mojave_ipc LIBRARY DESTINATION lib)
endif()

install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION share/doc/mojave)
file(GLOB _moj_docs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${_moj_docs} DESTINATION share/doc/mojave)
foreach(sec 1 7 8)
  file(GLOB _moj_man CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/man/*.${sec})
  if(NOT MOJ_BUILD_COMPILER)
    list(FILTER _moj_man EXCLUDE REGEX "/mojcc\\.1$")
  endif()
  install(FILES ${_moj_man} DESTINATION share/man/man${sec})
endforeach()

# The CMake package: relocatable (paths computed from the installed file).
set(MOJ_PKG_LIBDIR lib)
set(MOJ_PKG_INCLUDEDIR include)
set(MOJ_PKG_BINDIR bin)
set(_moj_pkg_dir ${CMAKE_CURRENT_BINARY_DIR}/cmake-package)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/mojaveConfig.cmake.in
  ${_moj_pkg_dir}/mojaveConfig.cmake
  INSTALL_DESTINATION lib/cmake/mojave
  PATH_VARS MOJ_PKG_LIBDIR MOJ_PKG_INCLUDEDIR MOJ_PKG_BINDIR)
write_basic_package_version_file(${_moj_pkg_dir}/mojaveConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${_moj_pkg_dir}/mojaveConfig.cmake ${_moj_pkg_dir}/mojaveConfigVersion.cmake
  DESTINATION lib/cmake/mojave)
