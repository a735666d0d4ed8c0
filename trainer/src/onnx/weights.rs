//! Reading and editing exported ONNX models: graph I/O renaming and moving parameters between
//! a burn module and a graph's initializers.
//!
//! Fine-tuned model versions reuse their parent's graph and only replace initializers
//! (docs/ARCHITECTURE.md §3), so a fine-tune never depends on the exporter. The link between a burn
//! parameter and an initializer is a [`NameMap`] recorded at export time and saved next to the
//! `.onnx` file.
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Tensor, TensorData};
use onnx_ir::{Message, ModelProto, TensorProto};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// ONNX `TensorProto.DataType` for 32-bit floats.
const ONNX_FLOAT: i32 = 1;

/// What went wrong reading, editing or matching an ONNX model.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    /// The bytes are not an ONNX model.
    #[error("not a valid ONNX model: {0}")]
    Parse(String),
    /// Serialising the edited model failed.
    #[error("could not serialise the ONNX model: {0}")]
    Serialize(String),
    /// The graph does not have the inputs/outputs expected.
    #[error("ONNX graph has {found} {kind}s, expected {expected}")]
    Boundary {
        /// `input` or `output`.
        kind: &'static str,
        /// How many the graph has.
        found: usize,
        /// How many names were given.
        expected: usize,
    },
    /// A parameter the name map lists has no initializer in the graph.
    #[error("parameter `{param}` maps to initializer `{initializer}`, which the graph lacks")]
    MissingInitializer {
        /// Burn parameter path.
        param: String,
        /// Initializer name from the map.
        initializer: String,
    },
    /// A module parameter missing from the name map (the module does not match the graph).
    #[error("parameter `{0}` is not in the name map: the module does not match this graph")]
    UnmappedParam(String),
    /// Shapes of a parameter and its initializer differ.
    #[error("parameter `{param}` has shape {module:?}, initializer has {onnx:?}")]
    Shape {
        /// Burn parameter path.
        param: String,
        /// The module's shape.
        module: Vec<usize>,
        /// The initializer's dims.
        onnx: Vec<i64>,
    },
    /// An initializer that is not fp32 or is malformed.
    #[error("initializer `{name}`: {reason}")]
    BadInitializer {
        /// Initializer name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A tensor could not be read back from burn.
    #[error("parameter `{param}`: {reason}")]
    Tensor {
        /// Burn parameter path.
        param: String,
        /// burn's message.
        reason: String,
    },
}

/// Burn parameter path (`down.0.blocks.1.conv1.weight`) → ONNX initializer name.
///
/// burn-onnx 0.22 happens to name initializers by the same path, so today the map is the
/// identity; keeping it explicit means a future exporter naming scheme only changes how the
/// map is built, not the versions already published.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameMap {
    /// Path → initializer, sorted for stable files.
    pub params: BTreeMap<String, String>,
}

impl NameMap {
    /// Builds the map for `module` against an exported graph: every float parameter must have
    /// an initializer of the same shape under its path.
    pub fn build<M: Module>(onnx: &[u8], module: &M) -> Result<Self, OnnxError> {
        let model = parse(onnx)?;
        let inits = initializer_index(&model);
        let mut params = BTreeMap::new();
        for (path, shape) in param_shapes(module) {
            let init = inits
                .get(path.as_str())
                .ok_or_else(|| OnnxError::MissingInitializer {
                    param: path.clone(),
                    initializer: path.clone(),
                })?;
            check_shape(&path, &shape, init)?;
            params.insert(path.clone(), path);
        }
        Ok(Self { params })
    }
}

/// Parses ONNX bytes.
pub fn parse(onnx: &[u8]) -> Result<ModelProto, OnnxError> {
    ModelProto::parse_from_bytes(onnx).map_err(|e| OnnxError::Parse(e.to_string()))
}

/// Serialises a model.
pub fn to_bytes(model: &ModelProto) -> Result<Vec<u8>, OnnxError> {
    model
        .write_to_bytes()
        .map_err(|e| OnnxError::Serialize(e.to_string()))
}

/// Renames the graph inputs and outputs, in order, and every node edge that uses them.
///
/// The exporter names them `tensor_<id>`; the engine looks them up by the contract names.
pub fn rename_io(onnx: &[u8], inputs: &[&str], outputs: &[&str]) -> Result<Vec<u8>, OnnxError> {
    let mut model = parse(onnx)?;
    let graph = model.graph.mut_or_insert_default();
    for (kind, found, expected) in [
        ("input", graph.input.len(), inputs.len()),
        ("output", graph.output.len(), outputs.len()),
    ] {
        if found != expected {
            return Err(OnnxError::Boundary {
                kind,
                found,
                expected,
            });
        }
    }
    let mut renames = HashMap::new();
    for (value, new) in graph.input.iter_mut().zip(inputs) {
        renames.insert(std::mem::replace(&mut value.name, (*new).into()), *new);
    }
    for (value, new) in graph.output.iter_mut().zip(outputs) {
        renames.insert(std::mem::replace(&mut value.name, (*new).into()), *new);
    }
    for node in graph.node.iter_mut() {
        for edge in node.input.iter_mut().chain(node.output.iter_mut()) {
            if let Some(new) = renames.get(edge.as_str()) {
                *edge = (*new).into();
            }
        }
    }
    for value in graph.value_info.iter_mut() {
        if let Some(new) = renames.get(value.name.as_str()) {
            value.name = (*new).into();
        }
    }
    to_bytes(&model)
}

