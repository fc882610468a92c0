// Tests of the init manifest parser: every option, the limits, and the
// message each malformed line gets.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ktest.h"
#include "manifest.h"
#include "nb/bootstrap.h"

static status_t parse(struct manifest *m, const char *text, char *err)
{
    return manifest_parse(text, strlen(text), m, err, 160);
}

static void manifest_full_example(struct ktest *t)
{
    static const char text[] =
        "# comment line\n"
        "\n"
        "hello  /bin/hello  handles=log wait -- hello \"big world\" last\n"
        "   \t  # indented comment\n"
        "netd /bin/netd handles=log?,self,initrd? restart=3 env=A=1 env=PATH=/bin\n"
        "sh /bin/sh restart -- -i # not a comment inside arguments? it is\n"
        "tail /bin/tail";
    struct manifest m;
    char err[160];

    ASSERT_OK(parse(&m, text, err));
    ASSERT_EQ(m.count, 4u);

    const struct manifest_entry *e = &m.entries[0];
    EXPECT_STREQ(e->name, "hello");
    EXPECT_STREQ(e->path, "/bin/hello");
    EXPECT_EQ(e->line, 3u);
    EXPECT_TRUE(e->wait);
    EXPECT_EQ(e->restarts, 0u);
    ASSERT_EQ(e->nroles, 1u);
    EXPECT_EQ(e->roles[0], (uint32_t)BOOTSTRAP_ROLE_LOG);
    EXPECT_EQ(e->optional, 0u);
    EXPECT_STREQ(e->argv[0], "/bin/hello");
    EXPECT_STREQ(e->argv[1], "hello");
    EXPECT_STREQ(e->argv[2], "big world");
    EXPECT_STREQ(e->argv[3], "last");
    EXPECT_NULL(e->argv[4]);
    EXPECT_NULL(e->envp[0]);

    e = &m.entries[1];
    EXPECT_STREQ(e->name, "netd");
    EXPECT_EQ(e->line, 5u);
    EXPECT_FALSE(e->wait);
    EXPECT_EQ(e->restarts, 3u);
    ASSERT_EQ(e->nroles, 3u);
    EXPECT_EQ(e->roles[0], (uint32_t)BOOTSTRAP_ROLE_LOG);
    EXPECT_EQ(e->roles[1], (uint32_t)BOOTSTRAP_ROLE_PROCESS_SELF);
    EXPECT_EQ(e->roles[2], (uint32_t)BOOTSTRAP_ROLE_INITRD);
    EXPECT_EQ(e->optional, 0x5u); // log? and initrd?
    EXPECT_STREQ(e->envp[0], "A=1");
    EXPECT_STREQ(e->envp[1], "PATH=/bin");
    EXPECT_NULL(e->envp[2]);
    EXPECT_NULL(e->argv[1]);

    e = &m.entries[2];
    EXPECT_EQ(e->restarts, (uint32_t)MANIFEST_RESTART_DEFAULT);
    EXPECT_EQ(e->nroles, 0u);
    EXPECT_STREQ(e->argv[1], "-i");
    EXPECT_NULL(e->argv[2]); // "#" starts a comment anywhere a word starts

    e = &m.entries[3];
    EXPECT_STREQ(e->name, "tail"); // no newline at the end of the text
    EXPECT_EQ(e->line, 7u);
    manifest_free(&m);
    EXPECT_EQ(m.count, 0u);
}

struct bad_case {
    const char *text;
    const char *err; // expected message
};

