#include "node/files.hpp"

#include <magic.h>
#include <sodium.h>
#include <spdlog/spdlog.h>
#include <vips/vips.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <system_error>
#include <utility>

#include "auth/sodium.hpp"
#include "core/validate.hpp"
#include "net/upgrade.hpp"
#include "node/api_request.hpp"
#include "node/context.hpp"
#include "node/room_directory.hpp"
#include "protocol/json_writer.hpp"
#include "protocol/utf8.hpp"

namespace parley::node {

using api::error;
using net::ApiRequest;
using net::ApiResponse;
using Respond = net::ApiService::Respond;

namespace {

constexpr std::string_view rooms_prefix = "/api/rooms/";
constexpr std::string_view files_suffix = "/files";
constexpr std::string_view fetch_prefix = "/api/files/";
constexpr std::int64_t sweep_interval_ms = 10000;
constexpr std::size_t swept_per_call = 1000;

// The room of an upload's path (/api/rooms/{room}/files, percent-encoded), or "" if it is not one.
std::string_view room_segment(std::string_view path) {
  if (!path.starts_with(rooms_prefix) || !path.ends_with(files_suffix)) return {};
  const std::string_view room =
      path.substr(rooms_prefix.size(), path.size() - rooms_prefix.size() - files_suffix.size());
  return room.find('/') == std::string_view::npos ? room : std::string_view{};
}

bool valid_file_id(std::string_view id) {
  if (id.size() != 34 || !id.starts_with("f_")) return false;
  return std::all_of(id.begin() + 2, id.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string new_file_id() {
  auth::ensure_sodium();
  unsigned char bytes[16];
  randombytes_buf(bytes, sizeof bytes);
  static constexpr char hex[] = "0123456789abcdef";
  std::string id = "f_";
  for (unsigned char b : bytes) {
    id += hex[b >> 4];
    id += hex[b & 15];
  }
  return id;
}

// The value of `name` in a query string, as sent (percent-encoded), or nullopt.
std::optional<std::string_view> query_value(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

// A file name as docs/api.md allows it: 1..255 bytes of UTF-8, no control characters, no / or \.
bool valid_file_name(std::string_view name) {
  if (name.empty() || name.size() > 255 || !protocol::is_valid_utf8(name)) return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f || c == '/' || c == '\\';
  });
}

bool is_image(std::string_view type) {
  return type == "image/png" || type == "image/jpeg" || type == "image/gif" || type == "image/webp";
}

// RFC 8187: the file name for Content-Disposition's filename*.
std::string ext_value(std::string_view name) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out = "UTF-8''";
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == '.' || c == '-' ||
        c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out;
}

void remove_quietly(const std::filesystem::path& p) {
  std::error_code ec;
  std::filesystem::remove(p, ec);
}

// libvips, once per process; its operation cache off (files come and go under the same names).
void ensure_vips() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (VIPS_INIT("parley") != 0) throw std::runtime_error("libvips could not start");
    vips_cache_set_max(0);
    vips_concurrency_set(1);
  });
}

// The MIME type of a file's content (libmagic), one handle per pool thread.
std::string magic_type(const std::filesystem::path& p) {
  struct Handle {
    magic_t m = nullptr;
    Handle() {
      m = magic_open(MAGIC_MIME_TYPE);
      if (m && magic_load(m, nullptr) != 0) {
        magic_close(m);
        m = nullptr;
      }
    }
    ~Handle() {
      if (m) magic_close(m);
    }
  };
  thread_local Handle h;
  if (!h.m) return {};
  const char* t = magic_file(h.m, p.c_str());
  return t ? std::string(t) : std::string();
}

struct VipsUnref {
  void operator()(VipsImage* i) const noexcept { g_object_unref(i); }
};
using Image = std::unique_ptr<VipsImage, VipsUnref>;

std::string vips_problem() {
  std::string e = vips_error_buffer();
  vips_error_clear();
  while (!e.empty() && e.back() == '\n') e.pop_back();
  return e;
}

