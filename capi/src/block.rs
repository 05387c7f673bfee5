//! `QCryptoBlock`: LUKS and legacy qcow volume encryption (QEMU's `crypto/block.h`).
//! Its option and information structs are in [`crate::block_qapi`].

use std::os::raw::{c_int, c_uint, c_void};

use glib_sys::GError;
use qio::crypto::block::luks::{KeyslotState, LuksAmendOptions};
use qio::crypto::block::{AmendOptions, Block, BlockFormat, HeaderIo, OpenFlags, OpenOptions};

use crate::block_qapi::{
    create_options, luks_info, optional_u64, secret, QCryptoBlockAmendOptions,
    QCryptoBlockCreateOptions, QCryptoBlockInfo, QCryptoBlockInfoU, QCryptoBlockOpenOptions,
};
use crate::boundary::{ffi_guard, require, Fail};
use crate::cipher::QCryptoCipher;
use crate::ffi::{
    bytes, bytes_mut, call_c, enum_arg, free_handle, handle, input, opt_utf8, out, Castable,
    EnumArg, Lendable, Owned, OwnedHandle, Tag,
};
use crate::hash::HashAlgoArg;
use crate::ivgen::QCryptoIVGen;

/// Volume encryption formats, with QEMU's values.
#[repr(C)]
#[allow(non_camel_case_types)]
pub enum QCryptoBlockFormat {
    /// QCow's legacy AES-128-CBC keyed with the passphrase: weak, for old images only.
    QCRYPTO_BLOCK_FORMAT_QCOW = 0,
    /// LUKS (cryptsetup's format).
    QCRYPTO_BLOCK_FORMAT_LUKS = 1,
    QCRYPTO_BLOCK_FORMAT__MAX = 2,
}

enum_arg! {
    /// A `QCryptoBlockFormat` as C passed it: any int, decoded before use.
    BlockFormatArg => BlockFormat, qapi
}

/// What an amendment does to LUKS key slots, with QEMU's values.
#[repr(C)]
#[allow(non_camel_case_types)]
pub enum QCryptoBlockLUKSKeyslotState {
    /// Put a passphrase in a key slot.
    QCRYPTO_BLOCK_LUKS_KEYSLOT_STATE_ACTIVE = 0,
    /// Erase key slots.
    QCRYPTO_BLOCK_LUKS_KEYSLOT_STATE_INACTIVE = 1,
    QCRYPTO_BLOCK_LUKS_KEYSLOT_STATE__MAX = 2,
}

enum_arg! {
    /// A `QCryptoBlockLUKSKeyslotState` as C passed it: any int, decoded before use.
    KeyslotStateArg => KeyslotState, qapi
}

/// Flags of qcrypto_block_open().
#[repr(C)]
#[allow(non_camel_case_types)]
pub enum QCryptoBlockOpenFlags {
    /// Read and check the header only: no secret needed, no payload I/O possible.
    QCRYPTO_BLOCK_OPEN_NO_IO = 1 << 0,
    /// The header is a LUKS detached header: the payload is elsewhere, from offset 0.
    QCRYPTO_BLOCK_OPEN_DETACHED = 1 << 1,
}

/// Flags of qcrypto_block_create().
#[repr(C)]
#[allow(non_camel_case_types)]
pub enum QCryptoBlockCreateFlags {
    /// Write a LUKS detached header: the payload is elsewhere, from offset 0.
    QCRYPTO_BLOCK_CREATE_DETACHED = 1 << 0,
}

/// Reads @buflen bytes of the header at @offset into @buf. @block is NULL while the
/// volume is being opened.
///
/// Returns: 0 on success, -1 with @errp set on failure.
pub type QCryptoBlockReadFunc = Option<
    unsafe extern "C" fn(
        block: *mut QCryptoBlock,
        offset: usize,
        buf: *mut u8,
        buflen: usize,
        opaque: *mut c_void,
        errp: *mut *mut GError,
    ) -> c_int,
>;

