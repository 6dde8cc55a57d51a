//! The `--budget` of `harness hunt`: `90s`, `10m`, `2h` or plain seconds.

use std::time::Duration;

/// Parses a budget; at least one second, at most a week.
pub fn parse(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, unit) = match t.char_indices().last() {
        Some((i, 's')) => (&t[..i], 1.0),
        Some((i, 'm')) => (&t[..i], 60.0),
        Some((i, 'h')) => (&t[..i], 3600.0),
        _ => (t, 1.0),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| "expected a duration like 90s, 10m, 2h or plain seconds".to_string())?;
    let secs = v * unit;
    if !secs.is_finite() || !(1.0..=604_800.0).contains(&secs) {
        return Err("expected between 1 second and 1 week".into());
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_bad_values() {
        assert_eq!(parse("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse("45").unwrap(), Duration::from_secs(45));
        assert_eq!(parse("1.5m").unwrap(), Duration::from_secs(90));
        for bad in ["", "m", "ten", "0s", "-5m", "9999h"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
