"""Runtimes timed in turns, in one process: every callable once per round, the order rotating.

On a host whose speed drifts (a VM whose neighbours come and go, other jobs on 2 cores), runtimes
timed one after the other each see a different machine; timed in turns, round by round, they see
the same one. Medians over the rounds are the figures; minima are printed beside them.

clock: time.perf_counter (wall time, the default) or time.thread_time (the calling thread's CPU time:
on a host shared with other jobs it leaves out the slices spent waiting for a core; valid only for
work that runs on the calling thread, i.e. 1 thread).
"""
import statistics
import time


def interleaved(fns, seconds=2.0, min_rounds=5, max_rounds=None, warmup=1, clock=time.perf_counter):
    """{name: [seconds per call]} for {name: callable}: each called once per round, rotating order.

    Runs at least min_rounds rounds and keeps going until `seconds` have passed (or max_rounds)."""
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    samples = {name: [] for name in names}
    end = time.perf_counter() + seconds
    r = 0
    while r < min_rounds or time.perf_counter() < end:
        if max_rounds is not None and r >= max_rounds:
            break
        k = r % len(names)
        for name in names[k:] + names[:k]:
            t0 = clock()
            fns[name]()
            samples[name].append(clock() - t0)
        r += 1
    return samples


def median(xs):
    return statistics.median(xs)


def summary(samples):
    """{name: (median, min, rounds)} in seconds."""
    return {k: (statistics.median(v), min(v), len(v)) for k, v in samples.items()}


def fmt_time(s):
    """Seconds as µs (3 significant digits) or ms (4, never in exponent form)."""
    if s < 1e-3:
        return "%.3g µs" % (s * 1e6)
    return "%.4g ms" % (s * 1e3)
