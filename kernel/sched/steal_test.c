// nimbus:host
// Tests of the runtime / steal split (sched/steal.h).
#include "lib/ktest.h"
#include "sched/steal.h"

// Steal never exceeds the run, and without earlier readings the raw split
// stands.
static void steal_split_plain(struct ktest *t)
{
    struct steal_split s = {0};
    EXPECT_EQ(steal_split(&s, 100, 30), 30ull);
    EXPECT_EQ(s.time_seen, 70ull);
    struct steal_split f = {0};
    EXPECT_EQ(steal_split(&f, 100, 500), 100ull);
    EXPECT_EQ(f.time_seen, 0ull);
}

// The counter jumps by more than the wall time since the last reading: the
// runtime holds still instead of going back (the live KVM test once saw it
// go back under a loaded host).
static void steal_split_runtime_never_goes_back(struct ktest *t)
{
    struct steal_split s = {0};
    EXPECT_EQ(steal_split(&s, 100, 10), 10ull); // runtime 90
    EXPECT_EQ(steal_split(&s, 110, 40), 20ull); // raw: runtime 70
    EXPECT_EQ(s.time_seen, 90ull);
    EXPECT_EQ(steal_split(&s, 200, 40), 40ull); // the counter catches up: runtime 160
    EXPECT_EQ(s.time_seen, 160ull);
}

// A counter read lower than before (another CPU's area, a late start)
// does not take steal back either.
static void steal_split_steal_never_goes_back(struct ktest *t)
{
    struct steal_split s = {0};
    EXPECT_EQ(steal_split(&s, 100, 50), 50ull);
    EXPECT_EQ(steal_split(&s, 120, 0), 50ull);
    EXPECT_EQ(s.time_seen, 70ull);
}

// Any sequence of readings: both parts are monotonic and add up to the run.
static void steal_split_random_sequences(struct ktest *t)
{
    uint64_t x = 88172645463325252ull;
    for (int round = 0; round < 200; round++) {
        struct steal_split s = {0};
        uint64_t ran = 0, time = 0, steal = 0;
        for (int i = 0; i < 50; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            ran += x % 1000;
            uint64_t got = steal_split(&s, ran, (x >> 20) % (ran + 500));
            EXPECT_LE(got, ran);
            EXPECT_GE(got, steal);
            EXPECT_GE(ran - got, time);
            steal = got;
            time = ran - got;
        }
    }
}

KTEST_SUITE(steal_split, KTEST_CASE(steal_split_plain),
            KTEST_CASE(steal_split_runtime_never_goes_back),
            KTEST_CASE(steal_split_steal_never_goes_back),
            KTEST_CASE(steal_split_random_sequences));
