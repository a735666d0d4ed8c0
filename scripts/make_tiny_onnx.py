#!/usr/bin/env python3
"""Write tests/fixtures/tiny.onnx: y = relu(x @ W + b), the smallest model the runtime tests load.

x is float [N, 4] with a dynamic batch N, W is [4, 3] and b is [3], both fixed below so the Rust
test (engine/tests/runtime.rs) can recompute the expected output. Opset 17, no producer version
or doc strings that would change between onnx releases, so rerunning the script gives identical
bytes and the committed fixture only changes when this file does.

Usage: python3 scripts/make_tiny_onnx.py [OUTPUT]   (needs `pip install onnx`)
"""
import sys
from pathlib import Path

import onnx
from onnx import TensorProto, helper

# Keep in sync with W and B in engine/tests/runtime.rs. Values are exact in float32, and some
# are negative so that relu actually clamps part of the output.
W = [
    [0.5, -1.0, 0.25],
    [1.5, 0.75, -0.5],
    [-2.0, 0.125, 1.0],
    [0.25, -0.5, 2.0],
]
B = [0.1, -0.2, 0.3]


def build() -> onnx.ModelProto:
    w = helper.make_tensor("W", TensorProto.FLOAT, [4, 3], [v for row in W for v in row])
    b = helper.make_tensor("b", TensorProto.FLOAT, [3], B)
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["xw"], name="matmul"),
        helper.make_node("Add", ["xw", "b"], ["xwb"], name="add"),
        helper.make_node("Relu", ["xwb"], ["y"], name="relu"),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
        initializer=[w, b],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17)],
        producer_name="refrain-make_tiny_onnx",
    )
    # IR version 8 is what opset 17 shipped with; pinning it (instead of the installed onnx
    # package's newest) keeps the bytes stable and loadable by older runtimes.
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else root / "tests" / "fixtures" / "tiny.onnx"
    out.parent.mkdir(parents=True, exist_ok=True)
    data = build().SerializeToString(deterministic=True)
    out.write_bytes(data)
    print(f"wrote {out} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
