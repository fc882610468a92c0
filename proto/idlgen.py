#!/usr/bin/python3
"""Nimbus IDL generator: proto/<name>.nidl -> <out>/<name>.h, <name>.c, <name>_desc.c.

Usage: idlgen.py [--abi include/nimbus] --out build/gen/proto proto/log.nidl ...

The syntax is described in docs/CAPABILITIES.md ("The IDL"). In short:

    // comment
    const LOG_LINE_MAX = 256;
    protocol log {
        write @1 (u32 level, string[LOG_LINE_MAX] line);          // one-way
        read @2 (u64 seq) -> (status status, string[256] line);    // request -> response
        event overflow @3 (u64 dropped);                            // server -> client
    }

Field types: u8 u16 u32 u64 i8 i16 i32 i64 bool status; fixed arrays of those
(u32[4]); bounded bytes[N] and string[N]; handle<type, right|right> with an
optional `?` (may be absent) or `[N]` (up to N handles), at most one of which
ends the handle fields. Object types and rights are read from the ABI headers
(OBJ_* in object.h, RIGHT_* in rights.h), named in lower case.

Output, for protocol P (everything but the descriptor is plain C on top of
include/nimbus, so user space can compile it too):
  P.h       wire structs, ordinals, encode/decode functions, client stubs that
            call through a struct nb_transport, the server ops table and
            P_dispatch (ordinal -> handler), and `extern const struct
            proto_desc P_proto_desc`.
  P.c       their implementation.
  P_desc.c  the kernel's protocol descriptor (kernel/include/obj/proto.h).
Only the Python 3 standard library is used.
"""

import argparse
import os
import re
import sys

HEADER_BYTES = 16
MAX_MSG_BYTES = 65536
MAX_MSG_HANDLES = 64
ORDINAL_MAX = 0x7FFFFFFF

SCALARS = {
    "u8": ("uint8_t", 1), "u16": ("uint16_t", 2), "u32": ("uint32_t", 4), "u64": ("uint64_t", 8),
    "i8": ("int8_t", 1), "i16": ("int16_t", 2), "i32": ("int32_t", 4), "i64": ("int64_t", 8),
    "bool": ("uint8_t", 1), "status": ("status_t", 4),
}

C_KEYWORDS = set("""auto break case char const continue default do double else enum extern float
for goto if inline int long register restrict return short signed sizeof static struct switch
typedef union unsigned void volatile while _Bool _Complex _Imaginary bool true false
""".split())
RESERVED_NAMES = {"hdr", "ctx", "reply", "req", "msg", "tr", "ops", "event", "protocol", "const"}


class IdlError(Exception):
    def __init__(self, path, line, col, msg):
        super().__init__(f"{path}:{line}:{col}: error: {msg}")


# ---------------------------------------------------------------- lexing

TOKEN_RE = re.compile(r"""
    (?P<ws>[ \t\r]+) | (?P<nl>\n) | (?P<comment>//[^\n]*) |
    (?P<arrow>->) | (?P<num>0[xX][0-9a-fA-F]+|[0-9]+) | (?P<ident>[A-Za-z_][A-Za-z0-9_]*) |
    (?P<punct>[{}()\[\]<>,;@=|?])
""", re.VERBOSE)


class Tok:
    def __init__(self, kind, text, line, col):
        self.kind, self.text, self.line, self.col = kind, text, line, col

    def __repr__(self):
        return f"{self.kind}:{self.text}"


def lex(path, src):
    toks, pos, line, line_start = [], 0, 1, 0
    while pos < len(src):
        m = TOKEN_RE.match(src, pos)
        if not m:
            raise IdlError(path, line, pos - line_start + 1, f"unexpected character {src[pos]!r}")
        kind = m.lastgroup
        if kind == "nl":
            line, line_start = line + 1, m.end()
        elif kind not in ("ws", "comment"):
            toks.append(Tok(kind, m.group(), line, pos - line_start + 1))
        pos = m.end()
    toks.append(Tok("eof", "", line, pos - line_start + 1))
    return toks


# ---------------------------------------------------------------- model

class Field:
    def __init__(self, name, kind, tok, ctype=None, size=0, count=0, bound=0,
                 obj=None, rights=None, optional=False):
        self.name, self.kind, self.tok = name, kind, tok  # kind: scalar|array|bytes|string|handle|handles
        self.ctype, self.size, self.count, self.bound = ctype, size, count, bound
        self.obj, self.rights, self.optional = obj, rights or [], optional


