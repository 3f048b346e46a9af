//! [`Policy`]: roles, rules and field rules as data, in code or from a file.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;
use serde::{Deserialize, Serialize};

use super::permission::{Grant, Required};
use super::{Compiled, PermissionSet, Rbac, Rule};
use crate::error::ConfigError;
use crate::layer::{Discriminator, Strikes};

/// A role: the permissions it grants and the roles it inherits from.
///
/// In a file, a role is either a list of permissions (`user = ["read"]`) or
/// a table with `permissions` and `inherits`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "RoleDef")]
#[non_exhaustive]
pub struct Role {
    /// Roles whose permissions this role also has (transitively).
    pub inherits: Vec<String>,
    /// Permissions, such as `chat:read`, `room:*:write` or `*`.
    pub permissions: Vec<String>,
}

/// The two spellings of a role in a file.
#[derive(Deserialize)]
#[serde(untagged)]
enum RoleDef {
    Permissions(Vec<String>),
    #[serde(rename_all = "snake_case")]
    Full {
        #[serde(default)]
        inherits: Vec<String>,
        #[serde(default)]
        permissions: Vec<String>,
    },
}

impl From<RoleDef> for Role {
    fn from(def: RoleDef) -> Self {
        match def {
            RoleDef::Permissions(permissions) => Self { inherits: Vec::new(), permissions },
            RoleDef::Full { inherits, permissions } => Self { inherits, permissions },
        }
    }
}

/// What a field rule does to a field the principal may not see.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FieldAction {
    /// Remove the field. The default.
    #[default]
    Remove,
    /// Replace its value with the string `"***"`, keeping the shape.
    Mask,
}

/// Hides one field of outbound messages from principals without a permission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FieldRule {
    /// The field, as a JSON pointer (`/email`, `/user/phone`).
    pub pointer: String,
    /// The permission needed to see it (plain, no template).
    pub permission: String,
    /// What happens without it. Default: remove.
    #[serde(default)]
    pub action: FieldAction,
    /// Only for messages of this type; every type when absent.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub message_type: Option<String>,
}

impl FieldRule {
    /// Removes `pointer` for principals without `permission`.
    pub fn new(pointer: impl Into<String>, permission: impl Into<String>) -> Self {
        Self { pointer: pointer.into(), permission: permission.into(), action: FieldAction::Remove, message_type: None }
    }

    /// Masks instead of removing.
    #[must_use]
    pub fn mask(mut self) -> Self {
        self.action = FieldAction::Mask;
        self
    }

    /// Applies only to messages of `message_type`.
    #[must_use]
    pub fn for_type(mut self, message_type: impl Into<String>) -> Self {
        self.message_type = Some(message_type.into());
        self
    }
}

/// An RBAC policy: roles, rules per message type and field rules.
///
/// Write it in code with the builder methods, or deserialize it (JSON,
/// TOML, ...); [`build`](Self::build) validates it and compiles the layer.
///
/// | field | default |
/// |-------|---------|
/// | `roles` | none |
/// | `inbound`, `outbound` | none: message type → required permission |
/// | `fields` | none |
/// | `anonymous` | none: sessions without a principal have no permissions |
/// | `allow_unmapped_inbound` | `false`: inbound types without a rule are `forbidden` |
/// | `discriminator` | `/type` |
/// | `strikes` | 10 denials within 60 s close with 4403 |
///
/// # Examples
///
/// The classic example, in code:
///
/// ```
/// use wsguard::rbac::Policy;
///
/// let rbac = Policy::new()
///     .role("admin", ["read", "write"])
///     .role("user", ["read"])
///     .inbound("get", "read")
///     .inbound("post", "write")
///     .build()?;
/// # Ok::<(), wsguard::ConfigError>(())
/// ```
///
/// and as TOML:
///
/// ```toml
/// [roles]
/// admin = ["read", "write"]
/// user = ["read"]
/// support = { inherits = ["user"], permissions = ["pii:read"] }
///
/// [inbound]
/// get = "read"
/// post = "write"
/// chat = "room:{/room}:write"   # filled from the message's `room` field
///
/// [[fields]]
/// pointer = "/email"
/// permission = "pii:read"
/// action = "mask"
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Policy {
    /// Roles by name.
    pub roles: BTreeMap<String, Role>,
    /// Inbound message type → the permission needed to send it.
    pub inbound: BTreeMap<String, String>,
    /// Outbound message type → the permission needed to receive it.
    pub outbound: BTreeMap<String, String>,
    /// Fields of outbound messages hidden without a permission.
    pub fields: Vec<FieldRule>,
    /// The role of sessions without a principal, if they get one.
    pub anonymous: Option<String>,
    /// Whether inbound types without a rule pass (instead of `forbidden`).
    pub allow_unmapped_inbound: bool,
    /// Where messages name their type.
    pub discriminator: Discriminator,
    /// When repeated denials close the connection (4403); `None`: never
    /// (`"strikes": null` in JSON; TOML has no null, so set it in code).
    pub strikes: Option<Strikes>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            roles: BTreeMap::new(),
            inbound: BTreeMap::new(),
            outbound: BTreeMap::new(),
            fields: Vec::new(),
            anonymous: None,
            allow_unmapped_inbound: false,
            discriminator: Discriminator::default(),
            strikes: Some(Strikes::DEFAULT),
        }
    }
}

