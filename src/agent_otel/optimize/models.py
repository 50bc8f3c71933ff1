"""ONNX models built in code with the `onnx` helper API: the demo's classifier and benchmark models.

Nothing is downloaded: a hub is out of reach here, and a model built from seeded weights makes
every measurement reproducible.
"""

from __future__ import annotations

import functools

import numpy as np


def _onnx():  # type: ignore[no-untyped-def]
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    return onnx, TensorProto, helper, numpy_helper


@functools.cache
def tiny_classifier_bytes(features: int = 4, classes: int = 3, seed: int = 0) -> bytes:
    """A linear+softmax intent classifier: input `features` [batch, features] float32."""
    onnx, TensorProto, helper, numpy_helper = _onnx()
    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array(rng.standard_normal((features, classes)).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.standard_normal(classes).astype(np.float32), "B")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["features", "W"], ["logits0"]),
            helper.make_node("Add", ["logits0", "B"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probs"], axis=-1),
        ],
        "intent",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", features])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", classes])],
        [w, b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model.SerializeToString()


def mlp_bytes(layers: int = 4, hidden: int = 768, ffn: int = 3072, seed: int = 0, residual: bool = True) -> bytes:
    """A transformer-style feed-forward stack, input [batch, hidden]: per layer
    y = x + W2·relu(W1·x + b1) + b2 (the residual connection of a transformer block; `residual=False`
    gives a plain MLP)."""
    onnx, TensorProto, helper, numpy_helper = _onnx()
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    x = "x"
    for i in range(layers):
        for name, shape in ((f"w1_{i}", (hidden, ffn)), (f"b1_{i}", (ffn,)), (f"w2_{i}", (ffn, hidden)), (f"b2_{i}", (hidden,))):
            scale = 1.0 / np.sqrt(shape[0]) if len(shape) == 2 else 0.01
            inits.append(numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name))
        nodes += [
            helper.make_node("MatMul", [x, f"w1_{i}"], [f"h{i}"]),
            helper.make_node("Add", [f"h{i}", f"b1_{i}"], [f"hb{i}"]),
            helper.make_node("Relu", [f"hb{i}"], [f"r{i}"]),
            helper.make_node("MatMul", [f"r{i}", f"w2_{i}"], [f"o{i}"]),
            helper.make_node("Add", [f"o{i}", f"b2_{i}"], [f"f{i}" if residual else f"y{i}"]),
        ]
        if residual:
            nodes.append(helper.make_node("Add", [x, f"f{i}"], [f"y{i}"]))
        x = f"y{i}"
    graph = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", hidden])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", hidden])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model.SerializeToString()
