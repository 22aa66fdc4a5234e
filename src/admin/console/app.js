// The console's router and the admin-token form. Routes live in the hash
// (#/workflows?filters, #/workflow/<id>, #/system) so the page never
// reloads and every view has a link of its own.
'use strict';

(function (K) {
  let leave = () => {};

  function route() {
    leave();
    K.clearBanners();
    const view = document.getElementById('view');
    const hash = location.hash || '#/workflows';
    const [path, query] = hash.slice(1).split(/\?(.*)/s);
    document.querySelectorAll('nav a').forEach((a) => a.classList.toggle('active', hash.startsWith(a.getAttribute('href'))));
    if (path.startsWith('/workflow/')) {
      leave = K.views.workflow(view, decodeURIComponent(path.slice('/workflow/'.length)));
    } else if (path === '/system') {
      leave = K.views.system(view);
    } else {
      leave = K.views.workflows(view, query || '');
    }
  }

  K.route = route;
  // Shows `hash`; renders it again when it is already shown (hashchange
  // would not fire), e.g. Apply with unchanged filters.
  K.go = (hash) => {
    if (location.hash === hash) route();
    else location.hash = hash;
  };

  function showTokenForm(message) {
    document.getElementById('token-message').textContent = message;
    document.getElementById('token-panel').hidden = false;
    document.getElementById('token-input').focus();
  }

  // A 401 from any call: say why, and ask for the token.
  K.onUnauthorized = function (err) {
    showTokenForm(K.token.get()
      ? 'The admin server refused this token (' + err.message + '). Enter the right one.'
      : 'This admin server needs its admin token (' + err.message + ').');
  };

  function init() {
    document.getElementById('token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const input = document.getElementById('token-input');
      const t = input.value.trim();
      if (t) K.token.set(t);
      else K.token.clear();
      input.value = '';
      document.getElementById('token-panel').hidden = true;
      route();
    });
    document.getElementById('token-forget').addEventListener('click', () => {
      K.token.clear();
      showTokenForm('Token forgotten. Enter one to use a server that needs it.');
    });
    document.getElementById('token-show').addEventListener('click', () => {
      const panel = document.getElementById('token-panel');
      if (panel.hidden) showTokenForm(K.token.get() ? 'A token is set for this tab.' : 'No token is set for this tab.');
      else panel.hidden = true;
    });
    window.addEventListener('hashchange', route);
    route();
  }

  document.addEventListener('DOMContentLoaded', init);
})(window.Keel);
