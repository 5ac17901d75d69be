//! RFC 6962's Merkle tree hash over leaf hashes (§2.1): an empty tree
//! hashes to SHA-256 of nothing; one leaf is its leaf hash; more are split
//! at the largest power of two below their count, and a node is
//! SHA-256(0x01 ‖ left ‖ right).
//!
//! Besides the root: the [`Frontier`] that summarises a prefix of the log
//! (what is kept when old events are pruned), inclusion and consistency
//! proofs as RFC 9162 §2.1.3 and §2.1.4 define them, and their checks.

use sha2::{Digest, Sha256};

use super::LeafHash;

/// The root of the tree whose leaves have these hashes, in order.
pub fn root(leaves: &[LeafHash]) -> LeafHash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The largest power of two smaller than `n` (`n` ≥ 2).
fn split<N>(n: N) -> N
where
    N: Copy + PartialOrd + std::ops::Mul<Output = N> + From<u8>,
{
    let two = N::from(2);
    let mut k = N::from(1);
    while k * two < n {
        k = k * two;
    }
    k
}

fn node(left: &LeafHash, right: &LeafHash) -> LeafHash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The perfect subtrees that cover the first `size` leaves, largest
/// first: one for each bit set in `size`. It is all a later tree needs of
/// those leaves, so a log whose oldest events were pruned keeps this in
/// their place, and the root of any larger tree still follows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    blocks: Vec<LeafHash>,
}

/// A frontier's blocks do not match its size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a frontier of {size} leaves has {expected} subtrees, not {found}")]
pub struct MalformedFrontier {
    pub size: u64,
    pub expected: u32,
    pub found: usize,
}

impl Frontier {
    pub fn new() -> Self {
        Self::default()
    }

    /// A frontier as stored: `size` leaves summarised by `blocks`.
    pub fn from_parts(size: u64, blocks: Vec<LeafHash>) -> Result<Self, MalformedFrontier> {
        if blocks.len() != size.count_ones() as usize {
            return Err(MalformedFrontier {
                size,
                expected: size.count_ones(),
                found: blocks.len(),
            });
        }
        Ok(Self { size, blocks })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn blocks(&self) -> &[LeafHash] {
        &self.blocks
    }

    /// Adds the next leaf: every block as large as the run it completes
    /// folds into one.
    pub fn push(&mut self, leaf: LeafHash) {
        let mut hash = leaf;
        let mut size = self.size;
        while size & 1 == 1 {
            let left = self.blocks.pop().expect("one block per set bit");
            hash = node(&left, &hash);
            size >>= 1;
        }
        self.blocks.push(hash);
        self.size += 1;
    }

    /// The root of the tree of `size` leaves: the blocks folded from the
    /// right, as RFC 6962 splits a tree at its largest power of two.
    pub fn root(&self) -> LeafHash {
        let mut blocks = self.blocks.iter().rev();
        let Some(last) = blocks.next() else {
            return root(&[]);
        };
        blocks.fold(*last, |right, left| node(left, &right))
    }

    /// The block that covers exactly leaves `lo..hi`, if there is one.
    fn block(&self, lo: u64, hi: u64) -> Option<&LeafHash> {
        let mut start = 0;
        let mut bit = 1u64 << 63;
        let mut blocks = self.blocks.iter();
        while bit > 0 {
            if self.size & bit != 0 {
                let hash = blocks.next()?;
                if start == lo && start + bit == hi {
                    return Some(hash);
                }
                start += bit;
            }
            bit >>= 1;
        }
        None
    }
}

/// Why a proof cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the log has {size} events; there is no event {seq}")]
    NoSuchLeaf { seq: u64, size: u64 },
    #[error("the log has {size} events, fewer than {wanted}")]
    TooLarge { wanted: u64, size: u64 },
    #[error("the first tree ({first} events) is larger than the second ({second})")]
    Backwards { first: u64, second: u64 },
    #[error("events up to {cut} were pruned; proofs start after them")]
    Pruned { cut: u64 },
}

/// A log as the server holds it: the frontier of what was pruned, then
/// the leaf hashes after it.
#[derive(Debug, Clone, Copy)]
pub struct Log<'a> {
    pruned: &'a Frontier,
    leaves: &'a [LeafHash],
}

impl<'a> Log<'a> {
    pub fn new(pruned: &'a Frontier, leaves: &'a [LeafHash]) -> Self {
        Self { pruned, leaves }
    }

    pub fn size(&self) -> u64 {
        self.pruned.size + self.leaves.len() as u64
    }

