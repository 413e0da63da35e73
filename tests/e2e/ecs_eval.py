"""A small evaluator of Elasticsearch ingest pipelines, enough to run
etc/elastic/rpcsentry-ingest-pipeline.json over our records where no
Elasticsearch is at hand.

It implements exactly what that pipeline uses, with Elasticsearch's semantics
as documented for 8.x: the processors json, remove, rename, date, set (value or
copy_from), append, convert, lowercase; their options listed in OPTIONS; `if`
conditions in a small subset of Painless (ctx paths with `.`, `?.`, `[N]`, `['key']` and
`.size()`, literals, == != < > <= >=, && || and parentheses); templates only in
triple braces, `{{{a.b.0.c}}}`. Anything else (another processor, an option,
a condition or template outside that subset) raises Unsupported when the
pipeline is loaded, so the pipeline cannot come to use something this file
does not test. A processor that fails raises ProcessorError, as Elasticsearch
fails the document (no on_failure here: the pipeline has none).
"""

import copy
import datetime
import json
import re


class Unsupported(Exception):
    """The pipeline uses something this evaluator does not implement."""


class ProcessorError(Exception):
    """A processor failed on a document (Elasticsearch would reject it)."""


COMMON = {"tag", "description", "if", "ignore_failure"}
OPTIONS = {
    "json": {"field", "target_field"},
    "remove": {"field", "ignore_missing"},
    "rename": {"field", "target_field", "ignore_missing"},
    "date": {"field", "target_field", "formats", "timezone"},
    "set": {"field", "value", "copy_from", "ignore_empty_value", "override"},
    "append": {"field", "value", "allow_duplicates"},
    "convert": {"field", "type", "target_field", "ignore_missing"},
    "lowercase": {"field", "target_field", "ignore_missing"},
}
REQUIRED = {
    "json": {"field"}, "remove": {"field"}, "rename": {"field", "target_field"},
    "date": {"field", "formats"}, "set": {"field"}, "append": {"field", "value"},
    "convert": {"field", "type"}, "lowercase": {"field"},
}
# Java DateTimeFormatter patterns implemented: Suricata's timestamp form.
DATE_FORMATS = {"yyyy-MM-dd'T'HH:mm:ss.SSSSSSZ":
                re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{6})([+-])(\d{2})(\d{2})$")}
CONVERT_TYPES = {"string", "long", "integer"}
_MISSING = object()


# ---------------------------------------------------------------- field paths

def _split(path):
    if not isinstance(path, str) or not path or path.startswith(".") or path.endswith(".") \
            or ".." in path:
        raise Unsupported("bad field path %r" % (path,))
    return path.split(".")


def get_field(doc, path):
    """The value at a dotted path (a number indexes a list, as IngestDocument does),
    or _MISSING."""
    cur = doc
    for part in _split(path):
        if isinstance(cur, dict):
            if part not in cur:
                return _MISSING
            cur = cur[part]
        elif isinstance(cur, list):
            if not part.isdigit() or int(part) >= len(cur):
                return _MISSING
            cur = cur[int(part)]
        else:
            return _MISSING
    return cur


def set_field(doc, path, value):
    """Sets path, creating the objects on the way; fails where a non-object is in the way."""
    parts = _split(path)
    cur = doc
    for part in parts[:-1]:
        if isinstance(cur, dict):
            if cur.get(part) is None:
                cur[part] = {}
            cur = cur[part]
        else:
            raise ProcessorError("cannot set [%s]: [%s] is not an object" % (path, part))
    if not isinstance(cur, dict):
        raise ProcessorError("cannot set [%s]: parent is not an object" % path)
    cur[parts[-1]] = value


def remove_field(doc, path):
    parts = _split(path)
    parent = get_field(doc, ".".join(parts[:-1])) if len(parts) > 1 else doc
    if not isinstance(parent, dict) or parts[-1] not in parent:
        return False
    del parent[parts[-1]]
    return True


# ------------------------------------------------------------------ templates

_TEMPLATE = re.compile(r"\{\{\{([A-Za-z0-9_@.]+)\}\}\}")


def check_template(s):
    """Only triple-brace variables are implemented (no escaping, no sections)."""
    rest = _TEMPLATE.sub("", s)
    if "{{" in rest or "}}" in rest:
        raise Unsupported("template outside the subset (use {{{field}}} only): %r" % s)


def render(s, doc):
    """Mustache: a missing variable renders as the empty string; a list renders
    as Java's toString would, which the pipeline never relies on (refused)."""
    def one(m):
        v = get_field(doc, m.group(1))
        if v is _MISSING or v is None:
            return ""
        if isinstance(v, (dict, list)):
            raise ProcessorError("template renders an object or list: %s" % m.group(1))
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)
    return _TEMPLATE.sub(one, s)


