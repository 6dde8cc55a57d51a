//! The small client behind `gossip-node post` and `gossip-node read`: one HTTP request to a
//! node, its answer printed.

use serde_json::{json, Value};
use std::time::Duration;

/// Why a client request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No answer.
    #[error("cannot reach node at {addr}: {source}")]
    Unreachable {
        /// The node address.
        addr: String,
        /// What failed.
        source: reqwest::Error,
    },
    /// An answer other than 200.
    #[error("node at {addr} answered {status}: {body}")]
    Refused {
        /// The node address.
        addr: String,
        /// HTTP status.
        status: u16,
        /// Its body.
        body: String,
    },
}

async fn request(addr: &str, post_body: Option<&str>) -> Result<Value, ClientError> {
    let unreachable = |source| ClientError::Unreachable {
        addr: addr.to_string(),
        source,
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(unreachable)?;
    let resp = match post_body {
        Some(body) => client
            .post(format!("http://{addr}/broadcast"))
            .json(&json!({ "body": body })),
        None => client.get(format!("http://{addr}/messages")),
    }
    .send()
    .await
    .map_err(unreachable)?;
    let status = resp.status().as_u16();
    let text = resp.text().await.map_err(unreachable)?;
    if status != 200 {
        return Err(ClientError::Refused {
            addr: addr.to_string(),
            status,
            body: text,
        });
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Post `body` at the node; the answer `{"origin","seq"}`.
pub async fn post(addr: &str, body: &str) -> Result<Value, ClientError> {
    request(addr, Some(body)).await
}

/// The node's delivered messages.
pub async fn read(addr: &str) -> Result<Vec<Value>, ClientError> {
    let v = request(addr, None).await?;
    Ok(v["messages"].as_array().cloned().unwrap_or_default())
}
