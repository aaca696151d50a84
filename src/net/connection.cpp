#include "net/connection.hpp"

namespace parley::net {

void Connection::enqueue_shared(const std::shared_ptr<const std::string>& events) {
  std::string_view rest(*events);
  for (auto nl = rest.find('\n'); nl != std::string_view::npos; nl = rest.find('\n')) {
    enqueue(rest.substr(0, nl));
    rest.remove_prefix(nl + 1);
  }
  enqueue(rest);
}

bool Connection::flush_into(SendBatch&) {
  flush();
  return false;
}

void Connection::sent(std::int64_t, std::size_t) {}

const std::string& Connection::peer_address() const noexcept {
  static const std::string local = "local";
  return local;
}

}  // namespace parley::net
