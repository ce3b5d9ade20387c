// linerate's live dashboard: lists the server's runs (GET /runs, refreshed),
// shows the selected one (the newest running one unless the user picked
// one): state, verdict, setup, a per-stream table with stop/start buttons,
// and charts of tx/rx rate, loss and p99 latency over time — history from
// GET /runs/{id}/intervals, then live from GET /runs/{id}/events, read with
// fetch() and a stream reader (not EventSource) so that the Authorization
// header goes with it when the server wants a token.
(function () {
  "use strict";

  var Charts = window.LinerateCharts;
  var F = Charts.format;
  var TOKEN_KEY = "linerate-token";
  var REFRESH_MS = 2000;

  var state = {
    runs: [],
    selectedId: null,
    picked: false, // the user chose the run: do not follow newer runs
    info: null,
    charts: null,
    latest: null, // the newest interval section shown
    historyLoaded: false,
    buffered: [], // events that came before the history
    events: null, // AbortController of the open events stream
    generation: 0, // bumped on every selection; stale answers are dropped
  };

  // ---- the API -------------------------------------------------------------

  function ApiError(status, message) {
    this.status = status;
    this.message = message;
  }

  function authHeaders(extra) {
    var headers = extra || {};
    var token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = "Bearer " + token;
    return headers;
  }

  function runPath(id, rest) {
    return "runs/" + encodeURIComponent(id) + (rest || "");
  }

  async function api(method, path, body) {
    var options = { method: method, headers: authHeaders(body === undefined ? {} : { "Content-Type": "application/json" }) };
    if (body !== undefined) options.body = JSON.stringify(body);
    var response = await fetch(path, options);
    if (response.status === 401) {
      askForToken();
      throw new ApiError(401, "the server wants its API token");
    }
    if (!response.ok) {
      var text = await response.text();
      var message = text;
      try { message = JSON.parse(text).error || text; } catch (ignored) { /* not JSON */ }
      throw new ApiError(response.status, method + " /" + path + ": " + response.status + " " + message);
    }
    return response.status === 204 ? null : response.json();
  }

  /** Shows an API failure; the page's health list keeps it (401 asks for the token instead). */
  function problem(error) {
    if (error instanceof ApiError && error.status === 401) return;
    var message = error && error.message ? error.message : String(error);
    setConnection("error: " + message);
    window.LinerateHealth.record(message);
  }

  function setConnection(text) {
    document.getElementById("connection").textContent = text;
  }

  // ---- the token -------------------------------------------------------------

  function askForToken() {
    var form = document.getElementById("token-form");
    if (!form.hidden) return;
    sessionStorage.removeItem(TOKEN_KEY);
    form.hidden = false;
    setConnection("needs the API token");
    document.getElementById("token-input").focus();
  }

  document.getElementById("token-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var input = document.getElementById("token-input");
    var token = input.value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    input.value = "";
    document.getElementById("token-form").hidden = true;
    var id = state.selectedId;
    state.selectedId = null;
    refreshOnce().then(function () { if (id && !state.selectedId) return select(id, state.picked); }).catch(problem);
  });

  // ---- small DOM helpers -------------------------------------------------------

  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (key) {
      if (key === "text") node.textContent = attributes[key];
      else if (key === "class") node.className = attributes[key];
      else node.setAttribute(key, attributes[key]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function cell(text, className) {
    return el("td", className ? { text: text, class: className } : { text: text });
  }

  function fill(tbody, rows) {
    tbody.replaceChildren.apply(tbody, rows);
  }

  function baseName(path) {
    var parts = String(path || "").split("/");
    return parts[parts.length - 1] || String(path || "");
  }

  function localTime(unixSeconds) {
    if (unixSeconds == null) return "–";
    var date = new Date(unixSeconds * 1000);
    var pad = function (n) { return String(n).padStart(2, "0"); };
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + " " +
      pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds());
  }

  function mebibytes(bytes) {
    return bytes == null ? "–" : (bytes / 1048576).toFixed(1) + " MiB";
  }

  // ---- runs list ---------------------------------------------------------------

  function isLive(run) {
    return run.state === "running" || run.state === "stopping";
  }

  /** The run to show: the user's pick, else the newest running one, else the one shown, else the newest. */
  function chooseRun(runs) {
    var byId = {};
    runs.forEach(function (run) { byId[run.id] = run; });
    var current = state.selectedId && byId[state.selectedId];
    if (current && (state.picked || isLive(current))) return current.id;
    var newest = function (list) {
      return list.reduce(function (best, run) {
        return !best || (run.started_unix_s || 0) > (best.started_unix_s || 0) ? run : best;
      }, null);
    };
    var running = newest(runs.filter(isLive));
    if (running) return running.id;
    if (current) return current.id;
    var any = newest(runs);
    return any ? any.id : null;
  }

  function renderRuns() {
    var tbody = document.querySelector("#runs tbody");
    var runs = state.runs.slice().sort(function (a, b) { return (b.started_unix_s || 0) - (a.started_unix_s || 0); });
    fill(tbody, runs.map(function (run) {
      var row = el("tr", { class: run.id === state.selectedId ? "selected" : "", title: run.source || "" }, [
        cell(run.id, "text mono"),
        el("td", { class: "text" }, [el("span", { class: "badge " + run.state, text: run.state })]),
        cell(baseName(run.source), "text"),
        cell(F.seconds(run.elapsed_s)),
      ]);
      row.addEventListener("click", function () { select(run.id, true).catch(problem); });
      return row;
    }));
    document.getElementById("no-runs").hidden = runs.length > 0;
  }

  async function refreshOnce() {
    var runs = await api("GET", "runs");
    state.runs = runs;
    var choice = chooseRun(runs);
    if (choice !== state.selectedId) {
      await select(choice, false);
    } else if (choice) {
      var generation = state.generation;
      var info = await api("GET", runPath(choice));
      if (generation !== state.generation) return;
      state.info = info;
      renderRun();
      renderStreams();
      // The events stream ended early (server restart, network): start over.
      if (isLive(info) && !state.events && state.historyLoaded) await select(choice, state.picked);
    }
    renderRuns();
    setConnection("updated " + localTime(Date.now() / 1000).slice(11));
  }

  function refreshLoop() {
    refreshOnce().catch(problem).then(function () { setTimeout(refreshLoop, REFRESH_MS); });
  }

  // ---- the selected run ----------------------------------------------------------

  async function select(id, picked) {
    stopEvents();
    state.generation += 1;
    var generation = state.generation;
    state.selectedId = id;
    if (picked) state.picked = true;
    state.info = null;
    state.latest = null;
    state.historyLoaded = false;
    state.buffered = [];
    renderRuns();
    document.getElementById("run").hidden = !id;
    document.getElementById("no-run").hidden = !!id;
    if (!id) return;
    var info = await api("GET", runPath(id));
    if (generation !== state.generation) return;
    state.info = info;
    buildCharts(info.streams || []);
    renderRun();
    renderStreams();
    if (isLive(info)) readEvents(id, generation).catch(problem);
    var history = await api("GET", runPath(id, "/intervals"));
    if (generation !== state.generation) return;
    state.historyLoaded = true;
    if (history.length) {
      state.latest = history[history.length - 1];
      chartsDo(function (chart) { chart.setIntervals(history); });
    }
    state.buffered.forEach(onInterval);
    state.buffered = [];
    renderStreams();
  }

  function chartsDo(action) {
    if (state.charts) state.charts.forEach(action);
  }

  function buildCharts(streams) {
    var ids = ["chart-rate", "chart-loss", "chart-latency"];
    ids.forEach(function (id) {
      var node = document.getElementById(id);
      node.replaceChildren();
      delete node.dataset.drawn;
    });
    state.charts = [
      new Charts.TimeChart(document.getElementById("chart-rate"), {
        title: "Rate per stream (tx dashed, rx solid)", yLabel: "frames/s",
        format: F.fps, axisFormat: function (v) { return F.si(v, 3); },
        series: Charts.rateSeries(streams), height: 240,
      }),
      new Charts.TimeChart(document.getElementById("chart-loss"), {
        title: "Lost so far (missing below the highest received)", yLabel: "frames",
        format: F.count, axisFormat: function (v) { return F.si(v, 3); }, integer: true,
        series: Charts.lossSeries(streams), height: 220,
      }),
      new Charts.TimeChart(document.getElementById("chart-latency"), {
        title: "p99 latency per interval", yLabel: "latency (log)", format: F.latency, log: true,
        series: Charts.latencySeries(streams, ["p99"]), height: 220,
      }),
    ];
  }

  function onInterval(interval) {
    if (!state.historyLoaded) {
      state.buffered.push(interval);
      return;
    }
    if (state.latest && interval.elapsed_s <= state.latest.elapsed_s) return;
    state.latest = interval;
    chartsDo(function (chart) { chart.push(interval); });
    renderStreams();
  }

  function onEnd(end) {
    if (!state.info) return;
    state.info.state = end.state;
    state.info.verdict = end.verdict;
    state.info.error = end.error;
    renderRun();
    renderStreams();
  }

  // ---- the events stream (server-sent events over fetch) ---------------------------

  function stopEvents() {
    if (state.events) state.events.abort();
    state.events = null;
  }

  async function readEvents(id, generation) {
    var controller = new AbortController();
    state.events = controller;
    try {
      var response = await fetch(runPath(id, "/events"), {
        headers: authHeaders({ Accept: "text/event-stream" }),
        signal: controller.signal,
      });
      if (response.status === 401) { askForToken(); return; }
      if (!response.ok) throw new ApiError(response.status, "GET /" + runPath(id, "/events") + ": " + response.status);
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) break;
        buffer += decoder.decode(chunk.value, { stream: true });
        var blocks = buffer.split(/\r\n\r\n|\n\n|\r\r/);
        buffer = blocks.pop();
        blocks.forEach(function (block) {
          var event = parseEvent(block);
          if (event && generation === state.generation) dispatch(event);
        });
      }
    } catch (error) {
      if (error && error.name === "AbortError") return;
      throw error;
    } finally {
      if (state.events === controller) state.events = null;
    }
  }

  /** One server-sent event from its lines: {event, data} or null (a comment, a keep-alive). */
  function parseEvent(block) {
    var name = "message";
    var data = [];
    block.split(/\r\n|\n|\r/).forEach(function (line) {
      if (line === "" || line[0] === ":") return;
      var colon = line.indexOf(":");
      var field = colon < 0 ? line : line.slice(0, colon);
      var value = colon < 0 ? "" : line.slice(colon + 1);
      if (value[0] === " ") value = value.slice(1);
      if (field === "event") name = value;
      else if (field === "data") data.push(value);
    });
    return data.length ? { event: name, data: data.join("\n") } : null;
  }

  function dispatch(event) {
    if (event.event === "interval") onInterval(JSON.parse(event.data));
    else if (event.event === "end") onEnd(JSON.parse(event.data));
  }

  // ---- rendering the run ------------------------------------------------------------

  function renderRun() {
    var info = state.info;
    if (!info) return;
    document.getElementById("run-title").textContent = info.id + " · " + baseName(info.source);
    var badge = document.getElementById("run-state");
    badge.className = "badge " + info.state;
    badge.textContent = info.state;
    renderVerdict(info.verdict);
    var facts = [
      ["scenario", info.source],
      ["started", localTime(info.started_unix_s)],
      ["elapsed", F.seconds(info.elapsed_s)],
      ["streams", String((info.streams || []).length)],
    ];
    fill(document.getElementById("run-facts"), facts.reduce(function (nodes, fact) {
      return nodes.concat([el("dt", { text: fact[0] }), el("dd", { text: fact[1] })]);
    }, []));
    var error = document.getElementById("run-error");
    error.hidden = !info.error;
    error.textContent = info.error || "";
    document.getElementById("stop-run").disabled = info.state !== "running";
    document.getElementById("download-report").hidden = isLive(info) || info.state === "failed";
    renderSetup(info.setup || { tx: [], rx: [] });
  }

  function renderVerdict(verdict) {
    var badge = document.getElementById("run-verdict");
    var failures = document.getElementById("run-failures");
    badge.hidden = !verdict;
    failures.hidden = true;
    if (!verdict) return;
    var words = [verdict.passed ? "PASS" : "FAIL"];
    if (verdict.interrupted) words.push("interrupted");
    if (verdict.stopped_on_request) words.push("stopped on request");
    badge.className = "badge " + (verdict.passed ? "pass" : "fail");
    badge.textContent = words.join(" · ");
    fill(failures, (verdict.failures || []).map(function (text) { return el("li", { text: text }); }));
    failures.hidden = !(verdict.failures || []).length;
  }

  function renderSetup(setup) {
    fill(document.querySelector("#setup-tx tbody"), (setup.tx || []).map(function (tx) {
      return el("tr", {}, [
        cell(tx.port, "text"), cell(tx.interface, "text mono"), cell(String(tx.queue)),
        cell(tx.xsk_mode, "text"), cell(tx.core == null ? "–" : String(tx.core)),
        cell(mebibytes(tx.umem_bytes)), cell((tx.streams || []).join(", "), "text"),
      ]);
    }));
    fill(document.querySelector("#setup-rx tbody"), (setup.rx || []).map(function (rx) {
      return el("tr", {}, [cell(rx.port, "text"), cell(rx.interface, "text mono"), cell(rx.xdp_mode, "text")]);
    }));
  }

  function renderStreams() {
    var info = state.info;
    if (!info) return;
    var latest = state.latest;
    var running = info.state === "running";
    document.getElementById("streams-when").textContent = latest
      ? "at " + F.seconds(latest.elapsed_s) + (latest.final ? " (final)" : "")
      : "(no interval yet)";
    fill(document.querySelector("#streams tbody"), (info.streams || []).map(function (stream, index) {
      var now = latest ? Charts.streamIn(latest, stream.id) : null;
      var value = function (pick, format) { return now ? format(pick(now)) : "–"; };
      var button = el("button", { type: "button", text: stream.stopped ? "start" : "stop" });
      button.disabled = !running;
      button.addEventListener("click", function () { toggleStream(stream, button).catch(problem); });
      var lost = now ? now.lost_so_far : 0;
      return el("tr", { class: stream.stopped ? "stopped" : "" }, [
        el("td", { class: "text" }, [
          el("span", { class: "swatch", style: "background:" + Charts.streamColor(index) }),
          document.createTextNode(stream.name),
        ]),
        cell(stream.stopped ? "stopped" : running ? "sending" : "–", "text"),
        cell(value(function (s) { return s.tx_frames; }, F.count)),
        cell(value(function (s) { return s.rx_frames; }, F.count)),
        cell(value(function (s) { return s.tx_fps; }, F.fps)),
        cell(value(function (s) { return s.rx_fps; }, F.fps)),
        cell(value(function (s) { return s.rx_bps; }, F.bits)),
        cell(value(function (s) { return s.lost_so_far; }, F.count), lost > 0 ? "bad" : ""),
        cell(value(function (s) { return s.duplicates; }, F.count)),
        cell(value(function (s) { return s.late; }, F.count)),
        cell(value(function (s) { return s.latency_ns ? s.latency_ns.p99 : null; }, F.latency)),
        el("td", {}, [button]),
      ]);
    }));
  }

  async function toggleStream(stream, button) {
    var id = state.selectedId;
    button.disabled = true;
    var action = stream.stopped ? "/start" : "/stop";
    var answer = await api("POST", runPath(id, "/streams/" + encodeURIComponent(stream.name) + action));
    if (id !== state.selectedId || !state.info) return;
    stream.stopped = answer.stopped;
    renderStreams();
  }

  document.getElementById("stop-run").addEventListener("click", function () {
    var id = state.selectedId;
    if (!id) return;
    this.disabled = true;
    api("POST", runPath(id, "/stop")).then(function (info) {
      if (id !== state.selectedId) return;
      state.info = info;
      renderRun();
      renderStreams();
    }).catch(problem);
  });

  document.getElementById("download-report").addEventListener("click", function () {
    var id = state.selectedId;
    if (!id) return;
    api("GET", runPath(id, "/report")).then(function (report) {
      var blob = new Blob([JSON.stringify(report, null, 2)], { type: "application/json" });
      var link = el("a", { href: URL.createObjectURL(blob), download: "linerate-" + id + ".json" });
      document.body.appendChild(link);
      link.click();
      link.remove();
    }).catch(problem);
  });

  refreshLoop();
})();
