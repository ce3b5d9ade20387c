"""wifi_report.py: what the WiFi checks (wifi_run.sh, wifi_dhcp.sh) require of a
run's JSON report: every stream sent its frames and its counts add up exactly
(sent = received + lost, sequence-checked: no duplicate, no late frame), a
radio's loss within the scenarios' `max_loss_percent`, and every station
associated with a BSSID and never disconnected.

    python3 wifi_report.py REPORT STREAMS FRAMES STATIONS

prints one line of what was found and exits 0, or the problems and exits 1.
wifi_dhcp.sh imports stream_problems and station_problems for its own lines.
"""

import json
import sys

# The WiFi scenarios' [pass] max_loss_percent: the emulated radio has lost a
# frame now and then (one of 16,000 once, station to AP); the counts must
# still add up.
MAX_LOSS_PERCENT = 0.5


def stream_problems(document, streams, frames):
    """Sentences for every stream that did not send FRAMES or whose counts
    do not add up, or that lost more than MAX_LOSS_PERCENT."""
    found = document["streams"]
    problems = [] if len(found) == streams else [f"{len(found)} streams, {streams} expected"]
    for stream in found:
        sent, received, lost = stream["frames_sent"], stream["frames_received"], stream["frames_lost"]
        counts = f'{stream["name"]}: sent {sent} received {received} lost {lost} dup {stream["duplicates"]} late {stream["late"]}'
        if sent != frames:
            problems.append(f"{counts} ({frames} to send)")
        elif received + lost != sent or stream["duplicates"] or stream["late"]:
            problems.append(f"{counts} (received + lost must be sent, no dup, no late)")
        elif lost * 100 > MAX_LOSS_PERCENT * sent:
            problems.append(f"{counts} (over {MAX_LOSS_PERCENT} % lost)")
    return problems


def station_problems(document, stations):
    """Sentences for every station not associated, without a BSSID, or
    disconnected during the run."""
    found = document.get("stations", [])
    problems = [] if len(found) == stations else [f"{len(found)} stations in the report, {stations} expected"]
    for station in found:
        if not station["associated"] or not station.get("bssid"):
            problems.append(f'{station["name"]}: not associated ({station.get("failure")})')
        if station.get("disconnections", 0):
            problems.append(f'{station["name"]}: {station["disconnections"]} disconnection(s), '
                            f'the last {station.get("last_disconnection")}')
    return problems


def summary(document, frames):
    """One line: the loss, the stations' association and link."""
    streams = document["streams"]
    lost = sum(stream["frames_lost"] for stream in streams)
    sent = sum(stream["frames_sent"] for stream in streams)
    stations = document["stations"]
    first = stations[0]
    drops = [f'{station["name"]} tx {station["interface_dropped"]["tx"]} rx {station["interface_dropped"]["rx"]}'
             for station in stations
             if station.get("interface_dropped") and any(station["interface_dropped"].values())]
    return (f"{len(streams)} streams x {frames} frames, sent = received + lost on each ({lost} lost of {sent}, "
            f"0 dup, 0 late); {len(stations)} station(s) associated to {first['bssid']}, 0 disconnections "
            f"(slowest {max(station['time_to_associate_s'] for station in stations):.1f} s; {first['name']}: "
            f"{first.get('frequency_mhz')} MHz, signal {first.get('signal_dbm')} dBm, "
            f"tx {first.get('tx_bitrate_mbps')} rx {first.get('rx_bitrate_mbps')} Mbit/s)"
            + (f"; interface drops: {', '.join(drops)}" if drops else ""))


def main():
    path, streams, frames, stations = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    document = json.load(open(path))
    problems = stream_problems(document, streams, frames) + station_problems(document, stations)
    if problems:
        print("; ".join(problems))
        return 1
    print(summary(document, frames))
    return 0


if __name__ == "__main__":
    sys.exit(main())
