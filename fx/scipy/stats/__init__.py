"""``fx.scipy.stats``: JAX's ``jax.scipy.stats`` — one module per distribution
(``norm.logpdf``, ``beta.cdf``, ...) plus ``sem``, ``mode``, ``rankdata`` and ``gaussian_kde``."""
from fx.scipy.stats import (  # noqa: F401
    bernoulli, beta, betabinom, binom, cauchy, chi2, dirichlet, expon, gamma, gennorm, geom,
    gumbel_l, gumbel_r, laplace, logistic, multinomial, multivariate_normal, nbinom, norm,
    pareto, poisson, t, truncnorm, uniform, vonmises, wrapcauchy)
from fx.scipy.stats._core import ModeResult, mode, rankdata, sem  # noqa: F401
from fx.scipy.stats._kde import gaussian_kde  # noqa: F401