class Message:
    def __init__(self, proto, method, direction, ordinal, fields):
        self.proto, self.method, self.direction = proto, method, direction  # request|response|event
        self.ordinal, self.fields = ordinal, fields
        self.layout()

    @property
    def cname(self):
        return f"{self.proto}_{self.method}_{self.direction}"

    def layout(self):
        """Naturally aligned fixed part after the header; tails follow it."""
        self.members, off, pad = [], HEADER_BYTES, 0
        for f in self.fields:
            if f.kind in ("scalar", "array"):
                size, align = f.size * max(f.count, 1), f.size
            elif f.kind in ("bytes", "string"):
                size, align = 4, 4
            else:
                continue
            if off % align:
                gap = align - off % align
                self.members.append(("uint8_t", f"nb_pad{pad}", gap, off))
                off, pad = off + gap, pad + 1
            name = f.name if f.kind in ("scalar", "array") else f.name + "_len"
            ctype = f.ctype if f.kind in ("scalar", "array") else "uint32_t"
            self.members.append((ctype, name, f.count if f.kind == "array" else 0, off))
            off += size
        if off % 8:
            self.members.append(("uint8_t", f"nb_pad{pad}", 8 - off % 8, off))
            off += 8 - off % 8
        self.fixed = off
        self.tails = [f for f in self.fields if f.kind in ("bytes", "string")]
        self.max_bytes = off + sum(f.bound for f in self.tails)
        hs = [f for f in self.fields if f.kind == "handle"]
        self.handle_fields = [f for f in self.fields if f.kind in ("handle", "handles")]
        self.min_handles = sum(1 for f in hs if not f.optional)
        self.max_handles = sum(1 if f.kind == "handle" else f.bound for f in self.handle_fields)

    def slots(self):
        for f in self.handle_fields:
            for _ in range(1 if f.kind == "handle" else f.bound):
                yield f


class Method:
    def __init__(self, name, ordinal, request, response, is_event, tok):
        self.name, self.ordinal, self.request, self.response = name, ordinal, request, response
        self.is_event, self.tok = is_event, tok


class Protocol:
    def __init__(self, name, consts, methods, source):
        self.name, self.consts, self.methods, self.source = name, consts, methods, source

    def messages(self):
        for m in self.methods:
            yield from (x for x in (m.request, m.response) if x)


# ---------------------------------------------------------------- parsing

