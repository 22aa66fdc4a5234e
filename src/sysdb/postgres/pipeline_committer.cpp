#include "sysdb/postgres/pipeline_committer.hpp"

#include <algorithm>
#include <cstring>

#include "keel/errors.hpp"

namespace keel::sysdb::postgres {

namespace {

void check_commit_tag(const Result& r) {
  // COMMIT of a transaction in the aborted state answers ROLLBACK.
  const char* tag = PQcmdStatus(r.get());
  if (!tag || std::strcmp(tag, "COMMIT") != 0)
    throw DatabaseError("COMMIT: the transaction was rolled back by the server");
}

}  // namespace

Result PipelineCommitter::run_statement(std::string_view sql, const std::vector<SqlValue>& params) {
  Pending me;
  me.sql = sql;
  me.params = &params;
  submit(me);
  return std::move(*me.result);
}

void PipelineCommitter::run(const Unit& unit, bool fault_points, std::string_view begin) {
  Pending me;
  me.unit = &unit;
  me.fault_points = fault_points;
  me.begin = begin;
  submit(me);
}

void PipelineCommitter::submit(Pending& me) {
  batcher_.submit(me, [this](std::vector<Pending*>& batch, size_t lane) {
    metrics::Stopwatch watch;
    if (session_hook_) {
      try {
        session_hook_(*lanes_[lane]);
      } catch (...) {
        // The batch's own ensure_open() meets (and reports) a connection
        // that is gone; a session the hook could not set keeps the server's
        // defaults, which wake as before.
      }
    }
    execute(batch, *lanes_[lane]);
    if (metrics_) metrics_->observe_batch(watch.seconds(), batch.size());
  });
  if (me.error) std::rethrow_exception(me.error);
}

void PipelineCommitter::commit(Connection& conn) { check_commit_tag(conn.exec("COMMIT")); }

void PipelineCommitter::execute(std::vector<Pending*>& all, Connection& conn) {
  // A unit with an isolation level of its own commits alone.
  std::vector<Pending*> batch;
  for (Pending* p : all) {
    if (p->begin.empty()) {
      batch.push_back(p);
    } else {
      execute_alone(*p, conn);
    }
  }
  if (batch.empty()) return;
  if (batch.size() == 1) {
    execute_alone(*batch.front(), conn);
    return;
  }
  std::vector<Pending*> statements, generals;
  std::vector<Connection::Statement> list;
  for (Pending* p : batch) {
    if (p->unit) {
      generals.push_back(p);
    } else {
      statements.push_back(p);
      list.push_back({p->sql, p->params});
    }
  }
  const bool hooks = std::any_of(batch.begin(), batch.end(), [](const Pending* p) { return p->fault_points; });
  size_t failed_at = Connection::kFailedDeferred;
  try {
    conn.ensure_open();
    conn.defer("BEGIN");  // travels with the first general unit's first statement, or with the pipeline
    // General units first, one round trip per statement of theirs (their
    // savepoint verbs and claims are deferred); then what they deferred,
    // every statement unit and COMMIT in one pipeline: one round trip.
    run_general(generals, conn);
    // A unit that swallowed the failure of a deferred statement: its
    // transaction cannot be trusted.
    if (conn.deferred_failed()) throw DatabaseError("a deferred statement failed: the batch is rolled back");
    fault("checkpoint.before_commit", hooks);
    std::vector<Result> results = conn.exec_pipeline(list, "COMMIT", failed_at);
    check_commit_tag(results.back());
    results.pop_back();
    fault("checkpoint.after_commit", hooks);
    for (size_t i = 0; i < statements.size(); ++i) statements[i]->result.emplace(std::move(results[i]));
  } catch (...) {
    // A failed statement or a refused deferred check (a claim sent
    // unanswered) lost the batch, not the other units: each runs again alone,
    // and the failing one learns it.
    bool isolate = (failed_at < list.size() || conn.deferred_refused()) && !conn.broken();
    try { conn.rollback(); } catch (...) {}
    fail_batch(batch, std::current_exception(), isolate, conn);
  }
}

// Runs the general units of an open transaction, each in its own savepoint.
// Throws when the transaction is lost.
void PipelineCommitter::run_general(std::vector<Pending*>& generals, Connection& conn) {
  for (Pending* p : generals) {
    conn.defer("SAVEPOINT keel_unit");
    try {
      (*p->unit)(conn);
    } catch (...) {
      // A deferred statement (an earlier unit's RELEASE or claim) failed:
      // rolling back to the savepoint could undo that earlier unit, so give up
      // the batch.
      if (conn.deferred_failed()) throw;
      p->error = std::current_exception();
      conn.exec("ROLLBACK TO SAVEPOINT keel_unit");
    }
    conn.defer("RELEASE SAVEPOINT keel_unit");
  }
}

// The batch's transaction was rolled back: every unit fails with err, or
// (isolate) runs again alone.
void PipelineCommitter::fail_batch(std::vector<Pending*>& batch, std::exception_ptr err, bool isolate,
                                   Connection& conn) {
  for (Pending* p : batch) {
    p->result.reset();
    p->error = isolate ? nullptr : err;
  }
  if (isolate)
    for (Pending* p : batch) execute_alone(*p, conn);
}

// A unit alone: a statement commits by itself; a general unit runs in a
// transaction of its own, without a savepoint (rolling back the transaction
// undoes exactly that unit).
void PipelineCommitter::execute_alone(Pending& p, Connection& conn) {
  try {
    conn.ensure_open();
    if (!p.unit) {
      fault("checkpoint.before_commit", p.fault_points);
      p.result.emplace(conn.exec(p.sql, *p.params));
      fault("checkpoint.after_commit", p.fault_points);
      return;
    }
    conn.defer(p.begin.empty() ? std::string_view("BEGIN") : p.begin);
    try {
      (*p.unit)(conn);
    } catch (...) {
      p.error = std::current_exception();
      try { conn.rollback(); } catch (...) {}
      return;
    }
    fault("checkpoint.before_commit", p.fault_points);
    commit(conn);
    fault("checkpoint.after_commit", p.fault_points);
  } catch (...) {
    p.error = std::current_exception();
    p.result.reset();
    try { conn.rollback(); } catch (...) {}
  }
}

}  // namespace keel::sysdb::postgres
