//! C handles: what a `QCryptoHash *` or a `QIOChannelSocket *` points at, how an export
//! checks it, and who frees it.
//!
//! Every handle points at a [`Tagged`] value: a [`Header`] naming the handle's C type,
//! then the Rust value. The tag lets every export check that it was given a live
//! handle of the right type before it touches it (`QCRYPTO_IS_HASH (hash)` in GLib
//! terms); freeing a handle clears it, so a second free is caught while the memory has
//! not been reused. Whether a type is single-owner (`Box`, ended by `_free`) or shared
//! (`Arc`, `_ref`/`_unref`) is its [`Castable::Ownership`], so freeing a shared handle as
//! a single-owner one does not compile.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::os::raw::c_void;
use std::ptr::NonNull;
use std::sync::{Arc, Weak};

use crate::boundary::Fail;

/// A handle type's tag: four ASCII bytes, `Q` first. The first three bytes name a
/// family (a base type and its subtypes, such as `QIOChannel` and `QIOChannelSocket`),
/// the fourth the concrete type; a base type's tag ends in `*` and accepts every tag of
/// its family. Every tag is distinct (a test reads them all from the sources).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tag(u32);

impl Tag {
    pub(crate) const fn new(name: &[u8; 4]) -> Tag {
        assert!(name[0] == b'Q', "qio tags start with Q");
        Tag(u32::from_be_bytes(*name))
    }

    const fn is_family(self) -> bool {
        self.0 & 0xff == b'*' as u32
    }

    /// Whether a handle carrying `found` is one of this type.
    fn accepts(self, found: u32) -> bool {
        match self.is_family() {
            true => found >> 8 == self.0 >> 8 && !Tag(found).is_family(),
            false => found == self.0,
        }
    }

    /// Whether `found` could be any qio handle's tag.
    fn is_qio(found: u32) -> bool {
        found >> 24 == b'Q' as u32 && !Tag(found).is_family()
    }
}

/// How a type's handles are held; see [`Owned`], [`Shared`] and [`Static`].
pub(crate) trait Ownership: sealed::Sealed {}

/// How a type's handles holding a `T` are allocated.
pub(crate) trait Allocated<T>: Ownership {
    fn allocate(tag: Tag, value: T) -> *mut Tagged<T>;
}

/// One owner, who ends the handle with its type's `_free` (a `Box`). The value need
/// not be `Sync`: one thread uses the handle at a time.
pub(crate) enum Owned {}
/// Shared by reference: `_ref` adds one, `_unref` drops one, the last one frees it (an
/// `Arc`), and any thread may use it.
pub(crate) enum Shared {}
/// One handle for the whole process, never freed (the DNS resolver).
pub(crate) enum Static {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Owned {}
    impl Sealed for super::Shared {}
    impl Sealed for super::Static {}
}

impl Ownership for Owned {}
impl Ownership for Shared {}
impl Ownership for Static {}

impl<T: Send + 'static> Allocated<T> for Owned {
    fn allocate(tag: Tag, value: T) -> *mut Tagged<T> {
        let header = Header {
            tag: tag.0,
            share: None,
        };
        Box::into_raw(Box::new(Tagged { header, value }))
    }
}

impl<T: Send + Sync + 'static> Allocated<T> for Shared {
    fn allocate(tag: Tag, value: T) -> *mut Tagged<T> {
        let header = Header {
            tag: tag.0,
            share: Some(shared::<T>()),
        };
        Arc::into_raw(Arc::new(Tagged { header, value })).cast_mut()
    }
}

/// How a reference on a shared handle holding a `T` is added and dropped.
fn shared<T>() -> Share {
    unsafe fn retain<T>(header: *const Header) {
        // SAFETY: a live shared handle of this type, from Arc::into_raw.
        unsafe { Arc::increment_strong_count(header as *const Tagged<T>) };
    }
    unsafe fn release<T>(header: *const Header) {
        // SAFETY: as above; the caller's reference is given up.
        unsafe { Arc::decrement_strong_count(header as *const Tagged<T>) };
    }
    Share {
        retain: retain::<T>,
        release: release::<T>,
    }
}