class Parser:
    def __init__(self, path, src, objects, rights):
        self.path, self.toks, self.i = path, lex(path, src), 0
        self.objects, self.rights, self.consts = objects, rights, {}

    def err(self, tok, msg):
        return IdlError(self.path, tok.line, tok.col, msg)

    def peek(self):
        return self.toks[self.i]

    def take(self, kind=None, text=None):
        t = self.toks[self.i]
        if (kind and t.kind != kind) or (text is not None and t.text != text):
            want = text if text is not None else kind
            raise self.err(t, f"expected {want!r}, found {t.text or 'end of file'!r}")
        self.i += 1
        return t

    def accept(self, text):
        if self.peek().text == text and self.peek().kind != "eof":
            return self.take()
        return None

    def number(self):
        t = self.peek()
        if t.kind == "num":
            self.take()
            return int(t.text, 0), t
        if t.kind == "ident":
            self.take()
            if t.text not in self.consts:
                raise self.err(t, f"unknown constant {t.text!r}")
            return self.consts[t.text], t
        raise self.err(t, f"expected a number or constant, found {t.text!r}")

    def parse(self):
        protocols = []
        while self.peek().kind != "eof":
            t = self.peek()
            if t.text == "const":
                self.parse_const()
            elif t.text == "protocol":
                protocols.append(self.parse_protocol())
            else:
                raise self.err(t, f"expected 'const' or 'protocol', found {t.text!r}")
        if len(protocols) != 1:
            raise self.err(self.peek(), "a .nidl file holds exactly one protocol")
        return protocols[0]

    def parse_const(self):
        self.take("ident", "const")
        name = self.take("ident")
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", name.text):
            raise self.err(name, "constant names are UPPER_CASE")
        if name.text in self.consts:
            raise self.err(name, f"constant {name.text!r} defined twice")
        self.take("punct", "=")
        value, _ = self.number()
        self.take("punct", ";")
        self.consts[name.text] = value

    def ident(self, what):
        t = self.take("ident")
        if not re.fullmatch(r"[a-z][a-z0-9_]*", t.text):
            raise self.err(t, f"{what} names are lower_case")
        if t.text in C_KEYWORDS or t.text in RESERVED_NAMES or t.text.startswith("nb_"):
            raise self.err(t, f"{t.text!r} is reserved")
        return t

    def parse_protocol(self):
        self.take("ident", "protocol")
        name = self.ident("protocol")
        self.take("punct", "{")
        methods = []
        while not self.accept("}"):
            methods.append(self.parse_method(name.text))
        self.check_methods(methods)
        return Protocol(name.text, dict(self.consts), methods, self.path)

    def parse_method(self, proto):
        is_event = bool(self.accept("event"))
        name = self.ident("method")
        self.take("punct", "@")
        ordinal, otok = self.number()
        if not 1 <= ordinal <= ORDINAL_MAX:
            raise self.err(otok, f"ordinal must be 1..{ORDINAL_MAX:#x}")
        request = self.parse_fields()
        response = None
        if not is_event and self.accept("->"):
            response = self.parse_fields()
        self.take("punct", ";")
        if is_event:
            return Method(name.text, ordinal, None,
                          Message(proto, name.text, "event", ordinal, request), True, name)
        req = Message(proto, name.text, "request", ordinal, request)
        resp = Message(proto, name.text, "response", ordinal, response) if response is not None else None
        return Method(name.text, ordinal, req, resp, False, name)

    def parse_fields(self):
        self.take("punct", "(")
        fields = []
        if not self.accept(")"):
            while True:
                fields.append(self.parse_field())
                if self.accept(")"):
                    break
                self.take("punct", ",")
        self.check_fields(fields)
        return fields

    def parse_field(self):
        t = self.take("ident")
        if t.text == "handle":
            return self.parse_handle(t)
        if t.text in ("bytes", "string"):
            self.take("punct", "[")
            bound, btok = self.number()
            self.take("punct", "]")
            if not 1 <= bound <= MAX_MSG_BYTES:
                raise self.err(btok, f"bound must be 1..{MAX_MSG_BYTES}")
            return Field(self.ident("field").text, t.text, t, bound=bound)
        if t.text not in SCALARS:
            raise self.err(t, f"unknown type {t.text!r}")
        ctype, size = SCALARS[t.text]
        if self.accept("["):
            count, ctok = self.number()
            self.take("punct", "]")
            if not 1 <= count <= MAX_MSG_BYTES // size:
                raise self.err(ctok, "array length out of range")
            return Field(self.ident("field").text, "array", t, ctype, size, count=count)
        return Field(self.ident("field").text, "scalar", t, ctype, size)

    def parse_handle(self, t):
        self.take("punct", "<")
        otok = self.take("ident")
        if otok.text not in self.objects:
            raise self.err(otok, f"unknown object type {otok.text!r} (known: {', '.join(sorted(self.objects))})")
        rights = []
        if self.accept(","):
            while True:
                r = self.take("ident")
                if r.text not in self.rights:
                    raise self.err(r, f"unknown right {r.text!r}")
                rights.append(r.text)
                if not self.accept("|"):
                    break
        self.take("punct", ">")
        if self.accept("?"):
            return Field(self.ident("field").text, "handle", t, obj=otok.text, rights=rights, optional=True)
        if self.accept("["):
            bound, btok = self.number()
            self.take("punct", "]")
            if not 1 <= bound <= MAX_MSG_HANDLES:
                raise self.err(btok, f"handle vector bound must be 1..{MAX_MSG_HANDLES}")
            return Field(self.ident("field").text, "handles", t, obj=otok.text, rights=rights, bound=bound)
        return Field(self.ident("field").text, "handle", t, obj=otok.text, rights=rights)

    def check_fields(self, fields):
        names = set()
        for f in fields:
            derived = {f.name}
            if f.kind in ("bytes", "string"):
                derived.add(f.name + "_len")
            if f.kind == "handles":
                derived.add(f.name + "_count")
            if derived & names:
                raise self.err(f.tok, f"field {f.name!r} clashes with another field")
            names |= derived
        hfields = [f for f in fields if f.kind in ("handle", "handles")]
        for i, f in enumerate(hfields):
            if (f.optional or f.kind == "handles") and i != len(hfields) - 1:
                raise self.err(f.tok, "an optional handle or handle vector must be the last handle field")
        nmax = sum(1 if f.kind == "handle" else f.bound for f in hfields)
        if nmax > MAX_MSG_HANDLES:
            raise self.err(fields[0].tok, f"more than {MAX_MSG_HANDLES} handles")

    def check_methods(self, methods):
        seen_names, seen_ords = {}, {}
        for m in methods:
            if m.name in seen_names:
                raise self.err(m.tok, f"method {m.name!r} defined twice")
            if m.ordinal in seen_ords:
                raise self.err(m.tok, f"ordinal {m.ordinal} already used by {seen_ords[m.ordinal]!r}")
            seen_names[m.name], seen_ords[m.ordinal] = m, m.name
            for msg in (m.request, m.response):
                if msg and msg.max_bytes > MAX_MSG_BYTES:
                    raise self.err(m.tok, f"{msg.cname} may reach {msg.max_bytes} bytes (> {MAX_MSG_BYTES})")
        if not methods:
            raise self.err(self.peek(), "a protocol needs at least one method")


