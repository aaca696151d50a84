# RedisClient contract test (included from tests/contract/CMakeLists.txt). Starts a real
# redis-server on a free loopback port per test case; skips when redis-server is not installed.
# Needs the library target that compiles src/broker/redis_client.cpp (parley_broker). The test
# also uses hiredis's blocking API to look at the server from outside the client.
find_program(PARLEY_REDIS_SERVER redis-server)
if(NOT PARLEY_REDIS_SERVER)
  set(PARLEY_REDIS_SERVER "")
endif()
if(NOT TARGET PkgConfig::HIREDIS)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
endif()
add_executable(redis_client_test ${CMAKE_CURRENT_LIST_DIR}/redis_client_test.cpp)
target_link_libraries(redis_client_test PRIVATE parley_broker PkgConfig::HIREDIS GTest::gtest_main)
target_compile_definitions(redis_client_test PRIVATE PARLEY_REDIS_SERVER="${PARLEY_REDIS_SERVER}")
gtest_discover_tests(redis_client_test PROPERTIES LABELS contract TIMEOUT 120)
