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
/* Dense tiles (fn_f32_igemm_dense, igemm_simd.h dense_tile) take their rows as a + r*lda and do not
 * prefetch the weight panel (kc <= 160: at most 20 KiB, read by every tile of the call, so it stays in
 * L1/L2). The pointer table was filled with vpmullq and stored to the stack and reloaded per tile,
 * ~10% of a 16-channel tile's samples. 1 thread, 1x1 convs without activation, min of 3 interleaved
 * runs of the dense calls in dense_run's order (ms): 16->96 at 112x112 0.341 -> 0.318, at 32x32
 * 0.0223 -> 0.0201; 32->16 at 112 0.124 -> 0.107; 64->64 at 56 0.160 -> 0.150; 40->240 at 28
 * 0.099 -> 0.091; 144->24 at 56 + residual 0.182 -> 0.175. The same on AVX2 (6-row tiles) measured
 * 2-6% slower on 2-vector panels (64->64, 40->240, 144->40): not there. */
#define IGEMM_DENSE_LDA 1
#include "igemm_simd.h"
