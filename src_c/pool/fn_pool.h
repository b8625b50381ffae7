/* fn_pool.h: the pool family's public C API (included by fastnorm.h) and its per-ISA kernel table. */
#ifndef FASTNORM_FN_POOL_H
#define FASTNORM_FN_POOL_H

#endif
