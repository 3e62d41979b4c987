//! The row filter against a table of expressions and rows, checked against what MySQL 8 /
//! MariaDB 10.11 return for the same `SELECT … WHERE`, plus a property test that nothing panics.

use obsync_sdk::Value;
use proptest::prelude::*;

use super::*;

fn columns() -> Vec<FilterColumn> {
    let c = |name: &str, kind: Kind, ci: bool| FilterColumn {
        name: name.into(),
        kind,
        case_insensitive: ci,
    };
    vec![
        c("id", Kind::Integer, true),
        c("name", Kind::Text, true),
        c("code", Kind::Text, false),
        c("price", Kind::Decimal, true),
        c("score", Kind::Float, true),
        c("d", Kind::Date, true),
        c("dt", Kind::DateTime, true),
        c("ts", Kind::Timestamp, true),
        c("t", Kind::Time, true),
        c("n", Kind::Integer, true),
        c("名字", Kind::Text, true),
        c("u", Kind::Integer, true),
        c("order", Kind::Text, true),
    ]
}

fn row() -> Vec<Value> {
    vec![
        Value::Int(42),
        Value::Text("Beijing ".into()),
        Value::Text("AbC".into()),
        Value::Decimal("12.50".into()),
        Value::Double(0.1),
        Value::Date {
            year: 2022,
            month: 12,
            day: 31,
        },
        Value::DateTime {
            year: 2023,
            month: 1,
            day: 2,
            hour: 3,
            minute: 4,
            second: 5,
            micros: 600_000,
        },
        // 2024-02-29 12:00:00 UTC
        Value::Timestamp {
            seconds: 1_709_208_000,
            micros: 0,
        },
        Value::Time {
            negative: true,
            hours: 100,
            minutes: 0,
            seconds: 0,
            micros: 0,
        },
        Value::Null,
        Value::Text("张三".into()),
        Value::UInt(18_446_744_073_709_551_615),
        Value::Text("x".into()),
    ]
}

fn check(filter: &str) -> bool {
    RowFilter::parse(filter)
        .unwrap_or_else(|e| panic!("{filter}: {e}"))
        .bind(&columns(), 0)
        .unwrap_or_else(|e| panic!("{filter}: {e}"))
        .matches(&row())
}

