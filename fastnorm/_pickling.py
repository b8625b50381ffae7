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


def reduce_model(model):
    data = fileformat.dumps(model.source_graph.to_dict(), model.source_graph.weights)
    return rebuild_model, (_FORMAT, data, model.optimized, model.num_threads)


def rebuild_model(fmt, data, optimized, num_threads):
    from fastnorm.errors import FastnormWarning
    from fastnorm.graph import KNOWN_OPS, Graph
    from fastnorm.model import Model
    if fmt != _FORMAT:
        raise ValueError("pickled fastnorm Model: format %r, this fastnorm reads %d" % (fmt, _FORMAT))
    graph_dict, weights = fileformat.loads(data, known_ops=KNOWN_OPS)
    graph = Graph.from_dict(graph_dict, weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FastnormWarning)
        return Model(graph, optimize=optimized, num_threads=num_threads)
