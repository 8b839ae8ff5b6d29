//! The resident directory's file layout (住民記録 full and differential files) and reading it
//! row by row. UTF-8 CSV with a header row naming the columns (any order); one resident per
//! row. Names are kept byte for byte; dates as the registry writes them (和暦, approximate and
//! unknown included) with their ISO reading; every problem is reported with its line.
//!
//! | column | 項目 | |
//! |---|---|---|
//! | `operation` | 処理区分 | diff files: `A` 追加, `U` 修正, `D` 削除; full files: empty or `A` |
//! | `lgCode` | 全国地方公共団体コード | the importing municipality's |
//! | `addresseeNumber` | 宛名番号 | 2–15 digits, the last a check digit ([`addressee_check_digit`]) |
//! | `householdNumber` | 世帯番号 | digits |
//! | `name`, `nameKana` | 氏名, 氏名フリガナ | name byte for byte; kana read as katakana |
//! | `aliasName` | 通称 | optional |
//! | `dateOfBirth` | 生年月日 | 和暦 or 西暦; approximate and unknown dates allowed |
//! | `sex` | 性別 | `1` 男, `2` 女, `9` 不明 |
//! | `relationship` | 続柄 | the registry's list (schemas/common/relationship.schema.json) |
//! | `postalCode` | 郵便番号 | optional |
//! | `prefecture`, `city`, `streetAddress`, `cityBlock`, `buildingNameEtc` | 都道府県, 市区町村, 町字, 番地以下, 方書 | DS-442 parts |
//! | `residentSince` | 住民となった年月日 | |
//! | `lastChangeReason`, `lastChangeDate` | 異動事由, 異動年月日 | |
//! | `residentKind` | 住民区分 | `1` 日本人, `2` 外国人住民 |
//! | `nationality`, `residenceStatus`, `residencePeriodEnd` | 国籍・地域, 在留資格, 在留期間等の満了日 | foreign residents |
//! | `myNumber` | 個人番号 | refused unless the operator enables it |

use std::io::Read;

use serde::{Deserialize, Serialize};

use crate::forms::era::EraTable;
use crate::forms::normalize::{address, codes, date, kana, width};
use crate::i18n::Text;
use crate::residents::{RegistryDate, Resident, addressee_check_digit, is_addressee_number};

/// Every column, in the order of the documented layout.
pub const COLUMNS: [&str; 24] = [
    "operation",
    "lgCode",
    "addresseeNumber",
    "householdNumber",
    "name",
    "nameKana",
    "aliasName",
    "dateOfBirth",
    "sex",
    "relationship",
    "postalCode",
    "prefecture",
    "city",
    "streetAddress",
    "cityBlock",
    "buildingNameEtc",
    "residentSince",
    "lastChangeReason",
    "lastChangeDate",
    "residentKind",
    "nationality",
    "residenceStatus",
    "residencePeriodEnd",
    "myNumber",
];

/// Columns a file may leave out.
const OPTIONAL_COLUMNS: [&str; 2] = ["operation", "myNumber"];

/// The 項目名 of a column, for messages.
fn label(column: &str) -> &'static str {
    match column {
        "operation" => "処理区分",
        "lgCode" => "全国地方公共団体コード",
        "addresseeNumber" => "宛名番号",
        "householdNumber" => "世帯番号",
        "name" => "氏名",
        "nameKana" => "氏名フリガナ",
        "aliasName" => "通称",
        "dateOfBirth" => "生年月日",
        "sex" => "性別",
        "relationship" => "続柄",
        "postalCode" => "郵便番号",
        "prefecture" => "都道府県",
        "city" => "市区町村",
        "streetAddress" => "町字",
        "cityBlock" => "番地以下",
        "buildingNameEtc" => "方書",
        "residentSince" => "住民となった年月日",
        "lastChangeReason" => "異動事由",
        "lastChangeDate" => "異動年月日",
        "residentKind" => "住民区分",
        "nationality" => "国籍・地域",
        "residenceStatus" => "在留資格",
        "residencePeriodEnd" => "在留期間等の満了日",
        "myNumber" => "個人番号",
        _ => "",
    }
}

