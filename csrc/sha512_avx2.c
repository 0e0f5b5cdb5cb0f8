/* 4-lane multi-buffer SHA-384 of 4 KiB pages with AVX2 (one __m256i holds the same message word of
 * four pages). Design and measured rationale: docs/reference/zen3-performance.md §3.3 and §6.
 *
 * Only the functions here carry target("avx2"): the rest of the build stays baseline x86-64, and
 * launch_digest.c calls in only after __builtin_cpu_supports("avx2"). AVX2 has no 64-bit rotate, so
 * a rotate is two shifts and an or, except sigma0's rotate by 8 bits, which is one byte shuffle.
 *
 * Zen 3 runs vector shifts and shuffles on two of its four vector pipes, and the kernel is bound by
 * them. Measured against the first version (gcc 12, round-robin, bench-style A/B in one process):
 * the byte-shuffle rotate and computing each schedule word inside the round that consumes it
 * (gcc kept the separate eight-word schedule loop rolled, with index arithmetic and reloads: the
 * rounds now issue about 16% fewer instructions, their vector ops at the count the algorithm needs)
 * are together 8-12% faster. Tried and slower here: Ch with andnot, a pre-broadcast K table, full
 * unrolling, sixteen-word schedule batches, reassociating t1 with Sigma1 last, sixteen-round loop
 * bodies with literal ring slots (no index arithmetic), and computing each schedule word 2, 4 or 8
 * rounds before its use (2-10% slower, 300-round A/B). llvm-mca (znver3) puts this loop at 126
 * cycles per 8 rounds against a 110-cycle bound for its 440 vector ops on four pipes: 87%, with
 * the shift/shuffle pipes the busiest; what is left is scheduling, not work.
 *
 * Also measured and left out: running the serial PAGE_INFO chain inside this kernel, one scalar
 * round after every four vector rounds (Zen 3's integer pipes are idle here). On one thread it was
 * 5.5% faster than the kernel followed by the chain with gcc 12 and no faster with clang 14; denser
 * interleaving (one per two vector rounds, or two per eight) was slower than not fusing. With two
 * threads only the chain thread's own pages hide it: about 2.5% modelled, for a second kernel. */
#include "sha512.h"

#ifdef SNP_HAVE_AVX2_KERNEL
#include <immintrin.h>
#include <string.h>

#define TGT __attribute__((target("avx2")))

#define VADD(a, b) _mm256_add_epi64((a), (b))
#define VXOR(a, b) _mm256_xor_si256((a), (b))
#define VAND(a, b) _mm256_and_si256((a), (b))
#define VOR(a, b)  _mm256_or_si256((a), (b))
#define VROR(x, n) VOR(_mm256_srli_epi64((x), (n)), _mm256_slli_epi64((x), 64 - (n)))
#define VBSIG0(x)  VXOR(VXOR(VROR(x, 28), VROR(x, 34)), VROR(x, 39))
#define VBSIG1(x)  VXOR(VXOR(VROR(x, 14), VROR(x, 18)), VROR(x, 41))
/* The rotate by 8 is a byte shuffle; the caller holds its mask in a local `ror8`. */
#define VSSIG0(x)     VXOR(VXOR(VROR(x, 1), _mm256_shuffle_epi8((x), ror8)), _mm256_srli_epi64((x), 7))
#define VSSIG1(x)     VXOR(VXOR(VROR(x, 19), VROR(x, 61)), _mm256_srli_epi64((x), 6))
#define VCH(e, f, g)  VXOR(VAND(VXOR((f), (g)), (e)), (g))
#define VMAJ(a, b, c) VXOR((b), VAND(VXOR((a), (b)), VXOR((b), (c))))

/* VROUND evaluates wk exactly once: rounds 16..79 pass a schedule update (WK_SCHED) as wk. */
#define VROUND(a, b, c, d, e, f, g, h, wk)                                                                             \
    do {                                                                                                               \
        __m256i t1_ = VADD(VADD(VADD((h), VBSIG1(e)), VCH(e, f, g)), (wk));                                            \
        __m256i t2_ = VADD(VBSIG0(a), VMAJ(a, b, c));                                                                  \
        (d) = VADD((d), t1_);                                                                                          \
        (h) = VADD(t1_, t2_);                                                                                          \
    } while (0)

#define VROUNDS8(t, WK)                                                                                                \
    do {                                                                                                               \
        VROUND(a, b, c, d, e, f, g, h, WK(t + 0));                                                                     \
        VROUND(h, a, b, c, d, e, f, g, WK(t + 1));                                                                     \
        VROUND(g, h, a, b, c, d, e, f, WK(t + 2));                                                                     \
        VROUND(f, g, h, a, b, c, d, e, WK(t + 3));                                                                     \
        VROUND(e, f, g, h, a, b, c, d, WK(t + 4));                                                                     \
        VROUND(d, e, f, g, h, a, b, c, WK(t + 5));                                                                     \
        VROUND(c, d, e, f, g, h, a, b, WK(t + 6));                                                                     \
        VROUND(b, c, d, e, f, g, h, a, WK(t + 7));                                                                     \
    } while (0)

