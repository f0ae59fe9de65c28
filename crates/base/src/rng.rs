//! Seeded, named random streams.
//!
//! Every stochastic process in the model draws from its own stream, derived from
//! `(master seed, replication, stream name, entity)`. Two consequences:
//!
//! * **Common random numbers.** A customer's draws (response delay, cache ages, …) do not depend
//!   on the strategy being simulated, so all strategies face the same customers, leaks and
//!   responses, and differences between strategies are not noise.
//! * **Order independence.** Results do not depend on thread count, chunking or the order in
//!   which customers are simulated.
//!
//! The generator is xoshiro256++ (Blackman & Vigna, <https://prng.di.unimi.it/>) seeded through
//! SplitMix64. Both are written out here so that results stay byte-identical whatever the
//! versions of external crates.

/// SplitMix64 step (<https://prng.di.unimi.it/splitmix64.c>).
#[inline]
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a 64 of a stream name: a stable id for a named stream.
pub const fn stream_id(name: &str) -> u64 {
    let bytes = name.as_bytes();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01B3);
        i += 1;
    }
    hash
}

/// The SplitMix64 state of the stream `(seed, replication, stream, entity)`. Each input is folded
/// in through a full SplitMix64 round, so nearby seeds, replications, stream ids and entities give
/// unrelated states.
#[inline]
fn stream_key(seed: u64, replication: u64, stream: u64, entity: u64) -> u64 {
    let mut st = seed;
    st = splitmix64(&mut st) ^ replication;
    st = splitmix64(&mut st) ^ stream;
    splitmix64(&mut st) ^ entity
}

/// A single uniform on [0, 1) for `(seed, replication, stream, entity)`: a counter-based draw
/// (the SplitMix64 finaliser over the folded inputs), for streams that need exactly one number.
/// Equivalent in distribution to the first draw of a fresh stream, at a fraction of the cost.
#[inline]
pub fn uniform_at(seed: u64, replication: u64, stream: u64, entity: u64) -> f64 {
    let mut st = stream_key(seed, replication, stream, entity);
    let bits = splitmix64(&mut st);
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// xoshiro256++ generator.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// The stream for `(seed, replication, stream, entity)`.
    pub fn stream(seed: u64, replication: u64, stream: u64, entity: u64) -> Rng {
        let mut st = stream_key(seed, replication, stream, entity);
        let s = [
            splitmix64(&mut st),
            splitmix64(&mut st),
            splitmix64(&mut st),
            splitmix64(&mut st),
        ];
        Rng { s }
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = (s[0].wrapping_add(s[3])).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform on [0, 1) with 53 bits.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform on (0, 1]: safe for `ln`.
    #[inline]
    pub fn uniform_open0(&mut self) -> f64 {
        1.0 - self.uniform()
    }

    /// A standard normal variate (Box–Muller; one of the pair is discarded so that each call
    /// consumes a fixed number of draws, which keeps streams aligned across strategies).
    pub fn standard_normal(&mut self) -> f64 {
        let u1 = self.uniform_open0();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_and_repeat() {
        let a: Vec<u64> = (0..4)
            .map(|_| Rng::stream(1, 0, stream_id("x"), 7).next_u64())
            .collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let mut b = Rng::stream(1, 0, stream_id("y"), 7);
        let mut c = Rng::stream(1, 1, stream_id("x"), 7);
        let mut d = Rng::stream(1, 0, stream_id("x"), 8);
        assert_ne!(a[0], b.next_u64());
        assert_ne!(a[0], c.next_u64());
        assert_ne!(a[0], d.next_u64());
    }

    #[test]
    fn uniform_mean_is_half() {
        let mut r = Rng::stream(42, 0, 1, 0);
        let n = 200_000;
        let mean = (0..n).map(|_| r.uniform()).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.005, "{mean}");
    }

    #[test]
    fn normal_moments() {
        let mut r = Rng::stream(42, 0, 2, 0);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| r.standard_normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.02,
            "{mean} {var}"
        );
    }
}
