"""``fx.nn``: JAX's ``jax.nn`` — activations, softmax family, one_hot, standardize,
dot-product attention, and ``fx.nn.initializers``."""
from fx.nn.functions import (  # noqa: F401
    celu, dot_product_attention, elu, gelu, glu, hard_sigmoid, hard_silu, hard_swish, hard_tanh,
    identity, leaky_relu, log1mexp, log_sigmoid, log_softmax, logmeanexp, logsumexp, mish,
    one_hot, relu, relu6, selu, sigmoid, silu, soft_sign, softmax, softplus, sparse_plus,
    sparse_sigmoid, squareplus, standardize, swish, tanh)
from fx.nn._scaled import (  # noqa: F401
    get_scaled_dot_general_config, scaled_dot_general, scaled_matmul)
from fx.nn import initializers  # noqa: F401