def read_abi(abi_dir):
    """Object type and right names from the ABI headers."""
    objects, rights = {}, {}
    with open(os.path.join(abi_dir, "object.h")) as f:
        for m in re.finditer(r"^#define\s+OBJ_([A-Z0-9_]+)\s+(\d+)", f.read(), re.M):
            if m.group(1) not in ("NONE", "TYPE_COUNT"):
                objects[m.group(1).lower()] = "OBJ_" + m.group(1)
    objects["any"] = "OBJ_ANY"
    with open(os.path.join(abi_dir, "rights.h")) as f:
        for m in re.finditer(r"^#define\s+RIGHT_([A-Z0-9_]+)\s+\(1u << \d+\)", f.read(), re.M):
            if m.group(1) != "SAME_RIGHTS":
                rights[m.group(1).lower()] = "RIGHT_" + m.group(1)
    rights["none"] = "RIGHT_NONE"
    return objects, rights


def parse_file(path, abi_dir):
    objects, rights = read_abi(abi_dir)
    with open(path) as f:
        src = f.read()
    p = Parser(path, src, objects, rights)
    proto = p.parse()
    stem = os.path.splitext(os.path.basename(path))[0]
    if stem != proto.name:
        raise IdlError(path, 1, 1, f"protocol {proto.name!r} must live in {proto.name}.nidl")
    proto.objects, proto.rights = objects, rights
    return proto


# ---------------------------------------------------------------- C output

def up(s):
    return s.upper()


def encode_params(msg):
    ps = []
    for f in msg.fields:
        if f.kind == "scalar":
            ps.append(f"{f.ctype} {f.name}")
        elif f.kind == "array":
            ps.append(f"const {f.ctype} *{f.name}")
        elif f.kind == "bytes":
            ps.append(f"const void *{f.name}, uint32_t {f.name}_len")
        elif f.kind == "string":
            ps.append(f"const char *{f.name}, uint32_t {f.name}_len")
        elif f.kind == "handle":
            ps.append(f"handle_t {f.name}")
        else:
            ps.append(f"const handle_t *{f.name}, uint32_t {f.name}_count")
    return ps


def decode_params(msg, prefix=""):
    ps = []
    for f in msg.fields:
        n = prefix + f.name
        if f.kind == "scalar":
            ps.append(f"{f.ctype} *{n}")
        elif f.kind == "array":
            ps.append(f"{f.ctype} *{n}")
        elif f.kind == "bytes":
            ps.append(f"const void **{n}, uint32_t *{n}_len")
        elif f.kind == "string":
            ps.append(f"const char **{n}, uint32_t *{n}_len")
        elif f.kind == "handle":
            ps.append(f"handle_t *{n}")
        else:
            ps.append(f"const handle_t **{n}, uint32_t *{n}_count")
    return ps


def call_args(msg, prefix=""):
    out = []
    for f in msg.fields:
        n = prefix + f.name
        if f.kind in ("bytes", "string"):
            out += [n, n + "_len"]
        elif f.kind == "handles":
            out += [n, n + "_count"]
        else:
            out.append(n)
    return out


def sig(ret, name, params):
    return f"{ret} {name}({', '.join(params) if params else 'void'})"


def gen_struct(msg):
    lines = [f"// {msg.direction} of {msg.proto}.{msg.method}" +
             (f"; then the bytes of {', '.join(f.name for f in msg.tails)}" if msg.tails else ""),
             f"struct {msg.cname} {{", "    struct nb_msg_header hdr;"]
    for ctype, name, count, _ in msg.members:
        lines.append(f"    {ctype} {name}[{count}];" if count else f"    {ctype} {name};")
    lines.append("};")
    lines.append(f"_Static_assert(sizeof(struct {msg.cname}) == {msg.fixed}, \"{msg.cname} layout\");")
    for ctype, name, count, off in msg.members:
        if not name.startswith("nb_pad"):
            lines.append(f"_Static_assert(offsetof(struct {msg.cname}, {name}) == {off}, "
                         f"\"{msg.cname}.{name}\");")
    lines.append(f"#define {up(msg.cname)}_MIN_BYTES {msg.fixed}u")
    lines.append(f"#define {up(msg.cname)}_MAX_BYTES {msg.max_bytes}u")
    lines.append(f"#define {up(msg.cname)}_MAX_HANDLES {msg.max_handles}u")
    return lines


def client_params(m):
    """A client stub's parameters. A handle vector of the reply is copied to
    caller storage (room for the vector's bound): the reply's own handle
    array lives in the stub's frame."""
    ps = ["const struct nb_transport *tr"] + encode_params(m.request)
    if m.response:
        for f, p in zip(m.response.fields, decode_params(m.response, "out_")):
            ps.append(f"handle_t *out_{f.name}, uint32_t *out_{f.name}_count"
                      if f.kind == "handles" else p)
    return ps


