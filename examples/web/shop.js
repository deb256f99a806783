// A tiny single-page shop instrumented with Footfall: automatic page views (including the SPA
// navigation below), track, identify, reset and consent. Serve it with `node examples/web/serve.mjs`.
import { load } from '@footfall/web';

const products = [
  { id: 'p-1', name: 'Trail shoes', price: 89 },
  { id: 'p-2', name: 'Rain jacket', price: 129 },
  { id: 'p-3', name: 'Wool socks', price: 12 },
];
const cart = [];
const $ = (id) => document.getElementById(id);

const analytics = await load({
  writeKey: new URLSearchParams(location.search).get('writeKey') || 'wk_demo',
  host: window.FOOTFALL_HOST || location.origin,
});
$('consent').checked = !analytics.optedOut;

function show(view) {
  $('products').hidden = view !== 'products';
  $('cart').hidden = view !== 'cart';
  $('count').textContent = cart.length;
  $('items').innerHTML = cart.map((p) => `<li>${p.name}: €${p.price}</li>`).join('');
}

$('products').innerHTML = products
  .map((p) => `<div class="product"><b>${p.name}</b><br />€${p.price}<br /><button data-id="${p.id}">Add to cart</button></div>`)
  .join('');
$('products').addEventListener('click', (e) => {
  const product = products.find((p) => p.id === e.target.dataset.id);
  if (!product) return;
  cart.push(product);
  analytics.track('Product Added', { product_id: product.id, name: product.name, price: product.price, currency: 'EUR' });
  show('products');
});
document.querySelector('nav').addEventListener('click', (e) => {
  const view = e.target.dataset.view;
  if (!view) return;
  e.preventDefault();
  history.pushState({ view }, '', e.target.getAttribute('href') + location.search); // a page view, automatically
  show(view);
});
addEventListener('popstate', (e) => show(e.state?.view || 'products'));
$('checkout').addEventListener('click', () => {
  const revenue = cart.reduce((sum, p) => sum + p.price, 0);
  analytics.track('Order Completed', { revenue, currency: 'EUR', products: cart.map((p) => ({ product_id: p.id, price: p.price })) });
  cart.length = 0;
  show('cart');
});
$('login').addEventListener('click', () => analytics.identify($('email').value || 'demo@example.com', { email: $('email').value }));
$('logout').addEventListener('click', () => analytics.reset());
$('consent').addEventListener('change', (e) => (e.target.checked ? analytics.optIn() : analytics.optOut()));

setInterval(() => {
  $('status').textContent = JSON.stringify(
    { storage: analytics.storage, anonymousId: analytics.anonymousId, userId: analytics.userId, sessionId: analytics.sessionId, ...analytics.stats() },
    null,
    1,
  );
}, 500);
show(location.pathname.endsWith('/cart') ? 'cart' : 'products');
