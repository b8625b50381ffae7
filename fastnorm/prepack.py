"""Prepacked weights in a .fnm file (`Model.save(path, prepacked=True)`): the conv weights as the plan's
kernels read them (GEMM panels, Winograd-transformed weights) for one ISA, so that a saved model starts
without packing them again (issue 14's cold start).

The section is a cache, never the model: the file still carries the source graph and its weights, and
the prepacked arrays are used only when everything they were made from is what this process would make
them from again. The key, in the "prepacked" __metadata__ entry (a JSON object):

- "version": LAYOUT_VERSION (bumped by hand when a packing layout changes), and "probe": a checksum of
  every packing function's output on small fixed weights for that ISA, computed again at load, so a
  kernel whose layout changed without the bump is caught too;
- "isa": the kernel table's name (avx512, avx2, scalar, ...): another ISA's file falls back to packing;
- "graph": a checksum of the optimised graph (nodes, attributes, weight names and shapes), so a file read
  with optimize=False, or by a fastnorm whose passes rewrite the graph otherwise, falls back;
- "entries": [[node name, variant, tensor name], ...]: each prepacked array is a 1-D F32 safetensors
  tensor named PREFIX + a number, listed exactly once.

Any mismatch of version, probe, ISA or graph: the section is ignored (packing as without it). A section
that is malformed (bad JSON, unknown variant, a missing, repeated, unlisted or non-1-D tensor) raises
FormatError. An array of the wrong length for its layer raises FormatError at load: the plan records
check every packed length against the kernel's (src_c/plan/rec_conv.c), and the depthwise one here.
"""
import functools
import json
import zlib

import numpy as np

from fastnorm import _C
from fastnorm.errors import FormatError

LAYOUT_VERSION = 5  # 2: AVX-512's grouped convs of group width 8 pack a tap in input pairs (gconv_avx512.c)
                    # 3: AVX-512 packs convs of <= 8 output channels a group as AVX2 (conv2d.c conv_kernels)
                    # 4: and on a half-rate AVX-512 CPU (Zen 4) 17-24, 33-40, 49-56 (kernels.h fn_conv_table);
                    #    the probe's 24 -> 40 and 36 -> 20 convs tell the two apart
                    # 5: and there group width 8 packs as AVX2 does, one group a ymm (gconv_ymm_avx512.c);
                    #    the probe's 24-channel width-8 conv tells the two apart
HEADER = 16                   # floats of alignment header of a GEMM-family packing (FN_CONV_PACK_HEADER)
PREFIX = "__prepacked__."
META_KEY = "prepacked"
# variants stored: the ISA-specific packings whose lengths the plan records check, and the depthwise
# one (ISA-independent, checked here). The first-layer conv is left out (one small layer, no check).
_ISA_VARIANTS = ("conv", "winograd3x3", "conv_transpose", "linear", "winograd1d", "winograd2x3")
_DW = "dwconv"


def _probe_weights(shape, salt):
    n = int(np.prod(shape))
    return ((((np.arange(n, dtype=np.int64) * 37 + salt) % 101) - 50) / 53.0).astype(np.float32).reshape(shape)


def layout_probe(isa):
    """Checksum of every stored packing on small fixed weights, for ISA index `isa` (well under a ms)."""
    return _probe(isa)[0]


@functools.lru_cache(maxsize=None)
def _probe(isa):
    """(layout_probe, whether every packing starts with an alignment header)."""
    crc, headered = 0, True
    convs = [(_C.conv2d_pack, (24, 40, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1), (40, 24, 3, 3)),
             (_C.conv2d_pack, (36, 20, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0), (20, 36, 1, 1)),
             (_C.conv2d_pack, (16, 16, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1), (16, 4, 3, 3)),
             (_C.conv2d_pack, (24, 24, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1), (24, 8, 3, 3)),  # width 8: pairs
             (_C.winograd3x3_pack, (16, 24, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1), (24, 16, 3, 3)),
             (_C.conv_transpose2d_pack, (8, 12, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1), (8, 12, 3, 3)),
             (_C.winograd1d_pack, (16, 24, 1, 1, 7, 1, 1, 1, 1, 0, 3, 0, 3), (24, 16, 1, 7)),
             (_C.winograd2x3_pack, (16, 24, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1), (24, 16, 3, 3)),
             (_C.conv2d_pack, (16, 8, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1), (8, 16, 3, 3)),  # narrow: AVX2's
             (_C.winograd3x3_pack, (8, 6, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1), (6, 8, 3, 3))]
    outs = []
    for salt, (pack, desc, shape) in enumerate(convs):
        bias = _probe_weights((desc[1],), salt + 7)
        outs.append(pack(isa, desc, _probe_weights(shape, salt), bias))
    outs.append(_C.dwconv2d_pack(_probe_weights((24, 1, 3, 3), 11), _probe_weights((24,), 12)))
    for out in outs:
        headered = headered and header_offset(out) is not None
        out = _payload(out)
        crc = zlib.crc32(np.ascontiguousarray(out).view(np.uint8), zlib.crc32(str(out.shape).encode(), crc))
    return "%08x" % crc, headered


