# Included by _C.pyx: bindings of the norm family (declarations in src_c/norm/fn_norm.h).
