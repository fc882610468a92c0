// The line discipline moved to lib/ldisc.h (shared with the user-space
// console service); this name stays for the kernel's Linux layer.
#pragma once

#include "lib/ldisc.h"
