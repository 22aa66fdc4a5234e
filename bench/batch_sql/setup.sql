-- Copies of Keel's workflow_status (its indexes) and operation_outputs, with
-- 2,200 PENDING workflows w1..w2200 owned by 'exec-1'.
DROP SCHEMA IF EXISTS pgbatch CASCADE;
CREATE SCHEMA pgbatch;
CREATE TABLE pgbatch.status (workflow_id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL,
  inputs TEXT NOT NULL, executor_id TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);
CREATE INDEX ON pgbatch.status (status, executor_id);
CREATE INDEX ON pgbatch.status (created_at);
INSERT INTO pgbatch.status SELECT 'w' || g, 'threeStepWorkflow', 'PENDING', '[1]', 'exec-1', 0, 0
  FROM generate_series(1, 2200) g;
CREATE TABLE pgbatch.ops (workflow_id TEXT NOT NULL, function_id INTEGER NOT NULL, name TEXT NOT NULL,
  output TEXT, error_type TEXT, error_message TEXT, serialization TEXT NOT NULL DEFAULT 'json',
  child_workflow_id TEXT, started_at BIGINT NOT NULL, completed_at BIGINT NOT NULL, kind TEXT,
  attempts INTEGER, PRIMARY KEY (workflow_id, function_id));
ANALYZE pgbatch.status;
