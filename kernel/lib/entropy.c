// The kernel's entropy pool (lib/entropy.h): one ChaCha20 generator under a
// lock, seeded on first use.
#include "arch.h"
#include "init/boot_info.h"
#include "lib/entropy.h"
#include "lib/spinlock.h"
#include "lib/string.h"
#include "sched/clock.h"

#define SEED_WORDS   32 // 64-bit hardware random words asked for
#define JITTER_READS 64 // TSC deltas around a short timing loop

static struct spinlock pool_lock = SPINLOCK_INIT("entropy");
static struct entropy_pool pool; // (pool_lock)
static bool seeded;              // (pool_lock)

// TSC deltas across a loop whose length depends on the previous delta:
// cache, interrupt and hypervisor timing make the low bits vary.
static uint64_t jitter(uint64_t prev)
{
    uint64_t t0 = arch_cycles();
    volatile uint64_t sink = prev;
    for (uint64_t i = 0; i < 16 + (prev & 63); i++)
        sink = sink * 6364136223846793005ull + i;
    return arch_cycles() - t0 + sink;
}

// Pool lock held.
static void seed_locked(void)
{
    uint64_t words[SEED_WORDS + JITTER_READS + 4];
    unsigned n = 0, hw = 0;
    for (unsigned i = 0; i < SEED_WORDS; i++) {
        uint64_t v;
        if (arch_cpu_random(&v)) {
            words[n++] = v;
            hw++;
        }
        words[n++] = arch_cycles();
        if (n >= SEED_WORDS)
            break;
    }
    uint64_t prev = arch_cycles();
    for (unsigned i = 0; i < JITTER_READS && n < ARRAY_SIZE(words) - 3; i++)
        words[n++] = prev = jitter(prev);
    words[n++] = clock_realtime_ns();
    words[n++] = clock_monotonic_ns();
    words[n++] = (uint64_t)(uintptr_t)&pool; // (where the kernel happens to be)
    // Credit: 64 bits per hardware word (capped at 256), a little for jitter.
    uint64_t bits = hw * 64ull;
    entropy_pool_mix(&pool, words, n * sizeof(words[0]), (bits > 256 ? 256 : bits) + JITTER_READS);
    entropy_pool_mix(&pool, boot_info.cmdline, strlen(boot_info.cmdline), 0);
    memset(words, 0, sizeof(words));
    seeded = true;
}

void entropy_add(const void *buf, size_t len, uint64_t bits)
{
    irqstate_t s = spin_lock_irqsave(&pool_lock);
    if (!seeded)
        seed_locked();
    entropy_pool_mix(&pool, buf, len, bits);
    spin_unlock_irqrestore(&pool_lock, s);
}

void entropy_get(void *buf, size_t len)
{
    irqstate_t s = spin_lock_irqsave(&pool_lock);
    if (!seeded)
        seed_locked();
    // A little fresh timing in every request, then the generator.
    uint64_t t = arch_cycles();
    entropy_pool_mix(&pool, &t, sizeof(t), 0);
    entropy_pool_read(&pool, buf, len);
    spin_unlock_irqrestore(&pool_lock, s);
}

uint64_t entropy_bits(void)
{
    irqstate_t s = spin_lock_irqsave(&pool_lock);
    uint64_t bits = pool.bits;
    spin_unlock_irqrestore(&pool_lock, s);
    return bits;
}
