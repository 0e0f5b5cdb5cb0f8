/* The SEV-SNP launch digest: PAGE_INFO encoding, the digest chain, and threaded content hashing.
 *
 * For every 4 KiB page the firmware builds PAGE_INFO (SEV-SNP ABI spec Table 67, 0x70 bytes):
 *
 *   0x00  48  DIGEST_CUR   current launch digest GCTX.LD
 *   0x30  48  CONTENTS     SHA-384(page) for NORMAL and VMSA, 48 zero bytes for other types
 *   0x60   2  LENGTH       0x0070 (little-endian)
 *   0x62   1  PAGE_TYPE
 *   0x63   1  IMI_PAGE     bit 0
 *   0x64   1  VMPL3_PERMS  (note the order 3, 2, 1)
 *   0x65   1  VMPL2_PERMS
 *   0x66   1  VMPL1_PERMS
 *   0x67   1  reserved
 *   0x68   8  GPA          little-endian
 *
 * and sets GCTX.LD = SHA-384(PAGE_INFO). SHA-512 reads its message as big-endian 64-bit words, so
 * PAGE_INFO is never built as bytes here: words 0-5 are the digest, 6-11 the contents hash (both
 * kept as SHA state words), word 12 packs LENGTH..reserved, word 13 is the byte-swapped GPA,
 * words 14-15 the start of padding; block 2 is constant and pre-expanded (sha512.c).
 *
 * Page contents are independent, so they are hashed on worker threads in chunks while the calling
 * thread advances the serial chain over the finished prefix (docs/reference/zen3-performance.md §3.6, variant E).
 */
#define _GNU_SOURCE /* sched_getaffinity / CPU_COUNT (honour taskset, cpusets and containers); pthread_tryjoin_np */
#include <stddef.h>
#include <stdint.h>

#include "snpmeasure.h"
#include "sha512.h"
#ifdef SNP_HAVE_AVX2_KERNEL
#include <immintrin.h> /* chain_avx2's schedule; the rest of this file stays baseline x86-64 */
#endif

#include <pthread.h>
#include <sched.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Pages per work unit handed to a thread: at most 64 (32-64 measured best, docs/reference/zen3-performance.md §3.6
 * chunk sweep), down to MIN_CHUNK_PAGES for the last chunks of a region (plan_chunks). */
#define CHUNK_PAGES     64u
#define MIN_CHUNK_PAGES 8u
/* Pages per thread below which a second thread costs more than it saves: measured with
 * bench/digest.py --break-even (2 threads: 1.05x at 32 pages, 1.35x at 64, 1.5x at 128; docs/reference/zen3-performance.md
 * §6 item 2 suggested about 128);
 * adjustable for benchmarking with snp_min_pages_per_thread(). */
static _Atomic int min_pages_per_thread = 48;
/* Pages hashed per window: bounds the contents buffer to 48 B x WINDOW_PAGES (768 KiB). */
#define WINDOW_PAGES 16384u
#define MAX_THREADS  64
#if defined(__GLIBC__) && defined(CPU_COUNT) && !defined(SNP_NO_PLACE_WORKERS)
#define SNP_PLACE_WORKERS 1 /* see start_workers */
#else
#define SNP_PLACE_WORKERS 0
#endif

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static _Atomic int simd_kernel = SNP_SIMD_PORTABLE; /* may change while other threads hash */
static int cpu_features = 0;                        /* SNP_CPU_* bits; read-only after init */
/* SHA-384 of a page of 0x00 and of 0xFF bytes (see page_fill_byte); read-only after init. */
static uint64_t zero_page_hash[6], erased_page_hash[6];

int snp_simd_built(int kernel)
{
    switch (kernel) {
    case SNP_SIMD_PORTABLE:
        return 1;
#ifdef SNP_HAVE_AVX2_KERNEL
    case SNP_SIMD_AVX2:
        return 1;
#endif
#ifdef SNP_HAVE_AVX512_KERNEL
    case SNP_SIMD_AVX512:
        return 1;
#endif
    default:
        return 0;
    }
}

#define AVX512_FEATURES (SNP_CPU_AVX512F | SNP_CPU_AVX512VL | SNP_CPU_AVX512BW)

/* Before init completes: used by init_core itself. */
static int snp_simd_supported_nolock(int kernel)
{
    if (!snp_simd_built(kernel)) return 0;
    switch (kernel) {
    case SNP_SIMD_AVX2:
        return (cpu_features & SNP_CPU_AVX2) != 0;
    case SNP_SIMD_AVX512:
        return (cpu_features & AVX512_FEATURES) == AVX512_FEATURES;
    default:
        return 1;
    }
}

static void init_core(void)
{
    static const uint8_t zeros[4096];
    uint8_t ones[4096];

    snp_sha512_init_tables();
    memset(ones, 0xff, sizeof(ones));
    snp_sha384_page_portable(zeros, zero_page_hash);
    snp_sha384_page_portable(ones, erased_page_hash);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    /* libgcc's (and compiler-rt's) checks include the OS saving the register state (XGETBV:
     * YMM for AVX2, opmask/ZMM for AVX-512), not just the CPUID bits. */
    __builtin_cpu_init();
    /* Each name only where build_ffi.py's probe found the compiler knows it (it probes the
     * feature names with the kernels): an older compiler rejects unknown ones. */
#ifdef SNP_HAVE_AVX2_KERNEL
    cpu_features |=
        (__builtin_cpu_supports("avx2") ? SNP_CPU_AVX2 : 0) | (__builtin_cpu_supports("bmi2") ? SNP_CPU_BMI2 : 0);
#endif
#ifdef SNP_HAVE_AVX512_KERNEL
    cpu_features |= (__builtin_cpu_supports("avx512f") ? SNP_CPU_AVX512F : 0) |
                    (__builtin_cpu_supports("avx512vl") ? SNP_CPU_AVX512VL : 0) |
                    (__builtin_cpu_supports("avx512bw") ? SNP_CPU_AVX512BW : 0);
#endif
#endif
    simd_kernel = snp_simd_supported_nolock(SNP_SIMD_AVX512) ? SNP_SIMD_AVX512
                  : snp_simd_supported_nolock(SNP_SIMD_AVX2) ? SNP_SIMD_AVX2
                                                             : SNP_SIMD_PORTABLE;
}

