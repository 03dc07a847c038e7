//! nodebus transports: they turn MQTT messages and HTTP requests into calls of the op engine and
//! send its replies and deliveries back. Translation only: no op is decoded or judged here.

pub mod courier;
pub mod http;
pub mod mqtt;
pub mod outcome_log;
pub mod shutdown;
pub mod timer;

pub use courier::Courier;
pub use http::{HttpConfig, HttpServer};
pub use mqtt::MqttAdapter;
pub use shutdown::Shutdown;
pub use timer::{spawn_request_timer, TimerHandle};
