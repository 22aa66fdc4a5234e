// GET /orders/:order_id/events: the order's progress as Server-Sent Events,
// read over real loopback HTTP (cpp-httplib's client, chunk by chunk) from
// the real shop while its checkout runs. Again on PostgreSQL as
// postgres.ShopE2E.OrderEvents* (label postgres).
#include <httplib.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "shop_e2e_fixture.hpp"

namespace keel_shop_e2e {
namespace {

// The SSE stream of one order, read on a thread of its own.
class EventsReader {
 public:
  EventsReader(int port, const std::string& order_id, const std::string& last_event_id = "") {
    thread_ = std::thread([this, port, order_id, last_event_id] {
      httplib::Client c("127.0.0.1", port);
      c.set_read_timeout(std::chrono::seconds(90));
      httplib::Headers headers;
      if (!last_event_id.empty()) headers.emplace("Last-Event-ID", last_event_id);
      auto res = c.Get(
          "/orders/" + order_id + "/events", headers,
          [this](const httplib::Response& r) {
            std::lock_guard lock(mu_);
            status_ = r.status;
            content_type_ = r.get_header_value("Content-Type");
            return true;
          },
          [this](const char* data, size_t n) {
            std::lock_guard lock(mu_);
            text_.append(data, n);
            return true;
          });
      if (!res) {
        std::lock_guard lock(mu_);
        error_ = httplib::to_string(res.error());
      }
      done_ = true;
    });
  }
  ~EventsReader() { join(); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  bool done() const { return done_; }
  std::string text() const {
    std::lock_guard lock(mu_);
    return text_;
  }
  int status() const {
    std::lock_guard lock(mu_);
    return status_;
  }
  std::string content_type() const {
    std::lock_guard lock(mu_);
    return content_type_;
  }
  std::string error() const {
    std::lock_guard lock(mu_);
    return error_;
  }
  // The "event:" names, in order ("end" last once the stream ended).
  std::vector<std::string> events() const { return lines_with("event: "); }
  std::vector<std::string> ids() const { return lines_with("id: "); }

 private:
  std::vector<std::string> lines_with(const std::string& prefix) const {
    std::vector<std::string> out;
    std::string t = text();
    size_t at = 0;
    while (at < t.size()) {
      size_t nl = t.find('\n', at);
      if (nl == std::string::npos) break;
      std::string line = t.substr(at, nl - at);
      if (line.rfind(prefix, 0) == 0) out.push_back(line.substr(prefix.size()));
      at = nl + 1;
    }
    return out;
  }
  mutable std::mutex mu_;
  std::string text_, content_type_, error_;
  int status_ = 0;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

using Events = std::vector<std::string>;

TEST_F(ShopE2E, OrderEventsStreamEachStateWhileTheCheckoutRuns) {
  start_payments();
  start_shop();
  json j = checkout_ok("sse-paid");
  const std::string sid = j.value("session_id", std::string());
  ASSERT_FALSE(sid.empty());

  EventsReader reader(shop_port, "sse-paid");
  // The states so far arrive while the checkout still waits for its payment:
  // the response is open, not buffered until the end.
  ASSERT_TRUE(eventually([&] { return reader.events().size() >= 2; }, 20s)) << reader.text() << reader.error();
  EXPECT_EQ(reader.events(), (Events{"reserving", "awaiting_payment"}));
  EXPECT_FALSE(reader.done());
  EXPECT_EQ(reader.status(), 200);
  EXPECT_EQ(reader.content_type(), "text/event-stream");

  auto paid = pay_action("submit_payment", sid);
  ASSERT_EQ(paid.status, 200) << paid.body;
  reader.join();  // the stream ends with the checkout
  EXPECT_EQ(reader.error(), "");
  EXPECT_EQ(reader.events(), (Events{"reserving", "awaiting_payment", "fulfilled", "end"})) << reader.text();
  EXPECT_EQ(reader.ids(), (Events{"0", "1", "2"}));
  EXPECT_NE(reader.text().find(R"(data: {"order_id":"sse-paid","status":"fulfilled"})"), std::string::npos)
      << reader.text();
  EXPECT_EQ(status_of("sse-paid"), "fulfilled");

  // After the end: the whole history at once, then the end; a reconnecting
  // client (Last-Event-ID) gets only what follows.
  EventsReader again(shop_port, "sse-paid");
  again.join();
  EXPECT_EQ(again.events(), (Events{"reserving", "awaiting_payment", "fulfilled", "end"}));
  EventsReader resumed(shop_port, "sse-paid", "1");
  resumed.join();
  EXPECT_EQ(resumed.events(), (Events{"fulfilled", "end"}));
  check_rules();
}

TEST_F(ShopE2E, OrderEventsEndCancelledOrFailedAnd404ForAnUnknownOrder) {
  start_payments();
  start_shop();
  auto missing = http.get(shop_url() + "/orders/no-such-order/events");
  EXPECT_EQ(missing.status, 404) << missing.body;
  EXPECT_EQ(missing.json().value("error", ""), "order_not_found");
  EXPECT_NE(missing.header("content-type").value_or("").find("application/json"), std::string::npos);

  json j = checkout_ok("sse-cancelled");
  EventsReader reader(shop_port, "sse-cancelled");
  ASSERT_TRUE(eventually([&] { return reader.events().size() >= 2; }, 20s)) << reader.text() << reader.error();
  auto r = pay_action("cancel_payment", j.value("session_id", std::string()));
  ASSERT_EQ(r.status, 200) << r.body;
  reader.join();
  EXPECT_EQ(reader.events(), (Events{"reserving", "awaiting_payment", "cancelled", "end"})) << reader.text();

  auto refused = checkout("sse-failed", R"({"items":[{"product_id":1,"quantity":100001}]})");
  EXPECT_EQ(refused.status, 409) << refused.body;
  EventsReader failed(shop_port, "sse-failed");
  failed.join();
  EXPECT_EQ(failed.events(), (Events{"failed", "end"})) << failed.text();
  check_rules();
}

}  // namespace
}  // namespace keel_shop_e2e
