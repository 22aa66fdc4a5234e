// What the checkout's full-disk tests share (shop_full_disk_test.cpp on
// SQLite, shop_postgres_full_disk_test.cpp on PostgreSQL): the services as in
// the end-to-end tests, a client that does not wait out a checkout stuck on
// the full disk, the storage_full answer's shape, and the fill: checkouts
// until one is refused with it.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "shop_e2e_fixture.hpp"

namespace keel_shop_e2e {

class FullDiskShopFixture : public ShopE2E {
 protected:
  // The fill's requests: a checkout that met the full disk after its start
  // may wait; the test moves on instead.
  HttpClient quick{{.connect_timeout = 2000ms, .read_timeout = 4000ms, .write_timeout = 4000ms}};

  static bool is_storage_full(const HttpClientResponse& r) {
    try {
      return r.status == 503 && r.json().value("error", "") == "storage_full";
    } catch (const std::exception&) {
      return false;
    }
  }

  struct Fill {
    std::map<std::string, std::string> acknowledged;  // order -> session: answered 200
    std::set<std::string> unanswered;                 // timeouts, other answers: in flight
    std::string refused_key;                          // the request answered storage_full
    HttpClientResponse refused;
  };

  // Checkouts "fd-<i>" until one is refused with storage_full (at most
  // `attempts`). after_ack(i, order, session) may make another request of an
  // acknowledged checkout (a payment): its storage_full answer ends the fill
  // the same way. Never a 500.
  Fill fill_until_refused(int attempts,
                          const std::function<std::optional<HttpClientResponse>(int, const std::string&,
                                                                                const std::string&)>& after_ack = {}) {
    Fill f;
    for (int i = 0; i < attempts && f.refused_key.empty(); ++i) {
      const std::string key = "fd-" + std::to_string(i);
      HttpClientResponse r;
      try {
        r = quick.request("POST", shop_url() + "/checkout/" + key, {{"Accept", "application/json"}}, "");
      } catch (const keel::apps::HttpTransportError&) {
        f.unanswered.insert(key);
        continue;
      }
      if (r.status == 200) {
        const std::string sid = r.json().at("session_id").get<std::string>();
        f.acknowledged[key] = sid;
        if (!after_ack) continue;
        if (auto p = after_ack(i, key, sid); p && is_storage_full(*p)) {
          f.refused_key = key;
          f.refused = *p;
        }
      } else if (is_storage_full(r)) {
        f.refused_key = key;
        f.refused = r;
      } else {
        EXPECT_NE(r.status, 500) << key << ": " << r.body;
        f.unanswered.insert(key);
      }
    }
    return f;
  }

  // The refused checkout, repeated (with its key) as the 503 invited, once
  // space is freed: it goes through within 30 s and joins the acknowledged.
  void repeat_refused_checkout(Fill& f) {
    HttpClientResponse again;
    EXPECT_TRUE(eventually([&] {
      again = checkout(f.refused_key);
      return again.status == 200;
    }, 30s)) << again.status << " " << again.body;
    if (again.status == 200) f.acknowledged[f.refused_key] = again.json().at("session_id").get<std::string>();
  }
};

}  // namespace keel_shop_e2e