/// Makes room for a header of @headerlen bytes, before any write. @block is NULL.
///
/// Returns: 0 on success, -1 with @errp set on failure.
pub type QCryptoBlockInitFunc = Option<
    unsafe extern "C" fn(
        block: *mut QCryptoBlock,
        headerlen: usize,
        opaque: *mut c_void,
        errp: *mut *mut GError,
    ) -> c_int,
>;

/// Writes the @buflen bytes at @buf to the header at @offset. @block is NULL while the
/// volume is being created.
///
/// Returns: 0 on success, -1 with @errp set on failure.
pub type QCryptoBlockWriteFunc = Option<
    unsafe extern "C" fn(
        block: *mut QCryptoBlock,
        offset: usize,
        buf: *const u8,
        buflen: usize,
        opaque: *mut c_void,
        errp: *mut *mut GError,
    ) -> c_int,
>;

/// An open volume, freed with qcrypto_block_free(). Encryption and decryption may run
/// on several threads at once; everything else, one thread at a time.
pub struct QCryptoBlock {
    _private: [u8; 0],
}

/// The volume, and the cipher and IV generator it lends to C.
pub(crate) struct BlockHandle {
    block: Block,
    cipher: Option<OwnedHandle<QCryptoCipher>>,
    ivgen: Option<OwnedHandle<QCryptoIVGen>>,
}

impl Castable for QCryptoBlock {
    type Ownership = Owned;
    type Rust = BlockHandle;
    const NAME: &'static str = "QCryptoBlock";
    const TAG: Tag = Tag::new(b"QBlk");
}

/// qcrypto_block_encrypt() and _decrypt() borrow the volume from several threads.
const _: fn() = || {
    fn sync<T: Sync>() {}
    sync::<Block>();
};

impl BlockHandle {
    fn new(block: Block) -> Result<BlockHandle, Fail> {
        let (cipher, ivgen) = match block.new_cipher().transpose()? {
            Some((cipher, ivgen)) => (
                Some(OwnedHandle::new(Lendable::lent(cipher, "QCryptoBlock"))),
                Some(OwnedHandle::new(Lendable::lent(ivgen, "QCryptoBlock"))),
            ),
            None => (None, None),
        };
        Ok(BlockHandle {
            block,
            cipher,
            ivgen,
        })
    }
}

/// The C callbacks as the core reads and writes a header.
struct Callbacks {
    block: *mut QCryptoBlock,
    read: QCryptoBlockReadFunc,
    init: QCryptoBlockInitFunc,
    write: QCryptoBlockWriteFunc,
    opaque: *mut c_void,
    /// The first GError a callback set, for the caller as it was set.
    failure: *mut GError,
}

impl Callbacks {
    fn new(opaque: *mut c_void) -> Callbacks {
        Callbacks {
            block: std::ptr::null_mut(),
            read: None,
            init: None,
            write: None,
            opaque,
            failure: std::ptr::null_mut(),
        }
    }

    /// A callback's return value and GError as a result; the first GError is kept.
    fn result(&mut self, ret: c_int, mut gerror: *mut GError, what: &str) -> qio::Result<()> {
        if ret >= 0 {
            // SAFETY: NULL or a GError the callback set though it did not fail (GLib
            // callbacks set one only when failing): dropped.
            unsafe { glib_sys::g_clear_error(&mut gerror) };
            return Ok(());
        }
        let message =
            crate::error::message_or(gerror, || format!("The block {what} callback failed"));
        if self.failure.is_null() {
            self.failure = gerror;
        } else {
            // SAFETY: NULL or a GError the callback set; the first one is kept.
            unsafe { glib_sys::g_clear_error(&mut gerror) };
        }
        Err(qio::Error::new(qio::ErrorKind::Failed, message))
    }

