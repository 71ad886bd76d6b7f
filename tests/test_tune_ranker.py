"""The ranker-tuning command's pieces: the gate count, folds and features."""
from __future__ import annotations

import numpy as np

from bot.tune_ranker import char_grams, fold_of, gate_outcomes, softmax


def test_gate_outcomes_count_right_wrong_and_asked():
    classes = np.array(["a", "b", "c"])
    probabilities = np.array([
        [0.7, 0.2, 0.1],  # confident, right
        [0.1, 0.8, 0.1],  # confident, wrong (expected a)
        [0.45, 0.43, 0.12],  # first barely ahead of the second: asked
        [0.35, 0.33, 0.32],  # below the threshold: asked
    ])
    gold = ["a", "a", "a", "c"]
    assert gate_outcomes(probabilities, classes, gold, threshold=0.4) == (1, 1, 2)
    assert gate_outcomes(probabilities, classes, gold, threshold=0.75) == (0, 1, 3)


def test_softmax_rows_sum_to_one_and_keep_the_order():
    scores = np.array([[1.0, 3.0, 2.0], [1000.0, 999.0, 0.0]])
    probabilities = softmax(scores)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert [list(np.argsort(-row)) for row in probabilities] == [[1, 2, 0], [0, 1, 2]]


def test_folds_are_decided_by_the_text_alone():
    texts = [f"问题{i}" for i in range(200)]
    folds = [fold_of(t, 5) for t in texts]
    assert folds == [fold_of(t, 5) for t in texts]
    assert set(folds) == {0, 1, 2, 3, 4}


def test_character_grams_stay_within_words():
    grams = char_grams(lambda text: text.split())("转账 手续费")
    assert "转账" in grams and " 手续" in grams and "费 " in grams
    assert "账 手" not in grams and "账手" not in grams
