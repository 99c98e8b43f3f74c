"""The on-disk cache of compiled object code, shared by the processes of one user.

A program's entry is keyed by the SHA-256 of its canonical text (the optimized
jaxpr with avals and build options, as ``compile`` computes it) together with
a fingerprint of everything else the generated code depends on: the target
triple, CPU name and features, the LLVM and llvmlite versions, fx's version,
the sources of the ``lowering`` package (paths, sizes, modification times),
the BLAS integer width and the Python object layout the entry points read. An
entry holds the relocatable object code, the names of its entry points, the
external symbols it uses (``fx_parallel_for`` of the worker pool,
``fx_cblas_?gemm``: bound again when the entry is loaded, since addresses
differ between processes) and the LLVM IR it was compiled from.

Plans (``<digest>.fxp``, written by ``compile``) are keyed the same way by the
program *as given* (constants' values included), with the sources of the
``primitives`` package and ``fx.core`` added to the fingerprint (the passes
rewrite programs with their rules): an entry holds the executable's buffer
table, constants, memory plan and the digest of its object code, as
``marshal`` data (built-in types only).

Invariants: the directory is ``FX_CACHE_DIR`` (default ``$XDG_CACHE_HOME/fx``
or ``~/.cache/fx``), created with mode 0700; one that others can write or that
another user owns is refused (one warning, the cache is off, compiling works
as without it). ``FX_CACHE_DIR=""`` or ``FX_DISK_CACHE=0`` turns the cache
off. Entries are written to a temporary file and renamed into place, so a
reader sees a whole entry or none; each carries a length and a CRC-32 of its
body, so a truncated or corrupt entry is detected, reported once, compiled
again and overwritten. Nothing is ever evicted.
"""
from __future__ import annotations

import hashlib
import json
import marshal
import os
import re
import stat
import struct
import sys
import tempfile
import threading
import warnings
import zlib

__all__ = ["compile_cached", "load_compiled", "cache_directory", "program_digest",
           "plan_digest", "fingerprint", "stats", "CacheEntry", "DiskCache"]

_MAGIC = b"FXOBJ\x01\r\n"
_HEAD = struct.Struct("<8sIQ")  # magic, CRC-32 of the body, body length
_META_LEN = struct.Struct("<I")
_FORMAT = "fx-object-cache-2"
_PLAN_MAGIC = b"FXPLN\x01\r\n"

#: counters for this process: object-code hits, misses, stores; plan hits, misses, stores;
#: corrupt entries (of either kind), refused directories
stats = {"hits": 0, "misses": 0, "stores": 0, "plan_hits": 0, "plan_misses": 0,
         "plan_stores": 0, "corrupt": 0, "refused": 0}

_lock = threading.Lock()
_warned: set = set()
_verdicts: dict = {}  # directory -> DiskCache or None (refused)
_fingerprint: list = []
_plan_sources: list = []
_failed: set = set()  # object digests whose entry could not be used in this process


def _warn_once(key, message: str) -> None:
    with _lock:
        if key in _warned:
            return
        _warned.add(key)
    warnings.warn(message, RuntimeWarning, stacklevel=3)


def _debug(text: str) -> None:
    try:
        level = int(os.environ.get("FX_DEBUG", "0") or 0)
    except ValueError:
        level = 0
    if level >= 1:
        print(text, file=sys.stderr)


# ---------------------------------------------------------------------------
# keys


