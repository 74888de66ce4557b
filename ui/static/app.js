// pushgate inspector. Everything that came from a push is put in the page
// as text (textContent, attribute values of our own choosing); nothing here
// uses innerHTML.
'use strict';

const PAGE_SIZE = 50;
const LIVE_MAX = 200; // rows kept on the live first page
const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || '';

// el builds an element: attrs set as properties or attributes; children are
// nodes or strings (as text).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') e.textContent = String(v);
    else if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function status(msg, isError) {
  const s = document.getElementById('status');
  if (!s) return;
  s.textContent = msg || '';
  s.className = isError ? 'error' : '';
}

// api calls /ui/api + path: the session cookie goes along, and the CSRF
// token on anything but GET.
async function api(method, path, body) {
  const opt = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
  if (method !== 'GET') opt.headers['X-CSRF-Token'] = csrf;
  if (body !== undefined) {
    opt.headers['Content-Type'] = 'application/json';
    opt.body = JSON.stringify(body);
  }
  const r = await fetch('/ui/api' + path, opt);
  let data = null;
  try { data = await r.json(); } catch (_) { /* not JSON */ }
  if (r.status === 401) { location.assign('/ui/login'); }
  if (!r.ok) throw new Error((data && data.error) || (r.status + ' ' + r.statusText));
  return data;
}

