// Native system calls: handles, signals, channels, ports, events, timers,
// memory, processes, threads, time and the debug console.
#include "lib/klog.h"
#include "lib/string.h"
#include "mm/slab.h"
#include "nimbus/syscall.h"
#include "obj/channel.h"
#include "obj/event.h"
#include "obj/port.h"
#include "obj/revoke.h"
#include "obj/signal.h"
#include "obj/timer.h"
#include "obj/vmo.h"
#include "sched/clock.h"
#include "sys/device.h"
#include "sys/linux.h"
#include "sys/process.h"
#include "sys/syscall.h"
#include "sys/sysinfo.h"
#include "sys/usercopy.h"

#define DEBUG_WRITE_MAX 4096

static struct handle_table *table(void)
{
    return &process_current()->handles;
}

int64_t sys_put_handle(uintptr_t uptr, handle_t h)
{
    status_t st = copy_to_user(uptr, &h, sizeof(h));
    if (st != OK)
        handle_close(table(), h);
    return st;
}

static int64_t put_two_handles(uintptr_t u0, uintptr_t u1, handle_t h0, handle_t h1)
{
    status_t st = copy_to_user(u0, &h0, sizeof(h0));
    if (st == OK)
        st = copy_to_user(u1, &h1, sizeof(h1));
    if (st != OK) {
        handle_close(table(), h0);
        handle_close(table(), h1);
    }
    return st;
}

// ---- Handles ----

static int64_t sys_handle_close(const uint64_t a[6])
{
    return handle_close(table(), (handle_t)a[0]);
}

static int64_t sys_handle_duplicate(const uint64_t a[6])
{
    handle_t out;
    status_t st = handle_duplicate(table(), (handle_t)a[0], (rights_t)a[1], &out);
    return st == OK ? sys_put_handle(a[2], out) : st;
}

static int64_t sys_handle_replace(const uint64_t a[6])
{
    handle_t out;
    status_t st = handle_replace(table(), (handle_t)a[0], (rights_t)a[1], &out);
    return st == OK ? sys_put_handle(a[2], out) : st;
}

static int64_t sys_handle_info(const uint64_t a[6])
{
    struct nb_handle_info info;
    status_t st = handle_get_info(table(), (handle_t)a[0], &info);
    return st == OK ? copy_to_user(a[1], &info, sizeof(info)) : st;
}

static int64_t sys_handle_revocable(const uint64_t a[6])
{
    handle_t wrapped, revoker;
    status_t st =
        handle_revocable_create(table(), (handle_t)a[0], RIGHT_SAME_RIGHTS, &wrapped, &revoker);
    return st == OK ? put_two_handles(a[1], a[2], wrapped, revoker) : st;
}

static int64_t sys_handle_revoke(const uint64_t a[6])
{
    return handle_revoke(table(), (handle_t)a[0]);
}

// ---- Signals ----

static int64_t sys_object_wait_one(const uint64_t a[6])
{
    signals_t observed = 0;
    status_t st = obj_wait_one(table(), (handle_t)a[0], (signals_t)a[1], a[2], &observed);
    if (a[3]) {
        status_t cst = copy_to_user(a[3], &observed, sizeof(observed));
        if (st == OK)
            st = cst;
    }
    return st;
}

static int64_t sys_object_signal(const uint64_t a[6])
{
    return obj_signal(table(), (handle_t)a[0], (signals_t)a[1], (signals_t)a[2]);
}

static int64_t sys_object_signal_peer(const uint64_t a[6])
{
    return obj_signal_peer(table(), (handle_t)a[0], (signals_t)a[1], (signals_t)a[2]);
}

static int64_t sys_object_wait_async(const uint64_t a[6])
{
    return port_bind(table(), (handle_t)a[1], (handle_t)a[0], a[2], (signals_t)a[3],
                     (uint32_t)a[4]);
}

// ---- Channels ----

static int64_t sys_channel_create(const uint64_t a[6])
{
    handle_t h0, h1;
    if (a[0])
        return ERR_INVALID_ARGS;
    status_t st = chan_create(table(), &h0, &h1);
    return st == OK ? put_two_handles(a[1], a[2], h0, h1) : st;
}

