"""Protobuf wire format, read-only: varints, fixed32/64, length-delimited fields, every bound checked.

A protobuf message is a flat run of (key, value) records; key = field_number << 3 | wire_type.
  wire type 0: varint (1..10 bytes, 7 bits each, little-endian groups, high bit = more follows)
  wire type 1: 8 bytes little-endian (double, fixed64)
  wire type 2: varint length, then that many bytes (strings, bytes, sub-messages, packed repeated scalars)
  wire type 5: 4 bytes little-endian (float, fixed32)
  wire types 3/4 (groups) are deprecated; no ONNX message uses them and they are refused here.
Every read checks `pos + size <= end` before touching bytes, so a hostile length can never read past the
enclosing message; failures raise WireError carrying the byte offset and the field path.
"""
import struct

import numpy as np

from fastnorm.errors import FormatError

MASK64 = (1 << 64) - 1
MAX_DEPTH = 100          # nested messages (protobuf's own default recursion limit)
_VEC_MIN = 64            # packed varint runs at least this long are decoded with NumPy

_F32 = struct.Struct("<f")
_F64 = struct.Struct("<d")


class WireError(FormatError):
    """Bytes that are not a well-formed protobuf message of the expected type.

    .pos: byte offset in the buffer where decoding failed; .path: the field path from the root message,
    e.g. "ModelProto.graph.node[3].attribute[0]"."""

    def __init__(self, msg, pos=None, path=""):
        self.msg, self.pos, self.path = msg, pos, path
        super().__init__(self._text())

    def _text(self):
        where = []
        if self.path:
            where.append(self.path)
        if self.pos is not None:
            where.append("byte %d" % self.pos)
        return "%s (%s)" % (self.msg, ", ".join(where)) if where else self.msg

    def add_context(self, outer):
        """Prefix the path with an enclosing field (called while the error propagates outwards)."""
        self.path = outer + ("." + self.path if self.path and not self.path.startswith("[") else self.path)
        self.args = (self._text(),)


def read_varint(data, pos, end):
    """-> (value as an unsigned int < 2**64, new pos). At most 10 bytes; never reads at or past `end`."""
    if pos >= end:
        raise WireError("truncated varint", pos)
    b = data[pos]
    if b < 0x80:
        return b, pos + 1
    result = b & 0x7F
    shift = 7
    p = pos + 1
    while True:
        if p >= end:
            raise WireError("truncated varint", pos)
        b = data[p]
        result |= (b & 0x7F) << shift
        p += 1
        if b < 0x80:
            return result & MASK64, p
        shift += 7
        if shift >= 70:
            raise WireError("varint longer than 10 bytes", pos)


def to_int64(u):
    return u - (1 << 64) if u >= (1 << 63) else u


def to_int32(u):
    u &= 0xFFFFFFFF
    return u - (1 << 32) if u >= (1 << 31) else u


def read_fixed32_float(data, pos, end):
    if pos + 4 > end:
        raise WireError("truncated fixed32", pos)
    return _F32.unpack_from(data, pos)[0], pos + 4


def read_fixed64_double(data, pos, end):
    if pos + 8 > end:
        raise WireError("truncated fixed64", pos)
    return _F64.unpack_from(data, pos)[0], pos + 8


def read_length(data, pos, end):
    """A length-delimited field's (start, stop) after its length varint, checked to lie inside [pos, end)."""
    n, p = read_varint(data, pos, end)
    if n > end - p:
        raise WireError("length %d runs past the end of the enclosing message (%d bytes left)" % (n, end - p), pos)
    return p, p + n


def skip_field(data, pos, end, wire_type):
    """Skip the value of an unknown field; -> new pos."""
    if wire_type == 0:
        return read_varint(data, pos, end)[1]
    if wire_type == 1:
        if pos + 8 > end:
            raise WireError("truncated fixed64", pos)
        return pos + 8
    if wire_type == 2:
        return read_length(data, pos, end)[1]
    if wire_type == 5:
        if pos + 4 > end:
            raise WireError("truncated fixed32", pos)
        return pos + 4
    raise WireError("wire type %d is not supported (groups are deprecated; 6 and 7 do not exist)" % wire_type, pos)


def packed_varints(data, start, stop):
    """A packed run of varints in data[start:stop] -> np.uint64 array (values modulo 2**64)."""
    n = stop - start
    if n == 0:
        return np.zeros(0, np.uint64)
    if n < _VEC_MIN:
        out = []
        p = start
        while p < stop:
            v, p = read_varint(data, p, stop)
            out.append(v)
        return np.array(out, np.uint64)
    b = np.frombuffer(data, np.uint8, count=n, offset=start)
    last = b < 0x80
    if not last[-1]:
        raise WireError("truncated varint at the end of a packed field", stop - 1)
    ends = np.flatnonzero(last)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    lens = ends - starts + 1
    if lens.size == n:                      # every value below 128
        return b.astype(np.uint64)
    longest = int(lens.max())
    if longest > 10:
        raise WireError("varint longer than 10 bytes in a packed field",
                        start + int(starts[int(np.argmax(lens > 10))]))
    k = np.arange(n, dtype=np.int64) - np.repeat(starts, lens)   # byte index inside its varint
    parts = (b & 0x7F).astype(np.uint64) << (k * 7).astype(np.uint64)
    return np.add.reduceat(parts, starts)   # bit groups are disjoint, so the sum is the OR


def packed_fixed(data, start, stop, dtype, size):
    n = stop - start
    if n % size:
        raise WireError("packed fixed-width field of %d bytes is not a multiple of %d" % (n, size), start)
    return np.frombuffer(data, dtype, count=n // size, offset=start)
