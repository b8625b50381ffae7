"""The ONNX messages (onnx.proto, proto2, IR version 14) as light Python objects decoded from the wire.

Attribute names, field numbers and defaults follow onnx.proto, so code written against onnx's generated
classes reads these unchanged: model.graph.node[i].op_type, node.attribute, graph.initializer,
vi.type.tensor_type.shape.dim[k].dim_value, HasField("graph"), WhichOneof("value"), ...
Differences, all deliberate:
  - read-only in spirit (nothing re-serialises them);
  - TensorProto.raw_data is a memoryview into the parsed buffer (no copy of the weights);
  - TensorProto's typed data fields (float_data, int32_data, int64_data, double_data, uint64_data) are
    RepeatedNumbers (a sequence backed by a NumPy array) rather than lists;
  - strings must be valid UTF-8 (protobuf's Python runtime hands back bytes instead; a name that is not text
    is a broken file, so it raises WireError here).
"""
import mmap

import numpy as np

from fastnorm.onnxpb import wire
from fastnorm.onnxpb.wire import WireError, read_length, read_varint, skip_field

# field kinds
I64, I32, U64, ENUM, FLOAT, DOUBLE, STR, BYTES, RAW, MSG = range(10)
_WIRE_TYPE = {I64: 0, I32: 0, U64: 0, ENUM: 0, FLOAT: 5, DOUBLE: 1, STR: 2, BYTES: 2, RAW: 2, MSG: 2}
_DEFAULT = {I64: 0, I32: 0, U64: 0, ENUM: 0, FLOAT: 0.0, DOUBLE: 0.0, STR: "", BYTES: b"", RAW: b""}
_NP = {I64: np.int64, I32: np.int32, U64: np.uint64, FLOAT: np.float32, DOUBLE: np.float64}


class Field:
    __slots__ = ("number", "name", "kind", "repeated", "array", "cls", "enum", "wt", "packable", "oneof")

    def __init__(self, number, name, kind, repeated=False, cls=None, enum=None, array=False):
        self.number, self.name, self.kind, self.repeated = number, name, kind, repeated
        self.cls, self.enum, self.array = cls, enum, array
        self.wt = _WIRE_TYPE[kind]
        self.packable = repeated and kind in (I64, I32, U64, ENUM, FLOAT, DOUBLE)
        self.oneof = None


class RepeatedNumbers:
    """A repeated numeric field held as NumPy chunks; reads like a list, .array() gives the whole array."""
    __slots__ = ("_chunks", "_pending", "_dtype")

    def __init__(self, dtype):
        self._chunks, self._pending, self._dtype = [], [], dtype

    def _flush(self):
        if self._pending:
            self._chunks.append(np.array(self._pending, self._dtype))
            self._pending = []

    def _add(self, chunk):
        self._flush()
        self._chunks.append(chunk)

    def _add_one(self, v):                    # an unpacked value: batched, not one array per value
        self._pending.append(v)

    def array(self):
        self._flush()
        c = self._chunks
        if len(c) != 1:
            a = np.concatenate(c).astype(self._dtype, copy=False) if c else np.zeros(0, self._dtype)
            self._chunks = c = [a]
        return c[0]

    def __len__(self):
        return sum(len(c) for c in self._chunks) + len(self._pending)

    def __bool__(self):
        return len(self) > 0

    def __iter__(self):
        return iter(self.array().tolist())

    def __getitem__(self, i):
        r = self.array()[i]
        return r.tolist()

    def __eq__(self, other):
        try:
            return list(self) == list(other)
        except TypeError:
            return NotImplemented

    def __repr__(self):
        return repr(list(self))


