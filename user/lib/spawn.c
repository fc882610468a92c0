// Starting a program from an ELF image (nb/process.h): the kernel's own ELF
// planner (kernel/lib/elf.c) checks the image, then each segment is copied
// into a fresh vmo mapped into the new process, the System V stack is built
// here and written into the stack vmo, and the process starts with a
// bootstrap channel holding its handles.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "lib/elf.h"
#include "nb/bootstrap.h"
#include "nb/process.h"
#include "nb/syscall.h"
#include "nb/time.h"

#define PAGE_SIZE       4096u
#define STACK_IMAGE_MAX (64u * 1024) // the top of the stack built locally
#define NAME_MAX_LEN    31u

static uint32_t vm_flags(uint32_t prot)
{
    return (prot & ELF_PROT_READ ? NB_VM_READ : 0) | (prot & ELF_PROT_WRITE ? NB_VM_WRITE : 0) |
           (prot & ELF_PROT_EXEC ? NB_VM_EXEC : 0);
}

// One segment: a vmo with the file bytes (the rest reads as zeros), made
// executable for code, mapped at its fixed address. The vmo lives on
// through the mapping.
static status_t load_segment(handle_t proc, const uint8_t *elf, const struct elf_segment *seg,
                             handle_t vmex)
{
    handle_t vmo;
    uintptr_t addr = seg->vaddr;
    status_t s;

    if ((s = nb_vmo_create(seg->memsz, &vmo)) != OK)
        return s;
    if (seg->filesz)
        s = nb_vmo_write(vmo, elf + seg->file_offset, 0, seg->filesz);
    if (s == OK && (seg->prot & ELF_PROT_EXEC)) {
        handle_t exec;
        if ((s = nb_vmo_replace_as_executable(vmo, vmex, &exec)) != OK) {
            nb_handle_close(vmo); // a refused replace leaves it ours
            return s;
        }
        vmo = exec;
    }
    if (s == OK)
        s = nb_vm_map(proc, vmo, 0, seg->memsz, vm_flags(seg->prot) | NB_VM_FIXED, &addr);
    nb_handle_close(vmo);
    return s;
}

