"""The `snnc` command: compile, run, profile and export networks.

Exit status: 0 success; 2 bad input (arguments, paths, the network file: what is wrong and
what is allowed); 1 internal failures; 130 interrupted (SIGINT), 143 terminated (SIGTERM),
129 hung up (SIGHUP). No Python traceback for bad input (SNNC_DEBUG=1 shows internal ones).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from backends import BACKENDS
from compiler.errors import InputError, SnncError
from compiler.passes.partition import METHODS as PARTITIONERS

from .loading import ALLOWED, NETWORK_SUFFIXES, PROGRAM_SUFFIXES, check_input

RUNNABLE_SUFFIXES = NETWORK_SUFFIXES + PROGRAM_SUFFIXES


def version() -> str:
    """The installed snnc version (package metadata, else `runtime.__version__`)."""
    try:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as dist_version

        return dist_version("snnc")
    except (ImportError, PackageNotFoundError):
        from . import __version__

        return __version__


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as bad input (exit 2) in our format."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise InputError(f"{self.prog}: {message}")


def _positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number; allowed: an "
                                         "integer >= 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}; allowed: an integer >= 1")
    return value


def _positive_float(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number; allowed: a number > 0") \
            from None
    if not np.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text}; allowed: a finite number > 0")
    return value


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="snnc",
        description="Compile, run and profile spiking networks with local learning rules "
        "for Loihi-style neuromorphic chips.",
    )
    p.add_argument("--version", action="version", version=f"snnc {version()}",
                   help="print the version and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    c = sub.add_parser("compile", help="validate, quantize, partition and place a network; "
                       "write a .snnc artifact")
    c.add_argument("network", help="network file (.yaml, .yml) or NIR graph (.nir)")
    c.add_argument("-o", "--output", help="artifact to write (default: <network>.snnc)")
    c.add_argument("--target", help="loihi1 | loihi2 | path/to/target.yaml (overrides the file)")
    c.add_argument("--partitioner", default="auto",
                   help=f"one of {', '.join(PARTITIONERS)} (default auto)")
    c.add_argument("--json", action="store_true", help="print the placement summary as JSON")
    c.add_argument("--quantize", action="store_true",
                   help="float networks: compile the quantized fixed-point network (runs as Loihi "
                   "integers) instead of keeping float semantics")
    _nir_options(c)

    e = sub.add_parser("export", help="export a network or compiled program to a NIR graph (.nir)")
    e.add_argument("network", help="network file (.yaml) or compiled program (.snnc)")
    e.add_argument("-o", "--output", required=True, help="NIR file to write (.nir)")
    e.add_argument("--dt", type=_positive_float, default=1.0,
                   help="time step of the NIR graph (default 1.0)")

    r = sub.add_parser("run", help="run a network or compiled program on a backend")
    r.add_argument("network", help="network file (.yaml) or compiled program (.snnc)")
    r.add_argument("--backend", default="cpu", help=f"{' | '.join(BACKENDS)} (default cpu)")
    r.add_argument("--steps", type=_positive_int,
                   help="number of steps (default: the file's `steps`)")
    r.add_argument("-o", "--output", help="results .npz (default: <network>_results.npz)")
    r.add_argument("--probe", action="append", dest="probes",
                   help="record this probe instead of the file's (repeatable), e.g. hid.v")
    r.add_argument("--target", help="target to compile for (YAML input only)")
    r.add_argument("--partitioner", default="auto", help=f"one of {', '.join(PARTITIONERS)}")
    _nir_options(r)
    _backend_flags(r)
    _quiet_option(r)

    f = sub.add_parser("profile", help="per-core utilization, activity, time and energy")
    f.add_argument("network", help="network file (.yaml) or compiled program (.snnc)")
    f.add_argument("--backend", default="cpu", help=f"{' | '.join(BACKENDS)} (default cpu)")
    f.add_argument("--steps", type=_positive_int,
                   help="number of steps (default: the file's `steps`)")
    f.add_argument("--json", action="store_true", help="print the profile as JSON")
    f.add_argument("--plot", metavar="DIR", help="write PNG plots into DIR")
    f.add_argument("--target", help="target to compile for (YAML input only)")
    f.add_argument("--partitioner", default="auto", help=f"one of {', '.join(PARTITIONERS)}")
    _nir_options(f)
    _backend_flags(f)
    _quiet_option(f)
    return p


def _nir_dt(text: str) -> float:
    """An argparse type: --dt as a number (its range is checked with the graph, naming it)."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number; allowed: a finite "
                                         "number of seconds > 0") from None


