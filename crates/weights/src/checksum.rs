//! sha256 of shards, computed while bytes stream in so a download never has to
//! be held twice.

use sha2::{Digest, Sha256};

use crate::WeightsError;

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Incremental sha256 and byte count over chunks as they arrive.
#[derive(Default, Clone)]
pub struct Sha256Stream {
    hasher: Sha256,
    bytes: u64,
}

impl Sha256Stream {
    pub fn update(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
        self.bytes += chunk.len() as u64;
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Checks the streamed bytes against the manifest's length and digest.
    pub fn finish(
        self,
        shard: &str,
        expected_len: u64,
        expected_sha256: &str,
    ) -> Result<(), WeightsError> {
        if self.bytes != expected_len {
            return Err(WeightsError::LengthMismatch {
                shard: shard.to_string(),
                expected: expected_len,
                got: self.bytes,
            });
        }
        let got = hex::encode(self.hasher.finalize());
        if !got.eq_ignore_ascii_case(expected_sha256) {
            return Err(WeightsError::ChecksumMismatch {
                shard: shard.to_string(),
                expected: expected_sha256.to_string(),
                got,
            });
        }
        Ok(())
    }
}

/// Checks a whole shard held in memory.
pub fn verify_shard(
    shard: &str,
    bytes: &[u8],
    expected_len: u64,
    expected_sha256: &str,
) -> Result<(), WeightsError> {
    let mut s = Sha256Stream::default();
    s.update(bytes);
    s.finish(shard, expected_len, expected_sha256)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest() {
        // FIPS 180-2 test vector.
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn streaming_equals_one_shot_and_catches_corruption() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let digest = sha256_hex(&data);
        let mut s = Sha256Stream::default();
        for chunk in data.chunks(4097) {
            s.update(chunk);
        }
        s.finish("a.bin", data.len() as u64, &digest).unwrap();

        let mut bad = data.clone();
        bad[50_000] ^= 1;
        let err = verify_shard("a.bin", &bad, bad.len() as u64, &digest).unwrap_err();
        assert!(
            matches!(err, WeightsError::ChecksumMismatch { ref shard, .. } if shard == "a.bin")
        );
        let err = verify_shard("a.bin", &data[1..], data.len() as u64, &digest).unwrap_err();
        assert!(matches!(err, WeightsError::LengthMismatch { .. }));
    }
}
