//! `QIONetListener`: listens on every address a name resolves to and hands each
//! accepted client to a callback in a main context (QEMU's `io/net-listener.c`).
//!
//! Unlike QEMU's, the accept watches do not hold the listener alive: dropping it
//! removes them and closes its sockets, so a forgotten `disconnect` leaks nothing.
//! And a listener may limit its clients: past the limit, a connection is accepted and
//! closed at once (the peer sees it end instead of waiting in the backlog), and
//! counted, so that no number of clients can exhaust the server (CVE-2024-7409).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use crate::io::context::{MainContext, SourceGuard};
use crate::io::watch::G_IO_IN;
use crate::io::{Channel, DnsResolver, Socket, SocketAddress};
use crate::Result;

/// What runs for each accepted client, in the thread iterating the listener's context.
pub type ClientFunc = Arc<dyn Fn(Arc<Channel<Socket>>) + Send + Sync>;

#[derive(Default)]
struct State {
    name: Option<String>,
    sockets: Vec<Arc<Channel<Socket>>>,
    /// One accept watch per socket while a client function is set.
    watches: Vec<SourceGuard>,
    client: Option<(ClientFunc, MainContext)>,
    connected: bool,
}

/// The clients handed out and the limit on them, shared with the accept watches.
#[derive(Default)]
struct Admission {
    /// The most clients open at once; `None` for no limit.
    max: Option<usize>,
    /// The clients handed out, until they are closed or dropped.
    clients: Vec<Weak<Channel<Socket>>>,
    /// How many connections the limit turned away.
    refused: u64,
}

impl Admission {
    /// The clients handed out that are still open; forgets the others.
    fn open_clients(&mut self) -> usize {
        self.clients
            .retain(|c| c.upgrade().is_some_and(|c| !c.is_closed()));
        self.clients.len()
    }

    /// `client` if the limit allows one more, counted from now on; else closes it.
    fn admit(&mut self, client: Arc<Channel<Socket>>) -> Option<Arc<Channel<Socket>>> {
        let open = self.open_clients();
        if self.max.is_some_and(|max| open >= max) {
            // Nothing to report to: the peer sees its connection end.
            let _ = client.close();
            self.refused += 1;
            return None;
        }
        self.clients.push(Arc::downgrade(&client));
        Some(client)
    }
}

type SharedAdmission = Arc<Mutex<Admission>>;

fn lock_admission(admission: &Mutex<Admission>) -> MutexGuard<'_, Admission> {
    admission.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A set of listening sockets and their client callback.
#[derive(Default)]
pub struct NetListener {
    state: Mutex<State>,
    admission: SharedAdmission,
}

