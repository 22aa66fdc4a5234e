// The console's shared pieces: the admin token, calls to the admin JSON API,
// the error and notice banners, and small DOM and formatting helpers.
// Everything is built with textContent, never innerHTML: workflow inputs,
// outputs and names are data from anywhere and must not become markup.
'use strict';

window.Keel = window.Keel || {};

(function (K) {
  const TOKEN_KEY = 'keel.adminToken';

  K.token = {
    get: () => sessionStorage.getItem(TOKEN_KEY) || '',
    set: (t) => sessionStorage.setItem(TOKEN_KEY, t),
    clear: () => sessionStorage.removeItem(TOKEN_KEY),
  };

  // An answer of the API other than 2xx: its JSON {"error","message"}.
  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }
  K.ApiError = ApiError;

  // Calls the admin API; resolves to the parsed JSON body, rejects with an
  // ApiError (the server's code and message, or what went wrong on the way).
  K.api = async function (method, path, body) {
    const headers = { Accept: 'application/json' };
    const token = K.token.get();
    if (token) headers.Authorization = 'Bearer ' + token;
    const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, 'unreachable', 'the admin server did not answer (' + e.message + ')');
    }
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch (e) {
      json = null;
    }
    if (!res.ok) {
      const code = json && json.error ? json.error : 'http_' + res.status;
      const message = json && json.message ? json.message : text || res.statusText;
      const err = new ApiError(res.status, code, message);
      if (res.status === 401) K.onUnauthorized(err);
      throw err;
    }
    if (json === null) throw new ApiError(res.status, 'bad_answer', 'the admin server answered no JSON');
    return json;
  };

  K.onUnauthorized = function () {};  // set by app.js: shows the token form

  // --- banners ------------------------------------------------------------

  // content: text, or a list of text and nodes (a link to a new workflow).
  function banner(id, content) {
    const b = document.getElementById(id);
    b.replaceChildren(...[].concat(content || []));
    b.hidden = !content;
  }
  K.showError = (err) => {
    if (!err) return banner('error', '');
    const text = err instanceof ApiError
      ? err.message + ' (' + (err.status ? 'HTTP ' + err.status + ' ' : '') + err.code + ')'
      : String(err && err.message ? err.message : err);
    banner('error', text);
  };
  K.showNotice = (content) => banner('notice', content);
  K.clearBanners = () => {
    banner('error', '');
    banner('notice', '');
  };

  // --- DOM ------------------------------------------------------------------

  // el('a', {href: '#/x', className: 'y'}, 'text', child...): properties are
  // set as DOM properties (so no attribute can smuggle in a handler string);
  // 'dataset' and 'on' take objects.
  K.el = function (tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null) continue;
      if (k === 'dataset') Object.assign(node.dataset, v);
      else if (k === 'on') for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
      else node[k] = v;
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      node.append(c instanceof Node ? c : String(c));
    }
    return node;
  };

  K.badge = (status) => K.el('span', { className: 'badge status-' + status }, status);

  K.table = function (id, headers, rows) {
    return K.el('table', { id },
      K.el('thead', {}, K.el('tr', {}, headers.map((h) => K.el('th', {}, h)))),
      K.el('tbody', {}, rows));
  };

  K.section = (title, ...content) => K.el('section', { className: 'card' }, K.el('h2', {}, title), ...content);

  // A JSON value as text; long ones folded in <details> (pretty-printed).
  K.value = function (v) {
    if (v === undefined) return K.el('span', { className: 'muted' }, '—');
    const compact = JSON.stringify(v);
    if (compact.length <= 100) return K.el('code', { className: 'value' }, compact);
    return K.fold(compact, JSON.stringify(v, null, 2));
  };
  // Plain text (an error's message), folded when long.
  K.plain = function (text) {
    if (text.length <= 160 && !text.includes('\n')) return K.el('span', {}, text);
    return K.fold(text, text);
  };
  K.fold = (head, full) => K.el('details', { className: 'value' },
    K.el('summary', {}, head.replace(/\s+/g, ' ').slice(0, 80) + '…'), K.el('pre', {}, full));

  K.errorValue = (e) => K.el('span', { className: 'error-text' }, e.type ? e.type + ': ' : '', K.plain(e.message));

  // In place of a view's content that could not be read (the error banner says why).
  K.notLoaded = () => K.el('p', { className: 'muted not-loaded' }, 'Not loaded: see the error above.');

  // --- formatting -----------------------------------------------------------

  K.time = function (ms) {
    if (!ms) return '—';
    return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  };
  K.duration = function (ms) {
    if (ms === null || ms === undefined || ms < 0) return '—';
    if (ms < 1000) return ms + ' ms';
    if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
    const m = Math.floor(ms / 60000);
    if (m < 60) return m + 'm ' + Math.floor((ms % 60000) / 1000) + 's';
    const h = Math.floor(m / 60);
    return h < 48 ? h + 'h ' + (m % 60) + 'm' : Math.floor(h / 24) + 'd ' + (h % 24) + 'h';
  };
  K.age = (ms) => (ms ? K.duration(Date.now() - ms) + ' ago' : '—');
  K.timeCell = (ms) => K.el('td', { title: K.time(ms) }, K.age(ms));

  K.link = (id) => K.el('a', { href: '#/workflow/' + encodeURIComponent(id), className: 'wf-link' }, id);
  K.enc = encodeURIComponent;
})(window.Keel);
