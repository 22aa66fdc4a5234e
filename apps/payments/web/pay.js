// The hosted payment page (/pay/:id in a browser): the session from
// GET /api/sessions/:id; Pay and Cancel call /api/submit_payment and
// /api/cancel_payment, then send the customer to the session's success_url or
// cancel_url (the shop's order page).
//
// Each action carries the idempotency key "<action>-<session>" (the keys the
// shop's curl commands print), so a double click or a retried request is one
// charge or one cancellation; the service also charges a session at most once
// whatever the key.
'use strict';

const sessionId = Keel.lastPathSegment();
const STATUS_TEXT = {
  pending: 'Awaiting your payment',
  paid: 'This session is paid.',
  cancelled: 'This payment was cancelled.',
  expired: 'This payment session has expired.',
};
let session = null;
let busy = false;

function say(text, isError) {
  const m = document.getElementById('message');
  m.textContent = text;
  m.classList.toggle('error', Boolean(isError));
}

// Where to send the customer once the session is final: the shop's page.
function returnUrl(s) {
  const url = s.payment_status === 'paid' ? s.success_url : s.cancel_url;
  return typeof url === 'string' ? Keel.safeUrl(url) : null;
}

function render(s) {
  session = s;
  const status = document.getElementById('session-status');
  status.dataset.status = s.payment_status;
  status.textContent = STATUS_TEXT[s.payment_status] || s.payment_status;
  const body = document.querySelector('#items tbody');
  body.replaceChildren();
  for (const i of s.items || []) {
    body.appendChild(Keel.el('tr', null, null,
      Keel.el('td', i.description),
      Keel.el('td', i.quantity, 'num'),
      Keel.el('td', Keel.money(i.price_cents), 'num'),
      Keel.el('td', Keel.money(i.price_cents * i.quantity), 'num')));
  }
  document.getElementById('items').hidden = (s.items || []).length === 0;
  document.getElementById('amount').textContent = Keel.money(s.amount_cents);
  document.getElementById('amount-line').hidden = false;
  const pending = s.payment_status === 'pending';
  document.getElementById('actions').hidden = !pending;
  const back = returnUrl(s);
  document.getElementById('return').hidden = pending || !back;
  if (back) document.getElementById('return-link').href = back;
}

async function load() {
  const answer = await Keel.json('/api/sessions/' + encodeURIComponent(sessionId));
  if (!answer.ok) {
    document.getElementById('session-status').textContent = 'Unknown payment session';
    say(Keel.messageOf(answer), true);
    return false;
  }
  render(answer.body);
  return true;
}

async function act(action) {
  if (busy) return;
  busy = true;
  for (const id of ['pay', 'cancel']) document.getElementById(id).disabled = true;
  say(action === 'submit' ? 'Paying…' : 'Cancelling…', false);
  const answer = await Keel.json('/api/' + action + '_payment', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': action + '-' + sessionId },
    body: JSON.stringify({ session_id: sessionId }),
  });
  if (answer.ok) {
    await load();
    const back = session && returnUrl(session);
    say(action === 'submit' ? 'Paid. Taking you back to the shop…' : 'Cancelled. Taking you back to the shop…', false);
    if (back) window.location.assign(back);
    return;
  }
  // Refused (already paid, cancelled or expired) or unreachable: show why,
  // and the session as it now is.
  say(Keel.messageOf(answer), true);
  await load();
  for (const id of ['pay', 'cancel']) document.getElementById(id).disabled = false;
  busy = false;
}

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('session-id').textContent = sessionId;
  document.getElementById('pay').addEventListener('click', () => act('submit'));
  document.getElementById('cancel').addEventListener('click', () => act('cancel'));
  load();
});
