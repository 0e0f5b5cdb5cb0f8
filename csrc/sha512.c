/* SHA-384 / SHA-512 in portable C99 (FIPS 180-4 §6.4), plus the precomputed schedules that the
 * launch digest uses: the constant padding block of a 4 KiB page and block 2 of a 112-byte PAGE_INFO.
 * Constants were generated from their definitions (fractional parts of cube / square roots of the
 * first primes) and are checked by the NIST vectors in tests/test_sha.py. */
#include <string.h>

#include "sha512.h"

const uint64_t snp_K512[80] = {
    0x428a2f98d728ae22ULL, 0x7137449123ef65cdULL, 0xb5c0fbcfec4d3b2fULL, 0xe9b5dba58189dbbcULL,
    0x3956c25bf348b538ULL, 0x59f111f1b605d019ULL, 0x923f82a4af194f9bULL, 0xab1c5ed5da6d8118ULL,
    0xd807aa98a3030242ULL, 0x12835b0145706fbeULL, 0x243185be4ee4b28cULL, 0x550c7dc3d5ffb4e2ULL,
    0x72be5d74f27b896fULL, 0x80deb1fe3b1696b1ULL, 0x9bdc06a725c71235ULL, 0xc19bf174cf692694ULL,
    0xe49b69c19ef14ad2ULL, 0xefbe4786384f25e3ULL, 0x0fc19dc68b8cd5b5ULL, 0x240ca1cc77ac9c65ULL,
    0x2de92c6f592b0275ULL, 0x4a7484aa6ea6e483ULL, 0x5cb0a9dcbd41fbd4ULL, 0x76f988da831153b5ULL,
    0x983e5152ee66dfabULL, 0xa831c66d2db43210ULL, 0xb00327c898fb213fULL, 0xbf597fc7beef0ee4ULL,
    0xc6e00bf33da88fc2ULL, 0xd5a79147930aa725ULL, 0x06ca6351e003826fULL, 0x142929670a0e6e70ULL,
    0x27b70a8546d22ffcULL, 0x2e1b21385c26c926ULL, 0x4d2c6dfc5ac42aedULL, 0x53380d139d95b3dfULL,
    0x650a73548baf63deULL, 0x766a0abb3c77b2a8ULL, 0x81c2c92e47edaee6ULL, 0x92722c851482353bULL,
    0xa2bfe8a14cf10364ULL, 0xa81a664bbc423001ULL, 0xc24b8b70d0f89791ULL, 0xc76c51a30654be30ULL,
    0xd192e819d6ef5218ULL, 0xd69906245565a910ULL, 0xf40e35855771202aULL, 0x106aa07032bbd1b8ULL,
    0x19a4c116b8d2d0c8ULL, 0x1e376c085141ab53ULL, 0x2748774cdf8eeb99ULL, 0x34b0bcb5e19b48a8ULL,
    0x391c0cb3c5c95a63ULL, 0x4ed8aa4ae3418acbULL, 0x5b9cca4f7763e373ULL, 0x682e6ff3d6b2b8a3ULL,
    0x748f82ee5defb2fcULL, 0x78a5636f43172f60ULL, 0x84c87814a1f0ab72ULL, 0x8cc702081a6439ecULL,
    0x90befffa23631e28ULL, 0xa4506cebde82bde9ULL, 0xbef9a3f7b2c67915ULL, 0xc67178f2e372532bULL,
    0xca273eceea26619cULL, 0xd186b8c721c0c207ULL, 0xeada7dd6cde0eb1eULL, 0xf57d4f7fee6ed178ULL,
    0x06f067aa72176fbaULL, 0x0a637dc5a2c898a6ULL, 0x113f9804bef90daeULL, 0x1b710b35131c471bULL,
    0x28db77f523047d84ULL, 0x32caab7b40c72493ULL, 0x3c9ebe0a15c9bebcULL, 0x431d67c49c100d4cULL,
    0x4cc5d4becb3e42b6ULL, 0x597f299cfc657e2aULL, 0x5fcb6fab3ad6faecULL, 0x6c44198c4a475817ULL,
};
const uint64_t snp_IV512[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};
const uint64_t snp_IV384[8] = {
    0xcbbb9d5dc1059ed8ULL, 0x629a292a367cd507ULL, 0x9159015a3070dd17ULL, 0x152fecd8f70e5939ULL,
    0x67332667ffc00b31ULL, 0x8eb44a8768581511ULL, 0xdb0c2e0d64f98fa7ULL, 0x47b5481dbefa4fa4ULL,
};

