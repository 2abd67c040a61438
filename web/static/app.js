// Sendora dashboard: a little progressive enhancement. Every action works
// without this file; it adds copy buttons, submit-on-change selects and
// the live refresh of Recent rejections. Loaded with the page's CSP nonce.
(function () {
  "use strict";

  // Copy buttons: <button data-copy="ID" hidden> copies #ID's text. They are
  // hidden without JavaScript because they could not work.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Plain http on a non-local host: the Clipboard API is unavailable.
    return new Promise(function (resolve, reject) {
      var ta = document.createElement("textarea");
      ta.value = text;
      ta.setAttribute("readonly", "");
      ta.className = "visually-hidden";
      document.body.appendChild(ta);
      ta.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(ta);
      if (ok) { resolve(); } else { reject(new Error("copy failed")); }
    });
  }

  function setupCopy(btn) {
    var target = document.getElementById(btn.getAttribute("data-copy"));
    if (!target) { return; }
    btn.hidden = false;
    var label = btn.textContent;
    var status = document.getElementById("copy-status");
    btn.addEventListener("click", function () {
      copyText(target.textContent.trim()).then(function () {
        btn.textContent = "Copied";
        if (status) { status.textContent = (btn.getAttribute("aria-label") || label) + ": copied to the clipboard."; }
        window.setTimeout(function () { btn.textContent = label; }, 2000);
      }, function () {
        if (status) { status.textContent = "Could not copy; select the text and copy it by hand."; }
        var range = document.createRange();
        range.selectNodeContents(target);
        var sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
      });
    });
  }

  // <select data-autosubmit> submits its form on change; the form's
  // [data-js-hide] button is only needed without JavaScript.
  function setupAutosubmit(sel) {
    var form = sel.form;
    if (!form) { return; }
    form.querySelectorAll("[data-js-hide]").forEach(function (el) { el.hidden = true; });
    sel.addEventListener("change", function () {
      if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
    });
  }

  // <div data-live-src=URL data-live-interval=S> is replaced every S
  // seconds by the HTML fragment at URL, while the tab is visible and the
  // keyboard focus is not inside it.
  function setupLive(box) {
    var src = box.getAttribute("data-live-src");
    var every = Math.max(5, parseInt(box.getAttribute("data-live-interval") || "10", 10)) * 1000;
    var status = document.getElementById(box.getAttribute("data-live-status") || "");
    var busy = false;
    var stopped = false;

    function firstID() {
      var row = box.querySelector("tr[data-id]");
      return row ? parseInt(row.getAttribute("data-id"), 10) : 0;
    }
    function say(text) { if (status) { status.textContent = text; } }

    function refresh() {
      if (stopped || busy || document.hidden || box.contains(document.activeElement)) { return; }
      busy = true;
      var before = firstID();
      fetch(src, { credentials: "same-origin", cache: "no-store", redirect: "manual", headers: { "Accept": "text/html" } })
        .then(function (res) {
          if (res.type === "opaqueredirect" || res.status === 401 || res.status === 403) {
            stopped = true;
            say("Live refresh stopped: your session ended. Reload the page to sign in again.");
            return null;
          }
          if (!res.ok) { throw new Error("HTTP " + res.status); }
          return res.text();
        })
        .then(function (html) {
          if (html === null) { return; }
          box.innerHTML = html;
          // UTC, like every time the server writes on the page.
          var time = new Date().toISOString().slice(11, 19) + " UTC";
          var fresh = box.querySelectorAll("tr[data-id]");
          var n = 0;
          fresh.forEach(function (tr) { if (parseInt(tr.getAttribute("data-id"), 10) > before) { n++; } });
          if (n > 0) {
            say(n + (n === 1 ? " new rejection" : " new rejections") + " · updated " + time);
          } else {
            say("Live · updated " + time);
          }
        })
        .catch(function () { say("Live refresh failed; retrying."); })
        .then(function () { busy = false; });
    }

    say("Live · refreshes every " + every / 1000 + " s");
    window.setInterval(refresh, every);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) { refresh(); } });
  }

  function init() {
    document.querySelectorAll("button[data-copy]").forEach(setupCopy);
    document.querySelectorAll("select[data-autosubmit]").forEach(setupAutosubmit);
    document.querySelectorAll("[data-live-src]").forEach(setupLive);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
