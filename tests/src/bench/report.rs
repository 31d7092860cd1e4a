//! Medians, ratios and the two tables (plain text and markdown).

use super::scenarios::Metric;

pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = (sorted.len() as f64 * q).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn fmt_value(v: f64, unit: &str) -> String {
    match unit {
        "msgs/s" if v >= 1e6 => format!("{:.2} M", v / 1e6),
        "msgs/s" | "ops/s" if v >= 1e4 => format!("{:.0} k", v / 1e3),
        "msgs/s" | "ops/s" => format!("{v:.0}"),
        "KiB" if v.abs() >= 100.0 => format!("{v:.0}"),
        _ => format!("{v:.2}"),
    }
}

pub struct Row<'a> {
    pub metric: &'a Metric,
    pub tern: Vec<f64>,
    pub nats: Vec<f64>,
    pub failed: bool,
}

impl Row<'_> {
    /// Cells: scenario, unit, tern, nats-server, ratio, better, target, met.
    pub fn cells(&self) -> [String; 8] {
        let m = self.metric;
        let (t, n) = (
            median(&mut self.tern.clone()),
            median(&mut self.nats.clone()),
        );
        let complete = !self.failed && !self.tern.is_empty() && !self.nats.is_empty();
        let ratio = t / n;
        let (better, target) = match (m.higher_is_better, m.target) {
            (true, Some(x)) => ("higher", format!("≥ {x:.2}")),
            (false, Some(x)) => ("lower", format!("≤ {x:.2}")),
            (true, None) => ("higher", "—".into()),
            (false, None) => ("lower", "—".into()),
        };
        let met = match m.target {
            _ if !complete => "FAILED",
            Some(x)
                if (m.higher_is_better && ratio >= x) || (!m.higher_is_better && ratio <= x) =>
            {
                "yes"
            }
            Some(_) => "no",
            None => "",
        };
        let show = |v: &[f64], x: f64| {
            if v.is_empty() {
                "—".into()
            } else {
                fmt_value(x, m.unit)
            }
        };
        [
            m.label.into(),
            m.unit.into(),
            show(&self.tern, t),
            show(&self.nats, n),
            if complete {
                format!("{ratio:.2}")
            } else {
                "—".into()
            },
            better.into(),
            target,
            met.into(),
        ]
    }
}

pub const HEADER: [&str; 8] = [
    "scenario",
    "unit",
    "tern",
    "nats-server",
    "tern/nats",
    "better",
    "target",
    "met",
];

pub fn print_tables(rows: &[Row], rounds: usize) {
    let cells: Vec<[String; 8]> = rows.iter().map(Row::cells).collect();
    let width: Vec<usize> = (0..8)
        .map(|i| {
            cells
                .iter()
                .map(|c| c[i].chars().count())
                .chain([HEADER[i].len()])
                .max()
                .unwrap()
        })
        .collect();
    let line = |c: [&str; 8]| {
        let mut s = String::new();
        for i in 0..8 {
            let pad = width[i] - c[i].chars().count();
            if (2..=4).contains(&i) {
                s += &format!("{}{}  ", " ".repeat(pad), c[i]);
            } else {
                s += &format!("{}{}  ", c[i], " ".repeat(pad));
            }
        }
        println!("{}", s.trim_end());
    };
    println!("\nMedians over {rounds} round(s); ratio = tern / nats-server.\n");
    line(HEADER);
    for c in &cells {
        line(c.each_ref().map(String::as_str));
    }
    println!("\n| {} |", HEADER.join(" | "));
    println!("|---|---|---:|---:|---:|---|---|---|");
    for c in &cells {
        println!("| {} |", c.join(" | "));
    }
}
