"""Class-name lists, GEPC splits and generated class descriptions from ``label_lists/``.

Pure readers of small text files; every function takes the data root (the folder that holds
``label_lists/``) and returns plain lists and dicts.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from skelprompt.datasets._common import dataset_dir, fail, read_text, require_file

FOLDER = "label_lists"


def _lines(path: Path) -> list[str]:
    require_file(path)
    return [ln.strip() for ln in read_text(path, "utf-8").splitlines() if ln.strip()]


def ntu120_actions(data_root: Path) -> list[dict]:
    """The 120 NTU RGB+D actions: dicts id (1..120), code (A001..), name (no trailing dot), in_ntu60, two_person."""
    path = require_file(dataset_dir(data_root, FOLDER) / "ntu120_actions.tsv")
    out = []
    rows = csv.DictReader(io.StringIO(read_text(path, "utf-8"), newline=""), delimiter="\t")
    for n, r in enumerate(rows, 2):
        try:
            out.append(
                {
                    "id": int(r["id"]),
                    "code": r["code"],
                    "name": r["name"].strip().rstrip("."),
                    "in_ntu60": r["in_ntu60"] == "1",
                    "two_person": r["two_person"] == "1",
                }
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise fail(path, f"line {n}: expected columns id, code, name, in_ntu60, two_person") from None
    return out


def ntu120_names(data_root: Path) -> dict[int, str]:
    """NTU action id (1-based) -> name."""
    return {a["id"]: a["name"] for a in ntu120_actions(data_root)}


def kinetics400_names(data_root: Path) -> list[str]:
    """The 400 Kinetics classes; index i = label index i of the Kinetics-skeleton release."""
    names = _lines(dataset_dir(data_root, FOLDER) / "kinetics400_label_name_stgcn.txt")
    if len(names) != 400:
        raise fail(
            Path(data_root) / FOLDER / "kinetics400_label_name_stgcn.txt", f"{len(names)} names, expected 400"
        )
    return names


def kinetics_motion_names(data_root: Path) -> list[str]:
    """The 30-class Kinetics-Motion subset (ST-GCN paper)."""
    return _lines(dataset_dir(data_root, FOLDER) / "kinetics_motion_stgcn.txt")


def gepc_splits(data_root: Path) -> dict[str, dict[str, list[str]]]:
    """GEPC splits: family (kinetics_meaningful, kinetics_random, ntu60_meaningful, ntu60_random) -> split -> class names.

    NTU entries whose code is not a valid action (the ``A000`` placeholder) are left out.
    """
    path = require_file(dataset_dir(data_root, FOLDER) / "gepc_splits.json")
    try:
        d = json.loads(read_text(path, "utf-8"))
    except (ValueError, RecursionError) as e:
        raise fail(path, f"not valid JSON ({e})") from None
    if not isinstance(d, dict):
        raise fail(path, "must be a JSON object mapping families to splits")
    out: dict[str, dict[str, list[str]]] = {}
    for fam, splits in d.items():
        if fam.startswith("_"):
            continue
        if not isinstance(splits, dict):
            raise fail(path, f"{fam!r} must map split names to class lists")
        out[fam] = {}
        for name, classes in splits.items():
            if not isinstance(classes, list) or not all(isinstance(c, dict) and "name" in c for c in classes):
                raise fail(path, f"{fam!r}/{name!r} must be a list of objects with a 'name'")
            out[fam][name] = [
                str(c["name"]).strip().rstrip(".") for c in classes if c.get("A_code") != "A000"
            ]
    return out


def _keyed(path: Path, sep: str) -> dict[str, str]:
    out = {}
    for n, ln in enumerate(_lines(path), 1):
        if sep not in ln:
            raise fail(path, f"line {n} has no {sep!r} between class name and text")
        k, v = ln.split(sep, 1)
        out[k.strip()] = v.strip()
    return out


def class_descriptions(data_root: Path, dataset: str = "ntu120", kind: str = "sentence") -> dict[str, str]:
    """GAP's generated texts: class name -> text. ``dataset`` ntu120|ucla; ``kind`` sentence|synonym|pasta."""
    if dataset not in ("ntu120", "ucla") or kind not in ("sentence", "synonym", "pasta"):
        raise ValueError("dataset must be ntu120 or ucla, kind sentence, synonym or pasta")
    prefix = "" if dataset == "ntu120" else "ucla_"
    path = dataset_dir(data_root, FOLDER) / "gap_text_descriptions" / f"{prefix}{kind}_openai_t01.txt"
    sep = ";" if (kind == "pasta" or (dataset == "ucla" and kind == "sentence")) else ","
    return _keyed(path, sep)