def _source_digest(paths=None) -> str:
    """A digest of Python sources (default: the ``lowering`` package, the code generator):
    their relative paths, sizes and modification times (stat only: reading and hashing
    every source would cost more than the rest of a cache hit). ``paths``: packages
    (directories) or single files."""
    if paths is None:
        import lowering
        paths = [os.path.dirname(os.path.abspath(lowering.__file__))]
    h = hashlib.sha256()
    for root in paths:
        if not os.path.isdir(root):
            st = os.stat(root)
            h.update(f"{os.path.basename(root)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
            continue
        pending = [root]
        while pending:
            directory = pending.pop()
            for item in sorted(os.scandir(directory), key=lambda e: e.name):
                if item.is_dir():
                    if not item.name.startswith((".", "__")):
                        pending.append(item.path)
                elif item.name.endswith(".py"):
                    st = item.stat()
                    rel = os.path.relpath(item.path, os.path.dirname(root))
                    h.update(f"{rel}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def fingerprint() -> str:
    """Everything besides the program text that the object code depends on (computed
    once per process), as one string."""
    if _fingerprint:
        return _fingerprint[0]
    import llvmlite

    import fx
    from lowering.cpu import blas, runtime
    info = runtime.host_info()
    gemm = None if blas._disabled() else blas.library_info()
    parts = {
        "format": _FORMAT, "fx": getattr(fx, "__version__", "?"),
        "llvmlite": llvmlite.__version__, "llvm": info["llvm"], "triple": info["triple"],
        "cpu": info["cpu"], "features": info["features"], "source": _source_digest(),
        "blas_int_bits": None if gemm is None else gemm["int_bits"],
        "object_layout": runtime.OBJECT_LAYOUT, "python": list(sys.version_info[:2]),
    }
    text = json.dumps(parts, sort_keys=True)
    _fingerprint.append(text)
    return text


def plan_digest(key_text: str) -> str:
    """The hex SHA-256 naming the plan of a program whose canonical text (as given to
    ``compile``) is ``key_text``: the object fingerprint plus the sources whose rules
    the passes apply (``primitives``, ``fx.core``, ``fx.dtypes``)."""
    if not _plan_sources:
        import fx.core
        import primitives
        here = os.path.dirname(os.path.abspath(fx.core.__file__))
        _plan_sources.append(_source_digest([
            os.path.dirname(os.path.abspath(primitives.__file__)),
            os.path.join(here, "core.py"), os.path.join(here, "avals.py"),
            os.path.join(here, "dtypes.py")]))
    h = hashlib.sha256(fingerprint().encode())
    h.update(b"\0plan\0" + _plan_sources[0].encode() + b"\0")
    h.update(key_text.encode())
    return h.hexdigest()


def program_digest(key_text: str) -> str:
    """The hex SHA-256 naming the entry of a program whose canonical text is
    ``key_text`` on this machine and software."""
    h = hashlib.sha256(fingerprint().encode())
    h.update(b"\0")
    h.update(key_text.encode())
    return h.hexdigest()


# ---------------------------------------------------------------------------
# the directory


def _env_directory() -> str | None:
    if os.environ.get("FX_DISK_CACHE", "1").strip().lower() in ("0", "false", "off", "no"):
        return None
    path = os.environ.get("FX_CACHE_DIR")
    if path is not None:
        return os.path.abspath(os.path.expanduser(path)) if path.strip() else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                            ".cache")
    return os.path.join(base, "fx")


def _check_directory(path: str) -> str | None:
    """None when ``path`` is usable, else why not (after creating it, mode 0700)."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.stat(path)
    except OSError as err:
        return f"it cannot be created or read ({err})"
    if not stat.S_ISDIR(st.st_mode):
        return "it is not a directory"
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        return f"it is owned by user id {st.st_uid}, not by this user ({os.geteuid()})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return (f"its mode {stat.S_IMODE(st.st_mode):04o} lets other users write to it "
                "(chmod 700 it to use it)")
    return None


def cache_directory():
    """The ``DiskCache`` in use, or None (turned off, or the directory was refused)."""
    path = _env_directory()
    if path is None:
        return None
    cache = _verdicts.get(path, False)
    if cache is False:
        problem = _check_directory(path)
        if problem is None:
            cache = DiskCache(path)
        else:
            cache = None
            stats["refused"] += 1
            _warn_once(("dir", path), f"fx: not using the compilation cache directory "
                       f"{path!r}: {problem}; compiling without a disk cache")
        _verdicts[path] = cache
    return cache


# ---------------------------------------------------------------------------
# entries


class CacheEntry:
    """One compiled module: object code, entry-point names, the external symbols it
    calls and its LLVM IR."""

    __slots__ = ("object", "names", "symbols", "ir_text")

    def __init__(self, obj: bytes, names, symbols, ir_text: str):
        self.object, self.names, self.symbols, self.ir_text = obj, list(names), \
            list(symbols), ir_text


class DiskCache:
    """Entries as files ``<digest>.fxo`` in one directory (checked by ``cache_directory``).

    Args:
      path: the directory (must exist, owned by the user, not writable by others).
    """

    def __init__(self, path: str):
        self.path = path

    def file_for(self, digest: str, suffix: str = ".fxo") -> str:
        """The path of ``digest``'s entry (object code; ``suffix=".fxp"``: its plan)."""
        return os.path.join(self.path, digest + suffix)

    def get(self, digest: str) -> CacheEntry | None:
        """The entry for ``digest``, or None (absent, or corrupt: then reported once)."""
        return self._read(self.file_for(digest), lambda data: _decode(data, digest))

    def get_plan(self, digest: str) -> dict | None:
        """The plan stored under ``digest``, or None (absent, or corrupt: reported once)."""
        plan = self._read(self.file_for(digest, ".fxp"),
                          lambda data: _decode_plan(data, digest))
        stats["plan_hits" if plan is not None else "plan_misses"] += 1
        return plan

    def _read(self, path: str, decode):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        except OSError as err:
            _warn_once(("read", path), f"fx: cannot read compilation cache entry {path}: "
                       f"{err}; compiling again")
            return None
        try:
            return decode(data)
        except ValueError as err:
            stats["corrupt"] += 1
            _warn_once(("corrupt", path), f"fx: compilation cache entry {path} is corrupt "
                       f"({err}); compiling again and replacing it")
            return None

    def put(self, digest: str, entry: CacheEntry) -> bool:
        """Write ``entry`` atomically (temporary file, then rename); False on failure
        (reported once per directory; compiling goes on)."""
        if not self._write(self.file_for(digest), _encode(entry, digest)):
            return False
        _failed.discard(digest)
        stats["stores"] += 1
        return True

    def put_plan(self, digest: str, plan: dict) -> bool:
        """Write ``plan`` (built-in types only) atomically under ``digest``."""
        if not self._write(self.file_for(digest, ".fxp"), _encode_plan(plan, digest)):
            return False
        stats["plan_stores"] += 1
        return True

    def _write(self, path: str, data: bytes) -> bool:
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=path[-4:], dir=self.path)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
            tmp = None
        except OSError as err:
            _warn_once(("write", self.path), f"fx: cannot write to the compilation cache "
                       f"{self.path}: {err}")
            return False
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
        return True


