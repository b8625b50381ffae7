# Included by _C.pyx: bindings of the glue family (declarations in src_c/glue/fn_glue.h).
