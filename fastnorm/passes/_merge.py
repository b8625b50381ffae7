"""The rewrite both passes do: a node absorbed into the one that produces its input."""


class Merger:
    def __init__(self, graph, copy=True):
        """copy=False: rewrite `graph` itself (a copy the caller owns: fastnorm.passes.optimize)."""
        self.graph = graph.copy() if copy else graph
        self.producers = self.graph.producers()
        self.consumers = self.graph.consumers()
        self.outputs = {t.name for t in self.graph.outputs}
        self.removed = set()

    def absorbing_producer(self, node, ops):
        """The producer of node's first input, if it is one of `ops`, has no fused activation yet,
        and `node` is the only reader of that value (which is not a graph output)."""
        x = node.inputs[0]
        prev = self.producers.get(x)
        if (prev is None or prev.op not in ops or prev.attrs.get("act")
                or len(self.consumers.get(x, [])) != 1 or x in self.outputs):
            return None
        return prev

    def absorb(self, prev, node):
        prev.outputs = list(node.outputs)
        for v in node.outputs:
            self.producers[v] = prev
        self.removed.add(node.name)

    def result(self):
        self.graph.nodes = [n for n in self.graph.nodes if n.name not in self.removed]
        return self.graph
