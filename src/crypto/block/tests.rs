use super::luks_header::{HEADER_LEN, SLOT_ACTIVE};
use super::*;
use crate::crypto::secret::{SecretFormat, SecretSource};

/// A header in memory, kept as QEMU's test-crypto-block.c keeps it: room made once
/// by `init`, reads and writes inside it.
#[derive(Default)]
struct Memory(Vec<u8>);

impl HeaderIo for Memory {
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let start = offset as usize;
        buf.copy_from_slice(&self.0[start..start + buf.len()]);
        Ok(())
    }

    fn init(&mut self, len: u64) -> Result<()> {
        assert!(self.0.is_empty(), "init once");
        self.0.resize(len as usize, 0);
        Ok(())
    }

    fn write(&mut self, offset: u64, buf: &[u8]) -> Result<()> {
        let start = offset as usize;
        self.0[start..start + buf.len()].copy_from_slice(buf);
        Ok(())
    }
}

fn secret(text: &str) -> Secret {
    Secret::new(SecretSource::Data(text.as_bytes()), SecretFormat::Raw, None).unwrap()
}

fn open(
    format: BlockFormat,
    key: Option<&Secret>,
    header: &mut Memory,
    flags: OpenFlags,
) -> Result<Block> {
    Block::open(
        format,
        &OpenOptions { key_secret: key },
        None,
        header,
        flags,
    )
}

/// What QEMU's test_block checks without the secret: refused, but a NO_IO open gives a
/// volume without cipher.
fn open_without_secret(format: BlockFormat, header: &mut Memory) -> Block {
    let e = open(format, None, header, OpenFlags::default())
        .err()
        .unwrap();
    assert_eq!(e.message(), "Parameter 'key-secret' is required for cipher");
    let no_io = OpenFlags {
        no_io: true,
        ..Default::default()
    };
    let blind = open(format, None, header, no_io).unwrap();
    assert_eq!((blind.cipher(), blind.ivgen()), (None, None));
    assert_eq!(blind.kdf_hash(), HashAlgo::Md5);
    assert!(blind.new_cipher().is_none());
    blind
}

/// `passphrase` opens no key slot of the LUKS volume in `header`.
fn assert_locked_out(passphrase: &Secret, header: &mut Memory) {
    let e = open(
        BlockFormat::Luks,
        Some(passphrase),
        header,
        OpenFlags::default(),
    )
    .err()
    .unwrap();
    assert_eq!(e.message(), "Invalid password, cannot unlock any keyslot");
}

/// What QEMU's test_block_assert_setup checks.
fn assert_setup(
    block: &Block,
    cipher: (CipherAlgo, CipherMode),
    kdf_hash: HashAlgo,
    ivgen: (IvGenAlgo, HashAlgo),
) {
    assert_eq!(block.cipher(), Some(cipher));
    assert_eq!(block.kdf_hash(), kdf_hash);
    let (alg, _, hash) = block.ivgen().unwrap();
    assert_eq!((alg, hash), ivgen);
}

/// Sectors encrypt and decrypt back, from several threads at once.
fn assert_round_trip(a: &Block, b: &Block) {
    let plain: Vec<u8> = (0..8192u32).map(|i| (i % 251) as u8).collect();
    std::thread::scope(|scope| {
        for t in 0..3u64 {
            let plain = &plain;
            scope.spawn(move || {
                let mut data = plain.clone();
                a.encrypt(t * 8192, &mut data).unwrap();
                assert_ne!(&data, plain);
                b.decrypt(t * 8192, &mut data).unwrap();
                assert_eq!(&data, plain);
            });
        }
    });
}

