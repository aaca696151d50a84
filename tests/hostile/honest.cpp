#include <algorithm>

#include "hostile.hpp"
#include "socket_io.hpp"

namespace parley::hostile {

using namespace std::chrono_literals;
using namespace io;

Honest::Honest(unsigned short port, Options options) : port_(port), options_(std::move(options)) {
  if (!connect_main()) ADD_FAILURE() << "the honest client could not start: " << failures_.back();
  failures_.clear();
  latencies_.clear();
}

Honest::~Honest() { stop(); }

bool Honest::connect_main() {
  const auto timeout = options_.timeout;
  const int status = main_.open(port_, honest_address, timeout);
  if (status != 101) {
    failures_.push_back("honest upgrade: status " + std::to_string(status) + " " + main_.refusal() + main_.error());
    return false;
  }
  auto w = main_.request({{"type", "hello"}, {"name", "honest"}}, timeout);
  if (!w || it::type_of(*w) != "welcome") {
    failures_.push_back("honest hello: " + (w ? it::dump(*w) : "no answer"));
    return false;
  }
  auto c = main_.request({{"type", "create"}, {"room", options_.room}}, timeout);
  if (!c || (it::type_of(*c) != "created" && it::str(*c, "code") != "room_exists")) {
    failures_.push_back("honest create: " + (c ? it::dump(*c) : "no answer"));
    return false;
  }
  auto j = main_.request({{"type", "join"}, {"room", options_.room}}, timeout);
  if (!j || it::type_of(*j) != "joined") {
    failures_.push_back("honest join: " + (j ? it::dump(*j) : "no answer"));
    return false;
  }
  main_.events().clear();
  return true;
}

void Honest::start() {
  thread_ = std::thread([this] { run(); });
}

void Honest::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

bool Honest::send_and_ack(Peer& p, const std::string& user) {
  const std::string cid = user + "-" + std::to_string(next_cid_++);
  const auto t0 = Clock::now();
  auto r = p.request({{"type", "send"}, {"room", options_.room}, {"cid", cid}, {"text", "still here: " + cid}},
                     options_.timeout);
  const double ms = ms_since(t0);
  if (!r) {
    timed(static_cast<double>(options_.timeout.count()));
    failures_.push_back(
        "send " + cid + ": no ack in " + std::to_string(static_cast<long>(ms)) + " ms" +
        (p.close_code() ? " (closed " + std::to_string(*p.close_code()) + ")" : (p.eof() ? " (connection lost)" : "")));
    return false;
  }
  timed(ms);
  if (it::type_of(*r) != "ack") {
    failures_.push_back("send " + cid + ": " + it::dump(*r));
    return false;
  }
  acked_.push_back(Acked{it::u64(*r, "seq"), cid});
  return true;
}

void Honest::newcomer(int n) {
  Peer p;
  const std::string user = "newcomer-" + std::to_string(n);
  auto t0 = Clock::now();
  const int status = p.open(port_, honest_address, options_.timeout);
  const double ms = ms_since(t0);
  if (status == 0) {
    timed(static_cast<double>(options_.timeout.count()));
    failures_.push_back(user + ": no answer to the upgrade (" + p.error() + ")");
    return;
  }
  timed(ms);
  if (status != 101) {
    ++refusals_[status];
    return;
  }
  for (const auto& req :
       {json::object{{"type", "hello"}, {"name", user}}, json::object{{"type", "join"}, {"room", options_.room}}}) {
    t0 = Clock::now();
    auto r = p.request(req, options_.timeout);
    if (!r) {
      timed(static_cast<double>(options_.timeout.count()));
      failures_.push_back(user + ": no answer to " + it::dump(req));
      return;
    }
    timed(ms_since(t0));
    const std::string want = it::str(req, "type") == "hello" ? "welcome" : "joined";
    if (it::type_of(*r) != want) {
      failures_.push_back(user + ": " + it::dump(req) + " -> " + it::dump(*r));
      return;
    }
  }
  send_and_ack(p, user);
  p.close();
}

void Honest::run() {
  auto next_newcomer = Clock::now() + options_.newcomer_every;
  int n = 0;
  while (!stop_.load()) {
    if (!main_.is_open()) {
      failures_.push_back("the honest connection was closed" +
                          (main_.close_code() ? " with " + std::to_string(*main_.close_code()) : std::string()));
      if (!connect_main()) {
        std::this_thread::sleep_for(200ms);
        continue;
      }
    }
    send_and_ack(main_, "honest");
    main_.events().clear();
    if (options_.newcomer_every.count() > 0 && Clock::now() >= next_newcomer) {
      newcomer(n++);
      next_newcomer = Clock::now() + options_.newcomer_every;
    }
    std::this_thread::sleep_for(options_.send_every);
  }
}

double Honest::p50_ms() const {
  if (latencies_.empty()) return -1;
  std::vector<double> v = latencies_;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

double Honest::max_ms() const {
  if (latencies_.empty()) return -1;
  return *std::max_element(latencies_.begin(), latencies_.end());
}

std::vector<std::string> Honest::missing_from_history() const {
  std::string error;
  const auto history = read_history(port_, options_.room, "auditor", &error);
  if (!error.empty()) return {"history could not be read: " + error};
  std::vector<std::string> missing;
  for (const auto& a : acked_) {
    auto it = history.find(a.seq);
    if (it == history.end() || it->second != a.cid)
      missing.push_back("seq " + std::to_string(a.seq) + " (" + a.cid + ")" +
                        (it == history.end() ? " absent" : " holds " + it->second));
  }
  return missing;
}

std::map<std::uint64_t, std::string> read_history(unsigned short port, const std::string& room, const std::string& user,
                                                  std::string* error) {
  std::map<std::uint64_t, std::string> out;
  Peer p;
  const auto timeout = it::scaled(10s);
  if (const int status = p.open(port, honest_address, timeout); status != 101) {
    *error = "upgrade: " + std::to_string(status) + " " + p.refusal() + p.error();
    return out;
  }
  auto w = p.request({{"type", "hello"}, {"name", user}}, timeout);
  auto j = p.request({{"type", "join"}, {"room", room}}, timeout);
  if (!w || !j || it::type_of(*j) != "joined") {
    *error = "join " + room + ": " + (j ? it::dump(*j) : "no answer");
    return out;
  }
  std::optional<std::uint64_t> before;
  for (int page = 0; page < 10000; ++page) {
    json::object req{{"type", "history"}, {"room", room}, {"limit", 100}};
    if (before) req["before"] = *before;
    auto r = p.request(req, timeout);
    if (r && it::str(*r, "code") == "rate_limited") {
      std::this_thread::sleep_for(Ms(it::i64(*r, "retry_after_ms") + 10));
      continue;
    }
    if (!r || it::type_of(*r) != "history") {
      *error = "history: " + (r ? it::dump(*r) : "no answer");
      return out;
    }
    const auto& messages = r->at("messages").as_array();
    for (const auto& m : messages) out[it::u64(m.as_object(), "seq")] = it::str(m.as_object(), "cid");
    if (messages.empty() || !r->at("has_more").as_bool()) break;
    before = it::u64(messages.front().as_object(), "seq");
  }
  return out;
}

}  // namespace parley::hostile
