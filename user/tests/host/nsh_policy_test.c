// Tests of the commands policy parser (user/sh/policy.c, /etc/commands):
// roles and optional roles per command, and the message of every error.
#include <stdio.h>
#include <string.h>

#include "lib/ktest.h"
#include "nb/bootstrap.h"
#include "policy.h"

static status_t parse(struct nsh_policy *p, const char *text, char *err)
{
    return nsh_policy_parse(text, strlen(text), p, err, 160);
}

static void nsh_policy_example(struct ktest *t)
{
    static const char text[] = "# the policy\n"
                               "\n"
                               "ls      initrd\n"
                               "  utest log?,initrd,self,vmex?   # tests\n"
                               "true    -\n"
                               "poweroff\tpower\r\n"
                               "my-cmd.2 user3";
    struct nsh_policy p;
    char err[160];
    ASSERT_OK(parse(&p, text, err));
    ASSERT_EQ(p.count, 5u);
    const struct nsh_policy_entry *e = nsh_policy_find(&p, "ls");
    ASSERT_NOT_NULL(e);
    EXPECT_EQ(e->line, 3u);
    ASSERT_EQ(e->nroles, 1u);
    EXPECT_EQ(e->roles[0], (uint32_t)BOOTSTRAP_ROLE_INITRD);
    EXPECT_EQ(e->optional, 0u);
    e = nsh_policy_find(&p, "utest");
    ASSERT_NOT_NULL(e);
    ASSERT_EQ(e->nroles, 4u);
    EXPECT_EQ(e->roles[0], (uint32_t)BOOTSTRAP_ROLE_LOG);
    EXPECT_EQ(e->roles[1], (uint32_t)BOOTSTRAP_ROLE_INITRD);
    EXPECT_EQ(e->roles[2], (uint32_t)BOOTSTRAP_ROLE_PROCESS_SELF);
    EXPECT_EQ(e->roles[3], (uint32_t)BOOTSTRAP_ROLE_VMEX);
    EXPECT_EQ(e->optional, 0x9u);
    e = nsh_policy_find(&p, "true");
    ASSERT_NOT_NULL(e);
    EXPECT_EQ(e->nroles, 0u);
    e = nsh_policy_find(&p, "poweroff");
    ASSERT_NOT_NULL(e);
    EXPECT_EQ(e->roles[0], (uint32_t)BOOTSTRAP_ROLE_POWER);
    e = nsh_policy_find(&p, "my-cmd.2");
    ASSERT_NOT_NULL(e);
    EXPECT_EQ(e->roles[0], (uint32_t)BOOTSTRAP_ROLE_USER0 + 3);
    EXPECT_NULL(nsh_policy_find(&p, "cat"));
    EXPECT_NULL(nsh_policy_find(&p, "l"));
    nsh_policy_free(&p);
    // Nothing to grant is fine.
    ASSERT_OK(parse(&p, "", err));
    EXPECT_EQ(p.count, 0u);
    ASSERT_OK(parse(&p, "# only\n\n   \n", err));
    EXPECT_EQ(p.count, 0u);
    // The info, processes, power roles of the system commands.
    ASSERT_OK(parse(&p, "ps info\nkill processes\nmem info?,log\n", err));
    EXPECT_EQ(nsh_policy_find(&p, "kill")->roles[0], (uint32_t)BOOTSTRAP_ROLE_PROCESSES);
    EXPECT_EQ(nsh_policy_find(&p, "mem")->optional, 1u);
    nsh_policy_free(&p);
}

static void nsh_policy_errors(struct ktest *t)
{
    static const struct {
        const char *text, *err;
    } cases[] = {
        {"ls\n", "line 1: 'ls' without roles (write '-' for none)"},
        {"ls # c\n", "line 1: 'ls' without roles (write '-' for none)"},
        {"\n\nls initrd extra\n", "line 3: unexpected 'extra' after the roles"},
        {"ls initrdd\n", "line 1: unknown role 'initrdd'"},
        {"ls initrd,\n", "line 1: empty role in 'initrd,'"},
        {"ls ,initrd\n", "line 1: empty role in ',initrd'"},
        {"ls ?\n", "line 1: empty role in '?'"},
        {"ls initrd,initrd?\n", "line 1: role 'initrd' twice"},
        {"ls stdin\n", "line 1: role 'stdin' is the shell's to give, not the policy's"},
        {"ls tty?\n", "line 1: role 'tty' is the shell's to give, not the policy's"},
        {"l/s initrd\n", "line 1: bad command name 'l/s'"},
        {"ls initrd\nls log\n", "line 2: 'ls' twice (first on line 1)"},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa log\n",
         "line 1: command name longer than 31 characters"},
        {"x user0,user1,user2,user3,user4,user5,user6,user7,user8,user9,user10,user11,"
         "user12,user13,user14,user15,log\n",
         "line 1: more than 16 roles"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct nsh_policy p;
        char err[160];
        EXPECT_STATUS(parse(&p, cases[i].text, err), ERR_BAD_FORMAT);
        EXPECT_STREQ(err, cases[i].err);
        EXPECT_EQ(p.count, 0u);
        EXPECT_NULL(p.entries);
    }
    // An over-long line.
    char big[1200];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    struct nsh_policy p;
    char err[160];
    EXPECT_STATUS(parse(&p, big, err), ERR_BAD_FORMAT);
    EXPECT_STREQ(err, "line 1: longer than 1024 characters");
    // Many commands grow the table.
    char text[8192] = "";
    for (int i = 0; i < 100; i++)
        snprintf(text + strlen(text), sizeof(text) - strlen(text), "cmd%d log?\n", i);
    ASSERT_OK(parse(&p, text, err));
    EXPECT_EQ(p.count, 100u);
    EXPECT_EQ(nsh_policy_find(&p, "cmd99")->line, 100u);
    nsh_policy_free(&p);
}

KTEST_SUITE(nsh_policy, KTEST_CASE(nsh_policy_example), KTEST_CASE(nsh_policy_errors));
