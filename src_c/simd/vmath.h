/* vmath.h: float32 vector math written once over the vocabulary of vec_scalar.h, vec_avx2.h or
 * vec_avx512.h (whichever was included first): exp, expm1, log, log1p, tanh, erf, erfc,
 * sigmoid, and the activations the conv kernels apply in registers (silu, gelu, gelu_tanh,
 * hardswish). Range reduction is Cody-Waite (ln2 split in a hi part exact in k*hi and a lo part);
 * polynomial coefficients come from tools/fit_vmath.py (weighted least squares refined towards
 * minimax by Lawson's iteration, then rounded to float32 one coefficient at a time, refitting the
 * rest). NaN in gives NaN out; infinities and overflow/underflow as C and torch.
 *
 * Measured maximum relative error vs float64 (tests/test_act_vmath.py, run with -s), 1.1e7 to 1.28e7
 * points per function: float32 bit patterns spread over the whole range, every float32 in windows
 * around 0, 1 and the overflow/underflow/branch thresholds, a linear grid. Results in the float32
 * denormal range are held to 1 ulp (2^-149) plus the relative bound instead. Identical for scalar,
 * avx2 and avx512 (same algorithm; the scalar vfma rounds once in double):
 *   exp      8.1e-08  (x = -59.95)         tanh     1.44e-07 (x = 0.5505, the branch point)
 *   expm1    1.0e-07  (x = 0.4089)         erf      1.11e-07 (tiny x, c0's hi+lo product)
 *   log      8.0e-08  (x = 2.777)          sigmoid  1.17e-07 (x = -16.97)
 *   log1p    1.34e-07 (x = -2.98e-08)      erfc     2.54e-07 (x = 1.853; internal, for gelu)
 * Requirement: <= 2e-7 for all but erfc (asserted at 3e-7).
 */
#ifndef FASTNORM_SIMD_VMATH_H
#define FASTNORM_SIMD_VMATH_H

#define FN_LOG2E 0x1.715476p+0f
/* Cody-Waite: ln2 = HI + LO; HI has 9 significant bits, so k*HI is exact for |k| < 2^15 */
#define FN_LN2_HI 0x1.630000p-1f     /* 0.693359375 */
#define FN_LN2_LO -0x1.bd0106p-13f   /* ln2 - HI, rounded */
#define FN_ROUND_MAGIC 0x1.8p23f     /* adding it rounds |v| < 2^22 to an integer */

/* expm1(r) for |r| <= ln2/2 (+0.2%): r + r^2 * q(r); max rel err 4.4e-10 in float64 (fit) */
FN_INLINE V fn_expm1_poly(V r) {
    V q = vset(0x1.9e7718p-13f);
    q = vfma(q, r, vset(0x1.6d3a72p-10f));
    q = vfma(q, r, vset(0x1.1112d6p-7f));
    q = vfma(q, r, vset(0x1.5554f8p-5f));
    q = vfma(q, r, vset(0x1.555554p-3f));
    q = vfma(q, r, vset(0.5f));
    return vfma(vmul(r, r), q, r);
}

/* x = k*ln2 + r, |r| <= ln2/2; returns r, sets *kf = k (integral float) */
FN_INLINE V fn_exp_reduce(V x, V *kf) {
    const V magic = vset(FN_ROUND_MAGIC);
    const V k = vsub(vfma(x, vset(FN_LOG2E), magic), magic);
    V r = vfnma(k, vset(FN_LN2_HI), x);
    r = vfnma(k, vset(FN_LN2_LO), r);
    *kf = k;
    return r;
}

/* 2^k for an integral float k in [-126, 127] */
FN_INLINE V fn_pow2i(V kf) { return vfrombits(visll(viadd(vcvt_f2i(kf), viset(127)), 23)); }

/* exp(x). Overflows to +inf above ln(FLT_MAX); denormal results rounded once (2^k is applied as
 * 2^(k/2) * 2^(k - k/2): the first product is exact, the second rounds into the denormals). */
FN_INLINE V fn_exp_scaled(V x, int32_t extra) { /* exp(x) * 2^extra, 0 <= extra <= 64 */
    /* below the clamp exp(x) * 2^extra rounds to 0; NaN passes: it is the second operand */
    x = vmin(vset(88.8f), vmax(vset(-104.0f - 0.6931472f * (float)extra), x));
    V kf;
    const V r = fn_exp_reduce(x, &kf);
    const V p = vadd(fn_expm1_poly(r), vset(1.0f)); /* exp(r) in [0.70, 1.42] */
    const VI k = viadd(vcvt_f2i(kf), viset(extra)); /* [-150, 128] + extra */
    const VI k1 = visra(k, 1);
    const VI k2 = visub(k, k1);
    const V s1 = vfrombits(visll(viadd(k1, viset(127)), 23));
    const V s2 = vfrombits(visll(viadd(k2, viset(127)), 23));
    return vmul(vmul(p, s1), s2);
}

FN_INLINE V v_exp(V x) { return fn_exp_scaled(x, 0); }

/* expm1(x) = 2^k * expm1(r) + (2^k - 1): exact 2^k - 1 for the small k where cancellation could
 * hurt, so the relative error stays small near 0 (2^-k is 0 at k = 127: below em's ulp). k = 128 (x near the overflow threshold) is
 * computed as 2 * (2^127 (1 + expm1(r))) - 1. */