static void ensure_init(void)
{
    pthread_once(&init_once, init_core);
}

const char *snp_strerror(int code)
{
    switch (code) {
    case SNP_OK:
        return "success";
    case SNP_ERR_LENGTH:
        return "length must be a multiple of 4096 bytes";
    case SNP_ERR_GPA_ALIGN:
        return "gpa must be aligned to 4096 bytes";
    case SNP_ERR_GPA_WRAP:
        return "gpa + length must not exceed 2**64";
    case SNP_ERR_PAGE_TYPE:
        return "page_type must be one of 1..6 (NORMAL, VMSA, ZERO, UNMEASURED, SECRETS, CPUID)";
    case SNP_ERR_NULL_DATA:
        return "data is required for NORMAL and VMSA pages";
    case SNP_ERR_IMI:
        return "imi must be 0 or 1";
    case SNP_ERR_NOMEM:
        return "out of memory";
    case SNP_ERR_NULL_ARG:
        return "a required pointer argument is NULL";
    case SNP_ERR_THREADS:
        return "nthreads must be 0 (all CPUs) or positive";
    case SNP_ERR_SIMD:
        return "that content-hashing kernel is not available on this CPU or build";
    case SNP_ERR_TOO_LARGE:
        return "the region is larger than this machine's address space";
    case SNP_ERR_REPEAT:
        return "count must be at most SNP_MAX_REPEAT (16777216)";
    case SNP_ERR_BOUNDS:
        return "off, end and data_start must lie within the file (off <= end), and max_regions must be positive";
    default:
        return "unknown error";
    }
}

int snp_simd_supported(int kernel)
{
    ensure_init();
    return snp_simd_supported_nolock(kernel);
}

int snp_cpu_features(void)
{
    ensure_init();
    return cpu_features;
}

int snp_simd_get(void)
{
    ensure_init();
    return simd_kernel;
}

int snp_simd_set(int kernel)
{
    ensure_init();
    if (snp_simd_supported_nolock(kernel)) {
        simd_kernel = kernel;
        return SNP_OK;
    }
    return SNP_ERR_SIMD;
}

int snp_min_pages_per_thread(int pages)
{
    if (pages <= 0) return atomic_load_explicit(&min_pages_per_thread, memory_order_relaxed);
    return atomic_exchange_explicit(&min_pages_per_thread, pages, memory_order_relaxed);
}

int snp_online_cpus(void)
{
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n < MAX_THREADS ? n : MAX_THREADS;
    }
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int) (n < MAX_THREADS ? n : MAX_THREADS) : 1;
}

static int sha2_oneshot(const uint64_t iv[8], const uint8_t *data, size_t len, uint8_t *out, size_t outlen)
{
    snp_sha512_ctx c;
    if ((data == NULL && len) || out == NULL) return SNP_ERR_NULL_ARG;
    snp_sha512_ctx_init(&c, iv);
    snp_sha512_ctx_update(&c, data, len);
    snp_sha512_ctx_final(&c, out, outlen);
    return SNP_OK;
}

int snp_sha384(const uint8_t *data, size_t len, uint8_t *out48)
{
    return sha2_oneshot(snp_IV384, data, len, out48, 48);
}

int snp_sha512(const uint8_t *data, size_t len, uint8_t *out64)
{
    return sha2_oneshot(snp_IV512, data, len, out64, 64);
}

/* ---- content hashing -------------------------------------------------------------------- */

/* Firmware images are mostly pages of one repeated byte: erased flash (0xFF) is 57-63% of the
 * pages of every OVMF build in tests/fixtures and Debian's ovmf package, and payloads carry zero
 * fill. Such a page's hash depends on that byte alone, so it is hashed once, not per page. The test
 * costs a few cycles on other pages (the first 8 bytes usually differ) and a 4 KiB compare on a
 * fill page, against about 4 us to hash one.
 *
 * 0x00 and 0xFF pages use hashes computed at init; another fill byte is hashed once per chunk.
 *
 * Returns the fill byte (0..255), or -1 if the page holds different bytes. */
static int page_fill_byte(const uint8_t *p)
{
    uint64_t head;
    memcpy(&head, p, 8);
    if (head != p[0] * 0x0101010101010101ULL) return -1;
    /* All 8 leading bytes are equal and every byte equals the one 8 further on: one value. */
    return memcmp(p, p + 8, 4096 - 8) == 0 ? p[0] : -1;
}

typedef struct {
    int byte; /* fill byte whose hash is cached, -1: none */
    uint64_t hash[6];
} fill_cache;

static void fill_page_hash(const uint8_t *page, int byte, fill_cache *fc, uint64_t out[6])
{
    const uint64_t *h;
    if (byte == 0x00) {
        h = zero_page_hash;
    } else if (byte == 0xff) {
        h = erased_page_hash;
    } else {
        if (fc->byte != byte) {
            snp_sha384_page_portable(page, fc->hash);
            fc->byte = byte;
        }
        h = fc->hash;
    }
    memcpy(out, h, 6 * sizeof(uint64_t));
}

