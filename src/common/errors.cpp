#include "keel/errors.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>

namespace keel {

namespace {

struct ErrorRegistry {
  std::shared_mutex mu;
  std::map<std::string, detail::ErrorFactory> factories;
};

ErrorRegistry& registry() {
  static ErrorRegistry r;
  return r;
}

template <class T>
void add_builtin(ErrorRegistry& r) {
  r.factories[detail::demangle(typeid(T).name())] = [](const std::string& m) { throw T(m); };
}

void register_builtins_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto& r = registry();
    std::unique_lock lock(r.mu);
    add_builtin<Error>(r);
    add_builtin<DatabaseError>(r);
    add_builtin<StorageFullError>(r);
    add_builtin<DatabaseUnavailableError>(r);
    add_builtin<WorkflowConflictError>(r);
    add_builtin<UnknownWorkflowError>(r);
    add_builtin<WorkflowNotFoundError>(r);
    add_builtin<NonDeterminismError>(r);
    add_builtin<WorkflowCancelledError>(r);
    add_builtin<DeadLetterError>(r);
    add_builtin<DeduplicatedError>(r);  // ctx.enqueue records it
    add_builtin<UnknownQueueError>(r);
    add_builtin<TimeoutError>(r);
    add_builtin<MaxRetriesExceededError>(r);
    add_builtin<SerializationError>(r);
    add_builtin<UsageError>(r);
  });
}

}  // namespace

namespace detail {

std::string demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> out(abi::__cxa_demangle(mangled, nullptr, nullptr, &status),
                                                  &std::free);
  return (status == 0 && out) ? std::string(out.get()) : std::string(mangled);
}

void register_error_factory(const std::string& type_name, ErrorFactory factory) {
  register_builtins_once();
  auto& r = registry();
  std::unique_lock lock(r.mu);
  r.factories[type_name] = std::move(factory);
}

}  // namespace detail

void throw_recorded_error(const std::string& type_name, const std::string& message) {
  register_builtins_once();
  detail::ErrorFactory factory;
  {
    auto& r = registry();
    std::shared_lock lock(r.mu);
    auto it = r.factories.find(type_name);
    if (it != r.factories.end()) factory = it->second;
  }
  if (factory) factory(message);
  throw RecordedError(type_name, message);
}

}  // namespace keel
