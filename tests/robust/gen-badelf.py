#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes hostile ELF files for tests/robust/test_badelf.sh.

usage: gen-badelf.py OUTDIR RUNDIR SAMPLE
  OUTDIR  where the files go
  RUNDIR  absolute path OUTDIR will have when the programs run (PT_INTERP strings name it)
  SAMPLE  a real static x86-64 executable to truncate at several lengths

Prints one line per file: `reject NAME` (omnivisor must refuse it with one `omnivisor:` line and
a nonzero status that is no signal) or `same NAME` (Linux runs it, or runs it and dies; omnivisor
must end the same way). The base program is a 64-bit ET_EXEC with one PT_LOAD whose code is
exit(42); every other file changes one thing in it.
"""
import os
import struct
import sys

ET_REL, ET_EXEC, ET_DYN, ET_CORE = 1, 2, 3, 4
PT_LOAD, PT_INTERP, PT_PHDR = 1, 3, 6
PF_X, PF_W, PF_R = 1, 2, 4
BASE = 0x400000
EHDR, PHDR = 64, 56
CODE = bytes.fromhex("bf2a000000" "b83c000000" "0f05")  # mov edi, 42; mov eax, 60; syscall


def ehdr(phnum, entry, e_type=ET_EXEC, machine=62, phoff=EHDR, phentsize=PHDR, ident=None):
    ident = ident or b"\x7fELF\x02\x01\x01" + bytes(9)
    return ident + struct.pack("<HHIQQQIHHHHHH", e_type, machine, 1, entry, phoff, 0, 0, EHDR,
                               phentsize, phnum, 64, 0, 0)


def phdr(p_type, flags, offset, vaddr, filesz, memsz, align=0x1000):
    return struct.pack("<IIQQQQQQ", p_type, flags, offset, vaddr, vaddr, filesz, memsz, align)


def program(phdrs=None, extra=b"", code=CODE, nphdr_slots=None, **kw):
    """ELF header, program headers (callable: gets the layout), code, extra data."""
    n = nphdr_slots if nphdr_slots is not None else len(phdrs)
    code_off = EHDR + PHDR * n
    extra_off = code_off + len(code)
    size = extra_off + len(extra)
    ph = b"".join(p(code_off, extra_off, size) for p in phdrs)
    kw.setdefault("entry", BASE + code_off)
    return ehdr(len(phdrs) if nphdr_slots is None else kw.pop("phnum", len(phdrs)), **kw) + ph + \
        code + extra


def load(flags=PF_R | PF_X, offset=0, vaddr=BASE, filesz=None, memsz=None, align=0x1000):
    return lambda c, e, size: phdr(PT_LOAD, flags, offset, vaddr,
                                   size if filesz is None else filesz,
                                   size if memsz is None else memsz, align)


def interp(text_len=None, offset=None, filesz=None):
    return lambda c, e, size: phdr(PT_INTERP, PF_R, e if offset is None else offset, 0,
                                   text_len if filesz is None else filesz, 0, 1)


def main():
    out, rundir, sample = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(out, exist_ok=True)
    files = []

    def put(kind, name, data):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        os.chmod(os.path.join(out, name), 0o755)
        files.append((kind, name))

    put("same", "good", program([load()]))
    with open(sample, "rb") as f:
        real = f.read()
    put("same", "good-sample", real)

    # truncated at several lengths (ELF header, program headers, segment data)
    # bytes the loader needs: header, program headers, PT_LOAD/PT_INTERP file data
    phoff, = struct.unpack_from("<Q", real, 32)
    phnum, = struct.unpack_from("<H", real, 56)
    need = phoff + PHDR * phnum
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", real, phoff + PHDR * i)
        if p_type in (PT_LOAD, PT_INTERP):
            need = max(need, p_offset + p_filesz)
    for n in (1, 3, 4, 5, 16, 52, 63, 64, 65, 100, 119, 120, 121, 200, 1000, 4095, 4096, 10000,
              need // 2, need - 1):
        if n < need and ("reject", "trunc-%d" % n) not in files:
            put("reject", "trunc-%d" % n, real[:n])
    put("reject", "trunc-base-%d" % 70, program([load()])[:70])

    # identification and header fields
    put("reject", "class-none", program([load()], ident=b"\x7fELF\x00\x01\x01" + bytes(9)))
    put("reject", "class-3", program([load()], ident=b"\x7fELF\x03\x01\x01" + bytes(9)))
    put("reject", "big-endian", program([load()], ident=b"\x7fELF\x02\x02\x01" + bytes(9)))
    put("reject", "machine-i386", program([load()], machine=3))
    put("reject", "machine-0", program([load()], machine=0))
    put("reject", "machine-aarch64", program([load()], machine=183))
    put("reject", "type-rel", program([load()], e_type=ET_REL))
    put("reject", "type-core", program([load()], e_type=ET_CORE))
    put("reject", "type-0xfe00", program([load()], e_type=0xfe00))

    # program header table
    put("reject", "phnum-0", program([load()], nphdr_slots=1, phnum=0))
    put("reject", "phnum-65535", program([load()], nphdr_slots=1, phnum=65535))
    put("reject", "phnum-200", program([load()], nphdr_slots=1, phnum=200))
    put("reject", "phentsize-32", program([load()], phentsize=32))
    put("reject", "phentsize-0", program([load()], phentsize=0))
    put("reject", "phoff-past-eof", program([load()], phoff=1 << 20))
    put("reject", "phoff-huge", program([load()], phoff=0xffffffffffffff00))
    put("reject", "phoff-straddles-eof", program([load()], phoff=100))
    put("reject", "no-load", program([lambda c, e, s: phdr(PT_PHDR, PF_R, 64, BASE + 64, 56, 56)]))

    # PT_LOAD fields
    put("reject", "load-offset-past-eof", program([load(offset=1 << 20, vaddr=BASE + (1 << 20))]))
    put("reject", "load-offset-huge", program([load(offset=0xfffffffffffff000,
                                                    vaddr=BASE)]))
    put("reject", "load-filesz-past-eof", program([load(filesz=1 << 20, memsz=1 << 20)]))
    put("reject", "load-filesz-gt-memsz", program([load(memsz=16)]))
    put("reject", "load-filesz-huge", program([load(filesz=0xffffffffffffff00,
                                                    memsz=0xffffffffffffff00)]))
    put("reject", "load-memsz-huge", program([load(memsz=0xffffffffffff0000)]))
    put("reject", "load-memsz-wraps", program([load(memsz=0xffffffffffffffff)]))
    put("reject", "load-memsz-1tib", program([load(memsz=1 << 40)]))
    put("reject", "load-vaddr-noncanonical",
        program([load(vaddr=0xdead000000000000)], entry=0xdead000000000078))
    put("reject", "load-vaddr-top", program([load(vaddr=0xfffffffffffff000)],
                                            entry=0xfffffffffffff078))
    put("reject", "load-vaddr-top-wrap", program([load(vaddr=0xfffffffffffff000, memsz=0x800)],
                                                 entry=0xfffffffffffff078))
    put("reject", "load-vaddr-beyond-window", program([load(vaddr=1 << 46)],
                                                      entry=(1 << 46) + 0x78))
    put("reject", "load-vaddr-0", program([load(vaddr=0)], entry=0x78))
    put("reject", "load-misaligned", program([load(offset=0, vaddr=BASE + 0x10)]))
    put("reject", "dyn-span-huge", program([load(), load(flags=PF_R | PF_W, vaddr=BASE + (1 << 46))],
                                           e_type=ET_DYN))
    # overlapping PT_LOADs: Linux maps them in order, a later one replaces an earlier one.
    # (Not tested: an RW segment over the code page. Linux then faults at the entry; omnivisor
    # gives a page shared by two segments the union of their protections, by design: elf.c.)
    put("same", "load-overlap-code", program([load(), load(flags=PF_R | PF_W | PF_X)]))
    put("same", "load-overlap-data",
        program([load(), load(flags=PF_R | PF_W, vaddr=BASE + 0x1000, memsz=0x3000),
                 load(flags=PF_R, vaddr=BASE + 0x2000, memsz=0x100)]))
    put("same", "load-overlap-reversed", program([load(vaddr=BASE + 0x1000, memsz=0x2000),
                                                  load()]))
    put("same", "load-memsz-0-first", program([load(memsz=0, filesz=0), load()]))
    put("same", "load-align-odd", program([load(align=3)]))

    # entry point
    put("same", "entry-0", program([load()], entry=0))
    put("same", "entry-noncanonical", program([load()], entry=0xdead000000000000))
    put("same", "entry-in-header", program([load()], entry=BASE))
    put("same", "entry-past-segment", program([load()], entry=BASE + 0x800))

    # PT_INTERP
    def with_interp(name, path, **kw):
        text = path if isinstance(path, bytes) else path.encode() + b"\0"
        put("reject", name, program([interp(len(text), **kw), load()], extra=text))

    with open(os.path.join(out, "notelf.txt"), "w") as f:
        f.write("not a program\n")
    open(os.path.join(out, "empty"), "w").close()
    with_interp("interp-no-nul", b"/lib64/ld-linux-x86-64.so.2")
    with_interp("interp-nul-inside", b"/lib64/ld\0-linux-x86-64.so.2\0")
    with_interp("interp-empty-string", b"\0")
    with_interp("interp-not-elf", os.path.join(rundir, "notelf.txt"))
    with_interp("interp-empty-file", os.path.join(rundir, "empty"))
    with_interp("interp-directory", "/")
    with_interp("interp-missing", "/nonexistent/ld.so")
    with_interp("interp-has-interp", os.path.join(rundir, "interp-missing"))
    with_interp("interp-truncated-elf", os.path.join(rundir, "trunc-100"))
    with_interp("interp-rel", os.path.join(rundir, "type-rel"))
    with_interp("interp-self", os.path.join(rundir, "interp-self"))
    with_interp("interp-offset-past-eof", "/lib64/ld-linux-x86-64.so.2", offset=1 << 20)
    with_interp("interp-filesz-huge", "/lib64/ld-linux-x86-64.so.2", filesz=1 << 40)
    with_interp("interp-filesz-max", "/lib64/ld-linux-x86-64.so.2", filesz=0xffffffffffffffff)
    with_interp("interp-filesz-0", "/lib64/ld-linux-x86-64.so.2", filesz=0)
    with_interp("interp-long", "/" + "x" * 5000)

    for kind, name in files:
        print(kind, name)


if __name__ == "__main__":
    main()
