// The kernel's embedded symbol table (made by tools/gen-ksyms.py at link time).
#pragma once

#include <stddef.h>
#include <stdint.h>

// Finds the function containing addr: returns its name and sets *off (and
// *size when not NULL); NULL when addr is in no known function.
const char *ksym_lookup(uint64_t addr, uint64_t *off, uint64_t *size);

// Writes "name+0xoff/0xsize" (or "?") into buf.
void ksym_format(uint64_t addr, char *buf, size_t n);

// Address of a symbol by name, 0 if unknown.
uint64_t ksym_address(const char *name);
