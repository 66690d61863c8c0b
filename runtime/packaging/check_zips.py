#!/usr/bin/env python3
"""Checks Lambda deployment zips for the `provided.al2023` runtime, without external tools.

    python3 runtime/packaging/check_zips.py DIR      # DIR/<arch>/*.zip, arch = x86_64 | arm64
    python3 runtime/packaging/check_zips.py --self-test

Each zip must hold exactly one entry, `bootstrap`, with executable Unix mode bits, an ELF64
little-endian executable for the directory's architecture that is either static or dynamic
with the architecture's glibc loader, needs only libraries Amazon Linux 2023 has in its base
image, and no GLIBC_ symbol version above 2.34 (AL2023 ships glibc 2.34). Prints one line per
zip; exit 1 on any failure. Called by scripts/package-lambdas.sh after every build.
"""
import os
import struct
import sys
import zipfile

MAX_GLIBC = (2, 34)
ARCH = {  # directory name -> (e_machine, glibc loader)
    "x86_64": (0x3E, "/lib64/ld-linux-x86-64.so.2"),
    "arm64": (0xB7, "/lib/ld-linux-aarch64.so.1"),
}
# Libraries of glibc and libgcc, present in every provided.al2023 image.
BASE_LIBS = {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1",
             "libgcc_s.so.1", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"}
PT_INTERP, PT_DYNAMIC = 3, 2
SHT_GNU_VERNEED, SHT_DYNAMIC = 0x6FFFFFFE, 6
DT_NEEDED, DT_STRTAB = 1, 5


class ElfError(Exception):
    pass


def cstr(data, off):
    end = data.find(b"\0", off)
    if off < 0 or end < 0:
        raise ElfError("string offset out of range")
    return data[off:end].decode("ascii", "replace")


def unpack(fmt, data, off):
    if off < 0 or off + struct.calcsize(fmt) > len(data):
        raise ElfError("truncated ELF")
    return struct.unpack_from(fmt, data, off)


def sections(data):
    shoff, = unpack("<Q", data, 0x28)
    shentsize, shnum = unpack("<HH", data, 0x3A)
    out = []
    for i in range(shnum):
        (_name, stype, _flags, _addr, off, size, link, _info, _align,
         _entsize) = unpack("<IIQQQQIIQQ", data, shoff + i * shentsize)
        out.append((stype, off, size, link))
    return out


def program_headers(data):
    phoff, = unpack("<Q", data, 0x20)
    phentsize, phnum = unpack("<HH", data, 0x36)
    out = []
    for i in range(phnum):
        ptype, _flags, off, _vaddr, _paddr, filesz = unpack("<IIQQQQ", data, phoff + i * phentsize)
        out.append((ptype, off, filesz))
    return out


def glibc_versions(data, secs):
    """Version names required through .gnu.version_r (Elf64_Verneed / Elf64_Vernaux)."""
    names = set()
    for stype, off, _size, link in secs:
        if stype != SHT_GNU_VERNEED:
            continue
        strtab = secs[link][1]
        vn = off
        while True:
            _ver, cnt, _file, aux, nxt = unpack("<HHIII", data, vn)
            va = vn + aux
            for _ in range(cnt):
                _hash, _flags, _other, name, vnext = unpack("<IHHII", data, va)
                names.add(cstr(data, strtab + name))
                va += vnext
            if not nxt:
                break
            vn += nxt
    return names


def needed_libs(data, secs):
    libs = set()
    for stype, off, size, link in secs:
        if stype != SHT_DYNAMIC:
            continue
        strtab = secs[link][1]
        for i in range(size // 16):
            tag, val = unpack("<qQ", data, off + i * 16)
            if tag == DT_NEEDED:
                libs.add(cstr(data, strtab + val))
    return libs


def check_elf(data, arch):
    """Problems with `data` as a provided.al2023 bootstrap for `arch` (empty = fine)."""
    machine, loader = ARCH[arch]
    if data[:4] != b"\x7fELF":
        return ["not an ELF file"], "?"
    if len(data) < 64:
        return ["truncated ELF header"], "?"
    if data[4] != 2 or data[5] != 1:
        return ["not ELF64 little-endian"], "?"
    problems = []
    etype, emachine = unpack("<HH", data, 0x10)
    if emachine != machine:
        problems.append(f"e_machine {emachine:#x}, expected {machine:#x} for {arch}")
    if etype not in (2, 3):  # EXEC or DYN (static-pie / pie)
        problems.append(f"e_type {etype} is not an executable")
    interp = None
    for ptype, off, size in program_headers(data):
        if ptype == PT_INTERP:
            interp = data[off:off + size].rstrip(b"\0").decode("ascii", "replace")
    if interp is None:
        return problems, "static"
    if interp != loader:
        problems.append(f"interpreter {interp}, expected {loader}")
    secs = sections(data)
    libs = needed_libs(data, secs)
    if libs - BASE_LIBS:
        problems.append(f"needs libraries outside glibc/libgcc: {sorted(libs - BASE_LIBS)}")
    versions = sorted(
        tuple(int(p) for p in v[len("GLIBC_"):].split("."))
        for v in glibc_versions(data, secs)
        if v.startswith("GLIBC_") and v[len("GLIBC_"):].replace(".", "").isdigit())
    newest = versions[-1] if versions else None
    if newest and newest > MAX_GLIBC:
        limit = ".".join(map(str, MAX_GLIBC))
        problems.append(f"needs GLIBC_{'.'.join(map(str, newest))} > {limit} (AL2023 has 2.34)")
    glibc = "GLIBC_" + ".".join(map(str, newest)) if newest else "no GLIBC versions"
    return problems, f"dynamic ({', '.join(sorted(libs))}; newest {glibc})"


def check_zip(path, arch):
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
        if [i.filename for i in infos] != ["bootstrap"]:
            return [f"entries {[i.filename for i in infos]}, expected only bootstrap"], ""
        info = infos[0]
        mode = info.external_attr >> 16
        data = z.read(info)
    problems, linkage = check_elf(data, arch)
    if not mode & 0o111:
        problems.append(f"bootstrap mode {mode:o} is not executable")
    return problems, f"{len(data)} bytes unzipped, {linkage}"


def check_dir(root):
    failures, seen = 0, 0
    for arch in sorted(os.listdir(root)):
        if arch not in ARCH:
            continue
        adir = os.path.join(root, arch)
        for name in sorted(os.listdir(adir)):
            if not name.endswith(".zip"):
                continue
            seen += 1
            path = os.path.join(adir, name)
            try:
                problems, what = check_zip(path, arch)
            except (zipfile.BadZipFile, ElfError, OSError, IndexError, ValueError) as e:
                problems, what = [str(e)], ""
            status = "ok  " if not problems else "FAIL"
            print(f"{status} {arch}/{name}: {os.path.getsize(path)} bytes zipped, {what}")
            for p in problems:
                print(f"     {p}")
            failures += bool(problems)
    if not seen:
        print(f"no zips under {root}/<x86_64|arm64>/")
        return 1
    return 1 if failures else 0


def self_test():
    """The checker rejects what it must: run against this machine's python3 binary (dynamic
    ELF for the host) and synthetic zips."""
    import io
    import platform
    arch = {"x86_64": "x86_64", "aarch64": "arm64"}.get(platform.machine())
    with open(os.path.realpath(sys.executable), "rb") as f:
        host = f.read()
    if arch is None:
        print(f"self-test skipped: no ELF reference for {platform.machine()}")
        return 0
    _problems, what = check_elf(host, arch)
    assert "newest GLIBC_2." in what, what  # the host python links glibc dynamically
    global MAX_GLIBC
    saved, MAX_GLIBC = MAX_GLIBC, (2, 0)
    assert any("needs GLIBC_" in p for p in check_elf(host, arch)[0]), "glibc limit enforced"
    MAX_GLIBC = saved
    other = "arm64" if arch == "x86_64" else "x86_64"
    assert any("e_machine" in p for p in check_elf(host, other)[0])
    assert check_elf(b"#!/bin/sh\n", "x86_64")[0] == ["not an ELF file"]

    def zip_with(entries):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for name, mode in entries:
                zi = zipfile.ZipInfo(name)
                zi.external_attr = mode << 16
                z.writestr(zi, host)
        buf.seek(0)
        return buf
    assert "entries" in check_zip(zip_with([("bootstrap", 0o755), ("x", 0o644)]), arch)[0][0]
    assert any("not executable" in p for p in check_zip(zip_with([("bootstrap", 0o644)]), arch)[0])
    print("self-test ok")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(self_test())
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(check_dir(sys.argv[1]))
