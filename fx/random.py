"""``fx.random``: JAX's PRNG API — typed and raw keys, ``split``/``fold_in``/``bits``,
and samplers for the common distributions.

Draws equal JAX 0.10's for the same key and shape: keys use the threefry2x32
cipher with JAX's default (partitionable) counter layout, and every sampler
consumes keys and rounds as JAX's does. Every function works under ``jit``,
``vmap`` (batch keys with ``vmap``, not by passing key arrays) and ``grad``
(reparameterised samples are differentiable in their parameters; ``gamma`` and
its relatives through the implicit derivative ``fx.lax.random_gamma_grad``).

Example:
  >>> key = fx.random.key(0)
  >>> key, sub = fx.random.split(key)
  >>> x = fx.random.normal(sub, (3,))
"""
from fx._random.keys import (PRNGKeyArray, key, PRNGKey, key_data, wrap_key_data,  # noqa: F401
                             key_impl, key_dtype, clone, split, fold_in, bits)
from fx._random.continuous import (uniform, normal, truncated_normal, exponential,  # noqa: F401
                                   laplace, logistic, cauchy, gumbel, lognormal, pareto,
                                   weibull_min, triangular, rayleigh, wald, maxwell,
                                   double_sided_maxwell, multivariate_normal, orthogonal)
from fx._random.discrete import (bernoulli, randint, rademacher, categorical,  # noqa: F401
                                 permutation, choice, geometric, poisson)
from fx._random.gamma import (gamma, loggamma, beta, dirichlet, chisquare, t, f,  # noqa: F401
                              generalized_normal, ball)
from fx._random.binomial import binomial, multinomial  # noqa: F401
from primitives.random import random_gamma_p  # noqa: F401
