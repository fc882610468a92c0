// nimbus:host
// Formatted output for the kernel: kvsnprintf and friends, no C library.
#include <stdbool.h>
#include <stdint.h>

#include "lib/fmt.h"

struct out {
    char *buf;
    size_t cap; // bytes available including the NUL
    size_t len; // bytes the full output needs so far
};

struct spec {
    bool left, zero, plus, space, alt;
    int width;
    int prec;   // -1 when not given
    int lenmod; // 0 int, 1 long, 2 long long, -1 short, -2 char, 3 size_t/ptrdiff/intmax
};

static void put(struct out *o, char c)
{
    if (o->len + 1 < o->cap)
        o->buf[o->len] = c;
    o->len++;
}

static void pad(struct out *o, char c, int n)
{
    while (n-- > 0)
        put(o, c);
}

static void put_str(struct out *o, const struct spec *sp, const char *s)
{
    if (!s)
        s = "(null)";
    int n = 0;
    while (s[n] && (sp->prec < 0 || n < sp->prec))
        n++;
    if (!sp->left)
        pad(o, ' ', sp->width - n);
    for (int i = 0; i < n; i++)
        put(o, s[i]);
    if (sp->left)
        pad(o, ' ', sp->width - n);
}

// Prints an integer magnitude with sign/prefix, honouring width and precision.
static void put_num(struct out *o, const struct spec *sp, uint64_t v, bool neg, unsigned base,
                    bool upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    int n = 0;
    for (uint64_t rest = v; rest != 0; rest /= base)
        tmp[n++] = digits[rest % base];
    int prec = sp->prec < 0 ? 1 : sp->prec;
    int zeros = prec > n ? prec - n : 0;
    const char *prefix = "";
    if (neg)
        prefix = "-";
    else if (sp->plus && base == 10)
        prefix = "+";
    else if (sp->space && base == 10)
        prefix = " ";
    else if (sp->alt && base == 16 && n > 0)
        prefix = upper ? "0X" : "0x";
    else if (sp->alt && base == 8 && zeros == 0)
        zeros = 1;
    int plen = 0;
    while (prefix[plen])
        plen++;
    int total = plen + zeros + n;
    bool zero_pad = sp->zero && !sp->left && sp->prec < 0;
    if (!sp->left && !zero_pad)
        pad(o, ' ', sp->width - total);
    for (int i = 0; i < plen; i++)
        put(o, prefix[i]);
    if (zero_pad)
        pad(o, '0', sp->width - total);
    pad(o, '0', zeros);
    while (n)
        put(o, tmp[--n]);
    if (sp->left)
        pad(o, ' ', sp->width - total);
}

static const char *parse_spec(const char *f, struct spec *sp, va_list *ap)
{
    *sp = (struct spec){.prec = -1};
    for (;; f++) {
        if (*f == '-')
            sp->left = true;
        else if (*f == '0')
            sp->zero = true;
        else if (*f == '+')
            sp->plus = true;
        else if (*f == ' ')
            sp->space = true;
        else if (*f == '#')
            sp->alt = true;
        else
            break;
    }
    if (*f == '*') {
        sp->width = va_arg(*ap, int);
        if (sp->width < 0) {
            sp->left = true;
            sp->width = -sp->width;
        }
        f++;
    } else {
        while (*f >= '0' && *f <= '9')
            sp->width = sp->width * 10 + (*f++ - '0');
    }
    if (*f == '.') {
        f++;
        sp->prec = 0;
        if (*f == '*') {
            sp->prec = va_arg(*ap, int);
            f++;
        } else {
            while (*f >= '0' && *f <= '9')
                sp->prec = sp->prec * 10 + (*f++ - '0');
        }
    }
    for (;; f++) {
        if (*f == 'l')
            sp->lenmod = sp->lenmod == 1 ? 2 : 1;
        else if (*f == 'h')
            sp->lenmod = sp->lenmod == -1 ? -2 : -1;
        else if (*f == 'z' || *f == 't' || *f == 'j')
            sp->lenmod = 3;
        else
            break;
    }
    return f;
}

static uint64_t arg_unsigned(const struct spec *sp, va_list *ap)
{
    switch (sp->lenmod) {
    case -2:
        return (unsigned char)va_arg(*ap, unsigned int);
    case -1:
        return (unsigned short)va_arg(*ap, unsigned int);
    case 0:
        return va_arg(*ap, unsigned int);
    case 1:
        return va_arg(*ap, unsigned long);
    case 2:
        return va_arg(*ap, unsigned long long);
    default:
        return va_arg(*ap, size_t);
    }
}

static int64_t arg_signed(const struct spec *sp, va_list *ap)
{
    switch (sp->lenmod) {
    case -2:
        return (signed char)va_arg(*ap, int);
    case -1:
        return (short)va_arg(*ap, int);
    case 0:
        return va_arg(*ap, int);
    case 1:
        return va_arg(*ap, long);
    case 2:
        return va_arg(*ap, long long);
    default:
        return va_arg(*ap, long);
    }
}

static void convert(struct out *o, char c, struct spec *sp, va_list *ap)
{
    switch (c) {
    case 'd':
    case 'i': {
        int64_t v = arg_signed(sp, ap);
        uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        put_num(o, sp, mag, v < 0, 10, false);
        break;
    }
    case 'u':
        put_num(o, sp, arg_unsigned(sp, ap), false, 10, false);
        break;
    case 'x':
    case 'X':
        put_num(o, sp, arg_unsigned(sp, ap), false, 16, c == 'X');
        break;
    case 'o':
        put_num(o, sp, arg_unsigned(sp, ap), false, 8, false);
        break;
    case 'p': {
        // Always "0x" and 16 digits, so addresses line up in reports.
        struct spec p = {.prec = 16};
        if (!sp->left)
            pad(o, ' ', sp->width - 18);
        put(o, '0');
        put(o, 'x');
        put_num(o, &p, (uintptr_t)va_arg(*ap, void *), false, 16, false);
        if (sp->left)
            pad(o, ' ', sp->width - 18);
        break;
    }
    case 'c': {
        char s[2] = {(char)va_arg(*ap, int), 0};
        struct spec cs = *sp;
        cs.prec = 1;
        if (s[0] == 0) { // a NUL character still counts as one
            if (!sp->left)
                pad(o, ' ', sp->width - 1);
            put(o, 0);
            if (sp->left)
                pad(o, ' ', sp->width - 1);
        } else {
            put_str(o, &cs, s);
        }
        break;
    }
    case 's':
        put_str(o, sp, va_arg(*ap, const char *));
        break;
    case '%':
        put(o, '%');
        break;
    default: // unknown conversion: print it as written
        put(o, '%');
        if (c)
            put(o, c);
        break;
    }
}

int kvsnprintf(char *buf, size_t n, const char *fmt, va_list ap)
{
    struct out o = {buf, n, 0};
    va_list aq;
    va_copy(aq, ap);
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            put(&o, *f);
            continue;
        }
        struct spec sp;
        f = parse_spec(f + 1, &sp, &aq);
        convert(&o, *f, &sp, &aq);
        if (!*f)
            break;
    }
    va_end(aq);
    if (n)
        buf[o.len < n ? o.len : n - 1] = 0;
    return (int)o.len;
}

int ksnprintf(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = kvsnprintf(buf, n, fmt, ap);
    va_end(ap);
    return r;
}