static uint64_t stack_size_for(const struct nb_spawn *sp, const struct elf_plan *plan)
{
    uint64_t size = sp->stack_size ? sp->stack_size : plan->stack_size;
    if (!size)
        size = NB_SPAWN_STACK_DEFAULT;
    if (size > NB_SPAWN_STACK_MAX)
        size = NB_SPAWN_STACK_MAX;
    size = (size + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
    return size < 2 * PAGE_SIZE ? 2 * PAGE_SIZE : size;
}

// splitmix64 step: spreads the bits of whatever x holds.
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

// AT_RANDOM bytes for the child (musl seeds its stack canary and pointer
// guard from them): our own AT_RANDOM, the time and a counter, mixed. Not
// a cryptographic source; a kernel random-number call will replace it.
static void child_random(uint8_t out[16])
{
    static uint64_t counter;
    uint64_t seed[2] = {0, 0};
    const void *ours = (const void *)getauxval(AT_RANDOM);
    if (ours)
        memcpy(seed, ours, sizeof(seed));
    uint64_t a = mix(seed[0] ^ nb_now() ^ ++counter), b = mix(seed[1] ^ a);
    memcpy(out, &a, 8);
    memcpy(out + 8, &b, 8);
}

// Maps the stack below NB_SPAWN_STACK_TOP and writes argv, envp and auxv at
// its top; *sp_va is the initial stack pointer.
static status_t load_stack(handle_t proc, const struct nb_spawn *sp, const struct elf_plan *plan,
                           uint64_t *sp_va)
{
    uint64_t size = stack_size_for(sp, plan);
    uint64_t image = size < STACK_IMAGE_MAX ? size : STACK_IMAGE_MAX;
    uintptr_t addr = NB_SPAWN_STACK_TOP - size;
    struct elf_auxv aux;
    handle_t vmo;
    status_t s;

    uint8_t *buf = malloc(image);
    if (!buf)
        return ERR_NO_MEMORY;
    elf_auxv_from_plan(plan, &aux);
    aux.hwcap = getauxval(AT_HWCAP);
    child_random(aux.random);
    s = elf_build_stack(buf, image, NB_SPAWN_STACK_TOP, sp->argv, sp->envp, &aux, sp_va);
    if (s == OK && (s = nb_vmo_create(size, &vmo)) == OK) {
        uint64_t used = NB_SPAWN_STACK_TOP - *sp_va;
        s = nb_vmo_write(vmo, buf + image - used, size - used, used);
        if (s == OK)
            s = nb_vm_map(proc, vmo, 0, size, NB_VM_READ | NB_VM_WRITE | NB_VM_FIXED, &addr);
        nb_handle_close(vmo);
    }
    free(buf);
    return s;
}

static void close_handles(const handle_t *h, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        nb_handle_close(h[i]);
}

// The bootstrap channel: the start message goes on our end, whose handle is
// closed at once (the message stays queued for the other end); *theirs is
// for NB_SYS_PROCESS_START. The handles are consumed either way.
static status_t make_bootstrap(handle_t proc, const struct nb_spawn *sp, handle_t *theirs)
{
    uint32_t roles[BOOTSTRAP_HANDLES_MAX];
    handle_t hs[BOOTSTRAP_HANDLES_MAX];
    uint32_t n = sp->nhandles;
    handle_t ours;
    status_t s;

    if (n + sp->give_self > BOOTSTRAP_HANDLES_MAX) {
        close_handles(sp->handles, n);
        return ERR_OUT_OF_RANGE;
    }
    for (uint32_t i = 0; i < n; i++) {
        roles[i] = sp->roles[i];
        hs[i] = sp->handles[i];
    }
    if (sp->give_self) {
        if ((s = nb_handle_duplicate(proc, RIGHT_SAME_RIGHTS, &hs[n])) != OK)
            goto fail;
        roles[n++] = BOOTSTRAP_ROLE_PROCESS_SELF;
    }
    if ((s = nb_channel_create(0, &ours, theirs)) != OK)
        goto fail;
    s = nb_bootstrap_send(ours, roles, hs, n);
    nb_handle_close(ours);
    if (s != OK) {
        nb_handle_close(*theirs);
        goto fail;
    }
    return OK;
fail:
    close_handles(hs, n);
    return s;
}

status_t nb_spawn(const struct nb_spawn *sp, handle_t *process)
{
    struct elf_plan plan;
    handle_t proc, boot;
    uint64_t sp_va;
    status_t s;

    if ((s = elf_parse(sp->elf, sp->elf_size, &plan)) != OK)
        goto fail_handles;
    size_t name_len = strnlen(sp->name, NAME_MAX_LEN);
    if ((s = nb_process_create(sp->name, name_len, &proc)) != OK)
        goto fail_handles;
    handle_t vmex = sp->vmex ? sp->vmex : nb_bootstrap_peek(BOOTSTRAP_ROLE_VMEX);
    for (uint32_t i = 0; i < plan.nsegments && s == OK; i++)
        s = load_segment(proc, sp->elf, &plan.segments[i], vmex);
    if (s != OK || (s = load_stack(proc, sp, &plan, &sp_va)) != OK)
        goto fail_process;
    if ((s = make_bootstrap(proc, sp, &boot)) != OK)
        goto fail_process_only;
    if ((s = nb_process_start(proc, plan.entry, sp_va, boot, 0)) != OK) {
        nb_handle_close(boot); // destroys the queued message and its handles
        goto fail_process_only;
    }
    *process = proc;
    return OK;

fail_process:
    close_handles(sp->handles, sp->nhandles);
fail_process_only:
    nb_handle_close(proc);
    return s;
fail_handles:
    close_handles(sp->handles, sp->nhandles);
    return s;
}

status_t nb_process_wait(handle_t process, uint64_t deadline, struct nb_process_info *info)
{
    signals_t observed;
    status_t s = nb_object_wait_one(process, SIGNAL_TERMINATED, deadline, &observed);
    if (s != OK)
        return s;
    return nb_process_info(process, info);
}

// What a fault exit code stands for (include/nimbus/process.h).
static const char *fault_name(int64_t code)
{
    switch (code) {
    case NB_EXIT_FAULT_SEGV:
        return "page or protection fault";
    case NB_EXIT_FAULT_FPE:
        return "divide error";
    case NB_EXIT_FAULT_ILL:
        return "invalid opcode";
    default:
        return "CPU exception";
    }
}

void nb_process_describe(const struct nb_process_info *info, char *buf, size_t size)
{
    long long code = (long long)info->exit_code;
    if (info->state != NB_PROCESS_DEAD)
        snprintf(buf, size, "is %s", info->state == NB_PROCESS_NEW ? "not started" : "running");
    else if (info->flags & NB_PROCESS_FAULTED)
        snprintf(buf, size, "faulted (exit code %lld: %s)", code, fault_name(info->exit_code));
    else if (info->flags & NB_PROCESS_KILLED)
        snprintf(buf, size, "was killed (exit code %lld)", code);
    else
        snprintf(buf, size, "exited with %lld", code);
}
