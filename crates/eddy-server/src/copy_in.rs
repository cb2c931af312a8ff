//! `COPY t FROM STDIN`: parses the text or CSV stream as it arrives, a chunk of rows at a time,
//! into the statement's write set. Nothing is visible until the COPY completes, and a bad row
//! fails the whole COPY with its line number, as in PostgreSQL.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, StringArray, StringBuilder};
use eddy_catalog::{ReadContext, TableEntry};
use eddy_common::datetime::TimeSettings;
use eddy_common::{Error, Result, SqlState};
use eddy_sql::copy_options::{CopyFormat, CopyOptions};

use crate::conform;
use crate::writes::{OnConflict, StatementWrites, insert_batch};

/// Rows parsed before they are converted and written as one batch.
const ROWS_PER_CHUNK_MAX: usize = 8192;
/// A single row longer than this is refused rather than buffered without bound.
const ROW_BYTES_MAX: usize = 256 << 20;

/// What an omitted column gets: one value for the whole COPY (`now()`, a constant), or a value
/// per row (`nextval`, `random()`), evaluated for each batch.
pub enum CopyDefault {
    Constant(datafusion::common::ScalarValue),
    PerRow(Arc<dyn datafusion::physical_expr::PhysicalExpr>),
}

impl CopyDefault {
    fn values(&self, n: usize) -> Result<datafusion::arrow::array::ArrayRef> {
        match self {
            CopyDefault::Constant(v) => Ok(v.to_array_of_size(n)?),
            CopyDefault::PerRow(e) => {
                let opts =
                    datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(n));
                let rows = datafusion::arrow::array::RecordBatch::try_new_with_options(
                    Arc::new(datafusion::arrow::datatypes::Schema::empty()),
                    vec![],
                    &opts,
                )?;
                Ok(e.evaluate(&rows)?.into_array(n)?)
            }
        }
    }
}

pub struct CopyIn {
    entry: Arc<TableEntry>,
    /// Table column index of each field in the data.
    columns: Vec<usize>,
    /// Values for omitted columns that have a DEFAULT.
    defaults: Vec<(usize, CopyDefault)>,
    opts: CopyOptions,
    read: ReadContext,
    pub writes: StatementWrites,
    /// The session's TimeZone and DateStyle, by which dates and timestamps are read.
    time: TimeSettings,
    buf: Vec<u8>,
    /// Line number (1-based) of the next line to consume.
    line: u64,
    header_pending: bool,
    ended: bool,
    /// One builder per data column: parsed fields go straight into Arrow.
    builders: Vec<StringBuilder>,
    /// Reused per-record field buffers: (is NULL, text).
    scratch: Vec<(bool, String)>,
    field_lines: Vec<u64>,
    pub rows: u64,
    /// The first error; once set, data is ignored until the client ends the COPY.
    pub failed: Option<Error>,
}

impl CopyIn {
    pub fn new(
        entry: Arc<TableEntry>,
        columns: Vec<usize>,
        defaults: Vec<(usize, CopyDefault)>,
        opts: CopyOptions,
        read: ReadContext,
        bulk: bool,
        time: TimeSettings,
    ) -> CopyIn {
        let n = columns.len();
        CopyIn {
            entry,
            columns,
            defaults,
            header_pending: opts.header,
            opts,
            read,
            writes: if bulk {
                StatementWrites::bulk()
            } else {
                StatementWrites::default()
            },
            time,
            buf: vec![],
            line: 1,
            ended: false,
            builders: (0..n).map(|_| StringBuilder::new()).collect(),
            scratch: vec![],
            field_lines: vec![],
            rows: 0,
            failed: None,
        }
    }

    /// The epoch of the snapshot this COPY checked keys against.
    pub fn epoch_started(&self) -> u64 {
        self.read.snapshot.epoch()
    }

    pub fn columns(&self) -> usize {
        self.columns.len()
    }

    pub fn feed(&mut self, data: &[u8]) {
        if self.failed.is_some() || self.ended {
            return;
        }
        self.buf.extend_from_slice(data);
        if let Err(e) = self.consume(false) {
            self.failed = Some(e);
        }
    }

