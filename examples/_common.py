"""What both recipes share: the arguments, the model, 2,000 random images and the one-process answer."""
import argparse

import numpy as np

import fastnorm
from fastnorm.batch import chunks, cpu_share
from fastnorm.models import simple_cnn


def setup(doc, argv, extra=()):
    """(args, model, x, want): want is one process's answer on the same batches the workers get."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--images", type=int, default=2000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch", type=int, default=250)
    p.add_argument("--model", help="a .fnm/.onnx file (default: the built-in SimpleCNN)")
    for flags, kw in extra:
        p.add_argument(*flags, **kw)
    args = p.parse_args(argv)
    model = fastnorm.load(args.model) if args.model else fastnorm.Model(simple_cnn(seed=0))
    shape = tuple(d or 1 for d in model.inputs[0].shape[1:])
    x = np.random.default_rng(0).standard_normal((args.images,) + shape).astype(np.float32)
    model.num_threads = cpu_share(1)
    want = np.concatenate([model.predict(x[s]) for s in chunks(len(x), args.batch)])
    return args, model, x, want
