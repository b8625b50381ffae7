"""Fork safety (#13): libgomp's pool does not survive fork(), so a child forked after a multi-threaded
predict runs single-threaded (fastnorm/threads.py) instead of hanging; one forked before keeps its threads.

Each case runs in a fresh interpreter (the pytest process may already have started a pool) under a
timeout: a hang fails the test instead of stalling the suite."""
import os
import subprocess
import sys
import tempfile
import textwrap

import pytest

import fastnorm

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")

PRELUDE = textwrap.dedent("""
    import os, sys, time, warnings
    import numpy as np
    import fastnorm
    from fastnorm import threads
    from fastnorm.models import simple_cnn

    def model(n):
        return fastnorm.Model(simple_cnn(seed=1), num_threads=n)

    x = np.random.default_rng(5).standard_normal((8, 3, 32, 32)).astype(np.float32)
    want = model(1).predict(x)          # the 1-thread answer (no pool started yet)

    def wait(pid, what, timeout=60):
        t_end = time.time() + timeout
        while time.time() < t_end:
            r, status = os.waitpid(pid, os.WNOHANG)
            if r:
                code = os.waitstatus_to_exitcode(status)
                assert code == 0, "%s: exit code %d" % (what, code)
                return
            time.sleep(0.02)
        os.kill(pid, 9)
        raise AssertionError("%s hung" % what)
""")


def _run(body, timeout=240):
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastnorm.__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with tempfile.TemporaryDirectory() as cwd:
        r = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(body)], capture_output=True,
                           text=True, env=env, cwd=cwd, timeout=timeout)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def test_os_fork_after_multithreaded_predict():
    r = _run("""
        m = model(2)
        par = m.predict(x)                       # starts libgomp's pool in the parent
        assert threads._pool_started
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                with warnings.catch_warnings(record=True) as w:
                    warnings.simplefilter("always")
                    got = m.predict(x)
                    got2 = model(None).predict(x)   # the global setting is capped too
                    m.predict(x)
                assert threads.forked_single_threaded() and fastnorm.get_num_threads() == 1
                assert np.array_equal(got, want) and np.array_equal(got2, want)
                msgs = [str(v.message) for v in w if issubclass(v.category, fastnorm.FastnormWarning)]
                assert len(msgs) == 1 and "fork" in msgs[0], msgs
                # a grandchild is as unsafe as its parent
                gpid = os.fork()
                if gpid == 0:
                    os._exit(0 if np.array_equal(m.predict(x), want) else 3)
                wait(gpid, "grandchild")
            except BaseException as e:
                print("child:", repr(e)); code = 1
            os._exit(code)
        wait(pid, "forked child")
        # the parent is untouched: still multi-threaded
        assert not threads.forked_single_threaded()
        assert np.array_equal(m.predict(x), par)
        print("OK")
    """)
    assert "OK" in r.stdout


def test_fork_before_any_multithreaded_predict_keeps_its_threads():
    r = _run("""
        m = model(2)
        assert not threads._pool_started          # only the 1-thread predict ran so far
        pid = os.fork()
        if pid == 0:
            try:
                ok = (not threads.forked_single_threaded() and m._nthreads() == 2
                      and np.array_equal(m.predict(x), model(2).predict(x)))
            except BaseException as e:
                print("child:", repr(e)); ok = False
            os._exit(0 if ok else 1)
        wait(pid, "forked child")
        print("OK")
    """)
    assert "OK" in r.stdout


def test_multiprocessing_fork_pool_after_multithreaded_predict():
    r = _run("""
        import multiprocessing as mp
        ref = {i: model(1).predict(x[i:i + 2]) for i in (0, 2, 4, 6)}
        m = model(2)
        m.predict(x)
        def job(i):
            return i, m.predict(x[i:i + 2])
        ctx = mp.get_context("fork")
        with ctx.Pool(2) as pool:
            res = pool.map_async(job, [0, 2, 4, 6])
            got = res.get(timeout=60)             # raises TimeoutError if the children hang
        for i, y in got:
            assert np.array_equal(y, ref[i]), i
        print("OK")
    """)
    assert "OK" in r.stdout


def test_fork_while_another_thread_packs_weights():
    """Packed weights come from a shared chunk under a lock (_C._packed_empty): a child forked while
    another thread of the parent holds that lock still plans a model (a fresh lock in the child),
    and the parent's lock and chunk are untouched."""
    r = _run("""
        import threading
        from fastnorm import _C
        held, release = threading.Event(), threading.Event()

        def packer():                             # stands for a thread in the middle of a pack
            with _C._pack_lock:
                held.set()
                release.wait(60)

        t = threading.Thread(target=packer)
        t.start()
        held.wait(60)
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                assert np.array_equal(model(1).predict(x), want)   # plans: packs its weights
            except BaseException as e:
                print("child:", repr(e)); code = 1
            os._exit(code)
        wait(pid, "child forked while the pack lock was held")
        assert _C._pack_lock.locked()             # the parent's lock is still the packer's
        release.set(); t.join()
        assert np.array_equal(model(1).predict(x), want)
        print("OK")
    """)
    assert "OK" in r.stdout