    /// Ends the input; returns the writes to commit.
    pub fn finish(mut self) -> Result<(StatementWrites, u64)> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        self.consume(true)?;
        self.flush()?;
        Ok((self.writes, self.rows))
    }

    fn context(&self, line: u64) -> String {
        format!("COPY {}, line {line}", self.entry.def.name)
    }

    /// Parses every complete record in the buffer (and, at the end, a final unterminated one).
    fn consume(&mut self, at_end: bool) -> Result<()> {
        let mut start = 0;
        // The buffer is taken out so records are parsed in place while `self` changes.
        let buf = std::mem::take(&mut self.buf);
        let mut result = Ok(());
        while !self.ended {
            let Some((end, next)) = record_end(&buf, &self.opts, start, at_end) else {
                break;
            };
            let record = &buf[start..end];
            let line = self.line;
            self.line += memchr_count(record) + 1;
            start = next;
            result = self.record(record, line);
            if result.is_err() {
                break;
            }
        }
        self.buf = buf;
        self.buf.drain(..start);
        result?;
        if self.buf.len() > ROW_BYTES_MAX {
            return Err(
                Error::new(SqlState::PROGRAM_LIMIT_EXCEEDED, "COPY row is too long")
                    .with_context(self.context(self.line)),
            );
        }
        Ok(())
    }

    fn record(&mut self, record: &[u8], line: u64) -> Result<()> {
        if record == b"\\." {
            self.ended = true;
            return Ok(());
        }
        if self.header_pending {
            self.header_pending = false;
            return Ok(());
        }
        let text = std::str::from_utf8(record).map_err(|_| {
            Error::new(
                SqlState::INVALID_TEXT_REPRESENTATION,
                "invalid byte sequence for encoding \"UTF8\"",
            )
            .with_context(self.context(line))
        })?;
        let mut fields = std::mem::take(&mut self.scratch);
        let parsed = match self.opts.format {
            CopyFormat::Text => split_text(text, &self.opts, &mut fields),
            CopyFormat::Csv => split_csv(text, &self.opts, &mut fields),
        };
        let n = match parsed {
            Ok(n) => n,
            Err(e) => {
                self.scratch = fields;
                return Err(e.with_context(self.context(line)));
            }
        };
        let result = self.append(&fields[..n], line);
        self.scratch = fields;
        result
    }

    fn append(&mut self, fields: &[(bool, String)], line: u64) -> Result<()> {
        if fields.len() < self.columns.len() {
            let missing = &self.entry.def.columns[self.columns[fields.len()]].name;
            return Err(Error::new(
                SqlState::BAD_COPY_FILE_FORMAT,
                format!("missing data for column \"{missing}\""),
            )
            .with_context(self.context(line)));
        }
        if fields.len() > self.columns.len() {
            return Err(Error::new(
                SqlState::BAD_COPY_FILE_FORMAT,
                "extra data after last expected column",
            )
            .with_context(self.context(line)));
        }
        for (b, (null, text)) in self.builders.iter_mut().zip(fields) {
            if *null {
                b.append_null();
            } else {
                b.append_value(text);
            }
        }
        self.field_lines.push(line);
        if self.field_lines.len() >= ROWS_PER_CHUNK_MAX {
            self.flush()?;
        }
        Ok(())
    }

    /// Converts the pending rows to a batch and writes it.
    fn flush(&mut self) -> Result<()> {
        let n = self.field_lines.len();
        if n == 0 {
            return Ok(());
        }
        let table_cols = self.entry.def.columns.len();
        let mut arrays: Vec<Option<ArrayRef>> = vec![None; table_cols];
        for (i, &col) in self.columns.iter().enumerate() {
            let strings: ArrayRef = Arc::new(self.builders[i].finish());
            let def = &self.entry.def.columns[col];
            let converted = conform::from_text(strings.clone(), def, &self.time).map_err(|e| {
                // Name the line and value that failed, as PostgreSQL's CONTEXT does.
                let s = strings
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .expect("strings");
                let bad = (0..n).find(|&r| {
                    !s.is_null(r)
                        && conform::from_text(
                            Arc::new(StringArray::from(vec![s.value(r)])),
                            def,
                            &self.time,
                        )
                        .is_err()
                });
                match bad {
                    Some(r) => e.with_context(format!(
                        "{}, column {}: \"{}\"",
                        self.context(self.field_lines[r]),
                        def.name,
                        s.value(r)
                    )),
                    None => e,
                }
            })?;
            arrays[col] = Some(converted);
        }
        for (col, default) in &self.defaults {
            let def = &self.entry.def.columns[*col];
            arrays[*col] = Some(conform::cast_column(default.values(n)?, def)?);
        }
        let mut columns = Vec::with_capacity(table_cols);
        for (i, a) in arrays.into_iter().enumerate() {
            columns.push(match a {
                Some(a) => a,
                None => datafusion::arrow::array::new_null_array(
                    &self.entry.def.columns[i].ty.to_arrow(),
                    n,
                ),
            });
        }
        let first_line = self.field_lines[0];
        let last_line = *self.field_lines.last().expect("rows");
        self.field_lines.clear();
        let batch = conform::conform(&self.entry, columns, n).map_err(|e| {
            if n == 1 {
                e.with_context(self.context(first_line))
            } else {
                e.with_context(format!(
                    "COPY {}, lines {first_line}-{last_line}",
                    self.entry.def.name
                ))
            }
        })?;
        insert_batch(
            &self.entry,
            &self.read,
            &batch,
            OnConflict::Error,
            &mut self.writes,
        )?;
        self.rows += n as u64;
        Ok(())
    }
}

