//! Row helpers the typed queries share: existence checks, and rows decoded into our own errors.

use rusqlite::{Connection, OptionalExtension, Params, Row};

use super::error::{FeedbackError, Result};

/// Fails with [`FeedbackError::NotFound`] naming `what` unless `table` has a row with this id.
/// `table` is always one of our own table names, never input.
pub(crate) fn require_row(c: &Connection, table: &str, what: &'static str, id: i64) -> Result<()> {
    let sql = format!("SELECT 1 FROM {table} WHERE id = ?1");
    let found: Option<i64> = c
        .prepare_cached(&sql)?
        .query_row([id], |r| r.get(0))
        .optional()?;
    match found {
        Some(_) => Ok(()),
        None => Err(FeedbackError::NotFound { what, id }),
    }
}

/// Every row `sql` selects, in order, each decoded by `decode`, which (unlike a `query_map`
/// closure) may fail with a [`FeedbackError`] such as a corrupt latent blob.
pub(crate) fn collect_rows<T>(
    c: &Connection,
    sql: &str,
    params: impl Params,
    mut decode: impl FnMut(&Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = c.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(decode(row)?);
    }
    Ok(out)
}
