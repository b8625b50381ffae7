"""The thread count, resolved in one place.

Order: fastnorm.set_num_threads(n) if called; else OMP_NUM_THREADS / threadpoolctl's limit (both seen
through omp_get_max_threads); never more than the CPUs this process may use (affinity mask and
cgroup CPU quota).

Two caps apply on top, to the global count and to every model's own num_threads alike:
- threadpoolctl: fastnorm registers a controller (user_api "fastnorm"), so threadpool_info() lists
  this pool and threadpool_limits(n) caps it (see _register_threadpoolctl at the end).
- fork: libgomp's worker pool does not survive fork() (the child's next parallel region waits for
  workers that only exist in the parent: a hang). A child forked after this process ran a
  multi-threaded region therefore runs single-threaded, with one FastnormWarning; a child forked
  before any multi-threaded region keeps its full thread count (libgomp starts its pool lazily, so
  the child builds a fresh one). os.register_at_fork covers os.fork and multiprocessing's fork start
  method; spawn and forkserver children start clean.
"""
import math
import os
import sys
import warnings

from fastnorm import _C

_user_threads = None  # set by set_num_threads; None means "resolve from the environment"

# cap: callers compare n <= cap before using n threads and call capped(n) otherwise. It starts at 1 so
# the first multi-threaded request goes through capped(), which records that the OpenMP pool may now
# exist; after that it is the smaller of the threadpoolctl limit and the fork cap (or huge).
cap = 1
_NO_CAP = 1 << 30
_pool_started = False     # this process (or the parent it was forked from) ran a region on > 1 thread
_forked_after_pool = False
_limit = None             # threadpoolctl's limit, None when unlimited
_warned = False


def _cgroup_cpu_limit():
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
        if quota != "max":
            return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") as f:
            quota = int(f.read())
        with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as f:
            period = int(f.read())
        if quota > 0 and period > 0:
            return max(1, math.ceil(quota / period))
    except (OSError, ValueError):
        pass
    return None


_available = None  # cached: reading the affinity mask and cgroup files costs tens of microseconds


def available_cpus():
    """CPUs this process may run on: the affinity mask, capped by a cgroup quota (read once)."""
    global _available
    if _available is None:
        _available = _read_available_cpus()
    return _available


def _read_available_cpus():
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    limit = _cgroup_cpu_limit()
    return min(n, limit) if limit else n


def set_num_threads(n):
    """Threads every fastnorm kernel and model uses from now on; None goes back to the default."""
    global _user_threads
    if n is None:
        _user_threads = None
        return
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError("set_num_threads: expected an int >= 1 or None, got %r" % (n,))
    if n < 1:
        raise ValueError("set_num_threads: expected an int >= 1, got %d" % n)
    _user_threads = n


def _uncapped():
    if _user_threads is not None:
        return _user_threads
    return max(1, min(_C.omp_max_threads(), available_cpus()))


def get_num_threads():
    """Threads fastnorm uses: set_num_threads, else the environment, within the caps above."""
    n = _uncapped()
    return n if n <= cap else capped(n)


def capped(n):
    """n within the caps; marks the OpenMP pool as (about to be) started when n > 1."""
    global cap, _pool_started, _warned
    if _forked_after_pool:
        if not _warned and n > 1:
            _warned = True
            from fastnorm.errors import FastnormWarning
            warnings.warn("this process was forked after fastnorm ran on several threads, and libgomp's "
                          "thread pool does not survive fork(): fastnorm runs on 1 thread here. Use the "
                          "'spawn' or 'forkserver' start method (or fork before the first predict) for "
                          "multi-threaded workers.", FastnormWarning, stacklevel=4)
        return 1
    if _limit is not None:
        n = min(n, _limit)
    if n > 1:
        _pool_started = True
    cap = _limit if _limit is not None else _NO_CAP
    return n


def _after_fork_in_child():
    global cap, _forked_after_pool
    if _pool_started:
        _forked_after_pool = True
        cap = 1


def forked_single_threaded():
    """True in a process forked after fastnorm's OpenMP pool started: it runs on 1 thread."""
    return _forked_after_pool


def _env_threads():
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "").split(",")[0]))
    except ValueError:
        return None


_ENV_THREADS = _env_threads()  # what libgomp read at load, before anyone called omp_set_num_threads


def _reference():
    """The count without any threadpoolctl limit (also not the one threadpoolctl put on libgomp)."""
    if _user_threads is not None:
        return _user_threads
    return min(_ENV_THREADS or available_cpus(), available_cpus())


def _set_limit(n):
    """threadpoolctl's set_num_threads: cap every fastnorm thread count at n. A limit at or above the
    unlimited count is no limit (that is how threadpool_limits restores the state it found)."""
    global _limit, cap
    _limit = None if n is None or n >= _reference() else max(1, int(n))
    if _forked_after_pool or not _pool_started:
        cap = 1
    else:
        cap = _limit if _limit is not None else _NO_CAP


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# ------------------------------------------------------------------------------ threadpoolctl
def _controller_class(threadpoolctl):
    class FastnormController(threadpoolctl.LibController):
        """fastnorm's OpenMP pool as threadpoolctl sees it: found by the extension module's file name
        (_C.*.so, told apart from other _C modules by an exported fastnorm symbol)."""
        user_api = "fastnorm"
        internal_api = "fastnorm"
        filename_prefixes = ("_c.",)
        check_symbols = ("fn_omp_max_threads",)

        def get_num_threads(self):
            return get_num_threads()

        def set_num_threads(self, num_threads):
            _set_limit(num_threads)

        def get_version(self):
            return sys.modules["fastnorm"].__version__ if "fastnorm" in sys.modules else None

    return FastnormController


def _register_with(threadpoolctl):
    if getattr(threadpoolctl, "_fastnorm_registered", False) or not hasattr(threadpoolctl, "register"):
        return
    threadpoolctl.register(_controller_class(threadpoolctl))
    threadpoolctl._fastnorm_registered = True


class _RegisterOnImport:
    """A sys.meta_path finder that registers the controller right after threadpoolctl is imported, so
    `import fastnorm` does not have to import threadpoolctl (tens of ms) itself."""

    def find_spec(self, name, path=None, target=None):
        if name != "threadpoolctl":
            return None
        sys.meta_path.remove(self)
        import importlib.util
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_and_register(module):
            exec_module(module)
            try:
                _register_with(module)
            except Exception:  # a threadpoolctl we don't understand: stay out of its way
                pass
        loader.exec_module = exec_and_register
        return spec


def _register_threadpoolctl():
    mod = sys.modules.get("threadpoolctl")
    if mod is not None:
        try:
            _register_with(mod)
        except Exception:
            pass
    elif not any(isinstance(f, _RegisterOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _RegisterOnImport())


_register_threadpoolctl()
