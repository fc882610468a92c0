// Raw code blobs as processes: the in-kernel tests' programs and the probe
// that finds out whether user mode works at all on this hypervisor.
#include "obj/vmo.h"
#include "sched/clock.h"
#include "sys/process.h"

#define BLOB_CODE_VA    0x400000ull
#define BLOB_STACK_SIZE (256 * 1024ull)
#define BLOB_STACK_TOP  (USER_TOP - PAGE_SIZE)

extern const char utprog_exit42[], utprog_exit42_end[];

// Maps a copy of the code at BLOB_CODE_VA (read+exec) and a stack, then
// starts it with rsi = the stack's lowest address.
status_t process_load_blob(struct process *p, const void *code, size_t n)
{
    struct vmo *cv, *sv;
    status_t st = vmo_create_kernel(ALIGN_UP(n, PAGE_SIZE), &cv);
    if (st != OK)
        return st;
    vaddr_t at = BLOB_CODE_VA, sat = BLOB_STACK_TOP - BLOB_STACK_SIZE;
    st = vmo_write_kernel(cv, 0, code, n);
    if (st == OK)
        st = vm_map(p->as, cv, 0, ALIGN_UP(n, PAGE_SIZE), VM_READ | VM_EXEC, true, &at);
    obj_unref(vmo_obj(cv));
    if (st == OK && (st = vmo_create_kernel(BLOB_STACK_SIZE, &sv)) == OK) {
        st = vm_map(p->as, sv, 0, BLOB_STACK_SIZE, VM_READ | VM_WRITE, true, &sat);
        obj_unref(vmo_obj(sv));
    }
    if (st == OK)
        st = process_start(p, NULL, HANDLE_INVALID, BLOB_CODE_VA, BLOB_STACK_TOP, sat);
    return st;
}

bool user_mode_works(void)
{
    static int known = -1; // -1 unknown, 0 no, 1 yes
    if (known >= 0)
        return known;
    struct process *p;
    known = 0;
    if (process_create_kernel_nopid("probe", &p) != OK)
        return false;
    size_t n = (size_t)((uintptr_t)utprog_exit42_end - (uintptr_t)utprog_exit42);
    if (process_load_blob(p, utprog_exit42, n) == OK &&
        process_wait(p, clock_monotonic_ns() + 10000000000ull) == OK) {
        struct nb_process_info info;
        process_info(p, &info);
        known = info.exit_code == 42;
    }
    process_kill(p, -1, NB_PROCESS_KILLED);
    obj_unref(&p->obj);
    return known;
}
