// One workflow's page (#/workflow/<id>): its row, inputs, output or error,
// the timeline of its steps, its events, its inbox, its parent and
// children, and the Cancel / Resume / Fork actions (POST routes of the admin
// API, each confirmed first; the answer or the API's error is shown).
'use strict';

(function (K) {
  const { el } = K;
  let current = null;  // {id}: the page shown; answers for another are dropped
  const INBOX_PAGE = 100;

  function summary(w) {
    const dl = el('dl', { className: 'summary' });
    const add = (k, v) => dl.append(el('dt', {}, k), el('dd', {}, v));
    add('Name', w.name);
    add('Status', el('span', { id: 'wf-status' }, K.badge(w.status)));
    add('Executor', w.executor_id || el('span', { className: 'muted' }, 'none (released)'));
    add('Version', w.application_version);
    add('Queue', w.queue_name || '—');
    add('Parent', w.parent_id ? K.link(w.parent_id) : '—');
    add('Created', K.time(w.created_at_ms) + ' (' + K.age(w.created_at_ms) + ')');
    add('Updated', K.time(w.updated_at_ms) + ' (' + K.age(w.updated_at_ms) + ')');
    add('Recovery attempts', String(w.recovery_attempts));
    add('Deadline', w.deadline_epoch_ms ? K.time(w.deadline_epoch_ms) : '—');
    return dl;
  }

  function outcome(w) {
    if (w.error) return el('div', { id: 'wf-error' }, K.errorValue(w.error));
    if (w.output !== null) return el('div', { id: 'wf-output' }, K.value(w.output));
    return el('p', { className: 'muted' }, 'No outcome yet (' + w.status + ').');
  }

  // The timeline: each step's offset from the first, its duration, and a
  // bar of where it falls in the run.
  function timeline(steps) {
    if (!steps.length) return el('p', { id: 'no-steps', className: 'muted' }, 'No step recorded yet.');
    const t0 = Math.min(...steps.map((s) => s.started_at_ms || Infinity));
    const t1 = Math.max(...steps.map((s) => s.completed_at_ms || s.started_at_ms || 0));
    const span = Math.max(t1 - t0, 1);
    const rows = steps.map((s) => {
      const dur = s.completed_at_ms && s.started_at_ms ? s.completed_at_ms - s.started_at_ms : null;
      const bar = el('div', { className: 'bar' + (s.error ? ' failed' : '') });
      if (s.started_at_ms) {
        bar.style.marginLeft = ((100 * (s.started_at_ms - t0)) / span).toFixed(1) + '%';
        bar.style.width = Math.max((100 * (dur || 0)) / span, 0.5).toFixed(1) + '%';
      }
      let result;
      if (s.error) result = K.errorValue(s.error);
      else if (s.child_workflow_id) result = el('span', {}, 'child ', K.link(s.child_workflow_id));
      else result = K.value(s.output);
      return el('tr', { dataset: { functionId: String(s.function_id) } },
        el('td', {}, String(s.function_id)),
        el('td', { className: 'step-name' }, s.name),
        el('td', {}, s.kind || '—'),
        el('td', { title: K.time(s.started_at_ms) }, s.started_at_ms ? '+' + K.duration(s.started_at_ms - t0) : '—'),
        el('td', {}, K.duration(dur)),
        // null: recorded before Keel counted attempts.
        el('td', { className: 'attempts' + (s.attempts > 1 ? ' retried' : '') }, s.attempts ? String(s.attempts) : '—'),
        el('td', { className: 'timeline' }, bar),
        el('td', {}, result));
    });
    return K.table('steps-table', ['#', 'Step', 'Kind', 'Start', 'Duration', 'Attempts', 'Timeline', 'Output or error'], rows);
  }

  function eventsTable(events) {
    if (!events.length) return el('p', { id: 'no-events', className: 'muted' }, 'No event set.');
    return K.table('events-table', ['Key', 'Value', 'Set'],
      events.map((e) => el('tr', {}, el('td', {}, e.key), el('td', {}, K.value(e.value)), K.timeCell(e.updated_at_ms))));
  }

  function inboxTable(inbox) {
    if (!inbox.messages.length) return el('p', { id: 'no-messages', className: 'muted' }, 'No message sent to it.');
    const rows = inbox.messages.map((m) => el('tr', {},
      el('td', {}, String(m.message_id)), el('td', {}, m.topic || '—'), el('td', {}, K.value(m.message)),
      el('td', {}, m.sender_id ? K.link(m.sender_id) : 'outside'), el('td', {}, m.consumed ? 'yes' : 'no'),
      K.timeCell(m.created_at_ms)));
    const more = inbox.messages.length >= INBOX_PAGE
      ? el('p', { className: 'muted' }, 'The first ' + INBOX_PAGE + ' shown; the rest: keel workflow messages ' +
        inbox.workflow_id + ' --after ' + inbox.next_after)
      : null;
    return el('div', {}, K.table('messages-table', ['#', 'Topic', 'Message', 'Sender', 'Consumed', 'Sent'], rows),
      more || '');
  }

  function childrenTable(page) {
    if (!page.workflows.length) return el('p', { id: 'no-children', className: 'muted' }, 'No child workflow.');
    const more = page.next_cursor ? el('p', { className: 'muted' }, 'Only the first ' + page.workflows.length + ' shown.') : null;
    return el('div', {}, K.table('children-table', ['ID', 'Name', 'Status', 'Created'],
      page.workflows.map((c) => el('tr', { dataset: { id: c.id } },
        el('td', {}, K.link(c.id)), el('td', {}, c.name), el('td', {}, K.badge(c.status)), K.timeCell(c.created_at_ms)))),
    more || '');
  }

  // --- actions ----------------------------------------------------------------

  async function act(id, question, method, path, body, describe) {
    if (!window.confirm(question)) return;
    K.clearBanners();
    let answer;
    try {
      answer = await K.api(method, path, body);
    } catch (err) {
      K.showError(err);
      return;
    }
    K.showNotice(describe(answer));
    try {
      await render(id);  // the workflow as it is now
    } catch (err) {
      K.showError(err);
    }
  }

  function forkForm(id, steps) {
    const last = steps.length ? Math.max(...steps.map((s) => s.function_id)) : 0;
    const options = steps.map((s) => el('option', { value: String(s.function_id) },
      s.function_id + ': ' + s.name + (s.error ? ' (failed)' : '')));
    options.push(el('option', { value: String(last + 1) }, (last + 1) + ': after the last recorded step'));
    const failed = steps.find((s) => s.error);
    const select = el('select', { id: 'fork-step' }, options);
    select.value = String(failed ? failed.function_id : 1);
    const newId = el('input', { type: 'text', id: 'fork-id', placeholder: 'empty: a fresh UUID', spellcheck: false });
    const version = el('input', { type: 'text', id: 'fork-version', placeholder: 'empty: the original\'s', spellcheck: false });
    const submit = (ev) => {
      ev.preventDefault();
      const body = { start_step: Number(select.value) };
      if (newId.value.trim()) body.workflow_id = newId.value.trim();
      if (version.value.trim()) body.application_version = version.value.trim();
      act(id, 'Fork ' + id + ' from step ' + body.start_step + '? The steps before it are not run again.',
        'POST', '/workflows/' + K.enc(id) + '/fork', body,
        (a) => ['Forked as ', K.link(a.workflow_id), ' (' + a.status + ', version ' + a.application_version + ').']);
    };
    return el('form', { id: 'fork-form', className: 'fork', on: { submit } },
      el('label', { className: 'field' }, 'Start at step', select),
      el('label', { className: 'field' }, 'New workflow ID', newId),
      el('label', { className: 'field' }, 'Application version', version),
      el('button', { type: 'submit', id: 'btn-fork' }, 'Fork'));
  }

  function actions(w, steps) {
    const path = '/workflows/' + K.enc(w.id);
    return el('div', { className: 'wf-actions' },
      el('button', { type: 'button', id: 'wf-refresh', className: 'quiet',
        on: { click: () => render(w.id).catch((err) => K.showError(err)) } }, 'Refresh'),
      el('button', { type: 'button', id: 'btn-cancel', className: 'danger',
        on: { click: () => act(w.id, 'Cancel workflow ' + w.id + '? It stops at its next step.', 'POST', path + '/cancel',
          undefined, (a) => (a.cancelled ? 'Cancelled: ' : 'Not cancelled (already finished): ') + a.status) } }, 'Cancel'),
      el('button', { type: 'button', id: 'btn-resume',
        on: { click: () => act(w.id, 'Resume workflow ' + w.id + ' from its last checkpoint?', 'POST', path + '/resume',
          undefined, (a) => (a.resumed ? 'Resumed: ' : 'Not resumed: ') + a.status +
            (a.executor_id ? ' on executor ' + a.executor_id : ' (waiting for an executor of its version)')) } }, 'Resume'),
      forkForm(w.id, steps));
  }

  // Reads everything the page shows, in parallel, then renders it at once.
  async function render(id) {
    const base = '/workflows/' + K.enc(id);
    // The row first: an unknown ID is one 404, not five.
    const w = await K.api('GET', base);
    const [steps, events, inbox, children] = await Promise.all([
      K.api('GET', base + '/steps'), K.api('GET', base + '/events'),
      K.api('GET', base + '/messages?limit=' + INBOX_PAGE), K.api('GET', '/workflows?limit=100&parent_id=' + K.enc(id))]);
    if (!current || current.id !== id) return;
    document.getElementById('view').replaceChildren(
      el('p', {}, el('a', { href: '#/workflows' }, '← Workflows')),
      el('h1', {}, 'Workflow ', el('code', { id: 'wf-id' }, w.id), ' ', K.badge(w.status)),
      actions(w, steps.steps),
      el('div', { className: 'cols' },
        K.section('Summary', summary(w)),
        el('div', {},
          K.section('Inputs', el('div', { id: 'wf-inputs' }, K.value(w.inputs))),
          K.section(w.error ? 'Error' : 'Output', outcome(w)))),
      K.section('Steps', timeline(steps.steps)),
      K.section('Events', eventsTable(events.events)),
      K.section('Inbox', inboxTable(inbox)),
      K.section('Children', childrenTable(children)));
  }

  K.views = K.views || {};
  K.views.workflow = function (view, id) {
    current = { id };
    const mine = current;
    view.replaceChildren(el('h1', {}, 'Workflow ', el('code', {}, id)), el('p', { className: 'muted' }, 'Loading…'));
    render(id).catch((err) => {
      if (current !== mine) return;
      K.showError(err);
      view.replaceChildren(el('h1', {}, 'Workflow ', el('code', {}, id)), K.notLoaded());
    });
    return () => {
      if (current === mine) current = null;
    };
  };
})(window.Keel);
