#!/usr/bin/env python3
"""Writes tests/fixtures/tiny_model/: a model version with the real I/O contract and no training.

The engine's loading, validation, sampling-pipeline and bad-input tests run on it without the
trainer (which would need burn at test time). The networks are simple, deterministic and easy
to predict:
- encoder: mel [B,1,256,256] -> 8x8 average pool -> latent [B,4,32,32] (the pooled mel, scaled
  by 1, 0.5, -0.5, -1 per channel)
- decoder: latent -> channel 0 upsampled 8x (nearest) -> mel [B,1,256,256]
- unet: noise = 0.5 * sample + 0 * sum(temb), so the graph reads both inputs
Run from the repository root:  python3 scripts/make_tiny_model.py   (needs: pip install onnx)
"""
import hashlib
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "tiny_model")
N_MELS, FRAMES, C, H, W, EMB = 256, 256, 4, 32, 32, 64
OPSET = [helper.make_opsetid("", 17)]


def save(graph, name):
    model = helper.make_model(graph, opset_imports=OPSET, producer_name="refrain-tiny-model")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = os.path.join(OUT, name)
    onnx.save(model, path)
    return path


def encoder():
    scales = numpy_helper.from_array(np.array([1, 0.5, -0.5, -1], np.float32).reshape(1, C, 1, 1), "scales")
    nodes = [
        helper.make_node("AveragePool", ["mel"], ["pooled"], kernel_shape=[8, 8], strides=[8, 8]),
        helper.make_node("Mul", ["pooled", "scales"], ["latent"]),
    ]
    graph = helper.make_graph(
        nodes, "encoder",
        [helper.make_tensor_value_info("mel", TensorProto.FLOAT, ["batch", 1, N_MELS, FRAMES])],
        [helper.make_tensor_value_info("latent", TensorProto.FLOAT, ["batch", C, H, W])],
        [scales])
    return save(graph, "encoder.onnx")


def decoder():
    starts = numpy_helper.from_array(np.array([0], np.int64), "starts")
    ends = numpy_helper.from_array(np.array([1], np.int64), "ends")
    axes = numpy_helper.from_array(np.array([1], np.int64), "axes")
    scales = numpy_helper.from_array(np.array([1, 1, 8, 8], np.float32), "resize_scales")
    nodes = [
        helper.make_node("Slice", ["latent", "starts", "ends", "axes"], ["first"]),
        helper.make_node("Resize", ["first", "", "resize_scales"], ["mel"], mode="nearest"),
    ]
    graph = helper.make_graph(
        nodes, "decoder",
        [helper.make_tensor_value_info("latent", TensorProto.FLOAT, ["batch", C, H, W])],
        [helper.make_tensor_value_info("mel", TensorProto.FLOAT, ["batch", 1, N_MELS, FRAMES])],
        [starts, ends, axes, scales])
    return save(graph, "decoder.onnx")


def unet():
    half = numpy_helper.from_array(np.array(0.5, np.float32), "half")
    zero = numpy_helper.from_array(np.array(0.0, np.float32), "zero")
    nodes = [
        helper.make_node("Mul", ["sample", "half"], ["scaled"]),
        helper.make_node("ReduceSum", ["temb"], ["temb_sum"], keepdims=0),
        helper.make_node("Mul", ["temb_sum", "zero"], ["nothing"]),
        helper.make_node("Add", ["scaled", "nothing"], ["noise"]),
    ]
    graph = helper.make_graph(
        nodes, "unet",
        [helper.make_tensor_value_info("sample", TensorProto.FLOAT, ["batch", C, H, W]),
         helper.make_tensor_value_info("temb", TensorProto.FLOAT, ["batch", EMB])],
        [helper.make_tensor_value_info("noise", TensorProto.FLOAT, ["batch", C, H, W])],
        [half, zero])
    return save(graph, "unet.onnx")


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    os.makedirs(OUT, exist_ok=True)
    files = {os.path.basename(p): sha256(p) for p in (encoder(), decoder(), unet())}
    manifest = {
        "format_version": 1,
        "name": "refrain-tiny-test",
        "version": 0,
        "parent": None,
        "created": "2026-11-25T00:00:00Z",
        "audio": {"sample_rate": 22050, "n_fft": 2048, "hop_length": 512, "win_length": 2048,
                  "n_mels": N_MELS, "frames": FRAMES, "fmin": 0.0, "fmax": 11025.0, "top_db": 80.0,
                  "griffin_lim_iters": 8},
        "latent": {"channels": C, "height": H, "width": W, "scale": 1.0},
        "schedule": {"num_train_timesteps": 1000, "beta_start": 0.0001, "beta_end": 0.02,
                     "beta_schedule": "linear", "prediction": "epsilon"},
        "unet": {"embedding_dim": EMB},
        "files": files,
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(json.dumps(files, indent=2))


if __name__ == "__main__":
    main()
