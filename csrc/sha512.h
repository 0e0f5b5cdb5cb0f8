/* Internal SHA-384/512 interface shared by the C sources (not part of the cffi API). */
#ifndef SNPMEASURE_SHA512_H
#define SNPMEASURE_SHA512_H

#include <stddef.h>
#include <stdint.h>

/* FIPS 180-4 §4.2.3 and §5.3.4-5.3.5 constants (generated from their definitions: fractional parts
 * of cube / square roots of the first primes; checked by the NIST vectors in tests/test_core_sha.py).
 * static const so that unrolled code sees them as immediates. */
__attribute__((unused)) static const uint64_t snp_K512[80] = {
    0x428a2f98d728ae22ULL, 0x7137449123ef65cdULL, 0xb5c0fbcfec4d3b2fULL, 0xe9b5dba58189dbbcULL, 0x3956c25bf348b538ULL,
    0x59f111f1b605d019ULL, 0x923f82a4af194f9bULL, 0xab1c5ed5da6d8118ULL, 0xd807aa98a3030242ULL, 0x12835b0145706fbeULL,
    0x243185be4ee4b28cULL, 0x550c7dc3d5ffb4e2ULL, 0x72be5d74f27b896fULL, 0x80deb1fe3b1696b1ULL, 0x9bdc06a725c71235ULL,
    0xc19bf174cf692694ULL, 0xe49b69c19ef14ad2ULL, 0xefbe4786384f25e3ULL, 0x0fc19dc68b8cd5b5ULL, 0x240ca1cc77ac9c65ULL,
    0x2de92c6f592b0275ULL, 0x4a7484aa6ea6e483ULL, 0x5cb0a9dcbd41fbd4ULL, 0x76f988da831153b5ULL, 0x983e5152ee66dfabULL,
    0xa831c66d2db43210ULL, 0xb00327c898fb213fULL, 0xbf597fc7beef0ee4ULL, 0xc6e00bf33da88fc2ULL, 0xd5a79147930aa725ULL,
    0x06ca6351e003826fULL, 0x142929670a0e6e70ULL, 0x27b70a8546d22ffcULL, 0x2e1b21385c26c926ULL, 0x4d2c6dfc5ac42aedULL,
    0x53380d139d95b3dfULL, 0x650a73548baf63deULL, 0x766a0abb3c77b2a8ULL, 0x81c2c92e47edaee6ULL, 0x92722c851482353bULL,
    0xa2bfe8a14cf10364ULL, 0xa81a664bbc423001ULL, 0xc24b8b70d0f89791ULL, 0xc76c51a30654be30ULL, 0xd192e819d6ef5218ULL,
    0xd69906245565a910ULL, 0xf40e35855771202aULL, 0x106aa07032bbd1b8ULL, 0x19a4c116b8d2d0c8ULL, 0x1e376c085141ab53ULL,
    0x2748774cdf8eeb99ULL, 0x34b0bcb5e19b48a8ULL, 0x391c0cb3c5c95a63ULL, 0x4ed8aa4ae3418acbULL, 0x5b9cca4f7763e373ULL,
    0x682e6ff3d6b2b8a3ULL, 0x748f82ee5defb2fcULL, 0x78a5636f43172f60ULL, 0x84c87814a1f0ab72ULL, 0x8cc702081a6439ecULL,
    0x90befffa23631e28ULL, 0xa4506cebde82bde9ULL, 0xbef9a3f7b2c67915ULL, 0xc67178f2e372532bULL, 0xca273eceea26619cULL,
    0xd186b8c721c0c207ULL, 0xeada7dd6cde0eb1eULL, 0xf57d4f7fee6ed178ULL, 0x06f067aa72176fbaULL, 0x0a637dc5a2c898a6ULL,
    0x113f9804bef90daeULL, 0x1b710b35131c471bULL, 0x28db77f523047d84ULL, 0x32caab7b40c72493ULL, 0x3c9ebe0a15c9bebcULL,
    0x431d67c49c100d4cULL, 0x4cc5d4becb3e42b6ULL, 0x597f299cfc657e2aULL, 0x5fcb6fab3ad6faecULL, 0x6c44198c4a475817ULL,
};
__attribute__((unused)) static const uint64_t snp_IV512[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};
__attribute__((unused)) static const uint64_t snp_IV384[8] = {
    0xcbbb9d5dc1059ed8ULL, 0x629a292a367cd507ULL, 0x9159015a3070dd17ULL, 0x152fecd8f70e5939ULL,
    0x67332667ffc00b31ULL, 0x8eb44a8768581511ULL, 0xdb0c2e0d64f98fa7ULL, 0x47b5481dbefa4fa4ULL,
};

