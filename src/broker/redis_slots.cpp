#include "broker/redis_slots.hpp"

#include <charconv>

namespace parley::broker {

std::uint16_t crc16(std::string_view data) noexcept {
  // CRC16/XMODEM (polynomial 0x1021, initial value 0), as in Redis's crc16.c.
  std::uint16_t crc = 0;
  for (const char ch : data) {
    crc ^= static_cast<std::uint16_t>(static_cast<unsigned char>(ch) << 8);
    for (int i = 0; i < 8; ++i)
      crc =
          (crc & 0x8000) != 0 ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021) : static_cast<std::uint16_t>(crc << 1);
  }
  return crc;
}

std::uint16_t key_slot(std::string_view key) noexcept {
  if (const auto open = key.find('{'); open != std::string_view::npos) {
    const auto close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) key = key.substr(open + 1, close - open - 1);
  }
  return crc16(key) & (kClusterSlots - 1);
}

std::optional<std::vector<SlotRange>> parse_cluster_slots(const RedisReply& reply, const std::string& seed_host) {
  if (reply.type != RedisReply::Type::array) return std::nullopt;
  std::vector<SlotRange> out;
  for (const auto& e : reply.elements) {
    if (e.type != RedisReply::Type::array || e.elements.size() < 3) return std::nullopt;
    const auto& node = e.elements[2];
    if (node.type != RedisReply::Type::array || node.elements.size() < 2) return std::nullopt;
    const long long first = e.elements[0].integer, last = e.elements[1].integer;
    if (first < 0 || last < first || last >= kClusterSlots) return std::nullopt;
    SlotRange r;
    r.first = static_cast<std::uint16_t>(first);
    r.last = static_cast<std::uint16_t>(last);
    const std::string& host = node.elements[0].str;
    r.primary = (host.empty() || host == "?" ? seed_host : host) + ':' + std::to_string(node.elements[1].integer);
    if (node.elements.size() >= 3) r.node_id = node.elements[2].str;
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<Redirect> parse_redirect(std::string_view error) {
  Redirect r;
  if (error.starts_with("MOVED "))
    error.remove_prefix(6);
  else if (error.starts_with("ASK ")) {
    error.remove_prefix(4);
    r.ask = true;
  } else
    return std::nullopt;
  const auto space = error.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const auto res = std::from_chars(error.data(), error.data() + space, r.slot);
  if (res.ec != std::errc() || res.ptr != error.data() + space || r.slot >= kClusterSlots) return std::nullopt;
  r.target = std::string(error.substr(space + 1));
  if (r.target.empty() || r.target.find(':') == std::string::npos) return std::nullopt;
  return r;
}

}  // namespace parley::broker
