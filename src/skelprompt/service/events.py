"""Recent events (window scores, alerts) for the page's live stream: a bounded log with a
sequence number, so each listener reads what it has not seen yet without a queue of its own."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

DEFAULT_KEEP = 2000  # events kept; a listener further behind skips to the oldest kept


class EventLog:
    def __init__(self, keep: int = DEFAULT_KEEP) -> None:
        self._events: deque[tuple[int, dict[str, Any]]] = deque(maxlen=keep)
        self._seq = 0
        self._lock = threading.Lock()

    def publish(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._seq += 1
            self._events.append((self._seq, event))

    @property
    def last(self) -> int:
        return self._seq

    def since(self, seq: int) -> list[tuple[int, dict[str, Any]]]:
        """Events after ``seq``, oldest first."""
        with self._lock:
            return [(s, e) for s, e in self._events if s > seq]
