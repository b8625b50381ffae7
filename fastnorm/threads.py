"""The thread count, resolved in one place.

Order: fastnorm.set_num_threads(n) if called; else OMP_NUM_THREADS / threadpoolctl's limit (both seen
through omp_get_max_threads); never more than the CPUs this process may use (affinity mask and
cgroup CPU quota).
"""
import math
import os

from fastnorm import _C

_user_threads = None  # set by set_num_threads; None means "resolve from the environment"


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


def get_num_threads():
    if _user_threads is not None:
        return _user_threads
    return max(1, min(_C.omp_max_threads(), available_cpus()))
