// The order page (/orders/:id in a browser): the order from GET /orders/:id
// (JSON), polled until its status is final.
'use strict';

const FINAL = new Set(['fulfilled', 'cancelled', 'failed']);
const LABELS = {
  reserving: 'Reserving your items',
  awaiting_payment: 'Awaiting payment',
  fulfilled: 'Fulfilled: paid, and on its way',
  cancelled: 'Cancelled',
  failed: 'Failed',
};
const REASONS = {
  out_of_stock: 'Not enough stock for this order.',
  payment_unavailable: 'The payment service could not be reached; you were not charged.',
  payment_cancelled: 'You cancelled the payment; you were not charged.',
  payment_expired: 'The payment session expired; you were not charged.',
  checkout_timeout: 'No payment came in time; you were not charged.',
};
const POLL_MS = 1000;
const orderId = Keel.lastPathSegment();
let names = {};

function say(text, isError) {
  const m = document.getElementById('message');
  m.textContent = text;
  m.classList.toggle('error', Boolean(isError));
}

// Once an order is over, its cart's key is spent: buying the same cart again
// must be a new order (storefront.js keeps one key per cart).
function forgetCartKey() {
  for (let i = sessionStorage.length - 1; i >= 0; --i) {
    const name = sessionStorage.key(i);
    if (name && name.startsWith('keel.cart.') && sessionStorage.getItem(name) === orderId) sessionStorage.removeItem(name);
  }
}

function render(order) {
  const status = document.getElementById('order-status');
  status.dataset.status = order.status;
  status.textContent = LABELS[order.status] || order.status;
  const reason = document.getElementById('order-reason');
  reason.hidden = !order.failure;
  reason.textContent = order.failure ? (REASONS[order.failure] || order.failure) : '';
  const body = document.querySelector('#order-items tbody');
  body.replaceChildren();
  for (const i of order.items || []) {
    body.appendChild(Keel.el('tr', null, null,
      Keel.el('td', names[i.product_id] || 'Product ' + i.product_id),
      Keel.el('td', i.quantity, 'num'),
      Keel.el('td', Keel.money(i.price_cents), 'num'),
      Keel.el('td', Keel.money(i.price_cents * i.quantity), 'num')));
  }
  document.getElementById('order-items').hidden = (order.items || []).length === 0;
  document.getElementById('order-amount').textContent = Keel.money(order.amount_cents);
  document.getElementById('order-amount-line').hidden = false;
}

async function poll() {
  const answer = await Keel.json('/orders/' + encodeURIComponent(orderId));
  if (answer.ok) {
    say('', false);
    render(answer.body);
    if (FINAL.has(answer.body.status)) {
      forgetCartKey();
      return;
    }
  } else if (answer.status === 404) {
    document.getElementById('order-status').textContent = 'Unknown order';
    say(Keel.messageOf(answer), true);
    return;
  } else {
    say('Cannot read the order right now (' + Keel.messageOf(answer) + '); trying again.', true);
  }
  setTimeout(poll, POLL_MS);
}

async function loadNames() {
  const answer = await Keel.json('/products');
  if (answer.ok && Array.isArray(answer.body)) for (const p of answer.body) names[p.product_id] = p.name;
}

document.addEventListener('DOMContentLoaded', async () => {
  document.getElementById('order-id').textContent = orderId;
  await loadNames();
  poll();
});
