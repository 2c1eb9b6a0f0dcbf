"""Parser of Lava's learning-rule strings: structure, round trips, agreement with Lava, errors."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.plasticity.grammar import Factor, GrammarError, Product, decimation, parse, to_string


def test_stdp_string_structure():
    ps = parse("2*y0*x1 - 3*2^-2*x0*y1")
    assert ps == (Product("y0", 2, 0, (Factor("x1"),)), Product("x0", -3, -2, (Factor("y1"),)))
    assert ps[1].scale == -0.75


def test_brackets_sgn_and_decimation():
    (p,) = parse("u1*(3 - w)*sgn(t+2)*x2")
    # (3 - w) = -(w - 3): the sign moves into the scale, as in Lava
    assert p == Product("u", -1, 0, (Factor("w", -3), Factor("t", 2, True), Factor("x2")), 1)
    assert decimation({"dw": (p,)}) == 1


def test_normalisation_of_large_even_mantissa():
    (p,) = parse("16*y0*x1")  # 16 = 4 * 2^2 (Lava halves even mantissas > 7)
    assert (p.mantissa, p.exponent) == (4, 2)


@pytest.mark.parametrize("text, term, kind", [
    ("x0*w_other", "w_other", "nonlocal"),
    ("err*y0", "err", "nonlocal"),
    ("9*y0*x1", "9*y0*x1", "range"),
    ("2^-9*u0*x1", "1*2^-9*u0*x1", "range"),
    ("x1*y1", "x1*y1", "syntax"),
    ("x0*u0*y1", "u0", "syntax"),
    ("u*x1", "u", "syntax"),
    ("y0*sgn(x1)", "sgn(x1", "syntax"),
    ("y0 * x1 +", "y0 * x1 +", "syntax"),
])
def test_errors_name_the_term(text, term, kind):
    with pytest.raises(GrammarError) as e:
        parse(text)
    assert e.value.term == term
    assert e.value.kind == kind


def test_mixed_decimation_rejected():
    with pytest.raises(GrammarError, match="u0, u2"):
        decimation({"dw": parse("u0*x1"), "dt": parse("u2*y1")})


def test_alias_maps_modulator_to_slot_and_back():
    ps = parse("u0*t*reward", aliases={"reward": "y2"})
    assert ps[0].factors == (Factor("t"), Factor("y2"))
    assert to_string(ps) == "1*2^0*u0*t*y2"
    assert to_string(ps, {"reward": "y2"}) == "1*2^0*u0*t*reward"


_var = st.sampled_from(["x1", "x2", "y1", "y2", "y3", "w", "d", "t", "x0", "y0"])
_factor = st.one_of(_var.map(Factor),
                    st.tuples(st.sampled_from(["x1", "y2", "w", "t"]), st.integers(-20, 20))
                    .map(lambda a: Factor(a[0], a[1])),
                    st.tuples(st.sampled_from(["w", "d", "t"]), st.integers(-5, 5))
                    .map(lambda a: Factor(a[0], a[1], True)))
_product = st.builds(lambda dep, m, e, fs, k: Product(dep, m, e, tuple(fs), k if dep == "u" else None),
                     st.sampled_from(["x0", "y0", "u"]), st.integers(-7, 7).filter(bool),
                     st.integers(-7, 8), st.lists(_factor, max_size=3), st.just(0))


@settings(max_examples=200, deadline=None)
@given(st.lists(_product, min_size=1, max_size=4))
def test_round_trip(products):
    text = to_string(products)
    assert parse(text) == tuple(products)


LAVA_CASES = ["2*y0*x1 - 2*x0*y1", "-2 * x0 * y1 + 4 * y0 * x1 + u0 * w",
              "2^-3*u0*x1*y1 - 3*2^-4*u0*y1*y1*w", "u1*(w-255)*x1 + 16*y0*x1", "x0*(-w+3)*y2",
              "y0*sgn(w-5)*x2", "(2)*(3)*y0*x1", "x0*y0", "y0*(3 - x1)", "u0 * t * y2",
              "2*2^-3*x0*(x1+2)*y3 - d*u0*2^-7", "14*y0*x1", "(-3)*y0*x1"]


@pytest.mark.lava
@pytest.mark.parametrize("text", LAVA_CASES)
def test_agrees_with_lava_product_series(text):
    """Same products as Lava's own parser, for the text and for our canonical rewrite."""
    pytest.importorskip("lava")
    from lava.magma.core.learning.learning_rule import LoihiLearningRule

    def lava(s):
        return [(p.dependency, p.s_mantissa, p.s_exp - 7,
                 tuple((f.state_var, f.const or 0, f.is_sgn) for f in p.factors), p.decimate_exponent)
                for p in LoihiLearningRule(dw=s).dw.products]

    def ours(ps):
        return [(p.dependency, p.mantissa, p.exponent, tuple((f.var, f.const, f.sgn) for f in p.factors),
                 p.decimate) for p in ps]

    assert ours(parse(text)) == lava(text)
    assert lava(to_string(parse(text))) == lava(text)
