//! [`ScrubberBuilder`]: every setting of the scrubber, with its default.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;

use super::Kind;
use super::action::{self, Action, Mask};
use super::detector::Detector;
use super::keys::{DEFAULT_KEYS, KeyRules};
use super::scan::{Engine, Kinds};
use super::scrubber::{Inner, Scrubber};
use crate::error::ConfigError;
use crate::rbac::Rbac;

/// Builds a [`Scrubber`]. Start with [`Scrubber::builder`].
///
/// Settings name kinds by [`Kind`] or by name (`"email"`, or a custom
/// detector's name), so both `.action(Kind::Email, Action::Mask)` and
/// `.action("employee_id", Action::Hash)` work. Unknown names are a
/// [`ConfigError::Pii`] at [`build`](Self::build).
///
/// The builder can also be deserialized (fields `disabled`, `actions`,
/// `inbound_actions`, `outbound_actions`, `default_action`, `placeholders`,
/// `masks`, `report_only`, `sensitive_keys`, `default_sensitive_keys`,
/// `scan_keys`, `scan_binary`, `exemptions`, `hash_len`, `phone_regions`), so operators can
/// change actions without a rebuild; the HMAC key, custom detectors and the
/// RBAC policy are set in code.
///
/// # Defaults
///
/// | setting | default |
/// |---------|---------|
/// | detectors | every built-in [`Kind`] on |
/// | action | [`Action::Redact`] for every kind, both directions |
/// | placeholder | the name in upper case in brackets: `[EMAIL]`, `[CREDIT_CARD]` |
/// | mask | `email` keeps 1 (of the local part), `phone` the last 2, `credit_card` and `us_ssn` the last 4, `iban` the first 2 and last 4; other kinds keep nothing |
/// | hash | 12 hex digits (48 bits) of HMAC-SHA256; needs [`hmac_key`](Self::hmac_key) |
/// | encrypt | AES-256-GCM tokens; needs the `encrypt` feature and an `encryption_key` |
/// | sensitive keys | `password`, `passwd`, `pwd`, `passphrase`, `secret`, `api_key`, `access_key`, `private_key`, `token`, `authorization`, `bearer`, `cookie`, `passcode`, `cvv`, `cvc`, `pin` (as `password`); `ssn`, `social_security_number` (`us_ssn`); `card_number`, `credit_card`, `cc_number` (`credit_card`); `iban`; `email`, `email_address`; `phone`, `phone_number`, `mobile`, `mobile_number`, `telephone`, `tel`, `fax` (`phone`); `dob`, `date_of_birth`, `birth_date`, `birthday` (`date_of_birth`); `first_name`, `last_name`, `full_name`, `surname`, `given_name`, `family_name`, `middle_name`, `maiden_name`, `legal_name`, `forename` (`person_name`); `street`, `street_address`, `address_line`, `address_line1`..`3`, `home_address`, `postal_address`, `mailing_address`, `billing_address`, `shipping_address`, `residential_address`, `postcode`, `postal_code`, `zip`, `zip_code` (`address`); `itin`; `cpf`; `aadhaar`, `aadhaar_number`, `aadhaar_no`, `uidai`; `pesel`; `nhs`, `nhs_number`, `nhs_no`; `nif`, `nie`, `dni` (`es_nif`); `nino`, `ni_number`, `national_insurance_number`; `codice_fiscale`, `fiscal_code`; `hetu`, `henkilotunnus`; `nric`; `tfn`, `tax_file_number`; `abn`; `medicare`, `medicare_number`; `pan_number`; `rrn`; `cnpj`; `passport`, `passport_number`, `passport_no`; `account_number`, `bank_account`, `bank_account_number`, `routing_number` (`us_bank_number`); `swift`, `swift_code`, `bic`; `wallet_address`, `bitcoin_address`, `btc_address`, `eth_address` (`crypto_address`). Not `name` or `address` alone: add them with [`sensitive_key`](Self::sensitive_key) where they mean a person's |
/// | phone regions | `US`, `CA`, `GB`, `DE`, `FR`, `ES`, `NL`, `IE`, `IN`, `JP`, `AU`, `BR`: national formats of these count; international (`+...`) numbers of every region always do |
/// | object keys scanned | no |
/// | binary frames scanned | no |
/// | report-only | off |
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[must_use]
pub struct ScrubberBuilder {
    disabled: Vec<String>,
    actions: BTreeMap<String, Action>,
    inbound_actions: BTreeMap<String, Action>,
    outbound_actions: BTreeMap<String, Action>,
    default_action: Action,
    placeholders: BTreeMap<String, String>,
    masks: BTreeMap<String, Mask>,
    report_only: bool,
    sensitive_keys: Vec<(String, String)>,
    default_sensitive_keys: bool,
    scan_keys: bool,
    scan_binary: bool,
    exemptions: BTreeMap<String, String>,
    hash_len: usize,
    phone_regions: Vec<String>,
    #[serde(skip)]
    hmac_key: Option<Vec<u8>>,
    #[serde(skip)]
    encryption_key: Option<[u8; 32]>,
    #[serde(skip)]
    detectors: Vec<Arc<dyn Detector>>,
    #[serde(skip)]
    rbac: Option<Rbac>,
}

