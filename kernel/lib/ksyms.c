// Symbol lookups in the table tools/gen-ksyms.py embeds in .ksyms.
#include "lib/fmt.h"
#include "lib/ksyms.h"
#include "lib/string.h"

struct ksym {
    uint64_t addr;
    uint32_t size;
    uint32_t name_off;
} __attribute__((packed));

extern const uint64_t ksyms_count;
extern const struct ksym ksyms_table[];
extern const char ksyms_names[];

const char *ksym_lookup(uint64_t addr, uint64_t *off, uint64_t *size)
{
    uint64_t lo = 0, hi = ksyms_count;
    while (lo < hi) { // first entry with address > addr
        uint64_t mid = lo + (hi - lo) / 2;
        if (ksyms_table[mid].addr <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const struct ksym *s = &ksyms_table[lo - 1];
    uint64_t sz = s->size;
    if (!sz && lo < ksyms_count) // no size recorded: up to the next symbol
        sz = ksyms_table[lo].addr - s->addr;
    if (addr - s->addr >= sz)
        return NULL;
    *off = addr - s->addr;
    if (size)
        *size = sz;
    return ksyms_names + s->name_off;
}

void ksym_format(uint64_t addr, char *buf, size_t n)
{
    uint64_t off, size;
    const char *name = ksym_lookup(addr, &off, &size);
    if (name)
        ksnprintf(buf, n, "%s+0x%llx/0x%llx", name, (unsigned long long)off,
                  (unsigned long long)size);
    else
        ksnprintf(buf, n, "?");
}

uint64_t ksym_address(const char *name)
{
    for (uint64_t i = 0; i < ksyms_count; i++)
        if (strcmp(ksyms_names + ksyms_table[i].name_off, name) == 0)
            return ksyms_table[i].addr;
    return 0;
}
