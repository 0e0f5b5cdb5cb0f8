/* SHA-384 / SHA-512 in portable C99 (FIPS 180-4 §6.4), plus the precomputed schedules that the
 * launch digest uses: the constant padding block of a 4 KiB page and block 2 of a 112-byte PAGE_INFO.
 * Constants were generated from their definitions (fractional parts of cube / square roots of the
 * first primes) and are checked by the NIST vectors in tests/test_core_sha.py. */
#include <string.h>

#include "sha512.h"

uint64_t snp_page_pad_wk[80];
uint64_t snp_pageinfo_pad_wk[80];

static void expand_wk(const uint64_t w16[16], uint64_t wk[80])
{
    uint64_t w[80];
    for (int t = 0; t < 16; t++) w[t] = w16[t];
    for (int t = 16; t < 80; t++) w[t] = SSIG1(w[t - 2]) + w[t - 7] + SSIG0(w[t - 15]) + w[t - 16];
    for (int t = 0; t < 80; t++) wk[t] = w[t] + snp_K512[t];
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

/* The 80 rounds, with the schedule computed in a 16-word ring. ROUND evaluates wk exactly once:
 * rounds 16..79 pass a schedule update (SCHED) as wk. */
#define ROUND(a, b, c, d, e, f, g, h, wk)                                                                              \
    do {                                                                                                               \
        uint64_t t1_ = (h) + BSIG1(e) + CH(e, f, g) + (wk);                                                            \
        uint64_t t2_ = BSIG0(a) + MAJ(a, b, c);                                                                        \
        (d) += t1_;                                                                                                    \
        (h) = t1_ + t2_;                                                                                               \
    } while (0)

/* Rounds 16..79 compute their schedule word in place, in the round that uses it (as the AVX2
 * kernel does): gcc otherwise keeps a separate eight-word schedule loop rolled, with index
 * arithmetic; measured 8-9% faster per page. */
#define SCHED(t) (w[(t) &15] += SSIG1(w[((t) + 14) & 15]) + w[((t) + 9) & 15] + SSIG0(w[((t) + 1) & 15]))
#define WLOAD(t) w[(t) &15]
#define ROUNDS8(t, W)                                                                                                  \
    do {                                                                                                               \
        ROUND(a, b, c, d, e, f, g, h, W(t + 0) + snp_K512[t + 0]);                                                     \
        ROUND(h, a, b, c, d, e, f, g, W(t + 1) + snp_K512[t + 1]);                                                     \
        ROUND(g, h, a, b, c, d, e, f, W(t + 2) + snp_K512[t + 2]);                                                     \
        ROUND(f, g, h, a, b, c, d, e, W(t + 3) + snp_K512[t + 3]);                                                     \
        ROUND(e, f, g, h, a, b, c, d, W(t + 4) + snp_K512[t + 4]);                                                     \
        ROUND(d, e, f, g, h, a, b, c, W(t + 5) + snp_K512[t + 5]);                                                     \
        ROUND(c, d, e, f, g, h, a, b, W(t + 6) + snp_K512[t + 6]);                                                     \
        ROUND(b, c, d, e, f, g, h, a, W(t + 7) + snp_K512[t + 7]);                                                     \
    } while (0)

void snp_sha512_compress_words(uint64_t st[8], const uint64_t win[16])
{
    uint64_t w[16];
    uint64_t a = st[0], b = st[1], c = st[2], d = st[3];
    uint64_t e = st[4], f = st[5], g = st[6], h = st[7];
    memcpy(w, win, sizeof(w));
    for (int t = 0; t < 16; t += 8) ROUNDS8(t, WLOAD);
    for (int t = 16; t < 80; t += 8) ROUNDS8(t, SCHED);
    st[0] += a;
    st[1] += b;
    st[2] += c;
    st[3] += d;
    st[4] += e;
    st[5] += f;
    st[6] += g;
    st[7] += h;
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
    st[0] += a;
    st[1] += b;
    st[2] += c;
    st[3] += d;
    st[4] += e;
    st[5] += f;
    st[6] += g;
    st[7] += h;
}

void snp_sha512_compress(uint64_t st[8], const uint8_t *block)
{
    uint64_t w[16];
    for (int i = 0; i < 16; i++) w[i] = snp_load_be64(block + 8 * i);
    snp_sha512_compress_words(st, w);
}

void snp_sha384_page_portable(const uint8_t *page, uint64_t out[6])
{
    uint64_t st[8];
    memcpy(st, snp_IV384, sizeof(st));
    for (int blk = 0; blk < 4096 / 128; blk++) snp_sha512_compress(st, page + 128 * blk);
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
    c->nbytes += (uint64_t) len;
    if (c->buflen) {
        size_t take = 128 - c->buflen;
        if (take > len) take = len;
        memcpy(c->buf + c->buflen, data, take);
        c->buflen += take;
        data += take;
        len -= take;
        if (c->buflen < 128) return;
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
    for (size_t i = 0; i < outlen / 8; i++) snp_store_be64(out + 8 * i, c->h[i]);
}
