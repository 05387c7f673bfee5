//! What the builtin backend and its XTS need of a RustCrypto block cipher.

use cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};

/// A RustCrypto block cipher the builtin backend can run in every mode.
pub(super) trait BlockCipher:
    KeyInit + BlockCipherEncrypt + BlockCipherDecrypt + Clone + Send + 'static
{
}

impl<C: KeyInit + BlockCipherEncrypt + BlockCipherDecrypt + Clone + Send + 'static> BlockCipher
    for C
{
}

/// `C` keyed with `key`, whose length the caller checked.
pub(super) fn keyed<C: KeyInit>(key: &[u8]) -> C {
    C::new_from_slice(key).expect("key length checked by Cipher")
}