class Message:
    """Base of every decoded message. Unset fields read as their defaults (an empty message for a message
    field, [] for a repeated one) without becoming set, as in protobuf."""
    __slots__ = ("_has",)
    _fields = {}
    _by_num = {}
    _oneofs = {}

    def __init__(self):
        self._has = set()

    def __getattr__(self, name):                 # only reached for slots never assigned
        f = type(self)._fields.get(name)
        if f is None:
            raise AttributeError("%s has no field %r" % (type(self).__name__, name))
        if f.repeated:
            v = RepeatedNumbers(_NP[f.kind]) if f.array else []
            object.__setattr__(self, name, v)
            return v
        if f.kind == MSG:
            return f.cls()
        return _DEFAULT[f.kind]

    def HasField(self, name):
        if name in self._oneofs:
            return self.WhichOneof(name) is not None
        f = self._fields.get(name)
        if f is None or f.repeated:
            raise ValueError("%s has no singular field %r" % (type(self).__name__, name))
        return name in self._has

    def WhichOneof(self, group):
        members = self._oneofs.get(group)
        if members is None:
            raise ValueError("%s has no oneof %r" % (type(self).__name__, group))
        for m in members:
            if m in self._has:
                return m
        return None

    def ListFields(self):
        out = []
        for f in self._fields.values():
            if f.repeated:
                v = getattr(self, f.name)
                if len(v):
                    out.append((f, v))
            elif f.name in self._has:
                out.append((f, getattr(self, f.name)))
        return out

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__, ", ".join("%s=%r" % (f.name, v) for f, v in self.ListFields()))


_REGISTRY = {}


def _message(name, fields, oneofs=None, **consts):
    fl = [Field(*f[:3], **f[3]) if len(f) > 3 else Field(*f) for f in fields]
    ns = {"__slots__": tuple(f.name for f in fl), "_fields": {f.name: f for f in fl},
          "_by_num": {f.number: f for f in fl}, "_oneofs": dict(oneofs or {}), "__qualname__": name}
    for group, members in (oneofs or {}).items():
        for m in members:
            ns["_fields"][m].oneof = members
    ns.update(consts)
    cls = type(name.rsplit(".", 1)[-1], (Message,), ns)
    cls.__module__ = __name__
    _REGISTRY[name] = cls
    return cls


R = {"repeated": True}
RA = {"repeated": True, "array": True}


def _m(cls_name, repeated=False):
    return {"cls": cls_name, "repeated": repeated}


DATA_TYPES = dict(UNDEFINED=0, FLOAT=1, UINT8=2, INT8=3, UINT16=4, INT16=5, INT32=6, INT64=7, STRING=8, BOOL=9,
                  FLOAT16=10, DOUBLE=11, UINT32=12, UINT64=13, COMPLEX64=14, COMPLEX128=15, BFLOAT16=16,
                  FLOAT8E4M3FN=17, FLOAT8E4M3FNUZ=18, FLOAT8E5M2=19, FLOAT8E5M2FNUZ=20, UINT4=21, INT4=22,
                  FLOAT4E2M1=23, FLOAT8E8M0=24, UINT2=25, INT2=26, FLOAT6E2M3=27, FLOAT6E3M2=28)
ATTRIBUTE_TYPES = dict(UNDEFINED=0, FLOAT=1, INT=2, STRING=3, TENSOR=4, GRAPH=5, FLOATS=6, INTS=7, STRINGS=8,
                       TENSORS=9, GRAPHS=10, SPARSE_TENSOR=11, SPARSE_TENSORS=12, TYPE_PROTO=13,
                       TYPE_PROTOS=14)

StringStringEntryProto = _message("StringStringEntryProto", [(1, "key", STR), (2, "value", STR)])
OperatorSetIdProto = _message("OperatorSetIdProto", [(1, "domain", STR), (2, "version", I64)])
TensorProto_Segment = _message("TensorProto.Segment", [(1, "begin", I64), (2, "end", I64)])
TensorProto = _message("TensorProto", [
    (1, "dims", I64, R), (2, "data_type", I32), (3, "segment", MSG, _m("TensorProto.Segment")),
    (4, "float_data", FLOAT, RA), (5, "int32_data", I32, RA), (6, "string_data", BYTES, R),
    (7, "int64_data", I64, RA), (8, "name", STR), (12, "doc_string", STR), (9, "raw_data", RAW),
    (13, "external_data", MSG, _m("StringStringEntryProto", True)),
    (14, "data_location", ENUM, {"enum": frozenset((0, 1))}),
    (10, "double_data", DOUBLE, RA), (11, "uint64_data", U64, RA),
    (16, "metadata_props", MSG, _m("StringStringEntryProto", True))],
    Segment=TensorProto_Segment, DEFAULT=0, EXTERNAL=1, **DATA_TYPES)
