// A small W3C WebDriver client for the browser tests: it starts Debian's
// `chromedriver` on a loopback port, opens one headless Chromium session, and
// offers what the tests need (navigate, find, click, type, read text, run a
// script, screenshot, the page's console log). Header-only, over
// cpp-httplib; nothing here talks to anything but 127.0.0.1.
//
// Every browser test fails on a JavaScript error: `console_errors()` returns
// the SEVERE entries of the browser log since the last call (Chromium logs
// uncaught exceptions and console.error there).
//
// Not thread-safe: one test thread drives one Browser.
#pragma once

#include <httplib.h>
#include <openssl/evp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace keel::testing {

// Where Debian puts them; a test skips (GTEST_SKIP) when they are missing.
inline constexpr const char* kChromiumPath = "/usr/bin/chromium";
inline constexpr const char* kChromedriverPath = "/usr/bin/chromedriver";

inline bool browser_available() {
  return ::access(kChromiumPath, X_OK) == 0 && ::access(kChromedriverPath, X_OK) == 0;
}

// Thrown when a WebDriver command fails (no such element, a timeout, ...).
struct WebDriverError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// An element reference returned by find(); pass it back to click()/text()/...
struct Element {
  std::string id;
};

class Browser {
 public:
  // Starts chromedriver on `driver_port` (a free loopback port) and a headless
  // Chromium session; screenshots go to `artifacts_dir` (created).
  Browser(int driver_port, std::string artifacts_dir)
      : port_(driver_port), artifacts_(std::move(artifacts_dir)), http_("127.0.0.1", driver_port) {
    std::filesystem::create_directories(artifacts_);
    start_driver();
    http_.set_read_timeout(60, 0);
    nlohmann::json caps = {
        {"capabilities",
         {{"alwaysMatch",
           {{"browserName", "chrome"},
            {"goog:loggingPrefs", {{"browser", "ALL"}}},
            {"goog:chromeOptions",
             {{"binary", kChromiumPath},
              {"args",
               {"--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
                "--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-default-apps", "--disable-sync"}}}}}}}}};
    auto r = command("POST", "/session", caps);
    session_ = r.at("sessionId").get<std::string>();
    command("POST", path("/timeouts"), {{"implicit", 0}, {"pageLoad", 30000}, {"script", 30000}});
  }

