//! Field-by-field parsing and validation of `manifest.json`, so every message names its field.
use super::{Manifest, ManifestError, FORMAT_VERSION, REQUIRED_FILES};
use crate::spectrogram::SpectrogramError;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::path::Path;

/// Top-level keys a format-1 manifest may hold; anything else is most likely a typo.
const KNOWN_KEYS: [&str; 13] = [
    "format_version",
    "name",
    "version",
    "parent",
    "created",
    "audio",
    "latent",
    "schedule",
    "unet",
    "files",
    "batch_sizes",
    "training",
    "vocoder",
];

/// Parses the document, checks `format_version` before anything else (a future format may change
/// every other field, and "wrong format_version" is the useful message then), then decodes each
/// field on its own so a type error is reported with the field's name.
pub(super) fn parse(text: &str, path: &Path) -> Result<Manifest, ManifestError> {
    let doc: Value = serde_json::from_str(text).map_err(|source| ManifestError::Json {
        path: path.to_path_buf(),
        field: "(document)".into(),
        source,
    })?;
    let Value::Object(obj) = doc else {
        return Err(invalid(path, "(document)", "must be a JSON object".into()));
    };
    let format_version: u32 = field(&obj, "format_version", path)?;
    if format_version != FORMAT_VERSION {
        return Err(invalid(
            path,
            "format_version",
            format!("this engine reads format {FORMAT_VERSION}, got {format_version}"),
        ));
    }
    if let Some(key) = obj.keys().find(|k| !KNOWN_KEYS.contains(&k.as_str())) {
        return Err(invalid(path, key, "unknown field".into()));
    }
    Ok(Manifest {
        format_version,
        name: field(&obj, "name", path)?,
        version: field(&obj, "version", path)?,
        parent: optional(&obj, "parent", path)?,
        created: field(&obj, "created", path)?,
        audio: field(&obj, "audio", path)?,
        latent: field(&obj, "latent", path)?,
        schedule: field(&obj, "schedule", path)?,
        unet: field(&obj, "unet", path)?,
        files: field(&obj, "files", path)?,
        batch_sizes: optional(&obj, "batch_sizes", path)?,
        training: optional(&obj, "training", path)?,
        vocoder: optional(&obj, "vocoder", path)?,
    })
}

/// Checks the values of a parsed manifest (not the files it lists).
pub(super) fn check(m: &Manifest, path: &Path) -> Result<(), ManifestError> {
    let bad = |field: &str, problem: String| Err(invalid(path, field, problem));
    if m.format_version != FORMAT_VERSION {
        return bad(
            "format_version",
            format!("must be {FORMAT_VERSION}, got {}", m.format_version),
        );
    }
    if m.name.trim().is_empty() {
        return bad("name", "must not be empty".into());
    }
    match m.parent {
        Some(_) if m.version == 0 => return bad("parent", "the base (version 0) has none".into()),
        Some(p) if p >= m.version => {
            return bad(
                "parent",
                format!("must be below version {}, got {p}", m.version),
            )
        }
        _ => {}
    }
    if !is_rfc3339(&m.created) {
        return bad(
            "created",
            format!(
                "must be RFC 3339 like 2026-11-01T12:00:00Z, got {:?}",
                m.created
            ),
        );
    }
    m.audio.validate().map_err(|e| match e {
        SpectrogramError::InvalidConfig { field, problem } => {
            invalid(path, &format!("audio.{field}"), problem)
        }
        other => invalid(path, "audio", other.to_string()),
    })?;
    let l = &m.latent;
    for (name, v) in [
        ("channels", l.channels),
        ("height", l.height),
        ("width", l.width),
    ] {
        if v == 0 {
            return bad(&format!("latent.{name}"), "must be > 0".into());
        }
    }
    if !(l.scale.is_finite() && l.scale > 0.0) {
        return bad(
            "latent.scale",
            format!("must be finite and > 0, got {}", l.scale),
        );
    }
    let s = &m.schedule;
    // Fewer than two timesteps leaves DDIM nothing to step between.
    if s.num_train_timesteps < 2 {
        return bad(
            "schedule.num_train_timesteps",
            format!("must be ≥ 2, got {}", s.num_train_timesteps),
        );
    }
    if !(s.beta_start > 0.0 && s.beta_start < 1.0) {
        return bad(
            "schedule.beta_start",
            format!("must be in (0, 1), got {}", s.beta_start),
        );
    }
    if !(s.beta_end >= s.beta_start && s.beta_end < 1.0) {
        return bad(
            "schedule.beta_end",
            format!("must be in [beta_start, 1), got {}", s.beta_end),
        );
    }
    // Odd widths would work (diffusers zero-pads), but a width below 2 has no frequencies at all.
    if m.unet.embedding_dim < 2 {
        return bad(
            "unet.embedding_dim",
            format!("must be ≥ 2, got {}", m.unet.embedding_dim),
        );
    }
    check_files(m, path)?;
    if let Some(sizes) = &m.batch_sizes {
        if sizes.is_empty() {
            return bad(
                "batch_sizes",
                "must list at least one size (or be omitted)".into(),
            );
        }
        if sizes.contains(&0) {
            return bad("batch_sizes", "sizes must be ≥ 1".into());
        }
    }
    Ok(())
}

