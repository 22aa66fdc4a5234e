#include "runtime/transaction_body.hpp"

#include "keel/errors.hpp"

namespace keel::detail {

namespace {
thread_local const TransactionBodyScope* t_body = nullptr;
}  // namespace

TransactionBodyScope::TransactionBodyScope(const std::string& workflow_id, std::string_view transaction)
    : workflow_id_(workflow_id), transaction_(transaction), outer_(t_body) {
  t_body = this;
}

TransactionBodyScope::~TransactionBodyScope() { t_body = outer_; }

void forbid_in_transaction_body(std::string_view call) {
  if (!t_body) return;
  throw UsageError(std::string(call) + " called inside the body of transaction '" + std::string(t_body->transaction_) +
                   "' of workflow '" + t_body->workflow_id_ +
                   "': a transaction body may use only the keel::Sql it is given (it runs inside a commit that "
                   "waits for it)");
}

}  // namespace keel::detail