# ------------------------------------------------------- painless conditions

_TOKEN = re.compile(r"\s*(?:(\?\.)|(\.size\(\))|(&&|\|\||==|!=|<=|>=|<|>)|([()\[\].])"
                    r"|('(?:[^'\\]|\\.)*')|(\d+)|([A-Za-z_][A-Za-z0-9_]*))")


def _tokens(src):
    out, pos = [], 0
    src = src.rstrip()
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if not m or m.end() == pos:
            raise Unsupported("condition outside the Painless subset at %r: %r" % (src[pos:], src))
        pos = m.end()
        kinds = ("nullsafe", "size", "op", "punct", "str", "int", "ident")
        for kind, text in zip(kinds, m.groups()):
            if text is not None:
                out.append((kind, text))
                break
    return out


class _Parser:
    """Recursive descent over the tokens into a tree of tuples."""

    def __init__(self, src):
        self.src, self.toks, self.i = src, _tokens(src), 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self, text=None):
        tok = self.peek()
        if tok[0] is None or (text is not None and tok[1] != text):
            raise Unsupported("condition %r: expected %r at token %d" % (self.src, text, self.i))
        self.i += 1
        return tok

    def parse(self):
        tree = self.orexpr()
        if self.i != len(self.toks):
            raise Unsupported("condition %r: trailing %r" % (self.src, self.toks[self.i:]))
        return tree

    def orexpr(self):
        left = self.andexpr()
        while self.peek() == ("op", "||"):
            self.take()
            left = ("or", left, self.andexpr())
        return left

    def andexpr(self):
        left = self.cmp()
        while self.peek() == ("op", "&&"):
            self.take()
            left = ("and", left, self.cmp())
        return left

    def cmp(self):
        if self.peek() == ("punct", "("):
            self.take("(")
            inner = self.orexpr()
            self.take(")")
            return inner
        left = self.operand()
        kind, text = self.peek()
        if kind == "op" and text in ("==", "!=", "<", ">", "<=", ">="):
            self.take()
            return ("cmp", text, left, self.operand())
        return ("truth", left)

    def operand(self):
        kind, text = self.take()
        if kind == "str":
            return ("lit", re.sub(r"\\(.)", r"\1", text[1:-1]))
        if kind == "int":
            return ("lit", int(text))
        if kind == "ident" and text in ("null", "true", "false"):
            return ("lit", {"null": None, "true": True, "false": False}[text])
        if kind == "ident" and text == "ctx":
            steps = []
            while True:
                k, t = self.peek()
                if (k, t) == ("punct", ".") or k == "nullsafe":
                    self.take()
                    name = self.take()
                    if name[0] != "ident":
                        raise Unsupported("condition %r: field name expected" % self.src)
                    steps.append(("get", name[1], k == "nullsafe"))
                elif (k, t) == ("punct", "["):
                    self.take()
                    idx = self.take()
                    if idx[0] == "int":
                        steps.append(("index", int(idx[1]), False))
                    elif idx[0] == "str":  # ctx.a['class']: a map key that is a Painless word
                        steps.append(("get", idx[1][1:-1], False))
                    else:
                        raise Unsupported("condition %r: only [N] and ['key']" % self.src)
                    self.take("]")
                elif k == "size":
                    self.take()
                    steps.append(("size", None, False))
                else:
                    return ("path", steps)
        raise Unsupported("condition %r: unexpected %r" % (self.src, text))


class _NPE(ProcessorError):
    pass


def _eval(node, ctx):
    op = node[0]
    if op == "or":
        return _truth(_eval(node[1], ctx)) or _truth(_eval(node[2], ctx))
    if op == "and":
        return _truth(_eval(node[1], ctx)) and _truth(_eval(node[2], ctx))
    if op == "truth":
        return _truth(_eval(node[1], ctx))
    if op == "lit":
        return node[1]
    if op == "path":
        cur = ctx
        for kind, arg, nullsafe in node[1]:
            if cur is None:
                if nullsafe:
                    return None
                raise _NPE("NullPointerException in condition (%s on null)" % (arg,))
            if kind == "get":
                if not isinstance(cur, dict):
                    raise ProcessorError("condition reads field %s of a non-map" % arg)
                cur = cur.get(arg)
            elif kind == "index":
                if not isinstance(cur, list) or arg >= len(cur):
                    raise ProcessorError("condition: index %d out of bounds" % arg)
                cur = cur[arg]
            else:
                if not isinstance(cur, (list, dict, str)):
                    raise ProcessorError("condition: size() of a %s" % type(cur).__name__)
                cur = len(cur)
        return cur
    if op == "cmp":
        a, b = _eval(node[2], ctx), _eval(node[3], ctx)
        if node[1] == "==":
            return _equal(a, b)
        if node[1] == "!=":
            return not _equal(a, b)
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in (a, b)):
            raise ProcessorError("condition compares non-numbers with %s" % node[1])
        return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[node[1]]
    raise Unsupported(op)