/* Pages a kernel takes per call: the pipeline plans chunks in multiples of it. */
static uint64_t kernel_lanes(int kernel)
{
    return kernel == SNP_SIMD_AVX512 ? 16u : kernel == SNP_SIMD_AVX2 ? 4u : 1u;
}

#ifdef SNP_HAVE_AVX2_KERNEL
typedef void (*lanes_fn)(const uint8_t *const *pages, uint64_t (*out)[6]);

/* Calls a `width`-lane kernel on the first `k` (1..width) of p[]; unused lanes repeat page 0. */
static void call_lanes(lanes_fn fn, int width, const uint8_t *const *p, const uint64_t *idx, int k, uint64_t (*out)[6])
{
    const uint8_t *lane[16];
    uint64_t lane_out[16][6];
    for (int l = 0; l < width; l++) lane[l] = p[l < k ? l : 0];
    fn(lane, lane_out);
    for (int l = 0; l < k; l++) memcpy(out[idx[l]], lane_out[l], sizeof(lane_out[l]));
}

#endif

/* Hashes n (1..kernel_lanes) collected pages p[i] into out[idx[i]]: a full batch in one call, a
 * shorter one with the cheapest calls that cover it. */
static void hash_lanes(const uint8_t *const *p, const uint64_t *idx, int n, uint64_t (*out)[6], int kernel)
{
#ifdef SNP_HAVE_AVX512_KERNEL
    if (kernel == SNP_SIMD_AVX512) {
        /* A 16-page call costs about 1.5 8-page calls and an 8-page call about two 4-page calls
         * (docs/reference/performance.md, "AVX-512"), so: 12-16 pages one 16-page call, 8-11 an
         * 8-page call and the rest, 5-7 one 8-page call, 2-4 one 4-page call, 1 the portable
         * kernel (faster than any call for one page). */
        while (n > 0) {
            int k = n >= 12 ? (n < 16 ? n : 16) : n >= 5 ? (n < 8 ? n : 8) : n >= 2 ? n : 1;
            if (k >= 12)
                call_lanes(snp_sha384_16pages_avx512, 16, p, idx, k, out);
            else if (k >= 5)
                call_lanes(snp_sha384_8pages_avx512, 8, p, idx, k, out);
            else if (k >= 2)
                call_lanes(snp_sha384_4pages_avx512vl, 4, p, idx, k, out);
            else
                snp_sha384_page_portable(p[0], out[idx[0]]);
            p += k;
            idx += k;
            n -= k;
        }
        return;
    }
#endif
#ifdef SNP_HAVE_AVX2_KERNEL
    /* One page is cheaper on the portable kernel; two or three fill the lanes with a repeat of
     * the first (about 1.5 portable pages' time for all four lanes). */
    if (kernel == SNP_SIMD_AVX2 && n > 1) {
        call_lanes(snp_sha384_4pages_avx2, 4, p, idx, n, out);
        return;
    }
#endif
    (void) kernel;
    for (int i = 0; i < n; i++) snp_sha384_page_portable(p[i], out[idx[i]]);
}

/* SHA-384 of n consecutive pages into out[n][6], with the selected kernel. Fill pages take their
 * cached hash; the other pages go to the kernel a batch of its lanes at a time, in order. */
static void hash_pages_serial(const uint8_t *data, uint64_t n, uint64_t (*out)[6], int kernel)
{
    fill_cache fc = {-1, {0}};
    const uint8_t *lane[16];
    uint64_t lane_page[16];
    int lanes = 0, width = (int) kernel_lanes(kernel);

    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *p = data + i * 4096u;
        int byte = page_fill_byte(p);
        if (byte >= 0) {
            fill_page_hash(p, byte, &fc, out[i]);
            continue;
        }
        lane[lanes] = p;
        lane_page[lanes++] = i;
        if (lanes == width) {
            hash_lanes(lane, lane_page, lanes, out, kernel);
            lanes = 0;
        }
    }
    if (lanes) hash_lanes(lane, lane_page, lanes, out, kernel);
}

/* ---- the chain -------------------------------------------------------------------------- */

static inline uint64_t bswap64(uint64_t v)
{
    return __builtin_bswap64(v);
}

/* Word 12 of PAGE_INFO: bytes 0x60..0x67 = 70 00 type imi vmpl3 vmpl2 vmpl1 00, big-endian. */
static inline uint64_t pageinfo_word12(uint8_t type, uint8_t imi, uint8_t v1, uint8_t v2, uint8_t v3)
{
    return (0x70ULL << 56) | ((uint64_t) type << 40) | ((uint64_t) imi << 32) | ((uint64_t) v3 << 24) |
           ((uint64_t) v2 << 16) | ((uint64_t) v1 << 8);
}

/* The serial chain over n pages: ld = SHA-384(PAGE_INFO(ld, contents[i], ..., gpa + i*gpa_step)).
 * contents advances by contents_step entries (0: the same contents for every page, as for
 * zero-content types and repeated VMSAs); trail, if not NULL, receives the digest after each page.
 *
 * It is the latency-critical loop (docs/reference/zen3-performance.md §3.4): both compressions are fully unrolled so
 * the state stays in registers and K[t] become immediates; block 2 uses the pre-expanded W+K of
 * the constant padding block. Two versions: chain_generic (baseline x86-64 and other CPUs; the
 * portable kernel setting selects it everywhere, so SNPMEASURE_SIMD=off tests it) and chain_avx2. */
