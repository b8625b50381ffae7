"""ONNX frontend: map an ONNX model (opset 1..newest, default domain) onto fastnorm's graph IR.

Shape glue (Shape -> Gather -> Unsqueeze -> Concat -> Reshape and the like) is folded at load time:
constants propagate, and the Shape of an activation is a vector whose first entry is the symbolic
batch and whose other entries are known. A Reshape that keeps the batch and merges the rest becomes
a flatten. Every unsupported op or attribute is collected in one pass and raised together as one
UnsupportedError; malformed models raise FormatError.

The batch: the first dimension of every graph input is treated as a symbolic batch. When the graph
is batch-independent the model runs at any batch, even if the file fixes it (usually to 1; recorded
in graph.notes). When an op depends on the batch size (softmax over axis 0, a Reshape that moves the
batch, ...) and every input fixes its batch, the graph is converted again with that fixed batch.

graph.notes: [(code, node name, message)] for the model doctor.

The modules, each importing only _base and the ones before it:
  _base      error types, the symbolic batch value, small helpers
  parse      path / bytes / ModelProto -> fastnorm.onnxpb's ModelProto (no `import onnx`), external data
  symbolic   shape-vector folding and the constant-producing handlers
  idioms     exporter idioms rewritten on the node list (channels-last LayerNorm, erf-GELU, x*sigmoid(x))
  act conv norm pool shape glue resize    the handlers by family; each exports HANDLERS {op type: handler}
  einsum     Einsum equations that are a permute or a matrix product (permutes + matmul / linear)
  control    If with a condition known at load time: its taken branch inlined into the converter's queue
  converter  the driver: walks the nodes, folds constants, dispatches, builds the Graph
"""
from fastnorm.frontends.onnx.converter import onnx_to_graph

__all__ = ["onnx_to_graph"]
