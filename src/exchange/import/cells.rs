//! From a cell to the API's value: what each writable field holds is read from the create
//! type's own schema (so the import follows every change of the API), and each cell is turned
//! into that type, forgiving what German Excel makes of a file (dates as `DD.MM.YYYY`, the AGS
//! without its leading zero, `1.200.000` and `1,5`, `WAHR`/`FALSCH`). References to other
//! records may be written as `ags:…`, `key:…` or `ref:<source>:<id>` instead of an id.

use std::collections::HashMap;

use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::changes::Resource;
use crate::db::AnyConnection;
use crate::error::{AppError, FieldError};
use crate::models::{external_refs, fields, partners};

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Integer,
    Number,
    Boolean,
    Date,
    /// Space-separated whole numbers (ids) in one cell.
    IntegerList,
    /// Space-separated words in one cell.
    TextList,
    /// `external_refs`: JSON as exported, or space-separated `source:id`.
    References,
}

/// A writable field of a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub kind: Kind,
    /// For an id field (`…_id`, `…_ids`, `parent_id`): the resource it names.
    pub refers_to: Option<Resource>,
}

/// The writable fields of `T` (a create type), in the schema's order.
pub fn columns_of<T: ToSchema>(own: Resource) -> Vec<Column> {
    let schema = serde_json::to_value(T::schema()).unwrap_or_default();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, property)| {
            let kind = kind(name, property);
            let refers_to = matches!(kind, Kind::Integer | Kind::IntegerList).then(|| refers_to(name, own)).flatten();
            Column { name: name.clone(), kind, refers_to }
        })
        .collect()
}

fn kind(name: &str, property: &Value) -> Kind {
    let mut types = Vec::new();
    let mut format = None;
    let mut items = None;
    walk(property, &mut types, &mut format, &mut items);
    if types.contains(&"array") {
        let mut item_types = Vec::new();
        if let Some(items) = items {
            walk(items, &mut item_types, &mut None, &mut None);
        }
        return match () {
            _ if item_types.contains(&"integer") => Kind::IntegerList,
            _ if item_types.contains(&"string") => Kind::TextList,
            _ if name == "external_refs" => Kind::References,
            _ => Kind::TextList,
        };
    }
    match () {
        _ if types.contains(&"integer") => Kind::Integer,
        _ if types.contains(&"number") => Kind::Number,
        _ if types.contains(&"boolean") => Kind::Boolean,
        _ if format == Some("date") => Kind::Date,
        _ => Kind::Text,
    }
}

/// Collects the types, format and item schema of a property, through `oneOf`/`anyOf`/`allOf`.
fn walk<'a>(schema: &'a Value, types: &mut Vec<&'a str>, format: &mut Option<&'a str>, items: &mut Option<&'a Value>) {
    match schema.get("type") {
        Some(Value::String(t)) => types.push(t),
        Some(Value::Array(list)) => types.extend(list.iter().filter_map(Value::as_str)),
        _ => {}
    }
    if let Some(f) = schema.get("format").and_then(Value::as_str) {
        *format = Some(f);
    }
    if let Some(i) = schema.get("items") {
        *items = Some(i);
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for inner in schema.get(key).and_then(Value::as_array).into_iter().flatten() {
            walk(inner, types, format, items);
        }
    }
}

/// The resource an id field names, from its name: `lead_partner_id` → partners.
fn refers_to(name: &str, own: Resource) -> Option<Resource> {
    let stem = name.strip_suffix("_ids").or_else(|| name.strip_suffix("_id"))?;
    match stem.rsplit('_').next()? {
        "partner" => Some(Resource::Partners),
        "field" => Some(Resource::Fields),
        "cooperation" => Some(Resource::Cooperations),
        "measure" => Some(Resource::Measures),
        "contact" => Some(Resource::Contacts),
        "parent" => Some(own),
        _ => None,
    }
}

/// A CSV cell as the value of `column`: empty → `null` (or `[]` for a list). A cell that cannot
/// be read is a 422 naming the field; a failing lookup is the database's error.
pub fn from_cell(
    conn: &mut AnyConnection,
    lookups: &mut Lookups,
    column: &Column,
    cell: &str,
) -> Result<Value, AppError> {
    cell_value(conn, lookups, column, cell).map_err(refused)
}

