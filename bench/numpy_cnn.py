"""SimpleCNN written in plain NumPy (float32, im2col + matmul): the NumPy peer in the benchmarks."""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def conv3x3_bn_relu(x, w, scale, shift):
    # x: (N, C, H, W) -> (N, O, H, W), padding 1, then per-channel scale/shift and ReLU
    n, c, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = sliding_window_view(xp, (3, 3), axis=(2, 3))          # (N, C, H, W, 3, 3)
    y = np.einsum("nchwij,ocij->nohw", cols, w, optimize=True)
    return np.maximum(y * scale[None, :, None, None] + shift[None, :, None, None], 0)


def maxpool2(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


class NumpySimpleCNN:
    """Eval-mode SimpleCNN from a torch module's weights; conv bias and BN folded to scale/shift."""

    def __init__(self, net):
        def arr(t):
            return t.detach().numpy().astype(np.float32)

        self.layers = []
        for conv, bn in ((net.conv1, net.bn1), (net.conv2, net.bn2)):
            s = arr(bn.weight) / np.sqrt(arr(bn.running_var) + bn.eps)
            b = arr(bn.bias) + (arr(conv.bias) - arr(bn.running_mean)) * s
            self.layers.append((arr(conv.weight), s.astype(np.float32), b.astype(np.float32)))
        self.fc = [(arr(net.fc1.weight).T.copy(), arr(net.fc1.bias)),
                   (arr(net.fc2.weight).T.copy(), arr(net.fc2.bias))]

    def __call__(self, x):
        for w, s, b in self.layers:
            x = maxpool2(conv3x3_bn_relu(x, w, s, b))
        x = x.reshape(x.shape[0], -1)
        x = np.maximum(x @ self.fc[0][0] + self.fc[0][1], 0)
        return x @ self.fc[1][0] + self.fc[1][1]