def header_offset(packed):
    """The GEMM-family packings start with a header: packed[0] = off in 1..HEADER, the panels at
    packed[off:], placed so they begin on a 64-byte line wherever the array lies (src_c/conv/conv2d.c);
    None for an array without one."""
    if packed.size > HEADER:
        off = float(packed[0])
        if off.is_integer() and 1 <= off <= HEADER:
            return int(off)
    return None


def _payload(packed):
    """A packing's content without its alignment header (which depends on the array's address)."""
    off = header_offset(packed)
    return packed if off is None else packed[off:off + packed.size - HEADER]


def graph_digest(graph):
    """Checksum of an (optimised) graph's structure and its weights' names, dtypes and shapes."""
    # The JSON of [graph.to_dict(), weights], built without to_dict's copies, and str(dtype) once per
    # dtype (numpy's dtype __str__ is Python code): the same text, 1.2 -> 0.5 ms for EfficientNet-B0
    # at every load of a prepacked file.
    names = {}
    weights = []
    for k, v in graph.weights.items():
        d = names.get(v.dtype)
        if d is None:
            d = names[v.dtype] = str(v.dtype)
        weights.append((k, d, list(v.shape)))
    weights.sort()
    spec = lambda t: {"name": t.name, "shape": t.shape, "dtype": t.dtype}   # noqa: E731
    structure = {"inputs": [spec(t) for t in graph.inputs], "outputs": [spec(t) for t in graph.outputs],
                 "nodes": [{"name": n.name, "op": n.op, "inputs": n.inputs, "outputs": n.outputs, "attrs": n.attrs}
                           for n in graph.nodes]}
    text = json.dumps([structure, weights], sort_keys=True, default=repr, separators=(",", ":"))
    data = text.encode("utf-8", "surrogatepass")
    return "%08x-%08x-%d" % (zlib.crc32(data), zlib.adler32(data), len(data))


def _isa_name(isa):
    return _C.ISA_NAMES[isa]


def _variant_json(v):
    return list(v) if isinstance(v, tuple) else v


def collect(model):
    """(metadata JSON string, {tensor name: array}) of the model's packed weights for the ISA in use,
    planning at batch 1 first (what load does); ({}, None) when there is nothing to store."""
    shapes = {t.name: tuple(1 if d is None else d for d in t.shape) for t in model.graph.inputs}
    plan = model._plan(shapes)
    isa = plan.isa
    entries, tensors = [], {}
    for key, arr in sorted(model._weights.items(), key=lambda kv: json.dumps(_variant_json(kv[0]), default=repr)):
        if len(key) == 3 and key[1] == isa and (key[2] in _ISA_VARIANTS or (
                isinstance(key[2], tuple) and key[2] and key[2][0] == "linear_hwc")):
            variant = _variant_json(key[2])
        elif len(key) == 2 and key[1] == _DW:
            variant = _DW
        else:
            continue
        if not (isinstance(arr, np.ndarray) and arr.dtype == np.float32 and arr.ndim == 1):
            continue
        name = "%s%d" % (PREFIX, len(entries))
        entries.append([key[0], variant, name])
        tensors[name] = arr
    if not entries:
        return None, {}
    meta = {"version": LAYOUT_VERSION, "isa": _isa_name(isa), "probe": layout_probe(isa),
            "graph": graph_digest(model.graph), "entries": entries}
    return json.dumps(meta, ensure_ascii=False, separators=(",", ":")), tensors


# ------------------------------------------------------------------------------------------------ reading

