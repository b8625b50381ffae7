/* pool_nchw_avx512.c: NCHW row pooling kernels (avx512), from the plain C in pool_nchw.h. */
#include "pool_nchw.h"

FN_DEFINE_NCHW_ROW_KERNELS(avx512)
