"""Checkpoint and resume of an in-process fit (issue 18 item 2): a fit whose process is
killed with SIGKILL resumes from its checkpoint, in another process, to the model of the
fit never interrupted, bit for bit; checkpoints of other fits are refused by name."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from gaussmix import GaussianMixture

ATTRS = ["weights_", "means_", "covariances_", "precisions_cholesky_", "lower_bounds_"]
OPTS = dict(n_components=8, tol=0.0, max_iter=100, n_init=2, random_state=3)

_CHILD = r"""
import sys
import numpy as np
from gaussmix import GaussianMixture
x = np.load(sys.argv[1])
GaussianMixture(n_components=8, tol=0.0, max_iter=100, n_init=2, random_state=3).fit(
    x, checkpoint=sys.argv[2], checkpoint_every=2)
"""


def data():
    rng = np.random.default_rng(5)
    centres = rng.normal(0, 5, size=(8, 6))
    return centres[rng.integers(0, 8, 200_000)] + rng.normal(size=(200_000, 6))


def assert_identical(a, b):
    assert a.n_iter_ == b.n_iter_ and a.converged_ == b.converged_
    assert a.lower_bound_ == b.lower_bound_
    for attr in ATTRS:
        np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr), err_msg=attr)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_killed_fit_resumes_bit_for_bit(tmp_path):
    x = data()
    np.save(tmp_path / "x.npy", x)
    ck = tmp_path / "fit.ckpt"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path / "x.npy"), str(ck)])
    deadline = time.time() + 300
    while time.time() < deadline and child.poll() is None:
        if ck.exists():
            state = json.loads(ck.read_text())
            if state["init"] == 1 and state["info"]["n_iter"] >= 4:
                break
        time.sleep(0.02)
    assert child.poll() is None, "the fit ended before it could be killed"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    resumed = GaussianMixture(**OPTS).fit(x, resume=ck)
    clean = GaussianMixture(**OPTS).fit(x)
    assert_identical(clean, resumed)
    with pytest.raises(Exception, match="n_components was 8 and is now 7"):
        GaussianMixture(**{**OPTS, "n_components": 7}).fit(x, resume=ck)
    with pytest.raises(Exception, match="other values or weights"):
        GaussianMixture(**OPTS).fit(x + 1e-9, resume=ck)


def test_checkpoint_arguments_are_checked(tmp_path):
    x = data()[:500]
    with pytest.raises(ValueError, match="checkpoint_every must be at least 1"):
        GaussianMixture(2).fit(x, checkpoint=tmp_path / "c", checkpoint_every=0)
    (tmp_path / "bad").write_text("{}")
    with pytest.raises(Exception, match="not a gaussmix checkpoint"):
        GaussianMixture(2).fit(x, resume=tmp_path / "bad")
    gm = GaussianMixture(2, warm_start=True, max_iter=5).fit(x)
    with pytest.raises(ValueError, match="warm start"):
        gm.fit(x, checkpoint=tmp_path / "c")
    # a finished fit with checkpoints equals one without
    a = GaussianMixture(2, tol=1e-9, random_state=0).fit(x, checkpoint=tmp_path / "c", checkpoint_every=1)
    assert (tmp_path / "c").exists()
    assert_identical(a, GaussianMixture(2, tol=1e-9, random_state=0).fit(x))
