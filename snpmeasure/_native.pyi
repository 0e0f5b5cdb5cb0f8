# Type stub for the cffi extension built from csrc/snpmeasure.h by build_ffi.py.
from typing import Any

class _Lib:
    SNP_DIGEST_SIZE: int
    SNP_PAGE_SIZE: int
    SNP_OK: int
    SNP_ERR_LENGTH: int
    SNP_ERR_GPA_ALIGN: int
    SNP_ERR_GPA_WRAP: int
    SNP_ERR_PAGE_TYPE: int
    SNP_ERR_NULL_DATA: int
    SNP_ERR_IMI: int
    SNP_ERR_NOMEM: int
    SNP_ERR_NULL_ARG: int
    SNP_ERR_THREADS: int
    SNP_ERR_SIMD: int
    SNP_ERR_TOO_LARGE: int
    SNP_ERR_REPEAT: int
    SNP_ERR_BOUNDS: int
    SNP_MAX_REPEAT: int
    SNP_PAGE_NORMAL: int
    SNP_PAGE_VMSA: int
    SNP_PAGE_ZERO: int
    SNP_PAGE_UNMEASURED: int
    SNP_PAGE_SECRETS: int
    SNP_PAGE_CPUID: int
    SNP_CPU_AVX2: int
    SNP_CPU_BMI2: int
    SNP_CPU_AVX512F: int
    SNP_CPU_AVX512VL: int
    SNP_CPU_AVX512BW: int
    SNP_SIMD_PORTABLE: int
    SNP_SIMD_AVX2: int
    SNP_SIMD_AVX512: int
    def snp_strerror(self, code: int) -> Any: ...
    def snp_sha384(self, data: Any, len: int, out48: Any) -> int: ...
    def snp_sha512(self, data: Any, len: int, out64: Any) -> int: ...
    def snp_hash_pages(self, data: Any, npages: int, out: Any, nthreads: int) -> int: ...
    def snp_igvm_page_run(
        self,
        file: Any,
        size: int,
        off: int,
        end: int,
        data_start: int,
        snp_mask: int,
        regions: Any,
        max_regions: int,
        counts: Any,
    ) -> int: ...
    def snp_ld_update(
        self,
        digest: Any,
        page_type: int,
        gpa: int,
        data: Any,
        length: int,
        imi: int,
        vmpl1_perms: int,
        vmpl2_perms: int,
        vmpl3_perms: int,
        nthreads: int,
    ) -> int: ...
    def snp_ld_update_repeat(
        self,
        digest: Any,
        page_type: int,
        gpa: int,
        page: Any,
        count: int,
        imi: int,
        vmpl1_perms: int,
        vmpl2_perms: int,
        vmpl3_perms: int,
        trail: Any,
    ) -> int: ...
    def snp_ld_update_fill(
        self,
        digest: Any,
        page_type: int,
        gpa: int,
        page: Any,
        npages: int,
        imi: int,
        vmpl1_perms: int,
        vmpl2_perms: int,
        vmpl3_perms: int,
    ) -> int: ...
    def snp_simd_built(self, kernel: int) -> int: ...
    def snp_simd_supported(self, kernel: int) -> int: ...
    def snp_cpu_features(self) -> int: ...
    def snp_chain_get(self) -> int: ...
    def snp_simd_get(self) -> int: ...
    def snp_simd_set(self, kernel: int) -> int: ...
    def snp_online_cpus(self) -> int: ...
    def snp_min_pages_per_thread(self, pages: int) -> int: ...

ffi: Any
lib: _Lib
