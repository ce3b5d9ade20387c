// linerate's chart code, shared by the live dashboard and the HTML run
// report: number formatting with units, one colour per stream, and charts
// on top of uPlot (vendor/uPlot.iife.min.js) drawn from the report model's
// interval sections (IntervalSection, see engine/src/report.rs): tx/rx rate,
// loss, latency over time, and the whole run's latency distribution.
// Each chart, once drawn with data, sets data-drawn="N points" on its
// container (the pages' tests read it).
(function () {
  "use strict";

  var PALETTE = [
    "#1f63c6", "#e07b00", "#1b8a5a", "#c0262d", "#7b4fbf",
    "#8c5a2b", "#d4459c", "#4d5566", "#8a9a00", "#0f9bb0",
  ];
  var GRID = { stroke: "#e8ebf0", width: 1 };
  var TICKS = { stroke: "#c9ced8", width: 1, size: 4 };
  var AXIS_FONT = "11px system-ui, 'DejaVu Sans', sans-serif";
  var LABEL_FONT = "600 11px system-ui, 'DejaVu Sans', sans-serif";

  /** The colour of the stream at `index` in the scenario's order. */
  function streamColor(index) {
    return PALETTE[index % PALETTE.length];
  }

  // ---- numbers with units ------------------------------------------------

  /** 1234567 -> "1.23M", 950 -> "950"; `digits` significant digits. */
  function si(value, digits) {
    if (value == null || !isFinite(value)) return "–";
    var sign = value < 0 ? "-" : "";
    var abs = Math.abs(value);
    var units = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];
    for (var i = 0; i < units.length; i++) {
      if (abs >= units[i][0]) {
        return sign + trim(abs / units[i][0], digits || 3) + units[i][1];
      }
    }
    return sign + trim(abs, digits || 3);
  }

  /** A number to `digits` significant digits without trailing zeros. */
  function trim(value, digits) {
    if (value === 0) return "0";
    var text = Number(value.toPrecision(digits));
    return String(text);
  }

  /** A count with thousands separators: 1,000,000. */
  function count(value) {
    if (value == null || !isFinite(value)) return "–";
    return Math.round(value).toLocaleString("en-US");
  }

  /** Frames per second, e.g. "200.0k fps"; `bare` leaves the unit off. */
  function fps(value, bare) {
    if (value == null || !isFinite(value)) return "–";
    return si(value, 4) + (bare ? "" : " fps");
  }

  /** Bits per second, e.g. "96 Mbit/s". */
  function bits(value) {
    if (value == null || !isFinite(value)) return "–";
    var parts = /^(-?[0-9.]+)([kMGT]?)$/.exec(si(value, 3));
    return parts ? parts[1] + " " + parts[2] + "bit/s" : si(value, 3) + " bit/s";
  }

  /** A latency in nanoseconds, e.g. "850 ns", "12.4 µs", "1.25 ms". */
  function latency(ns) {
    if (ns == null || !isFinite(ns)) return "–";
    if (ns < 1e3) return Math.round(ns) + " ns";
    if (ns < 1e6) return trim(ns / 1e3, 3) + " µs";
    if (ns < 1e9) return trim(ns / 1e6, 3) + " ms";
    return trim(ns / 1e9, 3) + " s";
  }

  /** Seconds, e.g. "12.5 s". */
  function seconds(value) {
    if (value == null || !isFinite(value)) return "–";
    return (value < 10 ? value.toFixed(2) : value.toFixed(1)) + " s";
  }

  /** Axis steps that are whole numbers (1, 2, 5, 10, ...). */
  var WHOLE_STEPS = (function () {
    var steps = [];
    for (var power = 1; power <= 1e15; power *= 10) steps.push(power, 2 * power, 5 * power);
    return steps;
  })();

  // ---- series over time ----------------------------------------------------

  /** Looks a stream up in an interval section by id. */
  function streamIn(interval, id) {
    var streams = interval.streams || [];
    for (var i = 0; i < streams.length; i++) if (streams[i].id === id) return streams[i];
    return null;
  }

  function positive(value) {
    return value != null && value > 0 ? value : null;
  }

  /**
   * Series for the tx and rx rate of each stream (tx dashed, rx solid, one
   * colour per stream). `streams`: [{id, name}] in the scenario's order.
   */
  function rateSeries(streams) {
    var series = [];
    streams.forEach(function (stream, index) {
      series.push({
        label: stream.name + " tx", color: streamColor(index), dash: [6, 4], width: 1.5,
        pick: function (interval) { var s = streamIn(interval, stream.id); return s ? s.tx_fps : null; },
      });
      series.push({
        label: stream.name + " rx", color: streamColor(index), width: 2,
        pick: function (interval) { var s = streamIn(interval, stream.id); return s ? s.rx_fps : null; },
      });
    });
    return series;
  }

  /** Series for each stream's frames lost so far. */
  function lossSeries(streams) {
    return streams.map(function (stream, index) {
      return {
        label: stream.name, color: streamColor(index), width: 2,
        pick: function (interval) { var s = streamIn(interval, stream.id); return s ? s.lost_so_far : null; },
      };
    });
  }

  var LATENCY_STYLE = {
    p50: { width: 1, dash: null },
    p90: { width: 1, dash: [4, 3] },
    p99: { width: 2, dash: null },
    p99_9: { width: 1, dash: [4, 3] },
    max: { width: 1, dash: [2, 3] },
  };

  /**
   * Series for latency percentiles of each stream per interval (`which`:
   * keys of LatencySection such as "p50", "p99", "max"), in nanoseconds.
   */
  function latencySeries(streams, which) {
    var series = [];
    streams.forEach(function (stream, index) {
      which.forEach(function (key) {
        var style = LATENCY_STYLE[key] || { width: 1 };
        series.push({
          label: stream.name + " " + key.replace("_", "."),
          color: streamColor(index), width: style.width, dash: style.dash,
          pick: function (interval) {
            var s = streamIn(interval, stream.id);
            return s && s.latency_ns ? positive(s.latency_ns[key]) : null;
          },
        });
      });
    });
    return series;
  }

  // ---- charts ----------------------------------------------------------------

  function chartWidth(container) {
    return Math.max(260, (container.clientWidth || 600) - 14);
  }

  function markDrawn(container) {
    return function (plot) {
      var points = plot.data[0] ? plot.data[0].length : 0;
      if (points > 0) container.dataset.drawn = points + " points";
    };
  }

  function followWidth(container, plot, height) {
    if (typeof ResizeObserver === "undefined") return;
    var last = chartWidth(container);
    new ResizeObserver(function () {
      var width = chartWidth(container);
      if (Math.abs(width - last) > 2) {
        last = width;
        plot.setSize({ width: width, height: height });
      }
    }).observe(container);
  }

  /** A log scale's range: from the decade below the smallest value to the decade above the largest. */
  function decadeRange(plot, min, max) {
    if (!(min > 0) || !(max > 0)) return [1e3, 1e6];
    var low = Math.pow(10, Math.floor(Math.log10(min)));
    var high = Math.pow(10, Math.ceil(Math.log10(max)));
    return [low, high > low ? high : low * 10];
  }

  /**
   * Log-scale splits kept at 1, 2 and 5 times a power of ten while the
   * axis spans at most two decades, at whole decades beyond: all nine
   * lines of each decade crowd a small chart.
   */
  function logSplits(plot, splits) {
    var scale = plot.scales.y;
    var decades = scale.min > 0 ? Math.log10(scale.max / scale.min) : 99;
    var kept = decades <= 2.01 ? [1, 2, 5] : [1];
    return splits.map(function (v) {
      if (!(v > 0)) return null;
      var mantissa = Math.round(v / Math.pow(10, Math.floor(Math.log10(v) + 1e-9)));
      return kept.indexOf(mantissa) >= 0 ? v : null;
    });
  }

  function yAxis(label, format, integer, log) {
    var axis = {
      label: label, labelFont: LABEL_FONT, font: AXIS_FONT, size: 64, labelSize: 18,
      grid: GRID, ticks: TICKS,
      values: function (plot, splits) {
        return splits.map(function (v) { return v == null ? "" : format(v); });
      },
    };
    if (integer) axis.incrs = WHOLE_STEPS;
    if (log) {
      axis.filter = logSplits;
      axis.grid = { stroke: GRID.stroke, width: GRID.width, filter: logSplits };
      axis.ticks = { stroke: TICKS.stroke, width: TICKS.width, size: TICKS.size, filter: logSplits };
    }
    return axis;
  }

  /**
   * A chart of values over the run's elapsed time in `container`:
   * spec = {title, yLabel, format(value) -> text (legend), axisFormat (ticks;
   *         format if not given), log, integer, height,
   *         series: [{label, color, width, dash, pick(interval) -> value}]}.
   * Fill with setIntervals(list) and push(interval) as intervals arrive.
   */
  function TimeChart(container, spec) {
    this.container = container;
    this.spec = spec;
    this.columns = [[]].concat(spec.series.map(function () { return []; }));
    var height = spec.height || 230;
    var format = spec.format;
    var yScale = spec.log
      ? { distr: 3, log: 10, range: decadeRange }
      : { range: function (plot, min, max) { return [0, max > 0 ? max * 1.08 : 1]; } };
    var options = {
      title: spec.title,
      width: chartWidth(container),
      height: height,
      scales: { x: { time: false }, y: yScale },
      axes: [
        {
          label: "elapsed time (s)", labelFont: LABEL_FONT, font: AXIS_FONT, labelSize: 18,
          grid: GRID, ticks: TICKS,
          values: function (plot, splits) { return splits.map(function (v) { return trim(v, 4); }); },
        },
        yAxis(spec.yLabel, spec.axisFormat || format, spec.integer, spec.log),
      ],
      series: [{ label: "elapsed", value: function (plot, v) { return v == null ? "–" : seconds(v); } }]
        .concat(spec.series.map(function (s) {
          return {
            label: s.label, stroke: s.color, width: s.width || 1.5, dash: s.dash || undefined,
            spanGaps: false,
            value: function (plot, v) { return v == null ? "–" : format(v); },
          };
        })),
      legend: { live: true },
      cursor: { drag: { x: true, y: false }, points: { size: 6 } },
      hooks: {
        draw: [markDrawn(container)],
        ready: [function (plot) { showInLegend(plot, plot.data[0].length - 1); }],
      },
    };
    this.plot = new uPlot(options, this.columns, container);
    followWidth(container, this.plot, height);
  }

  /** Replaces the chart's data with `intervals` (in order). */
  TimeChart.prototype.setIntervals = function (intervals) {
    var self = this;
    this.columns = [[]].concat(this.spec.series.map(function () { return []; }));
    intervals.forEach(function (interval) { self.append(interval); });
    this.redraw();
  };

  /** Adds one interval at the end and redraws. */
  TimeChart.prototype.push = function (interval) {
    this.append(interval);
    this.redraw();
  };

  /** Draws the data; the legend shows the newest values until the cursor picks others. */
  TimeChart.prototype.redraw = function () {
    this.plot.setData(this.columns);
    showInLegend(this.plot, this.columns[0].length - 1);
  };

  /** Shows the values at `index` in the legend while the cursor is off the chart. */
  function showInLegend(plot, index) {
    if (index >= 0 && plot.cursor.idx == null) plot.setLegend({ idx: index });
  }

  TimeChart.prototype.append = function (interval) {
    var columns = this.columns;
    columns[0].push(interval.elapsed_s);
    this.spec.series.forEach(function (series, index) {
      var value = series.pick(interval);
      columns[index + 1].push(value == null ? null : value);
    });
  };

  /** The points of the whole-run latency distribution, in this order. */
  var DISTRIBUTION = [
    ["min", "min"], ["p50", "p50"], ["p90", "p90"], ["p99", "p99"], ["p99.9", "p99_9"], ["max", "max"],
  ];

  /**
   * The whole run's latency distribution per stream as a step chart over
   * min, p50, p90, p99, p99.9 and max (log latency axis).
   * streams: [{name, latency: LatencySection|null}] in the scenario's order.
   */
  function DistributionChart(container, spec) {
    var xs = DISTRIBUTION.map(function (entry, index) { return index; });
    var columns = [xs];
    var series = [{ label: "percentile", value: function (plot, v) { return v == null ? "–" : DISTRIBUTION[v][0]; } }];
    spec.streams.forEach(function (stream, index) {
      if (!stream.latency) return;
      columns.push(DISTRIBUTION.map(function (entry) { return positive(stream.latency[entry[1]]); }));
      series.push({
        label: stream.name, stroke: streamColor(index), width: 2,
        paths: uPlot.paths.stepped({ align: 1 }),
        points: { show: true, size: 7, fill: streamColor(index) },
        value: function (plot, v) { return latency(v); },
      });
    });
    var height = spec.height || 230;
    var options = {
      title: spec.title,
      width: chartWidth(container),
      height: height,
      scales: {
        x: { time: false, range: [-0.25, DISTRIBUTION.length - 0.75] },
        y: { distr: 3, log: 10, range: decadeRange },
      },
      axes: [
        {
          label: "percentile of the run's frames", labelFont: LABEL_FONT, font: AXIS_FONT, labelSize: 18,
          grid: GRID, ticks: TICKS,
          splits: function () { return xs; },
          values: function (plot, splits) {
            return splits.map(function (v) { return DISTRIBUTION[v] ? DISTRIBUTION[v][0] : ""; });
          },
        },
        yAxis("latency", latency, false, true),
      ],
      series: series,
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      hooks: {
        draw: [function (plot) {
          if (plot.data.length > 1) container.dataset.drawn = (plot.data.length - 1) * xs.length + " points";
        }],
        // The legend shows p99 while the cursor is off the chart.
        ready: [function (plot) { showInLegend(plot, 3); }],
      },
    };
    if (columns.length === 1) {
      container.innerHTML = '<div class="empty">no latency measured</div>';
      return;
    }
    this.plot = new uPlot(options, columns, container);
    followWidth(container, this.plot, height);
  }

  window.LinerateCharts = {
    streamColor: streamColor,
    format: { si: si, count: count, fps: fps, bits: bits, latency: latency, seconds: seconds },
    rateSeries: rateSeries,
    lossSeries: lossSeries,
    latencySeries: latencySeries,
    streamIn: streamIn,
    TimeChart: TimeChart,
    DistributionChart: DistributionChart,
  };
})();
