//! One part of a tree copy shared between processes (on one machine or many):
//! every part walks the whole tree and makes every directory (whoever gets there
//! first makes it, the others merge into it), but copies only the entries that
//! fall to it. A file larger than `SPLIT` is cut into ranges spread over all the
//! parts, written into one temporary file that its owner puts under its name
//! once every part has finished. Files with several names are copied and linked
//! by one part, once every name is known.
//!
//! The work comes in three phases that the caller separates with a barrier
//! across all parts: `Data` (the data, and the directories), `Commit` (the split
//! files and the hard-link groups), `Dirs` (each directory's own metadata, by
//! its owner, once nothing more is created inside it).

use std::ffi::OsString;
use std::path::Path;

/// Files larger than this are copied in ranges by several parts.
pub(super) const SPLIT: u64 = 64 << 20;
/// The size of one range of a split file.
pub(super) const RANGE: u64 = 64 << 20;

/// Which part of a tree copy shared between processes this call does.
///
/// ```
/// assert_eq!(zcio::Phase::default(), zcio::Phase::All);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Everything, in one call (the only phase of a copy in one part).
    #[default]
    All,
    /// The data of the entries that fall to this part, and every directory.
    Data,
    /// After every part's `Data`: the files split between parts, and the files with
    /// several names.
    Commit,
    /// After every part's `Commit`: the metadata of the directories that fall to
    /// this part.
    Dirs,
}

/// This call's place among the parts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Part {
    pub index: u32,
    pub count: u32,
    pub phase: Phase,
}

impl Default for Part {
    fn default() -> Part {
        Part {
            index: 0,
            count: 1,
            phase: Phase::All,
        }
    }
}

/// FNV-1a: the same number for the same path on every machine.
fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn key(rel: &Path) -> u64 {
    hash(rel.as_os_str().as_encoded_bytes())
}

impl Part {
    /// Whether the whole copy is this one call.
    pub(super) fn alone(&self) -> bool {
        self.count <= 1 && self.phase == Phase::All
    }

    /// Whether the entry at `rel` (below the roots) falls to this part.
    pub(super) fn owns(&self, rel: &Path) -> bool {
        self.count <= 1 || key(rel) % u64::from(self.count) == u64::from(self.index)
    }

    /// Whether a file of `size` bytes is copied by ranges spread over the parts:
    /// one part alone copies it whole, as a copy on its own would (with Direct I/O
    /// where that pays).
    pub(super) fn splits(&self, size: u64) -> bool {
        self.count > 1 && size > SPLIT
    }

    /// Whether range `k` of the split file at `rel` falls to this part: the ranges
    /// of one file go round the parts, starting at its owner.
    pub(super) fn owns_range(&self, rel: &Path, k: u64) -> bool {
        self.count <= 1 || key(rel).wrapping_add(k) % u64::from(self.count) == u64::from(self.index)
    }

    /// Whether this phase sets directories' metadata.
    pub(super) fn dirs(&self) -> bool {
        matches!(self.phase, Phase::All | Phase::Dirs)
    }
}

/// The name every part gives the file that the ranges of `rel` go into, in its
/// destination directory.
pub(super) fn range_file(rel: &Path) -> OsString {
    OsString::from(format!(".zcio-{:016x}.part", key(rel)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_and_range_falls_to_exactly_one_part() {
        for count in [1u32, 2, 3, 4, 7] {
            for name in ["a", "dir/b", "x/y/z", ""] {
                let rel = Path::new(name);
                let owners: Vec<u32> = (0..count)
                    .filter(|&index| {
                        Part {
                            index,
                            count,
                            phase: Phase::Data,
                        }
                        .owns(rel)
                    })
                    .collect();
                assert_eq!(owners.len(), 1, "{name} in {count}");
                for k in 0..10 {
                    let n = (0..count)
                        .filter(|&index| {
                            Part {
                                index,
                                count,
                                phase: Phase::Data,
                            }
                            .owns_range(rel, k)
                        })
                        .count();
                    assert_eq!(n, 1);
                }
            }
        }
        // The hash is fixed: parts on other machines agree.
        assert_eq!(hash(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    /// Only a copy shared by several parts cuts a large file into ranges; one
    /// part copies it whole, as a copy on its own does (Direct I/O for it).
    #[test]
    fn one_part_copies_a_large_file_whole() {
        let part = |count| Part {
            index: 0,
            count,
            phase: Phase::Data,
        };
        assert!(!part(1).splits(4 * SPLIT));
        assert!(part(2).splits(SPLIT + 1));
        assert!(!part(2).splits(SPLIT));
    }
}
