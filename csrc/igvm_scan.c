/* IGVM page runs: the hot loop of reading and planning an IGVM file (snpmeasure/igvm.py,
 * snpmeasure/igvm_launch.py), one call per run of PAGE_DATA headers instead of Python work per page.
 *
 * A variable header is `type u32, length u32, body` (docs/reference/igvm.md §1.2); a PAGE_DATA
 * (0x302) has a 24-byte body, so a run of them is an array of 32-byte records:
 *   +0 type u32 = 0x302, +4 length u32 = 24, +8 gpa u64, +16 compatibility_mask u32,
 *   +20 file_offset u32 (0: a page of zeros), +24 flags u32, +28 data_type u16, +30 reserved u16.
 * Only the plain page is taken here: flags 0, data type NORMAL, reserved 0, a 4 KiB-aligned GPA, a
 * mask with a bit of the platform's, its data (if any) inside [data_start, size - 4096]. Anything
 * else ends the run, and the caller's general path parses (and if need be refuses) it. */
#include <stddef.h>
#include <stdint.h>

#include "snpmeasure.h"

#define PAGE_DATA_TYPE 0x302u
#define RECORD_SIZE    32u
#define REGION_FIELDS  5u                             /* gpa, pages, file offset, first header, mask */
#define GPA_LIMIT      (UINT64_MAX - (2u << 20) + 1u) /* a page below it ends inside the address space */

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t) le32(p) | (uint64_t) le32(p + 4) << 32;
}

int snp_igvm_page_run(const uint8_t *file, uint64_t size, uint64_t off, uint64_t end, uint64_t data_start,
                      uint32_t snp_mask, uint64_t *regions, uint64_t max_regions, uint64_t *counts)
{
    if (!file || !regions || !counts) return SNP_ERR_NULL_ARG;
    if (end > size || off > end || data_start > size || max_regions == 0) return SNP_ERR_BOUNDS;
    uint64_t n = 0, nreg = 0, qemu_start = 0;
    uint64_t prev_end = 0, prev_fo = 0, prev_mask = 0;
    int prev_data = -1; /* -1: no previous record in this run */
    while (end - off >= RECORD_SIZE) {
        const uint8_t *r = file + off;
        uint64_t gpa = le64(r + 8);
        uint32_t mask = le32(r + 16), fo = le32(r + 20);
        if (le32(r) != PAGE_DATA_TYPE || le32(r + 4) != 24u || le32(r + 24) != 0u || le32(r + 28) != 0u ||
            (gpa & (SNP_PAGE_SIZE - 1u)) || gpa >= GPA_LIMIT || !(mask & snp_mask))
            break;
        if (fo && (size < SNP_PAGE_SIZE || fo < data_start || (uint64_t) fo > size - SNP_PAGE_SIZE)) break;
        int data = fo != 0;
        /* QEMU keeps one run while the GPA follows on with the same mask and data presence. */
        int same_run = prev_data == data && gpa == prev_end && mask == prev_mask;
        int same_region = same_run && (!data || (uint64_t) fo == prev_fo + SNP_PAGE_SIZE);
        if (same_region) {
            regions[REGION_FIELDS * (nreg - 1) + 1] += 1;
        } else {
            if (nreg == max_regions) break; /* full: the caller calls again from here */
            if (!same_run) qemu_start = nreg;
            uint64_t *out = regions + REGION_FIELDS * nreg;
            out[0] = gpa;
            out[1] = 1;
            out[2] = fo;
            out[3] = n;
            out[4] = mask;
            nreg++;
        }
        prev_end = gpa + SNP_PAGE_SIZE;
        prev_fo = fo;
        prev_mask = mask;
        prev_data = data;
        n++;
        off += RECORD_SIZE;
    }
    counts[0] = n;
    counts[1] = nreg;
    counts[2] = qemu_start;
    return SNP_OK;
}
