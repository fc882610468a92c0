// Processes and user threads.
#include "init/boottime.h"
#include "lib/fmt.h"
#include "lib/printk.h"
#include "lib/string.h"
#include "mm/slab.h"
#include "sched/clock.h"
#include "sys/ioport.h"
#include "sys/linux.h"
#include "sys/process.h"
#include "sys/user.h"

#define PROCESS_RIGHTS                                                                          \
    (RIGHT_READ | RIGHT_WRITE | RIGHT_DUPLICATE | RIGHT_TRANSFER | RIGHT_WAIT | RIGHT_INSPECT | \
     RIGHT_MANAGE)
#define EXIT_DECIDED (1u << 31) // internal flag: exit_code is final

static struct spinlock procs_lock = SPINLOCK_INIT("processes");
static struct list_node all_procs = LIST_INIT(all_procs); // (procs_lock)
static uint64_t live_procs;                               // (procs_lock)
static uint64_t next_pid = 1;

static struct process *to_proc(struct kobject *o)
{
    return container_of(o, struct process, obj);
}

static struct uthread *to_ut(struct kobject *o)
{
    return container_of(o, struct uthread, obj);
}

static void teardown(struct process *p, bool destroying);

static void process_destroy(struct kobject *o)
{
    struct process *p = to_proc(o);
    if (p->state != NB_PROCESS_DEAD)
        teardown(p, true); // never started: nothing runs in it
    irqstate_t s = spin_lock_irqsave(&procs_lock);
    list_remove(&p->all_node);
    live_procs--;
    spin_unlock_irqrestore(&procs_lock, s);
    kfree(p);
}

static const struct kobject_ops process_ops = {
    .type = OBJ_PROCESS,
    .name = "process",
    .default_rights = PROCESS_RIGHTS,
    .destroy = process_destroy,
};

static void uthread_destroy(struct kobject *o)
{
    struct uthread *ut = to_ut(o);
    struct process *p = ut->proc;
    irqstate_t s = obj_lock(&p->obj);
    bool unstarted = !ut->started && !ut->ended;
    if (unstarted) {
        list_remove(&ut->proc_node);
        p->nthreads--;
        ut->ended = true;
    }
    obj_unlock(&p->obj, s);
    if (unstarted && ut->kt)
        thread_discard(ut->kt);
    obj_unref(&p->obj);
    kfree(ut);
}

static const struct kobject_ops uthread_ops = {
    .type = OBJ_THREAD,
    .name = "thread",
    .default_rights = PROCESS_RIGHTS,
    .destroy = uthread_destroy,
};

static status_t process_new(const char *name, bool with_pid, struct process **out)
{
    struct process *p = kzalloc(sizeof(*p));
    if (!p)
        return ERR_NO_MEMORY;
    status_t st = handle_table_init(&p->handles, HANDLE_TABLE_DEFAULT_MAX);
    if (st == OK && (st = vm_aspace_create(&p->as)) != OK)
        handle_table_destroy(&p->handles);
    if (st != OK) {
        kfree(p);
        return st;
    }
    obj_init(&p->obj, &process_ops, NULL);
    kstrlcpy(p->name, name, sizeof(p->name));
    p->pid = with_pid ? __atomic_fetch_add(&next_pid, 1, __ATOMIC_RELAXED) : 0;
    p->state = NB_PROCESS_NEW;
    list_init(&p->threads);
    irqstate_t s = spin_lock_irqsave(&procs_lock);
    list_add_tail(&all_procs, &p->all_node);
    live_procs++;
    spin_unlock_irqrestore(&procs_lock, s);
    *out = p;
    return OK;
}

status_t process_create_kernel(const char *name, struct process **out)
{
    return process_new(name, true, out);
}

status_t process_create_kernel_nopid(const char *name, struct process **out)
{
    return process_new(name, false, out);
}

status_t process_create(struct handle_table *t, const char *name, handle_t *out)
{
    struct process *p;
    status_t st = process_create_kernel(name, &p);
    if (st != OK)
        return st;
    st = handle_install(t, &p->obj, PROCESS_RIGHTS, out);
    obj_unref(&p->obj);
    return st;
}

// Notes the boot stage "user" the first time any thread enters user mode.
static void note_first_user_entry(struct uthread *ut)
{
    static bool seen;
    if (__atomic_exchange_n(&seen, true, __ATOMIC_RELAXED))
        return;
    boot_stage("user");
    const struct boot_stage *st;
    size_t n = boot_stages(&st);
    pr_info("boot: first user instruction (%s) at %llu us, tsc=%llu", ut->proc->name,
            (unsigned long long)(clock_cycles_to_ns(st[n - 1].tsc - st[0].tsc) / 1000),
            (unsigned long long)(st[n - 1].tsc - st[0].tsc));
}

