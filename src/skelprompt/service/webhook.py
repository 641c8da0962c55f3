"""``--webhook URL``: each alert POSTed as JSON by a background thread from the database's
outbox, with retries and exponential back-off; a failing receiver never blocks a camera.

Delivery is at least once, with the alert id as ``Idempotency-Key`` header (and in the
body): a message is marked delivered only after a 2xx answer, so a receiver that keeps the
ids it has seen gets each alert exactly once, across restarts of the service too (the
outbox is in the database).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from skelprompt.service.store import AlertStore

FIRST_RETRY_S = 0.5  # then 1, 2, 4, ... seconds
MAX_RETRY_S = 300.0
TIMEOUT_S = 5.0
POLL_S = 0.2


def backoff_s(attempts: int) -> float:
    """Seconds to wait after ``attempts`` failed tries."""
    return min(MAX_RETRY_S, FIRST_RETRY_S * 2 ** max(0, attempts - 1))


def post_json(url: str, body: dict[str, Any], key: str) -> None:
    """POST ``body``; raises on anything but a 2xx answer."""
    data = json.dumps(body).encode("utf-8")
    headers = {"Content-Type": "application/json", "Idempotency-Key": key, "User-Agent": "skelprompt"}
    req = urllib.request.Request(url, data=data, headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:  # noqa: S310 - the user's URL
        if not 200 <= resp.status < 300:
            raise urllib.error.HTTPError(url, resp.status, resp.reason, resp.headers, None)


class WebhookSender:
    def __init__(
        self, store: AlertStore, url: str, alert_body: Callable[[int], dict[str, Any] | None]
    ) -> None:
        self.store, self.url, self.alert_body = store, url, alert_body
        self.sent = self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(TIMEOUT_S + 1)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.send_due()
            except Exception:  # noqa: BLE001 - e.g. the database busy: try again next round
                pass
            self._stop.wait(POLL_S)

    def send_due(self) -> None:
        for outbox_id, alert_id, attempts in self.store.due_messages(time.time()):
            if self._stop.is_set():
                return
            body = self.alert_body(alert_id)
            if body is None:
                self.store.delivered(outbox_id)  # the alert is gone: nothing to say
                continue
            try:
                post_json(self.url, {"event": "alert", **body}, f"alert-{alert_id}")
            except Exception as e:  # noqa: BLE001 - refused, unreachable, timed out: retried later
                self.failed += 1
                self.store.retry_later(outbox_id, attempts + 1, time.time() + backoff_s(attempts + 1), str(e))
                continue
            self.store.delivered(outbox_id)
            self.sent += 1
