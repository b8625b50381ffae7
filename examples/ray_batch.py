"""Batch inference with Ray Data: map_batches with a callable class, one model load per actor.

    python examples/ray_batch.py [--images 2000] [--workers 2] [--model FILE.fnm]

Prints images/s and checks the answer equals one process's, batch for batch."""
import argparse
import time

import numpy as np
import ray

import fastnorm
from fastnorm.batch import chunks, cpu_share, predict_ray
from fastnorm.models import simple_cnn


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=2000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch", type=int, default=250)
    p.add_argument("--model", help="a .fnm/.onnx file (default: the built-in SimpleCNN)")
    args = p.parse_args(argv)

    model = fastnorm.load(args.model) if args.model else fastnorm.Model(simple_cnn(seed=0))
    shape = tuple(d or 1 for d in model.inputs[0].shape[1:])
    x = np.random.default_rng(0).standard_normal((args.images,) + shape).astype(np.float32)
    model.num_threads = cpu_share(1)
    want = np.concatenate([model.predict(x[s]) for s in chunks(len(x), args.batch)])

    started = not ray.is_initialized()
    if started:
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        t0 = time.perf_counter()
        y = predict_ray(model, x, workers=args.workers, batch_size=args.batch)
        dt = time.perf_counter() - t0
    finally:
        if started:
            ray.shutdown()
    same = np.array_equal(y, want)
    print("ray: %d actors, %d images in %.2f s (actor start-up included): %.0f images/s; identical to one "
          "process: %s" % (args.workers, len(x), dt, len(x) / dt, same))
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
