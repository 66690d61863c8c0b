//! The SDK call boundary: an interceptor on every client that counts calls (per operation,
//! for the benchmark and for `--stats`), counts retries (throttling is retried by the SDK
//! with backoff; we report it), and can fail call number N to simulate a deploy killed at
//! that point, either before the request is sent or after the service has applied it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Where an injected fault strikes call number `n` (1-based, counted across all clients).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The request is never sent: a kill just before the call.
    Before(u64),
    /// The service answered (and applied a write) but the caller sees an error: a kill
    /// just after.
    After(u64),
}

/// The error an injected fault produces; found again by [`crate::error::CallError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("injected fault at SDK call {call} ({operation}, {when})")]
pub struct InjectedFault {
    pub call: u64,
    pub operation: String,
    pub when: &'static str,
}

#[derive(Debug, Default)]
struct Inner {
    calls: AtomicU64,
    attempts: AtomicU64,
    fault: Mutex<Option<Fault>>,
    by_operation: Mutex<BTreeMap<String, u64>>,
}

/// Shared by every client of a deploy; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Calls {
    inner: Arc<Inner>,
}

/// A snapshot of the counters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallStats {
    /// Operations started (one per SDK call, however many attempts it took).
    pub calls: u64,
    /// Attempts beyond the first: retries after throttling or transient errors.
    pub retries: u64,
    /// `Service.Operation` → calls.
    pub by_operation: BTreeMap<String, u64>,
}

impl Calls {
    pub fn new() -> Self {
        Self::default()
    }

    /// Arms a fault (replacing any armed one).
    pub fn inject(&self, fault: Fault) {
        if let Ok(mut slot) = self.inner.fault.lock() {
            *slot = Some(fault);
        }
    }

    pub fn disarm(&self) {
        if let Ok(mut slot) = self.inner.fault.lock() {
            *slot = None;
        }
    }

    pub fn stats(&self) -> CallStats {
        let calls = self.inner.calls.load(Ordering::SeqCst);
        let attempts = self.inner.attempts.load(Ordering::SeqCst);
        CallStats {
            calls,
            retries: attempts.saturating_sub(calls),
            by_operation: self
                .inner
                .by_operation
                .lock()
                .map(|m| m.clone())
                .unwrap_or_default(),
        }
    }

    /// Resets the counters (not the armed fault).
    pub fn reset(&self) {
        self.inner.calls.store(0, Ordering::SeqCst);
        self.inner.attempts.store(0, Ordering::SeqCst);
        if let Ok(mut m) = self.inner.by_operation.lock() {
            m.clear();
        }
    }

    fn armed(&self) -> Option<Fault> {
        self.inner.fault.lock().ok().and_then(|f| *f)
    }
}

/// Remembers which call number an execution is, between its hooks.
#[derive(Debug, Clone, Copy)]
struct CallNumber(u64);

impl aws_smithy_types::config_bag::Storable for CallNumber {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

fn operation(cfg: &ConfigBag) -> String {
    cfg.load::<Metadata>().map_or_else(
        || "unknown".to_owned(),
        |m| format!("{}.{}", m.service(), m.name()),
    )
}

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "approvalc-calls"
    }

    /// Counted here rather than in `read_before_execution`: client interceptors run that
    /// hook before the operation's configuration (and so its name) is in the bag.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let n = self.inner.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let op = operation(cfg);
        if let Ok(mut m) = self.inner.by_operation.lock() {
            *m.entry(op.clone()).or_default() += 1;
        }
        cfg.interceptor_state().store_put(CallNumber(n));
        if self.armed() == Some(Fault::Before(n)) {
            return Err(Box::new(InjectedFault {
                call: n,
                operation: op,
                when: "before sending",
            }));
        }
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.attempts.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(CallNumber(n)) = cfg.load::<CallNumber>().copied() else {
            return Ok(());
        };
        // Whatever the call returned (a `NotFound` is a normal answer too), the caller
        // never sees it: the process died right after the response arrived.
        let _ = context;
        if self.armed() == Some(Fault::After(n)) {
            return Err(Box::new(InjectedFault {
                call: n,
                operation: operation(cfg),
                when: "after the service applied it",
            }));
        }
        Ok(())
    }
}
