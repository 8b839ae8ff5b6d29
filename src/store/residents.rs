//! The resident directory's rows: a file is applied inside one transaction
//! ([`DirectoryWriter`]), so a reader sees the directory as it was before the file or as it is
//! after it, never half of it; lookups by the search keys.

use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::entities::directory_import::{self, Entity as Imports};
use super::entities::resident::{self, Column, Entity as Residents};
use super::{Store, StoreError};
use crate::link::import::ImportRecord;
use crate::residents::search::{address_key, kana_key, like_literal, name_key};
use crate::residents::{RegistryDate, Resident};
use crate::secrets::{self, Purpose, ServerKey};

/// Rows per INSERT: 30 columns × 500 stays under SQLite's 32,766 parameters.
pub const INSERT_BATCH: usize = 500;

/// What a clerk searches by; every criterion given must match.
#[derive(Debug, Clone, Default)]
pub struct ResidentQuery {
    /// The folded kana key's beginning.
    pub kana: Option<String>,
    /// Part of the name key.
    pub name: Option<String>,
    /// The date of birth's ISO reading (a day, or a year or month for approximate dates).
    pub date_of_birth: Option<String>,
    /// Part of the address key.
    pub address: Option<String>,
}

fn date_json(d: &Option<RegistryDate>) -> Option<String> {
    d.as_ref().and_then(|d| serde_json::to_string(d).ok())
}

fn date_from(s: Option<String>) -> Option<RegistryDate> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}

fn seal_number(
    key: Option<&ServerKey>,
    lg_code: &str,
    r: &Resident,
) -> Result<Option<Vec<u8>>, StoreError> {
    let Some(number) = &r.my_number else {
        return Ok(None);
    };
    let key = key.ok_or_else(|| {
        StoreError::Locked("a 個人番号 can be stored only with a server key".to_owned())
    })?;
    let aad = format!("{lg_code}/{}", r.addressee_number);
    secrets::seal(
        &key.subkey(Purpose::ResidentMyNumber),
        aad.as_bytes(),
        number.as_bytes(),
    )
    .map(Some)
    .map_err(|_| StoreError::Corrupt("cannot seal a 個人番号".to_owned()))
}

fn active(
    lg_code: &str,
    import_id: &str,
    r: &Resident,
    key: Option<&ServerKey>,
) -> Result<resident::ActiveModel, StoreError> {
    let address = address_key(&[
        &r.prefecture,
        &r.city,
        &r.street_address,
        r.city_block.as_deref().unwrap_or(""),
        r.building_name_etc.as_deref().unwrap_or(""),
    ]);
    Ok(resident::ActiveModel {
        lg_code: Set(lg_code.to_owned()),
        addressee_number: Set(r.addressee_number.clone()),
        household_number: Set(r.household_number.clone()),
        name: Set(r.name.clone()),
        name_kana: Set(r.name_kana.clone()),
        alias_name: Set(r.alias_name.clone()),
        birth_date: Set(r.date_of_birth.iso.clone()),
        birth_date_text: Set(r.date_of_birth.text.clone()),
        birth_date_exact: Set(r.date_of_birth.exact),
        sex: Set(r.sex.clone()),
        relationship: Set(r.relationship.clone()),
        postal_code: Set(r.postal_code.clone()),
        prefecture: Set(r.prefecture.clone()),
        city: Set(r.city.clone()),
        street_address: Set(r.street_address.clone()),
        city_block: Set(r.city_block.clone()),
        building_name_etc: Set(r.building_name_etc.clone()),
        resident_since: Set(date_json(&r.resident_since)),
        last_change_reason: Set(r.last_change_reason.clone()),
        last_change_date: Set(date_json(&r.last_change_date)),
        resident_kind: Set(r.resident_kind.clone()),
        nationality: Set(r.nationality.clone()),
        residence_status: Set(r.residence_status.clone()),
        residence_period_end: Set(date_json(&r.residence_period_end)),
        my_number: Set(seal_number(key, lg_code, r)?),
        kana_key: Set(kana_key(&r.name_kana).unwrap_or_default()),
        name_key: Set(name_key(&r.name)),
        address_key: Set(address),
        import_id: Set(import_id.to_owned()),
    })
}

