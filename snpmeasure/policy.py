"""The 64-bit SEV-SNP guest policy (SNP_LAUNCH_START POLICY; report offset 0x08).

Bit layout (docs/reference/firmware-abi.md §1.1; SEV-SNP ABI spec "Guest Policy" table):

    7:0  ABI_MINOR          minimum firmware ABI minor       16  SMT
    15:8 ABI_MAJOR          minimum firmware ABI major       17  reserved, must be 1
    18   MIGRATE_MA         19  DEBUG                        20  SINGLE_SOCKET
    21   CXL_ALLOW          22  MEM_AES_256_XTS              23  RAPL_DIS
    24   CIPHERTEXT_HIDING  25  PAGE_SWAP_DISABLE (ABI 1.58)  63:26 reserved, must be 0
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple, Union

from .errors import PolicyError, show

#: (attribute, bit, flag spelling, meaning, first firmware ABI that defines it)
FLAG_BITS: List[Tuple[str, int, str, str, Tuple[int, int]]] = [
    ("smt", 16, "smt", "SMT (hyperthreading) allowed on the host", (0, 0)),
    ("migrate_ma", 18, "migrate-ma", "association with a migration agent allowed", (0, 0)),
    ("debug", 19, "debug", "debugging (SNP_DBG_DECRYPT/ENCRYPT) allowed", (0, 0)),
    ("single_socket", 20, "single-socket", "guest may run on one socket only", (0, 0)),
    ("cxl_allow", 21, "cxl-allow", "CXL may be populated with devices or memory", (1, 55)),
    ("mem_aes_256_xts", 22, "mem-aes-256-xts", "AES-256-XTS memory encryption required", (1, 55)),
    ("rapl_dis", 23, "rapl-dis", "RAPL must be disabled", (1, 55)),
    ("ciphertext_hiding", 24, "ciphertext-hiding", "DRAM ciphertext hiding must be enabled", (1, 55)),
    ("page_swap_disable", 25, "page-swap-disable", "SNP_PAGE_MOVE/SWAP_OUT/SWAP_IN disabled", (1, 58)),
]
RESERVED_MBO_BIT = 17
RESERVED_MBZ_MASK = ~((1 << 26) - 1) & ((1 << 64) - 1)
DEFAULT_POLICY = 0x30000  # QEMU DEFAULT_SEV_SNP_POLICY: SMT | bit 17


class GuestPolicy:
    """An SNP guest policy, field by field. ``int(policy)`` / :meth:`to_int` give the 64-bit value.

    Immutable and compared by value. (A plain class rather than a dataclass: the measurement path
    loads it, and ``dataclasses`` costs the CLI start-up ~15 ms.)
    """

    __slots__ = (
        "abi_major",
        "abi_minor",
        "smt",
        "migrate_ma",
        "debug",
        "single_socket",
        "cxl_allow",
        "mem_aes_256_xts",
        "rapl_dis",
        "ciphertext_hiding",
        "page_swap_disable",
    )
    abi_major: int
    abi_minor: int
    smt: bool
    migrate_ma: bool
    debug: bool
    single_socket: bool
    cxl_allow: bool
    mem_aes_256_xts: bool
    rapl_dis: bool
    ciphertext_hiding: bool
    page_swap_disable: bool

    def __init__(
        self,
        abi_major: int = 0,
        abi_minor: int = 0,
        smt: bool = True,
        migrate_ma: bool = False,
        debug: bool = False,
        single_socket: bool = False,
        cxl_allow: bool = False,
        mem_aes_256_xts: bool = False,
        rapl_dis: bool = False,
        ciphertext_hiding: bool = False,
        page_swap_disable: bool = False,
    ) -> None:
        values = locals()
        for name in ("abi_major", "abi_minor"):
            value = values[name]
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFF:
                raise PolicyError(name, f"must be an int from 0 to 255, got {show(value)}")
        for attr, *_ in FLAG_BITS:
            if not isinstance(values[attr], bool):
                raise PolicyError(attr, f"must be a bool, got {show(values[attr])}")
        for name in self.__slots__:
            object.__setattr__(self, name, values[name])

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"GuestPolicy is immutable; use GuestPolicy(...) or GuestPolicy.from_int() ({name})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GuestPolicy) and other.to_int() == self.to_int()

    def __hash__(self) -> int:
        return hash(self.to_int())

    def __repr__(self) -> str:
        return "GuestPolicy(" + ", ".join(f"{n}={show(getattr(self, n))}" for n in self.__slots__) + ")"

    # ---- conversions -------------------------------------------------------------------------
    def to_int(self) -> int:
        """The 64-bit policy value (bit 17 always set)."""
        value = self.abi_minor | (self.abi_major << 8) | (1 << RESERVED_MBO_BIT)
        for attr, bit, *_ in FLAG_BITS:
            if getattr(self, attr):
                value |= 1 << bit
        return value

    def __int__(self) -> int:
        return self.to_int()

    def __index__(self) -> int:
        return self.to_int()

    def hex(self) -> str:
        """``0x…`` form, as QEMU's ``policy=`` takes it."""
        return f"{self.to_int():#x}"

    @classmethod
    def from_int(cls, value: int) -> GuestPolicy:
        """Decode a 64-bit policy; reserved bits set or bit 17 clear are errors naming the bit
        (``snpmeasure.policy.reserved_bit_problems()`` lists them without raising)."""
        _check_u64(value)
        problems = reserved_bit_problems(value)
        if problems:
            raise PolicyError("policy", problems[0][1])
        kwargs: Dict[str, Any] = {"abi_minor": value & 0xFF, "abi_major": (value >> 8) & 0xFF}
        for attr, bit, *_ in FLAG_BITS:
            kwargs[attr] = bool(value >> bit & 1)
        return cls(**kwargs)

    @classmethod
    def parse(cls, text: Union[str, int, GuestPolicy]) -> GuestPolicy:
        """Parse ``0x30000``, ``196608``, or named flags ``smt,debug,abi=1.51`` (bit 17 implied)."""
        if isinstance(text, GuestPolicy):
            return text
        if isinstance(text, int):
            return cls.from_int(text)
        if not isinstance(text, str):
            raise PolicyError(
                "policy", f"must be an int, a string (number or flags) or a GuestPolicy, got {type(text).__name__}"
            )
        s = text.strip()
        number = _number(text)
        if number is not None:
            return cls.from_int(number)
        if not s:
            # An empty policy is far more often an unset shell variable than a wish for 0x20000.
            raise PolicyError("policy", "is empty; give a number (0x20000 for no flags) or flags such as smt,debug")
        kwargs: Dict[str, Any] = {"smt": False}
        spellings = {flag: attr for attr, _, flag, *_ in FLAG_BITS}
        for item in (p.strip().lower() for p in s.split(",")):
            if not item:
                raise PolicyError("policy", f"has an empty flag in {show(text)}")
            if item.startswith("abi="):
                m = re.fullmatch(r"abi=([0-9]+)\.([0-9]+)", item)
                if not m:
                    raise PolicyError("policy", f"abi must be MAJOR.MINOR, got {item[4:]!r}")
                kwargs["abi_major"], kwargs["abi_minor"] = int(m.group(1)), int(m.group(2))
                if max(kwargs["abi_major"], kwargs["abi_minor"]) > 255:  # one byte each (bits 15:8, 7:0)
                    raise PolicyError("policy", f"abi {item[4:]}: MAJOR and MINOR are from 0 to 255")
            elif item.replace("_", "-") in spellings:
                kwargs[spellings[item.replace("_", "-")]] = True
            else:
                raise PolicyError(
                    "policy", f"unknown flag {show(item)}; known: {', '.join(spellings)}, abi=MAJOR.MINOR, or a number"
                )
        return cls(**kwargs)

    # ---- explanation and checks --------------------------------------------------------------
    def describe(self) -> List[Dict[str, Any]]:
        """One row per field: name, bits, value, meaning."""
        return describe_value(self.to_int())

    def to_json(self) -> Dict[str, Any]:
        """JSON-ready dict: the value and every field."""
        d: Dict[str, Any] = {"policy": self.hex()}
        for name in self.__slots__:
            d[name] = getattr(self, name)
        return d

    def firmware_problems(
        self,
        abi: Optional[Tuple[int, int]] = None,
        *,
        smt_enabled: bool = True,
        platform_info: Optional[int] = None,
    ) -> List[Tuple[str, str]]:
        """Why a firmware of ABI version ``abi`` would refuse this policy at SNP_LAUNCH_START.

        Returns (field, rule) pairs; empty when it would accept. Rules: docs/reference/firmware-abi.md §1.2 (SMT must be
        allowed when the host has SMT on; the policy's minimum ABI must not exceed the firmware's;
        bits 21-24 need ABI 1.55, bit 25 needs 1.58). ``platform_info``: the host's PLATFORM_INFO
        (as its reports carry it; None: unknown, unchecked): RAPL_DIS needs the platform's
        RAPL_DIS (bit 3), CIPHERTEXT_HIDING its CIPHERTEXT_HIDING_DRAM_EN (bit 4).
        """
        check_abi(abi)
        check_platform_info(platform_info)
        problems: List[Tuple[str, str]] = []
        if smt_enabled and not self.smt:
            problems.append(("SMT", "the host has SMT enabled, so a policy with SMT=0 fails with POLICY_FAILURE"))
        if platform_info is not None:
            for name, wanted, pbit, what in (
                ("RAPL_DIS", self.rapl_dis, 3, "RAPL disabled"),
                ("CIPHERTEXT_HIDING", self.ciphertext_hiding, 4, "DRAM ciphertext hiding"),
            ):
                if wanted and not platform_info >> pbit & 1:
                    problems.append(
                        (name, f"the policy requires {what}, which the host's PLATFORM_INFO {platform_info:#x} lacks")
                    )
        if abi is not None:
            if (self.abi_major, self.abi_minor) > abi:
                problems.append(
                    (
                        "ABI_MAJOR.ABI_MINOR",
                        f"the policy requires ABI {self.abi_major}.{self.abi_minor}, above the firmware's {abi[0]}.{abi[1]}",
                    )
                )
            for attr, bit, since in self.newer_than(abi):
                problems.append(
                    (
                        attr.upper(),
                        f"bit {bit} is defined from ABI {since[0]}.{since[1]}; the firmware is {abi[0]}.{abi[1]}",
                    )
                )
        return problems

    def newer_than(self, abi: Tuple[int, int]) -> List[Tuple[str, int, Tuple[int, int]]]:
        """The flags set here that firmware ABI ``abi`` does not define: (attribute, bit, the ABI
        that defines it), in bit order."""
        check_abi(abi)
        return [(attr, bit, since) for attr, bit, _, _, since in FLAG_BITS if getattr(self, attr) and since > abi]