/// `files` must list the three networks, by plain names (a manifest must not be able to point
/// the loader outside its own directory), each with a 64-digit hex sha256.
fn check_files(m: &Manifest, path: &Path) -> Result<(), ManifestError> {
    if m.files.is_empty() {
        return Err(invalid(path, "files", "must not be empty".into()));
    }
    for required in REQUIRED_FILES {
        if !m.files.contains_key(required) {
            return Err(invalid(path, "files", format!("must list {required}")));
        }
    }
    for (name, digest) in &m.files {
        let field = format!("files.{name}");
        let plain = !name.is_empty()
            && name != "."
            && name != ".."
            && !name.contains(['/', '\\'])
            && !name.contains('\0');
        if !plain {
            return Err(invalid(path, &field, "must be a plain file name".into()));
        }
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid(
                path,
                &field,
                format!("must be a 64-digit hex sha256, got {digest:?}"),
            ));
        }
    }
    Ok(())
}

fn invalid(path: &Path, field: &str, problem: String) -> ManifestError {
    ManifestError::Invalid {
        path: path.to_path_buf(),
        field: field.to_string(),
        problem,
    }
}

fn field<T: DeserializeOwned>(
    obj: &Map<String, Value>,
    key: &str,
    path: &Path,
) -> Result<T, ManifestError> {
    let value = obj
        .get(key)
        .ok_or_else(|| invalid(path, key, "missing".into()))?;
    decode(value, key, path)
}

fn optional<T: DeserializeOwned>(
    obj: &Map<String, Value>,
    key: &str,
    path: &Path,
) -> Result<Option<T>, ManifestError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => decode(value, key, path).map(Some),
    }
}

fn decode<T: DeserializeOwned>(value: &Value, key: &str, path: &Path) -> Result<T, ManifestError> {
    T::deserialize(value).map_err(|source| ManifestError::Json {
        path: path.to_path_buf(),
        field: key.to_string(),
        source,
    })
}

/// RFC 3339 date-time: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, fields in range. Checked by hand
/// because no date crate is a dependency; the day is not checked against the month's length.
pub(super) fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| s.get(r).and_then(digits_of);
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return false;
    }
    if b[13] != b':' || b[16] != b':' {
        return false;
    }
    let in_range = |v: Option<u32>, lo: u32, hi: u32| v.is_some_and(|v| (lo..=hi).contains(&v));
    let date_ok =
        digits(0..4).is_some() && in_range(digits(5..7), 1, 12) && in_range(digits(8..10), 1, 31);
    let time_ok = in_range(digits(11..13), 0, 23)
        && in_range(digits(14..16), 0, 59)
        && in_range(digits(17..19), 0, 60);
    if !(date_ok && time_ok) {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    match rest.as_bytes() {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', _, _, b':', _, _] => {
            let part = |r: std::ops::Range<usize>| rest.get(r).and_then(digits_of);
            in_range(part(1..3), 0, 23) && in_range(part(4..6), 0, 59)
        }
        _ => false,
    }
}

fn digits_of(s: &str) -> Option<u32> {
    if s.bytes().all(|c| c.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}
