//! Wall-clock rendering for formats that print local times (SharePlex `time`, `posttime`).

/// Renders epoch seconds shifted by `offset` seconds as `YYYY-MM-DDTHH:mm:ss`.
pub fn local_datetime(epoch_seconds: i64, offset: i32) -> String {
    let t = epoch_seconds + offset as i64;
    let (days, rem) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Converts days since 1970-01-01 to a proleptic Gregorian date.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_the_oms_examples() {
        // OMS SharePlex example: TIMESTAMP 1606233662 shown as 2020-11-25T00:01:02 at UTC+8.
        assert_eq!(
            local_datetime(1_606_233_662, 8 * 3600),
            "2020-11-25T00:01:02"
        );
        assert_eq!(local_datetime(0, 0), "1970-01-01T00:00:00");
        assert_eq!(local_datetime(-1, 0), "1969-12-31T23:59:59");
    }
}
