"""Tests of proto/idlgen.py: parsing, error reports, layouts, and generated C
that compiles cleanly and round-trips messages when run on the host."""

import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "proto"))

import idlgen  # noqa: E402

ABI = os.path.join(ROOT, "include", "nimbus")
CFLAGS = ["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-Wshadow", "-Wmissing-prototypes",
          "-Wstrict-prototypes", "-Wvla", "-I", os.path.join(ROOT, "include"),
          "-I", os.path.join(ROOT, "kernel", "include")]

FULL = textwrap.dedent("""\
    // Every feature of the IDL.
    const NAME_MAX = 16;
    protocol full {
        ping @1 ();
        mix @2 (u8 a, u64 b, i16 c, bool d, u32[3] e, string[NAME_MAX] name, bytes[8] blob, i64 f)
            -> (status status, u16 g, bytes[4] out, handle<event, signal|wait>? ev);
        give @0x10 (handle<vmo, read> v, handle<any, transfer>[4] more) -> ();
        event tick @3 (u64 when);
        share @4 () -> (status status, handle<any>[3] hs);
    }
    """)


def write(tmp_path, name, text):
    p = tmp_path / f"{name}.nidl"
    p.write_text(text)
    return str(p)


def run_gen(tmp_path, name, text):
    path = write(tmp_path, name, text)
    out = tmp_path / "gen" / "proto"
    rc = idlgen.main(["--abi", ABI, "--out", str(out), path])
    return rc, out


def gen_error(tmp_path, name, text, capsys):
    rc, _ = run_gen(tmp_path, name, text)
    assert rc == 1
    return capsys.readouterr().err


@pytest.mark.parametrize("proto", ["log", "launcher"])
def test_repository_protocols_generate_and_compile(tmp_path, proto):
    out = tmp_path / "proto"
    assert idlgen.main(["--abi", ABI, "--out", str(out), os.path.join(ROOT, "proto", f"{proto}.nidl")]) == 0
    for suffix in (".h", ".c", "_desc.c"):
        assert (out / f"{proto}{suffix}").exists()
    for src in (f"{proto}.c", f"{proto}_desc.c"):
        subprocess.run(["gcc", *CFLAGS, "-I", str(tmp_path), "-fsyntax-only", str(out / src)], check=True)


def test_layout_is_naturally_aligned_with_explicit_padding(tmp_path):
    rc, out = run_gen(tmp_path, "full", FULL)
    assert rc == 0
    p = idlgen.parse_file(str(tmp_path / "full.nidl"), ABI)
    mix = p.methods[1].request
    offs = {name: off for _, name, _, off in mix.members}
    assert offs["a"] == 16 and offs["b"] == 24 and offs["c"] == 32 and offs["d"] == 34
    assert offs["e"] == 36 and offs["name_len"] == 48 and offs["blob_len"] == 52 and offs["f"] == 56
    assert mix.fixed == 64 and mix.max_bytes == 64 + 16 + 8
    give = p.methods[2].request
    assert (give.min_handles, give.max_handles) == (1, 5)
    resp = p.methods[1].response
    assert (resp.min_handles, resp.max_handles) == (0, 1)
    assert p.methods[3].is_event and p.methods[3].response.direction == "event"
    header = (out / "full.h").read_text()
    assert "#define FULL_GIVE_ORDINAL 16u" in header
    assert "_Static_assert(sizeof(struct full_mix_request) == 64" in header
    desc = (out / "full_desc.c").read_text()
    assert desc.count("{OBJ_ANY, RIGHT_TRANSFER}") == 4
    assert "{OBJ_VMO, RIGHT_READ}" in desc and "PROTO_DIR_EVENT" in desc


