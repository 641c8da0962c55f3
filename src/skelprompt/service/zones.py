"""Zones an operator draws on a camera's picture: polygons where alerts count, or where they are
ignored. A person is placed by the feet point of its box (the middle of the box's bottom
edge): it counts when it stands in a "count" zone (or the camera has none) and in no "ignore"
zone. A window alerts when a person who counts alerts, or when the whole scene alerts with a
person who counts in it. Points are fractions of the frame's width and height (0..1), so a
zone keeps its place whatever size the picture is shown at. Stored in the service's database."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from skelprompt.footage.results import PersonScore, WindowScore

if TYPE_CHECKING:
    from skelprompt.clip import Clip
    from skelprompt.service.store import AlertStore

COUNT, IGNORE = "count", "ignore"
ZONE_KINDS = (COUNT, IGNORE)


@dataclass(frozen=True)
class Zone:
    kind: str
    points: tuple[tuple[float, float], ...]

    def contains(self, x: float, y: float) -> bool:
        """Even-odd rule: a horizontal ray from (x, y) crosses the edges an odd number of times."""
        inside = False
        pts = self.points
        for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1], strict=True):
            if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
                inside = not inside
        return inside

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "points": [list(p) for p in self.points]}


def feet_point(box: list[float], width: int, height: int) -> tuple[float, float]:
    """The middle of a person box's bottom edge, as fractions of the frame."""
    x0, _, x1, y1 = box
    return (x0 + x1) / 2 / max(width, 1), y1 / max(height, 1)


def counts(zones: list[Zone], p: PersonScore, width: int, height: int) -> bool:
    x, y = feet_point(p.box, width, height)
    wanted = [z for z in zones if z.kind == COUNT]
    if wanted and not any(z.contains(x, y) for z in wanted):
        return False
    return not any(z.contains(x, y) for z in zones if z.kind == IGNORE)


def apply_zones(w: WindowScore, zones: list[Zone], width: int, height: int) -> WindowScore:
    """``w`` with only the persons who count, and alerting only for them (unchanged without zones)."""
    if not zones:
        return w
    kept = [p for p in w.persons if counts(zones, p, width, height)]
    alert = bool(kept) and (any(p.is_anomaly for p in kept) or w.is_anomaly)
    return replace(w, persons=kept, is_anomaly=alert)


class ZoneBook:
    """Every camera's zones: read from the database once, replaced as a whole per camera."""

    def __init__(self, store: AlertStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._zones: dict[str, list[Zone]] = {}

    def get(self, camera: str) -> list[Zone]:
        with self._lock:
            if camera not in self._zones:
                self._zones[camera] = [
                    Zone(r.kind, tuple((float(x), float(y)) for x, y in json.loads(r.points_json)))
                    for r in self.store.zones(camera)
                ]
            return list(self._zones[camera])

    def set(self, camera: str, zones: list[Zone]) -> None:
        with self._lock:
            self.store.set_zones(camera, [(z.kind, [list(p) for p in z.points]) for z in zones])
            self._zones[camera] = list(zones)

    def hook(self, cam: Any, w: WindowScore, clip: Clip) -> WindowScore:
        """:attr:`CameraPipeline.window_hook`: the window as the camera's zones see it."""
        h, wd = clip.img_shape or (0, 0)
        return apply_zones(w, self.get(cam.spec.name), wd, h)
