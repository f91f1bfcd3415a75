"""lipviz.data.unpickle: array pickles load, anything that names a callable is refused unrun."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest

from lipviz.data.unpickle import load_arrays


class _Payload:
    """Unpickling this would create ``path`` (through ``exec``)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (exec, (f"import pathlib; pathlib.Path({self.path!r}).touch()",))


def test_a_cifar_like_batch_loads():
    batch = {
        b"batch_label": b"training batch 1 of 5",
        b"labels": [3, 1, 4],
        b"data": np.arange(3 * 3072, dtype=np.uint8).reshape(3, 3072),
        b"filenames": [b"a.png", b"b.png", b"c.png"],
    }
    for protocol in (3, pickle.HIGHEST_PROTOCOL):
        out = load_arrays(io.BytesIO(pickle.dumps(batch, protocol=protocol)))
        assert out[b"labels"] == [3, 1, 4]
        np.testing.assert_array_equal(out[b"data"], batch[b"data"])


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_a_pickle_that_would_run_code_is_refused_before_it_runs(tmp_path, protocol):
    marker = tmp_path / "marker"
    blob = pickle.dumps({"data": _Payload(marker)}, protocol=protocol)
    with pytest.raises(
        pickle.UnpicklingError, match=r"refused to unpickle (builtins|__builtin__)\.exec"
    ):
        load_arrays(io.BytesIO(blob))
    assert not marker.exists()
    pickle.loads(blob)  # the plain loader runs it: the test can fail
    assert marker.exists()