    /// The end of a call into the core: a callback's GError reaches `error` unchanged
    /// (`Ok(None)`); any other failure is the core's error.
    fn finish<T>(
        mut self,
        result: qio::Result<T>,
        error: *mut *mut GError,
    ) -> Result<Option<T>, Fail> {
        match result {
            Ok(value) => Ok(Some(value)),
            Err(_) if !self.failure.is_null() => {
                let failure = std::mem::replace(&mut self.failure, std::ptr::null_mut());
                // SAFETY: `error` is NULL or points at NULL (the guard checked); the
                // GError is ours to give.
                unsafe { glib_sys::g_propagate_error(error, failure) };
                Ok(None)
            }
            Err(e) => Err(Fail::Error(e)),
        }
    }
}

impl Drop for Callbacks {
    fn drop(&mut self) {
        // SAFETY: NULL or a GError a callback gave us.
        unsafe { glib_sys::g_clear_error(&mut self.failure) };
    }
}

impl HeaderIo for Callbacks {
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> qio::Result<()> {
        let read = self.read.expect("checked by the export");
        let mut gerror = std::ptr::null_mut();
        let ret = call_c!(read(
            self.block,
            size_t(offset)?,
            buf.as_mut_ptr(),
            buf.len(),
            self.opaque,
            &mut gerror
        ));
        self.result(ret, gerror, "read")
    }

    fn init(&mut self, len: u64) -> qio::Result<()> {
        let init = self.init.expect("checked by the export");
        let mut gerror = std::ptr::null_mut();
        let ret = call_c!(init(self.block, size_t(len)?, self.opaque, &mut gerror));
        self.result(ret, gerror, "init")
    }

    fn write(&mut self, offset: u64, buf: &[u8]) -> qio::Result<()> {
        let write = self.write.expect("checked by the export");
        let mut gerror = std::ptr::null_mut();
        let ret = call_c!(write(
            self.block,
            size_t(offset)?,
            buf.as_ptr(),
            buf.len(),
            self.opaque,
            &mut gerror
        ));
        self.result(ret, gerror, "write")
    }
}

/// A header offset or length as C's `size_t`.
fn size_t(value: u64) -> qio::Result<usize> {
    usize::try_from(value).map_err(|_| {
        qio::Error::new(
            qio::ErrorKind::InvalidArgument,
            format!("Header offset {value} does not fit in size_t"),
        )
    })
}

/// Flags outside `known` are a critical.
fn check_flags(flags: c_uint, known: c_uint) -> Result<(), Fail> {
    require!(flags & !known == 0, "flags are QCryptoBlock flags");
    Ok(())
}

/// Whether @buf, the first @buflen bytes of a volume, holds a header of @format.
/// Never for qcow, whose encryption has no header of its own.
///
/// Returns: true if it does; false otherwise, also for an unknown @format.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_block_has_format(
    format: BlockFormatArg,
    buf: *const u8,
    buflen: usize,
) -> bool {
    ffi_guard!(false, {
        let buf = bytes!(buf, buflen);
        Ok(format.decode().is_some_and(|f| Block::has_format(f, buf)))
    })
}

