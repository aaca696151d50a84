# RedisClient contract test (included from tests/contract/CMakeLists.txt). Starts a real
# redis-server on a free loopback port per test case; skips when redis-server is not installed.
# Needs the library target that compiles src/broker/redis_client.cpp (parley_broker), and the
# test server (tests/lib/redis_server, target parley_test_redis in CMakeLists.txt), which also
# looks at the server from outside the client with hiredis's blocking API.
add_executable(redis_client_test ${CMAKE_CURRENT_LIST_DIR}/redis_client_test.cpp)
parley_test_build(redis_client_test checked)
target_link_libraries(redis_client_test PRIVATE parley_broker parley_test_redis GTest::gtest_main)
gtest_discover_tests(redis_client_test PROPERTIES LABELS contract TIMEOUT 120)