def gen_header(p):
    P = up(p.name)
    msgs = list(p.messages())
    L = [f"// Generated by proto/idlgen.py from {p.source}. Do not edit.",
         "#pragma once", "", "#include <stddef.h>", "#include <stdint.h>", "",
         '#include "nimbus/channel.h"', '#include "nimbus/handle.h"', '#include "nimbus/status.h"', ""]
    for k, v in p.consts.items():
        L.append(f"#define {k} {v}")
    L.append("")
    for m in p.methods:
        L.append(f"#define {P}_{up(m.name)}_ORDINAL {m.ordinal}u")
    L.append(f"#define {P}_MAX_MSG_BYTES {max(x.max_bytes for x in msgs)}u // transport buffers need this much")
    L.append(f"#define {P}_MAX_MSG_HANDLES {max(x.max_handles for x in msgs)}u")
    L.append("")
    for msg in msgs:
        L += gen_struct(msg) + [""]
    L.append("// encode: builds the message in m (bytes_cap, handles_cap given; nbytes, nhandles set).")
    L.append("// decode: checks a received message (ERR_PROTOCOL if malformed) and points into it.")
    for msg in msgs:
        L.append(sig("status_t", f"{msg.cname}_encode", ["struct nb_msg_in *m"] + encode_params(msg)) + ";")
        L.append(sig("status_t", f"{msg.cname}_decode", ["const struct nb_msg_in *m"] + decode_params(msg)) + ";")
    L += ["", "// Client stubs: build the request in tr->buf and call (or write, for one-way", "// methods) through tr. "
          "Bytes and strings of the response point into tr->buf."]
    for m in p.methods:
        if not m.is_event:
            L.append(sig("status_t", f"{p.name}_{m.name}", client_params(m)) + ";")
    L += ["", "// Server side: one handler per method. A two-way method's handler encodes its",
          "// response into `reply` with the matching _response_encode before returning OK.",
          f"struct {p.name}_server_ops {{"]
    for m in p.methods:
        if m.is_event:
            continue
        ps = ["void *ctx"] + decode_params_by_value(m.request)
        if m.response:
            ps.append("struct nb_msg_in *reply")
        L.append(f"    status_t (*{m.name})({', '.join(ps)});")
    L += ["};", "",
          f"struct {p.name}_dispatch_entry {{", "    uint32_t ordinal;",
          f"    status_t (*handle)(const struct {p.name}_server_ops *ops, void *ctx,",
          "                       const struct nb_msg_in *req, struct nb_msg_in *reply);", "};",
          f"extern const struct {p.name}_dispatch_entry {p.name}_dispatch_table[];",
          f"extern const uint32_t {p.name}_dispatch_count;", "",
          "// Decodes a request read from the server end, runs its handler and leaves",
          "// the response (with the request's txid) in reply; reply->nbytes is 0 for",
          "// one-way methods. ERR_PROTOCOL for an unknown ordinal or a malformed request,",
          "// ERR_NOT_SUPPORTED for a method without handler, else the handler's status.",
          sig("status_t", f"{p.name}_dispatch",
              [f"const struct {p.name}_server_ops *ops", "void *ctx", "const struct nb_msg_in *req",
               "struct nb_msg_in *reply"]) + ";", "",
          "struct proto_desc;",
          f"extern const struct proto_desc {p.name}_proto_desc; // in {p.name}_desc.c (kernel)", ""]
    for m in p.methods:
        if m.is_event:
            L.append("// Sends an event from the server end (through tr->write).")
            L.append(sig("status_t", f"{p.name}_send_{m.name}",
                         ["const struct nb_transport *tr"] + encode_params(m.response)) + ";")
    return "\n".join(L) + "\n"


def decode_params_by_value(msg):
    """Handler parameters: the request's fields as values."""
    ps = []
    for f in msg.fields:
        if f.kind == "scalar":
            ps.append(f"{f.ctype} {f.name}")
        elif f.kind == "array":
            ps.append(f"const {f.ctype} *{f.name}")
        elif f.kind == "bytes":
            ps.append(f"const void *{f.name}, uint32_t {f.name}_len")
        elif f.kind == "string":
            ps.append(f"const char *{f.name}, uint32_t {f.name}_len")
        elif f.kind == "handle":
            ps.append(f"handle_t {f.name}")
        else:
            ps.append(f"const handle_t *{f.name}, uint32_t {f.name}_count")
    return ps


