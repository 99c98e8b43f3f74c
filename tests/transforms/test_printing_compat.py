"""Printed jaxprs in JAX's text: literals by dtype and weak type, the binders of a
nested ``jit`` named after the call's operands and results, sub-jaxprs printed first
(``let f = ... in``) when shared or long, unused outputs ``_`` only at the top level, and
JAX's layout (groups flat when they fit in 80 columns).

Oracles: the texts JAX 0.10.2 prints for the same programs (recorded below; compared
with JAX itself where it is installed) and NumPy's own scalar values for literals."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fx
import fx.numpy as fnp
from fx import core, lax
from fx.pretty_print import pp_literal


def _cases():
    """name -> builder(library, its numpy, its lax) -> (function, example args)."""
    out = {}
    def add(name):
        def deco(f):
            out[name] = f
            return f
        return deco

    @add("weak_float_literal")
    def _(m, mnp, lax):
        return (lambda x: x * 0.044715), (1.0,)

    @add("strong_float_literal")
    def _(m, mnp, lax):
        return (lambda x: x * 0.044715), (mnp.ones(3),)

    @add("float16_literal")
    def _(m, mnp, lax):
        return (lambda x: x * 0.1), (mnp.ones(2, mnp.float16),)

    @add("complex_literals")
    def _(m, mnp, lax):
        return (lambda x: x * mnp.complex64(1.5 + 0.1j) + (1 + 2j)), (mnp.ones(2, mnp.complex64),)

    @add("int_bool_literals")
    def _(m, mnp, lax):
        return (lambda x, b: ((x * 3) & mnp.int8(5), b & True)), (mnp.ones(2, mnp.int8), True)

    @add("special_floats")
    def _(m, mnp, lax):
        return (lambda x: (x + mnp.inf, x * -0.0, x * 1e20, x * mnp.float32(1e20))), (1.0,)

    @add("nested_jit")
    def _(m, mnp, lax):
        f = m.jit(lambda a: mnp.sin(a))
        return (lambda x: f(mnp.cos(x)) * 2), (mnp.ones(3),)

    @add("jit_literal_operand")
    def _(m, mnp, lax):
        g = m.jit(lambda a, b: (a * b, a + 1.0))
        return (lambda x: g(x, 2.0)), (mnp.ones(3),)

    @add("jit_dropped_output")
    def _(m, mnp, lax):
        g = m.jit(lambda a, b: (a * b, a + 1.0))
        return (lambda x: g(x, x)[1]), (mnp.ones(3),)

    @add("jit_forwarded")
    def _(m, mnp, lax):
        g = m.jit(lambda a, b: (b, a))
        return (lambda x, y: g(x, y)), (mnp.ones(3), 1.0)

    @add("jit_shared")
    def _(m, mnp, lax):
        f = m.jit(lambda a: mnp.sin(a))
        return (lambda x: (f(x), f(x))), (mnp.ones(3),)

    @add("jit_nested_shared")
    def _(m, mnp, lax):
        f = m.jit(lambda a: mnp.sin(a))
        h = m.jit(lambda a: f(a) + f(a))
        return h, (mnp.ones(3),)

    @add("jit_long_body")
    def _(m, mnp, lax):
        def big(a):
            for _ in range(6):
                a = mnp.sin(a) * 2.0
            return a
        return (lambda x: m.jit(big)(x)), (mnp.ones(3),)

    @add("scan_long_body")
    def _(m, mnp, lax):
        def big(a):
            for _ in range(6):
                a = mnp.sin(a) * 2.0
            return a
        return ((lambda x: lax.scan(lambda c, y: (big(c), None), x, None, length=3)[0]),
                (mnp.ones(3),))

    @add("custom_jvp")
    def _(m, mnp, lax):
        @m.custom_jvp
        def cj(x):
            return mnp.sin(x)
        cj.defjvp(lambda p, t: (cj(p[0]), t[0] * mnp.cos(p[0])))
        return (lambda x: cj(x) + 1.0), (mnp.ones(3),)

    @add("remat")
    def _(m, mnp, lax):
        return m.checkpoint(lambda x: mnp.sin(mnp.sin(x))), (mnp.ones(3),)

    @add("scan_unused_inner")
    def _(m, mnp, lax):
        def body(c, y):
            mnp.cos(y)
            return c + y, c
        return (lambda x: lax.scan(body, 0.0, x)), (mnp.ones(3),)

    @add("cond")
    def _(m, mnp, lax):
        return ((lambda x: lax.cond(x[0] > 0, lambda a: a + 1.0, lambda a: a - 1.0, x)),
                (mnp.ones(3),))

    @add("while")
    def _(m, mnp, lax):
        return ((lambda x: lax.while_loop(lambda c: c[0] < 3.0, lambda c: c * 2.0, x)),
                (mnp.ones(3),))

    @add("switch")
    def _(m, mnp, lax):
        return (lambda x: lax.switch(1, [lambda a: a, lambda a: a * 2.0], x)), (mnp.ones(3),)

    @add("many_binders")
    def _(m, mnp, lax):
        return (lambda *xs: sum(xs)), tuple(mnp.ones(3) for _ in range(30))

    @add("iota_no_operands")
    def _(m, mnp, lax):
        return (lambda x: lax.iota(mnp.int32, 3) + x), (mnp.int32(1),)

    return out


CASES = _cases()

# what JAX 0.10.2 prints for each case
EXPECTED = {
    'weak_float_literal': (
        '{ lambda ; a:f32[]. let b:f32[] = mul a 0.044715:f32[] in (b,) }'
    ),
    'strong_float_literal': (
        '{ lambda ; a:f32[3]. let b:f32[3] = mul a 0.044714998453855515:f32[] in (b,) }'
    ),
    'float16_literal': (
        '{ lambda ; a:f16[2]. let b:f16[2] = mul a 0.0999755859375:f16[] in (b,) }'
    ),
    'complex_literals': (
        '{ lambda ; a:c64[2]. let\n'
        '    b:c64[2] = mul a (1.5+0.10000000149011612j):c64[]\n'
        '    c:c64[2] = add b (1+2j):c64[]\n'
        '  in (c,) }'
    ),
    'int_bool_literals': (
        '{ lambda ; a:i8[2] b:bool[]. let\n'
        '    c:i8[2] = mul a 3:i8[]\n'
        '    d:i8[2] = and c 5:i8[]\n'
        '    e:bool[] = and b True:bool[]\n'
        '  in (d, e) }'
    ),
    'special_floats': (
        '{ lambda ; a:f32[]. let\n'
        '    b:f32[] = add a inf:f32[]\n'
        '    c:f32[] = mul a -0.0:f32[]\n'
        '    d:f32[] = mul a 1e+20:f32[]\n'
        '    e:f32[] = convert_element_type[new_dtype=float32 weak_type=False] a\n'
        '    f:f32[] = mul e 1.0000000200408773e+20:f32[]\n'
        '  in (b, c, d, f) }'
    ),
    'nested_jit': (
        '{ lambda ; a:f32[3]. let\n'
        '    b:f32[3] = cos a\n'
        '    c:f32[3] = jit[\n'
        '      name=<lambda>\n'
        '      jaxpr={ lambda ; b:f32[3]. let c:f32[3] = sin b in (c,) }\n'
        '    ] b\n'
        '    d:f32[3] = mul c 2.0:f32[]\n'
        '  in (d,) }'
    ),
    'jit_literal_operand': (
        '{ lambda ; a:f32[3]. let\n'
        '    b:f32[3] c:f32[3] = jit[\n'
        '      name=<lambda>\n'
        '      jaxpr={ lambda ; a:f32[3] d:f32[]. let\n'
        '          e:f32[] = convert_element_type[new_dtype=float32 weak_type=False] d\n'
        '          b:f32[3] = mul a e\n'
        '          c:f32[3] = add a 1.0:f32[]\n'
        '        in (b, c) }\n'
        '    ] a 2.0:f32[]\n'
        '  in (b, c) }'
    ),
    'jit_dropped_output': (
        '{ lambda ; a:f32[3]. let\n'
        '    _:f32[3] b:f32[3] = jit[\n'
        '      name=<lambda>\n'
        '      jaxpr={ lambda ; a:f32[3] c:f32[3]. let\n'
        '          _:f32[3] = mul a c\n'
        '          b:f32[3] = add a 1.0:f32[]\n'
        '        in (_, b) }\n'
        '    ] a a\n'
        '  in (b,) }'
    ),
    'jit_forwarded': (
        '{ lambda ; a:f32[3] b:f32[]. let\n'
        '    c:f32[] d:f32[3] = jit[\n'
        '      name=<lambda>\n'
        '      jaxpr={ lambda ; a:f32[3] b:f32[]. let  in (b, a) }\n'
        '    ] a b\n'
        '  in (c, d) }'
    ),
    'jit_shared': (
        'let lambda = { lambda ; a:f32[3]. let b:f32[3] = sin a in (b,) } in\n'
        '{ lambda ; c:f32[3]. let\n'
        '    d:f32[3] = jit[name=<lambda> jaxpr=lambda] c\n'
        '    e:f32[3] = jit[name=<lambda> jaxpr=lambda] c\n'
        '  in (d, e) }'
    ),
    'jit_nested_shared': (
        'let lambda = { lambda ; a:f32[3]. let b:f32[3] = sin a in (b,) } in\n'
        '{ lambda ; c:f32[3]. let\n'
        '    d:f32[3] = jit[\n'
        '      name=<lambda>\n'
        '      jaxpr={ lambda ; c:f32[3]. let\n'
        '          e:f32[3] = jit[name=<lambda> jaxpr=lambda] c\n'
        '          f:f32[3] = jit[name=<lambda> jaxpr=lambda] c\n'
        '          d:f32[3] = add e f\n'
        '        in (d,) }\n'
        '    ] c\n'
        '  in (d,) }'
    ),
    'jit_long_body': (
        'let big = { lambda ; a:f32[3]. let\n'
        '    b:f32[3] = sin a\n'
        '    c:f32[3] = mul b 2.0:f32[]\n'
        '    d:f32[3] = sin c\n'
        '    e:f32[3] = mul d 2.0:f32[]\n'
        '    f:f32[3] = sin e\n'
        '    g:f32[3] = mul f 2.0:f32[]\n'
        '    h:f32[3] = sin g\n'
        '    i:f32[3] = mul h 2.0:f32[]\n'
        '    j:f32[3] = sin i\n'
        '    k:f32[3] = mul j 2.0:f32[]\n'
        '    l:f32[3] = sin k\n'
        '    m:f32[3] = mul l 2.0:f32[]\n'
        '  in (m,) } in\n'
        '{ lambda ; n:f32[3]. let o:f32[3] = jit[name=big jaxpr=big] n in (o,) }'
    ),
    'scan_long_body': (
        'let jaxpr = { lambda ; a:f32[3]. let\n'
        '    b:f32[3] = sin a\n'
        '    c:f32[3] = mul b 2.0:f32[]\n'
        '    d:f32[3] = sin c\n'
        '    e:f32[3] = mul d 2.0:f32[]\n'
        '    f:f32[3] = sin e\n'
        '    g:f32[3] = mul f 2.0:f32[]\n'
        '    h:f32[3] = sin g\n'
        '    i:f32[3] = mul h 2.0:f32[]\n'
        '    j:f32[3] = sin i\n'
        '    k:f32[3] = mul j 2.0:f32[]\n'
        '    l:f32[3] = sin k\n'
        '    m:f32[3] = mul l 2.0:f32[]\n'
        '  in (m,) } in\n'
        '{ lambda ; n:f32[3]. let\n'
        '    o:f32[3] = scan[\n'
        '      jaxpr=jaxpr\n'
        '      length=3\n'
        '      num_carry=1\n'
        '      num_consts=0\n'
        '      reverse=False\n'
        '      unroll=1\n'
        '    ] n\n'
        '  in (o,) }'
    ),
    'custom_jvp': (
        '{ lambda ; a:f32[3]. let\n'
        '    b:f32[3] = custom_jvp_call[\n'
        '      name=cj\n'
        '      call_jaxpr={ lambda ; c:f32[3]. let d:f32[3] = sin c in (d,) }\n'
        '      jvp=<lambda>\n'
        '      symbolic_zeros=False\n'
        '    ] a\n'
        '    e:f32[3] = add b 1.0:f32[]\n'
        '  in (e,) }'
    ),
    'remat': (
        '{ lambda ; a:f32[3]. let\n'
        '    b:f32[3] = remat2[\n'
        '      differentiated=False\n'
        '      jaxpr={ lambda ; c:f32[3]. let\n'
        '          d:f32[3] = sin c\n'
        '          e:f32[3] = sin d\n'
        '        in (e,) }\n'
        '      policy=None\n'
        '      prevent_cse=True\n'
        '    ] a\n'
        '  in (b,) }'
    ),
    'scan_unused_inner': (
        '{ lambda ; a:f32[3]. let\n'
        '    b:f32[] c:f32[3] = scan[\n'
        '      jaxpr={ lambda ; d:f32[] e:f32[]. let\n'
        '          f:f32[] = cos e\n'
        '          g:f32[] = convert_element_type[new_dtype=float32 weak_type=False] d\n'
        '          h:f32[] = add g e\n'
        '        in (h, d) }\n'
        '      length=3\n'
        '      num_carry=1\n'
        '      num_consts=0\n'
        '      reverse=False\n'
        '      unroll=1\n'
        '    ] 0.0:f32[] a\n'
        '  in (b, c) }'
    ),
    'cond': (
        '{ lambda ; a:f32[3]. let\n'
        '    b:f32[1] = slice[limit_indices=(1,) start_indices=(0,) strides=None] a\n'
        '    c:f32[] = squeeze[dimensions=(0,)] b\n'
        '    d:bool[] = gt c 0.0:f32[]\n'
        '    e:i32[] = convert_element_type[new_dtype=int32 weak_type=False] d\n'
        '    f:f32[3] = cond[\n'
        '      branches=(\n'
        '        { lambda ; g:f32[3]. let h:f32[3] = sub g 1.0:f32[] in (h,) }\n'
        '        { lambda ; i:f32[3]. let j:f32[3] = add i 1.0:f32[] in (j,) }\n'
        '      )\n'
        '    ] e a\n'
        '  in (f,) }'
    ),
    'while': (
        '{ lambda ; a:f32[3]. let\n'
        '    b:f32[3] = while[\n'
        '      body_jaxpr={ lambda ; c:f32[3]. let d:f32[3] = mul c 2.0:f32[] in (d,) }\n'
        '      body_nconsts=0\n'
        '      cond_jaxpr={ lambda ; e:f32[3]. let\n'
        '          f:f32[1] = slice[limit_indices=(1,) start_indices=(0,) strides=None] e\n'
        '          g:f32[] = squeeze[dimensions=(0,)] f\n'
        '          h:bool[] = lt g 3.0:f32[]\n'
        '        in (h,) }\n'
        '      cond_nconsts=0\n'
        '    ] a\n'
        '  in (b,) }'
    ),
    'switch': (
        '{ lambda ; a:f32[3]. let\n'
        '    b:i32[] = clamp 0:i32[] 1:i32[] 1:i32[]\n'
        '    c:f32[3] = cond[\n'
        '      branches=(\n'
        '        { lambda ; d:f32[3]. let  in (d,) }\n'
        '        { lambda ; e:f32[3]. let f:f32[3] = mul e 2.0:f32[] in (f,) }\n'
        '      )\n'
        '    ] b a\n'
        '  in (c,) }'
    ),
    'many_binders': (
        '{ lambda ; a:f32[3] b:f32[3] c:f32[3] d:f32[3] e:f32[3] f:f32[3] g:f32[3] h:f32[3]\n'
        '    i:f32[3] j:f32[3] k:f32[3] l:f32[3] m:f32[3] n:f32[3] o:f32[3] p:f32[3] q:f32[3]\n'
        '    r:f32[3] s:f32[3] t:f32[3] u:f32[3] v:f32[3] w:f32[3] x:f32[3] y:f32[3] z:f32[3]\n'
        '    ba:f32[3] bb:f32[3] bc:f32[3] bd:f32[3]. let\n'
        '    be:f32[3] = add 0.0:f32[] a\n'
        '    bf:f32[3] = add be b\n'
        '    bg:f32[3] = add bf c\n'
        '    bh:f32[3] = add bg d\n'
        '    bi:f32[3] = add bh e\n'
        '    bj:f32[3] = add bi f\n'
        '    bk:f32[3] = add bj g\n'
        '    bl:f32[3] = add bk h\n'
        '    bm:f32[3] = add bl i\n'
        '    bn:f32[3] = add bm j\n'
        '    bo:f32[3] = add bn k\n'
        '    bp:f32[3] = add bo l\n'
        '    bq:f32[3] = add bp m\n'
        '    br:f32[3] = add bq n\n'
        '    bs:f32[3] = add br o\n'
        '    bt:f32[3] = add bs p\n'
        '    bu:f32[3] = add bt q\n'
        '    bv:f32[3] = add bu r\n'
        '    bw:f32[3] = add bv s\n'
        '    bx:f32[3] = add bw t\n'
        '    by:f32[3] = add bx u\n'
        '    bz:f32[3] = add by v\n'
        '    ca:f32[3] = add bz w\n'
        '    cb:f32[3] = add ca x\n'
        '    cc:f32[3] = add cb y\n'
        '    cd:f32[3] = add cc z\n'
        '    ce:f32[3] = add cd ba\n'
        '    cf:f32[3] = add ce bb\n'
        '    cg:f32[3] = add cf bc\n'
        '    ch:f32[3] = add cg bd\n'
        '  in (ch,) }'
    ),
    'iota_no_operands': (
        '{ lambda ; a:i32[]. let\n'
        '    b:i32[3] = iota[dimension=0 dtype=int32 shape=(3,) sharding=None] \n'
        '    c:i32[3] = add b a\n'
        '  in (c,) }'
    ),
}



def _printed(name, m, mnp, lax_module):
    fun, args = CASES[name](m, mnp, lax_module)
    return str(m.make_jaxpr(fun)(*args))


@pytest.mark.parametrize("name", sorted(CASES))
def test_printed_like_jax(name):
    assert _printed(name, fx, fnp, lax) == EXPECTED[name]


@pytest.mark.jax
@pytest.mark.parametrize("name", sorted(CASES))
def test_printed_against_jax(name, jax):
    import jax.numpy as jnp
    assert _printed(name, fx, fnp, lax) == _printed(name, jax, jnp, jax.lax)


def _literal(value, dtype, weak):
    return core.Literal(np.asarray(value, dtype)[()], core.ShapedArray((), dtype, weak))


@settings(max_examples=25, deadline=None)
@given(st.floats(allow_nan=False, width=32),
       st.sampled_from(["float16", "float32", "bfloat16", "float64"]))
def test_strong_float_literal_prints_its_exact_value(value, dtype):
    dtype = np.dtype(fnp.bfloat16) if dtype == "bfloat16" else np.dtype(dtype)
    with np.errstate(over="ignore"):  # float32 values beyond float16's range are inf
        text = pp_literal(_literal(value, dtype, False)).rsplit(":", 1)[0]
        exact = float(np.asarray(value, dtype)[()])
    assert text == repr(exact)


@settings(max_examples=25, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False, width=32))
def test_weak_float_literal_prints_the_shortest_decimal(value):
    text = pp_literal(_literal(value, np.float32, True)).rsplit(":", 1)[0]
    # the decimal rounds back to the literal, and no shorter one does (NumPy's repr)
    assert np.float32(float(text)) == np.float32(value)
    assert float(text) == float(repr(np.float32(value)).replace("np.float32(", "")
                                .rstrip(")"))


def test_literal_kinds():
    assert pp_literal(_literal(3, np.int8, False)) == "3:i8[]"
    assert pp_literal(_literal(True, np.bool_, False)) == "True:bool[]"
    assert pp_literal(_literal(1.5 + 0.1j, np.complex64, False)) == \
        "(1.5+0.10000000149011612j):c64[]"
    assert pp_literal(_literal(1 + 2j, np.complex64, True)) == "(1+2j):c64[]"
    assert pp_literal(_literal(-0.0, np.float32, False)) == "-0.0:f32[]"
    assert pp_literal(_literal(np.inf, np.float32, True)) == "inf:f32[]"


def test_eqn_repr_and_lowering_helper():
    closed = fx.make_jaxpr(lambda x: fnp.sin(x) * 2.0)(fnp.ones(3))
    # alone, an equation names its outputs first (as JAX's printer does)
    assert repr(closed.eqns[1]) == "a:f32[3] = mul b 2.0:f32[]"
    namer = core._Namer()
    lines = [core.pp_eqn(e, namer, 4) for e in closed.eqns]
    assert lines == ["a:f32[3] = sin b", "c:f32[3] = mul a 2.0:f32[]"]


def test_source_info_annotates_each_equation():
    closed = fx.make_jaxpr(lambda x: fnp.sin(x))(fnp.ones(3))
    text = closed.pretty_print(source_info=True)
    assert "b:f32[3] = sin a  # " in text and "test_printing_compat.py" in text
