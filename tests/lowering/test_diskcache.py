"""The on-disk compilation cache: a second process compiles nothing, corrupt entries are
recompiled, unsafe directories are refused, keys follow the program."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import fx
import fx.numpy as jnp
from fx.interpreters import jit as jit_mod
from lowering import cpu
from lowering.cpu import diskcache, runtime

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A fresh cache directory in use, the in-memory cache emptied."""
    path = tmp_path / "fxcache"
    monkeypatch.setenv("FX_CACHE_DIR", str(path))
    monkeypatch.delenv("FX_DISK_CACHE", raising=False)
    cpu.clear_cache()
    yield path
    cpu.clear_cache()


def _entries(path):
    return sorted(p for p in os.listdir(path) if p.endswith(".fxo")) if path.exists() else []


def _program(scale):
    """tanh(x @ w) * scale + a reduction: BLAS, a loop kernel and a reduce kernel."""
    def f(x, w):
        h = jnp.tanh(x @ w) * scale
        return h, jnp.sum(h, axis=1)
    x = np.linspace(-1, 1, 6 * 5, dtype=np.float32).reshape(6, 5)
    w = np.linspace(-2, 2, 5 * 7, dtype=np.float32).reshape(5, 7)
    return fx.make_jaxpr(f)(x, w), [x, w]


def _reference(closed, args):
    return jit_mod.Executable(closed)(args)


def _check_against_reference(closed, args):
    exe = cpu.compile(closed)
    for got, want in zip(exe(args), _reference(closed, args)):
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6)
    return exe


# ---------------------------------------------------------------------------
# across processes

_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import fx, fx.numpy as jnp
    from lowering.cpu import diskcache, runtime

    def step(x, w, big):
        h = jnp.tanh(x @ w) * 0.5
        return h, jnp.sum(h, axis=1), jnp.exp(big) * 2.0 + 1.0

    x = np.linspace(-1, 1, 12 * 9, dtype=np.float32).reshape(12, 9)
    w = np.linspace(-2, 2, 9 * 4, dtype=np.float32).reshape(9, 4)
    big = np.linspace(-3, 3, 1 << 17, dtype=np.float32)   # large: split across threads
    outs = fx.jit(step)(x, w, big)
    cc = sys.modules["lowering.cpu.compile"]
    print(json.dumps({"compiled": runtime.stats["compiled"],
                      "loaded": runtime.stats["loaded"], "disk": diskcache.stats,
                      "planned": cc.stats["planned"], "plan_loaded": cc.stats["plan_loaded"],
                      "modules": sorted(m for m in sys.modules if m.startswith("lowering")),
                      "outs": [np.asarray(o).ravel()[:64].tolist() for o in outs]}))
