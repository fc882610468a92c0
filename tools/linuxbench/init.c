// /init of the Linux guest that `make bench` boots (tools/bench_linux.py).
// Its first act is to read the clocks, so the line it prints says when
// Linux handed control to user space:
//
//   linuxbench: init uptime_ns=N tsc=T
//
// uptime_ns is CLOCK_MONOTONIC (time since the kernel's clock started,
// early in its boot); tsc is the raw guest TSC, which under QEMU
// -icount shift=0,sleep=off counts guest instructions since reset (firmware
// included; idle periods that icount skips count as one tick per ns, which
// the second line, `linuxbench: idle_ms=N`, accounts for).
//
// Then, by the command line's words after `--` (Linux passes them in argv):
//   probes   exec /lbench --exit (the probes; they end QEMU themselves)
//   blk ARGS exec /lblk --exit ARGS /dev/vda (the block benchmark), after
//            loading the modules /modules/order lists (one file name a
//            line: Debian builds virtio-pci and virtio-blk as modules) and
//            mounting devtmpfs on /dev, proc on /proc and sysfs on /sys; `linuxbench: blk
//            failed: WHY` and
//            QEMU's end if that goes wrong
//   hold     stay (sleep) until QEMU is killed
//   (none)   end QEMU at once through isa-debug-exit
// The kernel opens /dev/console (in the initramfs) as fds 0, 1 and 2.
// Anywhere but PID 1 (the tests run it on the host) it prints the first line
// only, and `probes` or the end return instead of touching the machine.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define EXIT_PORT  0xf4
#define EXIT_VALUE 0x10 // QEMU exits with 33: success for tools/nimbuslib.py

static uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

// The second line: how much of the boot the CPU spent idle (from
// /proc/uptime, 10 ms resolution): `linuxbench: idle_ms=N`. Under -icount
// with sleep=off QEMU skips idle time but the TSC still advances by it, so
// tsc - idle is the instruction count of the boot.
static void print_idle(void)
{
    mkdir("/proc", 0555);
    if (mount("proc", "/proc", "proc", 0, NULL) != 0)
        return;
    FILE *f = fopen("/proc/uptime", "r");
    double up, idle;
    if (f && fscanf(f, "%lf %lf", &up, &idle) == 2)
        printf("linuxbench: idle_ms=%.0f\n", idle * 1000);
    if (f)
        fclose(f);
    fflush(stdout);
    umount("/proc");
}

// Loads the modules of /modules/order and waits for /dev/vda; 0 when it
// is there.
static int blk_prepare(void)
{
    mkdir("/dev", 0755);
    if (mount("devtmpfs", "/dev", "devtmpfs", 0, NULL) != 0) {
        perror("linuxbench: blk failed: mount devtmpfs");
        return -1;
    }
    mkdir("/proc", 0555); // for lblk's cpu_busy_ns (/proc/stat)
    if (mount("proc", "/proc", "proc", 0, NULL) != 0)
        perror("linuxbench: mount /proc");
    mkdir("/sys", 0555); // and its dev_requests (/sys/block/vda/stat)
    if (mount("sysfs", "/sys", "sysfs", 0, NULL) != 0)
        perror("linuxbench: mount /sys");
    FILE *order = fopen("/modules/order", "r");
    char name[128], path[160];
    while (order && fgets(name, sizeof(name), order)) {
        name[strcspn(name, "\n")] = 0;
        if (!name[0])
            continue;
        snprintf(path, sizeof(path), "/modules/%s", name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || syscall(SYS_finit_module, fd, "", 0) != 0) {
            printf("linuxbench: blk failed: loading %s: %s\n", path, strerror(errno));
            return -1;
        }
        close(fd);
    }
    if (order)
        fclose(order);
    for (int i = 0; i < 2000; i++) { // 20 s: the disk appears asynchronously
        if (access("/dev/vda", F_OK) == 0)
            return 0;
        usleep(10000);
    }
    printf("linuxbench: blk failed: no /dev/vda\n");
    return -1;
}

int main(int argc, char **argv)
{
    uint64_t tsc = rdtsc();
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char line[128];
    int n = snprintf(line, sizeof(line), "linuxbench: init uptime_ns=%llu tsc=%llu\n",
                     (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec,
                     (unsigned long long)tsc);
    if (write(1, line, (size_t)n) != n)
        (void)write(2, line, (size_t)n);
    // Anywhere but PID 1 (the tests run it on the host): no mount, no exec,
    // no exit port.
    int guest = getpid() == 1;
    if (guest)
        print_idle();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "probes") && guest) {
            char *args[] = {"/lbench", "--exit", NULL};
            char *env[] = {NULL};
            execve(args[0], args, env);
            perror("linuxbench: exec /lbench");
        } else if (!strcmp(argv[i], "blk") && guest) {
            char *args[40] = {"/lblk", "--exit"};
            int na = 2;
            for (int k = i + 1; k < argc && na < 38; k++)
                args[na++] = argv[k];
            args[na++] = "/dev/vda";
            args[na] = NULL;
            char *env[] = {NULL};
            if (blk_prepare() == 0) {
                fflush(stdout);
                execve(args[0], args, env);
                perror("linuxbench: blk failed: exec /lblk");
            }
            fflush(stdout);
            break;
        } else if (!strcmp(argv[i], "hold")) {
            for (;;)
                pause();
        }
    }
    if (!guest)
        return 0;
    if (iopl(3) == 0)
        outb(EXIT_VALUE, EXIT_PORT);
    reboot(RB_POWER_OFF);
    for (;;)
        pause();
}
