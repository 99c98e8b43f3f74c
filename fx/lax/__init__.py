"""``fx.lax``: JAX's ``jax.lax`` — primitives with lax's signatures."""
from fx.lax._lax import *  # noqa: F401,F403
from fx.lax._lax import _convert_element_type  # noqa: F401
from fx.lax._slicing import *  # noqa: F401,F403
from fx.lax._reductions_ext import *  # noqa: F401,F403
from fx.lax._linalg import *  # noqa: F401,F403
from fx.lax._control_flow import *  # noqa: F401,F403
from fx.lax._lax_more import *  # noqa: F401,F403
from fx.lax._lax_extra import *  # noqa: F401,F403
from fx.lax._solves import custom_linear_solve, custom_root  # noqa: F401
from fx.lax._optimization_barrier import optimization_barrier  # noqa: F401
from fx._random.lax_ext import random_gamma_grad  # noqa: F401
from fx.lax._parallel import *  # noqa: F401,F403
from fx.lax import linalg  # noqa: F401
from fx.lax._fft import fft, FftType  # noqa: F401
from primitives.windowed import select_and_scatter_p  # noqa: F401
