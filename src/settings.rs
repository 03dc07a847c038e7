//! Operator settings: a TOML file (`--config`), then `NODEBUS_<SECTION>_<KEY>` environment
//! variables, then command-line flags, each overriding the one before. Unknown keys are errors
//! that name the key. Produces the node's `Config` and the logging settings.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::Config;

/// The file's shape. Every member is optional: what is absent keeps its default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub node: NodeSection,
    #[serde(default)]
    pub mqtt: MqttSection,
    #[serde(default)]
    pub http: HttpSection,
    #[serde(default)]
    pub store: StoreSection,
    #[serde(default)]
    pub limits: LimitsSection,
    #[serde(default)]
    pub log: LogSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// The node id; default: the host name.
    pub id: Option<String>,
    pub data_dir: Option<PathBuf>,
    /// How long a graceful stop may take before the process exits anyway.
    pub shutdown_timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSection {
    pub listen: Option<SocketAddr>,
    pub max_packet_bytes: Option<usize>,
    pub max_connections: Option<usize>,
    pub connect_timeout_ms: Option<u64>,
    pub inbox_capacity: Option<usize>,
    pub lanes: Option<usize>,
    pub segment_bytes: Option<usize>,
    pub segment_count: Option<usize>,
    pub out_segment_bytes: Option<usize>,
    pub out_segment_count: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    pub listen: Option<SocketAddr>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// `fsync` (survives power loss) or `os` (survives a process crash).
    pub durability: Option<DurabilitySetting>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DurabilitySetting {
    Fsync,
    Os,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    pub max_request_bytes: Option<usize>,
    pub max_depth: Option<usize>,
    pub max_identifier_chars: Option<usize>,
    pub max_subscriptions_per_client: Option<usize>,
    pub max_pending_requests_per_client: Option<usize>,
    /// Timeout of a `request` that gives no `timeout-ms`; 0 means none.
    pub default_request_timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// A level (`info`, `debug`, …) or a full tracing filter.
    pub level: Option<String>,
    pub format: Option<LogFormat>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Logging as the binary sets it up.
#[derive(Debug, Clone)]
pub struct LogSettings {
    pub level: Option<String>,
    pub format: LogFormat,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("environment variable {name}: {message}")]
    Env { name: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

const SECTIONS: [&str; 6] = ["node", "mqtt", "http", "store", "limits", "log"];
const ENV_PREFIX: &str = "NODEBUS_";
/// Settings whose values are text: an environment value for them is never read as a number.
const TEXT_SETTINGS: [(&str, &str); 7] = [
    ("node", "id"),
    ("node", "data_dir"),
    ("mqtt", "listen"),
    ("http", "listen"),
    ("store", "durability"),
    ("log", "level"),
    ("log", "format"),
];

impl Settings {
    /// Reads `file` (when given) and applies the `NODEBUS_*` variables of `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, SettingsError> {
        let (mut table, origin) = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                let table: toml::Table =
                    toml::from_str(&text).map_err(|error| SettingsError::Parse {
                        path: path.display().to_string(),
                        message: error.message().to_owned(),
                    })?;
                (table, path.display().to_string())
            }
            None => (toml::Table::new(), "settings".to_owned()),
        };
        let from_env = apply_env(&mut table, env)?;
        Settings::deserialize(toml::Value::Table(table)).map_err(|error| {
            let message = error.to_string().trim().replace('\n', " ");
            // Name the variable when the refused setting came from the environment.
            let culprit = from_env.into_iter().find(|(section, key, _)| {
                message.contains(&format!("`{section}.{key}`"))
                    || (message.contains(&format!("`{key}`"))
                        && message.contains(&format!("`{section}`")))
            });
            match culprit {
                Some((_, _, name)) => SettingsError::Env { name, message },
                None => SettingsError::Parse {
                    path: origin,
                    message,
                },
            }
        })
    }

    /// The node's configuration, with defaults for everything not set.
    pub fn to_config(
        &self,
        default_node_id: impl FnOnce() -> String,
    ) -> Result<Config, SettingsError> {
        let node_id = self.node.id.clone().unwrap_or_else(default_node_id);
        let data_dir = self
            .node
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("./nodebus-data"));
        let mut config = Config::new(node_id, data_dir);
        let mqtt = &self.mqtt;
        set(&mut config.mqtt_listen, mqtt.listen);
        set(&mut config.max_packet_bytes, mqtt.max_packet_bytes);
        set(&mut config.max_connections, mqtt.max_connections);
        set(
            &mut config.connect_timeout,
            mqtt.connect_timeout_ms.map(Duration::from_millis),
        );
        set(&mut config.inbox_capacity, mqtt.inbox_capacity);
        set(&mut config.mqtt_lanes, mqtt.lanes);
        set(&mut config.segment_bytes, mqtt.segment_bytes);
        set(&mut config.segment_count, mqtt.segment_count);
        set(&mut config.out_segment_bytes, mqtt.out_segment_bytes);
        set(&mut config.out_segment_count, mqtt.out_segment_count);
        set(&mut config.http_listen, self.http.listen);
        if let Some(durability) = self.store.durability {
            config.durability = match durability {
                DurabilitySetting::Fsync => nodebus_registry::Durability::Fsync,
                DurabilitySetting::Os => nodebus_registry::Durability::Os,
            };
        }
        let limits = &self.limits;
        set(&mut config.max_request_bytes, limits.max_request_bytes);
        set(&mut config.max_depth, limits.max_depth);
        set(
            &mut config.max_identifier_chars,
            limits.max_identifier_chars,
        );
        set(
            &mut config.max_subscriptions_per_client,
            limits.max_subscriptions_per_client,
        );
        set(
            &mut config.max_pending_requests_per_client,
            limits.max_pending_requests_per_client,
        );
        if let Some(ms) = limits.default_request_timeout_ms {
            config.default_request_timeout = (ms > 0).then(|| Duration::from_millis(ms));
        }
        set(
            &mut config.shutdown_timeout,
            self.node.shutdown_timeout_ms.map(Duration::from_millis),
        );
        config.validate().map_err(SettingsError::Invalid)?;
        Ok(config)
    }

    pub fn log(&self) -> LogSettings {
        LogSettings {
            level: self.log.level.clone(),
            format: self.log.format.unwrap_or_default(),
        }
    }
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}