function fmtTime(t) {
  if (!t) return '';
  const d = new Date(t);
  if (isNaN(d)) return String(t);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function cell(text, cls) { return el('td', { class: cls, text: text === undefined || text === null ? '' : text }); }

function statusCell(s) { return el('td', { class: 'nw st-' + String(s || '').replace(/[^a-z]/g, ''), text: s || '' }); }

// query returns the page's query without the empty values.
function pageQuery(names) {
  const src = new URLSearchParams(location.search);
  const q = new URLSearchParams();
  for (const n of names) { const v = src.get(n); if (v) q.set(n, v); }
  return q;
}

// withLimit is q with the page size: the page's ?limit=, else PAGE_SIZE.
function withLimit(q) {
  const l = new URLSearchParams(q);
  if (!l.has('limit')) l.set('limit', PAGE_SIZE);
  return l;
}

// fillForm puts the page's query back in the filter form.
function fillForm(form) {
  if (!form) return;
  const q = new URLSearchParams(location.search);
  for (const f of form.elements) { if (f.name && q.has(f.name)) f.value = q.get(f.name); }
}

// pager shows Newest and Older links for a cursor-paged listing.
function pager(base, q, next) {
  const older = document.getElementById('older');
  const newest = document.getElementById('newest');
  if (next) {
    const o = new URLSearchParams(q); o.set('cursor', next);
    older.href = base + '?' + o; older.hidden = false;
  }
  if (q.has('cursor')) {
    const n = new URLSearchParams(q); n.delete('cursor');
    newest.href = base + (n.toString() ? '?' + n : ''); newest.hidden = false;
  }
}

// ---------- XML and JSON formatting (as text) ----------

function prettyJSON(s) {
  try { return JSON.stringify(JSON.parse(s), null, 2); } catch (_) { return s; }
}

// prettyXML re-indents an XML document as text; a body with a DOCTYPE or
// that does not parse is shown as it came.
function prettyXML(s) {
  if (/<!DOCTYPE|<!ENTITY/i.test(s)) return s;
  const doc = new DOMParser().parseFromString(s, 'application/xml');
  if (doc.getElementsByTagName('parsererror').length) return s;
  const out = [];
  const esc = (t) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const walk = (n, depth) => {
    const pad = '  '.repeat(depth);
    if (n.nodeType === Node.ELEMENT_NODE) {
      let attrs = '';
      for (const a of n.attributes) attrs += ' ' + a.name + '="' + esc(a.value).replace(/"/g, '&quot;') + '"';
      const kids = [...n.childNodes].filter((k) => !(k.nodeType === Node.TEXT_NODE && !k.data.trim()));
      if (!kids.length) { out.push(pad + '<' + n.nodeName + attrs + '/>'); return; }
      if (kids.length === 1 && kids[0].nodeType !== Node.ELEMENT_NODE) {
        out.push(pad + '<' + n.nodeName + attrs + '>' + leaf(kids[0]) + '</' + n.nodeName + '>');
        return;
      }
      out.push(pad + '<' + n.nodeName + attrs + '>');
      for (const k of kids) walk(k, depth + 1);
      out.push(pad + '</' + n.nodeName + '>');
    } else {
      out.push(pad + leaf(n));
    }
  };
  const leaf = (k) => k.nodeType === Node.CDATA_SECTION_NODE ? '<![CDATA[' + k.data + ']]>'
    : k.nodeType === Node.COMMENT_NODE ? '<!--' + k.data + '-->' : esc(k.data.trim());
  walk(doc.documentElement, 0);
  return out.join('\n');
}

function prettyBody(s, format) {
  if (!s) return '';
  const t = s.trim();
  if (format === 'json' || t.startsWith('{') || t.startsWith('[')) return prettyJSON(s);
  if (t.startsWith('<')) return prettyXML(s);
  return s;
}

// ---------- events: the live list ----------

const EVENT_FILTERS = ['account', 'event', 'msg_type', 'from_user', 'to_user', 'event_key', 'request_id', 'status', 'since', 'until'];

function eventRow(e) {
  const link = el('a', { href: '/ui/events/' + encodeURIComponent(e.id), text: e.id });
  return el('tr', { 'data-id': e.id },
    el('td', { class: 'nw' }, link),
    cell(fmtTime(e.received_at), 'nw'),
    cell(e.kind),
    cell(e.account || ''),
    cell((e.from_user || '') + ' → ' + (e.to_user || '')),
    cell(e.event_key),
    statusCell(e.status),
    cell(e.attempts),
    cell(e.duplicates));
}

async function pageEvents() {
  fillForm(document.getElementById('filters'));
  const q = pageQuery(EVENT_FILTERS.concat(['cursor', 'limit']));
  const body = document.querySelector('#events tbody');
  const live = document.getElementById('live');
  const lq = withLimit(q);
  let page;
  try { page = await api('GET', '/v1/events?' + lq); } catch (err) { status(err.message, true); return; }
  const rows = new Map();
  for (const e of page.events) { const r = eventRow(e); rows.set(e.id, r); body.append(r); }
  pager('/ui/', q, page.next_cursor);
  if (q.has('cursor')) { live.textContent = 'history: not live'; return; }

  let newest = page.events.length ? page.events[0].id : '';
  const add = (e) => {
    const r = eventRow(e);
    const old = rows.get(e.id);
    if (old) { old.replaceWith(r); rows.set(e.id, r); return; }
    if (newest && BigInt(e.id) <= BigInt(newest)) return; // already in the page
    newest = e.id;
    r.classList.add('new');
    rows.set(e.id, r);
    body.prepend(r);
    while (body.rows.length > LIVE_MAX) { const last = body.rows[body.rows.length - 1]; rows.delete(last.dataset.id); last.remove(); }
    refreshSoon();
  };
  // The feed brings each event as it is stored (received); its outcome
  // comes from the admin API a moment later.
  // While some are still received, look again, less often each time (a
  // received event may be one a crash left for recovery).
  let refreshTimer = 0;
  const refreshSoon = (round = 0) => {
    if (round > 8) return;
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(async () => {
      try {
        const p = await api('GET', '/v1/events?' + lq);
        for (const e of p.events) { const old = rows.get(e.id); if (old) { const r = eventRow(e); old.replaceWith(r); rows.set(e.id, r); } }
        if (p.events.some((e) => e.status === 'received')) refreshSoon(round + 1);
      } catch (err) { status(err.message, true); }
    }, 500 * 2 ** Math.min(round, 5));
  };
  if (page.events.some((e) => e.status === 'received')) refreshSoon();
  follow(q, () => newest, add, live);
}

// follow reads the SSE feed through the session with fetch (the feed names
// each message by its kind, which EventSource cannot listen to all of),
// resuming after the last id it saw.
async function follow(q, after, add, live) {
  const fq = new URLSearchParams(q); fq.delete('cursor'); fq.delete('limit');
  for (;;) {
    if (after()) fq.set('after', after());
    let resp;
    try {
      resp = await fetch('/ui/api/v1/stream?' + fq, { credentials: 'same-origin', headers: { Accept: 'text/event-stream' } });
    } catch (_) { resp = null; }
    if (resp && resp.status === 401) { location.assign('/ui/login'); return; }
    if (resp && resp.status === 503) { live.textContent = 'polling (no live feed)'; return poll(q, add, live); }
    if (resp && resp.ok && resp.body) {
      live.textContent = 'live'; live.className = 'live on';
      try { await readSSE(resp.body, add); } catch (_) { /* reconnect */ }
    }
    live.textContent = 'reconnecting…'; live.className = 'live';
    await new Promise((r) => setTimeout(r, 2000));
  }
}

async function readSSE(stream, add) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i); buf = buf.slice(i + 2);
      let data = '';
      for (const line of block.split('\n')) { if (line.startsWith('data: ')) data += line.slice(6); }
      if (data) { try { add(JSON.parse(data)); } catch (_) { /* not an event */ } }
    }
  }
}