/// A full file (全件) replaces the directory; a differential file (差分) changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FileKind {
    Full,
    Diff,
}

impl FileKind {
    pub const ALL: [FileKind; 2] = [FileKind::Full, FileKind::Diff];

    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Full => "full",
            FileKind::Diff => "diff",
        }
    }

    /// The kind a file's name gives, as `link watch` takes files: `full-….csv` or
    /// `diff-….csv` (exactly so: the watch passes any other name by).
    pub fn of_file_name(name: &str) -> Option<Self> {
        if !name.ends_with(".csv") {
            None
        } else if name.starts_with("full-") {
            Some(FileKind::Full)
        } else if name.starts_with("diff-") {
            Some(FileKind::Diff)
        } else {
            None
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "full" => Some(FileKind::Full),
            "diff" => Some(FileKind::Diff),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Add,
    Change,
    Remove,
}

/// A row: what to do, and to whom. A removal carries only the 宛名番号.
#[derive(Debug, Clone)]
pub enum Row {
    Put {
        line: u64,
        operation: Operation,
        resident: Box<Resident>,
    },
    Remove {
        line: u64,
        addressee_number: String,
    },
}

impl Row {
    pub fn line(&self) -> u64 {
        match self {
            Row::Put { line, .. } | Row::Remove { line, .. } => *line,
        }
    }
}

/// A problem with a file, at a line (1 is the header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    /// The column, when one is at fault.
    pub column: Option<String>,
    pub message: Text,
}

impl RowError {
    fn new(line: u64, column: Option<&str>, ja: String, en: String) -> Self {
        let (ja, en) = match column {
            Some(c) => (
                format!("{}行目 {}({c}): {ja}", line, label(c)),
                format!("line {line}, {c}: {en}"),
            ),
            None => (format!("{line}行目: {ja}"), format!("line {line}: {en}")),
        };
        RowError {
            line,
            column: column.map(str::to_owned),
            message: Text::new(ja, en),
        }
    }
}

/// What reading needs to know.
pub struct ReadOptions<'a> {
    pub kind: FileKind,
    /// The municipality importing: a row for another is refused.
    pub lg_code: &'a str,
    pub eras: &'a EraTable,
    /// 続柄 the registry knows.
    pub relationships: &'a [String],
    /// Whether a `myNumber` column is accepted.
    pub allow_my_number: bool,
}

/// 続柄 the registry knows, from the common schema (data, not code).
pub fn relationships(forms: &crate::forms::FormRegistry) -> Vec<String> {
    forms
        .common()
        .iter()
        .find(|c| c.path.ends_with("relationship.schema.json"))
        .and_then(|c| c.schema.pointer("/$defs/toHouseholder/enum"))
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// What reading a whole file found: its rows, and its problems (the first few; the rest
/// counted).
#[derive(Debug, Clone, Default)]
pub struct FileCheck {
    pub rows: u64,
    pub errors: Vec<RowError>,
    pub more: u64,
    /// Lines of a full file that name a resident an earlier line named (also in `errors`).
    pub repeated: Vec<u64>,
}

/// Reads a whole file and lists its problems: the header, every row, and in a full file each
/// resident once. At most `limit` problems are kept; `on_row` hears the count of rows read.
/// The importer's first pass and the conformance kit's `link-files` suite both check files
/// with it.
pub fn check_file<R: Read>(
    input: R,
    options: ReadOptions<'_>,
    limit: usize,
    on_row: &mut dyn FnMut(u64),
) -> FileCheck {
    let kind = options.kind;
    let mut reader = match DirectoryReader::new(input, options) {
        Ok(r) => r,
        Err(errors) => {
            return FileCheck {
                errors,
                ..FileCheck::default()
            };
        }
    };
    let mut check = FileCheck::default();
    // A full file names each resident once.
    let mut seen = std::collections::HashSet::new();
    while let Some(row) = reader.next_row() {
        check.rows += 1;
        let problems = match row {
            Ok(Row::Put { line, resident, .. }) if kind == FileKind::Full => {
                if seen.insert(resident.addressee_number.clone()) {
                    Vec::new()
                } else {
                    check.repeated.push(line);
                    vec![RowError {
                        line,
                        column: Some("addresseeNumber".to_owned()),
                        message: Text::new(
                            format!(
                                "{line}行目 宛名番号(addresseeNumber): {} は全件ファイルの前の行にもあります。",
                                resident.addressee_number
                            ),
                            format!(
                                "line {line}, addresseeNumber: {} appears on an earlier line of the full file.",
                                resident.addressee_number
                            ),
                        ),
                    }]
                }
            }
            Ok(_) => Vec::new(),
            Err(e) => e,
        };
        for p in problems {
            if check.errors.len() < limit {
                check.errors.push(p);
            } else {
                check.more += 1;
            }
        }
        on_row(check.rows);
    }
    check
}

/// Reads a directory file row by row: the header first ([`DirectoryReader::new`]), then each
/// row as it comes, so memory does not grow with the file.
pub struct DirectoryReader<'a, R: Read> {
    csv: csv::Reader<BoundedRecords<R>>,
    index: Vec<Option<usize>>,
    options: ReadOptions<'a>,
    record: csv::StringRecord,
}

