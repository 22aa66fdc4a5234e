// TimeZone, CronSchedule (wall time to UTC, DST), and the small shared
// pieces of keel/schedule.hpp: policy names, the tick's workflow ID, JSON.
#include "keel/schedule.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "keel/errors.hpp"
#include "schedule/zone_rules.hpp"

namespace keel {

namespace {

using namespace std::chrono;

bool valid_zone_name(const std::string& name) {
  if (name.empty() || name.size() > 255 || name.front() == '/') return false;
  size_t start = 0;
  for (;;) {
    size_t slash = name.find('/', start);
    std::string part = name.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    for (char c : part)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '+') return false;
    if (slash == std::string::npos) return true;
    start = slash + 1;
  }
}

std::string zone_dir() {
  const char* dir = std::getenv("TZDIR");
  return dir && *dir ? dir : "/usr/share/zoneinfo";
}

[[noreturn]] void unknown_zone(const std::string& name, const std::string& why) {
  throw UnknownTimeZoneError("time zone '" + name + "': " + why);
}

// The first instant of (lo, hi] whose offset differs from lo's (the one
// transition between two instants at most a few hours apart).
int64_t transition_between(const TimeZone& zone, int64_t lo, int64_t hi) {
  const auto before = zone.offset_at(SysSeconds(seconds(lo)));
  while (hi - lo > 1) {
    int64_t mid = lo + (hi - lo) / 2;
    if (zone.offset_at(SysSeconds(seconds(mid))) == before) lo = mid;
    else hi = mid;
  }
  return hi;
}

// The UTC instant a wall time fires at (nullopt: in a repeated hour's
// second pass, already fired in the first). See the DST rules of the header.
std::optional<int64_t> fire_instant(const TimeZone& zone, int64_t wall, int64_t after) {
  auto off = [&](int64_t utc) { return zone.offset_at(SysSeconds(seconds(utc))).count(); };
  const int64_t early = off(wall - 86400), late = off(wall + 86400);
  const int64_t u1 = wall - early, u2 = wall - late;
  const bool ok1 = off(u1) == early, ok2 = off(u2) == late;
  int64_t at;
  if (ok1 && ok2) at = std::min(u1, u2);  // repeated: the first occurrence
  else if (ok1 || ok2) at = ok1 ? u1 : u2;
  else if (late > early) at = transition_between(zone, u2, u1);  // skipped: at the transition
  else at = u1;
  if (at > after) return at;
  return std::nullopt;
}

}  // namespace

TimeZone::TimeZone() : name_("UTC") {}

TimeZone TimeZone::locate(const std::string& name) {
  TimeZone z;
  z.name_ = name;
  if (name == "UTC") return z;
  if (!valid_zone_name(name)) unknown_zone(name, "not a tz database name (e.g. Europe/Paris)");
  const std::string path = zone_dir() + "/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) unknown_zone(name, "no such zone in " + zone_dir());
  std::string bytes;
  bytes.resize(1 << 20);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  bytes.resize(static_cast<size_t>(in.gcount()));
  auto rules = detail::ZoneRules::parse(bytes);
  if (!rules) unknown_zone(name, path + " is not a TZif file");
  z.rules_ = std::make_shared<const detail::ZoneRules>(std::move(*rules));
  return z;
}

seconds TimeZone::offset_at(SysSeconds t) const {
  return rules_ ? seconds(rules_->offset_at(t.time_since_epoch().count())) : seconds(0);
}

SysSeconds CronSchedule::next_after(SysSeconds t) const {
  const int64_t after = t.time_since_epoch().count();
  local_seconds wall(seconds(after + zone_.offset_at(t).count()));
  for (;;) {
    wall = expression_.next_wall_after(wall);
    if (auto at = fire_instant(zone_, wall.time_since_epoch().count(), after)) return SysSeconds(seconds(*at));
  }
}

std::string to_string(MissedTicks policy) {
  switch (policy) {
    case MissedTicks::Skip: return "skip";
    case MissedTicks::RunLatest: return "run_latest";
    case MissedTicks::RunEach: return "run_each";
  }
  return "skip";
}

MissedTicks missed_ticks_from_string(const std::string& text) {
  for (auto p : {MissedTicks::Skip, MissedTicks::RunLatest, MissedTicks::RunEach})
    if (to_string(p) == text) return p;
  throw UsageError("'" + text + "' is not a missed-tick policy (skip, run_latest, run_each)");
}

std::string schedule_workflow_id(const std::string& schedule, int64_t tick_epoch_ms, bool manual) {
  const sys_time<milliseconds> t{milliseconds(tick_epoch_ms)};
  const auto day = floor<days>(t);
  const year_month_day ymd(day);
  const hh_mm_ss<milliseconds> tod(t - day);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<long long>(tod.hours().count()), static_cast<long long>(tod.minutes().count()),
                static_cast<long long>(tod.seconds().count()), static_cast<long long>(tod.subseconds().count()));
  return "sched:" + schedule + (manual ? ":manual:" : ":") + buf;
}

void to_json(nlohmann::json& j, const ScheduledTick& t) {
  j = nlohmann::json{{"schedule", t.schedule}, {"tick_epoch_ms", t.tick_epoch_ms}, {"manual", t.manual}};
}

void from_json(const nlohmann::json& j, ScheduledTick& t) {
  t.schedule = j.at("schedule").get<std::string>();
  t.tick_epoch_ms = j.at("tick_epoch_ms").get<int64_t>();
  t.manual = j.value("manual", false);
}

}  // namespace keel
