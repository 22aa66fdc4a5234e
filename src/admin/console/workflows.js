// The workflows page (#/workflows?filters): the filters of GET /workflows,
// one page at a time (keyset cursor: next_cursor), refresh in place.
'use strict';

(function (K) {
  const { el } = K;
  const STATUSES = ['ENQUEUED', 'PENDING', 'SUCCESS', 'ERROR', 'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED'];
  // Form field -> GET /workflows parameter (docs/operations.md, "Finding workflows").
  const TEXT_FILTERS = [
    ['f-name', 'name', 'Name', 'checkout'],
    ['f-id-prefix', 'id_prefix', 'ID prefix', 'order-'],
    ['f-queue', 'queue_name', 'Queue', ''],
    ['f-version', 'application_version', 'Version', ''],
    ['f-executor', 'executor_id', 'Executor', ''],
    ['f-parent', 'parent_id', 'Parent ID', ''],
    ['f-created-after', 'created_after', 'Created after', '2h, 2026-12-06T04:00:00Z'],
    ['f-created-before', 'created_before', 'Created before', '15m, epoch ms'],
  ];
  const REFRESH_MS = 5000;

  // The page's state while it is shown; reset by each visit.
  let state = null;

  function filtersFromHash(query) {
    const params = new URLSearchParams(query);
    const f = {};
    for (const [, key] of TEXT_FILTERS) if (params.get(key)) f[key] = params.get(key);
    if (params.get('status')) f.status = params.get('status');
    if (params.get('limit')) f.limit = params.get('limit');
    return f;
  }

  function filterForm(filters) {
    const selected = new Set((filters.status || '').split(',').filter(Boolean));
    const statusBoxes = STATUSES.map((s) =>
      el('label', { className: 'check' },
        el('input', { type: 'checkbox', id: 'f-status-' + s, value: s, checked: selected.has(s) }), K.badge(s)));
    const texts = TEXT_FILTERS.map(([id, key, label, hint]) =>
      el('label', { className: 'field' }, label,
        el('input', { type: 'text', id, value: filters[key] || '', placeholder: hint, spellcheck: false })));
    const limit = el('select', { id: 'f-limit' },
      ['25', '50', '100', '500'].map((n) => el('option', { value: n, selected: (filters.limit || '50') === n }, n)));
    const form = el('form', { id: 'filters', className: 'filters', on: { submit: applyFilters } },
      el('div', { className: 'statuses' }, 'Status: ', statusBoxes),
      el('div', { className: 'fields' }, texts, el('label', { className: 'field' }, 'Per page', limit)),
      el('div', { className: 'actions' },
        el('button', { type: 'submit', id: 'apply-filters' }, 'Apply'),
        el('button', { type: 'button', id: 'clear-filters', className: 'quiet',
          on: { click: () => K.go('#/workflows') } }, 'Clear'),
        el('button', { type: 'button', id: 'refresh', on: { click: () => load() } }, 'Refresh'),
        el('label', { className: 'check' },
          el('input', { type: 'checkbox', id: 'auto-refresh', on: { change: toggleAuto } }), 'Auto-refresh (5 s)'),
        el('span', { id: 'refreshed', className: 'muted' })));
    return form;
  }

  // Puts the form's filters into the hash: the view renders from the hash,
  // so a reload or a shared link shows the same list.
  function applyFilters(ev) {
    ev.preventDefault();
    const params = new URLSearchParams();
    const statuses = STATUSES.filter((s) => document.getElementById('f-status-' + s).checked);
    if (statuses.length) params.set('status', statuses.join(','));
    for (const [id, key] of TEXT_FILTERS) {
      const v = document.getElementById(id).value.trim();
      if (v) params.set(key, v);
    }
    params.set('limit', document.getElementById('f-limit').value);
    K.go('#/workflows?' + params.toString());
  }

  function toggleAuto(ev) {
    if (state.timer) clearInterval(state.timer);
    state.timer = ev.target.checked ? setInterval(() => load(), REFRESH_MS) : null;
  }

  function row(w) {
    return el('tr', { dataset: { id: w.id } },
      el('td', {}, K.link(w.id)),
      el('td', {}, w.name),
      el('td', { className: 'status' }, K.badge(w.status)),
      K.timeCell(w.created_at_ms),
      K.timeCell(w.updated_at_ms),
      el('td', {}, w.executor_id || el('span', { className: 'muted' }, 'none')),
      el('td', {}, w.application_version),
      el('td', {}, w.queue_name || ''));
  }

  function renderPage(page) {
    const rows = page.workflows.map(row);
    const table = K.table('workflows-table',
      ['ID', 'Name', 'Status', 'Created', 'Updated', 'Executor', 'Version', 'Queue'], rows);
    const empty = page.workflows.length ? null : el('p', { id: 'no-workflows', className: 'muted' }, 'No workflow matches.');
    const pageNo = state.cursors.length + 1;
    const total = page.total === null ? '' : ' of ' + page.total + ' matching';
    const pager = el('div', { className: 'pager' },
      el('button', { type: 'button', id: 'first-page', disabled: pageNo === 1, on: { click: firstPage } }, 'First'),
      el('button', { type: 'button', id: 'prev-page', disabled: pageNo === 1, on: { click: prevPage } }, 'Previous'),
      el('span', { id: 'page-info' }, 'Page ' + pageNo + ': ' + page.workflows.length + ' shown' + total),
      el('button', { type: 'button', id: 'next-page', disabled: !page.next_cursor,
        on: { click: () => nextPage(page.next_cursor) } }, 'Next'));
    document.getElementById('results').replaceChildren(table, empty || '', pager);
    document.getElementById('refreshed').textContent = 'Updated ' + new Date().toLocaleTimeString();
  }

  async function load() {
    const mine = state;
    const params = new URLSearchParams(mine.filters);
    if (!params.has('limit')) params.set('limit', '50');
    params.set('count', 'true');
    if (mine.cursor) params.set('cursor', mine.cursor);
    try {
      const page = await K.api('GET', '/workflows?' + params.toString());
      if (state !== mine) return;  // the operator moved on meanwhile
      K.showError(null);
      renderPage(page);
    } catch (err) {
      if (state !== mine) return;
      K.showError(err);
      document.getElementById('results').replaceChildren(K.notLoaded());
    }
  }

  function nextPage(cursor) {
    state.cursors.push(state.cursor);
    state.cursor = cursor;
    load();
  }
  function prevPage() {
    state.cursor = state.cursors.pop() || '';
    load();
  }
  function firstPage() {
    state.cursors = [];
    state.cursor = '';
    load();
  }

  K.views = K.views || {};
  K.views.workflows = function (view, query) {
    const filters = filtersFromHash(query);
    state = { filters, cursor: '', cursors: [], timer: null };
    view.replaceChildren(
      el('h1', {}, 'Workflows'),
      filterForm(filters),
      el('div', { id: 'results' }, el('p', { className: 'muted' }, 'Loading…')));
    load();
    const mine = state;
    return () => {  // leaving the page
      if (mine.timer) clearInterval(mine.timer);
      if (state === mine) state = null;
    };
  };
})(window.Keel);
