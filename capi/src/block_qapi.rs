//! The QAPI-shaped structs of `QCryptoBlock` (what QEMU's `qapi-types-crypto.h`
//! declares), and their conversion to and from the core's types. Where QAPI holds a
//! secret object's id, these hold a borrowed `QCryptoSecret *`.

use qio::crypto::block::luks::LuksInfo;
use qio::crypto::block::{BlockFormat, CreateOptions, LuksCreateOptions};
use qio::crypto::hash::HashAlgo;
use qio::crypto::Secret;

use crate::block::{BlockFormatArg, KeyslotStateArg};
use crate::boundary::Fail;
use crate::cipher::CipherAlgoArg;
use crate::cipher::CipherModeArg;
use crate::ffi::EnumArg;
use crate::hash::HashAlgoArg;
use crate::ivgen::IvGenAlgoArg;
use crate::secret::QCryptoSecret;

/// The legacy qcow format's options (QAPI's `QCryptoBlockOptionsQCow`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct QCryptoBlockOptionsQCow {
    /// (nullable): the passphrase, borrowed for the call.
    pub key_secret: *const QCryptoSecret,
}

/// LUKS's options for opening (QAPI's `QCryptoBlockOptionsLUKS`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct QCryptoBlockOptionsLUKS {
    /// (nullable): the passphrase, borrowed for the call; not needed with
    /// %QCRYPTO_BLOCK_OPEN_NO_IO.
    pub key_secret: *const QCryptoSecret,
}

/// The format's members of #QCryptoBlockOpenOptions.
#[repr(C)]
#[derive(Clone, Copy)]
pub union QCryptoBlockOpenOptionsU {
    pub qcow: QCryptoBlockOptionsQCow,
    pub luks: QCryptoBlockOptionsLUKS,
}

/// How to open a volume (QAPI's `QCryptoBlockOpenOptions`): @u's member named by
/// @format is read.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct QCryptoBlockOpenOptions {
    pub format: BlockFormatArg,
    pub u: QCryptoBlockOpenOptionsU,
}

/// LUKS's options for creation (QAPI's `QCryptoBlockCreateOptionsLUKS`); each value
/// counts only if its `has_` flag is set, QEMU's default otherwise.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct QCryptoBlockCreateOptionsLUKS {
    /// The passphrase key slot 0 gets, borrowed for the call.
    pub key_secret: *const QCryptoSecret,
    pub has_cipher_alg: bool,
    /// Default: %QCRYPTO_CIPHER_ALGO_AES_256.
    pub cipher_alg: CipherAlgoArg,
    pub has_cipher_mode: bool,
    /// Default: %QCRYPTO_CIPHER_MODE_XTS.
    pub cipher_mode: CipherModeArg,
    pub has_ivgen_alg: bool,
    /// Default: %QCRYPTO_IV_GEN_ALGO_PLAIN64.
    pub ivgen_alg: IvGenAlgoArg,
    pub has_ivgen_hash_alg: bool,
    /// ESSIV's hash. Default: %QCRYPTO_HASH_ALGO_SHA256 with ESSIV.
    pub ivgen_hash_alg: HashAlgoArg,
    pub has_hash_alg: bool,
    /// The hash of PBKDF2 and the anti-forensic splitter. Default:
    /// %QCRYPTO_HASH_ALGO_SHA256.
    pub hash_alg: HashAlgoArg,
    pub has_iter_time: bool,
    /// Milliseconds of PBKDF2 an unlock costs, calibrated on this machine. Default: 2000.
    pub iter_time: i64,
}

/// The format's members of #QCryptoBlockCreateOptions.
#[repr(C)]
#[derive(Clone, Copy)]
pub union QCryptoBlockCreateOptionsU {
    pub qcow: QCryptoBlockOptionsQCow,
    pub luks: QCryptoBlockCreateOptionsLUKS,
}

/// How to create a volume (QAPI's `QCryptoBlockCreateOptions`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct QCryptoBlockCreateOptions {
    pub format: BlockFormatArg,
    pub u: QCryptoBlockCreateOptionsU,
}

/// A change to LUKS key slots (QAPI's `QCryptoBlockAmendOptionsLUKS`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct QCryptoBlockAmendOptionsLUKS {
    pub state: KeyslotStateArg,
    /// (nullable): activating: the passphrase to add.
    pub new_secret: *const QCryptoSecret,
    /// (nullable): erasing: the passphrase whose key slots go.
    pub old_secret: *const QCryptoSecret,
    pub has_keyslot: bool,
    /// The slot to fill (default: the first free one) or to erase.
    pub keyslot: i64,
    pub has_iter_time: bool,
    /// Activating: milliseconds of PBKDF2 for the new slot. Default: 2000.
    pub iter_time: i64,
    /// (nullable): activating: a passphrase the volume has already (default: the one it
    /// was opened with).
    pub secret: *const QCryptoSecret,
}

/// The format's members of #QCryptoBlockAmendOptions.
#[repr(C)]
#[derive(Clone, Copy)]
pub union QCryptoBlockAmendOptionsU {
    pub luks: QCryptoBlockAmendOptionsLUKS,
}

/// How to change a volume's key slots (QAPI's `QCryptoBlockAmendOptions`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct QCryptoBlockAmendOptions {
    pub format: BlockFormatArg,
    pub u: QCryptoBlockAmendOptionsU,
}

/// One LUKS key slot (QAPI's `QCryptoBlockInfoLUKSSlot`).
#[repr(C)]
pub struct QCryptoBlockInfoLUKSSlot {
    pub active: bool,
    pub has_iters: bool,
    /// PBKDF2 iterations of an active slot.
    pub iters: i64,
    pub has_stripes: bool,
    /// Anti-forensic stripes of an active slot.
    pub stripes: i64,
    /// Where the slot's key material starts, in bytes.
    pub key_offset: i64,
}

