// Runs every fuzz entry point over the seed corpus (tests/fuzz/corpus/<target>/) and over a
// deterministic pseudo-random corpus: structured inputs (frames, JSON requests), random mutations
// of the seeds, and raw random bytes. A fixed number of inputs (default 100,000 per target) and a
// wall-clock cap (default 15 s in all) keep it bounded; a failing oracle aborts, so CTest reports it.
//
//   fuzz_smoke [--count N] [--seconds S] [--seed X] [--bytewise MAX_BYTES] [corpus_dir]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_targets.hpp"

namespace {

namespace fs = std::filesystem;

struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    s += 0x9E3779B97F4A7C15ULL;
    std::uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return n ? static_cast<std::size_t>(next() % n) : 0; }
  bool chance(int percent) { return below(100) < static_cast<std::size_t>(percent); }
  template <class T, std::size_t N>
  const T& pick(const T (&a)[N]) {
    return a[below(N)];
  }
};

// ---------------------------------------------------------------------------------------------
// Pieces of text: ASCII, valid UTF-8 of every length, and the classic invalid sequences.

const char* const kValidPieces[] = {"a",
                                    "hello",
                                    " ",
                                    "{\"type\":\"ping\"}",
                                    "\xC3\xA9",
                                    "\xE2\x82\xAC",
                                    "\xF0\x9F\x98\x80",
                                    "\xF4\x8F\xBF\xBF",
                                    "\xED\x9F\xBF",
                                    "\xEE\x80\x80",
                                    "\xC2\x80",
                                    "\n",
                                    "\\",
                                    "\""};
