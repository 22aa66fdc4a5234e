// The checkout as a retrying client sees it, shared by the tests that drive
// the real shop and payment service through faults (tests/torture,
// tests/failover, tests/soak): send a request again, with the same
// idempotency key, until the answer is definitive; read every page of a
// list; list the PENDING workflows through an admin server. Header-only.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/http_service.hpp"

namespace keel::e2e {

// A checkout's order has ended: nothing will change it any more.
inline bool is_terminal_order(const std::string& status) {
  return status == "fulfilled" || status == "cancelled" || status == "failed";
}

// Sends until the answer is neither a transport error (the service is down)
// nor a 5xx (except the definitive `definitive_5xx` error code, e.g. the
// shop's payment_unavailable) nor 409 request_in_progress, or until `budget`
// is spent: nullopt, the client gave up. Backoff from 50 ms, doubling, at
// most 500 ms: a restarted service is found within half a second.
inline std::optional<apps::HttpClientResponse> until_definitive(
    const std::function<apps::HttpClientResponse()>& send, std::chrono::milliseconds budget,
    const std::string& definitive_5xx = "") {
  using Clock = std::chrono::steady_clock;
  const auto until = Clock::now() + budget;
  auto backoff = std::chrono::milliseconds(50);
  for (;;) {
    try {
      auto r = send();
      std::string error;
      try {
        error = r.json().value("error", "");
      } catch (const std::exception&) {  // not JSON: no error code
      }
      bool retry = false;
      if (r.status >= 500) retry = definitive_5xx.empty() || error != definitive_5xx;
      if (r.status == 409) retry = error == "request_in_progress";
      if (!retry) return r;
    } catch (const std::exception&) {  // connection refused or reset
    }
    if (Clock::now() + backoff > until) return std::nullopt;
    std::this_thread::sleep_for(backoff);
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::milliseconds(500));
  }
}

// GET url as JSON, retried as above for up to `budget`; throws when no 200 came.
inline nlohmann::json get_json(const apps::HttpClient& http, const std::string& url,
                               std::chrono::milliseconds budget = std::chrono::seconds(30)) {
  auto r = until_definitive([&] { return http.get(url); }, budget);
  if (!r || r->status != 200) throw std::runtime_error("GET " + url + " failed" + (r ? ": " + r->body : ""));
  return r->json();
}

// Every item of a keyset-paged list (the shop's /orders, the payment
// service's /api/charges: {"<field>": [...], "next": cursor or null}).
inline std::vector<nlohmann::json> all_pages(const apps::HttpClient& http, const std::string& url,
                                             const std::string& field) {
  std::vector<nlohmann::json> out;
  std::string after;
  for (int page = 0; page < 1000; ++page) {
    nlohmann::json j = get_json(http, url + "?limit=500" + (after.empty() ? "" : "&after=" + after));
    for (const auto& item : j.at(field)) out.push_back(item);
    if (j.at("next").is_null()) break;
    after = j.at("next").get<std::string>();
  }
  return out;
}

// The PENDING workflows of a database, through one of its admin servers.
inline std::vector<nlohmann::json> pending_workflows(const apps::HttpClient& http, const std::string& admin_url) {
  nlohmann::json j = get_json(http, admin_url + "/workflows?status=PENDING&limit=10000");
  return j.at("workflows").get<std::vector<nlohmann::json>>();
}

}  // namespace keel::e2e
