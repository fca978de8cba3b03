"""Shared helpers of the benchmark scripts: timing, the machine description, JSON and tables.

A benchmark measures and prints; it never asserts a time. The machines these run on are
shared and noisy, so every script measures its peers side by side in the same run,
interleaved (peer A, peer B, ..., then again), and reports medians and ratios.
"""
import argparse
import datetime
import json
import math
import os
import platform
import statistics
import sys
from pathlib import Path

__all__ = [
    "RESULTS_DIR", "ROOT", "base_parser", "check_repeats", "default_out", "describe_machine", "machine_lines",
    "blas_threads", "format_table", "median", "write_json", "fmt_seconds", "fmt_ratio",
    "torch_or_none", "interleaved", "order_quartiles",
]

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "benchmarks" / "results"

# Environment variables that change how the BLAS libraries behave; reported, never changed.
_BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
             "MKL_NUM_THREADS")

# The load when the script started (other users' work slows every peer, the parallel
# speed-up most): reported with the machine next to the load at the end.
_LOAD_AT_START = list(os.getloadavg()) if hasattr(os, "getloadavg") else None

if str(ROOT) not in sys.path:  # run as `python benchmarks/bench_x.py` from anywhere
    sys.path.insert(0, str(ROOT))


def base_parser(description, default_repeats):
    """An ``argparse`` parser with the flags every script takes: --quick, --repeats, --out."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true",
                        help="a tiny configuration that runs in seconds (smoke test; figures meaningless)")
    parser.add_argument("--repeats", type=int, default=None,
                        help=f"measurements per peer; the median is reported (default {default_repeats})")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON file to write (default benchmarks/results/<script>.json)")
    return parser


def check_repeats(repeats):
    """``repeats`` as a positive int, or SystemExit naming the flag."""
    if repeats is None:
        return None
    if repeats < 1:
        raise SystemExit(f"--repeats must be a positive integer, got {repeats}")
    return repeats


def blas_threads():
    """The number of threads numpy's BLAS uses (threadpoolctl), or os.cpu_count() if unknown."""
    from threadpoolctl import threadpool_info

    threads = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
    return max(threads) if threads else (os.cpu_count() or 1)


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(module_name):
    try:
        module = __import__(module_name)
    except Exception:  # not installed, or broken: report it as missing
        return None
    return getattr(module, "__version__", "unknown")


def describe_machine():
    """A JSON-able description of the machine, the libraries and the BLAS set-up.

    Includes threadpoolctl's view of every thread pool numpy (and torch, when imported)
    loaded: the BLAS implementation, its version, the kernel ("architecture") it chose
    and its thread count; and the OPENBLAS_* variables, which can force a slower kernel.
    """
    import numpy as np
    from threadpoolctl import threadpool_info

    env = {name: os.environ.get(name) for name in _BLAS_ENV}
    pools = [{k: p.get(k) for k in ("user_api", "internal_api", "prefix", "version", "architecture",
                                     "num_threads", "threading_layer")}
             for p in threadpool_info()]
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": affinity,
        "load_average_start": _LOAD_AT_START,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": _version("scipy"),
        "sklearn": _version("sklearn"),
        "optuna": _version("optuna"),
        "torch": _version("torch") if "torch" in sys.modules else None,
        "threadpools": pools,
        "blas_env": env,
        "blas_env_set": {k: v is not None for k, v in env.items()},
    }


def machine_lines(machine):
    """A few human-readable lines summarising ``describe_machine()``."""
    blas = [p for p in machine["threadpools"] if p["user_api"] == "blas"]
    blas_text = "; ".join(f"{p['internal_api']} {p['version']} kernel={p['architecture']} "
                          f"threads={p['num_threads']}" for p in blas) or "unknown"
    env = ", ".join(f"{k}={v}" for k, v in machine["blas_env"].items() if v is not None) or "none"
    return [
        f"machine: {machine['cpu_model']}, {machine['usable_cpus']} usable cores; load average (1, 5, 15 min) "
        f"{', '.join(f'{x:.2f}' for x in machine['load_average_start'] or [])} at the start, "
        f"{', '.join(f'{x:.2f}' for x in machine['load_average'] or [])} at the end",
        f"python {machine['python']}, numpy {machine['numpy']}, torch {machine['torch'] or 'not used'}, "
        f"sklearn {machine['sklearn']}, optuna {machine['optuna']}",
        f"BLAS: {blas_text}; BLAS environment: {env}",
    ]


def torch_or_none():
    """``(torch, None)`` when PyTorch imports, else ``(None, reason)``."""
    try:
        import torch
    except Exception as exc:  # optional peer: any import failure means "skip with a note"
        return None, f"PyTorch not available ({type(exc).__name__}: {exc}); pip install torch to compare"
    return torch, None


def interleaved(peers, repeats):
    """Yield ``(repeat, name)`` so that each repeat runs every peer once, in a rotated order.

    Rotating the order spreads slow drifts (another job starting, the CPU heating) over all
    peers instead of penalising whichever always runs last.
    """
    names = list(peers)
    for r in range(repeats):
        shift = r % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            yield r, name


def order_quartiles(values):
    """(q1, median, q3) without interpolation (``inverted_cdf``), so inf ("not reached") stays inf;
    NaN values are left out."""
    import numpy as np

    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return (math.nan,) * 3
    return tuple(float(np.percentile(np.asarray(values, dtype=float), q, method="inverted_cdf"))
                 for q in (25, 50, 75))


def median(values):
    """Median of the finite values, NaN if there are none."""
    values = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.median(values) if values else math.nan


def fmt_seconds(s):
    if s is None or not math.isfinite(s):
        return "-"
    if s >= 10:
        return f"{s:.1f} s"
    if s >= 0.1:
        return f"{s:.3f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} us"


def fmt_ratio(r):
    return "-" if r is None or not math.isfinite(r) else f"{r:.2f}x"


def format_table(headers, rows, title=None):
    """A plain-text (Markdown-compatible) table: ``headers`` (list of str), ``rows`` (lists of values)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"

    out = [] if title is None else [title, ""]
    out.append(line(cells[0]))
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    out.extend(line(r) for r in cells[1:])
    return "\n".join(out)


def _clean(obj):
    """Replace non-finite floats by None so the file is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return _clean(obj.item())
    return obj


def write_json(path, payload):
    """Write ``payload`` (JSON-able; NaN/inf become null) to ``path``, creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(_clean(payload), indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)
    return path


def report_and_save(lines, machine, payload, args, script_name, notes=()):
    """Print a script's report (its lines, the machine, any notes), write its JSON; returns the payload."""
    lines = list(lines) + [""] + machine_lines(machine) + (["notes: " + "; ".join(notes)] if notes else [])
    print("\n".join(lines))
    path = write_json(args.out or default_out(script_name, args.quick), payload)
    print(f"\nwrote {path}")
    return payload


def fresh_out(script_name):
    """A new ``benchmarks/results/<script>-<UTC time>.json`` that exists nowhere yet: for scripts whose
    committed figures come from a quiet machine, which a run on a busy one must not replace."""
    import time

    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    path, n = RESULTS_DIR / f"{script_name}-{stamp}.json", 1
    while path.exists():
        n += 1
        path = RESULTS_DIR / f"{script_name}-{stamp}-{n}.json"
    return path


def default_out(script_name, quick):
    """benchmarks/results/<script>.json; --quick runs (meaningless figures) go to the temp folder."""
    if quick:
        import tempfile

        return Path(tempfile.gettempdir()) / "hpsearch-benchmarks" / f"{script_name}.quick.json"
    return RESULTS_DIR / f"{script_name}.json"