def _check_u64(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < (1 << 64):
        raise PolicyError("policy", f"must be a 64-bit unsigned int, got {show(value)}")


def _number(text: str) -> Optional[int]:
    """The policy text as a number (hex, decimal, octal, binary; ``_`` separators), or None when
    it is not written as one (flags)."""
    s = text.strip()
    if not re.fullmatch(r"0[xX][0-9a-fA-F_]+|[0-9_]+|0[oO][0-7_]+|0[bB][01_]+", s):
        return None
    if re.fullmatch(r"0[0-9_]*[1-9][0-9_]*", s):
        # QEMU's policy= (qemu_strtou64, base 0) reads 010 as octal 8, Python as nothing, people as 10
        raise PolicyError(
            "policy",
            f"{show(text)} has a leading 0, which QEMU reads as octal: write it in hex (0x...) or without the 0",
        )
    try:
        return int(s, 0) if not re.fullmatch(r"0[0-9_]+", s) else 0
    except ValueError:
        raise PolicyError("policy", f"is not a number: {show(text)}") from None


def policy_value(text: Union[str, int, GuestPolicy]) -> int:
    """The 64-bit value of a policy as :meth:`GuestPolicy.parse` takes it, without the reserved-bit
    rules (any 64-bit number is returned; :func:`reserved_bit_problems` says what it breaks)."""
    if isinstance(text, GuestPolicy):
        return text.to_int()
    number = _number(text) if isinstance(text, str) else text
    if number is None:
        return GuestPolicy.parse(text).to_int()
    _check_u64(number)
    return number


def reserved_bit_problems(value: int) -> List[Tuple[str, str]]:
    """The reserved-bit rules a 64-bit policy value breaks, as (field, rule) pairs: bit 17 must be
    1, bits 63:26 must be 0 (docs/reference/firmware-abi.md §1.1). Empty for a valid policy."""
    _check_u64(value)
    problems: List[Tuple[str, str]] = []
    if not value & (1 << RESERVED_MBO_BIT):
        # the hint only when it is a valid policy: with bits 63:26 set too, it would be none
        hint = "" if value & RESERVED_MBZ_MASK else f"; did you mean {value | 1 << 17:#x}?"
        problems.append(("RESERVED_MBO", f"bit 17 is reserved and must be 1 ({value:#x}{hint})"))
    if value & RESERVED_MBZ_MASK:
        bits = [b for b in range(26, 64) if value >> b & 1]
        listed = ", ".join(map(str, bits[-4:][::-1])) + (" and more" if len(bits) > 4 else "")
        problems.append(
            (
                "RESERVED",
                f"bits 63:26 are reserved and must be 0; {'bit' if len(bits) == 1 else 'bits'} {listed} "
                f"{'is' if len(bits) == 1 else 'are'} set in {value:#x}",
            )
        )
    return problems


def describe_value(value: int) -> List[Dict[str, Any]]:
    """One row per field of any 64-bit policy value (reserved bits as they are): field, bits,
    value, meaning, in bit order."""
    _check_u64(value)
    rows: List[Dict[str, Any]] = [
        {"field": "ABI_MINOR", "bits": "7:0", "value": value & 0xFF, "meaning": "minimum firmware ABI minor"},
        {"field": "ABI_MAJOR", "bits": "15:8", "value": value >> 8 & 0xFF, "meaning": "minimum firmware ABI major"},
        {"field": "RESERVED_MBO", "bits": "17", "value": value >> 17 & 1, "meaning": "reserved, must be 1"},
    ]
    for attr, bit, _, meaning, _abi in FLAG_BITS:
        rows.append({"field": attr.upper(), "bits": str(bit), "value": value >> bit & 1, "meaning": meaning})
    reserved = (value & RESERVED_MBZ_MASK) >> 26
    rows.append(
        {
            "field": "RESERVED",
            "bits": "63:26",
            "value": reserved if reserved < 10 else f"{reserved:#x}",
            "meaning": "reserved, must be 0",
        }
    )
    rows.sort(key=lambda r: int(str(r["bits"]).split(":")[-1]))
    return rows


def check_platform_info(value: object) -> None:
    """A host's PLATFORM_INFO: None (unknown) or a 64-bit int; else a PolicyError naming it."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 64):
        raise PolicyError("platform_info", f"must be the 64-bit PLATFORM_INFO, got {show(value)}")


def check_abi(abi: object) -> None:
    """A firmware ABI version is None or (major, minor), each an int 0..255 (PolicyError otherwise)."""
    if abi is not None and not (
        isinstance(abi, tuple)
        and len(abi) == 2
        and all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= 255 for x in abi)
    ):
        raise PolicyError("abi", f"must be (major, minor), each 0..255, got {show(abi)}")


__all__ = [
    "GuestPolicy",
    "PolicyError",
    "policy_value",
    "reserved_bit_problems",
    "describe_value",
    "DEFAULT_POLICY",
    "FLAG_BITS",
]
