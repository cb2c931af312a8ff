//! `COPY ... TO STDOUT`: rows as text-format or CSV lines.

use bytes::Bytes;
use datafusion::arrow::array::{Array, RecordBatch};
use eddy_common::Result;
use eddy_common::datetime::TimeSettings;
use eddy_pgwire::Column;
use eddy_pgwire::encode::text_value;
use eddy_sql::copy_options::{CopyFormat, CopyOptions};

pub fn encode(
    columns: &[Column],
    batches: &[RecordBatch],
    opts: &CopyOptions,
    time: &TimeSettings,
) -> Result<Vec<Bytes>> {
    let mut out = vec![];
    let mut v = String::new();
    if opts.header && opts.format == CopyFormat::Csv {
        let names: Vec<String> = columns
            .iter()
            .map(|c| csv_field(&c.name, opts, true))
            .collect();
        let mut line = names.join(&(opts.delimiter as char).to_string());
        line.push('\n');
        out.push(Bytes::from(line));
    }
    for batch in batches {
        for r in 0..batch.num_rows() {
            let mut line = String::new();
            for (i, col) in columns.iter().enumerate() {
                if i > 0 {
                    line.push(opts.delimiter as char);
                }
                let a = batch.column(i);
                if a.is_null(r) {
                    line.push_str(&opts.null);
                    continue;
                }
                v.clear();
                text_value(a, r, &col.ty, time, &mut v)?;
                match opts.format {
                    CopyFormat::Text => escape_text(&v, opts.delimiter as char, &mut line),
                    CopyFormat::Csv => line.push_str(&csv_field(&v, opts, false)),
                }
            }
            line.push('\n');
            out.push(Bytes::from(line));
        }
    }
    Ok(out)
}

fn escape_text(v: &str, delim: char, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' if delim == '\t' => out.push_str("\\t"),
            c if c == delim => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
}

fn csv_field(v: &str, opts: &CopyOptions, header: bool) -> String {
    let q = opts.quote as char;
    let needs = v.is_empty() && !header
        || v == opts.null
        || v.chars()
            .any(|c| c == opts.delimiter as char || c == q || c == '\n' || c == '\r')
        || v.starts_with("\\.");
    if !needs {
        return v.to_string();
    }
    let e = opts.escape as char;
    let mut s = String::with_capacity(v.len() + 2);
    s.push(q);
    for c in v.chars() {
        if c == q || c == e {
            s.push(e);
        }
        s.push(c);
    }
    s.push(q);
    s
}