/// Opens the volume whose header @readfunc reads, with the passphrase of @options
/// unless @flags hold %QCRYPTO_BLOCK_OPEN_NO_IO. @optprefix (nullable) prefixes option
/// names in messages ("encrypt." for qcow2). @readfunc's @block is NULL.
///
/// Returns: (transfer full) (nullable): the volume, to free with
/// qcrypto_block_free(), or NULL with @errp set ("Invalid password, cannot unlock any
/// keyslot" for a wrong passphrase).
#[no_mangle]
pub unsafe extern "C" fn qcrypto_block_open(
    options: *const QCryptoBlockOpenOptions,
    optprefix: *const std::os::raw::c_char,
    readfunc: QCryptoBlockReadFunc,
    opaque: *mut c_void,
    flags: c_uint,
    errp: *mut *mut GError,
) -> *mut QCryptoBlock {
    ffi_guard!(std::ptr::null_mut(), errp, {
        let options = input!(options);
        require!(readfunc.is_some(), "readfunc != NULL");
        check_flags(flags, 0b11)?;
        let format = options.format.get("options->format")?;
        // SAFETY: both members start with the secret; @format names which one it is.
        let key_secret = secret(unsafe { options.u.luks.key_secret }, "key_secret")?;
        let open_flags = OpenFlags {
            no_io: flags & QCryptoBlockOpenFlags::QCRYPTO_BLOCK_OPEN_NO_IO as c_uint != 0,
            detached: flags & QCryptoBlockOpenFlags::QCRYPTO_BLOCK_OPEN_DETACHED as c_uint != 0,
        };
        let optprefix = opt_utf8!(optprefix, "Option prefix");
        let mut io = Callbacks {
            read: readfunc,
            ..Callbacks::new(opaque)
        };
        let opened = Block::open(
            format,
            &OpenOptions { key_secret },
            optprefix,
            &mut io,
            open_flags,
        );
        match io.finish(opened, errp)? {
            Some(block) => Ok(crate::ffi::new(BlockHandle::new(block)?)),
            None => Ok(std::ptr::null_mut()),
        }
    })
}

/// Creates a volume as @options say: @initfunc is told the header's length, then
/// @writefunc writes it (both with a NULL @block). With
/// %QCRYPTO_BLOCK_CREATE_DETACHED the header is written alone and the payload starts
/// at offset 0 elsewhere.
///
/// Returns: (transfer full) (nullable): the new volume, to free with
/// qcrypto_block_free(), or NULL with @errp set.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_block_create(
    options: *const QCryptoBlockCreateOptions,
    optprefix: *const std::os::raw::c_char,
    initfunc: QCryptoBlockInitFunc,
    writefunc: QCryptoBlockWriteFunc,
    opaque: *mut c_void,
    flags: c_uint,
    errp: *mut *mut GError,
) -> *mut QCryptoBlock {
    ffi_guard!(std::ptr::null_mut(), errp, {
        let options = input!(options);
        require!(initfunc.is_some(), "initfunc != NULL");
        require!(writefunc.is_some(), "writefunc != NULL");
        check_flags(flags, 0b1)?;
        let options = create_options(options)?;
        let optprefix = opt_utf8!(optprefix, "Option prefix");
        let mut io = Callbacks {
            init: initfunc,
            write: writefunc,
            ..Callbacks::new(opaque)
        };
        let detached =
            flags & QCryptoBlockCreateFlags::QCRYPTO_BLOCK_CREATE_DETACHED as c_uint != 0;
        let created = Block::create(&options, optprefix, &mut io, detached);
        match io.finish(created, errp)? {
            Some(block) => Ok(crate::ffi::new(BlockHandle::new(block)?)),
            None => Ok(std::ptr::null_mut()),
        }
    })
}

/// Changes the key slots of @block as @options say, reading and writing its header
/// through @readfunc and @writefunc (which get @block). @force overwrites an active
/// slot and erases the last one, which QEMU's rules otherwise refuse.
///
/// Returns: 0 on success, -1 with @errp set on failure.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_block_amend_options(
    block: *mut QCryptoBlock,
    readfunc: QCryptoBlockReadFunc,
    writefunc: QCryptoBlockWriteFunc,
    opaque: *mut c_void,
    options: *const QCryptoBlockAmendOptions,
    force: bool,
    errp: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, errp, {
        let handle = crate::ffi::handle_mut!(block);
        let options = input!(options);
        require!(readfunc.is_some(), "readfunc != NULL");
        require!(writefunc.is_some(), "writefunc != NULL");
        let format = options.format.get("options->format")?;
        if format != handle.block.format() {
            return Err(Fail::Error(qio::Error::new(
                qio::ErrorKind::InvalidArgument,
                "Cannot amend encryption format",
            )));
        }
        if format != BlockFormat::Luks {
            return Err(Fail::Error(qio::Error::new(
                qio::ErrorKind::NotSupported,
                format!(
                    "Crypto format {} doesn't support format options amendment",
                    format.name()
                ),
            )));
        }
        // SAFETY: the member @format names.
        let luks = unsafe { &options.u.luks };
        let amend = AmendOptions::Luks(LuksAmendOptions {
            state: luks.state.get("state")?,
            new_secret: secret(luks.new_secret, "new_secret")?,
            old_secret: secret(luks.old_secret, "old_secret")?,
            keyslot: luks.has_keyslot.then_some(luks.keyslot),
            iter_time: optional_u64(luks.has_iter_time, luks.iter_time, "iter-time")?,
            secret: secret(luks.secret, "secret")?,
        });
        let mut io = Callbacks {
            block,
            read: readfunc,
            write: writefunc,
            ..Callbacks::new(opaque)
        };
        let amended = handle.block.amend(&mut io, &amend, force);
        Ok(io.finish(amended, errp)?.map_or(-1, |()| 0))
    })
}

