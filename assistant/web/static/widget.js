/*
 * Kestrel chat widget. A host page needs one tag:
 *
 *   <script src="https://assistant.example/static/widget.js"
 *           data-socket-url="https://rasa.example"     (Rasa's socket.io channel)
 *           data-title="Help" data-color="#0b5d4b" data-greeting="Hi!"
 *           data-strings='{"send": "Envoyer"}'          (any of STRINGS below)
 *           data-customer-token="v1.…"                  (signed by the host for a signed-in customer)
 *           data-customer-name="Ava Patel"              (shown in the status line: "signed in as")
 *           data-max-chars="1000"                       (the longest message the input takes)
 *           data-context='{"page": "travel", "product": "plus"}'></script>  (page: the path if not given)
 *
 * data-mode="inline" renders the panel in the page instead of a launcher and a floating panel:
 * inside the element whose id is data-target, else where the script tag is. It fills that
 * element (give it a height); data-heading="1" makes the title the page's h1 (default h2).
 *
 * Everything lives in a shadow root, so the host page's styles never reach it and its styles never
 * leak out. All text is set with textContent; links are built as elements, never as HTML.
 */
(function () {
  "use strict";
  if (window.KestrelWidget) return;

  var STRINGS = {
    launcher: "Chat with us",
    close: "Close chat",
    placeholder: "Type your message…",
    send: "Send",
    human: "Talk to a person",
    typing: "The assistant is typing",
    online: "Online",
    signedIn: "Online · signed in as {name}",
    tooLong: "That message is too long (the limit is {n} characters).",
    connecting: "Connecting…",
    offline: "Offline: your messages will be sent when you're back",
    you: "You",
    bot: "Assistant",
    agent: "Agent",
    helpful: "Was this helpful?",
    yes: "Helpful",       // the thumbs' accessible names
    no: "Not helpful",
    thanks: "Thanks for your feedback",
    from: "From",
    queued: "You're in the queue for a person",
    position: "You're number {n} in the queue",
    noAgent: "No one is online right now: you can leave a message",
    withAgent: "You're chatting with {name}",
    messageLeft: "Message sent: we'll get back to you",
    comparison: "Side-by-side comparison",
    sending: "Sending…",
    invalid: "Please check this value"
  };

  var script = document.currentScript;
  function attr(name, fallback) {
    var value = script ? script.getAttribute("data-" + name) : null;
    return value === null || value === "" ? fallback : value;
  }
  function json(text, fallback) {
    try { var v = JSON.parse(text); return v && typeof v === "object" ? v : fallback; } catch (e) { return fallback; }
  }
  var server = attr("server", script ? new URL(script.src, window.location.href).origin : "");
  var config = {
    socketUrl: attr("socket-url", server),
    inline: attr("mode", "") === "inline",
    target: attr("target", "").replace(/^#/, ""),
    heading: /^[1-6]$/.test(attr("heading", "")) ? "h" + attr("heading", "") : "h2",
    title: attr("title", "Help"),
    color: attr("color", "#0b5d4b"),
    greeting: attr("greeting", ""),
    token: attr("customer-token", ""),
    name: attr("customer-name", ""),
    maxChars: parseInt(attr("max-chars", ""), 10) > 0 ? parseInt(attr("max-chars", ""), 10) : 1000,
    context: Object.assign({ page: window.location.pathname }, json(attr("context", "{}"), {})),
    strings: Object.assign({}, STRINGS, json(attr("strings", "{}"), {}))
  };
  var S = config.strings;

  var SESSION_KEY = "kestrel.widget.session";
  var CREDENTIAL_KEY = "kestrel.widget.credential";
  var OPEN_KEY = "kestrel.widget.open";
  var VISITS_KEY = "kestrel.widget.visits";
  var GREETED_KEY = "kestrel.widget.greeted";

  // The conversation and its secret, both issued by the server at session_request: the id alone
  // opens nothing. Sign-in or sign-out on the host page gets a new conversation.
  var sessionId = localStorage.getItem(SESSION_KEY) || "";
  var credential = localStorage.getItem(CREDENTIAL_KEY) || "";
  function credentialHeaders() { return { "X-Chat-Credential": credential }; }
  var firstPageOfVisit = !sessionStorage.getItem(GREETED_KEY);
  // one visit per browser session, however many pages it opens
  var visits = (parseInt(localStorage.getItem(VISITS_KEY), 10) || 0) + (sessionStorage.getItem(VISITS_KEY) ? 0 : 1);
  localStorage.setItem(VISITS_KEY, String(visits));
  sessionStorage.setItem(VISITS_KEY, "1");

  // ---------------------------------------------------------------- DOM in a shadow root
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  var host = el("div");
  host.id = "kestrel-widget";
  if (config.inline) host.setAttribute("data-mode", "inline");
  var shadow = host.attachShadow({ mode: "open" });
  var css = el("link");
  css.rel = "stylesheet";
  css.href = server + "/static/widget.css";
  shadow.appendChild(css);

  var root = el("div", config.inline ? "kw kw--inline" : "kw");
  root.style.setProperty("--kw-accent", /^#[0-9a-fA-F]{3,8}$/.test(config.color) ? config.color : "#0b5d4b");
  var launcher = el("button", "kw-launcher", S.launcher);
  launcher.type = "button";
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "kw-panel");

  var panel = el("section", "kw-panel");
  panel.id = "kw-panel";
  panel.setAttribute("role", config.inline ? "region" : "dialog");
  panel.setAttribute("aria-label", config.title);
  panel.hidden = !config.inline;

  var header = el("header", "kw-header");
  var title = el(config.heading, "kw-title", config.title);
  var status = el("span", "kw-status", S.connecting);
  status.setAttribute("role", "status");
  var human = el("button", "kw-human", S.human);
  human.type = "button";
  var close = el("button", "kw-close", "×");
  close.type = "button";
  close.setAttribute("aria-label", S.close);
  header.appendChild(title);
  header.appendChild(status);
  header.appendChild(human);
  if (!config.inline) header.appendChild(close);

  var log = el("ol", "kw-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", config.title);
  log.tabIndex = 0;

  var typing = el("div", "kw-typing");
  typing.setAttribute("aria-label", S.typing);
  typing.setAttribute("role", "status");
  typing.hidden = true;
  typing.appendChild(el("span", "kw-dot"));
  typing.appendChild(el("span", "kw-dot"));
  typing.appendChild(el("span", "kw-dot"));

  var form = el("form", "kw-form");
  var label = el("label", "kw-visually-hidden", S.placeholder);
  label.htmlFor = "kw-input";
  var input = el("input", "kw-input");
  input.id = "kw-input";
  input.type = "text";
  input.autocomplete = "off";
  input.maxLength = config.maxChars;
  input.placeholder = S.placeholder;
  var send = el("button", "kw-send", S.send);
  send.type = "submit";
  form.appendChild(label);
  form.appendChild(input);
  form.appendChild(send);

  panel.appendChild(header);
  if (config.greeting) panel.appendChild(el("p", "kw-greeting", config.greeting));
  panel.appendChild(log);
  panel.appendChild(typing);
  panel.appendChild(form);
  root.appendChild(panel);
  if (!config.inline) root.appendChild(launcher);
  shadow.appendChild(root);
  var place = config.target && document.getElementById(config.target);
  if (place) place.appendChild(host);
  else if (config.inline && script && script.parentNode) script.parentNode.insertBefore(host, script);
  else document.body.appendChild(host);

  function setOpen(open, focus) {
    if (config.inline) return; // always open, in the page
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    launcher.textContent = open ? S.close : S.launcher;
    sessionStorage.setItem(OPEN_KEY, open ? "1" : "0");
    if (open && focus !== false) input.focus();
    if (!open && focus !== false) launcher.focus();
    if (open) start();
  }
  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  close.addEventListener("click", function () { setOpen(false); });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !config.inline) { event.preventDefault(); setOpen(false); }
  });

  // ---------------------------------------------------------------- rendering
  function timeOf(ts) {
    var date = ts ? new Date(ts * 1000) : new Date();
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  // Safe formatting: **bold**, http(s) links and line breaks, built as elements.
  function formatted(text) {
    var out = document.createDocumentFragment();
    String(text).split("\n").forEach(function (line, i) {
      if (i) out.appendChild(document.createElement("br"));
      line.split(/(\*\*[^*]+\*\*|https?:\/\/[^\s<>"')]+)/g).forEach(function (part) {
        if (!part) return;
        if (/^\*\*[^*]+\*\*$/.test(part)) {
          out.appendChild(el("strong", null, part.slice(2, -2)));
        } else if (/^https?:\/\//.test(part)) {
          var a = el("a", null, part);
          a.href = part;
          a.target = "_blank";
          a.rel = "noopener noreferrer nofollow";
          out.appendChild(a);
        } else {
          out.appendChild(document.createTextNode(part));
        }
      });
    });
    return out;
  }

  function addItem(role, ts, who) {
    var item = el("li", "kw-msg kw-msg--" + role);
    var meta = el("div", "kw-meta");
    meta.appendChild(el("span", "kw-who", who || (role === "user" ? S.you : role === "agent" ? S.agent : S.bot)));
    var time = el("time", "kw-time", timeOf(ts));
    meta.appendChild(time);
    item.appendChild(meta);
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
    return item;
  }

  function addText(item, text) {
    var bubble = el("div", "kw-text");
    bubble.appendChild(formatted(text));
    item.insertBefore(bubble, item.querySelector(".kw-meta").nextSibling);
    return bubble;
  }

  function addButtons(item, buttons) {
    var group = el("div", "kw-buttons");
    group.setAttribute("role", "group");
    buttons.forEach(function (b) {
      var button = el("button", "kw-reply", b.title);
      button.type = "button";
      button.addEventListener("click", function () {
        sendMessage(b.payload, b.title);
        input.focus();
      });
      group.appendChild(button);
    });
    item.appendChild(group);
  }

  // The feedback thumbs, drawn as SVG (an emoji is an empty box without an emoji font).
  var SVG_NS = "http://www.w3.org/2000/svg";
  var THUMB = "M3 10h4v10H3z M7 10l4-7c1.2 0 2 .9 2 2v4h5.5c1.1 0 1.9 1 1.7 2.1l-1.3 7c-.2.8-.9 1.4-1.7 1.4H7";
  function thumbIcon(up) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "18");
    svg.setAttribute("height", "18");
    svg.setAttribute("class", "kw-thumb-icon");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", THUMB);
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", "currentColor");
    path.setAttribute("stroke-width", "1.8");
    path.setAttribute("stroke-linejoin", "round");
    if (!up) path.setAttribute("transform", "rotate(180 12 12)");
    svg.appendChild(path);
    return svg;
  }

  var feedbackGiven = {};
  function addArticleCard(item, kb) {
    var card = el("div", "kw-card");
    card.appendChild(el("div", "kw-source", S.from + ": " + (kb.title || kb.article_id)));
    var ask = el("div", "kw-feedback");
    ask.setAttribute("role", "group");
    ask.setAttribute("aria-label", S.helpful);
    function done(helpful) {
      ask.textContent = "";
      var thanks = el("span", "kw-thanks", S.thanks + " ");
      thanks.appendChild(thumbIcon(helpful));
      ask.appendChild(thanks);
    }
    if (Object.prototype.hasOwnProperty.call(feedbackGiven, kb.article_id)) {
      done(feedbackGiven[kb.article_id]);
    } else {
      ask.appendChild(el("span", null, S.helpful + " "));
      [[true, S.yes], [false, S.no]].forEach(function (choice) {
        var b = el("button", "kw-thumb");
        b.appendChild(thumbIcon(choice[0]));
        b.type = "button";
        b.setAttribute("aria-label", choice[1]);
        b.setAttribute("data-helpful", choice[0] ? "yes" : "no");
        b.addEventListener("click", function () {
          fetch(server + "/chat/feedback", {
            method: "POST",
            headers: Object.assign({ "Content-Type": "application/json" }, credentialHeaders()),
            body: JSON.stringify({ session_id: sessionId, article_id: kb.article_id, helpful: choice[0] })
          }).then(function (r) {
            if (r.ok) { feedbackGiven[kb.article_id] = choice[0]; done(choice[0]); input.focus(); }
          });
        });
        ask.appendChild(b);
      });
    }
    card.appendChild(ask);
    item.setAttribute("data-article-id", kb.article_id);
    item.appendChild(card);
  }

  function addTable(item, cmp) {
    var bubble = item.querySelector(".kw-text");
    if (bubble) bubble.classList.add("kw-visually-hidden");
    var wrap = el("div", "kw-table");
    var table = el("table");
    table.appendChild(el("caption", null, S.comparison));
    var thead = el("thead");
    var head = el("tr");
    head.appendChild(el("td"));
    cmp.columns.forEach(function (c) { var th = el("th", null, c.name); th.scope = "col"; head.appendChild(th); });
    thead.appendChild(head);
    table.appendChild(thead);
    var body = el("tbody");
    cmp.rows.forEach(function (row) {
      var tr = el("tr");
      var th = el("th", null, row.label);
      th.scope = "row";
      tr.appendChild(th);
      row.values.forEach(function (v) { tr.appendChild(el("td", null, v)); });
      body.appendChild(tr);
    });
    table.appendChild(body);
    wrap.appendChild(table);
    item.appendChild(wrap);
  }

  function addCarousel(item, carousel) {
    var list = el("ul", "kw-carousel");
    list.setAttribute("aria-label", carousel.title || "");
    (carousel.items || []).forEach(function (card) {
      var li = el("li", "kw-slide");
      li.appendChild(el("h3", null, card.title));
      if (card.subtitle) li.appendChild(el("p", "kw-sub", card.subtitle));
      if (card.text) li.appendChild(el("p", null, card.text));
      if (card.buttons) addButtons(li, card.buttons);
      list.appendChild(li);
    });
    item.appendChild(list);
  }

  // A small form inside the chat, for a value a flow asks for (an amount, say).
  function addInlineForm(item, spec, live) {
    var f = el("form", "kw-inline");
    f.noValidate = true; // our own message, in the chat's words, instead of the browser's bubble
    var id = "kw-field-" + Math.random().toString(36).slice(2, 8);
    var lab = el("label", null, spec.label || "");
    lab.htmlFor = id;
    var field = el("input");
    field.id = id;
    field.required = true;
    if (spec.type === "amount") {
      field.type = "number";
      field.min = "0.01";
      field.step = "0.01";
      field.inputMode = "decimal";
    } else {
      field.type = "text";
    }
    if (spec.placeholder) field.placeholder = spec.placeholder;
    var error = el("span", "kw-error");
    error.id = id + "-error";
    error.setAttribute("role", "alert");
    field.setAttribute("aria-describedby", error.id);
    var ok = el("button", "kw-send", S.send);
    ok.type = "submit";
    f.appendChild(lab);
    f.appendChild(field);
    f.appendChild(ok);
    f.appendChild(error);
    field.disabled = ok.disabled = !live;
    f.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!field.checkValidity()) {
        error.textContent = S.invalid;
        field.setAttribute("aria-invalid", "true");
        field.focus();
        return;
      }
      field.removeAttribute("aria-invalid");
      error.textContent = "";
      var value = spec.type === "amount" ? "£" + Number(field.value).toFixed(2) : field.value;
      field.disabled = ok.disabled = true;
      sendMessage(value, value);
      input.focus();
    });
    item.appendChild(f);
  }

  var lastBot = null;
  function renderBot(msg, live, ts) {
    if (!msg || typeof msg !== "object") return;
    var custom = msg.custom || msg;
    var role = msg.role === "agent" || custom.agent ? "agent" : "bot";
    var agentName = typeof msg.agent === "string" ? msg.agent : custom.agent && custom.agent.name;
    if (msg.text) {
      lastBot = addItem(role, ts, role === "agent" ? S.agent + (agentName ? " · " + agentName : "") : null);
      addText(lastBot, msg.text);
    }
    var buttons = msg.quick_replies || msg.buttons;
    if (buttons && buttons.length) {
      if (!lastBot || !msg.text) lastBot = addItem(role, ts);
      addButtons(lastBot, buttons);
    }
    if (custom.kb && custom.kb.article_id && custom.kb.decision !== "clarify" && lastBot) addArticleCard(lastBot, custom.kb);
    if (custom.comparison && custom.comparison.columns) addTable(lastBot || addItem("bot", ts), custom.comparison);
    if (custom.carousel) addCarousel(lastBot || addItem("bot", ts), custom.carousel);
    if (custom.input) addInlineForm(lastBot || addItem("bot", ts), custom.input, live);
    if (custom.handoff) {
      var queued = custom.handoff.status !== "no_agent";
      status.textContent = !queued ? S.noAgent
        : custom.handoff.position ? S.position.replace("{n}", custom.handoff.position) : S.queued;
      if (live) watchQueue(queued);
    }
    if (custom.ticket) { status.textContent = S.messageLeft; watchQueue(false); }
    if (custom.agent_joined) showAgent(custom.agent_joined.name);
    if (role === "agent" && msg.text) showAgent(agentName);
    log.scrollTop = log.scrollHeight;
  }

  function showAgent(name) {
    status.textContent = S.withAgent.replace("{name}", name || S.agent);
    watchQueue(false);
  }

  // While the customer waits for a person, keep their place in the queue current.
  var queueTimer = null;
  function watchQueue(on) {
    clearInterval(queueTimer);
    queueTimer = on ? setInterval(checkQueue, 20000) : null;
  }
  function checkQueue() {
    fetch(server + "/chat/queue/" + encodeURIComponent(sessionId), { cache: "no-store", headers: credentialHeaders() })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (q) {
        if (!q) return;
        if (q.position) status.textContent = S.position.replace("{n}", q.position);
        else if (q.agent) showAgent(q.agent);
        else watchQueue(false);
      })
      .catch(function () { /* offline: the next tick tries again */ });
  }

  function renderUser(text, ts, pending) {
    var item = addItem("user", ts);
    addText(item, text);
    if (pending) { item.classList.add("kw-pending"); item.appendChild(el("span", "kw-sending", S.sending)); }
    return item;
  }

  // ---------------------------------------------------------------- connection
  var socket = null;
  var confirmed = false;
  var outbox = []; // messages typed while offline: {payload, shown, item}
  var typingTimer = null;

  function metadata(shown) {
    var meta = { visitor: { visits: visits, returning: visits > 1 }, context: config.context, shown: shown };
    if (config.token) meta.customer_token = config.token;
    return meta;
  }

  function showTyping(on) {
    typing.hidden = !on;
    clearTimeout(typingTimer);
    if (on) typingTimer = setTimeout(function () { typing.hidden = true; }, 20000);
  }

  function emit(entry) {
    socket.emit("user_uttered", { message: entry.payload, session_id: sessionId, metadata: metadata(entry.shown) });
    if (entry.item) {
      entry.item.classList.remove("kw-pending");
      var note = entry.item.querySelector(".kw-sending");
      if (note) note.remove();
    }
    showTyping(true);
  }

  function sendMessage(payload, shown) {
    var entry = { payload: payload, shown: shown, item: shown ? renderUser(shown, null, !confirmed) : null };
    if (confirmed && socket && socket.connected) emit(entry);
    else outbox.push(entry);
  }

  // The tracker is the truth: after a reload or a reconnect, show it again in full, then send
  // what was typed offline. Nothing is lost, nothing is shown twice.
  function restore() {
    return fetch(server + "/chat/history/" + encodeURIComponent(sessionId), { cache: "no-store", headers: credentialHeaders() })
      .then(function (r) { return r.ok ? r.json() : { messages: [] }; })
      .then(function (data) {
        feedbackGiven = data.feedback || {};
        log.textContent = "";
        lastBot = null;
        var messages = data.messages || [];
        messages.forEach(function (m, i) {
          var live = i === messages.length - 1;
          if (m.role === "user") { renderUser(m.text, m.ts, false); lastBot = null; }
          else renderBot(Object.assign({}, m, { custom: m.custom || {} }), live, m.ts);
        });
        if (data.paused) { status.textContent = S.queued; watchQueue(true); checkQueue(); }
        outbox.forEach(function (entry) { if (entry.item) log.appendChild(entry.item); });
        return messages.length;
      })
      .catch(function () { return -1; });
  }

  var started = false;
  function start() {
    if (started) return;
    started = true;
    if (typeof window.io !== "function") {
      var loader = document.createElement("script");
      loader.src = server + "/static/vendor/socket.io.min.js";
      loader.onload = connect;
      document.head.appendChild(loader);
    } else {
      connect();
    }
  }

  function connect() {
    // `sticky`: with several Rasa processes, the gateway keeps this connection on one of them.
    var sticky = Math.random().toString(36).slice(2, 10);
    socket = window.io(config.socketUrl, {
      transports: ["websocket", "polling"], reconnectionDelayMax: 3000, query: { sticky: sticky }
    });
    socket.on("connect", function () {
      socket.emit("session_request", { session_id: sessionId, credential: credential, customer_token: config.token });
    });
    socket.on("session_credential", function (granted) {
      if (!granted || typeof granted.session_id !== "string") return;
      sessionId = granted.session_id;
      credential = String(granted.credential || "");
      localStorage.setItem(SESSION_KEY, sessionId);
      localStorage.setItem(CREDENTIAL_KEY, credential);
    });
    socket.on("session_confirm", function () {
      restore().then(function (count) {
        confirmed = true;
        status.textContent = config.name ? S.signedIn.replace("{name}", config.name) : S.online;
        var pending = outbox;
        outbox = [];
        pending.forEach(emit);
        if (firstPageOfVisit && count === 0 && !pending.length) {
          sessionStorage.setItem(GREETED_KEY, "1");
          firstPageOfVisit = false;
          emit({ payload: "/greet", shown: null, item: null });
        } else {
          sessionStorage.setItem(GREETED_KEY, "1");
        }
      });
    });
    socket.on("disconnect", function () {
      confirmed = false;
      status.textContent = navigator.onLine === false ? S.offline : S.connecting;
    });
    socket.on("bot_uttered", function (msg) {
      showTyping(false);
      renderBot(msg, true, null);
    });
  }
  // The browser knows first when the network goes: stop sending (messages wait in the outbox)
  // and reconnect as soon as it is back, without waiting for socket.io's back-off.
  window.addEventListener("offline", function () {
    status.textContent = S.offline;
    confirmed = false;
    if (socket) socket.disconnect();
  });
  window.addEventListener("online", function () {
    status.textContent = S.connecting;
    if (socket && !socket.connected) socket.connect();
  });
  // A message waiting in the outbox is never left behind: a reconnect the browser or the server
  // cut short (socket.io does not retry after those) is tried again, and a connection that never
  // got its session confirmed asks again.
  setInterval(function () {
    if (!socket || !outbox.length || navigator.onLine === false) return;
    if (!socket.connected) socket.connect();
    else if (!confirmed) socket.emit("session_request", { session_id: sessionId, credential: credential, customer_token: config.token });
  }, 3000);

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    if (text.length > config.maxChars) {
      addText(addItem("bot"), S.tooLong.replace("{n}", config.maxChars));
      return;
    }
    input.value = "";
    sendMessage(text, text);
  });
  human.addEventListener("click", function () { sendMessage("/request_human", S.human); input.focus(); });

  window.KestrelWidget = {
    open: function () { setOpen(true); },
    close: function () { setOpen(false); },
    session: function () { return sessionId; },
    // The host page hands over a fresh signed customer token before the last one expires; the
    // next message carries it. (Signing in or out is a new token for someone else: the page
    // reloads and the server gives a new conversation.)
    setCustomerToken: function (token) { if (typeof token === "string") config.token = token; }
  };
  if (config.inline) start();
  else if (sessionStorage.getItem(OPEN_KEY) === "1") setOpen(true, false);
})();
