//! Session settings (`SET`, `SHOW`, `current_setting`): the parameters PostgreSQL clients read
//! or set on connect. Settings whose other values Eddy cannot honour yet are refused rather than
//! accepted and ignored. `TimeZone` takes any IANA zone or offset, and governs how `timestamptz`
//! values are printed and read and how time-zone-dependent expressions evaluate; `DateStyle`
//! takes PostgreSQL's four output styles and three field orders.

use std::collections::BTreeMap;

use eddy_common::datetime::{DateStyle, SessionZone, TimeSettings};
use eddy_common::{Error, Result, SqlState};

/// The PostgreSQL version clients are told, in the form they parse.
pub const SERVER_VERSION: &str = "15.0";

fn defaults() -> Vec<(&'static str, &'static str)> {
    vec![
        ("application_name", ""),
        ("client_encoding", "UTF8"),
        ("client_min_messages", "notice"),
        ("datestyle", "ISO, MDY"),
        ("default_transaction_isolation", "read committed"),
        ("default_transaction_read_only", "off"),
        ("extra_float_digits", "1"),
        ("idle_in_transaction_session_timeout", "0"),
        ("integer_datetimes", "on"),
        ("intervalstyle", "postgres"),
        ("is_superuser", "on"),
        // Eddy compiles no query to machine code; asyncpg reads and sets this around its
        // catalog queries.
        ("jit", "off"),
        ("array_nulls", "on"),
        ("block_size", "8192"),
        ("bytea_output", "hex"),
        ("default_table_access_method", "heap"),
        ("default_tablespace", ""),
        ("escape_string_warning", "on"),
        ("lc_collate", "C"),
        ("lc_ctype", "C"),
        ("lc_monetary", "C"),
        ("lc_numeric", "C"),
        ("lc_time", "C"),
        ("max_connections", "100"),
        ("max_index_keys", "32"),
        ("row_security", "on"),
        ("ssl", "off"),
        ("synchronous_commit", "on"),
        ("transaction_deferrable", "off"),
        ("work_mem", "4MB"),
        ("lc_messages", "C"),
        ("lock_timeout", "0"),
        ("max_identifier_length", "63"),
        ("search_path", "\"$user\", public"),
        ("server_encoding", "UTF8"),
        ("server_version", SERVER_VERSION),
        ("server_version_num", "150000"),
        ("standard_conforming_strings", "on"),
        ("statement_timeout", "0"),
        ("timezone", "UTC"),
        ("transaction_isolation", "read committed"),
        ("transaction_read_only", "off"),
    ]
}

/// Parameters reported in ParameterStatus at startup, with PostgreSQL's capitalization.
pub fn startup_parameters(settings: &Settings) -> Vec<(String, String)> {
    let get = |k: &str| settings.get(k).unwrap_or_default().to_string();
    vec![
        ("server_version".into(), SERVER_VERSION.into()),
        ("server_encoding".into(), "UTF8".into()),
        ("client_encoding".into(), get("client_encoding")),
        ("DateStyle".into(), get("datestyle")),
        ("TimeZone".into(), get("timezone")),
        ("IntervalStyle".into(), get("intervalstyle")),
        ("integer_datetimes".into(), "on".into()),
        ("standard_conforming_strings".into(), "on".into()),
        ("is_superuser".into(), "on".into()),
        ("default_transaction_read_only".into(), "off".into()),
        ("in_hot_standby".into(), "off".into()),
        ("application_name".into(), get("application_name")),
    ]
}

/// What `pg_settings` lists: the session's settings as the statement runs, under PostgreSQL's
/// names (`TimeZone`, `DateStyle`), with the values they start with.
pub fn pg_settings_source(
    settings: std::sync::Arc<std::sync::RwLock<Settings>>,
) -> std::sync::Arc<dyn Fn() -> Vec<(String, String, String)> + Send + Sync> {
    let boot: BTreeMap<&'static str, &'static str> = defaults().into_iter().collect();
    std::sync::Arc::new(move || {
        let s = settings.read().expect("settings lock");
        s.all()
            .map(|(k, v)| {
                let name = reported_name(k).map_or(k.clone(), str::to_string);
                let start = boot.get(k.as_str()).copied().unwrap_or_default();
                (name, v.clone(), start.to_string())
            })
            .collect()
    })
}

