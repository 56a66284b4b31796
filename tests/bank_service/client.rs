//! A small HTTP/1.1 client for the bank service's tests and load bench: hyper's own client
//! connection over a `TcpStream` (the hyper that axum is built on), so no other HTTP stack is
//! compiled. One [`Connection`] sends requests one after another over one keep-alive
//! connection; [`LiveFeed`] reads server-sent events as they arrive.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

/// What a test returns; an error ends it with its message.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// A finished response: status, headers and the whole body.
#[derive(Debug)]
pub struct Response {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: hyper::HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Response {
    /// The body as JSON.
    ///
    /// # Errors
    ///
    /// When it is not JSON (the error shows the body).
    pub fn json(&self) -> Result<Value, Error> {
        serde_json::from_slice(&self.body).map_err(|err| {
            format!(
                "{err}: {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
            .into()
        })
    }

    /// A header as text, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The service's address; each call on it opens a connection of its own.
#[derive(Debug, Clone, Copy)]
pub struct Client {
    addr: SocketAddr,
}

impl Client {
    /// A client of the service at `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        Client { addr }
    }

    /// A keep-alive connection to the service.
    ///
    /// # Errors
    ///
    /// When the service cannot be reached.
    pub async fn connect(&self) -> Result<Connection, Error> {
        let sender = handshake(self.addr).await?;
        Ok(Connection {
            addr: self.addr,
            sender,
        })
    }

    /// `GET path` on a new connection.
    ///
    /// # Errors
    ///
    /// When the request cannot be sent or the answer read.
    pub async fn get(&self, path: &str) -> Result<Response, Error> {
        self.connect()
            .await?
            .send(Method::GET, path, None, &[])
            .await
    }

    /// `POST path` with `body` (sent as `application/json`, whatever it holds) on a new
    /// connection.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get).
    pub async fn post(&self, path: &str, body: &str) -> Result<Response, Error> {
        self.connect()
            .await?
            .send(Method::POST, path, Some(body), &[])
            .await
    }

    /// `POST path` with the JSON `body`.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get).
    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Response, Error> {
        self.post(path, &body.to_string()).await
    }

    /// `GET /events/live` (after position `after`, when given): the open feed.
    ///
    /// # Errors
    ///
    /// When the request fails or the answer is not 200.
    pub async fn live(&self, after: Option<u64>) -> Result<LiveFeed, Error> {
        let mut sender = handshake(self.addr).await?;
        let mut request = Request::get("/events/live").header("host", self.addr.to_string());
        if let Some(after) = after {
            request = request.header("last-event-id", after.to_string());
        }
        let response = sender
            .send_request(request.body(Full::new(Bytes::new()))?)
            .await?;
        if response.status() != StatusCode::OK {
            return Err(format!("GET /events/live: {}", response.status()).into());
        }
        Ok(LiveFeed {
            body: response.into_body(),
            buffer: Vec::new(),
            _sender: sender,
        })
    }
}

/// Opens a connection to `addr`, its driver spawned on the current runtime.
async fn handshake(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, Error> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// One keep-alive connection: requests go one after another.
#[derive(Debug)]
pub struct Connection {
    addr: SocketAddr,
    sender: SendRequest<Full<Bytes>>,
}

impl Connection {
    /// Sends `method path` with `body` (as `application/json`) and `headers`, and reads the
    /// whole answer.
    ///
    /// # Errors
    ///
    /// When the connection fails.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<Response, Error> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string());
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = Full::new(Bytes::from(body.unwrap_or_default().to_owned()));
        self.sender.ready().await?;
        let response = self.sender.send_request(request.body(body)?).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// `POST path` with the JSON `body`.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub async fn post_json(&mut self, path: &str, body: &Value) -> Result<Response, Error> {
        self.send(Method::POST, path, Some(&body.to_string()), &[])
            .await
    }
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseMessage {
    /// `id:` (the event's position).
    pub id: Option<String>,
    /// `event:` (the event's type).
    pub event: Option<String>,
    /// `data:` lines, joined by `\n`.
    pub data: String,
}

/// An open `GET /events/live`.
#[derive(Debug)]
pub struct LiveFeed {
    body: Incoming,
    buffer: Vec<u8>,
    // Keeps the connection's request half, so the connection stays open.
    _sender: SendRequest<Full<Bytes>>,
}

impl LiveFeed {
    /// The next message (comments skipped), or `None` when the feed ended.
    ///
    /// # Errors
    ///
    /// When none arrives within `wait`, or the connection fails.
    pub async fn next(&mut self, wait: Duration) -> Result<Option<SseMessage>, Error> {
        tokio::time::timeout(wait, self.next_message())
            .await
            .map_err(|_| format!("no server-sent event within {wait:?}"))?
    }

    async fn next_message(&mut self) -> Result<Option<SseMessage>, Error> {
        loop {
            while let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
                if let Some(message) = parse_block(std::str::from_utf8(&block)?) {
                    return Ok(Some(message));
                }
            }
            match self.body.frame().await {
                None => return Ok(None),
                Some(frame) => {
                    if let Ok(data) = frame?.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
            }
        }
    }
}

/// One SSE block (lines up to a blank one); `None` for a comment-only block.
fn parse_block(block: &str) -> Option<SseMessage> {
    let mut message = SseMessage {
        id: None,
        event: None,
        data: String::new(),
    };
    let mut any = false;
    for line in block.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => message.id = Some(value.to_owned()),
            "event" => message.event = Some(value.to_owned()),
            "data" => {
                if any && !message.data.is_empty() {
                    message.data.push('\n');
                }
                message.data.push_str(value);
            }
            _ => continue, // a comment (empty field) or an unknown field
        }
        any = true;
    }
    any.then_some(message)
}
