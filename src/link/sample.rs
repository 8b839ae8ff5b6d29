//! Synthetic 住民記録 files for the demo, tests and benchmarks: households of made-up
//! residents (no real person), with what real files hold: 和暦 and approximate dates, an IVS
//! and a plane-16 外字 in some names, foreign residents.

use std::io::Write;

use crate::residents::addressee_check_digit;
use crate::residents::file::COLUMNS;

const FAMILY: [(&str, &str); 8] = [
    ("山田", "ヤマダ"),
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    // 葛 with its IVS (葛󠄀) and 髙 as registries hold them.
    ("葛\u{E0100}西", "カサイ"),
    ("髙田", "タカダ"),
    ("服部", "ハットリ"),
    ("大野", "オオノ"),
];
const GIVEN: [(&str, &str); 8] = [
    ("花子", "ハナコ"),
    ("太郎", "タロウ"),
    ("陽子", "ヨウコ"),
    ("健一", "ケンイチ"),
    // A plane-16 private-use character standing for a 外字.
    ("\u{F0001}子", "ユウコ"),
    ("美智", "ミチ"),
    ("翔", "ショウ"),
    ("千鶴", "チヅル"),
];

/// The 宛名番号 of the `n`th resident of a sample file: 10 digits and the check digit.
pub fn addressee_number(n: u64) -> String {
    let body = format!("{:010}", 1_000_000_000 + n);
    format!("{body}{}", addressee_check_digit(&body).unwrap_or(0))
}

fn row(lg_code: &str, n: u64, household: u64, member: u64, operation: &str) -> String {
    let seed = n.wrapping_mul(2_654_435_761);
    let family = FAMILY[usize::try_from(household % 8).unwrap_or(0)];
    let given = GIVEN[usize::try_from(seed % 8).unwrap_or(0)];
    let (relationship, year) = match member {
        0 => ("世帯主", 1950 + household % 40),
        1 => ("妻", 1952 + household % 40),
        _ => ("子", 1985 + (household + member) % 35),
    };
    let year = i32::try_from(year).unwrap_or(1980);
    let month = 1 + seed % 12;
    let day = 1 + (seed / 12) % 28;
    // Mostly 和暦 days, some 西暦, a few approximate.
    let birth = match seed % 20 {
        0 => format!("{}年頃", wareki_year(year, 12, 31)),
        1 => format!("{year}-{month:02}-{day:02}"),
        _ => format!("{}年{month}月{day}日", wareki_year(year, month, day)),
    };
    let sex = if member == 1 || seed.is_multiple_of(2) {
        "2"
    } else {
        "1"
    };
    let foreign = household % 50 == 7;
    let (kind, nationality, status) = if foreign {
        ("2", "ベトナム", "技術・人文知識・国際業務")
    } else {
        ("1", "", "")
    };
    let jo = 1 + household % 20;
    let block = format!("{}-{}", 1 + household % 9, 1 + household % 30);
    [
        operation.to_owned(),
        lg_code.to_owned(),
        addressee_number(n),
        format!("{:08}", 10_000_000 + household),
        format!("{}　{}", family.0, given.0),
        format!("{}　{}", family.1, given.1),
        String::new(),
        birth,
        sex.to_owned(),
        relationship.to_owned(),
        "090-0024".to_owned(),
        "北海道".to_owned(),
        "北見市".to_owned(),
        format!("北{jo}条東"),
        block,
        if household.is_multiple_of(5) {
            format!("メゾン北見{}号", 100 + member)
        } else {
            String::new()
        },
        "令和2年4月1日".to_owned(),
        "転入".to_owned(),
        "令和2年4月1日".to_owned(),
        kind.to_owned(),
        nationality.to_owned(),
        status.to_owned(),
        if foreign {
            "令和9年3月31日".to_owned()
        } else {
            String::new()
        },
    ]
    .join(",")
}

/// The era and year of a day (昭和 until 1989-01-07, 平成 until 2019-04-30, then 令和).
fn wareki_year(year: i32, month: u64, day: u64) -> String {
    if (year, month, day) < (1989, 1, 8) {
        format!("昭和{}", year - 1925)
    } else if (year, month) < (2019, 5) {
        format!("平成{}", year - 1988)
    } else {
        format!("令和{}", year - 2018)
    }
}

/// The layout's header without `myNumber`.
pub fn header() -> String {
    COLUMNS[..COLUMNS.len() - 1].join(",")
}

/// Writes a full file of `residents` residents in households of one to four.
pub fn write_full(out: &mut impl Write, lg_code: &str, residents: u64) -> std::io::Result<()> {
    writeln!(out, "{}", header())?;
    let mut n = 0;
    let mut household = 0;
    while n < residents {
        let size = 1 + household % 4;
        for member in 0..size {
            if n == residents {
                break;
            }
            writeln!(out, "{}", row(lg_code, n, household, member, ""))?;
            n += 1;
        }
        household += 1;
    }
    Ok(())
}

/// The row of resident `n` of a full file of that many residents, as a diff would put it
/// with `operation` (A, U).
pub fn diff_row(lg_code: &str, n: u64, operation: &str) -> String {
    // Recompute the household as write_full assigns it.
    let (mut count, mut household) = (0, 0);
    loop {
        let size = 1 + household % 4;
        if n < count + size {
            return row(lg_code, n, household, n - count, operation);
        }
        count += size;
        household += 1;
    }
}
