"""Stopping a fit (Ctrl-C, a failing callback), its thread limit (threadpoolctl), and
the ill-defined M-step during EM (scikit-learn #18216)."""

import os
import signal
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import gaussmix
from gaussmix import GaussianMixture, _core

from conftest import blobs

# A fit with tol=0 and max_iter=10**9 never ends on its own: only a stop ends it. Run in a
# child process, so a stop that does not work fails the test (timeout) instead of hanging.
ENDLESS = """
import os, signal, sys
import numpy as np
from gaussmix import _core
x = np.random.default_rng(0).normal(size=(4000, 3))
calls = []
def cb(init, it, lb, change):
    calls.append(it)
    {action}
try:
    _core.fit(x, n_components=3, tol=0.0, max_iter=10**9, callback=cb)
    print("finished")
except {exc} as e:
    print("stopped", type(e).__name__, len(calls))
"""


def _run(action, exc):
    code = textwrap.dedent(ENDLESS).format(action=action, exc=exc)
    try:
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the fit did not stop")
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name == "nt", reason="POSIX signals")
def test_ctrl_c_stops_a_fit():
    # SIGINT from the callback's thread, as a terminal's Ctrl-C or a Jupyter kernel's
    # interrupt: Python runs the handler on the main thread, which waits on the fit
    words = _run("if it == 3: os.kill(os.getpid(), signal.SIGINT)", "KeyboardInterrupt")
    assert words[:2] == ["stopped", "KeyboardInterrupt"], words
    assert int(words[2]) >= 3


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name == "nt", reason="POSIX signals")
def test_jupyter_kernel_interrupt_stops_a_fit():
    # a real IPython kernel (ipykernel, driven by jupyter_client as a notebook front end
    # drives it): an endless fit in a cell, then the front end's "interrupt kernel"; the
    # cell ends with KeyboardInterrupt and the kernel stays usable
    jupyter_client = pytest.importorskip("jupyter_client")
    pytest.importorskip("ipykernel")
    km = jupyter_client.KernelManager(kernel_name="python3")
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)

        def run(code, interrupt=False):
            # (stop_on_error=False: the cell's KeyboardInterrupt must not abort the next)
            msg_id = kc.execute(code, stop_on_error=False)
            while interrupt:
                msg = kc.get_iopub_msg(timeout=120)
                if (
                    msg["parent_header"].get("msg_id") == msg_id
                    and msg["msg_type"] == "stream"
                    and "started" in msg["content"]["text"]
                ):
                    km.interrupt_kernel()
                    break
            while True:
                reply = kc.get_shell_msg(timeout=120)
                if reply["parent_header"].get("msg_id") == msg_id:
                    return reply["content"]

        out = run(
            "import numpy as np\n"
            "from gaussmix import _core\n"
            "x = np.random.default_rng(0).normal(size=(4000, 3))\n"
            "print('started', flush=True)\n"
            "_core.fit(x, n_components=3, tol=0.0, max_iter=10**9)\n",
            interrupt=True,
        )
        assert (out["status"], out.get("ename")) == ("error", "KeyboardInterrupt"), out
        # the kernel lives on, and a fit after the interrupt runs to its end
        out = run("_core.fit(x, n_components=2, max_iter=5)")
        assert out["status"] == "ok", out
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_exception_in_callback_stops_the_fit_at_once():
    words = _run("if it == 2: raise RuntimeError('stop')", "RuntimeError")
    # the callback is called for iteration 2 and never again
    assert words == ["stopped", "RuntimeError", "2"], words


def test_interrupted_estimator_stays_unfitted():
    x = blobs(500, 2, 2)
    g = GaussianMixture(2, verbose=2, verbose_interval=1, tol=0, max_iter=10**9)

    class Stop(Exception):
        pass

    calls = []

    def boom(*a):
        calls.append(a)
        raise Stop

    g._verbose_callback = lambda: boom  # the verbose callback raising stops the fit
    boom.close = lambda m: None
    with pytest.raises(Stop):
        g.fit(x)
    assert len(calls) == 1
    assert not hasattr(g, "means_")


