"""Alerts, their evidence and the webhook outbox in a database (SQLite by default, any
SQLAlchemy URL works).

Why no alert is lost or written twice:

- an alert row is inserted when the alert *opens* (its first alerting window), under a unique
  key ``camera | stream start | first window's frame``, in its own committed transaction:
  from then on it survives ``kill -9``; inserting the same key again returns the same row;
- while the alert grows its row is updated (end, peak, persons); when it closes, the camera
  hands it to the service's evidence worker (:mod:`skelprompt.service.closing`, so the camera
  never waits for the encoder), which first writes the evidence files atomically (temporary
  file renamed into place), then in one transaction sets the row to ``closed`` with their
  names *and* adds its webhook outbox row. Until then the row stays ``open``. The update only
  applies to a row still ``open``, so a second close adds no second message;
- on start-up, rows left ``open`` by a killed process (alerts still going on, or closed but
  waiting for the evidence worker) become ``interrupted`` (they keep their times and scores,
  without a clip) and get their outbox row in that same transaction.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    delete,
    event,
    func,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

OPEN, CLOSED, INTERRUPTED = "open", "closed", "interrupted"


class Base(DeclarativeBase):
    pass


class AlertRow(Base):
    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    camera: Mapped[str] = mapped_column(String(100), index=True)
    stream_start: Mapped[float] = mapped_column(Float)  # wall-clock time of the stream's first frame
    start_s: Mapped[float] = mapped_column(Float)  # seconds into the stream
    end_s: Mapped[float] = mapped_column(Float)
    peak: Mapped[float] = mapped_column(Float)
    prompt: Mapped[str | None] = mapped_column(Text, nullable=True)
    persons_json: Mapped[str] = mapped_column(Text, default="[]")  # [{track_id, box, anomaly}]
    state: Mapped[str] = mapped_column(String(20), default=OPEN)
    acknowledged: Mapped[bool] = mapped_column(Boolean, default=False)
    clip_file: Mapped[str | None] = mapped_column(String(300), nullable=True)
    snapshot_file: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created: Mapped[float] = mapped_column(Float, index=True)


class OutboxRow(Base):
    __tablename__ = "webhook_outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try: Mapped[float] = mapped_column(Float, default=0.0)
    delivered: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class AlertWindowRow(Base):
    """The skeletons of one alerting window (``skelprompt.service.window_clips``): what an
    operator's verdict on the alert adds to the detector, after any restart."""

    __tablename__ = "alert_windows"
    __table_args__ = (UniqueConstraint("alert_id", "start_frame"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    start_frame: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ZoneRow(Base):
    """A camera's zone: a polygon (points as fractions of the frame) where alerts count or are
    ignored."""

    __tablename__ = "zones"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # count | ignore
    points_json: Mapped[str] = mapped_column(Text)  # [[x, y], ...] in 0..1
    created: Mapped[float] = mapped_column(Float)


@dataclass
class AlertOpening:
    """What is known when an alert opens (and updated as it grows)."""

    camera: str
    stream_start: float
    start_frame: int
    start_s: float
    end_s: float
    peak: float
    prompt: str | None
    persons: list[dict[str, Any]]

    @property
    def key(self) -> str:
        return f"{self.camera}|{self.stream_start:.6f}|{self.start_frame}"


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers do not wait for the cameras' writes
    cur.execute("PRAGMA synchronous=FULL")  # a committed alert is on disk
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


class AlertStore:
    """The service's database; safe to use from every camera thread."""

    def __init__(self, url: str) -> None:
        sqlite = url.startswith("sqlite")
        args = {"check_same_thread": False} if sqlite else {}
        self.engine: Engine = create_engine(url, connect_args=args)
        if sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        Base.metadata.create_all(self.engine)
        self._write_lock = threading.Lock()  # one writer at a time (SQLite allows no more)

    def close(self) -> None:
        self.engine.dispose()

    def recover(self) -> int:
        """Rows a killed process left open become ``interrupted`` with their outbox row."""
        with self._write_lock, Session(self.engine) as s, s.begin():
            ids = s.scalars(select(AlertRow.id).where(AlertRow.state == OPEN)).all()
            for i in ids:
                s.execute(update(AlertRow).where(AlertRow.id == i).values(state=INTERRUPTED))
                s.add(OutboxRow(alert_id=i))
        return len(ids)

    def open_alert(self, a: AlertOpening) -> int:
        """Insert the alert (idempotent by key); returns its id."""
        row = AlertRow(
            key=a.key, camera=a.camera, stream_start=a.stream_start, start_s=a.start_s, end_s=a.end_s,
            peak=a.peak, prompt=a.prompt, persons_json=json.dumps(a.persons), state=OPEN, created=time.time(),
        )  # fmt: skip
        with self._write_lock, Session(self.engine) as s:
            try:
                with s.begin():
                    s.add(row)
                return int(row.id)
            except IntegrityError:  # opened before: the same alert
                s.rollback()
                return int(s.scalars(select(AlertRow.id).where(AlertRow.key == a.key)).one())

    def grow_alert(self, alert_id: int, a: AlertOpening) -> None:
        with self._write_lock, Session(self.engine) as s, s.begin():
            s.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id, AlertRow.state == OPEN)
                .values(end_s=a.end_s, peak=a.peak, prompt=a.prompt, persons_json=json.dumps(a.persons))
            )

    def close_alert(self, alert_id: int, clip_file: str | None, snapshot_file: str | None) -> bool:
        """Mark the alert closed with its evidence and queue its webhook, in one transaction."""
        with self._write_lock, Session(self.engine) as s, s.begin():
            done = s.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id, AlertRow.state == OPEN)
                .values(state=CLOSED, clip_file=clip_file, snapshot_file=snapshot_file)
            )
            if done.rowcount != 1:  # type: ignore[attr-defined]
                return False
            s.add(OutboxRow(alert_id=alert_id))
        return True

    def acknowledge(self, alert_id: int) -> bool:
        with self._write_lock, Session(self.engine) as s, s.begin():
            done = s.execute(update(AlertRow).where(AlertRow.id == alert_id).values(acknowledged=True))
            return bool(done.rowcount)  # type: ignore[attr-defined]

    def get(self, alert_id: int) -> AlertRow | None:
        with Session(self.engine, expire_on_commit=False) as s:
            return s.get(AlertRow, alert_id)

    def alerts(
        self, camera: str | None = None, since: float | None = None, limit: int = 100
    ) -> list[AlertRow]:
        """Newest first; ``since``: created at or after this wall-clock time."""
        q = select(AlertRow).order_by(AlertRow.id.desc()).limit(limit)
        if camera is not None:
            q = q.where(AlertRow.camera == camera)
        if since is not None:
            q = q.where(AlertRow.created >= since)
        with Session(self.engine, expire_on_commit=False) as s:
            return list(s.scalars(q).all())

    # ------------------------------------------------------------------ alert windows, zones
    def add_alert_window(self, alert_id: int, start_frame: int, data: bytes, most: int) -> bool:
        """Keep an alerting window's skeletons (at most ``most`` an alert; the same window once)."""
        with self._write_lock, Session(self.engine) as s, s.begin():
            have = s.scalar(select(func.count()).where(AlertWindowRow.alert_id == alert_id)) or 0
            seen = s.scalar(
                select(AlertWindowRow.id).where(
                    AlertWindowRow.alert_id == alert_id, AlertWindowRow.start_frame == start_frame
                )
            )
            if have >= most or seen is not None:
                return False
            s.add(AlertWindowRow(alert_id=alert_id, start_frame=start_frame, data=data))
        return True

    def alert_windows(self, alert_id: int) -> list[bytes]:
        q = (
            select(AlertWindowRow.data)
            .where(AlertWindowRow.alert_id == alert_id)
            .order_by(AlertWindowRow.start_frame)
        )
        with Session(self.engine) as s:
            return list(s.scalars(q).all())

    def zones(self, camera: str) -> list[ZoneRow]:
        with Session(self.engine, expire_on_commit=False) as s:
            return list(s.scalars(select(ZoneRow).where(ZoneRow.camera == camera).order_by(ZoneRow.id)).all())

    def set_zones(self, camera: str, zones: list[tuple[str, list[list[float]]]]) -> None:
        """Replace a camera's zones, in one transaction."""
        now = time.time()
        with self._write_lock, Session(self.engine) as s, s.begin():
            s.execute(delete(ZoneRow).where(ZoneRow.camera == camera))
            for kind, points in zones:
                s.add(ZoneRow(camera=camera, kind=kind, points_json=json.dumps(points), created=now))

    # ------------------------------------------------------------------ webhook outbox
    def due_messages(self, now: float, limit: int = 20) -> list[tuple[int, int, int]]:
        """``(outbox id, alert id, attempts)`` of undelivered messages due at ``now``."""
        q = (
            select(OutboxRow.id, OutboxRow.alert_id, OutboxRow.attempts)
            .where(OutboxRow.delivered.is_(None), OutboxRow.next_try <= now)
            .order_by(OutboxRow.id)
            .limit(limit)
        )
        with Session(self.engine) as s:
            return [(int(a), int(b), int(c)) for a, b, c in s.execute(q).all()]

    def delivered(self, outbox_id: int) -> None:
        with self._write_lock, Session(self.engine) as s, s.begin():
            s.execute(update(OutboxRow).where(OutboxRow.id == outbox_id).values(delivered=time.time()))

    def retry_later(self, outbox_id: int, attempts: int, next_try: float, error: str) -> None:
        with self._write_lock, Session(self.engine) as s, s.begin():
            s.execute(
                update(OutboxRow)
                .where(OutboxRow.id == outbox_id)
                .values(attempts=attempts, next_try=next_try, last_error=error[:500])
            )
