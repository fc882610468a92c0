// The log object: a handle onto the kernel's log ring (lib/klog.c, filled
// by printk). There is one log object; every handle to it reads the same
// ring. READ reads records by sequence number (logobj_read), WRITE appends
// lines tagged with the writer's name (logobj_write), WAIT waits for
// SIGNAL_READABLE.
//
// SIGNAL_READABLE is raised (from a timer callback, shortly after the
// record) whenever a record is appended, and cleared by a logobj_read; a read
// that finds more records after the one it returns raises it again. A
// reader therefore reads until ERR_SHOULD_WAIT, then waits. Several readers
// sharing the object may clear each other's signal: they should wait with a
// deadline and read again when it passes.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "nimbus/sysinfo.h"
#include "obj/handle.h"

// Default rights of a log handle.
#define LOGOBJ_RIGHTS (RIGHT_READ | RIGHT_WRITE | RIGHT_WAIT | RIGHT_DUPLICATE | RIGHT_TRANSFER)

// Lines a writer may log at once, and per second after that.
#define LOGOBJ_BURST    100
#define LOGOBJ_PER_SEC  50
#define LOGOBJ_LINE_MAX 200 // bytes of the caller's text kept (the tag comes on top)

// Rate limit state of one writer (a process): a token bucket.
struct logobj_bucket {
    uint32_t tokens;
    uint32_t dropped;   // lines refused since the last accepted one
    uint64_t refill_ns; // when tokens were last topped up
    bool initialized;
};

// Takes a token from the bucket at time `now` (ns); false if it is empty.
// Tokens come back at LOGOBJ_PER_SEC, up to LOGOBJ_BURST.
bool logobj_bucket_take(struct logobj_bucket *b, uint64_t now);

// The log object with a new reference (made on first use; never destroyed).
status_t logobj_get(struct kobject **out);

// A handle to the log object in t with `rights` (a subset of LOGOBJ_RIGHTS).
status_t logobj_handle_create(struct handle_table *t, rights_t rights, handle_t *out);

// Logs one line at LOG_INFO as "[tag] text" (needs RIGHT_WRITE): control
// characters become '?', trailing newlines go, text past
// LOGOBJ_LINE_MAX bytes is cut. Lines over the rate of `bucket` (may be
// NULL: no limit) are dropped, counted, and reported by the next accepted
// line ("[tag] N lines dropped"); that is still OK for the caller. User
// lines always reach the console, whatever the console level.
status_t logobj_write(struct handle_table *t, handle_t h, const char *tag,
                      struct logobj_bucket *bucket, const char *text, size_t len);

// The first record with sequence >= *seq into *out (needs RIGHT_READ);
// *seq = its sequence + 1. ERR_SHOULD_WAIT when there is none yet. Records
// lost to the ring's wrap-around are skipped.
status_t logobj_read(struct handle_table *t, handle_t h, uint64_t *seq, struct nb_log_record *out);
