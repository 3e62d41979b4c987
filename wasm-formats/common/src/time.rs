//! Wall-clock rendering for formats that print local times (SharePlex `time`, `posttime`).

use obsync_sdk::render::civil_from_days;

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
