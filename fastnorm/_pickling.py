"""Pickling a Model: the .fnm bytes of its source graph and its settings, nothing else.

pickle.dumps(model) carries what Model.save writes (a safetensors container: weights and the graph as
JSON, no code), whether the graph was optimised, and the model's own num_threads. Unpickling parses
those bytes and optimises the graph again; plans, packed weights and arenas are built lazily by the
first predict, for the shape it sees, in the process that runs it. So a model travels to a
multiprocessing, Dask, Ray or joblib worker the way a file would, and costs its file size on the wire.

The doctor's warnings were shown when the model was first built; a rebuilt copy does not repeat them
in every worker.
"""
import warnings

from fastnorm import fileformat

_FORMAT = 1  # bumped if the tuple below changes; older pickles stay readable by rebuild_model


def reduce_model(model, rebuild):
    """model.__reduce__: rebuild (fastnorm.model.rebuild_model) and its arguments."""
    data = fileformat.dumps(model.source_graph.to_dict(), model.source_graph.weights)
    return rebuild, (_FORMAT, data, model.optimized, model.num_threads)


def graph_from_bytes(fmt, data):
    """The source graph of a pickled Model (rebuild_model's first step)."""
    from fastnorm.graph import KNOWN_OPS, Graph
    if fmt != _FORMAT:
        raise ValueError("pickled fastnorm Model: format %r, this fastnorm reads %d" % (fmt, _FORMAT))
    graph_dict, weights = fileformat.loads(data, known_ops=KNOWN_OPS)
    return Graph.from_dict(graph_dict, weights)


def quietly(build):
    """build() without repeating the doctor's warnings (they were shown when the model was first built)."""
    from fastnorm.errors import FastnormWarning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FastnormWarning)
        return build()