// A message copied in from user space.
struct kmsg {
    struct nb_msg_out out;
    void *bytes;
    handle_t handles[CHAN_MAX_MSG_HANDLES];
};

static status_t kmsg_copy_in(struct kmsg *m, uintptr_t umsg)
{
    struct nb_msg_out u;
    status_t st = copy_from_user(&u, umsg, sizeof(u));
    if (st != OK)
        return st;
    if (u.nbytes > CHAN_MAX_MSG_BYTES || u.nhandles > CHAN_MAX_MSG_HANDLES)
        return ERR_OUT_OF_RANGE;
    m->bytes = u.nbytes ? kmalloc(u.nbytes) : NULL;
    if (u.nbytes && !m->bytes)
        return ERR_NO_MEMORY;
    st = copy_from_user(m->bytes, (uintptr_t)u.bytes, u.nbytes);
    if (st == OK)
        st = copy_from_user(m->handles, (uintptr_t)u.handles, u.nhandles * sizeof(handle_t));
    m->out = (struct nb_msg_out){m->bytes, m->handles, u.nbytes, u.nhandles};
    return st;
}

// Room for a message to be received, sized by what the caller offers.
// Copies a received message (in, its handles already installed) out to the
// caller's nb_msg_in at umsg, whose copy is *user; the sizes are reported
// even on failure.
static status_t received_copy_out(struct nb_msg_in *user, const struct nb_msg_in *in,
                                  const handle_t *handles, uintptr_t umsg, status_t st)
{
    user->nbytes = in->nbytes;
    user->nhandles = in->nhandles;
    if (st == OK) {
        status_t cst = copy_to_user((uintptr_t)user->bytes, in->bytes, in->nbytes);
        if (cst == OK)
            cst = copy_to_user((uintptr_t)user->handles, handles, in->nhandles * sizeof(handle_t));
        if (cst != OK) { // the handles were installed: do not leak them
            for (uint32_t i = 0; i < in->nhandles; i++)
                handle_close(table(), handles[i]);
            st = cst;
        }
    }
    if (st == OK || st == ERR_BUFFER_TOO_SMALL) {
        status_t cst = copy_to_user(umsg, user, sizeof(*user));
        if (st == OK)
            st = cst;
    }
    return st;
}

struct kin {
    struct nb_msg_in in;
    struct nb_msg_in user;
    handle_t handles[CHAN_MAX_MSG_HANDLES];
};

static status_t kin_prepare(struct kin *k, uintptr_t umsg)
{
    status_t st = copy_from_user(&k->user, umsg, sizeof(k->user));
    if (st != OK)
        return st;
    uint32_t bcap = MIN(k->user.bytes_cap, CHAN_MAX_MSG_BYTES);
    uint32_t hcap = MIN(k->user.handles_cap, CHAN_MAX_MSG_HANDLES);
    k->in = (struct nb_msg_in){.bytes = bcap ? kmalloc(bcap) : NULL,
                               .handles = k->handles,
                               .bytes_cap = bcap,
                               .handles_cap = hcap};
    return bcap && !k->in.bytes ? ERR_NO_MEMORY : OK;
}

static status_t kin_copy_out(struct kin *k, uintptr_t umsg, status_t st)
{
    st = received_copy_out(&k->user, &k->in, k->handles, umsg, st);
    kfree(k->in.bytes);
    return st;
}

static int64_t sys_channel_write(const uint64_t a[6])
{
    struct kmsg *m = kzalloc(sizeof(*m));
    if (!m)
        return ERR_NO_MEMORY;
    status_t st = kmsg_copy_in(m, a[1]);
    if (st == OK)
        st = chan_write(table(), (handle_t)a[0], &m->out);
    kfree(m->bytes);
    kfree(m);
    return st;
}

static int64_t sys_channel_read(const uint64_t a[6])
{
    struct kin *k = kzalloc(sizeof(*k));
    if (!k)
        return ERR_NO_MEMORY;
    status_t st = kin_prepare(k, a[1]);
    if (st == OK)
        st = kin_copy_out(k, a[1], chan_read(table(), (handle_t)a[0], &k->in));
    else
        kfree(k->in.bytes);
    kfree(k);
    return st;
}

