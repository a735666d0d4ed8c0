//! One ONNX network: a session, its I/O checked against the contract, and a typed `run`.
use super::{cuda_hint, ModelError, Provider};
use crate::runtime;
use ort::ep::{ExecutionProviderDispatch, CPU, CUDA};
use ort::session::Session;
use ort::value::{Tensor, ValueType};
use std::path::{Path, PathBuf};

/// An expected tensor dimension: the batch (dynamic, or fixed at export) or an exact size.
#[derive(Debug, Clone, Copy)]
pub(super) enum Dim {
    Batch,
    Exact(usize),
}

/// A session over one ONNX file.
pub(super) struct Net {
    pub(super) file: PathBuf,
    session: Session,
    /// The batch the graph was exported with (`None` when dynamic).
    pub(super) fixed_batch: Option<usize>,
}

/// The provider a session ended up on, and why when it is not the one asked for.
pub(super) struct Placement {
    pub(super) provider: &'static str,
    pub(super) warning: Option<String>,
}

impl Net {
    /// Creates the session, on CUDA when `provider` asks for it and it registers.
    pub(super) fn open(
        file: &Path,
        provider: Provider,
        threads: usize,
    ) -> Result<(Self, Placement), ModelError> {
        let info = runtime::init()?;
        if !file.is_file() {
            return Err(runtime::RuntimeError::ModelMissing {
                path: file.to_path_buf(),
            }
            .into());
        }
        let cuda_built = info.providers.iter().any(|p| p == "CUDAExecutionProvider");
        let wants_cuda = matches!(provider, Provider::Cuda | Provider::Auto) && cuda_built;
        let mut warning = match (provider, cuda_built) {
            (Provider::Cuda, false) => Some(format!(
                "CUDA was requested but the loaded ONNX Runtime ({}) has no CUDA provider; running on CPU \
                 (provision the GPU build with `cargo xtask ort --gpu`)",
                info.library.display()
            )),
            _ => None,
        };
        if wants_cuda {
            // error_on_failure: without it ONNX Runtime silently falls back to CPU.
            let cuda: ExecutionProviderDispatch = CUDA::default().build().error_on_failure();
            match build(file, threads, Some(cuda)) {
                Ok(session) => {
                    let net = Self::from_session(file, session);
                    return Ok((
                        net,
                        Placement {
                            provider: "cuda",
                            warning: None,
                        },
                    ));
                }
                Err(e) => {
                    tracing::debug!("CUDA provider for {}: {e}", file.display());
                    let message = cuda_hint::cuda_warning(file, &e.to_string());
                    if provider == Provider::Cuda {
                        warning = Some(message);
                    } else {
                        tracing::info!("{message}");
                    }
                }
            }
        }
        let session = build(file, threads, None)?;
        Ok((
            Self::from_session(file, session),
            Placement {
                provider: "cpu",
                warning,
            },
        ))
    }

    fn from_session(file: &Path, session: Session) -> Self {
        let fixed_batch = session
            .inputs()
            .first()
            .and_then(|i| i.dtype().tensor_shape().and_then(|s| s.first().copied()))
            .filter(|&b| b > 0)
            .map(|b| b as usize);
        Self {
            file: file.to_path_buf(),
            session,
            fixed_batch,
        }
    }

    /// Checks that inputs and outputs are exactly `inputs` / `outputs` by name and shape.
    pub(super) fn check_io(
        &self,
        inputs: &[(&str, &[Dim])],
        outputs: &[(&str, &[Dim])],
    ) -> Result<(), ModelError> {
        let io = |field: String, problem: String| ModelError::Io {
            file: self.file.clone(),
            field,
            problem,
        };
        for (kind, actual, expected) in [
            ("input", self.session.inputs(), inputs),
            ("output", self.session.outputs(), outputs),
        ] {
            let names: Vec<&str> = actual.iter().map(|o| o.name()).collect();
            let wanted: Vec<&str> = expected.iter().map(|(n, _)| *n).collect();
            if names.len() != wanted.len() || wanted.iter().any(|w| !names.contains(w)) {
                return Err(io(
                    format!("{kind}s"),
                    format!("expected {wanted:?}, found {names:?}"),
                ));
            }
            for (name, dims) in expected {
                let Some(outlet) = actual.iter().find(|o| o.name() == *name) else {
                    continue;
                };
                let ValueType::Tensor { shape, .. } = outlet.dtype() else {
                    return Err(io(format!("{kind} `{name}`"), "is not a tensor".into()));
                };
                if shape.len() != dims.len() {
                    return Err(io(
                        format!("{kind} `{name}`"),
                        format!("rank {} where {} is expected", shape.len(), dims.len()),
                    ));
                }
                for (axis, (&got, want)) in shape.iter().zip(dims.iter()).enumerate() {
                    if let Dim::Exact(n) = want {
                        if got != *n as i64 {
                            return Err(io(
                                format!("{kind} `{name}` dim {axis}"),
                                format!("expected {n}, found {got}"),
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs the network on named f32 inputs and returns the named output, checked finite.
    pub(super) fn run(
        &mut self,
        inputs: &[(&str, Vec<usize>, &[f32])],
        output: &str,
    ) -> Result<Vec<f32>, ModelError> {
        let fail = |message: String| ModelError::Inference {
            file: self.file.clone(),
            message,
        };
        let mut values = Vec::with_capacity(inputs.len());
        for (name, shape, data) in inputs {
            let tensor = Tensor::from_array((shape.clone(), data.to_vec()))
                .map_err(|e| fail(format!("input `{name}`: {e}")))?;
            values.push((name.to_string(), tensor));
        }
        let outputs = self.session.run(values).map_err(|e| fail(e.to_string()))?;
        let value = outputs
            .get(output)
            .ok_or_else(|| fail(format!("no output named `{output}`")))?;
        let (_, data) = value
            .try_extract_tensor::<f32>()
            .map_err(|e| fail(format!("output `{output}`: {e}")))?;
        if data.iter().any(|v| !v.is_finite()) {
            return Err(ModelError::NotFinite {
                file: self.file.clone(),
            });
        }
        Ok(data.to_vec())
    }
}

fn build(
    file: &Path,
    threads: usize,
    ep: Option<ExecutionProviderDispatch>,
) -> Result<Session, ModelError> {
    let info = runtime::init()?;
    let session_error =
        |message: String| ModelError::from(runtime::RuntimeError::Session { message });
    let eps = match ep {
        Some(ep) => vec![ep, CPU::default().build()],
        None => vec![CPU::default().build()],
    };
    let mut builder = Session::builder(info.environment())
        .map_err(|e| session_error(e.to_string()))?
        .with_intra_threads(threads)
        .map_err(|e| session_error(e.to_string()))?
        // Idle pool threads sleep instead of spinning: in a plugin they would otherwise burn the
        // cores the host's audio thread needs, and on a busy 2-core machine spinning made
        // 2 threads slower than 1 (48 vs 32 ms per UNet step, `bench generate`).
        .with_intra_op_spinning(false)
        .map_err(|e| session_error(e.to_string()))?
        .with_execution_providers(eps)
        .map_err(|e| session_error(e.to_string()))?;
    builder.commit_from_file(file).map_err(|e| {
        runtime::RuntimeError::ModelInvalid {
            path: file.to_path_buf(),
            message: e.to_string(),
        }
        .into()
    })
}
