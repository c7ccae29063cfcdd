"""A reader for the small part of C++ that MadGraph5_aMC@NLO's CUDACPP output is written in.

It takes what the importer needs and nothing more: comments and the preprocessor (``#if``
branches chosen for a plain C++ build, line numbers kept), tokens, expressions (a
precedence-climbing loop; the only recursion is on the nesting depth of one expression), flat
statement lists (declarations, assignments, calls), and Python source for an expression.
Anything else raises ``pg.UnsupportedError`` naming the file, the line and the construct.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import PhysgraphError, UnsupportedError


class MadgraphError(PhysgraphError, ValueError):
    """A MadGraph output directory that cannot be imported as it is: a file or a
    param-card entry is missing or malformed; the message names it."""


class MissingFileError(MadgraphError, FileNotFoundError):
    """A file the importer needs is not in the MadGraph output directory."""


def read_source(path: Path, needed_for: str) -> str:
    """The text of ``path``, or MissingFileError saying what needed it."""
    try:
        return path.read_text()
    except FileNotFoundError:
        raise MissingFileError(f"{path} is missing (needed for {needed_for})") from None


def unsupported(path: Path | str, line: int, what: str) -> UnsupportedError:
    return UnsupportedError(f"{path}:{line}: {what}")


# ---- comments and the preprocessor ----------------------------------------------------------
def strip_comments(text: str) -> str:
    """``text`` without // and /* */ comments; newlines (so line numbers) and string literals
    are kept."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            end = i + 1
            while end < n and text[end] != c:
                end += 2 if text[end] == "\\" else 1
            out.append(text[i:end + 1])
            i = end + 1
        elif text.startswith("//", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append("\n" * text.count("\n", i, end))
            i = end
        else:
            out.append(c)
            i += 1
    return "".join(out)


def preprocess(text: str, path: Path | str, defined: frozenset = frozenset()) -> str:
    """Comment-free ``text`` with the lines of inactive ``#if`` branches and every directive
    blanked (line numbers kept); ``defined`` are the macros a plain C++ build of the
    standalone output has (none: no GPU, no SIMD, parameters read from the card)."""
    lines = strip_comments(text).split("\n")
    stack: list[list[bool]] = []          # per #if: [this branch active, some branch taken]
    active = True
    k = 0
    while k < len(lines):
        stripped = lines[k].strip()
        first = k
        while lines[k].rstrip().endswith("\\") and k + 1 < len(lines):
            k += 1                        # a directive (or macro) continued on the next line
        if stripped.startswith("#"):
            directive, _, rest = stripped[1:].strip().partition(" ")
            rest = rest.strip()
            if directive in ("if", "ifdef", "ifndef"):
                cond = _condition(directive, rest, defined, path, first + 1)
                stack.append([active and cond, cond])
            elif directive in ("elif", "else"):
                if not stack:
                    raise unsupported(path, first + 1, f"#{directive} without #if")
                branch = stack[-1]
                outer = all(b[0] for b in stack[:-1])
                cond = directive == "else" or _condition("if", rest, defined, path, first + 1)
                branch[0] = outer and not branch[1] and cond
                branch[1] = branch[1] or cond
            elif directive == "endif":
                if not stack:
                    raise unsupported(path, first + 1, "#endif without #if")
                stack.pop()
            active = all(b[0] for b in stack)
            for j in range(first, k + 1):
                lines[j] = ""
        elif not active:
            for j in range(first, k + 1):
                lines[j] = ""
        k += 1
    if stack:
        raise unsupported(path, len(lines), "#if without #endif")
    return "\n".join(lines)


def _condition(directive: str, rest: str, defined: frozenset, path, line: int) -> bool:
    if directive == "ifdef":
        return rest.split()[0] in defined
    if directive == "ifndef":
        return rest.split()[0] not in defined
    parser = Parser(tokenize(rest, path, line), path)
    value = _evaluate_condition(parser.expression(), defined, path)
    parser.expect_end()
    return bool(value)


def _evaluate_condition(node: Node, defined: frozenset, path) -> int:
    """The value of a ``#if`` expression (nesting depth is that of the line: small)."""
    kind, a = node.kind, node.args
    if kind == "defined":
        return int(node.value in defined)
    if kind == "num":
        return int(node.value)
    if kind == "name":
        return 0                              # an undefined macro is 0
    if kind == "unary" and node.value in ("!", "not"):
        return int(not _evaluate_condition(a[0], defined, path))
    if kind == "binary" and node.value in ("&&", "and", "||", "or", "==", "!="):
        x, y = (_evaluate_condition(v, defined, path) for v in a)
        return int({"&&": x and y, "and": x and y, "||": x or y, "or": x or y,
                    "==": x == y, "!=": x != y}[node.value])
    raise unsupported(path, node.line, f"'{node.value or kind}' in a #if condition")


# ---- tokens -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Token:
    kind: str          # "name", "num", "str", "op"
    text: str
    line: int


_TOKEN = re.compile(r"""
    (?P<num>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?[fFlLuU]*)
  | (?P<name>[A-Za-z_]\w*)
  | (?P<str>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])')
  | (?P<op>::|->|\+\+|--|\+=|-=|\*=|/=|==|!=|<=|>=|&&|\|\||[-+*/%<>=!&|^~?:;,.()\[\]{}\#])
  | (?P<space>\s+)
  | (?P<bad>.)""", re.VERBOSE)


def tokenize(text: str, path: Path | str, first_line: int = 1) -> list[Token]:
    """Tokens of comment-free C++ ``text`` whose first line is ``first_line``."""
    tokens, line = [], first_line
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind == "bad":
            raise unsupported(path, line, f"character {m.group()!r}")
        if kind != "space":
            tokens.append(Token(kind, m.group(), line))
        line += m.group().count("\n")
    return tokens


# ---- expressions ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Node:
    """An expression: ``kind`` is num, name, str, defined, index, call, member, unary, binary,
    ternary, braces or cast; ``value`` the literal, name or operator; ``args`` the operands."""
    kind: str
    value: object = None
    args: tuple = ()
    line: int = 0


# binary operators: precedence (higher binds tighter); all left-associative
BINARY = {"||": 1, "or": 1, "&&": 2, "and": 2, "|": 3, "^": 4, "&": 5, "==": 6, "!=": 6,
          "<": 7, ">": 7, "<=": 7, ">=": 7, "+": 9, "-": 9, "*": 10, "/": 10, "%": 10}
TERNARY_PRECEDENCE = 0
UNARY = {"-", "+", "!", "not", "*", "&", "~"}
# types a C-style cast names: "(fptype)x" is a cast, "(x) * y" is not
CAST_TYPES = {"fptype", "fptype_sv", "fptype_v", "fptype2", "fptype2_sv", "double", "float",
              "int", "short", "long", "unsigned", "bool", "cxtype", "cxtype_sv", "cxtype_v",
              "size_t", "const"}
QUALIFIERS = {"const", "constexpr", "static", "volatile", "inline", "__device__", "__host__",
              "__constant__", "unsigned"}


class Parser:
    """Expressions and statements from a token list; errors name ``path`` and the line."""

    def __init__(self, tokens: list[Token], path: Path | str):
        self.tokens = tokens
        self.path = path
        self.pos = 0

    # -- token access -----------------------------------------------------------------------
    def peek(self, k: int = 0) -> Token | None:
        i = self.pos + k
        return self.tokens[i] if i < len(self.tokens) else None

    def at(self, *texts: str) -> bool:
        t = self.peek()
        return t is not None and t.text in texts

    def line(self) -> int:
        t = self.peek() or (self.tokens[-1] if self.tokens else None)
        return t.line if t else 0

    def next(self) -> Token:
        t = self.peek()
        if t is None:
            raise unsupported(self.path, self.line(), "unexpected end of the statement")
        self.pos += 1
        return t

    def expect(self, text: str) -> Token:
        t = self.next()
        if t.text != text:
            raise unsupported(self.path, t.line, f"expected {text!r}, found {t.text!r}")
        return t

    def expect_end(self) -> None:
        if self.peek() is not None:
            t = self.peek()
            raise unsupported(self.path, t.line, f"unexpected {t.text!r}")

    def error(self, what: str, line: int | None = None) -> UnsupportedError:
        return unsupported(self.path, self.line() if line is None else line, what)

    # -- expressions: precedence climbing ---------------------------------------------------
    def expression(self, min_precedence: int = TERNARY_PRECEDENCE) -> Node:
        left = self.unary()
        while (t := self.peek()) is not None:
            if t.text == "?" and min_precedence == TERNARY_PRECEDENCE:
                self.next()
                yes = self.expression()
                self.expect(":")
                left = Node("ternary", "?:", (left, yes, self.expression()), t.line)
                continue
            prec = BINARY.get(t.text)
            if prec is None or prec < min_precedence:
                break
            self.next()
            left = Node("binary", t.text, (left, self.expression(prec + 1)), t.line)
        return left

    def unary(self) -> Node:
        """Prefix operators and casts in a loop, then the operand and its postfixes."""
        prefixes = []
        while True:
            t = self.peek()
            if t is None:
                raise self.error("an expression is missing")
            if t.text in UNARY:
                prefixes.append(("unary", t.text, t.line))
                self.next()
            elif t.text == "(" and self._cast_ahead():
                self.next()
                words = []
                while not self.at(")"):
                    words.append(self.next().text)
                self.next()
                prefixes.append(("cast", " ".join(words), t.line))
            else:
                break
        node = self.postfix(self.primary())
        for kind, value, line in reversed(prefixes):
            node = Node(kind, value, (node,), line)
        return node

    def _cast_ahead(self) -> bool:
        k = 1
        saw_type = False
        while (t := self.peek(k)) is not None and t.text != ")":
            if t.text in CAST_TYPES:
                saw_type = True
            elif t.text not in ("*", "&"):
                return False
            k += 1
        return saw_type and t is not None

    def primary(self) -> Node:
        t = self.next()
        if t.kind == "num":
            return Node("num", _number(t.text), (), t.line)
        if t.kind == "str":
            return Node("str", t.text[1:-1], (), t.line)
        if t.text == "(":
            node = self.expression()
            self.expect(")")
            return node
        if t.text == "{":
            return Node("braces", None, tuple(self.items("}")), t.line)
        if t.kind == "name":
            if t.text == "defined":
                paren = self.at("(")
                if paren:
                    self.next()
                name = self.next().text
                if paren:
                    self.expect(")")
                return Node("defined", name, (), t.line)
            name = t.text
            while True:
                self.skip_template_arguments()
                if not self.at("::"):
                    break
                self.next()
                name += "::" + self.next().text
            return Node("name", name, (), t.line)
        raise self.error(f"unexpected {t.text!r}", t.line)

    def items(self, closing: str) -> list[Node]:
        """Comma-separated expressions up to ``closing`` (consumed; the opening bracket was)."""
        out = []
        while not self.at(closing):
            out.append(self.expression())
            if not self.at(closing):
                self.expect(",")
        self.next()
        return out

    def skip_template_arguments(self) -> bool:
        """Skip ``<A, B>`` after a name when it is a template argument list (followed by a
        call, a scope or a name), not a comparison."""
        if not self.at("<"):
            return False
        depth, k = 0, 0
        while (t := self.peek(k)) is not None:
            if t.text == "<":
                depth += 1
            elif t.text == ">":
                depth -= 1
                if depth == 0:
                    after = self.peek(k + 1)
                    if after is not None and (after.text in ("(", "::", "*", "&")
                                              or after.kind == "name"):
                        self.pos += k + 1
                        return True
                    return False
            elif t.kind not in ("name", "num") and t.text not in (",", "::", "*"):
                return False
            k += 1
        return False

    def postfix(self, node: Node) -> Node:
        while True:
            t = self.peek()
            if t is None:
                return node
            if t.text == "[":
                self.next()
                index = self.expression()
                self.expect("]")
                node = Node("index", None, (node, index), t.line)
            elif t.text == "(":
                self.next()
                node = Node("call", None, (node, *self.items(")")), t.line)
            elif t.text in (".", "->"):
                self.next()
                node = Node("member", self.next().text, (node,), t.line)
            else:
                return node

    # -- statements -------------------------------------------------------------------------
    def statements(self) -> list[Statement]:
        """Statements up to the end of the tokens or a closing brace (not consumed)."""
        out = []
        while self.peek() is not None and not self.at("}"):
            out.append(self.statement())
        return out

    def statement(self) -> Statement:
        t = self.peek()
        line = t.line
        if t.text == ";":
            self.next()
            return Statement("empty", line=line)
        if t.text == "{":
            self.next()
            body = self.statements()
            self.expect("}")
            return Statement("block", body=body, line=line)
        if t.text == "return":
            self.next()
            value = None if self.at(";") else self.expression()
            self.expect(";")
            return Statement("return", value=value, line=line)
        if t.text == "using":
            while not self.at(";"):
                self.next()
            self.next()
            return Statement("using", line=line)
        if t.text in ("if", "for", "while", "do", "switch", "goto", "break", "continue"):
            raise self.error(f"'{t.text}' statement (control flow is not translated)", line)
        declaration = self._declaration()
        if declaration is not None:
            return declaration
        target = self.expression()
        op = self.peek()
        if op is not None and op.text in ("=", "+=", "-=", "*=", "/="):
            self.next()
            value = self.expression()
            self.expect(";")
            return Statement("assign", target=target, op=op.text, value=value, line=line)
        self.expect(";")
        return Statement("expr", value=target, line=line)

    def _declaration(self) -> Statement | None:
        """``[qualifiers] type [*&] name [[size]] [= init | (init)];`` or None (not one)."""
        start = self.pos
        while self.at(*QUALIFIERS):
            self.next()
        t = self.peek()
        if t is None or t.kind != "name":
            self.pos = start
            return None
        type_name = self.next().text
        self.skip_template_arguments()
        while self.at("::"):
            self.next()
            type_name += "::" + self.next().text
            self.skip_template_arguments()
        pointer = False
        while self.at("*", "&"):
            pointer = pointer or self.peek().text == "*"
            self.next()
        name = self.peek()
        if name is None or name.kind != "name" or not (
                (after := self.peek(1)) is not None and after.text in ("=", ";", "(", "[", "{")):
            self.pos = start
            return None
        self.next()
        size = None
        if self.at("["):
            self.next()
            size = self.expression() if not self.at("]") else None
            self.expect("]")
            while self.at("["):                   # more dimensions: kept as a tuple of sizes
                self.next()
                size = Node("dims", None, (size, self.expression()), name.line)
                self.expect("]")
        init = None
        if self.at("="):
            self.next()
            init = self.expression()
        elif self.at("("):                        # constructor syntax: T x( a, b );
            self.next()
            init = Node("construct", type_name, tuple(self.items(")")), name.line)
        elif self.at("{"):
            init = self.primary()
        self.expect(";")
        return Statement("declare", name=name.text, type=type_name, size=size, value=init,
                         pointer=pointer, line=name.line)


@dataclass
class Statement:
    """kind: declare (``type name[size] = value``), assign (``target op value``), expr,
    return, block (``body``), using, empty."""
    kind: str
    name: str = ""
    type: str = ""
    size: Node | None = None
    target: Node | None = None
    op: str = ""
    value: Node | None = None
    pointer: bool = False
    body: list = field(default_factory=list)
    line: int = 0


def _number(text: str):
    core = text.rstrip("fFlLuU")
    if re.fullmatch(r"\d+", core):
        return int(core)
    return float(core)


def parse_expression(text: str, path: Path | str, line: int = 1) -> Node:
    parser = Parser(tokenize(text, path, line), path)
    node = parser.expression()
    parser.expect_end()
    return node


# ---- finding definitions --------------------------------------------------------------------
@dataclass(frozen=True)
class Definition:
    """A function definition: its name, parameter tokens and body tokens (braces excluded)."""
    name: str
    params: list
    body: list
    line: int


_NOT_FUNCTIONS = {"if", "for", "while", "switch", "return", "sizeof", "catch"}


def definitions(tokens: list[Token]) -> dict[str, Definition]:
    """Every ``type name(params) [qualifiers] { body }`` in ``tokens``, by name (the last one
    of a name wins); bodies are skipped, not searched."""
    found: dict[str, Definition] = {}
    i, n = 0, len(tokens)
    while i < n:
        t = tokens[i]
        prev = tokens[i - 1] if i else None
        if (t.kind == "name" and t.text not in _NOT_FUNCTIONS and i + 1 < n
                and tokens[i + 1].text == "(" and prev is not None
                and (prev.kind == "name" or prev.text in ("*", "&", ">", "::"))
                and prev.text not in ("return", "new", "else")):
            close = matching(tokens, i + 1)
            j = close + 1
            while j < n and tokens[j].kind == "name" and tokens[j].text in ("const", "noexcept"):
                j += 1
            if j < n and tokens[j].text == "{":
                end = matching(tokens, j)
                found[t.text] = Definition(t.text, tokens[i + 2:close], tokens[j + 1:end], t.line)
                i = end + 1
                continue
        i += 1
    return found


_PAIRS = {"(": ")", "[": "]", "{": "}"}


def matching(tokens: list[Token], i: int) -> int:
    """Index of the bracket closing the one at ``tokens[i]``."""
    opening = tokens[i].text
    closing, depth = _PAIRS[opening], 0
    for j in range(i, len(tokens)):
        if tokens[j].text == opening:
            depth += 1
        elif tokens[j].text == closing:
            depth -= 1
            if depth == 0:
                return j
    raise UnsupportedError(f"line {tokens[i].line}: {opening!r} is never closed")


def split_params(tokens: list[Token]) -> list[list[Token]]:
    """A parameter list's tokens, one list per comma-separated parameter."""
    out, current, depth = [], [], 0
    for t in tokens:
        if t.text in "([{<" and t.kind == "op":
            depth += 1
        elif t.text in ")]}>" and t.kind == "op":
            depth -= 1
        if t.text == "," and depth == 0:
            out.append(current)
            current = []
        else:
            current.append(t)
    if current:
        out.append(current)
    return out


def param_name(tokens: list[Token]) -> str:
    """The declared name of one parameter: the last name before any ``[]`` or default."""
    names = [t.text for t in tokens if t.kind == "name"]
    if not names:
        raise UnsupportedError(f"line {tokens[0].line}: a parameter without a name")
    return names[-1]


# ---- Python source for an expression --------------------------------------------------------
# Python precedence of what the printer writes (higher binds tighter)
# (C++'s && and || print as & and |, which bind tighter than comparisons in Python)
_PY_PRECEDENCE = {"or": 1, "and": 2, "==": 6, "!=": 6, "<": 6, ">": 6, "<=": 6, ">=": 6,
                  "|": 7, "&": 8, "+": 9, "-": 9, "*": 10, "/": 10, "//": 10}
_PY_OPERATOR = {"&&": "&", "||": "|", "and": "&", "or": "|"}
_UNARY_PRECEDENCE = 11
_ATOM = 12

Hook = Callable[[Node], "str | None"]


class PythonPrinter:
    """Python source of C++ expressions.  ``hook(node)`` may print a node itself (a name, a
    wavefunction component, a call) and returns None to leave it to the default rules; names
    the hook leaves are an error, so nothing the translator does not know slips through."""

    def __init__(self, path: Path | str, hook: Hook, functions: dict[str, str]):
        self.path = path
        self.hook = hook
        self.functions = functions            # C++ function -> Python callable's name

    def __call__(self, node: Node) -> str:
        return self.print(node)[0]

    def print(self, node: Node) -> tuple[str, int]:
        """(source, precedence) of ``node``."""
        custom = self.hook(node)
        if custom is not None:
            return custom, _ATOM
        kind = node.kind
        if kind == "num":
            return repr(node.value), _ATOM if node.value >= 0 else _UNARY_PRECEDENCE
        if kind == "binary":
            return self._binary(node)
        if kind == "unary" and node.value == "+":
            return self.print(node.args[0])               # unary plus changes nothing
        if kind == "unary" and node.value == "-":
            text, prec = self.print(node.args[0])
            if prec < _UNARY_PRECEDENCE or text.startswith(("-", "+")):
                text = f"({text})"
            return node.value + text, _UNARY_PRECEDENCE
        if kind == "cast" and node.value.replace("const", "").strip() in CAST_TYPES:
            if node.value.split()[-1] in ("int", "short", "long", "size_t"):
                raise unsupported(self.path, node.line, f"the integer cast ({node.value})")
            return self.print(node.args[0])
        if kind == "ternary":
            cond, yes, no = (self(a) for a in node.args)
            return f"ternary({cond}, lambda: {yes}, lambda: {no})", _ATOM
        if kind == "call" and node.args[0].kind == "name":
            return self._call(node)
        raise unsupported(self.path, node.line, f"the construct {describe(node)!r}")

    def _binary(self, node: Node) -> tuple[str, int]:
        op = node.value
        a, b = node.args
        if op == "/" and all(x.kind == "num" and isinstance(x.value, int) for x in (a, b)):
            op = "//"                                     # C++ integer division
        op = _PY_OPERATOR.get(op, op)
        if op not in _PY_PRECEDENCE:
            raise unsupported(self.path, node.line, f"the operator {node.value!r}")
        prec = _PY_PRECEDENCE[op]
        left, lp = self.print(a)
        right, rp = self.print(b)
        comparison = prec == 6
        if lp < prec or comparison and lp == prec:
            left = f"({left})"
        if rp <= prec:
            right = f"({right})"
        return f"{left} {op} {right}", prec

    def _call(self, node: Node) -> tuple[str, int]:
        name = node.args[0].value.split("::")[-1]
        args = [self(a) for a in node.args[1:]]
        if name in ("cxmake", "cxtype", "cxsmpl", "complex") and len(args) == 2:
            parts = node.args[1:]
            if all(p.kind == "num" for p in parts):
                return repr(complex(parts[0].value, parts[1].value)), _ATOM
            return f"cxmake({args[0]}, {args[1]})", _ATOM
        if name in ("cxmake", "cxtype", "cxsmpl", "fptype", "double", "fptype_sv") \
                and len(args) == 1:
            return self.print(node.args[1])
        if name in ("cxzero_sv",) and not args:
            return "0", _ATOM
        if name == "pow" and len(args) == 2:
            base, bp = self.print(node.args[1])
            expo, ep = self.print(node.args[2])
            base = base if bp == _ATOM else f"({base})"
            expo = expo if ep == _ATOM else f"({expo})"
            return f"{base} ** {expo}", _UNARY_PRECEDENCE
        if name in self.functions:
            return f"{self.functions[name]}({', '.join(args)})", _ATOM
        raise unsupported(self.path, node.line, f"the function {name!r}")


_SPELLING = {"index": "{0}[{1}]", "member": "{0}.{v}", "unary": "{v}{0}", "cast": "({v}){0}",
             "binary": "{0} {v} {1}", "ternary": "{0} ? {1} : {2}"}


def describe(node: Node) -> str:
    """A short C++-like spelling of ``node`` for error messages (recursion on the nesting
    depth of one expression)."""
    kind, a = node.kind, node.args
    if kind in ("num", "name", "defined"):
        return str(node.value)
    if kind == "str":
        return f'"{node.value}"'
    if kind == "call":
        return f"{describe(a[0])}({', '.join(describe(x) for x in a[1:])})"
    if kind == "braces":
        return "{ " + ", ".join(describe(x) for x in a) + " }"
    if kind in _SPELLING:
        return _SPELLING[kind].format(*(describe(x) for x in a), v=node.value)
    return kind