TGT static void load_block4(const uint8_t *const p[4], size_t off, __m256i w[16])
{
    /* Reverses the bytes of each 64-bit word: SHA-512 reads the message big-endian. */
    const __m256i bswap = _mm256_set_epi8(8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                                          14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
    for (int g = 0; g < 4; g++) {
        __m256i r0 = _mm256_loadu_si256((const __m256i *) (const void *) (p[0] + off + 32 * g));
        __m256i r1 = _mm256_loadu_si256((const __m256i *) (const void *) (p[1] + off + 32 * g));
        __m256i r2 = _mm256_loadu_si256((const __m256i *) (const void *) (p[2] + off + 32 * g));
        __m256i r3 = _mm256_loadu_si256((const __m256i *) (const void *) (p[3] + off + 32 * g));
        /* 4x4 transpose of 64-bit words: afterwards vector k holds word 4g+k of lanes 0..3. */
        __m256i t0 = _mm256_unpacklo_epi64(r0, r1);
        __m256i t1 = _mm256_unpackhi_epi64(r0, r1);
        __m256i t2 = _mm256_unpacklo_epi64(r2, r3);
        __m256i t3 = _mm256_unpackhi_epi64(r2, r3);
        w[4 * g + 0] = _mm256_shuffle_epi8(_mm256_permute2x128_si256(t0, t2, 0x20), bswap);
        w[4 * g + 1] = _mm256_shuffle_epi8(_mm256_permute2x128_si256(t1, t3, 0x20), bswap);
        w[4 * g + 2] = _mm256_shuffle_epi8(_mm256_permute2x128_si256(t0, t2, 0x31), bswap);
        w[4 * g + 3] = _mm256_shuffle_epi8(_mm256_permute2x128_si256(t1, t3, 0x31), bswap);
    }
}

#define WK_MSG(t) VADD(w[(t) &15], _mm256_set1_epi64x((long long) snp_K512[t]))
/* Rounds 16..79: W[t] = sigma1(W[t-2]) + W[t-7] + sigma0(W[t-15]) + W[t-16] in the 16-word ring,
 * computed in the round that uses it. */
#define SCHED(t)                                                                                                       \
    (w[(t) &15] =                                                                                                      \
         VADD(VADD(w[(t) &15], VSSIG1(w[((t) + 14) & 15])), VADD(w[((t) + 9) & 15], VSSIG0(w[((t) + 1) & 15]))))
#define WK_SCHED(t) VADD(SCHED(t), _mm256_set1_epi64x((long long) snp_K512[t]))
#define WK_PAD(t)   _mm256_set1_epi64x((long long) snp_page_pad_wk[t])

TGT static void compress4(__m256i s[8], __m256i w[16])
{
    __m256i a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
    /* Byte i of each 64-bit word takes byte i+1 (mod 8): a rotate right by 8 bits. */
    const __m256i ror8 = _mm256_set_epi8(8, 15, 14, 13, 12, 11, 10, 9, 0, 7, 6, 5, 4, 3, 2, 1, 8, 15, 14, 13, 12, 11,
                                         10, 9, 0, 7, 6, 5, 4, 3, 2, 1);
    for (int t = 0; t < 16; t += 8) VROUNDS8(t, WK_MSG);
    for (int t = 16; t < 80; t += 8) VROUNDS8(t, WK_SCHED);
    s[0] = VADD(s[0], a);
    s[1] = VADD(s[1], b);
    s[2] = VADD(s[2], c);
    s[3] = VADD(s[3], d);
    s[4] = VADD(s[4], e);
    s[5] = VADD(s[5], f);
    s[6] = VADD(s[6], g);
    s[7] = VADD(s[7], h);
}

TGT static void compress4_pad(__m256i s[8])
{
    __m256i a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
    for (int t = 0; t < 80; t += 8) VROUNDS8(t, WK_PAD);
    s[0] = VADD(s[0], a);
    s[1] = VADD(s[1], b);
    s[2] = VADD(s[2], c);
    s[3] = VADD(s[3], d);
    s[4] = VADD(s[4], e);
    s[5] = VADD(s[5], f);
    s[6] = VADD(s[6], g);
    s[7] = VADD(s[7], h);
}

TGT void snp_sha384_4pages_avx2(const uint8_t *const pages[4], uint64_t out[4][6])
{
    __m256i s[8];
    __m256i w[16];
    uint64_t lanes[4] __attribute__((aligned(32)));
    for (int i = 0; i < 8; i++) s[i] = _mm256_set1_epi64x((long long) snp_IV384[i]);
    for (size_t off = 0; off < 4096; off += 128) {
        load_block4(pages, off, w);
        compress4(s, w);
    }
    compress4_pad(s);
    for (int i = 0; i < 6; i++) {
        _mm256_store_si256((__m256i *) (void *) lanes, s[i]);
        for (int l = 0; l < 4; l++) out[l][i] = lanes[l];
    }
}
#else
/* Keeps the translation unit non-empty (ISO C) on targets without the AVX2 kernel. */
typedef int snp_avx2_kernel_unavailable;
#endif
