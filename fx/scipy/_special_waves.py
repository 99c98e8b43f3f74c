"""Wave-equation special functions for ``fx.scipy.special``: the Faddeeva function
``wofz``, Bessel functions of the first kind of integer order ``bessel_jn`` and the
spherical harmonics ``sph_harm_y``.

Invariants: ``wofz`` is Weideman's rational approximation in the upper half plane
(coefficients computed once with NumPy's FFT) with the reflection
``w(z) = 2 exp(-z^2) - w(-z)`` below it; ``bessel_jn`` is Miller's backward recurrence
from a static starting order with rescaling against overflow; ``sph_harm_y`` runs the
normalised associated-Legendre recurrences in fixed-length loops masked per element.
All are built from ``fx.lax`` operations, so they work under grad, vmap and jit.
"""
from __future__ import annotations

import math
import operator

import numpy as np

import fx.numpy as fnp
from fx import core, dtypes, lax
from fx.custom_derivatives import custom_jvp
from fx.scipy import _special_util as _util

__all__ = ["wofz", "bessel_jn", "sph_harm_y"]


def _c(x, value):
    return np.asarray(value, dtype=x.dtype)


def _full(x, value):
    return lax.full_like(x, value)


# ---------------------------------------------------------------------------
# the Faddeeva function w(z) = exp(-z^2) erfc(-iz)


def _weideman_coefficients(n: int) -> tuple[float, np.ndarray]:
    """L and the polynomial coefficients (highest degree first) of Weideman's
    approximation w(z) ~ 2 p(Z) / (L - iz)^2 + 1/sqrt(pi) / (L - iz),
    Z = (L + iz)/(L - iz), from the FFT of exp(-t^2)(L^2 + t^2) on t = L tan(theta/2)."""
    m = 2 * n
    length = math.sqrt(n / math.sqrt(2))
    theta = np.arange(-m + 1, m) * np.pi / m
    t = length * np.tan(theta / 2)
    samples = np.concatenate([[0.0], np.exp(-t * t) * (length ** 2 + t * t)])
    spectrum = np.real(np.fft.fft(np.fft.fftshift(samples))) / (2 * m)
    return length, spectrum[1:n + 1][::-1].copy()


_WEIDEMAN = {np.dtype(np.complex64): _weideman_coefficients(24),
             np.dtype(np.complex128): _weideman_coefficients(40)}


def _wofz_upper(z):
    """w(z) for Im z >= 0."""
    length, coefficients = _WEIDEMAN[np.dtype(z.dtype)]
    iz = lax.complex(-lax.imag(z), lax.real(z))
    big = lax.abs(z) > _c(lax.real(z), 1e4)
    iz_mid = lax.select(big, _full(z, -1.0), iz)
    denominator = length - iz_mid
    ratio = (length + iz_mid) / denominator
    poly = _full(z, coefficients[0])
    for coefficient in coefficients[1:]:
        poly = poly * ratio + _c(z, coefficient)
    rational = 2 * poly / (denominator * denominator) + _c(z, 1 / math.sqrt(math.pi)) / denominator
    # |z| > 1e4: w(z) ~ i/(sqrt(pi) z) (1 + 1/(2z^2) + 3/(4z^4) + 15/(8z^6))
    z_big = lax.select(big, z, _full(z, 1e4))
    r = 1 / (z_big * z_big)
    series = 1 + r * (_c(z, 0.5) + r * (_c(z, 0.75) + r * _c(z, 1.875)))
    asymptotic = _c(z, 1j / math.sqrt(math.pi)) / z_big * series
    return lax.select(big, asymptotic, rational)


def _wofz_value(z):
    lower = lax.imag(z) < 0
    z_up = lax.select(lower, -z, z)
    w = _wofz_upper(z_up)
    # 2 exp(-z^2) by modulus and phase, so that overflow gives signed infinities
    x, y = lax.real(z), lax.imag(z)
    modulus = lax.exp((y - x) * (y + x) + _c(x, math.log(2)))
    phase = -2 * x * y
    reflected = lax.complex(modulus * lax.cos(phase), modulus * lax.sin(phase)) - w
    return lax.select(lower, reflected, w)


_wofz = custom_jvp(_wofz_value)
_wofz.defjvps(lambda t, w, z: t * (_c(z, 2j / math.sqrt(math.pi)) - 2 * z * w))


def wofz(z):
    """The Faddeeva function ``w(z) = exp(-z^2) erfc(-iz)``.

    Args:
      z: real or complex array (real input is treated as complex).

    Returns:
      A complex array (complex64 for float32/complex64 input, complex128 for 64-bit).

    Example:
      >>> fx.scipy.special.wofz(1.)
      Array(0.36787945+0.6071575j, dtype=complex64)
    """
    z = _util.promote_inexact("wofz", z, allow_complex=True)
    complex_dtype = np.complex128 if np.dtype(z.dtype) in (np.float64, np.complex128) \
        else np.complex64
    z = lax._convert_element_type(z, complex_dtype, False)
    return _wofz(z)


