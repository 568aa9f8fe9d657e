# FindCAF.cmake -- locate the C++ Actor Framework 0.17 (Debian's libcaf-dev).
#
# Debian ships CAF 0.17.6 without a CMake config package, so we find the
# headers and libraries by hand and wrap them in imported targets:
#   CAF::core  (libcaf_core, links Threads::Threads)
#   CAF::io    (libcaf_io, links CAF::core)
# Sets CAF_FOUND, CAF_VERSION (e.g. 0.17.6) and CAF_INCLUDE_DIR.
# Anything but 0.17.x is rejected: the API of 0.18+ differs a lot.

include(FindPackageHandleStandardArgs)
find_package(Threads REQUIRED)

find_path(CAF_INCLUDE_DIR caf/all.hpp)
find_library(CAF_CORE_LIBRARY NAMES caf_core)
find_library(CAF_IO_LIBRARY NAMES caf_io)

if(CAF_INCLUDE_DIR AND EXISTS "${CAF_INCLUDE_DIR}/caf/config.hpp")
  file(STRINGS "${CAF_INCLUDE_DIR}/caf/config.hpp" _caf_ver_line
       REGEX "^#define CAF_VERSION [0-9]+")
  string(REGEX REPLACE "^#define CAF_VERSION ([0-9]+).*" "\\1" _caf_num
         "${_caf_ver_line}")
  math(EXPR _caf_major "${_caf_num} / 10000")
  math(EXPR _caf_minor "(${_caf_num} / 100) % 100")
  math(EXPR _caf_patch "${_caf_num} % 100")
  set(CAF_VERSION "${_caf_major}.${_caf_minor}.${_caf_patch}")
endif()

find_package_handle_standard_args(CAF
  REQUIRED_VARS CAF_INCLUDE_DIR CAF_CORE_LIBRARY CAF_IO_LIBRARY
  VERSION_VAR CAF_VERSION)

if(CAF_FOUND)
  if(NOT CAF_VERSION VERSION_GREATER_EQUAL 0.17 OR CAF_VERSION VERSION_GREATER_EQUAL 0.18)
    message(FATAL_ERROR "registrar-core needs CAF 0.17.x, found ${CAF_VERSION} "
                        "(${CAF_INCLUDE_DIR})")
  endif()
  if(NOT TARGET CAF::core)
    add_library(CAF::core UNKNOWN IMPORTED)
    set_target_properties(CAF::core PROPERTIES
      IMPORTED_LOCATION "${CAF_CORE_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES Threads::Threads)
    add_library(CAF::io UNKNOWN IMPORTED)
    set_target_properties(CAF::io PROPERTIES
      IMPORTED_LOCATION "${CAF_IO_LIBRARY}"
      INTERFACE_LINK_LIBRARIES CAF::core)
  endif()
endif()
mark_as_advanced(CAF_INCLUDE_DIR CAF_CORE_LIBRARY CAF_IO_LIBRARY)