// The round-trip calls (channel_call, channel_reply_wait) keep small
// messages on the kernel stack: no heap allocation on their fast path.
#define RT_INLINE_BYTES 256

struct rt_out {
    struct nb_msg_out out;
    void *heap; // the bytes when they do not fit `inline_bytes`
    handle_t handles[CHAN_MAX_MSG_HANDLES];
    unsigned char inline_bytes[RT_INLINE_BYTES];
};

static status_t rt_out_copy_in(struct rt_out *m, uintptr_t umsg)
{
    struct nb_msg_out u;
    m->heap = NULL;
    status_t st = copy_from_user(&u, umsg, sizeof(u));
    if (st != OK)
        return st;
    if (u.nbytes > CHAN_MAX_MSG_BYTES || u.nhandles > CHAN_MAX_MSG_HANDLES)
        return ERR_OUT_OF_RANGE;
    void *bytes = m->inline_bytes;
    if (u.nbytes > sizeof(m->inline_bytes) && !(bytes = m->heap = kmalloc(u.nbytes)))
        return ERR_NO_MEMORY;
    st = copy_from_user(bytes, (uintptr_t)u.bytes, u.nbytes);
    if (st == OK)
        st = copy_from_user(m->handles, (uintptr_t)u.handles, u.nhandles * sizeof(handle_t));
    m->out = (struct nb_msg_out){bytes, m->handles, u.nbytes, u.nhandles};
    return st;
}

struct rt_in {
    struct nb_msg_in in;
    struct nb_msg_in user;
    void *heap; // the buffer when the caller offers more than `inline_bytes`
    handle_t handles[CHAN_MAX_MSG_HANDLES];
    unsigned char inline_bytes[RT_INLINE_BYTES];
};

static status_t rt_in_prepare(struct rt_in *k, uintptr_t umsg)
{
    k->heap = NULL;
    status_t st = copy_from_user(&k->user, umsg, sizeof(k->user));
    if (st != OK)
        return st;
    uint32_t bcap = MIN(k->user.bytes_cap, CHAN_MAX_MSG_BYTES);
    uint32_t hcap = MIN(k->user.handles_cap, CHAN_MAX_MSG_HANDLES);
    void *bytes = k->inline_bytes;
    if (bcap > sizeof(k->inline_bytes) && !(bytes = k->heap = kmalloc(bcap)))
        return ERR_NO_MEMORY;
    k->in = (struct nb_msg_in){
        .bytes = bytes, .handles = k->handles, .bytes_cap = bcap, .handles_cap = hcap};
    return OK;
}

static status_t rt_in_copy_out(struct rt_in *k, uintptr_t umsg, status_t st)
{
    return received_copy_out(&k->user, &k->in, k->handles, umsg, st);
}

static int64_t sys_channel_call(const uint64_t a[6])
{
    struct rt_out m;
    struct rt_in k;
    status_t st = rt_out_copy_in(&m, a[1]);
    if (st == OK && (st = rt_in_prepare(&k, a[2])) == OK)
        st = rt_in_copy_out(&k, a[2], chan_call(table(), (handle_t)a[0], &m.out, &k.in, a[3]));
    kfree(m.heap);
    kfree(k.heap);
    return st;
}

static int64_t sys_channel_reply_wait(const uint64_t a[6])
{
    struct rt_out m;
    struct rt_in k;
    status_t st = a[1] ? rt_out_copy_in(&m, a[1]) : OK;
    if (!a[1])
        m.heap = NULL;
    if (st == OK && (st = rt_in_prepare(&k, a[2])) == OK)
        st = rt_in_copy_out(
            &k, a[2], chan_reply_wait(table(), (handle_t)a[0], a[1] ? &m.out : NULL, &k.in, a[3]));
    kfree(m.heap);
    kfree(k.heap);
    return st;
}

// ---- Ports, events, timers ----

static int64_t sys_port_create(const uint64_t a[6])
{
    handle_t h;
    status_t st = port_create(table(), &h);
    return st == OK ? sys_put_handle(a[0], h) : st;
}

