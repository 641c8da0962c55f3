"""The scoring equations (METHOD.md Eq. 1-4) against direct computations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.covariance import LedoitWolf

from skelprompt.scoring import (
    combine_scores,
    knn_distance,
    mahalanobis,
    prompt_score,
    threshold_at_false_alarm_rate,
)


def test_mahalanobis_matches_a_direct_computation() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6))
    lw = LedoitWolf().fit(x)
    q = rng.normal(size=(5, 6))
    direct = [np.sqrt((v - lw.location_) @ np.linalg.inv(lw.covariance_) @ (v - lw.location_)) for v in q]
    np.testing.assert_allclose(mahalanobis(q, lw.location_, lw.get_precision()), direct, rtol=1e-6)


def test_knn_distance_and_leave_one_out() -> None:
    ref = np.array([[0.0], [1.0], [3.0], [6.0]])
    np.testing.assert_allclose(knn_distance(np.array([[0.5]]), ref, k=2), [0.5])
    np.testing.assert_allclose(knn_distance(ref, ref, k=1, exclude_self=True), [1, 1, 2, 3])


def test_paper_product_takes_log_odds_as_probabilities() -> None:
    """Softmax prompt evidence is log-odds, mostly negative: the paper's calibration clips
    negative values to 0, so taken as they are the product would be 0 for most clips."""
    rng = np.random.default_rng(0)
    normal_ood, normal_lo = rng.random(200), rng.normal(-2.0, 0.5, 200)
    ood, lo = np.array([0.5, 0.5, 0.5]), np.array([-3.0, -2.0, -1.0])
    _, p_t_raw, a_raw = combine_scores(ood, lo, normal_ood, normal_lo, "paper")
    assert (a_raw == 0).all() and (p_t_raw == 0).all()  # what the flag is for
    _, p_t, a = combine_scores(ood, lo, normal_ood, normal_lo, "paper", prompt_log_odds=True)
    assert (p_t > 0).all() and np.all(np.diff(a) > 0)  # the better the match, the higher


def test_prompt_score_and_calibration() -> None:
    emb = np.eye(3)
    ya, yn = np.eye(3)[[0]], np.eye(3)[[1]]
    np.testing.assert_allclose(prompt_score(emb, ya, None), [1, 0, 0])
    np.testing.assert_allclose(prompt_score(emb, None, yn), [1, 0, 1])
    np.testing.assert_allclose(prompt_score(emb, ya, yn), [1, -1, 0])
    normal = np.linspace(0, 1, 101)
    p_o, p_t, a = combine_scores(np.array([0.5, 2.0]), np.array([0.99, 0.5]), normal, normal, "paper")
    np.testing.assert_allclose(p_o, [0.5 / 0.99, 1.0])  # w1 = 1 / 99th percentile, clipped at 1
    np.testing.assert_allclose(a, p_o * p_t)
    _, _, s = combine_scores(np.array([2.0, 3.0]), np.zeros(2), normal, normal, "sum")
    assert s[1] > s[0]  # the sum keeps clips beyond the 99th percentile ranked
    assert threshold_at_false_alarm_rate(normal, 0.1) == pytest.approx(0.9)
    assert (normal > threshold_at_false_alarm_rate(normal, 0.05)).mean() <= 0.05
