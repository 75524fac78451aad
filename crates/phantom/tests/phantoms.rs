//! What the phantoms must get right for the demo model to learn laterality,
//! size and presence: the patient's right drawn on the image's left, sizes
//! that grow, the same seed giving the same study everywhere.

use roentgen_phantom::{Device, Findings, Side, Size, phantom, phantom_with};

const N: usize = 128;

/// Mean brightness of the rectangle [x0, x1) x [y0, y1) (fractions).
fn mean(px: &[f32], x0: f32, x1: f32, y0: f32, y1: f32) -> f32 {
    let r = |v: f32| (v * N as f32) as usize;
    let mut s = 0.0;
    let mut k = 0;
    for y in r(y0)..r(y1) {
        for x in r(x0)..r(x1) {
            s += px[y * N + x];
            k += 1;
        }
    }
    s / k as f32
}

fn effusion(side: Side, size: Size) -> Findings {
    Findings {
        effusion: vec![(side, size)],
        ..Default::default()
    }
}

#[test]
fn the_same_seed_gives_the_same_phantom() {
    let (a, b) = (phantom(42, N), phantom(42, N));
    assert_eq!(a.pixels, b.pixels);
    assert_eq!(a.caption, b.caption);
    assert_ne!(a.pixels, phantom(43, N).pixels);
}

#[test]
fn a_right_effusion_whitens_the_image_left_lower_lung() {
    for seed in 0..8 {
        let normal = phantom_with(Findings::default(), seed, N).pixels;
        let right = phantom_with(effusion(Side::Right, Size::Large), seed, N).pixels;
        let left = phantom_with(effusion(Side::Left, Size::Large), seed, N).pixels;
        // Lower lateral lung zones: image left (patient right), image right.
        let zone_l = |p: &[f32]| mean(p, 0.2, 0.35, 0.5, 0.68);
        let zone_r = |p: &[f32]| mean(p, 0.65, 0.8, 0.5, 0.68);
        assert!(zone_l(&right) > zone_l(&normal) + 0.15, "seed {seed}");
        assert!(
            (zone_r(&right) - zone_r(&normal)).abs() < 0.02,
            "seed {seed}"
        );
        assert!(zone_r(&left) > zone_r(&normal) + 0.15, "seed {seed}");
        assert!(
            (zone_l(&left) - zone_l(&normal)).abs() < 0.02,
            "seed {seed}"
        );
    }
}

#[test]
fn larger_effusions_rise_higher() {
    for seed in 0..8 {
        let mid_zone = |size| {
            mean(
                &phantom_with(effusion(Side::Left, size), seed, N).pixels,
                0.62,
                0.82,
                0.35,
                0.55,
            )
        };
        let (s, m, l) = (
            mid_zone(Size::Small),
            mid_zone(Size::Moderate),
            mid_zone(Size::Large),
        );
        assert!(s < m && m < l, "seed {seed}: {s} {m} {l}");
    }
}

#[test]
fn cardiomegaly_widens_the_heart() {
    // Heart width: bright columns along a row through its lower third.
    let width = |p: &[f32]| {
        let y = (0.6 * N as f32) as usize;
        (N / 4..3 * N / 4).filter(|&x| p[y * N + x] > 0.62).count()
    };
    let mut wider = 0;
    for seed in 0..16 {
        let normal = phantom_with(Findings::default(), seed, N).pixels;
        let big = phantom_with(
            Findings {
                cardiomegaly: true,
                ..Default::default()
            },
            seed,
            N,
        )
        .pixels;
        wider += usize::from(width(&big) > width(&normal) + 4);
    }
    assert!(wider >= 15, "{wider} of 16 wider");
}

#[test]
fn devices_are_the_brightest_thing_on_the_film() {
    let f = Findings {
        devices: vec![Device::EndotrachealTube],
        ..Default::default()
    };
    let tube = phantom_with(f, 3, N).pixels;
    let none = phantom_with(Findings::default(), 3, N).pixels;
    // The tube runs down the midline above the carina.
    let column = |p: &[f32]| mean(p, 0.48, 0.52, 0.02, 0.2);
    assert!(column(&tube) > column(&none) + 0.05);
    assert!(tube.iter().cloned().fold(0.0, f32::max) > 0.95);
}
