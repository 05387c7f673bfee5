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
    let e = open(BlockFormat::Qcow, None, &mut header, OpenFlags::default())
        .err()
        .unwrap();
    assert_eq!(e.message(), "Parameter 'key-secret' is required for cipher");
    let no_io = OpenFlags {
        no_io: true,
        ..Default::default()
    };
    let blind = open(BlockFormat::Qcow, None, &mut header, no_io).unwrap();
    assert_eq!(blind.cipher(), None);
    assert_eq!(blind.ivgen(), None);
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

    let e = open(BlockFormat::Luks, None, &mut header, OpenFlags::default())
        .err()
        .unwrap();
    assert_eq!(e.message(), "Parameter 'key-secret' is required for cipher");
    let no_io = OpenFlags {
        no_io: true,
        ..Default::default()
    };
    let blind = open(BlockFormat::Luks, None, &mut header, no_io).unwrap();
    assert_eq!((blind.cipher(), blind.kdf_hash()), (None, HashAlgo::Md5));
    assert_eq!(blind.payload_offset(), created.payload_offset());

    let wrong = secret("654321");
    let e = open(
        BlockFormat::Luks,
        Some(&wrong),
        &mut header,
        OpenFlags::default(),
    )
    .err()
    .unwrap();
    assert_eq!(e.message(), "Invalid password, cannot unlock any keyslot");
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
