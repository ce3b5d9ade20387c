#!/usr/bin/env python3
"""The seed's station test against `linerate serve` (the WiFi lab must be
up: `linerate lab up --wifi 1`): build stations sta0000.. on radio wiphy0
(WPA2, ssid testNet, passphrase testPass, a number template, addresses from
10.77.0.10) and an L3 UDP cross-connect between every station and the wired
port eth1 (one stream each way), start (the stations associate and get
their addresses first), poll, check that every connection's received bytes
grew, stop, passes() / get_fail_message(), clean up (the run is deleted;
linerate removes the stations when the run ends). Exits 0 when the run
passes, 1 when it fails, 2 on an API error.

    python3 examples/python/seed_stations.py --url http://127.0.0.1:8080 [--stations 4] [--seconds 8]
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from linerate_client import Linerate, LinerateError  # noqa: E402

WIRED_MAC = "02:4c:57:ff:00:01"  # the WiFi lab's eth1
WIRED_IP = "10.77.0.1"


def scenario(stations, radio, ssid, passphrase, rate, frequency):
    """The scenario as the API's JSON (the TOML file's structure)."""
    cross_connect = {"src_port": 9000, "dst_port": 9000, "frame_size": 256, "rate": rate}
    return {
        "run": {"duration": "60s"},
        # A radio may lose a frame now and then: the verdict allows 0.5 %.
        "pass": {"max_loss_percent": 0.5},
        "port": [{"name": "eth1", "interface": "eth1", "namespace": "lrlab-wired"}],
        "station": [
            {
                "radio": radio,
                "namespace": "lrlab-sta",
                "count": stations,
                "name": "sta0000",
                "ssid": ssid,
                "security": "wpa2",
                "passphrase": passphrase,
                "ipv4": "10.77.0.10/24",
                "timeout": "120s",
                **({"frequency": frequency} if frequency else {}),
            }
        ],
        "stream": [
            dict(cross_connect, name="cx-up", tx="sta*", rx="eth1", src_mac="station",
                 src_ip="station", dst_mac=WIRED_MAC, dst_ip=WIRED_IP),
            dict(cross_connect, name="cx-down", tx="eth1", rx="sta*", src_mac=WIRED_MAC,
                 src_ip=WIRED_IP, dst_mac="station", dst_ip="station"),
        ],
    }


def received_frames(client, run_id):
    """Each connection's received frames so far (the live totals)."""
    interval = client.stats(run_id)["interval"]
    if interval is None:
        return {}
    return {stream["name"]: stream["rx_frames"] for stream in interval["streams"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--token-file")
    parser.add_argument("--stations", type=int, default=4)
    parser.add_argument("--radio", default="wiphy0")
    parser.add_argument("--ssid", default="testNet")
    parser.add_argument("--passphrase", default="testPass")
    parser.add_argument("--rate", default="200pps")
    parser.add_argument("--frequency", type=int, default=2412,
                        help="the AP's channel frequency in MHz, where the stations scan (0: every channel)")
    parser.add_argument("--seconds", type=float, default=8.0, help="how long the cross-connects run")
    args = parser.parse_args()

    token = None
    if args.token_file:
        with open(args.token_file) as file:
            token = file.read().strip()
    # Starting a run waits for the stations to associate: allow for it.
    client = Linerate(args.url, token=token, timeout=300)
    run_id = None
    try:
        stored = client.create_scenario(scenario(args.stations, args.radio, args.ssid, args.passphrase, args.rate, args.frequency),
                                        name="seed-stations.json")
        print(f"scenario {stored['id']}: {stored['streams']} cross-connect stream(s), {stored['ports']} port(s)")
        started = time.monotonic()
        run = client.start_run(stored["id"])
        run_id = run["id"]
        print(f"{run_id}: stations up and sending after {time.monotonic() - started:.1f} s")
        names = [stream["name"] for stream in run["streams"]]
        first = None
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            time.sleep(1.0)
            now = received_frames(client, run_id)
            if first is None and now:
                first = now
            print("  ".join(f"{name} rx {now.get(name, 0)}" for name in names), flush=True)
        last = received_frames(client, run_id)
        stalled = [name for name in names if last.get(name, 0) <= (first or {}).get(name, 0)]
        client.stop(run_id)
        result = client.wait_finished(run_id, timeout=120)
        for totals in result.report["streams"]:
            print(f"{totals['name']}: sent {totals['frames_sent']} ({totals['bytes_sent']} bytes) "
                  f"received {totals['frames_received']} ({totals['bytes_received']} bytes) lost {totals['frames_lost']}")
        for station in result.report.get("stations", []):
            print(f"{station['name']}: associated {station['associated']} bssid {station.get('bssid')} "
                  f"signal {station.get('signal_dbm')} dBm in {station.get('time_to_associate_s')} s, "
                  f"{station.get('disconnections', 0)} disconnection(s)"
                  + (f", the last {station['last_disconnection']}" if station.get("last_disconnection") else ""))
        stalled += [totals["name"] for totals in result.report["streams"]
                    if totals["bytes_received"] == 0 and totals["name"] not in stalled]
        if stalled:
            print("FAIL: received bytes did not grow on " + ", ".join(stalled))
            return 1
        if result.passes():
            print(f"PASS: {len(names)} cross-connects, every one's received bytes grew")
            return 0
        print("FAIL: " + result.get_fail_message())
        return 1
    except LinerateError as error:
        where = f" (field {error.field})" if error.field else ""
        print(f"linerate API error: {error}{where}", file=sys.stderr)
        return 2
    finally:
        if run_id is not None:
            try:
                client.delete(run_id)
                print(f"{run_id} deleted")
            except LinerateError as error:
                print(f"cleanup failed: {error}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
