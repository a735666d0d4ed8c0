//! Model versions the trainer published, with their metrics (the per-version report reads them).

use rusqlite::{params, OptionalExtension};

use super::error::{FeedbackError, Result};
use super::store::FeedbackStore;
use super::types::now_ms;

/// A registered model version.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelVersion {
    /// Version number (0 = shipped base).
    pub version: u32,
    /// The version it was fine-tuned from.
    pub parent: Option<u32>,
    /// When it was registered (unix ms); [`super::Since::Version`] counts ratings after this.
    pub created_ms: i64,
    /// Free-form metrics (ratings used, losses, win rate, ...), as JSON.
    pub metrics: serde_json::Value,
}

impl FeedbackStore {
    /// Registers `version` (made from `parent`) with its metrics. Fails with
    /// [`FeedbackError::Duplicate`] if it is already registered.
    pub fn add_model_version(
        &mut self,
        version: u32,
        parent: Option<u32>,
        metrics: &serde_json::Value,
    ) -> Result<()> {
        let json = metrics.to_string();
        let now = now_ms();
        self.write(|tx| {
            let exists: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM model_versions WHERE version = ?1",
                    [version],
                    |r| r.get(0),
                )
                .optional()?;
            if exists.is_some() {
                return Err(FeedbackError::Duplicate {
                    what: "model version",
                    id: i64::from(version),
                });
            }
            tx.execute(
                "INSERT INTO model_versions (version, parent, created_ms, metrics)
                 VALUES (?1, ?2, ?3, ?4)",
                params![version, parent, now, json],
            )?;
            Ok(())
        })?;
        tracing::info!(version, ?parent, "registered model version");
        Ok(())
    }

    /// Replaces a registered version's metrics (e.g. the win rate, known only after its clips
    /// were rated).
    pub fn set_model_metrics(&mut self, version: u32, metrics: &serde_json::Value) -> Result<()> {
        let json = metrics.to_string();
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE model_versions SET metrics = ?1 WHERE version = ?2",
                params![json, version],
            )?;
            if n == 0 {
                return Err(FeedbackError::NotFound {
                    what: "model version",
                    id: i64::from(version),
                });
            }
            Ok(())
        })
    }

    /// Every registered version, lowest first.
    pub fn model_versions(&self) -> Result<Vec<ModelVersion>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT version, parent, created_ms, metrics FROM model_versions ORDER BY version",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, u32>(0)?,
                    r.get::<_, Option<u32>>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (version, parent, created_ms, json) = row?;
                let metrics =
                    serde_json::from_str(&json).map_err(|e| FeedbackError::CorruptRow {
                        table: "model_versions",
                        column: "metrics",
                        id: i64::from(version),
                        reason: e.to_string(),
                    })?;
                out.push(ModelVersion {
                    version,
                    parent,
                    created_ms,
                    metrics,
                });
            }
            Ok(out)
        })
    }
}
