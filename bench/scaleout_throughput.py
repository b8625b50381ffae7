"""images/s: one process vs Dask with 1 and 2 worker processes (each worker on its CPU share of threads).

    python bench/scaleout_throughput.py [--images 2000] [--batch 250] [--model FILE] [--repeat 3]

Best of --repeat timed passes after a warm-up; model load and cluster start-up are not timed."""
import argparse
import timeit

import numpy as np

import fastnorm
from fastnorm.batch import chunks, cpu_share, dask_register, predict_dask
from fastnorm.models import simple_cnn


def best(fn, repeat):
    fn()                                                   # warm-up: plans, worker caches
    return min(timeit.repeat(fn, number=1, repeat=repeat))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=2000)
    p.add_argument("--batch", type=int, default=250)
    p.add_argument("--model")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = p.parse_args(argv)
    from distributed import Client, LocalCluster

    model = fastnorm.load(args.model) if args.model else fastnorm.Model(simple_cnn(seed=0))
    shape = tuple(d or 1 for d in model.inputs[0].shape[1:])
    x = np.random.default_rng(0).standard_normal((args.images,) + shape).astype(np.float32)
    model.num_threads = cpu_share(1)
    parts = chunks(len(x), args.batch)
    rows = [("single process", model.num_threads,
             best(lambda: [model.predict(x[s]) for s in parts], args.repeat))]
    for k in args.workers:
        with LocalCluster(n_workers=k, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            name = dask_register(client, model)
            threads = client.run(lambda dask_worker: dask_worker._fastnorm_models[name].num_threads)
            rows.append(("dask, %d worker%s" % (k, "s" if k > 1 else ""), "+".join(map(str, threads.values())),
                         best(lambda: predict_dask(client, name, x, batch_size=args.batch), args.repeat)))
    info = fastnorm.cpu_info()
    print("%s, %d images of %s, batch %d, ISA %s, %d CPUs usable"
          % (args.model or "SimpleCNN", len(x), shape, args.batch, info["isa"], cpu_share(1)))
    print("| setup | threads | images/s |\n|---|---|---|")
    for what, threads, t in rows:
        print("| %s | %s | %.0f |" % (what, threads, len(x) / t))


if __name__ == "__main__":
    main()