/// QEMU's /crypto/block/qcow: no header; the passphrase is the key.
#[test]
fn qcow_round_trip() {
    let sec = secret("123456");
    let mut header = Memory::default();
    let options = CreateOptions::Qcow {
        key_secret: Some(&sec),
    };
    let created = Block::create(&options, None, &mut header, false).unwrap();
    assert!(header.0.is_empty());
    let setup = (
        (CipherAlgo::Aes128, CipherMode::Cbc),
        HashAlgo::Md5,
        (IvGenAlgo::Plain64, HashAlgo::Md5),
    );
    assert_setup(&created, setup.0, setup.1, setup.2);
    open_without_secret(BlockFormat::Qcow, &mut header);
    let opened = open(
        BlockFormat::Qcow,
        Some(&sec),
        &mut header,
        OpenFlags::default(),
    )
    .unwrap();
    assert_setup(&opened, setup.0, setup.1, setup.2);
    assert_round_trip(&created, &opened);
    assert!(!Block::has_format(BlockFormat::Qcow, &header.0));
}

/// QEMU's /crypto/block/luks/aes-256-cbc-essiv (sha1 for PBKDF2, sha256 for ESSIV),
/// the cheapest of its LUKS cases: created, opened blind, unlocked, compared.
#[test]
fn luks_round_trip() {
    let sec = secret("123456");
    let mut header = Memory::default();
    let options = CreateOptions::Luks(LuksCreateOptions {
        key_secret: Some(&sec),
        cipher_alg: Some(CipherAlgo::Aes256),
        cipher_mode: Some(CipherMode::Cbc),
        ivgen_alg: Some(IvGenAlgo::Essiv),
        ivgen_hash_alg: Some(HashAlgo::Sha256),
        hash_alg: Some(HashAlgo::Sha1),
        iter_time: Some(10),
    });
    let created = Block::create(&options, Some("encrypt."), &mut header, false).unwrap();
    // The header, 8 slots of 32 * 4000 bytes in 256 sectors each, then the payload.
    assert_eq!(header.0.len(), (8 + 8 * 256) * 512);
    assert_eq!(created.payload_offset(), header.0.len() as u64);
    let computed = Block::payload_offset_for(&options, None).unwrap();
    assert_eq!(computed, created.payload_offset());
    let new_block = created.new_cipher().unwrap().unwrap();
    assert_eq!(
        (new_block.0.algo(), new_block.0.mode()),
        (CipherAlgo::Aes256, CipherMode::Cbc)
    );
    assert!(Block::has_format(
        BlockFormat::Luks,
        &header.0[..HEADER_LEN]
    ));
    let luks = created.luks().unwrap();
    assert_eq!(&luks.header().cipher_mode[..17], b"cbc-essiv:sha256\0");
    assert_eq!(luks.header().key_slots[0].active, SLOT_ACTIVE);
    assert!(luks.header().key_slots[1..].iter().all(|s| !s.is_active()));
    assert!(luks.header().master_key_iterations >= 1000);
    let setup = (
        (CipherAlgo::Aes256, CipherMode::Cbc),
        HashAlgo::Sha1,
        (IvGenAlgo::Essiv, HashAlgo::Sha256),
    );
    assert_setup(&created, setup.0, setup.1, setup.2);

    let blind = open_without_secret(BlockFormat::Luks, &mut header);
    assert_eq!(blind.payload_offset(), created.payload_offset());

    let wrong = secret("654321");
    assert_locked_out(&wrong, &mut header);
    let opened = open(
        BlockFormat::Luks,
        Some(&sec),
        &mut header,
        OpenFlags::default(),
    )
    .unwrap();
    assert_setup(&opened, setup.0, setup.1, setup.2);
    assert_round_trip(&created, &opened);
}

/// A detached header records payload offset 0 and opens only as detached.
#[test]
fn luks_detached_header() {
    let sec = secret("pw");
    let mut header = Memory::default();
    let options = CreateOptions::Luks(LuksCreateOptions {
        key_secret: Some(&sec),
        cipher_mode: Some(CipherMode::Cbc),
        cipher_alg: Some(CipherAlgo::Aes128),
        iter_time: Some(10),
        ..Default::default()
    });
    let created = Block::create(&options, None, &mut header, true).unwrap();
    assert_eq!(created.payload_offset(), 0);
    assert!(created.luks().unwrap().detached_header());
    let e = open(
        BlockFormat::Luks,
        Some(&sec),
        &mut header,
        OpenFlags::default(),
    )
    .err()
    .unwrap();
    assert_eq!(e.message(), "LUKS payload is overlapping with the header");
    let detached = OpenFlags {
        detached: true,
        ..Default::default()
    };
    let opened = open(BlockFormat::Luks, Some(&sec), &mut header, detached).unwrap();
    assert_round_trip(&created, &opened);
}

