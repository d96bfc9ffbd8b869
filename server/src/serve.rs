//! `tollswitch serve`: the softswitch — SIP transports, the call engine, the routing snapshot.

use crate::transport::{TransactionUser, TransportConfig, Transports};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tollswitch_b2bua::{B2bua, CallEvent, Config as EngineConfig};
use tollswitch_model::params::Parameters;
use tollswitch_model::provisioning::Provisioning;
use tollswitch_routing::RoutingSnapshot;
use tollswitch_sip_core::{Config as SipConfig, Endpoint, Event};

/// The call engine as the transports' user: every endpoint event goes to the B2BUA, and
/// finished calls are written out.
pub struct CallEngine {
    b2bua: B2bua,
}

impl CallEngine {
    fn report(&mut self) {
        while let Some(CallEvent::Ended(end)) = self.b2bua.poll_call_event() {
            let tried: Vec<String> = end.tried.iter().map(|(g, c)| format!("{g}:{c}")).collect();
            println!(
                "call {} ended {} connected={} by={:?} hold={}ms tried=[{}] reason={}",
                end.call_id,
                end.final_code,
                end.connected,
                end.ended_by,
                end.hold_time.as_millis(),
                tried.join(","),
                end.reason
            );
        }
    }
}

impl TransactionUser for CallEngine {
    fn on_event(&mut self, now: Instant, event: Event, endpoint: &mut Endpoint) {
        self.b2bua.handle_event(now, event, endpoint);
        self.report();
    }

    fn on_timeout(&mut self, now: Instant, endpoint: &mut Endpoint) {
        self.b2bua.handle_timeout(now, endpoint);
        self.report();
    }

    fn next_timeout(&mut self) -> Option<Instant> {
        self.b2bua.poll_timeout()
    }
}

/// Starts the transports and the engine over `provisioning`; returns the running transports.
pub async fn start(provisioning: &Provisioning, sip: SocketAddr) -> anyhow::Result<Transports> {
    let snapshot = RoutingSnapshot::compile(provisioning)
        .map_err(|e| anyhow::anyhow!("provisioning does not compile: {e}"))?;
    let mut params = Parameters::new();
    for (name, value) in &provisioning.parameters {
        params
            .set(name, value)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let mut sip_config = SipConfig::default();
    let schedule: Vec<Duration> = params
        .sip_resend_interval_ms()
        .iter()
        .map(|ms| Duration::from_millis(*ms))
        .collect();
    if !schedule.is_empty() {
        sip_config.resend_schedule = Some(schedule);
    }
    sip_config.seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let unix = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let engine = EngineConfig {
        local: sip,
        epoch: (Instant::now(), unix),
        invite_timeout: Duration::from_secs(u64::from(params.sip_timeout_invite_secs())),
        ringing_timeout: Duration::from_secs(u64::from(params.sip_timeout_ringing_secs())),
        max_call_duration: params
            .max_call_duration_secs()
            .map(|s| Duration::from_secs(u64::from(s))),
        realm: params.authentication_realm().to_owned(),
    };
    let user = CallEngine {
        b2bua: B2bua::new(engine, Arc::new(snapshot)),
    };
    let transports = TransportConfig {
        udp: Some(sip),
        tcp: Some(sip),
        ..TransportConfig::default()
    };
    Ok(Transports::start(transports, Endpoint::new(sip_config), user).await?)
}
