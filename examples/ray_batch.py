"""Batch inference with Ray Data: map_batches with a callable class, one model load per actor.

    python examples/ray_batch.py [--images 2000] [--workers 2] [--model FILE.fnm]

Prints images/s and checks the answer equals one process's, batch for batch."""
import time

import numpy as np
import ray

from _common import setup

from fastnorm.batch import predict_ray


def main(argv=None):
    args, model, x, want = setup(__doc__, argv, ())

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