static int64_t sys_port_wait(const uint64_t a[6])
{
    struct nb_port_packet pkt;
    status_t st = port_wait(table(), (handle_t)a[0], a[1], &pkt);
    return st == OK ? copy_to_user(a[2], &pkt, sizeof(pkt)) : st;
}

static int64_t sys_port_queue(const uint64_t a[6])
{
    struct nb_port_packet pkt;
    status_t st = copy_from_user(&pkt, a[1], sizeof(pkt));
    return st == OK ? port_queue(table(), (handle_t)a[0], &pkt) : st;
}

static int64_t sys_port_cancel(const uint64_t a[6])
{
    return port_cancel(table(), (handle_t)a[0], (handle_t)a[1], a[2]);
}

static int64_t sys_event_create(const uint64_t a[6])
{
    handle_t h;
    status_t st = event_create(table(), &h);
    return st == OK ? sys_put_handle(a[0], h) : st;
}

static int64_t sys_eventpair_create(const uint64_t a[6])
{
    handle_t h0, h1;
    status_t st = eventpair_create(table(), &h0, &h1);
    return st == OK ? put_two_handles(a[0], a[1], h0, h1) : st;
}

static int64_t sys_timer_create(const uint64_t a[6])
{
    handle_t h;
    status_t st = timer_create(table(), &h);
    return st == OK ? sys_put_handle(a[0], h) : st;
}

static int64_t sys_timer_set(const uint64_t a[6])
{
    return timer_set(table(), (handle_t)a[0], a[1]);
}

static int64_t sys_timer_cancel(const uint64_t a[6])
{
    return timer_cancel(table(), (handle_t)a[0]);
}

// ---- Memory ----

static int64_t sys_vmo_create(const uint64_t a[6])
{
    handle_t h;
    status_t st = vmo_create(table(), a[0], &h);
    return st == OK ? sys_put_handle(a[1], h) : st;
}

// Moves vmo bytes through a kernel bounce buffer, a page at a time.
static int64_t vmo_transfer(const uint64_t a[6], bool to_user)
{
    void *bounce = kmalloc(PAGE_SIZE);
    if (!bounce)
        return ERR_NO_MEMORY;
    status_t st = OK;
    for (uint64_t done = 0; done < a[3] && st == OK;) {
        size_t n = (size_t)MIN(a[3] - done, PAGE_SIZE);
        if (to_user) {
            st = vmo_read(table(), (handle_t)a[0], a[2] + done, bounce, n);
            if (st == OK)
                st = copy_to_user(a[1] + done, bounce, n);
        } else {
            st = copy_from_user(bounce, a[1] + done, n);
            if (st == OK)
                st = vmo_write(table(), (handle_t)a[0], a[2] + done, bounce, n);
        }
        done += n;
    }
    kfree(bounce);
    return st;
}

static int64_t sys_vmo_read(const uint64_t a[6])
{
    return vmo_transfer(a, true);
}

static int64_t sys_vmo_write(const uint64_t a[6])
{
    return vmo_transfer(a, false);
}

static int64_t sys_vmo_get_size(const uint64_t a[6])
{
    uint64_t size;
    status_t st = vmo_get_size(table(), (handle_t)a[0], &size);
    return st == OK ? copy_to_user(a[1], &size, sizeof(size)) : st;
}

static int64_t sys_vmo_replace_as_executable(const uint64_t a[6])
{
    handle_t out;
    status_t st = vmo_replace_as_executable(table(), (handle_t)a[0], (handle_t)a[1], &out);
    return st == OK ? sys_put_handle(a[2], out) : st;
}

static int64_t sys_vmo_set_size(const uint64_t a[6])
{
    return vmo_set_size(table(), (handle_t)a[0], a[1]);
}

// The process a memory call acts on: 0 is the caller itself.
static status_t target_process(handle_t h, struct process **out)
{
    if (h == HANDLE_INVALID) {
        *out = process_current();
        obj_ref(&(*out)->obj);
        return OK;
    }
    return process_get(table(), h, RIGHT_WRITE, out);
}

static unsigned vm_flags(uint32_t nb, rights_t *need)
{
    unsigned f = 0;
    *need = RIGHT_MAP;
    if (nb & NB_VM_READ)
        f |= VM_READ, *need |= RIGHT_READ;
    if (nb & NB_VM_WRITE)
        f |= VM_WRITE, *need |= RIGHT_WRITE;
    if (nb & NB_VM_EXEC)
        f |= VM_EXEC, *need |= RIGHT_EXECUTE;
    return f;
}