def _frame(magic: bytes, body: bytes) -> bytes:
    return _HEAD.pack(magic, zlib.crc32(body), len(body)) + body


def _unframe(data: bytes, magic: bytes) -> memoryview:
    """The body of a framed entry, checked (magic, length, CRC-32), else ValueError."""
    if len(data) < _HEAD.size:
        raise ValueError(f"truncated: {len(data)} bytes")
    got, crc, size = _HEAD.unpack_from(data)
    if got != magic:
        raise ValueError("not an fx cache entry of this kind (bad magic)")
    body = memoryview(data)[_HEAD.size:]
    if len(body) != size:
        raise ValueError(f"truncated: body of {len(body)} bytes, expected {size}")
    if zlib.crc32(body) != crc:
        raise ValueError("checksum mismatch")
    return body


def _encode_plan(plan: dict, digest: str) -> bytes:
    return _frame(_PLAN_MAGIC, marshal.dumps((digest, plan)))


def _decode_plan(data: bytes, digest: str) -> dict:
    body = _unframe(data, _PLAN_MAGIC)
    try:
        key, plan = marshal.loads(body)
    except (EOFError, TypeError, ValueError) as err:
        raise ValueError(f"bad body ({err})") from None
    if key != digest:
        raise ValueError("entry belongs to another key")
    if not isinstance(plan, dict):
        raise ValueError("bad body (not a plan)")
    return plan


