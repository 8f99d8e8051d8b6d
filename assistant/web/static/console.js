/*
 * Kestrel agent console. console.html is one shell for every console page; this script builds the
 * page named by <body data-page> inside #app. The CSP forbids inline code and styles, and every
 * piece of data reaches the page as a text node or an element property, never as HTML.
 */
(function () {
  "use strict";

  const data = document.body.dataset;
  const ctx = {
    page: data.page || "", csrf: data.csrf || "", user: data.user || "", role: data.role || "", id: data.handoffId || ""
  };
  const app = document.getElementById("app");
  const statusBox = document.getElementById("status");
  const ACTIVE = ["queued", "claimed"];
  const MAX_REPLY = 2000;
  let me = { permissions: [], outcomes: [] };

  // ---------------------------------------------------------------- DOM helpers
  // el("li", {className: "x", "data-id": 3}, "text", child…): properties are set on the element,
  // aria-/data-/role as attributes; string children become text nodes. A string props is a class.
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    const options = typeof props === "string" ? { className: props } : props || {};
    Object.keys(options).forEach((key) => {
      if (/^(aria-|data-|role$)/.test(key)) node.setAttribute(key, options[key]);
      else node[key] = options[key];
    });
    return add(node, ...children);
  }
  function add(parent, ...children) {
    children.forEach((child) => {
      if (child === null || child === undefined || child === false) return;
      parent.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
    });
    return parent;
  }
  function button(text, props) { return el("button", Object.assign({ type: "button" }, props), text); }
  function labelled(text, control, cls) {
    return el("div", cls || "field", el("label", { htmlFor: control.id }, text), control);
  }
  function form(id, onSubmit, ...children) {
    const node = el("form", { id: id }, ...children);
    node.addEventListener("submit", (event) => { event.preventDefault(); onSubmit(); });
    return node;
  }
  function section(title, cls, ...children) {
    const id = "h-" + title.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
    return el("section", { className: cls, "aria-labelledby": id }, el("h2", { id: id }, title), ...children);
  }
  function chips(values, cls) {
    return el("ul", "chips " + (cls || ""), ...values.map((v) => el("li", "chip", String(v))));
  }

  // ---------------------------------------------------------------- formatting
  function humanise(value) { return String(value || "").replace(/_/g, " "); }
  function truncate(text, max) {
    const s = String(text || "").trim();
    if (s.length <= max) return s;
    const cut = s.slice(0, max);
    const space = cut.lastIndexOf(" ");
    return (space > max * 0.8 ? cut.slice(0, space) : cut).replace(/[\s.,;:]+$/, "") + "…";
  }
  function timeNode(date, options) {
    return el("time", { dateTime: date.toISOString() }, date.toLocaleString([], options));
  }
  function when(iso) {
    const date = iso ? new Date(iso) : null;
    if (!date || isNaN(date.getTime())) return null;
    return timeNode(date, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  }
  function clock(seconds) {
    if (typeof seconds !== "number") return null;
    return timeNode(new Date(seconds * 1000), { hour: "2-digit", minute: "2-digit" });
  }
  function waited(seconds) {
    const minutes = Math.floor((Number(seconds) || 0) / 60);
    if (minutes < 1) return "under 1 min";
    return minutes < 60 ? minutes + " min" : Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
  }
  function score(value) { return typeof value === "number" ? value.toFixed(2) : ""; }
  function slotValue(value) {
    if (value === null || value === undefined) return "—";
    return typeof value === "object" ? JSON.stringify(value) : String(value);
  }
  function splitTags(text) {
    return text.split(",").map((t) => t.trim()).filter((t, i, all) => t && all.indexOf(t) === i);
  }
  function agentName(h) { return h.agent_name || h.agent || ""; }
  function can(permission) { return me.permissions.includes(permission); }
  function handoffUrl(id, tail) { return "/api/handoffs/" + encodeURIComponent(id) + (tail || ""); }

  // ---------------------------------------------------------------- status line and API
  // #status has one owner at a time, so a poller clears its own error once it works again
  // without wiping a message somebody else put there.
  let statusOwner = null;
  function say(text, kind, owner) {
    statusBox.textContent = text || "";
    statusBox.className = kind ? "is-" + kind : "";
    statusOwner = owner || null;
  }
  function sayError(err, owner) { say((err && err.message) || "Something went wrong.", "error", owner); }
  function clearStatus(owner) { if (statusOwner === owner) say(""); }
  function flash(text) {
    const token = {};
    say(text, "ok", token);
    setTimeout(() => clearStatus(token), 5000);
  }
  function failure(message, status) { return Object.assign(new Error(message), { status: status }); }
  function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

  // GET when payload is undefined, else a JSON POST with the CSRF token. Resolves to the JSON
  // body; rejects with an Error whose message is fit for #status and whose status is 0 offline.
  async function api(path, payload) {
    const init = { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } };
    if (payload !== undefined) {
      Object.assign(init.headers, { "Content-Type": "application/json", "X-CSRF-Token": ctx.csrf });
      Object.assign(init, { method: "POST", body: JSON.stringify(payload) });
    }
    const offline = () => { throw failure("Cannot reach the server. Check your connection.", 0); };
    const response = await fetch(path, init).catch(offline);
    if (response.status === 401) {
      window.location.assign("/console/login");
      return new Promise(() => {}); // the page is going away
    }
    const body = await response.json().catch(() => null);
    if (response.ok) return body || {};
    if (response.status === 403) {
      const csrf = body && /CSRF/.test(body.error || "");
      throw failure(csrf ? "Your session changed: reload the page." : "Your role cannot do this", 403);
    }
    const err = failure((body && body.error) || "The server answered " + response.status + ".", response.status);
    throw Object.assign(err, { body: body });
  }

  // Run a user action with its control disabled while in flight; errors go to #status, result or null.
  async function act(control, task) {
    control.disabled = true;
    const result = await task().catch((err) => { sayError(err); return null; });
    control.disabled = false;
    return result;
  }

  // Keep trying while the server is unreachable or failing; give up on client errors (404, 403…).
  async function retrying(task, owner) {
    for (;;) {
      try {
        const result = await task();
        clearStatus(owner);
        return result;
      } catch (err) {
        sayError(err, owner);
        if (!(err.status === 0 || err.status >= 500)) throw err;
        await sleep(3000);
      }
    }
  }

  // Calls task every `interval` ms, never two at once; five times slower while the tab is hidden
  // (so an agent with the console in a background tab stays online) and at once when it is
  // visible again. Errors are shown and the polling goes on.
  function poller(task, interval, owner) {
    let timer = null, busy = false, again = false, on = false;
    const visible = () => document.visibilityState !== "hidden";
    async function run() {
      clearTimeout(timer);
      timer = null;
      if (busy) { again = true; return; }
      busy = true;
      try {
        await task();
        clearStatus(owner);
      } catch (err) {
        say(err.message + (err.status === 0 || err.status >= 500 ? " Retrying…" : ""), "error", owner);
      }
      busy = false;
      if (again) { again = false; run(); } else if (on) timer = setTimeout(run, visible() ? interval : interval * 5);
    }
    document.addEventListener("visibilitychange", () => {
      if (!on) return;
      if (visible() && !busy) run();
    });
    return {
      start() { if (!on) { on = true; run(); } },
      stop() { on = false; clearTimeout(timer); timer = null; },
      now: run
    };
  }

  // Bring a list up to date, keeping items that render identically so focus and hover survive.
  function sync(list, items, render, emptyText) {
    const old = new Map(Array.from(list.children).map((li) => [li.dataset.id, li]));
    const focused = list.contains(document.activeElement) ? document.activeElement.closest("li[data-id]") : null;
    const fresh = items.map((item) => {
      const node = render(item);
      const prev = old.get(node.dataset.id);
      return prev && prev.isEqualNode(node) ? prev : node;
    });
    if (!fresh.length) fresh.push(el("li", "empty", emptyText));
    fresh.forEach((node, i) => { if (list.children[i] !== node) list.insertBefore(node, list.children[i] || null); });
    while (list.children.length > fresh.length) list.removeChild(list.lastElementChild);
    if (focused && !list.contains(focused)) {
      const twin = fresh.find((node) => node.dataset.id === focused.dataset.id);
      const target = twin && twin.querySelector("button, a");
      if (target) target.focus();
    }
  }

  // ---------------------------------------------------------------- queue page
  function queuePage() {
    document.title = "Queue · Agent console";
    const online = el("p", "online");
    const queue = el("ul", { id: "queue", className: "queue", "aria-label": "Waiting customers" });
    const tickets = el("ul", { id: "tickets", className: "tickets" });
    add(app, el("h1", null, "Queue"), online, queue, section("Messages left (tickets)", "panel", tickets));

    const poll = poller(async () => {
      const found = await api("/api/queue");
      const count = Number(found.agents_online) || 0;
      online.textContent = count + (count === 1 ? " agent online" : " agents online");
      sync(queue, found.handoffs || [], queueItem, "No one is waiting.");
      sync(tickets, found.tickets || [], ticketItem, "No messages left.");
    }, 3000, "queue");

    queue.addEventListener("click", async (event) => {
      const control = event.target.closest("button.claim");
      if (!control) return;
      const id = control.closest("li").dataset.id;
      if (await act(control, () => api(handoffUrl(id, "/claim"), {}))) {
        window.location.assign("/console/handoffs/" + encodeURIComponent(id));
      } else {
        poll.now();
      }
    });
    tickets.addEventListener("click", async (event) => {
      const control = event.target.closest("button.ticket-done");
      if (!control) return;
      const id = control.closest("li").dataset.id;
      const done = await act(control, () => api("/api/tickets/" + encodeURIComponent(id) + "/close", {}));
      if (done) flash("Marked as done.");
      poll.now();
    });
    poll.start();
  }

  function fact(label, value) { return el("li", null, el("span", "label", label + " "), value); }

  function queueItem(h) {
    const reasonId = "reason-" + h.id;
    const priority = h.priority === null || h.priority === undefined ? "–" : String(h.priority);
    const state = h.status === "claimed" ? "Claimed by " + (agentName(h) || "an agent") : "Waiting";
    let action = null;
    if (h.status === "queued") {
      action = button("Claim", { className: "claim primary", "aria-describedby": reasonId });
    } else if (h.agent && h.agent === ctx.user) {
      const href = "/console/handoffs/" + encodeURIComponent(h.id);
      action = el("a", { className: "open button primary", href: href, "aria-describedby": reasonId }, "Open");
    }
    return el("li", { className: "queue-item", "data-id": h.id },
      el("div", "item-head",
        el("span", "badge prio-" + priority, el("span", "visually-hidden", "Priority "), priority),
        el("strong", { id: reasonId, className: "reason" }, humanise(h.reason) || "Handoff"),
        el("span", "state state-" + h.status, state)),
      el("ul", "facts",
        fact("Stage", humanise(h.stage) || "—"),
        fact("Customer", h.customer_id || "guest"),
        fact("Waiting", waited(h.waiting_seconds)),
        h.position ? fact("Position", "#" + h.position) : null),
      h.summary ? el("p", "summary", truncate(h.summary, 200)) : null,
      action ? el("div", "actions", action) : null);
  }

  function ticketItem(t) {
    const contactId = "ticket-" + t.id;
    return el("li", { className: "ticket", "data-id": t.id },
      el("div", "item-head",
        el("strong", { id: contactId, className: "contact" }, t.contact || "No contact given"), when(t.created_at)),
      el("p", "message", t.message || ""),
      t.customer_id ? el("ul", "facts", fact("Customer", t.customer_id)) : null,
      el("div", "actions", button("Done", { className: "ticket-done secondary", "aria-describedby": contactId })));
  }

  // ---------------------------------------------------------------- transcript and context (shared)
  function annotation(turn, role, detailed) {
    if (role === "user" && turn.intent) {
      const low = typeof turn.confidence === "number" && turn.confidence < 0.5;
      return el("span", low ? "annot low" : "annot", (turn.intent + " " + score(turn.confidence)).trim());
    }
    if (role !== "bot") return null;
    const article = turn.article_id ? "article " + turn.article_id : "";
    const text = [article, score(turn.score), detailed ? turn.decision : ""].filter(Boolean).join(" · ");
    return text ? el("span", "annot", text) : null;
  }

  function turnItem(turn, detailed) {
    const role = turn.role === "user" || turn.role === "agent" ? turn.role : "bot";
    const agent = "Agent" + (turn.agent ? " · " + turn.agent : "");
    const who = { user: "Customer", agent: agent, bot: "Assistant" }[role];
    const buttons = Array.isArray(turn.buttons) && turn.buttons.length ? chips(turn.buttons, "turn-buttons") : null;
    return el("li", "turn turn-" + role,
      el("div", "turn-meta", el("span", "who", who), clock(turn.timestamp), annotation(turn, role, detailed)),
      el("p", "turn-text", turn.text || ""), buttons);
  }

  // An aria-live list of turns. It appends when the conversation only grew, so screen readers
  // hear just the new turns, and sticks to the bottom unless the agent scrolled up to read.
  function transcriptView(labelId, detailed) {
    const list = el("ol", { id: "transcript", className: "transcript", tabIndex: 0,
      "aria-live": "polite", "aria-labelledby": labelId });
    let keys = null;
    function show(turns) {
      const next = turns.map((t) => [t.role, t.text, t.timestamp].join("\u0000"));
      const stick = keys === null || list.scrollHeight - list.scrollTop - list.clientHeight < 48;
      const grew = keys !== null && keys.length > 0 && next.length > keys.length && keys.every((k, i) => k === next[i]);
      if (!grew) list.textContent = "";
      add(list, ...turns.slice(grew ? keys.length : 0).map((t) => turnItem(t, detailed)));
      if (!turns.length) list.appendChild(el("li", "empty", "No messages yet."));
      keys = next;
      if (stick) list.scrollTop = list.scrollHeight;
    }
    return { node: list, show: show, count: () => (keys ? keys.length : -1) };
  }

  function statusText(h) {
    if (h.status === "claimed") return "claimed" + (agentName(h) ? " by " + agentName(h) : "");
    return h.status === "resumed" ? "handed back to the assistant" : h.status || "";
  }

  function contextFacts(h, slots) {
    const customer = [h.customer_id || slots.customer_id || "guest", slots.segment].filter(Boolean).join(" · ");
    const rows = [["Reason", humanise(h.reason)], ["Stage", humanise(h.stage)], ["Priority", h.priority],
      ["Customer", customer], ["Status", statusText(h)], ["Agent", agentName(h)],
      ["Created", when(h.created_at)], ["Claimed", when(h.claimed_at)], ["Closed", when(h.closed_at)],
      ["Outcome", humanise(h.outcome)], ["Turns", h.turns]];
    const shown = rows.filter((row) => row[1] !== null && row[1] !== undefined && row[1] !== "");
    const pair = ([label, value]) => el("div", null, el("dt", null, label), el("dd", null, value));
    return el("dl", "facts-list", ...shown.map(pair));
  }

  function slotsTable(slots) {
    const names = Object.keys(slots);
    const current = (name) => (name === "active_form" || name === "requested_slot" ? "current" : "");
    const rows = names.map((name) => el("tr", { className: current(name), "data-slot": name },
      el("th", { scope: "row" }, name), el("td", null, slotValue(slots[name]))));
    return el("table", { id: "slots", className: "slots" },
      el("caption", null, names.length ? "Slots" : "Slots: none filled"), el("tbody", null, ...rows));
  }

  function pathList(path) {
    if (!Array.isArray(path) || !path.length) return null;
    const label = (step) => (step && typeof step === "object" ? step.label || JSON.stringify(step) : step);
    const steps = path.map((step) => el("li", null, label(step)));
    return el("div", "path", el("h3", null, "Guided path"), el("ol", { id: "path" }, ...steps));
  }

  function contextBox() {
    return el("aside", { id: "context", className: "context panel", "aria-labelledby": "context-title" },
      el("h2", { id: "context-title" }, "Context"));
  }

  function renderContext(box, h) {
    const slots = h.slots && typeof h.slots === "object" ? h.slots : {};
    box.textContent = "";
    add(box, el("h2", { id: "context-title" }, "Context"), contextFacts(h, slots), el("h3", null, "Summary"),
      el("p", { id: "summary", className: h.summary ? "summary" : "summary muted" }, h.summary || "No summary."),
      slotsTable(slots), pathList(slots.tree_path));
  }

  function renderHandling(box, h) {
    renderContext(box, h);
    box.appendChild(accountPanel(h));
  }

  // The signed-in customer's account, read-only, for the person taking over (agents only).
  function accountPanel(h) {
    const box = el("section", { id: "account", className: "account", "aria-labelledby": "account-title" },
      el("h3", { id: "account-title" }, "Customer's account (read-only)"));
    if (!h.customer_id) {
      box.appendChild(el("p", "muted", "Not signed in: no account facts."));
      return box;
    }
    const loading = el("p", "muted", "Loading…");
    box.appendChild(loading);
    api(handoffUrl(h.id, "/account")).then((data) => {
      loading.remove();
      const a = data.account || {};
      const status = (item) => item.status + (item.reason ? " (" + humanise(item.reason) + ")" : "");
      const list = (title, items, line) => (items && items.length
        ? el("div", null, el("h4", null, title), el("ul", null, ...items.map((i) => el("li", null, line(i)))))
        : null);
      add(box,
        el("dl", "facts-list",
          el("div", null, el("dt", null, "Balance"), el("dd", { id: "account-balance" }, a.balance || "–")),
          el("div", null, el("dt", null, "Plan"), el("dd", null, a.plan || "–"))),
        list("Cards", a.cards, (c) => c.kind + " ending " + c.last4 + ": " + c.status +
          (c.expected_by ? ", expected by " + c.expected_by : "")),
        list("Card payments", a.payments, (p) => p.merchant + " " + p.amount + ", " + p.when + ": " + status(p)),
        list("Transfers", a.transfers, (t) => t.amount + " to " + t.payee + ", " + t.when + ": " + status(t)),
        list("Top-ups", a.topups, (u) => u.amount + " from " + u.source + ", " + u.when + ": " + status(u)));
    }, (err) => { loading.textContent = err && err.status === 403 ? "Your role cannot see account facts."
      : "The account could not be read."; });
    return box;
  }

  function loadFailed(box) { box.appendChild(el("p", "muted", "This handoff could not be loaded.")); }

  function pageHead(backText, backHref, title) {
    return el("div", "page-head", el("a", { className: "back", href: backHref }, backText), el("h1", null, title));
  }

  // ---------------------------------------------------------------- handoff page
  function handoffPage() {
    const id = ctx.id;
    document.title = "Handoff " + id + " · Agent console";
    const context = contextBox();
    const conversation = section("Conversation", "conversation panel");
    const transcript = transcriptView(conversation.firstChild.id, false);
    let current = null;
    const live = poller(async () => {
      const now = await api(handoffUrl(id, "/live"));
      const turns = now.turns || [];
      if (turns.length !== transcript.count()) transcript.show(turns);
      if (now.status && current && now.status !== current.status) update(await api(handoffUrl(id)));
    }, 2000, "live");
    const controls = handoffControls(id, update, () => live.now());

    function update(h) {
      current = h;
      renderHandling(context, h);
      controls.apply(h);
      if (ACTIVE.includes(h.status)) live.start(); else live.stop();
    }

    add(conversation, transcript.node, controls.node);
    add(app, pageHead("← Queue", "/console", "Handoff #" + id),
      el("div", "columns", conversation, el("div", "side", context, kbPanel(controls.insert))));

    retrying(() => api(handoffUrl(id)), "load").then((h) => {
      transcript.show(h.transcript || []);
      controls.prefill(h);
      update(h);
      if (!ACTIVE.includes(h.status)) live.now(); // once: the whole conversation as it ended
    }, () => loadFailed(context));
  }

  function handoffControls(id, onHandoff, onSent) {
    const claim = button("Claim", { id: "claim", className: "primary" });
    const reply = el("textarea", { id: "reply", maxLength: MAX_REPLY, rows: 4, "aria-describedby": "reply-hint" });
    const send = button("Send", { id: "send", className: "primary", type: "submit" });
    const replyForm = form("reply-form", sendReply, el("label", { htmlFor: "reply" }, "Reply"), reply,
      el("div", "form-row", el("span", { id: "reply-hint", className: "hint" }, "Ctrl+Enter (⌘+Enter) sends"), send));

    const handBack = button("Hand back to the assistant", { id: "hand-back", className: "secondary" });
    const outcome = el("select", { id: "outcome" }, ...me.outcomes.map((o) => el("option", { value: o }, humanise(o))));
    const tags = el("input", { id: "tags", placeholder: "tags, comma separated", autocomplete: "off" });
    const close = button("Close", { id: "close", className: "primary", type: "submit" });
    const closeForm = form("close-form", closeHandoff, labelled("Outcome", outcome), labelled("Tags", tags), close);
    const notice = el("p", "notice");
    const node = el("div", "controls", notice, claim, replyForm, el("div", "actions", handBack, closeForm));

    // POST an action on this handoff; on success pass the new state up and confirm in #status.
    async function post(control, tail, body, message) {
      const h = await act(control, () => api(handoffUrl(id, tail), body));
      if (h) onHandoff(h);
      if (h && message) flash(typeof message === "function" ? message(h) : message);
      return h;
    }
    async function sendReply() {
      const text = reply.value.trim();
      if (!text) { say("Write a reply first.", "error"); reply.focus(); return; }
      if (text.length > MAX_REPLY) { say("A reply can be at most " + MAX_REPLY + " characters.", "error"); return; }
      reply.readOnly = true;
      const h = await post(send, "/messages", { text: text });
      reply.readOnly = false;
      if (!h) return;
      reply.value = "";
      onSent();
      reply.focus();
    }
    function closeHandoff() {
      const body = { outcome: outcome.value, tags: splitTags(tags.value) };
      post(close, "/close", body, (h) => "Closed as " + humanise(h.outcome || body.outcome) + ".");
    }
    reply.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); sendReply(); }
    });
    claim.addEventListener("click", async () => {
      if (await post(claim, "/claim", {}, "You have this conversation.")) reply.focus();
    });
    handBack.addEventListener("click", () => post(handBack, "/resume", {}, "Handed back to the assistant."));

    function noticeFor(h) {
      if (h.status === "queued") return "This customer is waiting. Claim the conversation to reply.";
      const mine = h.agent === ctx.user;
      if (h.status === "claimed" && !mine) return "Claimed by " + (agentName(h) || "another agent") + ".";
      if (h.status === "resumed") return "Handed back to the assistant. Replies and actions are closed.";
      const outcome = h.outcome ? " as " + humanise(h.outcome) : "";
      if (h.status === "closed") return "Closed" + outcome + ". Replies and actions are closed.";
      return "";
    }
    return {
      node: node,
      apply(h) {
        const active = ACTIVE.includes(h.status);
        claim.hidden = h.status !== "queued";
        replyForm.hidden = h.status === "queued";
        [reply, send, handBack, outcome, tags, close].forEach((control) => { control.disabled = !active; });
        notice.textContent = noticeFor(h);
        notice.className = "notice notice-" + h.status;
      },
      prefill(h) {
        tags.value = (h.tags || []).join(", ");
        if (me.outcomes.includes(h.outcome)) outcome.value = h.outcome;
      },
      insert(article) {
        const snippet = (article.title || "") + "\n\n" + truncate(article.text, 600);
        const before = reply.value.replace(/\s+$/, "");
        reply.value = before ? before + "\n\n" + snippet : snippet;
        reply.focus();
        reply.setSelectionRange(reply.value.length, reply.value.length);
        reply.scrollTop = reply.scrollHeight;
      }
    };
  }

  function kbPanel(insert) {
    const query = el("input", { id: "kb-query", type: "search", autocomplete: "off" });
    const search = button("Search", { id: "kb-search", className: "secondary", type: "submit" });
    const results = el("ul", { id: "kb-results", className: "kb-results", "aria-label": "Articles" });
    const kbForm = form("kb-form", async () => {
      const q = query.value.trim();
      if (!q) { query.focus(); return; }
      const found = await act(search, () => api("/api/kb/search?q=" + encodeURIComponent(q)));
      if (!found) return;
      const articles = found.articles || [];
      results.textContent = "";
      add(results, ...articles.map((a, i) => articleItem(a, i, insert)));
      if (!articles.length) results.appendChild(el("li", "empty", "No articles found."));
    }, el("div", "field inline", el("label", { htmlFor: "kb-query" }, "Search articles"), query, search));
    return section("Knowledge base", "kb panel", kbForm, results);
  }

  function articleItem(article, index, insert) {
    const titleId = "kb-title-" + index;
    const use = button("Insert", { className: "insert secondary", "aria-describedby": titleId });
    use.addEventListener("click", () => insert(article));
    return el("li", "article",
      el("div", "item-head", el("strong", { id: titleId, className: "title" }, article.title || article.id),
        article.category ? el("span", "category", article.category) : null),
      el("p", "excerpt", truncate(article.text, 220)), use);
  }

  // ---------------------------------------------------------------- review list
  const FILTERS = [["since", "Since", "date"], ["until", "Until", "date"], ["reason", "Reason"], ["stage", "Stage"],
    ["outcome", "Outcome", "select"], ["agent", "Agent"], ["tag", "Tag"]];
  const COLUMNS = ["Created", "Reason", "Stage", "Status", "Outcome", "Agent", "Tags", "Turns", "Summary"];

  function filterControl(name, type, value) {
    const props = { id: "filter-" + name, name: name };
    if (type !== "select") return el("input", Object.assign(props, { type: type || "text", value: value || "" }));
    const values = [""].concat(me.outcomes, ["handed_back", "ticket"]).filter((v, i, all) => all.indexOf(v) === i);
    const select = el("select", props, ...values.map((v) => el("option", { value: v }, v ? humanise(v) : "Any")));
    select.value = values.includes(value) ? value : "";
    return select;
  }

  function exportLink(kind) {
    const props = { id: "export-" + kind, className: "button secondary", download: "", "data-kind": kind };
    return el("a", props, "Export " + kind.toUpperCase());
  }

  function reviewPage() {
    document.title = "Handoff review · Agent console";
    const params = new URLSearchParams(window.location.search);
    const apply = button("Apply", { className: "primary", type: "submit" });
    const filters = form("filters", () => {
      const qs = query();
      window.history.replaceState(null, "", window.location.pathname + (qs ? "?" + qs : ""));
      load();
    }, ...FILTERS.map(([name, label, type]) => labelled(label, filterControl(name, type, params.get(name)))),
    el("div", "field field-submit", apply));
    filters.setAttribute("aria-label", "Filters");
    const exportLinks = can("export") ? [exportLink("csv"), exportLink("json")] : [];
    const count = el("p", "count");
    const rows = el("tbody");
    const head = el("tr", null, ...COLUMNS.map((c) => el("th", { scope: "col" }, c)));
    const bar = el("div", "results-bar", count, el("p", "exports", ...exportLinks));
    add(app, el("h1", null, "Handoff review"), filters, bar,
      el("div", "table-wrap", el("table", { id: "results", className: "results" },
        el("caption", "visually-hidden", "Handoffs"), el("thead", null, head), rows)));

    function query() {
      const out = new URLSearchParams();
      FILTERS.forEach(([name]) => { const v = filters.elements[name].value.trim(); if (v) out.set(name, v); });
      return out.toString();
    }
    async function load() {
      const q = query();
      const qs = q ? "?" + q : "";
      exportLinks.forEach((a) => { a.href = "/api/handoffs/export." + a.dataset.kind + qs; });
      const found = await act(apply, () => api("/api/handoffs" + qs));
      if (!found) return;
      const list = found.handoffs || [];
      rows.textContent = "";
      add(rows, ...list.map(resultRow));
      const none = el("td", { className: "empty", colSpan: COLUMNS.length }, "No handoffs match these filters.");
      if (!list.length) rows.appendChild(el("tr", null, none));
      count.textContent = list.length === 1 ? "1 handoff" : list.length + " handoffs";
      if (found.limit && list.length >= found.limit) {
        count.textContent = "The newest " + found.limit + " handoffs: narrow the dates, or export them all";
      }
    }
    load();
  }

  function resultRow(h) {
    const open = el("a", { href: "/console/review/" + encodeURIComponent(h.id) }, when(h.created_at) || "#" + h.id);
    const cells = [open, humanise(h.reason), humanise(h.stage), statusText(h), humanise(h.outcome) || "—",
      agentName(h) || "—", (h.tags || []).join(", "), h.turns, truncate(h.summary, 140)];
    return el("tr", { "data-id": h.id }, ...cells.map((c) => el("td", null, c)));
  }

  // ---------------------------------------------------------------- review item
  function reviewItemPage() {
    const id = ctx.id;
    document.title = "Handoff " + id + " review · Agent console";
    const context = contextBox();
    const conversation = section("Transcript", "conversation panel");
    const transcript = transcriptView(conversation.firstChild.id, true);
    const source = el("p", "muted", "As stored when the customer was handed off.");
    const showLive = button("Show the conversation as it is now", { id: "show-live", className: "secondary" });
    showLive.addEventListener("click", async () => {
      const now = await act(showLive, () => api(handoffUrl(id, "/live")));
      if (now) { transcript.show(now.turns || []); source.textContent = "The conversation as it is now."; }
    });
    add(conversation, source, showLive, transcript.node);

    const notes = el("ul", { id: "notes", className: "notes" });
    const tagList = el("div", "tag-list");
    const forms = can("annotate") ? annotationForms(id, update) : { note: null, tags: null, setTags() {} };
    const tagsPanel = section("Tags", "panel", tagList, forms.tags);
    const notesPanel = section("Notes", "panel", notes, forms.note);

    function update(h) {
      renderContext(context, h);
      renderNotes(notes, h.notes || []);
      tagList.textContent = "";
      tagList.appendChild((h.tags || []).length ? chips(h.tags) : el("p", "muted", "No tags."));
      forms.setTags(h.tags || []);
    }
    add(app, pageHead("← All handoffs", "/console/review", "Handoff #" + id),
      el("div", "columns", conversation, el("div", "side", context, tagsPanel, notesPanel)));

    retrying(() => api(handoffUrl(id)), "load").then((h) => {
      transcript.show(h.transcript || []);
      update(h);
    }, () => loadFailed(context));
  }

  function renderNotes(list, notes) {
    list.textContent = "";
    add(list, ...notes.map((n) => el("li", "note",
      el("div", "note-meta", el("strong", null, n.author || "Someone"), when(n.created_at)),
      el("p", "note-text", n.text || ""))));
    if (!notes.length) list.appendChild(el("li", "empty", "No notes yet."));
  }

  function annotationForms(id, onHandoff) {
    const text = el("textarea", { id: "note-text", rows: 3 });
    const addNote = button("Add note", { id: "add-note", className: "primary", type: "submit" });
    const note = form("note-form", async () => {
      if (!text.value.trim()) { text.focus(); return; }
      const h = await act(addNote, () => api(handoffUrl(id, "/notes"), { text: text.value.trim() }));
      if (h) { text.value = ""; onHandoff(h); flash("Note added."); }
    }, labelled("Add a note", text), addNote);

    const input = el("input", { id: "tags-input", autocomplete: "off" });
    const save = button("Save tags", { id: "save-tags", className: "secondary", type: "submit" });
    const tags = form("tags-form", async () => {
      const h = await act(save, () => api(handoffUrl(id, "/tags"), { tags: splitTags(input.value) }));
      if (h) { onHandoff(h); flash("Tags saved."); }
    }, labelled("Tags", input), save);
    return { note: note, tags: tags, setTags(values) { input.value = values.join(", "); } };
  }

  // ---------------------------------------------------------------- boot
  function setUpNav() {
    const links = document.getElementById("nav-links");
    if (links && (ctx.role === "lead" || ctx.role === "editor")) {
      links.appendChild(el("li", null, el("a", { id: "nav-review", href: "/console/review" }, "Review")));
    }
    const current = document.getElementById(ctx.page.indexOf("review") === 0 ? "nav-review" : "nav-queue");
    if (current && ctx.page.indexOf("insights") !== 0 && ctx.page !== "workbench") current.setAttribute("aria-current", "page");
  }

  // Insights and Suggestions (static/insights.js), for those holding `insights`, once /api/me is in.
  function insightsNav() {
    const links = document.getElementById("nav-links");
    if (!links || !can("insights")) return;
    const current = ctx.page === "insights_suggestions" ? "nav-suggestions" : "nav-insights";
    [["nav-insights", "/console/insights", "Insights"], ["nav-suggestions", "/console/insights/suggestions", "Suggestions"]]
      .forEach(([id, href, text]) => {
        const link = el("a", { id: id, href: href }, text);
        if (ctx.page.indexOf("insights") === 0 && id === current) link.setAttribute("aria-current", "page");
        links.appendChild(el("li", null, link));
      });
  }

  const PAGES = { queue: queuePage, handoff: handoffPage, review: reviewPage, review_item: reviewItemPage };

  // For the pages in other scripts (insights.js): the helpers, and register(name, render) to add a
  // page; boot waits for the document, so scripts after this one can register theirs.
  window.KestrelConsole = Object.freeze({
    ctx: ctx, el: el, add: add, button: button, labelled: labelled, form: form, section: section, chips: chips,
    humanise: humanise, truncate: truncate, when: when, score: score, pageHead: pageHead,
    say: say, sayError: sayError, flash: flash, api: api, act: act, retrying: retrying, can: can,
    register(name, render) { PAGES[name] = render; }
  });

  async function boot() {
    setUpNav();
    const page = PAGES[ctx.page];
    if (!page || !app) { say("This console page is unknown.", "error"); return; }
    const profile = await retrying(() => api("/api/me"), "me");
    const list = (value) => (Array.isArray(value) ? value : []);
    me = { permissions: list(profile.permissions), outcomes: list(profile.outcomes) };
    insightsNav();
    // links in console.html marked data-permission: shown to those holding it
    document.querySelectorAll("#nav-links [data-permission]").forEach((li) => { li.hidden = !can(li.dataset.permission); });
    page();
  }

  const start = () => boot().catch(() => {}); // failures are already shown in #status
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
