/*
 * Kestrel console: the insights pages (the dashboard, its drill-through list, one conversation's
 * timeline, and the editors' suggestions inbox), built from /api/insights with console.js's
 * helpers (window.KestrelConsole). Chart.js (static/vendor/chart.umd.min.js) is loaded on the
 * dashboard only. As in console.js, every data value reaches the page as a text node or an
 * element property, never as HTML; the CSP forbids inline code and styles.
 */
(function () {
  "use strict";

  const K = window.KestrelConsole;
  if (!K) return;
  const { el, add, button, labelled, form, section, humanise, truncate, when, score, say, flash, api, act } = K;
  const app = document.getElementById("app");
  const API = "/api/insights";
  const LIST = "/console/insights/conversations";
  const RANGE = ["since", "until", "channel"];
  // The drill-through filters the list page passes on to GET /api/insights/conversations.
  const DRILL = ["outcome", "reason", "stage", "article", "feedback", "tree", "node", "form", "field", "left", "code",
    "question", "handoff_stage", "durable", "channel", "since", "until"];
  const OUTCOME_COLOURS = {
    resolved_confirmed: "#0b5c4a", resolved_assumed: "#6fb59c", escalated: "#d89b00", ticket: "#7b61b3",
    abandoned: "#b3413a"
  };

  // ---------------------------------------------------------------- small helpers
  function day(date) { return date.toISOString().slice(0, 10); }
  function defaultRange() {
    const until = new Date();
    const since = new Date(until.getTime() - 29 * 86400000); // as the API's default: the last 30 days, today included
    return { since: day(since), until: day(until) };
  }
  function pct(rate) { return typeof rate === "number" && isFinite(rate) ? Math.round(rate * 1000) / 10 + "%" : "—"; }
  function num(value) { return typeof value === "number" ? value.toLocaleString() : value === undefined || value === null ? "—" : String(value); }
  function rows(body, key) { const list = body && body[key || "rows"]; return Array.isArray(list) ? list : []; }
  function query(params) {
    const out = new URLSearchParams();
    Object.keys(params).forEach((name) => {
      const value = params[name];
      if (value !== undefined && value !== null && String(value) !== "") out.set(name, String(value));
    });
    return out.toString();
  }
  function withQuery(path, params) { const q = query(params); return q ? path + "?" + q : path; }
  // The drill-through list for a figure: the dashboard's range (and channel) plus the figure's filter.
  function drill(range, filter) { return withQuery(LIST, Object.assign({}, range, filter)); }
  function csvLink(route, range, extra, label, text) {
    const href = withQuery(API + route, Object.assign({}, range, extra || {}, { format: "csv" }));
    return el("a", { className: "button secondary csv", href: href, download: "", "aria-label": "CSV: " + label }, text || "CSV");
  }
  function leftShare(row) { return row.reached ? row.left / row.reached : 0; }
  function shareBar(rate) {
    const bar = el("span", "share-bar");
    const fill = el("span", "share-fill");
    fill.style.width = Math.max(0, Math.min(100, rate * 100)) + "%"; // CSSOM, allowed by the CSP
    bar.appendChild(fill);
    return el("span", "share", bar, el("span", "share-text", pct(rate)));
  }
  function empty(colSpan, text) { return el("tr", null, el("td", { className: "empty", colSpan: colSpan }, text)); }

  // A table: columns [{label, cell(row) -> node|text, num?}], the first cell is the row's link.
  function table(id, caption, columns, list, href, emptyText) {
    const head = el("tr", null, ...columns.map((c) => el("th", { scope: "col", className: c.num ? "num" : "" }, c.label)));
    const body = el("tbody");
    list.forEach((row) => {
      const cells = columns.map((c, i) => {
        const value = c.cell(row);
        const content = i === 0 && href ? el("a", { className: "drill", href: href(row) }, value) : value;
        return el(i === 0 ? "th" : "td", Object.assign({ className: c.num ? "num" : "" }, i === 0 ? { scope: "row" } : {}), content);
      });
      body.appendChild(el("tr", null, ...cells));
    });
    if (!list.length) body.appendChild(empty(columns.length, emptyText || "Nothing in this period."));
    return el("div", "table-wrap", el("table", { id: id, className: "results insights-table" },
      el("caption", "visually-hidden", caption), el("thead", null, head), body));
  }

  // A panel with its heading, a CSV link (if any) and a body that load() refills.
  function panel(id, title, csv) {
    const body = el("div", "panel-body");
    const tools = el("p", "panel-tools");
    const head = el("div", "panel-head", el("h2", { id: id + "-title" }, title), tools);
    const node = el("section", { id: id, className: "panel insight", "aria-labelledby": id + "-title" }, head, body);
    return {
      node: node,
      show(range, ...children) {
        body.textContent = "";
        tools.textContent = "";
        (csv || []).forEach(([route, extra, label, text]) => tools.appendChild(csvLink(route, range, extra, label || title, text)));
        add(body, ...children);
      },
      fail(err) {
        body.textContent = "";
        body.appendChild(el("p", "muted", "Could not be loaded: " + ((err && err.message) || "error")));
      }
    };
  }

  // ---------------------------------------------------------------- Chart.js, loaded on demand
  let chartLib = null;
  function loadChartJs() {
    if (window.Chart) return Promise.resolve(window.Chart);
    if (!chartLib) {
      chartLib = new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = "/static/vendor/chart.umd.min.js";
        script.onload = () => resolve(window.Chart);
        script.onerror = () => { chartLib = null; reject(new Error("The chart library could not be loaded.")); };
        document.head.appendChild(script);
      });
    }
    return chartLib;
  }
  const charts = new Map(); // canvas id -> Chart, destroyed before the panel is drawn again

  // A chart whose bars and points drill through: link(datasetIndex, index) -> URL or null.
  function chartBox(id, label, config, link) {
    const canvas = el("canvas", { id: id, role: "img", "aria-label": label });
    const box = el("div", "chart", canvas);
    loadChartJs().then((Chart) => {
      if (charts.has(id)) charts.get(id).destroy();
      if (!canvas.isConnected) return;
      const options = Object.assign({
        responsive: true, maintainAspectRatio: false, animation: false,
        onClick(event, elements) {
          const hit = elements && elements[0];
          const href = hit ? link(hit.datasetIndex, hit.index) : null;
          if (href) window.location.assign(href);
        },
        onHover(event, elements) {
          const target = event.native && event.native.target;
          if (target) target.style.cursor = elements && elements.length ? "pointer" : "default";
        }
      }, config.options || {});
      charts.set(id, new Chart(canvas, Object.assign({}, config, { options: options })));
    }, (err) => { box.textContent = ""; box.appendChild(el("p", "muted", err.message)); });
    return box;
  }
  function barChart(id, label, list, labelOf, valueOf, link, horizontal) {
    return chartBox(id, label, {
      type: "bar",
      data: {
        labels: list.map(labelOf),
        datasets: [{ label: label, data: list.map(valueOf), backgroundColor: "#0b5c4a" }]
      },
      options: {
        indexAxis: horizontal ? "y" : "x",
        plugins: { legend: { display: false } },
        scales: { [horizontal ? "x" : "y"]: { beginAtZero: true, ticks: { precision: 0 } } }
      }
    }, (dataset, index) => link(list[index]));
  }
  function dataTable(title, ...children) {
    return el("details", "chart-data", el("summary", null, title), ...children);
  }

  // ---------------------------------------------------------------- dashboard
  const TILES = [
    ["conversations", "Conversations", {}],
    ["containment_rate", "Containment", { outcome: "resolved" }],
    ["resolved_confirmed", "Resolved (confirmed)", { outcome: "resolved_confirmed" }],
    ["resolved_assumed", "Resolved (assumed)", { outcome: "resolved_assumed" }],
    ["escalated", "Escalated", { outcome: "escalated" }],
    ["ticket", "Tickets", { outcome: "ticket" }],
    ["abandoned", "Abandoned", { outcome: "abandoned" }]
  ];
  const SERIES = ["resolved_confirmed", "resolved_assumed", "escalated", "ticket", "abandoned"];

  function dashboardPage() {
    document.title = "Insights · Agent console";
    const params = new URLSearchParams(window.location.search);
    const defaults = defaultRange();
    const since = el("input", { id: "range-since", name: "since", type: "date", value: params.get("since") || defaults.since });
    const until = el("input", { id: "range-until", name: "until", type: "date", value: params.get("until") || defaults.until });
    const channel = el("select", { id: "range-channel", name: "channel" }, el("option", { value: "" }, "All channels"));
    const wanted = params.get("channel") || "";
    if (wanted) { channel.appendChild(el("option", { value: wanted }, wanted)); channel.value = wanted; }
    const apply = button("Apply", { className: "primary", type: "submit" });
    const filters = form("insights-filters", () => {
      window.history.replaceState(null, "", withQuery(window.location.pathname, range()));
      load();
    }, labelled("From", since), labelled("To", until), labelled("Channel", channel),
    el("div", "field field-submit", apply));
    filters.setAttribute("aria-label", "Period and channel");
    filters.className = "insights-filters";

    const tiles = el("ul", { id: "tiles", className: "tiles", "aria-label": "Summary" });
    const P = {
      time: panel("p-time", "Containment and resolution over time", [["/timeseries", {}, "over time"]]),
      handoffs: panel("p-handoffs", "Handoffs", [["/handoffs", { table: "by_reason" }, "handoffs by reason", "CSV by reason"],
        ["/handoffs", { table: "by_stage" }, "handoffs by stage", "CSV by stage"]]),
      funnel: panel("p-funnel", "Lifecycle stages", [["/funnel", {}]]),
      trees: panel("p-trees", "Drop-off in troubleshooting trees", [["/dropoff", { table: "trees" }]]),
      forms: panel("p-forms", "Drop-off in form fields", [["/dropoff", { table: "forms" }]]),
      refusals: panel("p-refusals", "Back-office refusals", [["/refusals", {}]]),
      failed: panel("p-failed", "Top failed questions", [["/failed-questions", {}]]),
      feedback: panel("p-feedback", "Feedback per article", [["/feedback", {}]]),
      articles: panel("p-articles", "Most shown articles", [["/articles", {}]]),
      channels: panel("p-channels", "Per channel (all channels)", [["/channels", {}]])
    };
    add(app, el("h1", null, "Insights"), filters, tiles,
      el("div", "insights-grid", P.time.node, P.handoffs.node, P.funnel.node, P.trees.node, P.forms.node,
        P.refusals.node, P.failed.node, P.feedback.node, P.articles.node, P.channels.node));

    function range() { return { since: since.value, until: until.value, channel: channel.value }; }
    function pick(r, names) { const out = {}; names.forEach((n) => { if (r[n]) out[n] = r[n]; }); return out; }

    async function load() {
      const r = pick(range(), RANGE);
      if (r.since && r.until && r.since > r.until) { say("The start date is after the end date.", "error"); return; }
      const all = pick(r, ["since", "until"]); // the per-channel table: every channel
      const get = (route, scope) => api(withQuery(API + route, scope || r));
      apply.disabled = true;
      const jobs = [
        get("/summary").then((s) => showTiles(tiles, s, r), (err) => { tiles.textContent = ""; tiles.appendChild(el("li", "muted", err.message)); }),
        get("/timeseries").then((b) => showTime(P.time, rows(b), r), (e) => P.time.fail(e)),
        get("/handoffs").then((b) => showHandoffs(P.handoffs, b, r), (e) => P.handoffs.fail(e)),
        get("/funnel").then((b) => showFunnel(P.funnel, rows(b), r), (e) => P.funnel.fail(e)),
        get("/dropoff").then((b) => { showTrees(P.trees, rows(b, "trees"), r); showForms(P.forms, rows(b, "forms"), r); },
          (e) => { P.trees.fail(e); P.forms.fail(e); }),
        get("/refusals").then((b) => showRefusals(P.refusals, rows(b), r), (e) => P.refusals.fail(e)),
        get("/failed-questions").then((b) => showFailed(P.failed, rows(b), r), (e) => P.failed.fail(e)),
        get("/feedback").then((b) => showFeedback(P.feedback, rows(b), r), (e) => P.feedback.fail(e)),
        get("/articles").then((b) => showArticles(P.articles, rows(b), r), (e) => P.articles.fail(e)),
        get("/channels", all).then((b) => { showChannels(P.channels, rows(b), all); channelOptions(rows(b)); },
          (e) => P.channels.fail(e))
      ];
      await Promise.all(jobs);
      apply.disabled = false;
    }
    function channelOptions(list) {
      const chosen = channel.value;
      const names = list.map((c) => String(c.channel || "")).filter(Boolean);
      if (chosen && !names.includes(chosen)) names.push(chosen);
      channel.textContent = "";
      add(channel, el("option", { value: "" }, "All channels"), ...names.map((n) => el("option", { value: n }, n)));
      channel.value = chosen;
    }
    load();
  }

  function showTiles(box, s, r) {
    box.textContent = "";
    TILES.forEach(([key, label, filter]) => {
      const value = key === "containment_rate" ? pct(s[key]) : num(s[key]);
      const extra = key === "containment_rate" ? "of " + num(s.asked) + " who asked something" : null;
      box.appendChild(el("li", null, el("a", { className: "tile", href: drill(r, filter), "data-key": key },
        el("span", "tile-label", label), el("span", "tile-value", value), extra ? el("span", "tile-extra", extra) : null)));
    });
  }

  function showTime(p, list, r) {
    const days = list.map((row) => String(row.day));
    const datasets = SERIES.map((key) => ({
      type: "bar", label: humanise(key), data: list.map((row) => Number(row[key]) || 0), stack: "outcomes",
      backgroundColor: OUTCOME_COLOURS[key], yAxisID: "y"
    }));
    datasets.push({
      type: "line", label: "containment rate", data: list.map((row) => (typeof row.containment_rate === "number"
        ? Math.round(row.containment_rate * 1000) / 10 : null)),
      borderColor: "#1b1f1e", backgroundColor: "#1b1f1e", yAxisID: "rate", spanGaps: true, tension: 0.2
    });
    const chart = chartBox("chart-time", "Conversations by outcome and containment rate per day", {
      data: { labels: days, datasets: datasets },
      options: {
        interaction: { mode: "nearest", intersect: true },
        scales: {
          x: { stacked: true },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "conversations" } },
          rate: { position: "right", min: 0, max: 100, grid: { drawOnChartArea: false }, title: { display: true, text: "containment %" } }
        }
      }
    }, (dataset, index) => {
      const oneDay = { since: days[index], until: days[index] };
      return drill(r, Object.assign(dataset < SERIES.length ? { outcome: SERIES[dataset] } : {}, oneDay));
    });
    const columns = [{ label: "Day", cell: (row) => String(row.day) }]
      .concat(["conversations"].concat(SERIES).map((key) => ({ label: humanise(key), num: true, cell: (row) => num(row[key]) })))
      .concat([{ label: "containment", num: true, cell: (row) => pct(row.containment_rate) }]);
    p.show(r, chart, dataTable("Show the figures", table("t-time", "Per day", columns, list,
      (row) => drill(r, { since: row.day, until: row.day }))));
  }

  function showHandoffs(p, body, r) {
    const byReason = rows(body, "by_reason");
    const byStage = rows(body, "by_stage");
    // reason: the conversation's first handoff's (escalated or ticket), what by_reason counts
    const reasonLink = (row) => drill(r, { reason: row.reason });
    const stageLink = (row) => drill(r, { handoff_stage: row.stage });
    const n = { label: "Handoffs", num: true, cell: (row) => num(row.n) };
    p.show(r,
      el("div", "chart-pair",
        el("div", null, el("h3", null, "By reason"),
          barChart("chart-reasons", "Handoffs by reason", byReason, (row) => humanise(row.reason), (row) => row.n, reasonLink)),
        el("div", null, el("h3", null, "By stage"),
          barChart("chart-stages", "Handoffs by stage", byStage, (row) => humanise(row.stage), (row) => row.n, stageLink))),
      dataTable("Show the figures",
        table("t-reasons", "Handoffs by reason", [{ label: "Reason", cell: (row) => humanise(row.reason) }, n], byReason, reasonLink),
        table("t-stages", "Handoffs by stage", [{ label: "Stage", cell: (row) => humanise(row.stage) }, n], byStage, stageLink)));
  }

  function showFunnel(p, list, r) {
    const link = (row) => drill(r, { stage: row.stage });
    p.show(r, barChart("chart-funnel", "Conversations reaching each stage", list, (row) => humanise(row.stage),
      (row) => row.conversations, link, true),
    dataTable("Show the figures", table("t-funnel", "Lifecycle stages",
      [{ label: "Stage", cell: (row) => humanise(row.stage) }, { label: "Conversations", num: true, cell: (row) => num(row.conversations) }],
      list, link)));
  }

  const REACHED = [{ label: "Reached", num: true, cell: (row) => num(row.reached) },
    { label: "Left", num: true, cell: (row) => num(row.left) }, { label: "Left %", cell: (row) => shareBar(leftShare(row)) }];
  // A row without a node (field) is the tree (form) as a whole; its link lists those who left it.
  function showTrees(p, list, r) {
    p.show(r, table("t-trees", "Drop-off per tree node",
      [{ label: "Tree / node", cell: (row) => humanise(row.tree) + " / " + (row.node ? humanise(row.node) : "(the whole tree)") }]
        .concat(REACHED),
      list, (row) => drill(r, { tree: row.tree, node: row.node, left: "true" })));
  }
  function showForms(p, list, r) {
    p.show(r, table("t-forms", "Drop-off per form field",
      [{ label: "Form / field", cell: (row) => humanise(row.form) + " / " + (row.field ? humanise(row.field) : "(the whole form)") }]
        .concat(REACHED),
      list, (row) => drill(r, { form: row.form, field: row.field, left: "true" })));
  }
  function showRefusals(p, list, r) {
    p.show(r, table("t-refusals", "Back-office refusals by code",
      [{ label: "Code", cell: (row) => humanise(row.code) }, { label: "Operation", cell: (row) => humanise(row.operation) },
        { label: "Refusals", num: true, cell: (row) => num(row.n) }],
      list, (row) => drill(r, { code: row.code })));
  }
  function showFailed(p, list, r) {
    p.show(r, table("t-failed", "Top failed questions",
      [{ label: "Question", cell: (row) => truncate(row.question, 140) }, { label: "How", cell: (row) => humanise(row.how) },
        { label: "Times", num: true, cell: (row) => num(row.n) }, { label: "Last seen", cell: (row) => when(row.last_seen) || "" }],
      list, (row) => drill(r, { question: row.question })));
  }
  function showFeedback(p, list, r) {
    p.show(r, table("t-feedback", "Feedback per article",
      [{ label: "Article", cell: (row) => row.title || row.article_id },
        { label: "Up", num: true, cell: (row) => el("a", { href: drill(r, { article: row.article_id, feedback: "up" }) }, num(row.up)) },
        { label: "Down", num: true, cell: (row) => el("a", { href: drill(r, { article: row.article_id, feedback: "down" }) }, num(row.down)) },
        { label: "Trend", cell: (row) => sparkline(everyDay(Array.isArray(row.trend) ? row.trend : [], r)) }],
      list, (row) => drill(r, { article: row.article_id })));
  }
  function showArticles(p, list, r) {
    p.show(r, table("t-articles", "Most shown articles",
      [{ label: "Article", cell: (row) => row.title || row.article_id },
        { label: "Conversations", num: true, cell: (row) => num(row.conversations) }],
      list, (row) => drill(r, { article: row.article_id })));
  }
  function showChannels(p, list, r) {
    p.show(r, table("t-channels", "Per channel",
      [{ label: "Channel", cell: (row) => String(row.channel) },
        { label: "Conversations", num: true, cell: (row) => num(row.conversations) },
        { label: "Resolved", num: true, cell: (row) => num(row.resolved) },
        { label: "Escalated", num: true, cell: (row) => num(row.escalated) },
        { label: "Abandoned", num: true, cell: (row) => num(row.abandoned) },
        { label: "Containment", num: true, cell: (row) => pct(row.containment_rate) }],
      list, (row) => drill(r, { channel: row.channel })));
  }

  // The trend over every day of the range (the API lists the days with feedback only).
  function everyDay(trend, r) {
    const byDay = new Map(trend.map((d) => [String(d.day), d]));
    const out = [];
    const last = Date.parse(r.until + "T00:00:00Z");
    for (let t = Date.parse(r.since + "T00:00:00Z"); t <= last && out.length < 400; t += 86400000) {
      const key = day(new Date(t));
      out.push(byDay.get(key) || { day: key, up: 0, down: 0 });
    }
    return out.length ? out : trend;
  }

  // Up bars above the line, down bars below, one pair a day: an SVG built node by node.
  const SVG = "http://www.w3.org/2000/svg";
  function sparkline(trend) {
    const width = 96, height = 24, mid = height / 2;
    const top = Math.max(1, ...trend.map((d) => Math.max(Number(d.up) || 0, Number(d.down) || 0)));
    const step = trend.length ? width / trend.length : width;
    const svg = document.createElementNS(SVG, "svg");
    const ups = trend.reduce((s, d) => s + (Number(d.up) || 0), 0);
    const downs = trend.reduce((s, d) => s + (Number(d.down) || 0), 0);
    [["viewBox", "0 0 " + width + " " + height], ["width", width], ["height", height], ["class", "sparkline"],
      ["role", "img"], ["aria-label", ups + " up and " + downs + " down over " + trend.length + " days"]]
      .forEach(([name, value]) => svg.setAttribute(name, String(value)));
    const rect = (x, y, h, cls) => {
      const node = document.createElementNS(SVG, "rect");
      [["x", x], ["y", y], ["width", Math.max(1, step - 1)], ["height", h], ["class", cls]]
        .forEach(([name, value]) => node.setAttribute(name, String(value)));
      svg.appendChild(node);
    };
    trend.forEach((d, i) => {
      const up = ((Number(d.up) || 0) / top) * (mid - 1);
      const down = ((Number(d.down) || 0) / top) * (mid - 1);
      if (up) rect(i * step, mid - up, up, "spark-up");
      if (down) rect(i * step, mid, down, "spark-down");
    });
    const axis = document.createElementNS(SVG, "line");
    [["x1", 0], ["x2", width], ["y1", mid], ["y2", mid], ["class", "spark-axis"]]
      .forEach(([name, value]) => axis.setAttribute(name, String(value)));
    svg.appendChild(axis);
    return svg;
  }

  // ---------------------------------------------------------------- drill-through list
  const LIST_COLUMNS = ["Started", "Outcome", "Where", "Reason", "Channel", "Topics", "Turns"];

  function conversationsPage() {
    document.title = "Conversations · Insights · Agent console";
    const params = new URLSearchParams(window.location.search);
    const filter = {};
    DRILL.forEach((name) => { if (params.get(name)) filter[name] = params.get(name); });
    const back = withQuery("/console/insights", { since: filter.since, until: filter.until, channel: filter.channel });
    const shown = Object.keys(filter).map((name) => el("li", "chip", name + ": " + humanise(filter[name])));
    const count = el("p", { id: "conversations-count", className: "count" }, "Loading…");
    const csv = el("a", { id: "conversations-csv", className: "button secondary", download: "",
      href: withQuery(API + "/conversations", Object.assign({}, filter, { format: "csv" })) }, "CSV");
    const body = el("tbody");
    add(app, K.pageHead("← Insights", back, "Conversations"),
      el("ul", { className: "chips", "aria-label": "Filter" }, ...(shown.length ? shown : [el("li", "chip", "all conversations")])),
      el("div", "results-bar", count, el("p", "exports", csv)),
      el("div", "table-wrap", el("table", { id: "conversations", className: "results" },
        el("caption", "visually-hidden", "Conversations"),
        el("thead", null, el("tr", null, ...LIST_COLUMNS.map((c) => el("th", { scope: "col", className: c === "Turns" ? "num" : "" }, c)))), body)));

    K.retrying(() => api(withQuery(API + "/conversations", Object.assign({ limit: 100 }, filter))), "list").then((found) => {
      const list = rows(found);
      add(body, ...list.map((c) => el("tr", { "data-id": c.conversation_id },
        el("td", null, el("a", { href: LIST + "/" + encodeURIComponent(c.conversation_id) }, when(c.started) || c.conversation_id)),
        el("td", null, humanise(c.outcome) || "—"), el("td", null, c.where || "—"), el("td", null, humanise(c.reason) || "—"),
        el("td", null, c.channel || "—"), el("td", null, (Array.isArray(c.topics) ? c.topics : []).map(humanise).join(", ")),
        el("td", "num", num(c.turns)))));
      if (!list.length) body.appendChild(empty(LIST_COLUMNS.length, "No conversations match."));
      const total = typeof found.total === "number" ? found.total : list.length;
      count.textContent = total === 1 ? "1 conversation" : total + " conversations";
      if (total > list.length) count.textContent += " (the first " + list.length + " shown; the CSV has them all)";
    }, () => { count.textContent = "The conversations could not be loaded."; });
  }

  // ---------------------------------------------------------------- one conversation
  // The records of assistant/insights/events.py: user/bot/agent_reply turns, the rest as markers.
  const MARKERS = {
    article_shown: "Article shown", search_failed: "Failed search", clarified: "Clarifying question",
    form: "Form", field: "Form field", tree: "Tree", node: "Tree node", tree_finished: "Tree finished",
    stage: "Stage", transaction: "Transaction", refusal: "Refusal", feedback: "Feedback", handoff: "Handoff",
    pause: "A person took over", resume: "Handed back", session: "New session", customer: "Signed in",
    recommended: "Recommended", product_chosen: "Product chosen", account_answer: "Account answer",
    proactive_offered: "Offered", proactive_outcome: "Offer outcome", action: "Action"
  };
  const TURNS = { user: "Customer", bot: "Assistant", agent: "Agent", agent_reply: "Agent" };
  const SKIP = ["ts", "kind", "intent", "confidence", "channel", "button", "test"];

  function markerKind(event) {
    return event.kind === "transaction" && event.ok === false ? "refusal" : String(event.kind || "");
  }
  function markerText(event) {
    if (event.kind === "customer") return ""; // a keyed hash: nothing to read
    if (event.kind === "feedback" && typeof event.helpful === "boolean") {
      return (event.name || event.article_id || "") + ": " + (event.helpful ? "helpful" : "not helpful");
    }
    if (event.kind === "form" && !event.name) return "ended";
    return Object.keys(event).filter((k) => !SKIP.includes(k) && event[k] !== null && event[k] !== undefined && event[k] !== "")
      .map((k) => { const v = event[k]; return typeof v === "object" ? JSON.stringify(v) : k === "ok" ? (v ? "ok" : "refused") : String(v); })
      .join(" · ");
  }

  function timelineItem(event) {
    const kind = String(event.kind || "");
    const stamp = when(event.ts);
    if (TURNS[kind]) {
      const intent = kind === "user" ? event.intent || event.name : "";
      const agent = kind === "agent_reply" && event.name ? " (" + event.name + ")" : "";
      const meta = el("div", "turn-meta", el("span", "who", TURNS[kind] + agent), stamp,
        intent ? el("span", "annot", (intent + " " + score(event.confidence)).trim()) : null);
      const cls = kind === "agent_reply" ? "agent" : kind;
      return el("li", { className: "turn turn-" + cls, "data-kind": kind }, meta, el("p", "turn-text", event.text || ""));
    }
    const shown = markerKind(event);
    const label = MARKERS[shown] || humanise(shown) || "Event";
    return el("li", { className: "marker marker-" + shown.replace(/[^a-z0-9_-]/gi, ""), "data-kind": kind },
      el("span", "marker-label", label), el("span", "marker-text", markerText(event)), stamp);
  }

  function conversationPage() {
    const id = decodeURIComponent(window.location.pathname.split("/").pop() || "");
    document.title = "Conversation · Insights · Agent console";
    const facts = el("dl", { id: "conversation-facts", className: "facts-list" });
    const outcome = el("p", { id: "conversation-outcome", className: "outcome" });
    const timeline = el("ol", { id: "timeline", className: "transcript timeline", "aria-label": "Timeline" });
    const links = el("p", "exports");
    const showActions = el("input", { type: "checkbox", id: "show-actions" });
    const actionsToggle = el("div", "field inline-check", showActions,
      el("label", { htmlFor: "show-actions" }, "Show the assistant's actions"));
    showActions.addEventListener("change", () => timeline.classList.toggle("with-actions", showActions.checked));
    const cameFrom = document.referrer.indexOf(window.location.origin + LIST + "?") === 0 ? document.referrer : LIST;
    add(app, K.pageHead("← Conversations", cameFrom, "Conversation"),
      el("p", "muted conversation-id", id), outcome, facts, links, section("Timeline", "panel", actionsToggle, timeline));

    K.retrying(() => api(API + "/conversations/" + encodeURIComponent(id)), "conversation").then((c) => {
      outcome.textContent = "Outcome: " + (humanise(c.outcome) || "unknown");
      outcome.className = "outcome outcome-" + String(c.outcome || "unknown").replace(/[^a-z0-9_-]/gi, "");
      const topics = (Array.isArray(c.topics) ? c.topics : []).map(humanise).join(", ");
      const pairs = [["Started", when(c.started)], ["Ended", when(c.ended)], ["Where", c.where], ["Reason", humanise(c.reason)],
        ["Channel", c.channel], ["Topics", topics], ["Turns", c.turns]]
        .filter(([, v]) => v !== null && v !== undefined && v !== "");
      add(facts, ...pairs.map(([k, v]) => el("div", null, el("dt", null, k), el("dd", null, typeof v === "object" ? v : String(v)))));
      if (c.handoff_id !== null && c.handoff_id !== undefined && K.can("review")) {
        links.appendChild(el("a", { id: "handoff-review", className: "button secondary",
          href: "/console/review/" + encodeURIComponent(c.handoff_id) }, "Open the handoff review #" + c.handoff_id));
      } else if (c.handoff_id !== null && c.handoff_id !== undefined) {
        links.appendChild(el("span", "muted", "Handed off (#" + c.handoff_id + ")."));
      }
      const events = Array.isArray(c.events) ? c.events : [];
      add(timeline, ...events.map(timelineItem));
      if (!events.length) timeline.appendChild(el("li", "empty", "No events recorded."));
    }, () => { outcome.textContent = "This conversation could not be loaded."; });
  }

  // ---------------------------------------------------------------- suggestions inbox
  function articleName(id, nearest, fallback) {
    const hit = (nearest || []).find((a) => a.id === id);
    return (hit && hit.title) || fallback || id || "";
  }
  function conflictText(c, nearest) {
    return "'" + c.question + "' is already an example of " + articleName(c.article_id, nearest, c.article_title);
  }

  function suggestionsPage() {
    document.title = "Suggestions · Insights · Agent console";
    const curate = K.can("curate");
    const clusters = el("ul", { id: "clusters", className: "clusters" });
    const drafts = el("ul", { id: "drafts", className: "clusters" });
    const changes = el("ul", { id: "changes", className: "changes" });
    add(app, el("h1", null, "Suggestions"),
      el("p", "muted", curate ? "Questions the assistant could not answer, grouped. Accept adds them as example questions to an article; the index picks them up at the next build."
        : "Questions the assistant could not answer, grouped. Editors accept or reject them (read-only for your role)."),
      section("Failed questions", "panel", clusters), section("Drafts from agents", "panel", drafts),
      section("Recent changes", "panel", changes));

    function loadClusters() {
      return api(API + "/suggestions?status=open").then((b) => {
        const list = rows(b, "clusters");
        clusters.textContent = "";
        add(clusters, ...list.map((c) => clusterItem(c, curate, refresh)));
        if (!list.length) clusters.appendChild(el("li", "empty", "No open suggestions."));
      }, (err) => { clusters.textContent = ""; clusters.appendChild(el("li", "empty", "Could not be loaded: " + err.message)); });
    }
    let folders = null; // the article folders a draft can be published into (editors only)
    async function loadDrafts() {
      if (curate && folders === null) {
        folders = await api(API + "/folders").then((b) => rows(b, "folders"), () => []);
      }
      return api(API + "/drafts").then((b) => {
        const list = rows(b).filter((d) => !d.status || d.status === "open");
        drafts.textContent = "";
        add(drafts, ...list.map((d) => draftItem(d, curate, refresh, folders || [])));
        if (!list.length) drafts.appendChild(el("li", "empty", "No drafts waiting."));
      }, (err) => { drafts.textContent = ""; drafts.appendChild(el("li", "empty", "Could not be loaded: " + err.message)); });
    }
    function loadChanges() {
      return api(API + "/changes").then((b) => {
        const list = rows(b);
        changes.textContent = "";
        add(changes, ...list.map((c) => el("li", "change",
          el("div", "item-head", when(c.ts), el("strong", null, c.who || "someone"), el("span", null, humanise(c.action))),
          el("p", null, c.article_id || "", (c.questions || []).length ? ": " + c.questions.map((q) => "“" + q + "”").join(", ") : ""))));
        if (!list.length) changes.appendChild(el("li", "empty", "No changes yet."));
      }, (err) => { changes.textContent = ""; changes.appendChild(el("li", "empty", "Could not be loaded: " + err.message)); });
    }
    function refresh(which) {
      if (!which || which === "clusters") loadClusters();
      if (!which || which === "drafts") loadDrafts();
      loadChanges();
    }
    refresh();
  }

  function suggestionText(c) {
    const n = (c.examples || []).length;
    if (c.kind === "add_examples" && (c.article_title || c.article_id)) {
      return "Add these " + n + " question" + (n === 1 ? "" : "s") + " as examples to " + (c.article_title || c.article_id);
    }
    return "No article answers this: draft one";
  }

  function clusterItem(c, curate, refresh) {
    const key = "cluster-" + c.id;
    const nearest = Array.isArray(c.nearest) ? c.nearest : [];
    const known = Array.isArray(c.conflicts) ? c.conflicts : [];
    const title = el("h3", { id: key + "-title", className: "suggestion" }, suggestionText(c));
    const meta = el("p", "muted", c.size + (c.size === 1 ? " question" : " questions") +
      (c.updated_at ? " · updated " : ""), c.updated_at ? when(c.updated_at) : null);
    const near = el("ol", "nearest", ...nearest.map((a) => el("li", null, a.title || a.id, " ", el("span", "annot", score(a.score)))));
    const nearBox = el("div", "nearest-box", el("h4", null, "Nearest articles"), nearest.length ? near : el("p", "muted", "None close."));
    const item = el("li", { className: "cluster", "data-id": c.id, "aria-labelledby": key + "-title" }, title, meta);
    const inline = el("ul", { className: "conflicts", "aria-live": "polite" });
    const showConflicts = (list) => {
      inline.textContent = "";
      add(inline, ...list.map((x) => el("li", "conflict", conflictText(x, nearest))));
    };
    showConflicts(known);
    const draft = c.draft && typeof c.draft === "object" && c.draft.body ? el("div", "draft-preview", el("h4", null, "Draft"),
      el("p", null, el("strong", null, c.draft.title || "")), el("p", "draft-body", c.draft.body || "")) : null;

    if (!curate) {
      add(item, el("ul", "examples", ...(c.examples || []).map((q) => el("li", null, q))), inline, nearBox, draft);
      return item;
    }
    const rowsOut = (c.examples || []).map((q, i) => {
      const id = key + "-q" + i;
      const check = el("input", { type: "checkbox", id: id + "-use", checked: true, className: "example-use" });
      const text = el("input", { type: "text", id: id, value: q, className: "example-text", "aria-label": "Example question " + (i + 1) });
      check.setAttribute("aria-label", "Use example " + (i + 1));
      return el("li", "example", check, text);
    });
    const target = el("select", { id: key + "-article", className: "target" },
      ...nearest.map((a) => el("option", { value: a.id }, (a.title || a.id) + " (" + score(a.score) + ")")));
    if (c.article_id && !nearest.some((a) => a.id === c.article_id)) {
      target.insertBefore(el("option", { value: c.article_id }, c.article_title || c.article_id), target.firstChild);
    }
    if (c.article_id) target.value = c.article_id;
    else if (nearest.length) { // no article answers it: the editor picks one deliberately
      target.insertBefore(el("option", { value: "" }, "Choose an article…"), target.firstChild);
      target.value = "";
    }
    const accept = button("Accept", { className: "primary accept" });
    const reject = button("Reject", { className: "secondary reject" });
    accept.addEventListener("click", async () => {
      const questions = Array.from(item.querySelectorAll("li.example")).filter((li) => li.querySelector(".example-use").checked)
        .map((li) => li.querySelector(".example-text").value.trim()).filter(Boolean);
      if (!questions.length) { say("Choose at least one question.", "error"); return; }
      if (!target.value) { say("Choose the article these questions belong to.", "error"); target.focus(); return; }
      const body = { questions: questions };
      if (target.value) body.article_id = target.value;
      accept.disabled = true;
      try {
        const done = await api(API + "/suggestions/" + encodeURIComponent(c.id) + "/accept", body);
        flash("Added " + (done.written || questions).length + " example question(s) to " + (done.file || done.article_id || "the article") + ".");
        refresh("clusters");
      } catch (err) {
        const list = err && err.status === 409 && err.body && Array.isArray(err.body.conflicts) ? err.body.conflicts : null;
        if (list) { showConflicts(list); say((err.body && err.body.error) || "Some questions are already examples elsewhere.", "error"); }
        else K.sayError(err);
      }
      accept.disabled = false;
    });
    reject.addEventListener("click", async () => {
      if (await act(reject, () => api(API + "/suggestions/" + encodeURIComponent(c.id) + "/reject", {}))) {
        flash("Suggestion rejected.");
        refresh("clusters");
      }
    });
    const targets = target.options.length
      ? [labelled("Add to", target, "field target-field"), accept]
      : [el("p", "muted", "No article is close: write one in the workbench, or reject.")];
    add(item, el("ul", "examples editable", ...rowsOut), inline, nearBox, draft, el("div", "actions", ...targets, reject));
    return item;
  }

  function slug(text) {
    return String(text || "").toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 60);
  }

  function draftItem(d, curate, refresh, folders) {
    const key = "draft-" + d.id;
    const questions = Array.isArray(d.questions) ? d.questions : [];
    const head = el("div", "item-head", el("strong", { id: key + "-title" }, d.title || "Untitled draft"),
      d.category ? el("span", "category", d.category) : null,
      d.handoff_id && K.can("review") ? el("a", { href: "/console/review/" + encodeURIComponent(d.handoff_id) }, "from handoff #" + d.handoff_id)
        : d.handoff_id ? el("span", "muted", "from handoff #" + d.handoff_id) : null);
    const nearest = Array.isArray(d.nearest) ? d.nearest : [];
    const near = nearest.length ? el("p", "muted", "Nearest articles: ",
      nearest.map((a) => (a.title || a.id) + " (" + score(a.score) + ")").join(", ")) : null;
    const item = el("li", { className: "cluster draft", "data-id": d.id, "aria-labelledby": key + "-title" }, head);
    if (!curate) {
      add(item, el("p", "draft-body", d.body || ""), el("ul", "examples", ...questions.map((q) => el("li", null, q))), near);
      return item;
    }
    const title = el("input", { id: key + "-name", value: d.title || "" });
    const articleId = el("input", { id: key + "-id", value: slug(d.title), pattern: "[a-z0-9_]+" });
    const folder = el("select", { id: key + "-folder" },
      ...folders.map((f) => el("option", { value: f.folder }, f.folder + (f.category ? " (" + f.category + ")" : ""))));
    const body = el("textarea", { id: key + "-body", rows: 6, value: d.body || "" });
    const qs = el("textarea", { id: key + "-questions", rows: 4, value: questions.join("\n") });
    const publish = button("Publish", { className: "primary publish" });
    const reject = button("Reject", { className: "secondary reject" });
    title.addEventListener("input", () => { if (!articleId.dataset.edited) articleId.value = slug(title.value); });
    articleId.addEventListener("input", () => { articleId.dataset.edited = "1"; });
    publish.addEventListener("click", async () => {
      const payload = { id: articleId.value.trim(), title: title.value.trim(), body: body.value.trim(),
        questions: qs.value.split("\n").map((q) => q.trim()).filter(Boolean), folder: folder.value };
      if (!payload.id || !payload.title || !payload.body || !payload.folder) {
        say("A draft needs an id, a title, a body and a folder.", "error");
        return;
      }
      const done = await act(publish, () => api(API + "/drafts/" + encodeURIComponent(d.id) + "/publish", payload));
      if (done) { flash("Published " + (done.file || done.article_id || payload.id) + "."); refresh("drafts"); }
    });
    reject.addEventListener("click", async () => {
      if (await act(reject, () => api(API + "/drafts/" + encodeURIComponent(d.id) + "/reject", {}))) {
        flash("Draft rejected.");
        refresh("drafts");
      }
    });
    add(item, el("div", "draft-fields", labelled("Title", title), labelled("Article id", articleId), labelled("Folder", folder)),
      labelled("Body (Markdown)", body), labelled("Example questions (one a line)", qs), near,
      el("div", "actions", publish, reject));
    return item;
  }

  K.register("insights", dashboardPage);
  K.register("insights_conversations", conversationsPage);
  K.register("insights_conversation", conversationPage);
  K.register("insights_suggestions", suggestionsPage);
})();