def gen_encode(msg):
    L = [sig("status_t", f"{msg.cname}_encode", ["struct nb_msg_in *m"] + encode_params(msg)), "{",
         f"    struct {msg.cname} nb_f;", "    uint32_t nb_off = sizeof(nb_f), nb_nh = 0;", ""]
    for f in msg.tails:
        L += [f"    if ({f.name}_len > {f.bound}u || ({f.name}_len && !{f.name}))", "        return ERR_OUT_OF_RANGE;"]
    for f in msg.handle_fields:
        if f.kind == "handles":
            L += [f"    if ({f.name}_count > {f.bound}u || ({f.name}_count && !{f.name}))",
                  "        return ERR_OUT_OF_RANGE;"]
    need_bytes = " + ".join(["sizeof(nb_f)"] + [f"{f.name}_len" for f in msg.tails])
    need_h = " + ".join([("1u" if not f.optional else f"({f.name} != HANDLE_INVALID)")
                         if f.kind == "handle" else f"{f.name}_count" for f in msg.handle_fields])
    cond = f"m->bytes_cap < {need_bytes}" + (f" || m->handles_cap < {need_h}" if need_h else "")
    L += [f"    if ({cond})",
          "        return ERR_BUFFER_TOO_SMALL;",
          "    __builtin_memset(&nb_f, 0, sizeof(nb_f));",
          f"    nb_f.hdr.ordinal = {msg.ordinal}u;"]
    for f in msg.fields:
        if f.kind == "scalar":
            L.append(f"    nb_f.{f.name} = {'(uint8_t)(' + f.name + ' != 0)' if f.tok.text == 'bool' else f.name};")
        elif f.kind == "array":
            L.append(f"    __builtin_memcpy(nb_f.{f.name}, {f.name}, sizeof(nb_f.{f.name}));")
        elif f.kind in ("bytes", "string"):
            L.append(f"    nb_f.{f.name}_len = {f.name}_len;")
    L.append("    __builtin_memcpy(m->bytes, &nb_f, sizeof(nb_f));")
    for f in msg.tails:
        L += [f"    if ({f.name}_len)",
              f"        __builtin_memcpy((char *)m->bytes + nb_off, {f.name}, {f.name}_len);",
              f"    nb_off += {f.name}_len;"]
    for f in msg.handle_fields:
        if f.kind == "handle" and f.optional:
            L += [f"    if ({f.name} != HANDLE_INVALID)", f"        m->handles[nb_nh++] = {f.name};"]
        elif f.kind == "handle":
            L.append(f"    m->handles[nb_nh++] = {f.name};")
        else:
            L += [f"    for (uint32_t nb_i = 0; nb_i < {f.name}_count; nb_i++)",
                  f"        m->handles[nb_nh++] = {f.name}[nb_i];"]
    L += ["    m->nbytes = nb_off;", "    m->nhandles = nb_nh;", "    return OK;", "}"]
    return L


def gen_decode(msg):
    L = [sig("status_t", f"{msg.cname}_decode", ["const struct nb_msg_in *m"] + decode_params(msg)), "{",
         f"    struct {msg.cname} nb_f;", "    uint32_t nb_off = sizeof(nb_f), nb_nh = 0;", "",
         f"    if (m->nbytes < sizeof(nb_f) || m->nbytes > {msg.max_bytes}u)", "        return ERR_PROTOCOL;",
         (f"    if (m->nhandles < {msg.min_handles}u || m->nhandles > {msg.max_handles}u)"
          if msg.min_handles else f"    if (m->nhandles > {msg.max_handles}u)"),
         "        return ERR_PROTOCOL;",
         "    __builtin_memcpy(&nb_f, m->bytes, sizeof(nb_f));",
         f"    if (nb_f.hdr.ordinal != {msg.ordinal}u)", "        return ERR_PROTOCOL;"]
    for f in msg.tails:
        L += [f"    if (nb_f.{f.name}_len > {f.bound}u || nb_f.{f.name}_len > m->nbytes - nb_off)",
              "        return ERR_PROTOCOL;"]
        if f.kind == "string":
            L += [f"    for (uint32_t nb_i = 0; nb_i < nb_f.{f.name}_len; nb_i++)",
                  f"        if (((const char *)m->bytes)[nb_off + nb_i] == 0)",
                  "            return ERR_PROTOCOL; // strings hold no NUL"]
        L += [f"    *{f.name} = (const char *)m->bytes + nb_off;", f"    *{f.name}_len = nb_f.{f.name}_len;",
              f"    nb_off += nb_f.{f.name}_len;"]
    L += ["    if (nb_off != m->nbytes)", "        return ERR_PROTOCOL;"]
    for f in msg.fields:
        if f.kind == "scalar":
            L.append(f"    *{f.name} = nb_f.{f.name};")
        elif f.kind == "array":
            L.append(f"    __builtin_memcpy({f.name}, nb_f.{f.name}, sizeof(nb_f.{f.name}));")
    for f in msg.handle_fields:
        if f.kind == "handle" and f.optional:
            L.append(f"    *{f.name} = nb_nh < m->nhandles ? m->handles[nb_nh++] : HANDLE_INVALID;")
        elif f.kind == "handle":
            L.append(f"    *{f.name} = m->handles[nb_nh++];")
        else:
            L += [f"    *{f.name} = m->handles + nb_nh;", f"    *{f.name}_count = m->nhandles - nb_nh;",
                  f"    nb_nh = m->nhandles;"]
    L += ["    (void)nb_nh;", "    return OK;", "}"]
    return L