/// A list of key slots, in order.
#[repr(C)]
pub struct QCryptoBlockInfoLUKSSlotList {
    pub next: *mut QCryptoBlockInfoLUKSSlotList,
    pub value: *mut QCryptoBlockInfoLUKSSlot,
}

/// A LUKS volume's description (QAPI's `QCryptoBlockInfoLUKS`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct QCryptoBlockInfoLUKS {
    pub cipher_alg: CipherAlgoArg,
    pub cipher_mode: CipherModeArg,
    pub ivgen_alg: IvGenAlgoArg,
    pub has_ivgen_hash_alg: bool,
    pub ivgen_hash_alg: HashAlgoArg,
    pub hash_alg: HashAlgoArg,
    pub detached_header: bool,
    /// Where the payload starts, in bytes (0 with a detached header).
    pub payload_offset: i64,
    pub master_key_iters: i64,
    pub uuid: *mut std::os::raw::c_char,
    pub slots: *mut QCryptoBlockInfoLUKSSlotList,
}

/// The format's members of #QCryptoBlockInfo (qcow has none).
#[repr(C)]
#[derive(Clone, Copy)]
pub union QCryptoBlockInfoU {
    pub luks: QCryptoBlockInfoLUKS,
}

/// A volume's description (QAPI's `QCryptoBlockInfo`), freed with
/// qcrypto_block_info_free().
#[repr(C)]
pub struct QCryptoBlockInfo {
    pub format: BlockFormatArg,
    pub u: QCryptoBlockInfoU,
}

/// The secret a struct member points at, if any.
pub(crate) fn secret<'a>(
    member: *const QCryptoSecret,
    name: &str,
) -> Result<Option<&'a Secret>, Fail> {
    match member.is_null() {
        true => Ok(None),
        // SAFETY: a secret member is NULL or a live QCryptoSecret for the call (the C
        // contract of the option structs); `borrow` refuses any other type.
        false => Ok(Some(unsafe { crate::ffi::borrow(member, name)? })),
    }
}

/// The value of an optional QAPI scalar.
pub(crate) fn optional<T: EnumArg>(
    has: bool,
    value: T,
    name: &str,
) -> Result<Option<T::Rust>, Fail> {
    has.then(|| value.get(name)).transpose()
}

/// An optional QAPI `int` that the core takes unsigned; negative values are refused.
pub(crate) fn optional_u64(has: bool, value: i64, what: &str) -> Result<Option<u64>, Fail> {
    match (has, u64::try_from(value)) {
        (false, _) => Ok(None),
        (true, Ok(value)) => Ok(Some(value)),
        (true, Err(_)) => Err(Fail::Error(qio::Error::new(
            qio::ErrorKind::InvalidArgument,
            format!("{what} must not be negative: {value}"),
        ))),
    }
}

/// The core's creation options for C's.
pub(crate) fn create_options(
    options: &QCryptoBlockCreateOptions,
) -> Result<CreateOptions<'_>, Fail> {
    Ok(match options.format.get("options->format")? {
        BlockFormat::Qcow => {
            // SAFETY: the member @format names.
            let qcow = unsafe { &options.u.qcow };
            CreateOptions::Qcow {
                key_secret: secret(qcow.key_secret, "key_secret")?,
            }
        }
        BlockFormat::Luks => {
            // SAFETY: as above.
            let luks = unsafe { &options.u.luks };
            CreateOptions::Luks(LuksCreateOptions {
                key_secret: secret(luks.key_secret, "key_secret")?,
                cipher_alg: optional(luks.has_cipher_alg, luks.cipher_alg, "cipher_alg")?,
                cipher_mode: optional(luks.has_cipher_mode, luks.cipher_mode, "cipher_mode")?,
                ivgen_alg: optional(luks.has_ivgen_alg, luks.ivgen_alg, "ivgen_alg")?,
                ivgen_hash_alg: optional(
                    luks.has_ivgen_hash_alg,
                    luks.ivgen_hash_alg,
                    "ivgen_hash_alg",
                )?,
                hash_alg: optional(luks.has_hash_alg, luks.hash_alg, "hash_alg")?,
                iter_time: optional_u64(luks.has_iter_time, luks.iter_time, "iter-time")?,
            })
        }
    })
}

/// The C description of a LUKS header.
pub(crate) fn luks_info(info: &LuksInfo) -> QCryptoBlockInfoLUKS {
    let mut slots = std::ptr::null_mut();
    for slot in info.slots.iter().rev() {
        slots = crate::ffi::g_new(QCryptoBlockInfoLUKSSlotList {
            next: slots,
            value: crate::ffi::g_new(QCryptoBlockInfoLUKSSlot {
                active: slot.active,
                has_iters: slot.iters.is_some(),
                iters: slot.iters.map_or(0, i64::from),
                has_stripes: slot.stripes.is_some(),
                stripes: slot.stripes.map_or(0, i64::from),
                key_offset: slot.key_offset as i64,
            }),
        });
    }
    QCryptoBlockInfoLUKS {
        cipher_alg: info.cipher_alg.into(),
        cipher_mode: info.cipher_mode.into(),
        ivgen_alg: info.ivgen_alg.into(),
        has_ivgen_hash_alg: info.ivgen_hash_alg.is_some(),
        ivgen_hash_alg: info.ivgen_hash_alg.unwrap_or(HashAlgo::Md5).into(),
        hash_alg: info.hash_alg.into(),
        detached_header: info.detached_header,
        payload_offset: info.payload_offset as i64,
        master_key_iters: i64::from(info.master_key_iters),
        uuid: crate::ffi::g_string(&info.uuid),
        slots,
    }
}