impl Default for ScrubberBuilder {
    fn default() -> Self {
        Self {
            disabled: Vec::new(),
            actions: BTreeMap::new(),
            inbound_actions: BTreeMap::new(),
            outbound_actions: BTreeMap::new(),
            default_action: Action::Redact,
            placeholders: BTreeMap::new(),
            masks: BTreeMap::new(),
            report_only: false,
            sensitive_keys: Vec::new(),
            default_sensitive_keys: true,
            scan_keys: false,
            scan_binary: false,
            exemptions: BTreeMap::new(),
            hash_len: 12,
            phone_regions: DEFAULT_PHONE_REGIONS.iter().map(|r| (*r).to_owned()).collect(),
            hmac_key: None,
            encryption_key: None,
            detectors: Vec::new(),
            rbac: None,
        }
    }
}

/// The regions whose national phone formats count by default.
const DEFAULT_PHONE_REGIONS: &[&str] = &["US", "CA", "GB", "DE", "FR", "ES", "NL", "IE", "IN", "JP", "AU", "BR"];

impl ScrubberBuilder {
    /// The regions (ISO 3166 codes, as in libphonenumber: `IT`, `PL`, `MX`)
    /// whose national phone formats count, replacing the default list:
    /// `030 12345678` is a phone number only if it is a valid number as
    /// dialled in one of them. International numbers (`+39 06 1234 5678`)
    /// of every region count whatever this says.
    ///
    /// The groupings without a trunk prefix apply to their regions when
    /// listed: NANP `(415) 555-0132` (`US` or `CA`), Spain `612 34 56 78`,
    /// India `98765 43210`, Brazil `(11) 91234-5678`.
    pub fn phone_regions(mut self, regions: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.phone_regions = regions.into_iter().map(Into::into).collect();
        self
    }

    /// Switches a built-in detector off (everywhere: text, keys and `key=value`).
    pub fn disable(mut self, kind: Kind) -> Self {
        self.disabled.push(kind.name().to_owned());
        self
    }

    /// Switches every built-in detector off except `kinds`.
    pub fn only(mut self, kinds: impl IntoIterator<Item = Kind>) -> Self {
        let keep: Vec<Kind> = kinds.into_iter().collect();
        self.disabled = Kind::ALL.iter().filter(|k| !keep.contains(k)).map(|k| k.name().to_owned()).collect();
        self
    }

    /// Sets the action for a kind in both directions.
    pub fn action(mut self, kind: impl AsRef<str>, action: Action) -> Self {
        self.actions.insert(kind.as_ref().to_owned(), action);
        self
    }

    /// Sets the action for a kind in messages from the client.
    pub fn inbound_action(mut self, kind: impl AsRef<str>, action: Action) -> Self {
        self.inbound_actions.insert(kind.as_ref().to_owned(), action);
        self
    }

    /// Sets the action for a kind in messages the application sends.
    pub fn outbound_action(mut self, kind: impl AsRef<str>, action: Action) -> Self {
        self.outbound_actions.insert(kind.as_ref().to_owned(), action);
        self
    }

