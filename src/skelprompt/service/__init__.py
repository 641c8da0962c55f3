"""``skelprompt serve``: cameras in, alerts out. One pipeline thread per camera (pose, tracking,
windows, scores), alerts and their evidence kept in a database, a REST API, a live event
stream and a web page, webhooks for notifications."""

from skelprompt.service.config import CameraSpec, ServiceConfig, parse_camera

__all__ = ["CameraSpec", "ServiceConfig", "parse_camera"]
