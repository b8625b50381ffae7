"""Fuse relu / clamp into the epilogue of the conv2d, linear or batch_norm before it."""


def fuse_activations(graph):
    g = graph.copy()
    producers = g.producers()
    consumers = g.consumers()
    outputs = {t.name for t in g.outputs}
    removed = set()
    for n in g.nodes:
        if n.op not in ("relu", "clamp"):
            continue
        x = n.inputs[0]
        prev = producers.get(x)
        if (prev is None or prev.op not in ("conv2d", "linear", "batch_norm") or prev.attrs.get("act")
                or len(consumers.get(x, [])) != 1 or x in outputs):
            continue
        if n.op == "relu":
            prev.attrs["act"] = ["relu"]
        else:
            prev.attrs["act"] = ["clamp", n.attrs.get("min"), n.attrs.get("max")]
        prev.outputs = list(n.outputs)
        producers[n.outputs[0]] = prev
        removed.add(n.name)
    g.nodes = [m for m in g.nodes if m.name not in removed]
    return g
