"""What the benchmark smoke tests share: importing a script of benchmarks/ as a module."""
import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def load_bench(name):
    """benchmarks/<name>.py as a module (benchmarks/ is a folder of scripts, not a package; they
    import their shared ``_common`` from beside them)."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bench_script():
    """``bench_script(name)``: :func:`load_bench` as a fixture."""
    return load_bench
