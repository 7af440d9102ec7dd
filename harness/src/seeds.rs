//! Seed derivation: every random draw of a campaign comes from a generator keyed by the
//! campaign seed and what the draw is for, so no draw depends on the order others happen in.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Independent random streams of one round.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    Sampler = 1,
    Researcher = 2,
    Evaluator = 3,
}

/// The generator of one round's stream.
pub(crate) fn round_rng(seed: u64, round: u64, stream: Stream) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(round.wrapping_mul(16).wrapping_add(stream as u64));
    rng
}

/// The request seed of a model call: a function of the campaign seed and the call's key (its
/// round, role name and number among the role's calls), so calls do not consume the round's
/// random streams.
pub(crate) fn call_seed(campaign_seed: u64, round: u64, role: &str, seq: u32) -> u64 {
    let mut x = campaign_seed ^ round.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(seq) << 48;
    for b in role.bytes() {
        x = (x ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3);
    }
    // splitmix64 finaliser
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (x ^ (x >> 31)) >> 1
}

#[cfg(test)]
mod tests {
    use rand::RngCore;

    use super::*;

    #[test]
    fn round_streams_are_independent_and_reproducible() {
        let a = round_rng(7, 3, Stream::Sampler).next_u64();
        assert_eq!(a, round_rng(7, 3, Stream::Sampler).next_u64());
        assert_ne!(a, round_rng(7, 3, Stream::Researcher).next_u64());
        assert_ne!(a, round_rng(7, 4, Stream::Sampler).next_u64());
        assert_ne!(a, round_rng(8, 3, Stream::Sampler).next_u64());
    }
}
