"""ONNX's own node test cases (onnx.backend.test.case.node) for the ops a CNN uses, run through fastnorm.

    python -m tests.onnx_node_report        # from the repo root: every case with its outcome

The cases are generated in memory by the installed onnx package (its data dir may be empty). A case
feeds weights, scales, pads, ... as graph inputs; fastnorm needs those as constants, so this harness
turns every input that is not an activation (see ACTIVATION_INPUTS) into an initializer holding the
case's value. Comparison: ONNX's runner tolerance, rtol=1e-3 atol=1e-7
(onnx/backend/test/case/node/__init__.py, applied in onnx/backend/test/runner/__init__.py).
"""
import re
import warnings

import numpy as np

RTOL, ATOL = 1e-3, 1e-7

CNN_OPS = ("Conv", "ConvTranspose", "BatchNormalization", "InstanceNormalization", "LayerNormalization",
           "GroupNormalization", "Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish",
           "Elu", "Selu", "PRelu", "Softplus", "Mish", "Gelu", "Softmax", "LogSoftmax", "MaxPool",
           "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div",
           "Sum", "Mean", "Concat", "Flatten", "Reshape", "Pad", "Resize", "Upsample", "Dropout", "Identity",
           "DepthToSpace", "SpaceToDepth",
           # issue 12's zoo ops
           "Slice", "Split", "Max", "Min", "ReduceSum", "ReduceMean", "ReduceMax", "Transpose")

# ops whose every input is an activation; for the rest only input 0 is
ACTIVATION_INPUTS = {"Add", "Sub", "Mul", "Div", "Sum", "Mean", "Concat", "Max", "Min"}

