// The Tollgate dashboard: plain modern JS, Preact + htm, uPlot; no build step. The data comes from the same JSON
// endpoints scripts use (/api/dashboard/*), which scope a team key's answers to its team on the server.
import htm from "htm";
import { h, render } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";

const html = htm.bind(h);
const KEY_STORAGE = "tollgate.dashboard.key";
const VIEWS = [
  ["overview", "Overview"],
  ["budgets", "Budgets"],
  ["models", "Models"],
  ["cache", "Cache"],
  ["recommendations", "Recommendations"],
  ["requests", "Requests"],
];
const COLORS = ["#2563eb", "#db2777", "#059669", "#d97706", "#7c3aed", "#0891b2", "#64748b"];

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** A GET on the gateway with the stored key; the team the admin picked goes along as ?team=. */
async function api(path, params = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  const key = sessionStorage.getItem(KEY_STORAGE);
  const res = await fetch(url, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, body?.error?.message ?? `HTTP ${res.status}`);
  return body;
}

const usd = (n) => {
  if (n === null || n === undefined) return "–";
  if (n === 0) return "$0";
  const digits = Math.abs(n) >= 100 ? 0 : Math.abs(n) >= 0.1 ? 2 : 4;
  return `$${n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })}`;
};
const pct = (n) => (n === null || n === undefined ? "–" : `${(n * 100).toFixed(1)}%`);
const ms = (n) =>
  n === null || n === undefined ? "–" : n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${Math.round(n)} ms`;
const int = (n) => (n === null || n === undefined ? "–" : n.toLocaleString("en-US"));

function useData(load, deps) {
  const [state, setState] = useState({ loading: true });
  useEffect(() => {
    let live = true;
    setState({ loading: true });
    load().then(
      (data) => live && setState({ data }),
      (error) => live && setState({ error }),
    );
    return () => {
      live = false;
    };
  }, deps);
  return state;
}

/** A uPlot chart sized to its container; re-created when its data changes. */
function Chart({ title, opts, data, height = 260 }) {
  const box = useRef(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const plot = new uPlot({ ...opts, width: el.clientWidth || 600, height }, data, el);
    const onResize = () => plot.setSize({ width: el.clientWidth || 600, height });
    window.addEventListener("resize", onResize);
    return () => {
      window.removeEventListener("resize", onResize);
      plot.destroy();
    };
  }, [opts, data, height]);
  return html`<figure class="chart"><figcaption>${title}</figcaption><div ref=${box} class="chart-box"></div></figure>`;
}

const line = (label, i, extra = {}) => ({ label, stroke: COLORS[i % COLORS.length], width: 2, ...extra });
const usdAxis = { values: (_u, ticks) => ticks.map((t) => usd(t)), size: 70 };

function Card({ label, value, sub, tone }) {
  return html`<div class=${`card ${tone ?? ""}`}>
    <div class="card-label">${label}</div>
    <div class="card-value">${value}</div>
    ${sub ? html`<div class="card-sub">${sub}</div>` : null}
  </div>`;
}

function Bar({ fraction, warnAt }) {
  const width = Math.min(100, Math.max(0, fraction * 100));
  const tone = fraction >= 1 ? "over" : fraction >= (warnAt ?? 0.8) ? "warn" : "ok";
  return html`<div class="bar"><div class=${`bar-fill ${tone}`} style=${`width:${width}%`}></div></div>`;
}

function Status({ state }) {
  return state.loading
    ? html`<p class="muted">Loading…</p>`
    : html`<p class="error" role="alert">Could not load this view: ${state.error?.message}</p>`;
}

function Overview({ team, viewer }) {
  const by = viewer.role === "admin" && !team ? "team" : "model";
  const state = useData(
    () => Promise.all([api("/api/dashboard/overview", { team }), api("/api/dashboard/timeseries", { team, by })]),
    [team, by],
  );
  if (!state.data) return html`<${Status} state=${state} />`;
  const [o, ts] = state.data;
  const p = o.period;
  const f = o.forecast;
  const used = p.budget_usd ? p.spend_usd / p.budget_usd : null;
  return html`<section data-ready>
    <div class="cards">
      <${Card} label="Spend today" value=${usd(o.today.spend_usd)} sub=${`${int(o.today.requests)} requests`} />
      <${Card}
        label="This month"
        value=${usd(p.spend_usd)}
        sub=${p.budget_usd ? html`of ${usd(p.budget_usd)} (${p.budget_scope}) <${Bar} fraction=${used} />` : "no monthly budget"}
        tone=${used !== null && used >= 1 ? "bad" : ""}
      />
      <${Card}
        label="Projected month end"
        value=${f ? usd(f.period_end_usd) : "no forecast"}
        sub=${f ? `band ${usd(f.low)} – ${usd(f.high)} · ${f.method}${f.insufficient_data ? " (little history)" : ""}` : "no forecast for this scope"}
      />
      <${Card} label="Requests this month" value=${int(p.requests)} sub=${`${o.timezone} calendar month`} />
    </div>
    <div class="grid2">
      <${SpendChart} ts=${ts} by=${by} />
      <${PeriodChart} overview=${o} />
    </div>
    <div class="grid3">
      <${TopTable} title="Top teams" rows=${o.top.teams} />
      <${TopTable} title="Top models" rows=${o.top.models} />
      <${TopTable} title="Top keys" rows=${o.top.keys} name=${(r) => r.name ?? r.id} />
    </div>
    ${o.forecasts.length ? html`<${ForecastTable} rows=${o.forecasts} />` : null}
  </section>`;
}

function SpendChart({ ts, by }) {
  const x = ts.buckets.map((b) => b / 1000);
  const data = [x, ...ts.series.map((s) => s.cost_usd)];
  const opts = {
    series: [{}, ...ts.series.map((s, i) => line(s.name, i, { value: (_u, v) => usd(v) }))],
    axes: [{}, usdAxis],
  };
  if (ts.series.length === 0)
    return html`<figure class="chart"><figcaption>Daily spend</figcaption><p class="muted">No spend recorded yet.</p></figure>`;
  const title = `Daily spend by ${by}, last ${Math.round((ts.buckets.length * ts.bucket_ms) / 86_400_000)} days`;
  return html`<${Chart} title=${title} opts=${opts} data=${data} />`;
}

/** Cumulative spend this month, the budget, and the forecast's path to the month end with its band. */
function PeriodChart({ overview }) {
  const p = overview.period;
  const f = overview.forecast;
  const start = Date.parse(p.start);
  const end = Date.parse(p.end);
  const now = Date.parse(overview.now);
  const days = [];
  for (let t = Date.UTC(...ymd(start)); t <= end; t += 86_400_000) days.push(t);
  const spent = new Map(p.daily.map((d) => [d.day, d.spend_usd]));
  let total = 0;
  const actual = days.map((t) => {
    if (t > now) return null;
    total += spent.get(new Date(t).toISOString().slice(0, 10)) ?? 0;
    return total;
  });
  const lastIndex = actual.findLastIndex((v) => v !== null);
  // The service's own path (cumulative, with its band) where it gives one; else a straight line to its period end.
  const path = new Map(
    (f?.path ?? []).map((d) => [Date.UTC(...d.day.split("-").map((n, i) => Number(n) - (i === 1 ? 1 : 0))), d]),
  );
  const along = (field, target) =>
    days.map((t, i) => {
      if (!f || i < lastIndex) return null;
      if (path.size) return path.get(t)?.[field] ?? null;
      return total + ((target - total) * (i - lastIndex)) / Math.max(1, days.length - 1 - lastIndex);
    });
  const series = [{}, line("Spent", 0, { value: (_u, v) => usd(v) })];
  const data = [days.map((t) => t / 1000), actual];
  if (f) {
    series.push(line("Forecast", 1, { dash: [6, 4], value: (_u, v) => usd(v) }));
    series.push(line("Low", 6, { width: 1, dash: [2, 3], value: (_u, v) => usd(v) }));
    series.push(line("High", 6, { width: 1, dash: [2, 3], value: (_u, v) => usd(v) }));
    data.push(along("usd", f.period_end_usd), along("low", f.low), along("high", f.high));
  }
  // A budget far above the spend would flatten the lines into the axis: it is named instead of drawn.
  const top = Math.max(total, f?.high ?? 0);
  const drawn = p.budget_usd && p.budget_usd <= 3 * top;
  if (drawn) {
    series.push(line("Budget", 3, { width: 1.5, value: (_u, v) => usd(v) }));
    data.push(days.map(() => p.budget_usd));
  }
  const opts = { series, axes: [{}, usdAxis] };
  if (f) opts.bands = [{ series: [4, 3], fill: "rgba(100,116,139,0.15)" }];
  const title = p.budget_usd
    ? `This month: cumulative spend vs budget${drawn ? "" : ` (${usd(p.budget_usd)}, off the scale)`}`
    : "This month: cumulative spend";
  return html`<${Chart} title=${title} opts=${opts} data=${data} />`;
}

function ymd(msEpoch) {
  const d = new Date(msEpoch);
  return [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()];
}

function TopTable({ title, rows, name = (r) => r.id }) {
  return html`<div class="panel">
    <h3>${title}</h3>
    ${
      rows.length === 0
        ? html`<p class="muted">Nothing this month.</p>`
        : html`<table>
          <thead><tr><th>name</th><th class="num">spend</th><th class="num">requests</th></tr></thead>
          <tbody>
            ${rows.map((r) => html`<tr><td>${name(r)}</td><td class="num">${usd(r.spend_usd)}</td><td class="num">${int(r.requests)}</td></tr>`)}
          </tbody>
        </table>`
    }
  </div>`;
}

function ForecastTable({ rows }) {
  return html`<div class="panel">
    <h3>Forecasts</h3>
    <table>
      <thead>
        <tr><th>scope</th><th>period</th><th class="num">spent</th><th class="num">projected</th><th>band</th><th>method</th><th>breach</th></tr>
      </thead>
      <tbody>
        ${rows.map(
          (r) => html`<tr>
            <td>${r.scope}</td><td>${r.period}</td><td class="num">${usd(r.spent_to_date_usd)}</td>
            <td class="num">${usd(r.period_end_usd)}</td><td>${usd(r.low)} – ${usd(r.high)}</td>
            <td>${r.method}${r.insufficient_data ? " *" : ""}</td>
            <td>${r.breaches.find((b) => b.date)?.date ?? "none projected"}</td>
          </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

const STATE_LABEL = {
  ok: "ok",
  warning: "warning",
  over_soft: "over (soft)",
  blocked: "blocked (hard)",
  emergency: "emergency brake",
};

function Budgets({ team }) {
  const state = useData(() => api("/api/dashboard/budgets", { team }), [team]);
  if (!state.data) return html`<${Status} state=${state} />`;
  const rows = state.data.data;
  if (rows.length === 0) return html`<p class="empty" data-ready>No budgets apply to this view.</p>`;
  return html`<section class="panel" data-ready>
    <table class="budgets">
      <thead>
        <tr>
          <th>scope</th><th>period</th><th>level</th><th>utilisation</th><th class="num">spent</th><th class="num">limit</th>
          <th>state</th><th>projected period end</th><th>projected breach</th><th>warnings</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          (b) => html`<tr>
            <td>${b.scope_label}</td>
            <td>${b.period}</td>
            <td>${b.level}</td>
            <td><${Bar} fraction=${b.utilization} warnAt=${b.warn_at} /><span class="small">${pct(b.utilization)}</span></td>
            <td class="num">${usd(b.spent_usd)}</td>
            <td class="num">${b.limit_usd !== null ? usd(b.limit_usd) : `${int(b.limit_tokens)} tok`}</td>
            <td><span class=${`pill ${b.state}`}>${STATE_LABEL[b.state]}</span></td>
            <td>${b.forecast ? html`${usd(b.forecast.period_end_usd)} <span class="small">(${usd(b.forecast.low)} – ${usd(b.forecast.high)})</span>` : html`<span class="muted">no forecast</span>`}</td>
            <td>${b.projected_breach?.date ?? html`<span class="muted">${b.forecast ? "none" : "–"}</span>`}</td>
            <td>${b.warnings.length ? html`<ul class="warnings">${b.warnings.map((w) => html`<li>${w}</li>`)}</ul>` : ""}</td>
          </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

function Models({ team }) {
  const state = useData(() => api("/api/dashboard/models", { team, days: 14 }), [team]);
  if (!state.data) return html`<${Status} state=${state} />`;
  const m = state.data;
  const shown = m.data.filter((r) => r.requests > 0).slice(0, COLORS.length);
  const data = [m.buckets.map((b) => b / 1000), ...shown.map((r) => r.daily_p95_ms)];
  const opts = {
    series: [
      {},
      ...shown.map((r, i) => line(`${r.alias} · ${r.deployment}`, i, { spanGaps: true, value: (_u, v) => ms(v) })),
    ],
    axes: [{}, { values: (_u, ticks) => ticks.map((t) => ms(t)), size: 60 }],
  };
  return html`<section data-ready>
    ${shown.length ? html`<${Chart} title=${`p95 latency per day, last ${m.window_days} days`} opts=${opts} data=${data} />` : null}
    <div class="panel">
      <table>
        <thead>
          <tr>
            <th>alias</th><th>deployment</th><th class="num">requests</th><th class="num">share</th><th class="num">p50</th>
            <th class="num">p95</th><th class="num">TTFT p50</th><th class="num">TTFT p95</th><th class="num">errors</th>
            <th class="num">cost / request</th><th>breaker</th>
          </tr>
        </thead>
        <tbody>
          ${m.data.map(
            (r) => html`<tr>
              <td>${r.alias}</td><td>${r.deployment}</td><td class="num">${int(r.requests)}</td>
              <td class="num">${pct(r.selection_share)}</td><td class="num">${ms(r.p50_ms)}</td><td class="num">${ms(r.p95_ms)}</td>
              <td class="num">${ms(r.ttft_p50_ms)}</td><td class="num">${ms(r.ttft_p95_ms)}</td>
              <td class="num">${pct(r.error_rate)}</td><td class="num">${usd(r.cost_per_request_usd)}</td>
              <td>${r.breaker ? html`<span class=${`pill breaker-${r.breaker}`}>${r.breaker}</span>` : "–"}</td>
            </tr>`,
          )}
        </tbody>
      </table>
      <p class="small muted">From the usage ledger (${int(m.sampled)} calls); breaker state is this replica's, live.</p>
    </div>
  </section>`;
}

function Cache({ team }) {
  const state = useData(() => api("/api/dashboard/cache", { team, days: 30 }), [team]);
  if (!state.data) return html`<${Status} state=${state} />`;
  const c = state.data;
  const t = c.totals;
  const data = [
    c.buckets.map((b) => b / 1000),
    c.daily.hit_rate.map((v) => (v === null ? null : v * 100)),
    c.daily.saved_usd,
  ];
  const opts = {
    series: [
      {},
      line("Hit rate", 0, { scale: "%", spanGaps: true, value: (_u, v) => (v === null ? "–" : `${v.toFixed(1)}%`) }),
      line("Saved", 2, { scale: "$", value: (_u, v) => usd(v) }),
    ],
    axes: [
      {},
      { scale: "%", values: (_u, ticks) => ticks.map((v) => `${v}%`) },
      { ...usdAxis, scale: "$", side: 1, grid: { show: false } },
    ],
  };
  return html`<section data-ready>
    <div class="cards">
      <${Card} label="Hit rate" value=${pct(t.hit_rate)} sub=${`${int(t.hits)} of ${int(t.lookups)} lookups`} />
      <${Card} label="Saved" value=${usd(t.saved_usd)} sub=${`last ${c.window_days} days`} />
      <${Card} label="Time saved" value=${ms(t.saved_latency_ms)} sub="upstream latency not waited for" />
      <${Card} label="Semantic hits" value=${int(t.semantic_hits)} sub="served by similarity" />
    </div>
    <${Chart} title="Cache hit rate and dollars saved per day" opts=${opts} data=${data} />
    <div class="panel">
      <h3>By alias</h3>
      ${
        c.by_alias.length === 0
          ? html`<p class="muted">No cache lookups in this window.</p>`
          : html`<table>
            <thead><tr><th>alias</th><th class="num">lookups</th><th class="num">hits</th><th class="num">hit rate</th><th class="num">saved</th></tr></thead>
            <tbody>
              ${c.by_alias.map((r) => html`<tr><td>${r.alias}</td><td class="num">${int(r.lookups)}</td><td class="num">${int(r.hits)}</td><td class="num">${pct(r.hit_rate)}</td><td class="num">${usd(r.saved_usd)}</td></tr>`)}
            </tbody>
          </table>`
      }
    </div>
  </section>`;
}

function Recommendations({ team, viewer }) {
  const state = useData(async () => {
    if (!viewer.recommendations) return { data: [] };
    try {
      return await api("/api/recommendations", { team });
    } catch (err) {
      if (err.status === 404) return { data: [] };
      throw err;
    }
  }, [team, viewer.recommendations]);
  if (!state.data) return html`<${Status} state=${state} />`;
  const items = state.data.data ?? [];
  if (items.length === 0) return html`<p class="empty" data-ready>No recommendations right now.</p>`;
  const total = items.reduce((sum, r) => sum + (r.estimatedMonthlySavingUsd ?? 0), 0);
  return html`<section class="recs" data-ready>
    <p class="muted">${items.length} suggestions from the last ${Math.round(state.data.window_days ?? 30)} days of the ledger, worth about ${usd(total)} a month together.</p>
    ${items.map(
      (r) => html`<article class="panel rec">
        <h3>${r.title}</h3>
        <p class="small muted">${KIND_LABEL[r.kind] ?? r.kind}${scopeText(r.scope)}</p>
        ${
          r.estimatedMonthlySavingUsd > 0
            ? html`<p class="saving">Saves about ${usd(r.estimatedMonthlySavingUsd)} a month</p>`
            : null
        }
      </article>`,
    )}
  </section>`;
}

const KIND_LABEL = {
  cheaper_model: "Cheaper model",
  cheaper_deployment: "Cheaper deployment",
  routing_strategy: "Routing strategy",
  cache: "Response cache",
  idle_budget: "Idle budget",
};

function scopeText(scope) {
  const parts = [];
  if (scope?.teamId) parts.push(`team ${scope.teamId}`);
  if (scope?.keyId) parts.push(`key ${scope.keyId}`);
  if (scope?.alias) parts.push(`alias ${scope.alias}`);
  return parts.length ? ` · ${parts.join(", ")}` : "";
}

function Requests({ team }) {
  const [pages, setPages] = useState([]);
  const [error, setError] = useState(null);
  const more = useCallback(
    (before) =>
      api("/api/dashboard/requests", { team, limit: 100, before }).then(
        (page) => setPages((p) => [...p, page]),
        (err) => setError(err),
      ),
    [team],
  );
  useEffect(() => {
    setPages([]);
    setError(null);
    more();
  }, [more]);
  if (error) return html`<${Status} state=${{ error }} />`;
  if (pages.length === 0) return html`<${Status} state=${{ loading: true }} />`;
  const rows = pages.flatMap((p) => p.data);
  const next = pages.at(-1).next_before;
  return html`<section class="panel" data-ready>
    <p class="small muted">Prompt and completion text is never recorded by the usage ledger, so none is shown.</p>
    <table class="requests">
      <thead>
        <tr>
          <th>time (UTC)</th><th>key</th><th>team</th><th>alias</th><th>deployment</th><th class="num">status</th><th>outcome</th>
          <th class="num">tokens in / out</th><th class="num">cost</th><th class="num">latency</th><th>cache</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          (r) => html`<tr title=${r.request_id}>
            <td>${r.ts.replace("T", " ").slice(0, 19)}</td><td>${r.key_name ?? r.key_id ?? "–"}</td><td>${r.team_id ?? "–"}</td>
            <td>${r.alias}</td><td>${r.deployment ?? "–"}</td><td class="num">${r.status}</td><td>${r.outcome}</td>
            <td class="num">${int(r.prompt_tokens)} / ${int(r.completion_tokens)}</td><td class="num">${usd(r.cost_usd)}</td>
            <td class="num">${ms(r.latency_ms)}</td><td>${r.cache ?? ""}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${next ? html`<button class="more" onClick=${() => more(next)}>Older requests</button>` : null}
  </section>`;
}

const VIEW_COMPONENTS = {
  overview: Overview,
  budgets: Budgets,
  models: Models,
  cache: Cache,
  recommendations: Recommendations,
  requests: Requests,
};

function currentView() {
  const name = location.hash.replace(/^#/, "");
  return VIEW_COMPONENTS[name] ? name : "overview";
}

function KeyForm({ onKey, error }) {
  const [value, setValue] = useState("");
  const submit = (e) => {
    e.preventDefault();
    onKey(value.trim());
  };
  return html`<main class="login">
    <h1>Tollgate</h1>
    <form onSubmit=${submit}>
      <label for="key">API key</label>
      <input id="key" name="key" type="password" autocomplete="off" placeholder="master key or team key (tg-…)" value=${value} onInput=${(e) => setValue(e.currentTarget.value)} />
      <button type="submit">Open dashboard</button>
      <button type="button" class="link" onClick=${() => onKey("")}>Continue without a key (open gateway)</button>
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
      <p class="small muted">The key stays in this tab (sessionStorage) and is sent only to this gateway.</p>
    </form>
  </main>`;
}

function App() {
  const [viewer, setViewer] = useState(null);
  const [asking, setAsking] = useState(sessionStorage.getItem(KEY_STORAGE) === null);
  const [loginError, setLoginError] = useState(null);
  const [view, setView] = useState(currentView());
  const [team, setTeam] = useState("");

  const connect = useCallback(() => {
    api("/api/dashboard/whoami").then(
      (who) => {
        setViewer(who);
        setAsking(false);
      },
      (err) => {
        sessionStorage.removeItem(KEY_STORAGE);
        setLoginError(err.status === 401 ? "That key was not accepted." : err.message);
        setAsking(true);
      },
    );
  }, []);
  useEffect(() => {
    if (!asking) connect();
  }, [asking, connect]);
  useEffect(() => {
    const onHash = () => setView(currentView());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  if (asking) {
    return html`<${KeyForm}
      error=${loginError}
      onKey=${(key) => {
        sessionStorage.setItem(KEY_STORAGE, key);
        setLoginError(null);
        setAsking(false);
      }}
    />`;
  }
  if (!viewer) return html`<p class="boot">Connecting…</p>`;
  const View = VIEW_COMPONENTS[view];
  const signOut = () => {
    sessionStorage.removeItem(KEY_STORAGE);
    setViewer(null);
    setTeam("");
    setAsking(true);
  };
  return html`<div class="app" data-view=${view} data-role=${viewer.role}>
    <header>
      <h1>Tollgate</h1>
      <nav>
        ${VIEWS.map(([id, label]) => html`<a href=${`#${id}`} class=${id === view ? "active" : ""}>${label}</a>`)}
      </nav>
      <div class="who">
        ${
          viewer.role === "admin"
            ? html`<select aria-label="team" value=${team} onChange=${(e) => setTeam(e.currentTarget.value)}>
              <option value="">All teams</option>
              ${viewer.teams.map((t) => html`<option value=${t}>${t}</option>`)}
            </select>`
            : html`<span class="badge">team ${viewer.team_id}</span>`
        }
        <button class="link" onClick=${signOut}>Sign out</button>
      </div>
    </header>
    <main id="view" data-loaded="true">
      <h2>${VIEWS.find(([id]) => id === view)[1]}</h2>
      <${View} team=${team} viewer=${viewer} />
    </main>
  </div>`;
}

const root = document.getElementById("root");
root.replaceChildren(); // the boot message: render() would keep it beside the app
render(html`<${App} />`, root);
