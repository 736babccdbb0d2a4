"""`lazytensor.special`: torch.special's names, onto lazytensor's functions (the special functions
themselves are lazytensor/special_functions.py's composites)."""
from __future__ import annotations

from .elementwise import (  # noqa: F401
    erf, erfc, exp2, expm1, log1p, logit, round, sigmoid as expit, xlog1py, xlogy,
)
from .reduce import log_softmax, logsumexp, softmax  # noqa: F401
from .special_functions import (  # noqa: F401
    digamma, digamma as psi, entr, erfinv, i0, i1, lgamma as gammaln, log_ndtr, mvlgamma as multigammaln, ndtr, ndtri,
    polygamma, sinc,
)
