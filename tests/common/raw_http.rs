//! Raw HTTP/1.1 on a TCP connection of its own, for what reqwest will not send
//! (a NUL byte, a 1 MB head, 150 headers, a body of hand-made chunks): write
//! the bytes, read one response with a time limit, parse its status, headers
//! and Content-Length body.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Server;

/// One response, read whole: its head, and its Content-Length body.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// The status line and the header lines, as received.
    pub head: String,
    /// Lowercase names; values trimmed, lossily decoded.
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

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why a raw exchange got no whole response.
#[derive(Debug)]
pub enum NoResponse {
    /// The connection could not be opened.
    Connect(std::io::Error),
    /// The server closed (or reset) the connection before a whole response.
    Closed(String),
    /// Neither a whole response nor a close within the time allowed.
    Timeout(Duration),
}

impl std::fmt::Display for NoResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoResponse::Connect(e) => write!(f, "connect: {e}"),
            NoResponse::Closed(why) => write!(f, "{why}"),
            NoResponse::Timeout(within) => {
                write!(f, "no answer and no close within {within:?}")
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads one HTTP/1.1 response (Content-Length bodies only). An error means
/// the connection closed or failed before the response was whole.
pub async fn read_response<R: AsyncRead + Unpin>(reader: &mut R) -> std::io::Result<RawResponse> {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let head_end = loop {
        if let Some(at) = find(&buf, b"\r\n\r\n") {
            break at;
        }
        let n = reader.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "connection closed after {:?}",
                    String::from_utf8_lossy(&buf)
                ),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {head:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = reader.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("body cut at {} of {length} bytes", body.len()),
            ));
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Ok(RawResponse {
        status,
        head,
        headers,
        body,
    })
}

/// Sends `request` on a connection of its own while reading the answer (the
/// server may answer, and close, before the request is fully written), and
/// reads one response within `within`.
pub async fn raw_exchange(
    server: &Server,
    request: impl Into<Vec<u8>>,
    within: Duration,
) -> Result<RawResponse, NoResponse> {
    let (response, _) = exchange(server, request.into(), within, false).await?;
    Ok(response)
}

/// [`raw_exchange`], then whether the server closes the connection after its
/// response (within 3 s).
pub async fn raw_exchange_then_closed(
    server: &Server,
    request: impl Into<Vec<u8>>,
    within: Duration,
) -> Result<(RawResponse, bool), NoResponse> {
    let (response, closed) = exchange(server, request.into(), within, true).await?;
    Ok((response, closed.expect("watched")))
}

async fn exchange(
    server: &Server,
    request: Vec<u8>,
    within: Duration,
    watch_close: bool,
) -> Result<(RawResponse, Option<bool>), NoResponse> {
    let stream = TcpStream::connect(server.address())
        .await
        .map_err(NoResponse::Connect)?;
    let (mut reader, mut writer) = stream.into_split();
    // The write half is handed back, not dropped: dropping it would half-close
    // the connection.
    let writing = tokio::spawn(async move {
        let _ = writer.write_all(&request).await;
        let _ = writer.flush().await;
        writer
    });
    let response = match tokio::time::timeout(within, read_response(&mut reader)).await {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => {
            writing.abort();
            return Err(NoResponse::Closed(e.to_string()));
        }
        Err(_) => {
            writing.abort();
            return Err(NoResponse::Timeout(within));
        }
    };
    let closed = match watch_close {
        false => None,
        true => {
            let mut byte = [0u8; 1];
            let read = tokio::time::timeout(Duration::from_secs(3), reader.read(&mut byte)).await;
            Some(matches!(read, Ok(Ok(0)) | Ok(Err(_))))
        }
    };
    writing.abort();
    Ok((response, closed))
}

/// A raw request head for `path` with extra header lines (each ending CRLF).
pub fn raw_head(server: &Server, method: &str, path: &str, extra: &str) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\n{extra}\r\n",
        server.address()
    )
}

/// One chunk of a `Transfer-Encoding: chunked` body.
pub fn chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}
