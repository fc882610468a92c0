// nimbus:host
// A terminal's line discipline (lib/ldisc.h): in cooked mode a line is
// edited in ld->line, then committed as one record to a ring that readers
// drain; in raw mode bytes go to the ring at once.
#include "lib/ldisc.h"

static void reset(struct ldisc *ld)
{
    // Field by field: a compound literal would put 4 KiB on the kernel stack.
    ld->line_len = 0;
    ld->data_head = ld->data_count = 0;
    ld->rec_head = ld->rec_count = 0;
    ld->mode = LDISC_COOKED;
    ld->raw_open = false;
}

void ldisc_init(struct ldisc *ld, ldisc_echo_fn echo)
{
    reset(ld);
    ld->echo = echo;
    ld->write = NULL;
    ld->write_ctx = NULL;
}

void ldisc_init_ctx(struct ldisc *ld, ldisc_write_fn write, void *ctx)
{
    reset(ld);
    ld->echo = NULL;
    ld->write = write;
    ld->write_ctx = ctx;
}

static void echo(struct ldisc *ld, const char *s, size_t n)
{
    if (ld->write)
        ld->write(ld->write_ctx, s, n);
    else if (ld->echo)
        ld->echo(s, n);
}

static unsigned tail_record(const struct ldisc *ld)
{
    return (ld->rec_head + ld->rec_count - 1) % LDISC_RECORDS;
}

static void put_data(struct ldisc *ld, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ld->data[(ld->data_head + ld->data_count + i) % LDISC_DATA] = s[i];
    ld->data_count += n;
}

// Moves the edited line into the ring as one record. A full ring drops the
// line: the typist sees it vanish rather than the kernel block in an IRQ.
static bool commit(struct ldisc *ld)
{
    bool fits = ld->rec_count < LDISC_RECORDS && LDISC_DATA - ld->data_count >= ld->line_len;
    if (fits) {
        put_data(ld, ld->line, ld->line_len);
        ld->rec_len[(ld->rec_head + ld->rec_count) % LDISC_RECORDS] = (uint16_t)ld->line_len;
        ld->rec_count++;
    }
    ld->line_len = 0;
    ld->raw_open = false;
    return fits;
}

static void erase(struct ldisc *ld, size_t count)
{
    for (; count && ld->line_len; count--, ld->line_len--)
        echo(ld, "\b \b", 3);
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

// Ctrl-W: the blanks before the cursor, then the word before them.
static void erase_word(struct ldisc *ld)
{
    while (ld->line_len && is_blank(ld->line[ld->line_len - 1]))
        erase(ld, 1);
    while (ld->line_len && !is_blank(ld->line[ld->line_len - 1]))
        erase(ld, 1);
}

// Raw mode: the byte joins the last record while a reader has not taken it
// and it has room, else starts one.
static unsigned raw_input(struct ldisc *ld, char c)
{
    if (ld->data_count >= LDISC_DATA)
        return 0;
    if (ld->raw_open && ld->rec_count && ld->rec_len[tail_record(ld)] < LDISC_LINE_MAX) {
        put_data(ld, &c, 1);
        ld->rec_len[tail_record(ld)]++;
        return LDISC_RECORD;
    }
    if (ld->rec_count == LDISC_RECORDS)
        return 0;
    put_data(ld, &c, 1);
    ld->rec_len[(ld->rec_head + ld->rec_count) % LDISC_RECORDS] = 1;
    ld->rec_count++;
    ld->raw_open = true;
    return LDISC_RECORD;
}

unsigned ldisc_input(struct ldisc *ld, char c)
{
    if (ld->mode == LDISC_RAW)
        return raw_input(ld, c);
    if (c == '\r')
        c = '\n';
    switch (c) {
    case '\n':
        echo(ld, "\n", 1);
        ld->line[ld->line_len++] = '\n'; // line_len < LDISC_LINE_MAX always
        return commit(ld) ? LDISC_RECORD : 0;
    case LDISC_CTRL_D:
        return commit(ld) ? LDISC_RECORD : 0;
    case LDISC_CTRL_C:
        ldisc_flush(ld);
        echo(ld, "^C\n", 3);
        return LDISC_INTERRUPT;
    case LDISC_CTRL_H:
    case LDISC_DEL:
        erase(ld, 1);
        return 0;
    case LDISC_CTRL_U:
        erase(ld, LDISC_LINE_MAX);
        return 0;
    case LDISC_CTRL_W:
        erase_word(ld);
        return 0;
    }
    // Keep one byte free for the '\n'; other control bytes are dropped.
    if (((unsigned char)c < 0x20 && c != '\t') || ld->line_len >= LDISC_LINE_MAX - 1)
        return 0;
    ld->line[ld->line_len++] = c;
    echo(ld, &c, 1);
    return 0;
}

void ldisc_set_mode(struct ldisc *ld, unsigned mode)
{
    mode = mode == LDISC_RAW ? LDISC_RAW : LDISC_COOKED;
    if (mode == ld->mode)
        return;
    if (mode == LDISC_RAW && ld->line_len)
        commit(ld); // what was typed so far is input now
    ld->raw_open = false;
    ld->mode = mode;
}

bool ldisc_readable(const struct ldisc *ld)
{
    return ld->rec_count > 0;
}

size_t ldisc_record_len(const struct ldisc *ld)
{
    return ld->rec_count ? ld->rec_len[ld->rec_head] : 0;
}

size_t ldisc_peek(const struct ldisc *ld, char *buf, size_t n)
{
    size_t left = ldisc_record_len(ld);
    size_t count = n < left ? n : left;
    for (size_t i = 0; i < count; i++)
        buf[i] = ld->data[(ld->data_head + i) % LDISC_DATA];
    return count;
}

size_t ldisc_read(struct ldisc *ld, char *buf, size_t n)
{
    if (!ld->rec_count)
        return 0;
    uint16_t *left = &ld->rec_len[ld->rec_head];
    size_t count = ldisc_peek(ld, buf, n);
    ld->data_head = (ld->data_head + count) % LDISC_DATA;
    ld->data_count -= count;
    *left -= (uint16_t)count;
    if (*left == 0) {
        ld->rec_head = (ld->rec_head + 1) % LDISC_RECORDS;
        ld->rec_count--;
        if (!ld->rec_count)
            ld->raw_open = false;
    }
    return count;
}

void ldisc_flush(struct ldisc *ld)
{
    ld->line_len = 0;
    ld->data_head = ld->data_count = 0;
    ld->rec_head = ld->rec_count = 0;
    ld->raw_open = false;
}

size_t ldisc_output(const char *in, size_t n, char *out, size_t cap, size_t *used)
{
    size_t i = 0, o = 0;
    for (; i < n; i++) {
        if (in[i] == '\n') {
            if (cap - o < 2)
                break;
            out[o++] = '\r';
        } else if (o == cap) {
            break;
        }
        out[o++] = in[i];
    }
    *used = i;
    return o;
}
