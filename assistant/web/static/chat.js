/* Chat page: talks to Rasa's socket.io channel. Everything shown is set with textContent. */
(function () {
  "use strict";
  var root = document.getElementById("chat");
  var log = document.getElementById("log");
  var form = document.getElementById("form");
  var input = document.getElementById("input");
  var statusEl = document.getElementById("status");
  var humanBtn = document.getElementById("human");
  var maxChars = parseInt(root.getAttribute("data-max-chars"), 10) || 1000;
  var KEY = "kestrel.chat.session";
  var VISITS = "kestrel.chat.visits";
  var GREETED = "kestrel.chat.greeted";
  var customerToken = root.getAttribute("data-customer-token") || "";
  var customerName = root.getAttribute("data-customer-name") || "";
  var visits = (parseInt(localStorage.getItem(VISITS), 10) || 0) + (sessionStorage.getItem(GREETED) ? 0 : 1);
  localStorage.setItem(VISITS, String(visits));

  // What the host page knows, sent with every message: the signed customer token, whether this is
  // a returning visitor, and where the customer is.
  function metadata() {
    var meta = {
      visitor: { visits: visits, returning: visits > 1 },
      context: { page: window.location.pathname, product: root.getAttribute("data-product") || null }
    };
    if (customerToken) meta.customer_token = customerToken;
    return meta;
  }

  // The conversation and its secret are issued by the server at session_request.
  var CREDENTIAL = "kestrel.chat.credential";
  var sessionId = localStorage.getItem(KEY) || "";
  var credential = localStorage.getItem(CREDENTIAL) || "";
  var firstVisit = !sessionStorage.getItem(GREETED);

  function timeNow() {
    return new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function addMessage(role, text) {
    var item = document.createElement("li");
    item.className = "msg msg--" + role;
    var bubble = document.createElement("div");
    bubble.className = "msg__text";
    bubble.textContent = text;
    var time = document.createElement("time");
    time.className = "msg__time";
    time.textContent = timeNow();
    item.appendChild(bubble);
    item.appendChild(time);
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
    return item;
  }

  function addButtons(item, buttons) {
    var group = document.createElement("div");
    group.className = "msg__buttons";
    group.setAttribute("role", "group");
    buttons.forEach(function (b) {
      var btn = document.createElement("button");
      btn.type = "button";
      btn.className = "quick-reply";
      btn.textContent = b.title;
      btn.addEventListener("click", function () {
        send(b.payload, b.title);
      });
      group.appendChild(btn);
    });
    item.appendChild(group);
  }

  // A side-by-side comparison: the plain-text version arrives first (for channels without
  // tables); here it is replaced by a real table with headers.
  function renderComparison(cmp) {
    if (!cmp.columns || !cmp.rows) return;
    var holder = lastBot || addMessage("bot", "");
    var bubble = holder.querySelector(".msg__text");
    if (bubble) bubble.classList.add("visually-hidden");
    var wrap = document.createElement("div");
    wrap.className = "msg__table";
    var table = document.createElement("table");
    table.className = "comparison";
    var caption = document.createElement("caption");
    caption.textContent = "Side-by-side comparison";
    table.appendChild(caption);
    var head = document.createElement("tr");
    head.appendChild(document.createElement("td"));
    cmp.columns.forEach(function (c) {
      var th = document.createElement("th");
      th.scope = "col";
      th.textContent = c.name;
      head.appendChild(th);
    });
    var thead = document.createElement("thead");
    thead.appendChild(head);
    table.appendChild(thead);
    var body = document.createElement("tbody");
    cmp.rows.forEach(function (row) {
      var tr = document.createElement("tr");
      var th = document.createElement("th");
      th.scope = "row";
      th.textContent = row.label;
      tr.appendChild(th);
      row.values.forEach(function (v) {
        var td = document.createElement("td");
        td.textContent = v;
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    table.appendChild(body);
    wrap.appendChild(table);
    holder.insertBefore(wrap, holder.querySelector(".msg__time"));
  }

  var lastBot = null;
  function onBotMessage(msg) {
    if (!msg || typeof msg !== "object") return;
    if (msg.text && msg.agent) {  // a person's message (an agent in the console)
      lastBot = addMessage("agent", msg.text);
      var who = document.createElement("div");
      who.className = "msg__who";
      who.textContent = "Agent · " + (msg.agent.name || "");
      lastBot.insertBefore(who, lastBot.firstChild);
      statusEl.textContent = "You're chatting with " + (msg.agent.name || "a person");
      return;
    }
    if (msg.text) {
      lastBot = addMessage("bot", msg.text);
    }
    if (msg.agent_joined) statusEl.textContent = "You're chatting with " + (msg.agent_joined.name || "a person");
    var buttons = msg.quick_replies || msg.buttons;
    if (buttons && buttons.length) {
      if (!lastBot || msg.text === undefined) lastBot = addMessage("bot", "");
      addButtons(lastBot, buttons);
    }
    if (msg.kb && lastBot && msg.kb.article_id && msg.kb.decision !== "clarify") {
      lastBot.setAttribute("data-article-id", msg.kb.article_id);
      lastBot.setAttribute("data-score", String(msg.kb.score));
      var source = document.createElement("div");
      source.className = "msg__source";
      source.textContent = "From: " + (msg.kb.title || msg.kb.article_id);
      lastBot.insertBefore(source, lastBot.querySelector(".msg__time"));
    }
    if (msg.comparison) {
      renderComparison(msg.comparison);
    }
    if (msg.handoff) {
      statusEl.textContent = msg.handoff.status === "no_agent"
        ? "No one is online right now: you can leave a message" : "Waiting for a person…";
    }
    if (msg.ticket) statusEl.textContent = "Message sent: we'll get back to you";
  }

  var socket = io(root.getAttribute("data-socket-url"), { transports: ["websocket", "polling"] });

  function send(payload, shown) {
    if (shown !== null) addMessage("user", shown);
    socket.emit("user_uttered", { message: payload, session_id: sessionId, metadata: metadata() });
  }

  socket.on("connect", function () {
    socket.emit("session_request", { session_id: sessionId, credential: credential, customer_token: customerToken });
  });
  socket.on("session_credential", function (granted) {
    if (!granted || typeof granted.session_id !== "string") return;
    sessionId = granted.session_id;
    credential = String(granted.credential || "");
    localStorage.setItem(KEY, sessionId);
    localStorage.setItem(CREDENTIAL, credential);
  });
  socket.on("session_confirm", function () {
    statusEl.textContent = customerName ? "Online · signed in as " + customerName : "Online";
    if (firstVisit) {
      firstVisit = false;
      sessionStorage.setItem(GREETED, "1");
      send("/greet", null);
    }
  });
  socket.on("disconnect", function () {
    statusEl.textContent = "Reconnecting…";
  });
  socket.on("bot_uttered", onBotMessage);

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    if (text.length > maxChars) {
      addMessage("bot", "That message is too long (the limit is " + maxChars + " characters).");
      return;
    }
    input.value = "";
    send(text, text);
    input.focus();
  });
  humanBtn.addEventListener("click", function () {
    send("/request_human", "Talk to a person");
  });
})();
