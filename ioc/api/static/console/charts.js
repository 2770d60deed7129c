// Charts on the alert, device and district pages: uPlot over /ui/data/series.
// A chart element says what to draw in data-* attributes; level and clear lines are
// drawn as constant series (dashed), so they read without colour too.
(function () {
  "use strict";
  function css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

  function draw(node) {
    var q = new URLSearchParams({ metric: node.dataset.metric, bucket: node.dataset.bucket || "1m" });
    if (node.dataset.device) q.set("device", node.dataset.device);
    if (node.dataset.district) { q.set("district", node.dataset.district); q.set("domain", node.dataset.domain); }
    var hours = 24, stop = Date.now();
    if (node.dataset.start) {  // around an alert: an hour before it to now (or its end)
      var start = Date.parse(node.dataset.start), end = node.dataset.end ? Date.parse(node.dataset.end) : Date.now();
      end = Math.min(Date.now(), end + 30 * 60 * 1000);
      hours = Math.max((end - start) / 3600000 + 1, 0.25);
      q.set("end", new Date(end).toISOString());
      stop = end;
    }
    q.set("hours", String(Math.min(hours, 168)));
    fetch("/ui/data/series?" + q, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (d) {
      if (!d.t.length) { node.textContent = "No readings in this window."; node.classList.add("muted"); return; }
      var data = [d.t, d.avg], series = [{}, { label: node.dataset.metric + " (avg)", stroke: css("--link"), width: 2 }];
      [["level", "--critical"], ["clear", "--ok"]].forEach(function (pair) {
        var v = node.dataset[pair[0]];
        if (v !== undefined && v !== "") {
          data.push(d.t.map(function () { return Number(v); }));
          series.push({ label: pair[0] + " " + v, stroke: css(pair[1]), dash: [8, 6], width: 2 });
        }
      });
      var axis = { stroke: css("--muted"), grid: { stroke: css("--line") } };
      node.textContent = "";
      var range = [(stop - hours * 3600000) / 1000, stop / 1000];  // the window asked, even if sparse
      new uPlot({ width: Math.max(node.clientWidth - 20, 300), height: 260, series: series, axes: [axis, axis],
                  scales: { x: { time: true, range: function () { return range; } } } }, data, node);
      node.setAttribute("data-drawn", "yes");
    }).catch(function () { node.textContent = "The chart could not be loaded."; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".chart[data-metric]").forEach(draw);
  });
})();