typedef void (*chain_fn)(uint64_t ld[6], const uint64_t (*contents)[6], uint64_t contents_step, uint64_t n,
                         uint64_t w12, uint64_t gpa, uint64_t gpa_step, uint8_t *trail);

/* One SHA-512 round (FIPS 180-4 §6.4.2 step 3) on the locals a..h, cc standing for c. */
#define CHAIN_ROUND(wkt)                                                                                               \
    do {                                                                                                               \
        uint64_t t1_ = h + BSIG1(e) + CH(e, f, g) + (wkt);                                                             \
        uint64_t t2_ = BSIG0(a) + MAJ(a, b, cc);                                                                       \
        h = g;                                                                                                         \
        g = f;                                                                                                         \
        f = e;                                                                                                         \
        e = d + t1_;                                                                                                   \
        d = cc;                                                                                                        \
        cc = b;                                                                                                        \
        b = a;                                                                                                         \
        a = t1_ + t2_;                                                                                                 \
    } while (0)

/* Block 1's 16 message words: PAGE_INFO words 0-13, then 0x80 and zeros (the length is in block 2). */
#define CHAIN_MESSAGE(w, c, i)                                                                                         \
    uint64_t w[16] = {ld[0],                                                                                           \
                      ld[1],                                                                                           \
                      ld[2],                                                                                           \
                      ld[3],                                                                                           \
                      ld[4],                                                                                           \
                      ld[5],                                                                                           \
                      c[0],                                                                                            \
                      c[1],                                                                                            \
                      c[2],                                                                                            \
                      c[3],                                                                                            \
                      c[4],                                                                                            \
                      c[5],                                                                                            \
                      w12,                                                                                             \
                      bswap64(gpa + (i) *gpa_step),                                                                    \
                      0x8000000000000000ULL,                                                                           \
                      0}

#define CHAIN_IV                                                                                                       \
    uint64_t a = snp_IV384[0], b = snp_IV384[1], cc = snp_IV384[2], d = snp_IV384[3];                                  \
    uint64_t e = snp_IV384[4], f = snp_IV384[5], g = snp_IV384[6], h = snp_IV384[7]

/* After block 1's rounds: feed forward, block 2 (zeros and the bit length: W+K pre-expanded),
 * feed forward again into the new digest. */
#define CHAIN_BLOCK2(i)                                                                                                \
    do {                                                                                                               \
        uint64_t s0 = snp_IV384[0] + a, s1 = snp_IV384[1] + b, s2 = snp_IV384[2] + cc;                                 \
        uint64_t s3 = snp_IV384[3] + d, s4 = snp_IV384[4] + e, s5 = snp_IV384[5] + f;                                  \
        a = s0;                                                                                                        \
        b = s1;                                                                                                        \
        cc = s2;                                                                                                       \
        d = s3;                                                                                                        \
        e = s4;                                                                                                        \
        f = s5;                                                                                                        \
        g = snp_IV384[6] + g;                                                                                          \
        h = snp_IV384[7] + h;                                                                                          \
        _Pragma("GCC unroll 80") for (int t = 0; t < 80; t++) CHAIN_ROUND(snp_pageinfo_pad_wk[t]);                     \
        ld[0] = s0 + a;                                                                                                \
        ld[1] = s1 + b;                                                                                                \
        ld[2] = s2 + cc;                                                                                               \
        ld[3] = s3 + d;                                                                                                \
        ld[4] = s4 + e;                                                                                                \
        ld[5] = s5 + f;                                                                                                \
        if (trail != NULL) ld_to_bytes(trail + 48u * (i), ld);                                                         \
    } while (0)

static void ld_to_bytes(uint8_t *digest, const uint64_t ld[6]);

/* The schedule is computed in the round that consumes it, in a 16-word ring. */
static void chain_generic(uint64_t ld[6], const uint64_t (*contents)[6], uint64_t contents_step, uint64_t n,
                          uint64_t w12, uint64_t gpa, uint64_t gpa_step, uint8_t *trail)
{
    for (uint64_t i = 0; i < n; i++) {
        const uint64_t *c = contents[i * contents_step];
        CHAIN_MESSAGE(w, c, i);
        CHAIN_IV;
        _Pragma("GCC unroll 80") for (int t = 0; t < 80; t++)
        {
            if (t >= 16) w[t & 15] += SSIG1(w[(t - 2) & 15]) + w[(t - 7) & 15] + SSIG0(w[(t - 15) & 15]);
            CHAIN_ROUND(snp_K512[t] + w[t & 15]);
        }
        CHAIN_BLOCK2(i);
    }
}

#ifdef SNP_HAVE_AVX2_KERNEL
/* With AVX2 and BMI2: rorx (a non-destructive rotate) in the rounds, and block 1's message
 * schedule on the vector unit, two words per step in 128-bit registers, stored as W+K for the
 * rounds to load. The rounds keep the four integer pipes busy; the schedule took about a sixth of
 * their operations and the vector pipes are idle here. One schedule step follows each of the
 * first 32 rounds, far ahead of its use. Measured against the same rounds with the schedule in
 * integer registers (round-robin in one process, 16384 pages): 7-8% faster per page with gcc 12,
 * about 1% with clang 14. */
#define XROR(x, k) _mm_or_si128(_mm_srli_epi64((x), (k)), _mm_slli_epi64((x), 64 - (k)))
/* sigma0 and sigma1 (FIPS 180-4 4.12-4.13) on two words; sigma0's rotate by 8 is a byte shuffle
 * (the caller holds its mask in a local `ror8`). */
