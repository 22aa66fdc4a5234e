// Prints the comparison table of bench/compare.sh from its raw.log:
// lines `RESULT {...}` / `SQLSTATS {...}` tagged with run, side (dbos |
// restate | keel_pg | keel_sqlite), rep and loadavg. Medians over rounds.
//
// usage: node bench/compare_table.mjs raw.log
import fs from 'node:fs';

const lines = fs.readFileSync(process.argv[2], 'utf8').split('\n');
const recs = [];
for (const l of lines) {
  const m = /^(RESULT|SQLSTATS|CALIB) (\{.*\})$/.exec(l);
  if (m) recs.push({ kind: m[1], ...JSON.parse(m[2]) });
}
const median = (a) => {
  const s = a.filter((x) => x !== undefined && x !== null && !Number.isNaN(x)).sort((x, y) => x - y);
  if (!s.length) return undefined;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const pick = (run, side, kind, f) => median(recs.filter((r) => r.run === run && r.side === side && r.kind === kind).map(f));
const fmt = (x, d = 0) => (x === undefined ? '–' : x.toFixed(d));
const NA = '—'; // the peer has no such workload (– = no figure in this log)
const ratio = (x) => (x === undefined || !Number.isFinite(x) ? '–' : `${x.toFixed(x < 10 ? 2 : 1)}×`);

// workload -> figure (higher or lower is better), target on Keel PG. `restate`
// reads the same figure from the Restate harness's RESULT (same formula there:
// us_per_step subtracts an empty invocation as the others subtract an empty
// workflow; a workflow is one ingress call that returns its result, as start +
// result here); rows without it have no Restate workload.
const ROWS = [
  { run: 'steps', label: 'step overhead', unit: 'µs/step', f: (r) => r.us_per_step, lower: true,
    restate: (r) => r.us_per_step, target: { text: '≤ 300 µs', ok: (k) => k <= 300 } },
  { run: 'workflows_c1', label: '3-step workflows, 1 client', unit: 'wf/s', f: (r) => r.workflows_per_sec,
    restate: (r) => r.workflows_per_sec },
  { run: 'workflows_c64', label: '3-step workflows, 64 clients', unit: 'wf/s', f: (r) => r.workflows_per_sec,
    restate: (r) => r.workflows_per_sec, alt: 'workflows_c64_pool64', target: { text: '≥ 10× DBOS', ratio: 10 } },
  { run: 'checkout', label: 'checkout, 32 clients', unit: 'checkouts/s', f: (r) => r.checkouts_per_sec,
    target: { text: '≥ 10× DBOS', ratio: 10 } },
  // Restate has no start apart from the result: a duplicate is one ingress call
  // that finds the idempotency key and returns the stored result, so it gets a
  // figure only in the next row, against start + result.
  { run: 'idempotent', label: 'duplicate start', unit: 'µs/start', f: (r) => r.us_per_duplicate_start, lower: true,
    restateNote: '¹', target: { text: '≤ 150 µs', ok: (k) => k <= 150 } },
  { run: 'idempotent', label: 'duplicate start + result', unit: 'µs/duplicate', lower: true,
    f: (r) => r.us_per_duplicate_start_plus_getResult, restate: (r) => r.us_per_duplicate_call },
];
const better = (row, peer, keel) => (row.lower ? peer / keel : keel / peer); // × better than the peer

// A run without Restate (SKIP_RESTATE, no harness) prints the table without its columns.
const RST = recs.some((r) => r.side === 'restate');
const cells = (a) => `| ${a.filter((c) => c !== null).join(' | ')} |`;
const rule = (a) => `|${a.filter((c) => c !== null).join('|')}|`;
const ifRst = (c) => (RST ? c : null);

const out = [];
out.push(cells(['workload', 'unit', 'DBOS-TS', ifRst('Restate'), 'Keel PG', 'Keel SQLite', 'Keel PG vs DBOS-TS',
  ifRst('Keel PG vs Restate'), 'target (Keel PG)', 'met']));
out.push(rule(['---', '---', '---:', ifRst('---:'), '---:', '---:', '---:', ifRst('---:'), '---', '---']));
for (const row of ROWS) {
  let dbos = pick(row.run, 'dbos', 'RESULT', row.f);
  let dbosNote = '';
  if (row.alt) {
    const alt = pick(row.alt, 'dbos', 'RESULT', row.f);
    if (alt !== undefined && (dbos === undefined || alt > dbos)) {
      dbos = alt;
      dbosNote = ' (pool 64)';
    }
  }
  const kpg = pick(row.run, 'keel_pg', 'RESULT', row.f);
  const ksq = pick(row.run, 'keel_sqlite', 'RESULT', row.f);
  const rst = row.restate && pick(row.run, 'restate', 'RESULT', row.restate);
  const r = better(row, dbos, kpg);
  let met = '–';
  if (row.target && kpg !== undefined) {
    met = row.target.ok ? (row.target.ok(kpg) ? 'yes' : 'no') : r >= row.target.ratio ? 'yes' : 'no';
  }
  const d = row.lower ? 0 : 0;
  const rstCell = row.restate ? fmt(rst, d) : NA + (row.restateNote ?? '');
  const rstRatio = row.restate ? ratio(better(row, rst, kpg)) : NA;
  out.push(cells([row.label, row.unit, `${fmt(dbos, d)}${dbosNote}`, ifRst(rstCell), fmt(kpg, d), fmt(ksq, d),
    ratio(r), ifRst(rstRatio), row.target?.text ?? '', met]));
}
out.push('');
out.push(
  'Ratios: × better for Keel PG (the peer\'s time ÷ Keel\'s, or Keel\'s rate ÷ the peer\'s).' +
    (RST
      ? ` ${NA} = the peer has no such workload. Restate: restate-server and a TypeScript SDK service (service.mjs) ` +
        'on loopback HTTP, its journal in its own RocksDB-backed log (fsync on), no PostgreSQL; a step is a ctx.run, ' +
        'a workflow one ingress call. ¹ Restate has no separate start: a duplicate is one call that returns the stored ' +
        'result, compared in the next row with start + result.'
      : ' No Restate figures in this log.'),
);
const calib = (name, clients) =>
  median(recs.filter((r) => r.kind === 'CALIB' && r.calib === name && r.clients === clients).map((r) => r.latency_us));
const floor = calib('pgbench_insert_autocommit', 1);
const rtt = calib('pgbench_select1', 1);
const kstep = pick('steps', 'keel_pg', 'RESULT', (r) => r.us_per_step);
out.push('');
out.push(
  `Floors on the same server in the same run (pgbench, libpq, prepared, 1 client): SELECT 1 = ${fmt(rtt)} µs ` +
    `(a round trip), autocommit INSERT = ${fmt(floor)} µs (one durable commit). ` +
    `Keel PG step = ${floor && kstep ? (kstep / floor).toFixed(2) + '× the INSERT floor' : '–'}` +
    `${floor && kstep ? ` (${fmt(kstep - floor)} µs above it)` : ''}.`,
);
out.push('');
out.push('Per unit (step, workflow, checkout, duplicate start), medians over rounds; statements and commits from');
out.push('pg_stat_statements (top level, reset right before the phase; ≈ round trips, except that Keel sends several');
out.push('statements per round trip in a pipeline). Commits: DBOS = COMMIT statements; Keel = commits counted by the');
out.push('runtime (a batch, or a single-statement unit committing by itself; pg_stat_statements misses Keel\'s COMMIT');
out.push('when it runs as a prepared statement). CPU = client process (Node or Keel) and the');
out.push('rest of the machine (≈ PostgreSQL) during the phase; load = 1-minute load average when the run started.');
if (RST) {
  out.push('Restate CPU = restate-server + the service process (the engine: what DBOS and Keel do in the client process)');
  out.push('and the harness\'s HTTP client apart, from /proc (10 ms ticks: coarse on short runs).');
}
out.push('');
out.push(cells(['workload', 'statements DBOS / Keel', 'commits DBOS / Keel', 'client CPU µs DBOS / Keel PG / Keel SQLite',
  'other CPU µs DBOS / Keel PG', ifRst('Restate CPU µs server + service / client'),
  RST ? 'load DBOS / Restate / Keel' : 'load DBOS / Keel']));
out.push(rule(['---', '---:', '---:', '---:', '---:', ifRst('---:'), '---:']));
// Restate's RESULT names its CPU object after the unit (cpu_per_step, _workflow, _duplicate)
const restateCpu = (r) => r.cpu_per_step ?? r.cpu_per_workflow ?? r.cpu_per_duplicate;
const all = [...ROWS, { run: 'workflows_c64_pool64', label: '3-step workflows, 64 clients, DBOS pool 64' }];
const seen = new Set(); // both idempotent rows come from one run
for (const row of all) {
  if (seen.has(row.run)) continue;
  seen.add(row.run);
  const s = (side, f) => pick(row.run, side, 'SQLSTATS', f);
  const stm = (side) => s(side, (r) => r.per_unit?.toplevel_statements);
  const com = (side) => s(side, (r) => r.per_unit?.commit);
  const ld = (side) => pick(row.run, side, 'RESULT', (r) => r.loadavg);
  const rc = (f) => pick(row.run, 'restate', 'RESULT', (r) => (restateCpu(r) ? f(restateCpu(r)) : undefined));
  const hasRestate = all.some((x) => x.run === row.run && x.restate);
  const rstCpu = hasRestate
    ? `${fmt(rc((c) => c.restate_server_cpu_us + c.service_node_cpu_us))} / ${fmt(rc((c) => c.client_cpu_us))}`
    : NA;
  if (stm('dbos') === undefined && stm('keel_pg') === undefined && rc((c) => c.client_cpu_us) === undefined) continue;
  out.push(cells([
    row.label,
    `${fmt(stm('dbos'), 2)} / ${fmt(stm('keel_pg'), 2)}`,
    `${fmt(com('dbos'), 2)} / ${fmt(s('keel_pg', (r) => r.group_commits_per_unit), 2)}`,
    `${fmt(s('dbos', (r) => r.cpu_per_unit?.node_cpu_us))} / ${fmt(s('keel_pg', (r) => r.cpu_per_unit?.keel_cpu_us))} / ${fmt(s('keel_sqlite', (r) => r.cpu_per_unit?.keel_cpu_us))}`,
    `${fmt(s('dbos', (r) => r.cpu_per_unit?.other_cpu_us))} / ${fmt(s('keel_pg', (r) => r.cpu_per_unit?.other_cpu_us))}`,
    ifRst(rstCpu),
    [fmt(ld('dbos'), 1), ifRst(hasRestate ? fmt(ld('restate'), 1) : NA), fmt(ld('keel_pg'), 1)].filter((c) => c !== null).join(' / '),
  ]));
}
const reps = new Set(recs.map((r) => r.rep)).size;
out.push('');
out.push(`${reps} round(s); ${recs.length} records.`);
console.log(out.join('\n'));
