//! A minimal HTTP/1.1 client for `POST /ops` over one keep-alive connection per request.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::StatusCode;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

use super::within;

pub struct HttpClient {
    addr: SocketAddr,
    pub client_id: Option<String>,
}

pub struct HttpReply {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub body: Bytes,
}

impl HttpReply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.body))
    }

    pub fn replies(&self) -> Vec<Value> {
        self.json().as_array().expect("a JSON array").clone()
    }
}

impl HttpClient {
    pub fn new(addr: SocketAddr) -> Self {
        HttpClient {
            addr,
            client_id: None,
        }
    }

    pub fn with_client_id(mut self, id: &str) -> Self {
        self.client_id = Some(id.to_owned());
        self
    }

    /// Sends one op and returns the HTTP status and the replies.
    pub async fn op(&self, op: &Value) -> (StatusCode, Vec<Value>) {
        let reply = self.post("/ops", op.to_string().into_bytes()).await;
        (reply.status, reply.replies())
    }

    pub async fn post(&self, path: &str, body: Vec<u8>) -> HttpReply {
        self.request("POST", path, body, true).await
    }

    pub async fn get(&self, path: &str) -> HttpReply {
        self.request("GET", path, Vec::new(), false).await
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
        json: bool,
    ) -> HttpReply {
        within("http request", async {
            let stream = TcpStream::connect(self.addr).await.expect("http connect");
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .expect("http handshake");
            tokio::spawn(connection);
            let mut builder = hyper::Request::builder()
                .method(method)
                .uri(path)
                .header("host", self.addr.to_string());
            if json {
                builder = builder.header("content-type", "application/json");
            }
            if let Some(id) = &self.client_id {
                builder = builder.header("x-client-id", id);
            }
            let request = builder.body(Full::new(Bytes::from(body))).expect("request");
            let response = sender.send_request(request).await.expect("http response");
            let status = response.status();
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = response
                .into_body()
                .collect()
                .await
                .expect("http body")
                .to_bytes();
            HttpReply {
                status,
                content_type,
                body,
            }
        })
        .await
    }
}
