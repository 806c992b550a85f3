/* 协商助手 web chat: talks to Rasa's socketio channel (/socket.io) with session persistence.
 *
 * Safety rule for this file: every piece of text from the bot, the user or localStorage is put into
 * the page with textContent / createTextNode only. No innerHTML, no HTML strings, no eval.
 * Links are made only from http(s) URLs, opened in a new tab with rel="noopener noreferrer".
 */
(function () {
  "use strict";

  var KEY_SESSION = "xieshang.session";
  var KEY_LOG = "xieshang.transcript";
  var KEY_PRACTICE = "xieshang.practice";
  var MAX_ENTRIES = 300;
  var PRACTICE_PREFIX = "【练习模式】";
  var TYPING_TIMEOUT_MS = 25000;

  var params = new URLSearchParams(window.location.search);
  var embed = params.get("embed") === "1";
  var coarsePointer = window.matchMedia && window.matchMedia("(pointer: coarse)").matches;

  function $(id) { return document.getElementById(id); }
  var logEl = $("log"), input = $("input"), form = $("composer"), sendBtn = $("send");
  var statusEl = $("status"), noticeEl = $("notice"), typingEl = $("typing"), practiceEl = $("practice");

  /* ---------- storage (falls back to memory when localStorage is unavailable) ---------- */
  var memory = {};
  var store = {
    get: function (k) {
      try { return window.localStorage.getItem(k); } catch (e) { return Object.prototype.hasOwnProperty.call(memory, k) ? memory[k] : null; }
    },
    set: function (k, v) {
      try { window.localStorage.setItem(k, v); } catch (e) { memory[k] = v; }
    },
    del: function (k) {
      try { window.localStorage.removeItem(k); } catch (e) { /* ignore */ }
      delete memory[k];
    }
  };

  function newId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    var out = "";
    for (var i = 0; i < bytes.length; i++) out += (bytes[i] + 256).toString(16).slice(1);
    return out;
  }

  function str(v) { return typeof v === "string" ? v : (v == null ? "" : String(v)); }

  function cleanButtons(list) {
    if (!Array.isArray(list)) return [];
    var out = [];
    list.forEach(function (b) {
      if (b && typeof b === "object" && (b.title || b.payload)) {
        out.push({ title: str(b.title || b.payload).slice(0, 200), payload: str(b.payload || b.title).slice(0, 500) });
      }
    });
    return out.slice(0, 12);
  }

  function cleanDoc(d) {
    if (!d || typeof d !== "object" || typeof d.text !== "string") return null;
    return { title: str(d.title) || "文档", text: d.text, filename: str(d.filename), mime: str(d.mime) || "text/plain" };
  }

  function cleanEntry(e) {
    if (!e || typeof e !== "object") return null;
    if (e.who === "user" || e.who === "sys") return { who: e.who, text: str(e.text) };
    if (e.who === "bot") {
      var doc = cleanDoc(e.doc);
      if (doc) return { who: "bot", doc: doc };
      return { who: "bot", text: str(e.text), buttons: cleanButtons(e.buttons) };
    }
    return null;
  }

  function loadTranscript() {
    try {
      var raw = JSON.parse(store.get(KEY_LOG) || "[]");
      if (!Array.isArray(raw)) return [];
      return raw.map(cleanEntry).filter(Boolean).slice(-MAX_ENTRIES);
    } catch (e) {
      return [];
    }
  }

  function saveTranscript() {
    if (transcript.length > MAX_ENTRIES) transcript = transcript.slice(-MAX_ENTRIES);
    try { store.set(KEY_LOG, JSON.stringify(transcript)); } catch (e) { /* quota: keep going */ }
  }

  var sessionId = store.get(KEY_SESSION);
  if (!sessionId || !/^[A-Za-z0-9_-]{8,64}$/.test(sessionId)) {
    sessionId = newId();
    store.set(KEY_SESSION, sessionId);
  }
  var transcript = loadTranscript();

  /* ---------- DOM helpers: text only ---------- */
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  }

  function safeHref(s) {
    try {
      var u = new URL(s);
      return (u.protocol === "http:" || u.protocol === "https:") ? u.href : null;
    } catch (e) {
      return null;
    }
  }

  var URL_RE = /https?:\/\/[^\s<>"'，。；！？、）」》】]+/g;

  /** Append text to parent, turning http(s) URLs into safe links. */
  function appendText(parent, text) {
    var last = 0, m;
    URL_RE.lastIndex = 0;
    while ((m = URL_RE.exec(text)) !== null) {
      var url = m[0].replace(/[.,;:!?)\]'"]+$/, "");
      var start = m.index;
      if (!url) { continue; }
      if (start > last) parent.appendChild(document.createTextNode(text.slice(last, start)));
      var href = safeHref(url);
      if (href) {
        var a = el("a", null, url);
        a.href = href;
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        parent.appendChild(a);
      } else {
        parent.appendChild(document.createTextNode(url));
      }
      last = start + url.length;
      URL_RE.lastIndex = last;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function scrollDown() { logEl.scrollTop = logEl.scrollHeight; }

  function focusAfterAction() {
    if (coarsePointer) logEl.focus({ preventScroll: true });
    else input.focus({ preventScroll: true });
  }

  /* ---------- rendering ---------- */
  function renderQuick(msgEl, buttons) {
    var box = el("div", "quick");
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", "可选回复");
    buttons.forEach(function (b) {
      var btn = el("button", null, b.title);
      btn.type = "button";
      btn.addEventListener("click", function () {
        send(b.payload, b.title);
        focusAfterAction();
      });
      box.appendChild(btn);
    });
    msgEl.appendChild(box);
  }

  function safeFilename(name, mime) {
    var ext = mime === "text/calendar" ? ".ics" : ".txt";
    var n = str(name).split(/[\\/]/).pop().replace(/[:*?"<>|\u0000-\u001f]/g, "").replace(/^\.+/, "").trim().slice(0, 80);
    if (!n) n = "协商助手文档";
    if (!/\.(txt|ics)$/i.test(n)) n = n.replace(/\.[A-Za-z0-9]{1,5}$/, "") + ext;
    return n;
  }

  function legacyCopy(text) {
    var ta = el("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.style.position = "fixed";
    ta.style.top = "0";
    ta.style.opacity = "0";
    document.body.appendChild(ta);
    ta.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(ta);
    return ok;
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).then(function () { return true; }, function () { return legacyCopy(text); });
    }
    return Promise.resolve(legacyCopy(text));
  }

  function downloadDoc(doc) {
    var name = safeFilename(doc.filename, doc.mime);
    var calendar = /\.ics$/i.test(name);
    var parts = calendar ? [doc.text] : ["\ufeff", doc.text.replace(/\r?\n/g, "\r\n")];
    var blob = new Blob(parts, { type: calendar ? "text/calendar;charset=utf-8" : "text/plain;charset=utf-8" });
    var url = URL.createObjectURL(blob);
    var a = el("a");
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    document.body.removeChild(a);
    setTimeout(function () { URL.revokeObjectURL(url); }, 30000);
    return name;
  }

  function renderDoc(msgEl, doc) {
    msgEl.classList.add("doc-msg");
    var card = el("article", "doc");
    card.setAttribute("aria-label", "生成的文档：" + doc.title);
    card.appendChild(el("h2", "doc-title", doc.title));
    var body = el("div", "doc-body", doc.text);
    body.tabIndex = 0;
    body.setAttribute("aria-label", doc.title + "（全文）");
    card.appendChild(body);
    var bar = el("div", "doc-actions");
    var done = el("span", "done");
    done.setAttribute("role", "status");
    var copy = el("button", "copy", "复制");
    copy.type = "button";
    copy.setAttribute("aria-label", "复制“" + doc.title + "”全文");
    copy.addEventListener("click", function () {
      copyText(doc.text).then(function (ok) {
        done.textContent = ok ? "已复制 ✓" : "复制失败，请长按上面的文字手动复制";
      });
    });
    var dl = el("button", "download secondary", "下载");
    dl.type = "button";
    dl.setAttribute("aria-label", "下载“" + doc.title + "”为文本文件");
    dl.addEventListener("click", function () {
      var name = downloadDoc(doc);
      done.textContent = "已下载 " + name;
    });
    bar.appendChild(copy);
    bar.appendChild(dl);
    if (doc.text.length > 260) {
      var more = el("button", "secondary", "展开全文");
      more.type = "button";
      more.setAttribute("aria-expanded", "false");
      more.addEventListener("click", function () {
        var open = card.classList.toggle("expanded");
        more.textContent = open ? "收起" : "展开全文";
        more.setAttribute("aria-expanded", open ? "true" : "false");
      });
      bar.appendChild(more);
    }
    bar.appendChild(done);
    card.appendChild(bar);
    msgEl.appendChild(card);
  }

  function renderEntry(entry, showQuick) {
    var msgEl = el("div", "msg " + entry.who);
    if (entry.who === "bot" && entry.doc) {
      renderDoc(msgEl, entry.doc);
    } else {
      if (entry.text) {
        var bubble = el("div", "bubble");
        if (entry.who === "user") bubble.appendChild(el("span", "sr-only", "我说："));
        else if (entry.who === "bot") bubble.appendChild(el("span", "sr-only", "协商助手："));
        appendText(bubble, entry.text);
        msgEl.appendChild(bubble);
      }
      if (showQuick && entry.buttons && entry.buttons.length) renderQuick(msgEl, entry.buttons);
    }
    logEl.appendChild(msgEl);
    return msgEl;
  }

  function renderWelcome() {
    var msgEl = el("div", "msg bot welcome");
    var bubble = el("div", "bubble");
    bubble.appendChild(el("span", "sr-only", "协商助手："));
    appendText(bubble, "你好，我是协商助手 🙂 专门帮还不上网贷、被催收困扰的朋友。\n" +
      "直接说说你的情况就行，比如：“借呗逾期三个月了，还不上”“催收打给我家人了”。");
    msgEl.appendChild(bubble);
    logEl.appendChild(msgEl);
  }

  function renderAll() {
    while (logEl.firstChild) logEl.removeChild(logEl.firstChild);
    if (!transcript.length) renderWelcome();
    var lastUser = -1;
    transcript.forEach(function (e, i) { if (e.who === "user") lastUser = i; });
    transcript.forEach(function (e, i) { renderEntry(e, i > lastUser); });
    scrollDown();
  }

  function removeQuickReplies() {
    var boxes = logEl.querySelectorAll(".quick");
    for (var i = 0; i < boxes.length; i++) boxes[i].parentNode.removeChild(boxes[i]);
  }

  function add(entry) {
    if (!transcript.length) {
      var w = logEl.querySelector(".welcome");
      if (w) w.parentNode.removeChild(w);
    }
    if (entry.who === "user") removeQuickReplies();
    transcript.push(entry);
    saveTranscript();
    renderEntry(entry, true);
    scrollDown();
  }

  /* ---------- status, notices, typing, practice ---------- */
  function setStatus(text, offline) {
    statusEl.textContent = text;
    statusEl.classList.toggle("offline", !!offline);
  }

  function showNotice(text) {
    noticeEl.textContent = text;
    noticeEl.hidden = !text;
  }

  var typingTimer = null;
  function showTyping() {
    typingEl.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, TYPING_TIMEOUT_MS);
    scrollDown();
  }
  function hideTyping() {
    clearTimeout(typingTimer);
    typingEl.hidden = true;
  }

  function setPractice(on) {
    practiceEl.hidden = !on;
    document.body.classList.toggle("practice-on", !!on);
    if (on) store.set(KEY_PRACTICE, "1");
    else store.del(KEY_PRACTICE);
  }

  /* ---------- socket.io ---------- */
  var socket = null;
  var confirmed = false;
  var outbox = [];

  function customData() {
    return { channel: "webchat", embed: embed };
  }

  function flush() {
    while (socket && confirmed && outbox.length) socket.emit("user_uttered", outbox.shift());
  }

  function emitMessage(text, session) {
    outbox.push({ message: text, session_id: session || sessionId, customData: customData() });
    flush();
  }

  function requestSession() {
    confirmed = false;
    if (socket && socket.connected) socket.emit("session_request", { session_id: sessionId });
  }

  function startNewSession() {
    transcript = [];
    store.del(KEY_LOG);
    setPractice(false);
    sessionId = newId();
    store.set(KEY_SESSION, sessionId);
    requestSession();
  }

  var DELETED_RE = /^已删除/;

  function onBot(msg) {
    hideTyping();
    if (!msg || typeof msg !== "object") return;
    var custom = msg.custom && typeof msg.custom === "object" ? msg.custom : null;
    var wipe = false;
    if (custom) {
      if (Object.prototype.hasOwnProperty.call(custom, "practice")) {
        setPractice(custom.practice === "on" || custom.practice === true);
      }
      if (custom.data_deleted === true) wipe = true;
      if (custom.type === "document") {
        var doc = cleanDoc(custom);
        if (doc) add({ who: "bot", doc: doc });
        return;
      }
    }
    var text = str(msg.text);
    if (text.indexOf(PRACTICE_PREFIX) === 0) setPractice(true);
    var att = msg.attachment;
    if (att && typeof att === "object" && att.payload && typeof att.payload.src === "string") {
      text += (text ? "\n" : "") + att.payload.src;
    }
    var buttons = cleanButtons(msg.quick_replies || msg.buttons);
    if (!text && !buttons.length) return;
    if (DELETED_RE.test(text)) wipe = true;
    if (wipe) {
      // the server forgot the conversation: forget it on this device too
      startNewSession();
      renderAll();
      add({ who: "bot", text: text, buttons: buttons });
      add({ who: "sys", text: "本机上的聊天记录也已清除。" });
      return;
    }
    add({ who: "bot", text: text, buttons: buttons });
  }

  function connect() {
    if (typeof window.io !== "function") {
      setStatus("无法连接", true);
      showNotice("聊天组件没有安装完整（缺少 socket.io 客户端），暂时不能对话。请管理员在服务器上安装 Node.js/npm 后运行 make venv。");
      input.disabled = true;
      sendBtn.disabled = true;
      return;
    }
    socket = window.io({ path: "/socket.io" });
    socket.on("connect", function () {
      setStatus("正在连接…");
      requestSession();
    });
    socket.on("session_confirm", function (data) {
      var id = typeof data === "string" ? data : (data && data.session_id);
      if (id && id !== sessionId && /^[A-Za-z0-9_-]{8,64}$/.test(id)) {
        sessionId = id;
        store.set(KEY_SESSION, id);
      }
      confirmed = true;
      setStatus("在线");
      showNotice("");
      flush();
    });
    socket.on("bot_uttered", onBot);
    socket.on("disconnect", function () {
      confirmed = false;
      hideTyping();
      setStatus("连接断开，正在重连…", true);
    });
    socket.on("connect_error", function () {
      setStatus("连不上服务器，正在重试…", true);
    });
  }

  /* ---------- actions ---------- */
  function send(text, display) {
    text = str(text).trim();
    if (!text) return;
    if (!socket) {
      showNotice("暂时不能对话：聊天组件没有安装完整。");
      return;
    }
    add({ who: "user", text: str(display || text) });
    emitMessage(text);
    showTyping();
  }

  function autosize() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 2, 140) + "px";
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value;
    if (!text.trim()) return;
    input.value = "";
    autosize();
    send(text);
    input.focus();
  });

  input.addEventListener("keydown", function (e) {
    // Enter sends; Shift+Enter is a new line; never send while an IME (pinyin) is composing
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      if (typeof form.requestSubmit === "function") form.requestSubmit();
      else form.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });
  input.addEventListener("input", autosize);

  $("delete-btn").addEventListener("click", function () {
    send("/delete_my_data", "删除我的数据");
    focusAfterAction();
  });

  $("clear-btn").addEventListener("click", function () {
    if (!window.confirm("清除本机上的聊天记录，重新开始一段新对话？\n（要删除服务器上的记录，请用“删除我的数据”。）")) return;
    var old = sessionId;
    if (socket) emitMessage("/restart", old);
    startNewSession();
    renderAll();
    add({ who: "sys", text: "对话已清除，可以重新开始。" });
    input.focus();
  });

  /* ---------- inside the widget's iframe ---------- */
  if (embed) {
    document.body.classList.add("embed");
    var closeBtn = $("close-btn");
    closeBtn.hidden = false;
    var closeWidget = function () {
      if (window.parent !== window) window.parent.postMessage({ type: "xieshang:close" }, "*");
    };
    closeBtn.addEventListener("click", closeWidget);
    document.addEventListener("keydown", function (e) { if (e.key === "Escape") closeWidget(); });
    window.addEventListener("message", function (e) {
      if (e.source === window.parent && e.data && e.data.type === "xieshang:focus") input.focus({ preventScroll: true });
    });
  }

  setPractice(store.get(KEY_PRACTICE) === "1");
  renderAll();
  connect();
})();
