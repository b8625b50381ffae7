"""Batch inference with Dask: a local cluster of 2 worker processes, each loading the model once.

    python examples/dask_batch.py [--images 2000] [--workers 2] [--model FILE.fnm] [--scheduler ADDRESS]

Prints images/s and checks the answer equals one process's, batch for batch."""
import argparse
import time

import numpy as np
from distributed import Client, LocalCluster

import fastnorm
from fastnorm.batch import chunks, cpu_share, dask_register, predict_dask
from fastnorm.models import simple_cnn


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=2000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch", type=int, default=250)
    p.add_argument("--model", help="a .fnm/.onnx file (default: the built-in SimpleCNN)")
    p.add_argument("--scheduler", help="a running cluster's scheduler address (default: start a local one)")
    args = p.parse_args(argv)

    model = fastnorm.load(args.model) if args.model else fastnorm.Model(simple_cnn(seed=0))
    shape = tuple(d or 1 for d in model.inputs[0].shape[1:])
    x = np.random.default_rng(0).standard_normal((args.images,) + shape).astype(np.float32)

    # The single-process answer, on the same batches the workers get.
    model.num_threads = cpu_share(1)
    want = np.concatenate([model.predict(x[s]) for s in chunks(len(x), args.batch)])

    # One task at a time per worker; fastnorm's threads fill the worker's CPU share.
    if args.scheduler:
        with Client(args.scheduler) as client:
            return run(client, model, x, want, args)
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        return run(client, model, x, want, args)


def run(client, model, x, want, args):
    workers = len(client.scheduler_info(n_workers=-1)["workers"])
    name = dask_register(client, model)             # every worker loads the model, once
    predict_dask(client, name, x[: args.batch * workers], batch_size=args.batch)   # warm-up
    t0 = time.perf_counter()
    y = predict_dask(client, name, x, batch_size=args.batch)
    dt = time.perf_counter() - t0
    loads = client.run(lambda dask_worker: dask_worker._fastnorm_loads[name])
    threads = client.run(lambda dask_worker: dask_worker._fastnorm_models[name].num_threads)
    client.unregister_worker_plugin(name)
    same = np.array_equal(y, want)
    print("dask: %d workers, %d images in %.2f s: %.0f images/s; model loads per worker %s; threads per "
          "worker %s; identical to one process: %s"
          % (workers, len(x), dt, len(x) / dt, sorted(loads.values()), sorted(threads.values()), same))
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
