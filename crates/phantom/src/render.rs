//! Draws a study as a frontal chest radiograph: a density map (soft tissue,
//! air in the lungs and trachea, bone, fluid, radiopaque devices) turned into
//! film brightness by exponential attenuation, then blurred and given
//! quantum noise. Thin structures (ribs, vessels, tubes) are rasterized as
//! line segments with soft edges; everything else is evaluated per pixel
//! from the outlines in [`crate::geometry`].

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::geometry::{P, Thorax, p, segment_distance, smoothstep};
use crate::study::{Device, Side, Study, Zone};

/// A square field of values over the image, with line drawing.
struct Field {
    n: usize,
    v: Vec<f32>,
}

impl Field {
    fn new(n: usize) -> Self {
        Field {
            n,
            v: vec![0.0; n * n],
        }
    }

    /// Adds `amount` along the segment a-b (image coordinates), `width`
    /// wide, with a soft edge of about a pixel. `amount_b` lets it fade.
    fn line(&mut self, a: P, b: P, width: f32, amount: f32, amount_b: f32) {
        let n = self.n as f32;
        let px = 1.0 / n;
        let r = width * 0.5 + 1.5 * px;
        let x0 = ((a.x.min(b.x) - r) * n).floor().max(0.0) as usize;
        let x1 = ((a.x.max(b.x) + r) * n).ceil().min(n - 1.0).max(0.0) as usize;
        let y0 = ((a.y.min(b.y) - r) * n).floor().max(0.0) as usize;
        let y1 = ((a.y.max(b.y) + r) * n).ceil().min(n - 1.0).max(0.0) as usize;
        for yi in y0..=y1 {
            for xi in x0..=x1 {
                let q = p((xi as f32 + 0.5) * px, (yi as f32 + 0.5) * px);
                let (d, t) = segment_distance(q, a, b);
                let cover = 1.0 - smoothstep(width * 0.5 - 0.5 * px, width * 0.5 + 0.7 * px, d);
                if cover > 0.0 {
                    let i = yi * self.n + xi;
                    // Thin lines still leave a mark: coverage of a sub-pixel
                    // line is its width in pixels.
                    let thin = (width * n).clamp(0.35, 1.0);
                    let amt = amount + (amount_b - amount) * t;
                    self.v[i] = self.v[i].max(cover * amt * thin);
                }
            }
        }
    }

    /// A polyline through `pts`.
    fn path(&mut self, pts: &[P], width: f32, amount: f32) {
        for w in pts.windows(2) {
            self.line(w[0], w[1], width, amount, amount);
        }
    }
}

/// Points of a quadratic Bezier curve.
fn bezier(a: P, c: P, b: P, steps: usize) -> Vec<P> {
    (0..=steps)
        .map(|i| {
            let t = i as f32 / steps as f32;
            let u = 1.0 - t;
            p(
                u * u * a.x + 2.0 * u * t * c.x + t * t * b.x,
                u * u * a.y + 2.0 * u * t * c.y + t * t * b.y,
            )
        })
        .collect()
}