// What the image work found: its size, the file to serve (re-encoded without metadata), and a
// thumbnail; `ok` false if libvips could not decode it.
struct ImageWork {
  bool ok = false;
  unsigned width = 0, height = 0;
  bool thumb = false;
  std::string why;
};

ImageWork process_image(const std::filesystem::path& in, const std::string& type, const std::filesystem::path& clean,
                        const std::filesystem::path& thumb, unsigned thumb_size) {
  ensure_vips();
  ImageWork w;
  const bool animated = type == "image/gif" || type == "image/webp";
  // Every frame of an animation (a toilet roll of pages); the first page's size is the image's.
  VipsImage* raw =
      animated ? vips_image_new_from_file(in.c_str(), "n", -1, nullptr) : vips_image_new_from_file(in.c_str(), nullptr);
  if (!raw) {
    w.why = vips_problem();
    return w;
  }
  Image img(raw);
  w.width = static_cast<unsigned>(vips_image_get_width(img.get()));
  const int page = vips_image_get_page_height(img.get());
  w.height = static_cast<unsigned>(page > 0 ? page : vips_image_get_height(img.get()));
  // Re-encoded with no metadata (EXIF, GPS, XMP, ICC, comments): what is served is only pixels.
  // A photo turned by its EXIF orientation is turned for real first, as the tag goes.
  int rc = 0;
  if (type == "image/jpeg") {
    VipsImage* turned = nullptr;
    if (vips_autorot(img.get(), &turned, nullptr) != 0) {
      w.why = vips_problem();
      return w;
    }
    Image t(turned);
    w.width = static_cast<unsigned>(vips_image_get_width(t.get()));
    w.height = static_cast<unsigned>(vips_image_get_height(t.get()));
    rc = vips_jpegsave(t.get(), clean.c_str(), "Q", 90, "strip", TRUE, nullptr);
  } else if (type == "image/png") {
    rc = vips_pngsave(img.get(), clean.c_str(), "strip", TRUE, nullptr);
  } else if (type == "image/webp") {
    rc = vips_webpsave(img.get(), clean.c_str(), "Q", 90, "strip", TRUE, nullptr);
  } else {
    // GIF: not re-encoded (Debian's libvips 8.14 may lack a GIF encoder, and a GIF carries no
    // EXIF): served as uploaded once every frame decodes.
    VipsImage* copy = nullptr;
    rc = vips_copy(img.get(), &copy, nullptr);
    if (rc == 0) {
      Image c(copy);
      double avg = 0;
      rc = vips_avg(c.get(), &avg, nullptr);  // decodes every pixel: a broken GIF fails here
    }
  }
  if (rc != 0) {
    w.why = vips_problem();
    remove_quietly(clean);
    return w;
  }
  w.ok = true;
  VipsImage* small = nullptr;
  if (vips_thumbnail(clean.empty() || type == "image/gif" ? in.c_str() : clean.c_str(), &small,
                     static_cast<int>(thumb_size), "height", static_cast<int>(thumb_size), nullptr) == 0) {
    Image s(small);
    w.thumb = vips_webpsave(s.get(), thumb.c_str(), "Q", 80, "strip", TRUE, nullptr) == 0;
  }
  if (!w.thumb) {
    vips_error_clear();
    remove_quietly(thumb);
  }
  return w;
}

}  // namespace

