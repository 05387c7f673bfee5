//! `QIODNSResolver`: name resolution, in place or in a worker thread (QEMU's
//! `io/dns-resolver.h`).

use std::os::raw::c_int;

use glib_sys::{gpointer, GDestroyNotify, GError};
use qio::io::{DnsResolver, MainContext, SocketAddress};

use crate::boundary::{ffi_guard, require, Fail};
use crate::ffi::{handle, AnyRef, Castable, Static, Tag, Tagged};
use crate::socket_address::{self, QIOSocketAddress};
use crate::task::{self, QIOTask, QIOTaskFunc};

/// The resolver, a process-wide singleton: qio_dns_resolver_get_instance().
pub struct QIODNSResolver {
    _private: [u8; 0],
}

/// The handle only identifies the singleton: the resolver itself has no state.
impl Castable for QIODNSResolver {
    type Ownership = Static;
    type Rust = ();
    const NAME: &'static str = "QIODNSResolver";
    const TAG: Tag = Tag::new(b"QDNS");
}

static INSTANCE: Tagged<()> = Tagged::new_static::<QIODNSResolver>(());

/// Returns: (transfer none): the resolver.
#[no_mangle]
pub extern "C" fn qio_dns_resolver_get_instance() -> *mut QIODNSResolver {
    &INSTANCE as *const Tagged<()> as *mut QIODNSResolver
}

/// The address out-parameters of the lookup exports.
type AddrsOut<'a> = (&'a mut usize, &'a mut *mut *mut QIOSocketAddress);

/// The out-parameters, both of which the caller must pass.
///
/// # Safety
/// Each is NULL or valid for writes during the call.
unsafe fn addrs_out<'a>(
    naddrs: *mut usize,
    addrs: *mut *mut *mut QIOSocketAddress,
) -> Result<AddrsOut<'a>, Fail> {
    // SAFETY: the caller's contract.
    match unsafe { (naddrs.as_mut(), addrs.as_mut()) } {
        (Some(naddrs), Some(addrs)) => Ok((naddrs, addrs)),
        _ => Err(Fail::Precondition("naddrs != NULL && addrs != NULL".into())),
    }
}

/// Stores `found` as a g_malloc'd array of new handles.
fn give(found: &[SocketAddress], (naddrs, addrs): AddrsOut<'_>) {
    let handles: Vec<*mut QIOSocketAddress> = found
        .iter()
        .cloned()
        .map(socket_address::into_handle)
        .collect();
    *naddrs = handles.len();
    *addrs = crate::ffi::g_array_copy(&handles);
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
        let addr = &handle!(addr).addr;
        // SAFETY: out-parameters are NULL or valid (the C contract).
        let out = unsafe { addrs_out(naddrs, addrs)? };
        give(&DnsResolver::instance().lookup(addr)?, out);
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
        let addr = handle!(addr).addr.clone();
        let work = move |t: &task::Task| match DnsResolver::instance().lookup(&addr) {
            Ok(found) => t.set_result(
                Box::into_raw(Box::new(Lookup(found))).cast(),
                Some(free_lookup),
            ),
            Err(e) => t.set_error(&e),
        };
        let source = AnyRef::of_static(&INSTANCE);
        task::run_new(
            Some(source),
            (func, opaque, notify),
            work,
            &MainContext::default(),
        )
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
        // SAFETY: out-parameters are NULL or valid (the C contract).
        let out = unsafe { addrs_out(naddrs, addrs)? };
        let lookup = handle!(task).result_set_by(free_lookup)?;
        // SAFETY: a result whose destroy function is free_lookup is a Lookup.
        let found = lookup.map_or(&[][..], |lookup| unsafe { &(*(lookup as *const Lookup)).0 });
        give(found, out);
        Ok(())
    })
}
