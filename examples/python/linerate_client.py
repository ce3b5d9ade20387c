"""A small client for linerate's HTTP API (`linerate serve`), standard library only.

The LANforge-style workflow in a few calls:

    client = Linerate("http://127.0.0.1:8080")
    scenario = client.create_scenario(open("scenario.toml").read())
    run = client.start_run(scenario["id"])
    print(client.stats(run["id"]))
    client.stop_stream(run["id"], "video")
    client.start_stream(run["id"], "video")
    client.stop(run["id"])
    result = client.wait_finished(run["id"])
    if not result.passes():
        print(result.get_fail_message())
    client.delete(run["id"])

Errors come back as LinerateError with the API's status, message and field.
"""

import json
import time
import urllib.error
import urllib.parse
import urllib.request


class LinerateError(Exception):
    """An error answer from the API: status, message, and the field, line and column where known."""

    def __init__(self, status, body):
        self.status = status
        self.body = body if isinstance(body, dict) else {"error": str(body)}
        self.message = self.body.get("error", "")
        self.field = self.body.get("field")
        self.line = self.body.get("line")
        self.column = self.body.get("column")
        super().__init__(f"HTTP {status}: {self.message}")


class RunResult:
    """A finished run's report, with LANforge's passes() / get_fail_message()."""

    def __init__(self, report):
        self.report = report

    def passes(self):
        """True when every stream met the scenario's [pass] criteria."""
        return bool(self.report["verdict"]["passed"])

    def get_fail_message(self):
        """Every failed criterion, one per line ("" when the run passed)."""
        return "\n".join(self.report["verdict"]["failures"])

    def stream(self, name):
        """The report's totals for one stream."""
        for stream in self.report["streams"]:
            if stream["name"] == name:
                return stream
        raise KeyError(name)


class Linerate:
    """A client for one linerate server."""

    def __init__(self, base_url="http://127.0.0.1:8080", token=None, timeout=60):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _request(self, method, path, body=None, content_type=None):
        data = None
        headers = {"Accept": "application/json"}
        if body is not None:
            if isinstance(body, (dict, list)):
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            else:
                data = body.encode() if isinstance(body, str) else body
                headers["Content-Type"] = content_type or "application/toml"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as error:
            text = error.read().decode()
            try:
                answer = json.loads(text)
            except ValueError:
                answer = {"error": text}
            raise LinerateError(error.code, answer) from None
        return json.loads(text) if text else None

    def create_scenario(self, scenario, name=None):
        """Stores a scenario (TOML text, or a dict of the same structure); returns {"id", ...}."""
        path = "/scenarios"
        if name:
            path += "?" + urllib.parse.urlencode({"name": name})
        return self._request("POST", path, scenario)

    def start_run(self, scenario_id, **options):
        """Starts a run of a stored scenario; options as the CLI's (xsk_mode, batch, ...)."""
        return self._request("POST", "/runs", dict(options, scenario=scenario_id))

    def runs(self):
        """Every run."""
        return self._request("GET", "/runs")

    def run(self, run_id):
        """One run: state, setup, streams, verdict."""
        return self._request("GET", f"/runs/{run_id}")

    def stats(self, run_id):
        """The latest interval: {"elapsed_s", "interval": {"streams": [...]}}."""
        return self._request("GET", f"/runs/{run_id}/stats")

    def stream_stats(self, run_id, name):
        """The latest interval's entry for one stream, or None before the first interval."""
        interval = self.stats(run_id)["interval"]
        if interval is None:
            return None
        for stream in interval["streams"]:
            if stream["name"] == name:
                return stream
        raise KeyError(name)

    def stop_stream(self, run_id, name):
        """Stops one stream (LANforge's stop_cx)."""
        return self._request("POST", f"/runs/{run_id}/streams/{urllib.parse.quote(name)}/stop")

    def start_stream(self, run_id, name):
        """Starts a stopped stream again."""
        return self._request("POST", f"/runs/{run_id}/streams/{urllib.parse.quote(name)}/start")

    def stop(self, run_id):
        """Stops the whole run; it drains and reports."""
        return self._request("POST", f"/runs/{run_id}/stop")

    def wait_finished(self, run_id, timeout=120, poll=0.2):
        """Waits for the run to end; returns its RunResult (raises LinerateError if it failed)."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(run_id)
            if run["state"] == "failed":
                raise LinerateError(500, {"error": run["error"]})
            if run["state"] == "finished":
                return RunResult(self.report(run_id))
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} still {run['state']} after {timeout} s")
            time.sleep(poll)

    def report(self, run_id):
        """The final report (the same document as `linerate run --json`)."""
        return self._request("GET", f"/runs/{run_id}/report")

    def delete(self, run_id):
        """Forgets the run (stopping it first if it runs)."""
        return self._request("DELETE", f"/runs/{run_id}")