SparseTensorProto = _message("SparseTensorProto", [
    (1, "values", MSG, _m("TensorProto")), (2, "indices", MSG, _m("TensorProto")), (3, "dims", I64, R)])
TensorShapeProto_Dimension = _message("TensorShapeProto.Dimension", [
    (1, "dim_value", I64), (2, "dim_param", STR), (3, "denotation", STR)], {"value": ("dim_value", "dim_param")})
TensorShapeProto = _message("TensorShapeProto", [(1, "dim", MSG, _m("TensorShapeProto.Dimension", True))],
                            Dimension=TensorShapeProto_Dimension)
TypeProto_Tensor = _message("TypeProto.Tensor", [(1, "elem_type", I32), (2, "shape", MSG, _m("TensorShapeProto"))])
TypeProto_Sequence = _message("TypeProto.Sequence", [(1, "elem_type", MSG, _m("TypeProto"))])
TypeProto_Map = _message("TypeProto.Map", [(1, "key_type", I32), (2, "value_type", MSG, _m("TypeProto"))])
TypeProto_Optional = _message("TypeProto.Optional", [(1, "elem_type", MSG, _m("TypeProto"))])
TypeProto_SparseTensor = _message("TypeProto.SparseTensor", [
    (1, "elem_type", I32), (2, "shape", MSG, _m("TensorShapeProto"))])
TypeProto_Opaque = _message("TypeProto.Opaque", [(1, "domain", STR), (2, "name", STR)])
TypeProto = _message("TypeProto", [
    (1, "tensor_type", MSG, _m("TypeProto.Tensor")), (4, "sequence_type", MSG, _m("TypeProto.Sequence")),
    (5, "map_type", MSG, _m("TypeProto.Map")), (9, "optional_type", MSG, _m("TypeProto.Optional")),
    (8, "sparse_tensor_type", MSG, _m("TypeProto.SparseTensor")), (7, "opaque_type", MSG, _m("TypeProto.Opaque")),
    (6, "denotation", STR)],
    {"value": ("tensor_type", "sequence_type", "map_type", "optional_type", "sparse_tensor_type", "opaque_type")},
    Tensor=TypeProto_Tensor, Sequence=TypeProto_Sequence, Map=TypeProto_Map, Optional=TypeProto_Optional,
    SparseTensor=TypeProto_SparseTensor, Opaque=TypeProto_Opaque)
ValueInfoProto = _message("ValueInfoProto", [
    (1, "name", STR), (2, "type", MSG, _m("TypeProto")), (3, "doc_string", STR),
    (4, "metadata_props", MSG, _m("StringStringEntryProto", True))])
AttributeProto = _message("AttributeProto", [
    (1, "name", STR), (21, "ref_attr_name", STR), (13, "doc_string", STR),
    (20, "type", ENUM, {"enum": frozenset(ATTRIBUTE_TYPES.values())}),
    (2, "f", FLOAT), (3, "i", I64), (4, "s", BYTES), (5, "t", MSG, _m("TensorProto")), (6, "g", MSG, _m("GraphProto")),
    (22, "sparse_tensor", MSG, _m("SparseTensorProto")), (14, "tp", MSG, _m("TypeProto")),
    (7, "floats", FLOAT, R), (8, "ints", I64, R), (9, "strings", BYTES, R),
    (10, "tensors", MSG, _m("TensorProto", True)), (11, "graphs", MSG, _m("GraphProto", True)),
    (23, "sparse_tensors", MSG, _m("SparseTensorProto", True)), (15, "type_protos", MSG, _m("TypeProto", True))],
    **ATTRIBUTE_TYPES)