FN_INLINE V v_expm1(V x) {
    x = vmin(vset(88.8f), vmax(vset(-87.3f), x)); /* expm1(-87.3) is -1 in float32 */
    V kf;
    const V r = fn_exp_reduce(x, &kf);
    const V em = fn_expm1_poly(r);
    const V one = vset(1.0f);
    const V kc = vmin(kf, vset(127.0f));
    const V s = fn_pow2i(kc);
    const V f = vsel(vgt(kf, vset(127.0f)), vset(2.0f), one);
    /* 2^k - 1 is inexact from k = 25 on: there s (1 + (em - 2^-k)) instead, em - 2^-k rounding
     * by at most half an ulp of em */
    const V y_small = vfma(s, em, vsub(s, one));
    const V y_big = vfma(s, vsub(em, fn_pow2i(vsub(vset(0.0f), kc))), s);
    const V y = vsel(vgt(kf, vset(24.5f)), y_big, y_small);
    /* expm1(-0) is -0: r^2 q + r would give +0 */
    return vsel(veq(x, vset(0.0f)), x, vfma(y, f, vsub(f, one)));
}

/* log(m) for finite m > 0 (denormals included): m = 2^e * (1 + f), 1 + f in [sqrt(.5), sqrt(2)),
 * log = e*ln2 + log1p(f), log1p(f) = f - f^2/2 + f^3 p(f); max rel err of p's fit 5.9e-9. */
FN_INLINE V fn_log_core(V m) {
    const VM tiny = vlt(m, vset(0x1p-126f));
    m = vsel(tiny, vmul(m, vset(0x1p23f)), m);
    const V eadj = vsel(tiny, vset(-23.0f), vset(0.0f));
    const VI bits = vbits(m);
    const VI e = visra(visub(bits, viset(0x3f3504f3)), 23); /* 0x3f3504f3 = sqrt(0.5) */
    const V mant = vfrombits(visub(bits, visll(e, 23)));
    const V f = vsub(mant, vset(1.0f)); /* exact (Sterbenz) */
    V p = vset(-0x1.38ee18p-4f);
    p = vfma(p, f, vset(0x1.057078p-3f));
    p = vfma(p, f, vset(-0x1.0d845ap-3f));
    p = vfma(p, f, vset(0x1.22d708p-3f));
    p = vfma(p, f, vset(-0x1.547212p-3f));
    p = vfma(p, f, vset(0x1.99a02cp-3f));
    p = vfma(p, f, vset(-0x1.000228p-2f));
    p = vfma(p, f, vset(0x1.555554p-2f));
    const V l1 = vfma(vmul(f, f), vfma(p, f, vset(-0.5f)), f);
    const V ef = vadd(vcvt_i2f(e), eadj);
    return vfma(ef, vset(FN_LN2_HI), vfma(ef, vset(FN_LN2_LO), l1));
}

/* The special cases of log, decided on its argument m: 0 -> -inf, < 0 -> NaN, +inf -> +inf,
 * NaN -> NaN. */
FN_INLINE V fn_log_special(V m, V y) {
    y = vsel(vlt(m, vset(0.0f)), vset(__builtin_nanf("")), y);
    y = vsel(veq(m, vset(0.0f)), vset(-__builtin_inff()), y);
    y = vsel(veq(m, vset(__builtin_inff())), m, y);
    return vsel(vunord(m, m), m, y);
}

FN_INLINE V v_log(V x) { return fn_log_special(x, fn_log_core(x)); }

/* log1p(u) = log(m) + c/m where m = fl(1 + u) and c = (1 + u) - m exactly (TwoSum): the rounding
 * of 1 + u is put back to first order, so tiny u keep full relative accuracy. */
FN_INLINE V v_log1p(V u) {
    const V one = vset(1.0f);
    const V m = vadd(one, u);
    const V ub = vsub(m, one);
    const V c = vadd(vsub(one, vsub(m, ub)), vsub(u, ub));
    const V y = vadd(fn_log_core(m), vdiv(c, m));
    return vsel(veq(u, vset(0.0f)), u, fn_log_special(m, y)); /* log1p(-0) is -0 */
}

/* tanh(x): x + x^3 p(x^2) for |x| < 0.55 (fit rel err 5e-11); above, sign(x) e / (e + 2) with
 * e = expm1(2|x|): no cancellation anywhere; |x| > 9.01 gives 1. */
FN_INLINE V v_tanh(V x) {
    const V a = vmin(vset(9.5f), vabs(x)); /* NaN passes */
    const V e = v_expm1(vadd(a, a));
    const V big = vdiv(e, vadd(e, vset(2.0f)));
    const V t = vmul(x, x);
    V p = vset(-0x1.39200ep-9f);
    p = vfma(p, t, vset(0x1.418acap-8f));
    p = vfma(p, t, vset(-0x1.358a30p-7f));
    p = vfma(p, t, vset(0x1.6850dcp-6f));
    p = vfma(p, t, vset(-0x1.ba3692p-5f));
    p = vfma(p, t, vset(0x1.111164p-3f));
    p = vfma(p, t, vset(-0x1.555556p-2f));
    const V small = vfma(vmul(x, t), p, x);
    return vcopysign(vsel(vlt(a, vset(0.55f)), small, big), x); /* tanh(-0) is -0 */
}