#[test]
fn evaluates_like_mysql() {
    let cases: &[(&str, bool)] = &[
        ("id = 42", true),
        ("`id` = '42'", true),
        ("id = '42abc'", true),
        ("id = 42.0", true),
        ("id > 41 AND id < 43", true),
        ("id != 42 OR id <> 42", false),
        ("id BETWEEN 40 AND 42", true),
        ("id NOT BETWEEN 40 AND 42", false),
        ("id IN (1, 2, 42)", true),
        ("id IN (1, NULL)", false),
        ("NOT (id IN (1, NULL))", false),
        ("id NOT IN (1, NULL)", false),
        ("id NOT IN (1, 2)", true),
        ("n = 1", false),
        ("NOT n = 1", false),
        ("n IS NULL", true),
        ("n IS NOT NULL", false),
        ("n <=> NULL", true),
        ("id <=> 42", true),
        ("n = 1 OR id = 42", true),
        ("n = 1 AND id = 43", false),
        ("(n = 1) IS UNKNOWN", true),
        ("id = 42 XOR id = 42", false),
        ("name = 'beijing'", true),
        ("name = 'BEIJING   '", true),
        ("code = 'abc'", false),
        ("code = 'AbC'", true),
        ("LOWER(code) = 'abc'", true),
        ("name LIKE 'bei%'", true),
        ("name LIKE 'b_ijing '", true),
        ("code LIKE 'a%'", false),
        ("code NOT LIKE 'a%'", true),
        ("name LIKE '%jing'", false),
        ("'50%' LIKE '50\\%'", true),
        ("'50x' LIKE '50\\%'", false),
        ("'a_c' LIKE 'a|_c' ESCAPE '|'", true),
        ("price = 12.5", true),
        ("price > 12.49", true),
        ("price * 2 = 25", true),
        ("price / 4 = 3.125", true),
        ("score = 0.1", true),
        ("score + 0.2 > 0.3", true),
        ("id DIV 5 = 8", true),
        ("id % 5 = 2 AND id MOD 5 = 2 AND MOD(id, 5) = 2", true),
        ("id / 0 IS NULL", true),
        ("-id = -42", true),
        ("u = 18446744073709551615", true),
        ("u > 9223372036854775807", true),
        ("u + 1 > u", true),
        ("d > '2022-12-30'", true),
        ("d = '2022-12-31'", true),
        ("d = '2022-12-31 00:00:00'", true),
        ("d < DATE '2023-01-01'", true),
        ("`dt` > '2023-01-02 03:04:05'", true),
        ("dt < '2023-01-02 03:04:05.7'", true),
        ("dt BETWEEN '2023-01-01' AND '2023-01-03'", true),
        ("ts = '2024-02-29 12:00:00'", true),
        ("YEAR(ts) = 2024 AND MONTH(ts) = 2 AND DAY(ts) = 29", true),
        ("DATE(dt) = '2023-01-02'", true),
        ("HOUR(dt) = 3", true),
        ("DAYOFWEEK(d) = 7", true),
        ("t < '00:00:00'", true),
        ("t = '-100:00:00'", true),
        ("名字 = '张三'", true),
        ("`名字` LIKE '张%'", true),
        ("CHAR_LENGTH(名字) = 2 AND LENGTH(名字) = 6", true),
        ("`order` = 'x'", true),
        ("COALESCE(n, id) = 42", true),
        ("IFNULL(n, 7) = 7", true),
        ("IF(n IS NULL, 1, 0) = 1", true),
        ("NULLIF(id, 42) IS NULL", true),
        ("CONCAT(code, '-', id) = 'AbC-42'", true),
        ("CONCAT(code, n) IS NULL", true),
        ("SUBSTRING(code, 2) = 'bC'", true),
        ("SUBSTRING(code, -2, 1) = 'b'", true),
        ("LEFT(code, 1) = 'A' AND RIGHT(code, 1) = 'C'", true),
        ("TRIM(name) = 'Beijing'", true),
        ("UPPER(name) LIKE 'BEI%'", true),
        ("LOCATE('jing', name) = 4", true),
        (
            "ABS(-id) = 42 AND FLOOR(price) = 12 AND CEIL(price) = 13 AND ROUND(price) = 13",
            true,
        ),
        ("REPLACE(code, 'b', 'x') = 'AxC'", true),
        ("REPLACE(code, 'b', 'x') = 'Axc'", false),
        ("id", true),
        ("n", false),
        ("'abc'", false),
        ("'1abc'", true),
        ("TRUE AND NOT FALSE", true),
        ("NULL", false),
        ("WHERE id = 42", true),
        ("id = 42 && !(id = 1) || n = 1", true),
        ("1 + 2 * 3 = 7", true),
        ("(1 + 2) * 3 = 9", true),
        ("2 - 1 - 1 = 0", true),
    ];
    let mut wrong = Vec::new();
    for (filter, want) in cases {
        if check(filter) != *want {
            wrong.push(format!("{filter} should be {want}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn timestamps_compare_in_the_project_time_zone() {
    let f = RowFilter::parse("ts = '2024-02-29 20:00:00'").unwrap();
    assert!(f.bind(&columns(), 8 * 3600).unwrap().matches(&row()));
    assert!(!f.bind(&columns(), 0).unwrap().matches(&row()));
}

#[test]
fn rejects_bad_filters_with_a_position() {
    let parse_errors: &[(&str, &str, usize)] = &[
        ("", "empty", 1),
        ("id = ", "expected a value", 6),
        ("id = 'x", "unterminated string", 6),
        ("id = 1 id = 2", "unexpected `id`", 8),
        ("(id = 1", "expected `)`", 8),
        ("id IN 1", "`(` after IN", 7),
        ("id BETWEEN 1 OR 2", "AND in BETWEEN", 14),
        ("id IS 3", "NULL, TRUE, FALSE or UNKNOWN", 7),
        ("order = 1", "reserved word", 1),
        ("id = 1 ; DROP TABLE t", "unexpected character ';'", 8),
        ("1x = 1", "may not start with a digit", 1),
        ("id = 1.2.3", "malformed number", 6),
    ];
    for (filter, needle, at) in parse_errors {
        let e = RowFilter::parse(filter).expect_err(filter);
        assert!(
            e.to_string().contains(needle) && e.at + 1 == *at,
            "{filter}: got {e}, wanted {needle:?} at {at}"
        );
    }
    let deep = format!("{}1{}", "(".repeat(200), ")".repeat(200));
    assert!(
        RowFilter::parse(&deep)
            .unwrap_err()
            .message
            .contains("nests deeper")
    );

    let bind_errors: &[(&str, &str)] = &[
        ("nope = 1", "unknown column `nope` (the table has: id, name"),
        ("NOW() > d", "NOW() is not allowed"),
        ("FOO(id)", "unknown function FOO()"),
        ("LOWER(id, 2) = 1", "LOWER() takes 1 argument(s), not 2"),
        (
            "d > 'yesterday'",
            "column `d` is a date but \"yesterday\" is not one",
        ),
        ("dt IN ('2023-01-01', 'x')", "column `dt` is a datetime"),
        ("code LIKE 'a' ESCAPE 'ab'", "exactly one character"),
        ("d = DATE 'x'", "not a valid date literal"),
    ];
    for (filter, needle) in bind_errors {
        let e = RowFilter::parse(filter)
            .unwrap()
            .bind(&columns(), 0)
            .expect_err(filter);
        assert!(e.to_string().contains(needle), "{filter}: got {e}");
    }
}

#[test]
fn column_names_match_case_insensitively_when_unambiguous() {
    assert!(check("ID = 42 AND Name LIKE 'b%'"));
    let twice = vec![
        FilterColumn {
            name: "a".into(),
            kind: Kind::Integer,
            case_insensitive: true,
        },
        FilterColumn {
            name: "A".into(),
            kind: Kind::Integer,
            case_insensitive: true,
        },
    ];
    let f = RowFilter::parse("a = 1 AND `A` = 2").unwrap();
    assert!(
        f.bind(&twice, 0)
            .unwrap()
            .matches(&[Value::Int(1), Value::Int(2)])
    );
    assert!(
        RowFilter::parse("`x` = 1")
            .unwrap()
            .bind(&twice, 0)
            .is_err()
    );
}

fn any_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::Int),
        any::<u64>().prop_map(Value::UInt),
        any::<f64>().prop_map(Value::Double),
        "[-0-9.]{0,50}".prop_map(Value::Decimal),
        ".{0,12}".prop_map(Value::Text),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::Bytes),
        (any::<u16>(), any::<u8>(), any::<u8>()).prop_map(|(year, month, day)| Value::Date {
            year,
            month,
            day
        }),
        (any::<i64>(), any::<u32>())
            .prop_map(|(seconds, micros)| Value::Timestamp { seconds, micros }),
        (
            any::<bool>(),
            any::<u32>(),
            any::<u8>(),
            any::<u8>(),
            any::<u32>()
        )
            .prop_map(|(negative, hours, minutes, seconds, micros)| Value::Time {
                negative,
                hours,
                minutes,
                seconds,
                micros
            }),
    ]
}