fn column_index(name: &str) -> usize {
    COLUMNS.iter().position(|c| *c == name).unwrap_or(0)
}

impl<'a, R: Read> DirectoryReader<'a, R> {
    /// Reads and checks the header: every column of the layout but `operation` and `myNumber`
    /// present, none unknown or twice, `myNumber` only when enabled.
    pub fn new(input: R, options: ReadOptions<'a>) -> Result<Self, Vec<RowError>> {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(BoundedRecords::new(input));
        let header = csv.headers().map_err(|e| vec![csv_error(1, &e)])?.clone();
        let mut index = vec![None; COLUMNS.len()];
        let mut errors = Vec::new();
        for (i, name) in header.iter().enumerate() {
            let name = name.trim_start_matches('\u{FEFF}').trim();
            match COLUMNS.iter().position(|c| *c == name) {
                None => {
                    // A header cell is echoed only when it looks like a column name: a file
                    // without a header row has a resident (a name, a 個人番号) in its place.
                    let (ja, en) =
                        if name.len() <= 40 && name.chars().all(|c| c.is_ascii_alphabetic()) {
                            (format!("「{name}」"), format!("{name:?}"))
                        } else {
                            (format!("({}列目)", i + 1), format!("in column {}", i + 1))
                        };
                    errors.push(RowError::new(
                        1,
                        None,
                        format!(
                            "見出し{ja}は住民記録ファイルの項目ではありません(項目: {})。",
                            COLUMNS.join(", ")
                        ),
                        format!(
                            "header {en} is not a column of the directory layout ({}).",
                            COLUMNS.join(", ")
                        ),
                    ))
                }
                Some(at) if index[at].is_some() => errors.push(RowError::new(
                    1,
                    None,
                    format!("見出し「{name}」が二度あります。"),
                    format!("header {name:?} appears twice."),
                )),
                Some(at) => index[at] = Some(i),
            }
        }
        for (at, column) in COLUMNS.iter().enumerate() {
            if index[at].is_none() && !OPTIONAL_COLUMNS.contains(column) {
                errors.push(RowError::new(
                    1,
                    None,
                    format!("見出しに「{column}」({})がありません。", label(column)),
                    format!("the header lacks {column:?}."),
                ));
            }
        }
        if options.kind == FileKind::Diff && index[column_index("operation")].is_none() {
            errors.push(RowError::new(
                1,
                None,
                "差分ファイルには処理区分(operation)の列が必要です。".to_owned(),
                "a differential file needs the operation column.".to_owned(),
            ));
        }
        if index[column_index("myNumber")].is_some() && !options.allow_my_number {
            errors.push(RowError::new(
                1,
                Some("myNumber"),
                "個人番号の列は受け付けない設定です。列を除くか、運用者が link.accept_my_number を有効にしてください。".to_owned(),
                "the myNumber column is refused: leave it out, or have the operator enable link.accept_my_number.".to_owned(),
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(DirectoryReader {
            csv,
            index,
            options,
            record: csv::StringRecord::new(),
        })
    }

    /// The next row, or every problem of it; `None` at the end of the file.
    pub fn next_row(&mut self) -> Option<Result<Row, Vec<RowError>>> {
        match self.csv.read_record(&mut self.record) {
            Ok(false) => None,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                Some(Err(vec![csv_error(line, &e)]))
            }
            Ok(true) => {
                let line = self.record.position().map_or(0, |p| p.line());
                Some(self.row(line))
            }
        }
    }

    fn get(&self, column: &str) -> &str {
        self.index[column_index(column)]
            .and_then(|i| self.record.get(i))
            .unwrap_or("")
    }

    fn row(&self, line: u64) -> Result<Row, Vec<RowError>> {
        let mut errors = Vec::new();
        let mut error = |column: &str, ja: String, en: String| {
            errors.push(RowError::new(line, Some(column), ja, en));
        };
        let text = |column: &str| self.get(column).trim().to_owned();
        let optional = |column: &str| Some(text(column)).filter(|s| !s.is_empty());

        let operation = match (self.options.kind, text("operation").as_str()) {
            (_, "A") => Operation::Add,
            (FileKind::Full, "") => Operation::Add,
            (FileKind::Diff, "U") => Operation::Change,
            (FileKind::Diff, "D") => Operation::Remove,
            (kind, other) => {
                let allowed = if kind == FileKind::Full {
                    "空欄またはA"
                } else {
                    "A(追加)・U(修正)・D(削除)"
                };
                error(
                    "operation",
                    format!("「{other}」は処理区分ではありません({allowed})。"),
                    format!("{other:?} is not an operation here ({allowed})."),
                );
                Operation::Add
            }
        };
        let lg = text("lgCode");
        if lg != self.options.lg_code {
            error(
                "lgCode",
                format!(
                    "団体コード「{lg}」の行です。この取込みは {} のものだけを受け付けます。",
                    self.options.lg_code
                ),
                format!(
                    "the row is for municipality {lg:?}; this import takes only {}.",
                    self.options.lg_code
                ),
            );
        }
        let number = text("addresseeNumber");
        if !is_addressee_number(&number) {
            let why = if number.is_empty() {
                ("空です。".to_owned(), "it is empty.".to_owned())
            } else if !(2..=15).contains(&number.len())
                || !number.bytes().all(|b| b.is_ascii_digit())
            {
                (
                    format!("「{number}」は2〜15桁の数字ではありません。"),
                    format!("{number:?} is not 2 to 15 digits."),
                )
            } else {
                let body = &number[..number.len() - 1];
                let expected = addressee_check_digit(body).unwrap_or(0);
                (
                    format!("「{number}」の検査数字が違います({body} の検査数字は {expected})。"),
                    format!("{number:?} has a wrong check digit ({body} gives {expected})."),
                )
            };
            error("addresseeNumber", why.0, why.1);
        }
        if operation == Operation::Remove {
            return if errors.is_empty() {
                Ok(Row::Remove {
                    line,
                    addressee_number: number,
                })
            } else {
                Err(errors)
            };
        }

        let household = text("householdNumber");
        if household.is_empty() || !household.bytes().all(|b| b.is_ascii_digit()) {
            error(
                "householdNumber",
                format!("「{household}」は世帯番号(数字)ではありません。"),
                format!("{household:?} is not a household number (digits)."),
            );
        }
        // The name exactly as the registry holds it: not even trimmed.
        let name = self.get("name").to_owned();
        if name.trim().is_empty() {
            error("name", "空です。".to_owned(), "it is empty.".to_owned());
        }
        let name_kana = match kana::normalize(self.get("nameKana")) {
            Ok(o) => o.value.as_str().unwrap_or_default().to_owned(),
            Err(issue) => {
                error(
                    "nameKana",
                    issue.message.ja.to_string(),
                    issue.message.en.to_string(),
                );
                String::new()
            }
        };
        let mut read_date = |column: &str, required: bool| -> Option<RegistryDate> {
            let original = text(column);
            if original.is_empty() {
                if required {
                    error(column, "空です。".to_owned(), "it is empty.".to_owned());
                }
                return None;
            }
            let read = date::read(self.options.eras, &original)
                .and_then(|d| date::check(self.options.eras, &original, &d).map(|_| d));
            match read {
                Ok(d) => Some(RegistryDate {
                    exact: d.precision() == date::Precision::Day
                        && d.qualifier == date::Qualifier::Exact,
                    iso: d.iso(),
                    text: original,
                }),
                Err(issue) => {
                    error(
                        column,
                        issue.message.ja.to_string(),
                        issue.message.en.to_string(),
                    );
                    None
                }
            }
        };
        let date_of_birth = read_date("dateOfBirth", true);
        let resident_since = read_date("residentSince", false);
        let last_change_date = read_date("lastChangeDate", false);
        let residence_period_end = read_date("residencePeriodEnd", false);

        let sex = text("sex");
        if !matches!(sex.as_str(), "1" | "2" | "9") {
            error(
                "sex",
                format!("「{sex}」は性別のコードではありません(1 男・2 女・9 不明)。"),
                format!("{sex:?} is not a sex code (1, 2 or 9)."),
            );
        }
        let relationship = text("relationship");
        if !self.options.relationships.contains(&relationship) {
            error(
                "relationship",
                format!(
                    "「{relationship}」は住民記録の続柄にありません(世帯主・妻・子・子の子 など)。"
                ),
                format!("{relationship:?} is not a relationship the registry knows."),
            );
        }
        let postal_code = optional("postalCode").and_then(|p| match codes::postal_code(&p) {
            Ok(o) => o.value.as_str().map(str::to_owned),
            Err(issue) => {
                error(
                    "postalCode",
                    issue.message.ja.to_string(),
                    issue.message.en.to_string(),
                );
                None
            }
        });
        for column in ["prefecture", "city", "streetAddress"] {
            if text(column).is_empty() {
                error(column, "空です。".to_owned(), "it is empty.".to_owned());
            }
        }
        let city_block = optional("cityBlock").map(|b| {
            // In standard form when it is a block alone; as written (widths folded) when it
            // is not, so that nothing the registry holds is lost.
            address::read(&b)
                .filter(|r| r.building.is_none())
                .map_or_else(|| width::fold_code(&b), |r| r.block)
        });
        let resident_kind = text("residentKind");
        let nationality = optional("nationality");
        match resident_kind.as_str() {
            "1" => {}
            "2" if nationality.is_none() => error(
                "nationality",
                "外国人住民の行には国籍・地域が必要です。".to_owned(),
                "a foreign resident's row needs the nationality.".to_owned(),
            ),
            "2" => {}
            other => error(
                "residentKind",
                format!("「{other}」は住民区分ではありません(1 日本人・2 外国人住民)。"),
                format!("{other:?} is not a resident kind (1 or 2)."),
            ),
        }
        let my_number = optional("myNumber");
        if let Some(n) = &my_number
            && !codes::is_my_number(n)
        {
            // Never quote it: it may be a real number with a typo.
            error(
                "myNumber",
                "個人番号として正しくありません(12桁・検査数字)。".to_owned(),
                "not a valid My Number (12 digits with its check digit).".to_owned(),
            );
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let Some(date_of_birth) = date_of_birth else {
            return Err(errors);
        };
        Ok(Row::Put {
            line,
            operation,
            resident: Box::new(Resident {
                addressee_number: number,
                household_number: household,
                name,
                name_kana,
                alias_name: optional("aliasName"),
                date_of_birth,
                sex,
                relationship,
                postal_code,
                prefecture: text("prefecture"),
                city: text("city"),
                street_address: text("streetAddress"),
                city_block,
                building_name_etc: optional("buildingNameEtc"),
                resident_since,
                last_change_reason: optional("lastChangeReason"),
                last_change_date,
                resident_kind,
                nationality,
                residence_status: optional("residenceStatus"),
                residence_period_end,
                my_number,
            }),
        })
    }
}

/// The longest record (one line, or several inside quotes) a directory file may hold. A
/// 住民記録 row is well under 2 KB; without a bound, one 210 MB field was read whole into
/// memory (1.6 GiB) and echoed back in the job's messages.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;

/// Reads the file and fails once a record grows past [`MAX_RECORD_BYTES`], before the CSV
/// parser has buffered it: it follows the quotes (RFC 4180: a quote opens or closes a quoted
/// field, a doubled one inside toggles twice), so a line break inside quotes does not end a
/// record. After the failure it reads as the end of the file.
struct BoundedRecords<R> {
    inner: R,
    in_quotes: bool,
    since_record: usize,
    failed: bool,
}

impl<R> BoundedRecords<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            in_quotes: false,
            since_record: 0,
            failed: false,
        }
    }
}