/* num / (1 + e) for 0 <= e <= 1, to about half an ulp: 1 + e is kept as hi + lo, the quotient
 * is corrected once with the exact residual num - q * (hi + lo) (an FMA gives it exactly). */
FN_INLINE V fn_div_one_plus(V num, V e) {
    const V one = vset(1.0f);
    const V hi = vadd(one, e);
    const V lo = vsub(e, vsub(hi, one)); /* exact: 1 >= e */
    const V q = vdiv(num, hi);
    V res = vfnma(q, hi, num);
    res = vfnma(q, lo, res);
    return vfma(res, vrcp_approx(hi), q);
}

/* sigmoid(x) = 1 / (1 + exp(-x)) for x >= 0, exp(x) / (1 + exp(x)) for x < 0: exp never
 * overflows, and the denormal results of large negative x are exp's. */
FN_INLINE V v_sigmoid(V x) {
    const V e = v_exp(vcopysign(x, vset(-0.0f))); /* exp(-|x|) */
    return fn_div_one_plus(vsel(vge(x, vset(0.0f)), vset(1.0f), e), e);
}

/* x * sigmoid(z) with one rounding into the denormals: for z < 0 the exp(z) of the numerator is
 * carried scaled by 2^64 and the product unscaled last (x * a denormal sigmoid would multiply its
 * rounding error by |x|). */
FN_INLINE V fn_mul_sigmoid(V x, V z) {
    const V es = fn_exp_scaled(vcopysign(z, vset(-0.0f)), 64); /* exp(-|z|) 2^64 */
    const V e = vmul(es, vset(0x1p-64f));
    const VM pos = vge(z, vset(0.0f));
    const V q = fn_div_one_plus(vsel(pos, vset(1.0f), es), e);
    return vmul(vmul(x, q), vsel(pos, vset(1.0f), vset(0x1p-64f)));
}

/* Edge values (README, "Edge values"): the limit of the mathematical function, the same on every ISA.
 * x * (something -> 0) at x = -inf is -inf * 0 = NaN in float arithmetic; gelu, gelu_tanh, silu,
 * mish and hardswish return -0.0 there instead (the sign their finite negative tail underflows with). */
FN_INLINE V fn_neg_inf_to_neg_zero(V x, V y) {
    return vsel(veq(x, vset(-__builtin_inff())), vset(-0.0f), y);
}

/* x * sigmoid(z) for gelu_tanh (z = 2u); silu has the cheaper fn_silu_fast below, which its own
 * error bound leaves room for. For z >= -87, exp(-|z|) needs neither the 2^64 carry
 * nor the two-step scaling of fn_exp_scaled (its 2^k is normal: |z| is clamped at 87, where
 * sigmoid(z) is already 1 for z > 0), 2^k is made from the bits of the rounded k directly, and the
 * quotient starts from the reciprocal estimate instead of a division (the correction of
 * fn_div_one_plus takes it to the same accuracy). e, and so the result, is fn_mul_sigmoid's but for
 * the last division's rounding: within the 3-ulp bound the act tests hold these to. Lanes with z below
 * -87 (or x = -inf) take fn_mul_sigmoid, which rounds the denormal results once; only a vector that
 * has such a lane computes it, and the choice is per lane, so a result never depends on its
 * neighbours (an activation fused into a conv tile and the separate pass group lanes differently). */
FN_INLINE V fn_mul_sigmoid_fast(V x, V z) {
    const V na = vmax(vset(-87.0f), vcopysign(z, vset(-0.0f))); /* -|z|; NaN passes */
    const V magic = vset(FN_ROUND_MAGIC);
    const V t = vfma(na, vset(FN_LOG2E), magic); /* its low mantissa bits hold k = round(na log2e) */
    const V k = vsub(t, magic);
    V r = vfnma(k, vset(FN_LN2_HI), na);
    r = vfnma(k, vset(FN_LN2_LO), r);
    /* 2^k, k in [-126, 0]: (bits(t) << 23) is k << 23 (the magic's bits shift out) */
    const V s = vfrombits(viadd(visll(vbits(t), 23), viset(127 << 23)));
    const V e = vmul(vadd(fn_expm1_poly(r), vset(1.0f)), s); /* exp(-|z|) */
    const V one = vset(1.0f);
    const V num = vsel(vge(z, vset(0.0f)), one, e);
    const V hi = vadd(one, e);
    const V lo = vsub(e, vsub(hi, one)); /* exact: 1 >= e */
    V rc = vrcp_approx(hi);
    rc = vfma(rc, vfnma(hi, rc, one), rc); /* one Newton step: 2^-22 (avx2) or better */
    const V q0 = vmul(num, rc);
    V res = vfnma(q0, hi, num);
    res = vfnma(q0, lo, res);
    const V y = vmul(x, vfma(res, rc, q0));
    const VM tail = vlt(z, vset(-87.0f));
    if (vm_any(tail)) return vsel(tail, fn_neg_inf_to_neg_zero(x, fn_mul_sigmoid(x, z)), y);
    return y;
}