impl Policy {
    /// An empty policy: everything denied.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) role `name` granting `permissions`.
    #[must_use]
    pub fn role<P: Into<String>>(self, name: impl Into<String>, permissions: impl IntoIterator<Item = P>) -> Self {
        self.role_inheriting(name, std::iter::empty::<String>(), permissions)
    }

    /// Adds (or replaces) role `name`, inheriting `parents`' permissions.
    #[must_use]
    pub fn role_inheriting<R: Into<String>, P: Into<String>>(
        mut self,
        name: impl Into<String>,
        parents: impl IntoIterator<Item = R>,
        permissions: impl IntoIterator<Item = P>,
    ) -> Self {
        let role = Role {
            inherits: parents.into_iter().map(Into::into).collect(),
            permissions: permissions.into_iter().map(Into::into).collect(),
        };
        self.roles.insert(name.into(), role);
        self
    }

    /// Requires `permission` to send messages of `message_type`.
    /// `{/pointer}` holes are filled from the message: `room:{/room}:write`.
    #[must_use]
    pub fn inbound(mut self, message_type: impl Into<String>, permission: impl Into<String>) -> Self {
        self.inbound.insert(message_type.into(), permission.into());
        self
    }

    /// Requires `permission` to receive messages of `message_type`.
    #[must_use]
    pub fn outbound(mut self, message_type: impl Into<String>, permission: impl Into<String>) -> Self {
        self.outbound.insert(message_type.into(), permission.into());
        self
    }

    /// Adds a field rule.
    #[must_use]
    pub fn field(mut self, rule: FieldRule) -> Self {
        self.fields.push(rule);
        self
    }

    /// Gives sessions without a principal the role `role`.
    #[must_use]
    pub fn anonymous(mut self, role: impl Into<String>) -> Self {
        self.anonymous = Some(role.into());
        self
    }

    /// Lets inbound types without a rule pass.
    #[must_use]
    pub fn allow_unmapped_inbound(mut self, allow: bool) -> Self {
        self.allow_unmapped_inbound = allow;
        self
    }

    /// Where messages name their type; the default is `/type`.
    #[must_use]
    pub fn discriminator(mut self, discriminator: Discriminator) -> Self {
        self.discriminator = discriminator;
        self
    }

    /// Replaces the strike policy.
    #[must_use]
    pub fn strikes(mut self, strikes: Option<Strikes>) -> Self {
        self.strikes = strikes;
        self
    }