def parse(text, tensor_info, path="file"):
    """The checked "prepacked" metadata: (meta dict, [(node, variant, tensor name)]). tensor_info:
    {tensor name: (dtype, shape)} of every tensor in the file. Raises FormatError when malformed."""
    def bad(why):
        return FormatError("%s: prepacked section: %s" % (path, why))
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise bad("not JSON (%s)" % e) from None
    if not isinstance(meta, dict) or set(meta) != {"version", "isa", "probe", "graph", "entries"}:
        raise bad("expected an object with version, isa, probe, graph and entries")
    if not (isinstance(meta["version"], int) and not isinstance(meta["version"], bool)):
        raise bad("version is not an integer")
    for k in ("isa", "probe", "graph"):
        if not isinstance(meta[k], str) or len(meta[k]) > 200:
            raise bad("%s is not a short string" % k)
    entries = meta["entries"]
    if not isinstance(entries, list):
        raise bad("entries is not a list")
    out, seen_keys, seen_tensors = [], set(), set()
    for i, e in enumerate(entries):
        if not (isinstance(e, list) and len(e) == 3 and isinstance(e[0], str) and isinstance(e[2], str)):
            raise bad("entry #%d is not [node name, variant, tensor name]" % i)
        node, variant, tname = e
        variant = _check_variant(variant, i, bad)
        if (node, variant) in seen_keys:
            raise bad("entry #%d: node %r, variant %r listed twice" % (i, node[:80], variant))
        if not tname.startswith(PREFIX) or tname not in tensor_info:
            raise bad("entry #%d: tensor %r is not a prepacked tensor of the file" % (i, tname[:80]))
        if tname in seen_tensors:
            raise bad("entry #%d: tensor %r listed twice" % (i, tname[:80]))
        dtype, shape = tensor_info[tname]
        if dtype != np.float32 or len(shape) != 1:
            raise bad("tensor %r must be 1-D float32, got %s %r" % (tname[:80], dtype, list(shape)))
        seen_keys.add((node, variant))
        seen_tensors.add(tname)
        out.append((node, variant, tname))
    extra = sorted(n for n in tensor_info if n.startswith(PREFIX) and n not in seen_tensors)
    if extra:
        raise bad("tensor %r is not listed in its entries" % extra[0][:80])
    return meta, out


def _check_variant(v, i, bad):
    if isinstance(v, str) and (v in _ISA_VARIANTS or v == _DW):
        return v
    if (isinstance(v, list) and len(v) == 4 and v[0] == "linear_hwc"
            and all(isinstance(x, int) and not isinstance(x, bool) and 1 <= x <= 1 << 31 for x in v[1:])):
        return tuple(v)
    raise bad("entry #%d: unknown variant %r" % (i, str(v)[:80]))


def usable(meta, isa):
    """Whether a parsed section was made for ISA index `isa` by kernels packing as this build's do."""
    return (meta["version"] == LAYOUT_VERSION and meta["isa"] == _isa_name(isa)
            and meta["probe"] == layout_probe(isa))


def seed(model, prepacked, path="the .fnm file"):
    """Put a file's prepacked arrays into the model's weight cache when they were made for this model's
    optimised graph on the ISA in use; False (and nothing seeded) otherwise."""
    meta, entries, arrays = prepacked
    isa = _C.resolve_isa(-1)
    if not usable(meta, isa) or meta["graph"] != graph_digest(model.graph):
        return False
    nodes = {n.name: n for n in model.graph.nodes}
    headered = _probe(isa)[1]
    found = {}
    for node, variant, tname in entries:
        arr = arrays[tname]
        if headered and header_offset(arr) is None:   # the kernels would refuse it at predict
            raise FormatError("%s: prepacked section: tensor %r has no valid packing header" % (path, tname[:80]))
        if variant == _DW:
            n = nodes.get(node)
            wt = model.graph.weights.get(n.inputs[1]) if n is not None and len(n.inputs) > 1 else None
            if wt is None or wt.ndim != 4 or arr.shape[0] != _C.dwconv2d_packed_floats(wt.shape[0], wt.shape[2],
                                                                                         wt.shape[3]):
                raise FormatError("%s: prepacked section: tensor %r does not fit depthwise node %r"
                                  % (path, tname[:80], node[:80]))
            found[(node, _DW)] = arr
        else:
            found[(node, isa, variant)] = arr
    model._weights.seed(found)
    return True
