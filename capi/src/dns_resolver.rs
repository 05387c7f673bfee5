//! `QIODNSResolver`: name resolution, in place or in a worker thread (QEMU's
//! `io/dns-resolver.h`).

use std::os::raw::c_int;

use glib_sys::{gpointer, GDestroyNotify, GError};
use qio::io::{DnsResolver, SocketAddress};

use crate::boundary::{ffi_guard, require, Fail};
use crate::ffi::Castable;
use crate::socket_address::{self, QIOSocketAddress};
use crate::task::{self, QIOTask, QIOTaskFunc};

/// The resolver, a process-wide singleton: qio_dns_resolver_get_instance().
pub struct QIODNSResolver {
    _private: [u8; 0],
}

/// The handle only identifies the singleton: the resolver itself has no state.
impl Castable for QIODNSResolver {
    type Rust = ();
    const NAME: &'static str = "QIODNSResolver";
    const TAG: u32 = u32::from_be_bytes(*b"QDNS");
}

/// The tagged value the singleton handle points at.
#[repr(C)]
struct Instance {
    tag: u32,
}

static INSTANCE: Instance = Instance {
    tag: QIODNSResolver::TAG,
};

/// Returns: (transfer none): the resolver.
#[no_mangle]
pub extern "C" fn qio_dns_resolver_get_instance() -> *mut QIODNSResolver {
    &INSTANCE as *const Instance as *mut QIODNSResolver
}

/// Stores `found` as a g_malloc'd array of new handles.
///
/// # Safety
/// `naddrs` and `addrs` are writable.
unsafe fn give(
    found: &[SocketAddress],
    naddrs: *mut usize,
    addrs: *mut *mut *mut QIOSocketAddress,
) {
    let handles: Vec<*mut QIOSocketAddress> = found
        .iter()
        .cloned()
        .map(socket_address::into_handle)
        .collect();
    // SAFETY: the caller's out-parameters.
    unsafe {
        *naddrs = handles.len();
        *addrs = crate::ffi::g_array_copy(&handles);
    }
}

fn check_resolver(resolver: *mut QIODNSResolver) -> Result<(), Fail> {
    require!(
        std::ptr::eq(resolver, qio_dns_resolver_get_instance()),
        "resolver is the QIODNSResolver instance"
    );
    Ok(())
}

/// Resolves @addr: an inet address gives one numeric address per result, with its
/// options; other kinds are copied. The array (@naddrs entries) is g_malloc'd: free
/// each with qio_socket_address_free(), then the array with g_free().
///
/// Returns: 0, or -1 with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_dns_resolver_lookup_sync(
    resolver: *mut QIODNSResolver,
    addr: *const QIOSocketAddress,
    naddrs: *mut usize,
    addrs: *mut *mut *mut QIOSocketAddress,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        check_resolver(resolver)?;
        // SAFETY: the caller's handle, checked.
        let addr = unsafe { socket_address::borrow(addr, "addr")? };
        require!(
            !naddrs.is_null() && !addrs.is_null(),
            "naddrs != NULL && addrs != NULL"
        );
        let found = DnsResolver::instance().lookup(addr)?;
        // SAFETY: the caller's out-parameters, checked.
        unsafe { give(&found, naddrs, addrs) };
        Ok(0)
    })
}

/// What an asynchronous lookup leaves as its task's result.
struct Lookup(Vec<SocketAddress>);

unsafe extern "C" fn free_lookup(data: gpointer) {
    // SAFETY: a Lookup boxed by lookup_async.
    unsafe { drop(Box::from_raw(data as *mut Lookup)) };
}

/// Resolves @addr in a worker thread, then calls @func with a task (source: the
/// resolver) in the default main context; the callback reads the addresses with
/// qio_dns_resolver_lookup_result() after checking qio_task_propagate_error().
#[no_mangle]
pub unsafe extern "C" fn qio_dns_resolver_lookup_async(
    resolver: *mut QIODNSResolver,
    addr: *const QIOSocketAddress,
    func: QIOTaskFunc,
    opaque: gpointer,
    notify: GDestroyNotify,
) {
    ffi_guard!((), {
        check_resolver(resolver)?;
        // SAFETY: the caller's handle, checked.
        let addr = unsafe { socket_address::borrow(addr, "addr")? }.clone();
        let task = task::new_resolver_task(resolver, func, opaque, notify);
        let work = move |t: &task::Task| match DnsResolver::instance().lookup(&addr) {
            Ok(found) => t.set_result(
                Box::into_raw(Box::new(Lookup(found))).cast(),
                Some(free_lookup),
            ),
            Err(e) => t.set_error(&e),
        };
        // SAFETY: the new task, given up to the thread; the default context.
        unsafe { task::run_in_thread(task, work, std::ptr::null_mut()) }
    })
}

/// Copies the addresses an asynchronous lookup found (see
/// qio_dns_resolver_lookup_sync() for the array); none when it failed.
#[no_mangle]
pub unsafe extern "C" fn qio_dns_resolver_lookup_result(
    resolver: *mut QIODNSResolver,
    task: *mut QIOTask,
    naddrs: *mut usize,
    addrs: *mut *mut *mut QIOSocketAddress,
) {
    ffi_guard!((), {
        check_resolver(resolver)?;
        require!(
            !naddrs.is_null() && !addrs.is_null(),
            "naddrs != NULL && addrs != NULL"
        );
        // SAFETY: the caller's task; a result freed by free_lookup is a Lookup.
        unsafe {
            *naddrs = 0;
            *addrs = std::ptr::null_mut();
            if let Some(lookup) = task::result_set_by(task, free_lookup)? {
                give(&(*(lookup as *const Lookup)).0, naddrs, addrs);
            }
        }
        Ok(())
    })
}
