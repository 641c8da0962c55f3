"""Scoring archives of videos: many video files spread over local worker processes or a Ray
cluster, merged into one JSON (and/or a JSONL that a long run resumes from).

- :mod:`~skelprompt.archive.inputs`: video files, folders and ``@list.txt`` files to one list
- :mod:`~skelprompt.archive.job`: what a worker does with one video (the scoring job)
- :mod:`~skelprompt.archive.local`: local worker processes; a worker that dies is replaced
- :mod:`~skelprompt.archive.cluster`: the same over Ray (an extra: ``skelprompt[cluster]``)
- :mod:`~skelprompt.archive.output`: the JSONL (resume) and the merged JSON

Nothing here imports Ray unless ``--ray`` is given.
"""

from skelprompt.archive.inputs import archive_videos
from skelprompt.archive.job import ScoreJob, score_entry
from skelprompt.archive.run import ArchiveSummary, score_archive

__all__ = ["ArchiveSummary", "ScoreJob", "archive_videos", "score_archive", "score_entry"]
