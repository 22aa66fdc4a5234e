-- Copies of Keel's workflow_status and operation_outputs (with and without
-- the foreign key), one PENDING workflow per pgbench client.
DROP SCHEMA IF EXISTS pgb CASCADE;
CREATE SCHEMA pgb;
CREATE TABLE pgb.status (workflow_id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, inputs TEXT NOT NULL,
  output TEXT, error_type TEXT, error_message TEXT, serialization TEXT NOT NULL DEFAULT 'json', executor_id TEXT NOT NULL,
  application_version TEXT NOT NULL, parent_id TEXT, queue_name TEXT, priority INTEGER NOT NULL DEFAULT 0,
  deduplication_id TEXT, recovery_attempts INTEGER NOT NULL DEFAULT 0, deadline_epoch_ms BIGINT,
  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);
CREATE INDEX ON pgb.status (status, executor_id);
CREATE INDEX ON pgb.status (created_at);
INSERT INTO pgb.status (workflow_id, name, status, inputs, executor_id, application_version, created_at, updated_at)
  SELECT 'w' || g, 'stepsWorkflow', 'PENDING', '[1000]', 'exec-1', 'v1', 0, 0 FROM generate_series(0, 64) g;
CREATE TABLE pgb.ops_fk (workflow_id TEXT NOT NULL REFERENCES pgb.status (workflow_id) ON DELETE CASCADE,
  function_id INTEGER NOT NULL, name TEXT NOT NULL, output TEXT, error_type TEXT, error_message TEXT,
  serialization TEXT NOT NULL DEFAULT 'json', child_workflow_id TEXT, started_at BIGINT NOT NULL,
  completed_at BIGINT NOT NULL, PRIMARY KEY (workflow_id, function_id));
CREATE TABLE pgb.ops_nofk (LIKE pgb.ops_fk INCLUDING ALL);
-- The floor's table, as the peer's calib/setup.sql makes it.
CREATE TABLE pgb.ckpt (wf TEXT NOT NULL, fid BIGINT NOT NULL, output TEXT, error TEXT, PRIMARY KEY (wf, fid));
