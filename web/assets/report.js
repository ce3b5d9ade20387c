// The HTML run report's charts: reads the ReportDocument embedded in the
// page (<script type="application/json" id="report-data">) and draws, with
// the chart code the dashboard uses, each stream's tx/rx rate, loss and
// latency percentiles over time and the whole run's latency distribution;
// colours the streams' swatches in the tables to match.
(function () {
  "use strict";
  var Charts = window.LinerateCharts;
  var F = Charts.format;
  var report = JSON.parse(document.getElementById("report-data").textContent);
  var streams = report.scenario.streams.map(function (stream) { return { id: stream.id, name: stream.name }; });
  var intervals = report.intervals || [];

  document.querySelectorAll("[data-stream-index]").forEach(function (node) {
    node.style.background = Charts.streamColor(Number(node.dataset.streamIndex));
  });

  function byId(id) { return document.getElementById(id); }

  function timeChart(id, spec) {
    var container = byId(id);
    if (!intervals.length) {
      container.innerHTML = '<div class="empty">no report interval was recorded</div>';
      return;
    }
    new Charts.TimeChart(container, spec).setIntervals(intervals);
  }

  timeChart("chart-rate", {
    title: "Rate per stream (tx dashed, rx solid)", yLabel: "frames/s",
    format: F.fps, axisFormat: function (v) { return F.si(v, 3); },
    series: Charts.rateSeries(streams), height: 250,
  });
  timeChart("chart-loss", {
    title: "Lost so far (missing below the highest received)", yLabel: "frames",
    format: F.count, axisFormat: function (v) { return F.si(v, 3); }, integer: true,
    series: Charts.lossSeries(streams), height: 230,
  });
  timeChart("chart-latency", {
    title: "Latency per interval: p50 thin, p99 thick, max dotted", yLabel: "latency (log)",
    format: F.latency, log: true,
    series: Charts.latencySeries(streams, ["p50", "p99", "max"]), height: 230,
  });
  new Charts.DistributionChart(byId("chart-distribution"), {
    title: "Whole-run latency distribution per stream",
    streams: report.streams.map(function (stream) { return { name: stream.name, latency: stream.latency_ns }; }),
    height: 230,
  });
})();
