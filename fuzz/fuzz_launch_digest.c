/* libFuzzer harness for the native core's entry points.
 *
 * Each input chooses a page type, GPA, region length (sometimes unaligned or wrapping), IMI and VMPL
 * perms, a seed, a thread count and a content kernel; the page contents come from the input. The
 * harness runs the call with the chosen kernel and threads and again with the portable kernel on one
 * thread, and requires: the same return code, the same digest on success, an unchanged digest on
 * failure, and snp_ld_update_repeat's trail ending at its digest. The input is also read as an IGVM
 * file by snp_igvm_page_run, whose regions must stay inside the run it reports. Build and run: see README
 * ("Security"); .ci/run runs it for a bounded time under ASan and UBSan.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "snpmeasure.h"

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as an IGVM file: the run from an offset it chooses; every region inside the run, the
 * regions' pages adding up to the headers taken, in header order. */
static void check_igvm_page_run(const uint8_t *data, size_t size)
{
    uint64_t regions[5 * 8], counts[3];
    uint64_t off = size > 8 ? data[8] % size : 0;
    uint64_t data_start = size > 9 ? data[9] * 16u % (size + 1) : 0;
    uint32_t mask = (uint32_t) (size > 10 ? data[10] : 1);
    int rc = snp_igvm_page_run(data, size, off, size, data_start, mask, regions, 8, counts);
    if (rc != SNP_OK) abort();
    if (counts[0] * 32u > size - off || counts[1] > 8 || (counts[1] && counts[2] >= counts[1])) abort();
    uint64_t pages = 0;
    for (uint64_t i = 0; i < counts[1]; i++) {
        if (regions[5 * i + 3] != pages || regions[5 * i + 1] == 0) abort();
        if (regions[5 * i + 2] && regions[5 * i + 2] + regions[5 * i + 1] * 4096u > size) abort();
        pages += regions[5 * i + 1];
    }
    if (pages != counts[0]) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 18 + 48) return 0;
    uint8_t ptype = data[0] % 8; /* 0 and 7 are invalid on purpose */
    uint8_t imi = data[1] % 3;   /* 2 is invalid */
    uint8_t v1 = data[2], v2 = data[3], v3 = data[4];
    int threads = data[5] % 6; /* 0 = all CPUs */
    int kernel = data[6] % 3;  /* portable, avx2, avx512: one the CPU lacks is refused and the
                                  * portable one (set after each run) stays */
    uint8_t mode = data[7];
    uint64_t gpa = le64(data + 8);
    if (!(mode & 0x40)) gpa &= ~(uint64_t) 0xfff;  /* mostly aligned */
    if (mode & 0x20) gpa |= 0xFFFFFFFFFF000000ULL; /* near the top: exercise the wrap check */
    uint64_t npages = (uint64_t) (data[16] | (data[17] << 8)) % 300;
    uint64_t length = npages * 4096u + ((mode & 0x10) ? (uint64_t) (mode & 0x0f) : 0);
    const uint8_t *seed = data + 18;
    const uint8_t *body = data + 18 + 48;
    size_t body_len = size - 18 - 48;

    uint8_t *pages = NULL;
    if (!(mode & 0x80) && length) {
        pages = malloc((size_t) length);
        if (pages == NULL) return 0;
        for (uint64_t i = 0; i < length; i++) pages[i] = body_len ? body[i % body_len] : (uint8_t) i;
    }

    uint8_t a[48], b[48];
    memcpy(a, seed, 48);
    memcpy(b, seed, 48);
    snp_simd_set(kernel);
    int ra = snp_ld_update(a, ptype, gpa, pages, length, imi, v1, v2, v3, threads);
    snp_simd_set(SNP_SIMD_PORTABLE);
    int rb = snp_ld_update(b, ptype, gpa, pages, length, imi, v1, v2, v3, 1);
    if (ra != rb) abort();
    if (ra == SNP_OK ? memcmp(a, b, 48) != 0 : memcmp(a, seed, 48) != 0) abort();
    if (snp_strerror(ra) == NULL) abort();

    /* Repeated pages with a trail: the trail's last entry is the digest. */
    uint64_t count = npages % 17;
    uint8_t *trail = malloc(48 * (size_t) (count ? count : 1));
    if (trail != NULL) {
        memcpy(a, seed, 48);
        int rr = snp_ld_update_repeat(a, ptype, gpa, pages != NULL && length >= 4096 ? pages : NULL, count, imi, v1, v2,
                                      v3, trail);
        if (rr == SNP_OK && count && memcmp(trail + 48 * (count - 1), a, 48) != 0) abort();
        if (rr != SNP_OK && memcmp(a, seed, 48) != 0) abort();
        free(trail);
    }
    free(pages);
    check_igvm_page_run(data, size);
    return 0;
}