#define XSIG0_AVX2(m) _mm_xor_si128(_mm_xor_si128(XROR(m, 1), _mm_shuffle_epi8(m, ror8)), _mm_srli_epi64(m, 7))
#define XSIG1_AVX2(m) _mm_xor_si128(_mm_xor_si128(XROR(m, 19), XROR(m, 61)), _mm_srli_epi64(m, 6))
/* Words 2j and 2j+1 into x[j & 7]: W[t] = sigma1(W[t-2]) + W[t-7] + sigma0(W[t-15]) + W[t-16].
 * x[k] holds (W[2k], W[2k+1]) of the ring (low lane first); the odd pairs W[t-15..t-14] and
 * W[t-7..t-6] straddle two registers (alignr). */
#define CHAIN_SCHED_PAIR(j, SIG0, SIG1)                                                                                \
    do {                                                                                                               \
        __m128i m2_ = x[((j) -1) & 7], m16_ = x[((j) -8) & 7];                                                         \
        __m128i m15_ = _mm_alignr_epi8(x[((j) -7) & 7], m16_, 8);                                                      \
        __m128i m7_ = _mm_alignr_epi8(x[((j) -3) & 7], x[((j) -4) & 7], 8);                                            \
        __m128i s0_ = SIG0(m15_), s1_ = SIG1(m2_);                                                                     \
        x[(j) &7] = _mm_add_epi64(_mm_add_epi64(m16_, s0_), _mm_add_epi64(m7_, s1_));                                  \
        _mm_store_si128(                                                                                               \
            (__m128i *) (void *) (wk + 2 * (j)),                                                                       \
            _mm_add_epi64(x[(j) &7], _mm_loadu_si128((const __m128i *) (const void *) (snp_K512 + 2 * (j)))));         \
    } while (0)

/* The body of chain_avx2 and chain_avx512: they differ in the schedule's sigma functions. */
#define CHAIN_VECTOR_SCHEDULE(SIG0, SIG1)                                                                              \
    uint64_t wk[80] __attribute__((aligned(16)));                                                                      \
    for (uint64_t i = 0; i < n; i++) {                                                                                 \
        const uint64_t *c = contents[i * contents_step];                                                               \
        CHAIN_MESSAGE(w, c, i);                                                                                        \
        __m128i x[8];                                                                                                  \
        for (int k = 0; k < 8; k++) x[k] = _mm_set_epi64x((long long) w[2 * k + 1], (long long) w[2 * k]);             \
        CHAIN_IV;                                                                                                      \
        _Pragma("GCC unroll 80") for (int t = 0; t < 80; t++)                                                          \
        {                                                                                                              \
            CHAIN_ROUND(t < 16 ? w[t & 15] + snp_K512[t] : wk[t]);                                                     \
            if (t < 32) CHAIN_SCHED_PAIR(t + 8, SIG0, SIG1);                                                           \
        }                                                                                                              \
        CHAIN_BLOCK2(i);                                                                                               \
    }

__attribute__((target("avx2,bmi2"))) static void chain_avx2(uint64_t ld[6], const uint64_t (*contents)[6],
                                                            uint64_t contents_step, uint64_t n, uint64_t w12,
                                                            uint64_t gpa, uint64_t gpa_step, uint8_t *trail)
{
    const __m128i ror8 = _mm_set_epi8(8, 15, 14, 13, 12, 11, 10, 9, 0, 7, 6, 5, 4, 3, 2, 1);
    CHAIN_VECTOR_SCHEDULE(XSIG0_AVX2, XSIG1_AVX2)
}
#endif

#ifdef SNP_HAVE_AVX512_KERNEL
/* With AVX-512VL the schedule's rotates are single vprorq instructions and each three-way xor one
 * vpternlogq (0x96), on xmm: 4 ops per sigma instead of 6-7. Measured on Zen 5 with prototypes
 * (reference): 1.36x chain_avx2 per PAGE_INFO with gcc 12. The rounds stay scalar (rorx). */
#define XSIG0_AVX512(m) _mm_ternarylogic_epi64(_mm_ror_epi64(m, 1), _mm_ror_epi64(m, 8), _mm_srli_epi64(m, 7), 0x96)
#define XSIG1_AVX512(m) _mm_ternarylogic_epi64(_mm_ror_epi64(m, 19), _mm_ror_epi64(m, 61), _mm_srli_epi64(m, 6), 0x96)

__attribute__((target("avx2,bmi2,avx512f,avx512vl"))) static void
chain_avx512(uint64_t ld[6], const uint64_t (*contents)[6], uint64_t contents_step, uint64_t n, uint64_t w12,
             uint64_t gpa, uint64_t gpa_step, uint8_t *trail)
{
    CHAIN_VECTOR_SCHEDULE(XSIG0_AVX512, XSIG1_AVX512)
}
#endif

/* The chain for a content kernel: SNP_SIMD_PORTABLE keeps everything on the portable code. The
 * vector chains need BMI2 (rorx) too; every CPU with AVX-512 known has it, but it is checked. */
static chain_fn chain_impl(int kernel)
{
#ifdef SNP_HAVE_AVX512_KERNEL
    if (kernel == SNP_SIMD_AVX512 && (cpu_features & SNP_CPU_BMI2)) return chain_avx512;
#endif
#ifdef SNP_HAVE_AVX2_KERNEL
    if ((kernel == SNP_SIMD_AVX2 || kernel == SNP_SIMD_AVX512) && (cpu_features & SNP_CPU_BMI2)) return chain_avx2;
#endif
    (void) kernel;
    return chain_generic;
}