/// A C handle type: an opaque struct standing for a Rust value.
pub(crate) trait Castable {
    /// How its handles are held, and so which of `_free` or `_ref`/`_unref` it has.
    type Ownership: Ownership;
    /// The Rust value a handle of this type points at (for a base type, the value all
    /// its subtypes share).
    type Rust: Send + 'static;
    /// The C type name, for precondition messages.
    const NAME: &'static str;
    /// The tag every handle of this type carries.
    const TAG: Tag;
    /// The GLib-style check macro a wrong handle's critical names
    /// (`QIO_IS_CHANNEL_SOCKET (ioc)`); without one it says `ioc is a valid NAME`.
    const CHECK: Option<&'static str> = None;

    /// The type of the handle that owns `value` and lends it to C, which may use but
    /// not free it (a TLS channel's session, a block's cipher); `None` for a handle C
    /// owns.
    fn lent_by(_value: &Self::Rust) -> Option<&'static str> {
        None
    }
}

/// The value of a single-owner handle that C may own, or that another handle owns and
/// lends (see [`Castable::lent_by`]).
pub(crate) struct Lendable<T> {
    value: T,
    owner: Option<&'static str>,
}

impl<T> Lendable<T> {
    /// A value for a handle C owns.
    pub(crate) fn owned(value: T) -> Lendable<T> {
        Lendable { value, owner: None }
    }

    /// A value for a handle `owner` (a C type name) owns and lends.
    pub(crate) fn lent(value: T, owner: &'static str) -> Lendable<T> {
        Lendable {
            value,
            owner: Some(owner),
        }
    }

    /// The owner's type, for [`Castable::lent_by`].
    pub(crate) fn owner(&self) -> Option<&'static str> {
        self.owner
    }
}

impl<T> std::ops::Deref for Lendable<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> std::ops::DerefMut for Lendable<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

/// How a reference on a shared handle is added and dropped without knowing its type.
#[derive(Clone, Copy)]
pub(crate) struct Share {
    retain: unsafe fn(*const Header),
    release: unsafe fn(*const Header),
}

/// What every handle starts with.
#[repr(C)]
pub(crate) struct Header {
    tag: u32,
    share: Option<Share>,
}

/// A handle's memory: the header, then the value.
#[repr(C)]
pub(crate) struct Tagged<T> {
    header: Header,
    value: T,
}

impl<T> Tagged<T> {
    /// The one handle of a static type `C`, for a `static` item.
    pub(crate) const fn new_static<C: Castable<Ownership = Static, Rust = T>>(
        value: T,
    ) -> Tagged<T> {
        Tagged {
            header: Header {
                tag: C::TAG.0,
                share: Some(static_share()),
            },
            value,
        }
    }
}

impl<T> Drop for Tagged<T> {
    fn drop(&mut self) {
        // SAFETY: our own field. Volatile, so that the store before the memory is freed
        // is not optimized away: a second free of the handle then finds no tag.
        unsafe { std::ptr::write_volatile(&mut self.header.tag, 0) };
    }
}

/// A static handle's references, which change nothing.
const fn static_share() -> Share {
    unsafe fn nothing(_: *const Header) {}
    Share {
        retain: nothing,
        release: nothing,
    }
}

/// The tagged value behind `handle`, or a precondition failure naming `param`.
///
/// # Safety
/// A non-NULL `handle` must point at readable memory of at least a header's size; a
/// misaligned pointer or a wrong tag is caught, not dereferenced as a handle.
unsafe fn check<C: Castable>(handle: *const C, param: &str) -> Result<*mut Tagged<C::Rust>, Fail> {
    if handle.is_null() {
        return Err(Fail::Precondition(Cow::Owned(format!("{param} != NULL"))));
    }
    let tagged = handle as *mut Tagged<C::Rust>;
    // SAFETY: an aligned handle begins with a header (the caller's contract).
    if !tagged.is_aligned() || !C::TAG.accepts(unsafe { (*tagged).header.tag }) {
        return Err(Fail::Precondition(Cow::Owned(match C::CHECK {
            Some(check) => format!("{check} ({param})"),
            None => format!("{param} is a valid {}", C::NAME),
        })));
    }
    Ok(tagged)
}