IntIntListEntryProto = _message("IntIntListEntryProto", [(1, "key", I64), (2, "value", I64, R)])
SimpleShardedDimProto = _message("SimpleShardedDimProto", [
    (1, "dim_value", I64), (2, "dim_param", STR), (3, "num_shards", I64)], {"dim": ("dim_value", "dim_param")})
ShardedDimProto = _message("ShardedDimProto", [
    (1, "axis", I64), (2, "simple_sharding", MSG, _m("SimpleShardedDimProto", True))])
ShardingSpecProto = _message("ShardingSpecProto", [
    (1, "tensor_name", STR), (2, "device", I64, R),
    (3, "index_to_device_group_map", MSG, _m("IntIntListEntryProto", True)),
    (4, "sharded_dim", MSG, _m("ShardedDimProto", True))])
NodeDeviceConfigurationProto = _message("NodeDeviceConfigurationProto", [
    (1, "configuration_id", STR), (2, "sharding_spec", MSG, _m("ShardingSpecProto", True)),
    (3, "pipeline_stage", I32)])
NodeProto = _message("NodeProto", [
    (1, "input", STR, R), (2, "output", STR, R), (3, "name", STR), (4, "op_type", STR), (7, "domain", STR),
    (8, "overload", STR), (5, "attribute", MSG, _m("AttributeProto", True)), (6, "doc_string", STR),
    (9, "metadata_props", MSG, _m("StringStringEntryProto", True)),
    (10, "device_configurations", MSG, _m("NodeDeviceConfigurationProto", True))])
TensorAnnotation = _message("TensorAnnotation", [
    (1, "tensor_name", STR), (2, "quant_parameter_tensor_names", MSG, _m("StringStringEntryProto", True))])
GraphProto = _message("GraphProto", [
    (1, "node", MSG, _m("NodeProto", True)), (2, "name", STR), (5, "initializer", MSG, _m("TensorProto", True)),
    (15, "sparse_initializer", MSG, _m("SparseTensorProto", True)), (10, "doc_string", STR),
    (11, "input", MSG, _m("ValueInfoProto", True)), (12, "output", MSG, _m("ValueInfoProto", True)),
    (13, "value_info", MSG, _m("ValueInfoProto", True)),
    (14, "quantization_annotation", MSG, _m("TensorAnnotation", True)),
    (16, "metadata_props", MSG, _m("StringStringEntryProto", True))])
TrainingInfoProto = _message("TrainingInfoProto", [
    (1, "initialization", MSG, _m("GraphProto")), (2, "algorithm", MSG, _m("GraphProto")),
    (3, "initialization_binding", MSG, _m("StringStringEntryProto", True)),
    (4, "update_binding", MSG, _m("StringStringEntryProto", True))])
FunctionProto = _message("FunctionProto", [
    (1, "name", STR), (4, "input", STR, R), (5, "output", STR, R), (6, "attribute", STR, R),
    (11, "attribute_proto", MSG, _m("AttributeProto", True)), (7, "node", MSG, _m("NodeProto", True)),
    (8, "doc_string", STR), (9, "opset_import", MSG, _m("OperatorSetIdProto", True)), (10, "domain", STR),
    (13, "overload", STR), (12, "value_info", MSG, _m("ValueInfoProto", True)),
    (14, "metadata_props", MSG, _m("StringStringEntryProto", True))])
DeviceConfigurationProto = _message("DeviceConfigurationProto", [
    (1, "name", STR), (2, "num_devices", I32), (3, "device", STR, R)])
ModelProto = _message("ModelProto", [
    (1, "ir_version", I64), (8, "opset_import", MSG, _m("OperatorSetIdProto", True)),
    (2, "producer_name", STR), (3, "producer_version", STR), (4, "domain", STR), (5, "model_version", I64),
    (6, "doc_string", STR), (7, "graph", MSG, _m("GraphProto")),
    (14, "metadata_props", MSG, _m("StringStringEntryProto", True)),
    (20, "training_info", MSG, _m("TrainingInfoProto", True)), (25, "functions", MSG, _m("FunctionProto", True)),
    (26, "configuration", MSG, _m("DeviceConfigurationProto", True))])