/* Which chain chain_impl picks for the active kernel: for snp_chain_get. */
int snp_chain_get(void)
{
    ensure_init();
    chain_fn c = chain_impl(atomic_load_explicit(&simd_kernel, memory_order_relaxed));
    (void) c; /* unused in a portable-only build */
#ifdef SNP_HAVE_AVX512_KERNEL
    if (c == chain_avx512) return SNP_SIMD_AVX512;
#endif
#ifdef SNP_HAVE_AVX2_KERNEL
    if (c == chain_avx2) return SNP_SIMD_AVX2;
#endif
    return SNP_SIMD_PORTABLE;
}

static int current_kernel(void)
{
    return atomic_load_explicit(&simd_kernel, memory_order_relaxed);
}

static void ld_from_bytes(uint64_t ld[6], const uint8_t *digest)
{
    for (int i = 0; i < 6; i++) ld[i] = snp_load_be64(digest + 8 * i);
}

static void ld_to_bytes(uint8_t *digest, const uint64_t ld[6])
{
    for (int i = 0; i < 6; i++) snp_store_be64(digest + 8 * i, ld[i]);
}

/* ---- the thread pipeline ---------------------------------------------------------------- */

typedef struct {
    const uint8_t *data; /* first page of the window */
    uint64_t npages;     /* pages in the window */
    uint64_t nchunks;
    const uint64_t *first;   /* first[c]: chunk c's first page; first[nchunks] == npages */
    uint64_t (*contents)[6]; /* npages hashes */
    atomic_uint_fast64_t next_chunk;
    atomic_uchar *done; /* per chunk: 1 once its hashes are written */
    int kernel;
#if SNP_PLACE_WORKERS
    int place; /* 1: workers widen their affinity to `allowed` (start_workers) */
    cpu_set_t allowed;
#endif
} window_job;

/* Chunk boundaries. About 16 chunks per thread, 8..64 pages each, a multiple of the kernel's
 * lanes (4 for AVX2, 16 for AVX-512; the minimum rises to one 16-page call): 32-64 pages measured best (docs/reference/zen3-performance.md section 3.6), and an even size keeps the
 * threads balanced when the cost per page is not (pages of one fill byte cost almost nothing, and
 * firmware has them in long runs). Only the last chunks shrink, to about half of what each thread
 * has left down to MIN_CHUNK_PAGES (about 30 us of hashing), so the threads finish close together
 * even when one vCPU runs slower. first needs room for npages / MIN_CHUNK_PAGES + 2 entries.
 * Returns the number of chunks. */
static uint64_t plan_chunks(uint64_t npages, int threads, uint64_t lanes, uint64_t *first)
{
    uint64_t mask = ~(lanes - 1), least = lanes > MIN_CHUNK_PAGES ? lanes : MIN_CHUNK_PAGES;
    uint64_t even = (npages / (16u * (uint64_t) threads)) & mask, n = 0;
    even = even < least ? least : even > CHUNK_PAGES ? CHUNK_PAGES : even;
    for (uint64_t at = 0; at < npages;) {
        uint64_t left = npages - at;
        uint64_t size = (left / (2u * (uint64_t) threads)) & mask;
        size = size < least ? least : size > even ? even : size;
        first[n++] = at;
        at += size < left ? size : left;
    }
    first[n] = npages;
    return n;
}

/* Hashes one chunk; returns 0 once there are none left. */
static int work_one_chunk(window_job *j)
{
    uint64_t c = atomic_fetch_add_explicit(&j->next_chunk, 1, memory_order_relaxed);
    if (c >= j->nchunks) return 0;
    uint64_t first = j->first[c];
    hash_pages_serial(j->data + first * 4096u, j->first[c + 1] - first, j->contents + first, j->kernel);
    atomic_store_explicit(&j->done[c], 1, memory_order_release);
    return 1;
}

static void *worker_main(void *arg)
{
    window_job *j = arg;
#if SNP_PLACE_WORKERS
    if (j->place) /* started away from the caller's CPU: from here on, anywhere allowed */
        pthread_setaffinity_np(pthread_self(), sizeof(j->allowed), &j->allowed);
#endif
    while (work_one_chunk(j)) {
    }
    return NULL;
}

/* Starts nthreads - 1 workers; returns how many started (failures only reduce parallelism).
 *
 * Linux queued a new thread on its creator's CPU on our 2-vCPU VM (kernel 6.18): it ran only
 * when the creator blocked or the load balancer moved it, 0.8-3 ms later, while the creator kept
 * hashing; a 4 MiB region lasts 2-3 ms. So each worker is created with an affinity that excludes
 * the caller's current CPU (it starts on another one, 70-150 us after creation) and widens its
 * affinity to the caller's allowed CPUs once running. Only with glibc (pthread_attr_setaffinity_np)
 * and when there is another CPU to go to. */
static int start_workers(window_job *j, int nthreads, pthread_t *tids)
{
    int started = 0;
    pthread_attr_t *pattr = NULL;
#if SNP_PLACE_WORKERS
    pthread_attr_t attr;
    cpu_set_t others;
    int me = sched_getcpu();
    j->place = 0;
    /* Not with more threads than CPUs: a worker that may not use the caller's CPU until it first
     * runs could then wait behind the others while the caller finishes alone. */
    if (nthreads > 1 && me >= 0 && me < CPU_SETSIZE && sched_getaffinity(0, sizeof(j->allowed), &j->allowed) == 0 &&
        nthreads <= CPU_COUNT(&j->allowed)) {
        others = j->allowed;
        CPU_CLR((size_t) me, &others);
        if (CPU_COUNT(&others) > 0 && pthread_attr_init(&attr) == 0) {
            if (pthread_attr_setaffinity_np(&attr, sizeof(others), &others) == 0) {
                pattr = &attr;
                j->place = 1;
            } else {
                pthread_attr_destroy(&attr);
            }
        }
    }
#endif
    for (int t = 1; t < nthreads; t++) {
        /* a placement the system refuses must not cost the thread */
        if (pthread_create(&tids[started], pattr, worker_main, j) != 0 &&
            (pattr == NULL || pthread_create(&tids[started], NULL, worker_main, j) != 0))
            break;
        started++;
    }
    if (pattr != NULL) pthread_attr_destroy(pattr);
    return started;
}