""")


def _run_script(cache, tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(_SCRIPT)
    env = dict(os.environ, FX_CACHE_DIR=str(cache), FX_NUM_THREADS="2",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("FX_DISK_CACHE", None)
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_second_process_compiles_nothing(tmp_path):
    cache = tmp_path / "shared"
    first = _run_script(cache, tmp_path)
    assert first["compiled"] >= 1 and first["disk"]["stores"] >= 1
    stored = _entries(cache)
    assert stored
    assert first["planned"] == 1 and first["disk"]["plan_stores"] == 1
    second = _run_script(cache, tmp_path)
    assert second["compiled"] == 0, second
    assert second["disk"]["hits"] >= 1 and second["disk"]["misses"] == 0
    # nor plans: no passes, fusion, memory planning or code generation
    assert second["planned"] == 0 and second["plan_loaded"] == 1, second
    assert "lowering.cpu.build" not in second["modules"]
    assert second["loaded"] >= 1
    assert _entries(cache) == stored
    # the loaded code computes what the reference does (BLAS and the pool relinked)
    x = np.linspace(-1, 1, 12 * 9, dtype=np.float32).reshape(12, 9)
    w = np.linspace(-2, 2, 9 * 4, dtype=np.float32).reshape(9, 4)
    big = np.linspace(-3, 3, 1 << 17, dtype=np.float32)
    h = np.tanh(x @ w) * np.float32(0.5)
    want = [h.ravel()[:64], h.sum(axis=1)[:64], (np.exp(big) * 2 + 1)[:64]]
    for got_first, got_second, ref in zip(first["outs"], second["outs"], want):
        np.testing.assert_array_equal(got_first, got_second)
        np.testing.assert_allclose(got_second, ref, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------
# in one process, the in-memory cache emptied between compiles


def test_hit_after_memory_cache_cleared_compiles_nothing(cache_dir):
    closed, args = _program(1.5)
    _check_against_reference(closed, args)
    assert len(_entries(cache_dir)) == 1
    cpu.clear_cache()
    before = runtime.stats["compiled"]
    hits = diskcache.stats["hits"]
    exe = _check_against_reference(closed, args)
    assert runtime.stats["compiled"] == before
    assert diskcache.stats["hits"] == hits + 1
    assert "fx_segment_0" in exe.ir_text
    assert "fx_segment_0" in runtime.assembly(exe.module_ref)  # FX_DEBUG=4 on a hit


def _damage(path, damage: str, cut: int) -> None:
    """Corrupt the cache file at ``path``: flip a byte, cut ``cut`` bytes off the end,
    empty it, or replace it by random bytes."""
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x5A
    elif damage == "truncate":
        data = data[:len(data) - cut]
    elif damage == "empty":
        data = b""
    else:
        data = bytearray(os.urandom(len(data)))
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "garbage"])
def test_corrupt_entry_is_reported_and_recompiled(cache_dir, damage):
    closed, args = _program({"flip": 2.0, "truncate": 3.0, "empty": 4.0, "garbage": 5.0}[damage])
    cpu.compile(closed)
    (name,) = _entries(cache_dir)
    _damage(cache_dir / name, damage, cut=100)
    cpu.clear_cache()
    corrupt = diskcache.stats["corrupt"]
    compiled = runtime.stats["compiled"]
    with pytest.warns(RuntimeWarning, match="corrupt"):
        _check_against_reference(closed, args)
    assert diskcache.stats["corrupt"] == corrupt + 1
    assert runtime.stats["compiled"] == compiled + 1
    # the entry was rewritten whole: the next process (here: the next compile) loads it
    assert diskcache.DiskCache(str(cache_dir)).get(name[:-4]) is not None
    cpu.clear_cache()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _check_against_reference(closed, args)
    assert runtime.stats["compiled"] == compiled + 1


def test_corruption_reported_once_per_entry(cache_dir):
    closed, args = _program(6.0)
    cpu.compile(closed)
    (name,) = _entries(cache_dir)
    digest = name[:-4]
    cache = diskcache.DiskCache(str(cache_dir))
    (cache_dir / name).write_bytes(b"FXOBJ")
    with pytest.warns(RuntimeWarning, match="corrupt"):
        assert cache.get(digest) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache.get(digest) is None


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o757])
def test_directory_writable_by_others_is_refused(tmp_path, monkeypatch, mode):
    path = tmp_path / f"open{mode:o}"
    path.mkdir()
    os.chmod(path, mode)
    monkeypatch.setenv("FX_CACHE_DIR", str(path))
    cpu.clear_cache()
    closed, args = _program(7.0 + mode)
    with pytest.warns(RuntimeWarning, match="other users write"):
        _check_against_reference(closed, args)
    assert diskcache.cache_directory() is None
    assert _entries(path) == []
    cpu.clear_cache()


def test_directory_created_private(tmp_path, monkeypatch):
    monkeypatch.delenv("FX_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cache = diskcache.cache_directory()
    assert cache is not None and cache.path == str(tmp_path / "xdg" / "fx")
    assert stat.S_IMODE(os.stat(cache.path).st_mode) == 0o700


def test_directory_owned_by_another_user_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "theirs"
    path.mkdir(mode=0o700)
    real = os.stat(str(path))

    class Fake:
        st_mode, st_uid = real.st_mode, real.st_uid + 1
    monkeypatch.setattr(diskcache.os, "stat", lambda p, *a, **k: Fake)
    assert "owned by user id" in diskcache._check_directory(str(path))


@pytest.mark.parametrize("env", [{"FX_CACHE_DIR": ""}, {"FX_DISK_CACHE": "0"}])
def test_cache_can_be_turned_off(tmp_path, monkeypatch, env):
    monkeypatch.setenv("FX_CACHE_DIR", str(tmp_path / "off"))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert diskcache.cache_directory() is None
    cpu.clear_cache()
    closed, args = _program(9.0)
    _check_against_reference(closed, args)
    assert not (tmp_path / "off").exists()
    cpu.clear_cache()


def test_key_changes_when_the_program_changes(cache_dir):
    x = np.ones((8,), np.float32)
    programs = [fx.make_jaxpr(lambda x: jnp.exp(x) * 3)(x),
                fx.make_jaxpr(lambda y: jnp.exp(y) * 3)(x),      # same program: same key
                fx.make_jaxpr(lambda x: jnp.exp(x) * 4)(x),      # another constant
                fx.make_jaxpr(lambda x: jnp.exp(x) * 3)(np.ones((9,), np.float32)),  # shape
                fx.make_jaxpr(lambda x: x * 3)(x),
                fx.make_jaxpr(lambda x: x * 3)(np.ones((8,), np.int32)),  # dtype
                fx.make_jaxpr(lambda x: jnp.log(x) * 3)(x)]      # primitive
    for closed in programs:
        cpu.compile(closed)
    assert len(_entries(cache_dir)) == 6


def test_key_covers_the_environment(monkeypatch):
    text = "a program"
    base = diskcache.program_digest(text)
    assert diskcache.program_digest(text) == base
    assert diskcache.program_digest(text + " ") != base
    info = json.loads(diskcache.fingerprint())
    for field in ("triple", "cpu", "features", "llvm", "llvmlite", "fx", "source"):
        assert info[field]
    monkeypatch.setattr(diskcache, "_fingerprint", [diskcache.fingerprint() + "other cpu"])
    assert diskcache.program_digest(text) != base


def test_writes_are_atomic_and_leave_no_temporaries(cache_dir):
    closed, args = _program(10.0)
    cpu.compile(closed)
    files = sorted(os.listdir(cache_dir), key=lambda n: n[-4:])
    assert [n[-4:] for n in files] == [".fxo", ".fxp"]  # the object code and the plan
    assert stat.S_IMODE(os.stat(cache_dir).st_mode) == 0o700


def test_entry_format_rejects_mismatches():
    entry = diskcache.CacheEntry(b"\x7fELF-object", ["f"], ["fx_cblas_sgemm"], "define ...")
    data = diskcache._encode(entry, "abc")
    back = diskcache._decode(data, "abc")
    assert (back.object, back.names, back.symbols, back.ir_text) == \
        (entry.object, entry.names, entry.symbols, entry.ir_text)
    with pytest.raises(ValueError, match="another key"):
        diskcache._decode(data, "abd")
    with pytest.raises(ValueError, match="magic"):
        diskcache._decode(b"X" + data[1:], "abc")
    with pytest.raises(ValueError, match="truncated"):
        diskcache._decode(data[:-1], "abc")
    with pytest.raises(ValueError, match="checksum"):
        diskcache._decode(data[:-1] + bytes([data[-1] ^ 1]), "abc")


def test_external_symbols_of_ir():
    text = ('declare void @"fx_cblas_sgemm"(i32)\ndeclare float @llvm.exp.f32(float)\n'
            '@state = external global [4 x i64]\ndefine void @f() {\n  ret void\n}\n')
    assert runtime.external_symbols(text) == ["fx_cblas_sgemm", "state"]
    assert runtime.ensure_symbol("fx_parallel_for")
    assert not runtime.ensure_symbol("fx_no_such_symbol_anywhere")


def test_unresolvable_entry_is_compiled_instead(cache_dir):
    """An entry whose symbols this process cannot provide is not loaded (loading it would
    abort the process in LLVM); the program is compiled as on a miss."""
    closed, args = _program(11.0)
    cpu.compile(closed)
    (name,) = _entries(cache_dir)
    cache = diskcache.DiskCache(str(cache_dir))
    entry = cache.get(name[:-4])
    entry.symbols.append("fx_no_such_symbol_anywhere")
    cache.put(name[:-4], entry)
    cpu.clear_cache()
    compiled = runtime.stats["compiled"]
    _check_against_reference(closed, args)
    assert runtime.stats["compiled"] == compiled + 1


def test_code_with_an_absolute_address_is_not_stored(cache_dir):
    """IR that bakes in an address of this process would be wrong in the next one."""
    import ctypes
    cell = ctypes.c_int64(41)
    address = ctypes.addressof(cell)
    text = (f"define i64 @fx_probe() {{\n  %v = load i64, ptr inttoptr (i64 {address} to ptr)\n"
            f"  %r = add i64 %v, 1\n  ret i64 %r\n}}\n")
    addresses, _, _, _ = diskcache.compile_cached("probe " + text,
                                                  lambda: (text, ["fx_probe"]))
    assert ctypes.CFUNCTYPE(ctypes.c_int64)(addresses["fx_probe"])() == 42
    assert _entries(cache_dir) == []


# ---------------------------------------------------------------------------
# plans: a program compiled before is neither compiled nor planned again

def _plans(path):
    return sorted(p for p in os.listdir(path) if p.endswith(".fxp")) if path.exists() else []


def _compile_stats():
    cc = sys.modules["lowering.cpu.compile"]
    return dict(cc.stats), runtime.stats["compiled"]


def _mlp_program():
    """A small training step: products (BLAS), fused epilogues, reductions, a large
    closed-over constant (a buffer) and a small one (folded into the code)."""
    rng = np.random.default_rng(3)
    w1 = rng.standard_normal((6, 8)).astype(np.float32)
    w2 = rng.standard_normal((8, 3)).astype(np.float32)
    big = rng.standard_normal((16, 8)).astype(np.float32)     # 512 bytes: a buffer
    small = np.array([0.5, -1.0, 2.0], np.float32)

    def loss(ws, x):
        h = jnp.maximum(x @ ws[0] + jnp.sum(big, axis=0), 0)
        return jnp.mean(jnp.tanh(h @ ws[1] * small) ** 2)

    def step(w1, w2, x):
        g1, g2 = fx.grad(loss)((w1, w2), x)
        return w1 - 0.1 * g1, w2 - 0.1 * g2, loss((w1, w2), x)
    x = rng.standard_normal((5, 6)).astype(np.float32)
    return fx.make_jaxpr(step)(w1, w2, x), [w1, w2, x]


def test_cached_plan_skips_planning_and_matches_the_reference(cache_dir):
    closed, args = _mlp_program()
    built = _check_against_reference(closed, args)
    assert len(_plans(cache_dir)) == 1
    cpu.clear_cache()
    (stats, compiled) = _compile_stats()
    loaded = _check_against_reference(closed, args)
    after, compiled_after = _compile_stats()
    assert after["planned"] == stats["planned"]
    assert after["plan_loaded"] == stats["plan_loaded"] + 1
    assert compiled_after == compiled
    # the loaded executable is the built one: same buffers, constants, donation, kernels
    for attr in ("_nslots", "_in_slots", "_out_slots", "_in_sig", "_own", "_buffer_sizes",
                 "_shared", "_donation", "ir_text", "fresh_outputs", "kernel_count"):
        assert getattr(loaded, attr) == getattr(built, attr), attr
    assert [s for s, _ in loaded._init] == [s for s, _ in built._init]
    for (_, a), (_, b) in zip(loaded._init, built._init):
        np.testing.assert_array_equal(a, b)
    assert (loaded._fast_call is None) == (built._fast_call is None)
    # introspection plans again on demand
    assert [g.kind for g in loaded.groups] == [g.kind for g in built.groups]
    assert str(loaded.optimized) == str(built.optimized)


def test_plan_key_covers_constant_values(cache_dir):
    """Two programs that differ only in a large closed-over constant's values have plans
    of their own (the constant is a buffer the plan names)."""
    x = np.linspace(-1, 1, 64, dtype=np.float32)
    outs = []
    for seed in (0, 1):
        c = np.random.default_rng(seed).standard_normal(64).astype(np.float32)
        closed = fx.make_jaxpr(lambda x, c=c: jnp.exp(x) * c + c.sum())(x)
        _check_against_reference(closed, [x])
        cpu.clear_cache()
        outs.append(_check_against_reference(closed, [x])([x])[0])
    assert len(_plans(cache_dir)) == 2
    assert not np.allclose(outs[0], outs[1])


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "garbage"])
def test_corrupt_plan_is_reported_and_planned_again(cache_dir, damage):
    closed, args = _program({"flip": 12.0, "truncate": 13.0, "empty": 14.0,
                             "garbage": 15.0}[damage])
    cpu.compile(closed)
    (name,) = _plans(cache_dir)
    _damage(cache_dir / name, damage, cut=7)
    cpu.clear_cache()
    corrupt = diskcache.stats["corrupt"]
    stats, compiled = _compile_stats()
    with pytest.warns(RuntimeWarning, match="corrupt"):
        _check_against_reference(closed, args)
    after, compiled_after = _compile_stats()
    assert diskcache.stats["corrupt"] == corrupt + 1
    assert after["planned"] == stats["planned"] + 1
    assert compiled_after == compiled  # the object code was fine
    # the plan was rewritten: the next compile loads it, silently
    cpu.clear_cache()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _check_against_reference(closed, args)
    assert _compile_stats()[0]["plan_loaded"] == after["plan_loaded"] + 1


def test_plan_whose_object_code_is_gone_is_planned_again(cache_dir):
    closed, args = _program(16.0)
    cpu.compile(closed)
    for name in _entries(cache_dir):
        os.unlink(cache_dir / name)
    cpu.clear_cache()
    stats, compiled = _compile_stats()
    _check_against_reference(closed, args)
    after, compiled_after = _compile_stats()
    assert after["planned"] == stats["planned"] + 1 and compiled_after == compiled + 1
    assert len(_entries(cache_dir)) == 1


def test_programs_with_fallbacks_or_process_specific_text_keep_no_plan(cache_dir):
    a = np.arange(12, dtype=np.int32).reshape(3, 4)
    closed = fx.make_jaxpr(lambda a: a @ a.T + 1)(a)  # integer products run eagerly
    exe = _check_against_reference(closed, [a])
    assert exe.fallbacks
    assert _plans(cache_dir) == []

    @fx.custom_jvp
    def f(x):
        return jnp.sin(x)
    f.defjvp(lambda p, t: (f(p[0]), t[0] * 2))
    x = np.linspace(0, 1, 8, dtype=np.float32)
    closed = fx.make_jaxpr(lambda x: f(x) * 2)(x)  # its jvp rule is a parameter
    _check_against_reference(closed, [x])
    assert _plans(cache_dir) == []


def test_plan_entry_format_rejects_mismatches():
    plan = {"format": "x", "init": ((3, ("value", "float32", (2,), b"\0" * 8)),)}
    data = diskcache._encode_plan(plan, "abc")
    assert diskcache._decode_plan(data, "abc") == plan
    with pytest.raises(ValueError, match="another key"):
        diskcache._decode_plan(data, "abd")
    with pytest.raises(ValueError, match="magic"):
        diskcache._decode_plan(diskcache._encode(
            diskcache.CacheEntry(b"o", ["f"], [], "ir"), "abc"), "abc")
    with pytest.raises(ValueError, match="checksum"):
        diskcache._decode_plan(data[:-1] + bytes([data[-1] ^ 1]), "abc")


def test_key_tells_one_byte_types_apart(cache_dir):
    """int4, uint8 and float8 types print differently in the keys (NumPy's ``dtype.str``
    is ``<V1`` for several of them)."""
    import ml_dtypes
    x = np.arange(6, dtype=np.float32)
    texts = set()
    for t in (ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2, ml_dtypes.int4, np.uint8):
        closed = fx.make_jaxpr(lambda x, t=t: x.astype(t))(x)
        cc = sys.modules["lowering.cpu.compile"]
        texts.add(cc.canonical_text(closed.jaxpr, (), repr))
    assert len(texts) == 4
