//! Recognising what is written at the start of a device, from its bytes alone.
//!
//! This is a deliberately small subset of what libblkid knows: enough to tell
//! "something is on this disk" for the formats a server is likely to carry.
//! A false "nothing here" would let muster wipe data, so every check is on a
//! magic value at a fixed offset, and a device we could not read is never
//! called empty (the scanner reports that separately).

use crate::model::Signature;

/// How many bytes of a device [`detect_signatures`] looks at: the whole of ZFS
/// label 0 (256 KiB), which also covers btrfs (64 KiB) and large swap pages.
pub const HEAD_LEN: usize = 256 * 1024;

const SECTOR: usize = 512;

/// Whether a device head carries one kind of signature.
type Check = fn(&[u8]) -> bool;

/// The signatures found in `head`, the first bytes of a device (up to
/// [`HEAD_LEN`]; a shorter buffer is fine, checks past its end find nothing).
///
/// Partition tables come first, then whatever else is found, in a fixed
/// order, so the result is stable for a given device.
pub fn detect_signatures(head: &[u8]) -> Vec<Signature> {
    let mut found = Vec::new();
    // A GPT disk also carries a protective MBR; reporting both would only
    // confuse the reader, so the MBR counts only without a GPT header.
    if is_gpt(head) {
        found.push(Signature::Gpt);
    } else if is_mbr(head) {
        found.push(Signature::Mbr);
    }
    if let Some(version) = ext_version(head) {
        found.push(Signature::Ext { version });
    }
    let checks: [(Check, Signature); 6] = [
        (is_xfs, Signature::Xfs),
        (is_btrfs, Signature::Btrfs),
        (is_swap, Signature::Swap),
        (is_lvm_pv, Signature::LvmPv),
        (is_zfs_member, Signature::ZfsMember),
        (is_bluestore, Signature::CephBluestore),
    ];
    found.extend(
        checks
            .into_iter()
            .filter(|(check, _)| check(head))
            .map(|(_, signature)| signature),
    );
    found
}

/// `magic` stands at `offset` in `buf` (false when `buf` is too short).
fn has_at(buf: &[u8], offset: usize, magic: &[u8]) -> bool {
    buf.get(offset..offset + magic.len()) == Some(magic)
}

