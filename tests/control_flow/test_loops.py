"""``lax.while_loop``, ``fori_loop``, ``scan``, ``map`` and ``associative_scan`` under
every transformation.

Oracles: the same computation as a Python loop on concrete values (eager, and
differentiated through plain operations), a Python loop over the batch for
``vmap``, finite differences (``fx.test_util.check_grads``), NumPy's cumulative
functions, and JAX where installed.
"""
from __future__ import annotations

import time

import numpy as np
import pytest

import fx
from fx._testing import assert_trees_close as assert_close
import fx.numpy as fnp
from fx import tree_util
from fx.test_util import check_grads

WHILE_ERROR = ("Reverse-mode differentiation does not work for lax.while_loop or "
               "lax.fori_loop with dynamic start/stop values")

# ---------------------------------------------------------------------------
# the harness: one computation, every transformation


def _floats(tree):
    return [x for x in tree_util.tree_leaves(tree) if fnp.issubdtype(x.dtype, fnp.floating)]


def _with(args, i, value):
    args = list(args)
    args[i] = value
    return args


def _stack(trees):
    return tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *trees)


def check_everything(staged, python, samples, diff, jax_version=None, reverse=True):
    """``staged`` (lax control flow) against ``python`` (a Python loop on concrete values)
    under eager, jit, vmap over each argument, jvp, vjp, grad of grad, jit(vmap(grad)),
    finite differences and JAX. With ``reverse=False`` (while loops) the reverse-mode
    checks become forward-mode ones (jvp of jvp, jit(vmap(jvp))) and reverse mode must
    raise JAX's error."""
    args = [fnp.asarray(a) for a in samples[0]]
    want = python(*args)
    assert_close(staged(*args), want, what="eager")
    assert_close(fx.jit(staged)(*args), want, what="jit")
    for i in range(len(args)):
        batch = fnp.asarray(np.stack([s[i] for s in samples]))
        in_axes = tuple(0 if k == i else None for k in range(len(args)))
        got = fx.vmap(staged, in_axes=in_axes)(*_with(args, i, batch))
        per = [python(*_with(args, i, fnp.asarray(s[i]))) for s in samples]
        assert_close(got, _stack(per), what=f"vmap over argument {i}")
    stacked = [fnp.asarray(np.stack([s[i] for s in samples])) for i in range(len(args))]
    per = [python(*[fnp.asarray(a) for a in s]) for s in samples]
    assert_close(fx.vmap(staged)(*stacked), _stack(per), what="vmap over all arguments")
    assert_close(fx.jit(fx.vmap(staged))(*stacked), _stack(per), what="jit(vmap)")

    def restrict(fn, full=None):
        def g(*d):
            a = list(args if full is None else full)
            for k, v in zip(diff, d):
                a[k] = v
            return _floats(fn(*a))
        return g

    primals = [args[k] for k in diff]
    rng = np.random.RandomState(1)
    tangents = [fnp.asarray(rng.standard_normal(p.shape).astype(np.float32)) for p in primals]
    tol = dict(rtol=1e-4, atol=1e-5)
    assert_close(fx.jvp(restrict(staged), primals, tangents),
                 fx.jvp(restrict(python), primals, tangents), what="jvp", **tol)

    def jvp_of_jvp(fn):  # forward over forward
        inner = lambda *p: fx.jvp(restrict(fn), p, tangents)[1]  # noqa: E731
        return fx.jvp(inner, primals, tangents)

    assert_close(jvp_of_jvp(staged), jvp_of_jvp(python), what="jvp of jvp", **tol)
    if not reverse:
        def grad_under_jit(*full):
            loss = lambda *d: sum(fnp.sum(o) for o in restrict(staged, full)(*d))  # noqa
            return fx.grad(loss)(*[full[k] for k in diff])

        with pytest.raises(ValueError, match=WHILE_ERROR):
            fx.jit(grad_under_jit)(*args)

        def batched_jvp(*full):
            prim = [full[k] for k in diff]
            return fx.jvp(restrict(staged, full), prim, tangents)[1]

        got = fx.jit(fx.vmap(batched_jvp))(*stacked)
        want_b = [fx.jvp(restrict(python, [fnp.asarray(a) for a in s]),
                         [fnp.asarray(s[k]) for k in diff], tangents)[1] for s in samples]
        assert_close(got, _stack(want_b), what="jit(vmap(jvp))", **tol)
        check_grads(restrict(staged), primals, order=2, modes=("fwd",))
        if jax_version is not None:
            jax = pytest.importorskip("jax")
            jargs = [np.asarray(a) for a in samples[0]]
            assert_close(staged(*args), jax.jit(jax_version)(*jargs), what="value vs JAX")
        return
    out, pullback = fx.vjp(restrict(staged), *primals)
    _, pullback_p = fx.vjp(restrict(python), *primals)
    cts = [fnp.asarray(rng.standard_normal(o.shape).astype(np.float32)) for o in out]
    assert_close(pullback(cts), pullback_p(cts), what="vjp", **tol)
    d0 = diff[0]

    def loss_of(fn):
        return lambda *a: sum(fnp.sum(fnp.sin(o)) for o in _floats(fn(*a)))

    loss, loss_p = loss_of(staged), loss_of(python)

    def grad_of_grad(lossf):
        inner = fx.grad(lossf, argnums=d0)
        return fx.grad(lambda *a: fnp.sum(fnp.sin(inner(*a))), argnums=d0)(*args)

    assert_close(grad_of_grad(loss), grad_of_grad(loss_p), what="grad of grad", **tol)
    got = fx.jit(fx.vmap(fx.grad(loss, argnums=d0)))(*stacked)
    want_b = [fx.grad(loss_p, argnums=d0)(*[fnp.asarray(a) for a in s]) for s in samples]
    assert_close(got, _stack(want_b), what="jit(vmap(grad))", **tol)
    check_grads(restrict(staged), primals, order=2, modes=("fwd", "rev"))
    if jax_version is not None:
        jax = pytest.importorskip("jax")
        jargs = [np.asarray(a) for a in samples[0]]
        assert_close(staged(*args), jax.jit(jax_version)(*jargs), what="value vs JAX")
        jnp = jax.numpy
        jloss = lambda *a: sum(jnp.sum(jnp.sin(o))  # noqa: E731
                               for o in jax.tree_util.tree_leaves(jax_version(*a))
                               if jnp.issubdtype(o.dtype, jnp.floating))
        assert_close(fx.grad(loss, argnums=d0)(*args), jax.jit(jax.grad(jloss, argnums=d0))(*jargs),
                     what="grad vs JAX", **tol)


