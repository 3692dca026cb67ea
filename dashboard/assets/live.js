// Live price of the symbol on the markets page when the wasm client is not available
// (hydrate.js loads this instead): server-sent events from /markets/live. EventSource
// reconnects by itself after the delay the server sends.
(function () {
  "use strict";
  var panel = document.getElementById("live");
  if (!panel || !window.EventSource) { return; }
  var symbol = panel.getAttribute("data-symbol");
  var price = document.getElementById("live-price");
  var ts = document.getElementById("live-ts");
  var status = document.getElementById("live-status");
  var source = new EventSource("/markets/live?symbol=" + encodeURIComponent(symbol));
  source.addEventListener("status", function (e) { status.textContent = e.data; });
  source.addEventListener("tick", function (e) {
    var tick = JSON.parse(e.data);
    var previous = parseFloat(price.textContent);
    var next = parseFloat(tick.price);
    price.textContent = tick.price;
    price.className = next > previous ? "up" : next < previous ? "down" : "";
    ts.textContent = tick.ts;
    ts.setAttribute("datetime", tick.ts);
    status.textContent = "live";
    panel.setAttribute("data-updated", String(Date.now()));
  });
  source.onerror = function () { status.textContent = "reconnecting…"; };
})();
