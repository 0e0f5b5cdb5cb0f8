/* Multi-buffer SHA-384 of 4 KiB pages with AVX-512: one vector holds the same message word of
 * eight pages (zmm) or four (ymm, AVX-512VL). Design and measured rationale:
 * docs/reference/performance.md, "AVX-512".
 *
 * Only the functions here carry target("avx512f,avx512vl,avx512bw"): the rest of the build stays
 * baseline x86-64, and launch_digest.c calls in only after __builtin_cpu_supports reported all
 * three (libgcc's check includes the OS saving ZMM state, XCR0 bits 5-7, not just the CPUID bits).
 * BW is for the zmm byte shuffle (vpshufb) of the big-endian load.
 *
 * What AVX-512 changes against the AVX2 kernel (sha512_avx2.c), per SHA-512 round:
 *   - vprorq is one instruction where AVX2 needs two shifts and an or (six rotates a round);
 *   - vpternlogq computes Ch, Maj and each three-way xor of the Sigma functions in one instruction;
 *   - K[t] and the padding block's W+K are embedded broadcasts ({1to8}) of 8-byte constants.
 * A round is then 17 vector ops (6 rotates, 4 ternlog, 7 adds) and a schedule word 11.
 *
 * On Zen 5 simple vector ops have 2-cycle latency, and one 8-lane stream is latency bound: the e
 * path of a round (rotate, xor3, add, add) is 8 cycles against ~6.7 cycles of issue for its work.
 * So the main kernel runs two independent 8-lane groups (16 pages) with their rounds interleaved:
 * the out-of-order core fills one group's dependency gaps with the other's work. Measured with
 * prototypes on Zen 5 (reference): 2x8 interleaved 1.3-1.4x one 8-lane stream, and loop bodies of
 * 8 rounds; fully unrolled rounds were 1.4-1.5x slower (the i-cache). The rounds order t1's adds
 * so that h + W[t] + K[t] + Ch, which does not wait for Sigma1, is summed first. On Zen 4, which runs
 * each 512-bit op as two 256-bit halves with 1-cycle adds, 2x8 measured 1.10x one 8-lane stream too.
 *
 * The 8-lane kernel serves tails of 5-11 pages and the ymm 4-lane one tails of 2-4 (both fill
 * their unused lanes with a repeat of lane 0); see hash_pages_serial in launch_digest.c. */
#include "sha512.h"

#ifdef SNP_HAVE_AVX512_KERNEL
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512vl,avx512bw")))

/* vpternlogq truth tables (bit (a<<2 | b<<1 | c) of the immediate is f(a, b, c)). */
#define TL_XOR3 0x96 /* a ^ b ^ c */
#define TL_CH   0xCA /* a ? b : c     = Ch(e, f, g)  (FIPS 180-4 4.8) */
#define TL_MAJ  0xE8 /* majority      = Maj(a, b, c) (FIPS 180-4 4.9) */

/* The operations, by vector width: Z for zmm (8 lanes), Y for ymm (4 lanes). */
typedef __m512i Z_V;
#define Z_ADD(a, b)        _mm512_add_epi64((a), (b))
#define Z_ROR(x, n)        _mm512_ror_epi64((x), (n))
#define Z_SHR(x, n)        _mm512_srli_epi64((x), (n))
#define Z_TL(a, b, c, imm) _mm512_ternarylogic_epi64((a), (b), (c), (imm))
#define Z_SET1(k)          _mm512_set1_epi64((long long) (k))
typedef __m256i Y_V;
#define Y_ADD(a, b)        _mm256_add_epi64((a), (b))
#define Y_ROR(x, n)        _mm256_ror_epi64((x), (n))
#define Y_SHR(x, n)        _mm256_srli_epi64((x), (n))
#define Y_TL(a, b, c, imm) _mm256_ternarylogic_epi64((a), (b), (c), (imm))
#define Y_SET1(k)          _mm256_set1_epi64x((long long) (k))

/* FIPS 180-4 4.10-4.13, one instruction per three-way xor. */
#define BSIG0_(P, x) P##_TL(P##_ROR(x, 28), P##_ROR(x, 34), P##_ROR(x, 39), TL_XOR3)
#define BSIG1_(P, x) P##_TL(P##_ROR(x, 14), P##_ROR(x, 18), P##_ROR(x, 41), TL_XOR3)
#define SSIG0_(P, x) P##_TL(P##_ROR(x, 1), P##_ROR(x, 8), P##_SHR(x, 7), TL_XOR3)
#define SSIG1_(P, x) P##_TL(P##_ROR(x, 19), P##_ROR(x, 61), P##_SHR(x, 6), TL_XOR3)

