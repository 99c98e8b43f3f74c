"""Bad input: each mistake raises a clear TypeError/ValueError naming the
argument, shape or dtype at fault, before any work is done.

Oracle: JAX 0.10's behaviour for the same calls (exception class and what the
message names); "before any work" is checked with a counter inside the user
function that must stay at zero.
"""
import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import lax


class Counter:
    """A user function that records how often it ran (it must not, on bad input)."""

    def __init__(self, fn=lambda *a, **k: a[0]):
        self.fn = fn
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.fn(*args, **kwargs)


def _raises(exc, match, fn, *args, counter=None, **kwargs):
    with pytest.raises(exc, match=match) as info:
        fn(*args, **kwargs)
    if counter is not None:
        assert counter.calls == 0, "the error must be raised before the function runs"
    return info.value


# ---------------------------------------------------------------------------
# non-callables and non-array leaves


@pytest.mark.parametrize("transform", ["grad", "value_and_grad", "vmap", "jit", "jacfwd",
                                       "jacrev", "hessian", "make_jaxpr"])
def test_transforming_a_non_callable(transform):
    _raises(TypeError, "callable", getattr(fx, transform), 3)


@pytest.mark.parametrize("bad", ["abc", object(), {"k": "v"}, [1.0, "x"]])
@pytest.mark.parametrize("transform", ["grad", "vmap", "jit"])
def test_non_array_leaves_are_rejected_before_tracing(transform, bad):
    f = Counter(lambda x: 1.0)
    wrapped = getattr(fx, transform)(f)
    err = _raises(TypeError, "not a valid", wrapped, bad, counter=f)
    assert "str" in str(err) or "object" in str(err)


def test_non_array_leaves_in_jvp_vjp_make_jaxpr_eval_shape():
    f = Counter()
    _raises(TypeError, "str", fx.jvp, f, ("a",), ("b",), counter=f)
    _raises(TypeError, "str", fx.vjp, f, "a", counter=f)
    _raises(TypeError, "str", fx.make_jaxpr(f), "a", counter=f)
    _raises(TypeError, "object", fx.eval_shape, f, object(), counter=f)
    _raises(TypeError, "str", fx.linearize, f, "a", counter=f)


# ---------------------------------------------------------------------------
# grad


def test_grad_of_non_scalar_output_names_the_shape():
    _raises(TypeError, r"scalar-output.*\(3,\)", fx.grad(lambda x: x * 2), fnp.ones(3))
    _raises(TypeError, r"scalar-output.*\(3,\)", fx.value_and_grad(lambda x: x), fnp.ones(3))


@pytest.mark.parametrize("value", [3, True, np.arange(3, dtype=np.int32),
                                   np.array([True, False])])
def test_grad_of_integer_or_bool_input(value):
    f = Counter(lambda x: fnp.sum(x * 1.0))
    err = _raises(TypeError, "allow_int", fx.grad(f), value, counter=f)
    assert np.asarray(value).dtype.name.replace("int64", "int32") in str(err)


def test_grad_of_integer_or_complex_output():
    _raises(TypeError, "int32", fx.grad(lambda x: fnp.sum(x).astype(np.int32)), fnp.ones(3))
    _raises(TypeError, "bool", fx.grad(lambda x: fnp.sum(x) > 0), fnp.ones(3))
    _raises(TypeError, "holomorphic", fx.grad(lambda x: x * 1j), 1.0)


def test_grad_holomorphic_requires_complex_input():
    f = Counter(lambda z: z * z)
    _raises(TypeError, "complex.*float32", fx.grad(f, holomorphic=True), 1.0, counter=f)
    _raises(TypeError, "complex", fx.jacfwd(f, holomorphic=True), fnp.ones(2), counter=f)
    _raises(TypeError, "complex", fx.jacrev(f, holomorphic=True), fnp.ones(2), counter=f)


def test_grad_argnums_out_of_range():
    f = Counter(lambda x: x)
    _raises(TypeError, "argnums", fx.grad(f, argnums=3), 1.0, counter=f)
    _raises(TypeError, "argnums", fx.grad(f, argnums=(0, 1)), 1.0, counter=f)


def test_grad_has_aux_requires_a_pair():
    _raises(TypeError, "pair|two-element", fx.grad(lambda x: x * 2.0, has_aux=True), 1.0)


@pytest.mark.parametrize("name", ["jacfwd", "jacrev"])
def test_jacobian_of_integer_input(name):
    f = Counter(lambda x: x * 2)
    _raises(TypeError, "int32", getattr(fx, name)(f), fnp.ones(3, np.int32), counter=f)


def test_linear_transpose_of_integer_input():
    _raises(TypeError, "int32", fx.linear_transpose, lambda x: x, fnp.ones(3, np.int32))


# ---------------------------------------------------------------------------
# jvp / vjp / linearize


def test_jvp_arguments_must_be_tuples_or_lists():
    f = Counter()
    _raises(TypeError, "tuples or lists", fx.jvp, f, 1.0, 1.0, counter=f)


