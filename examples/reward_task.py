"""Run examples/reward_task.yaml and print its learning curve (fraction correct per block).

    .venv/bin/python examples/reward_task.py [--block 20] [--seed S] [--plot curve.png]

A trial is correct when `out` fires on the rewarded cue (A in phase `before`, B in
`after`) and stays silent on the other one.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

REWARDED = {"before": 0, "after": 1}  # label of the rewarded cue in each phase


def learning_curve(result, block: int = 20) -> dict[str, np.ndarray]:
    """Fraction of correct trials per block of `block` trials, per phase."""
    out = {}
    for phase, rewarded in REWARDED.items():
        fired = result[f"{phase}.out.counts"][:, 0] > 0
        labels = result[f"{phase}.labels"]
        ok = np.where(labels == rewarded, fired, ~fired)
        n = len(ok) // block * block
        out[phase] = ok[:n].reshape(-1, block).mean(axis=1)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--block", type=int, default=20)
    p.add_argument("--seed", type=int, help="network seed (default: the file's)")
    p.add_argument("--plot", help="write the curve to this PNG")
    args = p.parse_args()
    from compiler import Network
    from runtime.api import run

    net = Network.from_yaml(HERE / "reward_task.yaml")
    if args.seed is not None:
        net.seed = args.seed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run(net)
    curve = learning_curve(result, args.block)
    for phase, c in curve.items():
        print(f"{phase:>6} (cue {'AB'[REWARDED[phase]]} rewarded): "
              + " ".join(f"{x:.2f}" for x in c))
    print("final weights cue A, cue B ->", result["cue_out.weights"][0, :2].round(3).tolist())
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        y = np.concatenate([curve["before"], curve["after"]])
        fig, ax = plt.subplots(figsize=(5, 3))
        ax.plot(np.arange(1, len(y) + 1) * args.block, y, "o-")
        ax.axvline(len(curve["before"]) * args.block, color="gray", ls="--", label="reward flips")
        ax.set_xlabel("trial")
        ax.set_ylabel("fraction correct")
        ax.set_ylim(0, 1.05)
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
