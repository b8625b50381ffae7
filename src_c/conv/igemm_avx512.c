/* igemm_avx512.c: indirect-GEMM micro-kernel, AVX-512F: an MR x (16*NV) tile of zmm registers (igemm_simd.h). */
#include "../simd/vec_avx512.h"
#include "igemm_generic.h"

/* The weight panel is read once per k-step, 4*NR bytes; the first tile to meet a panel streams it
 * from DRAM (ResNet-50's layer4 convs hold 4-9 MB of weights each). Asking for the line 1 KiB
 * ahead costs a load slot (15 of the 24 a k-step's 12 cycles offer are in use) and keeps more
 * misses in flight than the hardware prefetcher alone: ResNet-50 batch 1, 1 thread, medians of
 * 15-20 predicts, alternating builds: 68.7 -> 66.7, 71.1 -> 64.4, 67.0 -> 64.7 ms; ResNet-18 flat
 * (25.3 / 25.0 -> 24.4 / 24.8 ms). 4 KiB ahead measured the same as 1 KiB. */
#define IGEMM_PREFETCH_FLOATS 256
#define IGEMM_FULL_UNMASKED 0 /* a mask costs nothing on AVX-512 */
/* k-loop unrolled twice: the same shapes as igemm_avx2.c's note, 15.0 -> 14.2 ms and 19.8 -> 19.0
 * ms on a busier host (x4 measured no gain over rolled). */
#define IGEMM_KLOOP FN_UNROLL(2)
/* Dense tiles (fn_f32_igemm_dense, igemm_simd.h dense_tile) take their rows as a + r*lda: their
 * pointer table was filled with vpmullq, stored to the stack and reloaded per tile, ~10% of a
 * 16-channel tile's samples. 1 thread, 1x1 convs, min of 8 alternating runs of _C.conv2d_nhwc (ms):
 * 32->16 at 112x112 0.124 -> 0.113, 16->64 at 112 + relu 0.218 -> 0.206, 16->96 at 32x32 0.0231 ->
 * 0.0211, 144->24 at 56 + residual 0.180 -> 0.169, 160->960 at 7 + hardswish 0.086 -> 0.082; in
 * EfficientNet-B0 / MobileNet-v3 the steps of cin <= 160 sum 3.22 -> 3.15 / 2.11 -> 2.02 ms. The
 * same on AVX2 (6-row tiles) measured within noise: not there. Dense tiles keep the weight
 * prefetch: without it those timings (weights hot) gained 1-4% more, but in the models (weights
 * cold) 160->960 at 7x7 lost 5-7%. */
#define IGEMM_DENSE_LDA 1
#include "igemm_simd.h"
