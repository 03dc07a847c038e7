//! Turning the store's rows into records at start: parse and check every stored body, on all
//! cores, since a large registry's cold start is mostly JSON parsing. No IO here.

use serde_json::Value;

use crate::article::Article;
use crate::builtins;
use crate::decode;
use crate::ident;
use crate::records::Record;
use crate::store::{StoreError, StoredRecord};

/// Below this many rows one thread is faster than starting others.
const PARALLEL_FROM: usize = 4096;

/// The records of `rows`, in their order, without stored copies of built-ins.
pub fn decode_rows(rows: &[StoredRecord]) -> Result<Vec<Record>, StoreError> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8);
    if threads < 2 || rows.len() < PARALLEL_FROM {
        return decode_chunk(rows);
    }
    let chunk = rows.len().div_ceil(threads);
    let results: Vec<Result<Vec<Record>, StoreError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = rows
            .chunks(chunk)
            .map(|part| scope.spawn(move || decode_chunk(part)))
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker.join().unwrap_or_else(|_| {
                    Err(StoreError::BadRecord {
                        article: String::new(),
                        key: String::new(),
                        detail: "decoding a stored record failed".to_string(),
                    })
                })
            })
            .collect()
    });
    let mut records = Vec::with_capacity(rows.len());
    for part in results {
        records.extend(part?);
    }
    Ok(records)
}

fn decode_chunk(rows: &[StoredRecord]) -> Result<Vec<Record>, StoreError> {
    let mut records = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(record) = decode_row(row)? {
            records.push(record);
        }
    }
    Ok(records)
}

fn decode_row(row: &StoredRecord) -> Result<Option<Record>, StoreError> {
    let bad = |detail: String| StoreError::BadRecord {
        article: row.article.clone(),
        key: row.key.clone(),
        detail,
    };
    let article = Article::from_name(&row.article).ok_or_else(|| bad("unknown article".into()))?;
    let body: Value = serde_json::from_str(&row.body)
        .map_err(|error| bad(format!("body is not JSON: {error}")))?;
    // Stored records passed the identifier rules when they were written, maybe under a larger
    // limit than today's: loading never refuses them for their length.
    let record =
        ident::with_max_chars(usize::MAX, || decode::stored_body(article, &body)).map_err(bad)?;
    if record.key() != row.key {
        return Err(bad(format!("body has key {}", record.key())));
    }
    if builtins::is_builtin(article, &row.key) {
        tracing::warn!(article = %row.article, key = %row.key, "ignoring stored copy of a built-in record");
        return Ok(None);
    }
    Ok(Some(record))
}
