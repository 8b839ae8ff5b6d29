//! The kit's own webhook receiver on loopback (or where `webhook_listen` says): it takes the
//! POSTs the system under test sends, answers 204, and hands each message to the test that
//! waits for it.
//!
//! By hand over a tokio listener: it needs one request per connection, a body of at most
//! 1 MiB and no keep-alive, and the web framework in this binary belongs to the gateway's edge
//! (the architecture test keeps the kit out of it).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc};

const MAX_REQUEST: usize = 1 << 20;

/// One message as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

pub struct Receiver {
    /// Where the system under test should POST.
    pub url: String,
    messages: Mutex<mpsc::UnboundedReceiver<Received>>,
}

impl Receiver {
    /// Listens on `listen`; `public_url` is what the system under test is told (by default
    /// `http://<the address bound>/hooks`).
    pub async fn start(listen: &str, public_url: Option<String>) -> Result<Self, String> {
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| format!("the webhook receiver cannot listen on {listen}: {e}"))?;
        let addr: SocketAddr = listener.local_addr().map_err(|e| e.to_string())?;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                let tx = tx.clone();
                tokio::spawn(async move {
                    let read =
                        tokio::time::timeout(Duration::from_secs(10), read_request(&mut stream))
                            .await;
                    let answer: &[u8] = match read {
                        Ok(Some(message)) => {
                            let _ = tx.send(message);
                            b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        }
                        _ => b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    };
                    let _ = stream.write_all(answer).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Ok(Self {
            url: public_url.unwrap_or_else(|| format!("http://{addr}/hooks")),
            messages: Mutex::new(rx),
        })
    }

    /// The next message, or `None` after `wait`.
    pub async fn next(&self, wait: Duration) -> Option<Received> {
        let mut messages = self.messages.lock().await;
        tokio::time::timeout(wait, messages.recv())
            .await
            .ok()
            .flatten()
    }

    /// Drops what arrived and was not waited for.
    pub async fn drain(&self) {
        let mut messages = self.messages.lock().await;
        while messages.try_recv().is_ok() {}
    }
}

async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_REQUEST {
            return None;
        }
    };
    let head = std::str::from_utf8(&buf[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next()?;
    let mut parts = request_line.split(' ');
    if parts.next()? != "POST" {
        return None;
    }
    let path = parts.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())?;
    if length > MAX_REQUEST {
        return None;
    }
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Some(Received {
        path,
        headers,
        body,
    })
}

/// Whether one of the `v1,` signatures of `header` is the HMAC-SHA256 of
/// `{id}.{timestamp}.{body}` keyed with `secret` (`whsec_` and base64), as Standard Webhooks
/// specifies.
pub fn signature_verifies(
    secret: &str,
    id: &str,
    timestamp: &str,
    body: &[u8],
    header: &str,
) -> bool {
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    let Some(key) = secret
        .strip_prefix("whsec_")
        .and_then(|k| engine.decode(k).ok())
    else {
        return false;
    };
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key);
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    header.split(' ').any(|part| {
        part.strip_prefix("v1,")
            .and_then(|s| engine.decode(s).ok())
            .is_some_and(|sig| aws_lc_rs::hmac::verify(&key, &signed, &sig).is_ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification (its README's "Verifying
    /// signatures" test vector): secret, id, timestamp, body and the signature it gives.
    #[test]
    fn the_specification_example_verifies_and_a_changed_body_does_not() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let timestamp = "1614265330";
        let body = br#"{"test": 2432232314}"#;
        let header = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert!(signature_verifies(secret, id, timestamp, body, header));
        assert!(signature_verifies(
            secret,
            id,
            timestamp,
            body,
            &format!("v1,AAAA {header}")
        ));
        assert!(!signature_verifies(
            secret,
            id,
            timestamp,
            br#"{"test": 2432232315}"#,
            header
        ));
        assert!(!signature_verifies(secret, id, "1614265331", body, header));
    }
}