/* silu(x) = x sigmoid(x), the conv epilogue's commonest activation (EfficientNet: a fifth of a run
 * goes to it, so every operation and every cycle of its dependency chain counts). For x >= -87,
 * exp needs neither the 2^64 carry nor the two-step scaling of fn_exp_scaled (its 2^k is normal), and
 * 2^k is made from the bits of the rounded k directly. The result is x / (1 + exp(-x)): where the
 * vocabulary's division is cheap (FN_VDIV_FAST: AVX2, scalar) by one division, 19 operations a vector
 * with the tail check; elsewhere (AVX-512, NEON) as x times the reciprocal estimate of 1 + exp(-x)
 * (plus a Newton step below 14 bits) after one correction with the exact residual. Roundings the accurate functions avoid are kept, because
 * silu's own bound leaves room for them (tests/test_act_ops.py: 3 ulps of |f| + |x f'(x)|, and f'
 * vanishes only at x = -1.28, where k = -2): the reduction takes ln2 as one float32 (its error,
 * 1.9e-9 per unit of k, is 2.4e-7 relative at most, at |k| = 126, where |x f'| is 87 |f|); 1 + e is
 * taken as rounded (half an ulp of the quotient). Measured against float64 on uniform [-6, 6]: at
 * most 1.2e-7 relative with the division (1.7e-7 for the form before #14's Estrin change), 1.4e-7
 * with AVX-512's reciprocal. AVX2 streaming silu on Zen 3: 0.67 -> 0.39 ns an element; AVX-512 on a
 * Sapphire Rapids Xeon (L1-resident, min of 3,000) 0.242 -> 0.194-0.212 with the one quotient. Lanes below -87 (or -inf) take
 * fn_mul_sigmoid (fn_silu below), which rounds the denormal results once. */
/* Bits of vrcp_approx's estimate (its relative error is below 2^-FN_VRCP_BITS): a vocabulary that
 * gives more than 12 says so. */
#ifndef FN_VRCP_BITS
#define FN_VRCP_BITS 12
#endif
/* 1 when the vocabulary's vdiv is cheap enough to replace a reciprocal estimate and its refinement
 * (a vector's division issuing every ~5 cycles or better) */
#ifndef FN_VDIV_FAST
#define FN_VDIV_FAST 0
#endif
/* AVX2 / AVX-512 (VW >= 8, a lane permute over a whole vector): exp(-xc) = 2^(k/N) exp(r) with N = VW
 * table entries 2^(j/N) picked by vperm from k's low bits (vpermps reads only those), so |r| <= ln2/(2N)
 * and a cubic replaces the degree-6 polynomial: 3 operations instead of 7, and the exponent takes a
 * shift and a mask. Coefficients: the weighted minimax fit of exp(r) - 1 - r on |r| <= 1.002 ln2/(2N)
 * (relative error 2.6e-8 for N = 8, 1.6e-9 for N = 16; Lawson's iteration, float32-rounded). Standalone
 * (/tmp harness: an L1-resident 4096-float buffer, Xeon Sapphire Rapids class, session 13): AVX2 2.0 ->
 * 1.6 ns a vector, AVX-512 3.1 -> 2.9; the largest error over [-87, 87] in steps of 1.7e-5, in units of
 * 2^-24 (|f| + |x f'|): AVX2 2.08 -> 2.57, AVX-512 2.57 -> 2.63 (the act tests' bound is 6). */
#if VW >= 8
#define FN_SILU_TB (VW == 8 ? 3 : 4)
#endif
/* fn_silu_fast with its clamp xc = min(87, x) given: a caller that knows no lane of x is above 87
 * passes x itself and saves the operation (dwconv_simd.h's AVX2 band tile, which tests its vectors
 * once; x86's vmin(87, NaN) is that NaN), with fn_silu_fast's bits. */