static int64_t sys_vm_map(const uint64_t a[6])
{
    uint32_t nbflags = (uint32_t)a[4];
    if (nbflags & ~(NB_VM_READ | NB_VM_WRITE | NB_VM_EXEC | NB_VM_FIXED))
        return ERR_INVALID_ARGS;
    rights_t need;
    unsigned flags = vm_flags(nbflags, &need);
    vaddr_t addr = 0;
    if ((nbflags & NB_VM_FIXED) && copy_from_user(&addr, a[5], sizeof(addr)) != OK)
        return ERR_INVALID_ARGS;
    struct process *p;
    struct vmo *v;
    status_t st = target_process((handle_t)a[0], &p);
    if (st != OK)
        return st;
    if ((st = vmo_get(table(), (handle_t)a[1], need, &v)) == OK) {
        if (p->state == NB_PROCESS_DEAD || !p->as)
            st = ERR_BAD_STATE;
        else
            st = vm_map(p->as, v, a[2], ALIGN_UP(a[3], PAGE_SIZE), flags, nbflags & NB_VM_FIXED,
                        &addr);
        if (st == OK && (st = copy_to_user(a[5], &addr, sizeof(addr))) != OK)
            vm_unmap(p->as, addr, ALIGN_UP(a[3], PAGE_SIZE));
        obj_unref(vmo_obj(v));
    }
    obj_unref(&p->obj);
    return st;
}

static int64_t sys_vm_unmap(const uint64_t a[6])
{
    struct process *p;
    status_t st = target_process((handle_t)a[0], &p);
    if (st != OK)
        return st;
    st = p->as ? vm_unmap(p->as, a[1], ALIGN_UP(a[2], PAGE_SIZE)) : ERR_BAD_STATE;
    obj_unref(&p->obj);
    return st;
}

static int64_t sys_vm_protect(const uint64_t a[6])
{
    rights_t need;
    unsigned flags = vm_flags((uint32_t)a[3], &need);
    if ((uint32_t)a[3] & ~(NB_VM_READ | NB_VM_WRITE | NB_VM_EXEC))
        return ERR_INVALID_ARGS;
    struct process *p;
    status_t st = target_process((handle_t)a[0], &p);
    if (st != OK)
        return st;
    st = p->as ? vm_protect(p->as, a[1], ALIGN_UP(a[2], PAGE_SIZE), flags) : ERR_BAD_STATE;
    obj_unref(&p->obj);
    return st;
}

// ---- Processes and threads ----

static status_t copy_name(uintptr_t uname, uint64_t len, char *name)
{
    if (len >= NB_PROCESS_NAME_MAX)
        len = NB_PROCESS_NAME_MAX - 1;
    status_t st = copy_from_user(name, uname, (size_t)len);
    name[len] = 0;
    return st;
}

static int64_t sys_process_create(const uint64_t a[6])
{
    char name[NB_PROCESS_NAME_MAX];
    handle_t h;
    status_t st = copy_name(a[0], a[1], name);
    if (st == OK && (st = process_create(table(), name, &h)) == OK)
        st = sys_put_handle(a[2], h);
    return st;
}

static int64_t sys_process_start(const uint64_t a[6])
{
    struct process *p;
    status_t st = process_get(table(), (handle_t)a[0], RIGHT_WRITE, &p);
    if (st != OK)
        return st;
    st = process_start(p, table(), (handle_t)a[3], a[1], a[2], a[4]);
    obj_unref(&p->obj);
    return st;
}

static int64_t sys_process_exit(const uint64_t a[6])
{
    process_exit((int64_t)a[0]);
}

static int64_t sys_task_kill(const uint64_t a[6])
{
    struct kobject *o;
    status_t st = handle_get(table(), (handle_t)a[0], OBJ_NONE, RIGHT_MANAGE, &o);
    if (st != OK)
        return st;
    if (o->ops->type == OBJ_PROCESS)
        process_kill(container_of(o, struct process, obj), NB_EXIT_KILLED, NB_PROCESS_KILLED);
    else if (o->ops->type == OBJ_THREAD && container_of(o, struct uthread, obj)->kt)
        thread_kill(container_of(o, struct uthread, obj)->kt);
    else
        st = ERR_WRONG_TYPE;
    obj_unref(o);
    return st;
}

