"""models._checks: one set of argument checks for every models module, with one-line messages."""
import numpy as np
import pytest

from models._checks import flag, int_at_least, is_int, positive_int, real, seed_int
from models.datafiles import DataError


def test_integers_are_python_or_numpy_ints_never_bools():
    assert is_int(3) and is_int(np.int64(3)) and is_int(np.uint8(0))
    assert not any(is_int(v) for v in (True, np.bool_(True), 3.0, "3", None))


@pytest.mark.parametrize("call,message", [
    (lambda: int_at_least("width", 0, 1), "width must be an integer >= 1, got 0"),
    (lambda: int_at_least("width", 2.5, 1), "width must be an integer >= 1, got 2.5"),
    (lambda: positive_int("epochs", True), "epochs must be a positive integer, got True"),
    (lambda: seed_int(-1), "seed must be a non-negative integer, got -1"),
    (lambda: real("lr", 0.0, 0.0, low_open=True), r"lr must be a finite number in \(0.0, inf\), got 0.0"),
    (lambda: real("p", 1.0, 0.0, 1.0, high_open=True), r"p must be a finite number in \[0.0, 1.0\), got 1.0"),
    (lambda: real("x", float("nan")), r"x must be a finite number in \(-inf, inf\), got nan"),
    (lambda: real("x", "big"), "x must be a number, got 'big'"),
    (lambda: flag("centered", 1), "centered must be True or False, got 1"),
])
def test_bad_values_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_values_come_back_normalised():
    assert type(int_at_least("n", np.int32(4), 1)) is int and type(seed_int(np.uint32(7))) is int
    assert type(real("lr", np.float32(0.5), 0.0)) is float and flag("f", np.bool_(True)) is True


def test_the_error_type_can_be_the_callers():
    with pytest.raises(DataError, match="spiral: n_classes must be an integer >= 2, got 1"):
        int_at_least("spiral: n_classes", 1, 2, DataError)