/// Hands `value` to C as a new handle of type `C` (one reference, for shared types).
pub(crate) fn new<C: Castable>(value: C::Rust) -> *mut C
where
    C::Ownership: Allocated<C::Rust>,
{
    const {
        assert!(!C::TAG.is_family(), "a base type has no handles of its own");
    }
    C::Ownership::allocate(C::TAG, value).cast()
}

/// Borrows the value behind a handle for the length of one call.
///
/// # Safety
/// `handle` is NULL or a live handle of some qio type (or other readable memory of a
/// header's size, which the tag check refuses), not freed during the call.
pub(crate) unsafe fn borrow<'a, C: Castable>(
    handle: *const C,
    param: &str,
) -> Result<&'a C::Rust, Fail> {
    // SAFETY: the caller's contract; `check` validated the tag.
    unsafe { check(handle, param).map(|t| &(*t).value) }
}

/// Borrows the value behind a single-owner handle mutably for the length of one call.
///
/// # Safety
/// As for [`borrow`], and no other thread uses the handle during the call.
pub(crate) unsafe fn borrow_mut<'a, C: Castable<Ownership = Owned>>(
    handle: *mut C,
    param: &str,
) -> Result<&'a mut C::Rust, Fail> {
    // SAFETY: the caller's contract; `check` validated the tag.
    unsafe { check(handle, param).map(|t| &mut (*t).value) }
}

/// Frees a single-owner handle (`_free`); NULL is a no-op, and a handle another
/// handle lends is refused.
///
/// # Safety
/// As for [`borrow_mut`]; the handle is invalid afterwards.
pub(crate) unsafe fn free<C: Castable<Ownership = Owned>>(
    handle: *mut C,
    param: &str,
) -> Result<(), Fail> {
    if handle.is_null() {
        return Ok(());
    }
    // SAFETY: the caller's contract.
    let tagged = unsafe { check(handle, param)? };
    // SAFETY: `check` validated the tag.
    if let Some(owner) = C::lent_by(unsafe { &(*tagged).value }) {
        return Err(Fail::Precondition(Cow::Owned(format!(
            "{param} is not owned by a {owner}"
        ))));
    }
    // SAFETY: as above; a live owned handle came from Box::into_raw.
    unsafe { drop(Box::from_raw(tagged)) };
    Ok(())
}

/// Adds a reference to a shared handle and returns it (`_ref`).
///
/// # Safety
/// As for [`borrow`], the caller holding a reference.
pub(crate) unsafe fn add_ref<C: Castable<Ownership = Shared>>(
    handle: *mut C,
    param: &str,
) -> Result<*mut C, Fail> {
    // SAFETY: the caller's contract; a live shared handle came from Arc::into_raw.
    unsafe { Arc::increment_strong_count(check(handle, param)?) };
    Ok(handle)
}

/// Drops one reference to a shared handle (`_unref`); NULL is a no-op. The value is
/// dropped with the last reference.
///
/// # Safety
/// As for [`add_ref`]; the caller's reference is gone afterwards.
pub(crate) unsafe fn unref<C: Castable<Ownership = Shared>>(
    handle: *mut C,
    param: &str,
) -> Result<(), Fail> {
    if handle.is_null() {
        return Ok(());
    }
    // SAFETY: the caller's contract; a live shared handle came from Arc::into_raw.
    unsafe { Arc::decrement_strong_count(check(handle, param)?) };
    Ok(())
}