/// Branching vessels from the hilum: each branch splits in two, thinner and
/// fainter, fanning out toward the periphery.
fn vessel_tree(f: &mut Field, th: &Thorax, side: Side, rng: &mut impl Rng) {
    let h = th.hilum(side);
    let s = side.sign();
    // Main branches: up, out and down (angles from +x toward the side).
    for base in [-1.25f32, -0.55, 0.05, 0.6, 1.15] {
        let angle = base + rng.random_range(-0.15..0.15);
        let dir = (s * angle.cos(), angle.sin());
        branch(
            f,
            th,
            h,
            dir,
            0.085 + rng.random_range(0.0..0.03),
            0.011,
            0.22,
            4,
            rng,
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn branch(
    f: &mut Field,
    th: &Thorax,
    from: P,
    dir: (f32, f32),
    len: f32,
    width: f32,
    amount: f32,
    depth: u32,
    rng: &mut impl Rng,
) {
    let to = p(from.x + dir.0 * len, from.y + dir.1 * len);
    f.line(
        th.to_image(from),
        th.to_image(to),
        width,
        amount,
        amount * 0.8,
    );
    if depth == 0 {
        return;
    }
    for turn in [-1.0f32, 1.0] {
        let a = turn * rng.random_range(0.25..0.55);
        let (c, s) = (a.cos(), a.sin());
        let d = (dir.0 * c - dir.1 * s, dir.0 * s + dir.1 * c);
        branch(
            f,
            th,
            to,
            d,
            len * rng.random_range(0.6..0.8),
            (width * 0.72).max(0.002),
            amount * 0.72,
            depth - 1,
            rng,
        );
    }
}

/// Ribs and clavicles, in the patient's frame, as polylines.
fn bones(f: &mut Field, th: &Thorax) {
    let a = th.a;
    for side in Side::BOTH {
        let s = side.sign();
        // Posterior ribs: from the spine, up a little, then down and out.
        for k in 0..10 {
            let y0 = a.apex_y - 0.025 + k as f32 * 0.062;
            let x_out = th.lateral_x(side, y0 + 0.06) + s * 0.02;
            let start = p(a.cx + s * 0.03, y0);
            let end = p(x_out, y0 + 0.085);
            let ctrl = p(a.cx + s * 0.6 * (x_out - a.cx).abs(), y0 - 0.035);
            let pts: Vec<P> = bezier(start, ctrl, end, 12)
                .into_iter()
                .map(|q| th.to_image(q))
                .collect();
            f.path(&pts, 0.017, 0.16);
        }
        // Anterior ribs: fainter, from the chest wall down toward the sternum.
        for k in 0..6 {
            let y0 = a.apex_y + 0.07 + k as f32 * 0.075;
            let start = p(th.lateral_x(side, y0) + s * 0.01, y0);
            let end = p(a.cx + s * 0.09, y0 + 0.09);
            let ctrl = p(a.cx + s * 0.5 * (start.x - a.cx).abs(), y0 + 0.015);
            let pts: Vec<P> = bezier(start, ctrl, end, 10)
                .into_iter()
                .map(|q| th.to_image(q))
                .collect();
            f.path(&pts, 0.014, 0.06);
        }
        // Clavicle: sternal end to acromion, gently S-shaped.
        let pts: Vec<P> = bezier(
            p(a.cx + s * 0.035, a.apex_y + 0.035),
            p(a.cx + s * 0.18, a.apex_y + 0.04),
            p(a.cx + s * (a.half_width + 0.05), a.apex_y - 0.045),
            12,
        )
        .into_iter()
        .map(|q| th.to_image(q))
        .collect();
        f.path(&pts, 0.024, 0.3);
    }
}

/// Tubes, lines and the pacemaker, in the patient's frame.
fn devices(f: &mut Field, th: &Thorax, list: &[Device]) {
    let a = th.a;
    let carina_y = a.apex_y + 0.19;
    let svc = |side: Side| p(a.cx - 0.04, carina_y + 0.02 + 0.01 * side.sign());
    for d in list {
        let pts: Vec<P> = match *d {
            Device::EndotrachealTube => vec![p(a.cx, -0.01), p(a.cx + 0.003, carina_y - 0.05)],
            Device::NasogastricTube => {
                let stomach = p(a.cx + 0.17, th.dome_top(Side::Left) + 0.08);
                let mut v = vec![
                    p(a.cx + 0.01, -0.01),
                    p(a.cx + 0.015, carina_y),
                    p(a.cx + 0.03, th.dome_top(Side::Left)),
                ];
                v.extend(bezier(
                    p(a.cx + 0.03, th.dome_top(Side::Left)),
                    p(a.cx + 0.06, stomach.y + 0.02),
                    stomach,
                    8,
                ));
                v
            }
            Device::CentralLine(side) => {
                let s = side.sign();
                let neck = p(a.cx + s * 0.09, -0.01);
                let mut v = vec![neck];
                v.extend(bezier(
                    p(a.cx + s * 0.085, a.apex_y),
                    p(a.cx + s * 0.05, carina_y - 0.08),
                    svc(side),
                    8,
                ));
                v
            }
            Device::Picc(side) => {
                let s = side.sign();
                let arm = p(0.5 + s * 0.52, a.apex_y + 0.1);
                let axilla = p(a.cx + s * (a.half_width + 0.02), a.apex_y + 0.02);
                let mut v = vec![arm, axilla];
                v.extend(bezier(
                    p(a.cx + s * 0.12, a.apex_y + 0.03),
                    p(a.cx + s * 0.03, a.apex_y + 0.06),
                    svc(side),
                    8,
                ));
                v
            }
            Device::Pacemaker => {
                // Generator box below the left clavicle, leads into the heart.
                let c = p(a.cx + a.half_width * 0.62, a.apex_y + 0.1);
                for k in 0..5 {
                    let y = c.y - 0.025 + k as f32 * 0.0125;
                    f.line(
                        th.to_image(p(c.x - 0.04, y)),
                        th.to_image(p(c.x + 0.04, y)),
                        0.014,
                        1.6,
                        1.6,
                    );
                }
                let (heart, wr, _, hh) = th.heart();
                let rv = p(heart.x - wr * 0.1, heart.y + hh * 0.5);
                let mut v = bezier(c, p(a.cx + 0.02, a.apex_y + 0.02), svc(Side::Left), 8);
                v.extend(bezier(svc(Side::Left), p(a.cx - 0.06, heart.y), rv, 8));
                v
            }
        };
        let pts: Vec<P> = pts.into_iter().map(|q| th.to_image(q)).collect();
        let width = match d {
            Device::EndotrachealTube => 0.016,
            Device::NasogastricTube => 0.009,
            _ => 0.007,
        };
        f.path(&pts, width, 1.2);
    }
}

/// The phantom's pixels (n x n, row-major, 0 = black) for `study`; `rng`
/// draws the noise and the fine structure's jitter.
pub fn render(study: &Study, n: usize, rng: &mut impl Rng) -> Vec<f32> {
    let a = &study.anatomy;
    let fd = &study.findings;
    let th = Thorax { a };
    let mut detail = ChaCha8Rng::seed_from_u64(a.detail_seed);

    let mut vessels = Field::new(n);
    for side in Side::BOTH {
        vessel_tree(&mut vessels, &th, side, &mut detail);
    }
    let mut bone = Field::new(n);
    bones(&mut bone, &th);
    let mut metal = Field::new(n);
    devices(&mut metal, &th, &fd.devices);
    let (plates, blobs) = lesions(&th, fd, n, &mut detail);
    let layers = Layers {
        vessels,
        bone,
        metal,
        plates,
        blobs,
    };

    let px = 1.0 / n as f32;
    let mut out = vec![0.0f32; n * n];
    for yi in 0..n {
        for xi in 0..n {
            let i = yi * n + xi;
            let img = p((xi as f32 + 0.5) * px, (yi as f32 + 0.5) * px);
            out[i] = density(&th, fd, &layers, th.to_patient(img), i, px).max(0.0);
        }
    }
    expose(&out, a, n, rng)
}

/// What is drawn before the pixels are: vessels, bone and metal, and the
/// lesions (atelectatic plates, consolidation blobs in the patient's frame).
struct Layers {
    vessels: Field,
    bone: Field,
    metal: Field,
    plates: Field,
    blobs: Vec<(P, f32)>,
}

/// Plate-like atelectasis and consolidation blobs; the blobs' places are
/// drawn from `detail` (after the vessels, as they always were).
fn lesions(
    th: &Thorax<'_>,
    fd: &crate::study::Findings,
    n: usize,
    detail: &mut ChaCha8Rng,
) -> (Field, Vec<(P, f32)>) {
    let a = th.a;
    let mut plates = Field::new(n);
    for &side in &fd.atelectasis {
        for k in 0..2 {
            let y = th.dome_top(side) - 0.03 - 0.03 * k as f32;
            let x = a.cx + side.sign() * a.half_width * (0.45 + 0.1 * k as f32);
            plates.line(
                th.to_image(p(x - 0.08, y + 0.006)),
                th.to_image(p(x + 0.08, y - 0.006)),
                0.012,
                0.45,
                0.45,
            );
        }
    }
    let blobs: Vec<(P, f32)> = match fd.consolidation {
        Some((side, zone)) => {
            let top = a.apex_y;
            let h = th.dome_top(side) - top;
            let (y0, y1) = match zone {
                Zone::Upper => (top + 0.12 * h, top + 0.45 * h),
                Zone::Lower => (top + 0.55 * h, top + 0.88 * h),
            };
            (0..7)
                .map(|_| {
                    let y = detail.random_range(y0..y1);
                    let x = a.cx + side.sign() * a.half_width * detail.random_range(0.35..0.8);
                    (p(x, y), detail.random_range(0.035..0.06))
                })
                .collect()
        }
        None => Vec::new(),
    };

    (plates, blobs)
}

/// The tissue density at patient point `q` (image pixel `i`, of side `px`):
/// body, spine and mediastinum, lungs with their findings, heart, airways,
/// stomach gas, then bone and metal.
///
/// Long: one pixel's physics in drawing order (later layers see the
/// earlier ones' density); it runs n² times, and the order of its float
/// operations is what the demo model was trained on.
fn density(
    th: &Thorax<'_>,
    fd: &crate::study::Findings,
    layers: &Layers,
    q: P,
    i: usize,
    px: f32,
) -> f32 {
    let a = th.a;
    let Layers {
        vessels,
        bone,
        metal,
        plates,
        blobs,
    } = layers;
    let dx = q.x - a.cx;

    // Body: neck, shoulders, chest wall; thicker in the middle.
    let chest = a.half_width + a.soft_tissue + 0.02;
    let shoulder = smoothstep(-0.02, a.apex_y, q.y);
    let half = 0.1 + (chest + 0.06 - 0.1) * shoulder - 0.04 * smoothstep(0.5, 1.0, q.y);
    let body = smoothstep(0.0, 2.0 * px, half - dx.abs());
    let thickness = (1.0 - (dx / half.max(0.05)).powi(2)).max(0.0).sqrt();
    let mut d = body * (0.6 + 0.35 * thickness);

    // Spine and mediastinum.
    let spine = smoothstep(0.0, 2.0 * px, 0.034 - dx.abs());
    let vert = 0.85 + 0.15 * (q.y * std::f32::consts::TAU / 0.045).cos();
    d += 0.3 * spine * vert;
    // Mediastinum: blood and tissue where there is no lung.
    let medi = smoothstep(0.0, 2.0 * px, 0.07 - dx.abs()) * smoothstep(0.0, 0.05, q.y);
    d += 0.25 * medi * body;

    // Lungs: air, with the hemidiaphragms and the heart as borders.
    let mut air = 0.0;
    let mut lung_mask = 0.0f32;
    let mut tissue = 0.0f32;
    for side in Side::BOTH {
        let depth = th.lung_depth(side, q);
        let lung = smoothstep(-0.6 * px, 0.9 * px, depth);
        if lung <= 0.0 {
            continue;
        }
        lung_mask = lung_mask.max(lung);
        // Where vessels show: the lung that is still expanded.
        let mut expanded = lung;
        let mut lung_air = 0.68 * lung;
        if let Some((ps, size)) = fd.pneumothorax
            && ps == side
        {
            let c = th.collapsed_depth(side, size, q);
            expanded *= smoothstep(-0.4 * px, 0.4 * px, c);
            // The visceral pleural line, and no lung beyond it.
            let pleura = (-(c / (0.7 * px)).powi(2)).exp();
            tissue += 0.3 * pleura * lung;
            // Black air beyond the line; the collapsed lung holds
            // less air than a normal one.
            lung_air += 0.12 * lung * (1.0 - expanded);
            if size == crate::study::Size::Large {
                lung_air -= 0.2 * expanded;
            }
        }
        if let Some(size) = fd.effusion_on(side) {
            let fluid = smoothstep(-1.5 * px, 2.5 * px, th.fluid_depth(side, size, q));
            lung_air *= 1.0 - 0.92 * fluid;
            expanded *= 1.0 - fluid;
        }
        air += lung_air;
        let mut local = vessels.v[i] * expanded;
        if fd.edema {
            let h = th.hilum(side);
            let r2 = ((q.x - h.x) / 0.16).powi(2) + ((q.y - h.y) / 0.2).powi(2);
            local += 0.45 * (-r2).exp() * expanded + vessels.v[i] * 0.6 * expanded;
        }
        for &(c, r) in blobs {
            let r2 = ((q.x - c.x).powi(2) + (q.y - c.y).powi(2)) / (r * r);
            local += 0.45 * (-r2).exp() * expanded;
        }
        local += plates.v[i] * expanded;
        tissue += local;
    }
    d -= air;
    d += tissue.min(0.7);
    // The heart: denser than the mediastinum above it.
    let reach = th.heart_reach(if dx < 0.0 { Side::Right } else { Side::Left }, q.y);
    let in_heart = smoothstep(0.0, 1.5 * px, reach - dx.abs());
    d += 0.3 * in_heart * body;
    // Trachea and main bronchi: air.
    let carina_y = a.apex_y + 0.19;
    let trachea = smoothstep(0.0, 1.5 * px, 0.016 - dx.abs())
        * smoothstep(carina_y + 0.005, carina_y - 0.005, q.y);
    let mut bronchi = 0.0f32;
    for side in Side::BOTH {
        let (dist, _) = segment_distance(
            q,
            p(a.cx, carina_y),
            p(a.cx + side.sign() * 0.055, carina_y + 0.05),
        );
        bronchi = bronchi.max(smoothstep(0.0, 1.5 * px, 0.012 - dist));
    }
    d -= 0.3 * trachea.max(bronchi) * body;
    // Gas in the stomach under the left hemidiaphragm.
    let gb = p(a.cx + 0.17, th.dome_top(Side::Left) + 0.06);
    let r2 = ((q.x - gb.x) / 0.05).powi(2) + ((q.y - gb.y) / 0.03).powi(2);
    d -= 0.35 * smoothstep(1.0, 0.7, r2) * body;

    d += bone.v[i] * body.max(0.3) + metal.v[i];
    d
}

/// The film: exponential attenuation, exposure and contrast, a slight blur
/// (focal spot and screen), then noise drawn from `rng`.
fn expose(out: &[f32], a: &crate::study::Anatomy, n: usize, rng: &mut impl Rng) -> Vec<f32> {
    let film: Vec<f32> = out
        .iter()
        .map(|&d| (1.0 - (-1.25 * a.exposure * d).exp()).powf(a.contrast))
        .collect();
    let mut blurred = vec![0.0f32; n * n];
    let blur_px = 0.003 * n as f32;
    let w1 = (-1.0 / (2.0 * blur_px * blur_px).max(0.25)).exp();
    for yi in 0..n {
        for xi in 0..n {
            let mut s = 0.0;
            let mut ws = 0.0;
            for (oy, ox) in [(0i32, 0i32), (-1, 0), (1, 0), (0, -1), (0, 1)] {
                let (x, y) = (xi as i32 + ox, yi as i32 + oy);
                if x < 0 || y < 0 || x >= n as i32 || y >= n as i32 {
                    continue;
                }
                let w = if ox == 0 && oy == 0 { 1.0 } else { w1 };
                s += w * film[y as usize * n + x as usize];
                ws += w;
            }
            blurred[yi * n + xi] = s / ws;
        }
    }
    for v in blurred.iter_mut() {
        // Box-Muller from two uniforms.
        let u1: f32 = rng.random::<f32>().max(1e-7);
        let u2: f32 = rng.random();
        let g = (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos();
        *v = (*v + a.noise * g).clamp(0.0, 1.0);
    }
    blurred
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_marks_the_pixels_it_crosses_and_no_others() {
        let mut f = Field::new(32);
        f.line(p(0.1, 0.5), p(0.9, 0.5), 0.05, 1.0, 1.0);
        let at = |x: usize, y: usize| f.v[y * 32 + x];
        assert!(at(16, 16) > 0.9);
        assert!(at(16, 15) > 0.5);
        assert_eq!(at(16, 5), 0.0);
        assert_eq!(at(1, 16), 0.0);
    }
}