def _stack_fx(values):
    """Stack fx values along a new leading axis (differentiable; the oracles' ``stack``)."""
    return fx.lax.concatenate([fx.lax.expand_dims(v, (0,)) for v in values], 0)


def _jax_modules():
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    return jax.lax, jnp


# ---------------------------------------------------------------------------
# the computations, written over (lax, numpy) modules and as Python loops

rng = np.random.RandomState(0)
X = [rng.uniform(-1.0, 1.0, 3).astype(np.float32) for _ in range(3)]
Y = [rng.uniform(-1.0, 1.0, 3).astype(np.float32) for _ in range(3)]
XS = [rng.uniform(-1.0, 1.0, (5, 3)).astype(np.float32) for _ in range(3)]
W = [rng.uniform(0.2, 0.9, 3).astype(np.float32) for _ in range(3)]


def while_counter(L, N):  # a trip count given as an argument (batched under vmap)
    return lambda x, n: L.while_loop(lambda c: c[0] < n,
                                     lambda c: (c[0] + 1, N.sin(c[1]) * 0.75 + c[1]), (0, x))


def while_counter_py(x, n):
    i, c = 0, x
    while i < int(n):
        i, c = i + 1, fnp.sin(c) * 0.75 + c
    return fnp.int32(i), c


def while_float_pred(L, N):  # lanes stop at different steps under vmap
    return lambda x, y: L.while_loop(lambda c: N.sum(c * c) < 20.0,
                                     lambda c: c * 1.5 + y, x)


def while_float_pred_py(x, y):
    c = x
    while float(fnp.sum(c * c)) < 20.0:
        c = c * 1.5 + y
    return c


