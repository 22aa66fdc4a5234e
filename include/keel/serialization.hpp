/// @file
/// keel/serialization.hpp — how values cross the system database.
///
/// Contract:
///  * Workflow inputs, outputs, step results, events and messages are stored as
///    JSON text produced by nlohmann::json; each stored row names its
///    serialization format ("json"). Any type with nlohmann's to_json/from_json
///    (ADL or adl_serializer) can be used.
///  * std::optional<T> maps to null / the value; void results are stored as null.
///  * Decoding a value of the wrong shape throws keel::SerializationError naming
///    the expected type; nothing is ever silently defaulted.
///
/// Thread-safety: all functions are pure and thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <typeinfo>
#include <vector>

#include "keel/errors.hpp"

namespace keel {

/// The JSON value of every stored input, output, event and message.
using Json = nlohmann::json;

/// The serialization format each stored row names.
inline constexpr const char* kSerializationFormat = "json";

/// `value` as JSON, through nlohmann's to_json; throws SerializationError
/// naming T when it cannot be converted.
template <class T>
Json to_json_value(const T& value) {
  try {
    return Json(value);
  } catch (const std::exception& e) {
    throw SerializationError("cannot serialize " + detail::demangle(typeid(T).name()) + ": " + e.what());
  }
}

/// @cond
namespace detail {
/// JSON pointers to the numbers of `j` that are floating point and beyond
/// the int32 range (|x| >= 2^31): nlohmann converts a float to an integer
/// field with a plain cast, undefined behaviour when it does not fit.
std::vector<Json::json_pointer> wide_floats(const Json& j);
/// `j` with 0.5 (keeping the sign) at each of `at`.
Json with_halves(Json j, const std::vector<Json::json_pointer>& at);
/// Throws SerializationError naming `type` unless `encoded` holds a float
/// at each of `at`, i.e. the type read those numbers as floating point.
void require_floats_at(const Json& encoded, const std::vector<Json::json_pointer>& at, const std::string& type);
}  // namespace detail
/// @endcond

/// `j` as a T, through nlohmann's from_json (a Json is returned as is); throws
/// SerializationError naming T on a wrong shape, also for a floating-point
/// number beyond the int32 range where T reads an integer.
template <class T>
T from_json_value(const Json& j) {
  if constexpr (std::is_same_v<T, Json>) {
    return j;
  } else {
    try {
      // Rare (such numbers are never written for integers): a trial decode
      // with harmless stand-ins shows whether T reads them as floating
      // point, before the real decode may cast them to an integer.
      if (auto wide = detail::wide_floats(j); !wide.empty())
        detail::require_floats_at(Json(detail::with_halves(j, wide).template get<T>()), wide,
                                  detail::demangle(typeid(T).name()));
      return j.get<T>();
    } catch (const SerializationError&) {
      throw;
    } catch (const std::exception& e) {
      throw SerializationError("stored value is not a valid " + detail::demangle(typeid(T).name()) +
                               ": " + e.what());
    }
  }
}

/// Parse stored JSON text; `what` names the row for the error message.
Json parse_stored_json(const std::string& text, const std::string& what);

}  // namespace keel

namespace nlohmann {
/// std::optional<T> as JSON: null for nullopt, else the value.
template <class T>
struct adl_serializer<std::optional<T>> {
  /// nullopt as null, else the value as JSON.
  static void to_json(json& j, const std::optional<T>& v) {
    if (v) j = *v; else j = nullptr;
  }
  /// null as nullopt, else the value as a T.
  static void from_json(const json& j, std::optional<T>& v) {
    if (j.is_null()) v.reset(); else v = j.get<T>();
  }
};
}  // namespace nlohmann
