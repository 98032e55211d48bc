// The infermux usage dashboard: reads the management API of this server and nothing else.
"use strict";

(function () {
  const $ = (sel) => document.querySelector(sel);
  const TOKEN_KEY = "infermux.management_token";
  const PALETTE = ["#4f46e5", "#0ea5e9", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6", "#14b8a6", "#f97316", "#64748b", "#ec4899"];
  let token = sessionStorage.getItem(TOKEN_KEY) || "";
  let stackBy = "model";
  let chart = null;
  let generation = 0;

  // --- formatting ---------------------------------------------------------------------

  function usd(v) {
    if (v == null || isNaN(v)) return "–";
    const sign = v < 0 ? "-" : "";
    const a = Math.abs(v);
    if (a === 0) return "$0.00";
    if (a >= 1) return sign + "$" + a.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    // Small amounts keep three significant digits, never an exponent.
    const digits = Math.min(12, Math.max(2, 2 - Math.floor(Math.log10(a))));
    return sign + "$" + a.toFixed(digits).replace(/(\.\d*?[1-9])0+$/, "$1");
  }
  const count = (n) => (n == null ? "–" : Number(n).toLocaleString("en-US"));
  function compact(n) {
    if (n >= 1e9) return (n / 1e9).toFixed(1) + "B";
    if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
    if (n >= 1e4) return (n / 1e3).toFixed(1) + "k";
    return count(n);
  }
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

  // --- the API ------------------------------------------------------------------------

  // One prompt however many calls were refused at once; they all wait for it.
  let tokenPrompt = null;
  function askToken(refused) {
    if (tokenPrompt) return tokenPrompt;
    const dialog = $("#token-dialog");
    $("#token-error").hidden = !refused;
    if (!dialog.open) dialog.showModal();
    tokenPrompt = new Promise((resolve) => {
      $("#token-form").onsubmit = () => {
        token = $("#token-input").value.trim();
        sessionStorage.setItem(TOKEN_KEY, token);
        tokenPrompt = null;
        resolve();
      };
    });
    return tokenPrompt;
  }

  async function api(path) {
    for (;;) {
      const headers = token ? { Authorization: "Bearer " + token } : {};
      const res = await fetch(path, { headers, cache: "no-store" });
      if (res.status === 401) {
        await askToken(Boolean(token));
        continue;
      }
      if (!res.ok) throw new Error(path + ": HTTP " + res.status);
      return res.json();
    }
  }

  // --- filters ------------------------------------------------------------------------

  function monthStart() {
    const now = new Date();
    return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  function filterParams() {
    const p = new URLSearchParams();
    const range = $("#f-range").value;
    p.set("since", range === "month" ? monthStart() : range);
    for (const name of ["model", "provider", "caller", "key"]) {
      const v = $("#f-" + name).value;
      if (v) p.set(name, v);
    }
    return p;
  }
  const withParams = (path, extra) => {
    const p = filterParams();
    for (const [k, v] of Object.entries(extra || {})) p.set(k, v);
    return path + "?" + p.toString();
  };

  async function fillOptions() {
    // The choices cover the whole range, whatever else is filtered.
    const range = $("#f-range").value;
    const since = range === "month" ? monthStart() : range;
    const groups = { model: "model", provider: "provider", caller: "caller", key: "key" };
    await Promise.all(Object.entries(groups).map(async ([id, group]) => {
      const data = await api("/_infermux/usage?group_by=" + group + "&since=" + encodeURIComponent(since));
      const select = $("#f-" + id);
      const current = select.value;
      const keys = data.rows.map((r) => r.key).filter((k) => k != null).sort();
      if (current && !keys.includes(current)) keys.unshift(current);
      select.innerHTML = '<option value="">All</option>' + keys.map((k) => `<option value="${esc(k)}">${esc(k)}</option>`).join("");
      select.value = current;
    }));
  }

  // --- the parts ----------------------------------------------------------------------

  function setCard(id, value, text) {
    const el = $("#" + id + " .value");
    el.dataset.value = String(value);
    el.textContent = text;
  }

  function renderCards(s) {
    setCard("card-spend", s.spend_usd, usd(s.spend_usd));
    setCard("card-projected", s.projected_month_usd, usd(s.projected_month_usd));
    setCard("card-requests", s.requests, count(s.requests));
    setCard("card-tokens", s.tokens, compact(s.tokens));
    setCard("card-saved", s.saved_usd, usd(Math.max(0, s.saved_usd)));
    $("#range-label").textContent = $("#f-range").selectedOptions[0].textContent.toLowerCase();
    $("#month-spend").textContent = usd(s.month_spend_usd) + " spent this month";
    $("#errors").textContent = s.errors ? count(s.errors) + " refused or failed" : "no errors";
    $("#token-split").textContent = compact(s.prompt_tokens) + " in · " + compact(s.completion_tokens) + " out";
  }

  function renderBreakdown(id, data) {
    const body = $("#" + id + " tbody");
    const rows = data.rows;
    if (!rows.length) {
      body.innerHTML = '<tr class="none"><td colspan="4">nothing in this range</td></tr>';
      return;
    }
    const max = Math.max(...rows.map((r) => r.cost_usd), 1e-18);
    body.innerHTML = rows.map((r) => {
      const key = r.key == null ? '<span class="muted">(none)</span>' : esc(r.key);
      const width = Math.max(0.5, (100 * r.cost_usd) / max).toFixed(1);
      return `<tr data-key="${esc(r.key == null ? "" : r.key)}" data-cost="${r.cost_usd}" data-requests="${r.requests}">` +
        `<td class="key" title="${esc(r.key == null ? "(none)" : r.key)}">${key}</td>` +
        `<td class="bar"><span style="width:${width}%"></span></td>` +
        `<td class="num">${usd(r.cost_usd)}</td><td class="num muted">${count(r.requests)} req</td></tr>`;
    }).join("");
  }

  function renderHours(data) {
    const by = new Map(data.rows.map((r) => [Number(r.key), r]));
    const max = Math.max(...data.rows.map((r) => r.cost_usd), 0);
    const maxReq = Math.max(...data.rows.map((r) => r.requests), 1);
    $("#hours").innerHTML = Array.from({ length: 24 }, (_, h) => {
      const r = by.get(h) || { cost_usd: 0, requests: 0 };
      // Cost when there is any, else the request count.
      const share = max > 0 ? r.cost_usd / max : r.requests / maxReq;
      const title = `${String(h).padStart(2, "0")}:00 UTC · ${usd(r.cost_usd)} · ${count(r.requests)} requests`;
      return `<div class="col" title="${title}" data-hour="${h}" data-cost="${r.cost_usd}"><span style="height:${(share * 100).toFixed(1)}%"></span><small>${h % 3 === 0 ? h : ""}</small></div>`;
    }).join("");
  }

  function renderBudgets(forecast) {
    const caller = $("#f-caller").value;
    const key = $("#f-key").value;
    const rows = [
      ...forecast.callers.map((c) => ({ kind: "caller", name: c.caller, ...c })),
      ...forecast.keys.map((k) => ({ kind: "key", name: k.key, ...k })),
    ].filter((r) => r.budget_usd != null)
      .filter((r) => (!caller || r.kind !== "caller" || r.name === caller) && (!key || r.kind !== "key" || r.name === key));
    if (!rows.length) {
      $("#budgets").innerHTML = '<p class="empty">No caller or key with a budget.</p>';
      return;
    }
    $("#budgets").innerHTML = rows.map((r) => {
      const cap = r.budget_usd;
      const spentPct = cap > 0 ? Math.min(100, (100 * r.spent_usd) / cap) : 100;
      const projPct = cap > 0 ? Math.min(100, (100 * r.projected_month_usd) / cap) : 100;
      const cls = r.spent_usd >= cap ? "over" : r.projected_month_usd >= cap ? "warn" : "";
      const out = r.projected_exhaustion ? `<span class="out">runs out ${esc(r.projected_exhaustion)}</span>` : "within budget";
      return `<div class="budget" data-name="${esc(r.name)}" data-spent="${r.spent_usd}" data-budget="${cap}">` +
        `<div class="who">${esc(r.name)}<small>${r.kind} · ${usd(r.burn_usd_per_day)}/day</small></div>` +
        `<div class="track ${cls}"><div class="projected" style="width:${projPct.toFixed(1)}%"></div><div class="spent" style="width:${spentPct.toFixed(1)}%"></div></div>` +
        `<div class="nums"><b>${usd(r.spent_usd)}</b> of ${usd(cap)} · projected <b>${usd(r.projected_month_usd)}</b><br>${out}</div></div>`;
    }).join("");
  }

  function renderRecent(data) {
    const body = $("#recent tbody");
    if (!data.requests.length) {
      body.innerHTML = '<tr><td colspan="8" class="empty">No requests in this range.</td></tr>';
      return;
    }
    body.innerHTML = data.requests.map((r) => {
      const err = r.status >= 400;
      const status = `<span class="status${err ? " err" : ""}" title="${esc(r.error_code || "")}">${r.status}${err && r.error_code ? " " + esc(r.error_code) : ""}</span>`;
      return `<tr data-id="${esc(r.request_id)}" data-cost="${r.cost_usd}">` +
        `<td>${esc(r.time.replace("T", " ").replace("Z", ""))}</td><td>${esc(r.caller)}</td>` +
        `<td>${esc(r.model || r.requested_model)}${r.stream ? ' <span class="muted">stream</span>' : ""}</td>` +
        `<td>${esc(r.provider || "–")}</td><td>${status}</td>` +
        `<td class="num">${count(r.prompt_tokens)} / ${count(r.completion_tokens)}</td>` +
        `<td class="num">${usd(r.cost_usd)}${r.usage === "estimated" ? '<span class="muted" title="usage counted by infermux"> ~</span>' : ""}</td>` +
        `<td class="num">${count(r.latency_ms)} ms</td></tr>`;
    }).join("");
  }

  function renderTrend(series) {
    const el = $("#trend");
    const xs = series.starts.map((s) => Date.parse(s) / 1000);
    const total = series.series.reduce((sum, s) => sum + s.cost_usd.reduce((a, b) => a + b, 0), 0);
    $("#trend-empty").hidden = series.requests.some((n) => n > 0);
    // Biggest series at the bottom; each drawn bar is the running total down to it, drawn
    // tallest first, so the visible bands stack.
    const ordered = series.series
      .map((s) => ({ key: s.key, values: s.cost_usd, sum: s.cost_usd.reduce((a, b) => a + b, 0) }))
      .sort((a, b) => b.sum - a.sum);
    const stacked = [];
    let running = xs.map(() => 0);
    for (const s of ordered) {
      running = running.map((v, i) => v + s.values[i]);
      stacked.push(running.slice());
    }
    const data = [xs];
    const uSeries = [{}];
    const bars = uPlot.paths.bars({ size: [0.7, 48] });
    for (let i = ordered.length - 1; i >= 0; i--) {
      const color = PALETTE[i % PALETTE.length];
      const raw = ordered[i].values;
      data.push(stacked[i]);
      uSeries.push({
        label: ordered[i].key,
        stroke: color,
        fill: color + "d9",
        width: 0,
        paths: bars,
        points: { show: false },
        value: (u, v, si, idx) => (idx == null ? "–" : usd(raw[idx])),
      });
    }
    if (chart) chart.destroy();
    const day = series.bucket === "1d";
    const width = day ? 86400 : 3600;
    const opts = {
      width: Math.max(320, el.clientWidth || 800),
      height: 280,
      series: uSeries,
      legend: { live: true },
      cursor: { points: { show: false } },
      // Buckets are UTC days or hours: the axis says so.
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
      scales: {
        x: { time: true, range: (u, min, max) => [min - width / 2, max + width / 2] },
        y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1e-6] },
      },
      axes: [
        {
          stroke: "#6b7585",
          grid: { show: false },
          incrs: day ? [86400, 2 * 86400, 7 * 86400, 14 * 86400] : [3600, 3 * 3600, 6 * 3600, 12 * 3600],
          values: day ? "{MMM} {D}" : "{HH}:{mm}",
        },
        { stroke: "#6b7585", size: 80, grid: { stroke: "#eef0f4" }, values: (u, vals) => vals.map((v) => usd(v)) },
      ],
    };
    chart = new uPlot(opts, data, el);
    el.dataset.total = String(total);
    el.dataset.series = String(ordered.length);
  }

  // --- refresh ------------------------------------------------------------------------

  async function refresh() {
    const mine = ++generation;
    document.body.dataset.loaded = "false";
    const range = $("#f-range").value;
    const bucket = range === "24h" ? "1h" : "1d";
    $("#csv").href = withParams("/_infermux/requests.csv");
    try {
      const [summary, byModel, byProvider, byCaller, byKey, byGroup, hours, series, forecast, recent] = await Promise.all([
        api(withParams("/_infermux/usage/summary")),
        api(withParams("/_infermux/usage", { group_by: "model" })),
        api(withParams("/_infermux/usage", { group_by: "provider" })),
        api(withParams("/_infermux/usage", { group_by: "caller" })),
        api(withParams("/_infermux/usage", { group_by: "key" })),
        api(withParams("/_infermux/usage", { group_by: "group" })),
        api(withParams("/_infermux/usage", { group_by: "hour_of_day" })),
        api(withParams("/_infermux/usage/series", { bucket, by: stackBy })),
        api("/_infermux/forecast"),
        api(withParams("/_infermux/requests", { limit: "50" })),
      ]);
      if (mine !== generation) return;
      renderCards(summary);
      renderBreakdown("by-model", byModel);
      renderBreakdown("by-provider", byProvider);
      renderBreakdown("by-caller", byCaller);
      renderBreakdown("by-key", byKey);
      renderBreakdown("by-group", byGroup);
      renderHours(hours);
      renderTrend(series);
      renderBudgets(forecast);
      renderRecent(recent);
      document.body.dataset.loaded = "true";
      document.body.dataset.generation = String(mine);
    } catch (e) {
      console.error(e);
      document.body.dataset.loaded = "error";
    }
  }

  async function start() {
    await fillOptions().catch((e) => console.error(e));
    await refresh();
  }

  $("#filters").addEventListener("change", (e) => {
    if (e.target.id === "f-range") start();
    else refresh();
  });
  $("#refresh").addEventListener("click", refresh);
  $("#csv").addEventListener("click", async (e) => {
    // With a token the download needs the header: fetch it and hand over a blob.
    if (!token) return;
    e.preventDefault();
    const res = await fetch($("#csv").href, { headers: { Authorization: "Bearer " + token } });
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = "infermux-requests.csv";
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  });
  for (const b of document.querySelectorAll("#stack-by button")) {
    b.addEventListener("click", () => {
      stackBy = b.dataset.by;
      for (const o of document.querySelectorAll("#stack-by button")) o.classList.toggle("on", o === b);
      refresh();
    });
  }
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => chart && chart.setSize({ width: $("#trend").clientWidth, height: 280 }), 150);
  });
  setInterval(() => document.visibilityState === "visible" && refresh(), 60000);
  start();
})();
