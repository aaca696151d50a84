#include "net/static_files.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace {

namespace fs = std::filesystem;
using parley::net::mime_type;
using parley::net::resolve_static;

class StaticFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    base_ = fs::temp_directory_path() / ("parley-static-" + std::to_string(rd()) + std::to_string(rd()));
    root_ = base_ / "web";
    fs::create_directories(root_ / "css");
    fs::create_directories(root_ / "sub");
    fs::create_directories(root_ / "emptydir");
    fs::create_directories(root_ / ".git");
    fs::create_directories(root_ / "dotted.dir");
    write(root_ / "index.html", "<!doctype html>");
    write(root_ / "a.js", "export {}");
    write(root_ / "css" / "site.css", "body{}");
    write(root_ / "sub" / "index.html", "sub");
    write(root_ / ".env", "SECRET=1");
    write(root_ / ".git" / "config", "[core]");
    write(root_ / "dotted.dir" / "x.txt", "x");
    write(root_ / "with space.txt", "s");
    write(base_ / "secret.txt", "outside the web root");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(base_, ec);
  }
  static void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

  // The canonical file for `target`, or "" when refused.
  std::string get(std::string_view target) const {
    auto r = resolve_static(root_, target);
    if (!r) return {};
    return fs::weakly_canonical(*r).string();
  }
  std::string file(const fs::path& rel) const { return fs::weakly_canonical(root_ / rel).string(); }
  bool inside_root(const fs::path& p) const {
    const std::string root = fs::weakly_canonical(root_).string() + "/";
    return fs::weakly_canonical(p).string().rfind(root, 0) == 0;
  }

  fs::path base_, root_;
};

TEST_F(StaticFiles, RootIsIndex) { EXPECT_EQ(get("/"), file("index.html")); }

TEST_F(StaticFiles, PlainFiles) {
  EXPECT_EQ(get("/index.html"), file("index.html"));
  EXPECT_EQ(get("/a.js"), file("a.js"));
  EXPECT_EQ(get("/css/site.css"), file("css/site.css"));
  EXPECT_EQ(get("/dotted.dir/x.txt"), file("dotted.dir/x.txt"));  // a dot inside a name is fine
}

TEST_F(StaticFiles, QueryAndFragmentAreIgnored) {
  EXPECT_EQ(get("/a.js?x=1"), file("a.js"));
  EXPECT_EQ(get("/a.js?v=2&x=/../../secret.txt"), file("a.js"));
  EXPECT_EQ(get("/a.js#top"), file("a.js"));
  EXPECT_EQ(get("/?x=1"), file("index.html"));
}

TEST_F(StaticFiles, DirectoryServesItsIndex) {
  EXPECT_EQ(get("/sub"), file("sub/index.html"));
  EXPECT_EQ(get("/sub/"), file("sub/index.html"));
  EXPECT_EQ(get("/emptydir"), "");  // no index.html
  EXPECT_EQ(get("/emptydir/"), "");
}

TEST_F(StaticFiles, PercentDecoding) {
  EXPECT_EQ(get("/with%20space.txt"), file("with space.txt"));
  EXPECT_EQ(get("/%61.js"), file("a.js"));
  EXPECT_EQ(get("/%61.j%73"), file("a.js"));
}

TEST_F(StaticFiles, MissingFile) {
  EXPECT_EQ(get("/missing.js"), "");
  EXPECT_EQ(get("/css/missing.css"), "");
  EXPECT_EQ(get("/nodir/x"), "");
}

TEST_F(StaticFiles, NotAnOriginFormTarget) {
  EXPECT_EQ(get(""), "");
  EXPECT_EQ(get("a.js"), "");
  EXPECT_EQ(get("?x"), "");
  EXPECT_EQ(get("*"), "");
  EXPECT_EQ(get("http://example.com/a.js"), "");
}

TEST_F(StaticFiles, DotDotIsRefused) {
  for (const char* t : {"/..", "/../secret.txt", "/sub/../a.js", "/sub/../../secret.txt", "/css/..", "/./a.js", "/.",
                        "/sub/./index.html"}) {
    EXPECT_EQ(get(t), "") << t;
  }
}