# ---------------------------------------------------------------------------
# Bessel functions of the first kind J_0 ... J_v


def _bessel_orders(z, top: int, start: int):
    """J_0(z) ... J_top(z) stacked on a new leading axis, by Miller's algorithm: the
    recurrence f_{k-1} = (2k/z) f_k - f_{k+1} run down from order ``start``, normalised
    with J_0 + 2 sum_k J_2k = 1."""
    limit = 1e150 if np.dtype(z.dtype) == np.float64 else 1e18
    nonzero = z != 0
    z_safe = lax.select(nonzero, z, _full(z, 1.0))
    orders = lax.broadcasted_iota(np.int32, (top + 1,) + tuple(z.shape), 0)

    def body(j, state):
        f_next, f_cur, norm, out = state
        k = start - j  # f_cur holds order k; compute order k - 1
        kf = lax.convert_element_type(k, z.dtype)
        f_prev = 2 * kf / z_safe * f_cur - f_next
        even = lax.rem(k - 1, 2) == 0
        norm = norm + lax.select(even & (k - 1 > 0), 2 * f_prev, _full(z, 0.0))
        norm = norm + lax.select(k - 1 == 0, f_prev, _full(z, 0.0))
        out = fnp.where(orders == k - 1, f_prev, out)
        rescale = lax.abs(f_prev) > limit
        factor = lax.select(rescale, _full(z, 1 / limit), _full(z, 1.0))
        return f_cur * factor, f_prev * factor, norm * factor, out * factor

    start_even = start % 2 == 0
    init_norm = _full(z, 2.0 if start_even else 0.0)
    out0 = fnp.where(orders == start, _full(z, 1.0), fnp.zeros(orders.shape, z.dtype))
    _, _, norm, out = lax.fori_loop(0, start, body,
                                    (_full(z, 0.0), _full(z, 1.0), init_norm, out0))
    values = out / norm
    at_zero = fnp.where(orders == 0, _full(z, 1.0), _full(z, 0.0)).astype(z.dtype)
    return fnp.where(nonzero, values, at_zero)


def _bessel_value(top, start, z):
    return _bessel_orders(z, top, start)


def _bessel_jvp(top, start, primals, tangents):
    (z,), (t,) = primals, tangents
    extended = _bessel_orders(z, top + 1, start)
    values = extended[:top + 1]
    # J_0' = -J_1, J_k' = (J_{k-1} - J_{k+1}) / 2
    lower = fnp.concatenate([-extended[1:2], extended[:top]], axis=0)
    upper = extended[1:top + 2]
    slope = lax.select(fnp.broadcast_to(lax.broadcasted_iota(np.int32, values.shape, 0) == 0,
                                        values.shape),
                       lower, (lower - upper) / 2)
    return values, slope * t


_bessel = custom_jvp(_bessel_value, nondiff_argnums=(0, 1))
_bessel.defjvp(_bessel_jvp)


def bessel_jn(z, *, v: int, n_iter: int = 50):
    """Bessel functions of the first kind ``J_0(z) ... J_v(z)`` of real argument.

    Miller's backward recurrence from order ``n_iter + v``: accurate while |z| stays
    well below that order (raise ``n_iter`` for larger |z|, as in JAX).

    Args:
      z: float array of sample points.
      v: the highest order (a static non-negative int).
      n_iter: the extra starting order of the recurrence (a static int).

    Returns:
      An array of shape ``(v + 1, *z.shape)`` in ``z``'s dtype.

    Example:
      >>> fx.scipy.special.bessel_jn(fx.numpy.array([1.0]), v=1)
      Array([[0.7651977 ],
             [0.44005057]], dtype=float32)
    """
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
        raise TypeError(f"bessel_jn: v must be a Python int, got {v!r}.")
    if not isinstance(n_iter, (int, np.integer)) or isinstance(n_iter, bool):
        raise TypeError(f"bessel_jn: n_iter must be a Python int, got {n_iter!r}.")
    if v < 0:
        raise ValueError(f"bessel_jn: v must be non-negative, got {v}.")
    if n_iter < 1:
        raise ValueError(f"bessel_jn: n_iter must be positive, got {n_iter}.")
    _util.check_arraylike("bessel_jn", z)
    z = fnp.asarray(z)
    if not dtypes.issubdtype(z.dtype, np.floating):
        raise ValueError(f"bessel_jn: z must have a floating dtype, got "
                         f"{np.dtype(z.dtype).name}.")
    work = _util.compute_dtype(z.dtype)
    zw = lax._convert_element_type(z, work, False)
    out = _bessel(int(v), int(n_iter) + int(v) + 1, zw)
    return lax._convert_element_type(out, z.dtype, False)


# ---------------------------------------------------------------------------
# spherical harmonics


