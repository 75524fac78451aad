//! Writes a contact sheet of phantoms to look at:
//! `cargo run -p roentgen-phantom --example sheet -- OUT.png [SIZE] [FIRST_SEED] [COLS] [ROWS]`
//! and prints each one's caption. With GALLERY=1 in the environment, one of
//! each finding instead of random studies.

use roentgen_phantom::study::Zone;
use roentgen_phantom::{Device, Findings, Side, Size};

fn gallery() -> Vec<Findings> {
    let f = Findings::default;
    vec![
        f(),
        Findings {
            effusion: vec![(Side::Right, Size::Large)],
            ..f()
        },
        Findings {
            effusion: vec![(Side::Left, Size::Large)],
            ..f()
        },
        Findings {
            effusion: vec![(Side::Right, Size::Small)],
            ..f()
        },
        Findings {
            effusion: vec![(Side::Right, Size::Moderate), (Side::Left, Size::Moderate)],
            ..f()
        },
        Findings {
            pneumothorax: Some((Side::Right, Size::Large)),
            ..f()
        },
        Findings {
            pneumothorax: Some((Side::Left, Size::Small)),
            ..f()
        },
        Findings {
            cardiomegaly: true,
            ..f()
        },
        Findings {
            consolidation: Some((Side::Right, Zone::Lower)),
            ..f()
        },
        Findings { edema: true, ..f() },
        Findings {
            atelectasis: vec![Side::Right, Side::Left],
            ..f()
        },
        Findings {
            devices: vec![
                Device::EndotrachealTube,
                Device::NasogastricTube,
                Device::CentralLine(Side::Right),
                Device::Pacemaker,
            ],
            ..f()
        },
    ]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = args.get(1).map(String::as_str).unwrap_or("sheet.png");
    let arg = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (size, first, cols, rows) = (arg(2, 128), arg(3, 0), arg(4, 4), arg(5, 2));
    let (w, h) = (cols * size, rows * size);
    let mut sheet = vec![0u8; w * h];
    let gallery = gallery();
    for k in 0..cols * rows {
        let seed = (first + k) as u64;
        let ph = match std::env::var("GALLERY") {
            Ok(_) => roentgen_phantom::phantom_with(gallery[k % gallery.len()].clone(), seed, size),
            Err(_) => roentgen_phantom::phantom(seed, size),
        };
        println!("{}: {}", first + k, ph.caption);
        let px = roentgen_phantom::to_u8(&ph.pixels);
        let (ox, oy) = ((k % cols) * size, (k / cols) * size);
        for y in 0..size {
            sheet[(oy + y) * w + ox..(oy + y) * w + ox + size]
                .copy_from_slice(&px[y * size..(y + 1) * size]);
        }
    }
    let file = std::fs::File::create(out).expect("create the sheet");
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w as u32, h as u32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header()
        .and_then(|mut wr| wr.write_image_data(&sheet))
        .expect("write the sheet");
}