/// Parameters PostgreSQL reports to the client (ParameterStatus) whenever they change, by the
/// name it reports them under.
pub fn reported_name(key: &str) -> Option<&'static str> {
    Some(match key {
        "timezone" => "TimeZone",
        "datestyle" => "DateStyle",
        "intervalstyle" => "IntervalStyle",
        "application_name" => "application_name",
        "client_encoding" => "client_encoding",
        _ => return None,
    })
}

#[derive(Clone, Debug)]
pub struct Settings {
    values: BTreeMap<String, String>,
    time: TimeSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            values: defaults()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            time: TimeSettings::default(),
        }
    }
}

impl Settings {
    pub fn zone(&self) -> &SessionZone {
        &self.time.zone
    }

    /// TimeZone and DateStyle, by which dates and timestamps are printed and read.
    pub fn time(&self) -> &TimeSettings {
        &self.time
    }

    pub fn get(&self, name: &str) -> Result<&str> {
        self.values
            .get(&name.to_lowercase())
            .map(|s| s.as_str())
            .ok_or_else(|| unknown(name))
    }

    pub fn all(&self) -> impl Iterator<Item = (&String, &String)> {
        self.values.iter()
    }

    pub fn set(&mut self, name: &str, value: &str) -> Result<()> {
        let key = name.to_lowercase();
        let v = value.trim();
        let default_value = || {
            defaults()
                .into_iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v)
        };
        let v = if v.eq_ignore_ascii_case("default") {
            default_value().ok_or_else(|| unknown(name))?.to_string()
        } else {
            v.to_string()
        };
        match key.as_str() {
            "timezone" => {
                let (zone, shown) = SessionZone::parse_setting(&v).ok_or_else(|| {
                    Error::new(
                        SqlState::INVALID_PARAMETER_VALUE,
                        format!("invalid value for parameter \"TimeZone\": \"{v}\""),
                    )
                })?;
                self.time.zone = zone;
                self.values.insert(key, shown);
                return Ok(());
            }
            "datestyle" => {
                let style = DateStyle::parse_setting(&v, self.time.style).map_err(|detail| {
                    Error::new(
                        SqlState::INVALID_PARAMETER_VALUE,
                        format!("invalid value for parameter \"DateStyle\": \"{v}\""),
                    )
                    .with_detail(detail)
                })?;
                self.time.style = style;
                self.values.insert(key, style.shown());
                return Ok(());
            }
            "intervalstyle" if v != "postgres" => {
                return Err(Error::unsupported(format!("IntervalStyle \"{v}\"")));
            }
            "client_encoding" => {
                // PostgreSQL matches encoding names on their letters and digits alone, so
                // asyncpg's `'utf-8'` (quotes included) is UTF8.
                let up: String = v
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric())
                    .collect::<String>()
                    .to_ascii_uppercase();
                if up != "UTF8" && up != "UNICODE" {
                    return Err(Error::new(
                        SqlState::FEATURE_NOT_SUPPORTED,
                        format!("client encoding \"{v}\" is not supported: Eddy speaks UTF8"),
                    ));
                }
                self.values.insert(key, "UTF8".into());
                return Ok(());
            }
            "server_version"
            | "server_encoding"
            | "integer_datetimes"
            | "server_version_num"
            | "max_identifier_length"
            | "block_size"
            | "lc_collate"
            | "lc_ctype"
            | "max_connections"
            | "max_index_keys"
            | "ssl"
            | "is_superuser" => {
                return Err(Error::new(
                    SqlState::CANT_CHANGE_RUNTIME_PARAM,
                    format!("parameter \"{key}\" cannot be changed"),
                ));
            }
            // Settings that change results or storage, in ways Eddy has one of.
            "bytea_output"
            | "default_table_access_method"
            | "default_tablespace"
            | "array_nulls"
            | "standard_conforming_strings"
            | "lc_monetary"
            | "lc_numeric"
            | "lc_time"
            | "synchronous_commit"
            | "row_security"
                if !default_value().is_some_and(|d| d.eq_ignore_ascii_case(&v)) =>
            {
                return Err(Error::new(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    format!(
                        "{key} = '{v}' is not supported: Eddy has only {key} = '{}'",
                        default_value().unwrap_or_default()
                    ),
                ));
            }
            _ => {}
        }
        if !self.values.contains_key(&key) && !key.contains('.') {
            return Err(unknown(name));
        }
        self.values.insert(key, v);
        Ok(())
    }
}

fn unknown(name: &str) -> Error {
    Error::new(
        SqlState::UNDEFINED_OBJECT,
        format!("unrecognized configuration parameter \"{name}\""),
    )
}
