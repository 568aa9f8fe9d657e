# Fails when any file under core/ includes a CAF header. Run at build time
# (target check_core_pure, a dependency of regcore_core) and as a ctest.
#   cmake -DCORE_DIR=<path> -P CheckCorePure.cmake
file(GLOB_RECURSE _files "${CORE_DIR}/*.hpp" "${CORE_DIR}/*.cpp" "${CORE_DIR}/*.h")
set(_bad "")
foreach(_f ${_files})
  file(STRINGS "${_f}" _hits REGEX "#[ \t]*include[ \t]*[<\"]caf/")
  if(_hits)
    list(APPEND _bad "${_f}: ${_hits}")
  endif()
endforeach()
if(_bad)
  message(FATAL_ERROR "core/ must stay pure C++ (no CAF), but:\n${_bad}")
endif()
