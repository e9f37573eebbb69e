"""The aten ops that are free by netprobe's convention: an explicit allow-list, by family.

An aten op is priced (``analysis.ops.FORMULAS``), free (here), or listed as not counted
with its call count; an op in none of the three is listed too, so no op is ever a silent 0.
Names are overload packets as the dispatcher shows them under ``inference_mode`` (the
composite forms such as ``flatten`` and ``pad`` arrive whole) and their lower forms.
"""

from __future__ import annotations


def _names(text: str) -> frozenset[str]:
    """A family's op names, written as whitespace-separated words."""
    return frozenset(text.split())


# family -> aten op names. Each family says why it counts 0.
FREE = {
    # views, reshapes and layout: no arithmetic, no new values
    "view": _names("""view view_as _unsafe_view reshape reshape_as flatten unflatten permute transpose transpose_ t
        t_ numpy_T mT mH adjoint squeeze squeeze_ unsqueeze unsqueeze_ expand expand_as expand_copy broadcast_to
        broadcast_tensors alias as_strided as_strided_ unfold select slice narrow chunk split split_with_sizes
        unsafe_split unsafe_split_with_sizes unsafe_chunk tensor_split hsplit vsplit unbind movedim moveaxis
        swapaxes swapdims diagonal real imag view_as_real view_as_complex conj resolve_conj resolve_neg
        _reshape_alias lift_fresh detach detach_ _conj contiguous atleast_1d atleast_2d atleast_3d ravel
        pixel_shuffle pixel_unshuffle channel_shuffle native_channel_shuffle im2col col2im"""),
    # copies, casts and moves between devices: data movement
    "copy": _names("""clone copy_ _copy_from _copy_from_and_resize to _to_copy type_as cat concat concatenate
        _cat stack hstack vstack dstack repeat repeat_interleave tile roll flip fliplr flipud rot90 pad
        constant_pad_nd reflection_pad1d reflection_pad2d reflection_pad3d replication_pad1d replication_pad2d
        replication_pad3d _pad_enum circular_pad1d circular_pad2d circular_pad3d _pad_circular set_ resize_
        resize_as_ _local_scalar_dense item fill_ zero_ masked_fill masked_fill_ tril triu tril_ triu_
        _pack_padded_sequence _pad_packed_sequence _cudnn_rnn_flatten_weight"""),
    # creation and random: values from nothing or from a generator
    "creation": _names("""empty empty_like empty_strided new_empty new_empty_strided zeros zeros_like new_zeros
        ones ones_like new_ones full full_like new_full scalar_tensor arange linspace logspace eye tensor
        rand rand_like randn randn_like randint randint_like randperm uniform_ normal_ normal bernoulli
        bernoulli_ exponential_ geometric_ cauchy_ log_normal_ random_ multinomial dropout dropout_
        feature_dropout alpha_dropout feature_alpha_dropout native_dropout one_hot _efficientzerotensor"""),
    # elementwise arithmetic: adds, multiplies and pointwise functions are free, as residual adds are
    "elementwise": _names("""add add_ sub sub_ rsub mul mul_ div div_ true_divide floor_divide remainder fmod
        neg neg_ abs abs_ reciprocal reciprocal_ pow pow_ square sqrt sqrt_ rsqrt exp exp_ exp2 expm1 log log_
        log2 log10 log1p sin cos tan asin acos atan atan2 sinh cosh erf erfc erfinv sign sgn signbit frac
        clamp clamp_ clamp_min clamp_min_ clamp_max clamp_max_ clip clip_ lerp lerp_ addcmul addcmul_ addcdiv
        addcdiv_ xlogy copysign hypot nan_to_num nan_to_num_ round round_ floor floor_ ceil ceil_ trunc trunc_
        maximum minimum fmax fmin where _s_where masked_scatter polar angle logit"""),
    # activations, gates and softmax: elementwise too
    "activation": _names("""relu relu_ relu6 relu6_ _relu6 hardtanh hardtanh_ gelu gelu_ silu silu_ sigmoid
        sigmoid_ tanh tanh_ hardswish hardswish_ hardsigmoid hardsigmoid_ mish mish_ elu elu_ selu selu_ celu
        celu_ leaky_relu leaky_relu_ prelu _prelu_kernel rrelu rrelu_ rrelu_with_noise softplus softshrink
        hardshrink threshold threshold_ log_sigmoid log_sigmoid_forward glu softmax _softmax log_softmax
        _log_softmax special_softmax"""),
    # normalizations of every kind: free by the convention, as BatchNorm and LayerNorm are
    "norm": _names("""batch_norm native_batch_norm _native_batch_norm_legit _native_batch_norm_legit_no_training
        _batch_norm_impl_index cudnn_batch_norm miopen_batch_norm _batch_norm_with_update
        _batch_norm_no_update layer_norm native_layer_norm group_norm native_group_norm instance_norm rms_norm
        _fused_rms_norm local_response_norm linalg_vector_norm linalg_norm norm frobenius_norm renorm normalize std var std_mean var_mean"""),
    # pooling and upsampling: averages and interpolation (max-pools are priced for their acts)
    "pooling": _names("""avg_pool1d avg_pool2d avg_pool3d adaptive_avg_pool1d adaptive_avg_pool2d
        adaptive_avg_pool3d _adaptive_avg_pool2d _adaptive_avg_pool3d mkldnn_adaptive_avg_pool2d lp_pool1d
        lp_pool2d lp_pool3d fractional_max_pool2d fractional_max_pool3d max_unpool2d max_unpool3d
        upsample_nearest1d upsample_nearest2d upsample_nearest3d _upsample_nearest_exact1d
        _upsample_nearest_exact2d _upsample_nearest_exact3d upsample_linear1d upsample_bilinear2d
        upsample_trilinear3d upsample_bicubic2d _upsample_bilinear2d_aa _upsample_bicubic2d_aa
        grid_sampler grid_sampler_2d grid_sampler_3d cudnn_grid_sampler affine_grid_generator"""),
    # reductions, scans and sorting: sums and comparisons, no multiply-accumulate
    "reduction": _names("""sum mean nansum nanmean prod max min amax amin aminmax argmax argmin logsumexp
        cumsum cumsum_ cumprod cummax cummin logcumsumexp sort argsort msort topk kthvalue median nanmedian
        mode quantile nanquantile all any count_nonzero unique_dim _unique2 unique_consecutive bincount
        histc diff"""),
    # indexing and selection: gathers and scatters move data
    "indexing": _names("""index index_put index_put_ _index_put_impl_ index_select index_add index_add_
        index_copy index_copy_ index_fill index_fill_ gather scatter scatter_ scatter_add scatter_add_
        scatter_reduce scatter_reduce_ take take_along_dim nonzero argwhere masked_select embedding
        embedding_bag _embedding_bag _embedding_bag_forward_only searchsorted bucketize"""),
    # comparison and logic: boolean results
    "comparison": _names("""eq ne lt le gt ge eq_ ne_ lt_ le_ gt_ ge_ equal isclose allclose isnan isinf
        isfinite isposinf isneginf logical_and logical_or logical_xor logical_not bitwise_and bitwise_or
        bitwise_xor bitwise_not __and__ __or__ __xor__ __iand__ __ior__ __lshift__ __rshift__"""),
    # shape and metadata queries: no values computed
    "metadata": _names("""size sym_size stride sym_stride numel sym_numel dim is_contiguous is_same_size
        _shape_as_tensor is_nonzero is_floating_point _assert_async _assert_tensor_metadata
        _functional_assert_async record_stream"""),
}

ALL = frozenset().union(*FREE.values())


def is_free(name: str) -> bool:
    """Whether an aten op (overload packet name) is free by the convention."""
    return name in ALL
