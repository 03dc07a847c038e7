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

    pub fn addr(&self) -> SocketAddr {
        self.addr
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

    pub async fn request(&self, method: &str, path: &str, body: Vec<u8>, json: bool) -> HttpReply {
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

/// A response read off a raw socket: status code, lower-cased header lines and body.
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.body))
    }
}

/// Writes `head` (request line and headers, without the blank line) and `body` on a fresh
/// connection, then reads one response with a `Content-Length`. The server may answer before
/// the body is complete; write errors after that are ignored.
pub async fn raw_exchange(addr: SocketAddr, head: &str, body: &[u8]) -> RawResponse {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    within("raw http exchange", async {
        let stream = TcpStream::connect(addr).await.expect("http connect");
        let (mut reader, mut writer) = stream.into_split();
        let request = format!("{head}\r\n\r\n").into_bytes();
        let body = body.to_vec();
        let writing = tokio::spawn(async move {
            if writer.write_all(&request).await.is_ok() {
                let _ = writer.write_all(&body).await;
            }
            // Keep the write half open until the response has been read.
            writer
        });
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 8192];
        let head_end = loop {
            if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            let n = reader.read(&mut chunk).await.expect("read response");
            assert!(n > 0, "connection closed before a response: {buffer:?}");
            buffer.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().expect("status line");
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("status line {status_line:?}"));
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .expect("a content-length in the response");
        let mut body = buffer[head_end + 4..].to_vec();
        while body.len() < length {
            let n = reader.read(&mut chunk).await.expect("read body");
            assert!(n > 0, "connection closed in the body");
            body.extend_from_slice(&chunk[..n]);
        }
        body.truncate(length);
        writing.abort();
        RawResponse {
            status,
            headers,
            body,
        }
    })
    .await
}