FN_INLINE V fn_silu_fast_xc(V x, V xc) {
    const V one = vset(1.0f);
#if VW >= 8
    const float n = (float)(1 << FN_SILU_TB);
    /* t's low mantissa bits hold k + 127 N, k = round(-xc N log2e) in [-1004 N/8, 1004 N/8]: k mod N
     * picks the table entry, (k + 127 N) >> TB is 2^(k div N)'s biased exponent, in [1, 252] (k + 127 N
     * < 2^(8 + TB): the shift leaves the sign bit 0, and the mask drops the index bits) */
    const V magic = vset(FN_ROUND_MAGIC + 127.0f * n);
    const V t = vfnma(xc, vset(FN_LOG2E * n), magic);
    const V rn = vfma(vsub(t, magic), vset(0x1.62e430p-1f / n), xc); /* -(-xc - k ln2 / N) */
    const V s = vand(vfrombits(visll(vbits(t), 23 - FN_SILU_TB)), vfrombits(viset(0x7F800000)));
    static const float tab[16] = { /* 2^(j/N), float32-rounded; N = 8 reads every other entry */
        0x1.000000p+0f, 0x1.0b5586p+0f, 0x1.172b84p+0f, 0x1.2387a6p+0f,
        0x1.306fe0p+0f, 0x1.3dea64p+0f, 0x1.4bfdaep+0f, 0x1.5ab07ep+0f,
        0x1.6a09e6p+0f, 0x1.7a1148p+0f, 0x1.8ace54p+0f, 0x1.9c4918p+0f,
        0x1.ae89fap+0f, 0x1.c199bep+0f, 0x1.d5818ep+0f, 0x1.ea4afap+0f};
    static const float tab8[8] = {0x1.000000p+0f, 0x1.172b84p+0f, 0x1.306fe0p+0f, 0x1.4bfdaep+0f,
        0x1.6a09e6p+0f, 0x1.8ace54p+0f, 0x1.ae89fap+0f, 0x1.d5818ep+0f};
    const V st = vmul(s, vperm(vload(VW == 8 ? tab8 : tab), vbits(t)));
    /* exp(r) - 1 = r + c2 r^2 + c3 r^3, in rn = -r */
    const V b = VW == 8 ? vfma(vset(-0x1.555656p-3f), rn, vset(0x1.00087cp-1f))
                        : vfma(vset(-0x1.55559ep-3f), rn, vset(0x1.000220p-1f));
    const V em1 = vfms(b, vmul(rn, rn), rn);
    const V e = vfma(em1, st, st); /* exp(-xc) */
    const V hi = vadd(one, e);
#else
    /* the magic carries the exponent bias: t's low mantissa bits hold k + 127, k = round(-xc log2e),
     * so (bits(t) << 23) is 2^k's bits, k in [-126, 126] (the magic's own bits shift out) */
    const V magic = vset(FN_ROUND_MAGIC + 127.0f);
    const V t = vfnma(xc, vset(FN_LOG2E), magic);
    const V rn = vfma(vsub(t, magic), vset(0x1.62e430p-1f), xc); /* -(-xc - k ln2) */
    const V s = vfrombits(visll(vbits(t), 23));
    /* exp(r) = 1 + r + r^2/2 + ... + c6 r^6 (max rel err of the float32 coefficients 4.1e-9 on
     * |r| <= ln2/2 + 0.2%: the fit of tools/fit_vmath.py's method, one degree below fn_expm1_poly's,
     * which the accurate functions need and silu does not), by Estrin's scheme: a dependency chain
     * of 3 FMA latencies instead of Horner's 6, for one more multiply. The chain's length is what
     * bounds a streaming silu on a core with a small FP scheduler (AMD Zen 3 keeps about four in
     * flight: Horner's ~75-cycle chain ran at 2.3x its throughput bound). */
    const V r2 = vmul(rn, rn);
    const V b1 = vfma(vset(-0x1.555490p-3f), rn, vset(0x1.fffffcp-2f));
    const V b2 = vfma(vset(-0x1.123b04p-7f), rn, vset(0x1.5558f8p-5f));
    const V r4 = vmul(r2, r2);
    const V c0 = vfms(b1, r2, rn); /* b1 r^2 + r */
    const V c1 = vfma(vset(0x1.6a2252p-10f), r2, b2);
    const V em1 = vfma(c1, r4, c0); /* exp(r) - 1: the 1 joins in the last rounding */
    const V e = vfma(em1, s, s);    /* exp(-xc) = 2^k (1 + em1) */
    const V hi = vadd(one, e);
#endif
#if FN_VDIV_FAST
    /* the vocabulary's division issues every few cycles (AVX2: 3.5 on Zen 3, 5 on Skylake) and is
     * shorter than estimate + Newton + correction: one correctly rounded quotient */
    return vdiv(x, hi);
#else
    /* 1 / hi from the reciprocal estimate (plus a Newton step below 14 bits) and one correction
     * with the exact residual: with rc within d of 1/hi, q is within d^2 (2^-28 from AVX-512's
     * 14-bit estimate) plus its rounding. The sigmoid of either sign is this one quotient; the
     * form before (num / (1 + exp(-|x|)), num = 1 or exp(-|x|) by the sign) spent a compare, a
     * select and a multiply more: 22 -> 19 operations a vector on AVX-512, where silu issues on
     * two vector ports and its cost is its operation count. */
    V rc = vrcp_approx(hi);
#if FN_VRCP_BITS < 14
    rc = vfma(rc, vfnma(hi, rc, one), rc); /* one Newton step: 2^-22 or better */
#endif
    return vmul(x, vfma(vfnma(hi, rc, one), rc, rc));
#endif
}
FN_INLINE V fn_silu_fast(V x) {
    /* silu(x) = x / (1 + exp(-x)) on every ISA: exp's argument -x is clamped at -87 below (x > 87:
     * the quotient is x) and reaches +87 above (x >= -87), where 2^k, k <= 126, is still normal and
     * 1 + exp(87) = 6.1e37 has a normal reciprocal (1.6e-38). The clamp is taken on x, xc = min(87,
     * x) (one operation; the NaN of x passes through the last product), and the reduction works with
     * rn = xc + k ln2 = -r: the polynomial below is in r with its odd coefficients negated, so every
     * rounding is the one the form in -x would make (negation is exact). */
    return fn_silu_fast_xc(x, vmin(vset(87.0f), x));
}

/* Only the lanes below -87 take fn_mul_sigmoid: a lane's result never depends on its neighbours (a
 * conv tile's vector and the act kernel's group the same element with different ones). */
#define FN_SILU_FAST_MIN -87.0f
FN_INLINE V fn_silu(V x) {
    const VM low = vlt(x, vset(FN_SILU_FAST_MIN));
    const V y = fn_silu_fast(x);
    if (!vm_any(low)) return y;
    return vsel(low, fn_neg_inf_to_neg_zero(x, fn_mul_sigmoid(x, x)), y);
}

/* gelu, tanh approximation: x/2 (1 + tanh(u)) = x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3) */
FN_INLINE V fn_gelu_tanh(V x) {
    const V k2 = vset(0x1.988454p+0f);                /* 2 sqrt(2/pi) */
    const V k2c = vset(0x1.2444f2p-4f);               /* 2 sqrt(2/pi) 0.044715 */
    return fn_mul_sigmoid_fast(x, vmul(x, vfma(vmul(x, x), k2c, k2)));
}

