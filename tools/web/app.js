// The office dashboard: reads duijie-web's JSON endpoints (the gRPC replies
// as the API gives them) and the live match stream, and fills the page.
// Every text from the server goes in through textContent or an attribute,
// never as HTML. Each chart's data is also in the table under it and in its
// canvas's data-labels / data-values, for screen readers and for the test.
'use strict';

const REFRESH_MS = 30000;  // book, alerts and figures, besides each new match
const MAX_MATCH_ROWS = 50;
const DAYS_SHOWN = 30;  // the per-day chart: the last 30 days
const regionNames = new Map();  // code -> name, from ListRegions
const productNames = new Map();  // code -> Chinese name, from ListProducts
const charts = {};
// ?snapshot: read everything once, the latest matches included, then close
// the live stream. For printing and for headless browsers, whose virtual
// clock (--virtual-time-budget) stands still while a stream is open.
const snapshot = new URLSearchParams(location.search).has('snapshot');

// ---------------------------------------------------------------- helpers --

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === 'className') node.className = value;
    else node.setAttribute(name, String(value));
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// int64 fields come as strings in protobuf JSON.
function num(value) {
  return value === undefined || value === null || value === '' ? 0 : Number(value);
}

const kgFormat = new Intl.NumberFormat('en-US');
function kg(value) { return kgFormat.format(num(value)); }
function yuan(fen) { return (num(fen) / 100).toFixed(2); }

function when(timestamp) {
  if (!timestamp) return '';
  return new Date(timestamp).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false });
}

// "甘肃省陇南市武都区 (621202)", or the code alone when no region has it.
function regionLabel(code) {
  if (!code) return '';
  const name = regionNames.get(code);
  return name ? `${name} (${code})` : code;
}

// "马铃薯 (vegetable.potato)", or the code alone when the catalogue has no
// name for it (a product catalogued from orders is named by its code).
function productLabel(code) {
  if (!code) return '';
  const name = productNames.get(code);
  return name ? `${name} (${code})` : code;
}

function showError(id, error) {
  const node = document.getElementById(id + '-error');
  if (!node) return;
  if (error) {
    node.textContent = error;
    node.hidden = false;
  } else {
    node.textContent = '';
    node.hidden = true;
  }
}

async function getJson(path) {
  const response = await fetch(path, { cache: 'no-store' });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(`${body.code || response.status}: ${body.message || response.statusText}`);
  }
  return body;
}

function fillBody(table, rows) {
  const body = document.querySelector(`#${table} tbody`);
  body.replaceChildren(...rows);
}

// ------------------------------------------------------------------- book --

async function loadBook() {
  try {
    const book = await getJson('api/book');
    fillBody('book', (book.lines || []).map((line) => el('tr', {
      'data-product': line.product_code,
      'data-open-offer-kg': num(line.open_offer_kg),
      'data-open-pledge-kg': num(line.open_pledge_kg),
    },
    el('td', {}, productLabel(line.product_code)),
    el('td', { className: 'num' }, kg(line.open_offer_kg)),
    el('td', { className: 'num' }, kg(line.open_offer_count)),
    el('td', { className: 'num' }, kg(line.open_pledge_kg)),
    el('td', { className: 'num' }, kg(line.open_pledge_count)),
    el('td', { className: 'num' }, num(line.best_floor_price_fen_per_kg) ? yuan(line.best_floor_price_fen_per_kg) : '—'),
    el('td', { className: 'num' }, num(line.best_max_price_fen_per_kg) ? yuan(line.best_max_price_fen_per_kg) : '—'))));
    showError('book', null);
  } catch (error) {
    showError('book', `GetBook failed: ${error.message}`);
  }
}

// ----------------------------------------------------------------- alerts --

function candidateItem(candidate) {
  const changes = (candidate.changes || []).join('; ');
  return el('li', {
    'data-pledge-id': candidate.pledge_id,
    'data-kg': num(candidate.kg),
  },
  `pledge ${candidate.pledge_id} · ${candidate.buyer_id} · ${regionLabel(candidate.buyer_city_code)} · ${kg(candidate.kg)} kg`,
  changes ? ` — ${changes}` : '');
}

async function loadAlerts() {
  const empty = document.getElementById('alerts-empty');
  try {
    const reply = await getJson('api/alerts');
    const alerts = reply.alerts || [];
    // Kept in the server's order: open alerts worst first.
    fillBody('alerts', alerts.map((alert) => {
      const atRisk = num(alert.at_risk_kg);
      const demand = num(alert.demand_kg);
      const candidates = alert.candidates || [];
      return el('tr', {
        className: `level-${alert.level}`,
        'data-alert-id': alert.alert_id,
        'data-level': alert.level,
        'data-product': alert.product_code,
        'data-region': alert.region_code,
        'data-at-risk-kg': atRisk,
        'data-demand-kg': demand,
        'data-households': num(alert.households),
        'data-candidates': candidates.length,
      },
      el('td', {}, alert.level),
      el('td', {}, productLabel(alert.product_code)),
      el('td', {}, regionLabel(alert.region_code)),
      el('td', { className: 'num' }, kg(atRisk)),
      el('td', { className: 'num' }, kg(demand)),
      el('td', { className: 'num' }, kg(atRisk - demand)),
      el('td', { className: 'num' }, kg(alert.open_offer_kg)),
      el('td', { className: 'num' }, kg(alert.households)),
      el('td', {}, when(alert.raised_at)),
      el('td', {}, candidates.length
        ? el('ul', { className: 'candidates' }, ...candidates.map(candidateItem))
        : 'none'));
    }));
    empty.hidden = alerts.length > 0;
    showError('alerts', null);
  } catch (error) {
    empty.hidden = true;
    showError('alerts', `ListAlerts failed: ${error.message}`);
  }
}

