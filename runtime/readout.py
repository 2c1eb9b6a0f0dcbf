"""Class readout of spike counts: label neurons by their mean response per class, then vote.

`assign_labels` gives each neuron the class for which its mean spike count (over the
samples of that class) is highest; neurons that never fired get -1. `predict` (vote
`max`) scores a sample by the mean count of the neurons assigned to each class (Diehl &
Cook 2015) and picks the best; a sample to which no assigned neuron responded is
predicted -1 (wrong). `predict_soft` (vote `soft`) keeps each neuron's whole class
profile instead of its best class: score(c) = sum_j count_j * P(c | j), with P(c | j) the
neuron's mean response to class c over its summed mean responses (a neuron that fires
for both 4 and 9 then votes for both, in proportion).

The `output_population` readout needs no host labelling: the network's output population
has k = size / n_classes neurons per class (neuron i answers class i // k); the answer
to a sample is the class whose neurons spiked most (`class_counts`, `predict_output`),
-1 (wrong) when none spiked or several classes tie for the most.
"""

from __future__ import annotations

import numpy as np


def class_means(counts: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Mean count of each neuron per class: (n_classes, size); classes without samples are 0."""
    counts = np.asarray(counts, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    sums = np.zeros((n_classes, counts.shape[1]))
    np.add.at(sums, labels, counts)
    n = np.bincount(labels, minlength=n_classes).astype(np.float64)
    return sums / np.maximum(n, 1.0)[:, None]


def assign_labels(counts: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """The class of each neuron (int64 (size,)), -1 for neurons that never fired."""
    return best_class(class_means(counts, labels, n_classes))


def best_class(means: np.ndarray) -> np.ndarray:
    """Each neuron's class of highest mean response (`class_means`), -1 where all are 0."""
    out = np.argmax(means, axis=0).astype(np.int64)
    out[means.max(axis=0) <= 0] = -1
    return out


def predict(counts: np.ndarray, assignment: np.ndarray, n_classes: int) -> np.ndarray:
    """Predicted class per sample (int64 (n,)): the class whose assigned neurons fired most on
    average; -1 where none of the assigned neurons fired."""
    counts = np.asarray(counts, dtype=np.float64)
    assignment = np.asarray(assignment, dtype=np.int64)
    onehot = np.zeros((counts.shape[1], n_classes))
    ok = assignment >= 0
    onehot[np.flatnonzero(ok), assignment[ok]] = 1.0
    per_class = onehot.sum(axis=0)
    scores = (counts @ onehot) / np.maximum(per_class, 1.0)
    scores[:, per_class == 0] = -1.0
    pred = np.argmax(scores, axis=1).astype(np.int64)
    pred[scores.max(axis=1) <= 0] = -1
    return pred


def predict_soft(counts: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Predicted class per sample (int64 (n,)) by soft votes: `means` (n_classes, size) from
    `class_means`; -1 where no neuron with a class profile fired."""
    counts = np.asarray(counts, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    total = means.sum(axis=0)
    profile = means / np.where(total > 0, total, 1.0)  # P(class | neuron); 0 for silent ones
    scores = counts @ profile.T
    pred = np.argmax(scores, axis=1).astype(np.int64)
    pred[scores.max(axis=1) <= 0] = -1
    return pred


def predict_vote(vote: str, means: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Predictions for `test` counts by vote `max` or `soft`, from the neurons' `class_means`
    (n_classes, size) of the labelling samples."""
    if vote == "soft":
        return predict_soft(test, means)
    return predict(test, best_class(means), means.shape[0])


def accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of samples predicted right (0.0 for no samples)."""
    pred, labels = np.asarray(pred), np.asarray(labels)
    return float(np.mean(pred == labels)) if labels.size else 0.0


def class_counts(counts: np.ndarray, n_classes: int) -> np.ndarray:
    """Spikes per class per sample, int64 (n, n_classes): the sum over each class's block of
    size / n_classes consecutive neurons of the output population's counts (n, size)."""
    counts = np.asarray(counts, dtype=np.int64)
    n, size = counts.shape
    if size % n_classes:
        raise ValueError(f"{size} output neurons are not a whole number per class for "
                         f"{n_classes} classes")
    return counts.reshape(n, n_classes, size // n_classes).sum(axis=2)


def predict_output(per_class: np.ndarray) -> np.ndarray:
    """The class with most spikes per sample (int64 (n,)); -1 where no class spiked or the
    most spikes are shared by several classes (no decision)."""
    per_class = np.asarray(per_class)
    pred = np.argmax(per_class, axis=1).astype(np.int64)
    top = per_class.max(axis=1) if per_class.size else np.zeros(len(per_class))
    ties = (per_class == top[:, None]).sum(axis=1) > 1
    pred[(top <= 0) | ties] = -1
    return pred


def output_readout(counts: np.ndarray, labels: np.ndarray, n_classes: int
                   ) -> dict[str, np.ndarray]:
    """`readout.class_counts` (n, n_classes), `readout.predictions`, `readout.accuracy` and
    `readout.confusion` (true class, predicted class; undecided samples not counted) of an
    output population's counts (n, size) for samples of `labels`."""
    per_class = class_counts(counts, n_classes)
    pred = predict_output(per_class)
    labels = np.asarray(labels, dtype=np.int64)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    ok = pred >= 0
    np.add.at(confusion, (labels[ok], pred[ok]), 1)
    return {"readout.class_counts": per_class, "readout.predictions": pred,
            "readout.accuracy": np.asarray(accuracy(pred, labels)),
            "readout.confusion": confusion}
