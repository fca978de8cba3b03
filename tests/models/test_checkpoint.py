"""models.checkpoint: nested plain data <-> .npz bytes, never unpickled; bad bytes are a named error."""
import io
import math
import pickle
import zipfile

import numpy as np
import pytest

from models.checkpoint import CheckpointError, pack, unpack


def _tree():
    return {"epochs": 3, "lr": 1e-3, "nan": math.nan, "inf": -math.inf, "name": "W1", "flag": True,
            "none": None, "list": [1, 2.5, "x"], "rng": np.random.default_rng(0).bit_generator.state,
            "arrays": {"w32": np.arange(6, dtype=np.float32).reshape(2, 3), "w64": np.ones(4),
                       "steps": np.arange(3), "empty": np.zeros((0, 5), np.float32)}}


def test_round_trip_keeps_values_dtypes_and_shapes():
    tree = _tree()
    back = unpack(pack(tree))
    assert set(back) == set(tree) and back["rng"] == tree["rng"] and back["list"] == tree["list"]
    assert math.isnan(back["nan"]) and back["inf"] == -math.inf and back["none"] is None
    for name, array in tree["arrays"].items():
        got = back["arrays"][name]
        assert got.dtype == array.dtype and got.shape == array.shape
        np.testing.assert_array_equal(got, array)


def test_the_same_state_gives_the_same_bytes_and_a_plain_npz():
    data = pack(_tree())
    assert data == pack(_tree())
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:   # what any numpy can read
        assert "meta" in archive.files and archive["meta"].dtype == np.uint8


@pytest.mark.parametrize("value", [object(), {"__array__": "a0"}, {1: 2}, np.array(["a"], dtype=object),
                                   np.array(["text"])])
def test_pack_refuses_what_it_could_not_read_back(value):
    with pytest.raises(TypeError):
        pack({"x": value})


class _Evil:
    def __reduce__(self):
        return (open, ("/tmp/hpsearch-checkpoint-pwned", "w"))


def _archive(entries):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, raw in entries.items():
            archive.writestr(name, raw)
    return buffer.getvalue()


def _npy(array, allow_pickle=False):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


META = np.frombuffer(b'{"x":{"__array__":"a0"}}', dtype=np.uint8)


@pytest.mark.parametrize("data,message", [
    ("not bytes", r"checkpoint must be bytes, got str"),
    (b"", r"checkpoint is damaged or not a checkpoint"),
    (b"\x00garbage" * 10, r"checkpoint is damaged or not a checkpoint"),
    (pickle.dumps({"x": 1}), r"checkpoint is damaged or not a checkpoint: reading it would need unpickling, "
                            r"which could run code and is never done$"),
    (pickle.dumps(_Evil()), r"reading it would need unpickling"),
    (_npy(np.ones(3)), r"checkpoint is damaged or not a checkpoint"),
    (_archive({"a0.npy": _npy(np.ones(3))}), r"checkpoint has no metadata"),
    (_archive({"meta.npy": _npy(np.frombuffer(b"{nope", np.uint8))}), r"checkpoint metadata is not JSON"),
    (_archive({"meta.npy": _npy(np.frombuffer(b"[1]", np.uint8))}), r"checkpoint metadata is not a dict"),
    (_archive({"meta.npy": _npy(META)}), r"checkpoint refers to a missing or invalid array 'a0'"),
    (_archive({"meta.npy": _npy(META), "a0.npy": _npy(np.ones(2)), "a1.npy": _npy(np.ones(2))}),
     r"checkpoint holds unexpected arrays \['a1'\]"),
    (_archive({"meta.npy": _npy(META), "a0.npy": _npy(np.array([_Evil()], dtype=object), allow_pickle=True)}),
     r"reading it would need unpickling"),
    (_archive({"meta.npy": _npy(META), "a0.npy": _npy(np.array(["s"]))}),
     r"checkpoint refers to a missing or invalid array 'a0'"),
], ids=["str", "empty", "garbage", "pickle", "evil-pickle", "npy", "no-meta", "bad-json", "meta-not-dict",
        "missing-array", "extra-array", "object-array", "string-array"])
def test_bad_bytes_are_a_named_error_and_nothing_is_unpickled(data, message, tmp_path):
    import os

    target = "/tmp/hpsearch-checkpoint-pwned"
    if os.path.exists(target):
        os.remove(target)
    with pytest.raises(CheckpointError, match=message):
        unpack(data)
    assert not os.path.exists(target)   # the pickles' payload never ran


def test_truncated_bytes_are_a_named_error():
    data = pack(_tree())
    for cut in (len(data) // 3, len(data) - 10):
        with pytest.raises(CheckpointError, match="checkpoint is damaged"):
            unpack(data[:cut])


def test_checkpoint_errors_are_value_errors():
    assert issubclass(CheckpointError, ValueError)
