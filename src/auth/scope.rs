//! OAuth2 scopes: what a client may do. Which municipalities it may do it for is separate.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Every scope the gateway knows. A token's `scope` claim is these names, space-separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    /// Manage municipalities and clients through `/v1/admin`.
    #[serde(rename = "admin")]
    Admin,
    /// Read the municipalities the client acts for.
    #[serde(rename = "municipalities:read")]
    MunicipalitiesRead,
    /// Change a municipality's profile (name, counter contact).
    #[serde(rename = "municipalities:write")]
    MunicipalitiesWrite,
    /// Read the audit log of a municipality.
    #[serde(rename = "audit:read")]
    AuditRead,
    /// Read the standard form schemas; normalize and validate form data.
    #[serde(rename = "forms")]
    Forms,
    /// Open and work on one-stop visits (personal data of residents).
    #[serde(rename = "visits")]
    Visits,
    /// Read residents' My Number cards at a counter PC (基本4情報, card face, JPKI).
    #[serde(rename = "card")]
    Card,
    /// Receive a 個人番号 read from a card (`readMyNumber`), for a procedure that needs it.
    #[serde(rename = "mynumber:read")]
    MyNumberRead,
    /// Look residents up in the resident directory for a visit.
    #[serde(rename = "residents")]
    Residents,
    /// A core system: pull the applications of its business area and answer them.
    #[serde(rename = "link")]
    Link,
    /// Open conformance sessions: a sandbox municipality whose client's requests are
    /// recorded and judged.
    #[serde(rename = "conformance")]
    Conformance,
}

impl Scope {
    pub const ALL: [Scope; 11] = [
        Scope::Admin,
        Scope::MunicipalitiesRead,
        Scope::MunicipalitiesWrite,
        Scope::AuditRead,
        Scope::Forms,
        Scope::Visits,
        Scope::Card,
        Scope::MyNumberRead,
        Scope::Residents,
        Scope::Link,
        Scope::Conformance,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::MunicipalitiesRead => "municipalities:read",
            Scope::MunicipalitiesWrite => "municipalities:write",
            Scope::AuditRead => "audit:read",
            Scope::Forms => "forms",
            Scope::Visits => "visits",
            Scope::Card => "card",
            Scope::MyNumberRead => "mynumber:read",
            Scope::Residents => "residents",
            Scope::Link => "link",
            Scope::Conformance => "conformance",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == s)
    }

    /// What the scope allows, for help texts and the OpenAPI document.
    pub fn description(self) -> &'static str {
        match self {
            Scope::Admin => {
                "管理API(団体・クライアントの登録) / admin API (municipalities, clients)"
            }
            Scope::MunicipalitiesRead => "団体情報の参照 / read municipalities",
            Scope::MunicipalitiesWrite => "団体情報の変更 / change municipality profile",
            Scope::AuditRead => "監査ログの参照 / read the audit log",
            Scope::Forms => {
                "標準様式の参照・正規化・検証 / read form schemas, normalize and validate form data"
            }
            Scope::Visits => {
                "ワンストップ窓口の来庁(手続判定・住民の個人情報) / one-stop visits (determination, residents' personal data)"
            }
            Scope::Card => {
                "窓口でのマイナンバーカードの読取り(基本4情報・券面・公的個人認証) / read My Number cards at the counter"
            }
            Scope::MyNumberRead => {
                "カードから読み取った個人番号の受取り(個人番号利用事務のみ) / receive a 個人番号 read from a card"
            }
            Scope::Residents => {
                "来庁のための住民記録の照会(検索・世帯) / look residents up in the directory for a visit"
            }
            Scope::Link => {
                "基幹業務システムによる申請の取得と結果の返却 / a core system pulls applications and answers them"
            }
            Scope::Conformance => {
                "適合性試験セッションの開設と報告(サンドボックスの団体) / open conformance sessions and read their reports (sandbox municipalities)"
            }
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes; printed space-separated in scope order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(Vec<Scope>);

impl ScopeSet {
    pub fn new(scopes: impl IntoIterator<Item = Scope>) -> Self {
        let mut v: Vec<Scope> = scopes.into_iter().collect();
        v.sort();
        v.dedup();
        Self(v)
    }

    /// Parses a space-separated list; names the first unknown scope on failure.
    pub fn parse_strict(s: &str) -> Result<Self, String> {
        s.split_ascii_whitespace()
            .map(|name| Scope::parse(name).ok_or_else(|| name.to_owned()))
            .collect::<Result<Vec<_>, _>>()
            .map(Self::new)
    }

    /// Parses a space-separated list from another issuer, ignoring scopes this gateway does
    /// not know.
    pub fn parse_lenient(s: &str) -> Self {
        Self::new(s.split_ascii_whitespace().filter_map(Scope::parse))
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn is_subset_of(&self, other: &ScopeSet) -> bool {
        self.0.iter().all(|s| other.contains(*s))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for scope in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(scope.as_str())?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_a_stable_order() {
        let set = ScopeSet::parse_strict("audit:read admin municipalities:read admin").unwrap();
        assert_eq!(set.to_string(), "admin municipalities:read audit:read");
        assert_eq!(
            ScopeSet::parse_strict("admin forms:write"),
            Err("forms:write".to_owned())
        );
        assert_eq!(ScopeSet::parse_lenient("openid admin").to_string(), "admin");
    }
}
