// The paceline dashboard: reads /history.json (lib/engine/dashboard-data.ts)
// and draws the lanes table and the charts with uPlot, every 15 s. Plain
// browser JavaScript, no build step. Each chart's element carries what it
// drew as data-* attributes (points, sums), for people and for the browser test.
'use strict';

(function () {
  const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
  const REFRESH_MS = 15000;
  const color = (i) => COLORS[i % COLORS.length];
  const sum = (xs) => xs.reduce((a, b) => a + (b || 0), 0);

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function counts(c) {
    const deferred = sum(Object.values(c.deferred));
    return `${c.delivered}/${deferred}/${c.bounced}`;
  }

  function laneRow(l) {
    const warm = l.warmup ? `${l.warmup.schedule} day ${l.warmup.day}, cap ${l.warmup.cap ?? 'warm'}` : '-';
    const cells = [
      l.source,
      l.provider,
      l.rate,
      l.concurrencyNow ?? '-',
      l.perDay ?? '-',
      l.sentToday,
      l.inFlight,
      `${Math.round(l.factor * 100)}%`,
      counts(l.today),
      l.lastHour.throttles,
      warm,
      l.stateText,
    ];
    const tr = el('tr', { 'data-source': l.source, 'data-provider': l.provider, 'data-sent-today': l.sentToday });
    cells.forEach((c, i) => {
      const td = el('td', {}, String(c));
      if (i === cells.length - 1) td.className = l.state.kind === 'ok' ? 'state-ok' : 'state-warn';
      tr.appendChild(td);
    });
    return tr;
  }

  // x: the data's span, a minute either side when a chart has a single point
  function xRange(t) {
    const first = t[0];
    const last = t[t.length - 1];
    return first === last ? [first - 60, last + 60] : [first, last];
  }

  function chart(parent, title, attrs, opts, data) {
    const box = el('div', Object.assign({ class: 'chart' }, attrs));
    box.appendChild(el('h3', {}, title));
    parent.appendChild(box);
    if (data[0].length === 0) {
      box.appendChild(el('p', { class: 'empty' }, 'no data yet'));
      return;
    }
    const width = Math.max(360, Math.min(620, (parent.clientWidth || 1200) / 2 - 24));
    opts.width = width;
    opts.height = 220;
    opts.scales = Object.assign({ x: { time: true, range: xRange(data[0]) } }, opts.scales || {});
    new uPlot(opts, data, box);
  }

  function drawRamps(parent, ramps) {
    for (const r of ramps) {
      const series = [{}];
      const data = [r.t];
      r.providers.forEach((p, i) => {
        series.push({ label: `${p.provider} planned`, stroke: color(i), dash: [6, 4], spanGaps: false });
        series.push({ label: `${p.provider} sent`, stroke: color(i), width: 2, points: { show: true } });
        data.push(p.planned, p.sent);
      });
      const sent = sum(r.providers.map((p) => sum(p.sent)));
      const attrs = { 'data-kind': 'ramp', 'data-source': r.source, 'data-points': r.t.length, 'data-sent': sent };
      const axes = [{}, { size: 70 }];
      chart(parent, `${r.source} (schedule ${r.schedule})`, attrs, { series, axes }, data);
    }
  }

  /** Vertical lines at the minutes with a reaction, labelled with its effects. */
  function marksPlugin(marks) {
    return {
      hooks: {
        draw: (u) => {
          const ctx = u.ctx;
          ctx.save();
          ctx.strokeStyle = '#b00';
          ctx.fillStyle = '#b00';
          ctx.font = `${10 * devicePixelRatio}px sans-serif`;
          for (const m of marks) {
            const x = u.valToPos(m.t, 'x', true);
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
            ctx.fillText(m.effects.join(','), x + 3, u.bbox.top + 12 * devicePixelRatio);
          }
          ctx.restore();
        },
      },
    };
  }

  function drawPaces(parent, paces) {
    for (const p of paces) {
      const attrs = {
        'data-kind': 'pace',
        'data-source': p.source,
        'data-provider': p.provider,
        'data-points': p.t.length,
        'data-sent': sum(p.sent),
        'data-throttles': sum(p.throttles),
        'data-marks': p.marks.length,
        'data-min-pace': p.pace.length ? Math.min(...p.pace) : 1,
      };
      const opts = {
        series: [
          {},
          { label: 'pace', scale: 'pace', stroke: color(0), width: 2, spanGaps: true },
          { label: 'sent/min', scale: 'n', stroke: color(2), points: { show: true } },
          { label: 'throttle replies/min', scale: 'n', stroke: color(1), points: { show: true, size: 6 } },
        ],
        scales: { pace: { range: [0, 1.05] }, n: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        axes: [{}, { scale: 'pace', label: 'pace' }, { scale: 'n', side: 1, grid: { show: false } }],
        plugins: [marksPlugin(p.marks)],
      };
      chart(parent, `${p.source} → ${p.provider}`, attrs, opts, [p.t, p.pace, p.sent, p.throttles]);
    }
  }

  function drawReplies(parent, replies) {
    for (const r of replies) {
      const attrs = { 'data-kind': 'replies', 'data-provider': r.provider, 'data-points': r.t.length };
      r.categories.forEach((c, i) => (attrs[`data-${c}`] = sum(r.counts[i])));
      const series = [{}].concat(r.categories.map((c, i) => ({ label: c, stroke: color(i), points: { show: true } })));
      chart(parent, r.provider, attrs, { series }, [r.t].concat(r.counts));
    }
  }

  function render(data) {
    document.getElementById('at').textContent = `as of ${data.at}`;
    const body = document.querySelector('#lanes tbody');
    body.replaceChildren(...data.lanes.map(laneRow));
    for (const id of ['ramps', 'paces', 'replies']) document.getElementById(id).replaceChildren();
    drawRamps(document.getElementById('ramps'), data.ramps);
    drawPaces(document.getElementById('paces'), data.paces);
    drawReplies(document.getElementById('replies'), data.replies);
    document.body.dataset.lanes = String(data.lanes.length);
    document.body.dataset.ready = data.at;
  }

  async function refresh() {
    const error = document.getElementById('error');
    try {
      const res = await fetch('/history.json', { credentials: 'same-origin', cache: 'no-store' });
      if (!res.ok) throw new Error(`GET /history.json: ${res.status} ${(await res.json()).error || ''}`);
      render(await res.json());
      error.textContent = '';
    } catch (err) {
      error.textContent = String(err.message || err);
    }
  }

  refresh();
  setInterval(refresh, REFRESH_MS);
})();
