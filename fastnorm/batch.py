"""Batch inference past one process: Dask and Ray Data, and the input reading `fastnorm predict` shares.

The rules every recipe here follows:
- A worker loads the model once (a Dask WorkerPlugin, a Ray Data actor), never per batch. The model
  travels pickled, which for a fastnorm Model is its .fnm bytes (fastnorm/_pickling.py).
- A worker computes on its own CPU share: the host's CPUs divided among the workers on that host and
  the tasks each runs at once, so workers x threads never oversubscribe the machine.
- Outputs come back in input order, equal to what one process computes on the same batches.

    from distributed import Client, LocalCluster
    from fastnorm.batch import predict_dask
    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster) as client:
        y = predict_dask(client, model, x, batch_size=256)

    import ray
    from fastnorm.batch import predict_ray
    ray.init(num_cpus=2)
    y = predict_ray(model, x, workers=2, batch_size=256)

Neither Dask nor Ray is imported until a function that needs it runs.
"""
import os
import uuid

import numpy as np

from fastnorm.threads import available_cpus

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")


def cpu_share(workers, tasks_per_worker=1, cpus=None):
    """Compute threads for one task of one of `workers` workers sharing `cpus` (default: this
    process's usable CPUs), each running `tasks_per_worker` tasks at once; at least 1."""
    cpus = available_cpus() if cpus is None else cpus
    return max(1, cpus // max(1, workers) // max(1, tasks_per_worker))


def chunks(n, batch_size):
    """slice objects covering range(n) in order, batch_size at a time."""
    if batch_size < 1:
        raise ValueError("batch_size: expected >= 1, got %r" % (batch_size,))
    return [slice(i, min(n, i + batch_size)) for i in range(0, n, batch_size)]


# ------------------------------------------------------------------------------ reading inputs
class InputOptions:
    """How a file becomes one (C, H, W) float32 input.

    .npy files are loaded as they are (allow_pickle off) and must have the model's per-image shape.
    Images (needs Pillow) are converted to RGB, resized so the shorter side is `resize`, centre
    cropped to `crop` x `crop`, scaled to [0, 1] and normalised with `mean`/`std` (ImageNet's by
    default); resize/crop default to the model's input size."""

    def __init__(self, shape=None, resize=None, crop=None, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        self.shape = None if shape is None else tuple(shape)       # (C, H, W) the model wants
        self.resize, self.crop = resize, crop
        self.mean = np.asarray(mean, np.float32).reshape(-1, 1, 1)
        self.std = np.asarray(std, np.float32).reshape(-1, 1, 1)

    @classmethod
    def for_model(cls, model, **kw):
        shape = tuple(model.inputs[0].shape[1:])
        return cls(shape=None if any(d is None for d in shape) else shape, **kw)


def read_input(path, opts):
    """One file -> (C, H, W) float32 array. Raises ValueError/OSError naming the problem."""
    path = os.fspath(path)
    if path.lower().endswith(".npy"):
        x = np.load(path, allow_pickle=False)
        if x.dtype.kind not in "fiu":
            raise ValueError("dtype %s is not numeric" % x.dtype)
        x = np.ascontiguousarray(x, dtype=np.float32)
        if opts.shape is not None and x.shape == (1,) + opts.shape:
            x = x[0]
    else:
        x = _read_image(path, opts)
    if opts.shape is not None and x.shape != opts.shape:
        raise ValueError("shape %s, the model wants %s" % (x.shape, opts.shape))
    return x


def _read_image(path, opts):
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("reading images needs Pillow (pip install 'fastnorm[images]'); "
                          "or give .npy files") from None
    side = opts.crop or (opts.shape[-1] if opts.shape else 224)
    resize = opts.resize or side
    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        scale = resize / min(w, h)
        im = im.resize((max(side, round(w * scale)), max(side, round(h * scale))), Image.BILINEAR)
        w, h = im.size
        left, top = (w - side) // 2, (h - side) // 2
        im = im.crop((left, top, left + side, top + side))
        a = np.asarray(im, dtype=np.float32) / 255.0                    # (H, W, 3)
    return np.ascontiguousarray(((a.transpose(2, 0, 1) - opts.mean) / opts.std).astype(np.float32))


def read_batch(paths, opts):
    """(array (n, C, H, W) or None, the paths read, [(path, reason)] for the ones that failed)."""
    good, arrays, bad = [], [], []
    for p in paths:
        try:
            arrays.append(read_input(p, opts))
            good.append(p)
        except ImportError:
            raise
        except Exception as e:  # a corrupt or odd file is reported and skipped, never fatal
            bad.append((os.fspath(p), "%s: %s" % (type(e).__name__, e)))
    if arrays and len({a.shape for a in arrays}) > 1:
        first = arrays[0].shape
        keep = [i for i, a in enumerate(arrays) if a.shape == first]
        bad += [(os.fspath(good[i]), "shape %s differs from %s" % (arrays[i].shape, first))
                for i in range(len(arrays)) if arrays[i].shape != first]
        good, arrays = [good[i] for i in keep], [arrays[i] for i in keep]
    return (np.stack(arrays) if arrays else None), good, bad


def predict_files(model, paths, opts=None):
    """Read and predict one batch of files: (outputs or None, the paths predicted, [(path, reason)])."""
    opts = opts or InputOptions.for_model(model)
    x, good, bad = read_batch(paths, opts)
    return (None if x is None else model.predict(x)), good, bad


# ------------------------------------------------------------------------------ Dask
_plugin_class = None


def _dask_plugin():
    """The WorkerPlugin class, made on first use so importing fastnorm.batch needs no distributed."""
    global _plugin_class
    if _plugin_class is None:
        from distributed import WorkerPlugin

        class FastnormModelPlugin(WorkerPlugin):
            """Loads a model once per worker (at registration, and on every worker that joins later)
            and gives it the worker's CPU share of compute threads."""

            def __init__(self, model, name, workers_per_host):
                self.model, self.name, self.workers_per_host = model, name, workers_per_host

            def setup(self, worker):
                from distributed.comm import get_address_host
                peers = self.workers_per_host.get(get_address_host(worker.address), 1)
                model = self.model
                if isinstance(model, (str, os.PathLike)):
                    import fastnorm
                    model = fastnorm.load(model)
                model.num_threads = cpu_share(peers, worker.state.nthreads)
                models = worker.__dict__.setdefault("_fastnorm_models", {})
                models[self.name] = model
                loads = worker.__dict__.setdefault("_fastnorm_loads", {})
                loads[self.name] = loads.get(self.name, 0) + 1

            def teardown(self, worker):
                worker.__dict__.get("_fastnorm_models", {}).pop(self.name, None)

        _plugin_class = FastnormModelPlugin
    return _plugin_class


def dask_register(client, model, name=None):
    """Load `model` (a Model, or a path every worker can read) once on every worker of `client`;
    returns the name tasks use to find it (worker_model(name))."""
    from distributed.comm import get_address_host
    name = name or "fastnorm-" + uuid.uuid4().hex[:12]
    per_host = {}
    for addr in client.scheduler_info(n_workers=-1)["workers"]:
        host = get_address_host(addr)
        per_host[host] = per_host.get(host, 0) + 1
    client.register_plugin(_dask_plugin()(model, name, per_host), name=name)
    return name


def worker_model(name):
    """Inside a Dask task: the model dask_register loaded on this worker."""
    from distributed import get_worker
    return get_worker()._fastnorm_models[name]


def _aligned(x):
    # Arrays deserialised from a network buffer can be unaligned; predict wants aligned float32.
    return np.require(x, np.float32, ["C_CONTIGUOUS", "ALIGNED"])


def _dask_predict(name, x):
    return worker_model(name).predict(_aligned(x))


def _dask_predict_files(name, paths, opts):
    model = worker_model(name)
    return predict_files(model, paths, opts or InputOptions.for_model(model))


def predict_dask(client, model, x, batch_size=256, name=None):
    """model.predict(x) computed by the workers of a distributed.Client, batch_size images per task,
    in input order. `model` is a Model, a path, or the name dask_register returned."""
    name = model if _is_registered_name(model) else dask_register(client, model, name)
    # hash=False: identical chunks scattered by two calls would share keys, and the first call's release of
    # them could cancel the second call's tasks ("lost dependencies")
    parts = client.scatter([x[s] for s in chunks(len(x), batch_size)], hash=False)
    futures = client.map(_dask_predict, [name] * len(parts), parts, pure=False)
    return np.concatenate(client.gather(futures))


def predict_files_dask(client, model, paths, batch_size=64, opts=None, name=None):
    """Read and predict files on the workers: a list of (outputs or None, paths predicted, failures)
    per batch of batch_size paths, in order. Workers read the files, so the paths must be theirs."""
    name = model if _is_registered_name(model) else dask_register(client, model, name)
    paths = [os.fspath(p) for p in paths]
    groups = [paths[s] for s in chunks(len(paths), batch_size)]
    futures = client.map(_dask_predict_files, [name] * len(groups), groups, [opts] * len(groups), pure=False)
    return client.gather(futures)


def _is_registered_name(model):
    return isinstance(model, str) and model.startswith("fastnorm-") and not os.path.exists(model)


# ------------------------------------------------------------------------------ Ray
class RayPredictor:
    """A Ray Data callable class (map_batches runs one per actor): loads the model once in __init__,
    computes on the CPUs Ray assigned the actor, and maps {"data": x} batches to {"y": outputs}."""

    def __init__(self, model, num_threads=None):
        if isinstance(model, (str, os.PathLike)):
            import fastnorm
            model = fastnorm.load(model)
        if num_threads is None:
            import ray
            num_threads = int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1)) or 1
        model.num_threads = num_threads
        self.model = model

    def __call__(self, batch):
        return {"y": self.model.predict(_aligned(batch["data"]))}


def predict_ray(model, x, workers=2, batch_size=256, num_cpus=None):
    """model.predict(x) by a Ray Data pipeline (map_batches with `workers` RayPredictor actors of
    num_cpus each, default the CPU share), in input order. Call ray.init() first."""
    import ray
    import ray.data
    num_cpus = num_cpus or cpu_share(workers, cpus=int(ray.cluster_resources().get("CPU", available_cpus())))
    ctx = ray.data.DataContext.get_current()
    keep = ctx.execution_options.preserve_order
    ctx.execution_options.preserve_order = True        # blocks come back in input order
    try:
        ds = ray.data.from_numpy([x[s] for s in chunks(len(x), batch_size)])
        out = ds.map_batches(RayPredictor, fn_constructor_args=(model,), batch_size=batch_size,
                             concurrency=workers, num_cpus=num_cpus, batch_format="numpy")
        ys = [b["y"] for b in out.iter_batches(batch_size=None, batch_format="numpy")]
    finally:
        ctx.execution_options.preserve_order = keep
    y = np.concatenate(ys)
    if len(y) != len(x):
        raise RuntimeError("predict_ray: %d outputs for %d inputs" % (len(y), len(x)))
    return y
