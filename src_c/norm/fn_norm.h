/* fn_norm.h: the norm family's public C API (included by fastnorm.h) and its per-ISA kernel table. */
#ifndef FASTNORM_FN_NORM_H
#define FASTNORM_FN_NORM_H

#endif
