// nimbus:host
// The kernel command line: tokenizer, lookups, and the registered parameters.
#include <stdint.h>

#include "init/cmdline.h"
#include "lib/printk.h"
#include "lib/string.h"

extern const struct cmdline_param *const __start_cmdline_params[];
extern const struct cmdline_param *const __stop_cmdline_params[];

// The number of registered parameters. The bounds come from the linker; to C
// they are unrelated arrays, so they are compared as integers.
static size_t param_count(void)
{
    return ((uintptr_t)__stop_cmdline_params - (uintptr_t)__start_cmdline_params) /
           sizeof(__start_cmdline_params[0]);
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Drops an opening quote from a value, and a closing one if the word ends
// with it.
static void unquote_value(struct cmdline_token *tok)
{
    if (tok->val_len == 0 || tok->val[0] != '"')
        return;
    tok->val++;
    tok->val_len--;
    if (tok->val_len > 0 && tok->val[tok->val_len - 1] == '"')
        tok->val_len--;
}

bool cmdline_next(const char **cursor, struct cmdline_token *tok)
{
    const char *p = *cursor, *eq = NULL;
    bool quoted = false;

    if (!p)
        return false;
    while (is_blank(*p))
        p++;
    if (!*p) {
        *cursor = p;
        return false;
    }
    const char *start = p;
    for (; *p && (quoted || !is_blank(*p)); p++) {
        if (*p == '"')
            quoted = !quoted;
        else if (*p == '=' && !quoted && !eq)
            eq = p;
    }
    *cursor = p;
    *tok = (struct cmdline_token){.key = start, .val = ""};
    tok->key_len = (size_t)((eq ? eq : p) - start);
    if (eq) {
        tok->has_val = true;
        tok->val = eq + 1;
        tok->val_len = (size_t)(p - tok->val);
        unquote_value(tok);
    }
    return true;
}

static bool key_is(const struct cmdline_token *tok, const char *key, size_t len)
{
    return tok->key_len == len && memcmp(tok->key, key, len) == 0;
}

// Finds the last word whose key is `key`; false if there is none.
static bool find_last(const char *cmdline, const char *key, struct cmdline_token *found)
{
    size_t len = strlen(key);
    struct cmdline_token tok;
    bool seen = false;

    while (cmdline_next(&cmdline, &tok)) {
        if (key_is(&tok, key, len)) {
            *found = tok;
            seen = true;
        }
    }
    return seen;
}

status_t cmdline_get(const char *cmdline, const char *key, char *buf, size_t n)
{
    struct cmdline_token tok;

    if (!key || !*key || (!buf && n > 0))
        return ERR_INVALID_ARGS;
    if (!find_last(cmdline, key, &tok))
        return ERR_NOT_FOUND;
    if (n == 0)
        return ERR_BUFFER_TOO_SMALL;
    size_t copy = tok.val_len < n ? tok.val_len : n - 1;
    memcpy(buf, tok.val, copy);
    buf[copy] = '\0';
    return copy == tok.val_len ? OK : ERR_BUFFER_TOO_SMALL;
}

bool cmdline_has(const char *cmdline, const char *key)
{
    struct cmdline_token tok;

    return key && *key && find_last(cmdline, key, &tok);
}

const struct cmdline_param *cmdline_param_find(const char *key, size_t len)
{
    for (size_t i = 0; i < param_count(); i++) {
        const struct cmdline_param *param = __start_cmdline_params[i];
        if (strlen(param->name) == len && memcmp(param->name, key, len) == 0)
            return param;
    }
    return NULL;
}

// Whether a word before `tok` (which starts at tok->key) has the same key;
// used to warn about an unknown key only once.
static bool seen_before(const char *cmdline, const struct cmdline_token *tok)
{
    struct cmdline_token prev;

    while (cmdline_next(&cmdline, &prev) && prev.key < tok->key) {
        if (key_is(&prev, tok->key, tok->key_len))
            return true;
    }
    return false;
}

// Calls every handler registered for tok's key; returns the warnings printed.
static int apply_token(const struct cmdline_token *tok)
{
    int warnings = 0;

    for (size_t i = 0; i < param_count(); i++) {
        const struct cmdline_param *param = __start_cmdline_params[i];
        if (!key_is(tok, param->name, strlen(param->name)))
            continue;
        status_t s = param->set(tok->val, tok->val_len, tok->has_val);
        if (s == OK)
            continue;
        if (tok->has_val)
            pr_warn("cmdline: parameter '%s' refused value '%.*s': %s\n", param->name,
                    (int)tok->val_len, tok->val, status_str(s));
        else
            pr_warn("cmdline: parameter '%s' refused (no value): %s\n", param->name, status_str(s));
        warnings++;
    }
    return warnings;
}

int cmdline_apply(const char *cmdline)
{
    const char *cursor = cmdline;
    struct cmdline_token tok;
    int warnings = 0;

    while (cmdline_next(&cursor, &tok)) {
        if (tok.key_len == 0) {
            pr_warn("cmdline: word '%.*s' has no parameter name, ignored\n",
                    (int)(cursor - tok.key), tok.key);
            warnings++;
        } else if (cmdline_param_find(tok.key, tok.key_len)) {
            warnings += apply_token(&tok);
        } else if (!seen_before(cmdline, &tok)) {
            pr_warn("cmdline: unknown parameter '%.*s' ignored\n", (int)tok.key_len, tok.key);
            warnings++;
        }
    }
    return warnings;
}