static int uthread_main(void *arg)
{
    struct uthread *ut = arg;
    if (thread_current()->killed)
        uthread_exit(0);
    note_first_user_entry(ut);
    arch_enter_user_frame(&ut->regs);
}

status_t uthread_create(struct process *p, struct uthread **out)
{
    struct uthread *ut = kzalloc(sizeof(*ut));
    if (!ut)
        return ERR_NO_MEMORY;
    status_t st = thread_create(p->name, uthread_main, ut, PRIO_DEFAULT, &ut->kt);
    if (st != OK) {
        kfree(ut);
        return st;
    }
    ut->kt->fpu = kmalloc(sizeof(struct arch_fpu));
    if (!ut->kt->fpu) {
        thread_discard(ut->kt);
        kfree(ut);
        return ERR_NO_MEMORY;
    }
    arch_fpu_init_state(ut->kt->fpu);
    obj_init(&ut->obj, &uthread_ops, NULL);
    ut->kt->aspace_root = p->as->root;
    ut->kt->owner = ut;
    irqstate_t s = obj_lock(&p->obj);
    if (p->state == NB_PROCESS_DEAD) {
        obj_unlock(&p->obj, s);
        thread_discard(ut->kt);
        kfree(ut);
        return ERR_BAD_STATE;
    }
    obj_ref(&p->obj);
    ut->proc = p;
    list_add_tail(&p->threads, &ut->proc_node);
    p->nthreads++;
    obj_unlock(&p->obj, s);
    *out = ut;
    return OK;
}

status_t uthread_start_regs(struct uthread *ut, const struct user_regs *regs, uint64_t fs_base)
{
    struct process *p = ut->proc;
    irqstate_t s = obj_lock(&p->obj);
    if (ut->started || ut->ended || p->state == NB_PROCESS_DEAD || (p->flags & EXIT_DECIDED)) {
        obj_unlock(&p->obj, s);
        return ERR_BAD_STATE; // (an exit or kill decided: nothing new may start)
    }
    ut->started = true;
    ut->regs = *regs;
    ut->kt->fs_base = fs_base;
    p->running++;
    p->state = NB_PROCESS_RUNNING;
    obj_unlock(&p->obj, s);
    obj_ref(&ut->obj); // held by the running thread until it ends
    thread_detach(ut->kt);
    thread_start(ut->kt);
    return OK;
}

status_t uthread_start(struct uthread *ut, uint64_t entry, uint64_t stack, uint64_t arg1,
                       uint64_t arg2)
{
    struct user_regs r = {.rip = entry, .rsp = stack, .rdi = arg1, .rsi = arg2};
    return uthread_start_regs(ut, &r, 0);
}

status_t process_start(struct process *p, struct handle_table *t, handle_t bootstrap,
                       uint64_t entry, uint64_t stack, uint64_t arg2)
{
    if (p->state != NB_PROCESS_NEW)
        return ERR_BAD_STATE;
    struct uthread *ut;
    status_t st = uthread_create(p, &ut);
    if (st != OK)
        return st;
    handle_t arg1 = HANDLE_INVALID;
    if (bootstrap != HANDLE_INVALID)
        st = handle_move(t, bootstrap, &p->handles, &arg1);
    if (st == OK)
        st = uthread_start(ut, entry, stack, arg1, arg2);
    obj_unref(&ut->obj); // the creation reference: the thread keeps its own
    return st;
}

status_t process_start_handle(struct process *p, handle_t arg1, uint64_t entry, uint64_t stack)
{
    if (p->state != NB_PROCESS_NEW)
        return ERR_BAD_STATE;
    struct uthread *ut;
    status_t st = uthread_create(p, &ut);
    if (st != OK)
        return st;
    st = uthread_start(ut, entry, stack, arg1, 0);
    obj_unref(&ut->obj);
    return st;
}

