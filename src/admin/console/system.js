// The executors, queues and schedules page (#/system): GET /executors
// (leases: live, dead or stopped, ages, PENDING workflows held), GET /queues
// (the queues registered in the process serving this console: depth,
// running, the stored limits) and GET /schedules (every stored schedule, with
// Pause / Resume, Trigger and Delete: POST routes of the admin API, trigger
// and delete confirmed first).
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

  // A schedule action: confirmed when `question` is given; the answer (or
  // the API's error) is shown, then the page is read again.
  async function scheduleAction(visit, name, action, question, describe) {
    if (question && !window.confirm(question)) return;
    K.clearBanners();
    try {
      const answer = await K.api('POST', '/schedules/' + K.enc(name) + '/' + action);
      K.showNotice(describe(answer));
    } catch (err) {
      K.showError(err);
    }
    await load(visit, true);
  }

  function schedulesTable(visit, ans) {
    if (!ans.schedules.length) return el('p', { id: 'no-schedules', className: 'muted' }, 'No schedule is stored.');
    const button = (cls, label, fn) => el('button', { type: 'button', className: cls, on: { click: fn } }, label);
    const rows = ans.schedules.map((s) => el('tr', { dataset: { name: s.name } },
      el('td', {}, el('a', { href: '#/workflows?id_prefix=' + K.enc('sched:' + s.name + ':') }, s.name)),  // its runs
      el('td', {}, s.workflow_name),
      el('td', {}, el('code', {}, s.cron), ' ', s.time_zone),
      el('td', {}, s.missed),
      el('td', { className: 'paused' }, s.paused ? el('span', { className: 'badge state-stopped' }, 'paused') : 'running'),
      el('td', { title: K.time(s.last_tick_epoch_ms) }, K.age(s.last_tick_epoch_ms)),
      el('td', { className: 'next' }, s.next_tick_epoch_ms === null ? '—' : K.time(s.next_tick_epoch_ms)),
      el('td', { className: 'row-actions' },
        s.paused
          ? button('resume', 'Resume', () => scheduleAction(visit, s.name, 'resume', null, () => 'Resumed ' + s.name))
          : button('pause', 'Pause', () => scheduleAction(visit, s.name, 'pause', null, () => 'Paused ' + s.name)),
        button('trigger', 'Trigger', () => scheduleAction(visit, s.name, 'trigger',
          'Start a run of schedule ' + s.name + ' now?', (a) => ['Started ', K.link(a.workflow_id)])),
        button('delete', 'Delete', () => scheduleAction(visit, s.name, 'delete',
          'Delete schedule ' + s.name + '? A process that still declares it stores it again at its next launch.',
          () => 'Deleted ' + s.name)))));
    return K.table('schedules-table',
      ['Schedule', 'Workflow', 'Cron', 'Missed ticks', 'State', 'Last tick', 'Next tick', ''], rows);
  }

  // keepBanners: after an action, whose notice or error stays shown.
  async function load(visit, keepBanners) {
    try {
      const [executors, queues, schedules] = await Promise.all(
        [K.api('GET', '/executors'), K.api('GET', '/queues'), K.api('GET', '/schedules')]);
      if (visit !== shown) return;
      if (!keepBanners) K.showError(null);
      document.getElementById('executors').replaceChildren(executorsTable(executors));
      document.getElementById('queues').replaceChildren(queuesTable(queues));
      document.getElementById('schedules').replaceChildren(schedulesTable(visit, schedules));
    } catch (err) {
      if (visit !== shown) return;
      K.showError(err);
      for (const id of ['executors', 'queues', 'schedules']) document.getElementById(id).replaceChildren(K.notLoaded());
    }
  }

  K.views = K.views || {};
  K.views.system = function (view) {
    const visit = ++shown;
    view.replaceChildren(
      el('h1', {}, 'Executors, queues & schedules'),
      el('div', { className: 'actions' }, el('button', { type: 'button', id: 'refresh', on: { click: () => load(visit) } }, 'Refresh')),
      K.section('Executors', el('div', { id: 'executors' }, el('p', { className: 'muted' }, 'Loading…'))),
      K.section('Queues', el('div', { id: 'queues' }, el('p', { className: 'muted' }, 'Loading…'))),
      K.section('Schedules', el('div', { id: 'schedules' }, el('p', { className: 'muted' }, 'Loading…'))));
    load(visit);
    return () => {};
  };
})(window.Keel);