def _nir_options(p: argparse.ArgumentParser) -> None:
    """--dt, --precision and --input: how a NIR graph (.nir) is imported."""
    p.add_argument("--dt", type=_nir_dt, default=None,
                   help="NIR graphs: seconds per step (default 1.0: time constants in steps)")
    p.add_argument("--precision", choices=("float", "fixed"), default=None,
                   help="NIR graphs: import in float or Loihi fixed point (default fixed)")
    p.add_argument("--input", action="append", dest="inputs", metavar="NODE=FILE.npy",
                   help="NIR graphs: events of Input node NODE, a bool or event-count array "
                   "(steps, *shape) or (steps, size) (repeatable; every Input node needs one)")


def _nir_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The NIR import options given on the command line."""
    from .nir_inputs import parse_input_options

    inputs = parse_input_options(args.inputs) if args.inputs else None
    return {"dt": args.dt, "precision": args.precision, "inputs": inputs}


# flag (argparse dest) -> the keyword option a backend's run takes; a backend lists the
# ones it takes in `Backend.options`, and a flag given to a backend that does not take it
# is an error naming the backends that do
BACKEND_FLAGS: tuple[tuple[str, str], ...] = (
    ("granularity", "granularity"), ("timeout", "timeout_s"), ("threads", "threads"),
    ("engine", "engine"), ("timing", "timing"), ("ranks", "ranks"), ("build", "build"))


def _backend_flags(p: argparse.ArgumentParser) -> None:
    """The command-line options that go to the chosen backend (see BACKEND_FLAGS)."""
    p.add_argument("--granularity", choices=("grouped", "core", "chip"), default=None,
                   help="lava backend: Lava processes per population (grouped, default), "
                   "per compiled core (core) or per chip (chip)")
    p.add_argument("--timeout", type=_positive_float, default=None,
                   help="lava backend: watchdog timeout in seconds")
    p.add_argument("--threads", type=_positive_int, default=None,
                   help="cpu/mpi backends: threads per process (default: all cores)")
    p.add_argument("--engine", choices=("compiled", "numpy"), default=None,
                   help="cpu backend: compiled kernels (default) or the numpy reference engine")
    p.add_argument("--timing", action="store_true", default=None,
                   help="print where the step time goes (delivery, neurons, learning, ...)")
    p.add_argument("--ranks", type=_positive_int, default=None,
                   help="mpi backend: start this many ranks with the bundled mpiexec")
    p.add_argument("--build", choices=("whole", "ranks"), default=None,
                   help="mpi backend: build the network whole, then shard it (whole, "
                   "default), or let each rank build only its share (ranks; docs/mpi.md)")


def _quiet_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar on stderr")


def _backend_options(args: argparse.Namespace) -> dict[str, Any]:
    """The backend's options from the command line, checked before anything is compiled."""
    from backends import get_backend

    engine = get_backend(args.backend)  # InputError naming the allowed backends
    opts: dict[str, Any] = {}
    for flag, key in BACKEND_FLAGS:
        value = getattr(args, flag, None)
        if value is None:
            continue
        if key not in engine.options:
            takers = [b for b in BACKENDS if key in get_backend(b).options]
            allowed = (f"--backend {' | '.join(takers)} only" if takers
                       else "no backend of this installation")
            raise InputError(f"--{flag} applies to {allowed}; --backend {args.backend} "
                             f"takes {', '.join(_flag_of(k) for k in engine.options) or 'none'}")
        opts[key] = value
    return opts


def _flag_of(option: str) -> str:
    """The command-line flag of backend option `option`."""
    return next((f"--{flag}" for flag, key in BACKEND_FLAGS if key == option), option)


