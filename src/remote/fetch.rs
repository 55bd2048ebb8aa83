//! HTTP for the remote verifier: GETs with a timeout and a body size cap, and
//! URLs as errors show them (without credentials).

use std::time::Duration;

use super::LoadError;

/// The HTTP client every fetch goes through.
pub(super) struct Fetcher {
    client: reqwest::Client,
}

impl Fetcher {
    /// Each request (connecting included) times out after `timeout`.
    pub(super) fn new(timeout: Duration) -> Result<Fetcher, LoadError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| LoadError::Client(e.to_string()))?;
        Ok(Fetcher { client })
    }

    /// GETs `url` (with `?since=` when given), reading at most `max` bytes.
    pub(super) async fn get(
        &self,
        url: &str,
        since: Option<&str>,
        max: usize,
    ) -> Result<Vec<u8>, LoadError> {
        let shown = redact(url);
        let fetch_error = |e: reqwest::Error| LoadError::Fetch {
            url: shown.clone(),
            message: e.without_url().to_string(),
        };
        let mut request = self.client.get(url);
        if let Some(since) = since {
            request = request.query(&[("since", since)]);
        }
        let mut response = request.send().await.map_err(fetch_error)?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(LoadError::Status {
                url: shown.clone(),
                status,
            });
        }
        let too_large = || LoadError::TooLarge {
            url: shown.clone(),
            max,
        };
        if response.content_length().is_some_and(|n| n > max as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(fetch_error)? {
            if body.len() + chunk.len() > max {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// A URL as errors show it: without any `user:password@`.
pub(super) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}