/* Waits for a worker to exit. pthread_join sleeps, and waking the caller's idle vCPU cost 50-70 us
 * after the worker's last chunk on this kind of VM (about 2.5% of a 4 MiB region). When every
 * thread has a CPU the wait is about one chunk, so poll instead; sched_yield hands the CPU over
 * when a worker shares it. The thread is gone on return (no detached threads: CPython 3.12+ warns
 * on os.fork() whenever /proc counts more than one thread). pthread_tryjoin_np is a GNU extension
 * (glibc; musl has it too, but names no macro to test): elsewhere, pthread_join. */
static void join_worker(pthread_t tid)
{
#if defined(__GLIBC__)
    int rc;
    while ((rc = pthread_tryjoin_np(tid, NULL)) == EBUSY) sched_yield();
    if (rc != 0) /* not expected for a thread this function started; join it the plain way */
        pthread_join(tid, NULL);
#else
    pthread_join(tid, NULL);
#endif
}

typedef struct {
    uint64_t *ld; /* NULL: hash only */
    uint64_t w12;
    uint64_t gpa; /* GPA of the window's first page */
} chain_ctx;

/* Runs one window on `nthreads` threads (the caller is one of them). With a chain context the
 * caller advances the chain over every finished prefix between its own chunks. It returns once
 * every chunk is hashed (and chained) and no worker touches the job any more. Thread-start
 * failures only reduce parallelism. */
static void run_window(window_job *j, int nthreads, chain_ctx *cc)
{
    pthread_t tids[MAX_THREADS];
    int started = start_workers(j, nthreads, tids);

    if (cc == NULL) {
        while (work_one_chunk(j)) {
        }
    } else {
        /* Chain first: the chain is the serial bottleneck, so the calling thread advances it
         * whenever the next chunk is ready, hashes a chunk when it is not, and waits only when
         * every chunk is claimed. Nothing is left to chain after the join. */
        uint64_t chained = 0;
        chain_fn chain = chain_impl(j->kernel);
        while (chained < j->nchunks) {
            if (atomic_load_explicit(&j->done[chained], memory_order_acquire)) {
                uint64_t first = j->first[chained];
                chain(cc->ld, (const uint64_t(*)[6])(j->contents + first), 1, j->first[chained + 1] - first, cc->w12,
                      cc->gpa + first * 4096u, 4096u, NULL);
                chained++;
            } else if (!work_one_chunk(j)) {
                sched_yield();
            }
        }
    }
    for (int t = 0; t < started; t++) join_worker(tids[t]);
}

static int effective_threads(int nthreads, uint64_t npages)
{
    if (nthreads == 0) nthreads = snp_online_cpus();
    if (nthreads > MAX_THREADS) nthreads = MAX_THREADS;
    uint64_t per = (uint64_t) atomic_load_explicit(&min_pages_per_thread, memory_order_relaxed);
    uint64_t useful = (npages + per - 1) / per;
    if (useful < 1) useful = 1;
    return (uint64_t) nthreads < useful ? nthreads : (int) useful;
}

/* Hashes (and, with cc, chains) npages pages in windows. */
static int hash_region(const uint8_t *data, uint64_t npages, int nthreads, chain_ctx *cc, uint8_t *out_bytes)
{
    if (npages == 0) return SNP_OK;
    uint64_t window = npages < WINDOW_PAGES ? npages : WINDOW_PAGES;
    uint64_t nchunks_max = window / MIN_CHUNK_PAGES + 1;
    uint64_t(*contents)[6] = malloc((size_t) window * sizeof(*contents));
    atomic_uchar *done = malloc((size_t) nchunks_max * sizeof(*done));
    uint64_t *first = malloc((size_t) (nchunks_max + 1) * sizeof(*first));
    if (contents == NULL || done == NULL || first == NULL) {
        free(contents);
        free((void *) done);
        free(first);
        return SNP_ERR_NOMEM;
    }
    for (uint64_t base = 0; base < npages; base += window) {
        window_job j;
        j.data = data + base * 4096u;
        j.npages = npages - base < window ? npages - base : window;
        int threads = effective_threads(nthreads, j.npages);
        j.kernel = current_kernel();
        j.nchunks = plan_chunks(j.npages, threads, kernel_lanes(j.kernel), first);
        j.first = first;
        j.contents = contents;
        atomic_init(&j.next_chunk, 0);
        j.done = done;
        for (uint64_t c = 0; c < j.nchunks; c++) atomic_init(&done[c], 0);
        if (cc != NULL) {
            chain_ctx wcc = {cc->ld, cc->w12, cc->gpa + base * 4096u};
            run_window(&j, threads, &wcc);
        } else {
            run_window(&j, threads, NULL);
            for (uint64_t i = 0; i < j.npages; i++)
                for (int k = 0; k < 6; k++)
                    snp_store_be64(out_bytes + 48u * (base + i) + 8u * (unsigned) k, contents[i][k]);
        }
    }
    free(contents);
    free((void *) done);
    free(first);
    return SNP_OK;
}