/// The references resolved so far in one import, kept for the resources it does not write: a
/// measure import cannot change which field has the key `bauhof`, so each is looked up once.
///
/// While a file is checked (before anything is written) it also holds the references of the
/// records that earlier rows will create, so that a later row may name them (a sub-measure's
/// `parent_id` as `ref:plan:7`), and the unique values rows claim (external references, AGS,
/// field keys), so that two rows claiming one are found before the write.
#[derive(Debug)]
pub struct Lookups {
    writes: Resource,
    known: HashMap<(Resource, String), Option<i64>>,
    /// `source:id` of each external reference an earlier row creates, with that row.
    pending: HashMap<String, usize>,
    /// Each unique value claimed so far (`ags:…`, `key:…`, `ref:source:id`) and who claims it.
    claimed: HashMap<String, Claimant>,
}

/// Who claims a unique value in a file being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claimant {
    /// The stored record with this id.
    Record(i64),
    /// The record the row with this number creates.
    Row(usize),
}

impl Lookups {
    /// For an import that writes `writes`.
    pub fn new(writes: Resource) -> Self {
        Self { writes, known: HashMap::new(), pending: HashMap::new(), claimed: HashMap::new() }
    }

    /// The row of the file that creates the record holding the external reference, if an
    /// earlier row does (known only while a file is checked).
    pub fn created_by(&self, source: &str, id: &str) -> Option<usize> {
        self.pending.get(&format!("{source}:{id}")).copied()
    }

    /// Claims `values` (`ags:…`, `ref:source:id`) for `claimant`; the first value another
    /// claimant holds is returned with it, and then nothing is claimed.
    pub fn claim(&mut self, claimant: Claimant, values: &[String]) -> Option<(String, Claimant)> {
        let taken = values
            .iter()
            .find_map(|v| self.claimed.get(v).filter(|other| **other != claimant).map(|other| (v.clone(), *other)));
        if taken.is_none() {
            for value in values {
                self.claimed.insert(value.clone(), claimant);
                if let (Claimant::Row(row), Some(reference)) = (claimant, value.strip_prefix("ref:")) {
                    self.pending.insert(reference.to_owned(), row);
                }
            }
        }
        taken
    }
}

/// A field error as the error of a whole value (lookups fail with their own error inside).
fn refused(error: Refused) -> AppError {
    match error {
        Refused::Field(field) => AppError::Validation(vec![field]),
        Refused::Failed(err) => err,
    }
}

/// Why a value cannot be used: its own fault, or the database's.
enum Refused {
    Field(FieldError),
    Failed(AppError),
}

impl From<FieldError> for Refused {
    fn from(field: FieldError) -> Self {
        Self::Field(field)
    }
}

fn cell_value(conn: &mut AnyConnection, lookups: &mut Lookups, column: &Column, cell: &str) -> Result<Value, Refused> {
    let cell = cell.trim();
    let field = column.name.as_str();
    if cell.contains('\0') {
        return Err(FieldError::new(field, "invalid_value", "must not contain the character U+0000").into());
    }
    let list = |items: Result<Vec<Value>, Refused>| items.map(Value::Array);
    match column.kind {
        Kind::IntegerList => {
            list(cell.split_whitespace().map(|word| integer_or_reference(conn, lookups, column, word)).collect())
        }
        Kind::TextList => Ok(Value::Array(cell.split_whitespace().map(Value::from).collect())),
        Kind::References => Ok(references(field, cell)?),
        _ if cell.is_empty() => Ok(Value::Null),
        Kind::Text if field == "ags" => Ok(Value::from(pad_ags(cell))),
        Kind::Text => Ok(Value::from(cell)),
        Kind::Integer => integer_or_reference(conn, lookups, column, cell),
        Kind::Number => cell
            .replace(',', ".")
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(Value::from)
            .ok_or_else(|| FieldError::new(field, "invalid_type", format!("`{cell}` is not a number")).into()),
        Kind::Boolean => boolean(cell).map(Value::from).ok_or_else(|| {
            FieldError::new(
                field,
                "invalid_type",
                format!("`{cell}` is not true/false (also WAHR/FALSCH, ja/nein, 1/0)"),
            )
            .into()
        }),
        Kind::Date => Ok(Value::from(german_date(cell).unwrap_or_else(|| cell.to_owned()))),
    }
}

