//! A minimal reader for the `.npy` fixtures written by scripts/make_dsp_fixtures.py and
//! scripts/make_diffusers_fixtures.py (C-order, little-endian `<f4` or `<i2`, version 1.0
//! headers).
use std::path::{Path, PathBuf};

/// An array read from a `.npy` file, converted to f32.
pub struct Npy {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// The repository's `tests/fixtures/dsp` directory.
pub fn dsp_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/dsp")
}

/// Reads `name` from the DSP fixtures; i16 data is scaled by 1/32768 like the generator did.
pub fn read(name: &str) -> Npy {
    read_file(&dsp_fixtures().join(name))
}

/// Reads any `.npy` file of the supported kinds (also included by the trainer's tests).
pub fn read_file(path: &Path) -> Npy {
    let name = path.display();
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {name}: {e}"));
    assert_eq!(&bytes[..6], b"\x93NUMPY", "{name} is not a .npy file");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).expect("ascii header");
    assert!(
        header.contains("'fortran_order': False"),
        "{name}: need C order"
    );
    let shape_text = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .expect("shape");
    let shape: Vec<usize> = shape_text
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().expect("shape entry"))
        .collect();
    let body = &bytes[10 + header_len..];
    let data: Vec<f32> = if header.contains("'<f4'") {
        body.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    } else if header.contains("'<i2'") {
        body.chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]) as f32 / 32768.0)
            .collect()
    } else {
        panic!("{name}: unsupported dtype in header {header}")
    };
    assert_eq!(
        data.len(),
        shape.iter().product::<usize>(),
        "{name}: size/shape mismatch"
    );
    Npy { shape, data }
}