/// Sets `*len` to where the payload of a volume created with @options would start:
/// the bytes of its header and key material (0 for qcow). The options are checked as
/// qcrypto_block_create() checks them, but nothing is created and no key derived.
///
/// Returns: true on success, false with @errp set if @options are refused.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_block_calculate_payload_offset(
    options: *const QCryptoBlockCreateOptions,
    optprefix: *const std::os::raw::c_char,
    len: *mut usize,
    errp: *mut *mut GError,
) -> bool {
    ffi_guard!(false, errp, {
        let options = create_options(input!(options))?;
        let len = out!(len);
        let offset = Block::payload_offset_for(&options, opt_utf8!(optprefix, "Option prefix"))?;
        *len = size_t(offset)?;
        Ok(true)
    })
}

/// Describes @block: its format and, for LUKS, its algorithms, UUID and key slots.
///
/// Returns: (transfer full): the description, to free with qcrypto_block_info_free();
/// NULL (and a critical) if @block is not a volume.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_block_get_info(
    block: *mut QCryptoBlock,
    errp: *mut *mut GError,
) -> *mut QCryptoBlockInfo {
    ffi_guard!(std::ptr::null_mut(), errp, {
        let block = &handle!(block).block;
        let luks = block.luks_info().map(|info| luks_info(&info));
        Ok(crate::ffi::g_new(QCryptoBlockInfo {
            format: block.format().into(),
            u: QCryptoBlockInfoU {
                // SAFETY: all-zero bytes are a valid QCryptoBlockInfoLUKS (NULL
                // pointers, FALSE, value 0 enums), as QEMU's g_new0 leaves it for qcow.
                luks: luks.unwrap_or_else(|| unsafe { std::mem::zeroed() }),
            },
        }))
    })
}

/// Frees a description from qcrypto_block_get_info() (QEMU's
/// `qapi_free_QCryptoBlockInfo`); NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_block_info_free(info: *mut QCryptoBlockInfo) {
    if info.is_null() {
        return;
    }
    // SAFETY: a description from qcrypto_block_get_info() (the C contract), whose
    // pointers are g_malloc'ed or NULL (a qcow one's LUKS member is all zero).
    unsafe {
        let luks = &(*info).u.luks;
        let mut node = luks.slots;
        while !node.is_null() {
            let next = (*node).next;
            glib_sys::g_free((*node).value.cast());
            glib_sys::g_free(node.cast());
            node = next;
        }
        glib_sys::g_free(luks.uuid.cast());
        glib_sys::g_free(info.cast());
    }
}

/// Decrypts @len bytes at @buf in place: payload sectors starting at byte @offset of
/// the payload. May run on several threads at once.
///
/// Returns: 0 on success, -1 with @errp set on failure; -1 and a critical if @offset
/// or @len is not a multiple of the sector size or @block was opened with
/// %QCRYPTO_BLOCK_OPEN_NO_IO.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_block_decrypt(
    block: *mut QCryptoBlock,
    offset: u64,
    buf: *mut u8,
    len: usize,
    errp: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, errp, {
        let block = payload(handle!(block), offset, len)?;
        block.decrypt(offset, bytes_mut!(buf, len))?;
        Ok(0)
    })
}

