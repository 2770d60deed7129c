// What every console page shares: the theme toggle, ticking ages, confirmation of
// destructive actions in a native <dialog>, and the CSRF token for scripted requests.
// No framework, no build step; the pages work without it, it only makes them nicer.
(function () {
  "use strict";
  var IOC = (window.IOC = window.IOC || {});

  IOC.csrf = function () {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") || "" : "";
  };

  IOC.duration = function (seconds) {
    var s = Math.max(0, Math.floor(seconds));
    if (s < 60) return s + " s";
    var m = Math.floor(s / 60);
    if (m < 60) return m + " min";
    var h = Math.floor(m / 60); m = m % 60;
    if (h < 24) return h + " h " + (m < 10 ? "0" : "") + m + " min";
    var d = Math.floor(h / 24); h = h % 24;
    return d + " d " + h + " h";
  };

  IOC.tick = function (root) {
    var now = Date.now();
    (root || document).querySelectorAll("[data-since]").forEach(function (el) {
      var since = Date.parse(el.getAttribute("data-since"));
      if (!isNaN(since)) el.textContent = (el.getAttribute("data-prefix") || "") + IOC.duration((now - since) / 1000);
    });
  };

  IOC.el = function (tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  };

  function setupTheme() {
    var button = document.getElementById("theme-toggle");
    if (!button) return;
    var sync = function () {
      var dark = document.documentElement.dataset.theme !== "light";
      button.setAttribute("aria-pressed", dark ? "false" : "true");
      button.textContent = dark ? "☀ Light" : "☾ Dark";
    };
    button.addEventListener("click", function () {
      var next = document.documentElement.dataset.theme === "light" ? "dark" : "light";
      document.documentElement.dataset.theme = next;
      try { localStorage.setItem("ioc-theme", next); } catch (e) { /* not kept */ }
      sync();
      document.dispatchEvent(new CustomEvent("ioc:theme"));
    });
    sync();
  }

  function setupConfirm() {
    var dialog = document.getElementById("confirm-dialog");
    if (!dialog || typeof dialog.showModal !== "function") return;
    var pending = null;
    document.addEventListener("submit", function (ev) {
      var form = ev.target;
      if (!form.hasAttribute("data-confirm") || form.dataset.confirmed === "yes") return;
      ev.preventDefault();
      pending = form;
      dialog.querySelector("[data-confirm-text]").textContent = form.getAttribute("data-confirm");
      dialog.showModal();
    }, true);
    dialog.addEventListener("close", function () {
      if (dialog.returnValue === "yes" && pending) {
        pending.dataset.confirmed = "yes";
        var field = pending.querySelector('input[name="confirm"]');
        if (field) field.value = "yes";
        pending.requestSubmit();
      }
      pending = null;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupTheme();
    setupConfirm();
    IOC.tick();
    setInterval(IOC.tick, 1000);
  });
})();
