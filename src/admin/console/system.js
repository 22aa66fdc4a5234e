// The executors and queues page (#/system): GET /executors (leases: live,
// dead or stopped, ages, PENDING workflows held) and GET /queues (the queues
// registered in the process serving this console: depth, running, the stored
// limits).
'use strict';

(function (K) {
  const { el } = K;
  let shown = 0;  // counts visits: an answer for an earlier visit is dropped

  function executorsTable(ans) {
    if (!ans.executors.length) return el('p', { id: 'no-executors', className: 'muted' }, 'No executor lease.');
    const rows = ans.executors.map((e) => el('tr', { dataset: { id: e.executor_id } },
      el('td', {}, e.executor_id),
      el('td', { className: 'state' }, el('span', { className: 'badge state-' + e.state }, e.state)),
      el('td', {}, e.application_version),
      el('td', {}, e.holder),
      el('td', { title: K.time(e.heartbeat_at_ms) }, e.heartbeat_age_ms === null ? '—' : K.duration(e.heartbeat_age_ms) + ' ago'),
      el('td', { title: K.time(e.started_at_ms) }, e.lease_age_ms === null ? '—' : K.duration(e.lease_age_ms)),
      el('td', { className: 'held' },
        el('a', { href: '#/workflows?status=PENDING&executor_id=' + K.enc(e.executor_id) }, String(e.workflows_held)))));
    return el('div', {},
      K.table('executors-table', ['Executor', 'State', 'Version', 'Holder', 'Heartbeat', 'Lease age', 'PENDING held'], rows),
      el('p', { className: 'muted' }, 'Dead: no heartbeat for the lease timeout (' + K.duration(ans.lease_timeout_ms) +
        '); a live executor takes its workflows over.'));
  }

  function limit(v) {
    return v === null ? el('span', { className: 'muted' }, 'none') : String(v);
  }

  // A partitioned queue's concurrency limits hold per partition key.
  function perPartition(q, v) {
    return q.partitioned && v !== null ? ' per partition' : '';
  }

  function queuesTable(ans) {
    if (!ans.queues.length) return el('p', { id: 'no-queues', className: 'muted' }, 'No queue is registered in this process.');
    const rows = ans.queues.map((q) => el('tr', { dataset: { name: q.name } },
      el('td', {}, el('a', { href: '#/workflows?queue_name=' + K.enc(q.name) }, q.name)),
      el('td', { className: 'depth' }, String(q.enqueued)),
      el('td', { className: 'running' }, String(q.running)),
      el('td', {}, limit(q.concurrency), perPartition(q, q.concurrency)),
      el('td', {}, limit(q.worker_concurrency), perPartition(q, q.worker_concurrency)),
      el('td', {}, q.rate_limit ? q.rate_limit.limit + ' per ' + K.duration(q.rate_limit.period_ms) : limit(null)),
      el('td', {}, q.priority_enabled ? 'yes' : 'no')));
    return K.table('queues-table',
      ['Queue', 'Enqueued (depth)', 'Running', 'Concurrency', 'Per executor', 'Rate limit', 'Priority'], rows);
  }

  async function load(visit) {
    try {
      const [executors, queues] = await Promise.all([K.api('GET', '/executors'), K.api('GET', '/queues')]);
      if (visit !== shown) return;
      K.showError(null);
      document.getElementById('executors').replaceChildren(executorsTable(executors));
      document.getElementById('queues').replaceChildren(queuesTable(queues));
    } catch (err) {
      if (visit !== shown) return;
      K.showError(err);
      document.getElementById('executors').replaceChildren(K.notLoaded());
      document.getElementById('queues').replaceChildren(K.notLoaded());
    }
  }

  K.views = K.views || {};
  K.views.system = function (view) {
    const visit = ++shown;
    view.replaceChildren(
      el('h1', {}, 'Executors & queues'),
      el('div', { className: 'actions' }, el('button', { type: 'button', id: 'refresh', on: { click: () => load(visit) } }, 'Refresh')),
      K.section('Executors', el('div', { id: 'executors' }, el('p', { className: 'muted' }, 'Loading…'))),
      K.section('Queues', el('div', { id: 'queues' }, el('p', { className: 'muted' }, 'Loading…'))));
    load(visit);
    return () => {};
  };
})(window.Keel);
