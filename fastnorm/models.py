"""Models fastnorm can build without any framework: the SimpleCNN of the founding articles, with
seeded weights and realistic BatchNorm statistics (as if trained), for `fastnorm demo` and tests."""
import numpy as np

from fastnorm.graph import Graph, Node, TensorSpec


def simple_cnn(seed=0):
    """conv(3->16) BN ReLU pool, conv(16->32) BN ReLU pool, flatten, fc(2048->128) ReLU, fc(128->10).

    Input (N, 3, 32, 32) -> logits (N, 10). Weights use Kaiming-uniform bounds like torch's
    defaults; BN running statistics are spread like those of a trained network (means of either
    sign, variances between 0.2 and 3, gammas around 1, betas around 0)."""
    rng = np.random.default_rng(seed)
    w = {}

    def uniform(name, shape, fan_in):
        bound = 1.0 / np.sqrt(fan_in)
        w[name] = rng.uniform(-bound, bound, shape).astype(np.float32)
        return name

    def bn_stats(prefix, c):
        w[prefix + ".running_mean"] = rng.normal(0.0, 0.5, c).astype(np.float32)
        w[prefix + ".running_var"] = rng.uniform(0.2, 3.0, c).astype(np.float32)
        w[prefix + ".weight"] = rng.normal(1.0, 0.2, c).astype(np.float32)
        w[prefix + ".bias"] = rng.normal(0.0, 0.2, c).astype(np.float32)
        return [prefix + s for s in (".running_mean", ".running_var", ".weight", ".bias")]

    conv = {"stride": [1, 1], "padding": [1, 1, 1, 1], "dilation": [1, 1], "groups": 1}
    pool = {"kernel": [2, 2], "stride": [2, 2], "padding": [0, 0], "dilation": [1, 1], "ceil_mode": False}
    nodes = [
        Node("conv1", "conv2d", ["input", uniform("conv1.weight", (16, 3, 3, 3), 27),
                                 uniform("conv1.bias", (16,), 27)], ["c1"], dict(conv)),
        Node("bn1", "batch_norm", ["c1"] + bn_stats("bn1", 16), ["b1"], {"eps": 1e-5}),
        Node("relu1", "relu", ["b1"], ["r1"]),
        Node("pool1", "max_pool2d", ["r1"], ["p1"], dict(pool)),
        Node("conv2", "conv2d", ["p1", uniform("conv2.weight", (32, 16, 3, 3), 144),
                                 uniform("conv2.bias", (32,), 144)], ["c2"], dict(conv)),
        Node("bn2", "batch_norm", ["c2"] + bn_stats("bn2", 32), ["b2"], {"eps": 1e-5}),
        Node("relu2", "relu", ["b2"], ["r2"]),
        Node("pool2", "max_pool2d", ["r2"], ["p2"], dict(pool)),
        Node("flatten", "flatten", ["p2"], ["f"], {"start_dim": 1, "end_dim": -1}),
        Node("fc1", "linear", ["f", uniform("fc1.weight", (128, 2048), 2048),
                               uniform("fc1.bias", (128,), 2048)], ["h"]),
        Node("relu3", "relu", ["h"], ["hr"]),
        Node("fc2", "linear", ["hr", uniform("fc2.weight", (10, 128), 128),
                               uniform("fc2.bias", (10,), 128)], ["logits"]),
    ]
    return Graph([TensorSpec("input", (None, 3, 32, 32))], [TensorSpec("logits", (None, 10))], nodes, w)
