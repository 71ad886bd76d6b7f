"""Choose the FAQ re-ranker's linear model on the library alone, in a minute.

    python -m bot.tune_ranker [--folds 5] [--dev-share 0.2]

bot.tune trains the whole NLU pipeline for every candidate (a quarter of an
hour each here); the linear model of bot/nlu/faq_linear_ranker.py can be
compared far faster with scikit-learn on the library's own phrasings. The
features approximate the pipeline's: Traditional read as Simplified
(bot.script), jieba words with the banking dictionary, and character 1-3
grams within words (CountVectorsFeaturizer, analyzer char_wb), each row L2
normalised as the ranker does. Prints:

1. k-fold top-1 (every similar question in one fold by a hash of its text;
   the standard questions always train) for the logistic regression used
   before and the linear SVM at two strengths;
2. on the development split (bot.training_split.split_library), the
   log-loss of softmax(temperature * SVM score) for a few temperatures, and
   what the confidence gate would do at a few thresholds (answered right,
   answered wrong, asked "您是不是想问"), on the linear model's
   probabilities alone (the pipeline blends in the selector's at 0.2).

tests/heldout/ is not read.
"""
from __future__ import annotations

import argparse
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np

from bot.faq.library import load_library
from bot.settings import ROOT, get_settings
from bot.training_split import split_library, text_hash

Labelled = List[Tuple[str, str]]  # (text, entry id)


def tokenizer() -> Callable[[str], List[str]]:
    import jieba

    from bot.script import to_simplified

    words = jieba.Tokenizer()
    for path in sorted((ROOT / "bot" / "jieba").glob("*.txt")):
        words.load_userdict(str(path))
    cache: Dict[str, List[str]] = {}

    def tokens(text: str) -> List[str]:
        if text not in cache:
            cache[text] = [w for w in words.lcut(to_simplified(text).lower()) if w.strip()]
        return cache[text]

    return tokens


def char_grams(tokens: Callable[[str], List[str]]) -> Callable[[str], List[str]]:
    def grams(text: str) -> List[str]:
        out = []
        for word in tokens(text):
            padded = f" {word} "
            out += [padded[i:i + n] for n in (1, 2, 3) for i in range(len(padded) - n + 1)]
        return [g for g in out if g.strip()]

    return grams


class Features:
    """Word and char_wb 1-3 counts, fitted on the training texts."""

    def __init__(self, tokens: Callable[[str], List[str]]) -> None:
        from sklearn.feature_extraction.text import CountVectorizer

        self.vectorizers = [
            CountVectorizer(analyzer=tokens),
            CountVectorizer(analyzer=char_grams(tokens)),
        ]

    def fit_transform(self, texts: Sequence[str]):
        return self._rows([v.fit_transform(texts) for v in self.vectorizers])

    def transform(self, texts: Sequence[str]):
        return self._rows([v.transform(texts) for v in self.vectorizers])

    @staticmethod
    def _rows(blocks):
        from scipy.sparse import hstack
        from sklearn.preprocessing import normalize

        return normalize(hstack(blocks).tocsr())


def candidates() -> Dict[str, object]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    return {
        "LogisticRegression C=30 (before)": LogisticRegression(C=30.0, max_iter=3000),
        "LinearSVC C=1": LinearSVC(C=1.0, max_iter=5000),
        "LinearSVC C=2 (chosen)": LinearSVC(C=2.0, max_iter=5000),
    }


def fold_of(text: str, folds: int) -> int:
    return text_hash(text)[1] % folds


def top1(model, features: Features, train: Labelled, test: Labelled) -> float:
    model.fit(features.fit_transform([t for t, _ in train]), [i for _, i in train])
    scores = model.decision_function(features.transform([t for t, _ in test]))
    predicted = model.classes_[scores.argmax(axis=1)]
    return float(np.mean(predicted == np.array([i for _, i in test])))


def cross_validate(folds: int, tokens) -> Dict[str, List[float]]:
    library = load_library(get_settings().faq_dir)
    standard = [(e.question, e.id) for e in library.entries]
    similar = [(t, e.id) for e in library.entries for t in e.similar]
    results: Dict[str, List[float]] = {name: [] for name in candidates()}
    for k in range(folds):
        train = standard + [p for p in similar if fold_of(p[0], folds) != k]
        test = [p for p in similar if fold_of(p[0], folds) == k]
        for name, model in candidates().items():
            results[name].append(top1(model, Features(tokens), train, test))
    return results


def softmax(scores: np.ndarray) -> np.ndarray:
    scores = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)


def gate_outcomes(probabilities, classes, gold, threshold: float, ambiguity: float = 0.05):
    right = wrong = asked = 0
    for row, expected in zip(probabilities, gold):
        first, second = np.argsort(-row)[:2]
        if row[first] < threshold or row[first] - row[second] < ambiguity:
            asked += 1
        elif classes[first] == expected:
            right += 1
        else:
            wrong += 1
    return right, wrong, asked


def temperature_table(share: float, tokens) -> List[str]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    library, dev = split_library(share)
    train = [(t, e.id) for e in library.entries for t in e.examples]
    features = Features(tokens)
    train_rows = features.fit_transform([t for t, _ in train])
    dev_rows = features.transform([c.text for c in dev])
    gold = np.array([c.faq_id for c in dev])
    before = LogisticRegression(C=30.0, max_iter=3000).fit(train_rows, [i for _, i in train])
    outcome = gate_outcomes(before.predict_proba(dev_rows), before.classes_, gold, 0.3)
    model = LinearSVC(C=2.0, max_iter=5000).fit(train_rows, [i for _, i in train])
    scores = model.decision_function(dev_rows)
    rows = np.arange(len(gold))
    columns = np.searchsorted(model.classes_, gold)
    lines = [
        f"dev split: {len(dev)} lines, SVM C=2 top-1 "
        f"{np.mean(model.classes_[scores.argmax(axis=1)] == gold):.1%}",
        f"  before (LogisticRegression C=30, gate 0.3): right/wrong/asked {'/'.join(map(str, outcome))}",
    ]
    for temperature in (3.0, 4.0, 5.0, 6.0, 8.0):
        probabilities = softmax(scores * temperature)
        log_loss = -np.mean(np.log(probabilities[rows, columns] + 1e-12))
        gates = ", ".join(
            f"{t}: {'/'.join(map(str, gate_outcomes(probabilities, model.classes_, gold, t)))}"
            for t in (0.3, 0.4, 0.5)
        )
        lines.append(f"  temperature {temperature:g}: log-loss {log_loss:.3f}; "
                     f"gate right/wrong/asked at {gates}")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--dev-share", type=float, default=0.2)
    args = parser.parse_args(argv)
    tokens = tokenizer()
    for name, scores in cross_validate(args.folds, tokens).items():
        folds = " ".join(f"{s:.3f}" for s in scores)
        print(f"{name:34s} {args.folds}-fold top-1 {np.mean(scores):.1%}  ({folds})", flush=True)
    for line in temperature_table(args.dev_share, tokens):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
