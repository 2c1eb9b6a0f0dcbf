"""Local learning over seeds: digits_stdp (host vote), digits_onchip (the network answers), the
hidden-pattern task; sklearn baselines.

    .venv/bin/python bench/learning.py --task onchip      # examples/digits_onchip.yaml, 5 seeds
    .venv/bin/python bench/learning.py --task pattern     # examples/pattern.yaml, 5 seeds
    .venv/bin/python bench/learning.py --task pattern --seeds 10 --first-seed 10  # tuning seeds
    .venv/bin/python bench/learning.py                    # digits_stdp: 100 and 400 neurons
    .venv/bin/python bench/learning.py --sizes 1600 --seeds 1
    .venv/bin/python bench/learning.py --validation 200   # tune on validation (never on test)
    .venv/bin/python bench/learning.py --lava-check       # reduced run on cpu and lava, compared

The example is tuned for 400 excitatory neurons; below 400 the adaptive threshold's
increment is scaled by size / 400 (a neuron of a smaller layer wins proportionally more
samples, and its threshold would otherwise dominate the test response; on validation,
100 neurons: 82 % with increment 3 vs 51 % with 12). Above 400 it is kept (1600 neurons:
92.5 % with 12 vs 86.5 % with 48 and 85.5 % with 3).

For each size and seed it runs the example's phases (train / label / test) on the CPU
backend with `seed` changed (weights, spikes, learning) and the split kept; it reports
accuracy mean +/- sd and training time (the `train` phase's wall time), and per run the
accuracy of the learned weights used directly as cosine prototypes (no spikes), which
separates what the rule learned from what the spiking readout makes of it. Baselines:
logistic regression and an MLP (sklearn) trained on the same train split (raw pixels).
A learning curve (accuracy after each training epoch, first seed, largest size) is
written to bench/results/learning_curve.png.

`--task onchip` runs examples/digits_onchip.yaml with `seed` changed: the accuracy is the
network's own (`readout: output_population`), beside the host's soft vote over the same
feature neurons' counts for comparison. `--task pattern` runs examples/pattern.yaml per
seed (a new pattern, noise and start each time) and scores the detector's test-phase
spikes: hit rate, false alarms per second of noise, latency; the hit rate and false
alarms per 5 s window of training for the first seed go to
bench/results/learning_pattern.png.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# bench/backends.py would shadow the `backends` package: put the repository root first
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
EXAMPLE = ROOT / "examples" / "digits_stdp.yaml"
ONCHIP = ROOT / "examples" / "digits_onchip.yaml"
PATTERN = ROOT / "examples" / "pattern.yaml"
RESULTS = ROOT / "bench" / "results"
PATTERN_FA_COST = 0.05  # hit rate lost per false alarm / s when picking the detector


def example_spec(size: int, seed: int, validation: int, epochs: int | None = None) -> dict:
    """The example's spec with `size` excitatory neurons, `seed`, and optionally a validation
    split (then `test` is replaced by it: tuning never looks at the test split)."""
    from compiler.yamlio import load_yaml

    spec, _ = load_yaml(EXAMPLE)
    spec["seed"] = seed
    exc = spec["populations"]["exc"]
    exc["params"]["adapt"]["increment"] *= min(1.0, size / exc["size"])
    exc["size"] = size
    spec["populations"]["inp"]["spikes"]["split"]["validation"] = validation
    if epochs is not None:
        spec["phases"][0]["samples"]["epochs"] = epochs
    if validation:
        spec["phases"][2]["samples"]["split"] = "validation"
    return spec


def prototype_accuracy(weights: np.ndarray, validation: int) -> float:
    """Accuracy of the learned weights used as prototypes, without spikes (a diagnostic that
    separates learning from the spiking readout): each neuron takes the majority label of the
    training samples it is most cosine-similar to; an evaluation sample takes the label of
    its most similar labelled neuron."""
    from compiler.datasets import load_builtin, make_splits

    x, y = load_builtin("digits")
    s = make_splits(len(y), test=600, validation=validation, shuffle_seed=0)
    ev = s["validation"] if validation else s["test"]

    def unit(a: np.ndarray) -> np.ndarray:
        return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)

    w = unit(np.asarray(weights, dtype=np.float64))
    best = np.argmax(unit(x[s["train"]]) @ w.T, axis=1)
    votes = np.zeros((len(w), 10))
    np.add.at(votes, (best, y[s["train"]]), 1.0)
    label = np.where(votes.sum(axis=1) > 0, votes.argmax(axis=1), -1)
    sim = unit(x[ev]) @ w.T
    sim[:, label < 0] = -np.inf
    return float(np.mean(label[np.argmax(sim, axis=1)] == y[ev]))


def run_snn(spec: dict, validation: int = 0) -> dict:
    """Accuracy, prototype accuracy, training time and total time of one run of a spec."""
    from compiler.frontend import network_from_dict
    from compiler.pipeline import compile_network
    from runtime.phases import run_phases

    t0 = time.perf_counter()
    res = run_phases(compile_network(network_from_dict(spec, base_dir=EXAMPLE.parent)))
    from runtime import readout as ro

    label, test = spec["readout"]["assign"], spec["readout"]["evaluate"]
    means = ro.class_means(res[f"{label}.exc.counts"], res[f"{label}.labels"], 10)
    pred = ro.predict_vote("max", means, res[f"{test}.exc.counts"])
    max_vote = ro.accuracy(pred, res[f"{test}.labels"])
    return {"accuracy": float(res["readout.accuracy"]), "max_vote": max_vote,
            "prototype": prototype_accuracy(res["inp_exc.weights"], validation),
            "train_s": res.meta["phases"]["train"]["wall_s"], "total_s": time.perf_counter() - t0}


def learning_curve(size: int, seed: int, validation: int, epochs: int) -> list[float]:
    """Accuracy after each of `epochs` training epochs, in one session: train, label, test,
    then training settings restored (inhibition, threshold, adaptation) and so on."""
    from compiler.frontend import network_from_dict
    from compiler.pipeline import compile_network
    from runtime import readout as ro
    from runtime.phases import run_phases

    spec = example_spec(size, seed, validation)
    train, label, test = spec["phases"]
    base = spec["populations"]["exc"]["params"]
    restore = {"populations.exc.params.vth": base["vth"],
               "populations.exc.params.adapt.increment": base["adapt"]["increment"],
               "populations.exc.params.adapt.tau": base["adapt"]["tau"],
               "projections.exc_exc.weight_scale": 1.0}
    phases = []
    for e in range(epochs):
        tr = copy.deepcopy(train)
        tr["name"] = f"train{e}"
        tr["samples"]["epochs"] = 1
        if e:
            tr["set"] = dict(restore)
        lb, ts = copy.deepcopy(label), copy.deepcopy(test)
        lb["name"], ts["name"] = f"label{e}", f"test{e}"
        phases += [tr, lb, ts]
    spec["phases"] = phases
    vote = spec.pop("readout").get("vote", "max")
    res = run_phases(compile_network(network_from_dict(spec, base_dir=EXAMPLE.parent)))
    out = []
    for e in range(epochs):
        means = ro.class_means(res[f"label{e}.exc.counts"], res[f"label{e}.labels"], 10)
        pred = ro.predict_vote(vote, means, res[f"test{e}.exc.counts"])
        out.append(ro.accuracy(pred, res[f"test{e}.labels"]))
    return out


def baselines(validation: int) -> dict[str, float]:
    """Logistic regression and MLP accuracy on the same split (first seed of each)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    from compiler.datasets import load_builtin, make_splits

    x, y = load_builtin("digits")
    s = make_splits(len(y), test=600, validation=validation, shuffle_seed=0)
    ev = s["validation"] if validation else s["test"]
    out = {}
    for name, model in (("logistic regression", LogisticRegression(max_iter=5000)),
                        ("MLP (100 hidden)", MLPClassifier((100,), max_iter=2000, random_state=0))):
        t0 = time.perf_counter()
        model.fit(x[s["train"]] / 16.0, y[s["train"]])
        out[name] = (float(model.score(x[ev] / 16.0, y[ev])), time.perf_counter() - t0)
    return out