/* FIPS 180-4 §4.1.3 functions. */
#define ROTR64(x, n) (((x) >> (n)) | ((x) << (64 - (n))))
#define BSIG0(x)     (ROTR64(x, 28) ^ ROTR64(x, 34) ^ ROTR64(x, 39))
#define BSIG1(x)     (ROTR64(x, 14) ^ ROTR64(x, 18) ^ ROTR64(x, 41))
#define SSIG0(x)     (ROTR64(x, 1) ^ ROTR64(x, 8) ^ ((x) >> 7))
#define SSIG1(x)     (ROTR64(x, 19) ^ ROTR64(x, 61) ^ ((x) >> 6))
#define CH(e, f, g)  ((((f) ^ (g)) & (e)) ^ (g))
/* Maj in its xor form: in unrolled rounds b ^ c is the previous round's a ^ b, which the compiler
 * keeps, so a round's Maj costs 3 ops instead of 4 (and, or, and, or). Measured on Zen 4 in the
 * chain (gcc 12, alternating builds): 2.5% faster per PAGE_INFO, 5.5% for the portable chain. */
#define MAJ(a, b, c) ((((a) ^ (b)) & ((b) ^ (c))) ^ (b))

/* W[t] + K[t] for the padding block that ends every 4 KiB page message (0x80, zeros, bit length
 * 32768): identical for all pages, so it is expanded once (see perf notes: constant pad block). */
extern uint64_t snp_page_pad_wk[80];
/* W[t] + K[t] for block 2 of the 112-byte PAGE_INFO message (zeros, bit length 896). */
extern uint64_t snp_pageinfo_pad_wk[80];
void snp_sha512_init_tables(void);

typedef struct {
    uint64_t h[8];
    uint64_t nbytes;
    uint8_t buf[128];
    size_t buflen;
} snp_sha512_ctx;

void snp_sha512_ctx_init(snp_sha512_ctx *c, const uint64_t iv[8]);
void snp_sha512_ctx_update(snp_sha512_ctx *c, const uint8_t *data, size_t len);
void snp_sha512_ctx_final(snp_sha512_ctx *c, uint8_t *out, size_t outlen);

/* One compression over a big-endian 128-byte block. */
void snp_sha512_compress(uint64_t st[8], const uint8_t *block);
/* One compression over 16 message words given as integers. */
void snp_sha512_compress_words(uint64_t st[8], const uint64_t w[16]);
/* One compression whose message schedule W[t]+K[t] is already expanded. */
void snp_sha512_compress_wk(uint64_t st[8], const uint64_t wk[80]);

/* SHA-384 of one 4096-byte page, as 6 state words (big-endian semantics). Portable kernel. */
void snp_sha384_page_portable(const uint8_t *page, uint64_t out[6]);

/* build_ffi.py defines SNP_NO_AVX2 when the compiler cannot build target("avx2") intrinsics; the
 * build then has the portable kernel only (snp_simd_supported() returns 0). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(SNP_NO_AVX2)
#define SNP_HAVE_AVX2_KERNEL 1
/* SHA-384 of four 4096-byte pages at once (4-lane AVX2 multi-buffer); out[lane][6]. */
void snp_sha384_4pages_avx2(const uint8_t *const pages[4], uint64_t out[4][6]);
#endif

/* build_ffi.py defines SNP_NO_AVX512 when the compiler cannot build target("avx512f,avx512vl,
 * avx512bw") intrinsics (the build then has the AVX2 and portable kernels). */
#if defined(SNP_HAVE_AVX2_KERNEL) && !defined(SNP_NO_AVX512)
#define SNP_HAVE_AVX512_KERNEL 1
/* SHA-384 of 16 pages (two interleaved 8-lane zmm groups), of 8 (one zmm group) and of 4 (ymm,
 * AVX-512VL); out[lane][6]. */
void snp_sha384_16pages_avx512(const uint8_t *const pages[16], uint64_t out[16][6]);
void snp_sha384_8pages_avx512(const uint8_t *const pages[8], uint64_t out[8][6]);
void snp_sha384_4pages_avx512vl(const uint8_t *const pages[4], uint64_t out[4][6]);
#endif

static inline uint64_t snp_load_be64(const uint8_t *p)
{
    return ((uint64_t) p[0] << 56) | ((uint64_t) p[1] << 48) | ((uint64_t) p[2] << 40) | ((uint64_t) p[3] << 32) |
           ((uint64_t) p[4] << 24) | ((uint64_t) p[5] << 16) | ((uint64_t) p[6] << 8) | (uint64_t) p[7];
}

static inline void snp_store_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t) (v & 0xff);
        v >>= 8;
    }
}

#endif
