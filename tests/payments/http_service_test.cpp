// Tests of the shared HTTP layer (apps/common/http_service): routing, error
// bodies, limits, and the client.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "common/http_service.hpp"
#include "common/webhook_signature.hpp"

using namespace keel::apps;
using nlohmann::json;

namespace {

// Sends raw bytes and reads the answer until the server closes or timeout_s
// passes without data.
std::string raw_exchange(int port, const std::string& request, int timeout_s = 5) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return "";
  }
  timeval tv{timeout_s, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::send(fd, request.data(), request.size(), 0);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

class HttpServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    svc.route("POST", "/checkout/:key?", [](const HttpRequest& req) {
      json body = parse_json_body(req, /*allow_empty=*/true);
      json out = {{"key", req.path_param("key").value_or("<none>")}, {"body", body}};
      if (auto h = req.header("X-Test")) out["x_test"] = *h;
      return HttpResponse::json(out);
    });
    svc.route("GET", "/items/:id", [](const HttpRequest& req) {
      json out = {{"id", req.path_param("id").value()}};
      if (auto l = req.query_param("limit")) out["limit"] = *l;
      return HttpResponse::json(out);
    });
    svc.route("GET", "/fail", [](const HttpRequest&) -> HttpResponse {
      throw HttpError(409, "already_paid", "the session is paid", {{"payment_status", "paid"}});
    });
    svc.route("GET", "/boom", [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("kaboom"); });
    svc.route("GET", "/text", [](const HttpRequest&) { return HttpResponse::text("hello\n"); });
    svc.start("127.0.0.1", 0);
    base = svc.base_url();
  }
  HttpService svc{"test"};
  HttpClient client;
  std::string base;
};

TEST_F(HttpServiceTest, RoutesWithOptionalAndRequiredParams) {
  auto r = client.post_json(base + "/checkout/abc", {{"X-Test", "yes"}}, R"({"a":1})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["key"], "abc");
  EXPECT_EQ(r.json()["body"]["a"], 1);
  EXPECT_EQ(r.json()["x_test"], "yes");

  r = client.post_json(base + "/checkout", {}, "");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["key"], "<none>");
  EXPECT_TRUE(r.json()["body"].is_null());

  r = client.get(base + "/items/42?limit=7&limit=8");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["id"], "42");
  EXPECT_EQ(r.json()["limit"], "7");
  EXPECT_EQ(r.header("CONTENT-TYPE").value_or(""), "application/json");

  EXPECT_EQ(client.get(base + "/text").body, "hello\n");
  EXPECT_EQ(svc.routes().size(), 5u);
  EXPECT_EQ(svc.routes()[0], "POST /checkout/:key?");
}

TEST_F(HttpServiceTest, ErrorsAreJson) {
  auto r = client.get(base + "/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.json()["error"], "not_found");

  r = client.get(base + "/items/1/extra");
  EXPECT_EQ(r.status, 404);

  r = client.get(base + "/checkout/abc");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.json()["error"], "method_not_allowed");
  EXPECT_EQ(r.header("allow").value_or(""), "POST");

  r = client.request("DELETE", base + "/items/3", {}, "");
  EXPECT_EQ(r.status, 405);

  r = client.get(base + "/fail");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.json()["error"], "already_paid");
  EXPECT_EQ(r.json()["payment_status"], "paid");
  EXPECT_EQ(r.json()["message"], "the session is paid");

  r = client.get(base + "/boom");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.json()["error"], "internal_error");

  r = client.post_json(base + "/checkout/k", {}, "{not json");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"], "invalid_json");
}