#[test]
fn payload_requests_are_whole_sectors() {
    let sec = secret("123456");
    let block = Block::create(
        &CreateOptions::Qcow {
            key_secret: Some(&sec),
        },
        None,
        &mut Memory::default(),
        false,
    )
    .unwrap();
    let mut buf = vec![0u8; 512];
    let e = block.encrypt(100, &mut buf).unwrap_err();
    assert_eq!(
        e.message(),
        "Offset 100 and length 512 must be multiples of the sector size 512"
    );
    assert!(block.decrypt(512, &mut buf[..500]).is_err());
}

#[test]
fn luks_refuses_what_it_cannot_name() {
    let sec = secret("pw");
    let create = |options: LuksCreateOptions| {
        Block::create(
            &CreateOptions::Luks(options),
            None,
            &mut Memory::default(),
            false,
        )
        .err()
        .unwrap()
        .message()
        .to_owned()
    };
    let base = LuksCreateOptions {
        key_secret: Some(&sec),
        iter_time: Some(10),
        ..Default::default()
    };
    assert_eq!(
        create(LuksCreateOptions {
            cipher_alg: Some(CipherAlgo::Des),
            ..base
        }),
        "Algorithm 'des' not supported"
    );
    assert_eq!(
        create(LuksCreateOptions {
            ivgen_alg: Some(IvGenAlgo::Essiv),
            cipher_alg: Some(CipherAlgo::Cast5_128),
            ..base
        }),
        "Cipher cast5-128 not supported with essiv"
    );
    assert_eq!(
        create(LuksCreateOptions {
            key_secret: None,
            ..base
        }),
        "Parameter 'key-secret' is required for cipher"
    );
}

/// A cheap LUKS volume (aes-128-cbc-plain64) with `passphrase` in slot 0.
fn small_luks(passphrase: &Secret) -> (Block, Memory) {
    let mut header = Memory::default();
    let options = CreateOptions::Luks(LuksCreateOptions {
        key_secret: Some(passphrase),
        cipher_alg: Some(CipherAlgo::Aes128),
        cipher_mode: Some(CipherMode::Cbc),
        iter_time: Some(10),
        ..Default::default()
    });
    let block = Block::create(&options, None, &mut header, false).unwrap();
    (block, header)
}

fn amend(
    block: &mut Block,
    header: &mut Memory,
    options: luks::LuksAmendOptions<'_>,
    force: bool,
) -> std::result::Result<(), String> {
    block
        .amend(header, &AmendOptions::Luks(options), force)
        .map_err(|e| e.message().to_owned())
}

fn add(new_secret: &Secret) -> luks::LuksAmendOptions<'_> {
    luks::LuksAmendOptions {
        state: luks::KeyslotState::Active,
        new_secret: Some(new_secret),
        old_secret: None,
        keyslot: None,
        iter_time: Some(10),
        secret: None,
    }
}

fn erase<'a>(keyslot: Option<i64>, old_secret: Option<&'a Secret>) -> luks::LuksAmendOptions<'a> {
    luks::LuksAmendOptions {
        state: luks::KeyslotState::Inactive,
        new_secret: None,
        old_secret,
        keyslot,
        iter_time: None,
        secret: None,
    }
}