fn from_row(m: resident::Model) -> Resident {
    Resident {
        addressee_number: m.addressee_number,
        household_number: m.household_number,
        name: m.name,
        name_kana: m.name_kana,
        alias_name: m.alias_name,
        date_of_birth: RegistryDate {
            text: m.birth_date_text,
            iso: m.birth_date,
            exact: m.birth_date_exact,
        },
        sex: m.sex,
        relationship: m.relationship,
        postal_code: m.postal_code,
        prefecture: m.prefecture,
        city: m.city,
        street_address: m.street_address,
        city_block: m.city_block,
        building_name_etc: m.building_name_etc,
        resident_since: date_from(m.resident_since),
        last_change_reason: m.last_change_reason,
        last_change_date: date_from(m.last_change_date),
        resident_kind: m.resident_kind,
        nationality: m.nationality,
        residence_status: m.residence_status,
        residence_period_end: date_from(m.residence_period_end),
        my_number: None,
    }
}

fn record_from(m: directory_import::Model) -> ImportRecord {
    ImportRecord {
        id: m.id,
        lg_code: m.lg_code,
        kind: m.kind,
        file_name: m.file_name,
        sha256: m.sha256,
        rows: u64::try_from(m.rows).unwrap_or(0),
        added: u64::try_from(m.added).unwrap_or(0),
        changed: u64::try_from(m.changed).unwrap_or(0),
        removed: u64::try_from(m.removed).unwrap_or(0),
        staff: m.staff,
        client_id: m.client_id,
        started_at: m.started_at,
        finished_at: m.finished_at,
    }
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// One file being applied: everything happens in one transaction, committed by
/// [`DirectoryWriter::finish`]; dropped without it, nothing of the file stays.
pub struct DirectoryWriter {
    txn: DatabaseTransaction,
    lg_code: String,
    import_id: String,
    key: Option<ServerKey>,
}

impl DirectoryWriter {
    /// A full file: the municipality's directory is emptied first (within the transaction).
    pub async fn clear(&mut self) -> Result<u64, StoreError> {
        let done = Residents::delete_many()
            .filter(Column::LgCode.eq(&self.lg_code))
            .exec(&self.txn)
            .await?;
        Ok(done.rows_affected)
    }

    /// Inserts residents not in the directory (a full file after [`Self::clear`]);
    /// `Conflict` when one is.
    pub async fn insert_many(&mut self, residents: &[Resident]) -> Result<(), StoreError> {
        if residents.is_empty() {
            return Ok(());
        }
        let rows = residents
            .iter()
            .map(|r| active(&self.lg_code, &self.import_id, r, self.key.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Residents::insert_many(rows)
            .exec(&self.txn)
            .await
            .map_err(StoreError::classify)?;
        Ok(())
    }

    /// Adds one resident; `false` when the 宛名番号 is in the directory already.
    pub async fn add(&mut self, r: &Resident) -> Result<bool, StoreError> {
        let row = active(&self.lg_code, &self.import_id, r, self.key.as_ref())?;
        let done = Residents::insert(row)
            .on_conflict(
                OnConflict::columns([Column::LgCode, Column::AddresseeNumber])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&self.txn)
            .await?;
        Ok(done == 1)
    }

    /// Replaces one resident's row; `false` when the 宛名番号 is not in the directory.
    pub async fn change(&mut self, r: &Resident) -> Result<bool, StoreError> {
        let row = active(&self.lg_code, &self.import_id, r, self.key.as_ref())?;
        let done = Residents::update_many()
            .set(row)
            .filter(Column::LgCode.eq(&self.lg_code))
            .filter(Column::AddresseeNumber.eq(&r.addressee_number))
            .exec(&self.txn)
            .await?;
        Ok(done.rows_affected == 1)
    }

    /// Removes one resident; `false` when the 宛名番号 is not in the directory.
    pub async fn remove(&mut self, addressee_number: &str) -> Result<bool, StoreError> {
        let done = Residents::delete_many()
            .filter(Column::LgCode.eq(&self.lg_code))
            .filter(Column::AddresseeNumber.eq(addressee_number))
            .exec(&self.txn)
            .await?;
        Ok(done.rows_affected == 1)
    }

    /// Records the file as applied and commits: from now on the directory is as it says.
    pub async fn finish(self, record: &ImportRecord) -> Result<(), StoreError> {
        Imports::insert(directory_import::ActiveModel {
            id: Set(record.id.clone()),
            lg_code: Set(record.lg_code.clone()),
            kind: Set(record.kind.clone()),
            file_name: Set(record.file_name.clone()),
            sha256: Set(record.sha256.clone()),
            rows: Set(count(record.rows)),
            added: Set(count(record.added)),
            changed: Set(count(record.changed)),
            removed: Set(count(record.removed)),
            staff: Set(record.staff.clone()),
            client_id: Set(record.client_id.clone()),
            started_at: Set(record.started_at),
            finished_at: Set(record.finished_at),
        })
        .exec_without_returning(&self.txn)
        .await?;
        self.txn.commit().await?;
        Ok(())
    }
}

impl Store {
    /// Starts applying a file to a municipality's directory.
    pub async fn begin_directory(
        &self,
        lg_code: &str,
        import_id: &str,
        key: Option<&ServerKey>,
    ) -> Result<DirectoryWriter, StoreError> {
        Ok(DirectoryWriter {
            txn: self.begin_write().await?,
            lg_code: lg_code.to_owned(),
            import_id: import_id.to_owned(),
            key: key.cloned(),
        })
    }

    /// The import that applied a file with these bytes to the municipality, if one did.
    pub async fn directory_file_applied(
        &self,
        lg_code: &str,
        sha256: &str,
    ) -> Result<Option<ImportRecord>, StoreError> {
        Ok(Imports::find()
            .filter(directory_import::Column::LgCode.eq(lg_code))
            .filter(directory_import::Column::Sha256.eq(sha256))
            .one(&self.db)
            .await?
            .map(record_from))
    }

    /// The newest imports of a municipality first.
    pub async fn directory_imports(
        &self,
        lg_code: &str,
        limit: u64,
    ) -> Result<Vec<ImportRecord>, StoreError> {
        Ok(Imports::find()
            .filter(directory_import::Column::LgCode.eq(lg_code))
            .order_by_desc(directory_import::Column::FinishedAt)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(record_from)
            .collect())
    }

    pub async fn directory_import(&self, id: &str) -> Result<Option<ImportRecord>, StoreError> {
        Ok(Imports::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .map(record_from))
    }

    /// How many residents the municipality's directory holds.
    pub async fn directory_size(&self, lg_code: &str) -> Result<u64, StoreError> {
        use sea_orm::PaginatorTrait;
        Ok(Residents::find()
            .filter(Column::LgCode.eq(lg_code))
            .count(&self.db)
            .await?)
    }

    pub async fn resident(
        &self,
        lg_code: &str,
        addressee_number: &str,
    ) -> Result<Option<Resident>, StoreError> {
        Ok(
            Residents::find_by_id((lg_code.to_owned(), addressee_number.to_owned()))
                .one(&self.db)
                .await?
                .map(from_row),
        )
    }

    /// Residents matching every criterion given, by kana.
    pub async fn search_residents(
        &self,
        lg_code: &str,
        query: &ResidentQuery,
        limit: u64,
    ) -> Result<Vec<Resident>, StoreError> {
        let like = |column: Column, pattern: String| {
            Expr::col(column).like(LikeExpr::new(pattern).escape('\\'))
        };
        let mut condition = Condition::all().add(Column::LgCode.eq(lg_code));
        if let Some(k) = &query.kana {
            condition = condition.add(like(Column::KanaKey, format!("{}%", like_literal(k))));
        }
        if let Some(n) = &query.name {
            condition = condition.add(like(Column::NameKey, format!("%{}%", like_literal(n))));
        }
        if let Some(d) = &query.date_of_birth {
            condition = condition.add(Column::BirthDate.eq(d));
        }
        if let Some(a) = &query.address {
            condition = condition.add(like(Column::AddressKey, format!("%{}%", like_literal(a))));
        }
        Ok(Residents::find()
            .filter(condition)
            .order_by_asc(Column::KanaKey)
            .order_by_asc(Column::AddresseeNumber)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(from_row)
            .collect())
    }

    /// The members of a household.
    pub async fn household(
        &self,
        lg_code: &str,
        household_number: &str,
    ) -> Result<Vec<Resident>, StoreError> {
        Ok(Residents::find()
            .filter(Column::LgCode.eq(lg_code))
            .filter(Column::HouseholdNumber.eq(household_number))
            .order_by_asc(Column::AddresseeNumber)
            .all(&self.db)
            .await?
            .into_iter()
            .map(from_row)
            .collect())
    }

    /// A resident's 個人番号, opened with the server key (only for a procedure that needs it).
    pub async fn resident_my_number(
        &self,
        lg_code: &str,
        addressee_number: &str,
        key: Option<&ServerKey>,
    ) -> Result<Option<String>, StoreError> {
        let Some(row) = Residents::find_by_id((lg_code.to_owned(), addressee_number.to_owned()))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let Some(sealed) = row.my_number else {
            return Ok(None);
        };
        let key = key.ok_or_else(|| StoreError::Locked("no server key".to_owned()))?;
        let aad = format!("{lg_code}/{addressee_number}");
        let plain = secrets::open(
            &key.subkey(Purpose::ResidentMyNumber),
            aad.as_bytes(),
            &sealed,
        )
        .map_err(|_| StoreError::Locked("sealed with another server key".to_owned()))?;
        String::from_utf8(plain)
            .map(Some)
            .map_err(|_| StoreError::Corrupt("a 個人番号 that is not text".to_owned()))
    }
}