def _encode(entry: CacheEntry, digest: str) -> bytes:
    ir = entry.ir_text.encode()
    meta = json.dumps({"digest": digest, "names": entry.names, "symbols": entry.symbols,
                       "object": len(entry.object), "ir": len(ir)}).encode()
    return _frame(_MAGIC, b"".join([_META_LEN.pack(len(meta)), meta, entry.object, ir]))


def _decode(data: bytes, digest: str) -> CacheEntry:
    body = _unframe(data, _MAGIC)
    (meta_len,) = _META_LEN.unpack_from(body)
    start = _META_LEN.size + meta_len
    try:
        meta = json.loads(bytes(body[_META_LEN.size:start]))
        n_obj, n_ir = int(meta["object"]), int(meta["ir"])
        names, symbols = list(meta["names"]), list(meta["symbols"])
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"bad header ({err})") from None
    if meta.get("digest") != digest:
        raise ValueError("entry belongs to another key")
    if start + n_obj + n_ir != len(body):
        raise ValueError("section sizes do not add up")
    obj = bytes(body[start:start + n_obj])
    ir = str(body[start + n_obj:], "utf-8")
    return CacheEntry(obj, names, symbols, ir)


# ---------------------------------------------------------------------------
# compiling through the cache


def load_compiled(digest: str, level: int = 3):
    """The object code stored under ``digest``, linked into this process, or None (absent,
    corrupt, or calling a symbol this process lacks: then not tried again here until
    the entry is rewritten).

    Returns:
      ``(addresses, names, ir_text, runtime.DeferredModule)``, as ``compile_cached``.
    """
    from lowering.cpu import runtime
    cache = cache_directory()
    if cache is None or digest in _failed:
        return None
    entry = cache.get(digest)
    if entry is not None:
        try:
            addresses = runtime.load_object(entry.object, entry.names, entry.symbols)
        except LookupError as err:
            _debug(f"fx: disk cache entry {digest[:16]} not loadable here ({err})")
        else:
            stats["hits"] += 1
            _debug(f"fx: disk cache hit {digest[:16]} ({len(entry.object)} bytes of "
                   "object code)")
            return addresses, entry.names, entry.ir_text, \
                runtime.DeferredModule(entry.ir_text, level)
        _failed.add(digest)
    elif os.path.exists(cache.file_for(digest)):  # corrupt (reported by ``get``)
        _failed.add(digest)
    return None


#: an integer constant turned into a pointer: a process-specific address in the code
_ABSOLUTE_ADDRESS = re.compile(r"inttoptr \(i64 -?\d{5,} to ")


def compile_cached(key_text: str, build, level: int = 3):
    """Object code for a program: loaded from the disk cache, or compiled and stored.

    Args:
      key_text: the program's canonical text (everything the IR depends on within this
        process: see ``fingerprint`` for the rest).
      build: ``build() -> (ir_text, names)``; called only on a miss.
      level: LLVM optimization level.
    Returns:
      ``(addresses, names, ir_text, module_ref)``: ``{name: address}`` of the entry
      points, their names, the LLVM IR, and the optimized module (a
      ``runtime.DeferredModule`` when the code came from disk).

    Example:
      >>> addrs, names, text, _ = compile_cached(key, lambda: (str(module), ["f"]))
    """
    cache = cache_directory()
    digest = None
    if cache is not None:
        digest = program_digest(key_text)
        loaded = load_compiled(digest, level)
        if loaded is not None:
            return loaded
        stats["misses"] += 1
    from lowering.cpu import runtime
    text, names = build()
    obj, module = runtime.compile_object(text, level)
    symbols = runtime.external_symbols(text)
    addresses = runtime.load_object(obj, names, symbols)
    if cache is not None:
        if _ABSOLUTE_ADDRESS.search(text):
            # an address of this process baked into the code: valid here only
            _debug(f"fx: not caching {digest[:16]} on disk: its IR holds an absolute address")
        elif cache.put(digest, CacheEntry(obj, names, symbols, text)):
            _debug(f"fx: disk cache stored {digest[:16]}")
    return addresses, list(names), text, module
