"""Lower an optimised Graph to a C plan: op records over numbered buffers, one arena, one nogil call.

core: the Plan (lowering driver, buffers, memory, running); lower_<family>: each op's lowering to
records, one LOWER table per family; rewrites: passes over the record list. Record ids are the C
list's (src_c/plan/fn_plan.h), as fastnorm._C.OP_<NAME>.
"""
from fastnorm.plan.core import ALIGN, LOWER, Plan, WeightCache

__all__ = ["ALIGN", "LOWER", "Plan", "WeightCache"]