    /// Validates the policy and compiles it: each role's effective
    /// permissions (its own and every inherited role's) are computed once,
    /// and each plain rule becomes a per-role yes/no table.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Rbac`] naming the role, rule or field rule for an
    /// inherited or anonymous role that does not exist, an inheritance
    /// cycle, a malformed permission or template, or a field pointer that
    /// does not start with `/`.
    pub fn build(&self) -> Result<Rbac, ConfigError> {
        let error = |item: String, reason: &str| ConfigError::Rbac { item, reason: reason.to_owned() };
        let names: Vec<&String> = self.roles.keys().collect();
        let index: HashMap<String, usize> = names.iter().enumerate().map(|(i, n)| ((*n).clone(), i)).collect();

        let mut grants = Vec::with_capacity(names.len());
        for (name, role) in &self.roles {
            let mut own = Vec::new();
            for permission in &role.permissions {
                own.push(Grant::parse(permission).map_err(|r| error(format!("role `{name}`: `{permission}`"), r))?);
            }
            for parent in &role.inherits {
                if !index.contains_key(parent) {
                    return Err(error(format!("role `{name}`"), &format!("inherits unknown role `{parent}`")));
                }
            }
            grants.push(own);
        }
        let sets = effective(&names, &self.roles, &index, &grants)?;

        let anonymous = match &self.anonymous {
            Some(role) => Some(*index.get(role).ok_or_else(|| error("anonymous".into(), "names an unknown role"))?),
            None => None,
        };
        let compile_rules = |rules: &BTreeMap<String, String>, direction: &str| -> Result<_, ConfigError> {
            rules
                .iter()
                .map(|(message_type, permission)| {
                    let item = format!("{direction} rule `{message_type}`");
                    let rule = match Required::parse(permission).map_err(|r| error(item, r))? {
                        Required::Plain(p) => {
                            Rule::Plain { allowed: sets.iter().map(|s| s.covers(&p)).collect(), permission: p }
                        }
                        Required::Template(pieces) => Rule::Template { pieces, text: permission.clone() },
                    };
                    Ok((message_type.clone(), rule))
                })
                .collect::<Result<HashMap<_, _>, _>>()
        };
        let inbound = compile_rules(&self.inbound, "inbound")?;
        let outbound = compile_rules(&self.outbound, "outbound")?;

        let mut fields = Vec::new();
        for rule in &self.fields {
            let item = format!("field rule `{}`", rule.pointer);
            if !rule.pointer.starts_with('/') {
                return Err(error(item, "the pointer must start with `/`"));
            }
            match Required::parse(&rule.permission).map_err(|r| error(item.clone(), r))? {
                Required::Plain(p) => fields.push((rule.clone(), sets.iter().map(|s| s.covers(&p)).collect())),
                Required::Template(_) => return Err(error(item, "field permissions cannot be templates")),
            }
        }

        Ok(Rbac {
            inner: Arc::new(Compiled {
                index,
                sets,
                anonymous,
                inbound,
                outbound,
                fields,
                allow_unmapped_inbound: self.allow_unmapped_inbound,
                discriminator: self.discriminator.clone(),
                strikes: self.strikes,
            }),
        })
    }
}

/// Each role's effective permission set, following inheritance depth first;
/// refuses cycles.
fn effective(
    names: &[&String],
    roles: &BTreeMap<String, Role>,
    index: &HashMap<String, usize>,
    grants: &[Vec<Grant>],
) -> Result<Vec<PermissionSet>, ConfigError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Visiting,
        Done,
    }
    fn visit(
        i: usize,
        names: &[&String],
        roles: &BTreeMap<String, Role>,
        index: &HashMap<String, usize>,
        marks: &mut [Mark],
        path: &mut Vec<usize>,
    ) -> Result<(), ConfigError> {
        match marks[i] {
            Mark::Done => return Ok(()),
            Mark::Visiting => {
                let start = path.iter().position(|&p| p == i).unwrap_or(0);
                let cycle: Vec<&str> = path[start..].iter().chain([&i]).map(|&p| names[p].as_str()).collect();
                return Err(ConfigError::Rbac {
                    item: format!("role `{}`", names[i]),
                    reason: format!("inheritance cycle: {}", cycle.join(" -> ")),
                });
            }
            Mark::New => {}
        }
        marks[i] = Mark::Visiting;
        path.push(i);
        for parent in &roles[names[i].as_str()].inherits {
            visit(index[parent], names, roles, index, marks, path)?;
        }
        path.pop();
        marks[i] = Mark::Done;
        Ok(())
    }

    let mut marks = vec![Mark::New; names.len()];
    for i in 0..names.len() {
        visit(i, names, roles, index, &mut marks, &mut Vec::new())?;
    }
    // No cycles: collect each role's ancestors (itself included).
    Ok((0..names.len())
        .map(|i| {
            let mut seen = HashSet::new();
            let mut stack = vec![i];
            let mut set = PermissionSet::default();
            while let Some(r) = stack.pop() {
                if seen.insert(r) {
                    grants[r].iter().for_each(|g| set.add(g.clone()));
                    stack.extend(roles[names[r].as_str()].inherits.iter().map(|p| index[p]));
                }
            }
            set
        })
        .collect())
}
