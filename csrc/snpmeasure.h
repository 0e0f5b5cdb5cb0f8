/* The public C API of snpmeasure's native core.
 *
 * This file is cdef-only: build_ffi.py feeds it verbatim to cffi's cdef(), and the C sources include
 * it after <stdint.h> and <stddef.h>. So: no include guards, no #include, no macros other than
 * integer constants.
 *
 * Conventions: every function returns 0 (SNP_OK) or a negative SNP_ERR_* code and never touches
 * Python objects (cffi then releases the GIL around each call). A failed call leaves every output
 * unchanged. The launch digest is passed as 48 bytes exactly as the firmware keeps GCTX.LD.
 */

#define SNP_DIGEST_SIZE 48
#define SNP_PAGE_SIZE   4096

/* SNP page types (SEV-SNP ABI Table 67 PAGE_TYPE; Linux KVM_SEV_SNP_PAGE_TYPE_*). */
#define SNP_PAGE_NORMAL     1
#define SNP_PAGE_VMSA       2
#define SNP_PAGE_ZERO       3
#define SNP_PAGE_UNMEASURED 4
#define SNP_PAGE_SECRETS    5
#define SNP_PAGE_CPUID      6

/* Error codes. */
#define SNP_OK            0
#define SNP_ERR_LENGTH    -1
#define SNP_ERR_GPA_ALIGN -2
#define SNP_ERR_GPA_WRAP  -3
#define SNP_ERR_PAGE_TYPE -4
#define SNP_ERR_NULL_DATA -5
#define SNP_ERR_IMI       -6
#define SNP_ERR_NOMEM     -7
#define SNP_ERR_NULL_ARG  -9
#define SNP_ERR_THREADS   -10
#define SNP_ERR_SIMD      -11
#define SNP_ERR_TOO_LARGE -12
#define SNP_ERR_REPEAT    -13
#define SNP_ERR_BOUNDS    -14

/* snp_ld_update_repeat: at most this many repetitions per call (KVM has at most 4096 vCPUs). */
#define SNP_MAX_REPEAT 16777216

/* Content-hashing kernels. */
#define SNP_SIMD_PORTABLE 0
#define SNP_SIMD_AVX2     1
#define SNP_SIMD_AVX512   2

/* CPU features the kernels use (snp_cpu_features bits; libgcc's checks, OS register state
 * included). */
#define SNP_CPU_AVX2     1
#define SNP_CPU_BMI2     2
#define SNP_CPU_AVX512F  4
#define SNP_CPU_AVX512VL 8
#define SNP_CPU_AVX512BW 16

const char *snp_strerror(int code);

/* One-shot SHA-384 / SHA-512 (own portable implementation, FIPS 180-4). */
int snp_sha384(const uint8_t *data, size_t len, uint8_t *out48);
int snp_sha512(const uint8_t *data, size_t len, uint8_t *out64);

/* SHA-384 of each of npages 4 KiB pages: out gets 48 bytes per page. Uses the selected kernel and
 * up to nthreads threads (0 = one per online CPU). */
int snp_hash_pages(const uint8_t *data, uint64_t npages, uint8_t *out, int nthreads);

/* Extend the launch digest over a region: one PAGE_INFO (ABI Table 67) per 4 KiB page, GPA
 * advancing by 4096. For NORMAL and VMSA, data holds `length` bytes and CONTENTS is SHA-384 of each
 * page; for the other types data is ignored (may be NULL) and CONTENTS is 48 zero bytes.
 * length must be a multiple of 4096 (0 is a no-op); gpa must be page aligned and gpa + length
 * must not pass 2^64. imi is 0 or 1. nthreads: 0 = one per online CPU; regions below the
 * break-even size are hashed on the calling thread; the result never depends on nthreads. */
int snp_ld_update(uint8_t *digest, uint8_t page_type, uint64_t gpa, const uint8_t *data, uint64_t length, uint8_t imi,
                  uint8_t vmpl1_perms, uint8_t vmpl2_perms, uint8_t vmpl3_perms, int nthreads);

/* Extend the launch digest `count` times with the same page at the same GPA, as KVM does when it
 * measures identical AP VMSAs. The page (4096 bytes, for NORMAL/VMSA; ignored otherwise) is hashed
 * once. If trail is not NULL it receives the digest after each step (48 * count bytes): one call
 * gives every vCPU count of a sweep. */
int snp_ld_update_repeat(uint8_t *digest, uint8_t page_type, uint64_t gpa, const uint8_t *page, uint64_t count,
                         uint8_t imi, uint8_t vmpl1_perms, uint8_t vmpl2_perms, uint8_t vmpl3_perms, uint8_t *trail);

/* Extend the launch digest over npages consecutive 4 KiB pages (GPA advancing by 4096) that all hold
 * the same 4096 bytes `page` (hashed once): a zero-filled NORMAL region costs one chain step per
 * page and no buffer. Other types ignore page. The range must not pass 2^64. */
int snp_ld_update_fill(uint8_t *digest, uint8_t page_type, uint64_t gpa, const uint8_t *page, uint64_t npages,
                       uint8_t imi, uint8_t vmpl1_perms, uint8_t vmpl2_perms, uint8_t vmpl3_perms);

/* Kernel selection: which kernel snp_hash_pages / snp_ld_update use for page contents; the chain
 * follows (SNP_SIMD_PORTABLE: baseline code; SNP_SIMD_AVX2: AVX2+BMI2 when the CPU has BMI2;
 * SNP_SIMD_AVX512: AVX-512 F/VL/BW, and BMI2 for the chain's rounds when the CPU has it).
 * snp_simd_built(k): 1 if this build has kernel k (x86-64 and a compiler that builds it);
 * snp_simd_supported(k): 1 if it has it and this CPU runs it. At start the best supported kernel
 * is active. */
int snp_simd_built(int kernel);
int snp_simd_supported(int kernel);
int snp_simd_get(void);
int snp_simd_set(int kernel);
int snp_cpu_features(void);
/* Which chain the active kernel runs (an SNP_SIMD_* value). */
int snp_chain_get(void);
int snp_online_cpus(void);

/* Pages per thread below which a region is hashed on fewer threads (default 48, the measured
 * break-even on a 2-core Zen 3 VM; bench/digest.py --break-even re-measures it). Returns the old
 * value; 0 leaves it unchanged. */
int snp_min_pages_per_thread(int pages);

/* A run of plain PAGE_DATA headers of an IGVM file (flags 0, data type NORMAL, the platform's mask,
 * a 4 KiB-aligned GPA, data inside [data_start, size - 4096] or none) from file offset off, before
 * end (the end of the variable headers). regions gets 5 u64 per region (gpa, pages, file offset
 * of the first page or 0 for zero pages, index of its first header in the run, mask), consecutive
 * headers merged while the GPA, and for data pages the file offset, follow on with one mask; at
 * most max_regions. counts[0]: headers taken; counts[1]: regions; counts[2]: the region where
 * the run QEMU would still hold open at the end starts. The first header that is not such a page
 * ends the run (counts[0] may be 0). */
int snp_igvm_page_run(const uint8_t *file, uint64_t size, uint64_t off, uint64_t end, uint64_t data_start,
                      uint32_t snp_mask, uint64_t *regions, uint64_t max_regions, uint64_t *counts);
