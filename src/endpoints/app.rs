//! What the endpoints share beyond HTTP: the topic hub, the access policy,
//! and the clock that keeps every WebSocket's pings and silence deadline.

use std::sync::Arc;

use crate::access::Access;
use crate::error::Result;
use crate::http::exchange::Shared;
use crate::hub::Hub;
use crate::ws::{self, Options};

/// The server's application parts, one per server.
pub struct App {
    /// Topics and their subscribers.
    pub hub: Arc<Hub>,
    /// Who may publish and subscribe (re-read on SIGHUP).
    pub access: Arc<Access>,
    /// The shared WebSocket timer (`ws-timer`).
    pub ws_timer: Arc<ws::Timer>,
}

impl App {
    /// The options of a WebSocket this server starts. Its writer starts only
    /// when frames wait (the timer pings), unless `heartbeat`: `/ws` keeps
    /// one writer for its life, and its place is taken now, before the 101,
    /// so that past the thread budget the client still gets a 503.
    ///
    /// # Errors
    /// 503 when a lasting writer has no place in the thread budget.
    pub fn ws_options(&self, shared: &Shared, heartbeat: bool) -> Result<Options> {
        let mut options = Options::from_config(&shared.config, &shared.metrics);
        options.timer = Some(Arc::clone(&self.ws_timer));
        options.threads = Some(Arc::clone(&shared.threads));
        if heartbeat {
            options.heartbeat = Some(shared.config.ws.heartbeat);
            options.permit = Some(shared.threads.acquire()?);
        }
        Ok(options)
    }
}
