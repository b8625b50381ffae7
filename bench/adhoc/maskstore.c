/* maskstore.c: the cost of an AVX2 tail store, vmaskmovps against plain pieces (src_c/simd/vec_avx2.h
 * vstore_k), and AVX-512VL's k-masked store for comparison: 64 stores to L1-resident lines per pass,
 * the minimum of 7 runs of 20000 passes, ns a store.
 *   gcc -O2 -mavx2 -mfma -mavx512f -mavx512vl bench/adhoc/maskstore.c -o /tmp/maskstore && /tmp/maskstore
 * (the AVX-512 column needs a CPU with AVX-512VL; run with `avx2` as argument to skip it). */
#include <immintrin.h>
#include <stdio.h>
#include <stdint.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+1e-9*t.tv_nsec;}
static const int32_t bits[16]={-1,-1,-1,-1,-1,-1,-1,-1,0,0,0,0,0,0,0,0};
__attribute__((noinline)) void masked(float *buf, size_t n, size_t iters, __m256 v){
  __m256i k=_mm256_loadu_si256((const __m256i*)(bits+8-n));
  for(size_t i=0;i<iters;i++){ for(int j=0;j<64;j++) _mm256_maskstore_ps(buf+j*16,k,v); v=_mm256_add_ps(v,v);}
}
static inline void tail(float *p, __m256 v, size_t n){
  __m128 lo=_mm256_castps256_ps128(v);
  if(n&4){_mm_storeu_ps(p,lo); lo=_mm256_extractf128_ps(v,1); p+=4;}
  if(n&2){_mm_storel_pi((__m64*)p,lo); lo=_mm_movehl_ps(lo,lo); p+=2;}
  if(n&1){_mm_store_ss(p,lo);}
}
/* as vstore_k: n recovered from the prefix mask */
__attribute__((noinline)) void piece(float *buf, size_t n, size_t iters, __m256 v){
  __m256i k=_mm256_loadu_si256((const __m256i*)(bits+8-n));
  for(size_t i=0;i<iters;i++){ for(int j=0;j<64;j++) tail(buf+j*16,v,(size_t)__builtin_ctz(~(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(k)))); v=_mm256_add_ps(v,v);}
}
__attribute__((noinline)) void full(float *buf, size_t n, size_t iters, __m256 v){
  (void)n; for(size_t i=0;i<iters;i++){ for(int j=0;j<64;j++) _mm256_storeu_ps(buf+j*16,v); v=_mm256_add_ps(v,v);}
}
__attribute__((noinline)) void mask512(float *buf, size_t n, size_t iters, __m256 v){
  __mmask8 k=(1u<<n)-1;
  for(size_t i=0;i<iters;i++){ for(int j=0;j<64;j++) _mm256_mask_storeu_ps(buf+j*16,k,v); v=_mm256_add_ps(v,v);}
}
int main(int argc, char **argv){
  const int k512 = !(argc > 1 && argv[1][0] == 'a');
  static float buf[2048] __attribute__((aligned(64)));
  __m256 v=_mm256_set1_ps(1.0f);
  for(size_t n=1;n<8;n++){
    double tm=1e9,tp=1e9,tf=1e9,tk=1e9;
    for(int r=0;r<7;r++){
      double t0=now(); masked(buf,n,20000,v); double t1=now(); piece(buf,n,20000,v); double t2=now(); full(buf,n,20000,v); double t3=now(); if(k512) mask512(buf,n,20000,v); double t4=now();
      if(t1-t0<tm)tm=t1-t0;
      if(t2-t1<tp)tp=t2-t1;
      if(t3-t2<tf)tf=t3-t2;
      if(t4-t3<tk)tk=t4-t3;
    }
    double s=20000*64; printf("n=%zu ns/store: vmaskmov %.2f piecewise %.2f full %.2f avx512vl-k %.2f\n",n,tm/s*1e9,tp/s*1e9,tf/s*1e9,tk/s*1e9);
  }
}