int snp_hash_pages(const uint8_t *data, uint64_t npages, uint8_t *out, int nthreads)
{
    ensure_init();
    if (nthreads < 0) return SNP_ERR_THREADS;
    if (npages == 0) return SNP_OK;
    if (data == NULL || out == NULL) return SNP_ERR_NULL_ARG;
    if (npages > SIZE_MAX / 4096u) return SNP_ERR_TOO_LARGE;
    return hash_region(data, npages, nthreads, NULL, out);
}

static int has_contents(uint8_t page_type)
{
    return page_type == SNP_PAGE_NORMAL || page_type == SNP_PAGE_VMSA;
}

static int check_common(const uint8_t *digest, uint8_t page_type, uint64_t gpa, uint8_t imi)
{
    if (digest == NULL) return SNP_ERR_NULL_ARG;
    if (page_type < SNP_PAGE_NORMAL || page_type > SNP_PAGE_CPUID) return SNP_ERR_PAGE_TYPE;
    if (gpa & 0xfffu) return SNP_ERR_GPA_ALIGN;
    if (imi > 1) return SNP_ERR_IMI;
    return SNP_OK;
}

int snp_ld_update(uint8_t *digest, uint8_t page_type, uint64_t gpa, const uint8_t *data, uint64_t length, uint8_t imi,
                  uint8_t vmpl1_perms, uint8_t vmpl2_perms, uint8_t vmpl3_perms, int nthreads)
{
    int rc;
    uint64_t ld[6];

    ensure_init();
    if ((rc = check_common(digest, page_type, gpa, imi)) != SNP_OK) return rc;
    if (length % 4096u) return SNP_ERR_LENGTH;
    /* The last page starts at gpa + length - 4096 and must still be a 64-bit GPA. */
    if (length && length - 1 > UINT64_MAX - gpa) return SNP_ERR_GPA_WRAP;
    if (nthreads < 0) return SNP_ERR_THREADS;
    if (length == 0) return SNP_OK;
    if (has_contents(page_type) && data == NULL) return SNP_ERR_NULL_DATA;
    if (has_contents(page_type) && length > SIZE_MAX) return SNP_ERR_TOO_LARGE;

    /* Work on a copy: the caller's digest changes only when the whole region succeeded. */
    ld_from_bytes(ld, digest);
    uint64_t w12 = pageinfo_word12(page_type, imi, vmpl1_perms, vmpl2_perms, vmpl3_perms);
    uint64_t npages = length / 4096u;
    if (has_contents(page_type)) {
        chain_ctx cc = {ld, w12, gpa};
        if ((rc = hash_region(data, npages, nthreads, &cc, NULL)) != SNP_OK) return rc;
    } else {
        static const uint64_t zeros[1][6] = {{0, 0, 0, 0, 0, 0}};
        chain_impl(current_kernel())(ld, zeros, 0, npages, w12, gpa, 4096u, NULL);
    }
    ld_to_bytes(digest, ld);
    return SNP_OK;
}

/* The same page `count` times, the GPA advancing by gpa_step (0: VMSAs at one GPA; 4096: a filled
 * region). Arguments are checked by the callers; the page is hashed once. */
static int same_page_chain(uint8_t *digest, uint8_t page_type, uint64_t gpa, uint64_t gpa_step, const uint8_t *page,
                           uint64_t count, uint8_t imi, uint8_t v1, uint8_t v2, uint8_t v3, uint8_t *trail)
{
    uint64_t ld[6];
    uint64_t contents[1][6] = {{0, 0, 0, 0, 0, 0}};

    if (has_contents(page_type)) {
        if (page == NULL) return SNP_ERR_NULL_DATA;
        snp_sha384_page_portable(page, contents[0]);
    }
    if (count == 0) return SNP_OK;
    ld_from_bytes(ld, digest);
    chain_impl(current_kernel())(ld, (const uint64_t(*)[6]) contents, 0, count,
                                 pageinfo_word12(page_type, imi, v1, v2, v3), gpa, gpa_step, trail);
    ld_to_bytes(digest, ld);
    return SNP_OK;
}

int snp_ld_update_repeat(uint8_t *digest, uint8_t page_type, uint64_t gpa, const uint8_t *page, uint64_t count,
                         uint8_t imi, uint8_t vmpl1_perms, uint8_t vmpl2_perms, uint8_t vmpl3_perms, uint8_t *trail)
{
    int rc;

    ensure_init();
    if ((rc = check_common(digest, page_type, gpa, imi)) != SNP_OK) return rc;
    if (count > SNP_MAX_REPEAT) return SNP_ERR_REPEAT;
    return same_page_chain(digest, page_type, gpa, 0, page, count, imi, vmpl1_perms, vmpl2_perms, vmpl3_perms, trail);
}

int snp_ld_update_fill(uint8_t *digest, uint8_t page_type, uint64_t gpa, const uint8_t *page, uint64_t npages,
                       uint8_t imi, uint8_t vmpl1_perms, uint8_t vmpl2_perms, uint8_t vmpl3_perms)
{
    int rc;

    ensure_init();
    if ((rc = check_common(digest, page_type, gpa, imi)) != SNP_OK) return rc;
    if (npages > UINT64_MAX / 4096u || (npages && npages * 4096u - 1 > UINT64_MAX - gpa)) return SNP_ERR_GPA_WRAP;
    return same_page_chain(digest, page_type, gpa, 4096u, page, npages, imi, vmpl1_perms, vmpl2_perms, vmpl3_perms,
                           NULL);
}
