\set k random(1, 2000000000)
INSERT INTO pgb.ckpt (wf, fid, output) VALUES ('c' || :client_id, :k, 'null') ON CONFLICT DO NOTHING;