/// An NDJSON value of `column`: as sent, with references (`"ags:…"`) in id fields resolved.
pub fn from_json(
    conn: &mut AnyConnection,
    lookups: &mut Lookups,
    column: &Column,
    value: Value,
) -> Result<Value, AppError> {
    if holds_nul(&value) {
        let field = FieldError::new(column.name.as_str(), "invalid_value", "must not contain the character U+0000");
        return Err(AppError::Validation(vec![field]));
    }
    json_value(conn, lookups, column, value).map_err(refused)
}

fn json_value(
    conn: &mut AnyConnection,
    lookups: &mut Lookups,
    column: &Column,
    value: Value,
) -> Result<Value, Refused> {
    match (column.refers_to, value) {
        (Some(_), Value::String(text)) => integer_or_reference(conn, lookups, column, &text),
        (Some(_), Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(text) => integer_or_reference(conn, lookups, column, &text),
                other => Ok(other),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        (_, value) => Ok(value),
    }
}

/// Whether a string anywhere in the value holds U+0000 (which PostgreSQL cannot store).
fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(members) => members.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// A whole number, or (in an id field) a reference by AGS, key or external reference.
fn integer_or_reference(
    conn: &mut AnyConnection,
    lookups: &mut Lookups,
    column: &Column,
    word: &str,
) -> Result<Value, Refused> {
    let field = column.name.as_str();
    if let Some(n) = integer(word) {
        return Ok(Value::from(n));
    }
    let Some(target) = column.refers_to else {
        return Err(FieldError::new(field, "invalid_type", format!("`{word}` is not a whole number")).into());
    };
    let remembered =
        (target != lookups.writes).then(|| lookups.known.get(&(target, word.to_owned())).copied()).flatten();
    let found = match remembered {
        Some(found) => Ok(found),
        None => resolve(conn, target, word),
    };
    if let (Ok(found), true) = (&found, target != lookups.writes) {
        lookups.known.insert((target, word.to_owned()), *found);
    }
    let found = found.map_err(|refused| match refused {
        Refused::Field(reason) => {
            FieldError::new(field, "invalid_reference", format!("`{word}`: {}", reason.message)).into()
        }
        failed => failed,
    })?;
    match found {
        Some(id) => Ok(Value::from(id)),
        // A record an earlier row creates: checked when it is written.
        None if target == lookups.writes && pending_reference(lookups, word) => Ok(Value::Null),
        None => Err(FieldError::new(field, "unknown_reference", format!("no record matches `{word}`")).into()),
    }
}

/// Whether `word` is `ref:<source>:<id>` of a record an earlier row of the file creates.
fn pending_reference(lookups: &Lookups, word: &str) -> bool {
    word.strip_prefix("ref:")
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(source, id)| lookups.created_by(&source.to_ascii_lowercase(), id).is_some())
}

/// The id a reference names (`None`: no such record).
fn resolve(conn: &mut AnyConnection, target: Resource, word: &str) -> Result<Option<i64>, Refused> {
    let db = |e: diesel::result::Error| Refused::Failed(AppError::from(e));
    let wrong = |message: &str| Refused::Field(FieldError::new("", "", message));
    if let Some(ags) = word.strip_prefix("ags:") {
        if target != Resource::Partners {
            return Err(wrong("`ags:` names partners only"));
        }
        return partners::find_by_ags(conn, &pad_ags(ags), None).map_err(db);
    }
    if let Some(key) = word.strip_prefix("key:") {
        if target != Resource::Fields {
            return Err(wrong("`key:` names cooperation fields only"));
        }
        return fields::find_by_key(conn, key).map(|f| f.map(|f| f.id)).map_err(db);
    }
    if let Some((source, id)) = word.strip_prefix("ref:").and_then(|rest| rest.split_once(':')) {
        return external_refs::holder(conn, target, source, id).map_err(db);
    }
    Err(wrong("write an id, `ags:<AGS>` (partners), `key:<key>` (fields) or `ref:<source>:<id>`"))
}