async function poll(q, add, live) {
  const pq = withLimit(q); pq.delete('cursor');
  for (;;) {
    await new Promise((r) => setTimeout(r, 3000));
    try { const p = await api('GET', '/v1/events?' + pq); for (const e of p.events.reverse()) add(e); live.textContent = 'polling'; } catch (err) { status(err.message, true); }
  }
}

// ---------- one event ----------

function facts(dl, pairs) {
  dl.replaceChildren();
  for (const [k, v] of pairs) {
    if (v === undefined || v === null || v === '') continue;
    dl.append(el('dt', { text: k }), el('dd', { text: v }));
  }
}

async function pageEvent() {
  const id = document.body.dataset.id;
  document.getElementById('replay').addEventListener('click', () => document.getElementById('confirm').showModal());
  document.getElementById('confirm').addEventListener('close', async (ev) => {
    if (ev.target.returnValue !== 'ok') return;
    try {
      await api('POST', '/v1/events/' + encodeURIComponent(id) + '/replay');
      status('Replayed.');
    } catch (err) { status('Replay: ' + err.message, true); }
    loadEvent(id);
  });
  loadEvent(id);
}

async function loadEvent(id) {
  let e;
  try { e = await api('GET', '/v1/events/' + encodeURIComponent(id)); } catch (err) { status(err.message, true); return; }
  document.title = e.kind + ' ' + e.id + ' · pushgate';
  const dl = el('dl', { class: 'facts' });
  facts(dl, [['Id', e.id], ['Kind', e.kind], ['Account', e.account], ['Status', e.status], ['From', e.from_user], ['To', e.to_user],
    ['EventKey', e.event_key], ['MsgId', e.msg_id], ['Request id', e.request_id], ['HTTP request id', e.http_request_id], ['Created', e.create_time ? fmtTime(e.create_time * 1000) : ''],
    ['Received', fmtTime(e.received_at)], ['Last seen', fmtTime(e.last_seen)], ['Handled', fmtTime(e.handled_at)],
    ['Attempts', String(e.attempts)], ['Duplicates', String(e.duplicates)], ['Last error', e.last_error], ['Dedupe key', e.dedupe_key]]);
  document.getElementById('summary').replaceChildren(dl);
  document.getElementById('decoded').textContent = JSON.stringify(e.payload, null, 2);
  document.getElementById('raw').textContent = prettyBody(e.raw, e.format);
  document.getElementById('raw-h').textContent = 'Raw body (' + (e.format || 'unknown') + ')';
  document.getElementById('reply').textContent = e.reply ? prettyBody(e.reply) : 'success (no passive reply)';
  const tb = document.querySelector('#attempts tbody');
  tb.replaceChildren(...(e.history || []).map((a, i) => el('tr', {},
    cell(i + 1), cell(fmtTime(a.started)), cell(Number(a.duration_ms).toFixed(2) + ' ms'), cell(a.replay ? 'replay' : 'first'), cell(a.error || ''))));
  loadDeliveries(id);
}