def lava_check(size: int = 100, train: int = 200, test: int = 100) -> None:
    """The example reduced (size neurons, `train` training / labelling samples, `test` test
    samples) on the cpu and lava backends: accuracy, wall time, and whether every result
    array is equal."""
    from compiler.frontend import network_from_dict
    from compiler.pipeline import compile_network
    from runtime.phases import run_phases

    spec = example_spec(size, 0, 0)
    train_ph, label_ph, test_ph = spec["phases"]
    train_ph["samples"]["count"] = label_ph["samples"]["count"] = train
    test_ph["samples"]["count"] = test
    program = compile_network(network_from_dict(spec, base_dir=EXAMPLE.parent))
    out = {}
    for backend in ("cpu", "lava"):
        t0 = time.perf_counter()
        out[backend] = run_phases(program, backend=backend, timeout_s=3600)
        print(f"  {backend}: accuracy {100 * float(out[backend]['readout.accuracy']):.1f} %, "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
    keys = sorted(out["cpu"].keys())
    same = [k for k in keys if np.array_equal(out["cpu"][k], out["lava"][k])]
    print(f"  {len(same)} of {len(keys)} result arrays equal"
          + ("" if len(same) == len(keys) else f"; different: {sorted(set(keys) - set(same))}"))


def onchip_run(seed: int, validation: int, shuffle_seed: int | None = None) -> dict:
    """One run of digits_onchip with `seed` (and optionally evaluated on a validation split
    carved from train, or on another train/test split `shuffle_seed`): the network's
    accuracy, the host soft vote over the feature neurons, training time (the phases that
    learn) and total time."""
    from compiler.frontend import network_from_dict
    from compiler.pipeline import compile_network
    from compiler.yamlio import load_yaml
    from runtime import readout as ro
    from runtime.phases import run_phases

    spec, _ = load_yaml(ONCHIP)
    spec["seed"] = seed
    if shuffle_seed is not None:
        spec["populations"]["inp"]["spikes"]["split"]["shuffle_seed"] = shuffle_seed
    if validation:
        spec["populations"]["inp"]["spikes"]["split"]["validation"] = validation
        spec["phases"][-1]["samples"]["split"] = "validation"
    t0 = time.perf_counter()
    res = run_phases(compile_network(network_from_dict(spec, base_dir=ONCHIP.parent)))
    names = [ph["name"] for ph in spec["phases"]]
    assign, test = names[-2], names[-1]
    means = ro.class_means(res[f"{assign}.exc.counts"], res[f"{assign}.labels"], 10)
    soft = ro.accuracy(ro.predict_vote("soft", means, res[f"{test}.exc.counts"]),
                       res[f"{test}.labels"])
    train_s = sum(res.meta["phases"][n]["wall_s"] for n in names[:-1])
    return {"accuracy": float(res["readout.accuracy"]), "soft_vote": soft, "train_s": train_s,
            "undecided": float(np.mean(res["readout.predictions"] < 0)),
            "total_s": time.perf_counter() - t0}


def pattern_run(seed: int, spec: dict | None = None, backend: str = "cpu") -> dict:
    """One run of the pattern example with `seed`: test-phase scores of the detector neuron
    (chosen on the `select` phase when the example has one, else on the last 10 s of
    training), its training-phase scores per 5 s window, times."""
    from compiler.frontend import network_from_dict
    from compiler.patterns import pattern_scores
    from compiler.pipeline import compile_network
    from compiler.yamlio import load_yaml
    from runtime.phases import run_phases

    if spec is None:
        spec, _ = load_yaml(PATTERN)
    spec = copy.deepcopy(spec)
    spec["seed"] = seed
    net = network_from_dict(spec, base_dir=PATTERN.parent)
    t0 = time.perf_counter()
    res = run_phases(compile_network(net), backend=backend, timeout_s=3600)
    onsets, length = pattern_onsets_of(spec, net.seed)
    names = [ph["name"] for ph in spec["phases"]]
    train, test = names[0], names[-1]
    tr, te = res[f"{train}.det.spikes"], res[f"{test}.det.spikes"]
    j = _pattern_detector(res, names, onsets, length)
    test_start = sum(res[f"{n}.det.spikes"].shape[0] for n in names[:-1])
    best = pattern_scores(te[:, j], onsets, length, test_start)
    window = 5000
    curve = [pattern_scores(tr[lo:lo + window, j], onsets, length, lo)
             for lo in range(0, tr.shape[0] - window + 1, window)]
    return {**best, "neuron": j, "curve": curve, "train_s": res.meta["phases"][train]["wall_s"],
            "total_s": time.perf_counter() - t0, "result": res}


def _pattern_detector(res, names: list[str], onsets: np.ndarray, length: int) -> int:
    """The detector: the best neuron of the frozen `select` phase (run with the test
    settings, before the test), or of the last 10 s of training without one."""
    from compiler.patterns import chosen_detector

    if "select" not in names:
        return chosen_detector(res[f"{names[0]}.det.spikes"], onsets, length)
    k = names.index("select")
    start = sum(res[f"{n}.det.spikes"].shape[0] for n in names[:k])
    sel = res["select.det.spikes"]
    return chosen_detector(sel, onsets, length, window=sel.shape[0], start=start,
                           fa_cost=PATTERN_FA_COST)


def pattern_onsets_of(spec: dict, seed: int) -> tuple[np.ndarray, int]:
    """The onsets and length of the example's hidden pattern (the source's own draw)."""
    from compiler.frontend.checks import Checker
    from compiler.frontend.pattern_source import pattern_spec
    from compiler.patterns import pattern_onsets

    aff = spec["populations"]["aff"]
    ps = pattern_spec(Checker(None, {}, ROOT), aff["spikes"], "aff", aff["size"])
    return pattern_onsets(ps, seed, "aff"), ps.length


def onchip_main(seeds: int, validation: int, first: int = 0,
                shuffle_seed: int | None = None) -> None:
    """Table rows of digits_onchip over seeds first .. first + seeds - 1."""
    split = "validation" if validation else "test"
    if shuffle_seed is not None:
        split += f" (shuffle_seed {shuffle_seed})"
    runs = []
    for seed in range(first, first + seeds):
        r = onchip_run(seed, validation, shuffle_seed)
        runs.append(r)
        print(f"  seed {seed}: network {100 * r['accuracy']:.1f} % (undecided "
              f"{100 * r['undecided']:.1f} %), host soft vote {100 * r['soft_vote']:.1f} %, "
              f"training {r['train_s']:.0f} s, total {r['total_s']:.0f} s", flush=True)
    acc = np.array([r["accuracy"] for r in runs])
    sd = 100 * acc.std(ddof=1) if len(acc) > 1 else 0.0
    print(f"digits_onchip, {split} split: {100 * acc.mean():.1f} +/- {sd:.1f} % over {seeds} "
          f"seed(s); host soft vote {100 * np.mean([r['soft_vote'] for r in runs]):.1f} %; "
          f"training {np.mean([r['train_s'] for r in runs]):.0f} s")


def pattern_main(seeds: int, first: int = 0) -> None:
    """Hit rate, false alarms and latency of the pattern example over seeds, and the curve."""
    runs = []
    for seed in range(first, first + seeds):
        r = pattern_run(seed)
        runs.append(r)
        print(f"  seed {seed}: hit rate {100 * r['hit_rate']:.1f} % of {r['copies']:.0f} copies, "
              f"false alarms {r['false_alarms_per_s']:.2f} /s, latency {r['latency']:.1f} "
              f"steps, training {r['train_s']:.0f} s", flush=True)
    for key, unit in (("hit_rate", "%"), ("false_alarms_per_s", "/s"), ("latency", "steps")):
        vals = np.array([r[key] for r in runs]) * (100 if unit == "%" else 1)
        print(f"pattern {key}: {np.nanmean(vals):.2f} {unit} (per seed: "
              + ", ".join(f"{v:.2f}" for v in vals) + ")")
    if first == 0:
        _plot_pattern_curve(runs[0]["curve"])


def _plot_pattern_curve(curve: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [5 * (i + 1) for i in range(len(curve))]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(t, [100 * c["hit_rate"] for c in curve], "o-", label="hit rate (%)")
    ax2 = ax.twinx()
    ax2.plot(t, [c["false_alarms_per_s"] for c in curve], "s--", color="C1",
             label="false alarms (/s)")
    ax.set_ylim(0, 105)
    ax2.set_ylim(0, None)
    ax.set_xlabel("training time (s, 1 step = 1 ms)")
    ax.set_ylabel("hit rate (%)")
    ax2.set_ylabel("false alarms per s")
    ax.set_title("hidden pattern, seed 0, during training")
    lines = ax.get_lines() + ax2.get_lines()
    ax.legend(lines, [ln.get_label() for ln in lines], loc="lower left")
    fig.tight_layout()
    path = RESULTS / "learning_pattern.png"
    fig.savefig(path, dpi=120)
    print("training curve (hit %, false alarms /s per 5 s): "
          + ", ".join(f"{100 * c['hit_rate']:.0f}/{c['false_alarms_per_s']:.1f}" for c in curve)
          + f" -> {path}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", choices=("stdp", "onchip", "pattern"), default="stdp")
    p.add_argument("--sizes", type=int, nargs="+", default=[100, 400])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--first-seed", type=int, default=0, help="--task onchip / pattern: seeds from this one")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default: the example's)")
    p.add_argument("--shuffle-seed", type=int, default=None,
                   help="--task onchip: another train/test split (the example's shuffle_seed)")
    p.add_argument("--validation", type=int, default=0,
                   help="carve a validation split of this size from train and evaluate on it")
    p.add_argument("--curve-epochs", type=int, default=3, help="0: no learning-curve plot")
    p.add_argument("--lava-check", action="store_true",
                   help="only run the reduced cpu-vs-lava comparison (100 neurons, 200 samples)")
    args = p.parse_args(argv)
    if args.task == "onchip":
        onchip_main(args.seeds, args.validation, args.first_seed, args.shuffle_seed)
        return
    if args.task == "pattern":
        pattern_main(args.seeds, args.first_seed)
        return
    if args.lava_check:
        print("digits_stdp reduced (100 neurons, 200 train / label samples, 100 test), seed 0:")
        lava_check()
        return
    split = "validation" if args.validation else "test"
    rows = []
    for size in args.sizes:
        runs = [run_snn(example_spec(size, seed, args.validation, args.epochs), args.validation)
                for seed in range(args.seeds)]
        acc = np.array([r["accuracy"] for r in runs])
        rows.append((f"snnc digits_stdp, {size} exc neurons", 100 * acc.mean(),
                     100 * acc.std(ddof=1) if len(acc) > 1 else 0.0,
                     np.mean([r["train_s"] for r in runs]), len(runs)))
        print(f"  {size} neurons: " + ", ".join(f"{100 * a:.1f}" for a in acc)
              + "; with the max vote: " + ", ".join(f"{100 * r['max_vote']:.1f}" for r in runs)
              + "; weights as prototypes (no spikes): "
              + ", ".join(f"{100 * r['prototype']:.1f}" for r in runs), flush=True)
    for name, (acc, t) in baselines(args.validation).items():
        rows.append((f"sklearn {name}", 100 * acc, 0.0, t, 1))
    epochs = args.epochs or example_spec(100, 0, 0)["phases"][0]["samples"]["epochs"]
    print(f"\nsklearn 8x8 digits, {split} split (test 600, shuffle_seed 0), "
          f"{epochs} training epoch(s)")
    print(f"{'model':<42} {'accuracy %':>14} {'train s':>8} {'runs':>5}")
    for name, mean, sd, t, n in rows:
        print(f"{name:<42} {mean:>7.1f} +/- {sd:<4.1f} {t:>8.1f} {n:>5}")
    if args.curve_epochs:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        size = max(args.sizes)
        curve = learning_curve(size, 0, args.validation, args.curve_epochs)  # 1 epoch per step
        RESULTS.mkdir(parents=True, exist_ok=True)
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.plot(range(1, len(curve) + 1), [100 * c for c in curve], "o-")
        ax.set_xticks(range(1, len(curve) + 1))
        ax.set_xlabel("training epochs")
        ax.set_ylabel(f"{split} accuracy (%)")
        ax.set_title(f"digits_stdp, {size} neurons, seed 0")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = RESULTS / "learning_curve.png"
        fig.savefig(path, dpi=120)
        print(f"learning curve ({size} neurons): " + ", ".join(f"{100 * c:.1f}" for c in curve)
              + f" -> {path}")


if __name__ == "__main__":
    main()