def fori_static(L, N):
    return lambda x, w: L.fori_loop(0, 4, lambda i, c: N.tanh(c * w + 0.25 * i), x)


def fori_static_py(x, w):
    for i in range(4):
        x = fnp.tanh(x * w + 0.25 * i)
    return x


def fori_dynamic(L, N):  # traced bounds: a while loop (forward mode only)
    return lambda x, n: L.fori_loop(1, n, lambda i, c: c * 0.5 + N.sin(i * c), x)


def fori_dynamic_py(x, n):
    for i in range(1, int(n)):
        x = x * 0.5 + fnp.sin(i * x)
    return x


def scan_basic(L, N):
    def f(c, xs, w):
        return L.scan(lambda c, x: (N.tanh(c * w + x), c * x), c, xs)
    return f


def scan_basic_py(c, xs, w):
    ys = []
    for k in range(xs.shape[0]):
        ys.append(c * xs[k])
        c = fnp.tanh(c * w + xs[k])
    return c, _stack_fx(ys)


def scan_pytree_reverse(L, N):
    def f(c, xs, w):
        def body(carry, x):
            k, (a, b) = carry
            a2 = a * x["p"] + N.sin(b)
            return (k + 1, (a2, b * w)), {"y": a2 * k, "z": b}
        return L.scan(body, (0, (c, c * 0.5)), {"p": xs}, reverse=True)
    return f


def scan_pytree_reverse_py(c, xs, w):
    k, a, b = 0, c, c * 0.5
    ys, zs = [None] * xs.shape[0], [None] * xs.shape[0]
    for t in reversed(range(xs.shape[0])):
        a2 = a * xs[t] + fnp.sin(b)
        ys[t], zs[t] = a2 * k, b
        k, a, b = k + 1, a2, b * w
    return (fnp.int32(k), (a, b)), {"y": _stack_fx(ys), "z": _stack_fx(zs)}


def scan_no_xs(L, N):  # xs=None with length; unroll; a closed-over const
    return lambda c, w: L.scan(lambda c, _: (c * w + 0.25, N.sum(c)), c, None, length=6,
                               unroll=2)


def scan_no_xs_py(c, w):
    ys = []
    for _ in range(6):
        ys.append(fnp.sum(c))
        c = c * w + 0.25
    return c, _stack_fx(ys)


def scan_with_cond(L, N):  # a cond inside the body, its predicate from the data
    def f(c, xs):
        def body(c, x):
            c = L.cond(N.sum(x) > 0, lambda c: c * x, lambda c: N.sin(c) + x, c)
            return c, c * 2.0
        return L.scan(body, c, xs)
    return f


def scan_with_cond_py(c, xs):
    ys = []
    for k in range(xs.shape[0]):
        c = c * xs[k] if float(fnp.sum(xs[k])) > 0 else fnp.sin(c) + xs[k]
        ys.append(c * 2.0)
    return c, _stack_fx(ys)


def nested_scan(L, N):
    def f(c, xs):
        def outer(c, x):
            inner_c, ys = L.scan(lambda a, xi: (a * 0.9 + xi * c, a), c, x)
            return inner_c, N.sum(ys)
        return L.scan(outer, c, xs.reshape(5, 3, 1) * N.ones((1, 1, 3)))
    return f


def nested_scan_py(c, xs):
    outs = []
    for t in range(5):
        a, ys = c, []
        for i in range(3):
            ys.append(a)
            a = a * 0.9 + xs[t, i] * c
        outs.append(fnp.sum(_stack_fx(ys)))
        c = a
    return c, _stack_fx(outs)


def map_plain(L, N):
    return lambda xs, w: L.map(lambda x: N.sin(x) * w, xs)


def map_py(xs, w):
    return _stack_fx([fnp.sin(xs[k]) * w for k in range(xs.shape[0])])


def map_batched(L, N):  # batch_size 2 over 5 rows: two steps and a remainder of one
    return lambda xs, w: L.map(lambda x: N.sin(x) * w, xs, batch_size=2)


