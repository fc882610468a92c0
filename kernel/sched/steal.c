// nimbus:host
// The runtime / steal split of a run (sched/steal.h).
//
// The host updates a vCPU's steal counter when it runs the vCPU again, a
// moment apart from the guest's clock reading, so the raw split can give
// steal more of a stretch than the wall time that passed since the last
// reading, and the runtime would go back. Each part is held at least at
// what was reported before; both fit, since the run only grows.
#include "sched/steal.h"

uint64_t steal_split(struct steal_split *seen, uint64_t ran, uint64_t stolen)
{
    if (stolen > ran)
        stolen = ran;
    if (stolen < seen->steal_seen)
        stolen = seen->steal_seen;
    if (ran - stolen < seen->time_seen) // ran >= time_seen + steal_seen
        stolen = ran - seen->time_seen;
    seen->steal_seen = stolen;
    seen->time_seen = ran - stolen;
    return stolen;
}