/* One round (FIPS 180-4 6.4.2 step 3) with the variables renamed instead of moved; wk is
 * evaluated exactly once (rounds 16..79 pass a schedule update as wk). */
#define ROUND_(P, a, b, c, d, e, f, g, h, wk)                                                                          \
    do {                                                                                                               \
        P##_V t1_ = P##_ADD(P##_ADD(P##_ADD((h), (wk)), P##_TL(e, f, g, TL_CH)), BSIG1_(P, e));                        \
        P##_V t2_ = P##_ADD(BSIG0_(P, a), P##_TL(a, b, c, TL_MAJ));                                                    \
        (d) = P##_ADD((d), t1_);                                                                                       \
        (h) = P##_ADD(t1_, t2_);                                                                                       \
    } while (0)

/* Rounds 16..79: W[t] = sigma1(W[t-2]) + W[t-7] + sigma0(W[t-15]) + W[t-16] in a 16-word ring,
 * computed in the round that uses it. */
#define SCHED_(P, w, t)                                                                                                \
    (w[(t) &15] = P##_ADD(P##_ADD(w[(t) &15], SSIG1_(P, w[((t) + 14) & 15])),                                          \
                          P##_ADD(w[((t) + 9) & 15], SSIG0_(P, w[((t) + 1) & 15]))))
#define WK_MSG_(P, w, t)   P##_ADD(w[(t) &15], P##_SET1(snp_K512[t]))
#define WK_SCHED_(P, w, t) P##_ADD(SCHED_(P, w, t), P##_SET1(snp_K512[t]))
#define WK_PAD_(P, w, t)   P##_SET1(snp_page_pad_wk[t])

/* Eight rounds of one group (R1) or of two groups interleaved (R2: group 0's round t, then group
 * 1's round t; the variables are a0..h0 and a1..h1, the rings w0 and w1). */
#define R1(P, WK, a, b, c, d, e, f, g, h, t) ROUND_(P, a, b, c, d, e, f, g, h, WK(P, w, t))
#define R2(P, WK, a, b, c, d, e, f, g, h, t)                                                                           \
    do {                                                                                                               \
        ROUND_(P, a##0, b##0, c##0, d##0, e##0, f##0, g##0, h##0, WK(P, w0, t));                                       \
        ROUND_(P, a##1, b##1, c##1, d##1, e##1, f##1, g##1, h##1, WK(P, w1, t));                                       \
    } while (0)
#define ROUNDS8(R, P, WK, t)                                                                                           \
    do {                                                                                                               \
        R(P, WK, a, b, c, d, e, f, g, h, (t) + 0);                                                                     \
        R(P, WK, h, a, b, c, d, e, f, g, (t) + 1);                                                                     \
        R(P, WK, g, h, a, b, c, d, e, f, (t) + 2);                                                                     \
        R(P, WK, f, g, h, a, b, c, d, e, (t) + 3);                                                                     \
        R(P, WK, e, f, g, h, a, b, c, d, (t) + 4);                                                                     \
        R(P, WK, d, e, f, g, h, a, b, c, (t) + 5);                                                                     \
        R(P, WK, c, d, e, f, g, h, a, b, (t) + 6);                                                                     \
        R(P, WK, b, c, d, e, f, g, h, a, (t) + 7);                                                                     \
    } while (0)

/* Feed-forward of one group's state s (FIPS 180-4 6.4.2 step 4). */
#define STATE_IN(P, s, n)                                                                                              \
    P##_V a##n = s[0], b##n = s[1], c##n = s[2], d##n = s[3];                                                          \
    P##_V e##n = s[4], f##n = s[5], g##n = s[6], h##n = s[7]
#define STATE_OUT(P, s, n)                                                                                             \
    do {                                                                                                               \
        s[0] = P##_ADD(s[0], a##n);                                                                                    \
        s[1] = P##_ADD(s[1], b##n);                                                                                    \
        s[2] = P##_ADD(s[2], c##n);                                                                                    \
        s[3] = P##_ADD(s[3], d##n);                                                                                    \
        s[4] = P##_ADD(s[4], e##n);                                                                                    \
        s[5] = P##_ADD(s[5], f##n);                                                                                    \
        s[6] = P##_ADD(s[6], g##n);                                                                                    \
        s[7] = P##_ADD(s[7], h##n);                                                                                    \
    } while (0)
/* R1 uses the unsuffixed names; these alias them to group "" for STATE_IN/OUT. */
#define STATE_IN1(P, s)  STATE_IN(P, s, )
#define STATE_OUT1(P, s) STATE_OUT(P, s, )

/* Block `off` of eight pages into w[16], big-endian: two 64-byte loads per page, then an 8x8
 * transpose of 64-bit words per half (three stages of 8 shuffles), then a byte swap per word.
 * Contiguous loads, no gathers. */
TGT static void load_block8(const uint8_t *const p[8], size_t off, __m512i w[16])
{
    const __m512i bswap =
        _mm512_set_epi64(0x08090a0b0c0d0e0fLL, 0x0001020304050607LL, 0x08090a0b0c0d0e0fLL, 0x0001020304050607LL,
                         0x08090a0b0c0d0e0fLL, 0x0001020304050607LL, 0x08090a0b0c0d0e0fLL, 0x0001020304050607LL);
    for (int half = 0; half < 2; half++) {
        __m512i r[8], t[8], u[8];
        for (int l = 0; l < 8; l++) r[l] = _mm512_loadu_si512((const void *) (p[l] + off + 64 * half));
        /* t[2k], t[2k+1]: words (0,2,4,6) and (1,3,5,7) of rows 2k and 2k+1, paired. */
        for (int k = 0; k < 4; k++) {
            t[2 * k] = _mm512_unpacklo_epi64(r[2 * k], r[2 * k + 1]);
            t[2 * k + 1] = _mm512_unpackhi_epi64(r[2 * k], r[2 * k + 1]);
        }
        /* 128-bit lanes 0,2 / 1,3 of two pairs: u[j] holds words {j', j'+4} of rows 0-3 or 4-7. */
        for (int k = 0; k < 2; k++) {
            u[4 * k + 0] = _mm512_shuffle_i64x2(t[4 * k + 0], t[4 * k + 2], 0x88);
            u[4 * k + 1] = _mm512_shuffle_i64x2(t[4 * k + 1], t[4 * k + 3], 0x88);
            u[4 * k + 2] = _mm512_shuffle_i64x2(t[4 * k + 0], t[4 * k + 2], 0xdd);
            u[4 * k + 3] = _mm512_shuffle_i64x2(t[4 * k + 1], t[4 * k + 3], 0xdd);
        }
        /* Rows 0-3 with rows 4-7: word j of all eight rows. */
        __m512i *o = w + 8 * half;
        o[0] = _mm512_shuffle_i64x2(u[0], u[4], 0x88);
        o[1] = _mm512_shuffle_i64x2(u[1], u[5], 0x88);
        o[2] = _mm512_shuffle_i64x2(u[2], u[6], 0x88);
        o[3] = _mm512_shuffle_i64x2(u[3], u[7], 0x88);
        o[4] = _mm512_shuffle_i64x2(u[0], u[4], 0xdd);
        o[5] = _mm512_shuffle_i64x2(u[1], u[5], 0xdd);
        o[6] = _mm512_shuffle_i64x2(u[2], u[6], 0xdd);
        o[7] = _mm512_shuffle_i64x2(u[3], u[7], 0xdd);
        for (int j = 0; j < 8; j++) o[j] = _mm512_shuffle_epi8(o[j], bswap);
    }
}

/* The four-page version for ymm: the 4x4 transpose of sha512_avx2.c's load_block4. */
TGT static void load_block4(const uint8_t *const p[4], size_t off, __m256i w[16])
{
    const __m256i bswap =
        _mm256_set_epi64x(0x08090a0b0c0d0e0fLL, 0x0001020304050607LL, 0x08090a0b0c0d0e0fLL, 0x0001020304050607LL);
    for (int g = 0; g < 4; g++) {
        __m256i r0 = _mm256_loadu_si256((const __m256i *) (const void *) (p[0] + off + 32 * g));
        __m256i r1 = _mm256_loadu_si256((const __m256i *) (const void *) (p[1] + off + 32 * g));
        __m256i r2 = _mm256_loadu_si256((const __m256i *) (const void *) (p[2] + off + 32 * g));
        __m256i r3 = _mm256_loadu_si256((const __m256i *) (const void *) (p[3] + off + 32 * g));
        __m256i t0 = _mm256_unpacklo_epi64(r0, r1), t1 = _mm256_unpackhi_epi64(r0, r1);
        __m256i t2 = _mm256_unpacklo_epi64(r2, r3), t3 = _mm256_unpackhi_epi64(r2, r3);
        w[4 * g + 0] = _mm256_shuffle_epi8(_mm256_permute2x128_si256(t0, t2, 0x20), bswap);
        w[4 * g + 1] = _mm256_shuffle_epi8(_mm256_permute2x128_si256(t1, t3, 0x20), bswap);
        w[4 * g + 2] = _mm256_shuffle_epi8(_mm256_permute2x128_si256(t0, t2, 0x31), bswap);
        w[4 * g + 3] = _mm256_shuffle_epi8(_mm256_permute2x128_si256(t1, t3, 0x31), bswap);
    }
}

/* One compression of two 8-lane groups; `pad` selects the constant padding block (W+K
 * pre-expanded, sha512.c) instead of the message in w0/w1. The loops keep 8-round bodies. */
TGT static void compress_2x8(__m512i s0[8], __m512i s1[8], __m512i w0[16], __m512i w1[16], int pad)
{
    STATE_IN(Z, s0, 0);
    STATE_IN(Z, s1, 1);
    if (pad) {
#pragma GCC unroll 1
        for (int t = 0; t < 80; t += 8) ROUNDS8(R2, Z, WK_PAD_, t);
    } else {
#pragma GCC unroll 1
        for (int t = 0; t < 16; t += 8) ROUNDS8(R2, Z, WK_MSG_, t);
#pragma GCC unroll 1
        for (int t = 16; t < 80; t += 8) ROUNDS8(R2, Z, WK_SCHED_, t);
    }
    STATE_OUT(Z, s0, 0);
    STATE_OUT(Z, s1, 1);
}

/* One compression of one 8-lane group (zmm) or one 4-lane group (ymm). */
#define DEFINE_COMPRESS1(name, P)                                                                                      \
    TGT static void name(P##_V s[8], P##_V w[16], int pad)                                                             \
    {                                                                                                                  \
        STATE_IN1(P, s);                                                                                               \
        if (pad) {                                                                                                     \
            _Pragma("GCC unroll 1") for (int t = 0; t < 80; t += 8) ROUNDS8(R1, P, WK_PAD_, t);                        \
        } else {                                                                                                       \
            _Pragma("GCC unroll 1") for (int t = 0; t < 16; t += 8) ROUNDS8(R1, P, WK_MSG_, t);                        \
            _Pragma("GCC unroll 1") for (int t = 16; t < 80; t += 8) ROUNDS8(R1, P, WK_SCHED_, t);                     \
        }                                                                                                              \
        STATE_OUT1(P, s);                                                                                              \
    }
DEFINE_COMPRESS1(compress_8, Z)
DEFINE_COMPRESS1(compress_4, Y)

/* Lanes of the first six state words into out[lane][6]. */
TGT static void store8(const __m512i s[8], uint64_t (*out)[6])
{
    uint64_t lanes[8] __attribute__((aligned(64)));
    for (int i = 0; i < 6; i++) {
        _mm512_store_si512((void *) lanes, s[i]);
        for (int l = 0; l < 8; l++) out[l][i] = lanes[l];
    }
}

TGT void snp_sha384_16pages_avx512(const uint8_t *const pages[16], uint64_t out[16][6])
{
    __m512i s0[8], s1[8], w0[16], w1[16];
    for (int i = 0; i < 8; i++) s0[i] = s1[i] = Z_SET1(snp_IV384[i]);
    for (size_t off = 0; off < 4096; off += 128) {
        load_block8(pages, off, w0);
        load_block8(pages + 8, off, w1);
        compress_2x8(s0, s1, w0, w1, 0);
    }
    compress_2x8(s0, s1, w0, w1, 1);
    store8(s0, out);
    store8(s1, out + 8);
}

TGT void snp_sha384_8pages_avx512(const uint8_t *const pages[8], uint64_t out[8][6])
{
    __m512i s[8], w[16];
    for (int i = 0; i < 8; i++) s[i] = Z_SET1(snp_IV384[i]);
    for (size_t off = 0; off < 4096; off += 128) {
        load_block8(pages, off, w);
        compress_8(s, w, 0);
    }
    compress_8(s, w, 1);
    store8(s, out);
}

TGT void snp_sha384_4pages_avx512vl(const uint8_t *const pages[4], uint64_t out[4][6])
{
    __m256i s[8], w[16];
    uint64_t lanes[4] __attribute__((aligned(32)));
    for (int i = 0; i < 8; i++) s[i] = Y_SET1(snp_IV384[i]);
    for (size_t off = 0; off < 4096; off += 128) {
        load_block4(pages, off, w);
        compress_4(s, w, 0);
    }
    compress_4(s, w, 1);
    for (int i = 0; i < 6; i++) {
        _mm256_store_si256((__m256i *) (void *) lanes, s[i]);
        for (int l = 0; l < 4; l++) out[l][i] = lanes[l];
    }
}
#else
/* Keeps the translation unit non-empty (ISO C) on targets without the AVX-512 kernel. */
typedef int snp_avx512_kernel_unavailable;
#endif
