#include "app/server.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>

#include <signal.h>
#include <unistd.h>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <thread>
#include <unordered_set>
#include <vector>

#include "app/admin.hpp"
#include "app/cores.hpp"
#include "broker/redis_broker.hpp"
#include "broker/redis_cluster_broker.hpp"
#include "net/listener.hpp"
#include "net/log.hpp"
#include "net/tls.hpp"
#include "node/node.hpp"
#include "store/postgres_store.hpp"
#include "store/sqlite_store.hpp"

namespace parley::app {

namespace {

boost::asio::ip::tcp::endpoint parse_endpoint(const std::string& s) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("server.listen must be host:port, got '" + s + "'");
  std::string host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "localhost") host = "127.0.0.1";
  unsigned long port = 0;
  try {
    port = std::stoul(s.substr(colon + 1));
  } catch (const std::exception&) {
    port = 70000;
  }
  if (port > 65535) throw std::invalid_argument("server.listen: bad port in '" + s + "'");
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address(host, ec);
  if (ec) throw std::invalid_argument("server.listen: bad address '" + host + "'");
  return {addr, static_cast<unsigned short>(port)};
}

// The drain (docs/operations.md, "Rolling restarts"). /readyz fails at once, and new clients are
// still served for server.drain_notice_ms: the load balancer's time to see it and send them
// elsewhere (refused, they would only reconnect, perhaps to this node again). Then the listeners
// close, and the sessions are closed with 1012 (service restart) spread evenly over
// server.drain_window_ms, so that the other nodes take them (and their resumes) a few at a time
// rather than all in the same second. A second SIGTERM or SIGINT cuts both waits short.
void drain(node::Node& node, const std::vector<std::shared_ptr<net::Listener>>& listeners, const Config& config,
           boost::asio::io_context& main_ctx, int signal_number) {
  using Clock = std::chrono::steady_clock;
  spdlog::info("signal {}: draining ({} sessions; notice {} ms, window {} ms)", signal_number, node.session_count(),
               config.drain_notice_ms, config.drain_window_ms);
  node.set_draining();
  bool hurry = false;
  boost::asio::signal_set again(main_ctx, SIGINT, SIGTERM);
  again.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    hurry = true;
    spdlog::info("signal {} again: closing every session now", sig);
  });
  main_ctx.restart();
  const auto wait_until = [&](Clock::time_point until) {
    while (!hurry && Clock::now() < until)
      main_ctx.run_for(std::min<Clock::duration>(until - Clock::now(), std::chrono::milliseconds(20)));
  };
  if (config.drain_notice_ms > 0) wait_until(Clock::now() + std::chrono::milliseconds(config.drain_notice_ms));

  node.set_closing();
  // Per shard, touched on its thread only: the sessions it had when the window opened, and those
  // it has closed (a closed session stays in the loop until its closing handshake ends).
  struct Progress {
    std::size_t initial = 0;
    std::unordered_set<std::uint64_t> closed;
  };
  // Shared with the posted closes: with no session left, this function returns before a shard has
  // run them (a use after free, once, in a test that stopped a node just after it started).
  const auto progress = std::make_shared<std::vector<Progress>>(node.shard_count());
  // Closes enough of each shard's sessions that `fraction` of them are closed (1: all, and any
  // that arrived since the window opened).
  const auto close_share = [&](double fraction) {
    for (unsigned i = 0; i < node.shard_count(); ++i) {
      node::Shard& shard = node.shard(i);
      shard.post([&shard, progress, i, fraction] {
        Progress& p = (*progress)[i];
        const std::size_t quota =
            fraction >= 1.0 ? SIZE_MAX : static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(p.initial)));
        std::vector<net::Connection*> now;  // closed after the walk: a close may change the loop's map
        shard.loop().for_each([&](net::Connection& c) {
          if (p.closed.size() + now.size() < quota && !p.closed.contains(c.id())) now.push_back(&c);
        });
        for (auto* c : now) {
          p.closed.insert(c->id());
          c->close(protocol::CloseCode::service_restart, "server restarting");
        }
      });
    }
  };
  for (unsigned i = 0; i < node.shard_count(); ++i) {
    node::Shard& shard = node.shard(i);
    shard.post([&shard, progress, i, l = listeners[i]] {
      Progress& p = (*progress)[i];
      l->stop();
      p.initial = shard.loop().size();
    });
  }
  const auto window = std::chrono::milliseconds(config.drain_window_ms);
  const auto opened = Clock::now();
  // A step every 50 ms: at 20,000 sessions over 10 s, 100 closes a step, a few milliseconds of a
  // loop's time.
  while (!hurry && window.count() > 0 && Clock::now() - opened < window && node.session_count() > 0) {
    close_share(std::chrono::duration<double>(Clock::now() - opened) / window);
    wait_until(std::min(opened + window, Clock::now() + std::chrono::milliseconds(50)));
  }
  close_share(1.0);
  // Closing handshakes complete, or time out after close_timeout_ms (the shard ticker).
  const auto deadline = Clock::now() + std::chrono::milliseconds(config.limits.close_timeout_ms + 1500);
  while (node.session_count() > 0 && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  // A posted close that has not run yet keeps `progress` alive; node.stop() (after this) discards
  // it with its loop.
}

}  // namespace

