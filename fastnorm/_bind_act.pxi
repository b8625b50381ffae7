# Included by _C.pyx: bindings of the act family (declarations in src_c/act/fn_act.h).