static void manifest_errors(struct ktest *t)
{
    static const struct bad_case c[] = {
        {"hello", "line 1: program 'hello' has no path"},
        {"\n\nHello /bin/x", "line 3: bad program name 'Hello' (1..31 of a-z 0-9 - _)"},
        {"a.b /bin/x", "line 1: bad program name 'a.b' (1..31 of a-z 0-9 - _)"},
        {"abcdefghijklmnopqrstuvwxyz0123456 /x",
         "line 1: bad program name 'abcdefghijklmnopqrstuvwxyz0123456' (1..31 of a-z 0-9 - _)"},
        {"a /x\nb /y\na /z", "line 3: program 'a' already defined on line 1"},
        {"a /x frobnicate", "line 1: unknown option 'frobnicate'"},
        {"a /x speed=9", "line 1: unknown option 'speed=...'"},
        {"a /x wait=1", "line 1: unknown option 'wait=...'"},
        {"a /x handles", "line 1: unknown option 'handles'"},
        {"a /x handles=", "line 1: handles= lists nothing"},
        {"a /x handles=log,", "line 1: empty handle role"},
        {"a /x handles=log,,self", "line 1: unknown handle role ''"},
        {"a /x handles=logg", "line 1: unknown handle role 'logg'"},
        {"a /x handles=?", "line 1: unknown handle role ''"},
        {"a /x handles=log??", "line 1: unknown handle role 'log?'"},
        {"a /x handles=log,log?", "line 1: handle role 'log' listed twice"},
        {"a /x handles=log,log", "line 1: handle role 'log' listed twice"},
        {"a /x handles=log handles=log", "line 1: handle role 'log' listed twice"},
        {"a /x restart=", "line 1: restart= wants 0..1000, not ''"},
        {"a /x restart=-1", "line 1: restart= wants 0..1000, not '-1'"},
        {"a /x restart=1001", "line 1: restart= wants 0..1000, not '1001'"},
        {"a /x restart=3x", "line 1: restart= wants 0..1000, not '3x'"},
        {"a /x restart=99999999999999999999", "line 1: restart= wants 0..1000, not "
                                              "'99999999999999999999'"},
        {"a /x env=NOVALUE", "line 1: env= wants KEY=VALUE, not 'NOVALUE'"},
        {"a /x env==1", "line 1: env= wants KEY=VALUE, not '=1'"},
        {"a /x -- \"open", "line 1: unterminated quote"},
        {"a \"/x", "line 1: unterminated quote"},
        {"a /x provides", "line 1: unknown option 'provides'"},
        {"a /x provides=",
         "line 1: provides= names no known service: '' (known: console, devices)"},
        {"a /x provides=net",
         "line 1: provides= names no known service: 'net' (known: console, devices)"},
        {"a /x provides=console provides=console", "line 1: provides= given twice"},
        {"a /x provides=console handles=log,console",
         "line 1: provides=console gives the 'console' handle: not in handles= too"},
        {"a /x provides=console\nb /y provides=console",
         "line 2: console is already provided on line 1"},
        {"a /x stdio=tty",
         "line 1: stdio= names no known service: 'tty' (known: console, device:CLASS)"},
        {"d /d provides=devices\na /x stdio=device:", "line 2: stdio=device:: bad device class "
                                                      "'' (1..31 of a-z 0-9 - _)"},
        {"d /d provides=devices\na /x stdio=device:Console",
         "line 2: stdio=device:Console: bad device class 'Console' (1..31 of a-z 0-9 - _)"},
        {"d /d provides=devices\na /x stdio=device:console:1",
         "line 2: stdio=device:console:1: bad device class 'console:1' (1..31 of a-z 0-9 - _)"},
        {"a /x stdio=device:console",
         "line 1: stdio=device:console, but no earlier line provides=devices"},
        {"c /c provides=console\na /x stdio=device:console",
         "line 2: stdio=device:console, but no earlier line provides=devices"},
        {"d /d provides=devices\na /x stdio=device:console stdio=console",
         "line 2: stdio= given twice"},
        {"d /d provides=devices\na /x stdio=device:console handles=stdin",
         "line 2: stdio=device:console gives the 'stdin' handle: not in handles= too"},
        {"a /x stdio=console", "line 1: stdio=console, but no earlier line provides=console"},
        {"a /x stdio=console provides=console",
         "line 1: stdio=console, but no earlier line provides=console"},
        {"a /x stdio=console\nc /c provides=console",
         "line 1: stdio=console, but no earlier line provides=console"},
        {"c /c provides=console\na /x stdio=console stdio=console", "line 2: stdio= given twice"},
        {"c /c provides=console\na /x handles=log,stdout stdio=console",
         "line 2: stdio=console gives the 'stdout' handle: not in handles= too"},
        {"c /c provides=console\na /x stdio=console handles=tty",
         "line 2: stdio=console gives the 'tty' handle: not in handles= too"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
        struct manifest m;
        char err[160];
        status_t s = parse(&m, c[i].text, err);
        if (s != ERR_BAD_FORMAT || strcmp(err, c[i].err) != 0)
            ktest_fail(t, __FILE__, __LINE__, "\"%s\": %s \"%s\", expected \"%s\"", c[i].text,
                       status_str(s), err, c[i].err);
        EXPECT_EQ(m.count, 0u);
        EXPECT_NULL(m.entries);
    }
}

static void manifest_services(struct ktest *t)
{
    static const char text[] = "first /bin/first\n"
                               "console /bin/console handles=ioport,irq,log? provides=console "
                               "restart\n"
                               "nsh /bin/nsh handles=log?,initrd stdio=console restart=1000\n"
                               "other /bin/other stdio=console\n";
    struct manifest m;
    char err[160];

    ASSERT_OK(parse(&m, text, err));
    ASSERT_EQ(m.count, 4u);
    EXPECT_EQ(m.entries[0].provides, (uint32_t)MANIFEST_SERVICE_NONE);
    EXPECT_EQ(m.entries[0].stdio, (uint32_t)MANIFEST_SERVICE_NONE);
    EXPECT_EQ(m.entries[0].provider, -1);
    EXPECT_EQ(m.entries[1].provides, (uint32_t)MANIFEST_SERVICE_CONSOLE);
    EXPECT_EQ(m.entries[1].nroles, 3u); // the console role is not listed: init makes it
    EXPECT_EQ(m.entries[1].provider, -1);
    EXPECT_EQ(m.entries[2].stdio, (uint32_t)MANIFEST_SERVICE_CONSOLE);
    EXPECT_EQ(m.entries[2].provider, 1);
    EXPECT_EQ(m.entries[2].restarts, 1000u);
    EXPECT_EQ(m.entries[2].nroles, 2u);
    EXPECT_EQ(m.entries[3].provider, 1);
    EXPECT_EQ(m.entries[3].provides, (uint32_t)MANIFEST_SERVICE_NONE);
    manifest_free(&m);
    EXPECT_STREQ(manifest_service_name(MANIFEST_SERVICE_CONSOLE), "console");
    EXPECT_NULL(manifest_service_name(MANIFEST_SERVICE_NONE));
    EXPECT_NULL(manifest_service_name(3));
}

// provides=devices: the provider's role is "service"; handles=devices on
// another line is a client of it (init connects it); stdio= stays console's.
static void manifest_services_devices(struct ktest *t)
{
    static const char text[] = "devmgr /bin/devmgr handles=initrd,mmio,log? provides=devices\n"
                               "lsdev /bin/lsdev handles=devices?\n";
    struct manifest m;
    char err[160];

    ASSERT_OK(parse(&m, text, err));
    ASSERT_EQ(m.count, 2u);
    EXPECT_EQ(m.entries[0].provides, (uint32_t)MANIFEST_SERVICE_DEVICES);
    EXPECT_EQ(m.entries[0].nroles, 3u);
    EXPECT_EQ(m.entries[1].roles[0], (uint32_t)BOOTSTRAP_ROLE_DEVICES);
    manifest_free(&m);
    EXPECT_STREQ(manifest_service_name(MANIFEST_SERVICE_DEVICES), "devices");
    EXPECT_EQ(manifest_service_role(MANIFEST_SERVICE_DEVICES), (uint32_t)BOOTSTRAP_ROLE_SERVICE);
    EXPECT_EQ(manifest_service_role(MANIFEST_SERVICE_CONSOLE), (uint32_t)BOOTSTRAP_ROLE_CONSOLE);
    EXPECT_EQ(manifest_service_role(MANIFEST_SERVICE_NONE), 0u);
    EXPECT_EQ(manifest_service_by_client_role(BOOTSTRAP_ROLE_DEVICES),
              (uint32_t)MANIFEST_SERVICE_DEVICES);
    EXPECT_EQ(manifest_service_by_client_role(BOOTSTRAP_ROLE_CONSOLE),
              (uint32_t)MANIFEST_SERVICE_NONE);

    EXPECT_STATUS(parse(&m, "d /d provides=devices handles=service\n", err), ERR_BAD_FORMAT);
    EXPECT_STREQ(err, "line 1: provides=devices gives the 'service' handle: not in handles= too");
    EXPECT_STATUS(parse(&m, "d /d provides=devices\na /a stdio=devices\n", err), ERR_BAD_FORMAT);
    EXPECT_STREQ(err, "line 2: stdio=devices: terminals come from console or device:CLASS");
}

// stdio=device:CLASS: a terminal from the driver of a device, found through
// the devices service of an earlier line (its provider).
static void manifest_stdio_device(struct ktest *t)
{
    static const char text[] = "console /bin/console provides=console\n"
                               "devmgr /bin/devmgr provides=devices\n"
                               "nsh /bin/nsh stdio=console\n"
                               "vnsh /bin/nsh handles=devices? stdio=device:console restart=1000\n"
                               "other /bin/x stdio=device:virtio-9_a\n";
    struct manifest m;
    char err[160];

    ASSERT_OK(parse(&m, text, err));
    ASSERT_EQ(m.count, 5u);
    EXPECT_NULL(m.entries[2].stdio_device);
    EXPECT_EQ(m.entries[2].provider, 0);
    EXPECT_EQ(m.entries[3].stdio, (uint32_t)MANIFEST_SERVICE_DEVICES);
    EXPECT_STREQ(m.entries[3].stdio_device, "console");
    EXPECT_EQ(m.entries[3].provider, 1);
    EXPECT_EQ(m.entries[3].restarts, 1000u);
    EXPECT_EQ(m.entries[3].nroles, 1u);
    EXPECT_STREQ(m.entries[4].stdio_device, "virtio-9_a");
    EXPECT_EQ(m.entries[4].provider, 1);
    manifest_free(&m);
}

static void manifest_limits(struct ktest *t)
{
    static char text[8192];
    struct manifest m;
    char err[160];
    size_t n = 0;

    // Exactly MANIFEST_ARGS_MAX arguments, MANIFEST_ENV_MAX env, 16 roles.
    n = (size_t)snprintf(text, sizeof(text),
                         "a /x handles=log,initrd,root_resource,self,root_job,vmex");
    for (int i = 0; i < 10; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, ",user%d", i);
    for (int i = 0; i < MANIFEST_ENV_MAX; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, " env=K%d=v", i);
    n += (size_t)snprintf(text + n, sizeof(text) - n, " --");
    for (int i = 0; i < MANIFEST_ARGS_MAX; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, " a%d", i);
    ASSERT_OK(parse(&m, text, err));
    EXPECT_EQ(m.entries[0].nroles, (uint32_t)MANIFEST_HANDLES_MAX);
    EXPECT_STREQ(m.entries[0].argv[MANIFEST_ARGS_MAX], "a31");
    EXPECT_NULL(m.entries[0].argv[MANIFEST_ARGS_MAX + 1]);
    EXPECT_STREQ(m.entries[0].envp[MANIFEST_ENV_MAX - 1], "K15=v");
    manifest_free(&m);

    // One more of each.
    strcpy(text + n, " extra");
    EXPECT_STATUS(parse(&m, text, err), ERR_BAD_FORMAT);
    EXPECT_STREQ(err, "line 1: more than 32 arguments");
    EXPECT_STATUS(parse(&m,
                        "a /x env=1=1 env=2=2 env=3=3 env=4=4 env=5=5 env=6=6 env=7=7 "
                        "env=8=8 env=9=9 env=a=a env=b=b env=c=c env=d=d env=e=e env=f=f "
                        "env=g=g env=h=h",
                        err),
                  ERR_BAD_FORMAT);
    EXPECT_STREQ(err, "line 1: more than 16 env= options");
    EXPECT_STATUS(parse(&m,
                        "a /x handles=user0,user1,user2,user3,user4,user5,user6,user7,"
                        "user8,user9,user10,user11,user12,user13,user14,user15,log",
                        err),
                  ERR_BAD_FORMAT);
    EXPECT_STREQ(err, "line 1: more than 16 handles");

    // Programs.
    n = 0;
    for (int i = 0; i <= MANIFEST_PROGRAMS_MAX; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "p%d /x\n", i);
    EXPECT_STATUS(parse(&m, text, err), ERR_BAD_FORMAT);
    EXPECT_STREQ(err, "line 65: more than 64 programs");

    // A line too long, a NUL byte.
    memset(text, ' ', MANIFEST_LINE_MAX + 1);
    memcpy(text, "a /x", 4);
    text[MANIFEST_LINE_MAX + 1] = 0;
    EXPECT_STATUS(parse(&m, text, err), ERR_BAD_FORMAT);
    EXPECT_STREQ(err, "line 1: line longer than 1024 characters");
    EXPECT_STATUS(manifest_parse("a /x\nb /y\0 z", 12, &m, err, sizeof(err)), ERR_BAD_FORMAT);
    EXPECT_STREQ(err, "line 2: NUL byte");
    // An error message cut to the room given.
    EXPECT_STATUS(manifest_parse("a", 1, &m, err, 8), ERR_BAD_FORMAT);
    EXPECT_STREQ(err, "line 1:");
    // Empty and comment-only texts are fine: nothing to start.
    EXPECT_OK(parse(&m, "", err));
    EXPECT_EQ(m.count, 0u);
    manifest_free(&m);
    EXPECT_OK(parse(&m, "# nothing\n\n   \n", err));
    EXPECT_EQ(m.count, 0u);
    manifest_free(&m);
}

static void bootstrap_role_names(struct ktest *t)
{
    static const char *const names[] = {"log",      "initrd", "root_resource", "self",
                                        "root_job", "vmex",   "user0",         "user15"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        uint32_t r = nb_bootstrap_role_by_name(names[i], strlen(names[i]));
        EXPECT_NE(r, 0u);
        EXPECT_STREQ(nb_bootstrap_role_name(r), names[i]);
    }
    EXPECT_EQ(nb_bootstrap_role_by_name("user0", 5), (uint32_t)BOOTSTRAP_ROLE_USER0);
    EXPECT_EQ(nb_bootstrap_role_by_name("user16", 6), 0u);
    EXPECT_EQ(nb_bootstrap_role_by_name("lo", 2), 0u);
    EXPECT_EQ(nb_bootstrap_role_by_name("logx", 3), (uint32_t)BOOTSTRAP_ROLE_LOG); // by length
    EXPECT_EQ(nb_bootstrap_role_by_name("", 0), 0u);
    EXPECT_NULL(nb_bootstrap_role_name(0));
    EXPECT_NULL(nb_bootstrap_role_name(BOOTSTRAP_ROLE_USER0 + 16));
}

KTEST_SUITE(manifest, KTEST_CASE(manifest_full_example), KTEST_CASE(manifest_errors),
            KTEST_CASE(manifest_services), KTEST_CASE(manifest_services_devices),
            KTEST_CASE(manifest_stdio_device), KTEST_CASE(manifest_limits),
            KTEST_CASE(bootstrap_role_names));
