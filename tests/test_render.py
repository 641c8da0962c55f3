"""Rendered videos: browser-playable H.264, skeletons and alerts in red, the scene-alert bar,
the legend. Runs on 2 s of ../shared/media/vtest.avi (skipped, with the reason, without it)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from skelprompt.clip import Clip
from skelprompt.errors import SkelpromptError

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
if not MEDIA.exists():
    MEDIA = Path("/work/shared/media")
VTEST = MEDIA / "vtest.avi"

needs_media = pytest.mark.skipif(not VTEST.exists(), reason=f"sample video not in {MEDIA}")


@pytest.fixture(scope="module")
def vtest_clip() -> Clip:
    """20 frames (2 s) of vtest.avi at 512 px, where most walkers are found."""
    pytest.importorskip("cv2", reason="OpenCV missing: pip install opencv-python-headless")
    pytest.importorskip("ai_edge_litert", reason="LiteRT missing: pip install ai-edge-litert")
    if not VTEST.exists():
        pytest.skip(f"sample video missing: {VTEST}")
    from skelprompt.video.pose import MoveNetMultiPose
    from skelprompt.video.track_video import extract_clip

    return extract_clip(VTEST, MoveNetMultiPose(input_size=512), max_frames=20, progress=False)


def _decode(path: Path) -> tuple[str, str, list[np.ndarray], Any]:
    """Codec name, pixel format, BGR frames and average rate of a video, decoded by PyAV."""
    av = pytest.importorskip("av", reason="PyAV missing: pip install av")
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(stream)]
        return stream.codec_context.name, stream.codec_context.pix_fmt, frames, stream.average_rate


def _red(img: np.ndarray) -> np.ndarray:
    return (img[..., 2] > 150) & (img[..., 1] < 80) & (img[..., 0] < 80)


@needs_media
def test_render_video(tmp_path, vtest_clip):
    import cv2

    from skelprompt.video.render import render_video

    c = vtest_clip.frames(0, 20)
    scores = np.linspace(0.0, 1.0, c.num_persons)
    scene = np.where(np.arange(20) >= 10, 1.23, 0.1)  # the whole scene alerts from frame 10 on
    out = render_video(
        VTEST, c, tmp_path / "out" / "render.mp4", person_scores=scores, threshold=0.5, scene_scores=scene
    )
    assert out.exists() and not list(out.parent.glob(".render.mp4.*"))  # no temp file left
    cap = cv2.VideoCapture(str(out))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    assert len(frames) == 20 and frames[0].shape == (576, 768, 3)
    red = (frames[0][..., 2] > 200) & (frames[0][..., 1] < 60) & (frames[0][..., 0] < 60)
    assert red.sum() > 50  # alerts drawn in red
    # browser-playable: H.264 in yuv420p, the MP4 index (moov) before the media data
    codec, pix_fmt, decoded, rate = _decode(out)
    assert (codec, pix_fmt, rate) == ("h264", "yuv420p", 10)
    assert len(decoded) == 20 and decoded[0].shape == (576, 768, 3)
    head = out.read_bytes()[:65536]
    assert b"moov" in head and head.index(b"moov") < head.index(b"mdat")
    # the red scene-alert bar across the top: in frame 15, not in frame 5
    band = (slice(2, 8), slice(0, 768))
    assert _red(decoded[15][band]).mean() > 0.8 and _red(decoded[5][band]).mean() < 0.05
    # the legend darkens a strip along the bottom
    from skelprompt.video.reader import open_video

    with open_video(VTEST, max_frames=1) as reader:
        source = next(iter(reader)).image
    assert np.median(decoded[0][-20:]) < 0.6 * np.median(source[-20:])
    with pytest.raises(SkelpromptError, match="person_scores"):
        render_video(VTEST, c, tmp_path / "x.mp4", person_scores=np.zeros(c.num_persons + 1))
    with pytest.raises(SkelpromptError, match=r"scene_scores must have shape \[T\] = \[20\]"):
        render_video(VTEST, c, tmp_path / "x.mp4", scene_scores=np.zeros(19))
    assert not (tmp_path / "x.mp4").exists()


def test_h264_writer_pads_odd_sizes_and_keeps_the_rate(tmp_path):
    from skelprompt.video.writer import H264Writer

    rng = np.random.default_rng(0)
    with H264Writer(tmp_path / "odd.mp4", 29.97, (75, 101)) as w:
        for _ in range(4):
            w.write(rng.integers(0, 256, (75, 101, 3), dtype=np.uint8))
    codec, pix_fmt, decoded, rate = _decode(tmp_path / "odd.mp4")
    assert (codec, pix_fmt, len(decoded), decoded[0].shape) == ("h264", "yuv420p", 4, (76, 102, 3))
    assert rate == Fraction(30000, 1001)