Files::Files(NodeContext& ctx, RoomDirectory& rooms)
    : ctx_(ctx),
      rooms_(rooms),
      options_(ctx.options.files),
      dir_(options_.dir),
      per_account_([this] {
        core::KeyedLimits::Options o;
        o.rates[static_cast<std::size_t>(core::KeyedLimits::Action::request)] = {options_.upload_rate,
                                                                                 options_.upload_burst};
        o.max_keys = ctx_.options.limits.max_tracked_keys;
        return o;
      }()),
      per_address_([this] {
        core::KeyedLimits::Options o;
        o.max_connections = std::max<std::size_t>(1, options_.max_uploads_per_address);
        o.max_keys = ctx_.options.limits.max_tracked_keys;
        return o;
      }()),
      pool_(static_cast<unsigned>(std::max<std::size_t>(1, options_.workers)),
            std::max<std::size_t>(1, options_.worker_queue), 5) {
  if (dir_.empty()) return;  // no files.dir: uploads are refused
  std::filesystem::create_directories(dir_ / "tmp");
  // Uploads cut short by a crash or a stop. In a cluster the directory is shared, and another
  // node's uploads under way have their temporary files here too: only files written to for
  // longer than an upload may take, and then some for its processing, are surely nobody's.
  const auto stale_before = std::filesystem::file_time_type::clock::now() -
                            std::chrono::milliseconds(options_.upload_timeout_ms) - std::chrono::minutes(10);
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir_ / "tmp", ec)) {
    std::error_code time_ec;
    const auto written = e.last_write_time(time_ec);
    if (!time_ec && written < stale_before) remove_quietly(e.path());
  }
}

Files::~Files() { stop(); }

void Files::stop() { pool_.stop(); }

std::filesystem::path Files::path_of(const std::string& id, bool thumb) const {
  return dir_ / (thumb ? id + ".thumb" : id);
}

bool Files::handles(std::string_view path) const {
  return path.starts_with(fetch_prefix) || !room_segment(path).empty();
}

bool Files::upload_path(std::string_view method, std::string_view path) const {
  return method == "POST" && !room_segment(path).empty();
}

net::UploadAdmission Files::admit_upload(const ApiRequest& req, std::uint64_t content_length) {
  net::UploadAdmission a;
  if (dir_.empty()) {
    a.refusal = error(404, "not_found", "this server keeps no files");
    return a;
  }
  // Before a byte of the body is read: a request with no session token at all is nobody's (the
  // token itself is checked once the body is in, as every /api/ request's is).
  if (api::session_token(req).empty()) {
    counters_.anonymous.add();
    a.refusal = error(401, "unauthorized", "sign in to upload files");
    return a;
  }
  if (content_length > options_.max_bytes) {
    counters_.too_large.add();
    a.refusal = error(413, "file_too_large",
                      "the file is larger than this server takes (" + std::to_string(options_.max_bytes) + " bytes)");
    return a;
  }
  if (in_flight_.fetch_add(1, std::memory_order_relaxed) >= options_.max_in_flight) {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    counters_.overloaded.add();
    a.refusal = error(503, "overloaded", "too many uploads at once; try again in a moment");
    a.refusal->headers.emplace_back("Retry-After", "1");
    return a;
  }
  if (per_address_.open(req.address, ctx_.now_ms()) != core::KeyedLimits::Opened::ok) {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    counters_.per_address.add();
    a.refusal = error(429, "rate_limited", "too many uploads at once from this address; try again in a moment");
    a.refusal->headers.emplace_back("Retry-After", "1");
    return a;
  }
  a.slot = std::shared_ptr<void>(nullptr, [this, address = req.address](void*) {
    per_address_.close(address);
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
  });
  a.file = dir_ / "tmp" / (new_file_id() + ".part");
  a.timeout = std::chrono::milliseconds(options_.upload_timeout_ms);
  a.max_bytes = options_.max_bytes;
  return a;
}

void Files::handle_api(ApiRequest req, Respond respond) {
  const std::string& m = req.method;
  const std::string path = req.path;
  if (!room_segment(path).empty()) {
    if (m == "POST") return upload(std::move(req), std::move(respond));
    return respond(error(405, "method_not_allowed", "this endpoint takes POST"));
  }
  std::string_view rest = std::string_view(path).substr(fetch_prefix.size());
  bool thumb = false;
  if (rest.ends_with("/thumb")) {
    thumb = true;
    rest.remove_suffix(std::string_view("/thumb").size());
  }
  if (m != "GET" && m != "HEAD") return respond(error(405, "method_not_allowed", "this endpoint takes GET and HEAD"));
  fetch(req, std::string(rest), thumb, std::move(respond));
}

