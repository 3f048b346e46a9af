//! Cost of one RBAC decision, for a policy of 20 roles and 200 rules,
//! against an empty guard in the same run.
//!
//! `cargo bench --bench rbac`
//!
//! Every guard here has a layer that reads the message's JSON first, so the
//! one parse is in the baseline and the difference is the decision itself.

use std::hint::black_box;

mod common;

use common::ReadsJson;
use criterion::{Criterion, criterion_group, criterion_main};
use wsguard::rbac::Policy;
use wsguard::{Guard, Message, Principal};

/// 20 roles, each inheriting from the one before in groups of five, with
/// ten permissions each (two of them wildcards); 200 plain rules and one
/// templated rule.
fn policy() -> Policy {
    let mut policy = Policy::new();
    for r in 0..20 {
        let mut permissions: Vec<String> = (0..8).map(|p| format!("area{r}:thing{p}:read")).collect();
        permissions.push(format!("area{r}:*:write"));
        permissions.push(format!("room:{r}*:post").replace('*', ""));
        let parents: Vec<String> = if r % 5 == 0 { vec![] } else { vec![format!("role{}", r - 1)] };
        policy = policy.role_inheriting(format!("role{r}"), parents, permissions);
    }
    for t in 0..200 {
        let (r, p) = (t / 10, t % 8);
        policy = policy.inbound(format!("type{t}"), format!("area{r}:thing{p}:read"));
    }
    policy.inbound("chat", "room:{/room}:post")
}

fn bench(c: &mut Criterion) {
    let rbac = policy().build().unwrap();
    let empty = Guard::builder().without_auth().layer(ReadsJson).build().unwrap();
    let guarded = Guard::builder().without_auth().layer(ReadsJson).rbac(rbac).build().unwrap();
    let principal = Principal::new("u").with_roles(["role3", "role17"]);
    let allowed = Message::text(r#"{"type":"type150","room":"lobby","text":"hello there"}"#);
    let denied_type = Message::text(r#"{"type":"type199","room":"lobby","text":"hello there"}"#);
    let templated = Message::text(r#"{"type":"chat","room":"17","text":"hello there"}"#);

    let mut session = empty.new_session(None);
    session.set_principal(Some(principal.clone())).unwrap();
    let mut group = c.benchmark_group("rbac_20_roles_200_rules");
    group.bench_function("baseline_empty_guard", |b| {
        b.iter(|| black_box(empty.inbound(black_box(&allowed).clone(), &mut session)))
    });
    let mut session = guarded.new_session(None);
    session.set_principal(Some(principal)).unwrap();
    for (name, message) in [("plain_rule_allowed", &allowed), ("templated_rule_allowed", &templated)] {
        assert!(matches!(guarded.inbound(message.clone(), &mut session), wsguard::Verdict::Deliver(_)), "{name}");
        group.bench_function(name, |b| b.iter(|| black_box(guarded.inbound(black_box(message).clone(), &mut session))));
    }
    // Denials are measured without strikes closing the session.
    let no_strikes = policy().strikes(None).build().unwrap();
    let denying = Guard::builder().without_auth().layer(ReadsJson).rbac(no_strikes).build().unwrap();
    let mut session = denying.new_session(None);
    session.set_principal(Some(Principal::new("u").with_roles(["role3"]))).unwrap();
    group.bench_function("plain_rule_denied", |b| {
        b.iter(|| black_box(denying.inbound(black_box(&denied_type).clone(), &mut session)))
    });
    // Outbound, with a policy of inbound rules only: nothing to decide, so
    // the message is not parsed (it was, before: one parse per message).
    let text = format!(r#"{{"type":"type150","room":"lobby","text":"{}"}}"#, "x".repeat(250));
    let outbound = Message::text(text);
    let rbac_only = Guard::builder().without_auth().rbac(policy().build().unwrap()).build().unwrap();
    let mut session = rbac_only.new_session(None);
    session.set_principal(Some(Principal::new("u").with_roles(["role3"]))).unwrap();
    group.bench_function("outbound_300b_no_outbound_rules", |b| {
        b.iter(|| black_box(rbac_only.outbound(black_box(&outbound).clone(), &mut session)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