/// A reference on a shared handle of type `C`, dropped with this.
pub(crate) struct HandleRef<C: Castable<Ownership = Shared>> {
    tagged: NonNull<Tagged<C::Rust>>,
    _type: PhantomData<*mut C>,
}

// SAFETY: a shared handle's value is Send + Sync (`Allocated for Shared`), and its
// count atomic.
unsafe impl<C: Castable<Ownership = Shared>> Send for HandleRef<C> where C::Rust: Sync {}
// SAFETY: as above.
unsafe impl<C: Castable<Ownership = Shared>> Sync for HandleRef<C> where C::Rust: Sync {}

impl<C: Castable<Ownership = Shared>> HandleRef<C> {
    /// Takes a reference on a live handle.
    ///
    /// # Safety
    /// As for [`add_ref`].
    pub(crate) unsafe fn new(handle: *mut C, param: &str) -> Result<HandleRef<C>, Fail> {
        // SAFETY: the caller's contract.
        let tagged = unsafe { check(handle, param)? };
        // SAFETY: as above; the reference is ours now.
        unsafe { Arc::increment_strong_count(tagged) };
        Ok(HandleRef {
            // SAFETY: `check` refused NULL.
            tagged: unsafe { NonNull::new_unchecked(tagged) },
            _type: PhantomData,
        })
    }

    /// Takes over the reference of a handle just made by [`new`].
    pub(crate) fn adopt(handle: *mut C) -> HandleRef<C> {
        HandleRef {
            tagged: NonNull::new(handle.cast()).expect("a new handle"),
            _type: PhantomData,
        }
    }

    /// The handle, as C holds it (valid while this reference is).
    pub(crate) fn as_ptr(&self) -> *mut C {
        self.tagged.as_ptr().cast()
    }

    /// The value behind the handle.
    pub(crate) fn get(&self) -> &C::Rust {
        // SAFETY: we hold a reference.
        unsafe { &self.tagged.as_ref().value }
    }

    /// A reference that does not keep the handle alive.
    pub(crate) fn downgrade(&self) -> WeakHandle<C> {
        // SAFETY: we hold a reference; the borrowed Arc is not dropped.
        let strong = std::mem::ManuallyDrop::new(unsafe { Arc::from_raw(self.tagged.as_ptr()) });
        WeakHandle {
            weak: Arc::downgrade(&strong),
            _type: PhantomData,
        }
    }
}

impl<C: Castable<Ownership = Shared>> Clone for HandleRef<C> {
    fn clone(&self) -> Self {
        // SAFETY: we hold a reference, so the handle is live.
        unsafe { Arc::increment_strong_count(self.tagged.as_ptr()) };
        HandleRef {
            tagged: self.tagged,
            _type: PhantomData,
        }
    }
}

impl<C: Castable<Ownership = Shared>> Drop for HandleRef<C> {
    fn drop(&mut self) {
        // SAFETY: our reference.
        unsafe { Arc::decrement_strong_count(self.tagged.as_ptr()) };
    }
}

/// A reference to a shared handle that does not keep it alive, for callbacks that
/// must not create a cycle with the object they report on.
pub(crate) struct WeakHandle<C: Castable<Ownership = Shared>> {
    weak: Weak<Tagged<C::Rust>>,
    _type: PhantomData<*mut C>,
}

// SAFETY: as for HandleRef.
unsafe impl<C: Castable<Ownership = Shared>> Send for WeakHandle<C> where C::Rust: Sync {}
// SAFETY: as above.
unsafe impl<C: Castable<Ownership = Shared>> Sync for WeakHandle<C> where C::Rust: Sync {}

impl<C: Castable<Ownership = Shared>> WeakHandle<C> {
    /// A reference on the handle, if it is still alive.
    pub(crate) fn upgrade(&self) -> Option<HandleRef<C>> {
        let strong = self.weak.upgrade()?;
        Some(HandleRef {
            // SAFETY: Arc::into_raw never returns NULL.
            tagged: unsafe { NonNull::new_unchecked(Arc::into_raw(strong).cast_mut()) },
            _type: PhantomData,
        })
    }
}