def _check_partitioner(name: str) -> None:
    if name not in PARTITIONERS:
        from compiler.errors import suggest

        raise InputError(f"--partitioner {name}: unknown partitioner{suggest(name, PARTITIONERS)}; "
                         f"allowed: {', '.join(PARTITIONERS)}")


def _progress(args: argparse.Namespace) -> Any:
    """The run's progress bar on stderr, or None with --quiet (and on MPI ranks other than 0)."""
    from .api import is_root

    if getattr(args, "quiet", False) or not is_root():
        return None
    from .progress import ProgressBar

    return ProgressBar()


def cmd_compile(args: argparse.Namespace) -> int:
    from compiler.summary import compile_summary, format_summary

    from .api import compile as compile_program

    _check_partitioner(args.partitioner)
    src = check_input(args.network, NETWORK_SUFFIXES,
                      "a network file (.yaml, .yml) or a NIR graph (.nir)")
    out = Path(args.output) if args.output is not None else src.with_suffix(".snnc")
    # the summary lists the compiler's warnings: print only the others on stderr
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        program = compile_program(src, target=args.target, partitioner=args.partitioner,
                                  output=out, quantize=args.quantize, **_nir_kwargs(args))
    listed = set(program.report.get("warnings", []))
    for w in caught:
        if str(w.message) not in listed:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
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
        count = int(s.sum())  # graded Input counts: events, not nonzero entries
        rate = count / max(n * steps, 1)
        print(f"  {pop:<{width}}  {n:>7}  {count:>9}  {rate:>9.4f}  {1000 * rate:>8.1f}")
    counts = {k: v for k, v in result.values.items() if k.endswith(".counts")}
    if counts:  # a phased run: spike counts per sample instead of rasters
        print(f"  {'phase.population':<24}  {'samples':>7}  {'size':>6}  {'spikes':>9}  "
              f"{'per sample':>10}")
        for key, c in counts.items():
            n_samples, size = c.shape
            total = int(c.sum())
            print(f"  {key[: -len('.counts')]:<24}  {n_samples:>7}  {size:>6}  {total:>9}  "
                  f"{total / max(n_samples, 1):>10.1f}")


def _print_timing(result: Any) -> None:
    """Where the step time went: `result.meta["timing"]` {part: seconds} of the whole run."""
    timing = result.meta.get("timing") or {}
    if not timing:
        print(f"{result.backend} backend: no timing breakdown recorded")
        return
    total = sum(timing.values()) or 1.0
    steps = max(result.steps, 1)
    print(f"  {'part':<12}  {'ms/step':>9}  {'share':>6}")
    for part, sec in timing.items():
        print(f"  {part:<12}  {1e3 * sec / steps:>9.4f}  {100 * sec / total:>5.1f}%")


def cmd_run(args: argparse.Namespace) -> int:
    from .api import run

    _check_partitioner(args.partitioner)
    opts = _backend_options(args)
    src = check_input(args.network, RUNNABLE_SUFFIXES, ALLOWED)
    out = Path(args.output) if args.output is not None else Path(f"{src.stem}_results.npz")
    bar = _progress(args)
    try:
        result = run(src, backend=args.backend, steps=args.steps, output=out, probes=args.probes,
                     target=args.target, partitioner=args.partitioner, progress=bar,
                     **_nir_kwargs(args), **opts)
    finally:
        if bar is not None:
            bar.close()
    _print_run_summary(result)
    if args.timing:
        _print_timing(result)
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
    src = check_input(args.network, RUNNABLE_SUFFIXES, ALLOWED)
    bar = _progress(args)
    try:
        report = profile(src, backend=args.backend, steps=args.steps, plot_dir=args.plot,
                         target=args.target, partitioner=args.partitioner, progress=bar,
                         **_nir_kwargs(args), **opts)
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print(json.dumps(report, indent=1, default=_json_default))
    else:
        print(format_profile(report))
        if "mpi" in report:
            _print_ranks(report["mpi"])
        for p in report.get("plots", []):
            print(f"wrote {p}")
    return 0


