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

  function newSessionId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return "s-" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }
  var sessionId = localStorage.getItem(KEY);
  var firstVisit = !sessionId;
  if (!sessionId) {
    sessionId = newSessionId();
    localStorage.setItem(KEY, sessionId);
  }

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

  var lastBot = null;
  function onBotMessage(msg) {
    if (!msg || typeof msg !== "object") return;
    if (msg.text) {
      lastBot = addMessage("bot", msg.text);
    }
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
    if (msg.handoff) {
      statusEl.textContent = "Waiting for a person…";
    }
  }

  var socket = io(root.getAttribute("data-socket-url"), { transports: ["websocket", "polling"] });

  function send(payload, shown) {
    if (shown !== null) addMessage("user", shown);
    socket.emit("user_uttered", { message: payload, session_id: sessionId });
  }

  socket.on("connect", function () {
    socket.emit("session_request", { session_id: sessionId });
  });
  socket.on("session_confirm", function () {
    statusEl.textContent = "Online";
    if (firstVisit) {
      firstVisit = false;
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