// ---------------------------------------------------------------- figures --

function pairingLabel(key) {
  if (!key) return 'outside every pairing';
  const [east, west] = key.split('>');
  const name = (code) => regionNames.get(code) || code;
  return `${name(east)} > ${name(west)}`;
}

function drawChart(id, type, labels, values, horizontal) {
  const canvas = document.getElementById(id);
  // What the chart shows, in the DOM whether or not Chart.js is there.
  canvas.dataset.labels = JSON.stringify(labels);
  canvas.dataset.values = JSON.stringify(values);
  if (typeof Chart === 'undefined') return;
  if (charts[id]) {
    charts[id].data.labels = labels;
    charts[id].data.datasets[0].data = values;
    charts[id].update();
  } else {
    charts[id] = new Chart(canvas, {
      type,
      data: { labels, datasets: [{ label: 'kg', data: values, backgroundColor: '#4f8a43' }] },
      options: {
        maintainAspectRatio: false,
        animation: false,
        indexAxis: horizontal ? 'y' : 'x',
        plugins: { legend: { display: false } },
      },
    });
  }
  // The values the chart holds now, read back from it.
  canvas.dataset.values = JSON.stringify(charts[id].data.datasets[0].data);
}

async function loadStats(by, query, label, horizontal) {
  const id = `stats-${by}`;
  try {
    const reply = await getJson(`api/stats?by=${by}${query}`);
    const rows = reply.rows || [];
    const keys = rows.map((row) => (row.keys || [''])[0]);
    fillBody(id, rows.map((row, i) => el('tr', {
      'data-key': keys[i],
      'data-kg': num(row.kg),
      'data-matches': num(row.matches),
    },
    el('td', {}, label(keys[i])),
    el('td', { className: 'num' }, kg(row.kg)),
    el('td', { className: 'num' }, kg(row.matches)),
    el('td', { className: 'num' }, yuan(row.fen)))));
    drawChart(`chart-${by}`, 'bar', keys.map(label), rows.map((row) => num(row.kg)), horizontal);
    showError(id, null);
  } catch (error) {
    showError(id, `GetStats by ${by} failed: ${error.message}`);
  }
}

// ---------------------------------------------------------------- matches --

function matchRow(event, fresh) {
  const match = event.match || {};
  return el('tr', {
    className: fresh ? 'fresh' : '',
    'data-event-id': event.event_id,
    'data-match-id': match.match_id,
    'data-kind': event.kind,
    'data-kg': num(match.quantity_kg),
  },
  el('td', {}, match.match_id),
  el('td', {}, event.kind === 'NEW_MATCH' ? 'new' : String(match.status || event.kind).toLowerCase()),
  el('td', {}, productLabel(match.product_code)),
  el('td', {}, regionLabel(match.region_code)),
  el('td', {}, `${match.member_buyer_id || match.buyer_id} · ${regionLabel(match.buyer_city_code)}`),
  el('td', { className: 'num' }, kg(match.quantity_kg)),
  el('td', { className: 'num' }, yuan(match.price_fen_per_kg)),
  el('td', {}, when(match.updated_at || match.matched_at)));
}

let refreshTimer = null;
// Figures move with each match: refresh them shortly after, once for a burst.
function refreshSoon() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => { refreshTimer = null; refreshAll(); }, 1000);
}

function watchMatches() {
  const state = document.getElementById('live-state');
  const body = document.querySelector('#matches tbody');
  let live = false;
  const source = new EventSource(`api/matches/stream?last=${MAX_MATCH_ROWS}`);
  source.addEventListener('match', (message) => {
    const event = JSON.parse(message.data);
    body.prepend(matchRow(event, live));
    while (body.rows.length > MAX_MATCH_ROWS) body.deleteRow(-1);
    if (live) refreshSoon();
  });
  source.addEventListener('caught_up', () => {
    showError('matches', null);
    if (snapshot) {
      source.close();
      state.textContent = 'snapshot (reload for the latest)';
      state.dataset.state = 'snapshot';
      return;
    }
    live = true;
    state.textContent = 'live';
    state.dataset.state = 'live';
  });
  source.addEventListener('failure', (message) => {
    const failure = JSON.parse(message.data);
    showError('matches', `WatchMatches failed: ${failure.code}: ${failure.message}`);
  });
  source.onerror = () => {
    // The browser reconnects by itself, resuming after the last event.
    live = false;
    state.textContent = 'reconnecting…';
    state.dataset.state = 'reconnecting';
  };
}

// ------------------------------------------------------------------- main --

async function loadRegions() {
  try {
    const reply = await getJson('api/regions');
    for (const region of reply.regions || []) regionNames.set(region.code, region.name);
  } catch (error) {
    // Codes alone are still right; the alerts and figures say what failed.
  }
}

async function loadProducts() {
  try {
    const reply = await getJson('api/products');
    for (const product of reply.products || []) {
      if (!product.from_orders) productNames.set(product.code, product.name);
    }
  } catch (error) {
    // Codes alone are still right, as for regions.
  }
}

async function refreshAll() {
  await Promise.all([
    loadBook(),
    loadAlerts(),
    loadStats('day', `&days=${DAYS_SHOWN}`, (key) => key, false),
    loadStats('pairing', '', pairingLabel, true),
  ]);
  const updated = document.getElementById('updated');
  updated.textContent = new Date().toLocaleTimeString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false });
  document.body.dataset.loaded = 'true';
}

async function start() {
  await Promise.all([loadRegions(), loadProducts()]);
  await refreshAll();
  watchMatches();
  if (!snapshot) setInterval(refreshAll, REFRESH_MS);
}

start();