    /// The action for kinds without their own (default [`Action::Redact`]).
    pub fn default_action(mut self, action: Action) -> Self {
        self.default_action = action;
        self
    }

    /// The text [`Action::Redact`] writes for a kind (default `[EMAIL]` style).
    pub fn placeholder(mut self, kind: impl AsRef<str>, text: impl Into<String>) -> Self {
        self.placeholders.insert(kind.as_ref().to_owned(), text.into());
        self
    }

    /// How [`Action::Mask`] masks a kind (defaults in the table above).
    pub fn mask(mut self, kind: impl AsRef<str>, mask: Mask) -> Self {
        self.masks.insert(kind.as_ref().to_owned(), mask);
        self
    }

    /// The key for [`Action::Hash`]. Required when any kind hashes; keep it
    /// secret and stable (rotating it breaks correlation).
    pub fn hmac_key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.hmac_key = Some(key.into());
        self
    }

    /// The AES-256 key for [`Action::Encrypt`] (feature `encrypt`). Required
    /// when any kind is encrypted; whoever holds it can read every token.
    #[cfg(feature = "encrypt")]
    pub fn encryption_key(mut self, key: [u8; 32]) -> Self {
        self.encryption_key = Some(key);
        self
    }

    /// How many hex digits of the HMAC to keep (default 12, 8 to 64).
    pub fn hash_len(mut self, hex_digits: usize) -> Self {
        self.hash_len = hex_digits;
        self
    }

    /// Finds and audits without changing, dropping or closing anything
    /// (default off): for rolling out on live traffic.
    pub fn report_only(mut self, on: bool) -> Self {
        self.report_only = on;
        self
    }

    /// Adds a sensitive key: values under `key` (any case or separator
    /// style, and keys ending in its words) are findings of `kind`.
    pub fn sensitive_key(mut self, key: impl Into<String>, kind: impl AsRef<str>) -> Self {
        self.sensitive_keys.push((key.into(), kind.as_ref().to_owned()));
        self
    }

    /// Drops the default sensitive keys, keeping only those added with
    /// [`sensitive_key`](Self::sensitive_key).
    pub fn clear_sensitive_keys(mut self) -> Self {
        self.default_sensitive_keys = false;
        self.sensitive_keys.clear();
        self
    }

    /// Also scans object keys as text (default off: keys are names, rarely data).
    pub fn scan_keys(mut self, on: bool) -> Self {
        self.scan_keys = on;
        self
    }

    /// Also scans binary frames that are valid UTF-8 (default off).
    pub fn scan_binary(mut self, on: bool) -> Self {
        self.scan_binary = on;
        self
    }

    /// Adds a custom detector.
    pub fn detector(mut self, detector: impl Detector) -> Self {
        self.detectors.push(Arc::new(detector));
        self
    }

    /// Lets principals with `permission` (checked by the [`rbac`](Self::rbac)
    /// policy) receive `kind` unchanged in outbound messages, e.g.
    /// `.exempt(Kind::Email, "pii:email:read")`. Findings are still counted
    /// and audited.
    pub fn exempt(mut self, kind: impl AsRef<str>, permission: impl Into<String>) -> Self {
        self.exemptions.insert(kind.as_ref().to_owned(), permission.into());
        self
    }

    /// The RBAC policy that decides [`exempt`](Self::exempt) permissions.
    pub fn rbac(mut self, rbac: Rbac) -> Self {
        self.rbac = Some(rbac);
        self
    }

    /// Compiles the scrubber. The builder can be reused.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Pii`] for an unknown kind or detector name, two
    /// detectors with one name, a hash action without a key, a hash length
    /// outside 8-64, exemptions without an RBAC policy, an empty
    /// sensitive key, or a phone region libphonenumber does not know.
    pub fn build(&self) -> Result<Scrubber, ConfigError> {
        let err = |item: &str, reason: &str| ConfigError::Pii { item: item.to_owned(), reason: reason.to_owned() };
        let mut names: Vec<&'static str> = Kind::ALL.iter().map(|k| k.name()).collect();
        for d in &self.detectors {
            if names.contains(&d.name()) {
                return Err(err(&format!("detector `{}`", d.name()), "the name is already taken"));
            }
            names.push(d.name());
        }
        let tag = |name: &str| {
            names.iter().position(|n| *n == name).ok_or_else(|| err(&format!("`{name}`"), "no such kind or detector"))
        };

        let regions = super::phone::Regions::new(&self.phone_regions)
            .map_err(|r| err(&format!("phone region `{r}`"), "not a region in libphonenumber's metadata"))?;
        let mut kinds = Kinds::ALL;
        for name in &self.disabled {
            let t = tag(name)?;
            kinds = kinds.without(*Kind::ALL.get(t).ok_or_else(|| err(name, "only built-in kinds can be disabled"))?);
        }

        let mut actions = [vec![self.default_action; names.len()], vec![self.default_action; names.len()]];
        for (map, dirs) in
            [(&self.actions, &[0, 1][..]), (&self.inbound_actions, &[0][..]), (&self.outbound_actions, &[1][..])]
        {
            for (name, &action) in map {
                let t = tag(name)?;
                for &d in dirs {
                    actions[d][t] = action;
                }
            }
        }
        let hashes = actions.iter().flatten().any(|&a| a == Action::Hash);
        if hashes && self.hmac_key.as_ref().is_none_or(Vec::is_empty) {
            return Err(err("hash", "an hmac_key is required when any kind is hashed"));
        }
        if actions.iter().flatten().any(|&a| a == Action::Encrypt) {
            if cfg!(not(feature = "encrypt")) {
                return Err(err("encrypt", "the encrypt action needs the `encrypt` feature"));
            }
            if self.encryption_key.is_none() {
                return Err(err("encrypt", "an encryption_key is required when any kind is encrypted"));
            }
        }
        if !(8..=64).contains(&self.hash_len) {
            return Err(err("hash_len", "must be between 8 and 64 hex digits"));
        }

        let mut placeholders: Vec<String> = names.iter().map(|n| format!("[{}]", n.to_ascii_uppercase())).collect();
        for (name, text) in &self.placeholders {
            placeholders[tag(name)?] = text.clone();
        }
        let mut masks: Vec<Mask> = names.iter().map(|n| default_mask(n)).collect();
        for (name, mask) in &self.masks {
            masks[tag(name)?] = *mask;
        }

        let mut key_rules: Vec<(String, usize)> = Vec::new();
        if self.default_sensitive_keys {
            key_rules.extend(DEFAULT_KEYS.iter().map(|(k, kind)| ((*k).to_owned(), kind.index())));
        }
        for (key, name) in &self.sensitive_keys {
            key_rules.push((key.clone(), tag(name)?));
        }
        // A disabled kind is off everywhere, keys included.
        key_rules.retain(|(_, t)| Kind::ALL.get(*t).is_none_or(|k| kinds.has(*k)));
        let keys = KeyRules::new(&key_rules).map_err(|reason| err("sensitive_keys", &reason))?;

        let mut exemptions = vec![None; names.len()];
        for (name, permission) in &self.exemptions {
            exemptions[tag(name)?] = Some(permission.clone());
        }
        if exemptions.iter().any(Option::is_some) && self.rbac.is_none() {
            return Err(err("exemptions", "exemptions need an rbac policy to check permissions"));
        }

        Ok(Scrubber::from_inner(Inner {
            engine: Engine { kinds, keys, regions },
            detectors: self.detectors.clone(),
            names,
            actions,
            marked_outputs: placeholders.iter().all(|p| p.contains(['[', '*'])),
            placeholders,
            masks,
            hmac: action::keyed(self.hmac_key.as_deref().unwrap_or_default()),
            #[cfg(feature = "encrypt")]
            cipher: self.encryption_key.as_ref().map(super::crypto::Cipher::new),
            hash_len: self.hash_len,
            report_only: self.report_only,
            scan_keys: self.scan_keys,
            scan_binary: self.scan_binary,
            exemptions,
            rbac: self.rbac.clone(),
        }))
    }
}

fn default_mask(name: &str) -> Mask {
    match name {
        "email" => Mask::new(1, 0),
        "phone" => Mask::new(0, 2),
        "credit_card" | "us_ssn" => Mask::new(0, 4),
        "iban" => Mask::new(2, 4),
        _ => Mask::new(0, 0),
    }
}