/* hardswish(x) = x (clamp(x + 3, 0, 6) / 6): no overflow near FLT_MAX; -inf * 0 is NaN, so -inf
 * gives the limit -0 explicitly */
FN_INLINE V fn_hardswish(V x) {
    /* times 1/6 rounded (6 of it rounds to 1: x >= 3 gives x) rather than a division, which in a
     * conv tile's epilogue would keep the divider busy 3.5-5 cycles a vector (AVX2) */
    const V y = vmul(x, vmul(vmin(vset(6.0f), vmax(vset(0.0f), vadd(x, vset(3.0f)))), vset(0x1.555556p-3f)));
    return vsel(veq(x, vset(-__builtin_inff())), vset(-0.0f), y);
}

/* x rounded to the nearest float16 (ties to even), as a float (ONNX Cast to float16 and back): |x|'s
 * float16 grid, 2^(e-10) in the binade [2^e, 2^(e+1)) and 2^-24 below the normals (e < -14), is the
 * float32 ulp of c = 1.5 * 2^(max(e, -14) + 13), so (|x| + c) - c rounds |x| onto it; |x| >= 65520
 * (half-way past 65504, float16's largest) is inf; NaN stays NaN, -0 stays -0 */
FN_INLINE V fn_round_f16(V x) {
    const V a = vabs(x);
    const V p = vmax(vand(a, vfrombits(viset(0x7F800000))), vset(0x1p-14f));
    const V c = vmul(p, vset(12288.0f));
    const V r = vsub(vadd(a, c), c);
    return vcopysign(vsel(vge(a, vset(65520.0f)), vset(__builtin_inff()), r), x);
}

/* x rounded to the nearest bfloat16 (ties to even), as a float: its bits plus 0x7FFF plus the lowest
 * kept bit, the low 16 cleared (a carry takes the largest finite values to inf, as it should); NaN
 * kept as it is (the carry could make inf of one) */
FN_INLINE V fn_round_bf16(V x) {
    const VI b = vbits(x);
    const VI lsb = vbits(vand(vfrombits(visra(b, 16)), vfrombits(viset(1))));
    const V r = vand(vfrombits(viadd(viadd(b, viset(0x7FFF)), lsb)), vfrombits(viset((int32_t)0xFFFF0000u)));
    return vsel(vunord(x, x), x, r);
}

/* erf(z)/z for |z| <= 1 as c0 + t p(t), t = z^2, c0 = 2/sqrt(pi) as hi + lo (its float32 rounding
 * alone would be a 5e-8 relative error); fit rel err 1.7e-10 */
FN_INLINE V fn_erf_small(V z, V t) {
    V p = vset(-0x1.24304cp-17f);
    p = vfma(p, t, vset(0x1.cae4a2p-14f));
    p = vfma(p, t, vset(-0x1.ba8f90p-11f));
    p = vfma(p, t, vset(0x1.55fbeep-8f));
    p = vfma(p, t, vset(-0x1.b82608p-6f));
    p = vfma(p, t, vset(0x1.ce2ee6p-4f));
    p = vfma(p, t, vset(-0x1.812746p-2f));
    const V lo = vfma(p, t, vset(-0x1.f7ac92p-25f));
    return vfma(z, vset(0x1.20dd76p+0f), vmul(z, lo));
}

/* 2^64 erfc(a) for a >= 0.5 (0 above 10.1, where erfc underflows): exp(-a^2) / a * S(t),
 * t = (a-1)/(a+1), S in [0.43, 0.56] on the whole range, no cancellation in Horner's partial sums
 * (fit rel err 2.2e-9). a^2 comes in as the
 * unevaluated sum a2 + a2lo (a2lo exact from an FMA), so exp's argument carries no rounding:
 * exp(-a2 - a2lo) = exp(-a2) * (1 - a2lo). The 2^64 keeps every intermediate normal: callers
 * multiply by 2^-64 last, so a denormal result is rounded once. */
#define FN_ERFC_UNSCALE 0x1p-64f
FN_INLINE V fn_erfc_big_scaled(V a, V a2, V a2lo) {
    const VM under = vgt(a, vset(10.1f));
    a = vmin(vset(10.1f), a); /* NaN passes */
    a2lo = vsel(vgt(a2, vset(102.01f)), vset(0.0f), a2lo); /* a^2 may have overflowed */
    a2 = vmin(vset(102.01f), a2);
    const V t = vdiv(vsub(a, vset(1.0f)), vadd(a, vset(1.0f)));
    V r = vset(0x1.0a8736p-10f);
    r = vfma(r, t, vset(0x1.34193cp-13f));
    r = vfma(r, t, vset(-0x1.d098aep-10f));
    r = vfma(r, t, vset(-0x1.8442bcp-9f));
    r = vfma(r, t, vset(-0x1.397e92p-9f));
    r = vfma(r, t, vset(0x1.10716cp-8f));
    r = vfma(r, t, vset(0x1.1e2ac6p-6f));
    r = vfma(r, t, vset(0x1.41f7e4p-6f));
    r = vfma(r, t, vset(-0x1.4e6d2ep-5f));
    r = vfma(r, t, vset(-0x1.553c20p-3f));
    r = vfma(r, t, vset(0x1.3c2728p-2f));
    r = vfma(r, t, vset(0x1.b5d878p-2f));
    const V e = fn_exp_scaled(vsub(vset(0.0f), a2), 64);
    return vsel(under, vset(0.0f), vdiv(vmul(vfnma(e, a2lo, e), r), a));
}