async function loadDeliveries(eventID) {
  const box = document.getElementById('deliveries');
  let list;
  try { list = await api('GET', '/v1/deliveries?event_id=' + encodeURIComponent(eventID)); } catch (err) { box.replaceChildren(el('p', { class: 'error', text: err.message })); return; }
  if (!list.deliveries.length) { box.replaceChildren(el('p', { class: 'hint', text: 'No outbound deliveries.' })); return; }
  const parts = [];
  for (const d of list.deliveries) {
    let full = d;
    try { full = await api('GET', '/v1/deliveries/' + encodeURIComponent(d.id)); } catch (_) { /* keep the summary */ }
    const dl = el('dl', { class: 'facts' });
    facts(dl, [['URL', full.url], ['Kind', full.kind], ['Status', full.status], ['Attempts', String(full.attempts)],
      ['Next attempt', fmtTime(full.next_attempt_at)], ['Last answer', full.last_status ? String(full.last_status) : ''], ['Last error', full.last_error]]);
    const rows = (full.history || []).map((a) => el('tr', {}, cell(a.attempt), cell(fmtTime(a.started)), cell(Number(a.duration_ms).toFixed(2) + ' ms'), cell(a.status || ''), cell(a.error || '')));
    const table = el('table', { class: 'list' }, el('thead', {}, el('tr', {}, ...['#', 'Started', 'Duration', 'Answer', 'Error'].map((h) => el('th', { scope: 'col', text: h })))), el('tbody', {}, ...rows));
    parts.push(el('div', { class: 'delivery', 'data-delivery': d.id },
      el('h3', { text: 'Delivery ' + d.id + ' ' }, el('span', { class: 'st-' + d.status, text: d.status })), dl, retryButton(d, () => loadDeliveries(eventID)), table));
  }
  box.replaceChildren(...parts);
}

function retryButton(d, after) {
  if (d.status !== 'dead' && d.status !== 'pending') return null;
  return el('button', {
    type: 'button', class: 'retry', 'aria-label': 'Retry delivery ' + d.id, text: 'Retry now',
    onclick: async () => {
      try { await api('POST', '/v1/deliveries/' + encodeURIComponent(d.id) + '/retry'); status('Delivery ' + d.id + ' sent again.'); } catch (err) { status('Retry: ' + err.message, true); }
      after();
      setTimeout(after, 1000); // the attempt is recorded once the retry went out
      setTimeout(after, 3000);
    },
  });
}

// ---------- refused pushes ----------

const RAW_SHOWN = 2000;

async function pageRejected() {
  fillForm(document.getElementById('filters'));
  const q = pageQuery(['account', 'cursor', 'limit']);
  const lq = withLimit(q);
  let page;
  try { page = await api('GET', '/v1/rejected?' + lq); } catch (err) { status(err.message, true); return; }
  const tb = document.querySelector('#rejected tbody');
  for (const r of page.rejected) {
    // A listing carries the head of each body (raw_truncated, raw_size: the
    // stored length); body_size is the length as received, of which only
    // the head may have been kept.
    const raw = r.raw || '';
    const stored = r.raw_truncated ? r.raw_size : raw.length;
    const cut = r.raw_truncated || raw.length > RAW_SHOWN;
    let shown = cut ? raw.slice(0, RAW_SHOWN) + '\n… (' + stored + ' bytes in all)' : raw;
    if (r.body_size > stored) shown += '\n(' + stored + ' of the ' + r.body_size + ' bytes received were kept)';
    const dl = el('button', { type: 'button', text: 'Download', 'aria-label': 'Download the body of refused push ' + r.id, onclick: () => downloadRaw(r) });
    tb.append(el('tr', { 'data-id': r.id }, cell(r.id, 'nw'), cell(fmtTime(r.received_at), 'nw'), cell(r.account || ''), cell(r.status), cell(r.reason), cell(r.remote_addr), cell(r.content_type), cell(r.http_request_id || '', 'nw rid'),
      el('td', {}, el('pre', { tabindex: 0, text: shown }), dl)));
  }
  pager('/ui/rejected', q, page.next_cursor);
  if (!page.rejected.length) status('No refused pushes.');
}

