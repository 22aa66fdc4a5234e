#include "sysdb/postgres/pipeline_committer.hpp"

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

void PipelineCommitter::run(const Unit& unit) {
  Pending me;
  me.unit = &unit;
  submit(me);
}

void PipelineCommitter::submit(Pending& me) {
  std::unique_lock lock(mu_);
  queue_.push_back(&me);
  while (!me.done) {
    if (!leader_active_) {
      lead(lock);
    } else {
      cv_.wait(lock);
    }
  }
  if (me.error) std::rethrow_exception(me.error);
}

// Called with lock held: runs one batch, then steps down so that no caller
// leads forever under sustained load.
void PipelineCommitter::lead(std::unique_lock<std::mutex>& lock) {
  leader_active_ = true;
  std::vector<Pending*> batch;
  while (!queue_.empty() && batch.size() < max_batch_) {
    batch.push_back(queue_.front());
    queue_.pop_front();
  }
  lock.unlock();
  execute(batch);
  lock.lock();
  for (Pending* p : batch) p->done = true;
  leader_active_ = false;
  cv_.notify_all();
}

void PipelineCommitter::commit() { check_commit_tag(conn_.exec("COMMIT")); }

void PipelineCommitter::execute(std::vector<Pending*>& batch) {
  if (batch.size() == 1) {
    execute_alone(*batch.front());
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
  const bool commit_now = generals.empty();
  size_t failed_at = Connection::kFailedDeferred;
  try {
    conn_.ensure_open();
    conn_.defer("BEGIN");
    if (commit_now) fault("checkpoint.before_commit");
    // Only general units: BEGIN stays deferred and travels with their first statement.
    std::vector<Result> results;
    if (!list.empty()) results = conn_.exec_pipeline(list, commit_now ? "COMMIT" : "", failed_at);
    if (commit_now) {
      check_commit_tag(results.back());
      results.pop_back();
      fault("checkpoint.after_commit");
    }
    for (size_t i = 0; i < statements.size(); ++i) statements[i]->result.emplace(std::move(results[i]));
  } catch (...) {
    auto err = std::current_exception();
    bool isolate = failed_at < list.size() && !conn_.broken();
    try { conn_.rollback(); } catch (...) {}
    for (Pending* p : statements) p->result.reset();
    if (isolate) {
      // One statement failed: run each unit alone, so that only it fails.
      for (Pending* p : batch) execute_alone(*p);
    } else {
      for (Pending* p : batch) p->error = err;
    }
    return;
  }
  if (!commit_now && run_general(generals, batch)) {
    try {
      fault("checkpoint.before_commit");
      commit();
      fault("checkpoint.after_commit");
    } catch (...) {
      auto err = std::current_exception();
      try { conn_.rollback(); } catch (...) {}
      for (Pending* p : batch) {
        p->error = err;
        p->result.reset();
      }
    }
  }
}

// Runs the general units of an open transaction, each in its own savepoint;
// false when the transaction had to be rolled back (every unit failed).
bool PipelineCommitter::run_general(std::vector<Pending*>& generals, std::vector<Pending*>& batch) {
  for (Pending* p : generals) {
    try {
      conn_.defer("SAVEPOINT keel_unit");
      try {
        (*p->unit)(conn_);
      } catch (...) {
        // A deferred verb (an earlier unit's RELEASE) failed: rolling back to
        // the savepoint could undo that earlier unit, so give up the batch.
        if (conn_.deferred_failed()) throw;
        p->error = std::current_exception();
        conn_.exec("ROLLBACK TO SAVEPOINT keel_unit");
      }
      conn_.defer("RELEASE SAVEPOINT keel_unit");
    } catch (...) {
      auto err = std::current_exception();
      try { conn_.rollback(); } catch (...) {}
      for (Pending* q : batch) {
        q->error = err;
        q->result.reset();
      }
      return false;
    }
  }
  return true;
}

// A unit alone: a statement commits by itself; a general unit runs in a
// transaction of its own, without a savepoint (rolling back the transaction
// undoes exactly that unit).
void PipelineCommitter::execute_alone(Pending& p) {
  try {
    conn_.ensure_open();
    if (!p.unit) {
      fault("checkpoint.before_commit");
      p.result.emplace(conn_.exec(p.sql, *p.params));
      fault("checkpoint.after_commit");
      return;
    }
    conn_.defer("BEGIN");
    try {
      (*p.unit)(conn_);
    } catch (...) {
      p.error = std::current_exception();
      try { conn_.rollback(); } catch (...) {}
      return;
    }
    fault("checkpoint.before_commit");
    commit();
    fault("checkpoint.after_commit");
  } catch (...) {
    p.error = std::current_exception();
    p.result.reset();
    try { conn_.rollback(); } catch (...) {}
  }
}

}  // namespace keel::sysdb::postgres