/* erf(x): odd polynomial for |x| < 1, 1 - erfc(|x|) above (erfc <= 0.16 there, so the
 * subtraction loses almost nothing); sign restored. */
FN_INLINE V v_erf(V x) {
    const V a = vabs(x);
    const V a2 = vmul(a, a);
    const V a2lo = vfma(a, a, vsub(vset(0.0f), a2));
    const V small = fn_erf_small(a, a2);
    const V big = vsub(vset(1.0f), vmul(fn_erfc_big_scaled(a, a2, a2lo), vset(FN_ERFC_UNSCALE)));
    return vcopysign(vsel(vlt(a, vset(1.0f)), small, big), x);
}

/* erfc(x), for the accuracy tests: 1 - erf below 0.5 (erfc >= 0.48 there), 2 - erfc(-x) below -0.5 */
FN_INLINE V v_erfc(V x) {
    const V a = vabs(x);
    const V a2 = vmul(a, a);
    const V a2lo = vfma(a, a, vsub(vset(0.0f), a2));
    const V small = vsub(vset(1.0f), vcopysign(fn_erf_small(a, a2), x));
    const V tail = vmul(fn_erfc_big_scaled(a, a2, a2lo), vset(FN_ERFC_UNSCALE));
    const V big = vsel(vlt(x, vset(0.0f)), vsub(vset(2.0f), tail), tail);
    return vsel(vlt(a, vset(0.5f)), small, vsel(vunord(x, x), x, big));
}

/* gelu(x) = x/2 (1 + erf(z)), z = x/sqrt2, for any x (fn_gelu's tail below -12.5, and the reference
 * form of the accuracy tests). |z| < 0.5: the erf polynomial. Else with E = erfc(|z|):
 * x/2 (2 - E) for x >= 0 and x/2 E for x < 0, so the negative tail keeps its relative accuracy
 * (1 + erf(z) would cancel). z^2 = x^2/2 is passed exactly as a hi + lo pair. */
FN_INLINE V fn_gelu_erfc(V x) {
    const V hx = vmul(vset(0.5f), x);
    const V a = vmul(vabs(x), vset(0x1.6a09e6p-1f)); /* |x| / sqrt2 */
    const V s = vmul(x, x);
    const V slo = vfma(x, x, vsub(vset(0.0f), s));
    const V a2 = vmul(vset(0.5f), s), a2lo = vmul(vset(0.5f), slo);
    const V erf_small = vcopysign(fn_erf_small(a, a2), x);
    const V small = vcopysign(vfma(hx, erf_small, hx), x); /* gelu(-0) = -0: the fma gives +0 */
    const V es = fn_erfc_big_scaled(a, a2, a2lo);
    /* (x/2) (2 - E): one rounding, and no overflow for x near FLT_MAX (gelu(+inf) = +inf) */
    const V pos = vmul(hx, vsub(vset(2.0f), vmul(es, vset(FN_ERFC_UNSCALE))));
    const V neg = vmul(vmul(hx, es), vset(FN_ERFC_UNSCALE)); /* one rounding into the denormals */
    const V big = vsel(vge(x, vset(0.0f)), pos, neg);
    return fn_neg_inf_to_neg_zero(x, vsel(vlt(a, vset(0.5f)), small, big));
}