fn memchr_count(b: &[u8]) -> u64 {
    b.iter().filter(|c| **c == b'\n').count() as u64
}

/// Where the record starting at `start` ends (exclusive, without its newline) and where the
/// next one starts. CSV records may span lines inside quotes.
fn record_end(
    buf: &[u8],
    opts: &CopyOptions,
    start: usize,
    at_end: bool,
) -> Option<(usize, usize)> {
    let b = &buf[start..];
    if b.is_empty() {
        return None;
    }
    let csv = opts.format == CopyFormat::Csv;
    if !csv {
        // Text format: a row ends at the first newline not preceded by a backslash escape.
        let mut i = 0;
        while let Some(p) = b[i..].iter().position(|c| *c == b'\n' || *c == b'\\') {
            let at = i + p;
            if b[at] == b'\\' {
                i = at + 2;
                if i > b.len() {
                    break;
                }
                continue;
            }
            let end = if at > 0 && b[at - 1] == b'\r' {
                at - 1
            } else {
                at
            };
            return Some((start + end, start + at + 1));
        }
    } else {
        let mut in_quotes = false;
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if c == opts.quote {
                in_quotes = !in_quotes;
            } else if in_quotes && c == opts.escape && opts.escape != opts.quote {
                i += 1; // skip the escaped character
            } else if c == b'\n' && !in_quotes {
                let end = if i > 0 && b[i - 1] == b'\r' { i - 1 } else { i };
                return Some((start + end, start + i + 1));
            }
            i += 1;
        }
    }
    if at_end {
        let end = if b.last() == Some(&b'\r') {
            b.len() - 1
        } else {
            b.len()
        };
        return Some((start + end, start + b.len()));
    }
    None
}

/// Returns the next reusable field slot, cleared.
fn slot(out: &mut Vec<(bool, String)>, n: usize) -> &mut (bool, String) {
    if out.len() <= n {
        out.push((false, String::new()));
    }
    let f = &mut out[n];
    f.0 = false;
    f.1.clear();
    f
}

/// Splits a text-format line into `out` (reusing its strings), undoing backslash escapes; the
/// NULL string (`\N`) is NULL. Returns the number of fields.
fn split_text(line: &str, opts: &CopyOptions, out: &mut Vec<(bool, String)>) -> Result<usize> {
    let delim = opts.delimiter;
    let b = line.as_bytes();
    let mut n = 0;
    let mut start = 0;
    loop {
        let end = b[start..]
            .iter()
            .position(|c| *c == delim)
            .map(|p| start + p);
        // an escaped delimiter (`\<delim>`) belongs to the field: find the real end
        let mut end = end;
        if b[start..end.unwrap_or(b.len())].contains(&b'\\') {
            let mut i = start;
            end = None;
            while i < b.len() {
                if b[i] == b'\\' {
                    i += 2;
                    continue;
                }
                if b[i] == delim {
                    end = Some(i);
                    break;
                }
                i += 1;
            }
        }
        let stop = end.unwrap_or(b.len());
        let raw = &line[start..stop.min(line.len())];
        let f = slot(out, n);
        if raw == opts.null {
            f.0 = true;
        } else if !raw.contains('\\') {
            f.1.push_str(raw);
        } else {
            unescape_text(raw, &mut f.1);
        }
        n += 1;
        match end {
            Some(e) => start = e + 1,
            None => break,
        }
    }
    Ok(n)
}