TEST_F(HttpServiceTest, PostWithoutContentLengthIsServedAtOnce) {
  // As `curl -X POST URL` sends it: no Content-Length, no body.
  auto t0 = std::chrono::steady_clock::now();
  std::string answer = raw_exchange(svc.port(), "POST /checkout/k7 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
  EXPECT_NE(answer.find("\"key\":\"k7\""), std::string::npos) << answer;

  answer = raw_exchange(svc.port(), "FOO /items/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                        /*timeout_s=*/1);  // the library keeps this connection open
  EXPECT_EQ(answer.rfind("HTTP/1.1 405", 0), 0u) << answer;
  EXPECT_NE(answer.find("method_not_allowed"), std::string::npos) << answer;
}

TEST_F(HttpServiceTest, BodyLimit) {
  std::string big = "\"" + std::string(1024 * 1024, 'x') + "\"";  // 1 MiB + 2 bytes
  auto r = client.post_json(base + "/checkout/k", {}, big);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.json()["error"], "payload_too_large");

  std::string fits = "\"" + std::string(1024 * 1024 - 2, 'x') + "\"";  // exactly 1 MiB
  r = client.post_json(base + "/checkout/k", {}, fits);
  EXPECT_EQ(r.status, 200);
  // The server still works after a rejected body.
  EXPECT_EQ(client.get(base + "/items/1").status, 200);
}

// A body of 100 000 nested arrays (200 KB, under the body limit) parsed
// fine, then dump() (here the echo; in the payment service the request
// fingerprint) recursed once per level and overflowed the handler thread's
// stack: the whole process died of SIGSEGV. Now 400 before any handler runs.
TEST_F(HttpServiceTest, DeeplyNestedJsonIs400NotAStackOverflow) {
  const std::string deep = "{\"a\":" + std::string(100'000, '[') + std::string(100'000, ']') + "}";
  auto r = client.post_json(base + "/checkout/k", {}, deep);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"], "invalid_json");

  // 64 levels (kMaxJsonDepth) are fine, 65 are not.
  std::string ok = std::string(kMaxJsonDepth - 1, '[') + R"({"a":1})" + std::string(kMaxJsonDepth - 1, ']');
  EXPECT_EQ(client.post_json(base + "/checkout/k", {}, ok).status, 200);
  EXPECT_EQ(client.post_json(base + "/checkout/k", {}, "[" + ok + "]").status, 400);
}

TEST_F(HttpServiceTest, ConcurrentRequests) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 16; ++i)
    threads.emplace_back([&, i] {
      auto r = client.get(base + "/items/" + std::to_string(i));
      if (r.status == 200 && r.json()["id"] == std::to_string(i)) ++ok;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 16);
}

// fuzz_shop_webhook (seed t_int64_min): the tolerance check computed
// now - t, which overflows for t near INT64_MIN (undefined behaviour).
TEST(WebhookSignature, TimestampsAtTheInt64EdgesAreStaleOrMalformed) {
  const int64_t now = 1'765'000'000;
  EXPECT_EQ(verify_webhook("s", "t=-9223372036854775808,v1=00", "{}", now), SignatureCheck::Stale);
  EXPECT_EQ(verify_webhook("s", "t=9223372036854775807,v1=00", "{}", now), SignatureCheck::Stale);
  EXPECT_EQ(verify_webhook("s", "t=9223372036854775808,v1=00", "{}", now), SignatureCheck::Malformed);
  EXPECT_EQ(verify_webhook("s", sign_webhook("s", now - 300, "{}"), "{}", now), SignatureCheck::Valid);
  EXPECT_EQ(verify_webhook("s", sign_webhook("s", now + 301, "{}"), "{}", now), SignatureCheck::Stale);
}

TEST(HttpServiceStandalone, BindFailureThrowsAndStopIsIdempotent) {
  HttpService a("a");
  a.route("GET", "/x", [](const HttpRequest&) { return HttpResponse::json(json::object()); });
  a.start("127.0.0.1", 0);
  HttpService b("b");
  EXPECT_THROW(b.start("127.0.0.1", a.port()), std::runtime_error);
  a.stop();
  a.stop();
}

TEST(HttpClientStandalone, TransportErrorsAndBadUrls) {
  HttpService a("a");
  a.start("127.0.0.1", 0);
  int port = a.port();
  a.stop();
  HttpClient client({.connect_timeout = std::chrono::milliseconds(500)});
  EXPECT_THROW(client.post_json("http://127.0.0.1:" + std::to_string(port) + "/x", {}, "{}"), HttpTransportError);
  EXPECT_THROW(client.get("not a url"), std::invalid_argument);
  EXPECT_THROW(client.get("ftp://127.0.0.1/x"), std::invalid_argument);
}

TEST(HttpClientStandalone, ReadTimeout) {
  HttpService a("slow");
  a.route("GET", "/slow", [](const HttpRequest&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    return HttpResponse::json(json::object());
  });
  a.start("127.0.0.1", 0);
  HttpClient client({.read_timeout = std::chrono::milliseconds(300)});
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(client.get(a.base_url() + "/slow"), HttpTransportError);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1400));
}

}  // namespace