I = [np.int32(n) for n in (3, 0, 5)]
CASES = {
    "while_counter": (while_counter, while_counter_py, [(X[i], I[i]) for i in range(3)],
                      [0], False),
    "while_float_pred": (while_float_pred, while_float_pred_py,
                         [(X[i], np.abs(Y[i]) + 0.5) for i in range(3)], [0, 1], False),
    "fori_static": (fori_static, fori_static_py, [(X[i], W[i]) for i in range(3)], [0, 1],
                    True),
    "fori_dynamic": (fori_dynamic, fori_dynamic_py, [(X[i], I[i]) for i in range(3)], [0],
                     False),
    "scan_basic": (scan_basic, scan_basic_py, [(X[i], XS[i], W[i]) for i in range(3)],
                   [0, 1, 2], True),
    "scan_pytree_reverse": (scan_pytree_reverse, scan_pytree_reverse_py,
                            [(X[i], XS[i], W[i]) for i in range(3)], [0, 1, 2], True),
    "scan_no_xs": (scan_no_xs, scan_no_xs_py, [(X[i], W[i]) for i in range(3)], [0, 1], True),
    "scan_with_cond": (scan_with_cond, scan_with_cond_py, [(X[i], XS[i]) for i in range(3)],
                       [0, 1], True),
    "nested_scan": (nested_scan, nested_scan_py, [(X[i], XS[i]) for i in range(3)], [0, 1],
                    True),
    "map": (map_plain, map_py, [(XS[i], W[i]) for i in range(3)], [0, 1], True),
    "map_batch_size": (map_batched, map_py, [(XS[i], W[i]) for i in range(3)], [0, 1], True),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_loop_every_transformation(name):
    build, python, samples, diff, reverse = CASES[name]
    mods = _jax_modules()
    jax_version = build(*mods) if mods is not None else None
    check_everything(build(fx.lax, fnp), python, samples, diff, jax_version, reverse)


def test_fori_static_bounds_are_a_scan_dynamic_ones_a_while():
    f = fori_static(fx.lax, fnp)
    names = [e.primitive.name for e in fx.make_jaxpr(f)(X[0], W[0]).eqns]
    assert "scan" in names and "while" not in names
    g = fori_dynamic(fx.lax, fnp)
    names = [e.primitive.name for e in fx.make_jaxpr(g)(X[0], np.int32(3)).eqns]
    assert "while" in names and "scan" not in names
    # concrete bounds under grad (not jit) still make a scan, so reverse mode works
    grad = fx.grad(lambda x: fnp.sum(g(x, 4)))(fnp.asarray(X[0]))
    want = fx.grad(lambda x: fnp.sum(fori_dynamic_py(x, 4)))(fnp.asarray(X[0]))
    assert_close(grad, want, rtol=1e-5)
    with pytest.raises(ValueError, match=WHILE_ERROR):
        fx.jit(fx.grad(lambda x, n: fnp.sum(g(x, n))))(fnp.asarray(X[0]), 4)


# ---------------------------------------------------------------------------
# long loops: reverse mode saves residuals once and stays linear in the length


def _long_scan(length):
    def f(c, w):
        def body(c, _):
            c = fnp.tanh(c * w + 0.3)
            return c, c[0]
        c, ys = fx.lax.scan(body, c, None, length=length)
        return fnp.sum(c) + fnp.sum(ys) * 0.01
    return f


def _long_fori(length):
    def f(c, w):
        return fnp.sum(fx.lax.fori_loop(0, length, lambda i, c: fnp.sin(c * w) + 0.5, c))
    return f


@pytest.mark.parametrize("make", [_long_scan, _long_fori])
def test_long_loop_gradients_against_finite_differences(make):
    c = fnp.asarray(np.array([0.3, -0.2], np.float32))
    w = fnp.asarray(np.array([0.7, 0.9], np.float32))
    check_grads(make(1000), (c, w), order=1, modes=("rev",))


@pytest.mark.parametrize("make", [_long_scan, _long_fori])
def test_long_loop_linearization_is_one_scan_each_way(make):
    c = np.array([0.3, -0.2], np.float32)
    w = np.array([0.7, 0.9], np.float32)
    sizes = {}
    for length in (10, 1000):
        jaxpr = fx.make_jaxpr(fx.grad(make(length), argnums=(0, 1)))(c, w)
        scans = [e for e in jaxpr.eqns if e.primitive.name == "scan"]
        assert len(scans) == 2, [e.primitive.name for e in jaxpr.eqns]
        forward, backward = scans
        assert not forward.params["reverse"] and backward.params["reverse"]
        assert forward.params["length"] == backward.params["length"] == length
        # the residuals are stacked arrays of the loop's length, read by the backward scan
        stacked = [v for v in forward.outvars if v.aval.shape[:1] == (length,)]
        assert stacked and all(v.aval.ndim >= 1 for v in stacked)
        assert set(map(id, stacked)) & set(map(id, backward.invars))
        sizes[length] = (len(jaxpr.eqns), len(forward.params["jaxpr"].eqns),
                         len(backward.params["jaxpr"].eqns))
    assert sizes[10] == sizes[1000]  # the program does not grow with the loop


def test_long_loop_time_is_linear():
    c = fnp.asarray(np.array([0.3, -0.2], np.float32))
    w = fnp.asarray(np.array([0.7, 0.9], np.float32))
    timings = {}
    for length in (200, 1000):
        g = fx.jit(fx.grad(_long_scan(length), argnums=(0, 1)))
        g(c, w)
        runs = []
        for _ in range(3):  # the fastest of three runs: robust to a busy machine
            start = time.perf_counter()
            g(c, w)
            runs.append(time.perf_counter() - start)
        timings[length] = min(runs)
    # 5x the steps: allow up to 12x the time (linear with noise), far below quadratic 25x
    assert timings[1000] < 12 * timings[200] + 0.05, timings


# ---------------------------------------------------------------------------
# associative_scan


def _seq_scan(fn, elems, axis, reverse):
    """The sequential (Python loop) prefix scan along ``axis``; reversed, it scans the
    flipped sequence (so later elements are ``fn``'s first argument), as JAX does."""
    leaves, tree = tree_util.tree_flatten(elems)
    n = np.shape(leaves[0])[axis]
    order = range(n - 1, -1, -1) if reverse else range(n)
    acc, outs = None, [None] * n
    for k in order:
        item = tree_util.tree_unflatten(tree, [np.take(x, k, axis=axis) for x in leaves])
        acc = item if acc is None else fn(acc, item)
        outs[k] = acc
    return tree_util.tree_map(lambda *xs: np.stack(xs, axis=axis), *outs)


def _affine(a, b):  # composition of x -> a0 x + b0 then x -> a1 x + b1: associative
    return (a[0] * b[0], b[0] * a[1] + b[1])


@pytest.mark.parametrize("n", [1, 2, 5, 8, 13])
@pytest.mark.parametrize("reverse", [False, True])
def test_associative_scan_matches_sequential(n, reverse):
    x = rng.uniform(0.5, 1.5, (n, 2)).astype(np.float32)
    got = fx.lax.associative_scan(fx.lax.add, fnp.asarray(x), reverse=reverse)
    want = np.flip(np.cumsum(np.flip(x, 0), 0), 0) if reverse else np.cumsum(x, 0)
    assert_close(got, want, rtol=1e-5, atol=1e-5)
    got = fx.lax.associative_scan(fx.lax.mul, fnp.asarray(x.T), reverse=reverse, axis=1)
    assert_close(got, _seq_scan(np.multiply, x.T, 1, reverse), rtol=1e-5)
    a, b = x[:, 0], x[:, 1]
    got = fx.lax.associative_scan(_affine, (fnp.asarray(a), fnp.asarray(b)), reverse=reverse)
    assert_close(got, _seq_scan(_affine, (a, b), 0, reverse), rtol=1e-5)


def test_associative_scan_transformations():
    jax = pytest.importorskip("jax")
    a = rng.uniform(0.5, 1.0, (6, 3)).astype(np.float32)
    b = rng.uniform(-1.0, 1.0, (6, 3)).astype(np.float32)

    def f(L, a, b):
        return L.associative_scan(_affine, (a, b))[1]

    want = jax.jit(lambda a, b: f(jax.lax, a, b))(a, b)  # one compilation, not one per op
    assert_close(f(fx.lax, fnp.asarray(a), fnp.asarray(b)), want, rtol=1e-5)
    assert_close(fx.jit(lambda a, b: f(fx.lax, a, b))(a, b), want, rtol=1e-5)
    assert_close(fx.vmap(lambda a, b: f(fx.lax, a, b), in_axes=1, out_axes=1)(a, b), want,
                 rtol=1e-5)
    check_grads(lambda a, b: f(fx.lax, a, b), (fnp.asarray(a), fnp.asarray(b)), order=2)
    g = fx.grad(lambda a, b: fnp.sum(fnp.sin(f(fx.lax, a, b))), argnums=(0, 1))(a, b)
    jg = jax.jit(jax.grad(lambda a, b: jax.numpy.sum(jax.numpy.sin(f(jax.lax, a, b))),
                          argnums=(0, 1)))(a, b)
    assert_close(g, jg, rtol=1e-4, atol=1e-5)
    # a parallel algorithm: no loop primitive, O(log n) depth of slicing ops
    names = {e.primitive.name for e in fx.make_jaxpr(lambda a, b: f(fx.lax, a, b))(a, b).eqns}
    assert not names & {"scan", "while"} and "slice" in names


# ---------------------------------------------------------------------------
# printing and errors


def _text(jaxpr) -> str:
    return " ".join(str(jaxpr).split())


def test_jaxprs_print_as_jax():
    jax = pytest.importorskip("jax")
    for build, args in [(while_counter, (X[0], np.int32(3))), (fori_static, (X[0], W[0])),
                        (fori_dynamic, (X[0], np.int32(3))), (scan_basic, (X[0], XS[0], W[0])),
                        (scan_no_xs, (X[0], W[0])), (map_plain, (XS[0], W[0]))]:
        got = _text(fx.make_jaxpr(build(fx.lax, fnp))(*args))
        want = _text(jax.make_jaxpr(build(jax.lax, jax.numpy))(*args))
        assert got == want, build.__name__
    # map with batch_size: the same program (JAX's vmap broadcasts w differently)
    got = fx.make_jaxpr(map_batched(fx.lax, fnp))(XS[0], W[0])
    want = jax.make_jaxpr(map_batched(jax.lax, jax.numpy))(XS[0], W[0])
    assert [e.primitive.name for e in got.eqns] == [e.primitive.name for e in want.eqns]


def test_carry_type_errors():
    x = fnp.ones(3)
    with pytest.raises(TypeError, match=r"(?s)scan body function carry.*input carry c has "
                                        r"type float32\[3\].*float32\[6\], so the shapes"):
        fx.lax.scan(lambda c, x: (fnp.concatenate([c, c]), x), x, fnp.ones((4, 2)))
    with pytest.raises(TypeError, match=r"(?s)input carry component c\[1\] has type "
                                        r"float32\[3\].*int32\[3\], so the dtypes"):
        fx.lax.scan(lambda c, x: ((c[0], c[1].astype(fnp.int32)), x), (1.0, x),
                    fnp.ones(4))
    with pytest.raises(TypeError, match=r"(?s)while_loop body function carry.*int32\[\] but "
                                        r"the corresponding output carry component has type "
                                        r"float32\[\]"):
        fx.lax.while_loop(lambda c: c < 3, lambda c: (c + 1).astype(fnp.float32),
                          fnp.int32(0))
    with pytest.raises(TypeError, match="same pytree structure"):
        fx.lax.while_loop(lambda c: True, lambda c: (c, c), x)
    with pytest.raises(TypeError, match=r"cond_fun must return a boolean scalar"):
        fx.lax.while_loop(lambda c: fnp.sum(c), lambda c: c, x)
    with pytest.raises(TypeError, match="scan body output must be a pair"):
        fx.lax.scan(lambda c, x: c, 0.0, fnp.ones(4))


def test_weak_carries_are_promoted():
    # as JAX: a Python-scalar initial carry takes the body's dtype
    out = fx.lax.while_loop(lambda c: c < 3, lambda c: c + 1.5, 0)
    assert out.dtype == np.float32 and float(out) == 3.0
    carry, _ = fx.lax.scan(lambda c, x: (c + x, x), 0, fnp.ones(4))
    assert carry.dtype == np.float32 and float(carry) == 4.0


def test_argument_errors():
    with pytest.raises(ValueError, match="different leading axis sizes: 4, 3"):
        fx.lax.scan(lambda c, x: (c, x), 0.0, (fnp.ones(4), fnp.ones(3)))
    with pytest.raises(ValueError, match="`length` argument of 5"):
        fx.lax.scan(lambda c, x: (c, x), 0.0, fnp.ones(4), length=5)
    with pytest.raises(ValueError, match="no values to scan over"):
        fx.lax.scan(lambda c, x: (c, x), 0.0, None)
    with pytest.raises(TypeError, match="must have equal types, got float32 and int32"):
        fx.lax.fori_loop(0.0, 3, lambda i, c: c, 0.0)
    with pytest.raises(ValueError, match="unroll"):
        fx.jit(lambda n: fx.lax.fori_loop(0, n, lambda i, c: c, 0.0, unroll=2))(3)
    with pytest.raises(TypeError, match="should be callable"):
        fx.lax.while_loop(1, lambda c: c, 1.0)


def test_primitive_type_checks():
    from primitives.control_flow import scan_p, while_p
    f32 = fx.core.ShapedArray((3,), np.float32)
    body = fx.make_jaxpr(lambda c: c.astype(fnp.int32))(np.ones(3, np.float32))
    pred = fx.make_jaxpr(lambda c: fnp.sum(c) < 1)(np.ones(3, np.float32))
    with pytest.raises(TypeError, match=r"float32\[3\].*int32\[3\]"):
        while_p.abstract_eval(f32, cond_jaxpr=pred, body_jaxpr=body, cond_nconsts=0,
                              body_nconsts=0)
    step = fx.make_jaxpr(lambda c, x: (c.astype(fnp.int32), x))(np.ones(3, np.float32),
                                                                 np.float32(1))
    with pytest.raises(TypeError, match=r"(?s)scan body function.*float32\[3\].*int32\[3\]"):
        scan_p.abstract_eval(f32, fx.core.ShapedArray((4,), np.float32), reverse=False,
                             length=4, jaxpr=step, num_consts=0, num_carry=1,
                             linear=(False, False), unroll=1)


# ---------------------------------------------------------------------------
# more compositions


def test_while_linearize_and_const_only_tangent():
    y = fnp.asarray(np.abs(Y[0]) + 0.5)
    f = while_float_pred(fx.lax, fnp)
    # the carry starts with a zero tangent and gets one from y through the body
    out, t = fx.jvp(lambda y: f(fnp.asarray(X[0]), y), (y,), (fnp.ones(3),))
    _, t_p = fx.jvp(lambda y: while_float_pred_py(fnp.asarray(X[0]), y), (y,), (fnp.ones(3),))
    assert_close(t, t_p, rtol=1e-5)
    out_l, f_lin = fx.linearize(lambda y: f(fnp.asarray(X[0]), y), y)
    assert_close(out_l, out)
    assert_close(f_lin(fnp.ones(3)), t_p, rtol=1e-5)


def test_scan_vmap_other_axes_and_linear_transpose():
    xs = np.stack(XS, axis=1)  # (5, 3 batch, 3)
    c = np.stack(X, axis=1)  # (3, 3 batch)
    got_c, got_y = fx.vmap(scan_basic(fx.lax, fnp), in_axes=(1, 1, None),
                           out_axes=1)(c, xs, W[0])
    for b in range(3):
        want_c, want_y = scan_basic_py(fnp.asarray(X[b]), fnp.asarray(XS[b]),
                                       fnp.asarray(W[0]))
        assert_close(np.asarray(got_c)[:, b], want_c)
        assert_close(np.asarray(got_y)[:, b], want_y)

    def linear(xs):  # linear in xs: a weighted running sum
        return fx.lax.scan(lambda c, x: (c * 0.5 + x, c), fnp.zeros(3), xs)

    (ct,) = fx.linear_transpose(linear, XS[0])((fnp.ones(3), fnp.ones((5, 3))))
    _, pullback = fx.vjp(linear, fnp.asarray(XS[0]))
    assert_close(ct, pullback((fnp.ones(3), fnp.ones((5, 3))))[0], rtol=1e-6)


def test_weak_types_match_jax():
    jax = pytest.importorskip("jax")
    for fn in [lambda L: L.fori_loop(0, 5, lambda i, c: c + i, 0.0),
               lambda L: L.while_loop(lambda c: c < 3, lambda c: c + 1.0, 0.0),
               lambda L: L.scan(lambda c, x: (c + x, c), 0.0, np.ones(3, np.float32))[0],
               lambda L: L.scan(lambda c, x: (c + 1.0, c), 0.0, None, length=3)[1]]:
        want = fn(jax.lax)
        for got in (fn(fx.lax), fx.jit(lambda fn=fn: fn(fx.lax))()):
            assert got.dtype == want.dtype and got.weak_type == want.weak_type
            assert_close(got, want)


# ---------------------------------------------------------------------------
# hypothesis: shapes, lengths, directions


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=25, deadline=None)
@given(length=st.integers(0, 6), shape=st.lists(st.integers(1, 3), max_size=2),
       reverse=st.booleans(), unroll=st.integers(1, 3), data=st.data())