fn le_u32(buf: &[u8], offset: usize) -> Option<u32> {
    let bytes = buf.get(offset..offset + 4)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

// ext2/3/4 superblock: 1024 bytes in, magic at +56, feature words at +92..+104.
const EXT_SUPER: usize = 1024;
const EXT_COMPAT_HAS_JOURNAL: u32 = 0x4;
const EXT4_INCOMPAT: u32 = 0x40 /* extents */ | 0x80 /* 64bit */ | 0x200 /* flex_bg */;
const EXT4_RO_COMPAT: u32 = 0x8 /* huge_file */ | 0x10 /* gdt_csum */ | 0x400 /* metadata_csum */;

/// The ext generation, judged by features the way blkid does: ext3 is ext2
/// with a journal, ext4 is anything using features ext3 never had.
fn ext_version(head: &[u8]) -> Option<u8> {
    if !has_at(head, EXT_SUPER + 56, &0xEF53u16.to_le_bytes()) {
        return None;
    }
    let compat = le_u32(head, EXT_SUPER + 92)?;
    let incompat = le_u32(head, EXT_SUPER + 96)?;
    let ro_compat = le_u32(head, EXT_SUPER + 100)?;
    Some(
        if incompat & EXT4_INCOMPAT != 0 || ro_compat & EXT4_RO_COMPAT != 0 {
            4
        } else if compat & EXT_COMPAT_HAS_JOURNAL != 0 {
            3
        } else {
            2
        },
    )
}

fn is_xfs(head: &[u8]) -> bool {
    has_at(head, 0, b"XFSB")
}

fn is_btrfs(head: &[u8]) -> bool {
    has_at(head, 65536 + 64, b"_BHRfS_M")
}

/// The swap header ends its first page; the page size of the machine that
/// made it is unknown, so every common one is tried.
fn is_swap(head: &[u8]) -> bool {
    [4096, 8192, 16384, 65536].into_iter().any(|page| {
        has_at(head, page - 10, b"SWAPSPACE2") || has_at(head, page - 10, b"SWAP-SPACE")
    })
}

/// LVM2 writes its label into one of the first four sectors.
fn is_lvm_pv(head: &[u8]) -> bool {
    (0..4).any(|sector| {
        let at = sector * SECTOR;
        has_at(head, at, b"LABELONE") && has_at(head, at + 24, b"LVM2 001")
    })
}

const ZFS_UBERBLOCK_MAGIC: u64 = 0x00ba_b10c;
const ZFS_UBERBLOCK_RING: usize = 128 * 1024;
const ZFS_UBERBLOCK_RING_LEN: usize = 128 * 1024;
const ZFS_UBERBLOCK_MIN_SLOT: usize = 1024;

/// Parsing the label's nvlist is more than this check needs: an uberblock
/// magic (in either byte order, pools move between machines) in the ring of
/// label 0 is what blkid relies on too. Slots are at least 1 KiB apart and
/// larger slots are multiples of that, so 1 KiB steps visit every slot.
fn is_zfs_member(head: &[u8]) -> bool {
    (ZFS_UBERBLOCK_RING..ZFS_UBERBLOCK_RING + ZFS_UBERBLOCK_RING_LEN)
        .step_by(ZFS_UBERBLOCK_MIN_SLOT)
        .any(|at| {
            has_at(head, at, &ZFS_UBERBLOCK_MAGIC.to_le_bytes())
                || has_at(head, at, &ZFS_UBERBLOCK_MAGIC.to_be_bytes())
        })
}

fn is_bluestore(head: &[u8]) -> bool {
    has_at(head, 0, b"bluestore block device")
}

fn is_gpt(head: &[u8]) -> bool {
    has_at(head, SECTOR, b"EFI PART")
}

/// The boot signature alone is also on plain boot sectors; a table needs at
/// least one entry with a partition type.
fn is_mbr(head: &[u8]) -> bool {
    const TABLE: usize = 446;
    const ENTRY: usize = 16;
    const TYPE: usize = 4;
    has_at(head, 510, &[0x55, 0xAA])
        && (0..4).any(|i| head.get(TABLE + i * ENTRY + TYPE).is_some_and(|&t| t != 0))
}

/// Crafted device heads, shared by these tests and the scanner's fixture
/// trees.
#[cfg(test)]
pub(crate) mod testdata {
    use super::*;

    /// A zeroed device head of full length.
    pub fn blank() -> Vec<u8> {
        vec![0; HEAD_LEN]
    }

    pub fn put(buf: &mut [u8], offset: usize, bytes: &[u8]) {
        buf[offset..offset + bytes.len()].copy_from_slice(bytes);
    }

    pub fn with(offset: usize, bytes: &[u8]) -> Vec<u8> {
        let mut buf = blank();
        put(&mut buf, offset, bytes);
        buf
    }

    /// An ext superblock with the given feature words.
    pub fn ext(compat: u32, incompat: u32, ro_compat: u32) -> Vec<u8> {
        let mut buf = with(EXT_SUPER + 56, &0xEF53u16.to_le_bytes());
        put(&mut buf, EXT_SUPER + 92, &compat.to_le_bytes());
        put(&mut buf, EXT_SUPER + 96, &incompat.to_le_bytes());
        put(&mut buf, EXT_SUPER + 100, &ro_compat.to_le_bytes());
        buf
    }

    /// What mkfs.ext4 writes with its defaults: journal, extents, 64bit, flex_bg.
    pub fn ext4() -> Vec<u8> {
        ext(EXT_COMPAT_HAS_JOURNAL, 0x40 | 0x80 | 0x200, 0)
    }

    pub fn lvm_pv(sector: usize) -> Vec<u8> {
        let mut buf = with(sector * SECTOR, b"LABELONE");
        put(&mut buf, sector * SECTOR + 24, b"LVM2 001");
        buf
    }

    /// An MBR with one Linux partition.
    pub fn mbr() -> Vec<u8> {
        let mut buf = with(510, &[0x55, 0xAA]);
        buf[446 + 4] = 0x83;
        buf
    }

    /// A GPT disk as it really is: protective MBR plus GPT header.
    pub fn gpt() -> Vec<u8> {
        let mut buf = with(510, &[0x55, 0xAA]);
        buf[446 + 4] = 0xEE;
        put(&mut buf, SECTOR, b"EFI PART");
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::testdata::*;
    use super::*;

    #[test]
    fn blank_and_empty_buffers_carry_nothing() {
        assert_eq!(detect_signatures(&blank()), vec![]);
        assert_eq!(detect_signatures(&[]), vec![]);
        assert_eq!(detect_signatures(&[0xff; 100]), vec![]);
    }

    #[test]
    fn ext_generations_follow_features() {
        let cases = [
            // ext2: filetype, sparse_super.
            (ext(0, 0x2, 0x1), 2),
            (ext(EXT_COMPAT_HAS_JOURNAL, 0x2, 0x1), 3),
            (ext4(), 4),
            (ext(EXT_COMPAT_HAS_JOURNAL, 0x40, 0), 4),
            (ext(EXT_COMPAT_HAS_JOURNAL, 0x80, 0), 4),
            (ext(EXT_COMPAT_HAS_JOURNAL, 0x200, 0), 4),
            // metadata_csum alone.
            (ext(EXT_COMPAT_HAS_JOURNAL, 0, 0x400), 4),
        ];
        for (buf, version) in cases {
            assert_eq!(detect_signatures(&buf), vec![Signature::Ext { version }]);
        }
    }

    #[test]
    fn ext_superblock_cut_short_is_not_guessed() {
        let cut = &ext4()[..EXT_SUPER + 60];
        assert_eq!(detect_signatures(cut), vec![]);
    }

    #[test]
    fn filesystems_and_volume_labels() {
        let cases = [
            (with(0, b"XFSB"), Signature::Xfs),
            (with(65536 + 64, b"_BHRfS_M"), Signature::Btrfs),
            (with(4096 - 10, b"SWAPSPACE2"), Signature::Swap),
            (with(4096 - 10, b"SWAP-SPACE"), Signature::Swap),
            (with(65536 - 10, b"SWAPSPACE2"), Signature::Swap),
            (lvm_pv(1), Signature::LvmPv),
            (lvm_pv(3), Signature::LvmPv),
            (
                with(0, b"bluestore block device\n"),
                Signature::CephBluestore,
            ),
        ];
        for (buf, expected) in cases {
            assert_eq!(
                detect_signatures(&buf),
                vec![expected.clone()],
                "{expected:?}"
            );
        }
    }

    #[test]
    fn lvm_label_needs_its_type_too() {
        assert_eq!(detect_signatures(&with(512, b"LABELONE")), vec![]);
        // A label past the fourth sector is not where LVM looks.
        assert_eq!(detect_signatures(&lvm_pv(4)), vec![]);
    }

    #[test]
    fn zfs_uberblock_in_either_byte_order_anywhere_in_the_ring() {
        for (slot, bytes) in [
            (0, ZFS_UBERBLOCK_MAGIC.to_le_bytes()),
            (5, ZFS_UBERBLOCK_MAGIC.to_be_bytes()),
            (127, ZFS_UBERBLOCK_MAGIC.to_le_bytes()),
        ] {
            let buf = with(ZFS_UBERBLOCK_RING + slot * 1024, &bytes);
            assert_eq!(
                detect_signatures(&buf),
                vec![Signature::ZfsMember],
                "{slot}"
            );
        }
        // Not on a slot boundary: not an uberblock.
        let off_slot = with(ZFS_UBERBLOCK_RING + 8, &ZFS_UBERBLOCK_MAGIC.to_le_bytes());
        assert_eq!(detect_signatures(&off_slot), vec![]);
    }

    #[test]
    fn partition_tables() {
        assert_eq!(detect_signatures(&mbr()), vec![Signature::Mbr]);
        assert_eq!(detect_signatures(&gpt()), vec![Signature::Gpt]);
        // A boot signature with an empty table is not a partition table.
        assert_eq!(detect_signatures(&with(510, &[0x55, 0xAA])), vec![]);
    }

    #[test]
    fn several_signatures_are_all_reported() {
        let mut buf = gpt();
        put(&mut buf, 65536 + 64, b"_BHRfS_M");
        assert_eq!(
            detect_signatures(&buf),
            vec![Signature::Gpt, Signature::Btrfs]
        );
    }
}
