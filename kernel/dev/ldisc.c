// nimbus:host
// The console's canonical line discipline (dev/ldisc.h): a line is edited
// in ld->line, then committed as one record to a ring that readers drain.
#include "dev/ldisc.h"

void ldisc_init(struct ldisc *ld, ldisc_echo_fn echo)
{
    // Field by field: a compound literal would put 4 KiB on the kernel stack.
    ld->line_len = 0;
    ld->data_head = ld->data_count = 0;
    ld->rec_head = ld->rec_count = 0;
    ld->echo = echo;
}

static void echo(struct ldisc *ld, const char *s, size_t n)
{
    if (ld->echo)
        ld->echo(s, n);
}

// Moves the edited line into the ring as one record. A full ring drops the
// line: the typist sees it vanish rather than the kernel block in an IRQ.
static bool commit(struct ldisc *ld)
{
    bool fits = ld->rec_count < LDISC_RECORDS && LDISC_DATA - ld->data_count >= ld->line_len;
    if (fits) {
        for (size_t i = 0; i < ld->line_len; i++)
            ld->data[(ld->data_head + ld->data_count + i) % LDISC_DATA] = ld->line[i];
        ld->data_count += ld->line_len;
        ld->rec_len[(ld->rec_head + ld->rec_count) % LDISC_RECORDS] = (uint16_t)ld->line_len;
        ld->rec_count++;
    }
    ld->line_len = 0;
    return fits;
}

static void erase(struct ldisc *ld, size_t count)
{
    for (; count && ld->line_len; count--, ld->line_len--)
        echo(ld, "\b \b", 3);
}

bool ldisc_input(struct ldisc *ld, char c)
{
    if (c == '\r')
        c = '\n';
    switch (c) {
    case '\n':
        echo(ld, "\n", 1);
        ld->line[ld->line_len++] = '\n'; // line_len < LDISC_LINE_MAX always
        return commit(ld);
    case LDISC_CTRL_D:
        return commit(ld);
    case LDISC_CTRL_H:
    case LDISC_DEL:
        erase(ld, 1);
        return false;
    case LDISC_CTRL_U:
        erase(ld, LDISC_LINE_MAX);
        return false;
    }
    // Keep one byte free for the '\n'; other control bytes are dropped.
    if (((unsigned char)c < 0x20 && c != '\t') || ld->line_len >= LDISC_LINE_MAX - 1)
        return false;
    ld->line[ld->line_len++] = c;
    echo(ld, &c, 1);
    return false;
}

bool ldisc_readable(const struct ldisc *ld)
{
    return ld->rec_count > 0;
}

size_t ldisc_read(struct ldisc *ld, char *buf, size_t n)
{
    uint16_t *left = &ld->rec_len[ld->rec_head];
    size_t count = n < *left ? n : *left;
    for (size_t i = 0; i < count; i++)
        buf[i] = ld->data[(ld->data_head + i) % LDISC_DATA];
    ld->data_head = (ld->data_head + count) % LDISC_DATA;
    ld->data_count -= count;
    *left -= (uint16_t)count;
    if (*left == 0) {
        ld->rec_head = (ld->rec_head + 1) % LDISC_RECORDS;
        ld->rec_count--;
    }
    return count;
}