// Frees what a dead process holds: threads never started, its address
// space and its handles; then asserts TERMINATED. Runs once, in the last
// thread to end or in whoever finds no thread left to end, or in
// process_destroy for a process that never ran (`destroying`: the count is
// already zero, so no reference is taken: one dropped again would destroy
// the process a second time, under the first destroy's feet).
static void teardown(struct process *p, bool destroying)
{
    struct list_node unstarted = LIST_INIT(unstarted);
    if (!destroying)
        obj_ref(&p->obj); // closing its handles may drop the last other reference
    irqstate_t s = obj_lock(&p->obj);
    if (p->state == NB_PROCESS_DEAD) {
        // Already torn down, or being torn down on another CPU: the last
        // thread's uthread_exit and a process_kill that found no thread
        // running can both get here (between the exit's unlock and this lock).
        obj_unlock(&p->obj, s);
        if (!destroying)
            obj_unref(&p->obj);
        return;
    }
    p->state = NB_PROCESS_DEAD;
    list_for_each_safe(it, tmp, &p->threads)
    {
        struct uthread *ut = list_entry(it, struct uthread, proc_node);
        if (!ut->started) {
            list_remove(&ut->proc_node);
            list_add_tail(&unstarted, &ut->proc_node);
            ut->ended = true;
            p->nthreads--;
        }
    }
    obj_unlock(&p->obj, s);
    list_for_each_safe(it, tmp, &unstarted)
    {
        struct uthread *ut = list_entry(it, struct uthread, proc_node);
        list_init(&ut->proc_node);
        thread_discard(ut->kt);
        ut->kt = NULL;
    }
    struct thread *self = thread_current();
    if (p->as && self->aspace_root == p->as->root) {
        self->aspace_root = 0;
        arch_mmu_activate(arch_mmu_kernel_root());
    }
    if (p->as)
        vm_aspace_destroy(p->as);
    p->as = NULL;
    ioport_release(p);
    linux_fd_teardown(p); // (its channels close: peers see PEER_CLOSED)
    handle_table_destroy(&p->handles);
    s = obj_lock(&p->obj);
    obj_signal_locked(&p->obj, 0, SIGNAL_TERMINATED);
    obj_unlock(&p->obj, s);
    if (!destroying)
        obj_unref(&p->obj);
}

void process_kill(struct process *p, int64_t code, uint32_t flags)
{
    irqstate_t s = obj_lock(&p->obj);
    if (p->state == NB_PROCESS_DEAD) {
        obj_unlock(&p->obj, s);
        return;
    }
    if (!(p->flags & EXIT_DECIDED)) {
        p->exit_code = code;
        p->flags |= EXIT_DECIDED | flags;
    }
    list_for_each(it, &p->threads)
    {
        struct uthread *ut = list_entry(it, struct uthread, proc_node);
        if (ut->started && !ut->ended)
            thread_kill(ut->kt);
    }
    bool none_running = p->running == 0;
    obj_unlock(&p->obj, s);
    if (none_running)
        teardown(p, false);
}

void uthread_exit(int64_t code)
{
    struct uthread *ut = uthread_current();
    struct process *p = ut->proc;
    if (ut->clear_child_tid)
        linux_clear_child_tid(ut->clear_child_tid); // how a pthread_join wakes up
    irqstate_t s = obj_lock(&p->obj);
    ut->ended = true;
    list_remove(&ut->proc_node);
    p->nthreads--;
    p->running--;
    p->cpu_ns += thread_runtime_ns(ut->kt);
    bool last = p->running == 0;
    if (last && !(p->flags & EXIT_DECIDED)) {
        p->exit_code = code;
        p->flags |= EXIT_DECIDED;
    }
    obj_unlock(&p->obj, s);
    s = obj_lock(&ut->obj);
    obj_signal_locked(&ut->obj, 0, SIGNAL_TERMINATED);
    obj_unlock(&ut->obj, s);
    if (last)
        teardown(p, false);
    thread_current()->owner = NULL;
    obj_unref(&ut->obj); // the running thread's reference
    thread_exit((int)code);
}

void process_exit(int64_t code)
{
    process_kill(process_current(), code, 0);
    uthread_exit(code);
}

struct uthread *uthread_current(void)
{
    struct thread *t = thread_current();
    return t ? t->owner : NULL; // no thread before the scheduler starts
}

struct process *process_current(void)
{
    struct uthread *ut = uthread_current();
    return ut ? ut->proc : NULL;
}

status_t process_get(struct handle_table *t, handle_t h, rights_t need, struct process **out)
{
    struct kobject *o;
    status_t st = handle_get(t, h, OBJ_PROCESS, need, &o);
    if (st == OK)
        *out = to_proc(o);
    return st;
}

status_t uthread_get(struct handle_table *t, handle_t h, rights_t need, struct uthread **out)
{
    struct kobject *o;
    status_t st = handle_get(t, h, OBJ_THREAD, need, &o);
    if (st == OK)
        *out = to_ut(o);
    return st;
}

