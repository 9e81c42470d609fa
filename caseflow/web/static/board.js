/* Live countdowns and a 15-second refresh for boards marked with [data-board].
 *
 * Every [data-due] element counts down each second from the server's due time. The clock skew
 * between this browser and the server is taken from the server's "now" (page and each refresh),
 * so a wrong desk clock does not move deadlines. The risk colour follows the share of the
 * deadline left: green over 50 %, amber, red under 20 %, dark red flashing when overdue.
 */
(function () {
  "use strict";
  var board = document.querySelector("[data-board]");
  var units = board || document.querySelector("[data-unit-min]");
  if (!units) { return; }
  var skewMs = 0;

  function setServerNow(iso) {
    var t = Date.parse(iso);
    if (!isNaN(t)) { skewMs = t - Date.now(); }
  }

  function duration(seconds) {
    var s = Math.floor(Math.abs(seconds));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
    var m = Math.floor((s % 3600) / 60), sec = s % 60;
    var parts = [];
    if (d) { parts.push(d + " " + units.dataset.unitD); }
    if (h) { parts.push(h + " " + units.dataset.unitH); }
    if (m || d || h) { parts.push(m + " " + units.dataset.unitMin); }
    if (!d) { parts.push(sec + " " + units.dataset.unitS); }
    return parts.join(" ");
  }

  function risk(left, total) {
    if (left <= 0) { return "overdue"; }
    var share = total > 0 ? left / total : 1;
    if (share > 0.5) { return "ok"; }
    return share >= 0.2 ? "soon" : "danger";
  }

  function setRisk(el, name) {
    el.className = el.className.replace(/\brisk-\w+/, "").trim() + " risk-" + name;
    var row = el.closest("tr");
    if (row) { row.className = row.className.replace(/\brisk-row-\w+/, "").trim() + " risk-row-" + name; }
  }

  function tick() {
    var now = Date.now() + skewMs;
    var cells = document.querySelectorAll("[data-due]");
    for (var i = 0; i < cells.length; i++) {
      var el = cells[i];
      var left = (Date.parse(el.dataset.due) - now) / 1000;
      el.dataset.left = String(Math.round(left));
      var text = duration(left);
      el.textContent = left <= 0 ? units.dataset.overdue.replace("{duration}", text) : text;
      setRisk(el, risk(left, Number(el.dataset.total || 0)));
    }
  }

  function busy(body) {
    // Never swap the rows under someone choosing a unit or typing an explanation.
    var active = document.activeElement;
    return active && body.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName);
  }

  function refresh() {
    var body = board.tBodies[0];
    var status = document.getElementById("board-status");
    if (busy(body)) { return; }
    fetch(board.dataset.source, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) {
        var type = r.headers.get("Content-Type") || "";
        if (!r.ok || type.indexOf("application/json") < 0) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(function (data) {
        if (busy(body)) { return; }
        body.innerHTML = data.html;
        setServerNow(data.now);
        var count = document.getElementById("board-count");
        if (count) { count.textContent = String(data.count); }
        if (status) { status.textContent = board.dataset.updated + " " + new Date().toLocaleTimeString(); }
        tick();
      })
      .catch(function () {
        if (status) { status.textContent = board.dataset.stale; status.className = "risk-danger"; }
      });
  }

  setServerNow(units.dataset.serverNow);
  tick();
  window.setInterval(tick, 1000);
  if (board && board.dataset.source) { window.setInterval(refresh, 15000); }
}());