fn unescape_text(raw: &str, cur: &mut String) {
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            cur.push(c);
            continue;
        }
        let Some(e) = chars.next() else {
            cur.push('\\');
            break;
        };
        match e {
            'b' => cur.push('\u{8}'),
            'f' => cur.push('\u{c}'),
            'n' => cur.push('\n'),
            'r' => cur.push('\r'),
            't' => cur.push('\t'),
            'v' => cur.push('\u{b}'),
            'x' => {
                let mut v = 0u32;
                let mut k = 0;
                while k < 2 && chars.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                    v = v * 16 + chars.next().and_then(|d| d.to_digit(16)).unwrap_or(0);
                    k += 1;
                }
                if k == 0 {
                    cur.push('x');
                } else {
                    cur.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                }
            }
            '0'..='7' => {
                let mut v = e.to_digit(8).unwrap_or(0);
                let mut k = 1;
                while k < 3 && chars.peek().is_some_and(|c| ('0'..='7').contains(c)) {
                    v = v * 8 + chars.next().and_then(|d| d.to_digit(8)).unwrap_or(0);
                    k += 1;
                }
                cur.push(char::from_u32(v).unwrap_or('\u{fffd}'));
            }
            other => cur.push(other),
        }
    }
}

/// Splits a CSV record into `out`: quoted fields keep delimiters and newlines, an unquoted
/// field equal to the NULL string is NULL, a quoted one never is. Returns the field count.
fn split_csv(rec: &str, opts: &CopyOptions, out: &mut Vec<(bool, String)>) -> Result<usize> {
    let b = rec.as_bytes();
    let (d, q, e) = (opts.delimiter, opts.quote, opts.escape);
    let mut n = 0;
    let mut i = 0;
    let mut val = Vec::new();
    loop {
        val.clear();
        let mut quoted = false;
        loop {
            if i >= b.len() || b[i] == d {
                break;
            }
            if b[i] == q {
                quoted = true;
                i += 1;
                loop {
                    if i >= b.len() {
                        return Err(Error::new(
                            SqlState::BAD_COPY_FILE_FORMAT,
                            "unterminated CSV quoted field",
                        ));
                    }
                    if b[i] == e && e != q && b.get(i + 1).is_some_and(|c| *c == q || *c == e) {
                        val.push(b[i + 1]);
                        i += 2;
                    } else if b[i] == q {
                        if e == q && b.get(i + 1) == Some(&q) {
                            val.push(q);
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    } else {
                        val.push(b[i]);
                        i += 1;
                    }
                }
            } else {
                val.push(b[i]);
                i += 1;
            }
        }
        let s = std::str::from_utf8(&val).map_err(|_| {
            Error::new(
                SqlState::INVALID_TEXT_REPRESENTATION,
                "invalid byte sequence for encoding \"UTF8\"",
            )
        })?;
        let f = slot(out, n);
        if !quoted && s == opts.null {
            f.0 = true;
        } else {
            f.1.push_str(s);
        }
        n += 1;
        if i >= b.len() {
            break;
        }
        i += 1; // delimiter
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_sql::copy_options::CopyOptions;

    fn opts(csv: bool) -> CopyOptions {
        let mut o = CopyOptions::from_ast(&[], &[]).unwrap();
        if csv {
            o.format = CopyFormat::Csv;
            o.delimiter = b',';
            o.null = String::new();
        }
        o
    }

    #[test]
    fn text_format_escapes_and_nulls() {
        let mut out = vec![];
        let n = split_text("1\ta\\tb\t\\N\tx\\\\y", &opts(false), &mut out).unwrap();
        let f: Vec<Option<String>> = out[..n]
            .iter()
            .map(|(null, s)| (!null).then(|| s.clone()))
            .collect();
        assert_eq!(
            f,
            vec![
                Some("1".into()),
                Some("a\tb".into()),
                None,
                Some("x\\y".into())
            ]
        );
    }

    #[test]
    fn csv_quotes_and_nulls() {
        let mut out = vec![];
        let n = split_csv("1,\"a,\"\"b\"\"\",,\"\"", &opts(true), &mut out).unwrap();
        let f: Vec<Option<String>> = out[..n]
            .iter()
            .map(|(null, s)| (!null).then(|| s.clone()))
            .collect();
        assert_eq!(
            f,
            vec![
                Some("1".into()),
                Some("a,\"b\"".into()),
                None,
                Some("".into())
            ]
        );
    }
}