def test_scan_matches_numpy_loop(length, shape, reverse, unroll, data):
    shape = tuple(shape)
    seed = data.draw(st.integers(0, 2 ** 16), label="seed")
    r = np.random.RandomState(seed)
    c0 = r.uniform(-1, 1, shape).astype(np.float32)
    xs = r.uniform(-1, 1, (length,) + shape).astype(np.float32)
    a = np.float32(0.5)
    carry, ys = fx.lax.scan(lambda c, x: (c * a + x, fnp.sin(c)), fnp.asarray(c0),
                            fnp.asarray(xs), reverse=reverse, unroll=unroll)
    want_ys = np.zeros((length,) + shape, np.float32)
    c = c0
    for k in (reversed(range(length)) if reverse else range(length)):
        want_ys[k] = np.sin(c)
        c = c * a + xs[k]
    assert_close(carry, c, rtol=1e-5, atol=1e-6)
    assert_close(ys, want_ys, rtol=1e-5, atol=1e-6)
    if length:
        axis = data.draw(st.integers(0, len(shape)), label="batch axis")
        batched = np.stack([xs, xs * 2.0], axis=axis + 1)
        got = fx.vmap(lambda xs: fx.lax.scan(lambda c, x: (c * a + x, fnp.sin(c)),
                                             fnp.asarray(c0), xs, reverse=reverse)[0],
                      in_axes=axis + 1)(batched)
        for b in range(2):
            want = fx.lax.scan(lambda c, x: (c * a + x, fnp.sin(c)), fnp.asarray(c0),
                               fnp.asarray(np.take(batched, b, axis=axis + 1)),
                               reverse=reverse)[0]
            assert_close(np.asarray(got)[b], want, rtol=1e-6)


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 9), min_size=1, max_size=3), reverse=st.booleans(),
       data=st.data())
