# Run at every build (platform/CMakeLists.txt): writes OUT, a source that
# returns `git describe` of SOURCE_DIR, only when it changed, so that a
# record names the code that made it even after commits since configure.
execute_process(
  COMMAND git describe --always --dirty --abbrev=12
  WORKING_DIRECTORY ${SOURCE_DIR}
  OUTPUT_VARIABLE revision
  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT revision)
  set(revision "unknown")
endif()
set(text "// Written by cmake/revision.cmake at build time.
namespace pasidbench {
const char* build_revision() { return \"${revision}\"; }
}  // namespace pasidbench
")
set(old "")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT old STREQUAL text)
  file(WRITE ${OUT} "${text}")
endif()
