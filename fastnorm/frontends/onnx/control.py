"""Handler: If whose condition is known at load time (a constant, or shape arithmetic that folds to one):
the taken branch is inlined into the outer graph.

The branch's nodes join the converter's queue right after the If, so they are converted (or folded) like
the outer graph's own; the names they read from enclosing scopes resolve to the outer values, their own
initializers join the constants, a local name that is already taken in the model is renamed, and each
If output is an Identity of its branch output. A nested If inside the branch is reached by the same path
(OnnxNode.scope carries the branch's names down to its subgraphs). A condition computed from the input stays
refused; one that depends on the batch size converts with the declared batch (BatchDep).
"""
import numpy as np

from fastnorm import onnxpb
from fastnorm.errors import FormatError, UnsupportedError
from fastnorm.frontends.onnx._base import (BATCH, UNKNOWN, BatchDep, Malformed, OnnxNode, Unsupported, is_sym)
from fastnorm.frontends.onnx.idioms import rewrite_patterns

_GRAPH, _GRAPHS = onnxpb.AttributeProto.GRAPH, onnxpb.AttributeProto.GRAPHS


def graph_reads(g):
    """The names GraphProto g reads from its enclosing scopes, in first-read order: read by its nodes
    (or by their own subgraphs) or listed as its outputs, and defined in g by no input, initializer
    or node."""
    defined = {vi.name for vi in g.input} | {t.name for t in g.initializer}
    defined.update(sp.values.name for sp in g.sparse_initializer)
    for n in g.node:
        defined.update(v for v in n.output if v)
    out = {}
    for n in g.node:
        for v in node_reads(n, nested=True):
            if v and v not in defined:
                out.setdefault(v)
    for o in g.output:
        if o.name and o.name not in defined:
            out.setdefault(o.name)
    return list(out)


def subgraph_reads(node, only=None):
    """The outer names the graph attributes of NodeProto node read (an If's branches, a Loop's body);
    only: the one attribute to look at (the branch an If takes)."""
    out = []
    for a in node.attribute:
        if only is not None and a.name != only:
            continue
        if a.type == _GRAPH and a.HasField("g"):     # (by type, as the handler reads the attribute)
            out.extend(graph_reads(a.g))
        elif a.type == _GRAPHS:
            for g in a.graphs:
                out.extend(graph_reads(g))
    return out


def node_reads(node, nested=False, cond=None):
    """The names NodeProto node reads: its inputs, and for an If (every op when nested: a name read
    inside a subgraph is read by it) the names its branches read from the node's scope; cond: the If's
    condition when already known (then only the branch it takes)."""
    if node.op_type == "If" or (nested and node.attribute):
        only = None if cond is None or node.op_type != "If" else ("then_branch" if cond else "else_branch")
        return [v for v in node.input if v] + subgraph_reads(node, only)
    return [v for v in node.input if v]


def known_cond(node, consts, p):
    """An If's condition when the file states it (an initializer in consts, or the tensor of p, the
    Constant node writing it) as a bool, else None: the branch not taken then reads nothing (its
    producers are not converted)."""
    k = consts.get(node.input[0]) if node.input else None
    if k is None and p is not None and p.op_type == "Constant" and len(p.attribute) == 1 \
            and p.attribute[0].name == "value" and p.attribute[0].type == onnxpb.AttributeProto.TENSOR:
        try:
            k = onnxpb.to_array(p.attribute[0].t)
        except (FormatError, UnsupportedError):
            return None
    if k is None or is_sym(k) or np.size(k) != 1 or np.asarray(k).dtype != np.bool_:
        return None
    return bool(np.asarray(k).reshape(-1)[0])


def op_if(c, node, attrs):
    cond = c.inp(node, 0)
    if not cond:
        raise Malformed("input 0 (cond) is required")
    if c.is_act(cond):
        raise Unsupported("If with a condition computed from the input (%r)" % cond)
    k = c.const[cond]
    if is_sym(k) and any(e is BATCH or e is UNKNOWN for e in k.reshape(-1)):
        raise BatchDep("If with a condition computed from the batch size (%r)" % cond)
    k = np.asarray(k)
    if k.size != 1:
        raise Malformed("cond %r has %d elements (one bool is expected)" % (cond, k.size))
    v = k.reshape(-1)[0]
    # a bool (an integer: shape arithmetic folded symbolically keeps int64 through a Cast to bool)
    if isinstance(v, (bool, np.bool_)) or (isinstance(v, (int, np.integer)) and k.dtype.kind in "iuO"):
        v = bool(v)
    else:
        raise Malformed("cond %r of dtype %s (a bool is expected)" % (cond, k.dtype))
    taken = "then_branch" if v else "else_branch"
    g = attrs.get(taken)
    if not isinstance(g, onnxpb.GraphProto):
        raise Malformed("attribute %r is missing or not a graph (the condition is %s)" % (taken, v))
    _inline(c, node, g, taken)


def live_nodes(outs, producer, reads):
    """Indices of the nodes the values outs need, in increasing order: producer maps a value to the index
    of its node, reads(i) lists what node i reads."""
    need, live, seen = list(outs), set(), set()
    while need:
        v = need.pop()
        if v in seen:
            continue
        seen.add(v)
        i = producer.get(v)
        if i is not None and i not in live:
            live.add(i)
            need.extend(reads(i))
    return sorted(live)