    /// The root of the log's first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<LeafHash, ProofError> {
        self.fits(size)?;
        if size == 0 {
            return Ok(root(&[]));
        }
        self.hash(0, size)
    }

    /// RFC 9162's PATH: the hashes that lead leaf `index` (from 0) up to
    /// the root of the first `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<LeafHash>, ProofError> {
        self.fits(size)?;
        if index >= size {
            return Err(ProofError::NoSuchLeaf {
                seq: index + 1,
                size,
            });
        }
        if index < self.pruned.size {
            return Err(ProofError::Pruned {
                cut: self.pruned.size,
            });
        }
        let mut proof = Vec::new();
        self.path(index, 0, size, &mut proof)?;
        Ok(proof)
    }

    /// RFC 9162's PROOF: the hashes that show the first `first` leaves are
    /// a prefix of the first `second`.
    pub fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<LeafHash>, ProofError> {
        self.fits(second)?;
        if first > second {
            return Err(ProofError::Backwards { first, second });
        }
        if first == 0 || first == second {
            return Ok(Vec::new());
        }
        if first < self.pruned.size {
            return Err(ProofError::Pruned {
                cut: self.pruned.size,
            });
        }
        let mut proof = Vec::new();
        self.subproof(first, 0, second, true, &mut proof)?;
        Ok(proof)
    }

    fn fits(&self, size: u64) -> Result<(), ProofError> {
        if size > self.size() {
            return Err(ProofError::TooLarge {
                wanted: size,
                size: self.size(),
            });
        }
        Ok(())
    }

    /// The hash of leaves `lo..hi` (`lo < hi`), from the pruned frontier
    /// where the range is one of its blocks or is made of them.
    fn hash(&self, lo: u64, hi: u64) -> Result<LeafHash, ProofError> {
        let cut = self.pruned.size;
        if lo >= cut {
            let from = (lo - cut) as usize;
            let to = (hi - cut) as usize;
            return Ok(root(&self.leaves[from..to]));
        }
        if let Some(block) = self.pruned.block(lo, hi) {
            return Ok(*block);
        }
        if hi - lo == 1 {
            return Err(ProofError::Pruned { cut });
        }
        let k = split(hi - lo);
        Ok(node(&self.hash(lo, lo + k)?, &self.hash(lo + k, hi)?))
    }

    fn path(&self, m: u64, lo: u64, hi: u64, out: &mut Vec<LeafHash>) -> Result<(), ProofError> {
        let n = hi - lo;
        if n == 1 {
            return Ok(());
        }
        let k = split(n);
        if m - lo < k {
            self.path(m, lo, lo + k, out)?;
            out.push(self.hash(lo + k, hi)?);
        } else {
            self.path(m, lo + k, hi, out)?;
            out.push(self.hash(lo, lo + k)?);
        }
        Ok(())
    }

    fn subproof(
        &self,
        m: u64,
        lo: u64,
        hi: u64,
        whole: bool,
        out: &mut Vec<LeafHash>,
    ) -> Result<(), ProofError> {
        let n = hi - lo;
        if m == n {
            if !whole {
                out.push(self.hash(lo, hi)?);
            }
            return Ok(());
        }
        let k = split(n);
        if m <= k {
            self.subproof(m, lo, lo + k, whole, out)?;
            out.push(self.hash(lo + k, hi)?);
        } else {
            self.subproof(m - k, lo + k, hi, false, out)?;
            out.push(self.hash(lo, lo + k)?);
        }
        Ok(())
    }
}

