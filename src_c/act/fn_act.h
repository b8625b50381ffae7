/* fn_act.h: the act family's public C API (included by fastnorm.h) and its per-ISA kernel table. */
#ifndef FASTNORM_FN_ACT_H
#define FASTNORM_FN_ACT_H

#endif