impl<R: std::io::Read> std::io::Read for BoundedRecords<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.failed {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            match b {
                b'"' => self.in_quotes = !self.in_quotes,
                b'\n' if !self.in_quotes => {
                    self.since_record = 0;
                    continue;
                }
                _ => {}
            }
            self.since_record += 1;
            if self.since_record > MAX_RECORD_BYTES {
                self.failed = true;
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("a record longer than {MAX_RECORD_BYTES} bytes"),
                ));
            }
        }
        Ok(n)
    }
}

fn csv_error(line: u64, e: &csv::Error) -> RowError {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => RowError::new(
            line,
            None,
            "UTF-8 として読めない文字があります。ファイルをUTF-8で書き出してください。".to_owned(),
            "bytes that are not UTF-8: export the file as UTF-8.".to_owned(),
        ),
        csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => RowError::new(
            line,
            None,
            format!(
                "1行({MAX_RECORD_BYTES}バイト)を超える行があるため、ここで読むのをやめました。書き出しの設定(区切り・引用符)を確かめてください。"
            ),
            format!(
                "a record longer than {MAX_RECORD_BYTES} bytes: reading stopped here. Check the export's separators and quotes."
            ),
        ),
        _ => RowError::new(
            line,
            None,
            "CSVとして読めません。".to_owned(),
            format!("not readable as CSV: {e}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_file_s_kind_is_told_by_its_name_as_link_watch_reads_it() {
        assert_eq!(
            FileKind::of_file_name("full-20261207-0100.csv"),
            Some(FileKind::Full)
        );
        assert_eq!(
            FileKind::of_file_name("diff-0001.csv"),
            Some(FileKind::Diff)
        );
        assert_eq!(FileKind::of_file_name("juki.csv"), None);
        assert_eq!(FileKind::of_file_name("full-1.csv.tmp"), None);
        assert_eq!(FileKind::of_file_name("FULL-1.CSV"), None);
    }

    use super::*;

    fn relationships() -> Vec<String> {
        ["世帯主", "妻", "子"].map(str::to_owned).to_vec()
    }

    pub(crate) const HEADER: &str = "operation,lgCode,addresseeNumber,householdNumber,name,nameKana,aliasName,dateOfBirth,sex,relationship,postalCode,prefecture,city,streetAddress,cityBlock,buildingNameEtc,residentSince,lastChangeReason,lastChangeDate,residentKind,nationality,residenceStatus,residencePeriodEnd";

    fn read(kind: FileKind, text: &str) -> Vec<Result<Row, Vec<RowError>>> {
        let eras = EraTable::parse(include_str!("../../schemas/reference/eras.json")).unwrap();
        let rel = relationships();
        let options = ReadOptions {
            kind,
            lg_code: "012084",
            eras: &eras,
            relationships: &rel,
            allow_my_number: false,
        };
        let mut reader = match DirectoryReader::new(text.as_bytes(), options) {
            Ok(r) => r,
            Err(e) => return vec![Err(e)],
        };
        std::iter::from_fn(|| reader.next_row()).collect()
    }

    fn number(body: &str) -> String {
        format!("{body}{}", addressee_check_digit(body).unwrap())
    }

    #[test]
    fn a_record_past_the_bound_stops_the_reading_with_a_message_and_no_echo() {
        // One quoted field of 1 MB with line breaks in it, then a row that is never reached.
        let huge = format!("\"{}\"", "あ\n".repeat(300_000));
        let text = format!("{HEADER}\n,012084,{huge}\n,012084,1\n");
        let rows = read(FileKind::Full, &text);
        assert_eq!(rows.len(), 1, "reading went on after the bound");
        let errors = rows[0].as_ref().expect_err("refused");
        assert!(
            errors[0].message.en.contains("longer than 65536 bytes"),
            "{:?}",
            errors[0]
        );
        assert!(
            errors[0].message.ja.len() < 1_000,
            "the field is echoed back"
        );
        // A long record under the bound, with quoted line breaks, still reads.
        let fine = format!("{HEADER}\n,012084,\"{}\"\n", "a\n".repeat(20_000));
        assert!(read(FileKind::Full, &fine).iter().all(|r| match r {
            Ok(_) => true,
            Err(e) => !e[0].message.en.contains("longer than"),
        }));
    }

    #[test]
    fn check_digits_follow_modulus_11() {
        // 1·7 + 2·6 + 3·5 + 4·4 + 5·3 + 6·2 = 77 → remainder 0 → 0.
        assert_eq!(addressee_check_digit("123456"), Some(0));
        // 1·2 = 2 → 11 − 2 = 9.
        assert_eq!(addressee_check_digit("1"), Some(9));
        assert!(is_addressee_number("19"));
        assert!(!is_addressee_number("18"));
        assert!(!is_addressee_number("1234567890123456"));
    }

    #[test]
    fn a_row_reads_with_its_name_byte_for_byte_and_registry_dates() {
        let n = number("10000001");
        let csv = format!(
            "\u{FEFF}{HEADER}\n,012084,{n},2001,\"葛\u{E0100}飾　\u{F0000}子 \",かつしか　はなこ,,昭和55年頃,2,世帯主,0900024,北海道,北見市,北５条東,２丁目１０番地,,令和2年4月1日,転入,令和2年4月1日,1,,,\n"
        );
        let rows = read(FileKind::Full, &csv);
        let Ok(Row::Put { resident, line, .. }) = &rows[0] else {
            panic!("{rows:?}")
        };
        assert_eq!(*line, 2);
        assert_eq!(
            resident.name.as_bytes(),
            "葛\u{E0100}飾　\u{F0000}子 ".as_bytes()
        );
        assert_eq!(resident.name_kana, "カツシカ　ハナコ");
        assert_eq!(resident.date_of_birth.iso.as_deref(), Some("1980"));
        assert!(!resident.date_of_birth.exact);
        assert_eq!(resident.date_of_birth.text, "昭和55年頃");
        assert_eq!(resident.city_block.as_deref(), Some("2-10"));
        assert_eq!(resident.postal_code.as_deref(), Some("090-0024"));
        assert_eq!(
            resident.resident_since.as_ref().and_then(RegistryDate::day),
            chrono::NaiveDate::from_ymd_opt(2020, 4, 1)
        );
    }

    /// A file without its header row has a resident where the header should be: the message
    /// names the column, not the cell (a 個人番号, a name).
    #[test]
    fn a_missing_header_row_is_not_echoed() {
        let rows = read(FileKind::Full, "012084,123456789018,山田　花子\n");
        let Err(e) = &rows[0] else { panic!() };
        let all = format!("{e:?}");
        assert!(
            !all.contains("123456789018") && !all.contains("山田"),
            "{all}"
        );
        assert!(
            e.iter().any(|e| e.message.en.contains("in column 2")),
            "{all}"
        );
    }

    #[test]
    fn bad_input_is_reported_by_line_and_column() {
        // A wrong header.
        let rows = read(FileKind::Full, "lgCode,name\n");
        let Err(e) = &rows[0] else { panic!() };
        assert!(
            e.iter()
                .any(|e| e.line == 1 && e.message.en.contains("addresseeNumber"))
        );
        // A myNumber column without the operator's consent.
        let rows = read(FileKind::Full, &format!("{HEADER},myNumber\n"));
        let Err(e) = &rows[0] else { panic!() };
        assert_eq!(e[0].column.as_deref(), Some("myNumber"));

        let good = number("10000001");
        let bad_digit = format!("{}{}", "1000000", (good.as_bytes()[8] - b'0' + 1) % 10);
        let csv = format!(
            "{HEADER}\n\
             ,012084,{good},2001,山田　花子,ヤマダ　ハナコ,,昭和55年2月17日,2,世帯主,,北海道,北見市,北５条東,2-10,,,,,1,,,\n\
             ,012084,{bad_digit}1,2001,山田　花子,ヤマダ　ハナコ,,昭和55年2月17日,2,世帯主,,北海道,北見市,北５条東,2-10,,,,,1,,,\n\
             ,012084,{good},2001,山田　花子,ヤマダ　ハナコ,,昭和55年2月17日,2,いとこ,,北海道,北見市,北５条東,2-10,,,,,1,,,\n\
             ,012084,{good},2001,山田　花子,ヤマダ　ハナコ,,令和元年4月30日,2,世帯主,,北海道,北見市,北５条東,2-10,,,,,1,,,\n\
             ,131016,{good},2001,山田　花子,ヤマダ　ハナコ,,昭和55年2月17日,2,世帯主,,北海道,北見市,北５条東,2-10,,,,,1,,,\n\
             ,012084,{good},2001,Ｊｏｈｎ,ジョン,,1980-02-30,1,世帯主,,北海道,北見市,北５条東,2-10,,,,,2,,,\n"
        );
        let rows = read(FileKind::Full, &csv);
        assert!(rows[0].is_ok(), "{:?}", rows[0]);
        let columns = |i: usize| -> Vec<(u64, String)> {
            rows[i]
                .as_ref()
                .err()
                .unwrap()
                .iter()
                .map(|e| (e.line, e.column.clone().unwrap_or_default()))
                .collect()
        };
        assert_eq!(columns(1), [(3, "addresseeNumber".to_owned())]);
        assert_eq!(columns(2), [(4, "relationship".to_owned())]);
        assert_eq!(columns(3), [(5, "dateOfBirth".to_owned())]);
        assert_eq!(columns(4), [(6, "lgCode".to_owned())]);
        // Several problems of one row at once: a day that does not exist, a foreign resident
        // without a nationality.
        assert_eq!(
            columns(5),
            [(7, "dateOfBirth".to_owned()), (7, "nationality".to_owned())]
        );
    }

    #[test]
    fn a_diff_needs_operations_and_a_removal_needs_only_the_number() {
        let n = number("10000001");
        let rows = read(
            FileKind::Diff,
            &format!(
                "{HEADER}\nD,012084,{n},,,,,,,,,,,,,,,,,,,,\nX,012084,{n},,,,,,,,,,,,,,,,,,,,\n"
            ),
        );
        assert!(
            matches!(&rows[0], Ok(Row::Remove { addressee_number, .. }) if *addressee_number == n)
        );
        assert!(rows[1].is_err());
        let no_operation = HEADER.trim_start_matches("operation,");
        let rows = read(FileKind::Diff, &format!("{no_operation}\n"));
        assert!(rows[0].is_err());
    }
}
