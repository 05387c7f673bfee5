//! Block encryption (QEMU's `crypto/block.h`): LUKS and legacy qcow volumes.

pub mod luks_header;
pub mod luks_keyslot;
pub mod sectors;
