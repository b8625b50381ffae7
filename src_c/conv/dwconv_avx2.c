/* dwconv_avx2.c: depthwise conv row micro-kernel, AVX2 + FMA, 8 channels a vector (dwconv_simd.h). */
#include "../simd/vec_avx2.h"
#include "dwconv_kernels.h"
/* silu in the band tiles decided once a tile (dwconv_simd.h, DW_SILU_TILE): fused into the band, silu
 * costs what its operations on the two FMA ports cost (fn_silu_fast's reciprocal form, more
 * operations and no division, was slower: 1.9 -> 2.3-2.6 ns per 8 outputs), so the per-vector
 * compare and mask test and fn_silu_fast's clamp are what there is to save. Standalone, 64-byte
 * aligned buffers, AVX2 via tools/cpuid_avx2.c on a Sapphire Rapids Xeon, 1 thread: silu's cost over
 * the conv alone 2.05-2.2 -> 1.7-1.8 ns per 8 outputs (3x3/1 32ch 112x112, 144ch 56x56, 72ch 56x56,
 * 16ch 112x112). In EfficientNet-B0 (per-step minima of 5 alternated runs): 3x3/1 144ch 56x56 0.278 ->
 * 0.259 ms, 32ch 112x112 0.246 -> 0.237; the slide outputs' own test over their NV vectors (4
 * alternated runs more): 5x5/1 1152ch 7x7 0.065 -> 0.061, 14x14 480ch 0.094 -> 0.088, 672ch 0.131 ->
 * 0.127, 5x5/2 144ch 0.132 -> 0.127 (the stride-2 rows wait on memory more than on silu). Applying
 * silu to the tile before's stored outputs between the next tile's band calls (work independent of
 * its FMA chains) did not overlap with them: no faster; between its kernel rows, inside band's loop,
 * the conv lost 30%. */
#define DW_SILU_TILE 1
FN_INLINE V dw_or(V a, V b) { return _mm256_or_ps(a, b); }
FN_INLINE int dw_sign_any(V a) { return _mm256_movemask_ps(a) != 0; }
#include "dwconv_simd.h"
