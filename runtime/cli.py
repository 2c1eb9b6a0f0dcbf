"""The `snnc` command: compile, run and profile networks (SPEC.md section 2).

Exit status: 0 success; 2 bad input (file, line, field and what is allowed); 1 other
failures. No Python traceback for bad input (set SNNC_DEBUG=1 to see internal ones).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from compiler.errors import InputError, SnncError
from compiler.passes.partition import METHODS as PARTITIONERS


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as bad input (exit 2) in our format."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise InputError(f"{self.prog}: {message}")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="snnc",
        description="Compile, run and profile spiking networks with local learning rules "
        "for Loihi-style neuromorphic chips.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    c = sub.add_parser("compile", help="validate, quantize, partition and place a network; "
                       "write a .snnc artifact")
    c.add_argument("network", help="network file (.yaml)")
    c.add_argument("-o", "--output", help="artifact to write (default: <network>.snnc)")
    c.add_argument("--target", help="loihi1 | loihi2 | path/to/target.yaml (overrides the file)")
    c.add_argument("--partitioner", default="auto", help=f"one of {', '.join(PARTITIONERS)} (default auto)")
    c.add_argument("--json", action="store_true", help="print the placement summary as JSON")
    c.add_argument("--quantize", action="store_true",
                   help="float networks: compile the quantized fixed-point network (runs as Loihi "
                   "integers) instead of keeping float semantics")

    e = sub.add_parser("export", help="export a network or compiled program to a NIR graph (.nir)")
    e.add_argument("network", help="network file (.yaml) or compiled program (.snnc)")
    e.add_argument("-o", "--output", required=True, help="NIR file to write (.nir)")
    e.add_argument("--dt", type=float, default=1.0, help="time step of the NIR graph (default 1.0)")

    r = sub.add_parser("run", help="run a network or compiled program on a backend")
    r.add_argument("network", help="network file (.yaml) or compiled program (.snnc)")
    r.add_argument("--backend", default="cpu", help="cpu | lava (default cpu)")
    r.add_argument("--steps", type=int, help="number of steps (default: the file's `steps`)")
    r.add_argument("-o", "--output", help="results .npz (default: <network>_results.npz)")
    r.add_argument("--probe", action="append", dest="probes",
                   help="record this probe instead of the file's (repeatable), e.g. hid.v")
    r.add_argument("--target", help="target to compile for (YAML input only)")
    r.add_argument("--partitioner", default="auto", help=f"one of {', '.join(PARTITIONERS)}")
    _lava_options(r)

    f = sub.add_parser("profile", help="per-core utilization, activity, time and energy")
    f.add_argument("network", help="network file (.yaml) or compiled program (.snnc)")
    f.add_argument("--backend", default="cpu", help="cpu | lava (default cpu)")
    f.add_argument("--steps", type=int, help="number of steps (default: the file's `steps`)")
    f.add_argument("--json", action="store_true", help="print the profile as JSON")
    f.add_argument("--plot", metavar="DIR", help="write PNG plots into DIR")
    f.add_argument("--target", help="target to compile for (YAML input only)")
    f.add_argument("--partitioner", default="auto", help=f"one of {', '.join(PARTITIONERS)}")
    _lava_options(f)
    return p


def _lava_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--granularity", choices=("grouped", "core"), default=None,
                   help="lava backend: one process group per population (grouped, default) "
                   "or per compiled core (core)")
    p.add_argument("--timeout", type=float, default=None,
                   help="lava backend: watchdog timeout in seconds")


def _backend_options(args: argparse.Namespace) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    if args.backend == "lava":
        if args.granularity:
            opts["granularity"] = args.granularity
        if args.timeout is not None:
            opts["timeout_s"] = args.timeout
    elif args.granularity or args.timeout is not None:
        raise InputError("--granularity/--timeout apply to --backend lava only")
    return opts


def _check_partitioner(name: str) -> None:
    if name not in PARTITIONERS:
        from compiler.errors import suggest

        raise InputError(f"--partitioner {name}: unknown partitioner{suggest(name, PARTITIONERS)}; "
                         f"allowed: {', '.join(PARTITIONERS)}")


def _progress_printer(total: int):
    """A stderr progress bar for runs long enough to need one (updates at most 10x/s)."""
    state = {"t0": time.perf_counter(), "last": 0.0, "shown": False}

    def show(done: int, total_: int = total) -> None:
        now = time.perf_counter()
        if now - state["t0"] < 2.0 or (now - state["last"] < 0.1 and done < total_):
            return
        state["last"], state["shown"] = now, True
        frac = done / max(total_, 1)
        bar = "#" * int(30 * frac)
        sys.stderr.write(f"\r  [{bar:<30}] {done}/{total_} steps  {now - state['t0']:.1f} s")
        if done >= total_:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def cmd_compile(args: argparse.Namespace) -> int:
    from compiler.summary import compile_summary, format_summary

    from .api import compile as compile_program

    _check_partitioner(args.partitioner)
    src = Path(args.network)
    if src.suffix not in (".yaml", ".yml", ".nir"):
        raise InputError(f"{src}: compile takes a network file (.yaml, .yml) or a NIR graph (.nir)")
    out = Path(args.output) if args.output else src.with_suffix(".snnc")
    program = compile_program(src, target=args.target, partitioner=args.partitioner, output=out,
                              quantize=args.quantize)
    if args.json:
        print(json.dumps(compile_summary(program), indent=1))
    else:
        print(format_summary(program))
        print(f"wrote {out}")
    return 0


def _print_run_summary(result: Any) -> None:
    steps = result.steps
    print(f"{result.backend} backend: {steps} steps in {result.wall_s:.3f} s")
    width = max([len(p) for p in result.spikes] + [10])
    if result.spikes:
        print(f"  {'population':<{width}}  {'size':>7}  {'spikes':>9}  {'rate/step':>9}  {'Hz@1ms':>8}")
    for pop, s in result.spikes.items():
        n = s.shape[1] if s.ndim == 2 else 0
        count = int(np.count_nonzero(s))
        rate = count / max(n * steps, 1)
        print(f"  {pop:<{width}}  {n:>7}  {count:>9}  {rate:>9.4f}  {1000 * rate:>8.1f}")
    counts = {k: v for k, v in result.values.items() if k.endswith(".counts")}
    if counts:  # a phased run: spike counts per sample instead of rasters
        print(f"  {'phase.population':<24}  {'samples':>7}  {'size':>6}  {'spikes':>9}  {'per sample':>10}")
        for key, c in counts.items():
            n_samples, size = c.shape
            total = int(c.sum())
            print(f"  {key[: -len('.counts')]:<24}  {n_samples:>7}  {size:>6}  {total:>9}  "
                  f"{total / max(n_samples, 1):>10.1f}")


def cmd_run(args: argparse.Namespace) -> int:
    from .api import run

    _check_partitioner(args.partitioner)
    opts = _backend_options(args)
    src = Path(args.network)
    out = Path(args.output) if args.output else Path(f"{src.stem}_results.npz")
    steps = args.steps
    result = run(src, backend=args.backend, steps=steps, output=out, probes=args.probes,
                 target=args.target, partitioner=args.partitioner,
                 progress=_progress_printer(steps or 0) if steps else None, **opts)
    _print_run_summary(result)
    if "readout.accuracy" in result.values:
        acc = float(result.values["readout.accuracy"])
        print(f"readout accuracy: {100 * acc:.1f} %")
    print(f"wrote {out} ({', '.join(sorted(result.arrays()))})")
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    from .api import profile
    from .profiling import format_profile

    _check_partitioner(args.partitioner)
    opts = _backend_options(args)
    report = profile(Path(args.network), backend=args.backend, steps=args.steps,
                     plot_dir=args.plot, target=args.target, partitioner=args.partitioner,
                     **opts)
    if args.json:
        print(json.dumps(report, indent=1, default=_json_default))
    else:
        print(format_profile(report))
        for p in report.get("plots", []):
            print(f"wrote {p}")
    return 0


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def cmd_export(args: argparse.Namespace) -> int:
    from compiler.nir_export import save_nir

    from .loading import to_program
    from .results import write_atomic

    src = Path(args.network)
    obj = to_program(src) if src.suffix == ".snnc" else None
    if obj is None:
        from .loading import load_network_file

        if not src.exists():
            raise InputError(f"{src}: file not found")
        obj = load_network_file(src)
    out = Path(args.output)
    write_atomic(out, lambda tmp: save_nir(obj, tmp, dt=args.dt))
    print(f"wrote {out}")
    return 0


COMMANDS = {"compile": cmd_compile, "export": cmd_export, "run": cmd_run, "profile": cmd_profile}


def _install_warning_printer() -> None:
    """Print each distinct Python warning once as `snnc: warning: ...` (no source lines)."""
    seen: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        text = str(message)
        if text not in seen:
            seen.add(text)
            print(f"snnc: warning: {text}", file=sys.stderr)

    warnings.showwarning = show


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `snnc` console script; returns the exit status."""
    parser = _parser()
    _install_warning_printer()
    try:
        args = parser.parse_args(argv)
        if not args.command:
            parser.print_help()
            return 2
        return COMMANDS[args.command](args)
    except SnncError as e:
        print(f"snnc: error: {e}", file=sys.stderr)
        return e.exit_code
    except BrokenPipeError:  # e.g. `snnc ... | head`: the reader left; not an error of ours
        with contextlib.suppress(Exception):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the interpreter's flush
        return 0
    except KeyboardInterrupt:
        print("snnc: interrupted", file=sys.stderr)
        return 1
    except Exception as e:  # an internal error: say so, briefly
        if os.environ.get("SNNC_DEBUG"):
            traceback.print_exc()
        print(f"snnc: internal error: {type(e).__name__}: {e} (set SNNC_DEBUG=1 for details)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