ROUND_TRIP = r"""
#include <stdio.h>
#include <string.h>
#include "proto/full.h"

static int fails;
#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d %s\n", __FILE__, __LINE__, #c); fails++; } } while (0)

static status_t on_mix(void *ctx, uint8_t a, uint64_t b, int16_t c, uint8_t d, const uint32_t *e,
                       const char *name, uint32_t name_len, const void *blob, uint32_t blob_len,
                       int64_t f, struct nb_msg_in *reply)
{
    (void)ctx; (void)d; (void)e; (void)blob; (void)f;
    CHECK(a == 7 && b == 1ull << 40 && c == -3 && name_len == 5 && memcmp(name, "hello", 5) == 0);
    CHECK(blob_len == 0);
    return full_mix_response_encode(reply, 0, (uint16_t)(name_len + a), "abcd", 4, 55);
}

static status_t on_ping(void *ctx) { (void)ctx; return 0; }

static status_t on_share(void *ctx, struct nb_msg_in *reply)
{
    const handle_t hs[3] = {71, 72, 73};
    (void)ctx;
    return full_share_response_encode(reply, 0, hs, 3);
}

static const struct full_server_ops ops = {.ping = on_ping, .mix = on_mix, .share = on_share};
static unsigned char sbuf[256], rbuf[256];

static status_t loop_call(void *ctx, const struct nb_msg_out *req, struct nb_msg_in *reply)
{
    handle_t hs[8], rh[8];
    struct nb_msg_in in = {sbuf, hs, sizeof(sbuf), 8, req->nbytes, req->nhandles};
    struct nb_msg_in out = {rbuf, rh, sizeof(rbuf), 8, 0, 0};
    (void)ctx;
    memcpy(sbuf, req->bytes, req->nbytes);
    memcpy(hs, req->handles, req->nhandles * sizeof(handle_t));
    status_t st = full_dispatch(&ops, NULL, &in, &out);
    if (st) return st;
    memcpy(reply->bytes, rbuf, out.nbytes);
    memcpy(reply->handles, rh, out.nhandles * sizeof(handle_t));
    reply->nbytes = out.nbytes; reply->nhandles = out.nhandles;
    return 0;
}

static status_t loop_write(void *ctx, const struct nb_msg_out *m)
{
    struct nb_msg_in in = {(void *)m->bytes, (handle_t *)m->handles, m->nbytes, m->nhandles, m->nbytes, m->nhandles};
    struct nb_msg_in out = {rbuf, NULL, sizeof(rbuf), 0, 0, 0};
    (void)ctx;
    return full_dispatch(&ops, NULL, &in, &out);
}

int main(void)
{
    unsigned char buf[FULL_MAX_MSG_BYTES];
    struct nb_transport tr = {NULL, buf, sizeof(buf), loop_call, loop_write, NULL};
    uint32_t e[3] = {1, 2, 3};
    status_t status; uint16_t g; const void *out; uint32_t out_len; handle_t ev;
    CHECK(full_ping(&tr) == 0);
    CHECK(full_mix(&tr, 7, 1ull << 40, -3, 1, e, "hello", 5, NULL, 0, -9, &status, &g, &out, &out_len, &ev) == 0);
    CHECK(status == 0 && g == 12 && out_len == 4 && memcmp(out, "abcd", 4) == 0 && ev == 55);
    CHECK(full_mix(&tr, 7, 0, 0, 0, e, "x", 17, NULL, 0, 0, &status, &g, &out, &out_len, &ev) == ERR_OUT_OF_RANGE);
    /* A reply's handle vector lands in the caller's storage, not in the
       stub's frame (it once returned a pointer into its own stack). */
    handle_t hs[3] = {0};
    uint32_t nhs = 0;
    CHECK(full_share(&tr, &status, hs, &nhs) == 0);
    CHECK(status == 0 && nhs == 3 && hs[0] == 71 && hs[1] == 72 && hs[2] == 73);
    /* A malformed request is refused by dispatch. */
    struct nb_msg_in m = {sbuf, NULL, sizeof(sbuf), 0, 0, 0};
    CHECK(full_tick_event_encode(&m, 99) == 0);
    uint64_t when;
    CHECK(full_tick_event_decode(&m, &when) == 0 && when == 99);
    m.nbytes = 10;
    CHECK(full_tick_event_decode(&m, &when) == ERR_PROTOCOL);
    struct nb_msg_in reply = {rbuf, NULL, sizeof(rbuf), 0, 0, 0};
    CHECK(full_dispatch(&ops, NULL, &m, &reply) == ERR_PROTOCOL);
    printf("fails=%d\n", fails);
    return fails != 0;
}
"""