def _print_ranks(mpi: dict[str, Any]) -> None:
    """The mpi backend's time per step of each rank and its load imbalance."""
    print(f"mpi ranks: {mpi['ranks']}, load imbalance (max / mean compute) "
          f"{mpi['imbalance']:.2f} (estimated {mpi['estimated_imbalance']:.2f})")
    print(f"  {'rank':>4}  {'neurons':>9}  {'synapses':>10}  {'compute':>10}  {'exchange':>10}  "
          f"{'wait':>10}  {'ids sent':>9}  {'peak MiB':>8}")
    for r in mpi["per_rank"]:
        print(f"  {r['rank']:>4}  {r['neurons']:>9}  {r['synapses']:>10}  "
              f"{r['compute_ms_per_step']:>7.3f} ms  {r['exchange_ms_per_step']:>7.3f} ms  "
              f"{r['wait_ms_per_step']:>7.3f} ms  {r['ids_sent']:>9}  {r['peak_rss_mb']:>8.0f}")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def cmd_export(args: argparse.Namespace) -> int:
    from compiler.fileio import write_atomic
    from compiler.nir_export import save_nir

    from .loading import load_network_file, to_program

    src = check_input(args.network, RUNNABLE_SUFFIXES, ALLOWED)
    out = Path(args.output)
    obj = to_program(src) if src.suffix == ".snnc" else load_network_file(src)
    write_atomic(out, lambda tmp: save_nir(obj, tmp, dt=args.dt))
    print(f"wrote {out}")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "compile": cmd_compile, "export": cmd_export, "run": cmd_run, "profile": cmd_profile}


class Terminated(BaseException):
    """Raised in the main thread by SIGTERM / SIGHUP, so every `finally` cleans up (temp
    files, Lava's child processes) as for Ctrl-C; not an Exception, so nothing swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def _termination_raises() -> Iterator[None]:
    """While inside: SIGTERM and SIGHUP raise `Terminated` once (repeats are ignored so the
    cleanup finishes); signals the caller set to ignore (nohup) stay ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = ("SIGTERM", "SIGHUP")
    sigs = [getattr(signal, n) for n in names if hasattr(signal, n)]
    old = {s: signal.getsignal(s) for s in sigs}
    fired = []

    def handler(signum: int, frame: Any) -> None:  # noqa: ARG001 - the signal API
        if fired:
            return
        fired.append(signum)
        raise Terminated(signum)

    for s in sigs:
        if old[s] != signal.SIG_IGN:
            signal.signal(s, handler)
    try:
        yield
    finally:
        for s in sigs:
            signal.signal(s, old[s])


@contextlib.contextmanager
def _warning_printer() -> Iterator[None]:
    """Print each distinct Python warning once as `snnc: warning: ...` (no source lines)."""
    seen: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        from .api import is_root

        text = str(message)
        if text not in seen and is_root():  # under an MPI launcher rank 0 alone warns
            seen.add(text)
            print(f"snnc: warning: {text}", file=sys.stderr)

    old = warnings.showwarning
    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = old


@contextlib.contextmanager
def _root_prints() -> Iterator[None]:
    """Under an MPI launcher only rank 0 prints results: the other ranks' stdout is dropped."""
    from .api import is_root

    if is_root():
        yield
        return
    old = sys.stdout
    with open(os.devnull, "w") as sink:
        sys.stdout = sink
        try:
            yield
        finally:
            sys.stdout = old


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `snnc` console script; returns the exit status."""
    parser = _parser()
    with _warning_printer(), _termination_raises():
        try:
            args = parser.parse_args(argv)
            if not args.command:
                parser.print_help()
                return 2
            with _root_prints():
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
            return 128 + signal.SIGINT
        except Terminated as e:
            print("snnc: terminated", file=sys.stderr)
            return 128 + e.signum
        except Exception as e:  # an internal error: say so, briefly
            if os.environ.get("SNNC_DEBUG"):
                traceback.print_exc()
            print(f"snnc: internal error: {type(e).__name__}: {e} "
                  "(set SNNC_DEBUG=1 for details)", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