def test_jvp_tree_mismatch():
    f = Counter(lambda x, y: x)
    _raises(TypeError, "tree structure", fx.jvp, f, (1.0, 2.0), (1.0,), counter=f)


def test_jvp_tangent_dtype_mismatch_names_both_dtypes():
    f = Counter()
    err = _raises(TypeError, "float32.*int32", fx.jvp, f, (fnp.ones(3),),
                  (fnp.ones(3, np.int32),), counter=f)
    assert "dtype" in str(err)
    _raises(TypeError, "float0", fx.jvp, f, (fnp.ones(3, np.int32),), (fnp.ones(3, np.int32),),
            counter=f)
    _raises(TypeError, "float16", fx.jvp, f, (fnp.ones(3),), (fnp.ones(3, np.float16),),
            counter=f)


def test_jvp_tangent_shape_mismatch_names_both_shapes():
    f = Counter()
    _raises(ValueError, r"\(3,\).*\(4,\)", fx.jvp, f, (fnp.ones(3),), (fnp.ones(4),), counter=f)


def test_vjp_cotangent_mismatches():
    _, pullback = fx.vjp(lambda x: x * 2.0, fnp.ones(3))
    _raises(ValueError, r"\(4,\)", pullback, fnp.ones(4))
    _raises(ValueError, "int32", pullback, fnp.ones(3, np.int32))
    _raises((TypeError, ValueError), "(?i)tree structure", pullback, (fnp.ones(3),))


def test_linearized_function_tangent_mismatches():
    _, f_jvp = fx.linearize(lambda x: x * 2.0, fnp.ones(3))
    _raises(ValueError, r"\(4,\)", f_jvp, fnp.ones(4))
    _raises(TypeError, "structure", f_jvp, fnp.ones(3), fnp.ones(3))


# ---------------------------------------------------------------------------
# vmap


def test_vmap_in_axes_length_must_match_arguments():
    f = Counter(lambda x, y: x)
    _raises(ValueError, r"len\(in_axes\)=1, len\(args\)=2", fx.vmap(f, in_axes=(0,)),
            fnp.ones(3), fnp.ones(3), counter=f)
    _raises(ValueError, r"len\(in_axes\)=2, len\(args\)=1", fx.vmap(f, in_axes=(0, 0)),
            fnp.ones(3), counter=f)


@pytest.mark.parametrize("axes", [1.0, "a", (0, 1.5), {"x": "y"}, True])
def test_vmap_in_axes_must_be_ints_or_none(axes):
    _raises(TypeError, "in_axes must be an int, None", fx.vmap, lambda x: x, in_axes=axes)


def test_vmap_out_axes_must_be_ints_or_none():
    _raises(TypeError, "out_axes", fx.vmap, lambda x: x, out_axes="a")


def test_vmap_inconsistent_sizes_names_them():
    f = Counter(lambda x, y: x)
    err = _raises(ValueError, "inconsistent sizes", fx.vmap(f), fnp.ones(3), fnp.ones(4),
                  counter=f)
    assert "3" in str(err) and "4" in str(err)
    _raises(ValueError, "4", fx.vmap(f, axis_size=4), fnp.ones(3), fnp.ones(3), counter=f)


@pytest.mark.parametrize("axis", [1, -2, 5])
def test_vmap_axis_out_of_range_names_shape(axis):
    f = Counter()
    _raises(ValueError, r"axis .*\(3,\)", fx.vmap(f, in_axes=axis), fnp.ones(3), counter=f)


def test_vmap_of_a_scalar():
    f = Counter()
    _raises(ValueError, "rank", fx.vmap(f), 1.0, counter=f)


def test_vmap_with_nothing_mapped_needs_axis_size():
    f = Counter()
    _raises(ValueError, "axis_size", fx.vmap(f, in_axes=None), fnp.ones(3), counter=f)


def test_vmap_in_axes_not_a_tree_prefix():
    f = Counter(lambda d: d["a"])
    _raises(ValueError, "prefix", fx.vmap(f, in_axes=({"b": 0},)), {"a": fnp.ones(3)},
            counter=f)


def test_vmap_out_axes_problems():
    _raises(ValueError, "out_axes", fx.vmap(lambda x: x, out_axes=None), fnp.ones(3))
    _raises(ValueError, "out", fx.vmap(lambda x: x, out_axes=2), fnp.ones(3))
    _raises(ValueError, "prefix", fx.vmap(lambda x: (x, x), out_axes=(0, 0, 0)), fnp.ones(3))


# ---------------------------------------------------------------------------
# jit


def test_jit_non_hashable_static_argument():
    f = Counter(lambda x, s: x)
    _raises(ValueError, "Non-hashable static arguments.*list",
            fx.jit(f, static_argnums=1), 1.0, [1], counter=f)
    g = Counter(lambda x, s: x)
    _raises(ValueError, "Non-hashable static arguments.*dict",
            fx.jit(g, static_argnames="s"), 1.0, s={}, counter=g)