impl NetListener {
    /// A listener with no sockets (`qio_net_listener_new`).
    pub fn new() -> Self {
        NetListener::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Names the sockets added from now on `NAME-listen` (`qio_net_listener_set_name`).
    pub fn set_name(&self, name: &str) {
        self.state().name = Some(name.to_owned());
    }

    /// Listens on every address `addr` resolves to, with a backlog of `num`
    /// (`qio_net_listener_open_sync`): succeeds if any does, else reports the first
    /// failure.
    pub fn open_sync(&self, addr: &SocketAddress, num: i32) -> Result<()> {
        let mut first_error = None;
        for resolved in DnsResolver::instance().lookup(addr)? {
            let socket = Socket::new_channel();
            match socket.listen_sync(&resolved, num) {
                Ok(()) => self.add(socket),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match (self.is_connected(), first_error) {
            (false, Some(e)) => Err(e),
            _ => Ok(()),
        }
    }

    /// Adds a listening socket (`qio_net_listener_add`).
    pub fn add(&self, socket: Arc<Channel<Socket>>) {
        let mut state = self.state();
        if let Some(name) = &state.name {
            socket.set_name(&format!("{name}-listen"));
        }
        if let Some((func, context)) = &state.client {
            let watch = accept_watch(&socket, func.clone(), context, &self.admission);
            state.watches.push(watch);
        }
        state.sockets.push(socket);
        state.connected = true;
    }

    /// Sets (or with `None` clears) the function each accepted client is given, run
    /// in the thread iterating `context` (`qio_net_listener_set_client_func_full`). The
    /// previous function is dropped once its watches are gone.
    pub fn set_client_func(&self, func: Option<ClientFunc>, context: &MainContext) {
        let mut state = self.state();
        let old_watches = std::mem::take(&mut state.watches);
        let client = func.map(|f| (f, context.clone()));
        let old_client = std::mem::replace(&mut state.client, client);
        state.watches = self.watches_for(&state);
        drop(state);
        // Removing the old watches may run the old function's destroy notify: outside
        // the lock, so it may call back into the listener.
        drop(old_watches);
        drop(old_client);
    }

    /// Accept watches for every socket of `state`, if a client function is set.
    fn watches_for(&self, state: &State) -> Vec<SourceGuard> {
        let Some((func, context)) = &state.client else {
            return Vec::new();
        };
        state
            .sockets
            .iter()
            .map(|socket| accept_watch(socket, func.clone(), context, &self.admission))
            .collect()
    }

    /// Blocks until a client connects and returns it (`qio_net_listener_wait_client`);
    /// the accept watches are suspended meanwhile, so the client is not also handed to
    /// the client function. `None` if there is no socket to wait on.
    pub fn wait_client(&self) -> Option<Arc<Channel<Socket>>> {
        let (sockets, suspended) = {
            let mut state = self.state();
            (state.sockets.clone(), std::mem::take(&mut state.watches))
        };
        drop(suspended);
        // Past the client limit a connection is closed and the wait goes on.
        let client = loop {
            let Some(client) = accept_one(&sockets) else {
                break None;
            };
            if let Some(client) = lock_admission(&self.admission).admit(client) {
                break Some(client);
            }
        };
        let mut state = self.state();
        if state.watches.is_empty() {
            state.watches = self.watches_for(&state);
        }
        client
    }

    /// Stops listening: removes the watches and closes every socket
    /// (`qio_net_listener_disconnect`).
    pub fn disconnect(&self) {
        let (sockets, watches) = {
            let mut state = self.state();
            if !state.connected {
                return;
            }
            state.connected = false;
            (state.sockets.clone(), std::mem::take(&mut state.watches))
        };
        drop(watches);
        for socket in sockets {
            // Nothing to report to: QEMU ignores close errors here too.
            let _ = socket.close();
        }
    }

    /// Whether the listener has sockets and was not disconnected.
    pub fn is_connected(&self) -> bool {
        self.state().connected
    }

    /// The listening sockets.
    pub fn sockets(&self) -> Vec<Arc<Channel<Socket>>> {
        self.state().sockets.clone()
    }

    /// Limits the clients open at once to `max` (`None`: no limit, the default). A
    /// connection past it is accepted and closed at once, and counted in
    /// [`NetListener::num_refused`]; a client counts until it is closed or dropped.
    pub fn set_max_clients(&self, max: Option<usize>) {
        lock_admission(&self.admission).max = max;
    }

    /// The limit set with [`NetListener::set_max_clients`].
    pub fn max_clients(&self) -> Option<usize> {
        lock_admission(&self.admission).max
    }

    /// The clients handed out that are neither closed nor dropped.
    pub fn num_clients(&self) -> usize {
        lock_admission(&self.admission).open_clients()
    }

    /// How many connections the client limit turned away.
    pub fn num_refused(&self) -> u64 {
        lock_admission(&self.admission).refused
    }
}

impl Drop for NetListener {
    fn drop(&mut self) {
        self.disconnect();
    }
}

/// A watch on `socket` that accepts each client and gives it to `func`, as far as
/// `admission` allows.
fn accept_watch(
    socket: &Arc<Channel<Socket>>,
    func: ClientFunc,
    context: &MainContext,
    admission: &SharedAdmission,
) -> SourceGuard {
    let watch = socket.upcast().create_watch(G_IO_IN);
    let listening = socket.clone();
    let admission = admission.clone();
    watch.set_callback(move |_, _| {
        // A failed accept (the client already gone) is not the listener's error.
        let admitted = listening
            .accept()
            .ok()
            .and_then(|client| lock_admission(&admission).admit(client));
        if let Some(client) = admitted {
            func(client);
        }
        true
    });
    watch.attach_guarded(context)
}

/// Polls `sockets` until one accepts a client.
fn accept_one(sockets: &[Arc<Channel<Socket>>]) -> Option<Arc<Channel<Socket>>> {
    loop {
        let mut fds: Vec<libc::pollfd> = sockets
            .iter()
            .map(|s| libc::pollfd {
                fd: s.imp().raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .filter(|p| p.fd >= 0)
            .collect();
        if fds.is_empty() {
            return None;
        }
        // SAFETY: a valid array of pollfds.
        if unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) } < 0 {
            match crate::io::fd::errno() {
                libc::EINTR => continue,
                _ => return None,
            }
        }
        let ready = fds
            .iter()
            .filter(|p| p.revents != 0)
            .map(|p| p.fd)
            .collect::<Vec<_>>();
        for socket in sockets.iter().filter(|s| ready.contains(&s.imp().raw_fd())) {
            if let Ok(client) = socket.accept() {
                return Some(client);
            }
        }
    }
}
