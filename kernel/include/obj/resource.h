// Resource objects: capabilities to privileged operations. Only the kernel
// creates them; holders pass them on like any handle.
#pragma once

#include "nimbus/resource.h"
#include "obj/handle.h"

// A resource of `kind` (NB_RESOURCE_*) for the kernel's own use, holding one
// reference.
status_t resource_create_kernel(uint32_t kind, struct kobject **out);

// Checks that h is a resource of `kind`: ERR_WRONG_TYPE for another object
// or another kind of resource.
status_t resource_check(struct handle_table *t, handle_t h, uint32_t kind);