void Files::upload(ApiRequest req, Respond original) {
  // Whatever the answer, the temporary file goes unless examine() moved it.
  const std::filesystem::path temp = req.body_file;
  Respond respond = [temp, original = std::move(original)](ApiResponse r) {
    if (!temp.empty()) remove_quietly(temp);
    original(std::move(r));
  };
  if (req.body_file.empty())
    return respond(error(411, "length_required", "an upload needs a Content-Length (chunked bodies are refused)"));
  const auto room = api::percent_decoded(room_segment(req.path));
  if (!room || !core::valid_room_id(*room)) return respond(error(400, "bad_room", "no such room id"));
  const auto raw_name = query_value(req.query, "name");
  const auto name = raw_name ? api::percent_decoded(*raw_name) : std::nullopt;
  if (!name || !valid_file_name(*name))
    return respond(error(400, "bad_request",
                         "?name= needs the file's name: 1 to 255 bytes of UTF-8, percent-encoded, without control "
                         "characters, / or \\"));
  const std::string token(api::session_token(req));
  if (token.empty()) return respond(error(401, "unauthorized", "sign in to upload files"));
  ctx_.accounts.authenticate(token, [this, req = std::move(req), respond, room = *room, name = *name](
                                        std::error_code ec, std::optional<SignedIn> who) mutable {
    if (ec) return respond(error(503, "store_failed", "the accounts could not be reached; try again"));
    if (!who) return respond(error(401, "unauthorized", "the session has ended; sign in again"));
    std::int64_t retry_ms = 0;
    if (!per_account_.take(who->user.id, core::KeyedLimits::Action::request, ctx_.now_ms(), retry_ms)) {
      counters_.rate_limited.add();
      auto r = error(429, "rate_limited", "too many uploads; wait before the next");
      r.headers.emplace_back("Retry-After", std::to_string(std::max<std::int64_t>(1, (retry_ms + 999) / 1000)));
      return respond(std::move(r));
    }
    store::StoredFile file;
    file.id = new_file_id();
    file.room = room;
    file.uploader_id = who->user.id;
    file.name = std::move(name);
    file.created_at = ctx_.now_ms();
    Shard& owner = ctx_.owner_of(room);
    owner.post([this, &owner, file = std::move(file), req = std::move(req), respond]() mutable {
      const std::string room_id = file.room;
      rooms_.with_room(owner, room_id, [this, file, req, respond](OwnedRoom* r, protocol::errc missing) mutable {
        if (!r)
          return respond(missing == protocol::errc::no_such_room
                             ? error(404, "no_such_room", "no such room")
                             : error(503, "unavailable", "the room could not be reached; try again"));
        if (r->state != OwnedRoom::State::ready)
          return respond(error(503, "store_failed", "the room could not be loaded; try again"));
        // The decision a send gets: a member (any account, in a public room) who is not banned.
        if (!r->access.may(file.uploader_id, core::RoomAction::join)) {
          counters_.forbidden.add();
          return respond(error(403, "forbidden", "you may not post in this room"));
        }
        auto shared = std::make_shared<std::pair<ApiRequest, Respond>>(std::move(req), respond);
        const bool queued = pool_.submit([this, file = std::move(file), shared]() mutable {
          examine(std::move(file), shared->first, shared->second);
        });
        if (!queued) {
          counters_.overloaded.add();
          auto busy = error(503, "overloaded", "too many uploads at once; try again in a moment");
          busy.headers.emplace_back("Retry-After", "1");
          respond(std::move(busy));
        }
      });
    });
  });
}

