"""Making messages (the few the frontend synthesises) and writing them back to wire bytes.

make_node mirrors onnx.helper.make_node for the attribute kinds fastnorm writes; serialize turns any
decoded or built message into protobuf bytes, so that a rare fallback that does need onnx (its reference
evaluator) can hand a node over with onnx.NodeProto.FromString(serialize(node)) and import onnx only then.
"""
import struct

import numpy as np

from fastnorm.onnxpb import messages as M

_A = M.AttributeProto


def make_attribute(name, value):
    a = M.AttributeProto()
    M._set(a, a._fields["name"], name)
    if isinstance(value, (bool, int, np.integer)):
        kind, field, v = _A.INT, "i", int(value)
    elif isinstance(value, (float, np.floating)):
        kind, field, v = _A.FLOAT, "f", struct.unpack("<f", struct.pack("<f", float(value)))[0]
    elif isinstance(value, (str, bytes)):
        kind, field, v = _A.STRING, "s", value.encode() if isinstance(value, str) else value
    elif isinstance(value, M.TensorProto):
        kind, field, v = _A.TENSOR, "t", value
    elif isinstance(value, M.GraphProto):
        kind, field, v = _A.GRAPH, "g", value
    else:
        vals = list(value)
        if all(isinstance(x, (bool, int, np.integer)) for x in vals):
            kind, field, v = _A.INTS, "ints", [int(x) for x in vals]
        elif all(isinstance(x, (int, float, np.integer, np.floating)) for x in vals):
            kind, field, v = _A.FLOATS, "floats", [struct.unpack("<f", struct.pack("<f", float(x)))[0] for x in vals]
        elif all(isinstance(x, (str, bytes)) for x in vals):
            kind, field, v = _A.STRINGS, "strings", [x.encode() if isinstance(x, str) else x for x in vals]
        else:
            raise TypeError("attribute %r: cannot tell the ONNX type of %r" % (name, value))
        getattr(a, field).extend(v)
        M._set(a, a._fields["type"], kind)
        return a
    M._set(a, a._fields[field], v)
    M._set(a, a._fields["type"], kind)
    return a


def make_node(op_type, inputs, outputs, name="", domain="", **attrs):
    """A NodeProto, attributes sorted by name (as onnx.helper.make_node does)."""
    n = M.NodeProto()
    n.input.extend(inputs)
    n.output.extend(outputs)
    for key, val in (("op_type", op_type), ("name", name), ("domain", domain)):
        if val:
            M._set(n, n._fields[key], val)
    n.attribute.extend(make_attribute(k, v) for k, v in sorted(attrs.items()) if v is not None)
    return n


def copy_node(node, inputs, outputs, name=""):
    """A NodeProto doing what `node` does (its op type, domain and attributes, shared: nothing mutates
    them) on other value names: an If branch's node moved into the outer graph."""
    n = M.NodeProto()
    n.input.extend(inputs)
    n.output.extend(outputs)
    for key, val in (("op_type", node.op_type), ("name", name), ("domain", node.domain)):
        if val:
            M._set(n, n._fields[key], val)
    n.attribute.extend(node.attribute)
    return n


def _varint(out, u):
    u &= M.wire.MASK64
    while u >= 0x80:
        out.append(u & 0x7F | 0x80)
        u >>= 7
    out.append(u)


def _key(out, f, wt):
    _varint(out, f.number << 3 | wt)


def _scalar_bytes(kind, v):
    if kind == M.FLOAT:
        return struct.pack("<f", v)
    if kind == M.DOUBLE:
        return struct.pack("<d", v)
    b = bytearray()
    _varint(b, int(v))
    return bytes(b)


def serialize(msg):
    """Message -> protobuf wire bytes (fields in number order, repeated numbers packed)."""
    out = bytearray()
    _encode(msg, out)
    return bytes(out)


def _encode(msg, out):
    for f in sorted(msg._fields.values(), key=lambda f: f.number):
        if f.repeated:
            vals = getattr(msg, f.name)
            if not len(vals):
                continue
            if f.kind == M.MSG:
                for v in vals:
                    _key(out, f, 2)
                    body = serialize(v)
                    _varint(out, len(body))
                    out += body
            elif f.kind in (M.STR, M.BYTES, M.RAW):
                for v in vals:
                    b = v.encode() if f.kind == M.STR else bytes(v)
                    _key(out, f, 2)
                    _varint(out, len(b))
                    out += b
            else:
                if f.array:
                    arr = vals.array()
                    if f.kind in (M.FLOAT, M.DOUBLE):
                        body = arr.astype("<f4" if f.kind == M.FLOAT else "<f8").tobytes()
                    else:
                        body = b"".join(_scalar_bytes(f.kind, v) for v in arr.tolist())
                else:
                    body = b"".join(_scalar_bytes(f.kind, v) for v in vals)
                _key(out, f, 2)
                _varint(out, len(body))
                out += body
            continue
        if f.name not in msg._has:
            continue
        v = getattr(msg, f.name)
        if f.kind == M.MSG:
            body = serialize(v)
        elif f.kind in (M.STR, M.BYTES, M.RAW):
            body = v.encode() if f.kind == M.STR else bytes(v)
        else:
            _key(out, f, f.wt)
            out += _scalar_bytes(f.kind, v)
            continue
        _key(out, f, 2)
        _varint(out, len(body))
        out += body
