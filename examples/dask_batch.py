"""Batch inference with Dask: a local cluster of 2 worker processes, each loading the model once.

    python examples/dask_batch.py [--images 2000] [--workers 2] [--model FILE.fnm] [--scheduler ADDRESS]

Prints images/s and checks the answer equals one process's, batch for batch."""
import time

import numpy as np
from distributed import Client, LocalCluster

from _common import setup

from fastnorm.batch import dask_register, predict_dask


def main(argv=None):
    scheduler = (["--scheduler"], {"help": "a running cluster's scheduler address (default: start one here)"})
    args, model, x, want = setup(__doc__, argv, [scheduler])

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
