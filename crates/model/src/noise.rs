//! Seeded Gaussian noise that is bit-identical natively and in the browser.
//!
//! Algorithm (stable: share links depend on it): SplitMix64 seeded with the
//! seed gives 64-bit words; each pair of words (u, v) becomes two normals by
//! Box-Muller, `r = sqrt(-2 ln(1 - u 2^-53))`, `z0 = r cos(2 pi v 2^-53)`,
//! `z1 = r sin(2 pi v 2^-53)` (u, v their top 53 bits), in f64 with `libm`'s
//! functions (the same code on every platform), then rounded to f32. Values
//! fill the tensor in row-major order. It is not torch's generator: to
//! reproduce a diffusers image exactly, pass its latents (`--init-latents`).

/// SplitMix64 (Steele, Lea, Flood 2014).
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// `n` standard normal values for `seed`.
pub fn gaussian(seed: u64, n: usize) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed);
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        let u = rng.unit();
        let v = rng.unit();
        let r = libm::sqrt(-2.0 * libm::log(1.0 - u));
        let a = 2.0 * std::f64::consts::PI * v;
        out.push((r * libm::cos(a)) as f32);
        out.push((r * libm::sin(a)) as f32);
    }
    out.truncate(n);
    out
}

/// The noise the ancestral sampler adds at `step` of the image seeded `seed`:
/// its own stream, so it never overlaps the initial latents'.
pub fn step_noise(seed: u64, step: usize, n: usize) -> Vec<f32> {
    let mut mix = SplitMix64::new(seed ^ 0x5eed_0000_0000_0000);
    let mut s = mix.next_u64();
    for _ in 0..step {
        s = mix.next_u64();
    }
    gaussian(s, n)
}