/* gelu(x) = x Phi(x), Phi the standard normal CDF, with Phi(-a) = exp(-a^2/2) N(a) / D(a) for
 * a = |x| <= 12.5 (N, D of degrees 3 and 4, positive coefficients: Horner never cancels) and
 * Phi(a) = 1 - Phi(-a): one branch-free formula for both signs, the negative tail to full relative
 * accuracy (1 + erf(x/sqrt2) would cancel). exp(-a^2/2) = 2^-j exp(-s/2), s = a^2 - 2j ln2, and the
 * 2^-j is applied to D as 2^j (exact, and normal: j <= 113, D 2^j <= 1.6e37), so Phi(-a) is rounded
 * in e n and the quotient only.
 * a^2 is rounded once, which moves exp by up to a^2 2^-25 relatively, and ln2 is taken as one float32
 * (its error, 1.9e-9 per unit of j, moves exp by at most 1.4e-9 a^2 relatively): both inside the act
 * tests' mixed bound, 3 ulps of |f| + |x f'(x)| (x f' ~ x^2 f in the tail), which the rational is
 * fitted to as well (tools/fit_vmath.py gelu weights its error by that bound, so it is tightest where
 * gelu is flat: degrees (3, 4) use 0.28 of an ulp of it, (4, 5) 0.01, (3, 3) and (2, 4) 7).
 * Above 12.5, Phi(a) is 1 in float32 (and a clamped: +inf gives +inf). Lanes below -12.5 (the
 * results near the denormals, -inf) take fn_gelu_erfc, per lane as in fn_mul_sigmoid_fast. Measured
 * against float64 on 1.6e7 points of [-13, 13] (scalar, avx2, avx512 and neon give the same bits):
 * at most 0.64 of that bound, at x = -0.777 near gelu' = 0, where the bound is 3 ulps of |f| alone;
 * absolute error <= 2.4e-7.
 * Cost, 22 vector operations and a division on AVX-512 (vrangeps for the clamped |x|, vscalefps for
 * D 2^j), 24 and a division elsewhere; the form before took 29 and the division: N, D of degrees 4
 * and 5 (2 FMAs more), ln2 in two parts (1), a^2/2 formed for the reduction (1), exp by Estrin's
 * scheme (1: the multiply for r^4; Horner's longer chain measured faster here, AVX-512 0.29 -> 0.27
 * ns an element). Sapphire Rapids Xeon, 1 thread, old -> new:
 * L1-resident stream of uniform [-3, 3] (standalone loop over fn_gelu, min of 3,000) AVX-512
 * 0.36 -> 0.27 ns an element, AVX2 0.53 -> 0.44; fastnorm.ops.gelu on 2^20 floats 0.41 -> 0.34;
 * the epilogue of ConvNeXt-atto's linear 40->160 at 56x56 alone (fn_f32_igemm_dense, AVX-512, min
 * of 300) 0.42 -> 0.37 ms, of which the GEMM is 0.24; in the model (bench/profile_models.py
 * convnext_atto, min of 4 x 20 runs, host loaded) that step 0.446 -> 0.387 ms on AVX-512, 0.699 ->
 * 0.607 on AVX2, linear 80->320 0.333 -> 0.298 / 0.512 -> 0.467. The division stays on every ISA
 * (and keeps the ISAs' bits identical): AVX-512's rcp14 with one correction by the exact residual
 * (4 operations for the division's one) measured 0.29 against 0.27 streaming and 0.39 against 0.38
 * ms in that epilogue; AVX2's 12-bit estimate, which needs a Newton step as well, 0.54 against
 * 0.47. */
FN_INLINE V fn_gelu_fast(V x) {
#ifdef FN_HAVE_VRANGE
    const V a = vabs_min(x, vset(12.5f)); /* NaN passes */
#else
    const V a = vmin(vset(12.5f), vabs(x)); /* NaN passes */
#endif
    V n = vset(0x1.cdb12cp-7f);
    n = vfma(n, a, vset(0x1.b55764p-4f));
    n = vfma(n, a, vset(0x1.5b7d72p-2f));
    n = vfma(n, a, vset(0x1.fffffep-2f));
    V d = vset(0x1.216f34p-5f);
    d = vfma(d, a, vset(0x1.119eb6p-2f));
    d = vfma(d, a, vset(0x1.c88ed2p-1f));
    d = vfma(d, a, vset(0x1.7a00a6p+0f));
    d = vfma(d, a, vset(1.0f));
    const V aa = vmul(a, a);
    const V magic = vset(FN_ROUND_MAGIC + 127.0f);
    /* its low mantissa bits hold j + 127, j = round(a^2/2 log2e) (the bias: fn_silu_fast) */
    const V t = vfma(aa, vset(0.5f * FN_LOG2E), magic);
    const V j = vsub(t, magic);
    const V s = vfnma(j, vset(0x1.62e430p+0f), aa); /* 2r, r = a^2/2 - j ln2, |r| <= ln2/2 */
    /* exp(-r) = 1 + s m(s): m by Horner, its coefficients the degree-6 fit of exp(-r) (tools/
     * fit_vmath.py gelu) times 2^-i, exact; m starts at -1/2, so the reduction needs no s/2 (an
     * Estrin form with the exact -r term needs r itself). e n = n + m (s n) in one rounding. */
    V m = vfma(vset(0x1.6a411ep-16f), s, vset(-0x1.1239c2p-12f));
    m = vfma(m, s, vset(0x1.5558bcp-9f));
    m = vfma(m, s, vset(-0x1.555492p-6f));
    m = vfma(m, s, vset(0x1.fffffcp-4f));
    m = vfma(m, s, vset(-0.5f));
    const V en = vfma(m, vmul(s, n), n);                                /* exp(-r) n */
#ifdef FN_HAVE_VSCALEF
    const V ds = vscalef(d, j);                                         /* D 2^j */
#else
    const V ds = vmul(d, vfrombits(visll(vbits(t), 23)));               /* D 2^j */
#endif
    const V p = vdiv(en, ds);                                           /* Phi(-a) */
    /* x Phi(x) = max(x, -0) - a Phi(-a): for x < 0 the product x Phi(-|x|) with one rounding
     * (-0 - a p keeps the sign of an underflowed result); for x > 0 one rounding. Past 12.5, a is
     * clamped and a Phi(-a) (4.6e-35) vanishes beside x. vmax returns its second operand for NaN
     * and for +-0 (gelu(+0) = +0, gelu(-0) = -0). */
    return vfnma(a, p, vmax(vset(-0.0f), x));
}

/* Lanes below FN_GELU_FAST_MIN take fn_gelu_erfc, per lane (fn_silu) */
#define FN_GELU_FAST_MIN -12.5f
FN_INLINE V fn_gelu(V x) {
    const VM tail = vlt(x, vset(FN_GELU_FAST_MIN));
    const V y = fn_gelu_fast(x);
    if (vm_any(tail)) return vsel(tail, fn_gelu_erfc(x), y);
    return y;
}

#endif
