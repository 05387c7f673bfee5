//! `QCryptoIVGen`: sector IV generators (QEMU's `crypto/ivgen.h`).

use std::os::raw::c_int;

use glib_sys::GError;
use qio::crypto::{IvGen, IvGenAlgo};

use crate::boundary::ffi_guard;
use crate::cipher::CipherAlgoArg;
use crate::ffi::{
    bytes, bytes_mut, decode, enum_arg, free_handle, handle_mut, Castable, Lendable, Owned, Tag,
};
use crate::hash::HashAlgoArg;

/// IV generator algorithms, with QEMU's values.
#[repr(C)]
#[allow(non_camel_case_types)]
pub enum QCryptoIVGenAlgo {
    /// The sector number's low 32 bits, little-endian, zero-padded.
    QCRYPTO_IV_GEN_ALGO_PLAIN = 0,
    /// The 64-bit sector number, little-endian, zero-padded.
    QCRYPTO_IV_GEN_ALGO_PLAIN64 = 1,
    /// The 64-bit sector number encrypted under the hash of the key (ESSIV).
    QCRYPTO_IV_GEN_ALGO_ESSIV = 2,
    QCRYPTO_IV_GEN_ALGO__MAX = 3,
}

enum_arg! {
    /// A `QCryptoIVGenAlgo` as C passed it: any int, decoded before use.
    IvGenAlgoArg => IvGenAlgo, qapi
}

/// An IV generator, freed with qcrypto_ivgen_free().
pub struct QCryptoIVGen {
    _private: [u8; 0],
}

impl Castable for QCryptoIVGen {
    type Ownership = Owned;
    type Rust = Lendable<IvGen>;
    const NAME: &'static str = "QCryptoIVGen";
    const TAG: Tag = Tag::new(b"QIvG");

    fn lent_by(value: &Lendable<IvGen>) -> Option<&'static str> {
        value.owner()
    }
}

/// Creates an IV generator of @alg. @cipheralg and @hash are recorded for every
/// algorithm; ESSIV keys an ECB @cipheralg with the @hash digest of the @nkey bytes of
/// @key, truncated to the cipher's key length (a shorter digest is an error).
///
/// Returns: (transfer full) (nullable): a new generator to free with
/// qcrypto_ivgen_free(), or NULL with @error set.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_ivgen_new(
    alg: IvGenAlgoArg,
    cipheralg: CipherAlgoArg,
    hash: HashAlgoArg,
    key: *const u8,
    nkey: usize,
    error: *mut *mut GError,
) -> *mut QCryptoIVGen {
    ffi_guard!(std::ptr::null_mut(), error, {
        let key = bytes!(key, nkey);
        let ivgen = IvGen::new(decode!(alg), decode!(cipheralg), decode!(hash), key)?;
        Ok(crate::ffi::new(Lendable::owned(ivgen)))
    })
}

/// Writes the IV of @sector into the @niv bytes at @iv: the generator's output
/// truncated to @niv bytes or followed by zeros.
///
/// Returns: 0 on success, -1 with @error set on failure.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_ivgen_calculate(
    ivgen: *mut QCryptoIVGen,
    sector: u64,
    iv: *mut u8,
    niv: usize,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        handle_mut!(ivgen).calculate(sector, bytes_mut!(iv, niv))?;
        Ok(0)
    })
}

/// The algorithm of @ivgen.
///
/// Returns: the algorithm; %QCRYPTO_IV_GEN_ALGO__MAX (and a critical) if @ivgen is not
/// an IV generator.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_ivgen_get_algorithm(ivgen: *mut QCryptoIVGen) -> IvGenAlgoArg {
    ffi_guard!(
        IvGenAlgoArg(QCryptoIVGenAlgo::QCRYPTO_IV_GEN_ALGO__MAX as c_int),
        { Ok(handle_mut!(ivgen).algorithm().into()) }
    )
}

/// The cipher algorithm @ivgen was created with.
///
/// Returns: the algorithm; %QCRYPTO_CIPHER_ALGO__MAX (and a critical) if @ivgen is not
/// an IV generator.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_ivgen_get_cipher(ivgen: *mut QCryptoIVGen) -> CipherAlgoArg {
    ffi_guard!(CipherAlgoArg::INVALID, {
        Ok(handle_mut!(ivgen).cipher().into())
    })
}

/// The hash algorithm @ivgen was created with.
///
/// Returns: the algorithm; %QCRYPTO_HASH_ALGO__MAX (and a critical) if @ivgen is not an
/// IV generator.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_ivgen_get_hash(ivgen: *mut QCryptoIVGen) -> HashAlgoArg {
    ffi_guard!(HashAlgoArg::INVALID, {
        Ok(handle_mut!(ivgen).hash().into())
    })
}

/// Frees @ivgen (transfer full), wiping the ESSIV key; NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_ivgen_free(ivgen: *mut QCryptoIVGen) {
    ffi_guard!((), { free_handle!(ivgen) })
}
