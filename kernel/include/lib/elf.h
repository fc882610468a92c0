// ELF64 executables for x86_64: checking an image and planning how to load
// it, and building the initial user stack of the System V ABI.
//
// Portable like lib/cpio.h (<stddef.h>, <stdint.h>, nimbus/status.h only):
// the kernel loads /init with it and libnimbus loads every later program.
//
// elf_parse never maps anything: it turns an untrusted image into a plan
// (page-granular segments with their protections, entry point, where the
// program headers land for AT_PHDR) that a loader carries out.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nimbus/status.h"

#define ELF_PAGE_SIZE 4096u

// User addresses a program may occupy: [ELF_USER_MIN, ELF_USER_MAX).
#define ELF_USER_MIN 0x1000ull
#define ELF_USER_MAX 0x00007fffffffe000ull

// Where elf_parse puts an ET_DYN (static-pie) image.
#define ELF_DYN_DEFAULT_BASE 0x0000555555554000ull

#define ELF_MAX_SEGMENTS 16  // PT_LOAD segments per image
#define ELF_MAX_PHNUM    128 // program headers per image

// Facts from the ELF specification and the x86_64 psABI.
#define ELF_EHDR_SIZE    64u
#define ELF_PHDR_SIZE    56u
#define ELF_ET_EXEC      2
#define ELF_ET_DYN       3
#define ELF_EM_X86_64    62
#define ELF_PT_LOAD      1
#define ELF_PT_DYNAMIC   2
#define ELF_PT_INTERP    3
#define ELF_PT_PHDR      6
#define ELF_PT_TLS       7
#define ELF_PT_GNU_STACK 0x6474e551u
#define ELF_PF_X         1u
#define ELF_PF_W         2u
#define ELF_PF_R         4u

// Segment protections in a plan.
#define ELF_PROT_READ  (1u << 0)
#define ELF_PROT_WRITE (1u << 1)
#define ELF_PROT_EXEC  (1u << 2)

// One mapping to make. Whole pages: [vaddr, vaddr + memsz) gets the image's
// bytes [file_offset, file_offset + filesz) at its start and zeros after
// them. file_offset is page-aligned, so the bytes of the image's first page
// before the segment proper are mapped too, as on Linux (that is where the
// ELF header and program headers usually are).
struct elf_segment {
    uint64_t vaddr;       // page-aligned
    uint64_t memsz;       // multiple of the page size, > 0
    uint64_t file_offset; // page-aligned
    uint64_t filesz;      // <= memsz; file_offset + filesz within the image
    uint32_t prot;        // ELF_PROT_*; never WRITE and EXEC together
};

// Everything a loader needs; addresses include the load bias.
struct elf_plan {
    uint16_t type;      // ELF_ET_EXEC or ELF_ET_DYN
    uint64_t bias;      // added to every address of the image (0 for ET_EXEC)
    uint64_t entry;     // inside an executable segment
    uint64_t phdr;      // where the program headers are mapped (AT_PHDR)
    uint32_t phnum;     // AT_PHNUM
    uint32_t phentsize; // AT_PHENT
    uint32_t nsegments;
    struct elf_segment segments[ELF_MAX_SEGMENTS]; // ascending, disjoint pages
    bool has_tls;                                  // a PT_TLS header: musl finds it through AT_PHDR
    uint64_t tls_vaddr, tls_filesz, tls_memsz, tls_align;
    uint64_t stack_size; // PT_GNU_STACK p_memsz if non-zero, else 0 (loader's choice)
};

// Checks an x86_64 little-endian ELF64 image of `size` bytes and plans its
// loading. ET_EXEC loads where it says; ET_DYN without an interpreter
// (static-pie) loads at ELF_DYN_DEFAULT_BASE (elf_parse_at chooses).
// ERR_BAD_FORMAT: not ELF, or inconsistent (headers or segments outside the
// image, filesz > memsz, overlapping or unaligned segments, entry outside an
// executable segment, program headers not mapped).
// ERR_NOT_SUPPORTED: a valid ELF this loader will not run (32-bit,
// big-endian, other machine, ET_REL/ET_CORE, a PT_INTERP, a W+X segment, an
// executable stack, too many headers or segments).
// ERR_OUT_OF_RANGE: a segment outside [ELF_USER_MIN, ELF_USER_MAX).
// *plan is complete only on OK.
status_t elf_parse(const void *image, size_t size, struct elf_plan *plan);

// elf_parse with the load address of an ET_DYN image chosen by the caller
// (page-aligned, else ERR_INVALID_ARGS); ignored for ET_EXEC.
status_t elf_parse_at(const void *image, size_t size, uint64_t dyn_base, struct elf_plan *plan);

// Auxiliary vector types (System V ABI, Linux).
#define ELF_AT_NULL   0
#define ELF_AT_PHDR   3
#define ELF_AT_PHENT  4
#define ELF_AT_PHNUM  5
#define ELF_AT_PAGESZ 6
#define ELF_AT_BASE   7
#define ELF_AT_FLAGS  8
#define ELF_AT_ENTRY  9
#define ELF_AT_UID    11
#define ELF_AT_EUID   12
#define ELF_AT_GID    13
#define ELF_AT_EGID   14
#define ELF_AT_HWCAP  16
#define ELF_AT_CLKTCK 17
#define ELF_AT_SECURE 23
#define ELF_AT_RANDOM 25

#define ELF_CLKTCK         100
#define ELF_AUXV_EXTRA_MAX 4

// What elf_build_stack puts in the auxiliary vector.
struct elf_auxv {
    uint64_t phdr, phent, phnum, entry; // from the plan (elf_auxv_from_plan)
    uint64_t hwcap;                     // CPUID.1:EDX, as Linux reports it
    uint8_t random[16];                 // copied to the stack, AT_RANDOM points there
    uint32_t nextra;                    // further entries, e.g. AT_NIMBUS_BOOTSTRAP
    struct {
        uint64_t type, value;
    } extra[ELF_AUXV_EXTRA_MAX];
};

// Fills phdr/phent/phnum/entry of aux from plan; zeroes the rest.
void elf_auxv_from_plan(const struct elf_plan *plan, struct elf_auxv *aux);

// Entries (type/value pairs, AT_NULL included) elf_build_stack writes.
#define ELF_AUXV_BASE_COUNT 16u

// Builds the initial process stack of the System V x86_64 ABI in buf, which
// stands for the user memory [stack_top_va - bufsize, stack_top_va):
//   sp -> argc, argv[0..argc-1], NULL, envp[0..], NULL, auxv pairs, AT_NULL,
//   then (higher up) the 16 AT_RANDOM bytes and the strings.
// *sp_out (16-byte aligned, as the ABI requires at entry) is the user address
// of argc; the bytes of buf below it are left untouched. argv and envp are
// NULL-terminated lists (NULL = empty). stack_top_va must be 16-byte aligned
// (else ERR_INVALID_ARGS); ERR_BUFFER_TOO_SMALL if it does not fit,
// ERR_OUT_OF_RANGE if aux->nextra > ELF_AUXV_EXTRA_MAX.
status_t elf_build_stack(void *buf, size_t bufsize, uint64_t stack_top_va, const char *const *argv,
                         const char *const *envp, const struct elf_auxv *aux, uint64_t *sp_out);