/// RFC 9162 §2.1.3.2: whether `proof` leads `leaf`, at `index` (from 0)
/// in a tree of `size` leaves, to `root`.
pub fn verify_inclusion(
    leaf: &LeafHash,
    index: u64,
    size: u64,
    proof: &[LeafHash],
    root: &LeafHash,
) -> bool {
    if index >= size {
        return false;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && r == *root
}

/// RFC 9162 §2.1.4.2: whether `proof` shows the tree of `first` leaves
/// with root `first_root` is a prefix of the tree of `second` leaves with
/// root `second_root`.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &LeafHash,
    second_root: &LeafHash,
    proof: &[LeafHash],
) -> bool {
    if first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    if first == 0 {
        return proof.is_empty() && *first_root == root(&[]);
    }
    let mut path: Vec<LeafHash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let Some((start, rest)) = path.split_first() else {
        return false;
    };
    let (mut fn_, mut sn) = (first - 1, second - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*start, *start);
    for c in rest {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node(c, &fr);
            sr = node(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    fr == *first_root && sr == *second_root && sn == 0
}

/// RFC 6962's leaf hash of raw leaf bytes, for the test vectors.
#[cfg(test)]
fn leaf(data: &[u8]) -> LeafHash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(data);
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u64) -> Vec<LeafHash> {
        (0..n).map(|i| leaf(&i.to_be_bytes())).collect()
    }

    #[test]
    fn a_frontier_grows_to_the_same_roots_and_survives_a_round_trip() {
        let all = leaves(40);
        let mut frontier = Frontier::new();
        assert_eq!(frontier.root(), root(&[]));
        for (i, l) in all.iter().enumerate() {
            frontier.push(*l);
            assert_eq!(frontier.root(), root(&all[..=i]), "{} leaves", i + 1);
            assert_eq!(frontier.blocks().len(), (i + 1).count_ones() as usize);
        }
        let again = Frontier::from_parts(40, frontier.blocks().to_vec()).unwrap();
        assert_eq!(again, frontier);
        assert!(Frontier::from_parts(41, frontier.blocks().to_vec()).is_err());
    }

    #[test]
    fn every_inclusion_and_consistency_proof_checks_and_a_wrong_one_does_not() {
        let all = leaves(33);
        let whole = Frontier::new();
        let log = Log::new(&whole, &all);
        for size in 1..=33u64 {
            let r = root(&all[..size as usize]);
            assert_eq!(log.root_at(size).unwrap(), r);
            for index in 0..size {
                let proof = log.inclusion_proof(index, size).unwrap();
                let l = &all[index as usize];
                assert!(
                    verify_inclusion(l, index, size, &proof, &r),
                    "{index} in {size}"
                );
                assert!(!verify_inclusion(
                    &leaf(b"another"),
                    index,
                    size,
                    &proof,
                    &r
                ));
                if !proof.is_empty() {
                    let mut bent = proof.clone();
                    bent[0][0] ^= 1;
                    assert!(!verify_inclusion(l, index, size, &bent, &r));
                }
            }
            for first in 0..=size {
                let proof = log.consistency_proof(first, size).unwrap();
                let fr = root(&all[..first as usize]);
                assert!(
                    verify_consistency(first, size, &fr, &r, &proof),
                    "{first} to {size}"
                );
                if first > 0 && first < size {
                    let other = root(&all[1..=first as usize]);
                    assert!(!verify_consistency(first, size, &other, &r, &proof));
                }
            }
        }
    }

    #[test]
    fn a_pruned_log_gives_the_same_roots_and_proofs_after_its_cut() {
        let all = leaves(37);
        let full = Frontier::new();
        let whole = Log::new(&full, &all);
        for cut in [1u64, 2, 3, 5, 8, 13, 21, 32] {
            let mut pruned = Frontier::new();
            for l in &all[..cut as usize] {
                pruned.push(*l);
            }
            let log = Log::new(&pruned, &all[cut as usize..]);
            assert_eq!(log.size(), 37);
            for size in cut..=37 {
                assert_eq!(log.root_at(size).unwrap(), whole.root_at(size).unwrap());
                for index in cut..size {
                    assert_eq!(
                        log.inclusion_proof(index, size).unwrap(),
                        whole.inclusion_proof(index, size).unwrap()
                    );
                }
                for first in cut..=size {
                    assert_eq!(
                        log.consistency_proof(first, size).unwrap(),
                        whole.consistency_proof(first, size).unwrap(),
                        "cut {cut}: {first} to {size}"
                    );
                }
            }
            if cut > 1 {
                assert_eq!(log.inclusion_proof(0, 37), Err(ProofError::Pruned { cut }));
            }
        }
    }

    /// The test vectors of the Certificate Transparency reference
    /// implementation: the roots of the first 1 to 8 of these leaves.
    #[test]
    fn roots_match_the_certificate_transparency_test_vectors() {
        let inputs: [&[u8]; 8] = [
            b"",
            b"\x00",
            b"\x10",
            b"\x20\x21",
            b"\x30\x31",
            b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57",
            b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
        ];
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let leaves: Vec<LeafHash> = inputs.iter().map(|d| leaf(d)).collect();
        for (n, expected) in roots.iter().enumerate() {
            assert_eq!(
                hex::encode(root(&leaves[..=n])),
                *expected,
                "{} leaves",
                n + 1
            );
        }
        assert_eq!(
            hex::encode(root(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