/// `NODEBUS_MQTT_MAX_PACKET_BYTES=…` sets `[mqtt] max_packet_bytes`. A value for a text setting
/// is taken as it is; any other is read as a number or boolean when it is one, else as text.
/// Returns the `(section, key, variable)` of every setting taken from the environment.
fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<(&'static str, String, String)>, SettingsError> {
    let mut applied = Vec::new();
    for (name, raw) in env {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let lower = rest.to_ascii_lowercase();
        let Some((section, key)) = SECTIONS.iter().find_map(|section| {
            lower
                .strip_prefix(section)
                .and_then(|tail| tail.strip_prefix('_'))
                .filter(|key| !key.is_empty())
                .map(|key| (*section, key.to_owned()))
        }) else {
            return Err(SettingsError::Env {
                name,
                message: format!(
                    "not a setting: expected NODEBUS_<SECTION>_<KEY> with a section of {}",
                    SECTIONS.join(", ")
                ),
            });
        };
        let value = if TEXT_SETTINGS.contains(&(section, key.as_str())) {
            toml::Value::String(raw)
        } else {
            parse_env_value(&raw)
        };
        let entry = table
            .entry(section)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(section_table) = entry.as_table_mut() else {
            return Err(SettingsError::Env {
                name,
                message: format!("[{section}] in the file is not a table"),
            });
        };
        section_table.insert(key.clone(), value);
        applied.push((section, key, name));
    }
    Ok(applied)
}

