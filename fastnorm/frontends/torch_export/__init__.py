"""PyTorch frontend on torch.export: trace with real shapes, decompose to ATen, map onto fastnorm's ops.

    graph = export_to_graph(module, example_input)

torch.export runs the module's Python forward once on the example's shapes, so size-dependent control
flow (TF-"same" padding computed from the input size, `torch._assert(x.ndim == 4)`) specialises and
vanishes; every module, subclass or functional call arrives as a small set of ATen ops. The batch is
dynamic (torch.export.Dim) where export and the graph allow it; otherwise the model is traced again with
the example's batch fixed, and a doctor note says so. Subgraphs computed only from parameters, buffers and
constants (weight standardisation, a scale reshaped (C,) -> (1, C, 1, 1), a transposed linear weight) are
evaluated with torch here, at import, into constant weights.

The ATen -> graph mapping lives in .aten (one handler per op); this module traces and drives it.
"""
import copy
import warnings


from fastnorm.errors import UnsupportedError
from fastnorm.frontends.torch import check_torch_args
from fastnorm.frontends.torch_export.aten import Builder, BatchDependent, keep_ops


class ExportFailed(UnsupportedError):
    """torch.export itself refused the module (the message says why)."""


def _first_line(e):
    s = str(e).strip().splitlines()
    return "%s: %s" % (type(e).__name__, s[0] if s else "")


def _export(torch, module, x, dynamic):
    """torch.export.export then the core-ATen decompositions, keeping the ops fastnorm runs whole."""
    shapes = ({0: torch.export.Dim("batch")},) if dynamic else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ep = torch.export.export(module, (x,), dynamic_shapes=shapes)
        table = torch.export.default_decompositions()
        for op in keep_ops(torch):
            table.pop(op, None)
        return ep.run_decompositions(table)


def export_to_graph(module, example_input, input_name="input", output_name="output"):
    """Export `module` (an nn.Module) on `example_input` and return its fastnorm Graph (with notes)."""
    try:
        import torch
        import torch.export  # noqa: F401
    except ImportError as e:  # pragma: no cover - exercised only without torch
        raise ImportError("fastnorm.from_torch needs PyTorch: pip install torch") from e
    x = check_torch_args(torch, module, example_input)
    x = x.detach().to(torch.float32)
    m = module
    if module.training:
        warnings.warn("from_torch: the module is in training mode; it is exported with eval semantics "
                      "(BatchNorm uses its running statistics, Dropout is off), as inference always does. "
                      "Call module.eval() to silence this.", UserWarning, stacklevel=3)
        m = copy.deepcopy(module).eval()

    notes = []
    why = None
    if x.ndim >= 1 and x.shape[0] >= 1:
        # a batch of 1 would be specialised by export (0/1 specialisation): trace the same values twice
        xd = x if x.shape[0] > 1 else torch.cat([x, x])
        try:
            ep = _export(torch, m, xd, True)
        except Exception as e:  # noqa: BLE001 - export raises many types; the static try reports its own
            why = "torch.export refused a dynamic batch (%s)" % _first_line(e)
        else:
            try:
                return _graph(torch, ep, input_name, output_name, notes)
            except BatchDependent as e:
                why = "the traced graph depends on the batch size (%s)" % e
    try:
        ep = _export(torch, m, x, False)
    except Exception as e:  # noqa: BLE001
        raise ExportFailed("torch.export failed: %s" % _first_line(e)) from None
    if why is not None:
        notes.append(("torch_static_batch", input_name,
                      "batch fixed at %d: %s; predict accepts only this batch size" % (x.shape[0], why)))
    return _graph(torch, ep, input_name, output_name, notes)


def _graph(torch, ep, input_name, output_name, notes):
    b = Builder(torch, ep)
    graph = b.build(input_name, output_name)
    graph.notes = list(notes)
    return graph