# Cases that must raise UnsupportedError: name -> (reason, a fragment the message must contain).
# Every other case considered must pass.
UNSUPPORTED = {
    'test_averagepool_3d_dilations_large_count_include_pad_is_0_ceil_mode_is_False': ('a dilated average pool', 'dilations'),
    'test_averagepool_3d_dilations_large_count_include_pad_is_0_ceil_mode_is_True': ('a dilated average pool', 'dilations'),
    'test_averagepool_3d_dilations_large_count_include_pad_is_1_ceil_mode_is_False': ('a dilated average pool', 'dilations'),
    'test_averagepool_3d_dilations_large_count_include_pad_is_1_ceil_mode_is_True': ('a dilated average pool', 'dilations'),
    'test_averagepool_3d_dilations_small': ('a dilated average pool', 'dilations'),
    'test_max_int16': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_max_int32': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_max_int64': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_max_int8': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_max_uint16': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_max_uint32': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_max_uint64': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_max_uint8': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_min_int16': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_min_int32': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_min_int64': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_min_int8': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_min_uint16': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_min_uint32': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_min_uint64': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_min_uint8': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_reduce_max_bool_inputs': ('bool dtype (fastnorm runs float32)', 'dtype bool'),
    'test_reduce_max_empty_set': ('an input with a 0-sized dim (an empty tensor)', r'is 0 \(an empty tensor\)'),
    'test_reduce_max_empty_set_bool': ('bool dtype (fastnorm runs float32)', 'dtype bool'),
    'test_reduce_sum_empty_set': ('an input with a 0-sized dim (an empty tensor)', r'is 0 \(an empty tensor\)'),
    'test_reduce_sum_empty_set_non_reduced_axis_zero': ('an input with a 0-sized dim (an empty tensor)', r'is 0 \(an empty tensor\)'),
    'test_slice_neg_steps': ('a negative Slice step on the batch axis', 'negative-step Slice of the batch dim'),
    'test_split_zero_size_splits_opset13': ('an input with a 0-sized dim (an empty tensor)', r'is 0 \(an empty tensor\)'),
    'test_split_zero_size_splits_opset13:Y_only': ('an input with a 0-sized dim (an empty tensor)', r'is 0 \(an empty tensor\)'),
    'test_split_zero_size_splits_opset18': ('an input with a 0-sized dim (an empty tensor)', r'is 0 \(an empty tensor\)'),
    'test_split_zero_size_splits_opset18:Y_only': ('an input with a 0-sized dim (an empty tensor)', r'is 0 \(an empty tensor\)'),
    'test_add_int16': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_add_int8': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_add_uint16': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_add_uint32': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_add_uint64': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_add_uint8': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_averagepool_2d_dilations': ('AveragePool dilations (torch has none)', 'dilations'),
    'test_averagepool_2d_pads': ("AveragePool pads excluded from the count, asymmetric or over half the kernel (torch's limits)", 'count_include_pad'),
    'test_averagepool_2d_same_lower': ("AveragePool pads excluded from the count, asymmetric or over half the kernel (torch's limits)", 'count_include_pad'),
    'test_averagepool_2d_same_upper': ("AveragePool pads excluded from the count, asymmetric or over half the kernel (torch's limits)", 'count_include_pad'),
    'test_batchnorm_epsilon_training_mode': ('training-mode running statistics outputs', 'running mean/var'),
    'test_batchnorm_example_training_mode': ('training-mode running statistics outputs', 'running mean/var'),
    'test_clip_default_int8_inbounds': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_clip_default_int8_max': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_clip_default_int8_min': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_convtranspose_1d': ('1D ConvTranspose (2D only)', '1D ConvTranspose'),
    'test_convtranspose_3d': ('3D ConvTranspose (2D only)', '3D ConvTranspose'),
    'test_div_int16': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_div_int32_trunc': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_div_int8': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_div_uint16': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_div_uint32': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_div_uint64': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_div_uint8': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_dropout_default_mask': ('the Dropout mask output', 'mask output'),
    'test_dropout_default_mask_ratio': ('the Dropout mask output', 'mask output'),
    'test_edge_pad': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_gemm_all_attributes': ('Gemm transA=1 on an activation', 'transA'),
    'test_gemm_transposeA': ('Gemm transA=1 on an activation', 'transA'),
    'test_identity_opt': ('optional / sequence input', 'only tensor inputs'),
    'test_identity_sequence': ('optional / sequence input', 'only tensor inputs'),
    'test_layer_normalization_2d_axis0': ('the Mean/InvStdDev outputs', 'Mean/InvStdDev'),
    'test_layer_normalization_2d_axis1': ('the Mean/InvStdDev outputs', 'Mean/InvStdDev'),
    'test_layer_normalization_2d_axis_negative_1': ('the Mean/InvStdDev outputs', 'Mean/InvStdDev'),
    'test_layer_normalization_2d_axis_negative_2': ('the Mean/InvStdDev outputs', 'Mean/InvStdDev'),
    'test_layer_normalization_3d_axis0_epsilon': ('the Mean/InvStdDev outputs', 'Mean/InvStdDev'),
    'test_layer_normalization_3d_axis1_epsilon': ('the Mean/InvStdDev outputs', 'Mean/InvStdDev'),
    'test_layer_normalization_3d_axis2_epsilon': ('the Mean/InvStdDev outputs', 'Mean/InvStdDev'),
    'test_layer_normalization_3d_axis_negative_1_epsilon': ('the Mean/InvStdDev outputs', 'Mean/InvStdDev'),
    'test_layer_normalization_3d_axis_negative_2_epsilon': ('the Mean/InvStdDev outputs', 'Mean/InvStdDev'),
    'test_layer_normalization_3d_axis_negative_3_epsilon': ('the Mean/InvStdDev outputs', 'Mean/InvStdDev'),
    'test_layer_normalization_4d_axis0': ('the Mean/InvStdDev outputs', 'Mean/InvStdDev'),
    'test_layer_normalization_4d_axis1': ('the Mean/InvStdDev outputs', 'Mean/InvStdDev'),
    'test_layer_normalization_4d_axis2': ('the Mean/InvStdDev outputs', 'Mean/InvStdDev'),
    'test_layer_normalization_4d_axis3': ('the Mean/InvStdDev outputs', 'Mean/InvStdDev'),
    'test_layer_normalization_4d_axis_negative_1': ('the Mean/InvStdDev outputs', 'Mean/InvStdDev'),
    'test_layer_normalization_4d_axis_negative_2': ('the Mean/InvStdDev outputs', 'Mean/InvStdDev'),
    'test_layer_normalization_4d_axis_negative_3': ('the Mean/InvStdDev outputs', 'Mean/InvStdDev'),
    'test_layer_normalization_4d_axis_negative_4': ('the Mean/InvStdDev outputs', 'Mean/InvStdDev'),
    'test_layer_normalization_default_axis': ('the Mean/InvStdDev outputs', 'Mean/InvStdDev'),
    'test_matmul_1d_1d': ('MatMul with a non-2D weight (batched matmul)', 'only 2D weights'),
    'test_matmul_1d_3d': ('MatMul with a non-2D weight (batched matmul)', 'only 2D weights'),
    'test_matmul_3d': ('MatMul with a non-2D weight (batched matmul)', 'only 2D weights'),
    'test_matmul_4d': ('MatMul with a non-2D weight (batched matmul)', 'only 2D weights'),
    'test_matmul_4d_1d': ('MatMul with a non-2D weight (batched matmul)', 'only 2D weights'),
    'test_matmul_bcast': ('MatMul with a non-2D weight (batched matmul)', 'only 2D weights'),
    'test_maxpool_2d_uint8': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_maxpool_with_argmax_2d_precomputed_pads': ('the MaxPool Indices output', 'Indices'),
    'test_maxpool_with_argmax_2d_precomputed_strides': ('the MaxPool Indices output', 'Indices'),
    'test_mul_int16': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_mul_int8': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_mul_uint16': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_mul_uint32': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_mul_uint64': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_mul_uint8': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_reflect_pad': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_reshape_allowzero_reordered': ('an input with a 0-sized dim (an empty tensor)', r'is 0 \(an empty tensor\)'),
    'test_resize_downsample_scales_cubic': ('cubic interpolation', "mode 'cubic'"),
    'test_resize_downsample_scales_cubic_A_n0p5_exclude_outside': ('cubic interpolation', "mode 'cubic'"),
    'test_resize_downsample_scales_cubic_align_corners': ('cubic interpolation', "mode 'cubic'"),
    'test_resize_downsample_scales_cubic_antialias': ('cubic interpolation', "mode 'cubic'"),
    'test_resize_downsample_scales_linear_align_corners': ("a coordinate mapping none of torch's interpolate modes reproduces", 'coordinate_transformation_mode'),
    'test_resize_downsample_scales_linear_antialias': ('antialiased downsampling', 'antialias'),
    'test_resize_downsample_scales_linear_half_pixel_symmetric': ("a coordinate mapping none of torch's interpolate modes reproduces", 'coordinate_transformation_mode'),
    'test_resize_downsample_sizes_cubic': ('cubic interpolation', "mode 'cubic'"),
    'test_resize_downsample_sizes_cubic_antialias': ('cubic interpolation', "mode 'cubic'"),
    'test_resize_downsample_sizes_linear_antialias': ('antialiased downsampling', 'antialias'),
    'test_resize_downsample_sizes_linear_pytorch_half_pixel': ("a coordinate mapping none of torch's interpolate modes reproduces", 'coordinate_transformation_mode'),
    'test_resize_downsample_sizes_nearest': ("a coordinate mapping none of torch's interpolate modes reproduces", 'coordinate_transformation_mode'),
    'test_resize_downsample_sizes_nearest_not_larger': ('keep_aspect_ratio_policy other than stretch', 'keep_aspect_ratio_policy'),
    'test_resize_downsample_sizes_nearest_not_smaller': ('keep_aspect_ratio_policy other than stretch', 'keep_aspect_ratio_policy'),
    'test_resize_tf_crop_and_resize': ('tf_crop_and_resize', 'tf_crop_and_resize'),
    'test_resize_tf_crop_and_resize_axes_2_3': ('tf_crop_and_resize', 'tf_crop_and_resize'),
    'test_resize_tf_crop_and_resize_axes_3_2': ('tf_crop_and_resize', 'tf_crop_and_resize'),
    'test_resize_tf_crop_and_resize_extrapolation_value': ('tf_crop_and_resize', 'tf_crop_and_resize'),
    'test_resize_upsample_scales_cubic': ('cubic interpolation', "mode 'cubic'"),
    'test_resize_upsample_scales_cubic_A_n0p5_exclude_outside': ('cubic interpolation', "mode 'cubic'"),
    'test_resize_upsample_scales_cubic_align_corners': ('cubic interpolation', "mode 'cubic'"),
    'test_resize_upsample_scales_cubic_asymmetric': ('cubic interpolation', "mode 'cubic'"),
    'test_resize_upsample_scales_linear_half_pixel_symmetric': ("a coordinate mapping none of torch's interpolate modes reproduces", 'coordinate_transformation_mode'),
    'test_resize_upsample_sizes_cubic': ('cubic interpolation', "mode 'cubic'"),
    'test_resize_upsample_sizes_nearest_ceil_half_pixel': ("a coordinate mapping none of torch's interpolate modes reproduces", 'coordinate_transformation_mode'),
    'test_resize_upsample_sizes_nearest_floor_align_corners': ("a coordinate mapping none of torch's interpolate modes reproduces", 'coordinate_transformation_mode'),
    'test_resize_upsample_sizes_nearest_not_larger': ('keep_aspect_ratio_policy other than stretch', 'keep_aspect_ratio_policy'),
    'test_resize_upsample_sizes_nearest_not_smaller': ('keep_aspect_ratio_policy other than stretch', 'keep_aspect_ratio_policy'),
    'test_resize_upsample_sizes_nearest_round_prefer_ceil_asymmetric': ("a coordinate mapping none of torch's interpolate modes reproduces", 'coordinate_transformation_mode'),
    'test_sub_int16': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_sub_int8': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_sub_uint16': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_sub_uint32': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_sub_uint64': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_sub_uint8': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
    'test_training_dropout': ('random (training-mode) dropout', 'training_mode'),
    'test_training_dropout_default': ('random (training-mode) dropout', 'training_mode'),
    'test_training_dropout_default_mask': ('random (training-mode) dropout', 'training_mode'),
    'test_training_dropout_default_mask:Y_only': ('random (training-mode) dropout', 'training_mode'),
    'test_training_dropout_mask': ('random (training-mode) dropout', 'training_mode'),
    'test_training_dropout_mask:Y_only': ('random (training-mode) dropout', 'training_mode'),
    'test_training_dropout_zero_ratio_mask': ('the Dropout mask output', 'mask output'),
    'test_wrap_pad': ('integer dtype (fastnorm runs float32)', 'dtype u?int'),
}

