#include "metrics/catalog.hpp"

namespace keel::metrics {

void RuntimeMetrics::write(TextWriter& w) const {
  w.counters(defs::kWorkflowsStarted, workflows_started);
  w.counters(defs::kWorkflowsFinished, workflows_finished);
  w.counters(defs::kWorkflowsContinued, workflows_continued);
  w.histograms(defs::kOperationDuration, operation_seconds);
  w.counters(defs::kStepRetries, step_retries);
  w.counter(defs::kRecoveries, recoveries);
  w.counter(defs::kTakeovers, takeovers);
  w.counter(defs::kLeaseLost, lease_lost);
  w.gauge(defs::kLeaseHeld, static_cast<double>(lease_held.value()));
  w.counter(defs::kDatabaseErrors, database_errors);
  w.counter(defs::kDatabaseRetriesExhausted, database_retries_exhausted);
}

void DatabaseMetrics::write(TextWriter& w) const {
  w.histogram(defs::kCommitDuration, commit_seconds);
  w.histogram(defs::kCommitBatchSize, batch_size);
  w.counter(defs::kDatabaseReconnects, reconnects);
  w.gauge(defs::kDatabaseReaderConnections, static_cast<double>(reader_connections.value()));
  w.gauge(defs::kDatabaseWakeNotify, static_cast<double>(wake_notify.value()));
}

}  // namespace keel::metrics
