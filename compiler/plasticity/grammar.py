"""Parser for Lava's learning-rule strings: dw/dt/dd as sums of products.

Grammar (Lava 0.10, `lava/magma/core/learning/symbolic_equation.py` + `product_series.py`):

    rule    := ['+'|'-'] product (('+'|'-') product)*
    product := item ('*' item)*
    item    := literal | x0 | y0 | u<k> | x1 | x2 | y1 | y2 | y3 | w | d | t
             | '(' [+|-] var [(+|-) int] ')' | '(' [+|-] literal ')' | 'sgn(' var [(+|-) int] ')'
    literal := int | int '*2^' [+|-]int | '2^' [+|-]int

Every product has exactly one dependency - x0 (pre spiked in the epoch), y0 (post spiked)
or u<k> (every 2^k-th epoch) - which is the first of those written; all literals multiply
into one scale m * 2^e that Lava normalises and requires to satisfy m in [-8, 7] and
e in [-7, 8]. `(v + c)` is a factor v + c; `sgn(v + c)` applies to w, d, t only.

Where Lava would crash, hang or silently drop a term (an unknown name, a second u<k> in a
product, `u10`), this parser raises `GrammarError` naming the offending term instead.
Names in `aliases` (declared modulators) are accepted and mapped to a trace slot.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from . import fixed

SPIKE_DEPS = ("x0", "y0")
PRE_TRACES = ("x1", "x2")
POST_TRACES = ("y1", "y2", "y3")
TRACES = PRE_TRACES + POST_TRACES
SYN_VARS = ("w", "d", "t")
TARGETS = ("dw", "dt", "dd")
TARGET_VAR = {"dw": "w", "dt": "t", "dd": "d"}


class GrammarError(ValueError):
    """A rule string that is not a valid (or not a local) learning-engine sum of products."""

    def __init__(self, message: str, term: str = "", kind: str = "syntax"):
        super().__init__(message)
        self.term = term
        self.kind = kind  # "syntax" | "nonlocal" | "range"


@dataclass(frozen=True)
class Factor:
    """One factor of a product: `var + const`, or `sgn(var + const)` (w, d, t only)."""

    var: str
    const: int = 0
    sgn: bool = False

    def text(self) -> str:
        body = self.var if not self.const else f"{self.var}{self.const:+d}"
        if self.sgn:
            return f"sgn({body})"
        return f"({body})" if self.const else body


@dataclass(frozen=True)
class Product:
    """mantissa * 2^exponent * dependency * factors... (dependency u means u<decimate>)."""

    dependency: str
    mantissa: int
    exponent: int
    factors: tuple[Factor, ...] = ()
    decimate: int | None = None  # k of u<k>

    @property
    def scale(self) -> float:
        return self.mantissa * 2.0**self.exponent

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(f.var for f in self.factors)

    def text(self, aliases: Mapping[str, str] | None = None) -> str:
        """Lava-parsable text without the sign, e.g. '3*2^-2*y0*x1'."""
        back = {v: k for k, v in (aliases or {}).items()}
        dep = f"u{self.decimate}" if self.dependency == "u" else self.dependency
        parts = [f"{abs(self.mantissa)}*2^{self.exponent}", dep]
        for f in self.factors:
            name = back.get(f.var, f.var)
            parts.append(Factor(name, f.const, f.sgn).text())
        return "*".join(parts)


_TOKEN = re.compile(r"\s*(?:(?P<num>\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[-+*^()]))")


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            bad = text[pos:].strip()[:10]
            raise GrammarError(f"unexpected character '{bad[:1]}' at '{bad}'", term=bad)
        tokens.append(m.group(m.lastgroup))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, text: str, aliases: Mapping[str, str], extra: Mapping[str, str]):
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0
        self.aliases = dict(aliases)
        self.extra = dict(extra)  # known non-local names -> why (for messages)

    def peek(self, k: int = 0) -> str | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise GrammarError(f"'{self.text}' ends unexpectedly", term=self.text)
        self.i += 1
        return tok

    def expect(self, tok: str) -> None:
        got = self.take()
        if got != tok:
            raise GrammarError(f"expected '{tok}' but found '{got}'", term=got)

    # --- names -------------------------------------------------------------
    def classify(self, name: str) -> tuple[str, int | None]:
        """('dep'|'var', decimate) for a name, or raise a locality/syntax error."""
        if name in self.aliases:
            return "var", None
        if name in SPIKE_DEPS:
            return "dep", None
        m = re.fullmatch(r"u(\d+)", name)
        if m:
            k = int(m.group(1))
            if k > 9:
                raise GrammarError(f"'{name}': the decimation exponent k of u<k> must be a single digit 0..9",
                                   term=name, kind="range")
            return "dep", k
        if name in TRACES or name in SYN_VARS:
            return "var", None
        if name == "u":
            raise GrammarError("'u' needs its decimation exponent: write u0 (every epoch) or u<k> "
                               "(every 2^k-th epoch)", term=name)
        why = self.extra.get(name)
        if why is None:
            why = (f"'{name}' is not something a synapse can see: a learning rule may only use its "
                   f"pre-synaptic spike/traces (x0, x1, x2), post-synaptic spike/traces (y0, y1, y2, "
                   f"y3), the epoch indicator u<k>, its own weight w, delay d and tag t, integer "
                   f"constants" + (f" and the declared modulator(s) {', '.join(sorted(self.aliases))}"
                                   if self.aliases else " and a declared modulator"))
        raise GrammarError(why, term=name, kind="nonlocal")

    # --- grammar -----------------------------------------------------------
    def literal(self) -> tuple[int, int]:
        """A literal starting at a number token: n | n*2^e | 2^e."""
        n = int(self.take())
        if self.peek() == "^":
            if n != 2:
                raise GrammarError(f"'{n}^...': only powers of 2 are allowed", term=f"{n}^")
            self.take()
            return 1, self.signed_int()
        if self.peek() == "*" and self.peek(1) == "2" and self.peek(2) == "^":
            self.i += 3
            return n, self.signed_int()
        return n, 0

    def signed_int(self) -> int:
        sign = 1
        while self.peek() in ("+", "-"):
            sign *= -1 if self.take() == "-" else 1
        tok = self.take()
        if not tok.isdigit():
            raise GrammarError(f"expected an integer exponent but found '{tok}'", term=tok)
        return sign * int(tok)

    def rule(self) -> list[tuple[int, list]]:
        items_list = []
        sign = 1
        if self.peek() in ("+", "-"):
            sign = -1 if self.take() == "-" else 1
        while True:
            items_list.append((sign, self.product()))
            tok = self.peek()
            if tok is None:
                return items_list
            if tok in ("+", "-"):
                self.take()
                sign = -1 if tok == "-" else 1
                continue
            raise GrammarError(f"expected '+', '-' or '*' but found '{tok}'", term=tok)

    def product(self) -> list:
        items = [self.item()]
        while self.peek() == "*":
            self.take()
            items.append(self.item())
        return items

    def item(self):
        tok = self.peek()
        if tok is None:
            raise GrammarError(f"'{self.text}' ends where a factor was expected", term=self.text)
        if tok.isdigit():
            return ("lit",) + self.literal()
        if tok == "sgn" and self.peek(1) == "(":
            self.i += 2
            var, const, neg = self.inner(allow_literal=False)
            if var not in SYN_VARS:
                raise GrammarError(f"sgn({var}...): sgn() applies only to w, d or t", term=f"sgn({var}")
            if neg:
                raise GrammarError("the variable inside sgn() cannot be negated", term="sgn(-")
            self.expect(")")
            return ("fac", Factor(var, const, True), 1)
        if tok == "(":
            self.take()
            res = self.inner(allow_literal=True)
            self.expect(")")
            if res[0] == "lit":
                return res
            var, const, neg = res
            # -v + c is -(v - c): the sign moves into the product scale
            return ("fac", Factor(var, const), -1 if neg else 1)
        if re.fullmatch(r"[A-Za-z_]\w*", tok):
            self.take()
            kind, k = self.classify(tok)
            if kind == "dep":
                return ("dep", "u" if k is not None else tok, k)
            return ("fac", Factor(self.aliases.get(tok, tok)), 1)
        raise GrammarError(f"unexpected '{tok}'", term=tok)

    def inner(self, allow_literal: bool):
        """Inside brackets: [+-]var [(+-)int], or [+-]int | [+-]literal, or int (+-) var."""
        neg = False
        if self.peek() in ("+", "-"):
            neg = self.take() == "-"
        tok = self.peek()
        if tok is not None and tok.isdigit():
            m, e = self.literal()
            if self.peek() in ("+", "-"):  # c + var  (Lava allows the constant first)
                vneg = self.take() == "-"
                name = self.take()
                var = self._inner_var(name)
                const = -m if neg else m
                return (var, -const if vneg else const, vneg)  # c - v = -(v - c)
            if not allow_literal:
                raise GrammarError("sgn() needs a variable (w, d or t)", term=str(m))
            return ("lit", -m if neg else m, e)
        name = self.take()
        var = self._inner_var(name)
        const = 0
        if self.peek() in ("+", "-"):
            cneg = self.take() == "-"
            tok = self.take()
            if not tok.isdigit():
                raise GrammarError(f"'({name} ... {tok})': a bracket may hold one variable plus an "
                                   f"integer constant", term=tok)
            const = -int(tok) if cneg else int(tok)
        return var, (-const if neg else const), neg  # -v + c = -(v - c)

    def _inner_var(self, name: str) -> str:
        if not re.fullmatch(r"[A-Za-z_]\w*", name):
            raise GrammarError(f"expected a variable but found '{name}'", term=name)
        kind, k = self.classify(name)
        if kind == "dep" and k is not None:
            raise GrammarError(f"'{name}' cannot appear inside brackets", term=name)
        return self.aliases.get(name, name)


def parse(text: str, target: str = "dw", aliases: Mapping[str, str] | None = None,
          nonlocal_names: Mapping[str, str] | None = None) -> tuple[Product, ...]:
    """Products of a rule string, exactly as Lava's ProductSeries would build them.

    `aliases` maps extra names (declared modulators) to the trace slot they occupy;
    `nonlocal_names` maps names known to be non-local (other projections, populations) to
    the explanation given when they are used.
    """
    if target not in TARGETS:
        raise GrammarError(f"unknown target '{target}'", term=target)
    if not isinstance(text, str) or not text.strip():
        raise GrammarError("empty rule: write a sum of products such as '2*y0*x1 - 2*x0*y1'",
                           term=str(text))
    p = _Parser(text, aliases or {}, nonlocal_names or {})
    out = []
    for idx, (sign, items) in enumerate(p.rule(), start=1):
        out.append(_build(idx, sign, items))
    return tuple(out)


def _build(idx: int, sign: int, items: list) -> Product:
    mant, exp = sign, 0
    dep: str | None = None
    decimate: int | None = None
    factors: list[Factor] = []
    shown = []
    for it in items:
        if it[0] == "lit":
            mant *= it[1]
            exp += it[2]
            shown.append(f"{it[1]}*2^{it[2]}" if it[2] else str(it[1]))
        elif it[0] == "dep":
            name = f"u{it[2]}" if it[1] == "u" else it[1]
            shown.append(name)
            if it[1] == "u":
                if dep is not None:
                    raise GrammarError(f"product {idx}: '{name}' after the dependency '{dep}': a product "
                                       f"has one dependency (Lava would silently drop '{name}')",
                                       term=name)
                dep, decimate = "u", it[2]
            elif dep is None:
                dep = it[1]
            else:
                factors.append(Factor(it[1]))  # a second spike indicator is a 1-bit factor
        else:
            factors.append(it[1])
            mant *= it[2]
            shown.append(it[1].text())
    term = "*".join(shown)
    if dep is None:
        raise GrammarError(f"product {idx} '{term}' has no dependency: every product needs x0 (pre "
                           f"spiked), y0 (post spiked) or u<k> (every 2^k-th epoch)", term=term)
    mant, exp = fixed.normalize(mant, exp)
    if not fixed.MANT_MIN <= mant <= fixed.MANT_MAX:
        raise GrammarError(f"product {idx} '{term}': scale mantissa {mant} is not in [-8, 7] (the "
                           f"learning engine stores m*2^e with a 4-bit signed m)", term=term, kind="range")
    if not fixed.EXP_MIN <= exp <= fixed.EXP_MAX:
        raise GrammarError(f"product {idx} '{term}': scale exponent {exp} is not in [-7, 8]",
                           term=term, kind="range")
    return Product(dep, mant, exp, tuple(factors), decimate)


def to_string(products: tuple[Product, ...] | list[Product],
              aliases: Mapping[str, str] | None = None) -> str:
    """Canonical rule text that `parse` (and Lava) read back into the same products."""
    if not products:
        return "0*u0"
    parts = []
    for i, p in enumerate(products):
        sign = "-" if p.mantissa < 0 else ("+" if i else "")
        parts.append(f"{sign}{p.text(aliases)}" if not i else f" {sign or '+'} {p.text(aliases)}")
    return "".join(parts)


def decimation(rules: Mapping[str, tuple[Product, ...]]) -> int | None:
    """The single u<k> decimation exponent used by a rule set (Lava allows only one k)."""
    ks = {p.decimate for prods in rules.values() for p in prods if p.dependency == "u"}
    if len(ks) > 1:
        raise GrammarError(f"u<k> terms with different k ({', '.join(f'u{k}' for k in sorted(ks))}): "
                           f"dw, dt and dd must share one decimation", term=f"u{max(ks)}", kind="range")
    return ks.pop() if ks else None