// downloadRaw saves the whole stored body, byte for byte, from the refused
// push's /raw route (the JSON of a listing holds text: bytes that are not
// UTF-8, a GBK body for one, would come back changed).
async function downloadRaw(r) {
  let body;
  try {
    const resp = await fetch('/ui/api/v1/rejected/' + encodeURIComponent(r.id) + '/raw', { credentials: 'same-origin' });
    if (resp.status === 401) { location.assign('/ui/login'); return; }
    if (!resp.ok) throw new Error(resp.status + ' ' + resp.statusText);
    body = await resp.blob();
  } catch (err) { status(err.message, true); return; }
  const url = URL.createObjectURL(new Blob([body], { type: 'application/octet-stream' }));
  const a = el('a', { href: url, download: 'rejected-' + r.id + '.body' });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// ---------- deliveries ----------

async function pageDeliveries() {
  fillForm(document.getElementById('filters'));
  const q = pageQuery(['status', 'event_id', 'cursor', 'limit']);
  const lq = withLimit(q);
  const tb = document.querySelector('#deliveries tbody');
  const load = async () => {
    let page;
    try { page = await api('GET', '/v1/deliveries?' + lq); } catch (err) { status(err.message, true); return; }
    tb.replaceChildren(...page.deliveries.map((d) => {
      const ev = d.event_id ? el('a', { href: '/ui/events/' + encodeURIComponent(d.event_id), text: d.event_id }) : '';
      return el('tr', { 'data-id': d.id }, cell(d.id, 'nw'), el('td', { class: 'nw' }, ev), cell(d.url), cell(d.kind), statusCell(d.status), cell(d.attempts),
        cell(fmtTime(d.next_attempt_at)), cell((d.last_status || '') + (d.last_error ? ' ' + d.last_error : '')), cell(fmtTime(d.created_at)),
        el('td', {}, retryButton(d, load)));
    }));
    pager('/ui/deliveries', q, page.next_cursor);
    if (!page.deliveries.length) status('No deliveries.');
  };
  load();
}

// ---------- health ----------

function parseMetrics(text) {
  const m = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return m;
}

function accountsView(acc) {
  if (!acc || (typeof acc === 'object' && !Object.keys(acc).length)) return el('p', { class: 'hint', text: 'This server reports no accounts.' });
  const list = Array.isArray(acc) ? acc : Object.entries(acc).map(([name, v]) => (typeof v === 'object' && v ? { name, ...v } : { name, value: v }));
  const keys = [...new Set(list.flatMap((a) => (typeof a === 'object' && a ? Object.keys(a) : ['value'])))];
  const text = (v) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  return el('table', { class: 'list' }, el('thead', {}, el('tr', {}, ...keys.map((k) => el('th', { scope: 'col', text: k })))),
    el('tbody', {}, ...list.map((a) => el('tr', {}, ...keys.map((k) => cell(typeof a === 'object' && a ? text(a[k]) : text(a)))))));
}

async function pageHealth() {
  let prev = null;
  const tick = async () => {
    try {
      const h = await fetch('/healthz', { headers: { Accept: 'application/json' } });
      const hj = await h.json();
      facts(document.getElementById('health'), [['Status', hj.status], ['Database', hj.database]]);
      document.getElementById('accounts').replaceChildren(accountsView(hj.accounts));
      const m = parseMetrics(await (await fetch('/metrics')).text());
      const now = performance.now();
      const commits = m.pushgate_store_commits_total, writes = m.pushgate_store_writes_total;
      let rate = 'measuring…', wrate = 'measuring…';
      if (prev) {
        const s = (now - prev.t) / 1000;
        rate = ((commits - prev.commits) / s).toFixed(1) + ' /s';
        wrate = ((writes - prev.writes) / s).toFixed(1) + ' /s';
      }
      prev = { t: now, commits, writes };
      const pushes = Object.entries(m).filter(([k]) => k.startsWith('pushgate_pushes_total')).map(([k, v]) => k.replace(/^pushgate_pushes_total\{outcome="(.*)"\}$/, '$1') + ' ' + v).join(', ');
      facts(document.getElementById('metrics'), [['Writer commits', rate], ['Writes', wrate], ['Commits in all', String(commits)],
        ['Waiters (long polls, sync)', m.pushgate_bridge_waiting === undefined ? 'not reported' : String(m.pushgate_bridge_waiting)],
        ['Pushes by outcome', pushes || 'none yet']]);
      status('');
    } catch (err) { status('Health: ' + err.message, true); }
  };
  await tick();
  setInterval(tick, 2000);
}

// ---------- send a sample (dev) ----------

function pageSend() {
  const form = document.getElementById('send');
  const tb = document.querySelector('#sent tbody');
  const sendOne = async (name) => {
    try {
      const r = await api('POST', '/send', { name });
      tb.prepend(el('tr', {}, cell(r.name), statusCell(String(r.status)), cell(r.answer)));
    } catch (err) { tb.prepend(el('tr', {}, cell(name), cell('error', 'error'), cell(err.message))); }
  };
  form.addEventListener('submit', (ev) => { ev.preventDefault(); sendOne(form.elements.name.value); });
  document.getElementById('send-all').addEventListener('click', async () => {
    for (const o of form.elements.name.options) await sendOne(o.value);
  });
}

const pages = { events: pageEvents, event: pageEvent, rejected: pageRejected, deliveries: pageDeliveries, health: pageHealth, send: pageSend };
const run = pages[document.body.dataset.page];
if (run) run();