def _equal(a, b):
    # Painless == is equals(): no number/bool mixing (Python has True == 1).
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return a == b


def _truth(v):
    if not isinstance(v, bool):
        raise ProcessorError("condition is not a boolean: %r" % (v,))
    return v


def compile_condition(src):
    if not isinstance(src, str):
        raise Unsupported("`if` must be a Painless source string: %r" % (src,))
    tree = _Parser(src).parse()
    return lambda doc: _truth(_eval(tree, doc))


# ------------------------------------------------------------------ processors

def _parse_date(value, formats, tz):
    if tz not in (None, "UTC"):
        raise Unsupported("timezone %r" % tz)
    if not isinstance(value, str):
        raise ProcessorError("date: not a string: %r" % (value,))
    for f in formats:
        m = DATE_FORMATS[f].match(value)
        if m:
            y, mo, d, h, mi, s, us, sign, oh, om = m.groups()
            off = datetime.timedelta(hours=int(oh), minutes=int(om)) * (1 if sign == "+" else -1)
            try:
                t = datetime.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), int(us),
                                      tzinfo=datetime.timezone(off))
            except ValueError as e:
                raise ProcessorError("date: %s: %r" % (e, value))
            # Elasticsearch's default output_format, yyyy-MM-dd'T'HH:mm:ss.SSSXXX, in the
            # processor's timezone (UTC): milliseconds, truncated, and Z for +00:00.
            t = t.astimezone(datetime.timezone.utc)
            return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)
    raise ProcessorError("date: %r matches none of %s" % (value, formats))


def _convert(v, typ):
    if isinstance(v, list):
        return [_convert(x, typ) for x in v]
    if typ == "string":
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, str)):
            return str(v)
        raise ProcessorError("convert: cannot make a string of %r" % (v,))
    if isinstance(v, bool):
        raise ProcessorError("convert: boolean to %s" % typ)
    try:
        n = int(v)
    except (TypeError, ValueError):
        raise ProcessorError("convert: %r is not a %s" % (v, typ))
    if typ == "integer" and not -2**31 <= n < 2**31:
        raise ProcessorError("convert: %d out of integer range" % n)
    return n


def _run_one(kind, o, doc):
    if kind == "json":
        src = get_field(doc, o["field"])
        if not isinstance(src, str):
            raise ProcessorError("json: field [%s] is not a string" % o["field"])

        def no_dups(pairs):  # allow_duplicate_keys defaults to false
            keys = [k for k, _ in pairs]
            if len(keys) != len(set(keys)):
                raise ProcessorError("json: duplicate key")
            return dict(pairs)
        try:
            parsed = json.loads(src, object_pairs_hook=no_dups)
        except ValueError as e:
            raise ProcessorError("json: %s" % e)
        set_field(doc, o.get("target_field", o["field"]), parsed)
    elif kind == "remove":
        fields = o["field"] if isinstance(o["field"], list) else [o["field"]]
        for f in fields:
            if not remove_field(doc, f) and not o.get("ignore_missing", False):
                raise ProcessorError("remove: field [%s] not present" % f)
    elif kind == "rename":
        v = get_field(doc, o["field"])
        if v is _MISSING or v is None:
            if o.get("ignore_missing", False):
                return
            raise ProcessorError("rename: field [%s] doesn't exist" % o["field"])
        if get_field(doc, o["target_field"]) is not _MISSING:
            raise ProcessorError("rename: field [%s] already exists" % o["target_field"])
        remove_field(doc, o["field"])
        set_field(doc, o["target_field"], v)
    elif kind == "date":
        v = get_field(doc, o["field"])
        if v is _MISSING:
            raise ProcessorError("date: field [%s] not present" % o["field"])
        set_field(doc, o.get("target_field", "@timestamp"),
                  _parse_date(v, o["formats"], o.get("timezone")))
    elif kind == "set":
        ignore_empty = o.get("ignore_empty_value", False)
        if "copy_from" in o:
            v = get_field(doc, o["copy_from"])
            if v is _MISSING or v is None:
                if ignore_empty:
                    return
                raise ProcessorError("set: copy_from [%s] not present" % o["copy_from"])
            v = copy.deepcopy(v)
        else:
            v = o["value"]
            v = render(v, doc) if isinstance(v, str) else copy.deepcopy(v)
        if ignore_empty and (v is None or v == ""):
            return
        if not o.get("override", True) and get_field(doc, o["field"]) not in (_MISSING, None):
            return
        set_field(doc, o["field"], v)
    elif kind == "append":
        vals = o["value"] if isinstance(o["value"], list) else [o["value"]]
        vals = [render(v, doc) if isinstance(v, str) else v for v in vals]
        cur = get_field(doc, o["field"])
        if cur is _MISSING or cur is None:
            cur = []
        elif not isinstance(cur, list):
            cur = [cur]
        for v in vals:
            if o.get("allow_duplicates", True) or v not in cur:
                cur.append(v)
        set_field(doc, o["field"], cur)
    elif kind in ("convert", "lowercase"):
        v = get_field(doc, o["field"])
        if v is _MISSING or v is None:
            if o.get("ignore_missing", False):
                return
            raise ProcessorError("%s: field [%s] not present" % (kind, o["field"]))
        if kind == "convert":
            v = _convert(v, o["type"])
        else:
            if isinstance(v, list):
                if not all(isinstance(x, str) for x in v):
                    raise ProcessorError("lowercase: not strings")
                v = [x.lower() for x in v]
            elif isinstance(v, str):
                v = v.lower()
            else:
                raise ProcessorError("lowercase: field [%s] is not a string" % o["field"])
        set_field(doc, o.get("target_field", o["field"]), v)


