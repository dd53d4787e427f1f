//! The routing table: which backends may take new requests, the weight of each release, and
//! the choice of a backend for one request. The release is chosen by smooth weighted
//! round-robin (nginx's algorithm: deterministic, so 20/80 gives exactly 20 of every 100
//! requests to the first release, interleaved), then the backend of that release with the
//! fewest requests in flight, ties taken in turn (plain round-robin under light load).
//!
//! A backend's load (its requests in flight) outlives the tables that name it, so that
//! [`crate::Proxy::drain`] can wait for the requests a backend took before it left the routes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use hyper::http::uri::Authority;
use tokio::sync::Notify;

use crate::pool::Pool;

/// What the proxy may route to, replaced as a whole by [`crate::Proxy::set_routes`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routes {
    /// The backends that may take new requests (the agent lists only healthy replicas).
    pub backends: Vec<Backend>,
    /// The weight of each release, in percent (any positive numbers work: they are shares).
    /// A release not listed, or with weight 0, gets no traffic; an empty list means that all
    /// backends share the traffic equally, whatever their release.
    pub weights: Vec<(i64, u32)>,
}

/// One replica the proxy may send requests to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// Unique among the backends of one proxy (the agent's replica id); [`crate::Proxy::drain`]
    /// names a backend by it.
    pub id: String,
    /// The release the replica runs: traffic is counted and weighted by it.
    pub release: i64,
    pub addr: SocketAddr,
}

/// The requests a backend has in flight (an upgraded connection counts as one until it
/// closes), and the signal that closes its upgraded connections once a drain gave up.
#[derive(Debug, Default)]
pub(crate) struct BackendLoad {
    in_flight: AtomicUsize,
    idle: Notify,
    cut: AtomicBool,
    cut_signal: Notify,
}

impl BackendLoad {
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Waits until no request is in flight; returns at once when none is.
    pub(crate) async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.in_flight() == 0 {
                return;
            }
            notified.await;
        }
    }

    fn is_cut(&self) -> bool {
        self.cut.load(Ordering::Acquire)
    }

    /// Closes the backend's upgraded connections (they wait in [`BackendLoad::cut_off`]).
    pub(crate) fn cut(&self) {
        self.cut.store(true, Ordering::Release);
        self.cut_signal.notify_waiters();
    }

    /// Resolves once [`BackendLoad::cut`] was called.
    pub(crate) async fn cut_off(&self) {
        loop {
            let notified = self.cut_signal.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_cut() {
                return;
            }
            notified.await;
        }
    }
}

/// One request's claim on a backend: counted in flight until dropped (when the response body
/// has been sent, or the upgraded connection closed).
#[derive(Debug)]
pub(crate) struct InFlight {
    load: Arc<BackendLoad>,
}

impl InFlight {
    fn new(load: Arc<BackendLoad>) -> InFlight {
        load.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight { load }
    }

    pub(crate) fn load(&self) -> &BackendLoad {
        &self.load
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.load.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.load.idle.notify_waiters();
        }
    }
}

/// The backend chosen for one request.
#[derive(Debug)]
pub(crate) struct Choice {
    pub(crate) id: Arc<str>,
    pub(crate) release: i64,
    pub(crate) addr: SocketAddr,
    /// `addr` as a URI's authority, made once per table rather than per request.
    pub(crate) authority: Authority,
    /// The proxy's connections to `addr`.
    pub(crate) pool: Arc<Pool>,
    pub(crate) in_flight: InFlight,
}

#[derive(Debug)]
struct Slot {
    backend: Backend,
    /// The backend's id and authority, shared by the requests that choose it.
    id: Arc<str>,
    authority: Authority,
    pool: Arc<Pool>,
    load: Arc<BackendLoad>,
}

/// The backends that share one weight: one release's, or all of them when no weights are set.
#[derive(Debug)]
struct Group {
    weight: i64,
    slots: Vec<Slot>,
    /// Where the next scan for the least busy backend starts, so that ties go in turn.
    cursor: AtomicUsize,
}

impl Group {
    fn least_busy(&self, exclude: Option<&str>) -> Option<&Slot> {
        let n_slots = self.slots.len();
        let start = self.cursor.fetch_add(1, Ordering::Relaxed);
        let mut best: Option<&Slot> = None;
        for step in 0..n_slots {
            let slot = &self.slots[(start.wrapping_add(step)) % n_slots];
            if exclude == Some(slot.backend.id.as_str()) {
                continue;
            }
            if best.is_none_or(|best| slot.load.in_flight() < best.load.in_flight()) {
                best = Some(slot);
            }
        }
        best
    }
}