uint64_t snp_page_pad_wk[80];
uint64_t snp_pageinfo_pad_wk[80];

#define ROTR64(x, n) (((x) >> (n)) | ((x) << (64 - (n))))
#define BSIG0(x) (ROTR64(x, 28) ^ ROTR64(x, 34) ^ ROTR64(x, 39))
#define BSIG1(x) (ROTR64(x, 14) ^ ROTR64(x, 18) ^ ROTR64(x, 41))
#define SSIG0(x) (ROTR64(x, 1) ^ ROTR64(x, 8) ^ ((x) >> 7))
#define SSIG1(x) (ROTR64(x, 19) ^ ROTR64(x, 61) ^ ((x) >> 6))
#define CH(e, f, g) ((((f) ^ (g)) & (e)) ^ (g))
#define MAJ(a, b, c) (((a) & (b)) | ((c) & ((a) | (b))))

static void expand_wk(const uint64_t w16[16], uint64_t wk[80])
{
    uint64_t w[80];
    for (int t = 0; t < 16; t++)
        w[t] = w16[t];
    for (int t = 16; t < 80; t++)
        w[t] = SSIG1(w[t - 2]) + w[t - 7] + SSIG0(w[t - 15]) + w[t - 16];
    for (int t = 0; t < 80; t++)
        wk[t] = w[t] + snp_K512[t];
}

void snp_sha512_init_tables(void)
{
    uint64_t w[16] = {0};
    /* A 4096-byte message ends on a block boundary: its last block is 0x80, zeros, then the
     * 128-bit big-endian bit length 4096 * 8. */
    w[0] = 0x8000000000000000ULL;
    w[15] = 4096u * 8u;
    expand_wk(w, snp_page_pad_wk);
    /* PAGE_INFO is 0x70 = 112 bytes: 0x80 and the length do not fit after it in block 1
     * (112 + 1 + 16 > 128), so block 2 is all zeros but the bit length 896. */
    memset(w, 0, sizeof(w));
    w[15] = 112u * 8u;
    expand_wk(w, snp_pageinfo_pad_wk);
}

/* The 80 rounds, with the schedule computed in a 16-word ring. */
#define ROUND(a, b, c, d, e, f, g, h, wk)                                  \
    do {                                                                   \
        uint64_t t1_ = (h) + BSIG1(e) + CH(e, f, g) + (wk);                \
        uint64_t t2_ = BSIG0(a) + MAJ(a, b, c);                            \
        (d) += t1_;                                                        \
        (h) = t1_ + t2_;                                                   \
    } while (0)

void snp_sha512_compress_words(uint64_t st[8], const uint64_t win[16])
{
    uint64_t w[16];
    uint64_t a = st[0], b = st[1], c = st[2], d = st[3];
    uint64_t e = st[4], f = st[5], g = st[6], h = st[7];
    memcpy(w, win, sizeof(w));
    for (int t = 0; t < 80; t += 8) {
        if (t >= 16) {
            for (int i = 0; i < 8; i++) {
                int j = (t + i) & 15;
                w[j] += SSIG1(w[(j + 14) & 15]) + w[(j + 9) & 15] + SSIG0(w[(j + 1) & 15]);
            }
        }
        ROUND(a, b, c, d, e, f, g, h, w[(t + 0) & 15] + snp_K512[t + 0]);
        ROUND(h, a, b, c, d, e, f, g, w[(t + 1) & 15] + snp_K512[t + 1]);
        ROUND(g, h, a, b, c, d, e, f, w[(t + 2) & 15] + snp_K512[t + 2]);
        ROUND(f, g, h, a, b, c, d, e, w[(t + 3) & 15] + snp_K512[t + 3]);
        ROUND(e, f, g, h, a, b, c, d, w[(t + 4) & 15] + snp_K512[t + 4]);
        ROUND(d, e, f, g, h, a, b, c, w[(t + 5) & 15] + snp_K512[t + 5]);
        ROUND(c, d, e, f, g, h, a, b, w[(t + 6) & 15] + snp_K512[t + 6]);
        ROUND(b, c, d, e, f, g, h, a, w[(t + 7) & 15] + snp_K512[t + 7]);
    }
    st[0] += a; st[1] += b; st[2] += c; st[3] += d;
    st[4] += e; st[5] += f; st[6] += g; st[7] += h;
}