fn parse_env_value(raw: &str) -> toml::Value {
    let probe = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&probe) {
        Ok(mut table) => match table.remove("v") {
            Some(
                value @ (toml::Value::Integer(_) | toml::Value::Boolean(_) | toml::Value::Float(_)),
            ) => value,
            _ => toml::Value::String(raw.to_owned()),
        },
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn load(text: &str, env: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nodebus.toml");
        std::fs::write(&path, text).unwrap();
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Settings::load(Some(&path), env)
    }

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let config = load("", &[]).unwrap().to_config(|| "host".into()).unwrap();
        assert_eq!(config.node_id, "host");
        assert_eq!(config.mqtt_listen.port(), 1883);
        assert_eq!(config.http_listen.port(), 8080);
        assert_eq!(config.max_request_bytes, 1 << 20);
        assert_eq!(config.max_packet_bytes, 8 << 20);
        assert_eq!(config.durability, nodebus_registry::Durability::Fsync);
        assert_eq!(config.default_request_timeout, None);
    }

    #[test]
    fn file_values_are_used() {
        let text = r#"
            [node]
            id = "edge7"
            data_dir = "/var/lib/nodebus"
            [mqtt]
            listen = "127.0.0.1:1999"
            max_connections = 50
            [store]
            durability = "os"
            [limits]
            default_request_timeout_ms = 2500
            [log]
            level = "debug"
            format = "json"
        "#;
        let settings = load(text, &[]).unwrap();
        let config = settings.to_config(|| "host".into()).unwrap();
        assert_eq!(config.node_id, "edge7");
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/nodebus"));
        assert_eq!(config.mqtt_listen.port(), 1999);
        assert_eq!(config.max_connections, 50);
        assert_eq!(config.durability, nodebus_registry::Durability::Os);
        assert_eq!(
            config.default_request_timeout,
            Some(Duration::from_millis(2500))
        );
        assert_eq!(settings.log().format, LogFormat::Json);
        assert_eq!(settings.log().level.as_deref(), Some("debug"));
    }

    #[test]
    fn unknown_keys_and_sections_are_named() {
        let error = load("[mqtt]\nlisten_port = 3\n", &[])
            .unwrap_err()
            .to_string();
        assert!(error.contains("listen_port"), "{error}");
        let error = load("[mqttt]\n", &[]).unwrap_err().to_string();
        assert!(error.contains("mqttt"), "{error}");
    }

    #[test]
    fn wrong_types_are_errors() {
        let error = load("[mqtt]\nmax_connections = \"many\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(error.contains("invalid type"), "{error}");
        assert!(load("[store]\ndurability = \"sometimes\"\n", &[]).is_err());
        assert!(load("[http]\nlisten = \"not an address\"\n", &[]).is_err());
    }

    #[test]
    fn environment_overrides_the_file() {
        let settings = load(
            "[mqtt]\nmax_connections = 50\n",
            &[
                ("NODEBUS_MQTT_MAX_CONNECTIONS", "70"),
                ("NODEBUS_NODE_ID", "from-env"),
                ("NODEBUS_STORE_DURABILITY", "os"),
                ("PATH", "/usr/bin"),
            ],
        )
        .unwrap();
        let config = settings.to_config(|| "host".into()).unwrap();
        assert_eq!(config.max_connections, 70);
        assert_eq!(config.node_id, "from-env");
        assert_eq!(config.durability, nodebus_registry::Durability::Os);
    }

    #[test]
    fn unknown_environment_settings_are_named() {
        let error = load("", &[("NODEBUS_MQTT_LISTENN", "1")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("listenn"), "{error}");
        let error = load("", &[("NODEBUS_COLOUR", "red")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("NODEBUS_COLOUR"), "{error}");
    }

    #[test]
    fn text_settings_from_the_environment_stay_text() {
        let config = load("", &[("NODEBUS_NODE_ID", "1234")])
            .unwrap()
            .to_config(|| "host".into())
            .unwrap();
        assert_eq!(config.node_id, "1234");
    }

    #[test]
    fn invalid_values_are_refused() {
        assert!(load("[limits]\nmax_request_bytes = 0\n", &[])
            .unwrap()
            .to_config(|| "host".into())
            .is_err());
        assert!(load("[node]\nid = \"a/b\"\n", &[])
            .unwrap()
            .to_config(|| "host".into())
            .is_err());
    }
}
