// The storefront: products from GET /products, a quantity for each, and Buy,
// which runs the checkout (POST /checkout/:key) and sends the customer to the
// payment service's hosted page.
//
// One idempotency key per cart: the key (a random UUID) is kept in
// sessionStorage under the cart's contents, so a double click, a reload or a
// retried request for the same cart reaches the same checkout (the key is
// the order ID) and makes one order. A different cart gets a new key; so
// does the same cart once its order is over (the order page forgets the key)
// or refused for good (below).
'use strict';

const KEY_PREFIX = 'keel.cart.';
let products = [];

function uuid() {
  if (window.crypto && typeof window.crypto.randomUUID === 'function') return window.crypto.randomUUID();
  // Outside a secure context randomUUID is missing; getRandomValues is not.
  const b = window.crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
}

// The cart as the checkout's body lines, in product order (the same cart
// always gives the same lines, hence the same key and the same body).
function cart() {
  const items = [];
  for (const p of products) {
    const input = document.getElementById('qty-' + p.product_id);
    const q = Number(input.value);
    if (Number.isInteger(q) && q > 0) items.push({ product_id: p.product_id, quantity: q });
  }
  return items;
}

function cartName(items) {
  return KEY_PREFIX + items.map((i) => i.product_id + 'x' + i.quantity).join(',');
}

function keyFor(items) {
  const name = cartName(items);
  let key = sessionStorage.getItem(name);
  if (!key) {
    key = uuid();
    sessionStorage.setItem(name, key);
  }
  return key;
}

function forgetKey(items) {
  sessionStorage.removeItem(cartName(items));
}

function say(text, isError) {
  const m = document.getElementById('message');
  m.textContent = text;
  m.classList.toggle('error', Boolean(isError));
}

function updateTotal() {
  let total = 0;
  let valid = true;
  for (const p of products) {
    const q = Number(document.getElementById('qty-' + p.product_id).value);
    if (!Number.isInteger(q) || q < 0) valid = false;
    else total += q * p.price_cents;
  }
  document.getElementById('total').textContent = valid ? Keel.money(total) : '—';
  document.getElementById('buy').disabled = !valid || total === 0;
}

function render() {
  const body = document.querySelector('#products tbody');
  body.replaceChildren();
  for (const p of products) {
    const input = document.createElement('input');
    input.type = 'number';
    input.min = '0';
    input.step = '1';
    input.value = '0';
    input.id = 'qty-' + p.product_id;
    input.setAttribute('aria-label', 'Quantity of ' + p.name);
    input.addEventListener('input', updateTotal);
    const row = Keel.el('tr', null, null,
      Keel.el('td', p.name),
      Keel.el('td', Keel.money(p.price_cents), 'num'),
      Keel.el('td', p.inventory, 'num stock'),
      Keel.el('td', null, 'num', input));
    row.dataset.productId = String(p.product_id);
    body.appendChild(row);
  }
  updateTotal();
}

async function load() {
  const answer = await Keel.json('/products');
  if (!answer.ok || !Array.isArray(answer.body)) {
    say('The products cannot be shown: ' + Keel.messageOf(answer), true);
    return;
  }
  products = answer.body;
  render();
}

// Errors after which the same key can only give the same refusal: the next
// Buy of this cart must be a new checkout.
const FINAL_ERRORS = new Set(['out_of_stock', 'payment_unavailable', 'unknown_product', 'idempotency_key_reused',
  'invalid_request', 'invalid_key']);

async function buy() {
  const items = cart();
  if (items.length === 0) return say('Choose a quantity first.', true);
  const key = keyFor(items);
  const button = document.getElementById('buy');
  button.disabled = true;
  say('Placing your order…', false);
  const answer = await Keel.json('/checkout/' + encodeURIComponent(key), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ items }),
  });
  if (answer.ok && Keel.safeUrl(answer.body.payment_url)) {
    say('Taking you to the payment page…', false);
    window.location.assign(Keel.safeUrl(answer.body.payment_url));
    return;
  }
  if (FINAL_ERRORS.has(answer.body.error)) forgetKey(items);
  if (FINAL_ERRORS.has(answer.body.error)) say('Your order was not placed: ' + Keel.messageOf(answer) + '.', true);
  else say('Your order is not confirmed yet: ' + Keel.messageOf(answer) + '. Press Buy again: the same order ' +
    'continues, and you will not be charged twice.', true);
  button.disabled = false;
}

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('buy').addEventListener('click', buy);
  load();
});
// Back from the payment page (the page restored from the back/forward
// cache): the button is usable again; the cart's key is unchanged.
window.addEventListener('pageshow', (e) => {
  if (e.persisted) {
    say('', false);
    updateTotal();
  }
});
