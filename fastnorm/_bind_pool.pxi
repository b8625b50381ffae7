# Included by _C.pyx: bindings of the pool family (declarations in src_c/pool/fn_pool.h).
