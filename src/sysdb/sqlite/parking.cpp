// SQLite backend: the batched reads of the parking lot (runtime/parking.hpp).
#include <string>

#include "sysdb/sqlite/sqlite_system_database.hpp"

namespace keel::sysdb::sqlite {

namespace {

// Batches are padded to a fixed number of parameters (with '', which is no
// workflow ID), so that the statement cache holds one statement per query.
constexpr size_t kBatch = 500;

std::string placeholders() {
  std::string s;
  for (size_t i = 1; i <= kBatch; ++i) s += (i > 1 ? ",$" : "$") + std::to_string(i);
  return s;
}

template <class F>
void for_each_batch(const std::vector<std::string>& ids, F&& fn) {
  for (size_t at = 0; at < ids.size(); at += kBatch) {
    std::vector<SqlValue> params;
    params.reserve(kBatch);
    for (size_t i = at; i < at + kBatch; ++i) params.emplace_back(i < ids.size() ? ids[i] : std::string());
    fn(params);
  }
}

}  // namespace

std::vector<MessageArrival> SqliteSystemDatabase::unconsumed_messages_after(int64_t after_message_id, int limit) {
  std::vector<MessageArrival> out;
  read([&](Connection& c) {
    auto st = c.prepare(
        "SELECT message_id, destination_id, topic FROM keel_notifications WHERE message_id > $1 AND consumed = 0 "
        "ORDER BY message_id LIMIT $2",
        {after_message_id, int64_t{limit}});
    while (st.step()) out.push_back({st.column_int(0), st.column_text(1), st.column_text(2)});
  });
  return out;
}

std::vector<MessageArrival> SqliteSystemDatabase::unconsumed_messages_for(const std::vector<std::string>& destinations) {
  static const std::string sql =
      "SELECT MIN(message_id), destination_id, topic FROM keel_notifications WHERE consumed = 0 AND destination_id IN (" +
      placeholders() + ") GROUP BY destination_id, topic";
  std::vector<MessageArrival> out;
  read([&](Connection& c) {
    for_each_batch(destinations, [&](const std::vector<SqlValue>& params) {
      auto st = c.prepare(sql, params);
      while (st.step()) out.push_back({st.column_int(0), st.column_text(1), st.column_text(2)});
    });
  });
  return out;
}

std::vector<std::pair<std::string, WorkflowStatus>> SqliteSystemDatabase::workflow_statuses(
    const std::vector<std::string>& ids) {
  static const std::string sql =
      "SELECT workflow_id, status FROM keel_workflow_status WHERE workflow_id IN (" + placeholders() + ")";
  std::vector<std::pair<std::string, WorkflowStatus>> out;
  read([&](Connection& c) {
    for_each_batch(ids, [&](const std::vector<SqlValue>& params) {
      auto st = c.prepare(sql, params);
      while (st.step()) out.emplace_back(st.column_text(0), workflow_status_from_string(st.column_text(1)));
    });
  });
  return out;
}

}  // namespace keel::sysdb::sqlite