void snp_sha512_compress_wk(uint64_t st[8], const uint64_t wk[80])
{
    uint64_t a = st[0], b = st[1], c = st[2], d = st[3];
    uint64_t e = st[4], f = st[5], g = st[6], h = st[7];
    for (int t = 0; t < 80; t += 8) {
        ROUND(a, b, c, d, e, f, g, h, wk[t + 0]);
        ROUND(h, a, b, c, d, e, f, g, wk[t + 1]);
        ROUND(g, h, a, b, c, d, e, f, wk[t + 2]);
        ROUND(f, g, h, a, b, c, d, e, wk[t + 3]);
        ROUND(e, f, g, h, a, b, c, d, wk[t + 4]);
        ROUND(d, e, f, g, h, a, b, c, wk[t + 5]);
        ROUND(c, d, e, f, g, h, a, b, wk[t + 6]);
        ROUND(b, c, d, e, f, g, h, a, wk[t + 7]);
    }
    st[0] += a; st[1] += b; st[2] += c; st[3] += d;
    st[4] += e; st[5] += f; st[6] += g; st[7] += h;
}

void snp_sha512_compress(uint64_t st[8], const uint8_t *block)
{
    uint64_t w[16];
    for (int i = 0; i < 16; i++)
        w[i] = snp_load_be64(block + 8 * i);
    snp_sha512_compress_words(st, w);
}

void snp_sha384_page_portable(const uint8_t *page, uint64_t out[6])
{
    uint64_t st[8];
    memcpy(st, snp_IV384, sizeof(st));
    for (int blk = 0; blk < 4096 / 128; blk++)
        snp_sha512_compress(st, page + 128 * blk);
    snp_sha512_compress_wk(st, snp_page_pad_wk);
    memcpy(out, st, 6 * sizeof(uint64_t));
}

void snp_sha512_ctx_init(snp_sha512_ctx *c, const uint64_t iv[8])
{
    memcpy(c->h, iv, sizeof(c->h));
    c->nbytes = 0;
    c->buflen = 0;
}

void snp_sha512_ctx_update(snp_sha512_ctx *c, const uint8_t *data, size_t len)
{
    c->nbytes += (uint64_t)len;
    if (c->buflen) {
        size_t take = 128 - c->buflen;
        if (take > len)
            take = len;
        memcpy(c->buf + c->buflen, data, take);
        c->buflen += take;
        data += take;
        len -= take;
        if (c->buflen < 128)
            return;
        snp_sha512_compress(c->h, c->buf);
        c->buflen = 0;
    }
    while (len >= 128) {
        snp_sha512_compress(c->h, data);
        data += 128;
        len -= 128;
    }
    if (len) {
        memcpy(c->buf, data, len);
        c->buflen = len;
    }
}

void snp_sha512_ctx_final(snp_sha512_ctx *c, uint8_t *out, size_t outlen)
{
    /* 128-bit big-endian bit length: nbytes * 8 split into its high and low 64 bits. */
    uint64_t bits_lo = c->nbytes << 3;
    uint64_t bits_hi = c->nbytes >> 61;
    c->buf[c->buflen++] = 0x80;
    if (c->buflen > 112) {
        memset(c->buf + c->buflen, 0, 128 - c->buflen);
        snp_sha512_compress(c->h, c->buf);
        c->buflen = 0;
    }
    memset(c->buf + c->buflen, 0, 112 - c->buflen);
    snp_store_be64(c->buf + 112, bits_hi);
    snp_store_be64(c->buf + 120, bits_lo);
    snp_sha512_compress(c->h, c->buf);
    for (size_t i = 0; i < outlen / 8; i++)
        snp_store_be64(out + 8 * i, c->h[i]);
}
