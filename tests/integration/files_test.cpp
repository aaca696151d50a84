// Files and images (docs/api.md "Files", docs/protocol.md "files"): uploads, a message carrying
// them, their fetch by whoever may read the room, and every refusal, against the real binary.
// The images are made here with libvips (no binary fixture); the JPEG gets an EXIF segment by
// hand, whose text must not come back.
#include <gtest/gtest.h>
#include <unistd.h>
#include <vips/vips.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>

#include "common.hpp"

namespace parley::it {
namespace {

struct Account {
  std::unique_ptr<WsClient> ws;
  std::string cookie;  // "parley_session=…"
};

Account account_with_cookie(ServerProcess& server, const std::string& name) {
  auto reg = register_user(server.port(), name, "correct horse", true);
  EXPECT_EQ(reg.status, 201) << reg.body;
  Account a;
  a.cookie = session_cookie(reg);
  a.ws = std::make_unique<WsClient>(server.port());
  auto w = a.ws->request({{"type", "hello"}, {"token", reg.json().as_object().at("token").as_string()}});
  EXPECT_EQ(type_of(w), "welcome") << dump(w);
  return a;
}

void ensure_vips() {
  static std::once_flag once;
  std::call_once(once, [] { ASSERT_EQ(VIPS_INIT("files_test"), 0); });
}

// An image of w x h made by libvips, encoded by `format` ("png", "jpg", "webp").
std::string image(int w, int h, const std::string& format) {
  ensure_vips();
  VipsImage* black = nullptr;
  EXPECT_EQ(vips_black(&black, w, h, "bands", 3, nullptr), 0);
  VipsImage* lit = nullptr;
  EXPECT_EQ(vips_linear1(black, &lit, 1.0, 120.0, "uchar", TRUE, nullptr), 0);
  g_object_unref(black);
  void* buf = nullptr;
  size_t len = 0;
  const int rc = format == "png"   ? vips_pngsave_buffer(lit, &buf, &len, nullptr)
                 : format == "jpg" ? vips_jpegsave_buffer(lit, &buf, &len, nullptr)
                                   : vips_webpsave_buffer(lit, &buf, &len, nullptr);
  EXPECT_EQ(rc, 0) << vips_error_buffer();
  g_object_unref(lit);
  std::string out(static_cast<const char*>(buf), len);
  g_free(buf);
  return out;
}

// A JPEG carrying an EXIF segment (APP1) whose ImageDescription holds `secret`, and a comment.
std::string jpeg_with_exif(const std::string& secret) {
  const std::string jpg = image(64, 48, "jpg");
  // TIFF, little-endian: IFD0 at 8 with one entry (0x010E ImageDescription, ASCII) whose text
  // follows the IFD.
  std::string tiff("II*\0\x08\0\0\0", 8);
  auto u16 = [](std::string& s, unsigned v) {
    s += static_cast<char>(v & 0xFF);
    s += static_cast<char>((v >> 8) & 0xFF);
  };
  auto u32 = [&](std::string& s, unsigned v) {
    u16(s, v & 0xFFFF);
    u16(s, v >> 16);
  };
  const std::string text = secret + std::string(1, '\0');
  u16(tiff, 1);                                   // one entry
  u16(tiff, 0x010E);                              // ImageDescription
  u16(tiff, 2);                                   // ASCII
  u32(tiff, static_cast<unsigned>(text.size()));  // count
  u32(tiff, 8 + 2 + 12 + 4);                      // offset of the text
  u32(tiff, 0);                                   // no next IFD
  tiff += text;
  const std::string exif = std::string("Exif\0\0", 6) + tiff;
  std::string app1("\xFF\xE1", 2);
  u16(app1, 0);  // length, big-endian, below
  const std::size_t len = exif.size() + 2;
  app1[2] = static_cast<char>(len >> 8);
  app1[3] = static_cast<char>(len & 0xFF);
  app1 += exif;
  std::string com("\xFF\xFE", 2);
  const std::string comment = "comment " + secret;
  com += static_cast<char>((comment.size() + 2) >> 8);
  com += static_cast<char>((comment.size() + 2) & 0xFF);
  com += comment;
  return jpg.substr(0, 2) + app1 + com + jpg.substr(2);  // after SOI
}

HttpResponse upload(const ServerProcess& server, const std::string& cookie, const std::string& room,
                    const std::string& name, const std::string& bytes, const std::string& extra = {}) {
  std::string req = "POST /api/rooms/" + room + "/files?name=" + name +
                    " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(server.port()) + "\r\nConnection: close\r\n";
  if (!cookie.empty()) req += cookie_header(cookie);
  req += extra;
  req += "Content-Length: " + std::to_string(bytes.size()) + "\r\n\r\n" + bytes;
  return http_raw(server.port(), req, 20s);
}

HttpResponse fetch(const ServerProcess& server, const std::string& cookie, const std::string& path,
                   const std::string& method = "GET", const std::string& extra = {}) {
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(server.port()) +
                    "\r\nConnection: close\r\n";
  if (!cookie.empty()) req += cookie_header(cookie);
  req += extra + "\r\n";
  if (method == "HEAD") {
    RawClient c;
    EXPECT_TRUE(c.connect(server.port()));
    c.send(req);
    bool eof = false;
    const std::string bytes = c.read_until_eof(5s, &eof);
    auto r = parse_http_response(bytes, nullptr, true);
    return r ? *r : HttpResponse{};
  }
  return http_raw(server.port(), req, 20s);
}

std::string id_of(const HttpResponse& r) {
  const auto v = r.json();
  return v.is_object() && v.as_object().contains("id") ? std::string(v.as_object().at("id").as_string()) : "";
}

json::object send_files(WsClient& c, const std::string& room, const std::string& cid, const std::string& text,
                        const std::vector<std::string>& ids) {
  json::array files;
  for (const auto& id : ids) files.emplace_back(id);
  return c.request({{"type", "send"}, {"room", room}, {"cid", cid}, {"text", text}, {"files", files}});
}

TEST(Files, UploadSendAndFetchByAMember) {
  ServerProcess server(with_accounts({}));
  auto ada = account_with_cookie(server, "ada");
  auto bob = account_with_cookie(server, "bob");
  ada.ws->join("general");
  bob.ws->join("general");

  const std::string png = image(800, 600, "png");
  auto up = upload(server, ada.cookie, "general", "cat%20photo.png", png);
  ASSERT_EQ(up.status, 201) << up.body;
  const auto f = up.json().as_object();
  const std::string id = id_of(up);
  EXPECT_EQ(id.size(), 34u);
  EXPECT_EQ(str(f, "room"), "general");
  EXPECT_EQ(str(f, "name"), "cat photo.png");
  EXPECT_EQ(str(f, "type"), "image/png");
  EXPECT_EQ(u64(f, "width"), 800u);
  EXPECT_EQ(u64(f, "height"), 600u);
  EXPECT_TRUE(f.at("thumb").as_bool());

  // A message with the file and no text.
  auto ack = send_files(*ada.ws, "general", "c-1", "", {id});
  ASSERT_EQ(type_of(ack), "ack") << dump(ack);
  auto m = bob.ws->wait_for("message", [](const json::object& e) { return str(e, "cid") == "c-1"; });
  ASSERT_TRUE(m);
  const auto& files = m->at("files").as_array();
  ASSERT_EQ(files.size(), 1u) << dump(*m);
  EXPECT_EQ(str(files[0].as_object(), "id"), id);
  EXPECT_EQ(str(files[0].as_object(), "name"), "cat photo.png");
  EXPECT_EQ(u64(files[0].as_object(), "width"), 800u);
  // History carries it too.
  auto h = bob.ws->request({{"type", "history"}, {"room", "general"}});
  ASSERT_EQ(type_of(h), "history") << dump(h);
  const auto& msgs = h.at("messages").as_array();
  ASSERT_FALSE(msgs.empty());
  EXPECT_EQ(msgs.back().as_object().at("files").as_array().size(), 1u) << dump(h);

  // Fetched by another member: the image as stored, with the headers that keep it inert.
  auto got = fetch(server, bob.cookie, "/api/files/" + id);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.header("content-type"), "image/png");
  EXPECT_EQ(got.header("x-content-type-options"), "nosniff");
  EXPECT_EQ(got.header("content-disposition"), "inline; filename*=UTF-8''cat%20photo.png");
  EXPECT_NE(got.header("content-security-policy").find("sandbox"), std::string::npos);
  EXPECT_NE(got.header("cache-control").find("private"), std::string::npos);
  EXPECT_EQ(got.body.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(std::to_string(got.body.size()), got.header("content-length"));
  auto head = fetch(server, bob.cookie, "/api/files/" + id, "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("content-length"), got.header("content-length"));
  auto thumb = fetch(server, bob.cookie, "/api/files/" + id + "/thumb");
  ASSERT_EQ(thumb.status, 200) << thumb.body;
  EXPECT_EQ(thumb.header("content-type"), "image/webp");
  EXPECT_EQ(thumb.body.substr(8, 4), "WEBP");

  // Unknown ids and the metrics.
  EXPECT_EQ(fetch(server, bob.cookie, "/api/files/f_00000000000000000000000000000000").status, 404);
  EXPECT_EQ(fetch(server, bob.cookie, "/api/files/nonsense").status, 404);
  EXPECT_GE(fetch_metric(server.port(), "parley_files_uploads_total").value_or(0), 1);
}

TEST(Files, AGuestAndAStrangerAreRefused) {
  ServerProcess server(with_accounts({}));
  auto ada = account_with_cookie(server, "ada");
  auto bob = account_with_cookie(server, "bob");
  const std::string png = image(32, 32, "png");
  // No session: 401 both ways.
  auto anon = upload(server, "", "general", "a.png", png);
  EXPECT_EQ(anon.status, 401) << anon.body;
  EXPECT_EQ(code(anon), "unauthorized");
  auto bogus = upload(server, "parley_session=not-a-token", "general", "a.png", png);
  EXPECT_EQ(bogus.status, 401) << bogus.body;

  ASSERT_EQ(type_of(ada.ws->request({{"type", "create"}, {"room", "club"}, {"private", true}})), "created");
  ada.ws->join("club");
  // A stranger may not post in a private room.
  auto stranger = upload(server, bob.cookie, "club", "b.png", png);
  EXPECT_EQ(stranger.status, 403) << stranger.body;
  EXPECT_EQ(code(stranger), "forbidden");
  EXPECT_EQ(upload(server, ada.cookie, "nowhere", "a.png", png).status, 404);

  auto up = upload(server, ada.cookie, "club", "a.png", png);
  ASSERT_EQ(up.status, 201) << up.body;
  const std::string id = id_of(up);
  // Unattached, only its uploader sees it.
  EXPECT_EQ(fetch(server, ada.cookie, "/api/files/" + id).status, 200);
  EXPECT_EQ(fetch(server, bob.cookie, "/api/files/" + id).status, 404);
  ASSERT_EQ(type_of(send_files(*ada.ws, "club", "c-1", "for members", {id})), "ack");
  EXPECT_EQ(fetch(server, "", "/api/files/" + id).status, 401);  // a guest: public rooms' only
  auto refused = fetch(server, bob.cookie, "/api/files/" + id);
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_EQ(fetch(server, bob.cookie, "/api/files/" + id + "/thumb").status, 403);

  // A member reads it; removed, at once no more.
  ASSERT_EQ(type_of(ada.ws->request({{"type", "invite"}, {"room", "club"}, {"user", "bob"}})), "invited");
  EXPECT_EQ(fetch(server, bob.cookie, "/api/files/" + id).status, 200);
  ASSERT_EQ(type_of(ada.ws->request({{"type", "remove"}, {"room", "club"}, {"user", "bob"}})), "removed");
  EXPECT_EQ(fetch(server, bob.cookie, "/api/files/" + id).status, 403);
}

TEST(Files, RefusalsOfWhatAnUploadSends) {
  ServerProcess server(with_accounts({"files.max_bytes=100000"}));
  auto ada = account_with_cookie(server, "ada");
  // Too large by its Content-Length: refused before the body is sent.
  {
    RawClient c;
    ASSERT_TRUE(c.connect(server.port()));
    c.send("POST /api/rooms/general/files?name=big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n" + cookie_header(ada.cookie) +
           "Content-Length: 200000\r\n\r\n");
    auto r = c.read_http_response(5s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_EQ(code(*r), "file_too_large");
  }
  // Chunked: 411.
  {
    RawClient c;
    ASSERT_TRUE(c.connect(server.port()));
    c.send("POST /api/rooms/general/files?name=a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n" + cookie_header(ada.cookie) +
           "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    auto r = c.read_http_response(5s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 411);
    EXPECT_EQ(code(*r), "length_required");
  }
  // HTML named .png: refused by its content.
  auto html = upload(server, ada.cookie, "general", "x.png",
                     "<!DOCTYPE html><html><head><script>alert(1)</script></head><body>hi</body></html>\n");
  EXPECT_EQ(html.status, 415) << html.body;
  EXPECT_EQ(code(html), "type_not_allowed");
  // An SVG is never taken either.
  auto svg = upload(server, ada.cookie, "general", "x.svg",
                    "<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>");
  EXPECT_EQ(svg.status, 415) << svg.body;
  // A PNG's signature on garbage: not decodable, refused.
  auto broken = upload(server, ada.cookie, "general", "b.png",
                       std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16) + std::string(200, 'x'));
  EXPECT_EQ(broken.status, 415) << broken.body;
  // Names.
  EXPECT_EQ(upload(server, ada.cookie, "general", "", "hello\n").status, 400);
  EXPECT_EQ(upload(server, ada.cookie, "general", "a%2Fb.txt", "hello\n").status, 400);
  EXPECT_EQ(upload(server, ada.cookie, "general", "a%0Ab.txt", "hello\n").status, 400);
  EXPECT_EQ(upload(server, ada.cookie, "general", repeat("n", 256), "hello\n").status, 400);
  // Plain text is taken, and served as a download.
  auto text = upload(server, ada.cookie, "general", "notes.txt", "hello, world\n");
  ASSERT_EQ(text.status, 201) << text.body;
  EXPECT_EQ(str(text.json().as_object(), "type"), "text/plain");
  EXPECT_FALSE(text.json().as_object().at("thumb").as_bool());
  auto got = fetch(server, ada.cookie, "/api/files/" + id_of(text));
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, "hello, world\n");
  EXPECT_EQ(got.header("content-disposition"), "attachment; filename*=UTF-8''notes.txt");
  EXPECT_EQ(fetch(server, ada.cookie, "/api/files/" + id_of(text) + "/thumb").status, 404);
}

// Refused before a byte of the body is read (the client is told while it would still be sending):
// an upload with no session token at all, and one past files.max_uploads_per_address while the
// address has that many under way (here one, held open by a client that sends half its body).
TEST(Files, AnonymousAndOneAddressPastItsUploadsAreRefusedBeforeTheBody) {
  ServerProcess server(with_accounts({"files.max_uploads_per_address=1"}));
  auto ada = account_with_cookie(server, "ada");
  {
    RawClient c;
    ASSERT_TRUE(c.connect(server.port()));
    c.send(
        "POST /api/rooms/general/files?name=big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 20000000\r\n\r\n");
    auto r = c.read_http_response(5s);
    ASSERT_TRUE(r) << "no answer before the body";
    EXPECT_EQ(r->status, 401);
    EXPECT_EQ(code(*r), "unauthorized");
  }
  RawClient slow;
  ASSERT_TRUE(slow.connect(server.port()));
  slow.send("POST /api/rooms/general/files?name=a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n" + cookie_header(ada.cookie) +
            "Content-Length: 10\r\n\r\nhello");
  // The first upload holds the address's one slot while its body is not whole.
  ASSERT_TRUE(eventually([&] { return fetch_metric(server.port(), "parley_files_in_flight") == 1.0; }, 5s));
  auto second = upload(server, ada.cookie, "general", "b.txt", "hello, again\n");
  EXPECT_EQ(second.status, 429) << second.body;
  EXPECT_EQ(code(second), "rate_limited");
  EXPECT_EQ(second.header("retry-after"), "1");
  // Its body done, the slot is free again.
  slow.send("world");
  auto first = slow.read_http_response(10s);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 201) << first->body;
  auto third = upload(server, ada.cookie, "general", "c.txt", "hello, once more\n");
  EXPECT_EQ(third.status, 201) << third.body;
  const std::string metrics = http_get(server.port(), "/metrics").body;
  EXPECT_NE(metrics.find("parley_files_refusals_total{reason=\"anonymous\"} 1"), std::string::npos);
  EXPECT_NE(metrics.find("parley_files_refusals_total{reason=\"per_address\"} "), std::string::npos);
}

TEST(Files, AnImageComesBackWithoutItsMetadata) {
  ServerProcess server(with_accounts({}));
  auto ada = account_with_cookie(server, "ada");
  const std::string secret = "GPS 51.5007N 0.1246W secret";
  const std::string jpg = jpeg_with_exif(secret);
  ASSERT_NE(jpg.find(secret), std::string::npos);
  auto up = upload(server, ada.cookie, "general", "photo.jpg", jpg);
  ASSERT_EQ(up.status, 201) << up.body;
  EXPECT_EQ(str(up.json().as_object(), "type"), "image/jpeg");
  EXPECT_EQ(u64(up.json().as_object(), "width"), 64u);
  auto got = fetch(server, ada.cookie, "/api/files/" + id_of(up));
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.header("content-type"), "image/jpeg");
  EXPECT_EQ(got.body.substr(0, 2), "\xFF\xD8");
  EXPECT_EQ(got.body.find(secret), std::string::npos);
  EXPECT_EQ(got.body.find("Exif"), std::string::npos);
  EXPECT_EQ(got.body.find("secret"), std::string::npos);
}

TEST(Files, AMessageTakesOnlyItsSendersUnattachedUploadsToItsRoom) {
  ServerProcess server(with_accounts({}));
  auto ada = account_with_cookie(server, "ada");
  auto bob = account_with_cookie(server, "bob");
  ada.ws->join("general");
  bob.ws->join("general");
  ASSERT_EQ(type_of(ada.ws->create("other")), "created");
  ada.ws->join("other");
  const std::string png = image(16, 16, "png");
  const std::string mine = id_of(upload(server, ada.cookie, "general", "a.png", png));
  const std::string bobs = id_of(upload(server, bob.cookie, "general", "b.png", png));
  const std::string elsewhere = id_of(upload(server, ada.cookie, "other", "c.png", png));
  ASSERT_FALSE(mine.empty() || bobs.empty() || elsewhere.empty());

  expect_error(*ada.ws,
               {{"type", "send"}, {"room", "general"}, {"cid", "x1"}, {"text", ""}, {"files", json::array{bobs}}},
               "no_such_file");
  expect_error(
      *ada.ws,
      {{"type", "send"}, {"room", "general"}, {"cid", "x2"}, {"text", "hi"}, {"files", json::array{elsewhere}}},
      "no_such_file");
  expect_error(*ada.ws,
               {{"type", "send"},
                {"room", "general"},
                {"cid", "x3"},
                {"text", "hi"},
                {"files", json::array{"f_00000000000000000000000000000000"}}},
               "no_such_file");
  expect_error(*ada.ws, {{"type", "send"}, {"room", "general"}, {"cid", "x4"}, {"text", "hi"}, {"files", "nope"}},
               "bad_request");
  expect_error(*ada.ws,
               {{"type", "send"}, {"room", "general"}, {"cid", "x5"}, {"text", ""}, {"files", json::array{mine, mine}}},
               "bad_request");
  // Without files an empty text is still refused.
  expect_error(*ada.ws, {{"type", "send"}, {"room", "general"}, {"cid", "x6"}, {"text", ""}}, "empty_text");

  auto first = send_files(*ada.ws, "general", "c-1", "one", {mine});
  ASSERT_EQ(type_of(first), "ack") << dump(first);
  // The same cid and files again: a retry, the same seq.
  auto retry = send_files(*ada.ws, "general", "c-1", "one", {mine});
  ASSERT_EQ(type_of(retry), "ack") << dump(retry);
  EXPECT_EQ(u64(retry, "seq"), u64(first, "seq"));
  // Attached already: another message may not take it.
  expect_error(*ada.ws,
               {{"type", "send"}, {"room", "general"}, {"cid", "c-2"}, {"text", "two"}, {"files", json::array{mine}}},
               "no_such_file");
  // A guest has no files to send.
  WsClient guest(server.port());
  guest.hello("carol");
  guest.join("general");
  expect_error(guest,
               {{"type", "send"}, {"room", "general"}, {"cid", "g1"}, {"text", "x"}, {"files", json::array{mine}}},
               "no_such_file");
}

TEST(Files, DeletingTheMessageDeletesItsFiles) {
  ServerProcess server(with_accounts({}));
  auto ada = account_with_cookie(server, "ada");
  ada.ws->join("general");
  const std::string png = image(16, 16, "png");
  const std::string id = id_of(upload(server, ada.cookie, "general", "a.png", png));
  ASSERT_FALSE(id.empty());
  auto ack = send_files(*ada.ws, "general", "c-1", "look", {id});
  ASSERT_EQ(type_of(ack), "ack") << dump(ack);
  ASSERT_EQ(fetch(server, ada.cookie, "/api/files/" + id).status, 200);
  auto del = ada.ws->request({{"type", "delete"}, {"room", "general"}, {"seq", u64(ack, "seq")}});
  ASSERT_NE(type_of(del), "error") << dump(del);
  EXPECT_TRUE(eventually([&] { return fetch(server, ada.cookie, "/api/files/" + id).status == 404; }, 5s));
  EXPECT_EQ(fetch(server, ada.cookie, "/api/files/" + id + "/thumb").status, 404);
  // The deleted message's history entry has no files.
  auto h = ada.ws->request({{"type", "history"}, {"room", "general"}});
  for (const auto& v : h.at("messages").as_array()) EXPECT_FALSE(v.as_object().contains("files")) << dump(h);
  // Its bytes leave the directory with the next sweep.
  const std::string path = server.data_dir() + "/files/" + id;
  EXPECT_TRUE(eventually([&] { return ::access(path.c_str(), F_OK) != 0; }, 30s));
}

// One byte range of a file (RFC 9110 14): a video's seek, a resumed download. 206 with the bytes
// and Content-Range; past the end 416 with "bytes */size" and a JSON error; what this server does
// not take (several ranges, bad syntax) or an If-Range naming another version: the whole file.
// Access is checked as for the whole file.
TEST(Files, ARangeIsThoseBytesAndOnePastTheEndIsRefused) {
  ServerProcess server(with_accounts({}));
  auto ada = account_with_cookie(server, "ada");
  auto eve = account_with_cookie(server, "eve");
  ada.ws->join("general");
  std::string text;
  for (int i = 0; i < 3000; ++i) text += "line " + std::to_string(i) + "\n";
  const std::string id = id_of(upload(server, ada.cookie, "general", "notes.txt", text));
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(type_of(send_files(*ada.ws, "general", "c-1", "", {id})), "ack");
  const std::string path = "/api/files/" + id;
  auto get = [&](const std::string& cookie, const std::string& headers, const std::string& method = "GET") {
    return fetch(server, cookie, path, method, headers);
  };
  const std::string size = std::to_string(text.size());

  auto whole = get(ada.cookie, "");
  ASSERT_EQ(whole.status, 200) << whole.body;
  EXPECT_EQ(whole.body, text);
  EXPECT_EQ(whole.header("accept-ranges"), "bytes");
  const std::string etag = whole.header("etag");
  EXPECT_EQ(etag, "\"" + id + "\"");

  auto part = get(ada.cookie, "Range: bytes=100-199\r\n");
  ASSERT_EQ(part.status, 206) << part.body;
  EXPECT_EQ(part.body, text.substr(100, 100));
  EXPECT_EQ(part.header("content-range"), "bytes 100-199/" + size);
  EXPECT_EQ(part.header("content-length"), "100");
  EXPECT_EQ(part.header("x-content-type-options"), "nosniff");
  EXPECT_EQ(part.header("content-disposition"), "attachment; filename*=UTF-8''notes.txt");
  auto tail = get(ada.cookie, "Range: bytes=-10\r\n");
  ASSERT_EQ(tail.status, 206);
  EXPECT_EQ(tail.body, text.substr(text.size() - 10));
  auto rest = get(ada.cookie, "Range: bytes=20000-\r\n");
  ASSERT_EQ(rest.status, 206);
  EXPECT_EQ(rest.body, text.substr(20000));
  auto head = get(ada.cookie, "Range: bytes=0-9\r\n", "HEAD");
  EXPECT_EQ(head.status, 206);
  EXPECT_EQ(head.header("content-length"), "10");
  EXPECT_EQ(head.header("content-range"), "bytes 0-9/" + size);

  auto past = get(ada.cookie, "Range: bytes=" + size + "-\r\n");
  ASSERT_EQ(past.status, 416) << past.body;
  EXPECT_EQ(past.header("content-range"), "bytes */" + size);
  EXPECT_EQ(str(past.json().as_object(), "code"), "bad_range") << past.body;

  // Several ranges, a unit or syntax not taken, an If-Range of another version: every byte.
  for (const std::string h : {"Range: bytes=0-1,5-6\r\n", "Range: lines=1-2\r\n", "Range: bytes=9-1\r\n",
                              "Range: bytes=0-9\r\nIf-Range: \"f_other\"\r\n"}) {
    auto r = get(ada.cookie, h);
    EXPECT_EQ(r.status, 200) << h;
    EXPECT_EQ(r.body.size(), text.size()) << h;
  }
  auto same = get(ada.cookie, "Range: bytes=0-9\r\nIf-Range: " + etag + "\r\n");
  EXPECT_EQ(same.status, 206);
  EXPECT_EQ(same.body, text.substr(0, 10));

  // A range of a file of a room eve may not read is refused as the whole file is.
  ASSERT_EQ(type_of(ada.ws->request({{"type", "create"}, {"room", "club"}, {"private", true}})), "created");
  ada.ws->join("club");
  const std::string secret = id_of(upload(server, ada.cookie, "club", "secret.txt", text));
  ASSERT_FALSE(secret.empty());
  ASSERT_EQ(type_of(send_files(*ada.ws, "club", "c-2", "", {secret})), "ack");
  EXPECT_EQ(fetch(server, eve.cookie, "/api/files/" + secret, "GET", "Range: bytes=0-9\r\n").status, 403);
}

// A guest (no session) sees what any guest may read: the files of a public room's messages, as
// its history; never an upload not yet sent, nor a private room's (401: signing in may help).
// With auth.guests off, files are for accounts only.
TEST(Files, AGuestFetchesThePublicRoomsFilesOnly) {
  ServerProcess server(with_accounts({}));
  auto ada = account_with_cookie(server, "ada");
  ada.ws->join("general");
  const std::string png = image(24, 24, "png");
  const std::string sent = id_of(upload(server, ada.cookie, "general", "sent.png", png));
  const std::string unsent = id_of(upload(server, ada.cookie, "general", "unsent.png", png));
  ASSERT_FALSE(sent.empty() || unsent.empty());
  ASSERT_EQ(type_of(send_files(*ada.ws, "general", "c-1", "for everyone", {sent})), "ack");
  auto got = fetch(server, "", "/api/files/" + sent);
  EXPECT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(fetch(server, "", "/api/files/" + sent + "/thumb").status, 200);
  EXPECT_EQ(fetch(server, "", "/api/files/" + unsent).status, 404);

  ASSERT_EQ(type_of(ada.ws->request({{"type", "create"}, {"room", "club"}, {"private", true}})), "created");
  ada.ws->join("club");
  const std::string secret = id_of(upload(server, ada.cookie, "club", "secret.png", png));
  ASSERT_EQ(type_of(send_files(*ada.ws, "club", "c-2", "members only", {secret})), "ack");
  auto refused = fetch(server, "", "/api/files/" + secret);
  EXPECT_EQ(refused.status, 401) << refused.body;
  EXPECT_EQ(code(refused), "unauthorized");
  EXPECT_EQ(fetch(server, ada.cookie, "/api/files/" + secret).status, 200);

  ServerProcess closed(with_accounts({"auth.guests=false"}));
  auto bob = account_with_cookie(closed, "bob");
  bob.ws->join("general");
  const std::string id = id_of(upload(closed, bob.cookie, "general", "b.png", png));
  ASSERT_EQ(type_of(send_files(*bob.ws, "general", "c-1", "accounts only", {id})), "ack");
  EXPECT_EQ(fetch(closed, "", "/api/files/" + id).status, 401);
  EXPECT_EQ(fetch(closed, bob.cookie, "/api/files/" + id).status, 200);
}

// A start clears what uploads cut short by a crash left in files.dir/tmp, but only what has not
// been written to for longer than an upload may take: in a cluster the directory is shared, and a
// node restarting must not take the temporary files of another node's uploads under way.
TEST(Files, AStartRemovesOnlyStaleTemporaryFiles) {
  ServerProcess server(with_accounts({}));
  server.stop();
  const std::filesystem::path tmp = std::filesystem::path(server.data_dir()) / "files" / "tmp";
  std::filesystem::create_directories(tmp);
  for (const char* name : {"stale.part", "fresh.part"}) {
    std::ofstream(tmp / name) << "partial upload";
  }
  // Past the default upload timeout (5 minutes) and the 10 minutes it is given beyond that.
  std::filesystem::last_write_time(tmp / "stale.part",
                                   std::filesystem::file_time_type::clock::now() - std::chrono::minutes(16));
  server.restart();
  EXPECT_FALSE(std::filesystem::exists(tmp / "stale.part"));
  EXPECT_TRUE(std::filesystem::exists(tmp / "fresh.part"));
}

}  // namespace
}  // namespace parley::it
