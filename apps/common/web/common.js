// Helpers shared by the apps' pages (loaded before each page's own script).
// Everything shown comes from JSON and goes into the page with textContent,
// never as HTML: product names and IDs need no escaping.
'use strict';

const Keel = {
  // 123456 -> "1,234.56"
  money(cents) {
    const negative = cents < 0;
    const abs = Math.abs(Math.trunc(cents));
    const units = Math.floor(abs / 100).toLocaleString('en-US');
    const rest = String(abs % 100).padStart(2, '0');
    return (negative ? '-' : '') + units + '.' + rest;
  },

  // A new element with text (and optional class); children appended in order.
  el(tag, text, className, ...children) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (className) e.className = className;
    for (const c of children) e.appendChild(c);
    return e;
  },

  // fetch() answering {ok, status, body}; body is the parsed JSON or {}.
  // A network failure answers status 0 rather than throwing.
  async json(url, options = {}) {
    const headers = Object.assign({ Accept: 'application/json' }, options.headers || {});
    let response;
    try {
      response = await fetch(url, Object.assign({}, options, { headers, cache: 'no-store' }));
    } catch (e) {
      return { ok: false, status: 0, body: { message: 'the server cannot be reached (' + e.message + ')' } };
    }
    let body = {};
    try {
      body = await response.json();
    } catch (e) {
      body = {};
    }
    return { ok: response.ok, status: response.status, body };
  },

  // The message of an error answer, for people.
  messageOf(answer) {
    if (answer.body && typeof answer.body.message === 'string') return answer.body.message;
    return answer.status === 0 ? 'the server cannot be reached' : 'HTTP ' + answer.status;
  },

  // Only http(s) URLs are followed: a redirect never runs script.
  safeUrl(url) {
    try {
      const u = new URL(url, window.location.href);
      return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
    } catch (e) {
      return null;
    }
  },

  // The last segment of the page's path, decoded: the order or session ID.
  lastPathSegment() {
    const parts = window.location.pathname.split('/').filter((p) => p.length > 0);
    return parts.length ? decodeURIComponent(parts[parts.length - 1]) : '';
  },
};