def gen_client(p, m):
    req, resp = m.request, m.response
    nreq, nresp = max(req.max_handles, 1), max(resp.max_handles if resp else 0, 1)
    L = [sig("status_t", f"{p.name}_{m.name}", client_params(m)), "{",
         f"    handle_t nb_hs[{nreq}];",
         f"    struct nb_msg_in nb_m = {{tr->buf, nb_hs, tr->buf_size, {nreq}, 0, 0}};",
         f"    status_t nb_st = {req.cname}_encode(&nb_m{''.join(', ' + a for a in call_args(req))});", "",
         "    if (nb_st != OK)", "        return nb_st;",
         "    struct nb_msg_out nb_out = {nb_m.bytes, nb_m.handles, nb_m.nbytes, nb_m.nhandles};"]
    if not resp:
        L += ["    return tr->write(tr->ctx, &nb_out);", "}"]
        return L
    L += [f"    handle_t nb_rh[{nresp}];",
          f"    struct nb_msg_in nb_in = {{tr->buf, nb_rh, tr->buf_size, {nresp}, 0, 0}};",
          "    nb_st = tr->call(tr->ctx, &nb_out, &nb_in);",
          "    if (nb_st != OK)", "        return nb_st;"]
    vecs = [f for f in resp.fields if f.kind == "handles"]
    args = call_args(resp, "out_")
    for f in vecs:
        L.append(f"    const handle_t *nb_v_{f.name} = NULL;")
        args[args.index("out_" + f.name)] = "&nb_v_" + f.name
    L += [f"    nb_st = {resp.cname}_decode(&nb_in{''.join(', ' + a for a in args)});",
          "    if (nb_st != OK && tr->close && nb_in.nhandles)",
          "        tr->close(tr->ctx, nb_in.handles, nb_in.nhandles);"]
    for f in vecs:
        L += ["    if (nb_st == OK)",
              f"        for (uint32_t nb_i = 0; nb_i < *out_{f.name}_count; nb_i++)",
              f"            out_{f.name}[nb_i] = nb_v_{f.name}[nb_i];"]
    L += ["    return nb_st;", "}"]
    return L


def gen_event_sender(p, m):
    msg = m.response
    n = max(msg.max_handles, 1)
    return [sig("status_t", f"{p.name}_send_{m.name}", ["const struct nb_transport *tr"] + encode_params(msg)), "{",
            f"    handle_t nb_hs[{n}];",
            f"    struct nb_msg_in nb_m = {{tr->buf, nb_hs, tr->buf_size, {n}, 0, 0}};",
            f"    status_t nb_st = {msg.cname}_encode(&nb_m{''.join(', ' + a for a in call_args(msg))});", "",
            "    if (nb_st != OK)", "        return nb_st;",
            "    struct nb_msg_out nb_out = {nb_m.bytes, nb_m.handles, nb_m.nbytes, nb_m.nhandles};",
            "    return tr->write(tr->ctx, &nb_out);", "}"]


def gen_thunk(p, m):
    req = m.request
    L = [f"static status_t {p.name}_{m.name}_thunk(const struct {p.name}_server_ops *ops, void *ctx,",
         "                                 const struct nb_msg_in *req, struct nb_msg_in *reply)", "{"]
    for f in req.fields:
        if f.kind == "scalar":
            L.append(f"    {f.ctype} {f.name};")
        elif f.kind == "array":
            L.append(f"    {f.ctype} {f.name}[{f.count}];")
        elif f.kind == "bytes":
            L += [f"    const void *{f.name};", f"    uint32_t {f.name}_len;"]
        elif f.kind == "string":
            L += [f"    const char *{f.name};", f"    uint32_t {f.name}_len;"]
        elif f.kind == "handle":
            L.append(f"    handle_t {f.name};")
        else:
            L += [f"    const handle_t *{f.name};", f"    uint32_t {f.name}_count;"]
    ptrs = []
    for f in req.fields:
        if f.kind in ("bytes", "string"):
            ptrs += [f"&{f.name}", f"&{f.name}_len"]
        elif f.kind == "handles":
            ptrs += [f"&{f.name}", f"&{f.name}_count"]
        elif f.kind == "array":
            ptrs.append(f.name)
        else:
            ptrs.append(f"&{f.name}")
    L += [f"    status_t nb_st = {req.cname}_decode(req{''.join(', ' + a for a in ptrs)});", "",
          "    if (nb_st != OK)", "        return nb_st;",
          f"    if (!ops->{m.name})", "        return ERR_NOT_SUPPORTED;"]
    args = ["ctx"] + call_args(req) + (["reply"] if m.response else [])
    L.append(f"    nb_st = ops->{m.name}({', '.join(args)});")
    if m.response:
        L += ["    if (nb_st == OK && reply->nbytes < sizeof(struct nb_msg_header))",
              "        return ERR_BAD_STATE; // the handler did not encode a response"]
    else:
        L.append("    (void)reply;")
    L += ["    return nb_st;", "}"]
    return L


