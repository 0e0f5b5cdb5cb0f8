/* Internal SHA-384/512 interface shared by the C sources (not part of the cffi API). */
#ifndef SNPMEASURE_SHA512_H
#define SNPMEASURE_SHA512_H

#include <stddef.h>
#include <stdint.h>

extern const uint64_t snp_K512[80];
extern const uint64_t snp_IV384[8];
extern const uint64_t snp_IV512[8];

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

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SNP_HAVE_AVX2_KERNEL 1
/* SHA-384 of four 4096-byte pages at once (4-lane AVX2 multi-buffer); out[lane][6]. */
void snp_sha384_4pages_avx2(const uint8_t *const pages[4], uint64_t out[4][6]);
#endif

static inline uint64_t snp_load_be64(const uint8_t *p)
{
    return ((uint64_t)p[0] << 56) | ((uint64_t)p[1] << 48) | ((uint64_t)p[2] << 40) |
           ((uint64_t)p[3] << 32) | ((uint64_t)p[4] << 24) | ((uint64_t)p[5] << 16) |
           ((uint64_t)p[6] << 8) | (uint64_t)p[7];
}

static inline void snp_store_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

#endif