for _cls in _REGISTRY.values():
    for _f in _cls._fields.values():
        if _f.kind == MSG:
            _f.cls = _REGISTRY[_f.cls]
del _cls, _f


# ---------------------------------------------------------------------------------------------- decoding

def _scalar_from_varint(kind, u):
    if kind == I64:
        return wire.to_int64(u)
    if kind == U64:
        return u
    return wire.to_int32(u)           # I32 and ENUM (enums are int32 on the wire)


def _packed_array(kind, data, start, stop):
    if kind == FLOAT:
        return wire.packed_fixed(data, start, stop, "<f4", 4)
    if kind == DOUBLE:
        return wire.packed_fixed(data, start, stop, "<f8", 8)
    return _ints_from_u64(kind, wire.packed_varints(data, start, stop))


# a run of unpacked varints longer than this is read in numpy chunks (_varint_pairs)
_RUN_SCALAR = 32


def _varint_pairs(data, pos, end, key):
    """The rest of a run of [key byte][varint] records, data[pos] being a key: -> (np.uint64 values, the
    position after the run's last record). Reads chunks of doubling size, so a run costs linear time
    (10**6 records: ~0.1 s, not the ~10 s of one Python call per value) and a short run one small chunk.
    A record whose key is not `key` (or not one byte) ends the run; a record cut by `end` is left for the
    caller's scalar reader, which reports the truncation."""
    values = []
    size = 4096
    while pos < end:
        n = min(size, end - pos)
        b = np.frombuffer(data, np.uint8, count=n, offset=pos)
        ends = np.flatnonzero(b < 0x80)
        m = len(ends) // 2 * 2
        if m == 0:
            break
        ke, ve = ends[0:m:2], ends[1:m:2]     # where each record's key and value end
        ks = np.empty_like(ke)
        ks[0] = 0
        ks[1:] = ve[:-1] + 1                  # where each record starts
        bad = np.flatnonzero((ke != ks) | (b[ke] != key))
        p = int(bad[0]) if bad.size else len(ke)
        if p == 0:
            break
        stop = int(ve[p - 1]) + 1
        vb = np.delete(b[:stop], ke[:p]).tobytes()   # the values' bytes: a packed varint run
        values.append(wire.packed_varints(vb, 0, len(vb)))
        pos += stop
        if bad.size or n < size:
            break
        size *= 2
    return (np.concatenate(values) if values else np.zeros(0, np.uint64)), pos


def _ints_from_u64(kind, u):
    if kind == I64:
        return u.view(np.int64)
    if kind == U64:
        return u
    return (u & np.uint64(0xFFFFFFFF)).astype(np.uint32).view(np.int32)