# 2D ConvTranspose cases: they map onto the IR op conv_transpose2d, which lands with the convt branch;
# they must pass once it is merged (until then they raise UnsupportedError naming the missing op).
CONV_TRANSPOSE = [
    'test_convtranspose',
    'test_convtranspose_autopad_same',
    'test_convtranspose_dilations',
    'test_convtranspose_group_2',
    'test_convtranspose_group_2_image_3',
    'test_convtranspose_kernel_shape',
    'test_convtranspose_output_shape',
    'test_convtranspose_pad',
    'test_convtranspose_pads',
]


def _cases():
    from onnx.backend.test.case.node import collect_testcases
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = collect_testcases(None)
    out = []
    for case in cases:
        g = case.model.graph
        if case.name.endswith(("_expanded", "_expanded_ver18")) or "_expanded" in case.name:
            continue
        ops = {n.op_type for n in g.node}
        if len(g.node) != 1 or not ops & set(CNN_OPS):
            continue
        out.append((case.name, case, False))
        if len(g.output) > 1:
            out.append((case.name + Y_ONLY, case, True))
    return sorted(out, key=lambda c: c[0])


Y_ONLY = ":Y_only"   # a derived case: the same node with only its first output (Y) kept


def prepared(case, data_index=0, y_only=False):
    """(model bytes with constant inputs as initializers, activation feeds, expected outputs)."""
    import onnx
    from onnx import numpy_helper
    m = onnx.ModelProto()
    m.CopyFrom(case.model)
    g = m.graph
    node = g.node[0]
    inputs, outputs = case.data_sets[data_index]
    names = [vi.name for vi in g.input]
    feeds = {}
    keep = []
    for i, (vi, arr) in enumerate(zip(list(g.input), inputs)):
        pos = list(node.input).index(vi.name) if vi.name in node.input else -1
        if pos == 0 or node.op_type in ACTIVATION_INPUTS:
            feeds[vi.name] = np.asarray(arr)
            keep.append(vi)
        else:
            g.initializer.append(numpy_helper.from_array(np.asarray(arr), vi.name))
    del g.input[:]
    g.input.extend(keep)
    expected = {vo.name: np.asarray(o) for vo, o in zip(g.output, outputs)}
    if y_only:
        first = node.output[0]
        keep_out = [vo for vo in g.output if vo.name == first]
        del g.output[:]
        g.output.extend(keep_out)
        expected = {first: expected[first]}
    del names
    return m.SerializeToString(), feeds, expected