/// `external_refs` as exported (a JSON list) or as space-separated `source:id`.
fn references(field: &str, cell: &str) -> Result<Value, FieldError> {
    if cell.starts_with('[') {
        return serde_json::from_str(cell)
            .map_err(|e| FieldError::new(field, "invalid_type", format!("is not a JSON list of {{source, id}}: {e}")));
    }
    cell.split_whitespace()
        .map(|word| {
            let (source, id) = word.split_once(':').ok_or_else(|| {
                FieldError::new(field, "invalid_value", format!("`{word}` is not `source:id` (or a JSON list)"))
            })?;
            let mut reference = Map::new();
            reference.insert("source".into(), Value::from(source));
            reference.insert("id".into(), Value::from(id));
            Ok(Value::Object(reference))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

/// A whole number, also as a spreadsheet formats it: `1.200.000`, `1200000,00`.
fn integer(word: &str) -> Option<i64> {
    if let Ok(n) = word.parse() {
        return Some(n);
    }
    let word = word.strip_suffix(",00").or_else(|| word.strip_suffix(",0")).unwrap_or(word);
    let (sign, digits) = word.strip_prefix('-').map_or(("", word), |rest| ("-", rest));
    let groups: Vec<&str> = digits.split('.').collect();
    let grouped = groups.len() > 1
        && (1..=3).contains(&groups[0].len())
        && groups[1..].iter().all(|g| g.len() == 3)
        && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit()));
    if grouped || groups.len() == 1 { format!("{sign}{}", groups.concat()).parse().ok() } else { None }
}

fn boolean(cell: &str) -> Option<bool> {
    match cell.to_lowercase().as_str() {
        "true" | "wahr" | "ja" | "yes" | "1" => Some(true),
        "false" | "falsch" | "nein" | "no" | "0" => Some(false),
        _ => None,
    }
}

/// `D.M.YYYY` (how German Excel shows and saves a date) as `YYYY-MM-DD`.
fn german_date(cell: &str) -> Option<String> {
    let date = chrono::NaiveDate::parse_from_str(cell, "%d.%m.%Y").ok()?;
    Some(date.format("%Y-%m-%d").to_string())
}

/// A 7-digit AGS gets back the leading zero a spreadsheet took from it.
pub fn pad_ags(ags: &str) -> String {
    let ags = ags.trim();
    if ags.len() == 7 && ags.bytes().all(|b| b.is_ascii_digit()) { format!("0{ags}") } else { ags.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_the_create_types_schema() {
        let columns = columns_of::<crate::models::measures::CreateMeasure>(Resource::Measures);
        let find = |name: &str| columns.iter().find(|c| c.name == name).cloned().unwrap();
        assert_eq!(find("title").kind, Kind::Text);
        assert_eq!(find("benefit").kind, Kind::Integer);
        assert_eq!(find("planned_start").kind, Kind::Date);
        assert_eq!(
            find("partner_ids"),
            Column { name: "partner_ids".into(), kind: Kind::IntegerList, refers_to: Some(Resource::Partners) }
        );
        assert_eq!(find("council_refs").kind, Kind::TextList);
        assert_eq!(find("external_refs").kind, Kind::References);
        assert_eq!(find("lead_partner_id").refers_to, Some(Resource::Partners));
        assert_eq!(find("responsible_contact_id").refers_to, Some(Resource::Contacts));
        assert_eq!(find("parent_id").refers_to, Some(Resource::Measures));
        assert_eq!(find("field_id").refers_to, Some(Resource::Fields));
        assert_eq!(find("estimated_cost_eur").refers_to, None);
    }

    #[test]
    fn spreadsheet_spellings_are_understood() {
        assert_eq!(integer("1.200.000"), Some(1_200_000));
        assert_eq!(integer("-1.200"), Some(-1200));
        assert_eq!(integer("1200,00"), Some(1200));
        assert_eq!(integer("1.20"), None, "not a thousands grouping");
        assert_eq!(integer("12a"), None);
        assert_eq!(german_date("1.3.2027").as_deref(), Some("2027-03-01"));
        assert_eq!(german_date("31.02.2027"), None);
        assert_eq!(pad_ags("3359028"), "03359028");
        assert_eq!(pad_ags("14625240"), "14625240");
        assert_eq!(boolean("WAHR"), Some(true));
        assert_eq!(boolean("Nein"), Some(false));
        assert_eq!(
            references("external_refs", "kreis:7 ris:a/b").unwrap(),
            serde_json::json!([
                {"source": "kreis", "id": "7"}, {"source": "ris", "id": "a/b"}
            ])
        );
        assert_eq!(
            references("external_refs", "[{\"source\":\"x\",\"id\":\"1\"}]").unwrap(),
            serde_json::json!([
                {"source": "x", "id": "1"}
            ])
        );
        assert_eq!(references("external_refs", "x").unwrap_err().code, "invalid_value");
    }
}