def test_generated_code_round_trips(tmp_path):
    rc, out = run_gen(tmp_path, "full", FULL)
    assert rc == 0
    main = tmp_path / "main.c"
    main.write_text(ROUND_TRIP)
    exe = tmp_path / "rt"
    flags = [f for f in CFLAGS if f != "-Wmissing-prototypes"]
    subprocess.run(["gcc", *flags, "-Wno-unused-parameter", "-I", str(tmp_path / "gen"),
                    "-fsanitize=address,undefined", "-o", str(exe), str(main), str(out / "full.c")],
                   check=True)
    r = subprocess.run([str(exe)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "fails=0" in r.stdout


@pytest.mark.parametrize("text,needle", [
    ("protocol p { a @1 (); b @1 (); }", "ordinal 1 already used"),
    ("protocol p { a @1 (); a @2 (); }", "defined twice"),
    ("protocol p { a @0 (); }", "ordinal must be"),
    ("protocol p { a @1 (f32 x); }", "unknown type 'f32'"),
    ("protocol p { a @1 (handle<socket> h); }", "unknown object type 'socket'"),
    ("protocol p { a @1 (handle<vmo, fly> h); }", "unknown right 'fly'"),
    ("protocol p { a @1 (u32 int); }", "'int' is reserved"),
    ("protocol p { a @1 (u32 x, u64 x); }", "clashes"),
    ("protocol p { a @1 (bytes[4] x, u32 x_len); }", "clashes"),
    ("protocol p { a @1 (handle<any>? h, handle<any> g); }", "must be the last handle field"),
    ("protocol p { a @1 (bytes[65536] x); }", "65560 bytes"),
    ("protocol p { a @1 (handle<any>[65] h); }", "bound must be 1..64"),
    ("protocol p { a @1 (string[N] s); }", "unknown constant 'N'"),
    ("protocol p { a @1 (u32 x) }", "expected ';'"),
    ("protocol p { a @1 (u32 $x); }", "unexpected character"),
    ("protocol p { }", "at least one method"),
    ("protocol q { a @1 (); }", "must live in q.nidl"),
])
def test_errors_name_file_line_and_cause(tmp_path, capsys, text, needle):
    err = gen_error(tmp_path, "p", text, capsys)
    assert needle in err
    assert err.startswith(str(tmp_path / "p.nidl") + ":1:")


def test_error_line_numbers(tmp_path, capsys):
    err = gen_error(tmp_path, "p", "// comment\nprotocol p {\n    a @1 (u32 x);\n    b @1 ();\n}\n", capsys)
    assert ":4:5: error:" in err


def test_abi_names_come_from_the_headers():
    objects, rights = idlgen.read_abi(ABI)
    assert objects["vmo"] == "OBJ_VMO" and objects["any"] == "OBJ_ANY" and "process" in objects
    assert rights["signal_peer"] == "RIGHT_SIGNAL_PEER" and "same_rights" not in rights


def test_unchanged_output_keeps_its_timestamp(tmp_path):
    rc, out = run_gen(tmp_path, "full", FULL)
    assert rc == 0
    before = os.stat(out / "full.c").st_mtime_ns
    os.utime(out / "full.c", ns=(before - 10**9, before - 10**9))
    rc, _ = run_gen(tmp_path, "full", FULL)
    assert rc == 0
    assert os.stat(out / "full.c").st_mtime_ns == before - 10**9