def _sph_harm_value(n, m, theta, phi, n_max: int):
    """Y_n^m(theta, phi) with the Condon-Shortley phase (SciPy's convention)."""
    abs_m = lax.abs(m)
    sin_t, cos_t = lax.sin(theta), lax.cos(theta)
    real = theta.dtype

    def diagonal(j, p):  # P_j^j from P_{j-1}^{j-1}
        jf = lax.convert_element_type(j, real)
        step = -lax.sqrt((2 * jf + 1) / (2 * jf)) * sin_t * p
        return lax.select(j <= abs_m, step, p)

    p_mm = lax.fori_loop(1, n_max + 1, diagonal,
                         lax.full_like(theta, 1 / math.sqrt(4 * math.pi)))
    mf = lax.convert_element_type(abs_m, real)

    def upward(l_index, state):  # P_l^m from P_{l-1}^m and P_{l-2}^m
        p_prev, p_cur = state
        lf = lax.convert_element_type(l_index, real)
        active = (l_index > abs_m) & (l_index <= n)
        a_l = lax.sqrt((4 * lf * lf - 1) / lax.max(lf * lf - mf * mf, lax.full_like(mf, 1.0)))
        lm1 = lf - 1
        denominator = lm1 * lm1 - mf * mf
        positive = denominator > 0
        a_prev = lax.sqrt((4 * lm1 * lm1 - 1)
                          / lax.select(positive, denominator, lax.full_like(mf, 1.0)))
        back = lax.select(positive, p_prev / a_prev, _full(p_prev, 0.0))
        p_next = a_l * (cos_t * p_cur - back)
        return lax.select(active, p_cur, p_prev), lax.select(active, p_next, p_cur)

    _, p_nm = lax.fori_loop(1, n_max + 1, upward, (lax.full_like(theta, 0.0), p_mm))
    odd_m = lax.rem(abs_m, lax.full_like(abs_m, 2)) != 0
    p_nm = lax.select((m < 0) & odd_m, -p_nm, p_nm)
    p_nm = lax.select(abs_m > n, lax.full_like(p_nm, 0.0), p_nm)
    angle = lax.convert_element_type(m, real) * phi
    return lax.complex(p_nm * lax.cos(angle), p_nm * lax.sin(angle))


def sph_harm_y(n, m, theta, phi, diff_n: int | None = None, n_max: int | None = None):
    """The spherical harmonics ``Y_n^m(theta, phi) = N P_n^m(cos theta) exp(i m phi)``
    (SciPy's ``sph_harm_y``: theta the polar angle, phi the azimuth, Condon-Shortley
    phase, orthonormal on the sphere).

    Args:
      n: integer degrees, ``n >= 0``.
      m: integer orders (``|m| > n`` gives 0).
      theta: polar angles in [0, pi].
      phi: azimuthal angles in [0, 2 pi].
      diff_n: unsupported (as in JAX); must be None.
      n_max: the largest degree (static). Without it ``n`` must be concrete; degrees above
        ``n_max`` are clipped to it, as in JAX.

    Returns:
      A complex array of the broadcast shape of the arguments.

    Example:
      >>> fx.scipy.special.sph_harm_y(fx.numpy.array([1]), fx.numpy.array([0]),
      ...                             fx.numpy.array([0.0]), fx.numpy.array([0.0]))
      Array([0.48860252+0.j], dtype=complex64)
    """
    if diff_n is not None:
        raise NotImplementedError("The 'diff_n' argument to fx.scipy.special.sph_harm_y is "
                                  "not supported.")
    _util.check_arraylike("sph_harm_y", n, m, theta, phi)
    n_arr, m_arr = fnp.asarray(n), fnp.asarray(m)
    for name, arr in (("n", n_arr), ("m", m_arr)):
        if not dtypes.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"sph_harm_y: {name} must have an integer dtype, got "
                            f"{np.dtype(arr.dtype).name}.")
    if n_max is None:
        n_concrete = core.concrete_or_error(
            n_arr, "the argument n of sph_harm_y",
            "pass n_max (the largest degree) when n is traced.")
        n_max = int(np.max(np.asarray(n_concrete))) if np.size(n_concrete) else 0
    n_max = operator.index(n_max)
    if n_max < 0:
        raise ValueError(f"sph_harm_y: n_max must be non-negative, got {n_max}.")
    theta, phi = _util.promote_inexact("sph_harm_y", theta, phi)
    work = _util.compute_dtype(theta.dtype)
    theta = lax._convert_element_type(theta, work, False)
    phi = lax._convert_element_type(phi, work, False)
    n_arr, m_arr, theta, phi = fnp.broadcast_arrays(n_arr.astype(np.int32),
                                                    m_arr.astype(np.int32), theta, phi)
    n_arr = lax.min(n_arr, lax.full_like(n_arr, n_max))
    return _sph_harm_value(n_arr, m_arr, theta, phi, n_max)