/// A routing table in force: built from [`Routes`] and the loads of the backends it names.
#[derive(Debug, Default)]
pub(crate) struct Table {
    groups: Vec<Group>,
    /// Smooth weighted round-robin's current weight per group.
    current: Mutex<Vec<i64>>,
}

impl Table {
    /// Builds the table for `routes`, taking each backend's load from `loads` (by id) or
    /// making it; `loads` keeps the backends it names afterwards, plus the ones that left the
    /// routes with requests still in flight. The connections to each address are taken from
    /// `pools` or made; `pools` keeps only the addresses of `routes` (a request in flight to
    /// another holds its pool until it is over).
    pub(crate) fn build(
        routes: &Routes,
        loads: &mut HashMap<String, Arc<BackendLoad>>,
        pools: &mut HashMap<SocketAddr, Arc<Pool>>,
    ) -> Table {
        pools.retain(|addr, _| routes.backends.iter().any(|backend| backend.addr == *addr));
        for backend in &routes.backends {
            pools.entry(backend.addr).or_insert_with(|| Arc::new(Pool::new(backend.addr)));
        }
        let mut slot_of = |backend: &Backend| {
            // A backend whose drain gave up and that comes back starts afresh.
            let load = match loads.get(&backend.id) {
                Some(load) if !load.is_cut() => load.clone(),
                _ => {
                    let load = Arc::new(BackendLoad::default());
                    loads.insert(backend.id.clone(), load.clone());
                    load
                }
            };
            let authority =
                Authority::try_from(backend.addr.to_string()).expect("an IP address and port is a valid URI authority");
            let pool = pools[&backend.addr].clone();
            Slot { backend: backend.clone(), id: Arc::from(backend.id.as_str()), authority, pool, load }
        };
        let mut groups = Vec::new();
        if routes.weights.is_empty() {
            let slots: Vec<Slot> = routes.backends.iter().map(&mut slot_of).collect();
            if !slots.is_empty() {
                groups.push(Group { weight: 1, slots, cursor: AtomicUsize::new(0) });
            }
        } else {
            let mut seen = Vec::new();
            for &(release, weight) in &routes.weights {
                if weight == 0 || seen.contains(&release) {
                    continue;
                }
                seen.push(release);
                let slots: Vec<Slot> =
                    routes.backends.iter().filter(|backend| backend.release == release).map(&mut slot_of).collect();
                if !slots.is_empty() {
                    groups.push(Group { weight: i64::from(weight), slots, cursor: AtomicUsize::new(0) });
                }
            }
        }
        let in_routes: Vec<&str> = routes.backends.iter().map(|backend| backend.id.as_str()).collect();
        loads.retain(|id, load| in_routes.contains(&id.as_str()) || load.in_flight() > 0);
        let current = Mutex::new(vec![0; groups.len()]);
        Table { groups, current }
    }

    /// Whether `id` may take new requests under this table.
    pub(crate) fn routes_to(&self, id: &str) -> bool {
        self.groups.iter().any(|group| group.slots.iter().any(|slot| slot.backend.id == id))
    }

    /// Chooses the backend for one request and counts the request in flight there (the
    /// caller holds the table's lock, so a drain that starts after the table changed sees
    /// every request the old table sent to its backend). `exclude` is a backend that just
    /// refused a connection: another one is chosen, in the same release when it has one.
    pub(crate) fn pick(&self, exclude: Option<&str>) -> Option<Choice> {
        let group_idx = self.next_group()?;
        let slot = self.groups[group_idx].least_busy(exclude).or_else(|| {
            let others = self.groups.iter().filter_map(|group| group.least_busy(exclude));
            others.min_by_key(|slot| slot.load.in_flight())
        })?;
        Some(Choice {
            id: slot.id.clone(),
            release: slot.backend.release,
            addr: slot.backend.addr,
            authority: slot.authority.clone(),
            pool: slot.pool.clone(),
            in_flight: InFlight::new(slot.load.clone()),
        })
    }

    fn next_group(&self) -> Option<usize> {
        match self.groups.len() {
            0 => None,
            1 => Some(0),
            _ => {
                let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
                let total: i64 = self.groups.iter().map(|group| group.weight).sum();
                let mut best = 0;
                for (group_idx, group) in self.groups.iter().enumerate() {
                    current[group_idx] += group.weight;
                    if current[group_idx] > current[best] {
                        best = group_idx;
                    }
                }
                current[best] -= total;
                Some(best)
            }
        }
    }
}

#[cfg(test)]
mod tests;
