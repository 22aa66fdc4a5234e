// Helpers of the libFuzzer targets (tests/fuzz/*.cpp, docs/testing.md).
//
// A target feeds outside bytes to a parser and checks what the parser
// promises: it either returns a value that satisfies its invariants or
// throws its documented exception type. Anything else (another exception
// type escaping, a broken invariant) is a finding: the target aborts, so
// libFuzzer saves the input as a crash-* file.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

namespace keel::fuzz {

[[noreturn]] inline void finding(const char* what, const char* file, int line) {
  std::fprintf(stderr, "FUZZ FINDING at %s:%d: %s\n", file, line, what);
  std::abort();
}

#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond)) ::keel::fuzz::finding("check failed: " #cond, __FILE__, __LINE__); \
  } while (0)

inline std::string_view text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The input cut at each '\n' (so seeds stay readable): fields[i] is the
// i-th line; missing ones are empty. The last field keeps the rest whole
// (it may hold newlines), so a body can come last.
inline std::vector<std::string> fields(std::string_view in, size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i + 1 < n; ++i) {
    size_t nl = in.find('\n');
    out.emplace_back(in.substr(0, nl));
    in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  }
  out.emplace_back(in);
  return out;
}

// Runs f; an exception of type E is what the parser documents (check(e)
// may look closer); any other escaping exception is a finding. Returns
// true when f returned normally.
template <class E, class F, class Check>
bool only(F&& f, Check&& check) {
  try {
    f();
    return true;
  } catch (const E& e) {
    check(e);
    return false;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "FUZZ FINDING: undocumented exception %s: %s\n", typeid(e).name(), e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "FUZZ FINDING: a non-std exception escaped\n");
    std::abort();
  }
}

template <class E, class F>
bool only(F&& f) {
  return only<E>(std::forward<F>(f), [](const E&) {});
}

}  // namespace keel::fuzz
