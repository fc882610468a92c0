// nimbus:host
// Tests of I/O permission bitmaps: bits against a model over all 65536
// ports, the high-water mark, errors, and what a CPU's copy rewrites.
#include "lib/iobitmap.h"
#include "lib/ktest.h"
#include "lib/string.h"
#include "mm/slab.h"
#include "obj/objtest.h"

// Expects bm to allow exactly the ports model[] says, and its high-water
// mark to cover the last allowed port.
static void expect_model(struct ktest *t, const struct iobitmap *bm, const bool *model)
{
    uint32_t wrong = 0, last = 0;
    bool any = false;
    for (uint32_t p = 0; p < IOBITMAP_PORTS; p++) {
        if (iobitmap_allowed(bm, p) != model[p] && wrong++ < 3)
            KTEST_FAIL_(t, "port %#x: allowed %d, expected %d", p, iobitmap_allowed(bm, p),
                        model[p]);
        if (model[p])
            any = true, last = p;
    }
    EXPECT_EQ(wrong, 0u);
    EXPECT_EQ(bm->hw, any ? last / 8 + 1 : 0u);
    for (uint32_t i = bm->hw; i < IOBITMAP_BYTES; i++)
        if (bm->bits[i] != 0xff) {
            KTEST_FAIL_(t, "byte %u past the high-water mark %u is %#x", i, bm->hw, bm->bits[i]);
            break;
        }
}

static void allow_model(bool *model, uint32_t base, uint32_t count)
{
    for (uint32_t p = base; p < base + count; p++)
        model[p] = true;
}

static void iobitmap_allow_ranges(struct ktest *t)
{
    struct obj_baseline base;
    objtest_begin(&base); // a fresh heap on the host, and a leak check
    struct iobitmap *bm;
    bool *model = kzalloc(IOBITMAP_PORTS);
    ASSERT_NOT_NULL(model);
    ASSERT_OK(iobitmap_create(&bm));
    EXPECT_FALSE(iobitmap_allowed(bm, 0));
    EXPECT_FALSE(iobitmap_allowed(bm, 0xffff));
    EXPECT_FALSE(iobitmap_allowed(bm, 0x10000));
    expect_model(t, bm, model);
    static const struct {
        uint32_t base, count;
    } steps[] = {
        {0x3ff, 1},                    // one port, the last of a byte
        {0x3f8, 7},                    // the rest of that byte
        {5, 21},                       // head and tail partial, two whole bytes between
        {0x60, 1},                     // inside the mark
        {0x100, 64},                   // byte-aligned, whole bytes only
        {0x201, 6},                    // inside one byte
        {0xf000, 0x1000}, {0xffff, 1}, // the last port: the mark reaches the end
    };
    uint32_t gen = bm->gen;
    for (unsigned i = 0; i < ARRAY_SIZE(steps); i++) {
        ASSERT_OK(iobitmap_allow(bm, steps[i].base, steps[i].count));
        allow_model(model, steps[i].base, steps[i].count);
        EXPECT_EQ(bm->gen, gen + i + 1);
        expect_model(t, bm, model);
    }
    EXPECT_EQ(bm->hw, IOBITMAP_BYTES);
    iobitmap_destroy(bm);
    kfree(model);
    objtest_expect_baseline(t, &base);
}

