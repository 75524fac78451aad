//! The shapes a phantom is drawn from, as functions of a point in the
//! patient's frame (before the tilt): lung outlines, the heart and
//! mediastinum, the hemidiaphragms, and where effusion fluid and a collapsed
//! lung end. Each `*_depth` is an approximate signed distance (positive
//! inside, in fractions of the image side), so edges can be drawn soft or
//! sharp at any image size.

use crate::study::{Anatomy, Side, Size};

/// Smooth step from 0 at `a` to 1 at `b`.
pub fn smoothstep(a: f32, b: f32, x: f32) -> f32 {
    let t = ((x - a) / (b - a)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// A point of the image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct P {
    pub x: f32,
    pub y: f32,
}

pub const fn p(x: f32, y: f32) -> P {
    P { x, y }
}

/// Distance from `q` to the segment `a`-`b`, and where along it (0..1).
pub fn segment_distance(q: P, a: P, b: P) -> (f32, f32) {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((q.x - a.x) * dx + (q.y - a.y) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (ex, ey) = (a.x + t * dx - q.x, a.y + t * dy - q.y);
    ((ex * ex + ey * ey).sqrt(), t)
}

/// The thorax of one patient: every outline the renderer and the captions'
/// geometry need, derived once from the anatomy.
pub struct Thorax<'a> {
    pub a: &'a Anatomy,
}

fn index(side: Side) -> usize {
    match side {
        Side::Right => 0,
        Side::Left => 1,
    }
}

impl Thorax<'_> {
    /// Image point -> patient frame (undoes the tilt about the image centre).
    pub fn to_patient(&self, q: P) -> P {
        let (s, c) = (-self.a.tilt).sin_cos();
        let (x, y) = (q.x - 0.5, q.y - 0.5);
        p(0.5 + c * x - s * y, 0.5 + s * x + c * y)
    }

    /// Patient frame -> image point.
    pub fn to_image(&self, q: P) -> P {
        let (s, c) = self.a.tilt.sin_cos();
        let (x, y) = (q.x - 0.5, q.y - 0.5);
        p(0.5 + c * x - s * y, 0.5 + s * x + c * y)
    }

    /// Top of the hemidiaphragm dome on `side`.
    pub fn dome_top(&self, side: Side) -> f32 {
        self.a.dome_y[index(side)]
    }

    /// The hemidiaphragm's y at `x`: a dome highest mid-lung, falling to the
    /// sharp costophrenic angle laterally and to the heart medially.
    pub fn diaphragm_y(&self, side: Side, x: f32) -> f32 {
        let centre = self.a.cx + side.sign() * self.a.half_width * 0.52;
        let u = (x - centre) / (self.a.half_width * 0.5);
        self.dome_top(side) + 0.075 * u * u
    }

    /// Where the lung meets the ribs at height `y`: narrow at the apex,
    /// widest at the bases.
    pub fn lateral_x(&self, side: Side, y: f32) -> f32 {
        let h = self.dome_top(side) - self.a.apex_y;
        let t = ((y - self.a.apex_y) / h).clamp(0.0, 1.2);
        let f = 0.42 + 0.58 * (t.min(0.8) / 0.8 * std::f32::consts::FRAC_PI_2).sin();
        self.a.cx + side.sign() * self.a.half_width * f
    }

    /// Heart: centre, half-widths to the patient's right and left, and
    /// half-height. A third of its width lies right of the midline.
    pub fn heart(&self) -> (P, f32, f32, f32) {
        let w = self.a.ctr * 2.0 * self.a.half_width;
        let half_h = 0.26 * w + 0.045;
        let centre = p(self.a.cx + 0.05 * w, self.a.heart_base_y - half_h * 0.5);
        (centre, 0.36 * w, 0.64 * w, half_h)
    }

    /// How far the heart reaches from the midline toward `side` at `y`.
    pub fn heart_reach(&self, side: Side, y: f32) -> f32 {
        let (c, wr, wl, hh) = self.heart();
        let v = (y - c.y) / hh;
        if v.abs() >= 1.0 {
            return 0.0;
        }
        let w = match side {
            Side::Right => wr,
            Side::Left => wl,
        };
        let base = (c.x - self.a.cx) * side.sign();
        (base + w * (1.0 - v * v).sqrt()).max(0.0)
    }

    /// Mediastinum's half-width at `y` (trachea, great vessels, aortic knob).
    pub fn mediastinum_reach(&self, side: Side, y: f32) -> f32 {
        let knob = match side {
            Side::Left => 0.02 * (-((y - (self.a.apex_y + 0.16)) / 0.035).powi(2)).exp(),
            Side::Right => 0.0,
        };
        0.055 + knob
    }

    /// Signed distance into the lung on `side` (positive inside).
    pub fn lung_depth(&self, side: Side, q: P) -> f32 {
        let s = side.sign();
        let apex_x = self.a.cx + s * self.a.half_width * 0.5;
        let top = self.a.apex_y + 2.2 * (q.x - apex_x) * (q.x - apex_x);
        let medial = self.a.cx
            + s * self
                .heart_reach(side, q.y)
                .max(self.mediastinum_reach(side, q.y));
        let lateral = self.lateral_x(side, q.y);
        let d_top = q.y - top;
        let d_bottom = self.diaphragm_y(side, q.x) - q.y;
        let d_med = s * (q.x - medial);
        let d_lat = s * (lateral - q.x);
        d_top.min(d_bottom).min(d_med).min(d_lat)
    }

    /// Hilum: where the vessel tree of `side` starts.
    pub fn hilum(&self, side: Side) -> P {
        let y = self.a.apex_y + 0.4 * (self.dome_top(side) - self.a.apex_y);
        p(self.a.cx + side.sign() * 0.085, y)
    }

    /// Signed distance into the pleural fluid of an effusion of `size` (a
    /// meniscus: higher against the chest wall than medially).
    pub fn fluid_depth(&self, side: Side, size: Size, q: P) -> f32 {
        let h = self.dome_top(side) - self.a.apex_y;
        let level = self.dome_top(side) + 0.06
            - h * match size {
                Size::Small => 0.12,
                Size::Moderate => 0.33,
                Size::Large => 0.6,
            };
        let lateral = self.lateral_x(side, q.y);
        // 0 at the midline, 1 at the chest wall.
        let u = ((q.x - self.a.cx) / (lateral - self.a.cx)).clamp(0.0, 1.0);
        let surface = level - 0.08 * u * u * u;
        q.y - surface
    }

    /// Signed distance into what is left of a lung collapsed by a
    /// pneumothorax: shrunk toward the base (apical) or the hilum (large).
    pub fn collapsed_depth(&self, side: Side, size: Size, q: P) -> f32 {
        let (anchor, k) = match size {
            Size::Large => (self.hilum(side), 0.62),
            _ => (
                p(
                    self.a.cx + side.sign() * self.a.half_width * 0.45,
                    self.dome_top(side),
                ),
                0.8,
            ),
        };
        let inv = p(
            anchor.x + (q.x - anchor.x) / k,
            anchor.y + (q.y - anchor.y) / k,
        );
        self.lung_depth(side, inv) * k
    }
}