class Pipeline:
    """A pipeline definition (the body of PUT _ingest/pipeline/NAME), checked on load."""

    def __init__(self, definition):
        if not isinstance(definition, dict):
            raise Unsupported("a pipeline is a JSON object")
        extra = set(definition) - {"description", "processors", "_meta", "version"}
        if extra:
            raise Unsupported("pipeline keys not implemented: %s" % sorted(extra))
        self.steps = []
        for n, proc in enumerate(definition.get("processors", [])):
            if not isinstance(proc, dict) or len(proc) != 1:
                raise Unsupported("processor %d: one processor type per object" % n)
            (kind, opts), = proc.items()
            if kind not in OPTIONS:
                raise Unsupported("processor %d: %r is not implemented" % (n, kind))
            unknown = set(opts) - OPTIONS[kind] - COMMON
            if unknown:
                raise Unsupported("processor %d (%s): options not implemented: %s"
                                  % (n, kind, sorted(unknown)))
            missing = REQUIRED[kind] - set(opts)
            if missing:
                raise Unsupported("processor %d (%s): missing %s" % (n, kind, sorted(missing)))
            self._check(n, kind, opts)
            cond = compile_condition(opts["if"]) if "if" in opts else None
            self.steps.append((n, kind, opts, cond))

    def _check(self, n, kind, o):
        for key in ("field", "target_field", "copy_from"):
            if key in o:
                for f in (o[key] if isinstance(o[key], list) else [o[key]]):
                    _split(f)
                    if "{{" in f:
                        raise Unsupported("processor %d: template in a field name" % n)
        if kind == "set" and ("value" in o) == ("copy_from" in o):
            raise Unsupported("processor %d: set needs exactly one of value, copy_from" % n)
        for v in ([o["value"]] if "value" in o else []):
            for s in (v if isinstance(v, list) else [v]):
                if isinstance(s, str):
                    check_template(s)
        if kind == "date":
            bad = [f for f in o["formats"] if f not in DATE_FORMATS]
            if bad:
                raise Unsupported("processor %d: date formats not implemented: %s" % (n, bad))
            if o.get("timezone", "UTC") != "UTC":
                raise Unsupported("processor %d: timezone %r" % (n, o["timezone"]))
        if kind == "convert" and o["type"] not in CONVERT_TYPES:
            raise Unsupported("processor %d: convert to %r" % (n, o["type"]))
        if o.get("ignore_failure"):
            raise Unsupported("processor %d: ignore_failure would hide what the tests check" % n)

    def run(self, doc):
        """Runs every processor over a copy of doc; returns the result or raises
        ProcessorError naming the processor."""
        doc = copy.deepcopy(doc)
        for n, kind, opts, cond in self.steps:
            try:
                if cond is not None and not cond(doc):
                    continue
                _run_one(kind, opts, doc)
            except ProcessorError as e:
                raise ProcessorError("processor %d (%s%s): %s" % (
                    n, kind, " " + opts["tag"] if "tag" in opts else "", e))
        return doc


def load(path):
    with open(path) as f:
        return Pipeline(json.load(f))