def run_case(case, y_only=False):
    """('pass', '') | ('unsupported', message) | ('fail', message)."""
    import fastnorm
    try:
        data, feeds, expected = prepared(case, y_only=y_only)
        model = fastnorm.from_onnx(data)
        got = model.run({k: np.asarray(v) for k, v in feeds.items()})
    except fastnorm.UnsupportedError as e:
        return "unsupported", str(e)
    except Exception as e:  # noqa: BLE001
        return "fail", "%s: %s" % (type(e).__name__, e)
    for name, want in expected.items():
        if name not in got:
            return "fail", "output %r missing" % name
        g = got[name]
        if g.shape != want.shape:
            return "fail", "output %r: shape %s, expected %s" % (name, g.shape, want.shape)
        if not np.allclose(g, want.astype(np.float32), rtol=RTOL, atol=ATOL, equal_nan=True):
            err = np.abs(g.astype(np.float64) - want)
            return "fail", "output %r: max abs err %.3g" % (name, np.nanmax(err))
    return "pass", ""


def considered():
    """[(case name, TestCase, y_only)] for the CNN ops, sorted by name (cached)."""
    global _CACHE
    if _CACHE is None:
        _CACHE = _cases()
    return _CACHE


_CACHE = None


def main():
    cases = considered()
    counts = {"pass": 0, "unsupported": 0, "fail": 0}
    rows = []
    for name, case, y_only in cases:
        status, msg = run_case(case, y_only)
        counts[status] += 1
        if status == "unsupported" and name in UNSUPPORTED:
            msg = "expected: " + UNSUPPORTED[name][0]
        elif status == "unsupported" and name in CONV_TRANSPOSE:
            msg = "pending the conv_transpose2d op: " + msg
        elif status == "pass" and (name in UNSUPPORTED):
            status, msg = "UNEXPECTED", "passes but the table says unsupported: " + UNSUPPORTED[name][0]
        elif status == "unsupported":
            status = "UNEXPECTED"
        rows.append((name, status, msg))
    for name, status, msg in rows:
        msg = re.sub(r"\s+", " ", msg)
        print("%-58s %-12s %s" % (name, status, msg[:200]))
    print("\npassed %d of %d considered (%d unsupported, %d failing; onnx %s)"
          % (counts["pass"], len(cases), counts["unsupported"], counts["fail"], _onnx_version()))


def _onnx_version():
    import onnx
    return onnx.__version__


if __name__ == "__main__":
    main()
