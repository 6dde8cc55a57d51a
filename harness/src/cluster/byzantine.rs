//! Making a node lie at run time (`--nemesis byzantine`): `POST /admin/byzantine {"mode": M}`
//! on the node's client address turns it Byzantine in mode `M`, `{"mode": null}` honest
//! again. Only for systems whose [`System::byzantine_modes`](crate::systems::System) is not
//! empty; the modes are checked against that list before anything is sent.

use super::error::ClusterError;
use super::Cluster;

impl Cluster {
    /// The modes its nodes can be made to lie in (empty: none).
    pub fn byzantine_modes(&self) -> &'static [&'static str] {
        self.db.byzantine_modes()
    }

    /// Makes `node` play `mode` (`None`: honest again).
    pub async fn set_byzantine(&self, node: &str, mode: Option<&str>) -> Result<(), ClusterError> {
        let spec = self.spec(node)?;
        let modes = self.db.byzantine_modes();
        if let Some(m) = mode {
            if !modes.contains(&m) {
                return Err(ClusterError::Unsupported(format!(
                    "{} nodes cannot be made Byzantine in mode `{m}` (modes: {})",
                    self.db.name(),
                    if modes.is_empty() {
                        "none".to_string()
                    } else {
                        modes.join(", ")
                    }
                )));
            }
        }
        let url = format!("http://{}/admin/byzantine", spec.client_addr);
        let body = serde_json::json!({ "mode": mode });
        let reply = self
            .http
            .post(&url)
            .json(&body)
            .timeout(std::time::Duration::from_secs(3))
            .send()
            .await
            .map_err(|e| ClusterError::Net(format!("POST {url}: {e}")))?;
        if !reply.status().is_success() {
            return Err(ClusterError::Net(format!(
                "POST {url} {body} answered {}",
                reply.status()
            )));
        }
        tracing::info!("nemesis: {node} byzantine mode {mode:?}");
        Ok(())
    }
}