#[test]
fn luks_key_slots_are_added_with_qemus_rules() {
    let (pw0, pw1, wrong) = (secret("pw0"), secret("pw1"), secret("wrong"));
    let (mut block, mut header) = small_luks(&pw0);
    amend(&mut block, &mut header, add(&pw1), false).unwrap();
    let info = block.luks().unwrap().info();
    assert_eq!(
        info.slots.iter().map(|s| s.active).collect::<Vec<_>>(),
        [true, true, false, false, false, false, false, false]
    );
    // The new passphrase opens the volume as written.
    open(
        BlockFormat::Luks,
        Some(&pw1),
        &mut header,
        OpenFlags::default(),
    )
    .unwrap();

    let refusals: [(luks::LuksAmendOptions<'_>, &str); 6] = [
        (
            luks::LuksAmendOptions {
                keyslot: Some(1),
                ..add(&pw1)
            },
            "Refusing to overwrite active keyslot 1 - please erase it first",
        ),
        (
            luks::LuksAmendOptions {
                keyslot: Some(8),
                ..add(&pw1)
            },
            "Invalid keyslot 8 specified, must be between 0 and 7",
        ),
        (
            luks::LuksAmendOptions {
                keyslot: Some(-1),
                ..add(&pw1)
            },
            "Invalid keyslot 4294967295 specified, must be between 0 and 7",
        ),
        (
            luks::LuksAmendOptions {
                secret: Some(&wrong),
                ..add(&pw1)
            },
            "Invalid password, cannot unlock any keyslot",
        ),
        (
            luks::LuksAmendOptions {
                new_secret: None,
                ..add(&pw1)
            },
            "'new-secret' is required to activate a keyslot",
        ),
        (
            luks::LuksAmendOptions {
                old_secret: Some(&pw0),
                ..add(&pw1)
            },
            "'old-secret' must not be given when activating keyslots",
        ),
    ];
    for (options, message) in refusals {
        assert_eq!(
            amend(&mut block, &mut header, options, false).unwrap_err(),
            message
        );
    }
    // force overwrites an active slot.
    let options = luks::LuksAmendOptions {
        keyslot: Some(1),
        ..add(&wrong)
    };
    amend(&mut block, &mut header, options, true).unwrap();
    open(
        BlockFormat::Luks,
        Some(&wrong),
        &mut header,
        OpenFlags::default(),
    )
    .unwrap();
    assert_locked_out(&pw1, &mut header);
}

#[test]
fn luks_key_slots_are_erased_with_qemus_rules() {
    let (pw0, pw1, nope) = (secret("pw0"), secret("pw1"), secret("nope"));
    let (mut block, mut header) = small_luks(&pw0);
    amend(&mut block, &mut header, add(&pw1), false).unwrap();
    let slot1 = block.luks().unwrap().info().slots[1].key_offset as usize;
    let material = header.0[slot1..slot1 + 16 * 4000].to_vec();

    let refusals: [(luks::LuksAmendOptions<'_>, &str); 6] = [
        (erase(None, None),
         "To erase keyslot(s), either explicit keyslot index or the password currently contained in them must be given"),
        (erase(Some(1), Some(&pw0)),
         "Given keyslot 1 doesn't contain the given old password for erase operation"),
        (erase(Some(-1), None), "Invalid keyslot -1 specified, must be between 0 and 7"),
        (erase(None, Some(&nope)), "No keyslots match given (old) password for erase operation"),
        (luks::LuksAmendOptions { iter_time: Some(5), ..erase(Some(1), None) },
         "'iter-time' must not be given when erasing keyslots"),
        (luks::LuksAmendOptions { secret: Some(&pw0), ..erase(Some(1), None) },
         "'secret' must not be given when erasing keyslots"),
    ];
    for (options, message) in refusals {
        assert_eq!(
            amend(&mut block, &mut header, options, false).unwrap_err(),
            message
        );
    }
    amend(&mut block, &mut header, erase(Some(1), Some(&pw1)), false).unwrap();
    assert_eq!(
        amend(&mut block, &mut header, erase(Some(1), None), false).unwrap_err(),
        "Given keyslot 1 is already erased (inactive) "
    );
    // The slot's material is overwritten and the header on disk says it is free.
    assert_ne!(header.0[slot1..slot1 + material.len()], material[..]);
    let reopened = open(
        BlockFormat::Luks,
        None,
        &mut header,
        OpenFlags {
            no_io: true,
            ..Default::default()
        },
    )
    .unwrap();
    let slot = &reopened.luks().unwrap().header().key_slots[1];
    assert_eq!(
        (slot.is_active(), slot.iterations, slot.salt),
        (false, 0, [0; 32])
    );
    assert_locked_out(&pw1, &mut header);

    assert_eq!(
        amend(&mut block, &mut header, erase(Some(0), None), false).unwrap_err(),
        "Attempt to erase the only active keyslot 0 which will erase all the data in the image irreversibly - refusing operation"
    );
    assert_eq!(
        amend(&mut block, &mut header, erase(None, Some(&pw0)), false).unwrap_err(),
        "All the active keyslots match the (old) password that was given and erasing them will erase all the data in the image irreversibly - refusing operation"
    );
    amend(&mut block, &mut header, erase(None, Some(&pw0)), true).unwrap();
    assert!(block.luks().unwrap().info().slots.iter().all(|s| !s.active));
}

#[test]
fn luks_info_describes_the_header() {
    let pw = secret("pw");
    let (block, _) = small_luks(&pw);
    let info = block.luks().unwrap().info();
    assert_eq!(block.luks_info().as_ref(), Some(&info));
    assert_eq!(info.version, 1);
    assert_eq!(
        (
            info.cipher_alg,
            info.cipher_mode,
            info.ivgen_alg,
            info.ivgen_hash_alg,
            info.hash_alg
        ),
        (
            CipherAlgo::Aes128,
            CipherMode::Cbc,
            IvGenAlgo::Plain64,
            None,
            HashAlgo::Sha256
        )
    );
    assert!(!info.detached_header);
    assert_eq!(info.payload_offset, (8 + 8 * 128) * 512);
    assert_eq!(info.uuid.len(), 36);
    assert_eq!(info.uuid.as_bytes()[14], b'4');
    assert_eq!(info.slots.len(), 8);
    for (i, slot) in info.slots.iter().enumerate() {
        assert_eq!(slot.key_offset, (8 + 128 * i as u64) * 512);
        let active = i == 0;
        assert_eq!(
            (slot.active, slot.stripes.is_some(), slot.iters.is_some()),
            (active, active, active)
        );
    }
    assert_eq!(info.slots[0].stripes, Some(4000));
    assert!(info.slots[0].iters.unwrap() >= 1000);
}

#[test]
fn qcow_cannot_be_amended() {
    let pw = secret("pw");
    let mut block = Block::create(
        &CreateOptions::Qcow {
            key_secret: Some(&pw),
        },
        None,
        &mut Memory::default(),
        false,
    )
    .unwrap();
    let e = amend(&mut block, &mut Memory::default(), add(&pw), false).unwrap_err();
    assert_eq!(e, "Cannot amend encryption format");
}

/// The payload offset is known before creation, with creation's checks but no key.
#[test]
fn payload_offset_is_computed_without_creating() {
    let sec = secret("123456");
    let qcow = CreateOptions::Qcow {
        key_secret: Some(&sec),
    };
    assert_eq!(Block::payload_offset_for(&qcow, None).unwrap(), 0);
    // aes-128-cbc: 16-byte keys, 4000 stripes in 125 sectors, 128 after alignment.
    let luks = |key_secret| {
        CreateOptions::Luks(LuksCreateOptions {
            key_secret,
            cipher_alg: Some(CipherAlgo::Aes128),
            cipher_mode: Some(CipherMode::Cbc),
            ..Default::default()
        })
    };
    let offset = Block::payload_offset_for(&luks(Some(&sec)), None).unwrap();
    assert_eq!(offset, (8 + 8 * 128) * 512);
    let e = Block::payload_offset_for(&luks(None), Some("encrypt.")).unwrap_err();
    assert_eq!(
        e.message(),
        "Parameter 'encrypt.key-secret' is required for cipher"
    );
}