void Files::examine(store::StoredFile file, const ApiRequest& req, const Respond& respond) {
  const std::filesystem::path in = req.body_file;
  std::error_code ec;
  file.size = std::filesystem::file_size(in, ec);
  if (ec || file.size != req.body_size) return respond(error(400, "bad_request", "the upload is incomplete"));
  file.type = magic_type(in);
  // libmagic calls any text with enough commas text/csv: it is text, and served as such.
  if (file.type == "text/csv") file.type = "text/plain";
  const auto allowed = [&](const std::string& type) {
    return std::any_of(options_.allowed_types.begin(), options_.allowed_types.end(), [&](const std::string& a) {
      if (a.size() >= 2 && a.ends_with("/*")) return type.starts_with(std::string_view(a).substr(0, a.size() - 1));
      return a == type;
    });
  };
  if (file.type.empty() || !allowed(file.type)) {
    counters_.bad_type.add();
    return respond(error(
        415, "type_not_allowed",
        "files of this type (" + (file.type.empty() ? std::string("unknown") : file.type) + ") are not taken here"));
  }
  std::filesystem::path serve = in;
  const std::filesystem::path thumb_tmp = in.string() + ".thumb.webp";
  if (is_image(file.type)) {
    const auto started = std::chrono::steady_clock::now();
    const std::string suffix = file.type == "image/jpeg" ? ".jpg" : file.type == "image/png" ? ".png" : ".webp";
    const std::filesystem::path clean =
        file.type == "image/gif" ? std::filesystem::path() : std::filesystem::path(in.string() + suffix);
    ImageWork w = process_image(in, file.type, clean, thumb_tmp, options_.thumb_size);
    counters_.thumb_ns.add(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - started).count()));
    if (!w.ok) {
      counters_.bad_type.add();
      remove_quietly(clean);
      spdlog::debug("files: an upload's image could not be decoded: {}", w.why);
      return respond(error(415, "type_not_allowed", "the image could not be decoded"));
    }
    file.width = w.width;
    file.height = w.height;
    file.thumb = w.thumb;
    if (!clean.empty()) {
      serve = clean;
      file.size = std::filesystem::file_size(clean, ec);
      if (ec) {
        remove_quietly(clean);
        remove_quietly(thumb_tmp);
        return respond(error(503, "store_failed", "the upload could not be stored"));
      }
    }
  }
  // Into the directory, then the row: a row always has its bytes (bytes without a row are
  // removed below if the store refuses it).
  const std::filesystem::path dest = path_of(file.id, false), dest_thumb = path_of(file.id, true);
  std::filesystem::rename(serve, dest, ec);
  if (!ec && file.thumb) std::filesystem::rename(thumb_tmp, dest_thumb, ec);
  if (ec) {
    remove_quietly(serve);
    remove_quietly(thumb_tmp);
    remove_quietly(dest);
    spdlog::warn("files: an upload could not be moved into {}: {}", dir_.string(), ec.message());
    return respond(error(503, "store_failed", "the upload could not be stored"));
  }
  if (serve != in) remove_quietly(in);
  const std::uint64_t size = file.size;
  store::StoredFile row = file;
  ctx_.store.put_file(std::move(row), options_.max_bytes_per_account,
                      [this, file = std::move(file), dest, dest_thumb, size, respond](std::error_code ec) {
                        if (ec) {
                          remove_quietly(dest);
                          remove_quietly(dest_thumb);
                          if (ec == store::store_errc::over_quota) {
                            counters_.over_quota.add();
                            return respond(error(413, "quota_exceeded",
                                                 "your files take as many bytes as this server keeps for one account; "
                                                 "delete some messages with files first"));
                          }
                          return respond(error(503, "store_failed", "the upload could not be stored"));
                        }
                        counters_.uploads.add();
                        counters_.upload_bytes.add(size);
                        protocol::JsonWriter w;
                        w.str("id", file.id)
                            .str("room", file.room)
                            .str("name", file.name)
                            .unum("size", file.size)
                            .str("type", file.type);
                        if (file.width > 0) w.unum("width", file.width).unum("height", file.height);
                        w.boolean("thumb", file.thumb);
                        respond(ApiResponse{201, std::move(w).done(), {}});
                      });
}

std::string Files::files_json(const std::vector<store::StoredFile>& files) {
  std::string out = "[";
  for (const auto& f : files) {
    protocol::JsonWriter w;
    w.str("id", f.id).str("name", f.name).unum("size", f.size).str("type", f.type);
    if (f.width > 0) w.unum("width", f.width).unum("height", f.height);
    w.boolean("thumb", f.thumb);
    if (out.size() > 1) out += ',';
    out += std::move(w).done();
  }
  return out + "]";
}