/// Encrypts @len bytes at @buf in place, as qcrypto_block_decrypt() takes them.
///
/// Returns: 0 on success, -1 with @errp set on failure; -1 and a critical for the
/// misuses qcrypto_block_decrypt() names.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_block_encrypt(
    block: *mut QCryptoBlock,
    offset: u64,
    buf: *mut u8,
    len: usize,
    errp: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, errp, {
        let block = payload(handle!(block), offset, len)?;
        block.encrypt(offset, bytes_mut!(buf, len))?;
        Ok(0)
    })
}

/// The volume of `handle` for payload work at `offset`, `len`, which QEMU asserts are
/// whole sectors of a volume with keys.
fn payload(handle: &BlockHandle, offset: u64, len: usize) -> Result<&Block, Fail> {
    let block = &handle.block;
    let size = u64::from(block.sector_size());
    require!(
        offset.is_multiple_of(size) && (len as u64).is_multiple_of(size),
        "offset and len are multiples of the sector size"
    );
    require!(block.cipher().is_some(), "block was opened for I/O");
    Ok(block)
}

/// The cipher @block encrypts its payload with, for callers that work on sectors
/// themselves; the IV of each sector is theirs to set (see qcrypto_block_get_ivgen()).
///
/// Returns: (transfer none) (nullable): the cipher, owned by @block (never free it);
/// NULL if @block was opened with %QCRYPTO_BLOCK_OPEN_NO_IO.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_block_get_cipher(block: *mut QCryptoBlock) -> *mut QCryptoCipher {
    ffi_guard!(std::ptr::null_mut(), {
        Ok(handle!(block)
            .cipher
            .as_ref()
            .map_or(std::ptr::null_mut(), OwnedHandle::as_ptr))
    })
}

/// The IV generator of @block's payload sectors.
///
/// Returns: (transfer none) (nullable): the generator, owned by @block (never free it);
/// NULL if @block was opened with %QCRYPTO_BLOCK_OPEN_NO_IO.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_block_get_ivgen(block: *mut QCryptoBlock) -> *mut QCryptoIVGen {
    ffi_guard!(std::ptr::null_mut(), {
        Ok(handle!(block)
            .ivgen
            .as_ref()
            .map_or(std::ptr::null_mut(), OwnedHandle::as_ptr))
    })
}

/// The hash that derives keys from passphrases (%QCRYPTO_HASH_ALGO_MD5, QEMU's 0, for
/// qcow and for a volume opened with %QCRYPTO_BLOCK_OPEN_NO_IO).
///
/// Returns: the hash; %QCRYPTO_HASH_ALGO__MAX (and a critical) if @block is not a
/// volume.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_block_get_kdf_hash(block: *mut QCryptoBlock) -> HashAlgoArg {
    ffi_guard!(HashAlgoArg::INVALID, {
        Ok(handle!(block).block.kdf_hash().into())
    })
}

/// Where the payload starts, in bytes from the header's start (0 for qcow and for a
/// detached header).
///
/// Returns: the offset; 0 (and a critical) if @block is not a volume.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_block_get_payload_offset(block: *mut QCryptoBlock) -> u64 {
    ffi_guard!(0, { Ok(handle!(block).block.payload_offset()) })
}

/// The payload's sector size in bytes: the unit of qcrypto_block_encrypt() and
/// _decrypt().
///
/// Returns: the size; 0 (and a critical) if @block is not a volume.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_block_get_sector_size(block: *mut QCryptoBlock) -> u64 {
    ffi_guard!(0, { Ok(u64::from(handle!(block).block.sector_size())) })
}

/// Frees @block (transfer full), its cipher and IV generator, and wipes its keys;
/// NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_block_free(block: *mut QCryptoBlock) {
    ffi_guard!((), { free_handle!(block) })
}