TEST_F(StaticFiles, EncodedDotDotIsRefused) {
  for (const char* t :
       {"/%2e%2e/secret.txt", "/%2E%2E/secret.txt", "/.%2e/secret.txt", "/%2e./secret.txt", "/%2e%2e%2fsecret.txt",
        "/%2e%2e%2Fsecret.txt", "/sub%2f..%2f..%2fsecret.txt", "/sub/%2e%2e/%2e%2e/secret.txt"}) {
    EXPECT_EQ(get(t), "") << t;
  }
}

TEST_F(StaticFiles, DoubleEncodingIsNotDecodedTwice) {
  EXPECT_EQ(get("/%252e%252e/secret.txt"), "");
  EXPECT_EQ(get("/%25"), "");
}

TEST_F(StaticFiles, EncodedSlashStaysInsideTheRoot) {
  const auto r = resolve_static(root_, "/css%2fsite.css");
  if (r) {
    EXPECT_TRUE(inside_root(*r)) << *r;
  }
}

TEST_F(StaticFiles, HiddenFilesAreRefused) {
  for (const char* t : {"/.env", "/.git/config", "/.git", "/.git/", "/%2eenv", "/%2Egit/config", "/sub/.hidden"}) {
    EXPECT_EQ(get(t), "") << t;
  }
}

TEST_F(StaticFiles, NulIsRefused) {
  EXPECT_EQ(get("/a.js%00"), "");
  EXPECT_EQ(get("/a.js%00.html"), "");
  EXPECT_EQ(get(std::string_view("/a.js\0", 6)), "");
}

TEST_F(StaticFiles, BackslashIsRefused) {
  EXPECT_EQ(get("/..\\secret.txt"), "");
  EXPECT_EQ(get("/%5c..%5csecret.txt"), "");
  EXPECT_EQ(get("/css\\site.css"), "");
  EXPECT_EQ(get("/%5C"), "");
}

TEST_F(StaticFiles, MalformedPercentIsRefused) {
  for (const char* t : {"/%", "/%4", "/a.js%", "/a.js%2", "/%zz", "/%g1", "/%1g", "/%%41"}) {
    EXPECT_EQ(get(t), "") << t;
  }
}

TEST_F(StaticFiles, EveryServedFileIsInsideTheRoot) {
  // Absolute-path tricks: an empty first segment would make `root / path` an absolute path.
  const std::string secret = fs::weakly_canonical(base_ / "secret.txt").string();  // starts with '/'
  for (const std::string& t :
       {"/" + secret, "/%2f" + secret.substr(1), "/%2F" + secret.substr(1), "/" + secret + "?x"}) {
    SCOPED_TRACE(t);
    const auto r = resolve_static(root_, t);
    if (r) {
      EXPECT_TRUE(inside_root(*r)) << *r << " is outside the web root";
    }
    EXPECT_FALSE(r.has_value());
  }
}

TEST(MimeType, KnownExtensions) {
  EXPECT_EQ(mime_type("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(mime_type("a/b/app.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(mime_type("m.mjs"), "text/javascript; charset=utf-8");
  EXPECT_EQ(mime_type("site.css"), "text/css; charset=utf-8");
  EXPECT_EQ(mime_type("x.json"), "application/json");
  EXPECT_EQ(mime_type("manifest.webmanifest"), "application/json");
  EXPECT_EQ(mime_type("i.svg"), "image/svg+xml");
  EXPECT_EQ(mime_type("i.png"), "image/png");
  EXPECT_EQ(mime_type("i.jpg"), "image/jpeg");
  EXPECT_EQ(mime_type("i.jpeg"), "image/jpeg");
  EXPECT_EQ(mime_type("i.gif"), "image/gif");
  EXPECT_EQ(mime_type("i.webp"), "image/webp");
  EXPECT_EQ(mime_type("favicon.ico"), "image/x-icon");
  EXPECT_EQ(mime_type("f.woff2"), "font/woff2");
  EXPECT_EQ(mime_type("robots.txt"), "text/plain; charset=utf-8");
  EXPECT_EQ(mime_type("README.md"), "text/plain; charset=utf-8");
}

TEST(MimeType, UnknownIsOctetStream) {
  EXPECT_EQ(mime_type("x.exe"), "application/octet-stream");
  EXPECT_EQ(mime_type("Makefile"), "application/octet-stream");
  EXPECT_EQ(mime_type(".html"), "application/octet-stream");  // a hidden file named .html has no extension
  EXPECT_EQ(mime_type("archive.tar.gz"), "application/octet-stream");
}

}  // namespace
