/* fn_glue.h: the glue family's public C API (included by fastnorm.h) and its per-ISA kernel table. */
#ifndef FASTNORM_FN_GLUE_H
#define FASTNORM_FN_GLUE_H

#endif