  ~Browser() {
    try {
      if (!session_.empty()) http_.Delete(("/session/" + session_).c_str());
    } catch (...) {
    }
    if (driver_pid_ > 0) {
      ::kill(driver_pid_, SIGTERM);
      int st = 0;
      for (int i = 0; i < 100 && ::waitpid(driver_pid_, &st, WNOHANG) == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (::waitpid(driver_pid_, &st, WNOHANG) == 0) {
        ::kill(driver_pid_, SIGKILL);
        ::waitpid(driver_pid_, &st, 0);
      }
    }
  }
  Browser(const Browser&) = delete;
  Browser& operator=(const Browser&) = delete;

  void go(const std::string& url) { command("POST", path("/url"), {{"url", url}}); }
  std::string url() { return command("GET", path("/url")).get<std::string>(); }
  std::string title() { return command("GET", path("/title")).get<std::string>(); }
  std::string source() { return command("GET", path("/source")).get<std::string>(); }
  void refresh() { command("POST", path("/refresh"), nlohmann::json::object()); }

  // The first element matching a CSS selector, or nothing.
  std::optional<Element> try_find(const std::string& css) {
    auto r = command_raw("POST", path("/element"), {{"using", "css selector"}, {"value", css}});
    if (r.status == 404) return std::nullopt;
    auto v = check(r, "find " + css);
    return Element{v.begin()->get<std::string>()};
  }
  std::vector<Element> find_all(const std::string& css) {
    auto v = command("POST", path("/elements"), {{"using", "css selector"}, {"value", css}});
    std::vector<Element> out;
    for (auto& e : v) out.push_back(Element{e.begin()->get<std::string>()});
    return out;
  }
  // Waits up to `timeout` for an element matching `css`; throws if none.
  Element find(const std::string& css, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    Element e;
    if (!wait_until([&] {
          auto f = try_find(css);
          if (f) e = *f;
          return f.has_value();
        }, timeout))
      throw WebDriverError("no element matches " + css + " at " + url());
    return e;
  }

  void click(const Element& e) { command("POST", path("/element/" + e.id + "/click"), nlohmann::json::object()); }
  void type(const Element& e, const std::string& text) {
    command("POST", path("/element/" + e.id + "/value"), {{"text", text}});
  }
  void clear(const Element& e) { command("POST", path("/element/" + e.id + "/clear"), nlohmann::json::object()); }
  std::string text(const Element& e) { return command("GET", path("/element/" + e.id + "/text")).get<std::string>(); }
  std::string attribute(const Element& e, const std::string& name) {
    auto v = command("GET", path("/element/" + e.id + "/property/" + name));
    return v.is_string() ? v.get<std::string>() : v.dump();
  }
  std::string text(const std::string& css) { return text(find(css)); }
  void click(const std::string& css) { click(find(css)); }

  // Runs `script` (a function body; `arguments` holds args) and returns its value.
  nlohmann::json execute(const std::string& script, nlohmann::json args = nlohmann::json::array()) {
    return command("POST", path("/execute/sync"), {{"script", script}, {"args", args}});
  }

  // Accepts (or dismisses) an open window.confirm/alert; returns its text.
  std::string accept_dialog(bool accept = true) {
    std::string t;
    wait_until([&] {
      auto r = command_raw("GET", path("/alert/text"));
      if (r.status != 200) return false;
      t = nlohmann::json::parse(r.body).at("value").get<std::string>();
      return true;
    }, std::chrono::seconds(5));
    command("POST", path(accept ? "/alert/accept" : "/alert/dismiss"), nlohmann::json::object());
    return t;
  }

  // Saves a PNG of the viewport as <artifacts_dir>/<name>.png; returns the path.
  std::string screenshot(const std::string& name) {
    auto b64 = command("GET", path("/screenshot")).get<std::string>();
    auto file = artifacts_ + "/" + name + ".png";
    std::ofstream(file, std::ios::binary) << decode_base64(b64);
    return file;
  }

  // SEVERE entries of the browser's console log since the last call.
  std::vector<std::string> console_errors() {
    auto v = command("POST", path("/se/log"), {{"type", "browser"}});
    std::vector<std::string> out;
    for (auto& e : v)
      if (e.value("level", "") == "SEVERE") out.push_back(e.value("message", ""));
    return out;
  }

  // Polls cond every 50 ms until it holds or timeout passes.
  static bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (cond()) return true;
      if (std::chrono::steady_clock::now() >= end) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

 private:
  struct Raw {
    int status;
    std::string body;
  };

  std::string path(const std::string& p) const { return "/session/" + session_ + p; }

  Raw command_raw(const std::string& method, const std::string& p, const nlohmann::json& body = nullptr) {
    httplib::Result r = method == "GET"      ? http_.Get(p.c_str())
                        : method == "DELETE" ? http_.Delete(p.c_str())
                                             : http_.Post(p.c_str(), body.is_null() ? "{}" : body.dump(),
                                                          "application/json");
    if (!r) throw WebDriverError(method + " " + p + ": chromedriver did not answer (" + httplib::to_string(r.error()) + ")");
    return Raw{r->status, r->body};
  }

  static nlohmann::json check(const Raw& r, const std::string& what) {
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (r.status != 200 || j.is_discarded()) {
      std::string msg = j.is_discarded() ? r.body : j["value"].value("message", r.body);
      throw WebDriverError(what + ": HTTP " + std::to_string(r.status) + ": " + msg.substr(0, 600));
    }
    return j.at("value");
  }

  nlohmann::json command(const std::string& method, const std::string& p, const nlohmann::json& body = nullptr) {
    return check(command_raw(method, p, body), method + " " + p);
  }

  void start_driver() {
    std::string port_arg = "--port=" + std::to_string(port_);
    std::string log_arg = "--log-path=" + artifacts_ + "/chromedriver.log";
    std::vector<char*> argv{const_cast<char*>(kChromedriverPath), port_arg.data(), log_arg.data(),
                            const_cast<char*>("--allowed-ips=127.0.0.1"), nullptr};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawn(&driver_pid_, kChromedriverPath, &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw WebDriverError("cannot start chromedriver");
    bool up = wait_until([&] {
      auto r = http_.Get("/status");
      return r && r->status == 200;
    }, std::chrono::seconds(20));
    if (!up) throw WebDriverError("chromedriver did not come up on port " + std::to_string(port_));
  }

  // OpenSSL's decoder; it counts '=' padding as zero bytes, so drop those.
  static std::string decode_base64(const std::string& in) {
    std::string out(in.size() / 4 * 3 + 3, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
    if (n < 0) throw WebDriverError("screenshot: bad base64 from chromedriver");
    size_t pad = 0;
    for (size_t i = in.size(); i > 0 && in[i - 1] == '='; --i) ++pad;
    out.resize(static_cast<size_t>(n) - pad);
    return out;
  }

  int port_;
  std::string artifacts_;
  httplib::Client http_;
  pid_t driver_pid_ = -1;
  std::string session_;
};

}  // namespace keel::testing