const char* const kInvalidPieces[] = {"\x80", "\xC0\x80", "\xE0\x80\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                                      "\xF8", "\xFF",     "\xC2",         "\xE2\x82",     "\xF0\x9F\x98"};

std::string text(Rng& r, std::size_t approx, int invalid_percent) {
  std::string s;
  while (s.size() < approx) {
    if (r.chance(invalid_percent))
      s += r.pick(kInvalidPieces);
    else
      s += r.pick(kValidPieces);
  }
  return s;
}

std::string random_bytes(Rng& r, std::size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(r.next());
  return s;
}

void mutate(Rng& r, std::string& s) {
  const int rounds = 1 + static_cast<int>(r.below(4));
  for (int i = 0; i < rounds; ++i) {
    switch (r.below(6)) {
      case 0:  // flip a bit
        if (!s.empty()) s[r.below(s.size())] ^= static_cast<char>(1u << r.below(8));
        break;
      case 1:  // replace a byte
        if (!s.empty()) s[r.below(s.size())] = static_cast<char>(r.next());
        break;
      case 2:  // truncate
        s.resize(r.below(s.size() + 1));
        break;
      case 3:  // insert random bytes
        s.insert(r.below(s.size() + 1), random_bytes(r, 1 + r.below(8)));
        break;
      case 4:  // duplicate a slice
        if (!s.empty()) {
          const std::size_t a = r.below(s.size()), n = 1 + r.below(s.size() - a);
          s.insert(r.below(s.size() + 1), s.substr(a, n));
        }
        break;
      case 5:  // erase a slice
        if (!s.empty()) {
          const std::size_t a = r.below(s.size());
          s.erase(a, 1 + r.below(s.size() - a));
        }
        break;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// WebSocket client frames

std::string frame(Rng& r, std::uint8_t op, bool fin, const std::string& payload) {
  std::string out;
  const std::uint8_t rsv = r.chance(2) ? static_cast<std::uint8_t>(1 + r.below(7)) : 0;
  out.push_back(static_cast<char>((fin ? 0x80 : 0) | (rsv << 4) | op));
  const bool masked = !r.chance(2);
  const char mbit = masked ? static_cast<char>(0x80) : 0;
  const std::uint64_t n = payload.size();
  const int form = r.chance(3) ? static_cast<int>(r.below(3)) : (n < 126 ? 0 : n <= 0xFFFF ? 1 : 2);
  if (form == 0 && n < 126) {
    out.push_back(static_cast<char>(mbit | static_cast<char>(n)));
  } else if (form <= 1 && n <= 0xFFFF) {
    out.push_back(static_cast<char>(mbit | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n));
  } else {
    out.push_back(static_cast<char>(mbit | 127));
    const std::uint64_t len = r.chance(1) ? (n | (1ULL << 63)) : n;
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(len >> (8 * i)));
  }
  char key[4];
  for (auto& k : key) k = r.chance(10) ? 0 : static_cast<char>(r.next());
  if (masked) out.append(key, 4);
  for (std::size_t i = 0; i < payload.size(); ++i)
    out.push_back(masked ? static_cast<char>(payload[i] ^ key[i & 3]) : payload[i]);
  return out;
}

std::size_t payload_size(Rng& r) {
  const std::size_t k = r.below(100);
  if (k < 70) return r.below(20);
  if (k < 90) return r.below(130);
  if (k < 99) return 100 + r.below(1200);
  return 65530 + r.below(20);
}

std::string close_payload(Rng& r) {
  static const std::uint16_t codes[] = {1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007,
                                        1011, 1015, 999,  2999, 3000, 4999, 5000, 0};
  if (r.chance(10)) return r.chance(50) ? std::string() : std::string(1, 'x');
  const std::uint16_t c = r.pick(codes);
  std::string p{static_cast<char>(c >> 8), static_cast<char>(c & 0xFF)};
  return p + text(r, r.below(40), 5).substr(0, 123);
}

std::string ws_input(Rng& r) {
  std::string out;
  out.push_back(static_cast<char>(r.next()));  // the limit
  out.push_back(static_cast<char>(r.next()));  // the chunking seed
  const int frames = 1 + static_cast<int>(r.below(8));
  bool in_message = false;
  for (int i = 0; i < frames; ++i) {
    const std::size_t k = r.below(100);
    if (k < 35) {  // a text frame or the next fragment, mostly in a legal order
      const bool fin = !r.chance(35);
      const std::uint8_t op = in_message ? (r.chance(95) ? 0x0 : 0x1) : (r.chance(95) ? 0x1 : 0x0);
      out += frame(r, op, fin, text(r, payload_size(r), 3));
      in_message = !fin;
    } else if (k < 55) {
      out += frame(r, r.chance(50) ? 0x9 : 0xA, !r.chance(3),
                   r.chance(3) ? random_bytes(r, 126) : random_bytes(r, r.below(30)));
    } else if (k < 65) {
      out += frame(r, 0x8, true, close_payload(r));
    } else if (k < 70) {
      out += frame(r, 0x2, true, random_bytes(r, r.below(10)));
    } else if (k < 73) {
      out += frame(r, static_cast<std::uint8_t>(r.pick({3, 4, 5, 6, 7, 11, 12, 13, 14, 15})), true, "x");
    } else {
      out += frame(r, in_message ? 0x0 : 0x1, true, text(r, r.below(40), 0));
      in_message = false;
    }
  }
  if (r.chance(20)) {
    std::string body = out.substr(2);
    mutate(r, body);
    out.resize(2);
    out += body;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// JSON requests

std::string json_string(Rng& r) {
  switch (r.below(8)) {
    case 0: return "\"\"";
    case 1: return "\"" + std::string(r.chance(50) ? 64 : 65, 'r') + "\"";
    case 2: return "\"\\u00e9\\ud83d\\ude00\\n\\\"\\\\\"";
    case 3: return "\"" + text(r, r.below(40), 10) + "\"";  // raw bytes, sometimes invalid UTF-8
    case 4: return "\"\\ud800\"";                           // a lone surrogate escape
    default: return "\"" + text(r, r.below(12), 0) + "\"";
  }
}

std::string json_value(Rng& r, int depth = 0) {
  static const char* const numbers[] = {"0",
                                        "1",
                                        "-1",
                                        "40",
                                        "1.5",
                                        "-0.5",
                                        "41.0",
                                        "4e1",
                                        "1e300",
                                        "-0",
                                        "18446744073709551615",
                                        "18446744073709551616",
                                        "9007199254740992",
                                        "9223372036854775807",
                                        "-9223372036854775808",
                                        "0.1"};
  switch (r.below(depth > 3 ? 6 : 8)) {
    case 0: return "null";
    case 1: return r.chance(50) ? "true" : "false";
    case 2:
    case 3: return r.pick(numbers);
    case 4:
    case 5: return json_string(r);
    case 6: {
      std::string a = "[";
      for (int i = 0, n = static_cast<int>(r.below(4)); i < n; ++i) a += (i ? "," : "") + json_value(r, depth + 1);
      return a + "]";
    }
    default: {
      std::string o = "{";
      for (int i = 0, n = static_cast<int>(r.below(3)); i < n; ++i)
        o += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":" + json_value(r, depth + 1);
      return o + "}";
    }
  }
}

std::string json_input(Rng& r) {
  static const char* const types[] = {"hello",  "rooms",   "create", "join", "leave", "send",
                                      "typing", "history", "ping",   "PING", "nope",  ""};
  static const char* const keys[] = {"room", "name", "cid", "text", "since", "before", "limit", "ref", "extra"};
  const std::size_t k = r.below(100);
  if (k < 3) return random_bytes(r, r.below(40));
  if (k < 6) return json_value(r);
  std::string o = "{";
  bool first = true;
  auto member = [&](const std::string& key, const std::string& value) {
    o += (first ? "\"" : ",\"") + key + "\":" + value;
    first = false;
  };
  if (!r.chance(5)) {
    std::string type = r.chance(3) ? std::string(31 + r.below(4), 't') + r.pick(kValidPieces) : r.pick(types);
    member("type", r.chance(5) ? json_value(r) : "\"" + type + "\"");
  }
  for (int i = 0, n = static_cast<int>(r.below(6)); i < n; ++i) {
    const std::string key = r.pick(keys);
    const bool good_kind = r.chance(70);
    if (key == "since" || key == "before" || key == "limit")
      member(key, good_kind ? std::to_string(r.below(1000)) : json_value(r));
    else if (key == "ref")
      member(key, good_kind ? (r.chance(50) ? std::to_string(r.below(1000)) : json_string(r)) : json_value(r));
    else
      member(key, good_kind ? json_string(r) : json_value(r));
  }
  o += "}";
  if (r.chance(10)) mutate(r, o);
  return o;
}

// An upgrade request built from the pieces browsers and tools send, in varied case and spacing,
// sometimes broken; the first byte is the header limit (see upgrade_request_target.cpp). Half of
// them start from the lines a valid upgrade needs, in any order, plus a few others: the requests
// the fast path must hand to the HTTP session differ from one it answers by a line or a byte.
std::string upgrade_input(Rng& r) {
  static const char* const needed[] = {"Host: 127.0.0.1:8080", "Connection: Upgrade", "Upgrade: websocket",
                                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"};
  static const char* const lines[] = {"Host: 127.0.0.1:8080",
                                      "host:[::1]",
                                      "Host: a b",
                                      "Host: x:8o",
                                      "Host:",
                                      "Transfer-Encoding: xchunked",
                                      "Connection: upgrade, @@",
                                      "Connection: , Upgrade,",
                                      "Proxy-Connection: keep-alive",
                                      "Connection: Upgrade",
                                      "connection: keep-alive, upgrade",
                                      "Upgrade: websocket",
                                      "upgrade:WebSocket",
                                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                                      "Sec-WebSocket-Version: 13",
                                      "sec-websocket-version:8",
                                      "Sec-WebSocket-Protocol: parley.v1",
                                      "Origin: http://x",
                                      "Content-Length: 0",
                                      "Transfer-Encoding: chunked",
                                      " folded",
                                      "X-Empty:",
                                      "Bad Name: x",
                                      ": nameless",
                                      "Pragma: no-cache"};
  static const char* const starts[] = {
      "GET /ws HTTP/1.1", "GET /ws?x=1 HTTP/1.1", "GET / HTTP/1.1", "POST /ws HTTP/1.1",
      "GET /ws HTTP/1.0", "GET ws HTTP/1.1",      "GET /ws"};
  std::string o(1, static_cast<char>(r.chance(80) ? 255 : r.next()));
  o += r.pick(starts);
  o += "\r\n";
  std::vector<std::string> header;
  if (r.chance(50)) header.assign(std::begin(needed), std::end(needed));
  for (std::size_t n = r.below(header.empty() ? 9 : 3); n > 0; --n) header.emplace_back(r.pick(lines));
  for (std::size_t i = header.size(); i > 1; --i) std::swap(header[i - 1], header[r.below(i)]);
  for (const auto& line : header) {
    o += line;
    o += r.chance(95) ? "\r\n" : "\n";
  }
  if (r.chance(90)) o += "\r\n";
  if (r.chance(20)) o += random_bytes(r, r.below(16));
  if (r.chance(15)) mutate(r, o);
  return o;
}

// ---------------------------------------------------------------------------------------------

// Fields for the server's event encoders, cut at 0xFF: text with a few invalid sequences (the
// target leaves those fields out), quotes, backslashes, newlines and control characters.
std::string events_input(Rng& r) {
  std::string out;
  const std::size_t fields = 1 + r.below(8);
  for (std::size_t i = 0; i < fields; ++i) {
    if (i) out.push_back('\xFF');
    out += text(r, r.below(24), 5);
    if (r.chance(20)) out.push_back(static_cast<char>(r.below(32)));
  }
  return out;
}

// A PROXY v2 header as proxies send it (TCP over IPv4 and IPv6, LOCAL, UNSPEC, UDP, UNIX, with
// TLVs), its fields sometimes off (version, command, family, a short address block, a length that
// lies, a TLV past the end), cut short or followed by the request; byte 0 picks the limit (see
// proxy_header_target.cpp).
std::string proxy_input(Rng& r) {
  static const std::uint8_t version_commands[] = {0x21, 0x21, 0x21, 0x20};
  static const std::uint8_t bad_version_commands[] = {0x11, 0x22, 0x2F, 0x01, 0x31};
  static const std::uint8_t families[] = {0x11, 0x11, 0x11, 0x21, 0x21, 0x21, 0x00, 0x12, 0x22, 0x31, 0x32, 0x10, 0x01};
  static const std::uint8_t bad_families[] = {0x13, 0x41, 0x3F, 0xF1};
  static const std::uint8_t tlv_types[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x20, 0x30, 0xE0};
  std::string o(1, static_cast<char>(r.chance(70) ? 255 : r.next()));
  o.append("\r\n\r\n\0\r\nQUIT\n", 12);
  o.push_back(static_cast<char>(r.chance(5) ? r.pick(bad_version_commands) : r.pick(version_commands)));
  const std::uint8_t family = r.chance(5) ? r.pick(bad_families) : r.pick(families);
  o.push_back(static_cast<char>(family));
  const std::size_t family_bytes[] = {0, 12, 36, 216};
  std::size_t addresses = (family & 0x0F) != 0 && (family >> 4) < 4 ? family_bytes[family >> 4] : 0;
  if (r.chance(10)) addresses = r.below(addresses + 8);  // too short (or some bytes for UNSPEC)
  std::string body = random_bytes(r, addresses);
  for (std::size_t i = 0, n = r.chance(60) ? 0 : 1 + r.below(4); i < n; ++i) {
    const std::size_t value = r.chance(90) ? r.below(40) : r.below(400);
    std::size_t said = value;
    if (r.chance(5)) said = value + 1 + r.below(3);  // runs past the length
    body.push_back(static_cast<char>(r.pick(tlv_types)));
    body.push_back(static_cast<char>(said >> 8));
    body.push_back(static_cast<char>(said & 0xFF));
    body += random_bytes(r, value);
  }
  if (r.chance(5)) body.resize(body.size() + 1 + r.below(2), '\0');  // a tail too short for a TLV
  std::size_t length = body.size();
  if (r.chance(4)) length = static_cast<std::uint16_t>(r.next());
  if (r.chance(4)) length = (length + 0x10000 - 3 + r.below(7)) & 0xFFFF;
  o.push_back(static_cast<char>(length >> 8));
  o.push_back(static_cast<char>(length & 0xFF));
  o += body;
  if (r.chance(10)) o.resize(1 + r.below(o.size()));
  if (r.chance(60)) o += "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n";
  if (r.chance(10)) {
    std::string rest = o.substr(1);
    mutate(r, rest);
    o.resize(1);
    o += rest;
  }
  return o;
}

std::vector<std::string> read_corpus(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());  // deterministic order
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    out.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return out;
}

struct Target {
  const char* name;
  int (*entry)(const std::uint8_t*, std::size_t);
  std::string (*generate)(Rng&);
};

}  // namespace

int main(int argc, char** argv) {
  std::size_t count = 100000;
  double seconds = 15;
  std::uint64_t seed = 20240601;
  fs::path corpus = PARLEY_FUZZ_CORPUS_DIR;
  parley::fuzz::byte_by_byte_limit = 256;  // keeps a Debug (-O0) run within seconds
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--count" && i + 1 < argc)
      count = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--seconds" && i + 1 < argc)
      seconds = std::strtod(argv[++i], nullptr);
    else if (a == "--seed" && i + 1 < argc)
      seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--bytewise" && i + 1 < argc)
      parley::fuzz::byte_by_byte_limit = std::strtoull(argv[++i], nullptr, 10);
    else
      corpus = a;
  }
  const Target targets[] = {{"ws_frame", parley::fuzz::ws_frame, ws_input},
                            {"parse_request", parley::fuzz::parse_request, json_input},
                            {"upgrade_request", parley::fuzz::upgrade_request, upgrade_input},
                            {"server_events", parley::fuzz::server_events, events_input},
                            {"proxy_header", parley::fuzz::proxy_header, proxy_input}};
  const auto start = std::chrono::steady_clock::now();
  const auto budget = std::chrono::duration<double>(seconds / std::size(targets));
  for (const Target& t : targets) {
    const auto t_start = std::chrono::steady_clock::now();
    const std::vector<std::string> seeds = read_corpus(corpus / t.name);
    auto run = [&](const std::string& input) {
      t.entry(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
    };
    for (const auto& s : seeds) run(s);
    Rng r{seed ^ std::hash<std::string>{}(t.name)};
    std::size_t done = 0;
    for (; done < count; ++done) {
      std::string input;
      const std::size_t k = r.below(100);
      if (k < 70)
        input = t.generate(r);
      else if (k < 90 && !seeds.empty())
        (input = seeds[r.below(seeds.size())], mutate(r, input));
      else
        input = random_bytes(r, r.below(64));
      run(input);
      if ((done & 1023) == 0 && std::chrono::steady_clock::now() - t_start > budget) break;
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    std::printf("%-14s %zu seeds + %zu generated inputs in %.2f s%s\n", t.name, seeds.size(), done, secs,
                done < count ? " (stopped at the time cap)" : "");
  }
  std::printf("total %.2f s\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return 0;
}