int run_server(Config config, std::function<std::string()> reread_log_level) {
  std::signal(SIGPIPE, SIG_IGN);
  const unsigned threads = config.threads ? config.threads : usable_cores();
  const auto endpoint = parse_endpoint(config.listen);
  // Before anything opens: a key that does not fit is a configuration error (exit 2).
  auto jwt = load_jwt_verifier(config.auth);
  // The same for TLS: a certificate that does not load, or a key that does not match it.
  std::unique_ptr<net::TlsContext> tls;
  if (!config.tls_cert.empty() || !config.tls_key.empty()) {
    if (config.tls_cert.empty() || config.tls_key.empty())
      throw std::invalid_argument("server.tls_cert and server.tls_key go together: set both, or neither");
    try {
      tls = std::make_unique<net::TlsContext>(net::TlsOptions{config.tls_cert, config.tls_key});
    } catch (const std::runtime_error& e) {
      throw std::invalid_argument(std::string("server.tls_cert/server.tls_key: ") + e.what());
    }
  }

  std::unique_ptr<store::Store> store_owner;
  if (config.store_backend == "sqlite") {
    store_owner = std::make_unique<store::SqliteStore>(store::SqliteOptions{
        std::filesystem::path(config.data_dir) / "parley.db", config.store_synchronous, config.store_max_queue,
        config.store_max_batch, config.store_checkpoint_pages, config.store_search_nice, config.store_search_share});
  } else if (config.store_backend == "postgres") {
    if (config.store_postgres_url.empty())
      throw std::invalid_argument("store.backend=postgres needs store.postgres_url");
    store::PostgresOptions po;
    po.conninfo = config.store_postgres_url;
    po.max_queue = config.store_max_queue;
    po.max_batch = config.store_max_batch;
    po.search_nice = config.store_search_nice;
    po.search_share = config.store_search_share;
    store_owner = std::make_unique<store::PostgresStore>(po);
  } else {
    throw std::invalid_argument("store.backend must be sqlite or postgres, not '" + config.store_backend + "'");
  }
  store::Store& store = *store_owner;
  std::unique_ptr<broker::Broker> broker;
  // "a,b,c" as its non-empty items.
  const auto list = [](const std::string& csv) {
    std::vector<std::string> out;
    for (std::size_t from = 0; from <= csv.size();) {
      auto comma = csv.find(',', from);
      if (comma == std::string::npos) comma = csv.size();
      if (comma > from) out.push_back(csv.substr(from, comma - from));
      from = comma + 1;
    }
    return out;
  };
  if (config.broker_backend == "redis" || config.broker_backend == "redis-sentinel") {
    broker::RedisBrokerOptions bo;
    if (config.broker_backend == "redis") {
      bo.redis = broker::parse_redis_url(config.broker_redis_url);
    } else {
      bo.sentinel.sentinels = list(config.broker_redis_sentinels);
      if (bo.sentinel.sentinels.empty())
        throw std::invalid_argument("broker.redis_sentinels: no sentinel (host:port, comma-separated)");
      bo.sentinel.master = config.broker_redis_sentinel_master;
    }
    bo.prefix = config.broker_prefix;
    bo.log_capacity = config.broker_log_capacity;
    if (config.broker_node_timeout_ms < 500) throw std::invalid_argument("broker.node_timeout_ms must be at least 500");
    bo.node_timeout_ms = config.broker_node_timeout_ms;
    bo.request_timeout_ms = config.broker_request_timeout_ms;
    auto redis = std::make_unique<broker::RedisBroker>(bo);  // throws on a bad sentinel or master name
    // A cluster's log lines say which node wrote them (JSON: "node").
    net::log::set_node(redis->node_id());
    broker = std::move(redis);
  } else if (config.broker_backend == "redis-cluster") {
    broker::RedisClusterBrokerOptions bo;
    bo.seeds = list(config.broker_redis_cluster_seeds);
    bo.prefix = config.broker_prefix;
    bo.log_capacity = config.broker_log_capacity;
    if (config.broker_node_timeout_ms < 500) throw std::invalid_argument("broker.node_timeout_ms must be at least 500");
    bo.node_timeout_ms = config.broker_node_timeout_ms;
    bo.request_timeout_ms = config.broker_request_timeout_ms;
    auto redis = std::make_unique<broker::RedisClusterBroker>(bo);  // throws on a bad seed
    net::log::set_node(redis->node_id());
    broker = std::move(redis);
  } else if (config.broker_backend != "local") {
    throw std::invalid_argument("broker.backend must be local, redis, redis-cluster or redis-sentinel, not '" +
                                config.broker_backend + "'");
  }
  node::NodeOptions options;
  options.threads = threads;
  options.limits = config.limits;
  if (options.limits.max_memory_bytes == 0) options.limits.max_memory_bytes = default_memory_budget();
  options.rooms = config.rooms;
  options.default_room = config.default_room;
  options.io_uring_writes = config.writes == "io_uring";
  options.broker_wait_ms = config.broker_request_timeout_ms;
  options.fail_fast = config.fail_fast;
  options.auth = config.auth;
  options.files = config.files;
  if (options.files.dir.empty()) options.files.dir = (std::filesystem::path(config.data_dir) / "files").string();
  options.jwt = std::move(jwt);
  node::Node node(options, store, broker.get());
  // The admin API's drain of this node is a SIGTERM's: the same drain, below, from the same place.
  node.set_on_drain([] { ::kill(::getpid(), SIGTERM); });

  node.admission().set_trusted_proxies(config.trusted_proxies);
  net::HttpOptions http{config.web_dir, &node, &node.admission(), net::OriginPolicy(config.allowed_origins),
                        &node.accounts()};
  if (tls) {
    http.tls = tls.get();
    node.set_tls(tls.get());
  }
  std::vector<std::shared_ptr<net::Listener>> listeners;
  auto first = std::make_shared<net::Listener>(node.shard(0).loop(), http, endpoint);
  const unsigned short port = first->port();
  listeners.push_back(first);
  for (unsigned i = 1; i < node.shard_count(); ++i)
    listeners.push_back(std::make_shared<net::Listener>(node.shard(i).loop(), http,
                                                        boost::asio::ip::tcp::endpoint(endpoint.address(), port)));

  node.start();
  for (unsigned i = 0; i < node.shard_count(); ++i) node.shard(i).post([l = listeners[i]] { l->start(); });
  const std::string where =
      endpoint.address().is_v6() ? "[" + endpoint.address().to_string() + "]" : endpoint.address().to_string();
  spdlog::info("parley {} serving {}://{}:{} (web {}, data {})", PARLEY_VERSION, tls ? "https" : "http", where, port,
               config.web_dir, config.data_dir);
  boost::asio::io_context main_ctx;
  // The operator's socket; a node that cannot make one (a read-only data directory, a path
  // longer than a socket address holds) still serves, without `parley admin`.
  std::unique_ptr<AdminSocket> admin;
  try {
    std::filesystem::create_directories(config.data_dir);
    admin = std::make_unique<AdminSocket>(main_ctx, std::filesystem::path(config.data_dir) / "parley.sock", node);
    admin->start();
  } catch (const std::exception& e) {
    spdlog::warn("no admin socket: {}", e.what());
  }
  // The signals are ours (a signal_set catches from its construction, and keeps what arrives
  // before it is waited for) before the line below says we are up: a script that reads it and
  // sends SIGTERM at once gets the drain, not the default action's death (exit 143).
  boost::asio::signal_set signals(main_ctx, SIGINT, SIGTERM);
  int signal_number = 0;
  // SIGHUP: the certificate and key are read again (a renewed certificate); connections open
  // keep the one they started with. A pair that does not load leaves the old one in use. The
  // log level is read again too (the configuration file, the environment, the flags); a file
  // that no longer parses, or an unknown level, leaves the level as it was.
  boost::asio::signal_set hangups(main_ctx, SIGHUP);
  // A fixed line on stdout, for scripts and tests that started us with port 0: once everything a
  // script may use is there (the admin socket too).
  std::printf("parley: listening on %s:%u\n", where.c_str(), static_cast<unsigned>(port));
  std::fflush(stdout);
  std::function<void()> await_hangup = [&] {
    hangups.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      if (reread_log_level) {
        try {
          const std::string level = reread_log_level();
          if (!net::log::change_level(level, "SIGHUP"))
            spdlog::error("SIGHUP: server.log_level: unknown level '{}'; the level stays", level);
        } catch (const std::exception& e) {
          spdlog::error("SIGHUP: the configuration was not read again, the log level stays: {}", e.what());
        }
      }
      if (tls) {
        std::string error;
        if (tls->reload(error))
          spdlog::info("SIGHUP: TLS certificate {} reloaded", config.tls_cert);
        else
          spdlog::error("SIGHUP: TLS certificate not reloaded, the old one stays in use: {}", error);
      } else {
        spdlog::info("SIGHUP: no TLS certificate to reload");
      }
      await_hangup();
    });
  };
  await_hangup();
  signals.async_wait([&](const boost::system::error_code&, int sig) {
    signal_number = sig;
    if (admin) admin->close();
    hangups.cancel();
  });
  main_ctx.run();

  drain(node, listeners, config, main_ctx, signal_number);
  store.flush();
  node.stop();
  store.stop();
  broker.reset();
  spdlog::info("stopped");
  return 0;
}

}  // namespace parley::app