/// Writes `module`'s parameters into the initializers of `onnx` that `names` maps them to.
pub fn patch_onnx_initializers<M: Module>(
    onnx: &[u8],
    module: &M,
    names: &NameMap,
) -> Result<Vec<u8>, OnnxError> {
    let mut model = parse(onnx)?;
    let mut positions = HashMap::new();
    for (i, init) in model.graph.initializer.iter().enumerate() {
        positions.insert(init.name.clone(), i);
    }
    for (path, data) in param_values(module) {
        let name = names
            .params
            .get(&path)
            .ok_or_else(|| OnnxError::UnmappedParam(path.clone()))?;
        let &i = positions
            .get(name)
            .ok_or_else(|| OnnxError::MissingInitializer {
                param: path.clone(),
                initializer: name.clone(),
            })?;
        let init = &mut model.graph.mut_or_insert_default().initializer[i];
        check_shape(&path, &data.shape().to_vec(), init)?;
        let values = data.try_to_vec::<f32>().map_err(|e| OnnxError::Tensor {
            param: path.clone(),
            reason: format!("{e:?}"),
        })?;
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        init.float_data.clear();
        init.raw_data = bytes.into();
    }
    to_bytes(&model)
}

/// Loads `module`'s parameters from the initializers of `onnx` that `names` maps them to.
///
/// Everything is checked (names, shapes, dtypes) before the module is touched, so an error
/// never leaves a half-loaded module behind.
pub fn load_from_onnx<M: Module>(onnx: &[u8], module: M, names: &NameMap) -> Result<M, OnnxError> {
    let model = parse(onnx)?;
    let inits = initializer_index(&model);
    let mut values = HashMap::new();
    for (path, shape) in param_shapes(&module) {
        let name = names
            .params
            .get(&path)
            .ok_or_else(|| OnnxError::UnmappedParam(path.clone()))?;
        let init = inits
            .get(name.as_str())
            .ok_or_else(|| OnnxError::MissingInitializer {
                param: path.clone(),
                initializer: name.clone(),
            })?;
        check_shape(&path, &shape, init)?;
        values.insert(path, TensorData::new(read_f32(init)?, shape));
    }
    let mut loader = Loader {
        path: Vec::new(),
        values,
    };
    // Mapping a lazily initialised parameter draws its random start first (then replaces it):
    // draws from burn's one generator that must not land inside another thread's seeded
    // initialisation.
    let _rng = crate::training::seeded_init_lock();
    Ok(module.map(&mut loader))
}

fn initializer_index(model: &ModelProto) -> HashMap<&str, &TensorProto> {
    model
        .graph
        .initializer
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect()
}

fn check_shape(path: &str, shape: &[usize], init: &TensorProto) -> Result<(), OnnxError> {
    let same =
        init.dims.len() == shape.len() && init.dims.iter().zip(shape).all(|(&d, &s)| d == s as i64);
    if same {
        Ok(())
    } else {
        Err(OnnxError::Shape {
            param: path.into(),
            module: shape.to_vec(),
            onnx: init.dims.clone(),
        })
    }
}

fn read_f32(init: &TensorProto) -> Result<Vec<f32>, OnnxError> {
    let bad = |reason: String| OnnxError::BadInitializer {
        name: init.name.clone(),
        reason,
    };
    if init.data_type != ONNX_FLOAT {
        return Err(bad(format!("data type {} is not float32", init.data_type)));
    }
    let count: i64 = init.dims.iter().product();
    let values: Vec<f32> = if !init.raw_data.is_empty() {
        init.raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    } else {
        init.float_data.clone()
    };
    if values.len() as i64 != count {
        return Err(bad(format!(
            "{} values for dims {:?}",
            values.len(),
            init.dims
        )));
    }
    Ok(values)
}

/// Every float parameter's dotted path and shape, in visit order.
fn param_shapes<M: Module>(module: &M) -> Vec<(String, Vec<usize>)> {
    let mut visitor = Collector {
        path: Vec::new(),
        out: Vec::new(),
        data: false,
    };
    module.visit(&mut visitor);
    visitor
        .out
        .into_iter()
        .map(|(path, shape, _)| (path, shape))
        .collect()
}

/// Every float parameter's dotted path and values.
fn param_values<M: Module>(module: &M) -> Vec<(String, TensorData)> {
    let mut visitor = Collector {
        path: Vec::new(),
        out: Vec::new(),
        data: true,
    };
    module.visit(&mut visitor);
    visitor
        .out
        .into_iter()
        .filter_map(|(path, _, data)| data.map(|d| (path, d)))
        .collect()
}

/// Collects paths the way burn-onnx's exporter names initializers: module names joined by `.`.
struct Collector {
    path: Vec<String>,
    out: Vec<(String, Vec<usize>, Option<TensorData>)>,
    data: bool,
}

impl ModuleVisitor for Collector {
    fn enter_module(&mut self, name: &str, _container: &str) {
        self.path.push(name.into());
    }

    fn exit_module(&mut self, _name: &str, _container: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let shape = param.lazy_shape().to_vec();
        let data = self.data.then(|| param.val().into_data());
        self.out.push((self.path.join("."), shape, data));
    }
}

/// Replaces each float parameter by the checked value for its path, keeping its id and
/// gradient setting (so an optimizer's state still lines up after a load).
struct Loader {
    path: Vec<String>,
    values: HashMap<String, TensorData>,
}

impl ModuleMapper for Loader {
    fn enter_module(&mut self, name: &str, _container: &str) {
        self.path.push(name.into());
    }

    fn exit_module(&mut self, _name: &str, _container: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(data) = self.values.remove(&self.path.join(".")) else {
            return param;
        };
        param.map(|old| {
            let require_grad = old.is_require_grad();
            let new = Tensor::<D>::from_data(data, &old.device());
            if require_grad {
                new.require_grad()
            } else {
                new
            }
        })
    }
}
