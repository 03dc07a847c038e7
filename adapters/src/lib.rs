//! nodebus transports: they turn MQTT messages and HTTP requests into calls of the op engine and
//! send its replies and deliveries back. Translation only: no op is decoded or judged here.

pub mod http;
pub mod mqtt;
pub mod outcome_log;
pub mod shutdown;

pub use http::{HttpConfig, HttpServer};
pub use mqtt::MqttAdapter;
pub use shutdown::Shutdown;