void process_info(struct process *p, struct nb_process_info *out)
{
    *out = (struct nb_process_info){.pid = p->pid};
    kstrlcpy(out->name, p->name, sizeof(out->name));
    irqstate_t s = obj_lock(&p->obj);
    out->state = p->state;
    out->flags = p->flags & ~EXIT_DECIDED;
    out->exit_code = p->state == NB_PROCESS_DEAD ? p->exit_code : 0;
    out->threads = p->nthreads;
    out->cpu_ns = p->cpu_ns;
    list_for_each(it, &p->threads)
    {
        struct uthread *ut = list_entry(it, struct uthread, proc_node);
        if (ut->kt)
            out->cpu_ns += thread_runtime_ns(ut->kt); // (a thread on a CPU now too)
    }
    // Under the lock: teardown marks the process DEAD (under it) before it
    // frees the address space.
    bool alive = p->as && p->state != NB_PROCESS_DEAD;
    if (alive)
        out->mapped_bytes = vm_mapped_bytes(p->as);
    obj_unlock(&p->obj, s);
    if (alive)
        out->handles = handle_table_count(&p->handles);
}

size_t process_list(struct nb_process_info *out, size_t max)
{
    size_t n = 0;
    irqstate_t s = spin_lock_irqsave(&procs_lock);
    list_for_each(it, &all_procs)
    {
        if (n < max)
            process_info(list_entry(it, struct process, all_node), &out[n]);
        n++;
    }
    spin_unlock_irqrestore(&procs_lock, s);
    return n;
}

status_t process_get_by_pid(uint64_t pid, struct process **out)
{
    struct process *found = NULL;
    if (pid == 0)
        return ERR_NOT_FOUND; // processes without an id
    irqstate_t s = spin_lock_irqsave(&procs_lock);
    list_for_each(it, &all_procs)
    {
        struct process *p = list_entry(it, struct process, all_node);
        if (p->pid != pid)
            continue;
        // A reference only while one is still held elsewhere: an object whose
        // count reached zero is being destroyed (it waits for this lock).
        uint32_t refs = __atomic_load_n(&p->obj.refs, __ATOMIC_RELAXED);
        while (refs && !__atomic_compare_exchange_n(&p->obj.refs, &refs, refs + 1, false,
                                                    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            ;
        found = refs ? p : NULL;
        break;
    }
    spin_unlock_irqrestore(&procs_lock, s);
    if (!found)
        return ERR_NOT_FOUND;
    s = obj_lock(&found->obj);
    bool dead = found->state == NB_PROCESS_DEAD;
    obj_unlock(&found->obj, s);
    if (dead) {
        obj_unref(&found->obj);
        return ERR_NOT_FOUND;
    }
    *out = found;
    return OK;
}

void process_for_each(void (*fn)(struct process *p, void *ctx), void *ctx)
{
    irqstate_t s = spin_lock_irqsave(&procs_lock);
    list_for_each(it, &all_procs) fn(list_entry(it, struct process, all_node), ctx);
    spin_unlock_irqrestore(&procs_lock, s);
}

uint64_t process_live_count(void)
{
    return live_procs;
}

// ---- Entry points for the architecture (sys/user.h) ----

status_t user_page_fault(uintptr_t addr, unsigned access)
{
    struct process *p = process_current();
    if (!p || !p->as)
        return ERR_NOT_FOUND;
    return vm_fault(p->as, addr, access);
}

void user_fault_kill(const char *fault, int exit_code, uintptr_t addr, uintptr_t ip)
{
    struct process *p = process_current();
    if (addr == USER_FAULT_NO_ADDR)
        pr_err("nimbus: process %s[%llu] killed: %s, ip %#llx", p->name, (unsigned long long)p->pid,
               fault, (unsigned long long)ip);
    else
        pr_err("nimbus: process %s[%llu] killed: %s at address %#llx, ip %#llx", p->name,
               (unsigned long long)p->pid, fault, (unsigned long long)addr, (unsigned long long)ip);
    process_kill(p, exit_code, NB_PROCESS_FAULTED);
    uthread_exit(exit_code);
}

void user_return(void)
{
    sched_preempt_point(); // first: a kill may arrive while we are switched out
    if (thread_current()->killed && uthread_current())
        uthread_exit(0); // the process's exit code was decided by the kill
}

status_t process_wait(struct process *p, uint64_t deadline)
{
    struct obj_waiter w;
    status_t st = OK;
    irqstate_t s = obj_lock(&p->obj);
    obj_waiter_add_locked(&p->obj, &w, NULL);
    while (p->state != NB_PROCESS_DEAD && st == OK)
        st = obj_block_locked(&p->obj, &w, deadline);
    obj_waiter_remove_locked(&w);
    bool dead = p->state == NB_PROCESS_DEAD;
    obj_unlock(&p->obj, s);
    return dead ? OK : st;
}
