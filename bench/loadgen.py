"""Closed-loop load for the ack measurement, run as its own process so the clients do not
share a GIL with the Slack stub the bot answers to.

    python -m bench.loadgen '<json spec>'   ->   JSON on stdout

spec: url, secret, clients, requests (per client), user, text, response_base (the stub's
/response/ prefix), key (unique per run), budget (seconds; clients stop early after it),
pace (optional: seconds between one client's request starts; 0 = closed loop, the next
request as soon as the previous answer is in).
Each request is a fresh connection with a freshly signed body, as Slack sends them (the form
and the signature are the test harness's, `tests.support.bot`); its latency is from connect
to the last byte of the response (the ack).
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
import urllib.parse
from typing import Any

from tests.support.bot import SlackSender, sign


class _ResponseUrls:
    """What `SlackSender.command_form` needs of the Slack stub: where a key's answer goes."""

    def __init__(self, base: str) -> None:
        self.base = base

    def response_url(self, key: int | str) -> str:
        return f"{self.base}{key}"


def run(spec: dict[str, Any]) -> dict[str, Any]:
    url = urllib.parse.urlsplit(spec["url"])
    host, port, path = url.hostname or "127.0.0.1", url.port or 80, url.path
    clients, per_client = int(spec["clients"]), int(spec["requests"])
    stop_at = time.monotonic() + float(spec["budget"])
    latencies: list[list[float]] = [[] for _ in range(clients)]
    statuses: list[dict[int, int]] = [{} for _ in range(clients)]
    errors: list[str] = []
    pace = float(spec.get("pace", 0))
    start = threading.Barrier(clients + 1)
    forms = SlackSender(spec["url"], _ResponseUrls(spec["response_base"]))  # type: ignore[arg-type]

    def client(n: int) -> None:
        start.wait(timeout=30)
        # Paced clients start spread over one period, so arrivals are even, not in bursts.
        next_at = time.monotonic() + pace * n / clients
        for i in range(per_client):
            if pace:
                time.sleep(max(0.0, next_at - time.monotonic()))
                next_at += pace
            if time.monotonic() > stop_at:
                return
            key = f"{spec['key']}-{n}-{i}"
            body = urllib.parse.urlencode(forms.command_form(spec["user"], spec["text"], key))
            ts = int(time.time())
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": str(ts),
                "X-Slack-Signature": sign(body, ts, spec["secret"]),
            }
            t0 = time.perf_counter()
            try:
                conn = http.client.HTTPConnection(host, port, timeout=30)
                conn.request("POST", path, body=body.encode(), headers=headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
                conn.close()
            except OSError as e:
                errors.append(f"{type(e).__name__}: {e}")
                continue
            latencies[n].append(time.perf_counter() - t0)
            statuses[n][status] = statuses[n].get(status, 0) + 1

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    start.wait(timeout=30)
    began = time.perf_counter()
    for t in threads:
        t.join(timeout=max(1.0, stop_at - time.monotonic() + 35))
    wall = time.perf_counter() - began
    merged: dict[str, int] = {}
    for per in statuses:
        for status, count in per.items():
            merged[str(status)] = merged.get(str(status), 0) + count
    return {
        "latencies": [x for per in latencies for x in per],
        "statuses": merged,
        "errors": errors[:20],
        "error_count": len(errors),
        "wall": wall,
    }


if __name__ == "__main__":
    json.dump(run(json.loads(sys.argv[1])), sys.stdout)
