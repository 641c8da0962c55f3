"""The scoring equations of METHOD.md (Eq. 1-4) and their alternatives, on plain arrays.

Everything here is a pure function of NumPy arrays so that it can be read in one sitting and
tested against direct computations.
"""

from __future__ import annotations

import numpy as np

COMBINES = ("paper", "sum", "ood", "prompt")
# how the standardised prompt term p enters "sum": "none" as it is; "floor": max(p, -1), so a
# clip the prompt finds less like the anomaly than the normal footage loses at most one
# normal spread (a prompt that matches the normal footage cannot sink a clear OoD outlier);
# "zero": only above the normal footage's median (max(p, 0)); "percentile": only above its
# calibration percentile (max(p - 1, 0))
PROMPT_GUARDS = ("none", "floor", "zero", "percentile")


def mahalanobis(x: np.ndarray, mean: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """d(x) = sqrt((x - mu)^T Sigma^-1 (x - mu)) for each row of ``x`` (Eq. 2)."""
    diff = x - mean
    return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", diff, precision, diff), 0.0))


# distance entries computed at once by knn_distance (float64: 32 MiB): memory grows with the
# block times the reference rows, never with the square of the normal set
KNN_BLOCK_ENTRIES = 1 << 22


def knn_distance(
    x: np.ndarray,
    reference: np.ndarray,
    k: int,
    exclude_self: bool = False,
    x_groups: np.ndarray | None = None,
    reference_groups: np.ndarray | None = None,
    block_entries: int = KNN_BLOCK_ENTRIES,
) -> np.ndarray:
    """Mean Euclidean distance from each row of ``x`` to its ``k`` nearest rows of ``reference``.

    With ``exclude_self`` (x is reference), each row's zero distance to itself is skipped
    (leave-one-out), so the normal clips' own distances are honest. With groups, a row of
    ``x`` skips the reference rows of its own group (a clip and its mirrored copies);
    ``exclude_self`` is the case of one group per row. Rows of ``x`` go in blocks of about
    ``block_entries`` distances, so no ``len(x) x len(reference)`` matrix is ever held.
    """
    if exclude_self:
        x_groups = reference_groups = np.arange(len(reference))
    groups = None if x_groups is None or reference_groups is None else (x_groups, reference_groups)
    m = len(reference)
    own = int(np.unique(groups[1], return_counts=True)[1].max()) if groups is not None and m else 0
    kk = max(1, min(k, m - own))
    ref_sq = (reference * reference).sum(1)
    step = max(1, block_entries // max(m, 1))
    out = np.empty(len(x))
    for lo in range(0, len(x), step):
        xb = x[lo : lo + step]
        d = (xb * xb).sum(1)[:, None] + ref_sq[None, :] - 2.0 * xb @ reference.T
        np.sqrt(np.maximum(d, 0.0, out=d), out=d)
        if groups is not None:
            d[groups[1][None, :] == groups[0][lo : lo + step, None]] = np.inf
        out[lo : lo + step] = np.partition(d, kk - 1, axis=1)[:, :kk].mean(1)
    return out


def prompt_similarity(embeddings: np.ndarray, prompts: np.ndarray) -> np.ndarray:
    """PromptScore(x | Y) = max_p cos(f(x), y_p) (Eq. 4); both inputs L2-normalised."""
    if prompts.shape[0] == 0:
        return np.zeros(embeddings.shape[0], np.float32)
    return (embeddings @ prompts.T).max(1)


def prompt_score(
    embeddings: np.ndarray,
    anomaly_prompts: np.ndarray | None,
    normal_prompts: np.ndarray | None,
    normal_weight: float = 1.0,
) -> np.ndarray:
    """The raw prompt evidence for 'anomalous'.

    - anomaly prompts only: max cosine to them (Eq. 4);
    - normal prompts only: 1 - max cosine to them (METHOD.md's normal-only form);
    - both: max cosine to the anomaly prompts minus ``normal_weight`` x max cosine to the
      normal prompts (the prototype found this subtraction helped in every run).
    """
    a = anomaly_prompts if anomaly_prompts is not None and len(anomaly_prompts) > 0 else None
    n = normal_prompts if normal_prompts is not None and len(normal_prompts) > 0 else None
    if a is not None and n is not None:
        return prompt_similarity(embeddings, a) - normal_weight * prompt_similarity(embeddings, n)
    if a is not None:
        return prompt_similarity(embeddings, a)
    if n is not None:
        return 1.0 - prompt_similarity(embeddings, n)
    return np.zeros(embeddings.shape[0], np.float32)


def logsumexp(x: np.ndarray) -> np.ndarray:
    """log sum_j exp(x_ij) per row, without overflow."""
    m = x.max(1)
    return m + np.log(np.exp(x - m[:, None]).sum(1))


def softmax_evidence(
    embeddings: np.ndarray, anomaly_prompts: np.ndarray, competitors: np.ndarray, scale: float
) -> np.ndarray:
    """The log-odds that a clip is one of the anomaly prompts rather than a competitor.

    Softmax over ``scale * cos(f(x), y)`` for y in the anomaly prompts and the competitors
    (normal anchors and the user's normal prompts), ``scale`` = the model's learnt 1 / tau;
    returns ``log(P(anomaly) / (1 - P(anomaly)))`` with ``P(anomaly)`` the total probability
    mass on the anomaly prompts. Log-odds rather than the probability: the same ranking, but
    it does not saturate at 0 or 1, so standardising it on the normal footage stays stable.
    """
    la = scale * (embeddings @ anomaly_prompts.T)
    if competitors.shape[0] == 0:
        return np.full(embeddings.shape[0], np.inf)
    return logsumexp(la) - logsumexp(scale * (embeddings @ competitors.T))


def best_person(clip_values: np.ndarray, person_values: np.ndarray, person_clip: np.ndarray) -> np.ndarray:
    """The highest of each clip's value and its persons' values (``person_clip[j]`` is the
    clip of ``person_values[j]``): a clip shows what one of its persons shows."""
    out = np.asarray(clip_values, np.float64).copy()
    if len(person_values):
        np.maximum.at(out, np.asarray(person_clip, np.int64), np.asarray(person_values, np.float64))
    return out


def guarded(p_prompt: np.ndarray, guard: str) -> np.ndarray:
    """The standardised prompt term as ``guard`` lets it into the sum (:data:`PROMPT_GUARDS`)."""
    if guard == "floor":
        return np.maximum(p_prompt, -1.0)
    if guard == "zero":
        return np.maximum(p_prompt, 0.0)
    if guard == "percentile":
        return np.maximum(p_prompt - 1.0, 0.0)
    if guard != "none":
        raise ValueError(f"unknown prompt guard {guard!r}; choose from {PROMPT_GUARDS}")
    return p_prompt


def power_calibrated(
    value: np.ndarray, normal_values: np.ndarray, percentile: float, w2: float = 1.0
) -> np.ndarray:
    """min(1, w * max(value, 0)^(1/w2)), w = 1 / percentile of the normal values (Eq. 2-3)."""
    ref = (
        float(np.percentile(np.maximum(normal_values, 0.0) ** (1.0 / w2), percentile))
        if len(normal_values)
        else 1.0
    )
    w = 1.0 / ref if ref > 1e-12 else 1.0
    return np.minimum(1.0, w * np.maximum(value, 0.0) ** (1.0 / w2))


def standardised(value: np.ndarray, normal_values: np.ndarray, percentile: float) -> np.ndarray:
    """(value - median) / (percentile - median) of the normal values: 0 = typical normal,
    1 = the calibration percentile; unbounded above, so anomalies stay ranked."""
    if len(normal_values) == 0:
        return value.astype(np.float64)
    med = float(np.median(normal_values))
    ref = float(np.percentile(normal_values, percentile))
    spread = ref - med
    if spread <= 1e-12:
        spread = float(np.std(normal_values)) or 1.0
    return (value - med) / spread


def combine_scores(
    ood: np.ndarray,
    prompt: np.ndarray,
    normal_ood: np.ndarray,
    normal_prompt: np.ndarray,
    method: str = "sum",
    percentile: float = 99.0,
    use_prompt: bool = True,
    prompt_weight: float = 1.0,
    guard: str = "none",
    prompt_log_odds: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Calibrate OoD and prompt scores on the normal clips and combine them (Eq. 1).

    Returns ``(p_ood, p_prompt, anomaly)``. ``paper``: p(O) p(T) with the clipped power
    calibration (prompt scores that are log-odds, ``prompt_log_odds``, enter it as their
    probabilities: the calibration clips negative values to 0); ``sum``: standardised OoD + standardised prompt (no clipping, so clips above
    the 99th normal percentile keep their order; the prompt term passes :func:`guarded`);
    ``ood`` / ``prompt``: one term only.
    """
    if method not in COMBINES:
        raise ValueError(f"unknown combine method {method!r}; choose from {COMBINES}")
    if method == "paper":
        if prompt_log_odds:
            prompt, normal_prompt = _sigmoid(prompt), _sigmoid(normal_prompt)
        p_o = power_calibrated(ood, normal_ood, percentile)
        p_t = power_calibrated(prompt, normal_prompt, percentile) if use_prompt else np.ones_like(p_o)
        return p_o, p_t, p_o * p_t
    p_o = standardised(ood, normal_ood, percentile)
    p_t = standardised(prompt, normal_prompt, percentile) if use_prompt else np.zeros_like(p_o)
    if method == "ood" or not use_prompt:
        return p_o, p_t, p_o
    if method == "prompt":
        return p_o, p_t, p_t
    return p_o, p_t, p_o + prompt_weight * guarded(p_t, guard)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, np.float64)))  # overflow-free logistic


def threshold_at_false_alarm_rate(normal_scores: np.ndarray, rate: float) -> float:
    """The score above which a fraction ``rate`` of the normal clips fall."""
    if len(normal_scores) == 0:
        return float("inf")
    return (
        float(np.quantile(normal_scores, 1.0 - rate, method="higher"))
        if rate > 0
        else float(np.max(normal_scores))
    )