static int64_t sys_process_info(const uint64_t a[6])
{
    struct process *p;
    struct nb_process_info info;
    status_t st = process_get(table(), (handle_t)a[0], RIGHT_INSPECT, &p);
    if (st != OK)
        return st;
    process_info(p, &info);
    obj_unref(&p->obj);
    return copy_to_user(a[1], &info, sizeof(info));
}

static int64_t sys_thread_create(const uint64_t a[6])
{
    struct process *p;
    struct uthread *ut;
    handle_t h;
    status_t st = process_get(table(), (handle_t)a[0], RIGHT_WRITE, &p);
    if (st != OK)
        return st;
    if ((st = uthread_create(p, &ut)) == OK) {
        st = handle_install(table(), &ut->obj, ut->obj.ops->default_rights, &h);
        obj_unref(&ut->obj);
        if (st == OK)
            st = sys_put_handle(a[3], h);
    }
    obj_unref(&p->obj);
    return st;
}

static int64_t sys_thread_start(const uint64_t a[6])
{
    struct uthread *ut;
    status_t st = uthread_get(table(), (handle_t)a[0], RIGHT_WRITE, &ut);
    if (st != OK)
        return st;
    st = uthread_start(ut, a[1], a[2], a[3], a[4]);
    obj_unref(&ut->obj);
    return st;
}

static int64_t sys_thread_exit(const uint64_t a[6])
{
    uthread_exit(0);
}

// ---- Time and the console ----

static int64_t sys_clock_get(const uint64_t a[6])
{
    uint64_t ns;
    if (a[0] == NB_CLOCK_MONOTONIC)
        ns = clock_monotonic_ns();
    else if (a[0] == NB_CLOCK_REALTIME)
        ns = clock_realtime_ns();
    else
        return ERR_INVALID_ARGS;
    return copy_to_user(a[1], &ns, sizeof(ns));
}

static int64_t sys_nanosleep(const uint64_t a[6])
{
    thread_sleep_until(a[0]);
    return thread_current()->killed ? ERR_CANCELED : OK;
}

static int64_t sys_debug_write(const uint64_t a[6])
{
    char buf[256];
    if (a[1] > DEBUG_WRITE_MAX)
        return ERR_OUT_OF_RANGE;
    for (uint64_t done = 0; done < a[1];) {
        size_t n = (size_t)MIN(a[1] - done, sizeof(buf));
        status_t st = copy_from_user(buf, a[0] + done, n);
        if (st != OK)
            return st;
        console_write(buf, n);
        done += n;
    }
    return OK;
}

#define SYS(nr, fn) [(nr)-NB_SYSCALL_BASE] = (fn)

