#!/usr/bin/env python3
"""The seed's LANforge-style workflow against `linerate serve`:
build (POST the scenario) -> start -> poll stats -> stop one stream and
start it again -> stop -> passes() / get_fail_message() -> cleanup.
Exits 0 when the run passes, 1 when it fails, 2 on an API error.

    python3 examples/python/seed_workflow.py --url http://127.0.0.1:8080 \
        --scenario scenarios/quickstart.toml [--stream quickstart] [--token-file F]
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from linerate_client import Linerate, LinerateError  # noqa: E402


def poll(client, run_id, seconds, every=0.25):
    """Prints every stream's latest interval for `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        stats = client.stats(run_id)
        interval = stats["interval"]
        if interval is not None:
            line = "  ".join(
                f"{s['name']}: tx {s['tx_frames']} rx {s['rx_frames']} lost {s['lost_so_far']}"
                for s in interval["streams"]
            )
            print(f"{stats['elapsed_s']:7.2f}s  {line}", flush=True)
        time.sleep(every)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--token-file")
    parser.add_argument("--scenario", required=True, help="a scenario file (TOML)")
    parser.add_argument("--stream", help="the stream to stop and start again (default: the first)")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between the steps")
    args = parser.parse_args()

    token = None
    if args.token_file:
        with open(args.token_file) as file:
            token = file.read().strip()
    client = Linerate(args.url, token=token)
    with open(args.scenario) as file:
        text = file.read()

    run_id = None
    try:
        scenario = client.create_scenario(text, name=os.path.basename(args.scenario))
        print(f"scenario {scenario['id']}: {scenario['streams']} stream(s), {scenario['ports']} port(s)")
        run = client.start_run(scenario["id"])
        run_id = run["id"]
        stream = args.stream or run["streams"][0]["name"]
        for tx in run["setup"]["tx"]:
            print(f"{run_id}: tx {tx['port']} {tx['interface']} queue {tx['queue']} {tx['xsk_mode']} mode")
        poll(client, run_id, args.pause)

        client.stop_stream(run_id, stream)
        print(f"stream {stream} stopped")
        # What was in flight when it stopped shows in the next interval;
        # after that its count stands still.
        poll(client, run_id, args.pause)
        stopped_at = client.stream_stats(run_id, stream)
        poll(client, run_id, args.pause)
        still = client.stream_stats(run_id, stream)
        if still["tx_frames"] != stopped_at["tx_frames"]:
            print(f"stream {stream} went on sending while stopped", file=sys.stderr)
            return 1
        client.start_stream(run_id, stream)
        print(f"stream {stream} started again")
        poll(client, run_id, args.pause)

        client.stop(run_id)
        result = client.wait_finished(run_id)
        for totals in result.report["streams"]:
            print(
                f"{totals['name']}: sent {totals['frames_sent']} received {totals['frames_received']} "
                f"lost {totals['frames_lost']}"
            )
        if result.passes():
            print("PASS")
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
