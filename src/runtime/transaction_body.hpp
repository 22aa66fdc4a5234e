// Marks the thread that runs a transaction's body (Context::transaction).
//
// The body runs inside a batch of the system database's committer, on the
// thread of whichever caller leads that batch, and the batch commits only
// once the body returns. A Context, Runtime, Handle or Client call made from
// the body that writes to the system database, or waits for something that
// needs a write, would wait for that very batch: a deadlock, silent and
// forever. Each such call first asks forbid_in_transaction_body(), which
// throws UsageError naming the call, the transaction and the workflow at
// once. (The committers' Batcher refuses a nested submit as well, as a
// backstop for any path not named here.)
// Thread-safety: the scope is per thread (thread_local); nests.
#pragma once

#include <string>
#include <string_view>

namespace keel::detail {

class TransactionBodyScope {
 public:
  TransactionBodyScope(const std::string& workflow_id, std::string_view transaction);
  ~TransactionBodyScope();
  TransactionBodyScope(const TransactionBodyScope&) = delete;
  TransactionBodyScope& operator=(const TransactionBodyScope&) = delete;

 private:
  friend void forbid_in_transaction_body(std::string_view call);
  const std::string& workflow_id_;
  std::string_view transaction_;
  const TransactionBodyScope* outer_;
};

// Throws UsageError when this thread runs a transaction body; `call` names
// the API call ("ctx.set_event", "Runtime::run_sql_write").
void forbid_in_transaction_body(std::string_view call);

}  // namespace keel::detail
