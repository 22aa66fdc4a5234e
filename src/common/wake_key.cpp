#include "common/wake_key.hpp"

#include <array>
#include <charconv>

namespace keel::detail {

namespace {

constexpr char kSeparator = '\x1f';  // ASCII unit separator: chr(31) in the triggers

struct Form {
  WakeKey::Kind kind;
  std::string_view prefix;
  bool has_name;
};
constexpr std::array<Form, 6> kForms{{
    {WakeKey::Kind::Message, "msg:", true},
    {WakeKey::Kind::Event, "evt:", true},
    {WakeKey::Kind::Done, "done:", false},
    {WakeKey::Kind::Sleep, "sleep:", false},
    {WakeKey::Kind::Retry, "retry:", false},
    {WakeKey::Kind::Stream, "stm:", true},
}};
constexpr std::string_view kQueues = "queues";

const Form& form_of(WakeKey::Kind kind) {
  for (const Form& f : kForms)
    if (f.kind == kind) return f;
  return kForms.front();  // unreachable: every kind but Queues has a form
}

}  // namespace

std::string WakeKey::encode() const {
  if (kind == Kind::Queues) return std::string(kQueues);
  const Form& f = form_of(kind);
  std::string text;
  text.reserve(f.prefix.size() + workflow_id.size() + 1 + name.size());
  text.append(f.prefix).append(workflow_id);
  if (f.has_name) text.append(1, kSeparator).append(name);
  return text;
}

std::optional<WakeKey> WakeKey::decode(std::string_view text) {
  if (text == kQueues) return queues();
  for (const Form& f : kForms) {
    if (text.substr(0, f.prefix.size()) != f.prefix) continue;
    std::string_view rest = text.substr(f.prefix.size());
    if (!f.has_name) return WakeKey{f.kind, std::string(rest), {}};
    size_t sep = rest.find(kSeparator);
    if (sep == std::string_view::npos) return std::nullopt;
    return WakeKey{f.kind, std::string(rest.substr(0, sep)), std::string(rest.substr(sep + 1))};
  }
  return std::nullopt;
}

std::string MessagePayload::encode() const {
  return std::to_string(message_id) + kSeparator + message;
}

std::optional<MessagePayload> MessagePayload::decode(std::string_view text) {
  size_t sep = text.find(kSeparator);
  if (sep == std::string_view::npos) return std::nullopt;
  MessagePayload p;
  auto [end, ec] = std::from_chars(text.data(), text.data() + sep, p.message_id);
  if (ec != std::errc() || end != text.data() + sep) return std::nullopt;
  p.message = std::string(text.substr(sep + 1));
  return p;
}

}  // namespace keel::detail
