/* 协商助手 embeddable widget. Put one line on any page:
 *
 *   <script src="https://YOUR-BOT-SERVER/chat/widget.js" data-server="https://YOUR-BOT-SERVER" defer></script>
 *
 * It adds a round launcher button at the bottom right; the chat opens in an iframe that shows
 * YOUR-BOT-SERVER/chat?embed=1 (so the chat keeps its own strict CSP and storage and the host page's
 * CSS cannot break it). data-server is optional: by default the server this script came from.
 * Only DOM APIs are used: no HTML strings.
 */
(function () {
  "use strict";
  if (window.__xieshangWidget) return;
  window.__xieshangWidget = true;

  var script = document.currentScript;
  function origin(s) {
    try {
      var u = new URL(s, window.location.href);
      return (u.protocol === "http:" || u.protocol === "https:") ? u.origin : null;
    } catch (e) {
      return null;
    }
  }
  var server = origin((script && script.getAttribute("data-server")) || "") || origin(script ? script.src : "");
  if (!server) return;

  var Z = "2147483000";
  var launcher, frameBox, frame, open = false;

  function css(node, styles) {
    for (var k in styles) if (Object.prototype.hasOwnProperty.call(styles, k)) node.style[k] = styles[k];
  }

  function phone() { return window.innerWidth < 600; }

  function layout() {
    if (!frameBox) return;
    if (phone()) {
      css(frameBox, { left: "0", top: "0", right: "0", bottom: "0", width: "100%", height: "100%", borderRadius: "0" });
    } else {
      css(frameBox, { left: "auto", top: "auto", right: "20px", bottom: "88px", width: "380px",
        height: "min(640px, calc(100vh - 110px))", borderRadius: "14px" });
    }
  }

  function build() {
    frameBox = document.createElement("div");
    frameBox.setAttribute("data-xieshang", "panel");
    css(frameBox, { position: "fixed", zIndex: Z, overflow: "hidden", boxShadow: "0 8px 32px rgba(0,0,0,.25)",
      background: "#fff", display: "none" });
    frame = document.createElement("iframe");
    frame.src = server + "/chat?embed=1";
    frame.title = "协商助手聊天窗口";
    frame.setAttribute("allow", "clipboard-write");
    frame.setAttribute("referrerpolicy", "no-referrer");
    css(frame, { border: "0", width: "100%", height: "100%", display: "block" });
    frame.addEventListener("load", function () {
      if (open) frame.contentWindow.postMessage({ type: "xieshang:focus" }, server);
    });
    frameBox.appendChild(frame);
    document.body.appendChild(frameBox);
    layout();
  }

  function setOpen(next, moveFocus) {
    if (next && !frameBox) build();
    open = next;
    if (frameBox) frameBox.style.display = open ? "block" : "none";
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    launcher.setAttribute("aria-label", open ? "关闭协商助手聊天" : "打开协商助手聊天");
    launcher.textContent = open ? "✕" : "💬";
    // on a phone the panel covers the page: hide the launcher (the panel has its own close button)
    launcher.style.display = open && phone() ? "none" : "block";
    if (moveFocus === false) return;
    if (open) {
      frame.focus();
      try { frame.contentWindow.postMessage({ type: "xieshang:focus" }, server); } catch (e) { /* not loaded yet */ }
    } else {
      launcher.focus();
    }
  }

  function init() {
    launcher = document.createElement("button");
    launcher.type = "button";
    launcher.setAttribute("data-xieshang", "launcher");
    launcher.setAttribute("aria-haspopup", "dialog");
    launcher.title = "协商助手：网贷逾期、协商还款、应对催收";
    css(launcher, { position: "fixed", right: "20px", bottom: "20px", zIndex: Z, width: "56px", height: "56px",
      borderRadius: "50%", border: "0", background: "#0b5e49", color: "#fff", fontSize: "24px", lineHeight: "56px",
      textAlign: "center", padding: "0", cursor: "pointer", boxShadow: "0 4px 16px rgba(0,0,0,.3)" });
    launcher.addEventListener("click", function () { setOpen(!open); });
    document.body.appendChild(launcher);
    setOpen(false, false);
    window.addEventListener("resize", function () { layout(); setOpen(open, false); });
    window.addEventListener("message", function (e) {
      if (e.origin !== server || !frame || e.source !== frame.contentWindow) return;
      if (e.data && e.data.type === "xieshang:close") setOpen(false);
    });
  }

  if (document.body) init();
  else document.addEventListener("DOMContentLoaded", init);
})();
