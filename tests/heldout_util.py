"""Shared by the held-out set tests (tests/test_zoo_heldout5.py, test_zoo_heldout6.py): torch's outputs
at batch 1 and 3 for a model, and a fastnorm model checked against them under each ISA."""
from util import assert_model_close, assert_ran

from fastnorm.testing import force_isa


def torch_feeds(net, shape, name, seed=None):
    """[(x, [reference outputs as NumPy])] at batch 1 and 3, inputs seeded by the model's name (or seed)."""
    import torch
    gen = torch.Generator().manual_seed(len(name) if seed is None else seed)
    feeds = []
    for n in (1, 3):
        x = torch.randn((n,) + tuple(shape), generator=gen)
        with torch.no_grad():
            ref = net(x)
        feeds.append((x, [r.numpy() for r in (ref if isinstance(ref, tuple) else (ref,))]))
    return feeds


def check_model(name, route, model, feeds, dynamic, isas):
    """model's outputs against feeds' under each ISA in isas (batch 3 only where the model's batch is
    dynamic); dynamic (None: not checked): whether the model's input batch should be dynamic."""
    if dynamic is not None:
        assert (model.inputs[0].shape[0] is None) == dynamic, (name, route, model.inputs[0].shape)
    for isa in isas:
        with force_isa(isa):
            for x, refs in feeds:
                if len(x) > 1 and model.inputs[0].shape[0] is not None:
                    continue
                outs = model.run({model.inputs[0].name: x.numpy()})
                assert_ran(isa)
                assert len(model.outputs) == len(refs), (name, route, len(model.outputs), len(refs))
                for i, (t, want) in enumerate(zip(model.outputs, refs)):
                    assert_model_close(outs[t.name], want, "%s output %d via %s, batch %d (%s)"
                                       % (name, i, route, len(x), isa))