/// A single-owner handle that Rust owns and lends to C (a TLS channel's session),
/// freed when this is dropped.
pub(crate) struct OwnedHandle<C: Castable<Ownership = Owned>> {
    tagged: NonNull<Tagged<C::Rust>>,
    _type: PhantomData<*mut C>,
}

// SAFETY: the value is Send (Castable's bound), and Sync where it says so.
unsafe impl<C: Castable<Ownership = Owned>> Send for OwnedHandle<C> {}
// SAFETY: as above.
unsafe impl<C: Castable<Ownership = Owned>> Sync for OwnedHandle<C> where C::Rust: Sync {}

impl<C: Castable<Ownership = Owned>> OwnedHandle<C> {
    pub(crate) fn new(value: C::Rust) -> OwnedHandle<C>
    where
        Owned: Allocated<C::Rust>,
    {
        OwnedHandle {
            tagged: NonNull::new(new::<C>(value).cast()).expect("a new handle"),
            _type: PhantomData,
        }
    }

    /// The handle, valid while this is.
    pub(crate) fn as_ptr(&self) -> *mut C {
        self.tagged.as_ptr().cast()
    }
}

impl<C: Castable<Ownership = Owned>> Drop for OwnedHandle<C> {
    fn drop(&mut self) {
        // SAFETY: our handle, from Box::into_raw, freed once.
        unsafe { drop(Box::from_raw(self.tagged.as_ptr())) };
    }
}

/// One reference on a shared handle of any qio type, which the holder does not know:
/// what a `QIOTask` keeps on its source object.
pub(crate) struct AnyRef {
    header: NonNull<Header>,
    share: Share,
}

// SAFETY: only shared and static handles have share functions, and their values are
// Send + Sync; shared counts are atomic.
unsafe impl Send for AnyRef {}
// SAFETY: as above.
unsafe impl Sync for AnyRef {}

impl AnyRef {
    /// Takes a reference on `handle`, which must be a shared (or static) qio handle;
    /// anything else is a precondition failure stating `expected`.
    ///
    /// # Safety
    /// `handle` is NULL or readable memory of a header's size; a live handle if its
    /// header says so.
    pub(crate) unsafe fn new(handle: *mut c_void, expected: &'static str) -> Result<AnyRef, Fail> {
        let header = handle as *const Header;
        let refused = || Fail::Precondition(expected.into());
        if header.is_null() || !header.is_aligned() {
            return Err(refused());
        }
        // SAFETY: an aligned, readable header (the caller's contract).
        let (tag, share) = unsafe { ((*header).tag, (*header).share) };
        let share = share.filter(|_| Tag::is_qio(tag)).ok_or_else(refused)?;
        // SAFETY: a live shared handle; the reference is ours now.
        unsafe { (share.retain)(header) };
        Ok(AnyRef {
            // SAFETY: checked non-NULL above.
            header: unsafe { NonNull::new_unchecked(header.cast_mut()) },
            share,
        })
    }

    /// The one handle of a static type.
    pub(crate) fn of_static<T>(handle: &'static Tagged<T>) -> AnyRef {
        AnyRef {
            header: NonNull::from(&handle.header),
            share: static_share(),
        }
    }

    /// The handle, as C holds it.
    pub(crate) fn as_ptr(&self) -> *mut c_void {
        self.header.as_ptr().cast()
    }
}

/// The reference of a typed handle, held untyped.
impl<C: Castable<Ownership = Shared>> From<HandleRef<C>> for AnyRef {
    fn from(handle: HandleRef<C>) -> AnyRef {
        let header = handle.tagged.cast::<Header>();
        std::mem::forget(handle);
        AnyRef {
            header,
            share: shared::<C::Rust>(),
        }
    }
}

impl Drop for AnyRef {
    fn drop(&mut self) {
        // SAFETY: our reference.
        unsafe { (self.share.release)(self.header.as_ptr()) };
    }
}
