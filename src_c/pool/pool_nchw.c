/* pool_nchw.c: NCHW row pooling kernels (scalar), from the plain C in pool_nchw.h. */
#include "pool_nchw.h"

FN_DEFINE_NCHW_ROW_KERNELS(scalar)