const sys_handler native_syscalls[] = {
    SYS(NB_SYS_HANDLE_CLOSE, sys_handle_close),
    SYS(NB_SYS_HANDLE_DUPLICATE, sys_handle_duplicate),
    SYS(NB_SYS_HANDLE_REPLACE, sys_handle_replace),
    SYS(NB_SYS_HANDLE_INFO, sys_handle_info),
    SYS(NB_SYS_HANDLE_REVOCABLE, sys_handle_revocable),
    SYS(NB_SYS_HANDLE_REVOKE, sys_handle_revoke),
    SYS(NB_SYS_OBJECT_WAIT_ONE, sys_object_wait_one),
    SYS(NB_SYS_OBJECT_SIGNAL, sys_object_signal),
    SYS(NB_SYS_OBJECT_SIGNAL_PEER, sys_object_signal_peer),
    SYS(NB_SYS_OBJECT_WAIT_ASYNC, sys_object_wait_async),
    SYS(NB_SYS_CHANNEL_CREATE, sys_channel_create),
    SYS(NB_SYS_CHANNEL_WRITE, sys_channel_write),
    SYS(NB_SYS_CHANNEL_READ, sys_channel_read),
    SYS(NB_SYS_CHANNEL_CALL, sys_channel_call),
    SYS(NB_SYS_CHANNEL_REPLY_WAIT, sys_channel_reply_wait),
    SYS(NB_SYS_PORT_CREATE, sys_port_create),
    SYS(NB_SYS_PORT_WAIT, sys_port_wait),
    SYS(NB_SYS_PORT_QUEUE, sys_port_queue),
    SYS(NB_SYS_PORT_CANCEL, sys_port_cancel),
    SYS(NB_SYS_EVENT_CREATE, sys_event_create),
    SYS(NB_SYS_EVENTPAIR_CREATE, sys_eventpair_create),
    SYS(NB_SYS_TIMER_CREATE, sys_timer_create),
    SYS(NB_SYS_TIMER_SET, sys_timer_set),
    SYS(NB_SYS_TIMER_CANCEL, sys_timer_cancel),
    SYS(NB_SYS_VMO_CREATE, sys_vmo_create),
    SYS(NB_SYS_VMO_READ, sys_vmo_read),
    SYS(NB_SYS_VMO_WRITE, sys_vmo_write),
    SYS(NB_SYS_VMO_GET_SIZE, sys_vmo_get_size),
    SYS(NB_SYS_VMO_SET_SIZE, sys_vmo_set_size),
    SYS(NB_SYS_VMO_REPLACE_AS_EXECUTABLE, sys_vmo_replace_as_executable),
    SYS(NB_SYS_VM_MAP, sys_vm_map),
    SYS(NB_SYS_VM_UNMAP, sys_vm_unmap),
    SYS(NB_SYS_VM_PROTECT, sys_vm_protect),
    SYS(NB_SYS_PROCESS_CREATE, sys_process_create),
    SYS(NB_SYS_PROCESS_START, sys_process_start),
    SYS(NB_SYS_PROCESS_EXIT, sys_process_exit),
    SYS(NB_SYS_TASK_KILL, sys_task_kill),
    SYS(NB_SYS_PROCESS_INFO, sys_process_info),
    SYS(NB_SYS_THREAD_CREATE, sys_thread_create),
    SYS(NB_SYS_THREAD_START, sys_thread_start),
    SYS(NB_SYS_THREAD_EXIT, sys_thread_exit),
    SYS(NB_SYS_CLOCK_GET, sys_clock_get),
    SYS(NB_SYS_NANOSLEEP, sys_nanosleep),
    SYS(NB_SYS_DEBUG_WRITE, sys_debug_write),
    SYS(NB_SYS_RESOURCE_CREATE, sys_resource_create),
    SYS(NB_SYS_RESOURCE_INFO, sys_resource_info),
    SYS(NB_SYS_IOPORT_ENABLE, sys_ioport_enable),
    SYS(NB_SYS_INTERRUPT_CREATE, sys_interrupt_create),
    SYS(NB_SYS_INTERRUPT_ACK, sys_interrupt_ack),
    SYS(NB_SYS_POWER, sys_power),
    SYS(NB_SYS_VMO_CREATE_PHYSICAL, sys_vmo_create_physical),
    SYS(NB_SYS_VMO_CREATE_CONTIGUOUS, sys_vmo_create_contiguous),
    SYS(NB_SYS_VMO_PHYS, sys_vmo_phys),
    SYS(NB_SYS_PCI_CONFIG_READ, sys_pci_config_read),
    SYS(NB_SYS_PCI_CONFIG_WRITE, sys_pci_config_write),
    SYS(NB_SYS_INTERRUPT_CREATE_MSI, sys_interrupt_create_msi),
    SYS(NB_SYS_ENTROPY_ADD, sys_entropy_add),
    SYS(NB_SYS_FD_BIND, linux_fd_bind),
    SYS(NB_SYS_LOG_WRITE, sys_log_write),
    SYS(NB_SYS_LOG_READ, sys_log_read),
    SYS(NB_SYS_SYSTEM_INFO, sys_system_info),
    SYS(NB_SYS_PROCESS_GET, sys_process_get),
    SYS(NB_SYS_PROCESS_HANDLES, sys_process_handles),
};

const unsigned native_syscall_count = ARRAY_SIZE(native_syscalls);