def decode(obj, data, mv, pos, end, depth):
    """Decode data[pos:end] into message `obj` (merging into what it already holds, as protobuf does)."""
    if depth > wire.MAX_DEPTH:
        raise WireError("messages nested more than %d deep" % wire.MAX_DEPTH, pos)
    by_num = obj._by_num
    has = obj._has
    while pos < end:
        kpos = pos
        b = data[pos]
        if b < 0x80:
            key = b
            pos += 1
        else:
            key, pos = read_varint(data, pos, end)
        num, wt = key >> 3, key & 7
        if num == 0 or key >> 32:
            raise WireError("invalid field number %d" % num, kpos)
        f = by_num.get(num)
        if f is None or (wt != f.wt and not (wt == 2 and f.packable)):
            pos = skip_field(data, pos, end, wt)     # unknown field, or a known one with another wire type
            continue
        kind, name = f.kind, f.name
        if kind == MSG:
            start, pos = read_length(data, pos, end)
            if f.repeated:
                lst = getattr(obj, name)
                sub = f.cls()
                lst.append(sub)
                label = "%s[%d]" % (name, len(lst) - 1)
            else:
                sub = getattr(obj, name) if name in has else f.cls()
                label = name
            try:
                decode(sub, data, mv, start, pos, depth + 1)
            except WireError as e:
                e.add_context(label)
                raise
            if not f.repeated:
                _set(obj, f, sub)
            continue
        if wt == 2 and kind not in (STR, BYTES, RAW):          # packed repeated numbers
            start, pos = read_length(data, pos, end)
            arr = _packed_array(kind, data, start, pos)
            if f.array:
                getattr(obj, name)._add(arr)
            else:
                getattr(obj, name).extend(arr.tolist())
            continue
        if f.repeated and kind != ENUM and wt != 2:
            pos = _unpacked_run(obj, f, data, kpos, pos, end)
            continue
        if wt == 0:
            u, pos = read_varint(data, pos, end)
            v = _scalar_from_varint(kind, u)
            if kind == ENUM and v not in f.enum:
                continue                       # proto2 closed enum: an unknown value is an unknown field
        elif wt == 5:
            v, pos = wire.read_fixed32_float(data, pos, end)
        elif wt == 1:
            v, pos = wire.read_fixed64_double(data, pos, end)
        else:
            start, pos = read_length(data, pos, end)
            if kind == STR:
                try:
                    v = data[start:pos].decode("utf-8")
                except UnicodeDecodeError:
                    raise WireError("field %s is not valid UTF-8" % name, start) from None
            elif kind == BYTES:
                v = data[start:pos]
            else:
                v = mv[start:pos]
        if f.repeated:
            lst = getattr(obj, name)
            if f.array:
                lst._add_one(v)
            else:
                lst.append(v)
        else:
            _set(obj, f, v)
    return obj


def _unpacked_run(obj, f, data, kpos, pos, end):
    """A repeated number written unpacked (one key per value, proto2's default): read the whole run of
    consecutive same-key records in one tight loop."""
    key = data[kpos:pos]
    klen = len(key)
    kind = f.kind
    vals = []
    append = vals.append
    while True:
        if kind == FLOAT:
            v, pos = wire.read_fixed32_float(data, pos, end)
        elif kind == DOUBLE:
            v, pos = wire.read_fixed64_double(data, pos, end)
        else:
            if pos < end and data[pos] < 0x80:
                v = data[pos]
                pos += 1
            else:
                u, pos = read_varint(data, pos, end)
                v = _scalar_from_varint(kind, u)
        append(v)
        if pos + klen <= end and data.find(key, pos, pos + klen) == pos:    # bytes or mmap
            if klen == 1 and kind not in (FLOAT, DOUBLE) and len(vals) >= _RUN_SCALAR:
                more, pos = _varint_pairs(data, pos, end, key[0])
                vals.extend(_ints_from_u64(kind, more).tolist())
                break
            pos += klen
            continue
        break
    lst = getattr(obj, f.name)
    if f.array:
        lst._pending.extend(vals)
    else:
        lst.extend(vals)
    return pos


def _set(obj, f, v):
    object.__setattr__(obj, f.name, v)
    obj._has.add(f.name)
    if f.oneof:
        for other in f.oneof:
            if other != f.name and other in obj._has:
                obj._has.discard(other)
                object.__delattr__(obj, other)


def parse(cls, data):
    """Decode a whole buffer as message class `cls`. data: bytes or a read-only mmap.mmap of a file
    (fastnorm.frontends.onnx.parse; bytearray/memoryview are copied first). raw_data fields are views
    of data: onnxpb.to_array copies what it returns out of a mapping."""
    if not isinstance(data, (bytes, mmap.mmap)):
        data = bytes(data)
    obj = cls()
    try:
        decode(obj, data, memoryview(data), 0, len(data), 0)
    except WireError as e:
        e.add_context(cls.__name__)
        raise
    except RecursionError:
        raise WireError("messages nested too deep for the interpreter's stack", None, cls.__name__) from None
    return obj