fn any_filter() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        Just("id".to_string()),
        Just("name".to_string()),
        Just("code".to_string()),
        Just("price".to_string()),
        Just("d".to_string()),
        Just("ts".to_string()),
        Just("t".to_string()),
        Just("n".to_string()),
        Just("NULL".to_string()),
        any::<i64>().prop_map(|i| i.to_string()),
        "[0-9]{1,45}(\\.[0-9]{0,40})?".prop_map(|s| s),
        "'[a-z%_\\\\ -]{0,6}'".prop_map(|s| s),
        Just("'2024-01-01 10:00:00'".to_string()),
    ];
    atom.prop_recursive(4, 32, 4, |inner| {
        let ops = prop_oneof![
            Just("="),
            Just("<=>"),
            Just("<"),
            Just(">="),
            Just("+"),
            Just("-"),
            Just("*"),
            Just("/"),
            Just("DIV"),
            Just("%"),
            Just("AND"),
            Just("OR"),
            Just("XOR"),
            Just("LIKE"),
        ];
        prop_oneof![
            (inner.clone(), ops, inner.clone()).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.clone().prop_map(|a| format!("NOT {a}")),
            inner.clone().prop_map(|a| format!("-{a}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} IN ({b}, NULL)")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(a, b, c)| format!("{a} BETWEEN {b} AND {c}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("SUBSTRING({a}, {b}, {b})")),
            inner.clone().prop_map(|a| format!("ABS({a}) IS NOT NULL")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("COALESCE({a}, {b})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,80}") {
        let _ = RowFilter::parse(&text).map(|f| f.bind(&columns(), 0));
    }

    #[test]
    fn arbitrary_filters_and_rows_never_panic(
        filter in any_filter(),
        values in proptest::collection::vec(any_value(), 13),
    ) {
        if let Ok(f) = RowFilter::parse(&filter)
            && let Ok(b) = f.bind(&columns(), 3600)
        {
            let _ = b.matches(&values);
        }
    }
}
