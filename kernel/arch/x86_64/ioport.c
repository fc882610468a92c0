// User I/O port permissions: each CPU's TSS holds the I/O permission bitmap
// of the process it runs (lib/iobitmap.h does the bookkeeping). With IOPL 0
// in user mode the CPU checks every in/out against that bitmap; a denied
// port is a #GP, which ends the process.
#include "arch.h"
#include "lib/iobitmap.h"
#include "x86_cpu.h"

void arch_ioport_load(const struct iobitmap *bm)
{
    struct x86_cpu *c = x86_this_cpu();
    iobitmap_copy_load(&c->iocopy, bm);
}