void Files::fetch(const ApiRequest& req, std::string id, bool thumb, Respond respond) {
  if (!valid_file_id(id)) return respond(error(404, "no_such_file", "no such file"));
  const std::string token(api::session_token(req));
  if (token.empty()) {
    // No session: a guest (auth.guests), who may read what any guest may, the files of public
    // rooms' messages, and nothing else. Without guests, files are for accounts only.
    if (!ctx_.options.auth.guests) return respond(error(401, "unauthorized", "sign in to fetch files"));
    return fetch_as(std::string(), std::move(id), thumb, std::move(respond));
  }
  ctx_.accounts.authenticate(token, [this, id = std::move(id), thumb, respond = std::move(respond)](
                                        std::error_code ec, std::optional<SignedIn> who) mutable {
    if (ec) return respond(error(503, "store_failed", "the accounts could not be reached; try again"));
    if (!who) return respond(error(401, "unauthorized", "the session has ended; sign in again"));
    fetch_as(who->user.id, std::move(id), thumb, std::move(respond));
  });
}

void Files::fetch_as(std::string user, std::string id, bool thumb, Respond respond) {
  ctx_.store.find_file(std::move(id), [this, thumb, respond = std::move(respond), user = std::move(user)](
                                          std::error_code ec, std::optional<store::StoredFile> f) {
    if (ec) return respond(error(503, "store_failed", "the files could not be reached; try again"));
    // Unattached, a file is its uploader's alone (a preview before sending).
    if (!f || (f->claim.empty() && (user.empty() || f->uploader_id != user)) || (thumb && !f->thumb))
      return respond(error(404, "no_such_file", "no such file"));
    Shard& owner = ctx_.owner_of(f->room);
    owner.post([this, &owner, file = std::move(*f), thumb, respond, user]() {
      rooms_.with_room(owner, file.room, [this, file, thumb, respond, user](OwnedRoom* r, protocol::errc) {
        if (!r) return respond(error(404, "no_such_file", "no such file"));
        if (r->state != OwnedRoom::State::ready)
          return respond(error(503, "store_failed", "the room could not be loaded; try again"));
        // What history asks, at each request; a guest (no user id) may read public rooms only.
        if (user.empty() ? r->access.is_private() : !r->access.may(user, core::RoomAction::join)) {
          counters_.forbidden.add();
          if (user.empty()) return respond(error(401, "unauthorized", "sign in to fetch this file"));
          return respond(error(403, "forbidden", "not a member of this room"));
        }
        counters_.fetches.add();
        ApiResponse res{200, {}, {}};
        res.file = path_of(file.id, thumb);
        const std::string type = thumb ? std::string("image/webp") : file.type;
        res.headers.emplace_back("Content-Type", type);
        // Inline only for the raster images a browser shows as such; everything else (text,
        // PDF, media, archives) is a download.
        const bool inline_ok = thumb || is_image(type);
        res.headers.emplace_back("Content-Disposition",
                                 std::string(inline_ok ? "inline" : "attachment") +
                                     "; filename*=" + ext_value(thumb ? file.name + ".webp" : file.name));
        res.headers.emplace_back("Cache-Control", "private, max-age=" + std::to_string(options_.cache_max_age_s));
        respond(std::move(res));
      });
    });
  });
}

void Files::sweep(std::int64_t now_ms) {
  if (now_ms < next_sweep_ms_) return;
  next_sweep_ms_ = now_ms + sweep_interval_ms;
  ctx_.store.take_file_trash(
      now_ms - static_cast<std::int64_t>(std::min<std::uint64_t>(options_.unattached_ttl_ms, INT64_MAX / 2)),
      swept_per_call, [this](std::error_code ec, const std::vector<std::string>& ids) {
        if (ec) return;  // the next sweep goes on
        for (const auto& id : ids) {
          remove_quietly(path_of(id, false));
          remove_quietly(path_of(id, true));
        }
        counters_.removed.add(ids.size());
      });
}

}  // namespace parley::node