def test_associative_scan_cumsum_any_axis(shape, reverse, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    x = np.random.RandomState(len(shape)).uniform(-1, 1, shape).astype(np.float32)
    got = fx.lax.associative_scan(fx.lax.add, fnp.asarray(x), reverse=reverse, axis=axis)
    want = np.flip(np.cumsum(np.flip(x, axis), axis), axis) if reverse else np.cumsum(x, axis)
    assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_vmap_of_scan_keeps_weak_unbatched_carries():
    # a Python-scalar carry is weakly typed (JAX's rule); batching the scan over another
    # carry must not make it strong (re-evaluated literals stay weak)
    def f(x):
        def body(c, xi):
            a, b = c
            return (a + 1, b + xi), a
        return fx.lax.scan(body, (0, 0.0), x)

    (a, b), ys = fx.vmap(f)(fnp.ones((2, 3)))
    assert a.weak_type and ys.weak_type and not b.weak_type
    np.testing.assert_array_equal(np.asarray(a), [3, 3])
    np.testing.assert_array_equal(np.asarray(ys), [[0, 1, 2]] * 2)
    assert [v.aval.weak_type for v in fx.make_jaxpr(fx.vmap(f))(fnp.ones((2, 3))).jaxpr.outvars] \
        == [True, False, True]
