"""lazytensor.Tensor, the user's object: the core (tensor_base.py: storage, views,
realisation, autograd metadata) joined with every op family as methods.

Each method below is the op family's own function, listed here so that a reader, an
editor and a type checker find `Tensor.exp` on the class; the families hold functions
only and build their results as this class (`tensor_base.wrap`)."""
from __future__ import annotations

from typing import Any

from . import (conversion, creation, data_dependent, elementwise, elimination, float_parts, histograms, indexing,
               integer_math, linalg, matrix_norms, movement, order, products, pseudo_inverse, queries, random,
               reduce, sorting, special_functions, spectral, splitting, triangular)
from .autograd.api import backward as _backward
from .creation import node_from_data
from .tensor_base import RemovableHandle, Size, Storage, TensorBase, device, set_result_type

__all__ = ["Tensor", "Size", "Storage", "device", "RemovableHandle"]


class Tensor(TensorBase):
    __slots__ = ()

    def __init__(self, data: Any = None, *, dtype=None, device=None, requires_grad: bool = False):
        self._setup(Storage(node_from_data([] if data is None else data, dtype, device)), ())
        self.requires_grad = requires_grad

    def __reduce_ex__(self, protocol):
        return (creation.tensor, (self.numpy(),), None)

    def backward(self, gradient: Tensor | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's .grad (built lazily as IR)."""
        _backward(self, gradient, retain_graph, create_graph, inputs)

    # ---- arithmetic, comparisons, math, activations (lazytensor/elementwise.py) ------------
    add = elementwise.add
    sub = elementwise.sub
    mul = elementwise.mul
    div = elementwise.div
    floor_divide = elementwise.floor_divide
    remainder = elementwise.remainder
    fmod = elementwise.fmod
    pow = elementwise.pow
    maximum = elementwise.maximum
    minimum = elementwise.minimum
    bitwise_and = elementwise.bitwise_and
    bitwise_or = elementwise.bitwise_or
    bitwise_xor = elementwise.bitwise_xor
    bitwise_not = elementwise.bitwise_not
    eq = elementwise.eq
    ne = elementwise.ne
    lt = elementwise.lt
    le = elementwise.le
    gt = elementwise.gt
    ge = elementwise.ge
    logical_and = elementwise.logical_and
    logical_or = elementwise.logical_or
    logical_xor = elementwise.logical_xor
    logical_not = elementwise.logical_not
    exp = elementwise.exp
    log = elementwise.log
    sqrt = elementwise.sqrt
    sin = elementwise.sin
    cos = elementwise.cos
    tan = elementwise.tan
    tanh = elementwise.tanh
    log1p = elementwise.log1p
    expm1 = elementwise.expm1
    reciprocal = elementwise.reciprocal
    asin = arcsin = elementwise.asin
    acos = arccos = elementwise.acos
    atan = arctan = elementwise.atan
    atan2 = arctan2 = elementwise.atan2
    sinh = elementwise.sinh
    cosh = elementwise.cosh
    asinh = arcsinh = elementwise.asinh
    acosh = arccosh = elementwise.acosh
    atanh = arctanh = elementwise.atanh
    addcmul = elementwise.addcmul
    addcdiv = elementwise.addcdiv
    frac = elementwise.frac
    deg2rad = elementwise.deg2rad
    rad2deg = elementwise.rad2deg
    logit = elementwise.logit
    logaddexp = elementwise.logaddexp
    logaddexp2 = elementwise.logaddexp2
    hypot = elementwise.hypot
    xlogy = elementwise.xlogy
    fmax = elementwise.fmax
    fmin = elementwise.fmin
    clamp_min = elementwise.clamp_min
    clamp_max = elementwise.clamp_max
    isposinf = elementwise.isposinf
    isneginf = elementwise.isneginf
    copysign = elementwise.copysign
    signbit = elementwise.signbit
    heaviside = elementwise.heaviside
    float_power = elementwise.float_power
    sgn = elementwise.sign
    isclose = elementwise.isclose
    allclose = elementwise.allclose
    exp2 = elementwise.exp2
    log2 = elementwise.log2
    log10 = elementwise.log10
    rsqrt = elementwise.rsqrt
    neg = elementwise.neg
    abs = elementwise.abs
    square = elementwise.square
    sign = elementwise.sign
    floor = elementwise.floor
    ceil = elementwise.ceil
    round = elementwise.round
    trunc = elementwise.trunc
    sigmoid = elementwise.sigmoid
    relu = elementwise.relu
    erf = elementwise.erf
    erfc = elementwise.erfc
    gelu = elementwise.gelu
    silu = elementwise.silu
    softplus = elementwise.softplus
    clamp = elementwise.clamp
    lerp = elementwise.lerp
    where = elementwise.where_method
    isnan = elementwise.isnan
    isinf = elementwise.isinf
    isfinite = elementwise.isfinite
    nan_to_num = elementwise.nan_to_num
    multiply = elementwise.mul
    subtract = elementwise.sub
    divide = elementwise.div
    true_divide = elementwise.div
    negative = elementwise.neg
    absolute = elementwise.abs
    greater = elementwise.gt
    greater_equal = elementwise.ge
    less = elementwise.lt
    less_equal = elementwise.le
    not_equal = elementwise.ne
    clip = elementwise.clamp
    fix = elementwise.trunc
    __add__ = elementwise.add
    __radd__ = elementwise.reflected(elementwise.add)
    __sub__ = elementwise.sub
    __rsub__ = elementwise.reflected(elementwise.sub)
    __mul__ = elementwise.mul
    __rmul__ = elementwise.reflected(elementwise.mul)
    __truediv__ = elementwise.div
    __rtruediv__ = elementwise.reflected(elementwise.div)
    __floordiv__ = elementwise.floor_divide
    __rfloordiv__ = elementwise.reflected(elementwise.floor_divide)
    __mod__ = elementwise.remainder
    __rmod__ = elementwise.reflected(elementwise.remainder)
    __pow__ = elementwise.pow
    __rpow__ = elementwise.reflected(elementwise.pow)
    __and__ = elementwise.bitwise_and
    __rand__ = elementwise.reflected(elementwise.bitwise_and)
    __or__ = elementwise.bitwise_or
    __ror__ = elementwise.reflected(elementwise.bitwise_or)
    __xor__ = elementwise.bitwise_xor
    __rxor__ = elementwise.reflected(elementwise.bitwise_xor)
    __eq__ = elementwise.eq
    __hash__ = TensorBase.__hash__  # defining __eq__ would otherwise make tensors unhashable
    __ne__ = elementwise.ne
    __lt__ = elementwise.lt
    __le__ = elementwise.le
    __gt__ = elementwise.gt
    __ge__ = elementwise.ge
    __neg__ = elementwise.neg
    __invert__ = bitwise_not
    __abs__ = elementwise.abs
    __pos__ = elementwise.positive
    add_ = elementwise.inplace("add", elementwise.add)
    sub_ = elementwise.inplace("sub", elementwise.sub)
    mul_ = elementwise.inplace("mul", elementwise.mul)
    div_ = elementwise.inplace("div", elementwise.div)
    floor_divide_ = elementwise.inplace("floor_divide", elementwise.floor_divide)
    remainder_ = elementwise.inplace("remainder", elementwise.remainder)
    pow_ = elementwise.inplace("pow", elementwise.pow)
    clamp_ = elementwise.inplace("clamp", elementwise.clamp)
    clip_ = elementwise.inplace("clip", elementwise.clip)
    neg_ = elementwise.inplace("neg", elementwise.neg)
    abs_ = elementwise.inplace("abs", elementwise.abs)
    exp_ = elementwise.inplace("exp", elementwise.exp)
    log_ = elementwise.inplace("log", elementwise.log)
    sqrt_ = elementwise.inplace("sqrt", elementwise.sqrt)
    sigmoid_ = elementwise.inplace("sigmoid", elementwise.sigmoid)
    relu_ = elementwise.inplace("relu", elementwise.relu)
    tanh_ = elementwise.inplace("tanh", elementwise.tanh)
    asin_ = elementwise.inplace("asin", elementwise.asin)
    acos_ = elementwise.inplace("acos", elementwise.acos)
    atan_ = elementwise.inplace("atan", elementwise.atan)
    atan2_ = elementwise.inplace("atan2", elementwise.atan2)
    sinh_ = elementwise.inplace("sinh", elementwise.sinh)
    cosh_ = elementwise.inplace("cosh", elementwise.cosh)
    asinh_ = elementwise.inplace("asinh", elementwise.asinh)
    acosh_ = elementwise.inplace("acosh", elementwise.acosh)
    atanh_ = elementwise.inplace("atanh", elementwise.atanh)
    addcmul_ = elementwise.inplace("addcmul", elementwise.addcmul)
    addcdiv_ = elementwise.inplace("addcdiv", elementwise.addcdiv)
    frac_ = elementwise.inplace("frac", elementwise.frac)
    copysign_ = elementwise.inplace("copysign", elementwise.copysign)
    heaviside_ = elementwise.inplace("heaviside", elementwise.heaviside)
    addmv_ = elementwise.inplace("addmv", products.addmv)
    addr_ = elementwise.inplace("addr", products.addr)
    addbmm_ = elementwise.inplace("addbmm", products.addbmm)
    float_power_ = elementwise.inplace("float_power", elementwise.float_power)
    addmm_ = elementwise.inplace("addmm", products.addmm)
    baddbmm_ = elementwise.inplace("baddbmm", products.baddbmm)
    clamp_min_ = elementwise.inplace("clamp_min", elementwise.clamp_min)
    clamp_max_ = elementwise.inplace("clamp_max", elementwise.clamp_max)
    cumsum_ = elementwise.inplace("cumsum", reduce.cumsum)
    cumprod_ = elementwise.inplace("cumprod", reduce.cumprod)
    floor_ = elementwise.inplace("floor", elementwise.floor)
    ceil_ = elementwise.inplace("ceil", elementwise.ceil)
    round_ = elementwise.inplace("round", elementwise.round)
    trunc_ = elementwise.inplace("trunc", elementwise.trunc)
    sin_ = elementwise.inplace("sin", elementwise.sin)
    cos_ = elementwise.inplace("cos", elementwise.cos)
    reciprocal_ = elementwise.inplace("reciprocal", elementwise.reciprocal)
    square_ = elementwise.inplace("square", elementwise.square)
    lerp_ = elementwise.inplace("lerp", elementwise.lerp)
    maximum_ = elementwise.inplace("maximum", elementwise.maximum)
    minimum_ = elementwise.inplace("minimum", elementwise.minimum)
    bitwise_and_ = elementwise.inplace("bitwise_and", elementwise.bitwise_and)
    bitwise_or_ = elementwise.inplace("bitwise_or", elementwise.bitwise_or)
    bitwise_xor_ = elementwise.inplace("bitwise_xor", elementwise.bitwise_xor)
    logical_not_ = elementwise.inplace("logical_not", elementwise.logical_not)
    nan_to_num_ = elementwise.inplace("nan_to_num", elementwise.nan_to_num)
    sign_ = elementwise.inplace("sign", elementwise.sign)
    erf_ = elementwise.inplace("erf", elementwise.erf)
    rsqrt_ = elementwise.inplace("rsqrt", elementwise.rsqrt)
    lgamma = special_functions.lgamma
    digamma = special_functions.digamma
    polygamma = special_functions.polygamma_method
    erfinv = special_functions.erfinv
    sinc = special_functions.sinc
    i0 = special_functions.i0
    lgamma_ = elementwise.inplace("lgamma", special_functions.lgamma)
    digamma_ = elementwise.inplace("digamma", special_functions.digamma)
    erfinv_ = elementwise.inplace("erfinv", special_functions.erfinv)
    sinc_ = elementwise.inplace("sinc", special_functions.sinc)
    i0_ = elementwise.inplace("i0", special_functions.i0)
    mvlgamma = special_functions.mvlgamma
    mvlgamma_ = elementwise.inplace("mvlgamma", special_functions.mvlgamma)
    ldexp = float_parts.ldexp
    ldexp_ = elementwise.inplace("ldexp", float_parts.ldexp)
    frexp = float_parts.frexp
    nextafter = float_parts.nextafter
    nextafter_ = elementwise.inplace("nextafter", float_parts.nextafter)
    gcd = integer_math.gcd
    gcd_ = elementwise.inplace("gcd", integer_math.gcd)
    lcm = integer_math.lcm
    lcm_ = elementwise.inplace("lcm", integer_math.lcm)
    bitwise_left_shift = __lshift__ = integer_math.bitwise_left_shift
    bitwise_right_shift = __rshift__ = integer_math.bitwise_right_shift
    __rlshift__ = elementwise.reflected(integer_math.bitwise_left_shift)
    __rrshift__ = elementwise.reflected(integer_math.bitwise_right_shift)
    bitwise_left_shift_ = __ilshift__ = elementwise.inplace("bitwise_left_shift", integer_math.bitwise_left_shift)
    bitwise_right_shift_ = __irshift__ = elementwise.inplace("bitwise_right_shift", integer_math.bitwise_right_shift)
    positive = elementwise.positive
    # the `name_` forms of the ops above that need nothing of their own: each computes out of
    # place and writes into self's storage (elementwise.inplace). The class body's namespace is
    # written directly so that the methods stand on the class like the ones listed by hand.
    _namespace = vars()
    for _name in ("absolute arccos arccosh arcsin arcsinh arctan arctan2 arctanh bitwise_not deg2rad divide eq "
                  "erfc exp2 expm1 fix fmod ge greater greater_equal gt hypot le less less_equal log10 log1p "
                  "log2 logical_and logical_or logical_xor logit lt multiply ne negative not_equal polygamma "
                  "rad2deg sgn subtract tan true_divide xlogy").split():
        _namespace[_name + "_"] = elementwise.inplace(_name, _namespace[_name])
    del _namespace, _name
    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_
    __ifloordiv__ = floor_divide_
    __imod__ = remainder_
    __ipow__ = pow_
    __iand__ = bitwise_and_
    __ior__ = bitwise_or_
    __ixor__ = bitwise_xor_

    # ---- shape: views and copies (lazytensor/movement.py) ----------------------------------
    reshape = movement.reshape
    view = movement.view
    permute = movement.permute
    transpose = movement.transpose
    swapaxes = movement.swapaxes
    swapdims = movement.transpose
    t = movement.t
    T = property(movement.reversed_axes)
    mT = property(movement.matrix_transpose)
    mH = property(movement.matrix_transpose)
    adjoint = movement.adjoint
    as_strided = movement.as_strided
    H = property(movement.t)
    expand = movement.expand
    expand_as = movement.expand_as
    broadcast_to = movement.broadcast_to
    ravel = movement.ravel
    view_as = movement.view_as
    reshape_as = movement.reshape_as
    tile = movement.tile
    diff = movement.diff
    repeat_interleave = movement.repeat_interleave
    squeeze = movement.squeeze
    unsqueeze = movement.unsqueeze
    flatten = movement.flatten
    unflatten = movement.unflatten
    contiguous = movement.contiguous
    movedim = movement.movedim
    narrow = movement.narrow
    _shrink_dim = movement._shrink_dim
    select = movement.select
    split = movement.split
    chunk = movement.chunk
    unbind = movement.unbind
    tensor_split = splitting.tensor_split
    hsplit = splitting.hsplit
    vsplit = splitting.vsplit
    dsplit = splitting.dsplit
    split_with_sizes = splitting.split_with_sizes
    unsafe_split = splitting.unsafe_split
    unsafe_chunk = splitting.unsafe_chunk
    unsafe_split_with_sizes = splitting.unsafe_split_with_sizes
    flip = movement.flip
    fliplr = movement.fliplr
    flipud = movement.flipud
    rot90 = movement.rot90
    narrow_copy = movement.narrow_copy
    moveaxis = movement.movedim
    roll = movement.roll
    repeat = movement.repeat
    tril = movement.tril
    triu = movement.triu
    unfold = movement.unfold
    tril_ = elementwise.inplace("tril", movement.tril)
    triu_ = elementwise.inplace("triu", movement.triu)
    fill_diagonal_ = movement.fill_diagonal_
    stride = movement.stride
    storage_offset = movement.storage_offset
    is_contiguous = movement.is_contiguous
    nbytes = property(movement.nbytes)
    itemsize = property(TensorBase.element_size)

    # ---- reductions, softmax, cumsum (lazytensor/reduce.py) --------------------------------
    sum = reduce.sum
    prod = reduce.prod
    mean = reduce.mean
    amax = reduce.amax
    amin = reduce.amin
    argmax = reduce.argmax
    argmin = reduce.argmin
    max = reduce.max
    min = reduce.min
    all = reduce.all_
    any = reduce.any_
    var = reduce.var
    std = reduce.std
    var_mean = reduce.var_mean
    norm = matrix_norms.norm
    logsumexp = reduce.logsumexp
    softmax = reduce.softmax
    log_softmax = reduce.log_softmax
    cumsum = reduce.cumsum
    cumprod = reduce.cumprod
    nansum = reduce.nansum
    nanmean = reduce.nanmean
    count_nonzero = reduce.count_nonzero
    aminmax = reduce.aminmax
    sum_to_size = reduce.sum_to_size
    cov = reduce.cov
    corrcoef = reduce.corrcoef
    cummax = reduce.cummax
    cummin = reduce.cummin
    logcumsumexp = reduce.logcumsumexp
    histc = reduce.histc
    histogram = histograms.histogram
    renorm = reduce.renorm
    renorm_ = elementwise.inplace("renorm", reduce.renorm)

    # ---- indexing, gather and scatter (lazytensor/indexing.py) -----------------------------
    __getitem__ = indexing.getitem
    __setitem__ = indexing.setitem
    gather = indexing.gather
    take_along_dim = indexing.take_along_dim
    index_select = indexing.index_select
    masked_fill = indexing.masked_fill
    masked_fill_ = indexing.masked_fill_
    masked_select = indexing.masked_select
    scatter = indexing.scatter
    scatter_add = indexing.scatter_add
    scatter_ = indexing.scatter_
    scatter_add_ = indexing.scatter_add_
    index_put_ = indexing.index_put_
    nonzero = data_dependent.nonzero
    unique = data_dependent.unique
    unique_consecutive = data_dependent.unique_consecutive
    take = indexing.take
    index_add = indexing.index_add
    index_add_ = elementwise.inplace("index_add", indexing.index_add)
    index_copy = indexing.index_copy
    index_copy_ = elementwise.inplace("index_copy", indexing.index_copy)
    index_fill = indexing.index_fill
    index_fill_ = elementwise.inplace("index_fill", indexing.index_fill)
    scatter_reduce = indexing.scatter_reduce
    scatter_reduce_ = indexing.scatter_reduce_
    select_scatter = indexing.select_scatter
    slice_scatter = indexing.slice_scatter
    diagonal_scatter = indexing.diagonal_scatter
    bincount = data_dependent.bincount
    argwhere = data_dependent.argwhere
    nonzero_static = indexing.nonzero_static
    index_put = indexing.index_put
    put = indexing.put
    put_ = elementwise.inplace("put", indexing.put)
    index_reduce = indexing.index_reduce
    index_reduce_ = elementwise.inplace("index_reduce", indexing.index_reduce)
    masked_scatter = indexing.masked_scatter
    masked_scatter_ = elementwise.inplace("masked_scatter", indexing.masked_scatter)

    # ---- matrix products (lazytensor/products.py) --------------------------------------------
    matmul = products.matmul
    __matmul__ = products.matmul
    __rmatmul__ = products.rmatmul
    mm = products.mm
    bmm = products.bmm
    dot = products.dot
    outer = products.outer
    ger = products.outer
    diagonal = products.diagonal
    diag = products.diag
    diag_embed = products.diag_embed
    diagflat = products.diagflat
    trace = products.trace
    mv = products.mv
    addmm = products.addmm
    addmv = products.addmv
    addr = products.addr
    addbmm = products.addbmm
    baddbmm = products.baddbmm
    inner = products.inner
    vdot = products.vdot
    kron = products.kron
    cross = products.cross
    dist = products.dist
    inverse = elimination.inv
    cholesky = elimination.cholesky
    matrix_power = linalg.matrix_power
    det = elimination.det
    logdet = elimination.logdet
    slogdet = elimination.slogdet
    svd = spectral.svd_old
    qr = spectral.qr_old
    pinverse = pseudo_inverse.pinverse
    matrix_exp = linalg.matrix_exp
    cholesky_solve = triangular.cholesky_solve
    cholesky_inverse = triangular.cholesky_inverse
    triangular_solve = triangular.triangular_solve

    # ---- dtype, device, copies, in-place fills (lazytensor/conversion.py) ------------------
    to = conversion.to
    float = conversion.float_
    half = conversion.half
    bfloat16 = conversion.bfloat16
    double = conversion.double
    int = conversion.int_
    long = conversion.long
    bool = conversion.bool_
    byte = conversion.byte
    short = conversion.short
    char = conversion.char
    type_as = conversion.type_as
    type = conversion.type_
    cpu = conversion.cpu
    cuda = conversion.cuda
    clone = conversion.clone
    detach = conversion.detach
    detach_ = conversion.detach_
    requires_grad_ = conversion.requires_grad_
    copy_ = conversion.copy_
    zero_ = conversion.zero_
    fill_ = conversion.fill_
    t_ = conversion.t_
    transpose_ = conversion.transpose_
    unsqueeze_ = conversion.unsqueeze_
    squeeze_ = conversion.squeeze_
    swapaxes_ = swapdims_ = conversion.swapaxes_

    # ---- questions about the tensor; complex-number ops of a real tensor (lazytensor/queries.py)
    is_signed = queries.is_signed
    is_complex = is_conj = is_neg = is_pinned = is_shared = is_inference = queries.is_false
    is_sparse = is_sparse_csr = is_quantized = is_meta = is_nested = property(queries.is_false)
    pin_memory = share_memory_ = queries.itself_in_host_memory
    is_nonzero = queries.is_nonzero
    is_same_size = queries.is_same_size
    equal = queries.equal
    isreal = queries.isreal
    angle = queries.angle
    conj = resolve_conj = resolve_neg = conj_physical = queries.itself
    real = property(queries.itself)
    imag = property(queries.imag)
    is_cpu = property(queries.is_cpu)
    get_device = queries.get_device
    data_ptr = queries.data_ptr
    ndimension = TensorBase.dim

    # ---- new tensors like this one (lazytensor/creation.py) --------------------------------
    tensor = creation.tensor
    new_zeros = creation.new_zeros
    new_ones = creation.new_ones
    new_empty = creation.new_empty
    new_full = creation.new_full
    new_tensor = creation.new_tensor
    new = creation.new
    new_empty_strided = creation.new_empty_strided

    # ---- random fills (lazytensor/random.py) -----------------------------------------------
    uniform_ = random.uniform_
    normal_ = random.normal_
    bernoulli_ = random.bernoulli_
    bernoulli = random.bernoulli
    exponential_ = random.exponential_
    geometric_ = random.geometric_
    cauchy_ = random.cauchy_
    log_normal_ = random.log_normal_
    random_ = random.random_

    # ---- sorting and sampling (lazytensor/sorting.py) --------------------------------------
    sort = sorting.sort
    msort = sorting.msort
    argsort = sorting.argsort
    topk = sorting.topk
    multinomial = sorting.multinomial
    kthvalue = order.kthvalue
    median = order.median
    nanmedian = order.nanmedian
    mode = order.mode
    quantile = order.quantile
    nanquantile = order.nanquantile


set_result_type(Tensor)
