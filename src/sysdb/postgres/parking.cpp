// PostgreSQL backend: the batched reads of the parking lot (runtime/parking.hpp).
#include <algorithm>
#include <string>

#include "sysdb/postgres/postgres_system_database.hpp"

namespace keel::sysdb::postgres {

namespace {

constexpr size_t kBatch = 500;

// The IDs as one text[] literal for "= ANY($1::text[])": every element
// double-quoted, with backslashes and quotes escaped.
std::string text_array(const std::vector<std::string>& ids, size_t from, size_t to) {
  std::string s = "{";
  for (size_t i = from; i < to; ++i) {
    if (i > from) s += ',';
    s += '"';
    for (char ch : ids[i]) {
      if (ch == '"' || ch == '\\') s += '\\';
      s += ch;
    }
    s += '"';
  }
  return s + "}";
}

template <class F>
void for_each_batch(const std::vector<std::string>& ids, F&& fn) {
  for (size_t at = 0; at < ids.size(); at += kBatch) fn(text_array(ids, at, std::min(ids.size(), at + kBatch)));
}

}  // namespace

std::vector<MessageArrival> PostgresSystemDatabase::unconsumed_messages_after(int64_t after_message_id, int limit) {
  std::vector<MessageArrival> out;
  read([&](Connection& c) {
    out.clear();
    Result r = c.exec(
        "SELECT message_id, destination_id, topic FROM keel.notifications WHERE message_id > $1 AND consumed = 0 "
        "ORDER BY message_id LIMIT $2",
        {after_message_id, int64_t{limit}});
    for (int i = 0; i < r.rows(); ++i) out.push_back({r.integer(i, 0), r.text(i, 1), r.text(i, 2)});
  });
  return out;
}

std::vector<MessageArrival> PostgresSystemDatabase::unconsumed_messages_for(
    const std::vector<std::string>& destinations) {
  std::vector<MessageArrival> out;
  read([&](Connection& c) {
    out.clear();
    for_each_batch(destinations, [&](const std::string& array) {
      Result r = c.exec(
          "SELECT MIN(message_id), destination_id, topic FROM keel.notifications WHERE consumed = 0 "
          "AND destination_id = ANY($1::text[]) GROUP BY destination_id, topic",
          {array});
      for (int i = 0; i < r.rows(); ++i) out.push_back({r.integer(i, 0), r.text(i, 1), r.text(i, 2)});
    });
  });
  return out;
}

std::vector<std::pair<std::string, WorkflowStatus>> PostgresSystemDatabase::workflow_statuses(
    const std::vector<std::string>& ids) {
  std::vector<std::pair<std::string, WorkflowStatus>> out;
  read([&](Connection& c) {
    out.clear();
    for_each_batch(ids, [&](const std::string& array) {
      Result r = c.exec("SELECT workflow_id, status FROM keel.workflow_status WHERE workflow_id = ANY($1::text[])",
                        {array});
      for (int i = 0; i < r.rows(); ++i) out.emplace_back(r.text(i, 0), workflow_status_from_string(r.text(i, 1)));
    });
  });
  return out;
}

}  // namespace keel::sysdb::postgres
