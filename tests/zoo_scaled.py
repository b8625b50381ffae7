"""Scaled variants of the extended models (session 33): the widths, depths and input sizes their tuning never
saw, for the thresholds that tuning set (band budgets, fusion bounds, tile choices by channel count): an
EfficientNet-B1 at 240 and a B3-sized one at 300 (tests/zoo_heldout2.py's B2 class at other scales), B0 at
192, MobileNetV3-Large at 160 and 320, MobileNetV3-Small at 224, a RegNetY-400MF-sized one and
RegNetY-200MF at 288, ConvNeXt femto- and pico-sized (pico at 288), DenseNet-121 at 160 and Inception-v3
at 224. Timed beside the peers by `python bench/adhoc/models_cputime.py --scaled`; checked against torch
at small odd sizes by tests/test_zoo_heldout.py (DenseNet-121 and Inception-v3 only timed: the same
classes as the extended rows, at other sizes).

SCALED[name] = (constructor, canonical input shape (C, H, W), test input shape (C, H, W))."""
import os
import sys

import zoo
from zoo_heldout2 import EfficientNetB2


def _extended():
    bench = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    import zoo_extended
    return zoo_extended


def _regnety(widths, depths):
    ze = _extended()

    class RegNetY(ze.RegNetY200MF):
        WIDTHS, DEPTHS = widths, depths
    return RegNetY()


def _convnext(dims, depths):
    ze = _extended()

    class ConvNeXt(ze.ConvNeXtAtto):
        DIMS, DEPTHS = dims, depths
    return ConvNeXt()


SCALED = {
    "efficientnet_b1_240": (lambda: EfficientNetB2(width=1.0, depth=1.1), (3, 240, 240), (3, 97, 83)),
    "efficientnet_b3_300": (lambda: EfficientNetB2(width=1.2, depth=1.4), (3, 300, 300), (3, 65, 65)),
    "efficientnet_b0_192": (lambda: _extended().EfficientNetB0(), (3, 192, 192), (3, 71, 90)),
    "mobilenet_v3_large_160": (lambda: _extended().MobileNetV3Large(), (3, 160, 160), (3, 100, 76)),
    "mobilenet_v3_large_320": (lambda: _extended().MobileNetV3Large(), (3, 320, 320), (3, 129, 129)),
    "mobilenet_v3_small_224": (zoo.MobileNetV3Small, (3, 224, 224), (3, 96, 96)),
    "regnety_400mf_like": (lambda: _regnety((48, 104, 208, 440), (1, 3, 6, 6)), (3, 224, 224), (3, 64, 80)),
    "regnety_200mf_288": (lambda: _extended().RegNetY200MF(), (3, 288, 288), (3, 97, 97)),
    "convnext_femto_like": (lambda: _convnext((48, 96, 192, 384), (2, 2, 6, 2)), (3, 224, 224), (3, 64, 96)),
    "convnext_pico_288": (lambda: _convnext((64, 128, 256, 512), (2, 2, 6, 2)), (3, 288, 288), (3, 64, 64)),
    "densenet121_160": (lambda: _extended().EXTENDED["densenet121"][0](), (3, 160, 160), (3, 64, 64)),
    "inception_v3_224": (lambda: _extended().InceptionV3(), (3, 224, 224), (3, 139, 139)),
}
# timed only (tests/test_zoo_heldout.py leaves them out: the extended rows' classes at other sizes, and
# the two slowest to check under every ISA)
NOT_IN_TESTS = ("densenet121_160", "inception_v3_224")
