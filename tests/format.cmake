# The `format` test: every C++ file of src/, tests/ and bench/src is laid out as .clang-format
# says (clang-format --dry-run --Werror). Run as cmake -DCLANG_FORMAT=... -DSOURCE_DIR=... -P.
# To fix what it reports: clang-format -i <file>.
if(NOT CLANG_FORMAT)
  message(FATAL_ERROR "clang-format is not installed (scripts/deps test installs it)")
endif()
file(GLOB_RECURSE files
  ${SOURCE_DIR}/src/*.cpp ${SOURCE_DIR}/src/*.hpp
  ${SOURCE_DIR}/tests/*.cpp ${SOURCE_DIR}/tests/*.hpp
  ${SOURCE_DIR}/bench/src/*.cpp ${SOURCE_DIR}/bench/src/*.hpp)
list(FILTER files EXCLUDE REGEX "/node_modules/")
list(LENGTH files count)
execute_process(COMMAND ${CLANG_FORMAT} --dry-run --Werror ${files} RESULT_VARIABLE failed)
if(failed)
  message(FATAL_ERROR "some files are not formatted as .clang-format says (above); clang-format -i fixes them")
endif()
message(STATUS "${count} files formatted as .clang-format says")