static void iobitmap_allow_errors(struct ktest *t)
{
    struct obj_baseline base;
    objtest_begin(&base); // a fresh heap on the host, and a leak check
    struct iobitmap *bm;
    bool *model = kzalloc(IOBITMAP_PORTS);
    ASSERT_NOT_NULL(model);
    ASSERT_OK(iobitmap_create(&bm));
    EXPECT_STATUS(iobitmap_allow(bm, 0x60, 0), ERR_INVALID_ARGS);
    EXPECT_STATUS(iobitmap_allow(bm, 0x10000, 1), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(iobitmap_allow(bm, 0xffff, 2), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(iobitmap_allow(bm, 1, UINT64_MAX), ERR_OUT_OF_RANGE);
    EXPECT_STATUS(iobitmap_allow(bm, UINT64_MAX, 2), ERR_OUT_OF_RANGE);
    EXPECT_EQ(bm->gen, 0u); // nothing changed
    expect_model(t, bm, model);
    ASSERT_OK(iobitmap_allow(bm, 0, IOBITMAP_PORTS)); // everything
    allow_model(model, 0, IOBITMAP_PORTS);
    expect_model(t, bm, model);
    iobitmap_destroy(bm);
    kfree(model);
    objtest_expect_baseline(t, &base);
}

// The copy's bytes equal bm's (0xff everywhere for NULL).
static void expect_copy(struct ktest *t, const struct iobitmap_copy *c, const struct iobitmap *bm)
{
    for (uint32_t i = 0; i < IOBITMAP_BYTES; i++) {
        uint8_t want = bm ? bm->bits[i] : 0xff;
        if (c->bytes[i] != want) {
            KTEST_FAIL_(t, "copy byte %u is %#x, expected %#x", i, c->bytes[i], want);
            return;
        }
    }
}

static void iobitmap_copy_writes_what_matters(struct ktest *t)
{
    struct obj_baseline base;
    objtest_begin(&base);
    struct iobitmap *a, *b;
    struct iobitmap_copy c;
    uint8_t *bytes = kmalloc(IOBITMAP_BYTES);
    ASSERT_NOT_NULL(bytes);
    memset(bytes, 0x5a, IOBITMAP_BYTES);
    iobitmap_copy_init(&c, bytes);
    expect_copy(t, &c, NULL);
    EXPECT_EQ(iobitmap_copy_load(&c, NULL), 0u); // no bitmap in, none out: nothing to do
    ASSERT_OK(iobitmap_create(&a));
    ASSERT_OK(iobitmap_create(&b));
    EXPECT_NE(a->id, b->id);
    EXPECT_EQ(iobitmap_copy_load(&c, a), 0u); // nothing allowed yet: no byte to write
    EXPECT_EQ(c.id, a->id);
    ASSERT_OK(iobitmap_allow(a, 0x3f8, 8)); // a's mark: byte 0x80
    EXPECT_EQ(iobitmap_copy_load(&c, a), 0x80u);
    expect_copy(t, &c, a);
    EXPECT_EQ(iobitmap_copy_load(&c, a), 0u); // up to date
    ASSERT_OK(iobitmap_allow(a, 0x60, 1));    // a change below the mark: reload
    EXPECT_EQ(iobitmap_copy_load(&c, a), 0x80u);
    expect_copy(t, &c, a);
    // A bitmap with a lower mark: its bytes, and 0xff over what a left.
    ASSERT_OK(iobitmap_allow(b, 0x20, 8));
    EXPECT_EQ(iobitmap_copy_load(&c, b), 0x80u);
    EXPECT_EQ(c.hw, 5u);
    expect_copy(t, &c, b);
    EXPECT_EQ(iobitmap_copy_load(&c, a), 0x80u);
    expect_copy(t, &c, a);
    // Back to no bitmap: only a's bytes are rewritten.
    EXPECT_EQ(iobitmap_copy_load(&c, NULL), 0x80u);
    expect_copy(t, &c, NULL);
    EXPECT_EQ(iobitmap_copy_load(&c, NULL), 0u);
    // A bitmap freed and another made (maybe at the same address) is not
    // mistaken for the old one: ids are never reused.
    EXPECT_EQ(iobitmap_copy_load(&c, a), 0x80u);
    uint64_t old = a->id;
    iobitmap_destroy(a);
    ASSERT_OK(iobitmap_create(&a));
    EXPECT_NE(a->id, old);
    EXPECT_EQ(iobitmap_copy_load(&c, a), 0x80u); // reloaded: a's old grants are gone
    expect_copy(t, &c, a);
    EXPECT_EQ(c.hw, 0u);
    iobitmap_destroy(a);
    iobitmap_destroy(b);
    kfree(bytes);
    objtest_expect_baseline(t, &base);
}

KTEST_SUITE(iobitmap, KTEST_CASE(iobitmap_allow_ranges), KTEST_CASE(iobitmap_allow_errors),
            KTEST_CASE(iobitmap_copy_writes_what_matters));
