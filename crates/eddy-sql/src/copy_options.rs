//! COPY options, new (`WITH (FORMAT csv, ...)`) and legacy (`CSV HEADER`) syntax alike.

use datafusion::sql::sqlparser::ast::{CopyLegacyCsvOption, CopyLegacyOption, CopyOption};
use eddy_common::{Error, Result, SqlState};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyFormat {
    Text,
    Csv,
}

#[derive(Clone, Debug)]
pub struct CopyOptions {
    pub format: CopyFormat,
    pub delimiter: u8,
    pub null: String,
    pub header: bool,
    pub quote: u8,
    pub escape: u8,
}

impl CopyOptions {
    pub fn from_ast(options: &[CopyOption], legacy: &[CopyLegacyOption]) -> Result<CopyOptions> {
        let mut format = CopyFormat::Text;
        let mut delimiter = None;
        let mut null = None;
        let mut header = false;
        let mut quote = None;
        let mut escape = None;
        let one_byte = |c: char, what: &str| -> Result<u8> {
            if c.is_ascii() {
                Ok(c as u8)
            } else {
                Err(Error::new(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    format!("COPY {what} must be a single one-byte character"),
                ))
            }
        };
        for o in options {
            match o {
                CopyOption::Format(f) => {
                    format = match f.value.to_lowercase().as_str() {
                        "text" => CopyFormat::Text,
                        "csv" => CopyFormat::Csv,
                        "binary" => return Err(Error::unsupported("COPY in binary format")),
                        other => {
                            return Err(Error::new(
                                SqlState::INVALID_PARAMETER_VALUE,
                                format!("COPY format \"{other}\" not recognized"),
                            ));
                        }
                    }
                }
                CopyOption::Delimiter(c) => delimiter = Some(one_byte(*c, "delimiter")?),
                CopyOption::Null(s) => null = Some(s.clone()),
                CopyOption::Header(h) => header = *h,
                CopyOption::Quote(c) => quote = Some(one_byte(*c, "quote")?),
                CopyOption::Escape(c) => escape = Some(one_byte(*c, "escape")?),
                CopyOption::Encoding(e)
                    if e.eq_ignore_ascii_case("utf8") || e.eq_ignore_ascii_case("utf-8") => {}
                other => return Err(Error::unsupported(format!("COPY option {other}"))),
            }
        }
        for o in legacy {
            match o {
                CopyLegacyOption::Binary => {
                    return Err(Error::unsupported("COPY in binary format"));
                }
                CopyLegacyOption::Delimiter(c) => delimiter = Some(one_byte(*c, "delimiter")?),
                CopyLegacyOption::Null(s) => null = Some(s.clone()),
                CopyLegacyOption::Header => header = true,
                CopyLegacyOption::Csv(csv) => {
                    format = CopyFormat::Csv;
                    for c in csv {
                        match c {
                            CopyLegacyCsvOption::Header => header = true,
                            CopyLegacyCsvOption::Quote(q) => quote = Some(one_byte(*q, "quote")?),
                            CopyLegacyCsvOption::Escape(e) => {
                                escape = Some(one_byte(*e, "escape")?)
                            }
                            other => {
                                return Err(Error::unsupported(format!("COPY option {other}")));
                            }
                        }
                    }
                }
                other => return Err(Error::unsupported(format!("COPY option {other}"))),
            }
        }
        let csv = format == CopyFormat::Csv;
        if header && !csv {
            return Err(Error::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "COPY HEADER available only in CSV mode",
            ));
        }
        let quote = quote.unwrap_or(b'"');
        Ok(CopyOptions {
            format,
            delimiter: delimiter.unwrap_or(if csv { b',' } else { b'\t' }),
            null: null.unwrap_or_else(|| {
                if csv {
                    String::new()
                } else {
                    "\\N".to_string()
                }
            }),
            header,
            quote,
            escape: escape.unwrap_or(quote),
        })
    }
}