def gen_source(p):
    L = [f"// Generated by proto/idlgen.py from {p.source}. Do not edit.",
         f'#include "proto/{p.name}.h"', ""]
    for msg in p.messages():
        L += gen_encode(msg) + [""] + gen_decode(msg) + [""]
    for m in p.methods:
        L += (gen_event_sender(p, m) if m.is_event else gen_client(p, m)) + [""]
    for m in p.methods:
        if not m.is_event:
            L += gen_thunk(p, m) + [""]
    L.append(f"const struct {p.name}_dispatch_entry {p.name}_dispatch_table[] = {{")
    for m in p.methods:
        if not m.is_event:
            L.append(f"    {{{m.ordinal}u, {p.name}_{m.name}_thunk}},")
    L += ["};",
          f"const uint32_t {p.name}_dispatch_count = sizeof({p.name}_dispatch_table) / sizeof({p.name}_dispatch_table[0]);",
          "",
          sig("status_t", f"{p.name}_dispatch",
              [f"const struct {p.name}_server_ops *ops", "void *ctx", "const struct nb_msg_in *req",
               "struct nb_msg_in *reply"]), "{",
          "    struct nb_msg_header nb_h;", "",
          "    if (req->nbytes < sizeof(nb_h))", "        return ERR_PROTOCOL;",
          "    __builtin_memcpy(&nb_h, req->bytes, sizeof(nb_h));",
          "    reply->nbytes = reply->nhandles = 0;",
          f"    for (uint32_t nb_i = 0; nb_i < {p.name}_dispatch_count; nb_i++) {{",
          f"        if ({p.name}_dispatch_table[nb_i].ordinal != nb_h.ordinal)", "            continue;",
          f"        status_t nb_st = {p.name}_dispatch_table[nb_i].handle(ops, ctx, req, reply);",
          "        if (nb_st == OK && reply->nbytes >= sizeof(nb_h))",
          "            __builtin_memcpy(reply->bytes, &nb_h.txid, sizeof(nb_h.txid));",
          "        return nb_st;", "    }", "    return ERR_PROTOCOL;", "}"]
    return "\n".join(L) + "\n"


def rights_expr(p, rights):
    names = [p.rights[r] for r in rights if r != "none"]
    return " | ".join(names) if names else "RIGHT_NONE"


def gen_desc(p):
    L = [f"// Generated by proto/idlgen.py from {p.source}. Do not edit.",
         '#include "obj/proto.h"', f'#include "proto/{p.name}.h"', ""]
    msgs = list(p.messages())
    for msg in msgs:
        if msg.max_handles:
            L.append(f"static const struct proto_handle_desc {msg.cname}_handles[] = {{")
            for f in msg.slots():
                L.append(f"    {{{p.objects[f.obj]}, {rights_expr(p, f.rights)}}},")
            L.append("};")
    L += ["", f"static const struct proto_msg_desc {p.name}_msgs[] = {{"]
    dirs = {"request": "PROTO_DIR_REQUEST", "response": "PROTO_DIR_RESPONSE", "event": "PROTO_DIR_EVENT"}
    for msg in msgs:
        handles = f"{msg.cname}_handles" if msg.max_handles else "NULL"
        L += ["    {", f"        .ordinal = {msg.ordinal}u,", f"        .dir = {dirs[msg.direction]},",
              f"        .min_bytes = {up(msg.cname)}_MIN_BYTES,", f"        .max_bytes = {up(msg.cname)}_MAX_BYTES,",
              f"        .min_handles = {msg.min_handles}u,", f"        .max_handles = {msg.max_handles}u,",
              f"        .handles = {handles},", "    },"]
    L += ["};", "", f"const struct proto_desc {p.name}_proto_desc = {{",
          f"    .name = \"{p.name}\",", f"    .nmsgs = sizeof({p.name}_msgs) / sizeof({p.name}_msgs[0]),",
          f"    .msgs = {p.name}_msgs,", "};"]
    return "\n".join(L) + "\n"


def write_if_changed(path, text):
    try:
        with open(path) as f:
            if f.read() == text:
                return
    except OSError:
        pass
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def generate(path, abi_dir, out_dir):
    p = parse_file(path, abi_dir)
    os.makedirs(out_dir, exist_ok=True)
    write_if_changed(os.path.join(out_dir, f"{p.name}.h"), gen_header(p))
    write_if_changed(os.path.join(out_dir, f"{p.name}.c"), gen_source(p))
    write_if_changed(os.path.join(out_dir, f"{p.name}_desc.c"), gen_desc(p))
    return p


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="Generate C from Nimbus .nidl protocol files.")
    ap.add_argument("--abi", default=os.path.join(here, "..", "include", "nimbus"),
                    help="directory of the ABI headers (object.h, rights.h)")
    ap.add_argument("--out", required=True, help="output directory (…/proto)")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args(argv)
    try:
        for path in args.files:
            generate(path, args.abi, args.out)
    except IdlError as e:
        print(e, file=sys.stderr)
        return 1
    except OSError as e:
        print(f"idlgen: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
