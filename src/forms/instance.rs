//! How the validator reads a form document.
//!
//! jsonschema reads documents through its `Json` representation trait. Its stock
//! representation for `serde_json` looks every member up in the map; with the
//! `preserve_order` feature the gateway uses (documents come back in the order the counter
//! app sent them) that map is an `IndexMap` hashing each name with SipHash. Every
//! `required`, every `properties` in an `if` and every `then` looks a name up, and profiling
//! the forms benchmark put those lookups at up to 40 % of a validation (certificateIssuance,
//! `benches/results/2026-11-22-forms.md`). A form's objects hold a handful of members, so
//! [`FormJson`] finds a name by comparing it with each member's, which takes a few byte
//! comparisons. Everything else is delegated to the stock representation.

use std::borrow::Cow;

use jsonschema::JsonType;
use jsonschema::json::{Array, Json, Node, NodeIdentity, Object, SerdeJson};
use serde_json::{Map, Value};

/// The validator of a form, reading documents as [`FormJson`].
pub type FormValidator = jsonschema::Validator<FormJson>;

/// Up to this many members an object is searched member by member; larger ones (none in the
/// built-in forms) use the map's hash lookup.
const SCANNED_MEMBERS: usize = 16;

/// `serde_json` documents, with member lookups that scan small objects (see the module).
pub struct FormJson;

/// The stock representation, which every reading but a member lookup delegates to.
type Stock = SerdeJson;

impl Json for FormJson {
    type Node<'a> = &'a Value;
    type PreparedKey = String;
    type StringBuffer = Value;

    // Lookups here are already member scans, so jsonschema need not trade a `required` list's
    // lookups for its own pass over the members (fewer instructions per form, measured).
    const KEYS_PER_LOOKUP: usize = 0;

    fn prepare_key(key: &str) -> String {
        <Stock as Json>::prepare_key(key)
    }

    fn with_string_node<T>(buffer: &mut Value, string: &str, f: impl FnOnce(&Value) -> T) -> T {
        <Stock as Json>::with_string_node(buffer, string, f)
    }
}

impl<'a> Node<'a, FormJson> for &'a Value {
    type Object = &'a Map<String, Value>;
    type Array = &'a [Value];
    type Number = &'a serde_json::Number;

    fn as_object(&self) -> Option<Self::Object> {
        <Self as Node<'a, Stock>>::as_object(self)
    }

    fn as_array(&self) -> Option<Self::Array> {
        <Self as Node<'a, Stock>>::as_array(self)
    }

    fn as_string(&self) -> Option<Cow<'a, str>> {
        <Self as Node<'a, Stock>>::as_string(self)
    }

    fn as_number(&self) -> Option<Self::Number> {
        <Self as Node<'a, Stock>>::as_number(self)
    }

    fn as_boolean(&self) -> Option<bool> {
        <Self as Node<'a, Stock>>::as_boolean(self)
    }

    fn is_null(&self) -> bool {
        <Self as Node<'a, Stock>>::is_null(self)
    }

    fn is_number(&self) -> bool {
        <Self as Node<'a, Stock>>::is_number(self)
    }

    fn is_string(&self) -> bool {
        <Self as Node<'a, Stock>>::is_string(self)
    }

    fn json_type(&self) -> JsonType {
        <Self as Node<'a, Stock>>::json_type(self)
    }

    fn string_length(&self) -> Option<u64> {
        <Self as Node<'a, Stock>>::string_length(self)
    }

    fn equals_value(&self, expected: &Value) -> bool {
        <Self as Node<'a, Stock>>::equals_value(self, expected)
    }

    fn to_value(&self) -> Cow<'a, Value> {
        <Self as Node<'a, Stock>>::to_value(self)
    }

    fn identity(&self) -> Option<NodeIdentity> {
        <Self as Node<'a, Stock>>::identity(self)
    }

    fn container_identity(&self) -> Option<NodeIdentity> {
        <Self as Node<'a, Stock>>::container_identity(self)
    }
}

impl<'a> Object<'a, FormJson> for &'a Map<String, Value> {
    type Node = &'a Value;
    type MemberName = &'a str;
    type MembersIter = <Self as Object<'a, Stock>>::MembersIter;

    fn len(&self) -> usize {
        Map::len(self)
    }

    fn get(&self, key: &String) -> Option<&'a Value> {
        if Map::len(self) <= SCANNED_MEMBERS {
            // `String` equality compares the lengths before any byte.
            self.iter()
                .find_map(|(name, value)| (name == key).then_some(value))
        } else {
            Map::get(self, key.as_str())
        }
    }

    fn members(&self) -> Self::MembersIter {
        <Self as Object<'a, Stock>>::members(self)
    }
}

impl<'a> Array<'a, FormJson> for &'a [Value] {
    type Node = &'a Value;
    type ElementsIter = <Self as Array<'a, Stock>>::ElementsIter;

    fn len(&self) -> usize {
        <[Value]>::len(self)
    }

    fn elements(&self) -> Self::ElementsIter {
        <Self as Array<'a, Stock>>::elements(self)
    }

    fn is_unique(&self) -> bool {
        <Self as Array<'a, Stock>>::is_unique(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn member<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
        let map = <&Value as Node<'_, FormJson>>::as_object(&object)?;
        <&Map<String, Value> as Object<'_, FormJson>>::get(&map, &FormJson::prepare_key(name))
    }

    #[test]
    fn finds_members_of_small_and_large_objects_alike() {
        let small = json!({"familyName": "山田", "givenName": "太郎", "sex": "1"});
        assert_eq!(member(&small, "givenName"), Some(&json!("太郎")));
        assert_eq!(member(&small, "given"), None);
        assert_eq!(member(&small, "givenNameKana"), None);

        let large: Map<String, Value> = (0..40).map(|i| (format!("f{i}"), json!(i))).collect();
        let large = Value::Object(large);
        assert_eq!(member(&large, "f0"), Some(&json!(0)));
        assert_eq!(member(&large, "f39"), Some(&json!(39)));
        assert_eq!(member(&large, "f40"), None);
    }

    #[test]
    fn validates_as_the_stock_representation_does() {
        let schema = json!({
            "type": "object",
            "properties": {"kind": {"enum": ["register", "abolish"]}, "n": {"minLength": 2}},
            "required": ["kind"],
            "additionalProperties": false,
            "if": {"properties": {"kind": {"const": "abolish"}}, "required": ["kind"]},
            "then": {"required": ["n"]}
        });
        let ours = jsonschema::options_for::<FormJson>()
            .build(&schema)
            .unwrap_or_else(|e| unreachable!("{e}"));
        let stock = jsonschema::options()
            .build(&schema)
            .unwrap_or_else(|e| unreachable!("{e}"));
        for document in [
            json!({"kind": "register"}),
            json!({"kind": "abolish"}),
            json!({"kind": "abolish", "n": "ab"}),
            json!({"kind": "abolish", "n": "a"}),
            json!({"kind": "other"}),
            json!({"n": "ab"}),
            json!({"kind": "register", "extra": 1}),
        ] {
            let expected: Vec<String> = stock
                .iter_errors(&document)
                .map(|e| e.to_string())
                .collect();
            let found: Vec<String> = ours.iter_errors(&document).map(|e| e.to_string()).collect();
            assert_eq!(found, expected, "{document}");
            assert_eq!(
                ours.is_valid(&document),
                stock.is_valid(&document),
                "{document}"
            );
        }
    }
}
