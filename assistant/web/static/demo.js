/* The demo host page's own script, standing in for the bank's site: customer tokens live
   15 minutes, so every 10 minutes it fetches a fresh one and hands it to the widget. */
(function () {
  "use strict";
  var script = document.currentScript;
  var customer = script ? script.getAttribute("data-customer") : "";
  if (!customer) return;
  function refresh() {
    fetch("/demo/token?customer=" + encodeURIComponent(customer), { cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (body && body.token && window.KestrelWidget && window.KestrelWidget.setCustomerToken) {
          window.KestrelWidget.setCustomerToken(body.token);
        }
      })
      .catch(function () { /* offline: the next round tries again */ });
  }
  setInterval(refresh, 10 * 60 * 1000);
})();