def test_jit_static_argnums_beyond_signature():
    with pytest.raises(ValueError, match="static_argnums"):
        fx.jit(lambda x: x, static_argnums=2)(1.0)


def test_jit_static_argnums_must_be_ints():
    with pytest.raises(TypeError):
        fx.jit(lambda x: x, static_argnums="x")(1.0)


def test_jit_compiled_for_other_types():
    compiled = fx.jit(lambda x: x * 2).lower(fnp.ones(3)).compile()
    _raises(TypeError, r"f32\[3\]", compiled, fnp.ones(3, np.int32))


# ---------------------------------------------------------------------------
# array-level mistakes (fx.numpy and fx.lax), eagerly and under jit


@pytest.mark.parametrize("staged", [False, True], ids=["eager", "jit"])
def test_numpy_shape_mistakes_name_the_shapes(staged):
    wrap = fx.jit if staged else (lambda f: f)
    cases = [
        (lambda: wrap(fnp.add)(fnp.ones(3), fnp.ones(4)), r"\(3,\).*\(4,\)"),
        (lambda: wrap(lambda x: fnp.reshape(x, (4,)))(fnp.ones(6)), r"\(6,\).*\(4,\)"),
        (lambda: wrap(lambda x: fnp.broadcast_to(x, (4,)))(fnp.ones(3)), r"3.*4"),
        (lambda: wrap(lambda x: fnp.sum(x, axis=2))(fnp.ones(3)), r"axis 2"),
        (lambda: wrap(lambda x: fnp.transpose(x, (0, 0)))(fnp.ones((2, 3))), r"\(0, 0\)"),
        (lambda: wrap(lambda x: fnp.where(x > 0, x, fnp.ones(4)))(fnp.ones(3)), r"\(3,\)"),
        (lambda: wrap(lambda x: fnp.squeeze(x, 0))(fnp.ones((2, 3))), r"axis 0"),
        (lambda: wrap(lambda x: fnp.expand_dims(x, 3))(fnp.ones(3)), r"axis 3"),
    ]
    for fn, match in cases:
        with pytest.raises((TypeError, ValueError), match=match):
            fn()


LAX_MISTAKES = {
    "sin_of_int": (lambda: (lax.sin, fnp.ones(3, np.int32)), TypeError, "sin.*int32"),
    "exp_of_bool": (lambda: (lax.exp, fnp.ones(3, bool)), TypeError, "exp.*bool"),
    "add_mixed_dtypes": (lambda: (lax.add, fnp.ones(3), fnp.ones(3, np.int32)), TypeError,
                         "float32.*int32"),
    "mul_mixed_ints": (lambda: (lax.mul, fnp.ones(3, np.int8), fnp.ones(3, np.int32)),
                       TypeError, "int8.*int32"),
    "add_shapes": (lambda: (lax.add, fnp.ones(3), fnp.ones(4)), TypeError, r"\(3,\).*\(4,\)"),
    "reshape_size": (lambda: (lambda x: lax.reshape(x, (4,)), fnp.ones(6)), TypeError,
                     r"\(6,\).*\(4,\)"),
    "transpose_perm": (lambda: (lambda x: lax.transpose(x, (0,)), fnp.ones((2, 3))), TypeError,
                       r"\(0,\)"),
    "reduce_axes": (lambda: (lambda x: lax.reduce_sum(x, (3,)), fnp.ones((2, 3))),
                    (TypeError, ValueError), r"\(3,\)"),
    "broadcast_in_dim": (lambda: (lambda x: lax.broadcast_in_dim(x, (4,), (0,)), fnp.ones(3)),
                         TypeError, r"\(3,\).*\(4,\)"),
}


@pytest.mark.parametrize("mode", ["eager", "eager_without_checks", "jit"])
@pytest.mark.parametrize("case", sorted(LAX_MISTAKES))
def test_lax_dtype_and_shape_mistakes(case, mode):
    # Users run without FX_CHECKS: eager calls must validate their inputs themselves
    # (before the impl runs), not only the checked mode or the tracer's abstract eval.
    make, exc, match = LAX_MISTAKES[case]
    fn, *args = make()
    if mode == "jit":
        fn = fx.jit(fn)
    with fx.enable_checks(mode != "eager_without_checks"):
        with pytest.raises(exc, match=match):
            fn(*args)


def test_unsupported_dtypes_are_rejected():
    for dtype in (object, np.str_):
        with pytest.raises(TypeError, match="dtype"):
            fnp.zeros(3, dtype=dtype)
    with pytest.raises(TypeError, match="notadtype"):
        fnp.zeros(3, dtype="notadtype")


def test_numpy_functions_reject_non_array_arguments_by_name():
    with pytest.raises(TypeError, match="str"):
        fnp.sin("abc")
    with pytest.raises(TypeError, match="list"):
        fnp.sin([1.0, 2.0])   # JAX refuses lists in jnp functions (use jnp.asarray)