def test_threadpoolctl_limits_gaussmix():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    info = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "gaussmix"]
    assert len(info) == 1, threadpoolctl.threadpool_info()
    before = gaussmix.get_num_threads()
    assert info[0]["num_threads"] == before
    x = blobs(6000, 3, 3, seed=4)
    a = GaussianMixture(3, random_state=0).fit(x)
    with threadpoolctl.threadpool_limits(1):
        assert gaussmix.get_num_threads() == 1
        b = GaussianMixture(3, random_state=0).fit(x)
        pb = b.predict_proba(x)
    with threadpoolctl.threadpool_limits({"gaussmix": 3}):
        assert gaussmix.get_num_threads() == 3
        c = GaussianMixture(3, random_state=0).fit(x)
    assert gaussmix.get_num_threads() == before
    # fixed blocks reduced in a fixed order: the same model on 1, 3 or all threads
    for m in (b, c):
        np.testing.assert_array_equal(m.means_, a.means_)
        np.testing.assert_array_equal(m.covariances_, a.covariances_)
    np.testing.assert_array_equal(pb, a.predict_proba(x))


def test_set_num_threads_and_the_environment():
    from gaussmix._threads import _limit_from_env

    before = gaussmix.get_num_threads()
    try:
        gaussmix.set_num_threads(2)
        assert gaussmix.get_num_threads() == 2
    finally:
        gaussmix.set_num_threads(0)
    assert gaussmix.get_num_threads() == before
    with pytest.raises(ValueError):
        gaussmix.set_num_threads(-1)
    assert _limit_from_env({"GAUSSMIX_NUM_THREADS": "3", "OMP_NUM_THREADS": "1"}) == 3
    assert _limit_from_env({"OMP_NUM_THREADS": "2,1"}) == 2  # joblib's loky workers
    assert _limit_from_env({"OMP_NUM_THREADS": "1", "RAYON_NUM_THREADS": "4"}) is None
    assert _limit_from_env({}) is None


def _singleton_start():
    # component 1 starts tight on the row at 10: its first M-step has variance 0
    x = np.array([[0.0], [1.0], [2.0], [3.0], [10.0]])
    return x, dict(
        n_components=2,
        covariance_type="spherical",
        reg_covar=0.0,
        max_iter=5,
        weights_init=[0.8, 0.2],
        means_init=[[1.5], [10.0]],
        precisions_init=[1.0, 1e6],
    )


def test_ill_defined_m_step_during_em_keeps_the_start():
    x, params = _singleton_start()
    g = GaussianMixture(**params)
    with pytest.warns(ConvergenceWarning, match="EM stopped at iteration 1"):
        g.fit(x)
    assert not g.converged_ and g.n_iter_ == 1 and len(g.lower_bounds_) == 1
    np.testing.assert_array_equal(g.means_, [[1.5], [10.0]])
    np.testing.assert_allclose(g.lower_bound_, g.score(x), rtol=1e-12)
    # the library's own default is an error, with scikit-learn's message first
    with pytest.raises(ValueError, match="ill-defined empirical covariance") as e:
        _core.fit(x, **{k: np.asarray(v, dtype=float) if k.endswith("_init") else v for k, v in params.items()})
    assert "component 1" in str(e.value)


def test_ill_defined_initialisation_raises_sklearn_message():
    x = np.vstack([np.ones((5, 5)), np.zeros((5, 5))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=r"Fitting the mixture model failed because some components have ill-defined"):
            GaussianMixture(2, reg_covar=0, random_state=0).fit(x)


_ENDLESS = {
    "bayesian": "gaussmix.BayesianGaussianMixture(n_components=3, tol=0.0, max_iter=10**9).fit(x)",
    "select": (
        "gaussmix.select(x, n_components=[2, 3], covariance_types=['VVV'], "
        "max_iter=10**9, total_tol=0.0)"
    ),
}


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name == "nt", reason="POSIX signals")
@pytest.mark.parametrize("what", sorted(_ENDLESS))
def test_ctrl_c_stops_variational_fits_and_selections(what):
    # an endless fit, SIGINT from a timer thread (as Ctrl-C): KeyboardInterrupt comes back
    code = textwrap.dedent(
        f"""
        import os, signal, threading
        import numpy as np
        import gaussmix
        x = np.random.default_rng(0).normal(size=(3000, 2))
        threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        try:
            {_ENDLESS[what]}
            print("finished")
        except KeyboardInterrupt:
            print("stopped")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["stopped"], (out.stdout, out.stderr)