def _inline(c, node, g, which):
    outs = [o.name for o in g.output]
    if len(g.input):
        raise Malformed("the %s declares %d inputs (an If branch takes none)" % (which, len(g.input)))
    if len(outs) != len(node.output):
        raise Malformed("the %s has %d outputs, the If %d" % (which, len(outs), len(node.output)))
    # the branch's own names: initializers and what its nodes write, each once
    local = {}
    inits = [(t.name, t, False) for t in g.initializer] + [(sp.values.name, sp, True) for sp in g.sparse_initializer]
    for name, _, _ in inits:
        if not name or name in local:
            raise Malformed("the %s: initializer %r is unnamed or defined twice" % (which, name))
        local[name] = None
    producer = {}
    for i, n in enumerate(g.node):
        for v in n.output:
            if v:
                if v in local:
                    raise Malformed("the %s: value %r is written twice (by node %r)"
                                    % (which, v, n.name or "#%d" % i))
                local[v] = None
                producer[v] = i
    scope = node.scope

    def outer(v):
        return scope.get(v, v)

    def visible(v):     # a value of an enclosing scope: the main graph's or an enclosing branch's
        return v in scope or v in c.main_names
    for name, _, _ in inits:
        if visible(name):
            # which one the branch reads is ambiguous: onnxruntime and onnx's reference evaluator read the
            # outer one, scoping would say the branch's
            raise Malformed("the %s's initializer %r has the name of an outer value (names must be unique)"
                            % (which, name))
    for i, o in enumerate(outs):
        if not o:
            raise Malformed("the %s: output %d has no name" % (which, i))
        if o not in local and outer(o) not in c.const and outer(o) not in c.shape and outer(o) not in c.poisoned:
            raise Malformed("the %s: output %r is written by no node of the branch (nor is it an initializer "
                            "or an outer value)" % (which, o))
    # the live nodes (the branch's outputs' producers and theirs), in order, checked topological
    order = live_nodes(outs, producer, lambda i: node_reads(g.node[i]))
    for i in order:
        for v in node_reads(g.node[i]):
            j = producer.get(v, -1)
            if j >= i and visible(v):
                raise Malformed("the %s: node %r reads %r before node %r of the branch writes that outer "
                                "value's name again (names must be unique)"
                                % (which, g.node[i].name or "#%d" % i, v, g.node[j].name or "#%d" % j))
            if j >= i:
                raise Malformed("the %s: node %r reads %r, which is written later (nodes are not in "
                                "topological order)" % (which, g.node[i].name or "#%d" % i, v))
    # rename the local names the model already uses (an outer value a branch node writes again, a name
    # an earlier inlined branch took, one of fastnorm's own)
    rename = {}
    for v in local:
        if v in c.names or v in c.const or v in c.shape or v in c.poisoned or v in c._used:
            rename[v] = c.uniq("%s::%s" % (v, node._fn_name))
        else:
            c.names.add(v)
            rename[v] = v

    def resolve(v):
        return rename[v] if v in rename else outer(v)
    for name, t, sparse in inits:
        try:
            a = onnxpb.sparse_to_dense(t) if sparse else onnxpb.to_array(t)
        except UnsupportedError as e:
            raise Unsupported("the %s's initializer %r: %s" % (which, name, e)) from None
        except Exception as e:  # noqa: BLE001 - an unreadable tensor is the file's fault
            raise FormatError("%s: the %s's initializer %r cannot be read: %s" % (c.where(node), which, name, e)) \
                from None
        c.const[rename[name]] = np.asarray(a)
    # a nested subgraph resolves the names it reads through the branch's scope: every enclosing
    # branch's local, the innermost first
    child = dict(scope)
    child.update(rename)
    nodes = []
    for i in order:
        n = g.node[i]
        proto = onnxpb.copy_node(n, [resolve(v) if v else "" for v in n.input],
                                 [rename[v] if v else "" for v in n.output], n.name)
        on = OnnxNode(proto, i, "%s/%s" % (node._fn_name, n.name or "%s_%d" % (n.op_type, i)))
        on.scope = child
        nodes.append(on)
    kept = {resolve(o) for o in outs}
    for on in nodes:
        if on.op_type == "If":
            kept.update(child.get(v, v) for v in subgraph_reads(on.proto))
    try:
        nodes = rewrite_patterns(nodes, kept, c.const)
    except Exception:  # noqa: BLE001 - the idioms are optional rewrites: the nodes convert one by one
        pass
    for i, (o, bo) in enumerate(zip(node.output, outs)):
        if o:
            proto = onnxpb.make_node("Identity", [resolve(bo)], [o])
            nodes.append(OnnxNode(proto, i, "%s/%s:%d" % (node._fn_name, which, i)))
    for on in nodes:
        c._used.update(v for v in on.input if v)
    c.inline(nodes)


# ONNX op type -> handler(converter, node, attrs)
HANDLERS = {
    "If": op_if,
}
